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
//!
//! Every extent of every file is built first (with the LBID it wants, or why it has none), then
//! LBIDs are assigned in one pass: known ones in LBID order, the others first fit.

pub mod cp;
pub mod era;
pub mod hwm;
pub mod lbid;

use super::plan::FileFacts;
use super::scan::ScanFacts;
use super::stats::ExtentStats;
use crate::em::ExtentRecord;
use crate::finding::{Fact, Reassigned, Uncertain, UncertainCause};
use crate::types::{Lbid, Oid, BLOCKS_PER_CHUNK};
use std::collections::{BTreeMap, BTreeSet};

/// The placed extents and what placing them had to decide.
#[derive(Debug, Default)]
pub struct Placement {
    pub extents: Vec<ExtentRecord>,
    pub reassigned: Vec<Reassigned>,
    pub uncertain: Vec<Uncertain>,
}

/// Place every extent of every planned file.
/// `syscat_lbids` are the replayed catalog LBIDs (first extent of each catalog file);
/// `origins` say how each file's extents came to be ([`era::origins`], same order as `files`);
/// `without_file` are extents whose LBID is known but whose file is missing (catalog files,
/// placed at their `range_start`, so that no other extent takes their range).
pub fn place(
    files: &[FileFacts],
    scan: &ScanFacts,
    syscat_lbids: &BTreeMap<Oid, Lbid>,
    origins: &[cp::Origin],
    without_file: Vec<ExtentRecord>,
) -> Placement {
    let damaged = damaged_chunks(scan);
    let mut uncertain = Vec::new();
    let mut pending = Vec::new();
    for (i, pf) in files.iter().enumerate() {
        let per_extent: BTreeMap<u32, &ExtentStats> = scan
            .stats
            .range((i, 0)..(i + 1, 0))
            .map(|(&(_, k), s)| (k, s))
            .collect();
        let damaged = damaged.get(&i);
        let origin = origins.get(i).copied().unwrap_or_else(cp::Origin::head);
        for (record, hit) in file_extents(pf, &per_extent, damaged, &origin) {
            if hit.min_max {
                uncertain.push(uncertain_at(&record, Fact::MinMax));
            }
            if hit.hwm {
                uncertain.push(uncertain_at(&record, Fact::Hwm));
            }
            let k = record.block_offset / pf.kind.extent_blocks();
            let wanted = lbid::wanted(pf, k, syscat_lbids);
            pending.push((record, wanted));
        }
    }
    pending.extend(without_file.into_iter().map(|r| {
        let lbid = r.range_start;
        (r, Ok(lbid))
    }));
    let assigned = lbid::assign(pending);
    uncertain.extend(assigned.unplaced.iter().map(|rec| Uncertain {
        extent: rec.address(),
        fact: Fact::Lbid,
        cause: UncertainCause::LbidSpaceFull,
    }));
    Placement {
        extents: assigned.extents,
        reassigned: assigned.reassigned,
        uncertain,
    }
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
    origin: &cp::Origin,
) -> Vec<(ExtentRecord, Hit)> {
    let kind = pf.kind;
    let eb = kind.extent_blocks();
    let last_block = hwm::last_block(pf, per_extent.values().copied(), damaged);
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
