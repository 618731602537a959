//! Argument types shared by subcommands, parsed once into typed values (clap `ValueEnum`s and
//! value parsers); nothing after parsing compares strings.

use emengine::em::EmVersion;
use emengine::rebuild::kind::StringCp;
use emengine::seg::file::Access;
use emengine::types::DbRootId;
use std::path::PathBuf;

/// `--em-version`: the extent-map format version to write.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmVersionArg {
    /// Version 5 (96-byte records, 128-bit min/max), what ColumnStore 6.x and later save.
    #[default]
    #[value(name = "5")]
    V5,
    /// Version 4 (64-byte records), what ColumnStore 5.x saves.
    #[value(name = "4")]
    V4,
}

impl From<EmVersionArg> for EmVersion {
    fn from(v: EmVersionArg) -> Self {
        match v {
            EmVersionArg::V5 => EmVersion::V5,
            EmVersionArg::V4 => EmVersion::V4,
        }
    }
}

/// `--string-cp`: min/max of inline CHAR/VARCHAR extents.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringCpArg {
    /// Left invalid: their order depends on the collation.
    #[default]
    Invalid,
    /// Binary (memcmp) order, as cpimport computes it.
    Binary,
}

impl From<StringCpArg> for StringCp {
    fn from(v: StringCpArg) -> Self {
        match v {
            StringCpArg::Invalid => StringCp::Invalid,
            StringCpArg::Binary => StringCp::Binary,
        }
    }
}

/// The I/O policy for every file a command opens: `--no-mmap` reads instead of mapping.
pub fn access(no_mmap: bool) -> Access {
    if no_mmap {
        Access::Read
    } else {
        Access::Mmap
    }
}

/// Parse a `--dbroot ID=PATH` argument.
pub fn parse_dbroot_arg(arg: &str) -> Result<(DbRootId, PathBuf), String> {
    let (id, path) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?}: expected ID=PATH"))?;
    let id: u16 = id
        .trim()
        .parse()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| format!("{arg:?}: DBRoot id must be a number from 1 to 65535"))?;
    if path.is_empty() {
        return Err(format!("{arg:?}: empty path"));
    }
    Ok((DbRootId(id), PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbroot_argument() {
        assert_eq!(
            parse_dbroot_arg("3=/d3").unwrap(),
            (DbRootId(3), PathBuf::from("/d3"))
        );
        assert!(parse_dbroot_arg("0=/d").is_err());
        assert!(parse_dbroot_arg("x=/d").is_err());
        assert!(parse_dbroot_arg("/d").is_err());
        assert!(parse_dbroot_arg("2=").is_err());
    }
}
