//! Rebuild the extent map from the segment files alone.
//!
//! Data flows one way, one module per stage, each taking the previous stage's output as a value:
//!
//! | stage | input → output |
//! |---|---|
//! | [`walk`] | DBRoot paths → [`walk::FoundFile`]s, skipped paths |
//! | [`catalog`] | the catalog's found files → [`catalog::CatalogFacts`] (each file loaded once) |
//! | [`plan`] | found files + catalog facts → [`plan::PlannedFile`]s (facts, open file, kernel) |
//! | [`units`] | planned files → chunk-aligned [`units::WorkUnit`]s |
//! | [`scan`] | units → per-extent [`stats::ExtentStats`] (parallel fold/reduce; kernels in [`kernel`]) |
//! | [`facts`] | everything so far as plain values ([`facts::Facts`]: no open file) |
//! | [`place`] | file facts + scan facts → extent records (HWM, CP, LBID rules in submodules) |
//! | [`checks`] | placed extents → catalog token findings, against the already-loaded catalog |
//! | [`report`] | everything found → [`RebuildReport`] |
//!
//! [`kind`] and [`stats`] hold the vocabulary the stages share. The result does not depend on
//! thread count or unit size: partial results merge with an associative operation and every
//! output is sorted. The caller writes the [`ExtentMap`].
//!
//! A cluster runs the stages up to [`facts`] on each node ([`scan_facts`]), carries the facts in
//! a [`partial`], and runs the same place, checks and report on the primary
//! ([`facts::finish`] of the merged facts).

pub mod catalog;
pub mod checks;
pub mod compare;
pub mod facts;
pub mod kernel;
pub mod kind;
pub mod partial;
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

/// Rebuild on the current rayon pool (the caller chooses its size): the facts of every DBRoot
/// ([`scan_facts`]), then place, checks and report ([`facts::finish`]).
pub fn rebuild(opts: &RebuildOptions, progress: &dyn Progress) -> Result<Rebuilt, Error> {
    let facts = scan_facts(opts, None, progress)?;
    Ok(facts::finish(facts, &opts.accept))
}

/// Walk, catalog, plan, units and scan `opts.dbroots` on the current rayon pool: everything
/// placement needs, as values. On a machine that holds none of the catalog's files, `catalog`
/// (the catalog part of the machine that does) gives the plan the kinds the catalog's rows
/// record; files whose own catalog is found use that one.
pub fn scan_facts(
    opts: &RebuildOptions,
    catalog: Option<&facts::CatalogPart>,
    progress: &dyn Progress,
) -> Result<facts::Facts, Error> {
    let Prepared {
        planned,
        units,
        mut facts,
    } = prepare(opts, catalog)?;
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
    let (scan, errors) = scanned.into_facts();
    for e in &errors {
        let path = planned[e.file].facts.found.path.clone();
        facts.damaged.push(Damaged::new(path, &e.error));
    }
    facts.scan = scan;
    facts.files = planned.into_iter().map(|p| p.facts).collect();
    Ok(facts)
}

/// Everything before the scan, shared by [`scan_facts`] and [`floor_pass`]: the planned files,
/// their work units, and the facts so far.
struct Prepared {
    planned: Vec<plan::PlannedFile>,
    units: Vec<units::WorkUnit>,
    facts: facts::Facts,
}

/// Walk, catalog, plan and units.
fn prepare(
    opts: &RebuildOptions,
    external: Option<&facts::CatalogPart>,
) -> Result<Prepared, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let mut facts = facts::Facts::default();

    // One walk per DBRoot, so that each DBRoot's skipped paths stay its own (a cluster merges
    // the DBRoots of several machines in DBRoot order).
    for (&id, root) in &opts.dbroots {
        let walked = walk::walk(&BTreeMap::from([(id, root.clone())]));
        facts.found.extend(walked.files);
        facts.skipped.insert(id, walked.skipped);
        facts.damaged.extend(
            walked
                .damaged
                .iter()
                .map(|(p, e)| Damaged::new(p.clone(), e)),
        );
    }
    facts.found.sort_by_key(|f| (f.id, f.dbroot));

    let catalog = catalog::load(&facts.found, opts.access);
    facts.catalog = facts::CatalogPart::from_facts(&catalog);
    let plan_catalog = match external {
        Some(part) if !facts.catalog.is_present() => part.plan_facts(),
        _ => catalog,
    };

    let (planned, unplanned) = plan::plan(
        facts.found.clone(),
        &plan_catalog,
        opts.access,
        opts.string_cp,
    );
    for u in unplanned {
        match u.why {
            Err(e) => facts.damaged.push(Damaged::new(u.found.path, &e)),
            Ok(reason) => facts.unresolved.push(Unresolved {
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
        facts,
    })
}

/// The same segment file on two DBRoots (walk sorts files by identity, then DBRoot).
pub(crate) fn duplicates(files: &[walk::FoundFile]) -> Vec<Finding> {
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
    let p = prepare(opts, None)?;
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
