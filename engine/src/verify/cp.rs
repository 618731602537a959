//! Casual partitioning of a map's extent against what the data establishes (EM §2).
//!
//! ColumnStore eliminates an extent when a predicate falls outside its CP_VALID `[lo, hi]`. A
//! valid range that excludes a value on disk therefore gives wrong query results (`Unsafe`); one
//! that holds every value but is wider only costs elimination (`Loose`). Ranges are compared in
//! the column's own order: the order keys of [`Domain::key`] for narrow columns (signed or
//! unsigned, as the rebuild's scan computes them, [`kernel_for`]), `i128` for 16-byte decimals
//! (as the scan compares them). An extent without any value holds the "valid but empty" pair
//! (lo above hi, EM §2.2), which excludes everything and is exact for it.

use crate::em::{CpState, ExtentRecord};
use crate::rebuild::kernel::kernel_for;
use crate::rebuild::kind::{ObjectKind, StringCp};
use crate::rebuild::stats::Domain;
use crate::seg::datatype::ColDataType;

/// How a map's CP compares with the data's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpVerdict {
    /// The data establishes no range (FLOAT/DOUBLE, strings, tokens, dictionaries): nothing to
    /// compare; ColumnStore does not eliminate on such a range either way.
    NotEstablished,
    /// The same range (or both hold no value).
    Same,
    /// Valid and holds every value on disk, but wider.
    Loose,
    /// Valid but excludes values on disk.
    Unsafe,
    /// The map's range is not valid (invalid, updating or an unknown state) where the data knows it.
    Invalid,
}

/// Which orders to compare in: the column's when its type is known, else both integer orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Narrow(Domain),
    Wide,
}

fn orders(data_type: Option<ColDataType>, width: u16) -> Vec<Order> {
    if width == 16 {
        return vec![Order::Wide];
    }
    match data_type {
        Some(dt) => {
            let kind = ObjectKind::Column {
                data_type: dt,
                width,
            };
            match kernel_for(kind, false, StringCp::Invalid).1 {
                Domain::None => Vec::new(),
                d => vec![Order::Narrow(d)],
            }
        }
        None => vec![
            Order::Narrow(Domain::Signed),
            Order::Narrow(Domain::Unsigned),
        ],
    }
}

/// `(lo, hi)` as order keys; `None` for the "valid but empty" pair (lo above hi).
fn range(e: &ExtentRecord, order: Order) -> Option<(i128, i128)> {
    let (lo, hi) = match order {
        Order::Wide => (e.cp.lo, e.cp.hi),
        Order::Narrow(d) => (
            i128::from(d.key(e.cp.lo_i64() as u64, 8)),
            i128::from(d.key(e.cp.hi_i64() as u64, 8)),
        ),
    };
    (lo <= hi).then_some((lo, hi))
}

/// Compare the CP of `map` with the CP the rebuild computed from the values on disk (`data`).
/// `data_type` is the column's type, where the catalog gives it.
pub fn compare(
    map: &ExtentRecord,
    data: &ExtentRecord,
    data_type: Option<ColDataType>,
) -> CpVerdict {
    if data.cp.cp_state() != CpState::Valid || data.col_width == 0 {
        return CpVerdict::NotEstablished;
    }
    let mut orders = orders(data_type, data.col_width);
    // Without a type, an order in which the data's own range is empty is not the data's order
    // (the rebuild computed that range in its column's order); keep both if neither or both fit.
    if data_type.is_none() && orders.iter().any(|&o| range(data, o).is_some()) {
        orders.retain(|&o| range(data, o).is_some());
    }
    if orders.is_empty() {
        return CpVerdict::NotEstablished;
    }
    if map.cp.cp_state() != CpState::Valid {
        return CpVerdict::Invalid;
    }
    let mut verdict = CpVerdict::Same;
    for order in orders {
        let v = match (range(map, order), range(data, order)) {
            (None, None) => CpVerdict::Same,
            (Some(_), None) => CpVerdict::Loose,
            (None, Some(_)) => CpVerdict::Unsafe,
            (Some((ml, mh)), Some((dl, dh))) if ml <= dl && dh <= mh => {
                if (ml, mh) == (dl, dh) {
                    CpVerdict::Same
                } else {
                    CpVerdict::Loose
                }
            }
            (Some(_), Some(_)) => CpVerdict::Unsafe,
        };
        verdict = match (verdict, v) {
            (CpVerdict::Unsafe, _) | (_, CpVerdict::Unsafe) => CpVerdict::Unsafe,
            (CpVerdict::Loose, _) | (_, CpVerdict::Loose) => CpVerdict::Loose,
            _ => CpVerdict::Same,
        };
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::em::CasualPartition;
    use crate::types::{DbRootId, Lbid, Oid};

    fn rec(width: u16, cp: CasualPartition) -> ExtentRecord {
        ExtentRecord {
            range_start: Lbid(0),
            range_size: 8,
            oid: Oid(3001),
            block_offset: 0,
            hwm: 0,
            partition: 0,
            segment: 0,
            dbroot: DbRootId(1),
            col_width: width,
            status: 0,
            cp,
        }
    }

    const V: i8 = CpState::VALID;

    #[test]
    fn signed_and_unsigned_orders_differ_across_the_sign_bit() {
        // Data: -1 and 5 as signed; as UBIGINT the same bytes are 5 and 2^64 - 1.
        let data = rec(8, CasualPartition::narrow(V, -1, 5));
        let signed_map = rec(8, CasualPartition::narrow(V, -10, 10));
        assert_eq!(
            compare(&signed_map, &data, Some(ColDataType::BigInt)),
            CpVerdict::Loose
        );
        // Unsigned data 5..=u64::MAX is stored as lo 5, hi -1.
        let udata = rec(8, CasualPartition::narrow(V, 5, -1));
        let umap = rec(8, CasualPartition::narrow(V, 0, -1));
        assert_eq!(
            compare(&umap, &udata, Some(ColDataType::UBigInt)),
            CpVerdict::Loose
        );
        // The signed reading of the same map is the empty pair (0 > -1), which excludes the
        // signed data -1..=5.
        assert_eq!(
            compare(&umap, &data, Some(ColDataType::BigInt)),
            CpVerdict::Unsafe
        );
        // Without a type, the data's own range tells the order: it is not empty in its order.
        assert_eq!(compare(&umap, &udata, None), CpVerdict::Loose);
        assert_eq!(compare(&signed_map, &data, None), CpVerdict::Loose);
    }

    #[test]
    fn wide_decimals_compare_all_16_bytes() {
        let big = 1i128 << 100;
        let data = rec(16, CasualPartition::wide(V, -big, big));
        let narrower = rec(16, CasualPartition::wide(V, -big, big - 1));
        assert_eq!(
            compare(&narrower, &data, Some(ColDataType::Decimal)),
            CpVerdict::Unsafe
        );
        assert_eq!(
            compare(&data, &data, Some(ColDataType::Decimal)),
            CpVerdict::Same
        );
    }

    #[test]
    fn empty_pair_invalid_and_unestablished() {
        let empty = rec(4, CasualPartition::narrow(V, i64::MAX, i64::MIN));
        let some = rec(4, CasualPartition::narrow(V, 1, 2));
        assert_eq!(
            compare(&empty, &some, Some(ColDataType::Int)),
            CpVerdict::Unsafe
        );
        assert_eq!(
            compare(&some, &empty, Some(ColDataType::Int)),
            CpVerdict::Loose
        );
        assert_eq!(
            compare(&empty, &empty, Some(ColDataType::Int)),
            CpVerdict::Same
        );
        let invalid = rec(4, CasualPartition::narrow(CpState::INVALID, 1, 2));
        assert_eq!(
            compare(&invalid, &some, Some(ColDataType::Int)),
            CpVerdict::Invalid
        );
        assert_eq!(
            compare(&some, &invalid, Some(ColDataType::Int)),
            CpVerdict::NotEstablished
        );
        assert_eq!(
            compare(&invalid, &some, Some(ColDataType::Double)),
            CpVerdict::NotEstablished
        );
    }
}
