//! Issue 8, item 9, on a real cpimport-upgraded v2 column file (scenario `upgraded-v2-column`).
//! A column file created by an old release (v2 header, no LBIDs) got its second extent loaded
//! by a 6.1+ cpimport. That job rewrote the header as v3 with the loaded extent's LBID at index
//! 0 (`we_colbufcompressed.cpp:552-572`, SEG §3.9): extent 1's LBID, while extent 0's is recorded
//! nowhere. The same header is left by an extent added by DML, where index 0 is extent 0's, so
//! the rebuild cannot tell which extent the LBID belongs to. It keeps it for extent 0, re-assigns
//! extent 1, and names both extents in the report. Everything else in the tree must come back
//! exactly.
//!
//! Expected values come from the generator's ground truth (`BRM_saves_em`, manifest) and from the
//! header bytes on disk (SEG §3.3 offsets), never from the engine.

use emengine::config::ClusterConfig;
use emengine::em::{ExtentMap, ExtentRecord};
use emengine::finding::{Fact, ReassignReason, UncertainCause};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emengine::types::{DbRootId, ExtentAddress, Oid, FIRST_USER_OID};
use emfixtures::manifest::{FileManifest, UnrecordedLbid};
use emfixtures::{generate, GenOptions, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn address(f: &FileManifest, block_offset: u32) -> ExtentAddress {
    ExtentAddress {
        oid: Oid(f.oid),
        dbroot: DbRootId(f.dbroot),
        partition: f.partition,
        segment: f.segment,
        block_offset,
    }
}

/// Where an extent is and what it spans.
fn placement(e: &ExtentRecord) -> (i64, u32, u32, u16, i16) {
    (e.range_start.0, e.range_size, e.hwm, e.col_width, e.status)
}

/// CP state and range. The sequence number is in no data file (the rebuild writes 0; the
/// manifest names it as a difference, checked by `rebuild_scenarios.rs`).
fn cp(e: &ExtentRecord) -> (i8, i128, i128) {
    (e.cp.state, e.cp.lo, e.cp.hi)
}

/// Version, LBID count and the first two LBID array entries of a compressed header, read at
/// their SEG §3.3 offsets (8, 56, 64, 72).
fn raw_header(path: &Path) -> (u64, u64, i64, i64) {
    let b = std::fs::read(path).unwrap();
    let u = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    (u(8), u(56), u(64) as i64, u(72) as i64)
}

#[test]
fn a_v2_column_file_cpimport_upgraded_in_its_second_extent_is_reported_and_the_rest_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed: 5,
        logical_bytes: 1 << 20,
        scenario: Scenario::UpgradedV2Column,
        threads: Some(2),
    };
    let m = generate(&tree, &opts, &NoProgress).unwrap();
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();

    // The generator's history: the files whose extent 0 has no recorded LBID because of the
    // upgrade (both columns of legacy.meters_2014, segment 0).
    let upgraded: Vec<&FileManifest> = m
        .files
        .iter()
        .filter(|f| {
            f.extents
                .iter()
                .any(|x| x.lbid_unrecorded == Some(UnrecordedLbid::UpgradedHeader))
        })
        .collect();
    assert_eq!(upgraded.len(), 2, "both columns of legacy.meters_2014");
    let hole = m.lbid_holes.iter().map(|h| h.start).min().unwrap();
    for f in &upgraded {
        assert_eq!((f.table.as_str(), f.segment), ("legacy.meters_2014", 0));
        let [e0, e1] = &f.extents[..] else {
            panic!("{}: {} extents", f.path, f.extents.len())
        };
        // On disk: a v3 header with one LBID, extent 1's (SEG §3.9).
        assert_eq!(
            raw_header(&tree.join(&f.path)),
            (3, 1, e1.lbid, 0),
            "{}",
            f.path
        );
        // Each shortcut is wrong for the true extent 0: index 0, first fit (the dropped table's
        // hole lies below it), and "extent 1 − its size" (another table's extents lie between).
        assert_ne!(e0.lbid, e1.lbid);
        assert!(hole < e0.lbid, "{:?}", m.lbid_holes);
        assert_ne!(e0.lbid, e1.lbid - e1.blocks as i64);
    }

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
    let got: BTreeMap<ExtentAddress, &ExtentRecord> =
        r.map.extents.iter().map(|e| (e.address(), e)).collect();
    assert_eq!(got.len(), truth.extents.len());

    // Every other extent as the manifest predicts it: at its true LBID, or — where no file
    // records it (v2 headers) — where first fit over the recorded extents puts it; HWM, width,
    // status and (for user extents) CP exactly as in the ground truth.
    let special: BTreeSet<(i32, u32, u16)> = upgraded
        .iter()
        .map(|f| (f.oid, f.partition, f.segment))
        .collect();
    let in_special = |a: &ExtentAddress| special.contains(&(a.oid.0, a.partition, a.segment));
    let first_fit: BTreeMap<ExtentAddress, i64> = m
        .expected_rebuild
        .reassigned
        .iter()
        .filter(|x| !x.from_tokens && !special.contains(&(x.oid, x.partition, x.segment)))
        .map(|x| {
            let a = ExtentAddress {
                oid: Oid(x.oid),
                dbroot: DbRootId(x.dbroot),
                partition: x.partition,
                segment: x.segment,
                block_offset: x.block_offset,
            };
            (a, x.first_fit_lbid)
        })
        .collect();
    assert_eq!(first_fit.len(), 4, "segments 1 and 2 of both columns (v2)");
    for t in truth.extents.iter().filter(|e| !in_special(&e.address())) {
        let mut want = *t;
        if let Some(&l) = first_fit.get(&t.address()) {
            want.range_start = emengine::types::Lbid(l);
        }
        let g = got[&t.address()];
        assert_eq!(placement(g), placement(&want), "{}", t.address());
        // Catalog CP: named differences of the era rules, checked by `rebuild_scenarios.rs`.
        if t.oid.0 >= FIRST_USER_OID {
            assert_eq!(cp(g), cp(t), "{}", t.address());
        }
    }

    // The upgraded files: every extent present with its true HWM, status and CP; no range
    // overlaps another; extent 0 keeps the header's LBID and is reported not established,
    // extent 1 is re-assigned for want of a recorded LBID.
    let uncertain: BTreeMap<ExtentAddress, (Fact, UncertainCause)> = r
        .report
        .uncertain()
        .map(|u| (u.extent, (u.fact, u.cause)))
        .collect();
    let reassigned: BTreeMap<ExtentAddress, ReassignReason> = r
        .report
        .reassigned()
        .map(|x| (x.extent, x.reason))
        .collect();
    let mut named = BTreeSet::new();
    for f in &upgraded {
        for x in &f.extents {
            let a = address(f, x.block_offset);
            let t = truth.extents.iter().find(|e| e.address() == a).unwrap();
            let g = got[&a];
            assert_eq!(
                (g.range_size, g.hwm, g.col_width, g.status, cp(g)),
                (t.range_size, t.hwm, t.col_width, t.status, cp(t)),
                "{a}"
            );
            named.insert(a);
        }
        let e0 = address(f, 0);
        let e1 = address(f, f.extents[1].block_offset);
        assert_eq!(
            uncertain.get(&e0),
            Some(&(Fact::Lbid, UncertainCause::HeaderIndexZeroAmbiguous)),
            "{}",
            f.path
        );
        assert_eq!(got[&e0].range_start.0, f.header_lbids[0], "{}", f.path);
        // What the report warns of: here the header's LBID is extent 1's, not extent 0's.
        assert_ne!(got[&e0].range_start.0, f.extents[0].lbid, "{}", f.path);
        assert!(
            matches!(
                reassigned.get(&e1),
                Some(
                    ReassignReason::HeaderLbidMissing { extent: 1 }
                        | ReassignReason::HeaderLbidZero { extent: 1 }
                )
            ),
            "{}: {:?}",
            f.path,
            reassigned.get(&e1)
        );
    }
    // The ambiguity is reported for exactly these files, and nothing else is uncertain.
    assert_eq!(
        uncertain.keys().copied().collect::<BTreeSet<_>>(),
        upgraded.iter().map(|f| address(f, 0)).collect(),
    );
    assert!(reassigned
        .keys()
        .all(|a| first_fit.contains_key(a) || named.contains(a)));

    // No two rebuilt ranges overlap.
    let mut ranges: Vec<(i64, i64)> = r
        .map
        .extents
        .iter()
        .map(|e| (e.range_start.0, e.range_start.0 + e.blocks() as i64))
        .collect();
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "{:?} overlaps {:?}", w[0], w[1]);
    }
}
