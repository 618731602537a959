//! Damaged segment files: truncation at every offset of the header and pointer section and at
//! sampled offsets through the chunks, flipped bytes everywhere. Every case is an error that
//! names the file (never a panic), and representative cases assert the exact kind and offset.

use emengine::error::{DecodeError, DecodeKind, Error};
use emengine::seg::chunk::{checksum, ChunkHeader, SNAPPY_MAGIC};
use emengine::seg::file::{Access, Layout, SegmentFile};
use emengine::seg::header::{CompressionType, ControlHeader};
use emengine::seg::writer::CompressedWriter;
use emengine::types::BLOCK_SIZE;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A v3 column file: three chunks (a short chunk 0, two full ones), one padding block each.
struct Sample {
    bytes: Vec<u8>,
    /// ptr[0..=3].
    ptrs: Vec<u64>,
    chunks: Vec<Vec<u8>>,
    dir: tempfile::TempDir,
}

fn values(seed: u64, blocks: usize) -> Vec<u8> {
    // Slowly increasing 8-byte values with a little noise: realistic column data that
    // compresses well, which keeps the thousands of damaged copies cheap to write.
    (0..blocks * BLOCK_SIZE / 8)
        .flat_map(|i| {
            let i = i as u64;
            let noise = if i.is_multiple_of(61) {
                seed.wrapping_mul(i + 1) >> 52
            } else {
                0
            };
            (seed * 1_000_000 + i / 16 + noise).to_le_bytes()
        })
        .collect()
}

fn sample(c: CompressionType) -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FILE000.cdf");
    let header = ControlHeader {
        version: 3,
        compression: c,
        header_size: 8192,
        block_count: 16384,
        width: 8,
        data_type: 9,
        lbids: vec![242_688, 250_880],
    };
    let chunks = vec![values(1, 256), values(2, 512), values(3, 512)];
    let mut w = CompressedWriter::new(File::create(&path).unwrap(), header).unwrap();
    for data in &chunks {
        w.push_chunk(data, 1).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let f = SegmentFile::open(&path, Access::Read).unwrap();
    let Layout::Compressed { chunks: slots, .. } = f.layout() else {
        panic!("not compressed")
    };
    let mut ptrs: Vec<u64> = slots.iter().map(|s| s.offset).collect();
    ptrs.push(f.file_len());
    Sample {
        bytes,
        ptrs,
        chunks,
        dir,
    }
}

impl Sample {
    fn path(&self) -> PathBuf {
        self.dir.path().join("damaged").join("FILE000.cdf")
    }

    /// Write `bytes` as the damaged file, open it, and read every chunk.
    fn read(&self, bytes: &[u8], access: Access) -> Result<SegmentFile, Error> {
        let path = self.path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // A new file each time: rewriting one in place makes ext4 flush it (auto_da_alloc).
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, bytes).unwrap();
        let f = SegmentFile::open(&path, access)?;
        let mut scratch = emengine::seg::file::ChunkReader::new();
        for i in 0..f.chunk_count() + 1 {
            f.chunk_data(i, &mut scratch)?;
        }
        Ok(f)
    }

    /// Like [`read`](Self::read), expecting a decode error in the damaged file.
    fn decode_err(&self, bytes: &[u8]) -> DecodeError {
        match self.read(bytes, Access::Mmap) {
            Err(Error::Decode { path, source }) => {
                assert_eq!(path, self.path());
                assert!(
                    Error::Decode {
                        path: path.clone(),
                        source: source.clone()
                    }
                    .to_string()
                    .starts_with(&path.display().to_string()),
                    "message names the file"
                );
                source
            }
            Err(other) => panic!("expected a decode error, got {other}"),
            Ok(_) => panic!("expected a decode error, the file reads"),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut b = self.bytes.clone();
        f(&mut b);
        b
    }
}

#[test]
fn seg_the_sample_reads_back() {
    for c in [CompressionType::Snappy2, CompressionType::Lz4] {
        let s = sample(c);
        let f = s.read(&s.bytes, Access::Mmap).unwrap();
        let mut scratch = emengine::seg::file::ChunkReader::new();
        for (i, data) in s.chunks.iter().enumerate() {
            assert_eq!(f.chunk_data(i as u32, &mut scratch).unwrap(), &data[..]);
        }
        assert_eq!(s.ptrs[0], 8192);
        assert_eq!(s.ptrs.len(), 4);
        println!(
            "{c:?} sample: {} bytes, pointers {:?}",
            s.bytes.len(),
            s.ptrs
        );
    }
}

#[test]
fn seg_truncation_at_every_header_offset_and_sampled_chunk_offsets() {
    for c in [CompressionType::Snappy2, CompressionType::Lz4] {
        let s = sample(c);
        let len = s.bytes.len();
        let mut cuts: Vec<usize> = (1..=8192 + 64).collect();
        cuts.extend((8192..len).step_by((len - 8192) / 60 + 1));
        for &p in &s.ptrs {
            let p = p as usize;
            cuts.extend([p.saturating_sub(1), p, p + 1, p + 5, p + 9, p + 10]);
        }
        cuts.retain(|&n| n < len);
        for n in cuts {
            let err = s.decode_err(&s.bytes[..n]);
            match n {
                // Too short for the magic: an uncompressed file with a partial block.
                0..=7 => assert_eq!(
                    (err.offset, &err.kind),
                    (
                        0,
                        &DecodeKind::Truncated {
                            expected: "a whole 8192-byte block".into(),
                            found: n as u64
                        }
                    )
                ),
                8..=4095 => assert_eq!(err.offset, 0, "cut at {n}: {err}"),
                4096..=8191 => assert_eq!(err.offset, 4096, "cut at {n}: {err}"),
                _ => {
                    // The first chunk pointer past the cut is reported, at its entry.
                    let i = s.ptrs.iter().position(|&p| p as usize > n).unwrap();
                    assert_eq!(err.offset, 4096 + 8 * i as u64, "cut at {n}: {err}");
                    assert!(
                        matches!(err.kind, DecodeKind::Truncated { found, .. } if found == n as u64)
                    );
                }
            }
        }
        // Cut to nothing: an empty uncompressed file, 0 blocks.
        let f = s.read(&[], Access::Mmap).unwrap();
        assert_eq!(f.layout(), &Layout::Uncompressed { blocks: 0 });
    }
}

/// Flip every byte of the header and pointer section and of each chunk header, and sampled
/// payload and padding bytes: which must fail and which must still read is fixed by the format.
#[test]
fn seg_flipped_bytes() {
    for c in [CompressionType::Snappy2, CompressionType::Lz4] {
        let s = sample(c);
        let flip = |at: usize| s.with(|b| b[at] ^= 0xFF);
        let mut must_fail = Vec::new();
        let mut must_read = Vec::new();
        let mut either = Vec::new();
        // Header: version, compression type, header size and LBID count are checked; block
        // count, width, type, the LBIDs and the zero tail are data.
        must_fail.extend(8..32);
        must_read.extend(32..56);
        must_fail.extend(56..64);
        must_read.extend(64..80);
        must_read.extend((80..448).step_by(13));
        must_read.extend((448..4096).step_by(127));
        // Pointers: a changed pointer may or may not still frame the chunks (stale bytes are
        // legal); the terminator and the entries after it are covered below.
        either.extend(4096..4096 + 8 * s.ptrs.len());
        must_fail.push(4096 + 8 * s.ptrs.len());
        must_read.extend((4096 + 8 * s.ptrs.len() + 8..8192).step_by(61));
        for w in s.ptrs.windows(2) {
            let (start, end) = (w[0] as usize, w[1] as usize);
            let payload_end =
                start + 9 + ChunkHeader::parse(&s.bytes[start..]).unwrap().length as usize;
            must_fail.extend(start..start + 9);
            must_fail.extend((start + 9..payload_end).step_by((payload_end - start) / 40 + 1));
            must_fail.push(payload_end - 1);
            must_read.extend((payload_end..end).step_by((end - payload_end) / 10 + 1));
        }
        for &at in &must_fail {
            let err = s.decode_err(&flip(at));
            assert!(err.offset < s.bytes.len() as u64, "flip at {at}: {err}");
        }
        for &at in &must_read {
            s.read(&flip(at), Access::Read)
                .unwrap_or_else(|e| panic!("flip at {at}: {e}"));
        }
        for &at in &either {
            let _ = s.read(&flip(at), Access::Mmap);
        }
        // A flipped magic makes the file an uncompressed one (the format cannot tell).
        for at in 0..8 {
            let f = s.read(&flip(at), Access::Mmap).unwrap();
            assert_eq!(
                f.layout(),
                &Layout::Uncompressed {
                    blocks: s.bytes.len() as u64 / 8192
                }
            );
        }
    }
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn seg_exact_errors() {
    let s = sample(CompressionType::Snappy2);
    let p = |i: usize| s.ptrs[i] as usize;

    // Bad chunk magic: chunk 1 read as LZ4's magic.
    let e = s.decode_err(&s.with(|b| b[p(1)] = 0xFC));
    assert_eq!(e.offset, s.ptrs[1]);
    assert_eq!(
        e.kind,
        DecodeKind::BadMagic {
            expected: "chunk magic 0xfd (snappy)".into(),
            found: "0xfc".into()
        }
    );

    // Bad checksum: one payload byte of chunk 2.
    let bytes = s.with(|b| b[p(2) + 100] ^= 0x01);
    let e = s.decode_err(&bytes);
    assert_eq!(e.offset, s.ptrs[2] + 1);
    let stored = ChunkHeader::parse(&s.bytes[p(2)..]).unwrap().checksum;
    let len = ChunkHeader::parse(&s.bytes[p(2)..]).unwrap().length as usize;
    let found = checksum(&bytes[p(2) + 9..p(2) + 9 + len]);
    assert_eq!(
        e.kind,
        DecodeKind::BadChecksum {
            expected: stored,
            found
        }
    );

    // Pointer past the end of the file: the file loses its last byte.
    let n = s.bytes.len() - 1;
    let e = s.decode_err(&s.bytes[..n]);
    assert_eq!(e.offset, 4096 + 8 * 3);
    assert!(matches!(e.kind, DecodeKind::Truncated { found, .. } if found == n as u64));
    assert_eq!(
        e.to_string(),
        format!("at byte 4120: truncated: expected a file of at least {} bytes (chunk pointer 3), found {n} bytes", n + 1)
    );

    // Truncated chunk: chunk 1's header claims more payload than its slot holds.
    let room = (s.ptrs[2] - s.ptrs[1]) as u32 - 9;
    let e =
        s.decode_err(&s.with(|b| b[p(1) + 5..p(1) + 9].copy_from_slice(&(room + 1).to_le_bytes())));
    assert_eq!(e.offset, s.ptrs[1] + 5);
    assert!(
        matches!(
            e.kind,
            DecodeKind::Invalid {
                field: "chunk length",
                ..
            }
        ),
        "{e}"
    );

    // A slot too short for the chunk header: ptr[2] moved to 4 bytes after ptr[1].
    let e = s.decode_err(&s.with(|b| put_u64(b, 4096 + 16, s.ptrs[1] + 4)));
    assert_eq!(e.offset, s.ptrs[1] + 1);
    assert!(matches!(e.kind, DecodeKind::Truncated { .. }), "{e}");

    // Non-increasing pointers.
    let e = s.decode_err(&s.with(|b| put_u64(b, 4096 + 16, s.ptrs[1])));
    assert_eq!(e.offset, 4096 + 16);
    assert!(
        matches!(
            e.kind,
            DecodeKind::Invalid {
                field: "chunk pointer",
                ..
            }
        ),
        "{e}"
    );

    // A first pointer inside the header.
    let e = s.decode_err(&s.with(|b| put_u64(b, 4096, 4096)));
    assert_eq!(e.offset, 4096);

    // Header size larger than the file: no allocation from it, a truncation error.
    let e = s.decode_err(&s.with(|b| put_u64(b, 24, 1 << 40)));
    assert_eq!(e.offset, 4096);
    assert!(matches!(e.kind, DecodeKind::Truncated { .. }), "{e}");

    // Unknown version and compression type.
    let e = s.decode_err(&s.with(|b| put_u64(b, 8, 4)));
    assert_eq!(
        (e.offset, e.to_string()),
        (
            8,
            "at byte 8: invalid header version: expected 2 or 3, found 4".into()
        )
    );
    let e = s.decode_err(&s.with(|b| put_u64(b, 16, 7)));
    assert_eq!(e.offset, 16);

    // A payload that is not snappy, with a checksum that matches it.
    let junk = [0xFFu8; 32];
    let chunk = ChunkHeader {
        magic: SNAPPY_MAGIC,
        checksum: checksum(&junk),
        length: 32,
    };
    let e = s.decode_err(&s.with(|b| {
        b[p(0)..p(0) + 9].copy_from_slice(&chunk.encode());
        b[p(0) + 9..p(0) + 41].copy_from_slice(&junk);
    }));
    assert_eq!(e.offset, s.ptrs[0] + 9);
    assert!(
        matches!(
            e.kind,
            DecodeKind::Decompress {
                codec: "snappy",
                ..
            }
        ),
        "{e}"
    );

    // Uncompressed file with a partial last block.
    let e = s.decode_err(&vec![0u8; 2 * 8192 + 100]);
    assert_eq!(e.offset, 16384);
    assert_eq!(
        e.kind,
        DecodeKind::Truncated {
            expected: "a whole 8192-byte block".into(),
            found: 100
        }
    );
}

#[test]
fn seg_lz4_payload_that_overflows_a_chunk_is_an_error() {
    let s = sample(CompressionType::Lz4);
    // 5 MiB of zeros compresses to one LZ4 block that decodes past 4 MiB.
    let big = emengine::seg::chunk::compress_chunk(&vec![0u8; 5 << 20], CompressionType::Lz4);
    let start = s.ptrs[0] as usize;
    let room = (s.ptrs[1] - s.ptrs[0]) as usize;
    assert!(big.len() <= room);
    let e = s.decode_err(&s.with(|b| b[start..start + big.len()].copy_from_slice(&big)));
    assert_eq!(e.offset, s.ptrs[0] + 9);
    assert!(
        matches!(e.kind, DecodeKind::Decompress { codec: "lz4", .. }),
        "{e}"
    );
}

#[test]
fn seg_missing_file_is_an_io_error_naming_it() {
    let p = Path::new("/nonexistent/000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf");
    let err = SegmentFile::open(p, Access::Mmap).unwrap_err();
    assert!(matches!(err, Error::Io { op: "open", .. }));
    assert_eq!(err.path(), Some(p));
}
