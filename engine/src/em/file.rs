//! A whole `BRM_saves_em` file (EM §1.6): header, records, free list.
//!
//! | off                        | size          | contents |
//! |----------------------------|---------------|----------|
//! | 0                          | 12            | header ([`EmHeader`]) |
//! | 12                         | nEM × 64 / 96 | extent records ([`ExtentRecord`], V4 / V5) |
//! | 12 + nEM × record_len      | nFL × 16      | free-list slots ([`FreeSlot`]); may be short (never read by ColumnStore) |
//!
//! Reading accepts V4 and V5, records in any order, and a short or truncated free list (the
//! complete slots are kept). It rejects another magic, nEM = 0, a records region shorter than
//! nEM records, and bytes beyond the declared free list — always with the byte offset.
//! Writing emits records in ascending LBID order with zero padding and the free list
//! ColumnStore's loader would rebuild ([`derive`]), so the output is byte-for-byte what HEAD
//! saves after loading the same extents.
//!
//! ```
//! use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord};
//! let rec = ExtentRecord::builder(1001, 0)
//!     .cp(CasualPartition::narrow(CpState::VALID, i64::MAX, i64::MIN))
//!     .build();
//! let bytes = ExtentMap::from_extents(vec![rec]).encode(EmVersion::V5);
//! assert_eq!(bytes.len(), 12 + 96 + 50 * 16);
//! assert_eq!(&bytes[..12], &[0x20, 0x8b, 0xf7, 0x76, 1, 0, 0, 0, 50, 0, 0, 0]);
//! // FL[0] = {8192, 2^26 - 8}
//! assert_eq!(&bytes[108..124], &[0, 0x20, 0, 0, 0, 0, 0, 0, 0xf8, 0xff, 0xff, 0x03, 0, 0, 0, 0]);
//! let back = ExtentMap::parse(&bytes).unwrap();
//! assert_eq!(back.extents, vec![rec]);
//! ```

use super::freelist::{derive, FreeSlot};
use super::header::{EmHeader, EmVersion, FREE_SLOT_LEN, HEADER_LEN, RECORD_LEN_V4, RECORD_LEN_V5};
use super::record::ExtentRecord;
use crate::error::{DecodeError, Error};
use crate::fsutil::write_atomic;
use rayon::prelude::*;
use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// A decoded extent map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentMap {
    /// The version the map was read as (V5 for maps built in memory).
    pub version: EmVersion,
    /// The extent records, in file order.
    pub extents: Vec<ExtentRecord>,
    /// The free-list slots as stored (empty ones included); informational only.
    pub free_list: Vec<FreeSlot>,
}

impl ExtentMap {
    /// Decode a whole file image. Errors carry the byte offset in `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let header = EmHeader::parse(bytes)?;
        let records_end = check_sizes(&header, bytes.len() as u64)? as usize;
        let mut extents = Vec::new();
        decode_records(
            header.version,
            &bytes[HEADER_LEN..records_end],
            &mut extents,
        );
        Ok(Self {
            version: header.version,
            extents,
            free_list: decode_free_list(&bytes[records_end..]),
        })
    }

    /// Read and decode `path`. Errors name the file (and the byte offset for bad content).
    ///
    /// The file is read in pieces of a few megabytes and decoded as it comes, so a map of
    /// millions of extents never sits in memory twice (raw bytes and decoded records).
    pub fn read(path: &Path) -> Result<Self, Error> {
        let (mut f, meta) = crate::fsutil::open_read_only(path)?;
        let len = meta.len();
        let mut head = Vec::with_capacity(HEADER_LEN);
        read_upto(&mut f, &mut head, HEADER_LEN, path)?;
        let header = EmHeader::parse(&head).map_err(|e| e.in_file(path))?;
        let records_end = check_sizes(&header, len).map_err(|e| e.in_file(path))?;
        let rec_len = header.version.record_len();
        // check_sizes proved the file holds every record, so this capacity is backed by bytes.
        let mut extents = Vec::with_capacity(header.n_extents as usize);
        let mut buf = Vec::with_capacity(READ_RECORDS * rec_len);
        let mut offset = HEADER_LEN as u64;
        while offset < records_end {
            let want = (records_end - offset).min((READ_RECORDS * rec_len) as u64) as usize;
            read_upto(&mut f, &mut buf, want, path)?;
            if buf.len() < want {
                // The file shrank while being read.
                let complete =
                    (offset - HEADER_LEN as u64) / rec_len as u64 + (buf.len() / rec_len) as u64;
                let at = HEADER_LEN as u64 + complete * rec_len as u64;
                let found = offset + buf.len() as u64 - at;
                return Err(record_truncated(&header, complete, found, at).in_file(path));
            }
            decode_records(header.version, &buf, &mut extents);
            offset += want as u64;
        }
        let mut tail = Vec::new();
        read_upto(&mut f, &mut tail, (len - records_end) as usize, path)?;
        Ok(Self {
            version: header.version,
            extents,
            free_list: decode_free_list(&tail),
        })
    }

    /// A V5 map of `extents`, sorted by LBID (stable), with the free list HEAD would derive.
    pub fn from_extents(mut extents: Vec<ExtentRecord>) -> Self {
        extents.sort_by_key(|e| e.range_start);
        let free_list = derive(&extents);
        Self {
            version: EmVersion::V5,
            extents,
            free_list,
        }
    }

    /// Whether the records are in ascending LBID order.
    pub fn is_sorted(&self) -> bool {
        self.extents
            .windows(2)
            .all(|w| w[0].range_start <= w[1].range_start)
    }

    /// The records in ascending LBID order (stable: equal starts keep file order); borrowed
    /// when they already are.
    pub fn sorted_extents(&self) -> Cow<'_, [ExtentRecord]> {
        if self.is_sorted() {
            Cow::Borrowed(&self.extents)
        } else {
            let mut v = self.extents.clone();
            v.sort_by_key(|e| e.range_start);
            Cow::Owned(v)
        }
    }

    /// The file image in `version`: header, records in ascending LBID order with zero padding,
    /// then the free list re-derived as HEAD's loader lays it out (nFL a multiple of 50).
    /// Records with equal `range_start` are all written, in their current order.
    ///
    /// Panics only if there are more than `u32::MAX` extents (over 400 GB of records).
    pub fn encode(&self, version: EmVersion) -> Vec<u8> {
        let sorted = self.sorted_extents();
        let free = derive(&sorted);
        let header = EmHeader {
            version,
            n_extents: u32::try_from(sorted.len()).expect("more than u32::MAX extents"),
            n_free: u32::try_from(free.len()).expect("more than u32::MAX free-list slots"),
        };
        let rec_len = version.record_len();
        let records_end = HEADER_LEN + sorted.len() * rec_len;
        let mut out = vec![0u8; records_end + free.len() * FREE_SLOT_LEN];
        out[..HEADER_LEN].copy_from_slice(&header.encode());
        // Records are independent fixed-size images: fill them in parallel, in place.
        let records = out[HEADER_LEN..records_end].par_chunks_exact_mut(rec_len);
        match version {
            EmVersion::V4 => records
                .zip(sorted.par_iter())
                .for_each(|(dst, r)| dst.copy_from_slice(&r.encode_v4())),
            EmVersion::V5 => records
                .zip(sorted.par_iter())
                .for_each(|(dst, r)| dst.copy_from_slice(&r.encode_v5())),
        }
        for (dst, s) in out[records_end..]
            .chunks_exact_mut(FREE_SLOT_LEN)
            .zip(&free)
        {
            dst.copy_from_slice(&s.encode());
        }
        out
    }

    /// Whether ColumnStore could load this map written as `version`; every command that writes a
    /// map asks this first (one owner for the rule).
    pub fn check_writable(&self, version: EmVersion) -> Result<(), Unwritable> {
        if self.extents.is_empty() {
            return Err(Unwritable::Empty);
        }
        if u32::try_from(self.extents.len()).is_err() {
            return Err(Unwritable::TooMany(self.extents.len()));
        }
        let overlaps = super::overlap::find_overlaps(&self.extents);
        if let Some(first) = overlaps.first() {
            return Err(Unwritable::Overlap {
                count: overlaps.len(),
                first: first.to_string(),
            });
        }
        if version == EmVersion::V4 {
            // V4 keeps only the low 64 bits of lo/hi (EM §1.3): a width-16 extent would load
            // CP_VALID with a garbage range (min > max), eliminated from every query.
            let count = self.extents.iter().filter(|e| e.col_width == 16).count();
            if count > 0 {
                return Err(Unwritable::WideInV4 { count });
            }
        }
        Ok(())
    }

    /// Write the image of [`ExtentMap::encode`] to `path` atomically, after
    /// [`ExtentMap::check_writable`].
    pub fn write(&self, path: &Path, version: EmVersion) -> Result<(), Error> {
        self.check_writable(version)
            .map_err(|e| Error::Usage(format!("{}: refusing to write {e}", path.display())))?;
        write_atomic(path, &self.encode(version))
    }
}

/// Why a map cannot be written as a given version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unwritable {
    /// ColumnStore refuses to load a map whose header says nEM = 0.
    #[error("an extent map with no extents (ColumnStore cannot load nEM = 0)")]
    Empty,
    /// More records than the header's 32-bit count holds.
    #[error("an extent map of {0} extents (the format counts them in 32 bits)")]
    TooMany(usize),
    /// Width-16 extents cannot keep their 128-bit min/max in version 4.
    #[error(
        "{count} extents of width 16 as version 4, which keeps only the low 64 bits of their \
         128-bit min/max (they would load CP_VALID with min > max and vanish from every query); \
         write version 5"
    )]
    WideInV4 { count: usize },
    /// Records whose LBID ranges overlap: ColumnStore would hand the same blocks to two extents.
    #[error(
        "an extent map in which {count} records overlap another record's LBID range (first: {first})"
    )]
    Overlap { count: usize, first: String },
}

/// Records read per piece by [`ExtentMap::read`] (about 8 MB of V5 records).
const READ_RECORDS: usize = 1 << 16;

/// Check the counts of `header` against a file of `len` bytes: nEM ≥ 1, all records present,
/// nothing beyond the declared free list (which may be short). Returns where the records end.
fn check_sizes(header: &EmHeader, len: u64) -> Result<u64, DecodeError> {
    let n = u64::from(header.n_extents);
    if n == 0 {
        return Err(DecodeError::invalid(
            4,
            "extent count (nEM)",
            "at least 1 (ColumnStore refuses to load an empty extent map)",
            0,
        ));
    }
    let rec_len = header.version.record_len() as u64;
    let body = len.saturating_sub(HEADER_LEN as u64);
    if body < n * rec_len {
        let complete = body / rec_len;
        let at = HEADER_LEN as u64 + complete * rec_len;
        return Err(record_truncated(
            header,
            complete,
            body - complete * rec_len,
            at,
        ));
    }
    let records_end = HEADER_LEN as u64 + n * rec_len;
    let declared_fl = u64::from(header.n_free) * FREE_SLOT_LEN as u64;
    let fl_len = len - records_end;
    if fl_len > declared_fl {
        return Err(DecodeError::invalid(
            records_end + declared_fl,
            "file length",
            format!(
                "at most {} bytes (12 + {n} × {rec_len} + {} × 16)",
                records_end + declared_fl,
                header.n_free
            ),
            format!(
                "{len} bytes, {} past the declared free list",
                fl_len - declared_fl
            ),
        ));
    }
    Ok(records_end)
}

/// Record `complete + 1` of the header's count is cut short at file offset `at`.
fn record_truncated(header: &EmHeader, complete: u64, found: u64, at: u64) -> DecodeError {
    let version = header.version;
    DecodeError::truncated(
        at,
        format!(
            "extent record {} of {} (version {}, {} bytes)",
            complete + 1,
            header.n_extents,
            version.number(),
            version.record_len()
        ),
        found,
    )
}

/// Decode the whole records of `bytes` (in parallel) onto the end of `out`.
fn decode_records(version: EmVersion, bytes: &[u8], out: &mut Vec<ExtentRecord>) {
    // `par_chunks_exact` yields whole records only; the zero fallback is never taken.
    match version {
        EmVersion::V4 => out.par_extend(
            bytes
                .par_chunks_exact(RECORD_LEN_V4)
                .map(|c| ExtentRecord::from_v4(c.first_chunk().unwrap_or(&[0; RECORD_LEN_V4]))),
        ),
        EmVersion::V5 => out.par_extend(
            bytes
                .par_chunks_exact(RECORD_LEN_V5)
                .map(|c| ExtentRecord::from_v5(c.first_chunk().unwrap_or(&[0; RECORD_LEN_V5]))),
        ),
    }
}

/// The complete free-list slots of `bytes` (a partial last slot is dropped).
fn decode_free_list(bytes: &[u8]) -> Vec<FreeSlot> {
    bytes
        .chunks_exact(FREE_SLOT_LEN)
        .map(|c| FreeSlot::from_bytes(c.first_chunk().unwrap_or(&[0; FREE_SLOT_LEN])))
        .collect()
}

/// Replace `buf` with up to `n` bytes from `f` (fewer only at end of file).
fn read_upto(f: &mut File, buf: &mut Vec<u8>, n: usize, path: &Path) -> Result<(), Error> {
    buf.clear();
    f.take(n as u64)
        .read_to_end(buf)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeKind;

    fn header(magic: u32, n: u32, nfl: u32) -> Vec<u8> {
        let mut v = magic.to_le_bytes().to_vec();
        v.extend_from_slice(&n.to_le_bytes());
        v.extend_from_slice(&nfl.to_le_bytes());
        v
    }

    #[test]
    fn empty_map_is_refused_at_byte_4() {
        let err = ExtentMap::parse(&header(0x76F7_8B20, 0, 50)).unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(matches!(
            err.kind,
            DecodeKind::Invalid {
                field: "extent count (nEM)",
                ..
            }
        ));
    }

    #[test]
    fn huge_count_does_not_allocate() {
        let err = ExtentMap::parse(&header(0x76F7_8B20, u32::MAX, u32::MAX)).unwrap_err();
        assert_eq!(err.offset, 12);
        assert_eq!(
            err.to_string(),
            "at byte 12: truncated: expected extent record 1 of 4294967295 (version 5, 96 bytes), found 0 bytes"
        );
    }

    #[test]
    fn trailing_bytes_are_refused_where_they_start() {
        let mut b = header(0x76F7_8B1F, 1, 1);
        b.extend_from_slice(&[0u8; 64 + 16 + 3]);
        let err = ExtentMap::parse(&b).unwrap_err();
        assert_eq!(err.offset, 12 + 64 + 16);
        assert!(
            err.to_string().contains("3 past the declared free list"),
            "{err}"
        );
    }

    #[test]
    fn short_free_list_keeps_complete_slots() {
        let mut b = header(0x76F7_8B1F, 1, 50);
        b.extend_from_slice(&[0u8; 64]);
        b.extend_from_slice(
            &FreeSlot {
                start: 8192,
                size: 5,
            }
            .encode(),
        );
        b.extend_from_slice(&[1u8; 7]);
        let m = ExtentMap::parse(&b).unwrap();
        assert_eq!(
            m.free_list,
            vec![FreeSlot {
                start: 8192,
                size: 5
            }]
        );
    }
}
