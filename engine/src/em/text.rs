//! Text renderings of an extent map (EM §5): `mcsRebuildEM -s`, `editem -d`, CSV and JSON.
//!
//! * [`write_mcs`]: the header line of `mcsRebuildEM -s`, then `ExtentMap::dumpTo` lines in
//!   ascending `range.start`: `start|size|oid|fbo|HWM|part|seg|dbroot|width|status|hiVal|loVal|seq|isValid|`
//!   (hi before lo, both the signed 64-bit views, trailing `|`).
//! * [`write_editem`]: `editem -d` blocks, OIDs ascending, extents of one OID in file order,
//!   default value formatting (`notset` for sentinels), an empty line after each OID.
//! * [`write_csv`] / [`write_json`]: one row / object per extent in file order with the keys
//!   `lbid, size, oid, block_offset, hwm, partition, segment, dbroot, width, status, seq, cp, lo, hi`
//!   (`cp` is `invalid`/`updating`/`valid` or the raw number; `lo`/`hi` are decimal strings of
//!   the 128-bit value for width 16, else of the signed 64-bit view). JSON also has
//!   `format_version` and `free_list` (the non-empty slots as read, `lbid` and `size`).
//!
//! ```
//! use emengine::em::{text, CasualPartition, CpState, ExtentMap, ExtentRecord};
//! let rec = ExtentRecord::builder(2001, 8192)
//!     .width(0)
//!     .cp(CasualPartition::narrow(CpState::INVALID, i64::MAX, i64::MIN))
//!     .build();
//! let mut out = Vec::new();
//! text::write_mcs(&ExtentMap::from_extents(vec![rec]), &mut out).unwrap();
//! assert_eq!(
//!     String::from_utf8(out).unwrap().lines().nth(1).unwrap(),
//!     "8192|8|2001|0|0|0|0|1|0|0|-9223372036854775808|9223372036854775807|0|0|"
//! );
//! ```

use super::cp::CpState;
use super::file::ExtentMap;
use super::record::ExtentRecord;
use std::io::{self, Write};

/// The header line `mcsRebuildEM -s` prints before the dump.
pub const MCS_HEADER: &str =
    "range.start|range.size|fileId|blockOffset|HWM|partition|segment|dbroot|width|status|hiVal|loVal|seqNum|isValid|";

/// The CSV header row (also the JSON keys of one extent, in order).
pub const CSV_HEADER: &str =
    "lbid,size,oid,block_offset,hwm,partition,segment,dbroot,width,status,seq,cp,lo,hi";

/// Lines are formatted into a local buffer and handed to `out` in large pieces: millions of
/// small writes through `dyn Write` would dominate the cost.
struct Chunked<'a> {
    buf: Vec<u8>,
    out: &'a mut dyn Write,
}

impl<'a> Chunked<'a> {
    const FLUSH_AT: usize = 1 << 16;

    fn new(out: &'a mut dyn Write) -> Self {
        Self {
            buf: Vec::with_capacity(Self::FLUSH_AT + 512),
            out,
        }
    }

    fn line_done(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

/// `mcsRebuildEM -s`: header line, then one `dumpTo` line per extent in ascending LBID order.
pub fn write_mcs(map: &ExtentMap, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Chunked::new(out);
    writeln!(w.buf, "{MCS_HEADER}")?;
    for e in map.sorted_extents().iter() {
        writeln!(
            w.buf,
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|",
            e.range_start,
            e.range_size,
            e.oid,
            e.block_offset,
            e.hwm,
            e.partition,
            e.segment,
            e.dbroot,
            e.col_width,
            e.status,
            e.cp.hi_i64(),
            e.cp.lo_i64(),
            e.cp.seq_num,
            e.cp.state,
        )?;
        w.line_done()?;
    }
    w.finish()
}

/// editem's default formatting of a min/max value: `notset` for INT64_MAX and values
/// ≤ INT64_MIN + 1 (for width 16: INT128_MAX and ≤ INT128_MIN + 1), else signed decimal.
fn editem_value(w: &mut Vec<u8>, value: i128, col_width: u16) -> io::Result<()> {
    let notset = if col_width == 16 {
        value == i128::MAX || value <= i128::MIN + 1
    } else {
        let v = value as i64;
        v == i64::MAX || v <= i64::MIN + 1
    };
    if notset {
        w.extend_from_slice(b"notset");
        Ok(())
    } else {
        write!(w, "{value}")
    }
}

/// `editem -d`: for each OID (ascending) a header from its first extent, one line per extent
/// (file order), and an empty line.
pub fn write_editem(map: &ExtentMap, out: &mut dyn Write) -> io::Result<()> {
    let mut order: Vec<(i32, u32)> = map
        .extents
        .iter()
        .enumerate()
        .map(|(i, e)| (e.oid.0, i as u32))
        .collect();
    order.sort_unstable();
    let mut w = Chunked::new(out);
    let mut k = 0;
    while k < order.len() {
        let oid = order[k].0;
        let n = order[k..].iter().take_while(|(o, _)| *o == oid).count();
        let group = &order[k..k + n];
        k += n;
        let first = &map.extents[group[0].1 as usize];
        if first.col_width > 0 {
            writeln!(
                w.buf,
                "Col OID = {oid}, NumExtents = {n}, width = {}",
                first.col_width
            )?;
        } else {
            writeln!(w.buf, "Dct OID = {oid}")?;
        }
        for &(_, i) in group {
            editem_line(&mut w.buf, &map.extents[i as usize])?;
            w.line_done()?;
        }
        writeln!(w.buf)?;
    }
    w.finish()
}

fn editem_line(w: &mut Vec<u8>, e: &ExtentRecord) -> io::Result<()> {
    // editem computes the block count in 32 bits.
    let blocks = e.range_size.wrapping_mul(1024);
    let last = e
        .range_start
        .0
        .wrapping_add(i64::from(blocks))
        .wrapping_sub(1);
    write!(w, "{} - {last} ({blocks}) min: ", e.range_start)?;
    editem_value(w, e.cp.lo_value(e.col_width), e.col_width)?;
    w.extend_from_slice(b", max: ");
    editem_value(w, e.cp.hi_value(e.col_width), e.col_width)?;
    let state = e.cp.cp_state().name().unwrap_or("unknown");
    let status = match e.status {
        0 => "avail",
        1 => "unavail",
        2 => "outOfSrv",
        _ => "unknown",
    };
    writeln!(
        w,
        ", seqNum: {}, state: {state}, fbo: {}, DBRoot: {}, part#: {}, seg#: {}, HWM: {}; status: {status}",
        e.cp.seq_num, e.block_offset, e.dbroot, e.partition, e.segment, e.hwm
    )
}

/// The `cp` column: the state's name, or the raw number for an unknown state.
fn cp_text(state: i8) -> String {
    match CpState::from_raw(state).name() {
        Some(n) => n.to_string(),
        None => state.to_string(),
    }
}

/// CSV: [`CSV_HEADER`], then one row per extent in file order.
pub fn write_csv(map: &ExtentMap, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Chunked::new(out);
    writeln!(w.buf, "{CSV_HEADER}")?;
    for e in &map.extents {
        writeln!(
            w.buf,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            e.range_start,
            e.range_size,
            e.oid,
            e.block_offset,
            e.hwm,
            e.partition,
            e.segment,
            e.dbroot,
            e.col_width,
            e.status,
            e.cp.seq_num,
            cp_text(e.cp.state),
            e.cp.lo_value(e.col_width),
            e.cp.hi_value(e.col_width),
        )?;
        w.line_done()?;
    }
    w.finish()
}

/// One extent of the JSON rendering.
#[derive(serde::Serialize)]
struct JsonExtent {
    lbid: i64,
    size: u32,
    oid: i32,
    block_offset: u32,
    hwm: u32,
    partition: u32,
    segment: u16,
    dbroot: u16,
    width: u16,
    status: i16,
    seq: i32,
    cp: JsonCp,
    lo: String,
    hi: String,
}

/// The CP state's name, or the raw number when it is not a known state.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum JsonCp {
    Name(&'static str),
    Raw(i8),
}

/// One non-empty free-list slot of the JSON rendering.
#[derive(serde::Serialize)]
struct JsonFree {
    lbid: i64,
    size: u32,
}

/// JSON: `{"format_version", "extents": [...], "free_list": [...]}`, one extent per line.
///
/// The document is streamed — a map can hold millions of extents — with each object written by
/// serde_json.
pub fn write_json(map: &ExtentMap, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Chunked::new(out);
    writeln!(w.buf, "{{\"format_version\": {},", map.version.number())?;
    w.buf.extend_from_slice(b"\"extents\": [");
    for (i, e) in map.extents.iter().enumerate() {
        w.buf.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        let cp = match CpState::from_raw(e.cp.state).name() {
            Some(n) => JsonCp::Name(n),
            None => JsonCp::Raw(e.cp.state),
        };
        let obj = JsonExtent {
            lbid: e.range_start.0,
            size: e.range_size,
            oid: e.oid.0,
            block_offset: e.block_offset,
            hwm: e.hwm,
            partition: e.partition,
            segment: e.segment,
            dbroot: e.dbroot.0,
            width: e.col_width,
            status: e.status,
            seq: e.cp.seq_num,
            cp,
            lo: e.cp.lo_value(e.col_width).to_string(),
            hi: e.cp.hi_value(e.col_width).to_string(),
        };
        serde_json::to_writer(&mut w.buf, &obj)?;
        w.line_done()?;
    }
    w.buf.extend_from_slice(b"\n],\n\"free_list\": [");
    for (i, s) in map.free_list.iter().filter(|s| !s.is_empty()).enumerate() {
        w.buf.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(
            &mut w.buf,
            &JsonFree {
                lbid: s.start,
                size: s.size,
            },
        )?;
        w.line_done()?;
    }
    w.buf.extend_from_slice(b"\n]}\n");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::em::cp::{CasualPartition, SentinelKind};

    fn rec(start: i64, oid: i32, width: u16, cp: CasualPartition) -> ExtentRecord {
        ExtentRecord::builder(oid, start)
            .width(width)
            .cp(cp)
            .build()
    }

    fn render(f: fn(&ExtentMap, &mut dyn Write) -> io::Result<()>, m: &ExtentMap) -> String {
        let mut out = Vec::new();
        f(m, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn editem_matches_the_spec_example() {
        let mut a = CasualPartition::narrow(CpState::VALID, 1, 2_000_000);
        a.seq_num = 3;
        let mut b = CasualPartition::sentinel(SentinelKind::SignedNarrow, CpState::INVALID);
        b.seq_num = 2;
        let mut second = rec(1_212_416, 3105, 4, b);
        second.block_offset = 4096;
        second.hwm = 5000;
        let m = ExtentMap::from_extents(vec![rec(1_048_576, 3105, 4, a), second]);
        assert_eq!(
            render(write_editem, &m),
            "Col OID = 3105, NumExtents = 2, width = 4\n\
             1048576 - 1052671 (4096) min: 1, max: 2000000, seqNum: 3, state: valid, fbo: 0, DBRoot: 1, part#: 0, seg#: 0, HWM: 0; status: avail\n\
             1212416 - 1216511 (4096) min: notset, max: notset, seqNum: 2, state: invalid, fbo: 4096, DBRoot: 1, part#: 0, seg#: 0, HWM: 5000; status: avail\n\
             \n"
        );
    }

    #[test]
    fn editem_wide_and_v5_dictionary_values() {
        let wide = CasualPartition::wide(CpState::VALID, -(1i128 << 100), 1i128 << 100);
        let dict = CasualPartition::sentinel(SentinelKind::Dictionary, CpState::INVALID);
        let wide_sentinel = CasualPartition::sentinel(SentinelKind::SignedWide, CpState::INVALID);
        let m = ExtentMap::from_extents(vec![
            rec(0, 3000, 16, wide),
            rec(16384, 3000, 16, wide_sentinel),
            rec(32768, 3001, 0, dict),
        ]);
        let s = render(write_editem, &m);
        let lines: Vec<_> = s.lines().collect();
        assert!(
            lines[1].contains(
                "min: -1267650600228229401496703205376, max: 1267650600228229401496703205376,"
            ),
            "{s}"
        );
        assert!(lines[2].contains("min: notset, max: notset,"), "{s}");
        assert_eq!(lines[4], "Dct OID = 3001");
        assert!(
            lines[5].starts_with("32768 - 40959 (8192) min: -1, max: 0, seqNum: 0, state: invalid"),
            "{s}"
        );
    }

    #[test]
    fn csv_and_json_use_the_meaningful_view() {
        let mut odd = CasualPartition::narrow(7, -3, 9);
        odd.lo |= 0x55 << 100; // upper-half garbage is not part of a narrow value
        let m = ExtentMap::from_extents(vec![
            rec(0, 3000, 8, odd),
            rec(
                8192,
                3001,
                16,
                CasualPartition::wide(CpState::UPDATING, i128::MIN + 2, 5),
            ),
        ]);
        let csv = render(write_csv, &m);
        let rows: Vec<_> = csv.lines().collect();
        assert_eq!(rows[0], CSV_HEADER);
        assert_eq!(rows[1], "0,8,3000,0,0,0,0,1,8,0,0,7,-3,9");
        assert_eq!(
            rows[2],
            format!("8192,16,3001,0,0,0,0,1,16,0,0,updating,{},5", i128::MIN + 2)
        );
        let json: serde_json::Value = serde_json::from_str(&render(write_json, &m)).unwrap();
        assert_eq!(json["format_version"], 5);
        assert_eq!(json["extents"][0]["cp"], 7);
        assert_eq!(json["extents"][1]["cp"], "updating");
        assert_eq!(json["extents"][1]["lo"], (i128::MIN + 2).to_string());
        assert_eq!(json["free_list"][0]["lbid"], 24576);
        assert_eq!(json["free_list"].as_array().unwrap().len(), 1);
    }
}
