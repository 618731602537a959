//! Extent-map benchmarks on a seeded, in-memory 2.5-million-extent map.
//!
//! The map imitates a large production system: a few hundred tables of mixed column widths
//! (including wide DECIMAL and dictionary stores), several DBRoots, many partitions of four
//! segment files with two extents each, and about 5% of the LBID space freed again by dropped
//! or truncated objects. Those holes matter: they are what makes the free list long (~125,000
//! slots), and a free-list rebuild that scans every slot for every extent — as ColumnStore's
//! loader does — would take hours here instead of a fraction of a second.
//!
//! Groups:
//! * `parse`: file bytes → `ExtentMap` (what `dump`, `diff` and `convert` pay first);
//! * `encode_v5`: `ExtentMap` → file bytes, free list included (what every writer pays);
//! * `free_list`: the free-list rebuild alone, to see its share of `encode_v5`;
//! * `diff`: two maps that differ in a few hundred extents (sorting by key dominates).
//!
//! Sample sizes are small (10) because one iteration moves ~240 MB; a full run takes a few
//! minutes, not hours.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use emengine::em::{
    diff::diff, freelist::derive, CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord,
    SentinelKind,
};
use emengine::types::{extent_units, DbRootId, Lbid, Oid, LBID_UNIT};
use std::hint::black_box;
use std::time::Duration;

const EXTENTS: usize = 2_500_000;

/// SplitMix64: a tiny seeded generator, so the fixture is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A seeded map of `n` extents: tables of columns, filled stripe by stripe (partition →
/// segment → extent), with LBIDs handed out in creation order and ~5% of them left as holes.
fn generate(n: usize, seed: u64) -> ExtentMap {
    const WIDTHS: [u16; 8] = [1, 2, 4, 4, 8, 8, 16, 0];
    let mut rng = Rng(seed);
    let mut extents = Vec::with_capacity(n);
    let mut next_lbid: i64 = 0;
    let mut next_oid = 3000;
    while extents.len() < n {
        // One table: its columns and how many partitions of data it holds.
        let columns: Vec<(i32, u16)> = (0..4 + rng.below(20))
            .map(|_| {
                next_oid += 1;
                (next_oid, WIDTHS[rng.below(WIDTHS.len() as u64) as usize])
            })
            .collect();
        let partitions = 1 + rng.below(40) as u32;
        let dbroot = DbRootId(1 + rng.below(4) as u16);
        for partition in 0..partitions {
            for segment in 0..4u16 {
                for stripe in 0..2u32 {
                    for &(oid, width) in &columns {
                        let units = extent_units(width);
                        let start = next_lbid;
                        next_lbid += i64::from(units) * LBID_UNIT;
                        if rng.below(20) == 0 {
                            continue; // dropped later: a hole in the LBID space
                        }
                        let cp = match (width, rng.below(3)) {
                            (0, _) => CasualPartition::sentinel(
                                SentinelKind::Dictionary,
                                CpState::INVALID,
                            ),
                            (16, 0) => CasualPartition::sentinel(
                                SentinelKind::SignedWide,
                                CpState::INVALID,
                            ),
                            (16, _) => {
                                let lo = i128::from(rng.next() as i64) << 20;
                                CasualPartition::wide(
                                    CpState::VALID,
                                    lo,
                                    lo + i128::from(rng.below(1 << 40)),
                                )
                            }
                            (_, 0) => CasualPartition::sentinel(
                                SentinelKind::SignedNarrow,
                                CpState::INVALID,
                            ),
                            _ => {
                                let lo = (rng.next() >> 8) as i64;
                                CasualPartition::narrow(
                                    CpState::VALID,
                                    lo,
                                    lo + rng.below(1 << 30) as i64,
                                )
                            }
                        };
                        extents.push(ExtentRecord {
                            range_start: Lbid(start),
                            range_size: units,
                            oid: Oid(oid),
                            block_offset: stripe * units * LBID_UNIT as u32,
                            hwm: if stripe == 1 {
                                rng.below(u64::from(units) * 1024) as u32
                            } else {
                                0
                            },
                            partition,
                            segment,
                            dbroot,
                            col_width: width,
                            status: 0,
                            cp: CasualPartition {
                                seq_num: rng.below(50) as i32,
                                ..cp
                            },
                        });
                        if extents.len() == n {
                            return ExtentMap::from_extents(extents);
                        }
                    }
                }
            }
        }
    }
    ExtentMap::from_extents(extents)
}

fn benches(c: &mut Criterion) {
    let map = generate(EXTENTS, 0x5EED);
    let v5 = map.encode(EmVersion::V5);
    let slots = map.free_list.iter().filter(|s| !s.is_empty()).count();
    eprintln!(
        "fixture: {} extents, {} bytes as V5, {slots} non-empty free-list slots",
        map.extents.len(),
        v5.len()
    );

    let mut g = c.benchmark_group("extent_map");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(EXTENTS as u64));

    g.bench_function("parse", |b| {
        b.iter(|| ExtentMap::parse(black_box(&v5)).unwrap())
    });
    g.bench_function("encode_v5", |b| {
        b.iter(|| black_box(&map).encode(EmVersion::V5))
    });
    g.bench_function("free_list", |b| b.iter(|| derive(black_box(&map.extents))));

    // B = A with a few hundred HWMs moved and CP ranges invalidated, and its records in
    // reverse order: matching by key must not depend on position.
    let mut other = map.clone();
    let mut rng = Rng(7);
    for _ in 0..300 {
        let i = rng.below(EXTENTS as u64) as usize;
        other.extents[i].hwm += 1;
        other.extents[i].cp.state = CpState::INVALID;
    }
    other.extents.reverse();
    g.bench_function("diff", |b| {
        b.iter(|| diff(black_box(&map), black_box(&other)))
    });
    g.finish();
}

criterion_group!(extent_map, benches);
criterion_main!(extent_map);
