//! The generation-A era against the real V4 map of a freshly installed system catalog
//! (`../shared/real/BRM_saves_em.v4-syscat`, EM §6.2): the evidence for how ColumnStore before
//! 22.08 created extents (catalog column extents CP_VALID with INT64_MAX/INT64_MIN, token
//! columns and CHAR(1) included, 1042 UBIGINT −1/0; dictionaries CP_INVALID with
//! INT64_MAX/INT64_MIN in V4). Skips (prints a line and passes) when the file is absent, and
//! fails instead under `CI=true`.

use emengine::config::ClusterConfig;
use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord, SentinelKind};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emengine::types::{DbRootId, Lbid, Oid};
use emfixtures::{generate, GenOptions, Scenario};

mod real_support;

const REAL: &str = "BRM_saves_em.v4-syscat";

#[test]
fn a_fresh_generation_a_catalog_rebuilds_to_the_real_v4_map_byte_for_byte() {
    let Some((_, real)) = real_support::real_bytes(REAL) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed: 1,
        logical_bytes: 1 << 20,
        scenario: Scenario::FreshCatalog,
        threads: Some(1),
    };
    generate(&tree, &opts, &NoProgress).unwrap();
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
    let r = rebuild(
        &RebuildOptions {
            dbroots: cfg.dbroots,
            ..RebuildOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.report.refusals().count(), 0, "{:?}", r.report.findings);
    assert_eq!(r.map.extents.len(), 41);
    // Everything — LBIDs, widths, HWMs, every CP state and sentinel, the free list — as the
    // real file holds it; a rebuild blind to the era would write the 33 column extents'
    // states, or the token columns' and CHAR(1)'s pairs, or the dictionaries' V4 pairs,
    // differently.
    let rebuilt = r.map.encode(EmVersion::V4);
    for (i, (a, b)) in rebuilt.chunks(64).zip(real.chunks(64)).enumerate() {
        assert_eq!(a, b, "64-byte line {i} of the file");
    }
    assert_eq!(rebuilt, real);
    // The generator's ground truth, an independent model of the same rule, agrees.
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    assert_eq!(truth.encode(EmVersion::V4), real);
}

#[test]
fn v4_dictionary_records_carry_the_int64_sentinel_pair() {
    // EM §6.2: record 1 of the real file, OID 2001, bytes 0x4c..0x8b: hi_val at record offset
    // 40 = INT64_MIN, lo_val at 48 = INT64_MAX, sequenceNum 0, isValid 0 (CP_INVALID).
    let literal: [u8; 21] = [
        0, 0, 0, 0, 0, 0, 0, 0x80, // hi_val INT64_MIN
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, // lo_val INT64_MAX
        0, 0, 0, 0, // sequenceNum
        0, // isValid
    ];
    let rec = ExtentRecord {
        range_start: Lbid(8192),
        range_size: 8,
        oid: Oid(2001),
        block_offset: 0,
        hwm: 0,
        partition: 0,
        segment: 0,
        dbroot: DbRootId(1),
        col_width: 0,
        status: 0,
        cp: CasualPartition::sentinel(SentinelKind::Dictionary, CpState::INVALID),
    };
    let v4 = rec.encode_v4();
    assert_eq!(&v4[40..61], &literal);
    // The V5 record keeps the 128-bit sentinels (EM §2.2), whose low halves are −1 and 0.
    assert_eq!((rec.cp.lo_i64(), rec.cp.hi_i64()), (-1, 0));
    if let Some((_, real)) = real_support::real_bytes(REAL) {
        let at = 12 + 64;
        assert_eq!(&real[at..at + 64], &v4[..]);
    }
}
