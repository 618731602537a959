//! `emrebuild rebuild` on dictionaries whose LBIDs no file records (issue 8, item 1): the LBIDs
//! come from the tokens, every inference is in the `--json` report; tokens that no placement
//! explains stop the write (exit 2, the flag named) until `--allow-reassigned` is given.

mod util;

use emfixtures::Manifest;
use serde_json::Value;
use std::fs;
use std::path::Path;
use util::{findings, s};

fn emrebuild(args: &[&str], expect: i32) -> (String, String) {
    util::text(&util::emrebuild(args, expect))
}

/// `emrebuild rebuild --json` of the tree in `dir/t` into `dir/em` with `extra` arguments,
/// requiring exit code `expect`: the report (parsed) and stderr.
fn rebuild_json(dir: &Path, extra: &[&str], expect: i32) -> (Value, String) {
    util::rebuild_json(&dir.join("t"), &dir.join("em"), extra, expect)
}

/// `emrebuild gen --scenario dictionary-lbids` into `dir/t`; its manifest.
fn gen(dir: &Path, seed: &str) -> Manifest {
    let t = dir.join("t");
    emrebuild(
        &[
            "gen",
            "--out",
            s(&t),
            "--scenario",
            "dictionary-lbids",
            "--size",
            "8MiB",
            "--seed",
            seed,
            "-q",
        ],
        0,
    );
    serde_json::from_slice(&fs::read(t.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn dictionary_lbids_from_tokens_are_listed_in_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let m = gen(dir.path(), "5");
    let (report, _) = rebuild_json(dir.path(), &[], 0);
    let stdout = report.to_string();
    assert_eq!(report["written"], true);
    // LBIDs inferred from tokens (the rebuild infers CP states from the creation era too).
    let inferred: Vec<&Value> = findings(&report, "inferred")
        .into_iter()
        .filter(|i| i["fact"] == "lbid")
        .collect();
    let expected: Vec<_> = m
        .expected_rebuild
        .reassigned
        .iter()
        .filter(|r| r.from_tokens)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(inferred.len(), expected.len(), "{stdout}");
    for r in expected {
        let i = inferred
            .iter()
            .find(|i| {
                i["extent"]["oid"] == r.oid
                    && i["extent"]["partition"] == r.partition
                    && i["extent"]["segment"] == r.segment
                    && i["extent"]["block_offset"] == r.block_offset
            })
            .unwrap_or_else(|| panic!("no inference for oid {}: {stdout}", r.oid));
        assert_eq!(i["fact"], "lbid");
        assert_eq!(i["value"], r.lbid, "{i}");
        assert_eq!(i["strength"], "exact");
        assert_eq!(i["evidence"]["evidence"], "tokens");
        assert_eq!(i["evidence"]["contradicting"], 0);
        assert!(i["evidence"]["tokens"].as_u64().unwrap() > 0);
    }
    assert!(findings(&report, "refused").is_empty(), "{stdout}");
}

#[test]
fn tokens_no_placement_explains_refuse_the_write_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let m = gen(dir.path(), "6");
    // Every token of an uncompressed token file names string 1023 of its block: no dictionary
    // block holds that many of these strings, so no placement of its dictionary fits them.
    let f = m
        .files
        .iter()
        .find(|f| f.kind == "token" && !f.compressed)
        .expect("an uncompressed token file");
    let path = dir.path().join("t").join(&f.path);
    let mut bytes = fs::read(&path).unwrap();
    for v in bytes.chunks_exact_mut(8) {
        let raw = u64::from_le_bytes(v.try_into().unwrap());
        if raw < 0xFFFF_FFFF_FFFF_FFFE {
            v.copy_from_slice(&(raw | 0x3FF).to_le_bytes());
        }
    }
    fs::write(&path, bytes).unwrap();
    let dict = m
        .tables
        .iter()
        .flat_map(|t| &t.columns)
        .find(|c| c.oid == f.oid)
        .and_then(|c| c.dict_oid)
        .unwrap();

    let (report, stderr) = rebuild_json(dir.path(), &[], 2);
    let stdout = report.to_string();
    assert!(!dir.path().join("em").exists(), "nothing may be written");
    assert!(stderr.contains("--allow-reassigned"), "{stderr}");
    assert!(stderr.contains(&format!("oid {dict} ")), "{stderr}");
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 1, "{stdout}");
    assert_eq!(refused[0]["reason"], "dictionary-lbid-not-established");
    assert_eq!(refused[0]["accepted"], false);
    assert!(refused[0]["extents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["oid"] == dict));

    let (report, _) = rebuild_json(dir.path(), &["--allow-reassigned"], 0);
    assert_eq!(report["written"], true);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["accepted"], true);
}
