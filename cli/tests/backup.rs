//! `backup` and `restore` end to end: the real binary on a DBRM folder laid out as ColumnStore
//! leaves it (a generated tree's extent map saved as `BRM_savesB_em`, `_current` naming it, a
//! non-empty journal, version-buffer files and `oidbitmap`).

mod dbrm_site;
mod util;

use dbrm_site::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use util::s;

fn backup(site: &Site, root: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "backup",
        "create",
        "--config",
        s(&site.config),
        "--to",
        s(root),
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    emrebuild(&args, 0)
}

#[test]
fn backup_copies_the_loaded_save_set_with_a_manifest() {
    let site = site();
    let root = site.root.join("bk");
    let (out, _) = backup(&site, &root, "one", &["--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &doc["manifest"];
    assert_eq!(m["loaded_prefix"], "BRM_savesB");
    let names: BTreeSet<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = [
        "BRM_saves_current",
        "BRM_savesB_em",
        "BRM_savesB_vbbm",
        "BRM_savesB_vss",
        "BRM_saves_journal",
        "oidbitmap",
    ]
    .into();
    assert_eq!(
        names, want,
        "the stale BRM_saves_em is not what ColumnStore loads"
    );
    for f in m["files"].as_array().unwrap() {
        let bytes = fs::read(site.dbrm.join(f["name"].as_str().unwrap())).unwrap();
        assert_eq!(f["size"], bytes.len() as u64);
        assert_eq!(f["blake3"], blake3::hash(&bytes).to_hex().as_str());
    }
    // The generator's manifest says how many extents its map has.
    let gen: serde_json::Value = serde_json::from_slice(
        &fs::read(site.config.parent().unwrap().join("manifest.json")).unwrap(),
    )
    .unwrap();
    let gen_extents = gen["extents"]
        .as_u64()
        .or_else(|| gen["extents"].as_array().map(|a| a.len() as u64));
    if let Some(n) = gen_extents {
        assert_eq!(m["extent_map"]["extents"], n);
    }
    assert_eq!(m["extent_map"]["format_version"], 5);
    assert_eq!(fs::read(root.join("one/BRM_savesB_em")).unwrap(), site.em);
    let (list, _) = emrebuild(&["backup", "list", s(&root)], 0);
    assert!(
        list.lines()
            .any(|l| l.starts_with("one") && l.contains(" OK ")),
        "{list}"
    );
    emrebuild(&["backup", "check", s(&root.join("one"))], 0);
}

#[test]
fn a_bad_current_file_is_an_error_naming_file_and_offset() {
    let site = site();
    fs::write(site.dbrm.join("BRM_saves_current"), b"BRM_savesC\n").unwrap();
    let (_, err) = emrebuild(
        &[
            "backup",
            "create",
            "--config",
            s(&site.config),
            "--to",
            s(&site.root.join("bk")),
        ],
        2,
    );
    assert!(
        err.contains("BRM_saves_current")
            && err.contains("at byte 0")
            && err.contains("\"BRM_savesC\""),
        "{err}"
    );
    // Older releases wrote the absolute prefix: accepted when it is this folder.
    let abs = format!("{}/BRM_savesB\n", site.dbrm.display());
    fs::write(site.dbrm.join("BRM_saves_current"), abs).unwrap();
    let (out, _) = backup(&site, &site.root.join("bk"), "abs", &["--json"]);
    assert!(out.contains("\"loaded_prefix\": \"BRM_savesB\""), "{out}");
}

#[test]
fn a_journal_cut_inside_a_record_is_refused() {
    let site = site();
    // Record 1 whole (4 + 1 bytes), record 2 announces 8 bytes and has 2: being appended to.
    fs::write(
        site.dbrm.join("BRM_saves_journal"),
        [1, 0, 0, 0, 17, 8, 0, 0, 0, 29, 1],
    )
    .unwrap();
    let (_, err) = emrebuild(
        &[
            "backup",
            "create",
            "--config",
            s(&site.config),
            "--to",
            s(&site.root.join("bk")),
        ],
        2,
    );
    assert!(
        err.contains("BRM_saves_journal") && err.contains("at byte 5"),
        "{err}"
    );
    let names: Vec<_> = fs::read_dir(site.root.join("bk"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["objects"],
        "no backup folder, no temporary folder left"
    );
}

#[test]
fn restore_test_mode_changes_no_byte() {
    let site = site();
    let root = site.root.join("bk");
    backup(&site, &root, "one", &[]);
    let before = digests(&site.root);
    let bk = root.join("one");
    let mut args = restore_args(&site, &bk);
    args.push("--test");
    let (out, err) = emrebuild(&args, 0);
    assert!(
        out.contains("step 1: stage") && out.contains("move") && out.contains("BRM_saves_current"),
        "{out}"
    );
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(digests(&site.root), before);
}

#[test]
fn restore_installs_the_map_columnstore_loads() {
    let site = site();
    let root = site.root.join("bk");
    backup(&site, &root, "one", &[]);
    // Changes after the backup: a newer journal. Restoring must not replay it onto the old map.
    fs::write(site.dbrm.join("BRM_saves_journal"), [2, 0, 0, 0, 29, 1]).unwrap();
    let before = digests(&site.dbrm);
    emrebuild(&restore_args(&site, &root.join("one")), 0);
    assert_restored(&site, &[1, 0, 0, 0, 17]);
    assert_nothing_lost(&site.dbrm, &before);
    let aside: Vec<Vec<u8>> = fs::read_dir(&site.dbrm)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".bad-"))
        .map(|p| fs::read(p).unwrap())
        .collect();
    assert!(
        aside.contains(&b"BRM_savesB\n".to_vec()),
        "old _current kept"
    );
    assert!(
        aside.contains(&vec![2, 0, 0, 0, 29, 1]),
        "newer journal kept"
    );
    assert!(
        aside.contains(&b"stale map, not loaded".to_vec()),
        "old BRM_saves_em kept"
    );
}

#[test]
fn an_interrupted_restore_recovers_at_every_step() {
    let probe = site();
    let root = probe.root.join("bk");
    backup(&probe, &root, "one", &[]);
    let bk = root.join("one");
    let mut args = restore_args(&probe, &bk);
    args.push("--test");
    let (plan, _) = emrebuild(&args, 0);
    let steps = plan.lines().filter(|l| l.starts_with("step ")).count();
    assert!(steps >= 10, "{plan}");
    for k in 1..=steps {
        let site = site();
        let root = site.root.join("bk");
        backup(&site, &root, "one", &[]);
        let before = digests(&site.dbrm);
        let bk = root.join("one");
        let mut args = restore_args(&site, &bk);
        let stop = format!("{k}");
        args.extend_from_slice(&["--stop-after-step", &stop]);
        let (_, err) = emrebuild(&args, 2);
        assert!(err.contains(&format!("stopped after step {k}")), "{err}");
        if !site.dbrm.join(".emrebuild-install.json").exists() {
            if k == steps {
                // Stopped after the last step: the restore is complete.
                assert_restored(&site, &[1, 0, 0, 0, 17]);
            } else {
                // Before the intent file: the files in use are untouched.
                let now = digests(&site.dbrm);
                for (p, d) in &before {
                    assert_eq!(now.get(p), Some(d), "step {k}: {} changed", p.display());
                }
            }
        }
        assert_nothing_lost(&site.dbrm, &before);
        emrebuild(&restore_args(&site, &bk), 0);
        assert_restored(&site, &[1, 0, 0, 0, 17]);
        assert_nothing_lost(&site.dbrm, &before);
    }
}

#[test]
fn a_tampered_backup_is_listed_ng_and_refused() {
    let site = site();
    let root = site.root.join("bk");
    backup(&site, &root, "one", &[]);
    let em = root.join("one/BRM_savesB_em");
    let mut bytes = fs::read(&em).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&em, &bytes).unwrap();
    let (list, _) = emrebuild(&["backup", "list", s(&root)], 1);
    assert!(
        list.lines()
            .any(|l| l.starts_with("one") && l.contains(" NG ")),
        "{list}"
    );
    assert!(list.contains("BRM_savesB_em: blake3"), "{list}");
    emrebuild(&["backup", "check", s(&root.join("one"))], 1);
    let before = digests(&site.dbrm);
    let (_, err) = emrebuild(&restore_args(&site, &root.join("one")), 2);
    assert!(err.contains("NG") && err.contains("BRM_savesB_em"), "{err}");
    assert_eq!(digests(&site.dbrm), before);
    // A backup without its manifest is NG too.
    backup(&site, &root, "two", &[]);
    fs::remove_file(root.join("two/manifest.json")).unwrap();
    let (list, _) = emrebuild(&["backup", "list", s(&root)], 1);
    assert!(list.contains("manifest.json is missing"), "{list}");
}

#[test]
fn an_unchanged_file_is_stored_once_and_retain_prunes_the_oldest() {
    use std::os::unix::fs::MetadataExt;
    let site = site();
    let root = site.root.join("bk");
    backup(&site, &root, "a", &[]);
    fs::write(site.dbrm.join("BRM_saves_journal"), [1, 0, 0, 0, 18]).unwrap();
    let (_, err) = backup(&site, &root, "b", &[]);
    assert!(err.contains("1 contents new, 5 already stored"), "{err}");
    let objects = || fs::read_dir(root.join("objects")).unwrap().count();
    assert_eq!(objects(), 7);
    let ino = |p: &str| fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("a/BRM_savesB_em"), ino("b/BRM_savesB_em"));
    assert_ne!(ino("a/BRM_saves_journal"), ino("b/BRM_saves_journal"));
    fs::write(site.dbrm.join("BRM_saves_journal"), [1, 0, 0, 0, 19]).unwrap();
    let (_, err) = backup(&site, &root, "c", &["--retain", "2"]);
    assert!(err.contains("pruned backup a"), "{err}");
    assert!(!root.join("a").exists() && root.join("b").exists() && root.join("c").exists());
    // a's journal was referenced by a alone.
    assert_eq!(objects(), 7);
    emrebuild(&["backup", "list", s(&root)], 0);
}

#[test]
fn rebuild_prints_the_install_command_and_install_does_it() {
    let site = site();
    let out = site.root.join("rebuilt_em");
    let (_, err) = emrebuild(
        &[
            "rebuild",
            "--config",
            s(&site.config),
            "--output",
            s(&out),
            "--quiet",
        ],
        0,
    );
    assert!(err.is_empty(), "{err}");
    let (_, err) = emrebuild(
        &["rebuild", "--config", s(&site.config), "--output", s(&out)],
        0,
    );
    let cmd = err
        .lines()
        .find(|l| l.trim_start().starts_with("emrebuild install"))
        .expect(&err);
    assert!(cmd.contains(&format!("--map {}", out.display())), "{cmd}");
    let before = digests(&site.dbrm);
    emrebuild(
        &[
            "install",
            "--config",
            s(&site.config),
            "--map",
            s(&out),
            "--owner",
            "0:0",
        ],
        0,
    );
    let d = &site.dbrm;
    assert_eq!(
        fs::read(d.join("BRM_saves_current")).unwrap(),
        b"BRM_saves\n"
    );
    assert_eq!(
        fs::read(d.join("BRM_saves_em")).unwrap(),
        fs::read(&out).unwrap()
    );
    assert_eq!(fs::read(d.join("BRM_saves_journal")).unwrap(), b"");
    assert_eq!(fs::read(d.join("BRM_saves_vbbm")).unwrap(), EMPTY_VBBM);
    assert_nothing_lost(d, &before);
    // rebuild --install does the same in one go.
    let site = site_again();
    let before = digests(&site.dbrm);
    emrebuild(
        &[
            "rebuild",
            "--config",
            s(&site.config),
            "--install",
            "--owner",
            "0:0",
            "--quiet",
        ],
        0,
    );
    assert_eq!(
        fs::read(site.dbrm.join("BRM_saves_current")).unwrap(),
        b"BRM_saves\n"
    );
    assert_eq!(fs::read(site.dbrm.join("BRM_saves_journal")).unwrap(), b"");
    // The same seed gives the same tree, so the same rebuilt map as the first site's.
    assert_eq!(
        fs::read(site.dbrm.join("BRM_saves_em")).unwrap(),
        fs::read(&out).unwrap()
    );
    assert_nothing_lost(&site.dbrm, &before);
}

fn site_again() -> Site {
    site()
}

/// `check --config` and `restore` verify the backup's map against the data: a map whose HWM is
/// behind the data (restoring it would lose rows) is reported, and restore refuses it unless
/// `--force`.
#[test]
fn a_backup_behind_the_data_is_reported_and_not_restored_without_force() {
    let site = site();
    let root = site.root.join("bk");
    backup(&site, &root, "good", &[]);
    // The untouched map agrees with the data.
    let (_, err) = emrebuild(
        &[
            "backup",
            "check",
            s(&root.join("good")),
            "--config",
            s(&site.config),
        ],
        0,
    );
    assert!(err.contains("0 dangerous, 0 not verifiable"), "{err}");

    // The same map with one file's HWM one block behind its data: what a backup taken before a
    // load looks like. (Only the extent holding a file's HWM stores it, EM §3.2.)
    let mut map = emengine::em::ExtentMap::parse(&site.em).unwrap();
    let e = map
        .extents
        .iter_mut()
        .find(|e| e.hwm > 0 && e.oid.0 >= 3000)
        .expect("a user extent with an HWM");
    e.hwm -= 1;
    fs::write(
        site.dbrm.join("BRM_savesB_em"),
        map.encode(emengine::em::EmVersion::V5),
    )
    .unwrap();
    backup(&site, &root, "behind", &[]);
    let bk = root.join("behind");
    let (_, err) = emrebuild(&["backup", "check", s(&bk), "--config", s(&site.config)], 1);
    assert!(
        err.contains("1 dangerous") && err.contains("hwm_behind"),
        "{err}"
    );
    let before = digests(&site.dbrm);
    let (_, err) = emrebuild(&restore_args(&site, &bk), 2);
    assert!(
        err.contains("not restored") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        digests(&site.dbrm),
        before,
        "a refused restore changes nothing"
    );
    let mut args = restore_args(&site, &bk);
    args.push("--force");
    emrebuild(&args, 0);
    assert_eq!(
        fs::read(site.dbrm.join("BRM_saves_em")).unwrap(),
        map.encode(emengine::em::EmVersion::V5),
        "--force restores the map as backed up"
    );
}

/// `install` (and so `rebuild --install` and `restore`, which share its check) never puts in
/// place a map ColumnStore could not load or would load without its system catalog.
#[test]
fn install_refuses_maps_columnstore_could_not_load() {
    let site = site();
    let before = digests(&site.dbrm);
    let map = emengine::em::ExtentMap::parse(&site.em).unwrap();
    let cases = [
        (
            // The reader already refuses it (nEM = 0), naming the byte offset.
            emengine::em::ExtentMap::from_extents(Vec::new()),
            "at byte 4: invalid extent count",
        ),
        (
            emengine::em::ExtentMap::from_extents(
                map.extents
                    .iter()
                    .filter(|e| !e.oid.is_system_catalog())
                    .cloned()
                    .collect(),
            ),
            "without the system catalog",
        ),
    ];
    for (i, (bad, why)) in cases.iter().enumerate() {
        let p = site.root.join(format!("bad_em_{i}"));
        fs::write(&p, bad.encode(emengine::em::EmVersion::V5)).unwrap();
        let (_, err) = emrebuild(
            &[
                "install",
                "--config",
                s(&site.config),
                "--map",
                s(&p),
                "--owner",
                "0:0",
            ],
            2,
        );
        assert!(err.contains(why), "{why}: {err}");
        assert_eq!(
            digests(&site.dbrm),
            before,
            "a refused install changes nothing"
        );
    }
}
