//! `emrebuild diff` (being written).

use crate::exit::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("diff is not yet available")
}
