//! `gen --storagemanager` and `rebuild --storagemanager`: the real binary rebuilds a tree from
//! its StorageManager layout alone (the DBRoot folders moved away) and writes the same bytes as
//! the rebuild of the plain tree; a missing object is a damaged file naming its key (exit 2).

mod util;

use serde_json::Value;
use std::fs;
use util::s;

#[test]
fn rebuild_through_storagemanager_writes_the_plain_rebuilds_map() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let out = util::emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--size",
            "6MiB",
            "--seed",
            "4",
            "--storagemanager",
            "--object-size",
            "300KiB",
            "--json",
        ],
        0,
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cnf = tree.join("storagemanager/storagemanager.cnf");
    assert_eq!(summary["storagemanager"], s(&cnf));
    let config = tree.join("Columnstore.xml");
    let plain = dir.path().join("plain.em");
    util::emrebuild(
        &[
            "rebuild",
            "--config",
            s(&config),
            "-o",
            s(&plain),
            "--quiet",
        ],
        0,
    );

    // Only the StorageManager layout is left to read.
    let moved = dir.path().join("moved");
    fs::create_dir(&moved).unwrap();
    for entry in fs::read_dir(&tree).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("data") {
            fs::rename(&p, moved.join(&name)).unwrap();
        }
    }
    let via_sm = dir.path().join("sm.em");
    let out = util::emrebuild(
        &[
            "rebuild",
            "--config",
            s(&config),
            "--storagemanager",
            s(&cnf),
            "-o",
            s(&via_sm),
            "--json",
        ],
        0,
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["counts"].get("damaged"),
        None,
        "{}",
        report["counts"]
    );
    assert!(report["files"].as_u64().unwrap() > 0);
    assert!(fs::read(&via_sm).unwrap() == fs::read(&plain).unwrap());

    // A missing object: damaged, named, nothing written.
    let cloud = tree.join("storagemanager/fake-cloud");
    let victim = fs::read_dir(&cloud)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().contains("FILE000.cdf"))
        .unwrap();
    let key = victim.file_name().unwrap().to_str().unwrap().to_string();
    fs::remove_file(&victim).unwrap();
    let blocked = dir.path().join("blocked.em");
    let out = util::emrebuild(
        &[
            "rebuild",
            "--config",
            s(&config),
            "--storagemanager",
            s(&cnf),
            "-o",
            s(&blocked),
        ],
        2,
    );
    let (_, stderr) = util::text(&out);
    assert!(
        stderr.contains(&format!("object {key} at offset"))
            && stderr.contains("missing: neither in the cache"),
        "{stderr}"
    );
    assert!(!blocked.exists());
}

#[test]
fn a_bad_storagemanager_cnf_is_refused_before_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let cnf = dir.path().join("storagemanager.cnf");
    fs::write(&cnf, "[ObjectStorage]\nservice = LocalStorage\n").unwrap();
    let out = util::emrebuild(
        &[
            "rebuild",
            "--dbroot",
            "1=/var/lib/columnstore/data1",
            "--storagemanager",
            s(&cnf),
            "--dry-run",
        ],
        2,
    );
    let (_, stderr) = util::text(&out);
    assert!(
        stderr.contains("ObjectStorage/object_size is not set"),
        "{stderr}"
    );
}
