//! `emrebuild verify` end to end: the real binary on trees written by `emrebuild gen`, with maps
//! altered on purpose. Each alteration's expected status comes from what was altered; the JSON
//! is parsed, the exit code checked (0 safe, 1 dangerous or not verifiable, 2 error).

mod util;

use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord};
use emengine::types::{Lbid, Oid};
use emfixtures::Manifest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use util::{emrebuild, s, text};

fn gen(dir: &Path, scenario: &str, size: &str, seed: u64) -> PathBuf {
    let tree = dir.join(format!("tree-{scenario}"));
    emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--size",
            size,
            "--seed",
            &seed.to_string(),
            "--scenario",
            scenario,
            "--quiet",
        ],
        0,
    );
    tree
}

fn manifest(tree: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(tree.join("manifest.json")).unwrap()).unwrap()
}

/// `verify --json` of `map` against `tree`, requiring exit code `code`.
fn verify_json(tree: &Path, map: &Path, code: i32) -> Value {
    let config = tree.join("Columnstore.xml");
    let out = emrebuild(
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
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The JSON verdict of the extent at (oid, dbroot, partition, segment, block offset).
fn extent<'a>(doc: &'a Value, r: &ExtentRecord) -> &'a Value {
    doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            let a = &e["address"];
            a["oid"] == r.oid.0
                && a["dbroot"] == r.dbroot.0
                && a["partition"] == r.partition
                && a["segment"] == r.segment
                && a["block_offset"] == r.block_offset
        })
        .unwrap_or_else(|| panic!("{:?} not in the verify output", r.address()))
}

fn write_map(path: &Path, extents: Vec<ExtentRecord>, version: EmVersion) {
    let mut map = ExtentMap::from_extents(extents);
    map.version = version;
    std::fs::write(path, map.encode(version)).unwrap();
}

#[test]
fn untouched_ground_truth_is_safe_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "dictionary-heavy", "2MiB", 3);
    let map = tree.join("BRM_saves_em");
    let doc = verify_json(&tree, &map, 0);
    assert_eq!(doc["verdict"], "safe");
    assert_eq!(doc["dangerous"], 0);
    assert_eq!(doc["repair"], Value::Null);
    let truth = ExtentMap::read(&map).unwrap();
    assert_eq!(doc["map_extents"], truth.extents.len());
    // Every extent of the map has a status, and the counts add up to the extents listed.
    let listed = doc["extents"].as_array().unwrap();
    let counted: u64 = doc["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(counted as usize, listed.len());
    for r in &truth.extents {
        let e = extent(&doc, r);
        let st = e["status"].as_str().unwrap();
        // Only benign statuses, and CP invalid where the map says so (DDL / DML history).
        match st {
            "match" | "seq_only" | "cp_loose" | "status_only" => {}
            "cp_invalid" => assert_ne!(r.cp.cp_state(), CpState::Valid),
            other => panic!("{other}: {e}"),
        }
        if r.oid.0 >= 3000 {
            assert!(e["name"].as_str().unwrap().contains('.'), "{e}");
        }
    }
    let out = emrebuild(
        &[
            "verify",
            "--map",
            s(&map),
            "--config",
            s(&tree.join("Columnstore.xml")),
        ],
        0,
    );
    let (stdout, _) = text(&out);
    assert!(stdout.contains("verdict: safe"), "{stdout}");
    assert!(stdout.contains("dangerous                  0"), "{stdout}");
}

#[test]
fn each_alteration_gives_its_status_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "mixed", "3MiB", 21);
    let truth = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    let m = manifest(&tree);
    // A signed narrow column extent with two distinct values and a valid range; the file's last
    // extent holds the HWM (> 0).
    let (f, fe) = m
        .files
        .iter()
        .filter(|f| f.kind == "column" && ["INT", "BIGINT"].contains(&f.data_type.as_str()))
        .filter(|f| f.header_version == Some(3) && f.extents.len() == 1 && f.hwm > 10)
        .map(|f| (f, &f.extents[0]))
        .find(|(_, e)| e.cp_state == CpState::VALID && e.values >= 2 && e.cp_lo != e.cp_hi)
        .expect("a target column");
    let i = truth
        .extents
        .iter()
        .position(|r| r.oid.0 == f.oid && r.partition == f.partition && r.segment == f.segment)
        .unwrap();
    let target = truth.extents[i];
    assert_eq!(target.hwm, fe.hwm);
    let (lo, hi): (i64, i64) = (fe.cp_lo.parse().unwrap(), fe.cp_hi.parse().unwrap());
    let free =
        Lbid((truth.extents.iter().map(|e| e.last_lbid().0).max().unwrap() / 1024 + 65) * 1024);
    let mut stray = target;
    stray.oid = Oid(987_654);
    stray.range_start = free;

    type Alter = Box<dyn Fn(&mut Vec<ExtentRecord>)>;
    let cases: Vec<(&str, i32, Alter)> = vec![
        ("hwm_behind", 1, Box::new(move |x| x[i].hwm -= 1)),
        ("hwm_ahead", 1, Box::new(move |x| x[i].hwm += 1)),
        (
            "cp_unsafe",
            1,
            Box::new(move |x| x[i].cp = CasualPartition::narrow(CpState::VALID, lo, hi - 1)),
        ),
        (
            "cp_loose",
            0,
            Box::new(move |x| x[i].cp = CasualPartition::narrow(CpState::VALID, lo, hi + 1)),
        ),
        (
            "cp_invalid",
            0,
            Box::new(move |x| x[i].cp.state = CpState::INVALID),
        ),
        (
            "lbid_mismatch",
            1,
            Box::new(move |x| x[i].range_start = free),
        ),
        ("width_mismatch", 1, Box::new(move |x| x[i].col_width = 2)),
        ("seq_only", 0, Box::new(move |x| x[i].cp.seq_num += 3)),
        ("status_only", 0, Box::new(move |x| x[i].status = 2)),
        (
            "missing_in_map",
            1,
            Box::new(move |x| {
                x.remove(i);
            }),
        ),
    ];
    for (want, code, alter) in cases {
        let mut extents = truth.extents.clone();
        alter(&mut extents);
        let path = dir.path().join(format!("em-{want}"));
        write_map(&path, extents, EmVersion::V5);
        let doc = verify_json(&tree, &path, code);
        let e = extent(&doc, &target);
        assert_eq!(e["status"], want, "{e}");
        assert_eq!(doc["dangerous"].as_u64().unwrap() > 0, code == 1, "{want}");
        if code == 1 {
            let repair = doc["repair"].as_str().unwrap();
            assert_eq!(
                repair,
                format!(
                    "emrebuild rebuild --config {} --reference {}",
                    s(&tree.join("Columnstore.xml")),
                    s(&path)
                )
            );
        }
    }

    // An HWM past the file's blocks: the blocks are missing, and the output says how many exist.
    let mut extents = truth.extents.clone();
    extents[i].hwm = 1_000_000;
    let path = dir.path().join("em-hwm-far");
    write_map(&path, extents, EmVersion::V5);
    let doc = verify_json(&tree, &path, 1);
    let e = extent(&doc, &target);
    assert_eq!(e["status"], "hwm_ahead");
    let hwm = e["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "hwm")
        .unwrap();
    assert_eq!(hwm["map"], 1_000_000);
    assert_eq!(hwm["data"], target.hwm);
    assert!(hwm["file_blocks"].as_u64().unwrap() < 1_000_000, "{hwm}");
    let out = emrebuild(
        &[
            "verify",
            "--map",
            s(&path),
            "--config",
            s(&tree.join("Columnstore.xml")),
        ],
        1,
    );
    assert!(text(&out).0.contains("blocks missing"));

    // A record for an OID with no files: missing in data, a dropped table (not in the catalog).
    let mut extents = truth.extents.clone();
    extents.push(stray);
    let path = dir.path().join("em-missing_in_data");
    write_map(&path, extents, EmVersion::V5);
    let doc = verify_json(&tree, &path, 0);
    let e = extent(&doc, &stray);
    assert_eq!(e["status"], "missing_in_data");
    assert_eq!(e["details"][0]["kind"], "not_in_data");
    assert_eq!(e["details"][0]["oid_in_catalog"], false);
    assert_eq!(e["details"][0]["file"], false);

    // The same stray record on the target's LBIDs: both overlap.
    let mut twin = stray;
    twin.range_start = target.range_start;
    let mut extents = truth.extents.clone();
    extents.push(twin);
    let path = dir.path().join("em-overlap");
    write_map(&path, extents, EmVersion::V5);
    let doc = verify_json(&tree, &path, 1);
    assert_eq!(extent(&doc, &target)["status"], "overlap");
    assert_eq!(extent(&doc, &twin)["status"], "overlap");

    // The text names the extent, the status and the repair.
    let out = emrebuild(
        &[
            "verify",
            "--map",
            s(&path),
            "--config",
            s(&tree.join("Columnstore.xml")),
        ],
        1,
    );
    let (stdout, _) = text(&out);
    assert!(stdout.contains("overlap"), "{stdout}");
    assert!(stdout.contains(&format!(
        "repair: emrebuild rebuild --config {} --reference {}",
        s(&tree.join("Columnstore.xml")),
        s(&path)
    )));
    assert!(
        stdout.contains(&format!("{}.{}", f.table, f.column.as_deref().unwrap())),
        "{stdout}"
    );
}

#[test]
fn a_version_4_map_verifies_like_its_version_5_original() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "legacy", "2MiB", 4);
    let v4 = dir.path().join("em.v4");
    emrebuild(
        &[
            "convert",
            s(&tree.join("BRM_saves_em")),
            s(&v4),
            "--em-version",
            "4",
        ],
        0,
    );
    let doc4 = verify_json(&tree, &v4, 0);
    assert_eq!(doc4["map_version"], 4);
    let doc5 = verify_json(&tree, &tree.join("BRM_saves_em"), 0);
    assert_eq!(doc4["counts"], doc5["counts"]);
}

#[test]
fn a_stale_backup_is_dangerous() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "dictionary-heavy", "3MiB", 8);
    // The same tree before its last two loads: its map is the backup.
    let before = dir.path().join("before");
    emrebuild(
        &[
            "gen",
            "--out",
            s(&before),
            "--size",
            "3MiB",
            "--seed",
            "8",
            "--scenario",
            "dictionary-heavy",
            "--before-loads",
            "2",
            "--quiet",
        ],
        0,
    );
    let backup = before.join("BRM_saves_em");
    let doc = verify_json(&tree, &backup, 1);
    assert_eq!(doc["verdict"], "dangerous");
    let old = ExtentMap::read(&backup).unwrap();
    let now = ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    // Extents the loads created are missing in the map; files they grew are behind.
    let mut behind = 0;
    for r in &now.extents {
        let e = extent(&doc, r);
        match old.extents.iter().find(|o| o.address() == r.address()) {
            None => assert_eq!(e["status"], "missing_in_map", "{e}"),
            Some(o) if r.hwm > o.hwm => {
                behind += 1;
                let all: Vec<&str> = e["statuses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect();
                assert!(all.contains(&"hwm_behind"), "{e}");
            }
            Some(_) => {}
        }
    }
    assert!(behind > 0);
    // The new ids are outside the backup's ranges (counts name only each extent's worst status).
    let unsafe_cp = doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["statuses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "cp_unsafe")
        })
        .count();
    assert!(unsafe_cp > 0);
    let out = emrebuild(
        &[
            "verify",
            "--map",
            s(&backup),
            "--config",
            s(&tree.join("Columnstore.xml")),
        ],
        1,
    );
    let (stdout, _) = text(&out);
    assert!(stdout.contains("verdict: DANGEROUS"), "{stdout}");
    assert!(stdout.contains("hwm_behind"), "{stdout}");
    assert!(
        stdout.contains("missing_in_map") == (doc["counts"]["missing_in_map"] != 0),
        "{stdout}"
    );
}

#[test]
fn damaged_files_are_not_verifiable_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "damaged", "2MiB", 5);
    let doc = verify_json(&tree, &tree.join("BRM_saves_em"), 1);
    assert_eq!(doc["verdict"], "unverifiable");
    assert_eq!(doc["dangerous"], 0);
    let m = manifest(&tree);
    // The bad-checksum file's extents are not verifiable.
    let bad = m
        .damaged
        .iter()
        .find(|d| d.damage == emfixtures::damage::Damage::BadChecksum)
        .unwrap();
    let e = doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["address"]["oid"] == bad.oid)
        .unwrap();
    assert_eq!(e["status"], "not_verifiable", "{e}");
}

#[test]
fn errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let out = emrebuild(
        &["verify", "--map", s(&missing), "--dbroot", "1=/nonexistent"],
        2,
    );
    let (_, stderr) = text(&out);
    assert!(stderr.contains("nope"), "{stderr}");
    let out = emrebuild(&["verify", "--map", s(&missing)], 2);
    let (_, stderr) = text(&out);
    assert!(stderr.contains("no DBRoot"), "{stderr}");
    // A map that is not an extent map names the file and the byte offset.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, [0u8; 40]).unwrap();
    let out = emrebuild(
        &[
            "verify",
            "--map",
            s(&junk),
            "--dbroot",
            &format!("1={}", s(dir.path())),
        ],
        2,
    );
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("junk") && stderr.contains("byte 0"),
        "{stderr}"
    );
}

/// The real V4 map of a freshly created catalog (`../shared/real`, EM §6.2: generation A, every
/// column extent "valid but empty", HWM 0) against a generation-A tree whose catalog has since
/// recorded tables: a backup from before any table existed.
#[test]
fn the_real_map_of_a_fresh_catalog_is_a_stale_backup_of_a_used_one() {
    let Some(real) = util::real_v4() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "legacy", "2MiB", 4);
    let doc = verify_json(&tree, &real, 1);
    assert_eq!(doc["map_version"], 4);
    assert_eq!(doc["map_extents"], 41);
    for e in doc["extents"].as_array().unwrap() {
        let oid = e["address"]["oid"].as_i64().unwrap();
        let st = e["status"].as_str().unwrap();
        if oid >= 3000 {
            // Every user table was created after the backup.
            assert_eq!(st, "missing_in_map", "{e}");
        } else {
            // Same catalog layout (both generation A): LBIDs, widths and the HWM (block 0:
            // a few catalog rows) agree; only ranges that now exclude values can be wrong.
            assert!(["match", "cp_unsafe"].contains(&st), "{e}");
        }
    }
    // SYSTABLE.objectid now holds the table OIDs (3000 and up) the empty pair excludes.
    let objectid = doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["address"]["oid"] == 1003)
        .unwrap();
    assert_eq!(objectid["status"], "cp_unsafe", "{objectid}");
    assert_eq!(objectid["name"], "calpontsys.systable.objectid");
}

#[test]
fn gen_refuses_to_leave_out_what_is_not_a_trailing_load() {
    let dir = tempfile::tempdir().unwrap();
    // The mixed history ends with DROP TABLE.
    let out = emrebuild(
        &[
            "gen",
            "--out",
            s(&dir.path().join("t")),
            "--size",
            "2MiB",
            "--before-loads",
            "1",
        ],
        2,
    );
    let (_, stderr) = text(&out);
    assert!(stderr.contains("not a load"), "{stderr}");
}

/// The map's extent holding the HWM of the manifest's file `f` (its last extent).
fn last_extent<'a>(
    map: &'a mut ExtentMap,
    f: &emfixtures::manifest::FileManifest,
) -> &'a mut ExtentRecord {
    map.extents
        .iter_mut()
        .filter(|e| e.oid.0 == f.oid && e.partition == f.partition && e.segment == f.segment)
        .max_by_key(|e| e.block_offset)
        .unwrap()
}

/// Every status that applies to the extent `r` (worst first).
fn statuses(doc: &Value, r: &ExtentRecord) -> Vec<String> {
    extent(doc, r)["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Issue 8, item 4: after a plain DELETE of a table's last rows ColumnStore keeps the old HWM
/// over blocks that hold only EMPTY values: its map is `hwm_ahead_empty` (stale but safe), not
/// `hwm_ahead`; an HWM past the file's blocks stays `hwm_ahead` (dangerous). Which table lost
/// its last rows, and how, comes from the manifest's history.
#[test]
fn a_plain_delete_of_the_last_rows_is_stale_but_safe_and_an_hwm_past_the_file_is_dangerous() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "hwm-status", "1MiB", 11);
    let m = manifest(&tree);
    let table = m.tables.iter().find(|t| t.name == "plain_tail").unwrap();
    let delete = &table.deletes[0];
    assert_eq!(delete.end, table.loads[0].end, "{delete:?}");
    assert_eq!(delete.way, emfixtures::rows::DeleteWay::Empty, "{delete:?}");
    let plain: Vec<_> = m
        .files
        .iter()
        .filter(|f| f.table == "hwm.plain_tail")
        .collect();
    assert_eq!(plain.len(), 4, "3 columns and AUX");

    let truth_path = tree.join("BRM_saves_em");
    let mut truth = ExtentMap::read(&truth_path).unwrap();
    let doc = verify_json(&tree, &truth_path, 0);
    assert_eq!(doc["verdict"], "safe", "{}", doc["counts"]);
    for f in &plain {
        let e = *last_extent(&mut truth, f);
        let st = statuses(&doc, &e);
        assert!(st.contains(&"hwm_ahead_empty".to_string()), "{st:?} {f:?}");
        assert!(!st.contains(&"hwm_ahead".to_string()), "{st:?} {f:?}");
    }

    // One column's HWM past its file's blocks: blocks missing.
    let f = plain
        .iter()
        .find(|f| f.column.as_deref() == Some("qty"))
        .expect("hwm.plain_tail.qty");
    let e = last_extent(&mut truth, f);
    e.hwm = f.block_count as u32;
    let e = *e;
    let past = dir.path().join("past");
    write_map(&past, truth.extents, EmVersion::V5);
    let doc = verify_json(&tree, &past, 1);
    assert_eq!(doc["verdict"], "dangerous");
    assert_eq!(statuses(&doc, &e)[0], "hwm_ahead");
}
