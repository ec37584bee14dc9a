//! `isoforge create`: an image from host directories and files.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use isoforge::write::{
    AppendedPartition, BootConfig, BootEmulation, BootImage, BootPlatform, BuildOptions, Builder,
    Plan, RrVersion,
};

use crate::args::Cli;
use crate::commands::Outcome;
use crate::progress::bytes_bar;

/// Options of `create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output image (`-` for standard output).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Host directories (their contents become the root), host files (they
    /// go to the root) or grafts ISO_PATH=HOST_PATH.
    #[arg(required = true)]
    pub sources: Vec<String>,
    /// Volume identifier.
    #[arg(short = 'V', long = "volume-id", default_value = "ISOIMAGE")]
    pub volume_id: String,
    /// Publisher identifier.
    #[arg(long, default_value = "")]
    pub publisher: String,
    /// Data preparer identifier.
    #[arg(long, default_value = "")]
    pub preparer: String,
    /// Application identifier.
    #[arg(long, default_value = "ISOFORGE")]
    pub application: String,
    /// System identifier.
    #[arg(long = "system-id", default_value = "LINUX")]
    pub system_id: String,
    /// Volume set identifier.
    #[arg(long = "volume-set-id", default_value = "")]
    pub volume_set_id: String,
    /// ISO level: 1 (8.3 names), 2 and 3 (31 characters; 3 allows files over 4 GiB), 4 (ISO 9660:1999).
    #[arg(long = "iso-level", default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub iso_level: u8,
    /// Do not write a Joliet tree.
    #[arg(long)]
    pub no_joliet: bool,
    /// Allow Joliet names of 103 characters (64 otherwise).
    #[arg(long)]
    pub joliet_long: bool,
    /// Do not write Rock Ridge.
    #[arg(long)]
    pub no_rock_ridge: bool,
    /// Rock Ridge flavour: 1.09 (RRIP_1991A, read everywhere) or 1.12 (IEEE_1282, with file serial numbers).
    #[arg(long = "rock-ridge-version", default_value = "1.09", value_parser = ["1.09", "1.12"])]
    pub rock_ridge_version: String,
    /// Same input, same bytes: fixed times (SOURCE_DATE_EPOCH, or the newest modification time of the sources).
    #[arg(long)]
    pub reproducible: bool,
    /// Store identical file contents once.
    #[arg(long)]
    pub dedup: bool,
    /// Fail instead of shortening or changing names that do not fit a name
    /// space; descriptor text must keep to the ECMA-119 character sets.
    #[arg(long)]
    pub strict_names: bool,
    /// BIOS El Torito boot image (path in the image), the default entry.
    #[arg(long, value_name = "ISO_PATH", help_heading = "Boot")]
    pub boot_bios: Option<String>,
    /// 512-byte sectors the BIOS loads from the boot image (default 4).
    #[arg(long, value_name = "N", help_heading = "Boot")]
    pub boot_load_size: Option<u16>,
    /// Patch a boot info table into the BIOS boot image (isolinux needs it).
    #[arg(long, help_heading = "Boot")]
    pub boot_info_table: bool,
    /// Patch GRUB2 boot info into the BIOS boot image (GRUB's eltorito.img).
    #[arg(long, help_heading = "Boot")]
    pub grub2_boot_info: bool,
    /// Emulation of the BIOS boot image.
    #[arg(long, default_value = "none", value_parser = ["none", "floppy", "hdd"], help_heading = "Boot")]
    pub boot_emulation: String,
    /// UEFI El Torito boot image: a FAT file system image in the tree (with
    /// --efi-dir: where the built image goes; default /efi.img).
    #[arg(long, value_name = "ISO_PATH", help_heading = "Boot")]
    pub boot_efi: Option<String>,
    /// Build the FAT EFI System Partition image from this host directory
    /// (e.g. one holding EFI/BOOT/BOOTX64.EFI) and boot UEFI from it.
    #[arg(long, value_name = "HOST_DIR", help_heading = "Boot")]
    pub efi_dir: Option<PathBuf>,
    /// Further boot entries: path=ISO_PATH, then any of
    /// platform=bios|efi|ppc|mac|0xNN, emulation=none|floppy|hdd,
    /// load-size=N, load-segment=N, boot-info-table, grub2-boot-info and
    /// no-boot, separated by commas.
    #[arg(long, value_name = "SPEC", help_heading = "Boot")]
    pub boot_entry: Vec<String>,
    /// Path of the boot catalog in the image.
    #[arg(
        long,
        value_name = "ISO_PATH",
        default_value = "/boot.catalog",
        help_heading = "Boot"
    )]
    pub boot_catalog: String,
    /// Keep the boot catalog out of the directory tree.
    #[arg(long, help_heading = "Boot")]
    pub hide_boot_catalog: bool,
    /// System area (first 32 KiB) from a file, e.g. isolinux's isohdpfx.bin or
    /// GRUB's boot_hybrid.img; patched to boot the BIOS boot image from USB.
    #[arg(long, value_name = "FILE", help_heading = "Hybrid")]
    pub system_area: Option<PathBuf>,
    /// An MBR partition table for the image (and the EFI image).
    #[arg(long, help_heading = "Hybrid")]
    pub hybrid_mbr: bool,
    /// A GPT, with an EFI System Partition for the UEFI boot image.
    #[arg(long, help_heading = "Hybrid")]
    pub gpt: bool,
    /// An Apple partition map with an HFS entry for each UEFI boot image (as
    /// xorriso's -isohybrid-apm-hfsplus), for Macs booting from USB.
    #[arg(long, help_heading = "Hybrid")]
    pub apm: bool,
    /// Start of the partition over the volume, in 2048-byte blocks (0, or 16
    /// and more); with a non-zero offset the partition holds a second set of
    /// volume descriptors and directories, so it reads as an image of its own.
    #[arg(long, value_name = "N", help_heading = "Hybrid")]
    pub partition_offset: Option<u32>,
    /// Append a host file after the image as MBR partition N of type TYPE
    /// (hex byte, e.g. 0xef); repeatable.
    #[arg(long, value_name = "N:TYPE:FILE", help_heading = "Hybrid")]
    pub append_partition: Vec<String>,
}

fn parse_u16(v: &str, what: &str) -> anyhow::Result<u16> {
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u16::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.with_context(|| format!("{what} {v:?} is not a number from 0 to 65535"))
}

fn parse_platform(v: &str) -> anyhow::Result<BootPlatform> {
    Ok(match v {
        "bios" | "x86" => BootPlatform::X86,
        "efi" | "uefi" => BootPlatform::Efi,
        "ppc" | "powerpc" => BootPlatform::PowerPc,
        "mac" => BootPlatform::Mac,
        _ => {
            let n = parse_u16(v, "platform")?;
            BootPlatform::from_u8(
                u8::try_from(n).with_context(|| format!("platform {v:?} is not a byte"))?,
            )
        }
    })
}

fn parse_emulation(v: &str) -> anyhow::Result<BootEmulation> {
    Ok(match v {
        "none" => BootEmulation::None,
        "floppy" => BootEmulation::Floppy,
        "hdd" => BootEmulation::HardDisk,
        _ => bail!("emulation {v:?} is not none, floppy or hdd"),
    })
}

/// Parses a `--boot-entry` specification.
fn parse_boot_entry(spec: &str) -> anyhow::Result<BootImage> {
    let mut img = BootImage::new("", BootPlatform::X86);
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "path" => img.path = v.to_string(),
            "platform" => img.platform = parse_platform(v)?,
            "emulation" => img.emulation = parse_emulation(v)?,
            "load-size" => img.load_size = Some(parse_u16(v, "load-size")?),
            "load-segment" => img.load_segment = parse_u16(v, "load-segment")?,
            "boot-info-table" => img.boot_info_table = true,
            "grub2-boot-info" => img.grub2_boot_info = true,
            "no-boot" => img.bootable = false,
            _ => bail!("--boot-entry {spec:?}: unknown key {k:?} (path, platform, emulation, load-size, load-segment, boot-info-table, grub2-boot-info, no-boot)"),
        }
    }
    if img.path.is_empty() {
        bail!("--boot-entry {spec:?} has no path=ISO_PATH");
    }
    Ok(img)
}

/// Parses `--append-partition N:TYPE:FILE`.
fn parse_append(spec: &str) -> anyhow::Result<AppendedPartition> {
    let mut it = spec.splitn(3, ':');
    let (Some(n), Some(t), Some(f)) = (it.next(), it.next(), it.next()) else {
        bail!("--append-partition {spec:?} is not N:TYPE:FILE (e.g. 2:0xef:efi.img)");
    };
    let n: u8 = n
        .parse()
        .ok()
        .filter(|n| (1..=4).contains(n))
        .with_context(|| {
            format!("--append-partition {spec:?}: the partition number must be 1-4")
        })?;
    let t = u8::try_from(parse_u16(t, "partition type")?)
        .with_context(|| format!("--append-partition {spec:?}: the type must be a byte"))?;
    Ok(AppendedPartition::new(n, t, PathBuf::from(f)))
}

/// The boot configuration the options ask for.
fn boot_config(a: &Args) -> anyhow::Result<BootConfig> {
    let mut cfg = BootConfig::default();
    if let Some(p) = &a.boot_bios {
        let mut img = BootImage::new(p, BootPlatform::X86);
        img.load_size = a.boot_load_size;
        img.boot_info_table = a.boot_info_table;
        img.grub2_boot_info = a.grub2_boot_info;
        img.emulation = parse_emulation(&a.boot_emulation)?;
        cfg.images.push(img);
    } else if a.boot_load_size.is_some()
        || a.boot_info_table
        || a.grub2_boot_info
        || a.boot_emulation != "none"
    {
        bail!("--boot-load-size, --boot-info-table, --grub2-boot-info and --boot-emulation apply to --boot-bios, which is missing");
    }
    if a.boot_efi.is_some() || a.efi_dir.is_some() {
        let p = a.boot_efi.as_deref().unwrap_or("/efi.img");
        cfg.images.push(BootImage::new(p, BootPlatform::Efi));
    }
    cfg.efi_dir = a.efi_dir.clone();
    for e in &a.boot_entry {
        cfg.images.push(parse_boot_entry(e)?);
    }
    cfg.catalog_path = a.boot_catalog.clone();
    cfg.catalog_hidden = a.hide_boot_catalog;
    if let Some(f) = &a.system_area {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        if bytes.len() > 32768 {
            bail!(
                "{} is {} bytes; a system area holds 32768 at most",
                f.display(),
                bytes.len()
            );
        }
        cfg.system_area = Some(bytes);
    }
    cfg.hybrid_mbr = a.hybrid_mbr;
    cfg.gpt = a.gpt;
    cfg.apm = a.apm;
    for s in &a.append_partition {
        cfg.appended.push(parse_append(s)?);
    }
    if let Some(off) = a.partition_offset {
        if (1..16).contains(&off) {
            bail!("--partition-offset {off}: use 0 (none) or 16 and more; the partition must start past the image's 16-block system area, which holds the MBR and GPT");
        }
        cfg.partition_offset = off;
    }
    Ok(cfg)
}

/// Fails, before any work, when `output` cannot be where an image is
/// written: a directory, or in a directory that does not exist.
pub fn check_output(output: &Path) -> anyhow::Result<()> {
    if output.as_os_str() == "-" {
        return Ok(());
    }
    if output.is_dir() {
        bail!(
            "{} is a directory; give the image's file name with -o",
            output.display()
        );
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "cannot write {}: {} is not a directory",
            output.display(),
            dir.display()
        ),
        Err(e) => bail!(
            "cannot write {}: the directory {} {}",
            output.display(),
            dir.display(),
            if e.kind() == std::io::ErrorKind::NotFound {
                "does not exist".to_string()
            } else {
                format!("cannot be used: {e}")
            }
        ),
    }
}

/// Where a SOURCE without `=` goes: a directory's contents to the root, a
/// file (or link, or other) to the root under its own name, as mkisofs does.
fn source_place(s: &str) -> String {
    let p = Path::new(s);
    match (std::fs::metadata(p), p.file_name()) {
        (Ok(m), Some(name)) if !m.is_dir() => format!("/{}", name.to_string_lossy()),
        _ => "/".to_string(),
    }
}

/// Runs `create`.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    check_output(&a.output)?;
    let mut opts = BuildOptions::default();
    opts.volume_id = a.volume_id.clone();
    opts.publisher = a.publisher.clone();
    opts.preparer = a.preparer.clone();
    opts.application = a.application.clone();
    opts.system_id = a.system_id.clone();
    opts.volume_set_id = a.volume_set_id.clone();
    opts.level = a.iso_level;
    opts.joliet = !a.no_joliet;
    opts.joliet_long = a.joliet_long;
    opts.rock_ridge = !a.no_rock_ridge;
    opts.rr_version = if a.rock_ridge_version == "1.12" {
        RrVersion::V112
    } else {
        RrVersion::V109
    };
    opts.dedup = a.dedup;
    opts.strict_names = a.strict_names;
    opts.boot = boot_config(a)?;
    // Descriptor text is checked before any source is read.
    opts.check_text().map_err(isoforge::Error::Field)?;
    opts.source_date_epoch = isoforge::write::source_date_epoch_from_env()?;
    opts.cancel = crate::signals::install()?;
    let mut b = Builder::new(opts.clone());
    for s in &a.sources {
        match s.split_once('=') {
            Some((iso, host)) if !iso.is_empty() => {
                b.add_host(iso, Path::new(host))
                    .with_context(|| format!("adding {host} at {iso}"))?;
            }
            _ => {
                b.add_host(&source_place(s), Path::new(s))
                    .with_context(|| format!("adding {s}"))?;
            }
        }
    }
    if a.reproducible {
        b.set_reproducible();
    }
    let plan = b.plan()?;
    write_image(cli, &plan, &a.output, out)?;
    Ok(Outcome::Ok)
}

/// Prints a plan's warnings and writes it to `output` (`-` for standard
/// output) through a temporary file renamed into place when complete.
pub fn write_image(
    cli: &Cli,
    plan: &Plan,
    output: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if !cli.quiet {
        for w in plan.warning_texts() {
            eprintln!("isoforge: warning: {w}");
        }
        if cli.verbose {
            for n in plan.notes() {
                eprintln!("isoforge: note: {n}");
            }
        }
    }
    let bar = bytes_bar(plan.image_len(), cli.quiet, "writing");
    if output.as_os_str() == "-" {
        let mut w = BufWriter::with_capacity(1 << 20, out);
        plan.write_to(&mut w, &|n| bar.inc(n))
            .map_err(|e| e.on_output(Path::new("standard output")))?;
        w.flush()
            .map_err(|e| isoforge::Error::from(e).on_output(Path::new("standard output")))?;
        bar.finish_and_clear();
        return Ok(());
    }
    let target = output;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    check_output(target)?;
    // Registered, so that a signal that stops the work removes it even if
    // the work cannot.
    let cancel = crate::signals::current();
    let (tmp, registered) = cancel
        .register(|| {
            let tmp = tempfile::Builder::new()
                .prefix(".isoforge-")
                .suffix(".tmp")
                .tempfile_in(&dir)?;
            let path = tmp.path().to_path_buf();
            Ok((tmp, isoforge::cancel::Temporary::File(path)))
        })
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let written = plan
        .write_to_file(tmp.as_file(), &|n| bar.inc(n))
        .and_then(|_| cancel.check());
    if let Err(e) = written {
        drop(tmp);
        cancel.forget(registered);
        return Err(match e.on_output(target) {
            e @ (isoforge::Error::NoSpace { .. } | isoforge::Error::Cancelled) => e.into(),
            e => anyhow::Error::new(e).context(format!("writing {}", target.display())),
        });
    }
    // Like cp and tar, the image is not forced to disk here: the rename
    // makes it appear complete or not at all to other programs, and a
    // flush of gigabytes would double the time of a copy-speed remaster.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    // On an error the temporary file goes when `tmp` is dropped; once the
    // image is in place nothing is left under the temporary name, so
    // nothing there may be removed later.
    let tmp = tmp.into_temp_path();
    isoforge::write::replace_file(&tmp, target)
        .with_context(|| format!("cannot rename the finished image to {}", target.display()))?;
    let _ = tmp.keep();
    cancel.forget(registered);
    bar.finish_and_clear();
    Ok(())
}
