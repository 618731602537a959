//! Catalog: the system catalog's files among the found files → one [`CatalogFacts`].
//!
//! Runs after walk and before plan. Every catalog file (OIDs below 3000, partition 0, segment 0)
//! is loaded **once**, with the caller's `Access`, and everything the later stages need from the
//! catalog is derived from that one load: the generation (CAT §2), where dbbuilder's creation
//! order puts each catalog file (SEG §7.3) — or, when the catalog's own tokens say it was first
//! built by an older release and upgraded in place, that release's layout (CAT §7.2) — the kinds
//! its SYSCOLUMN/SYSTABLE rows give user OIDs (CAT §5), and the loaded files themselves, which the
//! checks stage reads again from memory to cross-check tokens against the placed extents.

use super::kind::ObjectKind;
use super::walk::FoundFile;
use crate::catalog::syscat::{self, Generation, SyscatExtent};
use crate::catalog::tokens::{loaded_consistent_generations, token_column_dict};
use crate::catalog::{read_loaded_catalog, Catalog, CatalogFiles, CatalogObject, LoadedCatalog};
use crate::error::Error;
use crate::seg::file::Access;
use crate::types::{Lbid, Oid};
use std::collections::{BTreeMap, BTreeSet};

/// What the catalog's rows say about a user OID's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogKind {
    pub kind: ObjectKind,
    /// A dictionary column: its file holds tokens.
    pub tokens: bool,
    /// `compressiontype` (0 uncompressed, 1/2 snappy, 3 LZ4).
    pub compression: i32,
}

/// Why the catalog's layout is not the fresh-install replay over the files present, or could not
/// be checked against the catalog's tokens.
#[derive(Debug)]
pub enum LayoutNote {
    /// The tokens fit generation `original`'s layout, not the detected one's: a catalog first
    /// built as `original` and upgraded in place; `added_later` were re-assigned (CAT §7.2).
    Upgraded {
        original: Generation,
        detected: Generation,
        added_later: Vec<Oid>,
    },
    /// The tokens fit no replayed layout: the catalog was moved or is damaged.
    FitsNoLayout,
    /// A token column or dictionary file could not be loaded, so the layout was not checked.
    NotChecked(Oid),
}

/// Everything the rebuild knows from the system catalog, loaded once.
#[derive(Debug, Default)]
pub struct CatalogFacts {
    /// Catalog OIDs whose file was found (loaded or not).
    pub present: BTreeSet<Oid>,
    /// The generation the files present make (`None` without any catalog file).
    pub generation: Option<Generation>,
    /// Where each catalog file's first extent goes.
    pub layout: Vec<SyscatExtent>,
    /// The same layout as OID → first LBID.
    pub lbids: BTreeMap<Oid, Lbid>,
    /// The catalog's files, each loaded once.
    pub loaded: LoadedCatalog,
    /// The SYSTABLE/SYSCOLUMN rows, when every catalog file could be loaded.
    pub rows: Option<Catalog>,
    /// The kinds the rows give user OIDs (for files whose header records none).
    pub kinds: BTreeMap<Oid, CatalogKind>,
    /// Why the layout is not the plain replay, if it is not.
    pub layout_note: Option<LayoutNote>,
}

impl CatalogFacts {
    /// First LBID after the catalog's layout.
    pub fn first_free_lbid(&self) -> Option<Lbid> {
        self.layout.last().map(SyscatExtent::end)
    }

    /// The first catalog file that could not be loaded, if any.
    pub fn load_error(&self) -> Option<&Error> {
        self.loaded.failed().values().next()
    }
}

/// Load the catalog files among `found` with `access` and derive the catalog's facts.
pub fn load(found: &[FoundFile], access: Access) -> CatalogFacts {
    let files: CatalogFiles = found
        .iter()
        .filter(|f| syscat::is_syscat_oid(f.id.oid) && f.id.partition == 0 && f.id.segment == 0)
        .map(|f| (f.id.oid, f.path.clone()))
        .collect();
    if files.is_empty() {
        return CatalogFacts::default();
    }
    let present: BTreeSet<Oid> = files.keys().copied().collect();
    let loaded = LoadedCatalog::load_each(&files, access);
    let (layout, layout_note) = placement(&loaded, &present);
    let lbids: BTreeMap<Oid, Lbid> = layout.iter().map(|e| (e.oid, e.lbid)).collect();
    let rows = loaded
        .failed()
        .is_empty()
        .then(|| read_loaded_catalog(&loaded, &lbids));
    let kinds = rows.as_ref().map(kinds).unwrap_or_default();
    CatalogFacts {
        generation: Some(Generation::detect(&present)),
        present,
        layout,
        lbids,
        loaded,
        rows,
        kinds,
        layout_note,
    }
}

/// Whether `oid` is a catalog token column or dictionary: the files the token checks read.
pub(crate) fn is_token_file(oid: Oid) -> bool {
    token_column_dict(oid).is_some()
        || syscat::syscat_object(oid).is_some_and(|o| o.is_dictionary())
}

/// Where the catalog's extents go: dbbuilder's creation order replayed over the catalog files
/// present — unless the catalog's own tokens say it was first built by an older release and
/// upgraded in place (CAT §7.2), in which case the files that release created keep its layout and
/// the ones the upgrade added (1012, 1043) are left to be re-assigned: their LBIDs were allocated
/// later and no file records them.
fn placement(
    loaded: &LoadedCatalog,
    present: &BTreeSet<Oid>,
) -> (Vec<SyscatExtent>, Option<LayoutNote>) {
    let detected = Generation::detect(present);
    let layout = syscat::syscat_layout(present);
    if let Some(&oid) = loaded.failed().keys().find(|&&o| is_token_file(o)) {
        return (layout, Some(LayoutNote::NotChecked(oid)));
    }
    let fits = loaded_consistent_generations(loaded, present);
    match fits.first() {
        None => (layout, Some(LayoutNote::FitsNoLayout)),
        Some(&original) if !fits.contains(&detected) => {
            // newest first
            let (first, later) = syscat::syscat_layout_upgraded(present, original);
            let note = LayoutNote::Upgraded {
                original,
                detected,
                added_later: later,
            };
            (first, Some(note))
        }
        Some(_) => (layout, None),
    }
}

/// The kinds the catalog's rows give the user OIDs (for files whose header records none).
fn kinds(catalog: &Catalog) -> BTreeMap<Oid, CatalogKind> {
    let mut kinds = BTreeMap::new();
    for oid in catalog.file_oids() {
        let Some(obj) = catalog.object(oid) else {
            continue;
        };
        let compression = obj.compression().unwrap_or(0);
        let kind = if obj.is_dictionary() {
            Some((ObjectKind::Dictionary, false))
        } else if let (Some(data_type), Some(width)) = (obj.data_type(), obj.extent_width()) {
            let tokens = matches!(obj, CatalogObject::Column(c) if c.dict_oid.is_some());
            Some((ObjectKind::Column { data_type, width }, tokens))
        } else {
            None
        };
        if let Some((kind, tokens)) = kind {
            kinds.insert(
                oid,
                CatalogKind {
                    kind,
                    tokens,
                    compression,
                },
            );
        }
    }
    kinds
}
