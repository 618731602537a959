//! `emrebuild rebuild` on a system catalog that lost a file: refused with exit 2 and the flag
//! named, written when the flag is given (issue 8, item 3).

mod util;

use serde_json::Value;
use std::path::Path;
use util::s;

fn emrebuild(args: &[&str], expect: i32) -> (String, String) {
    util::text(&util::emrebuild(args, expect))
}

fn refusals(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("a findings array")
        .iter()
        .filter(|f| f["kind"] == "refused")
        .collect()
}

#[test]
fn a_missing_catalog_file_is_refused_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--size",
            "2MiB",
            "--seed",
            "5",
            "--scenario",
            "era-c",
        ],
        0,
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(tree.join("manifest.json")).unwrap()).unwrap();
    let aux = manifest["catalog"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["oid"] == 1012)
        .expect("a generation-C catalog has 1012");
    std::fs::remove_file(tree.join(Path::new(aux["path"].as_str().unwrap()))).unwrap();

    let cfg = tree.join("Columnstore.xml");
    let out = dir.path().join("em");
    let args = [
        "rebuild",
        "--config",
        s(&cfg),
        "--output",
        s(&out),
        "--json",
    ];
    let (stdout, stderr) = emrebuild(&args, 2);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["catalog"]["missing"],
        serde_json::json!([1012]),
        "{stdout}"
    );
    let refused = refusals(&report);
    assert_eq!(refused.len(), 1, "{stdout}");
    assert_eq!(refused[0]["reason"], "catalog-file-missing");
    assert_eq!(refused[0]["accepted"], false);
    assert_eq!(refused[0]["extents"][0]["oid"], 1012);
    assert!(stderr.contains("--allow-missing-catalog"), "{stderr}");
    assert!(!out.exists(), "a refused rebuild wrote {}", out.display());

    let mut accepted = args.to_vec();
    accepted.push("--allow-missing-catalog");
    let (stdout, _) = emrebuild(&accepted, 0);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["written"], true);
    assert_eq!(refusals(&report)[0]["accepted"], true);
    assert!(out.exists());
}
