//! `emrebuild rebuild`: recreate the extent map from the segment files of every DBRoot.

use crate::args::{parse_dbroot_arg, EmVersionArg, StringCpArg};
use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::progress::Bar;
use crate::report::{finding_line, refusal_line, JsonReport};
use crate::threads::Threads;
use anyhow::bail;
use emengine::config::{check_dbroots, merge_dbroot_args, ClusterConfig};
use emengine::em::EmVersion;
use emengine::finding::Finding;
use emengine::fsutil::escaped_path;
use emengine::output::{check_output, write_map, Inputs, Target};
use emengine::rebuild::{rebuild, RebuildOptions, RebuildReport, Rebuilt};
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
    #[command(flatten)]
    pub map: MapArgs,
    #[command(flatten)]
    pub scan: ScanArgs,
    /// storagemanager.cnf: read the segment files through StorageManager (metadata, cache,
    /// journals; LocalStorage folder or S3 bucket) instead of from the DBRoot folders.
    #[arg(long, value_name = "FILE")]
    pub storagemanager: Option<PathBuf>,
}

/// How the data is scanned: `rebuild`'s options, shared with `scan` on a cluster's nodes.
#[derive(clap::Args, Debug, Clone)]
pub struct ScanArgs {
    #[command(flatten)]
    pub threads: Threads,
    /// Work-unit size in MiB of uncompressed data (whole 4 MiB chunks, never crossing an extent).
    #[arg(long, default_value_t = 16, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub chunk_mib: u32,
    /// Min/max of inline CHAR/VARCHAR extents: "invalid" (their order depends on the collation)
    /// or "binary" (memcmp order, as cpimport computes it).
    #[arg(long, value_enum, default_value_t)]
    pub string_cp: StringCpArg,
    /// Read files instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,
    /// Read data that is not in the page cache around it (O_DIRECT, Linux): no CPU spent
    /// filling the cache, and the cache left to the server; faster where the disk streams
    /// direct reads at full speed (on the development machine's virtual disk it did not).
    #[arg(long)]
    pub direct_io: bool,
}

impl Default for ScanArgs {
    fn default() -> Self {
        Self {
            threads: Threads::default(),
            chunk_mib: 16,
            string_cp: StringCpArg::default(),
            no_mmap: false,
            direct_io: false,
        }
    }
}

/// What is done with the map once built: `rebuild`'s options, shared with `assemble`.
#[derive(clap::Args, Debug, Clone)]
pub struct MapArgs {
    /// Where to write the extent map (default: DBRMRoot + "_em.rebuilt", beside the map
    /// ColumnStore loads but never loaded by it: `--install`, or the `emrebuild install` command
    /// printed, puts it in place; an existing file is moved aside to <name>.bak-<timestamp>).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Extent-map format version to write.
    #[arg(long, value_enum, default_value_t)]
    pub em_version: EmVersionArg,
    /// Scan and report, but write nothing at all.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the map even when files are damaged, with what could be established.
    #[arg(long)]
    pub allow_damaged: bool,
    /// Write the map even when tokens point into dictionary extents whose LBIDs the data cannot
    /// establish exactly: each gets the LBID the tokens suggest (reported with how strong the
    /// evidence is) or, without one, the first free range; the report says so.
    #[arg(long)]
    pub allow_reassigned: bool,
    /// Write the map even when two files claim one LBID range and no token decides which one
    /// holds it (the lower OID keeps it; the other is re-assigned and reported).
    #[arg(long)]
    pub allow_lbid_conflict: bool,
    /// Keep the files of OIDs the catalog does not list as live (a dropped table's files, or
    /// copies); by default they are reported and left out of the map.
    #[arg(long)]
    pub include_orphans: bool,
    /// Write the map even when a column holds fewer rows than its table in a segment (a
    /// truncated or damaged file): it gets the table's HWM, and the report says so.
    #[arg(long)]
    pub allow_hwm_mismatch: bool,
    /// An older extent map (a backup, perhaps stale): supplies the LBIDs of extents the data
    /// cannot settle, extent status (out of service) and CP sequence numbers. The data still
    /// decides HWM, min/max and every LBID it records; every field taken from the reference,
    /// and every place it contradicts the data, is in the report.
    #[arg(long, value_name = "OLD_EM")]
    pub reference: Option<PathBuf>,
    /// Write the map even when files of the system catalog's generation are missing (their
    /// extents keep their replayed LBIDs with HWM 0; no other extent moves).
    #[arg(long)]
    pub allow_missing_catalog: bool,
    /// Write the map even when the system catalog's own tokens fit none of its possible
    /// layouts (dictionaries whose tokens fix one start are put there, the rest replayed).
    #[arg(long)]
    pub allow_catalog_layout: bool,
    /// Write the map even when the catalog lists live tables whose files are on none of the
    /// DBRoots rebuilt (not mounted, left out, deleted): those tables get no extents.
    #[arg(long)]
    pub allow_missing_files: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Install the map so that ColumnStore loads exactly it (`_current`, journal moved aside,
    /// empty `_vbbm`/`_vss`; see `emrebuild install`). Without it, the command that does so is printed.
    #[arg(long, requires = "config", conflicts_with = "dry_run")]
    pub install: bool,
    /// With --install: owner of the files put in place.
    #[arg(
        long,
        value_name = "USER:GROUP",
        default_value = "mysql:mysql",
        requires = "install"
    )]
    pub owner: String,
    /// Proceed where a safety check would refuse: an existing output file that is not an
    /// extent map (moved aside, never deleted) and, with --install, ColumnStore daemons running
    /// on this node.
    #[arg(long)]
    pub force: bool,
}

/// What the command did, added to the engine's report in the `--json` document.
#[derive(Serialize)]
struct Outcome {
    output: Option<String>,
    written: bool,
    moved_aside: Option<String>,
    dry_run: bool,
    /// The scan's settings (absent for `assemble`: the nodes scanned).
    #[serde(skip_serializing_if = "Option::is_none")]
    threads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunk_mib: Option<u32>,
    elapsed_seconds: f64,
    /// Why the map was not written although nothing in the data was refused: ColumnStore could
    /// not load it (a field the extent map version cannot hold, no extents, no system catalog).
    #[serde(skip_serializing_if = "Option::is_none")]
    unloadable: Option<String>,
}

/// Validated settings, decided before any I/O on the data.
pub(crate) struct Plan {
    pub(crate) options: RebuildOptions,
    pub(crate) output: Option<PathBuf>,
    pub(crate) inputs: Inputs,
    pub(crate) version: EmVersion,
}

/// `args` checked into a [`Plan`]; `more_inputs` are files the run also reads (the partials
/// of `assemble`), which the output must never be.
pub(crate) fn validate(args: &Args, more_inputs: &[PathBuf]) -> anyhow::Result<Plan> {
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
    let output = if args.map.dry_run {
        None
    } else if let Some(o) = &args.map.output {
        Some(o.clone())
    } else if args.map.install {
        None // `install` writes <DBRMRoot>_em itself
    } else if let Some(config) = &args.config {
        if cfg.dbrm_root.is_none() {
            bail!(
                "{}: has no SystemConfig/DBRMRoot, so where ColumnStore loads the extent map from is \
                 not known (its built-in default is {}_em); give --output",
                config.display(),
                emengine::config::DEFAULT_DBRM_ROOT
            );
        }
        // Not `<DBRMRoot>_em` itself: ColumnStore loads the prefix `_current` names and replays
        // the journal onto it (EM §4.3-4.4), so a map copied over `_em` may never be loaded, or
        // get stale changes replayed onto it. Putting a map in place is `install`'s job.
        let mut rebuilt = cfg.em_path().into_os_string();
        rebuilt.push(".rebuilt");
        Some(PathBuf::from(rebuilt))
    } else {
        bail!("no --output given and no --config to take DBRMRoot from");
    };
    let inputs = Inputs {
        files: args
            .config
            .iter()
            .chain(args.map.reference.iter())
            .chain(more_inputs)
            .cloned()
            .collect(),
        dbroots: cfg.dbroots.values().cloned().collect(),
    };
    if let Some(out) = &output {
        check_output(out, &inputs, args.map.force)?;
    }
    let options = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        chunk_mib: args.scan.chunk_mib,
        string_cp: args.scan.string_cp.into(),
        access: crate::args::access(args.scan.no_mmap),
        direct_io: args.scan.direct_io,
        accept: emengine::finding::Accept {
            reassigned: args.map.allow_reassigned,
            lbid_conflict: args.map.allow_lbid_conflict,
            hwm_mismatch: args.map.allow_hwm_mismatch,
            missing_catalog: args.map.allow_missing_catalog,
            catalog_layout: args.map.allow_catalog_layout,
            missing_files: args.map.allow_missing_files,
        },
        include_orphans: args.map.include_orphans,
        reference: args
            .map
            .reference
            .as_deref()
            .map(emengine::em::ExtentMap::read)
            .transpose()?,
    };
    Ok(Plan {
        options,
        output,
        inputs,
        version: args.map.em_version.into(),
    })
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let plan = validate(args, &[])?;
    let pool = args.scan.threads.pool()?;
    let bar = Bar::new(!args.map.json && !args.map.quiet);
    let started = Instant::now();
    let rebuilt = pool.install(|| match &args.storagemanager {
        Some(cnf) => super::storagemanager::rebuild_through(cnf, &plan.options, &bar),
        None => Ok(rebuild(&plan.options, &bar)?),
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    conclude(args, &plan, &rebuilt, elapsed, Where::Here)
}

/// Where the data was scanned: by this command (`rebuild`), or on a cluster's nodes, whose
/// partials `assemble` placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Where {
    Here,
    OnTheNodes,
}

/// Everything after the map is built, shared by `rebuild` and `assemble`: refuse or write
/// (and install), then the JSON report, the summary and the exit code.
pub(crate) fn conclude(
    args: &Args,
    plan: &Plan,
    rebuilt: &Rebuilt,
    elapsed: f64,
    scanned: Where,
) -> anyhow::Result<ExitCode> {
    let report = &rebuilt.report;

    let mut reasons = blocking_reasons(report, args.map.allow_damaged);
    // A map ColumnStore cannot load is refused before anything is written, and said in the
    // JSON report as every other refusal is.
    let unloadable = (plan.output.is_some() || args.map.install)
        .then(|| super::install::unloadable(&rebuilt.map, plan.version))
        .flatten()
        .map(|why| format!("refusing to write {why}"));
    reasons.extend(unloadable.clone());
    let blocked = !reasons.is_empty();
    let mut moved_aside = None;
    let mut written = false;
    if let (Some(out), false) = (&plan.output, blocked) {
        let _writing = crate::interrupt::writing();
        let target = Target {
            inputs: &plan.inputs,
            force: args.map.force,
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
    let mut installed = None;
    if let (true, false, Some(config)) = (args.map.install, blocked, &args.config) {
        let folder = super::install::folder_of(config)?;
        let files =
            emengine::dbrm::install::map_files(&folder, rebuilt.map.encode(plan.version), None);
        let place = super::install::PlaceArgs {
            test: false,
            force: args.map.force,
            owner: args.map.owner.clone(),
            stop_after_step: None,
        };
        let em = folder.path(&files[0].name);
        super::install::place(&folder, "rebuilt map", files, &place)?;
        installed = Some(em);
    }

    if args.map.json {
        let outcome = Outcome {
            output: plan.output.as_deref().map(escaped_path),
            written,
            moved_aside: moved_aside.as_deref().map(escaped_path),
            dry_run: args.map.dry_run,
            threads: (scanned == Where::Here).then(|| args.scan.threads.count().get()),
            chunk_mib: (scanned == Where::Here).then_some(args.scan.chunk_mib),
            elapsed_seconds: elapsed,
            unloadable,
        };
        let doc = JsonReport::new(report, outcome);
        let mut out = Stdout::new();
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    }
    if args.map.quiet && blocked {
        // Quiet hides progress and summaries, never the reason for exit code 2.
        let _ = writeln!(
            std::io::stderr().lock(),
            "emrebuild: nothing written: {}",
            reasons.join("; ")
        );
    }
    if !args.map.quiet {
        summary(
            report,
            elapsed,
            scanned,
            installed.as_deref().or(plan.output.as_deref()),
            written || installed.is_some(),
            moved_aside.as_deref(),
            &reasons,
        );
        if let (Some(out), Some(config), true, None) =
            (&plan.output, &args.config, written, &installed)
        {
            let _ = writeln!(
                std::io::stderr().lock(),
                "ColumnStore loads the save set BRM_saves_current names, then replays the journal; to make it load this map:\n  {}",
                super::install::command_line(config, out)
            );
        }
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
    scanned: Where,
    output: Option<&Path>,
    written: bool,
    moved: Option<&Path>,
    blocked: &[String],
) {
    let mut e = std::io::stderr().lock();
    let gb = r.bytes_scanned as f64 / 1e9;
    let _ = match scanned {
        Where::Here => writeln!(
            e,
            "scanned {} files, {:.2} GB in {:.2} s ({:.2} GB/s): {} extents",
            r.files,
            gb,
            secs,
            if secs > 0.0 { gb / secs } else { 0.0 },
            r.extents
        ),
        Where::OnTheNodes => writeln!(
            e,
            "assembled {} files, {:.2} GB scanned on the nodes, in {:.2} s: {} extents",
            r.files, gb, secs, r.extents
        ),
    };
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
            "system catalog: generation {g:?}, {} files",
            r.catalog.oids.len()
        );
    }
    for f in &r.findings {
        let _ = writeln!(e, "{}", finding_line(f));
    }
    match (output, written) {
        (Some(out), true) => {
            let _ = writeln!(e, "wrote {}", out.display());
            if let Some(m) = moved {
                let _ = writeln!(e, "previous extent map moved to {}", m.display());
            }
        }
        (Some(out), false) if !blocked.is_empty() => {
            let _ = writeln!(
                e,
                "nothing written to {}: {}",
                out.display(),
                blocked.join("; ")
            );
        }
        _ => {
            let _ = writeln!(e, "dry run: nothing written");
        }
    }
}

/// Why the map must not be written, each with the flag that accepts it; empty when it may be.
pub(crate) fn blocking_reasons(r: &RebuildReport, allow_damaged: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !r.is_clean() && !allow_damaged {
        let first = r
            .findings
            .iter()
            .find(|f| matches!(f, Finding::Damaged(_) | Finding::Unresolved(_)))
            .map(finding_line)
            .unwrap_or_default();
        out.push(format!(
            "{} damaged and {} unresolved files (use --allow-damaged to write what could be established; first: {first})",
            r.damaged().count(),
            r.unresolved().count()
        ));
    }
    for refusal in r.blocking_refusals() {
        out.push(refusal_line(refusal));
    }
    out
}
