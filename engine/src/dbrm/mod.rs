//! The BRM save files in the DBRMRoot folder, and what ColumnStore loads from them (EM §4).
//!
//! | module | what |
//! |---|---|
//! | [`current`] | `BRM_saves_current`: which prefix is loaded (`BRM_saves`, `BRM_savesA`, `BRM_savesB`) |
//! | [`versioning`] | the empty `_vbbm` / `_vss` images written when a map is installed |
//! | [`install`] | putting a map in place so that ColumnStore loads exactly it; crash-safe, resumable |
//! | [`owner`] | `USER:GROUP` resolution and `chown` |
//! | [`procs`] | the ColumnStore daemons running on this node |
//!
//! At start-up `load_brm <folder>/<name in _current>` loads `<name>_em`, `<name>_vbbm`, `<name>_vss`
//! (versioning/BRM/blockresolutionmanager.cpp:128-145) and then replays `<base>_journal` on top
//! (versioning/BRM/load_brm.cpp:87-101; slavecomm.cpp:2090-2162). That set, plus `_current` and
//! `oidbitmap` (the OID allocator, same folder), is the save set a backup copies.

pub mod current;
pub mod install;
pub mod journal;
pub mod owner;
pub mod procs;
pub mod versioning;

use crate::error::{Error, Result};
use current::{Current, Slot};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The DBRMRoot folder and the base name of its prefix (`BRM_saves`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbrmFolder {
    /// The folder holding the save files.
    pub dir: PathBuf,
    /// The last component of DBRMRoot.
    pub base: String,
}

/// The role of one file of a save set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `<base>_current`.
    Current,
    /// `<prefix>_em`, the extent map.
    Em,
    /// `<prefix>_vbbm`.
    Vbbm,
    /// `<prefix>_vss`.
    Vss,
    /// `<base>_journal`, replayed after the snapshot.
    Journal,
    /// `oidbitmap`, the OID allocator.
    OidBitmap,
}

/// One file of the save set ColumnStore would load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaveFile {
    /// What it is.
    pub role: Role,
    /// Its name in the folder.
    pub name: String,
    /// Whether it exists.
    pub present: bool,
}

/// The save set `_current` selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaveSet {
    /// The decoded `_current`.
    pub current: Current,
    /// Every file, in the order [`Role`] lists them.
    pub files: Vec<SaveFile>,
}

impl SaveSet {
    /// The name of the file with `role`.
    pub fn name(&self, role: Role) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.role == role)
            .map(|f| f.name.as_str())
    }
}

impl DbrmFolder {
    /// From the DBRMRoot prefix (`.../systemFiles/dbrm/BRM_saves`).
    pub fn from_prefix(prefix: &Path) -> Result<Self> {
        let base = prefix
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                Error::Usage(format!("DBRMRoot {} names no prefix", prefix.display()))
            })?;
        let dir = match prefix.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Self {
            dir,
            base: base.to_string(),
        })
    }

    /// `<dir>/<name>`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The name of `<base><suffix>`, e.g. `suffix = "_current"`.
    pub fn base_name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base)
    }

    /// Decode `_current`; `None` when the file does not exist.
    pub fn read_current(&self) -> Result<Option<Current>> {
        let path = self.path(&self.base_name("_current"));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "read", e)),
        };
        let current = Current::parse(&bytes, &self.base).map_err(|e| e.in_file(&path))?;
        if let Some(abs) = &current.absolute_dir {
            if !same_dir(abs, &self.dir) {
                return Err(Error::Config {
                    path,
                    detail: format!(
                        "names a prefix in {}, not in this DBRMRoot folder {}",
                        abs.display(),
                        self.dir.display()
                    ),
                });
            }
        }
        Ok(Some(current))
    }

    /// The save set ColumnStore would load now. Errors when `_current` is missing or does not
    /// decode, or when the extent map it names is absent.
    pub fn loaded_set(&self) -> Result<SaveSet> {
        let current_name = self.base_name("_current");
        let current = self.read_current()?.ok_or_else(|| Error::Config {
            path: self.path(&current_name),
            detail: "missing: ColumnStore's loader has no prefix to load".into(),
        })?;
        let prefix = current.slot.prefix(&self.base);
        let names = [
            (Role::Current, current_name),
            (Role::Em, format!("{prefix}_em")),
            (Role::Vbbm, format!("{prefix}_vbbm")),
            (Role::Vss, format!("{prefix}_vss")),
            (Role::Journal, self.base_name("_journal")),
            (Role::OidBitmap, "oidbitmap".to_string()),
        ];
        let files: Vec<SaveFile> = names
            .into_iter()
            .map(|(role, name)| SaveFile {
                role,
                present: self.path(&name).is_file(),
                name,
            })
            .collect();
        let em = &files[1];
        if !em.present {
            return Err(Error::Config {
                path: self.path(&em.name),
                detail: format!("missing, but {} names the {prefix} save set", files[0].name),
            });
        }
        Ok(SaveSet { current, files })
    }

    /// The slot a freshly installed map goes to: always the base prefix, as `save_brm` writes it.
    pub fn install_slot(&self) -> Slot {
        Slot::Base
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// BLAKE3 of `bytes`, as lower-case hex.
pub fn digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
