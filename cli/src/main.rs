//! `emrebuild`: rebuild, verify and back up the extent map of MariaDB ColumnStore.

mod args;
mod clock;
mod cmapi;
mod cmd;
mod exit;
mod interrupt;
mod lock;
mod output;
mod progress;
mod report;
mod threads;

use clap::{Parser, Subcommand};
use exit::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "emrebuild",
    version,
    about = "Rebuild, verify and back up the extent map of MariaDB ColumnStore"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print an extent map (BRM_saves_em) as mcsRebuildEM -s, editem -d, CSV or JSON.
    Dump(cmd::dump::Args),
    /// Compare two extent maps logically (exit 0 equal, 1 different, 2 error).
    Diff(cmd::diff::Args),
    /// Write an extent map in another format version, atomically.
    Convert(cmd::convert::Args),
    /// Show the header, chunks and checksums of segment files.
    Inspect(cmd::inspect::Args),
    /// Generate a real-format data tree with its ground-truth extent map.
    Gen(cmd::gen::Args),
    /// Rebuild the extent map from the segment files of every DBRoot.
    Rebuild(cmd::rebuild::Args),
    /// Compare an extent map (e.g. a backup) with the data, extent by extent (exit 0 safe, 1 not).
    Verify(cmd::verify::Args),
    /// On one node of a cluster: scan its DBRoots into a partial for `assemble`.
    Scan(cmd::scan::Args),
    /// On the primary: check the nodes' partials and write the extent map from them.
    Assemble(cmd::assemble::Args),
    /// Generate a small tree, rebuild it and compare with the ground truth.
    Demo(cmd::demo::Args),
    /// Measure rebuild throughput against the floor of reading and decompressing the same data.
    Bench(cmd::bench::Args),
    /// Back up the BRM save set ColumnStore loads; list and check backups.
    Backup(cmd::backup::Args),
    /// Restore an extent map from a backup, the way ColumnStore loads it.
    Restore(cmd::restore::Args),
    /// Install an extent map so that ColumnStore loads exactly it.
    Install(cmd::install::Args),
}

fn main() -> std::process::ExitCode {
    interrupt::install();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Dump(a) => cmd::dump::run(a),
        Command::Diff(a) => cmd::diff::run(a),
        Command::Convert(a) => cmd::convert::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Gen(a) => cmd::gen::run(a),
        Command::Rebuild(a) => cmd::rebuild::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Assemble(a) => cmd::assemble::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Backup(a) => cmd::backup::run(a),
        Command::Restore(a) => cmd::restore::run(a),
        Command::Install(a) => cmd::install::run(a),
    };
    match result {
        Ok(code) => code.into(),
        Err(err)
            if interrupt::cancelled()
                || matches!(
                    err.downcast_ref::<emengine::Error>(),
                    Some(emengine::Error::Interrupted)
                ) =>
        {
            interrupt::report();
            ExitCode::Interrupted.into()
        }
        Err(err) => {
            output::error_line(&err);
            ExitCode::Error.into()
        }
    }
}
