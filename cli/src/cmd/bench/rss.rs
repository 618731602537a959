//! Peak resident memory of this process during a pass, by type: `RssAnon` (heap, buffers) and
//! `RssFile` (mapped file pages), sampled from `/proc/self/status` by a thread while the pass
//! runs. The kernel keeps only the peak of the sum (`VmHWM`), so the split needs sampling; a
//! peak shorter than the sampling interval can be missed, and the figures say so.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the sampler reads `/proc/self/status`.
pub const INTERVAL: Duration = Duration::from_millis(5);

/// Resident memory of the process, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rss {
    pub anon: u64,
    pub file: u64,
}

impl Rss {
    /// The current figures; zero where `/proc/self/status` does not say (not Linux).
    pub fn now() -> Rss {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(0, |kib| kib * 1024)
        };
        Rss {
            anon: field("RssAnon:"),
            file: field("RssFile:"),
        }
    }

    fn max(self, o: Rss) -> Rss {
        Rss {
            anon: self.anon.max(o.anon),
            file: self.file.max(o.file),
        }
    }
}

/// One timed pass: its wall time, the memory before it and the peak while it ran.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timed {
    pub seconds: f64,
    pub before: Rss,
    pub peak: Rss,
}

/// Run `f`, timing it and sampling the process's memory every [`INTERVAL`] from a thread.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Timed) {
    let stop = AtomicBool::new(false);
    let before = Rss::now();
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = Rss::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(INTERVAL);
                peak = peak.max(Rss::now());
            }
            peak
        });
        let t = Instant::now();
        let out = f();
        let seconds = t.elapsed().as_secs_f64();
        let end = Rss::now();
        stop.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap_or_default().max(end);
        (
            out,
            Timed {
                seconds,
                before,
                peak,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_held_during_the_pass_shows_in_the_anonymous_peak() {
        if !std::path::Path::new("/proc/self/status").exists() {
            eprintln!("skipped: no /proc/self/status");
            return;
        }
        // 64 MiB written (so resident) and held for several sampling intervals.
        let (_, t) = timed(|| {
            let v = vec![1u8; 64 << 20];
            std::thread::sleep(INTERVAL * 6);
            std::hint::black_box(v.iter().map(|&b| u64::from(b)).sum::<u64>())
        });
        assert!(t.peak.anon >= t.before.anon + (60 << 20), "{t:?}");
    }
}
