//! `emrebuild demo`: generate a small mixed tree in a temporary folder, rebuild its extent map
//! from the data files alone, compare it with the ground truth the generator wrote, and say so.

use crate::exit::ExitCode;
use crate::output::Stdout;
use crate::progress::Bar;
use crate::report::finding_line;
use crate::threads::Threads;
use anyhow::Context;
use emengine::config::ClusterConfig;
use emengine::em::ExtentMap;
use emengine::finding::Finding;
use emengine::rebuild::compare::{self, Class, Comparison};
use emengine::rebuild::{rebuild, RebuildOptions, Rebuilt};
use emengine::seg::file::Access;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed of the generated tree.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Logical (uncompressed) size of the generated tree.
    #[arg(long, default_value = "256MiB")]
    pub size: String,
    /// Generate into this (new or empty) folder and keep it, instead of a temporary folder.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    #[command(flatten)]
    pub threads: Threads,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let pool = args.threads.pool()?;
    let logical_bytes = emfixtures::parse_size(&args.size).map_err(anyhow::Error::msg)?;
    let tmp;
    let tree = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    let mut out = Stdout::new();
    let manifest = pool.install(|| generate(&mut out, args, &tree, logical_bytes))?;
    let rebuilt = pool.install(|| rebuild_tree(&mut out, &tree, args.threads))?;
    let rebuilt_path = tree.join("BRM_saves_em.rebuilt");
    rebuilt
        .map
        .write(&rebuilt_path, emengine::em::EmVersion::V5)?;
    let cmp = compare_with_truth(&mut out, &tree, &rebuilt, &manifest.stored_ranges())?;
    let misread = misread_dictionaries(&mut out, &manifest, &rebuilt)?;
    let refused = rebuilt.report.blocking_refusals().count();

    let ok = cmp.agrees() && rebuilt.report.is_clean() && misread == 0 && refused == 0;
    if ok {
        writeln!(
            out,
            "demo: the rebuilt extent map agrees with the ground truth"
        )?;
    } else {
        writeln!(
            out,
            "demo: the rebuilt extent map does NOT agree with the ground truth"
        )?;
    }
    if args.keep.is_some() {
        writeln!(
            out,
            "kept the tree; rebuilt map at {}",
            rebuilt_path.display()
        )?;
    }
    Ok(if ok {
        ExitCode::Ok
    } else {
        ExitCode::Differences
    })
}

/// Step 1: a mixed tree on the current pool.
fn generate(
    out: &mut Stdout,
    args: &Args,
    tree: &Path,
    logical_bytes: u64,
) -> anyhow::Result<emfixtures::Manifest> {
    writeln!(
        out,
        "1. generating a mixed ColumnStore tree ({}, seed {}) in {}",
        args.size,
        args.seed,
        tree.display()
    )?;
    let opts = emfixtures::GenOptions {
        seed: args.seed,
        logical_bytes,
        scenario: emfixtures::Scenario::Mixed,
        threads: None,
    };
    let t = Instant::now();
    let manifest = emfixtures::generate(tree, &opts, &Bar::new(true))?;
    let tot = &manifest.totals;
    writeln!(
        out,
        "   {} tables, {} user files and {} catalog files on {} DBRoots, {} extents, {:.1} MB of column data, in {:.2} s",
        tot.tables,
        tot.user_files,
        tot.catalog_files,
        manifest.dbroots.len(),
        tot.extents,
        tot.data_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    )?;
    Ok(manifest)
}

/// Step 2: the rebuild from the data files alone, on the current pool, with its findings.
fn rebuild_tree(out: &mut Stdout, tree: &Path, threads: Threads) -> anyhow::Result<Rebuilt> {
    writeln!(
        out,
        "2. rebuilding the extent map from the data files alone ({} threads)",
        threads.count()
    )?;
    let cfg = ClusterConfig::read(&tree.join("Columnstore.xml"))?;
    let ropts = RebuildOptions {
        dbroots: cfg.dbroots.clone(),
        access: Access::Mmap,
        ..RebuildOptions::default()
    };
    let t = Instant::now();
    let rebuilt = rebuild(&ropts, &Bar::new(true))?;
    let secs = t.elapsed().as_secs_f64();
    let r = &rebuilt.report;
    let gb = r.bytes_scanned as f64 / 1e9;
    writeln!(
        out,
        "   {} extents from {} files; {:.2} GB of column data scanned in {:.2} s ({:.2} GB/s)",
        r.extents,
        r.files,
        gb,
        secs,
        if secs > 0.0 { gb / secs } else { 0.0 }
    )?;
    if let Some(g) = &r.catalog.generation {
        writeln!(
            out,
            "   system catalog generation {g:?}: {} files placed by dbbuilder's creation order",
            r.catalog.oids.len()
        )?;
    }
    // Skipped paths are expected in a generated tree (Columnstore.xml, the manifest): not shown.
    for f in r
        .findings
        .iter()
        .filter(|f| !matches!(f, Finding::Skipped(_)))
    {
        writeln!(out, "   {}", finding_line(f))?;
    }
    Ok(rebuilt)
}

/// Dictionary extents the tokens point into (as the generator's manifest says) that the
/// rebuild placed at another LBID than the ground truth's: every string in them would be read
/// from the wrong blocks, so they never count as agreeing, re-assigned or not.
fn misread_dictionaries(
    out: &mut Stdout,
    manifest: &emfixtures::Manifest,
    rebuilt: &Rebuilt,
) -> anyhow::Result<usize> {
    let placed: std::collections::BTreeMap<_, _> = rebuilt
        .map
        .extents
        .iter()
        .map(|e| (e.address(), e.range_start.0))
        .collect();
    let mut n = 0;
    for f in manifest.files.iter().filter(|f| f.kind == "dictionary") {
        for x in f.extents.iter().filter(|x| x.tokens_point_here) {
            let key = emengine::types::ExtentAddress {
                oid: emengine::types::Oid(f.oid),
                dbroot: emengine::types::DbRootId(f.dbroot),
                partition: f.partition,
                segment: f.segment,
                block_offset: x.block_offset,
            };
            let got = placed.get(&key).copied();
            if got != Some(x.lbid) {
                n += 1;
                let got = got.map_or("left out".to_string(), |l| format!("at LBID {l}"));
                writeln!(
                    out,
                    "         DISAGREE {key}: tokens point into it at LBID {}, rebuilt {got}",
                    x.lbid
                )?;
            }
        }
    }
    if n > 0 {
        writeln!(
            out,
            "   {n:>5} dictionary extents tokens point into are not at their LBID: their strings would be read from wrong blocks"
        )?;
    }
    Ok(n)
}

/// Step 3: extent by extent against the generator's ground truth, every difference classified.
fn compare_with_truth(
    out: &mut Stdout,
    tree: &Path,
    rebuilt: &Rebuilt,
    stored: &compare::StoredRanges,
) -> anyhow::Result<Comparison> {
    writeln!(
        out,
        "3. comparing with the ground truth ({})",
        tree.join("BRM_saves_em").display()
    )?;
    let truth = ExtentMap::read(&tree.join("BRM_saves_em"))?;
    let cmp = compare::against(&truth, &rebuilt.map, &rebuilt.report, stored);
    writeln!(
        out,
        "   {} extents expected, {} rebuilt: {} identical in every field (LBID, HWM, min/max, status, ...)",
        cmp.expected, cmp.rebuilt, cmp.exact
    )?;
    let explain = [
        (Class::Reassigned, "of them identical in every other field"),
        (Class::Sequence, "identical but for the CP sequence number, which counts DML history no file records"),
        (Class::CpRestored, "CP invalidated by DML in the original map, restored by the rebuild to exactly the range of the values the generator wrote"),
        (Class::CpLeftInvalid, "inline-string min/max left invalid (collation order; --string-cp binary computes it)"),
        (Class::Disagreement, "DISAGREE"),
    ];
    let n = cmp.reassigned();
    if n > 0 {
        writeln!(out, "   {n:>5} re-assigned to another LBID than the original (the files do not record it); compared by every other field")?;
    }
    for (class, text) in explain {
        let n = cmp.count(class);
        if n > 0 {
            writeln!(out, "   {n:>5} {text}")?;
        }
    }
    for d in cmp
        .differences
        .iter()
        .filter(|d| d.class == Class::Disagreement)
    {
        let key = d.key.map(|k| k.to_string()).unwrap_or_default();
        writeln!(out, "         {key}: {}", d.detail)?;
    }
    Ok(cmp)
}
