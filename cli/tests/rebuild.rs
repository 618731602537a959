//! `emrebuild rebuild` end to end: the real binary on trees written by `emrebuild gen`.

mod util;

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use util::{findings, s};

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
            "bytes_scanned",
            "catalog",
            "kind_sources",
            "counts",
            "findings",
        ] {
            assert!(report.get(key).is_some(), "report lacks {key}: {stdout}");
        }
        assert_eq!(report["written"], true);
        assert!(report["extents"].as_u64().unwrap() > 40, "{stdout}");
        assert!(findings(&report, "damaged").is_empty(), "{stdout}");
        assert_eq!(report["counts"].get("damaged"), None, "{stdout}");
        let reassigned = findings(&report, "reassigned");
        assert_eq!(
            report["counts"]["reassigned"].as_u64().unwrap_or(0),
            reassigned.len() as u64
        );
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
                        reassigned.iter().any(|r| &r["extent"] == k),
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
fn default_output_sits_beside_the_loaded_map_and_never_replaces_it() {
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
    let rebuilt = PathBuf::from(format!("{prefix}_em.rebuilt"));
    fs::create_dir_all(em.parent().unwrap()).unwrap();
    fs::write(&em, b"the map ColumnStore loads").unwrap();
    // An output that is not an extent map needs --force.
    fs::write(&rebuilt, b"not an extent map").unwrap();
    let (_, e) = emrebuild(&["rebuild", "--config", s(&cfg), "--quiet"], 2);
    assert!(
        e.contains("is not an extent map") && e.contains("--force"),
        "{e}"
    );
    // An earlier rebuild (here the generator's truth) is moved aside.
    let earlier = fs::read(tree.join("BRM_saves_em")).unwrap();
    fs::write(&rebuilt, &earlier).unwrap();
    let (_, err) = emrebuild(&["rebuild", "--config", s(&cfg)], 0);
    // The loaded map is untouched; putting the new one in place is `install`'s, and the command
    // that does it is printed.
    assert_eq!(fs::read(&em).unwrap(), b"the map ColumnStore loads");
    assert!(
        err.contains(&format!("emrebuild install --config {}", s(&cfg))),
        "{err}"
    );
    let aside = util::moved_aside(&rebuilt);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(fs::read(&aside[0]).unwrap(), earlier);
    // The new map is a readable extent map.
    emrebuild(&["dump", s(&rebuilt), "--format", "json"], 0);
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
    let damaged = findings(&report, "damaged");
    assert!(damaged.len() >= 4, "{stdout}");
    assert_eq!(
        report["counts"]["damaged"].as_u64(),
        Some(damaged.len() as u64)
    );
    let kinds = [
        "io",
        "truncated",
        "bad-magic",
        "bad-checksum",
        "invalid",
        "decompress",
    ];
    for d in &damaged {
        assert!(d["path"].as_str().is_some(), "{d}");
        assert!(
            kinds.contains(&d["error"].as_str().unwrap_or("")),
            "damaged finding without an error kind: {d}"
        );
        assert!(d["detail"].as_str().is_some_and(|s| !s.is_empty()), "{d}");
    }
    // A checksum error names the byte it was found at.
    assert!(
        damaged
            .iter()
            .any(|d| d["error"] == "bad-checksum" && d["offset"].as_u64().is_some()),
        "{stdout}"
    );
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

/// The map that is there stays there when the rebuilt one could not be loaded by ColumnStore.
#[test]
fn unloadable_maps_are_refused_and_the_old_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BRM_saves_em");
    // Not an extent map, so every run below needs --force to be allowed to replace it.
    fs::write(&out, b"the old extent map").unwrap();

    // An empty DBRoot gives a map with no extents (ColumnStore refuses nEM = 0).
    let empty = dir.path().join("data1");
    fs::create_dir_all(&empty).unwrap();
    let root = format!("1={}", s(&empty));
    let (_, e) = emrebuild(
        &["rebuild", "--dbroot", &root, "-o", s(&out), "-q", "--force"],
        2,
    );
    assert!(e.contains("no extents"), "{e}");
    assert_eq!(fs::read(&out).unwrap(), b"the old extent map");

    // A tree without DBRoot 1 has no system catalog: refused, not written, even when the user
    // accepts the files the catalog would have explained (--allow-damaged).
    let tree = gen(dir.path(), "mixed", 11);
    let others: Vec<String> = fs::read_dir(&tree)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("data") && n != "data1"
        })
        .map(|p| {
            let id = p.file_name().unwrap().to_string_lossy()[4..].to_string();
            format!("{id}={}", s(&p))
        })
        .collect();
    assert!(
        !others.is_empty(),
        "the mixed scenario has DBRoots besides 1"
    );
    let mut args = vec!["rebuild", "-o", s(&out), "--allow-damaged", "--force"];
    for o in &others {
        args.extend(["--dbroot", o.as_str()]);
    }
    let (_, e) = emrebuild(&args, 2);
    assert!(e.contains("without the system catalog"), "{e}");
    assert_eq!(fs::read(&out).unwrap(), b"the old extent map");

    // Width-16 DECIMAL extents cannot keep their min/max in version 4 (EM §1.3).
    let cfg = tree.join("Columnstore.xml");
    let truth = tree.join("BRM_saves_em");
    let (json, _) = emrebuild(&["dump", s(&truth), "--format", "json"], 0);
    assert!(
        json.contains("\"width\":16"),
        "the mixed scenario has wide decimals"
    );
    let (_, e) = emrebuild(
        &[
            "rebuild",
            "--config",
            s(&cfg),
            "-o",
            s(&out),
            "--em-version",
            "4",
            "-q",
            "--force",
        ],
        2,
    );
    assert!(e.contains("of width 16 as version 4"), "{e}");
    assert_eq!(fs::read(&out).unwrap(), b"the old extent map");
}

#[test]
fn reassigned_findings_carry_their_extent_address() {
    // A legacy tree's uncompressed files record no LBIDs: every extent of theirs is re-assigned,
    // and each finding names its extent by address and its reason by kind.
    let dir = tempfile::tempdir().unwrap();
    let tree = gen(dir.path(), "legacy", 4);
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
    let reassigned = findings(&report, "reassigned");
    assert!(!reassigned.is_empty(), "{stdout}");
    for r in &reassigned {
        let e = &r["extent"];
        for key in ["oid", "dbroot", "partition", "segment", "block_offset"] {
            assert!(e[key].is_u64(), "{key} missing in {r}");
        }
        assert!(e["oid"].as_u64().unwrap() >= 3000, "{r}");
        assert!(r["lbid"].as_u64().unwrap() % 1024 == 0, "{r}");
        assert!(
            ["uncompressed", "old-header"].contains(&r["reason"]["reason"].as_str().unwrap()),
            "{r}"
        );
    }
    // The text summary says the same, one line per finding.
    assert_eq!(
        stderr.matches("re-assigned oid ").count(),
        reassigned.len(),
        "{stderr}"
    );
}

#[test]
fn threads_zero_or_far_beyond_the_cores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("em");
    for cmd in ["rebuild", "demo", "bench", "gen"] {
        let mut args: Vec<&str> = vec![cmd, "--threads", "0"];
        if cmd == "rebuild" {
            args.extend(["--dbroot", "1=/nonexistent", "--output", s(&out)]);
        }
        if cmd == "gen" {
            args.extend(["--out", s(&out)]);
        }
        let (_, e) = emrebuild(&args, 2);
        assert!(
            e.contains("--threads") && e.contains("must be at least 1"),
            "{cmd}: {e}"
        );
        args[2] = "100000";
        let (_, e) = emrebuild(&args, 2);
        assert!(
            e.contains("--threads") && e.contains("cores of this machine; give at most"),
            "{cmd}: {e}"
        );
    }
    assert!(!out.exists());
}
