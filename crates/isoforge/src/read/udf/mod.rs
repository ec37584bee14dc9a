//! The UDF file system (ECMA-167 3rd edition, OSTA UDF 1.02-2.60): volume
//! recognition, anchors, the volume descriptor sequences, partition maps
//! (type 1, sparable, virtual, metadata), the integrity sequence and the file
//! set, then ICBs, allocation descriptors and directories (in `node`).
//!
//! Every descriptor's tag is verified (checksum, CRC, location). A bad main
//! volume descriptor sequence falls back to the reserve one, a bad metadata
//! file to its mirror; anything else that fails is corruption, reported with
//! the structure's name and byte offset. Work is bounded by the [`Limits`]:
//! descriptors read while opening, allocation extent chains, ICB
//! indirections, extents per file, directory sizes and entry counts.

mod map;
mod node;

use std::collections::HashSet;

use isoforge_format::ecma119::volume::{volume_structure, VolumeStructure};
use isoforge_format::time::IsoTime;
use isoforge_format::udf::anchor::Anchor;
use isoforge_format::udf::fileset::FileSet;
use isoforge_format::udf::icb::file_type;
use isoforge_format::udf::lvid::Integrity;
use isoforge_format::udf::partition::{PartitionMap, SparingTable, SPARE_DEFECTIVE};
use isoforge_format::udf::tag::{self, Tag};
use isoforge_format::udf::vat::Vat;
use isoforge_format::udf::volume::{
    unallocated_space_len, ImplUseVolume, LogicalVolume, PartitionDescriptor, Pointer,
    PrimaryVolume, VD_LEN,
};
use isoforge_format::udf::{revision_text, EntityId, ExtentAd, LbAddr, DOMAIN_ID};

use crate::error::{Diagnostic, Error, Result};
use crate::options::Limits;
use crate::source::ReadAt;

use map::{Copy, Map, Mapper, MetaExtent, Phys};

/// Positional reads with bounds checks, from an open image or from a source
/// while it is being opened.
pub(crate) trait Disk {
    /// Reads `buf.len()` bytes at `off`; a range past the end is corruption
    /// of `what`.
    fn read_at(&self, what: &'static str, off: u64, buf: &mut [u8]) -> Result<()>;
    /// Size of the image in bytes.
    fn len(&self) -> u64;
}

/// A source being opened.
pub(crate) struct RawDisk<'a, S: ReadAt> {
    pub src: &'a S,
    pub size: u64,
}

impl<S: ReadAt> Disk for RawDisk<'_, S> {
    fn read_at(&self, what: &'static str, off: u64, buf: &mut [u8]) -> Result<()> {
        if off
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.size)
        {
            return Err(Error::corrupt(
                what,
                off,
                format!(
                    "{} bytes at this offset lie past the end of the image ({} bytes)",
                    buf.len(),
                    self.size
                ),
            ));
        }
        self.src
            .read_exact_at(off, buf)
            .map_err(|e| Error::io_at(e, off))
    }
    fn len(&self) -> u64 {
        self.size
    }
}

/// One partition descriptor, as `info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UdfPartition {
    /// Partition number.
    pub number: u16,
    /// First sector.
    pub start: u32,
    /// Length in sectors.
    pub length: u32,
    /// Access type in words (read-only, write-once, ...).
    pub access: &'static str,
    /// Contents identifier (`+NSR02`, `+NSR03`).
    pub contents: String,
}

/// One partition map, as `info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UdfMap {
    /// `type1`, `sparable`, `virtual`, `metadata`, or the identifier of a
    /// map this reader does not use.
    pub kind: String,
    /// Partition number.
    pub partition: Option<u16>,
    /// Details (metadata file locations, packet length, ...).
    pub detail: String,
}

/// The logical volume integrity descriptor, as `info` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdfIntegrity {
    /// Closed cleanly (`true`) or left open.
    pub closed: bool,
    /// When it was recorded.
    pub recorded: Option<IsoTime>,
    /// Number of files.
    pub num_files: Option<u32>,
    /// Number of directories.
    pub num_dirs: Option<u32>,
    /// Minimum UDF revision a reader needs.
    pub min_read: Option<u16>,
    /// Minimum UDF revision a writer needs.
    pub min_write: Option<u16>,
    /// Maximum UDF revision written.
    pub max_write: Option<u16>,
    /// Implementation that last wrote it.
    pub impl_id: Option<String>,
}

/// What a UDF volume is, from its descriptors.
#[derive(Debug, Clone, PartialEq)]
pub struct UdfInfo {
    /// The volume recognition sequence (`BEA01`, `NSR02`/`NSR03`, `TEA01`).
    pub recognition: Vec<String>,
    /// UDF revision: the larger of the domain identifier's and the LVID's
    /// minimum read revision.
    pub revision: u16,
    /// Revision in the logical volume's domain identifier suffix.
    pub domain_revision: u16,
    /// Logical block size.
    pub block_size: u32,
    /// Sectors of the valid anchors found (256, N-256, N: N the last sector).
    pub anchors: Vec<u32>,
    /// Whether the reserve volume descriptor sequence was used.
    pub reserve_sequence: bool,
    /// Volume identifier (primary volume descriptor).
    pub volume_id: String,
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Logical volume identifier.
    pub logical_volume_id: String,
    /// File set identifier.
    pub file_set_id: String,
    /// Application identifier.
    pub application_id: String,
    /// Implementation identifier of the logical volume descriptor.
    pub implementation_id: String,
    /// When the volume was recorded (primary volume descriptor).
    pub recorded: Option<IsoTime>,
    /// Partition descriptors.
    pub partitions: Vec<UdfPartition>,
    /// Partition maps, in partition reference number order.
    pub maps: Vec<UdfMap>,
    /// The logical volume integrity descriptor, when one could be read.
    pub integrity: Option<UdfIntegrity>,
}

impl UdfInfo {
    /// The revision as text (`2.50`).
    pub fn revision_text(&self) -> String {
        revision_text(self.revision)
    }
}

/// An open UDF volume.
#[derive(Debug)]
pub(crate) struct Volume {
    pub info: UdfInfo,
    pub block: u32,
    maps: Vec<Map>,
    root: LbAddr,
}

/// The descriptors of one volume descriptor sequence.
#[derive(Default)]
struct Vds {
    pvd: Option<PrimaryVolume>,
    lvd: Option<LogicalVolume>,
    pds: Vec<PartitionDescriptor>,
}

const SECTOR: u64 = 2048;

fn corrupt(what: &'static str, off: u64, e: isoforge_format::FormatError) -> Error {
    Error::format(what, off, e)
}

/// Counts descriptors read while opening against the limit.
struct Count {
    n: u32,
    max: u32,
}

impl Count {
    fn tick(&mut self) -> Result<()> {
        self.n = self.n.saturating_add(1);
        if self.n > self.max {
            return Err(Error::LimitExceeded {
                what: "UDF descriptors read while opening",
                value: self.n.into(),
                limit: self.max.into(),
            });
        }
        Ok(())
    }
}

/// Reads the volume recognition sequence from byte 32768: descriptors are
/// 2048 bytes apart, or a block apart for blocks larger than that.
pub(crate) fn recognition(d: &dyn Disk, block: u32) -> Result<Vec<(u32, VolumeStructure)>> {
    let step = u64::from(block).max(SECTOR);
    let mut out = Vec::new();
    let mut buf = [0u8; 8];
    for i in 0..64u64 {
        let off = 16 * SECTOR + i * step;
        if off + SECTOR > d.len() {
            break;
        }
        d.read_at("volume recognition sequence", off, &mut buf)?;
        match volume_structure(&buf) {
            Some(VolumeStructure::Cd001) | Some(VolumeStructure::Boot2) => {}
            Some(v) => {
                out.push((u32::try_from(off / SECTOR).unwrap_or(u32::MAX), v));
                if v == VolumeStructure::Tea01 {
                    break;
                }
            }
            None => break,
        }
    }
    Ok(out)
}

/// Finds the anchors for one block size: sector 256, then N-256 and N,
/// where N is the last sector (ECMA-167 3/8.4.2.1); also N-255, where
/// writers that count N as the number of sectors put it.
fn anchors(d: &dyn Disk, block: u32) -> Result<Vec<(u32, Anchor)>> {
    let bs = u64::from(block);
    let Some(last) = (d.len() / bs).checked_sub(1) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    let mut buf = vec![0u8; VD_LEN.min(block as usize)];
    for loc in [
        Some(256),
        last.checked_sub(256),
        Some(last),
        last.checked_sub(255),
    ]
    .into_iter()
    .flatten()
    {
        if loc < 256 || found.iter().any(|(l, _)| u64::from(*l) == loc) {
            continue;
        }
        let Ok(loc32) = u32::try_from(loc) else {
            continue;
        };
        d.read_at("UDF anchor volume descriptor pointer", loc * bs, &mut buf)?;
        if let Ok(a) = Anchor::parse(&buf, loc32) {
            found.push((loc32, a));
        }
    }
    Ok(found)
}

fn id_text(e: &EntityId) -> String {
    let t = e.id_text();
    let rev = e.revision();
    if (e.is(DOMAIN_ID) || t.starts_with("*UDF")) && rev != 0 {
        format!("{t} {}", revision_text(rev))
    } else {
        t
    }
}

impl Volume {
    /// Opens the UDF volume of an image: finds the block size from the
    /// anchor, reads the descriptor sequences, partition maps, integrity
    /// sequence and file set.
    pub(crate) fn open(
        d: &dyn Disk,
        limits: &Limits,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<Volume> {
        let mut found = None;
        for block in [2048u32, 512, 4096, 1024] {
            if u64::from(block) * 257 > d.len() {
                continue;
            }
            let a = anchors(d, block)?;
            if !a.is_empty() {
                found = Some((block, a));
                break;
            }
        }
        let Some((block, anchors)) = found else {
            return Err(Error::corrupt(
                "UDF anchor volume descriptor pointer",
                256 * SECTOR,
                "no valid anchor at sector 256, N-256 or N (the last sector) for any block size from 512 to 4096",
            ));
        };
        let anchor = anchors.first().map(|(_, a)| *a).ok_or_else(|| {
            Error::corrupt("UDF anchor volume descriptor pointer", 256 * SECTOR, "none")
        })?;
        let recognition = recognition(d, block)?;
        if !recognition
            .iter()
            .any(|(_, v)| matches!(v, VolumeStructure::Nsr02 | VolumeStructure::Nsr03))
        {
            diags.push(Diagnostic {
                offset: 16 * SECTOR,
                message: "the volume recognition sequence has no NSR02 or NSR03 descriptor; the UDF anchor is used anyway".into(),
            });
        }
        let mut count = Count {
            n: 0,
            max: limits.max_udf_descriptors,
        };
        let (vds, reserve) = match read_vds(d, block, anchor.main, &mut count) {
            Ok(v) => (v, false),
            Err(main_err) => match read_vds(d, block, anchor.reserve, &mut count) {
                Ok(v) => {
                    diags.push(Diagnostic {
                        offset: u64::from(anchor.main.loc) * u64::from(block),
                        message: format!(
                            "main UDF volume descriptor sequence unreadable ({main_err}); the reserve sequence is used"
                        ),
                    });
                    (v, true)
                }
                Err(_) => return Err(main_err),
            },
        };
        let vds_off = u64::from(if reserve {
            anchor.reserve.loc
        } else {
            anchor.main.loc
        }) * u64::from(block);
        let lvd = vds.lvd.ok_or_else(|| {
            Error::corrupt(
                "UDF volume descriptor sequence",
                vds_off,
                "no logical volume descriptor",
            )
        })?;
        if lvd.block_size != block {
            return Err(Error::corrupt(
                "UDF logical volume descriptor",
                vds_off,
                format!(
                    "logical block size {} differs from the block size {block} the anchor was found with",
                    lvd.block_size
                ),
            ));
        }
        if !lvd.domain.is(DOMAIN_ID) {
            diags.push(Diagnostic {
                offset: vds_off,
                message: format!(
                    "UDF logical volume domain is {:?}, not \"*OSTA UDF Compliant\"",
                    lvd.domain.id_text()
                ),
            });
        }
        let mut vol = Volume {
            info: UdfInfo {
                recognition: recognition
                    .iter()
                    .map(|(_, v)| format!("{v:?}").to_uppercase())
                    .collect(),
                revision: lvd.domain.revision(),
                domain_revision: lvd.domain.revision(),
                block_size: block,
                anchors: anchors.iter().map(|(l, _)| *l).collect(),
                reserve_sequence: reserve,
                volume_id: vds
                    .pvd
                    .as_ref()
                    .map(|p| p.volume_id.clone())
                    .unwrap_or_default(),
                volume_set_id: vds
                    .pvd
                    .as_ref()
                    .map(|p| p.volume_set_id.clone())
                    .unwrap_or_default(),
                logical_volume_id: lvd.lv_id.clone(),
                file_set_id: String::new(),
                application_id: vds
                    .pvd
                    .as_ref()
                    .map(|p| id_text(&p.app_id))
                    .unwrap_or_default(),
                implementation_id: id_text(&lvd.impl_id),
                recorded: vds.pvd.as_ref().and_then(|p| p.recorded),
                partitions: vds
                    .pds
                    .iter()
                    .map(|p| UdfPartition {
                        number: p.number,
                        start: p.start,
                        length: p.length,
                        access: p.access_text(),
                        contents: p.contents.id_text(),
                    })
                    .collect(),
                maps: Vec::new(),
                integrity: None,
            },
            block,
            maps: Vec::new(),
            root: LbAddr::default(),
        };
        vol.load_maps(d, &lvd, &vds.pds, limits, &mut count, diags)?;
        vol.info.integrity = match read_integrity(d, block, lvd.integrity, &mut count) {
            Ok(i) => i,
            Err(e) => {
                diags.push(Diagnostic {
                    offset: u64::from(lvd.integrity.loc) * u64::from(block),
                    message: format!("UDF logical volume integrity descriptor unreadable: {e}"),
                });
                None
            }
        };
        if let Some(r) = vol.info.integrity.as_ref().and_then(|i| i.min_read) {
            vol.info.revision = vol.info.revision.max(r);
        }
        let fsd = vol.file_set(d, lvd.fsd.loc, &mut count, diags)?;
        vol.info.file_set_id = fsd.fileset_id.clone();
        vol.root = fsd.root.loc;
        Ok(vol)
    }

    fn mapper(&self) -> Mapper<'_> {
        Mapper {
            maps: &self.maps,
            block: self.block,
        }
    }

    /// Resolves the partition maps of the logical volume.
    fn load_maps(
        &mut self,
        d: &dyn Disk,
        lvd: &LogicalVolume,
        pds: &[PartitionDescriptor],
        limits: &Limits,
        count: &mut Count,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<()> {
        let phys_of = |n: u16| {
            pds.iter().find(|p| p.number == n).map(|p| Phys {
                start: p.start,
                len: p.length,
            })
        };
        let missing = |n: u16| Map::Unusable(format!("partition {n} has no partition descriptor"));
        for m in &lvd.maps {
            let (kind, partition, detail, map) = match m {
                PartitionMap::Type1 { partition, .. } => (
                    "type1".to_string(),
                    Some(*partition),
                    String::new(),
                    phys_of(*partition).map_or_else(|| missing(*partition), Map::Physical),
                ),
                PartitionMap::Sparable {
                    partition,
                    packet_len,
                    table_size,
                    tables,
                    ..
                } => {
                    let map = match phys_of(*partition) {
                        None => missing(*partition),
                        Some(phys) => {
                            let table = self.sparing_table(d, tables, *table_size, count, diags)?;
                            Map::Sparable {
                                phys,
                                packet: u32::from(*packet_len).max(1),
                                table,
                            }
                        }
                    };
                    (
                        "sparable".into(),
                        Some(*partition),
                        format!("packet {packet_len} blocks, sparing tables at {tables:?}"),
                        map,
                    )
                }
                PartitionMap::Virtual { partition, .. } => (
                    "virtual".into(),
                    Some(*partition),
                    String::new(),
                    Map::Unusable("virtual partition not resolved".into()),
                ),
                PartitionMap::Metadata {
                    partition,
                    file_loc,
                    mirror_loc,
                    bitmap_loc,
                    flags,
                    ..
                } => (
                    "metadata".into(),
                    Some(*partition),
                    format!(
                        "metadata file at block {file_loc}, mirror at {mirror_loc}, bitmap at {}{}",
                        if *bitmap_loc == u32::MAX {
                            "none".to_string()
                        } else {
                            bitmap_loc.to_string()
                        },
                        if flags & 1 != 0 { ", duplicated" } else { "" }
                    ),
                    Map::Unusable("metadata partition not resolved".into()),
                ),
                PartitionMap::OtherType2 { ident } => {
                    let id = ident.id_text();
                    (
                        id.clone(),
                        None,
                        String::new(),
                        Map::Unusable(format!("partition maps of type {id:?} are not supported")),
                    )
                }
                PartitionMap::Unknown { map_type } => (
                    format!("type{map_type}"),
                    None,
                    String::new(),
                    Map::Unusable(format!(
                        "partition maps of type {map_type} are not supported"
                    )),
                ),
                _ => (
                    "unknown".into(),
                    None,
                    String::new(),
                    Map::Unusable("unknown partition map".into()),
                ),
            };
            self.info.maps.push(UdfMap {
                kind,
                partition,
                detail,
            });
            self.maps.push(map);
        }
        // Virtual and metadata partitions sit on the physical (type 1 or
        // sparable) map of the same partition number.
        let under_of = |maps: &[Map], n: u16| -> Option<u16> {
            lvd.maps.iter().enumerate().find_map(|(i, m)| {
                let direct = matches!(
                    m,
                    PartitionMap::Type1 { .. } | PartitionMap::Sparable { .. }
                );
                let usable = matches!(maps.get(i), Some(Map::Physical(_) | Map::Sparable { .. }));
                (direct && usable && m.partition() == Some(n))
                    .then(|| u16::try_from(i).ok())
                    .flatten()
            })
        };
        for (i, m) in lvd.maps.iter().enumerate() {
            if let PartitionMap::Virtual { partition, .. } = m {
                let resolved = match (under_of(&self.maps, *partition), phys_of(*partition)) {
                    (Some(under), Some(phys)) => match self.find_vat(d, under, phys, limits) {
                        Ok(vat) => Map::Virtual { phys, vat },
                        Err(e) => Map::Unusable(format!("virtual partition: {e}")),
                    },
                    _ => missing(*partition),
                };
                if let Some(slot) = self.maps.get_mut(i) {
                    *slot = resolved;
                }
            }
        }
        for (i, m) in lvd.maps.iter().enumerate() {
            if let PartitionMap::Metadata {
                partition,
                file_loc,
                mirror_loc,
                ..
            } = m
            {
                let Some(under) = under_of(&self.maps, *partition) else {
                    if let Some(slot) = self.maps.get_mut(i) {
                        *slot = missing(*partition);
                    }
                    continue;
                };
                let mut load = |loc: u32, want: u8, what: &str| match self
                    .metadata_file(d, under, loc, want, limits)
                {
                    Ok(v) => Some(v),
                    Err(e) => {
                        diags.push(Diagnostic {
                            offset: 0,
                            message: format!("UDF {what} at block {loc} unreadable: {e}"),
                        });
                        None
                    }
                };
                let main = load(*file_loc, file_type::METADATA, "metadata file");
                let mirror = if mirror_loc != file_loc {
                    load(
                        *mirror_loc,
                        file_type::METADATA_MIRROR,
                        "metadata mirror file",
                    )
                } else {
                    None
                };
                if main.is_none() && mirror.is_some() {
                    diags.push(Diagnostic {
                        offset: 0,
                        message: "the UDF metadata file is unreadable; its mirror is used".into(),
                    });
                }
                if let Some(slot) = self.maps.get_mut(i) {
                    *slot = if main.is_none() && mirror.is_none() {
                        Map::Unusable(
                            "neither the metadata file nor its mirror could be read".into(),
                        )
                    } else {
                        Map::Metadata {
                            under,
                            main,
                            mirror,
                        }
                    };
                }
            }
        }
        Ok(())
    }

    /// The first sparing table that reads, sorted, without free and
    /// defective entries.
    fn sparing_table(
        &self,
        d: &dyn Disk,
        tables: &[u32],
        size: u32,
        count: &mut Count,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<Vec<(u32, u32)>> {
        let bs = u64::from(self.block);
        let len = u64::from(size).clamp(56, 1 << 20).div_ceil(bs) * bs;
        let mut first_err = None;
        for &loc in tables {
            count.tick()?;
            let off = u64::from(loc) * bs;
            let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
            let r = d
                .read_at("UDF sparing table", off, &mut buf)
                .and_then(|()| {
                    SparingTable::parse(&buf, loc).map_err(|e| corrupt("UDF sparing table", off, e))
                });
            match r {
                Ok(t) => {
                    let mut v: Vec<(u32, u32)> = t
                        .entries
                        .into_iter()
                        .filter(|(o, _)| *o < SPARE_DEFECTIVE)
                        .collect();
                    v.sort_unstable();
                    return Ok(v);
                }
                Err(e) => {
                    diags.push(Diagnostic {
                        offset: off,
                        message: format!("UDF sparing table unreadable: {e}"),
                    });
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err
            .unwrap_or_else(|| Error::corrupt("UDF sparable partition map", 0, "no sparing table")))
    }

    /// Reads the extents of a metadata file (or its mirror) whose file
    /// entry is at block `loc` of map `under`.
    fn metadata_file(
        &self,
        d: &dyn Disk,
        under: u16,
        loc: u32,
        want: u8,
        limits: &Limits,
    ) -> Result<Vec<MetaExtent>> {
        let addr = LbAddr {
            partition: under,
            block: loc,
        };
        let n = self.read_icb(d, addr, Copy::Main, limits)?;
        if n.file_type != want {
            return Err(Error::corrupt(
                "UDF metadata file entry",
                n.offset,
                format!("file type {} where {want} was expected", n.file_type),
            ));
        }
        let exts = self.extents(d, &n, limits)?;
        let mut out = Vec::new();
        let mut first = 0u64;
        let bs = u64::from(self.block);
        for e in exts {
            let blocks = u64::from(e.len).div_ceil(bs);
            out.push(MetaExtent {
                first,
                blocks,
                under: (e.kind == isoforge_format::udf::ExtentKind::Recorded)
                    .then_some(e.addr.block),
            });
            first = first.saturating_add(blocks);
        }
        Ok(out)
    }

    /// Finds the VAT of a virtual partition: the last file entry recorded,
    /// at or a little before the end of the image.
    fn find_vat(&self, d: &dyn Disk, under: u16, phys: Phys, limits: &Limits) -> Result<Vec<u32>> {
        let bs = u64::from(self.block);
        let last = d.len() / bs;
        let mut buf = vec![0u8; usize::try_from(bs).unwrap_or(2048)];
        // Sessions end with a few unwritten run-out blocks; images of
        // partly written discs may be padded further.
        for back in 1..=1024u64 {
            let Some(sector) = last.checked_sub(back) else {
                break;
            };
            if sector < u64::from(phys.start) {
                break;
            }
            d.read_at("UDF virtual allocation table", sector * bs, &mut buf)?;
            let Ok(t) = Tag::parse(&buf) else {
                continue;
            };
            if t.ident != tag::FE && t.ident != tag::EFE {
                continue;
            }
            let block = u32::try_from(sector - u64::from(phys.start)).map_err(|_| {
                Error::corrupt(
                    "UDF virtual allocation table",
                    sector * bs,
                    "block overflows",
                )
            })?;
            let addr = LbAddr {
                partition: under,
                block,
            };
            let n = self.read_icb(d, addr, Copy::Main, limits)?;
            let v20 = n.file_type == file_type::VAT20;
            if !v20 && n.file_type != file_type::UNSPECIFIED {
                break;
            }
            let runs = self.runs_of(d, &n, limits)?;
            let data = self.read_runs(
                d,
                &runs,
                n.info_len,
                64 << 20,
                "UDF virtual allocation table",
            )?;
            return Vat::parse(&data, v20)
                .map(|v| v.entries)
                .map_err(|e| corrupt("UDF virtual allocation table", n.offset, e));
        }
        Err(Error::corrupt(
            "UDF virtual allocation table",
            d.len(),
            "no VAT file entry near the end of the image",
        ))
    }

    /// Reads the file set descriptor at `addr` (through the mirror of a
    /// metadata partition when the main copy is bad).
    fn file_set(
        &self,
        d: &dyn Disk,
        addr: LbAddr,
        count: &mut Count,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<FileSet> {
        count.tick()?;
        let read = |copy| -> Result<FileSet> {
            let (buf, off) = self.read_block(d, addr, copy)?;
            FileSet::parse(&buf, addr.block).map_err(|e| corrupt("UDF file set descriptor", off, e))
        };
        match read(Copy::Main) {
            Ok(f) => Ok(f),
            Err(e) if self.mapper().has_mirror(addr.partition) => {
                let f = read(Copy::Mirror).map_err(|_| e)?;
                diags.push(Diagnostic {
                    offset: 0,
                    message: "UDF file set descriptor read from the metadata mirror".into(),
                });
                Ok(f)
            }
            Err(e) => Err(e),
        }
    }

    /// The root directory's ICB.
    pub(crate) fn root(&self) -> LbAddr {
        self.root
    }
}

/// Reads a volume descriptor sequence, following volume descriptor
/// pointers, until a terminating descriptor or the end of its extent.
fn read_vds(d: &dyn Disk, block: u32, ext: ExtentAd, count: &mut Count) -> Result<Vds> {
    let bs = u64::from(block);
    if ext.len == 0 {
        return Err(Error::corrupt(
            "UDF volume descriptor sequence",
            u64::from(ext.loc) * bs,
            "empty extent",
        ));
    }
    let mut vds = Vds::default();
    let mut seen = HashSet::new();
    let mut sector = u64::from(ext.loc);
    let mut end = sector + u64::from(ext.len).div_ceil(bs);
    seen.insert(ext.loc);
    let mut buf = vec![0u8; usize::try_from(bs).unwrap_or(2048)];
    while sector < end {
        count.tick()?;
        let off = sector * bs;
        let loc = u32::try_from(sector).map_err(|_| {
            Error::corrupt(
                "UDF volume descriptor sequence",
                off,
                "sector number overflows",
            )
        })?;
        buf.resize(usize::try_from(bs).unwrap_or(2048), 0);
        d.read_at("UDF volume descriptor sequence", off, &mut buf)?;
        let what = "UDF volume descriptor sequence";
        // The tag's identifier says what the descriptor is and how long;
        // the whole descriptor is then verified by its parser.
        let t = Tag::parse_head(&buf).map_err(|e| corrupt(what, off, e))?;
        let mut blocks = 1u64;
        match t.ident {
            tag::PVD => {
                let p = PrimaryVolume::parse(&buf, loc)
                    .map_err(|e| corrupt("UDF primary volume descriptor", off, e))?;
                if vds.pvd.as_ref().is_none_or(|o| p.vdsn >= o.vdsn) {
                    vds.pvd = Some(p);
                }
            }
            tag::IUVD => {
                // Verified; what it says (LV information) is not shown.
                ImplUseVolume::parse(&buf, loc)
                    .map_err(|e| corrupt("UDF implementation use volume descriptor", off, e))?;
            }
            tag::PD => {
                let p = PartitionDescriptor::parse(&buf, loc)
                    .map_err(|e| corrupt("UDF partition descriptor", off, e))?;
                match vds.pds.iter_mut().find(|o| o.number == p.number) {
                    Some(o) if p.vdsn >= o.vdsn => *o = p,
                    Some(_) => {}
                    None => {
                        if vds.pds.len() >= 64 {
                            return Err(Error::LimitExceeded {
                                what: "UDF partition descriptors",
                                value: 65,
                                limit: 64,
                            });
                        }
                        vds.pds.push(p);
                    }
                }
            }
            tag::LVD => {
                let len = LogicalVolume::recorded_len(&buf)
                    .map_err(|e| corrupt("UDF logical volume descriptor", off, e))?;
                if len > 64 << 10 {
                    return Err(Error::corrupt(
                        "UDF logical volume descriptor",
                        off,
                        format!("partition map table of {len} bytes"),
                    ));
                }
                blocks = u64::try_from(len).unwrap_or(u64::MAX).div_ceil(bs).max(1);
                buf.resize(usize::try_from(blocks * bs).unwrap_or(0), 0);
                d.read_at("UDF logical volume descriptor", off, &mut buf)?;
                let p = LogicalVolume::parse(&buf, loc)
                    .map_err(|e| corrupt("UDF logical volume descriptor", off, e))?;
                if vds.lvd.as_ref().is_none_or(|o| p.vdsn >= o.vdsn) {
                    vds.lvd = Some(p);
                }
            }
            tag::USD => {
                let len = unallocated_space_len(&buf)
                    .map_err(|e| corrupt("UDF unallocated space descriptor", off, e))?;
                if len > 1 << 20 {
                    return Err(Error::corrupt(
                        "UDF unallocated space descriptor",
                        off,
                        format!("{len} bytes long"),
                    ));
                }
                blocks = len.div_ceil(bs).max(1);
                buf.resize(usize::try_from(blocks * bs).unwrap_or(0), 0);
                d.read_at("UDF unallocated space descriptor", off, &mut buf)?;
                Tag::verify(&buf, tag::USD, loc)
                    .map_err(|e| corrupt("UDF unallocated space descriptor", off, e))?;
            }
            tag::TD => {
                Tag::verify(&buf, tag::TD, loc)
                    .map_err(|e| corrupt("UDF terminating descriptor", off, e))?;
                break;
            }
            tag::VDP => {
                let p = Pointer::parse(&buf, loc)
                    .map_err(|e| corrupt("UDF volume descriptor pointer", off, e))?;
                if !seen.insert(p.next.loc) {
                    return Err(Error::corrupt(
                        "UDF volume descriptor pointer",
                        off,
                        format!("the sequence loops back to sector {}", p.next.loc),
                    ));
                }
                sector = u64::from(p.next.loc);
                end = sector + u64::from(p.next.len).div_ceil(bs);
                continue;
            }
            other => {
                return Err(Error::corrupt(
                    what,
                    off,
                    format!("unexpected descriptor (tag identifier {other}) in the sequence"),
                ))
            }
        }
        sector = sector.saturating_add(blocks);
    }
    if vds.lvd.is_none() || vds.pds.is_empty() {
        return Err(Error::corrupt(
            "UDF volume descriptor sequence",
            u64::from(ext.loc) * bs,
            "no logical volume descriptor or no partition descriptor",
        ));
    }
    Ok(vds)
}

/// Reads the integrity sequence and returns its last descriptor.
fn read_integrity(
    d: &dyn Disk,
    block: u32,
    ext: ExtentAd,
    count: &mut Count,
) -> Result<Option<UdfIntegrity>> {
    let bs = u64::from(block);
    let mut last = None;
    let mut seen = HashSet::new();
    let mut sector = u64::from(ext.loc);
    let mut end = sector + u64::from(ext.len).div_ceil(bs);
    let mut buf = vec![0u8; usize::try_from(bs).unwrap_or(2048)];
    while sector < end {
        count.tick()?;
        let off = sector * bs;
        let loc = u32::try_from(sector).unwrap_or(u32::MAX);
        d.read_at("UDF logical volume integrity descriptor", off, &mut buf)?;
        let t = Tag::parse(&buf)
            .map_err(|e| corrupt("UDF logical volume integrity descriptor", off, e))?;
        if t.ident == tag::TD {
            break;
        }
        let lvid = Integrity::parse(&buf, loc)
            .map_err(|e| corrupt("UDF logical volume integrity descriptor", off, e))?;
        let next = lvid.next;
        last = Some(UdfIntegrity {
            closed: lvid.is_closed(),
            recorded: lvid.recorded,
            num_files: lvid.num_files,
            num_dirs: lvid.num_dirs,
            min_read: lvid.min_read,
            min_write: lvid.min_write,
            max_write: lvid.max_write,
            impl_id: lvid.impl_id.map(|i| i.id_text()),
        });
        if next.len > 0 {
            if !seen.insert(next.loc) {
                return Err(Error::corrupt(
                    "UDF logical volume integrity descriptor",
                    off,
                    "the integrity sequence loops",
                ));
            }
            sector = u64::from(next.loc);
            end = sector + u64::from(next.len).div_ceil(bs);
        } else {
            sector += 1;
        }
    }
    Ok(last)
}
