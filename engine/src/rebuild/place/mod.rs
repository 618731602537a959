//! Place: planned files + scan results → extent records with LBIDs, HWM and casual partitioning.
//!
//! Runs after the scan. Each rule has its own submodule, citing its spec section:
//!
//! | submodule | rule |
//! |---|---|
//! | [`hwm`] | how many extents a file has and the HWM its last extent carries (EM §3.2, SEG §2.3) |
//! | [`cp`] | min/max and CP state per type (EM §2.1–2.4, SEG §5.2) |
//! | [`era`] | the CP state an extent is created with, per release (EM §2.1 "Era") |
//! | [`lbid`] | LBIDs from the header's list or the catalog's replayed layout; first fit for the rest (SEG §2.3, §3.9; EM §1.10) |
//! | [`tokens`] | dictionary LBIDs the headers do not settle, and LBID conflicts, decided by the tokens pointing into them (SEG §6.2) |
//! | [`reference`] | LBIDs the data leaves unknown, status and sequence numbers from a reference map (`--reference`) |
//!
//! Every extent of every file is built first (with the LBID it wants, or why it has none), then
//! LBIDs are assigned in one pass: known ones in LBID order, the others first fit.

pub mod cp;
pub mod era;
pub mod hwm;
pub mod lbid;
pub mod reference;
pub mod tokens;

use super::plan::FileFacts;
use super::reconcile::TableRows;
use super::scan::ScanFacts;
use super::stats::ExtentStats;
use crate::em::ExtentRecord;
use crate::finding::{Fact, Reassigned, ReferenceConflict, Uncertain, UncertainCause};
use crate::types::{Lbid, Oid, BLOCKS_PER_CHUNK};
use std::collections::{BTreeMap, BTreeSet};

/// The placed extents and what placing them had to decide.
#[derive(Debug, Default)]
pub struct Placement {
    pub extents: Vec<ExtentRecord>,
    pub reassigned: Vec<Reassigned>,
    pub uncertain: Vec<Uncertain>,
    /// What a reference map supplied and where it contradicts the data (empty without one).
    pub from_reference: reference::Supplied,
}

/// Where LBIDs come from besides the headers, in the order they are consulted.
pub struct LbidSources<'a> {
    /// The replayed catalog LBIDs (first extent of each catalog file).
    pub syscat: &'a BTreeMap<Oid, Lbid>,
    /// Overrides of the LBID an extent wants (`(file index, extent index)` → LBID or why not),
    /// as the token evidence decided it ([`tokens::decide`]).
    pub decided: &'a tokens::Decisions,
    /// An older map for what the data cannot settle (`--reference`).
    pub reference: Option<&'a reference::Reference<'a>>,
    /// Where the tokens contradict the reference ([`tokens::Decided::reference_conflicts`]).
    pub reference_conflicts: &'a [ReferenceConflict],
}

/// Place every extent of every planned file.
/// `rows` are the tables' reconciled row counts; `origins` say how each file's extents came to
/// be ([`era::origins`], same order as `files`); `without_file` are extents whose LBID is known
/// but whose file is missing (catalog files, placed at their `range_start`, so that no other
/// extent takes their range).
pub fn place(
    files: &[FileFacts],
    scan: &ScanFacts,
    lbids: LbidSources<'_>,
    rows: &TableRows,
    origins: &[cp::Origin],
    without_file: Vec<ExtentRecord>,
) -> Placement {
    let LbidSources {
        syscat: syscat_lbids,
        decided,
        reference,
        reference_conflicts,
    } = lbids;
    let damaged = damaged_chunks(scan);
    let table_rows = rows.index();
    let mut uncertain = Vec::new();
    let mut pending = Vec::new();
    for (i, pf) in files.iter().enumerate() {
        let per_extent: BTreeMap<u32, &ExtentStats> = scan
            .stats
            .range((i, 0)..(i + 1, 0))
            .map(|(&(_, k), s)| (k, s))
            .collect();
        let damaged = damaged.get(&i);
        let rows = table_rows.get(&row_key(pf)).copied();
        let origin = origins.get(i).copied().unwrap_or_else(cp::Origin::head);
        let extents = file_extents(pf, &per_extent, damaged, rows, &origin);
        if lbid::index_zero_ambiguous(pf, extents.len() as u32) {
            uncertain.push(Uncertain {
                extent: extents[0].0.address(),
                fact: Fact::Lbid,
                cause: UncertainCause::HeaderIndexZeroAmbiguous,
            });
        }
        for (record, hit) in extents {
            if hit.min_max {
                uncertain.push(uncertain_at(&record, Fact::MinMax));
            }
            if hit.hwm {
                uncertain.push(uncertain_at(&record, Fact::Hwm));
            }
            let k = record.block_offset / pf.kind.extent_blocks();
            let wanted = decided
                .get(&(i, k))
                .copied()
                .unwrap_or_else(|| lbid::wanted(pf, k, syscat_lbids));
            pending.push((record, wanted));
        }
    }
    pending.extend(without_file.into_iter().map(|r| {
        let lbid = r.range_start;
        (r, Ok(lbid))
    }));
    let mut from_reference = reference::Supplied::default();
    from_reference
        .conflicts
        .extend(reference_conflicts.iter().cloned());
    if let Some(r) = reference {
        reference::supply_lbids(&mut pending, r, &mut from_reference);
    }
    let mut assigned = lbid::assign(pending);
    if let Some(r) = reference {
        reference::restore(&mut assigned.extents, r, &mut from_reference);
        from_reference.finish();
    }
    uncertain.extend(assigned.unplaced.iter().map(|rec| Uncertain {
        extent: rec.address(),
        fact: Fact::Lbid,
        cause: UncertainCause::LbidSpaceFull,
    }));
    Placement {
        extents: assigned.extents,
        reassigned: assigned.reassigned,
        uncertain,
        from_reference,
    }
}

/// How many extents each planned file has: the count [`place`] builds, from the same
/// [`file_last_block`] (the token claims and the evidence stage must see the extents `place`
/// writes, AUX files whose table's rows reach a further extent included).
pub fn extent_counts(files: &[FileFacts], scan: &ScanFacts, rows: &TableRows) -> Vec<u32> {
    let damaged = damaged_chunks(scan);
    let table_rows = rows.index();
    files
        .iter()
        .enumerate()
        .map(|(i, pf)| {
            let stats = scan.stats.range((i, 0)..(i + 1, 0)).map(|(_, s)| s);
            let rows = table_rows.get(&row_key(pf)).copied();
            hwm::extent_count(pf, file_last_block(pf, stats, damaged.get(&i), rows))
        })
        .collect()
}

/// The one rule for a file's last block: what its own data (or damage) reaches, raised to its
/// table's last row ([`hwm::with_table_rows`]). Both the extent count and the HWM follow it.
fn file_last_block<'a>(
    pf: &FileFacts,
    per_extent: impl Iterator<Item = &'a ExtentStats>,
    damaged: Option<&BTreeSet<u32>>,
    table_rows: Option<u64>,
) -> Option<u32> {
    let own = hwm::last_block(pf, per_extent, damaged);
    hwm::with_table_rows(pf, own, table_rows)
}

/// The key of a file in [`TableRows::index`].
fn row_key(pf: &FileFacts) -> (Oid, u32, u16) {
    let id = pf.found.id;
    (id.oid, id.partition, id.segment)
}

/// Chunks that could not be read, per file.
fn damaged_chunks(scan: &ScanFacts) -> BTreeMap<usize, BTreeSet<u32>> {
    let mut out: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    for &(file, chunk) in &scan.damaged {
        out.entry(file).or_default().insert(chunk);
    }
    out
}

/// Which facts of an extent a damaged chunk leaves unknown.
#[derive(Debug, Clone, Copy, Default)]
struct Hit {
    min_max: bool,
    hwm: bool,
}

/// Every extent of one file, without its LBID (`range_start` 0), and what damage left unknown.
fn file_extents(
    pf: &FileFacts,
    per_extent: &BTreeMap<u32, &ExtentStats>,
    damaged: Option<&BTreeSet<u32>>,
    table_rows: Option<u64>,
    origin: &cp::Origin,
) -> Vec<(ExtentRecord, Hit)> {
    let kind = pf.kind;
    let eb = kind.extent_blocks();
    let last_block = file_last_block(pf, per_extent.values().copied(), damaged, table_rows);
    let n = hwm::extent_count(pf, last_block);
    (0..n)
        .map(|k| {
            let first_chunk = k * eb / BLOCKS_PER_CHUNK;
            let last_chunk = ((k + 1) * eb).div_ceil(BLOCKS_PER_CHUNK);
            let hit = damaged.is_some_and(|d| d.range(first_chunk..last_chunk).next().is_some());
            let cp = if hit {
                cp::unknown(pf, origin)
            } else {
                cp::casual_partition(pf, k, per_extent.get(&k).copied(), origin)
            };
            let is_last = k + 1 == n;
            let record = ExtentRecord {
                range_start: Lbid(0),
                range_size: crate::types::extent_units(kind.em_width()),
                oid: pf.found.id.oid,
                block_offset: k * eb,
                hwm: if is_last { last_block.unwrap_or(0) } else { 0 },
                partition: pf.found.id.partition,
                segment: pf.found.id.segment,
                dbroot: pf.found.dbroot,
                col_width: kind.em_width(),
                status: 0,
                cp,
            };
            let hit = Hit {
                min_max: hit,
                hwm: hit && is_last,
            };
            (record, hit)
        })
        .collect()
}

fn uncertain_at(record: &ExtentRecord, fact: Fact) -> Uncertain {
    Uncertain {
        extent: record.address(),
        fact,
        cause: UncertainCause::DamagedChunk,
    }
}
