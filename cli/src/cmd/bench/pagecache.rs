//! Cold runs: dropping a tree's files from the page cache without root, and checking that it
//! worked.
//!
//! Each file is flushed (`fdatasync`: only clean pages can be dropped) and advised
//! `POSIX_FADV_DONTNEED`. Whether the pages left is then probed with `preadv2(RWF_NOWAIT)`,
//! which reads one byte only if its page is cached and fails with `EAGAIN` otherwise, on one
//! page in the middle of up to [`PROBED_FILES`] files spread over the list; the probe may start
//! read-ahead, so the probed files are advised again afterwards. File systems that do not
//! support the probe are counted as unknown.

use serde::Serialize;
use std::io::IoSliceMut;
use std::path::{Path, PathBuf};

/// At most this many files are probed after an eviction.
pub const PROBED_FILES: usize = 256;

/// What an eviction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Eviction {
    /// Files advised.
    pub files: usize,
    /// Files that could not be opened or advised.
    pub failed: usize,
    /// Pages probed afterwards, and of those: still cached, and not answerable.
    pub probed: usize,
    pub resident: usize,
    pub unknown: usize,
}

impl Eviction {
    /// `Some(true)` when at most 5 % of the answered probes found their page still cached,
    /// `None` when no probe could answer.
    pub fn worked(&self) -> Option<bool> {
        let answered = self.probed - self.unknown;
        (answered > 0).then_some(self.failed == 0 && self.resident * 20 <= answered)
    }

    /// One sentence for the report.
    pub fn describe(&self) -> String {
        match self.worked() {
            Some(true) => format!(
                "page cache dropped for {} files ({} of {} probed pages still cached)",
                self.files, self.resident, self.probed
            ),
            Some(false) => format!(
                "eviction did NOT work: {} of {} probed pages still cached, {} of {} files not \
                 advised; cold figures are not cold",
                self.resident,
                self.probed - self.unknown,
                self.failed,
                self.files
            ),
            None => format!(
                "eviction advised for {} files but could not be checked (the file system does \
                 not answer RWF_NOWAIT); cold figures may be warm",
                self.files
            ),
        }
    }
}

/// Drop `paths` from the page cache and probe the result.
pub fn evict(paths: &[PathBuf]) -> Eviction {
    let mut e = Eviction {
        files: paths.len(),
        ..Eviction::default()
    };
    for p in paths {
        if advise(p).is_err() {
            e.failed += 1;
        }
    }
    let step = paths.len().div_ceil(PROBED_FILES).max(1);
    let probed: Vec<&PathBuf> = paths.iter().step_by(step).collect();
    for p in &probed {
        e.probed += 1;
        match probe(p) {
            Some(true) => e.resident += 1,
            Some(false) => {}
            None => e.unknown += 1,
        }
    }
    // Let read-ahead the probes started land, then drop it too.
    std::thread::sleep(std::time::Duration::from_millis(20));
    for p in probed {
        let _ = advise(p);
    }
    e
}

fn advise(path: &Path) -> std::io::Result<()> {
    let (file, _) = emengine::fsutil::open_read_only(path).map_err(std::io::Error::other)?;
    file.sync_data()?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    Ok(())
}

/// Whether the page in the middle of `path` is cached; `None` when the probe cannot say.
fn probe(path: &Path) -> Option<bool> {
    let (file, meta) = emengine::fsutil::open_read_only(path).ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_is_cached_and_then_evicted() {
        // A file just written is in the page cache; after eviction the probe must say it left
        // (or, on a file system without RWF_NOWAIT, that it cannot tell).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("FILE000.cdf");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        let before = probe(&path);
        let e = evict(std::slice::from_ref(&path));
        assert_eq!((e.files, e.failed, e.probed), (1, 0, 1));
        match before {
            Some(cached) => {
                assert!(cached, "a file just written should be cached");
                assert_eq!(e.worked(), Some(true), "{}", e.describe());
            }
            None => assert_eq!(e.worked(), None),
        }
    }
}
