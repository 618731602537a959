//! emrebuild's engine: ColumnStore's on-disk formats, the parallel scan of segment files,
//! and the rebuild of the extent map.
//!
//! No printing, no process exit, no CLI crates: the binary (`cli/`) owns every policy.
#![deny(unsafe_code)]

pub mod backup;
pub mod catalog;
pub mod config;
pub mod cursor;
pub mod dbrm;
pub mod em;
pub mod error;
pub mod finding;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod output;
pub mod pagecache;
pub mod progress;
pub mod rebuild;
pub mod seg;
pub mod sm;
pub mod types;
pub mod verify;

pub use error::{DecodeError, DecodeKind, Error, ErrorKind, Result};
