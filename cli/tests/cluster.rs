//! A cluster without shared storage: generated trees split over "nodes" (folders: DBRoot 1 on
//! node 1, DBRoot 2 on node 2, the rest on node 3), `scan` run per node, `assemble` on the
//! primary. The truth is the one-machine `rebuild` of the same DBRoots: the assembled map must
//! be byte-identical, with the same findings; partials that do not fit together are refused.

mod util;

use std::path::PathBuf;
use util::{emrebuild, s, text};

/// A generated tree whose DBRoots were moved into one folder per node, with a Columnstore.xml
/// naming them there.
struct Cluster {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    config: PathBuf,
    /// Per node: its name and its DBRoots (id, path).
    nodes: Vec<(String, Vec<(u16, PathBuf)>)>,
}

fn node_of(dbroot: u16) -> usize {
    usize::from(dbroot.min(3)) - 1
}

fn cluster(scenario: &str, seed: u64) -> Cluster {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let tree = dir.join("gen");
    emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--size",
            "4MiB",
            "--seed",
            &seed.to_string(),
            "--scenario",
            scenario,
            "--quiet",
        ],
        0,
    );
    let mut xml = std::fs::read_to_string(tree.join("Columnstore.xml")).unwrap();
    let mut nodes: Vec<(String, Vec<(u16, PathBuf)>)> =
        (1..=3).map(|n| (format!("pm{n}"), Vec::new())).collect();
    let mut ids: Vec<u16> = std::fs::read_dir(&tree)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix("data")?.parse().ok()
        })
        .collect();
    ids.sort();
    for id in ids {
        let n = node_of(id);
        let node_dir = dir.join(&nodes[n].0);
        std::fs::create_dir_all(&node_dir).unwrap();
        let from = tree.join(format!("data{id}"));
        let to = node_dir.join(format!("data{id}"));
        std::fs::rename(&from, &to).unwrap();
        xml = xml.replace(
            &format!(">{}<", from.display()),
            &format!(">{}<", to.display()),
        );
        nodes[n].1.push((id, to));
    }
    nodes.retain(|(_, d)| !d.is_empty());
    let config = dir.join("Columnstore.xml");
    std::fs::write(&config, xml).unwrap();
    Cluster {
        _tmp: tmp,
        dir,
        config,
        nodes,
    }
}

impl Cluster {
    fn partial(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.partial"))
    }

    /// `scan` on every node: the primary (DBRoot 1) first, the others with its partial.
    fn scan_all(&self, extra: &[&str]) -> Vec<PathBuf> {
        let primary = self.partial(&self.nodes[0].0);
        self.nodes
            .iter()
            .map(|(node, dbroots)| {
                let out = self.partial(node);
                let specs: Vec<String> = dbroots
                    .iter()
                    .map(|(id, p)| format!("{id}={}", p.display()))
                    .collect();
                let mut args = vec!["scan", "--out", s(&out), "--node", node, "--quiet"];
                for spec in &specs {
                    args.extend(["--dbroot", spec]);
                }
                if out != primary {
                    args.extend(["--catalog", s(&primary)]);
                }
                args.extend(extra);
                emrebuild(&args, 0);
                out
            })
            .collect()
    }

    /// `assemble` of `partials` with `extra` arguments.
    fn assemble(&self, partials: &[PathBuf], extra: &[&str], code: i32) -> (String, String) {
        let mut args = vec!["assemble", "--config", s(&self.config)];
        args.extend(partials.iter().map(|p| s(p)));
        args.extend(extra);
        text(&emrebuild(&args, code))
    }
}

/// The one-machine rebuild and the assembled partials: same map bytes, same report.
fn assert_assembled_equals_rebuild(c: &Cluster, extra: &[&str]) {
    let one = c.dir.join("one_em");
    let assembled = c.dir.join("assembled_em");
    let partials = c.scan_all(&[]);
    let mut args = vec![
        "rebuild",
        "--config",
        s(&c.config),
        "--output",
        s(&one),
        "--json",
    ];
    args.extend(extra);
    let (one_json, _) = text(&emrebuild(&args, 0));
    let mut extra_asm = vec!["--output", s(&assembled), "--json"];
    extra_asm.extend(extra);
    let (asm_json, _) = c.assemble(&partials, &extra_asm, 0);
    let one_bytes = std::fs::read(&one).unwrap();
    assert!(
        one_bytes == std::fs::read(&assembled).unwrap(),
        "the assembled map differs from the one-machine rebuild"
    );
    let report = |j: &str| {
        let mut v: serde_json::Value = serde_json::from_str(j).unwrap();
        // What the command did: its own output and time; `rebuild` also says how it scanned.
        for k in [
            "output",
            "elapsed_seconds",
            "threads",
            "chunk_mib",
            "moved_aside",
        ] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(report(&asm_json), report(&one_json));
}

#[test]
fn a_mixed_tree_on_three_nodes_assembles_to_the_one_machine_map() {
    // Seed 2 puts DBRoots 1, 2, 3 and 5 in the tree: node 3 holds two of them.
    let c = cluster("mixed", 2);
    assert_eq!(c.nodes.len(), 3);
    assert_eq!(c.nodes[2].1.len(), 2, "node 3 holds DBRoots 3 and 5");
    assert_assembled_equals_rebuild(&c, &[]);

    // verify against the partials says what verify against the DBRoots says, for the map the
    // generator wrote (a stale backup, --before-loads, would do as well).
    let partials: Vec<PathBuf> = c.nodes.iter().map(|(n, _)| c.partial(n)).collect();
    let truth = c.dir.join("gen/BRM_saves_em");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--map",
            s(&truth),
            "--config",
            s(&c.config),
            "--json",
        ];
        args.extend(extra);
        let out = assert_cmd::Command::cargo_bin("emrebuild")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let mut with_partials = vec!["--partials"];
    with_partials.extend(partials.iter().map(|p| s(p)));
    let (code_here, here) = run(&[]);
    let (code_partials, from_partials) = run(&with_partials);
    assert!(matches!(code_here, Some(0 | 1)), "{here}");
    assert_eq!(code_partials, code_here);
    let here: serde_json::Value = serde_json::from_str(&here).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&from_partials).unwrap(),
        here
    );
    // And refuses partials that do not cover the configuration.
    let (_, err) = text(&emrebuild(
        &[
            "verify",
            "--map",
            s(&truth),
            "--config",
            s(&c.config),
            "--partials",
            s(&partials[0]),
        ],
        2,
    ));
    assert!(err.contains("is in no partial"), "{err}");
}

#[test]
fn a_legacy_tree_needs_the_catalog_on_the_other_node_and_assembles_identically() {
    // Legacy: uncompressed files and v2 headers, whose types only the catalog's rows give; the
    // node without DBRoot 1 plans them with the catalog facts of the primary's partial.
    let c = cluster("legacy", 3);
    assert!(c.nodes.len() >= 2);
    assert_assembled_equals_rebuild(&c, &["--em-version", "4"]);

    // Without --catalog, the node refuses to scan rather than guess the types.
    let (node, dbroots) = &c.nodes[1];
    let spec = format!("{}={}", dbroots[0].0, dbroots[0].1.display());
    let out = c.dir.join("no-catalog.partial");
    let (_, err) = text(&emrebuild(
        &["scan", "--dbroot", &spec, "--out", s(&out), "--node", node],
        2,
    ));
    assert!(
        err.contains("DBRoot 1, which holds the system catalog"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_damaged_tree_is_refused_alike_and_assembles_identically_with_allow_damaged() {
    let c = cluster("damaged", 3);
    let partials = c.scan_all(&[]);
    let out = c.dir.join("refused_em");
    let (_, err) = c.assemble(&partials, &["--output", s(&out)], 2);
    assert!(err.contains("--allow-damaged"), "{err}");
    assert!(!out.exists(), "nothing is written without --allow-damaged");
    assert_assembled_equals_rebuild(&c, &["--allow-damaged"]);
}

/// The body of a partial starts after magic (8), format version (4), tool-version length (2),
/// tool version, body length (8) and digest (32).
fn tool_version_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let n = usize::from(u16::from_le_bytes([bytes[12], bytes[13]]));
    14..14 + n
}

#[test]
fn partials_that_do_not_fit_together_are_refused_and_nothing_is_written() {
    let c = cluster("mixed", 1); // DBRoots 1 and 3: nodes pm1 and pm3
    let partials = c.scan_all(&[]);
    let (p1, p3) = (&partials[0], &partials[1]);
    let out = c.dir.join("em");
    let o = ["--output", s(&out)];
    let refused = |list: &[&PathBuf], needle: &str| {
        let list: Vec<PathBuf> = list.iter().map(|p| p.to_path_buf()).collect();
        let (_, err) = c.assemble(&list, &o, 2);
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        assert!(!out.exists(), "nothing written after: {err}");
    };

    refused(&[p1], "DBRoot 3 of the configuration is in no partial");
    refused(&[p3], "catalog facts missing: no partial covers DBRoot 1");
    refused(&[p1, p3, p3], "DBRoot 3 is in two partials");

    // One changed byte in the body: the digest says so, with the body's offset.
    let tampered = c.dir.join("tampered.partial");
    let mut bytes = std::fs::read(p3).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(&tampered, &bytes).unwrap();
    let body_at = tool_version_range(&bytes).end + 40;
    refused(
        &[p1, &tampered],
        &format!("tampered.partial: at byte {body_at}: invalid body digest (blake3)"),
    );

    // Another tool version (same length, every character changed).
    let other = c.dir.join("other-version.partial");
    let mut bytes = std::fs::read(p3).unwrap();
    let range = tool_version_range(&bytes);
    for b in &mut bytes[range.clone()] {
        *b = match *b {
            b'0'..=b'8' => *b + 1,
            b'9' => b'0',
            other => other,
        };
    }
    let version = String::from_utf8(bytes[range].to_vec()).unwrap();
    assert_ne!(version, env!("CARGO_PKG_VERSION"));
    std::fs::write(&other, &bytes).unwrap();
    refused(
        &[p1, &other],
        &format!(
            "written by emrebuild {version}, this is emrebuild {}",
            env!("CARGO_PKG_VERSION")
        ),
    );

    // Another format version.
    let mut bytes = std::fs::read(p3).unwrap();
    bytes[8] = 1; // the format before token evidence and catalog bytes travelled
    std::fs::write(&other, &bytes).unwrap();
    refused(
        &[p1, &other],
        "at byte 8: invalid format version: expected 2 (the version this emrebuild reads), found 1",
    );

    // Not a partial at all.
    refused(&[p1, &c.config], "bad magic");

    // After all that, the right partials still assemble.
    c.assemble(&partials, &o, 0);
    assert!(out.is_file());
}

#[test]
fn scan_reports_its_partial_as_json_and_never_writes_over_an_extent_map() {
    let c = cluster("mixed", 1);
    let (node, dbroots) = &c.nodes[0];
    let spec = format!("1={}", dbroots[0].1.display());
    let out = c.partial(node);
    let (json, _) = text(&emrebuild(
        &[
            "scan",
            "--dbroot",
            &spec,
            "--out",
            s(&out),
            "--node",
            node,
            "--json",
        ],
        0,
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["node"], "pm1");
    assert_eq!(v["dbroots"], serde_json::json!([1]));
    assert_eq!(v["holds_catalog"], true);
    assert_eq!(v["partial_bytes"], std::fs::metadata(&out).unwrap().len());
    // Scanning again replaces the older partial.
    emrebuild(&["scan", "--dbroot", &spec, "--out", s(&out), "--quiet"], 0);

    let em = c.dir.join("gen/BRM_saves_em");
    let before = std::fs::read(&em).unwrap();
    let (_, err) = text(&emrebuild(
        &["scan", "--dbroot", &spec, "--out", s(&em), "--force"],
        2,
    ));
    assert!(err.contains("is an extent map"), "{err}");
    assert_eq!(std::fs::read(&em).unwrap(), before);
}

#[test]
fn a_missing_catalog_file_is_refused_alike_and_assembles_identically_when_accepted() {
    let c = cluster("era-c", 5);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.dir.join("gen/manifest.json")).unwrap()).unwrap();
    let aux = manifest["catalog"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["oid"] == 1012)
        .expect("a generation-C catalog has 1012");
    // The catalog is on DBRoot 1, moved to node pm1.
    std::fs::remove_file(c.dir.join("pm1").join(aux["path"].as_str().unwrap())).unwrap();
    let partials = c.scan_all(&[]);
    let out = c.dir.join("refused_em");
    let (_, err) = c.assemble(&partials, &["--output", s(&out)], 2);
    assert!(err.contains("--allow-missing-catalog"), "{err}");
    assert!(
        !out.exists(),
        "nothing is written without --allow-missing-catalog"
    );
    assert_assembled_equals_rebuild(&c, &["--allow-missing-catalog"]);
}
