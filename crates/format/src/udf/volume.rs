//! ECMA-167 part 3 volume descriptors of the volume descriptor sequence:
//! primary (3/10.1), volume descriptor pointer (3/10.3), implementation use
//! (3/10.4, UDF 2.2.7), partition (3/10.5), logical volume (3/10.6, UDF
//! 2.2.4), unallocated space (3/10.8) and terminating (3/10.9).

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::cs0::{dstring_lossy, encode_dstring};
use super::partition::PartitionMap;
use super::tag::{self, RawTag};
use super::time::RawTimestamp;
use super::{EntityId, ExtentAd, LongAd, RawCharspec, RawEntityId, RawExtentAd, RawLongAd};
use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32};
use crate::time::IsoTime;

/// Size of the fixed volume descriptors.
pub const VD_LEN: usize = 512;
/// Size of the fixed part of a logical volume descriptor.
pub const LVD_FIXED_LEN: usize = 440;

fn truncated(what: &'static str, need: usize, have: usize) -> FormatError {
    FormatError::Truncated { what, need, have }
}

/// ECMA-167 3/10.1 primary volume descriptor, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawPrimaryVolume {
    /// RBP 0: tag (identifier 1).
    pub tag: RawTag,
    /// RBP 16: volume descriptor sequence number.
    pub vdsn: Le32,
    /// RBP 20: primary volume descriptor number.
    pub number: Le32,
    /// RBP 24: volume identifier (dstring).
    pub volume_id: [u8; 32],
    /// RBP 56: volume sequence number.
    pub volume_seq: Le16,
    /// RBP 58: maximum volume sequence number.
    pub max_volume_seq: Le16,
    /// RBP 60: interchange level.
    pub interchange: Le16,
    /// RBP 62: maximum interchange level.
    pub max_interchange: Le16,
    /// RBP 64: character set list.
    pub charset_list: Le32,
    /// RBP 68: maximum character set list.
    pub max_charset_list: Le32,
    /// RBP 72: volume set identifier (dstring).
    pub volume_set_id: [u8; 128],
    /// RBP 200: descriptor character set.
    pub desc_charset: RawCharspec,
    /// RBP 264: explanatory character set.
    pub expl_charset: RawCharspec,
    /// RBP 328: volume abstract.
    pub abstract_ext: RawExtentAd,
    /// RBP 336: volume copyright notice.
    pub copyright_ext: RawExtentAd,
    /// RBP 344: application identifier.
    pub app_id: RawEntityId,
    /// RBP 376: recording date and time.
    pub recorded: RawTimestamp,
    /// RBP 388: implementation identifier.
    pub impl_id: RawEntityId,
    /// RBP 420: implementation use.
    pub impl_use: [u8; 64],
    /// RBP 484: predecessor volume descriptor sequence location.
    pub predecessor: Le32,
    /// RBP 488: flags.
    pub flags: Le16,
    /// RBP 490: reserved.
    pub reserved: [u8; 22],
}
const _: () = assert!(core::mem::size_of::<RawPrimaryVolume>() == VD_LEN);

/// A parsed primary volume descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryVolume {
    /// Volume descriptor sequence number.
    pub vdsn: u32,
    /// Primary volume descriptor number.
    pub number: u32,
    /// Volume identifier.
    pub volume_id: String,
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Recording date and time.
    pub recorded: Option<IsoTime>,
    /// Application identifier.
    pub app_id: EntityId,
    /// Implementation identifier.
    pub impl_id: EntityId,
}

impl PrimaryVolume {
    /// Parses and verifies a primary volume descriptor at sector `location`.
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::PVD, location)?;
        let (r, _) = RawPrimaryVolume::ref_from_prefix(b)
            .map_err(|_| truncated("primary volume descriptor", VD_LEN, b.len()))?;
        Ok(PrimaryVolume {
            vdsn: r.vdsn.get(),
            number: r.number.get(),
            volume_id: dstring_lossy(&r.volume_id),
            volume_set_id: dstring_lossy(&r.volume_set_id),
            recorded: r.recorded.to_iso().ok().flatten(),
            app_id: EntityId::from_raw(&r.app_id),
            impl_id: EntityId::from_raw(&r.impl_id),
        })
    }

    /// Encodes the descriptor recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<[u8; VD_LEN]> {
        let mut r = RawPrimaryVolume::new_zeroed();
        r.vdsn = Le32::new(self.vdsn);
        r.number = Le32::new(self.number);
        encode_dstring(&self.volume_id, &mut r.volume_id)?;
        r.volume_seq = Le16::new(1);
        r.max_volume_seq = Le16::new(1);
        r.interchange = Le16::new(2);
        r.max_interchange = Le16::new(2);
        r.charset_list = Le32::new(1);
        r.max_charset_list = Le32::new(1);
        encode_dstring(&self.volume_set_id, &mut r.volume_set_id)?;
        r.desc_charset = RawCharspec::osta_cs0();
        r.expl_charset = RawCharspec::osta_cs0();
        r.app_id = self.app_id.to_raw();
        r.recorded = RawTimestamp::from_iso(self.recorded.as_ref());
        r.impl_id = self.impl_id.to_raw();
        seal_fixed(r.as_bytes(), tag::PVD, location)
    }
}

fn seal_fixed(bytes: &[u8], ident: u16, location: u32) -> Result<[u8; VD_LEN]> {
    let mut out = [0u8; VD_LEN];
    out.copy_from_slice(bytes.get(..VD_LEN).ok_or(truncated(
        "volume descriptor",
        VD_LEN,
        bytes.len(),
    ))?);
    tag::seal(&mut out, ident, location)?;
    Ok(out)
}

/// ECMA-167 3/10.3 volume descriptor pointer, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawPointer {
    /// RBP 0: tag (identifier 3).
    pub tag: RawTag,
    /// RBP 16: volume descriptor sequence number.
    pub vdsn: Le32,
    /// RBP 20: next volume descriptor sequence extent.
    pub next: RawExtentAd,
    /// RBP 28: reserved.
    pub reserved: [u8; 484],
}
const _: () = assert!(core::mem::size_of::<RawPointer>() == VD_LEN);

/// A parsed volume descriptor pointer: the sequence continues at `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pointer {
    /// Volume descriptor sequence number.
    pub vdsn: u32,
    /// Where the sequence continues.
    pub next: ExtentAd,
}

impl Pointer {
    /// Parses and verifies a pointer at sector `location`.
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::VDP, location)?;
        let (r, _) = RawPointer::ref_from_prefix(b)
            .map_err(|_| truncated("volume descriptor pointer", VD_LEN, b.len()))?;
        Ok(Pointer {
            vdsn: r.vdsn.get(),
            next: ExtentAd::from_raw(&r.next),
        })
    }

    /// Encodes the pointer recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<[u8; VD_LEN]> {
        let mut r = RawPointer::new_zeroed();
        r.vdsn = Le32::new(self.vdsn);
        r.next = self.next.to_raw();
        seal_fixed(r.as_bytes(), tag::VDP, location)
    }
}

/// ECMA-167 3/10.4 implementation use volume descriptor with the UDF 2.2.7
/// LV information, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawImplUseVolume {
    /// RBP 0: tag (identifier 4).
    pub tag: RawTag,
    /// RBP 16: volume descriptor sequence number.
    pub vdsn: Le32,
    /// RBP 20: implementation identifier (`*UDF LV Info`).
    pub impl_id: RawEntityId,
    /// RBP 52: LV information character set.
    pub charset: RawCharspec,
    /// RBP 116: logical volume identifier (dstring).
    pub lv_id: [u8; 128],
    /// RBP 244: LV info 1-3 (dstrings: owner, organization, contact).
    pub info: [[u8; 36]; 3],
    /// RBP 352: implementation identifier of the writer.
    pub writer_id: RawEntityId,
    /// RBP 384: implementation use.
    pub impl_use: [u8; 128],
}
const _: () = assert!(core::mem::size_of::<RawImplUseVolume>() == VD_LEN);

/// A parsed implementation use volume descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplUseVolume {
    /// Volume descriptor sequence number.
    pub vdsn: u32,
    /// Implementation identifier (`*UDF LV Info` on UDF volumes).
    pub impl_id: EntityId,
    /// Logical volume identifier.
    pub lv_id: String,
    /// LV info 1-3.
    pub info: [String; 3],
}

impl ImplUseVolume {
    /// Parses and verifies the descriptor at sector `location`.
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::IUVD, location)?;
        let (r, _) = RawImplUseVolume::ref_from_prefix(b)
            .map_err(|_| truncated("implementation use volume descriptor", VD_LEN, b.len()))?;
        Ok(ImplUseVolume {
            vdsn: r.vdsn.get(),
            impl_id: EntityId::from_raw(&r.impl_id),
            lv_id: dstring_lossy(&r.lv_id),
            info: r.info.map(|f| dstring_lossy(&f)),
        })
    }

    /// Encodes the descriptor recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<[u8; VD_LEN]> {
        let mut r = RawImplUseVolume::new_zeroed();
        r.vdsn = Le32::new(self.vdsn);
        r.impl_id = self.impl_id.to_raw();
        r.charset = RawCharspec::osta_cs0();
        encode_dstring(&self.lv_id, &mut r.lv_id)?;
        for (f, s) in r.info.iter_mut().zip(&self.info) {
            encode_dstring(s, f)?;
        }
        seal_fixed(r.as_bytes(), tag::IUVD, location)
    }
}

/// ECMA-167 3/10.5 partition descriptor, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawPartitionDescriptor {
    /// RBP 0: tag (identifier 5).
    pub tag: RawTag,
    /// RBP 16: volume descriptor sequence number.
    pub vdsn: Le32,
    /// RBP 20: partition flags (bit 0: allocated).
    pub flags: Le16,
    /// RBP 22: partition number.
    pub number: Le16,
    /// RBP 24: partition contents (`+NSR02`, `+NSR03`).
    pub contents: RawEntityId,
    /// RBP 56: partition contents use (partition header descriptor).
    pub contents_use: [u8; 128],
    /// RBP 184: access type.
    pub access_type: Le32,
    /// RBP 188: partition starting location (sector).
    pub start: Le32,
    /// RBP 192: partition length in sectors.
    pub length: Le32,
    /// RBP 196: implementation identifier.
    pub impl_id: RawEntityId,
    /// RBP 228: implementation use.
    pub impl_use: [u8; 128],
    /// RBP 356: reserved.
    pub reserved: [u8; 156],
}
const _: () = assert!(core::mem::size_of::<RawPartitionDescriptor>() == VD_LEN);

/// A parsed partition descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescriptor {
    /// Volume descriptor sequence number.
    pub vdsn: u32,
    /// Partition flags.
    pub flags: u16,
    /// Partition number.
    pub number: u16,
    /// Partition contents identifier.
    pub contents: EntityId,
    /// Access type: 0 unspecified, 1 read-only, 2 write-once, 3 rewritable,
    /// 4 overwritable.
    pub access_type: u32,
    /// First sector.
    pub start: u32,
    /// Length in sectors.
    pub length: u32,
    /// Implementation identifier.
    pub impl_id: EntityId,
}

impl PartitionDescriptor {
    /// Parses and verifies the descriptor at sector `location`.
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::PD, location)?;
        let (r, _) = RawPartitionDescriptor::ref_from_prefix(b)
            .map_err(|_| truncated("partition descriptor", VD_LEN, b.len()))?;
        Ok(PartitionDescriptor {
            vdsn: r.vdsn.get(),
            flags: r.flags.get(),
            number: r.number.get(),
            contents: EntityId::from_raw(&r.contents),
            access_type: r.access_type.get(),
            start: r.start.get(),
            length: r.length.get(),
            impl_id: EntityId::from_raw(&r.impl_id),
        })
    }

    /// Encodes the descriptor recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<[u8; VD_LEN]> {
        let mut r = RawPartitionDescriptor::new_zeroed();
        r.vdsn = Le32::new(self.vdsn);
        r.flags = Le16::new(self.flags);
        r.number = Le16::new(self.number);
        r.contents = self.contents.to_raw();
        r.access_type = Le32::new(self.access_type);
        r.start = Le32::new(self.start);
        r.length = Le32::new(self.length);
        r.impl_id = self.impl_id.to_raw();
        seal_fixed(r.as_bytes(), tag::PD, location)
    }

    /// The access type in words.
    pub fn access_text(&self) -> &'static str {
        match self.access_type {
            0 => "unspecified",
            1 => "read-only",
            2 => "write-once",
            3 => "rewritable",
            4 => "overwritable",
            _ => "unknown",
        }
    }
}

/// ECMA-167 3/10.6 logical volume descriptor, fixed part, byte for byte
/// (partition maps follow).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawLogicalVolume {
    /// RBP 0: tag (identifier 6).
    pub tag: RawTag,
    /// RBP 16: volume descriptor sequence number.
    pub vdsn: Le32,
    /// RBP 20: descriptor character set.
    pub charset: RawCharspec,
    /// RBP 84: logical volume identifier (dstring).
    pub lv_id: [u8; 128],
    /// RBP 212: logical block size.
    pub block_size: Le32,
    /// RBP 216: domain identifier (`*OSTA UDF Compliant` + revision).
    pub domain: RawEntityId,
    /// RBP 248: logical volume contents use (UDF: long_ad of the FSD).
    pub fsd: RawLongAd,
    /// RBP 264: map table length.
    pub map_table_len: Le32,
    /// RBP 268: number of partition maps.
    pub num_maps: Le32,
    /// RBP 272: implementation identifier.
    pub impl_id: RawEntityId,
    /// RBP 304: implementation use.
    pub impl_use: [u8; 128],
    /// RBP 432: integrity sequence extent.
    pub integrity: RawExtentAd,
}
const _: () = assert!(core::mem::size_of::<RawLogicalVolume>() == LVD_FIXED_LEN);

/// A parsed logical volume descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    /// Volume descriptor sequence number.
    pub vdsn: u32,
    /// Logical volume identifier.
    pub lv_id: String,
    /// Logical block size.
    pub block_size: u32,
    /// Domain identifier.
    pub domain: EntityId,
    /// Where the file set descriptor is.
    pub fsd: LongAd,
    /// Implementation identifier.
    pub impl_id: EntityId,
    /// Integrity sequence extent.
    pub integrity: ExtentAd,
    /// Partition maps; an allocation descriptor's partition reference number
    /// indexes this list.
    pub maps: Vec<PartitionMap>,
}

impl LogicalVolume {
    /// The whole descriptor's length, from its fixed part.
    pub fn recorded_len(b: &[u8]) -> Result<usize> {
        let (r, _) = RawLogicalVolume::ref_from_prefix(b)
            .map_err(|_| truncated("logical volume descriptor", LVD_FIXED_LEN, b.len()))?;
        usize::try_from(r.map_table_len.get())
            .ok()
            .and_then(|n| n.checked_add(LVD_FIXED_LEN))
            .ok_or(FormatError::BadValue {
                what: "map table length",
                value: r.map_table_len.get().into(),
            })
    }

    /// Parses and verifies the descriptor at sector `location`; `b` holds
    /// the whole descriptor, maps included.
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::LVD, location)?;
        let (r, rest) = RawLogicalVolume::ref_from_prefix(b)
            .map_err(|_| truncated("logical volume descriptor", LVD_FIXED_LEN, b.len()))?;
        let table_len = usize::try_from(r.map_table_len.get()).unwrap_or(usize::MAX);
        let table =
            rest.get(..table_len)
                .ok_or(truncated("partition map table", table_len, rest.len()))?;
        let maps = PartitionMap::parse_table(table, r.num_maps.get())?;
        Ok(LogicalVolume {
            vdsn: r.vdsn.get(),
            lv_id: dstring_lossy(&r.lv_id),
            block_size: r.block_size.get(),
            domain: EntityId::from_raw(&r.domain),
            fsd: LongAd::from_raw(&r.fsd),
            impl_id: EntityId::from_raw(&r.impl_id),
            integrity: ExtentAd::from_raw(&r.integrity),
            maps,
        })
    }

    /// Encodes the descriptor recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<Vec<u8>> {
        let mut table = Vec::new();
        for m in &self.maps {
            m.encode(self.domain.revision(), &mut table);
        }
        let mut r = RawLogicalVolume::new_zeroed();
        r.vdsn = Le32::new(self.vdsn);
        r.charset = RawCharspec::osta_cs0();
        encode_dstring(&self.lv_id, &mut r.lv_id)?;
        r.block_size = Le32::new(self.block_size);
        r.domain = self.domain.to_raw();
        r.fsd = self.fsd.to_raw();
        r.map_table_len = Le32::new(u32::try_from(table.len()).unwrap_or(u32::MAX));
        r.num_maps = Le32::new(u32::try_from(self.maps.len()).unwrap_or(u32::MAX));
        r.impl_id = self.impl_id.to_raw();
        r.integrity = self.integrity.to_raw();
        let mut out = r.as_bytes().to_vec();
        out.extend_from_slice(&table);
        tag::seal(&mut out, tag::LVD, location)?;
        Ok(out)
    }
}

/// ECMA-167 3/10.8 unallocated space descriptor, fixed part, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawUnallocatedSpace {
    /// RBP 0: tag (identifier 7).
    pub tag: RawTag,
    /// RBP 16: volume descriptor sequence number.
    pub vdsn: Le32,
    /// RBP 20: number of allocation descriptors (extent_ad) that follow.
    pub count: Le32,
}
const _: () = assert!(core::mem::size_of::<RawUnallocatedSpace>() == 24);

/// The length of an unallocated space descriptor from its fixed part.
pub fn unallocated_space_len(b: &[u8]) -> Result<u64> {
    let (r, _) = RawUnallocatedSpace::ref_from_prefix(b)
        .map_err(|_| truncated("unallocated space descriptor", 24, b.len()))?;
    Ok(u64::from(r.count.get())
        .saturating_mul(8)
        .saturating_add(24))
}

/// Encodes an empty unallocated space descriptor at sector `location`.
pub fn encode_unallocated_space(vdsn: u32, location: u32) -> Result<[u8; VD_LEN]> {
    let mut out = [0u8; VD_LEN];
    out.get_mut(16..20)
        .ok_or(truncated("unallocated space descriptor", 24, 0))?
        .copy_from_slice(&vdsn.to_le_bytes());
    // Only the first 24 bytes are the descriptor; the CRC covers them.
    let mut t = tag::Tag::new(tag::USD, location, 24);
    t.crc_len = 8;
    t.write(&mut out)?;
    Ok(out)
}

/// Encodes a terminating descriptor (3/10.9, 4/14.2) at `location`.
pub fn encode_terminator(location: u32) -> [u8; VD_LEN] {
    let mut out = [0u8; VD_LEN];
    // The buffer is exactly the descriptor, so sealing cannot fail.
    let _ = tag::seal(&mut out, tag::TD, location);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udf::LbAddr;

    fn t0() -> IsoTime {
        IsoTime {
            unix: 1_700_000_000,
            nanos: 0,
            offset_quarters: 0,
        }
    }

    #[test]
    fn primary_round_trip() {
        let p = PrimaryVolume {
            vdsn: 1,
            number: 0,
            volume_id: "VOLUME".into(),
            volume_set_id: "0123456789abcdefSET".into(),
            recorded: Some(t0()),
            app_id: EntityId::new(b"*app", [0; 8]),
            impl_id: EntityId::new(b"*isoforge", [0; 8]),
        };
        let b = p.encode(32).unwrap();
        assert_eq!(PrimaryVolume::parse(&b, 32).unwrap(), p);
        assert!(PrimaryVolume::parse(&b, 33).is_err());
    }

    #[test]
    fn pointer_iuvd_partition_round_trip() {
        let v = Pointer {
            vdsn: 4,
            next: ExtentAd { len: 4096, loc: 99 },
        };
        assert_eq!(Pointer::parse(&v.encode(40).unwrap(), 40).unwrap(), v);
        let iu = ImplUseVolume {
            vdsn: 2,
            impl_id: EntityId::new(b"*UDF LV Info", [2, 1, 0, 0, 0, 0, 0, 0]),
            lv_id: "LV".into(),
            info: ["owner".into(), "org".into(), String::new()],
        };
        assert_eq!(
            ImplUseVolume::parse(&iu.encode(33).unwrap(), 33).unwrap(),
            iu
        );
        let pd = PartitionDescriptor {
            vdsn: 3,
            flags: 1,
            number: 0,
            contents: EntityId::new(b"+NSR03", [0; 8]),
            access_type: 1,
            start: 270,
            length: 1000,
            impl_id: EntityId::new(b"*isoforge", [0; 8]),
        };
        assert_eq!(
            PartitionDescriptor::parse(&pd.encode(34).unwrap(), 34).unwrap(),
            pd
        );
        assert_eq!(pd.access_text(), "read-only");
    }

    #[test]
    fn logical_volume_round_trip() {
        let lv = LogicalVolume {
            vdsn: 5,
            lv_id: "Logical".into(),
            block_size: 2048,
            domain: EntityId::domain(0x0250),
            fsd: LongAd::new(
                2048,
                LbAddr {
                    partition: 1,
                    block: 0,
                },
            ),
            impl_id: EntityId::new(b"*isoforge", [0; 8]),
            integrity: ExtentAd { len: 4096, loc: 64 },
            maps: vec![
                PartitionMap::Type1 {
                    volume_seq: 1,
                    partition: 0,
                },
                PartitionMap::Metadata {
                    volume_seq: 1,
                    partition: 0,
                    file_loc: 1,
                    mirror_loc: 2,
                    bitmap_loc: u32::MAX,
                    alloc_unit: 32,
                    align_unit: 1,
                    flags: 0,
                },
            ],
        };
        let b = lv.encode(35).unwrap();
        assert_eq!(b.len(), 440 + 70);
        assert_eq!(LogicalVolume::recorded_len(&b).unwrap(), 510);
        assert_eq!(LogicalVolume::parse(&b, 35).unwrap(), lv);
        // A map table longer than the buffer fails cleanly.
        let mut bad = b.clone();
        bad[264..268].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        crate::udf::tag::seal(&mut bad, tag::LVD, 35).unwrap();
        assert!(LogicalVolume::parse(&bad, 35).is_err());
    }

    #[test]
    fn terminator_and_unallocated() {
        let t = encode_terminator(50);
        assert_eq!(tag::Tag::verify(&t, tag::TD, 50).unwrap().crc_len, 496);
        let u = encode_unallocated_space(6, 51).unwrap();
        assert_eq!(tag::Tag::verify(&u, tag::USD, 51).unwrap().crc_len, 8);
        assert_eq!(unallocated_space_len(&u).unwrap(), 24);
    }
}
