//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpus
//! (`engine/tests/fuzz_corpus.rs`): each takes arbitrary bytes and runs one decoder the way the
//! engine runs it. Errors are the expected outcome for most inputs; a panic, a hang or an
//! allocation larger than the input justifies is a bug.
//!
//! Not part of the engine's API (hidden from the docs): the targets and the corpus test must
//! run exactly the same code, so it lives here once.

use crate::catalog::syscat::syscat_layout;
use crate::catalog::tokens::{resolve_string, DictExtent};
use crate::config::ClusterConfig;
use crate::em::ExtentMap;
use crate::seg::chunk::decompress_chunk;
use crate::seg::dict::DictBlock;
use crate::seg::file::SegmentFile;
use crate::seg::header::CompressionType;
use crate::seg::token::Token;
use crate::types::{Lbid, Oid, BLOCK_SIZE};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One entry point: arbitrary bytes in, nothing out.
pub type Target = fn(&[u8]);

/// The targets, by the name of their fuzz binary and corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("extent_map", extent_map),
    ("segment_header", segment_header),
    ("chunk", chunk),
    ("dictionary", dictionary),
    ("config", config),
    ("catalog", catalog),
    ("partial", partial),
];

/// `BRM_saves_em` bytes: the reader, then the overlap check every writer applies.
pub fn extent_map(data: &[u8]) {
    if let Ok(map) = ExtentMap::parse(data) {
        let _ = crate::em::overlap::find_overlaps(&map.extents);
        let _ = map.encode(crate::em::EmVersion::V5);
    }
}

/// A whole segment file image: control header, pointer section, then every chunk decoded as the
/// scan decodes it.
pub fn segment_header(data: &[u8]) {
    if let Ok(file) = SegmentFile::from_bytes(Path::new("fuzz"), data.to_vec().into()) {
        let mut reader = crate::seg::file::ChunkReader::new();
        for c in 0..file.chunk_count().min(64) {
            let _ = file.chunk_data(c, &mut reader);
        }
    }
}

/// One chunk slot (first byte picks the compression type), decoded into a reused buffer.
pub fn chunk(data: &[u8]) {
    let Some((&pick, slot)) = data.split_first() else {
        return;
    };
    let c = [
        CompressionType::None0,
        CompressionType::Snappy1,
        CompressionType::Snappy2,
        CompressionType::Lz4,
    ][usize::from(pick % 4)];
    let mut out = Vec::new();
    if let Ok(n) = decompress_chunk(slot, c, &mut out) {
        assert!(n <= out.len());
    }
}

/// Dictionary blocks (the input padded to whole blocks) and tokens resolved through them: the
/// first 8 bytes of every 16 are taken as a token, the dictionary starting at LBID 0.
pub fn dictionary(data: &[u8]) {
    let dict = padded_blocks(data);
    for block in dict.chunks_exact(BLOCK_SIZE).take(8) {
        if let Ok(b) = DictBlock::parse(block) {
            for s in b.strings() {
                let _ = s.len();
            }
        }
    }
    let blocks = (dict.len() / BLOCK_SIZE) as u32;
    let extents = [DictExtent::single(Lbid(0), blocks)];
    for raw in data.chunks_exact(16).take(64) {
        let raw = u64::from_le_bytes(raw[..8].try_into().unwrap_or_default());
        if !Token::is_marker(raw) {
            let _ = resolve_string(&dict, &extents, Token::decode(raw));
        }
    }
}

/// `Columnstore.xml` text.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cfg) = ClusterConfig::parse(text, Path::new("/etc/columnstore")) {
            let _ = cfg.em_path();
            let _ = crate::config::check_dbroots(&cfg.dbroots);
        }
    }
}

/// System-catalog files: the input is a sequence of `[u16 OID][u16 length][bytes]` records
/// (little-endian), each becoming the file of that catalog OID (padded to whole blocks; OIDs
/// that are not catalog files are dropped by the reader), then read as a rebuild reads them,
/// with the dictionary LBIDs of the replayed layout.
pub fn catalog(data: &[u8]) {
    let mut files = BTreeMap::new();
    let mut rest = data;
    while let [o0, o1, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let oid = Oid(i32::from(u16::from_le_bytes([*o0, *o1])));
        files.insert(oid, padded_blocks(&tail[..len]));
        rest = &tail[len..];
    }
    if files.is_empty() {
        return;
    }
    let present: BTreeSet<Oid> = files.keys().copied().collect();
    let lbids: BTreeMap<Oid, Lbid> = syscat_layout(&present)
        .into_iter()
        .map(|e| (e.oid, e.lbid))
        .collect();
    let files: BTreeMap<Oid, (PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|(oid, bytes)| (oid, (PathBuf::from(format!("oid{oid}")), bytes)))
        .collect();
    let loaded = crate::catalog::LoadedCatalog::from_memory(files);
    let _ = crate::catalog::reader::read_loaded_catalog(&loaded, &lbids);
}

fn padded_blocks(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(BLOCK_SIZE).max(1) * BLOCK_SIZE, 0);
    v
}

/// A node's partial: the bytes as a whole file, then as the body of a partial with a valid
/// header and digest (reaching the LZ4 decoder), then LZ4-compressed as that body (reaching the
/// CBOR decoder of the facts); a digest mismatch stops the first pass early.
pub fn partial(data: &[u8]) {
    use crate::rebuild::partial::parse;
    let _ = parse(data);
    let _ = parse(&wrap_partial_body(data));
    let _ = parse(&wrap_partial_body(&lz4_flex::compress_prepend_size(data)));
}

/// `body` behind a valid partial header and digest.
pub fn wrap_partial_body(body: &[u8]) -> Vec<u8> {
    use crate::rebuild::partial::{FORMAT_VERSION, MAGIC, TOOL_VERSION};
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(TOOL_VERSION.len() as u16).to_le_bytes());
    out.extend_from_slice(TOOL_VERSION.as_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(body).as_bytes());
    out.extend_from_slice(body);
    out
}
