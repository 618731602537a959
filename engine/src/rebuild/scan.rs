//! Scan: work units → per-extent [`ExtentStats`], in parallel on the caller's rayon pool.
//!
//! Only the parallel part lives here: each worker owns its [`ChunkReader`] (its read and
//! decompression buffers, one chunk each) and folds the units it takes into an ordered map with
//! the kernels of [`super::kernel`]; partial maps are reduced with one associative merge, so
//! nothing is shared or locked on the hot path and the result does not depend on the thread
//! count or the unit size. Units come in file-offset order; each worker announces the next units
//! to the kernel before it reads one ([`read_unit`]), so reading and classifying overlap.
//!
//! The same bytes give the token evidence of the files predicted to need it
//! ([`scan_units_gathering`], [`super::evidence::predict`]): for a unit of such a file the
//! worker also hands every chunk (or piece) it classifies to a
//! [`super::evidence::UnitGather`], which keeps a chunk's part until the chunk has been read
//! whole, and folds it into the worker's [`Gathered`], merged with the stats. So the evidence
//! stage does not decompress those chunks a second time.

use super::evidence::{Gather, Gathered, UnitGather};
use super::kernel::Kernel;
use super::stats::ExtentStats;
use super::units::WorkUnit;
use crate::error::Error;
use crate::progress::Progress;
use crate::seg::file::SegmentFile;
use crate::seg::reader::{BufferGauge, ChunkReader, PIECE_BYTES};
use crate::types::{BLOCKS_PER_CHUNK, BLOCK_SIZE, CHUNK_BYTES};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A chunk that could not be read.
#[derive(Debug)]
pub struct ChunkError {
    pub file: usize,
    pub chunk: u32,
    pub error: Error,
}

/// The merged result of scanning all units.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// (file index, extent index) → what the scan found.
    pub stats: BTreeMap<(usize, u32), ExtentStats>,
    /// Unreadable chunks, sorted by (file, chunk).
    pub errors: Vec<ChunkError>,
    /// (file index, chunk) → blocks of data, for every chunk read with fewer than a chunk's.
    pub short: BTreeMap<(usize, u32), u32>,
    /// Uncompressed bytes examined.
    pub bytes: u64,
    /// Token evidence of the files predicted to need it ([`scan_units_gathering`]).
    pub gathered: Gathered,
}

/// What the scan established, as a plain value for the stages after it (and a node's
/// partial): the per-extent stats, which chunks could not be read and the finding for each, and
/// how many bytes were examined.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanFacts {
    /// (file index, extent index) → what the scan found.
    pub stats: BTreeMap<(usize, u32), ExtentStats>,
    /// (file index, chunk) of every chunk that could not be read.
    pub damaged: std::collections::BTreeSet<(usize, u32)>,
    /// The finding of each chunk that could not be read, by (file index, chunk).
    pub errors: Vec<(usize, crate::finding::Damaged)>,
    /// (file index, chunk) → the blocks its data holds, for every chunk read that holds fewer
    /// than [`BLOCKS_PER_CHUNK`] (an abbreviated chunk 0, the end of an uncompressed file): with
    /// the allocated blocks and the chunk count, whether a block is in the file, without
    /// reading it again (`verify --partials`).
    pub short: BTreeMap<(usize, u32), u32>,
    /// Uncompressed bytes examined.
    pub bytes: u64,
}

impl ScanResult {
    /// The facts; `path(i)` is the path of file `i` (named in the findings).
    pub fn into_facts(self, path: impl Fn(usize) -> std::path::PathBuf) -> ScanFacts {
        ScanFacts {
            stats: self.stats,
            damaged: self.errors.iter().map(|e| (e.file, e.chunk)).collect(),
            errors: self
                .errors
                .iter()
                .map(|e| (e.file, crate::finding::Damaged::new(path(e.file), &e.error)))
                .collect(),
            short: self.short,
            bytes: self.bytes,
        }
    }

    fn merge(mut self, other: ScanResult) -> ScanResult {
        // Merge the smaller map into the larger one.
        let (mut big, small) = if self.stats.len() >= other.stats.len() {
            (std::mem::take(&mut self.stats), other.stats)
        } else {
            (other.stats, std::mem::take(&mut self.stats))
        };
        for (k, v) in small {
            big.entry(k).or_default().merge(&v);
        }
        self.stats = big;
        self.errors.extend(other.errors);
        self.short.extend(other.short);
        self.bytes += other.bytes;
        self.gathered = std::mem::take(&mut self.gathered).merge(other.gathered);
        self
    }
}

/// How the scan reads its units.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Count the bytes the workers' readers hold (tests; off in a rebuild).
    pub gauge: Option<Arc<BufferGauge>>,
    /// Drop each unit's pages from the page cache once it is scanned
    /// ([`ChunkReader::drop_behind`]).
    pub drop_behind: bool,
}

impl ReadOptions {
    fn reader(&self) -> ChunkReader {
        match &self.gauge {
            Some(g) => ChunkReader::with_gauge(g.clone()),
            None => ChunkReader::new(),
        }
        .drop_behind(self.drop_behind)
    }
}

/// Work units read ahead of the one being scanned, per worker (`POSIX_FADV_WILLNEED`): the
/// kernel reads them while the worker classifies, so a cold disk and the CPU work at once.
const READ_AHEAD_UNITS: usize = 2;

/// Read every chunk of `units[i]` with `reader`, handing each to `each` (chunk index, the file
/// block its bytes start at, and its uncompressed bytes or the error reading them). A chunk
/// comes whole, or, where the reader copies an uncompressed file's bytes
/// ([`ChunkReader::reads_in_pieces`]), in pieces of [`PIECE_BYTES`] that are classified while
/// cached; a chunk's pieces stop at its first error. Before reading, the next
/// [`READ_AHEAD_UNITS`] units (in file-offset order: the order `units` has) are announced to the
/// kernel; `ahead` is the worker's first unit not yet announced. After, the unit's map is
/// released (and its pages dropped, if the reader was asked to).
pub fn read_unit(
    files: &[&SegmentFile],
    units: &[WorkUnit],
    i: usize,
    reader: &mut ChunkReader,
    ahead: &mut usize,
    mut each: impl FnMut(u32, u32, Result<&[u8], Error>),
) {
    let unit = &units[i];
    let file = files[unit.file];
    let upto = (i + 1 + READ_AHEAD_UNITS).min(units.len());
    for next in units.iter().take(upto).skip((*ahead).max(i)) {
        let f = files[next.file];
        reader.will_need(f, f.byte_range(next.chunks.clone()));
    }
    *ahead = (*ahead).max(upto);
    for chunk in unit.chunks.clone() {
        read_chunk(file, chunk, reader, |first_block, data| {
            each(chunk, first_block, data)
        });
    }
    reader.finish(file, file.byte_range(unit.chunks.clone()));
}

/// Read chunk `chunk` of `file` with `reader`, handing its uncompressed bytes to `each` with the
/// file block they start at: whole, or, where the reader copies an uncompressed file's bytes
/// ([`ChunkReader::reads_in_pieces`]), in pieces of [`PIECE_BYTES`] that are used while cached.
/// The pieces stop at the first error.
pub fn read_chunk(
    file: &SegmentFile,
    chunk: u32,
    reader: &mut ChunkReader,
    mut each: impl FnMut(u32, Result<&[u8], Error>),
) {
    if !ChunkReader::reads_in_pieces(file) {
        each(chunk * BLOCKS_PER_CHUNK, file.chunk_data(chunk, reader));
        return;
    }
    let range = file.byte_range(chunk..chunk.saturating_add(1));
    let mut at = range.start;
    while at < range.end {
        let end = (at + PIECE_BYTES).min(range.end);
        let data = reader.read(file, at..end);
        let failed = data.is_err();
        each((at / BLOCK_SIZE as u64) as u32, data);
        if failed {
            break;
        }
        at = end;
    }
}

/// Scan every unit on the current rayon pool.
pub fn scan_units(
    files: &[(&SegmentFile, Kernel)],
    units: &[WorkUnit],
    progress: &dyn Progress,
) -> ScanResult {
    scan_units_with(files, units, &ReadOptions::default(), progress)
}

/// [`scan_units`], reading as `read` says.
pub fn scan_units_with(
    files: &[(&SegmentFile, Kernel)],
    units: &[WorkUnit],
    read: &ReadOptions,
    progress: &dyn Progress,
) -> ScanResult {
    scan_units_gathering(files, units, read, &[], progress)
}

/// [`scan_units_with`], gathering token evidence from the chunks of every file `gather` names
/// (by file index; [`super::evidence::predict`]) into [`ScanResult::gathered`].
pub fn scan_units_gathering(
    files: &[(&SegmentFile, Kernel)],
    units: &[WorkUnit],
    read: &ReadOptions,
    gather: &[Option<Gather>],
    progress: &dyn Progress,
) -> ScanResult {
    let segment_files: Vec<&SegmentFile> = files.iter().map(|(f, _)| *f).collect();
    let mut result = units
        .par_iter()
        .enumerate()
        .fold(
            || (ScanResult::default(), read.reader(), 0usize),
            |(mut acc, mut reader, mut ahead), (i, unit)| {
                if progress.cancelled() {
                    // Ctrl-C: the remaining units are skipped; the caller discards the result.
                    return (acc, reader, ahead);
                }
                let kernel = files[unit.file].1;
                let stats = acc.stats.entry((unit.file, unit.extent)).or_default();
                let gathered = &mut acc.gathered;
                let mut evidence = gather
                    .get(unit.file)
                    .copied()
                    .flatten()
                    .map(|what| UnitGather::new(what, unit.file));
                let mut bytes = 0u64;
                let mut errors = Vec::new();
                // Bytes of data per chunk (a chunk may come in pieces).
                let mut lens: Vec<(u32, u64)> = Vec::new();
                read_unit(
                    &segment_files,
                    units,
                    i,
                    &mut reader,
                    &mut ahead,
                    |chunk, first_block, data| match data {
                        Ok(data) => {
                            kernel.scan(data, first_block, stats);
                            if let Some(e) = &mut evidence {
                                e.data(chunk, first_block, data, gathered);
                            }
                            bytes += data.len() as u64;
                            match lens.last_mut() {
                                Some((c, n)) if *c == chunk => *n += data.len() as u64,
                                _ => lens.push((chunk, data.len() as u64)),
                            }
                        }
                        Err(error) => {
                            if let Some(e) = &mut evidence {
                                e.failed(chunk, gathered);
                            }
                            errors.push(ChunkError {
                                file: unit.file,
                                chunk,
                                error,
                            })
                        }
                    },
                );
                if let Some(e) = evidence {
                    e.finish(gathered);
                }
                for (chunk, n) in lens {
                    if n < CHUNK_BYTES as u64 {
                        let blocks = (n / BLOCK_SIZE as u64) as u32;
                        acc.short.insert((unit.file, chunk), blocks);
                    }
                }
                acc.errors.extend(errors);
                acc.bytes += bytes;
                progress.advance(bytes, 0);
                (acc, reader, ahead)
            },
        )
        .map(|(acc, _reader, _)| acc)
        .reduce(ScanResult::default, ScanResult::merge);
    result.errors.sort_by_key(|e| (e.file, e.chunk));
    result
}
