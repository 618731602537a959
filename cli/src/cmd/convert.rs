//! `emrebuild convert` (being written).

use crate::exit::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("convert is not yet available")
}
