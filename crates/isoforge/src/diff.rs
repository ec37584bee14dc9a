//! Structural comparison of two images: volume descriptors field by field,
//! El Torito catalogs and boot image contents, the system area and its
//! partition tables, and the file trees (added, removed, content and
//! metadata changes). Differences are returned as data.

use std::collections::BTreeMap;
use std::io::Write;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::options::View;
use crate::read::boot::{read_el_torito, ElTorito};
use crate::read::sysarea::read_system_area;
use crate::read::{Entry, FileType, Image, VolumeDescriptor};
use crate::source::ReadAt;

/// One differing field of a descriptor, boot record or partition table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    /// Where: `primary.volume_id`, `el_torito.image1.lba`, `mbr.partition1.type`, ...
    pub field: String,
    /// Value in the first image (`None`: absent there).
    pub a: Option<String>,
    /// Value in the second image.
    pub b: Option<String>,
}

/// How one path differs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum FileChange {
    /// Only in the second image.
    Added {
        /// Path.
        path: String,
        /// Entry type.
        kind: FileType,
    },
    /// Only in the first image.
    Removed {
        /// Path.
        path: String,
        /// Entry type.
        kind: FileType,
    },
    /// Different type (file, directory, link...).
    Type {
        /// Path.
        path: String,
        /// Type in the first image.
        a: FileType,
        /// Type in the second image.
        b: FileType,
    },
    /// Different contents.
    Content {
        /// Path.
        path: String,
        /// Size in the first image.
        a_size: u64,
        /// Size in the second image.
        b_size: u64,
        /// SHA-256 in the first image.
        a_sha256: String,
        /// SHA-256 in the second image.
        b_sha256: String,
    },
    /// A metadata field differs.
    Metadata {
        /// Path.
        path: String,
        /// `mode`, `uid`, `gid`, `mtime`, `atime`, `ctime`, `target`, `rdev`.
        field: &'static str,
        /// Value in the first image.
        a: String,
        /// Value in the second image.
        b: String,
    },
}

/// Everything that differs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffReport {
    /// Volume descriptor fields.
    pub descriptors: Vec<FieldChange>,
    /// El Torito catalog and boot image fields and contents.
    pub boot: Vec<FieldChange>,
    /// System area bytes and partition table fields.
    pub system_area: Vec<FieldChange>,
    /// File tree changes, sorted by path.
    pub files: Vec<FileChange>,
}

impl DiffReport {
    /// Whether the images are the same in everything compared.
    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
            && self.boot.is_empty()
            && self.system_area.is_empty()
            && self.files.is_empty()
    }
}

/// Which parts to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The name space whose trees are compared.
    pub view: View,
    /// Leave out what follows from where blocks lie rather than from what
    /// the image holds: block addresses and sizes of the volume, path
    /// tables, catalog, boot images and partitions, the catalog's bytes,
    /// the boot information patched into boot images, and the partition
    /// tables' sizes and checksums. Two images with the same files, boot
    /// setup and identifiers then compare equal whatever their layout.
    pub ignore_layout: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            view: View::Auto,
            ignore_layout: false,
        }
    }
}

/// Fields that only say where things lie.
const LAYOUT_FIELDS: &[&str] = &[
    "volume_space_size",
    "path_table_size",
    "l_path_table",
    "m_path_table",
    "image_size",
    "el_torito.catalog_lba",
    "lba",
    "start",
    "blocks",
    "first_lba",
    "last_lba",
    "system_area.sha256",
    "header_crc_ok",
    "entries_crc_ok",
];

/// Whether a field name (`a.b.c`) names a layout field.
fn is_layout(field: &str) -> bool {
    let last = field.rsplit('.').next().unwrap_or(field);
    LAYOUT_FIELDS.contains(&field)
        || LAYOUT_FIELDS.contains(&last)
        || field.ends_with(".boot_record")
        || field.ends_with(".root_record")
}

/// The root record without its extent location (bytes 2-9).
fn root_record_sans_extent(r: &[u8; 34]) -> String {
    let mut c = *r;
    c[2..10].fill(0);
    hex(&c)
}

fn push(
    out: &mut Vec<FieldChange>,
    field: impl Into<String>,
    a: Option<String>,
    b: Option<String>,
) {
    if a != b {
        out.push(FieldChange {
            field: field.into(),
            a,
            b,
        });
    }
}

fn vd_fields(vd: &VolumeDescriptor) -> Vec<(&'static str, String)> {
    let t = |x: &Option<isoforge_format::time::IsoTime>| {
        x.map_or("unset".to_string(), |t| {
            format!("{}+{}q {}ns", t.unix, t.offset_quarters, t.nanos)
        })
    };
    vec![
        ("kind", format!("{:?}", vd.kind)),
        ("version", vd.version.to_string()),
        ("flags", vd.flags.to_string()),
        ("joliet_level", format!("{:?}", vd.joliet_level)),
        ("system_id", vd.system_id.clone()),
        ("volume_id", vd.volume_id.clone()),
        ("volume_space_size", vd.volume_space_size.to_string()),
        ("volume_set_size", vd.volume_set_size.to_string()),
        (
            "volume_sequence_number",
            vd.volume_sequence_number.to_string(),
        ),
        ("logical_block_size", vd.logical_block_size.to_string()),
        ("path_table_size", vd.path_table_size.to_string()),
        ("l_path_table", vd.l_path_table.to_string()),
        ("m_path_table", vd.m_path_table.to_string()),
        ("root_record", hex(&vd.root_record)),
        ("volume_set_id", vd.volume_set_id.clone()),
        ("publisher_id", vd.publisher_id.clone()),
        ("preparer_id", vd.preparer_id.clone()),
        ("application_id", vd.application_id.clone()),
        ("copyright_file_id", vd.copyright_file_id.clone()),
        ("abstract_file_id", vd.abstract_file_id.clone()),
        ("bibliographic_file_id", vd.bibliographic_file_id.clone()),
        ("creation", t(&vd.creation)),
        ("modification", t(&vd.modification)),
        ("expiration", t(&vd.expiration)),
        ("effective", t(&vd.effective)),
        (
            "file_structure_version",
            vd.file_structure_version.to_string(),
        ),
        ("application_use", sha256_hex(&vd.application_use)),
    ]
}

fn hex(b: &[u8]) -> String {
    base16ct::lower::encode_string(b)
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn descriptor_diff<S: ReadAt, T: ReadAt>(a: &Image<S>, b: &Image<T>, out: &mut Vec<FieldChange>) {
    let (da, db) = (&a.info().descriptors, &b.info().descriptors);
    for i in 0..da.len().max(db.len()) {
        let (x, y) = (da.get(i), db.get(i));
        let name = |d: Option<&crate::read::DescriptorEntry>| d.map(|d| format!("{:?}", d.kind));
        let prefix = format!("descriptor{}", i + 1);
        push(out, format!("{prefix}.type"), name(x), name(y));
        match (
            x.and_then(|d| d.volume.as_ref()),
            y.and_then(|d| d.volume.as_ref()),
        ) {
            (Some(va), Some(vb)) => {
                for ((f, va), (_, vb)) in vd_fields(va).into_iter().zip(vd_fields(vb)) {
                    push(out, format!("{prefix}.{f}"), Some(va), Some(vb));
                }
                push(
                    out,
                    format!("{prefix}.root_record_fields"),
                    Some(root_record_sans_extent(&va.root_record)),
                    Some(root_record_sans_extent(&vb.root_record)),
                );
            }
            _ => {
                let boot = |d: Option<&crate::read::DescriptorEntry>| {
                    d.and_then(|d| d.boot.as_ref()).map(|b| format!("{b:?}"))
                };
                push(out, format!("{prefix}.boot_record"), boot(x), boot(y));
                let ids = |d: Option<&crate::read::DescriptorEntry>| {
                    d.and_then(|d| d.boot.as_ref())
                        .map(|b| format!("{:?} {:?}", b.boot_system_id, b.boot_id))
                };
                push(out, format!("{prefix}.boot_system"), ids(x), ids(y));
            }
        }
    }
    let udf = |img: &crate::read::ImageInfo| format!("{:?}", img.udf_recognition);
    push(
        out,
        "udf_recognition",
        Some(udf(a.info())),
        Some(udf(b.info())),
    );
    // The UDF volume's descriptors, as `info` summarises them.
    let udf_volume = |img: &crate::read::ImageInfo| {
        img.udf.as_ref().map(|u| {
            format!(
                "revision {} block {} volume {:?} logical volume {:?} file set {:?} maps {:?}",
                u.revision_text(),
                u.block_size,
                u.volume_id,
                u.logical_volume_id,
                u.file_set_id,
                u.maps.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>()
            )
        })
    };
    push(out, "udf", udf_volume(a.info()), udf_volume(b.info()));
    push(
        out,
        "image_size",
        Some(a.info().image_size.to_string()),
        Some(b.info().image_size.to_string()),
    );
}

/// Byte ranges of a boot image that hold boot information patched in for
/// its block address (boot info table, GRUB2 boot info).
fn patched_ranges(m: &crate::read::boot::BootImage) -> Vec<(u64, u64)> {
    let mut r = Vec::new();
    if m.boot_info_table.is_some() {
        r.push((8, 64));
    }
    if m.grub2_boot_info {
        r.push((2548, 2556));
    }
    r
}

/// Zeros the parts of `chunk` (at byte `pos`) that fall in `mask`.
fn apply_mask(pos: u64, chunk: &mut [u8], mask: &[(u64, u64)]) {
    for &(s, e) in mask {
        let from = s.saturating_sub(pos);
        let to = e.saturating_sub(pos).min(chunk.len() as u64);
        if let (Ok(f), Ok(t)) = (usize::try_from(from), usize::try_from(to)) {
            if let Some(part) = chunk.get_mut(f..t) {
                part.fill(0);
            }
        }
    }
}

/// Reads a boot image's bytes (bounded) and hashes them, with the `mask`
/// ranges taken as zeros.
fn boot_image_hash<S: ReadAt>(
    img: &Image<S>,
    lba: u32,
    len: u64,
    mask: &[(u64, u64)],
) -> Result<String> {
    let off = crate::read::block_offset(lba, img.info().block_size).unwrap_or(0);
    let len = len
        .min(img.info().image_size.saturating_sub(off))
        .min(64 << 20);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        let chunk = buf.get_mut(..n).unwrap_or_default();
        img.read_at("boot image", off + pos, chunk)?;
        apply_mask(pos, chunk, mask);
        h.update(&*chunk);
        pos += n as u64;
    }
    Ok(hex(&h.finalize()))
}

/// The size of a boot image: the file holding it when the tree has one,
/// else what the entry loads, at least one block.
fn boot_image_len(et_img: &crate::read::boot::BootImage, files: &BTreeMap<String, Entry>) -> u64 {
    let by_lba = files.values().find(|e| {
        e.file_type == FileType::File && e.extents.first().map(|x| x.lba) == Some(et_img.lba)
    });
    match (by_lba, et_img.emulation.as_str()) {
        (Some(f), _) => f.size,
        (None, "fd1.2M") => 1_228_800,
        (None, "fd1.44M") => 1_474_560,
        (None, "fd2.88M") => 2_949_120,
        _ => (u64::from(et_img.sector_count) * 512).max(2048),
    }
}

fn boot_diff<S: ReadAt, T: ReadAt>(
    a: &Image<S>,
    b: &Image<T>,
    fa: &BTreeMap<String, Entry>,
    fb: &BTreeMap<String, Entry>,
    out: &mut Vec<FieldChange>,
) -> Result<()> {
    let (ea, eb): (Option<ElTorito>, Option<ElTorito>) = (read_el_torito(a)?, read_el_torito(b)?);
    let present = |e: &Option<ElTorito>| Some(e.is_some().to_string());
    push(out, "el_torito.present", present(&ea), present(&eb));
    let (Some(ea), Some(eb)) = (ea, eb) else {
        return Ok(());
    };
    push(
        out,
        "el_torito.catalog_lba",
        Some(ea.catalog_lba.to_string()),
        Some(eb.catalog_lba.to_string()),
    );
    push(
        out,
        "el_torito.platform",
        Some(ea.platform.clone()),
        Some(eb.platform.clone()),
    );
    push(
        out,
        "el_torito.id_string",
        Some(ea.id_string.clone()),
        Some(eb.id_string.clone()),
    );
    push(
        out,
        "el_torito.images",
        Some(ea.images.len().to_string()),
        Some(eb.images.len().to_string()),
    );
    for (i, (x, y)) in ea.images.iter().zip(&eb.images).enumerate() {
        let p = format!("el_torito.image{}", i + 1);
        let fields = |m: &crate::read::boot::BootImage| {
            vec![
                ("platform", m.platform.clone()),
                ("bootable", m.bootable.to_string()),
                ("emulation", m.emulation.clone()),
                ("load_segment", format!("0x{:04x}", m.load_segment)),
                ("system_type", format!("0x{:02x}", m.system_type)),
                ("sector_count", m.sector_count.to_string()),
                ("lba", m.lba.to_string()),
                ("opts", m.opts.join(" ")),
            ]
        };
        for ((f, va), (_, vb)) in fields(x).into_iter().zip(fields(y)) {
            push(out, format!("{p}.{f}"), Some(va), Some(vb));
        }
        let ha = boot_image_hash(a, x.lba, boot_image_len(x, fa), &[])?;
        let hb = boot_image_hash(b, y.lba, boot_image_len(y, fb), &[])?;
        push(out, format!("{p}.content_sha256"), Some(ha), Some(hb));
        let (ma, mb) = (patched_ranges(x), patched_ranges(y));
        let ha = boot_image_hash(a, x.lba, boot_image_len(x, fa), &ma)?;
        let hb = boot_image_hash(b, y.lba, boot_image_len(y, fb), &mb)?;
        push(out, format!("{p}.unpatched_sha256"), Some(ha), Some(hb));
    }
    Ok(())
}

fn system_area_diff<S: ReadAt, T: ReadAt>(
    a: &Image<S>,
    b: &Image<T>,
    out: &mut Vec<FieldChange>,
) -> Result<()> {
    let area = |img_size: u64| img_size.min(32 * 1024) as usize;
    let mut ba = vec![0u8; area(a.info().image_size)];
    a.read_at("system area", 0, &mut ba)?;
    let mut bb = vec![0u8; area(b.info().image_size)];
    b.read_at("system area", 0, &mut bb)?;
    push(
        out,
        "system_area.sha256",
        Some(sha256_hex(&ba)),
        Some(sha256_hex(&bb)),
    );
    // The MBR boot code, without the boot image address at 432-439.
    let code = |b: &[u8]| sha256_hex(b.get(..432).unwrap_or(b));
    push(
        out,
        "system_area.boot_code_sha256",
        Some(code(&ba)),
        Some(code(&bb)),
    );
    let (sa, sb) = (read_system_area(a)?, read_system_area(b)?);
    push(
        out,
        "system_area.summary",
        Some(sa.summary.join(" ")),
        Some(sb.summary.join(" ")),
    );
    push(
        out,
        "system_area.partition_offset",
        Some(sa.partition_offset.to_string()),
        Some(sb.partition_offset.to_string()),
    );
    let mbr = |s: &crate::read::sysarea::SystemArea| -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(r) = &s.mbr {
            m.insert(
                "mbr.disk_signature".into(),
                format!("0x{:08x}", r.disk_signature),
            );
            for p in &r.partitions {
                let k = format!("mbr.partition{}", p.number);
                m.insert(format!("{k}.status"), format!("0x{:02x}", p.status));
                m.insert(format!("{k}.type"), format!("0x{:02x}", p.ptype));
                m.insert(format!("{k}.start"), p.start.to_string());
                m.insert(format!("{k}.blocks"), p.blocks.to_string());
            }
        }
        if let Some(g) = &s.gpt {
            m.insert("gpt.disk_guid".into(), g.disk_guid.clone());
            m.insert("gpt.header_crc_ok".into(), g.header_crc_ok.to_string());
            m.insert(
                "gpt.entries_crc_ok".into(),
                format!("{:?}", g.entries_crc_ok),
            );
            for p in &g.partitions {
                let k = format!("gpt.partition{}", p.number);
                m.insert(format!("{k}.type_guid"), p.type_guid.clone());
                m.insert(format!("{k}.unique_guid"), p.unique_guid.clone());
                m.insert(format!("{k}.first_lba"), p.first_lba.to_string());
                m.insert(format!("{k}.last_lba"), p.last_lba.to_string());
                m.insert(
                    format!("{k}.attributes"),
                    format!("0x{:016x}", p.attributes),
                );
                m.insert(format!("{k}.name"), p.name.clone());
            }
        }
        if let Some(ap) = &s.apm {
            for p in &ap.partitions {
                let k = format!("apm.partition{}", p.number);
                m.insert(format!("{k}.name"), p.name.clone());
                m.insert(format!("{k}.type"), p.ptype.clone());
                m.insert(format!("{k}.start"), p.start.to_string());
            }
        }
        m
    };
    let (ma, mb) = (mbr(&sa), mbr(&sb));
    let keys: std::collections::BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    for k in keys {
        push(out, k.clone(), ma.get(k).cloned(), mb.get(k).cloned());
    }
    Ok(())
}

fn tree<S: ReadAt>(img: &Image<S>, view: View) -> Result<BTreeMap<String, Entry>> {
    let mut m = BTreeMap::new();
    for e in img.walk(view)? {
        let e = e?;
        m.insert(e.path.clone(), e);
    }
    Ok(m)
}

/// SHA-256 of a file's contents, streamed.
pub fn file_sha256<S: ReadAt>(img: &Image<S>, e: &Entry) -> Result<String> {
    file_sha256_masked(img, e, &[])
}

/// SHA-256 of a file's contents with the `mask` ranges taken as zeros.
fn file_sha256_masked<S: ReadAt>(img: &Image<S>, e: &Entry, mask: &[(u64, u64)]) -> Result<String> {
    struct HashWriter<'m> {
        h: Sha256,
        pos: u64,
        mask: &'m [(u64, u64)],
    }
    impl Write for HashWriter<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.mask.is_empty() {
                self.h.update(b);
            } else {
                let mut c = b.to_vec();
                apply_mask(self.pos, &mut c, self.mask);
                self.h.update(&c);
            }
            self.pos += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter {
        h: Sha256::new(),
        pos: 0,
        mask,
    };
    img.open_file(e)?.copy_to(&mut w)?;
    Ok(hex(&w.h.finalize()))
}

/// Byte ranges taken as zeros.
type Masks = Vec<(u64, u64)>;

/// Paths of the catalog file and the patched ranges of boot image files.
fn boot_files<S: ReadAt>(
    img: &Image<S>,
    files: &BTreeMap<String, Entry>,
) -> Result<(Option<String>, BTreeMap<String, Masks>)> {
    let Some(et) = read_el_torito(img)? else {
        return Ok((None, BTreeMap::new()));
    };
    let at = |lba: u32| {
        files
            .iter()
            .find(|(_, e)| {
                e.file_type == FileType::File && e.extents.first().map(|x| x.lba) == Some(lba)
            })
            .map(|(p, _)| p.clone())
    };
    let mut masks = BTreeMap::new();
    for i in &et.images {
        if let Some(p) = at(i.lba) {
            masks.insert(p, patched_ranges(i));
        }
    }
    Ok((at(et.catalog_lba), masks))
}

fn time_str(t: Option<isoforge_format::time::IsoTime>) -> String {
    t.map_or("unset".into(), |t| {
        if t.nanos == 0 {
            t.unix.to_string()
        } else {
            format!("{}.{:09}", t.unix, t.nanos)
        }
    })
}

fn metadata_diff(path: &str, x: &Entry, y: &Entry, out: &mut Vec<FileChange>) {
    let fields: [(&'static str, String, String); 8] = [
        (
            "mode",
            format!("{:o}", x.mode & 0o7777),
            format!("{:o}", y.mode & 0o7777),
        ),
        ("uid", x.uid.to_string(), y.uid.to_string()),
        ("gid", x.gid.to_string(), y.gid.to_string()),
        ("mtime", time_str(x.mtime), time_str(y.mtime)),
        ("atime", time_str(x.atime), time_str(y.atime)),
        ("ctime", time_str(x.ctime), time_str(y.ctime)),
        (
            "target",
            format!("{:?}", x.target),
            format!("{:?}", y.target),
        ),
        ("rdev", format!("{:?}", x.rdev), format!("{:?}", y.rdev)),
    ];
    for (field, a, b) in fields {
        if a != b {
            out.push(FileChange::Metadata {
                path: path.to_string(),
                field,
                a,
                b,
            });
        }
    }
}

/// Compares two images.
pub fn diff<S: ReadAt, T: ReadAt>(
    a: &Image<S>,
    b: &Image<T>,
    opts: &DiffOptions,
) -> Result<DiffReport> {
    let mut r = DiffReport::default();
    descriptor_diff(a, b, &mut r.descriptors);
    let (ta, tb) = (tree(a, opts.view)?, tree(b, opts.view)?);
    boot_diff(a, b, &ta, &tb, &mut r.boot)?;
    system_area_diff(a, b, &mut r.system_area)?;
    let (cat_a, masks_a) = boot_files(a, &ta)?;
    let (cat_b, masks_b) = boot_files(b, &tb)?;
    let mut to_hash: Vec<(&String, &Entry, &Entry)> = Vec::new();
    for (p, x) in &ta {
        match tb.get(p) {
            None => r.files.push(FileChange::Removed {
                path: p.clone(),
                kind: x.file_type,
            }),
            Some(y) if x.file_type != y.file_type => r.files.push(FileChange::Type {
                path: p.clone(),
                a: x.file_type,
                b: y.file_type,
            }),
            Some(y) => {
                let catalog = cat_a.as_ref() == Some(p) && cat_b.as_ref() == Some(p);
                if x.file_type == FileType::File && !(opts.ignore_layout && catalog) {
                    to_hash.push((p, x, y));
                }
                metadata_diff(p, x, y, &mut r.files);
            }
        }
    }
    for (p, y) in &tb {
        if !ta.contains_key(p) {
            r.files.push(FileChange::Added {
                path: p.clone(),
                kind: y.file_type,
            });
        }
    }
    // Contents: both sides hashed in parallel; large files stream.
    let hashed: Vec<Result<Option<FileChange>>> = to_hash
        .par_iter()
        .map(|(p, x, y)| {
            let none = Vec::new();
            let (mx, my) = if opts.ignore_layout {
                (
                    masks_a.get(*p).unwrap_or(&none),
                    masks_b.get(*p).unwrap_or(&none),
                )
            } else {
                (&none, &none)
            };
            let (ha, hb) = rayon::join(
                || file_sha256_masked(a, x, mx),
                || file_sha256_masked(b, y, my),
            );
            let (ha, hb) = (ha?, hb?);
            Ok((ha != hb || x.size != y.size).then(|| FileChange::Content {
                path: (*p).clone(),
                a_size: x.size,
                b_size: y.size,
                a_sha256: ha,
                b_sha256: hb,
            }))
        })
        .collect();
    for h in hashed {
        if let Some(c) = h? {
            r.files.push(c);
        }
    }
    r.files.sort_by(|x, y| change_path(x).cmp(change_path(y)));
    if opts.ignore_layout {
        for list in [&mut r.descriptors, &mut r.boot, &mut r.system_area] {
            list.retain(|c| !is_layout(&c.field) && !c.field.ends_with(".content_sha256"));
        }
    } else {
        for list in [&mut r.descriptors, &mut r.boot, &mut r.system_area] {
            list.retain(|c| {
                !c.field.ends_with(".root_record_fields")
                    && !c.field.ends_with(".boot_system")
                    && !c.field.ends_with(".unpatched_sha256")
                    && c.field != "system_area.boot_code_sha256"
            });
        }
    }
    Ok(r)
}

fn change_path(c: &FileChange) -> &str {
    match c {
        FileChange::Added { path, .. }
        | FileChange::Removed { path, .. }
        | FileChange::Type { path, .. }
        | FileChange::Content { path, .. }
        | FileChange::Metadata { path, .. } => path,
    }
}
