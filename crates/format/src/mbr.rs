//! The DOS master boot record in the first 512 bytes of a hybrid image
//! (isohybrid, GRUB2 protective label, GPT protective MBR): boot code, disk
//! signature, four partition entries and the 0x55 0xAA signature. Byte
//! positions are 0-based offsets within the sector.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::Le32;

/// Size of the MBR sector.
pub const MBR_SIZE: usize = 512;
/// Boot signature at bytes 510-511.
pub const SIGNATURE: [u8; 2] = [0x55, 0xAA];

/// One 16-byte partition entry (bytes 446-509 hold four).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawMbrPartition {
    /// +0: status, 0x80 = active (bootable), 0x00 = inactive.
    pub status: u8,
    /// +1-3: CHS address of the first sector.
    pub chs_start: [u8; 3],
    /// +4: partition type.
    pub ptype: u8,
    /// +5-7: CHS address of the last sector.
    pub chs_end: [u8; 3],
    /// +8-11: LBA of the first sector (512-byte sectors).
    pub start_lba: Le32,
    /// +12-15: number of sectors.
    pub sectors: Le32,
}
const _: () = assert!(core::mem::size_of::<RawMbrPartition>() == 16);

/// The whole 512-byte MBR.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawMbr {
    /// 0-439: boot code (isohybrid and GRUB2 MBRs keep a 64-bit boot image
    /// address at 432-439).
    pub boot_code: [u8; 440],
    /// 440-443: disk signature.
    pub disk_signature: Le32,
    /// 444-445: reserved (0, or 0x5A5A for copy-protected).
    pub reserved: [u8; 2],
    /// 446-509: four partition entries.
    pub partitions: [RawMbrPartition; 4],
    /// 510-511: 0x55 0xAA.
    pub signature: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<RawMbr>() == MBR_SIZE);

/// A cylinder/head/sector address as packed in a partition entry: head in
/// byte 0, sector in bits 0-5 of byte 1, cylinder bits 8-9 in bits 6-7 of
/// byte 1 and bits 0-7 in byte 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Chs {
    /// Cylinder, 0-1023.
    pub cylinder: u16,
    /// Head, 0-255.
    pub head: u8,
    /// Sector, 1-63 (0 is invalid but recorded).
    pub sector: u8,
}

impl Chs {
    /// Unpacks three bytes.
    pub fn from_bytes(b: [u8; 3]) -> Chs {
        let [h, s, c] = b;
        Chs {
            cylinder: (u16::from(s & 0xC0) << 2) | u16::from(c),
            head: h,
            sector: s & 0x3F,
        }
    }
    /// Packs into three bytes (cylinder bits above 9 are dropped).
    pub fn to_bytes(self) -> [u8; 3] {
        let hi = u8::try_from((self.cylinder >> 2) & 0xC0).unwrap_or(0);
        let lo = u8::try_from(self.cylinder & 0xFF).unwrap_or(0);
        [self.head, (self.sector & 0x3F) | hi, lo]
    }
    /// The CHS address of 512-byte sector `lba` for a geometry of `heads`
    /// heads per cylinder and `secs` sectors per head, clamped to cylinder
    /// 1023 the way partitioning tools record addresses they cannot express.
    /// `None` if the geometry is 0.
    pub fn from_lba(lba: u32, heads: u8, secs: u8) -> Option<Chs> {
        let spc = u32::from(heads).checked_mul(u32::from(secs))?;
        let cyl = lba.checked_div(spc)?;
        let rem = lba.checked_rem(spc)?;
        if cyl > 1023 {
            return Some(Chs {
                cylinder: 1023,
                head: heads.checked_sub(1)?,
                sector: secs,
            });
        }
        Some(Chs {
            cylinder: u16::try_from(cyl).ok()?,
            head: u8::try_from(rem.checked_div(u32::from(secs))?).ok()?,
            sector: u8::try_from(rem.checked_rem(u32::from(secs))?.checked_add(1)?).ok()?,
        })
    }
}

/// A parsed partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MbrPartition {
    /// Status byte (+0).
    pub status: u8,
    /// First sector, CHS (+1-3).
    pub chs_start: Chs,
    /// Partition type (+4).
    pub ptype: u8,
    /// Last sector, CHS (+5-7).
    pub chs_end: Chs,
    /// First sector, LBA (+8-11).
    pub start_lba: u32,
    /// Sector count (+12-15).
    pub sectors: u32,
}

impl MbrPartition {
    /// Whether the entry is unused (type 0 and no sectors).
    pub fn is_empty(&self) -> bool {
        self.ptype == 0 && self.sectors == 0
    }
    /// One past the last sector, checked.
    pub fn end_lba(&self) -> Option<u64> {
        u64::from(self.start_lba).checked_add(u64::from(self.sectors))
    }
    fn from_raw(r: &RawMbrPartition) -> MbrPartition {
        MbrPartition {
            status: r.status,
            chs_start: Chs::from_bytes(r.chs_start),
            ptype: r.ptype,
            chs_end: Chs::from_bytes(r.chs_end),
            start_lba: r.start_lba.get(),
            sectors: r.sectors.get(),
        }
    }
    fn to_raw(self) -> RawMbrPartition {
        RawMbrPartition {
            status: self.status,
            chs_start: self.chs_start.to_bytes(),
            ptype: self.ptype,
            chs_end: self.chs_end.to_bytes(),
            start_lba: Le32::new(self.start_lba),
            sectors: Le32::new(self.sectors),
        }
    }
}

/// A parsed MBR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mbr {
    /// Boot code, bytes 0-439.
    pub boot_code: [u8; 440],
    /// Disk signature, bytes 440-443.
    pub disk_signature: u32,
    /// Bytes 444-445.
    pub reserved: [u8; 2],
    /// Partition entries 1-4, bytes 446-509.
    pub partitions: [MbrPartition; 4],
    /// Bytes 510-511 as recorded.
    pub signature: [u8; 2],
}

impl Mbr {
    /// Parses the first 512 bytes of `bytes`. The signature is not checked
    /// here; see [`Mbr::has_signature`].
    pub fn parse(bytes: &[u8]) -> Result<(Mbr, &[u8])> {
        let (raw, rest) = RawMbr::ref_from_prefix(bytes).map_err(|_| FormatError::Truncated {
            what: "MBR",
            need: MBR_SIZE,
            have: bytes.len(),
        })?;
        Ok((
            Mbr {
                boot_code: raw.boot_code,
                disk_signature: raw.disk_signature.get(),
                reserved: raw.reserved,
                partitions: raw.partitions.each_ref().map(MbrPartition::from_raw),
                signature: raw.signature,
            },
            rest,
        ))
    }

    /// Whether bytes 510-511 are 0x55 0xAA.
    pub fn has_signature(&self) -> bool {
        self.signature == SIGNATURE
    }

    /// The 64-bit little-endian value at bytes 432-439 of the boot code,
    /// where isohybrid MBRs keep the boot image's 512-byte address and GRUB2
    /// MBRs that address plus 4.
    pub fn boot_image_address(&self) -> u64 {
        let mut b = [0u8; 8];
        if let Some(s) = self.boot_code.get(432..440) {
            b.copy_from_slice(s);
        }
        u64::from_le_bytes(b)
    }

    /// Appends the 512 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawMbr {
            boot_code: self.boot_code,
            disk_signature: Le32::new(self.disk_signature),
            reserved: self.reserved,
            partitions: self.partitions.map(MbrPartition::to_raw),
            signature: self.signature,
        };
        out.extend_from_slice(raw.as_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_isohybrid_entry() {
        // ipxe.iso partition 1: 80 000100 17 3f2001 00000000 00100000
        let mut s = [0u8; 512];
        s[446..462].copy_from_slice(&[
            0x80, 0x00, 0x01, 0x00, 0x17, 0x3f, 0x20, 0x01, 0, 0, 0, 0, 0, 0x10, 0, 0,
        ]);
        s[510] = 0x55;
        s[511] = 0xAA;
        let (m, rest) = Mbr::parse(&s).unwrap();
        assert!(rest.is_empty());
        assert!(m.has_signature());
        let p = m.partitions[0];
        assert_eq!(
            (p.status, p.ptype, p.start_lba, p.sectors),
            (0x80, 0x17, 0, 4096)
        );
        assert_eq!(
            p.chs_start,
            Chs {
                cylinder: 0,
                head: 0,
                sector: 1
            }
        );
        assert_eq!(
            p.chs_end,
            Chs {
                cylinder: 1,
                head: 63,
                sector: 32
            }
        );
        assert_eq!(Chs::from_lba(4095, 64, 32), Some(p.chs_end));
        assert!(m.partitions[1].is_empty());
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, s);
    }

    #[test]
    fn round_trip_arbitrary_bytes() {
        let mut s = [0u8; 512];
        for (i, b) in s.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        let (m, _) = Mbr::parse(&s).unwrap();
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, s);
    }

    #[test]
    fn chs_packing_and_clamping() {
        for c in [0u16, 1, 255, 256, 1023] {
            let chs = Chs {
                cylinder: c,
                head: 254,
                sector: 63,
            };
            assert_eq!(Chs::from_bytes(chs.to_bytes()), chs);
        }
        assert_eq!(
            Chs::from_lba(u32::MAX, 255, 63),
            Some(Chs {
                cylinder: 1023,
                head: 254,
                sector: 63
            })
        );
        assert_eq!(Chs::from_lba(5, 0, 63), None);
    }

    #[test]
    fn truncated() {
        assert!(Mbr::parse(&[0u8; 511]).is_err());
    }
}
