//! ECMA-119 §8: volume descriptors. The primary (type 1), supplementary and
//! enhanced (type 2; Joliet is a supplementary descriptor with UCS-2 escape
//! sequences, ISO 9660:1999 an enhanced one with version 2), boot record
//! (type 0) and terminator (type 255) share one 2048-byte layout.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::{Be32, Both16, Both32, Le32, Mismatch};
use crate::strings::{trim_field, trim_ucs2_field};
use crate::time::IsoTime;

/// The standard identifier of every ECMA-119 volume descriptor.
pub const STANDARD_ID: &[u8; 5] = b"CD001";

/// ECMA-119 §8.4 primary / §8.5 supplementary volume descriptor, byte for byte.
/// BP = byte position, 1-based as in the standard.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawVolumeDescriptor {
    /// BP 1: descriptor type.
    pub vd_type: u8,
    /// BP 2-6: "CD001".
    pub standard_id: [u8; 5],
    /// BP 7: descriptor version (1; 2 for ISO 9660:1999 enhanced).
    pub version: u8,
    /// BP 8: unused (PVD) / volume flags (SVD).
    pub flags: u8,
    /// BP 9-40: system identifier.
    pub system_id: [u8; 32],
    /// BP 41-72: volume identifier.
    pub volume_id: [u8; 32],
    /// BP 73-80: unused.
    pub unused1: [u8; 8],
    /// BP 81-88: volume space size in logical blocks.
    pub volume_space_size: Both32,
    /// BP 89-120: unused (PVD) / escape sequences (SVD).
    pub escape_sequences: [u8; 32],
    /// BP 121-124: volume set size.
    pub volume_set_size: Both16,
    /// BP 125-128: volume sequence number.
    pub volume_sequence_number: Both16,
    /// BP 129-132: logical block size.
    pub logical_block_size: Both16,
    /// BP 133-140: path table size in bytes.
    pub path_table_size: Both32,
    /// BP 141-144: location of the type L path table.
    pub l_path_table: Le32,
    /// BP 145-148: location of the optional type L path table.
    pub opt_l_path_table: Le32,
    /// BP 149-152: location of the type M path table.
    pub m_path_table: Be32,
    /// BP 153-156: location of the optional type M path table.
    pub opt_m_path_table: Be32,
    /// BP 157-190: directory record of the root directory.
    pub root_record: [u8; 34],
    /// BP 191-318: volume set identifier.
    pub volume_set_id: [u8; 128],
    /// BP 319-446: publisher identifier.
    pub publisher_id: [u8; 128],
    /// BP 447-574: data preparer identifier.
    pub preparer_id: [u8; 128],
    /// BP 575-702: application identifier.
    pub application_id: [u8; 128],
    /// BP 703-739: copyright file identifier.
    pub copyright_file_id: [u8; 37],
    /// BP 740-776: abstract file identifier.
    pub abstract_file_id: [u8; 37],
    /// BP 777-813: bibliographic file identifier.
    pub bibliographic_file_id: [u8; 37],
    /// BP 814-830: volume creation date and time.
    pub creation: [u8; 17],
    /// BP 831-847: volume modification date and time.
    pub modification: [u8; 17],
    /// BP 848-864: volume expiration date and time.
    pub expiration: [u8; 17],
    /// BP 865-881: volume effective date and time.
    pub effective: [u8; 17],
    /// BP 882: file structure version (1; 2 for ISO 9660:1999).
    pub file_structure_version: u8,
    /// BP 883: reserved.
    pub reserved1: u8,
    /// BP 884-1395: application use (isomd5sum keeps its digest here).
    pub application_use: [u8; 512],
    /// BP 1396-2048: reserved.
    pub reserved2: [u8; 653],
}
const _: () = assert!(core::mem::size_of::<RawVolumeDescriptor>() == 2048);

/// What a volume descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VolumeDescriptorKind {
    /// Type 0.
    BootRecord,
    /// Type 1.
    Primary,
    /// Type 2, version 1: a supplementary descriptor (Joliet when its escape
    /// sequences name UCS-2).
    Supplementary,
    /// Type 2, version 2: an ISO 9660:1999 enhanced descriptor.
    Enhanced,
    /// Type 3.
    Partition,
    /// Type 255.
    Terminator,
    /// Any other type.
    Unknown(u8),
}

/// Joliet level from the escape sequences of a supplementary descriptor
/// (`%/@`, `%/C`, `%/E` for levels 1-3), if they name UCS-2.
pub fn joliet_level(escape: &[u8; 32]) -> Option<u8> {
    escape.windows(3).find_map(|w| match w {
        [0x25, 0x2F, 0x40] => Some(1),
        [0x25, 0x2F, 0x43] => Some(2),
        [0x25, 0x2F, 0x45] => Some(3),
        _ => None,
    })
}

/// A parsed primary, supplementary or enhanced volume descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeDescriptor {
    /// Primary, supplementary or enhanced.
    pub kind: VolumeDescriptorKind,
    /// Descriptor version byte.
    pub version: u8,
    /// Volume flags (supplementary only).
    pub flags: u8,
    /// Joliet level, for a supplementary descriptor with UCS-2 escapes.
    pub joliet_level: Option<u8>,
    /// System identifier.
    pub system_id: String,
    /// Volume identifier.
    pub volume_id: String,
    /// Volume space size in logical blocks.
    pub volume_space_size: u32,
    /// Volume set size.
    pub volume_set_size: u16,
    /// Volume sequence number.
    pub volume_sequence_number: u16,
    /// Logical block size in bytes.
    pub logical_block_size: u16,
    /// Path table size in bytes.
    pub path_table_size: u32,
    /// Type L path table location.
    pub l_path_table: u32,
    /// Optional type L path table location (0 if none).
    pub opt_l_path_table: u32,
    /// Type M path table location.
    pub m_path_table: u32,
    /// Optional type M path table location (0 if none).
    pub opt_m_path_table: u32,
    /// The root directory record, as recorded.
    pub root_record: [u8; 34],
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Publisher identifier.
    pub publisher_id: String,
    /// Data preparer identifier.
    pub preparer_id: String,
    /// Application identifier.
    pub application_id: String,
    /// Copyright file identifier.
    pub copyright_file_id: String,
    /// Abstract file identifier.
    pub abstract_file_id: String,
    /// Bibliographic file identifier.
    pub bibliographic_file_id: String,
    /// Volume creation time.
    pub creation: Option<IsoTime>,
    /// Volume modification time.
    pub modification: Option<IsoTime>,
    /// Volume expiration time.
    pub expiration: Option<IsoTime>,
    /// Volume effective time.
    pub effective: Option<IsoTime>,
    /// File structure version.
    pub file_structure_version: u8,
    /// Application use bytes.
    pub application_use: Vec<u8>,
    /// Both-endian fields whose halves disagree: field name and halves.
    pub mismatches: Vec<(&'static str, Mismatch)>,
    /// Dates that could not be parsed (field name); they read as unset.
    pub bad_dates: Vec<&'static str>,
}

/// The descriptor type, standard identifier and version of a 2048-byte sector,
/// or an error if it is not an ECMA-119 volume descriptor.
pub fn descriptor_kind(sector: &[u8]) -> Result<VolumeDescriptorKind> {
    let raw = RawVolumeDescriptor::ref_from_prefix(sector)
        .map_err(|_| FormatError::Truncated {
            what: "volume descriptor",
            need: 2048,
            have: sector.len(),
        })?
        .0;
    if &raw.standard_id != STANDARD_ID {
        return Err(FormatError::BadMagic {
            what: "volume descriptor",
        });
    }
    Ok(match raw.vd_type {
        0 => VolumeDescriptorKind::BootRecord,
        1 => VolumeDescriptorKind::Primary,
        2 if raw.version == 2 => VolumeDescriptorKind::Enhanced,
        2 => VolumeDescriptorKind::Supplementary,
        3 => VolumeDescriptorKind::Partition,
        255 => VolumeDescriptorKind::Terminator,
        t => VolumeDescriptorKind::Unknown(t),
    })
}

impl VolumeDescriptor {
    /// Parses a primary, supplementary or enhanced descriptor.
    pub fn parse(sector: &[u8]) -> Result<VolumeDescriptor> {
        let kind = descriptor_kind(sector)?;
        if !matches!(
            kind,
            VolumeDescriptorKind::Primary
                | VolumeDescriptorKind::Supplementary
                | VolumeDescriptorKind::Enhanced
        ) {
            return Err(FormatError::BadValue {
                what: "volume descriptor type",
                value: u64::from(sector.first().copied().unwrap_or(0)),
            });
        }
        let (raw, _) =
            RawVolumeDescriptor::ref_from_prefix(sector).map_err(|_| FormatError::Truncated {
                what: "volume descriptor",
                need: 2048,
                have: sector.len(),
            })?;
        let mut mismatches = Vec::new();
        let mut b32 = |name: &'static str, v: Both32| {
            v.checked().unwrap_or_else(|m| {
                mismatches.push((name, m));
                v.get()
            })
        };
        let volume_space_size = b32("volume space size", raw.volume_space_size);
        let path_table_size = b32("path table size", raw.path_table_size);
        let mut b16 = |name: &'static str, v: Both16| {
            v.checked().unwrap_or_else(|m| {
                mismatches.push((name, m));
                v.get()
            })
        };
        let volume_set_size = b16("volume set size", raw.volume_set_size);
        let volume_sequence_number = b16("volume sequence number", raw.volume_sequence_number);
        let logical_block_size = b16("logical block size", raw.logical_block_size);
        let joliet = if kind == VolumeDescriptorKind::Supplementary {
            joliet_level(&raw.escape_sequences)
        } else {
            None
        };
        let text = |b: &[u8]| {
            if joliet.is_some() {
                trim_ucs2_field(b)
            } else {
                trim_field(b)
            }
        };
        let mut bad_dates = Vec::new();
        let mut date = |name: &'static str, b: &[u8; 17]| {
            IsoTime::from_dec_bytes(b).unwrap_or_else(|_| {
                bad_dates.push(name);
                None
            })
        };
        Ok(VolumeDescriptor {
            kind,
            version: raw.version,
            flags: raw.flags,
            joliet_level: joliet,
            system_id: text(&raw.system_id),
            volume_id: text(&raw.volume_id),
            volume_space_size,
            volume_set_size,
            volume_sequence_number,
            logical_block_size,
            path_table_size,
            l_path_table: raw.l_path_table.get(),
            opt_l_path_table: raw.opt_l_path_table.get(),
            m_path_table: raw.m_path_table.get(),
            opt_m_path_table: raw.opt_m_path_table.get(),
            root_record: raw.root_record,
            volume_set_id: text(&raw.volume_set_id),
            publisher_id: text(&raw.publisher_id),
            preparer_id: text(&raw.preparer_id),
            application_id: text(&raw.application_id),
            copyright_file_id: text(&raw.copyright_file_id),
            abstract_file_id: text(&raw.abstract_file_id),
            bibliographic_file_id: text(&raw.bibliographic_file_id),
            creation: date("creation date", &raw.creation),
            modification: date("modification date", &raw.modification),
            expiration: date("expiration date", &raw.expiration),
            effective: date("effective date", &raw.effective),
            file_structure_version: raw.file_structure_version,
            application_use: raw.application_use.to_vec(),
            mismatches,
            bad_dates,
        })
    }
}

/// ECMA-119 §8.2 boot record; El Torito (§2.0 of its specification) puts the
/// boot catalog's LBA in the first four bytes of the boot system use field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootRecord {
    /// Boot system identifier ("EL TORITO SPECIFICATION" for El Torito).
    pub boot_system_id: String,
    /// Boot identifier.
    pub boot_id: String,
    /// For El Torito: the boot catalog's sector.
    pub el_torito_catalog: Option<u32>,
}

/// The boot system identifier of an El Torito boot record.
pub const EL_TORITO_ID: &[u8] = b"EL TORITO SPECIFICATION";

impl BootRecord {
    /// Parses a type-0 descriptor.
    pub fn parse(sector: &[u8]) -> Result<BootRecord> {
        if sector.len() < 2048 {
            return Err(FormatError::Truncated {
                what: "boot record",
                need: 2048,
                have: sector.len(),
            });
        }
        let sys = sector.get(7..39).unwrap_or_default();
        let id = sector.get(39..71).unwrap_or_default();
        let is_et =
            sys.starts_with(EL_TORITO_ID) && sys.iter().skip(EL_TORITO_ID.len()).all(|&b| b == 0);
        let lba = sector
            .get(71..75)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes);
        Ok(BootRecord {
            boot_system_id: trim_field(sys),
            boot_id: trim_field(id),
            el_torito_catalog: if is_et { lba } else { None },
        })
    }

    /// Encodes an El Torito boot record pointing at `catalog_lba`.
    pub fn encode_el_torito(catalog_lba: u32) -> [u8; 2048] {
        let mut raw = RawVolumeDescriptor::new_zeroed();
        raw.vd_type = 0;
        raw.standard_id = *STANDARD_ID;
        raw.version = 1;
        // Boot system identifier (BP 8-39) then boot identifier (BP 40-71)
        // share the raw struct's flags/system_id/volume_id bytes.
        let bytes = raw.as_mut_bytes();
        let fill = |b: &mut [u8], at: usize, v: &[u8]| {
            if let Some(dst) = at.checked_add(v.len()).and_then(|end| b.get_mut(at..end)) {
                dst.copy_from_slice(v);
            }
        };
        fill(bytes, 7, EL_TORITO_ID);
        fill(bytes, 71, &catalog_lba.to_le_bytes());
        let mut out = [0u8; 2048];
        out.copy_from_slice(raw.as_bytes());
        out
    }
}

/// ECMA-167 2/9.1 volume structure descriptors that may follow the ECMA-119
/// terminator: the UDF recognition sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeStructure {
    /// `BEA01`: beginning of extended area.
    Bea01,
    /// `NSR02`: UDF up to 1.50.
    Nsr02,
    /// `NSR03`: UDF 2.00 and later.
    Nsr03,
    /// `TEA01`: terminating extended area.
    Tea01,
    /// `BOOT2`.
    Boot2,
    /// `CD001` (an ECMA-119 descriptor).
    Cd001,
}

/// Recognises an ECMA-167 volume structure descriptor (type 0, version 1).
pub fn volume_structure(sector: &[u8]) -> Option<VolumeStructure> {
    let id = sector.get(1..6)?;
    Some(match id {
        b"BEA01" => VolumeStructure::Bea01,
        b"NSR02" => VolumeStructure::Nsr02,
        b"NSR03" => VolumeStructure::Nsr03,
        b"TEA01" => VolumeStructure::Tea01,
        b"BOOT2" => VolumeStructure::Boot2,
        b"CD001" => VolumeStructure::Cd001,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvd() -> [u8; 2048] {
        let mut raw = RawVolumeDescriptor::new_zeroed();
        raw.vd_type = 1;
        raw.standard_id = *STANDARD_ID;
        raw.version = 1;
        crate::strings::pad_field(b"TESTVOL", &mut raw.volume_id);
        raw.volume_space_size = Both32::new(1234);
        raw.logical_block_size = Both16::new(2048);
        raw.creation = IsoTime::to_dec_bytes(Some(&IsoTime {
            unix: 1_000_000_000,
            nanos: 0,
            offset_quarters: 0,
        }));
        let mut out = [0u8; 2048];
        out.copy_from_slice(raw.as_bytes());
        out
    }

    #[test]
    fn parse_pvd() {
        let s = pvd();
        let vd = VolumeDescriptor::parse(&s).unwrap();
        assert_eq!(vd.kind, VolumeDescriptorKind::Primary);
        assert_eq!(vd.volume_id, "TESTVOL");
        assert_eq!(vd.volume_space_size, 1234);
        assert_eq!(vd.creation.unwrap().unix, 1_000_000_000);
        assert!(vd.mismatches.is_empty());
    }

    #[test]
    fn big_endian_mismatch_is_reported_le_wins() {
        let mut s = pvd();
        s[84..88].copy_from_slice(&[0, 0, 0, 9]); // BE half of volume space size
        let vd = VolumeDescriptor::parse(&s).unwrap();
        assert_eq!(vd.volume_space_size, 1234);
        assert_eq!(vd.mismatches.len(), 1);
        assert_eq!(vd.mismatches[0].0, "volume space size");
    }

    #[test]
    fn joliet_escapes() {
        let mut e = [0u8; 32];
        e[..3].copy_from_slice(&[0x25, 0x2F, 0x45]);
        assert_eq!(joliet_level(&e), Some(3));
        assert_eq!(joliet_level(&[0u8; 32]), None);
    }

    #[test]
    fn el_torito_boot_record_round_trip() {
        let s = BootRecord::encode_el_torito(77);
        assert_eq!(
            descriptor_kind(&s).unwrap(),
            VolumeDescriptorKind::BootRecord
        );
        let br = BootRecord::parse(&s).unwrap();
        assert_eq!(br.el_torito_catalog, Some(77));
        assert_eq!(br.boot_system_id, "EL TORITO SPECIFICATION");
    }

    #[test]
    fn short_or_foreign_sectors_fail() {
        assert!(descriptor_kind(&[0u8; 100]).is_err());
        assert!(descriptor_kind(&[0u8; 2048]).is_err());
        assert_eq!(
            volume_structure(b"\0NSR02\x01"),
            Some(VolumeStructure::Nsr02)
        );
    }
}
