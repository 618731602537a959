//! `BRM_saves_journal`: the changes `load_brm` replays after loading a snapshot (EM §4.4).
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | u32 LE `len` |
//! | 4..4+len | one serialized DBRM request, starting with its u8 opcode |
//!
//! repeated to the end of the file, no header (versioning/BRM/slavecomm.cpp:2182-2198). Only the
//! framing is checked here: a file that ends inside a record was being appended to when it was read.
//!
//! ```
//! use emengine::dbrm::journal::count_records;
//! assert_eq!(count_records(&[]).unwrap(), 0);
//! assert_eq!(count_records(&[1, 0, 0, 0, 17, 2, 0, 0, 0, 29, 1]).unwrap(), 2);
//! assert_eq!(count_records(&[2, 0, 0, 0, 29]).unwrap_err().offset, 0);
//! ```

use crate::error::DecodeError;

/// Number of whole records; an error at the offset of a record that does not fit.
pub fn count_records(bytes: &[u8]) -> Result<usize, DecodeError> {
    let mut at = 0usize;
    let mut n = 0;
    while at < bytes.len() {
        let rest = bytes.len() - at;
        let Some(len) = bytes.get(at..at + 4) else {
            return Err(DecodeError::truncated(
                at as u64,
                "a 4-byte record length",
                rest as u64,
            ));
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len > rest - 4 {
            return Err(DecodeError::truncated(
                at as u64,
                format!("a journal record of 4 + {len} bytes"),
                rest as u64,
            ));
        }
        at += 4 + len;
        n += 1;
    }
    Ok(n)
}
