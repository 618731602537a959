//! A node's partial: the [`Facts`] one node of a cluster established about its own DBRoots
//! (walk, catalog, plan and scan ran there), carried to the primary, where [`assemble`] checks
//! the partials against each other and merges them for the same place, checks and report a
//! single-machine rebuild runs ([`super::facts::finish`]).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `EMRBPART` |
//! | 8 | 4 | format version, u32 little-endian ([`FORMAT_VERSION`]) |
//! | 12 | 2 | length `n` of the tool version, u16 little-endian |
//! | 14 | `n` | the tool version that wrote it, UTF-8 ([`TOOL_VERSION`]) |
//! | 14 + n | 8 | length `L` of the body, u64 little-endian |
//! | 22 + n | 32 | blake3 digest of the body |
//! | 54 + n | `L` | body: LZ4 block (uncompressed size first, u32 little-endian) of [`PartialBody`] as CBOR (RFC 8949); nothing after it |
//!
//! The header is read before the body, so that a partial of another format or tool version is
//! named as such rather than as garbage; the digest is checked before the body is decoded, so a
//! changed byte anywhere in the body is reported as such (with the body's offset), never
//! decoded into different facts. LZ4 because CBOR repeats every field name in every record.
//! CBOR (through serde) rather than a hand-written layout: the
//! facts are the engine's own types, findings included, so that facts added to them later
//! travel without a format change here; CBOR rather than a non-self-describing codec because
//! the findings are internally tagged enums (shared with the JSON report), which need one.

use super::facts::{CatalogPart, Facts};
use super::kind::StringCp;
use crate::error::{DecodeError, DecodeKind, Error};
use crate::types::DbRootId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The first eight bytes of every partial.
pub const MAGIC: &[u8; 8] = b"EMRBPART";
/// The layout above and the body's meaning; a reader refuses any other. 3: every dictionary
/// that claims a range carries its token evidence, as runs ([`super::evidence::EvidenceWire`]),
/// and the scan its short chunks.
pub const FORMAT_VERSION: u32 = 3;
/// The version of the tool that writes (and the only one that assembles) a partial.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Offset of the tool version (after magic, format version and its length).
const TOOL_AT: usize = 14;
/// Bytes of the header after the tool version: body length and digest.
const TAIL_LEN: usize = 8 + 32;
/// LZ4 expands at most this many times, so a body claiming more is refused before anything is
/// allocated.
const LZ4_MAX_RATIO: usize = 255;

/// What one node scanned and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialBody {
    /// The node's name (`--node`, else its host name).
    pub node: String,
    /// The DBRoots it covers, with their paths on that node.
    pub dbroots: Vec<DbRootEntry>,
    /// The min/max policy for inline strings the plan used (it decides each file's domain).
    pub string_cp: StringCp,
    /// blake3 of the catalog kinds the plan used ([`catalog_digest`]): the node's own catalog,
    /// or the one of the partial given with `scan --catalog`.
    pub planned_with: [u8; 32],
    pub facts: Facts,
}

/// A DBRoot a partial covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbRootEntry {
    pub id: DbRootId,
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
}

/// A partial as read: its header and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    pub tool_version: String,
    pub body: PartialBody,
}

impl PartialBody {
    /// The DBRoot ids it covers.
    pub fn dbroot_ids(&self) -> BTreeSet<DbRootId> {
        self.dbroots.iter().map(|d| d.id).collect()
    }
}

/// The digest that identifies the catalog a plan used: the catalog files' bytes (or errors)
/// as read on the machine that holds them.
pub fn catalog_digest(catalog: &CatalogPart) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for read in &catalog.reads {
        let path = read.path.as_os_str().as_encoded_bytes();
        hasher.update(&(path.len() as u64).to_le_bytes());
        hasher.update(path);
        match &read.bytes {
            Ok(bytes) => {
                hasher.update(&[0]);
                hasher.update(&(bytes.packed().len() as u64).to_le_bytes());
                hasher.update(bytes.packed());
            }
            Err(e) => {
                hasher.update(&[1]);
                hasher.update(e.detail.as_bytes());
            }
        }
    }
    *hasher.finalize().as_bytes()
}

/// The partial's bytes, with `tool_version` in its header.
pub fn encode(body: &PartialBody, tool_version: &str) -> Vec<u8> {
    let mut cbor = Vec::new();
    ciborium::into_writer(body, &mut cbor).expect("CBOR into a Vec cannot fail");
    let payload = lz4_flex::compress_prepend_size(&cbor);
    let tool = tool_version.as_bytes();
    let tool_len = u16::try_from(tool.len()).expect("a tool version is short");
    let mut out = Vec::with_capacity(TOOL_AT + tool.len() + TAIL_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&tool_len.to_le_bytes());
    out.extend_from_slice(tool);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(&payload).as_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Write `body` to `path` atomically (temporary file, fsync, rename).
pub fn write(path: &Path, body: &PartialBody) -> Result<u64, Error> {
    let bytes = encode(body, TOOL_VERSION);
    crate::fsutil::write_atomic(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Read the partial at `path` (a regular file, opened read-only).
pub fn read(path: &Path) -> Result<Partial, Error> {
    let bytes = crate::fsutil::read_regular(path)?;
    parse(&bytes).map_err(|e| e.in_file(path))
}

/// Decode a partial: header, digest, then body; every failure names its byte offset.
pub fn parse(bytes: &[u8]) -> Result<Partial, DecodeError> {
    let at = |offset: usize, len: usize, what: &str| {
        bytes
            .get(offset..offset.saturating_add(len))
            .ok_or_else(|| {
                DecodeError::truncated(
                    offset as u64,
                    format!("{what} ({len} bytes)"),
                    bytes.len().saturating_sub(offset) as u64,
                )
            })
    };
    let magic = at(0, 8, "the magic")?;
    if magic != MAGIC {
        return Err(DecodeError::new(
            0,
            DecodeKind::BadMagic {
                expected: format!("{:?} (an emrebuild partial)", "EMRBPART"),
                found: format!("{:?}", String::from_utf8_lossy(magic)),
            },
        ));
    }
    let version = u32::from_le_bytes(at(8, 4, "the format version")?.try_into().unwrap());
    if version != FORMAT_VERSION {
        let older = if version < FORMAT_VERSION {
            " (an older emrebuild's: scan the node again with this one)"
        } else {
            " (a newer emrebuild's)"
        };
        return Err(DecodeError::invalid(
            8,
            "format version",
            format!("{FORMAT_VERSION} (the version this emrebuild reads)"),
            format!("{version}{older}"),
        ));
    }
    let tool_len = u16::from_le_bytes(at(12, 2, "the tool version's length")?.try_into().unwrap());
    let tool = at(TOOL_AT, usize::from(tool_len), "the tool version")?;
    let tool_version = std::str::from_utf8(tool)
        .map_err(|_| {
            DecodeError::invalid(
                TOOL_AT as u64,
                "tool version",
                "UTF-8",
                format!("{tool:02x?}"),
            )
        })?
        .to_owned();
    let tail = TOOL_AT + usize::from(tool_len);
    let body_len = u64::from_le_bytes(at(tail, 8, "the body length")?.try_into().unwrap());
    let digest = at(tail + 8, 32, "the body digest")?;
    let body_at = tail + TAIL_LEN;
    let found = bytes.len().saturating_sub(body_at) as u64;
    if found != body_len {
        let e = if found < body_len {
            DecodeError::truncated(body_at as u64, format!("a body of {body_len} bytes"), found)
        } else {
            DecodeError::invalid(
                (body_at as u64).saturating_add(body_len),
                "end of partial",
                format!("the end of the {body_len}-byte body"),
                format!("{} more bytes", found - body_len),
            )
        };
        return Err(e);
    }
    let payload = &bytes[body_at..];
    let actual = blake3::hash(payload);
    if actual.as_bytes() != digest {
        return Err(DecodeError::invalid(
            body_at as u64,
            "body digest (blake3)",
            hex(digest),
            format!("{} (the partial was changed or damaged)", actual.to_hex()),
        ));
    }
    let cbor = lz4_unpack(payload).map_err(|detail| {
        DecodeError::new(
            body_at as u64,
            DecodeKind::Decompress {
                codec: "lz4",
                detail,
            },
        )
    })?;
    let body: PartialBody = ciborium::from_reader(cbor.as_slice()).map_err(|e| {
        let (offset, detail) = match &e {
            ciborium::de::Error::Io(io) => (None, io.to_string()),
            ciborium::de::Error::Syntax(o) => (Some(*o), "CBOR syntax".to_owned()),
            ciborium::de::Error::Semantic(o, m) => (*o, m.clone()),
            ciborium::de::Error::RecursionLimitExceeded => {
                (None, "nesting deeper than the reader allows".to_owned())
            }
        };
        let detail = match offset {
            Some(o) => format!("{detail} at byte {o} of the uncompressed body"),
            None => detail,
        };
        DecodeError::invalid(body_at as u64, "body", "the facts of a node (CBOR)", detail)
    })?;
    Ok(Partial { tool_version, body })
}

/// An LZ4 block with its uncompressed size first (`lz4_flex::compress_prepend_size`), checked
/// before anything is allocated: LZ4 expands at most [`LZ4_MAX_RATIO`] times.
pub(crate) fn lz4_unpack(packed: &[u8]) -> Result<Vec<u8>, String> {
    let Some(size) = packed.get(..4) else {
        return Err(format!("{} bytes, without the 4-byte size", packed.len()));
    };
    let claimed = u32::from_le_bytes(size.try_into().unwrap()) as usize;
    if claimed > packed.len().saturating_mul(LZ4_MAX_RATIO) {
        return Err(format!(
            "{} bytes claim {claimed} bytes uncompressed (at most {LZ4_MAX_RATIO} times as many)",
            packed.len()
        ));
    }
    lz4_flex::decompress_size_prepended(packed).map_err(|e| e.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why partials cannot be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    #[error("{}: written by emrebuild {found}, this is emrebuild {expected}: scan the node again with this version", path.display())]
    ToolVersion {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("DBRoot {dbroot} of the configuration is in no partial (scan the node that holds it)")]
    MissingDbRoot { dbroot: DbRootId },
    #[error("DBRoot {dbroot} is in two partials: {} and {}", first.display(), second.display())]
    DuplicateDbRoot {
        dbroot: DbRootId,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: covers DBRoot {dbroot}, which the configuration does not name", path.display())]
    UnknownDbRoot { path: PathBuf, dbroot: DbRootId },
    #[error("{}: scanned with --string-cp {found:?}, {} with {expected:?}: scan again with one setting", path.display(), first.display())]
    StringCp {
        path: PathBuf,
        found: StringCp,
        first: PathBuf,
        expected: StringCp,
    },
    #[error("catalog facts missing: no partial covers DBRoot 1 or holds the system catalog's files (scan the node that holds DBRoot 1 and give its partial)")]
    NoCatalog,
    #[error("the system catalog's files are in two partials: {} and {}", first.display(), second.display())]
    TwoCatalogs { first: PathBuf, second: PathBuf },
    #[error("{}: planned with other catalog facts than those of {} (scan that node again with --catalog {})", path.display(), catalog.display(), catalog.display())]
    OtherCatalog { path: PathBuf, catalog: PathBuf },
}

/// Check that `partials` (path, partial) come from this tool version, cover no DBRoot twice and
/// none outside `dbroots`, that exactly one holds the catalog, that together they cover every
/// DBRoot of `dbroots`, used one string-CP setting and the catalog facts of the partial that
/// holds the catalog; then merge their facts.
pub fn assemble(
    partials: Vec<(PathBuf, Partial)>,
    dbroots: &BTreeSet<DbRootId>,
) -> Result<Facts, AssembleError> {
    for (path, p) in &partials {
        if p.tool_version != TOOL_VERSION {
            return Err(AssembleError::ToolVersion {
                path: path.clone(),
                found: p.tool_version.clone(),
                expected: TOOL_VERSION.to_owned(),
            });
        }
    }
    let mut covered: BTreeMap<DbRootId, &Path> = BTreeMap::new();
    for (path, p) in &partials {
        for id in p.body.dbroot_ids() {
            if !dbroots.contains(&id) {
                return Err(AssembleError::UnknownDbRoot {
                    path: path.clone(),
                    dbroot: id,
                });
            }
            if let Some(first) = covered.insert(id, path) {
                return Err(AssembleError::DuplicateDbRoot {
                    dbroot: id,
                    first: first.to_path_buf(),
                    second: path.clone(),
                });
            }
        }
    }
    if let Some((first, f)) = partials.first() {
        if let Some((path, p)) = partials
            .iter()
            .find(|(_, p)| p.body.string_cp != f.body.string_cp)
        {
            return Err(AssembleError::StringCp {
                path: path.clone(),
                found: p.body.string_cp,
                first: first.clone(),
                expected: f.body.string_cp,
            });
        }
    }
    let mut with_catalog = partials
        .iter()
        .filter(|(_, p)| p.body.facts.catalog.is_present());
    let Some((catalog_path, catalog_partial)) = with_catalog.next() else {
        return Err(AssembleError::NoCatalog);
    };
    if let Some((second, _)) = with_catalog.next() {
        return Err(AssembleError::TwoCatalogs {
            first: catalog_path.clone(),
            second: second.clone(),
        });
    }
    if let Some(&dbroot) = dbroots.iter().find(|d| !covered.contains_key(d)) {
        return Err(AssembleError::MissingDbRoot { dbroot });
    }
    let digest = catalog_digest(&catalog_partial.body.facts.catalog);
    if let Some((path, _)) = partials.iter().find(|(_, p)| p.body.planned_with != digest) {
        return Err(AssembleError::OtherCatalog {
            path: path.clone(),
            catalog: catalog_path.clone(),
        });
    }
    let catalog: CatalogPart = catalog_partial.body.facts.catalog.clone();
    let parts = partials.into_iter().map(|(_, p)| p.body.facts).collect();
    Ok(Facts::merge(parts, catalog))
}
