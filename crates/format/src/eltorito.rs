//! El Torito Bootable CD-ROM Format Specification 1.0 (Phoenix/IBM, 1995):
//! the boot catalog (§2.1-§2.5: validation entry, initial/default entry,
//! section headers, section entries, section entry extensions), plus the
//! patches that boot-image makers apply inside a no-emulation boot image: the
//! mkisofs boot information table, GRUB2 boot info and the ISOLINUX
//! isohybrid magic.
//!
//! The boot record volume descriptor that points at the catalog lives in
//! [`crate::ecma119::volume::BootRecord`].
//!
//! All catalog records are 32 bytes. Offsets below ("byte 0x00-0x01") are
//! 0-based within the record, as in the El Torito tables.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32};

/// Size of every boot catalog record.
pub const ENTRY_SIZE: usize = 32;

/// El Torito §2.1 validation entry key bytes (offsets 0x1E-0x1F).
pub const KEY: [u8; 2] = [0x55, 0xAA];

/// Section header indicator: more headers follow (§2.4, offset 0x00).
pub const HEADER_MORE: u8 = 0x90;
/// Section header indicator: final header (§2.4, offset 0x00).
pub const HEADER_FINAL: u8 = 0x91;
/// Boot indicator of a bootable entry (§2.2/§2.5, offset 0x00).
pub const BOOTABLE: u8 = 0x88;
/// Extension indicator of a section entry extension (§2.5 extension, offset 0x00).
pub const EXTENSION: u8 = 0x44;

/// Bit 5 of the media byte of a section entry: a section entry extension
/// follows (§2.5, offset 0x01).
const CONTINUATION_BIT: u8 = 0x20;
/// Bit 5 of the flags byte of an extension: more extensions follow.
const MORE_EXTENSIONS_BIT: u8 = 0x20;

/// §2.1 validation entry, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawValidationEntry {
    /// 0x00: header id, must be 1.
    pub header_id: u8,
    /// 0x01: platform id.
    pub platform_id: u8,
    /// 0x02-0x03: reserved, 0.
    pub reserved: [u8; 2],
    /// 0x04-0x1B: id string (manufacturer/developer).
    pub id_string: [u8; 24],
    /// 0x1C-0x1D: checksum word; the sixteen 16-bit words of the entry sum to 0.
    pub checksum: Le16,
    /// 0x1E-0x1F: key bytes 0x55 0xAA.
    pub key: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<RawValidationEntry>() == ENTRY_SIZE);

/// §2.2 initial/default entry and §2.5 section entry, byte for byte (the
/// initial entry leaves 0x0C-0x1F unused).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawBootEntry {
    /// 0x00: boot indicator, 0x88 bootable, 0x00 not bootable.
    pub boot_indicator: u8,
    /// 0x01: boot media type in bits 0-3; bit 5 = continuation entry follows.
    pub media: u8,
    /// 0x02-0x03: load segment (0 means the traditional 0x7C0).
    pub load_segment: Le16,
    /// 0x04: system type (partition type of a hard-disk image).
    pub system_type: u8,
    /// 0x05: unused, 0.
    pub unused: u8,
    /// 0x06-0x07: sector count, in 512-byte virtual sectors.
    pub sector_count: Le16,
    /// 0x08-0x0B: load RBA, the image's start in 2048-byte sectors.
    pub load_rba: Le32,
    /// 0x0C: selection criteria type (section entries).
    pub selection_criteria_type: u8,
    /// 0x0D-0x1F: vendor-unique selection criteria (section entries).
    pub selection_criteria: [u8; 19],
}
const _: () = assert!(core::mem::size_of::<RawBootEntry>() == ENTRY_SIZE);

/// §2.4 section header entry, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawSectionHeader {
    /// 0x00: header indicator, 0x90 more headers follow, 0x91 final header.
    pub indicator: u8,
    /// 0x01: platform id.
    pub platform_id: u8,
    /// 0x02-0x03: number of section entries following this header.
    pub num_entries: Le16,
    /// 0x04-0x1F: id string.
    pub id_string: [u8; 28],
}
const _: () = assert!(core::mem::size_of::<RawSectionHeader>() == ENTRY_SIZE);

/// §2.5 section entry extension, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawExtensionEntry {
    /// 0x00: extension indicator, 0x44.
    pub indicator: u8,
    /// 0x01: bit 5 = more extensions follow.
    pub flags: u8,
    /// 0x02-0x1F: vendor-unique selection criteria.
    pub criteria: [u8; 30],
}
const _: () = assert!(core::mem::size_of::<RawExtensionEntry>() == ENTRY_SIZE);

/// §2.1/§2.4 platform id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// 0: 80x86 PC BIOS.
    X86,
    /// 1: PowerPC.
    PowerPc,
    /// 2: Mac.
    Mac,
    /// 0xEF: UEFI (an id the UEFI specification added to El Torito).
    Efi,
    /// Any other value.
    Unknown(u8),
}

impl Platform {
    /// Decodes a platform id byte.
    pub fn from_u8(v: u8) -> Platform {
        match v {
            0 => Platform::X86,
            1 => Platform::PowerPc,
            2 => Platform::Mac,
            0xEF => Platform::Efi,
            v => Platform::Unknown(v),
        }
    }
    /// The platform id byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Platform::X86 => 0,
            Platform::PowerPc => 1,
            Platform::Mac => 2,
            Platform::Efi => 0xEF,
            Platform::Unknown(v) => v,
        }
    }
}

/// §2.2 boot media type (bits 0-3 of offset 0x01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Emulation {
    /// 0: no emulation.
    NoEmulation,
    /// 1: 1.2 MB floppy.
    Floppy12,
    /// 2: 1.44 MB floppy.
    Floppy144,
    /// 3: 2.88 MB floppy.
    Floppy288,
    /// 4: hard disk (drive 80).
    HardDisk,
    /// Any other value of bits 0-3.
    Unknown(u8),
}

impl Emulation {
    /// Decodes bits 0-3 of the media byte.
    pub fn from_u8(v: u8) -> Emulation {
        match v & 0x0F {
            0 => Emulation::NoEmulation,
            1 => Emulation::Floppy12,
            2 => Emulation::Floppy144,
            3 => Emulation::Floppy288,
            4 => Emulation::HardDisk,
            v => Emulation::Unknown(v),
        }
    }
    /// The media type value (bits 0-3).
    pub fn to_u8(self) -> u8 {
        match self {
            Emulation::NoEmulation => 0,
            Emulation::Floppy12 => 1,
            Emulation::Floppy144 => 2,
            Emulation::Floppy288 => 3,
            Emulation::HardDisk => 4,
            Emulation::Unknown(v) => v & 0x0F,
        }
    }
}

fn record<'a, T: FromBytes + KnownLayout + Immutable>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(&'a T, &'a [u8])> {
    T::ref_from_prefix(bytes).map_err(|_| FormatError::Truncated {
        what,
        need: ENTRY_SIZE,
        have: bytes.len(),
    })
}

/// §2.1 checksum rule: the sum of the sixteen little-endian 16-bit words of
/// the validation entry, wrapping; 0 for a correct entry.
pub fn validation_word_sum(entry: &[u8; ENTRY_SIZE]) -> u16 {
    entry
        .chunks_exact(2)
        .map(|w| {
            u16::from_le_bytes([
                w.first().copied().unwrap_or(0),
                w.get(1).copied().unwrap_or(0),
            ])
        })
        .fold(0u16, u16::wrapping_add)
}

/// A parsed §2.1 validation entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationEntry {
    /// Platform of the default entry (0x01).
    pub platform: Platform,
    /// Reserved bytes (0x02-0x03).
    pub reserved: [u8; 2],
    /// Id string (0x04-0x1B), as recorded.
    pub id_string: [u8; 24],
    /// Checksum word as recorded (0x1C-0x1D).
    pub checksum: u16,
    /// Whether the words of the entry sum to 0.
    pub checksum_ok: bool,
    /// Key bytes as recorded (0x1E-0x1F).
    pub key: [u8; 2],
}

impl ValidationEntry {
    /// Parses the first 32 bytes of a catalog. A header id other than 1 is an
    /// error; a wrong checksum or key is reported in the fields, because real
    /// catalogs have them and firmware varies in what it checks.
    pub fn parse(bytes: &[u8]) -> Result<(ValidationEntry, &[u8])> {
        let (raw, rest) = record::<RawValidationEntry>(bytes, "El Torito validation entry")?;
        if raw.header_id != 1 {
            return Err(FormatError::BadMagic {
                what: "El Torito validation entry",
            });
        }
        let mut whole = [0u8; ENTRY_SIZE];
        whole.copy_from_slice(raw.as_bytes());
        Ok((
            ValidationEntry {
                platform: Platform::from_u8(raw.platform_id),
                reserved: raw.reserved,
                id_string: raw.id_string,
                checksum: raw.checksum.get(),
                checksum_ok: validation_word_sum(&whole) == 0,
                key: raw.key,
            },
            rest,
        ))
    }

    /// Whether the key bytes are 0x55 0xAA.
    pub fn key_ok(&self) -> bool {
        self.key == KEY
    }

    /// A valid validation entry for `platform` and `id_string`.
    pub fn new(platform: Platform, id_string: [u8; 24]) -> ValidationEntry {
        let mut v = ValidationEntry {
            platform,
            reserved: [0; 2],
            id_string,
            checksum: 0,
            checksum_ok: true,
            key: KEY,
        };
        v.checksum = v.compute_checksum();
        v
    }

    fn raw(&self, checksum: u16) -> RawValidationEntry {
        RawValidationEntry {
            header_id: 1,
            platform_id: self.platform.to_u8(),
            reserved: self.reserved,
            id_string: self.id_string,
            checksum: Le16::new(checksum),
            key: self.key,
        }
    }

    /// The checksum word that makes the entry's words sum to 0.
    pub fn compute_checksum(&self) -> u16 {
        let mut whole = [0u8; ENTRY_SIZE];
        whole.copy_from_slice(self.raw(0).as_bytes());
        0u16.wrapping_sub(validation_word_sum(&whole))
    }

    /// Appends the 32 bytes of the entry, with the recorded checksum and key.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.raw(self.checksum).as_bytes());
    }
}

/// A parsed §2.2 initial/default entry or §2.5 section entry, with the
/// section entry extensions that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEntry {
    /// Boot indicator byte (0x00): 0x88 bootable, 0x00 not.
    pub boot_indicator: u8,
    /// Boot media type (bits 0-3 of 0x01).
    pub emulation: Emulation,
    /// The whole media byte (0x01): bit 5 = continuation entry follows,
    /// bits 6-7 are vendor flags in section entries.
    pub media: u8,
    /// Load segment (0x02-0x03).
    pub load_segment: u16,
    /// System type (0x04).
    pub system_type: u8,
    /// Unused byte (0x05).
    pub unused: u8,
    /// Sector count, 512-byte virtual sectors (0x06-0x07).
    pub sector_count: u16,
    /// Load RBA, 2048-byte sectors (0x08-0x0B).
    pub load_rba: u32,
    /// Selection criteria type (0x0C).
    pub selection_criteria_type: u8,
    /// Vendor selection criteria (0x0D-0x1F).
    pub selection_criteria: [u8; 19],
    /// Section entry extensions that followed (§2.5, indicator 0x44).
    pub extensions: Vec<ExtensionEntry>,
}

impl BootEntry {
    /// Parses one 32-byte entry (without its extensions).
    pub fn parse(bytes: &[u8]) -> Result<(BootEntry, &[u8])> {
        let (raw, rest) = record::<RawBootEntry>(bytes, "El Torito boot entry")?;
        Ok((
            BootEntry {
                boot_indicator: raw.boot_indicator,
                emulation: Emulation::from_u8(raw.media),
                media: raw.media,
                load_segment: raw.load_segment.get(),
                system_type: raw.system_type,
                unused: raw.unused,
                sector_count: raw.sector_count.get(),
                load_rba: raw.load_rba.get(),
                selection_criteria_type: raw.selection_criteria_type,
                selection_criteria: raw.selection_criteria,
                extensions: Vec::new(),
            },
            rest,
        ))
    }

    /// Whether the boot indicator is 0x88.
    pub fn bootable(&self) -> bool {
        self.boot_indicator == BOOTABLE
    }

    /// Whether bit 5 of the media byte announces an extension entry.
    pub fn continuation(&self) -> bool {
        self.media & CONTINUATION_BIT != 0
    }

    /// Appends the 32-byte entry followed by its extensions. The media byte
    /// is written as recorded (its low bits are `emulation`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawBootEntry {
            boot_indicator: self.boot_indicator,
            media: (self.media & 0xF0) | self.emulation.to_u8(),
            load_segment: Le16::new(self.load_segment),
            system_type: self.system_type,
            unused: self.unused,
            sector_count: Le16::new(self.sector_count),
            load_rba: Le32::new(self.load_rba),
            selection_criteria_type: self.selection_criteria_type,
            selection_criteria: self.selection_criteria,
        };
        out.extend_from_slice(raw.as_bytes());
        for e in &self.extensions {
            e.encode(out);
        }
    }
}

/// A parsed §2.4 section header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHeader {
    /// Header indicator (0x00): 0x90 more follow, 0x91 final.
    pub indicator: u8,
    /// Platform of the section's entries (0x01).
    pub platform: Platform,
    /// Number of section entries (0x02-0x03).
    pub num_entries: u16,
    /// Id string (0x04-0x1F).
    pub id_string: [u8; 28],
}

impl SectionHeader {
    /// Parses a 32-byte section header; the indicator must be 0x90 or 0x91.
    pub fn parse(bytes: &[u8]) -> Result<(SectionHeader, &[u8])> {
        let (raw, rest) = record::<RawSectionHeader>(bytes, "El Torito section header")?;
        if raw.indicator != HEADER_MORE && raw.indicator != HEADER_FINAL {
            return Err(FormatError::BadValue {
                what: "El Torito section header indicator",
                value: raw.indicator.into(),
            });
        }
        Ok((
            SectionHeader {
                indicator: raw.indicator,
                platform: Platform::from_u8(raw.platform_id),
                num_entries: raw.num_entries.get(),
                id_string: raw.id_string,
            },
            rest,
        ))
    }

    /// Whether this is the final header (0x91).
    pub fn is_final(&self) -> bool {
        self.indicator == HEADER_FINAL
    }

    /// Appends the 32-byte header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawSectionHeader {
            indicator: self.indicator,
            platform_id: self.platform.to_u8(),
            num_entries: Le16::new(self.num_entries),
            id_string: self.id_string,
        };
        out.extend_from_slice(raw.as_bytes());
    }
}

/// A parsed §2.5 section entry extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionEntry {
    /// Flags byte (0x01); bit 5 = more extensions follow.
    pub flags: u8,
    /// Vendor selection criteria (0x02-0x1F).
    pub criteria: [u8; 30],
}

impl ExtensionEntry {
    /// Parses a 32-byte extension; the indicator must be 0x44.
    pub fn parse(bytes: &[u8]) -> Result<(ExtensionEntry, &[u8])> {
        let (raw, rest) = record::<RawExtensionEntry>(bytes, "El Torito extension entry")?;
        if raw.indicator != EXTENSION {
            return Err(FormatError::BadValue {
                what: "El Torito extension indicator",
                value: raw.indicator.into(),
            });
        }
        Ok((
            ExtensionEntry {
                flags: raw.flags,
                criteria: raw.criteria,
            },
            rest,
        ))
    }

    /// Whether bit 5 announces another extension.
    pub fn more_follow(&self) -> bool {
        self.flags & MORE_EXTENSIONS_BIT != 0
    }

    /// Appends the 32-byte extension.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawExtensionEntry {
            indicator: EXTENSION,
            flags: self.flags,
            criteria: self.criteria,
        };
        out.extend_from_slice(raw.as_bytes());
    }
}

/// One §2.4 section: its header and entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section header.
    pub header: SectionHeader,
    /// Its section entries, in order.
    pub entries: Vec<BootEntry>,
}

/// A parsed boot catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// §2.1 validation entry (record 0).
    pub validation: ValidationEntry,
    /// §2.2 initial/default entry (record 1).
    pub default_entry: BootEntry,
    /// §2.4-§2.5 sections, in order.
    pub sections: Vec<Section>,
}

impl Catalog {
    /// Encodes the catalog (without padding to a sector).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.validation.encode(out);
        self.default_entry.encode(out);
        for s in &self.sections {
            s.header.encode(out);
            for e in &s.entries {
                e.encode(out);
            }
        }
    }
}

/// Takes the extensions announced by `entry`'s continuation bit.
fn take_extensions(
    entry: &mut BootEntry,
    cur: &mut Cursor<'_>,
    records: &mut usize,
    max_records: usize,
) -> Result<()> {
    let mut more = entry.continuation();
    while more {
        bump(records, max_records)?;
        let (ext, _) = ExtensionEntry::parse(cur.take(ENTRY_SIZE)?)?;
        more = ext.more_follow();
        entry.extensions.push(ext);
    }
    Ok(())
}

fn bump(records: &mut usize, max_records: usize) -> Result<()> {
    *records = records.saturating_add(1);
    if *records > max_records {
        return Err(FormatError::BadValue {
            what: "number of El Torito boot catalog records (over the limit)",
            value: u64::try_from(*records).unwrap_or(u64::MAX),
        });
    }
    Ok(())
}

/// Parses a boot catalog from `bytes` (§2). At most `max_records` 32-byte
/// records are read in all (validation and default entries, headers, entries
/// and extensions), so the work is bounded by the caller.
///
/// The catalog ends after the entries of the final (0x91) section header. A
/// catalog whose record after the default entry (or after a section) is not a
/// section header ends there, unless the previous header announced more
/// (0x90), in which case that record is an error. Running out of bytes inside
/// a section, or before the final header, is [`FormatError::Truncated`].
pub fn parse_catalog(bytes: &[u8], max_records: usize) -> Result<Catalog> {
    let mut cur = Cursor::new(bytes, "El Torito boot catalog");
    let mut records = 0usize;
    bump(&mut records, max_records)?;
    let (validation, _) = ValidationEntry::parse(cur.take(ENTRY_SIZE)?)?;
    bump(&mut records, max_records)?;
    let (mut default_entry, _) = BootEntry::parse(cur.take(ENTRY_SIZE)?)?;
    // The initial entry has no continuation bit in §2.2; its 0x01 byte is
    // only the media type, so no extensions are taken for it.
    default_entry.extensions.clear();
    let mut sections = Vec::new();
    let mut expect_more = false;
    loop {
        if cur.is_empty() && !expect_more {
            break;
        }
        let rec = cur.take(ENTRY_SIZE)?;
        let indicator = rec.first().copied().unwrap_or(0);
        if indicator != HEADER_MORE && indicator != HEADER_FINAL {
            if expect_more {
                return Err(FormatError::BadValue {
                    what: "El Torito section header indicator",
                    value: indicator.into(),
                });
            }
            break;
        }
        bump(&mut records, max_records)?;
        let (header, _) = SectionHeader::parse(rec)?;
        let mut entries = Vec::new();
        for _ in 0..header.num_entries {
            bump(&mut records, max_records)?;
            let (mut e, _) = BootEntry::parse(cur.take(ENTRY_SIZE)?)?;
            take_extensions(&mut e, &mut cur, &mut records, max_records)?;
            entries.push(e);
        }
        let fin = header.is_final();
        sections.push(Section { header, entries });
        if fin {
            break;
        }
        expect_more = true;
    }
    Ok(Catalog {
        validation,
        default_entry,
        sections,
    })
}

/// Offset of the mkisofs `-boot-info-table` inside a boot image.
pub const BOOT_INFO_TABLE_OFFSET: usize = 8;
/// The boot info table checksum covers the boot file from this byte on.
pub const BOOT_INFO_CHECKSUM_START: usize = 64;

/// The 56-byte boot information table that `mkisofs -boot-info-table` writes
/// at offset 8 of a no-emulation boot image, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawBootInfoTable {
    /// Image bytes 8-11: LBA of the primary volume descriptor (16).
    pub pvd_lba: Le32,
    /// Image bytes 12-15: LBA of the boot file.
    pub file_lba: Le32,
    /// Image bytes 16-19: boot file length in bytes.
    pub file_len: Le32,
    /// Image bytes 20-23: 32-bit checksum of the boot file from byte 64 on.
    pub checksum: Le32,
    /// Image bytes 24-63: reserved, zero.
    pub reserved: [u8; 40],
}
const _: () = assert!(core::mem::size_of::<RawBootInfoTable>() == 56);

/// A parsed boot information table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootInfoTable {
    /// LBA of the primary volume descriptor.
    pub pvd_lba: u32,
    /// LBA of the boot file.
    pub file_lba: u32,
    /// Boot file length in bytes.
    pub file_len: u32,
    /// Sum of the little-endian 32-bit words of the file from byte 64 on.
    pub checksum: u32,
}

impl BootInfoTable {
    /// Parses the table from the start of a boot image (it reads bytes
    /// 8-63); the rest of the image after byte 64 is returned.
    pub fn parse(image: &[u8]) -> Result<(BootInfoTable, &[u8])> {
        let mut cur = Cursor::new(image, "boot info table");
        cur.take(BOOT_INFO_TABLE_OFFSET)?;
        let (raw, rest) =
            RawBootInfoTable::ref_from_prefix(cur.rest()).map_err(|_| FormatError::Truncated {
                what: "boot info table",
                need: BOOT_INFO_CHECKSUM_START,
                have: image.len(),
            })?;
        Ok((
            BootInfoTable {
                pvd_lba: raw.pvd_lba.get(),
                file_lba: raw.file_lba.get(),
                file_len: raw.file_len.get(),
                checksum: raw.checksum.get(),
            },
            rest,
        ))
    }

    /// Appends the 56 bytes of the table (reserved bytes zero).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawBootInfoTable {
            pvd_lba: Le32::new(self.pvd_lba),
            file_lba: Le32::new(self.file_lba),
            file_len: Le32::new(self.file_len),
            checksum: Le32::new(self.checksum),
            reserved: [0; 40],
        };
        out.extend_from_slice(raw.as_bytes());
    }

    /// Whether the table describes a boot image at `image_lba`, the way
    /// mkisofs writes it: PVD at 16, the file's own LBA, a length past the
    /// table. The checksum is checked separately with
    /// [`boot_info_checksum`], which needs the whole file.
    pub fn describes(&self, image_lba: u32) -> bool {
        self.pvd_lba == 16
            && self.file_lba == image_lba
            && usize::try_from(self.file_len).is_ok_and(|l| l >= BOOT_INFO_CHECKSUM_START)
    }
}

/// Continues a boot info table checksum over `chunk`, which starts at file
/// byte `pos` (a multiple of 4). A final partial word counts as if padded
/// with zeros.
pub fn boot_info_checksum_update(sum: u32, chunk: &[u8]) -> u32 {
    chunk.chunks(4).fold(sum, |acc, w| {
        let mut b = [0u8; 4];
        for (d, s) in b.iter_mut().zip(w) {
            *d = *s;
        }
        acc.wrapping_add(u32::from_le_bytes(b))
    })
}

/// The boot info table checksum of a whole boot file: the wrapping sum of its
/// little-endian 32-bit words from byte 64 on.
pub fn boot_info_checksum(file: &[u8]) -> u32 {
    boot_info_checksum_update(0, file.get(BOOT_INFO_CHECKSUM_START..).unwrap_or_default())
}

/// Byte offset of the GRUB2 boot info in a boot image (`--grub2-boot-info`).
pub const GRUB2_BOOT_INFO_OFFSET: usize = 2548;

/// The 64-bit little-endian value at byte 2548 of a boot image, if the
/// image is long enough.
pub fn grub2_boot_info(image: &[u8]) -> Option<u64> {
    let end = GRUB2_BOOT_INFO_OFFSET.checked_add(8)?;
    let b: [u8; 8] = image.get(GRUB2_BOOT_INFO_OFFSET..end)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// The value xorriso's `--grub2-boot-info` writes at byte 2548 of the boot
/// image at `image_lba`: the image's 512-byte block address plus 5
/// (`lba * 4 + 5`, per the xorrisofs manual).
pub fn grub2_boot_info_value(image_lba: u32) -> u64 {
    u64::from(image_lba).saturating_mul(4).saturating_add(5)
}

/// Writes the GRUB2 boot info for `image_lba` into `image`.
pub fn encode_grub2_boot_info(image: &mut [u8], image_lba: u32) -> Result<()> {
    let have = image.len();
    let slot = image
        .get_mut(GRUB2_BOOT_INFO_OFFSET..GRUB2_BOOT_INFO_OFFSET.saturating_add(8))
        .ok_or(FormatError::Truncated {
            what: "GRUB2 boot info",
            need: GRUB2_BOOT_INFO_OFFSET.saturating_add(8),
            have,
        })?;
    slot.copy_from_slice(&grub2_boot_info_value(image_lba).to_le_bytes());
    Ok(())
}

/// Byte offset of the ISOLINUX isohybrid magic in isolinux.bin.
pub const ISOHYBRID_MAGIC_OFFSET: usize = 0x40;
/// The magic number (little-endian) of an isolinux.bin that an isohybrid MBR
/// can boot (ISOLINUX 3.72 and later).
pub const ISOHYBRID_MAGIC: u32 = 0x7078_C0FB;

/// Whether a boot image carries the isohybrid magic at byte 0x40.
pub fn isohybrid_suitable(image: &[u8]) -> bool {
    image
        .get(ISOHYBRID_MAGIC_OFFSET..ISOHYBRID_MAGIC_OFFSET.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .is_some_and(|b| u32::from_le_bytes(b) == ISOHYBRID_MAGIC)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    fn id24(s: &[u8]) -> [u8; 24] {
        let mut a = [0u8; 24];
        a[..s.len()].copy_from_slice(s);
        a
    }

    fn entry(lba: u32, emul: Emulation) -> BootEntry {
        BootEntry {
            boot_indicator: BOOTABLE,
            emulation: emul,
            media: emul.to_u8(),
            load_segment: 0,
            system_type: 0,
            unused: 0,
            sector_count: 4,
            load_rba: lba,
            selection_criteria_type: 0,
            selection_criteria: [0; 19],
            extensions: Vec::new(),
        }
    }

    fn header(ind: u8, p: Platform, n: u16) -> SectionHeader {
        SectionHeader {
            indicator: ind,
            platform: p,
            num_entries: n,
            id_string: [0; 28],
        }
    }

    #[test]
    fn validation_checksum_and_round_trip() {
        let v = ValidationEntry::new(Platform::X86, id24(b"isoforge"));
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(out[0], 1);
        assert_eq!(&out[30..], &KEY);
        let arr: [u8; 32] = out.clone().try_into().unwrap();
        assert_eq!(validation_word_sum(&arr), 0);
        let (p, rest) = ValidationEntry::parse(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(p, v);
        assert!(p.checksum_ok && p.key_ok());
        // A flipped byte breaks the checksum but still parses.
        out[5] ^= 1;
        let (bad, _) = ValidationEntry::parse(&out).unwrap();
        assert!(!bad.checksum_ok);
        out[0] = 2;
        assert!(matches!(
            ValidationEntry::parse(&out),
            Err(FormatError::BadMagic { .. })
        ));
    }

    #[test]
    fn known_bytes_from_xorriso() {
        // Validation entry of a catalog xorriso wrote (platform 0, no id).
        let mut v = [0u8; 32];
        v[0] = 1;
        v[28] = 0xAA;
        v[29] = 0x55;
        v[30] = 0x55;
        v[31] = 0xAA;
        let (p, _) = ValidationEntry::parse(&v).unwrap();
        assert!(p.checksum_ok);
        assert_eq!(p.platform, Platform::X86);
        // Floppy default entry: 88 02 0000 00 00 0100 22000000.
        let e = [
            0x88, 0x02, 0, 0, 0, 0, 1, 0, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0,
        ];
        let (b, _) = BootEntry::parse(&e).unwrap();
        assert!(b.bootable());
        assert_eq!(b.emulation, Emulation::Floppy144);
        assert_eq!(b.sector_count, 1);
        assert_eq!(b.load_rba, 0x22);
        let mut out = Vec::new();
        b.encode(&mut out);
        assert_eq!(out, e);
    }

    #[test]
    fn catalog_round_trip_with_sections_and_extensions() {
        let mut efi = entry(34, Emulation::NoEmulation);
        efi.media |= CONTINUATION_BIT;
        efi.extensions.push(ExtensionEntry {
            flags: MORE_EXTENSIONS_BIT,
            criteria: [7; 30],
        });
        efi.extensions.push(ExtensionEntry {
            flags: 0,
            criteria: [8; 30],
        });
        let cat = Catalog {
            validation: ValidationEntry::new(Platform::X86, [0; 24]),
            default_entry: entry(20, Emulation::NoEmulation),
            sections: vec![
                Section {
                    header: header(HEADER_MORE, Platform::PowerPc, 0),
                    entries: vec![],
                },
                Section {
                    header: header(HEADER_FINAL, Platform::Efi, 2),
                    entries: vec![efi, entry(50, Emulation::HardDisk)],
                },
            ],
        };
        let mut out = Vec::new();
        cat.encode(&mut out);
        assert_eq!(out.len(), 32 * 8);
        out.resize(2048, 0);
        let parsed = parse_catalog(&out, 64).unwrap();
        assert_eq!(parsed, cat);
        let mut again = Vec::new();
        parsed.encode(&mut again);
        assert_eq!(&again[..], &out[..32 * 8]);
    }

    #[test]
    fn catalog_with_only_a_default_entry() {
        let mut out = Vec::new();
        ValidationEntry::new(Platform::X86, [0; 24]).encode(&mut out);
        entry(20, Emulation::NoEmulation).encode(&mut out);
        let c = parse_catalog(&out, 8).unwrap();
        assert!(c.sections.is_empty());
        out.resize(2048, 0);
        assert!(parse_catalog(&out, 8).unwrap().sections.is_empty());
    }

    #[test]
    fn catalog_without_final_header_is_truncated() {
        let mut out = Vec::new();
        ValidationEntry::new(Platform::X86, [0; 24]).encode(&mut out);
        entry(20, Emulation::NoEmulation).encode(&mut out);
        header(HEADER_MORE, Platform::Efi, 1).encode(&mut out);
        entry(30, Emulation::NoEmulation).encode(&mut out);
        assert!(matches!(
            parse_catalog(&out, 64),
            Err(FormatError::Truncated { .. })
        ));
        // A "more follow" header followed by garbage is a bad value.
        out.extend_from_slice(&[0x42; 32]);
        assert!(matches!(
            parse_catalog(&out, 64),
            Err(FormatError::BadValue { .. })
        ));
    }

    #[test]
    fn catalog_entry_count_is_capped() {
        // 2048 bytes of zero-length "more follow" headers: bounded by the cap.
        let mut out = Vec::new();
        ValidationEntry::new(Platform::X86, [0; 24]).encode(&mut out);
        entry(20, Emulation::NoEmulation).encode(&mut out);
        while out.len() < 2048 {
            header(HEADER_MORE, Platform::Efi, 0).encode(&mut out);
        }
        assert!(matches!(
            parse_catalog(&out, 16),
            Err(FormatError::BadValue { .. })
        ));
        assert!(matches!(
            parse_catalog(&out, 1000),
            Err(FormatError::Truncated { .. })
        ));
        // A header claiming 65535 entries in a short catalog.
        let mut out = Vec::new();
        ValidationEntry::new(Platform::X86, [0; 24]).encode(&mut out);
        entry(20, Emulation::NoEmulation).encode(&mut out);
        header(HEADER_FINAL, Platform::Efi, u16::MAX).encode(&mut out);
        assert!(parse_catalog(&out, 1 << 20).is_err());
        assert!(parse_catalog(&out, 10).is_err());
        // An endless extension chain.
        let mut out = Vec::new();
        ValidationEntry::new(Platform::X86, [0; 24]).encode(&mut out);
        entry(20, Emulation::NoEmulation).encode(&mut out);
        header(HEADER_FINAL, Platform::Efi, 1).encode(&mut out);
        let mut e = entry(1, Emulation::NoEmulation);
        e.media |= CONTINUATION_BIT;
        e.encode(&mut out);
        while out.len() < 4096 {
            ExtensionEntry {
                flags: MORE_EXTENSIONS_BIT,
                criteria: [0; 30],
            }
            .encode(&mut out);
        }
        assert!(parse_catalog(&out, 32).is_err());
        assert!(parse_catalog(&out, 10_000).is_err());
    }

    #[test]
    fn truncated_records() {
        assert!(parse_catalog(&[], 8).is_err());
        assert!(parse_catalog(&[1; 40], 8).is_err());
        assert!(BootEntry::parse(&[0; 31]).is_err());
        assert!(SectionHeader::parse(&[0x91; 31]).is_err());
        assert!(ExtensionEntry::parse(&[0x44; 10]).is_err());
    }

    #[test]
    fn enums_keep_unknown_values() {
        for v in 0..=255u8 {
            assert_eq!(Platform::from_u8(v).to_u8(), v);
            assert_eq!(Emulation::from_u8(v).to_u8(), v & 0x0F);
        }
        assert_eq!(Platform::from_u8(0xEF), Platform::Efi);
        assert_eq!(Emulation::from_u8(9), Emulation::Unknown(9));
    }

    #[test]
    fn boot_info_table_round_trip_and_checksum() {
        let mut file = vec![0u8; 2048 + 3];
        for (i, b) in file.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let t = BootInfoTable {
            pvd_lba: 16,
            file_lba: 34,
            file_len: file.len() as u32,
            checksum: boot_info_checksum(&file),
        };
        let mut enc = Vec::new();
        t.encode(&mut enc);
        assert_eq!(enc.len(), 56);
        file[8..64].copy_from_slice(&enc);
        let (p, rest) = BootInfoTable::parse(&file).unwrap();
        assert_eq!(p, t);
        assert_eq!(rest.len(), file.len() - 64);
        assert!(p.describes(34));
        assert!(!p.describes(35));
        // Incremental checksum over chunks equals the whole-file one.
        let sum = file[64..].chunks(512).fold(0, boot_info_checksum_update);
        assert_eq!(sum, t.checksum);
        assert!(BootInfoTable::parse(&file[..63]).is_err());
    }

    #[test]
    fn grub2_and_isohybrid() {
        let mut img = vec![0u8; 4096];
        encode_grub2_boot_info(&mut img, 1394).unwrap();
        assert_eq!(grub2_boot_info(&img), Some(1394 * 4 + 5));
        assert_eq!(grub2_boot_info(&img[..2555]), None);
        assert!(encode_grub2_boot_info(&mut img[..100], 1).is_err());
        assert!(!isohybrid_suitable(&img));
        img[0x40..0x44].copy_from_slice(&ISOHYBRID_MAGIC.to_le_bytes());
        assert!(isohybrid_suitable(&img));
        assert!(!isohybrid_suitable(&img[..0x43]));
    }
}
