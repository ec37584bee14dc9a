//! Boot and hybrid options of the writer: the El Torito catalog, boot image
//! patching (boot info table, GRUB2 boot info), and the system area (an
//! isohybrid or GRUB2 MBR template, an MBR partition table, a GPT) with
//! partitions appended after the ISO 9660 volume.
//!
//! Everything here is computed once the layout is known (see
//! [`super::plan`]); the emitter only copies the resulting bytes.

use std::collections::HashMap;
use std::path::PathBuf;

use isoforge_format::eltorito::{
    self, BootEntry, Catalog, Emulation, Platform, Section, SectionHeader, ValidationEntry,
};
use isoforge_format::gpt::{self, GptEntry, GptHeader, Guid};
use isoforge_format::mbr::{Chs, Mbr, MbrPartition};
use isoforge_format::SECTOR;
use sha2::{Digest, Sha256};

use super::builder::{FileSource, ImageData, Kind, Node, NodeId};
use super::plan::{Plan, PAD_BLOCKS};
use crate::error::{Error, Refusal, Result};

/// Bytes of the system area: the 16 blocks before the volume descriptors.
pub const SYSTEM_AREA: usize = 16 * SECTOR;
/// Heads per cylinder and sectors per head of the MBR geometry, as
/// isohybrid and xorriso use: a cylinder is 1 MiB.
const HEADS: u8 = 64;
const SECTORS: u8 = 32;
/// 512-byte blocks per cylinder.
const CYLINDER: u64 = HEADS as u64 * SECTORS as u64;
/// The GPT entry array ends, as xorriso writes it, where 512-byte block 64,
/// the first usable block, begins; it starts at block 2, or after an Apple
/// partition map.
const GPT_FIRST_USABLE: u64 = 64;
/// GPT attributes of partitions over ISO data: read-only (bit 60) and
/// required by the platform (bit 0).
const GPT_RO_REQUIRED: u64 = 0x1000_0000_0000_0001;
/// GPT type of Microsoft basic data partitions.
const BASIC_DATA: Guid = Guid([
    0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7,
]);
/// GPT type of EFI System Partitions.
const EFI_SYSTEM: Guid = Guid([
    0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
]);
/// MBR partition type of an EFI System Partition.
const MBR_EFI: u8 = 0xef;

/// How a boot image presents itself to the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BootEmulation {
    /// No emulation: the firmware loads `load_size` sectors and runs them.
    #[default]
    None,
    /// A floppy of the image's size (1.2, 1.44 or 2.88 MB).
    Floppy,
    /// A hard disk whose first sector is an MBR with one partition.
    HardDisk,
}

/// One El Torito boot entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootImage {
    /// Path of the boot image in the tree.
    pub path: String,
    /// Platform the entry is for.
    pub platform: Platform,
    /// Emulation mode.
    pub emulation: BootEmulation,
    /// Load segment (0: the BIOS default, 0x7C0).
    pub load_segment: u16,
    /// 512-byte sectors to load (no emulation). `None`: 4 for BIOS entries
    /// (as isolinux and GRUB need), the whole image for the others.
    pub load_size: Option<u16>,
    /// Patch a boot info table into bytes 8-63 (as isolinux needs).
    pub boot_info_table: bool,
    /// Patch GRUB2's boot info into bytes 2548-2555 (as GRUB's `eltorito.img`
    /// needs for `boot_hybrid.img`).
    pub grub2_boot_info: bool,
    /// Mark the entry bootable.
    pub bootable: bool,
    /// The boot image is appended partition N (see
    /// [`BootConfig::appended`]) rather than the file at `path`.
    pub in_partition: Option<u8>,
    /// The boot image's bytes in an image being remastered, for a boot
    /// image that is no file of the tree: written as data that no directory
    /// lists, rather than the file at `path`.
    pub(crate) hidden: Option<ImageData>,
    /// The node holding `hidden`, once the tree is planned.
    pub(crate) node: Option<NodeId>,
}

impl BootImage {
    /// A no-emulation entry for `path` on `platform`.
    pub fn new(path: &str, platform: Platform) -> BootImage {
        BootImage {
            path: path.to_string(),
            platform,
            emulation: BootEmulation::None,
            load_segment: 0,
            load_size: None,
            boot_info_table: false,
            grub2_boot_info: false,
            bootable: true,
            in_partition: None,
            hidden: None,
            node: None,
        }
    }
}

/// A file appended after the ISO 9660 volume as a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendedPartition {
    /// MBR partition slot (1-4); also the GPT entry number.
    pub number: u8,
    /// MBR partition type (0xef: EFI System Partition).
    pub mbr_type: u8,
    /// Host file holding the partition's contents.
    pub path: PathBuf,
    /// The contents in an existing image instead of a host file.
    pub(crate) image: Option<ImageData>,
}

impl AppendedPartition {
    /// Partition `number` of MBR type `mbr_type` from host file `path`.
    pub fn new(number: u8, mbr_type: u8, path: PathBuf) -> AppendedPartition {
        AppendedPartition {
            number,
            mbr_type,
            path,
            image: None,
        }
    }
}

/// The MBR partition over the ISO 9660 volume under a GRUB2 MBR. It runs
/// to the volume's end from its start (block 0, or the partition offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Grub2Partition {
    /// GRUB2's protective label: bootable, type 0xcd, starting no earlier
    /// than 512-byte block 1 (`grub-mkrescue`, xorriso's
    /// `--protective-msdos-label`).
    #[default]
    Protective,
    /// A partition with this status byte and type, as xorriso writes one
    /// (0x80, 0x83) when partitions are appended without a protective label.
    Volume {
        /// Status byte (0x80: bootable).
        status: u8,
        /// Partition type.
        mbr_type: u8,
    },
    /// None: the table holds only appended partitions, if any.
    None,
}

/// Boot records and hybrid layout of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootConfig {
    /// El Torito entries; the first is the default entry.
    pub images: Vec<BootImage>,
    /// Path of the boot catalog in the tree.
    pub catalog_path: String,
    /// Keep the catalog out of the directory tree.
    pub catalog_hidden: bool,
    /// The system area template (up to 32 KiB), e.g. an isohybrid MBR.
    pub system_area: Option<Vec<u8>>,
    /// The template is a GRUB2 MBR (GRUB's `boot_hybrid.img`, as xorriso's
    /// `--grub2-mbr` installs it): bytes 432-439 get the 512-byte address of
    /// the BIOS boot image plus 4, whatever that image is. Without this, a
    /// template is taken for a GRUB2 MBR only when the BIOS boot image has
    /// `grub2_boot_info`.
    pub grub2_mbr: bool,
    /// The MBR partition over the volume under a GRUB2 MBR.
    pub grub2_partition: Grub2Partition,
    /// Write an MBR partition table for the ISO (and the EFI image).
    pub hybrid_mbr: bool,
    /// Write a GPT.
    pub gpt: bool,
    /// Write an Apple partition map with an HFS entry for each UEFI boot
    /// image, as xorriso's `-isohybrid-apm-hfsplus` does.
    pub apm: bool,
    /// Files appended after the volume as partitions.
    pub appended: Vec<AppendedPartition>,
    /// Attributes of a visible catalog (default: the root's, read-only).
    pub catalog_meta: Option<super::builder::Meta>,
    /// Recorded ISO 9660 and Joliet identifiers of the catalog file.
    pub(crate) catalog_ids: Option<super::builder::RecordedIds>,
    /// MBR partition type of the partition over the ISO (default 0x17, or
    /// 0x00 with an EFI partition or a GPT, as isohybrid and xorriso do).
    pub mbr_iso_type: Option<u8>,
    /// Give the first UEFI boot image an MBR partition (0xef) in an
    /// isohybrid MBR (default true).
    pub mbr_efi_partition: bool,
    /// MBR disk signature (default: derived from the image's contents).
    pub disk_signature: Option<u32>,
    /// A host directory to build a FAT EFI System Partition image from; the
    /// image is stored at the path of the first UEFI entry.
    pub efi_dir: Option<PathBuf>,
    /// GPT disk GUID (default: derived from the image's contents).
    pub gpt_disk_guid: Option<[u8; 16]>,
    /// GPT partition GUIDs by entry number - 1 (default: derived from the
    /// disk GUID's seed).
    pub gpt_partition_guids: Vec<[u8; 16]>,
    /// GPT partition names by entry number - 1 (default: xorriso's names).
    pub gpt_partition_names: Vec<String>,
    /// With a boot code template and a GPT, write a protective MBR (0xee)
    /// rather than partitions over the image, as GRUB2 hybrids with
    /// `--protective-msdos-label` and appended GPT partitions have.
    pub mbr_protective: bool,
    /// Add a bootable dummy MBR partition (block 0, one block) when no MBR
    /// partition is marked bootable, for BIOSes that insist on one.
    pub mbr_force_bootable: bool,
    /// Start of the first MBR partition in 2048-byte blocks: 0, or 16 and
    /// more. A non-zero offset P gives the image a second set of volume
    /// descriptors at block P + 16, with path tables and directories of its
    /// own that count blocks from P, so that the partition is an ISO 9660
    /// file system of its own sharing the file data (see [`super::plan`]).
    pub partition_offset: u32,
}

impl Default for BootConfig {
    fn default() -> Self {
        BootConfig {
            images: Vec::new(),
            catalog_path: "/boot.catalog".into(),
            catalog_hidden: false,
            system_area: None,
            grub2_mbr: false,
            grub2_partition: Grub2Partition::default(),
            hybrid_mbr: false,
            gpt: false,
            apm: false,
            appended: Vec::new(),
            catalog_meta: None,
            catalog_ids: None,
            mbr_iso_type: None,
            mbr_efi_partition: true,
            disk_signature: None,
            gpt_disk_guid: None,
            gpt_partition_guids: Vec::new(),
            gpt_partition_names: Vec::new(),
            mbr_protective: false,
            mbr_force_bootable: false,
            efi_dir: None,
            partition_offset: 0,
        }
    }
}

impl BootConfig {
    /// Whether the image has any boot record or partition table.
    pub fn is_active(&self) -> bool {
        !self.images.is_empty()
            || self.system_area.is_some()
            || self.hybrid_mbr
            || self.gpt
            || self.apm
            || !self.appended.is_empty()
            || self.partition_offset != 0
    }
}

/// Patches applied to a boot image's bytes as they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImagePatch {
    /// Boot info table (bytes 8-63): LBA, length, checksum.
    pub info_table: Option<[u8; 56]>,
    /// GRUB2 boot info (bytes 2548-2555).
    pub grub2: Option<[u8; 8]>,
}

impl ImagePatch {
    /// Applies the patches to `chunk`, which starts at file byte `pos`.
    pub fn apply(&self, pos: u64, chunk: &mut [u8]) {
        let spans = [
            (
                eltorito::BOOT_INFO_TABLE_OFFSET as u64,
                self.info_table.as_ref().map(|t| &t[..]),
            ),
            (
                eltorito::GRUB2_BOOT_INFO_OFFSET as u64,
                self.grub2.as_ref().map(|t| &t[..]),
            ),
        ];
        for (at, bytes) in spans {
            let Some(bytes) = bytes else { continue };
            for (i, b) in bytes.iter().enumerate() {
                let abs = at + i as u64;
                if abs >= pos {
                    if let Some(slot) = usize::try_from(abs - pos)
                        .ok()
                        .and_then(|o| chunk.get_mut(o))
                    {
                        *slot = *b;
                    }
                }
            }
        }
    }
}

/// A run of bytes of the image past the ISO 9660 volume.
#[derive(Debug, Clone)]
pub(crate) enum Tail {
    /// A host file appended as a partition, padded to `blocks` 2048-byte
    /// blocks.
    File {
        src: FileSource,
        size: u64,
        blocks: u64,
    },
    /// Zeros.
    Zeros(u64),
}

/// The boot part of a plan.
#[derive(Debug, Clone, Default)]
pub(crate) struct BootPlan {
    /// The catalog block.
    pub catalog: Vec<u8>,
    /// The system area (32 KiB), when it is not all zeros.
    pub system_area: Option<Vec<u8>>,
    /// Patches of boot images, by node.
    pub patches: HashMap<NodeId, ImagePatch>,
    /// Bytes at fixed offsets inside the volume's padding (the backup GPT).
    pub in_padding: Vec<(u64, Vec<u8>)>,
    /// What follows the volume.
    pub tail: Vec<Tail>,
    /// The backup GPT after the appended partitions, as the last bytes.
    pub tail_end: Vec<u8>,
}

impl BootPlan {
    /// Bytes written after the volume.
    pub fn tail_len(&self) -> u64 {
        self.tail
            .iter()
            .map(|t| match t {
                Tail::File { blocks, .. } => blocks * SECTOR as u64,
                Tail::Zeros(n) => *n,
            })
            .sum::<u64>()
            + self.tail_end.len() as u64
    }
}

/// The node of a boot image that is not a file of the tree.
const NOT_IN_TREE: NodeId = NodeId::MAX;

/// A resolved boot entry.
struct Resolved<'a> {
    spec: &'a BootImage,
    node: NodeId,
    lba: u32,
    size: u64,
}

fn bad(msg: String) -> Error {
    Error::InvalidInput(msg)
}

fn emulation_code(e: BootEmulation, size: u64, path: &str) -> Result<Emulation> {
    Ok(match e {
        BootEmulation::None => Emulation::NoEmulation,
        BootEmulation::HardDisk => Emulation::HardDisk,
        BootEmulation::Floppy => match size {
            1_228_800 => Emulation::Floppy12,
            1_474_560 => Emulation::Floppy144,
            2_949_120 => Emulation::Floppy288,
            _ => {
                return Err(bad(format!(
                    "{path} is {size} bytes; floppy emulation needs an image of exactly 1228800, 1474560 or 2949120 bytes"
                )))
            }
        },
    })
}

/// A GUID from a seed and an index, marked as a random (version 4) GUID.
fn guid(seed: &[u8; 32], index: u8) -> Guid {
    let mut g = [0u8; 16];
    g.copy_from_slice(seed.get(..16).unwrap_or(&[0; 16]));
    if let Some(b) = g.get_mut(9) {
        *b = b.wrapping_add(index);
    }
    if let Some(b) = g.get_mut(7) {
        *b = (*b & 0x0f) | 0x40;
    }
    if let Some(b) = g.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    Guid(g)
}

fn chs(lba: u64) -> Chs {
    u32::try_from(lba)
        .ok()
        .and_then(|l| Chs::from_lba(l, HEADS, SECTORS))
        .unwrap_or(Chs {
            cylinder: 1023,
            head: HEADS - 1,
            sector: SECTORS,
        })
}

fn mbr_partition(status: u8, ptype: u8, start: u64, blocks: u64) -> MbrPartition {
    let start32 = u32::try_from(start).unwrap_or(u32::MAX);
    let blocks32 = u32::try_from(blocks).unwrap_or(u32::MAX);
    MbrPartition {
        status,
        chs_start: chs(start),
        ptype,
        chs_end: chs((start + blocks).saturating_sub(1)),
        start_lba: start32,
        sectors: blocks32,
    }
}

/// Where GUIDs come from: kept ones, else derived from a seed.
struct Guids<'a> {
    seed: [u8; 32],
    disk: Option<[u8; 16]>,
    parts: &'a [[u8; 16]],
}

impl Guids<'_> {
    fn disk(&self) -> Guid {
        self.disk.map_or_else(|| guid(&self.seed, 0), Guid)
    }
    fn part(&self, n: u8) -> Guid {
        usize::from(n)
            .checked_sub(1)
            .and_then(|i| self.parts.get(i))
            .map_or_else(|| guid(&self.seed, n), |g| Guid(*g))
    }
}

fn gpt_entry(
    guids: &Guids<'_>,
    n: u8,
    ty: Guid,
    first: u64,
    last: u64,
    attr: u64,
    name: &str,
) -> GptEntry {
    GptEntry {
        type_guid: ty,
        unique_guid: guids.part(n),
        first_lba: first,
        last_lba: last,
        attributes: attr,
        name_utf16le: gpt::encode_name(name),
    }
}

/// The primary or backup GPT header and array for `entries`.
fn gpt_header(
    guids: &Guids<'_>,
    array: &[u8],
    (my_lba, alternate): (u64, u64),
    entries_lba: u64,
    last_usable: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    GptHeader {
        revision: 0x0001_0000,
        header_size: 92,
        header_crc32: 0,
        header_crc_ok: true,
        reserved: 0,
        my_lba,
        alternate_lba: alternate,
        first_usable_lba: GPT_FIRST_USABLE,
        last_usable_lba: last_usable,
        disk_guid: guids.disk(),
        entries_lba,
        num_entries: u32::try_from(array.len() / 128).unwrap_or(0),
        entry_size: 128,
        entries_crc32: gpt::entries_crc(array),
    }
    .encode(&mut out);
    out.resize(512, 0);
    out
}

impl Plan {
    fn resolve<'c>(&self, cfg: &'c BootConfig) -> Result<Vec<Resolved<'c>>> {
        let mut out = Vec::new();
        for spec in &cfg.images {
            if spec.in_partition.is_some() {
                // Placed with the appended partitions.
                out.push(Resolved {
                    spec,
                    node: NOT_IN_TREE,
                    lba: 0,
                    size: 0,
                });
                continue;
            }
            let node = self.b.boot_node(spec).ok_or_else(|| {
                bad(format!(
                    "boot image {} is not in the image; add the file to the tree first",
                    spec.path
                ))
            })?;
            let size = match self.b.nodes.get(node) {
                Some(Node {
                    kind: Kind::File { size, .. },
                    ..
                }) => *size,
                _ => {
                    return Err(bad(format!(
                        "boot image {} is not a regular file",
                        spec.path
                    )))
                }
            };
            if size == 0 {
                return Err(bad(format!("boot image {} is empty", spec.path)));
            }
            let lba = self.data_lba_of(node).unwrap_or(0);
            out.push(Resolved {
                spec,
                node,
                lba,
                size,
            });
        }
        Ok(out)
    }

    /// The first `n` bytes of a file in the tree.
    fn prefix(&self, node: NodeId, n: usize) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(n);
        self.read_source_until(node, &mut |chunk| {
            let want = n.saturating_sub(buf.len());
            buf.extend_from_slice(chunk.get(..want.min(chunk.len())).unwrap_or_default());
            Ok(buf.len() < n)
        })?;
        Ok(buf)
    }

    fn catalog_entry(&self, r: &Resolved<'_>) -> Result<BootEntry> {
        let s = r.spec;
        let emulation = emulation_code(s.emulation, r.size, &s.path)?;
        let sectors_512 = r.size.div_ceil(512);
        let sector_count = match s.emulation {
            BootEmulation::None => match s.load_size {
                Some(n) => n,
                None if s.platform == Platform::X86 => 4,
                None => u16::try_from(sectors_512).unwrap_or(u16::MAX),
            },
            _ => 1,
        };
        let system_type = if s.emulation == BootEmulation::HardDisk {
            let head = self.prefix(r.node, 512)?;
            let (mbr, _) = Mbr::parse(&head).map_err(|_| {
                bad(format!(
                    "{} is too short for hard disk emulation (it needs an MBR)",
                    s.path
                ))
            })?;
            let used: Vec<&MbrPartition> =
                mbr.partitions.iter().filter(|p| !p.is_empty()).collect();
            match (mbr.has_signature(), used.as_slice()) {
                (true, [p]) => p.ptype,
                _ => {
                    return Err(bad(format!(
                        "{} has no MBR with exactly one partition, which hard disk emulation needs",
                        s.path
                    )))
                }
            }
        } else {
            0
        };
        Ok(BootEntry {
            boot_indicator: if s.bootable { 0x88 } else { 0 },
            emulation,
            media: emulation.to_u8(),
            load_segment: s.load_segment,
            system_type,
            unused: 0,
            sector_count,
            load_rba: r.lba,
            selection_criteria_type: 0,
            selection_criteria: [0; 19],
            extensions: Vec::new(),
        })
    }

    fn catalog(&self, images: &[Resolved<'_>]) -> Result<Vec<u8>> {
        let Some(first) = images.first() else {
            return Ok(Vec::new());
        };
        let default_entry = self.catalog_entry(first)?;
        let mut sections: Vec<Section> = Vec::new();
        for r in images.iter().skip(1) {
            let e = self.catalog_entry(r)?;
            match sections.last_mut() {
                Some(s) if s.header.platform == r.spec.platform => {
                    s.entries.push(e);
                    s.header.num_entries = s.header.num_entries.saturating_add(1);
                }
                _ => sections.push(Section {
                    header: SectionHeader {
                        indicator: 0x90,
                        platform: r.spec.platform,
                        num_entries: 1,
                        id_string: [0; 28],
                    },
                    entries: vec![e],
                }),
            }
        }
        if let Some(last) = sections.last_mut() {
            last.header.indicator = 0x91;
        }
        let mut validation = ValidationEntry::new(first.spec.platform, [0; 24]);
        validation.checksum = validation.compute_checksum();
        let mut out = Vec::with_capacity(SECTOR);
        Catalog {
            validation,
            default_entry,
            sections,
        }
        .encode(&mut out);
        if out.len() > SECTOR {
            return Err(bad(format!(
                "{} boot entries do not fit in one catalog block",
                images.len()
            )));
        }
        out.resize(SECTOR, 0);
        Ok(out)
    }

    /// The patches of one boot image; the boot info table checksum covers
    /// the file as written, GRUB2 boot info included.
    fn patch(&self, r: &Resolved<'_>) -> Result<Option<ImagePatch>> {
        let s = r.spec;
        if !s.boot_info_table && !s.grub2_boot_info {
            return Ok(None);
        }
        if r.node == NOT_IN_TREE {
            return Err(bad(format!(
                "the boot image in appended partition {:?} cannot carry boot information",
                s.in_partition
            )));
        }
        let min = if s.grub2_boot_info {
            eltorito::GRUB2_BOOT_INFO_OFFSET + 8
        } else {
            eltorito::BOOT_INFO_CHECKSUM_START
        };
        if r.size < min as u64 {
            return Err(bad(format!(
                "{} is {} bytes, too short for its boot information (at least {min})",
                s.path, r.size
            )));
        }
        let mut patch = ImagePatch {
            info_table: None,
            grub2: s
                .grub2_boot_info
                .then(|| eltorito::grub2_boot_info_value(r.lba).to_le_bytes()),
        };
        if s.boot_info_table {
            let len = u32::try_from(r.size).map_err(|_| {
                bad(format!(
                    "{} is over 4 GiB, too large for a boot info table",
                    s.path
                ))
            })?;
            let mut sum = 0u32;
            let mut pos = 0u64;
            let mut carry: Vec<u8> = Vec::with_capacity(4);
            let grub_only = ImagePatch {
                info_table: None,
                grub2: patch.grub2,
            };
            self.read_source_until(r.node, &mut |chunk| {
                let mut c = chunk.to_vec();
                grub_only.apply(pos, &mut c);
                let skip = (eltorito::BOOT_INFO_CHECKSUM_START as u64).saturating_sub(pos);
                pos += chunk.len() as u64;
                let Some(rest) = usize::try_from(skip).ok().and_then(|s| c.get(s..)) else {
                    return Ok(true);
                };
                carry.extend_from_slice(rest);
                let whole = carry.len() / 4 * 4;
                sum = eltorito::boot_info_checksum_update(
                    sum,
                    carry.get(..whole).unwrap_or_default(),
                );
                carry.drain(..whole);
                Ok(true)
            })?;
            sum = eltorito::boot_info_checksum_update(sum, &carry);
            if pos != r.size {
                return Err(bad(format!(
                    "{} changed size while it was being read; no image was written",
                    s.path
                )));
            }
            // LBAs from the image's start, also with a partition offset:
            // firmware finds the boot image through the first set of volume
            // descriptors, the only one with a boot record.
            let mut t = Vec::with_capacity(56);
            eltorito::BootInfoTable {
                pvd_lba: 16,
                file_lba: r.lba,
                file_len: len,
                checksum: sum,
            }
            .encode(&mut t);
            let mut arr = [0u8; 56];
            arr.copy_from_slice(t.get(..56).unwrap_or(&[0; 56]));
            patch.info_table = Some(arr);
        }
        Ok(Some(patch))
    }

    /// A seed for disk signatures and GUIDs: a digest of what the plan
    /// records (volume descriptors' fields, names, sizes, times, LBAs) and
    /// of the boot images, so equal inputs give equal identifiers.
    fn seed(&self, images: &[Resolved<'_>]) -> Result<[u8; 32]> {
        let mut h = Sha256::new();
        let o = &self.b.opts;
        for s in [
            &o.volume_id,
            &o.publisher,
            &o.preparer,
            &o.application,
            &o.system_id,
        ] {
            h.update(s.as_bytes());
            h.update([0]);
        }
        h.update(self.volume_time.secs.to_le_bytes());
        h.update(self.total_blocks.to_le_bytes());
        for n in &self.b.nodes {
            h.update(self.b.node_name(n).as_bytes());
            h.update([0]);
            h.update(n.parent().to_le_bytes());
            h.update(n.meta.mtime.secs.to_le_bytes());
            if let Kind::File { size, .. } = &n.kind {
                h.update(size.to_le_bytes());
            }
        }
        for d in &self.data {
            h.update(d.lba.to_le_bytes());
        }
        for r in images {
            self.read_source_until(r.node, &mut |chunk| {
                h.update(chunk);
                Ok(true)
            })?;
        }
        Ok(h.finalize().into())
    }

    /// Builds the catalog, the patches and the system area, and places the
    /// appended partitions, once every LBA is known.
    pub(crate) fn plan_boot(&mut self) -> Result<()> {
        let cfg = self.b.opts.boot.clone();
        if !cfg.is_active() {
            return Ok(());
        }
        let mut images = self.resolve(&cfg)?;
        let mut bp = BootPlan::default();
        let seed = self.seed(&images)?;
        let guids = Guids {
            seed,
            disk: cfg.gpt_disk_guid,
            parts: &cfg.gpt_partition_guids,
        };
        let bios = images
            .iter()
            .find(|r| r.spec.platform == Platform::X86 && r.node != NOT_IN_TREE);
        // The system area template, patched for the boot image.
        let mut sa = vec![0u8; SYSTEM_AREA];
        let mut mode = MbrMode::None;
        if let Some(t) = &cfg.system_area {
            if t.len() > SYSTEM_AREA {
                return Err(bad(format!(
                    "the system area file is {} bytes; it holds at most {SYSTEM_AREA}",
                    t.len()
                )));
            }
            if let Some(dst) = sa.get_mut(..t.len()) {
                dst.copy_from_slice(t);
            }
            if let Some(b) = bios {
                let head = self.prefix(b.node, 0x44)?;
                if eltorito::isohybrid_suitable(&head) && !cfg.grub2_mbr {
                    mode = MbrMode::Isohybrid;
                    let addr = u64::from(b.lba) * 4;
                    if let Some(s) = sa.get_mut(432..440) {
                        s.copy_from_slice(&addr.to_le_bytes());
                    }
                } else if b.spec.grub2_boot_info || cfg.grub2_mbr {
                    mode = MbrMode::Grub2;
                    let addr = u64::from(b.lba) * 4 + 4;
                    if let Some(s) = sa.get_mut(432..440) {
                        s.copy_from_slice(&addr.to_le_bytes());
                    }
                } else {
                    return Err(Error::Refused(Refusal::NoHybridSignature(
                        b.spec.path.clone(),
                    )));
                }
            }
        }
        // Volume size: whole cylinders under an MBR partition over the ISO,
        // so the partition ends on a cylinder boundary (as isohybrid does).
        let mut vol512 = u64::from(self.total_blocks) * 4;
        if (mode == MbrMode::Isohybrid || cfg.hybrid_mbr) && !cfg.mbr_protective {
            vol512 = vol512.div_ceil(CYLINDER) * CYLINDER;
            self.total_blocks = u32::try_from(vol512 / 4)
                .map_err(|_| bad("the image would exceed 8 TiB".into()))?;
        }
        // Appended partitions, each starting on a 2048-byte boundary.
        let mut appended: Vec<(u8, u8, u64, u64)> = Vec::new();
        let mut end512 = vol512;
        for a in &cfg.appended {
            if !(1..=4).contains(&a.number) {
                return Err(bad(format!(
                    "appended partition number {} is not 1-4",
                    a.number
                )));
            }
            let (src, size) = match &a.image {
                Some(d) => (FileSource::Image(d.clone()), d.len()),
                None => (
                    FileSource::Host(a.path.clone()),
                    std::fs::metadata(&a.path)
                        .map_err(|e| bad(format!("{}: {e}", a.path.display())))?
                        .len(),
                ),
            };
            if size == 0 {
                return Err(bad(format!("{} is empty", a.path.display())));
            }
            let blocks = size.div_ceil(SECTOR as u64);
            appended.push((a.number, a.mbr_type, end512, blocks * 4));
            for r in images
                .iter_mut()
                .filter(|r| r.spec.in_partition == Some(a.number))
            {
                r.lba = u32::try_from(end512 / 4)
                    .map_err(|_| bad("the image would exceed 8 TiB".into()))?;
                r.size = size;
            }
            bp.tail.push(Tail::File { src, size, blocks });
            end512 += blocks * 4;
        }
        if let Some(r) = images.iter().find(|r| r.node == NOT_IN_TREE && r.size == 0) {
            return Err(bad(format!(
                "boot entry for appended partition {:?}: there is no such partition",
                r.spec.in_partition
            )));
        }
        bp.catalog = self.catalog(&images)?;
        for r in &images {
            if let Some(p) = self.patch(r)? {
                bp.patches.insert(r.node, p);
            }
        }
        // UEFI boot images in the tree get partitions of their own; those
        // that are appended partitions are partitions already.
        let efi: Vec<&Resolved<'_>> = images
            .iter()
            .filter(|r| r.spec.platform == Platform::Efi && r.node != NOT_IN_TREE)
            .collect();
        // An Apple partition map (block size 2048) takes 2048-byte blocks
        // 1 and on: one entry for the map and one per UEFI boot image.
        let apm_entries = if cfg.apm { 1 + efi.len() as u64 } else { 0 };
        let array_lba = if cfg.apm { 4 * (1 + apm_entries) } else { 2 };
        if array_lba + 4 > GPT_FIRST_USABLE {
            return Err(bad(format!(
                "{} UEFI boot images do not fit an Apple partition map and a GPT in the system area",
                efi.len()
            )));
        }
        let array_blocks = GPT_FIRST_USABLE - array_lba;
        let gpt_blocks = 1 + array_blocks;
        // After appended partitions listed in a GPT: padding (a gap
        // partition, as in xorriso's layouts), then the backup GPT.
        let tail_pad = if cfg.gpt && !appended.is_empty() {
            4 * u64::from(PAD_BLOCKS)
        } else {
            0
        };
        let total512 = if cfg.gpt && !appended.is_empty() {
            (end512 + tail_pad + gpt_blocks).div_ceil(4) * 4
        } else {
            end512
        };
        if total512 > end512 {
            bp.tail
                .push(Tail::Zeros((total512 - end512 - gpt_blocks) * 512));
        }
        let efi_part = |r: &Resolved<'_>| (u64::from(r.lba) * 4, r.size.div_ceil(512));
        // With a partition offset, the partition over the ISO 9660 volume
        // starts at the second set of volume descriptors' origin and runs to
        // the volume's end; the partition is then an image of its own.
        let part_start = u64::from(cfg.partition_offset) * 4;
        let mut table = [MbrPartition::default(); 4];
        let mut mbr_used = false;
        match mode {
            // A protective MBR before a GPT, whatever boot code it carries.
            _ if cfg.mbr_protective && cfg.gpt => {
                table[0] = mbr_partition(0, 0xee, 1, total512 - 1);
                mbr_used = true;
            }
            // GRUB2's protective label: one bootable partition of type 0xcd
            // from block 1, or from the partition offset.
            MbrMode::Grub2 => {
                match cfg.grub2_partition {
                    Grub2Partition::Protective => {
                        let start = part_start.max(1);
                        table[0] = mbr_partition(0x80, 0xcd, start, vol512 - start);
                    }
                    Grub2Partition::Volume { status, mbr_type } => {
                        table[0] = mbr_partition(status, mbr_type, part_start, vol512 - part_start);
                    }
                    Grub2Partition::None => {}
                }
                mbr_used = true;
            }
            _ if mode == MbrMode::Isohybrid || cfg.hybrid_mbr => {
                let with_efi = cfg.mbr_efi_partition && !efi.is_empty();
                let ty = cfg
                    .mbr_iso_type
                    .unwrap_or(if with_efi || cfg.gpt { 0x00 } else { 0x17 });
                table[0] = mbr_partition(0x80, ty, part_start, vol512 - part_start);
                if let Some(e) = efi.first().filter(|_| cfg.mbr_efi_partition) {
                    let (start, len) = efi_part(e);
                    table[1] = mbr_partition(0, MBR_EFI, start, len);
                }
                mbr_used = true;
            }
            // A protective MBR covers the whole disk from block 1 whatever
            // the partition offset; the GPT entries give the partition.
            _ if cfg.gpt => {
                table[0] = mbr_partition(0, 0xee, 1, total512 - 1);
                mbr_used = true;
            }
            // A partition offset alone: one partition of type 0xcd (ISO 9660,
            // not bootable) from the offset to the volume's end.
            _ if part_start > 0 => {
                table[0] = mbr_partition(0, 0xcd, part_start, vol512 - part_start);
                mbr_used = true;
            }
            _ => {}
        }
        // Appended partitions are MBR partitions unless the MBR only
        // protects a GPT, which then lists them.
        let protective = (mode == MbrMode::None && !cfg.hybrid_mbr && cfg.gpt)
            || (cfg.mbr_protective && cfg.gpt);
        for &(n, ty, start, len) in appended.iter().filter(|_| !protective) {
            if let Some(slot) = table.get_mut(usize::from(n) - 1) {
                *slot = mbr_partition(0, ty, start, len);
            }
            mbr_used = true;
        }
        if mbr_used && cfg.mbr_force_bootable && !table.iter().any(|p| p.status == 0x80) {
            if let Some(slot) = table.iter_mut().find(|p| p.is_empty()) {
                *slot = mbr_partition(0x80, 0, 0, 1);
            }
        }
        if mbr_used {
            let mut boot_code = [0u8; 440];
            boot_code.copy_from_slice(sa.get(..440).unwrap_or(&[0; 440]));
            let sig = cfg.disk_signature.unwrap_or_else(|| {
                u32::from_le_bytes([seed[20], seed[21], seed[22], seed[23]]) | 1
            });
            let mut out = Vec::with_capacity(512);
            Mbr {
                boot_code,
                disk_signature: sig,
                reserved: [0; 2],
                partitions: table,
                signature: [0x55, 0xAA],
            }
            .encode(&mut out);
            if let Some(dst) = sa.get_mut(..512) {
                dst.copy_from_slice(&out);
            }
        }
        if cfg.gpt {
            if sa.get(512..).is_some_and(|r| r.iter().any(|&b| b != 0)) {
                return Err(Error::Refused(Refusal::SystemAreaOverlapsGpt));
            }
            let backup_header = total512 - 1;
            let backup_array = backup_header - array_blocks;
            let last_usable = backup_array - 1;
            // Entries other than the appended partitions, numbered around
            // the slots those ask for.
            let mut others: Vec<(Guid, u64, u64, String)> = Vec::new();
            let first_usable = GPT_FIRST_USABLE;
            if (mode != MbrMode::None || cfg.hybrid_mbr) && !cfg.mbr_protective {
                // The ISOHybrid entry mirrors MBR partition 1: from block 0
                // (over the GPT itself), or from the partition offset. The
                // blocks between the GPT and an offset past it become a gap
                // partition, so every block stays covered.
                if part_start > first_usable {
                    others.push((BASIC_DATA, first_usable, part_start - 1, "Gap0".into()));
                }
                others.push((
                    BASIC_DATA,
                    part_start,
                    // Up to the 2048-byte block boundary before the backup
                    // entry array.
                    (vol512.min(backup_array / 4 * 4)) - 1,
                    "ISOHybrid".into(),
                ));
                for (i, e) in efi.iter().enumerate() {
                    let (start, len) = efi_part(e);
                    others.push((
                        BASIC_DATA,
                        start,
                        start + len - 1,
                        format!("ISOHybrid{}", i + 1),
                    ));
                }
            } else {
                // Partitions must not overlap: the ISO data around the EFI
                // images becomes gap partitions. They start right after the
                // GPT, at block 64, which is where a partition offset of 16
                // puts the partition; an offset past 16 gets no entry of its
                // own (its MBR partition is the protective one from block 1).
                let iso_end = vol512.min(last_usable + 1);
                let mut spans: Vec<(u64, u64)> = efi
                    .iter()
                    .map(|e| efi_part(e))
                    .filter(|s| s.0 >= first_usable && s.0 + s.1 <= iso_end)
                    .collect();
                spans.sort_unstable();
                let mut cur = first_usable;
                let mut gaps = 0usize;
                for (start, len) in spans {
                    if start < cur {
                        continue;
                    }
                    if start > cur {
                        others.push((BASIC_DATA, cur, start - 1, format!("Gap{gaps}")));
                        gaps += 1;
                    }
                    others.push((
                        EFI_SYSTEM,
                        start,
                        start + len - 1,
                        "EFI boot partition".into(),
                    ));
                    cur = start + len;
                }
                if iso_end > cur {
                    others.push((BASIC_DATA, cur, iso_end - 1, format!("Gap{gaps}")));
                    gaps += 1;
                }
                // The padding after appended partitions.
                let after = appended.iter().map(|a| a.2 + a.3).max().unwrap_or(0);
                // Like xorriso, the last gap leaves the last usable block free.
                if !appended.is_empty() && last_usable > after {
                    others.push((BASIC_DATA, after, last_usable - 1, format!("Gap{gaps}")));
                }
            }
            let reserved: Vec<u8> = appended.iter().map(|a| a.0).collect();
            let mut entries: Vec<(u8, GptEntry)> = Vec::new();
            let mut next = 1u8;
            // Names kept from an image being remastered win.
            let name_of = |n: u8, default: &str| -> String {
                usize::from(n)
                    .checked_sub(1)
                    .and_then(|i| cfg.gpt_partition_names.get(i))
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_string())
            };
            for (ty, first, last, name) in others {
                while reserved.contains(&next) {
                    next += 1;
                }
                let name = name_of(next, &name);
                entries.push((
                    next,
                    gpt_entry(&guids, next, ty, first, last, GPT_RO_REQUIRED, &name),
                ));
                next += 1;
            }
            for &(num, ty, start, len) in &appended {
                let ty = if ty == MBR_EFI {
                    EFI_SYSTEM
                } else {
                    BASIC_DATA
                };
                entries.push((
                    num,
                    gpt_entry(
                        &guids,
                        num,
                        ty,
                        start,
                        start + len - 1,
                        0,
                        &format!("Appended{num}"),
                    ),
                ));
            }
            let mut array = vec![0u8; array_blocks as usize * 4 * 128];
            for (n, e) in &entries {
                let mut b = Vec::with_capacity(128);
                e.encode(&mut b);
                let at = (usize::from(*n) - 1) * 128;
                if let Some(dst) = array.get_mut(at..at + 128) {
                    dst.copy_from_slice(&b);
                }
            }
            let primary = gpt_header(&guids, &array, (1, backup_header), array_lba, last_usable);
            let backup = gpt_header(
                &guids,
                &array,
                (backup_header, 1),
                backup_array,
                last_usable,
            );
            if let Some(dst) = sa.get_mut(512..1024) {
                dst.copy_from_slice(&primary);
            }
            let at = array_lba as usize * 512;
            if let Some(dst) = sa.get_mut(at..at + array.len()) {
                dst.copy_from_slice(&array);
            }
            let mut tail = array;
            tail.extend_from_slice(&backup);
            if appended.is_empty() {
                bp.in_padding.push((backup_array * 512, tail));
            } else {
                bp.tail_end = tail;
            }
        }
        if cfg.apm {
            let mut entries = vec![apm_entry(
                apm_entries,
                (1, apm_entries),
                "Apple",
                "Apple_partition_map",
                3,
            )];
            for e in &efi {
                let blocks = e.size.div_ceil(SECTOR as u64);
                entries.push(apm_entry(
                    apm_entries,
                    (u64::from(e.lba), blocks),
                    "EFI",
                    "Apple_HFS",
                    0x4000_0013,
                ));
            }
            for (i, e) in entries.iter().enumerate() {
                let at = (i + 1) * SECTOR;
                if let Some(dst) = sa.get_mut(at..at + e.len()) {
                    dst.copy_from_slice(e);
                }
            }
            // The driver descriptor map: signature "ER" and the block size,
            // over the MBR code's first bytes (isohybrid MBRs start with
            // instructions that "ER" and a block size of 2048 keep harmless).
            if let Some(dst) = sa.get_mut(..6) {
                dst.copy_from_slice(&[b'E', b'R', 0x08, 0x00, 0, 0]);
            }
        }
        if sa.iter().any(|&b| b != 0) {
            bp.system_area = Some(sa);
        }
        self.boot = Some(bp);
        Ok(())
    }
}

/// One Apple partition map entry (block size 2048): `map` entries in all,
/// (start, count) in 2048-byte blocks, name, type and status.
fn apm_entry(map: u64, (start, count): (u64, u64), name: &str, ty: &str, status: u32) -> Vec<u8> {
    let be32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes();
    let mut e = vec![0u8; 512];
    let mut put = |at: usize, b: &[u8]| {
        if let Some(dst) = e.get_mut(at..at + b.len()) {
            dst.copy_from_slice(b);
        }
    };
    put(0, b"PM");
    put(4, &be32(map));
    put(8, &be32(start));
    put(12, &be32(count));
    put(16, name.as_bytes().get(..31).unwrap_or(name.as_bytes()));
    put(48, ty.as_bytes().get(..31).unwrap_or(ty.as_bytes()));
    put(84, &be32(count));
    put(88, &status.to_be_bytes());
    e
}

/// What kind of MBR the system area holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MbrMode {
    None,
    Isohybrid,
    Grub2,
}
