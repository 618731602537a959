//! Kernels: the per-value classification of one run of blocks, the innermost loop of the scan.
//!
//! Every value of every block is classified (no sampling): EMPTY values do not count, NULLs count
//! as rows but not as values, everything else updates min/max in the column's order (SEG §5,
//! EM §2.3). [`kernel_for`] picks a file's kernel from its kind; [`Kernel::scan`] runs it on
//! the uncompressed bytes of consecutive blocks. The scan stage calls it from its workers.
//!
//! One pass per block, in two steps:
//!
//! 1. A block whose bytes equal the column's EMPTY block (the EMPTY value repeated, SEG §5.1) is
//!    skipped whole by one byte comparison (`memcmp`, which stops at the first difference): the
//!    never-written tails of extents cost no more than reading them.
//! 2. Any other block runs one branch-free loop over stripes that classifies every value and
//!    reduces at once — EMPTY and NULL counts and the min/max of the values' order keys — into
//!    per-lane accumulators of the value's own width (256 × 8-bit, 32 × 16-bit, 16 × 32-bit or
//!    16 × 64-bit lanes: 256, 64, 64 and 128-byte stripes, the widths `benches/kernel.rs` found
//!    fastest), which the compiler turns into a few vector instructions per step; the AVX-512, AVX2,
//!    SSE4.1 or NEON build is chosen at run time (`multiversion`). A block holds at least
//!    8192 / 256 = 32 stripes and at most 128, so a lane counts at most 128 per block and cannot
//!    overflow even 8 bits; the lane counts are summed after each block. 16-byte decimals skip
//!    EMPTY blocks the same way, then classify one value at a time.
//!
//! [`Kernel::scan_plain`] is the obvious one-value-at-a-time loop the kernels are tested and
//! benchmarked against.
//!
//! The AVX-512 build of the 64-bit kernel still vectorises *across* stripes, loading lanes with
//! `vpgatherdq` (seen in `perf annotate` of a rebuild; with 64-byte stripes the other builds
//! did too). Keeping the loop vectoriser off the stripe loop (an empty `asm!` in it) removed every
//! gather and changed neither the cached (`kernel`) nor the out-of-cache (`kernel_memory`)
//! throughput of `benches/kernel.rs`, so the gathers are not what limits it and the loop is left
//! to the compiler. Out of cache the kernels run at 0.5–0.9 × a plain read of the same bytes
//! (`kernel_memory`: int8 the slowest, compute-bound; the others near memory speed). Prefetching
//! the block two ahead in software did not help there: every line of it, slower (10.4–10.9
//! GiB/s for 16 to 64-bit lanes); the first line of each page, within the noise.

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

    /// The same result as [`Kernel::scan`] by the obvious loop: every value read on its own as
    /// a little-endian integer and classified with `if`s, nothing skipped. The reference the
    /// kernels are tested against, and the "plain loop" of the benchmarks.
    pub fn scan_plain(&self, data: &[u8], first_fbo: u32, out: &mut ExtentStats) {
        let mut s = ExtentStats::default();
        match *self {
            Kernel::Narrow {
                width,
                empty,
                null,
                alt_null,
                domain,
            } => {
                let w = width as usize;
                for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
                    for v in block.chunks_exact(w) {
                        let mut b = [0u8; 8];
                        b[..w].copy_from_slice(v);
                        let raw = u64::from_le_bytes(b);
                        if raw == empty {
                            continue;
                        }
                        s.last_nonempty = Some(first_fbo + i as u32);
                        let row_in_block = (v.as_ptr() as usize - block.as_ptr() as usize) / w;
                        s.last_row = Some(
                            u64::from(first_fbo + i as u32) * (BLOCK_SIZE / w) as u64
                                + row_in_block as u64,
                        );
                        if raw == null || raw == alt_null {
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
            }
            Kernel::Wide { empty, null } => {
                for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
                    for v in block.chunks_exact(16) {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(v);
                        let x = i128::from_le_bytes(b);
                        if x == empty {
                            continue;
                        }
                        s.last_nonempty = Some(first_fbo + i as u32);
                        let row_in_block = (v.as_ptr() as usize - block.as_ptr() as usize) / 16;
                        s.last_row = Some(
                            u64::from(first_fbo + i as u32) * (BLOCK_SIZE / 16) as u64
                                + row_in_block as u64,
                        );
                        if x == null {
                            s.nulls += 1;
                            continue;
                        }
                        s.values += 1;
                        s.wide = Some(s.wide.map_or((x, x), |(l, h)| (l.min(x), h.max(x))));
                    }
                }
            }
            Kernel::Dictionary => return scan_dictionary(data, first_fbo, out),
        }
        out.merge(&s);
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
    /// Bytes of one stripe (see the module documentation for each width's).
    const STRIPE: usize;
    /// One stripe of values: the lanes of the kernel's accumulators.
    type Stripe: bytemuck::Pod + AsRef<[Self]> + AsMut<[Self]>;
    const SIGN: Self;
    const MIN: Self;
    const MAX: Self;
    fn splat(x: Self) -> Self::Stripe;
    /// Little-endian bytes to the value (a no-op on little-endian hosts).
    fn le_to_native(self) -> Self;
    fn from_le_slice(b: &[u8]) -> Self;
    fn truncate(x: u64) -> Self;
    fn widen(self) -> u64;
    fn swap(self) -> Self;
    fn xor(self, other: Self) -> Self;
    /// All ones when `yes`, else zero: a lane mask, as a vector compare yields it.
    fn mask(yes: bool) -> Self;
    fn or(self, other: Self) -> Self;
    fn and_not(self, mask: Self) -> Self;
    /// `self - other` (wrapping): subtracting a mask counts one where it is set.
    fn minus(self, other: Self) -> Self;
}

macro_rules! lane {
    ($t:ty, $stripe:expr) => {
        impl Lane for $t {
            const STRIPE: usize = $stripe;
            type Stripe = [$t; $stripe / std::mem::size_of::<$t>()];
            const SIGN: Self = 1 << (<$t>::BITS - 1);
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn splat(x: Self) -> Self::Stripe {
                [x; $stripe / std::mem::size_of::<$t>()]
            }
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
            #[inline(always)]
            fn mask(yes: bool) -> Self {
                <$t>::from(yes).wrapping_neg()
            }
            #[inline(always)]
            fn or(self, other: Self) -> Self {
                self | other
            }
            #[inline(always)]
            fn and_not(self, mask: Self) -> Self {
                self & !mask
            }
            #[inline(always)]
            fn minus(self, other: Self) -> Self {
                self.wrapping_sub(other)
            }
        }
    };
}
lane!(u8, 256);
lane!(u16, 64);
lane!(u32, 64);
lane!(u64, 128);

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

/// A block of nothing but `value` (`value.len()` bytes, repeated; a trailing partial copy is
/// never compared, as blocks hold whole values).
fn repeated_block(value: &[u8]) -> [u8; BLOCK_SIZE] {
    let mut block = [0u8; BLOCK_SIZE];
    for v in block.chunks_exact_mut(value.len()) {
        v.copy_from_slice(value);
    }
    block
}

/// Whether `block` is nothing but EMPTY values: `empty_block` cut to its length, compared as
/// bytes.
#[inline(always)]
fn all_empty(block: &[u8], empty_block: &[u8; BLOCK_SIZE]) -> bool {
    block == &empty_block[..block.len()]
}

/// Per-lane accumulators of the narrow kernel.
struct Lanes<T: Lane> {
    empties: T::Stripe,
    nulls: T::Stripe,
    lo: T::Stripe,
    hi: T::Stripe,
}

/// Classify one value into lane accumulators, branch-free: EMPTY and NULL (that is not EMPTY)
/// are counted, the keys of everything else are folded into min/max.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn classify<T: Lane, const D: u8>(
    raw: T,
    empty: T,
    null: T,
    alt_null: T,
    empties: &mut T,
    nulls: &mut T,
    lo: &mut T,
    hi: &mut T,
) {
    // Written with lane masks (all ones or zero) rather than `bool`s and `if`s: in this form
    // LLVM's SLP vectoriser turns a stripe into vector compares, subtracts and min/max for
    // every width; with `bool`s it left the 8 × 64-bit stripe scalar (3.5 GiB/s vs 9 for
    // 32-bit lanes, `benches/kernel.rs`).
    let is_empty = T::mask(raw == empty);
    let is_null = T::mask((raw == null) | (raw == alt_null)).and_not(is_empty);
    *empties = empties.minus(is_empty);
    *nulls = nulls.minus(is_null);
    if D != NO_CP {
        let k = narrow_key::<T, D>(raw);
        let not_value = is_empty.or(is_null);
        // Keys are unsigned: a non-value becomes MAX for the minimum and 0 (MIN) for the
        // maximum.
        *lo = (*lo).min(k.or(not_value));
        *hi = (*hi).max(k.and_not(not_value));
    }
}

/// The narrow kernel, monomorphised per width and domain (see the module documentation).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl",
    "x86_64+avx2",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn scan_narrow<T: Lane, const D: u8>(
    data: &[u8],
    first_fbo: u32,
    m: NarrowMarkers,
    out: &mut ExtentStats,
) {
    let w = std::mem::size_of::<T>();
    let (empty, null, alt_null) = (
        T::truncate(m.empty),
        T::truncate(m.null),
        T::truncate(m.alt_null),
    );
    let empty_block = repeated_block(&m.empty.to_le_bytes()[..w]);
    let zero = T::truncate(0);
    let mut acc = Lanes::<T> {
        empties: T::splat(zero),
        nulls: T::splat(zero),
        lo: T::splat(T::MAX),
        hi: T::splat(T::MIN),
    };
    let (mut values, mut nulls) = (0u64, 0u64);
    let mut last = None;
    for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
        if all_empty(block, &empty_block) {
            continue;
        }
        acc.empties = T::splat(zero);
        acc.nulls = T::splat(zero);
        let stripes = block.chunks_exact(T::STRIPE);
        let tail = stripes.remainder();
        let lanes = T::STRIPE / w;
        for s in stripes {
            let v: T::Stripe = bytemuck::pod_read_unaligned(s);
            let (v, e, n) = (v.as_ref(), acc.empties.as_mut(), acc.nulls.as_mut());
            let (l, h) = (acc.lo.as_mut(), acc.hi.as_mut());
            for j in 0..lanes {
                classify::<T, D>(
                    v[j].le_to_native(),
                    empty,
                    null,
                    alt_null,
                    &mut e[j],
                    &mut n[j],
                    &mut l[j],
                    &mut h[j],
                );
            }
        }
        // A block cut short (not a whole number of stripes): its last values (fewer than a
        // stripe's lanes, so at most 255 of 8 bits) are counted on their own, and their keys
        // folded into lane 0.
        let (mut tail_empties, mut tail_nulls) = (zero, zero);
        for v in tail.chunks_exact(w) {
            let (l, h) = (&mut acc.lo.as_mut()[0], &mut acc.hi.as_mut()[0]);
            let (e, n) = (&mut tail_empties, &mut tail_nulls);
            classify::<T, D>(T::from_le_slice(v), empty, null, alt_null, e, n, l, h);
        }
        let count = |s: &T::Stripe| s.as_ref().iter().map(|c| c.widen()).sum::<u64>();
        let empties = count(&acc.empties) + tail_empties.widen();
        let rows = (block.len() / w) as u64 - empties;
        if rows > 0 {
            let block_nulls = count(&acc.nulls) + tail_nulls.widen();
            last = Some(first_fbo + i as u32);
            nulls += block_nulls;
            values += rows - block_nulls;
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
        let lo = acc.lo.as_ref().iter().copied().min().unwrap_or(T::MAX);
        let hi = acc.hi.as_ref().iter().copied().max().unwrap_or(T::MIN);
        let to_key = |k: T| domain.key(narrow_raw::<T, D>(k).widen(), w as u32);
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

/// The 16-byte kernel: EMPTY blocks skipped as bytes, then one value at a time.
fn scan_wide(data: &[u8], first_fbo: u32, empty: i128, null: i128, out: &mut ExtentStats) {
    let empty_block = repeated_block(&empty.to_le_bytes());
    let (mut lo, mut hi) = (i128::MAX, i128::MIN);
    let (mut values, mut nulls) = (0u64, 0u64);
    let mut last = None;
    for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
        if all_empty(block, &empty_block) {
            continue;
        }
        // Branches, not selects: 128-bit min/max by select costs more than predictable jumps
        // (criterion `kernel/*/decimal128`).
        let mut rows = false;
        for v in block.chunks_exact(16) {
            let x = i128::from_le_bytes(v.try_into().unwrap_or([0; 16]));
            if x == empty {
                continue;
            }
            rows = true;
            if x == null {
                nulls += 1;
            } else {
                values += 1;
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
        if rows {
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
    use proptest::prelude::*;

    fn narrow(width: u32, domain: Domain, empty: u64, null: u64) -> Kernel {
        Kernel::Narrow {
            width,
            empty,
            null,
            alt_null: null,
            domain,
        }
    }

    /// The min/max a scan found, as signed values.
    fn signed_range(s: &ExtentStats) -> Option<(i64, i64)> {
        s.keys
            .map(|(l, h)| (Domain::Signed.value(l), Domain::Signed.value(h)))
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
        assert_eq!(signed_range(&s), Some((-42, -42)));
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

    #[test]
    fn a_short_blocks_tail_is_counted_apart_from_the_lanes() {
        // TINYINT (EMPTY 0x81, NULL 0x80): a last block cut to 31 stripes of 256 values and a
        // tail of 255, all EMPTY but one value in lane 1. Folding the tail into lane 0 would
        // count 31 + 255 = 286 EMPTYs in an 8-bit lane: it wraps, and 256 phantom rows appear.
        let mut data = vec![0x81u8; 31 * 256 + 255];
        data[1] = 5;
        let mut s = ExtentStats::default();
        narrow(1, Domain::Signed, 0x81, 0x80).scan(&data, 0, &mut s);
        assert_eq!(
            (s.last_nonempty, s.last_row, s.values, s.nulls),
            (Some(0), Some(1), 1, 0)
        );
        assert_eq!(signed_range(&s), Some((5, 5)));
    }

    #[test]
    fn a_block_empty_but_its_last_value_is_not_skipped() {
        // BIGINT (SEG §5.1: EMPTY 0x8000000000000001, NULL 0x8000000000000000): blocks 0 and 2
        // all EMPTY, block 1 EMPTY but its very last value, which the EMPTY-block comparison
        // must not miss.
        let empty = 0x8000_0000_0000_0001u64;
        let mut data = empty.to_le_bytes().repeat(1024 * 3);
        data[2 * 8192 - 8..2 * 8192].copy_from_slice(&(-3i64).to_le_bytes());
        let mut s = ExtentStats::default();
        narrow(8, Domain::Signed, empty, 0x8000_0000_0000_0000).scan(&data, 0, &mut s);
        assert_eq!((s.last_nonempty, s.values, s.nulls), (Some(1), 1, 0));
        assert_eq!(signed_range(&s), Some((-3, -3)));
    }

    #[test]
    fn wide_decimals_skip_empty_blocks_and_keep_min_max() {
        // DECIMAL(38): EMPTY INT128_MIN + 1, NULL INT128_MIN (SEG §5.1).
        let (empty, null) = (i128::MIN + 1, i128::MIN);
        let mut data = empty.to_le_bytes().repeat(512 * 4);
        let put = |d: &mut Vec<u8>, slot: usize, v: i128| {
            d[slot * 16..slot * 16 + 16].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut data, 512 + 3, -10i128.pow(30));
        put(&mut data, 512 + 4, null);
        put(&mut data, 3 * 512 - 1, 7);
        let mut s = ExtentStats::default();
        Kernel::Wide { empty, null }.scan(&data, 100, &mut s);
        assert_eq!((s.last_nonempty, s.values, s.nulls), (Some(102), 2, 1));
        assert_eq!(s.wide, Some((-10i128.pow(30), 7)));
    }

    /// Column types of every width and comparison domain, with their markers from the SEG §5.1
    /// table (`markers`), alternative NULLs included.
    fn kernels() -> Vec<Kernel> {
        use ColDataType::*;
        let col = |data_type, width, tokens, cp| {
            kernel_for(ObjectKind::Column { data_type, width }, tokens, cp).0
        };
        vec![
            col(TinyInt, 1, false, StringCp::Invalid),
            col(UTinyInt, 1, false, StringCp::Invalid),
            col(Char, 1, false, StringCp::Binary),
            col(SmallInt, 2, false, StringCp::Invalid),
            col(Char, 2, false, StringCp::Binary),
            col(Int, 4, false, StringCp::Invalid),
            col(UInt, 4, false, StringCp::Invalid),
            col(Float, 4, false, StringCp::Invalid),
            col(Date, 4, false, StringCp::Invalid),
            col(Varchar, 4, false, StringCp::Binary),
            col(BigInt, 8, false, StringCp::Invalid),
            col(UBigInt, 8, false, StringCp::Invalid),
            col(DateTime, 8, false, StringCp::Invalid),
            col(Varchar, 8, false, StringCp::Binary),
            col(Varchar, 8, true, StringCp::Invalid),
            col(Double, 8, false, StringCp::Invalid),
            col(Decimal, 16, false, StringCp::Invalid),
            col(UDecimal, 16, false, StringCp::Invalid),
        ]
    }

    fn width_and_markers(k: Kernel) -> (usize, Vec<Vec<u8>>) {
        match k {
            Kernel::Narrow {
                width,
                empty,
                null,
                alt_null,
                ..
            } => {
                let w = width as usize;
                let b = |x: u64| x.to_le_bytes()[..w].to_vec();
                (w, vec![b(empty), b(null), b(alt_null)])
            }
            Kernel::Wide { empty, null } => (
                16,
                vec![empty.to_le_bytes().to_vec(), null.to_le_bytes().to_vec()],
            ),
            Kernel::Dictionary => unreachable!(),
        }
    }

    proptest! {
        /// The kernel against the plain loop at every width and domain, for blocks that are
        /// all EMPTY, sparse, dense or dense with NULLs; data that starts at any alignment
        /// (`offset`) and ends anywhere (`cut`: a partial last block, a partial stripe, a partial
        /// value).
        #[test]
        fn kernel_equals_the_plain_loop(
            which in 0usize..18,
            layout in proptest::collection::vec(0u8..4, 1..5),
            seed in any::<u64>(),
            offset in 0usize..17,
            cut in prop_oneof![Just(0usize), 0usize..256, 0usize..BLOCK_SIZE],
            first_fbo in 0u32..100_000,
        ) {
            let kernel = kernels()[which];
            let (w, marks) = width_and_markers(kernel);
            let mut x = seed | 1;
            let mut next = move || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let mut data = vec![0u8; offset];
            for &l in &layout {
                for _ in 0..BLOCK_SIZE / w {
                    let r = next();
                    let pick = match l {
                        0 => 0,                                   // EMPTY
                        1 => if r % 97 == 0 { 3 } else { 0 },     // sparse values
                        2 => 3,                                   // every slot a value
                        _ => (r % 6) as usize,                    // values, EMPTY, NULLs
                    };
                    let mut v = [next().to_le_bytes(), next().to_le_bytes()].concat();
                    if pick < marks.len() {
                        v = marks[pick].clone();
                    }
                    data.extend_from_slice(&v[..w]);
                }
            }
            data.truncate(data.len() - cut.min(data.len() - offset));
            let data = &data[offset..];
            let mut got = ExtentStats::default();
            kernel.scan(data, first_fbo, &mut got);
            let mut want = ExtentStats::default();
            kernel.scan_plain(data, first_fbo, &mut want);
            prop_assert_eq!(got, want);
        }

        /// Classifying blocks in pieces (as `--no-mmap` reads an uncompressed chunk: consecutive
        /// runs of whole blocks, each with the file block it starts at, into one set of stats)
        /// gives what classifying them at once gives: a value in any piece, a last row in an
        /// early piece followed by EMPTY ones, min/max across pieces.
        #[test]
        fn classifying_in_pieces_equals_classifying_whole(
            which in 0usize..18,
            layout in proptest::collection::vec(0u8..4, 1..9),
            cuts in proptest::collection::vec(1usize..9, 0..6),
            seed in any::<u64>(),
            first_fbo in 0u32..100_000,
        ) {
            let kernel = kernels()[which];
            let (w, marks) = width_and_markers(kernel);
            let mut x = seed | 1;
            let mut next = move || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let mut data = Vec::new();
            for &l in &layout {
                for _ in 0..BLOCK_SIZE / w {
                    let r = next();
                    let pick = match l {
                        0 => 0,
                        1 => if r % 97 == 0 { 3 } else { 0 },
                        2 => 3,
                        _ => (r % 6) as usize,
                    };
                    let mut v = [next().to_le_bytes(), next().to_le_bytes()].concat();
                    if pick < marks.len() {
                        v = marks[pick].clone();
                    }
                    data.extend_from_slice(&v[..w]);
                }
            }
            let blocks = layout.len();
            let mut bounds: Vec<usize> = cuts.into_iter().filter(|&c| c < blocks).collect();
            bounds.extend([0, blocks]);
            bounds.sort_unstable();
            bounds.dedup();
            let mut pieces = ExtentStats::default();
            for b in bounds.windows(2) {
                let part = &data[b[0] * BLOCK_SIZE..b[1] * BLOCK_SIZE];
                kernel.scan(part, first_fbo + b[0] as u32, &mut pieces);
            }
            let mut whole = ExtentStats::default();
            kernel.scan(&data, first_fbo, &mut whole);
            prop_assert_eq!(&pieces, &whole);
            let mut plain = ExtentStats::default();
            kernel.scan_plain(&data, first_fbo, &mut plain);
            prop_assert_eq!(pieces, plain);
        }
    }
}
