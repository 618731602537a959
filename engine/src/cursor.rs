//! Bounds-checked little-endian reads from file bytes.
//!
//! Every read from untrusted bytes goes through [`Cursor`]: a short buffer becomes a
//! [`DecodeError`] naming the offset and what was being read, never a panic.

use crate::error::DecodeError;

/// A read position over a byte slice; offsets in errors are `base + position`.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

macro_rules! read_le {
    ($name:ident, $ty:ty) => {
        #[doc = concat!("Read a little-endian `", stringify!($ty), "`; `what` names the field in errors.")]
        pub fn $name(&mut self, what: &str) -> Result<$ty, DecodeError> {
            let bytes = self.array::<{ std::mem::size_of::<$ty>() }>(what)?;
            Ok(<$ty>::from_le_bytes(bytes))
        }
    };
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, which itself starts at file offset 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A cursor over `buf`, which starts at file offset `base`.
    pub fn with_base(buf: &'a [u8], base: u64) -> Self {
        Self { buf, pos: 0, base }
    }

    /// File offset of the next byte to be read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Take the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::truncated(
                self.offset(),
                format!("{what} ({n} bytes)"),
                self.remaining() as u64,
            ));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Take the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Skip `n` bytes (padding).
    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), DecodeError> {
        self.take(n, what).map(|_| ())
    }

    read_le!(u8, u8);
    read_le!(i8, i8);
    read_le!(u16, u16);
    read_le!(i16, i16);
    read_le!(u32, u32);
    read_le!(i32, i32);
    read_le!(u64, u64);
    read_le!(i64, i64);
    read_le!(i128, i128);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeKind;

    #[test]
    fn short_read_names_offset_and_field() {
        let mut c = Cursor::with_base(&[1, 2, 3], 100);
        assert_eq!(c.u16("first").unwrap(), 0x0201);
        let err = c.u32("second").unwrap_err();
        assert_eq!(err.offset, 102);
        assert_eq!(
            err.kind,
            DecodeKind::Truncated {
                expected: "second (4 bytes)".into(),
                found: 1
            }
        );
    }
}
