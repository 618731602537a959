//! Hand-built system catalogs for the catalog tests: uncompressed column files pre-filled with EMPTY
//! and dictionary files of empty blocks (CAT §3.1), rows written as the DDL path writes them (CAT §4.3,
//! §4.4), dictionary blocks laid out byte by byte as SEG §6.1 describes. Nothing here uses the engine's
//! own encoders, so the reader is checked against an independent writer.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use emengine::types::Oid;

pub const BLOCK: usize = 8192;
pub const TOKEN_NULL: u64 = 0xFFFF_FFFF_FFFF_FFFE;
pub const INT_NULL: u32 = 0x8000_0000;
pub const INT_EMPTY: u32 = 0x8000_0001;
pub const DATE_NULL: u32 = 0xFFFF_FFFE;

/// Generation C's catalog OIDs with (width, kind) — written out here, not taken from the engine.
/// kind: 't' token, 'i' INT, 'd' DATE, 'c' CHAR(1), 'u' UBIGINT, 'D' dictionary.
pub const CATALOG: [(i32, char); 43] = [
    (1001, 't'),
    (2001, 'D'),
    (1002, 't'),
    (2004, 'D'),
    (1003, 'i'),
    (1004, 'd'),
    (1005, 'd'),
    (1006, 'i'),
    (1007, 'i'),
    (1008, 'i'),
    (1009, 'i'),
    (1010, 'i'),
    (1011, 'i'),
    (1012, 'i'),
    (1021, 't'),
    (2061, 'D'),
    (1022, 't'),
    (2064, 'D'),
    (1023, 't'),
    (2067, 'D'),
    (1024, 'i'),
    (1025, 'i'),
    (1026, 'i'),
    (1027, 'i'),
    (1028, 'i'),
    (1029, 'i'),
    (1030, 'i'),
    (1031, 'd'),
    (1032, 't'),
    (2070, 'D'),
    (1033, 'i'),
    (1034, 'i'),
    (1035, 'i'),
    (1036, 'c'),
    (1037, 'i'),
    (1038, 'i'),
    (1039, 't'),
    (2073, 'D'),
    (1040, 't'),
    (2076, 'D'),
    (1041, 'i'),
    (1042, 'u'),
    (1043, 'i'),
];

/// CAT §3.3 table: generation C start LBIDs, every OID, and the first free LBID.
pub const GEN_C_LBIDS: [(i32, i64); 43] = [
    (1001, 0),
    (2001, 8192),
    (1002, 16384),
    (2004, 24576),
    (1003, 32768),
    (1004, 36864),
    (1005, 40960),
    (1006, 45056),
    (1007, 49152),
    (1008, 53248),
    (1009, 57344),
    (1010, 61440),
    (1011, 65536),
    (1012, 69632),
    (1021, 73728),
    (2061, 81920),
    (1022, 90112),
    (2064, 98304),
    (1023, 106496),
    (2067, 114688),
    (1024, 122880),
    (1025, 126976),
    (1026, 131072),
    (1027, 135168),
    (1028, 139264),
    (1029, 143360),
    (1030, 147456),
    (1031, 151552),
    (1032, 155648),
    (2070, 163840),
    (1033, 172032),
    (1034, 176128),
    (1035, 180224),
    (1036, 184320),
    (1037, 185344),
    (1038, 189440),
    (1039, 193536),
    (2073, 201728),
    (1040, 209920),
    (2076, 218112),
    (1041, 226304),
    (1042, 230400),
    (1043, 238592),
];
pub const GEN_C_FIRST_FREE: i64 = 242688;

pub fn kind(oid: i32) -> char {
    CATALOG
        .iter()
        .find(|(o, _)| *o == oid)
        .map(|(_, k)| *k)
        .expect("catalog oid")
}

pub fn width(oid: i32) -> usize {
    match kind(oid) {
        't' | 'u' => 8,
        'i' | 'd' => 4,
        'c' => 1,
        _ => 0,
    }
}

fn empty_value(oid: i32) -> Vec<u8> {
    match kind(oid) {
        't' | 'u' => vec![0xFF; 8],
        'i' => INT_EMPTY.to_le_bytes().to_vec(),
        'd' => vec![0xFF; 4],
        'c' => vec![0xFF],
        _ => unreachable!(),
    }
}

/// An 8192-byte dictionary block holding `strings` (SEG §6.1).
pub fn dict_block(strings: &[&[u8]]) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK];
    let used: usize = strings.iter().map(|s| s.len() + 2).sum();
    let free = (BLOCK - 14 - used) as u16;
    b[0..2].copy_from_slice(&free.to_le_bytes());
    b[10..12].copy_from_slice(&(BLOCK as u16).to_le_bytes());
    let mut end = BLOCK;
    for (i, s) in strings.iter().enumerate() {
        let start = end - s.len();
        b[start..end].copy_from_slice(s);
        b[12 + 2 * i..14 + 2 * i].copy_from_slice(&(start as u16).to_le_bytes());
        end = start;
    }
    let n = strings.len();
    b[12 + 2 * n..14 + 2 * n].copy_from_slice(&0xFFFFu16.to_le_bytes());
    b
}

pub fn token(op: u16, lbid: i64, bc: u32) -> u64 {
    u64::from(op) | ((lbid as u64) << 10) | (u64::from(bc) << 46)
}

/// A dictionary file being filled: strings per block, with a dedup cache.
#[derive(Debug, Clone)]
pub struct Dict {
    pub start: i64,
    pub blocks: Vec<Vec<Vec<u8>>>,
    pub file_blocks: usize,
    cache: BTreeMap<Vec<u8>, u64>,
}

impl Dict {
    fn new(start: i64) -> Self {
        Self {
            start,
            blocks: vec![Vec::new()],
            file_blocks: 256,
            cache: BTreeMap::new(),
        }
    }

    /// The token of `s`, appending it if new (CAT §3.4 placement rule).
    pub fn push(&mut self, s: &[u8]) -> u64 {
        if let Some(t) = self.cache.get(s) {
            return *t;
        }
        let cur = self.blocks.len() - 1;
        let used: usize = self.blocks[cur].iter().map(|s| s.len() + 2).sum();
        let free = BLOCK - 14 - used;
        if !(free >= s.len() + 2 && self.blocks[cur].len() < 1023) {
            self.blocks.push(Vec::new());
        }
        let fbo = self.blocks.len() - 1;
        self.blocks[fbo].push(s.to_vec());
        let t = token(self.blocks[fbo].len() as u16, self.start + fbo as i64, 0);
        self.cache.insert(s.to_vec(), t);
        t
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.file_blocks * BLOCK);
        for fbo in 0..self.file_blocks {
            let strings: Vec<&[u8]> = self
                .blocks
                .get(fbo)
                .map(|b| b.iter().map(|s| s.as_slice()).collect())
                .unwrap_or_default();
            out.extend(dict_block(&strings));
        }
        out
    }
}

/// One column of a CREATE TABLE.
#[derive(Debug, Clone)]
pub struct Col {
    pub name: &'static str,
    pub oid: i32,
    pub dict: Option<i32>,
    pub datatype: i32,
    pub length: i32,
    pub scale: i32,
    pub prec: i32,
    pub nullable: bool,
    pub compression: i32,
    pub charset: i32,
    pub default: Option<&'static str>,
    pub autoinc: bool,
    pub next: u64,
}

impl Col {
    pub fn new(name: &'static str, oid: i32, datatype: i32, length: i32) -> Self {
        Col {
            name,
            oid,
            dict: None,
            datatype,
            length,
            scale: 0,
            prec: 10,
            nullable: true,
            compression: 2,
            charset: 0,
            default: None,
            autoinc: false,
            next: 1,
        }
    }
    pub fn dict(mut self, d: i32) -> Self {
        self.dict = Some(d);
        self
    }
}

/// A whole catalog in memory.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub oids: BTreeSet<i32>,
    pub cols: BTreeMap<i32, Vec<u8>>,
    pub dicts: BTreeMap<i32, Dict>,
    pub next_systable: u64,
    pub next_syscolumn: u64,
}

/// Generation letter → catalog OIDs.
pub fn generation_oids(gen: char) -> BTreeSet<i32> {
    CATALOG
        .iter()
        .map(|(o, _)| *o)
        .filter(|&o| match gen {
            'A' => o != 1012 && o != 1043,
            'B' => o != 1043,
            _ => true,
        })
        .collect()
}

/// Fresh-install start LBIDs of the dictionaries (CAT §3.3 table).
pub fn fresh_dict_start(gen: char, dict: i32) -> i64 {
    let c = GEN_C_LBIDS.iter().find(|(o, _)| *o == dict).unwrap().1;
    if gen == 'A' && dict >= 2061 {
        c - 4096
    } else {
        c
    }
}

impl Catalog {
    /// A fresh catalog of generation `gen` ('A', 'B', 'C').
    /// A fresh catalog of generation `gen` holding the worked example's `test.t1` (CAT §6):
    /// table OID 3000, AUX 3005, the columns of [`worked_example_columns`].
    pub fn worked_example(gen: char) -> Self {
        let mut b = Self::fresh(gen);
        b.create_table("test", "t1", 3000, Some(3005), &worked_example_columns());
        b
    }

    pub fn fresh(gen: char) -> Self {
        let oids = generation_oids(gen);
        let mut cols = BTreeMap::new();
        let mut dicts = BTreeMap::new();
        for &o in &oids {
            if kind(o) == 'D' {
                dicts.insert(o, Dict::new(fresh_dict_start(gen, o)));
            } else {
                let w = width(o);
                let rows = 32 * w * BLOCK / w;
                cols.insert(o, empty_value(o).repeat(rows));
            }
        }
        Catalog {
            oids,
            cols,
            dicts,
            next_systable: 0,
            next_syscolumn: 0,
        }
    }

    pub fn set(&mut self, oid: i32, rid: u64, bytes: &[u8]) {
        let Some(file) = self.cols.get_mut(&oid) else {
            return;
        };
        let w = bytes.len();
        let at = rid as usize * w;
        if file.len() < at + w {
            let fill = empty_value(oid);
            while file.len() < at + w {
                file.extend_from_slice(&fill);
            }
        }
        file[at..at + w].copy_from_slice(bytes);
    }

    pub fn set_int(&mut self, oid: i32, rid: u64, v: u32) {
        self.set(oid, rid, &v.to_le_bytes());
    }

    pub fn set_str(&mut self, oid: i32, dict: i32, rid: u64, s: Option<&str>) {
        let t = match s {
            Some(s) => self
                .dicts
                .get_mut(&dict)
                .expect("dictionary")
                .push(s.as_bytes()),
            None => TOKEN_NULL,
        };
        self.set(oid, rid, &t.to_le_bytes());
    }

    /// Write the SYSTABLE row and SYSCOLUMN rows of a CREATE TABLE; returns (systable rid, syscolumn rids).
    pub fn create_table(
        &mut self,
        schema: &str,
        table: &str,
        table_oid: i32,
        aux: Option<i32>,
        cols: &[Col],
    ) -> (u64, Vec<u64>) {
        let rid = self.next_systable;
        self.next_systable += 1;
        self.set_str(1001, 2001, rid, Some(table));
        self.set_str(1002, 2004, rid, Some(schema));
        self.set_int(1003, rid, table_oid as u32);
        self.set_int(1004, rid, 0x07E8_92FE);
        self.set_int(1005, rid, DATE_NULL);
        for o in 1006..=1010 {
            self.set_int(o, rid, INT_NULL);
        }
        self.set_int(1011, rid, u32::from(cols.iter().any(|c| c.autoinc)));
        self.set_int(1012, rid, aux.unwrap_or(0) as u32);
        let mut rids = Vec::new();
        for (pos, c) in cols.iter().enumerate() {
            let r = self.next_syscolumn;
            self.next_syscolumn += 1;
            self.column_row(r, schema, table, pos as i32, c);
            rids.push(r);
        }
        (rid, rids)
    }

    pub fn column_row(&mut self, r: u64, schema: &str, table: &str, pos: i32, c: &Col) {
        self.set_str(1021, 2061, r, Some(schema));
        self.set_str(1022, 2064, r, Some(table));
        self.set_str(1023, 2067, r, Some(c.name));
        self.set_int(1024, r, c.oid as u32);
        self.set_int(1025, r, c.dict.map_or(INT_NULL, |d| d as u32));
        self.set_int(1026, r, INT_NULL);
        self.set_int(1027, r, INT_NULL);
        self.set_int(1028, r, c.datatype as u32);
        self.set_int(1029, r, c.length as u32);
        self.set_int(1030, r, pos as u32);
        self.set_int(1031, r, DATE_NULL);
        self.set_str(1032, 2070, r, c.default);
        self.set_int(1033, r, u32::from(c.nullable));
        self.set_int(1034, r, c.scale as u32);
        self.set_int(1035, r, c.prec as u32);
        self.set(1036, r, &[if c.autoinc { b'y' } else { b'n' }]);
        self.set_int(1037, r, INT_NULL);
        self.set_int(1038, r, INT_NULL);
        self.set_str(1039, 2073, r, c.default);
        self.set_str(1040, 2076, r, c.default);
        self.set_int(1041, r, c.compression as u32);
        self.set(1042, r, &c.next.to_le_bytes());
        self.set_int(1043, r, c.charset as u32);
    }

    /// DROP TABLE: EMPTY in every column of the rows (CAT §3.8).
    pub fn drop_rows(&mut self, systable_rid: u64, syscolumn_rids: &[u64]) {
        for &o in self.oids.clone().iter().filter(|&&o| kind(o) != 'D') {
            let rids: Vec<u64> = if o < 1020 {
                vec![systable_rid]
            } else {
                syscolumn_rids.to_vec()
            };
            for r in rids {
                self.set(o, r, &empty_value(o));
            }
        }
    }

    /// `dbbuilder`'s in-place upgrade (CAT §7.2): create 1012 or 1043 with 0 in every row that is live
    /// in the reference column (1003 for 1012, 1024 for 1043).
    pub fn upgrade(&mut self, oid: i32) {
        let reference = if oid == 1012 { 1003 } else { 1024 };
        self.oids.insert(oid);
        self.cols
            .insert(oid, INT_EMPTY.to_le_bytes().repeat(32 * 4 * BLOCK / 4));
        let live: Vec<u64> = self.cols[&reference]
            .chunks(4)
            .enumerate()
            .filter(|(_, v)| *v != INT_EMPTY.to_le_bytes())
            .map(|(r, _)| r as u64)
            .collect();
        for r in live {
            self.set_int(oid, r, 0);
        }
    }

    /// The start LBIDs of the dictionaries.
    pub fn dict_starts(&self) -> BTreeMap<Oid, emengine::types::Lbid> {
        self.dicts
            .iter()
            .map(|(o, d)| (Oid(*o), emengine::types::Lbid(d.start)))
            .collect()
    }

    /// Every file's bytes.
    pub fn files(&self) -> BTreeMap<i32, Vec<u8>> {
        let mut out: BTreeMap<i32, Vec<u8>> = self.cols.clone();
        for (o, d) in &self.dicts {
            out.insert(*o, d.bytes());
        }
        out
    }

    /// Write every file under `dbroot` at its segment path; returns OID → path.
    pub fn write(&self, dbroot: &Path) -> BTreeMap<Oid, PathBuf> {
        write_files(dbroot, &self.files())
    }
}

/// The relative path of (oid, partition 0, segment 0), spelled out as SEG §1.1 does.
pub fn rel_path(oid: i32) -> PathBuf {
    let o = oid as u32;
    PathBuf::from(format!(
        "{:03}.dir/{:03}.dir/{:03}.dir/{:03}.dir/000.dir/FILE000.cdf",
        o >> 24,
        (o >> 16) & 0xFF,
        (o >> 8) & 0xFF,
        o & 0xFF
    ))
}

pub fn write_files(dbroot: &Path, files: &BTreeMap<i32, Vec<u8>>) -> BTreeMap<Oid, PathBuf> {
    let mut out = BTreeMap::new();
    for (o, bytes) in files {
        let path = dbroot.join(rel_path(*o));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        out.insert(Oid(*o), path);
    }
    out
}

/// The worked example of CAT §6: test.t1 (id INT, name VARCHAR(40), price DECIMAL(38,2)), latin1.
pub fn worked_example_columns() -> Vec<Col> {
    let mut id = Col::new("id", 3001, 6, 4);
    id.prec = 10;
    let mut name = Col::new("name", 3002, 12, 40).dict(3004);
    name.charset = 8;
    let mut price = Col::new("price", 3003, 4, 16);
    price.scale = 2;
    price.prec = 38;
    vec![id, name, price]
}
