//! The engine's one error type.
//!
//! Decoders work on byte slices and know offsets but not paths: they return [`DecodeError`]
//! (offset, what was expected, what was found). The file layer attaches the path and turns it
//! into [`Error::Decode`]. Every message is lower-case and quotes the bad value.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A decoding failure inside one byte buffer: where, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset, relative to the start of the file once [`DecodeError::shifted`] has been applied.
    pub offset: u64,
    /// What went wrong.
    pub kind: DecodeKind,
}

/// The distinct kinds of decoding failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeKind {
    /// The buffer ends before the structure does.
    #[error("truncated: expected {expected}, found {found} bytes")]
    Truncated { expected: String, found: u64 },
    /// A magic number does not match.
    #[error("bad magic: expected {expected}, found {found}")]
    BadMagic { expected: String, found: String },
    /// A stored checksum does not match the data.
    #[error("bad checksum: expected {expected:#010x}, found {found:#010x}")]
    BadChecksum { expected: u32, found: u32 },
    /// A field holds a value the format does not allow.
    #[error("invalid {field}: expected {expected}, found {found}")]
    Invalid {
        field: &'static str,
        expected: String,
        found: String,
    },
    /// A compressed payload does not decode.
    #[error("{codec} payload does not decompress: {detail}")]
    Decompress { codec: &'static str, detail: String },
}

impl DecodeError {
    /// A new error at `offset`.
    pub fn new(offset: u64, kind: DecodeKind) -> Self {
        Self { offset, kind }
    }

    /// Truncation: `expected` describes what was being read, `found` how many bytes remained.
    pub fn truncated(offset: u64, expected: impl Into<String>, found: u64) -> Self {
        Self::new(
            offset,
            DecodeKind::Truncated {
                expected: expected.into(),
                found,
            },
        )
    }

    /// A field with a value the format does not allow.
    pub fn invalid(
        offset: u64,
        field: &'static str,
        expected: impl Into<String>,
        found: impl fmt::Display,
    ) -> Self {
        Self::new(
            offset,
            DecodeKind::Invalid {
                field,
                expected: expected.into(),
                found: found.to_string(),
            },
        )
    }

    /// The same error with its offset moved by `base` (a buffer that starts at `base` in the file).
    #[must_use]
    pub fn shifted(mut self, base: u64) -> Self {
        self.offset += base;
        self
    }

    /// Attach the file this buffer came from.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        Error::Decode {
            path: path.into(),
            source: self,
        }
    }
}

/// Every error the engine reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error on a file.
    #[error("{}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Corrupt or unexpected bytes in a file.
    #[error("{}: {source}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: DecodeError,
    },
    /// A path that does not name a segment file.
    #[error("{}: not a segment file: {reason}", path.display())]
    NotSegmentFile { path: PathBuf, reason: String },
    /// A configuration file or option that cannot be used.
    #[error("{}: {detail}", path.display())]
    Config { path: PathBuf, detail: String },
    /// A path that had to be a regular file and is not (a FIFO, a device, a socket, a directory).
    #[error("{}: is a {found}, not a regular file", path.display())]
    NotRegularFile { path: PathBuf, found: &'static str },
    /// An output path that must not be written (an input of the run, a device, a non-map file).
    #[error("{}: refusing to write: {reason}", path.display())]
    UnsafeOutput { path: PathBuf, reason: String },
    /// The operation was cancelled (Ctrl-C); nothing was written.
    #[error("interrupted")]
    Interrupted,
    /// A request that cannot be carried out as given (no path involved).
    #[error("{0}")]
    Usage(String),
    /// A StorageManager logical file that cannot be assembled from its objects and journals:
    /// `path` is the logical file, `key` the object, `offset` the object's offset in the file.
    #[error("{}: object {key} at offset {offset}: {detail}", path.display())]
    Object {
        path: PathBuf,
        key: String,
        offset: u64,
        detail: String,
    },
    /// An error met on another machine (a cluster node's scan), as that machine reported it.
    #[error("{}: {detail}", path.display())]
    Carried {
        path: PathBuf,
        kind: ErrorKind,
        offset: Option<u64>,
        detail: String,
    },
}

/// The kind of an [`Error`] as a small value, for reports: which variant (and, for decoding
/// failures, which [`DecodeKind`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    Io,
    Truncated,
    BadMagic,
    BadChecksum,
    Invalid,
    Decompress,
    NotSegmentFile,
    Config,
    NotRegularFile,
    UnsafeOutput,
    Interrupted,
    Usage,
    /// A StorageManager object that cannot be read or assembled.
    Object,
}

impl DecodeKind {
    /// This kind as an [`ErrorKind`].
    pub fn error_kind(&self) -> ErrorKind {
        match self {
            DecodeKind::Truncated { .. } => ErrorKind::Truncated,
            DecodeKind::BadMagic { .. } => ErrorKind::BadMagic,
            DecodeKind::BadChecksum { .. } => ErrorKind::BadChecksum,
            DecodeKind::Invalid { .. } => ErrorKind::Invalid,
            DecodeKind::Decompress { .. } => ErrorKind::Decompress,
        }
    }
}

impl Error {
    /// Which kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Decode { source, .. } => source.kind.error_kind(),
            Error::NotSegmentFile { .. } => ErrorKind::NotSegmentFile,
            Error::Config { .. } => ErrorKind::Config,
            Error::NotRegularFile { .. } => ErrorKind::NotRegularFile,
            Error::UnsafeOutput { .. } => ErrorKind::UnsafeOutput,
            Error::Interrupted => ErrorKind::Interrupted,
            Error::Usage(_) => ErrorKind::Usage,
            Error::Object { .. } => ErrorKind::Object,
            Error::Carried { kind, .. } => *kind,
        }
    }

    /// The message without the path (which a report keeps in its own field).
    pub fn detail(&self) -> String {
        match self {
            Error::Io { op, source, .. } => format!("cannot {op}: {source}"),
            Error::Decode { source, .. } => source.kind.to_string(),
            Error::NotSegmentFile { reason, .. } => format!("not a segment file: {reason}"),
            Error::Config { detail, .. } => detail.clone(),
            Error::NotRegularFile { found, .. } => format!("is a {found}, not a regular file"),
            Error::UnsafeOutput { reason, .. } => format!("refusing to write: {reason}"),
            Error::Interrupted => "interrupted".to_string(),
            Error::Usage(detail) => detail.clone(),
            Error::Object {
                key,
                offset,
                detail,
                ..
            } => format!("object {key} at offset {offset}: {detail}"),
            Error::Carried { detail, .. } => detail.clone(),
        }
    }

    /// An I/O error on `path` while doing `op` ("open", "read", "write", ...).
    pub fn io(path: impl AsRef<Path>, op: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            op,
            source,
        }
    }

    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Decode { path, .. }
            | Error::NotSegmentFile { path, .. }
            | Error::Config { path, .. }
            | Error::Object { path, .. }
            | Error::NotRegularFile { path, .. }
            | Error::UnsafeOutput { path, .. }
            | Error::Carried { path, .. } => Some(path),
            Error::Usage(_) | Error::Interrupted => None,
        }
    }

    /// The byte offset this error is about, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Decode { source, .. } => Some(source.offset),
            Error::Object { offset, .. } => Some(*offset),
            Error::Carried { offset, .. } => *offset,
            _ => None,
        }
    }
}
