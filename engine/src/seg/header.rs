//! The control header of a compressed segment file: the first 4096 bytes (SEG §3.2–3.3).
//!
//! | off | size | field | v2 | v3 |
//! |---|---|---|---|---|
//! | 0 | u64 | magic `0xFDC119A384D0778E` (`8e 77 d0 84 a3 19 c1 fd`) | ✓ | ✓ |
//! | 8 | u64 | version | 2 | 3 |
//! | 16 | u64 | compression type (0 none, 1/2 snappy, 3 LZ4) | ✓ | ✓ |
//! | 24 | u64 | header size: control + pointer section (8192 for columns) | ✓ | ✓ |
//! | 32 | u64 | block count (uncompressed blocks allocated) | ✓ | ✓ |
//! | 40 | u64 | column width (0 for dictionary files) | 0 | ✓ |
//! | 48 | i32 | column data type (`ColDataType`) | 0 | ✓ |
//! | 52 | 4 | padding | 0 | 0 |
//! | 56 | u64 | LBID count (≤ 48) | 0 | ✓ |
//! | 64 | i64\[48\] | starting LBID of each extent of the file | 0 | ✓ |
//! | 448 | 3648 | zero | | |
//!
//! A v2 header carries only bytes 0–39; its width, type and LBIDs read as 0 / empty.
//!
//! ```
//! use emengine::seg::header::{CompressionType, ControlHeader};
//! let mut block = [0u8; 4096];
//! block[..40].copy_from_slice(&[
//!     0x8e, 0x77, 0xd0, 0x84, 0xa3, 0x19, 0xc1, 0xfd, // magic
//!     2, 0, 0, 0, 0, 0, 0, 0, // version 2
//!     2, 0, 0, 0, 0, 0, 0, 0, // snappy
//!     0, 0x20, 0, 0, 0, 0, 0, 0, // header size 8192
//!     0, 4, 0, 0, 0, 0, 0, 0, // 1024 blocks
//! ]);
//! assert!(ControlHeader::is_compressed(&block));
//! let h = ControlHeader::parse(&block).unwrap();
//! assert_eq!((h.version, h.compression, h.header_size, h.block_count), (2, CompressionType::Snappy2, 8192, 1024));
//! assert_eq!(h.encode(), block);
//! ```

use crate::cursor::Cursor;
use crate::error::{DecodeError, DecodeKind};
use crate::seg::datatype::ColDataType;
use std::fmt;

/// Magic number at byte 0 of every compressed segment file.
pub const MAGIC: u64 = 0xFDC1_19A3_84D0_778E;
/// Bytes of the control header proper.
pub const CONTROL_LEN: usize = 4096;
/// Header size of every column file (control + one 4096-byte pointer block).
pub const COLUMN_HEADER_SIZE: u64 = 8192;
/// Entries of the v3 LBID array (`LBID_MAX_SIZE`).
pub const MAX_LBIDS: usize = 48;

/// The header's compression type (SEG §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// 0: "uncompressed"; never found in a file with a header. Chunks are read as snappy, as
    /// PrimProc does for unknown types.
    None0,
    /// 1: snappy raw blocks (SQL type 1 is rewritten to 2).
    Snappy1,
    /// 2: snappy raw blocks, the usual type.
    Snappy2,
    /// 3: LZ4 raw blocks.
    Lz4,
}

impl CompressionType {
    /// The on-disk code.
    pub fn code(self) -> u64 {
        match self {
            CompressionType::None0 => 0,
            CompressionType::Snappy1 => 1,
            CompressionType::Snappy2 => 2,
            CompressionType::Lz4 => 3,
        }
    }

    /// The type with this code; `None` above 3.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(CompressionType::None0),
            1 => Some(CompressionType::Snappy1),
            2 => Some(CompressionType::Snappy2),
            3 => Some(CompressionType::Lz4),
            _ => None,
        }
    }

    /// The codec that decodes chunks: `"snappy"` or `"lz4"`.
    pub fn codec(self) -> &'static str {
        match self {
            CompressionType::Lz4 => "lz4",
            _ => "snappy",
        }
    }

    /// A short name: `none`, `snappy`, `lz4`.
    pub fn name(self) -> &'static str {
        match self {
            CompressionType::None0 => "none",
            CompressionType::Snappy1 | CompressionType::Snappy2 => "snappy",
            CompressionType::Lz4 => "lz4",
        }
    }
}

impl fmt::Display for CompressionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// The decoded control header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlHeader {
    /// 2 or 3.
    pub version: u64,
    pub compression: CompressionType,
    /// Bytes of control header plus pointer section; chunk 0 starts here.
    pub header_size: u64,
    /// Uncompressed blocks allocated to the file (not necessarily written).
    pub block_count: u64,
    /// Storage width (v3; 0 for dictionary files and v2 headers).
    pub width: u64,
    /// Raw `ColDataType` code (v3; 0 in v2 headers).
    pub data_type: i32,
    /// The first `lbid_count` entries of the LBID array (v3; empty in v2), at most 48.
    pub lbids: Vec<i64>,
}

impl ControlHeader {
    /// Whether `first_bytes` (the start of a file) begin with the compressed-file magic.
    pub fn is_compressed(first_bytes: &[u8]) -> bool {
        first_bytes
            .get(..8)
            .is_some_and(|m| m == MAGIC.to_le_bytes())
    }

    /// The data type, if the code is a known one.
    pub fn data_type_enum(&self) -> Option<ColDataType> {
        ColDataType::from_code(self.data_type)
    }

    /// Bytes of the pointer section (`header_size − 4096`).
    pub fn pointer_section_len(&self) -> u64 {
        self.header_size.saturating_sub(CONTROL_LEN as u64)
    }

    /// Decode the control header from the start of a file. Only the bytes the version uses
    /// are read (40 for v2, 64 + 8 × LBID count for v3); offsets in errors are file offsets.
    pub fn parse(block: &[u8]) -> Result<Self, DecodeError> {
        let mut c = Cursor::new(block);
        let magic = c.u64("magic")?;
        if magic != MAGIC {
            return Err(DecodeError::new(
                0,
                DecodeKind::BadMagic {
                    expected: format!("{MAGIC:#018x}"),
                    found: format!("{magic:#018x}"),
                },
            ));
        }
        let version = c.u64("version")?;
        if !(2..=3).contains(&version) {
            return Err(DecodeError::invalid(8, "header version", "2 or 3", version));
        }
        let code = c.u64("compression type")?;
        let compression = CompressionType::from_code(code)
            .ok_or_else(|| DecodeError::invalid(16, "compression type", "0, 1, 2 or 3", code))?;
        let header_size = c.u64("header size")?;
        if header_size < COLUMN_HEADER_SIZE || !header_size.is_multiple_of(CONTROL_LEN as u64) {
            return Err(DecodeError::invalid(
                24,
                "header size",
                "a multiple of 4096, at least 8192",
                header_size,
            ));
        }
        let block_count = c.u64("block count")?;
        let mut h = ControlHeader {
            version,
            compression,
            header_size,
            block_count,
            width: 0,
            data_type: 0,
            lbids: Vec::new(),
        };
        if version >= 3 {
            h.width = c.u64("column width")?;
            h.data_type = c.i32("column data type")?;
            c.skip(4, "padding")?;
            let count = c.u64("LBID count")?;
            if count > MAX_LBIDS as u64 {
                return Err(DecodeError::invalid(56, "LBID count", "at most 48", count));
            }
            h.lbids.reserve_exact(count as usize);
            for _ in 0..count {
                h.lbids.push(c.i64("LBID")?);
            }
        }
        Ok(h)
    }

    /// The 4096-byte control header. Version 2 writes zeros from byte 40; version 3 writes at
    /// most 48 LBIDs.
    pub fn encode(&self) -> [u8; CONTROL_LEN] {
        let mut b = [0u8; CONTROL_LEN];
        let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
        put(0, &MAGIC.to_le_bytes());
        put(8, &self.version.to_le_bytes());
        put(16, &self.compression.code().to_le_bytes());
        put(24, &self.header_size.to_le_bytes());
        put(32, &self.block_count.to_le_bytes());
        if self.version >= 3 {
            put(40, &self.width.to_le_bytes());
            put(48, &self.data_type.to_le_bytes());
            let lbids = &self.lbids[..self.lbids.len().min(MAX_LBIDS)];
            put(56, &(lbids.len() as u64).to_le_bytes());
            for (i, lbid) in lbids.iter().enumerate() {
                put(64 + 8 * i, &lbid.to_le_bytes());
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v3() -> ControlHeader {
        ControlHeader {
            version: 3,
            compression: CompressionType::Lz4,
            header_size: 16384,
            block_count: 8192,
            width: 8,
            data_type: ColDataType::BigInt.code(),
            lbids: vec![242688, 250880],
        }
    }

    #[test]
    fn v3_layout() {
        let b = v3().encode();
        assert_eq!(&b[..8], &[0x8e, 0x77, 0xd0, 0x84, 0xa3, 0x19, 0xc1, 0xfd]);
        assert_eq!(b[8], 3);
        assert_eq!(b[16], 3);
        assert_eq!(&b[24..26], &[0x00, 0x40]);
        assert_eq!(b[40], 8);
        assert_eq!(b[48], 9);
        assert_eq!(b[56], 2);
        assert_eq!(i64::from_le_bytes(b[72..80].try_into().unwrap()), 250880);
        assert!(b[80..].iter().all(|&x| x == 0));
        assert_eq!(ControlHeader::parse(&b).unwrap(), v3());
    }

    #[test]
    fn errors_name_field_offsets() {
        let good = v3().encode();
        let set = |off: usize, v: u64| {
            let mut b = good;
            b[off..off + 8].copy_from_slice(&v.to_le_bytes());
            ControlHeader::parse(&b).unwrap_err()
        };
        assert!(matches!(set(0, 7).kind, DecodeKind::BadMagic { .. }));
        assert_eq!(set(8, 4).offset, 8);
        assert_eq!(set(16, 4).offset, 16);
        assert_eq!(set(24, 4096).offset, 24);
        assert_eq!(set(24, 8200).offset, 24);
        assert_eq!(set(56, 49).offset, 56);
        let e = ControlHeader::parse(&good[..70]).unwrap_err();
        assert_eq!(e.offset, 64);
        assert!(matches!(e.kind, DecodeKind::Truncated { .. }));
    }
}
