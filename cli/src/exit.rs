//! Exit codes, in one place.

/// What the process reports to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success; for comparisons: no differences.
    Ok = 0,
    /// A comparison found differences (diff, verify).
    Differences = 1,
    /// Any error: bad input, damaged files, I/O.
    Error = 2,
    /// Interrupted by the user (SIGINT).
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
