//! A cluster without shared storage: generated trees split over "nodes" (folders: DBRoot 1 on
//! node 1, DBRoot 2 on node 2, the rest on node 3), `scan` run per node, `assemble` on the
//! primary. The truth is the one-machine `rebuild` of the same DBRoots: the assembled map must
//! be byte-identical, with the same findings; partials that do not fit together are refused.

mod util;

use std::path::PathBuf;
use util::{emrebuild, findings, s, text};

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
    /// The generator's manifest (its paths are relative to the tree before the move).
    fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("gen/manifest.json")).unwrap()).unwrap()
    }

    /// Where the tree's `rel` path (`data<N>/…`) is now: on the node of DBRoot N.
    fn moved(&self, rel: &str) -> PathBuf {
        let id: u16 = rel
            .split('/')
            .next()
            .and_then(|d| d.strip_prefix("data"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{rel}: not under a DBRoot"));
        self.dir.join(format!("pm{}", node_of(id) + 1)).join(rel)
    }

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
fn assert_assembled_equals_rebuild(c: &Cluster, extra: &[&str]) -> serde_json::Value {
    assert_alike(c, extra, 0)
}

/// `rebuild` and `assemble` with `extra` arguments both exit with `code`: the same report, the
/// same reasons for writing nothing (stderr), and, when they write, the same map bytes. The
/// report, for the caller's own checks.
fn assert_alike(c: &Cluster, extra: &[&str], code: i32) -> serde_json::Value {
    let one = c.dir.join("one_em");
    let assembled = c.dir.join("assembled_em");
    for old in [&one, &assembled] {
        let _ = std::fs::remove_file(old);
    }
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
    let (one_json, one_err) = text(&emrebuild(&args, code));
    let mut extra_asm = vec!["--output", s(&assembled), "--json"];
    extra_asm.extend(extra);
    let (asm_json, asm_err) = c.assemble(&partials, &extra_asm, code);
    if code == 0 {
        let one_bytes = std::fs::read(&one).unwrap();
        assert!(
            one_bytes == std::fs::read(&assembled).unwrap(),
            "the assembled map differs from the one-machine rebuild"
        );
    } else {
        assert!(!one.exists() && !assembled.exists(), "nothing is written");
        // The reasons, each on its own line naming the flag that accepts it (the output path
        // each names is its own).
        let reasons = |err: &str, out: &std::path::Path| -> Vec<String> {
            err.lines()
                .filter(|l| l.contains("--allow-"))
                .map(|l| l.replace(s(out), "OUT"))
                .collect()
        };
        assert!(!reasons(&one_err, &one).is_empty(), "{one_err}");
        assert_eq!(reasons(&asm_err, &assembled), reasons(&one_err, &one));
    }
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
    let one_report = report(&one_json);
    assert_eq!(report(&asm_json), one_report);
    one_report
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
    bytes[8] = 2; // the format before every claiming dictionary carried its token evidence
    std::fs::write(&other, &bytes).unwrap();
    refused(
        &[p1, &other],
        "at byte 8: invalid format version: expected 3 (the version this emrebuild reads), \
         found 2 (an older emrebuild's: scan the node again with this one)",
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
    let manifest = c.manifest();
    let aux = manifest["catalog"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["oid"] == 1012)
        .expect("a generation-C catalog has 1012");
    // The catalog is on DBRoot 1, moved to node pm1.
    std::fs::remove_file(c.moved(aux["path"].as_str().unwrap())).unwrap();
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

/// The manifest's file of `table`.`column`.
fn file<'a>(m: &'a serde_json::Value, table: &str, column: &str) -> &'a serde_json::Value {
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == table && f["column"] == column)
        .unwrap_or_else(|| panic!("no file of {table}.{column}"))
}

#[test]
fn table_rows_a_short_column_and_a_reference_assemble_as_on_one_machine() {
    // hwm-status (one DBRoot, one node): tables whose last rows were deleted or FastDeleted, so
    // that the HWMs come from each table's rows (reconciled in `finish` on the primary).
    let c = cluster("hwm-status", 11);
    let report = assert_assembled_equals_rebuild(&c, &[]);
    assert!(
        findings(&report, "inferred")
            .iter()
            .any(|i| i["evidence"]["evidence"] == "table-rows"),
        "the scenario exercises the table rows: {report}"
    );

    // A column cut short (12 INT blocks of a table with more rows): the same refusal from both,
    // and the same map once accepted.
    let m = c.manifest();
    let qty = file(&m, "hwm.flat", "qty");
    std::fs::OpenOptions::new()
        .write(true)
        .open(c.moved(qty["path"].as_str().unwrap()))
        .unwrap()
        .set_len(12 * 8192)
        .unwrap();
    let report = assert_alike(&c, &[], 2);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 1, "{report}");
    assert_eq!(refused[0]["reason"], "column-rows-disagree");
    assert_eq!(refused[0]["column"], qty["oid"]);
    assert_eq!(refused[0]["accepted"], false);
    let report = assert_assembled_equals_rebuild(&c, &["--allow-hwm-mismatch"]);
    assert_eq!(findings(&report, "refused")[0]["accepted"], true);

    // The generator's map as the reference: its status travels into both maps alike.
    let truth = c.dir.join("gen/BRM_saves_em");
    let report =
        assert_assembled_equals_rebuild(&c, &["--allow-hwm-mismatch", "--reference", s(&truth)]);
    let status = findings(&report, "status-not-in-data");
    assert!(
        status[0]["from_reference"].as_u64().unwrap() > 0,
        "{report}"
    );
}

#[test]
fn dictionary_lbids_decided_by_tokens_assemble_as_on_one_machine() {
    // dictionary-lbids: DBRoots 1 and 2 on two nodes; uncompressed and v2 dictionaries whose
    // LBIDs no header records, decided on the primary from the evidence each node gathered.
    let c = cluster("dictionary-lbids", 5);
    assert_eq!(c.nodes.len(), 2);
    let report = assert_assembled_equals_rebuild(&c, &[]);
    let from_tokens: Vec<_> = findings(&report, "inferred")
        .into_iter()
        .filter(|i| i["fact"] == "lbid" && i["evidence"]["evidence"] == "tokens")
        .collect();
    assert!(!from_tokens.is_empty(), "{report}");
    // Dictionaries on both nodes were decided.
    let dbroots: std::collections::BTreeSet<u64> = from_tokens
        .iter()
        .map(|i| i["extent"]["dbroot"].as_u64().unwrap())
        .collect();
    assert_eq!(dbroots, [1, 2].into(), "{report}");

    // Tokens no placement explains (each names string 1023 of its block) in an uncompressed
    // token file: the same refusal from both, the same map once accepted.
    let m = c.manifest();
    let token = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "token" && f["compressed"] == false)
        .expect("an uncompressed token file");
    let path = c.moved(token["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    for v in bytes.chunks_exact_mut(8) {
        let raw = u64::from_le_bytes(v.try_into().unwrap());
        if raw < 0xFFFF_FFFF_FFFF_FFFE {
            v.copy_from_slice(&(raw | 0x3FF).to_le_bytes());
        }
    }
    std::fs::write(&path, bytes).unwrap();
    let report = assert_alike(&c, &[], 2);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 1, "{report}");
    assert_eq!(refused[0]["reason"], "dictionary-lbid-not-established");
    assert_assembled_equals_rebuild(&c, &["--allow-reassigned"]);
}

/// Copy the tree's file `rel` under OID 2999 (no catalog row names it) onto DBRoot `onto`;
/// returns the copy's path. Its v3 header still records the live file's LBIDs.
fn copy_under_dead_oid(c: &Cluster, f: &serde_json::Value, onto: u16) -> PathBuf {
    let rel = f["path"].as_str().unwrap();
    let tail: Vec<&str> = rel.split('/').collect();
    // data<N>/000.dir/000.dir/OOO.dir/OOO.dir/PPP.dir/FILESSS.cdf: OID 2999 is 000/000/011/183.
    let copy = format!(
        "data{onto}/000.dir/000.dir/011.dir/183.dir/{}/{}",
        tail[5], tail[6]
    );
    let to = c.moved(&copy);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(c.moved(rel), &to).unwrap();
    to
}

/// A live v3 file of `kind` with recorded LBIDs and data past its first block, on DBRoot
/// `dbroot`.
fn live_v3<'a>(m: &'a serde_json::Value, kind: &str, dbroot: u64) -> &'a serde_json::Value {
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["kind"] == kind
                && f["header_version"] == 3
                && f["dbroot"] == dbroot
                && f["hwm"].as_u64().unwrap() > 0
                && !f["header_lbids"].as_array().unwrap().is_empty()
        })
        .unwrap_or_else(|| panic!("no v3 {kind} file on DBRoot {dbroot}"))
}

#[test]
fn orphans_and_lbid_conflicts_are_decided_on_the_primary_as_on_one_machine() {
    // Seed 2: DBRoots 1, 2, 3 and 5 on three nodes (3 and 5 on pm3).
    let c = cluster("mixed", 2);
    let m = c.manifest();
    // A dictionary of DBRoot 3 copied under a dead OID on the same DBRoot (node pm3).
    let dict = live_v3(&m, "dictionary", 3);
    let copy = copy_under_dead_oid(&c, dict, 3);
    let report = assert_assembled_equals_rebuild(&c, &[]);
    let orphans = findings(&report, "orphan");
    assert_eq!(orphans.len(), 1, "{report}");
    assert_eq!(orphans[0]["kept"], false);
    // Kept: both claim the live dictionary's range, the live column's tokens (gathered on pm3)
    // decide for the live dictionary.
    let report = assert_assembled_equals_rebuild(&c, &["--include-orphans"]);
    assert!(findings(&report, "refused").is_empty(), "{report}");
    assert!(findings(&report, "inferred")
        .iter()
        .any(|i| i["fact"] == "lbid" && i["extent"]["oid"] == dict["oid"]));
    std::fs::remove_file(&copy).unwrap();

    // A column copied the same way: no token decides; the same refusal from both, the same
    // map once accepted.
    let col = live_v3(&m, "column", 3);
    let copy = copy_under_dead_oid(&c, col, 3);
    let report = assert_alike(&c, &["--include-orphans"], 2);
    assert!(findings(&report, "refused")
        .iter()
        .all(|r| r["reason"] == "lbid-conflict"));
    assert_assembled_equals_rebuild(&c, &["--include-orphans", "--allow-lbid-conflict"]);
    std::fs::remove_file(&copy).unwrap();

    // The dictionary copied onto another node's DBRoot (2, on pm2): no node sees both claims,
    // but every node carries the evidence of every dictionary that claims a range, so the
    // primary decides by the live column's tokens (gathered on pm3) as one machine does.
    let copy = copy_under_dead_oid(&c, dict, 2);
    let report = assert_assembled_equals_rebuild(&c, &["--include-orphans"]);
    assert!(findings(&report, "refused").is_empty(), "{report}");
    let won = findings(&report, "inferred")
        .into_iter()
        .filter(|i| i["fact"] == "lbid" && i["extent"]["oid"] == dict["oid"])
        .count();
    assert!(won > 0, "the live dictionary keeps its range: {report}");
    let copy_oid = 2999;
    assert!(
        findings(&report, "reassigned")
            .iter()
            .any(|r| r["extent"]["oid"] == copy_oid && r["extent"]["dbroot"] == 2),
        "the copy on the other node loses the range: {report}"
    );

    // Stale tokens (each names string 1023 of its block, which none holds): neither claim
    // fits them, so the tokens cannot decide: the same refusal from both, naming both files'
    // extents, and the same map once accepted.
    let token = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["kind"] == "token"
                && f["table"] == dict["table"]
                && f["column"] == dict["column"]
                && f["dbroot"] == dict["dbroot"]
                && f["partition"] == dict["partition"]
                && f["segment"] == dict["segment"]
        })
        .expect("the live dictionary's token file");
    stale_tokens(&c.moved(token["path"].as_str().unwrap()));
    let report = assert_alike(&c, &["--include-orphans"], 2);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 1, "{report}");
    assert_eq!(refused[0]["reason"], "lbid-conflict");
    let oids: Vec<&serde_json::Value> = refused[0]["extents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["oid"])
        .collect();
    assert!(
        oids.contains(&&dict["oid"]) && oids.contains(&&copy_oid.into()),
        "{report}"
    );
    assert_assembled_equals_rebuild(&c, &["--include-orphans", "--allow-lbid-conflict"]);
    std::fs::remove_file(&copy).unwrap();
}

/// Rewrite the compressed token file at `path` with every string token naming string 1023 of
/// its block (SEG §6.2: the low 10 bits), which no dictionary block of the tree holds: stale
/// tokens that fit no placement. Header, LBIDs and block count are kept.
fn stale_tokens(path: &std::path::Path) {
    use emengine::seg::file::{Access, ChunkReader, SegmentFile};
    use emengine::seg::writer::CompressedWriter;
    let file = SegmentFile::open(path, Access::Read).unwrap();
    let header = file.header().expect("a compressed token file").clone();
    let mut reader = ChunkReader::new();
    let chunks: Vec<Vec<u8>> = (0..file.chunk_count())
        .map(|c| {
            let mut data = file.chunk_data(c, &mut reader).unwrap().to_vec();
            for v in data.chunks_exact_mut(8) {
                let raw = u64::from_le_bytes(v.try_into().unwrap());
                // Not the EMPTY and NULL markers (SEG §6.2).
                if raw < 0xFFFF_FFFF_FFFF_FFFE {
                    v.copy_from_slice(&(raw | 0x3FF).to_le_bytes());
                }
            }
            data
        })
        .collect();
    drop(file);
    let mut w = CompressedWriter::new(std::fs::File::create(path).unwrap(), header).unwrap();
    for data in &chunks {
        w.push_chunk(data, 0).unwrap();
    }
    w.finish().unwrap();
}

/// A second DBRoot on a node of its own (pm2), named in the configuration, that takes `files`
/// (the manifest's paths under `data1/`) from DBRoot 1.
fn move_to_dbroot_2(c: &mut Cluster, files: &[&str]) -> Vec<PathBuf> {
    let root = c.dir.join("pm2/data2");
    let xml = std::fs::read_to_string(&c.config).unwrap();
    let xml = xml
        .replace(
            "<DBRootCount>1</DBRootCount>",
            "<DBRootCount>2</DBRootCount>",
        )
        .replace(
            "</DBRoot1>",
            &format!("</DBRoot1>\n    <DBRoot2>{}</DBRoot2>", root.display()),
        );
    assert!(xml.contains("<DBRoot2>"), "{xml}");
    std::fs::write(&c.config, xml).unwrap();
    let moved = files
        .iter()
        .map(|rel| {
            let to = root.join(rel.strip_prefix("data1/").expect("a file of DBRoot 1"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::rename(c.moved(rel), &to).unwrap();
            to
        })
        .collect();
    c.nodes.insert(1, ("pm2".into(), vec![(2, root)]));
    moved
}

#[test]
fn orphans_on_another_node_than_the_live_table_are_decided_as_on_one_machine() {
    // orphans: a dropped table's files whose headers claim the live table's ranges, the
    // dictionary's among them. The dropped table's files on DBRoot 2 (node pm2), the live
    // table on DBRoot 1 (pm1): no node sees a conflict.
    let mut c = cluster("orphans", 9);
    let m = c.manifest();
    let orphans: Vec<&str> = m["orphan_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(orphans.len(), 4, "column, token, dictionary and AUX");
    let moved = move_to_dbroot_2(&mut c, &orphans);

    let report = assert_assembled_equals_rebuild(&c, &[]);
    let listed = findings(&report, "orphan");
    assert_eq!(listed.len(), 4, "{report}");
    assert!(listed
        .iter()
        .all(|o| o["dbroot"] == 2 && o["kept"] == false));

    // Kept: the dictionary conflict is decided by the live column's tokens (gathered on pm1);
    // the column, token and AUX conflicts, which no token decides, are refused alike.
    let report = assert_alike(&c, &["--include-orphans"], 2);
    let refused = findings(&report, "refused");
    assert_eq!(refused.len(), 3, "{report}");
    assert!(refused.iter().all(|r| r["reason"] == "lbid-conflict"));
    let dict = m["orphan_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "dictionary")
        .unwrap();
    assert!(
        findings(&report, "reassigned")
            .iter()
            .any(|r| r["extent"]["oid"] == dict["oid"] && r["extent"]["dbroot"] == 2),
        "the dropped dictionary on pm2 loses the live one's range: {report}"
    );
    let report =
        assert_assembled_equals_rebuild(&c, &["--include-orphans", "--allow-lbid-conflict"]);
    assert!(findings(&report, "refused")
        .iter()
        .all(|r| r["accepted"] == true));
    assert!(moved.iter().all(|p| p.is_file()));
}

#[test]
fn a_token_file_only_on_another_node_than_its_dictionary_is_refused_naming_both() {
    // dictionary-lbids: DBRoots 1 and 2 on two nodes, dictionaries whose LBIDs no header
    // records, so their tokens decide them. ColumnStore creates a dictionary's file on the
    // DBRoot of its token column's file (writeengine.cpp:1436-1457); here the token file of a
    // DBRoot-2 dictionary is moved to DBRoot 1 (pm1): pm2 cannot read the tokens.
    let c = cluster("dictionary-lbids", 5);
    assert_eq!(c.nodes.len(), 2);
    let m = c.manifest();
    let files = m["files"].as_array().unwrap();
    let (dict, token) = files
        .iter()
        .filter(|d| {
            d["kind"] == "dictionary"
                && d["dbroot"] == 2
                && d["header_lbids"] == serde_json::json!([])
        })
        .find_map(|d| {
            let t = files.iter().find(|t| {
                t["kind"] == "token"
                    && t["table"] == d["table"]
                    && t["column"] == d["column"]
                    && t["dbroot"] == 2
                    && t["partition"] == d["partition"]
                    && t["segment"] == d["segment"]
            })?;
            Some((d, t))
        })
        .expect("a DBRoot-2 dictionary without recorded LBIDs, with its token file");
    let rel = token["path"].as_str().unwrap();
    let to = c
        .dir
        .join("pm1/data1")
        .join(rel.strip_prefix("data2/").unwrap());
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::rename(c.moved(rel), &to).unwrap();

    let partials = c.scan_all(&[]);
    let out = c.dir.join("em");
    let (_, err) = c.assemble(&partials, &["--output", s(&out)], 2);
    let dict_path = c.moved(dict["path"].as_str().unwrap());
    assert!(
        err.contains(&format!(
            "{}: the tokens pointing into it are in {} (DBRoot 1), on another node than the \
             dictionary (DBRoot 2)",
            dict_path.display(),
            to.display()
        )),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written");
}

/// `verify` of `map` against the tree (`partials` empty) or against the nodes' partials: exit
/// code and JSON document.
fn verify_doc(
    c: &Cluster,
    map: &std::path::Path,
    partials: &[PathBuf],
) -> (i32, serde_json::Value) {
    let mut args = vec![
        "verify",
        "--map",
        s(map),
        "--config",
        s(&c.config),
        "--json",
    ];
    if !partials.is_empty() {
        args.push("--partials");
        args.extend(partials.iter().map(|p| s(p)));
    }
    let out = assert_cmd::Command::cargo_bin("emrebuild")
        .unwrap()
        .args(&args)
        .output()
        .unwrap();
    let code = out.status.code().expect("an exit code");
    assert!(
        matches!(code, 0 | 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

/// Every extent's (address, worst status, every status) in a `verify --json` document.
fn statuses(doc: &serde_json::Value) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["address"].to_string(),
                e["status"].clone(),
                e["statuses"].clone(),
            )
        })
        .collect()
}

/// Every status of the extent of the manifest's file `f` (one extent each here).
fn status_of(doc: &serde_json::Value, f: &serde_json::Value) -> Vec<String> {
    let e = doc["extents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["address"]["oid"] == f["oid"])
        .unwrap_or_else(|| panic!("no extent of {f}"));
    e["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// Whether the statuses of `f`'s extent hold `hwm_ahead` (and not the other) or
/// `hwm_ahead_empty`.
fn hwm_status(doc: &serde_json::Value, f: &serde_json::Value) -> &'static str {
    let st = status_of(doc, f);
    match (
        st.iter().any(|s| s == "hwm_ahead"),
        st.iter().any(|s| s == "hwm_ahead_empty"),
    ) {
        (true, false) => "hwm_ahead",
        (false, true) => "hwm_ahead_empty",
        _ => panic!("{st:?} for {f}"),
    }
}

#[test]
fn verify_judges_hwms_past_the_data_from_partials_as_from_the_files() {
    // hwm-status: `plain_tail` lost its last rows to a plain DELETE (its HWMs stay over EMPTY
    // blocks: stale but safe). verify reads the blocks up to the map's HWM on the tree; with
    // partials it judges from the node's facts. Every extent must get the same statuses.
    let c = cluster("hwm-status", 11);
    let m = c.manifest();
    let partials = c.scan_all(&[]);
    let plain: Vec<&serde_json::Value> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["table"] == "hwm.plain_tail")
        .collect();
    assert_eq!(plain.len(), 4, "3 columns and AUX");
    let alike = |map: &std::path::Path| {
        let (code, tree) = verify_doc(&c, map, &[]);
        let (code_p, from_partials) = verify_doc(&c, map, &partials);
        assert_eq!(code_p, code);
        assert_eq!(statuses(&from_partials), statuses(&tree));
        assert_eq!(from_partials["counts"], tree["counts"]);
        tree
    };
    let truth_path = c.dir.join("gen/BRM_saves_em");
    let doc = alike(&truth_path);
    for f in &plain {
        assert_eq!(hwm_status(&doc, f), "hwm_ahead_empty", "{f}");
    }

    // One column raised on its own, inside its file: its table's columns disagree on the row
    // count, so `hwm_ahead` (dangerous) both ways.
    let truth = emengine::em::ExtentMap::read(&truth_path).unwrap();
    let write = |name: &str, raise: &dyn Fn(&serde_json::Value) -> Option<u32>| {
        let mut map = truth.clone();
        for e in map.extents.iter_mut() {
            if let Some(f) = plain.iter().find(|f| f["oid"] == e.oid.0) {
                if let Some(hwm) = raise(f) {
                    e.hwm = hwm;
                }
            }
        }
        let path = c.dir.join(name);
        std::fs::write(&path, map.encode(map.version)).unwrap();
        path
    };
    let qty = plain.iter().find(|f| f["column"] == "qty").unwrap();
    let raised = write("raised_em", &|f| {
        (f["oid"] == qty["oid"]).then(|| f["hwm"].as_u64().unwrap() as u32 + 1)
    });
    let doc = alike(&raised);
    assert_eq!(hwm_status(&doc, qty), "hwm_ahead");

    // Every column of the table at the first row past its abbreviated chunk 0 (256 Ki rows:
    // block 32 × width, SEG §3.8), and each file's header block count (offset 32, SEG §3.4)
    // raised to 64 × width: the HWM is inside the allocated blocks and the only chunk, but
    // past the data that chunk holds. The table's HWMs agree on the row; the blocks are not in
    // the file: `hwm_ahead` both ways (a partial that knew only blocks and chunks would say
    // stale but safe).
    for f in &plain {
        let width = f["width"].as_u64().unwrap();
        assert_eq!(f["abbreviated"], true, "{f}");
        assert_eq!(f["block_count"].as_u64().unwrap(), 32 * width, "{f}");
        let path = c.moved(f["path"].as_str().unwrap());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[32..40].copy_from_slice(&(64 * width).to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
    }
    let partials = c.scan_all(&[]);
    let past = write("past_chunk_em", &|f| {
        Some(32 * f["width"].as_u64().unwrap() as u32)
    });
    let (code, tree) = verify_doc(&c, &past, &[]);
    let (code_p, from_partials) = verify_doc(&c, &past, &partials);
    assert_eq!(code_p, code);
    assert_eq!(statuses(&from_partials), statuses(&tree));
    for f in &plain {
        assert_eq!(hwm_status(&tree, f), "hwm_ahead", "{f}");
    }
}

/// The generator's scenarios of issue 8's cases 3, 6 and 7 split over nodes: a node whose one
/// DBRoot holds no segment file (`empty-dbroot`: DBRoot 2 on pm2), stray `FILE256.cdf` and
/// `FILE257.cdf` copies (skipped alike), a lost catalog file (refused alike, written alike
/// when accepted).
#[test]
fn damage_after_the_fact_scenarios_assemble_as_one_machine_rebuilds() {
    let c = cluster("empty-dbroot", 5);
    assert!(c.nodes.iter().any(|(n, d)| n == "pm2" && d.len() == 1));
    assert_assembled_equals_rebuild(&c, &[]);
    let report = assert_assembled_equals_rebuild(&cluster("segment-256", 7), &[]);
    assert_eq!(findings(&report, "skipped").len(), 2, "{report}");
    let c = cluster("catalog-file-missing", 3);
    assert_alike(&c, &[], 2);
    assert_assembled_equals_rebuild(&c, &["--allow-missing-catalog"]);
}
