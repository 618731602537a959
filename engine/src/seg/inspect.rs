//! A description of one segment file for `emrebuild inspect`: identity from the path, the
//! control header, and every chunk with its sizes and checksum state.
//!
//! A damaged chunk is part of the report (with its error), not a failure; a path that is not a
//! segment-file name, or a header or pointer section that cannot be decoded, is an [`Error`].

use crate::error::Error;
use crate::seg::chunk::{checksum, ChunkHeader, CHUNK_HEADER_LEN};
use crate::seg::file::{decode_slot, Access, ChunkReader, Layout, SegmentFile};
use crate::seg::header::ControlHeader;
use crate::seg::path::parse_segment_path;
use serde::Serialize;
use std::path::Path;

/// What `inspect` reports about one file.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    /// The path as given.
    pub path: String,
    pub oid: i32,
    pub partition: u32,
    pub segment: u16,
    pub compressed: bool,
    /// Size of the file in bytes.
    pub file_len: u64,
    /// Blocks allocated: the header's block count, or size ÷ 8192.
    pub blocks: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<ChunkReport>>,
}

/// The control header of a compressed file.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderReport {
    pub version: u64,
    /// `none`, `snappy` or `lz4`.
    pub compression: &'static str,
    pub compression_code: u64,
    pub header_size: u64,
    pub block_count: u64,
    pub width: u64,
    /// Type name (`INT`, `VARCHAR`, …), or `unknown (<code>)`.
    pub data_type: String,
    pub data_type_code: i32,
    pub lbids: Vec<i64>,
}

/// One chunk of a compressed file.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkReport {
    pub index: u32,
    /// File offset of the chunk.
    pub offset: u64,
    /// Bytes from this chunk's pointer to the next (header, payload, padding).
    pub slot_size: u64,
    /// Payload bytes, from the chunk header (`null` if the header is unreadable).
    pub compressed_size: Option<u64>,
    /// Decompressed bytes (`null` if the chunk does not decode).
    pub uncompressed_size: Option<u64>,
    /// Whether the stored checksum matches the payload.
    pub checksum_ok: bool,
    /// Why the chunk cannot be read, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&ControlHeader> for HeaderReport {
    fn from(h: &ControlHeader) -> Self {
        HeaderReport {
            version: h.version,
            compression: h.compression.name(),
            compression_code: h.compression.code(),
            header_size: h.header_size,
            block_count: h.block_count,
            width: h.width,
            data_type: match h.data_type_enum() {
                Some(dt) => dt.name().to_string(),
                None => format!("unknown ({})", h.data_type),
            },
            data_type_code: h.data_type,
            lbids: h.lbids.clone(),
        }
    }
}

/// Inspect the segment file at `path`, brought into memory with `access`.
pub fn inspect(path: &Path, access: Access) -> Result<InspectReport, Error> {
    let id = parse_segment_path(path).map_err(|reason| Error::NotSegmentFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    })?;
    let file = SegmentFile::open(path, access)?;
    let mut report = InspectReport {
        path: path.display().to_string(),
        oid: id.oid.0,
        partition: id.partition,
        segment: id.segment,
        compressed: file.is_compressed(),
        file_len: file.file_len(),
        blocks: file.allocated_blocks(),
        header: None,
        chunks: None,
    };
    if let Layout::Compressed { header, chunks } = file.layout() {
        report.header = Some(header.into());
        let mut scratch = Vec::new();
        let mut reader = ChunkReader::new();
        let list = chunks
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let raw = match file.raw_slot(i as u32, &mut reader) {
                    Ok(raw) => raw,
                    Err(e) => {
                        return ChunkReport {
                            index: i as u32,
                            offset: slot.offset,
                            slot_size: slot.len,
                            compressed_size: None,
                            uncompressed_size: None,
                            checksum_ok: false,
                            error: Some(e.to_string()),
                        }
                    }
                };
                let head = ChunkHeader::parse(raw).ok();
                let payload = head
                    .and_then(|h| raw.get(CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + h.length as usize));
                let checksum_ok = match (head, payload) {
                    (Some(h), Some(p)) => checksum(p) == h.checksum,
                    _ => false,
                };
                let decoded = decode_slot(raw, slot.len, header.compression, &mut scratch)
                    .map_err(|e| e.shifted(slot.offset).to_string());
                ChunkReport {
                    index: i as u32,
                    offset: slot.offset,
                    slot_size: slot.len,
                    compressed_size: head.map(|h| u64::from(h.length)),
                    uncompressed_size: decoded.as_ref().ok().map(|&n| n as u64),
                    checksum_ok,
                    error: decoded.err(),
                }
            })
            .collect();
        report.chunks = Some(list);
    }
    Ok(report)
}
