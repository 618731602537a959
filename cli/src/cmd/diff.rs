//! `emrebuild diff A B [--json]`: compare two extent maps logically.
//!
//! Extents are matched by (OID, DBRoot, partition, segment, block offset); see
//! `emengine::em::diff`. Exit 0 when equal, 1 when different, 2 on error.

use crate::exit::ExitCode;
use crate::output::Stdout;
use emengine::em::{diff, EmDiff, ExtentMap};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// First extent-map file (version 4 or 5).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// Second extent-map file (version 4 or 5).
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Print the differences as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (a, b) = rayon::join(|| ExtentMap::read(&args.a), || ExtentMap::read(&args.b));
    let (a, b) = (a?, b?);
    let d = diff(&a, &b);
    let mut out = Stdout::new();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &d)?;
        writeln!(out)?;
    } else {
        human(&mut out, &d)?;
    }
    out.flush()?;
    Ok(if d.is_equal() {
        ExitCode::Ok
    } else {
        ExitCode::Differences
    })
}

/// A summary line, then one line per unmatched extent and per changed field.
fn human(out: &mut dyn Write, d: &EmDiff) -> std::io::Result<()> {
    if d.is_equal() {
        return writeln!(out, "extent maps are equal ({} extents)", d.a_extents);
    }
    let changed_fields: usize = d.changed.iter().map(|c| c.fields.len()).sum();
    writeln!(
        out,
        "extent maps differ: {} only in A, {} only in B, {} changed ({} fields); A has {} extents, B has {}",
        d.only_in_a.len(),
        d.only_in_b.len(),
        d.changed.len(),
        changed_fields,
        d.a_extents,
        d.b_extents
    )?;
    for e in &d.only_in_a {
        writeln!(
            out,
            "only in A: {} (lbid {}, size {})",
            e.key, e.lbid, e.size
        )?;
    }
    for e in &d.only_in_b {
        writeln!(
            out,
            "only in B: {} (lbid {}, size {})",
            e.key, e.lbid, e.size
        )?;
    }
    for c in &d.changed {
        for f in &c.fields {
            writeln!(out, "changed: {}: {}: A {} B {}", c.key, f.field, f.a, f.b)?;
        }
    }
    Ok(())
}
