//! `emrebuild rebuild` end to end: the real binary on trees written by `emrebuild gen`.

mod util;

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use util::s;

/// Run the binary, requiring exit code `expect`; stdout and stderr as text.
fn emrebuild(args: &[&str], expect: i32) -> (String, String) {
    util::text(&util::emrebuild(args, expect))
}

/// Run the binary and return its output whatever the exit code (0 or 1 for `diff`).
fn emrebuild_any(args: &[&str]) -> (String, String) {
    let out = Command::cargo_bin("emrebuild")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "emrebuild {}: {:?}",
        args.join(" "),
        out
    );
    util::text(&out)
}

fn gen(dir: &Path, scenario: &str, seed: u64) -> PathBuf {
    let tree = dir.join(format!("tree-{scenario}"));
    let t = tree.to_str().unwrap();
    emrebuild(
        &[
            "gen",
            "--out",
            t,
            "--size",
            "12MiB",
            "--seed",
            &seed.to_string(),
            "--scenario",
            scenario,
        ],
        0,
    );
    tree
}

/// Every file under `dir` with its size and modification time, to prove nothing changed.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<_> = walkdir(dir)
        .into_iter()
        .map(|p| {
            let len = fs::symlink_metadata(&p).map(|m| m.len()).unwrap_or(0);
            (p, len)
        })
        .collect();
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn rebuild_matches_ground_truth_at_one_and_all_threads() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "mixed", 11);
    let cfg = tree.join("Columnstore.xml");
    let truth = tree.join("BRM_saves_em");
    let mut outputs = Vec::new();
    for (threads, mib) in [("1", "16"), ("2", "16"), ("2", "4")] {
        let out = dir.path().join(format!("em-{threads}-{mib}"));
        let (stdout, _) = emrebuild(
            &[
                "rebuild",
                "--config",
                s(&cfg),
                "--output",
                s(&out),
                "--threads",
                threads,
                "--chunk-mib",
                mib,
                "--json",
            ],
            0,
        );
        let report: Value = serde_json::from_str(&stdout).expect("rebuild --json prints JSON");
        for key in [
            "extents",
            "files",
            "skipped",
            "damaged",
            "reassigned",
            "bytes_scanned",
        ] {
            assert!(report.get(key).is_some(), "report lacks {key}: {stdout}");
        }
        assert_eq!(report["written"], true);
        assert!(report["extents"].as_u64().unwrap() > 40, "{stdout}");
        assert!(report["damaged"].as_array().unwrap().is_empty(), "{stdout}");
        outputs.push(fs::read(&out).unwrap());

        // `emrebuild diff` against the ground truth: the same extents, with the same size,
        // width, HWM and status; an LBID differs only for an extent the report lists as
        // re-assigned; CP may differ only where DML history (sequence numbers, ranges DML
        // invalidated) or string collation is involved — engine/tests/rebuild_scenarios.rs
        // checks each of those against the generator's manifest.
        let (diff, _) = emrebuild_any(&["diff", s(&truth), s(&out), "--json"]);
        let diff: Value = serde_json::from_str(&diff).unwrap();
        assert!(diff["only_in_a"].as_array().unwrap().is_empty(), "{diff}");
        assert!(diff["only_in_b"].as_array().unwrap().is_empty(), "{diff}");
        for c in diff["changed"].as_array().unwrap() {
            for f in c["fields"].as_array().unwrap() {
                let field = f["field"].as_str().unwrap();
                assert!(
                    ["lbid", "seq", "cp", "lo", "hi"].contains(&field),
                    "{field} differs: {c}"
                );
                if field == "lbid" {
                    let k = &c["key"];
                    assert!(
                        report["reassigned"].as_array().unwrap().iter().any(|r| r["oid"] == k["oid"]
                            && r["partition"] == k["partition"]
                            && r["segment"] == k["segment"]
                            && r["block_offset"] == k["block_offset"]),
                        "an LBID differs for an extent the report does not list as re-assigned: {c}"
                    );
                }
            }
        }
    }
    assert!(
        outputs.windows(2).all(|w| w[0] == w[1]),
        "output depends on threads or unit size"
    );
}

#[test]
fn dry_run_writes_nothing_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "mixed", 3);
    let before = listing(dir.path());
    let (stdout, stderr) = emrebuild(
        &[
            "rebuild",
            "--config",
            s(&tree.join("Columnstore.xml")),
            "--dry-run",
            "--json",
        ],
        0,
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["written"], false);
    assert!(stderr.contains("dry run"), "{stderr}");
    assert_eq!(listing(dir.path()), before, "a dry run changed the folder");
}

#[test]
fn default_output_moves_the_old_map_aside() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "mixed", 5);
    let cfg = tree.join("Columnstore.xml");
    let xml = fs::read_to_string(&cfg).unwrap();
    let prefix = xml
        .split("<DBRMRoot>")
        .nth(1)
        .unwrap()
        .split("</DBRMRoot>")
        .next()
        .unwrap()
        .trim();
    let em = PathBuf::from(format!("{prefix}_em"));
    fs::create_dir_all(em.parent().unwrap()).unwrap();
    // An old map (here the generator's truth) is moved aside; a file that is not a map needs
    // --force.
    let old_map = fs::read(tree.join("BRM_saves_em")).unwrap();
    fs::write(&em, b"not an extent map").unwrap();
    let (_, e) = emrebuild(&["rebuild", "--config", s(&cfg), "--quiet"], 2);
    assert!(
        e.contains("is not an extent map") && e.contains("--force"),
        "{e}"
    );
    fs::write(&em, &old_map).unwrap();
    emrebuild(&["rebuild", "--config", s(&cfg), "--quiet"], 0);
    let aside: Vec<_> = fs::read_dir(em.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("_em.bak-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(fs::read(&aside[0]).unwrap(), old_map);
    // The new map is a readable extent map.
    emrebuild(&["dump", s(&em), "--format", "json"], 0);
}

#[test]
fn damaged_files_block_the_write_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "damaged", 9);
    let cfg = tree.join("Columnstore.xml");
    let out = dir.path().join("em");
    let (stdout, stderr) = emrebuild(
        &[
            "rebuild",
            "--config",
            s(&cfg),
            "--output",
            s(&out),
            "--json",
        ],
        2,
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let damaged = report["damaged"].as_array().unwrap();
    assert!(damaged.len() >= 4, "{stdout}");
    for d in damaged {
        assert!(
            d["path"].as_str().is_some() && d["error"].as_str().is_some(),
            "{d}"
        );
    }
    assert!(!out.exists(), "a blocked rebuild wrote {}", out.display());
    assert!(stderr.contains("nothing written"), "{stderr}");

    let (stdout, _) = emrebuild(
        &[
            "rebuild",
            "--config",
            s(&cfg),
            "--output",
            s(&out),
            "--json",
            "--allow-damaged",
        ],
        0,
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["written"], true);
    assert!(out.exists());
}

#[test]
fn refuses_bad_invocations_before_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let (_, e) = emrebuild(&["rebuild", "--output", s(&dir.path().join("x"))], 2);
    assert!(e.contains("no DBRoot"), "{e}");
    let data = dir.path().join("data1");
    fs::create_dir_all(&data).unwrap();
    let (_, e) = emrebuild(&["rebuild", "--dbroot", &format!("1={}", s(&data))], 2);
    assert!(e.contains("--output"), "{e}");
    let (_, e) = emrebuild(
        &[
            "rebuild",
            "--dbroot",
            &format!("1={}", s(&data)),
            "--output",
            s(&data.join("em")),
        ],
        2,
    );
    assert!(
        e.contains("refusing to write: it lies among the segment files"),
        "{e}"
    );
    let (_, e) = emrebuild(
        &[
            "rebuild",
            "--dbroot",
            "1=/nonexistent",
            "--output",
            s(&dir.path().join("no/such/dir/em")),
        ],
        2,
    );
    assert!(
        e.contains("the output folder") && e.contains("does not exist"),
        "{e}"
    );
    let (_, e) = emrebuild(
        &["rebuild", "--config", s(&dir.path().join("missing.xml"))],
        2,
    );
    assert!(e.contains("missing.xml"), "{e}");
}
