//! Ctrl-C and SIGTERM: stop within a second, write nothing partial, exit 130 with one line.
//!
//! A watcher thread receives the signal (signal-hook's safe iterator) and raises a flag that the
//! engine polls once per work unit (the progress bar's `Progress::cancelled`); the command
//! then returns `Error::Interrupted` and `main` prints the line. Workers blocked in I/O cannot poll,
//! so if the process is still running [`GRACE`] later the watcher exits it itself — but never while
//! an output is being installed: [`writing`] holds a lock the watcher takes first, so an
//! interrupted run leaves the previous output or the complete new one, never a part.

use crate::exit::ExitCode;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static CANCELLED: AtomicBool = AtomicBool::new(false);
static REPORTED: AtomicBool = AtomicBool::new(false);
static WRITING: Mutex<()> = Mutex::new(());

/// How long the watcher waits for the command to stop by itself.
const GRACE: Duration = Duration::from_millis(600);

/// Start the watcher thread (once, at start-up).
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return; // Default signal handling: the process dies with the signal.
        };
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                CANCELLED.store(true, Ordering::SeqCst);
                std::thread::sleep(GRACE);
                // Still running: wait for an output being installed, then stop.
                let _guard = WRITING.lock();
                report();
                std::process::exit(ExitCode::Interrupted as i32);
            }
        });
    }
}

/// Whether Ctrl-C or SIGTERM was received.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// Hold while an output is being written and renamed into place: the watcher does not end the
/// process in between.
pub fn writing() -> MutexGuard<'static, ()> {
    WRITING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The one line an interrupted run prints (once, whoever gets there first).
pub fn report() {
    if !REPORTED.swap(true, Ordering::SeqCst) {
        let _ = writeln!(std::io::stderr().lock(), "emrebuild: interrupted");
    }
}
