//! Golden bytes: hand-built records against their exact V5 (96-byte) and V4 (64-byte) images,
//! the creation sentinels of every column type and width in both images (EM §2.2), V4-era
//! sentinels read from the real V4 map, and whole files with the free list of EM §1.10.

use emengine::em::{
    CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord, FreeSlot, SentinelKind,
};
use emengine::seg::datatype::ColDataType::{self, *};

mod real_support;

/// Parse whitespace-separated hex bytes; `xx*n` repeats a byte n times.
fn hex(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        match tok.split_once('*') {
            Some((b, n)) => out.extend(std::iter::repeat_n(
                u8::from_str_radix(b, 16).unwrap(),
                n.parse().unwrap(),
            )),
            None => out.push(u8::from_str_radix(tok, 16).unwrap()),
        }
    }
    out
}

/// EM §2.2 sentinel pairs as stored: V5 `bigLoVal`, `bigHiVal` (bytes 64..96, HEAD's upper
/// halves for narrow columns, EM §1.9) and V4 `hi_val`, `lo_val` (bytes 40..56, hi first).
struct Pair {
    v5_lo: &'static str,
    v5_hi: &'static str,
    v4_hi: &'static str,
    v4_lo: &'static str,
}

/// Signed, width ≠ 16: INT64_MAX / INT64_MIN.
const SIGNED_NARROW: Pair = Pair {
    v5_lo: "ff*7 7f ff*7 7f",
    v5_hi: "00*7 80 00*7 80",
    v4_hi: "00*7 80",
    v4_lo: "ff*7 7f",
};
/// Unsigned or character (`isUnsigned()`), width ≠ 16: UINT64_MAX (−1) / 0.
const UNSIGNED_NARROW: Pair = Pair {
    v5_lo: "ff*8 ff*7 7f",
    v5_hi: "00*8 00*7 80",
    v4_hi: "00*8",
    v4_lo: "ff*8",
};
/// Signed width 16: INT128_MAX / INT128_MIN (not writable as V4: the low halves are shown).
const SIGNED_WIDE: Pair = Pair {
    v5_lo: "ff*15 7f",
    v5_hi: "00*15 80",
    v4_hi: "00*8",
    v4_lo: "ff*8",
};
/// Dictionary stores (width 0): INT128_MAX / INT128_MIN in V5; in V4 INT64_MAX / INT64_MIN,
/// as the 8 dictionary records of the real V4 map hold them (EM §6.2: `00*7 80` at record
/// offset 40, `ff*7 7f` at 48), not the low halves of the 128-bit pair.
const DICTIONARY: Pair = Pair {
    v5_lo: "ff*15 7f",
    v5_hi: "00*15 80",
    v4_hi: "00*7 80",
    v4_lo: "ff*7 7f",
};

/// EM §2.2 (`isUnsigned()` = UTINYINT … UBIGINT, CHAR, VARCHAR, TEXT, VARBINARY; UDECIMAL,
/// UFLOAT, UDOUBLE, DATE, BLOB are not in it), every type at every storage width (SEG §2.2).
#[rustfmt::skip]
const SENTINELS: &[(ColDataType, u16, Pair)] = &[
    (TinyInt, 1, SIGNED_NARROW), (SmallInt, 2, SIGNED_NARROW), (MedInt, 4, SIGNED_NARROW),
    (Int, 4, SIGNED_NARROW), (BigInt, 8, SIGNED_NARROW),
    (Decimal, 1, SIGNED_NARROW), (Decimal, 2, SIGNED_NARROW), (Decimal, 4, SIGNED_NARROW),
    (Decimal, 8, SIGNED_NARROW), (UDecimal, 1, SIGNED_NARROW), (UDecimal, 8, SIGNED_NARROW),
    (Float, 4, SIGNED_NARROW), (UFloat, 4, SIGNED_NARROW), (Double, 8, SIGNED_NARROW),
    (UDouble, 8, SIGNED_NARROW), (Date, 4, SIGNED_NARROW), (DateTime, 8, SIGNED_NARROW),
    (Time, 8, SIGNED_NARROW), (Timestamp, 8, SIGNED_NARROW),
    (Blob, 8, SIGNED_NARROW), (Clob, 8, SIGNED_NARROW),
    (UTinyInt, 1, UNSIGNED_NARROW), (USmallInt, 2, UNSIGNED_NARROW), (UMedInt, 4, UNSIGNED_NARROW),
    (UInt, 4, UNSIGNED_NARROW), (UBigInt, 8, UNSIGNED_NARROW),
    (Char, 1, UNSIGNED_NARROW), (Char, 2, UNSIGNED_NARROW), (Char, 4, UNSIGNED_NARROW),
    (Char, 8, UNSIGNED_NARROW), (Varchar, 2, UNSIGNED_NARROW), (Varchar, 4, UNSIGNED_NARROW),
    (Varchar, 8, UNSIGNED_NARROW), (Text, 8, UNSIGNED_NARROW), (VarBinary, 8, UNSIGNED_NARROW),
    (Decimal, 16, SIGNED_WIDE), (UDecimal, 16, SIGNED_WIDE),
    (Varchar, 0, DICTIONARY), // dictionary store
];

#[test]
fn creation_sentinels_of_every_type_and_width_in_both_images() {
    for (dt, w, pair) in SENTINELS {
        let cp = CasualPartition::sentinel(SentinelKind::for_column(*dt, *w), CpState::INVALID);
        let rec = ExtentRecord {
            col_width: *w,
            cp,
            ..wide_record()
        };
        let v5 = rec.encode_v5();
        let v4 = rec.encode_v4();
        assert_eq!(
            &v5[48..64],
            &hex("00*16")[..],
            "{dt} {w}: V5 seq, state, pad"
        );
        assert_eq!(v5[64..80].to_vec(), hex(pair.v5_lo), "{dt} {w}: V5 lo");
        assert_eq!(v5[80..96].to_vec(), hex(pair.v5_hi), "{dt} {w}: V5 hi");
        assert_eq!(v4[40..48].to_vec(), hex(pair.v4_hi), "{dt} {w}: V4 hi");
        assert_eq!(v4[48..56].to_vec(), hex(pair.v4_lo), "{dt} {w}: V4 lo");
        assert_eq!(
            &v4[56..64],
            &hex("00*8")[..],
            "{dt} {w}: V4 seq, state, pad"
        );
    }
}

/// The real V4 map (EM §6.2, written before MCOL-641 and MCOL-4580): its catalog column
/// extents are CP_VALID with the signed pair (CHAR and token columns included; UBIGINT 1042
/// with −1/0), and its dictionary extents CP_INVALID with the *signed* 64-bit pair, not the
/// i128 pair HEAD gives them (EM §2.2). A V4 file is read and written back as it is.
#[test]
fn v4_era_sentinels_of_the_real_map() {
    let Some((_, bytes)) = real_support::real_bytes("BRM_saves_em.v4-syscat") else {
        return;
    };
    let rec = |i: usize| &bytes[12 + 64 * i..12 + 64 * (i + 1)];
    // Record 0: OID 1001 (BIGINT), CP_VALID, hi INT64_MIN, lo INT64_MAX, seq 0.
    assert_eq!(&rec(0)[16..20], &hex("e9 03 00 00")[..]);
    assert_eq!(
        rec(0)[40..64].to_vec(),
        hex("00*7 80  ff*7 7f  00 00 00 00  02 00 00 00")
    );
    // Record 1: OID 2001 (dictionary, colWid 0), CP_INVALID, the signed pair.
    assert_eq!(&rec(1)[16..20], &hex("d1 07 00 00")[..]);
    assert_eq!(&rec(1)[36..38], &hex("00 00")[..]);
    assert_eq!(
        rec(1)[40..64].to_vec(),
        hex("00*7 80  ff*7 7f  00 00 00 00  00 00 00 00")
    );
    let r1 = ExtentRecord::parse(rec(1), EmVersion::V4).unwrap();
    assert_eq!(r1.encode_v4().to_vec(), rec(1).to_vec());
    // HEAD creates the same extent with lo −1, hi 0 in the 64-bit views.
    let head = CasualPartition::sentinel(SentinelKind::Dictionary, CpState::INVALID);
    assert_ne!(
        (head.lo_i64(), head.hi_i64()),
        (r1.cp.lo_i64(), r1.cp.hi_i64())
    );
    // OID 1042 (UBIGINT): CP_VALID with the unsigned pair.
    let i = (0..41)
        .find(|&i| rec(i)[16..20] == hex("12 04 00 00")[..])
        .expect("OID 1042 is in the real map");
    assert_eq!(
        rec(i)[40..64].to_vec(),
        hex("00*8  ff*8  00 00 00 00  02 00 00 00")
    );
}

/// A whole V4 file and a whole V5 file of the same two extents (EM §1.2–§1.6, §1.10): header
/// {magic, nEM, nFL = 50}, records in LBID order, the free list with the hole first.
#[test]
fn whole_files_v4_and_v5_with_the_free_list() {
    let mk = |start: i64, oid: i32| {
        ExtentRecord::builder(oid, start)
            .cp(CasualPartition::sentinel(
                SentinelKind::SignedNarrow,
                CpState::VALID,
            ))
            .build()
    };
    let map = ExtentMap::from_extents(vec![mk(16384, 3001), mk(0, 3000)]);
    let rec_v4 = |start: &str, oid: &str| {
        format!(
            "{start} 08 00 00 00 00*4  {oid} 00*4 00*4 00*4  00 00 01 00 08 00 00 00
             00*7 80  ff*7 7f  00*4 02 00 00 00"
        )
    };
    let fl = "00 20 00*6 08 00*3 00*4   00 60 00*6 e8 ff ff 03 00*4";
    let v4 = hex(&format!(
        "1f 8b f7 76  02 00 00 00  32 00 00 00 {} {} {fl} {}",
        rec_v4("00*8", "b8 0b 00 00"),
        rec_v4("00 40 00*6", "b9 0b 00 00"),
        "00*768"
    ));
    assert_eq!(v4.len(), 12 + 2 * 64 + 50 * 16);
    assert_eq!(map.encode(EmVersion::V4), v4);
    let rec_v5 = |start: &str, oid: &str| {
        format!(
            "{start} 08 00 00 00 00*4  {oid} 00*4 00*4 00*4  00 00 01 00 08 00 00 00  00*8
             00*4 02 00*11  ff*7 7f ff*7 7f  00*7 80 00*7 80"
        )
    };
    let v5 = hex(&format!(
        "20 8b f7 76  02 00 00 00  32 00 00 00 {} {} {fl} {}",
        rec_v5("00*8", "b8 0b 00 00"),
        rec_v5("00 40 00*6", "b9 0b 00 00"),
        "00*768"
    ));
    assert_eq!(map.encode(EmVersion::V5), v5);
    assert_eq!(ExtentMap::parse(&v4).unwrap().encode(EmVersion::V5), v5);
}

fn wide_record() -> ExtentRecord {
    ExtentRecord::builder(3105, 1_048_576)
        .width(16)
        .block_offset(4096)
        .hwm(5000)
        .partition(3)
        .segment(2)
        .dbroot(4)
        .status(1)
        .cp(CasualPartition::wide(
            CpState::UPDATING,
            -2,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ))
        .seq(7)
        .build()
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
    let built = ExtentRecord::builder(1001, 0)
        .cp(CasualPartition::sentinel(
            SentinelKind::SignedNarrow,
            CpState::VALID,
        ))
        .build();
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
    let mk = |start: i64| ExtentRecord::builder(3000 + start as i32 / 8192, start).build();
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
