//! A catalog segment file in memory (CAT §3.1; SEG §4).
//!
//! Catalog files are uncompressed: plain 8192-byte blocks with no header, the value of row `r` of a
//! column of width `w` at byte `r × w`. They are small (a few MiB), so they are read whole.
//!
//! | bytes | content |
//! |---|---|
//! | `r·w .. r·w+w` | row `r` of a column of storage width `w`, little-endian |
//! | `f·8192 .. f·8192+8192` | block `f` (dictionary files: one dictionary block, SEG §6.1) |
//!
//! A file whose length is not a whole number of blocks is truncated: loading it fails with the
//! offset of the incomplete block.
//!
//! Legacy HDFS installations stored the catalog compressed (type 2, CAT §1 item 4). A file that starts
//! with the compressed-file magic is read through [`SegmentFile`] and its chunks are concatenated,
//! which gives the same block array. Every file is loaded once, with the caller's [`Access`], into a
//! [`LoadedCatalog`] that the reader, the token checks and the layout inference share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{DecodeError, Error};
use crate::seg::file::{
    Access, ChunkReader, FileBytes, FileOpener, Layout, LocalFiles, SegmentFile,
};
use crate::seg::header::ControlHeader;
use crate::types::{Oid, BLOCK_SIZE, CHUNK_BYTES};

/// The catalog files found on disk: catalog OID → path of its (partition 0, segment 0) file.
pub type CatalogFiles = BTreeMap<Oid, PathBuf>;

/// Every catalog file, each read into memory once; the reader, the token checks and the layout
/// inference all work on it. Files that could not be loaded are kept with their error.
#[derive(Debug, Default)]
pub struct LoadedCatalog {
    pub(crate) files: BTreeMap<Oid, CatalogFile>,
    failed: BTreeMap<Oid, Error>,
}

impl LoadedCatalog {
    /// Load every file of `files` with `access`; the first file that cannot be loaded is the error.
    pub fn load(files: &CatalogFiles, access: Access) -> Result<Self, Error> {
        let mut loaded = Self::load_each(files, access);
        match loaded.failed.pop_first() {
            Some((_, e)) => Err(e),
            None => Ok(loaded),
        }
    }

    /// Load every file of `files` with `access`, keeping the ones that fail with their error.
    pub fn load_each(files: &CatalogFiles, access: Access) -> Self {
        Self::load_each_with(files, access, &LocalFiles)
    }

    /// [`LoadedCatalog::load_each`], reading the files through `opener`.
    pub fn load_each_with(files: &CatalogFiles, access: Access, opener: &dyn FileOpener) -> Self {
        // On the caller's rayon pool: the catalog is read (and decompressed) before the scan
        // can start, so one file after another would leave every other worker idle (issue 11,
        // 2 threads vs 1).
        // And beside the workers, one thread asks for every file at once: a cold disk then
        // reads them all while the workers load them one by one (each file's own read-ahead
        // alone kept the disk a file's length ahead of each worker).
        use rayon::prelude::*;
        let loaded: Vec<(Oid, Result<CatalogFile, Error>)> = std::thread::scope(|scope| {
            // Without the thread (it could not start) the files load all the same.
            let _ = std::thread::Builder::new()
                .name("emrebuild-catalog-read-ahead".into())
                .spawn_scoped(scope, || {
                    files.values().for_each(|path| opener.will_need(path))
                });
            files
                .par_iter()
                .map(|(&oid, path)| (oid, CatalogFile::load_with(path, access, opener)))
                .collect()
        });
        let mut out = Self::default();
        for (oid, r) in loaded {
            match r {
                Ok(f) => {
                    out.files.insert(oid, f);
                }
                Err(e) => {
                    out.failed.insert(oid, e);
                }
            }
        }
        out
    }

    /// File images already in memory (catalog OID → (path for messages, uncompressed bytes)):
    /// the fuzz target, which has no files.
    pub fn from_memory(files: BTreeMap<Oid, (PathBuf, Vec<u8>)>) -> Self {
        Self {
            files: files
                .into_iter()
                .map(|(oid, (path, bytes))| (oid, CatalogFile::from_bytes(path, bytes)))
                .collect(),
            failed: BTreeMap::new(),
        }
    }

    /// The OIDs whose file was loaded.
    pub fn oids(&self) -> impl Iterator<Item = Oid> + '_ {
        self.files.keys().copied()
    }

    /// Whether no file was found at all (loaded or not).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.failed.is_empty()
    }

    /// Files that could not be loaded, with why.
    pub fn failed(&self) -> &BTreeMap<Oid, Error> {
        &self.failed
    }

    /// The bytes of the file at `path` as loaded (for the plan stage to open it as a segment file
    /// without reading it again), if it is one of the loaded catalog files.
    pub fn raw_bytes(&self, path: &Path) -> Option<FileBytes> {
        self.files
            .values()
            .find(|f| f.path == path)
            .map(|f| f.raw.clone())
    }

    /// The path of `oid`'s file, loaded or not.
    pub fn path(&self, oid: Oid) -> Option<&Path> {
        self.files
            .get(&oid)
            .map(CatalogFile::path)
            .or_else(|| self.failed.get(&oid).and_then(Error::path))
    }
}

/// One catalog column or dictionary file, read into memory.
#[derive(Debug)]
pub(crate) struct CatalogFile {
    path: PathBuf,
    /// The blocks (decompressed, for a compressed file).
    bytes: FileBytes,
    /// The file's bytes as loaded (the same as `bytes` for an uncompressed file).
    raw: FileBytes,
}

impl CatalogFile {
    /// Read `path` through `opener` with `access`; it must be a whole number of blocks, or a
    /// compressed file.
    pub(crate) fn load_with(
        path: &Path,
        access: Access,
        opener: &dyn FileOpener,
    ) -> Result<Self, Error> {
        let bytes = opener.load(path, access)?;
        if ControlHeader::is_compressed(&bytes) {
            return Self::load_compressed(path, bytes);
        }
        let partial = bytes.len() % BLOCK_SIZE;
        if partial != 0 {
            let offset = (bytes.len() - partial) as u64;
            return Err(DecodeError::truncated(
                offset,
                format!(
                    "catalog block {} ({BLOCK_SIZE} bytes)",
                    offset / BLOCK_SIZE as u64
                ),
                partial as u64,
            )
            .in_file(path));
        }
        Ok(Self {
            path: path.to_path_buf(),
            raw: bytes.clone(),
            bytes,
        })
    }

    /// The uncompressed blocks of a compressed file (already in memory): its chunks in order.
    /// Every chunk but the last must hold 4 MiB, or the rows after it would move.
    fn load_compressed(path: &Path, raw: FileBytes) -> Result<Self, Error> {
        let file = SegmentFile::from_bytes(path, raw.clone())?;
        let chunks = match file.layout() {
            Layout::Compressed { chunks, .. } => chunks.clone(),
            Layout::Uncompressed { .. } => Vec::new(),
        };
        let mut bytes = Vec::new();
        let mut reader = ChunkReader::new();
        for (i, slot) in chunks.iter().enumerate() {
            let data = file.chunk_data(i as u32, &mut reader)?;
            if data.len() != CHUNK_BYTES && i + 1 < chunks.len() {
                return Err(DecodeError::invalid(
                    slot.offset,
                    "decompressed chunk length",
                    format!("{CHUNK_BYTES} bytes (a chunk before the last)"),
                    data.len(),
                )
                .in_file(path));
            }
            bytes.extend_from_slice(data);
        }
        Ok(Self {
            path: path.to_path_buf(),
            bytes: bytes.into(),
            raw,
        })
    }

    /// A file already in memory (no length check).
    pub(crate) fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Self {
        let bytes: FileBytes = bytes.into();
        Self {
            path,
            raw: bytes.clone(),
            bytes,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whole blocks in the file.
    pub(crate) fn blocks(&self) -> u64 {
        (self.bytes.len() / BLOCK_SIZE) as u64
    }

    /// Rows of width `width` the file holds.
    pub(crate) fn rows(&self, width: u16) -> u64 {
        if width == 0 {
            0
        } else {
            (self.bytes.len() / usize::from(width)) as u64
        }
    }

    /// The little-endian value of row `rid` for storage width `width` (1, 2, 4 or 8), or `None` past the
    /// end of the file.
    pub(crate) fn value(&self, rid: u64, width: u16) -> Option<u64> {
        let w = usize::from(width);
        if w == 0 || w > 8 {
            return None;
        }
        let start = usize::try_from(rid).ok()?.checked_mul(w)?;
        let bytes = self.bytes.get(start..start.checked_add(w)?)?;
        let mut buf = [0u8; 8];
        buf[..w].copy_from_slice(bytes);
        Some(u64::from_le_bytes(buf))
    }

    /// Block `fbo`, or `None` past the end of the file.
    pub(crate) fn block(&self, fbo: u64) -> Option<&[u8]> {
        let start = usize::try_from(fbo).ok()?.checked_mul(BLOCK_SIZE)?;
        self.bytes.get(start..start.checked_add(BLOCK_SIZE)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The local files, with the paths asked for ahead noted.
    #[derive(Default)]
    struct Noting(Mutex<Vec<PathBuf>>);

    impl FileOpener for Noting {
        fn load(&self, path: &Path, access: Access) -> Result<FileBytes, Error> {
            LocalFiles.load(path, access)
        }
        fn open_segment(
            &self,
            path: &Path,
            access: Access,
            max_len: Option<u64>,
        ) -> Result<SegmentFile, Error> {
            LocalFiles.open_segment(path, access, max_len)
        }
        fn will_need(&self, path: &Path) {
            self.0.lock().unwrap().push(path.to_path_buf());
        }
    }

    #[test]
    fn every_catalog_file_is_asked_for_ahead_of_its_load() {
        let dir = tempfile::tempdir().unwrap();
        let files: CatalogFiles = (0..5)
            .map(|i| {
                let path = dir.path().join(format!("FILE00{i}.cdf"));
                std::fs::write(&path, vec![0u8; 8192]).unwrap();
                (Oid(1001 + i), path)
            })
            .collect();
        let opener = Noting::default();
        let loaded = LoadedCatalog::load_each_with(&files, Access::Mmap, &opener);
        assert_eq!(loaded.oids().count() + loaded.failed.len(), files.len());
        let mut asked = opener.0.into_inner().unwrap();
        asked.sort();
        assert_eq!(asked, files.values().cloned().collect::<Vec<_>>());
    }
}
