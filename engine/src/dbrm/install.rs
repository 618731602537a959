//! Put an extent map in place so that ColumnStore loads exactly that map, and survive a crash
//! at any point of it.
//!
//! What "loads exactly that map" needs (EM §4.3–4.5): the map is `<base>_em`; `_current` names
//! `<base>` (an `A`/`B` snapshot named there would be loaded instead); the journal holds nothing
//! to replay onto it (a journal written against another map would be replayed onto this one,
//! versioning/BRM/load_brm.cpp:95-101) and exists (`load_brm` fails without one,
//! versioning/BRM/slavecomm.cpp:2118-2125); `_vbbm` and `_vss` are empty, as the documented
//! recovery says, in the form ColumnStore can load ([`super::versioning`]). Every file replaced is
//! moved aside to `<name>.bad-<timestamp>`, never deleted.
//!
//! Crash safety. The new files are first written, fsynced (and given their owner) in a staging
//! folder inside the DBRM folder; then an intent file names them with their BLAKE3 digests; only
//! then are the old files moved aside and the staged ones renamed into place, `_current` last.
//! Interrupted before the intent file exists, nothing in use was touched; after it, [`resume`]
//! (which every install and restore runs first) finishes the same install. The intent file is
//! removed last.

use super::current::Current;
use super::owner::Owner;
use super::versioning::{EMPTY_VBBM, EMPTY_VSS};
use super::{digest, DbrmFolder};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The intent file, in the DBRM folder (a dot file: ColumnStore never reads it).
pub const INTENT_NAME: &str = ".emrebuild-install.json";
const STAGE_PREFIX: &str = ".emrebuild-stage-";

/// One file to put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Its name in the DBRM folder.
    pub name: String,
    /// Its whole content.
    pub bytes: Vec<u8>,
}

/// The complete set of files that makes ColumnStore load `em`: `<base>_em`, empty `<base>_vbbm`
/// and `<base>_vss`, `<base>_journal` (`journal`, or empty), and `<base>_current` naming `<base>`,
/// in the order they are put in place (`_current` last).
pub fn map_files(folder: &DbrmFolder, em: Vec<u8>, journal: Option<Vec<u8>>) -> Vec<NewFile> {
    let slot = folder.install_slot();
    let prefix = slot.prefix(&folder.base);
    vec![
        NewFile {
            name: format!("{prefix}_em"),
            bytes: em,
        },
        NewFile {
            name: format!("{prefix}_vbbm"),
            bytes: EMPTY_VBBM.to_vec(),
        },
        NewFile {
            name: format!("{prefix}_vss"),
            bytes: EMPTY_VSS.to_vec(),
        },
        NewFile {
            name: folder.base_name("_journal"),
            bytes: journal.unwrap_or_default(),
        },
        NewFile {
            name: folder.base_name("_current"),
            bytes: Current::encode(slot, &folder.base),
        },
    ]
}

/// What the intent file records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// What is being installed (for the report: a backup's path, "rebuilt map", ...).
    pub source: String,
    /// The timestamp used for `<name>.bad-<timestamp>`.
    pub timestamp: String,
    /// The staging folder's name, inside the DBRM folder.
    pub stage: String,
    /// Owner given to the staged files, if any.
    pub owner: Option<Owner>,
    /// The files, in install order.
    pub files: Vec<IntentFile>,
}

/// One file of an [`Intent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentFile {
    /// Name in the DBRM folder.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// One step of an install, as `--test` prints it and as it is carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Write the new files (fsynced, owner set) into the staging folder.
    Stage {
        dir: PathBuf,
        files: Vec<IntentFile>,
        owner: Option<Owner>,
    },
    /// Write the intent file: from here on, an interrupted install is finished by the next run.
    WriteIntent { path: PathBuf },
    /// Move a file in use aside (never deleted).
    MoveAside { from: PathBuf, to: PathBuf },
    /// Rename a staged file into place.
    Put {
        from: PathBuf,
        to: PathBuf,
        size: u64,
        blake3: String,
    },
    /// Remove the empty staging folder and the intent file; fsync the folder.
    Finish { intent: PathBuf },
}

/// A planned install: its steps and the staged contents.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The intent file's content.
    pub intent: Intent,
    /// Every step, in order.
    pub steps: Vec<Step>,
    files: Vec<NewFile>,
}

/// What an install did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Where the replaced files went.
    pub moved_aside: Vec<PathBuf>,
    /// The files put in place.
    pub installed: Vec<PathBuf>,
}

/// Plan installing `files` into `folder`. Nothing is written.
pub fn plan(
    folder: &DbrmFolder,
    source: &str,
    files: Vec<NewFile>,
    timestamp: &str,
    owner: Option<Owner>,
) -> Result<Plan> {
    let stage_name = format!("{STAGE_PREFIX}{timestamp}");
    let stage = folder.path(&stage_name);
    let listed: Vec<IntentFile> = files
        .iter()
        .map(|f| IntentFile {
            name: f.name.clone(),
            size: f.bytes.len() as u64,
            blake3: digest(&f.bytes),
        })
        .collect();
    let intent = Intent {
        source: source.to_string(),
        timestamp: timestamp.to_string(),
        stage: stage_name,
        owner,
        files: listed.clone(),
    };
    let mut steps = vec![
        Step::Stage {
            dir: stage.clone(),
            files: listed.clone(),
            owner,
        },
        Step::WriteIntent {
            path: folder.path(INTENT_NAME),
        },
    ];
    let mut taken = Vec::new();
    for f in &listed {
        let target = folder.path(&f.name);
        if fs::symlink_metadata(&target).is_ok() {
            let to = aside_name(&target, timestamp, &taken);
            taken.push(to.clone());
            steps.push(Step::MoveAside {
                from: target.clone(),
                to,
            });
        }
        steps.push(Step::Put {
            from: stage.join(&f.name),
            to: target,
            size: f.size,
            blake3: f.blake3.clone(),
        });
    }
    steps.push(Step::Finish {
        intent: folder.path(INTENT_NAME),
    });
    Ok(Plan {
        intent,
        steps,
        files,
    })
}

/// Carry out `plan`. `stop_after` stops (with an error) once that many steps are done — the
/// hook the interruption tests use; `None` in normal use.
pub fn apply(folder: &DbrmFolder, plan: &Plan, stop_after: Option<usize>) -> Result<Outcome> {
    if let Some(i) = pending(folder)? {
        return Err(Error::Usage(format!(
            "{}: an interrupted install of {} is pending; finish it first",
            folder.path(INTENT_NAME).display(),
            i.source
        )));
    }
    clear_stale_stages(folder)?;
    let mut counter = Counter {
        done: 0,
        stop_after,
    };
    // Step 1: stage.
    let stage = folder.path(&plan.intent.stage);
    fs::create_dir(&stage).map_err(|e| Error::io(&stage, "create", e))?;
    for f in &plan.files {
        let p = stage.join(&f.name);
        let mut out = File::create(&p).map_err(|e| Error::io(&p, "create", e))?;
        out.write_all(&f.bytes)
            .map_err(|e| Error::io(&p, "write", e))?;
        out.sync_all().map_err(|e| Error::io(&p, "fsync", e))?;
        if let Some(o) = &plan.intent.owner {
            o.apply(&p)?;
        }
    }
    sync_dir(&stage)?;
    sync_dir(&folder.dir)?;
    counter.step()?;
    // Step 2: the intent file; from here on the install is finished by whoever runs next.
    let json = serde_json::to_vec_pretty(&plan.intent).expect("intent serializes");
    write_atomic(&folder.path(INTENT_NAME), &json)?;
    counter.step()?;
    roll_forward(folder, &plan.intent, &mut counter)
}

/// The pending intent, if an install was interrupted.
pub fn pending(folder: &DbrmFolder) -> Result<Option<Intent>> {
    let path = folder.path(INTENT_NAME);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, "read", e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Config {
            path,
            detail: format!("intent file does not decode: {e}"),
        })
}

/// Finish an interrupted install recorded in `intent`.
pub fn resume(folder: &DbrmFolder, intent: &Intent, stop_after: Option<usize>) -> Result<Outcome> {
    let mut counter = Counter {
        done: 0,
        stop_after,
    };
    roll_forward(folder, intent, &mut counter)
}

struct Counter {
    done: usize,
    stop_after: Option<usize>,
}

impl Counter {
    fn step(&mut self) -> Result<()> {
        self.done += 1;
        if self.stop_after == Some(self.done) {
            return Err(Error::Usage(format!(
                "stopped after step {} as asked (interruption test)",
                self.done
            )));
        }
        Ok(())
    }
}

/// Idempotent: every file is either still staged (move the old one aside, rename the staged one
/// in) or already in place (checked by digest).
fn roll_forward(folder: &DbrmFolder, intent: &Intent, counter: &mut Counter) -> Result<Outcome> {
    let stage = folder.path(&intent.stage);
    let mut out = Outcome::default();
    for f in &intent.files {
        let staged = stage.join(&f.name);
        let target = folder.path(&f.name);
        if staged.exists() {
            let bytes = fs::read(&staged).map_err(|e| Error::io(&staged, "read", e))?;
            if digest(&bytes) != f.blake3 {
                return Err(Error::Config {
                    path: staged,
                    detail: format!(
                        "staged copy does not match the intent (blake3 {} expected, {} found); {} was not replaced (to abandon this install, move {} aside)",
                        f.blake3,
                        digest(&bytes),
                        f.name,
                        INTENT_NAME
                    ),
                });
            }
            if fs::symlink_metadata(&target).is_ok() {
                let to = aside_name(&target, &intent.timestamp, &[]);
                fs::rename(&target, &to).map_err(|e| Error::io(&target, "move aside", e))?;
                sync_dir(&folder.dir)?;
                out.moved_aside.push(to);
                counter.step()?;
            }
            fs::rename(&staged, &target).map_err(|e| Error::io(&target, "rename into place", e))?;
            sync_dir(&folder.dir)?;
            out.installed.push(target);
            counter.step()?;
        } else {
            let bytes = fs::read(&target).map_err(|e| Error::io(&target, "read", e))?;
            if digest(&bytes) != f.blake3 {
                return Err(Error::Config {
                    path: target,
                    detail: format!(
                        "neither staged nor in place: blake3 {} expected, {} found",
                        f.blake3,
                        digest(&bytes)
                    ),
                });
            }
        }
    }
    match fs::remove_dir(&stage) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&stage, "remove the staging folder", e)),
    }
    let intent_path = folder.path(INTENT_NAME);
    fs::remove_file(&intent_path).map_err(|e| Error::io(&intent_path, "remove", e))?;
    sync_dir(&folder.dir)?;
    counter.step()?;
    Ok(out)
}

/// Staging folders no intent refers to are left-overs of an install interrupted before its
/// intent was written: copies only, never in use.
fn clear_stale_stages(folder: &DbrmFolder) -> Result<()> {
    let entries = fs::read_dir(&folder.dir).map_err(|e| Error::io(&folder.dir, "list", e))?;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(STAGE_PREFIX) {
            let p = e.path();
            fs::remove_dir_all(&p)
                .map_err(|err| Error::io(&p, "remove the stale staging folder", err))?;
        }
    }
    Ok(())
}

/// `<name>.bad-<timestamp>`, or `.1`, `.2`... when taken.
fn aside_name(target: &Path, timestamp: &str, taken: &[PathBuf]) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut to = dir.join(format!("{name}.bad-{timestamp}"));
    let mut n = 1;
    while fs::symlink_metadata(&to).is_ok() || taken.contains(&to) {
        to = dir.join(format!("{name}.bad-{timestamp}.{n}"));
        n += 1;
    }
    to
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}
