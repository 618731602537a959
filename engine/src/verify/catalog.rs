//! What verify needs from the system catalog: the name of an OID (`schema.table.column`), its
//! data type (for the casual-partitioning order) and whether the catalog knows it at all.
//!
//! The catalog is read from the catalog files of the first DBRoot that holds them (`dbbuilder`
//! creates them on one DBRoot, CAT §1 item 4), with the dictionary LBIDs of the *rebuilt* map:
//! those come from the data, not from the map under test, which may be wrong.

use crate::catalog::locate::catalog_files_in;
use crate::catalog::syscat::{is_syscat_oid, syscat_object};
use crate::catalog::{read_catalog, Catalog, CatalogFiles, CatalogObject};
use crate::em::ExtentMap;
use crate::seg::datatype::ColDataType;
use crate::seg::file::Access;
use crate::types::{DbRootId, Lbid, Oid};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The catalog as verify sees it; every answer is `None` when the catalog could not be read.
#[derive(Debug, Default)]
pub struct CatalogView {
    /// The catalog files found (empty when none).
    pub files: CatalogFiles,
    catalog: Option<Catalog>,
    /// Why the catalog could not be read, if it could not.
    pub problem: Option<String>,
}

impl CatalogView {
    /// Read the catalog under `dbroots`, resolving its tokens with `rebuilt`'s dictionary LBIDs.
    pub fn read(
        dbroots: &BTreeMap<DbRootId, PathBuf>,
        rebuilt: &ExtentMap,
        access: Access,
    ) -> Self {
        let Some(files) = dbroots
            .values()
            .map(|root| catalog_files_in(root))
            .find(|f| !f.is_empty())
        else {
            return Self {
                problem: Some("no system catalog file under any DBRoot".into()),
                ..Self::default()
            };
        };
        let dict_lbids: BTreeMap<Oid, Lbid> = rebuilt
            .extents
            .iter()
            .filter(|e| is_syscat_oid(e.oid) && e.col_width == 0 && e.block_offset == 0)
            .filter(|e| e.partition == 0 && e.segment == 0)
            .map(|e| (e.oid, e.range_start))
            .collect();
        match read_catalog(&files, &dict_lbids, access) {
            Ok(catalog) => Self {
                files,
                catalog: Some(catalog),
                problem: None,
            },
            Err(e) => Self {
                files,
                catalog: None,
                problem: Some(format!("catalog not readable: {e}")),
            },
        }
    }

    /// Whether the catalog was read.
    pub fn is_read(&self) -> bool {
        self.catalog.is_some()
    }

    fn object(&self, oid: Oid) -> Option<CatalogObject<'_>> {
        if let Some(o) = syscat_object(oid) {
            return Some(CatalogObject::Syscat(o));
        }
        self.catalog.as_ref()?.object(oid)
    }

    /// `schema.table.column` of a column; dictionaries and AUX columns say what they are.
    pub fn name(&self, oid: Oid) -> Option<String> {
        Some(match self.object(oid)? {
            CatalogObject::Syscat(o) => {
                let dict = if o.is_dictionary() {
                    " (dictionary)"
                } else {
                    ""
                };
                format!("calpontsys.{}.{}{dict}", o.table.name(), o.name)
            }
            CatalogObject::Column(c) => c.qualified_name(),
            CatalogObject::Dictionary(c) => format!("{} (dictionary)", c.qualified_name()),
            CatalogObject::Aux(t) => format!("{}.{} (aux)", t.schema, t.name),
            CatalogObject::Table(t) => format!("{}.{} (table)", t.schema, t.name),
        })
    }

    /// `(schema, table)` of a user column or AUX column (not of a dictionary: its HWM counts
    /// strings, not rows), where the catalog says.
    pub fn table_of(&self, oid: Oid) -> Option<(String, String)> {
        match self.object(oid)? {
            CatalogObject::Column(c) => Some((c.schema.to_string(), c.table.to_string())),
            CatalogObject::Aux(t) => Some((t.schema.to_string(), t.name.to_string())),
            _ => None,
        }
    }

    /// The data type of the OID's files, where the catalog says.
    pub fn data_type(&self, oid: Oid) -> Option<ColDataType> {
        self.object(oid)?.data_type()
    }

    /// Whether the catalog knows `oid`; `None` when the catalog was not read.
    pub fn knows(&self, oid: Oid) -> Option<bool> {
        if syscat_object(oid).is_some() {
            return Some(true);
        }
        Some(self.catalog.as_ref()?.object(oid).is_some())
    }
}
