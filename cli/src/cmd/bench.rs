//! `emrebuild bench`: a rebuild timed as a user runs it, against floors measured in the same
//! run on the same files and pool, with the memory it holds and the time of each stage.
//!
//! Stages are not instrumented on the hot path: each is the difference between two passes of
//! [`emengine::rebuild::floors`] (walk; walk to units = plan; + reading every stored byte =
//! read; + checksum and decompression = decompress; + classifying every value = classify; the
//! whole rebuild − that = place), each the best of `--runs`; `write` is encoding the map and
//! writing it atomically to a temporary folder. Peak `RssAnon`/`RssFile` are sampled while each
//! pass runs ([`rss`]). `--cold` drops the tree's files from the page cache before each cold
//! pass and checks that it worked ([`emengine::pagecache::evict_from_page_cache`]).

mod rss;

use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::threads::Threads;
use anyhow::{bail, Context};
use emengine::config::ClusterConfig;
use emengine::pagecache::{evict_from_page_cache, Eviction};
use emengine::progress::NoProgress;
use emengine::rebuild::floors::{self, PassFigures};
use emengine::rebuild::{floor_pass, rebuild, RebuildOptions};
use rss::{timed, Timed};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

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
    /// Scenario of the generated tree (see `gen --scenario`).
    #[arg(long, default_value = "mixed")]
    pub scenario: emfixtures::Scenario,
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
    /// Read data that is not in the page cache around it (O_DIRECT, Linux): no CPU spent
    /// filling the cache, and the cache left to the server; faster where the disk streams
    /// direct reads at full speed (on the development machine's virtual disk it did not).
    #[arg(long)]
    pub direct_io: bool,
    /// Also time cold runs: the tree's files are dropped from the page cache
    /// (posix_fadvise DONTNEED, no root needed) before each cold pass.
    #[arg(long)]
    pub cold: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Every figure of one `bench` run (the `--json` output).
#[derive(Serialize)]
struct Figures {
    machine: Machine,
    tree: String,
    threads: usize,
    access: &'static str,
    /// Units not in the page cache read around it (`--direct-io`).
    direct_io: bool,
    chunk_mib: u32,
    runs: u32,
    data: Data,
    /// Best-of-runs of every warm pass, each with the memory before it and its peak.
    passes: Passes,
    /// Seconds per stage, derived from the passes.
    stages: Stages,
    warm: Warm,
    /// `null` without `--cold`.
    cold: Option<Cold>,
}

#[derive(Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    memory_bytes: u64,
    /// `/proc/loadavg`'s 1-minute figure when the run started: other work on the machine
    /// makes every figure noisy, and this says how much there was.
    load_average: Option<f64>,
}

#[derive(Serialize)]
struct Data {
    files: usize,
    units: usize,
    extents: usize,
    /// Bytes as stored on disk (compressed chunks compressed), and of those in compressed files.
    stored_bytes: u64,
    stored_compressed_bytes: u64,
    /// Bytes the scan classified.
    uncompressed_bytes: u64,
}

#[derive(Serialize)]
struct Passes {
    walk: Timed,
    plan: Timed,
    read: Timed,
    decompress: Timed,
    scan: Timed,
    rebuild: Timed,
    write: Timed,
}

#[derive(Serialize)]
struct Stages {
    walk: f64,
    plan: f64,
    read: f64,
    /// Checksum and decompression (zero for uncompressed files).
    decompress: f64,
    classify: f64,
    /// Place, checks and report.
    place: f64,
    write: f64,
    /// Walk and plan per segment file, in microseconds.
    walk_us_per_file: f64,
    plan_us_per_file: f64,
}

#[derive(Serialize)]
struct Warm {
    rebuild_seconds: f64,
    rebuild_gb_per_s: f64,
    /// Reading every stored byte (the floor of uncompressed files).
    read_floor_seconds: f64,
    /// Reading, checksumming and decompressing every chunk (the floor of compressed files).
    decompress_floor_seconds: f64,
    ratio_to_read_floor: f64,
    ratio_to_decompress_floor: f64,
    /// The same by CPU time (user + system of all threads): steadier than wall time on a
    /// machine shared with other work.
    rebuild_cpu_seconds: f64,
    read_floor_cpu_seconds: f64,
    decompress_floor_cpu_seconds: f64,
    cpu_ratio_to_read_floor: f64,
    cpu_ratio_to_decompress_floor: f64,
}

#[derive(Serialize)]
struct Cold {
    /// The eviction before the last cold pass, and whether it worked.
    eviction: Eviction,
    eviction_worked: Option<bool>,
    note: String,
    read_floor: Timed,
    rebuild: Timed,
    /// cold rebuild ÷ max(cold read floor, warm rebuild): the target is ≤ 1.15.
    ratio: f64,
    /// The least CPU time (user + system, all threads) of the cold rebuilds; filling the page
    /// cache costs system time that a warm rebuild does not spend.
    rebuild_cpu_seconds: f64,
    /// `rebuild_cpu_seconds` ÷ the cores this process may run on: no schedule of that work
    /// ends sooner, however well reads overlap the scan.
    cpu_bound_seconds: f64,
    /// `cpu_bound_seconds` ÷ max(cold read floor, warm rebuild): the least `ratio` these cores
    /// allow. Near or above 1.15, the cold target is out of reach of any overlap of I/O with
    /// the scan on this machine: only less CPU per byte (or more cores) brings it closer.
    cpu_bound_ratio: f64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let threads = args.threads.count().get();
    let pool = args.threads.pool()?;
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let tree = match &args.tree {
        Some(t) => t.clone(),
        None => {
            let opts = emfixtures::GenOptions {
                seed: args.seed,
                logical_bytes: emfixtures::parse_size(&args.size).map_err(anyhow::Error::msg)?,
                scenario: args.scenario,
                threads: None,
            };
            let out = tmp.path().join("tree");
            pool.install(|| emfixtures::generate(&out, &opts, &NoProgress))?;
            out
        }
    };
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml"))?;
    let opts = RebuildOptions {
        dbroots: cfg.dbroots,
        chunk_mib: args.chunk_mib,
        access: crate::args::access(args.no_mmap),
        direct_io: args.direct_io,
        ..RebuildOptions::default()
    };

    // One rebuild warms the page cache and checks the tree; its map is what `write` writes.
    let first = pool.install(|| rebuild(&opts, &NoProgress))?;
    if !first.report.is_clean() {
        bail!("the tree has damaged or unresolved files; bench needs a clean tree");
    }
    let map_path = tmp.path().join("BRM_saves_em");
    // The run with the least wall time, with the least CPU time of all runs (each its own best).
    let best = |a: &mut Option<Timed>, t: Timed| {
        *a = Some(match *a {
            Some(b) => Timed {
                cpu_seconds: b.cpu_seconds.min(t.cpu_seconds),
                ..if t.seconds < b.seconds { t } else { b }
            },
            None => t,
        });
    };
    let mut p: [Option<Timed>; 7] = [None; 7];
    let (mut walked, mut read, mut scanned) = Default::default();
    for _ in 0..args.runs {
        let (w, t) = timed(|| pool.install(|| floors::walk_pass(&opts)));
        best(&mut p[0], t);
        walked = w;
        let (_, t) = timed(|| pool.install(|| floors::plan_pass(&opts)));
        best(&mut p[1], t);
        let (r, t) = timed(|| pool.install(|| floors::read_pass(&opts)));
        best(&mut p[2], t);
        read = r?;
        let (_, t) = timed(|| pool.install(|| floor_pass(&opts)));
        best(&mut p[3], t);
        let (s, t) = timed(|| pool.install(|| floors::scan_pass(&opts, &NoProgress)));
        best(&mut p[4], t);
        scanned = s?;
        let (r, t) = timed(|| pool.install(|| rebuild(&opts, &NoProgress)));
        best(&mut p[5], t);
        r?;
        let (w, t) = timed(|| {
            emengine::fsutil::write_atomic(&map_path, &first.map.encode(Default::default()))
        });
        best(&mut p[6], t);
        w?;
    }
    let [Some(walk), Some(plan), Some(read_t), Some(decompress), Some(scan), Some(rebuild_t), Some(write)] =
        p
    else {
        unreachable!("every pass ran at least once");
    };
    let (walked, read, scanned): (PassFigures, PassFigures, PassFigures) = (walked, read, scanned);

    let cold = args
        .cold
        .then(|| cold_runs(args, &opts, &pool, rebuild_t.seconds))
        .transpose()?;

    let diff = |a: &Timed, b: &Timed| (a.seconds - b.seconds).max(0.0);
    let per_file = |s: f64, n: usize| s * 1e6 / n.max(1) as f64;
    let f = Figures {
        machine: machine(),
        tree: tree.display().to_string(),
        threads,
        access: if args.no_mmap { "read" } else { "mmap" },
        direct_io: args.direct_io,
        chunk_mib: args.chunk_mib,
        runs: args.runs,
        data: Data {
            files: read.files,
            units: read.units,
            extents: first.report.extents,
            stored_bytes: read.stored_bytes,
            stored_compressed_bytes: read.stored_compressed_bytes,
            uncompressed_bytes: scanned.uncompressed_bytes,
        },
        stages: Stages {
            walk: walk.seconds,
            plan: diff(&plan, &walk),
            read: diff(&read_t, &plan),
            decompress: diff(&decompress, &read_t),
            classify: diff(&scan, &decompress),
            place: diff(&rebuild_t, &scan),
            write: write.seconds,
            walk_us_per_file: per_file(walk.seconds, walked.files),
            plan_us_per_file: per_file(diff(&plan, &walk), read.files),
        },
        warm: Warm {
            rebuild_seconds: rebuild_t.seconds,
            rebuild_gb_per_s: scanned.uncompressed_bytes as f64 / 1e9 / rebuild_t.seconds,
            read_floor_seconds: read_t.seconds,
            decompress_floor_seconds: decompress.seconds,
            ratio_to_read_floor: rebuild_t.seconds / read_t.seconds,
            ratio_to_decompress_floor: rebuild_t.seconds / decompress.seconds,
            rebuild_cpu_seconds: rebuild_t.cpu_seconds,
            read_floor_cpu_seconds: read_t.cpu_seconds,
            decompress_floor_cpu_seconds: decompress.cpu_seconds,
            cpu_ratio_to_read_floor: rebuild_t.cpu_seconds / read_t.cpu_seconds,
            cpu_ratio_to_decompress_floor: rebuild_t.cpu_seconds / decompress.cpu_seconds,
        },
        passes: Passes {
            walk,
            plan,
            read: read_t,
            decompress,
            scan,
            rebuild: rebuild_t,
            write,
        },
        cold,
    };
    let mut out = Stdout::new();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &f)?;
        writeln!(out)?;
    } else {
        text(&mut out, &f)?;
    }
    Ok(ExitCode::Ok)
}

/// `--runs` cold passes of the read floor and of the rebuild, each after dropping the tree's
/// files from the page cache; the best of each.
fn cold_runs(
    args: &Args,
    opts: &RebuildOptions,
    pool: &rayon::ThreadPool,
    warm_rebuild: f64,
) -> anyhow::Result<Cold> {
    let paths: Vec<PathBuf> = emengine::rebuild::walk::walk(&opts.dbroots)
        .files
        .into_iter()
        .map(|f| f.path)
        .collect();
    let (mut read, mut rebuilt): (Option<Timed>, Option<Timed>) = (None, None);
    let mut least_cpu = f64::INFINITY;
    let mut eviction = Eviction::default();
    let mut all_worked = Some(true);
    let mut note = |e: Eviction| {
        all_worked = match (all_worked, e.worked()) {
            (Some(a), Some(b)) => Some(a && b),
            _ => None,
        };
        eviction = e;
    };
    for _ in 0..args.runs {
        note(evict_from_page_cache(&paths));
        let (r, t) = timed(|| pool.install(|| floors::read_pass(opts)));
        r?;
        if read.is_none_or(|b| t.seconds < b.seconds) {
            read = Some(t);
        }
        note(evict_from_page_cache(&paths));
        let (r, t) = timed(|| pool.install(|| rebuild(opts, &NoProgress)));
        r?;
        least_cpu = least_cpu.min(t.cpu_seconds);
        if rebuilt.is_none_or(|b| t.seconds < b.seconds) {
            rebuilt = Some(t);
        }
    }
    let (Some(read), Some(rebuilt)) = (read, rebuilt) else {
        unreachable!("--runs is at least 1");
    };
    let target = read.seconds.max(warm_rebuild);
    let cpu_bound = least_cpu / crate::threads::cores().get() as f64;
    Ok(Cold {
        eviction,
        eviction_worked: all_worked,
        note: describe(&eviction),
        ratio: rebuilt.seconds / target,
        rebuild_cpu_seconds: least_cpu,
        cpu_bound_seconds: cpu_bound,
        cpu_bound_ratio: cpu_bound / target,
        read_floor: read,
        rebuild: rebuilt,
    })
}

/// One sentence on an eviction for the report.
fn describe(e: &Eviction) -> String {
    match e.worked() {
        Some(true) => format!(
            "page cache dropped for {} files ({} of {} probed pages still cached)",
            e.files, e.resident, e.probed
        ),
        Some(false) => format!(
            "eviction did NOT work: {} of {} probed pages still cached, {} of {} files not \
             advised; cold figures are not cold",
            e.resident,
            e.probed - e.unknown,
            e.failed,
            e.files + e.failed
        ),
        None => format!(
            "eviction advised for {} files but could not be checked (`mincore` cannot answer \
             here); cold figures may be warm",
            e.files
        ),
    }
}

fn text(out: &mut impl Write, f: &Figures) -> std::io::Result<()> {
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let d = &f.data;
    writeln!(
        out,
        "machine: {}, {} cores, {:.0} GiB, load average {}; {} threads, {}{}, units of {} MiB, best of {}",
        f.machine.cpu,
        f.machine.cores,
        f.machine.memory_bytes as f64 / f64::from(1 << 30),
        f.machine.load_average.map_or("?".into(), |l| format!("{l:.1}")),
        f.threads,
        f.access,
        if f.direct_io { " (cold units read directly)" } else { "" },
        f.chunk_mib,
        f.runs
    )?;
    writeln!(
        out,
        "data: {} files, {} extents, {} units; {:.1} MiB stored ({:.1} MiB in compressed files), {:.1} MiB uncompressed",
        d.files,
        d.extents,
        d.units,
        mib(d.stored_bytes),
        mib(d.stored_compressed_bytes),
        mib(d.uncompressed_bytes)
    )?;
    let w = &f.warm;
    writeln!(
        out,
        "warm rebuild: {:.3} s ({:.2} GB/s); read floor {:.3} s → ratio {:.2}; read+checksum+decompress floor {:.3} s → ratio {:.2}",
        w.rebuild_seconds,
        w.rebuild_gb_per_s,
        w.read_floor_seconds,
        w.ratio_to_read_floor,
        w.decompress_floor_seconds,
        w.ratio_to_decompress_floor
    )?;
    writeln!(
        out,
        "warm CPU time: rebuild {:.3} s; read floor {:.3} s → ratio {:.2}; read+checksum+decompress floor {:.3} s → ratio {:.2}",
        w.rebuild_cpu_seconds,
        w.read_floor_cpu_seconds,
        w.cpu_ratio_to_read_floor,
        w.decompress_floor_cpu_seconds,
        w.cpu_ratio_to_decompress_floor
    )?;
    if let Some(c) = &f.cold {
        writeln!(
            out,
            "cold rebuild: {:.3} s; cold read floor {:.3} s → ratio to max(cold read, warm rebuild) {:.2}",
            c.rebuild.seconds, c.read_floor.seconds, c.ratio
        )?;
        writeln!(
            out,
            "cold CPU time: rebuild {:.3} s; on {} cores at least {:.3} s → ratio at least {:.2}",
            c.rebuild_cpu_seconds, f.machine.cores, c.cpu_bound_seconds, c.cpu_bound_ratio
        )?;
        writeln!(out, "cold: {}", c.note)?;
    } else {
        writeln!(out, "cold: not measured (--cold)")?;
    }
    let s = &f.stages;
    writeln!(
        out,
        "stages (s): walk {:.3}, plan {:.3}, read {:.3}, decompress {:.3}, classify {:.3}, place {:.3}, write {:.3}; walk {:.1} µs/file, plan {:.1} µs/file",
        s.walk, s.plan, s.read, s.decompress, s.classify, s.place, s.write, s.walk_us_per_file, s.plan_us_per_file
    )?;
    writeln!(out, "peak memory (MiB)  RssAnon  RssFile")?;
    let p = &f.passes;
    let mut row = |name: &str, t: &Timed| {
        writeln!(
            out,
            "  {name:<18} {:>7.1}  {:>7.1}",
            mib(t.peak.anon),
            mib(t.peak.file)
        )
    };
    row("warm rebuild", &p.rebuild)?;
    if let Some(c) = &f.cold {
        row("cold rebuild", &c.rebuild)?;
    }
    row("read floor", &p.read)?;
    row("decompress floor", &p.decompress)?;
    Ok(())
}

fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .map_or(0, |k| k * 1024);
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()));
    Machine {
        cpu,
        cores: crate::threads::cores().get(),
        memory_bytes,
        load_average,
    }
}
