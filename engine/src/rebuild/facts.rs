//! Facts: everything the stages that read files established, as plain values with no open
//! file — what [`finish`] (orphans, table rows, token decisions, place, checks, report) works
//! from. A single-machine rebuild builds one [`Facts`] from its own scan; a cluster builds one
//! per node, carries it in a partial ([`super::partial`]) and merges them on the primary
//! ([`Facts::merge`]), then runs the same [`finish`].
//!
//! What stays on the node is what needs the open files: walk, catalog files' bytes, plan, scan,
//! and the token evidence of dictionaries ([`super::evidence`]). A node gathers evidence for
//! every dictionary the primary may need it for: an extent whose LBID its header does not
//! settle, and every claim — whether another node's file claims the same range is seen on the
//! primary only ([`super::evidence::gather_on_node`], each dictionary's evidence packed as
//! soon as it is gathered). [`finish`] keeps exactly the evidence one machine reading every
//! DBRoot gathers, so that the token decisions and the report are the same: a dictionary's
//! evidence reads the dictionary file and its token column's file on the same DBRoot, so it is
//! the same value on its node as on one machine.
//!
//! The owning token column a dictionary's evidence reads lives on the dictionary's DBRoot:
//! ColumnStore creates a dictionary store file for the (DBRoot, partition, segment) of the
//! column file it belongs to (`writeengine/wrapper/writeengine.cpp:1436-1457`,
//! `writeengine/bulk/we_columninfo.cpp:424`). A token file found only on another machine's
//! DBRoot (a copy), which the dictionary's node cannot read, is refused, naming both files.
//!
//! Everything that needs the whole cluster or the catalog's rows runs in [`finish`]: the catalog
//! stage again from the catalog files' bytes (so that its refusals follow the primary's accept
//! flags), orphans, table rows and HWM reconciliation, LBID claims and token decisions, LBID
//! conflicts, the reference map. Files of OIDs the catalog does not list as live are scanned
//! too (whether they are kept is the primary's `--include-orphans`); [`finish_with`] drops them
//! with their scan results and chunk errors. A single machine runs [`finish_with`] with the
//! catalog facts it loaded; [`finish`] loads them again from the bytes a partial carries.

use super::catalog::CatalogFacts;
use super::evidence::{self, DictEvidence, PackedEvidence};
use super::place;
use super::plan::FileFacts;
use super::report::{self, Findings, RebuildReport};
use super::scan::ScanFacts;
use super::walk::FoundFile;
use super::{orphans, reconcile, RebuildOptions, Rebuilt};
use crate::em::ExtentMap;
use crate::error::Error;
use crate::finding::{Damaged, Finding, Skipped, Unresolved, UnresolvedReason};
use crate::seg::file::{Access, FileBytes, FileOpener, SegmentFile};
use crate::types::{DbRootId, SegmentId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What one machine's stages established about its DBRoots, from the walk to the evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Every segment file the walk found (planned or not), sorted by (identity, DBRoot).
    pub found: Vec<FoundFile>,
    /// The planned files, sorted by (identity, DBRoot); `scan` and `evidence` refer to them by
    /// index.
    pub files: Vec<FileFacts>,
    pub scan: ScanFacts,
    /// Paths that are not segment files, per DBRoot in walk order.
    pub skipped: BTreeMap<DbRootId, Vec<Skipped>>,
    /// Paths the walk could not read, per DBRoot in walk order.
    pub walk_damaged: BTreeMap<DbRootId, Vec<Damaged>>,
    /// Files the plan could not take: unreadable (damaged) or of unknown kind, by (identity,
    /// DBRoot).
    pub unplanned: Vec<UnplannedFact>,
    /// The system catalog's files as read (empty on a machine without them).
    pub catalog: CatalogPart,
    /// Token evidence of the dictionaries that need it, as one machine gathers it.
    pub evidence: Vec<DictEvidence>,
    /// Token evidence of the dictionaries that may need it, as a cluster's node gathers it
    /// (see the module documentation): [`finish`] unpacks the ones needed.
    pub packed_evidence: Vec<PackedEvidence>,
    /// The DBRoots of each machine that scanned (one set on a single machine).
    pub machines: Vec<BTreeSet<DbRootId>>,
}

/// A file the plan could not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnplannedFact {
    pub found: FoundFile,
    /// Why: its kind is unknown, or it could not be read.
    pub outcome: Result<UnresolvedReason, Damaged>,
}

/// The system catalog's files as one machine read them: the catalog stage runs again from
/// these bytes on any machine ([`CatalogPart::facts`]) and finds what it found there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPart {
    pub reads: Vec<CatalogRead>,
}

/// One catalog file: its bytes, or the error reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRead {
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
    pub bytes: Result<Lz4Bytes, CarriedError>,
}

/// A byte string kept LZ4-compressed (size prepended), in memory and in a partial: catalog
/// files are mostly preallocated, empty blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lz4Bytes(Vec<u8>);

impl Lz4Bytes {
    pub fn pack(bytes: &[u8]) -> Self {
        Lz4Bytes(lz4_flex::compress_prepend_size(bytes))
    }

    /// The bytes (checked when the partial was read).
    pub fn unpack(&self) -> Vec<u8> {
        super::partial::lz4_unpack(&self.0).unwrap_or_default()
    }

    /// The compressed form.
    pub fn packed(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Lz4Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Lz4Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let packed = serde_bytes::ByteBuf::deserialize(d)?.into_vec();
        super::partial::lz4_unpack(&packed).map_err(serde::de::Error::custom)?;
        Ok(Lz4Bytes(packed))
    }
}

/// An [`Error`] as the machine that met it reports it ([`Error::Carried`] again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedError {
    pub kind: crate::error::ErrorKind,
    pub offset: Option<u64>,
    pub detail: String,
}

impl CatalogPart {
    /// Whether any catalog file was found.
    pub fn is_present(&self) -> bool {
        !self.reads.is_empty()
    }

    /// The catalog stage's facts from these bytes; `found` are the files the walk found (the
    /// catalog's among them).
    pub fn facts(&self, found: &[FoundFile]) -> CatalogFacts {
        super::catalog::load_with(found, Access::Read, self)
    }

    /// Run the catalog stage on the files among `found`, reading through `opener`, and keep
    /// what was read.
    fn load(
        found: &[FoundFile],
        access: Access,
        opener: &dyn FileOpener,
    ) -> (CatalogFacts, CatalogPart) {
        let recording = Recording {
            inner: opener,
            reads: Mutex::new(Vec::new()),
        };
        let facts = super::catalog::load_with(found, access, &recording);
        let mut reads = recording
            .reads
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        reads.sort_by(|a, b| a.path.cmp(&b.path));
        (facts, CatalogPart { reads })
    }
}

/// The catalog files' bytes as a [`FileOpener`] (the catalog stage only loads whole files).
impl FileOpener for CatalogPart {
    fn load(&self, path: &Path, _access: Access) -> Result<FileBytes, Error> {
        match self.reads.iter().find(|r| r.path == path).map(|r| &r.bytes) {
            Some(Ok(bytes)) => Ok(FileBytes::from(bytes.unpack())),
            Some(Err(e)) => Err(Error::Carried {
                path: path.to_path_buf(),
                kind: e.kind,
                offset: e.offset,
                detail: e.detail.clone(),
            }),
            None => Err(Error::Carried {
                path: path.to_path_buf(),
                kind: crate::error::ErrorKind::Io,
                offset: None,
                detail: "not read on the machine that holds it".into(),
            }),
        }
    }

    fn open_segment(
        &self,
        path: &Path,
        _access: Access,
        _max_len: Option<u64>,
    ) -> Result<SegmentFile, Error> {
        Err(Error::Usage(format!(
            "{}: a catalog part holds whole catalog files only",
            path.display()
        )))
    }
}

/// A [`FileOpener`] that keeps a copy of every whole file it loads.
struct Recording<'a> {
    inner: &'a dyn FileOpener,
    reads: Mutex<Vec<CatalogRead>>,
}

impl FileOpener for Recording<'_> {
    fn load(&self, path: &Path, access: Access) -> Result<FileBytes, Error> {
        let loaded = self.inner.load(path, access);
        let bytes = match &loaded {
            Ok(b) => Ok(Lz4Bytes::pack(b)),
            Err(e) => Err(CarriedError {
                kind: e.kind(),
                offset: e.offset(),
                detail: e.detail(),
            }),
        };
        let read = CatalogRead {
            path: path.to_path_buf(),
            bytes,
        };
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(read);
        loaded
    }

    fn open_segment(
        &self,
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<SegmentFile, Error> {
        self.inner.open_segment(path, access, max_len)
    }

    fn will_need(&self, path: &Path) {
        self.inner.will_need(path);
    }
}

/// The catalog stage on one machine: its own catalog files (and, when `keep` is set, their
/// bytes), or, on a machine without any, the catalog facts of `external` (the part of the
/// machine that holds them, with the files that machine found).
pub(crate) fn catalog_stage(
    found: &[FoundFile],
    access: Access,
    opener: &dyn FileOpener,
    external: Option<(&CatalogPart, &[FoundFile])>,
    keep: bool,
) -> (CatalogFacts, CatalogPart) {
    let (facts, part) = if keep {
        CatalogPart::load(found, access, opener)
    } else {
        let facts = super::catalog::load_with(found, access, opener);
        (facts, CatalogPart::default())
    };
    match external {
        Some((other, other_found)) if facts.present.is_empty() => (other.facts(other_found), part),
        _ => (facts, part),
    }
}

impl Facts {
    /// One machine's facts from the facts of machines that each walked distinct DBRoots, in
    /// the order a single walk over all of them gives (files by identity then DBRoot); file
    /// indexes are renumbered. `catalog` is the part of the machine that holds the catalog.
    pub fn merge(parts: Vec<Facts>, catalog: CatalogPart) -> Facts {
        let mut out = Facts {
            catalog,
            ..Facts::default()
        };
        let mut files: Vec<(FileFacts, usize, usize)> = Vec::new();
        let mut scans = Vec::new();
        let mut evidence = Vec::new();
        let mut packed = Vec::new();
        for (p, part) in parts.into_iter().enumerate() {
            out.found.extend(part.found);
            files.extend(part.files.into_iter().enumerate().map(|(i, f)| (f, p, i)));
            out.skipped.extend(part.skipped);
            out.walk_damaged.extend(part.walk_damaged);
            out.unplanned.extend(part.unplanned);
            out.machines.extend(part.machines);
            evidence.extend(part.evidence.into_iter().map(|e| (p, e)));
            packed.extend(part.packed_evidence.into_iter().map(|e| (p, e)));
            scans.push(part.scan);
        }
        out.found.sort_by_key(|f| (f.id, f.dbroot));
        out.unplanned.sort_by_key(|u| (u.found.id, u.found.dbroot));
        files.sort_by_key(|(f, _, _)| (f.found.id, f.found.dbroot));
        let index: BTreeMap<(usize, usize), usize> = files
            .iter()
            .enumerate()
            .map(|(new, (_, p, i))| ((*p, *i), new))
            .collect();
        for (p, scan) in scans.into_iter().enumerate() {
            out.scan.bytes += scan.bytes;
            for ((i, k), s) in scan.stats {
                out.scan.stats.insert((index[&(p, i)], k), s);
            }
            for (i, c) in scan.damaged {
                out.scan.damaged.insert((index[&(p, i)], c));
            }
            for ((i, c), blocks) in scan.short {
                out.scan.short.insert((index[&(p, i)], c), blocks);
            }
            out.scan
                .errors
                .extend(scan.errors.into_iter().map(|(i, d)| (index[&(p, i)], d)));
        }
        // Stable: each file's chunk errors keep their chunk order.
        out.scan.errors.sort_by_key(|(i, _)| *i);
        out.evidence = evidence
            .into_iter()
            .map(|(p, e)| DictEvidence {
                file: index[&(p, e.file)],
                ..e
            })
            .collect();
        out.evidence.sort_by_key(|e| e.file);
        out.packed_evidence = packed
            .into_iter()
            .map(|(p, mut e)| {
                e.file = index[&(p, e.file)];
                e
            })
            .collect();
        out.packed_evidence.sort_by_key(|e| e.file);
        out.files = files.into_iter().map(|(f, _, _)| f).collect();
        out
    }

    /// Paths found damaged so far: by the walk, the plan, or a chunk the scan could not read.
    pub fn damaged_paths(&self) -> usize {
        let chunks: BTreeSet<usize> = self.scan.errors.iter().map(|(i, _)| *i).collect();
        self.walk_damaged.values().map(Vec::len).sum::<usize>()
            + self.unplanned.iter().filter(|u| u.outcome.is_err()).count()
            + chunks.len()
    }

    /// Files of unknown kind.
    pub fn unresolved(&self) -> usize {
        self.unplanned.iter().filter(|u| u.outcome.is_ok()).count()
    }

    /// The same facts without the files `keep` rejects (scan and evidence renumbered).
    fn retain_files(&mut self, keep: impl Fn(&FileFacts) -> bool) {
        let mut new_index = Vec::with_capacity(self.files.len());
        let mut n = 0;
        for f in &self.files {
            new_index.push(keep(f).then(|| {
                n += 1;
                n - 1
            }));
        }
        let files = std::mem::take(&mut self.files);
        self.files = files.into_iter().filter(|f| keep(f)).collect();
        let scan = std::mem::take(&mut self.scan);
        self.scan = ScanFacts {
            stats: scan
                .stats
                .into_iter()
                .filter_map(|((i, k), s)| Some(((new_index[i]?, k), s)))
                .collect(),
            damaged: scan
                .damaged
                .into_iter()
                .filter_map(|(i, c)| Some((new_index[i]?, c)))
                .collect(),
            errors: scan
                .errors
                .into_iter()
                .filter_map(|(i, d)| Some((new_index[i]?, d)))
                .collect(),
            short: scan
                .short
                .into_iter()
                .filter_map(|((i, c), b)| Some(((new_index[i]?, c), b)))
                .collect(),
            bytes: scan.bytes,
        };
        self.evidence = std::mem::take(&mut self.evidence)
            .into_iter()
            .filter_map(|e| {
                Some(DictEvidence {
                    file: new_index[e.file]?,
                    ..e
                })
            })
            .collect();
        self.packed_evidence = std::mem::take(&mut self.packed_evidence)
            .into_iter()
            .filter_map(|mut e| {
                e.file = new_index[e.file]?;
                Some(e)
            })
            .collect();
    }
}

/// The stages after the scan for a cluster's assembled partials: the catalog stage again, from
/// the catalog files' bytes the facts carry, then [`finish_with`].
pub fn finish(facts: Facts, opts: &RebuildOptions) -> Result<Rebuilt, Error> {
    let catalog = facts.catalog.facts(&facts.found);
    finish_with(facts, catalog, opts)
}

/// The stages after the scan, the same for a single-machine rebuild and for a cluster's
/// assembled partials, given the catalog stage's facts: → orphans → table
/// rows → era origins → LBID claims → token decisions → place (reference included) → checks →
/// report. `opts` gives what the user accepts knowingly (`accept`, `include_orphans`) and the
/// reference map; the scan options are the nodes'.
pub fn finish_with(
    mut facts: Facts,
    catalog: CatalogFacts,
    opts: &RebuildOptions,
) -> Result<Rebuilt, Error> {
    // Files the walk found damaged (a directory or a symbolic-link loop under a segment file's
    // name) are reported as damaged, which `--allow-damaged` accepts: they are not missing.
    let found: BTreeSet<crate::types::Oid> = facts
        .found
        .iter()
        .map(|f| f.id.oid)
        .chain(
            facts
                .walk_damaged
                .values()
                .flatten()
                .filter_map(|d| crate::seg::path::parse_segment_path(&d.path).ok())
                .map(|id| id.oid),
        )
        .collect();
    let mut report = RebuildReport::default();
    let mut findings = Findings {
        skipped: std::mem::take(&mut facts.skipped)
            .into_values()
            .flatten()
            .collect(),
        duplicates: super::duplicates(&facts.found),
        ..Findings::default()
    };
    findings.damaged.extend(
        std::mem::take(&mut facts.walk_damaged)
            .into_values()
            .flatten(),
    );
    let (summary, catalog_findings) = report::catalog_stage(&catalog);
    report.catalog = summary;
    findings.catalog = catalog_findings;
    let (refused, inferred) = report::catalog_refusals(&catalog, &opts.accept);
    findings.refused.extend(refused);
    findings.inferred.extend(inferred);

    findings
        .refused
        .extend(orphans::missing_live(&found, &catalog, &opts.accept));
    let (kept, orphans) = orphans::split(facts.files.clone(), &catalog, opts.include_orphans);
    findings.orphans = orphans;
    let kept: BTreeSet<(SegmentId, DbRootId)> =
        kept.iter().map(|f| (f.found.id, f.found.dbroot)).collect();
    facts.retain_files(|f| kept.contains(&(f.found.id, f.found.dbroot)));
    let Facts {
        files,
        scan,
        unplanned,
        evidence,
        packed_evidence,
        machines,
        ..
    } = facts;

    for f in &files {
        *report.kind_sources.entry(f.source).or_default() += 1;
    }
    for u in unplanned {
        match u.outcome {
            Err(damaged) => findings.damaged.push(damaged),
            Ok(reason) => findings.unresolved.push(Unresolved {
                path: u.found.path,
                oid: u.found.id.oid,
                reason,
            }),
        }
    }
    for (_, damaged) in &scan.errors {
        // Chunks that fail for one cause (a missing StorageManager object under several
        // chunks) are one finding.
        if findings.damaged.last() != Some(damaged) {
            findings.damaged.push(damaged.clone());
        }
    }

    let rows = reconcile::reconcile(&files, &scan, &catalog);
    let origins = place::era::origins(&files, &scan, &catalog.eras);
    let without_file = catalog.missing_extents(&files, &origins);
    let extents = place::extent_counts(&files, &scan, &rows);
    let claims = place::lbid::claims(&files, &extents, &catalog.lbids);
    let gathered = Gathered {
        plain: evidence,
        packed: packed_evidence,
    };
    let evidence = needed_evidence(&files, &extents, &claims, gathered, &machines, &catalog)?;
    let reference = opts
        .reference
        .as_ref()
        .map(place::reference::Reference::new);
    let decided =
        place::tokens::decide(&files, &claims, &evidence, reference.as_ref(), &opts.accept);
    findings.inferred.extend(decided.inferred);
    findings.refused.extend(decided.refused);
    let placement = place::place(
        &files,
        &scan,
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
        .extend(super::checks::catalog_tokens(&catalog, &placement.extents));

    let (inferred, refused) = reconcile::findings(&rows, &placement.extents, &opts.accept);
    findings.inferred.extend(inferred);
    findings.refused.extend(refused);
    findings.limits = limits(&rows, &placement);
    findings.inferred.extend(placement.from_reference.inferred);
    findings
        .inferred
        .extend(place::era::inferences(&files, &origins, &placement.extents));
    findings.reassigned = placement.reassigned;
    findings.uncertain = placement.uncertain;
    report.bytes_scanned = scan.bytes;
    report.files = files.len();
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

/// Token evidence as gathered: as is on one machine, packed on a cluster's nodes.
struct Gathered {
    plain: Vec<DictEvidence>,
    packed: Vec<PackedEvidence>,
}

/// The evidence of exactly the dictionaries [`evidence::wanted`] names for the whole set of
/// files (the nodes gathered a superset), or an error when a node could not gather one: it is
/// not in the node's facts (facts built otherwise than by [`super::scan_facts`]), or its token
/// file is on another machine.
fn needed_evidence(
    files: &[FileFacts],
    extents: &[u32],
    claims: &[place::lbid::Claim],
    gathered: Gathered,
    machines: &[BTreeSet<DbRootId>],
    catalog: &CatalogFacts,
) -> Result<Vec<DictEvidence>, Error> {
    let machine_of = |d: DbRootId| machines.iter().position(|m| m.contains(&d));
    let mut plain: BTreeMap<usize, DictEvidence> =
        gathered.plain.into_iter().map(|e| (e.file, e)).collect();
    let packed: BTreeMap<usize, PackedEvidence> =
        gathered.packed.into_iter().map(|e| (e.file, e)).collect();
    let owners = evidence::owners(catalog);
    let mut out = Vec::new();
    for i in evidence::wanted(files, extents, claims) {
        let dict = &files[i].found;
        let e = match (plain.remove(&i), packed.get(&i)) {
            (Some(e), _) => Some(e),
            (None, Some(p)) => Some(
                p.unpack()
                    .map_err(|e| Error::Usage(format!("{}: {e}", dict.path.display())))?,
            ),
            (None, None) => None,
        };
        let Some(e) = e else {
            let others: Vec<String> = place::lbid::overlapping(claims)
                .into_iter()
                .filter(|g| g.iter().any(|c| c.file == i))
                .flatten()
                .filter(|c| c.file != i)
                .map(|c| files[c.file].found.path.display().to_string())
                .collect();
            let why = if others.is_empty() {
                "its LBIDs are not all recorded".to_owned()
            } else {
                format!("its LBIDs overlap those of {}", others.join(", "))
            };
            return Err(Error::Usage(format!(
                "{}: its token evidence is not in the facts of its node (DBRoot {}), and {why}; \
                 scan that node again with this emrebuild",
                dict.path.display(),
                dict.dbroot,
            )));
        };
        // The token file the evidence stage reads: the one on the dictionary's DBRoot, else
        // the first found (super::evidence::gather).
        for col in owners.get(&dict.id.oid).into_iter().flatten() {
            let mut candidates = files.iter().filter(|f| {
                f.found.id.oid == *col
                    && f.found.id.partition == dict.id.partition
                    && f.found.id.segment == dict.id.segment
            });
            let first = candidates.clone().next();
            let token = candidates.find(|f| f.found.dbroot == dict.dbroot).or(first);
            if let Some(t) = token {
                if machine_of(t.found.dbroot) != machine_of(dict.dbroot) {
                    return Err(Error::Usage(format!(
                        "{}: the tokens pointing into it are in {} (DBRoot {}), on another \
                         node than the dictionary (DBRoot {}); rebuild on one machine that \
                         reads both",
                        dict.path.display(),
                        t.found.path.display(),
                        t.found.dbroot,
                        dict.dbroot
                    )));
                }
            }
        }
        out.push(e);
    }
    Ok(out)
}
