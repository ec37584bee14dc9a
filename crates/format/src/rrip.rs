//! Rock Ridge Interchange Protocol (RRIP 1.09 and 1.12) entries, carried in
//! SUSP system use areas; plus the zisofs `ZF` entry.

use zerocopy::{FromBytes, IntoBytes};

use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::Both32;
use crate::susp::SuspEntry;
use crate::time::IsoTime;

/// RRIP §4.1.1 PX: POSIX file attributes. RRIP 1.09 writers (genisoimage) omit
/// the file serial number; 1.12 writers (xorriso) include it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Px {
    /// st_mode.
    pub mode: u32,
    /// st_nlink.
    pub nlink: u32,
    /// st_uid.
    pub uid: u32,
    /// st_gid.
    pub gid: u32,
    /// st_ino (1.12 only).
    pub ino: Option<u32>,
}

/// One component of an SL symbolic link target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlComponent<'a> {
    /// Component flags: 1 continue, 2 current, 4 parent, 8 root, 16 volume
    /// root, 32 host.
    pub flags: u8,
    /// Component text.
    pub content: &'a [u8],
}

/// Timestamps of a TF entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tf {
    /// Creation time.
    pub creation: Option<IsoTime>,
    /// Modification time.
    pub modify: Option<IsoTime>,
    /// Last access time.
    pub access: Option<IsoTime>,
    /// Last attribute change time.
    pub attributes: Option<IsoTime>,
    /// Backup time.
    pub backup: Option<IsoTime>,
    /// Expiration time.
    pub expiration: Option<IsoTime>,
    /// Effective time.
    pub effective: Option<IsoTime>,
}

/// zisofs ZF entry (not part of RRIP, but carried the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zf {
    /// Algorithm: `pz` for zisofs (zlib).
    pub algorithm: [u8; 2],
    /// Header size in 4-byte words.
    pub header_size_div4: u8,
    /// log2 of the block size.
    pub log2_block_size: u8,
    /// Uncompressed file size.
    pub uncompressed_size: u32,
}

/// A Rock Ridge (or zisofs) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rrip<'a> {
    /// POSIX attributes.
    Px(Px),
    /// Device number (high, low).
    Pn(u32, u32),
    /// One SL entry: flags (1 = continues in the next SL) and components.
    Sl(u8, Vec<SlComponent<'a>>),
    /// One NM entry: flags (1 continue, 2 current, 4 parent, 32 host) and name part.
    Nm(u8, &'a [u8]),
    /// Child link: the relocated directory's location.
    Cl(u32),
    /// Parent link: the original parent's location.
    Pl(u32),
    /// This directory has been relocated.
    Re,
    /// Time stamps.
    Tf(Tf),
    /// Sparse file: virtual size (and table depth in 1.12).
    Sf(u64),
    /// RRIP 1.09 "RR" flag byte listing the entries present.
    Rr(u8),
    /// zisofs compression.
    Zf(Zf),
}

fn both32(c: &mut Cursor<'_>) -> Result<u32> {
    let b = c.array::<8>()?;
    Ok(Both32::read_from_bytes(&b[..])
        .map(Both32::get)
        .unwrap_or(0))
}

/// Interprets a SUSP entry as a Rock Ridge entry; `Ok(None)` for signatures
/// that are not RRIP (SUSP's own, or unknown extensions).
pub fn parse<'a>(e: &SuspEntry<'a>) -> Result<Option<Rrip<'a>>> {
    let mut c = Cursor::new(e.data, "Rock Ridge entry");
    Ok(Some(match &e.sig {
        b"PX" => {
            let mode = both32(&mut c)?;
            let nlink = both32(&mut c)?;
            let uid = both32(&mut c)?;
            let gid = both32(&mut c)?;
            let ino = if c.remaining() >= 8 {
                Some(both32(&mut c)?)
            } else {
                None
            };
            Rrip::Px(Px {
                mode,
                nlink,
                uid,
                gid,
                ino,
            })
        }
        b"PN" => Rrip::Pn(both32(&mut c)?, both32(&mut c)?),
        b"SL" => {
            let flags = c.u8()?;
            let mut comps = Vec::new();
            while !c.is_empty() {
                let f = c.u8()?;
                let len = c.u8()?;
                comps.push(SlComponent {
                    flags: f,
                    content: c.take(usize::from(len))?,
                });
            }
            Rrip::Sl(flags, comps)
        }
        b"NM" => {
            let flags = c.u8()?;
            Rrip::Nm(flags, c.rest())
        }
        b"CL" => Rrip::Cl(both32(&mut c)?),
        b"PL" => Rrip::Pl(both32(&mut c)?),
        b"RE" => Rrip::Re,
        b"TF" => {
            let flags = c.u8()?;
            let long = flags & 0x80 != 0;
            let mut tf = Tf::default();
            let slots: [&mut Option<IsoTime>; 7] = [
                &mut tf.creation,
                &mut tf.modify,
                &mut tf.access,
                &mut tf.attributes,
                &mut tf.backup,
                &mut tf.expiration,
                &mut tf.effective,
            ];
            for (bit, slot) in slots.into_iter().enumerate() {
                if flags & (1 << bit) == 0 {
                    continue;
                }
                // An unparsable stamp reads as absent rather than failing the entry.
                *slot = if long {
                    IsoTime::from_dec_bytes(&c.array::<17>()?).ok().flatten()
                } else {
                    IsoTime::from_dir_bytes(&c.array::<7>()?).ok().flatten()
                };
            }
            Rrip::Tf(tf)
        }
        b"SF" => {
            let hi = both32(&mut c)?;
            let lo = if c.remaining() >= 8 {
                both32(&mut c)?
            } else {
                0
            };
            // RRIP 1.10 had only one (low) size field.
            let size = if c.is_empty() && lo == 0 {
                u64::from(hi)
            } else {
                (u64::from(hi) << 32) | u64::from(lo)
            };
            Rrip::Sf(size)
        }
        b"RR" => Rrip::Rr(c.u8()?),
        b"ZF" => {
            let algorithm = c.array::<2>()?;
            let header_size_div4 = c.u8()?;
            let log2_block_size = c.u8()?;
            let uncompressed_size = both32(&mut c)?;
            Rrip::Zf(Zf {
                algorithm,
                header_size_div4,
                log2_block_size,
                uncompressed_size,
            })
        }
        _ => return Ok(None),
    }))
}

/// Appends one SUSP entry with the given signature and payload.
pub fn encode_entry(sig: &[u8; 2], payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = payload
        .len()
        .checked_add(4)
        .filter(|&l| l <= 255)
        .ok_or(FormatError::BadValue {
            what: "SUSP entry length",
            value: payload.len() as u64,
        })?;
    out.extend_from_slice(&[sig[0], sig[1], u8::try_from(len).unwrap_or(u8::MAX), 1]);
    out.extend_from_slice(payload);
    Ok(())
}

impl Px {
    /// Encodes a PX entry (36 bytes without a serial number, 44 with).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut p = [0u8; 40];
        let values = [
            Some(self.mode),
            Some(self.nlink),
            Some(self.uid),
            Some(self.gid),
            self.ino,
        ];
        let mut len = 0usize;
        for (d, v) in p.chunks_exact_mut(8).zip(values.into_iter().flatten()) {
            d.copy_from_slice(Both32::new(v).as_bytes());
            len = len.saturating_add(8);
        }
        encode_entry(b"PX", p.get(..len).unwrap_or_default(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::susp::SuspIter;

    fn one(bytes: &[u8]) -> Rrip<'_> {
        let e = SuspIter::new(bytes).next().unwrap().unwrap();
        // The entry borrows `bytes`, so re-parse to tie lifetimes.
        let e: SuspEntry<'_> = SuspEntry {
            sig: e.sig,
            version: e.version,
            data: e.data,
        };
        parse(&e).unwrap().unwrap()
    }

    #[test]
    fn px_both_lengths() {
        for ino in [None, Some(77)] {
            let px = Px {
                mode: 0o100644,
                nlink: 1,
                uid: 1000,
                gid: 100,
                ino,
            };
            let mut v = Vec::new();
            px.encode(&mut v).unwrap();
            assert_eq!(v.len(), if ino.is_some() { 44 } else { 36 });
            assert_eq!(one(&v), Rrip::Px(px));
        }
    }

    #[test]
    fn sl_nm_tf() {
        let mut v = Vec::new();
        encode_entry(b"SL", &[0, 8, 0, 0, 3, b'u', b's', b'r', 4, 0], &mut v).unwrap();
        match one(&v) {
            Rrip::Sl(0, c) => {
                assert_eq!(c.len(), 3);
                assert_eq!(c[1].content, b"usr");
                assert_eq!(c[2].flags, 4);
            }
            other => panic!("{other:?}"),
        }
        v.clear();
        encode_entry(b"NM", b"\x01long", &mut v).unwrap();
        assert_eq!(one(&v), Rrip::Nm(1, b"long"));
        v.clear();
        encode_entry(
            b"TF",
            &[0x06, 120, 1, 1, 0, 0, 0, 0, 121, 1, 1, 0, 0, 0, 0],
            &mut v,
        )
        .unwrap();
        match one(&v) {
            Rrip::Tf(tf) => {
                assert!(tf.creation.is_none());
                assert!(tf.modify.unwrap().unix < tf.access.unwrap().unix);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_entries_fail() {
        let e = SuspEntry {
            sig: *b"PX",
            version: 1,
            data: &[0; 10],
        };
        assert!(parse(&e).is_err());
        let e = SuspEntry {
            sig: *b"SL",
            version: 1,
            data: &[0, 0, 9, b'a'],
        };
        assert!(parse(&e).is_err());
        let e = SuspEntry {
            sig: *b"TF",
            version: 1,
            data: &[0x81, 0, 0],
        };
        assert!(parse(&e).is_err());
        let e = SuspEntry {
            sig: *b"ZF",
            version: 1,
            data: b"pz",
        };
        assert!(parse(&e).is_err());
        let e = SuspEntry {
            sig: *b"XX",
            version: 1,
            data: &[],
        };
        assert_eq!(parse(&e), Ok(None));
    }
}
