//! Opening one segment file and reading its chunks, compressed or not (SEG §3.10, §4).
//!
//! | kind | detected by | layout |
//! |---|---|---|
//! | compressed | magic `0xFDC119A384D0778E` at byte 0 | control header, pointer section, chunks |
//! | uncompressed | anything else | pure 8192-byte blocks; the size must be a multiple of 8192 |
//!
//! [`SegmentFile::open`] reads only the control header and the pointer section (compressed) or
//! the size (uncompressed), checks them, and closes the file: a planned file holds no
//! descriptor, no map and no buffer, whatever its size. Chunks are read later, one at a time,
//! through a [`ChunkReader`] — each worker's reusable buffers: a positioned read of the chunk's
//! bytes ([`Access::Read`]) or a map of just that range ([`Access::Mmap`]), released before the
//! next. Chunks are checked (magic, length, checksum, codec) as they are read. A file reopened
//! for its chunks must still be the file that was planned (device, inode, size, modification
//! time), or its chunks are errors.
//!
//! A file whose bytes are already in memory (a system-catalog file the catalog stage loaded, an
//! input under test) is opened with [`SegmentFile::from_bytes`] and read the same way.
//!
//! ```
//! use emengine::seg::file::{Access, ChunkReader, Layout, SegmentFile};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("FILE000.cdf");
//! std::fs::write(&path, vec![0x81u8; 8192 * 3]).unwrap();
//! let f = SegmentFile::open(&path, Access::Read).unwrap();
//! assert_eq!(f.layout(), &Layout::Uncompressed { blocks: 3 });
//! let mut reader = ChunkReader::new();
//! assert_eq!(f.chunk_data(0, &mut reader).unwrap().len(), 8192 * 3);
//! ```

use crate::error::{DecodeError, Error};
use crate::seg::chunk::{decompress_chunk, ChunkHeader, CHUNK_HEADER_LEN};
use crate::seg::header::{ControlHeader, CONTROL_LEN};
use crate::seg::pointers::parse_pointers;
use crate::types::{BLOCKS_PER_CHUNK, BLOCK_SIZE, CHUNK_BYTES};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use super::reader::{BufferGauge, ChunkReader};

/// How a file's bytes are brought into memory: for a segment file's chunks, one chunk at a
/// time; for a file loaded whole ([`FileBytes::load`], the system catalog's small files), all
/// of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Memory-map (the chunk's range, or the whole small file); falls back to
    /// [`Access::Read`] when mapping fails.
    #[default]
    Mmap,
    /// Positioned reads into a buffer.
    Read,
}

/// Where chunk i lies in the file: `[offset, offset + len)` (header, payload and padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSlot {
    pub offset: u64,
    pub len: u64,
}

/// The file's structure, as checked at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A compressed file: its control header and the slots of the chunks that exist.
    Compressed {
        header: ControlHeader,
        chunks: Vec<ChunkSlot>,
    },
    /// An uncompressed file of `blocks` blocks.
    Uncompressed { blocks: u64 },
}

/// A whole file in memory: memory-mapped or read, as the caller's [`Access`] says. Cloning shares
/// the same map or buffer (a stage that loaded a file hands it on instead of reading it again).
#[derive(Clone)]
pub struct FileBytes(Bytes);

#[derive(Clone)]
enum Bytes {
    Map(Arc<memmap2::Mmap>),
    Owned(Arc<Vec<u8>>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(v: Vec<u8>) -> Self {
        FileBytes(Bytes::Owned(Arc::new(v)))
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBytes")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

impl FileBytes {
    /// Open `path` read-only and bring all of it into memory with `access`. Anything but a
    /// regular file (a FIFO, a device, a socket) is refused before it is opened, and the open
    /// itself cannot block (see [`crate::fsutil::open_read_only`]).
    pub fn load(path: &Path, access: Access) -> Result<FileBytes, Error> {
        Self::load_bounded(path, access, None)
    }

    /// [`FileBytes::load`], refusing a file longer than `max_len` bytes before anything is
    /// mapped or read: the caller knows from the catalog what the file may hold at most, so a
    /// huge (sparse) file named like a segment file costs neither memory nor a scan.
    pub fn load_bounded(
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<FileBytes, Error> {
        let (mut file, meta) = crate::fsutil::open_read_only(path)?;
        let len = meta.len();
        check_max_len(path, len, max_len)?;
        let bytes = match access {
            Access::Mmap if len > 0 => match usize::try_from(len).map(|n| map(&file, 0, n)) {
                Ok(Ok(m)) if m.len() as u64 == len => Bytes::Map(Arc::new(m)),
                _ => Bytes::Owned(Arc::new(read_all(&mut file, len, path)?)),
            },
            _ => Bytes::Owned(Arc::new(read_all(&mut file, len, path)?)),
        };
        Ok(FileBytes(bytes))
    }

    /// Whether the bytes are a memory map (as opposed to a buffer).
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Bytes::Map(_))
    }
}

/// Where the rebuild's input files are read from: the local file system ([`LocalFiles`]), or
/// StorageManager's objects (`crate::sm::stream`).
pub trait FileOpener: Sync {
    /// A whole (small) file in memory: a system-catalog file.
    fn load(&self, path: &Path, access: Access) -> Result<FileBytes, Error>;
    /// A segment file, its header checked, its chunks read later; refused if longer than
    /// `max_len`.
    fn open_segment(
        &self,
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<SegmentFile, Error>;
    /// The whole file `path` will be loaded soon: start reading it now, if that is possible.
    /// A hint: a failure changes nothing but the speed.
    fn will_need(&self, _path: &Path) {}
}

/// Files on the local file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFiles;

impl FileOpener for LocalFiles {
    fn load(&self, path: &Path, access: Access) -> Result<FileBytes, Error> {
        FileBytes::load(path, access)
    }

    fn open_segment(
        &self,
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<SegmentFile, Error> {
        SegmentFile::open_bounded(path, access, max_len)
    }

    fn will_need(&self, path: &Path) {
        if let Ok((file, meta)) = crate::fsutil::open_read_only(path) {
            crate::pagecache::will_need(&file, 0, meta.len());
        }
    }
}

/// One segment file, checked at open: its layout and where its bytes are read from.
pub struct SegmentFile {
    path: PathBuf,
    source: Source,
    len: u64,
    /// The first bytes of the file (at most 8: the magic), for messages.
    head: Vec<u8>,
    layout: Layout,
}

/// Where the bytes of a [`SegmentFile`] come from.
#[derive(Clone)]
pub(crate) enum Source {
    /// Already in memory.
    Memory(FileBytes),
    /// A file on disk, reopened by the reader that reads its chunks.
    Disk(DiskFile),
    /// Bytes assembled by someone else (StorageManager's objects), read by range.
    Ranged(Arc<dyn RangeSource>),
}

/// A logical file whose bytes are read by range (StorageManager's objects): what a
/// [`SegmentFile`] needs from a source that is not a file on disk.
pub trait RangeSource: Send + Sync {
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` with the bytes at `offset` (the range is within [`RangeSource::len`]).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error>;
    /// The bytes of `range` will be read soon: fetch them ahead (a hint).
    fn will_need(&self, _range: Range<u64>) {}
    /// The bytes of `range` have been read: what was kept for them may be released (a hint).
    fn done_with(&self, _range: Range<u64>) {}
}

/// A planned file on disk: how to read it, and what it was when planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskFile {
    pub(crate) access: Access,
    pub(crate) identity: Identity,
}

/// What identifies the version of a file that was planned: reopened, it must be the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl Identity {
    #[cfg(unix)]
    pub(crate) fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(meta: &std::fs::Metadata) -> Identity {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or((0, 0), |d| {
                (d.as_secs() as i64, i64::from(d.subsec_nanos()))
            });
        Identity {
            dev: 0,
            ino: 0,
            len: meta.len(),
            mtime,
        }
    }
}

impl Identity {
    /// What differs between `self` (as planned) and `now`, for the message.
    pub(crate) fn difference(&self, now: &Identity) -> String {
        if (self.dev, self.ino) != (now.dev, now.ino) {
            "another file is at its path now".into()
        } else if self.len != now.len {
            format!("{} bytes then, {} now", self.len, now.len)
        } else {
            "modified since".into()
        }
    }
}

impl fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Memory(_) => "memory",
            Source::Disk(d) if d.access == Access::Mmap => "disk (mapped per chunk)",
            Source::Disk(_) => "disk (read per chunk)",
            Source::Ranged(_) => "ranged",
        };
        f.debug_struct("SegmentFile")
            .field("path", &self.path)
            .field("file_len", &self.len)
            .field("source", &source)
            .field("layout", &self.layout)
            .finish()
    }
}

/// Map `len` bytes of `file` from `offset`, read-only.
#[allow(unsafe_code)]
pub(crate) fn map(file: &File, offset: u64, len: usize) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and never outlives its owner (a `FileBytes`, or a
    // `ChunkReader` that drops it before mapping the next chunk). The remaining risk is another
    // process truncating the file while it is mapped: reading the lost pages then raises
    // SIGBUS. ColumnStore must be stopped while its files are scanned (the rebuild's documented
    // precondition; a file changed since it was planned is refused when reopened), and
    // `Access::Read` avoids maps entirely.
    unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .populate()
            .map(file)
    }
}

impl SegmentFile {
    /// Open `path` read-only and check its header and pointer section (compressed) or its size
    /// (uncompressed), reading nothing else; chunks are read later with `access`.
    pub fn open(path: &Path, access: Access) -> Result<SegmentFile, Error> {
        Self::open_bounded(path, access, None)
    }

    /// [`SegmentFile::open`], refusing a file longer than `max_len` bytes before anything else
    /// is read: the caller knows from the catalog what the file may hold at most.
    pub fn open_bounded(
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<SegmentFile, Error> {
        let (file, meta) = crate::fsutil::open_read_only(path)?;
        let len = meta.len();
        check_max_len(path, len, max_len)?;
        let (head, layout) = read_layout(path, len, |at, buf| read_exact_at(&file, buf, at, path))?;
        Ok(SegmentFile {
            path: path.to_path_buf(),
            source: Source::Disk(DiskFile {
                access,
                identity: Identity::of(&meta),
            }),
            len,
            head,
            layout,
        })
    }

    /// A segment file whose bytes are already in memory (read from `path`); the same checks as
    /// [`SegmentFile::open`].
    pub fn from_bytes(path: &Path, bytes: FileBytes) -> Result<SegmentFile, Error> {
        let len = bytes.len() as u64;
        let head = &bytes[..bytes.len().min(CONTROL_LEN)];
        let layout = check_layout(path, len, head, |range| {
            Ok(std::borrow::Cow::Borrowed(
                &bytes[range.start as usize..range.end as usize],
            ))
        })?;
        Ok(SegmentFile {
            path: path.to_path_buf(),
            head: bytes[..bytes.len().min(8)].to_vec(),
            source: Source::Memory(bytes),
            len,
            layout,
        })
    }

    /// A segment file read by range from `source` (a StorageManager logical file): its header
    /// and pointer section are read and checked now, its chunks when they are scanned.
    pub fn from_source(path: &Path, source: Arc<dyn RangeSource>) -> Result<SegmentFile, Error> {
        let len = source.len();
        let (head, layout) = read_layout(path, len, |at, buf| source.read_at(at, buf))?;
        // Nothing read for the check is kept for the scan.
        source.done_with(0..len);
        Ok(SegmentFile {
            path: path.to_path_buf(),
            source: Source::Ranged(source),
            len,
            head,
            layout,
        })
    }

    /// The path the file was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The first bytes of the file (at most 8), for messages about its magic.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Header and chunk slots, or the block count.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether the file has a compressed-file header.
    pub fn is_compressed(&self) -> bool {
        matches!(self.layout, Layout::Compressed { .. })
    }

    /// The control header of a compressed file.
    pub fn header(&self) -> Option<&ControlHeader> {
        match &self.layout {
            Layout::Compressed { header, .. } => Some(header),
            Layout::Uncompressed { .. } => None,
        }
    }

    /// Blocks allocated to the file: the header's block count, or file size ÷ 8192.
    pub fn allocated_blocks(&self) -> u64 {
        match &self.layout {
            Layout::Compressed { header, .. } => header.block_count,
            Layout::Uncompressed { blocks } => *blocks,
        }
    }

    /// Chunks that exist: pointer-list entries, or ⌈blocks ÷ 512⌉ for an uncompressed file.
    pub fn chunk_count(&self) -> u32 {
        match &self.layout {
            Layout::Compressed { chunks, .. } => chunks.len() as u32,
            Layout::Uncompressed { blocks } => blocks
                .div_ceil(u64::from(BLOCKS_PER_CHUNK))
                .min(u64::from(u32::MAX)) as u32,
        }
    }

    /// The byte range of the file that chunks `chunks` occupy (what reading them reads), empty
    /// when none of them exists.
    pub fn byte_range(&self, chunks: Range<u32>) -> Range<u64> {
        let range = match &self.layout {
            Layout::Uncompressed { .. } => {
                let at = |c: u32| (u64::from(c) * CHUNK_BYTES as u64).min(self.len);
                at(chunks.start)..at(chunks.end)
            }
            Layout::Compressed { chunks: slots, .. } => {
                let end = (chunks.end as usize).min(slots.len());
                match slots.get(chunks.start as usize..end) {
                    Some([first, .., last]) => first.offset..last.offset + last.len,
                    Some([only]) => only.offset..only.offset + only.len,
                    _ => 0..0,
                }
            }
        };
        if range.start < range.end {
            range
        } else {
            0..0
        }
    }

    /// The uncompressed bytes of chunk `chunk` (blocks `chunk × 512 ..`), read through
    /// `reader`: the chunk's range of the file (read or mapped) for an uncompressed file, the
    /// decompressed data in the reader's buffer for a compressed one.
    ///
    /// The result may be shorter than 4 MiB (an abbreviated chunk 0, the end of an uncompressed
    /// file) and is empty for a chunk past the pointer list: its blocks are all EMPTY. It is
    /// always a whole number of blocks. Whatever `reader` held for the previous chunk is
    /// released first; its buffers grow to one chunk each and are reused.
    pub fn chunk_data<'s>(
        &'s self,
        chunk: u32,
        reader: &'s mut ChunkReader,
    ) -> Result<&'s [u8], Error> {
        match &self.layout {
            Layout::Uncompressed { .. } => {
                let range = self.byte_range(chunk..chunk.saturating_add(1));
                reader.read(self, range)
            }
            Layout::Compressed { header, chunks } => {
                let Some(&slot) = chunks.get(chunk as usize) else {
                    return Ok(&[]);
                };
                // Only the bytes a chunk can use are read: its header and the longest payload a
                // 4 MiB chunk compresses to. Slots were checked against the file length at open.
                let read_len = slot.len.min(MAX_CHUNK_SLOT_READ);
                let (raw, scratch) =
                    reader.read_with_scratch(self, slot.offset..slot.offset + read_len)?;
                let n = decode_slot(raw, slot.len, header.compression, scratch)
                    .map_err(|e| e.shifted(slot.offset).in_file(&self.path))?;
                if n % BLOCK_SIZE != 0 {
                    return Err(DecodeError::invalid(
                        slot.offset,
                        "decompressed chunk length",
                        "a multiple of 8192",
                        n,
                    )
                    .in_file(&self.path));
                }
                Ok(&scratch[..n])
            }
        }
    }

    /// The raw bytes of chunk `chunk`'s slot as stored (header, payload and up to
    /// [`MAX_CHUNK_SLOT_READ`] bytes in all), for `inspect`; empty for a chunk that does not
    /// exist or an uncompressed file.
    pub fn raw_slot<'s>(
        &'s self,
        chunk: u32,
        reader: &'s mut ChunkReader,
    ) -> Result<&'s [u8], Error> {
        match &self.layout {
            Layout::Compressed { chunks, .. } => match chunks.get(chunk as usize) {
                Some(slot) => {
                    let read_len = slot.len.min(MAX_CHUNK_SLOT_READ);
                    reader.read(self, slot.offset..slot.offset + read_len)
                }
                None => Ok(&[]),
            },
            Layout::Uncompressed { .. } => Ok(&[]),
        }
    }

    /// Where the bytes come from (for the reader).
    pub(crate) fn source(&self) -> &Source {
        &self.source
    }
}

/// The most bytes of one chunk slot that are ever read: the 9-byte chunk header and the longest
/// payload a 4 MiB chunk compresses to. Snappy's bound, 32 + n + n/6 (snappy.cc,
/// `MaxCompressedLength`), is above LZ4's, n + n/255 + 16 (lz4.h, `LZ4_COMPRESSBOUND`). Anything
/// after that in a slot is padding or stale bytes (SEG §3.6), never read.
pub const MAX_CHUNK_SLOT_READ: u64 = (CHUNK_HEADER_LEN + 32 + CHUNK_BYTES + CHUNK_BYTES / 6) as u64;

/// Decode a chunk from the first bytes `raw` of its slot of `slot_len` bytes: the checks and
/// errors of [`decompress_chunk`] on the whole slot, plus a payload no 4 MiB chunk can have.
pub(crate) fn decode_slot(
    raw: &[u8],
    slot_len: u64,
    compression: crate::seg::header::CompressionType,
    out: &mut Vec<u8>,
) -> Result<usize, DecodeError> {
    if raw.len() as u64 == slot_len {
        return decompress_chunk(raw, compression, out);
    }
    // The slot is longer than what was read: the header says how much of it is payload.
    let header = ChunkHeader::parse(raw)?;
    let room = slot_len - CHUNK_HEADER_LEN as u64;
    let length = u64::from(header.length);
    if length > room {
        // What `decompress_chunk` reports on the whole slot.
        return decompress_chunk(&raw[..CHUNK_HEADER_LEN], compression, out);
    }
    let payload_max = raw.len() as u64 - CHUNK_HEADER_LEN as u64;
    if length > payload_max {
        return Err(DecodeError::invalid(
            5,
            "chunk length",
            format!("at most {payload_max} (the longest payload a 4 MiB chunk compresses to)"),
            header.length,
        ));
    }
    decompress_chunk(&raw[..CHUNK_HEADER_LEN + length as usize], compression, out)
}

pub(crate) fn check_max_len(path: &Path, len: u64, max_len: Option<u64>) -> Result<(), Error> {
    match max_len.filter(|&max| len > max) {
        Some(max) => Err(DecodeError::invalid(
            0,
            "file size",
            format!("at most {max} bytes for what the catalog says this file holds"),
            format!("{len} bytes"),
        )
        .in_file(path)),
        None => Ok(()),
    }
}

/// Read (with `read_at`) and check the header and pointer section of a file of `len` bytes:
/// its first bytes (at most 8, for messages) and its layout.
fn read_layout(
    path: &Path,
    len: u64,
    read_at: impl Fn(u64, &mut [u8]) -> Result<(), Error>,
) -> Result<(Vec<u8>, Layout), Error> {
    let mut head = vec![0u8; len.min(CONTROL_LEN as u64) as usize];
    read_at(0, &mut head)?;
    let layout = check_layout(path, len, &head, |range| {
        let mut section = vec![0u8; (range.end - range.start) as usize];
        read_at(range.start, &mut section)?;
        Ok(section.into())
    })?;
    // Kept for every planned file: give back the rest of the 4 KiB read.
    head.truncate(8);
    head.shrink_to_fit();
    Ok((head, layout))
}

/// Check a file of `len` bytes from its first bytes `head` (up to 4096) and, for a compressed
/// file, its pointer section, which `section` reads (a range within the file).
fn check_layout<'a>(
    path: &Path,
    len: u64,
    head: &[u8],
    section: impl FnOnce(Range<u64>) -> Result<std::borrow::Cow<'a, [u8]>, Error>,
) -> Result<Layout, Error> {
    if !ControlHeader::is_compressed(head) {
        let partial = len % BLOCK_SIZE as u64;
        if partial != 0 {
            return Err(DecodeError::truncated(
                len - partial,
                format!("a whole {BLOCK_SIZE}-byte block"),
                partial,
            )
            .in_file(path));
        }
        return Ok(Layout::Uncompressed {
            blocks: len / BLOCK_SIZE as u64,
        });
    }
    if len < CONTROL_LEN as u64 {
        return Err(DecodeError::truncated(0, "control header (4096 bytes)", len).in_file(path));
    }
    let header = ControlHeader::parse(&head[..CONTROL_LEN]).map_err(|e| e.in_file(path))?;
    if header.header_size > len {
        return Err(DecodeError::truncated(
            CONTROL_LEN as u64,
            format!(
                "pointer section ({} bytes, header size {})",
                header.pointer_section_len(),
                header.header_size
            ),
            len - CONTROL_LEN as u64,
        )
        .in_file(path));
    }
    let bytes = section(CONTROL_LEN as u64..header.header_size.max(CONTROL_LEN as u64))?;
    let ptrs = parse_pointers(&bytes, CONTROL_LEN as u64, len).map_err(|e| e.in_file(path))?;
    let chunks = ptrs
        .windows(2)
        .map(|w| ChunkSlot {
            offset: w[0],
            len: w[1] - w[0],
        })
        .collect();
    Ok(Layout::Compressed { header, chunks })
}

/// Fill `buf` from `file` at `offset`; a file shorter than that is a truncation at its end.
pub(crate) fn read_exact_at(
    file: &File,
    buf: &mut [u8],
    offset: u64,
    path: &Path,
) -> Result<(), Error> {
    #[cfg(unix)]
    use std::os::unix::fs::FileExt;
    #[cfg(windows)]
    use std::os::windows::fs::FileExt;
    let mut done = 0usize;
    while done < buf.len() {
        let at = offset + done as u64;
        #[cfg(unix)]
        let n = file.read_at(&mut buf[done..], at);
        #[cfg(windows)]
        let n = file.seek_read(&mut buf[done..], at);
        match n {
            Ok(0) => {
                return Err(DecodeError::truncated(
                    at,
                    format!("{} more bytes", buf.len() - done),
                    0,
                )
                .in_file(path))
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, "read", e)),
        }
    }
    Ok(())
}

/// Read the whole file; its length comes from the file system, not from file bytes.
fn read_all(file: &mut File, len: u64, path: &Path) -> Result<Vec<u8>, Error> {
    let cap = usize::try_from(len).map_err(|_| {
        Error::io(
            path,
            "read",
            std::io::Error::other("file too large for memory"),
        )
    })?;
    // A failed allocation (a huge file) is an error on this file, not an abort of the process.
    let mut buf = Vec::new();
    buf.try_reserve_exact(cap).map_err(|_| {
        Error::io(
            path,
            "read",
            std::io::Error::other(format!(
                "file of {len} bytes does not fit in memory (try without --no-mmap)"
            )),
        )
    })?;
    file.take(len)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(buf)
}

/// `bytes` as values of `T` (a whole number of them): borrowed in place when `bytes` is
/// aligned for `T` (a map or a scratch buffer at a block boundary), copied otherwise.
/// Values are in host byte order, which is the on-disk little-endian order on every
/// platform ColumnStore runs on.
pub fn typed_view<T: bytemuck::Pod>(bytes: &[u8]) -> std::borrow::Cow<'_, [T]> {
    let whole = bytes.len() - bytes.len() % std::mem::size_of::<T>().max(1);
    let bytes = &bytes[..whole];
    match bytemuck::try_cast_slice(bytes) {
        Ok(v) => std::borrow::Cow::Borrowed(v),
        Err(_) => {
            let mut v = vec![T::zeroed(); whole / std::mem::size_of::<T>().max(1)];
            bytemuck::cast_slice_mut::<T, u8>(&mut v).copy_from_slice(bytes);
            std::borrow::Cow::Owned(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_file_asked_for_is_read_in_without_a_read() {
        // The catalog's read-ahead (`FileOpener::will_need`): an evicted file's last page must
        // arrive after the hint alone.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("FILE000.cdf");
        std::fs::write(&path, vec![3u8; 3 << 20]).unwrap();
        if crate::pagecache::is_cached(&path).is_none() {
            return; // no `mincore` here: nothing to observe
        }
        assert_eq!(
            crate::pagecache::evict_from_page_cache(&[&path]).worked(),
            Some(true)
        );
        let probe = File::open(&path).unwrap();
        let last = (3 << 20) - rustix::param::page_size() as u64;
        assert_eq!(crate::pagecache::resident(&probe, last), Some(false));
        LocalFiles.will_need(&path);
        let arrived = (0..250).any(|_| {
            let here = crate::pagecache::resident(&probe, last) == Some(true);
            if !here {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            here
        });
        assert!(arrived, "the hint did not bring the file in");
        // A path that cannot be opened is a hint that does nothing.
        LocalFiles.will_need(&dir.path().join("missing"));
    }

    #[test]
    fn segment_file_is_shared_across_threads() {
        fn check<T: Send + Sync>() {}
        check::<SegmentFile>();
    }

    #[test]
    fn typed_view_borrows_when_aligned_and_copies_otherwise() {
        let words: Vec<u64> = (0..64).collect();
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        let view = typed_view::<u64>(bytes);
        assert!(matches!(view, std::borrow::Cow::Borrowed(_)));
        assert_eq!(&view[..], &words[..]);
        let mut shifted = vec![0u8; bytes.len() + 1];
        shifted[1..].copy_from_slice(bytes);
        let view = typed_view::<u64>(&shifted[1..]);
        assert_eq!(&view[..], &words[..]);
        assert_eq!(typed_view::<u32>(&bytes[..7]).len(), 1);
    }
}
