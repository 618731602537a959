//! The system catalog's fixed definition and its fresh-install LBID layout (CAT §2, §3.3; SEG §7.3).
//!
//! The catalog is not self-describing: the engine hard-codes its 43 files. [`SYSCAT_COLUMNS`] is that
//! definition as one table, listed in `dbbuilder`'s **creation order**, which is also the order in which
//! a fresh install hands out LBIDs (sequentially from LBID 0, first fit, no gaps):
//!
//! | created as | storage width | `range.size` (1024-LBID units) | abbreviated file (blocks) |
//! |---|---|---|---|
//! | VARCHAR(40)/VARCHAR(8) → token | 8 | 8 | 256 |
//! | INT | 4 | 4 | 128 |
//! | DATE | 4 | 4 | 128 |
//! | CHAR(1) | 1 | 1 | 32 |
//! | UBIGINT | 8 | 8 | 256 |
//! | dictionary store | 0 (EM `colWid`) | 8 | 256 |
//!
//! [`syscat_layout`] replays that order over the OIDs that exist, so the three catalog generations
//! (A: 41 files, B: + 1012, C: + 1012 and 1043) fall out of it:
//!
//! ```
//! use emengine::catalog::syscat::{syscat_first_free, syscat_layout, Generation};
//! use emengine::types::{Lbid, Oid};
//!
//! let c = Generation::C.oids();
//! let layout = syscat_layout(&c);
//! assert_eq!(layout.len(), 43);
//! assert_eq!(layout.iter().find(|e| e.oid == Oid(2067)).unwrap().lbid, Lbid(114688));
//! assert_eq!(syscat_first_free(&c), Lbid(242688));
//! assert_eq!(syscat_first_free(&Generation::A.oids()), Lbid(234496));
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::seg::datatype::ColDataType;
use crate::types::{extent_units, Lbid, Oid, LBID_UNIT};

/// The two catalog tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CatalogTable {
    /// `calpontsys.systable`: one row per user table (column OIDs 1001–1012, dictionaries 2001, 2004).
    SysTable,
    /// `calpontsys.syscolumn`: one row per user column (column OIDs 1021–1043, dictionaries 2061–2076).
    SysColumn,
}

impl CatalogTable {
    /// The SQL-visible name.
    pub fn name(self) -> &'static str {
        match self {
            CatalogTable::SysTable => "systable",
            CatalogTable::SysColumn => "syscolumn",
        }
    }

    /// The column whose non-EMPTY value marks a live row (CAT §3.2).
    pub fn objectid_oid(self) -> Oid {
        match self {
            CatalogTable::SysTable => SYSTABLE_OBJECTID,
            CatalogTable::SysColumn => SYSCOLUMN_OBJECTID,
        }
    }
}

/// How `dbbuilder` created a catalog file (CAT §2.2, §2.3 "created as").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CreatedAs {
    /// VARCHAR(40) or VARCHAR(8): an 8-byte token column.
    Token,
    /// INT, 4 bytes.
    Int,
    /// DATE, 4 bytes.
    Date,
    /// CHAR(1), 1 byte.
    Char1,
    /// UBIGINT, 8 bytes.
    UBigInt,
    /// A dictionary store file.
    Dictionary,
}

impl CreatedAs {
    /// Storage width in bytes; 0 for a dictionary (its extent-map `colWid`).
    pub fn width(self) -> u16 {
        match self {
            CreatedAs::Token | CreatedAs::UBigInt => 8,
            CreatedAs::Int | CreatedAs::Date => 4,
            CreatedAs::Char1 => 1,
            CreatedAs::Dictionary => 0,
        }
    }

    /// The `ColDataType` the file was created with (dictionaries: VARCHAR, as their header records).
    pub fn data_type(self) -> ColDataType {
        match self {
            CreatedAs::Token | CreatedAs::Dictionary => ColDataType::Varchar,
            CreatedAs::Int => ColDataType::Int,
            CreatedAs::Date => ColDataType::Date,
            CreatedAs::Char1 => ColDataType::Char,
            CreatedAs::UBigInt => ColDataType::UBigInt,
        }
    }

    /// Blocks of the abbreviated first extent `dbbuilder` writes (SEG §2.4, §7.3).
    pub fn file_blocks(self) -> u32 {
        match self {
            CreatedAs::Dictionary => crate::types::DICT_ABBREVIATED_BLOCKS,
            other => 32 * u32::from(other.width()),
        }
    }

    /// `range.size` of the file's one extent, in 1024-LBID units.
    pub fn range_units(self) -> u32 {
        extent_units(self.width())
    }
}

/// One catalog file: a catalog column or a catalog dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyscatObject {
    /// Its fixed OID.
    pub oid: Oid,
    /// The catalog column's name; a dictionary carries its column's name.
    pub name: &'static str,
    /// The table it belongs to.
    pub table: CatalogTable,
    /// How it was created (type and width).
    pub created_as: CreatedAs,
    /// For a token column: its dictionary. For a dictionary: `None`.
    pub dict_oid: Option<Oid>,
    /// For a dictionary: the token column it serves. For a column: `None`.
    pub column_oid: Option<Oid>,
    /// The generation that introduced the file.
    pub since: Generation,
}

impl SyscatObject {
    /// Storage width (0 for a dictionary).
    pub fn width(&self) -> u16 {
        self.created_as.width()
    }

    /// Whether this is a dictionary store file.
    pub fn is_dictionary(&self) -> bool {
        self.created_as == CreatedAs::Dictionary
    }
}

/// Catalog generation (CAT §7.1), decided by which of the late files exist (CAT §5 step 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Generation {
    /// ≤ 6.x: 41 files, no `auxcolumnoid` (1012) and no `charsetnum` (1043).
    A,
    /// 22.08–23.02: 42 files, with 1012.
    B,
    /// 23.10 and later: 43 files, with 1012 and 1043.
    C,
}

impl Generation {
    /// The generation of a catalog whose files (or extent-map entries) are `present`.
    ///
    /// 1043 without 1012 only happens in a damaged catalog; it is classed as C (a 23.10+ writer made
    /// it) and the reader reports the missing 1012 separately.
    pub fn detect(present: &BTreeSet<Oid>) -> Generation {
        if present.contains(&SYSCOLUMN_CHARSETNUM) {
            Generation::C
        } else if present.contains(&SYSTABLE_AUXCOLUMNOID) {
            Generation::B
        } else {
            Generation::A
        }
    }

    /// Every catalog OID a fresh install of this generation creates.
    pub fn oids(self) -> BTreeSet<Oid> {
        SYSCAT_COLUMNS
            .iter()
            .filter(|o| o.since <= self)
            .map(|o| o.oid)
            .collect()
    }

    /// Number of catalog files (41, 42, 43).
    pub fn file_count(self) -> usize {
        SYSCAT_COLUMNS.iter().filter(|o| o.since <= self).count()
    }
}

/// SYSTABLE `objectid` (the table OID; live-row test).
pub const SYSTABLE_OBJECTID: Oid = Oid(1003);
/// SYSTABLE `auxcolumnoid` (generation B and later).
pub const SYSTABLE_AUXCOLUMNOID: Oid = Oid(1012);
/// SYSCOLUMN `objectid` (the column OID; live-row test).
pub const SYSCOLUMN_OBJECTID: Oid = Oid(1024);
/// SYSCOLUMN `charsetnum` (generation C).
pub const SYSCOLUMN_CHARSETNUM: Oid = Oid(1043);

macro_rules! obj {
    ($oid:expr, $name:expr, $table:ident, $ty:ident) => {
        obj!($oid, $name, $table, $ty, None, None, A)
    };
    ($oid:expr, $name:expr, $table:ident, $ty:ident, since $gen:ident) => {
        obj!($oid, $name, $table, $ty, None, None, $gen)
    };
    ($oid:expr, $name:expr, $table:ident, Token, dict $dict:expr) => {
        obj!($oid, $name, $table, Token, Some(Oid($dict)), None, A)
    };
    ($oid:expr, $name:expr, $table:ident, Dictionary, of $col:expr) => {
        obj!($oid, $name, $table, Dictionary, None, Some(Oid($col)), A)
    };
    ($oid:expr, $name:expr, $table:ident, $ty:ident, $dict:expr, $col:expr, $gen:ident) => {
        SyscatObject {
            oid: Oid($oid),
            name: $name,
            table: CatalogTable::$table,
            created_as: CreatedAs::$ty,
            dict_oid: $dict,
            column_oid: $col,
            since: Generation::$gen,
        }
    };
}

/// Every catalog file, in `dbbuilder`'s creation order (SEG §7.3; CAT §2.2, §2.3, §3.3).
///
/// This is the one place the catalog's definition lives: OID, name, table, creation type and width,
/// dictionary, and the generation that introduced it.
pub const SYSCAT_COLUMNS: [SyscatObject; 43] = [
    obj!(1001, "tablename", SysTable, Token, dict 2001),
    obj!(2001, "tablename", SysTable, Dictionary, of 1001),
    obj!(1002, "schema", SysTable, Token, dict 2004),
    obj!(2004, "schema", SysTable, Dictionary, of 1002),
    obj!(1003, "objectid", SysTable, Int),
    obj!(1004, "createdate", SysTable, Date),
    obj!(1005, "lastupdate", SysTable, Date),
    obj!(1006, "init", SysTable, Int),
    obj!(1007, "next", SysTable, Int),
    obj!(1008, "numofrows", SysTable, Int),
    obj!(1009, "avgrowlen", SysTable, Int),
    obj!(1010, "numofblocks", SysTable, Int),
    obj!(1011, "autoincrement", SysTable, Int),
    obj!(1012, "auxcolumnoid", SysTable, Int, since B),
    obj!(1021, "schema", SysColumn, Token, dict 2061),
    obj!(2061, "schema", SysColumn, Dictionary, of 1021),
    obj!(1022, "tablename", SysColumn, Token, dict 2064),
    obj!(2064, "tablename", SysColumn, Dictionary, of 1022),
    obj!(1023, "columnname", SysColumn, Token, dict 2067),
    obj!(2067, "columnname", SysColumn, Dictionary, of 1023),
    obj!(1024, "objectid", SysColumn, Int),
    obj!(1025, "dictobjectid", SysColumn, Int),
    obj!(1026, "listobjectid", SysColumn, Int),
    obj!(1027, "treeobjectid", SysColumn, Int),
    obj!(1028, "datatype", SysColumn, Int),
    obj!(1029, "columnlength", SysColumn, Int),
    obj!(1030, "columnposition", SysColumn, Int),
    obj!(1031, "lastupdate", SysColumn, Date),
    obj!(1032, "defaultvalue", SysColumn, Token, dict 2070),
    obj!(2070, "defaultvalue", SysColumn, Dictionary, of 1032),
    obj!(1033, "nullable", SysColumn, Int),
    obj!(1034, "scale", SysColumn, Int),
    obj!(1035, "prec", SysColumn, Int),
    obj!(1036, "autoincrement", SysColumn, Char1),
    obj!(1037, "distcount", SysColumn, Int),
    obj!(1038, "nullcount", SysColumn, Int),
    obj!(1039, "minvalue", SysColumn, Token, dict 2073),
    obj!(2073, "minvalue", SysColumn, Dictionary, of 1039),
    obj!(1040, "maxvalue", SysColumn, Token, dict 2076),
    obj!(2076, "maxvalue", SysColumn, Dictionary, of 1040),
    obj!(1041, "compressiontype", SysColumn, Int),
    obj!(1042, "nextvalue", SysColumn, UBigInt),
    obj!(1043, "charsetnum", SysColumn, Int, since C),
];

/// The definition of catalog OID `oid`, if it is one of the 43 catalog files.
pub fn syscat_object(oid: Oid) -> Option<&'static SyscatObject> {
    SYSCAT_COLUMNS.iter().find(|o| o.oid == oid)
}

/// Whether `oid` names one of the 43 catalog files.
pub fn is_syscat_oid(oid: Oid) -> bool {
    syscat_object(oid).is_some()
}

/// Every catalog OID (43), ascending.
pub fn all_syscat_oids() -> BTreeSet<Oid> {
    SYSCAT_COLUMNS.iter().map(|o| o.oid).collect()
}

/// One extent of the replayed fresh-install layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscatExtent {
    /// The catalog file's OID.
    pub oid: Oid,
    /// First LBID of its extent.
    pub lbid: Lbid,
    /// `range.size` in 1024-LBID units.
    pub range_size: u32,
    /// Storage width as the extent map records it (`colWid`; 0 for a dictionary).
    pub width: u16,
    /// The type the file was created with (dictionaries: VARCHAR).
    pub data_type: ColDataType,
    /// Blocks of the abbreviated file `dbbuilder` writes.
    pub file_blocks: u32,
}

impl SyscatExtent {
    /// The first LBID after this extent.
    pub fn end(&self) -> Lbid {
        Lbid(self.lbid.0 + i64::from(self.range_size) * LBID_UNIT)
    }
}

/// Replays `dbbuilder`'s creation order from LBID 0 over the catalog OIDs in `present`.
///
/// OIDs that are not present take no LBIDs; OIDs in `present` that are not catalog files are ignored.
/// The result is in creation order, which is ascending LBID order.
pub fn syscat_layout(present: &BTreeSet<Oid>) -> Vec<SyscatExtent> {
    let mut next = 0i64;
    let mut out = Vec::with_capacity(SYSCAT_COLUMNS.len());
    for obj in SYSCAT_COLUMNS.iter().filter(|o| present.contains(&o.oid)) {
        let ext = SyscatExtent {
            oid: obj.oid,
            lbid: Lbid(next),
            range_size: obj.created_as.range_units(),
            width: obj.width(),
            data_type: obj.created_as.data_type(),
            file_blocks: obj.created_as.file_blocks(),
        };
        next = ext.end().0;
        out.push(ext);
    }
    out
}

/// The layout of a catalog that was first built as generation `original` and later upgraded in
/// place (CAT §7.2): the replay over the present OIDs of `original`, and the present OIDs it lacks
/// (1012 and/or 1043), whose extents were allocated later, at LBIDs the replay cannot know.
pub fn syscat_layout_upgraded(
    present: &BTreeSet<Oid>,
    original: Generation,
) -> (Vec<SyscatExtent>, Vec<Oid>) {
    let mut first = BTreeSet::new();
    let mut later = Vec::new();
    for obj in SYSCAT_COLUMNS.iter().filter(|o| present.contains(&o.oid)) {
        if obj.since <= original {
            first.insert(obj.oid);
        } else {
            later.push(obj.oid);
        }
    }
    (syscat_layout(&first), later)
}

/// The first LBID after the replayed catalog layout (242688, 238592, 234496 for generations C, B, A).
pub fn syscat_first_free(present: &BTreeSet<Oid>) -> Lbid {
    syscat_layout(present)
        .last()
        .map_or(Lbid(0), SyscatExtent::end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let oids = all_syscat_oids();
        assert_eq!(oids.len(), 43, "OIDs are distinct");
        for o in &SYSCAT_COLUMNS {
            match o.created_as {
                CreatedAs::Token => {
                    let d = syscat_object(o.dict_oid.unwrap()).unwrap();
                    assert_eq!(d.column_oid, Some(o.oid));
                    assert_eq!(d.table, o.table);
                }
                CreatedAs::Dictionary => assert!(o.column_oid.is_some()),
                _ => assert!(o.dict_oid.is_none() && o.column_oid.is_none()),
            }
            let expected_table = if o.oid.0 < 1020 || (2000..2060).contains(&o.oid.0) {
                CatalogTable::SysTable
            } else {
                CatalogTable::SysColumn
            };
            assert_eq!(o.table, expected_table, "{}", o.oid);
        }
    }

    #[test]
    fn generations_detected_from_presence() {
        for g in [Generation::A, Generation::B, Generation::C] {
            assert_eq!(Generation::detect(&g.oids()), g);
        }
        assert_eq!(Generation::A.file_count(), 41);
        assert_eq!(Generation::B.file_count(), 42);
        assert_eq!(Generation::C.file_count(), 43);
    }
}
