//! What `modify` keeps of unusual images, and what it refuses, saying why:
//! boot images that no directory lists are copied when the image records
//! their length (floppy and hard disk emulation, a boot info table, a FAT
//! boot sector) and refused otherwise; data in the system area that is not
//! part of its MBR, GPT or Apple partition map, Apple partition map entries
//! that are not rebuilt, and UDF are refused with the reason, and dropped
//! with `--force`. Boot entries are judged by xorriso's El Torito report and
//! by the bytes at the block addresses xorriso reads from the catalog.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "common/boot_tree.rs"]
mod boot_tree;
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use boot_tree::make_floppy;
use common::xorriso::boot_setup;
use common::*;

const ISOLINUX: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `isoforge modify IMG -o OUT` plus `extra` arguments.
fn modify(img: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["modify", img.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    isoforge(&args)
}

/// Asserts that `modify` refuses `img` (exit 2, nothing written) with a
/// message holding every one of `why`, and that with `--force` it writes
/// an image and says what it dropped. Returns the forced result.
fn refused_then_forced(img: &Path, dir: &Path, why: &[&str]) -> PathBuf {
    let out = dir.join("refused.iso");
    let o = modify(img, &out, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for w in why.iter().chain(&["--force"]) {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists());
    let forced = dir.join("forced.iso");
    let o = modify(img, &forced, &["--force"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("dropped: ") && err.contains(why[0]), "{err}");
    forced
}

/// El Torito entries as xorriso reports them: (platform, emulation,
/// load size, block address).
fn entries(img: &Path) -> Vec<(String, String, String, u64)> {
    let out = run(Command::new("xorriso")
        .arg("-indev")
        .arg(img)
        .args(["-report_el_torito", "plain"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("El Torito boot img :"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[1].to_string(),
                f[3].to_string(),
                f[6].to_string(),
                f[7].parse().unwrap(),
            )
        })
        .collect()
}

/// xorriso's boot report, addresses aside, without its guesses at the
/// length of boot images that no directory lists (the blocks up to the
/// next thing it knows).
fn setup_sans_guesses(img: &Path) -> Vec<String> {
    boot_setup(img)
        .into_iter()
        .filter(|l| !l.starts_with("El Torito img blks"))
        .collect()
}

/// `len` bytes of `img` at 2048-byte block `lba`.
fn bytes_at(img: &Path, lba: u64, len: usize) -> Vec<u8> {
    let data = fs::read(img).unwrap();
    let at = usize::try_from(lba * 2048).unwrap();
    data[at..at + len].to_vec()
}

/// Whether `img` lists `name` anywhere, in any of its trees (isoinfo).
fn listed(img: &Path, name: &str) -> bool {
    [false, true]
        .into_iter()
        .any(|joliet| isoinfo_names(img, joliet).keys().any(|p| p.contains(name)))
}

/// A FAT image of 2 MiB, the shape of an EFI system partition image.
fn fat(path: &Path) {
    run(tool("mkfs.vfat")
        .args(["-n", "ESP", "-C"])
        .arg(path)
        .arg("2048"));
}

#[test]
fn boot_images_in_no_directory_are_kept_when_their_length_is_recorded() {
    if !have("xorriso") || !have("isoinfo") || !have_tool("mkfs.vfat") || !have_file(ISOLINUX) {
        return;
    }
    let t = tempdir();
    // A floppy image and a UEFI FAT image that no directory lists.
    let src = t.path().join("src");
    fs::create_dir_all(src.join("boot")).unwrap();
    make_floppy(&src.join("boot/floppy.img"));
    fat(&src.join("boot/efi.img"));
    fs::write(src.join("readme.txt"), b"hidden boot images\n").unwrap();
    let img = t.path().join("hidden.iso");
    let hide = |c: &mut Command, rel: &str| {
        let p = src.join(rel);
        c.arg("-hide").arg(&p).arg("-hide-joliet").arg(&p);
    };
    let mut c = Command::new("xorriso");
    c.args(["-as", "mkisofs", "-quiet", "-r", "-J"])
        .args(["-b", "boot/floppy.img", "-c", "boot/boot.cat"])
        .args(["-eltorito-alt-boot", "-e", "boot/efi.img", "-no-emul-boot"]);
    hide(&mut c, "boot/floppy.img");
    hide(&mut c, "boot/efi.img");
    run(c.arg("-o").arg(&img).arg(&src));
    assert!(!listed(&img, "floppy") && !listed(&img, "efi.img"));
    let out = t.path().join("kept.iso");
    let o = modify(&img, &out, &["--rm", "/readme.txt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(setup_sans_guesses(&img), setup_sans_guesses(&out));
    assert!(!listed(&out, "floppy") && !listed(&out, "efi.img"));
    let (a, b) = (entries(&img), entries(&out));
    assert_eq!(a.len(), 2);
    for ((e, file), kept) in b.iter().zip(["boot/floppy.img", "boot/efi.img"]).zip(&a) {
        assert_eq!((&e.0, &e.1, &e.2), (&kept.0, &kept.1, &kept.2));
        let want = fs::read(src.join(file)).unwrap();
        assert!(
            bytes_at(&out, e.3, want.len()) == want,
            "{file} is not at block {} of the result",
            e.3
        );
    }

    // isolinux.bin with a boot info table, which gives its length.
    let src = t.path().join("src2");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    let hidden = src.join("isolinux/isolinux.bin");
    let img = t.path().join("isolinux.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r", "-J"])
        .args(["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .arg("-hide")
        .arg(&hidden)
        .arg("-hide-joliet")
        .arg(&hidden)
        .arg("-o")
        .arg(&img)
        .arg(&src));
    assert!(!listed(&img, "isolinux.bin"));
    let out = t.path().join("isolinux-kept.iso");
    let o = modify(&img, &out, &["--mkdir", "/new"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(setup_sans_guesses(&img), setup_sans_guesses(&out));
    let e = &entries(&out)[0];
    let want = fs::read(ISOLINUX).unwrap();
    let got = bytes_at(&out, e.3, want.len());
    // The boot info table names the new block; the rest is isolinux.bin.
    let word = |at: usize| u32::from_le_bytes(got[at..at + 4].try_into().unwrap());
    assert_eq!(
        (word(8), word(12), word(16)),
        (16, e.3 as u32, want.len() as u32)
    );
    assert!(got[64..] == want[64..] && got[..8] == want[..8]);
}

#[test]
fn a_boot_image_in_no_directory_of_unrecorded_length_is_refused() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("boot")).unwrap();
    fs::write(src.join("boot/loader.bin"), bytes(5, 6000)).unwrap();
    fs::write(src.join("readme.txt"), b"x\n").unwrap();
    let hidden = src.join("boot/loader.bin");
    let img = t.path().join("unknown-length.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r"])
        .args(["-b", "boot/loader.bin", "-c", "boot/boot.cat"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-hide"])
        .arg(&hidden)
        .arg("-o")
        .arg(&img)
        .arg(&src));
    let forced = refused_then_forced(
        &img,
        t.path(),
        &[
            "boot image 1 (block",
            "is a file of no directory",
            "records its length only in a boot info table or as a FAT file system",
        ],
    );
    assert!(entries(&forced).is_empty());
    assert_eq!(
        isoforge_ok(&["cat", forced.to_str().unwrap(), "/readme.txt"]).stdout,
        b"x\n"
    );
}

/// An image with an isohybrid MBR, made by xorriso; with a GPT, and with
/// an Apple partition map.
fn isohybrid(dir: &Path, gpt: bool, apm: bool) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fat(&src.join("efi.img"));
    let img = dir.join(if apm { "apm.iso" } else { "hybrid.iso" });
    let mut c = Command::new("xorriso");
    c.args(["-as", "mkisofs", "-quiet", "-r", "-J"])
        .args(["-isohybrid-mbr", ISOHDPFX])
        .args(["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .args(["-eltorito-alt-boot", "-e", "efi.img", "-no-emul-boot"]);
    if gpt {
        c.arg("-isohybrid-gpt-basdat");
    }
    if apm {
        c.arg("-isohybrid-apm-hfsplus");
    }
    run(c.arg("-o").arg(&img).arg(&src));
    img
}

fn patch(img: &Path, at: usize, bytes: &[u8]) {
    let mut raw = fs::read(img).unwrap();
    raw[at..at + bytes.len()].copy_from_slice(bytes);
    fs::write(img, raw).unwrap();
}

#[test]
fn system_area_data_of_unknown_meaning_is_refused_with_the_reason() {
    if !have("xorriso") || !have_tool("mkfs.vfat") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) {
        return;
    }
    let t = tempdir();
    let img = isohybrid(t.path(), false, false);
    // The image as made is kept.
    let out = t.path().join("plain.iso");
    assert_eq!(modify(&img, &out, &[]).status.code(), Some(0));
    // Bytes past the MBR, which nothing accounts for.
    patch(&img, 20_000, &[0xa5; 100]);
    let forced = refused_then_forced(
        &img,
        t.path(),
        &[
            "bytes 20000-20099 of the system area",
            "not part of its MBR, GPT or Apple partition map",
        ],
    );
    assert!(bytes_at(&forced, 0, 32768)[20_000..20_100]
        .iter()
        .all(|&b| b == 0));
    assert_eq!(setup_sans_guesses(&img), setup_sans_guesses(&forced));

    // No MBR signature: the system area is something else altogether.
    let dir = t.path().join("b");
    fs::create_dir(&dir).unwrap();
    let img = isohybrid(&dir, true, false);
    patch(&img, 510, &[0, 0]);
    refused_then_forced(
        &img,
        &dir,
        &[
            "data in the system area that is not an MBR",
            "bytes 510-511 are not 0x55 0xAA",
        ],
    );
}

#[test]
fn apple_partition_map_entries_that_are_not_rebuilt_are_refused_with_the_reason() {
    if !have("xorriso") || !have_tool("mkfs.vfat") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) {
        return;
    }
    let t = tempdir();
    let img = isohybrid(t.path(), true, true);
    let out = t.path().join("apm-kept.iso");
    assert_eq!(modify(&img, &out, &[]).status.code(), Some(0));
    // Rename the HFS entry of the EFI image: it is then an entry isoforge
    // does not know how to rebuild. Entries are 2048-byte blocks from
    // block 1, "PM" first, the name at byte 16 and the type at byte 48.
    let raw = fs::read(&img).unwrap();
    let at = (1..16)
        .map(|b| b * 2048)
        .find(|&o| &raw[o..o + 2] == b"PM" && raw[o + 16..].starts_with(b"EFI\0"))
        .expect("no HFS entry named EFI");
    patch(&img, at + 16, b"Rescue\0");
    refused_then_forced(
        &img,
        t.path(),
        &[
            "the Apple partition map",
            "\"Apple_HFS\" \"Rescue\"",
            "isoforge rebuilds the map, free space and Apple_HFS entries named EFI",
        ],
    );
}

#[test]
fn udf_is_refused_with_the_reason() {
    if !have("genisoimage") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"in both trees\n").unwrap();
    let img = t.path().join("udf.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-udf", "-R", "-o"])
        .arg(&img)
        .arg(&src));
    let forced = refused_then_forced(
        &img,
        t.path(),
        &[
            "UDF file system",
            "its descriptors give the blocks of every file",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", forced.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["udf"]["present"], false);
    assert_eq!(
        isoforge_ok(&["cat", forced.to_str().unwrap(), "/a.txt"]).stdout,
        b"in both trees\n"
    );
}
