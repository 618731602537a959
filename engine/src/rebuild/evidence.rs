//! Evidence: the tokens of user dictionary columns, read for the dictionary files whose extent
//! LBIDs the headers do not settle (SEG §3.7, §3.9) or that claim an LBID range another file
//! claims too → one [`DictEvidence`] per such dictionary file.
//!
//! Runs after the scan, before place, and only over those files: a targeted pass that leaves
//! the scan kernels alone. Every chunk is read once with a per-task buffer (bounded memory); a
//! token column contributes the distinct block LBIDs its tokens name (SEG §6.2: bits 10–45 are
//! the **LBID** of the string's block, `op` its ordinal there, `bc` the continuation blocks at
//! LBID+1, …), and the dictionary file the string count of every block of every extent
//! (SEG §6.1). Both are plain values: place decides from them without reading any file.
//!
//! The owning token column of a dictionary comes from the catalog's SYSCOLUMN rows
//! (`dictobjectid`, CAT §5); its segment file for (partition, segment) points into the
//! dictionary file of the same partition and segment.

use super::catalog::CatalogFacts;
use super::kind::ObjectKind;
use super::place::lbid::Claim;
use super::plan::{FileFacts, PlannedFile};
use crate::catalog::syscat;
use crate::seg::dict::{is_empty_dict_block, DictBlock};
use crate::seg::token::{Token, TOKEN_EMPTY, TOKEN_NULL};
use crate::types::{DbRootId, Oid, SegmentId, BLOCKS_PER_CHUNK, BLOCK_SIZE, DICT_EXTENT_BLOCKS};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The most continuation blocks a string can have: a value is at most 16 MiB − 1 (SEG §6.1),
/// 2048 blocks. A token with more is not a pointer into a dictionary.
pub const MAX_CONTINUATION_BLOCKS: u32 = 2048;

/// How the tokens of the owning column(s) use one block LBID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUse {
    /// The highest string ordinal a token needs in that block (1 for a continuation block).
    pub max_op: u16,
    /// Tokens (rows) naming the block.
    pub tokens: u64,
}

/// What the files say about one dictionary file's extents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictEvidence {
    /// Index of the dictionary file among the planned files.
    pub file: usize,
    pub dict: SegmentId,
    pub dbroot: DbRootId,
    /// The token columns whose file for this partition and segment was read.
    pub columns: Vec<Oid>,
    /// String count of every block of every extent, by extent index (0: an empty block, or
    /// one that is not a dictionary block).
    pub counts: Vec<Vec<u16>>,
    /// Block LBID → how the tokens use it.
    pub tokens: BTreeMap<i64, TokenUse>,
    /// Tokens that cannot point into a dictionary (`op` 0, or more continuation blocks than a
    /// value can have).
    pub malformed: u64,
}

/// Gather the evidence for every user dictionary file with an extent whose LBID is not claimed
/// (`claims` lists the ones the headers and the catalog settle), or whose claim overlaps
/// another file's. `extents[i]` is file `i`'s extent count.
pub fn gather(
    files: &[PlannedFile],
    extents: &[u32],
    claims: &[Claim],
    catalog: &CatalogFacts,
) -> Vec<DictEvidence> {
    let owners = owners(catalog);
    let by_segment: BTreeMap<(Oid, u32, u16), Vec<usize>> =
        files
            .iter()
            .enumerate()
            .fold(BTreeMap::new(), |mut m, (i, pf)| {
                let id = pf.found.id;
                m.entry((id.oid, id.partition, id.segment))
                    .or_default()
                    .push(i);
                m
            });
    wanted(files.iter().map(|p| &p.facts), extents, claims)
        .into_par_iter()
        .map(|i| {
            let pf = &files[i];
            let id = pf.found.id;
            let mut columns = Vec::new();
            let mut tokens = BTreeMap::new();
            let mut malformed = 0;
            for &col in owners.get(&id.oid).into_iter().flatten() {
                let Some(candidates) = by_segment.get(&(col, id.partition, id.segment)) else {
                    continue;
                };
                // The token file on the dictionary's DBRoot (both are created together).
                let Some(&t) = candidates
                    .iter()
                    .find(|&&t| files[t].found.dbroot == pf.found.dbroot)
                    .or(candidates.first())
                else {
                    continue;
                };
                columns.push(col);
                malformed += read_tokens(&files[t], &mut tokens);
            }
            DictEvidence {
                file: i,
                dict: id,
                dbroot: pf.found.dbroot,
                columns,
                counts: (0..extents[i]).map(|k| block_counts(pf, k)).collect(),
                tokens,
                malformed,
            }
        })
        .collect()
}

/// The files [`gather`] reads evidence for: the user dictionary files with an extent whose LBID
/// no claim settles, or with a claim that overlaps another file's (indexes into `files`).
pub fn wanted<'a>(
    files: impl IntoIterator<Item = &'a FileFacts>,
    extents: &[u32],
    claims: &[Claim],
) -> Vec<usize> {
    let claimed: BTreeSet<(usize, u32)> = claims.iter().map(|c| (c.file, c.extent)).collect();
    let conflicted: BTreeSet<usize> = super::place::lbid::overlapping(claims)
        .into_iter()
        .flatten()
        .map(|c| c.file)
        .collect();
    files
        .into_iter()
        .enumerate()
        .filter(|(i, pf)| {
            pf.kind == ObjectKind::Dictionary
                && !syscat::is_syscat_oid(pf.found.id.oid)
                && (conflicted.contains(i) || (0..extents[*i]).any(|k| !claimed.contains(&(*i, k))))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Dictionary OID → the columns whose tokens point into it, from the catalog's rows.
pub fn owners(catalog: &CatalogFacts) -> BTreeMap<Oid, Vec<Oid>> {
    let mut out: BTreeMap<Oid, Vec<Oid>> = BTreeMap::new();
    if let Some(rows) = &catalog.rows {
        for c in rows.columns() {
            if let Some(d) = c.dict_oid {
                out.entry(d).or_default().push(c.oid);
            }
        }
    }
    out
}

/// Add the string tokens of a token column file to `uses`; returns how many are malformed.
/// Chunks that cannot be read are left out (the scan reports them).
fn read_tokens(pf: &PlannedFile, uses: &mut BTreeMap<i64, TokenUse>) -> u64 {
    let mut scratch = crate::seg::file::ChunkReader::new();
    let mut malformed = 0;
    // Consecutive rows mostly name the same block: a run of tokens naming one LBID is gathered
    // here (highest ordinal, tokens, most continuation blocks) and added to `uses` once, with
    // what adding each token would have given.
    let mut run: Option<(i64, TokenUse, u32)> = None;
    for c in 0..pf.file.chunk_count() {
        let Ok(data) = pf.file.chunk_data(c, &mut scratch) else {
            continue;
        };
        for raw in data.chunks_exact(8) {
            let raw = u64::from_le_bytes(raw.try_into().expect("8-byte chunks"));
            if raw == TOKEN_EMPTY || raw == TOKEN_NULL {
                continue;
            }
            let t = Token::decode(raw);
            if t.op == 0 || t.bc > MAX_CONTINUATION_BLOCKS {
                malformed += 1;
                continue;
            }
            match &mut run {
                Some((lbid, u, bc)) if *lbid == t.lbid => {
                    u.max_op = u.max_op.max(t.op);
                    u.tokens += 1;
                    *bc = (*bc).max(t.bc);
                }
                _ => {
                    if let Some(done) = run.take() {
                        add_run(uses, done);
                    }
                    let first = TokenUse {
                        max_op: t.op,
                        tokens: 1,
                    };
                    run = Some((t.lbid, first, t.bc));
                }
            }
        }
    }
    if let Some(done) = run {
        add_run(uses, done);
    }
    malformed
}

/// Add a run of tokens naming block `lbid` to `uses`: the block's highest ordinal and token
/// count, and continuation blocks `lbid + 1 ..= lbid + bc` each needing one string.
fn add_run(uses: &mut BTreeMap<i64, TokenUse>, (lbid, run, bc): (i64, TokenUse, u32)) {
    let e = uses.entry(lbid).or_default();
    e.max_op = e.max_op.max(run.max_op);
    e.tokens += run.tokens;
    for b in 1..=i64::from(bc) {
        let e = uses.entry(lbid + b).or_default();
        e.max_op = e.max_op.max(1);
    }
}

/// The string count of every block of extent `k` of a dictionary file (blocks past the file's
/// end, or in chunks that cannot be read, count 0).
fn block_counts(pf: &PlannedFile, k: u32) -> Vec<u16> {
    let eb = DICT_EXTENT_BLOCKS;
    let mut out = vec![0u16; eb as usize];
    let mut scratch = crate::seg::file::ChunkReader::new();
    let first_chunk = k * eb / BLOCKS_PER_CHUNK;
    for c in first_chunk..first_chunk + eb / BLOCKS_PER_CHUNK {
        let Ok(data) = pf.file.chunk_data(c, &mut scratch) else {
            continue;
        };
        let base = ((c - first_chunk) * BLOCKS_PER_CHUNK) as usize;
        for (j, block) in data.chunks_exact(BLOCK_SIZE).enumerate() {
            if is_empty_dict_block(block) {
                continue;
            }
            if let (Some(slot), Ok(n)) = (out.get_mut(base + j), DictBlock::string_count(block)) {
                *slot = u16::try_from(n).unwrap_or(u16::MAX);
            }
        }
    }
    out
}
