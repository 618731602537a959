//! Logical comparison of two extent maps.
//!
//! Extents are matched by where their data lives — (OID, DBRoot, partition, segment, block
//! offset) — not by LBID or record position, so two maps that differ only in format version,
//! record order, padding, free list or the unused upper halves of narrow CP values are equal.
//! For matched extents the fields ColumnStore uses are compared: `lbid`, `size`, `hwm`,
//! `width`, `status`, `seq`, `cp` (state), `lo`, `hi` (lo/hi by their meaningful view: the
//! 128-bit value for width 16, else the signed 64-bit low half). Extents whose key appears
//! more than once in a map are paired in file order; the surplus is reported as unmatched.
//!
//! ```
//! use emengine::em::{diff::diff, CasualPartition, CpState, ExtentMap, ExtentRecord};
//! let rec = ExtentRecord::builder(3000, 0)
//!     .hwm(10)
//!     .cp(CasualPartition::narrow(CpState::VALID, 1, 2))
//!     .build();
//! let a = ExtentMap::from_extents(vec![rec]);
//! let mut b = a.clone();
//! b.extents[0].hwm = 12;
//! let d = diff(&a, &b);
//! assert!(!d.is_equal());
//! assert_eq!(d.changed[0].fields[0].field, "hwm");
//! ```

use super::cp::CpState;
use super::file::ExtentMap;
use super::record::ExtentRecord;
use rayon::prelude::*;
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

pub use crate::types::ExtentAddress;

/// An extent present in only one of the maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedExtent {
    pub key: ExtentAddress,
    pub lbid: i64,
    pub size: u32,
}

/// One field's two values. Numbers stay numbers; `lo`/`hi` are decimal strings (they may be
/// 128-bit); `cp` is the state's name or its raw number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Int(i64),
    Text(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Int(v) => v.fmt(f),
            FieldValue::Text(s) => s.fmt(f),
        }
    }
}

/// A field that differs between two matched extents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    pub field: &'static str,
    pub a: FieldValue,
    pub b: FieldValue,
}

/// A matched extent with at least one differing field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedExtent {
    pub key: ExtentAddress,
    pub fields: Vec<FieldDiff>,
}

/// The result of [`diff`]; all lists ordered by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmDiff {
    /// Extents in A.
    pub a_extents: usize,
    /// Extents in B.
    pub b_extents: usize,
    pub only_in_a: Vec<UnmatchedExtent>,
    pub only_in_b: Vec<UnmatchedExtent>,
    pub changed: Vec<ChangedExtent>,
    /// No extent only on one side and no changed field.
    pub equal: bool,
}

impl EmDiff {
    /// Whether the two maps are logically equal.
    pub fn is_equal(&self) -> bool {
        self.equal
    }

    /// Number of differences: unmatched extents plus changed fields.
    pub fn difference_count(&self) -> usize {
        self.only_in_a.len()
            + self.only_in_b.len()
            + self.changed.iter().map(|c| c.fields.len()).sum::<usize>()
    }
}

/// The address as one integer with the same order: sorting 2.5 million 128-bit integers is
/// several times faster than comparing five fields.
fn packed(a: ExtentAddress) -> u128 {
    let oid = (a.oid.0 as u32 ^ 0x8000_0000) as u128; // i32 order as unsigned
    (oid << 96)
        | (u128::from(a.dbroot.0) << 80)
        | (u128::from(a.partition) << 48)
        | (u128::from(a.segment) << 32)
        | u128::from(a.block_offset)
}

/// Packed keys with record indices, sorted by key, ties in file order.
fn keyed(map: &ExtentMap) -> Vec<(u128, u32)> {
    let mut v: Vec<(u128, u32)> = map
        .extents
        .par_iter()
        .enumerate()
        .map(|(i, e)| (packed(e.address()), i as u32))
        .collect();
    // The pair is unique, so an unstable sort still keeps file order among equal keys.
    v.par_sort_unstable();
    v
}

fn unmatched(e: &ExtentRecord) -> UnmatchedExtent {
    UnmatchedExtent {
        key: e.address(),
        lbid: e.range_start.0,
        size: e.range_size,
    }
}

fn cp_value(state: i8) -> FieldValue {
    match CpState::from_raw(state).name() {
        Some(n) => FieldValue::Text(n.to_string()),
        None => FieldValue::Int(i64::from(state)),
    }
}

/// The differing fields of two matched extents.
fn compare(a: &ExtentRecord, b: &ExtentRecord) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let mut int = |field, x: i64, y: i64| {
        if x != y {
            out.push(FieldDiff {
                field,
                a: FieldValue::Int(x),
                b: FieldValue::Int(y),
            });
        }
    };
    int("lbid", a.range_start.0, b.range_start.0);
    int("size", a.range_size.into(), b.range_size.into());
    int("hwm", a.hwm.into(), b.hwm.into());
    int("width", a.col_width.into(), b.col_width.into());
    int("status", a.status.into(), b.status.into());
    int("seq", a.cp.seq_num.into(), b.cp.seq_num.into());
    if a.cp.state != b.cp.state {
        out.push(FieldDiff {
            field: "cp",
            a: cp_value(a.cp.state),
            b: cp_value(b.cp.state),
        });
    }
    let (alo, blo) = (a.cp.lo_value(a.col_width), b.cp.lo_value(b.col_width));
    if alo != blo {
        out.push(FieldDiff {
            field: "lo",
            a: FieldValue::Text(alo.to_string()),
            b: FieldValue::Text(blo.to_string()),
        });
    }
    let (ahi, bhi) = (a.cp.hi_value(a.col_width), b.cp.hi_value(b.col_width));
    if ahi != bhi {
        out.push(FieldDiff {
            field: "hi",
            a: FieldValue::Text(ahi.to_string()),
            b: FieldValue::Text(bhi.to_string()),
        });
    }
    out
}

/// What one stretch of the key space contributes.
#[derive(Default)]
struct Partial {
    only_in_a: Vec<UnmatchedExtent>,
    only_in_b: Vec<UnmatchedExtent>,
    changed: Vec<ChangedExtent>,
}

/// Merge two key-sorted runs (no key of one stretch appears in another).
fn merge(a: &ExtentMap, b: &ExtentMap, ka: &[(u128, u32)], kb: &[(u128, u32)]) -> Partial {
    let mut p = Partial::default();
    let (mut i, mut j) = (0, 0);
    while i < ka.len() || j < kb.len() {
        let ord = match (ka.get(i), kb.get(j)) {
            (Some(x), Some(y)) => x.0.cmp(&y.0),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                p.only_in_a.push(unmatched(&a.extents[ka[i].1 as usize]));
                i += 1;
            }
            Ordering::Greater => {
                p.only_in_b.push(unmatched(&b.extents[kb[j].1 as usize]));
                j += 1;
            }
            Ordering::Equal => {
                let (ea, eb) = (&a.extents[ka[i].1 as usize], &b.extents[kb[j].1 as usize]);
                let fields = compare(ea, eb);
                if !fields.is_empty() {
                    p.changed.push(ChangedExtent {
                        key: ea.address(),
                        fields,
                    });
                }
                i += 1;
                j += 1;
            }
        }
    }
    p
}

/// Compare `a` with `b` logically (see the module documentation).
pub fn diff(a: &ExtentMap, b: &ExtentMap) -> EmDiff {
    let (ka, kb) = rayon::join(|| keyed(a), || keyed(b));
    // The merge is bound by random reads of the records; split the key space into stretches
    // (cut only between different keys) and merge them in parallel, keeping their order.
    let stretches = (rayon::current_num_threads() * 8).min(ka.len().max(1));
    let mut cuts = vec![(0, 0)];
    for k in 1..stretches {
        let key = ka[k * ka.len() / stretches].0;
        let cut = (
            ka.partition_point(|x| x.0 < key),
            kb.partition_point(|x| x.0 < key),
        );
        if cut.0 > cuts[cuts.len() - 1].0 {
            cuts.push(cut);
        }
    }
    cuts.push((ka.len(), kb.len()));
    let partials: Vec<Partial> = cuts
        .par_windows(2)
        .map(|w| merge(a, b, &ka[w[0].0..w[1].0], &kb[w[0].1..w[1].1]))
        .collect();
    let mut all = Partial::default();
    for p in partials {
        all.only_in_a.extend(p.only_in_a);
        all.only_in_b.extend(p.only_in_b);
        all.changed.extend(p.changed);
    }
    let equal = all.only_in_a.is_empty() && all.only_in_b.is_empty() && all.changed.is_empty();
    EmDiff {
        a_extents: a.extents.len(),
        b_extents: b.extents.len(),
        only_in_a: all.only_in_a,
        only_in_b: all.only_in_b,
        changed: all.changed,
        equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::em::cp::CasualPartition;
    use crate::em::header::EmVersion;
    use crate::types::{DbRootId, Oid};

    fn rec(start: i64, oid: i32, fbo: u32) -> ExtentRecord {
        ExtentRecord::builder(oid, start)
            .width(4)
            .block_offset(fbo)
            .cp(CasualPartition::narrow(CpState::VALID, 1, 2))
            .build()
    }

    #[test]
    fn packed_keys_sort_like_the_fields() {
        let keys = [
            ExtentAddress {
                oid: Oid(i32::MIN),
                dbroot: DbRootId(9),
                partition: 9,
                segment: 9,
                block_offset: 9,
            },
            ExtentAddress {
                oid: Oid(-1),
                dbroot: DbRootId(u16::MAX),
                partition: u32::MAX,
                segment: 0,
                block_offset: 0,
            },
            ExtentAddress {
                oid: Oid(0),
                dbroot: DbRootId(0),
                partition: 0,
                segment: 0,
                block_offset: u32::MAX,
            },
            ExtentAddress {
                oid: Oid(0),
                dbroot: DbRootId(0),
                partition: 0,
                segment: 1,
                block_offset: 0,
            },
            ExtentAddress {
                oid: Oid(0),
                dbroot: DbRootId(0),
                partition: 1,
                segment: 0,
                block_offset: 0,
            },
            ExtentAddress {
                oid: Oid(0),
                dbroot: DbRootId(1),
                partition: 0,
                segment: 0,
                block_offset: 0,
            },
            ExtentAddress {
                oid: Oid(i32::MAX),
                dbroot: DbRootId(0),
                partition: 0,
                segment: 0,
                block_offset: 0,
            },
        ];
        for w in keys.windows(2) {
            assert!(packed(w[0]) < packed(w[1]), "{} vs {}", w[0], w[1]);
            assert!(w[0] < w[1], "{} vs {}", w[0], w[1]);
        }
    }

    #[test]
    fn order_version_and_upper_halves_do_not_matter() {
        let a = ExtentMap::from_extents(vec![rec(0, 3000, 0), rec(4096, 3001, 0)]);
        let mut b = a.clone();
        b.extents.reverse();
        b.version = EmVersion::V4;
        b.extents[0].cp.lo ^= 0x77 << 80;
        b.free_list.clear();
        assert!(diff(&a, &b).is_equal());
    }

    #[test]
    fn wide_values_compare_all_sixteen_bytes() {
        let mut x = rec(0, 3000, 0);
        x.col_width = 16;
        let mut y = x;
        y.cp.lo ^= 1 << 100;
        let d = diff(
            &ExtentMap::from_extents(vec![x]),
            &ExtentMap::from_extents(vec![y]),
        );
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields.len(), 1);
        assert_eq!(d.changed[0].fields[0].field, "lo");
    }

    #[test]
    fn unmatched_and_duplicate_keys() {
        let a = ExtentMap::from_extents(vec![
            rec(0, 3000, 0),
            rec(4096, 3000, 0),
            rec(8192, 3002, 0),
        ]);
        let b = ExtentMap::from_extents(vec![rec(0, 3000, 0), rec(16384, 3003, 4096)]);
        let d = diff(&a, &b);
        assert_eq!(d.only_in_a.len(), 2);
        assert_eq!(d.only_in_a[0].lbid, 4096);
        assert_eq!(d.only_in_a[1].key.oid, Oid(3002));
        assert_eq!(d.only_in_b.len(), 1);
        assert_eq!(d.only_in_b[0].key.block_offset, 4096);
        assert!(d.changed.is_empty());
        assert_eq!(d.difference_count(), 3);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["equal"], false);
        assert_eq!(json["only_in_b"][0]["key"]["oid"], 3003);
    }
}
