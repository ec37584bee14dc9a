//! Remastered images boot exactly as their originals do. `isoforge modify`
//! adds a file to and removes one from Debian's GRUB rescue CD, Debian's
//! iPXE image, an image laid out like Debian's installer media and one laid
//! out like small rescue disks (floppy emulation, a GRUB2 MBR, an appended
//! EFI system partition), both made here by xorriso; then QEMU boots
//! original and result under SeaBIOS and,
//! where the original has a UEFI boot entry, under OVMF, each from a CD
//! drive and from a hard disk.
//!
//! The judge is the console: each of these boot loaders writes to the
//! serial port (SeaBIOS copies what BIOS boot loaders print through INT
//! 10h; OVMF copies its console), and what they write is rendered on a
//! screen model up to where the boot loader comes to rest (a prompt, a
//! menu's countdown, a marker) or the firmware gives up. A result boots
//! like the original when its screen shows the same text (whitespace and
//! line breaks aside, which depend on timing). So that the judge is not
//! taken on trust, copies of each result with the boot structure that the
//! firmware uses zeroed must be judged as not booting like the original.
//!
//! Also: `isoforge diff --ignore-layout` lists only the two changes, and
//! xorriso reports the same boot setup for original and result (block
//! addresses, sizes and GUIDs aside).
#![allow(clippy::unwrap_used)]

#[path = "common/boot_tree.rs"]
mod boot_tree;
mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use boot_tree::*;
use common::xorriso::{self, boot_setup};
use common::*;
use qemu::{Firmware, Media, Transcript};

const GRUB_RESCUE: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
const IPXE: &str = "/usr/lib/ipxe/ipxe.iso";
/// GRUB's MBR for hybrid images, as xorriso's `--grub2-mbr` installs it.
const GRUB2_MBR: &str = "/usr/lib/grub/i386-pc/boot_hybrid.img";

/// What one firmware's boot of an image shows on the console.
#[derive(Clone, Copy)]
struct Console {
    /// Text that shows the original's boot loader has run, so that two
    /// boots that both fail are never taken for good ones.
    sign: &'static str,
    /// Text after which the boot loader only waits (a prompt, a menu's
    /// first countdown line), if it comes to rest at all.
    rest: Option<&'static str>,
}

/// An original image, its remaster, and what their consoles show.
struct Subject {
    name: &'static str,
    orig: PathBuf,
    result: PathBuf,
    /// What the original's file tree lost and gained, as `isoforge diff`
    /// starts its lines.
    changes: [&'static str; 2],
    bios: Console,
    /// `None` when the original has no UEFI boot entry.
    efi: Option<Console>,
    /// The BIOS boot loader checks a boot info table (ISOLINUX does).
    checked_boot_info_table: bool,
}

/// Whether `img` has a UEFI El Torito entry, by `isoforge info`.
fn has_uefi_entry(img: &Path) -> bool {
    let j: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    j["el_torito"]["images"]
        .as_array()
        .is_some_and(|a| a.iter().any(|e| e["platform"] == "UEFI"))
}

// ---------------------------------------------------------------------------
// The judge

/// Where transcripts under `fw` end: where the boot loader rests, or where
/// the firmware has given up (SeaBIOS has tried every device; OVMF starts
/// its shell, the last of its boot options).
fn stops(fw: Firmware, c: Console) -> Vec<&'static str> {
    let gave_up = match fw {
        Firmware::SeaBios => "No bootable device.",
        Firmware::Ovmf => "\"EFI Internal Shell\"",
    };
    c.rest.into_iter().chain([gave_up]).collect()
}

fn record(img: &Path, fw: Firmware, media: Media, c: Console, timeout: Duration) -> Transcript {
    let t = qemu::transcript(img, fw, media, &stops(fw, c), timeout);
    eprintln!("{}: {}", t.what, t.ending());
    t
}

/// Copies of `img` that `fw` must not boot from `media`: for CD boots the
/// boot catalog zeroed, and also, under SeaBIOS, a wrong boot info table
/// (when the BIOS boot image has one that its boot loader checks) and,
/// under OVMF, a catalog without its UEFI entry; for SeaBIOS disk boots the
/// MBR boot code (up to the disk signature); for OVMF disk boots, which
/// find an El Torito catalog or an EFI system partition in the MBR or GPT,
/// the catalog, the MBR partition entries and the GPT headers.
fn broken_copies(s: &Subject, dir: &Path, fw: Firmware, media: Media) -> Vec<PathBuf> {
    let img = &s.result;
    let catalog = (qemu::catalog_offset(img), 2048);
    let ranges = match (fw, media) {
        (_, Media::Cdrom) => vec![catalog],
        (Firmware::SeaBios, _) => vec![(0, 440)],
        (Firmware::Ovmf, _) => {
            let mut r = vec![catalog, (446, 64)];
            if qemu::has_gpt(img) {
                r.extend([(512, 512), (qemu::backup_gpt_offset(img), 512)]);
            }
            r
        }
    };
    let name = |what: &str| {
        format!(
            "broken-{what}-{fw:?}-{media:?}-{}",
            img.file_name().unwrap().to_string_lossy()
        )
    };
    let mut v = vec![qemu::broken_copy(img, dir, &name("zeroed"), &ranges)];
    match (fw, media) {
        (Firmware::SeaBios, Media::Cdrom) if s.checked_boot_info_table => v.push(
            qemu::with_wrong_boot_info_table(img, dir, &name("boot-info")),
        ),
        (Firmware::Ovmf, Media::Cdrom) => {
            v.push(qemu::without_efi_entries(img, dir, &name("no-efi-entry")))
        }
        _ => {}
    }
    v
}

/// Under `fw`, from a CD drive and from a hard disk: the result's
/// transcript is the original's, and a broken copy's is not.
fn boots_as_before(s: &Subject, fw: Firmware, c: Console, scratch: &Path) {
    if !qemu::have_qemu(fw) {
        return;
    }
    let started = Instant::now();
    for media in [Media::Cdrom, Media::IdeDisk] {
        let orig = record(&s.orig, fw, media, c, qemu::boot_timeout(fw));
        assert!(
            orig.stop.is_some() && orig.printed(c.sign),
            "{}: the original does not boot as expected (no {:?}, or no stop text; {})\n{}",
            s.name,
            c.sign,
            orig.ending(),
            orig.screen.lines().join("\n")
        );
        // The original's boot, measured just now, says how slow this
        // machine is at the moment.
        let deadline = qemu::boot_timeout(fw).max(orig.elapsed * 4);
        let result = record(&s.result, fw, media, c, deadline);
        assert!(
            orig.alike(&result),
            "{}: the remastered image does not boot like the original under {fw:?} \
             from {media:?}; {}",
            s.name,
            orig.compare(&result)
        );
        for broken in broken_copies(s, scratch, fw, media) {
            let t = record(&broken, fw, media, c, qemu::no_boot_timeout(fw));
            assert!(
                !orig.alike(&t),
                "{}: the judge takes a broken copy ({}) for the original; {}",
                s.name,
                broken.display(),
                orig.compare(&t)
            );
            fs::remove_file(&broken).unwrap();
        }
    }
    eprintln!(
        "{}: {fw:?} boots judged in {:.1} s",
        s.name,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// What is checked of every subject

fn check(s: &Subject, scratch: &Path) {
    assert_diff_lists(&s.orig, &s.result, &s.changes);
    assert_eq!(
        boot_setup(&s.orig),
        boot_setup(&s.result),
        "{}: xorriso's boot report",
        s.name
    );
    assert_eq!(
        s.efi.is_some(),
        has_uefi_entry(&s.orig),
        "{}: UEFI entry",
        s.name
    );
    // Boots under each firmware run side by side: each QEMU uses one core.
    std::thread::scope(|scope| {
        let bios = scope.spawn(|| boots_as_before(s, Firmware::SeaBios, s.bios, scratch));
        match s.efi {
            Some(c) => boots_as_before(s, Firmware::Ovmf, c, scratch),
            None => eprintln!("{}: no UEFI boot entry, so not booted under OVMF", s.name),
        }
        if let Err(e) = bios.join() {
            std::panic::resume_unwind(e);
        }
    });
}

// ---------------------------------------------------------------------------
// Subjects

#[test]
fn grub_rescue_cd_boots_as_before() {
    if !have("xorriso") || !have_file(GRUB_RESCUE) {
        return;
    }
    let t = tempdir();
    let result = t.path().join("grub-rescue.iso");
    remaster_add_rm(
        Path::new(GRUB_RESCUE),
        &result,
        ("/autoinstall.yaml", &autoinstall_yaml(t.path())),
        "/boot/grub/roms",
    );
    check(
        &Subject {
            name: "grub-rescue-cdrom.iso",
            orig: GRUB_RESCUE.into(),
            result,
            changes: ["+ /autoinstall.yaml", "- /boot/grub/roms"],
            // GRUB's menu, read from /boot/grub/grub.cfg on the image,
            // counts down from 30 s; the transcript ends at its first line.
            bios: Console {
                sign: "GNU GRUB  version",
                rest: Some("The highlighted entry will be executed automatically in"),
            },
            efi: None,
            // GRUB's CD boot image does not read its boot info table.
            checked_boot_info_table: false,
        },
        t.path(),
    );
}

#[test]
fn ipxe_iso_boots_as_before() {
    if !have("xorriso") || !have_file(IPXE) {
        return;
    }
    let t = tempdir();
    // Every file of ipxe.iso takes part in a boot, so the remaster moves
    // ISOLINUX's configuration to /syslinux.cfg, the last place ISOLINUX
    // looks for it: the added file is then read by the boot loader.
    let cfg = t.path().join("syslinux.cfg");
    fs::write(&cfg, isoforge_ok(&["cat", IPXE, "/isolinux.cfg"]).stdout).unwrap();
    let result = t.path().join("ipxe.iso");
    remaster_add_rm(
        Path::new(IPXE),
        &result,
        ("/syslinux.cfg", &cfg),
        "/isolinux.cfg",
    );
    // With no network card (QEMU's -nodefaults), iPXE finds nothing to
    // boot and returns to the firmware, which then gives up.
    let ipxe = Console {
        sign: "iPXE initialising devices...ok",
        rest: None,
    };
    check(
        &Subject {
            name: "ipxe.iso",
            orig: IPXE.into(),
            result,
            changes: ["+ /syslinux.cfg", "- /isolinux.cfg"],
            bios: Console {
                // Printed by ISOLINUX from its configuration.
                sign: "iPXE ISO boot image",
                ..ipxe
            },
            efi: Some(ipxe),
            checked_boot_info_table: true,
        },
        t.path(),
    );
}

/// An image laid out like Debian's installer media, made by xorriso:
/// ISOLINUX and a GRUB EFI image that print markers, an isohybrid MBR and
/// a GPT.
fn debian_like(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    let esp = dir.join("esp");
    make_esp(&esp, dir);
    let mut files = isolinux_files();
    files.extend([
        ("md5sum.txt", b"sums\n".to_vec()),
        (
            "pool/main/a/deep/er/and/deeper/still/more/levels/A Long Name With Spaces.deb",
            bytes(7, 300_000),
        ),
    ]);
    write_tree(&src, &files);
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    make_fat(&esp, &src.join("boot/grub/efi.img"));
    let img = dir.join("debian.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r", "-J"])
        .args(["-isohybrid-mbr", ISOHDPFX])
        .args(["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .args(["-eltorito-alt-boot", "-e", "boot/grub/efi.img"])
        .args(["-no-emul-boot", "-isohybrid-gpt-basdat", "-o"])
        .arg(&img)
        .arg(&src));
    img
}

#[test]
fn debian_like_image_boots_as_before() {
    if !have_boot_tools() {
        return;
    }
    let t = tempdir();
    let orig = debian_like(t.path());
    let result = t.path().join("debian-remastered.iso");
    remaster_add_rm(
        &orig,
        &result,
        ("/autoinstall.yaml", &autoinstall_yaml(t.path())),
        "/md5sum.txt",
    );
    check(
        &Subject {
            name: "Debian-like image",
            orig,
            result,
            changes: ["+ /autoinstall.yaml", "- /md5sum.txt"],
            bios: Console {
                sign: BIOS_MARKER,
                rest: Some(BIOS_MARKER),
            },
            efi: Some(Console {
                sign: EFI_MARKER,
                rest: Some(EFI_MARKER),
            }),
            checked_boot_info_table: true,
        },
        t.path(),
    );
}

/// An image laid out like small rescue and diagnostic disks, made by
/// xorriso: the BIOS El Torito entry is a 1.44 MB floppy image
/// ([`make_floppy`]), the MBR is GRUB's `boot_hybrid.img` (not isohybrid;
/// it loads block 4 of the floppy image), and the UEFI entry is an EFI
/// system partition appended after the volume as MBR partition 2 (type
/// 0xef), whose GRUB prints [`EFI_MARKER`].
fn floppy_grub2_appended_esp(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("boot")).unwrap();
    make_floppy(&src.join("boot/floppy.img"));
    fs::write(src.join("readme.txt"), b"rescue disk\n").unwrap();
    fs::write(src.join("notes.txt"), b"notes\n").unwrap();
    fix_times(&src);
    let esp = dir.join("esp");
    make_esp(&esp, dir);
    let efi = dir.join("efi.img");
    make_fat(&esp, &efi);
    let img = dir.join("rescue.iso");
    let efi = efi.to_str().unwrap();
    xorriso::mkisofs(
        &[
            "-r",
            "-J",
            "-V",
            "RESCUE",
            "-b",
            "boot/floppy.img",
            "-c",
            "boot/boot.cat",
            "--grub2-mbr",
            GRUB2_MBR,
            "-append_partition",
            "2",
            "0xef",
            efi,
            "-eltorito-alt-boot",
            "-e",
            "--interval:appended_partition_2:all::",
            "-no-emul-boot",
        ],
        &img,
        &src,
    );
    // The layout is the one meant, as xorriso reads it.
    let setup = boot_setup(&img).join("\n");
    for want in [
        "System area summary: MBR grub2-mbr cyl-align-off",
        "El Torito boot img: 1 BIOS y fd1.4",
        "El Torito boot img: 2 UEFI y none",
        "MBR partition: 2 0x00 0xef # #",
    ] {
        assert!(setup.contains(want), "{want:?} not in\n{setup}");
    }
    img
}

#[test]
fn floppy_grub2_mbr_appended_esp_image_boots_as_before() {
    if !have_boot_tools() || !have_file(GRUB2_MBR) {
        return;
    }
    let t = tempdir();
    let orig = floppy_grub2_appended_esp(t.path());
    let result = t.path().join("rescue-remastered.iso");
    remaster_add_rm(
        &orig,
        &result,
        ("/autoinstall.yaml", &autoinstall_yaml(t.path())),
        "/notes.txt",
    );
    check(
        &Subject {
            name: "floppy, GRUB2 MBR and appended ESP",
            orig,
            result,
            changes: ["+ /autoinstall.yaml", "- /notes.txt"],
            // From a CD the floppy's boot sector prints; from a disk, the
            // block the GRUB2 MBR loads from the floppy image.
            bios: Console {
                sign: FLOPPY_MARKER,
                rest: Some(FLOPPY_MARKER),
            },
            efi: Some(Console {
                sign: EFI_MARKER,
                rest: Some(EFI_MARKER),
            }),
            // A floppy image has no boot info table.
            checked_boot_info_table: false,
        },
        t.path(),
    );
}
