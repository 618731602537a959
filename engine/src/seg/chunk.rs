//! One compressed chunk: a 9-byte chunk header, the compressed payload, padding (SEG §3.5–3.6).
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | u8 | chunk magic: `0xFD` snappy, `0xFC` LZ4 |
//! | 1 | u32 | checksum of the payload: MurmurHash3_x64_128, seed 0, low 32 bits of h1 |
//! | 5 | u32 | payload length L |
//! | 9 | L | payload: a snappy raw block (types 0, 1, 2) or an LZ4 raw block (type 3) |
//! | 9+L | … | padding or stale bytes of an older version of the chunk, up to the next pointer |
//!
//! A chunk decompresses to at most 4 MiB (512 blocks); only the abbreviated chunk 0 of a
//! column file is shorter. The length always comes from the chunk header, never the slot.
//!
//! ```
//! use emengine::seg::chunk::{decompress_chunk, ChunkHeader};
//! use emengine::seg::header::CompressionType;
//! // snappy raw block of "abc": varint length 3, literal tag (len-1)<<2, bytes.
//! let slot = [0xFD, 0xd6, 0xc0, 0x8d, 0xfe, 5, 0, 0, 0, 3, 0x08, b'a', b'b', b'c', 0, 0];
//! let h = ChunkHeader::parse(&slot).unwrap();
//! assert_eq!(h.checksum, 0xfe8d_c0d6);
//! assert_eq!((h.magic, h.length), (0xFD, 5));
//! let mut out = Vec::new();
//! let n = decompress_chunk(&slot, CompressionType::Snappy2, &mut out).unwrap();
//! assert_eq!(&out[..n], b"abc");
//! ```

use crate::cursor::Cursor;
use crate::error::{DecodeError, DecodeKind};
use crate::seg::header::CompressionType;
use crate::types::{BLOCK_SIZE, CHUNK_BYTES};

/// Bytes of the chunk header.
pub const CHUNK_HEADER_LEN: usize = 9;
/// Chunk magic of snappy chunks.
pub const SNAPPY_MAGIC: u8 = 0xFD;
/// Chunk magic of LZ4 chunks.
pub const LZ4_MAGIC: u8 = 0xFC;

/// The 9-byte header in front of each compressed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub magic: u8,
    /// [`checksum`] of the payload.
    pub checksum: u32,
    /// Payload bytes after the header.
    pub length: u32,
}

impl ChunkHeader {
    /// Decode the header at the start of `bytes` (offsets relative to `bytes`).
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut c = Cursor::new(bytes);
        Ok(ChunkHeader {
            magic: c.u8("chunk magic")?,
            checksum: c.u32("chunk checksum")?,
            length: c.u32("chunk length")?,
        })
    }

    /// The 9 bytes of the header.
    pub fn encode(&self) -> [u8; CHUNK_HEADER_LEN] {
        let mut b = [0u8; CHUNK_HEADER_LEN];
        b[0] = self.magic;
        b[1..5].copy_from_slice(&self.checksum.to_le_bytes());
        b[5..9].copy_from_slice(&self.length.to_le_bytes());
        b
    }
}

/// The chunk magic a header's compression type requires.
pub fn magic_for(c: CompressionType) -> u8 {
    match c {
        CompressionType::Lz4 => LZ4_MAGIC,
        _ => SNAPPY_MAGIC,
    }
}

/// ColumnStore's chunk checksum: MurmurHash3_x64_128 with seed 0, low 32 bits of h1.
#[inline]
pub fn checksum(payload: &[u8]) -> u32 {
    murmur3_x64_128_h1(payload) as u32
}

/// The first 64-bit word (h1) of MurmurHash3_x64_128 with seed 0.
///
/// Written over slices rather than through the `murmur3` crate's `Read` interface, which
/// copies every 16-byte block and runs at a quarter of the speed; the tests check both
/// against each other and against the spec's vectors. The checksum covers every compressed
/// byte the rebuild reads.
fn murmur3_x64_128_h1(data: &[u8]) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    #[inline(always)]
    fn fmix64(mut k: u64) -> u64 {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
    #[inline(always)]
    fn word(b: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    }
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let (k1, k2) = (word(&b[..8]), word(&b[8..]));
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let mut buf = [0u8; 16];
    buf[..tail.len()].copy_from_slice(tail);
    if tail.len() > 8 {
        h2 ^= word(&buf[8..])
            .wrapping_mul(C2)
            .rotate_left(33)
            .wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= word(&buf[..8])
            .wrapping_mul(C1)
            .rotate_left(31)
            .wrapping_mul(C2);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1.wrapping_add(h2)
}

/// Compress `data` (at most 4 MiB) into a chunk: 9-byte header and payload, no padding.
pub fn compress_chunk(data: &[u8], c: CompressionType) -> Vec<u8> {
    let payload = match c {
        CompressionType::Lz4 => lz4_flex::block::compress(data),
        _ => {
            let mut out = vec![0u8; snap::raw::max_compress_len(data.len())];
            // Only fails for inputs above 2^32 bytes; chunks are 4 MiB.
            let n = snap::raw::Encoder::new()
                .compress(data, &mut out)
                .unwrap_or(0);
            out.truncate(n);
            out
        }
    };
    let header = ChunkHeader {
        magic: magic_for(c),
        checksum: checksum(&payload),
        length: payload.len() as u32,
    };
    let mut chunk = Vec::with_capacity(CHUNK_HEADER_LEN + payload.len());
    chunk.extend_from_slice(&header.encode());
    chunk.extend_from_slice(&payload);
    chunk
}

/// Check and decode one chunk slot (`[ptr[i], ptr[i+1])`) into `out`.
///
/// `out` is grown to 4 MiB once and never shrunk, so a reused buffer costs no allocation;
/// the decompressed bytes are `out[..n]` where `n` is the returned length. Checks, in order:
/// the chunk magic for `c`, the payload length against the slot, the checksum, then the
/// payload decodes to at most 4 MiB. Error offsets are relative to the slot start.
pub fn decompress_chunk(
    slot: &[u8],
    c: CompressionType,
    out: &mut Vec<u8>,
) -> Result<usize, DecodeError> {
    let header = ChunkHeader::parse(slot)?;
    let want = magic_for(c);
    if header.magic != want {
        return Err(DecodeError::new(
            0,
            DecodeKind::BadMagic {
                expected: format!("chunk magic {want:#04x} ({})", c.codec()),
                found: format!("{:#04x}", header.magic),
            },
        ));
    }
    let room = slot.len() - CHUNK_HEADER_LEN;
    if header.length as usize > room {
        return Err(DecodeError::invalid(
            5,
            "chunk length",
            format!("at most {room} (the chunk's slot minus its 9-byte header)"),
            header.length,
        ));
    }
    let payload = &slot[CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + header.length as usize];
    let sum = checksum(payload);
    if sum != header.checksum {
        return Err(DecodeError::new(
            1,
            DecodeKind::BadChecksum {
                expected: header.checksum,
                found: sum,
            },
        ));
    }
    if out.len() < CHUNK_BYTES {
        out.resize(CHUNK_BYTES, 0);
    }
    let buf = &mut out[..CHUNK_BYTES];
    let payload_at = CHUNK_HEADER_LEN as u64;
    match c {
        CompressionType::Lz4 => lz4_flex::block::decompress_into(payload, buf).map_err(|e| {
            DecodeError::new(
                payload_at,
                DecodeKind::Decompress {
                    codec: "lz4",
                    detail: e.to_string(),
                },
            )
        }),
        _ => {
            let snappy_err = |detail: String| {
                DecodeError::new(
                    payload_at,
                    DecodeKind::Decompress {
                        codec: "snappy",
                        detail,
                    },
                )
            };
            let len = snap::raw::decompress_len(payload).map_err(|e| snappy_err(e.to_string()))?;
            if len > CHUNK_BYTES {
                return Err(snappy_err(format!(
                    "it claims {len} bytes, more than a chunk's {CHUNK_BYTES}"
                )));
            }
            snap::raw::Decoder::new()
                .decompress(payload, &mut buf[..len])
                .map_err(|e| snappy_err(e.to_string()))
        }
    }
}

/// Bytes a writer occupies for a chunk of `chunk_len` bytes (header + payload): rounded up
/// to whole blocks, plus `padding_blocks` blocks (SEG §3.6).
pub fn padded_len(chunk_len: usize, padding_blocks: u32) -> u64 {
    let b = BLOCK_SIZE as u64;
    (chunk_len as u64).div_ceil(b) * b + u64::from(padding_blocks) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_vectors() {
        assert_eq!(checksum(b""), 0x0000_0000);
        assert_eq!(checksum(b"a"), 0xf659_7889);
        let full = murmur3::murmur3_x64_128(&mut &b"a"[..], 0).unwrap();
        assert_eq!(
            full as u64, 0x8555_5565_f659_7889,
            "h1 is the low half of the crate's u128"
        );
        assert_eq!(checksum(b"abc"), 0x3fad_7867);
        assert_eq!(
            checksum(b"The quick brown fox jumps over the lazy dog"),
            0xbc07_1b6c
        );
        assert_eq!(checksum(&[0xAB; 4096]), 0x9a30_2159);
    }

    #[test]
    fn matches_the_murmur3_crate_at_every_tail_length() {
        let data: Vec<u8> = (0u32..600)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for n in 0..data.len() {
            let reference = murmur3::murmur3_x64_128(&mut &data[..n], 0).unwrap() as u64;
            assert_eq!(murmur3_x64_128_h1(&data[..n]), reference, "length {n}");
        }
    }

    #[test]
    fn both_codecs_round_trip() {
        let data: Vec<u8> = (0..CHUNK_BYTES).map(|i| (i / 7 % 251) as u8).collect();
        let mut out = Vec::new();
        for c in [CompressionType::Snappy2, CompressionType::Lz4] {
            let chunk = compress_chunk(&data, c);
            assert_eq!(chunk[0], magic_for(c));
            let n = decompress_chunk(&chunk, c, &mut out).unwrap();
            assert_eq!(&out[..n], &data[..]);
        }
    }

    #[test]
    fn errors() {
        let chunk = compress_chunk(&[7u8; 8192], CompressionType::Snappy2);
        let mut out = Vec::new();
        let e = decompress_chunk(&chunk, CompressionType::Lz4, &mut out).unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(matches!(e.kind, DecodeKind::BadMagic { .. }));

        let e = decompress_chunk(
            &chunk[..chunk.len() - 1],
            CompressionType::Snappy2,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(matches!(
            e.kind,
            DecodeKind::Invalid {
                field: "chunk length",
                ..
            }
        ));

        let mut bad = chunk.clone();
        *bad.last_mut().unwrap() ^= 1;
        let e = decompress_chunk(&bad, CompressionType::Snappy2, &mut out).unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(matches!(e.kind, DecodeKind::BadChecksum { .. }));

        // A payload with a correct checksum that is not snappy.
        let junk = [0xFFu8; 16];
        let h = ChunkHeader {
            magic: SNAPPY_MAGIC,
            checksum: checksum(&junk),
            length: 16,
        };
        let mut bad = h.encode().to_vec();
        bad.extend_from_slice(&junk);
        let e = decompress_chunk(&bad, CompressionType::Snappy2, &mut out).unwrap_err();
        assert_eq!(e.offset, 9);
        assert!(matches!(
            e.kind,
            DecodeKind::Decompress {
                codec: "snappy",
                ..
            }
        ));

        let e = decompress_chunk(&chunk[..4], CompressionType::Snappy2, &mut out).unwrap_err();
        assert!(matches!(e.kind, DecodeKind::Truncated { .. }));
    }

    #[test]
    fn padding() {
        assert_eq!(padded_len(9, 1), 16384);
        assert_eq!(padded_len(8192, 0), 8192);
        assert_eq!(padded_len(8193, 1), 3 * 8192);
    }
}
