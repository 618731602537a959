//! The generator's scenarios of the hard dictionary cases (issue 8): each tree rebuilds to the
//! ground truth extent by extent, or is refused as the code promises.
//!
//! Expected values come from the generator's model (its `BRM_saves_em` and manifest, built by
//! replaying the history through its own first-fit allocator and writing the headers as the
//! cited ColumnStore code does), never from the engine. Each scenario places the extents whose
//! LBID no header settles above a hole and away from their neighbours, so first fit and
//! "previous extent + 8192" are both wrong for them.

use emengine::config::ClusterConfig;
use emengine::em::{ExtentMap, ExtentRecord};
use emengine::finding::{Accept, Evidence, Fact, ReassignReason, RefusalReason, Strength};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::types::ExtentAddress;
use emfixtures::manifest::FileManifest;
use emfixtures::{generate, GenOptions, Manifest, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn gen(scenario: Scenario, seed: u64) -> (tempfile::TempDir, PathBuf, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed,
        logical_bytes: 1 << 20,
        scenario,
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

/// What a rebuild must reproduce of an extent: where it is and what it spans.
fn placement(e: &ExtentRecord) -> (i64, u32, u32, u16, i16) {
    (e.range_start.0, e.range_size, e.hwm, e.col_width, e.status)
}

/// The rebuilt map holds exactly the ground truth's extents, at the same LBIDs, sizes, HWMs —
/// except the column extents no file records and nothing points into, which take the range
/// the manifest's first fit over the recorded extents gives them.
fn assert_exact(tree: &Path, m: &Manifest, got: &ExtentMap) {
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    let first_fit = m.first_fit_lbids();
    let want: BTreeMap<ExtentAddress, _> = truth
        .extents
        .iter()
        .map(|e| {
            let mut p = placement(e);
            if let Some(&l) = first_fit.get(&e.address()) {
                p.0 = l;
            }
            (e.address(), p)
        })
        .collect();
    let have: BTreeMap<ExtentAddress, _> = got
        .extents
        .iter()
        .map(|e| (e.address(), placement(e)))
        .collect();
    for (a, w) in &want {
        assert_eq!(have.get(a), Some(w), "{a}");
    }
    assert_eq!(
        have.len(),
        want.len(),
        "extents the ground truth does not have"
    );
}

fn dictionary<'a>(m: &'a Manifest, table: &str) -> &'a FileManifest {
    m.files
        .iter()
        .find(|f| f.kind == "dictionary" && f.table == table)
        .unwrap_or_else(|| panic!("no dictionary of {table}"))
}

fn address(f: &FileManifest, block_offset: u32) -> ExtentAddress {
    ExtentAddress {
        oid: emengine::types::Oid(f.oid),
        dbroot: emengine::types::DbRootId(f.dbroot),
        partition: f.partition,
        segment: f.segment,
        block_offset,
    }
}

/// The LBID inferences the manifest calls for: every dictionary extent tokens point into whose
/// LBID its header does not give at its index — unrecorded, or (an array filled out of step)
/// another extent's — at its true LBID; `Some(h)` when the header's entry `h` must be set aside.
fn expected_inferences(m: &Manifest) -> BTreeMap<ExtentAddress, (i64, Option<i64>)> {
    let mut out = BTreeMap::new();
    for f in m.files.iter().filter(|f| f.kind == "dictionary") {
        for (k, x) in f.extents.iter().enumerate() {
            let at_index = f.header_lbids.get(k).copied();
            if x.tokens_point_here && at_index != Some(x.lbid) {
                out.insert(
                    address(f, x.block_offset),
                    (x.lbid, at_index.filter(|&h| h != x.lbid)),
                );
            }
        }
    }
    out
}

/// The rebuild's LBID inferences: all exact, and exactly the expected ones.
fn assert_inferences(m: &Manifest, r: &Rebuilt) {
    let got: BTreeMap<ExtentAddress, (i64, Option<i64>)> = r
        .report
        .inferred()
        .filter(|i| i.fact == Fact::Lbid)
        .map(|i| {
            assert_eq!(i.strength, Strength::Exact, "{i:?}");
            let set_aside = match i.evidence {
                Evidence::TokensOverHeader {
                    header_lbid,
                    contradicting: 0,
                    ..
                } => Some(header_lbid.0),
                Evidence::Tokens {
                    contradicting: 0, ..
                } => None,
                ref e => panic!("unexpected evidence {e:?}"),
            };
            (i.extent, (i.value, set_aside))
        })
        .collect();
    assert_eq!(got, expected_inferences(m));
}

/// The raw LBID count and array of a control header (SEG §3.2: bytes 56 and 64), whatever its
/// version says.
fn raw_lbid_array(path: &Path) -> (u64, Vec<i64>) {
    let b = std::fs::read(path).unwrap();
    let u = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let n = u(56);
    (n, (0..n as usize).map(|i| u(64 + 8 * i) as i64).collect())
}

/// A hole of at least a dictionary extent lies below every one of `lbids`: first fit would put
/// the first of them there.
fn hole_below(m: &Manifest, lbids: &[i64]) -> bool {
    let lowest = lbids.iter().min().unwrap();
    m.lbid_holes
        .iter()
        .any(|h| h.start < *lowest && h.blocks >= 8192)
}

#[test]
fn dictionaries_beyond_the_header_lbid_array_rebuild_from_their_tokens() {
    let (_dir, tree, m) = gen(Scenario::DictionaryManyExtents, 5);
    // 22.08+: 48 LBIDs in the header, extents 48 and 49 only in the tokens.
    let big = dictionary(&m, "docs.archive");
    let lbids: Vec<i64> = big.extents.iter().map(|x| x.lbid).collect();
    assert_eq!(lbids.len(), 50);
    assert_eq!(big.header_lbids, lbids[..48]);
    // 6.1–6.4.6: 10 LBIDs (extent 10's dropped); after the upgrade extent 11's went to index 10.
    let old = dictionary(&m, "docs.archive_64");
    let old_lbids: Vec<i64> = old.extents.iter().map(|x| x.lbid).collect();
    assert_eq!(old_lbids.len(), 12);
    assert_eq!(old.header_lbids[..10], old_lbids[..10]);
    assert_eq!(old.header_lbids[10..], [old_lbids[11]]);
    // Neither "previous + 8192" nor first fit finds the late extents.
    for l in [&lbids[47..], &old_lbids[10..]] {
        assert!(l.windows(2).all(|w| w[1] != w[0] + 8192), "{l:?}");
        assert!(hole_below(&m, l), "{:?}", m.lbid_holes);
    }

    let r = rebuild_with(&tree, false, Accept::default());
    assert_eq!(r.report.refusals().count(), 0, "{:?}", r.report.findings);
    assert_exact(&tree, &m, &r.map);
    assert_inferences(&m, &r);
    assert_eq!(
        expected_inferences(&m).len(),
        4,
        "extents 48–49, and 10–11 of the 6.4 file"
    );
}

#[test]
fn dictionary_extents_added_by_insert_rebuild_exactly() {
    let (_dir, tree, m) = gen(Scenario::DmlDictionaryExtents, 6);
    use emfixtures::plan::Creator;
    // v3: the INSERT-created extents are in the header (appended like cpimport's).
    let notes = dictionary(&m, "crm.notes");
    let created: Vec<Creator> = notes.extents.iter().map(|x| x.created_by).collect();
    assert_eq!(created, [Creator::Ddl, Creator::Dml, Creator::Dml]);
    let lbids: Vec<i64> = notes.extents.iter().map(|x| x.lbid).collect();
    assert_eq!(notes.header_lbids, lbids);
    assert!(hole_below(&m, &lbids[1..]), "{:?}", m.lbid_holes);
    // v2: version 2 kept, the array holding extents 1 and 2 at indexes 0 and 1.
    let old = dictionary(&m, "crm.notes_2019");
    assert_eq!(old.header_version, Some(2));
    let old_lbids: Vec<i64> = old.extents.iter().map(|x| x.lbid).collect();
    assert_eq!(old_lbids.len(), 3);
    assert_eq!(
        raw_lbid_array(&tree.join(&old.path)),
        (2, old_lbids[1..].to_vec())
    );
    assert!(hole_below(&m, &old_lbids), "{:?}", m.lbid_holes);

    let r = rebuild_with(&tree, false, Accept::default());
    assert_eq!(r.report.refusals().count(), 0, "{:?}", r.report.findings);
    assert_exact(&tree, &m, &r.map);
    assert_inferences(&m, &r);
    // Only the v2 dictionary's extents are inferred; the v3 one's come from its header.
    let inferred: BTreeSet<i32> = expected_inferences(&m).keys().map(|a| a.oid.0).collect();
    assert_eq!(inferred, BTreeSet::from([old.oid]));
    assert!(r.report.reassigned().all(|x| x.extent.oid.0 != notes.oid));
}

#[test]
fn a_v2_dictionary_header_a_newer_cpimport_filled_is_not_trusted() {
    let (_dir, tree, m) = gen(Scenario::UpgradedV2Dictionary, 7);
    let d = dictionary(&m, "acct.journal_2015");
    assert_eq!(d.header_version, Some(2));
    let lbids: Vec<i64> = d.extents.iter().map(|x| x.lbid).collect();
    assert_eq!(lbids.len(), 3);
    // SEG §3.9: index 0 holds the second extent's LBID.
    assert_eq!(
        raw_lbid_array(&tree.join(&d.path)),
        (2, lbids[1..].to_vec())
    );
    assert!(hole_below(&m, &lbids), "{:?}", m.lbid_holes);
    // The column files the job loaded became v3, recording their one extent.
    let columns: Vec<&FileManifest> = m
        .files
        .iter()
        .filter(|f| f.table == "acct.journal_2015" && f.kind != "dictionary")
        .collect();
    assert_eq!(columns.len(), 2);
    for f in columns {
        assert_eq!(f.header_version, Some(3), "{}", f.path);
        assert_eq!(f.header_lbids, [f.extents[0].lbid], "{}", f.path);
    }

    let r = rebuild_with(&tree, false, Accept::default());
    assert_eq!(r.report.refusals().count(), 0, "{:?}", r.report.findings);
    assert_exact(&tree, &m, &r.map);
    assert_inferences(&m, &r);
    assert_eq!(expected_inferences(&m).len(), 3);
}

#[test]
fn files_of_a_dropped_table_are_left_out_or_kept_as_promised() {
    let (_dir, tree, m) = gen(Scenario::Orphans, 8);
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    let live_at: BTreeMap<i64, ExtentAddress> = truth
        .extents
        .iter()
        .map(|e| (e.range_start.0, e.address()))
        .collect();
    let orphan_oids: BTreeSet<i32> = m.orphan_files.iter().map(|f| f.oid).collect();
    assert_eq!(m.orphan_files.len(), 4, "id, body tokens, AUX, dictionary");
    // Every orphan's first extent claims a live extent's range; the dictionary's second is free.
    for f in &m.orphan_files {
        assert_eq!(f.header_lbids, f.lbids, "{}", f.path);
        assert!(live_at.contains_key(&f.lbids[0]), "{}", f.path);
    }
    let old_dict = m
        .orphan_files
        .iter()
        .find(|f| f.kind == "dictionary")
        .unwrap();
    assert_eq!(old_dict.lbids.len(), 2);
    assert!(!live_at.contains_key(&old_dict.lbids[1]));
    let live_dict = dictionary(&m, "crm.notes");
    assert_eq!(old_dict.lbids[0], live_dict.extents[0].lbid);
    // "The lower OID wins" would hand the ranges to the orphans.
    assert!(orphan_oids.iter().all(|&o| o < live_dict.oid));

    // Default: reported, left out, the map exact.
    let r = rebuild_with(&tree, false, Accept::default());
    let reported: BTreeSet<PathBuf> = r.report.orphans().map(|o| o.path.clone()).collect();
    let want: BTreeSet<PathBuf> = m.orphan_files.iter().map(|f| tree.join(&f.path)).collect();
    assert_eq!(reported, want);
    assert!(r.report.orphans().all(|o| !o.kept));
    assert_eq!(r.report.refusals().count(), 0, "{:?}", r.report.findings);
    assert_exact(&tree, &m, &r.map);

    // Kept: the dictionary conflict is decided by the live column's tokens; the others (no
    // token points into a column range) are refused, naming --allow-lbid-conflict.
    let r = rebuild_with(&tree, true, Accept::default());
    assert!(r.report.orphans().all(|o| o.kept));
    let conflicts: BTreeSet<i64> = m
        .orphan_files
        .iter()
        .filter(|f| f.kind != "dictionary")
        .map(|f| f.lbids[0])
        .collect();
    let refused: BTreeSet<i64> = r
        .report
        .blocking_refusals()
        .map(|x| {
            assert_eq!(x.reason.flag(), "--allow-lbid-conflict");
            // The orphan and the live file claiming the range, the orphan (lower OID) first.
            let oids: Vec<i32> = x.extents.iter().map(|e| e.oid.0).collect();
            assert!(
                matches!(oids[..], [o, l] if orphan_oids.contains(&o) && !orphan_oids.contains(&l)),
                "{oids:?}"
            );
            match &x.reason {
                RefusalReason::LbidConflict { lbid } => lbid.0,
                other => panic!("unexpected refusal {other:?}"),
            }
        })
        .collect();
    assert_eq!(refused, conflicts);
    let decided: Vec<(ExtentAddress, i64, Strength)> = r
        .report
        .inferred()
        .filter(|i| i.fact == Fact::Lbid)
        .map(|i| (i.extent, i.value, i.strength))
        .collect();
    assert_eq!(
        decided,
        [(
            address(live_dict, 0),
            live_dict.extents[0].lbid,
            Strength::Exact
        )]
    );
    let lost: Vec<ReassignReason> = r
        .report
        .reassigned()
        .filter(|x| x.extent.oid.0 == old_dict.oid)
        .map(|x| x.reason)
        .collect();
    assert!(
        matches!(lost[..], [ReassignReason::HeaderLbidLostConflict { header_lbid }] if header_lbid.0 == old_dict.lbids[0]),
        "{lost:?}"
    );

    // Accepted: written; the live dictionary keeps its range, the refusals stay in the report.
    let accept = Accept {
        lbid_conflict: true,
        ..Accept::default()
    };
    let r = rebuild_with(&tree, true, accept);
    assert_eq!(r.report.blocking_refusals().count(), 0);
    assert_eq!(r.report.refusals().count(), conflicts.len());
    let at = |a: ExtentAddress| {
        r.map
            .extents
            .iter()
            .find(|e| e.address() == a)
            .map(|e| e.range_start.0)
    };
    assert_eq!(at(address(live_dict, 0)), Some(live_dict.extents[0].lbid));
    // The other conflicts are written in LBID-claim order (lower OID first, the README's
    // promise for --allow-lbid-conflict): each live extent an orphan claims moves.
    let moved: BTreeSet<i64> = r
        .report
        .reassigned()
        .filter(|x| !orphan_oids.contains(&x.extent.oid.0))
        .map(|x| match x.reason {
            ReassignReason::HeaderLbidOverlaps { .. } => truth
                .extents
                .iter()
                .find(|e| e.address() == x.extent)
                .map(|e| e.range_start.0)
                .unwrap(),
            other => panic!("{}: {other:?}", x.extent),
        })
        .collect();
    assert_eq!(moved, conflicts);
    // The orphan dictionary's second extent keeps its free range.
    let old_second = ExtentAddress {
        oid: emengine::types::Oid(old_dict.oid),
        dbroot: emengine::types::DbRootId(old_dict.dbroot),
        partition: old_dict.partition,
        segment: old_dict.segment,
        block_offset: 8192,
    };
    assert_eq!(at(old_second), Some(old_dict.lbids[1]));
}
