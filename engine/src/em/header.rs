//! The 12-byte header of `BRM_saves_em` and the format versions (EM §1.1, §1.2, §1.6).
//!
//! | off | size | type | field | notes |
//! |-----|------|------|-------|-------|
//! | 0   | 4    | u32  | magic | `0x76F78B1F` (V4, `1f 8b f7 76`) or `0x76F78B20` (V5, `20 8b f7 76`) |
//! | 4   | 4    | u32  | nEM   | extent records that follow; ColumnStore refuses 0 |
//! | 8   | 4    | u32  | nFL   | free-list slots after the records, empty ones included (a multiple of 50) |
//!
//! The whole file is `[header][nEM × record][nFL × 16-byte free-list slot]`, with records of
//! [`EmVersion::record_len`] bytes (64 for V4, 96 for V5) and no trailer. All magic numbers,
//! sizes and versions of the format live in this module.
//!
//! ```
//! use emengine::em::{EmHeader, EmVersion};
//! let bytes = [0x20, 0x8b, 0xf7, 0x76, 41, 0, 0, 0, 50, 0, 0, 0];
//! let h = EmHeader::parse(&bytes).unwrap();
//! assert_eq!(h, EmHeader { version: EmVersion::V5, n_extents: 41, n_free: 50 });
//! assert_eq!(h.encode(), bytes);
//! ```

use crate::cursor::Cursor;
use crate::error::{DecodeError, DecodeKind};

/// `EM_MAGIC_V4`: loadable by every release, written before MCOL-641.
pub const EM_MAGIC_V4: u32 = 0x76F7_8B1F;
/// `EM_MAGIC_V5`: the only version HEAD writes.
pub const EM_MAGIC_V5: u32 = 0x76F7_8B20;
/// Bytes in the header.
pub const HEADER_LEN: usize = 12;
/// Bytes in one V4 extent record (`EMEntry_v4`).
pub const RECORD_LEN_V4: usize = 64;
/// Bytes in one V5 extent record (`EMEntry`).
pub const RECORD_LEN_V5: usize = 96;
/// Bytes in one free-list slot (`InlineLBIDRange`).
pub const FREE_SLOT_LEN: usize = 16;
/// The free list is allocated (and grows) in blocks of this many slots
/// (`EM_FREELIST_INITIAL_SIZE` / `EM_FREELIST_INCREMENT`).
pub const FREE_LIST_GROWTH: usize = 50;

/// A format version of the extent-map save file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EmVersion {
    /// `EM_MAGIC_V4`: 64-byte records, 64-bit CP values, hi before lo.
    V4,
    /// `EM_MAGIC_V5`: 96-byte records, 128-bit CP values, lo before hi.
    #[default]
    V5,
}

impl EmVersion {
    /// The magic number that starts a file of this version.
    pub fn magic(self) -> u32 {
        match self {
            EmVersion::V4 => EM_MAGIC_V4,
            EmVersion::V5 => EM_MAGIC_V5,
        }
    }

    /// Bytes in one extent record of this version.
    pub fn record_len(self) -> usize {
        match self {
            EmVersion::V4 => RECORD_LEN_V4,
            EmVersion::V5 => RECORD_LEN_V5,
        }
    }

    /// The version number as ColumnStore names it (4 or 5).
    pub fn number(self) -> u32 {
        match self {
            EmVersion::V4 => 4,
            EmVersion::V5 => 5,
        }
    }

    /// The version whose magic is `magic`, if it is a loadable one.
    pub fn from_magic(magic: u32) -> Option<Self> {
        match magic {
            EM_MAGIC_V4 => Some(EmVersion::V4),
            EM_MAGIC_V5 => Some(EmVersion::V5),
            _ => None,
        }
    }

    /// The version called `n` (4 or 5).
    pub fn from_number(n: u32) -> Option<Self> {
        match n {
            4 => Some(EmVersion::V4),
            5 => Some(EmVersion::V5),
            _ => None,
        }
    }
}

/// The decoded header: version and the two counts, as stored (not yet checked against the file size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmHeader {
    pub version: EmVersion,
    /// nEM.
    pub n_extents: u32,
    /// nFL.
    pub n_free: u32,
}

impl EmHeader {
    /// Decode the first 12 bytes of `bytes`. Unknown magic → [`DecodeKind::BadMagic`] at 0.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut c = Cursor::new(bytes);
        let magic = c.u32("extent-map magic")?;
        let version = EmVersion::from_magic(magic).ok_or_else(|| {
            DecodeError::new(
                0,
                DecodeKind::BadMagic {
                    expected: format!(
                        "{EM_MAGIC_V4:#010x} (version 4) or {EM_MAGIC_V5:#010x} (version 5)"
                    ),
                    found: format!("{magic:#010x}"),
                },
            )
        })?;
        let n_extents = c.u32("extent count (nEM)")?;
        let n_free = c.u32("free-list count (nFL)")?;
        Ok(Self {
            version,
            n_extents,
            n_free,
        })
    }

    /// The 12 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.version.magic().to_le_bytes());
        out[4..8].copy_from_slice(&self.n_extents.to_le_bytes());
        out[8..12].copy_from_slice(&self.n_free.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_magic_names_the_value() {
        let err = EmHeader::parse(&[0x1e, 0x8b, 0xf7, 0x76, 1, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err.offset, 0);
        assert_eq!(
            err.to_string(),
            "at byte 0: bad magic: expected 0x76f78b1f (version 4) or 0x76f78b20 (version 5), \
             found 0x76f78b1e"
        );
    }

    #[test]
    fn short_header_is_truncation_at_its_offset() {
        let err = EmHeader::parse(&[0x20, 0x8b, 0xf7, 0x76, 1, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err.offset, 8);
        assert!(
            matches!(err.kind, DecodeKind::Truncated { found: 1, .. }),
            "{err}"
        );
    }
}
