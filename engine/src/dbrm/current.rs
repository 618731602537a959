//! `BRM_saves_current`: the one-line file naming the save-file prefix ColumnStore loads (EM §4.3).
//!
//! | bytes | content |
//! |---|---|
//! | 0..n | the prefix: `BRM_saves`, `BRM_savesA` or `BRM_savesB` (the last path component of the prefix) |
//! | n | `\n` |
//!
//! Since MCOL-1558 (2018) both writers store the name relative to the DBRMRoot folder:
//! `save_brm` writes `BRM_saves\n` (versioning/BRM/save_brm.cpp:97-100) and the first worker's
//! snapshot writes `BRM_savesA\n` / `BRM_savesB\n` (versioning/BRM/slavecomm.cpp:1942-1949).
//! Older releases wrote the whole prefix, an absolute path, plus `\n`
//! (`86c64d6dc^:versioning/BRM/save_brm.cpp:101-103`, `86c64d6dc^:versioning/BRM/slavecomm.cpp:2033-2041`).
//! The loader runs `load_brm <DBRMRoot folder>/<this name>` (oam/install_scripts/mcs-loadbrm.py.in:362,
//! 414-431), so the name decides which `_em`, `_vbbm` and `_vss` are loaded; the journal is always
//! `<base>_journal`, the `A`/`B` being dropped (versioning/BRM/slavecomm.cpp:2090-2112).
//!
//! ```
//! use emengine::dbrm::current::{Current, Slot};
//! let c = Current::parse(b"BRM_savesB\n", "BRM_saves").unwrap();
//! assert_eq!(c.slot, Slot::B);
//! assert_eq!(Current::encode(Slot::Base, "BRM_saves"), b"BRM_saves\n");
//! let old = Current::parse(b"/var/lib/columnstore/data1/systemFiles/dbrm/BRM_savesA\n", "BRM_saves").unwrap();
//! assert_eq!(old.slot, Slot::A);
//! assert_eq!(old.absolute_dir.unwrap().to_str(), Some("/var/lib/columnstore/data1/systemFiles/dbrm"));
//! ```

use crate::error::DecodeError;
use serde::Serialize;
use std::path::PathBuf;

/// Which save set a `_current` file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Slot {
    /// `<base>` itself, as `save_brm` writes it.
    Base,
    /// `<base>A`, a worker snapshot.
    A,
    /// `<base>B`, a worker snapshot.
    B,
}

impl Slot {
    /// The prefix name for this slot: `BRM_saves`, `BRM_savesA`, `BRM_savesB`.
    pub fn prefix(self, base: &str) -> String {
        match self {
            Slot::Base => base.to_string(),
            Slot::A => format!("{base}A"),
            Slot::B => format!("{base}B"),
        }
    }
}

/// A decoded `_current` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Current {
    /// The save set it names.
    pub slot: Slot,
    /// The folder of an absolute prefix (releases before MCOL-1558); `None` for the relative form.
    pub absolute_dir: Option<PathBuf>,
}

impl Current {
    /// Decode the file's bytes; `base` is the last component of DBRMRoot (`BRM_saves`).
    pub fn parse(bytes: &[u8], base: &str) -> Result<Self, DecodeError> {
        let line_len = bytes.iter().position(|&b| b == b'\n');
        let line = &bytes[..line_len.unwrap_or(bytes.len())];
        if let Some(n) = line_len {
            if n + 1 < bytes.len() {
                return Err(DecodeError::invalid(
                    n as u64 + 1,
                    "BRM_saves_current",
                    "one line",
                    format!("{} more bytes after the first line", bytes.len() - n - 1),
                ));
            }
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            DecodeError::invalid(
                e.valid_up_to() as u64,
                "prefix",
                "UTF-8 text",
                "other bytes",
            )
        })?;
        if text.is_empty() {
            return Err(DecodeError::invalid(
                0,
                "prefix",
                "a prefix name",
                "an empty line",
            ));
        }
        let (dir, name) = match text.rfind('/') {
            Some(i) => (
                Some(PathBuf::from(if i == 0 { "/" } else { &text[..i] })),
                &text[i + 1..],
            ),
            None => (None, text),
        };
        let slot = if name == base {
            Slot::Base
        } else if name == format!("{base}A") {
            Slot::A
        } else if name == format!("{base}B") {
            Slot::B
        } else {
            return Err(DecodeError::invalid(
                (text.len() - name.len()) as u64,
                "prefix",
                format!("{base}, {base}A or {base}B"),
                format!("{name:?}"),
            ));
        };
        Ok(Self {
            slot,
            absolute_dir: dir,
        })
    }

    /// The bytes `save_brm` writes for `slot`: the relative name and `\n`.
    pub fn encode(slot: Slot, base: &str) -> Vec<u8> {
        format!("{}\n", slot.prefix(base)).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_as_the_writers_store_them() {
        for (bytes, slot) in [
            (&b"BRM_saves\n"[..], Slot::Base),
            (b"BRM_savesA\n", Slot::A),
            (b"BRM_savesB\n", Slot::B),
            (b"BRM_savesB", Slot::B),
        ] {
            let c = Current::parse(bytes, "BRM_saves").unwrap();
            assert_eq!(c.slot, slot);
            assert_eq!(c.absolute_dir, None);
        }
    }

    #[test]
    fn bad_contents_name_the_offset() {
        let e = Current::parse(b"BRM_savesC\n", "BRM_saves").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.to_string().contains("\"BRM_savesC\""), "{e}");
        let e = Current::parse(b"/x/BRM_savesZ\n", "BRM_saves").unwrap_err();
        assert_eq!(e.offset, 3);
        let e = Current::parse(b"BRM_saves\nBRM_savesA\n", "BRM_saves").unwrap_err();
        assert_eq!(e.offset, 10);
        let e = Current::parse(b"\n", "BRM_saves").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
