//! How long-running engine work reports progress: a small trait the CLI implements
//! (with indicatif) and tests leave as [`NoProgress`].

/// Receives progress of a long-running operation. Called from worker threads.
pub trait Progress: Sync {
    /// The work is about to start: `total_bytes` and `total_items` (files, extents...) expected.
    fn start(&self, _phase: &str, _total_bytes: u64, _total_items: u64) {}
    /// `bytes` more bytes and `items` more items are done.
    fn advance(&self, _bytes: u64, _items: u64) {}
    /// The phase is over.
    fn finish(&self) {}
    /// Whether the user asked to stop (Ctrl-C). Long loops check it once per work unit and
    /// return [`crate::Error::Interrupted`], writing nothing.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
