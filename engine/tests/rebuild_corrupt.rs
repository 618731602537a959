//! No damage to the segment files, however placed, makes the rebuild panic: random byte flips
//! and truncations across a generated tree are reported as damage naming the file, or — where
//! the bytes still decode (a value inside a column) — rebuilt as what they now say.

use emengine::config::ClusterConfig;
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emfixtures::{generate, GenOptions, Scenario};
use std::fs;
use std::path::PathBuf;

/// The generator's seeded stream: deterministic choices, so a failure replays.
use emfixtures::rng::Rng;

fn segment_files(root: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "cdf") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn random_damage_is_reported_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed: 77,
        logical_bytes: 4 << 20,
        scenario: Scenario::Mixed,
        threads: Some(2),
    };
    generate(&tree, &opts, &NoProgress).unwrap();
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
    let ropts = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        ..RebuildOptions::default()
    };
    let files: Vec<PathBuf> = cfg
        .dbroots
        .values()
        .flat_map(|r| segment_files(r))
        .collect();
    assert!(files.len() > 50);

    let mut rng = Rng::new(0x5EED);
    let mut reported = 0;
    for round in 0..40 {
        let path = &files[rng.below(files.len() as u64) as usize];
        let original = fs::read(path).unwrap();
        let mut bytes = original.clone();
        if round % 4 == 3 {
            bytes.truncate(rng.below(bytes.len() as u64) as usize);
        } else {
            // Mostly the first 16 KiB (header, pointers, first chunk header), sometimes anywhere.
            let span = if rng.below(3) == 0 {
                bytes.len()
            } else {
                bytes.len().min(16 << 10)
            };
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(span as u64) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        fs::write(path, &bytes).unwrap();
        let r = rebuild(&ropts, &NoProgress).expect("damage is a finding, not an error of the run");
        for d in r.report.damaged() {
            assert!(
                d.path.starts_with(dir.path()) && !d.detail.is_empty(),
                "{d:?}"
            );
        }
        if r.report.damaged().any(|d| &d.path == path) {
            reported += 1;
        }
        fs::write(path, &original).unwrap();
    }
    println!("{reported} of 40 damaged files reported");
    // Most damage lands in compressed headers, pointers or payloads, which checksums catch.
    assert!(
        reported >= 10,
        "only {reported} of 40 damaged files were reported"
    );
}
