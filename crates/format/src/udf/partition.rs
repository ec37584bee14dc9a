//! Partition maps of the logical volume descriptor (ECMA-167 3/10.7; UDF
//! 2.2.8 virtual, 2.2.9 sparable, 2.2.10 metadata) and the UDF 2.2.12
//! sparing table.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::tag::{self, RawTag};
use super::{EntityId, RawEntityId};
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32};

/// `*UDF Virtual Partition`.
pub const VIRTUAL_ID: &[u8] = b"*UDF Virtual Partition";
/// `*UDF Sparable Partition`.
pub const SPARABLE_ID: &[u8] = b"*UDF Sparable Partition";
/// `*UDF Metadata Partition`.
pub const METADATA_ID: &[u8] = b"*UDF Metadata Partition";
/// `*UDF Sparing Table`.
pub const SPARING_TABLE_ID: &[u8] = b"*UDF Sparing Table";

/// ECMA-167 3/10.7.2 type 1 partition map, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawType1Map {
    /// RBP 0: map type (1).
    pub map_type: u8,
    /// RBP 1: map length (6).
    pub map_len: u8,
    /// RBP 2: volume sequence number.
    pub volume_seq: Le16,
    /// RBP 4: partition number.
    pub partition: Le16,
}
const _: () = assert!(core::mem::size_of::<RawType1Map>() == 6);

/// A type 2 partition map (UDF 2.2.8-2.2.10), byte for byte; the last 24
/// bytes depend on the partition type identifier.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawType2Map {
    /// RBP 0: map type (2).
    pub map_type: u8,
    /// RBP 1: map length (64).
    pub map_len: u8,
    /// RBP 2: reserved.
    pub reserved: [u8; 2],
    /// RBP 4: partition type identifier.
    pub ident: RawEntityId,
    /// RBP 36: volume sequence number.
    pub volume_seq: Le16,
    /// RBP 38: partition number.
    pub partition: Le16,
    /// RBP 40: type-specific fields.
    pub data: [u8; 24],
}
const _: () = assert!(core::mem::size_of::<RawType2Map>() == 64);

/// RBP 40-63 of a sparable partition map (UDF 2.2.9).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawSparableData {
    /// RBP 40: packet length in blocks.
    pub packet_len: Le16,
    /// RBP 42: number of sparing tables (1-4).
    pub num_tables: u8,
    /// RBP 43: reserved.
    pub reserved: u8,
    /// RBP 44: size of each sparing table in bytes.
    pub table_size: Le32,
    /// RBP 48: sector numbers of the sparing tables.
    pub tables: [Le32; 4],
}
const _: () = assert!(core::mem::size_of::<RawSparableData>() == 24);

/// RBP 40-63 of a metadata partition map (UDF 2.2.10).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawMetadataData {
    /// RBP 40: logical block of the metadata file's ICB in the partition.
    pub file_loc: Le32,
    /// RBP 44: logical block of the metadata mirror file's ICB.
    pub mirror_loc: Le32,
    /// RBP 48: logical block of the metadata bitmap file's ICB (or ~0).
    pub bitmap_loc: Le32,
    /// RBP 52: allocation unit size in blocks.
    pub alloc_unit: Le32,
    /// RBP 56: alignment unit size in blocks.
    pub align_unit: Le16,
    /// RBP 58: flags (bit 0: the mirror is a duplicate of the metadata).
    pub flags: u8,
    /// RBP 59: reserved.
    pub reserved: [u8; 5],
}
const _: () = assert!(core::mem::size_of::<RawMetadataData>() == 24);

/// A parsed partition map.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionMap {
    /// Type 1: a partition of this volume, used directly.
    Type1 {
        /// Volume sequence number.
        volume_seq: u16,
        /// Partition number (of a partition descriptor).
        partition: u16,
    },
    /// UDF 2.2.8 virtual partition: blocks mapped through the VAT.
    Virtual {
        /// Volume sequence number.
        volume_seq: u16,
        /// Partition number.
        partition: u16,
        /// UDF revision in the identifier suffix.
        revision: u16,
    },
    /// UDF 2.2.9 sparable partition: packets remapped through a sparing table.
    Sparable {
        /// Volume sequence number.
        volume_seq: u16,
        /// Partition number.
        partition: u16,
        /// Packet length in blocks.
        packet_len: u16,
        /// Size of each sparing table in bytes.
        table_size: u32,
        /// Sector numbers of the sparing tables (1-4 of them).
        tables: Vec<u32>,
    },
    /// UDF 2.2.10 metadata partition: blocks are offsets in the metadata file.
    Metadata {
        /// Volume sequence number.
        volume_seq: u16,
        /// Partition number.
        partition: u16,
        /// Metadata file ICB (logical block in the partition).
        file_loc: u32,
        /// Metadata mirror file ICB.
        mirror_loc: u32,
        /// Metadata bitmap file ICB (~0 if none).
        bitmap_loc: u32,
        /// Allocation unit size in blocks.
        alloc_unit: u32,
        /// Alignment unit size in blocks.
        align_unit: u16,
        /// Flags (bit 0: duplicate metadata).
        flags: u8,
    },
    /// A type 2 map with an identifier this crate does not know.
    OtherType2 {
        /// The identifier.
        ident: EntityId,
    },
    /// A map of a type other than 1 and 2.
    Unknown {
        /// Map type.
        map_type: u8,
    },
}

impl PartitionMap {
    /// The partition number the map refers to, if any.
    pub fn partition(&self) -> Option<u16> {
        match self {
            PartitionMap::Type1 { partition, .. }
            | PartitionMap::Virtual { partition, .. }
            | PartitionMap::Sparable { partition, .. }
            | PartitionMap::Metadata { partition, .. } => Some(*partition),
            _ => None,
        }
    }

    /// Parses `count` maps from the partition map table.
    pub fn parse_table(table: &[u8], count: u32) -> Result<Vec<PartitionMap>> {
        let mut c = Cursor::new(table, "partition map");
        let mut out = Vec::new();
        for _ in 0..count {
            let head = c.array::<2>()?;
            let [_, map_len] = head;
            if map_len < 2 {
                return Err(FormatError::BadValue {
                    what: "partition map length",
                    value: map_len.into(),
                });
            }
            let body = c.take(usize::from(map_len).saturating_sub(2))?;
            let mut whole = head.to_vec();
            whole.extend_from_slice(body);
            out.push(Self::parse(&whole)?);
        }
        Ok(out)
    }

    /// Parses one map (type and length bytes included).
    pub fn parse(b: &[u8]) -> Result<PartitionMap> {
        let t = |what| FormatError::Truncated {
            what,
            need: 64,
            have: b.len(),
        };
        match b.first().copied() {
            Some(1) => {
                let (m, _) =
                    RawType1Map::ref_from_prefix(b).map_err(|_| t("type 1 partition map"))?;
                if m.map_len != 6 {
                    return Err(FormatError::BadValue {
                        what: "type 1 partition map length",
                        value: m.map_len.into(),
                    });
                }
                Ok(PartitionMap::Type1 {
                    volume_seq: m.volume_seq.get(),
                    partition: m.partition.get(),
                })
            }
            Some(2) => {
                let (m, _) =
                    RawType2Map::ref_from_prefix(b).map_err(|_| t("type 2 partition map"))?;
                let ident = EntityId::from_raw(&m.ident);
                let (volume_seq, partition) = (m.volume_seq.get(), m.partition.get());
                if ident.is(VIRTUAL_ID) {
                    Ok(PartitionMap::Virtual {
                        volume_seq,
                        partition,
                        revision: ident.revision(),
                    })
                } else if ident.is(SPARABLE_ID) {
                    let (s, _) = RawSparableData::ref_from_prefix(&m.data[..])
                        .map_err(|_| t("sparable partition map"))?;
                    let n = usize::from(s.num_tables.clamp(1, 4));
                    Ok(PartitionMap::Sparable {
                        volume_seq,
                        partition,
                        packet_len: s.packet_len.get(),
                        table_size: s.table_size.get(),
                        tables: s.tables.iter().take(n).map(|x| x.get()).collect(),
                    })
                } else if ident.is(METADATA_ID) {
                    let (d, _) = RawMetadataData::ref_from_prefix(&m.data[..])
                        .map_err(|_| t("metadata partition map"))?;
                    Ok(PartitionMap::Metadata {
                        volume_seq,
                        partition,
                        file_loc: d.file_loc.get(),
                        mirror_loc: d.mirror_loc.get(),
                        bitmap_loc: d.bitmap_loc.get(),
                        alloc_unit: d.alloc_unit.get(),
                        align_unit: d.align_unit.get(),
                        flags: d.flags,
                    })
                } else {
                    Ok(PartitionMap::OtherType2 { ident })
                }
            }
            Some(map_type) => Ok(PartitionMap::Unknown { map_type }),
            None => Err(t("partition map")),
        }
    }

    /// Appends the map's bytes; `revision` goes into type 2 identifiers.
    pub fn encode(&self, revision: u16, out: &mut Vec<u8>) {
        let type2 = |ident: &[u8], volume_seq: u16, partition: u16, data: [u8; 24]| {
            let m = RawType2Map {
                map_type: 2,
                map_len: 64,
                reserved: [0; 2],
                ident: EntityId::udf(ident, revision).to_raw(),
                volume_seq: Le16::new(volume_seq),
                partition: Le16::new(partition),
                data,
            };
            m.as_bytes().to_vec()
        };
        let bytes = match self {
            PartitionMap::Type1 {
                volume_seq,
                partition,
            } => RawType1Map {
                map_type: 1,
                map_len: 6,
                volume_seq: Le16::new(*volume_seq),
                partition: Le16::new(*partition),
            }
            .as_bytes()
            .to_vec(),
            PartitionMap::Virtual {
                volume_seq,
                partition,
                ..
            } => type2(VIRTUAL_ID, *volume_seq, *partition, [0; 24]),
            PartitionMap::Sparable {
                volume_seq,
                partition,
                packet_len,
                table_size,
                tables,
            } => {
                let mut s = RawSparableData::new_zeroed();
                s.packet_len = Le16::new(*packet_len);
                s.num_tables = u8::try_from(tables.len().min(4)).unwrap_or(4);
                s.table_size = Le32::new(*table_size);
                for (d, v) in s.tables.iter_mut().zip(tables) {
                    *d = Le32::new(*v);
                }
                let mut data = [0u8; 24];
                data.copy_from_slice(s.as_bytes());
                type2(SPARABLE_ID, *volume_seq, *partition, data)
            }
            PartitionMap::Metadata {
                volume_seq,
                partition,
                file_loc,
                mirror_loc,
                bitmap_loc,
                alloc_unit,
                align_unit,
                flags,
            } => {
                let d = RawMetadataData {
                    file_loc: Le32::new(*file_loc),
                    mirror_loc: Le32::new(*mirror_loc),
                    bitmap_loc: Le32::new(*bitmap_loc),
                    alloc_unit: Le32::new(*alloc_unit),
                    align_unit: Le16::new(*align_unit),
                    flags: *flags,
                    reserved: [0; 5],
                };
                let mut data = [0u8; 24];
                data.copy_from_slice(d.as_bytes());
                type2(METADATA_ID, *volume_seq, *partition, data)
            }
            PartitionMap::OtherType2 { ident } => {
                let mut m = RawType2Map::new_zeroed();
                m.map_type = 2;
                m.map_len = 64;
                m.ident = ident.to_raw();
                m.as_bytes().to_vec()
            }
            PartitionMap::Unknown { map_type } => vec![*map_type, 2],
        };
        out.extend_from_slice(&bytes);
    }
}

/// UDF 2.2.12 sparing table header, byte for byte (entries follow).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawSparingTable {
    /// RBP 0: tag (identifier 0).
    pub tag: RawTag,
    /// RBP 16: `*UDF Sparing Table`.
    pub ident: RawEntityId,
    /// RBP 48: number of entries.
    pub entries: Le16,
    /// RBP 50: reserved.
    pub reserved: [u8; 2],
    /// RBP 52: sequence number.
    pub sequence: Le32,
}
const _: () = assert!(core::mem::size_of::<RawSparingTable>() == 56);

/// Original location of a sparing entry that is free.
pub const SPARE_AVAILABLE: u32 = 0xFFFF_FFFF;
/// Original location of a sparing entry whose spare packet is defective.
pub const SPARE_DEFECTIVE: u32 = 0xFFFF_FFF0;

/// A parsed sparing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparingTable {
    /// Sequence number.
    pub sequence: u32,
    /// (original packet location, partition-relative; mapped location, a
    /// sector number), in the order recorded.
    pub entries: Vec<(u32, u32)>,
}

impl SparingTable {
    /// Parses and verifies a sparing table recorded at sector `location`.
    /// The table may span several blocks: `b` holds all of it.
    pub fn parse(b: &[u8], location: u32) -> Result<SparingTable> {
        let tag = tag::Tag::parse(b)?;
        if tag.ident != tag::SPARING_TABLE {
            return Err(FormatError::BadValue {
                what: "sparing table tag identifier",
                value: tag.ident.into(),
            });
        }
        tag.check_location(location)?;
        let (raw, rest) =
            RawSparingTable::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
                what: "sparing table",
                need: 56,
                have: b.len(),
            })?;
        if !EntityId::from_raw(&raw.ident).is(SPARING_TABLE_ID) {
            return Err(FormatError::BadMagic {
                what: "sparing table identifier",
            });
        }
        let n = usize::from(raw.entries.get());
        let mut c = Cursor::new(rest, "sparing table entries");
        let mut entries = Vec::new();
        for _ in 0..n {
            let e = c.array::<8>()?;
            let [a, b2, c2, d, e2, f, g, h] = e;
            entries.push((
                u32::from_le_bytes([a, b2, c2, d]),
                u32::from_le_bytes([e2, f, g, h]),
            ));
        }
        Ok(SparingTable {
            sequence: raw.sequence.get(),
            entries,
        })
    }

    /// Encodes the table recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<Vec<u8>> {
        let mut raw = RawSparingTable::new_zeroed();
        raw.ident = EntityId::udf(SPARING_TABLE_ID, 0x0150).to_raw();
        raw.entries =
            Le16::new(
                u16::try_from(self.entries.len()).map_err(|_| FormatError::BadValue {
                    what: "sparing table entries",
                    value: self.entries.len() as u64,
                })?,
            );
        raw.sequence = Le32::new(self.sequence);
        let mut out = raw.as_bytes().to_vec();
        for (o, m) in &self.entries {
            out.extend_from_slice(&o.to_le_bytes());
            out.extend_from_slice(&m.to_le_bytes());
        }
        let mut t = tag::Tag::new(tag::SPARING_TABLE, location, out.len());
        t.version = 2;
        t.write(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_round_trip() {
        let maps = vec![
            PartitionMap::Type1 {
                volume_seq: 1,
                partition: 0,
            },
            PartitionMap::Virtual {
                volume_seq: 1,
                partition: 0,
                revision: 0x0250,
            },
            PartitionMap::Sparable {
                volume_seq: 1,
                partition: 0,
                packet_len: 32,
                table_size: 8192,
                tables: vec![300, 900],
            },
            PartitionMap::Metadata {
                volume_seq: 1,
                partition: 0,
                file_loc: 10,
                mirror_loc: 20,
                bitmap_loc: u32::MAX,
                alloc_unit: 32,
                align_unit: 32,
                flags: 0,
            },
        ];
        let mut table = Vec::new();
        for m in &maps {
            m.encode(0x0250, &mut table);
        }
        assert_eq!(table.len(), 6 + 3 * 64);
        assert_eq!(PartitionMap::parse_table(&table, 4).unwrap(), maps);
        // One map more than the table holds: truncated, not a panic.
        assert!(PartitionMap::parse_table(&table, 5).is_err());
        // A map claiming length 1 cannot advance.
        assert!(PartitionMap::parse_table(&[1, 1, 0, 0], 1).is_err());
    }

    #[test]
    fn sparing_table_round_trip() {
        let t = SparingTable {
            sequence: 3,
            entries: vec![(64, 5000), (SPARE_AVAILABLE, 5032)],
        };
        let b = t.encode(160).unwrap();
        assert_eq!(SparingTable::parse(&b, 160).unwrap(), t);
        assert!(SparingTable::parse(&b, 161).is_err());
        assert!(SparingTable::parse(&b[..60], 160).is_err());
    }
}
