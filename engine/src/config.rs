//! `Columnstore.xml`: the DBRoots and the DBRMRoot prefix (segment spec §1.3).
//!
//! Only the keys a rebuild needs are read: `SystemConfig/DBRootCount`, every
//! `SystemConfig/DBRoot<N>` (ids may have gaps, so all `DBRoot<digits>` elements are taken, not
//! `1..=DBRootCount`), `SystemConfig/DBRMRoot` and `ExtentMap/FilesPerColumnPartition`.
//! Relative paths are resolved against the folder holding the XML file.

use crate::error::{Error, Result};
use crate::types::DbRootId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The DBRMRoot prefix ColumnStore uses when the configuration names none.
pub const DEFAULT_DBRM_ROOT: &str = "/var/lib/columnstore/data1/systemFiles/dbrm/BRM_saves";

/// What a rebuild needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// DBRoot id → data directory.
    pub dbroots: BTreeMap<DbRootId, PathBuf>,
    /// Prefix of the BRM save files; the extent map is `<prefix>_em`.
    pub dbrm_root: Option<PathBuf>,
    /// `ExtentMap/FilesPerColumnPartition` (default 4).
    pub files_per_partition: u32,
    /// `SystemConfig/DBRootCount` as written, if any (checked against the DBRoots found).
    pub dbroot_count: Option<u32>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            dbroots: BTreeMap::new(),
            dbrm_root: None,
            files_per_partition: 4,
            dbroot_count: None,
        }
    }
}

impl ClusterConfig {
    /// Read and parse `Columnstore.xml`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|detail| Error::Config {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parse the XML text; relative paths are taken relative to `base`.
    pub fn parse(text: &str, base: &Path) -> std::result::Result<Self, String> {
        let doc = roxmltree::Document::parse(text).map_err(|e| format!("not valid XML: {e}"))?;
        let mut cfg = ClusterConfig::default();
        let root = doc.root_element();
        let section = |name: &str| root.children().find(|n| n.has_tag_name(name));
        let sys = section("SystemConfig").ok_or("no SystemConfig section")?;
        for node in sys.children().filter(|n| n.is_element()) {
            let tag = node.tag_name().name();
            let value = node.text().unwrap_or("").trim();
            if tag == "DBRootCount" {
                cfg.dbroot_count = Some(
                    value
                        .parse()
                        .map_err(|_| format!("DBRootCount {value:?} is not a number"))?,
                );
            } else if let Some(digits) = tag.strip_prefix("DBRoot") {
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    continue; // DBRootCount, DBRootStorageType, ...
                }
                let id: u16 = digits
                    .parse()
                    .ok()
                    .filter(|&id| id > 0)
                    .ok_or_else(|| format!("invalid DBRoot id in element {tag:?}"))?;
                if value.is_empty() {
                    return Err(format!("element {tag:?} names no directory"));
                }
                cfg.dbroots.insert(DbRootId(id), resolve(base, value));
            } else if tag == "DBRMRoot" && !value.is_empty() {
                cfg.dbrm_root = Some(resolve(base, value));
            }
        }
        if let Some(em) = section("ExtentMap") {
            if let Some(n) = em
                .children()
                .find(|n| n.has_tag_name("FilesPerColumnPartition"))
            {
                let v = n.text().unwrap_or("").trim();
                cfg.files_per_partition = v
                    .parse()
                    .map_err(|_| format!("FilesPerColumnPartition {v:?} is not a number"))?;
            }
        }
        Ok(cfg)
    }

    /// The extent-map file ColumnStore loads: `<DBRMRoot>_em`.
    pub fn em_path(&self) -> PathBuf {
        let prefix = self
            .dbrm_root
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DBRM_ROOT));
        let mut s = prefix.into_os_string();
        s.push("_em");
        PathBuf::from(s)
    }
}

fn resolve(base: &Path, value: &str) -> PathBuf {
    let p = PathBuf::from(value);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<Columnstore Version="V1.0.0">
      <SystemConfig>
        <DBRootCount>3</DBRootCount>
        <DBRoot1>/var/lib/columnstore/data1</DBRoot1>
        <DBRoot2>data2</DBRoot2>
        <DBRoot4>/mnt/data4</DBRoot4>
        <DBRootStorageType>internal</DBRootStorageType>
        <DBRMRoot>/var/lib/columnstore/data1/systemFiles/dbrm/BRM_saves</DBRMRoot>
      </SystemConfig>
      <ExtentMap><FilesPerColumnPartition>8</FilesPerColumnPartition></ExtentMap>
    </Columnstore>"#;

    #[test]
    fn reads_non_contiguous_dbroots_and_prefix() {
        let cfg = ClusterConfig::parse(XML, Path::new("/etc/columnstore")).unwrap();
        let ids: Vec<u16> = cfg.dbroots.keys().map(|d| d.0).collect();
        assert_eq!(ids, [1, 2, 4]);
        assert_eq!(
            cfg.dbroots[&DbRootId(2)],
            Path::new("/etc/columnstore/data2")
        );
        assert_eq!(cfg.files_per_partition, 8);
        assert_eq!(cfg.dbroot_count, Some(3));
        assert_eq!(
            cfg.em_path(),
            Path::new("/var/lib/columnstore/data1/systemFiles/dbrm/BRM_saves_em")
        );
    }

    #[test]
    fn rejects_broken_configs() {
        assert!(ClusterConfig::parse("<a>", Path::new("/"))
            .unwrap_err()
            .contains("XML"));
        assert!(ClusterConfig::parse("<a/>", Path::new("/"))
            .unwrap_err()
            .contains("SystemConfig"));
        let bad = "<C><SystemConfig><DBRoot1></DBRoot1></SystemConfig></C>";
        assert!(ClusterConfig::parse(bad, Path::new("/"))
            .unwrap_err()
            .contains("DBRoot1"));
    }
}
