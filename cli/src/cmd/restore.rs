//! `emrebuild restore ROOT/NAME`: the documented extent-map recovery, checked and crash-safe.
//!
//! Order: finish an interrupted install if one is pending; check the backup (NG refuses); with
//! `--cmapi`, stop the cluster; refuse while ColumnStore daemons run here (unless `--force`);
//! install the backup's extent map and journal with empty `_vbbm`/`_vss` and `_current` naming it
//! (every replaced file moved to `<name>.bad-<timestamp>`); with `--cmapi`, start the cluster.
//! `oidbitmap` is kept as it is: an older copy would hand out OIDs of tables created since.

use super::backup::{checked, data_check};
use super::install::{finish_pending, folder_of, place, PlaceArgs};
use crate::cmapi::{Cmapi, CmapiArgs};
use crate::exit::ExitCode;
use anyhow::bail;
use emengine::backup::read_role;
use emengine::dbrm::install::map_files;
use emengine::dbrm::Role;
use emengine::verify::Severity;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The backup folder, ROOT/NAME.
    pub backup: PathBuf,
    /// Columnstore.xml naming DBRMRoot.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub place: PlaceArgs,
    #[command(flatten)]
    pub cmapi: CmapiArgs,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let folder = folder_of(&args.config)?;
    let cmapi = Cmapi::from_args(&args.cmapi)?;
    let mut e = std::io::stderr().lock();
    let source = format!("backup {}", args.backup.display());
    if finish_pending(&folder, &args.place)?.as_deref() == Some(source.as_str()) {
        let _ = writeln!(e, "restore of {} complete", args.backup.display());
        return Ok(ExitCode::Ok);
    }
    let verdict = checked(&args.backup)?;
    if !verdict.ok() {
        let reasons: Vec<String> = verdict.problems.iter().map(ToString::to_string).collect();
        bail!(
            "{}: backup is NG, not restored: {}",
            args.backup.display(),
            reasons.join("; ")
        );
    }
    if let Some(v) = data_check(&verdict, &args.config)? {
        if !v.is_safe() && !args.place.force {
            bail!(
                "{}: not restored: its map disagrees with the data ({} dangerous, {} not \
                 verifiable extents; restoring it could lose rows or give wrong results); \
                 `emrebuild rebuild --reference` repairs it, --force restores it anyway",
                args.backup.display(),
                v.count(Severity::Dangerous),
                v.count(Severity::Unverifiable)
            );
        }
    }
    let m = verdict
        .manifest
        .as_ref()
        .expect("an OK backup has a manifest");
    let em = read_role(&args.backup, m, Role::Em)?.expect("an OK backup has an extent map");
    let map = emengine::em::ExtentMap::parse(&em).map_err(|e| e.in_file(&args.backup))?;
    super::install::refuse_unloadable(&map, map.version, &args.backup)?;
    let journal = read_role(&args.backup, m, Role::Journal)?.filter(|j| !j.is_empty());
    if let Some(j) = &journal {
        let _ = writeln!(
            e,
            "note: the backup's journal ({} bytes) is installed with its map: ColumnStore replays it at start, as it would have when the backup was taken",
            j.len()
        );
    }
    let files = map_files(&folder, em, journal);
    if args.place.test {
        if let Some(c) = &args.cmapi.cmapi {
            let _ = writeln!(e, "test: would PUT {c}/cmapi/0.4.0/cluster/shutdown first and .../cluster/start after");
        }
        drop(e);
        place(&folder, &source, files, &args.place)?;
        return Ok(ExitCode::Ok);
    }
    if let Some(c) = &cmapi {
        c.shutdown()?;
        let _ = writeln!(e, "cluster stopped through CMAPI");
    }
    drop(e);
    place(&folder, &source, files, &args.place)?;
    let mut e = std::io::stderr().lock();
    if let Some(c) = &cmapi {
        c.start()
            .map_err(|err| err.context("the backup is restored, but the cluster did not start"))?;
        let _ = writeln!(e, "cluster started through CMAPI");
    }
    let _ = writeln!(e, "restore of {} complete", args.backup.display());
    Ok(ExitCode::Ok)
}
