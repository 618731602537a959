//! Files of OIDs the catalog does not list as live (a dropped table's file copied back, under a
//! dead OID) and LBID ranges two files claim (issue 8, item 2).
//!
//! The trees are generated (`mixed`), then a live file is copied under an OID no catalog row
//! names — its v3 header still records the live file's LBIDs. The ground truth is the
//! generator's `BRM_saves_em`, which knows nothing of the copy: a correct rebuild leaves the
//! copy out (or, when told to keep it, gives it another range and leaves the live extents where
//! the ground truth has them); a rebuild where "the lower OID wins" or first fit decides is
//! wrong whenever the copy's OID sorts first, which is why the copies get a lower OID than any
//! user file.

use emengine::config::ClusterConfig;
use emengine::em::ExtentMap;
use emengine::finding::{Accept, ReassignReason, RefusalReason, Strength};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::seg::path::segment_rel_path;
use emengine::types::{Oid, SegmentId};
use emfixtures::manifest::FileManifest;
use emfixtures::{generate, GenOptions, Manifest, Scenario};
use std::path::{Path, PathBuf};

/// An OID below every user OID (3000 and up) and above every catalog OID: no catalog row names
/// it, and a "lower OID wins" rule would let it win.
const DEAD_OID: i32 = 2999;

fn gen(seed: u64) -> (tempfile::TempDir, PathBuf, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed,
        logical_bytes: 8 << 20,
        scenario: Scenario::Mixed,
        threads: Some(2),
    };
    let m = generate(&tree, &opts, &NoProgress).unwrap();
    (dir, tree, m)
}

fn rebuild_with(tree: &Path, include_orphans: bool, accept: Accept) -> Rebuilt {
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
    let opts = RebuildOptions {
        dbroots: cfg.dbroots,
        include_orphans,
        accept,
        ..RebuildOptions::default()
    };
    rebuild(&opts, &NoProgress).unwrap()
}

/// Copy `f` under [`DEAD_OID`] on its DBRoot; returns the copy's path.
fn copy_under_dead_oid(tree: &Path, f: &FileManifest) -> PathBuf {
    let src = tree.join(&f.path);
    let dbroot = src.ancestors().nth(6).unwrap().to_path_buf();
    let dst = dbroot.join(segment_rel_path(SegmentId {
        oid: Oid(DEAD_OID),
        partition: f.partition,
        segment: f.segment,
    }));
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(&src, &dst).unwrap();
    dst
}

/// A live file of `kind` whose v3 header records its LBIDs.
fn live_v3(m: &Manifest, kind: &str) -> FileManifest {
    m.files
        .iter()
        .find(|f| f.kind == kind && f.header_version == Some(3) && !f.header_lbids.is_empty())
        .unwrap_or_else(|| panic!("no v3 {kind} file in the tree"))
        .clone()
}

/// Every extent of the ground truth is in `got`, with the same LBID unless no file records it
/// (the manifest's first-fit extents; dictionary extents tokens point into are checked).
fn live_extents_where_the_truth_has_them(tree: &Path, m: &Manifest, got: &ExtentMap) {
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    let first_fit: Vec<(i32, u16, u32, u16, u32)> = m
        .expected_rebuild
        .reassigned
        .iter()
        .filter(|r| !r.from_tokens)
        .map(|r| (r.oid, r.dbroot, r.partition, r.segment, r.block_offset))
        .collect();
    for t in &truth.extents {
        let g = got
            .extents
            .iter()
            .find(|e| e.address() == t.address())
            .unwrap_or_else(|| panic!("{} missing from the rebuilt map", t.address()));
        let a = t.address();
        let key = (a.oid.0, a.dbroot.0, a.partition, a.segment, a.block_offset);
        if first_fit.contains(&key) {
            continue;
        }
        assert_eq!(g.range_start, t.range_start, "{}", t.address());
    }
}

#[test]
fn a_dropped_tables_dictionary_copied_under_a_dead_oid_is_left_out() {
    let (_dir, tree, m) = gen(81);
    let live = live_v3(&m, "dictionary");
    let copy = copy_under_dead_oid(&tree, &live);
    let r = rebuild_with(&tree, false, Accept::default());
    let orphans: Vec<_> = r.report.orphans().collect();
    assert_eq!(orphans.len(), 1, "{:?}", r.report.findings);
    assert_eq!(orphans[0].path, copy);
    assert!(!orphans[0].kept);
    assert!(r.map.extents.iter().all(|e| e.oid != Oid(DEAD_OID)));
    assert_eq!(r.report.refusals().count(), 0);
    live_extents_where_the_truth_has_them(&tree, &m, &r.map);
}

#[test]
fn kept_orphan_loses_the_range_the_live_dictionarys_tokens_point_into() {
    let (_dir, tree, m) = gen(82);
    let live = live_v3(&m, "dictionary");
    copy_under_dead_oid(&tree, &live);
    let r = rebuild_with(&tree, true, Accept::default());
    assert!(r.report.orphans().all(|o| o.kept));
    // Both claim the live dictionary's range; the lower OID (the copy) would win by order. The
    // tokens of the live column fit the live dictionary: it keeps the range.
    assert_eq!(r.report.refusals().count(), 0, "{:?}", r.report.findings);
    live_extents_where_the_truth_has_them(&tree, &m, &r.map);
    let lost: Vec<_> = r
        .report
        .reassigned()
        .filter(|x| x.extent.oid == Oid(DEAD_OID))
        .collect();
    assert_eq!(lost.len(), live.header_lbids.len(), "{lost:?}");
    assert!(lost.iter().all(|x| matches!(
        x.reason,
        ReassignReason::HeaderLbidLostConflict { header_lbid } if live.header_lbids.contains(&header_lbid.0)
    )));
    // The decision is reported as an inference from the tokens, about the live extent.
    let decided: Vec<_> = r
        .report
        .inferred()
        .filter(|i| i.fact == emengine::finding::Fact::Lbid)
        .filter(|i| i.extent.oid.0 == live.oid)
        .collect();
    assert_eq!(decided.len(), live.header_lbids.len(), "{decided:?}");
    assert!(decided
        .iter()
        .all(|i| i.strength == Strength::Exact && live.header_lbids.contains(&i.value)));
}

#[test]
fn a_conflict_no_token_decides_is_refused_unless_accepted() {
    let (_dir, tree, m) = gen(83);
    let live = live_v3(&m, "column");
    copy_under_dead_oid(&tree, &live);
    let r = rebuild_with(&tree, true, Accept::default());
    let refusals: Vec<_> = r.report.blocking_refusals().collect();
    assert_eq!(refusals.len(), live.header_lbids.len(), "{refusals:?}");
    for x in &refusals {
        assert!(
            matches!(x.reason, RefusalReason::LbidConflict { lbid } if live.header_lbids.contains(&lbid.0))
        );
        assert_eq!(x.reason.flag(), "--allow-lbid-conflict");
        let oids: Vec<i32> = x.extents.iter().map(|e| e.oid.0).collect();
        assert_eq!(oids, [DEAD_OID, live.oid]);
    }
    // Accepted: written in LBID-claim order (the lower OID keeps the range), and the report
    // keeps the refusal, marked accepted.
    let accept = Accept {
        lbid_conflict: true,
        ..Accept::default()
    };
    let r = rebuild_with(&tree, true, accept);
    assert_eq!(r.report.blocking_refusals().count(), 0);
    assert_eq!(r.report.refusals().count(), live.header_lbids.len());
    assert!(r.report.reassigned().any(|x| x.extent.oid.0 == live.oid
        && matches!(x.reason, ReassignReason::HeaderLbidOverlaps { .. })));
}

#[test]
fn without_readable_catalog_rows_every_file_is_kept_and_the_report_says_so() {
    let (_dir, tree, m) = gen(84);
    let live = live_v3(&m, "dictionary");
    copy_under_dead_oid(&tree, &live);
    // SYSCOLUMN's column-name file cut to a partial block: the rows cannot be read, so no OID
    // is known to be dead; dropping files then could drop live data.
    let syscolumn = m.catalog.files.iter().find(|f| f.oid == 1021).unwrap();
    std::fs::write(tree.join(&syscolumn.path), [0u8; 100]).unwrap();
    let r = rebuild_with(&tree, false, Accept::default());
    assert!(r.report.orphans().next().is_none());
    let not_checked: Vec<usize> = r
        .report
        .findings
        .iter()
        .filter_map(|f| match f {
            emengine::finding::Finding::OrphansNotChecked { files } => Some(*files),
            _ => None,
        })
        .collect();
    // Every user file the rebuild could type (the copy included; files only the rows could
    // type are unresolved without them).
    let typed = m.files.len() + 1 - r.report.unresolved().count();
    assert_eq!(not_checked, [typed], "{:?}", r.report.findings);
    assert!(r.map.extents.iter().any(|e| e.oid == Oid(DEAD_OID)));
}
