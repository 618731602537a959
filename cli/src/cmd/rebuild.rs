//! `emrebuild rebuild`: recreate the extent map from the segment files of every DBRoot.

use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::progress::Bar;
use anyhow::{bail, Context};
use emengine::config::{check_dbroots, merge_dbroot_args, parse_dbroot_arg, ClusterConfig};
use emengine::em::EmVersion;
use emengine::fsutil::escaped_path;
use emengine::output::{check_output, write_map, Inputs, Target};
use emengine::rebuild::plan::StringCp;
use emengine::rebuild::{rebuild, RebuildOptions, RebuildReport};
use emengine::seg::file::Access;
use emengine::types::DbRootId;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Columnstore.xml naming the DBRoots (SystemConfig/DBRoot<N>) and DBRMRoot.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A DBRoot to scan, as ID=PATH (repeatable; overrides the same id from --config).
    #[arg(long = "dbroot", value_name = "ID=PATH", value_parser = parse_dbroot_arg)]
    pub dbroots: Vec<(DbRootId, PathBuf)>,
    /// Where to write the extent map (default: DBRMRoot + "_em"; an existing file is moved
    /// aside to <name>.bak-<timestamp>, never deleted).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Extent-map format version to write.
    #[arg(long, default_value = "5", value_parser = ["4", "5"])]
    pub em_version: String,
    /// Scan and report, but write nothing at all.
    #[arg(long)]
    pub dry_run: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Work-unit size in MiB of uncompressed data (whole 4 MiB chunks, never crossing an extent).
    #[arg(long, default_value_t = 16, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub chunk_mib: u32,
    /// Min/max of inline CHAR/VARCHAR extents: "invalid" (their order depends on the collation)
    /// or "binary" (memcmp order, as cpimport computes it).
    #[arg(long, default_value = "invalid", value_parser = ["invalid", "binary"])]
    pub string_cp: String,
    /// Write the map even when files are damaged, with what could be established.
    #[arg(long)]
    pub allow_damaged: bool,
    /// Read files instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Accept an existing output file that is not an extent map (it is moved aside, never
    /// deleted).
    #[arg(long)]
    pub force: bool,
}

/// The `--json` document: the engine's report plus what the command did.
#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a RebuildReport,
    output: Option<String>,
    written: bool,
    moved_aside: Option<String>,
    dry_run: bool,
    threads: usize,
    chunk_mib: u32,
    elapsed_seconds: f64,
}

/// Validated settings, decided before any I/O on the data.
struct Plan {
    options: RebuildOptions,
    output: Option<PathBuf>,
    inputs: Inputs,
    version: EmVersion,
    threads: usize,
}

fn validate(args: &Args) -> anyhow::Result<Plan> {
    let mut cfg = match &args.config {
        Some(path) => ClusterConfig::read(path)?,
        None => ClusterConfig::default(),
    };
    if let (Some(path), true) = (
        &args.config,
        cfg.dbroots.is_empty() && args.dbroots.is_empty(),
    ) {
        bail!(
            "{}: names no DBRoot (no SystemConfig/DBRoot<N> element); give --dbroot ID=PATH",
            path.display()
        );
    }
    merge_dbroot_args(&mut cfg.dbroots, &args.dbroots).map_err(anyhow::Error::msg)?;
    if cfg.dbroots.is_empty() {
        bail!("no DBRoot to scan: give --config Columnstore.xml or --dbroot ID=PATH");
    }
    check_dbroots(&cfg.dbroots).map_err(anyhow::Error::msg)?;
    let output = if args.dry_run {
        None
    } else if let Some(o) = &args.output {
        Some(o.clone())
    } else if let Some(config) = &args.config {
        if cfg.dbrm_root.is_none() {
            bail!(
                "{}: has no SystemConfig/DBRMRoot, so where ColumnStore loads the extent map from is \
                 not known (its built-in default is {}_em); give --output",
                config.display(),
                emengine::config::DEFAULT_DBRM_ROOT
            );
        }
        Some(cfg.em_path())
    } else {
        bail!("no --output given and no --config to take DBRMRoot from");
    };
    let inputs = Inputs {
        files: args.config.iter().cloned().collect(),
        dbroots: cfg.dbroots.values().cloned().collect(),
    };
    if let Some(out) = &output {
        check_output(out, &inputs, args.force)?;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    let version = if args.em_version == "4" {
        EmVersion::V4
    } else {
        EmVersion::V5
    };
    let string_cp = if args.string_cp == "binary" {
        StringCp::Binary
    } else {
        StringCp::Invalid
    };
    let access = if args.no_mmap {
        Access::Read
    } else {
        Access::Mmap
    };
    let options = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        chunk_mib: args.chunk_mib,
        string_cp,
        access,
    };
    Ok(Plan {
        options,
        output,
        inputs,
        version,
        threads,
    })
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let plan = validate(args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads)
        .build()
        .context("cannot start the worker threads")?;
    let bar = Bar::new(!args.json && !args.quiet);
    let started = Instant::now();
    let rebuilt = pool.install(|| rebuild(&plan.options, &bar))?;
    let elapsed = started.elapsed().as_secs_f64();
    let report = &rebuilt.report;

    let blocked = !report.is_clean() && !args.allow_damaged;
    let mut moved_aside = None;
    let mut written = false;
    if let (Some(out), false) = (&plan.output, blocked) {
        let _writing = crate::interrupt::writing();
        let target = Target {
            inputs: &plan.inputs,
            force: args.force,
            timestamp: &crate::clock::utc_timestamp(),
        };
        moved_aside = write_map(
            out,
            &rebuilt.map,
            plan.version,
            &target,
            &crate::interrupt::cancelled,
        )?;
        written = true;
    }

    if args.json {
        let doc = JsonReport {
            report,
            output: plan.output.as_deref().map(escaped_path),
            written,
            moved_aside: moved_aside.as_deref().map(escaped_path),
            dry_run: args.dry_run,
            threads: plan.threads,
            chunk_mib: args.chunk_mib,
            elapsed_seconds: elapsed,
        };
        let mut out = Stdout::new();
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    }
    if args.quiet && blocked {
        // Quiet hides progress and summaries, never the reason for exit code 2.
        let first = report
            .damaged
            .first()
            .map(|d| d.error.clone())
            .or_else(|| {
                report
                    .unresolved
                    .first()
                    .map(|u| format!("{}: {}", u.path.display(), u.reason))
            })
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr().lock(),
            "emrebuild: {} damaged and {} unresolved files, nothing written (first: {first})",
            report.damaged.len(),
            report.unresolved.len()
        );
    }
    if !args.quiet {
        summary(
            report,
            elapsed,
            plan.output.as_deref(),
            written,
            moved_aside.as_deref(),
            blocked,
        );
    }
    Ok(if blocked {
        ExitCode::Error
    } else {
        ExitCode::Ok
    })
}

fn summary(
    r: &RebuildReport,
    secs: f64,
    output: Option<&Path>,
    written: bool,
    moved: Option<&Path>,
    blocked: bool,
) {
    let mut e = std::io::stderr().lock();
    let gb = r.bytes_scanned as f64 / 1e9;
    let _ = writeln!(
        e,
        "scanned {} files, {:.2} GB in {:.2} s ({:.2} GB/s): {} extents",
        r.files,
        gb,
        secs,
        if secs > 0.0 { gb / secs } else { 0.0 },
        r.extents
    );
    let sources: Vec<String> = r
        .kind_sources
        .iter()
        .map(|(k, n)| format!("{n} from {k:?}"))
        .collect();
    if !sources.is_empty() {
        let _ = writeln!(e, "file types: {}", sources.join(", "));
    }
    if let Some(g) = &r.catalog.generation {
        let _ = writeln!(
            e,
            "system catalog: generation {g}, {} files",
            r.catalog.oids.len()
        );
    }
    for f in &r.catalog.findings {
        let _ = writeln!(e, "catalog: {f}");
    }
    for s in &r.skipped {
        let _ = writeln!(e, "skipped {}: {}", s.path.display(), s.reason);
    }
    for w in &r.warnings {
        let _ = writeln!(e, "warning: {w}");
    }
    for x in &r.reassigned {
        let _ = writeln!(
            e,
            "re-assigned oid {} dbroot {} partition {} segment {} fbo {} to LBID {}: {}",
            x.oid, x.dbroot, x.partition, x.segment, x.block_offset, x.lbid, x.reason
        );
    }
    for u in &r.unresolved {
        let _ = writeln!(e, "unresolved {}: {}", u.path.display(), u.reason);
    }
    for d in &r.damaged {
        let _ = writeln!(e, "damaged: {}", d.error);
    }
    for u in &r.uncertain {
        let _ = writeln!(
            e,
            "not established: oid {} dbroot {} partition {} segment {} fbo {}: {}",
            u.oid, u.dbroot, u.partition, u.segment, u.block_offset, u.what
        );
    }
    match (output, written) {
        (Some(out), true) => {
            let _ = writeln!(e, "wrote {}", out.display());
            if let Some(m) = moved {
                let _ = writeln!(e, "previous extent map moved to {}", m.display());
            }
        }
        (Some(out), false) if blocked => {
            let _ = writeln!(
                e,
                "nothing written to {}: {} damaged and {} unresolved files (use --allow-damaged to write what could be established)",
                out.display(),
                r.damaged.len(),
                r.unresolved.len()
            );
        }
        _ => {
            let _ = writeln!(e, "dry run: nothing written");
        }
    }
}
