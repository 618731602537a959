//! Compare a rebuilt map with a known-good one (the generator's ground truth, or a backup),
//! extent by extent, and sort every difference into what it means:
//!
//! * **re-assigned** — only the LBID differs, and the rebuild reported the extent as
//!   re-assigned (the files did not record its LBID);
//! * **sequence** — only the CP sequence number differs: it counts DML history, which no file
//!   records;
//! * **CP restored** — the known map holds CP invalid (DML or a DDL invalidated it) where the
//!   rebuild computed the exact range from the values on disk: safe, and better for queries.
//!   Only when the rebuilt lo/hi are the range of the values the files store, as whoever wrote
//!   them knows it ([`StoredRanges`], e.g. from the generator's manifest); a restored range that
//!   differs, or that nothing can check, is a disagreement;
//! * **CP left invalid** — the known map holds a valid range where the rebuild keeps CP invalid
//!   (inline strings, whose order depends on the collation): safe, queries only lose extent
//!   elimination;
//! * **disagreement** — anything else (a different HWM, width, size, status, range, a
//!   missing or extra extent, an LBID the rebuild did not report): the rebuild is wrong or the
//!   known map is stale.

use super::RebuildReport;
use crate::em::diff::{diff, ChangedExtent};
use crate::em::{ExtentMap, ExtentRecord};
use crate::types::ExtentAddress;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The exact (lo, hi) of the values stored in each CP-eligible extent, in the map's view (the
/// 64-bit view, or all 128 bits for width 16), as the writer of the files knows them; `None` for
/// an extent that stores no value (ColumnStore's "valid but empty": the sentinel pair stays).
pub type StoredRanges = BTreeMap<ExtentAddress, Option<(i128, i128)>>;

/// What one difference means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Reassigned,
    Sequence,
    CpRestored,
    CpLeftInvalid,
    Disagreement,
}

/// One extent that differs, with its class and the fields that differ.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// What the difference means, the LBID of a re-assigned extent aside.
    pub class: Class,
    /// Whether the extent's LBID differs because the rebuild re-assigned it (and said so).
    pub reassigned: bool,
    pub key: Option<ExtentAddress>,
    pub detail: String,
}

/// The verdict of [`against`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Extents in the known-good map.
    pub expected: usize,
    /// Extents in the rebuilt map.
    pub rebuilt: usize,
    /// Extents identical in every field.
    pub exact: usize,
    /// Every extent that is not identical, classified.
    pub differences: Vec<Difference>,
}

impl Comparison {
    /// Whether the maps agree: no difference is a disagreement.
    pub fn agrees(&self) -> bool {
        self.count(Class::Disagreement) == 0
    }

    /// How many differences fall into `class`.
    pub fn count(&self, class: Class) -> usize {
        self.differences.iter().filter(|d| d.class == class).count()
    }

    /// How many extents were re-assigned (whatever else differs).
    pub fn reassigned(&self) -> usize {
        self.differences.iter().filter(|d| d.reassigned).count()
    }
}

/// Compare `rebuilt` (with its `report`) against `expected`; a CP the rebuild restored is
/// checked against `stored`.
pub fn against(
    expected: &ExtentMap,
    rebuilt: &ExtentMap,
    report: &RebuildReport,
    stored: &StoredRanges,
) -> Comparison {
    let d = diff(expected, rebuilt);
    let by_key: BTreeMap<ExtentAddress, &ExtentRecord> =
        rebuilt.extents.iter().map(|e| (e.address(), e)).collect();
    let reassigned: BTreeSet<ExtentAddress> = report.reassigned().map(|r| r.extent).collect();
    let mut out = Comparison {
        expected: d.a_extents,
        rebuilt: d.b_extents,
        ..Comparison::default()
    };
    for c in &d.changed {
        let detail: Vec<String> = c
            .fields
            .iter()
            .map(|f| format!("{} {} → {}", f.field, f.a, f.b))
            .collect();
        let moved = reassigned.contains(&c.key);
        let mut detail = detail.join(", ");
        let mut class = classify(c, moved);
        if class == Class::CpRestored {
            if let Err(why) = check_restored(c, by_key.get(&c.key).copied(), stored) {
                class = Class::Disagreement;
                detail = format!("{detail} ({why})");
            }
        }
        out.differences.push(Difference {
            class,
            reassigned: moved && c.fields.iter().any(|f| f.field == "lbid"),
            key: Some(c.key),
            detail,
        });
    }
    for u in &d.only_in_a {
        out.differences.push(Difference {
            class: Class::Disagreement,
            reassigned: false,
            key: Some(u.key),
            detail: format!("missing from the rebuilt map (LBID {})", u.lbid),
        });
    }
    for u in &d.only_in_b {
        out.differences.push(Difference {
            class: Class::Disagreement,
            reassigned: false,
            key: Some(u.key),
            detail: format!("not in the expected map (rebuilt at LBID {})", u.lbid),
        });
    }
    out.exact = d.a_extents - d.only_in_a.len() - d.changed.len();
    out
}

/// Whether a CP the rebuild made valid holds exactly the range of the stored values.
fn check_restored(
    c: &ChangedExtent,
    rebuilt: Option<&ExtentRecord>,
    stored: &StoredRanges,
) -> Result<(), String> {
    let rec = rebuilt.ok_or("the rebuilt extent is missing")?;
    let range_changed = c.fields.iter().any(|f| f.field == "lo" || f.field == "hi");
    match stored.get(&c.key) {
        // An extent that keeps no CP (tokens, FLOAT/DOUBLE: absent from `stored`), made valid
        // with the known map's own sentinel pair: the creation state of its era (EM §2.1),
        // which DML history the files do not record turned invalid; never used to eliminate.
        None if !range_changed => Ok(()),
        None => Err("no known range of the stored values to check the restored CP against".into()),
        // No value stored: the range must stay the sentinel pair the known map holds.
        Some(None) if range_changed => {
            Err("the extent stores no value, yet the restored CP is not the sentinel pair".into())
        }
        Some(None) => Ok(()),
        Some(Some((lo, hi))) => {
            let w = rec.col_width;
            let got = (rec.cp.lo_value(w), rec.cp.hi_value(w));
            if got == (*lo, *hi) {
                Ok(())
            } else {
                Err(format!(
                    "restored range {}..{} is not the stored values' {lo}..{hi}",
                    got.0, got.1
                ))
            }
        }
    }
}

/// The class of a changed extent; the LBID of an extent the rebuild re-assigned (`moved`) is
/// accounted for by the report and does not count against it.
fn classify(c: &ChangedExtent, moved: bool) -> Class {
    let fields: BTreeSet<&str> = c
        .fields
        .iter()
        .map(|f| f.field)
        .filter(|&f| !(moved && f == "lbid"))
        .collect();
    let only = |allowed: &[&str]| fields.iter().all(|f| allowed.contains(f));
    if fields.is_empty() {
        return Class::Reassigned;
    }
    if only(&["seq"]) {
        return Class::Sequence;
    }
    if only(&["seq", "cp", "lo", "hi"]) {
        if let Some(state) = c.fields.iter().find(|f| f.field == "cp") {
            match (state.a.to_string().as_str(), state.b.to_string().as_str()) {
                ("invalid" | "updating", "valid") => return Class::CpRestored,
                ("valid", "invalid") => return Class::CpLeftInvalid,
                _ => {}
            }
        }
    }
    Class::Disagreement
}
