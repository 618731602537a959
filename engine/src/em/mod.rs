//! The extent-map save file `BRM_saves_em` (extent-map spec §1–§3, §5).
//!
//! * [`header`]: magic numbers, versions, sizes, the 12-byte header;
//! * [`record`]: one extent record in its V4 and V5 layouts ([`builder`]: one way to write one
//!   in tests);
//! * [`cp`]: casual-partitioning data (min/max, state, sentinels);
//! * [`freelist`]: free-list slots and the loader's free-list rebuild;
//! * [`file`]: a whole file ([`ExtentMap`]): parse, read, encode, write;
//! * [`text`]: human- and machine-readable dumps (mcsRebuildEM, editem, CSV, JSON);
//! * [`diff`]: logical comparison of two maps;
//! * [`overlap`]: records whose LBID ranges overlap (readers warn, writers refuse).

pub mod builder;
pub mod cp;
pub mod diff;
pub mod file;
pub mod freelist;
pub mod header;
pub mod overlap;
pub mod record;
pub mod text;

pub use builder::RecordBuilder;
pub use cp::{CasualPartition, CpState, SentinelKind};
pub use diff::{diff, EmDiff};
pub use file::ExtentMap;
pub use freelist::FreeSlot;
pub use header::{EmHeader, EmVersion};
pub use record::ExtentRecord;
