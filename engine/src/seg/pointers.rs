//! The chunk pointer section of a compressed segment file (SEG §3.4): bytes
//! `[4096, header_size)`, one array of little-endian u64 file offsets, whatever its size.
//!
//! | off (in section) | size | field |
//! |---|---|---|
//! | 0 | u64 | ptr\[0\]: start of chunk 0 (= header size) |
//! | 8·i | u64 | ptr\[i\]: start of chunk i = end of chunk i−1 |
//! | 8·n | u64 | ptr\[n\]: end of the last chunk |
//! | 8·(n+1) | u64 | 0: end of the list (absent when the section is full) |
//!
//! Chunk i occupies `[ptr[i], ptr[i+1])`. An all-zero section (or a lone ptr\[0\]) means no
//! chunks. Pointers must increase, start at or after the header, and stay inside the file.
//!
//! ```
//! use emengine::seg::pointers::parse_pointers;
//! let mut section = vec![0u8; 4096];
//! section[..16].copy_from_slice(&[0x00, 0x20, 0, 0, 0, 0, 0, 0, 0x00, 0x40, 0, 0, 0, 0, 0, 0]);
//! assert_eq!(parse_pointers(&section, 4096, 16384).unwrap(), vec![8192, 16384]);
//! ```

use crate::error::DecodeError;
use std::io;

/// Decode the pointer section `section`, which starts at file offset `base`, of a file of
/// `file_len` bytes. Returns ptr\[0..=n\] for n chunks (empty or one entry: no chunks).
///
/// Errors name the file offset of the offending entry: a pointer into the header or past the
/// end of the file, or a pair that does not increase.
pub fn parse_pointers(section: &[u8], base: u64, file_len: u64) -> Result<Vec<u64>, DecodeError> {
    let header_end = base + section.len() as u64;
    let mut out = Vec::new();
    let mut check = |i: usize, p: u64| -> Result<bool, DecodeError> {
        let at = base + 8 * i as u64;
        if p == 0 && i > 0 {
            return Ok(false);
        }
        match out.last() {
            None if p == 0 => return Ok(false),
            None if p < header_end => {
                return Err(DecodeError::invalid(
                    at,
                    "chunk pointer",
                    format!("at least the header size {header_end}"),
                    p,
                ))
            }
            Some(&prev) if p <= prev => {
                return Err(DecodeError::invalid(
                    at,
                    "chunk pointer",
                    format!("greater than the previous pointer {prev}"),
                    p,
                ))
            }
            _ => {}
        }
        if p > file_len {
            return Err(DecodeError::truncated(
                at,
                format!("a file of at least {p} bytes (chunk pointer {i})"),
                file_len,
            ));
        }
        out.push(p);
        Ok(true)
    };
    match bytemuck::try_cast_slice::<u8, u64>(section) {
        // The map and large read buffers are 8-aligned: view the section in place.
        Ok(words) => {
            for (i, &w) in words.iter().enumerate() {
                if !check(i, u64::from_le(w))? {
                    break;
                }
            }
        }
        Err(_) => {
            for (i, w) in section.chunks_exact(8).enumerate() {
                let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                if !check(i, w)? {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Encode `ptrs` (ptr\[0..=n\]) into a section of `section_len` bytes, zero-filled after them.
/// There must be room for a zero terminator after the last pointer, and pointers must increase.
pub fn encode_pointers(ptrs: &[u64], section_len: usize) -> io::Result<Vec<u8>> {
    let slots = section_len / 8;
    if !section_len.is_multiple_of(8) || ptrs.len() >= slots {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} chunk pointers do not fit a {section_len}-byte pointer section \
                 (at most {} with the terminator)",
                ptrs.len(),
                slots.saturating_sub(1)
            ),
        ));
    }
    if let Some(w) = ptrs.windows(2).find(|w| w[1] <= w[0]) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("chunk pointers must increase: {} then {}", w[0], w[1]),
        ));
    }
    let mut out = vec![0u8; section_len];
    for (slot, p) in out.chunks_exact_mut(8).zip(ptrs) {
        slot.copy_from_slice(&p.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeKind;

    /// A raw section, without the checks of `encode_pointers`.
    fn section(ptrs: &[u64]) -> Vec<u8> {
        let mut raw = vec![0u8; 4096];
        for (s, p) in raw.chunks_exact_mut(8).zip(ptrs) {
            s.copy_from_slice(&p.to_le_bytes());
        }
        raw
    }

    #[test]
    fn empty_and_lone() {
        assert_eq!(
            parse_pointers(&[0u8; 4096], 4096, 8192).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(
            parse_pointers(&section(&[8192]), 4096, 8192).unwrap(),
            vec![8192]
        );
        assert_eq!(
            encode_pointers(&[8192, 9000], 4096).unwrap(),
            section(&[8192, 9000])
        );
        assert!(encode_pointers(&[8192, 8192], 4096).is_err());
    }

    #[test]
    fn errors_name_entry_offsets() {
        let e = parse_pointers(&section(&[8192, 20000, 20000]), 4096, 1 << 20).unwrap_err();
        assert_eq!(e.offset, 4096 + 16);
        assert!(matches!(
            e.kind,
            DecodeKind::Invalid {
                field: "chunk pointer",
                ..
            }
        ));
        let e = parse_pointers(&section(&[8192, 20000, 30000]), 4096, 25000).unwrap_err();
        assert_eq!(e.offset, 4096 + 16);
        assert!(matches!(e.kind, DecodeKind::Truncated { found: 25000, .. }));
        let e = parse_pointers(&section(&[4096, 20000]), 4096, 25000).unwrap_err();
        assert_eq!(e.offset, 4096);
    }

    #[test]
    fn full_section_needs_no_terminator() {
        let ptrs: Vec<u64> = (0..512).map(|i| 8192 + 100 * i).collect();
        let raw = section(&ptrs);
        assert_eq!(parse_pointers(&raw, 4096, 1 << 20).unwrap(), ptrs);
        assert!(encode_pointers(&ptrs, 4096).is_err());
        // An unaligned view decodes the same.
        let mut shifted = vec![0u8; 4097];
        shifted[1..].copy_from_slice(&raw);
        assert_eq!(parse_pointers(&shifted[1..], 4096, 1 << 20).unwrap(), ptrs);
    }
}
