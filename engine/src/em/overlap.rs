//! Extents whose LBID ranges overlap: two records at the same LBID, or one range reaching into
//! the next. ColumnStore's allocator never hands out one LBID twice (EM §1.6: the free list is
//! the complement of the extents' ranges), so a map with overlaps is damaged: readers warn, and
//! every command that writes a map refuses it.

use super::record::ExtentRecord;
use std::fmt;

/// Two records whose LBID ranges share at least one LBID. Indices are positions in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The record with the lower (or equal) first LBID.
    pub first: usize,
    /// The record that starts inside the first one's range.
    pub second: usize,
    pub first_extent: ExtentRecord,
    pub second_extent: ExtentRecord,
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = (&self.first_extent, &self.second_extent);
        write!(
            f,
            "record {} ({}, lbid {}..={}) overlaps record {} ({}, lbid {}..={})",
            self.first,
            a.address(),
            a.range_start,
            a.last_lbid(),
            self.second,
            b.address(),
            b.range_start,
            b.last_lbid()
        )
    }
}

/// Every record that starts inside the range of a record before it in LBID order (each such
/// record reported once, against the widest range covering its start). Records with no blocks
/// (`range.size` 0) cover no LBID and overlap nothing.
pub fn find_overlaps(extents: &[ExtentRecord]) -> Vec<Overlap> {
    let mut order: Vec<usize> = (0..extents.len())
        .filter(|&i| extents[i].range_size > 0)
        .collect();
    order.sort_by_key(|&i| (extents[i].range_start, i));
    let mut out = Vec::new();
    // The record reaching furthest so far, and the first LBID after its range.
    let mut reach: Option<(usize, i128)> = None;
    for &i in &order {
        let e = &extents[i];
        let start = i128::from(e.range_start.0);
        let end = start + i128::from(e.blocks() as i64);
        match reach {
            Some((j, far)) if start < far => {
                out.push(Overlap {
                    first: j,
                    second: i,
                    first_extent: extents[j],
                    second_extent: *e,
                });
                if end > far {
                    reach = Some((i, end));
                }
            }
            _ => reach = Some((i, end)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::em::{CasualPartition, CpState};

    fn rec(oid: i32, start: i64, size: u32) -> ExtentRecord {
        ExtentRecord::builder(oid, start)
            .size(size)
            .cp(CasualPartition::narrow(CpState::VALID, i64::MAX, i64::MIN))
            .build()
    }

    #[test]
    fn adjacent_ranges_do_not_overlap_but_shared_lbids_do() {
        // 8 units = 8192 blocks: [0, 8192) then [8192, 16384) touch without sharing an LBID.
        assert!(find_overlaps(&[rec(1, 0, 8), rec(2, 8192, 8)]).is_empty());
        // Same first LBID.
        let o = find_overlaps(&[rec(1, 0, 8), rec(2, 0, 8)]);
        assert_eq!((o.len(), o[0].first, o[0].second), (1, 0, 1));
        // Starts at the last LBID of the other (8191), in file order reversed.
        let o = find_overlaps(&[rec(2, 8191, 1), rec(1, 0, 8)]);
        assert_eq!((o.len(), o[0].first, o[0].second), (1, 1, 0));
        // Nested inside a wide range after a short one.
        let o = find_overlaps(&[rec(1, 0, 16), rec(2, 1024, 1), rec(3, 9216, 1)]);
        assert_eq!(o.len(), 2);
        assert!(o.iter().all(|x| x.first == 0));
        // Size 0 covers nothing.
        assert!(find_overlaps(&[rec(1, 0, 0), rec(2, 0, 8)]).is_empty());
    }
}
