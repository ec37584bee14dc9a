//! Apple partition map (Inside Macintosh: Devices, "SCSI Manager",
//! Driver Descriptor Record and Partition Map Entry), as hybrid images carry
//! it for Macs: the driver descriptor record in block 0 and one `PM` entry
//! per block from block 1 on. All fields are big-endian; byte positions are
//! 0-based offsets within the block.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::Be32;
use crate::strings::trim_field;

/// Driver descriptor signature (`sbSig`).
pub const DDR_SIGNATURE: &[u8; 2] = b"ER";
/// Partition map entry signature (`pmSig`).
pub const PM_SIGNATURE: &[u8; 2] = b"PM";

/// Driver descriptor record, the first 8 bytes of block 0.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawDriverDescriptor {
    /// 0-1: "ER".
    pub signature: [u8; 2],
    /// 2-3: block size of the device (`sbBlkSize`).
    pub block_size: [u8; 2],
    /// 4-7: number of blocks on the device (`sbBlkCount`).
    pub block_count: Be32,
}
const _: () = assert!(core::mem::size_of::<RawDriverDescriptor>() == 8);

/// Partition map entry, the first 136 bytes of its block.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawPartitionMapEntry {
    /// 0-1: "PM".
    pub signature: [u8; 2],
    /// 2-3: reserved.
    pub sig_pad: [u8; 2],
    /// 4-7: number of entries in the map (`pmMapBlkCnt`).
    pub map_entries: Be32,
    /// 8-11: first physical block of the partition.
    pub start: Be32,
    /// 12-15: number of blocks.
    pub count: Be32,
    /// 16-47: partition name, NUL-padded.
    pub name: [u8; 32],
    /// 48-79: partition type, NUL-padded (e.g. "Apple_HFS").
    pub ptype: [u8; 32],
    /// 80-83: first logical data block.
    pub data_start: Be32,
    /// 84-87: number of data blocks.
    pub data_count: Be32,
    /// 88-91: status flags.
    pub status: Be32,
    /// 92-135: boot code location, size, load and entry addresses,
    /// checksum and processor type.
    pub boot: [u8; 44],
}
const _: () = assert!(core::mem::size_of::<RawPartitionMapEntry>() == 136);

/// A parsed driver descriptor record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverDescriptor {
    /// Block size in bytes.
    pub block_size: u16,
    /// Number of blocks.
    pub block_count: u32,
}

impl DriverDescriptor {
    /// Parses block 0; the signature must be "ER".
    pub fn parse(bytes: &[u8]) -> Result<(DriverDescriptor, &[u8])> {
        let (raw, rest) =
            RawDriverDescriptor::ref_from_prefix(bytes).map_err(|_| FormatError::Truncated {
                what: "APM driver descriptor",
                need: 8,
                have: bytes.len(),
            })?;
        if &raw.signature != DDR_SIGNATURE {
            return Err(FormatError::BadMagic {
                what: "APM driver descriptor",
            });
        }
        Ok((
            DriverDescriptor {
                block_size: u16::from_be_bytes(raw.block_size),
                block_count: raw.block_count.get(),
            },
            rest,
        ))
    }

    /// Appends the 8 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawDriverDescriptor {
            signature: *DDR_SIGNATURE,
            block_size: self.block_size.to_be_bytes(),
            block_count: Be32::new(self.block_count),
        };
        out.extend_from_slice(raw.as_bytes());
    }
}

/// A parsed partition map entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMapEntry {
    /// Bytes 2-3.
    pub sig_pad: [u8; 2],
    /// Entries in the map (4-7).
    pub map_entries: u32,
    /// First block (8-11).
    pub start: u32,
    /// Block count (12-15).
    pub count: u32,
    /// Name (16-47) as recorded.
    pub name: [u8; 32],
    /// Type (48-79) as recorded.
    pub ptype: [u8; 32],
    /// First data block (80-83).
    pub data_start: u32,
    /// Data block count (84-87).
    pub data_count: u32,
    /// Status (88-91).
    pub status: u32,
    /// Bytes 92-135.
    pub boot: [u8; 44],
}

impl PartitionMapEntry {
    /// Parses an entry; the signature must be "PM".
    pub fn parse(bytes: &[u8]) -> Result<(PartitionMapEntry, &[u8])> {
        let (raw, rest) =
            RawPartitionMapEntry::ref_from_prefix(bytes).map_err(|_| FormatError::Truncated {
                what: "APM partition map entry",
                need: 136,
                have: bytes.len(),
            })?;
        if &raw.signature != PM_SIGNATURE {
            return Err(FormatError::BadMagic {
                what: "APM partition map entry",
            });
        }
        Ok((
            PartitionMapEntry {
                sig_pad: raw.sig_pad,
                map_entries: raw.map_entries.get(),
                start: raw.start.get(),
                count: raw.count.get(),
                name: raw.name,
                ptype: raw.ptype,
                data_start: raw.data_start.get(),
                data_count: raw.data_count.get(),
                status: raw.status.get(),
                boot: raw.boot,
            },
            rest,
        ))
    }

    /// The name, up to the first NUL, trimmed.
    pub fn name(&self) -> String {
        c_string(&self.name)
    }

    /// The type, up to the first NUL, trimmed.
    pub fn type_name(&self) -> String {
        c_string(&self.ptype)
    }

    /// Appends the 136 defined bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let raw = RawPartitionMapEntry {
            signature: *PM_SIGNATURE,
            sig_pad: self.sig_pad,
            map_entries: Be32::new(self.map_entries),
            start: Be32::new(self.start),
            count: Be32::new(self.count),
            name: self.name,
            ptype: self.ptype,
            data_start: Be32::new(self.data_start),
            data_count: Be32::new(self.data_count),
            status: Be32::new(self.status),
            boot: self.boot,
        };
        out.extend_from_slice(raw.as_bytes());
    }
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    trim_field(b.get(..end).unwrap_or_default())
}

/// An Apple partition map found in a system area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apm {
    /// The driver descriptor record.
    pub ddr: DriverDescriptor,
    /// The block size the entries were found at (512 or 2048).
    pub block_size: u32,
    /// The entries in map order (block 1 on), including the map's own
    /// `Apple_partition_map` entry.
    pub entries: Vec<PartitionMapEntry>,
}

/// Finds an Apple partition map in `area` (the system area, from byte 0).
/// Returns `None` without "ER" at byte 0. The entries are looked for at the
/// descriptor's block size, then at 2048 and 512; the map's entry count
/// (from its first entry) is bounded by `max_entries` and by `area`.
pub fn parse_apm(area: &[u8], max_entries: usize) -> Result<Option<Apm>> {
    let Ok((ddr, _)) = DriverDescriptor::parse(area) else {
        return Ok(None);
    };
    let mut sizes = [u32::from(ddr.block_size), 2048, 512];
    if !matches!(ddr.block_size, 512 | 2048) {
        sizes[0] = 2048;
    }
    for bs in sizes {
        let Ok(step) = usize::try_from(bs) else {
            continue;
        };
        let Some(first) = area.get(step..) else {
            continue;
        };
        let Ok((e, _)) = PartitionMapEntry::parse(first) else {
            continue;
        };
        let n = usize::try_from(e.map_entries).unwrap_or(usize::MAX);
        if n > max_entries {
            return Err(FormatError::BadValue {
                what: "APM partition map entry count",
                value: e.map_entries.into(),
            });
        }
        let mut entries = Vec::new();
        for i in 1..=n {
            let off = i.checked_mul(step).ok_or(FormatError::BadValue {
                what: "APM partition map entry count",
                value: e.map_entries.into(),
            })?;
            let (pe, _) = PartitionMapEntry::parse(area.get(off..).unwrap_or_default())?;
            entries.push(pe);
        }
        return Ok(Some(Apm {
            ddr,
            block_size: bs,
            entries,
        }));
    }
    Ok(None)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    fn name32(s: &str) -> [u8; 32] {
        let mut a = [0u8; 32];
        a[..s.len()].copy_from_slice(s.as_bytes());
        a
    }

    fn pm(n: u32, start: u32, count: u32, name: &str, t: &str) -> PartitionMapEntry {
        PartitionMapEntry {
            sig_pad: [0; 2],
            map_entries: n,
            start,
            count,
            name: name32(name),
            ptype: name32(t),
            data_start: 0,
            data_count: count,
            status: 0x33,
            boot: [0; 44],
        }
    }

    fn area(bs: usize, entries: &[PartitionMapEntry]) -> Vec<u8> {
        let mut a = vec![0u8; 32768];
        let mut d = Vec::new();
        DriverDescriptor {
            block_size: bs as u16,
            block_count: 4096,
        }
        .encode(&mut d);
        a[..8].copy_from_slice(&d);
        for (i, e) in entries.iter().enumerate() {
            let mut b = Vec::new();
            e.encode(&mut b);
            a[(i + 1) * bs..(i + 1) * bs + 136].copy_from_slice(&b);
        }
        a
    }

    #[test]
    fn round_trip_at_both_block_sizes() {
        for bs in [512usize, 2048] {
            let es = [
                pm(2, 1, 2, "Apple", "Apple_partition_map"),
                pm(2, 34, 720, "EFI", "Apple_HFS"),
            ];
            let a = area(bs, &es);
            let apm = parse_apm(&a, 64).unwrap().unwrap();
            assert_eq!(apm.block_size, bs as u32);
            assert_eq!(apm.entries, es);
            assert_eq!(apm.entries[1].name(), "EFI");
            assert_eq!(apm.entries[1].type_name(), "Apple_HFS");
            let mut out = Vec::new();
            apm.entries[1].encode(&mut out);
            assert_eq!(&out[..], &a[2 * bs..2 * bs + 136]);
        }
    }

    #[test]
    fn hostile_maps() {
        assert_eq!(parse_apm(&[0u8; 4096], 64).unwrap(), None);
        // Absurd entry count.
        let a = area(2048, &[pm(u32::MAX, 1, 2, "Apple", "Apple_partition_map")]);
        assert!(parse_apm(&a, 64).is_err());
        // Count larger than the area holds.
        let a = area(2048, &[pm(40, 1, 2, "Apple", "Apple_partition_map")]);
        assert!(parse_apm(&a, 64).is_err());
        // "ER" without entries is not a map.
        let a = area(2048, &[]);
        assert_eq!(parse_apm(&a, 64).unwrap(), None);
        assert!(DriverDescriptor::parse(b"ER").is_err());
    }
}
