//! `emrebuild convert IN OUT [--em-version 5|4]`: write an extent map in another format
//! version, atomically, never over its input.
//!
//! The output is what ColumnStore would save after loading IN: records in ascending LBID
//! order, zero padding, the free list re-derived. Version 4 holds only 64-bit CP values, so a
//! map with wide (16-byte) extents is refused for version 4.

use crate::args::EmVersionArg;
use crate::exit::ExitCode;
use anyhow::{bail, Context};
use emengine::em::{EmVersion, ExtentMap};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The extent-map file to read (version 4 or 5).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the converted map (atomically; an existing file is moved aside to
    /// <name>.bak-<timestamp>; must not be IN).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Format version to write.
    #[arg(long, value_enum, default_value_t)]
    pub em_version: EmVersionArg,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let version: EmVersion = args.em_version.into();
    refuse_same_file(&args.input, &args.output)?;
    let map = ExtentMap::read(&args.input)?;
    if let Err(why) = map.check_writable(version) {
        bail!("{}: refusing to write {why}", args.output.display());
    }
    // Never delete an extent map: an existing OUT is moved aside once the new one is on disk.
    let moved = emengine::fsutil::replace_keeping_old(
        &args.output,
        &map.encode(version),
        &crate::clock::utc_timestamp(),
    )?;
    if let Some(old) = moved {
        eprintln!(
            "previous {} moved to {}",
            args.output.display(),
            old.display()
        );
    }
    Ok(ExitCode::Ok)
}

/// Refuse when OUT names the same file as IN (same path, a hard link or a symlink to it).
fn refuse_same_file(input: &Path, output: &Path) -> anyhow::Result<()> {
    let Ok(out_meta) = std::fs::metadata(output) else {
        return Ok(()); // OUT does not exist (or cannot be statted): it cannot be IN.
    };
    let in_meta =
        std::fs::metadata(input).with_context(|| format!("{}: cannot read", input.display()))?;
    if same_file(&in_meta, &out_meta) {
        bail!(
            "{}: refusing to overwrite the input extent map {}",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    // Without inode numbers, equal size and modification time is the best cheap guess; a
    // false "same" only refuses a conversion.
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}
