//! The rebuild on a small hand-built tree whose every answer is known: exact LBIDs from the
//! headers, the HWM of the last non-empty block found by checking every value, exact min/max,
//! dictionary sentinels, skipped and unresolved files, damage — and identical output whatever
//! the thread count and work-unit size.

use emengine::em::{CasualPartition, CpState, EmVersion, ExtentRecord, SentinelKind};
use emengine::finding::{Fact, UncertainCause, UnresolvedReason};
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::seg::dict::{empty_dict_block, DictBlockBuilder};
use emengine::seg::header::{CompressionType, ControlHeader};
use emengine::seg::path::{segment_rel_path, NotSegmentPath};
use emengine::seg::writer::CompressedWriter;
use emengine::types::{DbRootId, Oid, SegmentId, BLOCK_SIZE, CHUNK_BYTES};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const INT_EMPTY: u32 = 0x8000_0001;
const INT_NULL: u32 = 0x8000_0000;

fn seg_path(root: &Path, oid: i32) -> PathBuf {
    let p = root.join(segment_rel_path(SegmentId {
        oid: Oid(oid),
        partition: 0,
        segment: 0,
    }));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

fn header(width: u64, data_type: i32, lbids: &[i64], blocks: u64) -> ControlHeader {
    ControlHeader {
        version: 3,
        compression: CompressionType::Snappy2,
        header_size: 8192,
        block_count: blocks,
        width,
        data_type,
        lbids: lbids.to_vec(),
    }
}

/// INT column 3001: two extents (4096 blocks = 8 chunks each) at LBIDs 262144 and 270336.
/// Extent 0 holds -5..=1000 and NULLs in chunk 0; extent 1 holds one value, 77, at file block
/// 4696 (chunk 9), in the middle of a block where three samples per block would miss it.
fn write_int_column(root: &Path) {
    let f = fs::File::create(seg_path(root, 3001)).unwrap();
    let mut w = CompressedWriter::new(f, header(4, 6, &[262_144, 270_336], 8192)).unwrap();
    let empty_chunk: Vec<u8> = INT_EMPTY.to_le_bytes().repeat(CHUNK_BYTES / 4);
    let mut chunk0 = empty_chunk.clone();
    for (i, v) in (-5i32..=1000).enumerate() {
        chunk0[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    for i in 2000..2010 {
        chunk0[i * 4..i * 4 + 4].copy_from_slice(&INT_NULL.to_le_bytes());
    }
    w.push_chunk(&chunk0, 1).unwrap();
    for _ in 1..9 {
        w.push_chunk(&empty_chunk, 1).unwrap();
    }
    let mut chunk9 = empty_chunk.clone();
    let block_in_chunk = 4696 - 9 * 512;
    let at = block_in_chunk * BLOCK_SIZE + 4 * 17;
    chunk9[at..at + 4].copy_from_slice(&77i32.to_le_bytes());
    w.push_chunk(&chunk9, 1).unwrap();
    w.finish().unwrap();
}

/// Dictionary 3002: abbreviated (256 blocks) at LBID 278528, strings in blocks 0..=2.
fn write_dictionary(root: &Path) {
    let f = fs::File::create(seg_path(root, 3002)).unwrap();
    let mut w = CompressedWriter::new(f, header(0, 12, &[278_528], 256)).unwrap();
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    for b in 0..512 {
        if b <= 2 {
            let mut builder = DictBlockBuilder::new();
            builder
                .try_push(format!("string in block {b}").as_bytes())
                .unwrap();
            chunk.extend_from_slice(&builder.finish());
        } else {
            chunk.extend_from_slice(&empty_dict_block());
        }
    }
    w.push_chunk(&chunk, 1).unwrap();
    w.finish().unwrap();
}

fn tree() -> (tempfile::TempDir, RebuildOptions) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data1");
    write_int_column(&root);
    write_dictionary(&root);
    // Uncompressed user file: no header, so no type without a catalog.
    fs::write(seg_path(&root, 3003), vec![0xFFu8; 8 * BLOCK_SIZE]).unwrap();
    fs::write(root.join("notes.txt"), b"not a segment file").unwrap();
    let tmp = seg_path(&root, 3001).with_extension("cdf.tmp");
    fs::write(tmp, b"work file").unwrap();
    let opts = RebuildOptions {
        dbroots: BTreeMap::from([(DbRootId(1), root)]),
        ..RebuildOptions::default()
    };
    (dir, opts)
}

fn run(opts: &RebuildOptions, threads: usize) -> Rebuilt {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| rebuild(opts, &emengine::progress::NoProgress))
        .unwrap()
}

fn extent(
    oid: i32,
    lbid: i64,
    width: u16,
    block_offset: u32,
    hwm: u32,
    cp: CasualPartition,
) -> ExtentRecord {
    ExtentRecord::builder(oid, lbid)
        .width(width)
        .block_offset(block_offset)
        .hwm(hwm)
        .cp(cp)
        .build()
}

#[test]
fn rebuilds_exact_lbids_hwm_and_min_max() {
    let (_dir, opts) = tree();
    let r = run(&opts, 2);
    let expected = vec![
        extent(
            3001,
            262_144,
            4,
            0,
            0,
            CasualPartition::narrow(CpState::VALID, -5, 1000),
        ),
        extent(
            3001,
            270_336,
            4,
            4096,
            4696,
            CasualPartition::narrow(CpState::VALID, 77, 77),
        ),
        extent(
            3002,
            278_528,
            0,
            0,
            2,
            CasualPartition::sentinel(SentinelKind::Dictionary, CpState::INVALID),
        ),
    ];
    assert_eq!(r.map.extents, expected);
    assert_eq!(r.report.reassigned().count(), 0, "{:?}", r.report.findings);
    assert_eq!(r.report.damaged().count(), 0, "{:?}", r.report.findings);
    let unresolved: Vec<_> = r.report.unresolved().collect();
    assert_eq!(unresolved.len(), 1, "{:?}", r.report.findings);
    assert!(unresolved[0].path.ends_with("FILE000.cdf"));
    assert_eq!(
        unresolved[0].reason,
        UnresolvedReason::UncompressedNoCatalogRow
    );
    let skipped: Vec<_> = r.report.skipped().collect();
    assert!(
        skipped.iter().any(|s| s.path.ends_with("notes.txt")
            && matches!(s.reason, NotSegmentPath::NotFileName { .. })),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|s| s.path.ends_with("FILE000.cdf.tmp")
            && matches!(&s.reason, NotSegmentPath::WorkFile { suffix, .. } if suffix == "tmp")),
        "{skipped:?}"
    );
    assert!(
        !r.report.is_clean(),
        "an unresolved file makes the report unclean"
    );
    // The free list is the complement: the first free range starts at 0 and ends at the first extent.
    assert_eq!(r.map.free_list[0].start, 0);
    assert_eq!(r.map.free_list[0].size, 262_144 / 1024);
}

#[test]
fn output_is_identical_whatever_threads_and_unit_size() {
    let (_dir, mut opts) = tree();
    let reference = run(&opts, 1).map.encode(EmVersion::V5);
    for (threads, mib) in [(1, 4), (2, 4), (2, 16), (4, 64), (3, 1)] {
        opts.chunk_mib = mib;
        assert_eq!(
            run(&opts, threads).map.encode(EmVersion::V5),
            reference,
            "threads {threads}, chunk {mib} MiB"
        );
    }
}

#[test]
fn a_damaged_chunk_is_reported_with_its_offset_and_not_trusted() {
    let (dir, opts) = tree();
    let path = seg_path(&dir.path().join("data1"), 3001);
    let mut bytes = fs::read(&path).unwrap();
    // Pointer of chunk 9 is the u64 at 4096 + 9*8; flip a payload byte inside that chunk.
    let p9 = u64::from_le_bytes(bytes[4096 + 72..4096 + 80].try_into().unwrap()) as usize;
    bytes[p9 + 20] ^= 0x5A;
    fs::write(&path, bytes).unwrap();
    let r = run(&opts, 2);
    let damaged: Vec<_> = r.report.damaged().collect();
    assert_eq!(damaged.len(), 1, "{:?}", r.report.findings);
    let d = damaged[0];
    assert_eq!(d.path, path);
    // The error points at the checksum field of the chunk header (1 byte into the chunk).
    assert_eq!(d.offset, Some(p9 as u64 + 1), "{}", d.detail);
    assert_eq!(d.error, emengine::ErrorKind::BadChecksum, "{}", d.detail);
    // The damaged chunk's extent: HWM assumed to reach the end of the chunk, CP invalid.
    let e1 = r
        .map
        .extents
        .iter()
        .find(|e| e.oid == Oid(3001) && e.block_offset == 4096)
        .unwrap();
    assert_eq!(e1.hwm, 10 * 512 - 1);
    assert_eq!(e1.cp.state, CpState::INVALID);
    let at = e1.address();
    let uncertain: Vec<_> = r.report.uncertain().collect();
    assert!(
        uncertain.iter().any(|u| u.extent == at
            && u.fact == Fact::Hwm
            && u.cause == UncertainCause::DamagedChunk),
        "{uncertain:?}"
    );
    assert!(
        uncertain
            .iter()
            .any(|u| u.extent == at && u.fact == Fact::MinMax),
        "{uncertain:?}"
    );
}
