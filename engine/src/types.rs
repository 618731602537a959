//! ColumnStore's identities and geometry constants, named as ColumnStore names them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Bytes in one block (`BLOCK_SIZE`).
pub const BLOCK_SIZE: usize = 8192;
/// Rows in one column extent (hard-wired `ExtentRows`).
pub const EXTENT_ROWS: u64 = 8 * 1024 * 1024;
/// Rows materialised on disk for an abbreviated first extent (`INITIAL_EXTENT_ROWS_TO_DISK`).
pub const ABBREVIATED_ROWS: u64 = 256 * 1024;
/// Blocks in one dictionary-store extent (pseudo width 8).
pub const DICT_EXTENT_BLOCKS: u32 = 8192;
/// Blocks in an abbreviated dictionary extent.
pub const DICT_ABBREVIATED_BLOCKS: u32 = 256;
/// Column extents in one column segment file (`DEFAULT_EXTENTS_PER_SEGMENT_FILE`).
pub const EXTENTS_PER_SEGMENT_FILE: u32 = 2;
/// Blocks in one compression chunk (4 MiB uncompressed).
pub const BLOCKS_PER_CHUNK: u32 = 512;
/// Uncompressed bytes in one compression chunk.
pub const CHUNK_BYTES: usize = BLOCKS_PER_CHUNK as usize * BLOCK_SIZE;
/// LBIDs are allocated in units of this many blocks (`range.size` counts these units).
pub const LBID_UNIT: i64 = 1024;
/// The LBID space holds 2^36 blocks = 2^26 units.
pub const LBID_SPACE_UNITS: u32 = 1 << 26;
/// First OID of user objects (`OIDManager/FirstOID` default).
pub const FIRST_USER_OID: i32 = 3000;

/// Logical block id: the global number of one 8192-byte block.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Lbid(pub i64);

/// Object id of a column or dictionary store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Oid(pub i32);

/// DBRoot id (starts at 1; ids may have gaps).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct DbRootId(pub u16);

impl Oid {
    /// System-catalog objects have OIDs below [`FIRST_USER_OID`].
    pub fn is_system_catalog(self) -> bool {
        self.0 < FIRST_USER_OID
    }
}

impl fmt::Display for Lbid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl fmt::Display for DbRootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which segment file: one OID's data in one partition, as one segment number.
/// The DBRoot is not part of the identity; a segment file lives on exactly one DBRoot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SegmentId {
    pub oid: Oid,
    pub partition: u32,
    pub segment: u16,
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "oid {} partition {} segment {}",
            self.oid, self.partition, self.segment
        )
    }
}

/// Where an extent's data lives: (oid, dbroot, partition, segment, block offset). Extents of
/// two maps, of a map and the data, and every finding about an extent are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExtentAddress {
    pub oid: Oid,
    pub dbroot: DbRootId,
    pub partition: u32,
    pub segment: u16,
    /// The extent's first block in its segment file (a multiple of the extent's block count).
    pub block_offset: u32,
}

impl ExtentAddress {
    /// The segment file this extent lives in.
    pub fn segment_id(self) -> SegmentId {
        SegmentId {
            oid: self.oid,
            partition: self.partition,
            segment: self.segment,
        }
    }
}

impl fmt::Display for ExtentAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "oid {} dbroot {} partition {} segment {} fbo {}",
            self.oid, self.dbroot, self.partition, self.segment, self.block_offset
        )
    }
}

/// Blocks in one column extent of storage width `width` (1, 2, 4, 8, 16); 0 means dictionary.
pub fn extent_blocks(width: u16) -> u32 {
    if width == 0 {
        DICT_EXTENT_BLOCKS
    } else {
        (EXTENT_ROWS * u64::from(width) / BLOCK_SIZE as u64) as u32
    }
}

/// The most blocks one column segment file of storage width `width` (1 to 16) can hold:
/// [`EXTENTS_PER_SEGMENT_FILE`] extents (SEG §2.1; `extentmap.cpp:2971-2986`). Dictionary store
/// files have no such limit (SEG §2.1: a new dictionary extent is always appended to the same
/// file), so there is none for width 0.
pub fn max_column_file_blocks(width: u16) -> Option<u64> {
    (width > 0).then(|| u64::from(EXTENTS_PER_SEGMENT_FILE) * u64::from(extent_blocks(width)))
}

/// `range.size` (1024-block units) of one extent of storage width `width` (0 = dictionary).
pub fn extent_units(width: u16) -> u32 {
    extent_blocks(width) / LBID_UNIT as u32
}
