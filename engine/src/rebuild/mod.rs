//! Rebuild the extent map from the segment files alone.
//!
//! Data flows one way, one module per stage, each taking the previous stage's output as a value:
//!
//! | stage | input → output |
//! |---|---|
//! | [`walk`] | DBRoot paths → [`walk::FoundFile`]s, skipped paths |
//! | [`catalog`] | the catalog's found files → [`catalog::CatalogFacts`] (each file loaded once) |
//! | [`plan`] | found files + catalog facts → [`plan::PlannedFile`]s (opened, kind, kernel) |
//! | [`orphans`] | planned files → the ones the catalog lists as live (the others reported) |
//! | [`units`] | planned files → chunk-aligned [`units::WorkUnit`]s |
//! | [`scan`] | units → per-extent [`stats::ExtentStats`] (parallel fold/reduce; kernels in [`kernel`]) |
//! | [`evidence`] | planned files + scan → token evidence for dictionaries no header settles |
//! | [`place`] | planned files + scan + evidence → extent records (HWM, CP, LBID rules in submodules) |
//! | [`reconcile`] | planned files + scan + catalog rows → [`reconcile::TableRows`]: each table's rows per (partition, segment), agreed across its columns |
//! | [`place`] | planned files + scan + table rows (+ reference map) → extent records (HWM, CP, LBID rules in submodules) |
//! | [`checks`] | placed extents → catalog token findings, against the already-loaded catalog |
//! | [`report`] | everything found → [`RebuildReport`] |
//!
//! [`kind`] and [`stats`] hold the vocabulary the stages share. The result does not depend on
//! thread count or unit size: partial results merge with an associative operation and every
//! output is sorted. The caller writes the [`ExtentMap`].

pub mod catalog;
pub mod checks;
pub mod compare;
pub mod evidence;
pub mod floors;
pub mod kernel;
pub mod kind;
pub mod orphans;
pub mod place;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod scan;
pub mod stats;
pub mod units;
pub mod walk;

use crate::em::ExtentMap;
use crate::error::Error;
use crate::finding::{Accept, Damaged, Finding, Unresolved};
use crate::progress::Progress;
use crate::seg::file::{Access, FileOpener, LocalFiles};
use crate::types::{DbRootId, CHUNK_BYTES};
use kind::StringCp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use report::{CatalogSummary, RebuildReport};

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
    /// Refusals the user accepts knowingly (each a command-line flag).
    pub accept: Accept,
    /// Keep files of OIDs the catalog does not list as live (`--include-orphans`).
    pub include_orphans: bool,
    /// An older extent map (`--reference`): LBIDs the data cannot settle, status and sequence
    /// numbers ([`place::reference`]).
    pub reference: Option<ExtentMap>,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            dbroots: BTreeMap::new(),
            chunk_mib: 16,
            string_cp: StringCp::Invalid,
            access: Access::Mmap,
            accept: Accept::default(),
            include_orphans: false,
            reference: None,
        }
    }
}

/// The rebuilt map and its report. The caller decides whether to write it.
#[derive(Debug)]
pub struct Rebuilt {
    pub map: ExtentMap,
    pub report: RebuildReport,
}

/// Rebuild on the current rayon pool (the caller chooses its size).
pub fn rebuild(opts: &RebuildOptions, progress: &dyn Progress) -> Result<Rebuilt, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    rebuild_from(opts, walk::walk(&opts.dbroots), &LocalFiles, progress)
}

/// [`rebuild`] of the files `walked` found, read through `opener` (StorageManager's objects:
/// `crate::sm::stream`).
pub fn rebuild_from(
    opts: &RebuildOptions,
    walked: walk::WalkResult,
    opener: &dyn FileOpener,
    progress: &dyn Progress,
) -> Result<Rebuilt, Error> {
    let Prepared {
        planned,
        units,
        catalog,
        mut findings,
        mut report,
    } = prepare(opts, walked, opener)?;
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
        let path = planned[e.file].found.path.clone();
        let damaged = Damaged::new(path, &e.error);
        // Chunks that fail for one cause (a missing StorageManager object under several
        // chunks) are one finding.
        if findings.damaged.last() != Some(&damaged) {
            findings.damaged.push(damaged);
        }
    }

    let rows = reconcile::reconcile(&planned, &scanned, &catalog);
    let origins = place::era::origins(&planned, &scanned, &catalog.eras);
    let without_file = catalog.missing_extents(&planned, &origins);
    let extents = place::extent_counts(&planned, &scanned, &rows);
    let claims = place::lbid::claims(&planned, &extents, &catalog.lbids);
    let evidence = evidence::gather(&planned, &extents, &claims, &catalog);
    let reference = opts
        .reference
        .as_ref()
        .map(place::reference::Reference::new);
    let decided = place::tokens::decide(
        &planned,
        &claims,
        &evidence,
        reference.as_ref(),
        &opts.accept,
    );
    findings.inferred.extend(decided.inferred);
    findings.refused.extend(decided.refused);
    let placement = place::place(
        &planned,
        &scanned,
        place::LbidSources {
            syscat: &catalog.lbids,
            decided: &decided.lbids,
            reference: reference.as_ref(),
            reference_conflicts: &decided.reference_conflicts,
        },
        &rows,
        &origins,
        without_file,
    );
    findings
        .catalog
        .extend(checks::catalog_tokens(&catalog, &placement.extents));

    let (inferred, refused) = reconcile::findings(&rows, &placement.extents, &opts.accept);
    findings.inferred.extend(inferred);
    findings.refused.extend(refused);
    findings.limits = limits(&rows, &placement);
    findings.inferred.extend(placement.from_reference.inferred);
    findings.inferred.extend(place::era::inferences(
        &planned,
        &origins,
        &placement.extents,
    ));
    findings.reassigned = placement.reassigned;
    findings.uncertain = placement.uncertain;
    report.bytes_scanned = scanned.bytes;
    report.files = planned.len();
    report.extents = placement.extents.len();
    report.findings = findings.finish();
    Ok(Rebuilt {
        map: ExtentMap::from_extents(placement.extents),
        report,
    })
}

/// What the data cannot tell — status (always: no data file records it), HWMs not reconciled
/// for want of the catalog's rows — and where a reference map contradicts the data.
fn limits(rows: &reconcile::TableRows, placement: &place::Placement) -> Vec<Finding> {
    let from_reference = placement
        .from_reference
        .inferred
        .iter()
        .filter(|i| i.fact == crate::finding::Fact::Status)
        .count();
    let mut out = vec![Finding::StatusNotInData { from_reference }];
    if rows.unreconciled_files > 0 {
        out.push(Finding::HwmNotReconciled {
            files: rows.unreconciled_files,
        });
    }
    out.extend(
        placement
            .from_reference
            .conflicts
            .iter()
            .cloned()
            .map(Finding::ReferenceContradicted),
    );
    out
}

/// Everything before the scan, shared by [`rebuild`] and [`floor_pass`].
struct Prepared {
    planned: Vec<plan::PlannedFile>,
    units: Vec<units::WorkUnit>,
    catalog: catalog::CatalogFacts,
    findings: report::Findings,
    report: RebuildReport,
}

/// Walk, catalog, plan and units.
fn prepare(
    opts: &RebuildOptions,
    walked: walk::WalkResult,
    opener: &dyn FileOpener,
) -> Result<Prepared, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let mut report = RebuildReport::default();
    let mut findings = report::Findings {
        skipped: walked.skipped,
        ..report::Findings::default()
    };
    findings.damaged.extend(
        walked
            .damaged
            .iter()
            .map(|(p, e)| Damaged::new(p.clone(), e)),
    );
    findings.duplicates = duplicates(&walked.files);

    let catalog = catalog::load_with(&walked.files, opts.access, opener);
    let (summary, catalog_findings) = report::catalog_stage(&catalog);
    report.catalog = summary;
    findings.catalog = catalog_findings;
    let (refused, inferred) = report::catalog_refusals(&catalog, &opts.accept);
    findings.refused.extend(refused);
    findings.inferred.extend(inferred);

    let (planned, unplanned) =
        plan::plan_with(walked.files, &catalog, opts.access, opts.string_cp, opener);
    let (planned, orphans) = orphans::split(planned, &catalog, opts.include_orphans);
    findings.orphans = orphans;
    for p in &planned {
        *report.kind_sources.entry(p.source).or_default() += 1;
    }
    for u in unplanned {
        match u.why {
            Err(e) => findings.damaged.push(Damaged::new(u.found.path, &e)),
            Ok(reason) => findings.unresolved.push(Unresolved {
                path: u.found.path,
                oid: u.found.id.oid,
                reason,
            }),
        }
    }
    let units = units::for_files(&planned, opts.chunk_mib);
    Ok(Prepared {
        planned,
        units,
        catalog,
        findings,
        report,
    })
}

/// The same segment file on two DBRoots (walk sorts files by identity, then DBRoot).
fn duplicates(files: &[walk::FoundFile]) -> Vec<Finding> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for f in files {
        if let Some(other) = seen.insert(f.id, f.dbroot) {
            out.push(Finding::DuplicateSegment {
                segment: f.id,
                dbroots: [other, f.dbroot],
            });
        }
    }
    out
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
    use crate::seg::file::{ChunkReader, SegmentFile};
    use rayon::prelude::*;
    let p = prepare(opts, walk::walk(&opts.dbroots), &LocalFiles)?;
    let files: Vec<&SegmentFile> = p.planned.iter().map(|f| &f.file).collect();
    let bytes = (0..p.units.len())
        .into_par_iter()
        .fold(
            || (0u64, ChunkReader::new(), 0usize),
            |(mut bytes, mut reader, mut ahead), i| {
                scan::read_unit(
                    &files,
                    &p.units,
                    i,
                    &mut reader,
                    &mut ahead,
                    |_, _, data| {
                        bytes += data.map_or(0, |d| d.len() as u64);
                    },
                );
                (bytes, reader, ahead)
            },
        )
        .map(|(bytes, _, _)| bytes)
        .sum();
    Ok(FloorResult {
        files: p.planned.len(),
        bytes,
    })
}
