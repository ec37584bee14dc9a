//! Oracle helpers for the El Torito / system area interop tests: run
//! `xorriso -report_el_torito plain -report_system_area plain` and parse
//! its lines, and compare them with isoforge's reports.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use isoforge::read::boot::read_el_torito;
use isoforge::read::sysarea::read_system_area;
use isoforge::Image;

/// Whether missing oracles must fail the test.
pub fn require_oracles() -> bool {
    std::env::var("ISOFORGE_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

/// Reports a missing oracle: skip with a reason, or fail when required.
/// Returns `false` so callers can `if !have(..) { return; }`.
pub fn missing(reason: &str) -> bool {
    if require_oracles() {
        panic!("oracle missing and ISOFORGE_REQUIRE_ORACLES=1: {reason}");
    }
    eprintln!("skipped: {reason}");
    false
}

/// Whether `xorriso` runs.
pub fn have_xorriso() -> bool {
    Command::new("xorriso")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
        || missing("xorriso is not installed")
}

/// Whether a file exists.
pub fn have_file(p: &str) -> bool {
    Path::new(p).exists() || missing(&format!("{p} is not present"))
}

/// xorriso's report, one list of value strings per key, in order.
#[derive(Debug, Default)]
pub struct Report(pub BTreeMap<String, Vec<String>>);

impl Report {
    pub fn all(&self, key: &str) -> Vec<Vec<String>> {
        self.0
            .get(key)
            .map(|v| {
                v.iter()
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn one(&self, key: &str) -> Option<Vec<String>> {
        self.all(key).into_iter().next()
    }
    /// Rows of a numbered key ("GPT type GUID :   1  ...") by number.
    pub fn numbered(&self, key: &str) -> BTreeMap<u32, Vec<String>> {
        self.all(key)
            .into_iter()
            .filter_map(|mut r| {
                let n = r.first()?.parse().ok()?;
                r.remove(0);
                Some((n, r))
            })
            .collect()
    }
}

pub fn xorriso_report(img: &Path) -> Report {
    let out = Command::new("xorriso")
        .arg("-indev")
        .arg(img)
        .args(["-report_el_torito", "plain", "-report_system_area", "plain"])
        .output()
        .expect("run xorriso");
    assert!(out.status.success(), "xorriso failed on {}", img.display());
    let mut r = Report::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((k, v)) = line.split_once(':') {
            r.0.entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    r
}

fn num(s: &str) -> u64 {
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap()
    } else {
        s.parse().unwrap()
    }
}

/// Compares isoforge's El Torito and system area reports with xorriso's,
/// field by field. Returns the number of fields compared.
pub fn compare_with_xorriso(path: &Path) -> usize {
    let x = xorriso_report(path);
    let img = Image::open(std::fs::File::open(path).unwrap()).unwrap();
    let et = read_el_torito(&img).unwrap();
    let sa = read_system_area(&img).unwrap();
    let mut n = 0usize;
    let ctx = path.display().to_string();

    // El Torito.
    match x.one("El Torito catalog") {
        Some(row) => {
            let et = et
                .as_ref()
                .unwrap_or_else(|| panic!("{ctx}: no catalog found"));
            assert_eq!(
                u64::from(et.catalog_lba),
                num(&row[0]),
                "{ctx}: catalog LBA"
            );
            n += 1;
            let rows = x.all("El Torito boot img");
            assert_eq!(et.images.len(), rows.len(), "{ctx}: number of boot images");
            let opts = x.numbered("El Torito img opts");
            for (img, row) in et.images.iter().zip(&rows) {
                let (num_s, pltf, b, emul, seg, hdpt, ldsiz, lba) = (
                    &row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6], &row[7],
                );
                assert_eq!(u64::from(img.number), num(num_s), "{ctx}");
                assert_eq!(&img.platform, pltf, "{ctx}: platform of {num_s}");
                assert_eq!(img.bootable, b == "y", "{ctx}: bootable {num_s}");
                assert_eq!(&img.emulation, emul, "{ctx}: emulation {num_s}");
                assert_eq!(
                    u64::from(img.load_segment),
                    num(seg),
                    "{ctx}: load seg {num_s}"
                );
                assert_eq!(u64::from(img.system_type), num(hdpt), "{ctx}: hdpt {num_s}");
                assert_eq!(
                    u64::from(img.sector_count),
                    num(ldsiz),
                    "{ctx}: load size {num_s}"
                );
                assert_eq!(u64::from(img.lba), num(lba), "{ctx}: LBA {num_s}");
                let want: Vec<String> = opts.get(&img.number).cloned().unwrap_or_default();
                let mut got: Vec<String> = img.opts.iter().map(|s| s.to_string()).collect();
                let mut want_sorted = want.clone();
                got.sort();
                want_sorted.sort();
                assert_eq!(got, want_sorted, "{ctx}: img opts {num_s}");
                n += 9;
            }
        }
        None => assert!(et.is_none(), "{ctx}: xorriso saw no catalog"),
    }

    // System area.
    let summary: Vec<String> = x.one("System area summary").unwrap_or_default();
    let ours: Vec<String> = sa.summary.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, summary, "{ctx}: system area summary");
    n += 1;
    if summary.is_empty() {
        return n;
    }
    if let Some(v) = x.one("ISO image size/512") {
        assert_eq!(
            sa.iso_image_size_512,
            num(&v[0]),
            "{ctx}: ISO image size/512"
        );
        n += 1;
    }
    if let Some(v) = x.one("Partition offset") {
        assert_eq!(
            u64::from(sa.partition_offset),
            num(&v[0]),
            "{ctx}: partition offset"
        );
        n += 1;
    }
    if let Some(m) = &sa.mbr {
        if let Some(v) = x.one("MBR heads per cyl") {
            assert_eq!(u64::from(m.heads_per_cyl), num(&v[0]), "{ctx}: heads");
            n += 1;
        }
        if let Some(v) = x.one("MBR secs per head") {
            assert_eq!(u64::from(m.secs_per_head), num(&v[0]), "{ctx}: secs");
            n += 1;
        }
        let rows = x.all("MBR partition");
        assert_eq!(m.partitions.len(), rows.len(), "{ctx}: MBR partitions");
        for (p, r) in m.partitions.iter().zip(&rows) {
            assert_eq!(u64::from(p.number), num(&r[0]), "{ctx}");
            assert_eq!(u64::from(p.status), num(&r[1]), "{ctx}: status");
            assert_eq!(u64::from(p.ptype), num(&r[2]), "{ctx}: type");
            assert_eq!(u64::from(p.start), num(&r[3]), "{ctx}: start");
            assert_eq!(u64::from(p.blocks), num(&r[4]), "{ctx}: blocks");
            n += 5;
        }
    }
    if let Some(g) = &sa.gpt {
        assert!(g.header_crc_ok, "{ctx}: GPT header CRC");
        assert_eq!(g.entries_crc_ok, Some(true), "{ctx}: GPT entries CRC");
        let b = g.backup.as_ref().expect("backup GPT");
        assert!(
            b.found && b.header_crc_ok && b.lbas_match,
            "{ctx}: backup {b:?}"
        );
        if let Some(v) = x.one("GPT disk GUID") {
            assert_eq!(g.disk_guid_hex, v[0], "{ctx}: disk GUID");
            n += 1;
        }
        if let Some(v) = x.one("GPT entry array") {
            assert_eq!(g.entries_lba, num(&v[0]), "{ctx}: entries LBA");
            assert_eq!(u64::from(g.num_entries), num(&v[1]), "{ctx}: entry count");
            assert_eq!(
                if g.overlapping {
                    "overlapping"
                } else {
                    "separated"
                },
                v[2],
                "{ctx}: overlap"
            );
            n += 3;
        }
        if let Some(v) = x.one("GPT lba range") {
            assert_eq!(g.first_usable_lba, num(&v[0]), "{ctx}: first usable");
            assert_eq!(g.last_usable_lba, num(&v[1]), "{ctx}: last usable");
            assert_eq!(g.backup_lba, num(&v[2]), "{ctx}: backup LBA");
            n += 3;
        }
        let names = x.numbered("GPT partname local");
        let types = x.numbered("GPT type GUID");
        let uniq = x.numbered("GPT partition GUID");
        let flags = x.numbered("GPT partition flags");
        let ss = x.numbered("GPT start and size");
        assert_eq!(g.partitions.len(), ss.len(), "{ctx}: GPT partitions");
        for p in &g.partitions {
            let k = p.number;
            assert_eq!(
                Some(p.name.clone()),
                names.get(&k).map(|v| v.join(" ")),
                "{ctx}: name {k}"
            );
            assert_eq!(Some(&vec![p.type_guid_hex.clone()]), types.get(&k), "{ctx}");
            assert_eq!(
                Some(&vec![p.unique_guid_hex.clone()]),
                uniq.get(&k),
                "{ctx}"
            );
            assert_eq!(p.attributes, num(&flags[&k][0]), "{ctx}: flags {k}");
            assert_eq!(p.first_lba, num(&ss[&k][0]), "{ctx}: start {k}");
            assert_eq!(p.blocks, num(&ss[&k][1]), "{ctx}: size {k}");
            n += 6;
        }
    }
    if let Some(a) = &sa.apm {
        if let Some(v) = x.one("APM block size") {
            assert_eq!(u64::from(a.block_size), num(&v[0]), "{ctx}: APM block size");
            n += 1;
        }
        let names = x.numbered("APM partition name");
        let types = x.numbered("APM partition type");
        let ss = x.numbered("APM start and size");
        // xorriso leaves out the map's own entry.
        let listed: Vec<_> = a
            .partitions
            .iter()
            .filter(|p| p.ptype != "Apple_partition_map")
            .collect();
        assert_eq!(listed.len(), ss.len(), "{ctx}: APM partitions");
        for (i, p) in listed.iter().enumerate() {
            let k = u32::try_from(i + 1).unwrap();
            assert_eq!(
                Some(p.name.clone()),
                names.get(&k).map(|v| v.join(" ")),
                "{ctx}"
            );
            assert_eq!(
                Some(p.ptype.clone()),
                types.get(&k).map(|v| v.join(" ")),
                "{ctx}"
            );
            assert_eq!(u64::from(p.start), num(&ss[&k][0]), "{ctx}");
            assert_eq!(u64::from(p.count), num(&ss[&k][1]), "{ctx}");
            n += 4;
        }
    }
    n
}
