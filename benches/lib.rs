//! Criterion benchmarks for emrebuild live in this package; see `cargo bench -p emrebuild-benches`.
