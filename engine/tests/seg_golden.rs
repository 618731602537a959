//! Golden tables: every segment-file encoder the generator writes with (markers, control
//! header v2/v3, pointer section, chunks in both compressions, dictionary blocks, tokens,
//! paths), each row literal bytes from the segment spec (the section is cited on the row) or
//! from the real ColumnStore sample files in `../shared/real` (skipped when absent; failing instead under `CI=true`).

use emengine::seg::chunk::{
    checksum, compress_chunk, decompress_chunk, padded_len, ChunkHeader, LZ4_MAGIC, SNAPPY_MAGIC,
};
use emengine::seg::datatype::ColDataType;
use emengine::seg::dict::DictBlockBuilder;
use emengine::seg::dict::{empty_dict_block, is_empty_dict_block, DictBlock};
use emengine::seg::file::{typed_view, Access, Layout, SegmentFile};
use emengine::seg::header::{CompressionType, ControlHeader};
use emengine::seg::markers::markers;
use emengine::seg::path::{parse_segment_path, segment_rel_path};
use emengine::seg::pointers::{encode_pointers, parse_pointers};
use emengine::seg::token::{Token, TOKEN_EMPTY, TOKEN_NULL};
use emengine::seg::writer::CompressedWriter;
use emengine::types::{Oid, SegmentId, BLOCK_SIZE};
use ColDataType::*;

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

/// One row of the marker table: type, storage width, EMPTY as written, every byte pattern a
/// reader must take as NULL (the first is the one cpimport writes).
type MarkerRow = (ColDataType, u16, &'static str, &'static [&'static str]);

/// SEG §5.1, every type at every storage width it has (SEG §2.2), as on-disk bytes.
#[rustfmt::skip]
const MARKERS: &[MarkerRow] = &[
    // §5.1 TINYINT / SMALLINT / MEDINT, INT / BIGINT
    (TinyInt,   1, "81", &["80"]),
    (SmallInt,  2, "01 80", &["00 80"]),
    (MedInt,    4, "01 00 00 80", &["00 00 00 80"]),
    (Int,       4, "01 00 00 80", &["00 00 00 80"]),
    (BigInt,    8, "01 00*6 80", &["00*7 80"]),
    // §5.1 UTINYINT / USMALLINT / UMEDINT, UINT / UBIGINT
    (UTinyInt,  1, "ff", &["fe"]),
    (USmallInt, 2, "ff ff", &["fe ff"]),
    (UMedInt,   4, "ff*4", &["fe ff ff ff"]),
    (UInt,      4, "ff*4", &["fe ff ff ff"]),
    (UBigInt,   8, "ff*8", &["fe ff*7"]),
    // §5.1 DECIMAL/UDECIMAL widths 1/2/4/8: the signed markers (UDECIMAL too)
    (Decimal,   1, "81", &["80"]),
    (Decimal,   2, "01 80", &["00 80"]),
    (Decimal,   4, "01 00 00 80", &["00 00 00 80"]),
    (Decimal,   8, "01 00*6 80", &["00*7 80"]),
    (UDecimal,  1, "81", &["80"]),
    (UDecimal,  2, "01 80", &["00 80"]),
    (UDecimal,  4, "01 00 00 80", &["00 00 00 80"]),
    (UDecimal,  8, "01 00*6 80", &["00*7 80"]),
    // §5.1 DECIMAL/UDECIMAL width 16: INT128_MIN+1 / INT128_MIN
    (Decimal,  16, "01 00*14 80", &["00*15 80"]),
    (UDecimal, 16, "01 00*14 80", &["00*15 80"]),
    // §5.1 FLOAT/UFLOAT (4), DOUBLE/UDOUBLE (8)
    (Float,     4, "ab aa aa ff", &["aa aa aa ff"]),
    (UFloat,    4, "ab aa aa ff", &["aa aa aa ff"]),
    (Double,    8, "ab aa*5 fa ff", &["aa*6 fa ff"]),
    (UDouble,   8, "ab aa*5 fa ff", &["aa*6 fa ff"]),
    // §5.1 DATE (4); DATETIME, TIMESTAMP, TIME (8), also CHAR8NULL (§5.1 recommendation)
    (Date,      4, "ff*4", &["fe ff ff ff"]),
    (DateTime,  8, "ff*8", &["fe ff*7", "ff*7 fe"]),
    (Timestamp, 8, "ff*8", &["fe ff*7", "ff*7 fe"]),
    (Time,      8, "ff*8", &["fe ff*7", "ff*7 fe"]),
    // §5.1 inline CHAR/VARCHAR by storage width: the last byte FE (§2.2: VARCHAR(1) is width 2)
    (Char,      1, "ff", &["fe"]),
    (Char,      2, "ff ff", &["ff fe"]),
    (Char,      4, "ff*4", &["ff ff ff fe"]),
    (Char,      8, "ff*8", &["ff*7 fe", "fe ff*7"]),
    (Varchar,   2, "ff ff", &["ff fe"]),
    (Varchar,   4, "ff*4", &["ff ff ff fe"]),
    (Varchar,   8, "ff*8", &["ff*7 fe", "fe ff*7"]),
    // §5.1 token columns (8): the default Token, all ones but bit 0
    (Text,      8, "ff*8", &["fe ff*7"]),
    (Blob,      8, "ff*8", &["fe ff*7"]),
    (VarBinary, 8, "ff*8", &["fe ff*7"]),
    (Clob,      8, "ff*8", &["fe ff*7"]),
];

#[test]
fn seg_markers_golden_table() {
    for &(dt, w, empty, nulls) in MARKERS {
        let m = markers(dt, w);
        let empty = hex(empty);
        assert_eq!(usize::from(w), empty.len(), "{dt} {w}: row width");
        assert_eq!(m.empty_bytes(), empty, "{dt} {w}: EMPTY bytes");
        assert!(m.is_empty(m.value_of(&empty)), "{dt} {w}");
        assert!(
            !m.is_null(m.value_of(&empty)),
            "{dt} {w}: EMPTY read as NULL"
        );
        for null in nulls {
            let null = hex(null);
            assert!(
                m.is_null(m.value_of(&null)),
                "{dt} {w}: {null:02x?} not NULL"
            );
            assert!(!m.is_empty(m.value_of(&null)), "{dt} {w}");
        }
        // A value next to the markers is a value.
        let mut v = empty.clone();
        v[0] = v[0].wrapping_sub(2);
        let x = m.value_of(&v);
        assert!(!m.is_null(x) || nulls.len() > 1, "{dt} {w}: {v:02x?}");
    }
    // §5.1: the 4-byte DATE NULL is not CHAR(4)'s, UBIGINT has no second NULL.
    assert!(!markers(Date, 4).is_null(u128::from(u32::from_le_bytes([0xff, 0xff, 0xff, 0xfe]))));
    assert!(!markers(UBigInt, 8).is_null(u128::from(u64::from_le_bytes(
        hex("ff*7 fe").try_into().unwrap()
    ))));
    // §2.1: a dictionary store (width 0) has no markers.
    assert_eq!(markers(Varchar, 0).width, 0);
}

/// SEG §3.2 (layout), §3.3 (v2: only bytes 0–39): control headers as literal bytes.
#[test]
fn seg_control_header_v2_and_v3_golden() {
    let rows: [(ControlHeader, &str); 3] = [
        // v2, Snappy (type 2), header 8192, 1024 blocks; bytes 40.. zero.
        (
            ControlHeader {
                version: 2,
                compression: CompressionType::Snappy2,
                header_size: 8192,
                block_count: 1024,
                width: 0,
                data_type: 0,
                lbids: vec![],
            },
            "8e 77 d0 84 a3 19 c1 fd  02 00*7  02 00*7  00 20 00*6  00 04 00*6",
        ),
        // v3, LZ4 (type 3), BIGINT (9) width 8, 8192 blocks, two LBIDs 234496 and 1048576.
        (
            ControlHeader {
                version: 3,
                compression: CompressionType::Lz4,
                header_size: 8192,
                block_count: 8192,
                width: 8,
                data_type: 9,
                lbids: vec![234_496, 1_048_576],
            },
            "8e 77 d0 84 a3 19 c1 fd  03 00*7  03 00*7  00 20 00*6  00 20 00*6
             08 00*7  09 00 00 00  00*4  02 00*7  00 94 03 00 00*4  00 00 10 00 00*4",
        ),
        // v3 dictionary store (§3.7): VARCHAR (12) width 0, header 16384, 256 blocks.
        (
            ControlHeader {
                version: 3,
                compression: CompressionType::Snappy2,
                header_size: 16384,
                block_count: 256,
                width: 0,
                data_type: 12,
                lbids: vec![8192],
            },
            "8e 77 d0 84 a3 19 c1 fd  03 00*7  02 00*7  00 40 00*6  00 01 00*6
             00*8  0c 00 00 00  00*4  01 00*7  00 20 00*6",
        ),
    ];
    for (h, bytes) in rows {
        let mut expected = hex(bytes);
        expected.resize(4096, 0);
        assert_eq!(h.encode().to_vec(), expected, "{h:?}");
        assert_eq!(ControlHeader::parse(&expected).unwrap(), h);
    }
    // §3.3: a v2 header ignores whatever lies at 40.. (no width, type or LBIDs).
    let mut v2 = hex(
        "8e 77 d0 84 a3 19 c1 fd  02 00*7  01 00*7  00 20 00*6  00 04 00*6
                      08 00*7",
    );
    v2.resize(4096, 0);
    let h = ControlHeader::parse(&v2).unwrap();
    assert_eq!((h.version, h.width, h.lbids.len()), (2, 0, 0));
    assert_eq!(h.compression, CompressionType::Snappy1);
    assert_eq!(
        h.compression.codec(),
        "snappy",
        "§3.5: types 1 and 2 are Snappy"
    );
}

/// SEG §3.4: ptr[i] starts chunk i, ptr[n] ends the last, then 0.
#[test]
fn seg_pointer_section_golden() {
    let ptrs = [8192u64, 16384, 40960];
    let expected = hex("00 20 00*6  00 40 00*6  00 a0 00*6");
    let mut section = expected.clone();
    section.resize(4096, 0);
    assert_eq!(encode_pointers(&ptrs, 4096).unwrap(), section);
    assert_eq!(parse_pointers(&section, 4096, 40960).unwrap(), ptrs);
    // All zero: no chunks.
    assert_eq!(
        parse_pointers(&[0u8; 4096], 4096, 8192).unwrap(),
        Vec::<u64>::new()
    );
}

/// One chunk row: compression, the whole chunk as on disk, its decompressed bytes.
/// Payloads are hand-built from the Snappy raw and LZ4 block formats (varint length + literal
/// and copy tags; token + literals + offset); checksums are SEG §3.5's MurmurHash3_x64_128
/// seed 0, low 32 bits of h1, computed with the reference `mmh3.hash64` (§3.5 names it).
#[rustfmt::skip]
const CHUNKS: [(CompressionType, &str, &[u8]); 4] = [
    // §3.5 magic FD, checksum d6c08dfe… of `03 08 61 62 63`, length 5: literal "abc".
    (CompressionType::Snappy2, "fd d6 c0 8d fe 05 00 00 00  03 08 61 62 63", b"abc"),
    // §3.5 magic FC, LZ4 token 0x30 (3 literals, no match).
    (CompressionType::Lz4, "fc d2 63 2b 37 04 00 00 00  30 61 62 63", b"abc"),
    // Snappy: literal "abc", copy (1-byte offset 3, length 9), literal "XYZWV".
    (CompressionType::Snappy2,
     "fd 4c 3f e4 6e 0d 00 00 00  11 08 61 62 63 15 03 10 58 59 5a 57 56",
     b"abcabcabcabcXYZWV"),
    // LZ4: 3 literals + match (offset 3, length 9), then the 5 final literals.
    (CompressionType::Lz4,
     "fc 74 28 45 e9 0c 00 00 00  35 61 62 63 03 00 50 58 59 5a 57 56",
     b"abcabcabcabcXYZWV"),
];

#[test]
fn seg_chunks_golden_both_compressions() {
    for (c, bytes, data) in CHUNKS {
        let chunk = hex(bytes);
        let h = ChunkHeader::parse(&chunk).unwrap();
        assert_eq!(
            h.magic,
            if c == CompressionType::Lz4 {
                LZ4_MAGIC
            } else {
                SNAPPY_MAGIC
            }
        );
        assert_eq!(h.length as usize, chunk.len() - 9, "{c}");
        assert_eq!(h.checksum, checksum(&chunk[9..]), "{c}: checksum");
        assert_eq!(h.encode().to_vec(), chunk[..9].to_vec());
        let mut out = Vec::new();
        let n = decompress_chunk(&chunk, c, &mut out).unwrap();
        assert_eq!(&out[..n], data, "{c}");
        // Short inputs compress to literals only: the writer's bytes are these exactly.
        if data.len() < 4 {
            assert_eq!(compress_chunk(data, c), chunk, "{c}: writer");
        }
    }
    // §3.5 type codes: 1 and 2 Snappy, 3 LZ4.
    assert_eq!(
        CompressionType::from_code(1).map(|c| c.codec()),
        Some("snappy")
    );
    assert_eq!(
        CompressionType::from_code(2).map(|c| c.codec()),
        Some("snappy")
    );
    assert_eq!(CompressionType::from_code(3), Some(CompressionType::Lz4));
    // §3.6: 9 + L rounded up to 8192, plus CompressedPaddingBlocks × 8192.
    for (len, pad, slot) in [
        (14usize, 1u32, 16384u64),
        (8192, 1, 16384),
        (8193, 1, 24576),
        (14, 0, 8192),
    ] {
        assert_eq!(padded_len(len, pad), slot, "{len} {pad}");
    }
}

/// A whole compressed file from the writer: header, pointer section, padded chunk (§3.1–§3.6).
#[test]
fn seg_compressed_file_golden() {
    let h = ControlHeader {
        version: 3,
        compression: CompressionType::Snappy2,
        header_size: 8192,
        block_count: 32,
        width: 1,
        data_type: 1,
        lbids: vec![],
    };
    let mut w = CompressedWriter::new(std::io::Cursor::new(Vec::new()), h).unwrap();
    w.push_lbid(4096);
    w.push_chunk(b"abc", 1).unwrap();
    let file = w.finish().unwrap().into_inner();
    let mut expected = hex(
        "8e 77 d0 84 a3 19 c1 fd  03 00*7  02 00*7  00 20 00*6  20 00*7
                            01 00*7  01 00 00 00  00*4  01 00*7  00 10 00*6",
    );
    expected.resize(4096, 0);
    expected.extend(hex("00 20 00*6  00 60 00*6"));
    expected.resize(8192, 0);
    expected.extend(hex(CHUNKS[0].1));
    expected.resize(8192 + 16384, 0);
    assert_eq!(file.len(), expected.len());
    assert!(
        file == expected,
        "the written file differs from SEG §3's layout"
    );
}

/// SEG §6.1: the real dictionary block (§8) rebuilt string by string is byte-identical.
#[test]
fn seg_dictionary_block_writer_reproduces_the_real_block() {
    let Some(path) = real("dictblock.cdf") else {
        return;
    };
    let real_block = std::fs::read(path).unwrap();
    let mut b = DictBlockBuilder::new();
    let mut ops = Vec::new();
    for name in NATIONS
        .iter()
        .map(|n| format!("X{}", &n[1..]))
        .chain(NATIONS.iter().map(|n| n.to_string()))
    {
        ops.push(b.try_push(name.as_bytes()).unwrap());
    }
    assert_eq!(
        ops,
        (1..=50).collect::<Vec<u16>>(),
        "op = 1-based ordinal (§6.2)"
    );
    assert_eq!(b.free(), 7724);
    assert!(
        b.finish()[..] == real_block[..],
        "writer differs from the real block"
    );
}

/// SEG §6.1: the empty block and a one-string block, as literal bytes.
#[test]
fn seg_dictionary_block_golden() {
    let mut b = DictBlockBuilder::new();
    assert_eq!(&b.finish()[..14], &hex("f2 1f 00*8 00 20 ff ff")[..]);
    assert_eq!(b.try_push(b"hello"), Some(1));
    let block = b.finish();
    // free 8192-14-(5+2) = 8171; next 0; offset[0] 8192; offset[1] 8187; end marker.
    assert_eq!(&block[..16], &hex("eb 1f 00*8 00 20 fb 1f ff ff")[..]);
    assert!(block[16..8187].iter().all(|&x| x == 0));
    assert_eq!(&block[8187..], b"hello");
    assert_eq!(
        DictBlock::parse(&block).unwrap().string(1),
        Some(&b"hello"[..])
    );
}

/// SEG §6.2: op bits 0–9, LBID bits 10–45, bc bits 46–63.
#[test]
fn seg_tokens_golden_table() {
    let rows: [(u16, i64, u32, u64); 6] = [
        (5, 123_456, 2, 0x0000_8000_0789_0005), // §6.2's example
        (1, 0, 0, 0x0000_0000_0000_0001),
        (1, 1, 0, 0x0000_0000_0000_0401),
        (1023, (1 << 36) - 1, 0, 0x0000_3fff_ffff_ffff),
        (1, 234_496, 1, 0x0000_4000_0e50_0001),
        (2, 0, 0x3_ffff, 0xffff_c000_0000_0002),
    ];
    for (op, lbid, bc, raw) in rows {
        let t = Token { op, lbid, bc };
        assert_eq!(t.encode(), raw, "{t:?}");
        assert_eq!(Token::decode(raw), t, "{raw:#x}");
        assert!(!Token::is_marker(raw));
    }
    // §6.2 / §5.1: NULL and EMPTY tokens.
    assert_eq!(TOKEN_NULL.to_le_bytes(), *hex("fe ff*7").as_slice());
    assert_eq!(TOKEN_EMPTY.to_le_bytes(), *hex("ff*8").as_slice());
    assert!(Token::is_marker(TOKEN_NULL) && Token::is_marker(TOKEN_EMPTY));
}

/// SEG §1.1 (OID bytes A–D, partition, `FILE%03d.cdf`) and §1.2 (what parses).
#[test]
fn seg_paths_golden_table() {
    let id = |oid, partition, segment| SegmentId {
        oid: Oid(oid),
        partition,
        segment,
    };
    let rows = [
        (
            id(3009, 0, 0),
            "000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf",
        ), // §1.1 example
        (
            id(1001, 0, 0),
            "000.dir/000.dir/003.dir/233.dir/000.dir/FILE000.cdf",
        ),
        (
            id(0x0102_0304, 7, 3),
            "001.dir/002.dir/003.dir/004.dir/007.dir/FILE003.cdf",
        ),
        (
            id(3000, 255, 255),
            "000.dir/000.dir/011.dir/184.dir/255.dir/FILE255.cdf",
        ),
        // §1.1: partition is %03u, not limited to three digits.
        (
            id(3000, 1000, 1),
            "000.dir/000.dir/011.dir/184.dir/1000.dir/FILE001.cdf",
        ),
        (
            id(3000, 256, 0),
            "000.dir/000.dir/011.dir/184.dir/256.dir/FILE000.cdf",
        ),
    ];
    for (id, path) in rows {
        assert_eq!(segment_rel_path(id), Path::new(path), "{id:?}");
        assert_eq!(
            parse_segment_path(&Path::new("data1").join(path)),
            Ok(id),
            "{path}"
        );
    }
    // §1.1: only the segment's low 8 bits reach the name.
    assert_eq!(
        segment_rel_path(id(3000, 0, 257)),
        Path::new("000.dir/000.dir/011.dir/184.dir/000.dir/FILE001.cdf")
    );
    // §1.2: what is not a segment file.
    for bad in [
        "000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf.tmp", // work file
        "000.dir/000.dir/011.dir/256.dir/000.dir/FILE000.cdf",     // OID byte ≥ 256
        "000.dir/000.dir/11.dir/193.dir/000.dir/FILE000.cdf",      // two digits
        "000.dir/000.dir/011.dir/193.dir/000.dir/FILE00.cdf",
        "000.dir/011.dir/193.dir/000.dir/FILE000.cdf", // four directories
        "000.dir/000.dir/011.dir/193.dir/000.dir/versionbuffer.cdf",
    ] {
        assert!(parse_segment_path(Path::new(bad)).is_err(), "{bad}");
    }
}
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

mod real_support;
use real_support::real;

/// Block 0 of a real file, read through the segment-file interface.
fn only_block(path: &Path) -> Vec<u8> {
    let f = SegmentFile::open(path, Access::Mmap).unwrap();
    assert_eq!(f.layout(), &Layout::Uncompressed { blocks: 1 });
    let mut scratch = emengine::seg::file::ChunkReader::new();
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
