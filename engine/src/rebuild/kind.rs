//! The vocabulary the stages share about what a segment file holds: its [`ObjectKind`] (column
//! type and width, or dictionary), where that kind was learnt ([`KindSource`]), and the
//! [`StringCp`] policy for inline strings. No logic of any stage lives here.

use crate::seg::datatype::ColDataType;
use crate::types::extent_blocks;

/// What a segment file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ObjectKind {
    /// Column values of `width` bytes (tokens for dictionary columns).
    Column { data_type: ColDataType, width: u16 },
    /// A dictionary store.
    Dictionary,
}

impl ObjectKind {
    /// What a system-catalog file holds, from the catalog's fixed definition (CAT §2).
    pub fn of_syscat(obj: &crate::catalog::syscat::SyscatObject) -> Self {
        if obj.is_dictionary() {
            ObjectKind::Dictionary
        } else {
            ObjectKind::Column {
                data_type: obj.created_as.data_type(),
                width: obj.width(),
            }
        }
    }

    /// `colWid` as the extent map records it (0 for dictionaries).
    pub fn em_width(self) -> u16 {
        match self {
            ObjectKind::Column { width, .. } => width,
            ObjectKind::Dictionary => 0,
        }
    }

    /// Blocks in one extent of this object.
    pub fn extent_blocks(self) -> u32 {
        extent_blocks(self.em_width())
    }
}

/// Where a file's kind was learnt.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum KindSource {
    /// The v3 compressed header's width and data type.
    Header,
    /// The fixed definition of the system catalog.
    SystemCatalog,
    /// The SYSCOLUMN / SYSTABLE rows of the catalog.
    Catalog,
}

/// How inline CHAR/VARCHAR extents get their min/max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum StringCp {
    /// Marked invalid: their order depends on the collation.
    #[default]
    Invalid,
    /// Computed in binary (memcmp) order, as cpimport does.
    Binary,
}
