//! `emrebuild bench` end to end: every figure the issue asks for is reported, and the ones the
//! tree can check are checked against the tree itself (files on disk, the generator's extent
//! map), never against another figure of the same run. Speeds are not asserted.

mod util;

use serde_json::Value;
use std::path::{Path, PathBuf};
use util::s;

/// The stages `bench` breaks a rebuild into (issue 11).
const STAGES: [&str; 7] = [
    "walk",
    "plan",
    "read",
    "decompress",
    "classify",
    "place",
    "write",
];

fn segment_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            segment_files(&p, out);
        } else if p.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n.starts_with("FILE") && n.ends_with(".cdf")
        }) {
            out.push(p);
        }
    }
}

#[test]
fn bench_reports_warm_cold_floors_stages_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    util::emrebuild(
        &[
            "gen",
            "--out",
            s(&tree),
            "--size",
            "6MiB",
            "--seed",
            "3",
            "--quiet",
        ],
        0,
    );
    let out = util::emrebuild(
        &[
            "bench",
            "--tree",
            s(&tree),
            "--runs",
            "1",
            "--threads",
            "2",
            "--cold",
            "--json",
        ],
        0,
    );
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();

    // What the tree holds, counted here: its segment files and their bytes, and the extents of
    // the map the generator wrote.
    let mut files = Vec::new();
    for d in std::fs::read_dir(&tree).unwrap() {
        let d = d.unwrap().path();
        if d.is_dir() {
            segment_files(&d, &mut files);
        }
    }
    let on_disk: u64 = files.iter().map(|p| p.metadata().unwrap().len()).sum();
    let truth = emengine::em::ExtentMap::read(&tree.join("BRM_saves_em")).unwrap();
    let data = &f["data"];
    assert_eq!(data["files"].as_u64(), Some(files.len() as u64));
    assert_eq!(data["extents"].as_u64(), Some(truth.extents.len() as u64));
    // Stored bytes are the chunks and blocks: all of the files but their headers and pointers.
    let stored = data["stored_bytes"].as_u64().unwrap();
    assert!(stored <= on_disk && stored >= on_disk - files.len() as u64 * 3 * 8192);
    assert!(data["stored_compressed_bytes"].as_u64().unwrap() <= stored);
    assert!(data["uncompressed_bytes"].as_u64().unwrap() > 0);

    // Every pass, stage, ratio and memory figure is there.
    for pass in [
        "walk",
        "plan",
        "read",
        "decompress",
        "scan",
        "rebuild",
        "write",
    ] {
        let p = &f["passes"][pass];
        assert!(p["seconds"].as_f64().unwrap() > 0.0, "{pass}");
        assert!(p["peak"]["anon"].as_u64().unwrap() > 0, "{pass}");
        assert!(p["peak"]["file"].is_u64(), "{pass}");
    }
    // Files are memory-mapped by default: the rebuild's mapped pages show in RssFile.
    assert!(f["passes"]["rebuild"]["peak"]["file"].as_u64().unwrap() > 0);
    for stage in STAGES
        .iter()
        .chain(&["walk_us_per_file", "plan_us_per_file"])
    {
        assert!(f["stages"][stage].as_f64().unwrap() >= 0.0, "{stage}");
    }
    let warm = &f["warm"];
    for k in [
        "rebuild_seconds",
        "read_floor_seconds",
        "decompress_floor_seconds",
        "ratio_to_read_floor",
        "ratio_to_decompress_floor",
    ] {
        assert!(warm[k].as_f64().unwrap() > 0.0, "{k}");
    }
    let cold = &f["cold"];
    assert_eq!(cold["eviction"]["files"].as_u64(), Some(files.len() as u64));
    // Files just generated and read are cached; after the eviction the probes must find them
    // gone, or (a file system that cannot answer) say that it could not be checked.
    match cold["eviction_worked"].as_bool() {
        Some(worked) => {
            assert!(worked, "{}", cold["note"]);
            assert!(cold["note"]
                .as_str()
                .unwrap()
                .contains("page cache dropped"));
        }
        None => assert!(cold["note"]
            .as_str()
            .unwrap()
            .contains("could not be checked")),
    }
    assert!(cold["rebuild"]["seconds"].as_f64().unwrap() > 0.0);
    assert!(cold["ratio"].as_f64().unwrap() > 0.0);
    // The CPU bound: the cold rebuilds' least CPU time over the machine's cores, which no
    // schedule beats, so it is never above the wall time of the fastest cold rebuild, and
    // its ratio is never above the ratio.
    let cores = f["machine"]["cores"].as_f64().unwrap();
    let cpu = cold["rebuild_cpu_seconds"].as_f64().unwrap();
    let bound = cold["cpu_bound_seconds"].as_f64().unwrap();
    assert!(cpu > 0.0);
    assert!(
        (bound - cpu / cores).abs() < 1e-9,
        "{bound} vs {cpu} / {cores}"
    );
    let slack = 0.02; // the wall clock and the CPU clocks are read at slightly different times
    assert!(
        bound <= cold["rebuild"]["seconds"].as_f64().unwrap() + slack,
        "{cold}"
    );
    assert!(
        cold["cpu_bound_ratio"].as_f64().unwrap()
            <= cold["ratio"].as_f64().unwrap() * (1.0 + slack) + slack,
        "{cold}"
    );
}

#[test]
fn bench_without_cold_says_so_and_reads_with_no_mmap() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    util::emrebuild(&["gen", "--out", s(&tree), "--size", "2MiB", "--quiet"], 0);
    let out = util::emrebuild(
        &["bench", "--tree", s(&tree), "--runs", "1", "--no-mmap"],
        0,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("cold: not measured (--cold)"), "{text}");
    assert!(text.contains("read,"), "{text}");
    for stage in STAGES {
        assert!(text.contains(&format!("{stage} ")), "{stage}: {text}");
    }
}
