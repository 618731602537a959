//! Scan: work units → per-extent [`ExtentStats`], in parallel on the caller's rayon pool.
//!
//! Only the parallel part lives here: each worker owns its decompression buffer and folds the
//! units it takes into an ordered map with the kernels of [`super::kernel`]; partial maps are
//! reduced with one associative merge, so nothing is shared or locked on the hot path and the
//! result does not depend on the thread count or the unit size.

use super::kernel::Kernel;
use super::stats::ExtentStats;
use super::units::WorkUnit;
use crate::error::Error;
use crate::progress::Progress;
use crate::seg::file::SegmentFile;
use crate::types::{BLOCKS_PER_CHUNK, CHUNK_BYTES};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A chunk that could not be read.
#[derive(Debug)]
pub struct ChunkError {
    pub file: usize,
    pub chunk: u32,
    pub error: Error,
}

/// The merged result of scanning all units.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// (file index, extent index) → what the scan found.
    pub stats: BTreeMap<(usize, u32), ExtentStats>,
    /// Unreadable chunks, sorted by (file, chunk).
    pub errors: Vec<ChunkError>,
    /// Uncompressed bytes examined.
    pub bytes: u64,
}

/// What the scan established, as a plain value for the stages after it (and a node's
/// partial): the per-extent stats, which chunks could not be read, and how many bytes were
/// examined. The chunk errors themselves become `Damaged` findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanFacts {
    /// (file index, extent index) → what the scan found.
    pub stats: BTreeMap<(usize, u32), ExtentStats>,
    /// (file index, chunk) of every chunk that could not be read.
    pub damaged: std::collections::BTreeSet<(usize, u32)>,
    /// Uncompressed bytes examined.
    pub bytes: u64,
}

impl ScanResult {
    /// The facts, and the errors of the chunks that could not be read (sorted by file, chunk).
    pub fn into_facts(self) -> (ScanFacts, Vec<ChunkError>) {
        let facts = ScanFacts {
            stats: self.stats,
            damaged: self.errors.iter().map(|e| (e.file, e.chunk)).collect(),
            bytes: self.bytes,
        };
        (facts, self.errors)
    }

    fn merge(mut self, other: ScanResult) -> ScanResult {
        // Merge the smaller map into the larger one.
        let (mut big, small) = if self.stats.len() >= other.stats.len() {
            (std::mem::take(&mut self.stats), other.stats)
        } else {
            (other.stats, std::mem::take(&mut self.stats))
        };
        for (k, v) in small {
            big.entry(k).or_default().merge(&v);
        }
        self.stats = big;
        self.errors.extend(other.errors);
        self.bytes += other.bytes;
        self
    }
}

/// Scan every unit on the current rayon pool.
pub fn scan_units(
    files: &[(&SegmentFile, Kernel)],
    units: &[WorkUnit],
    progress: &dyn Progress,
) -> ScanResult {
    let mut result = units
        .par_iter()
        .fold(
            || (ScanResult::default(), Vec::<u8>::new()),
            |(mut acc, mut scratch), unit| {
                if progress.cancelled() {
                    // Ctrl-C: the remaining units are skipped; the caller discards the result.
                    return (acc, scratch);
                }
                let (file, kernel) = files[unit.file];
                let stats = acc.stats.entry((unit.file, unit.extent)).or_default();
                let mut bytes = 0u64;
                for chunk in unit.chunks.clone() {
                    if scratch.capacity() < CHUNK_BYTES {
                        scratch.reserve(CHUNK_BYTES);
                    }
                    match file.chunk_data(chunk, &mut scratch) {
                        Ok(data) => {
                            kernel.scan(data, chunk * BLOCKS_PER_CHUNK, stats);
                            bytes += data.len() as u64;
                        }
                        Err(error) => acc.errors.push(ChunkError {
                            file: unit.file,
                            chunk,
                            error,
                        }),
                    }
                }
                acc.bytes += bytes;
                progress.advance(bytes, 0);
                (acc, scratch)
            },
        )
        .map(|(acc, _scratch)| acc)
        .reduce(ScanResult::default, ScanResult::merge);
    result.errors.sort_by_key(|e| (e.file, e.chunk));
    result
}
