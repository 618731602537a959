//! `emrebuild convert`: V4 ↔ V5, atomic replacement of the output, and refusal to overwrite
//! the input.

mod util;

use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord};
use std::path::{Path, PathBuf};
use util::{emrebuild, real_v4, s};

fn narrow_map(dir: &Path) -> PathBuf {
    let rec = |start: i64, oid: i32| {
        ExtentRecord::builder(oid, start)
            .width(2)
            .hwm(1)
            .partition(1)
            .segment(3)
            .dbroot(2)
            .cp(CasualPartition::narrow(CpState::VALID, -300, 300))
            .build()
    };
    let p = dir.join("BRM_saves_em");
    // A hole between the two extents gives a two-slot free list.
    ExtentMap::from_extents(vec![rec(0, 3000), rec(8192, 3001)])
        .write(&p, EmVersion::V5)
        .unwrap();
    p
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn real_v4_converts_to_the_spec_image_and_back() {
    let Some(real) = real_v4() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v5 = dir.path().join("v5");
    let out = emrebuild(&["convert", s(&real), s(&v5)], 0);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let image = std::fs::read(&v5).unwrap();
    assert_eq!(image.len(), 4748);
    assert_eq!(&image[..4], &[0x20, 0x8b, 0xf7, 0x76]);
    // Every record carries HEAD's upper halves after the upgrade.
    for r in image[12..12 + 41 * 96].chunks(96) {
        assert_eq!(
            &r[72..80],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        );
        assert_eq!(&r[88..96], &[0, 0, 0, 0, 0, 0, 0, 0x80]);
    }
    let v4 = dir.path().join("v4");
    emrebuild(&["convert", s(&v5), s(&v4), "--em-version", "4"], 0);
    assert_eq!(std::fs::read(&v4).unwrap(), std::fs::read(&real).unwrap());
}

#[test]
fn v5_to_v4_to_v5_keeps_the_logical_map() {
    let dir = tempfile::tempdir().unwrap();
    let input = narrow_map(dir.path());
    let v4 = dir.path().join("v4");
    let v5 = dir.path().join("v5");
    emrebuild(&["convert", s(&input), s(&v4), "--em-version", "4"], 0);
    emrebuild(&["convert", s(&v4), s(&v5), "--em-version", "5"], 0);
    let a = std::fs::read(&input).unwrap();
    let b4 = std::fs::read(&v4).unwrap();
    assert_eq!(&b4[..4], &[0x1f, 0x8b, 0xf7, 0x76]);
    assert_eq!(b4.len(), 12 + 2 * 64 + 50 * 16);
    // narrow() records already carry HEAD's upper halves, so the round trip is byte-exact.
    assert_eq!(std::fs::read(&v5).unwrap(), a);
    emrebuild(&["diff", s(&input), s(&v4)], 0);
}

#[test]
fn an_existing_output_is_moved_aside_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let input = narrow_map(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("converted");
    std::fs::write(&target, b"old contents").unwrap();
    // A file that is not an extent map is only replaced (moved aside) with --force.
    let out = emrebuild(&["convert", s(&input), s(&target), "--em-version", "4"], 2);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("refusing to write: it exists and is not an extent map")
            && err.contains("use --force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"old contents");
    let out = emrebuild(
        &[
            "convert",
            s(&input),
            s(&target),
            "--em-version",
            "4",
            "--force",
        ],
        0,
    );
    // The new map in place, the old file kept beside it, no temporary file left over.
    let listing = names(&out_dir);
    assert_eq!(listing.len(), 2, "{listing:?}");
    assert_eq!(listing[0], "converted");
    assert!(listing[1].starts_with("converted.bak-"), "{listing:?}");
    assert_eq!(
        std::fs::read(out_dir.join(&listing[1])).unwrap(),
        b"old contents"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("moved to"));
    let map = ExtentMap::read(&target).unwrap();
    assert_eq!(map.version, EmVersion::V4);
    assert_eq!(map.extents.len(), 2);
    // A failing conversion (bad input) leaves an existing output untouched.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, [0x20, 0x8b, 0xf7, 0x76, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    let before = std::fs::read(&target).unwrap();
    let out = emrebuild(&["convert", s(&bad), s(&target)], 2);
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("at byte 4: invalid extent count (nEM)"));
    assert_eq!(std::fs::read(&target).unwrap(), before);
    assert_eq!(
        names(&out_dir),
        listing,
        "a failed conversion moved or left files"
    );
}

#[test]
fn refuses_to_overwrite_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = narrow_map(dir.path());
    let original = std::fs::read(&input).unwrap();
    let hard = dir.path().join("hardlink");
    std::fs::hard_link(&input, &hard).unwrap();
    let dotted = dir.path().join(".").join("BRM_saves_em");
    let mut candidates = vec![input.clone(), hard, dotted];
    #[cfg(unix)]
    {
        let sym = dir.path().join("symlink");
        std::os::unix::fs::symlink(&input, &sym).unwrap();
        candidates.push(sym);
    }
    for out_path in &candidates {
        let out = emrebuild(&["convert", s(&input), s(out_path), "--em-version", "4"], 2);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with("emrebuild: ") && err.contains("an input of this run"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
        assert_eq!(std::fs::read(&input).unwrap(), original);
    }
}

#[test]
fn wide_extents_cannot_go_to_version_4() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide");
    let wide = ExtentRecord::builder(3000, 0)
        .width(16)
        .cp(CasualPartition::wide(
            CpState::VALID,
            i128::from(i64::MIN) - 1,
            1,
        ))
        .build();
    ExtentMap::from_extents(vec![wide])
        .write(&p, EmVersion::V5)
        .unwrap();
    let out_path = dir.path().join("v4");
    let out = emrebuild(&["convert", s(&p), s(&out_path), "--em-version", "4"], 2);
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("1 extents of width 16 as version 4"));
    assert!(!out_path.exists());
    emrebuild(&["convert", s(&p), s(&out_path), "--em-version", "3"], 2);
    emrebuild(&["convert", s(&p), s(&out_path)], 0);
    assert_eq!(
        std::fs::read(&out_path).unwrap(),
        std::fs::read(&p).unwrap()
    );
}
