//! Scan: work units → per-extent [`ExtentStats`], in parallel on the caller's rayon pool.
//!
//! Only the parallel part lives here: each worker owns its [`ChunkReader`] (its read and
//! decompression buffers, one chunk each) and folds the units it takes into an ordered map with
//! the kernels of [`super::kernel`]; partial maps are reduced with one associative merge, so
//! nothing is locked on the hot path and the result does not depend on the thread count, the
//! unit size or which worker took which unit. Workers take units in file-offset order from one
//! shared index ([`units_in_order`]), so the disk is read as one stream in order whatever the
//! thread count, and a read-ahead thread beside them announces the next units to the kernel
//! ([`read_ahead`]): reading and classifying overlap.
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
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// How far the read-ahead thread runs ahead, in stored bytes counted from the next unit to be
/// taken (and at least threads + [`READ_AHEAD_MIN_UNITS`] units): enough that the disk is never
/// idle while the workers classify (at 1 GB/s, 64 ms of reading), little enough that the pages
/// read ahead stay in the page cache until they are scanned.
const READ_AHEAD_BYTES: u64 = 64 << 20;

/// The read-ahead announces at least this many units more than the pool has threads, counted
/// from the next unit to be taken.
const READ_AHEAD_MIN_UNITS: usize = 2;

/// Tells the read-ahead thread that the workers are done, however they end: after a worker's
/// panic too, since the scope waits for its threads before passing the panic on, and a
/// read-ahead thread parked with units left to announce would never end.
struct WorkersDone<'a> {
    done: &'a AtomicBool,
    waker: Option<std::thread::Thread>,
}

impl Drop for WorkersDone<'_> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(w) = &self.waker {
            w.unpark();
        }
    }
}

/// Run `work(state, i)` for every unit `i`, on every thread of the current rayon pool: each
/// thread starts from `init()` and takes the next unit from one shared index until none is left,
/// so units are taken in their order (file-offset order, [`super::units::for_files`]) and the
/// disk is read as one stream in order, whatever the thread count. The threads' states are
/// returned, in no particular order, for the caller to merge.
///
/// Beside the pool, one read-ahead thread ([`read_ahead`]) announces to the kernel the units just
/// after the next one to be taken (`POSIX_FADV_WILLNEED`): the kernel reads them while the
/// workers classify, and the page-cache work of bringing them in is done on that thread, not on
/// a worker's. The shared index is touched once per unit (16 MiB by default), never per chunk or
/// value; with the read-ahead thread it is all that the workers share. Where the thread cannot
/// be started, the workers run without read-ahead.
pub fn units_in_order<S: Send>(
    files: &[&SegmentFile],
    units: &[WorkUnit],
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let threads = rayon::current_num_threads();
    std::thread::scope(|scope| {
        let ahead = std::thread::Builder::new()
            .name("emrebuild-read-ahead".into())
            .spawn_scoped(scope, || read_ahead(files, units, threads, &next, &done))
            .ok();
        let waker = ahead.as_ref().map(|h| h.thread().clone());
        let finished = WorkersDone {
            done: &done,
            waker: waker.clone(),
        };
        let states = rayon::broadcast(|_| {
            let mut state = init();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= units.len() {
                    break state;
                }
                if let Some(w) = &waker {
                    w.unpark();
                }
                work(&mut state, i);
            }
        });
        drop(finished);
        states
    })
}

/// The read-ahead thread of [`units_in_order`]: whenever a unit is taken, announce the units
/// not announced yet, in order, from the next one to be taken on, until those announced from it
/// hold more than [`READ_AHEAD_BYTES`] of stored bytes (the last one crossing the mark) and
/// number at least `threads` + [`READ_AHEAD_MIN_UNITS`]; then sleep until the next unit is taken. Units the workers took before they were announced are skipped
/// (the worker's own reads bring them in). Ends when every unit is announced or the workers are
/// done.
fn read_ahead(
    files: &[&SegmentFile],
    units: &[WorkUnit],
    threads: usize,
    next: &AtomicUsize,
    done: &AtomicBool,
) {
    let bytes = |u: &WorkUnit| {
        let r = files[u.file].byte_range(u.chunks.clone());
        r.end - r.start
    };
    // ends[i]: stored bytes of units 0..=i.
    let ends: Vec<u64> = units
        .iter()
        .scan(0u64, |sum, u| {
            *sum += bytes(u);
            Some(*sum)
        })
        .collect();
    let min_units = threads + READ_AHEAD_MIN_UNITS;
    let mut reader = ChunkReader::new();
    let mut advised = 0usize;
    while !done.load(Ordering::Acquire) {
        let taken = next.load(Ordering::Relaxed).min(units.len());
        let before = taken.checked_sub(1).map_or(0, |t| ends[t]);
        advised = advised.max(taken);
        while advised < units.len()
            && (advised < taken + min_units || ends[advised] - before <= READ_AHEAD_BYTES)
        {
            let u = &units[advised];
            let f = files[u.file];
            reader.will_need(f, f.byte_range(u.chunks.clone()));
            advised += 1;
        }
        if advised == units.len() {
            return;
        }
        std::thread::park();
    }
}

/// Read every chunk of `unit` with `reader`, handing each to `each` (chunk index, the file block
/// its bytes start at, and its uncompressed bytes or the error reading them). A chunk comes
/// whole, or, where the reader copies an uncompressed file's bytes
/// ([`ChunkReader::reads_in_pieces`]), in pieces of [`PIECE_BYTES`] that are classified while
/// cached; a chunk's pieces stop at its first error. After, the unit's map is released (and its
/// pages dropped, if the reader was asked to).
pub fn read_unit(
    files: &[&SegmentFile],
    unit: &WorkUnit,
    reader: &mut ChunkReader,
    mut each: impl FnMut(u32, u32, Result<&[u8], Error>),
) {
    let file = files[unit.file];
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
    let states = units_in_order(
        &segment_files,
        units,
        || (ScanResult::default(), read.reader()),
        |(acc, reader), i| {
            if progress.cancelled() {
                // Ctrl-C: the remaining units are skipped; the caller discards the result.
                return;
            }
            let unit = &units[i];
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
                unit,
                reader,
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
        },
    );
    let mut result = states
        .into_iter()
        .map(|(acc, _reader)| acc)
        .fold(ScanResult::default(), ScanResult::merge);
    result.errors.sort_by_key(|e| (e.file, e.chunk));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seg::file::Access;
    use crate::types::CHUNK_BYTES;

    /// `files` uncompressed files of `chunks` chunks each, on disk under `dir`.
    fn files_on_disk(dir: &std::path::Path, files: usize, chunks: usize) -> Vec<SegmentFile> {
        (0..files)
            .map(|i| {
                let path = dir.join(format!("FILE{i:03}.cdf"));
                std::fs::write(&path, vec![0x55u8; chunks * CHUNK_BYTES]).unwrap();
                SegmentFile::open(&path, Access::Mmap).unwrap()
            })
            .collect()
    }

    /// One unit per chunk of every file, in file order.
    fn units_of(files: &[SegmentFile]) -> Vec<WorkUnit> {
        files
            .iter()
            .enumerate()
            .flat_map(|(i, f)| super::super::units::units_for_file(i, f.chunk_count(), 1 << 20, 1))
            .collect()
    }

    #[test]
    fn every_unit_is_taken_once_and_each_worker_takes_its_units_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_on_disk(dir.path(), 3, 5);
        let refs: Vec<&SegmentFile> = files.iter().collect();
        let units = units_of(&files);
        assert_eq!(units.len(), 15);
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let states = pool.install(|| {
                units_in_order(&refs, &units, Vec::new, |taken: &mut Vec<usize>, i| {
                    taken.push(i)
                })
            });
            assert_eq!(states.len(), threads, "one state per thread");
            for taken in &states {
                assert!(taken.windows(2).all(|w| w[0] < w[1]), "{taken:?}");
            }
            let mut all: Vec<usize> = states.concat();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..units.len()).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
        // No unit at all: the workers and the read-ahead thread end at once.
        let none = units_in_order(&refs, &[], || 0u32, |n, _| *n += 1);
        assert!(none.iter().all(|&n| n == 0));
    }

    #[test]
    fn a_worker_that_panics_ends_the_scan_instead_of_hanging_it() {
        // One worker, 25 units of 4 MiB (100 MiB: more than the read-ahead's window, so its
        // thread parks with units left to announce), and the worker panics on its first unit.
        // The panic must come out of the scan; a read-ahead thread never told that the workers
        // are done would keep the scope waiting for ever.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let bytes = crate::seg::file::FileBytes::from(vec![0u8; 25 * CHUNK_BYTES]);
            let file = SegmentFile::from_bytes(std::path::Path::new("FILE000.cdf"), bytes);
            let files = [file.unwrap()];
            let refs: Vec<&SegmentFile> = files.iter().collect();
            let units = units_of(&files);
            assert_eq!(units.len(), 25);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    units_in_order(
                        &refs,
                        &units,
                        || (),
                        |_, i| {
                            assert_ne!(i, 0, "a worker's panic");
                        },
                    )
                })
            }));
            let _ = tx.send(outcome.is_err());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(panicked) => assert!(panicked, "the worker's panic was lost"),
            Err(_) => panic!("the scan hung after a worker's panic"),
        }
    }

    #[test]
    fn the_read_ahead_brings_in_later_units_while_a_worker_holds_the_first() {
        // One worker, three 4 MiB units of one file, evicted from the page cache. While the
        // worker is still on unit 0 (reading nothing), the last page of unit 2 must arrive:
        // only the read-ahead thread can have asked for it.
        let dir = tempfile::tempdir().unwrap();
        let files = files_on_disk(dir.path(), 1, 3);
        let path = files[0].path().to_path_buf();
        if crate::pagecache::is_cached(&path).is_none() {
            return; // no `mincore` here: nothing to observe
        }
        assert_eq!(
            crate::pagecache::evict_from_page_cache(&[&path]).worked(),
            Some(true)
        );
        let probe = std::fs::File::open(&path).unwrap();
        let page = rustix::param::page_size() as u64;
        let last = (3 * CHUNK_BYTES as u64 - 1) / page * page;
        assert_eq!(crate::pagecache::resident(&probe, last), Some(false));
        let refs: Vec<&SegmentFile> = files.iter().collect();
        let units = units_of(&files);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let arrived = pool.install(|| {
            units_in_order(
                &refs,
                &units,
                || None,
                |arrived: &mut Option<bool>, i| {
                    if i == 0 {
                        let mut seen = false;
                        for _ in 0..250 {
                            if crate::pagecache::resident(&probe, last) == Some(true) {
                                seen = true;
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        *arrived = Some(seen);
                    }
                },
            )
        });
        assert_eq!(arrived, vec![Some(true)], "unit 2 was never read ahead");
    }
}
