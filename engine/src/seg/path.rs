//! Segment-file paths: OID, partition and segment ⇄ the six path components (SEG §1.1–1.2).
//!
//! | level | content | format |
//! |---|---|---|
//! | A | `(oid >> 24) & 0xFF` | `%03u.dir` |
//! | B | `(oid >> 16) & 0xFF` | `%03u.dir` |
//! | C | `(oid >> 8) & 0xFF` | `%03u.dir` |
//! | D | `oid & 0xFF` | `%03u.dir` |
//! | E | partition (u32) | `%03u.dir`, **not** limited to three digits (`1000.dir`) |
//! | file | segment, low 8 bits | `FILE%03d.cdf` |
//!
//! Parsing is ColumnStore's `fileName2Oid` with one deliberate difference (SEG §1.2,
//! recommendation): partition directories of more than three digits, and partitions ≥ 256,
//! are accepted. Work files of the DML chunk manager (`FILE000.cdf.tmp`, `.chk`, `.hdr`,
//! `.rlc`, `.orig`) are not segment files.
//!
//! ```
//! use emengine::seg::path::{parse_segment_path, segment_rel_path};
//! use emengine::types::{Oid, SegmentId};
//! use std::path::Path;
//!
//! let id = parse_segment_path(Path::new("data1/000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf")).unwrap();
//! assert_eq!(id, SegmentId { oid: Oid(3009), partition: 0, segment: 0 });
//! assert_eq!(segment_rel_path(id), Path::new("000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf"));
//! ```

use crate::types::{Oid, SegmentId};
use std::path::{Path, PathBuf};

/// Suffixes of the DML chunk manager's work files next to a segment file.
pub const WORK_FILE_SUFFIXES: [&str; 5] = ["tmp", "chk", "hdr", "rlc", "orig"];

/// Why a path is not a segment file's (each variant names the offending component).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum NotSegmentPath {
    /// The path has no components.
    Empty,
    /// A component is not UTF-8.
    NotUtf8,
    /// A work file of the DML chunk manager next to a segment file.
    WorkFile { name: String, suffix: String },
    /// The file name is not `FILEnnn.cdf`.
    NotFileName { name: String },
    /// The file name does not have exactly three digits after `FILE`.
    FileDigits { name: String },
    /// Segment 256 or more, which ColumnStore never writes.
    SegmentTooLarge { name: String, segment: u16 },
    /// Fewer than five directories above the file.
    TooFewDirectories,
    /// A directory that is not `<digits>.dir`.
    NotDigitsDir { dir: String },
    /// An OID directory without exactly three digits.
    OidDirDigits { dir: String },
    /// An OID directory of 256 or more.
    OidDirNotByte { dir: String },
    /// The first OID directory gives an OID above `i32::MAX`.
    OidTooLarge { dir: String },
    /// A partition directory of fewer than three digits.
    PartitionDigits { dir: String },
    /// A partition directory with leading zeros beyond three digits.
    PartitionLeadingZeros { dir: String },
    /// A partition directory beyond 32 bits.
    PartitionTooLarge { dir: String },
    /// A file in a StorageManager metadata folder without the `.meta` suffix (`crate::sm`).
    NotMetadataFile { name: String },
}

impl std::fmt::Display for NotSegmentPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use NotSegmentPath::*;
        match self {
            Empty => write!(f, "empty path"),
            NotUtf8 => write!(f, "file name is not UTF-8"),
            WorkFile { name, suffix } => {
                write!(f, "{name:?} is a work file (.{suffix}), not a segment file")
            }
            NotFileName { name } => write!(f, "file name {name:?} is not FILEnnn.cdf"),
            FileDigits { name } => {
                write!(f, "file name {name:?} must have exactly three digits after FILE")
            }
            SegmentTooLarge { name, segment } => write!(
                f,
                "file name {name:?}: segment {segment} is 256 or more, which ColumnStore never writes"
            ),
            TooFewDirectories => write!(
                f,
                "expected five directories (four OID bytes and the partition) above the file"
            ),
            NotDigitsDir { dir } => write!(f, "directory {dir:?} is not <digits>.dir"),
            OidDirDigits { dir } => {
                write!(f, "OID directory {dir:?} must have exactly three digits")
            }
            OidDirNotByte { dir } => {
                write!(f, "OID directory {dir:?} is not a byte (must be below 256)")
            }
            OidTooLarge { dir } => write!(
                f,
                "OID directory {dir:?} gives an OID above {} (the largest OID)",
                i32::MAX
            ),
            PartitionDigits { dir } => write!(
                f,
                "partition directory {dir:?} must have at least three digits"
            ),
            PartitionLeadingZeros { dir } => write!(
                f,
                "partition directory {dir:?} has leading zeros ColumnStore never writes"
            ),
            PartitionTooLarge { dir } => write!(
                f,
                "partition directory {dir:?} is larger than a 32-bit partition"
            ),
            NotMetadataFile { name } => write!(
                f,
                "{name:?} is not a StorageManager metadata file (no .meta suffix)"
            ),
        }
    }
}

/// The path of a segment file relative to its DBRoot, as `Convertor::oid2FileName` builds it.
///
/// Only the low 8 bits of the segment are used, as in ColumnStore.
pub fn segment_rel_path(id: SegmentId) -> PathBuf {
    let oid = id.oid.0 as u32;
    let mut p = PathBuf::with_capacity(48);
    for shift in [24u32, 16, 8, 0] {
        p.push(format!("{:03}.dir", (oid >> shift) & 0xFF));
    }
    p.push(format!("{:03}.dir", id.partition));
    p.push(format!("FILE{:03}.cdf", id.segment & 0xFF));
    p
}

/// The segment file named by `path` (its last six components), or why it is not one.
///
/// Accepts four OID directories of exactly three digits with a value below 256, a partition
/// directory of three or more digits as ColumnStore writes it (`%03u`: no extra leading zeros),
/// and a file name `FILEnnn.cdf` with three digits.
pub fn parse_segment_path(path: &Path) -> Result<SegmentId, NotSegmentPath> {
    use NotSegmentPath::*;
    let mut names = path.iter().rev();
    let file = names.next().ok_or(Empty)?;
    let file = file.to_str().ok_or(NotUtf8)?;
    let segment = parse_file_name(file)?;

    let mut dirs = [""; 5];
    for slot in dirs.iter_mut().rev() {
        let name = names.next().ok_or(TooFewDirectories)?;
        *slot = name.to_str().ok_or(NotUtf8)?;
    }

    let mut oid: u32 = 0;
    for (level, dir) in dirs[..4].iter().enumerate() {
        let digits = dir_digits(dir)?;
        let named = || dir.to_string();
        if digits.len() != 3 {
            return Err(OidDirDigits { dir: named() });
        }
        let byte: u32 = digits.parse().map_err(|_| OidDirDigits { dir: named() })?;
        if byte > 255 {
            return Err(OidDirNotByte { dir: named() });
        }
        if level == 0 && byte > 127 {
            return Err(OidTooLarge { dir: named() });
        }
        oid = (oid << 8) | byte;
    }

    let pdir = dirs[4];
    let digits = dir_digits(pdir)?;
    let named = || pdir.to_string();
    if digits.len() < 3 {
        return Err(PartitionDigits { dir: named() });
    }
    if digits.len() > 3 && digits.starts_with('0') {
        return Err(PartitionLeadingZeros { dir: named() });
    }
    let partition: u32 = digits
        .parse()
        .map_err(|_| PartitionTooLarge { dir: named() })?;

    Ok(SegmentId {
        oid: Oid(oid as i32),
        partition,
        segment,
    })
}

/// The digits of a `<digits>.dir` directory name.
fn dir_digits(dir: &str) -> Result<&str, NotSegmentPath> {
    match dir.strip_suffix(".dir") {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => Ok(d),
        _ => Err(NotSegmentPath::NotDigitsDir {
            dir: dir.to_string(),
        }),
    }
}

/// The segment number of a `FILEnnn.cdf` name.
fn parse_file_name(file: &str) -> Result<u16, NotSegmentPath> {
    let name = || file.to_string();
    if let Some((stem, suffix)) = file.rsplit_once('.') {
        if WORK_FILE_SUFFIXES.contains(&suffix) && stem.ends_with(".cdf") {
            return Err(NotSegmentPath::WorkFile {
                name: name(),
                suffix: suffix.to_string(),
            });
        }
    }
    let digits = file
        .strip_prefix("FILE")
        .and_then(|r| r.strip_suffix(".cdf"))
        .ok_or_else(|| NotSegmentPath::NotFileName { name: name() })?;
    if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotSegmentPath::FileDigits { name: name() });
    }
    let segment: u16 = digits
        .parse()
        .map_err(|_| NotSegmentPath::NotFileName { name: name() })?;
    // ColumnStore passes the segment through an `unsigned char` (SEG §1.1, `we_convertor.cpp:87-102`)
    // and `fileName2Oid` rejects 256 and above (SEG §1.2, `we_convertor.cpp:116-133`): it never
    // writes such a file, and taking one would alias segment n − 256.
    if segment >= 256 {
        return Err(NotSegmentPath::SegmentTooLarge {
            name: name(),
            segment,
        });
    }
    Ok(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(oid: i32, partition: u32, segment: u16) -> SegmentId {
        SegmentId {
            oid: Oid(oid),
            partition,
            segment,
        }
    }

    #[test]
    fn spec_example_3009() {
        let p = Path::new(
            "/var/lib/columnstore/data1/000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf",
        );
        assert_eq!(parse_segment_path(p), Ok(id(3009, 0, 0)));
    }

    #[test]
    fn large_partitions() {
        assert_eq!(
            segment_rel_path(id(3009, 1000, 3)),
            Path::new("000.dir/000.dir/011.dir/193.dir/1000.dir/FILE003.cdf")
        );
        let p = Path::new("000.dir/000.dir/011.dir/193.dir/256.dir/FILE001.cdf");
        assert_eq!(parse_segment_path(p), Ok(id(3009, 256, 1)));
        let p = Path::new("000.dir/000.dir/011.dir/193.dir/4294967295.dir/FILE001.cdf");
        assert_eq!(parse_segment_path(p), Ok(id(3009, u32::MAX, 1)));
    }

    #[test]
    fn segment_255_is_the_last_one() {
        let p = Path::new("000.dir/000.dir/011.dir/193.dir/000.dir/FILE255.cdf");
        assert_eq!(parse_segment_path(p), Ok(id(3009, 0, 255)));
    }

    #[test]
    fn rejects() {
        let bad = [
            (
                "000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf.tmp",
                "work file",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf.orig",
                "work file",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/000.dir/FILE0000.cdf",
                "three digits",
            ),
            (
                "000.dir/000.dir/011.dir/256.dir/000.dir/FILE000.cdf",
                "below 256",
            ),
            (
                "000.dir/000.dir/11.dir/193.dir/000.dir/FILE000.cdf",
                "exactly three",
            ),
            (
                "000.dir/011.dir/193.dir/000.dir/FILE000.cdf",
                "five directories",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/00.dir/FILE000.cdf",
                "at least three",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/0256.dir/FILE000.cdf",
                "leading zeros",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/99999999999.dir/FILE000.cdf",
                "32-bit",
            ),
            (
                "128.dir/000.dir/011.dir/193.dir/000.dir/FILE000.cdf",
                "largest OID",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/000.dir/versionbuffer.cdf",
                "FILEnnn.cdf",
            ),
            (
                "000.dir/000.dir/0x1.dir/193.dir/000.dir/FILE000.cdf",
                "<digits>.dir",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/000.dir/FILE256.cdf",
                "segment 256 is 256 or more",
            ),
            (
                "000.dir/000.dir/011.dir/193.dir/000.dir/FILE999.cdf",
                "segment 999 is 256 or more",
            ),
        ];
        for (p, why) in bad {
            let err = parse_segment_path(Path::new(p)).unwrap_err().to_string();
            assert!(err.contains(why), "{p}: {err}");
        }
    }
}
