//! What a parsed mkisofs command line means for the writer: the same
//! [`BuildOptions`] and [`Builder`] calls `isoforge create` makes, with
//! xorriso's defaults for what the line leaves out (ISO level 1, Rock Ridge
//! always, Joliet only with `-J`).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use isoforge::write::{
    AppendedPartition, BootConfig, BootEmulation, BootImage, BootPlatform, BuildOptions, Builder,
    Grub2Partition,
};
use isoforge::IsoTime;

use super::glob::glob_match;
use super::interval;
use super::parse::{graft, BootSpec, Spec};
use crate::args::{Cli, Color, Command};
use crate::commands::create::{check_output, write_image};

/// Settings given by xorriso's native commands before `-as mkisofs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Native {
    /// `-boot_image any gpt_disk_guid=HEX`.
    pub gpt_disk_guid: Option<[u8; 16]>,
    /// `-volume_date all_file_dates =EPOCH`: every file's times.
    pub all_file_dates: Option<i64>,
    /// `-volume_date uuid|m DATE`: the volume modification date.
    pub volume_modified: Option<IsoTime>,
    /// `-volume_date c DATE`: the volume creation date.
    pub volume_created: Option<IsoTime>,
}

/// Which program's defaults apply where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// xorriso's `-as mkisofs` and `xorrisofs`.
    Xorriso,
    /// genisoimage and mkisofs.
    Genisoimage,
}

/// A number as mkisofs reads one: decimal, or hexadecimal after `0x`.
pub fn number(v: &str, what: &str) -> anyhow::Result<u64> {
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.with_context(|| format!("{what}: {v:?} is not a number"))
}

fn small<T: TryFrom<u64>>(v: &str, what: &str) -> anyhow::Result<T> {
    let n = number(v, what)?;
    T::try_from(n).map_err(|_| anyhow::anyhow!("{what}: {v} is out of range"))
}

/// `YYYYMMDDhhmmsscc` (xorriso's `--modification-date`, `-volume_date`),
/// taken as UTC.
pub fn iso_date(v: &str, what: &str) -> anyhow::Result<IsoTime> {
    let digits = v.trim();
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{what}: {v:?} is not a date of 16 digits YYYYMMDDhhmmsscc");
    }
    let mut b = [0u8; 17];
    b[..16].copy_from_slice(digits.as_bytes());
    match IsoTime::from_dec_bytes(&b) {
        Ok(Some(t)) => Ok(t),
        _ => bail!("{what}: {v:?} is not a valid date"),
    }
}

/// A GUID as xorriso reads one: 32 hex digits (the bytes as recorded), or
/// the RFC 4122 text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, whose
/// first three fields are recorded little-endian.
pub fn guid_hex(v: &str, what: &str) -> anyhow::Result<[u8; 16]> {
    let text_form = v.len() == 36 && v.matches('-').count() == 4;
    let h: String = v.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    if h.len() != 32 {
        bail!("{what}: {v:?} is not a GUID (32 hexadecimal digits, or the 8-4-4-4-12 form)");
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = h
            .get(2 * i..2 * i + 2)
            .and_then(|x| u8::from_str_radix(x, 16).ok())
            .with_context(|| format!("{what}: {v:?} is not a GUID of hexadecimal digits"))?;
    }
    if text_form {
        out[..4].reverse();
        out[4..6].reverse();
        out[6..8].reverse();
    }
    Ok(out)
}

/// An MBR partition type: a byte, or the GPT type GUID of an EFI system
/// partition or of basic data (xorriso accepts both).
fn mbr_type(v: &str, what: &str) -> anyhow::Result<u8> {
    if v.len() >= 32 {
        // EFI system partition and basic data, in either GUID form.
        let g = guid_hex(v, what)?;
        if g == guid_hex("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", what)? {
            return Ok(0xef);
        }
        if g == guid_hex("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", what)? {
            return Ok(0x0c);
        }
        bail!("{what}: GPT type {v} is none isoforge knows (EFI system partition, basic data)");
    }
    small::<u8>(v, what)
}

fn platform(v: &str) -> anyhow::Result<BootPlatform> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "x86" | "bios" => BootPlatform::X86,
        "efi" | "uefi" => BootPlatform::Efi,
        "ppc" | "powerpc" => BootPlatform::PowerPc,
        "mac" => BootPlatform::Mac,
        _ => BootPlatform::from_u8(small(v, "-eltorito-platform")?),
    })
}

/// An absolute image path from a path mkisofs reads relative to the root.
fn in_image(p: &str) -> String {
    format!("/{}", p.trim_start_matches('/'))
}

fn boot_image(b: &BootSpec) -> anyhow::Result<BootImage> {
    let mut img;
    if let Some(rest) = b.path.strip_prefix("--interval:appended_partition_") {
        // `--interval:appended_partition_N:all::`: the whole partition.
        // The number, then (in xorriso's reports) `_start_Ns_size_Md`.
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: u8 = digits
            .parse()
            .ok()
            .filter(|n| (1..=4).contains(n))
            .with_context(|| format!("-e {}: the partition number must be 1-4", b.path))?;
        img = BootImage::new("", BootPlatform::Efi);
        img.in_partition = Some(n);
    } else if b.path.starts_with("--interval:") {
        bail!(
            "-e {}: of the --interval forms only appended_partition_N:all:: is supported",
            b.path
        );
    } else {
        let p = if b.efi {
            BootPlatform::Efi
        } else {
            BootPlatform::X86
        };
        img = BootImage::new(&in_image(&b.path), p);
    }
    if let Some(p) = &b.platform {
        img.platform = platform(p)?;
    }
    img.emulation = if b.hard_disk {
        BootEmulation::HardDisk
    } else if b.no_emul || b.efi {
        BootEmulation::None
    } else {
        BootEmulation::Floppy
    };
    if let Some(n) = &b.load_size {
        img.load_size = Some(small(n, "-boot-load-size")?);
    }
    if let Some(n) = &b.load_seg {
        img.load_segment = small(n, "-boot-load-seg")?;
    }
    img.boot_info_table = b.info_table;
    img.grub2_boot_info = b.grub2_info;
    Ok(img)
}

fn read_system_area(f: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = if interval::is_interval(f) {
        interval::read(f, "system area")?
    } else {
        // As xorriso: at most 32768 bytes of the file (an image can serve).
        let mut v = Vec::new();
        std::fs::File::open(f)
            .and_then(|h| h.take(32768).read_to_end(&mut v))
            .with_context(|| format!("cannot read {f}"))?;
        v
    };
    if bytes.len() > 32768 {
        bail!(
            "{f} is {} bytes; a system area holds 32768 at most",
            bytes.len()
        );
    }
    Ok(bytes)
}

/// The boot records and hybrid layout the line asks for.
fn boot_config(
    s: &Spec,
    native: &Native,
    temps: &mut Vec<tempfile::TempPath>,
) -> anyhow::Result<BootConfig> {
    let mut cfg = BootConfig::default();
    for b in &s.boot {
        cfg.images.push(boot_image(b)?);
    }
    if let Some(c) = s.last("-c") {
        cfg.catalog_path = in_image(c);
    }
    cfg.catalog_hidden = s.has("--boot-catalog-hide");
    for (name, v) in &s.opts {
        let first = v.first().map(String::as_str).unwrap_or_default();
        match name.as_str() {
            "-isohybrid-mbr" | "-G" => cfg.system_area = Some(read_system_area(first)?),
            "--grub2-mbr" => {
                cfg.system_area = Some(read_system_area(first)?);
                cfg.grub2_mbr = true;
            }
            "-isohybrid-gpt-basdat" | "-isohybrid-gpt-hfsplus" => cfg.gpt = true,
            "-isohybrid-apm-hfsplus" => cfg.apm = true,
            "-efi-boot-part" => {
                if first != "--efi-boot-image" {
                    bail!("-efi-boot-part {first}: only --efi-boot-image (the UEFI boot image as the partition) is supported");
                }
                cfg.gpt = true;
            }
            "--protective-msdos-label" => {
                cfg.grub2_partition = Grub2Partition::Protective;
                cfg.mbr_protective = true;
            }
            "-partition_offset" => {
                let off: u32 = small(first, "-partition_offset")?;
                if (1..16).contains(&off) {
                    bail!("-partition_offset {off}: use 0 or 16 and more; the partition must start past the 16-block system area");
                }
                cfg.partition_offset = off;
            }
            "-partition_cyl_align" if !["on", "off", "all", "auto"].contains(&first) => {
                bail!("-partition_cyl_align {first}: use on, off, all or auto");
            }
            "-partition_hd_cyl" | "-partition_sec_hd" => {
                small::<u8>(first, name)?;
            }
            "-apm-block-size" if !["2048", "512"].contains(&first) => {
                bail!("-apm-block-size {first}: use 512 or 2048");
            }
            "--mbr-force-bootable" => cfg.mbr_force_bootable = true,
            "-append_partition" => {
                let n: u8 = small(first, "-append_partition")?;
                if !(1..=4).contains(&n) {
                    bail!("-append_partition {n}: the partition number must be 1-4");
                }
                let t = mbr_type(&v[1], "-append_partition")?;
                let file = if interval::is_interval(&v[2]) {
                    // Taken from an image: through a temporary file that
                    // lives as long as the build.
                    let data = interval::read(&v[2], "-append_partition")?;
                    let mut tmp = tempfile::NamedTempFile::new()
                        .context("cannot make a temporary file for -append_partition")?;
                    std::io::Write::write_all(&mut tmp, &data)?;
                    let path = tmp.into_temp_path();
                    let p = path.to_path_buf();
                    temps.push(path);
                    p
                } else {
                    PathBuf::from(&v[2])
                };
                cfg.appended.push(AppendedPartition::new(n, t, file));
            }
            "-appended_part_as_gpt" => {
                cfg.gpt = true;
                cfg.mbr_protective = true;
            }
            "-appended_part_as_apm" => cfg.apm = true,
            "-iso_mbr_part_type" => cfg.mbr_iso_type = Some(mbr_type(first, name)?),
            _ => {}
        }
    }
    if cfg.grub2_mbr && !s.has("--protective-msdos-label") {
        cfg.mbr_protective = false;
    }
    cfg.gpt_disk_guid = native.gpt_disk_guid;
    Ok(cfg)
}

/// Builds [`BuildOptions`] from the line.
fn options(
    s: &Spec,
    native: &Native,
    flavour: Flavour,
    temps: &mut Vec<tempfile::TempPath>,
) -> anyhow::Result<BuildOptions> {
    let mut o = BuildOptions::default();
    o.volume_id = s
        .last("-V")
        .map(str::to_string)
        .unwrap_or_else(|| match flavour {
            Flavour::Xorriso => "ISOIMAGE".into(),
            Flavour::Genisoimage => "CDROM".into(),
        });
    o.application = s.last("-A").unwrap_or_default().to_string();
    o.preparer = s.last("-p").unwrap_or_default().to_string();
    o.publisher = s.last("-publisher").unwrap_or_default().to_string();
    o.system_id = s.last("-sysid").unwrap_or("LINUX").to_string();
    o.volume_set_id = s.last("-volset").unwrap_or_default().to_string();
    o.file_ids = [
        s.last("-copyright").unwrap_or_default().to_string(),
        s.last("-abstract").unwrap_or_default().to_string(),
        s.last("-biblio").unwrap_or_default().to_string(),
    ];
    o.level = match s.last("-iso-level") {
        Some(l) => {
            let l: u8 = small(l, "-iso-level")?;
            if !(1..=4).contains(&l) {
                bail!("-iso-level {l}: use 1, 2, 3 or 4");
            }
            l
        }
        None => 1,
    };
    // -l: 31-character names; ISO level 2 has them and keeps level 1's
    // one-extent files.
    if o.level == 1 && s.has("-l") {
        o.level = 2;
    }
    o.rock_ridge = !s.has("--norock") || s.has("-R") || s.has("-r");
    o.joliet = s.has("-J") || s.has("-joliet-long");
    o.joliet_long = s.has("-joliet-long");
    // xorriso keeps deep directories where they are (its -D is the
    // default); genisoimage relocates them unless told -D.
    o.relocate_deep = flavour == Flavour::Genisoimage && !s.has("-D");
    o.follow_links = s.has("-f");
    o.volume_modified = native.volume_modified;
    if let Some(d) = s.last("--modification-date") {
        o.volume_modified = Some(iso_date(d, "--modification-date")?);
    }
    if let Some(c) = native.volume_created {
        o.recorded_volume_dates = Some([Some(c), None, Some(c)]);
    }
    for cs in ["-input-charset", "-output-charset"] {
        if let Some(c) = s.last(cs) {
            let c = c.to_ascii_lowercase().replace(['-', '_'], "");
            if c != "utf8" && c != "default" {
                bail!("{cs} {c}: isoforge reads host names as UTF-8 only");
            }
        }
    }
    o.boot = boot_config(s, native, temps)?;
    o.check_text().map_err(isoforge::Error::Field)?;
    o.source_date_epoch = isoforge::write::source_date_epoch_from_env()?;
    if let Some(t) = native.all_file_dates {
        o.source_date_epoch = Some(t);
    }
    Ok(o)
}

/// Names the relaxations of ISO 9660 names that isoforge does not make:
/// those names stay strict (Rock Ridge and Joliet carry the real names).
fn relaxation_notes(s: &Spec) -> Vec<String> {
    [
        "-U",
        "-N",
        "-relaxed-filenames",
        "-allow-lowercase",
        "-allow-multidot",
        "-allow-leading-dots",
    ]
    .iter()
    .filter(|f| s.has(f))
    .map(|f| format!("{f}: ISO 9660 names are kept within the standard's character set and form (Rock Ridge and Joliet hold the real names)"))
    .collect()
}

/// The warning for `-hfsplus`: isoforge writes no HFS+ file system, so
/// Macs that boot only from one (through the Apple partition map) do not
/// boot the image; PCs and UEFI machines are unaffected. The option is
/// accepted because grub-mkrescue passes it for every UEFI image.
fn hfsplus_note(s: &Spec) -> Option<String> {
    s.has("-hfsplus").then(|| {
        "-hfsplus: no HFS+ file system is written (the image boots PCs, BIOS and UEFI, but not Macs that need HFS+); -hfsplus-file-creator-type and -hfs-bless-by are ignored with it".to_string()
    })
}

/// Adds one path spec to the tree.
fn add_spec(
    b: &mut Builder,
    spec: &str,
    grafts: bool,
    flavour: Flavour,
    roots: &mut Vec<(String, PathBuf)>,
) -> anyhow::Result<()> {
    let (iso, host) = if grafts {
        graft(spec)
    } else {
        (None, spec.to_string())
    };
    let host_path = Path::new(&host);
    let meta =
        std::fs::symlink_metadata(host_path).with_context(|| format!("cannot read {host}"))?;
    let name = host_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = match iso {
        Some(i) if meta.is_dir() => in_image(&i),
        // genisoimage puts a file grafted at `dir/` in `dir` under its own
        // name; xorriso makes `dir` the file.
        Some(i) if i.ends_with('/') && flavour == Flavour::Genisoimage => {
            format!("{}{name}", in_image(&i))
        }
        Some(i) => in_image(&i),
        None if meta.is_dir() => "/".to_string(),
        None => format!("/{name}"),
    };
    b.add_host(&target, host_path)
        .with_context(|| format!("adding {host} at {target}"))?;
    roots.push((target, host_path.to_path_buf()));
    Ok(())
}

/// The host path of an image path, through the graft it came from.
fn host_of(path: &str, roots: &[(String, PathBuf)]) -> Option<PathBuf> {
    roots.iter().rev().find_map(|(iso, host)| {
        let rest = if iso == "/" {
            Some(path.trim_start_matches('/'))
        } else {
            path.strip_prefix(iso.as_str())
                .filter(|r| r.is_empty() || r.starts_with('/'))
                .map(|r| r.trim_start_matches('/'))
        }?;
        Some(if rest.is_empty() {
            host.clone()
        } else {
            host.join(rest)
        })
    })
}

/// Removes what `-m` / `-exclude` / `-x` globs match: by name, or (a glob
/// with a `/`) by host path.
fn exclude(b: &mut Builder, globs: &[String], roots: &[(String, PathBuf)]) -> anyhow::Result<()> {
    if globs.is_empty() {
        return Ok(());
    }
    for path in b.listed_paths().into_iter().skip(1) {
        let name = path.rsplit('/').next().unwrap_or_default();
        let host = host_of(&path, roots);
        let hit = globs.iter().any(|g| {
            glob_match(g, name)
                || host.as_ref().is_some_and(|h| {
                    g.contains('/') && glob_match(g.trim_end_matches('/'), &h.to_string_lossy())
                })
        });
        if hit && b.lookup_path(&path) {
            b.remove(&path)?;
        }
    }
    Ok(())
}

/// `-r`: owners 0, read for all, execute for all where any had it, no
/// write permission, as xorriso's `-r` sets them.
fn rational(perm: u32, dir: bool) -> u32 {
    let x = if dir || perm & 0o111 != 0 { 0o111 } else { 0 };
    (perm & 0o7000 & !0o6000) | 0o444 | x
}

/// Runs a parsed line: builds and writes the image.
pub fn run(s: &Spec, native: &Native, flavour: Flavour, quiet: bool) -> anyhow::Result<()> {
    let verbose = s.has("-v");
    let quiet = quiet || s.has("-quiet");
    let print_size = s.has("-print-size");
    let output = match s.last("-o") {
        Some(o) => PathBuf::from(o),
        None if print_size => PathBuf::from("-"),
        None if std::io::stdout().is_terminal() => {
            bail!("no output file: give it with -o (or redirect standard output)")
        }
        None => PathBuf::from("-"),
    };
    if !print_size {
        check_output(&output)?;
    }
    if s.paths.is_empty() {
        bail!("no path spec: name the directories or files that go into the image");
    }
    // Temporary files the image reads from; removed when the build is done.
    let mut temps = Vec::new();
    let mut opts = options(s, native, flavour, &mut temps)?;
    opts.cancel = crate::signals::install()?;
    let mut b = Builder::new(opts);
    let grafts = s.has("-graft-points");
    let mut roots = Vec::new();
    for p in &s.paths {
        add_spec(&mut b, p, grafts, flavour, &mut roots)?;
    }
    let globs: Vec<String> = s.all("-m").filter_map(|v| v.first().cloned()).collect();
    exclude(&mut b, &globs, &roots)?;
    if s.has("-r") {
        b.map_meta(|dir, m| {
            m.uid = 0;
            m.gid = 0;
            m.perm = rational(m.perm, dir);
        });
    }
    if let Some(t) = native.all_file_dates {
        let t = isoforge::write::Time { secs: t, nanos: 0 };
        b.map_meta(|_, m| {
            m.mtime = t;
            m.atime = t;
            m.ctime = t;
        });
    }
    if s.has("--reproducible") {
        b.set_reproducible();
    }
    if let Some(w) = hfsplus_note(s) {
        eprintln!("isoforge: warning: {w}");
    }
    if !quiet {
        for n in relaxation_notes(s) {
            eprintln!("isoforge: note: {n}");
        }
    }
    let plan = b.plan()?;
    if print_size {
        println!("{}", plan.image_len().div_ceil(2048));
        return Ok(());
    }
    let cli = Cli {
        quiet,
        verbose,
        color: Color::Auto,
        version: None,
        command: Command::Version,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_image(&cli, &plan, &output, &mut out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rational_modes_are_xorrisos() {
        assert_eq!(rational(0o755, true), 0o555);
        assert_eq!(rational(0o644, false), 0o444);
        assert_eq!(rational(0o700, false), 0o555);
        assert_eq!(rational(0o1777, true), 0o1555);
    }

    #[test]
    fn dates_and_guids() {
        let t = iso_date("2024010203040500", "d").unwrap();
        assert_eq!(t.unix, 1704164645);
        assert!(iso_date("20240102", "d").is_err());
        assert_eq!(
            guid_hex("00112233445566778899aabbccddeeff", "g").unwrap()[15],
            0xff
        );
        assert!(guid_hex("0011", "g").is_err());
        assert_eq!(
            mbr_type("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "t").unwrap(),
            0xef
        );
        assert_eq!(mbr_type("0x83", "t").unwrap(), 0x83);
        // The same GUID as recorded and in its text form.
        assert_eq!(
            mbr_type("28732ac11ff8d211ba4b00a0c93ec93b", "t").unwrap(),
            0xef
        );
        assert_eq!(
            guid_hex("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "g").unwrap(),
            guid_hex("28732ac11ff8d211ba4b00a0c93ec93b", "g").unwrap()
        );
    }

    #[test]
    fn hosts_of_grafted_paths() {
        let roots = vec![
            ("/".to_string(), PathBuf::from("/src")),
            ("/boot".to_string(), PathBuf::from("/b")),
        ];
        assert_eq!(host_of("/x/y", &roots), Some(PathBuf::from("/src/x/y")));
        assert_eq!(host_of("/boot/g", &roots), Some(PathBuf::from("/b/g")));
        assert_eq!(host_of("/bootx", &roots), Some(PathBuf::from("/src/bootx")));
    }
}
