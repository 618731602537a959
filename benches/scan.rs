//! The scan's hot path against its floor, on seeded in-memory chunks.
//!
//! A rebuild of compressed files cannot be faster than decompressing them, so the floor is
//! `decompress_chunk` (with its checksum) on the same 4 MiB chunk; the interesting figure is how
//! much classifying every value adds on top (`decompress+scan` ÷ `decompress`). `scan` alone
//! stands for uncompressed files, whose floor is a plain read of the mapped bytes (`sum`).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use emengine::rebuild::kernel::Kernel;
use emengine::rebuild::stats::{Domain, ExtentStats};
use emengine::seg::chunk::{compress_chunk, decompress_chunk};
use emengine::seg::header::CompressionType;
use emengine::types::CHUNK_BYTES;

/// The generator's seeded stream, so every run benches the same bytes.
use emfixtures::rng::Rng;

/// A chunk of `width`-byte values as cpimport leaves them: mostly values in a realistic range
/// (so snappy compresses them like real data), 2% NULL, the tail EMPTY.
fn chunk(width: usize, empty: u64, null: u64, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let n = CHUNK_BYTES / width;
    let mut out = Vec::with_capacity(CHUNK_BYTES);
    for i in 0..n {
        let v = if i > n * 9 / 10 {
            empty
        } else if rng.next_u64().is_multiple_of(50) {
            null
        } else {
            (i as u64 * 3 + rng.next_u64() % 1000) & (u64::MAX >> (64 - 8 * width as u32).min(63))
        };
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

fn kernels(c: &mut Criterion) {
    let cases = [
        ("int8", 1usize, 0x81u64, 0x80u64, Domain::Signed),
        ("int32", 4, 0x8000_0001, 0x8000_0000, Domain::Signed),
        ("uint32", 4, 0xFFFF_FFFF, 0xFFFF_FFFE, Domain::Unsigned),
        (
            "int64",
            8,
            0x8000_0000_0000_0001,
            0x8000_0000_0000_0000,
            Domain::Signed,
        ),
        (
            "double",
            8,
            0xFFFA_AAAA_AAAA_AAAB,
            0xFFFA_AAAA_AAAA_AAAA,
            Domain::None,
        ),
    ];
    let mut g = c.benchmark_group("chunk");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(CHUNK_BYTES as u64));
    for (name, width, empty, null, domain) in cases {
        let data = chunk(width, empty, null, 7);
        let compressed = compress_chunk(&data, CompressionType::Snappy2);
        let kernel = Kernel::Narrow {
            width: width as u32,
            empty,
            null,
            alt_null: null,
            domain,
        };
        let mut scratch = Vec::with_capacity(CHUNK_BYTES);
        g.bench_with_input(
            BenchmarkId::new("floor_decompress", name),
            &compressed,
            |b, z| {
                b.iter(|| {
                    decompress_chunk(black_box(z), CompressionType::Snappy2, &mut scratch).unwrap()
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("decompress_and_scan", name),
            &compressed,
            |b, z| {
                b.iter(|| {
                    let n = decompress_chunk(black_box(z), CompressionType::Snappy2, &mut scratch)
                        .unwrap();
                    let mut s = ExtentStats::default();
                    kernel.scan(&scratch[..n], 0, &mut s);
                    s
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("floor_read", name), &data, |b, d| {
            // Touch every byte once: what reading an uncompressed file costs at least.
            b.iter(|| {
                black_box(d)
                    .chunks_exact(8)
                    .fold(0u64, |a, w| a ^ u64::from_le_bytes(w.try_into().unwrap()))
            })
        });
        g.bench_with_input(BenchmarkId::new("scan", name), &data, |b, d| {
            b.iter(|| {
                let mut s = ExtentStats::default();
                kernel.scan(black_box(d), 0, &mut s);
                s
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
