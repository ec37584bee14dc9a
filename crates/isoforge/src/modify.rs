//! Changing an existing image: its tree is read into a [`Builder`] with
//! everything the image records (names in every name space, Rock Ridge
//! attributes, times, zisofs data as stored, El Torito entries, the system
//! area's kind), the requested changes are applied, and a new single-session
//! image is planned. File data is copied from the old image by extent,
//! never decoded.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use isoforge_format::ecma119::dirrec::DirRecord;
use isoforge_format::eltorito::Platform;
use isoforge_format::mbr::Mbr;

use crate::error::{Error, Refusal, Result, TextField};
use crate::read::boot::{read_el_torito, BootImage as CatalogEntry};
use crate::read::sysarea::{read_system_area, MbrReport, SystemArea};
use crate::read::{Entry, FileType, Image};
use crate::source::ReadAt;
use crate::write::{
    AppendedPartition, BootConfig, BootEmulation, BootImage, BuildOptions, Builder, Grub2Partition,
    ImageData, Meta, NodeId, Plan, RrVersion, Time, VolumeText,
};
use crate::{IsoTime, View};

/// The changes to make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModifyOptions {
    /// Host files or directories to add: (path in the image, host path). A
    /// file replaces one of the same name; a directory merges.
    pub add: Vec<(String, PathBuf)>,
    /// Paths to remove (directories recursively).
    pub remove: Vec<String>,
    /// Directories to create.
    pub mkdir: Vec<String>,
    /// Moves: (old path, new path).
    pub rename: Vec<(String, String)>,
    /// New volume identifier.
    pub volume_id: Option<String>,
    /// New publisher identifier.
    pub publisher: Option<String>,
    /// New data preparer identifier.
    pub preparer: Option<String>,
    /// New application identifier.
    pub application: Option<String>,
    /// New system identifier.
    pub system_id: Option<String>,
    /// Go on when something of the old image cannot be kept (it is dropped,
    /// and said so in the notes).
    pub force: bool,
    /// Stops reading the old image and writing the new one when cancelled.
    pub cancel: crate::Cancel,
    /// Fixed time for reproducible output (`SOURCE_DATE_EPOCH`): what is
    /// added gets no time later than it, what the writer makes gets it, and
    /// so does the volume's modification date (see [`crate::write::times`]).
    pub source_date_epoch: Option<i64>,
    /// Reproducible output without a fixed time: the newest modification
    /// time the image's tree records stands for it, so the result depends
    /// only on the image and on the added files' contents, names and modes.
    pub reproducible: bool,
}

/// A planned modification.
#[derive(Debug)]
pub struct Modified {
    /// The plan of the new image.
    pub plan: Plan,
    /// What could not be kept (only with `force`), and other remarks.
    pub notes: Vec<String>,
}

fn time_of(t: Option<IsoTime>) -> Option<Time> {
    t.map(|t| Time {
        secs: t.unix,
        nanos: t.nanos,
    })
}

fn meta_of(e: &Entry) -> Meta {
    let m = time_of(e.mtime).unwrap_or_default();
    Meta {
        perm: e.mode & 0o7777,
        uid: e.uid,
        gid: e.gid,
        mtime: m,
        atime: time_of(e.atime).unwrap_or(m),
        ctime: time_of(e.ctime).unwrap_or(m),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A file of the old tree: its path and data runs.
type FileAt = (String, NodeId, Vec<(u64, u64)>);

/// The old catalog file: path, attributes, recorded identifiers.
type CatalogFile = (String, Meta, Option<Vec<u8>>, Option<Vec<u8>>);

/// Something the new image cannot keep: an error, or a note with `force`.
struct Losses {
    force: bool,
    notes: Vec<String>,
}

impl Losses {
    fn lose(&mut self, what: String) -> Result<()> {
        if self.force {
            self.notes.push(format!("dropped: {what}"));
            Ok(())
        } else {
            Err(Error::Refused(Refusal::CannotKeep(what)))
        }
    }
}

/// The identifier recorded in the directory record at `offset`.
fn recorded_id<S: ReadAt>(img: &Image<S>, offset: u64) -> Option<Vec<u8>> {
    let mut len = [0u8; 1];
    img.source().read_exact_at(offset, &mut len).ok()?;
    let mut buf = vec![0u8; usize::from(len[0])];
    img.source().read_exact_at(offset, &mut buf).ok()?;
    DirRecord::parse(&buf).ok().map(|r| r.name.to_vec())
}

/// Identifiers of directory records read a block at a time: the records of
/// a directory follow one another, so most lie in the block read for the
/// one before (one read per block instead of two per record).
#[derive(Default)]
struct RecordIds {
    block: Option<u64>,
    bytes: Vec<u8>,
}

impl RecordIds {
    const BLOCK: u64 = 2048;

    /// The identifier recorded in the directory record at `offset`.
    fn id<S: ReadAt>(&mut self, img: &Image<S>, offset: u64) -> Option<Vec<u8>> {
        let block = offset / Self::BLOCK;
        if self.block != Some(block) {
            self.block = None;
            self.bytes.resize(Self::BLOCK as usize, 0);
            if img
                .source()
                .read_exact_at(block * Self::BLOCK, &mut self.bytes)
                .is_err()
            {
                return recorded_id(img, offset);
            }
            self.block = Some(block);
        }
        let at = usize::try_from(offset % Self::BLOCK).ok()?;
        let len = usize::from(*self.bytes.get(at)?);
        match self.bytes.get(at..at + len) {
            Some(rec) => DirRecord::parse(rec).ok().map(|r| r.name.to_vec()),
            // A record across a block boundary (only hostile images have one).
            None => recorded_id(img, offset),
        }
    }
}

/// The key that pairs a file of one tree with the same file in another.
fn data_key(e: &Entry) -> Option<(u32, u64)> {
    let x = e.extents.first()?;
    (e.file_type == FileType::File && x.len > 0).then_some((x.lba, e.size))
}

/// Pairs the entries of a Joliet directory with those of the main tree:
/// files by their data, everything else by name (Joliet names may be cut
/// short, so a unique prefix match counts).
fn pair_joliet<'a>(main: &[Entry], joliet: &'a [Entry]) -> Vec<Option<&'a Entry>> {
    let mut by_data: HashMap<(u32, u64), Vec<&Entry>> = HashMap::new();
    for j in joliet {
        if let Some(k) = data_key(j) {
            by_data.entry(k).or_default().push(j);
        }
    }
    let mut used: HashSet<u64> = HashSet::new();
    let mut out = Vec::with_capacity(main.len());
    for m in main {
        let by_name = || {
            joliet
                .iter()
                .find(|j| j.name == m.name && j.is_dir() == m.is_dir())
                .or_else(|| {
                    let mut it = joliet.iter().filter(|j| {
                        j.is_dir() == m.is_dir()
                            && !j.name.is_empty()
                            && m.name.starts_with(&j.name)
                    });
                    match (it.next(), it.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                })
        };
        let found = match data_key(m).and_then(|k| by_data.get(&k)) {
            Some(list) => list
                .iter()
                .find(|j| j.name == m.name)
                .or_else(|| list.iter().find(|j| !used.contains(&j.record_offset)))
                .copied(),
            None => by_name(),
        };
        let found = found.filter(|j| used.insert(j.record_offset));
        out.push(found);
    }
    out
}

/// The bytes of a GUID printed as 32 hex digits in recorded byte order.
fn guid_bytes(hex: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    if hex.len() != 32 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The partition over the volume of an image whose MBR is a GRUB2 MBR, from
/// MBR partition 1; `start` is where the volume starts (512-byte blocks:
/// 0, or the partition offset). An error says what cannot be kept.
fn grub2_partition(m: &MbrReport, start: u64) -> std::result::Result<Grub2Partition, String> {
    let Some(p) = m.partitions.iter().find(|p| p.number == 1) else {
        return Ok(Grub2Partition::None);
    };
    let at = u64::from(p.start);
    match p.ptype {
        // The protective MBR of a GPT, rebuilt with the GPT.
        0xee => Ok(Grub2Partition::Protective),
        0xcd if at == start.max(1) => Ok(Grub2Partition::Protective),
        _ if at == start => Ok(Grub2Partition::Volume {
            status: p.status,
            mbr_type: p.ptype,
        }),
        t => Err(format!(
            "MBR partition 1 (type {t:#04x}) starts at 512-byte block {at}, where the volume (block {start}) does not, so its new place is unknown"
        )),
    }
}

/// The length of a boot image that no directory lists, where the image
/// records it: by the floppy size of its emulation, the partition in its
/// MBR (hard disk emulation), its boot info table, or its FAT boot sector
/// (a UEFI image). Otherwise, why it cannot be known.
fn hidden_image_len<S: ReadAt>(
    img: &Image<S>,
    bi: &CatalogEntry,
) -> std::result::Result<u64, String> {
    let off = u64::from(bi.lba) * 2048;
    let room = img.info().image_size.saturating_sub(off);
    let mut head = [0u8; 512];
    if room < 512 || img.source().read_exact_at(off, &mut head).is_err() {
        return Err("it lies past the end of the image".into());
    }
    let len = match bi.emulation_type {
        1 => 1_228_800,
        2 => 1_474_560,
        3 => 2_949_120,
        4 => {
            let one = Mbr::parse(&head).ok().and_then(|(mbr, _)| {
                let mut used = mbr.partitions.iter().filter(|p| !p.is_empty());
                match (mbr.has_signature(), used.next(), used.next()) {
                    (true, Some(p), None) => {
                        Some((u64::from(p.start_lba) + u64::from(p.sectors)) * 512)
                    }
                    _ => None,
                }
            });
            one.ok_or("its hard disk image has no MBR with one partition, which would say how long it is")?
        }
        _ => match (&bi.boot_info_table, fat_len(&head)) {
            (Some(t), _) => u64::from(t.file_len),
            (None, Some(n)) => n,
            (None, None) => {
                return Err("a no-emulation image records its length only in a boot info table or as a FAT file system, and it has neither; copying a guessed length could cut it short".into())
            }
        },
    };
    if len == 0 || len > room {
        return Err(format!(
            "the length it records ({len} bytes) does not fit in the image"
        ));
    }
    Ok(len)
}

/// The length of a FAT file system from its boot sector (the BIOS
/// parameter block), if `head` is one.
fn fat_len(head: &[u8; 512]) -> Option<u64> {
    let le16 = |at: usize| Some(u16::from_le_bytes([*head.get(at)?, *head.get(at + 1)?]));
    let jump = matches!(head.first(), Some(0xeb | 0xe9));
    if !jump || head.get(510..512) != Some(&[0x55, 0xaa][..]) {
        return None;
    }
    let bps = le16(11)?;
    if !matches!(bps, 512 | 1024 | 2048 | 4096) {
        return None;
    }
    let total = match le16(19)? {
        0 => u32::from_le_bytes(head.get(32..36)?.try_into().ok()?),
        n => u32::from(n),
    };
    (total > 0).then(|| u64::from(total) * u64::from(bps))
}

/// The first and last non-zero bytes of the system area `area` (its first
/// 32 KiB) that none of what the new image rebuilds accounts for: the MBR
/// or an Apple partition map's driver descriptor (bytes 0-511), a GPT's
/// header and entry array, an Apple partition map's entries. `None` when
/// there are none.
fn unexplained(area: &[u8], sa: &SystemArea) -> Option<(usize, usize)> {
    let mut known = vec![false; area.len()];
    let mut mark = |from: u64, len: u64| {
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(area.len());
        let to = usize::try_from(len)
            .ok()
            .and_then(|l| from.checked_add(l))
            .unwrap_or(usize::MAX)
            .min(area.len());
        if let Some(k) = known.get_mut(from..to) {
            k.fill(true);
        }
    };
    // Not an MBR there is refused on its own.
    mark(0, 512);
    if let Some(g) = &sa.gpt {
        let bs = u64::from(g.block_size);
        mark(g.header_offset, bs);
        let entries = u64::from(g.num_entries) * u64::from(g.entry_size);
        mark(g.entries_lba.saturating_mul(bs), entries);
    }
    if let Some(a) = &sa.apm {
        let bs = u64::from(a.block_size);
        mark(bs, bs.saturating_mul(a.partitions.len() as u64));
    }
    let odd =
        |(i, &b): (usize, &u8)| (b != 0 && !known.get(i).copied().unwrap_or(true)).then_some(i);
    let first = area.iter().enumerate().find_map(odd)?;
    let last = area.iter().enumerate().rev().find_map(odd)?;
    Some((first, last))
}

/// The emulation of a catalog entry's media type.
fn emulation(t: u8) -> Option<BootEmulation> {
    match t {
        0 => Some(BootEmulation::None),
        1..=3 => Some(BootEmulation::Floppy),
        4 => Some(BootEmulation::HardDisk),
        _ => None,
    }
}

/// Reads an image into a builder, applies `opts`, and plans the new image.
pub fn modify(src: Arc<dyn ReadAt>, opts: &ModifyOptions) -> Result<Modified> {
    let img = Image::open(src.clone())?;
    let info = img.info().clone();
    let mut losses = Losses {
        force: opts.force,
        notes: Vec::new(),
    };
    if info.has_udf() {
        losses.lose(
            "the image has a UDF file system, which isoforge does not write: its descriptors give the blocks of every file, which move, so it cannot be copied (without it only the ISO 9660 tree remains)"
                .into(),
        )?;
    }
    let pvd = info
        .primary()
        .ok_or_else(|| Error::InvalidInput("the image has no primary volume descriptor".into()))?;
    // A new text goes into the Joliet descriptor too, shortened to fit as
    // when an image is created.
    let mut joliet_notes = Vec::new();
    let mut jpick = |field: TextField, new: &Option<String>, old: &String| match new {
        Some(v) => {
            let fit = crate::write::text::fit_joliet(field, v);
            if fit.len() < v.len() {
                joliet_notes.push(format!(
                    "the Joliet {} holds {} characters: {v:?} is recorded there as {fit:?}",
                    field.name(),
                    crate::write::text::joliet_limit(field)
                ));
            }
            fit.to_string()
        }
        None => old.clone(),
    };
    let mut b_opts = BuildOptions {
        volume_id: pvd.volume_id.clone(),
        publisher: pvd.publisher_id.clone(),
        preparer: pvd.preparer_id.clone(),
        application: pvd.application_id.clone(),
        system_id: pvd.system_id.clone(),
        volume_set_id: pvd.volume_set_id.clone(),
        file_ids: [
            pvd.copyright_file_id.clone(),
            pvd.abstract_file_id.clone(),
            pvd.bibliographic_file_id.clone(),
        ],
        // The modification date is the time of this change.
        recorded_volume_dates: Some([pvd.creation, pvd.expiration, pvd.effective]),
        source_date_epoch: opts.source_date_epoch,
        joliet_text: info.joliet().map(|j| VolumeText {
            system_id: jpick(TextField::SystemId, &opts.system_id, &j.system_id),
            volume_id: jpick(TextField::VolumeId, &opts.volume_id, &j.volume_id),
            volume_set_id: j.volume_set_id.clone(),
            publisher: jpick(TextField::Publisher, &opts.publisher, &j.publisher_id),
            preparer: jpick(TextField::Preparer, &opts.preparer, &j.preparer_id),
            application: jpick(TextField::Application, &opts.application, &j.application_id),
            file_ids: [
                j.copyright_file_id.clone(),
                j.abstract_file_id.clone(),
                j.bibliographic_file_id.clone(),
            ],
            application_use: j.application_use.clone(),
        }),
        ..BuildOptions::default()
    };
    if pvd
        .application_use
        .windows(13)
        .any(|w| w == b"ISO MD5SUM = ")
    {
        losses.notes.push(
            "the implanted MD5 would no longer match the image and is left out; implant a new one into the new image"
                .into(),
        );
    } else {
        b_opts.application_use = Some(pvd.application_use.clone());
    }
    b_opts.level = if info.enhanced { 4 } else { 3 };
    b_opts.joliet = info.joliet_level.is_some();
    b_opts.joliet_long = true;
    b_opts.rock_ridge = info.rock_ridge.is_some();
    b_opts.rr_version = match info.rock_ridge.as_ref().map(|r| r.version) {
        Some("1.12") => RrVersion::V112,
        _ => RrVersion::V109,
    };
    for (field, new) in [
        (&mut b_opts.volume_id, &opts.volume_id),
        (&mut b_opts.publisher, &opts.publisher),
        (&mut b_opts.preparer, &opts.preparer),
        (&mut b_opts.application, &opts.application),
        (&mut b_opts.system_id, &opts.system_id),
    ] {
        if let Some(v) = new {
            *field = v.clone();
        }
    }
    // Bad text fails here, before the tree is read.
    b_opts.check_text().map_err(Error::Field)?;
    losses.notes.extend(joliet_notes);
    b_opts.relocate_deep = max_depth(&img)? <= 8;
    b_opts.cancel = opts.cancel.clone();
    let view = if info.rock_ridge.is_some() {
        View::RockRidge
    } else {
        View::Iso9660
    };
    let mut b = Builder::new(b_opts.clone());
    let et = read_el_torito(&img)?;
    let catalog_lba = et.as_ref().map(|e| e.catalog_lba);
    // Files by their first block, to find the boot images and catalog.
    let mut by_lba: HashMap<u32, FileAt> = HashMap::new();
    let mut catalog = None;
    // Where the tree's data ends: partitions past it hold no files and
    // are carried over as appended partitions.
    let mut tree_end = 0u64;
    import_tree(
        &img,
        &src,
        view,
        &mut b,
        catalog_lba,
        &mut catalog,
        &mut by_lba,
        &mut tree_end,
    )?;
    if opts.reproducible {
        // Before the changes: the image alone fixes the time.
        b.set_reproducible();
    }
    let catalog_path = catalog.as_ref().map(|c| c.0.clone());
    let mut boot = BootConfig::default();
    // The system area, rebuilt for the new layout.
    let sa = read_system_area(&img)?;
    let volume_end = tree_end.div_ceil(512).max(64);
    if !sa.all_zero {
        let mut area = vec![0u8; 16 * 2048];
        img.source()
            .read_exact_at(0, &mut area)
            .map_err(|e| Error::Io {
                source: e,
                offset: Some(0),
            })?;
        // Boot code before the partition table and disk signature.
        let raw = area.get(..432).unwrap_or_default().to_vec();
        if let Some((first, last)) = unexplained(&area, &sa) {
            losses.lose(format!(
                "bytes {first}-{last} of the system area hold data that is not part of its MBR, GPT or Apple partition map (such as boot blocks for another platform or an HFS+ volume header); isoforge does not know what it refers to, so it cannot move it with the volume"
            ))?;
        }
        // A partition offset is replayed: the partition keeps its own
        // descriptors and directories.
        boot.partition_offset = sa.partition_offset;
        if let Some(apm) = &sa.apm {
            // The map xorriso's -isohybrid-apm-hfsplus writes (the map and
            // an HFS entry per UEFI boot image) is rebuilt; others are not.
            let known = apm.partitions.iter().all(|p| {
                (p.ptype == "Apple_partition_map")
                    || (p.ptype == "Apple_HFS" && p.name == "EFI")
                    || p.ptype == "Apple_Free"
            });
            let odd: Vec<String> = apm
                .partitions
                .iter()
                .filter(|p| {
                    !(p.ptype == "Apple_partition_map"
                        || (p.ptype == "Apple_HFS" && p.name == "EFI")
                        || p.ptype == "Apple_Free")
                })
                .map(|p| format!("{} {:?} {:?}", p.number, p.ptype, p.name))
                .collect();
            if known && apm.block_size == 2048 {
                boot.apm = true;
            } else if !known {
                losses.lose(format!(
                    "the Apple partition map: isoforge rebuilds the map, free space and Apple_HFS entries named EFI (UEFI boot images), and entry {} is none of these; its blocks belong to the old layout",
                    odd.join(", entry ")
                ))?;
            } else {
                losses.lose(format!(
                    "the Apple partition map with {}-byte blocks: isoforge rebuilds maps of 2048-byte blocks only",
                    apm.block_size
                ))?;
            }
        }
        if let Some(m) = &sa.mbr {
            boot.mbr_protective = m.partitions.iter().any(|p| p.ptype == 0xee);
            boot.mbr_force_bootable = m
                .partitions
                .iter()
                .any(|p| p.status == 0x80 && p.ptype == 0 && p.start == 0 && p.blocks == 1);
            boot.disk_signature = Some(m.disk_signature);
            boot.mbr_iso_type = m.partitions.first().map(|p| p.ptype);
            boot.mbr_efi_partition = m
                .partitions
                .iter()
                .any(|p| p.ptype == 0xef && u64::from(p.start) < volume_end);
        }
        if let Some(g) = &sa.gpt {
            boot.gpt_disk_guid = guid_bytes(&g.disk_guid_hex);
            let mut parts = Vec::new();
            for p in &g.partitions {
                let i = usize::try_from(p.number).unwrap_or(0).saturating_sub(1);
                if let Some(gb) = guid_bytes(&p.unique_guid_hex) {
                    if parts.len() <= i && i < 256 {
                        parts.resize(i + 1, [0u8; 16]);
                    }
                    if let Some(slot) = parts.get_mut(i) {
                        *slot = gb;
                    }
                }
            }
            boot.gpt_partition_guids = parts;
            let mut names = Vec::new();
            for p in &g.partitions {
                let i = usize::try_from(p.number).unwrap_or(0).saturating_sub(1);
                if i < 256 {
                    if names.len() <= i {
                        names.resize(i + 1, String::new());
                    }
                    if let Some(n) = names.get_mut(i) {
                        *n = p.name.clone();
                    }
                }
            }
            boot.gpt_partition_names = names;
        }
        match &sa.mbr {
            Some(m) if m.isohybrid || m.grub2_mbr => {
                boot.system_area = Some(raw);
                if m.grub2_mbr && !m.isohybrid {
                    // Whatever the first boot image is (GRUB's eltorito.img,
                    // a floppy image), the MBR gets its new address.
                    boot.grub2_mbr = true;
                    match grub2_partition(m, u64::from(sa.partition_offset) * 4) {
                        Ok(p) => boot.grub2_partition = p,
                        Err(what) => losses.lose(what)?,
                    }
                }
            }
            Some(m) if m.protective_msdos_label => {}
            Some(_) if raw.iter().all(|&x| x == 0) => boot.hybrid_mbr = true,
            Some(_) => losses.lose(
                "boot code in the MBR that is neither isohybrid nor GRUB2 (an isohybrid MBR loads the El Torito boot image it names, a GRUB2 MBR the first one, whose new places isoforge writes in; what other code loads is unknown, and its blocks move)"
                    .into(),
            )?,
            None => losses.lose(
                "data in the system area that is not an MBR (bytes 510-511 are not 0x55 0xAA): isoforge does not know what it refers to, so it cannot move it with the volume"
                    .into(),
            )?,
        }
        boot.gpt = sa.gpt.is_some();
        // Partitions past the volume are appended partitions: copied.
        if let Some(m) = &sa.mbr {
            for p in &m.partitions {
                if u64::from(p.start) >= volume_end && p.blocks > 0 && p.ptype != 0xee {
                    let mut a = AppendedPartition::new(p.number, p.ptype, PathBuf::new());
                    a.image = Some(ImageData::new(
                        src.clone(),
                        vec![(u64::from(p.start) * 512, u64::from(p.blocks) * 512)],
                    ));
                    boot.appended.push(a);
                }
            }
        }
        if let Some(g) = &sa.gpt {
            for p in &g.partitions {
                let covered = boot.appended.iter().any(|a| {
                    a.image.as_ref().and_then(|d| d.runs.first()).map(|r| r.0)
                        == Some(p.first_lba * 512)
                });
                // Gap partitions (xorriso's `GapN`) only cover padding.
                let gap = p.name.starts_with("Gap");
                if p.first_lba >= volume_end && !covered && !gap {
                    let number = u8::try_from(p.number).unwrap_or(0);
                    if !(1..=4).contains(&number) {
                        losses.lose(format!("GPT partition {} after the volume", p.number))?;
                        continue;
                    }
                    let ty = if p.type_guid_hex == "28732ac11ff8d211ba4b00a0c93ec93b" {
                        0xef
                    } else {
                        0x83
                    };
                    let mut a = AppendedPartition::new(number, ty, PathBuf::new());
                    a.image = Some(ImageData::new(
                        src.clone(),
                        vec![(p.first_lba * 512, p.blocks * 512)],
                    ));
                    boot.appended.push(a);
                }
            }
        }
    }
    // El Torito entries follow their files.
    let mut boot_runs: Vec<Option<Vec<(u64, u64)>>> = Vec::new();
    if let Some(et) = &et {
        match &catalog {
            Some((p, meta, iso, joliet)) => {
                boot.catalog_path = p.clone();
                boot.catalog_meta = Some(*meta);
                boot.catalog_ids = Some((iso.clone(), joliet.clone()));
            }
            None => boot.catalog_hidden = true,
        }
        for bi in &et.images {
            // A boot image is a file of the tree, or an appended partition.
            let in_part = boot
                .appended
                .iter()
                .find(|a| {
                    a.image.as_ref().and_then(|d| d.runs.first()).map(|r| r.0)
                        == Some(u64::from(bi.lba) * 2048)
                })
                .map(|a| a.number);
            let found = by_lba.get(&bi.lba);
            let Some(em) = emulation(bi.emulation_type) else {
                losses.lose(format!(
                    "boot image {} has an unknown emulation type {}",
                    bi.number, bi.emulation_type
                ))?;
                continue;
            };
            // One that no directory lists is copied as it is, when the
            // image says how long it is.
            let mut hidden = None;
            if found.is_none() && in_part.is_none() {
                match hidden_image_len(&img, bi) {
                    Ok(len) => {
                        let at = u64::from(bi.lba) * 2048;
                        hidden = Some(ImageData::new(src.clone(), vec![(at, len)]));
                    }
                    Err(why) => {
                        losses.lose(format!(
                            "boot image {} (block {}) is a file of no directory, and {why}",
                            bi.number, bi.lba
                        ))?;
                        continue;
                    }
                }
            }
            let (path, runs) = match found {
                Some((p, _, r)) => (p.as_str(), Some(r.clone())),
                None => ("", None),
            };
            let mut e = BootImage::new(path, Platform::from_u8(bi.platform_id));
            e.emulation = em;
            e.load_segment = bi.load_segment;
            e.load_size = Some(bi.sector_count);
            e.boot_info_table = bi.boot_info_table.is_some();
            e.grub2_boot_info = bi.grub2_boot_info;
            e.bootable = bi.bootable;
            e.in_partition = in_part;
            e.hidden = hidden;
            boot.images.push(e);
            boot_runs.push(runs);
        }
    }
    // The changes.
    for p in &opts.remove {
        b.remove(p)?;
    }
    for (from, to) in &opts.rename {
        b.rename(from, to)?;
    }
    for d in &opts.mkdir {
        b.mkdir_p(d)?;
    }
    for (iso, host) in &opts.add {
        add_replacing(&mut b, iso, host)?;
    }
    // A boot image that was removed takes its entry with it; one that was
    // replaced is used as it now is.
    let mut kept = Vec::new();
    for (mut e, runs) in boot.images.drain(..).zip(boot_runs) {
        if e.in_partition.is_some() || e.hidden.is_some() {
            kept.push(e);
            continue;
        }
        match b.image_runs(&e.path) {
            None => {
                losses.lose(format!(
                    "the El Torito entry for {}, which was removed",
                    e.path
                ))?;
                continue;
            }
            Some(now) if Some(&now) != runs.as_ref() => {
                if e.platform != Platform::X86 {
                    e.load_size = None;
                }
            }
            Some(_) => {}
        }
        kept.push(e);
    }
    boot.images = kept;
    if boot.images.is_empty() && catalog_path.is_some() {
        boot.catalog_hidden = true;
    }
    let mut o = b.options().clone();
    o.boot = boot;
    b.set_options(o);
    let plan = b.plan()?;
    Ok(Modified {
        plan,
        notes: losses.notes,
    })
}

/// The deepest directory level of the plain ISO 9660 tree (the root is 1).
fn max_depth<S: ReadAt>(img: &Image<S>) -> Result<usize> {
    let mut dirs = img.dirs(View::Iso9660)?;
    let mut queue = vec![(dirs.root()?, 1usize)];
    let mut deepest = 1;
    while let Some((d, depth)) = queue.pop() {
        deepest = deepest.max(depth);
        for e in dirs.list(&d)? {
            if e.is_dir() {
                dirs.enter(&e)?;
                queue.push((e, depth + 1));
            }
        }
    }
    Ok(deepest)
}

/// Copies the tree of `view` into `b`, keeping recorded identifiers.
#[allow(clippy::too_many_arguments)]
fn import_tree<S: ReadAt>(
    img: &Image<S>,
    src: &Arc<dyn ReadAt>,
    view: View,
    b: &mut Builder,
    catalog_lba: Option<u32>,
    catalog: &mut Option<CatalogFile>,
    by_lba: &mut HashMap<u32, FileAt>,
    tree_end: &mut u64,
) -> Result<()> {
    let mut dirs = img.dirs(view)?;
    let root = dirs.root()?;
    b.set_meta(0, meta_of(&root));
    b.keep_recorded_times(0);
    let jol = img.info().joliet_level.is_some();
    let mut jdirs = if jol {
        Some(img.dirs(View::Joliet)?)
    } else {
        None
    };
    let jroot = match &jdirs {
        Some(d) => Some(d.root()?),
        None => None,
    };
    let mut queue: Vec<(String, Entry, Option<Entry>)> = vec![("/".into(), root, jroot)];
    // Files that share an extent are written once; files whose extents
    // merely overlap are written each in full, so a hostile image of many
    // overlapping files could ask for far more output than it holds.
    let size = img.info().image_size;
    let budget = size.saturating_mul(4).saturating_add(1 << 30);
    let mut seen_runs: HashSet<Vec<(u64, u64)>> = HashSet::new();
    let mut total = 0u64;
    let (mut ids, mut jids) = (RecordIds::default(), RecordIds::default());
    while let Some((path, dir, jdir)) = queue.pop() {
        b.options().cancel.check()?;
        let kids = dirs.list(&dir)?;
        let jkids = match (&mut jdirs, &jdir) {
            (Some(d), Some(jd)) => d.list(jd)?,
            _ => Vec::new(),
        };
        let pairs = pair_joliet(&kids, &jkids);
        for x in kids.iter().flat_map(|e| e.extents.iter()) {
            let end = u64::from(x.lba) * 2048 + u64::from(x.len);
            *tree_end = (*tree_end).max(end);
        }
        for (e, j) in kids.iter().zip(pairs) {
            let p = join(&path, &e.name);
            let meta = meta_of(e);
            let first_lba = e.extents.first().map(|x| x.lba);
            if e.file_type == FileType::File && first_lba.is_some() && first_lba == catalog_lba {
                // The catalog is made anew at the same path.
                *catalog = Some((
                    p,
                    meta,
                    ids.id(img, e.record_offset),
                    j.and_then(|j| jids.id(img, j.record_offset)),
                ));
                continue;
            }
            let id = match e.file_type {
                FileType::Dir => {
                    let id = b.add_dir(&p, meta)?;
                    dirs.enter(e)?;
                    if let (Some(d), Some(j)) = (&mut jdirs, j) {
                        d.enter(j)?;
                    }
                    queue.push((p.clone(), e.clone(), j.cloned()));
                    id
                }
                FileType::File => {
                    // ISO 9660 entries: every run is recorded.
                    let runs: Vec<(u64, u64)> = crate::read::file::ranges(img, e)?
                        .into_iter()
                        .map(|r| (r.offset.unwrap_or(0), r.len))
                        .collect();
                    if seen_runs.insert(runs.clone()) {
                        total = total.saturating_add(runs.iter().map(|r| r.1).sum());
                        if total > budget {
                            return Err(Error::corrupt(
                                "directory record",
                                e.record_offset,
                                format!(
                                    "{p}: the files' extents overlap so that copying them would write over {budget} bytes from a {size}-byte image"
                                ),
                            ));
                        }
                    }
                    let data = ImageData::new(src.clone(), runs.clone());
                    let link = (e.nlink > 1).then_some(e.ino).flatten().map(u64::from);
                    let id = b.add_image_file(&p, data, meta, e.zisofs, link)?;
                    if let Some(l) = first_lba {
                        by_lba.entry(l).or_insert((p.clone(), id, runs));
                    }
                    id
                }
                FileType::Symlink => {
                    b.add_symlink(&p, e.target.as_deref().unwrap_or_default(), meta)?
                }
                FileType::Char | FileType::Block => b.add_device(
                    &p,
                    e.file_type == FileType::Block,
                    e.rdev.unwrap_or_default(),
                    meta,
                )?,
                FileType::Fifo | FileType::Socket => {
                    b.add_special(&p, e.file_type == FileType::Socket, meta)?
                }
            };
            let iso = ids.id(img, e.record_offset);
            let joliet = j.and_then(|j| jids.id(img, j.record_offset));
            b.set_fixed_ids(id, iso, joliet);
            b.keep_recorded_times(id);
            b.set_hidden(id, e.hidden, j.is_some_and(|j| j.hidden));
        }
    }
    Ok(())
}

/// Adds a host file or directory at `iso`, replacing files of the same
/// name and merging directories.
fn add_replacing(b: &mut Builder, iso: &str, host: &Path) -> Result<()> {
    let m = std::fs::symlink_metadata(host).map_err(|e| Error::Io {
        source: std::io::Error::new(e.kind(), format!("{}: {e}", host.display())),
        offset: None,
    })?;
    let exists = b.lookup_path(iso);
    if m.is_dir() {
        if exists && !b.is_dir_path(iso) {
            return Err(Error::InvalidInput(format!(
                "{iso} is a file in the image and {} a directory; remove it first",
                host.display()
            )));
        }
        if !exists {
            b.add_host(iso, host)?;
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(host)
            .map_err(|e| Error::Io {
                source: e,
                offset: None,
            })?
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        entries.sort();
        let dir = match iso.trim_end_matches('/') {
            "" => "/",
            d => d,
        };
        for (name, p) in entries {
            add_replacing(b, &join(dir, &name), &p)?;
        }
        return Ok(());
    }
    if exists {
        if b.is_dir_path(iso) {
            return Err(Error::InvalidInput(format!(
                "{iso} is a directory in the image; remove it first to put a file there"
            )));
        }
        b.remove(iso)?;
    }
    b.add_host(iso, host)?;
    Ok(())
}
