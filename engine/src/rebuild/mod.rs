//! Rebuild the extent map from the segment files alone.
//!
//! Data flows one way, one module per stage:
//! [`walk`] (DBRoot trees → segment identities) → [`plan`] (files → kinds, kernels) →
//! [`scan`] (chunk-aligned work units → partial stats, in parallel) → merge (fold/reduce) →
//! [`place`] (LBIDs, HWM, casual partitioning) → the caller writes the [`ExtentMap`].
//!
//! The result does not depend on thread count or unit size: partial results merge with an
//! associative operation and every output is sorted.

pub mod compare;
pub mod place;
pub mod plan;
pub mod scan;
pub mod stats;
pub mod walk;

use crate::catalog::syscat;
use crate::catalog::DictExtent;
use crate::em::ExtentMap;
use crate::error::Error;
use crate::progress::Progress;
use crate::seg::file::Access;
use crate::types::{DbRootId, Lbid, Oid, CHUNK_BYTES};
use plan::{ObjectKind, StringCp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub use place::{Reassigned, Uncertain};
pub use walk::Skipped;

/// What to rebuild and how.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// DBRoot id → data directory.
    pub dbroots: BTreeMap<DbRootId, PathBuf>,
    /// Size of one work unit in MiB of uncompressed data (rounded to whole 4 MiB chunks).
    pub chunk_mib: u32,
    /// How inline CHAR/VARCHAR extents get their min/max.
    pub string_cp: StringCp,
    /// Memory-map files (default) or read them.
    pub access: Access,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            dbroots: BTreeMap::new(),
            chunk_mib: 16,
            string_cp: StringCp::Invalid,
            access: Access::Mmap,
        }
    }
}

/// A file that could not be read completely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damaged {
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub path: PathBuf,
    pub error: String,
    /// Byte offset of the damage, where known.
    pub offset: Option<u64>,
}

/// What the catalog told the rebuild, and where it disagreed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogReport {
    /// Catalog generation found on disk ("A", "B", "C"), if any catalog file was found.
    pub generation: Option<String>,
    /// Catalog OIDs found.
    pub oids: Vec<i32>,
    /// First LBID after the replayed catalog layout.
    pub first_free_lbid: Option<i64>,
    /// Disagreements between the replayed layout and the catalog's own tokens, and other findings.
    pub findings: Vec<String>,
}

/// Everything a rebuild found, for the summary and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebuildReport {
    pub extents: usize,
    pub files: usize,
    pub bytes_scanned: u64,
    pub skipped: Vec<Skipped>,
    pub damaged: Vec<Damaged>,
    /// Files whose kind (type and width) could not be determined; they have no extents.
    pub unresolved: Vec<Skipped>,
    pub reassigned: Vec<Reassigned>,
    /// Facts that could not be established (damaged chunks), with `--allow-damaged`.
    pub uncertain: Vec<Uncertain>,
    pub catalog: CatalogReport,
    /// How many files had their type from each source: their v3 header, the fixed definition of
    /// the system catalog, or the catalog's rows (v2 headers, uncompressed user tables).
    pub kind_sources: BTreeMap<plan::KindSource, usize>,
    /// Anything else worth knowing (the same segment file on two DBRoots, odd geometry).
    pub warnings: Vec<String>,
}

impl RebuildReport {
    /// Whether the map is complete: nothing damaged and every file understood.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty() && self.unresolved.is_empty()
    }
}

/// The rebuilt map and its report. The caller decides whether to write it.
#[derive(Debug)]
pub struct Rebuilt {
    pub map: ExtentMap,
    pub report: RebuildReport,
}

fn damaged(path: PathBuf, err: &Error) -> Damaged {
    Damaged {
        path,
        error: err.to_string(),
        offset: err.offset(),
    }
}

/// Files planned for scanning, their work units, and the report so far.
struct Prepared {
    planned: Vec<plan::PlannedFile>,
    units: Vec<scan::WorkUnit>,
    syscat_lbids: BTreeMap<Oid, Lbid>,
    catalog_files: BTreeMap<Oid, PathBuf>,
    report: RebuildReport,
}

/// Walk and plan: everything before the scan, shared by [`rebuild`] and [`floor_pass`].
fn prepare(opts: &RebuildOptions) -> Result<Prepared, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let mut report = RebuildReport::default();
    let walked = walk::walk(&opts.dbroots);
    report.skipped = walked.skipped;
    report
        .damaged
        .extend(walked.damaged.iter().map(|(p, e)| damaged(p.clone(), e)));

    let mut seen = BTreeMap::new();
    for f in &walked.files {
        if let Some(other) = seen.insert(f.id, f.dbroot) {
            report.warnings.push(format!(
                "{} is on DBRoot {} and DBRoot {}",
                f.id, other, f.dbroot
            ));
        }
    }

    // The catalog's LBIDs: dbbuilder's creation order over the catalog OIDs present.
    let catalog_files: BTreeMap<Oid, PathBuf> = walked
        .files
        .iter()
        .filter(|f| syscat::is_syscat_oid(f.id.oid) && f.id.partition == 0 && f.id.segment == 0)
        .map(|f| (f.id.oid, f.path.clone()))
        .collect();
    let present: BTreeSet<Oid> = catalog_files.keys().copied().collect();
    let layout = syscat_placement(&catalog_files, &present, &mut report);
    let syscat_lbids: BTreeMap<Oid, Lbid> = layout.iter().map(|e| (e.oid, e.lbid)).collect();
    let catalog_kinds = catalog_kinds(&catalog_files, &syscat_lbids, &mut report);

    let (planned, unplanned) =
        plan::plan(walked.files, &catalog_kinds, opts.access, opts.string_cp);
    for p in &planned {
        *report.kind_sources.entry(p.source).or_default() += 1;
    }
    for u in unplanned {
        match &u.error {
            Some(e) => report.damaged.push(damaged(u.found.path.clone(), e)),
            None => report.unresolved.push(Skipped {
                path: u.found.path.clone(),
                reason: u.reason,
            }),
        }
    }
    let chunks_per_unit = opts.chunk_mib.div_ceil((CHUNK_BYTES >> 20) as u32).max(1);
    let units = planned
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            scan::units_for_file(
                i,
                p.file.chunk_count(),
                p.kind.extent_blocks(),
                chunks_per_unit,
            )
        })
        .collect();
    Ok(Prepared {
        planned,
        units,
        syscat_lbids,
        catalog_files,
        report,
    })
}

/// Where the catalog's extents go: dbbuilder's creation order replayed over the catalog files
/// present — unless the catalog's own tokens say it was first built by an older release and
/// upgraded in place (catalog spec §7.2), in which case the files that release created keep its
/// layout and the ones the upgrade added (1012, 1043) are left to be re-assigned: their LBIDs were
/// allocated later and no file records them.
fn syscat_placement(
    files: &BTreeMap<Oid, PathBuf>,
    present: &BTreeSet<Oid>,
    report: &mut RebuildReport,
) -> Vec<syscat::SyscatExtent> {
    if present.is_empty() {
        return Vec::new();
    }
    let detected = syscat::Generation::detect(present);
    report.catalog.generation = Some(format!("{detected:?}"));
    report.catalog.oids = present.iter().map(|o| o.0).collect();
    let mut layout = syscat::syscat_layout(present);
    match crate::catalog::tokens::consistent_generations(files) {
        Ok(fits) if !fits.is_empty() && !fits.contains(&detected) => {
            let original = fits[0]; // newest first
            let (first, later) = syscat::syscat_layout_upgraded(present, original);
            let later: Vec<String> = later.iter().map(|o| o.to_string()).collect();
            report.catalog.findings.push(format!(
                "the catalog's tokens fit the layout of generation {original:?}, not {detected:?}: \
                 a catalog first built as generation {original:?} and upgraded in place; \
                 catalog files {} were added later and are re-assigned",
                later.join(", ")
            ));
            layout = first;
        }
        Ok(fits) if fits.is_empty() => report.catalog.findings.push(
            "the catalog's tokens fit no replayed layout: the catalog was moved or is damaged"
                .into(),
        ),
        Ok(_) => {}
        Err(e) => report
            .catalog
            .findings
            .push(format!("catalog generation not checked: {e}")),
    }
    report.catalog.first_free_lbid = layout.last().map(|e| e.end().0);
    layout
}

/// The kinds the catalog's rows give the user OIDs (for files whose header records none).
fn catalog_kinds(
    files: &BTreeMap<Oid, PathBuf>,
    syscat_lbids: &BTreeMap<Oid, Lbid>,
    report: &mut RebuildReport,
) -> BTreeMap<Oid, plan::CatalogKind> {
    let mut kinds = BTreeMap::new();
    if files.is_empty() {
        return kinds;
    }
    let catalog = match crate::catalog::read_catalog(files, syscat_lbids) {
        Ok(c) => c,
        Err(e) => {
            report
                .catalog
                .findings
                .push(format!("catalog rows not readable: {e}"));
            return kinds;
        }
    };
    report
        .catalog
        .findings
        .extend(catalog.problems.iter().map(|p| p.to_string()));
    for oid in catalog.file_oids() {
        let Some(obj) = catalog.object(oid) else {
            continue;
        };
        let compression = obj.compression().unwrap_or(0);
        if obj.is_dictionary() {
            let kind = ObjectKind::Dictionary;
            kinds.insert(
                oid,
                plan::CatalogKind {
                    kind,
                    tokens: false,
                    compression,
                },
            );
        } else if let (Some(data_type), Some(width)) = (obj.data_type(), obj.extent_width()) {
            let tokens = matches!(obj, crate::catalog::reader::CatalogObject::Column(c) if c.dict_oid.is_some());
            let kind = ObjectKind::Column { data_type, width };
            kinds.insert(
                oid,
                plan::CatalogKind {
                    kind,
                    tokens,
                    compression,
                },
            );
        }
    }
    kinds
}

/// Rebuild on the current rayon pool (the caller chooses its size).
pub fn rebuild(opts: &RebuildOptions, progress: &dyn Progress) -> Result<Rebuilt, Error> {
    let Prepared {
        planned,
        units,
        syscat_lbids,
        catalog_files,
        mut report,
    } = prepare(opts)?;
    let total: u64 = planned
        .iter()
        .map(|p| u64::from(p.file.chunk_count()) * CHUNK_BYTES as u64)
        .sum();
    progress.start("scan", total, planned.len() as u64);
    let kernels: Vec<_> = planned.iter().map(|p| (&p.file, p.kernel)).collect();
    let scanned = scan::scan_units(&kernels, &units, progress);
    progress.finish();
    if progress.cancelled() {
        return Err(Error::Interrupted);
    }

    for e in &scanned.errors {
        report
            .damaged
            .push(damaged(planned[e.file].found.path.clone(), &e.error));
    }
    let placement = place::place(&planned, &scanned, &syscat_lbids);
    check_catalog_tokens(&catalog_files, &placement.extents, &mut report);
    report.reassigned = placement.reassigned;
    report.uncertain = placement.uncertain;
    report.bytes_scanned = scanned.bytes;
    report.files = planned.len();
    report.extents = placement.extents.len();
    report
        .damaged
        .sort_by(|a, b| (&a.path, a.offset).cmp(&(&b.path, b.offset)));
    report.unresolved.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Rebuilt {
        map: ExtentMap::from_extents(placement.extents),
        report,
    })
}

/// Check the placed catalog dictionaries against the LBIDs the catalog's own tokens hold.
fn check_catalog_tokens(
    files: &BTreeMap<Oid, PathBuf>,
    extents: &[crate::em::ExtentRecord],
    report: &mut RebuildReport,
) {
    if files.is_empty() {
        return;
    }
    let mut dict: BTreeMap<Oid, Vec<DictExtent>> = BTreeMap::new();
    for e in extents
        .iter()
        .filter(|e| syscat::is_syscat_oid(e.oid) && e.col_width == 0)
    {
        dict.entry(e.oid).or_default().push(DictExtent {
            start: e.range_start,
            blocks: e.blocks() as u32,
            block_offset: e.block_offset,
        });
    }
    match crate::catalog::check_token_lbids(files, &dict) {
        Ok(findings) => report
            .catalog
            .findings
            .extend(findings.iter().map(|f| f.to_string())),
        Err(e) => report
            .catalog
            .findings
            .push(format!("catalog tokens not checked: {e}")),
    }
}

/// What the floor pass read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FloorResult {
    pub files: usize,
    pub bytes: u64,
}

/// The floor a rebuild is measured against: the same walk, plan and work units, then every
/// chunk read and decompressed (checksum included) on the current pool, classifying nothing.
pub fn floor_pass(opts: &RebuildOptions) -> Result<FloorResult, Error> {
    use rayon::prelude::*;
    let p = prepare(opts)?;
    let bytes = p
        .units
        .par_iter()
        .map_init(Vec::new, |scratch, u| {
            let file = &p.planned[u.file].file;
            u.chunks
                .clone()
                .map(|c| file.chunk_data(c, scratch).map_or(0, |d| d.len() as u64))
                .sum::<u64>()
        })
        .sum();
    Ok(FloorResult {
        files: p.planned.len(),
        bytes,
    })
}
