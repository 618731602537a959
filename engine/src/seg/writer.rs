//! Writing compressed segment files the way ColumnStore lays them out (SEG §3): control
//! header and pointer section at 0, chunk 0 at `header_size`, each chunk padded to whole
//! blocks plus `padding_blocks` zero blocks (SEG §3.6).
//!
//! Used by the fixture generator and by tests; the rebuild itself never writes segment files.
//!
//! ```
//! use emengine::seg::header::{CompressionType, ControlHeader};
//! use emengine::seg::writer::CompressedWriter;
//! use std::io::Cursor;
//! let header = ControlHeader { version: 3, compression: CompressionType::Snappy2, header_size: 8192,
//!     block_count: 0, width: 4, data_type: 6, lbids: vec![] };
//! let mut w = CompressedWriter::new(Cursor::new(Vec::new()), header).unwrap();
//! w.push_chunk(&[0xFFu8; 8192 * 4], 1).unwrap(); // compresses to well under 8192 bytes
//! w.set_block_count(128);
//! w.push_lbid(242688);
//! let bytes = w.finish().unwrap().into_inner();
//! assert_eq!(bytes.len(), 8192 + 2 * 8192);
//! assert_eq!(&bytes[..8], &[0x8e, 0x77, 0xd0, 0x84, 0xa3, 0x19, 0xc1, 0xfd]);
//! assert_eq!(bytes[8192], 0xFD);
//! ```

use crate::seg::chunk::{compress_chunk, padded_len};
use crate::seg::header::{ControlHeader, COLUMN_HEADER_SIZE, CONTROL_LEN, MAX_LBIDS};
use crate::seg::pointers::encode_pointers;
use crate::types::BLOCK_SIZE;
use std::io::{self, Seek, SeekFrom, Write};

static ZERO_BLOCK: [u8; BLOCK_SIZE] = [0u8; BLOCK_SIZE];

/// Writes one compressed segment file; the header and pointers are written by [`finish`](Self::finish).
#[derive(Debug)]
pub struct CompressedWriter<W: Write + Seek> {
    out: W,
    header: ControlHeader,
    ptrs: Vec<u64>,
    max_ptrs: usize,
}

impl<W: Write + Seek> CompressedWriter<W> {
    /// Start a file; `header.header_size` (≥ 8192, a multiple of 4096) decides where chunk 0 goes.
    pub fn new(mut out: W, header: ControlHeader) -> io::Result<Self> {
        let hs = header.header_size;
        if hs < COLUMN_HEADER_SIZE || !hs.is_multiple_of(CONTROL_LEN as u64) {
            return Err(invalid(format!(
                "header size {hs} is not a multiple of 4096 of at least 8192"
            )));
        }
        out.seek(SeekFrom::Start(hs))?;
        let max_ptrs = (header.pointer_section_len() / 8) as usize - 1;
        Ok(CompressedWriter {
            out,
            header,
            ptrs: vec![hs],
            max_ptrs,
        })
    }

    /// Compress and append one chunk of uncompressed data (at most 4 MiB), then pad it.
    pub fn push_chunk(&mut self, uncompressed: &[u8], padding_blocks: u32) -> io::Result<()> {
        let chunk = compress_chunk(uncompressed, self.header.compression);
        self.push_raw_chunk(&chunk, padding_blocks)
    }

    /// Append chunk bytes as given (a 9-byte header and payload, possibly damaged on purpose),
    /// then pad them like [`push_chunk`](Self::push_chunk).
    pub fn push_raw_chunk(&mut self, chunk: &[u8], padding_blocks: u32) -> io::Result<()> {
        if self.ptrs.len() >= self.max_ptrs {
            return Err(invalid(format!(
                "the {}-byte pointer section holds at most {} chunks",
                self.header.pointer_section_len(),
                self.max_ptrs - 1
            )));
        }
        let slot = padded_len(chunk.len(), padding_blocks);
        self.out.write_all(chunk)?;
        let mut pad = slot - chunk.len() as u64;
        while pad > 0 {
            let n = pad.min(BLOCK_SIZE as u64) as usize;
            self.out.write_all(&ZERO_BLOCK[..n])?;
            pad -= n as u64;
        }
        let end = self.ptrs[self.ptrs.len() - 1] + slot;
        self.ptrs.push(end);
        Ok(())
    }

    /// Set the header's block count (blocks allocated to the file).
    pub fn set_block_count(&mut self, n: u64) {
        self.header.block_count = n;
    }

    /// Append an extent's starting LBID to the header's list; beyond 48 entries it is dropped,
    /// as ColumnStore drops it.
    pub fn push_lbid(&mut self, lbid: i64) {
        if self.header.lbids.len() < MAX_LBIDS {
            self.header.lbids.push(lbid);
        }
    }

    /// Chunks written so far.
    pub fn chunk_count(&self) -> usize {
        self.ptrs.len() - 1
    }

    /// Write the control header and pointer section; returns the output, positioned at its end.
    pub fn finish(mut self) -> io::Result<W> {
        let section_len = self.header.pointer_section_len() as usize;
        let section = if self.ptrs.len() > 1 {
            encode_pointers(&self.ptrs, section_len)?
        } else {
            vec![0u8; section_len]
        };
        let end = self.out.stream_position()?;
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&self.header.encode())?;
        self.out.write_all(&section)?;
        self.out
            .seek(SeekFrom::Start(end.max(self.header.header_size)))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
