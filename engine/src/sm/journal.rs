//! A StorageManager object journal, `<key>.journal` (EM §4.6): writes to an object not yet
//! merged into it.
//!
//! | bytes | content |
//! |---|---|
//! | `0 .. h` | ASCII header `{ "version" : "001", "max_offset" : "%011u" }` (Replicator.cpp:241-243) |
//! | `h` | one NUL byte; the records start after it (IOCoordinator.cpp:1183-1189) |
//! | then, repeated | `u64` offset LE, `u64` length LE (`JOURNAL_ENTRY_HEADER_SIZE` = 16, Replicator.h:26), `length` data bytes |
//!
//! `max_offset` is the highest object byte any record writes (`offset + length − 1`,
//! Replicator.cpp:231). Records apply in file order, later ones over earlier ones, and may write
//! past the object's end (IOCoordinator.cpp:1386-1418).
//!
//! ```
//! use emengine::sm::journal::{write_journal, Journal};
//! let bytes = write_journal(&[(4, b"abcd".as_slice())]);
//! assert_eq!(&bytes[..51], br#"{ "version" : "001", "max_offset" : "00000000007" }"#);
//! assert_eq!(bytes[51], 0);
//! let j = Journal::parse(&bytes).unwrap();
//! assert_eq!(j.max_offset, 7);
//! assert_eq!(j.records[0].data, b"abcd");
//! ```

use crate::cursor::Cursor;
use crate::error::DecodeError;

/// Bytes before each record's data (`JOURNAL_ENTRY_HEADER_SIZE`, Replicator.h:26).
pub const RECORD_HEADER_LEN: usize = 16;
/// The longest header accepted: the fixed text is 51 bytes with an 11-digit `max_offset`;
/// a 20-digit one makes it 60.
const MAX_HEADER_LEN: usize = 256;

/// One write recorded in a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord<'a> {
    /// Byte offset of the record's 16-byte header in the journal file.
    pub at: u64,
    /// Where the data goes in the object.
    pub offset: u64,
    pub data: &'a [u8],
}

impl JournalRecord<'_> {
    /// One past the last object byte written.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.data.len() as u64)
    }
}

/// A parsed journal: its header's fields and its records, borrowing the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal<'a> {
    pub version: u64,
    pub max_offset: u64,
    pub records: Vec<JournalRecord<'a>>,
}

impl<'a> Journal<'a> {
    /// Parse a journal file. A record that does not fit in the file, or that writes past the
    /// header's `max_offset`, is an error at the record's byte offset.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let search = &bytes[..bytes.len().min(MAX_HEADER_LEN)];
        let nul = search.iter().position(|&b| b == 0).ok_or_else(|| {
            DecodeError::truncated(
                0,
                format!("a journal header ending in a NUL byte within {MAX_HEADER_LEN} bytes"),
                bytes.len() as u64,
            )
        })?;
        let header: serde_json::Value = serde_json::from_slice(&bytes[..nul]).map_err(|e| {
            DecodeError::invalid(
                e.column().saturating_sub(1) as u64,
                "journal header",
                "{ \"version\" : \"001\", \"max_offset\" : \"<digits>\" }",
                String::from_utf8_lossy(&bytes[..nul]),
            )
        })?;
        let version = header_number(&header, "version")?;
        if version != 1 {
            return Err(DecodeError::invalid(0, "journal version", "1", version));
        }
        let max_offset = header_number(&header, "max_offset")?;
        let body_start = nul + 1;
        let mut cur = Cursor::with_base(&bytes[body_start..], body_start as u64);
        let mut records = Vec::new();
        while cur.remaining() > 0 {
            let at = cur.offset();
            let offset = cur.u64("journal record offset")?;
            let length = cur.u64("journal record length")?;
            let len = usize::try_from(length)
                .ok()
                .filter(|&l| l <= cur.remaining())
                .ok_or_else(|| {
                    DecodeError::truncated(
                        at,
                        format!("journal record data ({length} bytes)"),
                        cur.remaining() as u64,
                    )
                })?;
            let data = cur.take(len, "journal record data")?;
            let record = JournalRecord { at, offset, data };
            if len > 0 && record.end() - 1 > max_offset {
                return Err(DecodeError::invalid(
                    at,
                    "journal record",
                    format!("a write ending at or before max_offset {max_offset}"),
                    format!(
                        "{length} bytes at object offset {offset} (last byte {})",
                        record.end() - 1
                    ),
                ));
            }
            records.push(record);
        }
        Ok(Journal {
            version,
            max_offset,
            records,
        })
    }

    /// Data bytes held by all records.
    pub fn data_bytes(&self) -> u64 {
        self.records.iter().map(|r| r.data.len() as u64).sum()
    }
}

/// The object ColumnStore reads: the first `length` bytes of `object` with `journal`'s records
/// applied in order (IOCoordinator.cpp:1200-1256, 1386-1418). Records past `length` are cut off
/// there, as StorageManager cuts them. Every byte of `0..length` must come from the object or a
/// record; otherwise the error names the first byte that has no source.
///
/// The result is never larger than the object and journal data together, whatever `length` says.
pub fn merge(object: &[u8], journal: Option<&Journal<'_>>, length: u64) -> Result<Vec<u8>, String> {
    let available = object.len() as u64 + journal.map_or(0, Journal::data_bytes);
    if length > available {
        return Err(format!(
            "metadata gives the object {length} bytes, but the object ({} bytes) and its journal \
             ({} data bytes) hold only {available}",
            object.len(),
            journal.map_or(0, Journal::data_bytes)
        ));
    }
    let len = length as usize; // ≤ available, which is in memory
    let from_object = object.len().min(len);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&object[..from_object]);
    out.resize(len, 0);
    let mut covered = vec![(0usize, from_object)];
    for r in journal.map_or(&[][..], |j| &j.records[..]) {
        if r.offset >= length {
            continue;
        }
        let start = r.offset as usize;
        let end = (r.end().min(length)) as usize;
        out[start..end].copy_from_slice(&r.data[..end - start]);
        covered.push((start, end));
    }
    covered.sort_unstable();
    let mut reach = 0usize;
    for (start, end) in covered {
        if start > reach {
            return Err(format!(
                "object bytes {reach}..{start} are in neither the object ({} bytes) nor its journal",
                object.len()
            ));
        }
        reach = reach.max(end);
    }
    if reach < len {
        return Err(format!(
            "object bytes {reach}..{len} are in neither the object ({} bytes) nor its journal",
            object.len()
        ));
    }
    Ok(out)
}

/// A journal holding `records` (object offset, data) in order, as Replicator writes one: the
/// header's `max_offset` is the highest byte any record writes.
pub fn write_journal(records: &[(u64, &[u8])]) -> Vec<u8> {
    let max_offset = records
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(o, d)| o + d.len() as u64 - 1)
        .max()
        .unwrap_or(0);
    let mut out =
        format!("{{ \"version\" : \"001\", \"max_offset\" : \"{max_offset:011}\" }}").into_bytes();
    out.push(0);
    for (offset, data) in records {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

fn header_number(header: &serde_json::Value, name: &'static str) -> Result<u64, DecodeError> {
    let v = header.get(name);
    let n = match v {
        Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    n.ok_or_else(|| {
        DecodeError::invalid(
            0,
            if name == "version" {
                "journal version"
            } else {
                "journal max_offset"
            },
            "a string of digits",
            v.map_or("nothing".to_string(), |v| v.to_string()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A journal written byte by byte from the format in EM §4.6, not by `write_journal`.
    fn literal_journal() -> Vec<u8> {
        let mut j = br#"{ "version" : "001", "max_offset" : "00000000011" }"#.to_vec();
        j.push(0);
        j.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        j.extend_from_slice(b"XYZ");
        j.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        j.extend_from_slice(b"!!");
        j
    }

    #[test]
    fn literal_journal_applies_in_order_and_extends_the_object() {
        let bytes = literal_journal();
        assert_eq!(bytes.len(), 52 + 16 + 3 + 16 + 2);
        assert_eq!(bytes, write_journal(&[(2, b"XYZ"), (10, b"!!")]));
        let j = Journal::parse(&bytes).unwrap();
        assert_eq!(j.max_offset, 11);
        assert_eq!(j.records[0].at, 52);
        assert_eq!(j.records[1].at, 52 + 19);
        let merged = merge(b"abcdefghij", Some(&j), 12).unwrap();
        assert_eq!(merged, b"abXYZfghij!!");
        // StorageManager reads only the metadata's length: the tail is cut there.
        assert_eq!(merge(b"abcdefghij", Some(&j), 11).unwrap(), b"abXYZfghij!");
    }

    #[test]
    fn later_records_overwrite_earlier_ones() {
        let bytes = write_journal(&[(0, b"aaaa"), (1, b"bb"), (3, b"c")]);
        let j = Journal::parse(&bytes).unwrap();
        assert_eq!(merge(b"", Some(&j), 4).unwrap(), b"abbc");
    }

    #[test]
    fn corrupt_journals_name_the_record() {
        let mut long = literal_journal();
        long[52 + 8] = 200; // first record claims 200 data bytes
        let e = Journal::parse(&long).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 52: truncated: expected journal record data (200 bytes), found 21 bytes"
        );
        let mut past = literal_journal();
        past[52] = 10; // XYZ at 10..13, past max_offset 11
        let e = Journal::parse(&past).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 52: invalid journal record: expected a write ending at or before max_offset 11, found 3 bytes at object offset 10 (last byte 12)"
        );
    }

    #[test]
    fn max_offset_is_enforced() {
        let mut j = br#"{ "version" : "001", "max_offset" : "00000000003" }"#.to_vec();
        j.push(0);
        j.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        j.extend_from_slice(b"XYZ");
        let e = Journal::parse(&j).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 52: invalid journal record: expected a write ending at or before max_offset 3, found 3 bytes at object offset 2 (last byte 4)"
        );
    }

    #[test]
    fn short_record_header_and_bad_headers() {
        let mut j = literal_journal();
        j.truncate(52 + 5);
        let e = Journal::parse(&j).unwrap_err();
        assert_eq!(e.offset, 52);
        assert!(e.to_string().contains("journal record offset"), "{e}");
        let e = Journal::parse(b"{ \"version\" : \"001\" ").unwrap_err();
        assert!(e.to_string().contains("NUL byte"), "{e}");
        let e = Journal::parse(b"{ \"version\" : \"002\", \"max_offset\" : \"1\" }\0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 0: invalid journal version: expected 1, found 2"
        );
        let e = Journal::parse(b"not json\0").unwrap_err();
        assert!(e.to_string().contains("journal header"), "{e}");
    }

    #[test]
    fn uncovered_bytes_and_lying_lengths_are_refused() {
        let bytes = write_journal(&[(6, b"zzzzzz")]);
        let j = Journal::parse(&bytes).unwrap();
        assert_eq!(
            merge(b"abcd", Some(&j), 10).unwrap_err(),
            "object bytes 4..6 are in neither the object (4 bytes) nor its journal"
        );
        assert_eq!(
            merge(b"abcd", Some(&j), 14).unwrap_err(),
            "metadata gives the object 14 bytes, but the object (4 bytes) and its journal (6 data bytes) hold only 10"
        );
        assert_eq!(
            merge(b"abcd", None, 1 << 40).unwrap_err(),
            "metadata gives the object 1099511627776 bytes, but the object (4 bytes) and its journal (0 data bytes) hold only 4"
        );
    }

    proptest! {
        #[test]
        fn written_journals_read_back_and_merge_like_a_plain_overwrite(
            object in proptest::collection::vec(any::<u8>(), 0..64),
            writes in proptest::collection::vec((0u64..80, proptest::collection::vec(any::<u8>(), 1..16)), 0..8),
        ) {
            let recs: Vec<(u64, &[u8])> = writes.iter().map(|(o, d)| (*o, d.as_slice())).collect();
            let bytes = write_journal(&recs);
            let j = Journal::parse(&bytes).unwrap();
            prop_assert_eq!(j.records.len(), writes.len());
            for (r, (o, d)) in j.records.iter().zip(&writes) {
                prop_assert_eq!(r.offset, *o);
                prop_assert_eq!(r.data, d.as_slice());
            }
            // Reference: a byte map filled in write order.
            let mut model: Vec<Option<u8>> = object.iter().map(|&b| Some(b)).collect();
            for (o, d) in &writes {
                let end = *o as usize + d.len();
                if model.len() < end { model.resize(end, None); }
                for (i, b) in d.iter().enumerate() { model[*o as usize + i] = Some(*b); }
            }
            let len = model.len() as u64;
            match model.iter().position(Option::is_none) {
                None => {
                    let expect: Vec<u8> = model.iter().map(|b| b.unwrap()).collect();
                    prop_assert_eq!(merge(&object, Some(&j), len).unwrap(), expect);
                }
                Some(_) => prop_assert!(merge(&object, Some(&j), len).is_err()),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), len in 0u64..400) {
            if let Ok(j) = Journal::parse(&bytes) {
                let _ = merge(&bytes, Some(&j), len);
            }
        }
    }
}
