//! xorriso's `-report_el_torito plain -report_system_area plain`, and a
//! field-by-field comparison of it with `isoforge info --json`; the volume
//! dates by `-pvd_info`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{isoforge_ok, run};

/// xorriso's report: key -> rows of whitespace-separated fields.
pub fn xorriso_report(img: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
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

/// xorriso's boot report with block addresses, sizes and GUIDs replaced by
/// `#`: what is left is the boot setup (platforms, emulation, load sizes,
/// options, paths, partition types, names and flags, summary).
pub fn boot_setup(img: &Path) -> Vec<String> {
    let out = run(Command::new("xorriso").arg("-indev").arg(img).args([
        "-report_el_torito",
        "plain",
        "-report_system_area",
        "plain",
    ]));
    // Per report key, which whitespace-separated fields (0-based) are
    // addresses or sizes.
    let layout: BTreeMap<&str, &[usize]> = BTreeMap::from([
        ("El Torito catalog", &[0usize, 1][..]),
        ("El Torito boot img", &[7][..]),
        ("ISO image size/512", &[0][..]),
        ("MBR partition", &[3, 4][..]),
        ("GPT disk GUID", &[0][..]),
        ("GPT partition GUID", &[1][..]),
        ("GPT lba range", &[0, 1, 2][..]),
        ("GPT start and size", &[1, 2][..]),
        ("APM start and size", &[1, 2][..]),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            if k == "Media summary" || k == "Media current" || k == "Drive current" {
                return None;
            }
            let mut f: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            for &i in layout.get(k).copied().unwrap_or_default() {
                if let Some(x) = f.get_mut(i) {
                    *x = "#".into();
                }
            }
            Some(format!("{k}: {}", f.join(" ")))
        })
        .collect()
}

pub fn num(s: &str) -> u64 {
    s.strip_prefix("0x").map_or_else(
        || s.parse().unwrap(),
        |h| u64::from_str_radix(h, 16).unwrap(),
    )
}

pub fn compare(img: &Path) {
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

/// `xorriso -as mkisofs -quiet ARGS -o IMG SRC`, which must succeed.
pub fn mkisofs(args: &[&str], img: &Path, src: &Path) {
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet"])
        .args(args)
        .arg("-o")
        .arg(img)
        .arg(src));
}

/// The primary volume descriptor's creation and modification dates as
/// xorriso's `-pvd_info` shows them (digits as recorded, taken as UTC).
pub fn volume_dates(img: &Path) -> (i64, i64) {
    let out = run(Command::new("xorriso")
        .arg("-indev")
        .arg(img)
        .arg("-pvd_info"));
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> i64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key:?} in\n{text}"));
        let d = line.split(':').nth(1).unwrap().trim();
        // YYYYMMDDhhmmsscc, read by date(1).
        let civil = format!(
            "{}-{}-{} {}:{}:{}",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &d[8..10],
            &d[10..12],
            &d[12..14]
        );
        let out = run(Command::new("date")
            .env("TZ", "UTC")
            .args(["-d", &civil, "+%s"]));
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (field("Creation Time"), field("Modif. Time"))
}
