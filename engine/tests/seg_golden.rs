//! Golden bytes from the segment spec, and the real ColumnStore sample files in
//! `../shared/real` (skipped when absent; failing instead under `CI=true`).

use emengine::seg::chunk::checksum;
use emengine::seg::datatype::ColDataType;
use emengine::seg::dict::{empty_dict_block, is_empty_dict_block, DictBlock};
use emengine::seg::file::{typed_view, Access, Layout, SegmentFile};
use emengine::seg::markers::markers;
use emengine::seg::path::{parse_segment_path, segment_rel_path};
use emengine::seg::token::{Token, TOKEN_EMPTY, TOKEN_NULL};
use emengine::types::{Oid, SegmentId, BLOCK_SIZE};
use std::path::Path;

#[test]
fn seg_empty_dictionary_block_bytes() {
    let b = empty_dict_block();
    assert_eq!(
        b[..14],
        [0xf2, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xff]
    );
    assert!(b[14..].iter().all(|&x| x == 0));
    assert!(is_empty_dict_block(&b));
}

#[test]
fn seg_token_example() {
    let t = Token {
        op: 5,
        lbid: 123_456,
        bc: 2,
    };
    assert_eq!(t.encode(), 0x0000_8000_0789_0005);
    assert_eq!(Token::decode(0x0000_8000_0789_0005), t);
    assert_eq!(TOKEN_NULL, 0xFFFF_FFFF_FFFF_FFFE);
    assert_eq!(TOKEN_EMPTY, 0xFFFF_FFFF_FFFF_FFFF);
    let m = markers(ColDataType::Varchar, 8);
    assert!(m.is_null(u128::from(TOKEN_NULL)) && m.is_empty(u128::from(TOKEN_EMPTY)));
}

#[test]
fn seg_checksum_vectors() {
    assert_eq!(checksum(b""), 0x0000_0000);
    assert_eq!(checksum(b"a"), 0xf659_7889);
    assert_eq!(checksum(b"abc"), 0x3fad_7867);
    assert_eq!(
        checksum(b"The quick brown fox jumps over the lazy dog"),
        0xbc07_1b6c
    );
    assert_eq!(checksum(&[0xAB; 4096]), 0x9a30_2159);
}

#[test]
fn seg_path_example_3009() {
    let id = SegmentId {
        oid: Oid(3009),
        partition: 0,
        segment: 0,
    };
    let p = Path::new("data1/000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf");
    assert_eq!(parse_segment_path(p), Ok(id));
    assert_eq!(segment_rel_path(id), p.strip_prefix("data1").unwrap());
}

mod real_support;
use real_support::real;

/// Block 0 of a real file, read through the segment-file interface.
fn only_block(path: &Path) -> Vec<u8> {
    let f = SegmentFile::open(path, Access::Mmap).unwrap();
    assert_eq!(f.layout(), &Layout::Uncompressed { blocks: 1 });
    let mut scratch = Vec::new();
    f.chunk_data(0, &mut scratch).unwrap().to_vec()
}

const NATIONS: [&str; 25] = [
    "ALGERIA",
    "ARGENTINA",
    "BRAZIL",
    "CANADA",
    "EGYPT",
    "ETHIOPIA",
    "FRANCE",
    "GERMANY",
    "INDIA",
    "INDONESIA",
    "IRAN",
    "IRAQ",
    "JAPAN",
    "JORDAN",
    "KENYA",
    "MOROCCO",
    "MOZAMBIQUE",
    "PERU",
    "CHINA",
    "ROMANIA",
    "SAUDI ARABIA",
    "VIETNAM",
    "RUSSIA",
    "UNITED KINGDOM",
    "UNITED STATES",
];

#[test]
fn seg_real_dictblock() {
    let Some(path) = real("dictblock.cdf") else {
        return;
    };
    let block = only_block(&path);
    let d = DictBlock::parse(&block).unwrap();
    assert_eq!(d.count(), 50);
    assert_eq!(d.free, 7724);
    assert_eq!(d.next, 0);
    assert!(!d.is_empty() && !is_empty_dict_block(&block));
    assert_eq!(d.string(1), Some(&b"XLGERIA"[..]));
    assert_eq!(d.string(50), Some(&b"UNITED STATES"[..]));
    assert_eq!(&block[112..114], &[0xff, 0xff], "end marker at byte 112");
    assert_eq!(&block[8185..8192], b"XLGERIA");
    assert_eq!(&block[7838..7851], b"UNITED STATES");
    for (i, name) in NATIONS.iter().enumerate() {
        let x = format!("X{}", &name[1..]);
        assert_eq!(
            d.string(i as u16 + 1),
            Some(x.as_bytes()),
            "string {}",
            i + 1
        );
        assert_eq!(
            d.string(i as u16 + 26),
            Some(name.as_bytes()),
            "string {}",
            i + 26
        );
    }
    let total: usize = d.strings().map(<[u8]>::len).sum();
    assert_eq!(total, 354);
    assert_eq!(usize::from(d.free), BLOCK_SIZE - 14 - (total + 2 * 50));
    assert!(block[114..7838].iter().all(|&b| b == 0));
}

#[test]
fn seg_real_col1block() {
    let Some(path) = real("colblocks/col1block.cdf") else {
        return;
    };
    let block = only_block(&path);
    let as_i8 = typed_view::<i8>(&block);
    for (i, &v) in as_i8.iter().enumerate() {
        assert_eq!(v, (i % 256) as u8 as i8);
    }
    for (dt, null, empty) in [
        (ColDataType::TinyInt, 0x80, 0x81),
        (ColDataType::UTinyInt, 0xFE, 0xFF),
    ] {
        let m = markers(dt, 1);
        let nulls = block.iter().filter(|&&b| m.is_null(u128::from(b))).count();
        let empties = block.iter().filter(|&&b| m.is_empty(u128::from(b))).count();
        assert_eq!((nulls, empties), (32, 32), "{dt}");
        assert!(m.is_null(null) && m.is_empty(empty));
    }
}

#[test]
fn seg_real_integer_blocks() {
    if let Some(p) = real("colblocks/col2block.cdf") {
        let v = typed_view::<i16>(&only_block(&p)).into_owned();
        assert_eq!(v, (0..4096).collect::<Vec<i16>>());
    }
    if let Some(p) = real("colblocks/col4block.cdf") {
        let v = typed_view::<i32>(&only_block(&p)).into_owned();
        assert_eq!(v, (0..2048).collect::<Vec<i32>>());
    }
    if let Some(p) = real("colblocks/col8block.cdf") {
        let v = typed_view::<i64>(&only_block(&p)).into_owned();
        assert_eq!(v, (0..1024).collect::<Vec<i64>>());
    }
    if let Some(p) = real("colblocks/col8block_neg.cdf") {
        let v = typed_view::<i64>(&only_block(&p)).into_owned();
        assert_eq!(v, (-512..512).collect::<Vec<i64>>());
    }
    if let Some(p) = real("colblocks/col8block_overflow.cdf") {
        let block = only_block(&p);
        assert!(typed_view::<i64>(&block).iter().all(|&x| x == i64::MAX));
        let m = markers(ColDataType::BigInt, 8);
        assert!(block
            .chunks_exact(8)
            .all(|v| !m.is_null(m.value_of(v)) && !m.is_empty(m.value_of(v))));
    }
    if let Some(p) = real("colblocks/col8block_overflow_neg.cdf") {
        let block = only_block(&p);
        let v = typed_view::<i64>(&block);
        assert!(v[..401].iter().all(|&x| x == i64::MAX));
        assert!(v[401..].iter().all(|&x| x == i64::MIN));
        let m = markers(ColDataType::BigInt, 8);
        let nulls = block
            .chunks_exact(8)
            .filter(|v| m.is_null(m.value_of(v)))
            .count();
        assert_eq!(nulls, 623, "INT64_MIN is the BIGINT NULL");
    }
}

#[test]
fn seg_real_float_blocks() {
    let cases: [(&str, f64, usize, f64); 4] = [
        ("colblocks/col_float_block.cdf", 1.5, 2048, 1025.0),
        ("colblocks/col_double_block.cdf", 1.5, 1024, 513.0),
        ("colblocks/col_neg_float.cdf", -10.5, 2048, 1013.0),
        ("colblocks/col_neg_double.cdf", -10.5, 1024, 501.0),
    ];
    for (name, first, n, last) in cases {
        let Some(p) = real(name) else { continue };
        let block = only_block(&p);
        let values: Vec<f64> = if n == 2048 {
            let m = markers(ColDataType::Float, 4);
            assert!(block
                .chunks_exact(4)
                .all(|v| !m.is_null(m.value_of(v)) && !m.is_empty(m.value_of(v))));
            typed_view::<f32>(&block)
                .iter()
                .map(|&x| f64::from(x))
                .collect()
        } else {
            let m = markers(ColDataType::Double, 8);
            assert!(block
                .chunks_exact(8)
                .all(|v| !m.is_null(m.value_of(v)) && !m.is_empty(m.value_of(v))));
            typed_view::<f64>(&block).into_owned()
        };
        assert_eq!(values.len(), n, "{name}");
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(v, first + 0.5 * i as f64, "{name} value {i}");
        }
        assert_eq!(values[n - 1], last, "{name}");
    }
}
