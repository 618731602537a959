//! Walk: the first stage. Every DBRoot's tree → segment-file identities ([`FoundFile`]); everything
//! else is listed as skipped. The catalog stage takes the catalog's files from its result, plan the rest.

use crate::error::Error;
use crate::seg::path::parse_segment_path;
use crate::types::{DbRootId, SegmentId};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One segment file found on a DBRoot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FoundFile {
    pub dbroot: DbRootId,
    pub id: SegmentId,
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
}

pub use crate::finding::Skipped;

/// What the walk found: segment files (sorted by identity), skipped paths, and paths that look
/// like segment files but cannot be used (a directory named `FILE000.cdf`, a dangling or looping
/// symlink, an unreadable directory).
#[derive(Debug, Default)]
pub struct WalkResult {
    pub files: Vec<FoundFile>,
    pub skipped: Vec<Skipped>,
    pub damaged: Vec<(PathBuf, Error)>,
}

/// A directory walk's failure as damage: the path it failed on (else `dir`) and the I/O error.
/// Shared by the DBRoot walk and StorageManager's metadata walk.
pub(crate) fn walk_error(e: walkdir::Error, dir: &Path) -> (PathBuf, Error) {
    let path = e
        .path()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.to_path_buf());
    let io = e
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("walk error"));
    let err = Error::io(&path, "walk", io);
    (path, err)
}

/// Walk every DBRoot. Symlinks are not followed (a link named like a segment file is opened
/// later, which reports loops and dangling targets as damage).
pub fn walk(dbroots: &BTreeMap<DbRootId, PathBuf>) -> WalkResult {
    let mut out = WalkResult::default();
    for (&dbroot, root) in dbroots {
        if !root.is_dir() {
            let err = std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory");
            out.damaged
                .push((root.clone(), Error::io(root, "walk DBRoot", err)));
            continue;
        }
        for entry in walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.damaged.push(walk_error(e, root));
                    continue;
                }
            };
            let ft = entry.file_type();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(path);
            if ft.is_dir() {
                if parse_segment_path(rel).is_ok() {
                    let err = std::io::Error::new(
                        std::io::ErrorKind::IsADirectory,
                        "a directory stands where a segment file belongs",
                    );
                    out.damaged
                        .push((path.to_path_buf(), Error::io(path, "open", err)));
                }
                continue;
            }
            match parse_segment_path(rel) {
                Ok(id) => out.files.push(FoundFile {
                    dbroot,
                    id,
                    path: path.to_path_buf(),
                }),
                Err(reason) => out.skipped.push(Skipped {
                    path: path.to_path_buf(),
                    reason,
                }),
            }
        }
    }
    out.files.sort_by_key(|f| (f.id, f.dbroot));
    out
}
