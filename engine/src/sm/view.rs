//! The rebuild through StorageManager: the DBRoots' metadata folders are walked like DBRoots,
//! and every logical segment file is read by range from its objects ([`super::stream`]) by the
//! ordinary rebuild — no copy of any file, no scratch folder. The report names the logical paths
//! ColumnStore uses.
//!
//! Logical files that cannot be assembled are damaged files of the report, with the object key
//! and offset named, exactly as unreadable local files are: at plan when their metadata or the
//! objects of their header are at fault, at scan when a later object is (one finding per cause).

use super::stream::SmFiles;
use super::Storage;
use crate::error::Error;
use crate::progress::Progress;
use crate::rebuild::{rebuild_from, RebuildOptions, Rebuilt};

/// Rebuild the extent map of `opts.dbroots` (the DBRoot paths as ColumnStore names them) from
/// StorageManager's objects. The report names logical paths.
pub fn rebuild(
    storage: &Storage,
    opts: &RebuildOptions,
    progress: &dyn Progress,
) -> Result<Rebuilt, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let walked = storage.walk(&opts.dbroots);
    rebuild_from(opts, walked, &SmFiles::new(storage.clone()), progress)
}
