//! Units: planned files → chunk-aligned work units, the pieces the scan runs in parallel.
//!
//! A unit is whole 4 MiB chunks of one file that never cross an extent boundary, so each unit's
//! result belongs to exactly one extent; the unit size (`--chunk-mib`) changes scheduling only.

use super::plan::PlannedFile;
use crate::types::{BLOCKS_PER_CHUNK, CHUNK_BYTES};
use std::ops::Range;

/// The work units of every planned file, for units of about `chunk_mib` MiB.
pub fn for_files(planned: &[PlannedFile], chunk_mib: u32) -> Vec<WorkUnit> {
    let chunks_per_unit = chunk_mib.div_ceil((CHUNK_BYTES >> 20) as u32).max(1);
    planned
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            units_for_file(
                i,
                p.facts.chunk_count,
                p.facts.kind.extent_blocks(),
                chunks_per_unit,
            )
        })
        .collect()
}

/// One piece of scanning work: chunks `chunks` of file `file`, all inside extent `extent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkUnit {
    pub file: usize,
    pub extent: u32,
    pub chunks: Range<u32>,
}

/// Split a file's existing chunks into units of at most `chunks_per_unit` chunks that never
/// cross an extent boundary (`extent_blocks` blocks).
pub fn units_for_file(
    file: usize,
    chunk_count: u32,
    extent_blocks: u32,
    chunks_per_unit: u32,
) -> impl Iterator<Item = WorkUnit> {
    let chunks_per_extent = (extent_blocks / BLOCKS_PER_CHUNK).max(1);
    let step = chunks_per_unit.clamp(1, chunks_per_extent);
    let mut next = 0u32;
    std::iter::from_fn(move || {
        if next >= chunk_count {
            return None;
        }
        let extent = next / chunks_per_extent;
        let extent_end = (extent + 1) * chunks_per_extent;
        let end = (next + step).min(extent_end).min(chunk_count);
        let unit = WorkUnit {
            file,
            extent,
            chunks: next..end,
        };
        next = end;
        Some(unit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_never_cross_extents_and_cover_every_chunk() {
        // width 4: 4096-block extents = 8 chunks; 13 chunks present; units of 3.
        let units: Vec<_> = units_for_file(0, 13, 4096, 3).collect();
        let ranges: Vec<_> = units.iter().map(|u| (u.extent, u.chunks.clone())).collect();
        assert_eq!(
            ranges,
            [(0, 0..3), (0, 3..6), (0, 6..8), (1, 8..11), (1, 11..13)]
        );
        // width 1: 1024-block extents = 2 chunks; a unit never exceeds one extent.
        let units: Vec<_> = units_for_file(0, 3, 1024, 16).collect();
        assert_eq!(
            units.iter().map(|u| u.chunks.clone()).collect::<Vec<_>>(),
            [0..2, 2..3]
        );
    }
}
