//! Progress bars: indicatif on stderr, only on a terminal and never with `--json` or `--quiet`.

use emengine::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar for byte-sized work, or nothing when stderr is not a terminal.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    /// A bar when `enabled` and stderr is a terminal; otherwise a silent sink.
    pub fn new(enabled: bool) -> Self {
        let on = enabled && std::io::stderr().is_terminal();
        Self {
            bar: on.then(|| ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())),
        }
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total_bytes: u64, total_items: u64) {
        if let Some(bar) = &self.bar {
            let template = format!(
                "{phase:>8} [{{elapsed_precise}}] {{wide_bar}} {{bytes}}/{{total_bytes}} \
                 {{binary_bytes_per_sec}} ETA {{eta}} ({total_items} files)"
            );
            let style = ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_length(total_bytes);
            bar.set_position(0);
        }
    }

    fn advance(&self, bytes: u64, _items: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn cancelled(&self) -> bool {
        crate::interrupt::cancelled()
    }
}
