//! CP: the min/max ("casual partitioning") of each extent as ColumnStore encodes it
//! (EM §2.1–2.4; SEG §5.2 for how ColumnStore computes it).
//!
//! Three cases, in this order:
//!
//! 1. **A value the files establish**: an extent of a type ColumnStore keeps CP for, holding
//!    non-NULL values, gets their exact range, CP_VALID (what cpimport stores, or a query scan
//!    re-validates, EM §2.1).
//! 2. **Written by DDL** (the system catalog once it holds rows or strings): `markInvalid`
//!    left the sentinel pair of the era, CP_INVALID (`insertColumnRec_SYS` adds every extent it
//!    writes to the transaction's list, `writeengine/wrapper/writeengine.cpp:3383`, which
//!    `markTxnExtentsAsInvalid` invalidates, `writeengine.cpp:6698-6711`).
//! 3. **Otherwise the creation state** ([`Era::created`], the one rule in [`super::era`]):
//!    cpimport keeps no CP for tokens, FLOAT/DOUBLE, VARBINARY and TEXT/BLOB
//!    (`writeengine/bulk/we_columninfo.cpp:166-179`, EM §2.3), and an extent nobody ever loaded
//!    holds no row to compute one from. Exceptions, for safety: an extent of a CP-kept type whose
//!    rows are all NULL gets cpimport's "valid but empty" pair (EM §2.1,
//!    `versioning/BRM/extentmap.cpp:1248-1250`), and an inline CHAR/VARCHAR extent left without
//!    min/max by `--string-cp invalid` is CP_INVALID whenever it holds rows — a CP_VALID sentinel
//!    pair would make ColumnStore eliminate it for every predicate.

use super::super::kind::ObjectKind;
use super::super::plan::FileFacts;
use super::super::stats::{Domain, ExtentStats};
use super::era::{Era, EraEvidence};
use crate::em::{CasualPartition, CpState};
use crate::seg::datatype::ColDataType;
use serde::{Deserialize, Serialize};

/// How a file's extents came to be, as far as their CP goes: a plain value the rebuild derives
/// before placing (from the catalog stage and the scan), so that placing reads no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The release line that created the extents.
    pub era: Era,
    /// Why that era.
    pub evidence: EraEvidence,
    /// DDL statements wrote into the file (a system-catalog table that holds rows or strings).
    pub ddl_written: bool,
}

impl Origin {
    /// HEAD's rules, nothing written by DDL: for callers without a catalog.
    pub fn head() -> Self {
        Origin {
            era: Era::Since2208,
            evidence: EraEvidence::Generation { generation: None },
            ddl_written: false,
        }
    }
}

/// The CP of an extent whose min/max could not be read (a damaged chunk): CP_INVALID with the
/// era's sentinel pair.
pub fn unknown(pf: &FileFacts, origin: &Origin) -> CasualPartition {
    origin.era.invalidated(pf.kind)
}

/// Casual partitioning of extent `k` of `pf` (see the module documentation for the rule).
pub fn casual_partition(
    pf: &FileFacts,
    k: u32,
    stats: Option<&ExtentStats>,
    origin: &Origin,
) -> CasualPartition {
    let era = origin.era;
    let first = pf.found.id.partition == 0 && pf.found.id.segment == 0 && k == 0;
    let has_rows = stats.is_some_and(ExtentStats::has_rows);
    let ObjectKind::Column { data_type, width } = pf.kind else {
        return era.created(pf.kind, first);
    };
    if pf.domain == Domain::None {
        // No min/max computed: a type nobody keeps CP for, or inline strings by policy.
        let inline_string =
            !pf.tokens && matches!(data_type, ColDataType::Char | ColDataType::Varchar);
        return if origin.ddl_written || (inline_string && has_rows) {
            era.invalidated(pf.kind)
        } else {
            era.created(pf.kind, first)
        };
    }
    let valid = CpState::VALID;
    match stats {
        Some(ExtentStats {
            wide: Some((lo, hi)),
            ..
        }) if width == 16 => CasualPartition::wide(valid, *lo, *hi),
        Some(ExtentStats {
            keys: Some((lo, hi)),
            ..
        }) if width != 16 => {
            CasualPartition::narrow(valid, pf.domain.value(*lo), pf.domain.value(*hi))
        }
        _ if origin.ddl_written => era.invalidated(pf.kind),
        _ if has_rows => era.sentinel(pf.kind, valid),
        _ => era.created(pf.kind, first),
    }
}
