//! Backups of the BRM save set: content-addressed copies with a manifest, listed and checked as
//! `gs_backuplist` does, pruned to the newest N.
//!
//! Layout under the backup root:
//!
//! | path | what |
//! |---|---|
//! | `objects/<blake3>` | every file content once, named by its BLAKE3 digest |
//! | `<NAME>/manifest.json` | the [`manifest::Manifest`] of one backup |
//! | `<NAME>/<file>` | a hard link to its object: the backup reads as a plain folder, and a file unchanged since an earlier backup costs no space |
//!
//! A backup is created in `.tmp-<NAME>-<pid>`, fsynced, and renamed to `<NAME>`: it exists whole
//! or not at all.

pub mod manifest;
pub mod store;

pub use manifest::{EmSummary, Manifest, ManifestFile, MANIFEST_NAME};
pub use store::{
    check, create, list, prune, read_role, BackupCheck, CreateMeta, Created, Problem, Pruned,
};
