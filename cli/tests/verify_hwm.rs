//! `emrebuild verify` on the `hwm-status` scenario (issue 8, item 4): after a plain DELETE of a
//! table's last rows ColumnStore keeps the old HWM over blocks that hold only EMPTY values. Its
//! map is `hwm_ahead_empty` (stale but safe), not `hwm_ahead`; an HWM past the file's blocks
//! stays `hwm_ahead` (dangerous). Expected values come from the generator's manifest (its
//! history: which table had its last rows deleted, and how) and its ground-truth map.

mod util;

use emengine::em::{EmVersion, ExtentMap, ExtentRecord};
use serde_json::Value;
use std::path::{Path, PathBuf};
use util::s;

fn gen(dir: &Path) -> (PathBuf, Value) {
    let tree = dir.join("tree");
    util::emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--scenario",
            "hwm-status",
            "--seed",
            "11",
            "--quiet",
        ],
        0,
    );
    let m = serde_json::from_slice(&std::fs::read(tree.join("manifest.json")).unwrap()).unwrap();
    (tree, m)
}

fn verify_json(tree: &Path, map: &Path, code: i32) -> Value {
    let config = tree.join("Columnstore.xml");
    let out = util::emrebuild(
        &[
            "verify",
            "--map",
            s(map),
            "--config",
            s(&config),
            "--json",
            "--threads",
            "2",
        ],
        code,
    );
    serde_json::from_str(&util::text(&out).0).unwrap()
}

/// The manifest's files of `table` (columns and AUX).
fn files<'a>(m: &'a Value, table: &str) -> Vec<&'a Value> {
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["table"] == table)
        .collect()
}

/// The map's extent holding the HWM of the manifest's file `f` (its last extent).
fn last_extent<'a>(map: &'a mut ExtentMap, f: &Value) -> &'a mut ExtentRecord {
    map.extents
        .iter_mut()
        .filter(|e| {
            e.oid.0 == f["oid"].as_i64().unwrap() as i32
                && e.partition == f["partition"].as_u64().unwrap() as u32
                && e.segment == f["segment"].as_u64().unwrap() as u16
        })
        .max_by_key(|e| e.block_offset)
        .unwrap()
}

/// Every status that applies to the extent `e` (worst first).
fn statuses(doc: &Value, e: &ExtentRecord) -> Vec<String> {
    doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| {
            let a = &x["address"];
            a["oid"] == e.oid.0
                && a["partition"] == e.partition
                && a["segment"] == e.segment
                && a["block_offset"] == e.block_offset
        })
        .unwrap()["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_plain_delete_of_the_last_rows_is_stale_but_safe_and_an_hwm_past_the_file_is_dangerous() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, m) = gen(dir.path());
    // The manifest's history: hwm.plain_tail lost its last rows to a plain DELETE (EMPTY in
    // every column), ending where its load ended.
    let table = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "plain_tail")
        .unwrap();
    let load_end = table["loads"][0]["end"].as_u64().unwrap();
    let delete = &table["deletes"][0];
    assert_eq!(delete["end"].as_u64(), Some(load_end), "{delete}");
    assert_ne!(delete["way"], "fast", "{delete}");
    let plain = files(&m, "hwm.plain_tail");
    assert_eq!(plain.len(), 4, "3 columns and AUX");

    let truth_path = tree.join("BRM_saves_em");
    let mut truth = ExtentMap::read(&truth_path).unwrap();
    let doc = verify_json(&tree, &truth_path, 0);
    assert_eq!(doc["verdict"], "safe", "{}", doc["counts"]);
    for f in &plain {
        let e = *last_extent(&mut truth, f);
        let st = statuses(&doc, &e);
        assert!(st.contains(&"hwm_ahead_empty".to_string()), "{st:?} {f}");
        assert!(!st.contains(&"hwm_ahead".to_string()), "{st:?} {f}");
    }

    // One column's HWM past its file's blocks: blocks missing.
    let f = plain
        .iter()
        .find(|f| f["column"] == "qty")
        .expect("hwm.plain_tail.qty");
    let blocks = f["block_count"].as_u64().unwrap() as u32;
    let e = last_extent(&mut truth, f);
    e.hwm = blocks;
    let e = *e;
    let past = dir.path().join("past");
    let mut map = ExtentMap::from_extents(truth.extents.clone());
    map.version = EmVersion::V5;
    std::fs::write(&past, map.encode(EmVersion::V5)).unwrap();
    let doc = verify_json(&tree, &past, 1);
    assert_eq!(doc["verdict"], "dangerous");
    assert_eq!(statuses(&doc, &e)[0], "hwm_ahead");
}
