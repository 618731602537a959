//! `emrebuild rebuild` on the `hwm-status` scenario (issue 8, items 4 and 8, `--reference`):
//! exit codes, the flag named in the refusal, and the JSON report. Expected values come from the
//! generator's manifest and ground-truth map.

mod util;

use emengine::em::{EmVersion, ExtentMap};
use emengine::types::Lbid;
use serde_json::Value;
use std::path::{Path, PathBuf};
use util::{findings, s};

fn gen(dir: &Path, seed: u64) -> (PathBuf, Value) {
    let tree = dir.join("tree");
    util::emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--scenario",
            "hwm-status",
            "--seed",
            &seed.to_string(),
            "--quiet",
        ],
        0,
    );
    let m = serde_json::from_slice(&std::fs::read(tree.join("manifest.json")).unwrap()).unwrap();
    (tree, m)
}

/// [`util::rebuild_json`] at 2 threads.
fn rebuild_json(tree: &Path, out: &Path, extra: &[&str], code: i32) -> (Value, String) {
    let mut args = vec!["--threads", "2"];
    args.extend_from_slice(extra);
    util::rebuild_json(tree, out, &args, code)
}

/// The manifest's file of `table`.`column`.
fn file<'a>(m: &'a Value, table: &str, column: &str) -> &'a Value {
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == table && f["column"] == column)
        .unwrap()
}

#[test]
fn a_truncated_column_exits_2_naming_the_flag_and_the_flag_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), 11);
    let f = file(&m, "hwm.flat", "qty");
    assert_eq!(f["compressed"], false);
    std::fs::OpenOptions::new()
        .write(true)
        .open(tree.join(f["path"].as_str().unwrap()))
        .unwrap()
        .set_len(12 * 8192)
        .unwrap();
    let table = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "flat")
        .unwrap();
    let rows = table["loads"][0]["end"].as_u64().unwrap();

    let out = dir.path().join("em");
    let (doc, stderr) = rebuild_json(&tree, &out, &[], 2);
    assert!(stderr.contains("--allow-hwm-mismatch"), "{stderr}");
    assert!(stderr.contains("nothing written"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(doc["written"], false);
    let refused = findings(&doc, "refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    let r = refused[0];
    assert_eq!(r["reason"], "column-rows-disagree");
    assert_eq!(r["column"], f["oid"]);
    assert_eq!(r["table"], table["table_oid"]);
    assert_eq!(r["table_rows"].as_u64(), Some(rows));
    assert_eq!(r["column_rows"].as_u64(), Some(12 * 2048), "12 INT blocks");
    assert_eq!(r["accepted"], false);

    let (doc, _) = rebuild_json(&tree, &out, &["--allow-hwm-mismatch"], 0);
    assert_eq!(doc["written"], true);
    assert_eq!(findings(&doc, "refused")[0]["accepted"], true);
    let map = ExtentMap::read(&out).unwrap();
    let e = map
        .extents
        .iter()
        .find(|e| i64::from(e.oid.0) == f["oid"].as_i64().unwrap())
        .unwrap();
    // The table's last row, in an INT column: block (rows − 1) × 4 / 8192.
    assert_eq!(u64::from(e.hwm), (rows - 1) * 4 / 8192);
}

#[test]
fn the_reference_restores_status_and_lbids_and_its_conflicts_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path(), 12);
    let truth_path = tree.join("BRM_saves_em");
    let truth = ExtentMap::read(&truth_path).unwrap();

    // Without a reference: one note that status is in no data file, every extent available.
    let out = dir.path().join("em-alone");
    let (doc, stderr) = rebuild_json(&tree, &out, &[], 0);
    let notes = findings(&doc, "status-not-in-data");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["from_reference"], 0);
    assert!(
        stderr.contains("--reference OLD_EM restores it"),
        "{stderr}"
    );
    assert!(ExtentMap::read(&out)
        .unwrap()
        .extents
        .iter()
        .all(|e| e.status == 0));

    // A reference: the ground truth plus an extent the data does not have.
    let mut extents = truth.extents.clone();
    let mut gone = extents[extents.len() - 1];
    gone.partition = 7;
    gone.range_start = Lbid(1 << 30);
    extents.push(gone);
    let reference = dir.path().join("old_em");
    ExtentMap::from_extents(extents)
        .write(&reference, EmVersion::V5)
        .unwrap();
    let out = dir.path().join("em-ref");
    let (doc, _) = rebuild_json(&tree, &out, &["--reference", s(&reference)], 0);
    let rebuilt = ExtentMap::read(&out).unwrap();
    let out_of_service = truth.extents.iter().filter(|e| e.status == 2).count();
    assert_eq!(
        out_of_service, 4,
        "hwm.archive partition 0: 3 columns and AUX"
    );
    for e in &truth.extents {
        let r = rebuilt
            .extents
            .iter()
            .find(|r| r.address() == e.address())
            .unwrap();
        assert_eq!(r.status, e.status, "{}", e.address());
        assert_eq!(r.cp.seq_num, e.cp.seq_num, "{}", e.address());
    }
    assert_eq!(
        findings(&doc, "status-not-in-data")[0]["from_reference"],
        out_of_service
    );
    let inferred = findings(&doc, "inferred");
    let by = |fact: &str| {
        inferred
            .iter()
            .filter(|i| i["fact"] == fact && i["evidence"]["evidence"] == "reference")
            .count()
    };
    assert_eq!(by("status"), out_of_service);
    let reassigned_in_manifest = m["expected_rebuild"]["reassigned"].as_array().unwrap();
    assert_eq!(by("lbid"), reassigned_in_manifest.len());
    for x in reassigned_in_manifest {
        let e = rebuilt
            .extents
            .iter()
            .find(|e| i64::from(e.oid.0) == x["oid"].as_i64().unwrap())
            .unwrap();
        assert_eq!(Some(e.range_start.0), x["lbid"].as_i64());
    }
    assert!(inferred
        .iter()
        .filter(|i| i["evidence"]["evidence"] == "reference")
        .all(|i| i["strength"] == "strong"));
    let conflicts = findings(&doc, "reference-contradicted");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["conflict"], "not-in-data");
    assert_eq!(conflicts[0]["extent"]["partition"], 7);
    assert_eq!(conflicts[0]["reference"].as_i64(), Some(1 << 30));
    assert_eq!(rebuilt.extents.len(), truth.extents.len());

    // The reference is an input of the run: never the output.
    let before = std::fs::read(&reference).unwrap();
    let config = tree.join("Columnstore.xml");
    let o = util::emrebuild(
        &[
            "rebuild",
            "--config",
            s(&config),
            "--output",
            s(&reference),
            "--reference",
            s(&reference),
        ],
        2,
    );
    let (_, stderr) = util::text(&o);
    assert!(stderr.contains(s(&reference)), "{stderr}");
    assert_eq!(std::fs::read(&reference).unwrap(), before);
}
