//! `emrebuild gen`: write a real-format ColumnStore data tree (one or more DBRoots, the system
//! catalog, `Columnstore.xml`), its ground-truth extent map `BRM_saves_em` and `manifest.json`,
//! from a seed and a logical size.

use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::progress::Bar;
use crate::threads::Threads;
use anyhow::{bail, Context};
use emengine::config::ClusterConfig;
use emfixtures::storagemanager::{convert, SmLayout, SmLayoutOptions};
use emfixtures::{generate_before_loads, parse_size, GenOptions, Scenario};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder: created if missing, refused if it holds anything.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Logical size: column data written (rows × storage width) plus dictionary strings,
    /// e.g. 96MiB, 2GiB, 500MB.
    #[arg(long, default_value = "96MiB", value_name = "SIZE")]
    pub size: String,
    /// Seed: the same seed, size and scenario give byte-identical trees.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// mixed, dictionary-heavy, legacy, damaged, dictionary-lbids, hwm-status, fresh-catalog, era-a,
    /// era-c, many-files, dictionary-many-extents, dml-dictionary-extents, orphans,
    /// upgraded-v2-dictionary, catalog-file-missing, wide-decimal, empty-dbroot, no-catalog,
    /// segment-256 or upgraded-v2-column.
    #[arg(long, default_value = "mixed", value_name = "NAME")]
    pub scenario: String,
    /// Write the tree as it stood before the history's last N loads (the same tables, LBIDs and
    /// values, fewer rows): its BRM_saves_em is a stale backup of the full tree.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub before_loads: usize,
    /// The output does not depend on the thread count.
    #[command(flatten)]
    pub threads: Threads,
    /// Also write the tree in StorageManager's layout to <OUT>/storagemanager/ (metadata,
    /// objects in the cache and a LocalStorage folder, journals) with its storagemanager.cnf.
    #[arg(long)]
    pub storagemanager: bool,
    /// Object size of the StorageManager layout, e.g. 1MiB (StorageManager's default is 5MiB).
    #[arg(
        long,
        default_value = "1MiB",
        value_name = "SIZE",
        requires = "storagemanager"
    )]
    pub object_size: String,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    out: &'a Path,
    scenario: &'a str,
    seed: u64,
    requested_logical_bytes: u64,
    logical_bytes: u64,
    data_bytes: u64,
    file_bytes: u64,
    catalog_bytes: u64,
    tables: u64,
    user_files: u64,
    catalog_files: u64,
    extents: u64,
    damaged_files: usize,
    seconds: f64,
    manifest: PathBuf,
    /// The storagemanager.cnf of the StorageManager layout, with --storagemanager.
    #[serde(skip_serializing_if = "Option::is_none")]
    storagemanager: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let size = parse_size(&args.size).map_err(anyhow::Error::msg)?;
    let scenario: Scenario = args.scenario.parse().map_err(anyhow::Error::msg)?;
    let existed = match std::fs::read_dir(&args.out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{}: output folder is not empty; refusing to generate into it",
                    args.out.display()
                );
            }
            true
        }
        Err(_) => false,
    };
    let opts = GenOptions {
        seed: args.seed,
        logical_bytes: size,
        scenario,
        threads: None,
    };
    let bar = Bar::new(!args.quiet && !args.json);
    let started = Instant::now();
    let pool = args.threads.pool()?;
    // Ctrl-C leaves no partial tree: the generator stops between files, and what it wrote into
    // the folder (which was empty or absent, checked above) is removed before the process ends
    // (the interrupt watcher waits while this guard is held).
    let writing = crate::interrupt::writing();
    let generated =
        pool.install(|| generate_before_loads(&args.out, &opts, args.before_loads, &bar));
    if crate::interrupt::cancelled() {
        remove_partial_tree(&args.out, existed);
        return Err(emengine::Error::Interrupted.into());
    }
    drop(writing);
    let m = generated.with_context(|| format!("generating into {}", args.out.display()))?;
    let sm = if args.storagemanager {
        Some(storagemanager_layout(args)?)
    } else {
        None
    };
    let seconds = started.elapsed().as_secs_f64();
    let t = &m.totals;
    let mut out = Stdout::new();
    if args.json {
        let s = Summary {
            out: &args.out,
            scenario: scenario.name(),
            seed: args.seed,
            requested_logical_bytes: size,
            logical_bytes: t.logical_bytes,
            data_bytes: t.data_bytes,
            file_bytes: t.file_bytes,
            catalog_bytes: t.catalog_bytes,
            tables: t.tables,
            user_files: t.user_files,
            catalog_files: t.catalog_files,
            extents: t.extents,
            damaged_files: m.damaged.len(),
            seconds,
            manifest: args.out.join("manifest.json"),
            storagemanager: sm.as_ref().map(|l| l.cnf.clone()),
        };
        serde_json::to_writer_pretty(&mut out, &s)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "generated {} tree in {}: {} tables, {} files (+{} catalog), {} extents",
            scenario.name(),
            args.out.display(),
            t.tables,
            t.user_files,
            t.catalog_files,
            t.extents
        )?;
        writeln!(
            out,
            "logical {:.1} MiB, uncompressed {:.1} MiB, on disk {:.1} MiB (+{:.1} MiB catalog) in {seconds:.2} s ({:.0} MiB/s logical)",
            mib(t.logical_bytes),
            mib(t.data_bytes),
            mib(t.file_bytes),
            mib(t.catalog_bytes),
            mib(t.logical_bytes) / seconds.max(1e-9)
        )?;
        if let Some(l) = &sm {
            writeln!(
                out,
                "StorageManager layout: {} files in {} objects ({} cached, {} journals), {}",
                l.files,
                l.objects,
                l.cached,
                l.journals,
                l.cnf.display()
            )?;
        }
        if !m.damaged.is_empty() {
            writeln!(
                out,
                "{} damaged files listed in manifest.json",
                m.damaged.len()
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

/// The generated tree's DBRoots in StorageManager's layout under `<out>/storagemanager`.
fn storagemanager_layout(args: &Args) -> anyhow::Result<SmLayout> {
    let object_size = parse_size(&args.object_size).map_err(anyhow::Error::msg)?;
    let cfg = ClusterConfig::read(&args.out.join("Columnstore.xml"))?;
    let opts = SmLayoutOptions {
        object_size,
        seed: args.seed,
    };
    convert(&cfg.dbroots, &args.out.join("storagemanager"), &opts)
        .context("writing the StorageManager layout")
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

/// Remove an interrupted generation's output: the folder's contents (all written by this run),
/// and the folder itself when this run created it.
fn remove_partial_tree(out: &Path, existed: bool) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let _ = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
    if !existed {
        let _ = std::fs::remove_dir(out);
    }
}
