//! Rebuild the extent map from the segment files alone.
//!
//! Data flows one way, one module per stage, each taking the previous stage's output as a value:
//!
//! | stage | input → output |
//! |---|---|
//! | [`walk`] | DBRoot paths → [`walk::FoundFile`]s, skipped paths |
//! | [`catalog`] | the catalog's found files → [`catalog::CatalogFacts`] (each file loaded once) |
//! | [`plan`] | found files + catalog facts → [`plan::PlannedFile`]s (opened, kind, kernel) |
//! | [`units`] | planned files → chunk-aligned [`units::WorkUnit`]s |
//! | [`scan`] | units → per-extent [`stats::ExtentStats`] (parallel fold/reduce; kernels in [`kernel`]) |
//! | [`place`] | planned files + scan → extent records (HWM, CP, LBID rules in submodules) |
//! | [`checks`] | placed extents → catalog token findings, against the already-loaded catalog |
//! | [`report`] | everything found → [`RebuildReport`] |
//!
//! [`kind`] and [`stats`] hold the vocabulary the stages share. The result does not depend on
//! thread count or unit size: partial results merge with an associative operation and every
//! output is sorted. The caller writes the [`ExtentMap`].

pub mod catalog;
pub mod checks;
pub mod compare;
pub mod floors;
pub mod kernel;
pub mod kind;
pub mod place;
pub mod plan;
pub mod report;
pub mod scan;
pub mod stats;
pub mod units;
pub mod walk;

use crate::em::ExtentMap;
use crate::error::Error;
use crate::finding::{Accept, Damaged, Finding, Unresolved};
use crate::progress::Progress;
use crate::seg::file::Access;
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
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            dbroots: BTreeMap::new(),
            chunk_mib: 16,
            string_cp: StringCp::Invalid,
            access: Access::Mmap,
            accept: Accept::default(),
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
    let Prepared {
        planned,
        units,
        catalog,
        mut findings,
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
        let path = planned[e.file].found.path.clone();
        findings.damaged.push(Damaged::new(path, &e.error));
    }

    let origins = place::era::origins(&planned, &scanned, &catalog.eras);
    let without_file = catalog.missing_extents(&planned, &origins);
    let placement = place::place(&planned, &scanned, &catalog.lbids, &origins, without_file);
    findings
        .catalog
        .extend(checks::catalog_tokens(&catalog, &placement.extents));

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

/// Everything before the scan, shared by [`rebuild`] and [`floor_pass`].
struct Prepared {
    planned: Vec<plan::PlannedFile>,
    units: Vec<units::WorkUnit>,
    catalog: catalog::CatalogFacts,
    findings: report::Findings,
    report: RebuildReport,
}

/// Walk, catalog, plan and units.
fn prepare(opts: &RebuildOptions) -> Result<Prepared, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let mut report = RebuildReport::default();
    let mut findings = report::Findings::default();

    let walked = walk::walk(&opts.dbroots);
    findings.skipped = walked.skipped;
    findings.damaged.extend(
        walked
            .damaged
            .iter()
            .map(|(p, e)| Damaged::new(p.clone(), e)),
    );
    findings.duplicates = duplicates(&walked.files);

    let catalog = catalog::load(&walked.files, opts.access);
    let (summary, catalog_findings) = report::catalog_stage(&catalog);
    report.catalog = summary;
    findings.catalog = catalog_findings;
    let (refused, inferred) = report::catalog_refusals(&catalog, &opts.accept);
    findings.refused.extend(refused);
    findings.inferred.extend(inferred);

    let (planned, unplanned) = plan::plan(walked.files, &catalog, opts.access, opts.string_cp);
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
