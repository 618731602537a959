//! Create, check, list and prune backups (layout in [`super`]).

use super::manifest::{EmSummary, Manifest, ManifestFile, FORMAT, MANIFEST_NAME};
use crate::dbrm::journal::count_records;
use crate::dbrm::{digest, DbrmFolder, Role};
use crate::em::ExtentMap;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

const OBJECTS: &str = "objects";

/// What the caller knows that the engine does not: the tool version, the time, the lock.
#[derive(Debug, Clone)]
pub struct CreateMeta {
    /// emrebuild's version.
    pub tool_version: String,
    /// UTC `YYYYMMDDTHHMMSSZ`.
    pub created: String,
    /// Seconds since 1970.
    pub created_unix: u64,
    /// Taken under `FLUSH TABLES WITH READ LOCK` after `save_brm`.
    pub locked: bool,
}

/// A created backup.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Contents stored for the first time.
    pub new_objects: usize,
    /// Contents already stored by an earlier backup (no space used).
    pub reused_objects: usize,
}

/// Copy the save set ColumnStore would load from `folder` into `root/name`.
pub fn create(folder: &DbrmFolder, root: &Path, name: &str, meta: &CreateMeta) -> Result<Created> {
    check_name(name)?;
    let dest = root.join(name);
    if fs::symlink_metadata(&dest).is_ok() {
        return Err(Error::Usage(format!(
            "{}: a backup of that name exists",
            dest.display()
        )));
    }
    let set = folder.loaded_set()?;
    let objects = root.join(OBJECTS);
    fs::create_dir_all(&objects).map_err(|e| Error::io(&objects, "create", e))?;
    let tmp = root.join(format!(".tmp-{name}-{}", std::process::id()));
    if fs::symlink_metadata(&tmp).is_ok() {
        // Our own left-over of an earlier run with the same pid: never a finished backup.
        fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, "remove the left-over", e))?;
    }
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
    let result = fill(folder, &set, &objects, &tmp, meta);
    let (manifest, new_objects, reused_objects) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    sync_dir(&objects)?;
    sync_dir(&tmp)?;
    fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, "rename into place", e))?;
    sync_dir(root)?;
    Ok(Created {
        dir: dest,
        manifest,
        new_objects,
        reused_objects,
    })
}

fn fill(
    folder: &DbrmFolder,
    set: &crate::dbrm::SaveSet,
    objects: &Path,
    tmp: &Path,
    meta: &CreateMeta,
) -> Result<(Manifest, usize, usize)> {
    let (mut new, mut reused) = (0, 0);
    let mut files = Vec::new();
    let mut summary = None;
    for f in set.files.iter().filter(|f| f.present) {
        let src = folder.path(&f.name);
        // One read: the digest, the map summary and the stored copy all come from these bytes.
        let bytes = fs::read(&src).map_err(|e| Error::io(&src, "read", e))?;
        let hex = digest(&bytes);
        if f.role == Role::Em {
            let map = ExtentMap::parse(&bytes).map_err(|e| e.in_file(&src))?;
            summary = Some(EmSummary::of(&map));
        }
        if f.role == Role::Journal {
            // A record cut short was being appended while read: not a state ColumnStore was in.
            count_records(&bytes).map_err(|e| e.in_file(&src))?;
        }
        let obj = objects.join(&hex);
        if obj.is_file() {
            reused += 1;
        } else {
            write_atomic(&obj, &bytes)?;
            new += 1;
        }
        let link = tmp.join(&f.name);
        fs::hard_link(&obj, &link).map_err(|e| Error::io(&link, "link", e))?;
        files.push(ManifestFile {
            role: f.role,
            name: f.name.clone(),
            size: bytes.len() as u64,
            blake3: hex,
        });
    }
    // A snapshot taken during the copy rewrites `_current`: the files copied may mix two states.
    let current = folder.path(&folder.base_name("_current"));
    let now = fs::read(&current).map_err(|e| Error::io(&current, "read", e))?;
    let copied = files.iter().find(|f| f.role == Role::Current);
    if copied.map(|f| f.blake3.as_str()) != Some(digest(&now).as_str()) {
        return Err(Error::Config {
            path: current,
            detail: "changed during the copy (a snapshot was taken); run again, or use --lock"
                .into(),
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        tool_version: meta.tool_version.clone(),
        created: meta.created.clone(),
        created_unix: meta.created_unix,
        source: folder.dir.clone(),
        base: folder.base.clone(),
        loaded_prefix: set.current.slot.prefix(&folder.base),
        locked: meta.locked,
        files,
        extent_map: summary.expect("loaded_set requires the extent map"),
    };
    let path = tmp.join(MANIFEST_NAME);
    let mut out = File::create(&path).map_err(|e| Error::io(&path, "create", e))?;
    serde_json::to_writer_pretty(&mut out, &manifest)
        .map_err(|e| Error::io(&path, "write", e.into()))?;
    out.write_all(b"\n")
        .map_err(|e| Error::io(&path, "write", e))?;
    out.sync_all().map_err(|e| Error::io(&path, "fsync", e))?;
    Ok((manifest, new, reused))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.starts_with('.') || name.contains('/') || name == OBJECTS {
        return Err(Error::Usage(format!(
            "backup name {name:?}: must be non-empty, not start with '.', hold no '/', and not be {OBJECTS:?}"
        )));
    }
    Ok(())
}

/// Why a backup is NG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// No `manifest.json`.
    ManifestMissing,
    /// `manifest.json` does not decode.
    ManifestInvalid { detail: String },
    /// A file the manifest lists is absent.
    FileMissing { name: String },
    /// A file's size differs from the manifest.
    SizeMismatch {
        name: String,
        expected: u64,
        found: u64,
    },
    /// A file's BLAKE3 differs from the manifest.
    DigestMismatch {
        name: String,
        expected: String,
        found: String,
    },
    /// The manifest lists no extent map.
    NoExtentMap,
    /// The extent map does not decode.
    MapInvalid { detail: String },
    /// The extent map decodes, but not to what the manifest says.
    SummaryMismatch { expected: String, found: String },
    /// The journal ends inside a record.
    JournalTorn { detail: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ManifestMissing => write!(f, "{MANIFEST_NAME} is missing"),
            Problem::ManifestInvalid { detail } => {
                write!(f, "{MANIFEST_NAME} does not decode: {detail}")
            }
            Problem::FileMissing { name } => write!(f, "{name} is missing"),
            Problem::SizeMismatch {
                name,
                expected,
                found,
            } => {
                write!(f, "{name}: size {found}, manifest says {expected}")
            }
            Problem::DigestMismatch {
                name,
                expected,
                found,
            } => {
                write!(f, "{name}: blake3 {found}, manifest says {expected}")
            }
            Problem::NoExtentMap => write!(f, "the manifest lists no extent map"),
            Problem::MapInvalid { detail } => write!(f, "the extent map does not decode: {detail}"),
            Problem::SummaryMismatch { expected, found } => {
                write!(f, "the extent map holds {found}, manifest says {expected}")
            }
            Problem::JournalTorn { detail } => {
                write!(f, "the journal ends inside a record: {detail}")
            }
        }
    }
}

/// The verdict on one backup.
#[derive(Debug, Clone, Serialize)]
pub struct BackupCheck {
    /// The backup's folder name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The manifest, when it decodes.
    pub manifest: Option<Manifest>,
    /// Empty: OK. Otherwise NG, and why.
    pub problems: Vec<Problem>,
}

impl BackupCheck {
    /// `true` when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Re-check one backup folder: the manifest decodes, every file is there with its size and
/// digest, and the extent map decodes to the summary recorded.
pub fn check(dir: &Path) -> BackupCheck {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut problems = Vec::new();
    let manifest = match fs::read(dir.join(MANIFEST_NAME)) {
        Err(_) => {
            problems.push(Problem::ManifestMissing);
            None
        }
        Ok(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if m.format == FORMAT => Some(m),
            Ok(m) => {
                problems.push(Problem::ManifestInvalid {
                    detail: format!("format {:?}, expected {FORMAT:?}", m.format),
                });
                None
            }
            Err(e) => {
                problems.push(Problem::ManifestInvalid {
                    detail: e.to_string(),
                });
                None
            }
        },
    };
    if let Some(m) = &manifest {
        check_files(dir, m, &mut problems);
    }
    BackupCheck {
        name,
        dir: dir.to_path_buf(),
        manifest,
        problems,
    }
}

fn check_files(dir: &Path, m: &Manifest, problems: &mut Vec<Problem>) {
    if m.file(Role::Em).is_none() {
        problems.push(Problem::NoExtentMap);
    }
    for f in &m.files {
        let Ok(bytes) = fs::read(dir.join(&f.name)) else {
            problems.push(Problem::FileMissing {
                name: f.name.clone(),
            });
            continue;
        };
        if bytes.len() as u64 != f.size {
            problems.push(Problem::SizeMismatch {
                name: f.name.clone(),
                expected: f.size,
                found: bytes.len() as u64,
            });
        }
        let found = digest(&bytes);
        if found != f.blake3 {
            problems.push(Problem::DigestMismatch {
                name: f.name.clone(),
                expected: f.blake3.clone(),
                found,
            });
        }
        if f.role == Role::Journal {
            if let Err(e) = count_records(&bytes) {
                problems.push(Problem::JournalTorn {
                    detail: e.to_string(),
                });
            }
        }
        if f.role == Role::Em {
            match ExtentMap::parse(&bytes) {
                Err(e) => problems.push(Problem::MapInvalid {
                    detail: e.to_string(),
                }),
                Ok(map) => {
                    let s = EmSummary::of(&map);
                    if s != m.extent_map {
                        problems.push(Problem::SummaryMismatch {
                            expected: format!("{:?}", m.extent_map),
                            found: format!("{s:?}"),
                        });
                    }
                }
            }
        }
    }
}

/// Every backup under `root`, oldest first (by manifest time, then name; unreadable ones last).
pub fn list(root: &Path) -> Result<Vec<BackupCheck>> {
    let entries = fs::read_dir(root).map_err(|e| Error::io(root, "list", e))?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|err| Error::io(root, "list", err))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == OBJECTS || !e.path().is_dir() {
            continue;
        }
        out.push(check(&e.path()));
    }
    out.sort_by(|a, b| {
        let key = |c: &BackupCheck| c.manifest.as_ref().map_or(u64::MAX, |m| m.created_unix);
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

/// What [`prune`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pruned {
    /// Backup folders removed, oldest first.
    pub backups: Vec<String>,
    /// Objects no remaining manifest refers to, removed.
    pub objects: usize,
}

/// Keep the newest `retain` backups whose manifest decodes; remove the older ones and every
/// object no remaining manifest refers to. Backups whose manifest does not decode are never
/// removed (their age is unknown) and their folders keep their own hard links.
pub fn prune(root: &Path, retain: usize) -> Result<Pruned> {
    let all = list(root)?;
    let dated: Vec<&BackupCheck> = all.iter().filter(|c| c.manifest.is_some()).collect();
    let mut pruned = Pruned::default();
    let cut = dated.len().saturating_sub(retain);
    for c in &dated[..cut] {
        fs::remove_dir_all(&c.dir).map_err(|e| Error::io(&c.dir, "remove", e))?;
        pruned.backups.push(c.name.clone());
    }
    let keep: BTreeSet<&str> = dated[cut..]
        .iter()
        .filter_map(|c| c.manifest.as_ref())
        .flat_map(|m| m.files.iter().map(|f| f.blake3.as_str()))
        .collect();
    let objects = root.join(OBJECTS);
    if let Ok(entries) = fs::read_dir(&objects) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_object = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if is_object && !keep.contains(name.as_str()) {
                fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), "remove", err))?;
                pruned.objects += 1;
            }
        }
    }
    sync_dir(root)?;
    Ok(pruned)
}

/// The extent map and journal of a checked backup, for a restore.
pub fn read_role(dir: &Path, m: &Manifest, role: Role) -> Result<Option<Vec<u8>>> {
    let Some(f) = m.file(role) else {
        return Ok(None);
    };
    let p = dir.join(&f.name);
    let bytes = fs::read(&p).map_err(|e| Error::io(&p, "read", e))?;
    if digest(&bytes) != f.blake3 {
        return Err(Error::Config {
            path: p,
            detail: "changed since it was checked".into(),
        });
    }
    Ok(Some(bytes))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}
