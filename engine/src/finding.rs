//! Findings: everything a rebuild (and, next, a verify) has to tell about the data, as values.
//!
//! One enum, [`Finding`], with a variant per kind of fact; each carries what it is about — an
//! [`ExtentAddress`], a [`SegmentId`] or a path — and a typed reason. Prose is rendered once, at
//! the edge (the CLI's `report` module renders text and JSON from these values), so tools can
//! count, filter and compare findings without parsing sentences. The order of a report's findings
//! is deterministic (sorted by the report stage).

use crate::catalog::syscat::Generation;
use crate::catalog::TokenFinding;
use crate::error::{Error, ErrorKind};
use crate::seg::path::NotSegmentPath;
use crate::types::{DbRootId, ExtentAddress, Lbid, Oid, SegmentId};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One thing a rebuild found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// A file that could not be read completely (damaged chunk, bad header, unreadable, ...).
    Damaged(Damaged),
    /// A path under a DBRoot that is not a segment file; listed, never fatal.
    Skipped(Skipped),
    /// A segment file whose kind (type and width) could not be established; it has no extents.
    Unresolved(Unresolved),
    /// An extent that did not get its original LBID.
    Reassigned(Reassigned),
    /// A fact about an extent that could not be established (with `--allow-damaged`).
    Uncertain(Uncertain),
    /// A fact the files do not record directly, derived from other evidence.
    Inferred(Inferred),
    /// A reason not to write the map, unless the user accepts it with the flag it names.
    Refused(Refusal),
    /// A file of an OID the catalog does not list as live (a dropped table's, or a copy).
    Orphan(Orphan),
    /// The catalog's rows could not be read, so no file was checked against the live OIDs:
    /// every file was kept.
    OrphansNotChecked { files: usize },
    /// The same segment file on two DBRoots.
    DuplicateSegment {
        segment: SegmentId,
        /// The DBRoot whose copy was kept, then the other one.
        dbroots: [DbRootId; 2],
    },
    /// The catalog's layout was inferred from its tokens instead of replayed over the files
    /// present (CAT §7.2): a catalog first built as `original` and upgraded in place;
    /// `added_later` were re-assigned.
    CatalogUpgraded {
        original: Generation,
        detected: Generation,
        added_later: Vec<Oid>,
    },
    /// The catalog's tokens fit no replayed layout: the catalog was moved or is damaged.
    CatalogFitsNoLayout,
    /// A catalog check could not run because a catalog file could not be loaded.
    CatalogNotChecked {
        check: CatalogCheck,
        #[serde(serialize_with = "crate::fsutil::serialize_opt_path")]
        path: Option<PathBuf>,
        error: ErrorKind,
        offset: Option<u64>,
        detail: String,
    },
    /// A token of a catalog column that does not fit its dictionary as placed.
    CatalogToken(TokenFinding),
    /// A problem the catalog reader reported about a row (its own sentence, naming file and
    /// byte offset).
    CatalogRow { detail: String },
    /// Extent status (available, unavailable, out of service) is recorded in no data file: every
    /// extent is written available, except where `--reference` supplied it (each such extent is
    /// an [`Inferred`] with [`Evidence::Reference`]).
    StatusNotInData {
        /// Extents whose status a reference map supplied.
        from_reference: usize,
    },
    /// The catalog's rows do not say which table some column files belong to (the rows could
    /// not be read, or no table lists their OIDs): each such file's HWM is its own last
    /// non-EMPTY block, not reconciled across its table.
    HwmNotReconciled {
        /// Column files whose HWM was not checked against their table.
        files: usize,
    },
    /// A reference map (`--reference`) that disagrees with the data: the data wins, the reference
    /// field is not used.
    ReferenceContradicted(ReferenceConflict),
}

impl Finding {
    /// The kind's name, as in the JSON `kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Damaged(_) => "damaged",
            Finding::Skipped(_) => "skipped",
            Finding::Unresolved(_) => "unresolved",
            Finding::Reassigned(_) => "reassigned",
            Finding::Uncertain(_) => "uncertain",
            Finding::Inferred(_) => "inferred",
            Finding::Refused(_) => "refused",
            Finding::Orphan(_) => "orphan",
            Finding::OrphansNotChecked { .. } => "orphans-not-checked",
            Finding::DuplicateSegment { .. } => "duplicate-segment",
            Finding::CatalogUpgraded { .. } => "catalog-upgraded",
            Finding::CatalogFitsNoLayout => "catalog-fits-no-layout",
            Finding::CatalogNotChecked { .. } => "catalog-not-checked",
            Finding::CatalogToken(_) => "catalog-token",
            Finding::CatalogRow { .. } => "catalog-row",
            Finding::StatusNotInData { .. } => "status-not-in-data",
            Finding::HwmNotReconciled { .. } => "hwm-not-reconciled",
            Finding::ReferenceContradicted(_) => "reference-contradicted",
        }
    }

    /// Whether this finding is about the system catalog's consistency.
    pub fn is_catalog(&self) -> bool {
        matches!(
            self,
            Finding::CatalogUpgraded { .. }
                | Finding::CatalogFitsNoLayout
                | Finding::CatalogNotChecked { .. }
                | Finding::CatalogToken(_)
                | Finding::CatalogRow { .. }
        )
    }

    /// A catalog check that could not run because of `err`.
    pub fn catalog_not_checked(check: CatalogCheck, err: &Error) -> Self {
        Finding::CatalogNotChecked {
            check,
            path: err.path().map(PathBuf::from),
            error: err.kind(),
            offset: err.offset(),
            detail: err.detail(),
        }
    }
}

/// A file that could not be read completely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Damaged {
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
    /// What kind of error the engine reported.
    pub error: ErrorKind,
    /// Byte offset of the damage, where known.
    pub offset: Option<u64>,
    /// The engine's error, without the path: what was expected and what was found.
    pub detail: String,
}

impl Damaged {
    /// The finding for `err` about `path`.
    pub fn new(path: PathBuf, err: &Error) -> Self {
        Damaged {
            path,
            error: err.kind(),
            offset: err.offset(),
            detail: err.detail(),
        }
    }
}

/// A path that is not a segment file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
    /// Why the path parser does not take it for a segment file (SEG §1.2).
    pub reason: NotSegmentPath,
}

/// A segment file of unknown kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unresolved {
    #[serde(
        serialize_with = "crate::fsutil::serialize_path",
        deserialize_with = "crate::fsutil::deserialize_path"
    )]
    pub path: PathBuf,
    pub oid: Oid,
    pub reason: UnresolvedReason,
}

/// Why a file's kind could not be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum UnresolvedReason {
    /// A compressed header older than version 3 records no type, and the catalog has no row.
    OldHeaderNoCatalogRow { header_version: u64 },
    /// The v3 header's type or width is not one a column can have, and the catalog has no row.
    UnusableHeaderNoCatalogRow,
    /// An uncompressed file records no type, and the catalog has no row.
    UncompressedNoCatalogRow,
}

/// An extent that did not get its original LBID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reassigned {
    pub extent: ExtentAddress,
    /// The LBID it got: the first free range that fits.
    pub lbid: Lbid,
    pub reason: ReassignReason,
}

/// Why an extent's original LBID is not known or not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum ReassignReason {
    /// The header's LBID is not a multiple of 1024 (or negative).
    HeaderLbidUnaligned { header_lbid: Lbid },
    /// The header's LBID overlaps an extent already placed.
    HeaderLbidOverlaps { header_lbid: Lbid },
    /// A system-catalog extent beyond the replayed creation order (a second extent or segment).
    CatalogBeyondReplay,
    /// A catalog file outside the replayed creation order (added by an in-place upgrade).
    CatalogAddedByUpgrade,
    /// The header's LBID list holds 0 for this extent (an extent created by DML).
    HeaderLbidZero { extent: u32 },
    /// The header's LBID list is full (48 entries) and does not record this extent.
    HeaderLbidListFull { extent: u32 },
    /// The header's LBID list has no entry for this extent.
    HeaderLbidMissing { extent: u32 },
    /// A version-2 compressed header records no LBIDs.
    OldHeader,
    /// An uncompressed file records no LBIDs.
    Uncompressed,
    /// The header's LBID range is claimed by another file too, and the tokens pointing into it
    /// fit the other file's dictionary extent, not this one.
    HeaderLbidLostConflict { header_lbid: Lbid },
    /// The tokens pointing into the header's LBID range do not fit this extent's blocks (a v2
    /// header upgraded by cpimport records the LBID of the extent being loaded at index 0, which
    /// can be the file's second extent, SEG §3.9).
    HeaderLbidContradicted { header_lbid: Lbid },
    /// The reference map's LBID for this dictionary extent is contradicted by the tokens
    /// pointing into its range: not used.
    ReferenceDisprovedByTokens { reference: Lbid },
}

/// A file of an OID the catalog's rows do not list as a live column, dictionary or AUX column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    #[serde(serialize_with = "crate::fsutil::serialize_path")]
    pub path: PathBuf,
    pub segment: SegmentId,
    pub dbroot: DbRootId,
    /// Kept in the map (`--include-orphans`), or left out.
    pub kept: bool,
}

/// A fact the files do not record directly, derived from other evidence, with how strong the
/// evidence is. Every inference a rebuild makes is reported, so that a reader can check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inferred {
    pub extent: ExtentAddress,
    pub fact: Fact,
    /// The value established: an LBID, a block number (HWM), a status code.
    pub value: i64,
    pub evidence: Evidence,
    pub strength: Strength,
}

/// What an inference rests on. Each variant names the evidence and counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "evidence", rename_all = "kebab-case")]
pub enum Evidence {
    /// Tokens of the owning token column(s) point into this dictionary extent (SEG §6.2):
    /// `tokens` tokens into `blocks` distinct blocks fit it; `contradicting` do not (stale
    /// tokens left by DELETE/UPDATE history, or damage). Its strength is the cover search's
    /// ([`crate::rebuild::place::tokens`]): [`Strength::Exact`] when exactly one set of starts
    /// puts every token on a block holding enough strings (written); [`Strength::Strong`] when
    /// none does and exactly one leaves at most 1 % of the token blocks unexplained;
    /// [`Strength::Weak`] when one was chosen among several by its score. Strong and weak are
    /// refused unless accepted (`--allow-reassigned`).
    Tokens {
        tokens: u64,
        blocks: u64,
        contradicting: u64,
    },
    /// As [`Evidence::Tokens`], against the file's header, which records `header_lbid` for this
    /// extent (a v2 header upgraded by cpimport records the loading extent's LBID at index 0,
    /// SEG §3.9): the header's LBID was set aside.
    TokensOverHeader {
        header_lbid: Lbid,
        tokens: u64,
        blocks: u64,
        contradicting: u64,
    },
    /// The reference map (`--reference`, a backup, perhaps stale) holds this value for the
    /// extent, and nothing in the data contradicts it.
    Reference,
    /// The reference map holds this LBID for a dictionary extent the tokens alone do not settle
    /// (several starts fit them), and every token of the owning column(s) fits it: `tokens`
    /// tokens into `blocks` blocks land on blocks holding enough strings, none does not
    /// ([`crate::rebuild::place::tokens`]).
    ReferenceAndTokens { tokens: u64, blocks: u64 },
    /// The columns of the extent's table agree on `rows` rows in its (partition, segment): the
    /// HWM is the block holding the last of them in this column's width (cpimport's rule,
    /// `writeengine/bulk/we_tableinfo.cpp:2000-2144`). `column_rows` is what the column's own
    /// data shows: fewer in an AUX column after a FastDelete of the last rows.
    TableRows {
        table: Oid,
        rows: u64,
        column_rows: u64,
        columns: u64,
    },
    /// The CP state an extent was created with, by the release that created it (EM §2.1
    /// "Era"): `era` was decided `by` evidence other than the catalog's generation alone.
    CreationEra {
        era: crate::rebuild::place::era::Era,
        by: crate::rebuild::place::era::EraEvidence,
    },
}

/// Where a reference map and the data disagree about one extent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferenceConflict {
    pub extent: ExtentAddress,
    #[serde(flatten)]
    pub conflict: Conflict,
}

/// What a reference map says that the data disproves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "conflict", rename_all = "kebab-case")]
pub enum Conflict {
    /// The data (header, catalog replay) gives this extent another LBID.
    LbidDisproved { reference: Lbid, data: Lbid },
    /// The reference's LBID range overlaps an extent the data places.
    RangeOverlaps {
        reference: Lbid,
        other: ExtentAddress,
    },
    /// The reference's LBID is not a multiple of 1024, or its range has another size.
    RangeUnusable { reference: Lbid, range_size: u32 },
    /// The reference has an extent the data does not: no file (or no such extent in its file).
    NotInData { reference: Lbid },
    /// The tokens pointing into the reference's LBID range for this dictionary extent do not fit
    /// its blocks: `contradicting` tokens land on empty blocks or past their string count.
    TokensContradict { reference: Lbid, contradicting: u64 },
}

/// How strong an inference's evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// The evidence admits exactly this value and nothing contradicts it.
    Exact,
    /// Several independent pieces agree; a few contradict (explained, e.g. stale tokens).
    Strong,
    /// One piece of evidence, or much of it contradicts: written only because the user accepted it.
    Weak,
}

/// A reason not to write the map: the data cannot establish a fact a correct map needs. The
/// map is written only when every refusal is accepted by the user with [`RefusalReason::flag`];
/// an accepted refusal stays in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    #[serde(flatten)]
    pub reason: RefusalReason,
    /// The extents concerned.
    pub extents: Vec<ExtentAddress>,
    /// Whether the user accepted it (the flag was given): the map is written anyway.
    pub accepted: bool,
}

/// Why a map would be wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum RefusalReason {
    /// Tokens point into dictionary extents whose LBIDs neither a header nor the tokens
    /// establish; a re-assigned LBID would make every string in them read from wrong blocks.
    DictionaryLbidNotEstablished,
    /// Two files claim one LBID range and the tokens pointing into it do not decide which one
    /// holds it.
    LbidConflict { lbid: Lbid },
    /// A column holds fewer rows than its table in one (partition, segment) — a truncated or
    /// damaged file — so no HWM both honours its data and agrees with the other columns
    /// (cpimport and DML stop on HWMs that do not agree). Accepted, the column gets the
    /// table's HWM: its missing rows read as EMPTY.
    ColumnRowsDisagree {
        table: Oid,
        column: Oid,
        partition: u32,
        segment: u16,
        table_rows: u64,
        column_rows: u64,
    },
    /// Files of the catalog's generation are missing (CAT §7.1): their extents keep the LBIDs
    /// of the generation's layout (as every other catalog extent does), but their HWM cannot
    /// be established (written as 0).
    CatalogFileMissing,
    /// The catalog's own tokens fit no replayed catalog layout (CAT §3.3, §7.2): the catalog
    /// was moved or is damaged, and its LBIDs cannot be established.
    CatalogLayoutContradicted,
    /// The catalog lists a live table whose column, dictionary or AUX files are on none of
    /// the DBRoots rebuilt. CREATE TABLE creates a file for each of them (CAT §4.5) and the
    /// last partition of a DBRoot cannot be dropped (`droppartitionprocessor.cpp:281`), so the
    /// files are missing: storage not mounted, a DBRoot left out of the configuration or of
    /// `--dbroot`, or files deleted. Without them the table has no extents in the map, and
    /// ColumnStore returns errors or no rows for it.
    LiveFilesMissing {
        table: Oid,
        /// `schema.table`, as the catalog stores it.
        name: String,
        /// The OIDs without a file.
        oids: Vec<Oid>,
    },
}

impl RefusalReason {
    /// The command-line flag that accepts this refusal.
    pub fn flag(&self) -> &'static str {
        match self {
            RefusalReason::DictionaryLbidNotEstablished => "--allow-reassigned",
            RefusalReason::LbidConflict { .. } => "--allow-lbid-conflict",
            RefusalReason::ColumnRowsDisagree { .. } => "--allow-hwm-mismatch",
            RefusalReason::CatalogFileMissing => "--allow-missing-catalog",
            RefusalReason::CatalogLayoutContradicted => "--allow-catalog-layout",
            RefusalReason::LiveFilesMissing { .. } => "--allow-missing-files",
        }
    }

    /// Whether `accept` accepts it.
    pub fn accepted_by(&self, accept: &Accept) -> bool {
        match self {
            RefusalReason::DictionaryLbidNotEstablished => accept.reassigned,
            RefusalReason::LbidConflict { .. } => accept.lbid_conflict,
            RefusalReason::ColumnRowsDisagree { .. } => accept.hwm_mismatch,
            RefusalReason::CatalogFileMissing => accept.missing_catalog,
            RefusalReason::CatalogLayoutContradicted => accept.catalog_layout,
            RefusalReason::LiveFilesMissing { .. } => accept.missing_files,
        }
    }
}

/// What the user accepted knowingly: one field per refusal flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accept {
    /// `--allow-reassigned`: write re-assigned LBIDs of dictionary extents tokens point into.
    pub reassigned: bool,
    /// `--allow-lbid-conflict`: where two files claim one LBID range and no token decides,
    /// keep the lower OID's claim and re-assign the other.
    pub lbid_conflict: bool,
    /// `--allow-hwm-mismatch`: write a column that holds fewer rows than its table with the
    /// table's HWM.
    pub hwm_mismatch: bool,
    /// `--allow-missing-catalog`: write the extents of missing catalog files with HWM 0.
    pub missing_catalog: bool,
    /// `--allow-catalog-layout`: write the replayed catalog layout although the catalog's
    /// tokens contradict it (dictionaries whose tokens fix one start are put there).
    pub catalog_layout: bool,
    /// `--allow-missing-files`: write the map although live tables' files are on none of the
    /// DBRoots rebuilt (those tables get no extents).
    pub missing_files: bool,
}

/// A fact about an extent that the scan could not establish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uncertain {
    pub extent: ExtentAddress,
    pub fact: Fact,
    pub cause: UncertainCause,
}

/// A field of an extent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fact {
    MinMax,
    Hwm,
    Lbid,
    /// The extent's status (available, unavailable, out of service).
    Status,
    /// The CP sequence number.
    SeqNum,
    /// The CP state (`isValid`).
    CpState,
}

/// Why a fact could not be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UncertainCause {
    /// A chunk of the extent could not be read.
    DamagedChunk,
    /// No free range is left in the LBID space.
    LbidSpaceFull,
    /// A column file has a further extent, but its header records an LBID at index 0 only. A
    /// v3 file cpimport loaded into extent 1 records index 1 too; a v2 file it upgraded records
    /// extent 1's LBID at index 0 (SEG §3.9, `we_colbufcompressed.cpp:558-572`), and an extent
    /// DML added records none (`we_colop.cpp:496`). Nothing in the data tells these apart; the
    /// header's LBID is kept for extent 0. Column LBIDs are referenced by no data, so the rows a
    /// query returns do not depend on it.
    HeaderIndexZeroAmbiguous,
}

/// A catalog check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CatalogCheck {
    /// The catalog's tokens against the replayed layouts of each generation.
    Generation,
    /// The SYSTABLE/SYSCOLUMN rows.
    Rows,
    /// The catalog's tokens against the placed dictionary extents.
    Tokens,
}
