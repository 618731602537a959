//! Compare a rebuilt map with a known-good one (the generator's ground truth, or a backup):
//! every extent must match exactly, except that an extent the rebuild reports as re-assigned
//! compares by everything but its LBID.

use super::RebuildReport;
use crate::em::diff::{diff, ExtentKey};
use crate::em::ExtentMap;
use serde::Serialize;
use std::collections::BTreeSet;

/// The verdict of [`against`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Extents in the known-good map.
    pub expected: usize,
    /// Extents in the rebuilt map.
    pub rebuilt: usize,
    /// Extents identical in every field.
    pub exact: usize,
    /// Re-assigned extents identical in everything but their LBID.
    pub reassigned: usize,
    /// Every other difference, one line each.
    pub differences: Vec<String>,
}

impl Comparison {
    /// Whether the maps agree (re-assigned LBIDs aside).
    pub fn agrees(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Compare `rebuilt` (with its `report`) against `expected`.
pub fn against(expected: &ExtentMap, rebuilt: &ExtentMap, report: &RebuildReport) -> Comparison {
    let d = diff(expected, rebuilt);
    let reassigned: BTreeSet<ExtentKey> = report
        .reassigned
        .iter()
        .map(|r| ExtentKey {
            oid: r.oid,
            dbroot: r.dbroot,
            partition: r.partition,
            segment: r.segment,
            block_offset: r.block_offset,
        })
        .collect();
    let mut out = Comparison {
        expected: d.a_extents,
        rebuilt: d.b_extents,
        ..Comparison::default()
    };
    let mut changed = 0;
    for c in &d.changed {
        let only_lbid = c.fields.iter().all(|f| f.field == "lbid");
        if only_lbid && reassigned.contains(&c.key) {
            out.reassigned += 1;
        } else {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|f| format!("{} {} → {}", f.field, f.a, f.b))
                .collect();
            out.differences
                .push(format!("{}: {}", c.key, fields.join(", ")));
        }
        changed += 1;
    }
    for u in &d.only_in_a {
        out.differences.push(format!(
            "{}: missing from the rebuilt map (LBID {})",
            u.key, u.lbid
        ));
    }
    for u in &d.only_in_b {
        out.differences.push(format!(
            "{}: not in the expected map (rebuilt at LBID {})",
            u.key, u.lbid
        ));
    }
    out.exact = d.a_extents - d.only_in_a.len() - changed;
    out
}
