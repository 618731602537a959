//! A DBRM folder laid out as ColumnStore leaves it, for the backup, restore, lock and CMAPI tests.
#![allow(dead_code)] // each test file uses its own subset

use crate::util::{self, s};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

pub fn emrebuild(args: &[&str], expect: i32) -> (String, String) {
    util::text(&util::emrebuild(args, expect))
}

/// The empty VBBM and VSS images, from the byte layout in EM §4.5 (magic, then zero counts).
pub const EMPTY_VBBM: [u8; 12] = [0x7a, 0x8c, 0xb5, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0];
pub const EMPTY_VSS: [u8; 8] = [0x12, 0xdb, 0x18, 0x72, 0, 0, 0, 0];

pub struct Site {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub config: PathBuf,
    pub dbrm: PathBuf,
    /// The generator's ground-truth map, saved in the folder as `BRM_savesB_em`.
    pub em: Vec<u8>,
}

/// A generated tree whose DBRM folder holds a B snapshot, a journal, VB files and oidbitmap.
pub fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let tree = root.join("tree");
    copy_tree(generated(), &tree);
    let dbrm = tree.join("systemFiles/dbrm");
    let em = fs::read(tree.join("BRM_saves_em")).unwrap();
    fs::write(dbrm.join("BRM_savesB_em"), &em).unwrap();
    fs::write(
        dbrm.join("BRM_savesB_vbbm"),
        [0x7a, 0x8c, 0xb5, 0x1f, 1, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9],
    )
    .unwrap();
    fs::write(
        dbrm.join("BRM_savesB_vss"),
        [0x12, 0xdb, 0x18, 0x72, 0, 0, 0, 0],
    )
    .unwrap();
    fs::write(dbrm.join("BRM_saves_current"), b"BRM_savesB\n").unwrap();
    // One journal record: u32 length 1, opcode 17 (BRM_CLEAR) — EM §4.4.
    fs::write(dbrm.join("BRM_saves_journal"), [1, 0, 0, 0, 17]).unwrap();
    fs::write(dbrm.join("oidbitmap"), vec![0xA5; 64]).unwrap();
    // An older map under the base prefix, not loaded because _current names B.
    fs::write(dbrm.join("BRM_saves_em"), b"stale map, not loaded").unwrap();
    Site {
        config: tree.join("Columnstore.xml"),
        dbrm,
        em,
        root,
        _tmp: tmp,
    }
}

/// One generated tree per test process (`gen` is the slow part); each site gets a copy.
/// (Kept under the build's temporary folder, since a static is never dropped.)
fn generated() -> &'static Path {
    static TREE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("dbrm-site-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let tree = dir.join("tree");
        emrebuild(
            &["gen", "--out", s(&tree), "--size", "4MiB", "--seed", "11"],
            0,
        );
        tree
    })
}

/// Copy a generated tree, pointing its Columnstore.xml at the copy.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else if e.file_name() == "Columnstore.xml" {
            let xml = fs::read_to_string(&src).unwrap();
            fs::write(&dst, xml.replace(s(from), s(to))).unwrap();
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every file under `dir` (recursively) → BLAKE3.
pub fn digests(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let b = fs::read(&p).unwrap();
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    blake3::hash(&b).to_hex().to_string(),
                );
            }
        }
    }
    out
}

/// `backup create` of the site into `<site root>/bk/<name>`; returns `<site root>/bk`.
pub fn back_up(site: &Site, name: &str) -> PathBuf {
    let root = site.root.join("bk");
    emrebuild(
        &[
            "backup",
            "create",
            "--config",
            s(&site.config),
            "--to",
            s(&root),
            "--name",
            name,
        ],
        0,
    );
    root
}

pub fn restore_args<'a>(site: &'a Site, bk: &'a Path) -> Vec<&'a str> {
    vec![
        "restore",
        s(bk),
        "--config",
        s(&site.config),
        "--owner",
        "0:0",
    ]
}

/// The DBRM folder after restoring a backup of [`site`] whose journal was `journal`.
pub fn assert_restored(site: &Site, journal: &[u8]) {
    let d = &site.dbrm;
    assert_eq!(
        fs::read(d.join("BRM_saves_current")).unwrap(),
        b"BRM_saves\n"
    );
    assert_eq!(fs::read(d.join("BRM_saves_em")).unwrap(), site.em);
    assert_eq!(fs::read(d.join("BRM_saves_vbbm")).unwrap(), EMPTY_VBBM);
    assert_eq!(fs::read(d.join("BRM_saves_vss")).unwrap(), EMPTY_VSS);
    assert_eq!(fs::read(d.join("BRM_saves_journal")).unwrap(), journal);
    // Untouched: the B snapshot (no longer named) and the OID allocator.
    assert_eq!(fs::read(d.join("BRM_savesB_em")).unwrap(), site.em);
    assert_eq!(fs::read(d.join("oidbitmap")).unwrap(), vec![0xA5; 64]);
    let names: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".emrebuild")),
        "left-overs: {names:?}"
    );
}

/// The contents of every file in `before` are still somewhere in the folder: nothing was deleted.
pub fn assert_nothing_lost(dir: &Path, before: &BTreeMap<PathBuf, String>) {
    let now: BTreeSet<String> = digests(dir).into_values().collect();
    for (p, d) in before {
        assert!(now.contains(d), "the content of {} is gone", p.display());
    }
}
