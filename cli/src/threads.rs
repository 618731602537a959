//! `--threads`: one option, validated once, for every subcommand that scans or generates; one
//! rayon pool built once from it. The engine and the generator run on the current pool and never
//! build their own.

use anyhow::Context;
use std::num::NonZeroUsize;

/// How many threads a machine may be asked for, per core: beyond this, thread start-up alone
/// takes longer than the work (issue #9: `--threads 100000` ran for minutes).
const MAX_THREADS_PER_CORE: usize = 8;

/// The `--threads` option, flattened into each subcommand's arguments.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Threads {
    /// Worker threads (default: all cores; at most 8 × the cores).
    #[arg(long = "threads", value_name = "N", value_parser = parse_threads)]
    pub threads: Option<NonZeroUsize>,
}

/// The machine's cores as the OS reports them (1 when it cannot say).
pub fn cores() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// Parse and check a thread count: at least 1, at most 8 × the cores.
pub fn parse_threads(s: &str) -> Result<NonZeroUsize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of threads"))?;
    check(n, cores())
}

fn check(n: usize, cores: NonZeroUsize) -> Result<NonZeroUsize, String> {
    let max = cores.get().saturating_mul(MAX_THREADS_PER_CORE);
    let n = NonZeroUsize::new(n).ok_or("must be at least 1")?;
    if n.get() > max {
        return Err(format!(
            "{n} is more than {MAX_THREADS_PER_CORE} × the {cores} cores of this machine; give at most {max}"
        ));
    }
    Ok(n)
}

impl Threads {
    /// The thread count to use: the one given, or one per core.
    pub fn count(self) -> NonZeroUsize {
        self.threads.unwrap_or_else(cores)
    }

    /// The one pool the command runs its work on.
    pub fn pool(self) -> anyhow::Result<rayon::ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.count().get())
            .build()
            .context("cannot start the worker threads")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_more_than_eight_per_core_are_refused() {
        let two = NonZeroUsize::new(2).unwrap();
        assert_eq!(check(0, two), Err("must be at least 1".to_string()));
        assert_eq!(check(16, two).map(NonZeroUsize::get), Ok(16));
        assert_eq!(
            check(17, two),
            Err("17 is more than 8 × the 2 cores of this machine; give at most 16".to_string())
        );
        assert!(parse_threads("many").unwrap_err().contains("not a number"));
    }
}
