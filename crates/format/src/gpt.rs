//! UEFI GUID partition table (UEFI 2.x §5.3): the header at LBA 1 (and its
//! backup at the disk's last LBA) and the partition entry array. Byte
//! positions are 0-based offsets within the header or the entry.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::{Le32, Le64};

/// Header signature, bytes 0-7.
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Size of the header fields defined by UEFI §5.3.2 (Table 5-5).
pub const HEADER_SIZE: usize = 92;
/// Smallest partition entry size (UEFI §5.3.2: 128 × 2^n).
pub const MIN_ENTRY_SIZE: u32 = 128;
/// Largest entry size accepted: larger values are taken as corruption.
pub const MAX_ENTRY_SIZE: u32 = 4096;

/// UEFI §5.3.2 GPT header, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawGptHeader {
    /// 0-7: "EFI PART".
    pub signature: [u8; 8],
    /// 8-11: revision (0x00010000 for 1.0).
    pub revision: Le32,
    /// 12-15: header size, ≥ 92 and ≤ the logical block size.
    pub header_size: Le32,
    /// 16-19: CRC32 of `header_size` bytes with this field zeroed.
    pub header_crc32: Le32,
    /// 20-23: reserved, 0.
    pub reserved: Le32,
    /// 24-31: LBA of this header.
    pub my_lba: Le64,
    /// 32-39: LBA of the other header.
    pub alternate_lba: Le64,
    /// 40-47: first LBA usable by partitions.
    pub first_usable_lba: Le64,
    /// 48-55: last LBA usable by partitions.
    pub last_usable_lba: Le64,
    /// 56-71: disk GUID.
    pub disk_guid: [u8; 16],
    /// 72-79: first LBA of the partition entry array.
    pub entries_lba: Le64,
    /// 80-83: number of entries in the array.
    pub num_entries: Le32,
    /// 84-87: size of one entry.
    pub entry_size: Le32,
    /// 88-91: CRC32 of the entry array (`num_entries * entry_size` bytes).
    pub entries_crc32: Le32,
}
const _: () = assert!(core::mem::size_of::<RawGptHeader>() == HEADER_SIZE);

/// UEFI §5.3.3 partition entry (Table 5-6), byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawGptEntry {
    /// 0-15: partition type GUID (all zero = unused entry).
    pub type_guid: [u8; 16],
    /// 16-31: unique partition GUID.
    pub unique_guid: [u8; 16],
    /// 32-39: first LBA.
    pub first_lba: Le64,
    /// 40-47: last LBA, inclusive.
    pub last_lba: Le64,
    /// 48-55: attribute flags.
    pub attributes: Le64,
    /// 56-127: name, 36 UTF-16LE code units, NUL-padded.
    pub name: [u8; 72],
}
const _: () = assert!(core::mem::size_of::<RawGptEntry>() == 128);

/// A GUID as stored on disk (UEFI Appendix A: the first three fields
/// little-endian, the last two big-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The EFI system partition type, C12A7328-F81F-11D2-BA4B-00A0C93EC93B.
    pub const EFI_SYSTEM: Guid = Guid([
        0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9,
        0x3B,
    ]);
    /// Microsoft basic data, EBD0A0A2-B9E5-4433-87C0-68B6B72699C7.
    pub const BASIC_DATA: Guid = Guid([
        0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44, 0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99,
        0xC7,
    ]);
    /// Whether all bytes are zero (an unused entry's type).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
    /// The 16 bytes in disk order as 32 lower-case hex digits (the form
    /// xorriso's `-report_system_area` prints).
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        let mut s = String::with_capacity(32);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

impl fmt::Display for Guid {
    /// The registry form, e.g. `C12A7328-F81F-11D2-BA4B-00A0C93EC93B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a0, a1, a2, a3, b0, b1, c0, c1, d @ ..] = self.0;
        let [d0, d1, e @ ..] = d;
        write!(f, "{:02X}{:02X}{:02X}{:02X}-", a3, a2, a1, a0)?;
        write!(f, "{:02X}{:02X}-{:02X}{:02X}-", b1, b0, c1, c0)?;
        write!(f, "{d0:02X}{d1:02X}-")?;
        for x in e {
            write!(f, "{x:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A parsed GPT header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptHeader {
    /// Revision (8-11).
    pub revision: u32,
    /// Header size (12-15).
    pub header_size: u32,
    /// Header CRC32 as recorded (16-19).
    pub header_crc32: u32,
    /// Whether the recorded header CRC matches.
    pub header_crc_ok: bool,
    /// Reserved (20-23).
    pub reserved: u32,
    /// LBA of this header (24-31).
    pub my_lba: u64,
    /// LBA of the other header (32-39).
    pub alternate_lba: u64,
    /// First usable LBA (40-47).
    pub first_usable_lba: u64,
    /// Last usable LBA (48-55).
    pub last_usable_lba: u64,
    /// Disk GUID (56-71).
    pub disk_guid: Guid,
    /// Entry array LBA (72-79).
    pub entries_lba: u64,
    /// Number of entries (80-83).
    pub num_entries: u32,
    /// Entry size (84-87).
    pub entry_size: u32,
    /// Entry array CRC32 (88-91).
    pub entries_crc32: u32,
}

/// CRC32 (IEEE, as UEFI uses) of a header: the first `header_size` bytes of
/// `sector` with bytes 16-19 taken as zero.
pub fn header_crc(sector: &[u8], header_size: usize) -> Option<u32> {
    let bytes = sector.get(..header_size)?;
    let mut h = crc32fast::Hasher::new();
    h.update(bytes.get(..16)?);
    h.update(&[0; 4]);
    h.update(bytes.get(20..)?);
    Some(h.finalize())
}

/// CRC32 of a partition entry array.
pub fn entries_crc(table: &[u8]) -> u32 {
    crc32fast::hash(table)
}

impl GptHeader {
    /// Parses a header from the start of a logical block (`sector`, whose
    /// length is the block size). The signature must match and the header
    /// size must be between 92 and the block size; the CRC is checked and
    /// reported in [`GptHeader::header_crc_ok`]. Returns the rest of the
    /// block after `header_size` bytes.
    pub fn parse(sector: &[u8]) -> Result<(GptHeader, &[u8])> {
        let (raw, _) =
            RawGptHeader::ref_from_prefix(sector).map_err(|_| FormatError::Truncated {
                what: "GPT header",
                need: HEADER_SIZE,
                have: sector.len(),
            })?;
        if &raw.signature != SIGNATURE {
            return Err(FormatError::BadMagic { what: "GPT header" });
        }
        let size = raw.header_size.get();
        let size_usize = usize::try_from(size).unwrap_or(usize::MAX);
        if size_usize < HEADER_SIZE || size_usize > sector.len() {
            return Err(FormatError::BadValue {
                what: "GPT header size",
                value: size.into(),
            });
        }
        let crc = header_crc(sector, size_usize);
        let rest = sector.get(size_usize..).unwrap_or_default();
        Ok((
            GptHeader {
                revision: raw.revision.get(),
                header_size: size,
                header_crc32: raw.header_crc32.get(),
                header_crc_ok: crc == Some(raw.header_crc32.get()),
                reserved: raw.reserved.get(),
                my_lba: raw.my_lba.get(),
                alternate_lba: raw.alternate_lba.get(),
                first_usable_lba: raw.first_usable_lba.get(),
                last_usable_lba: raw.last_usable_lba.get(),
                disk_guid: Guid(raw.disk_guid),
                entries_lba: raw.entries_lba.get(),
                num_entries: raw.num_entries.get(),
                entry_size: raw.entry_size.get(),
                entries_crc32: raw.entries_crc32.get(),
            },
            rest,
        ))
    }

    /// The byte length of the entry array, after checking the entry size
    /// (a multiple of 128, at most 4096) and that `num_entries * entry_size`
    /// does not exceed `cap` bytes.
    pub fn table_len(&self, cap: usize) -> Result<usize> {
        if self.entry_size < MIN_ENTRY_SIZE
            || self.entry_size > MAX_ENTRY_SIZE
            || !self.entry_size.is_multiple_of(MIN_ENTRY_SIZE)
        {
            return Err(FormatError::BadValue {
                what: "GPT partition entry size",
                value: self.entry_size.into(),
            });
        }
        let len = u64::from(self.num_entries).saturating_mul(u64::from(self.entry_size));
        match usize::try_from(len) {
            Ok(l) if l <= cap => Ok(l),
            _ => Err(FormatError::BadValue {
                what: "GPT partition entry array size",
                value: len,
            }),
        }
    }

    /// Appends `header_size` bytes (the 92 defined bytes, then zeros) with
    /// the header CRC computed afresh; [`GptHeader::header_crc32`] and
    /// `header_crc_ok` are ignored. A `header_size` below 92 writes 92.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawGptHeader {
            signature: *SIGNATURE,
            revision: Le32::new(self.revision),
            header_size: Le32::new(self.header_size),
            header_crc32: Le32::new(0),
            reserved: Le32::new(self.reserved),
            my_lba: Le64::new(self.my_lba),
            alternate_lba: Le64::new(self.alternate_lba),
            first_usable_lba: Le64::new(self.first_usable_lba),
            last_usable_lba: Le64::new(self.last_usable_lba),
            disk_guid: self.disk_guid.0,
            entries_lba: Le64::new(self.entries_lba),
            num_entries: Le32::new(self.num_entries),
            entry_size: Le32::new(self.entry_size),
            entries_crc32: Le32::new(self.entries_crc32),
        };
        let size = usize::try_from(self.header_size)
            .unwrap_or(HEADER_SIZE)
            .max(HEADER_SIZE);
        let mut buf = raw.as_bytes().to_vec();
        buf.resize(size, 0);
        let crc = header_crc(&buf, size).unwrap_or(0);
        if let Some(slot) = buf.get_mut(16..20) {
            slot.copy_from_slice(&crc.to_le_bytes());
        }
        out.extend_from_slice(&buf);
    }
}

/// A parsed partition entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptEntry {
    /// Partition type GUID (0-15).
    pub type_guid: Guid,
    /// Unique partition GUID (16-31).
    pub unique_guid: Guid,
    /// First LBA (32-39).
    pub first_lba: u64,
    /// Last LBA, inclusive (40-47).
    pub last_lba: u64,
    /// Attributes (48-55): bit 0 required, bit 2 legacy BIOS bootable,
    /// bits 48-63 type-specific.
    pub attributes: u64,
    /// Name bytes (56-127), UTF-16LE, NUL-padded.
    pub name_utf16le: [u8; 72],
}

impl GptEntry {
    /// Parses one entry from the first 128 bytes of `bytes` (an entry slot
    /// may be longer; the caller steps by the header's entry size).
    pub fn parse(bytes: &[u8]) -> Result<(GptEntry, &[u8])> {
        let (raw, rest) =
            RawGptEntry::ref_from_prefix(bytes).map_err(|_| FormatError::Truncated {
                what: "GPT partition entry",
                need: 128,
                have: bytes.len(),
            })?;
        Ok((
            GptEntry {
                type_guid: Guid(raw.type_guid),
                unique_guid: Guid(raw.unique_guid),
                first_lba: raw.first_lba.get(),
                last_lba: raw.last_lba.get(),
                attributes: raw.attributes.get(),
                name_utf16le: raw.name,
            },
            rest,
        ))
    }

    /// Whether the entry is unused (zero type GUID).
    pub fn is_unused(&self) -> bool {
        self.type_guid.is_zero()
    }

    /// The name up to the first NUL, with unpaired surrogates replaced.
    pub fn name(&self) -> String {
        let units = self
            .name_utf16le
            .chunks_exact(2)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .take_while(|&u| u != 0);
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }

    /// Number of blocks covered (`last - first + 1`), or 0 if last < first.
    pub fn block_count(&self) -> u64 {
        self.last_lba
            .checked_sub(self.first_lba)
            .and_then(|d| d.checked_add(1))
            .unwrap_or(0)
    }

    /// Appends the 128 bytes of the entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawGptEntry {
            type_guid: self.type_guid.0,
            unique_guid: self.unique_guid.0,
            first_lba: Le64::new(self.first_lba),
            last_lba: Le64::new(self.last_lba),
            attributes: Le64::new(self.attributes),
            name: self.name_utf16le,
        };
        out.extend_from_slice(raw.as_bytes());
    }
}

/// Encodes a name as the 72-byte UTF-16LE field (truncated to 36 units).
pub fn encode_name(name: &str) -> [u8; 72] {
    let mut out = [0u8; 72];
    for (slot, u) in out.chunks_exact_mut(2).zip(name.encode_utf16()) {
        slot.copy_from_slice(&u.to_le_bytes());
    }
    out
}

/// The used entries of an entry array, with their 1-based slot numbers.
/// `table` is the array (`num_entries * entry_size` bytes, checked with
/// [`GptHeader::table_len`]); slots that do not fit are a truncation error.
pub fn parse_entries(table: &[u8], header: &GptHeader) -> Result<Vec<(u32, GptEntry)>> {
    let size = usize::try_from(header.entry_size).map_err(|_| FormatError::BadValue {
        what: "GPT partition entry size",
        value: header.entry_size.into(),
    })?;
    if size < 128 {
        return Err(FormatError::BadValue {
            what: "GPT partition entry size",
            value: header.entry_size.into(),
        });
    }
    let mut out = Vec::new();
    let mut slots = table.chunks(size);
    for n in 1..=header.num_entries {
        let slot = slots.next().ok_or(FormatError::Truncated {
            what: "GPT partition entry array",
            need: size,
            have: 0,
        })?;
        let (e, _) = GptEntry::parse(slot)?;
        if !e.is_unused() {
            out.push((n, e));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    fn header() -> GptHeader {
        GptHeader {
            revision: 0x0001_0000,
            header_size: 92,
            header_crc32: 0,
            header_crc_ok: true,
            reserved: 0,
            my_lba: 1,
            alternate_lba: 8191,
            first_usable_lba: 64,
            last_usable_lba: 8128,
            disk_guid: Guid([0x11; 16]),
            entries_lba: 2,
            num_entries: 4,
            entry_size: 128,
            entries_crc32: 0,
        }
    }

    fn entry(first: u64, name: &str) -> GptEntry {
        GptEntry {
            type_guid: Guid::BASIC_DATA,
            unique_guid: Guid([first as u8; 16]),
            first_lba: first,
            last_lba: first + 99,
            attributes: 0x1000_0000_0000_0001,
            name_utf16le: encode_name(name),
        }
    }

    #[test]
    fn guid_display_is_mixed_endian() {
        assert_eq!(
            Guid::EFI_SYSTEM.to_string(),
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
        );
        assert_eq!(
            Guid::BASIC_DATA.to_string(),
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
        );
        assert_eq!(
            Guid::BASIC_DATA.to_hex(),
            "a2a0d0ebe5b9334487c068b6b72699c7"
        );
    }

    #[test]
    fn header_round_trip_and_crc() {
        let mut table = Vec::new();
        entry(64, "ISOHybrid").encode(&mut table);
        entry(200, "ISOHybrid1").encode(&mut table);
        table.resize(4 * 128, 0);
        let mut h = header();
        h.entries_crc32 = entries_crc(&table);
        let mut sector = Vec::new();
        h.encode(&mut sector);
        assert_eq!(sector.len(), 92);
        sector.resize(512, 0);
        let (p, rest) = GptHeader::parse(&sector).unwrap();
        assert_eq!(rest.len(), 512 - 92);
        assert!(p.header_crc_ok);
        let mut again = Vec::new();
        p.encode(&mut again);
        assert_eq!(&again[..], &sector[..92]);
        assert_eq!(p.table_len(1 << 20).unwrap(), 512);
        let es = parse_entries(&table, &p).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].0, 1);
        assert_eq!(es[1].1.name(), "ISOHybrid1");
        assert_eq!(es[0].1.block_count(), 100);
        let mut enc = Vec::new();
        es[0].1.encode(&mut enc);
        assert_eq!(&enc[..], &table[..128]);
        // A flipped byte in the header is a CRC finding, not an error.
        sector[40] ^= 1;
        let (bad, _) = GptHeader::parse(&sector).unwrap();
        assert!(!bad.header_crc_ok);
    }

    #[test]
    fn larger_header_size_is_covered_by_crc() {
        let mut h = header();
        h.header_size = 128;
        let mut s = Vec::new();
        h.encode(&mut s);
        assert_eq!(s.len(), 128);
        s.resize(512, 0);
        assert!(GptHeader::parse(&s).unwrap().0.header_crc_ok);
        s[100] = 1;
        assert!(!GptHeader::parse(&s).unwrap().0.header_crc_ok);
    }

    #[test]
    fn hostile_headers() {
        let mut s = Vec::new();
        header().encode(&mut s);
        s.resize(512, 0);
        // Signature.
        let mut bad = s.clone();
        bad[0] = b'X';
        assert!(matches!(
            GptHeader::parse(&bad),
            Err(FormatError::BadMagic { .. })
        ));
        // Header size below 92 and above the block.
        for size in [0u32, 91, 513, u32::MAX] {
            let mut bad = s.clone();
            bad[12..16].copy_from_slice(&size.to_le_bytes());
            assert!(matches!(
                GptHeader::parse(&bad),
                Err(FormatError::BadValue { .. })
            ));
        }
        assert!(GptHeader::parse(&s[..91]).is_err());
        // Absurd entry count and bad entry sizes.
        let mut h = header();
        h.num_entries = u32::MAX;
        assert!(h.table_len(1 << 20).is_err());
        for size in [0u32, 64, 129, 200, 8192, u32::MAX] {
            let mut h = header();
            h.entry_size = size;
            assert!(h.table_len(1 << 20).is_err(), "{size}");
        }
        let mut h = header();
        h.entry_size = 256;
        assert_eq!(h.table_len(4096).unwrap(), 1024);
        // Entry array shorter than the header says.
        assert!(parse_entries(&[0u8; 200], &header()).is_err());
    }

    #[test]
    fn names_decode_lossily() {
        let mut e = entry(1, "EFI boot");
        assert_eq!(e.name(), "EFI boot");
        e.name_utf16le[0] = 0x00;
        e.name_utf16le[1] = 0xD8; // lone high surrogate
        assert!(e.name().starts_with('\u{FFFD}'));
        let long = "x".repeat(50);
        assert_eq!(
            GptEntry {
                name_utf16le: encode_name(&long),
                ..e
            }
            .name()
            .len(),
            36
        );
    }
}
