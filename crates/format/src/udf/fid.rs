//! ECMA-167 4/14.4 file identifier descriptor (UDF 2.3.4): one directory
//! entry. Its length is 38 + L_IU + L_FI rounded up to a multiple of 4.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::tag::{self, RawTag};
use super::{LongAd, RawLongAd};
use crate::error::{FormatError, Result};
use crate::num::Le16;

/// Size of the fixed part.
pub const FID_FIXED_LEN: usize = 38;

/// File characteristics bits (4/14.4.3).
pub mod characteristics {
    /// The existence bit: hidden from the user.
    pub const HIDDEN: u8 = 0x01;
    /// A directory.
    pub const DIRECTORY: u8 = 0x02;
    /// Deleted.
    pub const DELETED: u8 = 0x04;
    /// The parent directory entry.
    pub const PARENT: u8 = 0x08;
    /// A metadata stream (UDF named streams).
    pub const METADATA: u8 = 0x10;
}

/// ECMA-167 4/14.4 fixed part, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawFid {
    /// RBP 0: tag (identifier 257).
    pub tag: RawTag,
    /// RBP 16: file version number.
    pub version: Le16,
    /// RBP 18: file characteristics.
    pub characteristics: u8,
    /// RBP 19: length of the file identifier (L_FI).
    pub name_len: u8,
    /// RBP 20: ICB of the file.
    pub icb: RawLongAd,
    /// RBP 36: length of implementation use (L_IU).
    pub impl_use_len: Le16,
}
const _: () = assert!(core::mem::size_of::<RawFid>() == FID_FIXED_LEN);

/// A parsed file identifier descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fid<'a> {
    /// File characteristics.
    pub characteristics: u8,
    /// The file's ICB.
    pub icb: LongAd,
    /// Implementation use.
    pub impl_use: &'a [u8],
    /// The file identifier in CS0 (empty for the parent entry).
    pub name: &'a [u8],
    /// The tag location recorded.
    pub location: u32,
}

impl Fid<'_> {
    /// Whether this is the parent entry.
    pub fn is_parent(&self) -> bool {
        self.characteristics & characteristics::PARENT != 0
    }
    /// Whether the entry is deleted.
    pub fn is_deleted(&self) -> bool {
        self.characteristics & characteristics::DELETED != 0
    }
    /// Whether the entry names a directory.
    pub fn is_dir(&self) -> bool {
        self.characteristics & characteristics::DIRECTORY != 0
    }
    /// Whether the entry is hidden.
    pub fn is_hidden(&self) -> bool {
        self.characteristics & characteristics::HIDDEN != 0
    }
}

/// The recorded length of a FID with these lengths.
pub fn recorded_len(impl_use_len: usize, name_len: usize) -> usize {
    FID_FIXED_LEN
        .saturating_add(impl_use_len)
        .saturating_add(name_len)
        .saturating_add(3)
        & !3
}

impl<'a> Fid<'a> {
    /// Parses the FID at the start of `b`, checking the tag's checksum and
    /// CRC; the caller compares [`Fid::location`] with where it was found.
    /// Returns the FID and its recorded length.
    pub fn parse(b: &'a [u8]) -> Result<(Fid<'a>, usize)> {
        let (raw, rest) = RawFid::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
            what: "file identifier descriptor",
            need: FID_FIXED_LEN,
            have: b.len(),
        })?;
        let iu_len = usize::from(raw.impl_use_len.get());
        let name_len = usize::from(raw.name_len);
        let total = recorded_len(iu_len, name_len);
        if total > b.len() {
            return Err(FormatError::Truncated {
                what: "file identifier descriptor",
                need: total,
                have: b.len(),
            });
        }
        let t = tag::Tag::parse(b)?;
        if t.ident != tag::FID {
            return Err(FormatError::BadValue {
                what: "file identifier descriptor tag identifier",
                value: t.ident.into(),
            });
        }
        // Checked above: total <= b.len(), and both fields lie within total.
        let impl_use = rest.get(..iu_len).unwrap_or_default();
        let name = rest
            .get(iu_len..iu_len.saturating_add(name_len))
            .unwrap_or_default();
        Ok((
            Fid {
                characteristics: raw.characteristics,
                icb: LongAd::from_raw(&raw.icb),
                impl_use,
                name,
                location: t.location,
            },
            total,
        ))
    }

    /// Appends the FID recorded at partition block `location`.
    pub fn encode(&self, location: u32, out: &mut Vec<u8>) -> Result<()> {
        let name_len = u8::try_from(self.name.len()).map_err(|_| FormatError::BadValue {
            what: "file identifier length",
            value: self.name.len() as u64,
        })?;
        let iu_len = u16::try_from(self.impl_use.len()).map_err(|_| FormatError::BadValue {
            what: "implementation use length",
            value: self.impl_use.len() as u64,
        })?;
        let raw = RawFid {
            tag: RawTag::default(),
            version: Le16::new(1),
            characteristics: self.characteristics,
            name_len,
            icb: self.icb.to_raw(),
            impl_use_len: Le16::new(iu_len),
        };
        let mut b = raw.as_bytes().to_vec();
        b.extend_from_slice(self.impl_use);
        b.extend_from_slice(self.name);
        b.resize(recorded_len(self.impl_use.len(), self.name.len()), 0);
        tag::seal(&mut b, tag::FID, location)?;
        out.extend_from_slice(&b);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udf::LbAddr;

    #[test]
    fn round_trip_and_overflowing_lengths() {
        let name = [8, b'a', b'.', b't', b'x', b't'];
        let f = Fid {
            characteristics: characteristics::HIDDEN,
            icb: LongAd::new(
                2048,
                LbAddr {
                    partition: 0,
                    block: 9,
                },
            ),
            impl_use: &[1, 2, 3],
            name: &name,
            location: 4,
        };
        let mut b = Vec::new();
        f.encode(4, &mut b).unwrap();
        assert_eq!(b.len(), 48);
        b.extend_from_slice(&[0xAA; 8]);
        let (p, n) = Fid::parse(&b).unwrap();
        assert_eq!((p, n), (f, 48));
        // L_IU claiming 65535 bytes: truncated, nothing read past the end.
        let mut bad = b.clone();
        bad[36..38].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            Fid::parse(&bad),
            Err(FormatError::Truncated { .. })
        ));
        // A flipped name byte breaks the CRC.
        let mut bad = b.clone();
        bad[44] ^= 0x20;
        assert!(matches!(
            Fid::parse(&bad),
            Err(FormatError::BadChecksum { .. })
        ));
        assert_eq!(recorded_len(0, 0), 40);
    }
}
