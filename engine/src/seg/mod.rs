//! Segment data files: paths, compressed and uncompressed layouts, blocks, dictionaries,
//! tokens and the NULL/EMPTY markers (segment spec §1–§6).
//!
//! | module | what |
//! |---|---|
//! | [`path`] | OID/partition/segment ⇄ `000.dir/…/FILE000.cdf` (SEG §1.1–1.2) |
//! | [`datatype`] | `ColDataType` codes (SEG §3.2.1) |
//! | [`markers`] | NULL/EMPTY values of every type and width, one table (SEG §5.1) |
//! | [`header`] | compressed-file control header v2/v3 (SEG §3.2) |
//! | [`pointers`] | chunk pointer section (SEG §3.4) |
//! | [`chunk`] | chunk header, checksum, snappy/LZ4 codecs (SEG §3.5) |
//! | [`token`] | dictionary tokens in column files (SEG §6.2) |
//! | [`dict`] | dictionary (string store) blocks (SEG §6.1) |
//! | [`writer`] | writing compressed segment files (fixtures, tests) |
//! | [`file`] | opening a segment file: header and pointers only; one chunk interface |
//! | [`direct`] | a work unit's stored bytes read around the page cache (`O_DIRECT`) into one aligned buffer |
//! | [`reader`] | a worker's reusable buffers for reading chunks: positioned reads or per-chunk maps |
//! | [`inspect`] | a serialisable description of one file (`emrebuild inspect`) |

pub mod chunk;
pub mod datatype;
pub mod dict;
pub mod direct;
pub mod file;
pub mod header;
pub mod inspect;
pub mod markers;
pub mod path;
pub mod pointers;
pub mod reader;
pub mod token;
pub mod writer;
