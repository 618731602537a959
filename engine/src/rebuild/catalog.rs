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
use super::place::cp::Origin;
use super::place::era::Eras;
use super::plan::FileFacts;
use super::walk::FoundFile;
use crate::catalog::syscat::{self, Generation, SyscatExtent};
use crate::catalog::tokens::{distinct_tokens, infer_loaded_dict_starts, token_column_dict};
use crate::catalog::{read_loaded_catalog, Catalog, CatalogFiles, CatalogObject, LoadedCatalog};
use crate::em::ExtentRecord;
use crate::error::Error;
use crate::seg::file::Access;
use crate::types::{DbRootId, Lbid, Oid};
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

/// Why the catalog's layout is not the fresh-install replay of the detected generation, or could
/// not be checked against the catalog's tokens.
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
    /// The catalog's generation (`None` without any catalog file): the one its files make
    /// (CAT §5 step 1), or a newer one when the tokens fit only that one's layout (a missing
    /// 1012 makes a generation B/C catalog look like generation A).
    pub generation: Option<Generation>,
    /// The generation's catalog files that were not found, ascending: the layout is replayed
    /// over the whole generation, so they take no one else's LBIDs, but their extents are
    /// left out of the map.
    pub missing: Vec<Oid>,
    /// Dictionaries whose start the tokens of their column fix to one LBID other than the
    /// replay's, with that LBID (only when the tokens fit no replayed layout).
    pub token_starts: BTreeMap<Oid, Lbid>,
    /// Dictionaries whose tokens contradict the layout used (only when they fit no replayed
    /// layout).
    pub contradicted: Vec<Oid>,
    /// The DBRoot holding the catalog (of its first file found).
    pub dbroot: Option<DbRootId>,
    /// The era that created each file's extents (CP, [`crate::rebuild::place::era`]).
    pub eras: Eras,
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

    /// How many distinct string tokens of `dict`'s token column there are, and into how many
    /// distinct blocks they point.
    pub fn token_evidence(&self, dict: Oid) -> (u64, u64) {
        let column = syscat::syscat_object(dict).and_then(|o| o.column_oid);
        let Some(file) = column.and_then(|c| self.loaded.files.get(&c)) else {
            return (0, 0);
        };
        let tokens = distinct_tokens(file);
        let blocks: BTreeSet<i64> = tokens.iter().map(|t| t.lbid).collect();
        (tokens.len() as u64, blocks.len() as u64)
    }

    /// The extents of the missing catalog files, at their replayed LBIDs (so that no other
    /// extent takes their ranges), HWM 0 (no file to read one from) and the CP their era
    /// creates them with — invalidated when DDL wrote into their catalog table (`origins`,
    /// same order as `files`).
    pub fn missing_extents(&self, files: &[FileFacts], origins: &[Origin]) -> Vec<ExtentRecord> {
        let Some(dbroot) = self.dbroot else {
            return Vec::new();
        };
        let written = |table| {
            files.iter().zip(origins).any(|(pf, o)| {
                o.ddl_written
                    && syscat::syscat_object(pf.found.id.oid).is_some_and(|x| x.table == table)
            })
        };
        self.missing
            .iter()
            .filter_map(|&oid| {
                let obj = syscat::syscat_object(oid)?;
                let e = self.layout.iter().find(|e| e.oid == oid)?;
                let kind = ObjectKind::of_syscat(obj);
                let (era, _) = self.eras.of(oid);
                let cp = if written(obj.table) {
                    era.invalidated(kind)
                } else {
                    era.created(kind, true)
                };
                Some(ExtentRecord {
                    range_start: e.lbid,
                    range_size: e.range_size,
                    oid,
                    block_offset: 0,
                    hwm: 0,
                    partition: 0,
                    segment: 0,
                    dbroot,
                    col_width: e.width,
                    status: 0,
                    cp,
                })
            })
            .collect()
    }

    /// The first catalog file that could not be loaded, if any.
    pub fn load_error(&self) -> Option<&Error> {
        self.loaded.failed().values().next()
    }
}

/// Load the catalog files among `found` with `access` and derive the catalog's facts.
pub fn load(found: &[FoundFile], access: Access) -> CatalogFacts {
    load_with(found, access, &crate::seg::file::LocalFiles)
}

/// [`load`], reading the files through `opener`.
pub fn load_with(
    found: &[FoundFile],
    access: Access,
    opener: &dyn crate::seg::file::FileOpener,
) -> CatalogFacts {
    let files: CatalogFiles = found
        .iter()
        .filter(|f| syscat::is_syscat_oid(f.id.oid) && f.id.partition == 0 && f.id.segment == 0)
        .map(|f| (f.id.oid, f.path.clone()))
        .collect();
    if files.is_empty() {
        return CatalogFacts::default();
    }
    let present: BTreeSet<Oid> = files.keys().copied().collect();
    let loaded = LoadedCatalog::load_each_with(&files, access, opener);
    let dbroot = found
        .iter()
        .find(|f| files.contains_key(&f.id.oid))
        .map(|f| f.dbroot);
    let Placed {
        generation,
        layout,
        note: layout_note,
        token_starts,
        contradicted,
    } = placement(&loaded, &present);
    let mut lbids: BTreeMap<Oid, Lbid> = layout
        .iter()
        .filter(|e| present.contains(&e.oid))
        .map(|e| (e.oid, e.lbid))
        .collect();
    lbids.extend(token_starts.iter().map(|(&o, &l)| (o, l)));
    let missing: Vec<Oid> = generation
        .oids()
        .into_iter()
        .filter(|o| !present.contains(o))
        .collect();
    let rows = loaded
        .failed()
        .is_empty()
        .then(|| read_loaded_catalog(&loaded, &lbids));
    let kinds = rows.as_ref().map(kinds).unwrap_or_default();
    // A table with an AUX column was created after the upgrade, and its DDL last wrote (and
    // invalidated) the catalog's extents with the newer release's pairs: then the catalog's
    // original files no longer show their original era.
    let ddl_since_upgrade = rows
        .as_ref()
        .is_some_and(|r| r.tables.iter().any(|t| t.aux_oid.is_some()));
    let upgraded = match &layout_note {
        Some(LayoutNote::Upgraded {
            original,
            added_later,
            ..
        }) if !ddl_since_upgrade => Some((*original, added_later.as_slice())),
        _ => None,
    };
    // `auxcolumnoid` 0 says "created before 22.08" only when its file was there to say it.
    let old_tables = match &rows {
        Some(rows) if present.contains(&syscat::SYSTABLE_AUXCOLUMNOID) => tables_without_aux(rows),
        _ => Vec::new(),
    };
    let eras = Eras::new(Some(generation), upgraded, old_tables);
    CatalogFacts {
        generation: Some(generation),
        missing,
        token_starts,
        contradicted,
        dbroot,
        eras,
        present,
        layout,
        lbids,
        loaded,
        rows,
        kinds,
        layout_note,
    }
}

/// The files (columns and dictionaries) of the user tables whose `auxcolumnoid` is 0.
fn tables_without_aux(rows: &Catalog) -> Vec<Oid> {
    rows.tables
        .iter()
        .filter(|t| t.aux_oid.is_none())
        .flat_map(|t| &t.columns)
        .flat_map(|c| std::iter::once(c.oid).chain(c.dict_oid))
        .collect()
}

/// Whether `oid` is a catalog token column or dictionary: the files the token checks read.
pub(crate) fn is_token_file(oid: Oid) -> bool {
    token_column_dict(oid).is_some()
        || syscat::syscat_object(oid).is_some_and(|o| o.is_dictionary())
}

/// What [`placement`] decided.
struct Placed {
    generation: Generation,
    layout: Vec<SyscatExtent>,
    note: Option<LayoutNote>,
    token_starts: BTreeMap<Oid, Lbid>,
    contradicted: Vec<Oid>,
}

/// Where the catalog's extents go: dbbuilder's creation order replayed over **every** OID of
/// the catalog's generation (SEG §7.3, CAT §7.1), so that a missing file keeps its LBIDs and
/// shifts no later one — checked against the catalog's own tokens (CAT §3.3), which decide
/// between the layouts a catalog can have:
///
/// 1. the fresh install of the generation the files make;
/// 2. for a generation B/C catalog, generation A's layout upgraded in place (CAT §7.2): the
///    files the upgrade added (1012, 1043) are left to be re-assigned, no file records them;
/// 3. for a catalog that looks older than its tokens say (1012 missing), the newer
///    generation's fresh install;
///
/// and when the tokens fit none of them, the fresh install of the detected generation, with
/// each dictionary whose tokens admit exactly one start put there instead (the refusal
/// [`RefusalReason::CatalogLayoutContradicted`](crate::finding::RefusalReason) says so).
fn placement(loaded: &LoadedCatalog, present: &BTreeSet<Oid>) -> Placed {
    let detected = Generation::detect(present);
    let fresh = |g: Generation| syscat::syscat_layout(&g.oids());
    let plain = |note| Placed {
        generation: detected,
        layout: fresh(detected),
        note,
        token_starts: BTreeMap::new(),
        contradicted: Vec::new(),
    };
    if let Some(&oid) = loaded.failed().keys().find(|&&o| is_token_file(o)) {
        return plain(Some(LayoutNote::NotChecked(oid)));
    }
    let inferred = infer_loaded_dict_starts(loaded, &BTreeMap::new());
    let fits = |layout: &[SyscatExtent]| {
        inferred.iter().all(|(dict, candidates)| {
            layout
                .iter()
                .find(|e| e.oid == *dict)
                .is_some_and(|e| candidates.contains(&e.lbid))
        })
    };
    if fits(&fresh(detected)) {
        return plain(None);
    }
    if detected > Generation::A {
        let (first, later) = syscat::syscat_layout_upgraded(&detected.oids(), Generation::A);
        if fits(&first) {
            return Placed {
                generation: detected,
                layout: first,
                note: Some(LayoutNote::Upgraded {
                    original: Generation::A,
                    detected,
                    added_later: later.into_iter().filter(|o| present.contains(o)).collect(),
                }),
                token_starts: BTreeMap::new(),
                contradicted: Vec::new(),
            };
        }
    }
    for newer in [Generation::B, Generation::C]
        .into_iter()
        .filter(|&g| g > detected)
    {
        if fits(&fresh(newer)) {
            return Placed {
                generation: newer,
                layout: fresh(newer),
                note: None,
                token_starts: BTreeMap::new(),
                contradicted: Vec::new(),
            };
        }
    }
    let layout = fresh(detected);
    let contradicted = inferred
        .iter()
        .filter(|(dict, candidates)| {
            !layout
                .iter()
                .find(|e| e.oid == **dict)
                .is_some_and(|e| candidates.contains(&e.lbid))
        })
        .map(|(&dict, _)| dict)
        .collect();
    let token_starts = inferred
        .iter()
        .filter_map(|(&dict, candidates)| match candidates.as_slice() {
            [only] => Some((dict, *only)),
            _ => None,
        })
        .filter(|(dict, start)| {
            layout
                .iter()
                .find(|e| e.oid == *dict)
                .is_some_and(|e| e.lbid != *start)
        })
        .collect();
    Placed {
        generation: detected,
        layout,
        note: Some(LayoutNote::FitsNoLayout),
        token_starts,
        contradicted,
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
