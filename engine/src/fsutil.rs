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
    let tmp = write_temp(path, fill)?;
    install(&tmp, path)
}

/// Replace `path` with `bytes` atomically, keeping the file it replaces: the new content is
/// written and flushed to a temporary file first, only then is the old file moved aside to
/// `<name>.bak-<timestamp>` (see [`move_aside`]) and the new one renamed into place. At no
/// moment is there no complete file at `path` but for the instant between the two renames.
/// Returns where the old file went, if there was one.
pub fn replace_keeping_old(path: &Path, bytes: &[u8], timestamp: &str) -> Result<Option<PathBuf>> {
    let tmp = write_temp(path, |f| f.write_all(bytes))?;
    let moved = if path.exists() {
        match move_aside(path, timestamp) {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
    } else {
        None
    };
    if let Err(e) = install(&tmp, path) {
        if let Some(old) = &moved {
            // Put the previous file back where its readers look for it.
            let _ = fs::rename(old, path);
        }
        return Err(e);
    }
    Ok(moved)
}

/// Write a complete, fsynced temporary file next to `path`.
fn write_temp(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<PathBuf> {
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
        f.sync_all().map_err(|e| Error::io(&tmp, "fsync", e))
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            // The temporary file is ours and incomplete; the target was never touched.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Rename a complete temporary file into place and make the rename durable.
fn install(tmp: &Path, path: &Path) -> Result<()> {
    if let Err(e) = fs::rename(tmp, path) {
        let _ = fs::remove_file(tmp);
        return Err(Error::io(path, "rename into place", e));
    }
    sync_dir(&parent_dir(path))
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
    fn replace_keeping_old_moves_the_old_file_only_once_the_new_one_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("BRM_saves_em");
        assert_eq!(replace_keeping_old(&p, b"first", "T1").unwrap(), None);
        let old = replace_keeping_old(&p, b"second", "T2").unwrap().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(fs::read(&old).unwrap(), b"first");
        assert!(old.to_string_lossy().ends_with("BRM_saves_em.bak-T2"));
        // A failed write (the folder is gone) leaves nothing behind and reports the path.
        let gone = dir.path().join("no/such/dir/em");
        let err = replace_keeping_old(&gone, b"x", "T3").unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
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
