//! Where an extent map may be written, checked before any work and again, under a lock, just
//! before the write.
//!
//! | what is at the output path | outcome |
//! |---|---|
//! | nothing (its folder exists) | written |
//! | a regular file that reads as an extent map | moved aside to `<name>.bak-<timestamp>`, then written |
//! | a regular file that does not read as an extent map | refused; with `force`, moved aside and written |
//! | an input of this run (the configuration, a segment file, a source or reference map), by canonical path or (device, inode) | refused |
//! | a path inside a DBRoot, except under its `systemFiles/` | refused |
//! | a directory, FIFO, socket or device | refused |
//! | a symbolic link whose target is missing | refused (never written through) |
//! | a symbolic link to a regular file | the link is checked as its target, then moved aside (the target is never written) |
//!
//! Two processes writing the same output serialise on `.<name>.lock` next to it
//! ([`OutputLock`], `flock(2)`), so the move-aside and rename of one never interleave with the
//! other's; the lock file exists only while the lock is held.

use crate::em::{EmVersion, ExtentMap};
use crate::error::{Error, Result};
use crate::fsutil::{file_type_name, replace_keeping_old};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The inputs of one run, which its output must never be.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Files read by the run: the configuration, source or reference maps.
    pub files: Vec<PathBuf>,
    /// DBRoot directories: the output may not lie inside one, except under `systemFiles/`,
    /// and may not be any file found under one (a hard link to a segment file).
    pub dbroots: Vec<PathBuf>,
}

/// What the output path holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing: the output will be created.
    Absent,
    /// An extent map, which will be moved aside.
    ExtentMap,
    /// A regular file that is not an extent map, accepted with `force`; moved aside.
    Forced,
}

/// Check that `path` may receive an extent map (see the module table). `force` accepts an
/// existing regular file that does not read as an extent map.
pub fn check_output(path: &Path, inputs: &Inputs, force: bool) -> Result<Existing> {
    let refuse = |reason: String| Error::UnsafeOutput {
        path: path.to_path_buf(),
        reason,
    };
    if path.file_name().is_none() {
        return Err(refuse("the path names no file".into()));
    }
    let dir = parent_dir(path);
    let dir = dir.canonicalize().map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            format!("cannot be used: {e}")
        };
        refuse(format!(
            "the output folder {} {what}",
            parent_dir(path).display()
        ))
    })?;
    for root in &inputs.dbroots {
        let Ok(root) = root.canonicalize() else {
            continue;
        };
        if let Ok(rel) = dir.strip_prefix(&root) {
            if !rel.starts_with("systemFiles") {
                return Err(refuse(format!(
                    "it lies among the segment files of DBRoot {} (only its systemFiles/ folder may hold an extent map)",
                    root.display()
                )));
            }
        }
    }
    let link = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(Error::io(path, "stat", e)),
    };
    let meta = if link.file_type().is_symlink() {
        match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                let target = fs::read_link(path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".into());
                return Err(refuse(format!(
                    "it is a symbolic link to {target}, which cannot be followed ({e}); remove the link or choose another output"
                )));
            }
        }
    } else {
        link
    };
    if !meta.is_file() {
        return Err(refuse(format!(
            "it is a {}, not a regular file",
            file_type_name(&meta.file_type())
        )));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| Error::io(path, "resolve", e))?;
    for input in &inputs.files {
        let same_path = input.canonicalize().is_ok_and(|c| c == canonical);
        let same_inode = fs::metadata(input).is_ok_and(|m| same_file(&m, &meta));
        if same_path || same_inode {
            return Err(refuse(format!(
                "it is {}, an input of this run",
                input.display()
            )));
        }
    }
    match ExtentMap::read(path) {
        Ok(_) => Ok(Existing::ExtentMap),
        Err(e) => {
            if let Some(seg) = find_in_dbroots(&meta, &inputs.dbroots) {
                return Err(refuse(format!(
                    "it is the segment file {} (the same file under another name)",
                    seg.display()
                )));
            }
            if force {
                Ok(Existing::Forced)
            } else {
                Err(refuse(format!(
                    "it exists and is not an extent map ({e}); use --force to move it aside and write"
                )))
            }
        }
    }
}

/// Write `map` in `version` to `path`: refuse a map ColumnStore could not use
/// ([`ExtentMap::check_writable`]: no extents, overlapping records, ...), then, under the output lock, re-check the path (it may have
/// changed during a long scan) and replace it keeping the old file ([`replace_keeping_old`]).
/// `cancelled` is polled while waiting for the lock and once more before the write. Returns where
/// the previous file went.
pub fn write_map(
    path: &Path,
    map: &ExtentMap,
    version: EmVersion,
    target: &Target<'_>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<PathBuf>> {
    map.check_writable(version)
        .map_err(|why| Error::UnsafeOutput {
            path: path.to_path_buf(),
            reason: format!("it would be {why}"),
        })?;
    let bytes = map.encode(version);
    let _lock = OutputLock::acquire(path, cancelled)?;
    check_output(path, target.inputs, target.force)?;
    if cancelled() {
        return Err(Error::Interrupted);
    }
    replace_keeping_old(path, &bytes, target.timestamp)
}

/// How an output is checked and named: the run's inputs, `--force`, and the timestamp of the
/// `.bak-` name an existing file is moved aside to.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub inputs: &'a Inputs,
    pub force: bool,
    pub timestamp: &'a str,
}

/// An exclusive `flock(2)` on `.<name>.lock` next to an output, held until drop. The holder
/// removes the lock file before releasing it; a waiter that then gets the lock on the removed file
/// sees that the path no longer names the file it locked and starts again, so at most one process
/// holds the lock of a path and no lock file is left behind.
#[derive(Debug)]
pub struct OutputLock {
    file: Option<File>,
    path: PathBuf,
}

impl OutputLock {
    /// Wait for the lock of `output`, polling `cancelled` every 50 ms.
    pub fn acquire(output: &Path, cancelled: &dyn Fn() -> bool) -> Result<Self> {
        let path = lock_path(output)?;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, "open lock file", e))?;
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    let held = file.metadata().map_err(|e| Error::io(&path, "stat", e))?;
                    if fs::symlink_metadata(&path).is_ok_and(|now| same_file(&now, &held)) {
                        return Ok(Self {
                            file: Some(file),
                            path,
                        });
                    }
                    // The previous holder removed this lock file: lock the current one.
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    if cancelled() {
                        return Err(Error::Interrupted);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(Error::io(&path, "lock", e.into())),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Remove while still holding the lock, then release it by closing.
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

/// `.<name>.lock` in the output's folder.
pub fn lock_path(output: &Path) -> Result<PathBuf> {
    let name = output
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} names no file", output.display())))?;
    Ok(parent_dir(output).join(format!(".{}.lock", name.to_string_lossy())))
}

/// A file under one of `dbroots` that is the same file as `meta` (a hard link), if any. Only
/// called when the output exists and is not an extent map, so the walk is rare.
fn find_in_dbroots(meta: &fs::Metadata, dbroots: &[PathBuf]) -> Option<PathBuf> {
    if !cfg!(unix) || meta.nlink_count() < 2 {
        return None;
    }
    dbroots.iter().find_map(|root| {
        walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .find(|e| e.metadata().is_ok_and(|m| same_file(&m, meta)))
            .map(|e| e.into_path())
    })
}

trait LinkCount {
    fn nlink_count(&self) -> u64;
}

impl LinkCount for fs::Metadata {
    #[cfg(unix)]
    fn nlink_count(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.nlink()
    }
    #[cfg(not(unix))]
    fn nlink_count(&self) -> u64 {
        1
    }
}

/// Whether two metadata describe the same file: (device, inode) on Unix.
pub fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        a.len() == b.len() && a.modified().ok() == b.modified().ok()
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::em::{CasualPartition, CpState, ExtentRecord};
    use crate::types::{DbRootId, Lbid, Oid};

    fn rec(oid: i32, start: i64) -> ExtentRecord {
        ExtentRecord {
            range_start: Lbid(start),
            range_size: 1,
            oid: Oid(oid),
            block_offset: 0,
            hwm: 0,
            partition: 0,
            segment: 0,
            dbroot: DbRootId(1),
            col_width: 1,
            status: 0,
            cp: CasualPartition::narrow(CpState::VALID, 0, 1),
        }
    }

    #[test]
    fn maps_columnstore_cannot_use_are_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("em");
        let inputs = Inputs::default();
        let target = Target {
            inputs: &inputs,
            force: false,
            timestamp: "T",
        };
        let overlapping = ExtentMap::from_extents(vec![rec(3000, 0), rec(3001, 1023)]);
        let err = write_map(&out, &overlapping, EmVersion::V5, &target, &|| false).unwrap_err();
        assert!(
            err.to_string()
                .contains("1 records overlap another record's LBID range (first: record 0"),
            "{err}"
        );
        let empty = ExtentMap::from_extents(Vec::new());
        let err = write_map(&out, &empty, EmVersion::V5, &target, &|| false).unwrap_err();
        assert!(err.to_string().contains("no extents"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let good = ExtentMap::from_extents(vec![rec(3000, 0), rec(3001, 1024)]);
        assert_eq!(
            write_map(&out, &good, EmVersion::V5, &target, &|| false).unwrap(),
            None
        );
        assert_eq!(ExtentMap::read(&out).unwrap().extents.len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_link_to_a_segment_file_is_refused_even_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data1");
        let seg = root.join("000.dir/000.dir/011.dir/184.dir/000.dir/FILE000.cdf");
        fs::create_dir_all(seg.parent().unwrap()).unwrap();
        fs::write(&seg, [0u8; 8192]).unwrap();
        let out = dir.path().join("em");
        fs::hard_link(&seg, &out).unwrap();
        let inputs = Inputs {
            files: Vec::new(),
            dbroots: vec![root.clone()],
        };
        let err = check_output(&out, &inputs, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: refusing to write: it is the segment file {} (the same file under another name)",
                out.display(),
                seg.display()
            )
        );
        // Without the link, --force accepts a file that is not a map.
        fs::remove_file(&out).unwrap();
        fs::write(&out, b"notes").unwrap();
        assert_eq!(check_output(&out, &inputs, true).unwrap(), Existing::Forced);
        assert!(check_output(&out, &inputs, false).is_err());
        assert_eq!(
            check_output(&dir.path().join("new"), &inputs, false).unwrap(),
            Existing::Absent
        );
    }

    #[test]
    fn lock_file_sits_next_to_the_output() {
        assert_eq!(
            lock_path(Path::new("/a/b/BRM_saves_em")).unwrap(),
            Path::new("/a/b/.BRM_saves_em.lock")
        );
        assert_eq!(lock_path(Path::new("em")).unwrap(), Path::new("./.em.lock"));
    }

    #[test]
    fn a_second_lock_waits_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("em");
        let first = OutputLock::acquire(&out, &|| false).unwrap();
        // While held, a second attempt only returns when cancelled.
        let err = OutputLock::acquire(&out, &|| true).unwrap_err();
        assert!(matches!(err, Error::Interrupted), "{err}");
        let lock_file = first.path().to_path_buf();
        assert!(lock_file.exists());
        drop(first);
        assert!(!lock_file.exists(), "the lock file is removed on release");
        let again = OutputLock::acquire(&out, &|| true).unwrap();
        assert!(lock_file.exists());
        drop(again);
    }
}
