//! The passes a rebuild is timed against (`emrebuild bench`): each runs the stages of a rebuild
//! up to one point on the caller's rayon pool, so the time of a stage is the difference between
//! two passes and nothing on the rebuild's own hot path is instrumented.
//!
//! | pass | runs |
//! |---|---|
//! | [`walk_pass`] | walk |
//! | [`plan_pass`] | walk, catalog, plan, units |
//! | [`read_pass`] | the same, then every stored byte of every unit's chunks read (touched), nothing decompressed |
//! | [`super::floor_pass`] | the same, then every chunk read, checksummed and decompressed |
//! | [`scan_pass`] | the same, then every value classified (the scan of a rebuild, without place) |
//! | [`super::rebuild`] | everything |

use super::units::WorkUnit;
use super::{prepare_local, scan};
use crate::error::Error;
use crate::progress::Progress;
use crate::seg::file::{ChunkReader, Layout};
use rayon::prelude::*;
use serde::Serialize;

/// What a pass went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PassFigures {
    /// Segment files found (walk) or planned (the other passes).
    pub files: usize,
    /// Work units.
    pub units: usize,
    /// Bytes as stored in the files (compressed chunks as they are on disk) that were read.
    pub stored_bytes: u64,
    /// Of `stored_bytes`, those of compressed files.
    pub stored_compressed_bytes: u64,
    /// Uncompressed bytes the chunks hold (the scan).
    pub uncompressed_bytes: u64,
}

/// Walk the DBRoots only: the segment files found.
pub fn walk_pass(opts: &super::RebuildOptions) -> PassFigures {
    PassFigures {
        files: super::walk::walk(&opts.dbroots).files.len(),
        ..PassFigures::default()
    }
}

/// Everything before the scan: walk, catalog, plan (every file opened and its header checked)
/// and work units.
pub fn plan_pass(opts: &super::RebuildOptions) -> Result<PassFigures, Error> {
    let p = prepare_local(opts)?;
    Ok(PassFigures {
        files: p.planned.len(),
        units: p.units.len(),
        ..PassFigures::default()
    })
}

/// [`plan_pass`], then every stored byte of every unit read once (compressed chunks as they are
/// on disk, uncompressed blocks as they are): the floor of an uncompressed rebuild.
pub fn read_pass(opts: &super::RebuildOptions) -> Result<PassFigures, Error> {
    let p = prepare_local(opts)?;
    // (stored bytes, of which compressed, XOR of every word read)
    // Read as the scan reads (one chunk at a time through the worker's reader, the unit's
    // range released afterwards), without the scan's read-ahead.
    let per_unit = |reader: &mut ChunkReader, u: &WorkUnit| -> (u64, u64, u64) {
        let file = &p.planned[u.file].file;
        let mut acc = (0u64, 0u64, 0u64);
        for c in u.chunks.clone() {
            match file.layout() {
                Layout::Compressed { .. } => {
                    let bytes = file.raw_slot(c, reader).unwrap_or(&[]);
                    acc.0 += bytes.len() as u64;
                    acc.2 ^= touch(bytes);
                }
                // The same reads as the scan's (whole, or in pieces that stay cached).
                Layout::Uncompressed { .. } => scan::read_chunk(file, c, reader, |_, bytes| {
                    let bytes = bytes.unwrap_or(&[]);
                    acc.0 += bytes.len() as u64;
                    acc.2 ^= touch(bytes);
                }),
            }
        }
        reader.finish(file, file.byte_range(u.chunks.clone()));
        if file.is_compressed() {
            acc.1 = acc.0;
        }
        acc
    };
    let (stored, compressed, check) = p
        .units
        .par_iter()
        .map_init(ChunkReader::new, per_unit)
        .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 ^ b.2));
    std::hint::black_box(check);
    Ok(PassFigures {
        files: p.planned.len(),
        units: p.units.len(),
        stored_bytes: stored,
        stored_compressed_bytes: compressed,
        ..PassFigures::default()
    })
}

/// [`read_pass`] with every chunk decompressed and every value classified: the scan of a
/// rebuild (same units, same kernels), without placing the results.
pub fn scan_pass(
    opts: &super::RebuildOptions,
    progress: &dyn Progress,
) -> Result<PassFigures, Error> {
    let p = prepare_local(opts)?;
    let kernels: Vec<_> = p.planned.iter().map(|f| (&f.file, f.kernel)).collect();
    let scanned = scan::scan_units(&kernels, &p.units, progress);
    Ok(PassFigures {
        files: p.planned.len(),
        units: p.units.len(),
        uncompressed_bytes: scanned.bytes,
        ..PassFigures::default()
    })
}

/// Read every byte of `bytes` (an XOR of its 8-byte words, which the compiler vectorises).
fn touch(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail = words
        .remainder()
        .iter()
        .fold(0u64, |a, &b| a ^ u64::from(b));
    words.fold(tail, |a, w| {
        a ^ u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
    })
}
