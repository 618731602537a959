//! Writer → reader round trips for every segment-file structure (proptest).

use emengine::seg::chunk::{compress_chunk, decompress_chunk, ChunkHeader, CHUNK_HEADER_LEN};
use emengine::seg::dict::{DictBlock, DictBlockBuilder, EMPTY_DICT_BLOCK_FREE};
use emengine::seg::file::{Access, Layout, SegmentFile};
use emengine::seg::header::{CompressionType, ControlHeader};
use emengine::seg::path::{parse_segment_path, segment_rel_path};
use emengine::seg::pointers::{encode_pointers, parse_pointers};
use emengine::seg::token::Token;
use emengine::seg::writer::CompressedWriter;
use emengine::types::{Oid, SegmentId, BLOCK_SIZE, CHUNK_BYTES};
use proptest::prelude::*;
use std::fs::File;
use std::path::Path;

fn compression() -> impl Strategy<Value = CompressionType> {
    prop_oneof![
        Just(CompressionType::None0),
        Just(CompressionType::Snappy1),
        Just(CompressionType::Snappy2),
        Just(CompressionType::Lz4),
    ]
}

/// Column data with runs and noise, so both codecs do real work.
fn chunk_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = emfixtures::rng::Rng::new(seed);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let x = rng.next_u64();
        let run = (x % 40) as usize;
        let v = (x >> 32) as u8 & 0x0F;
        out.extend(std::iter::repeat_n(v, run.min(len - out.len())));
        if out.len() < len {
            out.push((x >> 40) as u8);
        }
    }
    out
}

proptest! {
    #[test]
    fn seg_header_v3_round_trips(
        c in compression(),
        units in 2u64..80,
        block_count in any::<u64>(),
        width in any::<u64>(),
        data_type in any::<i32>(),
        lbids in proptest::collection::vec(any::<i64>(), 0..=48),
    ) {
        let h = ControlHeader { version: 3, compression: c, header_size: units * 4096, block_count, width, data_type, lbids };
        let bytes = h.encode();
        prop_assert!(ControlHeader::is_compressed(&bytes));
        prop_assert!(bytes[64 + 8 * h.lbids.len()..].iter().all(|&b| b == 0));
        prop_assert_eq!(ControlHeader::parse(&bytes)?, h);
    }

    #[test]
    fn seg_header_v2_round_trips_and_writes_zeros_from_byte_40(
        c in compression(),
        units in 2u64..80,
        block_count in any::<u64>(),
        width in any::<u64>(),
        data_type in any::<i32>(),
        lbids in proptest::collection::vec(any::<i64>(), 0..=48),
    ) {
        let h = ControlHeader { version: 2, compression: c, header_size: units * 4096, block_count, width, data_type, lbids };
        let bytes = h.encode();
        prop_assert!(bytes[40..].iter().all(|&b| b == 0));
        let back = ControlHeader::parse(&bytes)?;
        prop_assert_eq!(back, ControlHeader { width: 0, data_type: 0, lbids: vec![], ..h });
    }

    #[test]
    fn seg_pointers_round_trip(
        units in 1usize..40,
        steps in proptest::collection::vec(1u64..1 << 24, 0..600),
    ) {
        let section_len = units * 4096;
        let header_end = 4096 + section_len as u64;
        let mut ptrs = vec![header_end];
        for s in steps.iter().take(section_len / 8 - 2) {
            ptrs.push(ptrs[ptrs.len() - 1] + s);
        }
        let raw = encode_pointers(&ptrs, section_len)?;
        prop_assert_eq!(raw.len(), section_len);
        let file_len = ptrs[ptrs.len() - 1];
        prop_assert_eq!(parse_pointers(&raw, 4096, file_len)?, ptrs.clone());
        // Unaligned input decodes the same.
        let mut shifted = vec![0u8; raw.len() + 3];
        shifted[3..].copy_from_slice(&raw);
        prop_assert_eq!(parse_pointers(&shifted[3..], 4096, file_len)?, ptrs);
    }

    #[test]
    fn seg_chunk_round_trips(c in compression(), seed in any::<u64>(), len in 0usize..200_000) {
        let data = chunk_bytes(seed, len);
        let chunk = compress_chunk(&data, c);
        let head = ChunkHeader::parse(&chunk)?;
        prop_assert_eq!(head.length as usize, chunk.len() - CHUNK_HEADER_LEN);
        prop_assert_eq!(ChunkHeader::parse(&head.encode())?, head);
        // Stale bytes after the payload do not matter: the length comes from the header.
        let mut slot = chunk.clone();
        slot.extend(std::iter::repeat_n(0xA5, 777));
        let mut out = Vec::new();
        let n = decompress_chunk(&slot, c, &mut out)?;
        prop_assert_eq!(&out[..n], &data[..]);
    }

    #[test]
    fn seg_token_round_trips(op in 0u16..1024, lbid in 0i64..1 << 36, bc in 0u32..1 << 18) {
        let t = Token { op, lbid, bc };
        prop_assert_eq!(Token::decode(t.encode()), t);
    }

    #[test]
    fn seg_raw_token_round_trips(raw in any::<u64>()) {
        prop_assert_eq!(Token::decode(raw).encode(), raw);
    }

    #[test]
    fn seg_dict_builder_round_trips(strings in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 0..80)) {
        let mut b = DictBlockBuilder::new();
        let mut pushed = Vec::new();
        for s in &strings {
            match b.try_push(s) {
                Some(op) => {
                    pushed.push(s.clone());
                    prop_assert_eq!(usize::from(op), pushed.len());
                }
                None => {
                    prop_assert!(usize::from(b.free()) < s.len() + 2);
                    break;
                }
            }
        }
        let block = b.finish();
        let d = DictBlock::parse(&block)?;
        prop_assert_eq!(d.count(), pushed.len());
        let used: usize = pushed.iter().map(|s| s.len() + 2).sum();
        prop_assert_eq!(usize::from(d.free), usize::from(EMPTY_DICT_BLOCK_FREE) - used);
        for (i, s) in pushed.iter().enumerate() {
            prop_assert_eq!(d.string(i as u16 + 1), Some(&s[..]));
        }
        prop_assert_eq!(d.strings().count(), pushed.len());
        prop_assert_eq!(d.string(pushed.len() as u16 + 1), None);
        prop_assert_eq!(d.is_empty(), pushed.is_empty());
    }

    /// The string count without decoding agrees with the decoder on every block, valid or
    /// damaged anywhere in its header (the same count, or the same error at the same offset).
    #[test]
    fn seg_dict_string_count_agrees_with_parse(
        n in 0usize..1100,
        damage in proptest::collection::vec((0usize..2300, any::<u8>()), 0..4),
        cut in prop_oneof![Just(None), (0usize..8192).prop_map(Some)],
    ) {
        let mut b = DictBlockBuilder::new();
        for i in 0..n {
            if b.try_push(&[(i % 251) as u8; 3]).is_none() {
                break;
            }
        }
        let mut block = b.finish().to_vec();
        for (at, byte) in damage {
            block[at] = byte;
        }
        if let Some(len) = cut {
            block.truncate(len);
        }
        match (DictBlock::parse(&block), DictBlock::string_count(&block)) {
            (Ok(d), Ok(count)) => prop_assert_eq!(d.count(), count),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "parse {:?} vs string_count {:?}", a.map(|d| d.count()), b),
        }
    }

    #[test]
    fn seg_path_round_trips(
        oid in 0..=i32::MAX,
        partition in prop_oneof![0u32..256, 256u32..1000, 1000u32..=u32::MAX],
        segment in 0u16..256,
    ) {
        let id = SegmentId { oid: Oid(oid), partition, segment };
        let rel = segment_rel_path(id);
        prop_assert_eq!(parse_segment_path(&rel), Ok(id));
        prop_assert_eq!(parse_segment_path(&Path::new("/var/lib/columnstore/data1").join(&rel)), Ok(id));
        let tmp = rel.with_extension("cdf.tmp");
        prop_assert!(parse_segment_path(&tmp).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// CompressedWriter → SegmentFile: every chunk reads back, missing chunks read empty.
    #[test]
    fn seg_writer_to_file_round_trips(
        version in 2u64..=3,
        c in prop_oneof![Just(CompressionType::Snappy2), Just(CompressionType::Lz4)],
        header_units in prop_oneof![Just(2u64), 3u64..70],
        chunk_blocks in proptest::collection::vec(1usize..=64, 0..6),
        padding in 0u32..3,
        seed in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("FILE000.cdf");
        let header = ControlHeader {
            version, compression: c, header_size: header_units * 4096, block_count: 0,
            width: if version == 3 { 8 } else { 0 }, data_type: if version == 3 { 9 } else { 0 }, lbids: vec![],
        };
        let mut w = CompressedWriter::new(File::create(&path).unwrap(), header).unwrap();
        let chunks: Vec<Vec<u8>> = chunk_blocks.iter().enumerate()
            .map(|(i, &b)| chunk_bytes(seed ^ i as u64, b * BLOCK_SIZE)).collect();
        for data in &chunks {
            w.push_chunk(data, padding).unwrap();
        }
        w.set_block_count(4096);
        if version == 3 {
            w.push_lbid(242_688);
        }
        w.finish().unwrap();

        for access in [Access::Mmap, Access::Read] {
            let f = SegmentFile::open(&path, access).unwrap();
            prop_assert!(f.is_compressed());
            prop_assert_eq!(f.allocated_blocks(), 4096);
            prop_assert_eq!(f.chunk_count() as usize, chunks.len());
            let Layout::Compressed { header, chunks: slots } = f.layout() else { unreachable!() };
            prop_assert_eq!(header.header_size, header_units * 4096);
            prop_assert_eq!(&header.lbids, &if version == 3 { vec![242_688] } else { vec![] });
            prop_assert_eq!(slots.first().map(|s| s.offset), chunks.first().map(|_| header_units * 4096));
            for s in slots {
                prop_assert_eq!(s.len % BLOCK_SIZE as u64, 0);
                prop_assert!(s.len >= u64::from(padding + 1) * BLOCK_SIZE as u64);
            }
            let gauge = emengine::seg::file::BufferGauge::new();
            let mut scratch = emengine::seg::file::ChunkReader::with_gauge(gauge.clone());
            for (i, data) in chunks.iter().enumerate() {
                prop_assert_eq!(f.chunk_data(i as u32, &mut scratch).unwrap(), &data[..]);
            }
            prop_assert!(f.chunk_data(chunks.len() as u32, &mut scratch).unwrap().is_empty());
            prop_assert!(f.chunk_data(u32::MAX, &mut scratch).unwrap().is_empty());
            // One stored chunk (its header and at most snappy's bound for 4 MiB, the larger of
            // the two codecs' bounds) and one decompressed chunk, whatever the file holds.
            let stored = 9 + snap::raw::max_compress_len(CHUNK_BYTES) as u64;
            prop_assert!(gauge.peak_bytes() <= stored + CHUNK_BYTES as u64);
        }
    }

    /// Uncompressed files: chunk i is a slice of blocks i×512.., the last one short.
    #[test]
    fn seg_uncompressed_file_chunks(blocks in 0usize..1100, seed in any::<u64>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("FILE001.cdf");
        let bytes = chunk_bytes(seed, blocks * BLOCK_SIZE);
        std::fs::write(&path, &bytes).unwrap();
        for access in [Access::Mmap, Access::Read] {
            let f = SegmentFile::open(&path, access).unwrap();
            prop_assert_eq!(f.layout(), &Layout::Uncompressed { blocks: blocks as u64 });
            prop_assert_eq!(f.allocated_blocks(), blocks as u64);
            prop_assert_eq!(f.chunk_count() as usize, blocks.div_ceil(512));
            let gauge = emengine::seg::file::BufferGauge::new();
            let mut scratch = emengine::seg::file::ChunkReader::with_gauge(gauge.clone());
            let mut joined = Vec::new();
            for i in 0..f.chunk_count() {
                let d = f.chunk_data(i, &mut scratch).unwrap();
                prop_assert!(d.len() <= CHUNK_BYTES && !d.is_empty());
                joined.extend_from_slice(d);
            }
            // One chunk at a time (read or mapped), never the whole file, no decompression buffer.
            prop_assert!(gauge.peak_bytes() <= CHUNK_BYTES as u64, "{} bytes held", gauge.peak_bytes());
            prop_assert_eq!(joined, bytes.clone());
            prop_assert!(f.chunk_data(f.chunk_count(), &mut scratch).unwrap().is_empty());
        }
    }
}

/// Full 4 MiB chunks with both codecs, a short (abbreviated) chunk 0, a dictionary-size header.
#[test]
fn seg_full_chunks_and_short_chunk_zero() {
    let dir = tempfile::tempdir().unwrap();
    for c in [CompressionType::Snappy2, CompressionType::Lz4] {
        let path = dir.path().join(format!("FILE00{}.cdf", c.code()));
        let header = ControlHeader {
            version: 3,
            compression: c,
            header_size: 270_336,
            block_count: 8192,
            width: 0,
            data_type: 12,
            lbids: vec![],
        };
        let mut w = CompressedWriter::new(File::create(&path).unwrap(), header).unwrap();
        let short = chunk_bytes(1, 256 * 1024 * 8);
        let full = chunk_bytes(2, CHUNK_BYTES);
        w.push_chunk(&short, 1).unwrap();
        w.push_chunk(&full, 1).unwrap();
        w.push_lbid(1_000_000);
        w.push_lbid(2_000_000);
        w.finish().unwrap();
        let f = SegmentFile::open(&path, Access::Mmap).unwrap();
        let h = f.header().unwrap();
        assert_eq!(h.pointer_section_len(), 270_336 - 4096);
        assert_eq!(h.lbids, vec![1_000_000, 2_000_000]);
        let mut scratch = emengine::seg::file::ChunkReader::new();
        assert_eq!(f.chunk_data(0, &mut scratch).unwrap(), &short[..]);
        assert_eq!(f.chunk_data(1, &mut scratch).unwrap(), &full[..]);
        assert!(f.chunk_data(2, &mut scratch).unwrap().is_empty());
    }
}

/// The writer refuses chunks its pointer section cannot hold, before writing them.
#[test]
fn seg_writer_rejects_too_many_chunks() {
    let header = ControlHeader {
        version: 3,
        compression: CompressionType::Lz4,
        header_size: 8192,
        block_count: 0,
        width: 1,
        data_type: 16,
        lbids: vec![],
    };
    let mut w = CompressedWriter::new(std::io::Cursor::new(Vec::new()), header.clone()).unwrap();
    for _ in 0..510 {
        w.push_chunk(&[1u8; 64], 0).unwrap();
    }
    let err = w.push_chunk(&[1u8; 64], 0).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(w.chunk_count(), 510);
    let bad = ControlHeader {
        header_size: 8192 + 100,
        ..header
    };
    assert!(CompressedWriter::new(std::io::Cursor::new(Vec::new()), bad).is_err());
}
