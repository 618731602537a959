//! Reading the chunks of planned segment files, one chunk at a time, with one worker's reusable
//! buffers: memory that does not grow with the files.
//!
//! | buffer | holds | at most |
//! |---|---|---|
//! | `raw` | the chunk's bytes as stored, read with a positioned read ([`Access::Read`]) | [`MAX_CHUNK_SLOT_READ`] (an uncompressed chunk read in [`PIECE_BYTES`] pieces: that much) |
//! | `map` | instead of `raw` with [`Access::Mmap`]: a map of just that range, dropped before the next | the same |
//! | `scratch` | a compressed chunk decompressed | 4 MiB |
//!
//! So a reader holds at most [`ChunkReader::MAX_BYTES`], whatever the size of the files it reads;
//! a scan with `T` workers holds at most `T` readers. A [`BufferGauge`] shared by the readers of
//! one scan counts the bytes they hold (it is touched when a buffer grows or a map comes and goes,
//! once per chunk at most, never per value) so that tests can check the bound.
//!
//! The reader keeps the file it reads open (one descriptor per reader), reopening it when a chunk
//! of another file comes; a reopened file must be the one that was planned. It reads files
//! `SEQUENTIAL`ly, can drop the pages of a finished unit from the page cache
//! ([`ChunkReader::drop_behind`]), and serves a unit that the scan's staging threads read
//! directly from their buffer ([`ChunkReader::stage`]); those threads also announce the next
//! units to the kernel (`crate::rebuild::scan::units_in_order`).

use super::direct::DirectBuf;
use super::file::{
    map, read_exact_at, Access, DiskFile, Identity, SegmentFile, Source, MAX_CHUNK_SLOT_READ,
};
use crate::error::Error;
use crate::pagecache::{advise, Advice};
use crate::types::CHUNK_BYTES;
use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes of an uncompressed file that the scan reads at once with positioned reads
/// ([`ChunkReader::reads_in_pieces`]): small enough that the bytes the read copied are still in
/// the core's L2 cache (2 MiB on the development machine's EPYC; 512 KiB to 2 MiB on current
/// server cores) when the kernel classifies them, instead of a 4 MiB chunk whose start has left
/// L2 by the time the copy ends. A whole number of blocks.
pub const PIECE_BYTES: u64 = 256 << 10;

/// One worker's buffers, map and open file for reading chunks (see the module documentation).
#[derive(Default)]
pub struct ChunkReader {
    open: Option<OpenFile>,
    raw: Vec<u8>,
    scratch: Vec<u8>,
    map: Option<memmap2::Mmap>,
    gauge: Option<Arc<BufferGauge>>,
    counted: u64,
    drop_behind: bool,
    /// A unit's stored bytes read directly ([`ChunkReader::stage`]), served instead of a read.
    staged: Option<DirectBuf>,
}

struct OpenFile {
    identity: Identity,
    file: File,
}

/// What a load left where.
enum Loaded {
    Memory,
    Raw(usize),
    Map,
    Staged(Range<usize>),
}

impl ChunkReader {
    /// The most bytes one reader holds: a stored chunk (raw or mapped) and a decompressed one.
    pub const MAX_BYTES: u64 = MAX_CHUNK_SLOT_READ + CHUNK_BYTES as u64;

    /// A reader with no buffer yet.
    pub fn new() -> ChunkReader {
        ChunkReader::default()
    }

    /// A reader whose buffers and maps are counted by `gauge`.
    pub fn with_gauge(gauge: Arc<BufferGauge>) -> ChunkReader {
        gauge.reader_started();
        let mut reader = ChunkReader::default();
        reader.gauge = Some(gauge);
        reader
    }

    /// Drop the pages of each finished range ([`ChunkReader::finish`]) from the page cache
    /// (`POSIX_FADV_DONTNEED`), so that a scan of a database larger than memory does not fill
    /// the cache with pages it will not read again. Off by default: a warm rerun (or `verify`
    /// after `rebuild`) would then read everything from the disk again.
    #[must_use]
    pub fn drop_behind(mut self, yes: bool) -> ChunkReader {
        self.drop_behind = yes;
        self
    }

    /// Whether the chunks of `file` are best read in [`PIECE_BYTES`] pieces
    /// ([`ChunkReader::read`] of each piece's range) rather than whole: an uncompressed file
    /// read with positioned reads, whose bytes are copied into this reader's buffer. Mapped
    /// bytes are not copied, and a compressed chunk is decompressed whole.
    pub fn reads_in_pieces(file: &SegmentFile) -> bool {
        !file.is_compressed()
            && matches!(file.source(), Source::Disk(d) if matches!(d.access, Access::Read))
    }

    /// The bytes of `range` of `file` as stored (read, mapped, or borrowed from memory).
    pub(crate) fn read<'s>(
        &'s mut self,
        file: &'s SegmentFile,
        range: Range<u64>,
    ) -> Result<&'s [u8], Error> {
        let loaded = self.load(file, range.clone())?;
        Ok(self.loaded(loaded, file, range))
    }

    /// [`ChunkReader::read`], with the decompression buffer (4 MiB) beside it.
    pub(crate) fn read_with_scratch<'s>(
        &'s mut self,
        file: &'s SegmentFile,
        range: Range<u64>,
    ) -> Result<(&'s [u8], &'s mut Vec<u8>), Error> {
        if self.scratch.len() < CHUNK_BYTES {
            self.scratch.resize(CHUNK_BYTES, 0);
        }
        let loaded = self.load(file, range.clone())?;
        let bytes: &'s [u8] = match loaded {
            Loaded::Memory => memory_range(file, range),
            Loaded::Raw(n) => &self.raw[..n],
            Loaded::Map => self.map.as_deref().unwrap_or(&[]),
            Loaded::Staged(span) => self.staged.as_ref().map_or(&[], |s| s.at(span)),
        };
        Ok((bytes, &mut self.scratch))
    }

    fn loaded<'s>(&'s self, loaded: Loaded, file: &'s SegmentFile, range: Range<u64>) -> &'s [u8] {
        match loaded {
            Loaded::Memory => memory_range(file, range),
            Loaded::Raw(n) => &self.raw[..n],
            Loaded::Map => self.map.as_deref().unwrap_or(&[]),
            Loaded::Staged(span) => self.staged.as_ref().map_or(&[], |s| s.at(span)),
        }
    }

    /// Serve the reads of the range `buf` holds from it (a unit read directly by the scan,
    /// [`crate::rebuild::scan::units_in_order`]) until [`ChunkReader::unstage`].
    pub fn stage(&mut self, buf: DirectBuf) {
        self.staged = Some(buf);
    }

    /// Take back the buffer [`ChunkReader::stage`] gave.
    pub fn unstage(&mut self) -> Option<DirectBuf> {
        self.staged.take()
    }

    /// Read or map `range` of `file`, releasing the previous chunk's map first.
    fn load(&mut self, file: &SegmentFile, range: Range<u64>) -> Result<Loaded, Error> {
        self.map = None;
        let n = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
        let loaded = match file.source() {
            Source::Memory(_) => Loaded::Memory,
            Source::Disk(disk) => match self
                .staged
                .as_ref()
                .and_then(|s| s.span(&disk.identity, &range))
            {
                Some(span) => Loaded::Staged(span),
                None => {
                    let f = open_planned(&mut self.open, file.path(), disk)?;
                    let mapped = match disk.access {
                        Access::Mmap if n > 0 => map(f, range.start, n).ok(),
                        _ => None,
                    };
                    match mapped {
                        Some(m) => {
                            self.map = Some(m);
                            Loaded::Map
                        }
                        None => {
                            grow(&mut self.raw, n);
                            read_exact_at(f, &mut self.raw[..n], range.start, file.path())?;
                            Loaded::Raw(n)
                        }
                    }
                }
            },
            Source::Ranged(source) => {
                grow(&mut self.raw, n);
                source.read_at(range.start, &mut self.raw[..n])?;
                Loaded::Raw(n)
            }
        };
        self.account();
        Ok(loaded)
    }

    /// `range` of `file` has been scanned: its map is released and, with
    /// [`ChunkReader::drop_behind`], its pages leave the page cache.
    pub fn finish(&mut self, file: &SegmentFile, range: Range<u64>) {
        if self.map.take().is_some() {
            self.account();
        }
        match file.source() {
            Source::Disk(disk) if self.drop_behind && !range.is_empty() => {
                if let Some(o) = self.open.as_ref().filter(|o| o.identity == disk.identity) {
                    let len = Some(range.end - range.start);
                    let _ = advise(&o.file, range.start, len, Advice::DontNeed);
                }
            }
            Source::Ranged(source) => source.done_with(range),
            _ => {}
        }
    }

    /// Tell the gauge how many bytes this reader holds now.
    fn account(&mut self) {
        let Some(gauge) = &self.gauge else { return };
        let now = (self.raw.capacity()
            + self.scratch.capacity()
            + self.map.as_ref().map_or(0, |m| m.len())) as u64;
        if now != self.counted {
            gauge.change(self.counted, now);
            self.counted = now;
        }
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        if let Some(gauge) = &self.gauge {
            gauge.change(self.counted, 0);
            gauge.reader_finished();
        }
    }
}

fn memory_range(file: &SegmentFile, range: Range<u64>) -> &[u8] {
    match file.source() {
        Source::Memory(bytes) => bytes
            .get(range.start as usize..range.end as usize)
            .unwrap_or(&[]),
        _ => &[],
    }
}

/// `buf` at least `n` bytes long (zeroed once when it grows, then reused as is).
fn grow(buf: &mut Vec<u8>, n: usize) {
    if buf.len() < n {
        buf.reserve_exact(n - buf.len());
        buf.resize(n, 0);
    }
}

/// The planned file `path`, open: the reader's open file if it is that one, else opened again
/// and checked to be the file that was planned.
fn open_planned<'a>(
    open: &'a mut Option<OpenFile>,
    path: &Path,
    disk: &DiskFile,
) -> Result<&'a File, Error> {
    if !matches!(open, Some(o) if o.identity == disk.identity) {
        *open = None;
        let (file, meta) = crate::fsutil::open_read_only(path)?;
        let now = Identity::of(&meta);
        if now != disk.identity {
            return Err(Error::io(
                path,
                "reopen",
                std::io::Error::other(format!(
                    "the file changed since it was planned ({})",
                    disk.identity.difference(&now)
                )),
            ));
        }
        let _ = advise(&file, 0, None, Advice::Sequential);
        *open = Some(OpenFile {
            identity: now,
            file,
        });
    }
    match open {
        Some(o) => Ok(&o.file),
        None => Err(Error::io(path, "open", std::io::Error::other("not open"))),
    }
}

/// The bytes the readers of one scan hold, counted as they change (a buffer grows, a map comes or
/// goes: at most once per chunk), with the peak, and how many readers exist at once.
#[derive(Debug, Default)]
pub struct BufferGauge {
    live: AtomicU64,
    peak: AtomicU64,
    readers: AtomicU64,
    peak_readers: AtomicU64,
}

impl BufferGauge {
    /// A gauge at zero.
    pub fn new() -> Arc<BufferGauge> {
        Arc::new(BufferGauge::default())
    }

    /// The most bytes the readers held at once.
    pub fn peak_bytes(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// The bytes the readers hold now.
    pub fn live_bytes(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// The most readers that existed at once.
    pub fn peak_readers(&self) -> u64 {
        self.peak_readers.load(Ordering::Relaxed)
    }

    pub(crate) fn change(&self, from: u64, to: u64) {
        let now = if to >= from {
            self.live.fetch_add(to - from, Ordering::Relaxed) + (to - from)
        } else {
            self.live.fetch_sub(from - to, Ordering::Relaxed) - (from - to)
        };
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn reader_started(&self) {
        let n = self.readers.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_readers.fetch_max(n, Ordering::Relaxed);
    }

    fn reader_finished(&self) {
        self.readers.fetch_sub(1, Ordering::Relaxed);
    }
}
