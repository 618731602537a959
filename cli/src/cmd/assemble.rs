//! `emrebuild assemble --config XML NODE1.partial NODE2.partial …`: on the primary, check the
//! partials the nodes' `scan`s wrote (this tool version, every DBRoot of the configuration
//! exactly once, intact, one catalog) and place, check, report and write the extent map exactly
//! as `rebuild` would on one machine holding every DBRoot: the same engine stages run on the
//! merged facts, and `rebuild`'s own code writes, refuses or installs the result.

use super::rebuild::{conclude, validate};
use crate::args::EmVersionArg;
use crate::exit::ExitCode;
use crate::threads::Threads;
use emengine::rebuild::facts::finish;
use emengine::rebuild::facts::Facts;
use emengine::rebuild::partial::{self, Partial};
use emengine::types::DbRootId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Columnstore.xml of the cluster: the DBRoots the partials must cover, and DBRMRoot.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The partials written by `emrebuild scan` on every node.
    #[arg(value_name = "PARTIAL", required = true)]
    pub partials: Vec<PathBuf>,
    /// Where to write the extent map (default: DBRMRoot + "_em.rebuilt"; see `rebuild`).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Extent-map format version to write.
    #[arg(long, value_enum, default_value_t)]
    pub em_version: EmVersionArg,
    /// Check and report, but write nothing at all.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the map even when files are damaged, with what could be established.
    #[arg(long)]
    pub allow_damaged: bool,
    /// Write the map even when tokens point into dictionary extents whose LBIDs the data cannot
    /// establish (see `rebuild`).
    #[arg(long)]
    pub allow_reassigned: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No summary on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Install the map so that ColumnStore loads exactly it (see `emrebuild install`).
    #[arg(long, conflicts_with = "dry_run")]
    pub install: bool,
    /// With --install: owner of the files put in place.
    #[arg(
        long,
        value_name = "USER:GROUP",
        default_value = "mysql:mysql",
        requires = "install"
    )]
    pub owner: String,
    /// Proceed where a safety check would refuse (see `rebuild --force`).
    #[arg(long)]
    pub force: bool,
}

impl Args {
    /// The `rebuild` arguments this run stands for (the scan options were the nodes').
    fn as_rebuild(&self) -> super::rebuild::Args {
        super::rebuild::Args {
            config: Some(self.config.clone()),
            dbroots: Vec::new(),
            output: self.output.clone(),
            em_version: self.em_version,
            dry_run: self.dry_run,
            threads: Threads::default(),
            chunk_mib: 16,
            string_cp: Default::default(),
            allow_damaged: self.allow_damaged,
            allow_reassigned: self.allow_reassigned,
            no_mmap: false,
            storagemanager: None,
            json: self.json,
            quiet: self.quiet,
            install: self.install,
            owner: self.owner.clone(),
            force: self.force,
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let rebuild_args = args.as_rebuild();
    let plan = validate(&rebuild_args, &args.partials)?;
    let started = Instant::now();
    let assembled = read_and_check(
        &args.partials,
        &plan.options.dbroots.keys().copied().collect(),
    )?;
    let rebuilt = finish(assembled.facts, &plan.options.accept);
    conclude(
        &rebuild_args,
        &plan,
        &rebuilt,
        started.elapsed().as_secs_f64(),
    )
}

/// Partials read and checked together (shared with `verify --partials`).
pub(crate) struct Assembled {
    /// The merged facts of every node.
    pub facts: Facts,
    /// Every DBRoot with its path on the node that scanned it.
    pub dbroots: BTreeMap<DbRootId, PathBuf>,
}

/// Read every partial and check them together against the configuration's `dbroots`: the
/// merged facts, or the first reason they cannot be assembled.
pub(crate) fn read_and_check(
    paths: &[PathBuf],
    dbroots: &BTreeSet<DbRootId>,
) -> anyhow::Result<Assembled> {
    let mut partials: Vec<(PathBuf, Partial)> = Vec::new();
    let mut paths_on_nodes = BTreeMap::new();
    for path in paths {
        let p = partial::read(path)?;
        for d in &p.body.dbroots {
            paths_on_nodes.insert(d.id, d.path.clone());
        }
        partials.push((path.clone(), p));
    }
    let facts = partial::assemble(partials, dbroots)?;
    Ok(Assembled {
        facts,
        dbroots: paths_on_nodes,
    })
}
