//! Dictionary tokens: the 8-byte values of a dictionary (long string) column file (SEG §6.2).
//!
//! | bits | field | meaning |
//! |---|---|---|
//! | 0–9 | `op` | 1-based string ordinal inside the block |
//! | 10–45 | `lbid` | LBID of the dictionary block (named `fbo` in ColumnStore, but an LBID) |
//! | 46–63 | `bc` | continuation blocks of a string split across blocks (at LBID+1, +2, …) |
//!
//! NULL is `0xFFFFFFFFFFFFFFFE`, EMPTY (no row) `0xFFFFFFFFFFFFFFFF`.
//!
//! ```
//! use emengine::seg::token::Token;
//! let raw = u64::from_le_bytes([0x05, 0x00, 0x89, 0x07, 0x00, 0x80, 0x00, 0x00]);
//! assert_eq!(Token::decode(raw), Token { op: 5, lbid: 123456, bc: 2 });
//! ```

/// Token of a NULL value.
pub const TOKEN_NULL: u64 = 0xFFFF_FFFF_FFFF_FFFE;
/// Token of an EMPTY row.
pub const TOKEN_EMPTY: u64 = u64::MAX;

const OP_BITS: u32 = 10;
const LBID_BITS: u32 = 36;
const OP_MASK: u64 = (1 << OP_BITS) - 1;
const LBID_MASK: u64 = (1 << LBID_BITS) - 1;

/// A decoded token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    /// 1-based string ordinal in the block (10 bits).
    pub op: u16,
    /// LBID of the first block of the string (36 bits).
    pub lbid: i64,
    /// Number of continuation blocks (18 bits).
    pub bc: u32,
}

impl Token {
    /// Split a raw token into its fields (NULL and EMPTY decode too; test for them first).
    #[inline]
    pub fn decode(raw: u64) -> Token {
        Token {
            op: (raw & OP_MASK) as u16,
            lbid: ((raw >> OP_BITS) & LBID_MASK) as i64,
            bc: (raw >> (OP_BITS + LBID_BITS)) as u32,
        }
    }

    /// The raw token. Fields are masked to their widths (10, 36 and 18 bits).
    #[inline]
    pub fn encode(&self) -> u64 {
        (u64::from(self.op) & OP_MASK)
            | ((self.lbid as u64 & LBID_MASK) << OP_BITS)
            | (u64::from(self.bc) << (OP_BITS + LBID_BITS))
    }

    /// The bits of `raw` that name the string's blocks (its LBID and continuation count),
    /// without its ordinal: tokens with equal bits name the same blocks. The NULL and EMPTY
    /// tokens give 2^54 − 1, which no token with at most 2048 continuation blocks has.
    #[inline]
    pub fn target_bits(raw: u64) -> u64 {
        raw >> OP_BITS
    }

    /// The ordinal of `raw` (its low 10 bits).
    #[inline]
    pub fn op_bits(raw: u64) -> u16 {
        (raw & OP_MASK) as u16
    }

    /// Whether `raw` is the NULL or the EMPTY token (not a string reference).
    #[inline]
    pub fn is_marker(raw: u64) -> bool {
        raw == TOKEN_NULL || raw == TOKEN_EMPTY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let t = Token {
            op: 5,
            lbid: 123_456,
            bc: 2,
        };
        assert_eq!(t.encode(), 0x0000_8000_0789_0005);
        assert_eq!(Token::decode(0x0000_8000_0789_0005), t);
    }

    #[test]
    fn null_token_is_all_ones_but_bit_0() {
        let t = Token::decode(TOKEN_NULL);
        assert_eq!((t.op, t.lbid, t.bc), (0x3FE, 0xF_FFFF_FFFF, 0x3FFFF));
        assert_eq!(t.encode(), TOKEN_NULL);
    }
}
