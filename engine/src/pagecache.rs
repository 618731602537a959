//! Advice to the kernel's page cache about the files a scan reads (`posix_fadvise(2)`), through
//! rustix: no unsafe code, no root.
//!
//! | advice | when | effect |
//! |---|---|---|
//! | `SEQUENTIAL` | a file is opened for a scan | larger read-ahead window |
//! | `WILLNEED` | before the next work unit is needed | the kernel starts reading it now, in the background |
//! | `DONTNEED` | after a unit (when asked), or [`evict_from_page_cache`] | clean cached pages of the range are dropped |
//!
//! Advice is a hint: a kernel or file system that ignores it changes the speed, never the bytes
//! read. That is why the scan ignores its failures; only [`evict_from_page_cache`], whose whole
//! purpose is the eviction, reports them.

use crate::error::Error;
use std::fs::File;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

/// What [`evict_from_page_cache`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Files whose cached pages were dropped.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Drop the cached pages of every file of `paths` (`posix_fadvise(POSIX_FADV_DONTNEED)` over the
/// whole file), so that the next read of them comes from the disk: a "cold cache" run without
/// root and without touching other files' pages (`/proc/sys/vm/drop_caches` needs root).
///
/// Only clean pages can be dropped; the files are opened read-only and never written, so the
/// pages of files nobody is writing are all dropped. Files are opened as every input is
/// ([`crate::fsutil::open_read_only`]): a FIFO or device is refused. The first failure is
/// returned with the file's path.
pub fn evict_from_page_cache<P: AsRef<Path>>(paths: &[P]) -> Result<Evicted, Error> {
    let mut done = Evicted::default();
    for path in paths {
        let path = path.as_ref();
        let (file, meta) = crate::fsutil::open_read_only(path)?;
        advise(&file, 0, None, Advice::DontNeed)
            .map_err(|e| Error::io(path, "posix_fadvise(DONTNEED)", e))?;
        done.files += 1;
        done.bytes += meta.len();
    }
    Ok(done)
}

/// The regular files under `root`, for [`evict_from_page_cache`] over a whole tree (symbolic
/// links are not followed).
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// The advice this crate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Advice {
    Sequential,
    WillNeed,
    DontNeed,
}

/// `posix_fadvise(file, offset, len)`; `len` `None` means "to the end of the file".
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) fn advise(
    file: &File,
    offset: u64,
    len: Option<u64>,
    advice: Advice,
) -> std::io::Result<()> {
    use rustix::fs::Advice as A;
    let advice = match advice {
        Advice::Sequential => A::Sequential,
        Advice::WillNeed => A::WillNeed,
        Advice::DontNeed => A::DontNeed,
    };
    // A zero length would mean "to the end of the file": nothing to advise instead.
    let len = match len {
        Some(0) => return Ok(()),
        Some(n) => NonZeroU64::new(n),
        None => None,
    };
    rustix::fs::fadvise(file, offset, len, advice).map_err(std::io::Error::from)
}

/// Platforms without `posix_fadvise`: advice is not given (reads are unchanged); eviction fails.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) fn advise(
    _file: &File,
    _offset: u64,
    _len: Option<u64>,
    advice: Advice,
) -> std::io::Result<()> {
    match advice {
        Advice::DontNeed => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "posix_fadvise is not available on this platform",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_names_a_missing_file_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![7u8; 3 * 8192]).unwrap();
        let done = evict_from_page_cache(&[&a]).unwrap();
        assert_eq!(
            done,
            Evicted {
                files: 1,
                bytes: 3 * 8192
            }
        );
        assert_eq!(files_under(dir.path()), vec![a.clone()]);
        let missing = dir.path().join("missing");
        let err = evict_from_page_cache(&[&a, &missing]).unwrap_err();
        assert_eq!(err.path(), Some(missing.as_path()));
        // The file still reads the same after its pages were dropped.
        assert_eq!(std::fs::read(&a).unwrap(), vec![7u8; 3 * 8192]);
    }
}
