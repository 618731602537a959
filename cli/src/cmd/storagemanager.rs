//! `--storagemanager FILE` for `rebuild`: read the segment files through StorageManager
//! (metadata, cache, journals, a `LocalStorage` folder or an S3 bucket) instead of from the
//! DBRoot folders. The engine assembles every logical file into a temporary folder (under
//! `TMPDIR`; it needs room for the data) and rebuilds from there; the folder is removed after.

use anyhow::Context;
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
    let scratch = tempfile::Builder::new()
        .prefix("emrebuild-sm-")
        .tempdir()
        .context("cannot create a temporary folder for the assembled files")?;
    let view_dir = scratch.path().join("view");
    Ok(view::rebuild(&storage, opts, &view_dir, progress)?)
}
