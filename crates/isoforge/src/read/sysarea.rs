//! The system area (ECMA-119 §6.2.1: the first 16 sectors, 32 KiB) of
//! hybrid images: the MBR with its partition table, a GPT at 512-byte LBA 1
//! (or 2048-byte LBA 1) with its backup, and an Apple partition map. The
//! result also classifies the MBR with the words of xorriso's
//! `-report_system_area` "System area summary":
//!
//! * `MBR`: bytes 510-511 are 0x55 0xAA.
//! * `isohybrid`: bytes 432-439 hold `lba * 4` of an El Torito boot image
//!   that carries the ISOLINUX isohybrid magic (the address isohybrid MBR
//!   code loads isolinux.bin from).
//! * `protective-msdos-label`: otherwise, a single partition that starts at
//!   512-byte block 1 (GRUB2's `--protective-msdos-label`, or a GPT
//!   protective MBR).
//! * `grub2-mbr`: bytes 432-439 hold `lba * 4 + 4` of the first El Torito
//!   boot image (`--grub2-mbr`).
//! * `cyl-align-on` / `cyl-align-all` / `cyl-align-off`: whether the first
//!   partition ends on a cylinder boundary of the guessed geometry (`all`:
//!   every partition does), i.e. whether the image was padded to full
//!   cylinders.
//! * `GPT`: a GPT header with a valid signature was found.
//! * `APM`: an Apple partition map was found.
//!
//! Checksum mismatches are findings (`*_crc_ok` fields), not errors.

use isoforge_format::apm::parse_apm;
use isoforge_format::gpt::{entries_crc, parse_entries, GptHeader};
use isoforge_format::mbr::{Chs, Mbr, MbrPartition};
use isoforge_format::SECTOR;

use crate::error::{Diagnostic, Result};
use crate::read::boot::{read_el_torito, ElTorito};
use crate::read::Image;
use crate::source::ReadAt;

/// Size of the system area.
const SYSTEM_AREA: u64 = 16 * SECTOR as u64;
/// Largest GPT partition entry array read (4096 entries of 256 bytes).
const MAX_GPT_TABLE: usize = 1 << 20;
/// Largest number of Apple partition map entries accepted.
const MAX_APM_ENTRIES: usize = 256;

/// What the system area holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SystemArea {
    /// Whether all 32 KiB are zero.
    pub all_zero: bool,
    /// xorriso's "System area summary" words, in its order.
    pub summary: Vec<&'static str>,
    /// xorriso's "ISO image size/512": the volume space size in 512-byte
    /// blocks.
    pub iso_image_size_512: u64,
    /// xorriso's "Partition offset": the 2048-byte block where a second
    /// ISO 9660 superblock set starts for the first MBR partition
    /// (`-partition_offset`), else 0.
    pub partition_offset: u32,
    /// The MBR, if bytes 510-511 are 0x55 0xAA.
    pub mbr: Option<MbrReport>,
    /// The GPT, if a header signature was found.
    pub gpt: Option<GptReport>,
    /// The Apple partition map, if any.
    pub apm: Option<ApmReport>,
    /// Tolerated problems (unreadable GPT entry arrays and the like).
    pub diagnostics: Vec<Diagnostic>,
}

/// An MBR and how it is used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MbrReport {
    /// Disk signature, bytes 440-443.
    pub disk_signature: u32,
    /// The 64-bit value at bytes 432-439.
    pub boot_image_address: u64,
    /// Heads per cylinder guessed from the partitions' CHS addresses
    /// (64 when nothing fits better).
    pub heads_per_cyl: u32,
    /// Sectors per head, guessed likewise (32 by default).
    pub secs_per_head: u32,
    /// Non-empty partition entries.
    pub partitions: Vec<MbrPartitionReport>,
    /// The MBR is an isohybrid MBR.
    pub isohybrid: bool,
    /// The MBR is a GRUB2 MBR pointing at the first boot image.
    pub grub2_mbr: bool,
    /// A single partition from block 1 on.
    pub protective_msdos_label: bool,
    /// `on`, `off` or `all` (see the module documentation); `None` without
    /// partitions.
    pub cyl_align: Option<&'static str>,
}

/// One MBR partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MbrPartitionReport {
    /// Entry number, 1-4.
    pub number: u8,
    /// Status byte (0x80 active).
    pub status: u8,
    /// Partition type.
    pub ptype: u8,
    /// Start, 512-byte blocks.
    pub start: u32,
    /// Size, 512-byte blocks.
    pub blocks: u32,
    /// CHS start (cylinder, head, sector).
    pub chs_start: (u16, u8, u8),
    /// CHS end (cylinder, head, sector).
    pub chs_end: (u16, u8, u8),
}

/// A GPT and its checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GptReport {
    /// Block size the header was found with (512 or 2048).
    pub block_size: u32,
    /// Byte offset of the primary header.
    pub header_offset: u64,
    /// Revision.
    pub revision: u32,
    /// Header size.
    pub header_size: u32,
    /// Header CRC matches.
    pub header_crc_ok: bool,
    /// Disk GUID, registry form.
    pub disk_guid: String,
    /// Disk GUID bytes in disk order, hex (xorriso's form).
    pub disk_guid_hex: String,
    /// LBA of this header.
    pub current_lba: u64,
    /// LBA of the backup header.
    pub backup_lba: u64,
    /// First usable LBA.
    pub first_usable_lba: u64,
    /// Last usable LBA.
    pub last_usable_lba: u64,
    /// Entry array LBA.
    pub entries_lba: u64,
    /// Number of entries.
    pub num_entries: u32,
    /// Entry size.
    pub entry_size: u32,
    /// Entry array CRC matches; `None` if the array could not be read.
    pub entries_crc_ok: Option<bool>,
    /// Used partition entries.
    pub partitions: Vec<GptPartitionReport>,
    /// Whether two partitions overlap (xorriso's "overlapping" versus
    /// "separated").
    pub overlapping: bool,
    /// The backup header.
    pub backup: Option<GptBackupReport>,
}

/// One used GPT partition entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GptPartitionReport {
    /// 1-based slot number.
    pub number: u32,
    /// Type GUID, registry form.
    pub type_guid: String,
    /// Type GUID bytes, hex.
    pub type_guid_hex: String,
    /// Unique GUID, registry form.
    pub unique_guid: String,
    /// Unique GUID bytes, hex.
    pub unique_guid_hex: String,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// Size in blocks.
    pub blocks: u64,
    /// Attribute flags.
    pub attributes: u64,
    /// Name.
    pub name: String,
}

/// The backup GPT header and how it agrees with the primary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GptBackupReport {
    /// LBA looked at.
    pub lba: u64,
    /// Whether a header signature was found there.
    pub found: bool,
    /// Header CRC matches.
    pub header_crc_ok: bool,
    /// Its current/backup LBAs mirror the primary's.
    pub lbas_match: bool,
    /// Its entry array CRC matches its array; `None` if not read.
    pub entries_crc_ok: Option<bool>,
    /// Its recorded entry array CRC equals the primary's.
    pub entries_match_primary: bool,
}

/// An Apple partition map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApmReport {
    /// Block size the entries were found at.
    pub block_size: u32,
    /// Driver descriptor block count.
    pub block_count: u32,
    /// Entries in map order, including the map's own entry.
    pub partitions: Vec<ApmPartitionReport>,
}

/// One Apple partition map entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApmPartitionReport {
    /// 1-based position in the map.
    pub number: u32,
    /// Name.
    pub name: String,
    /// Type (e.g. `Apple_HFS`, `Apple_partition_map`).
    pub ptype: String,
    /// First block.
    pub start: u32,
    /// Block count.
    pub count: u32,
    /// Status flags.
    pub status: u32,
}

/// Reads the first 32 KiB and reports MBR, GPT and APM.
///
/// The El Torito catalog is read too, to recognise isohybrid and GRUB2
/// MBRs; a damaged catalog only disables that recognition.
pub fn read_system_area<S: ReadAt>(img: &Image<S>) -> Result<SystemArea> {
    let image_size = img.info().image_size;
    let len = usize::try_from(SYSTEM_AREA.min(image_size)).unwrap_or(0);
    let mut area = vec![0u8; len];
    img.read_at("system area", 0, &mut area)?;
    let el_torito = read_el_torito(img).ok().flatten();
    let mut diagnostics = Vec::new();
    let iso_image_size_512 = u64::from(img.info().volume_space_size)
        .saturating_mul(u64::from(img.info().block_size))
        / 512;

    let mbr = match Mbr::parse(&area) {
        Ok((m, _)) if m.has_signature() => Some(m),
        _ => None,
    };
    let mut partition_offset = match &mbr {
        Some(m) => detect_partition_offset(img, m)?,
        None => 0,
    };
    let mbr_report = mbr.as_ref().map(|m| mbr_report(m, el_torito.as_ref()));

    let mut gpt = None;
    for bs in [512u32, 2048] {
        let start = usize::try_from(bs).unwrap_or(512);
        let Some(block) = area.get(start..start.saturating_add(start)) else {
            continue;
        };
        if let Ok((h, _)) = GptHeader::parse(block) {
            gpt = Some(gpt_report(img, &h, bs, &mut diagnostics)?);
            break;
        }
    }

    // Behind a protective MBR, the partition with the second superblock
    // set is a GPT entry.
    if partition_offset == 0 {
        if let Some(g) = &gpt {
            for p in g.partitions.iter().filter(|p| p.first_lba >= 64) {
                partition_offset = offset_at(img, p.first_lba)?;
                if partition_offset != 0 {
                    break;
                }
            }
        }
    }
    let apm = match parse_apm(&area, MAX_APM_ENTRIES) {
        Ok(Some(a)) => Some(ApmReport {
            block_size: a.block_size,
            block_count: a.ddr.block_count,
            partitions: a
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| ApmPartitionReport {
                    number: u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1),
                    name: e.name(),
                    ptype: e.type_name(),
                    start: e.start,
                    count: e.count,
                    status: e.status,
                })
                .collect(),
        }),
        Ok(None) => None,
        Err(e) => {
            diagnostics.push(Diagnostic {
                offset: 0,
                message: format!("Apple partition map ignored: {e}"),
            });
            None
        }
    };

    let mut summary = Vec::new();
    if let Some(m) = &mbr_report {
        summary.push("MBR");
        if m.isohybrid {
            summary.push("isohybrid");
        } else if m.protective_msdos_label {
            summary.push("protective-msdos-label");
        }
        if m.grub2_mbr {
            summary.push("grub2-mbr");
        }
        if let Some(c) = m.cyl_align {
            summary.push(match c {
                "on" => "cyl-align-on",
                "all" => "cyl-align-all",
                _ => "cyl-align-off",
            });
        }
    }
    if gpt.is_some() {
        summary.push("GPT");
    }
    if apm.is_some() {
        summary.push("APM");
    }

    Ok(SystemArea {
        all_zero: area.iter().all(|&b| b == 0),
        summary,
        iso_image_size_512,
        partition_offset,
        mbr: mbr_report,
        gpt,
        apm,
        diagnostics,
    })
}

/// `-partition_offset`: the first partition starts at a 2048-byte boundary
/// where a second primary volume descriptor sits 16 sectors in.
fn detect_partition_offset<S: ReadAt>(img: &Image<S>, m: &Mbr) -> Result<u32> {
    let Some(p) = m.partitions.first().filter(|p| !p.is_empty()) else {
        return Ok(0);
    };
    offset_at(img, u64::from(p.start_lba))
}

/// The partition offset if a partition starting at 512-byte block `start`
/// holds a second superblock set, else 0.
fn offset_at<S: ReadAt>(img: &Image<S>, start: u64) -> Result<u32> {
    if start == 0 || !start.is_multiple_of(4) {
        return Ok(0);
    }
    let Ok(blocks) = u32::try_from(start / 4) else {
        return Ok(0);
    };
    let Some(off) = u64::from(blocks)
        .checked_add(16)
        .and_then(|b| b.checked_mul(SECTOR as u64))
    else {
        return Ok(0);
    };
    if off.saturating_add(SECTOR as u64) > img.info().image_size {
        return Ok(0);
    }
    let mut head = [0u8; 6];
    img.read_at("partition offset superblock", off, &mut head)?;
    Ok(if &head == b"\x01CD001" { blocks } else { 0 })
}

fn chs_tuple(c: Chs) -> (u16, u8, u8) {
    (c.cylinder, c.head, c.sector)
}

/// Whether the CHS addresses of `parts` agree with a geometry, for the
/// addresses below cylinder 1024.
fn geometry_fits(parts: &[&MbrPartition], heads: u8, secs: u8) -> bool {
    let spc = u32::from(heads).saturating_mul(u32::from(secs));
    let fits = |lba: u32, recorded: Chs| {
        if spc == 0 || lba / spc > 1023 {
            return true;
        }
        Chs::from_lba(lba, heads, secs) == Some(recorded)
    };
    parts.iter().all(|p| {
        let last = p
            .start_lba
            .saturating_add(p.sectors)
            .saturating_sub(1)
            .max(p.start_lba);
        fits(p.start_lba, p.chs_start) && fits(last, p.chs_end)
    })
}

/// Heads per cylinder and sectors per head from the partitions' CHS
/// addresses: 64/32 and 255/63 are tried first, then every geometry; 64/32
/// when nothing fits.
fn guess_geometry(parts: &[&MbrPartition]) -> (u8, u8) {
    if parts.is_empty() {
        return (64, 32);
    }
    for (h, s) in [(64u8, 32u8), (255, 63)] {
        if geometry_fits(parts, h, s) {
            return (h, s);
        }
    }
    for s in (1..=63u8).rev() {
        for h in (1..=255u8).rev() {
            if geometry_fits(parts, h, s) {
                return (h, s);
            }
        }
    }
    (64, 32)
}

fn mbr_report(m: &Mbr, el_torito: Option<&ElTorito>) -> MbrReport {
    let used: Vec<(u8, &MbrPartition)> = (1u8..)
        .zip(m.partitions.iter())
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let parts: Vec<&MbrPartition> = used.iter().map(|(_, p)| *p).collect();
    let (heads, secs) = guess_geometry(&parts);
    let addr = m.boot_image_address();
    let images = el_torito.map(|e| e.images.as_slice()).unwrap_or_default();
    let isohybrid = images
        .iter()
        .any(|i| i.isohybrid_suitable && u64::from(i.lba).saturating_mul(4) == addr);
    let grub2_mbr = images
        .first()
        .is_some_and(|i| u64::from(i.lba).saturating_mul(4).saturating_add(4) == addr);
    let protective_msdos_label =
        used.len() == 1 && used.first().is_some_and(|(_, p)| p.start_lba == 1);
    let cyl = u64::from(heads).saturating_mul(u64::from(secs)).max(1);
    let aligned = |p: &MbrPartition| p.end_lba().is_some_and(|e| e % cyl == 0);
    let cyl_align = parts.first().map(|first| {
        if !aligned(first) {
            "off"
        } else if parts.len() > 1 && parts.iter().all(|p| aligned(p)) {
            "all"
        } else {
            "on"
        }
    });
    MbrReport {
        disk_signature: m.disk_signature,
        boot_image_address: addr,
        heads_per_cyl: heads.into(),
        secs_per_head: secs.into(),
        partitions: used
            .iter()
            .map(|(n, p)| MbrPartitionReport {
                number: *n,
                status: p.status,
                ptype: p.ptype,
                start: p.start_lba,
                blocks: p.sectors,
                chs_start: chs_tuple(p.chs_start),
                chs_end: chs_tuple(p.chs_end),
            })
            .collect(),
        isohybrid,
        grub2_mbr,
        protective_msdos_label,
        cyl_align,
    }
}

/// Reads a GPT entry array; `None` (with a diagnostic) if it is unreadable.
fn read_table<S: ReadAt>(
    img: &Image<S>,
    h: &GptHeader,
    bs: u32,
    which: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<Vec<u8>>> {
    let off = h.entries_lba.saturating_mul(u64::from(bs));
    let len = match h.table_len(MAX_GPT_TABLE) {
        Ok(l) => l,
        Err(e) => {
            diagnostics.push(Diagnostic {
                offset: off,
                message: format!("{which} GPT entry array not read: {e}"),
            });
            return Ok(None);
        }
    };
    if off.saturating_add(len as u64) > img.info().image_size {
        diagnostics.push(Diagnostic {
            offset: off,
            message: format!(
                "{which} GPT entry array ({len} bytes) lies past the end of the image"
            ),
        });
        return Ok(None);
    }
    let mut buf = vec![0u8; len];
    img.read_at("GPT partition entry array", off, &mut buf)?;
    Ok(Some(buf))
}

fn gpt_report<S: ReadAt>(
    img: &Image<S>,
    h: &GptHeader,
    bs: u32,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<GptReport> {
    let header_offset = u64::from(bs);
    if !h.header_crc_ok {
        diagnostics.push(Diagnostic {
            offset: header_offset,
            message: "GPT header CRC32 does not match".into(),
        });
    }
    let table = read_table(img, h, bs, "primary", diagnostics)?;
    let entries_crc_ok = table.as_ref().map(|t| entries_crc(t) == h.entries_crc32);
    if entries_crc_ok == Some(false) {
        diagnostics.push(Diagnostic {
            offset: h.entries_lba.saturating_mul(u64::from(bs)),
            message: "GPT partition entry array CRC32 does not match".into(),
        });
    }
    let mut partitions = Vec::new();
    if let Some(t) = &table {
        match parse_entries(t, h) {
            Ok(es) => {
                for (n, e) in es {
                    partitions.push(GptPartitionReport {
                        number: n,
                        type_guid: e.type_guid.to_string(),
                        type_guid_hex: e.type_guid.to_hex(),
                        unique_guid: e.unique_guid.to_string(),
                        unique_guid_hex: e.unique_guid.to_hex(),
                        first_lba: e.first_lba,
                        last_lba: e.last_lba,
                        blocks: e.block_count(),
                        attributes: e.attributes,
                        name: e.name(),
                    })
                }
            }
            Err(e) => diagnostics.push(Diagnostic {
                offset: h.entries_lba.saturating_mul(u64::from(bs)),
                message: format!("GPT partition entries not read: {e}"),
            }),
        }
    }
    let overlapping = partitions.iter().enumerate().any(|(i, a)| {
        partitions
            .iter()
            .skip(i.saturating_add(1))
            .any(|b| a.first_lba <= b.last_lba && b.first_lba <= a.last_lba)
    });
    let backup = gpt_backup(img, h, bs, diagnostics)?;
    Ok(GptReport {
        block_size: bs,
        header_offset,
        revision: h.revision,
        header_size: h.header_size,
        header_crc_ok: h.header_crc_ok,
        disk_guid: h.disk_guid.to_string(),
        disk_guid_hex: h.disk_guid.to_hex(),
        current_lba: h.my_lba,
        backup_lba: h.alternate_lba,
        first_usable_lba: h.first_usable_lba,
        last_usable_lba: h.last_usable_lba,
        entries_lba: h.entries_lba,
        num_entries: h.num_entries,
        entry_size: h.entry_size,
        entries_crc_ok,
        partitions,
        overlapping,
        backup,
    })
}

/// Checks the backup header at the primary's alternate LBA, or at the last
/// block of the image when that LBA is outside it.
fn gpt_backup<S: ReadAt>(
    img: &Image<S>,
    h: &GptHeader,
    bs: u32,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<GptBackupReport>> {
    let size = img.info().image_size;
    let bs64 = u64::from(bs);
    let blocks = size / bs64;
    if blocks < 2 {
        return Ok(None);
    }
    let lba = if h.alternate_lba < blocks && h.alternate_lba > 1 {
        h.alternate_lba
    } else {
        blocks.saturating_sub(1)
    };
    let off = lba.saturating_mul(bs64);
    let mut sector = vec![0u8; usize::try_from(bs).unwrap_or(512)];
    img.read_at("GPT backup header", off, &mut sector)?;
    let Ok((b, _)) = GptHeader::parse(&sector) else {
        diagnostics.push(Diagnostic {
            offset: off,
            message: format!("no backup GPT header at block {lba}"),
        });
        return Ok(Some(GptBackupReport {
            lba,
            found: false,
            header_crc_ok: false,
            lbas_match: false,
            entries_crc_ok: None,
            entries_match_primary: false,
        }));
    };
    if !b.header_crc_ok {
        diagnostics.push(Diagnostic {
            offset: off,
            message: "backup GPT header CRC32 does not match".into(),
        });
    }
    let table = read_table(img, &b, bs, "backup", diagnostics)?;
    let entries_crc_ok = table.as_ref().map(|t| entries_crc(t) == b.entries_crc32);
    Ok(Some(GptBackupReport {
        lba,
        found: true,
        header_crc_ok: b.header_crc_ok,
        lbas_match: b.my_lba == lba && b.alternate_lba == h.my_lba,
        entries_crc_ok,
        entries_match_primary: b.entries_crc32 == h.entries_crc32,
    }))
}
