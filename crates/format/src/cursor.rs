//! A bounded byte cursor for variable-length structures: every read checks the
//! remaining length and returns [`FormatError::Truncated`] instead of panicking.

use crate::error::{FormatError, Result};

/// Reads forward through a byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf`; `what` names the structure in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Cursor { buf, what }
    }
    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
    /// Whether everything has been consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(FormatError::Truncated {
                what: self.what,
                need: n,
                have: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }
    /// A sub-cursor over the next `n` bytes.
    pub fn sub(&mut self, n: usize) -> Result<Cursor<'a>> {
        Ok(Cursor {
            buf: self.take(n)?,
            what: self.what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_past_end_is_an_error() {
        let mut c = Cursor::new(&[1, 2, 3], "test");
        assert_eq!(c.u8(), Ok(1));
        assert_eq!(
            c.take(5),
            Err(FormatError::Truncated {
                what: "test",
                need: 5,
                have: 2
            })
        );
        assert_eq!(c.take(2), Ok(&[2u8, 3][..]));
        assert!(c.is_empty());
    }
}
