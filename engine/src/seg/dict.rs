//! Dictionary (string store) blocks: every 8192-byte block of a dictionary file (SEG §6.1).
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | u16 | free bytes = 8192 − 14 − Σ(len + 2) |
//! | 2 | u64 | "next" pointer, always 0 |
//! | 10 | u16 | offset\[0\] = 8192, the end of string 1 |
//! | 12 + 2(i−1) | u16 | offset\[i\] = start of string i, i = 1..n (n ≤ 1023) |
//! | 12 + 2n | u16 | `0xFFFF` end of header |
//! | … | | zeros, then the strings packed from the end of the block backwards |
//!
//! String i occupies `[offset[i], offset[i−1])`. An empty block has free = 8178 and the header
//! bytes `f2 1f 00 00 00 00 00 00 00 00 00 20 ff ff`.
//!
//! ```
//! use emengine::seg::dict::DictBlock;
//! let mut block = [0u8; 8192];
//! block[..16].copy_from_slice(&[0xed, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0xfd, 0x1f, 0xff, 0xff]);
//! block[8189..].copy_from_slice(b"abc");
//! let d = DictBlock::parse(&block).unwrap();
//! assert_eq!((d.free, d.count()), (8173, 1));
//! assert_eq!(d.string(1), Some(&b"abc"[..]));
//! ```

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::types::BLOCK_SIZE;

/// Free bytes of an empty dictionary block (8192 − 14).
pub const EMPTY_DICT_BLOCK_FREE: u16 = 8178;
/// Most strings one block holds.
pub const MAX_STRINGS_PER_BLOCK: usize = 1023;
/// The end-of-header marker.
pub const END_OF_HEADER: u16 = 0xFFFF;
/// Header bytes of an empty block.
const EMPTY_HEADER: [u8; 14] = [0xf2, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0xff, 0xff];

/// An empty dictionary block: the 14-byte header and zeros.
pub fn empty_dict_block() -> [u8; BLOCK_SIZE] {
    let mut b = [0u8; BLOCK_SIZE];
    b[..EMPTY_HEADER.len()].copy_from_slice(&EMPTY_HEADER);
    b
}

/// ColumnStore's emptiness test (mcsRebuildEM): the first u16 is 8178.
#[inline]
pub fn is_empty_dict_block(block: &[u8]) -> bool {
    block
        .get(..2)
        .is_some_and(|b| u16::from_le_bytes([b[0], b[1]]) == EMPTY_DICT_BLOCK_FREE)
}

/// A decoded dictionary block (owns a copy of the block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictBlock {
    /// Free bytes, as stored.
    pub free: u16,
    /// The continuation pointer, as stored (writers store 0).
    pub next: u64,
    /// offset\[0\] (8192), offset\[1\], … offset\[n\].
    offsets: Vec<u16>,
    block: Box<[u8]>,
}

impl DictBlock {
    /// Decode one 8192-byte block. Offsets must start at 8192, never increase, stay behind the
    /// header, and end with `0xFFFF` after at most 1023 strings.
    pub fn parse(block: &[u8]) -> Result<Self, DecodeError> {
        let mut offsets = Vec::new();
        let (free, next) = walk_header(block, |off| offsets.push(off))?;
        Ok(DictBlock {
            free,
            next,
            offsets,
            block: block.into(),
        })
    }

    /// The number of strings of `block`, checked as [`DictBlock::parse`] checks it (the same
    /// errors), without copying the block or its offsets: the token evidence counts the strings
    /// of every block of a dictionary extent.
    pub fn string_count(block: &[u8]) -> Result<usize, DecodeError> {
        if let Some(n) = string_count_of_valid(block) {
            return Ok(n);
        }
        let mut n = 0usize;
        walk_header(block, |_| n += 1)?;
        Ok(n - 1)
    }

    /// Number of strings.
    pub fn count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// String `op` (1-based), if the block has it.
    pub fn string(&self, op: u16) -> Option<&[u8]> {
        let i = usize::from(op);
        if i == 0 || i >= self.offsets.len() {
            return None;
        }
        self.block
            .get(usize::from(self.offsets[i])..usize::from(self.offsets[i - 1]))
    }

    /// All strings, in op order.
    pub fn strings(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.offsets
            .windows(2)
            .map(|w| &self.block[usize::from(w[1])..usize::from(w[0])])
    }

    /// Whether this is an empty block (free = 8178).
    pub fn is_empty(&self) -> bool {
        self.free == EMPTY_DICT_BLOCK_FREE
    }
}

/// [`DictBlock::string_count`] of a block [`walk_header`] accepts, in one loop over its offsets
/// without a cursor (the scan counts the strings of every block of a predicted dictionary, so a
/// bounds-checked read per offset was most of that cost); `None` for any block `walk_header`
/// refuses, so that its error still comes from the one reading of the rules. The checks are
/// `walk_header`'s, in its order: length, offset\[0\], each offset at most the one before and at
/// most 1023 strings, then the last offset at or past the end of the header.
fn string_count_of_valid(block: &[u8]) -> Option<usize> {
    let block: &[u8; BLOCK_SIZE] = block.try_into().ok()?;
    // free (2 bytes) and next (8), then offset[0] at byte 10.
    let first = u16::from_le_bytes([block[10], block[11]]);
    if usize::from(first) != BLOCK_SIZE {
        return None;
    }
    let (mut prev, mut count) = (first, 1usize);
    for (i, pair) in block[12..].chunks_exact(2).enumerate() {
        let off = u16::from_le_bytes([pair[0], pair[1]]);
        if off == END_OF_HEADER {
            // The header ends after this marker.
            let header_end = 12 + 2 * (i + 1);
            return (usize::from(prev) >= header_end).then_some(count - 1);
        }
        if off > prev || count > MAX_STRINGS_PER_BLOCK {
            return None;
        }
        prev = off;
        count += 1;
    }
    None
}

/// Check the header of `block` and hand every offset to `each`, offset\[0\] first: its free
/// bytes and next pointer. The one reading of the header rules (see [`DictBlock::parse`]).
fn walk_header(block: &[u8], mut each: impl FnMut(u16)) -> Result<(u16, u64), DecodeError> {
    let mut c = Cursor::new(block);
    if block.len() != BLOCK_SIZE {
        c.take(BLOCK_SIZE, "dictionary block")?;
        return Err(DecodeError::invalid(
            BLOCK_SIZE as u64,
            "dictionary block length",
            "8192",
            block.len(),
        ));
    }
    let free = c.u16("free bytes")?;
    let next = c.u64("next pointer")?;
    let first = c.u16("offset[0]")?;
    if usize::from(first) != BLOCK_SIZE {
        return Err(DecodeError::invalid(10, "offset[0]", "8192", first));
    }
    each(first);
    let (mut prev, mut count) = (first, 1usize);
    loop {
        let at = c.offset();
        let off = c.u16("string offset")?;
        if off == END_OF_HEADER {
            break;
        }
        if off > prev {
            return Err(DecodeError::invalid(
                at,
                "string offset",
                format!("at most the previous offset {prev}"),
                off,
            ));
        }
        if count > MAX_STRINGS_PER_BLOCK {
            return Err(DecodeError::invalid(
                at,
                "string offset",
                "the 0xffff end marker after at most 1023 strings",
                off,
            ));
        }
        each(off);
        prev = off;
        count += 1;
    }
    let header_end = c.offset();
    if u64::from(prev) < header_end {
        return Err(DecodeError::invalid(
            header_end - 4,
            "string offset",
            format!("at least {header_end} (the end of the block header)"),
            prev,
        ));
    }
    Ok((free, next))
}

/// Fills one dictionary block the way ColumnStore's writer does (CAT §3.4).
#[derive(Debug, Clone)]
pub struct DictBlockBuilder {
    block: Box<[u8; BLOCK_SIZE]>,
    offsets: Vec<u16>,
    free: u16,
}

impl Default for DictBlockBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DictBlockBuilder {
    /// An empty block.
    pub fn new() -> Self {
        DictBlockBuilder {
            block: Box::new([0u8; BLOCK_SIZE]),
            offsets: vec![BLOCK_SIZE as u16],
            free: EMPTY_DICT_BLOCK_FREE,
        }
    }

    /// Append `s` and return its op, or `None` when it does not fit: a string fits when
    /// `free − 2 ≥ len` and the block holds fewer than 1023 strings.
    pub fn try_push(&mut self, s: &[u8]) -> Option<u16> {
        if self.count() >= MAX_STRINGS_PER_BLOCK || usize::from(self.free) < s.len() + 2 {
            return None;
        }
        let end = usize::from(self.offsets[self.offsets.len() - 1]);
        let start = end - s.len();
        self.block[start..end].copy_from_slice(s);
        self.offsets.push(start as u16);
        self.free -= (s.len() + 2) as u16;
        Some(self.count() as u16)
    }

    /// Strings pushed so far.
    pub fn count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Free bytes left.
    pub fn free(&self) -> u16 {
        self.free
    }

    /// The finished block.
    pub fn finish(&self) -> [u8; BLOCK_SIZE] {
        let mut b = *self.block;
        b[0..2].copy_from_slice(&self.free.to_le_bytes());
        b[2..10].fill(0);
        let mut at = 10;
        for off in &self.offsets {
            b[at..at + 2].copy_from_slice(&off.to_le_bytes());
            at += 2;
        }
        b[at..at + 2].copy_from_slice(&END_OF_HEADER.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeKind;

    proptest::proptest! {
        /// Every block the writer's rules make is counted by the loop without a cursor (the
        /// fallback to [`walk_header`] would hide a loop that refuses valid blocks), with the
        /// count the decoder finds; the seg_roundtrip proptest checks damaged blocks.
        #[test]
        fn a_valid_block_is_counted_without_the_cursor(
            lens in proptest::collection::vec(0usize..40, 0..1100),
        ) {
            let mut b = DictBlockBuilder::new();
            let mut n = 0usize;
            for (i, &len) in lens.iter().enumerate() {
                if b.try_push(&vec![(i % 251) as u8; len]).is_none() {
                    break;
                }
                n += 1;
            }
            let block = b.finish();
            proptest::prop_assert_eq!(string_count_of_valid(&block[..]), Some(n));
            proptest::prop_assert_eq!(DictBlock::parse(&block[..]).map(|d| d.count()), Ok(n));
        }
    }

    /// A last string that starts inside the header is refused, one that starts right after it
    /// is not: the full block of one 8176-byte string (header of 16 bytes: free, next, offset[0],
    /// offset[1], end marker) has offset[1] = 16; 15 would overlap the end marker.
    #[test]
    fn a_last_string_starting_inside_the_header_is_refused() {
        let mut b = DictBlockBuilder::new();
        assert_eq!(b.try_push(&[b'x'; 8176]), Some(1));
        let mut block = b.finish();
        assert_eq!(&block[12..16], &[16, 0, 0xff, 0xff]);
        assert_eq!(string_count_of_valid(&block), Some(1));
        assert_eq!(DictBlock::string_count(&block), Ok(1));
        block[12] = 15;
        assert_eq!(string_count_of_valid(&block), None);
        let (counted, parsed) = (DictBlock::string_count(&block), DictBlock::parse(&block));
        assert!(counted.is_err(), "{counted:?}");
        assert_eq!(
            counted.unwrap_err().to_string(),
            parsed.unwrap_err().to_string()
        );
    }

    #[test]
    fn empty_block_golden_bytes() {
        let b = empty_dict_block();
        assert_eq!(
            &b[..14],
            &[0xf2, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xff]
        );
        assert!(b[14..].iter().all(|&x| x == 0));
        assert!(is_empty_dict_block(&b));
        assert_eq!(DictBlockBuilder::new().finish(), b);
        let d = DictBlock::parse(&b).unwrap();
        assert_eq!((d.count(), d.free, d.next), (0, 8178, 0));
        assert_eq!(d.string(1), None);
    }

    #[test]
    fn builder_limits() {
        let mut b = DictBlockBuilder::new();
        assert_eq!(b.try_push(&[b'x'; 8177]), None);
        assert_eq!(b.try_push(&[b'x'; 8176]), Some(1));
        assert_eq!(b.free(), 0);
        assert_eq!(b.try_push(b""), None);
        let d = DictBlock::parse(&b.finish()).unwrap();
        assert_eq!(d.string(1).unwrap().len(), 8176);

        let mut b = DictBlockBuilder::new();
        for i in 0..1023 {
            assert_eq!(b.try_push(b"ab"), Some(i + 1));
        }
        assert_eq!(b.try_push(b"a"), None);
        let d = DictBlock::parse(&b.finish()).unwrap();
        assert_eq!(d.count(), 1023);
        assert_eq!(d.free, 8178 - 1023 * 4);
    }

    #[test]
    fn parse_errors() {
        let mut b = empty_dict_block();
        b[10] = 1;
        assert_eq!(DictBlock::parse(&b).unwrap_err().offset, 10);
        let mut b = DictBlockBuilder::new();
        b.try_push(b"hello").unwrap();
        b.try_push(b"world").unwrap();
        let mut raw = b.finish();
        raw[14..16].copy_from_slice(&8190u16.to_le_bytes());
        let e = DictBlock::parse(&raw).unwrap_err();
        assert_eq!(e.offset, 14);
        assert!(matches!(
            e.kind,
            DecodeKind::Invalid {
                field: "string offset",
                ..
            }
        ));
        let e = DictBlock::parse(&raw[..100]).unwrap_err();
        assert!(matches!(e.kind, DecodeKind::Truncated { .. }));
        let mut raw = [0u8; BLOCK_SIZE];
        raw[10..12].copy_from_slice(&8192u16.to_le_bytes());
        raw[12..14].copy_from_slice(&2u16.to_le_bytes());
        raw[14..16].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(DictBlock::parse(&raw).unwrap_err().offset, 12);
    }
}
