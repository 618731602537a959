//! Files of OIDs the catalog does not list as live when the catalog's rows cannot be read
//! (issue 8, item 2).
//!
//! The tree is the generator's `orphans` scenario: a dropped table's files left on disk, whose
//! v3 headers claim the ranges of a live table of the same shape (its manifest's
//! `orphan_files`). How they are left out, kept, and how the LBID conflicts they bring are
//! decided or refused is tested on that scenario in `rebuild_hard_scenarios.rs`
//! (`files_of_a_dropped_table_are_left_out_or_kept_as_promised`).

use emengine::config::ClusterConfig;
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emfixtures::{generate, GenOptions, Scenario};

#[test]
fn without_readable_catalog_rows_every_file_is_kept_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed: 84,
        logical_bytes: 1 << 20,
        scenario: Scenario::Orphans,
        threads: Some(2),
    };
    let m = generate(&tree, &opts, &NoProgress).unwrap();
    assert!(!m.orphan_files.is_empty());
    // SYSCOLUMN's column-name file cut to a partial block: the rows cannot be read, so no OID
    // is known to be dead; dropping files then could drop live data.
    let syscolumn = m.catalog.files.iter().find(|f| f.oid == 1021).unwrap();
    std::fs::write(tree.join(&syscolumn.path), [0u8; 100]).unwrap();
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
    let ropts = RebuildOptions {
        dbroots: cfg.dbroots,
        ..RebuildOptions::default()
    };
    let r = rebuild(&ropts, &NoProgress).unwrap();
    assert!(r.report.orphans().next().is_none());
    let not_checked: Vec<usize> = r
        .report
        .findings
        .iter()
        .filter_map(|f| match f {
            emengine::finding::Finding::OrphansNotChecked { files } => Some(*files),
            _ => None,
        })
        .collect();
    // Every user file the rebuild could type (the orphans included; files only the rows could
    // type are unresolved without them).
    let typed = m.files.len() + m.orphan_files.len() - r.report.unresolved().count();
    assert_eq!(not_checked, [typed], "{:?}", r.report.findings);
    for f in &m.orphan_files {
        assert!(
            r.map.extents.iter().any(|e| e.oid.0 == f.oid),
            "{} left out",
            f.path
        );
    }
}
