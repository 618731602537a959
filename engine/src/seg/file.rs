//! Opening one segment file and reading its chunks, compressed or not (SEG §3.10, §4).
//!
//! | kind | detected by | layout |
//! |---|---|---|
//! | compressed | magic `0xFDC119A384D0778E` at byte 0 | control header, pointer section, chunks |
//! | uncompressed | anything else | pure 8192-byte blocks; the size must be a multiple of 8192 |
//!
//! The file is opened read-only and either memory-mapped ([`Access::Mmap`]) or read into
//! memory ([`Access::Read`]). The header and pointer section are checked at open; chunks are
//! checked (magic, length, checksum, codec) when read with [`SegmentFile::chunk_data`], which
//! many threads may call at once, each with its own scratch buffer.
//!
//! ```
//! use emengine::seg::file::{Access, Layout, SegmentFile};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("FILE000.cdf");
//! std::fs::write(&path, vec![0x81u8; 8192 * 3]).unwrap();
//! let f = SegmentFile::open(&path, Access::Read).unwrap();
//! assert_eq!(f.layout(), &Layout::Uncompressed { blocks: 3 });
//! let mut scratch = Vec::new();
//! assert_eq!(f.chunk_data(0, &mut scratch).unwrap().len(), 8192 * 3);
//! ```

use crate::error::{DecodeError, Error};
use crate::seg::chunk::decompress_chunk;
use crate::seg::header::{ControlHeader, CONTROL_LEN};
use crate::seg::pointers::parse_pointers;
use crate::types::{BLOCKS_PER_CHUNK, BLOCK_SIZE, CHUNK_BYTES};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the file's bytes are brought into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Memory-map the file; falls back to [`Access::Read`] when mapping fails.
    #[default]
    Mmap,
    /// Read the whole file into memory.
    Read,
}

/// Where chunk i lies in the file: `[offset, offset + len)` (header, payload and padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSlot {
    pub offset: u64,
    pub len: u64,
}

/// The file's structure, as checked at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A compressed file: its control header and the slots of the chunks that exist.
    Compressed {
        header: ControlHeader,
        chunks: Vec<ChunkSlot>,
    },
    /// An uncompressed file of `blocks` blocks.
    Uncompressed { blocks: u64 },
}

/// A whole file in memory: memory-mapped or read, as the caller's [`Access`] says. Cloning shares
/// the same map or buffer (a stage that loaded a file hands it on instead of reading it again).
#[derive(Clone)]
pub struct FileBytes(Bytes);

#[derive(Clone)]
enum Bytes {
    Map(Arc<memmap2::Mmap>),
    Owned(Arc<Vec<u8>>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(v: Vec<u8>) -> Self {
        FileBytes(Bytes::Owned(Arc::new(v)))
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBytes")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

impl FileBytes {
    /// Open `path` read-only and bring all of it into memory with `access`. Anything but a
    /// regular file (a FIFO, a device, a socket) is refused before it is opened, and the open
    /// itself cannot block (see [`crate::fsutil::open_read_only`]).
    pub fn load(path: &Path, access: Access) -> Result<FileBytes, Error> {
        Self::load_bounded(path, access, None)
    }

    /// [`FileBytes::load`], refusing a file longer than `max_len` bytes before anything is
    /// mapped or read: the caller knows from the catalog what the file may hold at most, so a
    /// huge (sparse) file named like a segment file costs neither memory nor a scan.
    pub fn load_bounded(
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<FileBytes, Error> {
        let (mut file, meta) = crate::fsutil::open_read_only(path)?;
        let len = meta.len();
        if let Some(max) = max_len.filter(|&max| len > max) {
            return Err(DecodeError::invalid(
                0,
                "file size",
                format!("at most {max} bytes for what the catalog says this file holds"),
                format!("{len} bytes"),
            )
            .in_file(path));
        }
        let bytes = match access {
            Access::Mmap if len > 0 => match map(&file) {
                Ok(m) if m.len() as u64 == len => Bytes::Map(Arc::new(m)),
                _ => Bytes::Owned(Arc::new(read_all(&mut file, len, path)?)),
            },
            _ => Bytes::Owned(Arc::new(read_all(&mut file, len, path)?)),
        };
        Ok(FileBytes(bytes))
    }

    /// Whether the bytes are a memory map (as opposed to a buffer).
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Bytes::Map(_))
    }
}

/// One open segment file.
pub struct SegmentFile {
    path: PathBuf,
    bytes: FileBytes,
    layout: Layout,
}

impl fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentFile")
            .field("path", &self.path)
            .field("file_len", &self.file_len())
            .field("mapped", &self.bytes.is_mapped())
            .field("layout", &self.layout)
            .finish()
    }
}

/// Map `file` read-only.
#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and never outlives the `SegmentFile` that owns it. The
    // remaining risk is another process truncating the file while it is mapped: reading the
    // lost pages then raises SIGBUS. ColumnStore must be stopped while its files are scanned
    // (the rebuild's documented precondition), and `Access::Read` avoids the map entirely.
    unsafe { memmap2::MmapOptions::new().map(file) }
}

impl SegmentFile {
    /// Open `path` read-only and check its header and pointer section (compressed) or its size
    /// (uncompressed).
    pub fn open(path: &Path, access: Access) -> Result<SegmentFile, Error> {
        Self::from_bytes(path, FileBytes::load(path, access)?)
    }

    /// [`SegmentFile::open`] with [`FileBytes::load_bounded`]'s size bound.
    pub fn open_bounded(
        path: &Path,
        access: Access,
        max_len: Option<u64>,
    ) -> Result<SegmentFile, Error> {
        Self::from_bytes(path, FileBytes::load_bounded(path, access, max_len)?)
    }

    /// A segment file whose bytes are already in memory (read from `path`); the same checks as
    /// [`SegmentFile::open`].
    pub fn from_bytes(path: &Path, bytes: FileBytes) -> Result<SegmentFile, Error> {
        let layout = Self::check_layout(&bytes).map_err(|e| e.in_file(path))?;
        Ok(SegmentFile {
            path: path.to_path_buf(),
            bytes,
            layout,
        })
    }

    fn check_layout(bytes: &[u8]) -> Result<Layout, DecodeError> {
        let len = bytes.len() as u64;
        if !ControlHeader::is_compressed(bytes) {
            let partial = len % BLOCK_SIZE as u64;
            if partial != 0 {
                return Err(DecodeError::truncated(
                    len - partial,
                    format!("a whole {BLOCK_SIZE}-byte block"),
                    partial,
                ));
            }
            return Ok(Layout::Uncompressed {
                blocks: len / BLOCK_SIZE as u64,
            });
        }
        if bytes.len() < CONTROL_LEN {
            return Err(DecodeError::truncated(
                0,
                "control header (4096 bytes)",
                len,
            ));
        }
        let header = ControlHeader::parse(&bytes[..CONTROL_LEN])?;
        if header.header_size > len {
            return Err(DecodeError::truncated(
                CONTROL_LEN as u64,
                format!(
                    "pointer section ({} bytes, header size {})",
                    header.pointer_section_len(),
                    header.header_size
                ),
                len - CONTROL_LEN as u64,
            ));
        }
        let section = &bytes[CONTROL_LEN..header.header_size as usize];
        let ptrs = parse_pointers(section, CONTROL_LEN as u64, len)?;
        let chunks = ptrs
            .windows(2)
            .map(|w| ChunkSlot {
                offset: w[0],
                len: w[1] - w[0],
            })
            .collect();
        Ok(Layout::Compressed { header, chunks })
    }

    /// The path the file was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether the file is memory-mapped (as opposed to read into memory).
    pub fn is_mapped(&self) -> bool {
        self.bytes.is_mapped()
    }

    /// Header and chunk slots, or the block count.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether the file has a compressed-file header.
    pub fn is_compressed(&self) -> bool {
        matches!(self.layout, Layout::Compressed { .. })
    }

    /// The control header of a compressed file.
    pub fn header(&self) -> Option<&ControlHeader> {
        match &self.layout {
            Layout::Compressed { header, .. } => Some(header),
            Layout::Uncompressed { .. } => None,
        }
    }

    /// Blocks allocated to the file: the header's block count, or file size ÷ 8192.
    pub fn allocated_blocks(&self) -> u64 {
        match &self.layout {
            Layout::Compressed { header, .. } => header.block_count,
            Layout::Uncompressed { blocks } => *blocks,
        }
    }

    /// Chunks that exist: pointer-list entries, or ⌈blocks ÷ 512⌉ for an uncompressed file.
    pub fn chunk_count(&self) -> u32 {
        match &self.layout {
            Layout::Compressed { chunks, .. } => chunks.len() as u32,
            Layout::Uncompressed { blocks } => blocks
                .div_ceil(u64::from(BLOCKS_PER_CHUNK))
                .min(u64::from(u32::MAX)) as u32,
        }
    }

    /// The raw bytes of the file (the map or the buffer).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The uncompressed bytes of chunk `chunk` (blocks `chunk × 512 ..`): a slice of the file
    /// for an uncompressed file, the decompressed data in `scratch` for a compressed one.
    ///
    /// The result may be shorter than 4 MiB (an abbreviated chunk 0, the end of an uncompressed
    /// file) and is empty for a chunk past the pointer list: its blocks are all EMPTY. It is
    /// always a whole number of blocks. `scratch` grows to 4 MiB once and is reused.
    pub fn chunk_data<'s>(
        &'s self,
        chunk: u32,
        scratch: &'s mut Vec<u8>,
    ) -> Result<&'s [u8], Error> {
        match &self.layout {
            Layout::Uncompressed { .. } => {
                let start = (chunk as usize)
                    .saturating_mul(CHUNK_BYTES)
                    .min(self.bytes.len());
                let end = start.saturating_add(CHUNK_BYTES).min(self.bytes.len());
                Ok(&self.bytes[start..end])
            }
            Layout::Compressed { header, chunks } => {
                let Some(slot) = chunks.get(chunk as usize) else {
                    return Ok(&[]);
                };
                // Slots were checked against the file length at open.
                let bytes = &self.bytes[slot.offset as usize..(slot.offset + slot.len) as usize];
                let n = decompress_chunk(bytes, header.compression, scratch)
                    .map_err(|e| e.shifted(slot.offset).in_file(&self.path))?;
                if n % BLOCK_SIZE != 0 {
                    return Err(DecodeError::invalid(
                        slot.offset,
                        "decompressed chunk length",
                        "a multiple of 8192",
                        n,
                    )
                    .in_file(&self.path));
                }
                Ok(&scratch[..n])
            }
        }
    }
}

/// Read the whole file; its length comes from the file system, not from file bytes.
fn read_all(file: &mut File, len: u64, path: &Path) -> Result<Vec<u8>, Error> {
    let cap = usize::try_from(len).map_err(|_| {
        Error::io(
            path,
            "read",
            std::io::Error::other("file too large for memory"),
        )
    })?;
    // A failed allocation (a huge file) is an error on this file, not an abort of the process.
    let mut buf = Vec::new();
    buf.try_reserve_exact(cap).map_err(|_| {
        Error::io(
            path,
            "read",
            std::io::Error::other(format!(
                "file of {len} bytes does not fit in memory (try without --no-mmap)"
            )),
        )
    })?;
    file.take(len)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(buf)
}

/// `bytes` as values of `T` (a whole number of them): borrowed in place when `bytes` is
/// aligned for `T` (a map or a scratch buffer at a block boundary), copied otherwise.
/// Values are in host byte order, which is the on-disk little-endian order on every
/// platform ColumnStore runs on.
pub fn typed_view<T: bytemuck::Pod>(bytes: &[u8]) -> std::borrow::Cow<'_, [T]> {
    let whole = bytes.len() - bytes.len() % std::mem::size_of::<T>().max(1);
    let bytes = &bytes[..whole];
    match bytemuck::try_cast_slice(bytes) {
        Ok(v) => std::borrow::Cow::Borrowed(v),
        Err(_) => {
            let mut v = vec![T::zeroed(); whole / std::mem::size_of::<T>().max(1)];
            bytemuck::cast_slice_mut::<T, u8>(&mut v).copy_from_slice(bytes);
            std::borrow::Cow::Owned(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_file_is_shared_across_threads() {
        fn check<T: Send + Sync>() {}
        check::<SegmentFile>();
    }

    #[test]
    fn typed_view_borrows_when_aligned_and_copies_otherwise() {
        let words: Vec<u64> = (0..64).collect();
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        let view = typed_view::<u64>(bytes);
        assert!(matches!(view, std::borrow::Cow::Borrowed(_)));
        assert_eq!(&view[..], &words[..]);
        let mut shifted = vec![0u8; bytes.len() + 1];
        shifted[1..].copy_from_slice(bytes);
        let view = typed_view::<u64>(&shifted[1..]);
        assert_eq!(&view[..], &words[..]);
        assert_eq!(typed_view::<u32>(&bytes[..7]).len(), 1);
    }
}
