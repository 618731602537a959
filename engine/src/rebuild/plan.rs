//! Plan: found files + [`CatalogFacts`] → opened segment files ([`PlannedFile`]) with their
//! object kind (column type and width, or dictionary), the LBIDs their headers record, and the
//! kernel that classifies their blocks. Runs after the catalog stage, before units and scan.
//!
//! The kind comes from the v3 compressed header when it has one, from the fixed definition of
//! the system catalog for catalog OIDs, and otherwise from the catalog's SYSCOLUMN rows (v2
//! headers and uncompressed user tables carry no type).

use super::catalog::{CatalogFacts, CatalogKind};
use super::kernel::{kernel_for, Kernel};
pub use super::kind::{KindSource, ObjectKind, StringCp};
use super::stats::Domain;
use super::walk::FoundFile;
use crate::catalog::syscat;
use crate::error::{DecodeError, DecodeKind, Error};
use crate::finding::UnresolvedReason;
use crate::seg::datatype::ColDataType;
use crate::seg::file::{Access, FileOpener, Layout, LocalFiles, SegmentFile};
use crate::types::{max_column_file_blocks, BLOCK_SIZE};
use rayon::prelude::*;

/// A segment file ready to scan: its facts, the open file and the kernel that classifies its
/// blocks.
#[derive(Debug)]
pub struct PlannedFile {
    pub facts: FileFacts,
    pub file: SegmentFile,
    pub kernel: Kernel,
}

/// A planned file reads as its facts (`pf.found`, `pf.kind`, …): the stages before the scan
/// and the evidence stage use both the facts and the open file.
impl std::ops::Deref for PlannedFile {
    type Target = FileFacts;
    fn deref(&self) -> &FileFacts {
        &self.facts
    }
}

/// What the plan learnt about a segment file, as a plain value: everything the stages after
/// the scan (place, checks, report) need, with no open file, so that it can travel in a node's
/// partial (`super::partial`) and be placed on another machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileFacts {
    pub found: FoundFile,
    pub kind: ObjectKind,
    pub source: KindSource,
    /// The header's LBID list (v3 compressed files), zeros included as written.
    pub header_lbids: Vec<i64>,
    pub domain: Domain,
    /// A dictionary column's token file.
    pub tokens: bool,
    /// Whether the file has a compressed-file header.
    pub compressed: bool,
    /// Blocks the file holds: the header's block count, or the file size in blocks.
    pub allocated_blocks: u64,
    /// Chunks of data (4 MiB of uncompressed blocks each).
    pub chunk_count: u32,
}

/// A file that cannot be planned: unreadable (damaged), or of unknown kind.
#[derive(Debug)]
pub struct Unplanned {
    pub found: FoundFile,
    pub why: Result<UnresolvedReason, Error>,
}

/// Open every found file (in parallel) with `access` and decide its kind; the catalog's facts
/// give the kinds its rows describe (user OIDs).
pub fn plan(
    found: Vec<FoundFile>,
    catalog: &CatalogFacts,
    access: Access,
    string_cp: StringCp,
) -> (Vec<PlannedFile>, Vec<Unplanned>) {
    plan_with(found, catalog, access, string_cp, &LocalFiles)
}

/// [`plan`], opening the files through `opener`.
pub fn plan_with(
    found: Vec<FoundFile>,
    catalog: &CatalogFacts,
    access: Access,
    string_cp: StringCp,
    opener: &dyn FileOpener,
) -> (Vec<PlannedFile>, Vec<Unplanned>) {
    let results: Vec<Result<PlannedFile, Box<Unplanned>>> = found
        .into_par_iter()
        .map(|f| plan_one(f, catalog, access, string_cp, opener))
        .collect();
    let mut planned = Vec::new();
    let mut unplanned = Vec::new();
    for r in results {
        match r {
            Ok(p) => planned.push(p),
            Err(u) => unplanned.push(*u),
        }
    }
    (planned, unplanned)
}

fn plan_one(
    found: FoundFile,
    catalog: &CatalogFacts,
    access: Access,
    string_cp: StringCp,
    opener: &dyn FileOpener,
) -> Result<PlannedFile, Box<Unplanned>> {
    let catalog_kinds = &catalog.kinds;
    // What the catalog says the file holds bounds its size before it is mapped or read: a huge
    // (sparse) file named like a column's segment file costs neither memory nor a scan.
    let known_width = syscat::syscat_object(found.id.oid)
        .map(|o| if o.is_dictionary() { 0 } else { o.width() })
        .or_else(|| catalog_kinds.get(&found.id.oid).map(|c| c.kind.em_width()));
    let max_len = known_width
        .and_then(max_column_file_blocks)
        .map(|blocks| 2 * blocks * BLOCK_SIZE as u64 + COMPRESSED_HEADER_ALLOWANCE);
    // A catalog file the catalog stage loaded is opened from its bytes, not read again.
    let opened = match catalog.loaded.raw_bytes(&found.path) {
        Some(bytes) => SegmentFile::from_bytes(&found.path, bytes),
        None => opener.open_segment(&found.path, access, max_len),
    };
    let file = match opened {
        Ok(f) => f,
        Err(e) => return Err(Box::new(Unplanned { found, why: Err(e) })),
    };
    let oid = found.id.oid;
    if let Some(error) = cross_check(&file, catalog_kinds.get(&oid)) {
        return Err(Box::new(Unplanned {
            found,
            why: Err(error),
        }));
    }
    let header = match file.layout() {
        Layout::Compressed { header, .. } => Some(header.clone()),
        Layout::Uncompressed { .. } => None,
    };
    let header_lbids = header.as_ref().map(|h| h.lbids.clone()).unwrap_or_default();

    let resolved: Option<(ObjectKind, bool, KindSource)> =
        if let Some(obj) = syscat::syscat_object(oid) {
            let kind = ObjectKind::of_syscat(obj);
            Some((kind, obj.dict_oid.is_some(), KindSource::SystemCatalog))
        } else if let Some(kind) = header.as_ref().and_then(header_kind) {
            // The catalog knows better whether an 8-byte string column holds tokens.
            let tokens = catalog_kinds
                .get(&oid)
                .map(|c| c.tokens)
                .unwrap_or_else(|| is_token_column(kind));
            Some((kind, tokens, KindSource::Header))
        } else {
            catalog_kinds
                .get(&oid)
                .map(|c| (c.kind, c.tokens, KindSource::Catalog))
        };
    let Some((kind, tokens, source)) = resolved else {
        let reason = match &header {
            Some(h) if h.version < 3 => UnresolvedReason::OldHeaderNoCatalogRow {
                header_version: h.version,
            },
            Some(_) => UnresolvedReason::UnusableHeaderNoCatalogRow,
            None => UnresolvedReason::UncompressedNoCatalogRow,
        };
        return Err(Box::new(Unplanned {
            found,
            why: Ok(reason),
        }));
    };
    if let Some(error) = over_capacity(&file, kind) {
        return Err(Box::new(Unplanned {
            found,
            why: Err(error),
        }));
    }
    let (kernel, domain) = kernel_for(kind, tokens, string_cp);
    let facts = FileFacts {
        found,
        kind,
        source,
        header_lbids,
        domain,
        tokens,
        compressed: file.is_compressed(),
        allocated_blocks: file.allocated_blocks(),
        chunk_count: file.chunk_count(),
    };
    Ok(PlannedFile {
        facts,
        file,
        kernel,
    })
}

/// Damage only a comparison with the catalog reveals: ColumnStore never writes an empty segment
/// file, and a file the catalog says is compressed but that has no compressed-file header lost
/// its magic (it would otherwise be read as garbage blocks of an uncompressed file).
fn cross_check(file: &SegmentFile, catalog: Option<&CatalogKind>) -> Option<Error> {
    if file.file_len() == 0 {
        let e = DecodeError::truncated(0, "a segment file of at least one block", 0);
        return Some(e.in_file(file.path()));
    }
    let compressed_in_catalog = catalog.is_some_and(|c| c.compression != 0);
    if compressed_in_catalog && !file.is_compressed() {
        let found: Vec<String> = file.head().iter().map(|b| format!("{b:02x}")).collect();
        let kind = DecodeKind::BadMagic {
            expected: format!(
                "{} (the catalog says compression type {})",
                "8e 77 d0 84 a3 19 c1 fd",
                catalog.map_or(0, |c| c.compression)
            ),
            found: found.join(" "),
        };
        return Some(DecodeError::new(0, kind).in_file(file.path()));
    }
    None
}

/// Room for a compressed file's header and chunk overhead on top of twice the uncompressed
/// capacity in the size bound applied before opening (the exact bound, in blocks, is checked
/// once the file is open: [`over_capacity`]).
const COMPRESSED_HEADER_ALLOWANCE: u64 = 1 << 20;

/// A column file that claims more blocks than a column segment file can hold (two extents): the
/// rest cannot belong to the column, so the file is reported instead of scanned.
fn over_capacity(file: &SegmentFile, kind: ObjectKind) -> Option<Error> {
    let max = max_column_file_blocks(kind.em_width())?;
    let claimed = file.allocated_blocks();
    (claimed > max).then(|| {
        DecodeError::invalid(
            0,
            if file.is_compressed() {
                "header block count"
            } else {
                "file size"
            },
            format!(
                "at most {max} blocks ({} extents of width {})",
                crate::types::EXTENTS_PER_SEGMENT_FILE,
                kind.em_width()
            ),
            format!("{claimed} blocks"),
        )
        .in_file(file.path())
    })
}

/// The kind a v3 header records: VARCHAR with width 0 is a dictionary store (segment spec §3.2.1).
fn header_kind(h: &crate::seg::header::ControlHeader) -> Option<ObjectKind> {
    if h.version < 3 {
        return None;
    }
    let dt = ColDataType::from_code(h.data_type)?;
    match (dt, h.width) {
        (ColDataType::Varchar, 0) => Some(ObjectKind::Dictionary),
        (_, w @ (1 | 2 | 4 | 8 | 16)) => Some(ObjectKind::Column {
            data_type: dt,
            width: w as u16,
        }),
        _ => None,
    }
}

/// Without the catalog, an 8-byte string column is taken to hold tokens: inline CHAR(5..8) and
/// VARCHAR(4..7) look the same in the header, and treating them as tokens only forgoes min/max.
fn is_token_column(kind: ObjectKind) -> bool {
    matches!(kind, ObjectKind::Column { data_type, width: 8 } if data_type.is_string())
}
