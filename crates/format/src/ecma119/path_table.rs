//! ECMA-119 §9.4: path table records, in the type L (little-endian) and type M
//! (big-endian) tables.

use crate::cursor::Cursor;
use crate::error::{FormatError, Result};

/// One path table record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTableRecord<'a> {
    /// Extended attribute record length.
    pub ear_len: u8,
    /// Location of the directory's extent.
    pub extent: u32,
    /// 1-based number of the parent directory in this table.
    pub parent: u16,
    /// Directory identifier (`\0` for the root).
    pub name: &'a [u8],
}

/// Iterates over the records of a path table. `big_endian` selects type M.
pub struct PathTableIter<'a> {
    cur: Cursor<'a>,
    big_endian: bool,
}

impl<'a> PathTableIter<'a> {
    /// Iterates over `table`, which must be exactly the recorded path table size.
    pub fn new(table: &'a [u8], big_endian: bool) -> Self {
        PathTableIter {
            cur: Cursor::new(table, "path table record"),
            big_endian,
        }
    }

    /// Bytes left unread.
    pub fn remaining(&self) -> usize {
        self.cur.remaining()
    }

    fn next_record(&mut self) -> Result<PathTableRecord<'a>> {
        let len_di = self.cur.u8()?;
        if len_di == 0 {
            return Err(FormatError::BadValue {
                what: "path table directory identifier length",
                value: 0,
            });
        }
        let ear_len = self.cur.u8()?;
        let e = self.cur.array::<4>()?;
        let p = self.cur.array::<2>()?;
        let name = self.cur.take(usize::from(len_di))?;
        if len_di % 2 == 1 && !self.cur.is_empty() {
            self.cur.u8()?;
        }
        let (extent, parent) = if self.big_endian {
            (u32::from_be_bytes(e), u16::from_be_bytes(p))
        } else {
            (u32::from_le_bytes(e), u16::from_le_bytes(p))
        };
        Ok(PathTableRecord {
            ear_len,
            extent,
            parent,
            name,
        })
    }
}

impl<'a> Iterator for PathTableIter<'a> {
    type Item = Result<PathTableRecord<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur.is_empty() {
            return None;
        }
        let r = self.next_record();
        if r.is_err() {
            self.cur.rest();
        }
        Some(r)
    }
}

impl PathTableRecord<'_> {
    /// Appends the record in type L (`big_endian == false`) or M form.
    pub fn encode(&self, big_endian: bool, out: &mut Vec<u8>) {
        out.push(u8::try_from(self.name.len()).unwrap_or(u8::MAX));
        out.push(self.ear_len);
        if big_endian {
            out.extend_from_slice(&self.extent.to_be_bytes());
            out.extend_from_slice(&self.parent.to_be_bytes());
        } else {
            out.extend_from_slice(&self.extent.to_le_bytes());
            out.extend_from_slice(&self.parent.to_le_bytes());
        }
        out.extend_from_slice(self.name);
        if self.name.len() % 2 == 1 {
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_types() {
        let recs = [
            PathTableRecord {
                ear_len: 0,
                extent: 20,
                parent: 1,
                name: b"\0",
            },
            PathTableRecord {
                ear_len: 0,
                extent: 21,
                parent: 1,
                name: b"BOOT",
            },
            PathTableRecord {
                ear_len: 0,
                extent: 22,
                parent: 2,
                name: b"GRUB5",
            },
        ];
        for be in [false, true] {
            let mut v = Vec::new();
            for r in &recs {
                r.encode(be, &mut v);
            }
            let back: Vec<_> = PathTableIter::new(&v, be).collect::<Result<_>>().unwrap();
            assert_eq!(back, recs);
        }
    }

    #[test]
    fn truncated_table_is_an_error() {
        let mut v = Vec::new();
        PathTableRecord {
            ear_len: 0,
            extent: 20,
            parent: 1,
            name: b"LONGNAME",
        }
        .encode(false, &mut v);
        let r: Vec<_> = PathTableIter::new(&v[..10], false).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
    }
}
