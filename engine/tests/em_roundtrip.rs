//! Property tests: extent-map bytes → parse → encode round trips (V5 and V4), records →
//! encode → parse, and the fast free-list derivation against a naive transcription of
//! ColumnStore's `reserveLBIDRange` slot scan.

use emengine::em::{
    freelist::derive, CasualPartition, EmVersion, ExtentMap, ExtentRecord, FreeSlot,
};
use emengine::types::{DbRootId, Lbid, Oid};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// An independent encoder, written from the byte tables of EM §1.3–§1.5.

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

fn common(out: &mut [u8], r: &ExtentRecord) {
    put(out, 0, &r.range_start.0.to_le_bytes());
    put(out, 8, &r.range_size.to_le_bytes());
    put(out, 16, &r.oid.0.to_le_bytes());
    put(out, 20, &r.block_offset.to_le_bytes());
    put(out, 24, &r.hwm.to_le_bytes());
    put(out, 28, &r.partition.to_le_bytes());
    put(out, 32, &r.segment.to_le_bytes());
    put(out, 34, &r.dbroot.0.to_le_bytes());
    put(out, 36, &r.col_width.to_le_bytes());
    put(out, 38, &r.status.to_le_bytes());
}

fn v5_record(r: &ExtentRecord) -> Vec<u8> {
    let mut out = vec![0u8; 96];
    common(&mut out, r);
    put(&mut out, 48, &r.cp.seq_num.to_le_bytes());
    put(&mut out, 52, &r.cp.state.to_le_bytes());
    put(&mut out, 64, &r.cp.lo.to_le_bytes());
    put(&mut out, 80, &r.cp.hi.to_le_bytes());
    out
}

fn v4_record(r: &ExtentRecord) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    common(&mut out, r);
    put(&mut out, 40, &(r.cp.hi as i64).to_le_bytes());
    put(&mut out, 48, &(r.cp.lo as i64).to_le_bytes());
    put(&mut out, 56, &r.cp.seq_num.to_le_bytes());
    put(&mut out, 60, &r.cp.state.to_le_bytes());
    out
}

fn file_bytes(version: EmVersion, records: &[ExtentRecord], fl: &[FreeSlot]) -> Vec<u8> {
    let magic: u32 = match version {
        EmVersion::V4 => 0x76F7_8B1F,
        EmVersion::V5 => 0x76F7_8B20,
    };
    let mut out = Vec::new();
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    out.extend_from_slice(&(fl.len() as u32).to_le_bytes());
    for r in records {
        match version {
            EmVersion::V4 => out.extend_from_slice(&v4_record(r)),
            EmVersion::V5 => out.extend_from_slice(&v5_record(r)),
        }
    }
    for s in fl {
        let mut slot = [0u8; 16];
        put(&mut slot, 0, &s.start.to_le_bytes());
        put(&mut slot, 8, &s.size.to_le_bytes());
        out.extend_from_slice(&slot);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A naive free-list derivation: ColumnStore's slot scan, one slot at a time (EM §1.10), with the
// documented skips (unaligned or out-of-space starts, repeated starts, ranges no slot contains).

fn naive_derive(sorted: &[ExtentRecord]) -> Vec<FreeSlot> {
    let mut fl = vec![FreeSlot::default(); 50];
    fl[0] = FreeSlot {
        start: 0,
        size: 1 << 26,
    };
    let mut previous = None;
    for e in sorted {
        let start = e.range_start.0;
        if previous == Some(start) {
            continue;
        }
        previous = Some(start);
        if !(0..1i64 << 36).contains(&start) || start % 1024 != 0 {
            continue;
        }
        let size = e.range_size as u8; // reserveLBIDRange(LBID_t, uint8_t)
        let len = i64::from(size) * 1024;
        let last = start + len - 1;
        let mut free_index = None;
        for i in 0..fl.len() {
            if fl[i].size == 0 {
                free_index.get_or_insert(i);
                continue;
            }
            let s = fl[i].start;
            let slot_last = s + i64::from(fl[i].size) * 1024 - 1;
            if start == s {
                if last <= slot_last {
                    fl[i].start += len;
                    fl[i].size -= u32::from(size);
                }
                break;
            } else if slot_last == last {
                if start >= s {
                    fl[i].size -= u32::from(size);
                }
                break;
            } else if s < start && slot_last > last {
                let t = match free_index {
                    Some(t) => t,
                    None => match (i + 1..fl.len()).find(|&k| fl[k].size == 0) {
                        Some(t) => t,
                        None => {
                            let t = fl.len();
                            fl.resize(t + 50, FreeSlot::default());
                            t
                        }
                    },
                };
                fl[i].size = ((start - s) / 1024) as u32;
                fl[t] = FreeSlot {
                    start: start + len,
                    size: ((slot_last - last) / 1024) as u32,
                };
                break;
            }
        }
    }
    fl
}

// ---------------------------------------------------------------------------------------------
// Strategies.

prop_compose! {
    /// A record with every field arbitrary except the range, which comes from `range`.
    fn record_with(range: BoxedStrategy<(i64, u32)>)(
        (start, size) in range,
        oid in any::<i32>(),
        (block_offset, hwm, partition) in (any::<u32>(), any::<u32>(), any::<u32>()),
        (segment, dbroot, col_width, status) in (any::<u16>(), any::<u16>(), any::<u16>(), any::<i16>()),
        (seq_num, state, lo, hi) in (any::<i32>(), any::<i8>(), any::<i128>(), any::<i128>()),
    ) -> ExtentRecord {
        ExtentRecord {
            range_start: Lbid(start),
            range_size: size,
            oid: Oid(oid),
            block_offset,
            hwm,
            partition,
            segment,
            dbroot: DbRootId(dbroot),
            col_width,
            status,
            cp: CasualPartition { seq_num, state, lo, hi },
        }
    }
}

/// Realistic ranges (aligned, small sizes, a crowded space full of holes and overlaps) mixed
/// with arbitrary ones.
fn any_range() -> BoxedStrategy<(i64, u32)> {
    prop_oneof![
        4 => (0i64..3000, prop_oneof![Just(1u32), Just(2), Just(4), Just(8), Just(16)])
            .prop_map(|(u, s)| (u * 1024, s)),
        1 => ((1i64 << 26) - 40..(1i64 << 26) + 2, 0u32..300).prop_map(|(u, s)| (u * 1024, s)),
        1 => (any::<i64>(), any::<u32>()),
    ]
    .boxed()
}

fn sorted_records(max: usize) -> impl Strategy<Value = Vec<ExtentRecord>> {
    prop::collection::vec(record_with(any_range()), 1..max).prop_map(|mut v| {
        v.sort_by_key(|r| r.range_start);
        v
    })
}

/// The record as a V4 file keeps it: 64-bit views, HEAD's upper halves.
fn as_v4(r: &ExtentRecord) -> ExtentRecord {
    let mut cp = CasualPartition::narrow(r.cp.state, r.cp.lo as i64, r.cp.hi as i64);
    cp.seq_num = r.cp.seq_num;
    ExtentRecord { cp, ..*r }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn v5_bytes_parse_and_encode_to_the_same_bytes(records in sorted_records(120)) {
        let bytes = file_bytes(EmVersion::V5, &records, &naive_derive(&records));
        let map = ExtentMap::parse(&bytes).unwrap();
        prop_assert_eq!(map.version, EmVersion::V5);
        prop_assert_eq!(&map.extents, &records);
        prop_assert!(map.encode(EmVersion::V5) == bytes, "re-encoded V5 image differs");
    }

    #[test]
    fn v4_bytes_parse_and_encode_to_the_same_bytes(records in sorted_records(120)) {
        let bytes = file_bytes(EmVersion::V4, &records, &naive_derive(&records));
        let map = ExtentMap::parse(&bytes).unwrap();
        prop_assert_eq!(map.version, EmVersion::V4);
        let expected: Vec<_> = records.iter().map(as_v4).collect();
        prop_assert_eq!(&map.extents, &expected);
        prop_assert!(map.encode(EmVersion::V4) == bytes, "re-encoded V4 image differs");
    }

    #[test]
    fn records_encode_and_parse_back(mut records in prop::collection::vec(record_with(any_range()), 1..120)) {
        let map = ExtentMap { version: EmVersion::V5, extents: records.clone(), free_list: Vec::new() };
        let v5 = ExtentMap::parse(&map.encode(EmVersion::V5)).unwrap();
        let v4 = ExtentMap::parse(&map.encode(EmVersion::V4)).unwrap();
        records.sort_by_key(|r| r.range_start);
        prop_assert_eq!(&v5.extents, &records);
        prop_assert_eq!(v4.extents, records.iter().map(as_v4).collect::<Vec<_>>());
        let fl = naive_derive(&records);
        prop_assert_eq!(&v5.free_list, &fl);
        prop_assert_eq!(v5.free_list.len() % 50, 0);
    }

    #[test]
    fn unsorted_files_parse_in_file_order_and_encode_sorted(records in sorted_records(60)) {
        let mut shuffled = records.clone();
        shuffled.reverse();
        let bytes = file_bytes(EmVersion::V5, &shuffled, &[]);
        let map = ExtentMap::parse(&bytes).unwrap();
        prop_assert_eq!(&map.extents, &shuffled);
        // Reversal puts equal starts in reverse file order; a stable sort keeps that.
        let mut expected = shuffled.clone();
        expected.sort_by_key(|r| r.range_start);
        let again = ExtentMap::parse(&map.encode(EmVersion::V5)).unwrap();
        prop_assert_eq!(again.extents, expected);
    }

    #[test]
    fn fast_free_list_equals_the_naive_scan(records in sorted_records(400)) {
        prop_assert_eq!(derive(&records), naive_derive(&records));
    }
}

/// Many holes: one extent every other 8-unit stripe forces hundreds of splits and growths.
#[test]
fn fast_free_list_equals_naive_with_many_holes() {
    let records: Vec<_> = (0..2000i64)
        .map(|k| {
            ExtentRecord::builder(3000, k * 16 * 1024 + (k % 3) * 1024)
                .cp(CasualPartition::narrow(2, 1, 2))
                .build()
        })
        .collect();
    let fast = derive(&records);
    assert_eq!(fast, naive_derive(&records));
    assert_eq!(fast.len(), 2000);
    assert_eq!(fast.iter().filter(|s| !s.is_empty()).count(), 2000);
}
