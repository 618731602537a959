//! One extent record, in its V4 (`EMEntry_v4`, 64 bytes) and V5 (`EMEntry`, 96 bytes) layouts
//! (EM §1.3, §1.4). All little-endian; padding is written as zeros and ignored on read.
//!
//! | off   | size | type | field (V5)                        | field (V4)            |
//! |-------|------|------|-----------------------------------|-----------------------|
//! | 0     | 8    | i64  | range.start (first LBID)          | same                  |
//! | 8     | 4    | u32  | range.size (1024-block units)     | same                  |
//! | 12    | 4    | —    | pad                               | same                  |
//! | 16    | 4    | i32  | fileID (OID)                      | same                  |
//! | 20    | 4    | u32  | blockOffset (FBO of first block)  | same                  |
//! | 24    | 4    | u32  | HWM                               | same                  |
//! | 28    | 4    | u32  | partitionNum                      | same                  |
//! | 32    | 2    | u16  | segmentNum                        | same                  |
//! | 34    | 2    | u16  | dbRoot                            | same                  |
//! | 36    | 2    | u16  | colWid (0 = dictionary)           | same                  |
//! | 38    | 2    | i16  | status                            | same                  |
//! | 40    | 8    |      | pad                               | i64 hi_val            |
//! | 48    | 4/8  |      | i32 sequenceNum                   | i64 lo_val            |
//! | 52    | 1    |      | i8 isValid                        | (lo_val)              |
//! | 53    | 11   |      | pad                               | 56: i32 sequenceNum, 60: i8 isValid, 61..63 pad |
//! | 64    | 16   | i128 | bigLoVal (V5 only)                |                       |
//! | 80    | 16   | i128 | bigHiVal (V5 only)                |                       |
//!
//! A V4 record read here gets HEAD's upper halves (lo `ffffffffffffff7f`, hi
//! `0000000000000080`), exactly as ColumnStore's V4→V5 upgrade does (EM §1.8 step 3).
//!
//! ```
//! use emengine::em::{ExtentRecord, EmVersion};
//! let mut b = [0u8; 64];
//! b[0..8].copy_from_slice(&8192i64.to_le_bytes());    // range.start
//! b[8..12].copy_from_slice(&8u32.to_le_bytes());      // range.size
//! b[16..20].copy_from_slice(&2001i32.to_le_bytes());  // OID
//! b[34..36].copy_from_slice(&1u16.to_le_bytes());     // dbRoot
//! b[40..48].copy_from_slice(&i64::MIN.to_le_bytes()); // hi_val
//! b[48..56].copy_from_slice(&i64::MAX.to_le_bytes()); // lo_val
//! let r = ExtentRecord::parse(&b, EmVersion::V4).unwrap();
//! assert_eq!((r.range_start.0, r.oid.0, r.blocks(), r.last_lbid().0), (8192, 2001, 8192, 16383));
//! assert_eq!((r.cp.lo_i64(), r.cp.hi_i64()), (i64::MAX, i64::MIN));
//! assert_eq!(r.encode_v4(), b);
//! ```

use super::cp::CasualPartition;
use super::header::{EmVersion, RECORD_LEN_V4, RECORD_LEN_V5};
use crate::error::DecodeError;
use crate::types::{DbRootId, ExtentAddress, Lbid, Oid, LBID_UNIT};

/// One extent of the extent map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtentRecord {
    /// `range.start`: the first LBID.
    pub range_start: Lbid,
    /// `range.size`: length in units of 1024 blocks.
    pub range_size: u32,
    /// `fileID`.
    pub oid: Oid,
    /// `blockOffset`: FBO of the extent's first block inside its segment file.
    pub block_offset: u32,
    /// `HWM`.
    pub hwm: u32,
    /// `partitionNum`.
    pub partition: u32,
    /// `segmentNum`.
    pub segment: u16,
    /// `dbRoot`.
    pub dbroot: DbRootId,
    /// `colWid`: storage width in bytes, 0 for dictionary-store extents.
    pub col_width: u16,
    /// `status`: 0 available, 1 unavailable, 2 out of service (other values kept raw).
    pub status: i16,
    /// Casual-partitioning data.
    pub cp: CasualPartition,
}

/// Copy `N` bytes at constant offset `at` out of a fixed-size record (in bounds by construction).
fn field<const N: usize, const L: usize>(rec: &[u8; L], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&rec[at..at + N]);
    out
}

impl ExtentRecord {
    /// Where this extent's data lives.
    pub fn address(&self) -> ExtentAddress {
        ExtentAddress {
            oid: self.oid,
            dbroot: self.dbroot,
            partition: self.partition,
            segment: self.segment,
            block_offset: self.block_offset,
        }
    }

    /// Blocks in the extent: `range.size × 1024`.
    pub fn blocks(&self) -> u64 {
        u64::from(self.range_size) * LBID_UNIT as u64
    }

    /// The last LBID of the extent (`start + blocks − 1`, saturating on absurd values).
    pub fn last_lbid(&self) -> Lbid {
        Lbid(
            self.range_start
                .0
                .saturating_add(self.blocks() as i64)
                .saturating_sub(1),
        )
    }

    /// Decode one record of `version` from the start of `bytes` (which must hold a whole record).
    pub fn parse(bytes: &[u8], version: EmVersion) -> Result<Self, DecodeError> {
        let short = || {
            DecodeError::truncated(
                0,
                format!("version {} extent record", version.number()),
                bytes.len() as u64,
            )
        };
        Ok(match version {
            EmVersion::V4 => Self::from_v4(bytes.first_chunk::<RECORD_LEN_V4>().ok_or_else(short)?),
            EmVersion::V5 => Self::from_v5(bytes.first_chunk::<RECORD_LEN_V5>().ok_or_else(short)?),
        })
    }

    /// The fields at offsets 0..40, common to both versions.
    fn common<const L: usize>(rec: &[u8; L], cp: CasualPartition) -> Self {
        Self {
            range_start: Lbid(i64::from_le_bytes(field(rec, 0))),
            range_size: u32::from_le_bytes(field(rec, 8)),
            oid: Oid(i32::from_le_bytes(field(rec, 16))),
            block_offset: u32::from_le_bytes(field(rec, 20)),
            hwm: u32::from_le_bytes(field(rec, 24)),
            partition: u32::from_le_bytes(field(rec, 28)),
            segment: u16::from_le_bytes(field(rec, 32)),
            dbroot: DbRootId(u16::from_le_bytes(field(rec, 34))),
            col_width: u16::from_le_bytes(field(rec, 36)),
            status: i16::from_le_bytes(field(rec, 38)),
            cp,
        }
    }

    /// Decode a V5 record (every CP byte kept, padding ignored).
    pub fn from_v5(rec: &[u8; RECORD_LEN_V5]) -> Self {
        let cp = CasualPartition {
            seq_num: i32::from_le_bytes(field(rec, 48)),
            state: rec[52] as i8,
            lo: i128::from_le_bytes(field(rec, 64)),
            hi: i128::from_le_bytes(field(rec, 80)),
        };
        Self::common(rec, cp)
    }

    /// Decode a V4 record; the CP values get HEAD's upper halves, as its V4→V5 upgrade does.
    pub fn from_v4(rec: &[u8; RECORD_LEN_V4]) -> Self {
        let hi = i64::from_le_bytes(field(rec, 40));
        let lo = i64::from_le_bytes(field(rec, 48));
        let mut cp = CasualPartition::narrow(rec[60] as i8, lo, hi);
        cp.seq_num = i32::from_le_bytes(field(rec, 56));
        Self::common(rec, cp)
    }

    /// Bytes 0..40, common to both versions, into `out`.
    fn put_common(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.range_start.0.to_le_bytes());
        out[8..12].copy_from_slice(&self.range_size.to_le_bytes());
        out[16..20].copy_from_slice(&self.oid.0.to_le_bytes());
        out[20..24].copy_from_slice(&self.block_offset.to_le_bytes());
        out[24..28].copy_from_slice(&self.hwm.to_le_bytes());
        out[28..32].copy_from_slice(&self.partition.to_le_bytes());
        out[32..34].copy_from_slice(&self.segment.to_le_bytes());
        out[34..36].copy_from_slice(&self.dbroot.0.to_le_bytes());
        out[36..38].copy_from_slice(&self.col_width.to_le_bytes());
        out[38..40].copy_from_slice(&self.status.to_le_bytes());
    }

    /// The 96-byte V5 image, zero padding.
    pub fn encode_v5(&self) -> [u8; RECORD_LEN_V5] {
        let mut out = [0u8; RECORD_LEN_V5];
        self.put_common(&mut out);
        out[48..52].copy_from_slice(&self.cp.seq_num.to_le_bytes());
        out[52] = self.cp.state as u8;
        out[64..80].copy_from_slice(&self.cp.lo.to_le_bytes());
        out[80..96].copy_from_slice(&self.cp.hi.to_le_bytes());
        out
    }

    /// The 64-byte V4 image, zero padding. V4 holds only the 64-bit views of the CP values:
    /// the upper halves (and so the 128-bit values of width-16 extents) are not stored.
    pub fn encode_v4(&self) -> [u8; RECORD_LEN_V4] {
        let mut out = [0u8; RECORD_LEN_V4];
        self.put_common(&mut out);
        let (lo, hi) = self.cp.v4_views(self.col_width);
        out[40..48].copy_from_slice(&hi.to_le_bytes());
        out[48..56].copy_from_slice(&lo.to_le_bytes());
        out[56..60].copy_from_slice(&self.cp.seq_num.to_le_bytes());
        out[60] = self.cp.state as u8;
        out
    }

    /// Append the image of `version` to `out`.
    pub fn encode_into(&self, version: EmVersion, out: &mut Vec<u8>) {
        match version {
            EmVersion::V4 => out.extend_from_slice(&self.encode_v4()),
            EmVersion::V5 => out.extend_from_slice(&self.encode_v5()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::em::cp::CpState;

    #[test]
    fn short_slice_is_truncation() {
        let err = ExtentRecord::parse(&[0u8; 95], EmVersion::V5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "at byte 0: truncated: expected version 5 extent record, found 95 bytes"
        );
    }

    #[test]
    fn v5_keeps_upper_halves_v4_loses_them() {
        let mut cp = CasualPartition::wide(
            CpState::VALID,
            0x1234_5678_9abc_def0_1122_3344_5566_7788,
            -5,
        );
        cp.seq_num = 9;
        let r = ExtentRecord {
            range_start: Lbid(1 << 20),
            range_size: 16,
            oid: Oid(3001),
            block_offset: 8192,
            hwm: 77,
            partition: 3,
            segment: 2,
            dbroot: DbRootId(4),
            col_width: 16,
            status: 1,
            cp,
        };
        assert_eq!(ExtentRecord::from_v5(&r.encode_v5()), r);
        let back = ExtentRecord::from_v4(&r.encode_v4());
        assert_eq!(
            (back.cp.lo_i64(), back.cp.hi_i64()),
            (r.cp.lo_i64(), r.cp.hi_i64())
        );
        assert_ne!(back.cp.lo, r.cp.lo);
    }
}
