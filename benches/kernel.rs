//! The per-value kernel at every lane width (8, 16, 32, 64 and 128-bit values), against the
//! plain one-value-at-a-time loop (`Kernel::scan_plain`) and against that loop with
//! `memchr`-style EMPTY skipping (each block first compared as bytes with an all-EMPTY block),
//! on one 4 MiB chunk of two shapes: `dense` (values, 2 % NULL, the last tenth EMPTY, as a
//! cpimport load leaves a chunk) and `sparse` (nine blocks in ten all EMPTY, the rest dense: the
//! tail of an extent).
//!
//! `kernel_memory` runs the kernels on 128 MiB of dense chunks, more than the last-level cache
//! holds, so every value comes from memory as in a rebuild (a scan's bytes are in the page cache,
//! not in the CPU's caches), against the floor of reading the same bytes (every 8-byte word
//! XORed). The kernels run at 0.5–0.9 × that read here while they are near their cached speed in
//! `kernel` (int8, compute-bound, the slowest); what was tried to close the gap is in the module
//! comment of `kernel.rs`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use emengine::rebuild::kernel::{kernel_for, Kernel};
use emengine::rebuild::kind::{ObjectKind, StringCp};
use emengine::rebuild::stats::ExtentStats;
use emengine::seg::datatype::ColDataType;
use emengine::seg::markers::{markers, Markers};
use emengine::types::{BLOCK_SIZE, CHUNK_BYTES};
use emfixtures::rng::Rng;

/// A 4 MiB chunk of `width`-byte values of the given shape, EMPTY and NULL from `m`.
fn chunk(width: usize, empty: u128, null: u128, sparse: bool, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let per_block = BLOCK_SIZE / width;
    let n = CHUNK_BYTES / width;
    let mut out = Vec::with_capacity(CHUNK_BYTES);
    for i in 0..n {
        let block_empty = sparse && !(i / per_block).is_multiple_of(10);
        let v = if block_empty || (!sparse && i > n * 9 / 10) {
            empty
        } else if rng.next_u64().is_multiple_of(50) {
            null
        } else {
            u128::from(i as u64 * 3 + rng.next_u64() % 1000)
        };
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The plain loop, but a block that is nothing but EMPTY is skipped by one byte comparison.
fn plain_with_skip(kernel: &Kernel, empty_block: &[u8], data: &[u8]) -> ExtentStats {
    let mut s = ExtentStats::default();
    for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
        if block != &empty_block[..block.len()] {
            kernel.scan_plain(block, i as u32, &mut s);
        }
    }
    s
}

/// Every lane width: (name, column type, width in bytes).
const CASES: [(&str, ColDataType, u16); 5] = [
    ("int8", ColDataType::TinyInt, 1),
    ("int16", ColDataType::SmallInt, 2),
    ("int32", ColDataType::Int, 4),
    ("int64", ColDataType::BigInt, 8),
    ("decimal128", ColDataType::Decimal, 16),
];

/// The kernel of a column of `data_type` and `width`, with its EMPTY and NULL markers.
fn kernel_and_markers(data_type: ColDataType, width: u16) -> (Kernel, Markers) {
    let (kernel, _) = kernel_for(
        ObjectKind::Column { data_type, width },
        false,
        StringCp::Invalid,
    );
    (kernel, markers(data_type, width))
}

fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(CHUNK_BYTES as u64));
    for (name, data_type, width) in CASES {
        let (kernel, m) = kernel_and_markers(data_type, width);
        let w = usize::from(width);
        let empty_block = m.empty.to_le_bytes()[..w].repeat(BLOCK_SIZE / w);
        for shape in ["dense", "sparse"] {
            let data = chunk(w, m.empty, m.null, shape == "sparse", 7);
            let id = |v: &str| BenchmarkId::new(format!("{v}/{shape}"), name);
            g.bench_with_input(id("kernel"), &data, |b, d| {
                b.iter(|| {
                    let mut s = ExtentStats::default();
                    kernel.scan(black_box(d), 0, &mut s);
                    s
                })
            });
            g.bench_with_input(id("plain"), &data, |b, d| {
                b.iter(|| {
                    let mut s = ExtentStats::default();
                    kernel.scan_plain(black_box(d), 0, &mut s);
                    s
                })
            });
            g.bench_with_input(id("plain_skip_empty"), &data, |b, d| {
                b.iter(|| plain_with_skip(&kernel, &empty_block, black_box(d)))
            });
        }
    }
    g.finish();
}

/// Bytes of the out-of-cache runs: four times a 32 MiB last-level cache.
const MEMORY_BYTES: usize = 128 << 20;

/// Every 8-byte word of `data` XORed: the floor of reading it from memory.
fn read_words(data: &[u8]) -> u64 {
    data.chunks_exact(8).fold(0u64, |a, w| {
        a ^ u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
    })
}

fn kernels_from_memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel_memory");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(MEMORY_BYTES as u64));
    // The floor does not depend on the values: any 128 MiB will do.
    let bytes = vec![0x5au8; MEMORY_BYTES];
    g.bench_with_input(BenchmarkId::new("read_words", "any"), &bytes, |b, d| {
        b.iter(|| read_words(black_box(d)))
    });
    drop(bytes);
    // The narrow kernels (16-byte decimals take one value at a time, see `kernel.rs`).
    for (name, data_type, width) in CASES.into_iter().filter(|c| c.2 <= 8) {
        let (kernel, m) = kernel_and_markers(data_type, width);
        let w = usize::from(width);
        let data: Vec<u8> = (0..MEMORY_BYTES / CHUNK_BYTES)
            .flat_map(|i| chunk(w, m.empty, m.null, false, 7 + i as u64))
            .collect();
        g.bench_with_input(BenchmarkId::new("kernel/dense", name), &data, |b, d| {
            b.iter(|| {
                let mut s = ExtentStats::default();
                for c in d.chunks(CHUNK_BYTES) {
                    kernel.scan(black_box(c), 0, &mut s);
                }
                s
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels, kernels_from_memory);
criterion_main!(benches);
