//! Verify on generated trees: the untouched ground-truth map is benign; each deliberate change to
//! the map gives the status that change must give, on the changed extent only; a backup taken
//! before the last loads is reported as stale and dangerous.
//!
//! Expected statuses come from how the map was altered (and from the generator's manifest, which
//! says which extents hold values, which LBIDs the headers record), never from the verify code.

use emengine::config::ClusterConfig;
use emengine::em::{CpState, ExtentMap, ExtentRecord};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::seg::file::Access;
use emengine::types::{ExtentAddress, Lbid, Oid};
use emengine::verify::catalog::CatalogView;
use emengine::verify::{compare, Detail, Severity, Status, Verification};
use emfixtures::manifest::{ExtentManifest, FileManifest};
use emfixtures::{generate, generate_before_loads, GenOptions, Manifest, Scenario};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn opts(scenario: Scenario, mib: u64, seed: u64) -> GenOptions {
    GenOptions {
        seed,
        logical_bytes: mib << 20,
        scenario,
        threads: Some(2),
    }
}

/// A generated tree: its folder, manifest, ground-truth map and the scan of its data.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    manifest: Manifest,
    truth: ExtentMap,
    dbroots: BTreeMap<emengine::types::DbRootId, PathBuf>,
    rebuilt: Rebuilt,
    catalog: CatalogView,
}

impl Tree {
    fn new(o: &GenOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        let manifest = generate(&root, o, &NoProgress).unwrap();
        let truth = ExtentMap::read(&root.join("BRM_saves_em")).unwrap();
        let dbroots = ClusterConfig::read(&root.join("Columnstore.xml"))
            .unwrap()
            .dbroots;
        let ro = RebuildOptions {
            dbroots: dbroots.clone(),
            ..RebuildOptions::default()
        };
        let rebuilt = rebuild(&ro, &NoProgress).unwrap();
        let catalog = CatalogView::read(&dbroots, &rebuilt.map, Access::Mmap);
        Tree {
            _dir: dir,
            root,
            manifest,
            truth,
            dbroots,
            rebuilt,
            catalog,
        }
    }

    fn verify(&self, map: &ExtentMap) -> Verification {
        compare(
            map,
            &self.rebuilt,
            &self.catalog,
            &self.dbroots,
            Access::Mmap,
        )
    }
}

fn statuses(v: &Verification) -> BTreeMap<(ExtentAddress, Option<i64>), Status> {
    v.extents
        .iter()
        .map(|e| ((e.address, e.map_lbid), e.status))
        .collect()
}

fn address(f: &FileManifest, e: &ExtentManifest) -> ExtentAddress {
    ExtentAddress {
        oid: Oid(f.oid),
        dbroot: emengine::types::DbRootId(f.dbroot),
        partition: f.partition,
        segment: f.segment,
        block_offset: e.block_offset,
    }
}

fn index_of(map: &ExtentMap, a: ExtentAddress) -> usize {
    map.extents.iter().position(|e| e.address() == a).unwrap()
}

fn at(map: &mut ExtentMap, a: ExtentAddress) -> &mut ExtentRecord {
    let i = index_of(map, a);
    &mut map.extents[i]
}

/// Benign everywhere, except CP the map holds invalid where the data knows it (DML history).
fn assert_untouched_is_safe(t: &Tree, v: &Verification) {
    assert!(v.is_safe(), "{:#?}", worst(v));
    for e in &v.extents {
        let sev = e.status.severity();
        if sev == Severity::Benign {
            continue;
        }
        assert_eq!(e.status, Status::CpInvalid, "{e:?}");
        let rec = &t.truth.extents[index_of(&t.truth, e.address)];
        assert_ne!(rec.cp.cp_state(), CpState::Valid, "{e:?}");
    }
    assert_eq!(v.map_extents, t.truth.extents.len());
}

fn worst(v: &Verification) -> Vec<&emengine::verify::ExtentVerdict> {
    v.extents.iter().take(10).collect()
}

/// A signed narrow column extent with at least two distinct values and a valid range.
fn cp_target(m: &Manifest) -> (ExtentAddress, i64, i64) {
    for f in m
        .files
        .iter()
        .filter(|f| f.kind == "column" && f.width < 16)
    {
        if !["INT", "BIGINT", "SMALLINT", "DATE", "DATETIME"].contains(&f.data_type.as_str()) {
            continue;
        }
        for e in &f.extents {
            let (lo, hi): (i64, i64) = (e.cp_lo.parse().unwrap(), e.cp_hi.parse().unwrap());
            if e.cp_state == CpState::VALID && e.values >= 2 && lo < hi && lo > i64::MIN + 1 {
                return (address(f, e), lo, hi);
            }
        }
    }
    panic!("no CP target in the manifest");
}

/// The last extent of a file whose HWM is above 0 (the extent holding the file's HWM).
fn hwm_target(m: &Manifest) -> ExtentAddress {
    let f = m
        .files
        .iter()
        .find(|f| f.kind == "column" && f.hwm > 10 && f.extents.last().unwrap().hwm == f.hwm)
        .unwrap();
    address(f, f.extents.last().unwrap())
}

/// An extent whose LBID the file header records.
fn header_lbid_target(m: &Manifest) -> ExtentAddress {
    let (f, e) = m
        .files
        .iter()
        .filter(|f| f.kind == "column" && f.header_version == Some(3))
        .flat_map(|f| f.extents.iter().map(move |e| (f, e)))
        .find(|(_, e)| e.in_header)
        .unwrap();
    address(f, e)
}

/// An LBID past every extent of the map.
fn free_lbid(map: &ExtentMap) -> Lbid {
    let end = map.extents.iter().map(|e| e.last_lbid().0).max().unwrap() + 1;
    Lbid((end / 1024 + 65) * 1024)
}

/// Alter a copy of the truth, verify it, and check that `target` (and only it) changed status to
/// `expect`; returns the verdict for further checks.
fn altered(
    t: &Tree,
    base: &Verification,
    expect: &[(ExtentAddress, Status)],
    alter: impl FnOnce(&mut ExtentMap),
) -> Verification {
    let mut map = t.truth.clone();
    alter(&mut map);
    let v = t.verify(&map);
    let before = statuses(base);
    let after = statuses(&v);
    let expected: BTreeMap<ExtentAddress, Status> = expect.iter().copied().collect();
    for ((a, lbid), s) in &after {
        match expected.get(a) {
            Some(want) => assert_eq!(s, want, "{a} (LBID {lbid:?})"),
            None => assert_eq!(
                Some(s),
                before.get(&(*a, *lbid)),
                "{a} (LBID {lbid:?}) changed though it was not altered"
            ),
        }
    }
    for (a, want) in &expected {
        assert!(
            after.iter().any(|((x, _), s)| x == a && s == want),
            "{a}: no {want:?} in {:?}",
            v.extents
                .iter()
                .filter(|e| e.address == *a)
                .collect::<Vec<_>>()
        );
    }
    v
}

#[test]
fn every_status_from_a_deliberately_altered_map() {
    let t = Tree::new(&opts(Scenario::Mixed, 3, 21));
    let base = t.verify(&t.truth);
    assert_untouched_is_safe(&t, &base);
    let m = &t.manifest;

    // HWM lowered: rows beyond it.
    let h = hwm_target(m);
    let v = altered(&t, &base, &[(h, Status::HwmBehind)], |map| {
        at(map, h).hwm -= 1;
    });
    assert!(!v.is_safe());
    // HWM raised: the map points past the data.
    altered(&t, &base, &[(h, Status::HwmAhead)], |map| {
        at(map, h).hwm += 1;
    });

    // CP narrowed: the smallest value on disk is excluded.
    let (c, lo, hi) = cp_target(m);
    let v = altered(&t, &base, &[(c, Status::CpUnsafe)], |map| {
        let r = &mut at(map, c);
        r.cp = emengine::em::CasualPartition::narrow(CpState::VALID, lo + 1, hi);
    });
    let e = v.extents.iter().find(|e| e.address == c).unwrap();
    assert!(e
        .details
        .iter()
        .any(|d| matches!(d, Detail::Cp { data_lo, .. } if *data_lo == i128::from(lo))));
    // CP widened: loose but safe.
    let v = altered(&t, &base, &[(c, Status::CpLoose)], |map| {
        let r = &mut at(map, c);
        r.cp = emengine::em::CasualPartition::narrow(CpState::VALID, lo - 1, hi);
    });
    assert!(v.is_safe());
    // CP invalid: stale but safe.
    let v = altered(&t, &base, &[(c, Status::CpInvalid)], |map| {
        at(map, c).cp.state = CpState::INVALID;
    });
    assert!(v.is_safe());

    // An LBID the header records, changed (to a free range: no overlap).
    let l = header_lbid_target(m);
    let free = free_lbid(&t.truth);
    altered(&t, &base, &[(l, Status::LbidMismatch)], |map| {
        at(map, l).range_start = free;
    });

    // A catalog dictionary moved: the catalog's own tokens disprove the map's LBID.
    let dict = t
        .truth
        .extents
        .iter()
        .find(|e| e.oid == Oid(2001))
        .unwrap()
        .address();
    let v = altered(&t, &base, &[(dict, Status::LbidMismatch)], |map| {
        at(map, dict).range_start = free;
    });
    let e = v.extents.iter().find(|e| e.address == dict).unwrap();
    assert!(
        e.details
            .iter()
            .any(|d| matches!(d, Detail::TokensDisprove { tokens, .. } if *tokens > 0)),
        "{e:?}"
    );

    // Width changed.
    altered(&t, &base, &[(c, Status::WidthMismatch)], |map| {
        let r = &mut at(map, c);
        r.col_width = if r.col_width == 8 { 4 } else { 8 };
    });

    // A record deleted: the only extent of a file, so no HWM of the map is left on that file.
    let (f, e) = m
        .files
        .iter()
        .filter(|f| f.extents.len() == 1 && f.kind == "column")
        .map(|f| (f, &f.extents[0]))
        .next()
        .expect("a file with one extent");
    let gone = address(f, e);
    altered(&t, &base, &[(gone, Status::MissingInMap)], |map| {
        let i = index_of(map, gone);
        map.extents.remove(i);
    });

    // A record for an OID that has no files (and that the catalog does not know).
    let mut extra = t.truth.extents[index_of(&t.truth, c)];
    extra.oid = Oid(987_654);
    extra.range_start = free;
    let v = altered(
        &t,
        &base,
        &[(extra.address(), Status::MissingInData)],
        |map| map.extents.push(extra),
    );
    assert!(v.is_safe());
    let e = v
        .extents
        .iter()
        .find(|e| e.address == extra.address())
        .unwrap();
    assert_eq!(
        e.details,
        vec![Detail::NotInData {
            file: false,
            oid_in_catalog: Some(false)
        }]
    );
    // ... and the same record where an existing extent's LBIDs are: both overlap.
    let mut twin = extra;
    twin.range_start = t.truth.extents[index_of(&t.truth, c)].range_start;
    altered(
        &t,
        &base,
        &[(twin.address(), Status::Overlap), (c, Status::Overlap)],
        |map| map.extents.push(twin),
    );

    // Sequence number and status: benign.
    let seq_target = m
        .files
        .iter()
        .flat_map(|f| f.extents.iter().map(move |e| (f, e)))
        .find(|(f, e)| {
            e.cp_seq == 0
                && base
                    .extents
                    .iter()
                    .any(|v| v.address == address(f, e) && v.status == Status::Match)
        })
        .map(|(f, e)| address(f, e))
        .unwrap();
    let v = altered(&t, &base, &[(seq_target, Status::SeqOnly)], |map| {
        at(map, seq_target).cp.seq_num = 7;
    });
    assert!(v.is_safe());
    let v = altered(&t, &base, &[(seq_target, Status::StatusOnly)], |map| {
        at(map, seq_target).status = 2;
    });
    assert!(v.is_safe());
}

#[test]
fn ground_truth_of_every_clean_scenario_is_safe() {
    for (scenario, seed) in [(Scenario::DictionaryHeavy, 3), (Scenario::Legacy, 4)] {
        let t = Tree::new(&opts(scenario, 2, seed));
        let v = t.verify(&t.truth);
        assert_untouched_is_safe(&t, &v);
        // Names come from the catalog: every user column extent is named schema.table.column.
        for e in v.extents.iter().filter(|e| e.address.oid.0 >= 3000) {
            let name = e.name.as_deref().unwrap_or_else(|| panic!("{e:?} unnamed"));
            assert!(name.split('.').count() >= 2, "{name}");
        }
        // The LBIDs of legacy (uncompressed) files are not established by the data.
        if scenario == Scenario::Legacy {
            assert!(v.extents.iter().any(|e| e
                .details
                .iter()
                .any(|d| matches!(d, Detail::LbidNotEstablished { .. }))));
        }
    }
}

#[test]
fn damaged_files_are_not_verifiable() {
    let t = Tree::new(&opts(Scenario::Damaged, 2, 5));
    let v = t.verify(&t.truth);
    assert!(v.counts[&Status::NotVerifiable] > 0);
    assert!(!v.is_safe());
    // Every extent of a file the manifest lists as damaged is not verifiable, never `match`.
    for d in &t.manifest.damaged {
        let path = t.root.join(&d.path);
        // Root reads a file whatever its mode: such a file is not damaged here.
        if d.damage == emfixtures::damage::Damage::Unreadable && std::fs::read(&path).is_ok() {
            continue;
        }
        let Ok(id) = emengine::seg::path::parse_segment_path(&path) else {
            continue;
        };
        for e in v.extents.iter().filter(|e| e.address.segment_id() == id) {
            assert_eq!(e.status, Status::NotVerifiable, "{e:?}");
        }
    }
}

/// A backup taken before the last load of a table: the rows loaded since are beyond its HWMs,
/// in extents it does not know, and (for growing keys) outside its ranges.
#[test]
fn stale_backup_taken_before_the_last_loads() {
    let o = opts(Scenario::DictionaryHeavy, 3, 8);
    let t = Tree::new(&o);
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before");
    generate_before_loads(&before, &o, 2, &NoProgress).unwrap();
    let backup = ExtentMap::read(&before.join("BRM_saves_em")).unwrap();
    let v = t.verify(&backup);
    assert!(!v.is_safe());

    // What the two loads changed, from the two ground truths alone.
    let old: BTreeMap<ExtentAddress, &ExtentRecord> =
        backup.extents.iter().map(|e| (e.address(), e)).collect();
    let by_addr: BTreeMap<ExtentAddress, &emengine::verify::ExtentVerdict> =
        v.extents.iter().map(|e| (e.address, e)).collect();
    let mut grown = 0;
    let mut unsafe_cp = 0;
    for now in &t.truth.extents {
        let a = now.address();
        let got = by_addr[&a];
        match old.get(&a) {
            None => assert_eq!(got.status, Status::MissingInMap, "{a}"),
            Some(was) if now.hwm > was.hwm => {
                grown += 1;
                assert!(got.statuses.contains(&Status::HwmBehind), "{got:?}");
                if excludes(was, now) {
                    unsafe_cp += 1;
                    assert!(got.statuses.contains(&Status::CpUnsafe), "{got:?}");
                }
            }
            Some(was) if now == *was => assert!(
                got.status.severity() != Severity::Dangerous,
                "{a} did not change but is {got:?}"
            ),
            Some(_) => {}
        }
    }
    assert!(grown > 0, "the later loads grew no file");
    // Ids keep growing: some column extent's backup range excludes the newly loaded ids.
    assert!(unsafe_cp > 0, "no backup range excludes the new values");
}

/// Whether the backup's valid range `was` leaves out values of the current ground truth `now`
/// (narrow columns whose values are all non-negative, where signed and unsigned order agree).
fn excludes(was: &ExtentRecord, now: &ExtentRecord) -> bool {
    let valid = |r: &ExtentRecord| r.cp.cp_state() == CpState::Valid && r.col_width < 16;
    let (wl, wh, nl, nh) = (
        was.cp.lo_i64(),
        was.cp.hi_i64(),
        now.cp.lo_i64(),
        now.cp.hi_i64(),
    );
    valid(was) && valid(now) && wl >= 0 && nl >= 0 && wl <= wh && nl <= nh && (nl < wl || nh > wh)
}

mod synthetic {
    //! `compare` on synthetic maps: the data as a rebuild would give it, then one field of one
    //! extent altered; only that extent's status changes, to the status the alteration means.
    use emengine::em::{CasualPartition, CpState, ExtentMap, ExtentRecord};
    use emengine::rebuild::{RebuildReport, Rebuilt};
    use emengine::seg::file::Access;
    use emengine::types::{extent_blocks, extent_units, DbRootId, Lbid, Oid};
    use emengine::verify::catalog::CatalogView;
    use emengine::verify::{compare, Status};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// One file per entry: (width, extents 1..=2, HWM within the last extent, lo, span).
    fn data() -> impl Strategy<Value = Vec<ExtentRecord>> {
        proptest::collection::vec(
            (
                proptest::sample::select(vec![1u16, 2, 4, 8]),
                1u32..=2,
                1u32..1000,
                0i64..1000,
                1i64..1000,
            ),
            1..12,
        )
        .prop_map(|files| {
            let mut out = Vec::new();
            let mut lbid = 0i64;
            for (f, (width, n, hwm, lo, span)) in files.into_iter().enumerate() {
                let eb = extent_blocks(width);
                for k in 0..n {
                    out.push(ExtentRecord {
                        range_start: Lbid(lbid),
                        range_size: extent_units(width),
                        oid: Oid(3000 + f as i32),
                        block_offset: k * eb,
                        hwm: if k + 1 == n { k * eb + hwm } else { 0 },
                        partition: 0,
                        segment: 0,
                        dbroot: DbRootId(1),
                        col_width: width,
                        status: 0,
                        cp: CasualPartition::narrow(CpState::VALID, lo, lo + span),
                    });
                    lbid += i64::from(extent_units(width)) * 1024;
                }
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn one_altered_field_changes_one_extent(
            extents in data(),
            pick in any::<prop::sample::Index>(),
            how in 0usize..7,
        ) {
            let rebuilt = Rebuilt {
                map: ExtentMap::from_extents(extents.clone()),
                report: RebuildReport::default(),
            };
            let dbroots: BTreeMap<DbRootId, PathBuf> = [(DbRootId(1), PathBuf::from("/nonexistent"))].into();
            let catalog = CatalogView::default();
            let same = compare(&rebuilt.map, &rebuilt, &catalog, &dbroots, Access::Read);
            prop_assert!(same.extents.iter().all(|e| e.status == Status::Match));

            // Only the extent holding its file's HWM can be behind or ahead.
            let holders: Vec<usize> = (0..extents.len()).filter(|&i| extents[i].hwm != 0).collect();
            let i = match how { 0 | 1 => holders[pick.index(holders.len())], _ => pick.index(extents.len()) };
            let mut map = extents.clone();
            let e = &mut map[i];
            let want = match how {
                0 => { e.hwm -= 1; Status::HwmBehind }
                1 => { e.hwm += 1; Status::HwmAhead }
                2 => { e.cp = CasualPartition::narrow(CpState::VALID, e.cp.lo_i64() + 1, e.cp.hi_i64()); Status::CpUnsafe }
                3 => { e.cp = CasualPartition::narrow(CpState::VALID, e.cp.lo_i64(), e.cp.hi_i64() + 1); Status::CpLoose }
                4 => { e.range_start = Lbid(1 << 30); Status::LbidMismatch }
                5 => { e.cp.seq_num = 3; Status::SeqOnly }
                _ => { e.cp.state = CpState::INVALID; Status::CpInvalid }
            };
            let target = e.address();
            let v = compare(&ExtentMap::from_extents(map), &rebuilt, &catalog, &dbroots, Access::Read);
            for x in &v.extents {
                if x.address == target {
                    prop_assert_eq!(x.status, want);
                } else {
                    prop_assert_eq!(x.status, Status::Match, "{:?}", x);
                }
            }
        }
    }
}
