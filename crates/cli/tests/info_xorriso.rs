//! `isoforge info --json` agrees with `xorriso -report_el_torito plain
//! -report_system_area plain` on real and xorriso-built bootable images.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::xorriso::compare;
use common::*;
use serde_json::Value;

#[test]
fn real_images() {
    if !have("xorriso") {
        return;
    }
    for img in [
        "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
        "/usr/lib/ipxe/ipxe.iso",
    ] {
        if have_file(img) {
            compare(Path::new(img));
        }
    }
}

#[test]
fn debian_installer_like_image() {
    if !have("xorriso")
        || !have_file("/usr/lib/ISOLINUX/isolinux.bin")
        || !have_file("/usr/lib/ISOLINUX/isohdpfx.bin")
        || !have("mkfs.vfat")
    {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    fs::copy(
        "/usr/lib/ISOLINUX/isolinux.bin",
        src.join("isolinux/isolinux.bin"),
    )
    .unwrap();
    fs::write(src.join("isolinux/isolinux.cfg"), b"default x\n").unwrap();
    let efi = src.join("boot/grub/efi.img");
    run(Command::new("mkfs.vfat").arg("-C").arg(&efi).arg("1440"));
    let img = t.path().join("d.iso");
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-isohybrid-mbr",
            "/usr/lib/ISOLINUX/isohdpfx.bin",
        ])
        .args([
            "-b",
            "isolinux/isolinux.bin",
            "-c",
            "isolinux/boot.cat",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
        ])
        .args([
            "-eltorito-alt-boot",
            "-e",
            "boot/grub/efi.img",
            "-no-emul-boot",
            "-isohybrid-gpt-basdat",
            "-o",
        ])
        .arg(&img)
        .arg(&src));
    compare(&img);
    let j: Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(
        j["el_torito"]["images"][0]["path"],
        "/isolinux/isolinux.bin"
    );
    assert_eq!(j["el_torito"]["images"][1]["path"], "/boot/grub/efi.img");
    let text = String::from_utf8(isoforge_ok(&["info", img.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains("El Torito img path :   1  /isolinux/isolinux.bin"),
        "{text}"
    );
    assert!(
        text.contains("System area summary: MBR isohybrid"),
        "{text}"
    );
}
