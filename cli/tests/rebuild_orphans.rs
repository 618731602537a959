//! `emrebuild rebuild` on the generator's `orphans` scenario (issue 8, item 2): a dropped
//! table's files left on disk, whose headers claim a live table's ranges. Left out and listed
//! by default; with `--include-orphans` the column conflicts no token decides stop the write
//! (exit 2, `--allow-lbid-conflict` named) until accepted.

mod util;

use emfixtures::Manifest;
use serde_json::Value;
use std::fs;
use std::path::Path;
use util::{findings, s};

/// `emrebuild rebuild --json` of `dir/t` into `dir/em` with `extra`, requiring exit `expect`.
fn rebuild_json(dir: &Path, extra: &[&str], expect: i32) -> (Value, String) {
    util::rebuild_json(&dir.join("t"), &dir.join("em"), extra, expect)
}

#[test]
fn orphans_are_left_out_and_kept_ones_refused_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    util::emrebuild(
        &[
            "gen",
            "--out",
            s(&t),
            "--scenario",
            "orphans",
            "--size",
            "1MiB",
            "--seed",
            "9",
            "-q",
        ],
        0,
    );
    let m: Manifest = serde_json::from_slice(&fs::read(t.join("manifest.json")).unwrap()).unwrap();
    let orphan_paths: Vec<String> = m
        .orphan_files
        .iter()
        .map(|f| t.join(&f.path).to_string_lossy().into_owned())
        .collect();

    let (report, _) = rebuild_json(dir.path(), &[], 0);
    assert_eq!(report["written"], true);
    let orphans = findings(&report, "orphan");
    assert_eq!(orphans.len(), orphan_paths.len(), "{report}");
    for o in orphans {
        assert!(orphan_paths.iter().any(|p| o["path"] == p.as_str()), "{o}");
        assert_eq!(o["kept"], false);
    }
    assert!(findings(&report, "refused").is_empty(), "{report}");

    // Kept: the column, token and AUX files claim live ranges no token decides.
    let (report, stderr) = rebuild_json(dir.path(), &["--include-orphans"], 2);
    assert_eq!(report["written"], false);
    assert!(stderr.contains("--allow-lbid-conflict"), "{stderr}");
    let conflicts = m
        .orphan_files
        .iter()
        .filter(|f| f.kind != "dictionary")
        .count();
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), conflicts, "{report}");
    assert!(refused
        .iter()
        .all(|r| r["reason"] == "lbid-conflict" && r["accepted"] == false));

    let (report, _) = rebuild_json(
        dir.path(),
        &["--include-orphans", "--allow-lbid-conflict"],
        0,
    );
    assert_eq!(report["written"], true);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), conflicts);
    assert!(refused.iter().all(|r| r["accepted"] == true));
}
