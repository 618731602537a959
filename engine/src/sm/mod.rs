//! StorageManager (ColumnStore on object storage): each segment file is a logical file made of
//! objects, listed by a metadata file, each object possibly followed by a journal of writes not
//! yet merged into it (EM §4.6).
//!
//! | what | where (`storagemanager.cnf`, see [`config`]) | upstream |
//! |---|---|---|
//! | a file's name | its path without the first `common_prefix_depth` directories: `/var/lib/columnstore/data1/000.dir/…` → `data1/000.dir/…` | Ownership.cpp:74-101 |
//! | metadata | `<metadata_path>/<name>.meta` | MetadataFile.cpp:125 |
//! | cached object | `<Cache path>/<first dir of name>/<key>` | IOCoordinator.cpp:179-180, 235 |
//! | journal | `<journal_path>/<first dir of name>/<key>.journal` | IOCoordinator.cpp:214 |
//! | object not cached | `<LocalStorage path>/<key>`, or `<S3 prefix><key>` in the bucket | LocalStorage.cpp:134; S3Storage.cpp:378 |
//!
//! [`Storage::assemble`] gives the bytes ColumnStore would read (IOCoordinator::read,
//! IOCoordinator.cpp:163-300): the objects in offset order, each with its journal applied and cut
//! to its metadata length. Nothing is ever written to the cache, the journals or the bucket.
//!
//! [`Storage::walk`] lists the metadata folders of the DBRoots the way the rebuild's DBRoot walk
//! lists the DBRoots, so the rest of the rebuild sees the same segment identities. The rebuild
//! reads each logical file by range, objects fetched ahead of the scan ([`stream`]); nothing is
//! copied to a scratch folder ([`view`] runs the rebuild and reports logical paths).

pub mod backend;
pub mod config;
pub mod journal;
pub mod metadata;
pub mod stream;
pub mod view;

use crate::error::Error;
use crate::rebuild::walk::{FoundFile, Skipped, WalkResult};
use crate::seg::path::{parse_segment_path, NotSegmentPath};
use crate::types::DbRootId;
use backend::Backend;
use config::SmConfig;
use journal::Journal;
use metadata::{MetadataFile, MetadataObject};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Suffix of metadata files (MetadataFile.cpp:125).
pub const META_SUFFIX: &str = ".meta";
/// Suffix of journal files (IOCoordinator.cpp:214).
pub const JOURNAL_SUFFIX: &str = ".journal";

/// A StorageManager installation opened for reading. Cloning shares it (the logical files the
/// scan reads hold a clone).
#[derive(Debug, Clone)]
pub struct Storage {
    config: Arc<SmConfig>,
    backend: Arc<Backend>,
}

impl Storage {
    /// Open the backend `config` names (no request is sent yet).
    pub fn open(config: SmConfig) -> Result<Self, Error> {
        let backend = Backend::new(&config.service).map_err(|detail| Error::Config {
            path: config.file.clone(),
            detail,
        })?;
        Ok(Storage {
            config: Arc::new(config),
            backend: Arc::new(backend),
        })
    }

    /// Bytes per ranged GET from S3 (default [`backend::RANGE_BYTES`]); set it before the
    /// storage is cloned (a shared backend is left as it is).
    #[must_use]
    pub fn with_range_bytes(mut self, bytes: u64) -> Self {
        if let Some(backend) = Arc::get_mut(&mut self.backend) {
            backend.set_range_bytes(bytes);
        }
        self
    }

    /// The configuration this storage was opened with.
    pub fn config(&self) -> &SmConfig {
        &self.config
    }

    /// StorageManager's name for `path`: the lexically normalised path without its first
    /// `common_prefix_depth` directories (the root counts as an element, as in boost's path
    /// iteration; Ownership.cpp:80-90).
    pub fn sm_name(&self, path: &Path) -> Result<PathBuf, Error> {
        let mut parts: Vec<Component<'_>> = Vec::new();
        for c in path.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let depth = self.config.common_prefix_depth;
        let skip = if depth > 0 { depth + 1 } else { 0 };
        let name: PathBuf = parts
            .iter()
            .skip(skip)
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if name.as_os_str().is_empty() {
            return Err(Error::Config {
                path: self.config.file.clone(),
                detail: format!(
                    "{} has no directory left below common_prefix_depth {depth}",
                    path.display()
                ),
            });
        }
        Ok(name)
    }

    /// The metadata file of the logical file `path`.
    pub fn metadata_file(&self, path: &Path) -> Result<PathBuf, Error> {
        let mut name = self.sm_name(path)?.into_os_string();
        name.push(META_SUFFIX);
        Ok(self.config.metadata_path.join(name))
    }

    /// Read and parse the metadata of the logical file `path`, with its objects sorted by
    /// offset and checked to tile the file from 0 without gap or overlap.
    pub fn metadata(&self, path: &Path) -> Result<MetadataFile, Error> {
        let meta_path = self.metadata_file(path)?;
        let bytes = std::fs::read(&meta_path).map_err(|e| Error::io(&meta_path, "read", e))?;
        let mut meta = MetadataFile::parse(&bytes).map_err(|e| e.in_file(&meta_path))?;
        meta.objects.sort_by_key(|o| o.offset);
        let mut end = 0u64;
        let mut prev: Option<&MetadataObject> = None;
        for o in &meta.objects {
            if o.offset != end {
                let detail = match prev {
                    Some(p) if o.offset < end => format!(
                        "overlaps object {} (offset {}, length {}) in {}",
                        p.key,
                        p.offset,
                        p.length,
                        meta_path.display()
                    ),
                    _ => format!(
                        "leaves a gap: the previous object ends at {end} ({})",
                        meta_path.display()
                    ),
                };
                return Err(object_error(path, o, detail));
            }
            end = o
                .offset
                .checked_add(o.length)
                .ok_or_else(|| object_error(path, o, format!("length {} overflows", o.length)))?;
            prev = Some(o);
        }
        Ok(meta)
    }

    /// The bytes ColumnStore reads from the logical file `path`.
    pub fn assemble(&self, path: &Path) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.assemble_into(path, &mut out)?;
        Ok(out)
    }

    /// Write the bytes of the logical file `path` to `out`, one object at a time (memory: one
    /// object and its journal). Returns the number of bytes written.
    pub fn assemble_into(&self, path: &Path, out: &mut dyn Write) -> Result<u64, Error> {
        let meta = self.metadata(path)?;
        let first_dir = self.first_dir(path)?;
        let mut written = 0u64;
        for o in &meta.objects {
            let bytes = self.object(path, &first_dir, o)?;
            out.write_all(&bytes).map_err(|e| {
                object_error(path, o, format!("cannot write the assembled bytes: {e}"))
            })?;
            written += bytes.len() as u64;
        }
        Ok(written)
    }

    /// One object as ColumnStore reads it: from the cache or else the backend, journal applied.
    pub(crate) fn object(
        &self,
        path: &Path,
        first_dir: &Path,
        o: &MetadataObject,
    ) -> Result<Vec<u8>, Error> {
        let cached = self.config.cache_path.join(first_dir).join(&o.key);
        let object = match std::fs::File::open(&cached) {
            Ok(f) => {
                let mut buf = Vec::new();
                f.take(o.length)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(&cached, "read", e))?;
                buf
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match self
                    .backend
                    .get(&o.key, o.length)
                    .map_err(|detail| object_error(path, o, detail))?
                {
                    Some(b) => b,
                    None => {
                        return Err(object_error(
                            path,
                            o,
                            format!(
                                "missing: neither in the cache ({}) nor in the backend ({})",
                                cached.display(),
                                self.backend.describe(&o.key)
                            ),
                        ))
                    }
                }
            }
            Err(e) => return Err(Error::io(&cached, "open", e)),
        };
        let mut jname = o.key.clone();
        jname.push_str(JOURNAL_SUFFIX);
        let jpath = self.config.journal_path.join(first_dir).join(jname);
        let jbytes = match std::fs::read(&jpath) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&jpath, "read", e)),
        };
        let journal =
            match &jbytes {
                Some(b) => Some(Journal::parse(b).map_err(|e| {
                    object_error(path, o, format!("journal {}: {e}", jpath.display()))
                })?),
                None => None,
            };
        journal::merge(&object, journal.as_ref(), o.length)
            .map_err(|detail| object_error(path, o, detail))
    }

    /// The first directory of StorageManager's name for `path`: where its cached objects and
    /// journals are (IOCoordinator.cpp:179-180, 214).
    pub(crate) fn first_dir(&self, path: &Path) -> Result<PathBuf, Error> {
        Ok(self
            .sm_name(path)?
            .components()
            .next()
            .map(|c| c.as_os_str().into())
            .unwrap_or_default())
    }

    /// The logical segment file `path`, its header checked, its chunks read by range from its
    /// objects ([`stream::SmFile`]).
    pub fn open_segment(&self, path: &Path) -> Result<crate::seg::file::SegmentFile, Error> {
        let file = stream::SmFile::open(self, path)?;
        crate::seg::file::SegmentFile::from_source(path, Arc::new(file))
    }

    /// Every logical file under the metadata folders of `dbroots` (DBRoot id → the DBRoot's path
    /// as ColumnStore names it), as the DBRoot walk reports files: segment files sorted by
    /// identity with their logical paths, other files skipped, missing folders damaged.
    pub fn walk(&self, dbroots: &BTreeMap<DbRootId, PathBuf>) -> WalkResult {
        let mut out = WalkResult::default();
        for (&dbroot, root) in dbroots {
            let dir = match self.sm_name(root) {
                Ok(name) => self.config.metadata_path.join(name),
                Err(e) => {
                    out.damaged.push((root.clone(), e));
                    continue;
                }
            };
            if !dir.is_dir() {
                let err = std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no StorageManager metadata folder {}", dir.display()),
                );
                out.damaged
                    .push((root.clone(), Error::io(root, "walk DBRoot", err)));
                continue;
            }
            for entry in walkdir::WalkDir::new(&dir)
                .follow_links(false)
                .sort_by_file_name()
            {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        out.damaged.push(crate::rebuild::walk::walk_error(e, &dir));
                        continue;
                    }
                };
                if entry.file_type().is_dir() {
                    continue;
                }
                let rel = entry.path().strip_prefix(&dir).unwrap_or(entry.path());
                let Some(logical_rel) = rel
                    .to_str()
                    .and_then(|s| s.strip_suffix(META_SUFFIX))
                    .map(PathBuf::from)
                else {
                    out.skipped.push(Skipped {
                        path: entry.path().to_path_buf(),
                        reason: NotSegmentPath::NotMetadataFile {
                            name: entry.file_name().to_string_lossy().into_owned(),
                        },
                    });
                    continue;
                };
                let path = root.join(&logical_rel);
                match parse_segment_path(&logical_rel) {
                    Ok(id) => out.files.push(FoundFile { dbroot, id, path }),
                    Err(reason) => out.skipped.push(Skipped { path, reason }),
                }
            }
        }
        out.files.sort_by_key(|f| (f.id, f.dbroot));
        out
    }
}

fn object_error(path: &Path, o: &MetadataObject, detail: String) -> Error {
    Error::Object {
        path: path.to_path_buf(),
        key: o.key.clone(),
        offset: o.offset,
        detail,
    }
}
