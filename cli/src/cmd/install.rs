//! `emrebuild install`: put an extent map in place so that ColumnStore loads exactly it, and the
//! machinery `restore` and `rebuild --install` share (pending installs, the running-daemon check,
//! `--test` output).

use crate::exit::ExitCode;
use anyhow::{bail, Context};
use emengine::config::{ClusterConfig, DEFAULT_DBRM_ROOT};
use emengine::dbrm::install::{self, NewFile, Outcome, Step};
use emengine::dbrm::owner::Owner;
use emengine::dbrm::{procs, DbrmFolder};
use emengine::em::{EmVersion, ExtentMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options every command that puts a map in place shares.
#[derive(clap::Args, Debug, Clone)]
pub struct PlaceArgs {
    /// Print every step and change nothing.
    #[arg(long)]
    pub test: bool,
    /// Proceed although ColumnStore daemons run on this node (restore: or although the data
    /// check finds the backup's map dangerous or not verifiable).
    #[arg(long)]
    pub force: bool,
    /// Owner of the files put in place, USER:GROUP (names from /etc/passwd and /etc/group, or numbers).
    #[arg(long, value_name = "USER:GROUP", default_value = "mysql:mysql")]
    pub owner: String,
    /// Interruption tests: stop (exit 2) once this many steps are done.
    #[arg(long, hide = true)]
    pub stop_after_step: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Columnstore.xml naming DBRMRoot (the folder of the BRM save files).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The extent map to install (e.g. what `rebuild --output` wrote).
    #[arg(long, value_name = "FILE")]
    pub map: PathBuf,
    #[command(flatten)]
    pub place: PlaceArgs,
}

/// The DBRM folder named by a configuration file.
pub fn folder_of(config: &Path) -> anyhow::Result<DbrmFolder> {
    let cfg = ClusterConfig::read(config)?;
    let prefix = cfg
        .dbrm_root
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DBRM_ROOT));
    Ok(DbrmFolder::from_prefix(&prefix)?)
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let folder = folder_of(&args.config)?;
    let em =
        std::fs::read(&args.map).with_context(|| format!("{}: cannot read", args.map.display()))?;
    let map = emengine::em::ExtentMap::parse(&em).map_err(|e| e.in_file(&args.map))?;
    refuse_unloadable(&map, map.version, &args.map)?;
    let files = install::map_files(&folder, em, None);
    let source = format!("extent map {}", args.map.display());
    place(&folder, &source, files, &args.place)?;
    Ok(ExitCode::Ok)
}

/// A map ColumnStore could not load ([`ExtentMap::check_writable`]: no extents, overlapping
/// records, width-16 extents as V4), or would load without its system catalog, is never put in
/// place — by `install`, `rebuild` (written or installed) or `restore`.
pub fn refuse_unloadable(map: &ExtentMap, version: EmVersion, source: &Path) -> anyhow::Result<()> {
    match unloadable(map, version) {
        Some(why) => bail!("{}: refusing to write {why}", source.display()),
        None => Ok(()),
    }
}

/// Why ColumnStore could not load `map` written as `version`, if it could not: a field the
/// version cannot hold, no extents, or no system catalog.
pub fn unloadable(map: &ExtentMap, version: EmVersion) -> Option<String> {
    if let Err(why) = map.check_writable(version) {
        return Some(why.to_string());
    }
    if !map.extents.iter().any(|e| e.oid.is_system_catalog()) {
        return Some(
            "an extent map without the system catalog (no DBRoot scanned holds its files; \
             ColumnStore keeps them on DBRoot 1)"
                .to_string(),
        );
    }
    None
}

/// The command that installs `map` (what `rebuild` prints when it did not install).
pub fn command_line(config: &Path, map: &Path) -> String {
    format!(
        "emrebuild install --config {} --map {}",
        config.display(),
        map.display()
    )
}

/// Finish an interrupted install, if one is pending. Returns its source when it finished one.
pub fn finish_pending(folder: &DbrmFolder, place: &PlaceArgs) -> anyhow::Result<Option<String>> {
    let Some(intent) = install::pending(folder)? else {
        return Ok(None);
    };
    let mut e = std::io::stderr().lock();
    if place.test {
        let _ = writeln!(
            e,
            "pending: an interrupted install of {} would be finished first ({})",
            intent.source,
            folder.path(install::INTENT_NAME).display()
        );
        return Ok(None);
    }
    refuse_if_running(place.force)?;
    let outcome = install::resume(folder, &intent, place.stop_after_step)?;
    let _ = writeln!(e, "finished the interrupted install of {}", intent.source);
    report(&outcome);
    Ok(Some(intent.source))
}

/// Refuse while ColumnStore runs here, unless forced.
pub fn refuse_if_running(force: bool) -> anyhow::Result<()> {
    let running = procs::running(Path::new("/proc"));
    if running.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = running
        .iter()
        .map(|r| format!("{} (pid {})", r.name, r.pid))
        .collect();
    if force {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: ColumnStore is running on this node ({}); going on because of --force",
            list.join(", ")
        );
        return Ok(());
    }
    bail!(
        "ColumnStore is running on this node: {}; stop it first (systemctl stop mariadb-columnstore, or --cmapi for a cluster), or give --force",
        list.join(", ")
    )
}

/// Plan and (unless `--test`) carry out an install of `files` into `folder`.
pub fn place(
    folder: &DbrmFolder,
    source: &str,
    files: Vec<NewFile>,
    args: &PlaceArgs,
) -> anyhow::Result<()> {
    finish_pending(folder, args)?;
    let owner = Owner::resolve(
        &args.owner,
        Path::new("/etc/passwd"),
        Path::new("/etc/group"),
    )?;
    let plan = install::plan(
        folder,
        source,
        files,
        &crate::clock::utc_timestamp(),
        Some(owner),
    )?;
    if args.test {
        print_steps(&plan.steps);
        let _ = writeln!(std::io::stderr().lock(), "test: nothing changed");
        return Ok(());
    }
    refuse_if_running(args.force)?;
    let outcome = install::apply(folder, &plan, args.stop_after_step)?;
    report(&outcome);
    Ok(())
}

fn print_steps(steps: &[Step]) {
    let mut out = crate::output::Stdout::new();
    for (i, s) in steps.iter().enumerate() {
        let n = i + 1;
        let line = match s {
            Step::Stage { dir, files, owner } => {
                let names: Vec<String> = files
                    .iter()
                    .map(|f| format!("{} ({} bytes, blake3 {})", f.name, f.size, &f.blake3[..16]))
                    .collect();
                let own = owner.map_or(String::new(), |o| format!(", owner {}:{}", o.uid, o.gid));
                format!("stage into {}{own}: {}", dir.display(), names.join(", "))
            }
            Step::WriteIntent { path } => format!("write the intent file {}", path.display()),
            Step::MoveAside { from, to } => {
                format!("move {} aside to {}", from.display(), to.display())
            }
            Step::Put { from, to, size, .. } => {
                format!(
                    "put {} in place as {} ({size} bytes)",
                    from.display(),
                    to.display()
                )
            }
            Step::Finish { intent } => format!(
                "remove the staging folder and {}; fsync the folder",
                intent.display()
            ),
        };
        let _ = writeln!(out, "step {n}: {line}");
    }
    let _ = out.flush();
}

fn report(o: &Outcome) {
    let mut e = std::io::stderr().lock();
    for p in &o.moved_aside {
        let _ = writeln!(e, "moved aside: {}", p.display());
    }
    for p in &o.installed {
        let _ = writeln!(e, "installed: {}", p.display());
    }
}
