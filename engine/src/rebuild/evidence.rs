//! Evidence: the tokens of user dictionary columns, read for the dictionary files whose extent
//! LBIDs the headers do not settle (SEG §3.7, §3.9) or that claim an LBID range another file
//! claims too → one [`DictEvidence`] per such dictionary file.
//!
//! Runs after the scan, before place, and only over those files: a targeted pass that leaves
//! the scan kernels alone. A cluster's node cannot see the other nodes' claims, so it gathers
//! for every dictionary file that claims any range as well ([`gather_on_node`], packed): the
//! primary then finds among them exactly the evidence one machine reading every DBRoot gathers
//! ([`gather`]). Every chunk is read once with a per-task buffer (bounded memory); a
//! token column contributes the distinct block LBIDs its tokens name (SEG §6.2: bits 10–45 are
//! the **LBID** of the string's block, `op` its ordinal there, `bc` the continuation blocks at
//! LBID+1, …), and the dictionary file the string count of every block of every extent
//! (SEG §6.1). Both are plain values: place decides from them without reading any file.
//!
//! The owning token column of a dictionary comes from the catalog's SYSCOLUMN rows
//! (`dictobjectid`, CAT §5); its segment file for (partition, segment) points into the
//! dictionary file of the same partition and segment.

use super::catalog::CatalogFacts;
use super::facts::Lz4Bytes;
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
/// file `i`'s extent count.
pub fn gather(
    files: &[PlannedFile],
    extents: &[u32],
    claims: &[Claim],
    catalog: &CatalogFacts,
) -> Vec<DictEvidence> {
    let which = wanted(files.iter().map(|p| &p.facts), extents, claims);
    gather_each(files, extents, which, catalog, |e| e)
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
) -> Vec<PackedEvidence> {
    let which = wanted_on_node(files.iter().map(|p| &p.facts), extents, claims);
    gather_each(files, extents, which, catalog, |e| PackedEvidence::pack(&e))
}

/// The evidence of the files `which` (indexes into `files`), each handed to `keep` as soon as
/// it is gathered.
fn gather_each<T: Send>(
    files: &[PlannedFile],
    extents: &[u32],
    which: Vec<usize>,
    catalog: &CatalogFacts,
    keep: impl Fn(DictEvidence) -> T + Sync + Send,
) -> Vec<T> {
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
    which
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
            keep(DictEvidence {
                file: i,
                dict: id,
                dbroot: pf.found.dbroot,
                columns,
                counts: (0..extents[i]).map(|k| block_counts(pf, k)).collect(),
                tokens,
                malformed,
            })
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
}
