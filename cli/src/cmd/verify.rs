//! `emrebuild verify --map EM (--config XML | --dbroot ID=PATH ...) [--json]`: scan the data as
//! the rebuild does and compare every extent of the map with it. With `--partials`, the data is
//! the facts a cluster's nodes scanned (`emrebuild scan`), checked together as `assemble` checks
//! them.
//!
//! Exit 0 when nothing is dangerous (or unverifiable), 1 otherwise, 2 on error. The text and the
//! JSON are both rendered here, from the engine's typed [`Verification`].

use crate::args::{access, parse_dbroot_arg};
use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::progress::Bar;
use crate::report::{damaged, finding_line, reassigned, unresolved};
use crate::threads::Threads;
use anyhow::bail;
use emengine::config::ClusterConfig;
use emengine::em::{CpState, ExtentMap};
use emengine::finding::Finding;
use emengine::rebuild::facts::finish;
use emengine::rebuild::RebuildOptions;
use emengine::types::DbRootId;
use emengine::types::{ExtentAddress, SegmentId};
use emengine::verify::{
    verify, verify_rebuilt, Detail, ExtentVerdict, Severity, Status, Verification,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The extent map to verify (BRM_saves_em, version 4 or 5), e.g. a backup.
    #[arg(long, value_name = "EM")]
    pub map: PathBuf,
    /// Columnstore.xml naming the DBRoots (SystemConfig/DBRoot<N>).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A DBRoot to scan, as ID=PATH (repeatable; overrides the same id from --config).
    #[arg(long = "dbroot", value_name = "ID=PATH", value_parser = parse_dbroot_arg)]
    pub dbroots: Vec<(DbRootId, PathBuf)>,
    /// Compare with the data the nodes of a cluster scanned (`emrebuild scan`) instead of
    /// scanning here: every DBRoot of --config exactly once, checked as `assemble` checks them.
    #[arg(long, value_name = "PARTIAL", num_args = 1.., requires = "config", conflicts_with = "dbroots")]
    pub partials: Vec<PathBuf>,
    /// Print every extent's status and the counts as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub threads: Threads,
    /// Read files instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,
    /// Read data that is not in the page cache around it (O_DIRECT, Linux): no CPU spent
    /// filling the cache, and the cache left to the server; faster where the disk streams
    /// direct reads at full speed (on the development machine's virtual disk it did not).
    #[arg(long)]
    pub direct_io: bool,
    /// How many of the worst extents the text summary names.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub worst: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The command that repairs a map verify rejects: a rebuild from the same data, with the map as
/// its reference.
fn repair(args: &Args) -> String {
    let mut cmd = String::from("emrebuild rebuild");
    if let Some(c) = &args.config {
        cmd.push_str(&format!(" --config {}", c.display()));
    }
    for (id, path) in &args.dbroots {
        cmd.push_str(&format!(" --dbroot {}={}", id.0, path.display()));
    }
    cmd.push_str(&format!(" --reference {}", args.map.display()));
    cmd
}

/// What the repair command is, in words (printed and in the JSON).
const REPAIR_NOTE: &str = "rebuilds the map from the data, taking from this map only the LBIDs \
    the data cannot establish, extent status and sequence numbers; the report lists every field \
    taken and every place the map contradicts the data";

/// The `--json` document.
#[derive(Serialize)]
struct JsonReport<'a> {
    map: &'a Path,
    map_version: u32,
    /// `safe`, `dangerous` or `unverifiable`.
    verdict: &'static str,
    dangerous: usize,
    unverifiable: usize,
    stale: usize,
    benign: usize,
    repair: Option<String>,
    repair_note: Option<&'static str>,
    #[serde(flatten)]
    verification: &'a Verification,
}

fn verdict(v: &Verification) -> &'static str {
    if v.count(Severity::Dangerous) > 0 {
        "dangerous"
    } else if v.count(Severity::Unverifiable) > 0 {
        "unverifiable"
    } else {
        "safe"
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut cfg = match &args.config {
        Some(path) => ClusterConfig::read(path)?,
        None => ClusterConfig::default(),
    };
    emengine::config::merge_dbroot_args(&mut cfg.dbroots, &args.dbroots)
        .map_err(anyhow::Error::msg)?;
    if cfg.dbroots.is_empty() {
        bail!("no DBRoot to scan: give --config Columnstore.xml or --dbroot ID=PATH");
    }
    emengine::config::check_dbroots(&cfg.dbroots).map_err(anyhow::Error::msg)?;
    let map = ExtentMap::read(&args.map)?;
    let options = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        access: access(args.no_mmap),
        direct_io: args.direct_io,
        ..RebuildOptions::default()
    };
    let v = if args.partials.is_empty() {
        let pool = args.threads.pool()?;
        let bar = Bar::new(!args.json && !args.quiet);
        pool.install(|| verify(&map, &options, &bar))?
    } else {
        from_partials(&map, &args.partials, &options)?
    };

    let mut out = Stdout::new();
    let safe = v.is_safe();
    let dangerous = v.count(Severity::Dangerous) > 0;
    if args.json {
        let doc = JsonReport {
            map: &args.map,
            map_version: map.version.number(),
            verdict: verdict(&v),
            dangerous: v.count(Severity::Dangerous),
            unverifiable: v.count(Severity::Unverifiable),
            stale: v.count(Severity::Stale),
            benign: v.count(Severity::Benign),
            repair: dangerous.then(|| repair(args)),
            repair_note: dangerous.then_some(REPAIR_NOTE),
            verification: &v,
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        text(&mut out, args, &map, &v, cfg.dbroots.len())?;
    }
    out.flush()?;
    Ok(if safe {
        ExitCode::Ok
    } else {
        ExitCode::Differences
    })
}

/// Verify against the facts of a cluster's partials, assembled as `assemble` does; the
/// catalog is read from the DBRoot that holds it on this node (the primary).
fn from_partials(
    map: &ExtentMap,
    partials: &[PathBuf],
    options: &RebuildOptions,
) -> anyhow::Result<Verification> {
    let ids = options.dbroots.keys().copied().collect();
    let assembled = super::assemble::read_and_check(partials, &ids)?;
    // The files are on the nodes: whether the blocks up to an HWM exist is answered from the
    // facts their scan established, as `verify` on one machine answers it by reading the chunk
    // (`emengine::verify::blocks_exist`): inside the allocated blocks and the chunks, in a chunk
    // the node's scan read, and within the data that chunk holds.
    let facts = &assembled.facts;
    let files: BTreeMap<(SegmentId, DbRootId), usize> = facts
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| ((f.found.id, f.found.dbroot), i))
        .collect();
    let (damaged, short) = (facts.scan.damaged.clone(), facts.scan.short.clone());
    let sizes: Vec<(u64, u32)> = facts
        .files
        .iter()
        .map(|f| (f.allocated_blocks, f.chunk_count))
        .collect();
    let rebuilt = finish(assembled.facts, options)?;
    let file_blocks = |a: ExtentAddress, last: u32| match files.get(&(a.segment_id(), a.dbroot)) {
        Some(&i) => {
            let (blocks, chunks) = sizes[i];
            let per_chunk = emengine::types::BLOCKS_PER_CHUNK;
            let chunk = last / per_chunk;
            let held = short.get(&(i, chunk)).copied().unwrap_or(per_chunk);
            let exist = u64::from(last) < blocks
                && chunk < chunks
                && !damaged.contains(&(i, chunk))
                && last % per_chunk < held;
            (Some(blocks), exist)
        }
        None => (None, false),
    };
    Ok(verify_rebuilt(
        map,
        &rebuilt,
        &assembled.dbroots,
        options.access,
        &file_blocks,
    ))
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Dangerous => "dangerous",
        Severity::Unverifiable => "not verifiable",
        Severity::Stale => "stale but safe",
        Severity::Benign => "benign",
    }
}

/// What a status means, in one phrase.
fn meaning(s: Status) -> &'static str {
    match s {
        Status::HwmBehind => "data beyond the map's HWM: restoring this map loses rows",
        Status::HwmAhead => "the map's HWM is past the data: blocks missing",
        Status::HwmAheadEmpty => {
            "the map's HWM is past the data over blocks holding only EMPTY rows (deleted)"
        }
        Status::CpUnsafe => "the min/max excludes values on disk: wrong query results",
        Status::LbidMismatch => "the data disproves the map's LBID",
        Status::WidthMismatch => "the map's column width or extent size is not the data's",
        Status::MissingInMap => "data the map does not know",
        Status::Overlap => "LBIDs shared with another extent of the map",
        Status::NotVerifiable => "the data could not be read well enough to check",
        Status::MissingInData => "the map has an extent with no data",
        Status::CpInvalid => "the map's min/max is invalid where the data knows it",
        Status::StatusOnly => "only the extent status differs",
        Status::SeqOnly => "only the CP sequence number differs",
        Status::CpLoose => "the min/max is valid and wider than the data",
        Status::Match => "agrees with the data",
    }
}

/// One detail in words.
fn detail_text(d: &Detail) -> String {
    match d {
        Detail::Hwm {
            map,
            data,
            file_blocks,
        } => {
            let mut t = format!("the segment file's HWM is block {map} in the map, {data} in the data");
            match file_blocks {
                Some(n) if u64::from(*map) >= *n => {
                    t.push_str(&format!(" (the file has {n} blocks: blocks missing)"))
                }
                Some(_) => t.push_str(&format!(
                    " (blocks {}..={map} exist but hold no rows: rows deleted at the end of the file, or a stale map)",
                    data + 1
                )),
                None => {}
            }
            t
        }
        Detail::Cp {
            map_lo,
            map_hi,
            data_lo,
            data_hi,
        } => format!("min/max {map_lo}..{map_hi} in the map, {data_lo}..{data_hi} on disk"),
        Detail::CpState { map } => format!(
            "CP state {} in the map",
            CpState::from_raw(*map)
        ),
        Detail::Lbid { map, data } => {
            format!("LBID {map} in the map, {data} in the data (the file header's LBID list, or the catalog's creation order)")
        }
        Detail::LbidNotEstablished { map, reason } => format!(
            "LBID {map} not established by data ({})",
            reassigned(*reason)
        ),
        Detail::TokensDisprove { map, tokens } => format!(
            "{tokens} catalog tokens point outside this dictionary as the map places it (LBID {map})"
        ),
        Detail::Geometry {
            map_width,
            data_width,
            map_size,
            data_size,
        } => format!(
            "width {map_width} and size {map_size} in the map, width {data_width} and size {data_size} in the data"
        ),
        Detail::OverlapsWith {
            other,
            lbid,
            other_lbid,
        } => format!("LBID {lbid} overlaps {other} at LBID {other_lbid}"),
        Detail::NotInData {
            file,
            oid_in_catalog,
        } => {
            let what = match (file, oid_in_catalog) {
                (true, _) => "its segment file holds fewer extents: a file cut short",
                (false, Some(false)) => "no segment file and the OID is not in the catalog: a dropped table",
                (false, Some(true)) => "no segment file but the OID is in the catalog: a lost file",
                (false, None) => "no segment file (catalog not read: dropped table or lost file)",
            };
            what.to_string()
        }
        Detail::NotInMap {
            lbid,
            lbid_established,
        } => {
            if *lbid_established {
                format!("the data has it at LBID {lbid}")
            } else {
                "the data has it (its LBID is not established by data)".to_string()
            }
        }
        Detail::Damaged(d) => format!("damaged: {}", damaged(d)),
        Detail::Unresolved(u) => format!(
            "not understood: {}: {}",
            u.path.display(),
            unresolved(u.reason, u.oid.0)
        ),
        Detail::Uncertain(u) => finding_line(&Finding::Uncertain(u.clone())),
        Detail::DbRootNotScanned { dbroot } => format!("DBRoot {dbroot} was not scanned"),
        Detail::Seq { map } => format!("sequence number {map} in the map"),
        Detail::ExtentStatus { map } => format!("status {map} in the map"),
    }
}

fn extent_line(e: &ExtentVerdict) -> String {
    let name = e
        .name
        .as_deref()
        .map_or_else(String::new, |n| format!("{n} "));
    let details: Vec<String> = e.details.iter().map(detail_text).collect();
    let others: Vec<&str> = e.statuses[1..].iter().map(|s| s.name()).collect();
    let mut line = format!("{:<16} {name}({})", e.status.name(), e.address);
    if !others.is_empty() {
        line.push_str(&format!(" [also {}]", others.join(", ")));
    }
    if !details.is_empty() {
        line.push_str(": ");
        line.push_str(&details.join("; "));
    }
    line
}

/// The text summary: what was compared, counts by severity and status, the worst extents, the
/// verdict and, when the map is not safe, the repair.
fn text(
    out: &mut dyn Write,
    args: &Args,
    map: &ExtentMap,
    v: &Verification,
    dbroots: usize,
) -> std::io::Result<()> {
    writeln!(
        out,
        "verified {} (version {}, {} extents) against the data of {dbroots} DBRoots ({} extents, {} files)",
        args.map.display(),
        map.version.number(),
        v.map_extents,
        v.data_extents,
        v.scan.files
    )?;
    for sev in [
        Severity::Dangerous,
        Severity::Unverifiable,
        Severity::Stale,
        Severity::Benign,
    ] {
        writeln!(out, "{:<18}{:>10}", severity_name(sev), v.count(sev))?;
        for (s, n) in v
            .counts
            .iter()
            .filter(|(s, n)| s.severity() == sev && **n > 0)
        {
            writeln!(out, "  {:<16}{:>10}  {}", s.name(), n, meaning(*s))?;
        }
    }
    if let Some(p) = &v.catalog_problem {
        writeln!(out, "catalog: {p} (extents are named by OID only)")?;
    }
    let worst: Vec<&ExtentVerdict> = v
        .extents
        .iter()
        .filter(|e| e.status.severity() != Severity::Benign)
        .take(args.worst)
        .collect();
    if !worst.is_empty() {
        let shown = worst.len();
        let all = v.extents.len() - v.count(Severity::Benign);
        writeln!(
            out,
            "worst extents ({shown} of {all}; --json lists every extent):"
        )?;
        for e in worst {
            writeln!(out, "  {}", extent_line(e))?;
        }
    }
    let dangerous = v.count(Severity::Dangerous);
    let unverifiable = v.count(Severity::Unverifiable);
    if dangerous > 0 {
        writeln!(
            out,
            "verdict: DANGEROUS — {dangerous} extents disagree with the data in ways that lose rows, \
             return wrong results or fail queries: do not restore or keep this map"
        )?;
        writeln!(out, "repair: {}", repair(args))?;
        writeln!(out, "  ({REPAIR_NOTE})")?;
    } else if unverifiable > 0 {
        writeln!(
            out,
            "verdict: NOT VERIFIED — {unverifiable} extents could not be checked (their files are \
             damaged, not understood or on a DBRoot not scanned); nothing checked is dangerous"
        )?;
    } else {
        writeln!(
            out,
            "verdict: safe — nothing dangerous; this map can be restored or kept"
        )?;
    }
    Ok(())
}
