//! Empty `_vbbm` and `_vss` images: what "empty the version buffer files" must write (EM §4.5).
//!
//! The documented recovery truncates both files to zero bytes, but at HEAD a zero-byte file does
//! not load: `VBBM::load` throws "failed to read magic" when fewer than 4 bytes come back
//! (versioning/BRM/vbbm.cpp:1034-1039) and `VSS::load` "Failed to read header" below 8 bytes
//! (versioning/BRM/vss.cpp:1372-1378), and `load_brm` then stops (versioning/BRM/load_brm.cpp:87-93).
//! What ColumnStore itself saves for an empty VBBM and VSS is the bare header with no entries
//! (vbbm.cpp:1071-1075; vss.cpp:1270-1272): 12 and 8 bytes, the sizes seen on real nodes for
//! `BRM_savesA_vbbm` / `BRM_savesA_vss`. Those images are written here.
//!
//! | file | bytes |
//! |---|---|
//! | `_vbbm` | u32 magic `0x1FB58C7A` (V2) · i32 entries 0 · i32 version-buffer files 0 |
//! | `_vss` | i32 magic `0x7218DB12` · i32 entries 0 |
//!
//! ```
//! use emengine::dbrm::versioning::{EMPTY_VBBM, EMPTY_VSS};
//! assert_eq!(EMPTY_VBBM, [0x7a, 0x8c, 0xb5, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0]);
//! assert_eq!(EMPTY_VSS, [0x12, 0xdb, 0x18, 0x72, 0, 0, 0, 0]);
//! ```

/// VBBM magic, version 2 (versioning/BRM/vbbm.cpp:58).
pub const VBBM_MAGIC_V2: u32 = 0x1FB5_8C7A;
/// VSS magic (versioning/BRM/vss.cpp:49).
pub const VSS_MAGIC: u32 = 0x7218_DB12;

/// A VBBM with no entries and no version-buffer files.
pub const EMPTY_VBBM: [u8; 12] = {
    let m = VBBM_MAGIC_V2.to_le_bytes();
    [m[0], m[1], m[2], m[3], 0, 0, 0, 0, 0, 0, 0, 0]
};

/// A VSS with no entries.
pub const EMPTY_VSS: [u8; 8] = {
    let m = VSS_MAGIC.to_le_bytes();
    [m[0], m[1], m[2], m[3], 0, 0, 0, 0]
};
