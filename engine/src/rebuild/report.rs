//! Report: the last stage. What every earlier stage found, gathered into one [`RebuildReport`]
//! of figures and [`Finding`]s in a fixed order, so the report never depends on scheduling.
//! The CLI renders it (text or JSON); the engine never prints.

use super::catalog::{CatalogFacts, LayoutNote};
use super::kind::KindSource;
use crate::catalog::syscat::Generation;
use crate::finding::{
    Accept, CatalogCheck, Damaged, Evidence, Fact, Finding, Inferred, Reassigned, Refusal,
    RefusalReason, Skipped, Strength, Uncertain, Unresolved,
};
use crate::types::{ExtentAddress, Lbid, Oid};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the catalog told the rebuild (its disagreements are findings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CatalogSummary {
    /// Catalog generation found on disk, if any catalog file was found.
    pub generation: Option<Generation>,
    /// Catalog OIDs found.
    pub oids: Vec<Oid>,
    /// Catalog OIDs of the generation whose files were not found.
    pub missing: Vec<Oid>,
    /// First LBID after the catalog's layout.
    pub first_free_lbid: Option<Lbid>,
}

/// Everything a rebuild found: figures and findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebuildReport {
    pub extents: usize,
    pub files: usize,
    pub bytes_scanned: u64,
    pub catalog: CatalogSummary,
    /// How many files had their type from each source: their v3 header, the fixed definition of
    /// the system catalog, or the catalog's rows (v2 headers, uncompressed user tables).
    pub kind_sources: BTreeMap<KindSource, usize>,
    /// Every finding: skipped, damaged, unresolved, duplicate segments, orphans, re-assigned, uncertain,
    /// inferred, refused, what the data cannot tell (status, unreconciled HWMs, reference
    /// conflicts), then the catalog's, in that order.
    pub findings: Vec<Finding>,
}

impl RebuildReport {
    /// Whether the map is complete: nothing damaged and every file understood.
    pub fn is_clean(&self) -> bool {
        self.damaged().next().is_none() && self.unresolved().next().is_none()
    }

    /// How many findings of each kind (by [`Finding::kind`]).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for f in &self.findings {
            *out.entry(f.kind()).or_default() += 1;
        }
        out
    }

    pub fn damaged(&self) -> impl Iterator<Item = &Damaged> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Damaged(d) => Some(d),
            _ => None,
        })
    }

    pub fn skipped(&self) -> impl Iterator<Item = &Skipped> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Skipped(d) => Some(d),
            _ => None,
        })
    }

    pub fn unresolved(&self) -> impl Iterator<Item = &Unresolved> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Unresolved(d) => Some(d),
            _ => None,
        })
    }

    pub fn reassigned(&self) -> impl Iterator<Item = &Reassigned> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Reassigned(d) => Some(d),
            _ => None,
        })
    }

    pub fn uncertain(&self) -> impl Iterator<Item = &Uncertain> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Uncertain(d) => Some(d),
            _ => None,
        })
    }

    pub fn inferred(&self) -> impl Iterator<Item = &Inferred> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Inferred(d) => Some(d),
            _ => None,
        })
    }

    pub fn refusals(&self) -> impl Iterator<Item = &Refusal> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Refused(d) => Some(d),
            _ => None,
        })
    }

    /// The refusals the user did not accept: while there is one, the map must not be written.
    pub fn blocking_refusals(&self) -> impl Iterator<Item = &Refusal> {
        self.refusals().filter(|r| !r.accepted)
    }

    pub fn orphans(&self) -> impl Iterator<Item = &crate::finding::Orphan> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Orphan(d) => Some(d),
            _ => None,
        })
    }

    /// The findings about the system catalog.
    pub fn catalog_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_catalog())
    }
}

/// Findings gathered stage by stage, put in report order by [`Findings::finish`].
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub skipped: Vec<Skipped>,
    pub damaged: Vec<Damaged>,
    pub unresolved: Vec<Unresolved>,
    pub duplicates: Vec<Finding>,
    pub orphans: Vec<Finding>,
    pub reassigned: Vec<Reassigned>,
    pub uncertain: Vec<Uncertain>,
    pub inferred: Vec<Inferred>,
    pub refused: Vec<Refusal>,
    /// What the data cannot tell (status, unreconciled HWMs) and where a reference map
    /// contradicts it.
    pub limits: Vec<Finding>,
    pub catalog: Vec<Finding>,
}

impl Findings {
    pub(crate) fn finish(mut self) -> Vec<Finding> {
        self.damaged
            .sort_by(|a, b| (&a.path, a.offset).cmp(&(&b.path, b.offset)));
        self.unresolved.sort_by(|a, b| a.path.cmp(&b.path));
        let mut out: Vec<Finding> = Vec::new();
        out.extend(self.skipped.into_iter().map(Finding::Skipped));
        out.extend(self.damaged.into_iter().map(Finding::Damaged));
        out.extend(self.unresolved.into_iter().map(Finding::Unresolved));
        out.extend(self.duplicates);
        out.extend(self.orphans);
        out.extend(self.reassigned.into_iter().map(Finding::Reassigned));
        out.extend(self.uncertain.into_iter().map(Finding::Uncertain));
        out.extend(self.inferred.into_iter().map(Finding::Inferred));
        out.extend(self.refused.into_iter().map(Finding::Refused));
        out.extend(self.limits);
        out.extend(self.catalog);
        out
    }
}

/// The catalog's summary and the findings of the catalog stage (layout and rows).
pub(crate) fn catalog_stage(facts: &CatalogFacts) -> (CatalogSummary, Vec<Finding>) {
    let summary = CatalogSummary {
        generation: facts.generation,
        oids: facts.present.iter().copied().collect(),
        missing: facts.missing.clone(),
        first_free_lbid: facts.first_free_lbid(),
    };
    let mut findings = Vec::new();
    match &facts.layout_note {
        Some(LayoutNote::Upgraded {
            original,
            detected,
            added_later,
        }) => findings.push(Finding::CatalogUpgraded {
            original: *original,
            detected: *detected,
            added_later: added_later.clone(),
        }),
        Some(LayoutNote::FitsNoLayout) => findings.push(Finding::CatalogFitsNoLayout),
        Some(LayoutNote::NotChecked(oid)) => {
            if let Some(e) = facts.loaded.failed().get(oid) {
                findings.push(Finding::catalog_not_checked(CatalogCheck::Generation, e));
            }
        }
        None => {}
    }
    match (&facts.rows, facts.load_error()) {
        (Some(rows), _) => findings.extend(
            rows.problems
                .iter()
                .map(|p| Finding::CatalogRow { detail: p.clone() }),
        ),
        (None, Some(e)) => findings.push(Finding::catalog_not_checked(CatalogCheck::Rows, e)),
        (None, None) => {}
    }
    (summary, findings)
}

/// What the catalog stage cannot establish ([`Refusal`]s, each accepted or not by `accept`) and
/// the catalog LBIDs it took from the catalog's tokens instead of the replay ([`Inferred`]).
pub(crate) fn catalog_refusals(
    facts: &CatalogFacts,
    accept: &Accept,
) -> (Vec<Refusal>, Vec<Inferred>) {
    let Some(dbroot) = facts.dbroot else {
        return (Vec::new(), Vec::new());
    };
    let first_extent = |oid: Oid| ExtentAddress {
        oid,
        dbroot,
        partition: 0,
        segment: 0,
        block_offset: 0,
    };
    let refusal = |reason: RefusalReason, oids: &[Oid]| Refusal {
        accepted: reason.accepted_by(accept),
        reason,
        extents: oids.iter().copied().map(first_extent).collect(),
    };
    let mut refusals = Vec::new();
    if !facts.missing.is_empty() {
        refusals.push(refusal(RefusalReason::CatalogFileMissing, &facts.missing));
    }
    if matches!(facts.layout_note, Some(LayoutNote::FitsNoLayout)) {
        refusals.push(refusal(
            RefusalReason::CatalogLayoutContradicted,
            &facts.contradicted,
        ));
    }
    let inferred = facts
        .token_starts
        .iter()
        .map(|(&dict, &lbid)| {
            let (tokens, blocks) = facts.token_evidence(dict);
            Inferred {
                extent: first_extent(dict),
                fact: Fact::Lbid,
                value: lbid.0,
                evidence: Evidence::Tokens {
                    tokens,
                    blocks,
                    contradicting: 0,
                },
                strength: Strength::Exact,
            }
        })
        .collect();
    (refusals, inferred)
}
