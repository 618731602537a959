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

use super::catalog::CatalogFacts;
use super::plan::FileFacts;
use crate::catalog::syscat;
use crate::finding::{Finding, Orphan};

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
