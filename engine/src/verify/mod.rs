//! Verify an extent map against the data: scan every DBRoot as the rebuild does, then compare
//! each extent, by its address (oid, dbroot, partition, segment, block offset), with the map.
//!
//! Every extent gets one [`Status`] — the worst that applies — and every status that applies,
//! with typed [`Detail`]s (the map's and the data's values). Statuses, worst first:
//!
//! | severity | status | meaning |
//! |---|---|---|
//! | dangerous | `hwm_behind` | data beyond the map's HWM: restoring this map loses rows |
//! | dangerous | `hwm_ahead` | the map's HWM is past the last block holding data and the blocks up to it are not all in the file ("blocks missing") |
//! | dangerous | `cp_unsafe` | a CP_VALID range that excludes values on disk: wrong query results |
//! | dangerous | `lbid_mismatch` | the file header (or the catalog's tokens) disprove the map's LBID |
//! | dangerous | `width_mismatch` | the map's column width or range size is not the data's |
//! | dangerous | `missing_in_map` | data the map does not know |
//! | dangerous | `overlap` | two extents of the map share LBIDs |
//! | unverifiable | `not_verifiable` | the extent's file is damaged, not understood, or its DBRoot was not scanned |
//! | stale but safe | `missing_in_data` | the map has an extent with no data (a dropped table, a lost file) |
//! | stale but safe | `cp_invalid` | the map's CP is not valid where the data establishes it |
//! | stale but safe | `hwm_ahead_empty` | the map's HWM is past the last block holding data, and every block up to it is in the file and holds only EMPTY values (a plain DELETE of the last rows, which never lowers an HWM) |
//! | benign | `status_only` | only the status differs (out of service) |
//! | benign | `seq_only` | only the CP sequence number differs (DML history no file records) |
//! | benign | `cp_loose` | a valid range wider than the data |
//! | benign | `match` | everything the data establishes agrees |
//!
//! HWM (EM §3.2): ColumnStore reads a segment file's HWM as the first non-zero HWM among its
//! extents (extentmap.cpp:4707-4782), so HWMs are compared per segment file and the finding is
//! attached to the map's extent that holds it. The data's HWM is the rebuild's: the last block
//! holding a non-EMPTY value, or the block of its table's last row where the table's columns
//! were reconciled (an AUX column after a FastDelete). A map HWM past it is `hwm_ahead_empty`
//! when every block up to it exists in the file ([`blocks_exist`]): the scan read them and found
//! only EMPTY values, which is what a plain DELETE of a table's last rows leaves (DELETE never
//! lowers an HWM); restoring that map loses nothing. Blocks missing from the file keep it
//! `hwm_ahead` (dangerous). This is judged per file: each column of a table has its own verdict.
//! Against a cluster's partials (`verify --partials`) the same question is answered from the
//! facts the node's scan established — allocated blocks, chunks, unreadable chunks and the
//! length of every chunk shorter than 4 MiB ([`crate::rebuild::scan::ScanFacts::short`]) —
//! without reading the chunk again.
//!
//! An LBID the data cannot establish (the rebuild re-assigned it: DML-created extents,
//! uncompressed files, v2 headers) is not a mismatch; the extent says "not established by data"
//! ([`Detail::LbidNotEstablished`]). Dictionary LBIDs are judged by the tokens pointing into them:
//! the catalog's dictionaries by the catalog's own tokens ([`crate::catalog::check_token_lbids`]),
//! every other dictionary by the rebuild's token evidence
//! ([`crate::rebuild::place::tokens`]): an extent the tokens place is established data, so a
//! map that puts it elsewhere is an `lbid_mismatch`.

pub mod catalog;
pub mod cp;

use crate::catalog::DictExtent;
use crate::em::{ExtentMap, ExtentRecord};
use crate::error::Error;
use crate::finding::{Damaged, ReassignReason, Uncertain, UncertainCause, Unresolved};
use crate::progress::Progress;
use crate::rebuild::{rebuild, RebuildOptions, RebuildReport, Rebuilt};
use crate::seg::file::{Access, SegmentFile};
use crate::seg::path::segment_rel_path;
use crate::types::{DbRootId, ExtentAddress, Oid};
use catalog::CatalogView;
use cp::CpVerdict;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// How bad a status is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Restoring or keeping this map loses rows, returns wrong results or fails queries.
    Dangerous,
    /// The data could not be read well enough to tell.
    Unverifiable,
    /// The map knows less than the data, or more than exists; safe to use.
    Stale,
    /// Agrees with the data in everything ColumnStore relies on.
    Benign,
}

/// What verify found for one extent. Declared worst first: `Ord` is severity order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    HwmBehind,
    HwmAhead,
    CpUnsafe,
    LbidMismatch,
    WidthMismatch,
    MissingInMap,
    Overlap,
    NotVerifiable,
    MissingInData,
    CpInvalid,
    HwmAheadEmpty,
    StatusOnly,
    SeqOnly,
    CpLoose,
    Match,
}

impl Status {
    /// Every status, worst first.
    pub const ALL: [Status; 15] = [
        Status::HwmBehind,
        Status::HwmAhead,
        Status::CpUnsafe,
        Status::LbidMismatch,
        Status::WidthMismatch,
        Status::MissingInMap,
        Status::Overlap,
        Status::NotVerifiable,
        Status::MissingInData,
        Status::CpInvalid,
        Status::HwmAheadEmpty,
        Status::StatusOnly,
        Status::SeqOnly,
        Status::CpLoose,
        Status::Match,
    ];

    /// The status's severity.
    pub fn severity(self) -> Severity {
        use Status::*;
        match self {
            HwmBehind | HwmAhead | CpUnsafe | LbidMismatch | WidthMismatch | MissingInMap
            | Overlap => Severity::Dangerous,
            NotVerifiable => Severity::Unverifiable,
            MissingInData | CpInvalid | HwmAheadEmpty => Severity::Stale,
            StatusOnly | SeqOnly | CpLoose | Match => Severity::Benign,
        }
    }

    /// The name used in the output (`hwm_behind`, ...).
    pub fn name(self) -> &'static str {
        use Status::*;
        match self {
            HwmBehind => "hwm_behind",
            HwmAhead => "hwm_ahead",
            CpUnsafe => "cp_unsafe",
            LbidMismatch => "lbid_mismatch",
            WidthMismatch => "width_mismatch",
            MissingInMap => "missing_in_map",
            Overlap => "overlap",
            NotVerifiable => "not_verifiable",
            MissingInData => "missing_in_data",
            CpInvalid => "cp_invalid",
            HwmAheadEmpty => "hwm_ahead_empty",
            StatusOnly => "status_only",
            SeqOnly => "seq_only",
            CpLoose => "cp_loose",
            Match => "match",
        }
    }
}

/// A CP value as a decimal string (it may be 128-bit).
fn as_string<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// The evidence behind a status, or a fact worth stating about an extent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detail {
    /// The segment file's HWM in the map and in the data (last block holding any row); for an
    /// HWM ahead of the data, the blocks the file has (header block count, or size ÷ 8192).
    Hwm {
        map: u32,
        data: u32,
        file_blocks: Option<u64>,
    },
    /// The map's CP range and the data's (the values as ColumnStore stores them).
    Cp {
        #[serde(serialize_with = "as_string")]
        map_lo: i128,
        #[serde(serialize_with = "as_string")]
        map_hi: i128,
        #[serde(serialize_with = "as_string")]
        data_lo: i128,
        #[serde(serialize_with = "as_string")]
        data_hi: i128,
    },
    /// The map's CP state where the data establishes the range.
    CpState { map: i8 },
    /// The file header records another LBID for this extent.
    Lbid { map: i64, data: i64 },
    /// The data cannot establish this extent's LBID (the rebuild re-assigned it); not a mismatch.
    LbidNotEstablished { map: i64, reason: ReassignReason },
    /// The catalog's tokens point outside the map's extents of this catalog dictionary.
    TokensDisprove { map: i64, tokens: usize },
    /// Width and range size (1024-block units) in the map and in the data.
    Geometry {
        map_width: u16,
        data_width: u16,
        map_size: u32,
        data_size: u32,
    },
    /// Another extent of the map whose LBIDs overlap this one's.
    OverlapsWith {
        other: ExtentAddress,
        lbid: i64,
        other_lbid: i64,
    },
    /// The map has this extent, the data not: `file` whether its segment file exists at all,
    /// `oid_in_catalog` whether the catalog knows the OID (`None`: catalog not read). No file and
    /// an OID the catalog does not know is a dropped table; a known OID is a lost file.
    NotInData {
        file: bool,
        oid_in_catalog: Option<bool>,
    },
    /// The data has this extent at `lbid` (as the rebuild placed it), the map not.
    NotInMap { lbid: i64, lbid_established: bool },
    /// The extent's file (or a folder above it) could not be read completely.
    Damaged(Damaged),
    /// The extent's file could not be understood (its type and width).
    Unresolved(Unresolved),
    /// A fact of this extent the scan could not establish.
    Uncertain(Uncertain),
    /// The extent is on a DBRoot that was not scanned.
    DbRootNotScanned { dbroot: DbRootId },
    /// The CP sequence number in the map (the data always gives 0).
    Seq { map: i32 },
    /// The extent's status in the map (0 available, 1 unavailable, 2 out of service).
    ExtentStatus { map: i16 },
}

/// One extent's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ExtentVerdict {
    pub address: ExtentAddress,
    /// `schema.table.column` where the catalog allows.
    pub name: Option<String>,
    /// The worst status that applies.
    pub status: Status,
    /// Every status that applies, worst first (`[match]` when nothing else does).
    pub statuses: Vec<Status>,
    /// The map's first LBID (`None` for an extent only in the data).
    pub map_lbid: Option<i64>,
    pub details: Vec<Detail>,
}

/// The result of [`verify`].
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Extents in the map.
    pub map_extents: usize,
    /// Extents the data holds (as rebuilt).
    pub data_extents: usize,
    /// How many extents have each status as their worst (every status listed, zeros included).
    pub counts: BTreeMap<Status, usize>,
    /// Every extent of the map and every extent only in the data, worst first, then by address.
    pub extents: Vec<ExtentVerdict>,
    /// Why names and catalog membership are missing, if the catalog could not be read.
    pub catalog_problem: Option<String>,
    /// What the scan found (damaged files, re-assigned LBIDs, ...).
    pub scan: RebuildReport,
}

impl Verification {
    /// Extents whose worst status has severity `s`.
    pub fn count(&self, s: Severity) -> usize {
        self.counts
            .iter()
            .filter(|(st, _)| st.severity() == s)
            .map(|(_, n)| n)
            .sum()
    }

    /// Whether nothing is dangerous and nothing unverifiable.
    pub fn is_safe(&self) -> bool {
        self.count(Severity::Dangerous) == 0 && self.count(Severity::Unverifiable) == 0
    }
}

/// Scan the data of `opts.dbroots` (on the current rayon pool) and compare `map` with it.
pub fn verify(
    map: &ExtentMap,
    opts: &RebuildOptions,
    progress: &dyn Progress,
) -> Result<Verification, Error> {
    let rebuilt = rebuild(opts, progress)?;
    // The few files whose HWM the map puts past the data are opened again, for their header
    // and the chunk holding the map's HWM.
    let file_blocks = |a: ExtentAddress, last: u32| {
        let file = opts
            .dbroots
            .get(&a.dbroot)
            .map(|root| root.join(segment_rel_path(a.segment_id())))
            .and_then(|p| SegmentFile::open(&p, opts.access).ok());
        let blocks = file.as_ref().map(|f| f.allocated_blocks());
        (blocks, file.is_some_and(|f| blocks_exist(&f, last)))
    };
    Ok(verify_rebuilt(
        map,
        &rebuilt,
        &opts.dbroots,
        opts.access,
        &file_blocks,
    ))
}

/// For an HWM the map puts past the data (an extent's address and the map's HWM): how many
/// blocks its segment file has, and whether every block up to that HWM is in the file.
pub type FileBlocks<'a> = &'a dyn Fn(ExtentAddress, u32) -> (Option<u64>, bool);

/// Compare `map` with data already rebuilt from `dbroots` (on this machine, or assembled from
/// the partials of a cluster's nodes): the catalog is read from the first DBRoot under
/// `dbroots` that holds it; `file_blocks` answers for the HWMs the map puts past the data.
pub fn verify_rebuilt(
    map: &ExtentMap,
    rebuilt: &Rebuilt,
    dbroots: &BTreeMap<DbRootId, PathBuf>,
    access: Access,
    file_blocks: FileBlocks<'_>,
) -> Verification {
    let catalog = CatalogView::read(dbroots, &rebuilt.map, access);
    let mut v = compare(map, rebuilt, &catalog, dbroots, access);
    // An HWM ahead of the data: whether the blocks it names exist at all.
    let consistent = consistent_tables(map, &catalog);
    let mut changed = false;
    for e in v.extents.iter_mut() {
        let mut present = false;
        for d in e.details.iter_mut() {
            if let Detail::Hwm {
                map,
                data,
                file_blocks: blocks,
            } = d
            {
                if map > data {
                    let (in_file, exist) = file_blocks(e.address, *map);
                    *blocks = in_file;
                    present = exist;
                }
            }
        }
        let table_agrees = consistent
            .get(&file_key(e.address))
            .copied()
            .unwrap_or(true);
        if present && table_agrees && e.statuses.contains(&Status::HwmAhead) {
            e.statuses.retain(|&s| s != Status::HwmAhead);
            e.statuses.push(Status::HwmAheadEmpty);
            e.statuses.sort();
            e.status = e.statuses[0];
            changed = true;
        }
    }
    if changed {
        v.extents.sort_by_key(|e| (e.status, e.address));
        v.counts = count(&v.extents);
    }
    v
}

/// Per column file of a table the catalog names: whether the map's HWMs of the table's column
/// files in that (partition, segment) name one row count. The HWM block `h` of a `w`-byte
/// column holds rows `h × 8192 / w + 1 ..= (h + 1) × 8192 / w`; the ranges of every column must
/// share a row (cpimport refuses a table whose HWMs do not, `we_tableinfo.cpp:2000-2144`). A
/// plain DELETE of the last rows keeps every HWM, so they still agree; one column's HWM moved
/// on its own does not.
fn consistent_tables(map: &ExtentMap, catalog: &CatalogView) -> BTreeMap<FileKey, bool> {
    let block = crate::types::BLOCK_SIZE as u64;
    // (schema, table, partition, segment) → each column file and the rows its HWM block holds.
    type Group = (String, String, u32, u16);
    let mut groups: BTreeMap<Group, Vec<(FileKey, u64, u64)>> = BTreeMap::new();
    for (key, (hwm, at)) in file_hwms(&map.extents) {
        let width = u64::from(map.extents[at].col_width);
        let Some((schema, table)) = catalog.table_of(key.0) else {
            continue;
        };
        if width == 0 {
            continue;
        }
        let h = u64::from(hwm);
        let rows = (h * block / width + 1, (h + 1) * block / width);
        groups
            .entry((schema, table, key.2, key.3))
            .or_default()
            .push((key, rows.0, rows.1));
    }
    let mut out = BTreeMap::new();
    for files in groups.values() {
        let lo = files.iter().map(|f| f.1).max().unwrap_or(0);
        let hi = files.iter().map(|f| f.2).min().unwrap_or(0);
        for f in files {
            out.insert(f.0, lo <= hi);
        }
    }
    out
}

/// Whether blocks `0 ..= last` are all in the file: inside its allocated blocks and in a chunk
/// whose (decompressed) data reaches them. A chunk that cannot be read counts as missing.
fn blocks_exist(f: &SegmentFile, last: u32) -> bool {
    let per_chunk = crate::types::BLOCKS_PER_CHUNK;
    if u64::from(last) >= f.allocated_blocks() || last / per_chunk >= f.chunk_count() {
        return false;
    }
    let mut reader = crate::seg::file::ChunkReader::new();
    let need = (last % per_chunk + 1) as usize * crate::types::BLOCK_SIZE;
    f.chunk_data(last / per_chunk, &mut reader)
        .is_ok_and(|data| data.len() >= need)
}

/// How many extents have each status as their worst (every status listed).
fn count(verdicts: &[ExtentVerdict]) -> BTreeMap<Status, usize> {
    let mut counts: BTreeMap<Status, usize> = Status::ALL.iter().map(|&s| (s, 0)).collect();
    for v in verdicts {
        *counts.entry(v.status).or_default() += 1;
    }
    counts
}

/// Segment file identity on one DBRoot.
type FileKey = (Oid, DbRootId, u32, u16);

fn file_key(a: ExtentAddress) -> FileKey {
    (a.oid, a.dbroot, a.partition, a.segment)
}

/// A segment file's HWM as ColumnStore reads it: the first non-zero HWM among its extents in map
/// order, else 0 (EM §3.2); with the index of the extent holding it (the last extent when all are 0).
fn file_hwms(extents: &[ExtentRecord]) -> BTreeMap<FileKey, (u32, usize)> {
    let mut out: BTreeMap<FileKey, (u32, usize)> = BTreeMap::new();
    for (i, e) in extents.iter().enumerate() {
        let key = file_key(e.address());
        match out.get_mut(&key) {
            None => {
                out.insert(key, (e.hwm, i));
            }
            Some((h, at)) => {
                if *h == 0 && (e.hwm != 0 || e.block_offset > extents[*at].block_offset) {
                    *h = e.hwm;
                    *at = i;
                }
            }
        }
    }
    out
}

/// Why an extent cannot be verified: its DBRoot was not scanned, or its file (or a folder
/// above it) is damaged or was not understood.
fn unverifiable(
    a: ExtentAddress,
    dbroots: &BTreeMap<DbRootId, PathBuf>,
    broken: &[(PathBuf, Detail)],
) -> Option<Detail> {
    let Some(root) = dbroots.get(&a.dbroot) else {
        return Some(Detail::DbRootNotScanned { dbroot: a.dbroot });
    };
    if broken.is_empty() {
        return None;
    }
    let path = root.join(segment_rel_path(a.segment_id()));
    broken
        .iter()
        .find(|(p, _)| path.starts_with(p))
        .map(|(_, d)| d.clone())
}

/// Compare `map` with the `rebuilt` data. `catalog` names OIDs and gives their types; `access`
/// is how the catalog files are read for the token check.
pub fn compare(
    map: &ExtentMap,
    rebuilt: &Rebuilt,
    catalog: &CatalogView,
    dbroots: &BTreeMap<DbRootId, PathBuf>,
    access: Access,
) -> Verification {
    let Rebuilt { map: data, report } = rebuilt;
    let data_by_addr: BTreeMap<ExtentAddress, &ExtentRecord> =
        data.extents.iter().map(|e| (e.address(), e)).collect();
    let reassigned: BTreeMap<ExtentAddress, ReassignReason> =
        report.reassigned().map(|r| (r.extent, r.reason)).collect();
    let mut broken: Vec<(PathBuf, Detail)> = report
        .damaged()
        .map(|d| (d.path.clone(), Detail::Damaged(d.clone())))
        .chain(
            report
                .unresolved()
                .map(|u| (u.path.clone(), Detail::Unresolved(u.clone()))),
        )
        .collect();
    broken.sort_by(|a, b| a.0.cmp(&b.0));
    // An extent whose data could not be read cannot be verified; one whose header LBID is
    // ambiguous (a column, SEG §3.9) still can: its data is all there.
    let uncertain: BTreeMap<ExtentAddress, &Uncertain> = report
        .uncertain()
        .filter(|u| u.cause != UncertainCause::HeaderIndexZeroAmbiguous)
        .map(|u| (u.extent, u))
        .collect();
    let data_files: BTreeSet<FileKey> = data_by_addr.keys().map(|a| file_key(*a)).collect();
    let map_hwm = file_hwms(&map.extents);
    let data_hwm = file_hwms(&data.extents);
    let overlaps = overlaps(&map.extents);
    let tokens = catalog_token_faults(map, catalog, access);

    // One catalog lookup per OID, not per extent.
    let mut names: BTreeMap<Oid, Option<String>> = BTreeMap::new();
    let mut name = |oid: Oid| {
        names
            .entry(oid)
            .or_insert_with(|| catalog.name(oid))
            .clone()
    };
    let mut verdicts: Vec<ExtentVerdict> = Vec::with_capacity(map.extents.len());
    for (i, m) in map.extents.iter().enumerate() {
        let a = m.address();
        let mut v = Findings::default();
        for other in overlaps.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
            v.add(
                Status::Overlap,
                Detail::OverlapsWith {
                    other: other.address(),
                    lbid: m.range_start.0,
                    other_lbid: other.range_start.0,
                },
            );
        }
        let blocked = unverifiable(a, dbroots, &broken)
            .or_else(|| uncertain.get(&a).map(|&u| Detail::Uncertain(u.clone())));
        if let Some(d) = blocked {
            v.add(Status::NotVerifiable, d);
        } else if let Some(d) = data_by_addr.get(&a) {
            let by_tokens = tokens.is_some() && is_catalog_dictionary(m);
            let lbid = match reassigned.get(&a) {
                Some(&reason) => LbidEvidence::NotEstablished(reason),
                None if by_tokens => LbidEvidence::Tokens,
                None => LbidEvidence::Data,
            };
            compare_extent(m, d, catalog, lbid, &mut v);
            if let Some(&faults) = tokens.as_ref().and_then(|t| t.get(&m.oid)) {
                v.add(
                    Status::LbidMismatch,
                    Detail::TokensDisprove {
                        map: m.range_start.0,
                        tokens: faults,
                    },
                );
            }
        } else {
            v.add(
                Status::MissingInData,
                Detail::NotInData {
                    file: data_files.contains(&file_key(a)),
                    oid_in_catalog: catalog.knows(a.oid),
                },
            );
        }
        // The segment file's HWM, on the extent of the map that holds it.
        let key = file_key(a);
        if let (Some(&(mh, at)), Some(&(dh, _))) = (map_hwm.get(&key), data_hwm.get(&key)) {
            if at == i && v.status() != Status::NotVerifiable {
                let detail = Detail::Hwm {
                    map: mh,
                    data: dh,
                    file_blocks: None,
                };
                if mh < dh {
                    v.add(Status::HwmBehind, detail);
                } else if mh > dh {
                    v.add(Status::HwmAhead, detail);
                }
            }
        }
        verdicts.push(v.finish(a, name(a.oid), Some(m.range_start.0)));
    }

    let in_map: BTreeSet<ExtentAddress> = map.extents.iter().map(|e| e.address()).collect();
    for d in data
        .extents
        .iter()
        .filter(|d| !in_map.contains(&d.address()))
    {
        let a = d.address();
        let mut v = Findings::default();
        match unverifiable(a, dbroots, &broken) {
            Some(detail) => v.add(Status::NotVerifiable, detail),
            None => v.add(
                Status::MissingInMap,
                Detail::NotInMap {
                    lbid: d.range_start.0,
                    lbid_established: !reassigned.contains_key(&a),
                },
            ),
        }
        verdicts.push(v.finish(a, name(a.oid), None));
    }

    verdicts.sort_by_key(|v| (v.status, v.address));
    Verification {
        map_extents: map.extents.len(),
        data_extents: data.extents.len(),
        counts: count(&verdicts),
        extents: verdicts,
        catalog_problem: catalog.problem.clone(),
        scan: report.clone(),
    }
}

/// The statuses and details gathered for one extent.
#[derive(Default)]
struct Findings {
    statuses: BTreeSet<Status>,
    /// Each detail with the status it supports (`None`: a note), to list them worst first.
    details: Vec<(Option<Status>, Detail)>,
}

impl Findings {
    fn add(&mut self, s: Status, d: Detail) {
        self.statuses.insert(s);
        self.details.push((Some(s), d));
    }

    fn note(&mut self, d: Detail) {
        self.details.push((None, d));
    }

    fn status(&self) -> Status {
        self.statuses.first().copied().unwrap_or(Status::Match)
    }

    fn finish(
        self,
        address: ExtentAddress,
        name: Option<String>,
        lbid: Option<i64>,
    ) -> ExtentVerdict {
        let statuses: Vec<Status> = if self.statuses.is_empty() {
            vec![Status::Match]
        } else {
            self.statuses.into_iter().collect()
        };
        let mut details = self.details;
        // Worst first, notes last; stable, so one status's details keep their order.
        details.sort_by_key(|(s, _)| (s.is_none(), *s));
        ExtentVerdict {
            address,
            name,
            status: statuses[0],
            statuses,
            map_lbid: lbid,
            details: details.into_iter().map(|(_, d)| d).collect(),
        }
    }
}

/// What decides an extent's LBID.
enum LbidEvidence {
    /// The data's (the header's LBID list, or the catalog's replayed creation order).
    Data,
    /// The catalog's tokens (catalog dictionaries, checked separately).
    Tokens,
    /// Nothing: the rebuild re-assigned it, for this reason.
    NotEstablished(ReassignReason),
}

/// Everything but the HWM (a per-file fact) for an extent in both the map and the data.
fn compare_extent(
    m: &ExtentRecord,
    d: &ExtentRecord,
    catalog: &CatalogView,
    lbid: LbidEvidence,
    v: &mut Findings,
) {
    if m.col_width != d.col_width || m.range_size != d.range_size {
        v.add(
            Status::WidthMismatch,
            Detail::Geometry {
                map_width: m.col_width,
                data_width: d.col_width,
                map_size: m.range_size,
                data_size: d.range_size,
            },
        );
    }
    match lbid {
        LbidEvidence::NotEstablished(reason) => v.note(Detail::LbidNotEstablished {
            map: m.range_start.0,
            reason,
        }),
        LbidEvidence::Data if m.range_start != d.range_start => v.add(
            Status::LbidMismatch,
            Detail::Lbid {
                map: m.range_start.0,
                data: d.range_start.0,
            },
        ),
        LbidEvidence::Data | LbidEvidence::Tokens => {}
    }
    if m.col_width == d.col_width {
        let cp_detail = || Detail::Cp {
            map_lo: m.cp.lo_value(m.col_width),
            map_hi: m.cp.hi_value(m.col_width),
            data_lo: d.cp.lo_value(d.col_width),
            data_hi: d.cp.hi_value(d.col_width),
        };
        match cp::compare(m, d, catalog.data_type(m.oid)) {
            CpVerdict::Unsafe => v.add(Status::CpUnsafe, cp_detail()),
            CpVerdict::Loose => v.add(Status::CpLoose, cp_detail()),
            CpVerdict::Invalid => v.add(Status::CpInvalid, Detail::CpState { map: m.cp.state }),
            CpVerdict::Same | CpVerdict::NotEstablished => {}
        }
    }
    if m.cp.seq_num != d.cp.seq_num {
        v.add(Status::SeqOnly, Detail::Seq { map: m.cp.seq_num });
    }
    if m.status != d.status {
        v.add(Status::StatusOnly, Detail::ExtentStatus { map: m.status });
    }
}

/// Catalog dictionaries: their LBIDs are checked against the catalog's tokens instead of the
/// replayed creation order (an upgraded catalog keeps an older layout, CAT §7.2).
fn is_catalog_dictionary(e: &ExtentRecord) -> bool {
    crate::catalog::syscat::is_syscat_oid(e.oid) && e.col_width == 0
}

/// For each catalog dictionary whose map extents the catalog's tokens do not fit: how many
/// tokens point elsewhere. `None` when there is no catalog or its tokens cannot be read; the
/// catalog dictionaries' LBIDs are then compared with the replayed creation order instead.
fn catalog_token_faults(
    map: &ExtentMap,
    catalog: &CatalogView,
    access: Access,
) -> Option<BTreeMap<Oid, usize>> {
    let mut out = BTreeMap::new();
    if catalog.files.is_empty() {
        return None;
    }
    let mut dict: BTreeMap<Oid, Vec<DictExtent>> = BTreeMap::new();
    for e in map.extents.iter().filter(|e| is_catalog_dictionary(e)) {
        dict.entry(e.oid).or_default().push(DictExtent {
            start: e.range_start,
            blocks: e.blocks() as u32,
            block_offset: e.block_offset,
        });
    }
    let findings = crate::catalog::check_token_lbids(&catalog.files, &dict, access).ok()?;
    for f in findings {
        *out.entry(f.dict).or_default() += 1;
    }
    Some(out)
}

/// For each map extent (by index), another extent of the map whose LBID range overlaps it.
///
/// One sweep in LBID order against the extent reaching furthest so far: every extent that
/// overlaps any earlier one is paired with one of them (and that one with it), in O(n log n)
/// whatever the map holds.
fn overlaps(extents: &[ExtentRecord]) -> BTreeMap<usize, Vec<&ExtentRecord>> {
    let mut order: Vec<usize> = (0..extents.len()).collect();
    order.sort_by_key(|&i| (extents[i].range_start, i));
    let mut out: BTreeMap<usize, Vec<&ExtentRecord>> = BTreeMap::new();
    let mut furthest: Option<usize> = None;
    for &i in order.iter().filter(|&&i| extents[i].range_size > 0) {
        let e = &extents[i];
        if let Some(j) = furthest {
            if extents[j].last_lbid() >= e.range_start {
                out.entry(i).or_default().push(&extents[j]);
                let partners = out.entry(j).or_default();
                if partners.len() < 8 {
                    partners.push(e);
                }
            }
        }
        if furthest.is_none_or(|j| e.last_lbid() > extents[j].last_lbid()) {
            furthest = Some(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_declared_worst_first() {
        let mut sorted = Status::ALL;
        sorted.sort();
        assert_eq!(sorted, Status::ALL);
        assert!(Status::ALL
            .windows(2)
            .all(|w| w[0].severity() <= w[1].severity()));
        let names: BTreeSet<&str> = Status::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Status::ALL.len());
        for s in Status::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.name())
            );
        }
    }

    #[test]
    fn overlaps_pair_every_extent_that_shares_lbids() {
        use crate::em::CasualPartition;
        let rec = |oid: i32, start: i64, units: u32| {
            ExtentRecord::builder(oid, start)
                .size(units)
                .cp(CasualPartition::narrow(0, 0, 0))
                .build()
        };
        // [0, 8192) holds [2048, 3072); [8192, 16384) touches neither; [16384, ...) is alone.
        let x = [
            rec(1, 0, 8),
            rec(2, 8192, 8),
            rec(3, 2048, 1),
            rec(4, 16384, 2),
        ];
        let o = overlaps(&x);
        assert_eq!(o.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(o[&2][0].oid, Oid(1));
        assert_eq!(o[&0][0].oid, Oid(3));
    }
}
