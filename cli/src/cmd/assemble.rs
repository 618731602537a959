//! `emrebuild assemble --config XML NODE1.partial NODE2.partial …`: on the primary, check the
//! partials the nodes' `scan`s wrote (this tool version, every DBRoot of the configuration
//! exactly once, intact, one catalog) and place, check, report and write the extent map exactly
//! as `rebuild` would on one machine holding every DBRoot: the same engine stages run on the
//! merged facts, and `rebuild`'s own code writes, refuses or installs the result.

use super::rebuild::{conclude, validate, MapArgs, ScanArgs, Where};
use crate::exit::ExitCode;
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
    /// What is done with the map, as for `rebuild`.
    #[command(flatten)]
    pub map: MapArgs,
}

impl Args {
    /// The `rebuild` arguments this run stands for (the scan options were the nodes').
    fn as_rebuild(&self) -> super::rebuild::Args {
        super::rebuild::Args {
            config: Some(self.config.clone()),
            dbroots: Vec::new(),
            map: self.map.clone(),
            scan: ScanArgs::default(),
            storagemanager: None,
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
    let rebuilt = finish(assembled.facts, &plan.options)?;
    conclude(
        &rebuild_args,
        &plan,
        &rebuilt,
        started.elapsed().as_secs_f64(),
        Where::OnTheNodes,
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
