//! `emrebuild bench`: reproducible rebuild throughput on a generated (or given) tree, reported
//! as a ratio against a floor measured in the same run on the same pool: reading and
//! decompressing every chunk of the same files without looking at the values.

use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::threads::Threads;
use anyhow::{bail, Context};
use emengine::config::ClusterConfig;
use emengine::progress::NoProgress;
use emengine::rebuild::{floor_pass, rebuild, RebuildOptions};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An existing tree (a folder with Columnstore.xml, as `gen` writes); default: generate one.
    #[arg(long, value_name = "DIR")]
    pub tree: Option<PathBuf>,
    /// Logical size of the generated tree.
    #[arg(long, default_value = "512MiB")]
    pub size: String,
    /// Seed of the generated tree.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub threads: Threads,
    /// Timed runs of each pass; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Work-unit size in MiB.
    #[arg(long, default_value_t = 16)]
    pub chunk_mib: u32,
    /// Read files instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Figures {
    machine: String,
    threads: usize,
    files: usize,
    uncompressed_bytes: u64,
    floor_seconds: f64,
    rebuild_seconds: f64,
    floor_gb_per_s: f64,
    rebuild_gb_per_s: f64,
    /// rebuild time ÷ floor time: 1.0 means the scan costs nothing beyond reading and decompressing.
    ratio: f64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let threads = args.threads.count().get();
    let pool = args.threads.pool()?;
    let tmp;
    let tree = match &args.tree {
        Some(t) => t.clone(),
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
            let opts = emfixtures::GenOptions {
                seed: args.seed,
                logical_bytes: emfixtures::parse_size(&args.size).map_err(anyhow::Error::msg)?,
                scenario: emfixtures::Scenario::Mixed,
                threads: None,
            };
            pool.install(|| emfixtures::generate(tmp.path(), &opts, &NoProgress))?;
            tmp.path().to_path_buf()
        }
    };
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml"))?;
    let opts = RebuildOptions {
        dbroots: cfg.dbroots,
        chunk_mib: args.chunk_mib,
        access: crate::args::access(args.no_mmap),
        ..RebuildOptions::default()
    };

    // Warm the page cache once so both passes read from memory, then take the best of N.
    let floor = pool.install(|| floor_pass(&opts))?;
    let mut floor_best = f64::MAX;
    let mut rebuild_best = f64::MAX;
    for _ in 0..args.runs {
        let t = Instant::now();
        pool.install(|| floor_pass(&opts))?;
        floor_best = floor_best.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let r = pool.install(|| rebuild(&opts, &NoProgress))?;
        rebuild_best = rebuild_best.min(t.elapsed().as_secs_f64());
        if !r.report.is_clean() {
            bail!("the tree has damaged or unresolved files; bench needs a clean tree");
        }
    }
    let gb = floor.bytes as f64 / 1e9;
    let f = Figures {
        machine: machine(),
        threads,
        files: floor.files,
        uncompressed_bytes: floor.bytes,
        floor_seconds: floor_best,
        rebuild_seconds: rebuild_best,
        floor_gb_per_s: gb / floor_best,
        rebuild_gb_per_s: gb / rebuild_best,
        ratio: rebuild_best / floor_best,
    };
    let mut out = Stdout::new();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &f)?;
        writeln!(out)?;
    } else {
        writeln!(out, "machine: {} ({} threads)", f.machine, f.threads)?;
        writeln!(out, "data: {} files, {:.2} GB uncompressed", f.files, gb)?;
        writeln!(
            out,
            "floor (read + decompress + checksum): {:.3} s, {:.2} GB/s",
            f.floor_seconds, f.floor_gb_per_s
        )?;
        writeln!(
            out,
            "rebuild (every value classified):     {:.3} s, {:.2} GB/s",
            f.rebuild_seconds, f.rebuild_gb_per_s
        )?;
        writeln!(out, "ratio rebuild/floor: {:.2}", f.ratio)?;
    }
    Ok(ExitCode::Ok)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores")
}
