//! The EMPTY and NULL values ColumnStore writes into column files, for every type and storage
//! width, as one table (SEG §5.1).
//!
//! Values are unsigned little-endian integers of `width` bytes: the INT EMPTY value
//! `0x80000001` is stored as bytes `01 00 00 80`.
//!
//! | family | w=1 EMPTY / NULL | w=2 | w=4 | w=8 | w=16 |
//! |---|---|---|---|---|---|
//! | signed int, DECIMAL, UDECIMAL | 0x81 / 0x80 | 0x8001 / 0x8000 | 0x80000001 / 0x80000000 | 0x8000000000000001 / 0x8000000000000000 | INT128_MIN+1 / INT128_MIN |
//! | unsigned int | 0xFF / 0xFE | 0xFFFF / 0xFFFE | 0xFFFFFFFF / 0xFFFFFFFE | 0xFF…FF / 0xFF…FE | ones / ones−1 |
//! | FLOAT, DOUBLE (and unsigned) | (unsigned rule) | (unsigned rule) | 0xFFAAAAAB / 0xFFAAAAAA | 0xFFFAAAAAAAAAAAAB / 0xFFFAAAAAAAAAAAAA | (unsigned rule) |
//! | DATE, DATETIME, TIME, TIMESTAMP | (unsigned rule) | (unsigned rule) | 0xFFFFFFFF / 0xFFFFFFFE | 0xFF…FF / 0xFF…FE, also 0xFEFF…FF | (unsigned rule) |
//! | CHAR, VARCHAR, TEXT, BLOB, VARBINARY, CLOB (inline or token) | 0xFF / 0xFE | 0xFFFF / 0xFEFF | 0xFFFFFFFF / 0xFEFFFFFF | 0xFF…FF / 0xFF…FE (token), also 0xFEFF…FF (inline) | ones / 0xFEFF…FF |
//!
//! * 8-byte string and temporal columns accept both 8-byte NULLs (SEG §5.1 recommendation):
//!   a token column and an inline CHAR(5..8)/VARCHAR(4..7) column both have width 8 and a
//!   string type in the header, so the two cannot be told apart there.
//! * The table AUX column is UTINYINT (EMPTY 0xFF).
//! * BIT, LONGDOUBLE, STRINT and UNDEFINED have no documented markers; they use the
//!   unsigned rule. Widths other than 1, 2, 4, 8 and 16 (0 = dictionary store) have no
//!   markers: [`markers`] returns width 0.
//!
//! ```
//! use emengine::seg::datatype::ColDataType;
//! use emengine::seg::markers::markers;
//! let m = markers(ColDataType::Int, 4);
//! assert_eq!(m.value_of(&[0x01, 0x00, 0x00, 0x80]), m.empty);
//! assert!(m.is_null(m.value_of(&[0x00, 0x00, 0x00, 0x80])));
//! ```

use crate::seg::datatype::ColDataType;

/// EMPTY and NULL of one column: unsigned little-endian integers of `width` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Markers {
    /// The value of a row that does not exist (never written or deleted).
    pub empty: u128,
    /// The NULL value writers store.
    pub null: u128,
    /// A second value also read as NULL (8-byte string and temporal types).
    pub alt_null: Option<u128>,
    /// Storage width in bytes; 0 when the width has no markers.
    pub width: u8,
}

impl Markers {
    /// No markers (dictionary store files, unknown widths).
    pub const NONE: Markers = Markers {
        empty: 0,
        null: 0,
        alt_null: None,
        width: 0,
    };

    /// Whether `value` is the EMPTY value.
    #[inline]
    pub fn is_empty(&self, value: u128) -> bool {
        self.width != 0 && value == self.empty
    }

    /// Whether `value` is a NULL value.
    #[inline]
    pub fn is_null(&self, value: u128) -> bool {
        self.width != 0 && (value == self.null || Some(value) == self.alt_null)
    }

    /// The value of `bytes` (at most 16) read as an unsigned little-endian integer.
    #[inline]
    pub fn value_of(&self, bytes: &[u8]) -> u128 {
        let mut buf = [0u8; 16];
        let n = bytes.len().min(16);
        buf[..n].copy_from_slice(&bytes[..n]);
        u128::from_le_bytes(buf)
    }

    /// The EMPTY value as the `width` bytes written on disk.
    pub fn empty_bytes(&self) -> Vec<u8> {
        self.empty.to_le_bytes()[..usize::from(self.width)].to_vec()
    }
}

/// Type families that share markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Signed,
    Unsigned,
    Float,
    Temporal,
    Str,
}

fn family(dt: ColDataType) -> Family {
    use ColDataType::*;
    match dt {
        TinyInt | SmallInt | MedInt | Int | BigInt | Decimal | UDecimal => Family::Signed,
        UTinyInt | USmallInt | UMedInt | UInt | UBigInt => Family::Unsigned,
        Float | UFloat | Double | UDouble => Family::Float,
        Date | DateTime | Time | Timestamp => Family::Temporal,
        Char | Varchar | Text | Blob | VarBinary | Clob => Family::Str,
        Bit | LongDouble | StrInt | Undefined => Family::Unsigned,
    }
}

const ONES8: u128 = u64::MAX as u128;
const ONES16: u128 = u128::MAX;
/// CHAR8NULL: bytes `FF`×7 `FE`.
const CHAR8NULL: u128 = 0xFEFF_FFFF_FFFF_FFFF;
const INT128_MIN: u128 = 1 << 127;

type Row = (Family, u8, u128, u128, Option<u128>);

/// SEG §5.1: (family, width, EMPTY, NULL, second NULL).
#[rustfmt::skip]
const TABLE: [Row; 25] = [
    (Family::Signed,   1, 0x81, 0x80, None),
    (Family::Signed,   2, 0x8001, 0x8000, None),
    (Family::Signed,   4, 0x8000_0001, 0x8000_0000, None),
    (Family::Signed,   8, 0x8000_0000_0000_0001, 0x8000_0000_0000_0000, None),
    (Family::Signed,  16, INT128_MIN + 1, INT128_MIN, None),
    (Family::Unsigned, 1, 0xFF, 0xFE, None),
    (Family::Unsigned, 2, 0xFFFF, 0xFFFE, None),
    (Family::Unsigned, 4, 0xFFFF_FFFF, 0xFFFF_FFFE, None),
    (Family::Unsigned, 8, ONES8, ONES8 - 1, None),
    (Family::Unsigned,16, ONES16, ONES16 - 1, None),
    (Family::Float,    1, 0xFF, 0xFE, None),
    (Family::Float,    2, 0xFFFF, 0xFFFE, None),
    (Family::Float,    4, 0xFFAA_AAAB, 0xFFAA_AAAA, None),
    (Family::Float,    8, 0xFFFA_AAAA_AAAA_AAAB, 0xFFFA_AAAA_AAAA_AAAA, None),
    (Family::Float,   16, ONES16, ONES16 - 1, None),
    (Family::Temporal, 1, 0xFF, 0xFE, None),
    (Family::Temporal, 2, 0xFFFF, 0xFFFE, None),
    (Family::Temporal, 4, 0xFFFF_FFFF, 0xFFFF_FFFE, None),
    (Family::Temporal, 8, ONES8, ONES8 - 1, Some(CHAR8NULL)),
    (Family::Temporal,16, ONES16, ONES16 - 1, None),
    (Family::Str,      1, 0xFF, 0xFE, None),
    (Family::Str,      2, 0xFFFF, 0xFEFF, None),
    (Family::Str,      4, 0xFFFF_FFFF, 0xFEFF_FFFF, None),
    (Family::Str,      8, ONES8, ONES8 - 1, Some(CHAR8NULL)),
    (Family::Str,     16, ONES16, ONES16 ^ (1 << 120), None),
];

/// EMPTY and NULL of a column of type `dt` stored `width` bytes wide (SEG §5.1).
///
/// Token columns are string types of width 8. Widths other than 1, 2, 4, 8, 16 give
/// [`Markers::NONE`].
pub fn markers(dt: ColDataType, width: u16) -> Markers {
    let fam = family(dt);
    TABLE
        .iter()
        .find(|row| row.0 == fam && u16::from(row.1) == width)
        .map_or(Markers::NONE, |&(_, w, empty, null, alt_null)| Markers {
            empty,
            null,
            alt_null,
            width: w,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColDataType::*;

    #[test]
    fn table_matches_spec_bytes() {
        let cases: &[(ColDataType, u16, &[u8], &[u8])] = &[
            (TinyInt, 1, &[0x81], &[0x80]),
            (SmallInt, 2, &[0x01, 0x80], &[0x00, 0x80]),
            (Int, 4, &[0x01, 0, 0, 0x80], &[0, 0, 0, 0x80]),
            (MedInt, 4, &[0x01, 0, 0, 0x80], &[0, 0, 0, 0x80]),
            (
                BigInt,
                8,
                &[1, 0, 0, 0, 0, 0, 0, 0x80],
                &[0, 0, 0, 0, 0, 0, 0, 0x80],
            ),
            (
                UDecimal,
                8,
                &[1, 0, 0, 0, 0, 0, 0, 0x80],
                &[0, 0, 0, 0, 0, 0, 0, 0x80],
            ),
            (
                Decimal,
                16,
                &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80],
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80],
            ),
            (UTinyInt, 1, &[0xFF], &[0xFE]),
            (USmallInt, 2, &[0xFF, 0xFF], &[0xFE, 0xFF]),
            (UInt, 4, &[0xFF; 4], &[0xFE, 0xFF, 0xFF, 0xFF]),
            (
                UBigInt,
                8,
                &[0xFF; 8],
                &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
            (
                Float,
                4,
                &[0xAB, 0xAA, 0xAA, 0xFF],
                &[0xAA, 0xAA, 0xAA, 0xFF],
            ),
            (
                UDouble,
                8,
                &[0xAB, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xFA, 0xFF],
                &[0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xFA, 0xFF],
            ),
            (Date, 4, &[0xFF; 4], &[0xFE, 0xFF, 0xFF, 0xFF]),
            (
                DateTime,
                8,
                &[0xFF; 8],
                &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
            (Char, 1, &[0xFF], &[0xFE]),
            (Varchar, 2, &[0xFF, 0xFF], &[0xFF, 0xFE]),
            (Char, 4, &[0xFF; 4], &[0xFF, 0xFF, 0xFF, 0xFE]),
            (
                Text,
                8,
                &[0xFF; 8],
                &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ];
        for &(dt, w, empty, null) in cases {
            let m = markers(dt, w);
            assert_eq!(usize::from(m.width), empty.len(), "{dt} {w}");
            assert_eq!(m.empty_bytes(), empty, "{dt} {w} empty");
            assert!(m.is_empty(m.value_of(empty)), "{dt} {w}");
            assert!(m.is_null(m.value_of(null)), "{dt} {w} null");
            assert!(!m.is_null(m.value_of(empty)), "{dt} {w}");
        }
    }

    #[test]
    fn eight_byte_string_and_temporal_accept_both_nulls() {
        for dt in [
            Char, Varchar, Text, Blob, VarBinary, DateTime, Timestamp, Time,
        ] {
            let m = markers(dt, 8);
            assert!(m.is_null(0xFFFF_FFFF_FFFF_FFFE), "{dt}");
            assert!(m.is_null(0xFEFF_FFFF_FFFF_FFFF), "{dt}");
        }
        assert!(!markers(UBigInt, 8).is_null(0xFEFF_FFFF_FFFF_FFFF));
        assert!(!markers(Date, 4).is_null(0xFEFF_FFFF));
    }

    #[test]
    fn every_type_has_markers_at_every_width() {
        for &dt in ColDataType::ALL {
            for w in [1u16, 2, 4, 8, 16] {
                let m = markers(dt, w);
                assert_eq!(u16::from(m.width), w);
                assert_ne!(m.empty, m.null);
                assert!(w == 16 || m.empty < (1u128 << (8 * w)), "{dt} {w}");
            }
            assert_eq!(markers(dt, 0), Markers::NONE);
            assert_eq!(markers(dt, 3), Markers::NONE);
        }
    }
}
