//! El Torito catalogs and system areas of real and xorriso-built images,
//! compared field by field with `xorriso -report_el_torito plain
//! -report_system_area plain`. Tests skip with a reason when xorriso or an
//! input file is missing, and fail instead with `ISOFORGE_REQUIRE_ORACLES=1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod boot_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use boot_common::{compare_with_xorriso, have_file, have_xorriso};
use isoforge::read::boot::read_el_torito;
use isoforge::read::sysarea::read_system_area;
use isoforge::{Error, Image};

const GRUB_RESCUE: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
const IPXE: &str = "/usr/lib/ipxe/ipxe.iso";
const ISOLINUX_BIN: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";

#[test]
fn grub_rescue_matches_xorriso() {
    if !have_xorriso() || !have_file(GRUB_RESCUE) {
        return;
    }
    let n = compare_with_xorriso(Path::new(GRUB_RESCUE));
    assert!(n > 15, "{n} fields compared");
    let img = Image::open(std::fs::File::open(GRUB_RESCUE).unwrap()).unwrap();
    let et = read_el_torito(&img).unwrap().unwrap();
    let bit = et.images[0].boot_info_table.unwrap();
    assert_eq!(bit.checksum_ok, Some(true));
    assert!(et.images[0].grub2_boot_info);
    assert!(et.checksum_ok && et.key_ok && et.diagnostics.is_empty());
    let sa = read_system_area(&img).unwrap();
    assert!(sa.mbr.as_ref().unwrap().grub2_mbr);
    // The JSON the CLI prints comes straight from these types.
    let j = serde_json::to_value(&sa).unwrap();
    assert_eq!(j["summary"][0], "MBR");
    let j = serde_json::to_value(&et).unwrap();
    assert_eq!(j["images"][0]["platform"], "BIOS");
}

#[test]
fn ipxe_matches_xorriso() {
    if !have_xorriso() || !have_file(IPXE) {
        return;
    }
    let n = compare_with_xorriso(Path::new(IPXE));
    assert!(n > 20, "{n} fields compared");
}

/// A source tree with isolinux, a 1.44 MB floppy-sized EFI image and a file.
fn tree(dir: &Path) -> PathBuf {
    let t = dir.join("tree");
    std::fs::create_dir_all(t.join("isolinux")).unwrap();
    std::fs::copy(ISOLINUX_BIN, t.join("isolinux/isolinux.bin")).unwrap();
    // Neither xorriso nor firmware-independent checks look inside: zeros
    // with a FAT-like size are enough for layout tests.
    std::fs::write(t.join("efi.img"), vec![0u8; 1_474_560]).unwrap();
    std::fs::write(t.join("floppy.img"), vec![0u8; 1_474_560]).unwrap();
    std::fs::write(t.join("hello.txt"), b"hello\n").unwrap();
    t
}

fn mkisofs(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let tree = dir.join("tree");
    let st = Command::new("xorriso")
        .current_dir(dir)
        .args(["-as", "mkisofs", "-o"])
        .arg(&out)
        .args(args)
        .arg(&tree)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "xorriso -as mkisofs {args:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

const ISOLINUX_ARGS: &[&str] = &[
    "-b",
    "isolinux/isolinux.bin",
    "-c",
    "isolinux/boot.cat",
    "-no-emul-boot",
    "-boot-load-size",
    "4",
    "-boot-info-table",
];

fn built_images_ready() -> Option<tempfile::TempDir> {
    if !have_xorriso() || !have_file(ISOLINUX_BIN) || !have_file(ISOHDPFX) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    Some(dir)
}

fn cat<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.concat()
}

#[test]
fn isolinux_isohybrid_with_efi_and_gpt() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let args = cat(&[
        &["-isohybrid-mbr", ISOHDPFX],
        ISOLINUX_ARGS,
        &[
            "-eltorito-alt-boot",
            "-e",
            "efi.img",
            "-no-emul-boot",
            "-isohybrid-gpt-basdat",
        ],
    ]);
    let p = mkisofs(dir.path(), "hyb.iso", &args);
    compare_with_xorriso(&p);
    let img = Image::open(std::fs::File::open(&p).unwrap()).unwrap();
    let sa = read_system_area(&img).unwrap();
    let g = sa.gpt.unwrap();
    assert_eq!(g.block_size, 512);
    assert_eq!(
        g.partitions[0].type_guid,
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
    );
}

#[test]
fn isolinux_plain_isohybrid() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let args = cat(&[&["-isohybrid-mbr", ISOHDPFX], ISOLINUX_ARGS]);
    let p = mkisofs(dir.path(), "plain.iso", &args);
    compare_with_xorriso(&p);
}

#[test]
fn appended_efi_partition() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let efi = dir.path().join("tree/efi.img");
    let efi = efi.to_str().unwrap();
    let args = cat(&[
        &["-isohybrid-mbr", ISOHDPFX],
        ISOLINUX_ARGS,
        &[
            "-eltorito-alt-boot",
            "-e",
            "--interval:appended_partition_2:all::",
            "-no-emul-boot",
            "-isohybrid-gpt-basdat",
            "-append_partition",
            "2",
            "0xef",
            efi,
        ],
    ]);
    let p = mkisofs(dir.path(), "app.iso", &args);
    compare_with_xorriso(&p);
}

#[test]
fn partition_offset_16() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let args = cat(&[
        &["-partition_offset", "16", "-isohybrid-mbr", ISOHDPFX],
        ISOLINUX_ARGS,
    ]);
    let p = mkisofs(dir.path(), "off.iso", &args);
    compare_with_xorriso(&p);
    let img = Image::open(std::fs::File::open(&p).unwrap()).unwrap();
    assert_eq!(read_system_area(&img).unwrap().partition_offset, 16);
}

#[test]
fn floppy_emulation() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let p = mkisofs(
        dir.path(),
        "flop.iso",
        &["-b", "floppy.img", "-c", "boot.cat"],
    );
    compare_with_xorriso(&p);
    let img = Image::open(std::fs::File::open(&p).unwrap()).unwrap();
    let et = read_el_torito(&img).unwrap().unwrap();
    assert_eq!(et.images[0].emulation, "fd1.4");
    let sa = read_system_area(&img).unwrap();
    assert!(sa.all_zero && sa.summary.is_empty());
}

#[test]
fn apple_partition_map() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let args = cat(&[
        ISOLINUX_ARGS,
        &[
            "-eltorito-alt-boot",
            "-e",
            "efi.img",
            "-no-emul-boot",
            "-isohybrid-mbr",
            ISOHDPFX,
            "-isohybrid-gpt-basdat",
            "-isohybrid-apm-hfsplus",
        ],
    ]);
    let p = mkisofs(dir.path(), "apm.iso", &args);
    compare_with_xorriso(&p);
    let img = Image::open(std::fs::File::open(&p).unwrap()).unwrap();
    assert_eq!(
        read_system_area(&img).unwrap().apm.unwrap().block_size,
        2048
    );
}

/// Hostile variations of a real catalog: errors carry the structure name and
/// byte offset, a bad checksum is a diagnostic.
#[test]
fn damaged_catalogs() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let p = mkisofs(dir.path(), "h.iso", ISOLINUX_ARGS);
    let good = std::fs::read(&p).unwrap();
    let lba = Image::open(good.clone())
        .unwrap()
        .info()
        .el_torito_catalog
        .unwrap();
    let off = usize::try_from(lba).unwrap() * 2048;

    // Bad checksum: tolerated, reported.
    let mut v = good.clone();
    v[off + 4] ^= 0xFF;
    let et = read_el_torito(&Image::open(v).unwrap()).unwrap().unwrap();
    assert!(!et.checksum_ok);
    assert_eq!(et.diagnostics.len(), 1);
    assert_eq!(et.images.len(), 1);

    // Bad header id: an error naming the validation entry and its offset.
    let mut v = good.clone();
    v[off] = 7;
    match read_el_torito(&Image::open(v).unwrap()) {
        Err(Error::Corrupt(c)) => {
            assert_eq!(c.structure(), "El Torito validation entry");
            assert_eq!(c.offset(), off as u64);
        }
        other => panic!("{other:?}"),
    }

    // A section chain that never ends: "more follow" headers to the end of
    // the image are bounded by the entry limit.
    let mut v = good.clone();
    for rec in (off + 64..off + 2048).step_by(32) {
        v[rec..rec + 32].fill(0);
        v[rec] = 0x90;
    }
    let e = read_el_torito(&Image::open(v).unwrap()).unwrap_err();
    assert!(matches!(e, Error::Corrupt(_)), "{e}");

    // Catalog sector past the end of the image.
    let mut v = good.clone();
    for d in 16..20 {
        let s = d * 2048;
        if v[s] == 0 && &v[s + 1..s + 6] == b"CD001" {
            v[s + 71..s + 75].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        }
    }
    match read_el_torito(&Image::open(v).unwrap()) {
        Err(Error::Corrupt(c)) => assert_eq!(c.structure(), "El Torito boot catalog"),
        other => panic!("{other:?}"),
    }
}

/// A GPT whose header claims an absurd entry array: a finding, bounded.
#[test]
fn hostile_gpt_header() {
    let Some(dir) = built_images_ready() else {
        return;
    };
    let args = cat(&[
        &["-isohybrid-mbr", ISOHDPFX],
        ISOLINUX_ARGS,
        &[
            "-eltorito-alt-boot",
            "-e",
            "efi.img",
            "-no-emul-boot",
            "-isohybrid-gpt-basdat",
        ],
    ]);
    let p = mkisofs(dir.path(), "g.iso", &args);
    let mut v = std::fs::read(&p).unwrap();
    // num_entries = u32::MAX, header CRC now wrong.
    v[512 + 80..512 + 84].copy_from_slice(&u32::MAX.to_le_bytes());
    let sa = read_system_area(&Image::open(v.clone()).unwrap()).unwrap();
    let g = sa.gpt.unwrap();
    assert!(!g.header_crc_ok);
    assert_eq!(g.entries_crc_ok, None);
    assert!(g.partitions.is_empty());
    assert!(!sa.diagnostics.is_empty());
    // Entry size not a multiple of 128.
    v[512 + 80..512 + 84].copy_from_slice(&4u32.to_le_bytes());
    v[512 + 84..512 + 88].copy_from_slice(&200u32.to_le_bytes());
    let sa = read_system_area(&Image::open(v).unwrap()).unwrap();
    assert_eq!(sa.gpt.unwrap().entries_crc_ok, None);
}
