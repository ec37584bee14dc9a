//! `create --partition-offset 16`: the image, and the partition cut out of
//! it, are each a complete ISO 9660 + Joliet + Rock Ridge file system with
//! the source tree's contents (read by xorriso, isoinfo, 7z, bsdtar and
//! isoforge), and the system area is the one xorriso writes for
//! `-partition_offset 16` with the same options.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";
const ISOLINUX: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const LDLINUX: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";
/// The partition offset under test, in 2048-byte blocks.
const OFFSET: u64 = 16;

/// Our options for a BIOS-bootable isohybrid image with a GPT.
const HYBRID: &[&str] = &[
    "--system-area",
    ISOHDPFX,
    "--boot-bios",
    "/isolinux/isolinux.bin",
    "--boot-info-table",
    "--gpt",
];

/// xorriso's options for the same, but for `-isohybrid-gpt-basdat`, without
/// which xorriso writes no GPT, and which also gives the BIOS boot image a
/// GPT entry and an MBR partition of its own (see [`without_partition_2`]).
const XORRISO_HYBRID: &[&str] = &[
    "-isohybrid-mbr",
    ISOHDPFX,
    "-b",
    "isolinux/isolinux.bin",
    "-c",
    "boot.catalog",
    "-no-emul-boot",
    "-boot-load-size",
    "4",
    "-boot-info-table",
];

fn oracles_ready() -> bool {
    ["xorriso", "isoinfo", "7z", "bsdtar", "fdisk"]
        .iter()
        .all(|t| have(t))
        && [ISOHDPFX, ISOLINUX, LDLINUX].iter().all(|f| have_file(f))
}

/// The generated tree (deep directories, long and non-ASCII names,
/// symlinks, hard links) with isolinux, a stand-in EFI image and a file
/// large enough to take the image past one MBR cylinder (1 MiB).
fn tree(t: &Path) -> PathBuf {
    let src = t.join("src");
    make_tree(&src, TreeSpec::FULL);
    fs::create_dir(src.join("isolinux")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fs::copy(LDLINUX, src.join("isolinux/ldlinux.c32")).unwrap();
    fs::write(src.join("efi.img"), bytes(7, 64 * 1024)).unwrap();
    fs::write(src.join("big.bin"), bytes(8, 1_200_000)).unwrap();
    src
}

fn create(src: &Path, out: &Path, extra: &[&str]) {
    let mut a = vec![
        "create",
        "-q",
        "--partition-offset",
        "16",
        "-o",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    a.push(src.to_str().unwrap());
    isoforge_ok(&a);
}

fn xorriso_create(src: &Path, out: &Path, extra: &[&str]) {
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-R",
            "-J",
            "-partition_offset",
            "16",
            "-o",
        ])
        .arg(out)
        .args(extra)
        .arg(src));
}

/// The partition that starts at the offset, cut out as a file of its own.
fn cut_partition(img: &Path) -> PathBuf {
    let part = img.with_extension("part.iso");
    run(Command::new("dd")
        .arg(format!("if={}", img.display()))
        .arg(format!("of={}", part.display()))
        .arg("bs=2048")
        .arg(format!("skip={OFFSET}"))
        .arg("status=none"));
    part
}

/// The source tree as the image holds it. With `boot`, a boot image with a
/// boot info table differs from its source in bytes 8-63, and only there,
/// and the boot catalog is a file of the root, read-only, dated when the
/// image was made (the volume's creation date, by xorriso).
fn expected(src: &Path, img: &Path, boot: bool) -> BTreeMap<String, Node> {
    let mut e = snapshot(src);
    if boot {
        let cat = isoforge_ok(&["cat", img.to_str().unwrap(), "/boot.catalog"]).stdout;
        assert_eq!(cat.len(), 2048, "boot catalog size");
        e.insert(
            "/boot.catalog".into(),
            Node {
                kind: 'f',
                size: 2048,
                mode: 0o444,
                mtime: common::xorriso::volume_dates(img).0,
                target: None,
                digest: Some(fnv(&cat)),
            },
        );
        let got = isoforge_ok(&["cat", img.to_str().unwrap(), "/isolinux/isolinux.bin"]).stdout;
        let orig = fs::read(src.join("isolinux/isolinux.bin")).unwrap();
        assert_eq!(got.len(), orig.len(), "patched isolinux.bin size");
        assert_eq!(
            got[..8],
            orig[..8],
            "isolinux.bin before the boot info table"
        );
        assert_eq!(
            got[64..],
            orig[64..],
            "isolinux.bin after the boot info table"
        );
        assert_eq!(
            u32::from_le_bytes(got[8..12].try_into().unwrap()),
            16,
            "boot info table: the first set's PVD"
        );
        e.get_mut("/isolinux/isolinux.bin").unwrap().digest = Some(fnv(&got));
    }
    e
}

/// xorriso, isoinfo, 7z, bsdtar and isoforge read `img` and see `expected`.
fn check_readers(img: &Path, expected: &BTreeMap<String, Node>) {
    let t = tempdir();
    let img_s = img.to_str().unwrap();
    let what = img.file_name().unwrap().to_string_lossy().into_owned();
    // Owners' permission bits come back only when the extraction runs as root.
    let attrs = Compare {
        mode: is_root(),
        mtime: true,
        dir_mtime: false,
        content: true,
    };
    check_isoforge_reads(img, expected, &t.path().join("ours"), &what);
    check_xorriso_reads(img, expected, &t.path().join("xorriso"), attrs, &what);
    check_bsdtar_reads(img, expected, &t.path().join("bsdtar"), attrs, &what);

    // isoinfo: plain names agree with ours; Rock Ridge and Joliet listings
    // name every file (ASCII names; Joliet ones that fit 64 characters).
    assert_eq!(
        our_names(img, "iso9660"),
        isoinfo_names(img, false),
        "{what}: ISO 9660 names vs isoinfo -l"
    );
    let rr = run(Command::new("isoinfo").args(["-R", "-l", "-i", img_s]));
    let rr = String::from_utf8_lossy(&rr.stdout);
    let jol = run(Command::new("isoinfo").args(["-J", "-l", "-i", img_s]));
    let jol = String::from_utf8_lossy(&jol.stdout);
    for (p, n) in expected {
        let name = p.rsplit('/').next().unwrap();
        if n.kind != 'f' || !p.is_ascii() {
            continue;
        }
        assert!(
            rr.contains(&format!("]  {name} ")),
            "{what}: isoinfo -R -l lacks {p}"
        );
        if name.len() <= 64 {
            assert!(
                jol.contains(&format!("]  {name} ")),
                "{what}: isoinfo -J -l lacks {p}"
            );
        }
    }

    // 7-Zip reads the Joliet tree: every file whose path fits Joliet is
    // there with its bytes. On the whole image it also shows the El Torito
    // boot image under [BOOT].
    let z = t.path().join("7z");
    run(Command::new("7z")
        .args(["x", "-y"])
        .arg(format!("-o{}", z.display()))
        .arg(img_s));
    let zs = without(snapshot(&z), "/[BOOT]");
    for (p, e) in expected {
        let fits = p
            .split('/')
            .all(|c| c.encode_utf16().count() <= 64 && !c.contains([';', '*', '?', ':', '\\']));
        if e.kind == 'f' && fits {
            let n = zs
                .get(p)
                .unwrap_or_else(|| panic!("{what}: 7z did not extract {p}"));
            assert_eq!(e.digest, n.digest, "{what}: 7z content of {p}");
        }
    }
}

/// `fdisk -l`: partition 1 starts at 512-byte sector 4 * OFFSET.
fn check_fdisk(img: &Path) {
    let o = run(Command::new("fdisk").arg("-l").arg(img));
    let text = String::from_utf8_lossy(&o.stdout);
    let dev = format!("{}1 ", img.display());
    let line = text
        .lines()
        .find(|l| l.starts_with(&dev))
        .unwrap_or_else(|| panic!("fdisk -l shows no partition 1:\n{text}"));
    let start = line[dev.len()..]
        .split_whitespace()
        .find(|f| *f != "*")
        .unwrap();
    assert_eq!(start, (OFFSET * 4).to_string(), "fdisk: {line}");
}

/// `xorriso -report_system_area plain -report_el_torito plain`, with LBAs,
/// sizes and random GUIDs replaced by `*`. Kept: the options and summary,
/// the partition offset, the geometry, partition numbers, status and type
/// bytes, names and paths, the start of MBR partition 1 and of the GPT's
/// ISOHybrid entry (both at the offset), and the GPT's first usable block.
fn report(img: &Path) -> Vec<String> {
    let o = run(Command::new("xorriso").arg("-indev").arg(img).args([
        "-report_system_area",
        "plain",
        "-report_el_torito",
        "plain",
    ]));
    let text = String::from_utf8_lossy(&o.stdout);
    let mut gpt_names: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim_end();
        let mut f: Vec<String> = value.split_whitespace().map(str::to_string).collect();
        let star = |f: &mut Vec<String>, i: usize| {
            if let Some(v) = f.get_mut(i) {
                *v = "*".into();
            }
        };
        match key {
            "ISO image size/512" | "GPT disk GUID" | "El Torito catalog" => f = vec!["*".into()],
            "MBR partition" => {
                if f.first().map(String::as_str) != Some("1") {
                    star(&mut f, 3);
                }
                star(&mut f, 4);
            }
            "GPT partition GUID" | "El Torito boot img" => {
                let last = f.len().saturating_sub(1);
                star(&mut f, last);
            }
            "GPT lba range" => {
                star(&mut f, 1);
                star(&mut f, 2);
            }
            "GPT partname local" => {
                gpt_names.insert(f[0].clone(), f[1..].join(" "));
            }
            "GPT start and size" => {
                if gpt_names.get(&f[0]).map(String::as_str) != Some("ISOHybrid") {
                    star(&mut f, 1);
                }
                star(&mut f, 2);
            }
            k if k.starts_with("System area")
                || k.starts_with("Partition offset")
                || k.starts_with("MBR")
                || k.starts_with("GPT")
                || k.starts_with("El Torito") => {}
            _ => continue,
        }
        out.push(format!("{key} : {}", f.join(" ")));
    }
    out
}

/// xorriso's report less the partitions that `-isohybrid-gpt-basdat` adds
/// for the BIOS boot image (MBR partition 2, GPT entry 2), which makes the
/// GPT entries overlap.
fn without_partition_2(report: Vec<String>) -> Vec<String> {
    report
        .into_iter()
        .filter(|l| {
            let (key, value) = l.split_once(" : ").unwrap();
            let per_partition = key.starts_with("MBR partition")
                || (key.starts_with("GPT ") && !matches!(key, "GPT entry array" | "GPT lba range"));
            !(per_partition && value.split_whitespace().next() == Some("2"))
        })
        .map(|l| l.replace(" overlapping", " separated"))
        .collect()
}

fn assert_report(ours: &[String], theirs: &[String]) {
    assert!(
        ours.iter().any(|l| l == "Partition offset : 16"),
        "no partition offset in {ours:#?}"
    );
    assert_eq!(ours, theirs, "-report_system_area: ours, then xorriso's");
}

/// Builds the tree into an image with our options `ours` and with xorriso's
/// `theirs`. Our image and the partition cut out of it read as the tree;
/// fdisk shows the partition at the offset; xorriso reports the same system
/// area and boot records for both (after `adjust` of xorriso's report).
fn case(ours: &[&str], theirs: &[&str], boot: bool, adjust: fn(Vec<String>) -> Vec<String>) {
    if !oracles_ready() {
        return;
    }
    let t = tempdir();
    let src = tree(t.path());
    let img = t.path().join("ours.iso");
    create(&src, &img, ours);
    let exp = expected(&src, &img, boot);
    check_readers(&img, &exp);
    check_readers(&cut_partition(&img), &exp);
    check_fdisk(&img);
    let x = t.path().join("xorriso.iso");
    xorriso_create(&src, &x, theirs);
    assert_report(&report(&img), &adjust(report(&x)));
}

#[test]
fn offset_alone() {
    case(&[], &[], false, |r| r);
}

#[test]
fn offset_with_isohybrid_mbr_and_gpt() {
    let theirs = [XORRISO_HYBRID, &["-isohybrid-gpt-basdat"]].concat();
    case(HYBRID, &theirs, true, without_partition_2);
}

#[test]
fn offset_with_isohybrid_mbr_gpt_and_efi() {
    let ours = [HYBRID, &["--boot-efi", "/efi.img"]].concat();
    let theirs = [
        XORRISO_HYBRID,
        &[
            "-eltorito-alt-boot",
            "-e",
            "efi.img",
            "-no-emul-boot",
            "-isohybrid-gpt-basdat",
        ],
    ]
    .concat();
    case(&ours, &theirs, true, |r| r);
}

#[test]
fn offsets_below_16_are_refused() {
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a"), b"a").unwrap();
    let img = t.path().join("x.iso");
    let (img_s, src_s) = (img.to_str().unwrap(), src.to_str().unwrap());
    let create = |n: &str| {
        let args = ["create", "-q", "--partition-offset", n, "-o", img_s, src_s];
        isoforge(&args)
    };
    for n in ["1", "8", "15"] {
        let o = create(n);
        assert_eq!(o.status.code(), Some(2), "--partition-offset {n}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("--partition-offset {n}")) && err.contains("16"),
            "{err}"
        );
        assert!(!img.exists());
    }
    // 0 is no offset: no partition table at all.
    assert!(create("0").status.success());
    let head = fs::read(&img).unwrap();
    assert!(head[..32768].iter().all(|&b| b == 0), "system area");
}
