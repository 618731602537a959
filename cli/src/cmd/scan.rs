//! `emrebuild scan --out NODE.partial`: one node of a cluster scans its own DBRoots (walk,
//! catalog, plan and scan, as `rebuild` does) and writes what placement needs into a partial
//! (`emengine::rebuild::partial`), which `assemble` on the primary turns into the extent map.
//!
//! The plan needs the catalog's rows (types of uncompressed and v2 files, which 8-byte string
//! columns hold tokens): a node without DBRoot 1 takes them from the partial of the node that
//! holds it (`--catalog`), and `assemble` refuses partials planned with other catalog facts.

use super::rebuild::ScanArgs;
use crate::args::{access, parse_dbroot_arg};
use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::progress::Bar;
use anyhow::bail;
use emengine::config::{check_dbroots, ClusterConfig};
use emengine::fsutil::escaped_path;
use emengine::output::{check_output, Existing, Inputs};
use emengine::rebuild::partial::{self, DbRootEntry, PartialBody, TOOL_VERSION};
use emengine::rebuild::{scan_facts, RebuildOptions};
use emengine::types::DbRootId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The DBRoot that holds the system catalog: dbbuilder creates every catalog file on DBRoot 1
/// (CAT §1 item 4, `systemcatalog.cpp:57-60`).
const CATALOG_DBROOT: DbRootId = DbRootId(1);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Columnstore.xml naming the DBRoots: the ones whose folder exists on this node are scanned.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A DBRoot of this node, as ID=PATH (repeatable): exactly these are scanned.
    #[arg(long = "dbroot", value_name = "ID=PATH", value_parser = parse_dbroot_arg)]
    pub dbroots: Vec<(DbRootId, PathBuf)>,
    /// Where to write the partial (atomically; an older partial there is replaced).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The node's name, recorded in the partial (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The partial of the node that holds DBRoot 1: its catalog facts plan this node's files
    /// (required on a node without DBRoot 1).
    #[arg(long, value_name = "PARTIAL")]
    pub catalog: Option<PathBuf>,
    /// How the data is scanned, as for `rebuild` (every node of a cluster must use one
    /// --string-cp).
    #[command(flatten)]
    pub scan: ScanArgs,
    /// An existing output file that is neither a partial nor an extent map is moved aside.
    #[arg(long)]
    pub force: bool,
    /// Print what was written as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// The `--json` document.
#[derive(Serialize)]
struct Summary {
    node: String,
    dbroots: Vec<DbRootId>,
    output: String,
    partial_bytes: u64,
    files: usize,
    extents_scanned: usize,
    bytes_scanned: u64,
    damaged: usize,
    unresolved: usize,
    skipped: usize,
    holds_catalog: bool,
    elapsed_seconds: f64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let dbroots = this_nodes_dbroots(args)?;
    let catalog = match &args.catalog {
        Some(path) if dbroots.contains_key(&CATALOG_DBROOT) => bail!(
            "{}: --catalog is for nodes without DBRoot 1, and this node scans DBRoot 1",
            path.display()
        ),
        Some(path) => {
            let p = partial::read(path)?;
            if p.tool_version != TOOL_VERSION {
                bail!(
                    "{}: written by emrebuild {}, this is emrebuild {TOOL_VERSION}",
                    path.display(),
                    p.tool_version
                );
            }
            if !p.body.facts.catalog.is_present() {
                bail!(
                    "{}: holds no system catalog (give the partial of the node that holds DBRoot 1)",
                    path.display()
                );
            }
            Some((p.body.facts.catalog, p.body.facts.found))
        }
        None if !dbroots.contains_key(&CATALOG_DBROOT) => bail!(
            "DBRoot 1, which holds the system catalog, is not scanned on this node: scan the node \
             that holds it first, copy its partial here and give it with --catalog"
        ),
        None => None,
    };
    let inputs = Inputs {
        files: args.config.iter().chain(&args.catalog).cloned().collect(),
        dbroots: dbroots.values().cloned().collect(),
    };
    let replaces_partial = is_partial(&args.out);
    let existing = check_output(&args.out, &inputs, args.force || replaces_partial)?;
    if existing == Existing::ExtentMap {
        bail!(
            "{}: is an extent map; a partial is never written over one",
            args.out.display()
        );
    }
    let options = RebuildOptions {
        dbroots: dbroots.clone(),
        chunk_mib: args.scan.chunk_mib,
        string_cp: args.scan.string_cp.into(),
        access: access(args.scan.no_mmap),
        direct_io: args.scan.direct_io,
        ..RebuildOptions::default()
    };
    let pool = args.scan.threads.pool()?;
    let bar = Bar::new(!args.json && !args.quiet);
    let started = Instant::now();
    let external = catalog.as_ref().map(|(c, found)| (c, found.as_slice()));
    let facts = pool.install(|| scan_facts(&options, external, &bar))?;
    let planned_with = match &catalog {
        Some((c, _)) => c,
        None => &facts.catalog,
    };
    let body = PartialBody {
        node: args.node.clone().unwrap_or_else(host_name),
        dbroots: dbroots
            .iter()
            .map(|(&id, path)| DbRootEntry {
                id,
                path: path.clone(),
            })
            .collect(),
        string_cp: options.string_cp,
        planned_with: partial::catalog_digest(planned_with),
        facts,
    };
    let written = {
        let _writing = crate::interrupt::writing();
        if existing == Existing::Forced && !replaces_partial {
            let bytes = partial::encode(&body, TOOL_VERSION);
            let stamp = crate::clock::utc_timestamp();
            emengine::fsutil::replace_keeping_old(&args.out, &bytes, &stamp)?;
            bytes.len() as u64
        } else {
            partial::write(&args.out, &body)?
        }
    };
    let facts = &body.facts;
    let summary = Summary {
        node: body.node.clone(),
        dbroots: dbroots.keys().copied().collect(),
        output: escaped_path(&args.out),
        partial_bytes: written,
        files: facts.files.len(),
        extents_scanned: facts.scan.stats.len(),
        bytes_scanned: facts.scan.bytes,
        damaged: facts.damaged_paths(),
        unresolved: facts.unresolved(),
        skipped: facts.skipped.values().map(Vec::len).sum(),
        holds_catalog: facts.catalog.is_present(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        let mut out = Stdout::new();
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    }
    if !args.quiet {
        let ids: Vec<String> = summary.dbroots.iter().map(|d| d.to_string()).collect();
        let _ = writeln!(
            std::io::stderr().lock(),
            "node {}: scanned DBRoot {} ({} files, {:.2} GB, {} damaged, {} unresolved); wrote {} ({} bytes)",
            summary.node,
            ids.join(", "),
            summary.files,
            summary.bytes_scanned as f64 / 1e9,
            summary.damaged,
            summary.unresolved,
            args.out.display(),
            written
        );
    }
    Ok(ExitCode::Ok)
}

/// The DBRoots this node scans: the `--dbroot`s given, else the configuration's DBRoots whose
/// folder exists here (the others belong to other nodes; `assemble` checks that every DBRoot
/// is covered exactly once).
fn this_nodes_dbroots(args: &Args) -> anyhow::Result<BTreeMap<DbRootId, PathBuf>> {
    let mut dbroots = BTreeMap::new();
    if !args.dbroots.is_empty() {
        for (id, path) in &args.dbroots {
            if dbroots.insert(*id, path.clone()).is_some() {
                bail!("DBRoot {id} is given twice");
            }
        }
    } else if let Some(config) = &args.config {
        let cfg = ClusterConfig::read(config)?;
        let mut elsewhere = Vec::new();
        for (id, path) in cfg.dbroots {
            if path.is_dir() {
                dbroots.insert(id, path);
            } else {
                elsewhere.push(format!("{id} ({})", path.display()));
            }
        }
        if dbroots.is_empty() {
            bail!(
                "{}: none of its DBRoots is a folder on this node; give --dbroot ID=PATH",
                config.display()
            );
        }
        if !elsewhere.is_empty() && !args.quiet {
            let _ = writeln!(
                std::io::stderr().lock(),
                "not on this node (left to the nodes that hold them): DBRoot {}",
                elsewhere.join(", ")
            );
        }
    } else {
        bail!("no DBRoot to scan: give --config Columnstore.xml or --dbroot ID=PATH");
    }
    check_dbroots(&dbroots).map_err(anyhow::Error::msg)?;
    Ok(dbroots)
}

/// Whether `path` is a regular file holding a partial (which a new scan replaces); opened
/// read-only and non-blocking, so a FIFO there is never waited on.
fn is_partial(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    emengine::fsutil::open_read_only(path)
        .ok()
        .and_then(|(mut f, _)| std::io::Read::read_exact(&mut f, &mut magic).ok())
        .is_some_and(|()| &magic == partial::MAGIC)
}

/// The host name, for the partial's node name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unnamed".to_owned())
}
