//! Golden bytes: hand-built records against their exact V5 (96-byte) and V4 (64-byte) images,
//! and the free-list example of EM §1.10.

use emengine::em::{
    CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord, FreeSlot, SentinelKind,
};
use emengine::types::{DbRootId, Lbid, Oid};

/// Parse whitespace-separated hex bytes.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn wide_record() -> ExtentRecord {
    let mut cp = CasualPartition::wide(
        CpState::UPDATING,
        -2,
        0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
    );
    cp.seq_num = 7;
    ExtentRecord {
        range_start: Lbid(1_048_576),
        range_size: 16,
        oid: Oid(3105),
        block_offset: 4096,
        hwm: 5000,
        partition: 3,
        segment: 2,
        dbroot: DbRootId(4),
        col_width: 16,
        status: 1,
        cp,
    }
}

#[test]
fn wide_record_v5_image() {
    let expected = hex("00 00 10 00 00 00 00 00  10 00 00 00  00 00 00 00
         21 0c 00 00  00 10 00 00  88 13 00 00  03 00 00 00
         02 00  04 00  10 00  01 00  00 00 00 00 00 00 00 00
         07 00 00 00  01  00 00 00 00 00 00 00 00 00 00 00
         fe ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff
         10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01");
    assert_eq!(expected.len(), 96);
    let r = wide_record();
    assert_eq!(r.encode_v5().to_vec(), expected);
    assert_eq!(ExtentRecord::parse(&expected, EmVersion::V5).unwrap(), r);
}

#[test]
fn wide_record_v4_image_keeps_low_halves_only() {
    let expected = hex("00 00 10 00 00 00 00 00  10 00 00 00  00 00 00 00
         21 0c 00 00  00 10 00 00  88 13 00 00  03 00 00 00
         02 00  04 00  10 00  01 00
         10 32 54 76 98 ba dc fe
         fe ff ff ff ff ff ff ff
         07 00 00 00  01  00 00 00");
    assert_eq!(expected.len(), 64);
    let r = wide_record();
    assert_eq!(r.encode_v4().to_vec(), expected);
    let back = ExtentRecord::parse(&expected, EmVersion::V4).unwrap();
    assert_eq!(back.cp.lo_i64(), -2);
    assert_eq!(back.cp.hi_i64(), 0xfedc_ba98_7654_3210_u64 as i64);
    assert_eq!(back.cp.seq_num, 7);
    assert_eq!(back.cp.cp_state(), CpState::Updating);
}

/// Record 0 of the real V4 system-catalog file (EM §6.2) and its V4→V5 upgrade.
#[test]
fn syscat_record_zero_v4_and_upgraded_v5() {
    let v4 = hex("00 00 00 00 00 00 00 00  08 00 00 00  00 00 00 00
         e9 03 00 00  00 00 00 00  00 00 00 00  00 00 00 00
         00 00  01 00  08 00  00 00
         00 00 00 00 00 00 00 80
         ff ff ff ff ff ff ff 7f
         00 00 00 00  02  00 00 00");
    let v5 = hex("00 00 00 00 00 00 00 00  08 00 00 00  00 00 00 00
         e9 03 00 00  00 00 00 00  00 00 00 00  00 00 00 00
         00 00  01 00  08 00  00 00  00 00 00 00 00 00 00 00
         00 00 00 00  02  00 00 00 00 00 00 00 00 00 00 00
         ff ff ff ff ff ff ff 7f  ff ff ff ff ff ff ff 7f
         00 00 00 00 00 00 00 80  00 00 00 00 00 00 00 80");
    let r = ExtentRecord::parse(&v4, EmVersion::V4).unwrap();
    let built = ExtentRecord {
        range_start: Lbid(0),
        range_size: 8,
        oid: Oid(1001),
        block_offset: 0,
        hwm: 0,
        partition: 0,
        segment: 0,
        dbroot: DbRootId(1),
        col_width: 8,
        status: 0,
        cp: CasualPartition::sentinel(SentinelKind::SignedNarrow, CpState::VALID),
    };
    assert_eq!(r, built);
    assert_eq!(r.encode_v5().to_vec(), v5);
    assert_eq!(r.encode_v4().to_vec(), v4);
}

/// Upper halves of narrow values that are not HEAD's pattern (pre-RB-tree V5 builds wrote
/// zeros) survive a read and a write.
#[test]
fn zero_upper_halves_survive() {
    let mut r = wide_record();
    r.col_width = 4;
    r.cp.lo = 5;
    r.cp.hi = 9;
    let image = r.encode_v5();
    assert_eq!(&image[72..80], &[0u8; 8]);
    assert_eq!(&image[88..96], &[0u8; 8]);
    assert_eq!(ExtentRecord::from_v5(&image).encode_v5(), image);
}

/// EM §1.10: extents [0, 8192) and [16384, 24576) give FL[0] = {8192, 8} (the hole) and
/// FL[1] = {24576, 67108840}.
#[test]
fn free_list_example_of_the_spec() {
    let mk = |start: i64| ExtentRecord {
        range_start: Lbid(start),
        range_size: 8,
        oid: Oid(3000 + start as i32 / 8192),
        block_offset: 0,
        hwm: 0,
        partition: 0,
        segment: 0,
        dbroot: DbRootId(1),
        col_width: 8,
        status: 0,
        cp: CasualPartition::sentinel(SentinelKind::SignedNarrow, CpState::INVALID),
    };
    // Given out of order: from_extents sorts.
    let map = ExtentMap::from_extents(vec![mk(16384), mk(0)]);
    assert_eq!(
        map.free_list[0],
        FreeSlot {
            start: 8192,
            size: 8
        }
    );
    assert_eq!(
        map.free_list[1],
        FreeSlot {
            start: 24576,
            size: 67_108_840
        }
    );
    let bytes = map.encode(EmVersion::V5);
    assert_eq!(bytes.len(), 12 + 2 * 96 + 50 * 16);
    assert_eq!(&bytes[8..12], &50u32.to_le_bytes());
    let fl = 12 + 2 * 96;
    assert_eq!(
        &bytes[fl..fl + 16],
        &hex("00 20 00 00 00 00 00 00 08 00 00 00 00 00 00 00")[..]
    );
    assert_eq!(
        &bytes[fl + 16..fl + 32],
        &hex("00 60 00 00 00 00 00 00 e8 ff ff 03 00 00 00 00")[..]
    );
    assert!(bytes[fl + 32..].iter().all(|&b| b == 0));
    // Records come out in ascending LBID order.
    assert_eq!(&bytes[12..20], &0i64.to_le_bytes());
    assert_eq!(&bytes[12 + 96..12 + 104], &16384i64.to_le_bytes());
}
