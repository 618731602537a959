//! A generated tree for the engine tests that rebuild one: the generator's scenario at a
//! logical size and seed, its manifest (the truth from outside the engine) and the options that
//! rebuild it.
#![allow(dead_code)] // each test file uses its own subset

use emengine::config::ClusterConfig;
use emengine::progress::NoProgress;
use emengine::rebuild::RebuildOptions;
use emfixtures::{generate, GenOptions, Scenario};

/// A generated tree (in `.0`, at `.1`), its manifest and the options that rebuild it.
pub struct Tree(
    pub tempfile::TempDir,
    pub std::path::PathBuf,
    pub emfixtures::Manifest,
    pub RebuildOptions,
);

/// Generate `scenario` of `mib` MiB with `seed` (2 generator threads).
pub fn tree(scenario: Scenario, mib: u64, seed: u64) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed,
        logical_bytes: mib << 20,
        scenario,
        threads: Some(2),
    };
    let m = generate(&tree, &opts, &NoProgress).unwrap();
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
    let ropts = RebuildOptions {
        dbroots: cfg.dbroots,
        ..RebuildOptions::default()
    };
    Tree(dir, tree, m, ropts)
}
