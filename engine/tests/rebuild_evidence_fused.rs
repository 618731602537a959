//! The token evidence the scan gathers while it reads (`EvidenceSource::Scan`) is exactly what
//! reading the wanted files again after the scan gives (`EvidenceSource::Reread`, the evidence
//! stage before the two were fused, and its fallback), on one machine and on a cluster's node,
//! at 1 and 2 threads, with maps and with positioned reads (an uncompressed chunk then comes in
//! 256 KiB pieces), and whatever the unit size.
//!
//! The scenarios are those where a naive fused pass goes wrong: `legacy` (uncompressed, every
//! dictionary wanted, tokens read in pieces), `mixed`, `damaged` (chunks that cannot be read
//! contribute nothing), `dictionary-lbids` (v2 and uncompressed dictionaries, a DELETE's EMPTY
//! tokens), `orphans` (a dropped table's dictionary claiming the live one's range),
//! `upgraded-v2-dictionary` and `dml-dictionary-extents` (dictionaries a header partly
//! settles). Which dictionaries need evidence is checked against the generator's manifest.

mod gen_support;

use emengine::progress::NoProgress;
use emengine::rebuild::evidence::{DictEvidence, EvidenceSource};
use emengine::rebuild::facts::Facts;
use emengine::rebuild::{facts_with_evidence, RebuildOptions};
use emengine::seg::file::Access;
use emfixtures::{Manifest, Scenario};
use std::collections::BTreeSet;

/// A generated tree, its manifest and the options that rebuild it.
fn tree(scenario: Scenario, mib: u64, seed: u64) -> (tempfile::TempDir, Manifest, RebuildOptions) {
    let gen_support::Tree(dir, _, m, opts) = gen_support::tree(scenario, mib, seed);
    (dir, m, opts)
}

fn facts(
    opts: &RebuildOptions,
    node: bool,
    source: EvidenceSource,
    threads: usize,
    access: Access,
    chunk_mib: u32,
) -> Facts {
    let opts = RebuildOptions {
        access,
        chunk_mib,
        ..opts.clone()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| facts_with_evidence(&opts, node, source, &NoProgress))
        .unwrap()
}

/// The evidence of some facts: one machine's as it is, a node's unpacked.
fn evidence(f: &Facts, node: bool) -> Vec<DictEvidence> {
    if node {
        assert!(f.evidence.is_empty());
        f.packed_evidence
            .iter()
            .map(|p| p.unpack().unwrap())
            .collect()
    } else {
        assert!(f.packed_evidence.is_empty());
        f.evidence.clone()
    }
}

/// (OID, partition, segment, DBRoot) of every user dictionary file with an extent whose LBID
/// the manifest says no file records: evidence must be gathered for each.
fn unrecorded_dictionaries(m: &Manifest) -> BTreeSet<(i32, u32, u16, u16)> {
    m.files
        .iter()
        .filter(|f| f.kind == "dictionary" && f.oid >= 3000)
        .filter(|f| f.extents.iter().any(|e| e.lbid_unrecorded.is_some()))
        .map(|f| (f.oid, f.partition, f.segment, f.dbroot))
        .collect()
}

fn named(ev: &[DictEvidence]) -> BTreeSet<(i32, u32, u16, u16)> {
    ev.iter()
        .map(|e| (e.dict.oid.0, e.dict.partition, e.dict.segment, e.dbroot.0))
        .collect()
}

/// Every way of gathering gives the re-read's evidence, for one machine and for a node.
fn every_way_agrees(scenario: Scenario, mib: u64, seed: u64) {
    let (_dir, m, opts) = tree(scenario, mib, seed);
    let must = unrecorded_dictionaries(&m);
    for node in [false, true] {
        let reread = evidence(
            &facts(&opts, node, EvidenceSource::Reread, 1, Access::Mmap, 16),
            node,
        );
        let names = named(&reread);
        assert!(
            names.is_superset(&must),
            "{scenario:?} node {node}: no evidence for {:?}",
            must.difference(&names).collect::<Vec<_>>()
        );
        for threads in [1, 2] {
            for access in [Access::Mmap, Access::Read] {
                for chunk_mib in [4, 16] {
                    for source in [EvidenceSource::Scan, EvidenceSource::ScanOnly] {
                        let fused = evidence(
                            &facts(&opts, node, source, threads, access, chunk_mib),
                            node,
                        );
                        assert!(
                            fused == reread,
                            "{scenario:?} node {node}, {source:?} at {threads} threads, \
                             {access:?}, {chunk_mib} MiB units: {} dictionaries {:?}, re-read \
                             {} {:?}",
                            fused.len(),
                            named(&fused),
                            reread.len(),
                            names,
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn legacy_evidence_from_the_scan_is_the_reread_evidence() {
    let (_dir, m, _) = tree(Scenario::Legacy, 8, 41);
    // Uncompressed user files have no header: every user dictionary is wanted.
    let dictionaries = m
        .files
        .iter()
        .filter(|f| f.kind == "dictionary" && f.oid >= 3000)
        .count();
    assert!(dictionaries >= 2, "{dictionaries}");
    assert_eq!(unrecorded_dictionaries(&m).len(), dictionaries);
    every_way_agrees(Scenario::Legacy, 8, 41);
}

#[test]
fn mixed_and_damaged_evidence_from_the_scan_is_the_reread_evidence() {
    every_way_agrees(Scenario::Mixed, 8, 42);
    every_way_agrees(Scenario::Damaged, 8, 43);
}

#[test]
fn hard_dictionary_evidence_from_the_scan_is_the_reread_evidence() {
    every_way_agrees(Scenario::DictionaryLbids, 8, 44);
    every_way_agrees(Scenario::Orphans, 1, 45);
    every_way_agrees(Scenario::UpgradedV2Dictionary, 1, 46);
    every_way_agrees(Scenario::DmlDictionaryExtents, 1, 47);
}

/// With nothing predicted (`Reread` is the rebuild's path with an empty prediction), the scan
/// gathers nothing and every wanted dictionary (here: every user dictionary, the manifest says)
/// is read again after it, with strings and tokens: the same evidence as the scan gathers.
#[test]
fn a_wanted_dictionary_that_was_not_predicted_is_read_again() {
    let (_dir, m, opts) = tree(Scenario::Legacy, 4, 48);
    let must = unrecorded_dictionaries(&m);
    assert!(!must.is_empty());
    let reread = facts(&opts, false, EvidenceSource::Reread, 2, Access::Read, 4);
    assert_eq!(named(&reread.evidence), must);
    // Every dictionary has strings and tokens naming its blocks.
    for e in &reread.evidence {
        let strings: u64 = e.counts.iter().flatten().map(|&n| u64::from(n)).sum();
        assert!(strings > 0 && !e.tokens.is_empty(), "{:?}", e.dict);
    }
    let fused = facts(&opts, false, EvidenceSource::Scan, 2, Access::Read, 4);
    assert_eq!(fused.evidence, reread.evidence);
}
