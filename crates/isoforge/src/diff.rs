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
use crate::IsoTime;
use isoforge_format::ecma119::volume::{VolumeDescriptorKind, VolumeStructure};

/// A compared value, typed so that a caller can show it as its users
/// read it (the CLI prints times in RFC 3339 and bytes in hex).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// Text: identifiers, names, words such as a platform.
    Text(String),
    /// A count, size, block address or version.
    Number(u64),
    /// A yes/no property.
    Bool(bool),
    /// Raw bytes or a digest of them.
    Bytes(Vec<u8>),
    /// A code that is read in hex (a partition type, a load segment),
    /// with its width in hex digits.
    Code {
        /// The value.
        value: u64,
        /// Digits to show.
        digits: u8,
    },
    /// A recorded time.
    Time(IsoTime),
    /// Permission bits, set-id and sticky bits included.
    Mode(u32),
    /// A device number (major, minor).
    Device(u32, u32),
    /// An entry type.
    Type(FileType),
}

fn code(value: impl Into<u64>, digits: u8) -> Option<Value> {
    Some(Value::Code {
        value: value.into(),
        digits,
    })
}

fn text(s: impl Into<String>) -> Option<Value> {
    Some(Value::Text(s.into()))
}

fn num(n: impl Into<u64>) -> Option<Value> {
    Some(Value::Number(n.into()))
}

/// One differing field of a descriptor, boot record or partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// Where: `descriptor1.volume_id`, `el_torito.image1.lba`, `mbr.partition1.type`, ...
    pub field: String,
    /// Value in the first image (`None`: absent there).
    pub a: Option<Value>,
    /// Value in the second image.
    pub b: Option<Value>,
}

/// How one path differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// Only in the second image.
    Added {
        /// Path.
        path: String,
        /// Entry type.
        kind: FileType,
        /// Size in bytes.
        size: u64,
    },
    /// Only in the first image.
    Removed {
        /// Path.
        path: String,
        /// Entry type.
        kind: FileType,
        /// Size in bytes.
        size: u64,
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
        a_sha256: [u8; 32],
        /// SHA-256 in the second image.
        b_sha256: [u8; 32],
    },
    /// A metadata field differs.
    Metadata {
        /// Path.
        path: String,
        /// `mode`, `uid`, `gid`, `mtime`, `atime`, `ctime`, `target`, `rdev`.
        field: &'static str,
        /// Value in the first image (`None`: not recorded there).
        a: Option<Value>,
        /// Value in the second image.
        b: Option<Value>,
    },
}

impl FileChange {
    /// The path concerned.
    pub fn path(&self) -> &str {
        match self {
            FileChange::Added { path, .. }
            | FileChange::Removed { path, .. }
            | FileChange::Type { path, .. }
            | FileChange::Content { path, .. }
            | FileChange::Metadata { path, .. } => path,
        }
    }
}

/// Everything that differs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    "el_torito_catalog",
];

/// Whether a field name (`a.b.c`) names a layout field.
fn is_layout(field: &str) -> bool {
    let last = field.rsplit('.').next().unwrap_or(field);
    LAYOUT_FIELDS.contains(&field)
        || LAYOUT_FIELDS.contains(&last)
        || field.ends_with(".root_record")
}

/// The root record without its extent location (bytes 2-9).
fn root_record_sans_extent(r: &[u8; 34]) -> Vec<u8> {
    let mut c = *r;
    c[2..10].fill(0);
    c.to_vec()
}

fn push(out: &mut Vec<FieldChange>, field: impl Into<String>, a: Option<Value>, b: Option<Value>) {
    if a != b {
        out.push(FieldChange {
            field: field.into(),
            a,
            b,
        });
    }
}

fn vd_fields(vd: &VolumeDescriptor) -> Vec<(&'static str, Option<Value>)> {
    let t = |x: &Option<IsoTime>| x.map(Value::Time);
    vec![
        ("kind", text(kind_word(vd.kind))),
        ("version", num(vd.version)),
        ("flags", code(vd.flags, 2)),
        ("joliet_level", vd.joliet_level.and_then(num)),
        ("system_id", text(&vd.system_id)),
        ("volume_id", text(&vd.volume_id)),
        ("volume_space_size", num(vd.volume_space_size)),
        ("volume_set_size", num(vd.volume_set_size)),
        ("volume_sequence_number", num(vd.volume_sequence_number)),
        ("logical_block_size", num(vd.logical_block_size)),
        ("path_table_size", num(vd.path_table_size)),
        ("l_path_table", num(vd.l_path_table)),
        ("m_path_table", num(vd.m_path_table)),
        ("root_record", Some(Value::Bytes(vd.root_record.to_vec()))),
        ("volume_set_id", text(&vd.volume_set_id)),
        ("publisher_id", text(&vd.publisher_id)),
        ("preparer_id", text(&vd.preparer_id)),
        ("application_id", text(&vd.application_id)),
        ("copyright_file_id", text(&vd.copyright_file_id)),
        ("abstract_file_id", text(&vd.abstract_file_id)),
        ("bibliographic_file_id", text(&vd.bibliographic_file_id)),
        ("creation", t(&vd.creation)),
        ("modification", t(&vd.modification)),
        ("expiration", t(&vd.expiration)),
        ("effective", t(&vd.effective)),
        ("file_structure_version", num(vd.file_structure_version)),
        ("application_use_sha256", sha256(&vd.application_use)),
    ]
}

/// The kind of a volume descriptor in one word.
fn kind_word(k: VolumeDescriptorKind) -> String {
    match k {
        VolumeDescriptorKind::BootRecord => "boot-record".into(),
        VolumeDescriptorKind::Primary => "primary".into(),
        VolumeDescriptorKind::Supplementary => "supplementary".into(),
        VolumeDescriptorKind::Enhanced => "enhanced".into(),
        VolumeDescriptorKind::Partition => "partition".into(),
        VolumeDescriptorKind::Terminator => "terminator".into(),
        VolumeDescriptorKind::Unknown(t) => format!("type-{t}"),
        _ => "other".into(),
    }
}

fn sha256(b: &[u8]) -> Option<Value> {
    Some(Value::Bytes(Sha256::digest(b).to_vec()))
}

fn descriptor_diff<S: ReadAt, T: ReadAt>(a: &Image<S>, b: &Image<T>, out: &mut Vec<FieldChange>) {
    let (da, db) = (&a.info().descriptors, &b.info().descriptors);
    for i in 0..da.len().max(db.len()) {
        let (x, y) = (da.get(i), db.get(i));
        let name =
            |d: Option<&crate::read::DescriptorEntry>| d.map(|d| Value::Text(kind_word(d.kind)));
        let prefix = format!("descriptor{}", i + 1);
        push(out, format!("{prefix}.type"), name(x), name(y));
        match (
            x.and_then(|d| d.volume.as_ref()),
            y.and_then(|d| d.volume.as_ref()),
        ) {
            (Some(va), Some(vb)) => {
                for ((f, va), (_, vb)) in vd_fields(va).into_iter().zip(vd_fields(vb)) {
                    push(out, format!("{prefix}.{f}"), va, vb);
                }
                push(
                    out,
                    format!("{prefix}.root_record_fields"),
                    Some(Value::Bytes(root_record_sans_extent(&va.root_record))),
                    Some(Value::Bytes(root_record_sans_extent(&vb.root_record))),
                );
            }
            _ => {
                let boot =
                    |d: Option<&crate::read::DescriptorEntry>| d.and_then(|d| d.boot.clone());
                let (ba, bb) = (boot(x), boot(y));
                push(
                    out,
                    format!("{prefix}.boot_system_id"),
                    ba.as_ref().and_then(|b| text(&b.boot_system_id)),
                    bb.as_ref().and_then(|b| text(&b.boot_system_id)),
                );
                push(
                    out,
                    format!("{prefix}.boot_id"),
                    ba.as_ref().and_then(|b| text(&b.boot_id)),
                    bb.as_ref().and_then(|b| text(&b.boot_id)),
                );
                push(
                    out,
                    format!("{prefix}.el_torito_catalog"),
                    ba.and_then(|b| b.el_torito_catalog).and_then(num),
                    bb.and_then(|b| b.el_torito_catalog).and_then(num),
                );
            }
        }
    }
    let udf = |img: &crate::read::ImageInfo| {
        let ids: Vec<&str> = img
            .udf_recognition
            .iter()
            .map(|(_, v)| match v {
                VolumeStructure::Bea01 => "BEA01",
                VolumeStructure::Nsr02 => "NSR02",
                VolumeStructure::Nsr03 => "NSR03",
                VolumeStructure::Tea01 => "TEA01",
                VolumeStructure::Boot2 => "BOOT2",
                VolumeStructure::Cd001 => "CD001",
            })
            .collect();
        text(ids.join(" "))
    };
    push(out, "udf_recognition", udf(a.info()), udf(b.info()));
    // The UDF volume's descriptors, as `info` summarises them.
    let (ua, ub) = (a.info().udf.as_ref(), b.info().udf.as_ref());
    type UdfField = fn(&crate::read::UdfInfo) -> Option<Value>;
    let fields: [(&str, UdfField); 6] = [
        ("udf.revision", |u| text(u.revision_text())),
        ("udf.block_size", |u| num(u.block_size)),
        ("udf.volume_id", |u| text(u.volume_id.clone())),
        ("udf.logical_volume_id", |u| {
            text(u.logical_volume_id.clone())
        }),
        ("udf.file_set_id", |u| text(u.file_set_id.clone())),
        ("udf.partition_maps", |u| {
            text(
                u.maps
                    .iter()
                    .map(|m| m.kind.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }),
    ];
    for (name, f) in fields {
        push(out, name, ua.and_then(f), ub.and_then(f));
    }
    push(
        out,
        "image_size",
        num(a.info().image_size),
        num(b.info().image_size),
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
) -> Result<Value> {
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
    Ok(Value::Bytes(h.finalize().to_vec()))
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
    let present = |e: &Option<ElTorito>| Some(Value::Bool(e.is_some()));
    push(out, "el_torito.present", present(&ea), present(&eb));
    let (Some(ea), Some(eb)) = (ea, eb) else {
        return Ok(());
    };
    push(
        out,
        "el_torito.catalog_lba",
        num(ea.catalog_lba),
        num(eb.catalog_lba),
    );
    push(
        out,
        "el_torito.platform",
        text(&ea.platform),
        text(&eb.platform),
    );
    push(
        out,
        "el_torito.id_string",
        text(&ea.id_string),
        text(&eb.id_string),
    );
    push(
        out,
        "el_torito.images",
        num(ea.images.len() as u64),
        num(eb.images.len() as u64),
    );
    for (i, (x, y)) in ea.images.iter().zip(&eb.images).enumerate() {
        let p = format!("el_torito.image{}", i + 1);
        let fields = |m: &crate::read::boot::BootImage| {
            vec![
                ("platform", text(&m.platform)),
                ("bootable", Some(Value::Bool(m.bootable))),
                ("emulation", text(&m.emulation)),
                ("load_segment", code(m.load_segment, 4)),
                ("system_type", code(m.system_type, 2)),
                ("sector_count", num(m.sector_count)),
                ("lba", num(m.lba)),
                ("opts", text(m.opts.join(" "))),
            ]
        };
        for ((f, va), (_, vb)) in fields(x).into_iter().zip(fields(y)) {
            push(out, format!("{p}.{f}"), va, vb);
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
    push(out, "system_area.sha256", sha256(&ba), sha256(&bb));
    // The MBR boot code, without the boot image address at 432-439.
    let boot_code = |b: &[u8]| sha256(b.get(..432).unwrap_or(b));
    push(
        out,
        "system_area.boot_code_sha256",
        boot_code(&ba),
        boot_code(&bb),
    );
    let (sa, sb) = (read_system_area(a)?, read_system_area(b)?);
    push(
        out,
        "system_area.summary",
        text(sa.summary.join(" ")),
        text(sb.summary.join(" ")),
    );
    push(
        out,
        "system_area.partition_offset",
        num(sa.partition_offset),
        num(sb.partition_offset),
    );
    let tables = |s: &crate::read::sysarea::SystemArea| -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let mut put = |k: String, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k, v);
            }
        };
        if let Some(r) = &s.mbr {
            put("mbr.disk_signature".into(), code(r.disk_signature, 8));
            for p in &r.partitions {
                let k = format!("mbr.partition{}", p.number);
                put(format!("{k}.status"), code(p.status, 2));
                put(format!("{k}.type"), code(p.ptype, 2));
                put(format!("{k}.start"), num(p.start));
                put(format!("{k}.blocks"), num(p.blocks));
            }
        }
        if let Some(g) = &s.gpt {
            put("gpt.disk_guid".into(), text(&g.disk_guid));
            put(
                "gpt.header_crc_ok".into(),
                Some(Value::Bool(g.header_crc_ok)),
            );
            put(
                "gpt.entries_crc_ok".into(),
                g.entries_crc_ok.map(Value::Bool),
            );
            for p in &g.partitions {
                let k = format!("gpt.partition{}", p.number);
                put(format!("{k}.type_guid"), text(&p.type_guid));
                put(format!("{k}.unique_guid"), text(&p.unique_guid));
                put(format!("{k}.first_lba"), num(p.first_lba));
                put(format!("{k}.last_lba"), num(p.last_lba));
                put(format!("{k}.attributes"), code(p.attributes, 16));
                put(format!("{k}.name"), text(&p.name));
            }
        }
        if let Some(ap) = &s.apm {
            for p in &ap.partitions {
                let k = format!("apm.partition{}", p.number);
                put(format!("{k}.name"), text(&p.name));
                put(format!("{k}.type"), text(&p.ptype));
                put(format!("{k}.start"), num(p.start));
            }
        }
        m
    };
    let (ma, mb) = (tables(&sa), tables(&sb));
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
pub fn file_sha256<S: ReadAt>(img: &Image<S>, e: &Entry) -> Result<[u8; 32]> {
    file_sha256_masked(img, e, &[])
}

/// SHA-256 of a file's contents with the `mask` ranges taken as zeros.
fn file_sha256_masked<S: ReadAt>(
    img: &Image<S>,
    e: &Entry,
    mask: &[(u64, u64)],
) -> Result<[u8; 32]> {
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
    Ok(w.h.finalize().into())
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

/// Whether a field differs, and its values in both images.
type Compared = (bool, Option<Value>, Option<Value>);

/// Times compare by the instant; the recorded offset is how it is shown.
fn instant(t: Option<IsoTime>) -> Option<(i64, u32)> {
    t.map(|t| (t.unix, t.nanos))
}

fn metadata_diff(path: &str, x: &Entry, y: &Entry, out: &mut Vec<FileChange>) {
    let times = |f: fn(&Entry) -> Option<IsoTime>| {
        (
            instant(f(x)) != instant(f(y)),
            f(x).map(Value::Time),
            f(y).map(Value::Time),
        )
    };
    let same = |a: &Option<Value>, b: &Option<Value>| (a != b, a.clone(), b.clone());
    let mode = |e: &Entry| Some(Value::Mode(e.mode & 0o7777));
    let id = |n: u32| Some(Value::Number(u64::from(n)));
    let target = |e: &Entry| e.target.clone().map(Value::Text);
    let rdev = |e: &Entry| e.rdev.map(|(a, b)| Value::Device(a, b));
    let fields: [(&'static str, Compared); 8] = [
        ("mode", same(&mode(x), &mode(y))),
        ("uid", same(&id(x.uid), &id(y.uid))),
        ("gid", same(&id(x.gid), &id(y.gid))),
        ("mtime", times(|e| e.mtime)),
        ("atime", times(|e| e.atime)),
        ("ctime", times(|e| e.ctime)),
        ("target", same(&target(x), &target(y))),
        ("rdev", same(&rdev(x), &rdev(y))),
    ];
    for (field, (differs, a, b)) in fields {
        if differs {
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
                size: x.size,
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
                size: y.size,
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
    r.files.sort_by(|x, y| x.path().cmp(y.path()));
    if opts.ignore_layout {
        for list in [&mut r.descriptors, &mut r.boot, &mut r.system_area] {
            list.retain(|c| !is_layout(&c.field) && !c.field.ends_with(".content_sha256"));
        }
    } else {
        for list in [&mut r.descriptors, &mut r.boot, &mut r.system_area] {
            list.retain(|c| {
                !c.field.ends_with(".root_record_fields")
                    && !c.field.ends_with(".unpatched_sha256")
                    && c.field != "system_area.boot_code_sha256"
            });
        }
    }
    Ok(r)
}
