//! Advice to the kernel's page cache about the files a scan reads (`posix_fadvise(2)`), through
//! rustix: no unsafe code, no root.
//!
//! | advice | when | effect |
//! |---|---|---|
//! | `SEQUENTIAL` | a file is opened for a scan | larger read-ahead window |
//! | `WILLNEED` | before the next work unit is needed | the kernel starts reading it now, in the background |
//! | `DONTNEED` | after a unit (when asked), or [`evict_from_page_cache`] (after `fdatasync`) | clean cached pages of the range are dropped |
//!
//! Advice is a hint: a kernel or file system that ignores it changes the speed, never the bytes
//! read. That is why the scan ignores its failures; only [`evict_from_page_cache`], whose whole
//! purpose is the eviction, counts them and checks the result ([`is_cached`]).

use serde::Serialize;
use std::fs::File;
use std::io::IoSliceMut;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

/// At most this many files are probed after an eviction ([`evict_from_page_cache`]).
pub const PROBED_FILES: usize = 256;

/// What [`evict_from_page_cache`] did, and whether it worked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Eviction {
    /// Files flushed and advised, and their total size in bytes.
    pub files: usize,
    pub bytes: u64,
    /// Files that could not be opened, flushed or advised.
    pub failed: usize,
    /// Pages probed afterwards, and of those: still cached, and not answerable.
    pub probed: usize,
    pub resident: usize,
    pub unknown: usize,
}

impl Eviction {
    /// `Some(true)` when every file was advised and at most 5 % of the answered probes found
    /// their page still cached, `Some(false)` otherwise, `None` when no probe could answer.
    pub fn worked(&self) -> Option<bool> {
        let answered = self.probed - self.unknown;
        (answered > 0).then_some(self.failed == 0 && self.resident * 20 <= answered)
    }
}

/// Drop the cached pages of every file of `paths`, so that the next read of them comes from the
/// disk: a "cold cache" run without root and without touching other files' pages
/// (`/proc/sys/vm/drop_caches` needs root). Then check that it worked rather than assume it.
///
/// Each file is flushed (`fdatasync`: only clean pages can be dropped) and advised
/// `POSIX_FADV_DONTNEED` over its whole length. Files are opened as every input is
/// ([`crate::fsutil::open_read_only`]): a FIFO or device is refused and counted as failed.
/// Afterwards one page in the middle of up to [`PROBED_FILES`] files spread over the list is
/// probed ([`is_cached`]); a probe may start read-ahead, so the probed files are advised again.
pub fn evict_from_page_cache<P: AsRef<Path>>(paths: &[P]) -> Eviction {
    let mut e = Eviction::default();
    for path in paths {
        match drop_pages(path.as_ref()) {
            Ok(len) => {
                e.files += 1;
                e.bytes += len;
            }
            Err(_) => e.failed += 1,
        }
    }
    let step = paths.len().div_ceil(PROBED_FILES).max(1);
    let probed: Vec<&Path> = paths.iter().step_by(step).map(|p| p.as_ref()).collect();
    for p in &probed {
        e.probed += 1;
        match is_cached(p) {
            Some(true) => e.resident += 1,
            Some(false) => {}
            None => e.unknown += 1,
        }
    }
    // Let read-ahead the probes started land, then drop it too.
    std::thread::sleep(std::time::Duration::from_millis(20));
    for p in probed {
        let _ = drop_pages(p);
    }
    e
}

/// Flush `path` and advise its whole length `DONTNEED`; its size.
fn drop_pages(path: &Path) -> std::io::Result<u64> {
    let (file, meta) = crate::fsutil::open_read_only(path).map_err(std::io::Error::other)?;
    file.sync_data()?;
    advise(&file, 0, None, Advice::DontNeed)?;
    Ok(meta.len())
}

/// Whether the page in the middle of `path` is in the page cache: a one-byte
/// `preadv2(RWF_NOWAIT)`, which reads only a cached page and fails with `EAGAIN` otherwise.
/// `None` when the file is empty or cannot be opened, or the file system cannot answer.
#[cfg(target_os = "linux")]
pub fn is_cached(path: &Path) -> Option<bool> {
    let (file, meta) = crate::fsutil::open_read_only(path).ok()?;
    if meta.len() == 0 {
        return None;
    }
    let offset = (meta.len() / 2) & !4095;
    let mut byte = [0u8; 1];
    let mut bufs = [IoSliceMut::new(&mut byte)];
    match rustix::io::preadv2(&file, &mut bufs, offset, rustix::io::ReadWriteFlags::NOWAIT) {
        Ok(n) => Some(n > 0),
        Err(rustix::io::Errno::AGAIN) => Some(false),
        Err(_) => None,
    }
}

/// Without `preadv2(RWF_NOWAIT)` the probe cannot answer.
#[cfg(not(target_os = "linux"))]
pub fn is_cached(_path: &Path) -> Option<bool> {
    None
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
    fn a_written_file_is_cached_then_evicted_and_a_missing_one_counted() {
        // A file just written is in the page cache; after eviction the probe must say it left
        // (or, on a file system without RWF_NOWAIT, that it cannot tell). A missing file is a
        // failure, counted, and the eviction then did not work.
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("FILE000.cdf");
        std::fs::write(&a, vec![7u8; 1 << 20]).unwrap();
        let before = is_cached(&a);
        let e = evict_from_page_cache(std::slice::from_ref(&a));
        assert_eq!((e.files, e.bytes, e.failed, e.probed), (1, 1 << 20, 0, 1));
        match before {
            Some(cached) => {
                assert!(cached, "a file just written should be cached");
                assert_eq!(e.worked(), Some(true), "{e:?}");
            }
            None => assert_eq!(e.worked(), None),
        }
        assert_eq!(files_under(dir.path()), vec![a.clone()]);
        let missing = dir.path().join("missing");
        let e = evict_from_page_cache(&[&a, &missing]);
        assert_eq!((e.files, e.failed), (1, 1));
        assert_ne!(e.worked(), Some(true));
        // The file still reads the same after its pages were dropped.
        assert_eq!(std::fs::read(&a).unwrap(), vec![7u8; 1 << 20]);
    }
}
