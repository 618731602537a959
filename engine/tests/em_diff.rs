//! The logical diff against a plain reference (group by key in a BTreeMap, pair in file
//! order), on random maps large enough to be merged in many parallel stretches.

use emengine::em::diff::{diff, ExtentAddress};
use emengine::em::{CasualPartition, EmVersion, ExtentMap, ExtentRecord};
use emengine::types::{DbRootId, Lbid, Oid};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// (key, field, a, b) rows and unmatched (side, key, lbid) rows, from a plain reference.
type Rows = (
    Vec<(ExtentAddress, String, String, String)>,
    Vec<(char, ExtentAddress, i64)>,
);

fn reference(a: &ExtentMap, b: &ExtentMap) -> Rows {
    let mut groups: BTreeMap<ExtentAddress, (Vec<&ExtentRecord>, Vec<&ExtentRecord>)> =
        BTreeMap::new();
    for e in &a.extents {
        groups.entry(e.address()).or_default().0.push(e);
    }
    for e in &b.extents {
        groups.entry(e.address()).or_default().1.push(e);
    }
    let mut changed = Vec::new();
    let mut unmatched = Vec::new();
    for (key, (xs, ys)) in &groups {
        for k in 0..xs.len().max(ys.len()) {
            match (xs.get(k), ys.get(k)) {
                (Some(x), Some(y)) => {
                    let view = |e: &ExtentRecord, v: i128| -> i128 {
                        if e.col_width == 16 {
                            v
                        } else {
                            i128::from(v as i64)
                        }
                    };
                    let pairs = [
                        (
                            "lbid",
                            x.range_start.0.to_string(),
                            y.range_start.0.to_string(),
                        ),
                        ("size", x.range_size.to_string(), y.range_size.to_string()),
                        ("hwm", x.hwm.to_string(), y.hwm.to_string()),
                        ("width", x.col_width.to_string(), y.col_width.to_string()),
                        ("status", x.status.to_string(), y.status.to_string()),
                        ("seq", x.cp.seq_num.to_string(), y.cp.seq_num.to_string()),
                        (
                            "cp",
                            x.cp.cp_state().to_string(),
                            y.cp.cp_state().to_string(),
                        ),
                        (
                            "lo",
                            view(x, x.cp.lo).to_string(),
                            view(y, y.cp.lo).to_string(),
                        ),
                        (
                            "hi",
                            view(x, x.cp.hi).to_string(),
                            view(y, y.cp.hi).to_string(),
                        ),
                    ];
                    for (f, va, vb) in pairs {
                        if va != vb {
                            changed.push((*key, f.to_string(), va, vb));
                        }
                    }
                }
                (Some(x), None) => unmatched.push(('a', *key, x.range_start.0)),
                (None, Some(y)) => unmatched.push(('b', *key, y.range_start.0)),
                (None, None) => unreachable!(),
            }
        }
    }
    (changed, unmatched)
}

fn actual(a: &ExtentMap, b: &ExtentMap) -> (Rows, bool) {
    let d = diff(a, b);
    let changed = d
        .changed
        .iter()
        .flat_map(|c| {
            c.fields
                .iter()
                .map(move |f| (c.key, f.field.to_string(), f.a.to_string(), f.b.to_string()))
        })
        .collect();
    let mut unmatched: Vec<_> = d
        .only_in_a
        .iter()
        .map(|u| ('a', u.key, u.lbid))
        .chain(d.only_in_b.iter().map(|u| ('b', u.key, u.lbid)))
        .collect();
    // The reference interleaves sides by key; keep each side's own order when sorting.
    unmatched.sort_by_key(|(_, k, _)| *k);
    assert!(d.only_in_a.windows(2).all(|w| w[0].key <= w[1].key));
    assert!(d.only_in_b.windows(2).all(|w| w[0].key <= w[1].key));
    assert_eq!(d.a_extents, a.extents.len());
    assert_eq!(d.b_extents, b.extents.len());
    ((changed, unmatched), d.is_equal())
}

prop_compose! {
    fn record()(
        start in 0i64..1 << 20,
        oid in 3000i32..3012,
        dbroot in 1u16..3,
        partition in 0u32..3,
        segment in 0u16..2,
        fbo in prop_oneof![Just(0u32), Just(4096)],
        hwm in 0u32..3,
        width in prop_oneof![Just(0u16), Just(4), Just(16)],
        state in 0i8..4,
        (lo, hi) in (-3i128..3, any::<i128>()),
    ) -> ExtentRecord {
        ExtentRecord {
            range_start: Lbid(start * 1024),
            range_size: 4,
            oid: Oid(oid),
            block_offset: fbo,
            hwm,
            partition,
            segment,
            dbroot: DbRootId(dbroot),
            col_width: width,
            status: 0,
            cp: CasualPartition { seq_num: 0, state, lo, hi },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn diff_equals_the_reference(
        a in prop::collection::vec(record(), 0..300),
        b in prop::collection::vec(record(), 0..300),
    ) {
        let a = ExtentMap { version: EmVersion::V5, extents: a, free_list: vec![] };
        let b = ExtentMap { version: EmVersion::V4, extents: b, free_list: vec![] };
        let (want_changed, mut want_unmatched) = reference(&a, &b);
        let ((got_changed, mut got_unmatched), equal) = actual(&a, &b);
        want_unmatched.sort_by_key(|(_, k, _)| *k);
        got_unmatched.sort_by_key(|(_, k, _)| *k);
        prop_assert_eq!(&got_changed, &want_changed);
        prop_assert_eq!(&got_unmatched, &want_unmatched);
        prop_assert_eq!(equal, got_changed.is_empty() && got_unmatched.is_empty());
    }

    #[test]
    fn a_map_equals_itself_in_any_order(mut a in prop::collection::vec(record(), 1..300)) {
        let x = ExtentMap { version: EmVersion::V5, extents: a.clone(), free_list: vec![] };
        a.reverse();
        let y = ExtentMap { version: EmVersion::V4, extents: a, free_list: vec![] };
        // Equal keys keep their relative (file) order within a map, so reversing a map with
        // repeated keys may pair them differently; only maps with unique keys must be equal.
        let unique = {
            let mut keys: Vec<_> = x.extents.iter().map(ExtentRecord::address).collect();
            keys.sort();
            keys.windows(2).all(|w| w[0] != w[1])
        };
        if unique {
            prop_assert!(diff(&x, &y).is_equal());
        }
        prop_assert!(diff(&x, &x).is_equal());
    }
}
