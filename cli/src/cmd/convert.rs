//! `emrebuild convert IN OUT [--em-version 5|4]`: write an extent map in another format
//! version, atomically, never over its input.
//!
//! The output is what ColumnStore would save after loading IN: records in ascending LBID
//! order, zero padding, the free list re-derived. Version 4 holds only 64-bit CP values, so a
//! map with wide (16-byte) extents is refused for version 4, and a map whose records overlap
//! (two extents claiming one LBID) is refused for every version. OUT is checked as every output
//! is (`emengine::output`): absent or an extent map, never IN, a device, FIFO or directory.

use crate::args::EmVersionArg;
use crate::exit::ExitCode;
use anyhow::bail;
use emengine::em::{EmVersion, ExtentMap};
use emengine::output::{check_output, write_map, Inputs, Target};
use std::io::Write;
use std::path::PathBuf;

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
    /// Accept an existing OUT that is not an extent map (it is moved aside, never deleted).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let version: EmVersion = args.em_version.into();
    let inputs = Inputs {
        files: vec![args.input.clone()],
        dbroots: Vec::new(),
    };
    // The output is checked before the input is read: nothing is done for a bad OUT.
    check_output(&args.output, &inputs, args.force)?;
    let map = ExtentMap::read(&args.input)?;
    if let Err(why) = map.check_writable(version) {
        bail!("{}: refusing to write {why}", args.output.display());
    }
    // Never delete an extent map: an existing OUT is moved aside once the new one is on disk.
    let moved = {
        let _writing = crate::interrupt::writing();
        let target = Target {
            inputs: &inputs,
            force: args.force,
            timestamp: &crate::clock::utc_timestamp(),
        };
        write_map(
            &args.output,
            &map,
            version,
            &target,
            &crate::interrupt::cancelled,
        )?
    };
    if let Some(old) = moved {
        let _ = writeln!(
            std::io::stderr().lock(),
            "previous {} moved to {}",
            args.output.display(),
            old.display()
        );
    }
    Ok(ExitCode::Ok)
}
