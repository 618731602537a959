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
//! | [`scan`] | units → per-extent [`stats::ExtentStats`] (parallel fold/reduce; kernels in [`kernel`]), and the token evidence of the files [`evidence::predict`] names from the plan |
//! | [`evidence`] | planned files + scan → token evidence for dictionaries no header settles or in an LBID conflict (on a cluster's node: every one that claims a range); a wanted file the scan did not gather for is read again |
//! | [`facts`] | everything so far as plain values ([`facts::Facts`]: no open file) |
//! | [`facts::finish`] | the stages below, from the facts alone |
//! | [`orphans`] | file facts → the ones the catalog lists as live (the others reported) |
//! | [`reconcile`] | file facts + scan + catalog rows → [`reconcile::TableRows`]: each table's rows per (partition, segment), agreed across its columns |
//! | [`place`] | file facts + scan + evidence + table rows (+ reference map) → extent records (HWM, CP, LBID rules in submodules) |
//! | [`checks`] | placed extents → catalog token findings, against the already-loaded catalog |
//! | [`report`] | everything found → [`RebuildReport`] |
//!
//! [`kind`] and [`stats`] hold the vocabulary the stages share. The result does not depend on
//! thread count or unit size: partial results merge with an associative operation and every
//! output is sorted. The caller writes the [`ExtentMap`].
//!
//! A cluster runs the stages up to [`facts`] on each node ([`scan_facts`]), carries the facts in
//! a [`partial`], and runs the same [`facts::finish`] on the primary, of the merged facts.

pub mod catalog;
pub mod checks;
pub mod compare;
pub mod evidence;
pub mod facts;
pub mod floors;
pub mod kernel;
pub mod kind;
pub mod orphans;
pub mod partial;
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
use crate::finding::{Accept, Damaged, Finding};
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
    /// Read units that are not in the page cache around it (`O_DIRECT`, `--direct-io`;
    /// [`scan::ColdReads`]).
    pub direct_io: bool,
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
            direct_io: false,
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
/// `crate::sm::stream`): the facts of every DBRoot (as a node's [`scan_facts`]), then the
/// stages that work from facts alone ([`facts::finish_with`], as a cluster's primary runs
/// them), with the catalog stage's facts as loaded here.
pub fn rebuild_from(
    opts: &RebuildOptions,
    walked: walk::WalkResult,
    opener: &dyn FileOpener,
    progress: &dyn Progress,
) -> Result<Rebuilt, Error> {
    let (facts, catalog) = node_facts(
        opts,
        walked,
        opener,
        None,
        false,
        evidence::EvidenceSource::Scan,
        progress,
    )?;
    facts::finish_with(facts, catalog, opts)
}

/// The facts of `opts.dbroots` on the local file system, as one machine (`node` false: the
/// facts [`rebuild`] places) or a cluster's node gathers them ([`scan_facts`], without a
/// catalog from elsewhere), with the token evidence from `source`: the ways must agree.
pub fn facts_with_evidence(
    opts: &RebuildOptions,
    node: bool,
    source: evidence::EvidenceSource,
    progress: &dyn Progress,
) -> Result<facts::Facts, Error> {
    let walked = walk::walk(&opts.dbroots);
    node_facts(opts, walked, &LocalFiles, None, node, source, progress).map(|(facts, _)| facts)
}

/// A node's part of a rebuild: walk, catalog, plan, units, scan and evidence of
/// `opts.dbroots` on the current rayon pool, as values (the catalog files' bytes included). On
/// a machine that holds none of the catalog's files, `catalog` (the catalog part of the
/// machine that does, with the files that machine found) gives the plan and the evidence stage
/// the catalog's rows.
pub fn scan_facts(
    opts: &RebuildOptions,
    catalog: Option<(&facts::CatalogPart, &[walk::FoundFile])>,
    progress: &dyn Progress,
) -> Result<facts::Facts, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    scan_facts_from(
        opts,
        walk::walk(&opts.dbroots),
        &LocalFiles,
        catalog,
        progress,
    )
}

/// [`scan_facts`] of the files `walked` found, read through `opener`.
pub fn scan_facts_from(
    opts: &RebuildOptions,
    walked: walk::WalkResult,
    opener: &dyn FileOpener,
    catalog: Option<(&facts::CatalogPart, &[walk::FoundFile])>,
    progress: &dyn Progress,
) -> Result<facts::Facts, Error> {
    let source = evidence::EvidenceSource::Scan;
    node_facts(opts, walked, opener, catalog, true, source, progress).map(|(facts, _)| facts)
}

/// The facts and the catalog stage's facts. A cluster's `node` keeps the catalog files' bytes
/// in the facts (a partial carries them; one machine has the catalog's facts) and gathers token
/// evidence for every dictionary that claims a range, packed ([`evidence::gather_on_node`]).
/// The scan gathers the evidence of the files predicted to need it ([`evidence::predict`]);
/// `source` says whether the others are read again after it.
fn node_facts(
    opts: &RebuildOptions,
    walked: walk::WalkResult,
    opener: &dyn FileOpener,
    external: Option<(&facts::CatalogPart, &[walk::FoundFile])>,
    node: bool,
    source: evidence::EvidenceSource,
    progress: &dyn Progress,
) -> Result<(facts::Facts, catalog::CatalogFacts), Error> {
    let Prepared {
        planned,
        units,
        catalog,
        mut facts,
    } = prepare(opts, walked, opener, external, node)?;
    let total: u64 = planned
        .iter()
        .map(|p| u64::from(p.file.chunk_count()) * CHUNK_BYTES as u64)
        .sum();
    facts.files = planned.iter().map(|p| p.facts.clone()).collect();
    let predicted = match source {
        evidence::EvidenceSource::Reread => vec![None; planned.len()],
        _ => evidence::predict(&facts.files, &catalog, node),
    };
    progress.start("scan", total, planned.len() as u64);
    let kernels: Vec<_> = planned.iter().map(|p| (&p.file, p.kernel)).collect();
    let read = scan::ReadOptions {
        cold: if opts.direct_io {
            scan::ColdReads::Direct
        } else {
            scan::ColdReads::Buffered
        },
        ..scan::ReadOptions::default()
    };
    let mut scanned = scan::scan_units_gathering(&kernels, &units, &read, &predicted, progress);
    progress.finish();
    if progress.cancelled() {
        return Err(Error::Interrupted);
    }
    let from_scan = evidence::FromScan {
        predicted,
        gathered: std::mem::take(&mut scanned.gathered),
        reread: source != evidence::EvidenceSource::ScanOnly,
    };
    facts.scan = scanned.into_facts(|i| planned[i].found.path.clone());

    // Token evidence: on one machine, for every dictionary the whole set needs it for; on a
    // node, also for every dictionary that claims a range, since a file on another node may
    // claim the same (`facts::finish` keeps exactly the ones the whole set needs). A
    // dictionary's extent count does not depend on table rows; this machine's rows keep the
    // columns' counts as `finish` has them.
    let rows = reconcile::reconcile(&facts.files, &facts.scan, &catalog);
    let extents = place::extent_counts(&facts.files, &facts.scan, &rows);
    let claims = place::lbid::claims(&facts.files, &extents, &catalog.lbids);
    if node {
        facts.packed_evidence =
            evidence::gather_on_node(&planned, &extents, &claims, &catalog, &from_scan);
    } else {
        facts.evidence = evidence::gather(&planned, &extents, &claims, &catalog, &from_scan);
    }
    Ok((facts, catalog))
}

/// Everything before the scan, shared by [`node_facts`] and [`floor_pass`].
pub(crate) struct Prepared {
    planned: Vec<plan::PlannedFile>,
    units: Vec<units::WorkUnit>,
    catalog: catalog::CatalogFacts,
    facts: facts::Facts,
}

/// Walk results by DBRoot (the root that holds each path), catalog, plan and units.
fn prepare(
    opts: &RebuildOptions,
    walked: walk::WalkResult,
    opener: &dyn FileOpener,
    external: Option<(&facts::CatalogPart, &[walk::FoundFile])>,
    keep_catalog: bool,
) -> Result<Prepared, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let dbroot_of = |path: &std::path::Path| {
        opts.dbroots
            .iter()
            .filter(|(_, root)| path.starts_with(root))
            .max_by_key(|(_, root)| root.as_os_str().len())
            .or(opts.dbroots.iter().next())
            .map(|(&id, _)| id)
            .unwrap_or_default()
    };
    let mut facts = facts::Facts {
        machines: vec![opts.dbroots.keys().copied().collect()],
        ..facts::Facts::default()
    };
    for s in walked.skipped {
        facts.skipped.entry(dbroot_of(&s.path)).or_default().push(s);
    }
    for (p, e) in &walked.damaged {
        facts
            .walk_damaged
            .entry(dbroot_of(p))
            .or_default()
            .push(Damaged::new(p.clone(), e));
    }
    facts.found = walked.files.clone();

    let (catalog, part) =
        facts::catalog_stage(&walked.files, opts.access, opener, external, keep_catalog);
    facts.catalog = part;

    let (planned, unplanned) =
        plan::plan_with(walked.files, &catalog, opts.access, opts.string_cp, opener);
    facts.unplanned = unplanned
        .into_iter()
        .map(|u| {
            let outcome = u.why.map_err(|e| Damaged::new(u.found.path.clone(), &e));
            facts::UnplannedFact {
                found: u.found,
                outcome,
            }
        })
        .collect();
    let units = units::for_files(&planned, opts.chunk_mib);
    Ok(Prepared {
        planned,
        units,
        catalog,
        facts,
    })
}

/// [`prepare`] of `opts.dbroots` on the local file system, for the floor passes.
pub(crate) fn prepare_local(opts: &RebuildOptions) -> Result<Prepared, Error> {
    prepare(opts, walk::walk(&opts.dbroots), &LocalFiles, None, false)
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
/// chunk read and decompressed (checksum included) on the current pool, taken in order and read
/// ahead as the scan takes and reads them ([`scan::units_in_order`]), classifying nothing.
pub fn floor_pass(opts: &RebuildOptions) -> Result<FloorResult, Error> {
    use crate::seg::file::{ChunkReader, SegmentFile};
    let p = prepare_local(opts)?;
    let files: Vec<&SegmentFile> = p.planned.iter().map(|f| &f.file).collect();
    let bytes = scan::units_in_order(
        &files,
        &p.units,
        &scan::ReadOptions::default(),
        &|| false,
        || (0u64, ChunkReader::new()),
        |(bytes, reader), i, staged| {
            scan::read_unit(&files, &p.units[i], reader, staged, |_, _, data| {
                *bytes += data.map_or(0, |d| d.len() as u64);
            })
        },
    )
    .into_iter()
    .map(|(bytes, _)| bytes)
    .sum();
    Ok(FloorResult {
        files: p.planned.len(),
        bytes,
    })
}
