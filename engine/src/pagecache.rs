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
/// probed ([`is_cached`], which reads nothing); files whose page is still cached are advised
/// once more after 50 ms, and probed again.
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
    let mut resident = Vec::new();
    for p in probed {
        e.probed += 1;
        match is_cached(p) {
            Some(true) => resident.push(p),
            Some(false) => {}
            None => e.unknown += 1,
        }
    }
    // A page still being read or written back is locked, and the advice skips it: give such
    // I/O a moment to finish, then drop and ask again, once.
    if !resident.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(50));
        for p in &resident {
            let _ = drop_pages(p);
        }
        resident.retain(|p| is_cached(p) == Some(true));
    }
    e.resident = resident.len();
    e
}

/// Flush `path` and advise its whole length `DONTNEED`; its size.
fn drop_pages(path: &Path) -> std::io::Result<u64> {
    let (file, meta) = crate::fsutil::open_read_only(path).map_err(std::io::Error::other)?;
    file.sync_data()?;
    advise(&file, 0, None, Advice::DontNeed)?;
    Ok(meta.len())
}

/// Whether the page in the middle of `path` is in the page cache, asked with `mincore(2)` on a
/// one-page map that is never read: the question brings nothing into the cache.
///
/// A read cannot ask it: even `preadv2(RWF_NOWAIT)` starts read-ahead of a page it does not
/// find (`mm/filemap.c`, `filemap_get_pages`: only the kernel-internal `IOCB_NOIO` skips it), and
/// on a disk fast enough to finish that read before the call returns, the probe answers
/// "cached" for the page it just read. That made a working eviction look failed.
///
/// `mincore` reports a file's page cache only to the file's owner, a process that may write
/// it, or root (`mm/mincore.c`, `can_do_mincore`, since Linux 5.0); to anyone else it reports
/// only the process's own page tables, always "not cached" for a fresh map. That answer would
/// be a false "evicted", so it is not asked: `None`, as for an empty file, a file that cannot
/// be opened or mapped, or a platform without `mincore`.
#[cfg(target_os = "linux")]
pub fn is_cached(path: &Path) -> Option<bool> {
    let (file, meta) = crate::fsutil::open_read_only(path).ok()?;
    if meta.len() == 0 {
        return None;
    }
    if !mincore_answers(path, &meta) {
        return None;
    }
    let page = rustix::param::page_size() as u64;
    resident(&file, (meta.len() / 2) / page * page)
}

/// Whether `mincore` reports the page cache of the file `path` (with metadata `meta`) to this
/// process: its owner, a process that may write it, or root ([`is_cached`]).
#[cfg(target_os = "linux")]
pub(crate) fn mincore_answers(path: &Path, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let euid = rustix::process::geteuid();
    euid.is_root()
        || meta.uid() == euid.as_raw()
        || rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
}

/// How many of the pages of `range` of `file` are in the page cache, and how many pages the
/// range covers: one `mincore` over a map of the range that is never read (nothing is brought
/// in). `None` where it cannot be asked (an empty range, a failed map). Ask only where
/// [`mincore_answers`].
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn resident_pages(file: &File, range: std::ops::Range<u64>) -> Option<(usize, usize)> {
    let page = rustix::param::page_size() as u64;
    let first = range.start / page * page;
    let len = usize::try_from(range.end.checked_sub(first)?).ok()?;
    if len == 0 {
        return None;
    }
    // SAFETY: as in `resident`: a read-only map that lives only here and is never read through,
    // created without `populate`.
    let map = unsafe { memmap2::MmapOptions::new().offset(first).len(len).map(file) }.ok()?;
    let pages = len.div_ceil(page as usize);
    let mut vec = vec![0u8; pages];
    // SAFETY: the map starts on a page boundary (`first`); `vec` has one byte per page of its
    // `len` bytes, as `mincore` requires.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, len, vec.as_mut_ptr()) };
    (rc == 0).then(|| (vec.iter().filter(|&&b| b & 1 == 1).count(), pages))
}

/// `mincore` of the page at `offset` (a multiple of the page size) of `file`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn resident(file: &File, offset: u64) -> Option<bool> {
    // SAFETY: the map is read-only, lives only in this function, and is never read through (no
    // access can fault, so a concurrent truncation cannot raise SIGBUS). Without `populate` the
    // kernel maps no page at creation.
    let map = unsafe { memmap2::MmapOptions::new().offset(offset).len(1).map(file) }.ok()?;
    let mut vec = [0u8; 1];
    // SAFETY: `offset` is page-aligned, so the map starts on a page boundary as `mincore`
    // requires; its length of 1 byte covers exactly one page, for which `vec` has one byte.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, 1, vec.as_mut_ptr()) };
    (rc == 0).then_some(vec[0] & 1 == 1)
}

/// Without `mincore` the probe cannot answer.
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

/// `WILLNEED` for `len` bytes at `offset`, in pieces the kernel reads whole. Linux reads at
/// most max(`read_ahead_kb`, `max_sectors_kb`) of the device per `WILLNEED` and silently drops
/// the rest (`mm/readahead.c`, `force_page_cache_ra`: `nr_to_read` is cut to
/// `max(bdi->io_pages, ra->ra_pages)`); here, with `read_ahead_kb` 8192, a 16 MiB advice
/// brought in 8 MiB. So the range is advised in pieces of that size ([`read_ahead_cap`]).
pub(crate) fn will_need(file: &File, offset: u64, len: u64) {
    let piece = read_ahead_cap(file);
    let mut at = offset;
    while at < offset + len {
        let n = piece.min(offset + len - at);
        // A hint: a failure changes the speed only (module documentation).
        let _ = advise(file, at, Some(n), Advice::WillNeed);
        at += n;
    }
}

/// The most one `WILLNEED` reads on `file`'s device: max(`read_ahead_kb`, `max_sectors_kb`)
/// from `/sys/dev/block/MAJOR:MINOR/queue` (a partition's `queue` is its disk's), or 128 KiB
/// (the kernel's default `read_ahead_kb`) where that cannot be read (no block device: tmpfs,
/// network file systems; other systems). Read once per device and thread (a thread-local map:
/// the scan's workers share nothing on their path).
fn read_ahead_cap(file: &File) -> u64 {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    const FALLBACK: u64 = 128 << 10;
    thread_local! {
        static CAPS: RefCell<BTreeMap<u64, u64>> = const { RefCell::new(BTreeMap::new()) };
    }
    let Ok(meta) = file.metadata() else {
        return FALLBACK;
    };
    let dev = std::os::unix::fs::MetadataExt::dev(&meta);
    if let Some(cap) = CAPS.with_borrow(|caps| caps.get(&dev).copied()) {
        return cap;
    }
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let dir = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    let kb = |name: &str| -> Option<u64> {
        [
            dir.join("queue").join(name),
            dir.join("../queue").join(name),
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let cap = match (kb("read_ahead_kb"), kb("max_sectors_kb")) {
        (None, None) => FALLBACK,
        (a, b) => (a.unwrap_or(0).max(b.unwrap_or(0)) << 10).max(FALLBACK),
    };
    CAPS.with_borrow_mut(|caps| caps.insert(dev, cap));
    cap
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
        // (or, where `mincore` cannot answer, that it cannot tell). A missing file is a
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

    #[test]
    fn will_need_brings_in_a_range_longer_than_one_advice_reads() {
        // One WILLNEED reads at most the device's cap; a range twice as long must still come in
        // whole: its last page is cached soon after the advice, without any read.
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("FILE000.cdf");
        std::fs::write(&a, vec![7u8; 1 << 20]).unwrap();
        let cap = read_ahead_cap(&File::open(&a).unwrap());
        let len = 2 * cap + (1 << 20);
        if len > 64 << 20 || is_cached(&a).is_none() {
            return; // a cap too large for a test file, or no `mincore`: nothing to check
        }
        std::fs::write(&a, vec![7u8; len as usize]).unwrap();
        assert_eq!(evict_from_page_cache(&[&a]).worked(), Some(true));
        let file = File::open(&a).unwrap();
        let page = rustix::param::page_size() as u64;
        let last = (len - 1) / page * page;
        assert_eq!(resident(&file, last), Some(false), "evicted");
        will_need(&file, 0, len);
        let mut cached = false;
        for _ in 0..100 {
            if resident(&file, last) == Some(true) {
                cached = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            cached,
            "the last page of a {len}-byte WILLNEED never arrived (cap {cap})"
        );
    }

    #[test]
    fn asking_whether_an_evicted_page_is_cached_does_not_bring_it_back() {
        // The question must not read the page. A probe that reads (`preadv2(RWF_NOWAIT)` starts
        // read-ahead of a page it misses) answers "not cached" and the page arrives just
        // after; on a fast disk, before the answer. Ask, wait for any such read to land, ask
        // again: both answers must be "not cached". Reading the file then makes it "cached".
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("FILE000.cdf");
        std::fs::write(&a, vec![7u8; 4 << 20]).unwrap();
        if is_cached(&a).is_none() {
            return; // no `mincore` here: nothing to check
        }
        assert_eq!(evict_from_page_cache(&[&a]).worked(), Some(true));
        assert_eq!(is_cached(&a), Some(false));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            is_cached(&a),
            Some(false),
            "the probe read the page it asked about"
        );
        assert_eq!(std::fs::read(&a).unwrap().len(), 4 << 20);
        assert_eq!(is_cached(&a), Some(true));
    }
}
