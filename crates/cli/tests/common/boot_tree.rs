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
