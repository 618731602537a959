//! What a catalog describes: user tables, their columns, dictionaries and AUX columns, and the join
//! of SYSCOLUMN rows to SYSTABLE rows (CAT §5 steps 4, 8, 9).
//!
//! | OID kind | data type | extent width | compression |
//! |---|---|---|---|
//! | catalog file (1001–1043, 2001–2076) | as created ([`SyscatObject`]) | 1, 4, 8; 0 for dictionaries | 0 |
//! | table OID | – (no files) | – | – |
//! | column | `datatype` | [`storage_width`](super::width::storage_width) | `compressiontype` |
//! | dictionary of a column | the column's | 0 | the column's |
//! | AUX column | UTINYINT | 1 | 2 |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Serialize, Serializer};

use super::syscat::{
    syscat_object, Generation, SyscatObject, SYSCOLUMN_OBJECTID, SYSTABLE_OBJECTID,
};
use crate::seg::datatype::ColDataType;
use crate::types::Oid;

/// At most this many problems are kept; the rest are counted.
pub const MAX_PROBLEMS: usize = 1000;

/// Data type of an AUX column: UTINYINT, width 1, compression 2 (CAT §5 step 8).
pub const AUX_DATA_TYPE: ColDataType = ColDataType::UTinyInt;
/// Storage width of an AUX column.
pub const AUX_WIDTH: u16 = 1;
/// Compression type of an AUX column (always Snappy, whatever the table's).
pub const AUX_COMPRESSION: i32 = 2;

/// A schema, table or column name: the bytes as stored (compared exactly, shown lossily as UTF-8).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CatalogName(pub Vec<u8>);

impl CatalogName {
    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for CatalogName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for CatalogName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for CatalogName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<&str> for CatalogName {
    fn from(s: &str) -> Self {
        CatalogName(s.as_bytes().to_vec())
    }
}

impl PartialEq<str> for CatalogName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for CatalogName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// One user column, from its SYSCOLUMN row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnInfo {
    /// `schema` as stored.
    pub schema: CatalogName,
    /// `tablename` as stored.
    pub table: CatalogName,
    /// `columnname` (lower-cased by the engine).
    pub name: CatalogName,
    /// `objectid`: the column OID.
    pub oid: Oid,
    /// The dictionary OID of a dictionary column (validated against the read rule).
    pub dict_oid: Option<Oid>,
    /// `datatype`.
    pub data_type: ColDataType,
    /// `columnlength` (bytes).
    pub column_length: i32,
    /// Storage width in the column file (8 for a dictionary column's tokens).
    pub storage_width: u16,
    /// `scale` (0 when NULL).
    pub scale: i32,
    /// `prec` (0 when NULL).
    pub precision: i32,
    /// `nullable` (true when NULL).
    pub nullable: bool,
    /// `compressiontype` (0 none, 1/2 Snappy, 3 LZ4).
    pub compression: i32,
    /// `columnposition`, 0-based.
    pub position: i32,
    /// `charsetnum` (0 when unknown or the catalog has no 1043).
    pub charset: i32,
    /// `defaultvalue` bytes, `None` for NULL (serialised as lossy UTF-8).
    #[serde(serialize_with = "serialize_lossy")]
    pub default_value: Option<Vec<u8>>,
    /// `autoincrement` = 'y'.
    pub autoincrement: bool,
    /// `nextvalue`.
    pub next_value: Option<u64>,
    /// The row (RID) in SYSCOLUMN.
    pub rid: u64,
}

impl ColumnInfo {
    /// `schema.table.column` as stored.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}.{}", self.schema, self.table, self.name)
    }
}

fn serialize_lossy<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_some(&String::from_utf8_lossy(b)),
        None => s.serialize_none(),
    }
}

/// One user table, from its SYSTABLE row and its SYSCOLUMN rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableInfo {
    /// `schema` as stored.
    pub schema: CatalogName,
    /// `tablename` as stored.
    pub name: CatalogName,
    /// `objectid`: the table OID (no files).
    pub table_oid: Oid,
    /// `auxcolumnoid` when > 3000.
    pub aux_oid: Option<Oid>,
    /// `autoincrement` ≠ 0.
    pub autoincrement: bool,
    /// Its columns, sorted by `columnposition`.
    pub columns: Vec<ColumnInfo>,
    /// The row (RID) in SYSTABLE.
    pub rid: u64,
}

/// What a catalog says about one OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogObject<'a> {
    /// One of the 43 catalog files.
    Syscat(&'static SyscatObject),
    /// A table OID (no files).
    Table(&'a TableInfo),
    /// A user column.
    Column(&'a ColumnInfo),
    /// The dictionary store of this column.
    Dictionary(&'a ColumnInfo),
    /// The AUX column of this table.
    Aux(&'a TableInfo),
}

impl CatalogObject<'_> {
    /// The data type recorded for the object's files (dictionaries: their column's type; tables: none).
    pub fn data_type(&self) -> Option<ColDataType> {
        match self {
            CatalogObject::Syscat(o) => Some(o.created_as.data_type()),
            CatalogObject::Table(_) => None,
            CatalogObject::Column(c) | CatalogObject::Dictionary(c) => Some(c.data_type),
            CatalogObject::Aux(_) => Some(AUX_DATA_TYPE),
        }
    }

    /// The width as the extent map records it: storage width for columns, 0 for dictionaries,
    /// `None` for tables.
    pub fn extent_width(&self) -> Option<u16> {
        match self {
            CatalogObject::Syscat(o) => Some(o.width()),
            CatalogObject::Table(_) => None,
            CatalogObject::Column(c) => Some(c.storage_width),
            CatalogObject::Dictionary(_) => Some(0),
            CatalogObject::Aux(_) => Some(AUX_WIDTH),
        }
    }

    /// The compression type of the object's files.
    pub fn compression(&self) -> Option<i32> {
        match self {
            CatalogObject::Syscat(_) => Some(0),
            CatalogObject::Table(_) => None,
            CatalogObject::Column(c) | CatalogObject::Dictionary(c) => Some(c.compression),
            CatalogObject::Aux(_) => Some(AUX_COMPRESSION),
        }
    }

    /// Whether the object is a dictionary store.
    pub fn is_dictionary(&self) -> bool {
        match self {
            CatalogObject::Syscat(o) => o.is_dictionary(),
            CatalogObject::Dictionary(_) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Table(usize),
    Column(usize, usize),
    Dictionary(usize, usize),
    Aux(usize),
    Orphan(usize),
    OrphanDictionary(usize),
}

/// The user tables and columns a catalog describes.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// Generation of the catalog files (CAT §7).
    pub generation: Generation,
    /// Tables with their columns, by table OID.
    pub tables: Vec<TableInfo>,
    /// SYSCOLUMN rows that belong to no SYSTABLE row, by OID (also reported as problems).
    pub orphan_columns: Vec<ColumnInfo>,
    /// Damage found while reading, each naming the file and byte offset where it applies.
    pub problems: Vec<String>,
    #[serde(skip)]
    index: BTreeMap<Oid, Slot>,
}

impl Catalog {
    /// The column with OID `oid` (tables' columns and orphan columns).
    pub fn column(&self, oid: Oid) -> Option<&ColumnInfo> {
        match self.object(oid)? {
            CatalogObject::Column(c) => Some(c),
            _ => None,
        }
    }

    /// The table with table OID `oid`.
    pub fn table(&self, oid: Oid) -> Option<&TableInfo> {
        match self.object(oid)? {
            CatalogObject::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The table named `schema`.`name` (exact byte comparison).
    pub fn find_table(&self, schema: &str, name: &str) -> Option<&TableInfo> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// What `oid` is: a catalog file, a table, a column, a column's dictionary or a table's AUX column.
    pub fn object(&self, oid: Oid) -> Option<CatalogObject<'_>> {
        if let Some(o) = syscat_object(oid) {
            return Some(CatalogObject::Syscat(o));
        }
        Some(match *self.index.get(&oid)? {
            Slot::Table(t) => CatalogObject::Table(&self.tables[t]),
            Slot::Column(t, c) => CatalogObject::Column(&self.tables[t].columns[c]),
            Slot::Dictionary(t, c) => CatalogObject::Dictionary(&self.tables[t].columns[c]),
            Slot::Aux(t) => CatalogObject::Aux(&self.tables[t]),
            Slot::Orphan(c) => CatalogObject::Column(&self.orphan_columns[c]),
            Slot::OrphanDictionary(c) => CatalogObject::Dictionary(&self.orphan_columns[c]),
        })
    }

    /// Every AUX column OID.
    pub fn aux_oids(&self) -> BTreeSet<Oid> {
        self.tables.iter().filter_map(|t| t.aux_oid).collect()
    }

    /// Every column (tables' and orphans), in table order then position.
    pub fn columns(&self) -> impl Iterator<Item = &ColumnInfo> {
        self.tables
            .iter()
            .flat_map(|t| t.columns.iter())
            .chain(self.orphan_columns.iter())
    }

    /// Every user OID that has files: columns, dictionaries and AUX columns.
    pub fn file_oids(&self) -> BTreeSet<Oid> {
        self.index
            .iter()
            .filter(|(_, s)| !matches!(s, Slot::Table(_)))
            .map(|(o, _)| *o)
            .collect()
    }
}

/// Problems, capped at [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<String>,
    dropped: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, p: String) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn finish(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.list);
        if self.dropped > 0 {
            out.push(format!("... and {} more problems", self.dropped));
        }
        out
    }
}

/// Join columns to tables by (schema, table) bytes, index every OID, sort, report.
pub(crate) fn assemble(
    generation: Generation,
    mut tables: Vec<TableInfo>,
    columns: Vec<ColumnInfo>,
    problems: &mut Problems,
    at: &dyn Fn(Oid, u64) -> String,
) -> Catalog {
    tables.sort_by_key(|t| (t.table_oid, t.rid));

    // schema → table name → index of the first table with that name
    let mut by_name: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, usize>> = BTreeMap::new();
    for (i, t) in tables.iter().enumerate() {
        let names = by_name.entry(t.schema.0.clone()).or_default();
        if let Some(&first) = names.get(t.name.as_bytes()) {
            problems.push(format!(
                "{}: duplicate table {}.{}: systable rows {} (OID {}) and {} (OID {}); columns go \
                 to the first",
                at(SYSTABLE_OBJECTID, t.rid),
                t.schema,
                t.name,
                tables[first].rid,
                tables[first].table_oid,
                t.rid,
                t.table_oid
            ));
        } else {
            names.insert(t.name.0.clone(), i);
        }
    }

    let mut orphans: BTreeMap<(Vec<u8>, Vec<u8>), Vec<ColumnInfo>> = BTreeMap::new();
    for c in columns {
        let table = by_name
            .get(c.schema.as_bytes())
            .and_then(|n| n.get(c.table.as_bytes()));
        match table {
            Some(&t) => tables[t].columns.push(c),
            None => orphans
                .entry((c.schema.0.clone(), c.table.0.clone()))
                .or_default()
                .push(c),
        }
    }
    for t in &mut tables {
        if t.columns.is_empty() {
            problems.push(format!(
                "{}: table {}.{} ({}) has no syscolumn rows",
                at(SYSTABLE_OBJECTID, t.rid),
                t.schema,
                t.name,
                t.table_oid
            ));
            continue;
        }
        t.columns.sort_by_key(|c| (c.position, c.rid));
        let positions: Vec<i32> = t.columns.iter().map(|c| c.position).collect();
        let expected: Vec<i32> = (0..positions.len() as i32).collect();
        if positions != expected {
            let first_rid = t.columns.iter().map(|c| c.rid).min().unwrap_or(0);
            problems.push(format!(
                "{}: table {}.{} ({}): column positions are {positions:?}, not 0..{}",
                at(Oid(1030), first_rid),
                t.schema,
                t.name,
                t.table_oid,
                positions.len()
            ));
        }
    }
    let mut orphan_columns = Vec::new();
    for ((schema, table), cols) in orphans {
        let first_rid = cols.iter().map(|c| c.rid).min().unwrap_or(0);
        problems.push(format!(
            "{}: syscolumn rows of {}.{} (OIDs {}) have no systable row",
            at(SYSCOLUMN_OBJECTID, first_rid),
            CatalogName(schema),
            CatalogName(table),
            cols.iter()
                .map(|c| c.oid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        orphan_columns.extend(cols);
    }
    orphan_columns.sort_by_key(|c| (c.oid, c.rid));

    let index = index_oids(&tables, &orphan_columns, problems, at);
    Catalog {
        generation,
        tables,
        orphan_columns,
        problems: problems.finish(),
        index,
    }
}

/// Every user OID → what it is. An OID claimed twice is reported; the first claim wins. (Catalog
/// OIDs cannot be claimed: the reader only accepts OIDs ≥ 3000.)
fn index_oids(
    tables: &[TableInfo],
    orphans: &[ColumnInfo],
    problems: &mut Problems,
    at: &dyn Fn(Oid, u64) -> String,
) -> BTreeMap<Oid, Slot> {
    let describe = |slot: Slot| -> (String, Oid, u64) {
        let col = |c: &ColumnInfo| c.qualified_name();
        match slot {
            Slot::Table(t) => {
                let t = &tables[t];
                (
                    format!("table {}.{}", t.schema, t.name),
                    SYSTABLE_OBJECTID,
                    t.rid,
                )
            }
            Slot::Aux(t) => {
                let t = &tables[t];
                (
                    format!("AUX column of {}.{}", t.schema, t.name),
                    SYSTABLE_OBJECTID,
                    t.rid,
                )
            }
            Slot::Column(t, c) => {
                let c = &tables[t].columns[c];
                (format!("column {}", col(c)), SYSCOLUMN_OBJECTID, c.rid)
            }
            Slot::Dictionary(t, c) => {
                let c = &tables[t].columns[c];
                (
                    format!("dictionary of {}", col(c)),
                    SYSCOLUMN_OBJECTID,
                    c.rid,
                )
            }
            Slot::Orphan(c) => {
                let c = &orphans[c];
                (format!("column {}", col(c)), SYSCOLUMN_OBJECTID, c.rid)
            }
            Slot::OrphanDictionary(c) => {
                let c = &orphans[c];
                (
                    format!("dictionary of {}", col(c)),
                    SYSCOLUMN_OBJECTID,
                    c.rid,
                )
            }
        }
    };
    let mut index = BTreeMap::new();
    let mut claim = |oid: Oid, slot: Slot, problems: &mut Problems| {
        if let Some(&prev) = index.get(&oid) {
            let (what, row_oid, rid) = describe(slot);
            problems.push(format!(
                "{}: OID {oid} is used twice: by {} and by {what}",
                at(row_oid, rid),
                describe(prev).0
            ));
        } else {
            index.insert(oid, slot);
        }
    };
    for (t, table) in tables.iter().enumerate() {
        claim(table.table_oid, Slot::Table(t), problems);
        for (c, col) in table.columns.iter().enumerate() {
            claim(col.oid, Slot::Column(t, c), problems);
            if let Some(d) = col.dict_oid {
                claim(d, Slot::Dictionary(t, c), problems);
            }
        }
        if let Some(a) = table.aux_oid {
            claim(a, Slot::Aux(t), problems);
        }
    }
    for (c, col) in orphans.iter().enumerate() {
        claim(col.oid, Slot::Orphan(c), problems);
        if let Some(d) = col.dict_oid {
            claim(d, Slot::OrphanDictionary(c), problems);
        }
    }
    index
}
