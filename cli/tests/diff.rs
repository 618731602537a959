//! `emrebuild diff`: logical equality across versions and ignored bytes, differences with exit
//! 1 (human and JSON), errors with exit 2.

mod util;

use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord};
use emengine::types::Lbid;
use std::path::{Path, PathBuf};
use util::{emrebuild, real_v4, s};

fn rec(start: i64, oid: i32, fbo: u32, hwm: u32) -> ExtentRecord {
    ExtentRecord::builder(oid, start)
        .width(4)
        .block_offset(fbo)
        .hwm(hwm)
        .cp(CasualPartition::narrow(CpState::VALID, -7, 70))
        .seq(1)
        .build()
}

fn base() -> Vec<ExtentRecord> {
    vec![
        rec(0, 3000, 0, 0),
        rec(4096, 3000, 4096, 100),
        rec(16384, 3001, 0, 5),
    ]
}

fn write(dir: &Path, name: &str, records: Vec<ExtentRecord>, v: EmVersion) -> PathBuf {
    let p = dir.join(name);
    ExtentMap::from_extents(records).write(&p, v).unwrap();
    p
}

#[test]
fn real_v4_and_its_v5_conversion_are_equal() {
    let Some(real) = real_v4() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v5 = dir.path().join("v5");
    emrebuild(&["convert", s(&real), s(&v5)], 0);
    let out = emrebuild(&["diff", s(&real), s(&v5)], 0);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "extent maps are equal (41 extents)\n"
    );
    let out = emrebuild(&["diff", s(&v5), s(&real), "--json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["equal"], true);
    assert_eq!(v["only_in_a"], serde_json::json!([]));
    assert_eq!(v["changed"], serde_json::json!([]));
}

#[test]
fn ignored_bytes_do_not_make_a_difference() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", base(), EmVersion::V5);
    // Same extents, V4, records in reverse order, junk in padding, the free list and the
    // upper halves of the narrow CP values.
    let mut map = ExtentMap::from_extents(base());
    map.extents.reverse();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0x76F7_8B20u32.to_le_bytes());
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&2u32.to_le_bytes());
    for r in &map.extents {
        let mut img = r.encode_v5();
        img[12] = 0xaa; // pad
        img[45] = 0xbb; // pad
        img[60] = 0xcc; // pad
        img[75] = 0x11; // upper half of bigLoVal
        img[90] = 0x22; // upper half of bigHiVal
        bytes.extend_from_slice(&img);
    }
    bytes.extend_from_slice(&[0x5a; 32]); // two nonsense free-list slots
    let b = dir.path().join("b");
    std::fs::write(&b, &bytes).unwrap();
    let c = write(dir.path(), "c", base(), EmVersion::V4);
    emrebuild(&["diff", s(&a), s(&b)], 0);
    emrebuild(&["diff", s(&b), s(&c)], 0);
    let out = emrebuild(&["diff", s(&a), s(&c), "--json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["equal"], true);
}

#[test]
fn differences_exit_1_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", base(), EmVersion::V5);
    let mut changed = base();
    changed.remove(2); // oid 3001 only in A
    changed[1].hwm = 120;
    changed[1].cp.state = CpState::INVALID;
    changed[1].cp.hi = changed[1].cp.hi.wrapping_add(1);
    changed.push(rec(32768, 3002, 0, 9)); // only in B
    let b = write(dir.path(), "b", changed, EmVersion::V4);
    let out = emrebuild(&["diff", s(&a), s(&b)], 1);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            "extent maps differ: 1 only in A, 1 only in B, 1 changed (3 fields); A has 3 extents, B has 3",
            "only in A: oid 3001 dbroot 1 partition 0 segment 0 fbo 0 (lbid 16384, size 4)",
            "only in B: oid 3002 dbroot 1 partition 0 segment 0 fbo 0 (lbid 32768, size 4)",
            "changed: oid 3000 dbroot 1 partition 0 segment 0 fbo 4096: hwm: A 100 B 120",
            "changed: oid 3000 dbroot 1 partition 0 segment 0 fbo 4096: cp: A valid B invalid",
            "changed: oid 3000 dbroot 1 partition 0 segment 0 fbo 4096: hi: A 70 B 71",
        ]
    );
}

#[test]
fn json_differences_parse() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", base(), EmVersion::V5);
    let mut moved = base();
    moved[0].range_start = Lbid(1 << 30); // same data, different LBID
    moved[0].cp.lo = 3;
    let b = write(dir.path(), "b", moved, EmVersion::V5);
    let out = emrebuild(&["diff", s(&a), s(&b), "--json"], 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["equal"], false);
    assert_eq!(v["only_in_a"], serde_json::json!([]));
    assert_eq!(v["only_in_b"], serde_json::json!([]));
    let changed = v["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0]["key"],
        serde_json::json!({"oid": 3000, "dbroot": 1, "partition": 0, "segment": 0, "block_offset": 0})
    );
    assert_eq!(
        changed[0]["fields"],
        serde_json::json!([
            {"field": "lbid", "a": 0, "b": 1073741824},
            {"field": "lo", "a": "-7", "b": "3"},
        ])
    );
}

#[test]
fn errors_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", base(), EmVersion::V5);
    let bad = dir.path().join("bad");
    std::fs::write(&bad, b"not an extent map at all").unwrap();
    let out = emrebuild(&["diff", s(&a), s(&bad)], 2);
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        format!(
            "emrebuild: {}: at byte 0: bad magic: expected 0x76f78b1f (version 4) or 0x76f78b20 (version 5), found 0x20746f6e\n",
            bad.display()
        )
    );
    let missing = dir.path().join("missing");
    let out = emrebuild(&["diff", s(&missing), s(&a), "--json"], 2);
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains(&format!("{}: cannot open", missing.display())));
}
