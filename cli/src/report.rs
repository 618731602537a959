//! Findings rendered at the edge: one sentence per [`Finding`] for humans, and the JSON form of a
//! rebuild report, shared by `rebuild`, `demo` (and `verify` next). The engine only hands over
//! values; every word a user reads about a finding is written here.

use emengine::catalog::TokenFinding;
use emengine::finding::{
    CatalogCheck, Conflict, Damaged, Evidence, Fact, Finding, Inferred, ReassignReason, Refusal,
    RefusalReason, Strength, UncertainCause, UnresolvedReason,
};
use emengine::rebuild::place::era::{Era, EraEvidence};
use emengine::rebuild::RebuildReport;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One line describing `f`, without a trailing newline.
pub fn finding_line(f: &Finding) -> String {
    match f {
        Finding::Damaged(d) => format!("damaged: {}", damaged(d)),
        Finding::Skipped(s) => format!("skipped {}: {}", s.path.display(), s.reason),
        Finding::Unresolved(u) => format!(
            "unresolved {}: {}",
            u.path.display(),
            unresolved(u.reason, u.oid.0)
        ),
        Finding::Reassigned(r) => format!(
            "re-assigned {} to LBID {}: {}",
            r.extent,
            r.lbid,
            reassigned(r.reason)
        ),
        Finding::Uncertain(u) => format!(
            "not established: {}: {} ({})",
            u.extent,
            fact(u.fact),
            match u.cause {
                UncertainCause::DamagedChunk => "a chunk could not be read",
                UncertainCause::LbidSpaceFull => "no free range left in the LBID space",
                UncertainCause::HeaderIndexZeroAmbiguous =>
                    "the header records index 0 only while the file has a further extent: \
                     an extent added by DML, or a v2 file cpimport upgraded while loading extent 1 \
                     (then index 0 holds extent 1's LBID, SEG §3.9); kept for extent 0 — column \
                     LBIDs are referenced by no data, rows are unaffected",
            }
        ),
        Finding::Inferred(i) => inferred(i),
        Finding::Refused(r) => {
            let state = if r.accepted { "accepted" } else { "refused" };
            format!("{state}: {}", refusal_line(r))
        }
        Finding::Orphan(o) => format!(
            "orphan {}: the catalog lists no live column, dictionary or AUX column with oid {}; {}",
            o.path.display(),
            o.segment.oid,
            if o.kept {
                "kept (--include-orphans)"
            } else {
                "left out (use --include-orphans to keep it)"
            }
        ),
        Finding::OrphansNotChecked { files } => format!(
            "warning: the catalog's rows could not be read, so no file was checked against the              live OIDs: all {files} user files were kept, a dropped table's among them if any"
        ),
        Finding::DuplicateSegment { segment, dbroots } => format!(
            "warning: {segment} is on DBRoot {} and DBRoot {}",
            dbroots[0], dbroots[1]
        ),
        Finding::CatalogUpgraded {
            original,
            detected,
            added_later,
        } => {
            let later: Vec<String> = added_later.iter().map(|o| o.to_string()).collect();
            format!(
                "catalog: the catalog's tokens fit the layout of generation {original:?}, not \
                 {detected:?}: a catalog first built as generation {original:?} and upgraded in \
                 place; catalog files {} were added later and are re-assigned",
                later.join(", ")
            )
        }
        Finding::CatalogFitsNoLayout => "catalog: the catalog's tokens fit no replayed layout: \
                                          the catalog was moved or is damaged"
            .to_string(),
        Finding::CatalogNotChecked {
            check,
            path,
            offset,
            detail,
            ..
        } => {
            let what = match check {
                CatalogCheck::Generation => "catalog generation not checked",
                CatalogCheck::Rows => "catalog rows not readable",
                CatalogCheck::Tokens => "catalog tokens not checked",
            };
            let at = path
                .as_deref()
                .map(|p| located(p, *offset))
                .unwrap_or_default();
            format!("catalog: {what}: {at}{detail}")
        }
        Finding::CatalogToken(t) => format!("catalog: {}", token(t)),
        Finding::CatalogRow { detail } => format!("catalog: {detail}"),
        Finding::StatusNotInData { from_reference } => {
            let base = "extent status (out of service, disabled) is recorded in no data file";
            if *from_reference > 0 {
                format!(
                    "note: {base}: the reference map supplied it for {from_reference} extents; \
                     the others are written available"
                )
            } else {
                format!(
                    "note: {base}: every extent is written available; --reference OLD_EM \
                     restores it from an older map"
                )
            }
        }
        Finding::HwmNotReconciled { files } => format!(
            "note: the catalog's rows do not say which table {files} column files belong to: \
             their HWMs are their own, not checked against the other columns of a table"
        ),
        Finding::ReferenceContradicted(c) => {
            format!("reference: {}: {}", c.extent, conflict(&c.conflict))
        }
    }
}

fn conflict(c: &Conflict) -> String {
    match c {
        Conflict::LbidDisproved { reference, data } => format!(
            "holds LBID {reference}, the data establishes {data}: the data's is used"
        ),
        Conflict::RangeOverlaps { reference, other } => format!(
            "its LBID {reference} overlaps {other} as the data places it: not used"
        ),
        Conflict::RangeUnusable {
            reference,
            range_size,
        } => format!(
            "its range (LBID {reference}, {range_size} × 1024 blocks) does not fit the extent: not used"
        ),
        Conflict::NotInData { reference } => format!(
            "an extent at LBID {reference} the data does not have: not written"
        ),
        Conflict::TokensContradict {
            reference,
            contradicting,
        } => format!(
            "its LBID {reference} does not fit {contradicting} tokens pointing into it: not used"
        ),
    }
}

/// `path: at byte N: ` (or `path: ` without an offset).
fn located(path: &Path, offset: Option<u64>) -> String {
    match offset {
        Some(o) => format!("{}: at byte {o}: ", path.display()),
        None => format!("{}: ", path.display()),
    }
}

/// A damaged file as the engine's error would say it: path, byte offset, what was expected and found.
pub fn damaged(d: &Damaged) -> String {
    format!("{}{}", located(&d.path, d.offset), d.detail)
}

fn token(t: &TokenFinding) -> String {
    t.to_string()
}

pub fn unresolved(reason: UnresolvedReason, oid: i32) -> String {
    match reason {
        UnresolvedReason::OldHeaderNoCatalogRow { header_version } => format!(
            "version {header_version} compressed header records no type and the catalog has no row for oid {oid}"
        ),
        UnresolvedReason::UnusableHeaderNoCatalogRow => {
            format!("header records no usable type and the catalog has no row for oid {oid}")
        }
        UnresolvedReason::UncompressedNoCatalogRow => {
            format!("uncompressed file and the catalog has no row for oid {oid}")
        }
    }
}

pub fn reassigned(reason: ReassignReason) -> String {
    match reason {
        ReassignReason::HeaderLbidUnaligned { header_lbid } => {
            format!("header LBID {header_lbid} is not a multiple of 1024")
        }
        ReassignReason::HeaderLbidOverlaps { header_lbid } => {
            format!("header LBID {header_lbid} overlaps an extent already placed")
        }
        ReassignReason::CatalogBeyondReplay => {
            "system-catalog extent beyond the replayed creation order".into()
        }
        ReassignReason::CatalogAddedByUpgrade => {
            "catalog file outside the replayed creation order (added by an in-place upgrade)".into()
        }
        ReassignReason::HeaderLbidZero { extent } => {
            format!("header LBID list holds 0 for extent {extent} (extent created by DML)")
        }
        ReassignReason::HeaderLbidListFull { extent } => {
            format!("header LBID list is full (48 entries); extent {extent} is not recorded")
        }
        ReassignReason::HeaderLbidMissing { extent } => {
            format!("header LBID list has no entry for extent {extent}")
        }
        ReassignReason::OldHeader => "compressed header records no LBIDs (version 2)".into(),
        ReassignReason::Uncompressed => "uncompressed file records no LBIDs".into(),
        ReassignReason::HeaderLbidLostConflict { header_lbid } => format!(
            "header LBID {header_lbid} is claimed by another file too, and the tokens pointing              into it fit the other file's dictionary"
        ),
        ReassignReason::HeaderLbidContradicted { header_lbid } => format!(
            "the tokens pointing into header LBID {header_lbid} do not fit this extent (a v2 header upgraded by cpimport records the loading extent's LBID at index 0)"
        ),
        ReassignReason::ReferenceDisprovedByTokens { reference } => format!(
            "the reference map's LBID {reference} does not fit the tokens pointing into it"
        ),
    }
}

/// An inference: the extent, the fact and value, the evidence and its strength.
pub fn inferred(i: &Inferred) -> String {
    let evidence = match &i.evidence {
        Evidence::Tokens {
            tokens,
            blocks,
            contradicting,
        } => format!("{tokens} tokens into {blocks} blocks fit it, {contradicting} do not"),
        Evidence::TokensOverHeader {
            header_lbid,
            tokens,
            blocks,
            contradicting,
        } => format!(
            "{tokens} tokens into {blocks} blocks fit it, {contradicting} do not; the header's \
             LBID {header_lbid} for it does not fit them and is set aside"
        ),
        Evidence::Reference => "the reference map".to_string(),
        Evidence::ReferenceAndTokens { tokens, blocks } => format!(
            "the reference map, and {tokens} tokens into {blocks} blocks fit it, none does not \
             (the tokens alone fit more than one start)"
        ),
        Evidence::TableRows {
            table,
            rows,
            column_rows,
            columns,
        } => format!(
            "table {table}: {columns} columns hold {rows} rows in this segment, this one's \
             data only {column_rows} (FastDelete of the last rows)"
        ),
        Evidence::CreationEra { era, by } => {
            let era = match era {
                Era::Before2208 => "ColumnStore 6.x or older (first extent created CP_VALID)",
                Era::Since2208 => "ColumnStore 22.08 or later (created CP_INVALID)",
            };
            let by = match by {
                EraEvidence::Generation { .. } => "the catalog's generation",
                EraEvidence::CatalogOriginal { .. } => {
                    "a catalog file of the original generation of a catalog upgraded in place"
                }
                EraEvidence::CatalogAddedByUpgrade => "a catalog file the in-place upgrade added",
                EraEvidence::TableWithoutAux => {
                    "its table has no AUX column (auxcolumnoid 0): created before the upgrade to 22.08"
                }
            };
            format!("the state it was created with by {era}, since {by}; nothing computes its CP")
        }
    };
    let strength = match i.strength {
        Strength::Exact => "exact",
        Strength::Strong => "strong",
        Strength::Weak => "weak",
    };
    format!(
        "inferred {} of {}: {} from {evidence} ({strength})",
        fact(i.fact),
        i.extent,
        i.value
    )
}

/// A refusal: what the data cannot establish, the extents concerned, and the flag that accepts it.
pub fn refusal_line(r: &Refusal) -> String {
    let what = match &r.reason {
        RefusalReason::DictionaryLbidNotEstablished => {
            "tokens point into dictionary extents whose LBIDs the data cannot establish; re-assigned LBIDs would make their strings read from wrong blocks".to_string()
        }
        RefusalReason::LbidConflict { lbid } => format!(
            "files claim overlapping LBID ranges from {lbid} and no token decides which one holds it"
        ),
        RefusalReason::ColumnRowsDisagree {
            table,
            column,
            partition,
            segment,
            table_rows,
            column_rows,
        } => format!(
            "column {column} holds {column_rows} rows in partition {partition} segment {segment}, \
             its table {table} {table_rows} (a truncated or damaged file): its own HWM would \
             disagree with the other columns', the table's would read its missing rows as EMPTY"
        ),
        RefusalReason::CatalogFileMissing => {
            "system catalog files are missing: their extents are kept at the LBIDs of the full generation's layout, with HWM 0 since no file holds their rows (every other catalog extent keeps its LBID)".to_string()
        }
        RefusalReason::CatalogLayoutContradicted => {
            "the system catalog's own tokens fit none of its possible layouts (moved or damaged catalog): its LBIDs cannot be established; dictionaries whose tokens fix one start are put there, the rest at the replayed layout".to_string()
        }
        RefusalReason::LiveFilesMissing { table, name, oids } => {
            let oids: Vec<String> = oids.iter().map(|o| o.to_string()).collect();
            format!(
                "the catalog lists table {name} (OID {table}) as live, but no DBRoot rebuilt holds \
                 a file of OIDs {} (storage not mounted, a DBRoot left out of the configuration or \
                 of --dbroot, or files deleted): the table would have no extents in the map",
                oids.join(", ")
            )
        }
    };
    let shown: Vec<String> = r.extents.iter().take(5).map(|e| e.to_string()).collect();
    let more = r.extents.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    if shown.is_empty() {
        return format!("{what} (use {} to write anyway)", r.reason.flag());
    }
    format!(
        "{what}: {}{more} (use {} to write anyway)",
        shown.join(", "),
        r.reason.flag()
    )
}

fn fact(f: Fact) -> &'static str {
    match f {
        Fact::MinMax => "min/max",
        Fact::Hwm => "high-water mark",
        Fact::Lbid => "LBID",
        Fact::Status => "status",
        Fact::SeqNum => "CP sequence number",
        Fact::CpState => "CP state",
    }
}

/// The `--json` document of a rebuild: the engine's report (figures, catalog summary, every
/// finding with its `kind`), the count of findings per kind, and what the command did (`extra`).
#[derive(Serialize)]
pub struct JsonReport<'a, T: Serialize> {
    #[serde(flatten)]
    pub report: &'a RebuildReport,
    pub counts: BTreeMap<&'static str, usize>,
    #[serde(flatten)]
    pub extra: T,
}

impl<'a, T: Serialize> JsonReport<'a, T> {
    pub fn new(report: &'a RebuildReport, extra: T) -> Self {
        Self {
            report,
            counts: report.counts(),
            extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emengine::finding::{Reassigned, Uncertain};
    use emengine::types::{DbRootId, ExtentAddress, Lbid, Oid};
    use emengine::ErrorKind;

    fn address() -> ExtentAddress {
        ExtentAddress {
            oid: Oid(3001),
            dbroot: DbRootId(2),
            partition: 0,
            segment: 1,
            block_offset: 4096,
        }
    }

    #[test]
    fn lines_name_the_extent_and_the_reason() {
        let r = Finding::Reassigned(Reassigned {
            extent: address(),
            lbid: Lbid(8192),
            reason: ReassignReason::HeaderLbidZero { extent: 1 },
        });
        assert_eq!(
            finding_line(&r),
            "re-assigned oid 3001 dbroot 2 partition 0 segment 1 fbo 4096 to LBID 8192: \
             header LBID list holds 0 for extent 1 (extent created by DML)"
        );
        let u = Finding::Uncertain(Uncertain {
            extent: address(),
            fact: Fact::Hwm,
            cause: UncertainCause::DamagedChunk,
        });
        assert_eq!(
            finding_line(&u),
            "not established: oid 3001 dbroot 2 partition 0 segment 1 fbo 4096: \
             high-water mark (a chunk could not be read)"
        );
        let d = Finding::Damaged(Damaged {
            path: "/d/FILE000.cdf".into(),
            error: ErrorKind::BadChecksum,
            offset: Some(8193),
            detail: "bad checksum: expected 0x00000001, found 0x00000002".into(),
        });
        assert_eq!(
            finding_line(&d),
            "damaged: /d/FILE000.cdf: at byte 8193: bad checksum: expected 0x00000001, found 0x00000002"
        );
    }
}
