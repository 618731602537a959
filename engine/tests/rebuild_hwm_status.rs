//! Issue 8, items 4 and 8 and `--reference`, on the `hwm-status` scenario: HWMs reconciled per
//! table (FastDelete and plain DELETE of the last rows, a truncated column file), extent status
//! (in no data file), and a reference map that supplies what the data cannot settle and is
//! reported where it contradicts the data.
//!
//! Expected values come from the generator: its ground-truth map (what ColumnStore holds) and its
//! manifest's history (loads and DELETEs, per table), never from the rebuild.

use emengine::config::ClusterConfig;
use emengine::em::{ExtentMap, ExtentRecord};
use emengine::finding::{Accept, Conflict, Evidence, Fact, Finding, RefusalReason, Strength};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::types::{ExtentAddress, Lbid, Oid};
use emfixtures::manifest::{FileManifest, TableManifest};
use emfixtures::rows::DeleteWay;
use emfixtures::{generate, GenOptions, Manifest, Scenario};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    m: Manifest,
    truth: ExtentMap,
}

fn tree(seed: u64) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    let opts = GenOptions {
        seed,
        logical_bytes: 1 << 20,
        scenario: Scenario::HwmStatus,
        threads: Some(2),
    };
    let m = generate(&root, &opts, &NoProgress).unwrap();
    let truth = ExtentMap::read(&root.join(&m.extent_map)).unwrap();
    Tree {
        _dir: dir,
        root,
        m,
        truth,
    }
}

fn run(root: &Path, accept: Accept, reference: Option<ExtentMap>) -> Rebuilt {
    let cfg = ClusterConfig::read(&root.join("Columnstore.xml")).unwrap();
    let opts = RebuildOptions {
        dbroots: cfg.dbroots,
        accept,
        reference,
        ..RebuildOptions::default()
    };
    rebuild(&opts, &NoProgress).unwrap()
}

fn table<'a>(m: &'a Manifest, name: &str) -> &'a TableManifest {
    m.tables.iter().find(|t| t.name == name).unwrap()
}

/// The table's files (columns and AUX), from the manifest.
fn files<'a>(m: &'a Manifest, name: &str) -> Vec<&'a FileManifest> {
    let q = format!("hwm.{name}");
    let v: Vec<_> = m.files.iter().filter(|f| f.table == q).collect();
    assert_eq!(v.len(), 4, "3 columns and AUX of {q}");
    v
}

/// The last extent (the one carrying the HWM) of a file in `map`.
fn last_extent<'a>(map: &'a ExtentMap, f: &FileManifest) -> &'a ExtentRecord {
    map.extents
        .iter()
        .filter(|e| {
            e.oid == Oid(f.oid)
                && e.partition == f.partition
                && e.segment == f.segment
                && e.dbroot.0 == f.dbroot
        })
        .max_by_key(|e| e.block_offset)
        .unwrap()
}

/// The block of row `row` in a column of `width` bytes (SEG §2.3: 8192-byte blocks).
fn block_of(row: u64, width: u16) -> u32 {
    (row * u64::from(width) / 8192) as u32
}

/// cpimport's check (`we_tableinfo.cpp:72-90`, `2000-2144`): equal widths, equal HWMs; a wider
/// column's HWM within one narrow block scaled up.
fn cpimport_accepts(hwms: &[(u16, u32)]) -> bool {
    hwms.iter().all(|&(wa, ha)| {
        hwms.iter().all(|&(wb, hb)| {
            if wa == wb {
                ha == hb
            } else if wa < wb {
                let mult = u32::from(wb / wa);
                hb >= ha * mult && hb < ha * mult + mult
            } else {
                true
            }
        })
    })
}

#[test]
fn fastdelete_of_the_last_rows_leaves_every_hwm_as_columnstore_has_it() {
    let t = tree(3);
    let r = run(&t.root, Accept::default(), None);
    let tm = table(&t.m, "fast_tail");
    let written_end = tm.loads.last().unwrap().end;
    let d = &tm.deletes[0];
    assert_eq!(
        (d.way, d.end),
        (DeleteWay::Fast, written_end),
        "a FastDelete of the last rows"
    );
    let mut hwms = Vec::new();
    for f in files(&t.m, "fast_tail") {
        let got = last_extent(&r.map, f).hwm;
        let truth = last_extent(&t.truth, f).hwm;
        // ColumnStore's map: the block of the last row ever written, in every column.
        assert_eq!(truth, block_of(written_end - 1, f.width), "{}", f.path);
        assert_eq!(got, truth, "{}: rebuilt HWM", f.path);
        hwms.push((f.width, got));
    }
    assert!(cpimport_accepts(&hwms), "{hwms:?}");
    // AUX's own data ends at the FastDelete: the HWM it got is reported, with its evidence.
    let aux = tm.aux_oid.unwrap();
    let inferred: Vec<_> = r
        .report
        .inferred()
        .filter(|i| i.fact == Fact::Hwm)
        .collect();
    assert_eq!(inferred.len(), 1, "{inferred:?}");
    let i = inferred[0];
    assert_eq!(i.extent.oid, Oid(aux));
    assert_eq!(i.value, i64::from(block_of(written_end - 1, 1)));
    assert_eq!(
        i.evidence,
        Evidence::TableRows {
            table: Oid(tm.table_oid),
            rows: written_end,
            column_rows: d.start,
            columns: 3,
        }
    );
    assert_eq!(i.strength, Strength::Exact);
    assert!(
        block_of(d.start - 1, 1) < i.value as u32,
        "the AUX file alone would give a lower HWM"
    );
    assert_eq!(r.report.blocking_refusals().count(), 0);
}

#[test]
fn plain_delete_of_the_last_rows_lowers_every_hwm_alike() {
    let t = tree(4);
    let r = run(&t.root, Accept::default(), None);
    let tm = table(&t.m, "plain_tail");
    let written_end = tm.loads.last().unwrap().end;
    let d = &tm.deletes[0];
    assert_eq!((d.way, d.end), (DeleteWay::Empty, written_end));
    let mut hwms = Vec::new();
    for f in files(&t.m, "plain_tail") {
        let got = last_extent(&r.map, f).hwm;
        let truth = last_extent(&t.truth, f).hwm;
        // ColumnStore never lowers an HWM on DELETE: the map keeps the last row written.
        assert_eq!(truth, block_of(written_end - 1, f.width), "{}", f.path);
        // The files hold EMPTY from the DELETE's first row on, in every column: the rebuild's
        // HWM is the block of the last live row, the same row in every column.
        assert_eq!(got, block_of(d.start - 1, f.width), "{}", f.path);
        assert!(got < truth, "{}", f.path);
        hwms.push((f.width, got));
    }
    assert!(cpimport_accepts(&hwms), "{hwms:?}");
    // Nothing to report or refuse: every column agrees.
    assert!(r.report.inferred().all(|i| !files(&t.m, "plain_tail")
        .iter()
        .any(|f| f.oid == i.extent.oid.0)));
    assert_eq!(r.report.blocking_refusals().count(), 0);
}

#[test]
fn a_truncated_column_file_is_refused_unless_accepted() {
    let t = tree(5);
    let tm = table(&t.m, "flat");
    let f = files(&t.m, "flat")
        .into_iter()
        .find(|f| f.column.as_deref() == Some("qty"))
        .unwrap();
    assert!(
        !f.compressed,
        "an uncompressed file: its length is its block count"
    );
    // Cut the INT column after 12 blocks (12 × 2048 rows): the table's rows end further on.
    let path = t.root.join(&f.path);
    let keep_rows = 12 * 2048u64;
    let written_end = tm.loads.last().unwrap().end;
    assert!(keep_rows < written_end && keep_rows > tm.loads[0].start);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(12 * 8192)
        .unwrap();

    let r = run(&t.root, Accept::default(), None);
    let refusals: Vec<_> = r.report.blocking_refusals().collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(
        refusals[0].reason,
        RefusalReason::ColumnRowsDisagree {
            table: Oid(tm.table_oid),
            column: Oid(f.oid),
            partition: 0,
            segment: 0,
            table_rows: written_end,
            column_rows: keep_rows,
        }
    );
    assert_eq!(refusals[0].reason.flag(), "--allow-hwm-mismatch");
    assert_eq!(
        refusals[0].extents,
        vec![last_extent(&t.truth, f).address()]
    );

    let accepted = run(
        &t.root,
        Accept {
            hwm_mismatch: true,
            ..Accept::default()
        },
        None,
    );
    assert_eq!(accepted.report.blocking_refusals().count(), 0);
    assert!(accepted.report.refusals().all(|r| r.accepted));
    // Accepted, the short column gets the table's HWM: the HWMs agree as cpimport needs.
    assert_eq!(
        last_extent(&accepted.map, f).hwm,
        block_of(written_end - 1, f.width)
    );
    let hwms: Vec<_> = files(&t.m, "flat")
        .iter()
        .map(|f| (f.width, last_extent(&accepted.map, f).hwm))
        .collect();
    assert!(cpimport_accepts(&hwms), "{hwms:?}");
}

/// Extents whose status is not "available" (0), by address.
fn not_available(map: &ExtentMap) -> BTreeMap<ExtentAddress, i16> {
    map.extents
        .iter()
        .filter(|e| e.status != 0)
        .map(|e| (e.address(), e.status))
        .collect()
}

/// The values of `fact` the rebuild took from the reference, each reported as strong evidence.
fn strong_from_reference(r: &Rebuilt, fact: Fact) -> BTreeMap<ExtentAddress, i64> {
    r.report
        .inferred()
        .filter(|i| i.fact == fact)
        .map(|i| {
            assert_eq!(
                (&i.evidence, i.strength),
                (&Evidence::Reference, Strength::Strong),
                "{i:?}"
            );
            (i.extent, i.value)
        })
        .collect()
}

#[test]
fn status_is_in_no_data_file_and_the_reference_restores_it() {
    let t = tree(6);
    let oos = not_available(&t.truth);
    let archive: Vec<i32> = files(&t.m, "archive").iter().map(|f| f.oid).collect();
    assert_eq!(
        oos.len(),
        4,
        "partition 0 of hwm.archive: 3 columns and AUX"
    );
    assert!(oos.keys().all(|a| archive.contains(&a.oid.0)));
    assert!(oos.values().all(|&s| s == 2));

    let r = run(&t.root, Accept::default(), None);
    let notes: Vec<_> = r
        .report
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::StatusNotInData { .. }))
        .collect();
    assert_eq!(notes, vec![&Finding::StatusNotInData { from_reference: 0 }]);
    assert!(r.map.extents.iter().all(|e| e.status == 0));

    let r = run(&t.root, Accept::default(), Some(t.truth.clone()));
    assert_eq!(not_available(&r.map), oos);
    let from_ref = strong_from_reference(&r, Fact::Status);
    assert_eq!(
        from_ref,
        oos.iter().map(|(a, s)| (*a, i64::from(*s))).collect()
    );
    assert!(r
        .report
        .findings
        .contains(&Finding::StatusNotInData { from_reference: 4 }));
}

#[test]
fn the_reference_supplies_lbids_the_data_cannot_settle() {
    let t = tree(7);
    let flat: BTreeMap<i32, (i64, i64)> =
        t.m.expected_rebuild
            .reassigned
            .iter()
            .map(|x| (x.oid, (x.lbid, x.first_fit_lbid)))
            .collect();
    assert_eq!(flat.len(), 3, "hwm.flat's three uncompressed files");
    assert!(
        flat.values().all(|(l, ff)| l != ff),
        "first fit is wrong for every one of them (the dropped table's hole): {flat:?}"
    );

    let alone = run(&t.root, Accept::default(), None);
    for (oid, (_, ff)) in &flat {
        let e = alone.map.extents.iter().find(|e| e.oid.0 == *oid).unwrap();
        assert_eq!(e.range_start, Lbid(*ff), "without a reference: first fit");
    }

    let r = run(&t.root, Accept::default(), Some(t.truth.clone()));
    assert_eq!(r.report.reassigned().count(), 0);
    for (oid, (lbid, _)) in &flat {
        let e = r.map.extents.iter().find(|e| e.oid.0 == *oid).unwrap();
        assert_eq!(
            e.range_start,
            Lbid(*lbid),
            "oid {oid}: the reference's LBID"
        );
    }
    let lbids: BTreeMap<i32, i64> = strong_from_reference(&r, Fact::Lbid)
        .into_iter()
        .map(|(a, v)| (a.oid.0, v))
        .collect();
    assert_eq!(lbids, flat.iter().map(|(o, (l, _))| (*o, *l)).collect());
    // With the ground truth as reference, only what the data decides differently remains:
    // min/max the rebuild computed where DML left CP invalid, and the plain DELETE's HWMs.
    let plain: Vec<i32> = files(&t.m, "plain_tail").iter().map(|f| f.oid).collect();
    let d = emengine::em::diff::diff(&t.truth, &r.map);
    assert_eq!(
        (d.a_extents, d.b_extents),
        (t.truth.extents.len(), t.truth.extents.len())
    );
    assert!(d.only_in_a.is_empty() && d.only_in_b.is_empty());
    for c in &d.changed {
        for f in &c.fields {
            let ok = matches!(f.field, "cp" | "lo" | "hi")
                || (f.field == "hwm" && plain.contains(&c.key.oid.0));
            assert!(ok, "{}: {} {} → {}", c.key, f.field, f.a, f.b);
        }
    }
    assert!(r
        .report
        .findings
        .iter()
        .all(|f| !matches!(f, Finding::ReferenceContradicted(_))));
}

#[test]
fn a_stale_reference_is_reported_where_the_data_contradicts_it() {
    let t = tree(8);
    let find = |oid: i32| t.truth.extents.iter().position(|e| e.oid.0 == oid).unwrap();
    let fast_id = files(&t.m, "fast_tail")
        .into_iter()
        .find(|f| f.column.as_deref() == Some("id"))
        .unwrap()
        .oid;
    let flat_qty = files(&t.m, "flat")
        .into_iter()
        .find(|f| f.column.as_deref() == Some("qty"))
        .unwrap()
        .oid;
    let free = t
        .truth
        .extents
        .iter()
        .map(|e| e.last_lbid().0)
        .max()
        .unwrap()
        + 1;
    let free = (free + 1023) / 1024 * 1024 + (1 << 20);
    let mut stale = t.truth.extents.clone();
    // 1. An extent whose LBID its header records, elsewhere in the reference.
    let i = find(fast_id);
    let recorded = stale[i].range_start;
    stale[i].range_start = Lbid(free);
    // 2. An extent no file records, at a range the data gives another extent.
    let j = find(flat_qty);
    stale[j].range_start = recorded;
    // 3. An extent the data does not have (a partition since dropped).
    let mut gone = stale[find(fast_id)];
    gone.partition = 1;
    gone.range_start = Lbid(free + (1 << 20));
    stale.push(gone);
    let reference = ExtentMap::from_extents(stale);

    let r = run(&t.root, Accept::default(), Some(reference));
    let conflicts: Vec<_> = r
        .report
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::ReferenceContradicted(c) => Some((c.extent.oid.0, c.conflict.clone())),
            _ => None,
        })
        .collect();
    let fast_addr = t.truth.extents[i].address();
    assert_eq!(
        conflicts,
        vec![
            (
                flat_qty,
                Conflict::RangeOverlaps {
                    reference: recorded,
                    other: fast_addr
                }
            ),
            (
                fast_id,
                Conflict::LbidDisproved {
                    reference: Lbid(free),
                    data: recorded
                }
            ),
            (
                fast_id,
                Conflict::NotInData {
                    reference: Lbid(free + (1 << 20))
                }
            ),
        ],
        "sorted by extent address"
    );
    // The data wins: the header's LBID stays, the overlapping one goes to first fit.
    let got = |oid: i32| r.map.extents.iter().find(|e| e.oid.0 == oid).unwrap();
    assert_eq!(got(fast_id).range_start, recorded);
    assert_ne!(got(flat_qty).range_start, recorded);
    assert!(r.report.reassigned().any(|x| x.extent.oid.0 == flat_qty));
    assert!(r.map.extents.iter().all(|e| e.partition == 0));
    // What the stale reference still supplies is weak evidence.
    let from_ref: Vec<_> = r
        .report
        .inferred()
        .filter(|i| i.evidence == Evidence::Reference)
        .collect();
    assert!(!from_ref.is_empty());
    assert!(from_ref.iter().all(|i| i.strength == Strength::Weak));
}

#[test]
fn files_no_table_lists_keep_their_own_hwm_and_the_report_says_so() {
    let t = tree(9);
    // An empty SYSCOLUMN `schema` file: no SYSCOLUMN row joins its SYSTABLE row any more, so no
    // table lists a data column (AUX columns are listed in SYSTABLE itself).
    let syscolumn = t.m.catalog.files.iter().find(|c| c.oid == 1021).unwrap();
    std::fs::File::create(t.root.join(&syscolumn.path)).unwrap();
    let r = run(&t.root, Accept::default(), None);
    let data_columns = t.m.files.iter().filter(|f| f.kind == "column").count();
    let notes: Vec<_> = r
        .report
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::HwmNotReconciled { .. }))
        .collect();
    assert_eq!(
        notes,
        vec![&Finding::HwmNotReconciled {
            files: data_columns
        }]
    );
    // hwm.fast_tail's AUX then ends where its own data ends: the FastDelete is not seen.
    let tm = table(&t.m, "fast_tail");
    let aux = files(&t.m, "fast_tail")
        .into_iter()
        .find(|f| f.kind == "aux")
        .unwrap();
    assert_eq!(
        last_extent(&r.map, aux).hwm,
        block_of(tm.deletes[0].start - 1, 1)
    );
    assert_eq!(
        r.report.inferred().filter(|i| i.fact == Fact::Hwm).count(),
        0
    );
}
