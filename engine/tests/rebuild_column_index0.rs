//! Issue 8, item 9 for column files (SEG §3.9): a column file of several extents whose header
//! records an LBID at index 0 only is either a file whose later extent DML added or a v2 file
//! cpimport upgraded while loading extent 1. The rebuild keeps the header's LBID for extent 0 and
//! reports the ambiguity for exactly those files.
//!
//! The expected files come from the generator's manifest (its own history: which loader created
//! each extent, what each header records), never from the engine.

use emengine::config::ClusterConfig;
use emengine::finding::{Fact, UncertainCause};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions};
use emengine::types::{DbRootId, ExtentAddress, Oid};
use emfixtures::{generate, GenOptions, Scenario};
use std::collections::BTreeSet;

#[test]
fn column_files_whose_header_records_index_zero_only_are_reported_and_keep_it() {
    let mut seen = 0;
    for (scenario, size) in [
        (Scenario::Mixed, 160u64 << 20),
        (Scenario::DmlDictionaryExtents, 1 << 20),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("t");
        let opts = GenOptions {
            seed: 3,
            logical_bytes: size,
            scenario,
            threads: Some(2),
        };
        let m = generate(&tree, &opts, &NoProgress).unwrap();
        let expected: BTreeSet<ExtentAddress> = m
            .files
            .iter()
            .filter(|f| f.kind != "dictionary" && f.extents.len() > 1 && f.header_lbids.len() == 1)
            .map(|f| ExtentAddress {
                oid: Oid(f.oid),
                partition: f.partition,
                segment: f.segment,
                block_offset: 0,
                dbroot: DbRootId(f.dbroot),
            })
            .collect();
        let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
        let rebuilt = rebuild(
            &RebuildOptions {
                dbroots: cfg.dbroots,
                ..RebuildOptions::default()
            },
            &NoProgress,
        )
        .unwrap();
        let got: BTreeSet<ExtentAddress> = rebuilt
            .report
            .uncertain()
            .filter(|u| u.cause == UncertainCause::HeaderIndexZeroAmbiguous)
            .inspect(|u| assert_eq!(u.fact, Fact::Lbid))
            .map(|u| u.extent)
            .collect();
        assert_eq!(got, expected, "{}", scenario.name());
        // The header's LBID stays with extent 0: in the generator's history these extents were
        // added by DML, so it is the true one.
        for f in m.files.iter().filter(|f| {
            expected.contains(&ExtentAddress {
                oid: Oid(f.oid),
                partition: f.partition,
                segment: f.segment,
                block_offset: 0,
                dbroot: DbRootId(f.dbroot),
            })
        }) {
            let e = rebuilt
                .map
                .extents
                .iter()
                .find(|e| {
                    e.oid.0 == f.oid
                        && e.partition == f.partition
                        && e.segment == f.segment
                        && e.block_offset == 0
                })
                .unwrap();
            assert_eq!(e.range_start.0, f.header_lbids[0]);
            assert_eq!(e.range_start.0, f.extents[0].lbid, "{}", f.path);
        }
        seen += expected.len();
    }
    assert!(
        seen > 0,
        "no scenario has a column file with a DML-added extent"
    );
}
