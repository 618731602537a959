//! Facts: everything the stages before and including the scan established, as plain values
//! with no open file — what [`super::place`], [`super::checks`] and [`super::report`] work
//! from. A single-machine rebuild builds one [`Facts`] from its own scan; a cluster builds one
//! per node, carries it in a partial ([`super::partial`]) and merges them on the primary
//! ([`Facts::merge`]), then runs the same [`finish`].

use super::catalog::{is_token_file, CatalogFacts, CatalogKind};
use super::checks;
use super::place;
use super::place::era::Eras;
use super::plan::FileFacts;
use super::report::{self, CatalogSummary, Findings, RebuildReport};
use super::scan::ScanFacts;
use super::walk::FoundFile;
use super::Rebuilt;
use crate::catalog::syscat::SyscatExtent;
use crate::catalog::LoadedCatalog;
use crate::em::ExtentMap;
use crate::finding::{
    Accept, CatalogCheck, Damaged, Finding, Inferred, Refusal, Skipped, Unresolved,
};
use crate::types::{DbRootId, Lbid, Oid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What one machine's stages established about its DBRoots, up to and including the scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Every segment file the walk found (planned or not), sorted by (identity, DBRoot).
    pub found: Vec<FoundFile>,
    /// The planned files, sorted by (identity, DBRoot); `scan` refers to them by index.
    pub files: Vec<FileFacts>,
    pub scan: ScanFacts,
    /// Paths that are not segment files, per DBRoot in walk order.
    pub skipped: BTreeMap<DbRootId, Vec<Skipped>>,
    pub damaged: Vec<Damaged>,
    pub unresolved: Vec<Unresolved>,
    /// What the catalog gave (empty on a machine without the catalog's files).
    pub catalog: CatalogPart,
}

/// What the rest of the rebuild needs from the system catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogPart {
    pub summary: CatalogSummary,
    /// The catalog stage's findings (layout, rows).
    pub findings: Vec<Finding>,
    /// Catalog OID → LBID of its first extent (the catalog stage's layout).
    pub lbids: BTreeMap<Oid, Lbid>,
    /// The kinds the catalog's rows give user OIDs (the plan's input on every machine).
    pub kinds: BTreeMap<Oid, CatalogKind>,
    /// What the token checks read after placement.
    pub tokens: TokenInput,
    /// The catalog stage's refusals as if nothing were accepted ([`finish`] marks the ones the
    /// user accepts), so that every machine's flags decide alike.
    pub refused: Vec<Refusal>,
    /// The catalog LBIDs taken from the catalog's tokens (with their token evidence).
    pub inferred: Vec<Inferred>,
    /// The era that created each file's extents (CP).
    pub eras: Eras,
    /// The DBRoot holding the catalog.
    pub dbroot: Option<DbRootId>,
    /// The generation's catalog files that were not found.
    pub missing: Vec<Oid>,
    /// The catalog's replayed layout (where the missing files' extents stay).
    pub layout: Vec<SyscatExtent>,
}

/// The input of the token checks (CAT §3.3), decided before placement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum TokenInput {
    /// No catalog file was found: nothing to check.
    #[default]
    NoCatalog,
    /// A token column or dictionary file could not be loaded: the finding that says so.
    NotChecked(Finding),
    /// The token columns' and dictionaries' files (uncompressed blocks).
    Files(Vec<CatalogFileImage>),
}

/// One catalog file's blocks, as loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogFileImage {
    pub oid: Oid,
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
    /// Stored LZ4-compressed: catalog files are mostly preallocated, empty blocks.
    #[serde(with = "lz4_bytes")]
    pub blocks: Vec<u8>,
}

/// A byte string stored LZ4-compressed (size prepended), for [`CatalogFileImage::blocks`].
mod lz4_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&lz4_flex::compress_prepend_size(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let packed = serde_bytes::ByteBuf::deserialize(d)?;
        super::super::partial::lz4_unpack(&packed).map_err(serde::de::Error::custom)
    }
}

impl CatalogPart {
    /// The catalog stage's result as plain values; the token files are copied out of the
    /// loaded catalog (a few small files).
    pub fn from_facts(facts: &CatalogFacts) -> Self {
        let (summary, findings) = report::catalog_stage(facts);
        let tokens = if facts.loaded.is_empty() {
            TokenInput::NoCatalog
        } else if let Some((_, e)) = facts
            .loaded
            .failed()
            .iter()
            .find(|(&o, _)| is_token_file(o))
        {
            TokenInput::NotChecked(Finding::catalog_not_checked(CatalogCheck::Tokens, e))
        } else {
            TokenInput::Files(
                facts
                    .loaded
                    .to_memory(is_token_file)
                    .into_iter()
                    .map(|(oid, (path, blocks))| CatalogFileImage { oid, path, blocks })
                    .collect(),
            )
        };
        let (refused, inferred) = report::catalog_refusals(facts, &Accept::default());
        CatalogPart {
            summary,
            findings,
            lbids: facts.lbids.clone(),
            kinds: facts.kinds.clone(),
            tokens,
            refused,
            inferred,
            eras: facts.eras.clone(),
            dbroot: facts.dbroot,
            missing: facts.missing.clone(),
            layout: facts.layout.clone(),
        }
    }

    /// Whether any catalog file was found.
    pub fn is_present(&self) -> bool {
        !self.summary.oids.is_empty()
    }

    /// The facts the plan stage reads on a machine without the catalog's files: the kinds the
    /// rows give user OIDs (nothing else of the catalog is used by the plan for user files).
    pub fn plan_facts(&self) -> CatalogFacts {
        CatalogFacts {
            kinds: self.kinds.clone(),
            ..CatalogFacts::default()
        }
    }
}

impl Facts {
    /// One machine's facts from the facts of machines that each walked distinct DBRoots, in
    /// the order a single walk over all of them gives (files by identity then DBRoot); scan
    /// indexes are renumbered. `catalog` is the part of the machine that holds the catalog.
    pub fn merge(parts: Vec<Facts>, catalog: CatalogPart) -> Facts {
        let mut out = Facts {
            catalog,
            ..Facts::default()
        };
        let mut files: Vec<(FileFacts, usize, usize)> = Vec::new();
        let mut scans = Vec::new();
        for (p, part) in parts.into_iter().enumerate() {
            out.found.extend(part.found);
            files.extend(part.files.into_iter().enumerate().map(|(i, f)| (f, p, i)));
            out.skipped.extend(part.skipped);
            out.damaged.extend(part.damaged);
            out.unresolved.extend(part.unresolved);
            scans.push(part.scan);
        }
        out.found.sort_by_key(|f| (f.id, f.dbroot));
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
        }
        out.files = files.into_iter().map(|(f, _, _)| f).collect();
        out
    }
}

/// Place, check and report from the facts: the stages after the scan, the same for a
/// single-machine rebuild and for a cluster's assembled partials: origins → the missing catalog
/// files' extents → place → checks → era inferences. `accept` is what the user accepts
/// knowingly: the refusals ([`Refusal`]) the report marks accepted.
pub fn finish(facts: Facts, accept: &Accept) -> Rebuilt {
    let Facts {
        found,
        files,
        scan,
        skipped,
        damaged,
        unresolved,
        catalog,
    } = facts;
    let mut findings = Findings {
        skipped: skipped.into_values().flatten().collect(),
        damaged,
        unresolved,
        duplicates: super::duplicates(&found),
        catalog: catalog.findings,
        refused: catalog
            .refused
            .into_iter()
            .map(|r| Refusal {
                accepted: r.reason.accepted_by(accept),
                ..r
            })
            .collect(),
        inferred: catalog.inferred,
        ..Findings::default()
    };
    let mut report = RebuildReport {
        catalog: catalog.summary,
        ..RebuildReport::default()
    };
    for f in &files {
        *report.kind_sources.entry(f.source).or_default() += 1;
    }

    let origins = place::era::origins(&files, &scan, &catalog.eras);
    let without_file = CatalogFacts {
        missing: catalog.missing,
        dbroot: catalog.dbroot,
        eras: catalog.eras,
        layout: catalog.layout,
        ..CatalogFacts::default()
    }
    .missing_extents(&files, &origins);
    let placement = place::place(&files, &scan, &catalog.lbids, &origins, without_file);
    findings
        .catalog
        .extend(token_checks(&catalog.tokens, &placement.extents));
    findings
        .inferred
        .extend(place::era::inferences(&files, &origins, &placement.extents));

    findings.reassigned = placement.reassigned;
    findings.uncertain = placement.uncertain;
    report.bytes_scanned = scan.bytes;
    report.files = files.len();
    report.extents = placement.extents.len();
    report.findings = findings.finish();
    Rebuilt {
        map: ExtentMap::from_extents(placement.extents),
        report,
    }
}

fn token_checks(input: &TokenInput, extents: &[crate::em::ExtentRecord]) -> Vec<Finding> {
    match input {
        TokenInput::NoCatalog => Vec::new(),
        TokenInput::NotChecked(f) => vec![f.clone()],
        TokenInput::Files(images) => {
            let loaded = LoadedCatalog::from_memory(
                images
                    .iter()
                    .map(|i| (i.oid, (i.path.clone(), i.blocks.clone())))
                    .collect(),
            );
            checks::catalog_tokens(&loaded, extents)
        }
    }
}
