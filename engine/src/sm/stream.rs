//! StorageManager's logical files read by range, for the scan: no copy of a file anywhere.
//!
//! A logical file ([`SmFile`]) is its metadata's objects in offset order; a range is read from
//! the objects it covers, each fetched once (from the cache, else the `LocalStorage` folder or
//! ranged S3 GETs) with its journal applied ([`Storage::object`], EM §4.6) and kept while the
//! scan needs it. Work units are ranges of the file like any other (chunk slots), so the scan
//! stays parallel; before a worker scans a unit it announces the next ones
//! ([`RangeSource::will_need`]) and their objects are fetched ahead on a background thread.
//!
//! Memory is bounded per file: the objects kept (fetched or being fetched) never exceed
//! [`KEPT_BYTES`] beyond the one a read needs, objects wholly before a finished range are dropped
//! ([`RangeSource::done_with`]), and a file whose scan is over keeps nothing.

use super::metadata::MetadataObject;
use super::Storage;
use crate::error::Error;
use crate::seg::file::{check_max_len, Access, FileBytes, FileOpener, RangeSource, SegmentFile};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The most object bytes one logical file keeps for its readers and its read-ahead: three work
/// units of the default 16 MiB.
pub const KEPT_BYTES: u64 = 48 << 20;

/// Opens the rebuild's files through StorageManager.
#[derive(Debug, Clone)]
pub struct SmFiles {
    storage: Storage,
}

impl SmFiles {
    /// The files of `storage`.
    pub fn new(storage: Storage) -> SmFiles {
        SmFiles { storage }
    }
}

impl FileOpener for SmFiles {
    fn load(&self, path: &Path, _access: Access) -> Result<FileBytes, Error> {
        Ok(self.storage.assemble(path)?.into())
    }

    fn open_segment(
        &self,
        path: &Path,
        _access: Access,
        max_len: Option<u64>,
    ) -> Result<SegmentFile, Error> {
        let file = SmFile::open(&self.storage, path)?;
        check_max_len(path, file.len(), max_len)?;
        SegmentFile::from_source(path, Arc::new(file))
    }
}

/// One logical file: its objects, and the ones fetched for its readers (shared with the
/// prefetch threads).
pub struct SmFile(Arc<Shared>);

struct Shared {
    storage: Storage,
    path: PathBuf,
    first_dir: PathBuf,
    objects: Vec<MetadataObject>,
    len: u64,
    kept: Mutex<BTreeMap<usize, Slot>>,
    arrived: Condvar,
}

enum Slot {
    /// Being fetched by another thread.
    Fetching(u64),
    Ready(Arc<Vec<u8>>),
}

impl Slot {
    fn bytes(&self) -> u64 {
        match self {
            Slot::Fetching(n) => *n,
            Slot::Ready(b) => b.len() as u64,
        }
    }
}

impl SmFile {
    /// The logical file `path`: its metadata read and checked (objects tile the file).
    pub fn open(storage: &Storage, path: &Path) -> Result<SmFile, Error> {
        let meta = storage.metadata(path)?;
        let len = meta.objects.last().map_or(0, |o| o.offset + o.length);
        Ok(SmFile(Arc::new(Shared {
            storage: storage.clone(),
            path: path.to_path_buf(),
            first_dir: storage.first_dir(path)?,
            objects: meta.objects,
            len,
            kept: Mutex::new(BTreeMap::new()),
            arrived: Condvar::new(),
        })))
    }

    /// The objects kept now and their bytes (fetched or being fetched).
    pub fn kept(&self) -> (usize, u64) {
        let kept = self.0.lock();
        (kept.len(), kept.values().map(Slot::bytes).sum())
    }
}

impl Shared {
    /// The objects that hold bytes of `range`.
    fn covering(&self, range: Range<u64>) -> Range<usize> {
        let first = self
            .objects
            .partition_point(|o| o.offset + o.length <= range.start);
        let end = self.objects.partition_point(|o| o.offset < range.end);
        first..end.max(first)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<usize, Slot>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Object `i`, as kept, or fetched now (waiting for a fetch already under way).
    fn object(&self, i: usize) -> Result<Arc<Vec<u8>>, Error> {
        let mut kept = self.lock();
        loop {
            match kept.get(&i) {
                Some(Slot::Ready(b)) => return Ok(b.clone()),
                Some(Slot::Fetching(_)) => {
                    kept = self.arrived.wait(kept).unwrap_or_else(|p| p.into_inner());
                }
                None => break,
            }
        }
        kept.insert(i, Slot::Fetching(self.objects[i].length));
        drop(kept);
        self.fetch(i)
    }

    /// Fetch object `i` (marked as being fetched) and keep it, making room by dropping the
    /// objects kept furthest from it; a failed fetch is forgotten (the next reader tries again
    /// and gets the error itself).
    fn fetch(&self, i: usize) -> Result<Arc<Vec<u8>>, Error> {
        let fetched = self
            .storage
            .object(&self.path, &self.first_dir, &self.objects[i])
            .map(Arc::new);
        let mut kept = self.lock();
        match &fetched {
            Ok(b) => {
                kept.insert(i, Slot::Ready(b.clone()));
                while kept.values().map(Slot::bytes).sum::<u64>() > KEPT_BYTES {
                    let far = kept
                        .iter()
                        .filter(|(&k, s)| k != i && matches!(s, Slot::Ready(_)))
                        .max_by_key(|(&k, _)| k.abs_diff(i))
                        .map(|(&k, _)| k);
                    match far {
                        Some(k) => kept.remove(&k),
                        None => break,
                    };
                }
            }
            Err(_) => {
                kept.remove(&i);
            }
        }
        drop(kept);
        self.arrived.notify_all();
        fetched
    }
}

impl RangeSource for SmFile {
    fn len(&self) -> u64 {
        self.0.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let file = &self.0;
        let end = offset + buf.len() as u64;
        for i in file.covering(offset..end) {
            let o = &file.objects[i];
            let bytes = file.object(i)?;
            let from = offset.max(o.offset);
            let to = end.min(o.offset + o.length);
            let src = (from - o.offset) as usize..(to - o.offset) as usize;
            let dst = (from - offset) as usize..(to - offset) as usize;
            match bytes.get(src) {
                Some(s) => buf[dst].copy_from_slice(s),
                // `Storage::object` gives exactly the metadata's length; never reached.
                None => {
                    return Err(Error::Object {
                        path: file.path.clone(),
                        key: o.key.clone(),
                        offset: o.offset,
                        detail: format!("assembled to {} bytes, not {}", bytes.len(), o.length),
                    })
                }
            }
        }
        Ok(())
    }

    fn will_need(&self, range: Range<u64>) {
        // Claim the objects not kept yet, as long as the file's budget allows, then fetch them
        // in order on a thread of their own: the scan does not wait for them.
        let file = &self.0;
        let mut claimed = Vec::new();
        {
            let mut kept = file.lock();
            let mut total: u64 = kept.values().map(Slot::bytes).sum();
            for i in file.covering(range) {
                if kept.contains_key(&i) {
                    continue;
                }
                let n = file.objects[i].length;
                if total + n > KEPT_BYTES {
                    break;
                }
                total += n;
                kept.insert(i, Slot::Fetching(n));
                claimed.push(i);
            }
        }
        if claimed.is_empty() {
            return;
        }
        let file = Arc::clone(file);
        std::thread::spawn(move || {
            for i in claimed {
                // An error is not kept: the reader that needs the object fetches it again and
                // reports it.
                let _ = file.fetch(i);
            }
        });
    }

    fn done_with(&self, range: Range<u64>) {
        let mut kept = self.0.lock();
        let objects = &self.0.objects;
        kept.retain(|&i, s| {
            matches!(s, Slot::Fetching(_)) || objects[i].offset + objects[i].length > range.end
        });
    }
}
