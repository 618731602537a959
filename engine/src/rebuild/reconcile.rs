//! Reconcile: the rows each table holds in each (partition, segment), agreed across its column
//! files. Runs after the scan and before place; its result ([`TableRows`]) is a plain value.
//!
//! **Why.** Every column of a table holds the same rows in each (partition, segment): row *r*
//! sits in block ⌊*r* × width / 8192⌋ of every column file (cpimport starts each job at the block
//! after the narrowest column's HWM, scaled by width, SEG §3.8; `ALTER TABLE … ADD COLUMN` fills
//! the new column up to the reference column's last row, `writeengine/wrapper/we_colop.cpp:939-952`).
//! cpimport refuses to load when the HWMs disagree: equal for equal widths, and within one
//! wider block of the narrow HWM scaled up (`writeengine/bulk/we_tableinfo.cpp:72-90`,
//! `2000-2144`, `ERR_BRM_HWMS_NOT_EQUAL`); the AUX column is one of the job's columns
//! (`writeengine/bulk/we_bulkload.cpp:376-386`). So the HWM of each column file is taken from the
//! table's row count, not from the file alone.
//!
//! **What the data shows.**
//! * A plain DELETE writes EMPTY into every column, AUX included, and never lowers an HWM
//!   (`writeengine/wrapper/writeengine.cpp:1021-1095`: `deleteRow` writes the EMPTY value through
//!   `updateColumnRec`; no `setLocalHWM`/`bulkSetHWM` on that path). After a DELETE of a table's
//!   last rows the files hold EMPTY where ColumnStore's map still counts rows, and nothing on disk
//!   tells those rows from rows never written: the data cannot recover that HWM. The rebuild puts
//!   the HWM at the last row any column still holds — lower than ColumnStore's, the same for
//!   every column, covering every live row (the blocks above hold only EMPTY rows, which the next
//!   load or INSERT overwrites, as it would have).
//! * FastDelete (22.08+, `FastDelete=y`) writes EMPTY into the AUX column only
//!   (`writeengine.cpp:4625-4651`, flag at 4629). After a FastDelete of the last rows the data
//!   columns still hold them and AUX does not: AUX gets the table's HWM (reported as an
//!   inference, [`Evidence::TableRows`](crate::finding::Evidence::TableRows)), which is what
//!   ColumnStore's map holds.
//! * A data column holding fewer rows than its table (a truncated or damaged file) is a
//!   refusal ([`RefusalReason::ColumnRowsDisagree`](crate::finding::RefusalReason)): neither its own
//!   HWM (inconsistent) nor the table's (its missing rows read as EMPTY) is right.
//!
//! Table membership comes from the catalog's rows (SYSCOLUMN joined to SYSTABLE, SYSTABLE
//! `auxcolumnoid`). A column file no table lists (the rows could not be read, a SYSCOLUMN row
//! lost its table, an OID the catalog does not know) keeps its own HWM, and the report says how
//! many there are, once ([`Finding::HwmNotReconciled`](crate::finding::Finding)). Files with an unreadable chunk
//! keep their own (damage-covering) HWM and take no part in the count.

use super::catalog::CatalogFacts;
use super::plan::FileFacts;
use super::scan::ScanFacts;
use crate::em::ExtentRecord;
use crate::finding::{Accept, Evidence, Fact, Inferred, Refusal, RefusalReason, Strength};
use crate::types::{DbRootId, Oid};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One column file's own row count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRows {
    pub oid: Oid,
    pub dbroot: DbRootId,
    /// The table's AUX column.
    pub aux: bool,
    /// The last non-EMPTY row of the file plus one (0: none).
    pub rows: u64,
}

/// The rows of one table in one (partition, segment), with what each column file showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRows {
    pub table: Oid,
    pub partition: u32,
    pub segment: u16,
    /// The table's rows: the most any column file holds (the last row some column holds, + 1).
    pub rows: u64,
    pub columns: Vec<ColumnRows>,
}

impl SegmentRows {
    /// Data columns (not AUX) holding fewer rows than the table.
    pub fn short_columns(&self) -> impl Iterator<Item = &ColumnRows> {
        self.columns
            .iter()
            .filter(move |c| !c.aux && c.rows < self.rows)
    }
}

/// What the reconciliation established, before placing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    /// Per table, per (partition, segment), in that order.
    pub segments: Vec<SegmentRows>,
    /// Column files whose table the catalog's rows do not give (the rows could not be read, or
    /// no table lists the file's OID): their HWMs are their own.
    pub unreconciled_files: usize,
}

impl TableRows {
    /// The table's row count for the column file `(oid, partition, segment)`, when reconciled.
    pub fn rows_of(&self, oid: Oid, partition: u32, segment: u16) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| {
                s.partition == partition
                    && s.segment == segment
                    && s.columns.iter().any(|c| c.oid == oid)
            })
            .map(|s| s.rows)
    }

    /// An index for [`TableRows::rows_of`] when many files are looked up.
    pub fn index(&self) -> BTreeMap<(Oid, u32, u16), u64> {
        self.segments
            .iter()
            .flat_map(|s| {
                s.columns
                    .iter()
                    .map(move |c| ((c.oid, s.partition, s.segment), s.rows))
            })
            .collect()
    }
}

/// Count the rows of every table's (partition, segment) from the scan.
pub fn reconcile(files: &[FileFacts], scan: &ScanFacts, catalog: &CatalogFacts) -> TableRows {
    let is_column = |pf: &FileFacts| {
        pf.kind.em_width() > 0 && !crate::catalog::syscat::is_syscat_oid(pf.found.id.oid)
    };
    let Some(rows) = &catalog.rows else {
        return TableRows {
            segments: Vec::new(),
            unreconciled_files: files.iter().filter(|pf| is_column(pf)).count(),
        };
    };
    // column OID → (table OID, is AUX)
    let mut table_of: BTreeMap<Oid, (Oid, bool)> = BTreeMap::new();
    for t in &rows.tables {
        for c in &t.columns {
            table_of.insert(c.oid, (t.table_oid, false));
        }
        if let Some(a) = t.aux_oid {
            table_of.insert(a, (t.table_oid, true));
        }
    }
    let damaged: BTreeSet<usize> = scan.damaged.iter().map(|&(file, _)| file).collect();
    let mut groups: BTreeMap<(Oid, u32, u16), Vec<ColumnRows>> = BTreeMap::new();
    let mut unreconciled_files = 0;
    for (i, pf) in files.iter().enumerate() {
        let id = pf.found.id;
        if !is_column(pf) {
            continue;
        }
        let Some(&(table, aux)) = table_of.get(&id.oid) else {
            // No table lists it: a SYSCOLUMN row without its SYSTABLE row, a damaged row, or a
            // file the catalog does not know.
            unreconciled_files += 1;
            continue;
        };
        if damaged.contains(&i) {
            continue;
        }
        let last = scan
            .stats
            .range((i, 0)..(i + 1, 0))
            .filter_map(|(_, s)| s.last_row)
            .max();
        groups
            .entry((table, id.partition, id.segment))
            .or_default()
            .push(ColumnRows {
                oid: id.oid,
                dbroot: pf.found.dbroot,
                aux,
                rows: last.map_or(0, |r| r + 1),
            });
    }
    let segments = groups
        .into_iter()
        .map(|((table, partition, segment), mut columns)| {
            columns.sort_by_key(|c| (c.oid, c.dbroot));
            SegmentRows {
                table,
                partition,
                segment,
                rows: columns.iter().map(|c| c.rows).max().unwrap_or(0),
                columns,
            }
        })
        .collect();
    TableRows {
        segments,
        unreconciled_files,
    }
}

/// The findings of the reconciliation, once extents are placed: an inference for each AUX column
/// whose HWM the table's rows raised (FastDelete of the last rows), a refusal for each data column
/// holding fewer rows than its table. `extents` are the placed extents; the HWM is on each file's
/// last extent.
pub fn findings(
    rows: &TableRows,
    extents: &[ExtentRecord],
    accept: &Accept,
) -> (Vec<Inferred>, Vec<Refusal>) {
    let mut last: BTreeMap<(Oid, DbRootId, u32, u16), &ExtentRecord> = BTreeMap::new();
    for e in extents {
        let k = (e.oid, e.dbroot, e.partition, e.segment);
        if last.get(&k).is_none_or(|p| p.block_offset < e.block_offset) {
            last.insert(k, e);
        }
    }
    let mut inferred = Vec::new();
    let mut refused = Vec::new();
    for s in &rows.segments {
        let agreeing = s.columns.iter().filter(|c| c.rows == s.rows).count() as u64;
        let consistent = s.short_columns().next().is_none();
        for c in &s.columns {
            if c.rows == s.rows {
                continue;
            }
            let Some(rec) = last.get(&(c.oid, c.dbroot, s.partition, s.segment)) else {
                continue;
            };
            if c.aux {
                if hwm_for_rows(c.rows, 1) == Some(rec.hwm) {
                    continue; // the same block either way
                }
                inferred.push(Inferred {
                    extent: rec.address(),
                    fact: Fact::Hwm,
                    value: i64::from(rec.hwm),
                    evidence: Evidence::TableRows {
                        table: s.table,
                        rows: s.rows,
                        column_rows: c.rows,
                        columns: agreeing,
                    },
                    strength: if consistent {
                        Strength::Exact
                    } else {
                        Strength::Weak
                    },
                });
            } else {
                let reason = RefusalReason::ColumnRowsDisagree {
                    table: s.table,
                    column: c.oid,
                    partition: s.partition,
                    segment: s.segment,
                    table_rows: s.rows,
                    column_rows: c.rows,
                };
                refused.push(Refusal {
                    accepted: reason.accepted_by(accept),
                    reason,
                    extents: vec![rec.address()],
                });
            }
        }
    }
    (inferred, refused)
}

/// The HWM a column of `width` bytes has when its table holds `rows` rows in the segment file:
/// the block of the last row (0 without rows, as for an empty file).
pub fn hwm_for_rows(rows: u64, width: u16) -> Option<u32> {
    let last = rows.checked_sub(1)?;
    Some((last * u64::from(width) / crate::types::BLOCK_SIZE as u64) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwm_follows_the_row_in_each_width() {
        // Row 8192 (rows = 8193): block 1 of a 1-byte column, block 8 of an 8-byte one
        // (8192 / 8 = 1024 rows per block), block 16 of a 16-byte one.
        assert_eq!(hwm_for_rows(8193, 1), Some(1));
        assert_eq!(hwm_for_rows(8193, 8), Some(8));
        assert_eq!(hwm_for_rows(8193, 16), Some(16));
        // Row 8191 is the last of block 0 of a 1-byte column.
        assert_eq!(hwm_for_rows(8192, 1), Some(0));
        assert_eq!(hwm_for_rows(0, 4), None);
    }
}
