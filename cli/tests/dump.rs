//! `emrebuild dump`: mcs, editem, csv and json renderings, run through the real binary.

mod util;

use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord, SentinelKind};
use std::path::{Path, PathBuf};
use util::{emrebuild, real_v4, s};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn mcs_of_the_real_file_starts_as_the_spec_shows() {
    let Some(p) = real_v4() else { return };
    let out = stdout(&emrebuild(&["dump", s(&p)], 0));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(
        &lines[..3],
        &[
            "range.start|range.size|fileId|blockOffset|HWM|partition|segment|dbroot|width|status|hiVal|loVal|seqNum|isValid|",
            "0|8|1001|0|0|0|0|1|8|0|-9223372036854775808|9223372036854775807|0|2|",
            "8192|8|2001|0|0|0|0|1|0|0|-9223372036854775808|9223372036854775807|0|0|",
        ]
    );
    assert_eq!(lines.len(), 42);
    assert_eq!(lines[41], "226304|8|1042|0|0|0|0|1|8|0|0|-1|0|2|");
    // --format mcs is the default.
    assert_eq!(
        stdout(&emrebuild(&["dump", s(&p), "--format", "mcs"], 0)),
        out
    );
}

#[test]
fn editem_of_the_real_file_shows_oid_2001_as_the_spec_does() {
    let Some(p) = real_v4() else { return };
    let out = stdout(&emrebuild(&["dump", s(&p), "--format", "editem"], 0));
    let lines: Vec<_> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "Dct OID = 2001")
        .expect(&out);
    assert_eq!(
        lines[at + 1],
        "8192 - 16383 (8192) min: notset, max: notset, seqNum: 0, state: invalid, fbo: 0, DBRoot: 1, part#: 0, seg#: 0, HWM: 0; status: avail"
    );
    assert_eq!(lines[at + 2], "");
    assert_eq!(lines[0], "Col OID = 1001, NumExtents = 1, width = 8");
    // 41 OIDs, three lines each, OIDs ascending.
    assert_eq!(lines.len(), 41 * 3);
    let oids: Vec<i32> = lines
        .iter()
        .step_by(3)
        .map(|l| {
            l.split(" = ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(oids.windows(2).all(|w| w[0] < w[1]), "{oids:?}");
    assert!(out.contains("226304 - 234495 (8192) min: -1, max: 0, seqNum: 0, state: valid"));
}

#[test]
fn json_of_the_real_file_parses_to_its_facts() {
    let Some(p) = real_v4() else { return };
    let out = emrebuild(&["dump", s(&p), "--format", "json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 4);
    let extents = v["extents"].as_array().unwrap();
    assert_eq!(extents.len(), 41);
    let first = &extents[0];
    for (key, want) in [
        ("lbid", serde_json::json!(0)),
        ("size", serde_json::json!(8)),
        ("oid", serde_json::json!(1001)),
        ("block_offset", serde_json::json!(0)),
        ("hwm", serde_json::json!(0)),
        ("partition", serde_json::json!(0)),
        ("segment", serde_json::json!(0)),
        ("dbroot", serde_json::json!(1)),
        ("width", serde_json::json!(8)),
        ("status", serde_json::json!(0)),
        ("seq", serde_json::json!(0)),
        ("cp", serde_json::json!("valid")),
        ("lo", serde_json::json!("9223372036854775807")),
        ("hi", serde_json::json!("-9223372036854775808")),
    ] {
        assert_eq!(first[key], want, "key {key}");
    }
    assert_eq!(first.as_object().unwrap().len(), 14);
    assert_eq!(extents[1]["cp"], "invalid");
    assert_eq!(extents[40]["lo"], "-1");
    assert_eq!(
        v["free_list"],
        serde_json::json!([{"lbid": 234496, "size": 67108635}])
    );
}

#[test]
fn csv_has_a_header_and_one_row_per_extent() {
    let Some(p) = real_v4() else { return };
    let out = stdout(&emrebuild(&["dump", s(&p), "--format", "csv"], 0));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(
        lines[0],
        "lbid,size,oid,block_offset,hwm,partition,segment,dbroot,width,status,seq,cp,lo,hi"
    );
    assert_eq!(lines.len(), 42);
    assert_eq!(
        lines[2],
        "8192,8,2001,0,0,0,0,1,0,0,0,invalid,9223372036854775807,-9223372036854775808"
    );
}

fn wide_map(dir: &Path) -> PathBuf {
    let wide = ExtentRecord::builder(3010, 1 << 20)
        .width(16)
        .hwm(17)
        .partition(2)
        .segment(1)
        .dbroot(2)
        .status(1)
        .cp(CasualPartition::wide(
            CpState::VALID,
            -(10i128.pow(30)),
            10i128.pow(30),
        ))
        .seq(4)
        .build();
    let dict = ExtentRecord::builder(3011, 0)
        .width(0)
        .hwm(17)
        .partition(2)
        .segment(1)
        .dbroot(2)
        .status(2)
        .cp(CasualPartition::sentinel(
            SentinelKind::Dictionary,
            CpState::INVALID,
        ))
        .build();
    let p = dir.join("BRM_saves_em");
    ExtentMap::from_extents(vec![wide, dict])
        .write(&p, EmVersion::V5)
        .unwrap();
    p
}

#[test]
fn wide_and_v5_dictionary_values_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = wide_map(dir.path());
    let mcs = stdout(&emrebuild(&["dump", s(&p)], 0));
    // mcsRebuildEM prints the 64-bit views even for width 16; dictionary i128 sentinels → 0 / -1.
    assert_eq!(
        mcs.lines().nth(1).unwrap(),
        "0|8|3011|0|17|2|1|2|0|2|0|-1|0|0|"
    );
    assert_eq!(
        mcs.lines().nth(2).unwrap(),
        format!(
            "1048576|16|3010|0|17|2|1|2|16|1|{}|{}|4|2|",
            10i128.pow(30) as i64,
            -(10i128.pow(30)) as i64
        )
    );
    let editem = stdout(&emrebuild(&["dump", s(&p), "--format", "editem"], 0));
    assert_eq!(
        editem,
        "Col OID = 3010, NumExtents = 1, width = 16\n\
         1048576 - 1064959 (16384) min: -1000000000000000000000000000000, max: 1000000000000000000000000000000, seqNum: 4, state: valid, fbo: 0, DBRoot: 2, part#: 2, seg#: 1, HWM: 17; status: unavail\n\
         \n\
         Dct OID = 3011\n\
         0 - 8191 (8192) min: -1, max: 0, seqNum: 0, state: invalid, fbo: 0, DBRoot: 2, part#: 2, seg#: 1, HWM: 17; status: outOfSrv\n\
         \n"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&emrebuild(&["dump", s(&p), "--format", "json"], 0).stdout).unwrap();
    assert_eq!(v["format_version"], 5);
    // File order, which the writer made ascending by LBID: the dictionary extent first.
    assert_eq!(v["extents"][0]["oid"], 3011);
    assert_eq!(v["extents"][0]["lo"], "-1");
    assert_eq!(v["extents"][0]["hi"], "0");
    assert_eq!(v["extents"][1]["oid"], 3010);
    assert_eq!(v["extents"][1]["lo"], "-1000000000000000000000000000000");
    assert_eq!(v["extents"][1]["cp"], "valid");
}

#[test]
fn bad_input_exits_2_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = wide_map(dir.path());
    let bytes = std::fs::read(&p).unwrap();
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &bytes[..150]).unwrap();
    let out = emrebuild(&["dump", s(&cut)], 2);
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "emrebuild: {}: at byte 108: truncated: expected extent record 2 of 2 (version 5, 96 bytes), found 42 bytes\n",
            cut.display()
        )
    );
    let out = emrebuild(
        &["dump", "/nonexistent/BRM_saves_em", "--format", "json"],
        2,
    );
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("emrebuild: /nonexistent/BRM_saves_em: cannot open"));
    emrebuild(&["dump", s(&p), "--format", "xml"], 2);
}
