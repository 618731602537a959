//! Tokens: the LBIDs of dictionary extents that no header settles, and LBID ranges two files
//! claim, decided by the tokens pointing into them (SEG §6.2, §3.7, §3.9).
//!
//! A token names the LBID of its string's block. A dictionary extent starting at `S` (a multiple
//! of 1024) covers LBIDs `S .. S + 8192`; a token with block LBID `u` then names block `u − S`
//! of the extent, which must hold at least `op` strings (a continuation block: one). So a start
//! fits the tokens when every token LBID in its range lands on a non-empty block holding enough
//! strings. The rule, per dictionary file, from the [`DictEvidence`] the evidence stage gathered:
//!
//! 1. the LBIDs the header records are kept while the tokens in their range fit them;
//! 2. the tokens outside every kept range must be covered, exactly, by ranges of the extents the
//!    header does not settle, each fitting its extent's blocks and overlapping nothing claimed
//!    (a search over the candidate starts each token admits). One cover: the LBIDs are
//!    established ([`Strength::Exact`]). When none covers every token, the only one leaving at
//!    most 1 % unexplained (stale or damaged tokens) is [`Strength::Strong`]; one chosen among
//!    several (fewer unexplained, then more blocks whose string count the highest `op` matches)
//!    is [`Strength::Weak`]. Both are reported with a [`Refusal`] and written only when the
//!    user accepts them (`--allow-reassigned`): a score can pick the wrong cover (the property
//!    test below shows it does), and stale tokens can hide the right one;
//! 3. when a header LBID's range holds tokens that do not fit it (a v2 header that cpimport
//!    upgraded records the LBID of the extent it was loading at index 0, which can be the
//!    file's second extent, SEG §3.9), the cover is searched again with this file's header
//!    LBIDs set aside; a unique cover replaces them, and the report says so.
//!
//! 4. with a reference map (`--reference`), when the tokens alone do not establish an extent
//!    (no cover, several, or one that leaves tokens unexplained), the reference's LBID for it is
//!    used where it is aligned, of a dictionary extent's size, overlaps no LBID another file or
//!    this file's header claims, and *every* token in its range fits it ([`Fit`], none
//!    contradicting) — and the ranges so fixed, with the header's, explain every token of the
//!    file. That is [`Evidence::ReferenceAndTokens`], [`Strength::Strong`]: two independent
//!    witnesses agree (the map ColumnStore itself kept, and the strings the tokens name), but
//!    the tokens alone admit another start, so a stale reference that happens to fit them is
//!    not excluded (not [`Strength::Exact`]). It is written without `--allow-reassigned`: where
//!    another start fits every token just as well, its blocks hold strings as many as every
//!    token names, and nothing in the data prefers either. A reference LBID that a token
//!    contradicts is reported ([`Conflict::TokensContradict`]), never used, and the refusal
//!    stays.
//!
//! Extents nothing points into keep their reason and get a free range (reported as
//! re-assigned: no string of theirs is read through a token). Tokens pointing outside every
//! extent that could hold them mean the LBIDs are not established: a [`Refusal`] lists the
//! extents concerned. Two files claiming one range: the claim the tokens fit wins; when none
//! or several do, a [`Refusal`] (`--allow-lbid-conflict` keeps today's order: lower OID first).

use super::super::evidence::DictEvidence;
use super::super::plan::FileFacts;
use super::lbid::{overlapping, Claim};
use super::reference::Reference;
use crate::finding::{
    Accept, Conflict, Evidence, Fact, Inferred, ReassignReason, ReferenceConflict, Refusal,
    RefusalReason, Strength,
};
use crate::types::{ExtentAddress, Lbid, DICT_EXTENT_BLOCKS, LBID_SPACE_UNITS, LBID_UNIT};
use std::collections::{BTreeMap, BTreeSet};

/// `(file index, extent index)` → the LBID decided, or why the extent has none.
pub type Decisions = BTreeMap<(usize, u32), Result<Lbid, ReassignReason>>;

/// What the tokens decided.
#[derive(Debug, Default)]
pub struct Decided {
    pub lbids: Decisions,
    pub inferred: Vec<Inferred>,
    pub refused: Vec<Refusal>,
    /// Reference LBIDs the tokens contradict (with `--reference` only).
    pub reference_conflicts: Vec<ReferenceConflict>,
}

/// How the tokens in one extent's range fit it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fit {
    /// Tokens (rows) that fit, and the distinct blocks they name.
    pub tokens: u64,
    pub blocks: u64,
    /// Tokens that do not fit.
    pub contradicting: u64,
    /// Blocks whose highest `op` named equals the block's string count.
    pub exact_blocks: u64,
}

impl DictEvidence {
    /// How the tokens in `[start, start + 8192)` fit extent `k` starting at `start`.
    pub fn fit(&self, k: u32, start: i64) -> Fit {
        let mut fit = Fit::default();
        let counts = self.counts.get(k as usize).map_or(&[][..], Vec::as_slice);
        for (&u, usage) in self
            .tokens
            .range(start..start + i64::from(DICT_EXTENT_BLOCKS))
        {
            let c = counts.get((u - start) as usize).copied().unwrap_or(0);
            if c > 0 && usage.max_op <= c {
                fit.tokens += usage.tokens;
                fit.blocks += 1;
                fit.exact_blocks += u64::from(usage.max_op == c);
            } else {
                fit.contradicting += usage.tokens.max(1);
            }
        }
        fit
    }

    /// How the token blocks `lbids` fit extent `k` starting at `start`: the blocks that do not
    /// fit, and those whose highest `op` equals the block's string count; `None` when more than
    /// `tolerance` do not fit, or none does.
    fn fit_blocks(
        &self,
        k: u32,
        start: i64,
        lbids: &[i64],
        tolerance: usize,
    ) -> Option<(usize, u64)> {
        let counts = self.counts.get(k as usize)?;
        let (mut bad, mut exact) = (0, 0);
        for u in lbids {
            let usage = self.tokens.get(u)?;
            let c = counts.get((u - start) as usize).copied().unwrap_or(0);
            if c == 0 || usage.max_op > c {
                bad += 1;
                if bad > tolerance {
                    return None;
                }
            } else {
                exact += u64::from(usage.max_op == c);
            }
        }
        (bad < lbids.len()).then_some((bad, exact))
    }
}

/// Decide, from the token evidence, the LBIDs of the dictionary extents no header settles and
/// the LBID ranges two files claim. `claims` are the LBIDs the files record
/// ([`super::lbid::claims`]); `reference` is the reference map, if any (step 4).
pub fn decide(
    files: &[FileFacts],
    claims: &[Claim],
    evidence: &[DictEvidence],
    reference: Option<&Reference<'_>>,
    accept: &Accept,
) -> Decided {
    let mut out = Decided::default();
    let by_file: BTreeMap<usize, &DictEvidence> = evidence.iter().map(|e| (e.file, e)).collect();
    let address = |file: usize, k: u32| extent_address(&files[file], k);

    // Two files claiming one range: the claim the tokens fit wins.
    let mut rejected: BTreeSet<(usize, u32)> = BTreeSet::new();
    for group in overlapping(claims) {
        let fits: Vec<(Claim, Option<Fit>)> = group
            .iter()
            .map(|c| {
                let fit = by_file.get(&c.file).map(|e| e.fit(c.extent, c.lbid.0));
                (*c, fit.filter(|f| f.tokens > 0 && f.contradicting == 0))
            })
            .collect();
        let supported: Vec<&(Claim, Option<Fit>)> =
            fits.iter().filter(|(_, f)| f.is_some()).collect();
        if let [(winner, Some(fit))] = supported[..] {
            out.inferred.push(inferred(
                address(winner.file, winner.extent),
                winner.lbid,
                *fit,
                Strength::Exact,
            ));
            for (c, _) in fits.iter().filter(|(c, _)| c != winner) {
                rejected.insert((c.file, c.extent));
                out.lbids.insert(
                    (c.file, c.extent),
                    Err(ReassignReason::HeaderLbidLostConflict {
                        header_lbid: c.lbid,
                    }),
                );
            }
        } else {
            let reason = RefusalReason::LbidConflict {
                lbid: group[0].lbid,
            };
            out.refused.push(Refusal {
                accepted: reason.accepted_by(accept),
                reason,
                extents: group.iter().map(|c| address(c.file, c.extent)).collect(),
            });
        }
    }

    let kept: Vec<&Claim> = claims
        .iter()
        .filter(|c| !rejected.contains(&(c.file, c.extent)))
        .collect();
    for e in evidence {
        let headers: BTreeMap<u32, i64> = kept
            .iter()
            .filter(|c| c.file == e.file)
            .map(|c| (c.extent, c.lbid.0))
            .collect();
        let others = Ranges::new(
            kept.iter()
                .filter(|c| c.file != e.file)
                .map(|c| (c.lbid.0, c.end())),
        );
        let refs: BTreeMap<u32, (Lbid, u32)> = reference
            .map(|r| {
                (0..e.counts.len() as u32)
                    .filter_map(|k| {
                        let rec = r.get(&address(e.file, k))?;
                        Some((k, (rec.range_start, rec.range_size)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        decide_file(e, &headers, &others, &refs, accept, &address, &mut out);
    }
    out
}

/// Step 2, 3 and 4 of the rule for one dictionary file; `refs` are the reference map's LBIDs
/// and range sizes for its extents.
fn decide_file(
    e: &DictEvidence,
    headers: &BTreeMap<u32, i64>,
    others: &Ranges,
    refs: &BTreeMap<u32, (Lbid, u32)>,
    accept: &Accept,
    address: &dyn Fn(usize, u32) -> ExtentAddress,
    out: &mut Decided,
) {
    let n = e.counts.len() as u32;
    let unknown: Vec<u32> = (0..n).filter(|k| !headers.contains_key(k)).collect();
    let contradicted = headers.iter().any(|(&k, &h)| e.fit(k, h).contradicting > 0);
    let all: Vec<u32> = (0..n).collect();
    let mut replaced_headers = false;
    let mut outcome = Cover::None;
    for tolerance in [Tolerance::None, Tolerance::Percent] {
        outcome = cover(e, headers, &unknown, others, tolerance);
        if contradicted || matches!(outcome, Cover::None | Cover::Ambiguous) {
            let retry = cover(e, &BTreeMap::new(), &all, others, tolerance);
            if let Cover::Found { .. } = retry {
                outcome = retry;
                replaced_headers = true;
            }
        }
        if let Cover::Found { .. } | Cover::Nothing = outcome {
            break;
        }
    }
    let settled = matches!(
        outcome,
        Cover::Nothing
            | Cover::Found {
                strength: Strength::Exact,
                ..
            }
    );
    if !settled && !contradicted && !refs.is_empty() {
        if let Some(starts) = by_reference(e, headers, others, refs, address, out) {
            for (k, s) in starts {
                let fit = e.fit(k, s);
                out.lbids.insert((e.file, k), Ok(Lbid(s)));
                out.inferred.push(Inferred {
                    extent: address(e.file, k),
                    fact: Fact::Lbid,
                    value: s,
                    evidence: Evidence::ReferenceAndTokens {
                        tokens: fit.tokens,
                        blocks: fit.blocks,
                    },
                    strength: Strength::Strong,
                });
            }
            return;
        }
    }
    match outcome {
        Cover::Nothing => {}
        Cover::Found {
            starts,
            strength,
            exact: _,
        } => {
            // Only an exact answer is written without the user's consent: a cover chosen among
            // several by its score, or one that leaves tokens unexplained, may be wrong.
            let write = strength == Strength::Exact || accept.reassigned;
            for (k, s) in &starts {
                if headers.get(k) == Some(s) {
                    continue;
                }
                if write {
                    out.lbids.insert((e.file, *k), Ok(Lbid(*s)));
                }
                let mut i = inferred(address(e.file, *k), Lbid(*s), e.fit(*k, *s), strength);
                if let (
                    Some(&h),
                    Evidence::Tokens {
                        tokens,
                        blocks,
                        contradicting,
                    },
                ) = (headers.get(k), &i.evidence)
                {
                    i.evidence = Evidence::TokensOverHeader {
                        header_lbid: Lbid(h),
                        tokens: *tokens,
                        blocks: *blocks,
                        contradicting: *contradicting,
                    };
                }
                out.inferred.push(i);
            }
            if strength != Strength::Exact {
                let reason = RefusalReason::DictionaryLbidNotEstablished;
                out.refused.push(Refusal {
                    accepted: reason.accepted_by(accept),
                    reason,
                    extents: starts.keys().map(|&k| address(e.file, k)).collect(),
                });
            }
            if replaced_headers {
                // Header LBIDs the cover did not keep: set aside, never written.
                let taken = Ranges::new(
                    starts
                        .values()
                        .map(|&s| (s, s + i64::from(DICT_EXTENT_BLOCKS))),
                );
                for (&k, &h) in headers.iter().filter(|(k, _)| !starts.contains_key(k)) {
                    let fits = e.fit(k, h).contradicting == 0;
                    if !fits || taken.overlaps(h, h + i64::from(DICT_EXTENT_BLOCKS)) {
                        out.lbids.insert(
                            (e.file, k),
                            Err(ReassignReason::HeaderLbidContradicted {
                                header_lbid: Lbid(h),
                            }),
                        );
                    }
                }
            }
        }
        Cover::None | Cover::Ambiguous => {
            let extents: Vec<ExtentAddress> = unknown
                .iter()
                .filter(|&&k| e.counts[k as usize].iter().any(|&c| c > 0))
                .map(|&k| address(e.file, k))
                .collect();
            let extents = if extents.is_empty() {
                (0..n).map(|k| address(e.file, k)).collect()
            } else {
                extents
            };
            let reason = RefusalReason::DictionaryLbidNotEstablished;
            out.refused.push(Refusal {
                accepted: reason.accepted_by(accept),
                reason,
                extents,
            });
        }
    }
}

/// Step 4: the reference's starts for the extents the header does not settle, when each is
/// aligned, of a dictionary extent's size, free and fits every token in its range, and together
/// with the header's they explain every token of the file; `None` otherwise. A reference start
/// a token contradicts is reported and marked so that no later stage takes it.
fn by_reference(
    e: &DictEvidence,
    headers: &BTreeMap<u32, i64>,
    others: &Ranges,
    refs: &BTreeMap<u32, (Lbid, u32)>,
    address: &dyn Fn(usize, u32) -> ExtentAddress,
    out: &mut Decided,
) -> Option<BTreeMap<u32, i64>> {
    let size = i64::from(DICT_EXTENT_BLOCKS);
    let mut fixed = headers.clone();
    let mut starts = BTreeMap::new();
    let mut disproved = false;
    for (&k, &(lbid, units)) in refs.iter().filter(|(k, _)| !headers.contains_key(k)) {
        let s = lbid.0;
        let taken = Ranges::new(fixed.values().map(|&f| (f, f + size)));
        let usable = s >= 0
            && s % LBID_UNIT == 0
            && i64::from(units) * LBID_UNIT == size
            && !others.overlaps(s, s + size)
            && !taken.overlaps(s, s + size);
        if !usable {
            // Left to the reference stage, which reports why it is not used.
            continue;
        }
        let fit = e.fit(k, s);
        if fit.contradicting > 0 {
            disproved = true;
            out.reference_conflicts.push(ReferenceConflict {
                extent: address(e.file, k),
                conflict: Conflict::TokensContradict {
                    reference: lbid,
                    contradicting: fit.contradicting,
                },
            });
            out.lbids.insert(
                (e.file, k),
                Err(ReassignReason::ReferenceDisprovedByTokens { reference: lbid }),
            );
        } else if fit.tokens > 0 {
            fixed.insert(k, s);
            starts.insert(k, s);
        }
    }
    let explained = cover(e, &fixed, &[], others, Tolerance::None) == Cover::Nothing;
    (!disproved && explained && !starts.is_empty()).then_some(starts)
}

fn inferred(extent: ExtentAddress, lbid: Lbid, fit: Fit, strength: Strength) -> Inferred {
    Inferred {
        extent,
        fact: Fact::Lbid,
        value: lbid.0,
        evidence: Evidence::Tokens {
            tokens: fit.tokens,
            blocks: fit.blocks,
            contradicting: fit.contradicting,
        },
        strength,
    }
}

fn extent_address(pf: &FileFacts, k: u32) -> ExtentAddress {
    ExtentAddress {
        oid: pf.found.id.oid,
        dbroot: pf.found.dbroot,
        partition: pf.found.id.partition,
        segment: pf.found.id.segment,
        block_offset: k * pf.kind.extent_blocks(),
    }
}

/// LBID ranges `[a, b)`, sorted by start with the largest end up to each, so that whether a
/// range overlaps one of them is one binary search: every token block of a dictionary is checked
/// against its extents' ranges, and a scan of them all made that quadratic in its extents (on
/// a 20 GiB tree, a second of a one-thread rebuild).
#[derive(Debug, Clone, Default)]
struct Ranges {
    starts: Vec<i64>,
    /// `max_end[i]`: the largest end of the ranges `0..=i` (in start order).
    max_end: Vec<i64>,
}

impl Ranges {
    fn new(ranges: impl IntoIterator<Item = (i64, i64)>) -> Ranges {
        let mut ranges: Vec<(i64, i64)> = ranges.into_iter().collect();
        ranges.sort_unstable();
        let mut end = i64::MIN;
        let max_end = ranges
            .iter()
            .map(|&(_, b)| {
                end = end.max(b);
                end
            })
            .collect();
        Ranges {
            starts: ranges.iter().map(|&(a, _)| a).collect(),
            max_end,
        }
    }

    /// Whether `[s, e)` overlaps one of the ranges: one `[a, b)` with `a < e` and `s < b`. The
    /// ranges with `a < e` are a prefix in start order; one of them has `s < b` exactly when the
    /// largest end of that prefix does.
    fn overlaps(&self, s: i64, e: i64) -> bool {
        let n = self.starts.partition_point(|&a| a < e);
        n > 0 && s < self.max_end[n - 1]
    }
}

/// The outcome of the cover search for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cover {
    /// No token points outside the kept header ranges.
    Nothing,
    /// The starts of the extents the tokens point into.
    Found {
        starts: BTreeMap<u32, i64>,
        strength: Strength,
        exact: u64,
    },
    /// Tokens no assignment explains.
    None,
    /// Several assignments explain the tokens equally well.
    Ambiguous,
}

/// How many token blocks may not fit: none (the rule), or — weighing the evidence when nothing
/// fits them all, as stale or damaged tokens would make it — one in a hundred of each range's
/// and of those left uncovered ([`Strength::Weak`]: written only when the user accepts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tolerance {
    None,
    Percent,
}

impl Tolerance {
    fn of(self, n: usize) -> usize {
        match self {
            Tolerance::None => 0,
            Tolerance::Percent => n / 100,
        }
    }
}

/// Most search steps and covers before the search gives up (the answer is then "ambiguous").
const MAX_STEPS: usize = 200_000;
const MAX_COVERS: usize = 16;

/// A candidate start of one extent: the tokens `a..b` (indices into the sorted uncovered token
/// blocks) fall in its range and all fit.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    extent: u32,
    start: i64,
    b: usize,
    exact: u64,
    /// Token blocks in the range that do not fit.
    bad: usize,
}

/// Cover the token blocks outside the `fixed` ranges with ranges of the `unknown` extents.
fn cover(
    e: &DictEvidence,
    fixed: &BTreeMap<u32, i64>,
    unknown: &[u32],
    others: &Ranges,
    tolerance: Tolerance,
) -> Cover {
    let size = i64::from(DICT_EXTENT_BLOCKS);
    let fixed_ranges = Ranges::new(fixed.values().map(|&s| (s, s + size)));
    let loose: Vec<i64> = e
        .tokens
        .keys()
        .copied()
        .filter(|&u| !fixed_ranges.overlaps(u, u + 1))
        .collect();
    if loose.is_empty() {
        return Cover::Nothing;
    }
    let starts: BTreeSet<i64> = loose
        .iter()
        .flat_map(|&u| {
            let base = u - u.rem_euclid(LBID_UNIT);
            (0..size / LBID_UNIT).map(move |j| base - j * LBID_UNIT)
        })
        .filter(|&s| s >= 0 && s + size <= i64::from(LBID_SPACE_UNITS) * LBID_UNIT)
        .filter(|&s| !fixed_ranges.overlaps(s, s + size) && !others.overlaps(s, s + size))
        .collect();
    // Candidates by the index of the first token block they cover.
    let mut by_first: BTreeMap<usize, Vec<Candidate>> = BTreeMap::new();
    for &k in unknown {
        for &s in &starts {
            let a = loose.partition_point(|&u| u < s);
            let b = loose.partition_point(|&u| u < s + size);
            if a == b {
                continue;
            }
            let window = &loose[a..b];
            if let Some((bad, exact)) = e.fit_blocks(k, s, window, tolerance.of(window.len())) {
                by_first.entry(a).or_default().push(Candidate {
                    extent: k,
                    start: s,
                    b,
                    exact,
                    bad,
                });
            }
        }
    }
    let mut search = Search {
        by_first: &by_first,
        end: loose.len(),
        skips: tolerance.of(loose.len()),
        chosen: Vec::new(),
        covers: Vec::new(),
        steps: 0,
    };
    search.go(0, 0);
    let exhausted = search.steps >= MAX_STEPS || search.covers.len() >= MAX_COVERS;
    let mut covers = search.covers;
    // Fewest token blocks left unexplained first, then most blocks matched exactly.
    covers.sort_by(|a, b| (a.bad, b.exact).cmp(&(b.bad, a.exact)));
    let found = |c: &Found, strength| Cover::Found {
        starts: c.starts.clone(),
        strength,
        exact: c.exact,
    };
    match covers.as_slice() {
        _ if exhausted => Cover::Ambiguous,
        [] => Cover::None,
        // The only cover: exact, or — some tokens contradicting it — strong.
        [only] if tolerance == Tolerance::None => found(only, Strength::Exact),
        [only] => found(only, Strength::Strong),
        // Chosen among several by fewer contradicting tokens, then more exact string counts.
        [best, second, ..] if (best.bad, second.exact) < (second.bad, best.exact) => {
            found(best, Strength::Weak)
        }
        _ => Cover::Ambiguous,
    }
}

/// One complete cover.
#[derive(Debug, Clone)]
struct Found {
    starts: BTreeMap<u32, i64>,
    exact: u64,
    bad: usize,
}

/// Depth-first exact cover of the sorted token blocks by disjoint candidate ranges, one per
/// extent.
struct Search<'a> {
    by_first: &'a BTreeMap<usize, Vec<Candidate>>,
    end: usize,
    /// Token blocks that may be left uncovered.
    skips: usize,
    chosen: Vec<Candidate>,
    covers: Vec<Found>,
    steps: usize,
}

impl Search<'_> {
    fn go(&mut self, i: usize, skipped: usize) {
        if i == self.end {
            self.covers.push(Found {
                starts: self.chosen.iter().map(|c| (c.extent, c.start)).collect(),
                exact: self.chosen.iter().map(|c| c.exact).sum(),
                bad: skipped + self.chosen.iter().map(|c| c.bad).sum::<usize>(),
            });
            return;
        }
        let Some(candidates) = self.by_first.get(&i) else {
            // No range can start at this token block: leave it out, if that is allowed.
            if skipped < self.skips {
                self.steps += 1;
                self.go(i + 1, skipped + 1);
            }
            return;
        };
        let size = i64::from(DICT_EXTENT_BLOCKS);
        for c in candidates {
            if self.steps >= MAX_STEPS || self.covers.len() >= MAX_COVERS {
                return;
            }
            self.steps += 1;
            let clash = self.chosen.iter().any(|p| {
                p.extent == c.extent || (p.start < c.start + size && c.start < p.start + size)
            });
            if clash {
                continue;
            }
            self.chosen.push(*c);
            self.go(c.b, skipped);
            self.chosen.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebuild::evidence::TokenUse;
    use crate::types::{DbRootId, Oid, SegmentId};

    /// The cover of `e`'s `unknown` extents, with no header start fixed and no other dictionary.
    fn cover_alone(e: &DictEvidence, unknown: &[u32], tolerance: Tolerance) -> Cover {
        cover(e, &BTreeMap::new(), unknown, &Ranges::default(), tolerance)
    }

    /// A dictionary file whose extents hold `filled[k]` blocks of 3 strings each.
    fn evidence(filled: &[usize], tokens: &[(i64, u16)]) -> DictEvidence {
        DictEvidence {
            file: 0,
            dict: SegmentId {
                oid: Oid(3001),
                partition: 0,
                segment: 0,
            },
            dbroot: DbRootId(1),
            columns: vec![Oid(3000)],
            counts: filled
                .iter()
                .map(|&n| {
                    let mut v = vec![0u16; DICT_EXTENT_BLOCKS as usize];
                    v[..n].fill(3);
                    v
                })
                .collect(),
            tokens: tokens
                .iter()
                .map(|&(l, op)| {
                    (
                        l,
                        TokenUse {
                            max_op: op,
                            tokens: 1,
                        },
                    )
                })
                .collect(),
            malformed: 0,
        }
    }

    #[test]
    fn one_extent_is_placed_where_its_tokens_land_on_filled_blocks() {
        // 10 filled blocks; tokens into blocks 0 and 9 of an extent at 40960: only 40960
        // puts both on filled blocks (39936 would put them on blocks 1024 and 1033, empty).
        let e = evidence(&[10], &[(40960, 1), (40969, 3)]);
        let got = cover_alone(&e, &[0], Tolerance::None);
        assert_eq!(
            got,
            Cover::Found {
                starts: BTreeMap::from([(0, 40960)]),
                strength: Strength::Exact,
                exact: 1
            }
        );
    }

    #[test]
    fn an_op_past_the_block_string_count_is_not_a_fit() {
        let e = evidence(&[10], &[(40960, 4)]);
        assert_eq!(cover_alone(&e, &[0], Tolerance::None), Cover::None);
    }

    #[test]
    fn a_full_extent_with_tokens_into_one_block_is_ambiguous() {
        let e = evidence(&[8192], &[(40960, 1)]);
        assert_eq!(cover_alone(&e, &[0], Tolerance::None), Cover::Ambiguous);
    }

    #[test]
    fn a_range_claimed_by_another_file_is_no_candidate() {
        // A full extent with tokens into LBIDs 8192 and 9000: starts 1024 ..= 8192 fit them;
        // another file claims [0, 8192), which leaves 8192.
        let e = evidence(&[8192], &[(8192, 1), (9000, 1)]);
        assert_eq!(cover_alone(&e, &[0], Tolerance::None), Cover::Ambiguous);
        assert_eq!(
            cover(
                &e,
                &BTreeMap::new(),
                &[0],
                &Ranges::new([(0, 8192)]),
                Tolerance::None
            ),
            Cover::Found {
                starts: BTreeMap::from([(0, 8192)]),
                strength: Strength::Exact,
                exact: 0
            }
        );
    }

    #[test]
    fn two_unknown_extents_are_told_apart_by_their_filled_blocks() {
        // Extent 0 full, extent 1 holds 5 blocks; extent 1 was allocated below extent 0.
        let mut tokens: Vec<(i64, u16)> = (0..8192).step_by(97).map(|r| (81920 + r, 1)).collect();
        tokens.push((81920 + 8191, 2));
        tokens.extend([(16384, 1), (16388, 3)]);
        let e = evidence(&[8192, 5], &tokens);
        let got = cover_alone(&e, &[0, 1], Tolerance::None);
        assert_eq!(
            got,
            Cover::Found {
                starts: BTreeMap::from([(0, 81920), (1, 16384)]),
                strength: Strength::Exact,
                exact: 1
            }
        );
    }

    #[test]
    fn a_stale_token_is_weighed_not_trusted() {
        // (Strong: the only cover once one token in a hundred may be stale; never written
        // without the user's consent.)
        // 300 filled blocks, tokens into each; one token names string 9 of block 5, which
        // holds 3: no start fits every token, one fits all but that one.
        let mut tokens: Vec<(i64, u16)> = (0..300).map(|r| (40960 + r, 3)).collect();
        tokens[5].1 = 9;
        let e = evidence(&[300], &tokens);
        assert_eq!(cover_alone(&e, &[0], Tolerance::None), Cover::None);
        assert_eq!(
            cover_alone(&e, &[0], Tolerance::Percent),
            Cover::Found {
                starts: BTreeMap::from([(0, 40960)]),
                strength: Strength::Strong,
                exact: 299
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn ranges_overlap_exactly_when_one_range_does(
            ranges in proptest::collection::vec((-50i64..50, 0i64..30), 0..12),
            s in -60i64..60,
            len in 0i64..30,
        ) {
            // The definition, one range at a time (empty ranges included, as they come).
            let ranges: Vec<(i64, i64)> = ranges.iter().map(|&(a, n)| (a, a + n)).collect();
            let e = s + len;
            let linear = ranges.iter().any(|&(a, b)| a < e && s < b);
            proptest::prop_assert_eq!(Ranges::new(ranges.clone()).overlaps(s, e), linear);
        }

        /// Tokens written into an extent at a known start: the cover either finds exactly that
        /// start or says it cannot tell — never an exact answer that is wrong.
        #[test]
        fn an_exact_cover_is_the_true_start(
            unit in 0i64..64,
            counts in proptest::collection::vec(1u16..40, 1..8192),
            picks in proptest::collection::vec((0usize..8192, 0u16..40), 1..60),
        ) {
            let start = unit * LBID_UNIT;
            let tokens: Vec<(i64, u16)> = picks
                .iter()
                .map(|&(r, op)| {
                    let r = r % counts.len();
                    (start + r as i64, op % counts[r] + 1)
                })
                .collect();
            let mut e = evidence(&[0], &[]);
            e.counts[0][..counts.len()].copy_from_slice(&counts);
            for (l, op) in tokens {
                let u = e.tokens.entry(l).or_default();
                u.max_op = u.max_op.max(op);
                u.tokens += 1;
            }
            match cover_alone(&e, &[0], Tolerance::None) {
                Cover::Found { starts, strength: Strength::Exact, .. } => {
                    proptest::prop_assert_eq!(starts, BTreeMap::from([(0, start)]));
                }
                Cover::Found { .. } | Cover::Ambiguous => {}
                other => proptest::prop_assert!(false, "the true start fits: {:?}", other),
            }
        }
    }
}
