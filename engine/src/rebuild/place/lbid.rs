//! LBID: where each extent's logical block ids start (SEG §2.3, §3.9; SEG §7.3 and CAT §7.2 for
//! the catalog; EM §1.10 for first fit).
//!
//! LBIDs come from the v3 header's LBID list, or — for the system catalog — from the catalog
//! stage's layout. Known LBIDs are placed first, in LBID order; an extent whose LBID is unknown,
//! unaligned or collides with one already placed gets the first free range that fits, after every
//! known extent has been placed (first fit, as ColumnStore allocates), and is reported as
//! re-assigned.

use super::super::plan::FileFacts;
use crate::em::ExtentRecord;
use crate::finding::{ReassignReason, Reassigned};
use crate::types::{Lbid, Oid, LBID_SPACE_UNITS, LBID_UNIT};
use std::collections::BTreeMap;

/// Extents with their LBIDs, the ones re-assigned, and the ones no free range was left for.
#[derive(Debug, Default)]
pub struct Assigned {
    /// Placed extents, in LBID order.
    pub extents: Vec<ExtentRecord>,
    pub reassigned: Vec<Reassigned>,
    /// Extents left out: the LBID space is full.
    pub unplaced: Vec<ExtentRecord>,
}

/// Give every extent its LBID: `pending` pairs each record with the LBID it wants, or why it has
/// none.
pub fn assign(pending: Vec<(ExtentRecord, Result<Lbid, ReassignReason>)>) -> Assigned {
    let mut out = Assigned::default();
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
            unknown.push((
                rec,
                ReassignReason::HeaderLbidUnaligned { header_lbid: lbid },
            ));
        } else if taken.insert(lbid.0, rec.range_size) {
            rec.range_start = lbid;
            out.extents.push(rec);
        } else {
            unknown.push((
                rec,
                ReassignReason::HeaderLbidOverlaps { header_lbid: lbid },
            ));
        }
    }
    unknown.sort_by_key(|(r, _)| (r.oid, r.partition, r.segment, r.block_offset, r.dbroot));
    for (mut rec, reason) in unknown {
        let Some(lbid) = taken.first_fit(rec.range_size) else {
            out.unplaced.push(rec);
            continue;
        };
        rec.range_start = Lbid(lbid);
        out.reassigned.push(Reassigned {
            extent: rec.address(),
            lbid: Lbid(lbid),
            reason,
        });
        out.extents.push(rec);
    }
    out.extents.sort_by_key(|r| r.range_start);
    out
}

/// The LBID extent `k` of a file had, where the files say so.
pub fn wanted(
    pf: &FileFacts,
    k: u32,
    syscat: &BTreeMap<Oid, Lbid>,
) -> Result<Lbid, ReassignReason> {
    if let Some(&l) = syscat.get(&pf.found.id.oid) {
        if k == 0 && pf.found.id.partition == 0 && pf.found.id.segment == 0 {
            return Ok(l);
        }
        return Err(ReassignReason::CatalogBeyondReplay);
    }
    if crate::catalog::syscat::is_syscat_oid(pf.found.id.oid) {
        return Err(ReassignReason::CatalogAddedByUpgrade);
    }
    match pf.header_lbids.get(k as usize) {
        Some(&l) if l != 0 => Ok(Lbid(l)),
        Some(_) => Err(ReassignReason::HeaderLbidZero { extent: k }),
        None if pf.header_lbids.len() >= 48 => {
            Err(ReassignReason::HeaderLbidListFull { extent: k })
        }
        None if pf.compressed && !pf.header_lbids.is_empty() => {
            Err(ReassignReason::HeaderLbidMissing { extent: k })
        }
        None if pf.compressed => Err(ReassignReason::OldHeader),
        None => Err(ReassignReason::Uncompressed),
    }
}

/// Whether the LBID at header index 0 of a column file with `extents` extents may be its
/// *second* extent's (issue item 9, SEG §3.9): cpimport, saving a header whose index 0 is 0 (a v2
/// file it upgraded), stores the LBID of the extent it is loading at index 0; when index 0 is
/// already set and the loaded extent differs, it stores that one at index 1
/// (`writeengine/bulk/we_colbufcompressed.cpp:558-572`). So a file of several extents with index 0
/// set and index 1 unset is either a file whose later extent DML added (`we_colop.cpp:496` passes
/// LBID 0) or an upgraded v2 file cpimport loaded into extent 1. Dictionaries are decided by their
/// tokens ([`super::tokens`]); catalog files by the replayed layout.
///
/// The data cannot reliably tell the two readings apart, and no evidence could make the map
/// exact.
/// The generator's scenario `upgraded-v2-column` is the real case, and
/// `engine/tests/rebuild_upgraded_v2_column.rs` asserts the report for it.
/// * The file itself: an upgrade rewrites the whole header (`initHdr`), so nothing of the v2
///   header is left, and both writers lay out chunks the same way.
/// * The LBID: it is aligned and of the extent's size in both readings. Extents are allocated
///   first fit (EM §1.10), so after a DROP a later extent can get a lower range: the LBID's
///   order does not give the extent's position.
/// * Sibling files: reading B means no 6.1+ cpimport loaded extent 0. Only cpimport rewrites
///   an existing header's version; `initHdr` otherwise runs only on a new file
///   (`we_fileop.cpp:735`, `860`, `929`, `1184`; `we_chunkmanager.cpp:463-466`). Take a file of
///   the same table that was allocated between the two extents: a segment file of the column,
///   or its dictionary file, which is never upgraded. If it still has a v2 header, the old
///   release had moved past extent 0, and reading B holds. But the allocation order depends on
///   `FilesPerColumnPartition` and on the DBRoot count at the time (SEG §2.1), and the data
///   records neither. On a DBRoot with one segment per partition, there is no such file at all.
/// * Even when reading B holds, extent 0's LBID is in no file: the v2 header had none. Only
///   extent 1 could move to index 0's LBID, and extent 0 would still be first fit.
///
/// So the rebuild keeps the LBID for extent 0. [`super::place`] reports extent 0 as
/// `not established` (`header-index-zero-ambiguous`), and [`assign`] re-assigns extent 1,
/// which has no recorded LBID.
pub fn index_zero_ambiguous(pf: &FileFacts, extents: u32) -> bool {
    matches!(pf.kind, crate::rebuild::kind::ObjectKind::Column { .. })
        && extents > 1
        && !crate::catalog::syscat::is_syscat_oid(pf.found.id.oid)
        && pf.header_lbids.first().is_some_and(|&l| l != 0)
        && pf.header_lbids.get(1).is_none_or(|&l| l == 0)
}

/// An LBID a file records for one of its extents (header or catalog layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Claim {
    /// Index of the file among the planned files.
    pub file: usize,
    /// Extent index in the file.
    pub extent: u32,
    pub lbid: Lbid,
    /// Size in 1024-block units.
    pub units: u32,
}

impl Claim {
    /// First LBID past the range.
    pub fn end(&self) -> i64 {
        self.lbid.0 + i64::from(self.units) * LBID_UNIT
    }
}

/// Every aligned LBID the files record for their extents (`extents[i]` extents in file `i`), in
/// LBID order.
pub fn claims(files: &[FileFacts], extents: &[u32], syscat: &BTreeMap<Oid, Lbid>) -> Vec<Claim> {
    let mut out: Vec<Claim> = files
        .iter()
        .enumerate()
        .flat_map(|(i, pf)| {
            (0..extents[i]).filter_map(move |k| {
                let lbid = wanted(pf, k, syscat).ok()?;
                (lbid.0 >= 0 && lbid.0 % LBID_UNIT == 0).then_some(Claim {
                    file: i,
                    extent: k,
                    lbid,
                    units: crate::types::extent_units(pf.kind.em_width()),
                })
            })
        })
        .collect();
    out.sort_by_key(|c| (c.lbid, c.file, c.extent));
    out
}

/// The groups of claims whose ranges overlap (each group two or more claims, transitively).
pub fn overlapping(claims: &[Claim]) -> Vec<Vec<Claim>> {
    let mut sorted = claims.to_vec();
    sorted.sort_by_key(|c| (c.lbid, c.file, c.extent));
    let mut out = Vec::new();
    let mut group: Vec<Claim> = Vec::new();
    let mut end = i64::MIN;
    for c in sorted {
        if c.lbid.0 >= end {
            if group.len() > 1 {
                out.push(std::mem::take(&mut group));
            }
            group.clear();
            end = c.end();
        } else {
            end = end.max(c.end());
        }
        group.push(c);
    }
    if group.len() > 1 {
        out.push(group);
    }
    out
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
    fn overlapping_groups_claims_transitively() {
        let c = |file, lbid, units| Claim {
            file,
            extent: 0,
            lbid: Lbid(lbid),
            units,
        };
        // [0, 8192) and [4096, 12288) overlap; [12288, 13312) touches but does not overlap;
        // [20480, 28672) overlaps [24576, 25600).
        let all = [
            c(0, 0, 8),
            c(1, 4096, 8),
            c(2, 12288, 1),
            c(3, 20480, 8),
            c(4, 24576, 1),
        ];
        let groups: Vec<Vec<usize>> = overlapping(&all)
            .iter()
            .map(|g| g.iter().map(|c| c.file).collect())
            .collect();
        assert_eq!(groups, [vec![0, 1], vec![3, 4]]);
    }

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
