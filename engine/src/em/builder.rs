//! [`RecordBuilder`]: one way to write an extent record in tests, benches and examples, with
//! every field not named at a plain default, instead of eleven-field literals.
//!
//! ```
//! use emengine::em::{CasualPartition, CpState, ExtentRecord};
//! let r = ExtentRecord::builder(3000, 8192)
//!     .width(4)
//!     .hwm(17)
//!     .cp(CasualPartition::narrow(CpState::VALID, -5, 5))
//!     .build();
//! assert_eq!((r.range_size, r.col_width, r.dbroot.0), (4, 4, 1));
//! ```

use super::cp::{CasualPartition, CpState, SentinelKind};
use super::record::ExtentRecord;
use crate::types::{extent_units, DbRootId, Lbid, Oid};

/// Builds an [`ExtentRecord`]. Defaults: width 8 (range size 8), DBRoot 1, partition, segment,
/// blockOffset, HWM and status 0, CP_INVALID with the signed sentinel pair, sequence 0.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct RecordBuilder(ExtentRecord);

impl ExtentRecord {
    /// A builder for the extent of `oid` starting at LBID `lbid`.
    pub fn builder(oid: i32, lbid: i64) -> RecordBuilder {
        RecordBuilder(ExtentRecord {
            range_start: Lbid(lbid),
            range_size: extent_units(8),
            oid: Oid(oid),
            block_offset: 0,
            hwm: 0,
            partition: 0,
            segment: 0,
            dbroot: DbRootId(1),
            col_width: 8,
            status: 0,
            cp: CasualPartition::sentinel(SentinelKind::SignedNarrow, CpState::INVALID),
        })
    }
}

impl RecordBuilder {
    /// Storage width (0: dictionary store) and the range size that goes with it (SEG §2.1).
    pub fn width(mut self, width: u16) -> Self {
        self.0.col_width = width;
        self.0.range_size = extent_units(width);
        self
    }

    /// Range size in units of 1024 LBIDs, when it must differ from the width's.
    pub fn size(mut self, units: u32) -> Self {
        self.0.range_size = units;
        self
    }

    pub fn block_offset(mut self, fbo: u32) -> Self {
        self.0.block_offset = fbo;
        self
    }

    pub fn hwm(mut self, hwm: u32) -> Self {
        self.0.hwm = hwm;
        self
    }

    pub fn partition(mut self, partition: u32) -> Self {
        self.0.partition = partition;
        self
    }

    pub fn segment(mut self, segment: u16) -> Self {
        self.0.segment = segment;
        self
    }

    pub fn dbroot(mut self, dbroot: u16) -> Self {
        self.0.dbroot = DbRootId(dbroot);
        self
    }

    pub fn status(mut self, status: i16) -> Self {
        self.0.status = status;
        self
    }

    /// The CP part (its sequence number included).
    pub fn cp(mut self, cp: CasualPartition) -> Self {
        self.0.cp = cp;
        self
    }

    /// The CP sequence number.
    pub fn seq(mut self, seq: i32) -> Self {
        self.0.cp.seq_num = seq;
        self
    }

    pub fn build(self) -> ExtentRecord {
        self.0
    }
}
