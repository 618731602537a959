//! `place::extent_counts` gives the token claims and the evidence stage the extents `place`
//! writes, because both take a file's last block from one function (`file_last_block`, table
//! rows included, commit 877e789).
//!
//! The case where they used to differ is an AUX file shorter than its table beyond 8 Mi rows.
//! Take a table whose rows reach a segment file's second extent, where a FastDelete emptied
//! those rows in the AUX column only (SEG §5.2, `writeengine.cpp:4625-4651`). Now cut the AUX
//! file after extent 0: its header, pointer list and bytes stop there. Its own data, allocation,
//! chunks and LBIDs then give one extent. The map still holds two, because the table's rows
//! reach extent 1 and the rebuild gives AUX the table's HWM (README stage 6). Before the
//! unification, `extent_counts` left out the table's rows and counted 1 here, while `place`
//! wrote 2.
//!
//! The tree is scenario `upgraded-v2-column` (table `telemetry.pulses`). The one edit is the cut,
//! as a lost file tail or a truncated copy would leave it. The cut removes only EMPTY AUX rows.
//! Expected values come from the generator's manifest and the header bytes (SEG §3.3, §3.4),
//! never from the engine.

use emengine::config::ClusterConfig;
use emengine::progress::NoProgress;
use emengine::rebuild::{catalog, place, rebuild, reconcile, scan_facts, RebuildOptions};
use emengine::seg::file::Access;
use emengine::types::Oid;
use emfixtures::manifest::FileManifest;
use emfixtures::{generate, GenOptions, Manifest, Scenario};
use std::collections::BTreeMap;
use std::path::Path;

/// Control header fields (SEG §3.3) and the pointer section's offset (SEG §3.4).
const BLOCK_COUNT: usize = 32;
const LBID_COUNT: usize = 56;
const LBID_ARRAY: usize = 64;
const POINTERS: usize = 4096;
/// Blocks per 4 MiB chunk (SEG §3.4).
const CHUNK_BLOCKS: u64 = 512;

fn file<'a>(m: &'a Manifest, table: &str, kind: &str, segment: u16) -> &'a FileManifest {
    m.files
        .iter()
        .find(|f| f.table == table && f.kind == kind && f.segment == segment)
        .unwrap_or_else(|| panic!("{table} {kind} segment {segment}"))
}

/// Cut a compressed file after its first `blocks` blocks: header block count and LBID list
/// (one LBID), pointer list and file length (SEG §3.3, §3.4).
fn cut_after(path: &Path, blocks: u64) {
    let mut b = std::fs::read(path).unwrap();
    let u = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let chunks = (blocks / CHUNK_BLOCKS) as usize;
    let end = u(&b, POINTERS + 8 * chunks);
    assert!(
        end > 0 && u(&b, POINTERS + 8 * (chunks + 1)) > end,
        "more chunks follow"
    );
    b[BLOCK_COUNT..BLOCK_COUNT + 8].copy_from_slice(&blocks.to_le_bytes());
    b[LBID_COUNT..LBID_COUNT + 8].copy_from_slice(&1u64.to_le_bytes());
    b[LBID_ARRAY + 8..LBID_ARRAY + 16].fill(0);
    b[POINTERS + 8 * (chunks + 1)..2 * POINTERS].fill(0);
    b.truncate(end as usize);
    std::fs::write(path, b).unwrap();
}

#[test]
fn extent_counts_include_an_aux_extent_only_the_table_rows_establish() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    let opts = GenOptions {
        seed: 9,
        logical_bytes: 1 << 20,
        scenario: Scenario::UpgradedV2Column,
        threads: Some(2),
    };
    let m = generate(&tree, &opts, &NoProgress).unwrap();

    // The generator's history: in segment 0 the data column holds rows in extent 1, the AUX
    // column none (FastDelete), and the map has two extents for both, the AUX one at the
    // table's HWM.
    let aux = file(&m, "telemetry.pulses", "aux", 0);
    let level = file(&m, "telemetry.pulses", "column", 0);
    assert_eq!((aux.extents.len(), level.extents.len()), (2, 2));
    assert_eq!(aux.extents[1].values, 0, "FastDelete left AUX EMPTY there");
    assert!(level.extents[1].values > 0);
    assert_eq!(aux.hwm, level.hwm);
    assert!(aux.hwm >= aux.extents[1].block_offset);
    cut_after(&tree.join(&aux.path), aux.extents[1].block_offset.into());

    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml")).unwrap();
    let opts = RebuildOptions {
        dbroots: cfg.dbroots,
        ..RebuildOptions::default()
    };
    let rebuilt = rebuild(&opts, &NoProgress).unwrap();
    let written: BTreeMap<(Oid, u32, u16), u32> =
        rebuilt
            .map
            .extents
            .iter()
            .fold(BTreeMap::new(), |mut n, e| {
                *n.entry((e.oid, e.partition, e.segment)).or_default() += 1;
                n
            });
    let aux_key = (Oid(aux.oid), aux.partition, aux.segment);
    assert_eq!(
        written[&aux_key], 2,
        "the map keeps the AUX's second extent"
    );
    let hwm = rebuilt
        .map
        .extents
        .iter()
        .filter(|e| (e.oid, e.partition, e.segment) == aux_key)
        .map(|e| e.hwm)
        .max();
    assert_eq!(hwm, Some(aux.hwm), "the table's HWM");

    // The counts the claims and the evidence stage see, from the same public stages the
    // rebuild runs: one per file, equal to the extents written for it.
    let facts = scan_facts(&opts, None, &NoProgress).unwrap();
    let catalog = catalog::load(&facts.found, Access::Read);
    let rows = reconcile::reconcile(&facts.files, &facts.scan, &catalog);
    let counts = place::extent_counts(&facts.files, &facts.scan, &rows);
    let mut checked = 0;
    for (pf, &n) in facts.files.iter().zip(&counts) {
        let id = pf.found.id;
        if let Some(&w) = written.get(&(id.oid, id.partition, id.segment)) {
            assert_eq!(n, w, "{}", pf.found.path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, written.len(), "every file of the map counted");
}
