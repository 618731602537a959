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

pub use super::file::CatalogFiles;
use super::file::{CatalogFile, LoadedCatalog};
use super::model::{assemble, Problems};
pub use super::model::{
    Catalog, CatalogName, CatalogObject, ColumnInfo, TableInfo, AUX_COMPRESSION, AUX_DATA_TYPE,
    AUX_WIDTH, MAX_PROBLEMS,
};
use super::syscat::{
    syscat_layout, syscat_object, CatalogTable, Generation, SyscatObject, SYSCAT_COLUMNS,
    SYSCOLUMN_CHARSETNUM, SYSTABLE_AUXCOLUMNOID,
};
use super::tokens::{distinct_tokens, infer_dict_start, narrow_by_strings, DictExtent, DictStore};
use super::width::{decimal_width_for_precision, is_dictionary_column, storage_width};
use crate::error::Error;
use crate::seg::datatype::ColDataType;
use crate::seg::file::Access;
use crate::seg::markers::{markers, Markers};
use crate::seg::token::Token;
use crate::types::{Lbid, Oid, FIRST_USER_OID};

/// Read the catalog from `files`, resolving tokens with dictionary start LBIDs `dict_lbids`
/// (each dictionary one extent from file block 0).
///
/// A catalog dictionary with a file but no start LBID, or a start its column's tokens do not fit, gets
/// one inferred from the tokens (CAT §3.3); the disagreement, an ambiguous or an impossible inference
/// is reported as a problem. (An upgraded catalog, CAT §7.2, keeps the dictionary LBIDs of the
/// generation that first built it, which a replay over the files present does not give.)
pub fn read_catalog(
    files: &CatalogFiles,
    dict_lbids: &BTreeMap<Oid, Lbid>,
    access: Access,
) -> Result<Catalog, Error> {
    Ok(read_loaded_catalog(
        &LoadedCatalog::load(files, access)?,
        dict_lbids,
    ))
}

/// [`read_catalog`] on files already loaded.
pub fn read_loaded_catalog(loaded: &LoadedCatalog, dict_lbids: &BTreeMap<Oid, Lbid>) -> Catalog {
    let extents = dict_lbids
        .iter()
        .map(|(&oid, &start)| (oid, vec![DictExtent::single(start, u32::MAX)]))
        .collect();
    read_loaded_catalog_with_extents(loaded, &extents)
}

/// [`read_catalog`] with every extent of each dictionary (for dictionaries that grew past one extent).
pub fn read_catalog_with_extents(
    files: &CatalogFiles,
    dict_extents: &BTreeMap<Oid, Vec<DictExtent>>,
    access: Access,
) -> Result<Catalog, Error> {
    Ok(read_loaded_catalog_with_extents(
        &LoadedCatalog::load(files, access)?,
        dict_extents,
    ))
}

/// [`read_catalog_with_extents`] on files already loaded (files of OIDs outside the catalog are
/// ignored).
pub fn read_loaded_catalog_with_extents(
    loaded: &LoadedCatalog,
    dict_extents: &BTreeMap<Oid, Vec<DictExtent>>,
) -> Catalog {
    let loaded: BTreeMap<Oid, &CatalogFile> = loaded
        .files
        .iter()
        .filter(|(oid, _)| syscat_object(**oid).is_some())
        .map(|(&oid, f)| (oid, f))
        .collect();
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
        let file = loaded.get(&obj.oid).copied();
        let given = dict_extents.get(&obj.oid);
        let extents = choose_extents(obj, given, file, &loaded, &fresh, &mut problems);
        dicts.insert(obj.oid, DictStore::new(file, extents));
    }

    let mut rows = RowReader::new(&loaded, dicts, problems);
    let tables = rows.read_systable();
    let columns = rows.read_syscolumn();
    let mut problems = std::mem::take(&mut rows.problems);
    assemble(generation, tables, columns, &mut problems, &|oid, rid| {
        rows.at(oid, rid)
    })
}

fn check_presence(
    present: &BTreeSet<Oid>,
    generation: Generation,
    loaded: &BTreeMap<Oid, &CatalogFile>,
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

/// The extents used to resolve the tokens of catalog dictionary `dict`.
///
/// Given extents are used when every distinct token of the dictionary's column fits them. Otherwise,
/// and when none are given, the start is inferred from the tokens (CAT §3.3 "Without an extent map"),
/// preferring the replayed fresh-install value; a disagreement with the given extents, an ambiguous
/// inference or an impossible one is reported.
fn choose_extents(
    dict: &SyscatObject,
    given: Option<&Vec<DictExtent>>,
    file: Option<&CatalogFile>,
    loaded: &BTreeMap<Oid, &CatalogFile>,
    fresh: &BTreeMap<Oid, Lbid>,
    problems: &mut Problems,
) -> Vec<DictExtent> {
    let column = dict.column_oid.and_then(|c| loaded.get(&c).copied());
    let fallback = |blocks| {
        given.cloned().unwrap_or_else(|| {
            fresh
                .get(&dict.oid)
                .map(|&s| vec![DictExtent::single(s, blocks)])
                .unwrap_or_default()
        })
    };
    let (Some(file), Some(column)) = (file, column) else {
        return fallback(u32::MAX);
    };
    let blocks = u32::try_from(file.blocks()).unwrap_or(u32::MAX);
    let tokens = distinct_tokens(column);
    if tokens.is_empty() {
        return fallback(blocks);
    }
    let misfits = given.map(|g| {
        let mut store = DictStore::new(Some(file), g.clone());
        tokens.iter().filter(|&&t| store.check(t).is_err()).count()
    });
    if misfits == Some(0) {
        return fallback(blocks);
    }
    let mut candidates =
        narrow_by_strings(&infer_dict_start(&tokens, blocks), &tokens, file.bytes());
    let fresh_fits = fresh
        .get(&dict.oid)
        .and_then(|p| candidates.iter().position(|c| c == p));
    if let Some(i) = fresh_fits {
        candidates.swap(0, i);
    }
    let list = |c: &[Lbid]| {
        c.iter()
            .map(|l| l.0.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let at = format!("{}: at byte 0", file.path().display());
    let Some(&first) = candidates.first() else {
        let kept = fallback(blocks);
        let kept_starts = list(&kept.iter().map(|e| e.start).collect::<Vec<_>>());
        problems.push(format!(
            "{at}: no start LBID of dictionary {} fits all {} tokens of {}; keeping {}",
            dict.oid,
            tokens.len(),
            column.path().display(),
            if kept_starts.is_empty() {
                "none".to_string()
            } else {
                kept_starts
            }
        ));
        return kept;
    };
    if let (Some(g), Some(bad)) = (given, misfits) {
        let starts = list(&g.iter().map(|e| e.start).collect::<Vec<_>>());
        problems.push(format!(
            "{at}: {bad} of {} tokens of {} do not fit dictionary {} at start LBID {starts}; \
             start {first} fits them all, and the catalog's rows are read with it",
            tokens.len(),
            column.path().display(),
            dict.oid
        ));
    } else if candidates.len() > 1 && fresh_fits.is_none() {
        problems.push(format!(
            "{at}: start LBID of dictionary {} is ambiguous ({}); using {first}",
            dict.oid,
            list(&candidates)
        ));
    }
    vec![DictExtent::single(first, blocks)]
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
        files: &BTreeMap<Oid, &'a CatalogFile>,
        dicts: BTreeMap<Oid, DictStore<'a>>,
        problems: Problems,
    ) -> Self {
        let views = SYSCAT_COLUMNS
            .iter()
            .filter(|o| !o.is_dictionary())
            .filter_map(|o| {
                let file = *files.get(&o.oid)?;
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
