//! Era: the CP state an extent is created with, which depends on the release that created it
//! (EM §2.1 "Era", §2.2). This module is the one owner of that rule; [`super::cp`] applies it to
//! the extents whose CP no writer maintains.
//!
//! | created by | column extent at partition 0, segment 0, block offset 0 | any other column extent | dictionary extent |
//! |---|---|---|---|
//! | ≤ 6.x (before MCOL-4580) | CP_VALID, sentinel pair | CP_INVALID, sentinel pair | CP_INVALID, dictionary sentinels |
//! | 22.08 and later | CP_INVALID, sentinel pair | CP_INVALID, sentinel pair | CP_INVALID, dictionary sentinels |
//!
//! Upstream: before MCOL-4580 (`53b9a2a0f`, 2022-02-04, first tagged `v-columnstore-22.08.2-1`)
//! `_createColumnExtent_DBroot` and `_createColumnExtentExactFile` set CP_VALID when
//! `partitionNum == 0 && segmentNum == 0 && blockOffset == 0`
//! (`53b9a2a0f^:versioning/BRM/extentmap.cpp:2829`, `:3038`); HEAD keeps that code under `#if 0`
//! and sets CP_INVALID (`versioning/BRM/extentmap.cpp:3093-3109`, `:3346-3360`). Dictionary
//! extents are CP_INVALID in both (`versioning/BRM/extentmap.cpp:3480-3483`). The same commit
//! added CHAR, VARCHAR, TEXT and VARBINARY to `isUnsigned` (`datatypes/mcs_datatype.h`, diff of
//! `53b9a2a0f`), so an older release gave those columns the *signed* sentinel pair.
//!
//! The sentinel pair of such an extent is also what `markInvalid` leaves when DML or DDL writes
//! into it (CP_UPDATING, then CP_INVALID at commit; EM §2.1). The real fresh-install map in
//! `../shared/real` (EM §6.2) is the evidence for the older era: every catalog column extent,
//! token columns and CHAR(1) included, CP_VALID with INT64_MAX/INT64_MIN, 1042 (UBIGINT) with
//! −1/0, and the dictionaries CP_INVALID.
//!
//! Which era created an extent comes from the catalog ([`Eras`]): its generation (CAT §7.1: A is
//! ≤ 6.x, B and C are 22.08 and later); in a generation B/C catalog a table whose SYSTABLE row
//! holds `auxcolumnoid` 0 was created before the upgrade (CAT §7.2: the engine never adds an AUX
//! column to an existing table); in a catalog upgraded in place the files of its original
//! generation are older than the ones the upgrade added.

use super::cp::Origin;
use crate::catalog::syscat::{self, CatalogTable, Generation};
use crate::em::{CasualPartition, CpState, ExtentRecord, SentinelKind};
use crate::finding::{Evidence, Fact, Inferred, Strength};
use crate::rebuild::kind::ObjectKind;
use crate::rebuild::plan::FileFacts;
use crate::rebuild::scan::ScanFacts;
use crate::seg::datatype::ColDataType;
use crate::types::Oid;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The release line that created an extent, as far as its CP goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Era {
    /// ColumnStore ≤ 6.x (before MCOL-4580): a column's first extent is created CP_VALID and
    /// CHAR/VARCHAR/TEXT/VARBINARY take the signed sentinel pair.
    Before2208,
    /// ColumnStore 22.08 and later (MCOL-4580): every new extent is created CP_INVALID.
    Since2208,
}

impl Era {
    /// The era of the release that made a catalog of generation `g` (CAT §7.1).
    pub fn of_generation(g: Generation) -> Era {
        match g {
            Generation::A => Era::Before2208,
            Generation::B | Generation::C => Era::Since2208,
        }
    }

    /// The sentinel pair a column extent of `dt`, `width` bytes wide, gets in this era
    /// (EM §2.2): HEAD's rule, except that before MCOL-4580 CHAR, VARCHAR, TEXT and VARBINARY
    /// were not "unsigned".
    pub fn sentinel_kind(self, dt: ColDataType, width: u16) -> SentinelKind {
        let was_signed = matches!(
            dt,
            ColDataType::Char | ColDataType::Varchar | ColDataType::Text | ColDataType::VarBinary
        );
        match SentinelKind::for_column(dt, width) {
            SentinelKind::UnsignedNarrow if self == Era::Before2208 && was_signed => {
                SentinelKind::SignedNarrow
            }
            kind => kind,
        }
    }

    /// The sentinel pair of an extent of `kind` in this era, with `state`.
    pub fn sentinel(self, kind: ObjectKind, state: i8) -> CasualPartition {
        let sk = match kind {
            ObjectKind::Dictionary => SentinelKind::Dictionary,
            ObjectKind::Column { data_type, width } => self.sentinel_kind(data_type, width),
        };
        CasualPartition::sentinel(sk, state)
    }

    /// The CP an extent of `kind` is created with; `first` is the column's first extent
    /// (partition 0, segment 0, block offset 0).
    pub fn created(self, kind: ObjectKind, first: bool) -> CasualPartition {
        let valid = first && self == Era::Before2208 && kind != ObjectKind::Dictionary;
        self.sentinel(
            kind,
            if valid {
                CpState::VALID
            } else {
                CpState::INVALID
            },
        )
    }

    /// The CP `markInvalid` leaves once the statement that wrote into the extent commits.
    pub fn invalidated(self, kind: ObjectKind) -> CasualPartition {
        self.sentinel(kind, CpState::INVALID)
    }
}

/// What the era of an extent rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum EraEvidence {
    /// The catalog's generation (CAT §7.1); `None` without any catalog file (HEAD assumed).
    Generation { generation: Option<Generation> },
    /// A catalog file of the catalog's original generation, upgraded in place (CAT §7.2).
    CatalogOriginal { original: Generation },
    /// A catalog file added by the in-place upgrade (CAT §7.2).
    CatalogAddedByUpgrade,
    /// A user table whose SYSTABLE row holds `auxcolumnoid` 0 in a generation B/C catalog:
    /// created before the upgrade to 22.08 (CAT §7.1, §7.2).
    TableWithoutAux,
}

/// The era of every OID whose era is not the catalog generation's, and that default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Eras {
    /// The catalog's generation, if any catalog file was found.
    pub generation: Option<Generation>,
    /// OIDs whose era other evidence decides.
    pub overrides: BTreeMap<Oid, (Era, EraEvidence)>,
}

impl Eras {
    /// The default era: the catalog generation's, or HEAD's without a catalog.
    pub fn default_era(&self) -> Era {
        self.generation.map_or(Era::Since2208, Era::of_generation)
    }

    /// The era that created the extents of `oid`, and why.
    pub fn of(&self, oid: Oid) -> (Era, EraEvidence) {
        self.overrides.get(&oid).copied().unwrap_or((
            self.default_era(),
            EraEvidence::Generation {
                generation: self.generation,
            },
        ))
    }

    /// The eras of a catalog of `generation`; `upgraded` = (original generation, catalog OIDs the
    /// upgrade added); `old_tables` = the OIDs (columns, dictionaries) of user tables whose
    /// `auxcolumnoid` is 0, when the catalog holds that column.
    pub fn new(
        generation: Option<Generation>,
        upgraded: Option<(Generation, &[Oid])>,
        old_tables: impl IntoIterator<Item = Oid>,
    ) -> Self {
        let mut overrides = BTreeMap::new();
        let default = generation.map_or(Era::Since2208, Era::of_generation);
        if let Some((original, added)) = upgraded {
            for o in syscat::SYSCAT_COLUMNS
                .iter()
                .filter(|o| o.since <= original)
            {
                overrides.insert(
                    o.oid,
                    (
                        Era::of_generation(original),
                        EraEvidence::CatalogOriginal { original },
                    ),
                );
            }
            for &oid in added {
                overrides.insert(oid, (default, EraEvidence::CatalogAddedByUpgrade));
            }
        }
        if default == Era::Since2208 {
            for oid in old_tables {
                overrides.insert(oid, (Era::Before2208, EraEvidence::TableWithoutAux));
            }
        }
        Eras {
            generation,
            overrides,
        }
    }
}

/// The [`Origin`] of every planned file (same order): its era from `eras`, and for the system
/// catalog whether DDL wrote into its table — any file of that catalog table (a column or a
/// dictionary) holds a non-EMPTY block. DROP TABLE overwrites catalog rows with EMPTY but leaves
/// the dictionaries' strings (CAT §3.8), so a catalog table DDL ever wrote keeps that evidence.
pub fn origins(files: &[FileFacts], scan: &ScanFacts, eras: &Eras) -> Vec<Origin> {
    let mut written: BTreeSet<CatalogTable> = BTreeSet::new();
    for (&(i, _), stats) in &scan.stats {
        let Some(pf) = files.get(i) else { continue };
        if let (Some(obj), Some(_)) = (syscat::syscat_object(pf.found.id.oid), stats.last_nonempty)
        {
            written.insert(obj.table);
        }
    }
    files
        .iter()
        .map(|pf| {
            let (era, evidence) = eras.of(pf.found.id.oid);
            let ddl_written =
                syscat::syscat_object(pf.found.id.oid).is_some_and(|o| written.contains(&o.table));
            Origin {
                era,
                evidence,
                ddl_written,
            }
        })
        .collect()
}

/// The extents whose CP is the creation state of an era that evidence other than the catalog's
/// generation decided (a table older than the upgrade, a catalog upgraded in place), each as an
/// [`Inferred`] CP state: the first extent of each such file (the only one whose state differs
/// between the eras).
pub fn inferences(
    files: &[FileFacts],
    origins: &[Origin],
    extents: &[ExtentRecord],
) -> Vec<Inferred> {
    let mut out = Vec::new();
    for (pf, o) in files.iter().zip(origins) {
        if matches!(o.evidence, EraEvidence::Generation { .. }) || o.ddl_written {
            continue;
        }
        let id = pf.found.id;
        if id.partition != 0 || id.segment != 0 || pf.kind == ObjectKind::Dictionary {
            continue;
        }
        let created = o.era.created(pf.kind, true);
        let Some(rec) = extents.iter().find(|e| {
            e.oid == id.oid
                && e.dbroot == pf.found.dbroot
                && e.partition == 0
                && e.segment == 0
                && e.block_offset == 0
        }) else {
            continue;
        };
        if (rec.cp.state, rec.cp.lo, rec.cp.hi) != (created.state, created.lo, created.hi) {
            continue;
        }
        out.push(Inferred {
            extent: rec.address(),
            fact: Fact::CpState,
            value: i64::from(rec.cp.state),
            evidence: Evidence::CreationEra {
                era: o.era,
                by: o.evidence,
            },
            strength: Strength::Strong,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_is_signed_before_mcol_4580_only() {
        let c = ObjectKind::Column {
            data_type: ColDataType::Char,
            width: 1,
        };
        let old = Era::Before2208.created(c, true);
        assert_eq!(
            (old.state, old.lo_i64(), old.hi_i64()),
            (CpState::VALID, i64::MAX, i64::MIN)
        );
        let new = Era::Since2208.created(c, true);
        assert_eq!(
            (new.state, new.lo_i64(), new.hi_i64()),
            (CpState::INVALID, -1, 0)
        );
        let later = Era::Before2208.created(c, false);
        assert_eq!(later.state, CpState::INVALID);
        let d = Era::Before2208.created(ObjectKind::Dictionary, true);
        assert_eq!(d.state, CpState::INVALID);
    }
}
