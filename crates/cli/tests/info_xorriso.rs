//! `isoforge info --json` agrees with `xorriso -report_el_torito plain
//! -report_system_area plain` on real and xorriso-built bootable images.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// xorriso's report: key -> rows of whitespace-separated fields.
fn xorriso_report(img: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let out = run(Command::new("xorriso").args(["-indev"]).arg(img).args([
        "-report_el_torito",
        "plain",
        "-report_system_area",
        "plain",
    ]));
    let mut m: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        m.entry(k.trim().to_string())
            .or_default()
            .push(v.split_whitespace().map(str::to_string).collect());
    }
    m
}

fn num(s: &str) -> u64 {
    s.strip_prefix("0x").map_or_else(
        || s.parse().unwrap(),
        |h| u64::from_str_radix(h, 16).unwrap(),
    )
}

fn compare(img: &Path) {
    let x = xorriso_report(img);
    let j: Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    let ctx = img.display().to_string();
    let et = &j["el_torito"];
    match x.get("El Torito catalog") {
        Some(rows) => {
            assert_eq!(
                et["catalog_lba"].as_u64().unwrap(),
                num(&rows[0][0]),
                "{ctx}"
            );
            if let Some(p) = x.get("El Torito cat path") {
                assert_eq!(et["catalog_path"], p[0][0], "{ctx}");
            }
            let imgs = et["images"].as_array().unwrap();
            let rows = &x["El Torito boot img"];
            assert_eq!(imgs.len(), rows.len(), "{ctx}");
            for (b, r) in imgs.iter().zip(rows) {
                assert_eq!(b["platform"], r[1], "{ctx}");
                assert_eq!(b["bootable"], r[2] == "y", "{ctx}");
                assert_eq!(b["emulation"], r[3], "{ctx}");
                assert_eq!(
                    u64::from(b["load_segment"].as_u64().unwrap() as u16),
                    num(&r[4]),
                    "{ctx}"
                );
                assert_eq!(b["sector_count"].as_u64().unwrap(), num(&r[6]), "{ctx}");
                assert_eq!(b["lba"].as_u64().unwrap(), num(&r[7]), "{ctx}");
            }
            for r in x.get("El Torito img path").into_iter().flatten() {
                let n = num(&r[0]) as usize;
                assert_eq!(imgs[n - 1]["path"], r[1], "{ctx}: path of boot image {n}");
            }
            for r in x.get("El Torito img opts").into_iter().flatten() {
                let n = num(&r[0]) as usize;
                let mut want: Vec<&str> = r[1..].iter().map(String::as_str).collect();
                let mut got: Vec<&str> = imgs[n - 1]["opts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                want.sort();
                got.sort();
                assert_eq!(got, want, "{ctx}: opts of boot image {n}");
            }
        }
        None => assert!(et.is_null(), "{ctx}"),
    }
    let sa = &j["system_area"];
    let summary: Vec<String> = sa["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        summary,
        x.get("System area summary")
            .map(|r| r[0].clone())
            .unwrap_or_default(),
        "{ctx}"
    );
    if let Some(r) = x.get("ISO image size/512") {
        assert_eq!(
            sa["iso_image_size_512"].as_u64().unwrap(),
            num(&r[0][0]),
            "{ctx}"
        );
    }
    if let Some(rows) = x.get("MBR partition") {
        let parts = sa["mbr"]["partitions"].as_array().unwrap();
        assert_eq!(parts.len(), rows.len(), "{ctx}");
        for (p, r) in parts.iter().zip(rows) {
            assert_eq!(p["ptype"].as_u64().unwrap(), num(&r[2]), "{ctx}");
            assert_eq!(p["start"].as_u64().unwrap(), num(&r[3]), "{ctx}");
            assert_eq!(p["blocks"].as_u64().unwrap(), num(&r[4]), "{ctx}");
        }
    }
    if let Some(rows) = x.get("GPT start and size") {
        let parts = sa["gpt"]["partitions"].as_array().unwrap();
        assert_eq!(parts.len(), rows.len(), "{ctx}");
        for (p, r) in parts.iter().zip(rows) {
            assert_eq!(p["first_lba"].as_u64().unwrap(), num(&r[1]), "{ctx}");
            assert_eq!(p["blocks"].as_u64().unwrap(), num(&r[2]), "{ctx}");
        }
    }
}

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
