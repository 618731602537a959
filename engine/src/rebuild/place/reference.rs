//! Reference: what an older extent map (`--reference OLD_EM`: a backup, perhaps stale, perhaps
//! from before a crash) supplies that no data file records — the LBIDs of extents the data cannot
//! settle, extent status (out of service, disabled) and CP sequence numbers. The data still
//! decides everything it records: HWM, min/max, and every LBID a header or the catalog replay
//! establishes.
//!
//! An extent is matched by its address (OID, DBRoot, partition, segment, block offset). Nothing
//! is taken on trust:
//!
//! * an LBID is used only for an extent whose LBID the data leaves unknown (after header, catalog
//!   replay and tokens: the caller runs this last, just before first fit), only when the range is
//!   aligned, has the extent's size and overlaps no extent the data places nor another range
//!   taken from the reference; otherwise the extent goes to first fit and the conflict is reported;
//! * where the data establishes an extent's LBID and the reference holds another, the data wins
//!   and the conflict is reported ([`Conflict::LbidDisproved`]);
//! * status and sequence number are taken only for an extent placed at the reference's LBID
//!   (the same extent, not an older one at that address);
//! * reference extents the data does not have are reported ([`Conflict::NotInData`]), never
//!   written.
//!
//! Every field taken is reported as an [`Inferred`] with [`Evidence::Reference`]: `strong` when the
//! reference agrees with every LBID the data establishes, `weak` when some are disproved (the
//! reference is stale, and what it says about the others is less certain).

use crate::em::{ExtentMap, ExtentRecord};
use crate::finding::{
    Conflict, Evidence, Fact, Inferred, ReassignReason, ReferenceConflict, Strength,
};
use crate::types::{ExtentAddress, Lbid, LBID_UNIT};
use std::collections::{BTreeMap, BTreeSet};

/// A reference map, indexed by extent address.
#[derive(Debug)]
pub struct Reference<'a> {
    by_address: BTreeMap<ExtentAddress, &'a ExtentRecord>,
}

impl<'a> Reference<'a> {
    pub fn new(map: &'a ExtentMap) -> Self {
        Reference {
            by_address: map.extents.iter().map(|e| (e.address(), e)).collect(),
        }
    }

    /// The reference's record for the extent at `a`.
    pub fn get(&self, a: &ExtentAddress) -> Option<&'a ExtentRecord> {
        self.by_address.get(a).copied()
    }
}

/// What the reference supplied, and where it contradicts the data.
#[derive(Debug, Default)]
pub struct Supplied {
    pub inferred: Vec<Inferred>,
    pub conflicts: Vec<ReferenceConflict>,
}

impl Supplied {
    /// Whether the reference disagrees with an LBID the data establishes: its other fields are
    /// then weak evidence.
    fn stale(&self) -> bool {
        self.conflicts.iter().any(|c| {
            matches!(
                c.conflict,
                Conflict::LbidDisproved { .. } | Conflict::TokensContradict { .. }
            )
        })
    }

    fn infer(&mut self, extent: ExtentAddress, fact: Fact, value: i64) {
        self.inferred.push(Inferred {
            extent,
            fact,
            value,
            evidence: Evidence::Reference,
            strength: Strength::Strong,
        });
    }

    fn conflict(&mut self, extent: ExtentAddress, conflict: Conflict) {
        self.conflicts.push(ReferenceConflict { extent, conflict });
    }

    /// Set every inference's strength once all conflicts are known, and sort.
    pub fn finish(&mut self) {
        let strength = if self.stale() {
            Strength::Weak
        } else {
            Strength::Strong
        };
        for i in &mut self.inferred {
            i.strength = strength;
        }
        self.inferred.sort_by_key(|i| (i.extent, i.fact));
        self.conflicts.sort_by_key(|c| c.extent);
    }
}

/// LBID ranges already claimed, `[start, end)` in LBIDs, with their extent.
#[derive(Default)]
struct Claimed(BTreeMap<i64, (i64, ExtentAddress)>);

impl Claimed {
    /// The claimed extent overlapping `[start, end)`, if any.
    fn overlap(&self, start: i64, end: i64) -> Option<ExtentAddress> {
        if let Some((_, &(e, a))) = self.0.range(..=start).next_back() {
            if e > start {
                return Some(a);
            }
        }
        self.0.range(start..end).next().map(|(_, &(_, a))| a)
    }
}

/// Before LBIDs are assigned: give each extent whose LBID is still unknown the reference's, where
/// it fits (see the module documentation), and report where the reference contradicts an LBID
/// the data establishes.
pub fn supply_lbids(
    pending: &mut [(ExtentRecord, Result<Lbid, ReassignReason>)],
    reference: &Reference<'_>,
    out: &mut Supplied,
) {
    let mut claimed = Claimed::default();
    for (rec, wanted) in pending.iter() {
        if let Ok(l) = wanted {
            let end = l.0.saturating_add(rec.blocks() as i64);
            claimed.0.insert(l.0, (end, rec.address()));
            if let Some(r) = reference.get(&rec.address()) {
                if r.range_start != *l {
                    out.conflict(
                        rec.address(),
                        Conflict::LbidDisproved {
                            reference: r.range_start,
                            data: *l,
                        },
                    );
                }
            }
        }
    }
    for (rec, wanted) in pending.iter_mut() {
        // Established by the data, or a reference LBID the tokens disproved (reported there).
        if matches!(
            wanted,
            Ok(_) | Err(ReassignReason::ReferenceDisprovedByTokens { .. })
        ) {
            continue;
        }
        let Some(r) = reference.get(&rec.address()) else {
            continue;
        };
        let start = r.range_start.0;
        if start < 0 || start % LBID_UNIT != 0 || r.range_size != rec.range_size {
            out.conflict(
                rec.address(),
                Conflict::RangeUnusable {
                    reference: r.range_start,
                    range_size: r.range_size,
                },
            );
            continue;
        }
        let end = start.saturating_add(rec.blocks() as i64);
        if let Some(other) = claimed.overlap(start, end) {
            out.conflict(
                rec.address(),
                Conflict::RangeOverlaps {
                    reference: r.range_start,
                    other,
                },
            );
            continue;
        }
        claimed.0.insert(start, (end, rec.address()));
        *wanted = Ok(r.range_start);
        out.infer(rec.address(), Fact::Lbid, start);
    }
}

/// After LBIDs are assigned: status and sequence number from the reference for each extent placed
/// at the reference's LBID; reference extents the data does not have are reported.
pub fn restore(extents: &mut [ExtentRecord], reference: &Reference<'_>, out: &mut Supplied) {
    let mut seen = BTreeSet::new();
    for rec in extents.iter_mut() {
        let a = rec.address();
        seen.insert(a);
        let Some(r) = reference.get(&a) else {
            continue;
        };
        if r.range_start != rec.range_start {
            continue;
        }
        if r.status != rec.status {
            rec.status = r.status;
            out.infer(a, Fact::Status, i64::from(r.status));
        }
        if r.cp.seq_num != rec.cp.seq_num {
            rec.cp.seq_num = r.cp.seq_num;
            out.infer(a, Fact::SeqNum, i64::from(r.cp.seq_num));
        }
    }
    for (a, r) in &reference.by_address {
        if !seen.contains(a) {
            out.conflict(
                *a,
                Conflict::NotInData {
                    reference: r.range_start,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_finds_overlaps_on_both_sides() {
        let a = ExtentAddress {
            oid: crate::types::Oid(3001),
            dbroot: crate::types::DbRootId(1),
            partition: 0,
            segment: 0,
            block_offset: 0,
        };
        let mut c = Claimed::default();
        c.0.insert(8192, (16384, a));
        assert_eq!(
            c.overlap(0, 8192),
            None,
            "ends where the claimed range starts"
        );
        assert_eq!(c.overlap(16384, 20480), None, "starts where it ends");
        assert!(c.overlap(4096, 9216).is_some(), "runs into it");
        assert!(c.overlap(15360, 17408).is_some(), "starts inside it");
        assert!(c.overlap(0, 1 << 20).is_some(), "covers it");
    }
}
