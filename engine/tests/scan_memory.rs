//! The scan's memory does not grow with the files: the bytes its workers hold at once are bounded
//! by threads × (one stored chunk + one decompressed chunk), whatever the file sizes, the access
//! mode and the work-unit size — checked structurally by counting the buffers and maps the
//! readers hold (no timing, no RSS). And a planned file holds no copy of its bytes: changed after
//! it was planned, it is refused when its chunks are read.

use emengine::progress::NoProgress;
use emengine::rebuild::scan::{scan_units_with, ColdReads, ReadOptions};
use emengine::rebuild::{catalog, kind::StringCp, plan, units, walk};
use emengine::seg::file::{Access, BufferGauge};
use emengine::seg::header::{CompressionType, ControlHeader};
use emengine::seg::path::segment_rel_path;
use emengine::seg::writer::CompressedWriter;
use emengine::types::{DbRootId, Oid, SegmentId, CHUNK_BYTES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Chunks per file: 6 × 4 MiB of BIGINT values that snappy cannot shrink.
const CHUNKS: usize = 6;
const FILES: i32 = 3;

/// BIGINT (data type 5, width 8) column `oid`, v3 header, `CHUNKS` chunks of values from a
/// xorshift generator (never the EMPTY or NULL marker, 0x8000000000000001 / ..00).
fn write_column(root: &Path, oid: i32) -> PathBuf {
    let path = root.join(segment_rel_path(SegmentId {
        oid: Oid(oid),
        partition: 0,
        segment: 0,
    }));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let header = ControlHeader {
        version: 3,
        compression: CompressionType::Snappy2,
        header_size: 8192,
        block_count: (CHUNKS * 512) as u64,
        width: 8,
        data_type: 5,
        lbids: vec![1 << 20 | i64::from(oid) << 14],
    };
    let mut w = CompressedWriter::new(std::fs::File::create(&path).unwrap(), header).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ oid as u64;
    for _ in 0..CHUNKS {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        for _ in 0..CHUNK_BYTES / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.extend_from_slice(&(x >> 2).to_le_bytes());
        }
        w.push_chunk(&chunk, 0).unwrap();
    }
    w.finish().unwrap();
    path
}

fn tree() -> (tempfile::TempDir, BTreeMap<DbRootId, PathBuf>, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data1");
    let paths = (0..FILES).map(|i| write_column(&root, 3001 + i)).collect();
    (dir, BTreeMap::from([(DbRootId(1), root)]), paths)
}

struct Scanned {
    stats: BTreeMap<(usize, u32), emengine::rebuild::stats::ExtentStats>,
    direct_bytes: u64,
    /// The largest unit's stored bytes.
    largest_unit: u64,
    peak_bytes: u64,
    peak_readers: u64,
    live_after: u64,
    bytes: u64,
    values: u64,
    errors: Vec<String>,
}

fn scan(
    dbroots: &BTreeMap<DbRootId, PathBuf>,
    access: Access,
    threads: usize,
    chunk_mib: u32,
    between_plan_and_scan: impl FnOnce() + Send,
) -> Scanned {
    scan_reading(
        dbroots,
        access,
        threads,
        chunk_mib,
        &ReadOptions::default(),
        between_plan_and_scan,
    )
}

fn scan_reading(
    dbroots: &BTreeMap<DbRootId, PathBuf>,
    access: Access,
    threads: usize,
    chunk_mib: u32,
    read: &ReadOptions,
    between_plan_and_scan: impl FnOnce() + Send,
) -> Scanned {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let walked = walk::walk(dbroots);
        let facts = catalog::load(&walked.files, access);
        let (planned, unplanned) = plan::plan(walked.files, &facts, access, StringCp::Invalid);
        assert!(unplanned.is_empty(), "{unplanned:?}");
        let units = units::for_files(&planned, chunk_mib);
        between_plan_and_scan();
        let gauge = BufferGauge::new();
        let read = ReadOptions {
            gauge: Some(gauge.clone()),
            ..read.clone()
        };
        let largest_unit = units
            .iter()
            .map(|u| {
                let r = planned[u.file].file.byte_range(u.chunks.clone());
                r.end - r.start
            })
            .max()
            .unwrap_or(0);
        let kernels: Vec<_> = planned.iter().map(|p| (&p.file, p.kernel)).collect();
        let result = scan_units_with(&kernels, &units, &read, &NoProgress);
        drop(read);
        Scanned {
            stats: result.stats.clone(),
            direct_bytes: result.direct_bytes,
            largest_unit,
            peak_bytes: gauge.peak_bytes(),
            peak_readers: gauge.peak_readers(),
            live_after: gauge.live_bytes(),
            bytes: result.bytes,
            values: result.stats.values().map(|s| s.values).sum(),
            errors: result.errors.iter().map(|e| e.error.to_string()).collect(),
        }
    })
}

#[test]
fn bytes_in_flight_are_bounded_by_threads_whatever_the_file_sizes() {
    let (_dir, dbroots, paths) = tree();
    // What one worker may hold: one stored chunk — its 9-byte header and at most snappy's
    // bound for 4 MiB of input — and one decompressed 4 MiB chunk (SEG §3.5).
    let per_worker = 9 + snap::raw::max_compress_len(CHUNK_BYTES) as u64 + CHUNK_BYTES as u64;
    let smallest = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .min()
        .unwrap();
    for threads in [1, 2] {
        // Each file alone is larger than what all workers may hold: holding a whole file (or a
        // whole 16 or 64 MiB unit) would break the bound.
        assert!(
            smallest > threads as u64 * per_worker,
            "{smallest} bytes per file"
        );
        for access in [Access::Read, Access::Mmap] {
            for chunk_mib in [4, 16, 64] {
                let s = scan(&dbroots, access, threads, chunk_mib, || {});
                let case = format!("{threads} threads, {access:?}, --chunk-mib {chunk_mib}");
                assert!(s.errors.is_empty(), "{case}: {:?}", s.errors);
                assert_eq!(
                    s.bytes,
                    (FILES as usize * CHUNKS * CHUNK_BYTES) as u64,
                    "{case}"
                );
                assert_eq!(
                    s.values,
                    (FILES as usize * CHUNKS * CHUNK_BYTES / 8) as u64,
                    "{case}"
                );
                assert!(
                    s.peak_readers >= 1 && s.peak_readers <= threads as u64,
                    "{case}"
                );
                assert!(
                    s.peak_bytes <= threads as u64 * per_worker,
                    "{case}: {} bytes held at once, bound {}",
                    s.peak_bytes,
                    threads as u64 * per_worker
                );
                // Something was counted (the gauge sees the buffers and maps), and all of it
                // was released when the scan ended.
                assert!(s.peak_bytes >= CHUNK_BYTES as u64, "{case}");
                assert_eq!(s.live_after, 0, "{case}");
            }
        }
    }
}

/// Whether `path`'s file system takes `O_DIRECT` reads (tmpfs does not).
fn direct_reads_work(path: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .is_ok()
}

#[test]
fn units_read_directly_give_the_same_stats_within_the_bound_and_leave_the_cache_alone() {
    let (_dir, dbroots, paths) = tree();
    if !direct_reads_work(&paths[0]) {
        eprintln!("skipped: the temporary directory's file system refuses O_DIRECT");
        return;
    }
    let per_worker = 9 + snap::raw::max_compress_len(CHUNK_BYTES) as u64 + CHUNK_BYTES as u64;
    let stored: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    for threads in [1, 2] {
        for access in [Access::Read, Access::Mmap] {
            for chunk_mib in [4, 16] {
                let case = format!("{threads} threads, {access:?}, --chunk-mib {chunk_mib}");
                let direct = ReadOptions {
                    cold: ColdReads::Direct,
                    ..ReadOptions::default()
                };
                // In the page cache (read just now: the direct pass before left it out): read
                // through it.
                for p in &paths {
                    std::fs::read(p).unwrap();
                }
                let warm = scan_reading(&dbroots, access, threads, chunk_mib, &direct, || {});
                assert_eq!(
                    warm.direct_bytes, 0,
                    "{case}: cached units were read directly"
                );
                let evict = || {
                    let e = emengine::pagecache::evict_from_page_cache(&paths);
                    e.worked() == Some(true)
                };
                if !evict() {
                    eprintln!("skipped: the page cache cannot be dropped or asked here");
                    return;
                }
                let cold = scan_reading(&dbroots, access, threads, chunk_mib, &direct, || {});
                assert!(cold.errors.is_empty(), "{case}: {:?}", cold.errors);
                assert_eq!(cold.stats, warm.stats, "{case}");
                assert_eq!(cold.bytes, warm.bytes, "{case}");
                // Every unit was read directly (the budget holds every token's buffer here):
                // all the chunks' stored bytes (the files less their headers), and none of it
                // went through the page cache.
                assert!(
                    cold.direct_bytes > stored - FILES as u64 * 16384
                        && cold.direct_bytes <= stored,
                    "{case}: {} of {stored} bytes read directly",
                    cold.direct_bytes
                );
                for p in &paths {
                    assert_eq!(
                        emengine::pagecache::is_cached(p),
                        Some(false),
                        "{case}: {}",
                        p.display()
                    );
                }
                let bound = threads as u64 * per_worker + direct.stage_bytes;
                assert!(
                    cold.peak_bytes <= bound && cold.peak_bytes >= cold.largest_unit,
                    "{case}: {} bytes held at once, bound {bound}",
                    cold.peak_bytes
                );
                assert_eq!(cold.live_after, 0, "{case}");
                // A budget of two units' buffers: the rest goes through the page cache, the
                // stats are the same, and the buffers stay within it.
                if !evict() {
                    return;
                }
                let tight = ReadOptions {
                    stage_bytes: 2 * (cold.largest_unit + 8192),
                    ..direct.clone()
                };
                let t = scan_reading(&dbroots, access, threads, chunk_mib, &tight, || {});
                assert!(t.errors.is_empty(), "{case}: {:?}", t.errors);
                assert_eq!(t.stats, warm.stats, "{case}, two units' budget");
                assert!(
                    t.direct_bytes >= t.largest_unit,
                    "{case}: nothing read directly"
                );
                let bound = threads as u64 * per_worker + tight.stage_bytes;
                assert!(
                    t.peak_bytes <= bound,
                    "{case}, two units' budget: {} bytes held at once, bound {bound}",
                    t.peak_bytes
                );
                assert_eq!(t.live_after, 0, "{case}");
            }
        }
    }
}

#[test]
fn a_file_changed_after_it_was_planned_is_refused_not_read_from_a_copy() {
    for access in [Access::Read, Access::Mmap] {
        let (_dir, dbroots, paths) = tree();
        let victim = paths[1].clone();
        let s = scan(&dbroots, access, 2, 16, || {
            // Another file at the same path, of another length: what a loader writing during
            // the scan, or a restore from a backup, would leave.
            let bytes = std::fs::read(&victim).unwrap();
            std::fs::remove_file(&victim).unwrap();
            std::fs::write(&victim, &bytes[..bytes.len() - 8192]).unwrap();
        });
        assert_eq!(s.errors.len(), CHUNKS, "{access:?}: {:?}", s.errors);
        for e in &s.errors {
            assert!(
                e.contains(&victim.display().to_string())
                    && e.contains("changed since it was planned"),
                "{access:?}: {e}"
            );
        }
        // The other files were scanned in full.
        assert_eq!(
            s.bytes,
            ((FILES as usize - 1) * CHUNKS * CHUNK_BYTES) as u64
        );
    }
}
