//! The boot and hybrid options of `isoforge create`: the images boot in QEMU
//! (SeaBIOS and OVMF, each from a CD drive and from a disk), and xorriso,
//! fdisk, sfdisk, sgdisk, fsck.fat and mtools see in them what they see in
//! xorriso's images of the same tree with the same layout.
//!
//! Every image is built once per test process and shared by the tests.
//! xorriso's images go through the same checks as ours, so a failure that
//! shows on both points at the checks, not at isoforge.
#![allow(clippy::unwrap_used)]

#[path = "common/boot_tree.rs"]
mod boot_tree;
mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use boot_tree::*;
use common::*;
use qemu::{backup_gpt_offset, catalog_offset, Firmware, Media};
use serde_json::Value;

/// SOURCE_DATE_EPOCH of every isoforge build.
const EPOCH: &str = "1700000000";

// ---------------------------------------------------------------------------
// Source trees

/// The host trees the images are built from.
struct Trees {
    /// Holds every file this test process makes.
    work: PathBuf,
    /// ISOLINUX and ordinary files.
    src: PathBuf,
    /// The EFI system partition's contents (GRUB as EFI/BOOT/BOOTX64.EFI).
    esp: PathBuf,
    /// `src` plus `/efi.img`, a FAT image of `esp` made by mkfs.vfat and
    /// mcopy: what xorriso is given, and isoforge too when both images must
    /// hold the same EFI image.
    src_efi: PathBuf,
}

/// A directory for this process under Cargo's temporary directory; those
/// left by processes that are gone are removed.
fn work_dir() -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let prefix = "boot_create-";
    if let Ok(entries) = fs::read_dir(base) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(prefix) {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    }
    let dir = base.join(format!("{prefix}{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies `from` to `to` (which must not exist), creating the entries of
/// each directory in name order or in reverse, with modes and times kept.
fn copy_tree(from: &Path, to: &Path, reverse: bool) {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir(to).unwrap();
    let mut entries: Vec<_> = fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    if reverse {
        entries.reverse();
    }
    for e in entries {
        let dst = to.join(e.file_name().unwrap());
        if e.is_dir() {
            copy_tree(&e, &dst, reverse);
        } else {
            fs::copy(&e, &dst).unwrap();
        }
    }
    let mode = fs::metadata(from).unwrap().permissions().mode();
    fs::set_permissions(to, fs::Permissions::from_mode(mode)).unwrap();
}

/// ISOLINUX, configured to print [`BIOS_MARKER`] and then wait at its
/// prompt, plus ordinary files.
fn make_src(root: &Path) {
    let mut files = isolinux_files();
    files.extend([
        ("README.TXT", b"isoforge boot test\n".to_vec()),
        ("docs/data.bin", bytes(7, 100_000)),
        ("docs/deep/er/leaf.txt", b"leaf\n".to_vec()),
    ]);
    write_tree(root, &files);
}

fn trees() -> Option<&'static Trees> {
    static TREES: OnceLock<Option<Trees>> = OnceLock::new();
    let t = TREES
        .get_or_init(|| {
            if !have_boot_tools() {
                return None;
            }
            let work = work_dir();
            let src = work.join("src");
            let esp = work.join("esp");
            let src_efi = work.join("src-efi");
            make_src(&src);
            make_esp(&esp, &work);
            copy_tree(&src, &src_efi, false);
            make_fat(&esp, &src_efi.join("efi.img"));
            fix_times(&src_efi);
            Some(Trees {
                work,
                src,
                esp,
                src_efi,
            })
        })
        .as_ref();
    if t.is_none() {
        eprintln!("skipping: the boot trees cannot be made (see the first message)");
    }
    t
}

// ---------------------------------------------------------------------------
// Images

/// The layouts compared with xorriso.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// isohdpfx.bin, BIOS and UEFI El Torito entries, GPT (xorriso's
    /// `-isohybrid-gpt-basdat`), as Debian's installer images.
    HybridGpt,
    /// isohdpfx.bin and a BIOS entry only.
    IsohybridMbr,
    /// A UEFI entry whose image is also a GPT partition, behind a
    /// protective MBR.
    GptEfi,
}

const LAYOUTS: [Layout; 3] = [Layout::HybridGpt, Layout::IsohybridMbr, Layout::GptEfi];

impl Layout {
    fn xorriso_args(self) -> &'static [&'static str] {
        match self {
            Layout::HybridGpt => &[
                "-isohybrid-mbr",
                ISOHDPFX,
                "-b",
                "isolinux/isolinux.bin",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
                "-eltorito-alt-boot",
                "-e",
                "efi.img",
                "-no-emul-boot",
                "-isohybrid-gpt-basdat",
            ],
            Layout::IsohybridMbr => &[
                "-isohybrid-mbr",
                ISOHDPFX,
                "-b",
                "isolinux/isolinux.bin",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
            ],
            Layout::GptEfi => &[
                "-e",
                "efi.img",
                "-no-emul-boot",
                "-efi-boot-part",
                "--efi-boot-image",
            ],
        }
    }

    /// isoforge's options for the same layout, with the EFI image taken
    /// from the tree (`/efi.img`) as xorriso does.
    fn isoforge_args(self) -> &'static [&'static str] {
        match self {
            Layout::HybridGpt => &[
                "--boot-bios",
                "/isolinux/isolinux.bin",
                "--boot-load-size",
                "4",
                "--boot-info-table",
                "--boot-efi",
                "/efi.img",
                "--system-area",
                ISOHDPFX,
                "--gpt",
            ],
            Layout::IsohybridMbr => &[
                "--boot-bios",
                "/isolinux/isolinux.bin",
                "--boot-load-size",
                "4",
                "--boot-info-table",
                "--system-area",
                ISOHDPFX,
            ],
            Layout::GptEfi => &["--boot-efi", "/efi.img", "--gpt"],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Layout::HybridGpt => "hybrid-gpt",
            Layout::IsohybridMbr => "isohybrid-mbr",
            Layout::GptEfi => "gpt-efi",
        }
    }
}

fn xorriso_build(src: &Path, args: &[&str], out: &Path) {
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J"])
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(src));
}

fn isoforge_build(src: &Path, args: &[&str], out: &Path) {
    run(Command::new(bin())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["create", "-q", "--reproducible", "-o"])
        .arg(out)
        .args(args)
        .arg(src));
}

/// One image per slot, built on first use.
fn cached(cell: &'static OnceLock<PathBuf>, build: impl FnOnce() -> PathBuf) -> PathBuf {
    cell.get_or_init(build).clone()
}

fn xorriso_image(t: &Trees, layout: Layout) -> PathBuf {
    static CELLS: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    cached(&CELLS[layout as usize], || {
        let out = t.work.join(format!("xorriso-{}.iso", layout.name()));
        xorriso_build(&t.src_efi, layout.xorriso_args(), &out);
        out
    })
}

fn isoforge_image(t: &Trees, layout: Layout) -> PathBuf {
    static CELLS: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    cached(&CELLS[layout as usize], || {
        let out = t.work.join(format!("isoforge-{}.iso", layout.name()));
        isoforge_build(&t.src_efi, layout.isoforge_args(), &out);
        out
    })
}

/// isoforge's options for the full hybrid image: BIOS and UEFI entries,
/// the EFI system partition built from a host directory, isohdpfx.bin and
/// a GPT.
fn hybrid_args(esp: &Path) -> Vec<String> {
    [
        "--boot-bios",
        "/isolinux/isolinux.bin",
        "--boot-info-table",
        "--boot-load-size",
        "4",
        "--efi-dir",
        esp.to_str().unwrap(),
        "--system-area",
        ISOHDPFX,
        "--gpt",
    ]
    .map(String::from)
    .to_vec()
}

/// The full hybrid image made by isoforge from `src` and `esp`.
fn hybrid_image(t: &Trees) -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    cached(&CELL, || {
        let out = t.work.join("isoforge-hybrid.iso");
        let args = hybrid_args(&t.esp);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        isoforge_build(&t.src, &args, &out);
        out
    })
}

// ---------------------------------------------------------------------------
// Reading images

fn info_json(img: &Path) -> Value {
    serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout).unwrap()
}

// ---------------------------------------------------------------------------
// Booting

/// The full hybrid image when QEMU and the firmware are there.
fn bootable(fw: Firmware) -> Option<(&'static Trees, PathBuf)> {
    let t = trees()?;
    if !qemu::have_qemu(fw) {
        return None;
    }
    Some((t, hybrid_image(t)))
}

fn marker(fw: Firmware) -> &'static str {
    match fw {
        Firmware::SeaBios => BIOS_MARKER,
        Firmware::Ovmf => EFI_MARKER,
    }
}

fn does_not_boot(img: &Path, fw: Firmware, media: Media) {
    qemu::boot(img, fw, media, marker(fw), qemu::no_boot_timeout(fw)).assert_not_booted();
}

/// A copy of `img` whose boot catalog is zeroed.
fn without_catalog(t: &Trees, img: &Path, name: &str) -> PathBuf {
    qemu::broken_copy(img, &t.work, name, &[(catalog_offset(img), 2048)])
}

/// The console line that shows which device the firmware booted.
fn device_line(fw: Firmware, media: Media) -> &'static str {
    match (fw, media) {
        (Firmware::SeaBios, Media::Cdrom) => "Booting from DVD/CD",
        (Firmware::SeaBios, _) => "Booting from Hard Disk",
        (Firmware::Ovmf, Media::Cdrom) => "UEFI QEMU DVD-ROM",
        (Firmware::Ovmf, Media::IdeDisk) => "UEFI QEMU HARDDISK",
        (Firmware::Ovmf, Media::UsbDisk) => "UEFI QEMU QEMU USB HARDDRIVE",
    }
}

fn boots_from(img: &Path, fw: Firmware, media: Media) {
    qemu::boot(img, fw, media, marker(fw), qemu::boot_timeout(fw))
        .assert_booted()
        .assert_console_shows(device_line(fw, media));
}

#[test]
fn seabios_boots_hybrid_image() {
    let Some((_, img)) = bootable(Firmware::SeaBios) else {
        return;
    };
    boots_from(&img, Firmware::SeaBios, Media::Cdrom);
    // SeaBIOS reads no El Torito catalog from a hard disk: this is the MBR
    // boot code (isohdpfx.bin) loading isolinux.bin from the address
    // isoforge patched into it.
    boots_from(&img, Firmware::SeaBios, Media::IdeDisk);
    boots_from(&img, Firmware::SeaBios, Media::UsbDisk);
}

#[test]
fn ovmf_boots_hybrid_image() {
    let Some((t, img)) = bootable(Firmware::Ovmf) else {
        return;
    };
    boots_from(&img, Firmware::Ovmf, Media::Cdrom);
    boots_from(&img, Firmware::Ovmf, Media::IdeDisk);
    // OVMF also finds an El Torito catalog on a hard disk. Without one it
    // must find the EFI system partition through the partition table.
    let no_catalog = without_catalog(t, &img, "hybrid-no-catalog.iso");
    boots_from(&no_catalog, Firmware::Ovmf, Media::IdeDisk);
}

#[test]
fn ovmf_boots_gpt_efi_image_from_disk_through_the_gpt() {
    let Some(t) = trees() else { return };
    if !qemu::have_qemu(Firmware::Ovmf) {
        return;
    }
    // Behind a protective MBR, only the GPT leads to the EFI partition once
    // the catalog is gone.
    let img = isoforge_image(t, Layout::GptEfi);
    let no_catalog = without_catalog(t, &img, "gpt-efi-no-catalog.iso");
    boots_from(&no_catalog, Firmware::Ovmf, Media::IdeDisk);
}

#[test]
fn seabios_does_not_boot_broken_copies() {
    let Some((t, img)) = bootable(Firmware::SeaBios) else {
        return;
    };
    let no_catalog = without_catalog(t, &img, "bios-no-catalog.iso");
    does_not_boot(&no_catalog, Firmware::SeaBios, Media::Cdrom);
    // The MBR boot code, up to the disk signature.
    let no_code = qemu::broken_copy(&img, &t.work, "bios-no-mbr-code.iso", &[(0, 440)]);
    does_not_boot(&no_code, Firmware::SeaBios, Media::IdeDisk);
    // ISOLINUX checks the boot info table that isoforge patched in.
    let bad_table = qemu::with_wrong_boot_info_table(&img, &t.work, "bios-bad-boot-info.iso");
    does_not_boot(&bad_table, Firmware::SeaBios, Media::Cdrom);
}

#[test]
fn ovmf_does_not_boot_broken_copies() {
    let Some((t, img)) = bootable(Firmware::Ovmf) else {
        return;
    };
    let no_catalog = without_catalog(t, &img, "efi-no-catalog.iso");
    does_not_boot(&no_catalog, Firmware::Ovmf, Media::Cdrom);
    // The BIOS entry alone does not lead OVMF anywhere.
    let no_efi_entry = qemu::without_efi_entries(&img, &t.work, "efi-no-efi-entry.iso");
    does_not_boot(&no_efi_entry, Firmware::Ovmf, Media::Cdrom);
    // No catalog, no MBR partition entries, no GPT headers.
    let no_tables = qemu::broken_copy(
        &no_catalog,
        &t.work,
        "efi-no-tables.iso",
        &[(446, 64), (512, 512), (backup_gpt_offset(&img), 512)],
    );
    does_not_boot(&no_tables, Firmware::Ovmf, Media::IdeDisk);
}

/// The same boots of xorriso's image of the tree: if these fail, the
/// harness (QEMU, firmware, marker configurations) is at fault.
#[test]
fn xorriso_hybrid_image_boots_everywhere() {
    let Some(t) = trees() else { return };
    if !qemu::have_qemu(Firmware::SeaBios) || !qemu::have_qemu(Firmware::Ovmf) {
        return;
    }
    let img = xorriso_image(t, Layout::HybridGpt);
    for fw in [Firmware::SeaBios, Firmware::Ovmf] {
        for media in [Media::Cdrom, Media::IdeDisk] {
            boots_from(&img, fw, media);
        }
    }
}

// ---------------------------------------------------------------------------
// xorriso's reports

/// `xorriso -report_el_torito plain -report_system_area plain`, one
/// (key, fields) pair a line.
fn xorriso_report(img: &Path) -> Vec<(String, Vec<String>)> {
    let out = run(Command::new("xorriso").arg("-indev").arg(img).args([
        "-report_el_torito",
        "plain",
        "-report_system_area",
        "plain",
    ]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((
                k.trim().to_string(),
                v.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect()
}

fn num(s: &str) -> u64 {
    s.strip_prefix("0x").map_or_else(
        || s.parse().unwrap(),
        |h| u64::from_str_radix(h, 16).unwrap(),
    )
}

/// xorriso's report with what depends on where the writer placed things
/// made symbolic, one line a field set.
///
/// Two writers that make the same layout from the same tree place files,
/// directories and the catalog at different blocks, and their images
/// differ in size; and GPT GUIDs are random (xorriso) or derived from the
/// contents (isoforge). So:
/// - the catalog and boot image LBAs become `#`;
/// - `ISO image size/512` becomes `#`;
/// - MBR partition start and block count, GPT entry array LBA, GPT usable
///   range and backup LBA, and GPT partition start and size become the
///   name of the value they equal: `0`; `size` (the image size in 512-byte
///   blocks) or `size-1`; `imgN` (where boot image N starts, in 512-byte
///   blocks), `imgN_end` (where it ends) or `lenN` (its load size, which
///   for an EFI image is its size); `#` for any other value. So "the first
///   MBR partition covers the whole image" or "the EFI partition is the
///   EFI boot image" must hold in both images;
/// - GUIDs become `guidN`, numbered by first appearance, so which GUIDs are
///   equal and which differ is still compared.
///
/// Everything else is compared as xorriso prints it: entry counts,
/// platforms, bootable flags, emulation, load segments and sizes, paths,
/// image options (boot-info-table, isohybrid-suitable), system area
/// options and summary, partition offset, geometry, MBR status and types,
/// GPT entry count, names, type GUIDs and flags.
fn normalised_report(img: &Path) -> Vec<String> {
    let report = xorriso_report(img);
    let mut names: Vec<(u64, String)> = Vec::new();
    for (k, f) in &report {
        if k == "El Torito boot img" {
            let (n, ldsiz, lba) = (&f[0], num(&f[6]), num(&f[7]));
            names.push((lba * 4, format!("img{n}")));
            names.push((lba * 4 + ldsiz, format!("img{n}_end")));
            names.push((ldsiz, format!("len{n}")));
        }
        if k == "ISO image size/512" {
            let size = num(&f[0]);
            names.push((size, "size".into()));
            names.push((size.saturating_sub(1), "size-1".into()));
        }
    }
    let symbolic = |v: &str| -> String {
        let v = num(v);
        if v == 0 {
            return "0".into();
        }
        names
            .iter()
            .find(|(n, _)| *n == v)
            .map_or_else(|| "#".into(), |(_, name)| name.clone())
    };
    let mut guids: Vec<String> = Vec::new();
    let mut guid = |g: &str| -> String {
        let i = guids.iter().position(|x| x == g).unwrap_or_else(|| {
            guids.push(g.to_string());
            guids.len() - 1
        });
        format!("guid{}", i + 1)
    };
    report
        .into_iter()
        .map(|(k, mut f)| {
            match k.as_str() {
                "El Torito catalog" | "ISO image size/512" => f[0] = "#".into(),
                "El Torito boot img" => f[7] = "#".into(),
                "MBR partition" => {
                    f[3] = symbolic(&f[3]);
                    f[4] = symbolic(&f[4]);
                }
                "GPT entry array" => f[0] = symbolic(&f[0]),
                "GPT lba range" => {
                    for v in &mut f {
                        *v = symbolic(v);
                    }
                }
                "GPT start and size" => {
                    f[1] = symbolic(&f[1]);
                    f[2] = symbolic(&f[2]);
                }
                "GPT disk GUID" => f[0] = guid(&f[0]),
                "GPT partition GUID" => f[1] = guid(&f[1]),
                _ => {}
            }
            format!("{k}: {}", f.join(" "))
        })
        .collect()
}

/// Panics, showing both lists and where they part, unless equal.
fn assert_same_lines(what: &str, expected: &[String], actual: &[String]) {
    if expected == actual {
        return;
    }
    let first = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    panic!(
        "{what}: differ from line {}\n--- xorriso's image ---\n{}\n--- isoforge's image ---\n{}",
        first + 1,
        expected.join("\n"),
        actual.join("\n")
    );
}

fn reports_match(layout: Layout) {
    let Some(t) = trees() else { return };
    let theirs = normalised_report(&xorriso_image(t, layout));
    let ours = normalised_report(&isoforge_image(t, layout));
    assert_same_lines(
        &format!("xorriso reports of the {} images", layout.name()),
        &theirs,
        &ours,
    );
}

#[test]
fn xorriso_reports_match_for_hybrid_gpt_layout() {
    reports_match(Layout::HybridGpt);
}

#[test]
fn xorriso_reports_match_for_isohybrid_mbr_layout() {
    reports_match(Layout::IsohybridMbr);
}

#[test]
fn xorriso_reports_match_for_gpt_efi_layout() {
    reports_match(Layout::GptEfi);
}

/// The full hybrid image, made with `--efi-dir`, reports as the layout
/// with the EFI image from the tree does, but for the EFI image's size.
#[test]
fn xorriso_report_of_hybrid_image_with_built_esp() {
    let Some(t) = trees() else { return };
    let drop_len = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| l.replace("len2", "#"))
            .map(|l| {
                if l.starts_with("El Torito boot img: 2 ") {
                    let mut f: Vec<&str> = l.split(' ').collect();
                    let n = f.len();
                    f[n - 2] = "#";
                    f.join(" ")
                } else {
                    l
                }
            })
            .collect()
    };
    let theirs = drop_len(normalised_report(&xorriso_image(t, Layout::HybridGpt)));
    let ours = drop_len(normalised_report(&hybrid_image(t)));
    assert_same_lines("xorriso reports (EFI image size aside)", &theirs, &ours);
}

// ---------------------------------------------------------------------------
// Partitioning tools

/// One partition as sfdisk dumps it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct SfdiskPart {
    start: u64,
    size: u64,
    ptype: String,
    bootable: bool,
    name: Option<String>,
}

/// `sfdisk --dump`: the label type and the partitions.
fn sfdisk_dump(img: &Path) -> (String, Vec<SfdiskPart>) {
    let out = run(tool("sfdisk").arg("--dump").arg(img));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut label = String::new();
    let mut parts = Vec::new();
    for line in text.lines() {
        if let Some(l) = line.strip_prefix("label: ") {
            label = l.to_string();
        }
        let Some((_, fields)) = line.split_once(" : ") else {
            continue;
        };
        let mut p = SfdiskPart::default();
        for f in fields.split(", ") {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            match k.trim() {
                "start" => p.start = v.trim().parse().unwrap(),
                "size" => p.size = v.trim().parse().unwrap(),
                "type" => p.ptype = v.to_string(),
                "bootable" => p.bootable = true,
                "name" => p.name = Some(v.trim_matches('"').to_string()),
                _ => {}
            }
        }
        parts.push(p);
    }
    (label, parts)
}

/// One row of `fdisk -l`'s partition table.
#[derive(Debug)]
struct FdiskRow {
    boot: bool,
    start: u64,
    sectors: u64,
    /// The type's name (after the Id column of an MBR).
    ptype: String,
}

/// `fdisk -l`: the label type and the partition rows.
fn fdisk_list(img: &Path) -> (String, Vec<FdiskRow>) {
    let out = run(tool("fdisk").arg("-l").arg(img));
    let text = String::from_utf8(out.stdout).unwrap();
    let dev = img.to_str().unwrap();
    let mut label = String::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(l) = line.strip_prefix("Disklabel type: ") {
            label = l.to_string();
        }
        let Some(rest) = line.strip_prefix(dev) else {
            continue;
        };
        // Device number, [boot flag,] start, end, sectors, size, [Id,] type.
        let mut f: Vec<&str> = rest.split_whitespace().skip(1).collect();
        let boot = f.first() == Some(&"*");
        if boot {
            f.remove(0);
        }
        let type_at = if label == "dos" { 5 } else { 4 };
        rows.push(FdiskRow {
            boot,
            start: f[0].parse().unwrap(),
            sectors: f[2].parse().unwrap(),
            ptype: f[type_at..].join(" "),
        });
    }
    (label, rows)
}

/// Checks what fdisk and sfdisk read from an image of `layout`, whoever
/// made it.
fn check_partition_tools(img: &Path, layout: Layout) {
    let j = info_json(img);
    let ctx = img.display().to_string();
    let size = fs::metadata(img).unwrap().len() / 512;
    let efi = |n: usize| {
        let e = &j["el_torito"]["images"][n];
        assert_eq!(e["platform"], "UEFI", "{ctx}: {e}");
        (
            e["lba"].as_u64().unwrap() * 4,
            e["sector_count"].as_u64().unwrap(),
        )
    };
    let (label, parts) = sfdisk_dump(img);
    let (flabel, rows) = fdisk_list(img);
    match layout {
        Layout::HybridGpt => {
            // Not a protective MBR, so both read the MBR, not the GPT.
            assert_eq!(label, "dos", "{ctx}");
            assert_eq!(flabel, "dos", "{ctx}");
            let (start, len) = efi(1);
            let want = vec![
                SfdiskPart {
                    start: 0,
                    size,
                    ptype: "0".into(),
                    bootable: true,
                    name: None,
                },
                SfdiskPart {
                    start,
                    size: len,
                    ptype: "ef".into(),
                    bootable: false,
                    name: None,
                },
            ];
            assert_eq!(parts, want, "{ctx}: sfdisk --dump");
            let got: Vec<(bool, u64, u64, &str)> = rows
                .iter()
                .map(|r| (r.boot, r.start, r.sectors, r.ptype.as_str()))
                .collect();
            assert_eq!(
                got,
                [
                    (true, 0, size, "Empty"),
                    (false, start, len, "EFI (FAT-12/16/32)")
                ],
                "{ctx}: fdisk -l"
            );
        }
        Layout::IsohybridMbr => {
            assert_eq!(label, "dos", "{ctx}");
            let want = vec![SfdiskPart {
                start: 0,
                size,
                ptype: "17".into(),
                bootable: true,
                name: None,
            }];
            assert_eq!(parts, want, "{ctx}: sfdisk --dump");
            assert_eq!(flabel, "dos", "{ctx}");
            let got: Vec<(bool, u64, u64, &str)> = rows
                .iter()
                .map(|r| (r.boot, r.start, r.sectors, r.ptype.as_str()))
                .collect();
            assert_eq!(
                got,
                [(true, 0, size, "Hidden HPFS/NTFS")],
                "{ctx}: fdisk -l"
            );
        }
        Layout::GptEfi => {
            assert_eq!(label, "gpt", "{ctx}");
            assert_eq!(flabel, "gpt", "{ctx}");
            let (start, len) = efi(0);
            let basic = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
            let esp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
            let got: Vec<(String, String)> = parts
                .iter()
                .map(|p| (p.name.clone().unwrap(), p.ptype.clone()))
                .collect();
            let want = [
                ("Gap0", basic),
                ("EFI boot partition", esp),
                ("Gap1", basic),
            ]
            .map(|(n, t)| (n.to_string(), t.to_string()));
            assert_eq!(got, want, "{ctx}: sfdisk --dump");
            assert_eq!((parts[1].start, parts[1].size), (start, len), "{ctx}");
            // The gaps fill the rest of the image up to the backup GPT.
            assert_eq!(parts[0].start + parts[0].size, start, "{ctx}: Gap0");
            assert_eq!(parts[2].start, start + len, "{ctx}: Gap1");
            assert!(parts[2].start + parts[2].size < size, "{ctx}: Gap1");
            let got: Vec<(u64, u64, &str)> = rows
                .iter()
                .map(|r| (r.start, r.sectors, r.ptype.as_str()))
                .collect();
            let want: Vec<(u64, u64, &str)> = parts
                .iter()
                .zip(["Microsoft basic data", "EFI System", "Microsoft basic data"])
                .map(|(p, t)| (p.start, p.size, t))
                .collect();
            assert_eq!(got, want, "{ctx}: fdisk -l");
        }
    }
}

/// `sgdisk -v`: its exit status and the paragraphs that report problems,
/// numbers replaced by `N`. Cautions about alignment and the line that
/// counts free sectors are left out: they depend on sizes.
fn sgdisk_problems(img: &Path) -> (Option<i32>, Vec<String>) {
    let out = tool("sgdisk").arg("-v").arg(img).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut problems = Vec::new();
    for para in text.split("\n\n") {
        let para = para.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut norm = String::new();
        let mut in_num = false;
        for c in para.chars() {
            if c.is_ascii_digit() {
                if !in_num {
                    norm.push('N');
                }
                in_num = true;
            } else {
                norm.push(c);
                in_num = false;
            }
        }
        if norm.is_empty() || norm.starts_with("Caution:") {
            continue;
        }
        if norm.starts_with("No problems found.") {
            norm = "No problems found.".into();
        }
        problems.push(norm);
    }
    (out.status.code(), problems)
}

#[test]
fn partitioning_tools_read_the_tables() {
    let Some(t) = trees() else { return };
    if !have_tool("fdisk") || !have_tool("sfdisk") || !have_tool("sgdisk") {
        return;
    }
    for layout in LAYOUTS {
        let theirs = xorriso_image(t, layout);
        let ours = isoforge_image(t, layout);
        check_partition_tools(&theirs, layout);
        check_partition_tools(&ours, layout);
        let (their_rc, their_problems) = sgdisk_problems(&theirs);
        let (our_rc, our_problems) = sgdisk_problems(&ours);
        let extra: Vec<&String> = our_problems
            .iter()
            .filter(|p| !their_problems.contains(p))
            .collect();
        assert!(
            extra.is_empty() && (our_rc == their_rc || our_rc == Some(0)),
            "{}: sgdisk -v finds more in isoforge's image (exit {our_rc:?}) than in \
             xorriso's (exit {their_rc:?}): {extra:#?}\nxorriso's: {their_problems:#?}",
            layout.name()
        );
    }
    check_partition_tools(&hybrid_image(t), Layout::HybridGpt);
}

// ---------------------------------------------------------------------------
// The full hybrid image

#[test]
fn reproducible_builds_are_identical() {
    let Some(t) = trees() else { return };
    let dir = t.work.join("repro");
    fs::create_dir_all(&dir).unwrap();
    let mut images = Vec::new();
    for (n, reverse) in [(1, false), (2, true)] {
        let src = dir.join(format!("src{n}"));
        let esp = dir.join(format!("esp{n}"));
        // Copying creates the entries in a different order each time, so
        // the order in which the host lists directories differs too.
        copy_tree(&t.src, &src, reverse);
        copy_tree(&t.esp, &esp, reverse);
        fix_times(&src);
        fix_times(&esp);
        let out = dir.join(format!("hybrid{n}.iso"));
        let args = hybrid_args(&esp);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        isoforge_build(&src, &args, &out);
        images.push(out);
    }
    let (a, b) = (fs::read(&images[0]).unwrap(), fs::read(&images[1]).unwrap());
    assert_eq!(a.len(), b.len(), "sizes differ");
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        panic!(
            "reproducible builds differ first at byte {i} (sector {}, 512-byte block {})",
            i / 2048,
            i / 512
        );
    }
    // The shared image was built from other copies at another time.
    assert!(
        a == fs::read(hybrid_image(t)).unwrap(),
        "differs from the first build"
    );
}

#[test]
fn info_reports_boot_entries_and_partitions() {
    let Some(t) = trees() else { return };
    let img = hybrid_image(t);
    let j = info_json(&img);
    let ctx = serde_json::to_string_pretty(&j).unwrap();
    let et = &j["el_torito"];
    assert_eq!(et["catalog_path"], "/boot.catalog", "{ctx}");
    assert_eq!(
        et["catalog_lba"].as_u64().unwrap() * 2048,
        catalog_offset(&img)
    );
    let imgs = et["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 2, "{ctx}");
    let opts = |e: &Value| -> Vec<String> {
        let mut o: Vec<String> = e["opts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        o.sort();
        o
    };
    let (bios, efi) = (&imgs[0], &imgs[1]);
    assert_eq!(bios["platform"], "BIOS", "{ctx}");
    assert_eq!(bios["bootable"], true, "{ctx}");
    assert_eq!(bios["emulation"], "none", "{ctx}");
    assert_eq!(bios["sector_count"], 4, "{ctx}");
    assert_eq!(bios["path"], "/isolinux/isolinux.bin", "{ctx}");
    assert_eq!(
        opts(bios),
        ["boot-info-table", "isohybrid-suitable"],
        "{ctx}"
    );
    assert_eq!(efi["platform"], "UEFI", "{ctx}");
    assert_eq!(efi["bootable"], true, "{ctx}");
    assert_eq!(efi["emulation"], "none", "{ctx}");
    assert_eq!(efi["path"], "/efi.img", "{ctx}");
    assert!(opts(efi).is_empty(), "{ctx}");
    // The load size of an EFI image is its size in 512-byte blocks.
    let efi_len = efi_image_len(&img);
    assert_eq!(
        efi["sector_count"].as_u64().unwrap(),
        efi_len / 512,
        "{ctx}"
    );

    let sa = &j["system_area"];
    let size = fs::metadata(&img).unwrap().len() / 512;
    assert_eq!(size % 2048, 0, "padded to 1 MiB");
    assert_eq!(
        sa["summary"],
        serde_json::json!(["MBR", "isohybrid", "cyl-align-on", "GPT"]),
        "{ctx}"
    );
    assert_eq!(sa["iso_image_size_512"], size, "{ctx}");
    let mbr: Vec<(u64, u64, u64, u64)> = sa["mbr"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["status"].as_u64().unwrap(),
                p["ptype"].as_u64().unwrap(),
                p["start"].as_u64().unwrap(),
                p["blocks"].as_u64().unwrap(),
            )
        })
        .collect();
    let efi_start = efi["lba"].as_u64().unwrap() * 4;
    assert_eq!(
        mbr,
        [(0x80, 0, 0, size), (0, 0xef, efi_start, efi_len / 512)],
        "{ctx}"
    );
    let gpt: Vec<(String, u64, u64)> = sa["gpt"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["first_lba"].as_u64().unwrap(),
                p["blocks"].as_u64().unwrap(),
            )
        })
        .collect();
    let gpt_names: Vec<&str> = gpt.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(gpt_names, ["ISOHybrid", "ISOHybrid1"], "{ctx}");
    assert_eq!((gpt[1].1, gpt[1].2), (efi_start, efi_len / 512), "{ctx}");
    let g = &sa["gpt"];
    assert_eq!(g["header_crc_ok"], true, "{ctx}");
    assert_eq!(g["entries_crc_ok"], true, "{ctx}");
    assert_eq!(g["backup_lba"], size - 1, "{ctx}");
    let backup = &g["backup"];
    for k in [
        "found",
        "header_crc_ok",
        "entries_crc_ok",
        "lbas_match",
        "entries_match_primary",
    ] {
        assert_eq!(backup[k], true, "{ctx}: backup GPT {k}");
    }
    // isohdpfx.bin was patched with the BIOS boot image's address.
    let m = &sa["mbr"];
    assert_eq!(m["isohybrid"], true, "{ctx}");
    assert_eq!(
        m["boot_image_address"],
        bios["lba"].as_u64().unwrap() * 4,
        "{ctx}"
    );
    assert_ne!(m["disk_signature"], 0, "{ctx}");
}

fn efi_image_len(img: &Path) -> u64 {
    ls_entry(img, "/efi.img")["size"].as_u64().unwrap()
}

#[test]
fn built_esp_holds_the_efi_dir() {
    let Some(t) = trees() else { return };
    if !have_tool("fsck.fat") {
        return;
    }
    let img = hybrid_image(t);
    let fat = t.work.join("built-esp.img");
    let out = isoforge_ok(&["cat", img.to_str().unwrap(), "/efi.img"]);
    fs::write(&fat, &out.stdout).unwrap();
    assert_eq!(out.stdout.len() % 512, 0);
    let fsck = tool("fsck.fat").arg("-n").arg(&fat).output().unwrap();
    let fsck_out = format!(
        "{}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    assert!(fsck.status.success(), "fsck.fat -n: {fsck_out}");
    assert!(!fsck_out.contains("Dirty"), "fsck.fat -n: {fsck_out}");

    let copied = t.work.join("built-esp-contents");
    fs::create_dir_all(&copied).unwrap();
    run(Command::new("mcopy")
        .args(["-s", "-n", "-i"])
        .arg(&fat)
        .arg("::/*")
        .arg(&copied));
    let contents_only = Compare {
        mode: false,
        mtime: false,
        dir_mtime: false,
        content: true,
    };
    assert_same(
        "the built EFI system partition",
        &snapshot(&t.esp),
        &snapshot(&copied),
        contents_only,
    );
    // Long names are stored as such, not only as 8.3 aliases.
    let listing = run(Command::new("mdir")
        .args(["-/", "-a", "-i"])
        .arg(&fat)
        .arg("::/EFI/isoforge"));
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("A Long File Name.txt"), "{listing}");
}

/// The report lines of xorriso's own image keep the names this file gives
/// the values, so a change in xorriso's output shows here first.
#[test]
fn normalised_xorriso_reports_name_the_layout() {
    let Some(t) = trees() else { return };
    let lines: Vec<Vec<String>> = LAYOUTS
        .iter()
        .map(|&l| normalised_report(&xorriso_image(t, l)))
        .collect();
    let has = |l: Layout, line: &str| {
        let lines = &lines[l as usize];
        assert!(
            lines.iter().any(|x| x == line),
            "{}: no line {line:?} in\n{}",
            l.name(),
            lines.join("\n")
        );
    };
    has(Layout::HybridGpt, "MBR partition: 1 0x80 0x00 0 size");
    has(Layout::HybridGpt, "MBR partition: 2 0x00 0xef img2 len2");
    has(Layout::HybridGpt, "GPT start and size: 2 img2 len2");
    has(Layout::IsohybridMbr, "MBR partition: 1 0x80 0x17 0 size");
    has(Layout::GptEfi, "MBR partition: 1 0x00 0xee # size-1");
    has(Layout::GptEfi, "GPT start and size: 2 img1 len1");
    has(Layout::GptEfi, "GPT start and size: 3 img1_end #");
}
