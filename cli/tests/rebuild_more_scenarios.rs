//! `emrebuild rebuild` on the generator's scenarios for issue 8, cases 3, 5, 6 and 7: a lost
//! system-catalog file, 16-byte DECIMAL extents, a DBRoot with no segment file, a tree without
//! its catalog, and stray `FILE256.cdf`/`FILE257.cdf` copies.
//!
//! Every expected value comes from the generator: its ground-truth `BRM_saves_em` (the map
//! ColumnStore held before the tree was damaged), and its manifest — the values each extent
//! stores, the differences a rebuild cannot avoid, where first fit puts the extents no file
//! records, what was done to the tree after it was written (`after_write`), and which rebuilds
//! must refuse (`expected_rebuild.refusals`: exit code, message, flag) or skip
//! (`expected_rebuild.skipped`). A refused rebuild writes nothing and leaves the extent map
//! already at its output in place; an accepted one is compared extent by extent.

mod util;

use emengine::em::{ExtentMap, ExtentRecord};
use emengine::types::{ExtentAddress, Oid};
use emfixtures::manifest::ExpectedRefusal;
use emfixtures::{Manifest, Scenario};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use util::{findings, s};

/// `isValid` of an extent record (EM §2.1).
const CP_INVALID: i8 = 0;
const CP_VALID: i8 = 2;

/// `emrebuild gen` of `scenario` (1 MiB) into `dir/t`: the tree and its manifest.
fn gen(dir: &Path, scenario: Scenario, seed: u64) -> (PathBuf, Manifest) {
    let tree = dir.join("t");
    let seed = seed.to_string();
    util::emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--scenario",
            scenario.name(),
            "--size",
            "1MiB",
            "--seed",
            &seed,
            "-q",
        ],
        0,
    );
    let m: Manifest =
        serde_json::from_slice(&fs::read(tree.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m.scenario, scenario);
    (tree, m)
}

/// An extent map already at `dir/BRM_saves_em` (the ground truth's bytes), as on a system
/// whose map is being replaced.
fn existing_map(dir: &Path, tree: &Path) -> (PathBuf, Vec<u8>) {
    let out = dir.join("BRM_saves_em");
    let bytes = fs::read(tree.join("BRM_saves_em")).unwrap();
    fs::write(&out, &bytes).unwrap();
    (out, bytes)
}

/// Run every refusal the manifest expects, each against an extent map already at the output:
/// the exit code, the message and the accepting flag on stderr, the report's `refused` finding
/// when there is one (else the report's `unloadable`: the map itself would not load), and the
/// map left in place, byte for byte, nothing moved aside.
/// Returns the refusals' JSON reports (those that print one).
fn assert_refusals(dir: &Path, tree: &Path, m: &Manifest) -> Vec<(ExpectedRefusal, Value)> {
    assert!(!m.expected_rebuild.refusals.is_empty());
    let mut reports = Vec::new();
    for r in &m.expected_rebuild.refusals {
        let (out, before) = existing_map(dir, tree);
        let args = refusal_args(tree, &out, r);
        let (stdout, stderr) = util::text(&util::emrebuild(&args_of(&args), r.exit_code));
        assert!(stderr.contains(&r.message), "{r:?}\n{stderr}");
        match &r.accept_flag {
            Some(flag) => assert!(stderr.contains(flag.as_str()), "{flag}: {stderr}"),
            None => assert!(
                !stderr.contains("(use --"),
                "no flag may accept it: {stderr}"
            ),
        }
        assert_eq!(
            fs::read(&out).unwrap(),
            before,
            "{r:?}: the map at the output changed"
        );
        assert_eq!(util::moved_aside(&out), Vec::<PathBuf>::new(), "{r:?}");
        if let Some(reason) = &r.reason {
            let report: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(report["written"], false);
            let refused = findings(&report, "refused");
            assert_eq!(refused.len(), 1, "{report}");
            assert_eq!(refused[0]["reason"], reason.as_str());
            assert_eq!(refused[0]["accepted"], false);
            let oids: Vec<i64> = refused[0]["extents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["oid"].as_i64().unwrap())
                .collect();
            assert_eq!(
                oids,
                r.oids.iter().map(|&o| i64::from(o)).collect::<Vec<_>>()
            );
            reports.push((r.clone(), report));
        } else {
            // A map ColumnStore could not load: the JSON report says why, as for any refusal.
            let report: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(report["written"], false);
            let why = report["unloadable"].as_str().unwrap_or_default();
            assert!(why.contains(&r.message), "{r:?}: {report}");
        }
        fs::remove_file(&out).unwrap();
    }
    reports
}

/// `rebuild --json -o out` with the refusal's DBRoots (or the configuration) and options.
fn refusal_args(tree: &Path, out: &Path, r: &ExpectedRefusal) -> Vec<String> {
    let mut args: Vec<String> = ["rebuild", "-o", s(out), "--json"]
        .map(String::from)
        .to_vec();
    if r.dbroots.is_empty() {
        args.extend(["--config".into(), s(&tree.join("Columnstore.xml")).into()]);
    }
    for id in &r.dbroots {
        args.push("--dbroot".into());
        args.push(format!("{id}={}", s(&tree.join(format!("data{id}")))));
    }
    args.extend(r.options.iter().cloned());
    args
}

fn args_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `rebuild --config tree --json -o out extra`, requiring exit 0: the report and the map.
fn rebuild_written(tree: &Path, out: &Path, extra: &[&str]) -> (Value, ExtentMap) {
    let (report, _) = util::rebuild_json(tree, out, extra, 0);
    assert_eq!(report["written"], true, "{report}");
    (report, ExtentMap::read(out).unwrap())
}

/// The fields of the manifest's expected differences, by OID.
fn named_differences(m: &Manifest) -> BTreeMap<i32, BTreeSet<&str>> {
    let mut out: BTreeMap<i32, BTreeSet<&str>> = BTreeMap::new();
    for d in &m.expected_rebuild.differences {
        if let Some(oid) = d.oid {
            out.entry(oid).or_default().insert(d.field.as_str());
        }
    }
    out
}

/// The rebuilt map against the ground truth, extent by extent, as the manifest expects: the
/// same extents; each at the truth's LBID, or where the manifest's first fit puts an extent no
/// file records; size, width, status as the truth; HWM as the truth unless the manifest names
/// an `hwm` difference (then 0: no file records it); CP (state, range, sequence) as the truth
/// unless the manifest names a CP difference — then left invalid, or valid with exactly the
/// range of the values the generator stored.
fn assert_matches_manifest(tree: &Path, m: &Manifest, got: &ExtentMap) {
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    let first_fit = m.first_fit_lbids();
    let named = named_differences(m);
    let stored = m.stored_ranges();
    let have: BTreeMap<ExtentAddress, &ExtentRecord> =
        got.extents.iter().map(|e| (e.address(), e)).collect();
    for t in &truth.extents {
        let a = t.address();
        let g = have
            .get(&a)
            .unwrap_or_else(|| panic!("{a}: not in the rebuilt map"));
        let lbid = first_fit.get(&a).copied().unwrap_or(t.range_start.0);
        assert_eq!(g.range_start.0, lbid, "{a}: LBID");
        assert_eq!(
            (g.range_size, g.col_width, g.status),
            (t.range_size, t.col_width, t.status),
            "{a}"
        );
        let fields = named.get(&t.oid.0);
        let has = |f: &str| fields.is_some_and(|x| x.contains(f));
        let hwm = if has("hwm") { 0 } else { t.hwm };
        assert_eq!(g.hwm, hwm, "{a}: HWM");
        let w = t.col_width;
        if !(has("cp") || has("cp.state") || has("cp.seq")) {
            assert_eq!(g.cp, t.cp, "{a}: CP");
        } else if g.cp.state == CP_INVALID {
            // Never used to eliminate the extent.
        } else {
            assert_eq!(g.cp.state, CP_VALID, "{a}");
            let range = (g.cp.lo_value(w), g.cp.hi_value(w));
            match stored.get(&a) {
                Some(Some(r)) => assert_eq!(range, *r, "{a}: restored CP"),
                _ => assert_eq!(range, (t.cp.lo_value(w), t.cp.hi_value(w)), "{a}: CP"),
            }
        }
    }
    assert_eq!(
        got.extents.len(),
        truth.extents.len(),
        "extents the truth does not have"
    );
}

#[test]
fn a_lost_catalog_file_is_refused_then_written_at_the_full_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), Scenario::CatalogFileMissing, 3);
    let lost = emfixtures::scenario::CATALOG_LOST_OID;
    assert_eq!(m.after_write.len(), 1);
    let edit = &m.after_write[0];
    assert_eq!((edit.action.as_str(), edit.oid), ("removed", lost));
    assert!(!tree.join(&edit.path).exists());
    // A replay over the files present would move every catalog file created after the lost
    // one down by its range: most of the catalog.
    let lost_lbid = m.catalog.files.iter().find(|c| c.oid == lost).unwrap().lbid;
    let later = m
        .catalog
        .files
        .iter()
        .filter(|c| c.lbid > lost_lbid)
        .count();
    assert!(later > 30, "{later} catalog files after {lost}");
    // First fit is wrong for the extents no file records (a dropped table's hole below them).
    assert!(m
        .expected_rebuild
        .reassigned
        .iter()
        .any(|r| !r.from_tokens && r.first_fit_lbid != r.lbid));

    let reports = assert_refusals(dir.path(), &tree, &m);
    let (refusal, report) = &reports[0];
    assert_eq!(report["catalog"]["missing"], serde_json::json!([lost]));
    assert_eq!(report["catalog"]["generation"], "C");

    // Accepted knowingly: the map written, the previous one moved aside.
    let (out, _) = existing_map(dir.path(), &tree);
    let flag = refusal.accept_flag.as_deref().unwrap();
    let (report, map) = rebuild_written(&tree, &out, &[flag]);
    assert_eq!(util::moved_aside(&out).len(), 1);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 1, "{report}");
    assert_eq!(refused[0]["reason"], "catalog-file-missing");
    assert_eq!(refused[0]["accepted"], true);
    assert_matches_manifest(&tree, &m, &map);
    // The lost file's extent: at its LBID of the full layout, HWM 0 (README, rebuild stage 2),
    // and the report says the file is missing.
    let kept: Vec<_> = map.extents.iter().filter(|e| e.oid == Oid(lost)).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].range_start.0, kept[0].hwm), (lost_lbid, 0));
    let rows = findings(&report, "catalog-row");
    assert!(
        rows.iter().any(|f| f["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("({lost}) is missing")))),
        "{report}"
    );
    // The catalog's tokens resolve at the LBIDs placed: no catalog-token finding.
    assert!(findings(&report, "catalog-token").is_empty(), "{report}");
    // The legacy dictionary's LBID inferred from its tokens, exactly, at the truth's LBID;
    // every other unrecorded extent re-assigned where the manifest's first fit puts it.
    let inferred: BTreeMap<i64, i64> = findings(&report, "inferred")
        .iter()
        .filter(|i| i["fact"] == "lbid")
        .map(|i| {
            assert_eq!(i["strength"], "exact", "{i}");
            (
                i["extent"]["oid"].as_i64().unwrap(),
                i["value"].as_i64().unwrap(),
            )
        })
        .collect();
    let from_tokens: BTreeMap<i64, i64> = m
        .expected_rebuild
        .reassigned
        .iter()
        .filter(|r| r.from_tokens)
        .map(|r| (i64::from(r.oid), r.lbid))
        .collect();
    assert!(!from_tokens.is_empty());
    assert_eq!(inferred, from_tokens);
    let reassigned: BTreeSet<(i64, i64)> = findings(&report, "reassigned")
        .iter()
        .map(|r| {
            (
                r["extent"]["oid"].as_i64().unwrap(),
                r["lbid"].as_i64().unwrap(),
            )
        })
        .collect();
    let predicted: BTreeSet<(i64, i64)> = m
        .expected_rebuild
        .reassigned
        .iter()
        .filter(|r| !r.from_tokens)
        .map(|r| (i64::from(r.oid), r.first_fit_lbid))
        .collect();
    assert_eq!(reassigned, predicted);
}

#[test]
fn wide_decimals_rebuild_exactly_as_version_5_and_are_refused_as_version_4() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), Scenario::WideDecimal, 4);
    // The generator stored 16-byte values near ±10^38 and small ones on both sides of 0.
    let near: i128 = 10i128.pow(37);
    let wide: Vec<_> = m.files.iter().filter(|f| f.width == 16).collect();
    let ranges: Vec<(i128, i128)> = wide
        .iter()
        .flat_map(|f| &f.extents)
        .filter_map(|x| x.stored_range.as_ref())
        .map(|(lo, hi)| (lo.parse().unwrap(), hi.parse().unwrap()))
        .collect();
    assert!(
        ranges.iter().any(|&(lo, hi)| lo < -near && hi > near),
        "{ranges:?}"
    );
    assert!(
        ranges
            .iter()
            .any(|&(lo, hi)| lo < 0 && hi > 0 && hi < 10_000_000),
        "{ranges:?}"
    );
    assert!(m.files.iter().any(|f| f.width == 8) && m.files.iter().any(|f| f.width == 4));

    let (report, map) = rebuild_written(&tree, &dir.path().join("em5"), &[]);
    assert!(findings(&report, "refused").is_empty(), "{report}");
    assert_matches_manifest(&tree, &m, &map);
    // Exact 128-bit ranges: every 16-byte extent's CP is the values' range.
    let stored = m.stored_ranges();
    let mut checked = 0;
    for e in map.extents.iter().filter(|e| e.col_width == 16) {
        if let Some(Some(r)) = stored.get(&e.address()) {
            assert_eq!(e.cp.state, CP_VALID, "{}", e.address());
            assert_eq!((e.cp.lo_value(16), e.cp.hi_value(16)), *r);
            checked += 1;
        }
    }
    assert!(checked >= wide.len(), "{checked} wide extents checked");

    // Version 4 cannot hold them: nothing written, no flag writes it.
    let refused = assert_refusals(dir.path(), &tree, &m);
    assert!(refused.is_empty(), "a map-level refusal prints no report");
    let r = &m.expected_rebuild.refusals[0];
    assert_eq!(r.options, ["--em-version", "4"]);
    assert_eq!(r.accept_flag, None);
}

#[test]
fn an_empty_dbroot_alone_is_refused_and_among_others_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), Scenario::EmptyDbRoot, 5);
    let empty = tree.join(format!("data{}", emfixtures::scenario::EMPTY_DBROOT));
    assert!(empty.is_dir());
    let entries: Vec<_> = fs::read_dir(&empty).unwrap().collect();
    assert!(entries.is_empty(), "{entries:?}");
    assert!(m
        .files
        .iter()
        .all(|f| f.dbroot != emfixtures::scenario::EMPTY_DBROOT));

    let (report, map) = rebuild_written(&tree, &dir.path().join("em"), &[]);
    assert!(findings(&report, "refused").is_empty(), "{report}");
    assert_matches_manifest(&tree, &m, &map);

    let r = &m.expected_rebuild.refusals[0];
    assert_eq!(r.dbroots, [emfixtures::scenario::EMPTY_DBROOT]);
    assert_refusals(dir.path(), &tree, &m);
}

#[test]
fn user_files_without_a_system_catalog_are_refused_whatever_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), Scenario::NoCatalog, 6);
    assert_eq!(m.after_write.len(), m.catalog.files.len());
    for e in &m.after_write {
        assert_eq!(e.action, "removed");
        assert!(!tree.join(&e.path).exists(), "{}", e.path);
    }
    for f in &m.files {
        assert!(tree.join(&f.path).is_file(), "{}", f.path);
    }
    // Refused with no flag and with every flag that accepts a refusal.
    assert!(m
        .expected_rebuild
        .refusals
        .iter()
        .any(|r| r.options.iter().any(|o| o == "--allow-damaged")));
    assert_refusals(dir.path(), &tree, &m);
}

#[test]
fn segment_files_numbered_256_and_above_are_skipped_and_the_map_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), Scenario::Segment256, 7);
    assert_eq!(m.expected_rebuild.skipped.len(), 2);
    for e in &m.after_write {
        let source = e.source.as_ref().unwrap();
        assert_eq!(
            fs::read(tree.join(&e.path)).unwrap(),
            fs::read(tree.join(source)).unwrap(),
            "{} is a copy of {source}",
            e.path
        );
    }

    let (report, map) = rebuild_written(&tree, &dir.path().join("em"), &[]);
    assert!(findings(&report, "refused").is_empty(), "{report}");
    assert_matches_manifest(&tree, &m, &map);
    let skipped = findings(&report, "skipped");
    assert_eq!(skipped.len(), m.expected_rebuild.skipped.len(), "{report}");
    for want in &m.expected_rebuild.skipped {
        let path = tree.join(&want.path);
        let got = skipped
            .iter()
            .find(|f| f["path"] == s(&path))
            .unwrap_or_else(|| panic!("{} not reported: {report}", want.path));
        assert_eq!(got["reason"]["why"], want.why.as_str());
        assert_eq!(got["reason"]["segment"], want.segment);
    }
}

#[test]
fn a_dbroot_not_mounted_is_refused_naming_the_live_tables_it_held() {
    // An unmounted volume looks like an empty DBRoot folder. Empty one that held live tables'
    // files: a map written now would hold no extent of a table the catalog lists as live.
    // Expected, from the manifest: one refusal per live table with the OIDs of its files that
    // were on that DBRoot and on no other, and the map already at the output left in place.
    // Accepted, the map holds exactly the extents of the files still there.
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), Scenario::EmptyDbRoot, 5);
    let live: BTreeSet<String> = m
        .tables
        .iter()
        .filter(|t| t.fate == emfixtures::model::Fate::Live)
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    let lost = m
        .files
        .iter()
        .find(|f| f.dbroot != 1 && live.contains(&f.table))
        .expect("a live table's file outside DBRoot 1")
        .dbroot;
    let elsewhere: BTreeSet<i32> = m
        .files
        .iter()
        .filter(|f| f.dbroot != lost)
        .map(|f| f.oid)
        .collect();
    let mut expected: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for f in m.files.iter().filter(|f| f.dbroot == lost) {
        if live.contains(&f.table) && !elsewhere.contains(&f.oid) {
            expected
                .entry(f.table.clone())
                .or_default()
                .insert(i64::from(f.oid));
        }
    }
    assert!(!expected.is_empty());
    let folder = tree.join(format!("data{lost}"));
    for e in fs::read_dir(&folder).unwrap() {
        fs::remove_dir_all(e.unwrap().path()).unwrap();
    }

    let (out, before) = existing_map(dir.path(), &tree);
    let (report, stderr) = util::rebuild_json(&tree, &out, &[], 2);
    assert_eq!(
        fs::read(&out).unwrap(),
        before,
        "the map at the output changed"
    );
    assert!(util::moved_aside(&out).is_empty());
    let got: BTreeMap<String, BTreeSet<i64>> = findings(&report, "refused")
        .into_iter()
        .filter(|r| r["reason"] == "live-files-missing")
        .map(|r| {
            assert_eq!(r["accepted"], false, "{r}");
            let oids = r["oids"].as_array().unwrap().iter();
            (
                r["name"].as_str().unwrap().to_string(),
                oids.map(|o| o.as_i64().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(got, expected, "{report}");
    for table in expected.keys() {
        assert!(stderr.contains(table.as_str()), "{stderr}");
    }
    assert!(stderr.contains("--allow-missing-files"), "{stderr}");

    let (report, map) = rebuild_written(&tree, &dir.path().join("em"), &["--allow-missing-files"]);
    assert!(findings(&report, "refused")
        .iter()
        .all(|r| r["accepted"] == true));
    let on_disk: BTreeSet<i32> = m
        .files
        .iter()
        .filter(|f| f.dbroot != lost && live.contains(&f.table))
        .map(|f| f.oid)
        .collect();
    let user: BTreeSet<i32> = map
        .extents
        .iter()
        .map(|e| e.oid.0)
        .filter(|&o| o >= 3000)
        .collect();
    assert_eq!(user, on_disk);
}
