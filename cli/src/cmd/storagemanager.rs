//! `--storagemanager FILE` for `rebuild`: read the segment files through StorageManager
//! (metadata, cache, journals, a `LocalStorage` folder or an S3 bucket) instead of from the
//! DBRoot folders. The engine reads every logical file by range from its objects, fetched ahead
//! of the scan; nothing is copied.

use emengine::progress::Progress;
use emengine::rebuild::{RebuildOptions, Rebuilt};
use emengine::sm::config::{process_env, SmConfig};
use emengine::sm::{view, Storage};
use std::path::Path;

/// Rebuild `opts.dbroots` (the DBRoot paths as ColumnStore names them) through the
/// StorageManager that `cnf` configures.
pub fn rebuild_through(
    cnf: &Path,
    opts: &RebuildOptions,
    progress: &dyn Progress,
) -> anyhow::Result<Rebuilt> {
    let config = SmConfig::read(cnf, &process_env)?;
    let storage = Storage::open(config)?;
    Ok(view::rebuild(&storage, opts, progress)?)
}
