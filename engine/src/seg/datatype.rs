//! `ColDataType`: the column data type codes stored in the v3 control header (SEG §3.2.1,
//! `datatypes/mcs_datatype_basic.h`) and in the system catalog.
//!
//! | code | type | code | type | code | type |
//! |---|---|---|---|---|---|
//! | 0 | BIT | 10 | DOUBLE | 20 | UINT |
//! | 1 | TINYINT | 11 | DATETIME | 21 | UFLOAT |
//! | 2 | CHAR | 12 | VARCHAR | 22 | UBIGINT |
//! | 3 | SMALLINT | 13 | VARBINARY | 23 | UDOUBLE |
//! | 4 | DECIMAL | 14 | CLOB | 24 | TEXT |
//! | 5 | MEDINT | 15 | BLOB | 25 | TIME |
//! | 6 | INT | 16 | UTINYINT | 26 | TIMESTAMP |
//! | 7 | FLOAT | 17 | USMALLINT | (27) | (count, not a type) |
//! | 8 | DATE | 18 | UDECIMAL | 28 | LONGDOUBLE |
//! | 9 | BIGINT | 19 | UMEDINT | 29 | STRINT |
//! | | | | | 30 | UNDEFINED |
//!
//! ```
//! use emengine::seg::datatype::ColDataType;
//! let dt = ColDataType::from_code(i32::from_le_bytes([12, 0, 0, 0])).unwrap();
//! assert_eq!(dt, ColDataType::Varchar);
//! assert_eq!(dt.name(), "VARCHAR");
//! assert!(dt.is_unsigned_cp());
//! ```

use serde::{Serialize, Serializer};
use std::fmt;

macro_rules! col_data_types {
    ($($variant:ident = $code:literal, $name:literal;)*) => {
        /// A ColumnStore column data type (`CalpontSystemCatalog::ColDataType`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(i32)]
        pub enum ColDataType {
            $(#[doc = $name] $variant = $code,)*
        }

        impl ColDataType {
            /// Every type, in code order.
            pub const ALL: &'static [ColDataType] = &[$(ColDataType::$variant,)*];

            /// The type with this on-disk code; `None` for codes that are not a type (27, < 0, > 30).
            pub fn from_code(code: i32) -> Option<Self> {
                match code {
                    $($code => Some(ColDataType::$variant),)*
                    _ => None,
                }
            }

            /// ColumnStore's name for the type, as in SQL and `calpontsys.syscolumn` dumps.
            pub fn name(self) -> &'static str {
                match self {
                    $(ColDataType::$variant => $name,)*
                }
            }
        }
    };
}

col_data_types! {
    Bit = 0, "BIT";
    TinyInt = 1, "TINYINT";
    Char = 2, "CHAR";
    SmallInt = 3, "SMALLINT";
    Decimal = 4, "DECIMAL";
    MedInt = 5, "MEDINT";
    Int = 6, "INT";
    Float = 7, "FLOAT";
    Date = 8, "DATE";
    BigInt = 9, "BIGINT";
    Double = 10, "DOUBLE";
    DateTime = 11, "DATETIME";
    Varchar = 12, "VARCHAR";
    VarBinary = 13, "VARBINARY";
    Clob = 14, "CLOB";
    Blob = 15, "BLOB";
    UTinyInt = 16, "UTINYINT";
    USmallInt = 17, "USMALLINT";
    UDecimal = 18, "UDECIMAL";
    UMedInt = 19, "UMEDINT";
    UInt = 20, "UINT";
    UFloat = 21, "UFLOAT";
    UBigInt = 22, "UBIGINT";
    UDouble = 23, "UDOUBLE";
    Text = 24, "TEXT";
    Time = 25, "TIME";
    Timestamp = 26, "TIMESTAMP";
    LongDouble = 28, "LONGDOUBLE";
    StrInt = 29, "STRINT";
    Undefined = 30, "UNDEFINED";
}

impl ColDataType {
    /// The on-disk code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// ColumnStore's `isUnsigned()`: types whose min/max (CP) compare as unsigned 64-bit
    /// integers. Includes the string types, whose CP values compare as unsigned.
    pub fn is_unsigned_cp(self) -> bool {
        use ColDataType::*;
        matches!(
            self,
            UTinyInt | USmallInt | UMedInt | UInt | UBigInt | Char | Varchar | Text | VarBinary
        )
    }

    /// String types: stored inline up to 8 bytes, otherwise as dictionary tokens.
    pub fn is_string(self) -> bool {
        use ColDataType::*;
        matches!(self, Char | Varchar | Text | Blob | VarBinary | Clob)
    }
}

impl fmt::Display for ColDataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ColDataType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The inverse of `Serialize`: the type named by its ColumnStore name.
impl<'de> serde::Deserialize<'de> for ColDataType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ColDataType::ALL
            .iter()
            .copied()
            .find(|t| t.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown column type {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_gaps() {
        for code in -2..40 {
            match ColDataType::from_code(code) {
                Some(dt) => assert_eq!(dt.code(), code),
                None => assert!(!(0..=30).contains(&code) || code == 27, "code {code}"),
            }
        }
        assert_eq!(ColDataType::ALL.len(), 30);
        assert_eq!(ColDataType::from_code(18).unwrap().name(), "UDECIMAL");
        assert_eq!(ColDataType::from_code(26), Some(ColDataType::Timestamp));
        assert!(!ColDataType::Blob.is_unsigned_cp());
        assert!(ColDataType::UBigInt.is_unsigned_cp());
        assert!(!ColDataType::UDecimal.is_unsigned_cp());
    }
}
