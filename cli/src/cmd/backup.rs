//! `emrebuild backup create | list | check`: copies of the BRM save set ColumnStore loads,
//! stored by digest with a manifest, and their verdicts (OK / NG) as `gs_backuplist` prints them.

use crate::exit::ExitCode;
use crate::lock::{self, DbArgs, Locked};
use crate::output::Stdout;
use anyhow::{bail, Context};
use emengine::backup::{self, BackupCheck, CreateMeta};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Copy the save set ColumnStore would load into ROOT/NAME, with a manifest.
    Create(CreateArgs),
    /// List every backup under ROOT: OK or NG, time, size, extents.
    List(ListArgs),
    /// Re-check one backup (manifest, digests, the map parses).
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Columnstore.xml naming DBRMRoot.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The backup root (created if missing).
    #[arg(long, value_name = "ROOT")]
    pub to: PathBuf,
    /// The backup's name (default: the UTC time, YYYYMMDDTHHMMSSZ).
    #[arg(long)]
    pub name: Option<String>,
    /// Afterwards keep only the newest N backups (and the contents they refer to).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub retain: Option<u32>,
    /// Hold FLUSH TABLES WITH READ LOCK in one session for the whole copy and run save_brm inside it.
    #[arg(long)]
    pub lock: bool,
    /// save_brm to run under --lock (a path, or a name looked up in PATH).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "save_brm",
        requires = "lock"
    )]
    pub save_brm: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Print the manifest as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Tests: a program run after the copy, while the lock is still held.
    #[arg(long, hide = true, requires = "lock")]
    pub after_copy_hook: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// The backup root.
    pub root: PathBuf,
    /// Print every verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The backup folder, ROOT/NAME.
    pub backup: PathBuf,
    /// Columnstore.xml: reserved for checking the map against the data (verify), see below.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        Command::Create(a) => create(a),
        Command::List(a) => list(a),
        Command::Check(a) => check(a),
    }
}

fn create(a: &CreateArgs) -> anyhow::Result<ExitCode> {
    let folder = super::install::folder_of(&a.config)?;
    std::fs::create_dir_all(&a.to).with_context(|| format!("{}: cannot create", a.to.display()))?;
    let created = crate::clock::utc_timestamp();
    let meta = CreateMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created: created.clone(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        locked: a.lock,
    };
    let name = a.name.clone().unwrap_or(created);
    let made = if a.lock {
        let locked = Locked::take(&a.db)?;
        let made = lock::run_save_brm(&a.save_brm)
            .and_then(|()| Ok(backup::create(&folder, &a.to, &name, &meta)?))
            .and_then(|made| {
                if let Some(hook) = &a.after_copy_hook {
                    let st = std::process::Command::new(hook).status()?;
                    if !st.success() {
                        bail!("{}: {st}", hook.display());
                    }
                }
                Ok(made)
            });
        // The lock goes with the session whatever happened; report the first error.
        let released = locked.release();
        let made = made?;
        released?;
        made
    } else {
        backup::create(&folder, &a.to, &name, &meta)?
    };
    let mut e = std::io::stderr().lock();
    let m = &made.manifest;
    let _ = writeln!(
        e,
        "backup {}: {} files, {} bytes ({} contents new, {} already stored), {} extents of {} OIDs, {}{}",
        made.dir.display(),
        m.files.len(),
        m.size(),
        made.new_objects,
        made.reused_objects,
        m.extent_map.extents,
        m.extent_map.oids,
        m.loaded_prefix,
        if m.locked { ", under FLUSH TABLES WITH READ LOCK after save_brm" } else { "" }
    );
    if let Some(j) = m.file(emengine::dbrm::Role::Journal).filter(|j| j.size > 0) {
        let _ = writeln!(
            e,
            "note: {} holds {} bytes of changes ColumnStore replays onto this map at start; a restore installs it with the map",
            j.name, j.size
        );
    }
    if let Some(n) = a.retain {
        let pruned = backup::prune(&a.to, n as usize)?;
        for b in &pruned.backups {
            let _ = writeln!(e, "pruned backup {b}");
        }
        if pruned.objects > 0 {
            let _ = writeln!(
                e,
                "pruned {} stored contents no backup refers to",
                pruned.objects
            );
        }
    }
    if a.json {
        let mut out = Stdout::new();
        serde_json::to_writer_pretty(&mut out, &made)?;
        writeln!(out)?;
        out.flush()?;
    }
    Ok(ExitCode::Ok)
}

fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let all = backup::list(&a.root)?;
    let mut out = Stdout::new();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<24} {:<6} {:<17} {:>12} {:>9}",
            "BACKUP", "STATUS", "TIME", "SIZE", "EXTENTS"
        )?;
        for c in &all {
            line(&mut out, c)?;
        }
    }
    out.flush()?;
    Ok(if all.iter().all(BackupCheck::ok) {
        ExitCode::Ok
    } else {
        ExitCode::Differences
    })
}

fn line(out: &mut impl Write, c: &BackupCheck) -> std::io::Result<()> {
    let status = if c.ok() { "OK" } else { "NG" };
    let (time, size, extents) =
        c.manifest
            .as_ref()
            .map_or(("-".to_string(), "-".to_string(), "-".to_string()), |m| {
                (
                    m.created.clone(),
                    m.size().to_string(),
                    m.extent_map.extents.to_string(),
                )
            });
    writeln!(
        out,
        "{:<24} {status:<6} {time:<17} {size:>12} {extents:>9}",
        c.name
    )?;
    for p in &c.problems {
        writeln!(out, "    {p}")?;
    }
    Ok(())
}

fn check(a: &CheckArgs) -> anyhow::Result<ExitCode> {
    let verdict = checked(&a.backup)?;
    let mut out = Stdout::new();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &verdict)?;
        writeln!(out)?;
    } else {
        line(&mut out, &verdict)?;
    }
    out.flush()?;
    if let Some(cfg) = &a.config {
        data_check(&verdict, cfg)?;
    }
    Ok(if verdict.ok() {
        ExitCode::Ok
    } else {
        ExitCode::Differences
    })
}

/// The backup's verdict; an error when the folder does not exist.
pub fn checked(dir: &Path) -> anyhow::Result<BackupCheck> {
    if !dir.is_dir() {
        bail!("{}: no such backup folder", dir.display());
    }
    Ok(backup::check(dir))
}

/// Checking the backup's map against the data (verify) belongs here: the verify module is not in
/// this build, so this says so instead of pretending a check ran.
pub fn data_check(_verdict: &BackupCheck, config: &Path) -> anyhow::Result<()> {
    let _ = writeln!(
        std::io::stderr().lock(),
        "note: the map was not checked against the data of {} (verify is not part of this build)",
        config.display()
    );
    Ok(())
}
