//! ECMA-167 3/7.2 descriptor tag: the 16 bytes that start every descriptor.
//! The tag checksum is the sum modulo 256 of bytes 0-3 and 5-15; the CRC is
//! CRC-16/CCITT (polynomial 0x1021, initial value 0, as in ECMA-167 3/7.2.6)
//! over the `crc_len` bytes that follow the tag; the tag location is the
//! logical sector (volume structures) or partition-relative logical block
//! (file structures) where the descriptor is recorded.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32};

/// Size of a descriptor tag.
pub const TAG_LEN: usize = 16;

/// Primary volume descriptor (3/10.1).
pub const PVD: u16 = 0x0001;
/// Anchor volume descriptor pointer (3/10.2).
pub const AVDP: u16 = 0x0002;
/// Volume descriptor pointer (3/10.3).
pub const VDP: u16 = 0x0003;
/// Implementation use volume descriptor (3/10.4).
pub const IUVD: u16 = 0x0004;
/// Partition descriptor (3/10.5).
pub const PD: u16 = 0x0005;
/// Logical volume descriptor (3/10.6).
pub const LVD: u16 = 0x0006;
/// Unallocated space descriptor (3/10.8).
pub const USD: u16 = 0x0007;
/// Terminating descriptor (3/10.9 and 4/14.2).
pub const TD: u16 = 0x0008;
/// Logical volume integrity descriptor (3/10.10).
pub const LVID: u16 = 0x0009;
/// File set descriptor (4/14.1).
pub const FSD: u16 = 0x0100;
/// File identifier descriptor (4/14.4).
pub const FID: u16 = 0x0101;
/// Allocation extent descriptor (4/14.5).
pub const AED: u16 = 0x0102;
/// Indirect entry (4/14.7).
pub const IE: u16 = 0x0103;
/// Terminal entry (4/14.8).
pub const TE: u16 = 0x0104;
/// File entry (4/14.9).
pub const FE: u16 = 0x0105;
/// Extended attribute header descriptor (4/14.10.1).
pub const EAHD: u16 = 0x0106;
/// Extended file entry (4/14.17).
pub const EFE: u16 = 0x010A;
/// UDF 2.2.12 sparing table (tag identifier 0).
pub const SPARING_TABLE: u16 = 0x0000;

/// ECMA-167 3/7.2 descriptor tag, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct RawTag {
    /// RBP 0: tag identifier.
    pub ident: Le16,
    /// RBP 2: descriptor version (2 for NSR02 volumes, 3 for NSR03).
    pub version: Le16,
    /// RBP 4: tag checksum.
    pub checksum: u8,
    /// RBP 5: reserved.
    pub reserved: u8,
    /// RBP 6: tag serial number.
    pub serial: Le16,
    /// RBP 8: descriptor CRC.
    pub crc: Le16,
    /// RBP 10: descriptor CRC length (bytes after the tag).
    pub crc_len: Le16,
    /// RBP 12: tag location.
    pub location: Le32,
}
const _: () = assert!(core::mem::size_of::<RawTag>() == TAG_LEN);

/// A parsed descriptor tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tag {
    /// Tag identifier.
    pub ident: u16,
    /// Descriptor version.
    pub version: u16,
    /// Tag serial number.
    pub serial: u16,
    /// Descriptor CRC.
    pub crc: u16,
    /// Descriptor CRC length.
    pub crc_len: u16,
    /// Tag location.
    pub location: u32,
}

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

/// CRC-16/CCITT of ECMA-167 3/7.2.6 (the catalogue's CRC-16/XMODEM).
pub fn crc16(data: &[u8]) -> u16 {
    CRC16.checksum(data)
}

/// The tag checksum of 3/7.2.3 over the first 16 bytes of `b` (byte 4, the
/// checksum itself, excluded).
pub fn checksum(b: &[u8; TAG_LEN]) -> u8 {
    b.iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .fold(0u8, |a, (_, &x)| a.wrapping_add(x))
}

impl Tag {
    /// Parses and checks the tag at the start of `buf`: the checksum, and the
    /// CRC over the bytes that follow, which must be present in `buf`.
    /// The identifier and location are the caller's to compare (see
    /// [`Tag::verify`]).
    pub fn parse(buf: &[u8]) -> Result<Tag> {
        let tag = Self::parse_head(buf)?;
        let body_len = usize::from(tag.crc_len);
        let body =
            buf.get(TAG_LEN..TAG_LEN.saturating_add(body_len))
                .ok_or(FormatError::Truncated {
                    what: "descriptor (CRC length)",
                    need: TAG_LEN.saturating_add(body_len),
                    have: buf.len(),
                })?;
        if crc16(body) != tag.crc {
            return Err(FormatError::BadChecksum {
                what: "descriptor CRC",
            });
        }
        Ok(tag)
    }

    /// Parses the tag at the start of `buf` checking only its checksum, to
    /// learn what the descriptor is and how long it is before reading all
    /// of it and checking it with [`Tag::parse`].
    pub fn parse_head(buf: &[u8]) -> Result<Tag> {
        let head: &[u8; TAG_LEN] =
            buf.get(..TAG_LEN)
                .and_then(|h| h.try_into().ok())
                .ok_or(FormatError::Truncated {
                    what: "descriptor tag",
                    need: TAG_LEN,
                    have: buf.len(),
                })?;
        let (raw, _) = RawTag::ref_from_prefix(head).map_err(|_| FormatError::Truncated {
            what: "descriptor tag",
            need: TAG_LEN,
            have: buf.len(),
        })?;
        if checksum(head) != raw.checksum {
            return Err(FormatError::BadChecksum {
                what: "descriptor tag",
            });
        }
        Ok(Tag {
            ident: raw.ident.get(),
            version: raw.version.get(),
            serial: raw.serial.get(),
            crc: raw.crc.get(),
            crc_len: raw.crc_len.get(),
            location: raw.location.get(),
        })
    }

    /// [`Tag::parse`], then checks that the identifier is `ident` and the tag
    /// location is `location`.
    pub fn verify(buf: &[u8], ident: u16, location: u32) -> Result<Tag> {
        let tag = Tag::parse(buf)?;
        if tag.ident != ident {
            return Err(FormatError::BadValue {
                what: "descriptor tag identifier",
                value: tag.ident.into(),
            });
        }
        tag.check_location(location)?;
        Ok(tag)
    }

    /// Checks the recorded tag location.
    pub fn check_location(&self, location: u32) -> Result<()> {
        if self.location != location {
            return Err(FormatError::BadValue {
                what: "descriptor tag location",
                value: self.location.into(),
            });
        }
        Ok(())
    }

    /// Writes the tag into the first 16 bytes of `buf`, with the CRC over the
    /// `crc_len` bytes after it and the checksum. `buf` must hold them.
    pub fn write(&self, buf: &mut [u8]) -> Result<()> {
        let need = TAG_LEN.saturating_add(usize::from(self.crc_len));
        let have = buf.len();
        let body = buf.get(TAG_LEN..need).ok_or(FormatError::Truncated {
            what: "descriptor (CRC length)",
            need,
            have,
        })?;
        let raw = RawTag {
            ident: Le16::new(self.ident),
            version: Le16::new(self.version),
            checksum: 0,
            reserved: 0,
            serial: Le16::new(self.serial),
            crc: Le16::new(crc16(body)),
            crc_len: Le16::new(self.crc_len),
            location: Le32::new(self.location),
        };
        let mut head = [0u8; TAG_LEN];
        head.copy_from_slice(raw.as_bytes());
        head[4] = checksum(&head);
        buf.get_mut(..TAG_LEN)
            .ok_or(FormatError::Truncated {
                what: "descriptor tag",
                need: TAG_LEN,
                have,
            })?
            .copy_from_slice(&head);
        Ok(())
    }

    /// A tag for a descriptor of `len` bytes (tag included) recorded at
    /// `location`, version 3, serial 1.
    pub fn new(ident: u16, location: u32, len: usize) -> Tag {
        Tag {
            ident,
            version: 3,
            serial: 1,
            crc: 0,
            crc_len: u16::try_from(len.saturating_sub(TAG_LEN)).unwrap_or(u16::MAX),
            location,
        }
    }
}

/// Seals a descriptor already laid out in `buf`: writes a version 3 tag with
/// `ident` and `location` whose CRC covers the whole of `buf` after the tag.
pub fn seal(buf: &mut [u8], ident: u16, location: u32) -> Result<()> {
    Tag::new(ident, location, buf.len()).write(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_ecma_167_example() {
        // ECMA-167 3/7.2.6: the CRC of the bytes 0x70 0x6A 0x77 is 0x3299.
        assert_eq!(crc16(&[0x70, 0x6A, 0x77]), 0x3299);
    }

    #[test]
    fn round_trip_and_every_check() {
        let mut d = vec![0u8; 64];
        d[20..25].copy_from_slice(b"hello");
        seal(&mut d, FSD, 33).unwrap();
        let t = Tag::verify(&d, FSD, 33).unwrap();
        assert_eq!(
            (t.ident, t.version, t.location, t.crc_len),
            (FSD, 3, 33, 48)
        );
        assert_eq!(
            Tag::verify(&d, FSD, 34),
            Err(FormatError::BadValue {
                what: "descriptor tag location",
                value: 33
            })
        );
        assert!(matches!(
            Tag::verify(&d, FE, 33),
            Err(FormatError::BadValue { .. })
        ));
        let mut body = d.clone();
        body[40] ^= 1;
        assert_eq!(
            Tag::parse(&body),
            Err(FormatError::BadChecksum {
                what: "descriptor CRC"
            })
        );
        let mut head = d.clone();
        head[6] ^= 1;
        assert_eq!(
            Tag::parse(&head),
            Err(FormatError::BadChecksum {
                what: "descriptor tag"
            })
        );
        // A CRC length past the buffer is a truncation, never a panic.
        assert!(matches!(
            Tag::parse(&d[..40]),
            Err(FormatError::Truncated { .. })
        ));
        assert!(Tag::parse(&d[..10]).is_err());
    }
}
