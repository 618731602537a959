//! Orphans: planned files whose OID the catalog's rows do not list as live.
//!
//! Runs after plan, before the scan. ColumnStore removes a dropped table's files (DROP TABLE,
//! CAT §6), so a user file whose OID is neither a live column, a live column's dictionary nor a
//! table's AUX column (SYSCOLUMN/SYSTABLE rows, CAT §5) is a leftover or a copy: its extents
//! would take LBID ranges — possibly a live dictionary's — that no token of a live column
//! points into. Such files are reported and left out, unless the caller keeps them
//! (`include`). When the catalog's rows could not be read, or a catalog file of its generation
//! is missing (the rows may then lack live OIDs: without SYSTABLE.auxcolumnoid no AUX column is
//! known), no OID is known to be dead: every file is kept, and the report says that the check
//! did not run.
//!
//! The other way round ([`missing_live`]): a live table whose column, dictionary or AUX OID has
//! no file on any DBRoot rebuilt is refused — an unmounted volume looks like an empty folder.

use super::catalog::CatalogFacts;
use super::plan::FileFacts;
use crate::catalog::syscat;
use crate::finding::{Accept, Finding, Orphan, Refusal, RefusalReason};
use crate::types::Oid;
use std::collections::BTreeSet;

/// Split `planned` into the files to place and the findings about orphans.
pub fn split(
    planned: Vec<FileFacts>,
    catalog: &CatalogFacts,
    include: bool,
) -> (Vec<FileFacts>, Vec<Finding>) {
    let user_files = planned
        .iter()
        .filter(|p| !syscat::is_syscat_oid(p.found.id.oid))
        .count();
    // Rows read without every catalog file of the generation may miss live OIDs (without
    // SYSTABLE.auxcolumnoid no AUX column is known): then no OID is known to be dead.
    let rows = catalog.rows.as_ref().filter(|_| catalog.missing.is_empty());
    let Some(rows) = rows else {
        let findings = if user_files > 0 {
            vec![Finding::OrphansNotChecked { files: user_files }]
        } else {
            Vec::new()
        };
        return (planned, findings);
    };
    let live = rows.file_oids();
    let mut kept = Vec::with_capacity(planned.len());
    let mut findings = Vec::new();
    for p in planned {
        let oid = p.found.id.oid;
        if syscat::is_syscat_oid(oid) || live.contains(&oid) {
            kept.push(p);
            continue;
        }
        findings.push(Finding::Orphan(Orphan {
            path: p.found.path.clone(),
            segment: p.found.id,
            dbroot: p.found.dbroot,
            kept: include,
        }));
        if include {
            kept.push(p);
        }
    }
    (kept, findings)
}

/// The other side of the same comparison: live tables (SYSTABLE/SYSCOLUMN rows, CAT §5) with a
/// column, dictionary or AUX OID of which no file was found on the DBRoots rebuilt (`found`:
/// the OIDs of every segment file the walk found, damaged or not). One refusal per table.
///
/// Missing catalog files only hide live OIDs (no AUX column without SYSTABLE.auxcolumnoid),
/// never invent one, so the check runs on whatever rows were read; without rows it cannot run,
/// and the rebuild is refused for the catalog anyway.
pub fn missing_live(
    found: &BTreeSet<Oid>,
    catalog: &CatalogFacts,
    accept: &Accept,
) -> Vec<Refusal> {
    let Some(rows) = catalog.rows.as_ref() else {
        return Vec::new();
    };
    rows.tables
        .iter()
        .filter_map(|t| {
            let oids: Vec<Oid> = t
                .columns
                .iter()
                .flat_map(|c| std::iter::once(c.oid).chain(c.dict_oid))
                .chain(t.aux_oid)
                .filter(|oid| !found.contains(oid))
                .collect();
            (!oids.is_empty()).then(|| {
                let reason = RefusalReason::LiveFilesMissing {
                    table: t.table_oid,
                    name: format!("{}.{}", t.schema, t.name),
                    oids,
                };
                Refusal {
                    accepted: reason.accepted_by(accept),
                    reason,
                    extents: Vec::new(),
                }
            })
        })
        .collect()
}
