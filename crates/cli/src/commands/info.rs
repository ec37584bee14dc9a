//! `isoforge info`: what an image is.

use std::io::Write;
use std::path::PathBuf;

use isoforge::read::DescriptorEntry;
use isoforge::read::VolumeDescriptorKind;
use isoforge::{FileType, Image, View};
use serde_json::{json, Value};

use crate::args::Cli;
use crate::commands::{open_image, Outcome, RemoteArgs};
use crate::render::{rfc3339, write_json};

/// Options of `info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a path, or an http://, https:// or s3:// URL.
    pub image: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

fn kind_name(k: VolumeDescriptorKind) -> String {
    match k {
        VolumeDescriptorKind::BootRecord => "boot-record".into(),
        VolumeDescriptorKind::Primary => "primary".into(),
        VolumeDescriptorKind::Supplementary => "supplementary".into(),
        VolumeDescriptorKind::Enhanced => "enhanced".into(),
        VolumeDescriptorKind::Partition => "partition".into(),
        VolumeDescriptorKind::Terminator => "terminator".into(),
        VolumeDescriptorKind::Unknown(t) => format!("unknown-{t}"),
        _ => "other".into(),
    }
}

fn descriptor_json(d: &DescriptorEntry) -> Value {
    let mut v = json!({ "sector": d.sector, "type": kind_name(d.kind) });
    if let Some(vd) = &d.volume {
        let t = |x: &Option<isoforge::IsoTime>| x.as_ref().map(rfc3339);
        v["version"] = json!(vd.version);
        v["joliet_level"] = json!(vd.joliet_level);
        v["system_id"] = json!(vd.system_id);
        v["volume_id"] = json!(vd.volume_id);
        v["volume_set_id"] = json!(vd.volume_set_id);
        v["publisher"] = json!(vd.publisher_id);
        v["preparer"] = json!(vd.preparer_id);
        v["application"] = json!(vd.application_id);
        v["copyright_file"] = json!(vd.copyright_file_id);
        v["abstract_file"] = json!(vd.abstract_file_id);
        v["bibliographic_file"] = json!(vd.bibliographic_file_id);
        v["volume_space_size"] = json!(vd.volume_space_size);
        v["logical_block_size"] = json!(vd.logical_block_size);
        v["path_table_size"] = json!(vd.path_table_size);
        v["l_path_table"] = json!(vd.l_path_table);
        v["m_path_table"] = json!(vd.m_path_table);
        v["creation"] = json!(t(&vd.creation));
        v["modification"] = json!(t(&vd.modification));
        v["expiration"] = json!(t(&vd.expiration));
        v["effective"] = json!(t(&vd.effective));
    }
    if let Some(b) = &d.boot {
        v["boot_system_id"] = json!(b.boot_system_id);
        v["boot_id"] = json!(b.boot_id);
        v["el_torito_catalog"] = json!(b.el_torito_catalog);
    }
    v
}

/// Tree statistics gathered by one walk.
struct TreeStats {
    files: u64,
    dirs: u64,
    symlinks: u64,
    other: u64,
    bytes: u64,
    zisofs: u64,
    /// (first LBA, path) of every regular file, for naming boot images.
    file_lbas: Vec<(u32, String)>,
}

fn tree_stats(
    img: &Image<std::sync::Arc<dyn isoforge::ReadAt>>,
    view: View,
) -> anyhow::Result<(TreeStats, Vec<isoforge::Diagnostic>)> {
    let mut s = TreeStats {
        files: 0,
        dirs: 0,
        symlinks: 0,
        other: 0,
        bytes: 0,
        zisofs: 0,
        file_lbas: Vec::new(),
    };
    let mut walk = img.walk(view)?;
    for e in walk.by_ref() {
        let e = e?;
        match e.file_type {
            FileType::File => {
                s.files += 1;
                s.bytes += e.size;
                if e.zisofs.is_some() {
                    s.zisofs += 1;
                }
                if let Some(x) = e.extents.first() {
                    s.file_lbas.push((x.lba, e.path.clone()));
                } else if let Some(off) = e.udf.as_ref().and_then(|u| u.runs.first()?.offset) {
                    // A UDF file's first run, as a 2048-byte sector.
                    if let Ok(lba) = u32::try_from(off / 2048) {
                        s.file_lbas.push((lba, e.path.clone()));
                    }
                }
            }
            FileType::Dir => s.dirs += 1,
            FileType::Symlink => s.symlinks += 1,
            _ => s.other += 1,
        }
    }
    let diags = walk.diagnostics().to_vec();
    Ok((s, diags))
}

/// Runs `info`.
pub fn run(_cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let img = open_image(&a.image, &a.remote)?;
    let info = img.info();
    let udf_stub = img.udf_stub()?;
    let (view, view_reason) = img.auto_view();
    let (stats, walk_diags) = tree_stats(&img, view)?;
    let mut diagnostics: Vec<isoforge::Diagnostic> = img.diagnostics().to_vec();
    diagnostics.extend(walk_diags);
    let mut path_tables = Vec::new();
    for v in img.views() {
        if matches!(v, View::RockRidge | View::Udf) {
            continue;
        }
        match img.check_path_tables(v) {
            Ok(c) => path_tables.push(c),
            Err(e) => diagnostics.push(isoforge::Diagnostic {
                offset: 0,
                message: format!("path tables of the {v:?} tree could not be checked: {e}"),
            }),
        }
    }
    let mut el_torito = isoforge::read::boot::read_el_torito(&img)?;
    let lba_path = |lba: u32| {
        stats
            .file_lbas
            .iter()
            .find(|(l, _)| *l == lba)
            .map(|(_, p)| p.clone())
    };
    let mut catalog_path = None;
    if let Some(et) = el_torito.as_mut() {
        catalog_path = lba_path(et.catalog_lba);
        for b in &mut et.images {
            b.path = lba_path(b.lba);
        }
        diagnostics.extend(et.diagnostics.iter().cloned());
    }
    let system_area = isoforge::read::sysarea::read_system_area(&img)?;
    let md5_tag = isoforge::verify::md5_tag::read_tag(img.source())?;
    diagnostics.extend(system_area.diagnostics.iter().cloned());
    let rr = info.rock_ridge.as_ref();
    let mut et_json = serde_json::to_value(&el_torito)?;
    if let Some(o) = et_json.as_object_mut() {
        o.insert("catalog_path".into(), json!(catalog_path));
    }
    let j = json!({
        "image": a.image.display().to_string(),
        "image_size": info.image_size,
        "block_size": info.block_size,
        "volume_space_size": info.volume_space_size,
        "volume_id": info.volume_id,
        "descriptors": info.descriptors.iter().map(descriptor_json).collect::<Vec<_>>(),
        "udf": udf_json(info, udf_stub),
        "extensions": {
            "rock_ridge": rr.map(|r| json!({"identifier": r.identifier, "version": r.version, "skip": r.skip})),
            "joliet_level": info.joliet_level,
            "iso9660_1999": info.enhanced,
            "zisofs": stats.zisofs > 0,
        },
        "views": img.views().iter().map(|v| serde_json::to_value(v).unwrap_or(Value::Null)).collect::<Vec<_>>(),
        "default_view": serde_json::to_value(view).unwrap_or(Value::Null),
        "default_view_reason": view_reason,
        "tree": {
            "files": stats.files,
            "directories": stats.dirs,
            "symlinks": stats.symlinks,
            "other": stats.other,
            "file_bytes": stats.bytes,
            "zisofs_files": stats.zisofs,
        },
        "el_torito": et_json,
        "system_area": system_area,
        "path_tables": path_tables,
        "implanted_md5": md5_tag,
        "diagnostics": diagnostics,
    });
    if a.json {
        write_json(out, j)?;
        return Ok(Outcome::Ok);
    }
    writeln!(out, "Image size     : {} bytes", info.image_size)?;
    writeln!(out, "Volume id      : {}", info.volume_id)?;
    writeln!(out, "Block size     : {}", info.block_size)?;
    writeln!(out, "Volume size    : {} blocks", info.volume_space_size)?;
    for d in &info.descriptors {
        let mut line = format!(
            "Descriptor     : sector {:>3}  {}",
            d.sector,
            kind_name(d.kind)
        );
        if let Some(vd) = &d.volume {
            if let Some(l) = vd.joliet_level {
                line.push_str(&format!(" (Joliet level {l})"));
            }
            line.push_str(&format!("  volume {:?}", vd.volume_id));
        }
        if let Some(b) = &d.boot {
            line.push_str(&format!("  {:?}", b.boot_system_id));
        }
        writeln!(out, "{line}")?;
    }
    if let Some(vd) = info.primary() {
        for (k, v) in [
            ("System id", &vd.system_id),
            ("Volume set id", &vd.volume_set_id),
            ("Publisher", &vd.publisher_id),
            ("Preparer", &vd.preparer_id),
            ("Application", &vd.application_id),
        ] {
            if !v.is_empty() {
                writeln!(out, "{k:<15}: {v}")?;
            }
        }
        for (k, t) in [("Created", &vd.creation), ("Modified", &vd.modification)] {
            if let Some(t) = t {
                writeln!(out, "{k:<15}: {}", rfc3339(t))?;
            }
        }
    }
    let mut ext = Vec::new();
    if let Some(r) = rr {
        ext.push(format!(
            "Rock Ridge {} ({})",
            r.version,
            r.identifier.as_deref().unwrap_or("no ER")
        ));
    }
    if let Some(l) = info.joliet_level {
        ext.push(format!("Joliet level {l}"));
    }
    if info.enhanced {
        ext.push("ISO 9660:1999".into());
    }
    if stats.zisofs > 0 {
        ext.push(format!("zisofs ({} files)", stats.zisofs));
    }
    match &info.udf {
        Some(u) => ext.push(format!("UDF {}", u.revision_text())),
        None if info.has_udf() => ext.push("UDF (unreadable)".into()),
        None => {}
    }
    writeln!(
        out,
        "Extensions     : {}",
        if ext.is_empty() {
            "none".into()
        } else {
            ext.join(", ")
        }
    )?;
    if let Some(u) = &info.udf {
        write_udf(out, u)?;
    }
    writeln!(
        out,
        "View           : {}, because {view_reason}",
        serde_json::to_value(view)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "Tree ({:?})  : {} files, {} directories, {} symlinks, {} bytes",
        view, stats.files, stats.dirs, stats.symlinks, stats.bytes
    )?;
    if udf_stub {
        writeln!(
            out,
            "Note           : the ISO 9660 tree is only a placeholder; the content is in the UDF file system"
        )?;
    }
    if let Some(et) = &el_torito {
        write_el_torito(out, et, catalog_path.as_deref())?;
    }
    write_system_area(out, &system_area)?;
    if let Some(t) = &md5_tag {
        let mut line = format!("Implanted MD5  : {}", t.md5);
        if let Some(n) = t.fragment_count {
            line.push_str(&format!(", {n} fragments"));
        }
        line.push_str(&format!(
            ", last {} sectors skipped (isomd5sum; an integrity check, not proof of authenticity)",
            t.skip_sectors
        ));
        writeln!(out, "{line}")?;
    }
    for c in &path_tables {
        writeln!(
            out,
            "Path tables    : {}: {} L / {} M records, {} directories: {}",
            c.descriptor,
            c.l_records,
            c.m_records,
            c.directories,
            if c.ok() {
                "consistent".into()
            } else {
                c.problems.join("; ")
            }
        )?;
    }
    for d in &diagnostics {
        writeln!(out, "Diagnostic     : byte {}: {}", d.offset, d.message)?;
    }
    Ok(Outcome::Ok)
}

/// The `udf` object of `info --json`: every key is written, null where no
/// readable volume gives it a value.
fn udf_json(info: &isoforge::read::ImageInfo, placeholder: bool) -> Value {
    let u = info.udf.as_ref();
    let t = |x: &Option<isoforge::IsoTime>| x.as_ref().map(rfc3339);
    let rev = |r: Option<u16>| r.map(|r| format!("{}.{:02x}", r >> 8, r & 0xFF));
    let of = |f: &dyn Fn(&isoforge::read::UdfInfo) -> Value| u.map_or(Value::Null, f);
    json!({
        "present": info.has_udf(),
        "recognition": info.udf_recognition.iter().map(|(s, v)| json!({"sector": s, "id": format!("{v:?}").to_uppercase()})).collect::<Vec<_>>(),
        "iso9660_is_placeholder": placeholder,
        "readable": u.is_some(),
        "revision": of(&|u| json!(u.revision_text())),
        "domain_revision": of(&|u| json!(rev(Some(u.domain_revision)))),
        "block_size": of(&|u| json!(u.block_size)),
        "anchors": of(&|u| json!(u.anchors)),
        "reserve_sequence_used": of(&|u| json!(u.reserve_sequence)),
        "volume_id": of(&|u| json!(u.volume_id)),
        "volume_set_id": of(&|u| json!(u.volume_set_id)),
        "logical_volume_id": of(&|u| json!(u.logical_volume_id)),
        "file_set_id": of(&|u| json!(u.file_set_id)),
        "application_id": of(&|u| json!(u.application_id)),
        "implementation_id": of(&|u| json!(u.implementation_id)),
        "recorded": of(&|u| json!(t(&u.recorded))),
        "partitions": of(&|u| json!(u.partitions)),
        "maps": of(&|u| json!(u.maps)),
        "integrity": of(&|u| match &u.integrity {
            Some(i) => json!({
                "state": if i.closed { "closed" } else { "open" },
                "recorded": t(&i.recorded),
                "files": i.num_files,
                "directories": i.num_dirs,
                "min_read_revision": rev(i.min_read),
                "min_write_revision": rev(i.min_write),
                "max_write_revision": rev(i.max_write),
                "implementation_id": i.impl_id,
            }),
            None => Value::Null,
        }),
    })
}

/// The UDF lines of `info`.
fn write_udf(out: &mut dyn Write, u: &isoforge::read::UdfInfo) -> std::io::Result<()> {
    writeln!(
        out,
        "UDF            : revision {} (domain {}.{:02x}), block size {}, {}",
        u.revision_text(),
        u.domain_revision >> 8,
        u.domain_revision & 0xFF,
        u.block_size,
        u.recognition.join(" ")
    )?;
    writeln!(
        out,
        "UDF volume     : {:?}, logical volume {:?}, file set {:?}",
        u.volume_id, u.logical_volume_id, u.file_set_id
    )?;
    if !u.implementation_id.is_empty() || !u.application_id.is_empty() {
        writeln!(
            out,
            "UDF written by : {}",
            format!("{} {}", u.implementation_id, u.application_id).trim()
        )?;
    }
    writeln!(
        out,
        "UDF anchors    : sectors {:?}{}",
        u.anchors,
        if u.reserve_sequence {
            ", reserve descriptor sequence used"
        } else {
            ""
        }
    )?;
    for p in &u.partitions {
        writeln!(
            out,
            "UDF partition  : {} at sector {}, {} sectors, {} ({})",
            p.number, p.start, p.length, p.access, p.contents
        )?;
    }
    for (i, m) in u.maps.iter().enumerate() {
        let part = m
            .partition
            .map_or(String::new(), |p| format!(" of partition {p}"));
        let detail = if m.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", m.detail)
        };
        writeln!(out, "UDF map        : {i} {}{part}{detail}", m.kind)?;
    }
    match &u.integrity {
        Some(i) => {
            let rev = |r: Option<u16>| {
                r.map_or("?".to_string(), |r| format!("{}.{:02x}", r >> 8, r & 0xFF))
            };
            writeln!(
                out,
                "UDF integrity  : {}, {} files, {} directories, revisions read {} write {}-{}",
                if i.closed { "closed" } else { "open" },
                i.num_files.map_or("?".into(), |n| n.to_string()),
                i.num_dirs.map_or("?".into(), |n| n.to_string()),
                rev(i.min_read),
                rev(i.min_write),
                rev(i.max_write)
            )?;
        }
        None => writeln!(out, "UDF integrity  : not recorded")?,
    }
    Ok(())
}

/// El Torito lines in the wording of `xorriso -report_el_torito plain`.
fn write_el_torito(
    out: &mut dyn Write,
    et: &isoforge::read::boot::ElTorito,
    cat_path: Option<&str>,
) -> std::io::Result<()> {
    writeln!(out, "El Torito catalog  : {}", et.catalog_lba)?;
    if let Some(p) = cat_path {
        writeln!(out, "El Torito cat path : {p}")?;
    }
    if !et.checksum_ok {
        writeln!(
            out,
            "El Torito warning  : validation entry checksum does not match"
        )?;
    }
    writeln!(
        out,
        "El Torito images   :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz         LBA"
    )?;
    for b in &et.images {
        writeln!(
            out,
            "El Torito boot img : {:>3}  {:<4}  {}  {:>5}  0x{:04x}  0x{:02x}  {:>5}  {:>10}",
            b.number,
            b.platform,
            if b.bootable { 'y' } else { 'n' },
            b.emulation,
            b.load_segment,
            b.system_type,
            b.sector_count,
            b.lba
        )?;
    }
    for b in &et.images {
        if let Some(p) = &b.path {
            writeln!(out, "El Torito img path : {:>3}  {p}", b.number)?;
        }
        if !b.opts.is_empty() {
            writeln!(
                out,
                "El Torito img opts : {:>3}  {}",
                b.number,
                b.opts.join(" ")
            )?;
        }
    }
    Ok(())
}

/// System area lines in the wording of `xorriso -report_system_area plain`.
fn write_system_area(
    out: &mut dyn Write,
    sa: &isoforge::read::sysarea::SystemArea,
) -> std::io::Result<()> {
    if sa.summary.is_empty() {
        writeln!(
            out,
            "System area        : {}",
            if sa.all_zero {
                "all zero"
            } else {
                "no partition table recognised"
            }
        )?;
        return Ok(());
    }
    writeln!(out, "System area summary: {}", sa.summary.join(" "))?;
    writeln!(out, "ISO image size/512 : {}", sa.iso_image_size_512)?;
    writeln!(out, "Partition offset   : {}", sa.partition_offset)?;
    if let Some(m) = &sa.mbr {
        writeln!(out, "MBR heads per cyl  : {}", m.heads_per_cyl)?;
        writeln!(out, "MBR secs per head  : {}", m.secs_per_head)?;
        writeln!(
            out,
            "MBR partition table:   N Status  Type        Start       Blocks"
        )?;
        for p in &m.partitions {
            writeln!(
                out,
                "MBR partition      : {:>3}   0x{:02x}  0x{:02x}  {:>11}  {:>11}",
                p.number, p.status, p.ptype, p.start, p.blocks
            )?;
        }
    }
    if let Some(g) = &sa.gpt {
        writeln!(out, "GPT disk GUID      : {}", g.disk_guid_hex)?;
        writeln!(
            out,
            "GPT entry array    : {}  {}  {}",
            g.entries_lba,
            g.num_entries,
            if g.overlapping {
                "overlapping"
            } else {
                "separated"
            }
        )?;
        writeln!(
            out,
            "GPT lba range      : {}  {}  {}",
            g.first_usable_lba, g.last_usable_lba, g.backup_lba
        )?;
        if !g.header_crc_ok || g.entries_crc_ok == Some(false) {
            writeln!(
                out,
                "GPT CRC            : header {} entries {}",
                g.header_crc_ok,
                g.entries_crc_ok.map_or("unread".into(), |b| b.to_string())
            )?;
        }
        for p in &g.partitions {
            writeln!(out, "GPT partition name : {:>3}  {}", p.number, p.name)?;
            writeln!(
                out,
                "GPT partition GUID : {:>3}  {}",
                p.number, p.unique_guid_hex
            )?;
            writeln!(
                out,
                "GPT type GUID      : {:>3}  {}",
                p.number, p.type_guid_hex
            )?;
            writeln!(
                out,
                "GPT partition flags: {:>3}  0x{:016x}",
                p.number, p.attributes
            )?;
            writeln!(
                out,
                "GPT start and size : {:>3}  {}  {}",
                p.number, p.first_lba, p.blocks
            )?;
        }
    }
    if let Some(a) = &sa.apm {
        writeln!(out, "APM block size     : {}", a.block_size)?;
        for p in &a.partitions {
            writeln!(out, "APM partition name : {:>3}  {}", p.number, p.name)?;
            writeln!(out, "APM partition type : {:>3}  {}", p.number, p.ptype)?;
        }
    }
    Ok(())
}
