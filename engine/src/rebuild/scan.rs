//! Scan: work units → per-extent [`ExtentStats`], in parallel on the caller's rayon pool.
//!
//! Only the parallel part lives here: each worker owns its [`ChunkReader`] (its read and
//! decompression buffers, one chunk each) and folds the units it takes into an ordered map with
//! the kernels of [`super::kernel`]; partial maps are reduced with one associative merge, so
//! nothing is locked on the hot path and the result does not depend on the thread count, the
//! unit size or which worker took which unit. Workers take units in file-offset order from one
//! shared index ([`units_in_order`]), so the disk is read as one stream in order whatever the
//! thread count, and two staging threads beside them go ahead of the workers announcing each
//! unit to the kernel (`WILLNEED`), or, with `--direct-io` ([`ColdReads::Direct`]), reading a
//! unit that is not in the page cache directly into a buffer of a bounded pool (`O_DIRECT`,
//! [`crate::seg::direct`]), which its worker then scans without the page cache. Either way
//! reading and classifying overlap.
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
use crate::seg::direct::DirectBuf;
use crate::seg::file::{Identity, SegmentFile, Source};
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
    /// Stored bytes of the units read directly, around the page cache ([`ColdReads::Direct`]).
    pub direct_bytes: u64,
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
        self.direct_bytes += other.direct_bytes;
        self.gathered = std::mem::take(&mut self.gathered).merge(other.gathered);
        self
    }
}

/// How the scan reads its units.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Count the bytes the workers' readers hold (tests; off in a rebuild).
    pub gauge: Option<Arc<BufferGauge>>,
    /// Drop each unit's pages from the page cache once it is scanned
    /// ([`ChunkReader::drop_behind`]).
    pub drop_behind: bool,
    /// How units that are not in the page cache are read.
    pub cold: ColdReads,
    /// The most bytes the direct reads' buffers hold together ([`STAGE_BYTES`] by default).
    pub stage_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            gauge: None,
            drop_behind: false,
            cold: ColdReads::default(),
            stage_bytes: STAGE_BYTES,
        }
    }
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

/// How the scan reads the units that are not in the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColdReads {
    /// Through the page cache, announced ahead (`POSIX_FADV_WILLNEED`) by the staging threads.
    /// The default: on the development machine's virtual disk, direct reads streamed at
    /// 0.85–0.95 GB/s where buffered reads with the kernel's read-ahead reached 1.1–1.4 GB/s
    /// (1.2 GB tree, 1–16 readers, 1–16 MiB reads), which cost more than the CPU they save.
    #[default]
    Buffered,
    /// Around the page cache (`O_DIRECT`, `--direct-io`), by the staging threads into a bounded
    /// pool of buffers ([`units_in_order`], [`crate::seg::direct`]): no CPU spent filling the
    /// page cache, and the cache left to what the server keeps in it. Units in the cache, files
    /// whose cache cannot be asked about, and file systems without `O_DIRECT` are still read
    /// through it.
    Direct,
}

/// Staging threads beside the pool ([`units_in_order`]): one reads a unit while the other
/// decides about the next, so the disk is not idle between two files.
const STAGERS: usize = 2;

/// The most bytes the staging buffers hold together by default ([`ReadOptions::stage_bytes`]):
/// with 16 MiB units and two workers the pool has 5 tokens, all of which fit (83 MiB).
pub const STAGE_BYTES: u64 = 160 << 20;

/// How far the staging threads run ahead of the workers, in stored bytes: the pool has enough
/// tokens for this many bytes of average units (and at least threads + 3), so that on a tree of
/// small files the read-ahead still covers many files (at 1 GB/s, 64 ms of reading).
const READ_AHEAD_BYTES: u64 = 64 << 20;

/// At most this many tokens, whatever the unit sizes.
const MAX_TOKENS: usize = 4096;

/// A unit at least this much in the page cache (in tenths of its pages) is read through it: a
/// few missing pages cost a few faults, re-reading the unit from the disk costs all of it.
const RESIDENT_TENTHS: usize = 9;

/// Tells the staging threads that the workers are done, however they end: after a worker's
/// panic too, since the scope waits for its threads before passing the panic on, and a staging
/// thread waiting for a token would never end.
struct WorkersDone<'a> {
    done: &'a AtomicBool,
}

impl Drop for WorkersDone<'_> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
    }
}

/// Run `work(state, i, staged)` for every unit `i`, on every thread of the current rayon pool:
/// each thread starts from `init()` and takes the next unit from one shared index until none is
/// left, so units are taken in their order (file-offset order, [`super::units::for_files`]) and
/// the disk is read as one stream in order, whatever the thread count. The threads' states are
/// returned, in no particular order, for the caller to merge.
///
/// Beside the pool, [`STAGERS`] staging threads go through the units in the same order, ahead
/// of the workers by one token per unit (a pool of max(threads + 3, [`READ_AHEAD_BYTES`] of
/// average units) tokens, each given back when its worker is done), and for each unit:
/// - with [`ColdReads::Direct`], when the unit is less than 90 % in the page cache and the
///   buffers' budget ([`ReadOptions::stage_bytes`]) has room: read it directly into the token's
///   buffer, which the worker gets as `staged` and serves its reads from
///   ([`ChunkReader::stage`]), then hands back (the return value);
/// - otherwise: announce it to the kernel (`WILLNEED`, or a StorageManager object's prefetch),
///   so that the page-cache work of bringing it in is done on that thread, not on a worker's.
///
/// A worker waits for its unit's decision only. Once `cancelled()` says so, the staging threads
/// decide nothing more (the workers skip their units at once). The shared index is touched once
/// per unit (16 MiB by default), never per chunk or value; the decisions are handed over under
/// one lock, once per unit. Where no staging thread can be started, the workers read every unit
/// themselves.
pub fn units_in_order<S: Send>(
    files: &[&SegmentFile],
    units: &[WorkUnit],
    read: &ReadOptions,
    cancelled: &(dyn Fn() -> bool + Sync),
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, Option<DirectBuf>) -> Option<DirectBuf> + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let threads = rayon::current_num_threads();
    let staging = Staging::new(files, units, read, threads);
    std::thread::scope(|scope| {
        // Counted as running before any can end (a thread may finish before the next starts).
        staging.lock().running = STAGERS;
        for k in 0..STAGERS {
            let spawned = std::thread::Builder::new()
                .name(format!("emrebuild-stage-{k}"))
                .spawn_scoped(scope, || staging.run(&done, cancelled));
            if spawned.is_err() {
                staging.stopped();
            }
        }
        let finished = WorkersDone { done: &done };
        let states = rayon::broadcast(|_| {
            let mut state = init();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= units.len() {
                    break state;
                }
                let Some(token) = staging.take(i) else {
                    // No staging thread runs: the worker reads the unit itself.
                    work(&mut state, i, None);
                    continue;
                };
                let back = if token.holds().is_some() {
                    work(&mut state, i, Some(token))
                } else {
                    let kept = work(&mut state, i, None);
                    Some(kept.unwrap_or(token))
                };
                staging.give_back(back);
            }
        });
        drop(finished);
        states
    })
}

/// The staging threads' shared state ([`units_in_order`]).
struct Staging<'a> {
    files: &'a [&'a SegmentFile],
    units: &'a [WorkUnit],
    cold: ColdReads,
    /// The budget of the buffers' memory, and what they hold now (the sum of their
    /// allocations, reserved before a buffer grows).
    budget: u64,
    held: std::sync::atomic::AtomicU64,
    /// Whether a returned token keeps its buffer's allocation (when every token's buffer fits
    /// the budget); otherwise it is freed, so idle tokens never hold the budget.
    keep: bool,
    gauge: Option<Arc<BufferGauge>>,
    /// The next unit to decide about.
    next: AtomicUsize,
    /// The pool of tokens (buffers, allocated when first filled).
    free_tx: crossbeam_channel::Sender<DirectBuf>,
    free_rx: crossbeam_channel::Receiver<DirectBuf>,
    /// Decided units not yet taken, and the staging threads still running.
    ready: std::sync::Mutex<Ready>,
    decided: std::sync::Condvar,
}

#[derive(Default)]
struct Ready {
    units: std::collections::HashMap<usize, DirectBuf>,
    running: usize,
}

impl<'a> Staging<'a> {
    fn new(
        files: &'a [&'a SegmentFile],
        units: &'a [WorkUnit],
        read: &ReadOptions,
        threads: usize,
    ) -> Staging<'a> {
        let bytes = |u: &WorkUnit| {
            let r = files[u.file].byte_range(u.chunks.clone());
            r.end - r.start
        };
        let total: u64 = units.iter().map(bytes).sum();
        let largest = units.iter().map(bytes).max().unwrap_or(0);
        let average = (total / units.len().max(1) as u64).max(1);
        let least = threads + STAGERS + 1;
        let tokens =
            (READ_AHEAD_BYTES.div_ceil(average) as usize).clamp(least, MAX_TOKENS.max(least));
        let (free_tx, free_rx) = crossbeam_channel::unbounded();
        for _ in 0..tokens {
            let _ = free_tx.send(DirectBuf::new());
        }
        let per_buffer = largest + 2 * crate::seg::direct::DIRECT_ALIGN;
        Staging {
            files,
            units,
            cold: read.cold,
            budget: read.stage_bytes,
            held: std::sync::atomic::AtomicU64::new(0),
            keep: tokens as u64 * per_buffer <= read.stage_bytes,
            gauge: read.gauge.clone(),
            next: AtomicUsize::new(0),
            free_tx,
            free_rx,
            ready: std::sync::Mutex::new(Ready::default()),
            decided: std::sync::Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A staging thread ended (or never started).
    fn stopped(&self) {
        self.lock().running -= 1;
        self.decided.notify_all();
    }

    /// Unit `i`'s token once a staging thread has decided about it (its buffer filled when the
    /// unit was read directly); `None` when no staging thread runs any more.
    fn take(&self, i: usize) -> Option<DirectBuf> {
        let mut ready = self.lock();
        loop {
            if let Some(buf) = ready.units.remove(&i) {
                return Some(buf);
            }
            if ready.running == 0 {
                return None;
            }
            ready = self.decided.wait(ready).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A worker is done with its unit: its token goes back to the pool (a fresh one if the
    /// worker kept it, so the pool never shrinks), without its allocation unless the pool
    /// keeps them ([`Staging::keep`]).
    fn give_back(&self, buf: Option<DirectBuf>) {
        let mut buf = buf.unwrap_or_default();
        buf.clear();
        if !self.keep && buf.capacity() > 0 {
            self.release(buf.capacity() as u64);
            buf = DirectBuf::new();
        }
        let _ = self.free_tx.send(buf);
    }

    /// `bytes` of buffers were freed.
    fn release(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::Relaxed);
        if let Some(g) = &self.gauge {
            g.change(bytes, 0);
        }
    }

    /// Reserve `bytes` more of the budget for a buffer to grow; `false` (nothing reserved) when
    /// they do not fit.
    fn reserve(&self, bytes: u64) -> bool {
        if bytes == 0 {
            return true;
        }
        let before = self.held.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > self.budget {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        if let Some(g) = &self.gauge {
            g.change(0, bytes);
        }
        true
    }

    /// A staging thread: decide about units in order, one token each, until every unit is
    /// decided or the workers are done.
    fn run(&self, done: &AtomicBool, cancelled: &(dyn Fn() -> bool + Sync)) {
        /// Ends the thread's part however it ends: a unit taken but not decided (a panic) is
        /// handed over undecided, so its worker reads it itself instead of waiting for ever.
        struct Exit<'s, 'a> {
            staging: &'s Staging<'a>,
            deciding: Option<usize>,
        }
        impl Drop for Exit<'_, '_> {
            fn drop(&mut self) {
                if let Some(j) = self.deciding {
                    self.staging.lock().units.insert(j, DirectBuf::new());
                }
                self.staging.stopped();
            }
        }
        let mut exit = Exit {
            staging: self,
            deciding: None,
        };
        let mut open = StagerFile::default();
        loop {
            let mut buf = loop {
                match self
                    .free_rx
                    .recv_timeout(std::time::Duration::from_millis(20))
                {
                    Ok(buf) => break buf,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        if done.load(Ordering::Acquire) {
                            return;
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                }
            };
            let j = self.next.fetch_add(1, Ordering::Relaxed);
            if j >= self.units.len() {
                let _ = self.free_tx.send(buf);
                return;
            }
            exit.deciding = Some(j);
            if !cancelled() {
                self.decide(j, &mut buf, &mut open);
            }
            exit.deciding = None;
            self.lock().units.insert(j, buf);
            self.decided.notify_all();
        }
    }

    /// Read unit `j` directly into `buf`, or announce it (see [`units_in_order`]).
    fn decide(&self, j: usize, buf: &mut DirectBuf, open: &mut StagerFile) {
        let u = &self.units[j];
        let file = self.files[u.file];
        let range = file.byte_range(u.chunks.clone());
        if range.is_empty() {
            return;
        }
        match file.source() {
            Source::Disk(disk) => {
                let direct = self.cold == ColdReads::Direct;
                let Some(f) = open.get(file.path(), disk.identity, direct) else {
                    // The file changed since it was planned: the worker's read says so.
                    return;
                };
                if let (Some(d), true) = (&f.direct, f.answers) {
                    let cold = crate::pagecache::resident_pages(&f.plain, range.clone())
                        .is_some_and(|(resident, pages)| resident * 10 < pages * RESIDENT_TENTHS);
                    let grow = (DirectBuf::capacity_for(&range) as u64)
                        .saturating_sub(buf.capacity() as u64);
                    if cold
                        && self.reserve(grow)
                        && buf.fill(d, disk.identity, range.clone()).is_ok()
                    {
                        return;
                    }
                }
                crate::pagecache::will_need(&f.plain, range.start, range.end - range.start);
            }
            Source::Ranged(source) => source.will_need(range),
            Source::Memory(_) => {}
        }
    }
}

impl Drop for Staging<'_> {
    /// The pool's buffers are freed with it: the gauge counts them out.
    fn drop(&mut self) {
        let Some(g) = &self.gauge else { return };
        let ready = std::mem::take(&mut self.lock().units);
        for buf in self.free_rx.try_iter().chain(ready.into_values()) {
            g.change(buf.capacity() as u64, 0);
        }
    }
}

/// The file a staging thread has open: read-only through the page cache (advice, `mincore`),
/// and for direct reads where asked and allowed.
#[derive(Default)]
struct StagerFile {
    open: Option<(Identity, Option<OpenFiles>)>,
}

struct OpenFiles {
    plain: std::fs::File,
    /// `None` without [`ColdReads::Direct`], or where the file system refuses `O_DIRECT`.
    direct: Option<std::fs::File>,
    /// Whether `mincore` reports this file's page cache to this process.
    answers: bool,
}

impl StagerFile {
    /// The planned file `path` (`identity`), opened once per file; `None` where it cannot be
    /// opened or is no longer the planned file.
    fn get(
        &mut self,
        path: &std::path::Path,
        identity: Identity,
        direct: bool,
    ) -> Option<&OpenFiles> {
        if !matches!(&self.open, Some((id, _)) if *id == identity) {
            let opened = crate::fsutil::open_read_only(path)
                .ok()
                .filter(|(_, meta)| Identity::of(meta) == identity)
                .map(|(plain, meta)| OpenFiles {
                    // Asked only for direct reads (one `access` call per file saved on a
                    // tree of many small files).
                    answers: direct && crate::pagecache::mincore_answers(path, &meta),
                    direct: direct
                        .then(|| crate::seg::direct::open_direct(path, &identity).ok())
                        .flatten(),
                    plain,
                });
            self.open = Some((identity, opened));
        }
        self.open.as_ref().and_then(|(_, o)| o.as_ref())
    }
}

/// Read every chunk of `unit` with `reader`, handing each to `each` (chunk index, the file block
/// its bytes start at, and its uncompressed bytes or the error reading them). A chunk comes
/// whole, or, where the reader copies an uncompressed file's bytes
/// ([`ChunkReader::reads_in_pieces`]), in pieces of [`PIECE_BYTES`] that are classified while
/// cached; a chunk's pieces stop at its first error. After, the unit's map is released (and its
/// pages dropped, if the reader was asked to). A unit the staging threads read directly
/// (`staged`, [`units_in_order`]) is served from that buffer, which is returned.
pub fn read_unit(
    files: &[&SegmentFile],
    unit: &WorkUnit,
    reader: &mut ChunkReader,
    staged: Option<DirectBuf>,
    mut each: impl FnMut(u32, u32, Result<&[u8], Error>),
) -> Option<DirectBuf> {
    let file = files[unit.file];
    if let Some(buf) = staged {
        reader.stage(buf);
    }
    for chunk in unit.chunks.clone() {
        read_chunk(file, chunk, reader, |first_block, data| {
            each(chunk, first_block, data)
        });
    }
    reader.finish(file, file.byte_range(unit.chunks.clone()));
    reader.unstage()
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
        read,
        &|| progress.cancelled(),
        || (ScanResult::default(), read.reader()),
        |(acc, reader), i, staged| {
            if progress.cancelled() {
                // Ctrl-C: the remaining units are skipped; the caller discards the result.
                return staged;
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
            if let Some(buf) = &staged {
                acc.direct_bytes += buf.holds().map_or(0, |r| r.end - r.start);
            }
            // Bytes of data per chunk (a chunk may come in pieces).
            let mut lens: Vec<(u32, u64)> = Vec::new();
            let staged = read_unit(
                &segment_files,
                unit,
                reader,
                staged,
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
            staged
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
                units_in_order(
                    &refs,
                    &units,
                    &ReadOptions::default(),
                    &|| false,
                    Vec::new,
                    |taken: &mut Vec<usize>, i, staged| {
                        taken.push(i);
                        staged
                    },
                )
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
        // No unit at all: the workers and the staging threads end at once.
        let none = units_in_order(
            &refs,
            &[],
            &ReadOptions::default(),
            &|| false,
            || 0u32,
            |n, _, s| {
                *n += 1;
                s
            },
        );
        assert!(none.iter().all(|&n| n == 0));
    }

    /// An object of zeros (an uncompressed file of `chunks` chunks) whose prefetch counts its
    /// calls and panics on the ones `panic_on` names.
    struct Object {
        chunks: usize,
        asked: std::sync::atomic::AtomicUsize,
        panic_on: fn(u64) -> bool,
    }

    impl crate::seg::file::RangeSource for Object {
        fn len(&self) -> u64 {
            (self.chunks * CHUNK_BYTES) as u64
        }
        fn read_at(&self, _offset: u64, buf: &mut [u8]) -> Result<(), Error> {
            buf.fill(0);
            Ok(())
        }
        fn will_need(&self, range: std::ops::Range<u64>) {
            self.asked.fetch_add(1, Ordering::Relaxed);
            assert!(!(self.panic_on)(range.start), "a staging thread's panic");
        }
    }

    /// Scan `object`'s units (one per chunk) on `threads` workers, each unit's bytes read (a
    /// worker panics on unit `worker_panics`, if any), in a thread of its own with a timeout:
    /// `Err` when the scan hangs, else whether it panicked, and the units scanned.
    fn scan_object(
        object: Arc<Object>,
        threads: usize,
        cancelled: bool,
        worker_panics: Option<usize>,
    ) -> Result<(bool, usize), &'static str> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let path = std::path::Path::new("FILE000.cdf");
            let file = SegmentFile::from_source(path, object).unwrap();
            let files = [file];
            let refs: Vec<&SegmentFile> = files.iter().collect();
            let units = units_of(&files);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    units_in_order(
                        &refs,
                        &units,
                        &ReadOptions::default(),
                        &|| cancelled,
                        || (0usize, ChunkReader::new()),
                        |(n, reader), i, staged| {
                            assert_ne!(Some(i), worker_panics, "a worker's panic");
                            *n += 1;
                            read_unit(&refs, &units[i], reader, staged, |_, _, d| {
                                assert!(d.is_ok());
                            })
                        },
                    )
                })
            }));
            let _ = tx.send(match outcome {
                Ok(states) => (false, states.iter().map(|(n, _)| n).sum()),
                Err(_) => (true, 0),
            });
        });
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .map_err(|_| "the scan hung")
    }

    #[test]
    fn a_worker_that_panics_ends_the_scan_instead_of_hanging_it() {
        // One worker, 25 units of 4 MiB (more than the staging pool's tokens, so the staging
        // threads wait for a token with units left), and the worker panics on its first unit,
        // keeping its token. The panic must come out of the scan; a staging thread never told
        // that the workers are done would keep the scope waiting for ever.
        let object = Arc::new(Object {
            chunks: 25,
            asked: AtomicUsize::new(0),
            panic_on: |_| false,
        });
        assert_eq!(scan_object(object, 1, false, Some(0)), Ok((true, 0)));
    }

    #[test]
    fn a_staging_thread_that_panics_leaves_its_unit_to_the_worker_instead_of_hanging_it() {
        // Both staging threads panic on their first unit's prefetch; the one worker waits for
        // that unit's decision. Without the undecided unit handed over, it would wait for ever.
        // The panic then comes out of the scan.
        for threads in [1, 2] {
            let object = Arc::new(Object {
                chunks: 25,
                asked: AtomicUsize::new(0),
                panic_on: |_| true,
            });
            let outcome = scan_object(object.clone(), threads, false, None);
            assert_eq!(outcome, Ok((true, 0)), "{threads} threads");
            assert!(object.asked.load(Ordering::Relaxed) >= 1);
            // One staging thread panicking on one unit: the scan still ends.
            let object = Arc::new(Object {
                chunks: 25,
                asked: AtomicUsize::new(0),
                panic_on: |at| at == 7 * CHUNK_BYTES as u64,
            });
            assert_eq!(scan_object(object, threads, false, None), Ok((true, 0)));
        }
    }

    #[test]
    fn a_cancelled_scan_announces_nothing_more() {
        // Ctrl-C: the staging threads hand every unit over undecided, so the workers skip their
        // units without waiting for a read or a prefetch of each.
        let object = Arc::new(Object {
            chunks: 25,
            asked: AtomicUsize::new(0),
            panic_on: |_| false,
        });
        assert_eq!(scan_object(object.clone(), 2, true, None), Ok((false, 25)));
        assert_eq!(object.asked.load(Ordering::Relaxed), 0);
        let object = Arc::new(Object {
            chunks: 25,
            asked: AtomicUsize::new(0),
            panic_on: |_| false,
        });
        assert_eq!(scan_object(object.clone(), 2, false, None), Ok((false, 25)));
        assert_eq!(object.asked.load(Ordering::Relaxed), 25);
    }

    #[test]
    fn the_read_ahead_brings_in_later_units_while_a_worker_holds_the_first() {
        // One worker, three 4 MiB units of one file, evicted from the page cache, read through
        // the page cache. While the worker is still on unit 0 (reading nothing), the last page
        // of unit 2 must arrive: only a staging thread can have asked for it.
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
                &ReadOptions {
                    cold: ColdReads::Buffered,
                    ..ReadOptions::default()
                },
                &|| false,
                || None,
                |arrived: &mut Option<bool>, i, staged| {
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
                    staged
                },
            )
        });
        assert_eq!(arrived, vec![Some(true)], "unit 2 was never read ahead");
    }
}
