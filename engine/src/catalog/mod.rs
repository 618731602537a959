//! The system catalog (SYSTABLE / SYSCOLUMN): its fixed layout, the reader of its segment files and
//! the cross-check of its tokens against dictionary extents (catalog spec, CAT).
//!
//! | module | what |
//! |---|---|
//! | [`syscat`] | the 43 catalog files as one table; the fresh-install LBID layout and generations A/B/C (CAT §2, §3.3; SEG §7.3) |
//! | [`width`] | dictionary-column rule and storage width from (`datatype`, `columnlength`) (CAT §5 steps 5–6) |
//! | [`reader`] | SYSTABLE/SYSCOLUMN rows → tables, columns, dictionaries, AUX columns (CAT §3, §5) |
//! | [`model`] | what the reader returns: [`Catalog`], [`TableInfo`], [`ColumnInfo`], [`CatalogObject`]; the join by name |
//! | [`tokens`] | catalog tokens against dictionary extents; start-LBID inference (CAT §3.3) |
//! | [`locate`] | where the catalog files are under a DBRoot |
//! | `file` | one catalog file in memory; [`LoadedCatalog`]: every catalog file loaded once, with the caller's `Access` |
//!
//! Dependencies run one way: `file` ← `tokens` ← `reader` (`syscat`, `width` and `model` below them all).

mod file;
pub mod locate;
pub mod model;
pub mod reader;
pub mod syscat;
pub mod tokens;
pub mod width;

pub use file::{CatalogFiles, LoadedCatalog};
pub use reader::{
    read_catalog, read_catalog_with_extents, read_loaded_catalog, read_loaded_catalog_with_extents,
    Catalog, CatalogName, CatalogObject, ColumnInfo, TableInfo,
};
pub use syscat::{syscat_layout, Generation, SyscatExtent, SYSCAT_COLUMNS};
pub use tokens::{
    check_loaded_token_lbids, check_token_lbids, infer_dict_start, DictExtent, TokenFault,
    TokenFinding,
};
