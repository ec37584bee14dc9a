//! `modify`: remastered real and xorriso-built images keep every untouched
//! file, name and attribute and their boot setup, judged by xorriso and
//! isoinfo rather than only by our own reader.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::xorriso::boot_setup;
use common::*;

const GRUB_RESCUE: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
const IPXE: &str = "/usr/lib/ipxe/ipxe.iso";
const ISOLINUX: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";

/// `xorriso -find / -exec lsdl` lines by path: mode, links, owner, group,
/// size and time as xorriso reads them from Rock Ridge.
fn xorriso_lsdl(img: &Path) -> BTreeMap<String, String> {
    let out = run(Command::new("xorriso")
        .arg("-indev")
        .arg(img)
        .args(["-find", "/", "-exec", "lsdl"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let q = l.find('\'')?;
            let path = l[q..].trim_matches('\'').to_string();
            Some((
                path,
                l[..q].split_whitespace().collect::<Vec<_>>().join(" "),
            ))
        })
        .collect()
}

/// Files extracted by xorriso, as (kind, size, digest, target) per path.
fn xorriso_files(
    img: &Path,
    dir: &Path,
) -> BTreeMap<String, (char, u64, Option<u64>, Option<String>)> {
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(img)
        .args(["-extract", "/"])
        .arg(dir));
    snapshot(dir)
        .into_iter()
        .map(|(p, n)| (p, (n.kind, n.size, n.digest, n.target)))
        .collect()
}

/// Asserts that `a` and `b` agree on every key except `changed`.
fn same_except<V: PartialEq + std::fmt::Debug>(
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    changed: &[&str],
) {
    let skip = |p: &str| {
        changed
            .iter()
            .any(|c| p == *c || p.strip_prefix(*c).is_some_and(|r| r.starts_with('/')))
    };
    let ka: Vec<&String> = a.keys().filter(|k| !skip(k)).collect();
    let kb: Vec<&String> = b.keys().filter(|k| !skip(k)).collect();
    assert_eq!(ka, kb, "{what}: paths");
    for k in ka {
        assert_eq!(a[k], b[k], "{what}: {k}");
    }
}

/// Remasters `orig` (add a file, remove one) and checks everything the
/// change must keep. `boot_files` are the boot images and catalog, whose
/// bytes carry their new addresses.
fn remaster_and_check(orig: &Path, remove: &str, boot_files: &[&str]) {
    let t = tempdir();
    let new_file = autoinstall_yaml(t.path());
    let out = t.path().join("out.iso");
    remaster_add_rm(orig, &out, ("/autoinstall.yaml", &new_file), remove);
    // Our diff, layout aside, names exactly the two changes.
    assert_diff_lists(orig, &out, &["+ /autoinstall.yaml", &format!("- {remove}")]);
    // xorriso sees the same boot setup, addresses aside.
    assert_eq!(boot_setup(orig), boot_setup(&out), "{}", orig.display());
    // xorriso sees every untouched file with its Rock Ridge attributes and
    // its bytes.
    let mut changed = vec!["/autoinstall.yaml", remove];
    same_except("lsdl", &xorriso_lsdl(orig), &xorriso_lsdl(&out), &changed);
    changed.extend_from_slice(boot_files);
    same_except(
        "contents",
        &xorriso_files(orig, &t.path().join("a")),
        &xorriso_files(&out, &t.path().join("b")),
        &changed,
    );
    // The added file is there, byte for byte.
    let got = isoforge_ok(&["cat", out.to_str().unwrap(), "/autoinstall.yaml"]).stdout;
    assert_eq!(got, fs::read(&new_file).unwrap());
    // Names in the other name spaces are kept (isoinfo).
    if have("isoinfo") {
        let d = run(Command::new("isoinfo").args(["-d", "-i"]).arg(orig));
        let has_joliet = String::from_utf8_lossy(&d.stdout).contains("Joliet with UCS level");
        for joliet in [false, true].into_iter().filter(|&j| !j || has_joliet) {
            let (a, b) = (isoinfo_names(orig, joliet), isoinfo_names(&out, joliet));
            let strip = |m: BTreeMap<String, bool>| -> BTreeMap<String, bool> {
                m.into_iter()
                    .filter(|(k, _)| {
                        let k = k.to_ascii_lowercase();
                        let r = remove.to_ascii_lowercase();
                        // Short ISO 9660 names are a prefix of the removed
                        // path; longer ones have it as their prefix.
                        !k.contains("autoinstall") && !k.starts_with(&r) && !r.starts_with(&k)
                    })
                    .collect()
            };
            if !a.is_empty() {
                assert_eq!(strip(a), strip(b), "names (joliet: {joliet})");
            }
        }
    }
}

#[test]
fn remaster_grub_rescue() {
    if !have("xorriso") || !have_file(GRUB_RESCUE) {
        return;
    }
    remaster_and_check(
        Path::new(GRUB_RESCUE),
        "/boot/grub/roms",
        &["/boot.catalog", "/boot/grub/i386-pc/eltorito.img"],
    );
}

#[test]
fn remaster_ipxe() {
    if !have("xorriso") || !have_file(IPXE) {
        return;
    }
    let list = String::from_utf8(isoforge_ok(&["ls", IPXE, "/"]).stdout).unwrap();
    assert!(list.lines().any(|l| l.trim() == "ipxe.krn"), "{list}");
    remaster_and_check(
        Path::new(IPXE),
        "/ipxe.krn",
        &["/boot.cat", "/isolinux.bin"],
    );
}

/// An empty 1.44 MB FAT image made by mkfs.vfat.
fn fat_image(path: &Path) {
    let mut c = Command::new("mkfs.vfat");
    let path_var = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{path_var}:/usr/sbin:/sbin"));
    run(c.arg("-C").arg(path).arg("1440"));
}

/// An image like Debian's installer media, made by xorriso.
fn debian_like(dir: &Path, apm: bool) -> std::path::PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    fs::create_dir_all(src.join("pool/main/a/deep/er/and/deeper/still/more/levels")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fs::write(src.join("isolinux/isolinux.cfg"), b"default x\n").unwrap();
    fs::write(src.join("md5sum.txt"), b"sums\n").unwrap();
    fs::write(
        src.join("pool/main/a/deep/er/and/deeper/still/more/levels/A Long Name With Spaces.deb"),
        bytes(7, 300_000),
    )
    .unwrap();
    std::os::unix::fs::symlink("isolinux/isolinux.cfg", src.join("link")).unwrap();
    fat_image(&src.join("boot/grub/efi.img"));
    let img = dir.join("debian.iso");
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-r",
            "-J",
            "-joliet-long",
            "-V",
            "Debian test",
        ])
        .args(["-isohybrid-mbr", ISOHDPFX])
        .args(["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat"])
        .args(["-boot-load-size", "4", "-boot-info-table", "-no-emul-boot"])
        .args([
            "-eltorito-alt-boot",
            "-e",
            "boot/grub/efi.img",
            "-no-emul-boot",
        ])
        .args(["-isohybrid-gpt-basdat"])
        .args(if apm {
            &["-isohybrid-apm-hfsplus"][..]
        } else {
            &[][..]
        })
        .arg("-o")
        .arg(&img)
        .arg(&src));
    img
}

#[test]
fn remaster_debian_like_image() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let img = debian_like(t.path(), false);
    remaster_and_check(
        &img,
        "/md5sum.txt",
        &["/isolinux/boot.cat", "/isolinux/isolinux.bin"],
    );
}

#[test]
fn moves_directories_labels_and_replaced_boot_images() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let img = debian_like(t.path(), false);
    let extra = t.path().join("extra");
    fs::create_dir_all(extra.join("sub")).unwrap();
    fs::write(extra.join("sub/one.txt"), b"one\n").unwrap();
    fs::write(extra.join("isolinux.cfg"), b"default y\n").unwrap();
    let out = t.path().join("out.iso");
    let o = out.to_str().unwrap();
    isoforge_ok(&[
        "modify",
        img.to_str().unwrap(),
        "-o",
        o,
        "-V",
        "REMASTERED",
        "--mkdir",
        "/empty/dir",
        "--mv",
        "/pool=/archive",
        "--add",
        &format!("/isolinux={}", extra.display()),
    ]);
    let pvd = run(Command::new("isoinfo").args(["-d", "-i"]).arg(&out));
    assert!(String::from_utf8_lossy(&pvd.stdout).contains("Volume id: REMASTERED"));
    let ls = xorriso_lsdl(&out);
    assert!(ls.contains_key("/empty/dir"), "{ls:?}");
    assert!(ls.contains_key(
        "/archive/main/a/deep/er/and/deeper/still/more/levels/A Long Name With Spaces.deb"
    ));
    assert!(!ls.keys().any(|k| k.starts_with("/pool")));
    assert!(ls.contains_key("/isolinux/sub/one.txt"));
    let cfg = isoforge_ok(&["cat", o, "/isolinux/isolinux.cfg"]).stdout;
    assert_eq!(
        cfg, b"default y\n",
        "a file of an added directory replaces the old one"
    );
    assert_eq!(boot_setup(&img), boot_setup(&out));
    // Replacing the BIOS boot image itself: the new one is used and patched.
    let mut bin = fs::read(ISOLINUX).unwrap();
    let n = bin.len();
    bin[n - 1] ^= 0xff;
    let new_bin = t.path().join("isolinux.bin");
    fs::write(&new_bin, &bin).unwrap();
    let out2 = t.path().join("out2.iso");
    isoforge_ok(&[
        "modify",
        o,
        "-o",
        out2.to_str().unwrap(),
        "--add",
        &format!("/isolinux/isolinux.bin={}", new_bin.display()),
    ]);
    let stored = isoforge_ok(&["cat", out2.to_str().unwrap(), "/isolinux/isolinux.bin"]).stdout;
    assert_eq!(stored[64..], bin[64..]);
    let j: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", out2.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(
        j["el_torito"]["images"][0]["boot_info_table"]["checksum_ok"],
        true
    );
    assert_eq!(
        j["el_torito"]["images"][0]["path"],
        "/isolinux/isolinux.bin"
    );
}

#[test]
fn zisofs_files_stay_compressed() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let text: Vec<u8> = (0..400_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    fs::write(src.join("big.txt"), &text).unwrap();
    let img = t.path().join("z.iso");
    run(Command::new("xorriso")
        .args(["-outdev"])
        .arg(&img)
        .args(["-zisofs", "level=9", "-map"])
        .arg(&src)
        .args([
            "/",
            "-find",
            "/big.txt",
            "-exec",
            "set_filter",
            "--zisofs",
            "--",
            "-commit",
        ]));
    let json = |i: &Path| -> serde_json::Value { ls_entry(i, "/big.txt") };
    let before = json(&img);
    let out = t.path().join("out.iso");
    let extra = t.path().join("x.txt");
    fs::write(&extra, b"x").unwrap();
    isoforge_ok(&[
        "modify",
        img.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--add",
        &format!("/x.txt={}", extra.display()),
    ]);
    let after = json(&out);
    let (b0, a0) = (before, after);
    assert_eq!(a0["size"], b0["size"]);
    let stored = |v: &serde_json::Value| -> u64 {
        v["extents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["len"].as_u64().unwrap())
            .sum()
    };
    assert!(
        stored(&a0) < text.len() as u64 / 2,
        "still compressed: {a0}"
    );
    assert_eq!(stored(&a0), stored(&b0));
    // xorriso decompresses it to the original bytes.
    let dir = t.path().join("x");
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&out)
        .args(["-extract", "/big.txt"])
        .arg(&dir));
    assert_eq!(fs::read(&dir).unwrap(), text);
}

#[test]
fn uefi_boot_image_in_an_appended_partition_is_kept() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fs::write(src.join("notes.txt"), b"notes\n").unwrap();
    let efi = t.path().join("efi.img");
    fat_image(&efi);
    // The UEFI boot image is an appended partition, not a file of the tree.
    let img = t.path().join("appended.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r", "-isohybrid-mbr", ISOHDPFX])
        .args([
            "-b",
            "isolinux/isolinux.bin",
            "-c",
            "boot.cat",
            "-no-emul-boot",
        ])
        .args([
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-append_partition",
            "2",
            "0xef",
        ])
        .arg(&efi)
        .args([
            "-eltorito-alt-boot",
            "-e",
            "--interval:appended_partition_2:all::",
        ])
        .args(["-no-emul-boot", "-o"])
        .arg(&img)
        .arg(&src));
    remaster_and_check(&img, "/notes.txt", &["/boot.cat", "/isolinux/isolinux.bin"]);
}

#[test]
fn what_cannot_be_kept_is_refused_without_force() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let src = isolinux_efi_tree(t.path());
    let img = t.path().join("odd.iso");
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-r",
            "-J",
            "-isohybrid-mbr",
            ISOHDPFX,
        ])
        .args([
            "-b",
            "isolinux/isolinux.bin",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
        ])
        .arg("-o")
        .arg(&img)
        .arg(&src));
    // Boot code of unknown kind: it would point at blocks that move.
    let mut raw = fs::read(&img).unwrap();
    for (i, b) in raw[..440].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(1);
    }
    fs::write(&img, &raw).unwrap();
    let out = t.path().join("out.iso");
    let r = isoforge(&["modify", img.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("neither isohybrid nor GRUB2") && err.contains("--force"),
        "{err}"
    );
    assert!(!out.exists());
    let r = isoforge_ok(&[
        "modify",
        img.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("dropped: boot code in the MBR"), "{err}");
    let x = xorriso_report_text(&out);
    assert!(x.contains("El Torito boot img: 1 BIOS"), "{x}");
}

#[test]
fn remaster_debian_like_image_with_apple_partition_map() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let img = debian_like(t.path(), true);
    assert!(boot_setup(&img)
        .iter()
        .any(|l| l.starts_with("APM partition type")));
    remaster_and_check(
        &img,
        "/md5sum.txt",
        &["/isolinux/boot.cat", "/isolinux/isolinux.bin"],
    );
}

/// A tree with isolinux.bin, an empty FAT image at Debian's EFI image path
/// and a text file.
fn isolinux_efi_tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fs::write(src.join("notes.txt"), b"notes\n").unwrap();
    fat_image(&src.join("boot/grub/efi.img"));
    src
}

/// xorriso's boot report as text.
fn xorriso_report_text(img: &Path) -> String {
    boot_setup(img).join("\n")
}

#[test]
fn remaster_keeps_a_partition_offset() {
    if !have("xorriso") || !have_file(ISOLINUX) || !have_file(ISOHDPFX) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let src = isolinux_efi_tree(t.path());
    let img = t.path().join("offset.iso");
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-r",
            "-J",
            "-partition_offset",
            "16",
        ])
        .args(["-isohybrid-mbr", ISOHDPFX, "-b", "isolinux/isolinux.bin"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .args([
            "-eltorito-alt-boot",
            "-e",
            "boot/grub/efi.img",
            "-no-emul-boot",
        ])
        .args(["-isohybrid-gpt-basdat", "-o"])
        .arg(&img)
        .arg(&src));
    assert!(boot_setup(&img).contains(&"Partition offset: 16".to_string()));
    remaster_and_check(
        &img,
        "/notes.txt",
        &["/boot.catalog", "/isolinux/isolinux.bin"],
    );
}

/// An image laid out like Ubuntu's: GRUB2 MBR behind a protective label,
/// partition offset 16, the EFI System Partition appended as GPT partition 2
/// and booted by El Torito from there.
fn ubuntu_like(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("tree");
    isoforge_ok(&["extract", GRUB_RESCUE, "-C", tree.to_str().unwrap()]);
    fs::remove_file(tree.join("boot.catalog")).unwrap();
    fs::write(tree.join("README.diskdefines"), b"#define DISKNAME Test\n").unwrap();
    let efi = dir.join("efi.img");
    fat_image(&efi);
    let img = dir.join("ubuntu.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r", "-V", "Ubuntu test"])
        .args(["--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img"])
        .args(["--protective-msdos-label", "-partition_cyl_align", "off"])
        .args(["-partition_offset", "16", "--mbr-force-bootable"])
        .args(["-append_partition", "2", "28732ac11ff8d211ba4b00a0c93ec93b"])
        .arg(&efi)
        .args(["-appended_part_as_gpt", "-c", "/boot.catalog"])
        .args(["-b", "/boot/grub/i386-pc/eltorito.img", "-no-emul-boot"])
        .args([
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "--grub2-boot-info",
        ])
        .args([
            "-eltorito-alt-boot",
            "-e",
            "--interval:appended_partition_2:all::",
        ])
        .args(["-no-emul-boot", "-o"])
        .arg(&img)
        .arg(&tree));
    img
}

#[test]
fn remaster_ubuntu_like_image() {
    if !have("xorriso") || !have_file(GRUB_RESCUE) || !have("mkfs.vfat") {
        return;
    }
    let t = tempdir();
    let img = ubuntu_like(t.path());
    let setup = boot_setup(&img);
    for want in [
        "Partition offset: 16",
        "GPT partname local: 2 Appended2",
        "System area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT",
    ] {
        assert!(setup.iter().any(|l| l == want), "{want}: {setup:#?}");
    }
    remaster_and_check(
        &img,
        "/README.diskdefines",
        &["/boot.catalog", "/boot/grub/i386-pc/eltorito.img"],
    );
}
