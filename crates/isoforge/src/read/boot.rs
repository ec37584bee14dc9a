//! El Torito boot catalogs (El Torito 1.0 §2): the catalog the boot record
//! points at, each boot entry, and what the boot images carry (mkisofs boot
//! info table, GRUB2 boot info, ISOLINUX isohybrid magic), reported the way
//! `xorriso -report_el_torito` does.
//!
//! A validation entry with a wrong checksum or key is tolerated: the catalog
//! is still parsed and the problem is returned in
//! [`ElTorito::diagnostics`] (xorriso warns and goes on; firmware differs in
//! what it checks). A catalog that lies past the end of the image, lacks the
//! header id, or whose sections run past the bytes read is an error.

use isoforge_format::eltorito::{
    self, boot_info_checksum_update, grub2_boot_info, grub2_boot_info_value, isohybrid_suitable,
    BootEntry, BootInfoTable, Emulation, Platform, ENTRY_SIZE,
};
use isoforge_format::strings::trim_field;
use isoforge_format::SECTOR;

use crate::error::{Diagnostic, Error, Result};
use crate::read::Image;
use crate::source::ReadAt;

/// Bytes of a boot image read to look for its patches: the GRUB2 boot info
/// ends at byte 2556.
const IMAGE_HEAD: u64 = 2560;
/// Largest boot file whose boot info table checksum is verified.
const MAX_CHECKSUM_BYTES: u32 = 64 << 20;

/// The El Torito boot catalog of an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ElTorito {
    /// Sector (2048 bytes) of the boot catalog, from the boot record.
    pub catalog_lba: u32,
    /// Byte offset of the catalog.
    pub catalog_offset: u64,
    /// Platform of the validation entry (and so of the default entry).
    pub platform: String,
    /// Id string of the validation entry.
    pub id_string: String,
    /// Whether the validation entry's words sum to 0 (§2.1).
    pub checksum_ok: bool,
    /// Whether the validation entry ends with 0x55 0xAA (§2.1).
    pub key_ok: bool,
    /// Number of 32-byte records the catalog uses.
    pub records: u32,
    /// The boot images: the default entry first, then section entries in
    /// catalog order (xorriso's numbering).
    pub images: Vec<BootImage>,
    /// Tolerated problems.
    pub diagnostics: Vec<Diagnostic>,
}

/// One boot entry and what its boot image contains.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootImage {
    /// 1-based number: 1 is the default entry.
    pub number: u32,
    /// 1-based section number, `None` for the default entry.
    pub section: Option<u32>,
    /// Platform name as xorriso prints it: `BIOS`, `PPC`, `Mac`, `UEFI`, or
    /// the id in hex.
    pub platform: String,
    /// Platform id byte.
    pub platform_id: u8,
    /// Boot indicator is 0x88.
    pub bootable: bool,
    /// Boot indicator byte.
    pub boot_indicator: u8,
    /// Emulation as xorriso prints it: `none`, `fd1.2`, `fd1.4`, `fd2.8`,
    /// `hd`, or the media type in hex.
    pub emulation: String,
    /// Media type (bits 0-3 of byte 1).
    pub emulation_type: u8,
    /// Load segment (bytes 2-3).
    pub load_segment: u16,
    /// System type (byte 4).
    pub system_type: u8,
    /// Sector count in 512-byte sectors (bytes 6-7).
    pub sector_count: u16,
    /// Load RBA in 2048-byte sectors (bytes 8-11).
    pub lba: u32,
    /// Selection criteria type (byte 12, section entries).
    pub selection_criteria_type: u8,
    /// Id string of the section header.
    pub section_id: Option<String>,
    /// Number of section entry extensions.
    pub extensions: u32,
    /// The boot info table, if the image has one describing it.
    pub boot_info_table: Option<BootInfoTableReport>,
    /// Whether byte 2548 holds the image's GRUB2 boot info (`lba * 4 + 5`).
    pub grub2_boot_info: bool,
    /// Whether the image has the ISOLINUX isohybrid magic at byte 0x40.
    pub isohybrid_suitable: bool,
    /// xorriso's "El Torito img opts" words, in its order.
    pub opts: Vec<&'static str>,
    /// Path of the boot image in the file tree; filled by the caller.
    pub path: Option<String>,
}

/// A boot info table found in a boot image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BootInfoTableReport {
    /// PVD LBA (image bytes 8-11).
    pub pvd_lba: u32,
    /// Boot file LBA (12-15).
    pub file_lba: u32,
    /// Boot file length (16-19).
    pub file_len: u32,
    /// Recorded checksum (20-23).
    pub checksum: u32,
    /// Whether the checksum matches the file; `None` if the file was not
    /// checked (longer than 64 MiB or past the end of the image).
    pub checksum_ok: Option<bool>,
}

/// xorriso's platform name.
pub fn platform_name(p: Platform) -> String {
    match p {
        Platform::X86 => "BIOS".into(),
        Platform::PowerPc => "PPC".into(),
        Platform::Mac => "Mac".into(),
        Platform::Efi => "UEFI".into(),
        other => format!("0x{:02x}", other.to_u8()),
    }
}

/// xorriso's emulation name.
pub fn emulation_name(e: Emulation) -> String {
    match e {
        Emulation::NoEmulation => "none".into(),
        Emulation::Floppy12 => "fd1.2".into(),
        Emulation::Floppy144 => "fd1.4".into(),
        Emulation::Floppy288 => "fd2.8".into(),
        Emulation::HardDisk => "hd".into(),
        other => format!("0x{:02x}", other.to_u8()),
    }
}

/// Reads and parses the El Torito boot catalog, if the image has a boot
/// record naming one. Each boot image's first 2560 bytes are read to detect
/// its patches, and a boot info table's checksum is verified over the file
/// it describes (up to 64 MiB).
///
/// # Errors
/// [`Error::Corrupt`] naming "El Torito boot catalog" (or the entry) with its
/// byte offset when the catalog lies outside the image or cannot be parsed;
/// [`Error::LimitExceeded`] when it has more boot entries than
/// [`crate::Limits::max_boot_entries`].
pub fn read_el_torito<S: ReadAt>(img: &Image<S>) -> Result<Option<ElTorito>> {
    let Some(catalog_lba) = img.info().el_torito_catalog else {
        return Ok(None);
    };
    const WHAT: &str = "El Torito boot catalog";
    let image_size = img.info().image_size;
    let off = u64::from(catalog_lba)
        .checked_mul(SECTOR as u64)
        .filter(|&o| o < image_size)
        .ok_or_else(|| {
            Error::corrupt(
                WHAT,
                u64::from(catalog_lba).saturating_mul(SECTOR as u64),
                format!(
                    "catalog sector {catalog_lba} lies past the end of the image ({image_size} bytes)"
                ),
            )
        })?;
    let max_entries = img.limits().max_boot_entries;
    // Every entry may bring a header or an extension: twice the entries plus
    // the validation and default entries bounds a legitimate catalog.
    let max_records = usize::try_from(max_entries)
        .unwrap_or(usize::MAX)
        .saturating_mul(2)
        .saturating_add(2);
    let want = u64::try_from(max_records.saturating_mul(ENTRY_SIZE))
        .unwrap_or(u64::MAX)
        .min(image_size.saturating_sub(off));
    let len = usize::try_from(want).map_err(|_| Error::corrupt(WHAT, off, "catalog too large"))?;
    let mut buf = vec![0u8; len];
    img.read_at(WHAT, off, &mut buf)?;
    let cat = eltorito::parse_catalog(&buf, max_records).map_err(|e| {
        let what = match e {
            isoforge_format::FormatError::BadMagic { .. } => "El Torito validation entry",
            _ => WHAT,
        };
        Error::format(what, off, e)
    })?;

    let mut diagnostics = Vec::new();
    let v = &cat.validation;
    if !v.checksum_ok {
        diagnostics.push(Diagnostic {
            offset: off,
            message: format!(
                "El Torito validation entry checksum 0x{:04x} does not make its words sum to 0 (expected 0x{:04x}); catalog read anyway",
                v.checksum,
                v.compute_checksum()
            ),
        });
    }
    if !v.key_ok() {
        diagnostics.push(Diagnostic {
            offset: off.saturating_add(30),
            message: format!(
                "El Torito validation entry key is {:02x} {:02x}, not 55 aa; catalog read anyway",
                v.key[0], v.key[1]
            ),
        });
    }

    let mut entries: Vec<(Option<u32>, Platform, Option<String>, &BootEntry)> =
        vec![(None, v.platform, None, &cat.default_entry)];
    let mut records: u32 = 2;
    for (i, s) in cat.sections.iter().enumerate() {
        records = records.saturating_add(1);
        let sec = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
        for e in &s.entries {
            records = records
                .saturating_add(1)
                .saturating_add(u32::try_from(e.extensions.len()).unwrap_or(u32::MAX));
            entries.push((
                Some(sec),
                s.header.platform,
                Some(trim_field(&s.header.id_string)),
                e,
            ));
        }
    }
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    if count > max_entries {
        return Err(Error::LimitExceeded {
            what: "El Torito boot entries",
            value: count.into(),
            limit: max_entries.into(),
        });
    }

    let mut images = Vec::with_capacity(entries.len());
    for (n, (section, platform, section_id, e)) in entries.into_iter().enumerate() {
        let number = u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1);
        let mut image = BootImage {
            number,
            section,
            platform: platform_name(platform),
            platform_id: platform.to_u8(),
            bootable: e.bootable(),
            boot_indicator: e.boot_indicator,
            emulation: emulation_name(e.emulation),
            emulation_type: e.emulation.to_u8(),
            load_segment: e.load_segment,
            system_type: e.system_type,
            sector_count: e.sector_count,
            lba: e.load_rba,
            selection_criteria_type: e.selection_criteria_type,
            section_id,
            extensions: u32::try_from(e.extensions.len()).unwrap_or(u32::MAX),
            boot_info_table: None,
            grub2_boot_info: false,
            isohybrid_suitable: false,
            opts: Vec::new(),
            path: None,
        };
        inspect_image(img, &mut image, &mut diagnostics)?;
        images.push(image);
    }

    Ok(Some(ElTorito {
        catalog_lba,
        catalog_offset: off,
        platform: platform_name(v.platform),
        id_string: trim_field(&v.id_string),
        checksum_ok: v.checksum_ok,
        key_ok: v.key_ok(),
        records,
        images,
        diagnostics,
    }))
}

/// Looks at the first bytes of a boot image for its patches.
fn inspect_image<S: ReadAt>(
    img: &Image<S>,
    image: &mut BootImage,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<()> {
    let size = img.info().image_size;
    let Some(off) = u64::from(image.lba)
        .checked_mul(SECTOR as u64)
        .filter(|&o| o < size)
    else {
        diagnostics.push(Diagnostic {
            offset: u64::from(image.lba).saturating_mul(SECTOR as u64),
            message: format!(
                "El Torito boot image {} at sector {} lies past the end of the image",
                image.number, image.lba
            ),
        });
        return Ok(());
    };
    let len = usize::try_from(IMAGE_HEAD.min(size.saturating_sub(off))).unwrap_or(0);
    let mut head = vec![0u8; len];
    img.read_at("El Torito boot image", off, &mut head)?;

    if let Ok((t, _)) = BootInfoTable::parse(&head) {
        if t.describes(image.lba) {
            let checksum_ok = boot_file_checksum(img, off, t.file_len)?.map(|c| c == t.checksum);
            if checksum_ok == Some(false) {
                diagnostics.push(Diagnostic {
                    offset: off.saturating_add(20),
                    message: format!(
                        "boot info table of El Torito boot image {} has a checksum that does not match the file",
                        image.number
                    ),
                });
            }
            image.boot_info_table = Some(BootInfoTableReport {
                pvd_lba: t.pvd_lba,
                file_lba: t.file_lba,
                file_len: t.file_len,
                checksum: t.checksum,
                checksum_ok,
            });
            image.opts.push("boot-info-table");
        }
    }
    image.grub2_boot_info = grub2_boot_info(&head) == Some(grub2_boot_info_value(image.lba));
    if image.grub2_boot_info {
        image.opts.push("grub2-boot-info");
    }
    image.isohybrid_suitable = isohybrid_suitable(&head);
    if image.isohybrid_suitable {
        image.opts.push("isohybrid-suitable");
    }
    Ok(())
}

/// The boot info table checksum of `len` bytes at `off`, read in chunks;
/// `None` when the file is too long or runs past the image.
fn boot_file_checksum<S: ReadAt>(img: &Image<S>, off: u64, len: u32) -> Result<Option<u32>> {
    let end = off.checked_add(u64::from(len));
    if len > MAX_CHECKSUM_BYTES || end.is_none_or(|e| e > img.info().image_size) {
        return Ok(None);
    }
    let start = eltorito::BOOT_INFO_CHECKSUM_START as u64;
    let total = u64::from(len);
    let mut pos = start.min(total);
    let mut sum = 0u32;
    let mut buf = vec![0u8; 64 * 1024];
    while pos < total {
        let n = usize::try_from((total - pos).min(buf.len() as u64)).unwrap_or(0);
        let Some(chunk) = buf.get_mut(..n) else {
            break;
        };
        img.read_at("El Torito boot image", off.saturating_add(pos), chunk)?;
        sum = boot_info_checksum_update(sum, chunk);
        pos = pos.saturating_add(n as u64);
    }
    Ok(Some(sum))
}
