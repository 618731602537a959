//! `manifest.json`: what one backup holds.

use crate::catalog::Generation;
use crate::dbrm::Role;
use crate::em::ExtentMap;
use crate::types::Oid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The manifest's file name inside a backup folder.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The value of [`Manifest::format`] this version writes and reads.
pub const FORMAT: &str = "emrebuild-backup-1";

/// One backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The emrebuild version that wrote it.
    pub tool_version: String,
    /// UTC time of the copy, `YYYYMMDDTHHMMSSZ`.
    pub created: String,
    /// The same, in seconds since 1970 (the order of backups).
    pub created_unix: u64,
    /// The DBRM folder copied.
    pub source: PathBuf,
    /// The base prefix name (`BRM_saves`).
    pub base: String,
    /// The prefix `_current` named (`BRM_saves`, `BRM_savesA`, `BRM_savesB`).
    pub loaded_prefix: String,
    /// Whether the copy was taken under `FLUSH TABLES WITH READ LOCK` after `save_brm`.
    pub locked: bool,
    /// Every file copied.
    pub files: Vec<ManifestFile>,
    /// What the extent map holds.
    pub extent_map: EmSummary,
}

/// One copied file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its role in the save set.
    pub role: Role,
    /// Its name in the DBRM folder (and in the backup folder).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3, lower-case hex.
    pub blake3: String,
}

/// Summary of the extent map of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmSummary {
    /// Format version (4 or 5).
    pub format_version: u32,
    /// Number of extents.
    pub extents: usize,
    /// Number of distinct OIDs.
    pub oids: usize,
    /// System-catalog generation (A, B, C) when the map holds the whole catalog; `None` otherwise.
    pub catalog_generation: Option<String>,
}

impl EmSummary {
    /// Summarise a decoded map. The generation is derived from which catalog OIDs the map holds
    /// (CAT §5 step 1, [`Generation::detect`]) and only when it holds every OID of the oldest
    /// generation: a map without its catalog establishes no generation.
    pub fn of(map: &ExtentMap) -> Self {
        let oids: BTreeSet<Oid> = map.extents.iter().map(|e| e.oid).collect();
        let catalog_generation = Generation::A
            .oids()
            .is_subset(&oids)
            .then(|| format!("{:?}", Generation::detect(&oids)));
        Self {
            format_version: map.version.number(),
            extents: map.extents.len(),
            oids: oids.len(),
            catalog_generation,
        }
    }
}

impl Manifest {
    /// The entry of the file with `role`.
    pub fn file(&self, role: Role) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.role == role)
    }

    /// Total size of the files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}
