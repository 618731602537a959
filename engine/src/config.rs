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
        let bytes = crate::fsutil::read_regular(path)?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            detail: format!(
                "not UTF-8 text (invalid byte at {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
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
                if let Some(first) = cfg.dbroots.insert(DbRootId(id), resolve(base, value)) {
                    return Err(format!(
                        "element {tag:?} appears twice (first {:?}, then {value:?}); \
                         ColumnStore would silently use one of them",
                        first.display().to_string()
                    ));
                }
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

/// Add the `--dbroot ID=PATH` arguments to the DBRoots from the configuration: an argument
/// replaces the same id from the configuration, but naming one id twice on the command line is
/// an error (the last one would silently win and the other DBRoot's extents vanish).
pub fn merge_dbroot_args(
    dbroots: &mut BTreeMap<DbRootId, PathBuf>,
    args: &[(DbRootId, PathBuf)],
) -> std::result::Result<(), String> {
    let mut given: BTreeMap<DbRootId, &Path> = BTreeMap::new();
    for (id, path) in args {
        if let Some(first) = given.insert(*id, path) {
            return Err(format!(
                "--dbroot {id} is given twice ({} and {})",
                first.display(),
                path.display()
            ));
        }
        dbroots.insert(*id, path.clone());
    }
    Ok(())
}

/// Check a set of DBRoots for specifications that would silently change the rebuilt map:
/// the same directory under two ids (every extent twice), one DBRoot inside another, and a
/// folder holding `data1`, `data2`, ... given as one DBRoot (every extent on one DBRoot).
/// Directories that do not exist are left to the walk, which reports them.
pub fn check_dbroots(dbroots: &BTreeMap<DbRootId, PathBuf>) -> std::result::Result<(), String> {
    let resolved: Vec<(DbRootId, &PathBuf, PathBuf)> = dbroots
        .iter()
        .filter_map(|(id, p)| p.canonicalize().ok().map(|c| (*id, p, c)))
        .collect();
    for (i, (id_a, path_a, a)) in resolved.iter().enumerate() {
        for (id_b, path_b, b) in &resolved[i + 1..] {
            if a == b {
                return Err(format!(
                    "DBRoot {id_a} ({}) and DBRoot {id_b} ({}) are the same directory {}",
                    path_a.display(),
                    path_b.display(),
                    a.display()
                ));
            }
            let nested = if b.starts_with(a) {
                Some((id_a, path_a, id_b, path_b))
            } else if a.starts_with(b) {
                Some((id_b, path_b, id_a, path_a))
            } else {
                None
            };
            if let Some((outer_id, outer, inner_id, inner)) = nested {
                return Err(format!(
                    "DBRoot {outer_id} ({}) contains DBRoot {inner_id} ({})",
                    outer.display(),
                    inner.display()
                ));
            }
        }
    }
    for (id, path, dir) in &resolved {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut data_dirs: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                n.strip_prefix("data")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        if !data_dirs.is_empty() {
            data_dirs.sort();
            return Err(format!(
                "DBRoot {id} ({}) holds {}: that is the folder of several DBRoots, not one; \
                 give each as its own --dbroot ID=PATH",
                path.display(),
                data_dirs.join(", ")
            ));
        }
    }
    Ok(())
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

    #[test]
    fn a_dbroot_element_twice_is_an_error() {
        let xml = "<C><SystemConfig><DBRoot1>/a</DBRoot1><DBRoot2>/b</DBRoot2>\
                   <DBRoot2>/c</DBRoot2></SystemConfig></C>";
        let err = ClusterConfig::parse(xml, Path::new("/")).unwrap_err();
        assert_eq!(
            err,
            "element \"DBRoot2\" appears twice (first \"/b\", then \"/c\"); \
             ColumnStore would silently use one of them"
        );
    }

    #[test]
    fn dbroot_arguments_merge_but_never_twice() {
        let mut roots = BTreeMap::from([(DbRootId(1), PathBuf::from("/cfg1"))]);
        let args = [
            (DbRootId(1), PathBuf::from("/a")),
            (DbRootId(2), PathBuf::from("/b")),
        ];
        merge_dbroot_args(&mut roots, &args).unwrap();
        assert_eq!(roots[&DbRootId(1)], Path::new("/a"));
        let twice = [
            (DbRootId(1), PathBuf::from("/a")),
            (DbRootId(1), PathBuf::from("/b")),
        ];
        let err = merge_dbroot_args(&mut roots, &twice).unwrap_err();
        assert_eq!(err, "--dbroot 1 is given twice (/a and /b)");
    }

    #[test]
    fn dbroot_sets_that_would_change_the_map_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        for d in ["data1/000.dir", "data2/000.dir"] {
            std::fs::create_dir_all(top.join(d)).unwrap();
        }
        let set = |v: &[(u16, PathBuf)]| -> BTreeMap<DbRootId, PathBuf> {
            v.iter().map(|(i, p)| (DbRootId(*i), p.clone())).collect()
        };
        let (d1, d2) = (top.join("data1"), top.join("data2"));
        check_dbroots(&set(&[(1, d1.clone()), (2, d2.clone())])).unwrap();
        let err = check_dbroots(&set(&[(1, d1.clone()), (3, top.join("data2/../data1"))]));
        assert!(err.unwrap_err().contains("are the same directory"));
        let err = check_dbroots(&set(&[(1, d1.clone()), (2, d1.join("000.dir"))]));
        assert!(err.unwrap_err().starts_with("DBRoot 1 ("), "contains");
        let err = check_dbroots(&set(&[(1, top.to_path_buf())])).unwrap_err();
        assert!(err.contains("holds data1, data2"), "{err}");
    }
}
