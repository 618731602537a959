//! HWM: how many extents a segment file has, and the high-water mark its last extent carries
//! (EM §3.2, SEG §2.3).
//!
//! The HWM is the file block number of the last block written, stored only on the extent with
//! the highest block offset; the others keep 0. Here it is the last block holding any non-EMPTY
//! value (SEG §5.1, §6.3 for dictionaries). A chunk that could not be read is assumed full: a
//! stale, low HWM would hide rows; a high one only covers EMPTY rows. A column file of a table
//! whose rows were reconciled gets the block of the table's last row ([`with_table_rows`]):
//! an AUX column whose last rows were FastDeleted still covers the rows its table holds.

use super::super::plan::FileFacts;
use super::super::reconcile::hwm_for_rows;
use super::super::stats::ExtentStats;
use crate::types::BLOCKS_PER_CHUNK;
use std::collections::BTreeSet;

/// The highest block the data reaches (counting damaged chunks as full), if any.
pub fn last_block<'a>(
    pf: &FileFacts,
    per_extent: impl Iterator<Item = &'a ExtentStats>,
    damaged: Option<&BTreeSet<u32>>,
) -> Option<u32> {
    let allocated = pf.allocated_blocks;
    let mut last = per_extent.filter_map(|s| s.last_nonempty).max();
    if let Some(bad) = damaged.and_then(|d| d.last()) {
        let end = (bad + 1) * BLOCKS_PER_CHUNK - 1;
        let end = if allocated > 0 {
            end.min(allocated as u32 - 1)
        } else {
            end
        };
        last = last.max(Some(end));
    }
    last
}

/// The last block once the file's table is taken into account: the block holding the table's
/// last row in this column's width, when the table's columns were reconciled
/// ([`crate::rebuild::reconcile`]), and never below what the file's own data (or damage) reaches.
pub fn with_table_rows(pf: &FileFacts, own: Option<u32>, table_rows: Option<u64>) -> Option<u32> {
    let table = table_rows.and_then(|r| hwm_for_rows(r, pf.kind.em_width()));
    own.max(table)
}

/// Extents in the file: enough for every allocated block, every chunk, every LBID the header
/// records and every block holding data; at least one (EM §3.4: extents follow each other at
/// `blockOffset + size × 1024`).
pub fn extent_count(pf: &FileFacts, last_block: Option<u32>) -> u32 {
    let eb = u64::from(pf.kind.extent_blocks());
    let n_alloc = pf.allocated_blocks.div_ceil(eb) as u32;
    let n_chunks = (u64::from(pf.chunk_count) * u64::from(BLOCKS_PER_CHUNK)).div_ceil(eb) as u32;
    let n_lbids = pf.header_lbids.len() as u32;
    let n_data = last_block.map_or(0, |b| b / eb as u32 + 1);
    n_alloc.max(n_chunks).max(n_lbids).max(n_data).max(1)
}
