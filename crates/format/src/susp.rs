//! System Use Sharing Protocol (SUSP 1.12): the framing of entries in the
//! system use area of directory records and in continuation areas.

use zerocopy::FromBytes;

use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::Both32;

/// One SUSP entry: signature, version and payload (after the 4-byte header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuspEntry<'a> {
    /// Two-character signature ("SP", "CE", "PX", ...).
    pub sig: [u8; 2],
    /// Entry version.
    pub version: u8,
    /// Payload bytes.
    pub data: &'a [u8],
}

/// Iterates over the entries of one system use area or continuation area.
/// Ends at an `ST` entry, at the end of the area, or where fewer than four
/// bytes (padding) remain.
pub struct SuspIter<'a> {
    cur: Cursor<'a>,
    done: bool,
}

impl<'a> SuspIter<'a> {
    /// Entries of `area`.
    pub fn new(area: &'a [u8]) -> Self {
        SuspIter {
            cur: Cursor::new(area, "SUSP entry"),
            done: false,
        }
    }
}

impl<'a> Iterator for SuspIter<'a> {
    type Item = Result<SuspEntry<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.cur.remaining() < 4 {
            return None;
        }
        let r = (|| {
            let hdr = self.cur.array::<4>()?;
            let [s0, s1, len, version] = hdr;
            if s0 == 0 {
                // Zero padding at the end of an area (written by some tools).
                self.done = true;
                return Ok(None);
            }
            let len = usize::from(len);
            if len < 4 {
                return Err(FormatError::BadValue {
                    what: "SUSP entry length",
                    value: len as u64,
                });
            }
            let data = self.cur.take(len.saturating_sub(4))?;
            Ok(Some(SuspEntry {
                sig: [s0, s1],
                version,
                data,
            }))
        })();
        match r {
            Ok(Some(e)) => {
                if &e.sig == b"ST" {
                    self.done = true;
                }
                Some(Ok(e))
            }
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// SUSP §5.3 CE: where the system use area continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Continuation {
    /// Logical block of the continuation area.
    pub block: u32,
    /// Byte offset within that block.
    pub offset: u32,
    /// Length of the continuation area in bytes.
    pub len: u32,
}

impl Continuation {
    /// Parses the payload of a CE entry.
    pub fn parse(data: &[u8]) -> Result<Continuation> {
        let (b, rest) = Both32::read_from_prefix(data).map_err(|_| FormatError::Truncated {
            what: "SUSP CE entry",
            need: 24,
            have: data.len(),
        })?;
        let (o, rest) = Both32::read_from_prefix(rest).map_err(|_| FormatError::Truncated {
            what: "SUSP CE entry",
            need: 24,
            have: data.len(),
        })?;
        let (l, _) = Both32::read_from_prefix(rest).map_err(|_| FormatError::Truncated {
            what: "SUSP CE entry",
            need: 24,
            have: data.len(),
        })?;
        Ok(Continuation {
            block: b.get(),
            offset: o.get(),
            len: l.get(),
        })
    }

    /// Encodes a complete CE entry (28 bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        use zerocopy::IntoBytes;
        out.extend_from_slice(&[b'C', b'E', 28, 1]);
        for v in [self.block, self.offset, self.len] {
            out.extend_from_slice(Both32::new(v).as_bytes());
        }
    }
}

/// SUSP §5.3 SP: present in the first entry of the root's "." record; its
/// last byte is how many bytes to skip at the start of every later system use
/// area.
pub fn parse_sp(data: &[u8]) -> Result<u8> {
    match data {
        [0xBE, 0xEF, skip, ..] => Ok(*skip),
        _ => Err(FormatError::BadMagic {
            what: "SUSP SP entry",
        }),
    }
}

/// SUSP §5.5 ER: an extension reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRef {
    /// Extension version.
    pub version: u8,
    /// Extension identifier ("RRIP_1991A", "IEEE_P1282", "IEEE_1282", ...).
    pub id: String,
    /// Descriptor text.
    pub descriptor: String,
    /// Source text.
    pub source: String,
}

impl ExtensionRef {
    /// Parses the payload of an ER entry.
    pub fn parse(data: &[u8]) -> Result<ExtensionRef> {
        let mut c = Cursor::new(data, "SUSP ER entry");
        let len_id = usize::from(c.u8()?);
        let len_des = usize::from(c.u8()?);
        let len_src = usize::from(c.u8()?);
        let version = c.u8()?;
        let id = String::from_utf8_lossy(c.take(len_id)?).into_owned();
        let descriptor = String::from_utf8_lossy(c.take(len_des)?).into_owned();
        let source = String::from_utf8_lossy(c.take(len_src)?).into_owned();
        Ok(ExtensionRef {
            version,
            id,
            descriptor,
            source,
        })
    }

    /// Encodes a complete ER entry.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let len = 8usize
            .checked_add(self.id.len())
            .and_then(|l| l.checked_add(self.descriptor.len()))
            .and_then(|l| l.checked_add(self.source.len()))
            .filter(|&l| l <= 255)
            .ok_or(FormatError::BadValue {
                what: "SUSP ER entry length",
                value: 256,
            })?;
        let b = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
        out.extend_from_slice(&[b'E', b'R', b(len), 1]);
        out.extend_from_slice(&[
            b(self.id.len()),
            b(self.descriptor.len()),
            b(self.source.len()),
            self.version,
        ]);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(self.descriptor.as_bytes());
        out.extend_from_slice(self.source.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_and_stops() {
        let area = [b'P', b'X', 5, 1, 9, b'S', b'T', 4, 1, b'N', b'M', 5, 1, 0];
        let v: Vec<_> = SuspIter::new(&area).collect::<Result<_>>().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].data, &[9]);
        assert_eq!(&v[1].sig, b"ST");
    }

    #[test]
    fn bad_lengths() {
        let v: Vec<_> = SuspIter::new(&[b'P', b'X', 2, 1, 0, 0]).collect();
        assert!(v[0].is_err());
        let v: Vec<_> = SuspIter::new(&[b'P', b'X', 50, 1, 0, 0]).collect();
        assert!(v[0].is_err());
        assert_eq!(v.len(), 1);
        assert_eq!(SuspIter::new(&[0, 0, 0, 0, 0]).count(), 0);
    }

    #[test]
    fn ce_and_er_round_trip() {
        let ce = Continuation {
            block: 40,
            offset: 100,
            len: 300,
        };
        let mut v = Vec::new();
        ce.encode(&mut v);
        let e = SuspIter::new(&v).next().unwrap().unwrap();
        assert_eq!(Continuation::parse(e.data).unwrap(), ce);
        let er = ExtensionRef {
            version: 1,
            id: "IEEE_P1282".into(),
            descriptor: "d".into(),
            source: "s".into(),
        };
        v.clear();
        er.encode(&mut v).unwrap();
        let e = SuspIter::new(&v).next().unwrap().unwrap();
        assert_eq!(ExtensionRef::parse(e.data).unwrap(), er);
        assert!(ExtensionRef::parse(&[200, 0, 0, 1, b'x']).is_err());
        assert_eq!(parse_sp(&[0xBE, 0xEF, 0]), Ok(0));
        assert!(parse_sp(&[0, 0, 0]).is_err());
    }
}
