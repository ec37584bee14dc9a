//! Boot loaders that say on the console that they have started: an
//! ISOLINUX tree whose configuration prints [`BIOS_MARKER`], and an EFI
//! system partition whose GRUB prints [`EFI_MARKER`]; with the helpers
//! that write such trees with fixed modification times.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{bytes, fnv, have_file, have_tool, run, snapshot, tool};

pub const ISOLINUX_BIN: &str = "/usr/lib/ISOLINUX/isolinux.bin";
pub const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";
pub const LDLINUX: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";
pub const GRUB_EFI_MODULES: &str = "/usr/lib/grub/x86_64-efi";

/// Printed by ISOLINUX once it has read its configuration from the image.
pub const BIOS_MARKER: &str = "ISOFORGE-BIOS-OK";
/// Printed by the GRUB EFI program in the EFI system partition.
pub const EFI_MARKER: &str = "ISOFORGE-EFI-OK";
/// Printed by the programs in a floppy image made by [`make_floppy`].
pub const FLOPPY_MARKER: &str = "ISOFORGE-FLOPPY-OK";

fn set_mtime(p: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    fs::File::open(p)
        .unwrap()
        .set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
        .unwrap();
}

/// Writes `files` (path, contents) under `root`, then gives every file and
/// directory a fixed modification time.
pub fn write_tree(root: &Path, files: &[(&str, Vec<u8>)]) {
    for (p, data) in files {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
    }
    fix_times(root);
}

/// Sets every modification time below `root` (and its own) to one that
/// depends only on the relative path, so copies of a tree get equal times.
pub fn fix_times(root: &Path) {
    let mut paths: Vec<PathBuf> = snapshot(root)
        .keys()
        .map(|p| root.join(p.trim_start_matches('/')))
        .collect();
    paths.push(root.to_path_buf());
    for p in paths {
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        set_mtime(&p, 1_650_000_000 + (fnv(rel.as_bytes()) % 1_000_000));
    }
}

/// ISOLINUX in `/isolinux`, configured to print [`BIOS_MARKER`] and then
/// wait at its prompt: (path, contents) pairs for [`write_tree`].
pub fn isolinux_files() -> Vec<(&'static str, Vec<u8>)> {
    // SAY prints through the BIOS console, which qemu::boot copies to the
    // serial port. PROMPT 1 with TIMEOUT 0 waits at "boot:" for ever, so
    // nothing is booted after the marker.
    let cfg = format!("SAY {BIOS_MARKER}\nPROMPT 1\nTIMEOUT 0\n");
    vec![
        ("isolinux/isolinux.bin", fs::read(ISOLINUX_BIN).unwrap()),
        ("isolinux/ldlinux.c32", fs::read(LDLINUX).unwrap()),
        ("isolinux/isolinux.cfg", cfg.into_bytes()),
    ]
}

/// GRUB as an EFI program whose built-in grub.cfg prints [`EFI_MARKER`]
/// on the serial port and the firmware console, then waits; plus files
/// that test long FAT names and nested directories.
pub fn make_esp(root: &Path, scratch: &Path) {
    let cfg = scratch.join("grub.cfg");
    fs::write(
        &cfg,
        format!(
            "serial --unit=0 --speed=115200\nterminal_output serial console\n\
             echo {EFI_MARKER}\nsleep 3600\n"
        ),
    )
    .unwrap();
    let efi = scratch.join("BOOTX64.EFI");
    // Only the modules grub.cfg needs, so the program is about 0.5 MiB
    // instead of 10.
    run(Command::new("grub-mkstandalone")
        .args(["-O", "x86_64-efi", "--locales=", "--themes=", "--fonts="])
        .arg("--install-modules=normal serial echo sleep terminal")
        .arg("-o")
        .arg(&efi)
        .arg(format!("boot/grub/grub.cfg={}", cfg.display())));
    write_tree(
        root,
        &[
            ("EFI/BOOT/BOOTX64.EFI", fs::read(&efi).unwrap()),
            ("EFI/isoforge/A Long File Name.txt", b"long name\n".to_vec()),
            ("EFI/isoforge/data.bin", bytes(8, 5000)),
            ("readme.txt", b"EFI system partition\n".to_vec()),
        ],
    );
}

/// A FAT image of `esp` made by mkfs.vfat and mcopy.
pub fn make_fat(esp: &Path, out: &Path) {
    run(tool("mkfs.vfat")
        .args(["-i", "12345678", "-n", "ESP", "-C"])
        .arg(out)
        .arg("2048"));
    let mut cmd = Command::new("mcopy");
    cmd.args(["-s", "-p", "-m", "-i"]).arg(out);
    for e in fs::read_dir(esp).unwrap() {
        cmd.arg(e.unwrap().path());
    }
    run(cmd.arg("::/"));
}

/// Whether every tool and file the trees and images need is there
/// (skip rules of [`have`](crate::common::have)).
pub fn have_boot_tools() -> bool {
    [ISOLINUX_BIN, ISOHDPFX, LDLINUX, GRUB_EFI_MODULES]
        .iter()
        .all(|f| have_file(f))
        && ["xorriso", "grub-mkstandalone", "mkfs.vfat", "mcopy"]
            .iter()
            .all(|t| have_tool(t))
}

/// A position-independent 16-bit real-mode program that prints `text` and
/// a line break through the BIOS (INT 10h, teletype output), then waits for
/// ever, polling the keyboard (INT 16h; SeaBIOS's serial console sends
/// what it holds back when the keyboard is polled).
pub fn bios_print_program(text: &str) -> Vec<u8> {
    #[rustfmt::skip]
    let mut p = vec![
        0x0e,             // push cs
        0x1f,             // pop ds
        0xe8, 0x00, 0x00, // call next (pushes the address of next)
        0x5e,             // next: pop si
        0x83, 0xc6, 0x00, // add si, text - next (set below)
        0xac,             // print: lodsb
        0x08, 0xc0,       // or al, al
        0x74, 0x09,       // jz wait
        0xb4, 0x0e,       // mov ah, 0x0e
        0xbb, 0x07, 0x00, // mov bx, 0x0007
        0xcd, 0x10,       // int 0x10
        0xeb, 0xf2,       // jmp print
        0xfb,             // wait: sti
        0xf4,             // hlt
        0xb4, 0x01,       // mov ah, 0x01
        0xcd, 0x16,       // int 0x16
        0xeb, 0xf8,       // jmp wait
    ];
    p[8] = u8::try_from(p.len() - 5).unwrap();
    p.extend_from_slice(text.as_bytes());
    p.extend_from_slice(b"\r\n\0");
    p
}

/// A 1.44 MB FAT12 floppy image (mkfs.vfat) that boots as El Torito
/// floppy emulation: its boot sector prints `boot sector:` and
/// [`FLOPPY_MARKER`]. 512-byte block 4, a reserved sector of the file
/// system, holds a program that prints `block 4:` and the marker: GRUB's
/// `boot_hybrid.img` MBR, installed by xorriso's `--grub2-mbr` with the
/// floppy image as the first boot image, loads that block and runs it.
pub fn make_floppy(out: &Path) {
    run(tool("mkfs.vfat")
        .args(["-C", "-R", "8", "-n", "FLOPPY"])
        .arg(out)
        .arg("1440"));
    let mut img = fs::read(out).unwrap();
    assert_eq!(img.len(), 1_474_560, "{}", out.display());
    // jmp short to 0x3e, past the BIOS parameter block.
    img[..2].copy_from_slice(&[0xeb, 0x3c]);
    let boot = bios_print_program(&format!("boot sector: {FLOPPY_MARKER}"));
    assert!(0x3e + boot.len() <= 510);
    img[0x3e..0x3e + boot.len()].copy_from_slice(&boot);
    assert_eq!(&img[510..512], &[0x55, 0xaa]);
    let block4 = bios_print_program(&format!("block 4: {FLOPPY_MARKER}"));
    img[2048..2048 + block4.len()].copy_from_slice(&block4);
    fs::write(out, img).unwrap();
}
