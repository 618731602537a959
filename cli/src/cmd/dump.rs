//! `emrebuild dump FILE [--format mcs|editem|csv|json]`: print an extent map.
//!
//! `mcs` is what `mcsRebuildEM -s` prints, `editem` what `editem -d` prints; `csv` and `json`
//! carry the same fields for machines (see `emengine::em::text`).

use crate::exit::ExitCode;
use crate::output::Stdout;
use emengine::em::{text, ExtentMap};
use std::io::Write;
use std::path::PathBuf;

/// Output formats of `dump`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `mcsRebuildEM -s`: header line, then `|`-separated lines in ascending LBID order.
    #[default]
    Mcs,
    /// `editem -d`: per-OID blocks, OIDs ascending.
    Editem,
    /// One CSV row per extent, with a header row.
    Csv,
    /// One JSON object: format_version, extents, free_list.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The extent-map file (BRM_saves_em), version 4 or 5.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Mcs)]
    pub format: Format,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let map = ExtentMap::read(&args.file)?;
    warn_overlaps(&args.file, &map);
    let mut out = Stdout::new();
    let render = match args.format {
        Format::Mcs => text::write_mcs,
        Format::Editem => text::write_editem,
        Format::Csv => text::write_csv,
        Format::Json => text::write_json,
    };
    render(&map, &mut out)?;
    out.flush()?;
    Ok(ExitCode::Ok)
}

/// Records that share LBIDs make a map ColumnStore cannot use safely: say so on stderr (the dump
/// itself shows the file as it is; commands that write a map refuse it).
pub fn warn_overlaps(path: &std::path::Path, map: &ExtentMap) {
    let overlaps = emengine::em::overlap::find_overlaps(&map.extents);
    let mut err = std::io::stderr().lock();
    for o in overlaps.iter().take(20) {
        let _ = writeln!(err, "warning: {}: {o}", path.display());
    }
    if overlaps.len() > 20 {
        let _ = writeln!(
            err,
            "warning: {}: {} more overlapping records",
            path.display(),
            overlaps.len() - 20
        );
    }
}
