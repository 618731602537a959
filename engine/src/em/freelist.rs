//! The LBID free list after the extent records (EM §1.5, §1.10).
//!
//! One slot (`InlineLBIDRange`), 16 bytes:
//!
//! | off | size | type | field |
//! |-----|------|------|-------|
//! | 0   | 8    | i64  | start: first free LBID |
//! | 8   | 4    | u32  | size: free length in 1024-LBID units; **0 = empty slot** |
//! | 12  | 4    | —    | pad |
//!
//! An empty slot may still carry a non-zero `start`. ColumnStore never reads the free list from
//! the file: its loader rebuilds it from the extents. [`derive`] reproduces that rebuild slot by
//! slot, so a written file carries exactly the free list HEAD would save after loading it.
//!
//! ```
//! use emengine::em::FreeSlot;
//! let b = [0x00, 0x94, 0x03, 0, 0, 0, 0, 0, 0x1b, 0xff, 0xff, 0x03, 0, 0, 0, 0];
//! let s = FreeSlot::parse(&b).unwrap();
//! assert_eq!(s, FreeSlot { start: 234496, size: 67108635 });
//! assert_eq!(s.encode(), b);
//! ```

use super::header::{FREE_LIST_GROWTH, FREE_SLOT_LEN};
use super::record::ExtentRecord;
use crate::error::DecodeError;
use crate::types::{LBID_SPACE_UNITS, LBID_UNIT};
use std::collections::{BTreeMap, BTreeSet};

/// One free-list slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FreeSlot {
    /// First free LBID.
    pub start: i64,
    /// Free length in 1024-LBID units; 0 marks an empty slot.
    pub size: u32,
}

impl FreeSlot {
    /// A slot with `size == 0` is unused, whatever its `start`.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Decode one slot from the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let slot = bytes.first_chunk::<FREE_SLOT_LEN>().ok_or_else(|| {
            DecodeError::truncated(0, "free-list slot (16 bytes)", bytes.len() as u64)
        })?;
        Ok(Self::from_bytes(slot))
    }

    /// Decode one whole slot (padding ignored).
    pub fn from_bytes(b: &[u8; FREE_SLOT_LEN]) -> Self {
        let mut start = [0u8; 8];
        start.copy_from_slice(&b[0..8]);
        let mut size = [0u8; 4];
        size.copy_from_slice(&b[8..12]);
        Self {
            start: i64::from_le_bytes(start),
            size: u32::from_le_bytes(size),
        }
    }

    /// The 16-byte image, zero padding.
    pub fn encode(&self) -> [u8; FREE_SLOT_LEN] {
        let mut out = [0u8; FREE_SLOT_LEN];
        out[0..8].copy_from_slice(&self.start.to_le_bytes());
        out[8..12].copy_from_slice(&self.size.to_le_bytes());
        out
    }
}

/// First LBID past the LBID space (2^36).
const SPACE_END: i64 = LBID_SPACE_UNITS as i64 * LBID_UNIT;

/// The free list ColumnStore's loader builds from `extents_sorted` (ascending `range_start`),
/// emulating `reserveLBIDRange` (EM §1.10): all slots, empty ones included, a multiple of 50.
///
/// Start with 50 slots, slot 0 = {0, 2^26}. For each extent in order, find the non-empty slot
/// that contains its range and carve the range out of it: from the front (the slot's start
/// moves), from the back (its size shrinks), or from the middle (the slot keeps the head and
/// the tail goes to the lowest-index empty slot, 50 slots being added when none is empty).
/// Slots emptied by carving keep their start value. Like HEAD:
/// * the size is taken as `uint8_t` (`range_size mod 256`) — real sizes are 1..16;
/// * a record whose `range_start` repeats the previous one is ignored (the loader's map keeps
///   the first of equal keys).
///
/// Unlike HEAD, whose arithmetic wraps or writes past the slot array on such input, ranges that
/// no slot contains (overlapping extents, LBIDs outside `[0, 2^36)`) and starts that are not a
/// multiple of 1024 are skipped.
///
/// Cost: O(n log s) for n extents and s slots — an ordered index of non-empty slots and an
/// ordered set of empty slot indices replace HEAD's linear scan of all slots (O(n × s), hours
/// for millions of extents with many holes) — and close to O(n) for sorted, mostly contiguous
/// input, where each range is carved from the front of the slot the previous one came from.
pub fn derive(extents_sorted: &[ExtentRecord]) -> Vec<FreeSlot> {
    let mut fl = Builder::new();
    let mut previous = None;
    for e in extents_sorted {
        let start = e.range_start.0;
        if previous == Some(start) {
            continue;
        }
        previous = Some(start);
        fl.reserve(start, e.range_size as u8);
    }
    fl.slots
}

/// The slot array with its indexes.
struct Builder {
    slots: Vec<FreeSlot>,
    /// Non-empty slots by exclusive end LBID → slot index. Non-empty slots never overlap.
    /// Keyed by end because the common carve — from the front, as sorted input allocates
    /// contiguously — moves a slot's start but not its end, so it needs no re-keying.
    by_end: BTreeMap<i64, usize>,
    /// Indices of empty slots.
    empty: BTreeSet<usize>,
    /// The slot the previous range was carved from: sorted input mostly carves it again.
    recent: usize,
}

impl Builder {
    fn new() -> Self {
        let mut slots = vec![FreeSlot::default(); FREE_LIST_GROWTH];
        slots[0] = FreeSlot {
            start: 0,
            size: LBID_SPACE_UNITS,
        };
        Self {
            slots,
            by_end: BTreeMap::from([(SPACE_END, 0)]),
            empty: (1..FREE_LIST_GROWTH).collect(),
            recent: 0,
        }
    }

    /// Exclusive end LBID of slot `i`.
    fn end(&self, i: usize) -> i64 {
        self.slots[i].start + i64::from(self.slots[i].size) * LBID_UNIT
    }

    /// The non-empty slot with the lowest end above `lbid` (the one holding `lbid`, if any).
    fn find(&self, lbid: i64) -> Option<usize> {
        let r = self.recent;
        if self.slots[r].size > 0 && self.slots[r].start <= lbid && lbid < self.end(r) {
            return Some(r);
        }
        self.by_end.range(lbid + 1..).next().map(|(_, &i)| i)
    }

    /// Remove `[start, start + size·1024)` from the free slot containing it, if any.
    fn reserve(&mut self, start: i64, size: u8) {
        if !(0..SPACE_END).contains(&start) || start % LBID_UNIT != 0 {
            return;
        }
        let len = i64::from(size) * LBID_UNIT;
        let Some(i) = self.find(start) else {
            return;
        };
        let (s, end) = (self.slots[i].start, self.end(i));
        if start < s || start + len > end {
            return; // contained in no slot
        }
        self.recent = i;
        if start == s {
            // From the front: the end stays.
            let slot = &mut self.slots[i];
            slot.start += len;
            slot.size -= u32::from(size);
            if slot.size == 0 {
                self.by_end.remove(&end);
                self.empty.insert(i);
            }
        } else if start + len == end {
            // From the back (here start > s, so the slot keeps some size).
            self.slots[i].size -= u32::from(size);
            self.by_end.remove(&end);
            self.by_end.insert(start, i);
        } else {
            // From the middle: head stays, tail moves to the lowest-index empty slot.
            let tail = match self.empty.pop_first() {
                Some(t) => t,
                None => {
                    let t = self.slots.len();
                    self.slots.resize(t + FREE_LIST_GROWTH, FreeSlot::default());
                    self.empty.extend(t + 1..t + FREE_LIST_GROWTH);
                    t
                }
            };
            self.slots[i].size = ((start - s) / LBID_UNIT) as u32;
            self.by_end.insert(start, i);
            let tail_start = start + len;
            self.slots[tail] = FreeSlot {
                start: tail_start,
                size: ((end - tail_start) / LBID_UNIT) as u32,
            };
            self.by_end.insert(end, tail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::em::cp::{CasualPartition, CpState};

    fn ext(start: i64, size: u32) -> ExtentRecord {
        ExtentRecord::builder(3000, start)
            .size(size)
            .cp(CasualPartition::narrow(
                CpState::INVALID,
                i64::MAX,
                i64::MIN,
            ))
            .build()
    }

    #[test]
    fn hole_is_compacted_to_slot_zero() {
        let fl = derive(&[ext(0, 8), ext(16384, 8)]);
        assert_eq!(fl.len(), 50);
        assert_eq!(
            fl[0],
            FreeSlot {
                start: 8192,
                size: 8
            }
        );
        assert_eq!(
            fl[1],
            FreeSlot {
                start: 24576,
                size: 67_108_840
            }
        );
        assert!(fl[2..].iter().all(|s| *s == FreeSlot::default()));
    }

    #[test]
    fn emptied_slot_keeps_its_start() {
        // The hole [8192, 16384) is filled later by an out-of-order-created extent.
        let fl = derive(&[ext(0, 8), ext(8192, 8), ext(16384, 8)]);
        assert_eq!(
            fl[0],
            FreeSlot {
                start: 24576,
                size: 67_108_840
            }
        );
        let fl = derive(&[ext(0, 4), ext(8192, 8), ext(65536, 8)]);
        // slot 0 = [4096, 8192), slot 1 = [16384, 65536), slot 2 = the rest.
        assert_eq!(
            fl[0],
            FreeSlot {
                start: 4096,
                size: 4
            }
        );
        assert_eq!(
            fl[1],
            FreeSlot {
                start: 16384,
                size: 48
            }
        );
        assert_eq!(
            fl[2],
            FreeSlot {
                start: 73728,
                size: 67_108_864 - 72
            }
        );
    }

    #[test]
    fn fifty_first_hole_grows_the_list() {
        let extents: Vec<_> = (0..51).map(|k| ext(k * 16384, 8)).collect();
        let fl = derive(&extents);
        assert_eq!(fl.len(), 100);
        assert_eq!(fl.iter().filter(|s| !s.is_empty()).count(), 51);
        assert_eq!(
            fl[50],
            FreeSlot {
                start: 50 * 16384 + 8192,
                size: 67_108_864 - 51 * 16 + 8
            }
        );
    }
}
