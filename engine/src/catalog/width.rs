//! From a SYSCOLUMN row's (`datatype`, `columnlength`) to how the column is stored (CAT §5 steps 5–6,
//! SEG §2.2): whether it is a dictionary (token) column, and its storage width.
//!
//! These are the engine's read-side rules; they apply to whatever a catalog of any version stores.
//!
//! | datatype | storage width |
//! |---|---|
//! | dictionary column (see [`is_dictionary_column`]) | 8 (token) |
//! | TINYINT, UTINYINT | 1 |
//! | SMALLINT, USMALLINT | 2 |
//! | MEDINT, INT, UMEDINT, UINT, FLOAT, UFLOAT, DATE | 4 |
//! | BIGINT, UBIGINT, DOUBLE, UDOUBLE, DATETIME, TIME, TIMESTAMP | 8 |
//! | DECIMAL, UDECIMAL | `columnlength` 1 → 1, 2 → 2, ≤ 4 → 4, ≤ 8 → 8, otherwise 16 |
//! | CHAR, L ≤ 8 | 1 → 1, 2 → 2, 3–4 → 4, 5–8 → 8 |
//! | VARCHAR, L ≤ 7 | 1 → 2, 2–3 → 4, 4–7 → 8 |
//!
//! ```
//! use emengine::catalog::width::{is_dictionary_column, storage_width};
//! use emengine::seg::datatype::ColDataType;
//!
//! assert_eq!(storage_width(ColDataType::Varchar, 40), Some(8));
//! assert!(is_dictionary_column(ColDataType::Varchar, 40));
//! assert_eq!(storage_width(ColDataType::Varchar, 3), Some(4));
//! assert_eq!(storage_width(ColDataType::Decimal, 16), Some(16));
//! assert!(!is_dictionary_column(ColDataType::Decimal, 16));
//! ```

use crate::seg::datatype::ColDataType;

/// Whether a column of this type and byte length is a dictionary (token) column
/// (CAT §5 step 5: VARBINARY, BLOB, TEXT; or not DECIMAL and length > 8; or VARCHAR and length ≥ 8).
pub fn is_dictionary_column(dt: ColDataType, column_length: i32) -> bool {
    match dt {
        ColDataType::VarBinary | ColDataType::Blob | ColDataType::Text => true,
        ColDataType::Decimal | ColDataType::UDecimal => false,
        ColDataType::Varchar => column_length >= 8,
        _ => column_length > 8,
    }
}

/// Storage width in bytes of a column with this `datatype` and `columnlength` (CAT §5 step 6),
/// or `None` when the pair does not describe a storable column (BIT, CLOB, a non-positive length...).
pub fn storage_width(dt: ColDataType, column_length: i32) -> Option<u16> {
    if is_dictionary_column(dt, column_length) {
        return Some(8);
    }
    use ColDataType as T;
    match dt {
        T::TinyInt | T::UTinyInt => Some(1),
        T::SmallInt | T::USmallInt => Some(2),
        T::MedInt | T::Int | T::UMedInt | T::UInt | T::Float | T::UFloat | T::Date => Some(4),
        T::BigInt | T::UBigInt | T::Double | T::UDouble | T::DateTime | T::Time | T::Timestamp => {
            Some(8)
        }
        T::Decimal | T::UDecimal => match column_length {
            i32::MIN..=0 => None,
            1 => Some(1),
            2 => Some(2),
            3..=4 => Some(4),
            5..=8 => Some(8),
            _ => Some(16),
        },
        T::Char => match column_length {
            1 => Some(1),
            2 => Some(2),
            3..=4 => Some(4),
            5..=8 => Some(8),
            _ => None,
        },
        T::Varchar => match column_length {
            1 => Some(2),
            2..=3 => Some(4),
            4..=7 => Some(8),
            _ => None,
        },
        _ => None,
    }
}

/// The DECIMAL storage width the DDL derives from a precision (CAT §4.2), for cross-checking
/// `columnlength`: 1–2 → 1, 3–4 → 2, 5–9 → 4, 10–18 → 8, 19–38 → 16.
pub fn decimal_width_for_precision(precision: i32) -> Option<u16> {
    match precision {
        1..=2 => Some(1),
        3..=4 => Some(2),
        5..=9 => Some(4),
        10..=18 => Some(8),
        19..=38 => Some(16),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColDataType as T;

    #[test]
    fn char_and_varchar_boundaries() {
        let char_w: Vec<_> = (1..=9).map(|l| storage_width(T::Char, l)).collect();
        assert_eq!(
            char_w,
            [1, 2, 4, 4, 8, 8, 8, 8, 8].map(Some).to_vec(),
            "CHAR(9) is a dictionary column of width 8"
        );
        assert!(!is_dictionary_column(T::Char, 8));
        assert!(is_dictionary_column(T::Char, 9));
        let varchar_w: Vec<_> = (1..=8).map(|l| storage_width(T::Varchar, l)).collect();
        assert_eq!(varchar_w, [2, 4, 4, 8, 8, 8, 8, 8].map(Some).to_vec());
        assert!(!is_dictionary_column(T::Varchar, 7));
        assert!(is_dictionary_column(T::Varchar, 8));
        assert_eq!(storage_width(T::Char, 0), None);
        assert_eq!(storage_width(T::Varchar, -1), None);
    }

    #[test]
    fn binary_types_are_always_dictionaries() {
        for t in [T::VarBinary, T::Blob, T::Text] {
            assert!(is_dictionary_column(t, 1));
            assert_eq!(storage_width(t, 1), Some(8));
        }
    }

    #[test]
    fn decimal_widths_follow_columnlength() {
        let w: Vec<_> = [1, 2, 3, 4, 5, 8, 9, 16, 17]
            .map(|l| storage_width(T::Decimal, l))
            .to_vec();
        assert_eq!(w, [1, 2, 4, 4, 8, 8, 16, 16, 16].map(Some).to_vec());
        assert_eq!(storage_width(T::UDecimal, 0), None);
        assert_eq!(decimal_width_for_precision(38), Some(16));
        assert_eq!(decimal_width_for_precision(10), Some(8));
        assert_eq!(decimal_width_for_precision(0), None);
    }

    #[test]
    fn fixed_types_ignore_length_up_to_eight() {
        assert_eq!(storage_width(T::Int, 4), Some(4));
        assert_eq!(storage_width(T::BigInt, 8), Some(8));
        assert_eq!(storage_width(T::UTinyInt, 1), Some(1));
        assert_eq!(storage_width(T::Timestamp, 8), Some(8));
        // the read rule: a non-decimal with columnlength > 8 is a dictionary column
        assert_eq!(storage_width(T::Int, 9), Some(8));
        assert!(is_dictionary_column(T::Int, 9));
        assert_eq!(storage_width(T::Bit, 1), None);
        assert_eq!(storage_width(T::Clob, 4), None);
    }
}
