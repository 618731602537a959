//! Issue 8, item 1 with `--reference`: a dictionary extent the tokens alone do not settle is
//! established by a reference LBID that every token fits, and still refused when the tokens
//! contradict the reference.
//!
//! The tree is the generator's `dictionary-lbids` scenario, edited: an uncompressed dictionary
//! (no file records its LBIDs) gets a copy of its filled blocks 1024 blocks further on, so that
//! both its true start and the start 1024 LBIDs lower put every token on a block holding the
//! same strings — the tokens alone cannot tell them apart. Expected values come from the
//! generator's ground-truth map and from the edit (the copied blocks), never from the rebuild.

use emengine::config::ClusterConfig;
use emengine::em::{ExtentMap, ExtentRecord};
use emengine::finding::{Conflict, Evidence, Finding, RefusalReason, Strength};
use emengine::progress::NoProgress;
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::types::{ExtentAddress, Lbid, BLOCK_SIZE};
use emfixtures::{generate, GenOptions, Scenario};
use std::path::{Path, PathBuf};

struct Edited {
    _dir: tempfile::TempDir,
    root: PathBuf,
    truth: ExtentMap,
    /// The edited dictionary extent as the ground truth has it.
    extent: ExtentRecord,
    /// Its last non-empty block after the edit.
    hwm: u32,
}

/// Generate the tree and copy blocks `0 ..= hwm` of one single-extent uncompressed dictionary
/// to blocks `1024 ..= 1024 + hwm` (the blocks between: copies of an empty block of its own).
fn edited() -> Edited {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    let opts = GenOptions {
        seed: 71,
        logical_bytes: 8 << 20,
        scenario: Scenario::DictionaryLbids,
        threads: Some(2),
    };
    let m = generate(&root, &opts, &NoProgress).unwrap();
    let truth = ExtentMap::read(&root.join(&m.extent_map)).unwrap();
    let f = m
        .files
        .iter()
        .find(|f| {
            f.kind == "dictionary" && !f.compressed && f.extents.len() == 1 && f.hwm + 1 < 256
        })
        .expect("an uncompressed single-extent dictionary with empty blocks");
    let path = root.join(&f.path);
    let bytes = std::fs::read(&path).unwrap();
    let bs = BLOCK_SIZE;
    let filled = (f.hwm as usize + 1) * bs;
    let empty = &bytes[filled..filled + bs];
    let mut out = bytes.clone();
    while out.len() < 1024 * bs {
        out.extend_from_slice(empty);
    }
    out.extend_from_slice(&bytes[..filled]);
    std::fs::write(&path, out).unwrap();
    let extent = *truth
        .extents
        .iter()
        .find(|e| e.oid.0 == f.oid && e.partition == f.partition && e.segment == f.segment)
        .unwrap();
    Edited {
        _dir: dir,
        root,
        truth,
        extent,
        hwm: 1024 + f.hwm,
    }
}

fn run(root: &Path, reference: Option<ExtentMap>) -> Rebuilt {
    let cfg = ClusterConfig::read(&root.join("Columnstore.xml")).unwrap();
    let opts = RebuildOptions {
        dbroots: cfg.dbroots,
        reference,
        ..RebuildOptions::default()
    };
    rebuild(&opts, &NoProgress).unwrap()
}

fn refused(r: &Rebuilt, a: ExtentAddress) -> bool {
    r.report
        .blocking_refusals()
        .any(|x| x.reason == RefusalReason::DictionaryLbidNotEstablished && x.extents.contains(&a))
}

/// The edited tree with the reference `truth`, the edited extent moved to `lbid`.
fn reference_at(t: &Edited, lbid: i64) -> ExtentMap {
    let mut map = t.truth.clone();
    for e in &mut map.extents {
        if e.address() == t.extent.address() {
            e.range_start = Lbid(lbid);
        }
    }
    map
}

#[test]
fn a_reference_lbid_every_token_fits_establishes_the_extent_and_a_contradicted_one_does_not() {
    let t = edited();
    let a = t.extent.address();
    let start = t.extent.range_start.0;

    // Without a reference: the tokens fit two starts; refused.
    let r = run(&t.root, None);
    assert!(refused(&r, a), "{:#?}", r.report.findings);

    // With the ground truth as reference: written, exactly the ground truth's record but for
    // the HWM, which the copied blocks raised.
    let r = run(&t.root, Some(t.truth.clone()));
    assert_eq!(
        r.report.blocking_refusals().count(),
        0,
        "{:#?}",
        r.report.findings
    );
    let got = r.map.extents.iter().find(|e| e.address() == a).unwrap();
    let want = ExtentRecord {
        hwm: t.hwm,
        ..t.extent
    };
    assert_eq!(*got, want);
    let i = r
        .report
        .inferred()
        .find(|i| i.extent == a && i.fact == emengine::finding::Fact::Lbid)
        .unwrap();
    assert_eq!(i.value, start);
    assert_eq!(i.strength, Strength::Strong);
    assert!(
        matches!(i.evidence, Evidence::ReferenceAndTokens { tokens, .. } if tokens > 0),
        "{i:?}"
    );
    // Every other extent at the ground truth's LBID (their CP is other tests' business).
    for e in t.truth.extents.iter().filter(|e| e.address() != a) {
        let got = r.map.extents.iter().find(|x| x.address() == e.address());
        assert_eq!(
            got.map(|x| x.range_start),
            Some(e.range_start),
            "{}",
            e.address()
        );
    }

    // A reference 2048 LBIDs lower puts the tokens on blocks 2048 and up: empty. Reported, not
    // used, still refused.
    let r = run(&t.root, Some(reference_at(&t, start - 2048)));
    assert!(refused(&r, a), "{:#?}", r.report.findings);
    let reported = r.report.findings.iter().any(|f| {
        matches!(f, Finding::ReferenceContradicted(c) if c.extent == a
            && matches!(c.conflict, Conflict::TokensContradict { reference, .. } | Conflict::RangeOverlaps { reference, .. } if reference.0 == start - 2048))
    });
    assert!(reported, "{:#?}", r.report.findings);
    let got = r.map.extents.iter().find(|e| e.address() == a).unwrap();
    assert_ne!(got.range_start.0, start - 2048);
}
