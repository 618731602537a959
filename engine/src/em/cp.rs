//! Casual-partitioning (CP) data of one extent: min/max, sequence number and state (EM §1.4,
//! §1.9, §2).
//!
//! In a V5 record the CP part sits at record offset 48 (it is 16-byte aligned):
//!
//! | rec off | size | type | field | notes |
//! |---------|------|------|-------|-------|
//! | 48      | 4    | i32  | sequenceNum | |
//! | 52      | 1    | i8   | isValid | [`CpState`]: 0 invalid, 1 updating, 2 valid; other values kept raw |
//! | 53      | 11   | —    | pad | |
//! | 64      | 16   | i128 | bigLoVal | minimum; `loVal` = low 8 bytes |
//! | 80      | 16   | i128 | bigHiVal | maximum; `hiVal` = low 8 bytes |
//!
//! V4 stores `hi_val` (i64) at 40, `lo_val` (i64) at 48, `sequenceNum` at 56 and `isValid` at 60.
//!
//! [`CasualPartition::lo`]/[`CasualPartition::hi`] hold the full 16 bytes exactly as a V5 record
//! stores them. For columns narrower than 16 bytes only the low 8 bytes mean anything; the upper
//! 8 bytes are whatever the record was created with, and are kept so that a record read and
//! written back keeps every byte. Records created fresh use HEAD's default-constructor pattern
//! (lo upper `ffffffffffffff7f`, hi upper `0000000000000080`, EM §1.9).
//!
//! ```
//! use emengine::em::{CasualPartition, CpState};
//! // The CP part of a V5 record: seq 3, valid, lo 1, hi 2000000 (HEAD upper halves).
//! let mut rec = [0u8; 96];
//! rec[48..52].copy_from_slice(&3i32.to_le_bytes());
//! rec[52] = 2;
//! rec[64..72].copy_from_slice(&1i64.to_le_bytes());
//! rec[72..80].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
//! rec[80..88].copy_from_slice(&2_000_000i64.to_le_bytes());
//! rec[88..96].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]);
//! let lo = i128::from_le_bytes(rec[64..80].try_into().unwrap());
//! let hi = i128::from_le_bytes(rec[80..96].try_into().unwrap());
//! let mut cp = CasualPartition::narrow(CpState::VALID, 1, 2_000_000);
//! cp.seq_num = 3;
//! assert_eq!((cp.lo, cp.hi), (lo, hi));
//! assert_eq!((cp.lo_i64(), cp.hi_i64()), (1, 2_000_000));
//! assert_eq!(cp.cp_state(), CpState::Valid);
//! ```

use crate::seg::datatype::ColDataType;
use std::fmt;

/// HEAD's default upper half of `bigLoVal` for narrow columns (bytes `ff ff ff ff ff ff ff 7f`).
pub const NARROW_LO_UPPER: u64 = 0x7FFF_FFFF_FFFF_FFFF;
/// HEAD's default upper half of `bigHiVal` for narrow columns (bytes `00 00 00 00 00 00 00 80`).
pub const NARROW_HI_UPPER: u64 = 0x8000_0000_0000_0000;

/// The CP state (`isValid`), with unknown raw values kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpState {
    /// `CP_INVALID` (0): no usable min/max, no DML in progress.
    Invalid,
    /// `CP_UPDATING` (1): a DML statement is modifying the extent.
    Updating,
    /// `CP_VALID` (2): min/max usable for extent elimination.
    Valid,
    /// Any other stored byte.
    Unknown(i8),
}

impl CpState {
    /// Raw value of `CP_INVALID`.
    pub const INVALID: i8 = 0;
    /// Raw value of `CP_UPDATING`.
    pub const UPDATING: i8 = 1;
    /// Raw value of `CP_VALID`.
    pub const VALID: i8 = 2;

    /// The state stored as `raw`.
    pub fn from_raw(raw: i8) -> Self {
        match raw {
            Self::INVALID => CpState::Invalid,
            Self::UPDATING => CpState::Updating,
            Self::VALID => CpState::Valid,
            other => CpState::Unknown(other),
        }
    }

    /// The stored byte.
    pub fn raw(self) -> i8 {
        match self {
            CpState::Invalid => Self::INVALID,
            CpState::Updating => Self::UPDATING,
            CpState::Valid => Self::VALID,
            CpState::Unknown(v) => v,
        }
    }

    /// `invalid`, `updating`, `valid`, or `None` for an unknown value (editem prints `unknown`).
    pub fn name(self) -> Option<&'static str> {
        match self {
            CpState::Invalid => Some("invalid"),
            CpState::Updating => Some("updating"),
            CpState::Valid => Some("valid"),
            CpState::Unknown(_) => None,
        }
    }
}

impl fmt::Display for CpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.raw()),
        }
    }
}

/// Which creation-time sentinel range an extent gets (EM §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SentinelKind {
    /// Signed column, width ≠ 16: lo INT64_MAX, hi INT64_MIN (HEAD upper halves).
    SignedNarrow,
    /// Unsigned or character column (`isUnsigned()`), width ≠ 16: lo UINT64_MAX (−1), hi 0.
    UnsignedNarrow,
    /// Signed wide DECIMAL (width 16): lo INT128_MAX, hi INT128_MIN.
    SignedWide,
    /// Unsigned wide DECIMAL (width 16): lo −1 (all bytes `ff`), hi 0.
    UnsignedWide,
    /// Dictionary-store extent (width 0): lo INT128_MAX, hi INT128_MIN (i64 views −1 and 0).
    Dictionary,
}

impl SentinelKind {
    /// The sentinel a new extent of a column of `dt` stored `col_width` bytes wide gets at HEAD
    /// (EM §2.2): width 0 is a dictionary store; otherwise signed or unsigned by ColumnStore's
    /// `isUnsigned()` ([`ColDataType::is_unsigned_cp`]), narrow or wide (16 bytes).
    ///
    /// Releases before 22.08 gave CHAR/VARCHAR the signed pair (EM §2.1, "Era"); callers that
    /// reproduce such a map choose [`SentinelKind::SignedNarrow`] themselves.
    pub fn for_column(dt: ColDataType, col_width: u16) -> SentinelKind {
        match (col_width, dt.is_unsigned_cp()) {
            (0, _) => SentinelKind::Dictionary,
            (16, true) => SentinelKind::UnsignedWide,
            (16, false) => SentinelKind::SignedWide,
            (_, true) => SentinelKind::UnsignedNarrow,
            (_, false) => SentinelKind::SignedNarrow,
        }
    }
}

/// The CP part of one extent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CasualPartition {
    /// `sequenceNum`.
    pub seq_num: i32,
    /// `isValid`, raw (see [`CpState`]).
    pub state: i8,
    /// `bigLoVal`: all 16 bytes as stored; the minimum.
    pub lo: i128,
    /// `bigHiVal`: all 16 bytes as stored; the maximum.
    pub hi: i128,
}

impl CasualPartition {
    /// A narrow-column range with HEAD's upper-half pattern, sequence number 0.
    pub fn narrow(state: i8, lo: i64, hi: i64) -> Self {
        Self {
            seq_num: 0,
            state,
            lo: with_upper(lo, NARROW_LO_UPPER),
            hi: with_upper(hi, NARROW_HI_UPPER),
        }
    }

    /// A wide (16-byte) range, sequence number 0.
    pub fn wide(state: i8, lo: i128, hi: i128) -> Self {
        Self {
            seq_num: 0,
            state,
            lo,
            hi,
        }
    }

    /// The sentinel range ColumnStore gives a new extent of `kind`, sequence number 0.
    pub fn sentinel(kind: SentinelKind, state: i8) -> Self {
        match kind {
            SentinelKind::SignedNarrow => Self::narrow(state, i64::MAX, i64::MIN),
            SentinelKind::UnsignedNarrow => Self::narrow(state, -1, 0),
            SentinelKind::SignedWide | SentinelKind::Dictionary => {
                Self::wide(state, i128::MAX, i128::MIN)
            }
            SentinelKind::UnsignedWide => Self::wide(state, -1, 0),
        }
    }

    /// `loVal`: the low 8 bytes of `bigLoVal` as a signed 64-bit value.
    pub fn lo_i64(&self) -> i64 {
        self.lo as i64
    }

    /// `hiVal`: the low 8 bytes of `bigHiVal` as a signed 64-bit value.
    pub fn hi_i64(&self) -> i64 {
        self.hi as i64
    }

    /// The minimum as ColumnStore reads it for a column of width `col_width`: all 16 bytes when
    /// the width is 16, else the 64-bit view (sign-extended).
    pub fn lo_value(&self, col_width: u16) -> i128 {
        if col_width == 16 {
            self.lo
        } else {
            i128::from(self.lo_i64())
        }
    }

    /// The maximum, chosen like [`CasualPartition::lo_value`].
    pub fn hi_value(&self, col_width: u16) -> i128 {
        if col_width == 16 {
            self.hi
        } else {
            i128::from(self.hi_i64())
        }
    }

    /// `(loVal, hiVal)` as a V4 record of an extent `col_width` bytes wide stores them (EM §1.3):
    /// the 64-bit views, except that a dictionary extent's (width 0) 128-bit sentinel pair
    /// (INT128_MAX, INT128_MIN) is stored as INT64_MAX/INT64_MIN — what a V4 build gave every
    /// new dictionary extent, as the real V4 map shows (EM §6.2: the 8 dictionary records) — not
    /// its low halves (−1, 0). Only for width 0: a narrow unsigned column's sentinel −1/0 with
    /// HEAD's upper halves has the same 128-bit image and must keep its views.
    pub fn v4_views(&self, col_width: u16) -> (i64, i64) {
        if col_width == 0 && (self.lo, self.hi) == (i128::MAX, i128::MIN) {
            (i64::MAX, i64::MIN)
        } else {
            (self.lo_i64(), self.hi_i64())
        }
    }

    /// The state as an enum.
    pub fn cp_state(&self) -> CpState {
        CpState::from_raw(self.state)
    }
}

/// `low` in the low 8 bytes, `upper` in the high 8 bytes.
fn with_upper(low: i64, upper: u64) -> i128 {
    ((u128::from(upper) << 64) | u128::from(low as u64)) as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_upper_halves_are_heads_default_bytes() {
        let cp = CasualPartition::narrow(CpState::INVALID, i64::MAX, i64::MIN);
        let lo = cp.lo.to_le_bytes();
        let hi = cp.hi.to_le_bytes();
        assert_eq!(
            lo,
            [
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0x7f
            ]
        );
        assert_eq!(hi, [0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    }

    #[test]
    fn dictionary_sentinel_views() {
        let cp = CasualPartition::sentinel(SentinelKind::Dictionary, CpState::INVALID);
        assert_eq!((cp.lo_i64(), cp.hi_i64()), (-1, 0));
        assert_eq!((cp.lo_value(16), cp.hi_value(16)), (i128::MAX, i128::MIN));
        let u = CasualPartition::sentinel(SentinelKind::UnsignedWide, CpState::INVALID);
        assert_eq!(u.lo.to_le_bytes(), [0xff; 16]);
        assert_eq!(u.hi, 0);
        let n = CasualPartition::sentinel(SentinelKind::UnsignedNarrow, CpState::VALID);
        assert_eq!((n.lo_i64(), n.hi_i64()), (-1, 0));
    }

    #[test]
    fn states_round_trip_and_keep_unknown_raw() {
        for raw in i8::MIN..=i8::MAX {
            assert_eq!(CpState::from_raw(raw).raw(), raw);
        }
        assert_eq!(CpState::from_raw(7), CpState::Unknown(7));
        assert_eq!(CpState::from_raw(7).to_string(), "7");
        assert_eq!(CpState::from_raw(1).to_string(), "updating");
    }
}
