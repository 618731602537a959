//! Per-extent facts found by scanning, merged with one associative [`ExtentStats::merge`] so
//! that a parallel fold/reduce gives exactly what a plain loop gives.
//!
//! Min/max are kept as *order keys*: narrow values are mapped to a `u64` whose unsigned order
//! is the column's comparison order (signed: sign bit flipped; unsigned: as is; binary strings:
//! the bytes read big-endian). One function per domain owns that mapping ([`Domain::key`]) and
//! its inverse ([`Domain::value`]). Wide (16-byte) decimals keep `i128` directly.

/// How the values of a column compare for casual partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Domain {
    /// Signed integers, narrow DECIMAL/UDECIMAL, DATE, DATETIME, TIME, TIMESTAMP.
    Signed,
    /// Unsigned integers (and the AUX column).
    Unsigned,
    /// Inline CHAR/VARCHAR compared in binary (memcmp) order, as cpimport does.
    Binary,
    /// No min/max is kept (FLOAT, DOUBLE, tokens, inline strings by default).
    None,
}

impl Domain {
    /// The order key of a raw little-endian value of `width` bytes (zero-extended in `raw`).
    #[inline(always)]
    pub fn key(self, raw: u64, width: u32) -> u64 {
        match self {
            Domain::Signed => {
                let shift = 64 - 8 * width;
                (((raw << shift) as i64) >> shift) as u64 ^ (1 << 63)
            }
            Domain::Unsigned | Domain::None => raw,
            // Zero-extended LE bytes b0..b(w-1) → b0 becomes the most significant byte.
            Domain::Binary => raw.swap_bytes(),
        }
    }

    /// The value ColumnStore stores in the extent map (the signed 64-bit view) for an order key.
    pub fn value(self, key: u64) -> i64 {
        match self {
            Domain::Signed => (key ^ (1 << 63)) as i64,
            Domain::Unsigned | Domain::None => key as i64,
            Domain::Binary => key.swap_bytes() as i64,
        }
    }
}

/// What a scan established about one extent (or part of one).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtentStats {
    /// File block offset of the last block holding any non-EMPTY value.
    pub last_nonempty: Option<u32>,
    /// File row number of the last non-EMPTY value (columns only: block × values per block +
    /// position in the block); the row count the table reconciliation compares across columns.
    pub last_row: Option<u64>,
    /// Non-NULL, non-EMPTY values seen.
    pub values: u64,
    /// NULL values seen.
    pub nulls: u64,
    /// Min and max order keys of the narrow values seen ([`Domain::key`]).
    pub keys: Option<(u64, u64)>,
    /// Min and max of 16-byte decimal values seen.
    pub wide: Option<(i128, i128)>,
}

impl ExtentStats {
    /// Combine two partial results; associative and commutative.
    pub fn merge(&mut self, other: &ExtentStats) {
        self.last_nonempty = self.last_nonempty.max(other.last_nonempty);
        self.last_row = self.last_row.max(other.last_row);
        self.values += other.values;
        self.nulls += other.nulls;
        self.keys = merge_range(self.keys, other.keys);
        self.wide = merge_range(self.wide, other.wide);
    }

    /// Whether any row (value or NULL) was seen.
    pub fn has_rows(&self) -> bool {
        self.values + self.nulls > 0
    }
}

fn merge_range<T: Ord + Copy>(a: Option<(T, T)>, b: Option<(T, T)>) -> Option<(T, T)> {
    match (a, b) {
        (Some((al, ah)), Some((bl, bh))) => Some((al.min(bl), ah.max(bh))),
        (x, None) | (None, x) => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signed_keys_order_like_signed_values() {
        let vals: [i64; 5] = [i64::MIN + 2, -5, 0, 7, i64::MAX];
        let keys: Vec<u64> = vals
            .iter()
            .map(|&v| Domain::Signed.key(v as u64, 8))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (&v, &k) in vals.iter().zip(&keys) {
            assert_eq!(Domain::Signed.value(k), v);
        }
        // A 2-byte -3 (0xFFFD) sign-extends.
        assert_eq!(Domain::Signed.value(Domain::Signed.key(0xFFFD, 2)), -3);
    }

    #[test]
    fn binary_keys_order_like_memcmp() {
        // "Apple" < "Banana" < "Bb" in memcmp order, stored LE zero-padded in 8 bytes.
        let le = |s: &[u8]| {
            let mut b = [0u8; 8];
            b[..s.len()].copy_from_slice(s);
            u64::from_le_bytes(b)
        };
        let (a, b, c) = (le(b"Apple"), le(b"Banana"), le(b"Bb"));
        assert!(Domain::Binary.key(a, 8) < Domain::Binary.key(b, 8));
        assert!(Domain::Binary.key(b, 8) < Domain::Binary.key(c, 8));
        assert_eq!(Domain::Binary.value(Domain::Binary.key(a, 8)), 0x656C707041);
    }

    fn stats() -> impl Strategy<Value = ExtentStats> {
        (
            proptest::option::of(0u32..100_000),
            proptest::option::of(0u64..100_000_000),
            0u64..1000,
            0u64..1000,
            proptest::option::of((any::<u64>(), any::<u64>())),
            proptest::option::of((any::<i128>(), any::<i128>())),
        )
            .prop_map(|(l, r, v, n, k, w)| ExtentStats {
                last_nonempty: l,
                last_row: r,
                values: v,
                nulls: n,
                keys: k.map(|(a, b)| (a.min(b), a.max(b))),
                wide: w.map(|(a, b)| (a.min(b), a.max(b))),
            })
    }

    proptest! {
        #[test]
        fn merge_is_associative_and_commutative(a in stats(), b in stats(), c in stats()) {
            let mut ab = a.clone(); ab.merge(&b);
            let mut ba = b.clone(); ba.merge(&a);
            prop_assert_eq!(&ab, &ba);
            let mut ab_c = ab.clone(); ab_c.merge(&c);
            let mut bc = b.clone(); bc.merge(&c);
            let mut a_bc = a.clone(); a_bc.merge(&bc);
            prop_assert_eq!(ab_c, a_bc);
        }

        #[test]
        fn signed_key_round_trips(v in any::<i64>()) {
            prop_assert_eq!(Domain::Signed.value(Domain::Signed.key(v as u64, 8)), v);
        }
    }
}
