//! `--owner USER:GROUP`: names resolved from `/etc/passwd` and `/etc/group`, or numeric ids.

use crate::error::{Error, Result};
use std::path::Path;

/// A resolved owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Owner {
    /// Resolve `USER:GROUP` (names or numbers) against the given passwd and group files.
    pub fn resolve(spec: &str, passwd: &Path, group: &Path) -> Result<Owner> {
        let (user, grp) = spec
            .split_once(':')
            .ok_or_else(|| Error::Usage(format!("owner {spec:?}: expected USER:GROUP")))?;
        Ok(Owner {
            uid: lookup(user, passwd)?,
            gid: lookup(grp, group)?,
        })
    }

    /// Give `path` to this owner (the file itself, not a symlink's target).
    pub fn apply(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
            .map_err(|e| Error::io(path, "change the owner of", e))
    }
}

/// A name's id in a `name:x:id:...` database, or the number itself.
fn lookup(name: &str, db: &Path) -> Result<u32> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    let text = std::fs::read_to_string(db).map_err(|e| Error::io(db, "read", e))?;
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            Some((f.next()?, f.nth(1)?))
        })
        .find(|(n, _)| *n == name)
        .and_then(|(_, id)| id.parse().ok())
        .ok_or_else(|| Error::Config {
            path: db.to_path_buf(),
            detail: format!("no entry named {name:?}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("passwd");
        let g = dir.path().join("group");
        std::fs::write(
            &p,
            "root:x:0:0:root:/root:/bin/sh\nmysql:x:107:112::/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(&g, "root:x:0:\nmysql:x:112:\n").unwrap();
        assert_eq!(
            Owner::resolve("mysql:mysql", &p, &g).unwrap(),
            Owner { uid: 107, gid: 112 }
        );
        assert_eq!(
            Owner::resolve("5:mysql", &p, &g).unwrap(),
            Owner { uid: 5, gid: 112 }
        );
        let e = Owner::resolve("nobody:mysql", &p, &g).unwrap_err();
        assert!(e.to_string().contains("\"nobody\""), "{e}");
        assert!(Owner::resolve("mysql", &p, &g).is_err());
    }
}
