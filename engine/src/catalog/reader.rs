//! Reading SYSTABLE and SYSCOLUMN from the catalog's segment files (CAT §3, §5).
//!
//! Input: the catalog files found on disk ([`CatalogFiles`], OID → path) and where each catalog
//! dictionary's extent starts (from the replayed layout or an extent map). Output: a [`Catalog`] with
//! every user table and its columns, and the damage found on the way as `problems`.
//!
//! How rows are read (one catalog row is one RID, the same position in every column file of the table):
//!
//! | step | rule |
//! |---|---|
//! | live row | `objectid` (1003 / 1024) is not EMPTY (CAT §3.2) |
//! | torn row | a live row with EMPTY in another column of the table → problem |
//! | strings | token → dictionary block `LBID − start`, string `op`, `bc` continuation blocks (CAT §3.3) |
//! | membership | SYSCOLUMN rows join the SYSTABLE row with the same (`schema`, `tablename`) bytes, sorted by `columnposition` (CAT §5 step 4) |
//! | dictionary | [`is_dictionary_column`] decides; `dictobjectid` must agree (CAT §5 step 5) |
//! | width | [`storage_width`] (CAT §5 step 6) |
//! | AUX | SYSTABLE `auxcolumnoid` > 3000 (CAT §5 step 2): UTINYINT, width 1, compression 2 |
//!
//! Only I/O errors and files that are not whole blocks are errors; everything else is reported in
//! [`Catalog::problems`], each naming the file and byte offset, and reading goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::file::CatalogFile;
use super::syscat::{
    syscat_layout, syscat_object, CatalogTable, Generation, SyscatObject, SYSCAT_COLUMNS,
    SYSCOLUMN_CHARSETNUM, SYSCOLUMN_OBJECTID, SYSTABLE_AUXCOLUMNOID, SYSTABLE_OBJECTID,
};
use super::tokens::{distinct_tokens, infer_dict_start, narrow_by_strings, DictExtent, DictStore};
use super::width::{decimal_width_for_precision, is_dictionary_column, storage_width};
use crate::error::Error;
use crate::seg::datatype::ColDataType;
use crate::seg::markers::{markers, Markers};
use crate::seg::token::Token;
use crate::types::{Lbid, Oid, FIRST_USER_OID};

/// The catalog files found on disk: catalog OID → path of its (partition 0, segment 0) file.
pub type CatalogFiles = BTreeMap<Oid, PathBuf>;

/// At most this many problems are kept; the rest are counted.
pub const MAX_PROBLEMS: usize = 1000;

/// The OID of an AUX column's type: UTINYINT, width 1, compression 2 (CAT §5 step 8).
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
    /// `defaultvalue` bytes, `None` for NULL.
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

/// Read the catalog from `files`, resolving tokens with dictionary start LBIDs `dict_lbids`
/// (each dictionary one extent from file block 0).
///
/// A catalog dictionary with a file but no start LBID gets one inferred from its tokens (CAT §3.3);
/// an ambiguous or impossible inference is reported as a problem.
pub fn read_catalog(
    files: &CatalogFiles,
    dict_lbids: &BTreeMap<Oid, Lbid>,
) -> Result<Catalog, Error> {
    let extents = dict_lbids
        .iter()
        .map(|(&oid, &start)| (oid, vec![DictExtent::single(start, u32::MAX)]))
        .collect();
    read_catalog_with_extents(files, &extents)
}

/// [`read_catalog`] with every extent of each dictionary (for dictionaries that grew past one extent).
pub fn read_catalog_with_extents(
    files: &CatalogFiles,
    dict_extents: &BTreeMap<Oid, Vec<DictExtent>>,
) -> Result<Catalog, Error> {
    let mut loaded = BTreeMap::new();
    for (&oid, path) in files {
        if syscat_object(oid).is_some() {
            loaded.insert(oid, CatalogFile::load(path)?);
        }
    }
    let present: BTreeSet<Oid> = loaded.keys().copied().collect();
    let generation = Generation::detect(&present);
    let mut problems = Problems::default();
    check_presence(&present, generation, &loaded, &mut problems);

    let fresh: BTreeMap<Oid, Lbid> = syscat_layout(&present)
        .into_iter()
        .map(|e| (e.oid, e.lbid))
        .collect();
    let mut dicts = BTreeMap::new();
    for obj in SYSCAT_COLUMNS.iter().filter(|o| o.is_dictionary()) {
        let file = loaded.get(&obj.oid);
        let extents = match dict_extents.get(&obj.oid) {
            Some(e) => e.clone(),
            None => infer_extents(obj, file, &loaded, &fresh, &mut problems),
        };
        dicts.insert(obj.oid, DictStore::new(file, extents));
    }

    let mut rows = RowReader::new(&loaded, dicts, problems);
    let tables = rows.read_systable();
    let columns = rows.read_syscolumn();
    let mut problems = std::mem::take(&mut rows.problems);
    Ok(assemble(
        generation,
        tables,
        columns,
        &mut problems,
        &|oid, rid| rows.at(oid, rid),
    ))
}

fn check_presence(
    present: &BTreeSet<Oid>,
    generation: Generation,
    loaded: &BTreeMap<Oid, CatalogFile>,
    problems: &mut Problems,
) {
    if present.is_empty() {
        problems.push("no system catalog files were found".to_string());
        return;
    }
    if present.contains(&SYSCOLUMN_CHARSETNUM) && !present.contains(&SYSTABLE_AUXCOLUMNOID) {
        problems.push(format!(
            "catalog file of syscolumn.charsetnum ({SYSCOLUMN_CHARSETNUM}) exists but the one of \
             systable.auxcolumnoid ({SYSTABLE_AUXCOLUMNOID}) is missing"
        ));
    }
    for obj in SYSCAT_COLUMNS.iter().filter(|o| o.since <= generation) {
        if !present.contains(&obj.oid) {
            problems.push(format!(
                "catalog file of {}.{} ({}) is missing (generation {:?} catalog)",
                obj.table.name(),
                obj.name,
                obj.oid,
                generation
            ));
        }
    }
    for (oid, file) in loaded {
        if file.blocks() == 0 {
            problems.push(format!(
                "{}: catalog file of OID {oid} is empty",
                file.path().display()
            ));
        }
    }
}

/// Start LBID of a dictionary that has no given extent, inferred from its column's tokens.
fn infer_extents(
    dict: &SyscatObject,
    file: Option<&CatalogFile>,
    loaded: &BTreeMap<Oid, CatalogFile>,
    fresh: &BTreeMap<Oid, Lbid>,
    problems: &mut Problems,
) -> Vec<DictExtent> {
    let column = dict.column_oid.and_then(|c| loaded.get(&c));
    let (Some(file), Some(column)) = (file, column) else {
        return fresh
            .get(&dict.oid)
            .map(|&s| vec![DictExtent::single(s, u32::MAX)])
            .unwrap_or_default();
    };
    let tokens = distinct_tokens(column);
    let blocks = u32::try_from(file.blocks()).unwrap_or(u32::MAX);
    if tokens.is_empty() {
        return fresh
            .get(&dict.oid)
            .map(|&s| vec![DictExtent::single(s, blocks)])
            .unwrap_or_default();
    }
    let mut candidates =
        narrow_by_strings(&infer_dict_start(&tokens, blocks), &tokens, file.bytes());
    if let Some(p) = fresh.get(&dict.oid) {
        if let Some(i) = candidates.iter().position(|c| c == p) {
            candidates.swap(0, i);
        }
    }
    match candidates.as_slice() {
        [] => {
            problems.push(format!(
                "{}: no start LBID of dictionary {} fits the tokens of {}",
                file.path().display(),
                dict.oid,
                column.path().display()
            ));
            Vec::new()
        }
        [only] => vec![DictExtent::single(*only, blocks)],
        [first, ..] => {
            problems.push(format!(
                "{}: start LBID of dictionary {} is ambiguous ({}); using {}",
                file.path().display(),
                dict.oid,
                candidates
                    .iter()
                    .map(|c| c.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                first
            ));
            vec![DictExtent::single(*first, blocks)]
        }
    }
}

/// Problems, capped at [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
struct Problems {
    list: Vec<String>,
    dropped: usize,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.list);
        if self.dropped > 0 {
            out.push(format!("... and {} more problems", self.dropped));
        }
        out
    }
}

/// One cell of a catalog row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// The column's file is missing.
    NoFile,
    /// EMPTY (or past the end of the file).
    Empty,
    /// NULL.
    Null,
    /// A value (little-endian, zero-extended).
    Value(u64),
}

/// A catalog column file with what is needed to read its cells.
struct View<'a> {
    file: &'a CatalogFile,
    width: u16,
    markers: Markers,
}

struct RowReader<'a> {
    views: BTreeMap<Oid, View<'a>>,
    dicts: BTreeMap<Oid, DictStore<'a>>,
    problems: Problems,
}

impl<'a> RowReader<'a> {
    fn new(
        files: &'a BTreeMap<Oid, CatalogFile>,
        dicts: BTreeMap<Oid, DictStore<'a>>,
        problems: Problems,
    ) -> Self {
        let views = SYSCAT_COLUMNS
            .iter()
            .filter(|o| !o.is_dictionary())
            .filter_map(|o| {
                let file = files.get(&o.oid)?;
                let markers = markers(o.created_as.data_type(), o.width());
                Some((
                    o.oid,
                    View {
                        file,
                        width: o.width(),
                        markers,
                    },
                ))
            })
            .collect();
        Self {
            views,
            dicts,
            problems,
        }
    }

    fn cell(&self, oid: Oid, rid: u64) -> Cell {
        let Some(view) = self.views.get(&oid) else {
            return Cell::NoFile;
        };
        match view.file.value(rid, view.width) {
            None => Cell::Empty,
            Some(v) if view.markers.is_empty(u128::from(v)) => Cell::Empty,
            Some(v) if view.markers.is_null(u128::from(v)) => Cell::Null,
            Some(v) => Cell::Value(v),
        }
    }

    /// Where row `rid` of `oid` is, for messages.
    fn at(&self, oid: Oid, rid: u64) -> String {
        match self.views.get(&oid) {
            Some(v) => {
                format!(
                    "{}: at byte {}",
                    v.file.path().display(),
                    rid * u64::from(v.width)
                )
            }
            None => format!("catalog OID {oid} (no file), row {rid}"),
        }
    }

    fn int_value(&self, oid: Oid, rid: u64) -> Option<i32> {
        match self.cell(oid, rid) {
            Cell::Value(v) => Some(v as u32 as i32),
            _ => None,
        }
    }

    /// The live RIDs of `table`: its `objectid` is not EMPTY.
    fn live_rids(&self, table: CatalogTable) -> Vec<u64> {
        let oid = table.objectid_oid();
        let Some(view) = self.views.get(&oid) else {
            return Vec::new();
        };
        (0..view.file.rows(view.width))
            .filter(|&rid| self.cell(oid, rid) != Cell::Empty)
            .collect()
    }

    /// Report a live row with EMPTY in other columns; returns whether it is torn.
    fn check_torn(&mut self, table: CatalogTable, rid: u64) -> bool {
        let empty: Vec<String> = SYSCAT_COLUMNS
            .iter()
            .filter(|o| o.table == table && !o.is_dictionary())
            .filter(|o| self.cell(o.oid, rid) == Cell::Empty)
            .map(|o| format!("{} ({})", o.name, o.oid))
            .collect();
        if empty.is_empty() {
            return false;
        }
        let msg = format!(
            "{}: {} row {rid} is live but EMPTY in {}",
            self.at(table.objectid_oid(), rid),
            table.name(),
            empty.join(", ")
        );
        self.problems.push(msg);
        true
    }

    /// A string column's value: `Ok(None)` for NULL, `Err(())` after reporting why it has none.
    fn string(&mut self, oid: Oid, rid: u64, what: &str) -> Result<Option<Vec<u8>>, ()> {
        let raw = match self.cell(oid, rid) {
            Cell::Null => return Ok(None),
            Cell::NoFile | Cell::Empty => return Err(()),
            Cell::Value(v) => v,
        };
        let Some(dict) = syscat_object(oid).and_then(|o| o.dict_oid) else {
            return Err(());
        };
        let token = Token::decode(raw);
        let Some(store) = self.dicts.get_mut(&dict) else {
            return Err(());
        };
        let resolved = store.resolve(token);
        let dict_path = store
            .path()
            .map_or_else(|| "no file".to_string(), |p| p.display().to_string());
        match resolved {
            Ok(s) => Ok(Some(s)),
            Err(fault) => {
                let msg = format!(
                    "{}: {what} token {raw:#018x} (lbid {}, op {}, bc {}) of row {rid} does not \
                     resolve in dictionary {dict} ({dict_path}): {fault}",
                    self.at(oid, rid),
                    token.lbid,
                    token.op,
                    token.bc
                );
                self.problems.push(msg);
                Err(())
            }
        }
    }

    /// A name column: the stored bytes, or a placeholder (unique to the row) after reporting.
    fn name(&mut self, oid: Oid, rid: u64, what: &str) -> Option<CatalogName> {
        match self.string(oid, rid, what) {
            Ok(Some(s)) => Some(CatalogName(s)),
            Ok(None) => {
                let msg = format!("{}: {what} of row {rid} is NULL", self.at(oid, rid));
                self.problems.push(msg);
                None
            }
            Err(()) => None,
        }
    }

    fn read_systable(&mut self) -> Vec<TableInfo> {
        let mut out = Vec::new();
        for rid in self.live_rids(CatalogTable::SysTable) {
            self.check_torn(CatalogTable::SysTable, rid);
            let Some(table_oid) = self.user_oid(Oid(1003), rid, "systable.objectid") else {
                continue;
            };
            let name = self.name(Oid(1001), rid, "systable.tablename");
            let schema = self.name(Oid(1002), rid, "systable.schema");
            let (Some(name), Some(schema)) = (name, schema) else {
                let msg = format!(
                    "{}: table {table_oid} (systable row {rid}) is skipped: its name is unknown",
                    self.at(Oid(1003), rid)
                );
                self.problems.push(msg);
                continue;
            };
            let autoincrement = self.int_value(Oid(1011), rid).is_some_and(|v| v != 0);
            let aux_oid = self
                .int_value(SYSTABLE_AUXCOLUMNOID, rid)
                .filter(|&v| v > FIRST_USER_OID)
                .map(Oid);
            out.push(TableInfo {
                schema,
                name,
                table_oid,
                aux_oid,
                autoincrement,
                columns: Vec::new(),
                rid,
            });
        }
        out
    }

    /// An `objectid` that must be a user OID (≥ 3000).
    fn user_oid(&mut self, oid: Oid, rid: u64, what: &str) -> Option<Oid> {
        match self.cell(oid, rid) {
            Cell::Value(v) if (v as u32 as i32) >= FIRST_USER_OID => Some(Oid(v as u32 as i32)),
            Cell::Value(v) => {
                let msg = format!(
                    "{}: {what} of row {rid} is {}, not a user OID (≥ {FIRST_USER_OID}); row skipped",
                    self.at(oid, rid),
                    v as u32 as i32
                );
                self.problems.push(msg);
                None
            }
            _ => {
                let msg = format!(
                    "{}: {what} of row {rid} is NULL; row skipped",
                    self.at(oid, rid)
                );
                self.problems.push(msg);
                None
            }
        }
    }

    /// A required INT of a SYSCOLUMN row; reports and returns `None` when it has no value.
    fn required_int(&mut self, oid: Oid, rid: u64, what: &str) -> Option<i32> {
        let v = self.int_value(oid, rid);
        if v.is_none() {
            let msg = format!(
                "{}: {what} of row {rid} has no value; row skipped",
                self.at(oid, rid)
            );
            self.problems.push(msg);
        }
        v
    }

    fn read_syscolumn(&mut self) -> Vec<ColumnInfo> {
        let mut out = Vec::new();
        for rid in self.live_rids(CatalogTable::SysColumn) {
            self.check_torn(CatalogTable::SysColumn, rid);
            if let Some(c) = self.read_column_row(rid) {
                out.push(c);
            }
        }
        out
    }

    fn read_column_row(&mut self, rid: u64) -> Option<ColumnInfo> {
        let oid = self.user_oid(Oid(1024), rid, "syscolumn.objectid")?;
        let schema = self.name(Oid(1021), rid, "syscolumn.schema");
        let table = self.name(Oid(1022), rid, "syscolumn.tablename");
        let name = self.name(Oid(1023), rid, "syscolumn.columnname");
        let code = self.required_int(Oid(1028), rid, "syscolumn.datatype")?;
        let column_length = self.required_int(Oid(1029), rid, "syscolumn.columnlength")?;
        let position = self.required_int(Oid(1030), rid, "syscolumn.columnposition")?;
        let placeholder =
            |what: &str| CatalogName(format!("<unknown {what} of column {oid}>").into_bytes());
        let schema = schema.unwrap_or_else(|| placeholder("schema"));
        let table = table.unwrap_or_else(|| placeholder("table"));
        let name = name.unwrap_or_else(|| placeholder("name"));

        let Some(data_type) = ColDataType::from_code(code) else {
            let msg = format!(
                "{}: column {oid} ({schema}.{table}.{name}) has unknown datatype {code}; skipped",
                self.at(Oid(1028), rid)
            );
            self.problems.push(msg);
            return None;
        };
        let Some(width) = storage_width(data_type, column_length) else {
            let msg = format!(
                "{}: column {oid} ({schema}.{table}.{name}): datatype {} with columnlength \
                 {column_length} has no storage width; skipped",
                self.at(Oid(1029), rid),
                data_type.name()
            );
            self.problems.push(msg);
            return None;
        };
        let scale = self.int_value(Oid(1034), rid).unwrap_or(0);
        let precision = self.int_value(Oid(1035), rid).unwrap_or(0);
        if matches!(data_type, ColDataType::Decimal | ColDataType::UDecimal) {
            if let Some(w) = decimal_width_for_precision(precision).filter(|&w| w != width) {
                let msg = format!(
                    "{}: column {oid} ({schema}.{table}.{name}): precision {precision} implies \
                     width {w} but columnlength {column_length} gives {width}; using {width}",
                    self.at(Oid(1035), rid)
                );
                self.problems.push(msg);
            }
        }
        let dict_oid = self.dict_oid(rid, oid, data_type, column_length);
        let default_value = self
            .string(Oid(1032), rid, "syscolumn.defaultvalue")
            .unwrap_or(None);
        let next_value = match self.cell(Oid(1042), rid) {
            Cell::Value(v) => Some(v),
            _ => None,
        };
        Some(ColumnInfo {
            schema,
            table,
            name,
            oid,
            dict_oid,
            data_type,
            column_length,
            storage_width: width,
            scale,
            precision,
            nullable: self.int_value(Oid(1033), rid) != Some(0),
            compression: self.int_value(Oid(1041), rid).unwrap_or(0),
            position,
            charset: self.int_value(SYSCOLUMN_CHARSETNUM, rid).unwrap_or(0),
            default_value,
            autoincrement: self.cell(Oid(1036), rid) == Cell::Value(u64::from(b'y')),
            next_value,
            rid,
        })
    }

    /// `dictobjectid` checked against the dictionary-column rule (CAT §5 step 5).
    fn dict_oid(&mut self, rid: u64, oid: Oid, dt: ColDataType, length: i32) -> Option<Oid> {
        let stored = self.int_value(Oid(1025), rid);
        let is_dict = is_dictionary_column(dt, length);
        let problem = match (is_dict, stored) {
            (true, Some(d)) if d > FIRST_USER_OID && d != oid.0 => return Some(Oid(d)),
            (false, None) => return None,
            (true, Some(d)) => format!("is a dictionary column but dictobjectid is {d}"),
            (true, None) => "is a dictionary column but dictobjectid is NULL".to_string(),
            (false, Some(d)) => format!("is not a dictionary column but dictobjectid is {d}"),
        };
        let msg = format!(
            "{}: column {oid} ({} {length}) {problem}",
            self.at(Oid(1025), rid),
            dt.name()
        );
        self.problems.push(msg);
        None
    }
}

/// Join columns to tables by (schema, table) bytes, index every OID, sort, report.
fn assemble(
    generation: Generation,
    mut tables: Vec<TableInfo>,
    columns: Vec<ColumnInfo>,
    problems: &mut Problems,
    at: &dyn Fn(Oid, u64) -> String,
) -> Catalog {
    tables.sort_by_key(|t| (t.table_oid, t.rid));

    let mut by_name: BTreeMap<(Vec<u8>, Vec<u8>), usize> = BTreeMap::new();
    for (i, t) in tables.iter().enumerate() {
        let key = (t.schema.0.clone(), t.name.0.clone());
        if let Some(&first) = by_name.get(&key) {
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
            by_name.insert(key, i);
        }
    }

    let mut orphans: BTreeMap<(Vec<u8>, Vec<u8>), Vec<ColumnInfo>> = BTreeMap::new();
    for c in columns {
        match by_name.get(&(c.schema.0.clone(), c.table.0.clone())) {
            Some(&t) => tables[t].columns.push(c),
            None => orphans
                .entry((c.schema.0.clone(), c.table.0.clone()))
                .or_default()
                .push(c),
        }
    }
    for t in &mut tables {
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

    let mut index = BTreeMap::new();
    let mut owners: BTreeMap<Oid, String> = BTreeMap::new();
    let mut claim = |oid: Oid, slot: Slot, what: String, problems: &mut Problems| {
        let (row_oid, rid) = match slot {
            Slot::Table(t) | Slot::Aux(t) => (SYSTABLE_OBJECTID, tables[t].rid),
            Slot::Column(t, c) | Slot::Dictionary(t, c) => {
                (SYSCOLUMN_OBJECTID, tables[t].columns[c].rid)
            }
            Slot::Orphan(c) | Slot::OrphanDictionary(c) => {
                (SYSCOLUMN_OBJECTID, orphan_columns[c].rid)
            }
        };
        if syscat_object(oid).is_some() {
            problems.push(format!(
                "{}: {what} uses OID {oid} of a system catalog file",
                at(row_oid, rid)
            ));
        } else if let Some(prev) = owners.get(&oid) {
            problems.push(format!(
                "{}: OID {oid} is used twice: by {prev} and by {what}",
                at(row_oid, rid)
            ));
        } else {
            index.insert(oid, slot);
            owners.insert(oid, what);
        }
    };
    for (t, table) in tables.iter().enumerate() {
        let tname = format!("{}.{}", table.schema, table.name);
        claim(
            table.table_oid,
            Slot::Table(t),
            format!("table {tname}"),
            problems,
        );
        for (c, col) in table.columns.iter().enumerate() {
            let cname = col.qualified_name();
            claim(
                col.oid,
                Slot::Column(t, c),
                format!("column {cname}"),
                problems,
            );
            if let Some(d) = col.dict_oid {
                claim(
                    d,
                    Slot::Dictionary(t, c),
                    format!("dictionary of {cname}"),
                    problems,
                );
            }
        }
        if let Some(a) = table.aux_oid {
            claim(a, Slot::Aux(t), format!("AUX column of {tname}"), problems);
        }
    }
    for (c, col) in orphan_columns.iter().enumerate() {
        let cname = col.qualified_name();
        claim(
            col.oid,
            Slot::Orphan(c),
            format!("column {cname}"),
            problems,
        );
        if let Some(d) = col.dict_oid {
            claim(
                d,
                Slot::OrphanDictionary(c),
                format!("dictionary of {cname}"),
                problems,
            );
        }
    }

    Catalog {
        generation,
        tables,
        orphan_columns,
        problems: problems.finish(),
        index,
    }
}
