//! Safe output: atomic writes (temp file in the same folder, fsync, rename, fsync of the folder)
//! and moving an existing file aside instead of deleting it.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: readers see the old file or the whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill` into the temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("output path {} names no file", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, "create", e))?;
        fill(&mut f).map_err(|e| Error::io(&tmp, "write", e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, "fsync", e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename into place", e))?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        // The temporary file is ours and incomplete; the target was never touched.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Move an existing file to `<name>.bak-<timestamp>` (never deleting it) and return the new path.
/// `timestamp` is supplied by the caller so that tests and reports agree on it.
pub fn move_aside(path: &Path, timestamp: &str) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} names no file", path.display())))?
        .to_string_lossy()
        .into_owned();
    let dir = parent_dir(path);
    let mut target = dir.join(format!("{name}.bak-{timestamp}"));
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.bak-{timestamp}.{n}"));
        n += 1;
    }
    fs::rename(path, &target).map_err(|e| Error::io(path, "move aside", e))?;
    sync_dir(&dir)?;
    Ok(target)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Durability of the rename needs the directory entry flushed too.
    let d = File::open(dir).map_err(|e| Error::io(dir, "open directory", e))?;
    d.sync_all()
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn move_aside_keeps_both_copies() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("BRM_saves_em");
        fs::write(&p, b"a").unwrap();
        let first = move_aside(&p, "20261122T000000").unwrap();
        fs::write(&p, b"b").unwrap();
        let second = move_aside(&p, "20261122T000000").unwrap();
        assert_ne!(first, second);
        assert_eq!(fs::read(first).unwrap(), b"a");
        assert_eq!(fs::read(second).unwrap(), b"b");
        assert!(!p.exists());
    }
}
