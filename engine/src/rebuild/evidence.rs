//! Evidence: the tokens of user dictionary columns, read for the dictionary files whose extent
//! LBIDs the headers do not settle (SEG §3.7, §3.9) or that claim an LBID range another file
//! claims too → one [`DictEvidence`] per such dictionary file.
//!
//! The scan gathers it from the bytes it decompresses anyway: which files need evidence depends
//! on the extent counts and the LBID claims, known only after the scan, so the files are
//! predicted before it ([`predict`], from the plan's facts: for dictionaries exact but for one
//! whose data reaches past its allocated blocks), and for each unit of a predicted file the scan
//! hands the kernel's bytes to a [`UnitGather`] too: string counts for a dictionary, token
//! runs for a token column. Each worker folds them into its [`Gathered`]; the workers' results
//! merge associatively, as the scan's stats do, so neither the thread count, the unit size nor
//! maps against positioned reads (an uncompressed chunk then comes in 256 KiB pieces) change
//! them. After the scan, [`gather`] takes them for the files the true [`wanted`] names, and
//! reads again only a wanted file that was not predicted ([`read_tokens`], [`block_counts`]):
//! the prediction decides speed, never the evidence. Only predicted files carry evidence through
//! the scan, at most [`MAX_PREDICTED_DICT_EXTENTS`] dictionary extents of it.
//!
//! A cluster's node cannot see the other nodes' claims, so it gathers for every dictionary file
//! that claims any range as well ([`gather_on_node`], packed): the primary then finds among
//! them exactly the evidence one machine reading every DBRoot gathers ([`gather`]). A token
//! column contributes the distinct block LBIDs its tokens name (SEG §6.2: bits 10–45 are the
//! **LBID** of the string's block, `op` its ordinal there, `bc` the continuation blocks at
//! LBID+1, …), and the dictionary file the string count of every block of every extent
//! (SEG §6.1). A chunk that cannot be read contributes nothing. Both are plain values: place
//! decides from them without reading any file.
//!
//! The owning token column of a dictionary comes from the catalog's SYSCOLUMN rows
//! (`dictobjectid`, CAT §5); its segment file for (partition, segment) points into the
//! dictionary file of the same partition and segment.

use super::catalog::CatalogFacts;
use super::facts::Lz4Bytes;
use super::kind::ObjectKind;
use super::place::hwm;
use super::place::lbid::Claim;
use super::plan::{FileFacts, PlannedFile};
use super::walk::FoundFile;
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

/// What the files say about one dictionary file's extents. A node keeps and sends it as
/// [`PackedEvidence`]: string counts as runs, token blocks as runs of consecutive LBIDs
/// ([`EvidenceWire`]), compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// another file's ([`wanted`]): what a machine that reads every DBRoot needs. `extents[i]` is
/// file `i`'s extent count. What the scan gathered (`scanned`) is taken for the files it was
/// predicted for; the others are read again.
pub fn gather(
    files: &[PlannedFile],
    extents: &[u32],
    claims: &[Claim],
    catalog: &CatalogFacts,
    scanned: &FromScan,
) -> Vec<DictEvidence> {
    let which = wanted(files.iter().map(|p| &p.facts), extents, claims);
    gather_each(files, extents, which, catalog, scanned, |e| e)
}

/// [`gather`] on a cluster's node: for every dictionary file [`wanted_on_node`] names (every
/// one that claims a range too: another node's file may claim the same), each packed as soon as
/// it is gathered ([`PackedEvidence`]): most of it is never needed, and a node holds and sends
/// the evidence of all its dictionaries.
pub fn gather_on_node(
    files: &[PlannedFile],
    extents: &[u32],
    claims: &[Claim],
    catalog: &CatalogFacts,
    scanned: &FromScan,
) -> Vec<PackedEvidence> {
    let which = wanted_on_node(files.iter().map(|p| &p.facts), extents, claims);
    gather_each(files, extents, which, catalog, scanned, |e| {
        PackedEvidence::pack(&e)
    })
}

/// Where the evidence of a file comes from: what the scan gathered for it (files predicted
/// before the scan), or a second read of the file after the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceSource {
    /// What a rebuild does: the scan gathers for the predicted files ([`predict`]); a file the
    /// true [`wanted`] names that was not predicted is read again.
    Scan,
    /// Only what the scan gathered: a wanted dictionary that was not predicted gets no evidence
    /// (to check that the prediction covers a tree).
    ScanOnly,
    /// Nothing predicted, every wanted file read again after the scan (what the evidence stage
    /// did before the scan gathered it; the fallback of [`EvidenceSource::Scan`]).
    Reread,
}

/// What the scan gathered for the evidence stage, and for which files.
#[derive(Debug, Default)]
pub struct FromScan {
    /// By file index: what the scan gathered for it, if it was predicted ([`predict`]).
    pub predicted: Vec<Option<Gather>>,
    pub gathered: Gathered,
    /// Whether a wanted file that was not predicted is read again (else left out).
    pub reread: bool,
}

impl FromScan {
    fn has(&self, file: usize, what: Gather) -> bool {
        self.predicted.get(file).copied().flatten() == Some(what)
    }
}

/// The evidence of the files `which` (indexes into `files`), each handed to `keep` as soon as
/// it is gathered.
fn gather_each<T: Send>(
    files: &[PlannedFile],
    extents: &[u32],
    which: Vec<usize>,
    catalog: &CatalogFacts,
    scanned: &FromScan,
    keep: impl Fn(DictEvidence) -> T + Sync + Send,
) -> Vec<T> {
    let found: Vec<&FoundFile> = files.iter().map(|p| &p.found).collect();
    let token_files = TokenFiles::new(&found, catalog);
    let which: Vec<usize> = which
        .into_iter()
        .filter(|&i| scanned.reread || scanned.has(i, Gather::Counts))
        .collect();
    which
        .into_par_iter()
        .map(|i| {
            let pf = &files[i];
            let mut columns = Vec::new();
            let mut tokens = BTreeMap::new();
            let mut malformed = 0;
            for (col, t) in token_files.of(&found, i) {
                columns.push(col);
                if scanned.has(t, Gather::Tokens) {
                    if let Some(tally) = scanned.gathered.tokens.get(&t) {
                        merge_uses(&mut tokens, &tally.uses);
                        malformed += tally.malformed;
                    }
                } else if scanned.reread {
                    malformed += read_tokens(&files[t], &mut tokens);
                }
            }
            let counts = (0..extents[i])
                .map(|k| {
                    if !scanned.has(i, Gather::Counts) {
                        return block_counts(pf, k);
                    }
                    match scanned.gathered.counts.get(&(i, k)) {
                        Some(c) => c.clone(),
                        None => vec![0; DICT_EXTENT_BLOCKS as usize],
                    }
                })
                .collect();
            keep(DictEvidence {
                file: i,
                dict: pf.found.id,
                dbroot: pf.found.dbroot,
                columns,
                counts,
                tokens,
                malformed,
            })
        })
        .collect()
}

/// The token files of each dictionary file: for each column whose tokens point into the
/// dictionary (the catalog's order), its segment file of the dictionary's partition and
/// segment, on the dictionary's DBRoot (both are created together) or else the first found.
struct TokenFiles {
    owners: BTreeMap<Oid, Vec<Oid>>,
    by_segment: BTreeMap<(Oid, u32, u16), Vec<usize>>,
}

impl TokenFiles {
    /// `found[i]` is file `i`.
    fn new(found: &[&FoundFile], catalog: &CatalogFacts) -> Self {
        let mut by_segment: BTreeMap<(Oid, u32, u16), Vec<usize>> = BTreeMap::new();
        for (i, f) in found.iter().enumerate() {
            let id = f.id;
            by_segment
                .entry((id.oid, id.partition, id.segment))
                .or_default()
                .push(i);
        }
        TokenFiles {
            owners: owners(catalog),
            by_segment,
        }
    }

    /// (owning column, its token file) for dictionary file `i`.
    fn of(&self, found: &[&FoundFile], i: usize) -> Vec<(Oid, usize)> {
        let d = found[i];
        let id = d.id;
        let mut out = Vec::new();
        for &col in self.owners.get(&id.oid).into_iter().flatten() {
            let Some(candidates) = self.by_segment.get(&(col, id.partition, id.segment)) else {
                continue;
            };
            let Some(&t) = candidates
                .iter()
                .find(|&&t| found[t].dbroot == d.dbroot)
                .or(candidates.first())
            else {
                continue;
            };
            out.push((col, t));
        }
        out
    }
}

/// What the scan gathers for one file ([`predict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// A dictionary file: the string count of every block.
    Counts,
    /// A token column file: how its tokens use block LBIDs.
    Tokens,
}

/// The most dictionary extents the scan gathers evidence for. Each holds 8192 string counts
/// (16 KiB) and the map of the blocks its tokens name (some 200 KB: see [`PackedEvidence`]),
/// all kept until the scan ends, where a second read holds one dictionary per worker; past
/// this many (64 GiB of dictionary data), the other dictionaries are read again after the scan.
pub const MAX_PREDICTED_DICT_EXTENTS: u64 = 1024;

/// Before the scan: the files it gathers evidence for, by file index. The dictionary files
/// [`wanted`] (on a `node`, [`wanted_on_node`]) names with the extent counts the plan gives
/// ([`hwm::extent_count`] without the scan's last block), and their token files. The claims
/// are those the scan would give: a claim comes from a header LBID or the catalog's LBID of
/// extent 0, and the plan's count already covers every header LBID. A dictionary whose data
/// reaches past its allocated blocks and chunks (none the scan reads: a dictionary's extent
/// count does not depend on table rows) may have more extents after the scan, unclaimed: it
/// is wanted, not predicted, and read again ([`EvidenceSource::Scan`]). So the prediction only
/// decides speed. At most [`MAX_PREDICTED_DICT_EXTENTS`] dictionary extents; a file that would
/// be both a dictionary and a token file (should a catalog say so) keeps one role and is read
/// again for the other.
pub fn predict(files: &[FileFacts], catalog: &CatalogFacts, node: bool) -> Vec<Option<Gather>> {
    let extents: Vec<u32> = files.iter().map(|f| hwm::extent_count(f, None)).collect();
    let claims = super::place::lbid::claims(files, &extents, &catalog.lbids);
    let dicts = if node {
        wanted_on_node(files, &extents, &claims)
    } else {
        wanted(files, &extents, &claims)
    };
    let found: Vec<&FoundFile> = files.iter().map(|f| &f.found).collect();
    let token_files = TokenFiles::new(&found, catalog);
    let mut out = vec![None; files.len()];
    let mut budget = MAX_PREDICTED_DICT_EXTENTS;
    for i in dicts {
        let Some(left) = budget.checked_sub(u64::from(extents[i])) else {
            break;
        };
        budget = left;
        out[i] = Some(Gather::Counts);
        for (_, t) in token_files.of(&found, i) {
            out[t] = Some(Gather::Tokens);
        }
    }
    out
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
            is_user_dictionary(pf)
                && (conflicted.contains(i) || (0..extents[*i]).any(|k| !claimed.contains(&(*i, k))))
        })
        .map(|(i, _)| i)
        .collect()
}

/// The files a node gathers evidence for: those [`wanted`] names among its own files, and every
/// user dictionary file with a claim (whether another node's file claims the same range is
/// known on the primary only). A superset of what [`wanted`] names for the files of every node
/// together: a claim overlapping another node's claim is a claim.
pub fn wanted_on_node<'a>(
    files: impl IntoIterator<Item = &'a FileFacts>,
    extents: &[u32],
    claims: &[Claim],
) -> Vec<usize> {
    let files: Vec<&FileFacts> = files.into_iter().collect();
    let mut out: BTreeSet<usize> = wanted(files.iter().copied(), extents, claims)
        .into_iter()
        .collect();
    out.extend(
        claims
            .iter()
            .map(|c| c.file)
            .filter(|&i| is_user_dictionary(files[i])),
    );
    out.into_iter().collect()
}

fn is_user_dictionary(pf: &FileFacts) -> bool {
    pf.kind == ObjectKind::Dictionary && !syscat::is_syscat_oid(pf.found.id.oid)
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
/// Chunks that cannot be read are left out (the scan reports them). The second read of a file
/// the scan did not gather for ([`gather`]).
fn read_tokens(pf: &PlannedFile, uses: &mut BTreeMap<i64, TokenUse>) -> u64 {
    let mut scratch = crate::seg::file::ChunkReader::new();
    let mut runs = TokenRuns::default();
    for c in 0..pf.file.chunk_count() {
        let Ok(data) = pf.file.chunk_data(c, &mut scratch) else {
            continue;
        };
        runs.add(data, |run| add_run(uses, run));
    }
    runs.close(|run| add_run(uses, run));
    runs.malformed
}

/// A run of tokens naming one block LBID: the LBID, the highest ordinal and the tokens, and the
/// most continuation blocks.
type Run = (i64, TokenUse, u32);

/// Tokens folded into runs ([`Run`]): consecutive rows mostly name the same block, so a run is
/// added to the uses once, with what adding each token would have given. Where a run is cut
/// (a chunk's end) does not change what [`add_run`] makes of the runs.
#[derive(Debug)]
struct TokenRuns {
    run: Option<Run>,
    /// [`Token::target_bits`] of the open run's last token, or `u64::MAX` (no token has it)
    /// when no run is open: a token with the same bits adds to the run without decoding.
    key: u64,
    /// Tokens that cannot point into a dictionary.
    malformed: u64,
}

impl Default for TokenRuns {
    fn default() -> Self {
        TokenRuns {
            run: None,
            key: u64::MAX,
            malformed: 0,
        }
    }
}

/// A block of nothing but EMPTY tokens (the never-written rows of an extent).
static EMPTY_TOKEN_BLOCK: [u8; BLOCK_SIZE] = [0xFF; BLOCK_SIZE];

impl TokenRuns {
    /// The tokens of `data` (8-byte words, SEG §6.2): EMPTY and NULL skipped, malformed ones
    /// counted, every finished run handed to `done`.
    fn add(&mut self, data: &[u8], mut done: impl FnMut(Run)) {
        for block in data.chunks(BLOCK_SIZE) {
            // Skipped whole as the kernel skips EMPTY blocks: one byte comparison.
            if block == &EMPTY_TOKEN_BLOCK[..block.len()] {
                continue;
            }
            // Tokens naming the open run's blocks are added a stretch at a time, NULLs and
            // EMPTYs among them skipped ([`same_prefix`]); the token that ends a stretch is
            // decoded on its own. A block whose tokens switch blocks every few hundred rows
            // (short strings) is so read once, with one branch per switch.
            let mut rest = &block[..block.len() - block.len() % 8];
            while !rest.is_empty() {
                if let Some((_, u, _)) = &mut self.run {
                    let (taken, tokens, max_op) = same_prefix(rest, self.key);
                    if taken > 0 {
                        u.max_op = u.max_op.max(max_op);
                        u.tokens += tokens;
                        rest = &rest[taken * 8..];
                        continue;
                    }
                }
                let (raw, tail) = rest.split_at(8);
                let raw = u64::from_le_bytes(raw.try_into().expect("8 bytes"));
                self.add_one(raw, &mut done);
                rest = tail;
            }
        }
    }

    /// One token, decoded.
    fn add_one(&mut self, raw: u64, done: &mut impl FnMut(Run)) {
        if raw == TOKEN_EMPTY || raw == TOKEN_NULL {
            return;
        }
        let t = Token::decode(raw);
        if t.op == 0 || t.bc > MAX_CONTINUATION_BLOCKS {
            self.malformed += 1;
            return;
        }
        self.key = Token::target_bits(raw);
        match &mut self.run {
            Some((lbid, u, bc)) if *lbid == t.lbid => {
                u.max_op = u.max_op.max(t.op);
                u.tokens += 1;
                *bc = (*bc).max(t.bc);
            }
            _ => {
                if let Some(finished) = self.run.take() {
                    done(finished);
                }
                let first = TokenUse {
                    max_op: t.op,
                    tokens: 1,
                };
                self.run = Some((t.lbid, first, t.bc));
            }
        }
    }

    /// Hand the open run, if any, to `done`.
    fn close(&mut self, done: impl FnOnce(Run)) {
        self.key = u64::MAX;
        if let Some(finished) = self.run.take() {
            done(finished);
        }
    }
}

/// The stretch that `words` (whole 8-byte tokens) starts with of tokens that have target bits
/// `key` ([`Token::target_bits`]) and an ordinal other than 0, or are NULL or EMPTY: what
/// [`TokenRuns::add_one`] would add to the open run one by one, skipping the markers. Returns
/// the words the stretch takes, how many of them are tokens (not markers), and their highest
/// ordinal. Eight words at a time without a branch per word; the eight that hold the first
/// other token are then taken one by one up to it. NULLs are taken in (a nullable column's
/// tokens are interleaved with them: one in five rows of `legacy`'s memo column), so a run is
/// cut only where the tokens name another block.
fn same_prefix(words: &[u8], key: u64) -> (usize, u64, u16) {
    // (joins the run, is a marker, ordinal)
    let classify = |w: &[u8]| {
        let raw = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        let op = Token::op_bits(raw);
        let marker = (raw == TOKEN_NULL) | (raw == TOKEN_EMPTY);
        let joins = !marker & (Token::target_bits(raw) == key) & (op != 0);
        (joins, marker, op)
    };
    let (mut taken, mut tokens, mut max_op) = whole_groups(words, key);
    for w in words[taken * 8..].chunks_exact(8) {
        let (joins, marker, op) = classify(w);
        if !(joins | marker) {
            break;
        }
        taken += 1;
        tokens += u64::from(joins);
        max_op = max_op.max(if joins { op } else { 0 });
    }
    (taken, tokens, max_op)
}

/// [`same_prefix`] over the groups of eight words that `words` starts with that are all in the
/// stretch. Each word's test is arithmetic on whole words (no `bool` short-circuit) so that a
/// group is one vector pass; built for each vector width and chosen at run time, as the kernels
/// are (`kernel.rs`), because 64-bit compares need SSE4.1.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl",
    "x86_64+avx2",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn whole_groups(words: &[u8], key: u64) -> (usize, u64, u16) {
    // Counts and maxima stay per lane across groups (vector registers) and are reduced once at
    // the end: reducing them per group was a third of the loop's instructions.
    let mut taken = 0usize;
    let (mut tokens, mut max_op) = ([0u64; 8], [0u64; 8]);
    for group in words.chunks_exact(64) {
        let mut w = [0u64; 8];
        for (x, b) in w.iter_mut().zip(group.chunks_exact(8)) {
            *x = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
        let (mut joins, mut ops, mut outside) = ([0u64; 8], [0u64; 8], 0u64);
        for i in 0..8 {
            let raw = w[i];
            let marker = u64::from(raw == TOKEN_NULL) | u64::from(raw == TOKEN_EMPTY);
            ops[i] = u64::from(Token::op_bits(raw));
            joins[i] =
                (marker ^ 1) & u64::from(Token::target_bits(raw) == key) & u64::from(ops[i] != 0);
            outside |= (joins[i] | marker) ^ 1;
        }
        if outside != 0 {
            break;
        }
        taken += 8;
        for i in 0..8 {
            tokens[i] += joins[i];
            max_op[i] = max_op[i].max(ops[i] * joins[i]);
        }
    }
    let max_op = max_op.into_iter().max().unwrap_or(0);
    (taken, tokens.into_iter().sum(), max_op as u16)
}

/// Add a run of tokens naming block `lbid` to `uses`: the block's highest ordinal and token
/// count, and continuation blocks `lbid + 1 ..= lbid + bc` each needing one string.
fn add_run(uses: &mut BTreeMap<i64, TokenUse>, (lbid, run, bc): Run) {
    add_use(uses, lbid, run);
    for b in 1..=i64::from(bc) {
        let e = uses.entry(lbid + b).or_default();
        e.max_op = e.max_op.max(1);
    }
}

/// Add what some tokens need of block `lbid` to `uses`.
fn add_use(uses: &mut BTreeMap<i64, TokenUse>, lbid: i64, u: TokenUse) {
    let e = uses.entry(lbid).or_default();
    e.max_op = e.max_op.max(u.max_op);
    e.tokens += u.tokens;
}

/// Add the uses of other tokens (`from`) to `uses`: what adding their runs would have given.
fn merge_uses(uses: &mut BTreeMap<i64, TokenUse>, from: &BTreeMap<i64, TokenUse>) {
    if uses.is_empty() {
        uses.clone_from(from);
        return;
    }
    for (&lbid, &u) in from {
        add_use(uses, lbid, u);
    }
}

/// The string count of every block of extent `k` of a dictionary file (blocks past the file's
/// end, or in chunks that cannot be read, count 0). The second read of a dictionary the scan
/// did not gather for ([`gather`]).
fn block_counts(pf: &PlannedFile, k: u32) -> Vec<u16> {
    let eb = DICT_EXTENT_BLOCKS;
    let mut out = vec![0u16; eb as usize];
    let mut scratch = crate::seg::file::ChunkReader::new();
    let first_chunk = k * eb / BLOCKS_PER_CHUNK;
    for c in first_chunk..first_chunk + eb / BLOCKS_PER_CHUNK {
        let Ok(data) = pf.file.chunk_data(c, &mut scratch) else {
            continue;
        };
        string_counts(data, c * BLOCKS_PER_CHUNK, |block, n| {
            if let Some(slot) = out.get_mut((block - k * eb) as usize) {
                *slot = n;
            }
        });
    }
    out
}

/// The string count of every dictionary block of `data`, whose first block is file block
/// `first_block`, handed to `each` with its file block (SEG §6.1: an empty block, or one that
/// is not a dictionary block, has none and is skipped).
fn string_counts(data: &[u8], first_block: u32, mut each: impl FnMut(u32, u16)) {
    for (j, block) in data.chunks_exact(BLOCK_SIZE).enumerate() {
        if is_empty_dict_block(block) {
            continue;
        }
        if let Ok(n) = DictBlock::string_count(block) {
            each(first_block + j as u32, u16::try_from(n).unwrap_or(u16::MAX));
        }
    }
}

/// The evidence the scan gathered for the predicted files ([`predict`]): each worker's, then
/// merged ([`Gathered::merge`]). Every block is read by one work unit only, so the result does
/// not depend on which worker read what, in which order, or on the unit size.
#[derive(Debug, Default)]
pub struct Gathered {
    /// (dictionary file, extent) → the string count of each of the extent's blocks, for the
    /// extents with a chunk read.
    pub counts: BTreeMap<(usize, u32), Vec<u16>>,
    /// Token file → how its tokens use block LBIDs.
    pub tokens: BTreeMap<usize, TokenTally>,
}

/// How the tokens of one token file use block LBIDs ([`read_tokens`] of the whole file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenTally {
    pub uses: BTreeMap<i64, TokenUse>,
    /// Tokens that cannot point into a dictionary.
    pub malformed: u64,
}

impl Gathered {
    /// Both workers' evidence: a block's count is the one its reader found (other workers
    /// have 0 there), token uses add up as [`add_run`] adds runs.
    pub fn merge(mut self, other: Gathered) -> Gathered {
        for (key, counts) in other.counts {
            match self.counts.entry(key) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(counts);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    for (a, b) in e.get_mut().iter_mut().zip(counts) {
                        *a = (*a).max(b);
                    }
                }
            }
        }
        for (file, mut tally) in other.tokens {
            let mine = self.tokens.entry(file).or_default();
            // The smaller map into the larger one.
            if tally.uses.len() > mine.uses.len() {
                std::mem::swap(&mut tally.uses, &mut mine.uses);
            }
            for (lbid, u) in tally.uses {
                add_use(&mut mine.uses, lbid, u);
            }
            mine.malformed += tally.malformed;
        }
        self
    }
}

/// One work unit's evidence as the scan reads it ([`super::scan`]), from the bytes it hands the
/// kernel. A chunk's part is held back until the chunk is read whole, then added to the
/// worker's [`Gathered`]: an uncompressed chunk read in pieces may fail after its first pieces,
/// and a chunk that cannot be read contributes nothing, as in [`read_tokens`] and
/// [`block_counts`].
#[derive(Debug)]
pub struct UnitGather {
    what: Gather,
    file: usize,
    /// The chunk being read, and whether reading it failed.
    chunk: Option<(u32, bool)>,
    /// The chunk's (file block, string count) of every dictionary block with strings.
    counts: Vec<(u32, u16)>,
    /// The chunk's finished token runs, and the open one.
    runs: Vec<Run>,
    open: TokenRuns,
}

impl UnitGather {
    /// What to gather for a unit of `file`.
    pub fn new(what: Gather, file: usize) -> Self {
        UnitGather {
            what,
            file,
            chunk: None,
            counts: Vec::new(),
            runs: Vec::new(),
            open: TokenRuns::default(),
        }
    }

    /// Bytes of chunk `chunk` (all of it, or a piece), starting at file block `first_block`.
    pub fn data(&mut self, chunk: u32, first_block: u32, data: &[u8], out: &mut Gathered) {
        self.enter(chunk, out);
        match self.what {
            Gather::Counts => string_counts(data, first_block, |block, n| {
                self.counts.push((block, n));
            }),
            Gather::Tokens => {
                let runs = &mut self.runs;
                self.open.add(data, |run| runs.push(run));
            }
        }
    }

    /// Chunk `chunk` could not be read (its pieces stop here).
    pub fn failed(&mut self, chunk: u32, out: &mut Gathered) {
        self.enter(chunk, out);
        self.chunk = Some((chunk, true));
    }

    /// The unit is read: its last chunk's part is added.
    pub fn finish(mut self, out: &mut Gathered) {
        self.commit(out);
    }

    /// Start chunk `chunk`, adding the previous chunk's part first.
    fn enter(&mut self, chunk: u32, out: &mut Gathered) {
        if self.chunk.is_some_and(|(c, _)| c != chunk) {
            self.commit(out);
        }
        if self.chunk.is_none() {
            self.chunk = Some((chunk, false));
        }
    }

    /// Add the current chunk's part to `out` unless reading it failed, and forget it.
    fn commit(&mut self, out: &mut Gathered) {
        let Some((_, failed)) = self.chunk.take() else {
            return;
        };
        let runs = &mut self.runs;
        self.open.close(|run| runs.push(run));
        let malformed = std::mem::take(&mut self.open.malformed);
        if failed {
            self.counts.clear();
            self.runs.clear();
            return;
        }
        let eb = DICT_EXTENT_BLOCKS;
        for (block, n) in self.counts.drain(..) {
            let (k, j) = (block / eb, (block % eb) as usize);
            out.counts
                .entry((self.file, k))
                .or_insert_with(|| vec![0; eb as usize])[j] = n;
        }
        if self.what == Gather::Tokens {
            let tally = out.tokens.entry(self.file).or_default();
            for run in self.runs.drain(..) {
                add_run(&mut tally.uses, run);
            }
            tally.malformed += malformed;
        }
    }
}

/// [`DictEvidence`] as a partial carries it: a node sends the evidence of every dictionary
/// that claims a range, most of it never needed, so each extent's 8192 string counts travel as
/// runs of equal counts (a dictionary's empty tail is one run), and the token blocks as runs of
/// consecutive block LBIDs (a column's tokens name the blocks of an extent in order), each run
/// its first LBID, then the highest ordinal and the token count of every block in it.
#[derive(Debug, Serialize, Deserialize)]
pub struct EvidenceWire {
    file: usize,
    dict: SegmentId,
    dbroot: DbRootId,
    columns: Vec<Oid>,
    /// Per extent: (string count, blocks in a row with that count).
    counts: Vec<Vec<(u16, u32)>>,
    /// (first block LBID, highest ordinal per block, tokens per block).
    tokens: Vec<(i64, Vec<u16>, Vec<u64>)>,
    malformed: u64,
}

impl From<&DictEvidence> for EvidenceWire {
    fn from(e: &DictEvidence) -> Self {
        let counts = e
            .counts
            .iter()
            .map(|blocks| {
                let mut runs: Vec<(u16, u32)> = Vec::new();
                for &c in blocks {
                    match runs.last_mut() {
                        Some((v, n)) if *v == c => *n += 1,
                        _ => runs.push((c, 1)),
                    }
                }
                runs
            })
            .collect();
        let mut tokens: Vec<(i64, Vec<u16>, Vec<u64>)> = Vec::new();
        for (&lbid, u) in &e.tokens {
            match tokens.last_mut() {
                Some((first, ops, n)) if first.checked_add(ops.len() as i64) == Some(lbid) => {
                    ops.push(u.max_op);
                    n.push(u.tokens);
                }
                _ => tokens.push((lbid, vec![u.max_op], vec![u.tokens])),
            }
        }
        EvidenceWire {
            file: e.file,
            dict: e.dict,
            dbroot: e.dbroot,
            columns: e.columns.clone(),
            counts,
            tokens,
            malformed: e.malformed,
        }
    }
}

impl TryFrom<EvidenceWire> for DictEvidence {
    type Error = String;

    /// Every extent's runs cover at most the blocks of a dictionary extent; token runs are
    /// non-empty, in LBID order and inside the LBID type.
    fn try_from(w: EvidenceWire) -> Result<Self, String> {
        let mut counts = Vec::with_capacity(w.counts.len());
        for (k, runs) in w.counts.iter().enumerate() {
            let blocks: u64 = runs.iter().map(|&(_, n)| u64::from(n)).sum();
            if blocks > u64::from(DICT_EXTENT_BLOCKS) || runs.iter().any(|&(_, n)| n == 0) {
                return Err(format!(
                    "token evidence of {}: extent {k}'s string counts cover {blocks} blocks in \
                     {} runs (at most {DICT_EXTENT_BLOCKS}, no empty run)",
                    w.dict,
                    runs.len()
                ));
            }
            let mut out = Vec::with_capacity(blocks as usize);
            for &(c, n) in runs {
                out.extend(std::iter::repeat_n(c, n as usize));
            }
            counts.push(out);
        }
        let mut tokens = BTreeMap::new();
        // The lowest LBID the next run may start at (none after a run ending at i64::MAX).
        let mut next = Some(i64::MIN);
        for (first, ops, n) in w.tokens {
            let last = i64::try_from(ops.len())
                .ok()
                .and_then(|len| first.checked_add(len - 1));
            let in_order = next.is_some_and(|n| first >= n);
            if ops.is_empty() || ops.len() != n.len() || !in_order || last.is_none() {
                return Err(format!(
                    "token evidence of {}: a run of token blocks at LBID {first} with {} \
                     ordinals and {} counts, after the run ending before LBID {next:?}",
                    w.dict,
                    ops.len(),
                    n.len()
                ));
            }
            for (j, (max_op, tokens_in)) in ops.into_iter().zip(n).enumerate() {
                let use_ = TokenUse {
                    max_op,
                    tokens: tokens_in,
                };
                tokens.insert(first + j as i64, use_);
            }
            next = last.and_then(|l| l.checked_add(1));
        }
        Ok(DictEvidence {
            file: w.file,
            dict: w.dict,
            dbroot: w.dbroot,
            columns: w.columns,
            counts,
            tokens,
            malformed: w.malformed,
        })
    }
}

impl Serialize for DictEvidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EvidenceWire::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for DictEvidence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DictEvidence::try_from(EvidenceWire::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One dictionary's [`DictEvidence`] as a node keeps and sends it: its [`EvidenceWire`] as
/// CBOR, LZ4-compressed (about 3 KB per dictionary extent where a 8192-entry map of token
/// blocks takes some 200 KB in memory). Checked when a partial is read; the primary unpacks
/// only the ones a decision needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedEvidence {
    /// Index of the dictionary file among the planned files.
    pub file: usize,
    packed: Lz4Bytes,
}

impl PackedEvidence {
    pub fn pack(e: &DictEvidence) -> Self {
        let mut cbor = Vec::new();
        ciborium::into_writer(&EvidenceWire::from(e), &mut cbor)
            .expect("CBOR into a Vec cannot fail");
        PackedEvidence {
            file: e.file,
            packed: Lz4Bytes::pack(&cbor),
        }
    }

    /// The evidence, for file [`file`](Self::file).
    pub fn unpack(&self) -> Result<DictEvidence, String> {
        let cbor = self.packed.unpack();
        let wire: EvidenceWire =
            ciborium::from_reader(cbor.as_slice()).map_err(|e| format!("token evidence: {e}"))?;
        Ok(DictEvidence {
            file: self.file,
            ..DictEvidence::try_from(wire)?
        })
    }
}

impl<'de> Deserialize<'de> for PackedEvidence {
    /// Refuses packed evidence that does not unpack.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            file: usize,
            packed: Lz4Bytes,
        }
        let Raw { file, packed } = Raw::deserialize(d)?;
        let e = PackedEvidence { file, packed };
        e.unpack().map_err(serde::de::Error::custom)?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DictEvidence {
        let mut counts = vec![0u16; DICT_EXTENT_BLOCKS as usize];
        counts[..300].fill(12);
        DictEvidence {
            file: 3,
            dict: SegmentId {
                oid: Oid(3001),
                partition: 0,
                segment: 1,
            },
            dbroot: DbRootId(2),
            columns: vec![Oid(3000)],
            counts: vec![counts],
            tokens: (0..300)
                .map(|b| {
                    let u = TokenUse {
                        max_op: 12,
                        tokens: 12,
                    };
                    (40960 + b, u)
                })
                .chain([(i64::MAX, TokenUse::default())])
                .collect(),
            malformed: 1,
        }
    }

    fn cbor<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn evidence_travels_as_runs_and_reads_back_the_same() {
        let e = sample();
        let wire = EvidenceWire::from(&e);
        // 300 blocks of 12 strings, then 7892 empty ones; 300 consecutive token blocks, then
        // one at the end of the LBID type.
        assert_eq!(wire.counts, vec![vec![(12, 300), (0, 7892)]]);
        assert_eq!(wire.tokens.len(), 2);
        assert_eq!((wire.tokens[0].0, wire.tokens[0].1.len()), (40960, 300));
        assert_eq!(wire.tokens[1].0, i64::MAX);
        let bytes = cbor(&e);
        // One byte per token block's ordinal and one per its count, plus a few per run: far
        // below the 8192 counts of the extent alone.
        assert!(bytes.len() < 2 * 300 + 200, "{} bytes", bytes.len());
        let back: DictEvidence = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn packed_evidence_unpacks_to_the_same_and_junk_is_refused_when_read() {
        let e = sample();
        let p = PackedEvidence::pack(&e);
        assert_eq!(p.file, 3);
        assert_eq!(p.unpack().unwrap(), e);
        let back: PackedEvidence = ciborium::from_reader(cbor(&p).as_slice()).unwrap();
        assert_eq!(back, p);
        // LZ4 that holds no evidence: refused as the partial is read, not when it is used.
        let junk = PackedEvidence {
            file: 3,
            packed: Lz4Bytes::pack(b"not CBOR evidence"),
        };
        let e = ciborium::from_reader::<PackedEvidence, _>(cbor(&junk).as_slice()).unwrap_err();
        assert!(e.to_string().contains("token evidence"), "{e}");
    }

    #[test]
    fn runs_that_no_evidence_gives_are_refused() {
        let refused = |edit: &dyn Fn(&mut EvidenceWire), needle: &str| {
            let mut w = EvidenceWire::from(&sample());
            edit(&mut w);
            let e = DictEvidence::try_from(w).unwrap_err();
            assert!(e.contains(needle), "{e}");
        };
        // More string counts than an extent has blocks (nothing is allocated for them).
        refused(
            &|w| w.counts[0].push((1, u32::MAX)),
            "extent 0's string counts cover 4294975487 blocks in 3 runs",
        );
        refused(&|w| w.counts[0][1].1 = 0, "no empty run");
        // Token runs out of order, overlapping, of two lengths, empty, past i64::MAX.
        refused(
            &|w| w.tokens.swap(0, 1),
            "a run of token blocks at LBID 40960",
        );
        refused(&|w| w.tokens[1].0 = 41000, "at LBID 41000 with 1 ordinals");
        refused(
            &|w| w.tokens[0].2.pop().map(drop).unwrap(),
            "300 ordinals and 299 counts",
        );
        refused(
            &|w| {
                w.tokens[0].1.clear();
                w.tokens[0].2.clear();
            },
            "0 ordinals",
        );
        refused(
            &|w| {
                w.tokens[1].1.push(1);
                w.tokens[1].2.push(1);
            },
            &format!("at LBID {} with 2 ordinals", i64::MAX),
        );
    }

    /// A dictionary file of `extents` extents: uncompressed (no header, so no LBID: SEG §4), or
    /// compressed with a v3 header recording one LBID per extent (SEG §3.7).
    fn dictionary(oid: i32, extents: u32, header_lbids: Vec<i64>) -> FileFacts {
        let blocks = u64::from(extents) * u64::from(DICT_EXTENT_BLOCKS);
        FileFacts {
            found: FoundFile {
                dbroot: DbRootId(1),
                id: SegmentId {
                    oid: Oid(oid),
                    partition: 0,
                    segment: 0,
                },
                path: format!("{oid}.cdf").into(),
            },
            kind: ObjectKind::Dictionary,
            source: super::super::kind::KindSource::Catalog,
            compressed: !header_lbids.is_empty(),
            header_lbids,
            domain: super::super::stats::Domain::None,
            tokens: false,
            allocated_blocks: blocks,
            chunk_count: (blocks / u64::from(BLOCKS_PER_CHUNK)) as u32,
        }
    }

    /// The prediction names the dictionaries whose extents no header LBID settles (on a node,
    /// those with a claim too), in file order, until they hold more extents than
    /// [`MAX_PREDICTED_DICT_EXTENTS`]: the rest are read again after the scan.
    #[test]
    fn the_prediction_names_unsettled_dictionaries_within_the_memory_bound() {
        let files = [
            dictionary(3001, 1, vec![40960]),
            dictionary(3002, 600, vec![]),
            dictionary(3003, 500, vec![]),
            dictionary(3004, 10, vec![]),
        ];
        let catalog = CatalogFacts::default();
        let c = Some(Gather::Counts);
        assert_eq!(predict(&files, &catalog, false), [None, c, None, None]);
        assert_eq!(predict(&files, &catalog, true), [c, c, None, None]);
        // Within the bound, every unsettled dictionary.
        assert_eq!(predict(&files[2..], &catalog, false), [c, c]);
    }

    /// The scan's way of gathering ([`UnitGather`] per work unit, per worker [`Gathered`],
    /// merged) against the definition: every token of a chunk read whole adds to its block
    /// (highest ordinal, one token) and asks one string of each continuation block; every
    /// dictionary block counts the strings written into it. Chunks come in pieces, some fail
    /// part way, units go to workers in any order, workers merge in any order.
    mod gathering {
        use super::super::*;
        use crate::seg::dict::DictBlockBuilder;
        use proptest::prelude::*;

        /// A chunk: its words or blocks, the pieces it is read in, and the piece whose read
        /// fails (its earlier pieces delivered), if any.
        #[derive(Debug, Clone)]
        struct ChunkSpec<T> {
            items: Vec<T>,
            pieces: usize,
            fail: Option<usize>,
        }

        fn chunk<T: std::fmt::Debug + Clone>(
            item: impl Strategy<Value = T>,
        ) -> impl Strategy<Value = ChunkSpec<T>> {
            (
                proptest::collection::vec(item, 0..24),
                1usize..4,
                proptest::option::weighted(0.25, 0usize..4),
            )
                .prop_map(|(items, pieces, fail)| ChunkSpec {
                    items,
                    pieces,
                    fail: fail.map(|f| f % pieces),
                })
        }

        fn token_word() -> impl Strategy<Value = u64> {
            prop_oneof![
                Just(TOKEN_EMPTY),
                Just(TOKEN_NULL),
                (
                    0i64..4,
                    0u16..4,
                    prop_oneof![4 => 0u32..3, 1 => Just(3000u32)]
                )
                    .prop_map(|(b, op, bc)| Token {
                        op,
                        lbid: 40960 + b,
                        bc
                    }
                    .encode()),
            ]
        }

        /// How chunks become units (consecutive chunks), which worker takes each unit, and
        /// the order in which the workers' results merge.
        fn schedule(chunks: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
            (
                proptest::collection::vec(1usize..4, chunks),
                proptest::collection::vec(0usize..3, chunks),
                Just(vec![0usize, 1, 2]).prop_shuffle(),
            )
        }

        /// Feed chunk `c` (its bytes of `unit`-byte items, read in `pieces`, failing at piece
        /// `fail`) to `g` as the scan does.
        fn feed(
            g: &mut UnitGather,
            out: &mut Gathered,
            (c, first_block): (u32, u32),
            (bytes, pieces, fail): &(Vec<u8>, usize, Option<usize>),
            unit: usize,
        ) {
            let items = bytes.len() / unit;
            for p in 0..*pieces {
                if *fail == Some(p) {
                    g.failed(c, out);
                    return;
                }
                let (a, b) = (items * p / pieces, items * (p + 1) / pieces);
                let block = first_block + (a * unit / BLOCK_SIZE) as u32;
                g.data(c, block, &bytes[a * unit..b * unit], out);
            }
        }

        /// Run `chunks` (as bytes of `unit`-byte items) through units, workers and merges.
        fn scan(
            what: Gather,
            chunks: &[(Vec<u8>, usize, Option<usize>)],
            first_block: impl Fn(u32) -> u32,
            unit: usize,
            (sizes, workers, order): &(Vec<usize>, Vec<usize>, Vec<usize>),
        ) -> Gathered {
            let mut per_worker: Vec<Gathered> = (0..3).map(|_| Gathered::default()).collect();
            let mut c = 0;
            let mut u = 0;
            while c < chunks.len() {
                let end = (c + sizes[u]).min(chunks.len());
                let out = &mut per_worker[workers[u]];
                let mut g = UnitGather::new(what, 7);
                for (k, spec) in chunks.iter().enumerate().take(end).skip(c) {
                    let k = k as u32;
                    feed(&mut g, out, (k, first_block(k)), spec, unit);
                }
                g.finish(out);
                c = end;
                u += 1;
            }
            let mut merged = Gathered::default();
            for &w in order {
                merged = merged.merge(std::mem::take(&mut per_worker[w]));
            }
            merged
        }

        /// What the tokens `words` use of each block, token by token (SEG §6.2): EMPTY and NULL
        /// skipped, ordinal 0 or more than 2048 continuation blocks malformed.
        fn model(words: impl Iterator<Item = u64>) -> TokenTally {
            let mut uses: BTreeMap<i64, TokenUse> = BTreeMap::new();
            let mut malformed = 0;
            for raw in words {
                if raw == TOKEN_EMPTY || raw == TOKEN_NULL {
                    continue;
                }
                let t = Token::decode(raw);
                if t.op == 0 || t.bc > 2048 {
                    malformed += 1;
                    continue;
                }
                let e = uses.entry(t.lbid).or_default();
                e.max_op = e.max_op.max(t.op);
                e.tokens += 1;
                for b in 1..=i64::from(t.bc) {
                    let e = uses.entry(t.lbid + b).or_default();
                    e.max_op = e.max_op.max(1);
                }
            }
            TokenTally { uses, malformed }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn tokens_gathered_by_the_scan_are_every_token_added(
                (chunks, sched) in proptest::collection::vec(chunk(token_word()), 1..7)
                    .prop_flat_map(|c| { let n = c.len(); (Just(c), schedule(n)) })
            ) {
                let want = model(
                    chunks
                        .iter()
                        .filter(|s| s.fail.is_none())
                        .flat_map(|s| s.items.iter().copied()),
                );
                let bytes: Vec<_> = chunks
                    .iter()
                    .map(|s| {
                        let b = s.items.iter().flat_map(|w| w.to_le_bytes()).collect();
                        (b, s.pieces, s.fail)
                    })
                    .collect();
                let got = scan(Gather::Tokens, &bytes, |_| 0, 8, &sched);
                prop_assert!(got.counts.is_empty());
                let tally = got.tokens.get(&7).cloned().unwrap_or_default();
                prop_assert_eq!(tally, want);
            }

            #[test]
            fn tokens_in_long_runs_are_every_token_added(
                runs in proptest::collection::vec(
                    (0i64..3, 1u16..1024, 0u32..3, 1usize..1500, 0u8..8),
                    1..10,
                ),
                blocks_per_piece in 1usize..4,
            ) {
                // Runs of one target, some long enough that whole 8 KiB blocks name the open
                // run's blocks, some with one token of ordinal 0, one NULL or one EMPTY token
                // in the middle, some with NULLs or EMPTYs every few rows (a nullable column:
                // the markers are taken into the stretch, an ordinal 0 ends it).
                let mut words = Vec::new();
                for (b, op, bc, n, odd) in runs {
                    for i in 0..n {
                        let op = if odd == 0 && i == n / 2 { 0 } else { op };
                        words.push(match odd {
                            1 if i == n / 2 => TOKEN_NULL,
                            2 if i == n / 2 => TOKEN_EMPTY,
                            6 if i % 5 == 3 => TOKEN_NULL,
                            7 if i % 3 == 1 => if i % 2 == 0 { TOKEN_EMPTY } else { TOKEN_NULL },
                            _ => Token { op, lbid: 40960 + b, bc }.encode(),
                        });
                    }
                }
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let mut runs = TokenRuns::default();
                let mut uses = BTreeMap::new();
                for piece in bytes.chunks(blocks_per_piece * BLOCK_SIZE) {
                    runs.add(piece, |run| add_run(&mut uses, run));
                }
                runs.close(|run| add_run(&mut uses, run));
                let got = TokenTally { uses, malformed: runs.malformed };
                prop_assert_eq!(got, model(words.iter().copied()));
            }

            #[test]
            fn string_counts_gathered_by_the_scan_are_the_strings_written(
                (chunks, sched) in proptest::collection::vec(chunk(0u16..4), 1..7)
                    .prop_flat_map(|c| { let n = c.len(); (Just(c), schedule(n)) })
            ) {
                // Chunk c starts at block 3000 c: chunk 3 is in extent 1 (blocks 8192..).
                let first_block = |c: u32| 3000 * c;
                let mut want: BTreeMap<(u32, usize), u16> = BTreeMap::new();
                let bytes: Vec<_> = chunks
                    .iter()
                    .enumerate()
                    .map(|(c, s)| {
                        let mut b = Vec::new();
                        for (j, &n) in s.items.iter().enumerate() {
                            let mut block = DictBlockBuilder::new();
                            for i in 0..n {
                                block.try_push(format!("s{i}").as_bytes()).unwrap();
                            }
                            b.extend_from_slice(&block.finish());
                            let at = first_block(c as u32) + j as u32;
                            if n > 0 && s.fail.is_none() {
                                want.insert((at / DICT_EXTENT_BLOCKS, (at % DICT_EXTENT_BLOCKS) as usize), n);
                            }
                        }
                        (b, s.pieces, s.fail)
                    })
                    .collect();
                let got = scan(Gather::Counts, &bytes, first_block, BLOCK_SIZE, &sched);
                prop_assert!(got.tokens.is_empty());
                let mut found = BTreeMap::new();
                for (&(file, k), counts) in &got.counts {
                    prop_assert_eq!(file, 7);
                    prop_assert_eq!(counts.len(), DICT_EXTENT_BLOCKS as usize);
                    for (j, &n) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
                        found.insert((k, j), n);
                    }
                }
                prop_assert_eq!(found, want);
            }
        }
    }
}
