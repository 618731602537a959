//! `emrebuild inspect FILE... [--json]`: what a segment file holds.
//!
//! For every file: OID, partition and segment from its path; for a compressed file the control
//! header and each chunk (sizes, checksum, error if it cannot be read); for an uncompressed file
//! its block count. A damaged chunk is reported, not fatal; a path that is not a segment-file
//! name, or a header or pointer section that cannot be decoded, ends the command with exit 2.

use crate::exit::ExitCode;
use crate::output::Stdout;
use emengine::seg::inspect::{inspect, InspectReport};
use emengine::seg::path::parse_segment_path;
use emengine::Error;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Segment files (…/NNN.dir/NNN.dir/NNN.dir/NNN.dir/NNN.dir/FILEnnn.cdf).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Print JSON: one object, or an array of objects for several files.
    #[arg(long)]
    pub json: bool,
    /// Read files instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // Names first: a wrong path fails before any file is read.
    for path in &args.files {
        parse_segment_path(path).map_err(|reason| Error::NotSegmentFile {
            path: path.clone(),
            reason: reason.to_string(),
        })?;
    }
    let reports = args
        .files
        .iter()
        .map(|p| inspect(p, crate::args::access(args.no_mmap)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = Stdout::new();
    if args.json {
        match reports.as_slice() {
            [one] => serde_json::to_writer_pretty(&mut out, one)?,
            many => serde_json::to_writer_pretty(&mut out, many)?,
        }
        writeln!(out)?;
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write_text(&mut out, r)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

/// One aligned text block per file.
fn write_text(out: &mut impl Write, r: &InspectReport) -> std::io::Result<()> {
    writeln!(out, "{}", r.path)?;
    let field = |out: &mut dyn Write, name: &str, value: &dyn std::fmt::Display| {
        writeln!(out, "  {name:<13} {value}")
    };
    field(out, "oid", &r.oid)?;
    field(out, "partition", &r.partition)?;
    field(out, "segment", &r.segment)?;
    field(out, "compressed", &if r.compressed { "yes" } else { "no" })?;
    field(out, "file size", &format!("{} bytes", r.file_len))?;
    let (Some(h), Some(chunks)) = (&r.header, &r.chunks) else {
        return field(out, "blocks", &r.blocks);
    };
    field(out, "version", &h.version)?;
    field(
        out,
        "compression",
        &format!("{} ({})", h.compression_code, h.compression),
    )?;
    field(out, "header size", &h.header_size)?;
    field(out, "block count", &h.block_count)?;
    field(out, "width", &h.width)?;
    field(
        out,
        "data type",
        &format!("{} ({})", h.data_type, h.data_type_code),
    )?;
    let lbids = if h.lbids.is_empty() {
        "-".to_string()
    } else {
        h.lbids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    field(out, "lbids", &lbids)?;
    field(out, "chunks", &chunks.len())?;
    if chunks.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  {:>7} {:>12} {:>10} {:>10} {:>12}  checksum",
        "chunk", "offset", "slot", "payload", "uncompressed"
    )?;
    for c in chunks {
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let state = if c.checksum_ok { "ok" } else { "bad" };
        write!(
            out,
            "  {:>7} {:>12} {:>10} {:>10} {:>12}  {state}",
            c.index,
            c.offset,
            c.slot_size,
            opt(c.compressed_size),
            opt(c.uncompressed_size)
        )?;
        match &c.error {
            Some(e) => writeln!(out, "  error: {e}")?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}
