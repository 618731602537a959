//! Catalog tokens against dictionary extents (CAT §3.3; SEG §6, §7.4).
//!
//! A catalog string column holds 8-byte tokens whose bits 10–45 are the **LBID** of a dictionary block.
//! A token therefore only resolves when the dictionary's extent map entry starts at the LBID it had when
//! the token was written. This module
//!
//! * resolves a token to its string through the dictionary file ([`resolve_string`]);
//! * checks every token of the catalog's token columns against given dictionary extents
//!   ([`check_token_lbids`]): the rebuild uses it to confirm that the LBIDs it replays agree with the
//!   catalog's own tokens;
//! * infers a dictionary's start LBID from its tokens when no extent map is available
//!   ([`infer_dict_start`], [`narrow_by_strings`], [`infer_dict_starts`]).
//!
//! A token's blocks: the string is string `op` of block `fbo = LBID − start (+ blockOffset)` and, when the
//! token's `bc` is non-zero, string 1 of each of the `bc` blocks at LBID+1, LBID+2, … (SEG §6.1).
//!
//! A dictionary block holding the one string `"hi"` (SEG §6.1): free 8174, next 0, offsets 8192 and
//! 8190, end marker; the string sits in the last two bytes.
//!
//! ```
//! use emengine::catalog::tokens::{resolve_string, DictExtent, TokenFault};
//! use emengine::seg::token::Token;
//! use emengine::types::Lbid;
//!
//! let mut block = vec![0u8; 8192];
//! block[..16].copy_from_slice(&[0xee, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0xfe, 0x1f, 0xff, 0xff]);
//! block[8190..].copy_from_slice(b"hi");
//! let extent = [DictExtent::single(Lbid(114688), 8192)];
//! let token = Token::decode(0x0000_0000_0700_0001); // op 1, LBID 114688
//! assert_eq!(resolve_string(&block, &extent, token).unwrap(), b"hi");
//! let op2 = Token { op: 2, ..token };
//! assert_eq!(resolve_string(&block, &extent, op2), Err(TokenFault::NoSuchString { fbo: 0, op: 2, count: 1 }));
//! ```
//!
//! ```
//! use emengine::catalog::tokens::infer_dict_start;
//! use emengine::seg::token::Token;
//! use emengine::types::Lbid;
//!
//! // tokens into blocks 0 and 3 of an abbreviated dictionary (256 blocks) that starts at 114688
//! let tokens = [Token { op: 1, lbid: 114688, bc: 0 }, Token { op: 2, lbid: 114691, bc: 0 }];
//! assert_eq!(infer_dict_start(&tokens, 256), vec![Lbid(114688)]);
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::file::{CatalogFile, CatalogFiles, LoadedCatalog};
use super::syscat::{syscat_layout_upgraded, syscat_object, CreatedAs, Generation, SYSCAT_COLUMNS};
use crate::error::{DecodeError, Error};
use crate::seg::dict::DictBlock;
use crate::seg::file::Access;
use crate::seg::token::{Token, TOKEN_EMPTY, TOKEN_NULL};
use crate::types::{Lbid, Oid, BLOCK_SIZE, LBID_UNIT};

/// One extent of a dictionary store file: where its LBIDs start and which file blocks it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DictExtent {
    /// First LBID of the extent (`range.start`).
    pub start: Lbid,
    /// Blocks the extent covers (`range.size × 1024`).
    pub blocks: u32,
    /// File block of the extent's first block (`blockOffset`).
    pub block_offset: u32,
}

impl DictExtent {
    /// The only extent of a dictionary file: `blocks` blocks from file block 0.
    pub fn single(start: Lbid, blocks: u32) -> Self {
        Self {
            start,
            blocks,
            block_offset: 0,
        }
    }

    /// The file block that holds `lbid`, when the extent covers it.
    pub fn fbo_of(&self, lbid: i64) -> Option<u64> {
        let rel = lbid.checked_sub(self.start.0)?;
        if rel >= 0 && rel < i64::from(self.blocks) {
            Some(u64::from(self.block_offset) + rel as u64)
        } else {
            None
        }
    }
}

/// The file block holding `lbid` in a dictionary with these extents.
pub fn locate(extents: &[DictExtent], lbid: i64) -> Option<u64> {
    extents.iter().find_map(|e| e.fbo_of(lbid))
}

/// Why a token does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenFault {
    /// The token's LBID (or one of its continuation LBIDs) is in none of the dictionary's extents.
    OutsideExtents { lbid: i64, extents: Vec<(i64, u32)> },
    /// The addressed block lies beyond the end of the dictionary file.
    PastEndOfFile { fbo: u64, file_blocks: u64 },
    /// The addressed block holds fewer strings than the token's `op`.
    NoSuchString { fbo: u64, op: u16, count: usize },
    /// The addressed block is not a valid dictionary block.
    BadBlock {
        fbo: u64,
        #[serde(serialize_with = "serialize_display")]
        error: DecodeError,
    },
    /// The dictionary store file is missing.
    NoDictionaryFile,
}

fn serialize_display<S: serde::Serializer>(v: &DecodeError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl fmt::Display for TokenFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFault::OutsideExtents { lbid, extents } => {
                write!(f, "lbid {lbid} is outside the dictionary's extents")?;
                let list: Vec<String> = extents
                    .iter()
                    .map(|(s, b)| format!("{s}..{}", s + i64::from(*b) - 1))
                    .collect();
                if list.is_empty() {
                    write!(f, " (none known)")
                } else {
                    write!(f, " ({})", list.join(", "))
                }
            }
            TokenFault::PastEndOfFile { fbo, file_blocks } => {
                write!(
                    f,
                    "block {fbo} is past the end of the dictionary file ({file_blocks} blocks)"
                )
            }
            TokenFault::NoSuchString { fbo, op, count } => {
                write!(f, "block {fbo} holds {count} strings, not string {op}")
            }
            TokenFault::BadBlock { fbo, error } => {
                write!(f, "block {fbo} is not a dictionary block: {error}")
            }
            TokenFault::NoDictionaryFile => write!(f, "the dictionary file is missing"),
        }
    }
}

/// A dictionary store file in memory, with a cache of its parsed blocks.
pub(crate) struct DictStore<'a> {
    file: Option<&'a CatalogFile>,
    extents: Vec<DictExtent>,
    blocks: HashMap<u64, Result<DictBlock, DecodeError>>,
}

impl<'a> DictStore<'a> {
    pub(crate) fn new(file: Option<&'a CatalogFile>, extents: Vec<DictExtent>) -> Self {
        Self {
            file,
            extents,
            blocks: HashMap::new(),
        }
    }

    /// The dictionary file's path, if it exists.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.file.map(CatalogFile::path)
    }

    fn file_blocks(&self) -> u64 {
        self.file.map_or(0, |f| f.blocks())
    }

    /// Locate the block of `lbid`: its fbo, or why there is none.
    fn fbo(&self, lbid: i64) -> Result<u64, TokenFault> {
        let fbo = locate(&self.extents, lbid).ok_or_else(|| TokenFault::OutsideExtents {
            lbid,
            extents: self.extents.iter().map(|e| (e.start.0, e.blocks)).collect(),
        })?;
        if self.file.is_some() && fbo >= self.file_blocks() {
            return Err(TokenFault::PastEndOfFile {
                fbo,
                file_blocks: self.file_blocks(),
            });
        }
        Ok(fbo)
    }

    fn block(&mut self, fbo: u64) -> Result<&DictBlock, TokenFault> {
        let file = self.file.ok_or(TokenFault::NoDictionaryFile)?;
        let parsed = self.blocks.entry(fbo).or_insert_with(|| {
            let bytes = file.block(fbo).unwrap_or(&[]);
            DictBlock::parse(bytes).map_err(|e| e.shifted(fbo * BLOCK_SIZE as u64))
        });
        parsed.as_ref().map_err(|e| TokenFault::BadBlock {
            fbo,
            error: e.clone(),
        })
    }

    /// Check that `token`'s LBIDs are in an extent and inside the file, and that its strings exist.
    /// Without a dictionary file only the LBIDs are checked.
    pub(crate) fn check(&mut self, token: Token) -> Result<(), TokenFault> {
        self.walk(token, |_| ())
    }

    /// The string `token` points to.
    pub(crate) fn resolve(&mut self, token: Token) -> Result<Vec<u8>, TokenFault> {
        if self.file.is_none() {
            // still say first when the token is outside the extents
            self.fbo(token.lbid)?;
            return Err(TokenFault::NoDictionaryFile);
        }
        let mut out = Vec::new();
        self.walk(token, |piece| out.extend_from_slice(piece))?;
        Ok(out)
    }

    fn walk(&mut self, token: Token, mut piece: impl FnMut(&[u8])) -> Result<(), TokenFault> {
        // Both ends first: a garbage `bc` (up to 2^18 − 1) fails here instead of block by block.
        let last = token.lbid + i64::from(token.bc);
        self.fbo(token.lbid)?;
        self.fbo(last)?;
        if self.file.is_none() {
            // without a file only the LBIDs can be checked; with one extent both ends cover them all
            if self.extents.len() > 1 {
                for lbid in token.lbid..=last {
                    self.fbo(lbid)?;
                }
            }
            return Ok(());
        }
        // with a file, every block is inside it, so this loop is bounded by the file's size
        for (i, lbid) in (token.lbid..=last).enumerate() {
            let fbo = self.fbo(lbid)?;
            let op = if i == 0 { token.op } else { 1 };
            let block = self.block(fbo)?;
            match block.string(op) {
                Some(s) => piece(s),
                None => {
                    return Err(TokenFault::NoSuchString {
                        fbo,
                        op,
                        count: block.count(),
                    })
                }
            }
        }
        Ok(())
    }
}

/// Resolve one token through dictionary file `dict` (bytes of an uncompressed dictionary file) whose
/// extents are `extents`.
pub fn resolve_string(
    dict: &[u8],
    extents: &[DictExtent],
    token: Token,
) -> Result<Vec<u8>, TokenFault> {
    resolve_strings(dict, extents, [token]).remove(0)
}

/// [`resolve_string`] for many tokens of one dictionary file (of any dictionary, user or
/// catalog): each block is parsed once.
pub fn resolve_strings(
    dict: &[u8],
    extents: &[DictExtent],
    tokens: impl IntoIterator<Item = Token>,
) -> Vec<Result<Vec<u8>, TokenFault>> {
    let file = CatalogFile::from_bytes(PathBuf::new(), dict.to_vec());
    let mut store = DictStore::new(Some(&file), extents.to_vec());
    tokens.into_iter().map(|t| store.resolve(t)).collect()
}

/// A token of a catalog column that does not fit its dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenFinding {
    /// The catalog token column.
    pub column: Oid,
    /// Its dictionary.
    pub dict: Oid,
    /// The token column's file.
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub path: PathBuf,
    /// Row of the token.
    pub rid: u64,
    /// Byte offset of the token in `path`.
    pub offset: u64,
    /// The dictionary's file, when it exists (offsets in a `BadBlock` fault are in this file).
    #[serde(serialize_with = "crate::fsutil::serialize_opt_path")]
    pub dict_path: Option<PathBuf>,
    /// The raw token.
    pub token: u64,
    /// What is wrong.
    pub fault: TokenFault,
}

impl fmt::Display for TokenFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = Token::decode(self.token);
        write!(
            f,
            "{}: at byte {}: token {:#018x} (lbid {}, op {}, bc {}) of column {} into dictionary {} ({}): {}",
            self.path.display(),
            self.offset,
            self.token,
            t.lbid,
            t.op,
            t.bc,
            self.column,
            self.dict,
            self.dict_path.as_ref().map_or_else(|| "no file".to_string(), |p| p.display().to_string()),
            self.fault
        )
    }
}

/// The string tokens (neither EMPTY nor NULL) of a token column file, with their rows.
pub(crate) fn live_tokens(file: &CatalogFile) -> impl Iterator<Item = (u64, u64)> + '_ {
    (0..file.rows(8)).filter_map(move |rid| {
        let raw = file.value(rid, 8)?;
        (raw != TOKEN_EMPTY && raw != TOKEN_NULL).then_some((rid, raw))
    })
}

/// Check every string token of the catalog's token columns (1001, 1002, 1021, 1022, 1023, 1032, 1039,
/// 1040) against the extents given for its dictionary.
///
/// A token is reported when one of its LBIDs is in none of the extents, when its block lies beyond the
/// dictionary file, or when the block holds fewer strings than its `op` (that check needs the
/// dictionary file; without one only the LBIDs are checked). Token columns whose file is missing are
/// skipped; a dictionary with no entry in `extents` has no extents, so every token into it is reported.
/// Errors are I/O errors and files that are not whole blocks.
pub fn check_token_lbids(
    files: &CatalogFiles,
    extents: &BTreeMap<Oid, Vec<DictExtent>>,
    access: Access,
) -> Result<Vec<TokenFinding>, Error> {
    let loaded = LoadedCatalog::load(&token_files(files), access)?;
    Ok(check_loaded_token_lbids(&loaded, extents))
}

/// The token columns of `files` that have a dictionary, and their dictionaries' files: what the
/// token checks and inferences read.
fn token_files(files: &CatalogFiles) -> CatalogFiles {
    let mut out = CatalogFiles::new();
    for column in SYSCAT_COLUMNS
        .iter()
        .filter(|o| o.created_as == CreatedAs::Token)
    {
        let (Some(dict_oid), Some(col_path)) = (column.dict_oid, files.get(&column.oid)) else {
            continue;
        };
        out.insert(column.oid, col_path.clone());
        if let Some(p) = files.get(&dict_oid) {
            out.insert(dict_oid, p.clone());
        }
    }
    out
}

/// [`check_token_lbids`] on files already loaded.
pub fn check_loaded_token_lbids(
    loaded: &LoadedCatalog,
    extents: &BTreeMap<Oid, Vec<DictExtent>>,
) -> Vec<TokenFinding> {
    let mut findings = Vec::new();
    for column in SYSCAT_COLUMNS
        .iter()
        .filter(|o| o.created_as == CreatedAs::Token)
    {
        let (Some(dict_oid), Some(col_file)) = (column.dict_oid, loaded.files.get(&column.oid))
        else {
            continue;
        };
        let dict_file = loaded.files.get(&dict_oid);
        let mut store = DictStore::new(
            dict_file,
            extents.get(&dict_oid).cloned().unwrap_or_default(),
        );
        let mut seen: HashMap<u64, Result<(), TokenFault>> = HashMap::new();
        for (rid, raw) in live_tokens(col_file) {
            let verdict = seen
                .entry(raw)
                .or_insert_with(|| store.check(Token::decode(raw)));
            if let Err(fault) = verdict {
                findings.push(TokenFinding {
                    column: column.oid,
                    dict: dict_oid,
                    path: col_file.path().to_path_buf(),
                    rid,
                    offset: rid * 8,
                    token: raw,
                    dict_path: dict_file.map(|f| f.path().to_path_buf()),
                    fault: fault.clone(),
                });
            }
        }
    }
    findings
}

/// The start LBIDs a dictionary file of `file_blocks` blocks can have, given tokens into it
/// (CAT §3.3 "Without an extent map"), ascending.
///
/// Extent starts are multiples of 1024; a start `S` is possible when every token's LBIDs (its block and
/// its `bc` continuation blocks) satisfy `S ≤ LBID < S + file_blocks`. For a file of ≤ 1024 blocks at most
/// one value remains. No tokens give no candidates (nothing to go by).
pub fn infer_dict_start(tokens: &[Token], file_blocks: u32) -> Vec<Lbid> {
    let Some(min) = tokens.iter().map(|t| t.lbid).min() else {
        return Vec::new();
    };
    let max = tokens
        .iter()
        .map(|t| t.lbid + i64::from(t.bc))
        .max()
        .unwrap_or(min);
    let lowest = max - i64::from(file_blocks) + 1; // S must be ≥ this
    let mut out = Vec::new();
    let mut s = min.div_euclid(LBID_UNIT) * LBID_UNIT;
    while s >= lowest && s >= 0 {
        out.push(Lbid(s));
        s -= LBID_UNIT;
    }
    out.reverse();
    out
}

/// Keep the candidate starts under which every token names an existing string of the dictionary file
/// `dict` (its `op` ≤ the string count of its block, and its continuation blocks hold a first string).
pub fn narrow_by_strings(candidates: &[Lbid], tokens: &[Token], dict: &[u8]) -> Vec<Lbid> {
    let file = CatalogFile::from_bytes(PathBuf::new(), dict.to_vec());
    let blocks = u32::try_from(file.blocks()).unwrap_or(u32::MAX);
    candidates
        .iter()
        .copied()
        .filter(|&start| {
            let mut store = DictStore::new(Some(&file), vec![DictExtent::single(start, blocks)]);
            tokens.iter().all(|&t| store.check(t).is_ok())
        })
        .collect()
}

/// For every catalog dictionary whose file and token column exist: the start LBIDs consistent with the
/// column's tokens ([`infer_dict_start`] then [`narrow_by_strings`]), with `preferred[oid]` (for example
/// the fresh-install value) moved first when it is a candidate.
///
/// A dictionary whose column holds no string tokens is absent from the result.
pub fn infer_dict_starts(
    files: &CatalogFiles,
    preferred: &BTreeMap<Oid, Lbid>,
    access: Access,
) -> Result<BTreeMap<Oid, Vec<Lbid>>, Error> {
    let loaded = LoadedCatalog::load(&token_pairs(files), access)?;
    Ok(infer_loaded_dict_starts(&loaded, preferred))
}

/// The token columns of `files` whose dictionary file is there too, and those dictionaries.
fn token_pairs(files: &CatalogFiles) -> CatalogFiles {
    let mut out = token_files(files);
    out.retain(|oid, _| match token_column_dict(*oid) {
        Some(dict) => files.contains_key(&dict),
        None => files.keys().any(|&c| token_column_dict(c) == Some(*oid)),
    });
    out
}

/// [`infer_dict_starts`] on files already loaded.
pub fn infer_loaded_dict_starts(
    loaded: &LoadedCatalog,
    preferred: &BTreeMap<Oid, Lbid>,
) -> BTreeMap<Oid, Vec<Lbid>> {
    let mut out = BTreeMap::new();
    for column in SYSCAT_COLUMNS
        .iter()
        .filter(|o| o.created_as == CreatedAs::Token)
    {
        let Some(dict_oid) = column.dict_oid else {
            continue;
        };
        let (Some(col_file), Some(dict_file)) =
            (loaded.files.get(&column.oid), loaded.files.get(&dict_oid))
        else {
            continue;
        };
        let tokens = distinct_tokens(col_file);
        if tokens.is_empty() {
            continue;
        }
        let mut candidates = narrow_by_strings(
            &infer_dict_start(
                &tokens,
                u32::try_from(dict_file.blocks()).unwrap_or(u32::MAX),
            ),
            &tokens,
            dict_file.bytes(),
        );
        if let Some(p) = preferred.get(&dict_oid) {
            if let Some(i) = candidates.iter().position(|c| c == p) {
                let first = candidates.remove(i);
                candidates.insert(0, first);
            }
        }
        out.insert(dict_oid, candidates);
    }
    out
}

/// The catalog generations, newest first, whose fresh-install layout over the present catalog files
/// puts every catalog dictionary where its column's tokens point (CAT §3.3, §7.2).
///
/// A fresh catalog gives its own generation (and, since B and C place dictionaries identically, B
/// for a C catalog); a catalog first built as generation A and upgraded in place gives only A, while
/// [`Generation::detect`] says B or C. Dictionaries whose column holds no tokens do not constrain the
/// answer; an empty result means the tokens fit no replay (a moved or damaged catalog).
pub fn consistent_generations(
    files: &CatalogFiles,
    access: Access,
) -> Result<Vec<Generation>, Error> {
    let loaded = LoadedCatalog::load(&token_pairs(files), access)?;
    let present: BTreeSet<Oid> = files.keys().copied().collect();
    Ok(loaded_consistent_generations(&loaded, &present))
}

/// [`consistent_generations`] on files already loaded; `present` are the catalog OIDs whose files
/// exist (loaded or not).
pub fn loaded_consistent_generations(
    loaded: &LoadedCatalog,
    present: &BTreeSet<Oid>,
) -> Vec<Generation> {
    let inferred = infer_loaded_dict_starts(loaded, &BTreeMap::new());
    let present: BTreeSet<Oid> = present
        .iter()
        .copied()
        .filter(|&o| syscat_object(o).is_some())
        .collect();
    let newest = Generation::detect(&present);
    let mut out = Vec::new();
    for g in [Generation::C, Generation::B, Generation::A]
        .into_iter()
        .filter(|&g| g <= newest)
    {
        let (layout, _) = syscat_layout_upgraded(&present, g);
        let fits = inferred.iter().all(|(dict, candidates)| {
            layout
                .iter()
                .find(|e| e.oid == *dict)
                .is_some_and(|e| candidates.contains(&e.lbid))
        });
        if fits {
            out.push(g);
        }
    }
    out
}

/// The distinct string tokens of a token column file.
pub(crate) fn distinct_tokens(file: &CatalogFile) -> Vec<Token> {
    let set: BTreeSet<u64> = live_tokens(file).map(|(_, raw)| raw).collect();
    set.into_iter().map(Token::decode).collect()
}

/// The dictionary a catalog token column points into, if `oid` is one.
pub fn token_column_dict(oid: Oid) -> Option<Oid> {
    syscat_object(oid)
        .filter(|o| o.created_as == CreatedAs::Token)
        .and_then(|o| o.dict_oid)
}
