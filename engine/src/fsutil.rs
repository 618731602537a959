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
/// written and flushed to a temporary file first, only then does the old file get a second name
/// `<name>.bak-<timestamp>` (a hard link; [`move_aside`] where links are not supported) and the
/// new one is renamed over `path`. At every moment `path` holds the complete old file or the
/// complete new one (a process killed at any point leaves one of them).
/// Returns where the old file went, if there was one.
pub fn replace_keeping_old(path: &Path, bytes: &[u8], timestamp: &str) -> Result<Option<PathBuf>> {
    let tmp = write_temp(path, |f| f.write_all(bytes))?;
    let kept = if fs::symlink_metadata(path).is_ok() {
        match keep_aside(path, timestamp) {
            Ok(k) => Some(k),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
    } else {
        None
    };
    if let Err(e) = install(&tmp, path) {
        match &kept {
            // The old file is still in place: drop the second name only.
            Some(Kept::Linked(old)) => {
                let _ = fs::remove_file(old);
            }
            // Put the previous file back where its readers look for it.
            Some(Kept::Moved(old)) => {
                let _ = fs::rename(old, path);
            }
            None => {}
        }
        return Err(e);
    }
    Ok(kept.map(Kept::into_path))
}

/// How the previous file was kept.
enum Kept {
    /// A second name (hard link): `path` itself was never absent; the rename of the new file
    /// over it is the one atomic step.
    Linked(PathBuf),
    /// Renamed away (a file system without hard links): `path` is absent until the new file is
    /// renamed into place.
    Moved(PathBuf),
}

impl Kept {
    fn into_path(self) -> PathBuf {
        match self {
            Kept::Linked(p) | Kept::Moved(p) => p,
        }
    }
}

/// Give the file at `path` the name `<name>.bak-<timestamp>` too (a hard link, durable), so that
/// renaming the new file over `path` keeps it; fall back to moving it there.
fn keep_aside(path: &Path, timestamp: &str) -> Result<Kept> {
    let target = aside_name(path, timestamp)?;
    match fs::hard_link(path, &target) {
        Ok(()) => {
            sync_dir(&parent_dir(path))?;
            Ok(Kept::Linked(target))
        }
        Err(_) => move_aside(path, timestamp).map(Kept::Moved),
    }
}

/// The first free `<name>.bak-<timestamp>[.n]` next to `path`.
fn aside_name(path: &Path, timestamp: &str) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} names no file", path.display())))?
        .to_string_lossy()
        .into_owned();
    let dir = parent_dir(path);
    let mut target = dir.join(format!("{name}.bak-{timestamp}"));
    let mut n = 1;
    while fs::symlink_metadata(&target).is_ok() {
        target = dir.join(format!("{name}.bak-{timestamp}.{n}"));
        n += 1;
    }
    Ok(target)
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
    let target = aside_name(path, timestamp)?;
    fs::rename(path, &target).map_err(|e| Error::io(path, "move aside", e))?;
    sync_dir(&parent_dir(path))?;
    Ok(target)
}

/// The options every input of the engine is opened with: read-only and, on Unix, non-blocking
/// and without becoming a controlling terminal, so that a FIFO or a device that slipped past the
/// type check cannot block the open or a read. (`O_NONBLOCK` has no effect on regular files.)
pub fn read_only_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    o
}

/// Open an existing regular file read-only: its type is checked before the open (a FIFO would
/// block `open(2)` without `O_NONBLOCK`, a device may have side effects) and again on the open
/// descriptor (the path may have changed in between). Returns the file and its metadata.
pub fn open_read_only(path: &Path) -> Result<(File, fs::Metadata)> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, "open", e))?;
    require_regular(path, &meta)?;
    let file = read_only_options()
        .open(path)
        .map_err(|e| Error::io(path, "open", e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
    require_regular(path, &meta)?;
    Ok((file, meta))
}

/// Read a whole regular file (through [`open_read_only`]).
pub fn read_regular(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let (file, meta) = open_read_only(path)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(usize::try_from(meta.len()).unwrap_or(usize::MAX))
        .map_err(|_| {
            Error::io(
                path,
                "read",
                std::io::Error::other(format!(
                    "file of {} bytes does not fit in memory",
                    meta.len()
                )),
            )
        })?;
    file.take(meta.len())
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(buf)
}

fn require_regular(path: &Path, meta: &fs::Metadata) -> Result<()> {
    if meta.is_file() {
        Ok(())
    } else if meta.is_dir() {
        // What open(2) + read(2) report for a directory (EISDIR), as before this check existed.
        #[cfg(unix)]
        let e = std::io::Error::from_raw_os_error(libc::EISDIR);
        #[cfg(not(unix))]
        let e = std::io::Error::other("is a directory");
        Err(Error::io(path, "read", e))
    } else {
        Err(Error::NotRegularFile {
            path: path.to_path_buf(),
            found: file_type_name(&meta.file_type()),
        })
    }
}

/// What a file type is, in words, for messages.
pub fn file_type_name(ft: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// A path as text that loses nothing: as it is when it is UTF-8; otherwise every byte that is not
/// part of valid UTF-8 written `\xNN` (and `\` written `\\`, so the rendering stays
/// unambiguous). JSON output uses it, so a file name that is not UTF-8 cannot stop the output
/// half-way (serde refuses such a `Path`).
pub fn escaped_path(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if std::str::from_utf8(bytes).is_ok() {
            return path.display().to_string();
        }
        let mut out = String::new();
        for piece in bytes.utf8_chunks() {
            out.push_str(&piece.valid().replace('\\', "\\\\"));
            for b in piece.invalid() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

/// `#[serde(serialize_with = "...")]` for a path field: [`escaped_path`] in human-readable
/// formats (JSON); the path's exact bytes in binary ones (a node's partial), so that
/// [`deserialize_path`] gives back the same path, UTF-8 or not.
pub fn serialize_path<S: serde::Serializer>(
    path: &Path,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[cfg(unix)]
    if !s.is_human_readable() {
        use std::os::unix::ffi::OsStrExt;
        return s.serialize_bytes(path.as_os_str().as_bytes());
    }
    s.serialize_str(&escaped_path(path))
}

/// `#[serde(deserialize_with = "...")]` for a path field written by [`serialize_path`] in a
/// binary format (its bytes), or a plain string.
pub fn deserialize_path<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<PathBuf, D::Error> {
    struct PathVisitor;
    impl serde::de::Visitor<'_> for PathVisitor {
        type Value = PathBuf;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a path as bytes or a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<PathBuf, E> {
            Ok(PathBuf::from(v))
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<PathBuf, E> {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                Ok(PathBuf::from(std::ffi::OsStr::from_bytes(v)))
            }
            #[cfg(not(unix))]
            {
                Ok(PathBuf::from(String::from_utf8_lossy(v).into_owned()))
            }
        }
    }
    d.deserialize_any(PathVisitor)
}

/// [`deserialize_path`] for an optional path.
pub fn deserialize_opt_path<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<PathBuf>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "deserialize_path")] PathBuf);
    Ok(<Option<Wrapped> as serde::Deserialize>::deserialize(d)?.map(|Wrapped(p)| p))
}

/// [`serialize_path`] for an optional path.
pub fn serialize_opt_path<S: serde::Serializer>(
    path: &Option<PathBuf>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match path {
        Some(p) => serialize_path(p, s),
        None => s.serialize_none(),
    }
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

    /// The one place inputs are opened: read-only, non-blocking, never a controlling terminal —
    /// read back from the kernel's own record of the descriptor (`/proc/self/fdinfo`).
    #[cfg(target_os = "linux")]
    #[test]
    fn inputs_are_opened_read_only_and_non_blocking() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("FILE000.cdf");
        fs::write(&p, [0u8; 8192]).unwrap();
        let (file, meta) = open_read_only(&p).unwrap();
        assert_eq!(meta.len(), 8192);
        let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|v| i32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap();
        assert_eq!(flags & libc::O_ACCMODE, libc::O_RDONLY, "flags {flags:o}");
        assert_ne!(flags & libc::O_NONBLOCK, 0, "flags {flags:o}");
        // (O_NOCTTY only acts at open time; the kernel does not keep it.)
        assert_eq!(flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND), 0);
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("FILE000.cdf");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Without the type check this open would wait for a writer forever.
        let err = open_read_only(&fifo).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: is a FIFO, not a regular file", fifo.display())
        );
        let err = read_regular(Path::new("/dev/null")).unwrap_err();
        assert!(err.to_string().contains("is a character device"), "{err}");
        let err = open_read_only(dir.path()).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.raw_os_error() == Some(libc::EISDIR)),
            "{err}"
        );
    }

    #[test]
    fn paths_that_are_not_utf8_are_escaped_not_lost() {
        assert_eq!(escaped_path(Path::new("/a/b c/ü")), "/a/b c/ü");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = Path::new(std::ffi::OsStr::from_bytes(b"/d/FILE\\xff\xff\xfe.cdf"));
            assert_eq!(escaped_path(p), "/d/FILE\\\\xff\\xff\\xfe.cdf");
        }
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
