//! The boot and hybrid options of `create`, checked with xorriso's reports,
//! partitioning tools and mtools rather than only with our own reader.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::xorriso::{compare, xorriso_report};
use common::*;
use serde_json::Value;

const ISOLINUX: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";
const GRUB_RESCUE: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
const BOOT_HYBRID: &str = "/usr/lib/grub/i386-pc/boot_hybrid.img";

/// A FAT image of `kib` KiB made by mkfs.vfat, holding one file.
fn fat_image(path: &Path, kib: u32) {
    run(tool("mkfs.vfat")
        .arg("-C")
        .arg(path)
        .arg(kib.to_string())
        .arg("-i")
        .arg("12345678"));
    let f = path.with_extension("txt");
    fs::write(&f, b"inside the FAT\n").unwrap();
    run(tool("mcopy")
        .arg("-i")
        .arg(path)
        .arg(&f)
        .arg("::/hello.txt"));
    fs::remove_file(f).unwrap();
}

/// A tree with isolinux and an EFI image at Debian's paths.
fn boot_tree(root: &Path) -> PathBuf {
    let src = root.join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fs::write(src.join("isolinux/isolinux.cfg"), b"default x\n").unwrap();
    fs::write(src.join("readme.txt"), b"a file\n").unwrap();
    fat_image(&src.join("boot/grub/efi.img"), 1440);
    src
}

/// The boot tree with only a UEFI entry, made with one hybrid option.
fn efi_image(dir: &Path, hybrid: &str) -> PathBuf {
    let src = boot_tree(dir);
    let img = dir.join("efi-only.iso");
    create(&[
        "-o",
        img.to_str().unwrap(),
        "--boot-efi",
        "/boot/grub/efi.img",
        hybrid,
        src.to_str().unwrap(),
    ]);
    img
}

fn create(args: &[&str]) {
    isoforge_ok(&[&["create"][..], args].concat());
}

fn info_json(img: &Path) -> Value {
    serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout).unwrap()
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The mkisofs boot info table checksum, computed here from the source file.
fn info_checksum(file: &[u8]) -> u32 {
    file[64..].chunks(4).fold(0u32, |acc, w| {
        let mut b = [0u8; 4];
        b[..w.len()].copy_from_slice(w);
        acc.wrapping_add(u32::from_le_bytes(b))
    })
}

#[test]
fn isohybrid_gpt_image_with_boot_info_table() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have_tool("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let src = boot_tree(t.path());
    let img = t.path().join("a.iso");
    let s = src.to_str().unwrap();
    create(&[
        "-o",
        img.to_str().unwrap(),
        "--boot-bios",
        "/isolinux/isolinux.bin",
        "--boot-info-table",
        "--boot-catalog",
        "/isolinux/boot.cat",
        "--boot-efi",
        "/boot/grub/efi.img",
        "--system-area",
        ISOHDPFX,
        "--gpt",
        s,
    ]);
    // isoforge's report agrees with xorriso's, field by field.
    compare(&img);
    let x = xorriso_report(&img);
    assert_eq!(
        x["System area summary"][0],
        ["MBR", "isohybrid", "cyl-align-on", "GPT"]
    );
    assert_eq!(
        x["El Torito img opts"][0][1..],
        ["boot-info-table", "isohybrid-suitable"]
    );
    assert_eq!(x["El Torito img path"][1][1], "/boot/grub/efi.img");
    assert_eq!(x["El Torito cat path"][0][0], "/isolinux/boot.cat");
    // The boot info table, checked against the source file.
    let j = info_json(&img);
    let lba = j["el_torito"]["images"][0]["lba"].as_u64().unwrap() as u32;
    let orig = fs::read(ISOLINUX).unwrap();
    let stored = isoforge_ok(&["cat", img.to_str().unwrap(), "/isolinux/isolinux.bin"]).stdout;
    assert_eq!(stored.len(), orig.len());
    assert_eq!(stored[..8], orig[..8]);
    assert_eq!(stored[64..], orig[64..]);
    assert_eq!(le32(&stored, 8), 16, "PVD LBA");
    assert_eq!(le32(&stored, 12), lba, "boot file LBA");
    assert_eq!(le32(&stored, 16) as usize, orig.len(), "boot file length");
    assert_eq!(le32(&stored, 20), info_checksum(&orig), "checksum");
    // The MBR points isohdpfx's code at the boot file, and the image is
    // whole cylinders (1 MiB) long for USB sticks.
    let raw = fs::read(&img).unwrap();
    assert_eq!(
        u64::from_le_bytes(raw[432..440].try_into().unwrap()),
        u64::from(lba) * 4
    );
    assert_eq!(raw[..432], fs::read(ISOHDPFX).unwrap()[..432]);
    assert_eq!(raw.len() % (1 << 20), 0);
    // The EFI image is MBR partition 2 and GPT partition 2; mtools reads the
    // FAT through the MBR partition's offset.
    let efi_start = x["MBR partition"][1][3].parse::<u64>().unwrap();
    assert_eq!(x["MBR partition"][1][2], "0xef");
    if have_tool("mtype") {
        let out = run(tool("mtype")
            .arg("-i")
            .arg(format!("{}@@{}", img.display(), efi_start * 512))
            .arg("::/hello.txt"));
        assert_eq!(out.stdout, b"inside the FAT\n");
    }
}

#[test]
fn gpt_without_mbr_template_has_protective_mbr_and_gaps() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_tool("mkfs.vfat") || !have_tool("sgdisk") {
        return;
    }
    let t = tempdir();
    let img = efi_image(t.path(), "--gpt");
    compare(&img);
    let x = xorriso_report(&img);
    assert_eq!(
        x["System area summary"][0],
        ["MBR", "protective-msdos-label", "cyl-align-off", "GPT"]
    );
    let names: Vec<String> = x["GPT partname local"]
        .iter()
        .map(|r| r[1..].join(" "))
        .collect();
    assert_eq!(names, ["Gap0", "EFI boot partition", "Gap1"]);
    assert_eq!(
        x["GPT type GUID"][1][1], "28732ac11ff8d211ba4b00a0c93ec93b",
        "EFI System type"
    );
    // sgdisk finds a valid GPT with no problems.
    let out = tool("sgdisk").arg("-v").arg(&img).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("No problems found"), "{text}");
    // sfdisk reads the same table.
    let dump = run(tool("sfdisk").arg("--dump").arg(&img));
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("label: gpt"), "{dump}");
    assert!(
        dump.contains("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        "{dump}"
    );
}

#[test]
fn grub2_boot_info_and_mbr_match_grub_mkrescue() {
    if !have("xorriso") || !have_file(GRUB_RESCUE) || !have_file(BOOT_HYBRID) {
        return;
    }
    let t = tempdir();
    let tree = t.path().join("tree");
    isoforge_ok(&["extract", GRUB_RESCUE, "-C", tree.to_str().unwrap()]);
    // The old catalog is a file of the tree; the new image makes its own.
    fs::remove_file(tree.join("boot.catalog")).unwrap();
    let img = t.path().join("g.iso");
    create(&[
        "-o",
        img.to_str().unwrap(),
        "--boot-bios",
        "/boot/grub/i386-pc/eltorito.img",
        "--boot-info-table",
        "--grub2-boot-info",
        "--system-area",
        BOOT_HYBRID,
        tree.to_str().unwrap(),
    ]);
    compare(&img);
    let ours = xorriso_report(&img);
    let theirs = xorriso_report(Path::new(GRUB_RESCUE));
    for key in [
        "System area summary",
        "El Torito img opts",
        "El Torito img path",
        "MBR heads per cyl",
        "MBR secs per head",
    ] {
        assert_eq!(ours.get(key), theirs.get(key), "{key}");
    }
    let (o, g) = (&ours["MBR partition"][0], &theirs["MBR partition"][0]);
    assert_eq!(
        (&o[1], &o[2], &o[3]),
        (&g[1], &g[2], &g[3]),
        "status, type, start"
    );
    // The GRUB2 boot info and the MBR address point at the boot image.
    let j = info_json(&img);
    let lba = j["el_torito"]["images"][0]["lba"].as_u64().unwrap();
    let stored = isoforge_ok(&[
        "cat",
        img.to_str().unwrap(),
        "/boot/grub/i386-pc/eltorito.img",
    ])
    .stdout;
    assert_eq!(
        u64::from_le_bytes(stored[2548..2556].try_into().unwrap()),
        lba * 4 + 5
    );
    assert_eq!(
        j["el_torito"]["images"][0]["boot_info_table"]["checksum_ok"],
        true
    );
    let raw = fs::read(&img).unwrap();
    assert_eq!(
        u64::from_le_bytes(raw[432..440].try_into().unwrap()),
        lba * 4 + 4
    );
}

#[test]
fn emulation_modes_sections_and_hidden_catalog() {
    if !have("xorriso") || !have_tool("mkfs.vfat") || !have_tool("sfdisk") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("img")).unwrap();
    fat_image(&src.join("img/floppy.img"), 1440);
    // A hard disk image: an MBR with one FAT16 partition.
    let hd = src.join("img/disk.img");
    fs::write(&hd, vec![0u8; 2 << 20]).unwrap();
    let mut sf = tool("sfdisk");
    sf.arg("--quiet")
        .arg(&hd)
        .stdin(std::process::Stdio::piped());
    let mut child = sf.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=63, type=6\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    fs::write(src.join("img/other.bin"), vec![0x90u8; 4096]).unwrap();
    fat_image(&src.join("img/efi.img"), 720);
    let img = t.path().join("e.iso");
    create(&[
        "-o",
        img.to_str().unwrap(),
        "--boot-bios",
        "/img/floppy.img",
        "--boot-emulation",
        "floppy",
        "--boot-entry",
        "path=/img/disk.img,emulation=hdd",
        "--boot-entry",
        "path=/img/other.bin,load-size=8,load-segment=0x1000,no-boot",
        "--boot-entry",
        "path=/img/efi.img,platform=efi",
        "--hide-boot-catalog",
        src.to_str().unwrap(),
    ]);
    compare(&img);
    let x = xorriso_report(&img);
    let rows = &x["El Torito boot img"];
    let cols = |i: usize| rows.iter().map(|r| r[i].as_str()).collect::<Vec<_>>();
    assert_eq!(cols(1), ["BIOS", "BIOS", "BIOS", "UEFI"], "platforms");
    assert_eq!(cols(2), ["y", "y", "n", "y"], "bootable");
    assert_eq!(cols(3), ["fd1.4", "hd", "none", "none"], "emulation");
    assert_eq!(cols(4), ["0x0000", "0x0000", "0x1000", "0x0000"], "segment");
    assert_eq!(cols(5), ["0x00", "0x06", "0x00", "0x00"], "partition type");
    assert_eq!(cols(6), ["1", "1", "8", "1440"], "load sizes");
    // Hidden: no path for the catalog, and no file in any name space.
    assert!(!x.contains_key("El Torito cat path"), "{x:?}");
    let ls = String::from_utf8(isoforge_ok(&["ls", img.to_str().unwrap(), "/"]).stdout).unwrap();
    assert!(!ls.contains("boot"), "{ls}");
    let l = run(Command::new("isoinfo").args(["-l", "-i"]).arg(&img));
    assert!(!String::from_utf8_lossy(&l.stdout).contains("BOOT"));
    // The same image with a visible catalog lists it as a one-block file.
    let vis = t.path().join("v.iso");
    create(&[
        "-o",
        vis.to_str().unwrap(),
        "--boot-entry",
        "path=/img/other.bin",
        src.to_str().unwrap(),
    ]);
    compare(&vis);
    let e = ls_entry(&vis, "/boot.catalog");
    assert_eq!(e["size"], 2048, "{e}");
    let l = run(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&vis));
    assert!(String::from_utf8_lossy(&l.stdout).contains("boot.catalog"));
}

#[test]
fn appended_partition_after_the_volume() {
    if !have("xorriso") || !have_tool("mkfs.vfat") || !have_tool("sgdisk") || !have_tool("mtype") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"data\n").unwrap();
    let esp = t.path().join("esp.img");
    fat_image(&esp, 2880);
    let img = t.path().join("p.iso");
    create(&[
        "-o",
        img.to_str().unwrap(),
        "--append-partition",
        &format!("2:0xef:{}", esp.display()),
        "--gpt",
        src.to_str().unwrap(),
    ]);
    compare(&img);
    let x = xorriso_report(&img);
    let sizes = &x["GPT start and size"];
    let names: Vec<String> = x["GPT partname local"]
        .iter()
        .map(|r| r[1..].join(" "))
        .collect();
    assert!(names.contains(&"Appended2".to_string()), "{names:?}");
    let n = names.iter().position(|n| n == "Appended2").unwrap();
    assert_eq!(sizes[n][0], "2", "GPT entry number");
    let start: u64 = sizes[n][1].parse().unwrap();
    // The partition starts after the ISO volume and holds the FAT file.
    let j = info_json(&img);
    let vol = j["volume_space_size"].as_u64().unwrap();
    assert!(start >= vol * 4, "{start} < {vol} * 4");
    assert_eq!(
        fs::metadata(&img).unwrap().len(),
        (start + 5760 + 600 + 64) * 512,
        "padding (a gap partition) and the backup GPT follow the partition"
    );
    let out = run(tool("mtype")
        .arg("-i")
        .arg(format!("{}@@{}", img.display(), start * 512))
        .arg("::/hello.txt"));
    assert_eq!(out.stdout, b"inside the FAT\n");
    let v = tool("sgdisk").arg("-v").arg(&img).output().unwrap();
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains("No problems found"), "{text}");
    // The ISO 9660 side still reads.
    let cat = isoforge_ok(&["cat", img.to_str().unwrap(), "/a.txt"]).stdout;
    assert_eq!(cat, b"data\n");
    let l = run(Command::new("xorriso")
        .args(["-indev"])
        .arg(&img)
        .args(["-find", "/", "-name", "a.txt"]));
    assert!(String::from_utf8_lossy(&l.stdout).contains("a.txt"));
}

#[test]
fn refusals_name_the_problem() {
    if !have_file(ISOHDPFX) {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::write(src.join("isolinux/isolinux.bin"), vec![0x90u8; 4096]).unwrap();
    fs::write(src.join("small.img"), vec![0u8; 4096]).unwrap();
    let out_iso = t.path().join("x.iso");
    let o = out_iso.to_str().unwrap();
    let s = src.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--boot-bios",
                "/isolinux/isolinux.bin",
                "--system-area",
                ISOHDPFX,
            ],
            "isohybrid signature",
        ),
        (&["--boot-bios", "/missing.bin"], "/missing.bin"),
        (
            &["--boot-bios", "/small.img", "--boot-emulation", "floppy"],
            "floppy",
        ),
        (&["--boot-info-table"], "--boot-bios"),
    ];
    for (extra, want) in cases {
        let args = [&["create", "-o", o][..], extra, &[s]].concat();
        let out = isoforge(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out_iso.exists(), "{args:?} left an image");
    }
}

/// A reproducible hybrid build of `src` into `img`, with the EFI entry or not.
fn reproducible_build(src: &Path, img: &Path, efi: bool) -> Vec<u8> {
    let mut c = Command::new(bin());
    c.env("SOURCE_DATE_EPOCH", "1700000000").args([
        "create",
        "-o",
        img.to_str().unwrap(),
        "--reproducible",
        "--boot-bios",
        "/isolinux/isolinux.bin",
        "--boot-info-table",
        "--system-area",
        ISOHDPFX,
        "--gpt",
    ]);
    if efi {
        c.args(["--boot-efi", "/boot/grub/efi.img"]);
    }
    run(c.arg(src));
    fs::read(img).unwrap()
}

#[test]
fn reproducible_hybrid_images_are_identical() {
    if !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have_tool("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let src = boot_tree(t.path());
    let first = reproducible_build(&src, &t.path().join("r1.iso"), true);
    // Touching the tree between builds changes nothing under a fixed epoch.
    fs::write(src.join("readme.txt"), b"a file\n").unwrap();
    let second = reproducible_build(&src, &t.path().join("r2.iso"), true);
    assert!(first == second, "two reproducible builds differ");
    // A different tree gives a different disk signature and GPT GUIDs.
    fs::write(src.join("more.txt"), b"x").unwrap();
    let third = reproducible_build(&src, &t.path().join("r3.iso"), true);
    assert_ne!(third[440..444], first[440..444], "disk signature");
    assert_ne!(
        third[512 + 56..512 + 72],
        first[512 + 56..512 + 72],
        "disk GUID"
    );
    let fourth = reproducible_build(&src, &t.path().join("r4.iso"), false);
    assert_ne!(
        fourth[512 + 56..512 + 72],
        third[512 + 56..512 + 72],
        "disk GUID"
    );
}

#[test]
fn apple_partition_map_as_xorriso_writes_it() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have_tool("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let src = boot_tree(t.path());
    let img = t.path().join("apm.iso");
    create(&[
        "-o",
        img.to_str().unwrap(),
        "--boot-bios",
        "/isolinux/isolinux.bin",
        "--boot-info-table",
        "--boot-efi",
        "/boot/grub/efi.img",
        "--system-area",
        ISOHDPFX,
        "--gpt",
        "--apm",
        src.to_str().unwrap(),
    ]);
    compare(&img);
    let x = xorriso_report(&img);
    assert_eq!(
        x["System area summary"][0],
        ["MBR", "isohybrid", "cyl-align-on", "GPT", "APM"]
    );
    assert_eq!(x["APM block size"][0], ["2048"]);
    assert_eq!(x["APM partition name"][0][1..], ["EFI"]);
    assert_eq!(x["APM partition type"][0][1..], ["Apple_HFS"]);
    assert_eq!(x["APM partition path"][0][1], "/boot/grub/efi.img");
    // The GPT entry array moves past the map, as in xorriso's images.
    assert_eq!(x["GPT entry array"][0][..2], ["12", "208"]);
    let efi_lba = &x["El Torito boot img"][1][7];
    assert_eq!(&x["APM start and size"][0][1], efi_lba);
}

#[test]
fn hybrid_mbr_without_boot_code() {
    if !have("xorriso") || !have_tool("mkfs.vfat") || !have_tool("sfdisk") || !have_tool("mtype") {
        return;
    }
    let t = tempdir();
    let img = efi_image(t.path(), "--hybrid-mbr");
    compare(&img);
    let raw = fs::read(&img).unwrap();
    assert!(raw[..440].iter().all(|&b| b == 0), "no boot code");
    let dump = run(tool("sfdisk").arg("--dump").arg(&img));
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("label: dos"), "{dump}");
    assert!(dump.contains("type=ef"), "{dump}");
    let x = xorriso_report(&img);
    let efi_start = x["MBR partition"][1][3].parse::<u64>().unwrap();
    assert_eq!(
        x["MBR partition"][0][3], "0",
        "partition 1 covers the image"
    );
    let out = run(tool("mtype")
        .arg("-i")
        .arg(format!("{}@@{}", img.display(), efi_start * 512))
        .arg("::/hello.txt"));
    assert_eq!(out.stdout, b"inside the FAT\n");
}
