//! The rebuild through StorageManager: every logical segment file is assembled (in parallel)
//! into a scratch folder laid out like the DBRoots, the ordinary rebuild runs over that folder,
//! and the report is given back in the logical paths ColumnStore uses.
//!
//! The scratch folder is the caller's (the CLI makes a temporary one); it needs room for the
//! assembled files. Logical files that cannot be assembled are damaged files of the report,
//! with the object key and offset named, exactly as unreadable local files are.

use super::Storage;
use crate::error::Error;
use crate::finding::{Damaged, Finding, Skipped};
use crate::progress::Progress;
use crate::rebuild::{rebuild as rebuild_local, RebuildOptions, Rebuilt};
use crate::types::DbRootId;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The assembled files of every DBRoot.
#[derive(Debug)]
pub struct View {
    /// DBRoot id → its folder in the scratch view.
    pub roots: BTreeMap<DbRootId, PathBuf>,
    /// DBRoot id → its logical path (as ColumnStore names it).
    pub logical: BTreeMap<DbRootId, PathBuf>,
    /// Metadata entries that are not segment files.
    pub skipped: Vec<Skipped>,
    /// Logical files that could not be assembled, and missing metadata folders.
    pub damaged: Vec<(PathBuf, Error)>,
    /// Files assembled and their bytes.
    pub files: usize,
    pub bytes: u64,
}

impl View {
    /// The logical path of a path inside the view (unchanged if it is not in the view).
    pub fn logical_path(&self, path: &Path) -> PathBuf {
        for (id, root) in &self.roots {
            if let (Ok(rel), Some(logical)) = (path.strip_prefix(root), self.logical.get(id)) {
                return logical.join(rel);
            }
        }
        path.to_path_buf()
    }

    /// `text` with every view root replaced by its logical path.
    fn logical_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (id, root) in &self.roots {
            if let Some(logical) = self.logical.get(id) {
                out = out.replace(&root.display().to_string(), &logical.display().to_string());
            }
        }
        out
    }
}

/// Assemble every logical segment file of `dbroots` into `scratch/<DBRoot id>/…`. `scratch` must
/// not exist yet or be empty.
pub fn materialize(
    storage: &Storage,
    dbroots: &BTreeMap<DbRootId, PathBuf>,
    scratch: &Path,
    progress: &dyn Progress,
) -> Result<View, Error> {
    if let Ok(mut entries) = std::fs::read_dir(scratch) {
        if entries.next().is_some() {
            return Err(Error::Usage(format!(
                "{}: scratch folder for the assembled files is not empty",
                scratch.display()
            )));
        }
    }
    let walked = storage.walk(dbroots);
    let roots: BTreeMap<DbRootId, PathBuf> = dbroots
        .keys()
        .map(|id| (*id, scratch.join(id.0.to_string())))
        .collect();
    for root in roots.values() {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, "create directory", e))?;
    }
    progress.start("assemble", 0, walked.files.len() as u64);
    let results: Vec<Result<u64, (PathBuf, Error)>> = walked
        .files
        .par_iter()
        .map(|f| {
            let rel = f.path.strip_prefix(&dbroots[&f.dbroot]).unwrap_or(&f.path);
            let dest = roots[&f.dbroot].join(rel);
            let r = assemble_file(storage, &f.path, &dest);
            if r.is_err() {
                let _ = std::fs::remove_file(&dest);
            }
            progress.advance(*r.as_ref().unwrap_or(&0), 1);
            r.map_err(|e| (f.path.clone(), e))
        })
        .collect();
    progress.finish();
    let mut view = View {
        roots,
        logical: dbroots.clone(),
        skipped: walked.skipped,
        damaged: walked.damaged,
        files: 0,
        bytes: 0,
    };
    for r in results {
        match r {
            Ok(n) => {
                view.files += 1;
                view.bytes += n;
            }
            Err(d) => view.damaged.push(d),
        }
    }
    Ok(view)
}

fn assemble_file(storage: &Storage, logical: &Path, dest: &Path) -> Result<u64, Error> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    }
    let file = std::fs::File::create(dest).map_err(|e| Error::io(dest, "create", e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let n = storage.assemble_into(logical, &mut w)?;
    w.flush().map_err(|e| Error::io(dest, "write", e))?;
    Ok(n)
}

/// Rebuild the extent map of `opts.dbroots` (logical DBRoot paths) from StorageManager's
/// objects, assembling them under `scratch`. The report names logical paths.
pub fn rebuild(
    storage: &Storage,
    opts: &RebuildOptions,
    scratch: &Path,
    progress: &dyn Progress,
) -> Result<Rebuilt, Error> {
    if opts.dbroots.is_empty() {
        return Err(Error::Usage("no DBRoot to scan".into()));
    }
    let view = materialize(storage, &opts.dbroots, scratch, progress)?;
    let local = RebuildOptions {
        dbroots: view.roots.clone(),
        ..opts.clone()
    };
    let mut rebuilt = rebuild_local(&local, progress)?;
    // Paths back to logical ones; the walk's and the assembly's findings join the report's,
    // which keeps its order: skipped (by path), damaged (by path and offset), then the rest.
    let mut skipped: Vec<Skipped> = view.skipped.clone();
    let mut damaged: Vec<Damaged> = view
        .damaged
        .iter()
        .map(|(path, e)| Damaged::new(path.clone(), e))
        .collect();
    let mut rest = Vec::new();
    for f in std::mem::take(&mut rebuilt.report.findings) {
        match f {
            Finding::Skipped(mut s) => {
                s.path = view.logical_path(&s.path);
                skipped.push(s);
            }
            Finding::Damaged(mut d) => {
                d.path = view.logical_path(&d.path);
                d.detail = view.logical_text(&d.detail);
                damaged.push(d);
            }
            Finding::Unresolved(mut u) => {
                u.path = view.logical_path(&u.path);
                rest.push(Finding::Unresolved(u));
            }
            Finding::CatalogNotChecked {
                check,
                path,
                error,
                offset,
                detail,
            } => rest.push(Finding::CatalogNotChecked {
                check,
                path: path.map(|p| view.logical_path(&p)),
                error,
                offset,
                detail: view.logical_text(&detail),
            }),
            Finding::CatalogRow { detail } => rest.push(Finding::CatalogRow {
                detail: view.logical_text(&detail),
            }),
            other => rest.push(other),
        }
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    damaged.sort_by(|a, b| (&a.path, a.offset).cmp(&(&b.path, b.offset)));
    let findings = &mut rebuilt.report.findings;
    findings.extend(skipped.into_iter().map(Finding::Skipped));
    findings.extend(damaged.into_iter().map(Finding::Damaged));
    findings.extend(rest);
    Ok(rebuilt)
}
