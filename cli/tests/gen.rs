//! `emrebuild gen` through the real binary: folder layout, manifest JSON, refusals.

mod util;

use serde_json::Value;
use util::{emrebuild, s};

#[test]
fn gen_writes_the_tree_config_map_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree");
    let o = emrebuild(
        &[
            "gen",
            "--out",
            s(&out),
            "--size",
            "2MiB",
            "--seed",
            "7",
            "--threads",
            "2",
            "--json",
        ],
        0,
    );
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["scenario"], "mixed");
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["requested_logical_bytes"], 2 << 20);
    for f in ["Columnstore.xml", "BRM_saves_em", "manifest.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(out.join("systemFiles/dbrm").is_dir());
    let m: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "emfixtures-manifest");
    assert_eq!(m["seed"], 7);
    let roots = m["dbroots"].as_array().unwrap();
    assert!(roots.len() >= 2);
    let xml = std::fs::read_to_string(out.join("Columnstore.xml")).unwrap();
    assert!(xml.contains(&format!("<DBRootCount>{}</DBRootCount>", roots.len())));
    for r in roots {
        let id = r["id"].as_u64().unwrap();
        let p = out.join(r["path"].as_str().unwrap());
        assert!(p.is_dir());
        let abs = std::fs::canonicalize(&p).unwrap();
        assert!(
            xml.contains(&format!("<DBRoot{id}>{}</DBRoot{id}>", abs.display())),
            "{xml}"
        );
    }
    let abs = std::fs::canonicalize(&out).unwrap();
    assert!(xml.contains(&format!(
        "<DBRMRoot>{}/systemFiles/dbrm/BRM_saves</DBRMRoot>",
        abs.display()
    )));
    assert!(xml.contains("<FilesPerColumnPartition>4</FilesPerColumnPartition>"));
    // Every file the manifest lists exists, and the catalog is on DBRoot 1.
    let files = m["files"].as_array().unwrap();
    assert!(files.len() > 20);
    for f in files {
        assert!(
            out.join(f["path"].as_str().unwrap()).is_file(),
            "{}",
            f["path"]
        );
    }
    let cat = m["catalog"]["files"].as_array().unwrap();
    assert!(cat.len() >= 41);
    assert!(cat
        .iter()
        .all(|f| f["path"].as_str().unwrap().starts_with("data1/")));
    // The ground truth map holds one record per extent listed.
    let em = std::fs::read(out.join("BRM_saves_em")).unwrap();
    assert_eq!(&em[..4], &[0x20, 0x8b, 0xf7, 0x76], "V5 magic");
    let n_em = u32::from_le_bytes(em[4..8].try_into().unwrap()) as usize;
    let listed: usize = files
        .iter()
        .map(|f| f["extents"].as_array().unwrap().len())
        .sum::<usize>()
        + cat.len();
    assert_eq!(n_em, listed);
    assert_eq!(summary["extents"].as_u64().unwrap() as usize, listed);
}

#[test]
fn gen_refuses_a_non_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), b"mine").unwrap();
    let o = emrebuild(&["gen", "--out", s(dir.path()), "--size", "2MiB"], 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("emrebuild: ") && err.contains("not empty"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(std::fs::read(dir.path().join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn gen_rejects_bad_sizes_and_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    for size in ["12apples", "1.5GiB", "", "-3MiB", "100"] {
        let arg = format!("--size={size}");
        let o = emrebuild(&["gen", "--out", s(&out), &arg], 2);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("size"), "{size}: {err}");
        assert!(!out.exists(), "nothing written for {size:?}");
    }
    let o = emrebuild(&["gen", "--out", s(&out), "--scenario", "chaos"], 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown scenario"));
    assert!(!out.exists());
}
