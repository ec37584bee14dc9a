//! ECMA-167 (3rd edition) and OSTA UDF 1.02-2.60 on-disk structures.
//!
//! One module per descriptor: [`tag`] (the 16-byte descriptor tag with its
//! checksum and CRC), [`anchor`], [`volume`] (primary, implementation use,
//! partition, logical volume, unallocated space and terminating descriptors),
//! [`partition`] (partition maps and the sparing table), [`lvid`], [`fileset`],
//! [`icb`] (ICB tag, file entry, extended file entry, indirect entry and
//! allocation descriptors), [`fid`], [`aed`], [`ea`] (extended attributes),
//! [`cs0`] (OSTA compressed unicode), [`time`] (timestamps), [`path`]
//! (symbolic link path components) and [`vat`].
//!
//! Byte positions in the docs are 0-based relative byte positions (RBP), as in
//! ECMA-167 and the UDF specification. Every structure parses from a byte
//! slice and encodes back in the same module; parsers never index with a
//! value read from disk.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32};

pub mod aed;
pub mod anchor;
pub mod cs0;
pub mod ea;
pub mod fid;
pub mod fileset;
pub mod icb;
pub mod lvid;
pub mod partition;
pub mod path;
pub mod tag;
pub mod time;
pub mod vat;
pub mod volume;

/// ECMA-167 3/7.1 extent descriptor (`extent_ad`), byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct RawExtentAd {
    /// RBP 0: length in bytes.
    pub len: Le32,
    /// RBP 4: location (sector number).
    pub loc: Le32,
}
const _: () = assert!(core::mem::size_of::<RawExtentAd>() == 8);

/// An extent of the volume: `len` bytes from sector `loc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtentAd {
    /// Length in bytes.
    pub len: u32,
    /// First sector.
    pub loc: u32,
}

impl ExtentAd {
    /// From the raw record.
    pub fn from_raw(r: &RawExtentAd) -> Self {
        ExtentAd {
            len: r.len.get(),
            loc: r.loc.get(),
        }
    }
    /// The raw record.
    pub fn to_raw(self) -> RawExtentAd {
        RawExtentAd {
            len: Le32::new(self.len),
            loc: Le32::new(self.loc),
        }
    }
}

/// ECMA-167 4/7.1 recorded address (`lb_addr`), byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct RawLbAddr {
    /// RBP 0: logical block number within the partition.
    pub block: Le32,
    /// RBP 4: partition reference number (index into the partition maps).
    pub partition: Le16,
}
const _: () = assert!(core::mem::size_of::<RawLbAddr>() == 6);

/// A logical block of a partition of the logical volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct LbAddr {
    /// Partition reference number.
    pub partition: u16,
    /// Logical block number within the partition.
    pub block: u32,
}

impl LbAddr {
    /// From the raw record.
    pub fn from_raw(r: &RawLbAddr) -> Self {
        LbAddr {
            partition: r.partition.get(),
            block: r.block.get(),
        }
    }
    /// The raw record.
    pub fn to_raw(self) -> RawLbAddr {
        RawLbAddr {
            block: Le32::new(self.block),
            partition: Le16::new(self.partition),
        }
    }
}

/// ECMA-167 4/14.14.2 long allocation descriptor (`long_ad`), byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct RawLongAd {
    /// RBP 0: extent length; the top two bits are the extent type.
    pub len: Le32,
    /// RBP 4: extent location.
    pub loc: RawLbAddr,
    /// RBP 10: implementation use (UDF: flags and the UDF unique ID).
    pub impl_use: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<RawLongAd>() == 16);

/// ECMA-167 4/14.14.1.1: what an allocation descriptor's extent holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtentKind {
    /// Type 0: recorded and allocated.
    Recorded,
    /// Type 1: allocated but not recorded; reads as zeros.
    AllocatedNotRecorded,
    /// Type 2: neither recorded nor allocated (a hole); reads as zeros.
    NotAllocated,
    /// Type 3: the next extent of allocation descriptors (an AED).
    Continuation,
}

impl ExtentKind {
    /// The type from the top two bits of an extent length field.
    pub fn from_len_field(v: u32) -> Self {
        match v >> 30 {
            0 => ExtentKind::Recorded,
            1 => ExtentKind::AllocatedNotRecorded,
            2 => ExtentKind::NotAllocated,
            _ => ExtentKind::Continuation,
        }
    }
    /// The two type bits, in place.
    pub fn bits(self) -> u32 {
        match self {
            ExtentKind::Recorded => 0,
            ExtentKind::AllocatedNotRecorded => 1 << 30,
            ExtentKind::NotAllocated => 2 << 30,
            ExtentKind::Continuation => 3 << 30,
        }
    }
}

/// Largest extent length an allocation descriptor can hold (30 bits).
pub const MAX_EXTENT_LEN: u32 = 0x3FFF_FFFF;

/// A parsed `long_ad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LongAd {
    /// Extent length in bytes (30 bits).
    pub len: u32,
    /// Extent type bits (0-3), see [`ExtentKind`].
    pub kind_bits: u8,
    /// Location.
    pub loc: LbAddr,
    /// Implementation use bytes.
    pub impl_use: [u8; 6],
}

impl LongAd {
    /// From the raw record.
    pub fn from_raw(r: &RawLongAd) -> Self {
        let v = r.len.get();
        LongAd {
            len: v & MAX_EXTENT_LEN,
            kind_bits: u8::try_from(v >> 30).unwrap_or(0),
            loc: LbAddr::from_raw(&r.loc),
            impl_use: r.impl_use,
        }
    }
    /// Parses the first 16 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let (raw, _) = RawLongAd::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
            what: "long allocation descriptor",
            need: 16,
            have: b.len(),
        })?;
        Ok(Self::from_raw(raw))
    }
    /// A recorded extent of `len` bytes at `loc`.
    pub fn new(len: u32, loc: LbAddr) -> Self {
        LongAd {
            len: len & MAX_EXTENT_LEN,
            kind_bits: 0,
            loc,
            impl_use: [0; 6],
        }
    }
    /// The extent type.
    pub fn kind(&self) -> ExtentKind {
        ExtentKind::from_len_field(u32::from(self.kind_bits) << 30)
    }
    /// The raw record.
    pub fn to_raw(self) -> RawLongAd {
        RawLongAd {
            len: Le32::new((self.len & MAX_EXTENT_LEN) | (u32::from(self.kind_bits & 3) << 30)),
            loc: self.loc.to_raw(),
            impl_use: self.impl_use,
        }
    }
}

/// ECMA-167 1/7.4 entity identifier (`regid`), byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawEntityId {
    /// RBP 0: flags (bit 0 dirty, bit 1 protected).
    pub flags: u8,
    /// RBP 1: identifier, such as `*OSTA UDF Compliant`.
    pub id: [u8; 23],
    /// RBP 24: identifier suffix (UDF 2.1.5.3).
    pub suffix: [u8; 8],
}
const _: () = assert!(core::mem::size_of::<RawEntityId>() == 32);

/// A parsed entity identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntityId {
    /// Flags.
    pub flags: u8,
    /// Identifier bytes (NUL padded).
    pub id: [u8; 23],
    /// Identifier suffix.
    pub suffix: [u8; 8],
}

impl EntityId {
    /// From the raw record.
    pub fn from_raw(r: &RawEntityId) -> Self {
        EntityId {
            flags: r.flags,
            id: r.id,
            suffix: r.suffix,
        }
    }
    /// The raw record.
    pub fn to_raw(self) -> RawEntityId {
        RawEntityId {
            flags: self.flags,
            id: self.id,
            suffix: self.suffix,
        }
    }
    /// An identifier with `id` (truncated to 23 bytes) and a suffix.
    pub fn new(id: &[u8], suffix: [u8; 8]) -> Self {
        let mut e = EntityId {
            suffix,
            ..EntityId::default()
        };
        for (d, s) in e.id.iter_mut().zip(id) {
            *d = *s;
        }
        e
    }
    /// A domain identifier (UDF 2.1.5.3): `*OSTA UDF Compliant` with the
    /// revision (such as 0x0250) in the suffix.
    pub fn domain(revision: u16) -> Self {
        let [a, b] = revision.to_le_bytes();
        Self::new(DOMAIN_ID, [a, b, 0, 0, 0, 0, 0, 0])
    }
    /// A UDF identifier (partition map types, sparing table, VAT) with the
    /// revision in the suffix.
    pub fn udf(id: &[u8], revision: u16) -> Self {
        let [a, b] = revision.to_le_bytes();
        Self::new(id, [a, b, 0, 0, 0, 0, 0, 0])
    }
    /// The identifier as text, without NUL padding; bytes that are not
    /// printable ASCII are shown as `?`.
    pub fn id_text(&self) -> String {
        let end = self
            .id
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.id.len());
        self.id
            .get(..end)
            .unwrap_or_default()
            .iter()
            .map(|&b| {
                if (0x20..0x7F).contains(&b) {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect()
    }
    /// Whether the identifier is `id` (NUL padded).
    pub fn is(&self, id: &[u8]) -> bool {
        self.id.get(..id.len()) == Some(id)
            && self
                .id
                .get(id.len()..)
                .unwrap_or_default()
                .iter()
                .all(|&b| b == 0)
    }
    /// The UDF revision in a domain or UDF identifier suffix (RBP 0-1).
    pub fn revision(&self) -> u16 {
        u16::from_le_bytes([self.suffix[0], self.suffix[1]])
    }
}

/// `*OSTA UDF Compliant`, the domain identifier of UDF volumes.
pub const DOMAIN_ID: &[u8] = b"*OSTA UDF Compliant";

/// ECMA-167 1/7.2.1 character set specification, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawCharspec {
    /// RBP 0: character set type (0 = CS0).
    pub kind: u8,
    /// RBP 1: character set information (`OSTA Compressed Unicode`).
    pub info: [u8; 63],
}
const _: () = assert!(core::mem::size_of::<RawCharspec>() == 64);

impl RawCharspec {
    /// The OSTA CS0 charspec (UDF 2.1.2).
    pub fn osta_cs0() -> Self {
        let mut info = [0u8; 63];
        for (d, s) in info.iter_mut().zip(b"OSTA Compressed Unicode") {
            *d = *s;
        }
        RawCharspec { kind: 0, info }
    }
}

/// Formats a UDF revision such as 0x0250 as `2.50`.
pub fn revision_text(rev: u16) -> String {
    format!("{}.{:02x}", rev >> 8, rev & 0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ad_round_trip_keeps_the_type_bits() {
        let ad = LongAd {
            len: 0x3FFF_F800,
            kind_bits: 2,
            loc: LbAddr {
                partition: 1,
                block: 77,
            },
            impl_use: [1, 2, 3, 4, 5, 6],
        };
        let raw = ad.to_raw();
        assert_eq!(raw.as_bytes()[3] >> 6, 2);
        assert_eq!(LongAd::parse(raw.as_bytes()).unwrap(), ad);
        assert_eq!(ad.kind(), ExtentKind::NotAllocated);
        assert!(LongAd::parse(&[0; 15]).is_err());
    }

    #[test]
    fn entity_ids() {
        let d = EntityId::domain(0x0250);
        assert!(d.is(DOMAIN_ID));
        assert!(!d.is(b"*OSTA UDF"));
        assert_eq!(d.revision(), 0x0250);
        assert_eq!(d.id_text(), "*OSTA UDF Compliant");
        assert_eq!(EntityId::from_raw(&d.to_raw()), d);
        assert_eq!(revision_text(0x0102), "1.02");
        assert_eq!(revision_text(0x0260), "2.60");
    }
}
