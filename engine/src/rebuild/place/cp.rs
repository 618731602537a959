//! CP: the min/max ("casual partitioning") of each extent as ColumnStore encodes it
//! (EM §2.1–2.4; SEG §5.2 for how ColumnStore computes it).

use super::super::kind::ObjectKind;
use super::super::plan::FileFacts;
use super::super::stats::{Domain, ExtentStats};
use crate::em::{CasualPartition, CpState, SentinelKind};

/// The creation sentinel of the file's extents: the one rule, [`SentinelKind::for_column`]
/// (EM §2.2), pinned by the golden table of `tests/em_golden.rs`.
fn sentinel_kind(pf: &FileFacts) -> SentinelKind {
    match pf.kind {
        ObjectKind::Dictionary => SentinelKind::Dictionary,
        ObjectKind::Column { data_type, width } => SentinelKind::for_column(data_type, width),
    }
}

pub fn sentinel(pf: &FileFacts, state: i8) -> CasualPartition {
    CasualPartition::sentinel(sentinel_kind(pf), state)
}

/// Casual partitioning as ColumnStore encodes it (extent-map spec §2.3–2.4): exact min/max of
/// the non-NULL values for the types ColumnStore keeps it for; CP_INVALID with the creation
/// sentinels for the others (FLOAT/DOUBLE, tokens, dictionaries, inline strings by default).
///
/// A CP-eligible extent without any non-NULL value gets ColumnStore's "valid but empty" pair
/// (CP_VALID with the sentinels), as cpimport leaves it (§2.1) and as every column extent of a
/// freshly created catalog holds it in the real map of `../shared/real`: a range no value falls
/// in, so any predicate on the column eliminates the extent, which is exact for an extent with no
/// values.
pub fn casual_partition(pf: &FileFacts, stats: Option<&ExtentStats>) -> CasualPartition {
    let valid = CpState::VALID;
    if pf.domain == Domain::None {
        return sentinel(pf, CpState::INVALID);
    }
    let wide = matches!(pf.kind, ObjectKind::Column { width: 16, .. });
    match stats {
        Some(ExtentStats {
            wide: Some((lo, hi)),
            ..
        }) if wide => CasualPartition::wide(valid, *lo, *hi),
        Some(ExtentStats {
            keys: Some((lo, hi)),
            ..
        }) if !wide => CasualPartition::narrow(valid, pf.domain.value(*lo), pf.domain.value(*hi)),
        _ => sentinel(pf, valid),
    }
}
