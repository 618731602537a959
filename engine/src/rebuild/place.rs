//! Place: per-file scan results → extent records with LBIDs, HWM and casual partitioning.
//!
//! LBIDs come from the v3 header's LBID list, or — for the system catalog — from replaying
//! dbbuilder's creation order over the catalog OIDs present. Extents whose LBID is unknown (or
//! collides with one already placed) get the first free range that fits, after every known
//! extent has been placed, and are reported as re-assigned.

use super::plan::{ObjectKind, PlannedFile};
use super::scan::ScanResult;
use super::stats::{Domain, ExtentStats};
use crate::em::{CasualPartition, CpState, ExtentRecord, SentinelKind};
use crate::types::{Lbid, Oid, BLOCKS_PER_CHUNK, LBID_SPACE_UNITS, LBID_UNIT};
use std::collections::{BTreeMap, BTreeSet};

/// An extent that did not get its original LBID.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reassigned {
    pub oid: i32,
    pub dbroot: u16,
    pub partition: u32,
    pub segment: u16,
    pub block_offset: u32,
    pub lbid: i64,
    pub reason: String,
}

/// Something the scan could not establish for an extent (with `--allow-damaged`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Uncertain {
    pub oid: i32,
    pub dbroot: u16,
    pub partition: u32,
    pub segment: u16,
    pub block_offset: u32,
    pub what: String,
}

/// The placed extents and what placing them had to decide.
#[derive(Debug, Default)]
pub struct Placement {
    pub extents: Vec<ExtentRecord>,
    pub reassigned: Vec<Reassigned>,
    pub uncertain: Vec<Uncertain>,
}

/// Place every extent of every planned file.
/// `syscat_lbids` are the replayed catalog LBIDs (first extent of each catalog file).
pub fn place(
    files: &[PlannedFile],
    scan: &ScanResult,
    syscat_lbids: &BTreeMap<Oid, Lbid>,
) -> Placement {
    let mut out = Placement::default();
    let mut damaged_chunks: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    for e in &scan.errors {
        damaged_chunks.entry(e.file).or_default().insert(e.chunk);
    }
    // (record, wanted LBID or the reason it has none)
    let mut pending: Vec<(ExtentRecord, Result<Lbid, String>)> = Vec::new();

    for (i, pf) in files.iter().enumerate() {
        let kind = pf.kind;
        let eb = kind.extent_blocks();
        let per_extent: Vec<(u32, &ExtentStats)> = scan
            .stats
            .range((i, 0)..(i + 1, 0))
            .map(|(&(_, k), s)| (k, s))
            .collect();
        let damaged = damaged_chunks.get(&i);

        // Highest block the data reaches; a damaged chunk is assumed full (a stale, low HWM
        // would hide rows; a high one only covers EMPTY rows).
        let allocated = pf.file.allocated_blocks();
        let mut last_block = per_extent.iter().filter_map(|(_, s)| s.last_nonempty).max();
        if let Some(bad) = damaged.and_then(|d| d.last()) {
            let end = (bad + 1) * BLOCKS_PER_CHUNK - 1;
            let end = if allocated > 0 {
                end.min(allocated as u32 - 1)
            } else {
                end
            };
            last_block = last_block.max(Some(end));
        }
        let n_alloc = allocated.div_ceil(u64::from(eb)) as u32;
        let n_chunks = (u64::from(pf.file.chunk_count()) * u64::from(BLOCKS_PER_CHUNK))
            .div_ceil(u64::from(eb)) as u32;
        let n_lbids = pf.header_lbids.len() as u32;
        let n_data = last_block.map_or(0, |b| b / eb + 1);
        let n = n_alloc.max(n_chunks).max(n_lbids).max(n_data).max(1);

        for k in 0..n {
            let stats = per_extent.iter().find(|(x, _)| *x == k).map(|(_, s)| *s);
            let first_chunk = k * eb / BLOCKS_PER_CHUNK;
            let last_chunk = ((k + 1) * eb).div_ceil(BLOCKS_PER_CHUNK);
            let hit = damaged.is_some_and(|d| d.range(first_chunk..last_chunk).next().is_some());
            let cp = if hit {
                out.uncertain
                    .push(uncertain(pf, k * eb, "min/max (a chunk could not be read)"));
                sentinel(pf, CpState::INVALID)
            } else {
                casual_partition(pf, stats)
            };
            let record = ExtentRecord {
                range_start: Lbid(0),
                range_size: crate::types::extent_units(kind.em_width()),
                oid: pf.found.id.oid,
                block_offset: k * eb,
                hwm: if k + 1 == n {
                    last_block.unwrap_or(0)
                } else {
                    0
                },
                partition: pf.found.id.partition,
                segment: pf.found.id.segment,
                dbroot: pf.found.dbroot,
                col_width: kind.em_width(),
                status: 0,
                cp,
            };
            if hit && k + 1 == n {
                out.uncertain.push(uncertain(
                    pf,
                    k * eb,
                    "high-water mark (a chunk could not be read)",
                ));
            }
            let wanted = wanted_lbid(pf, k, syscat_lbids);
            pending.push((record, wanted));
        }
    }

    // Known LBIDs first, in LBID order; a range that overlaps one already placed is re-assigned.
    let mut taken = Taken::default();
    let mut unknown = Vec::new();
    let mut known: Vec<(ExtentRecord, Lbid)> = Vec::new();
    for (rec, wanted) in pending {
        match wanted {
            Ok(l) => known.push((rec, l)),
            Err(reason) => unknown.push((rec, reason)),
        }
    }
    known.sort_by_key(|(r, l)| (*l, r.oid, r.partition, r.segment, r.block_offset));
    for (mut rec, lbid) in known {
        if lbid.0 % LBID_UNIT != 0 || lbid.0 < 0 {
            unknown.push((rec, format!("header LBID {lbid} is not a multiple of 1024")));
        } else if taken.insert(lbid.0, rec.range_size) {
            rec.range_start = lbid;
            out.extents.push(rec);
        } else {
            unknown.push((
                rec,
                format!("header LBID {lbid} overlaps an extent already placed"),
            ));
        }
    }
    unknown.sort_by_key(|(r, _)| (r.oid, r.partition, r.segment, r.block_offset, r.dbroot));
    for (mut rec, reason) in unknown {
        let Some(lbid) = taken.first_fit(rec.range_size) else {
            out.uncertain.push(Uncertain {
                oid: rec.oid.0,
                dbroot: rec.dbroot.0,
                partition: rec.partition,
                segment: rec.segment,
                block_offset: rec.block_offset,
                what: "LBID (no free range left in the LBID space)".into(),
            });
            continue;
        };
        rec.range_start = Lbid(lbid);
        out.reassigned.push(Reassigned {
            oid: rec.oid.0,
            dbroot: rec.dbroot.0,
            partition: rec.partition,
            segment: rec.segment,
            block_offset: rec.block_offset,
            lbid,
            reason,
        });
        out.extents.push(rec);
    }
    out.extents.sort_by_key(|r| r.range_start);
    out
}

fn uncertain(pf: &PlannedFile, block_offset: u32, what: &str) -> Uncertain {
    Uncertain {
        oid: pf.found.id.oid.0,
        dbroot: pf.found.dbroot.0,
        partition: pf.found.id.partition,
        segment: pf.found.id.segment,
        block_offset,
        what: what.into(),
    }
}

/// The LBID extent `k` of a file had, where the files say so.
fn wanted_lbid(pf: &PlannedFile, k: u32, syscat: &BTreeMap<Oid, Lbid>) -> Result<Lbid, String> {
    if let Some(&l) = syscat.get(&pf.found.id.oid) {
        if k == 0 && pf.found.id.partition == 0 && pf.found.id.segment == 0 {
            return Ok(l);
        }
        return Err("system-catalog extent beyond the replayed creation order".into());
    }
    if crate::catalog::syscat::is_syscat_oid(pf.found.id.oid) {
        return Err(
            "catalog file outside the replayed creation order (added by an in-place upgrade)"
                .into(),
        );
    }
    match pf.header_lbids.get(k as usize) {
        Some(&l) if l != 0 => Ok(Lbid(l)),
        Some(_) => Err(format!(
            "header LBID list holds 0 for extent {k} (extent created by DML)"
        )),
        None if pf.header_lbids.len() >= 48 => Err(format!(
            "header LBID list is full (48 entries); extent {k} is not recorded"
        )),
        None if pf.file.is_compressed() && !pf.header_lbids.is_empty() => {
            Err(format!("header LBID list has no entry for extent {k}"))
        }
        None if pf.file.is_compressed() => {
            Err("compressed header records no LBIDs (version 2)".into())
        }
        None => Err("uncompressed file records no LBIDs".into()),
    }
}

fn sentinel_kind(pf: &PlannedFile) -> SentinelKind {
    match pf.kind {
        ObjectKind::Dictionary => SentinelKind::Dictionary,
        ObjectKind::Column { data_type, width } => {
            match (width == 16, data_type.is_unsigned_cp()) {
                (true, true) => SentinelKind::UnsignedWide,
                (true, false) => SentinelKind::SignedWide,
                (false, true) => SentinelKind::UnsignedNarrow,
                (false, false) => SentinelKind::SignedNarrow,
            }
        }
    }
}

fn sentinel(pf: &PlannedFile, state: i8) -> CasualPartition {
    CasualPartition::sentinel(sentinel_kind(pf), state)
}

/// Casual partitioning as ColumnStore encodes it (extent-map spec §2.3–2.4): exact min/max of
/// the non-NULL values for the types ColumnStore keeps it for; CP_INVALID with the creation
/// sentinels for the others (FLOAT/DOUBLE, tokens, dictionaries, inline strings by default).
///
/// A CP-eligible extent without any non-NULL value gets ColumnStore's "valid but empty" pair
/// (CP_VALID with the sentinels), as cpimport leaves it (§2.1) and as every column extent of a
/// freshly created catalog holds it in the real map of `../shared/real`: a range no value falls
/// in, so any predicate on the column eliminates the extent, which is exact for an extent with no
/// values.
fn casual_partition(pf: &PlannedFile, stats: Option<&ExtentStats>) -> CasualPartition {
    let valid = CpState::VALID;
    if pf.domain == Domain::None {
        return sentinel(pf, CpState::INVALID);
    }
    let wide = matches!(pf.kind, ObjectKind::Column { width: 16, .. });
    match stats {
        Some(ExtentStats {
            wide: Some((lo, hi)),
            ..
        }) if wide => CasualPartition::wide(valid, *lo, *hi),
        Some(ExtentStats {
            keys: Some((lo, hi)),
            ..
        }) if !wide => CasualPartition::narrow(valid, pf.domain.value(*lo), pf.domain.value(*hi)),
        _ => sentinel(pf, valid),
    }
}

/// LBID ranges already taken, in 1024-block units, kept as disjoint intervals.
#[derive(Debug, Default)]
struct Taken {
    /// start unit → end unit (exclusive)
    ranges: BTreeMap<u64, u64>,
}

impl Taken {
    /// Take `[start, start + units×1024)` if it is free and inside the LBID space.
    fn insert(&mut self, start: i64, units: u32) -> bool {
        let s = (start / LBID_UNIT) as u64;
        let e = s + u64::from(units);
        if e > u64::from(LBID_SPACE_UNITS) {
            return false;
        }
        if let Some((_, &pe)) = self.ranges.range(..=s).next_back() {
            if pe > s {
                return false;
            }
        }
        if let Some((&ns, _)) = self.ranges.range(s..).next() {
            if ns < e {
                return false;
            }
        }
        self.ranges.insert(s, e);
        true
    }

    /// The lowest free start (in LBIDs) with room for `units`, taken; first fit as ColumnStore allocates.
    fn first_fit(&mut self, units: u32) -> Option<i64> {
        let mut cursor = 0u64;
        let mut found = None;
        for (&s, &e) in &self.ranges {
            if s >= cursor + u64::from(units) {
                found = Some(cursor);
                break;
            }
            cursor = cursor.max(e);
        }
        let start = found.unwrap_or(cursor);
        if start + u64::from(units) > u64::from(LBID_SPACE_UNITS) {
            return None;
        }
        let lbid = start as i64 * LBID_UNIT;
        self.insert(lbid, units).then_some(lbid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_rejects_overlap_and_first_fit_fills_holes() {
        let mut t = Taken::default();
        assert!(t.insert(0, 8));
        assert!(t.insert(16 * 1024, 4));
        assert!(!t.insert(4 * 1024, 8), "overlaps [0, 8)");
        assert!(!t.insert(18 * 1024, 1), "inside [16, 20)");
        assert_eq!(
            t.first_fit(8),
            Some(8 * 1024),
            "the hole [8, 16) fits 8 units"
        );
        assert_eq!(t.first_fit(1), Some(20 * 1024));
        assert!(
            !t.insert(i64::from(LBID_SPACE_UNITS - 1) * 1024, 2),
            "past the LBID space"
        );
    }
}
