//! Kernels: the per-value classification of one run of blocks, the innermost loop of the scan.
//!
//! Every value of every block is classified (no sampling): EMPTY values do not count, NULLs count
//! as rows but not as values, everything else updates min/max in the column's order (SEG §5,
//! EM §2.3). [`kernel_for`] picks a file's kernel from its kind; [`Kernel::scan`] runs it on
//! the uncompressed bytes of consecutive blocks. The scan stage calls it from its workers.

use super::kind::{ObjectKind, StringCp};
use super::stats::{Domain, ExtentStats};
use crate::seg::datatype::ColDataType;
use crate::seg::markers::markers;
use crate::types::BLOCK_SIZE;

/// How the blocks of one file are classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Column values of 1, 2, 4 or 8 bytes.
    Narrow {
        width: u32,
        empty: u64,
        null: u64,
        alt_null: u64,
        domain: Domain,
    },
    /// 16-byte decimals.
    Wide { empty: i128, null: i128 },
    /// Dictionary blocks: empty when the free-bytes field reads 8178.
    Dictionary,
}

impl Kernel {
    /// Classify `data`, the uncompressed bytes of consecutive blocks starting at `first_fbo`.
    pub fn scan(&self, data: &[u8], first_fbo: u32, out: &mut ExtentStats) {
        match *self {
            Kernel::Narrow {
                width,
                empty,
                null,
                alt_null,
                domain,
            } => {
                let m = NarrowMarkers {
                    empty,
                    null,
                    alt_null,
                };
                match width {
                    1 => dispatch_domain::<u8>(domain, data, first_fbo, m, out),
                    2 => dispatch_domain::<u16>(domain, data, first_fbo, m, out),
                    4 => dispatch_domain::<u32>(domain, data, first_fbo, m, out),
                    _ => dispatch_domain::<u64>(domain, data, first_fbo, m, out),
                }
            }
            Kernel::Wide { empty, null } => scan_wide(data, first_fbo, empty, null, out),
            Kernel::Dictionary => scan_dictionary(data, first_fbo, out),
        }
    }
}

#[derive(Clone, Copy)]
struct NarrowMarkers {
    empty: u64,
    null: u64,
    alt_null: u64,
}

const SIGNED: u8 = 0;
const UNSIGNED: u8 = 1;
const BINARY: u8 = 2;
const NO_CP: u8 = 3;

fn dispatch_domain<T: Lane>(
    domain: Domain,
    data: &[u8],
    first_fbo: u32,
    m: NarrowMarkers,
    out: &mut ExtentStats,
) {
    match domain {
        Domain::Signed => scan_narrow::<T, SIGNED>(data, first_fbo, m, out),
        Domain::Unsigned => scan_narrow::<T, UNSIGNED>(data, first_fbo, m, out),
        Domain::Binary => scan_narrow::<T, BINARY>(data, first_fbo, m, out),
        Domain::None => scan_narrow::<T, NO_CP>(data, first_fbo, m, out),
    }
}

/// A column value of one storage width, as its native unsigned integer.
trait Lane: bytemuck::Pod + Ord {
    const SIGN: Self;
    const MIN: Self;
    const MAX: Self;
    /// Little-endian bytes to the value (a no-op on little-endian hosts).
    fn le_to_native(self) -> Self;
    fn from_le_slice(b: &[u8]) -> Self;
    fn truncate(x: u64) -> Self;
    fn widen(self) -> u64;
    fn swap(self) -> Self;
    fn xor(self, other: Self) -> Self;
}

macro_rules! lane {
    ($t:ty) => {
        impl Lane for $t {
            const SIGN: Self = 1 << (<$t>::BITS - 1);
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn le_to_native(self) -> Self {
                <$t>::from_le(self)
            }
            #[inline(always)]
            fn from_le_slice(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn truncate(x: u64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn widen(self) -> u64 {
                u64::from(self)
            }
            #[inline(always)]
            fn swap(self) -> Self {
                self.swap_bytes()
            }
            #[inline(always)]
            fn xor(self, other: Self) -> Self {
                self ^ other
            }
        }
    };
}
lane!(u8);
lane!(u16);
lane!(u32);
lane!(u64);

/// The order key of a value in its own width: the same order as [`Domain::key`] gives the
/// value widened to 64 bits, so per-chunk minima convert back exactly ([`narrow_raw`]).
#[inline(always)]
fn narrow_key<T: Lane, const D: u8>(raw: T) -> T {
    match D {
        SIGNED => raw.xor(T::SIGN),
        BINARY => raw.swap(),
        _ => raw,
    }
}

/// The raw value whose key is `key` (inverse of [`narrow_key`]).
fn narrow_raw<T: Lane, const D: u8>(key: T) -> T {
    match D {
        SIGNED => key.xor(T::SIGN),
        BINARY => key.swap(),
        _ => key,
    }
}

/// The per-value loop, monomorphised per width and domain, over the block's values as native
/// integers (a typed view of the bytes when they are aligned), branch-free so that it
/// vectorises: EMPTY values count for nothing, NULLs count as rows, the keys of everything
/// else are folded into min/max.
#[multiversion::multiversion(targets("x86_64+avx2", "x86_64+sse4.1", "aarch64+neon"))]
fn scan_narrow<T: Lane, const D: u8>(
    data: &[u8],
    first_fbo: u32,
    m: NarrowMarkers,
    out: &mut ExtentStats,
) {
    let (empty, null, alt_null) = (
        T::truncate(m.empty),
        T::truncate(m.null),
        T::truncate(m.alt_null),
    );
    let (mut lo, mut hi) = (T::MAX, T::MIN);
    let (mut values, mut nulls) = (0u64, 0u64);
    let mut last = None;
    for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
        // Per-block counters are u32 (a block holds at most 8192 values): 64-bit counters keep
        // the compiler from vectorising the loop over narrow values.
        let (mut rows, mut block_nulls) = (0u32, 0u32);
        let (mut block_lo, mut block_hi) = (T::MAX, T::MIN);
        let mut visit = |raw: T| {
            let is_row = raw != empty;
            let is_null = (raw == null) | (raw == alt_null);
            rows += u32::from(is_row);
            block_nulls += u32::from(is_row & is_null);
            if D != NO_CP {
                let k = narrow_key::<T, D>(raw);
                let is_value = is_row & !is_null;
                block_lo = block_lo.min(if is_value { k } else { T::MAX });
                block_hi = block_hi.max(if is_value { k } else { T::MIN });
            }
        };
        match bytemuck::try_cast_slice::<u8, T>(block) {
            Ok(values) => values.iter().for_each(|&v| visit(v.le_to_native())),
            Err(_) => block
                .chunks_exact(std::mem::size_of::<T>())
                .for_each(|v| visit(T::from_le_slice(v))),
        }
        if rows > 0 {
            last = Some(first_fbo + i as u32);
            nulls += u64::from(block_nulls);
            values += u64::from(rows - block_nulls);
            lo = lo.min(block_lo);
            hi = hi.max(block_hi);
        }
    }
    let width = std::mem::size_of::<T>() as u32;
    let last_row = last.map(|b| {
        let block = &data[(b - first_fbo) as usize * BLOCK_SIZE..];
        let block = &block[..block.len().min(BLOCK_SIZE)];
        last_row_in(block, b, width as usize, |v| T::from_le_slice(v) != empty)
    });
    let domain = match D {
        SIGNED => Domain::Signed,
        UNSIGNED => Domain::Unsigned,
        BINARY => Domain::Binary,
        _ => Domain::None,
    };
    let keys = (values > 0 && D != NO_CP).then(|| {
        let to_key = |k: T| domain.key(narrow_raw::<T, D>(k).widen(), width);
        (to_key(lo), to_key(hi))
    });
    out.merge(&ExtentStats {
        last_nonempty: last,
        last_row,
        values,
        nulls,
        keys,
        wide: None,
    });
}

fn scan_wide(data: &[u8], first_fbo: u32, empty: i128, null: i128, out: &mut ExtentStats) {
    let (mut lo, mut hi) = (i128::MAX, i128::MIN);
    let (mut values, mut nulls) = (0u64, 0u64);
    let mut last = None;
    for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
        let mut rows = 0u64;
        for v in block.chunks_exact(16) {
            let mut b = [0u8; 16];
            b.copy_from_slice(v);
            let x = i128::from_le_bytes(b);
            if x == empty {
                continue;
            }
            rows += 1;
            if x == null {
                nulls += 1;
                continue;
            }
            values += 1;
            lo = lo.min(x);
            hi = hi.max(x);
        }
        if rows > 0 {
            last = Some(first_fbo + i as u32);
        }
    }
    let last_row = last.map(|b| {
        let block = &data[(b - first_fbo) as usize * BLOCK_SIZE..];
        let block = &block[..block.len().min(BLOCK_SIZE)];
        last_row_in(block, b, 16, |v| {
            let mut x = [0u8; 16];
            x.copy_from_slice(v);
            i128::from_le_bytes(x) != empty
        })
    });
    out.merge(&ExtentStats {
        last_nonempty: last,
        last_row,
        values,
        nulls,
        keys: None,
        wide: (values > 0).then_some((lo, hi)),
    });
}

/// The file row of the last value of `block` (file block `fbo`, values of `width` bytes) that
/// `is_row` accepts; the block is known to hold one.
fn last_row_in(block: &[u8], fbo: u32, width: usize, is_row: impl Fn(&[u8]) -> bool) -> u64 {
    let per_block = (BLOCK_SIZE / width) as u64;
    let at = block.chunks_exact(width).rposition(is_row).unwrap_or(0) as u64;
    u64::from(fbo) * per_block + at
}

fn scan_dictionary(data: &[u8], first_fbo: u32, out: &mut ExtentStats) {
    let mut last = None;
    for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
        if !crate::seg::dict::is_empty_dict_block(block) {
            last = Some(first_fbo + i as u32);
        }
    }
    out.merge(&ExtentStats {
        last_nonempty: last,
        ..ExtentStats::default()
    });
}

/// The kernel and comparison domain for a kind (extent-map spec §2.3, segment spec §5).
pub fn kernel_for(kind: ObjectKind, tokens: bool, string_cp: StringCp) -> (Kernel, Domain) {
    let ObjectKind::Column { data_type, width } = kind else {
        return (Kernel::Dictionary, Domain::None);
    };
    use ColDataType::*;
    let domain = match data_type {
        _ if tokens => Domain::None,
        Float | Double | UFloat | UDouble | LongDouble => Domain::None,
        Char | Varchar => match string_cp {
            StringCp::Invalid => Domain::None,
            StringCp::Binary => Domain::Binary,
        },
        Text | Blob | Clob | VarBinary => Domain::None,
        UTinyInt | USmallInt | UMedInt | UInt | UBigInt => Domain::Unsigned,
        _ => Domain::Signed,
    };
    let m = markers(data_type, width);
    if width == 16 {
        let kernel = Kernel::Wide {
            empty: m.empty as i128,
            null: m.null as i128,
        };
        return (
            kernel,
            if matches!(domain, Domain::None) {
                Domain::None
            } else {
                Domain::Signed
            },
        );
    }
    let kernel = Kernel::Narrow {
        width: u32::from(width),
        empty: m.empty as u64,
        null: m.null as u64,
        alt_null: m.alt_null.unwrap_or(m.null) as u64,
        domain,
    };
    (kernel, domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn narrow(width: u32, domain: Domain, empty: u64, null: u64) -> Kernel {
        Kernel::Narrow {
            width,
            empty,
            null,
            alt_null: null,
            domain,
        }
    }

    #[test]
    fn every_value_counts_not_samples() {
        // An INT block that is EMPTY except one value in the middle of block 1 at a position
        // mcsRebuildEM's three samples (first, byte 4096, last) never look at.
        let empty = 0x8000_0001u32;
        let mut data: Vec<u8> = empty.to_le_bytes().repeat(2048 * 3);
        let pos = 8192 + 4 * 7;
        data[pos..pos + 4].copy_from_slice(&(-42i32).to_le_bytes());
        let mut s = ExtentStats::default();
        narrow(4, Domain::Signed, empty.into(), 0x8000_0000).scan(&data, 10, &mut s);
        assert_eq!(s.last_nonempty, Some(11));
        // INT: 2048 rows per block; the value is row 7 of file block 11.
        assert_eq!(s.last_row, Some(11 * 2048 + 7));
        assert_eq!(s.values, 1);
        assert_eq!(
            s.keys
                .map(|(l, h)| (Domain::Signed.value(l), Domain::Signed.value(h))),
            Some((-42, -42))
        );
    }

    #[test]
    fn nulls_are_rows_but_not_values() {
        let mut data = vec![0xFFu8; 8192 * 2];
        data[8192] = 0xFE; // UTINYINT NULL in block 1
        data[5] = 7;
        data[6] = 200;
        let mut s = ExtentStats::default();
        narrow(1, Domain::Unsigned, 0xFF, 0xFE).scan(&data, 0, &mut s);
        assert_eq!((s.last_nonempty, s.values, s.nulls), (Some(1), 2, 1));
        // UTINYINT: 8192 rows per block; the NULL is row 0 of block 1.
        assert_eq!(s.last_row, Some(8192));
        assert_eq!(s.keys, Some((7, 200)));
    }

    /// The obvious loop: every value read as a zero-extended u64, classified one by one.
    fn reference(
        width: u32,
        domain: Domain,
        m: (u64, u64, u64),
        data: &[u8],
        first_fbo: u32,
    ) -> ExtentStats {
        let mut s = ExtentStats::default();
        let w = width as usize;
        for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
            for v in block.chunks_exact(w) {
                let mut b = [0u8; 8];
                b[..w].copy_from_slice(v);
                let raw = u64::from_le_bytes(b);
                if raw == m.0 {
                    continue;
                }
                s.last_nonempty = Some(first_fbo + i as u32);
                let row_in_block = (v.as_ptr() as usize - block.as_ptr() as usize) / w;
                s.last_row = Some(
                    u64::from(first_fbo + i as u32) * (BLOCK_SIZE / w) as u64 + row_in_block as u64,
                );
                if raw == m.1 || raw == m.2 {
                    s.nulls += 1;
                    continue;
                }
                s.values += 1;
                if domain != Domain::None {
                    let k = domain.key(raw, width);
                    s.keys = Some(s.keys.map_or((k, k), |(l, h)| (l.min(k), h.max(k))));
                }
            }
        }
        s
    }

    proptest::proptest! {
        #[test]
        fn kernel_equals_the_obvious_loop(
            width in proptest::sample::select(vec![1u32, 2, 4, 8]),
            domain in proptest::sample::select(vec![Domain::Signed, Domain::Unsigned, Domain::Binary, Domain::None]),
            picks in proptest::collection::vec((0u8..8, proptest::num::u64::ANY), 1..3000),
            blocks in 1usize..4,
            offset in 0usize..3,
            first_fbo in 0u32..100_000,
        ) {
            let mask = if width == 8 { u64::MAX } else { (1u64 << (8 * width)) - 1 };
            let (empty, null, alt) = (mask, mask - 1, 0x80 & mask);
            let w = width as usize;
            let n = blocks * BLOCK_SIZE / w;
            // Mostly EMPTY, with values, NULLs and the other NULL spread over the blocks.
            let mut data = vec![0xFFu8; n * w + offset];
            for (j, &(kind, v)) in picks.iter().enumerate() {
                let slot = (j * 7919 + v as usize) % n;
                let val = match kind { 0 => null, 1 => alt, 2 => empty, _ => v & mask };
                data[offset + slot * w..offset + slot * w + w].copy_from_slice(&val.to_le_bytes()[..w]);
            }
            // `offset` shifts the data so the typed view is unaligned and the fallback runs too.
            let data = &data[offset..];
            let mut got = ExtentStats::default();
            Kernel::Narrow { width, empty, null, alt_null: alt, domain }.scan(data, first_fbo, &mut got);
            proptest::prop_assert_eq!(got, reference(width, domain, (empty, null, alt), data, first_fbo));
        }
    }
}
