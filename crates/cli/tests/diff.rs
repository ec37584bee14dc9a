//! `isoforge diff` finds single-byte content changes, boot image changes,
//! partition table changes and timestamp changes, and nothing else; and
//! reports nothing for byte-identical copies.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn image(dir: &Path) -> Option<PathBuf> {
    if !have("xorriso")
        || !have_file("/usr/lib/ISOLINUX/isolinux.bin")
        || !have_file("/usr/lib/ISOLINUX/isohdpfx.bin")
    {
        return None;
    }
    let src = dir.join("src");
    make_tree(&src, TreeSpec::FULL);
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::copy(
        "/usr/lib/ISOLINUX/isolinux.bin",
        src.join("isolinux/isolinux.bin"),
    )
    .unwrap();
    let img = dir.join("a.iso");
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
            "-o",
        ])
        .arg(&img)
        .arg(&src));
    Some(img)
}

fn diff_json(a: &Path, b: &Path) -> (Option<i32>, Value) {
    let o = isoforge(&["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()]);
    (
        o.status.code(),
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
    )
}

fn entry(img: &Path, path: &str) -> Value {
    ls_entry(img, path)
}

fn patched(img: &Path, name: &str, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut d = fs::read(img).unwrap();
    f(&mut d);
    let p = img.with_file_name(name);
    fs::write(&p, d).unwrap();
    p
}

fn count(v: &Value, section: &str) -> usize {
    v["differences"][section].as_array().unwrap().len()
}

#[test]
fn identical_copies_do_not_differ() {
    let t = tempdir();
    let Some(a) = image(t.path()) else { return };
    let b = t.path().join("copy.iso");
    fs::copy(&a, &b).unwrap();
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(0));
    assert_eq!(v["identical"], true);
    let o = isoforge_ok(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "identical\n");
}

#[test]
fn one_changed_byte_in_one_file() {
    let t = tempdir();
    let Some(a) = image(t.path()) else { return };
    let e = entry(&a, "/sizes/s70001.bin");
    let off = e["extents"][0]["lba"].as_u64().unwrap() as usize * 2048 + 50_000;
    let b = patched(&a, "b.iso", |d| d[off] ^= 0x40);
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(1));
    let files = v["differences"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{v:#}");
    assert_eq!(files[0]["change"], "content");
    assert_eq!(files[0]["path"], "/sizes/s70001.bin");
    assert_ne!(files[0]["a_sha256"], files[0]["b_sha256"]);
    assert_eq!(files[0]["a_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        count(&v, "descriptors") + count(&v, "boot") + count(&v, "system_area"),
        0,
        "{v:#}"
    );
    let text =
        String::from_utf8(isoforge(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]).stdout)
            .unwrap();
    assert!(
        text.starts_with("M /sizes/s70001.bin: content 70001 bytes"),
        "{text}"
    );
}

#[test]
fn changed_boot_image() {
    let t = tempdir();
    let Some(a) = image(t.path()) else { return };
    let e = entry(&a, "/isolinux/isolinux.bin");
    let off = e["extents"][0]["lba"].as_u64().unwrap() as usize * 2048 + 1000;
    let b = patched(&a, "b.iso", |d| d[off] ^= 1);
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(1));
    let boot = v["differences"]["boot"].as_array().unwrap();
    assert_eq!(boot.len(), 1, "{v:#}");
    assert_eq!(boot[0]["field"], "el_torito.image1.content_sha256");
    assert_eq!(
        v["differences"]["files"][0]["path"],
        "/isolinux/isolinux.bin"
    );
}

#[test]
fn changed_partition_entry() {
    let t = tempdir();
    let Some(a) = image(t.path()) else { return };
    // Type byte of MBR partition 1.
    let b = patched(&a, "b.iso", |d| d[446 + 4] = 0x83);
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(1));
    let sa = v["differences"]["system_area"].as_array().unwrap();
    let fields: Vec<&str> = sa.iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["system_area.sha256", "mbr.partition1.type"],
        "{v:#}"
    );
    assert_eq!(sa[1]["b"], "0x83");
    assert_eq!(
        count(&v, "files") + count(&v, "boot") + count(&v, "descriptors"),
        0
    );
}

#[test]
fn changed_timestamp() {
    let t = tempdir();
    let Some(a) = image(t.path()) else { return };
    let e = entry(&a, "/a.txt");
    let rec = e["record_offset"].as_u64().unwrap() as usize;
    let b = patched(&a, "b.iso", |d| {
        let len = d[rec] as usize;
        let r = &d[rec..rec + len];
        let tf = r.windows(2).position(|w| w == b"TF").unwrap();
        let flags = r[tf + 4];
        assert_eq!(flags & 0x80, 0, "long-form TF not expected from xorriso");
        let modify = tf + 5 + if flags & 1 != 0 { 7 } else { 0 };
        // One hour later.
        d[rec + modify + 3] = (d[rec + modify + 3] + 1) % 24;
    });
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(1));
    let files = v["differences"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{v:#}");
    assert_eq!(files[0]["change"], "metadata");
    assert_eq!(files[0]["field"], "mtime");
    assert_eq!(files[0]["path"], "/a.txt");
    assert_eq!(
        count(&v, "descriptors") + count(&v, "boot") + count(&v, "system_area"),
        0
    );
}

#[test]
fn added_and_removed_files_and_descriptor_fields() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("s");
    make_tree(&src, TreeSpec::PLAIN);
    let a = t.path().join("a.iso");
    xorriso::mkisofs(&["-R", "-V", "ONE"], &a, &src);
    fs::remove_file(src.join("a.txt")).unwrap();
    fs::write(src.join("new.txt"), b"new").unwrap();
    let b = t.path().join("b.iso");
    xorriso::mkisofs(&["-R", "-V", "TWO"], &b, &src);
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(1));
    let files = v["differences"]["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|c| c["change"] == "removed" && c["path"] == "/a.txt"),
        "{v:#}"
    );
    assert!(
        files
            .iter()
            .any(|c| c["change"] == "added" && c["path"] == "/new.txt"),
        "{v:#}"
    );
    let d = v["differences"]["descriptors"].as_array().unwrap();
    assert!(
        d.iter()
            .any(|c| c["field"] == "descriptor1.volume_id" && c["a"] == "ONE" && c["b"] == "TWO"),
        "{v:#}"
    );
}

#[test]
fn report_is_readable_and_json_is_typed() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("s");
    make_tree(&src, TreeSpec::PLAIN);
    let a = t.path().join("a.iso");
    xorriso::mkisofs(&["-R", "-V", "ONE"], &a, &src);
    fs::remove_file(src.join("a.txt")).unwrap();
    fs::write(src.join("new.txt"), b"new").unwrap();
    touch(&src.join("new.txt"), 1_600_000_000);
    touch(&src.join("sizes/one"), 1_650_000_000);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(src.join("bin/tool.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(src.join("sizes/big.bin"), bytes(8, 3 << 20)).unwrap();
    let b = t.path().join("b.iso");
    xorriso::mkisofs(&["-R", "-V", "TWO"], &b, &src);

    let o = isoforge(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has("descriptor descriptor1.volume_id: \"ONE\" -> \"TWO\""),
        "{text}"
    );
    assert!(has("- /a.txt (file, 6 bytes)"), "{text}");
    assert!(has("+ /new.txt (file, 3 bytes)"), "{text}");
    assert!(has("m /bin/tool.sh: mode 0755 -> 0700"), "{text}");
    let mtime = text
        .lines()
        .find(|l| l.starts_with("m /sizes/one: mtime "))
        .unwrap_or_else(|| panic!("{text}"));
    // RFC 3339 on both sides, not seconds since the epoch.
    let (from, to) = mtime
        .trim_start_matches("m /sizes/one: mtime ")
        .split_once(" -> ")
        .unwrap();
    for t in [from, to] {
        assert!(
            t.len() >= 20 && t.as_bytes()[10] == b'T' && t.ends_with('Z'),
            "{mtime}"
        );
    }
    assert!(to.starts_with("2022-04-15T"), "{mtime}");
    // No Rust debug text anywhere.
    for debug in ["Some(", "None", "File)", "Dir)", "q "] {
        assert!(!text.contains(debug), "{debug}: {text}");
    }

    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, Some(1));
    assert_eq!(v["schema"], 1);
    assert_eq!(v["identical"], false);
    let d = v["differences"]["descriptors"].as_array().unwrap();
    let size = d
        .iter()
        .find(|c| c["field"] == "descriptor1.volume_space_size")
        .unwrap();
    assert!(
        size["a"].is_u64() && size["b"].as_u64() > size["a"].as_u64(),
        "{size}"
    );
    let files = v["differences"]["files"].as_array().unwrap();
    let find = |path: &str, change: &str| {
        files
            .iter()
            .find(|c| c["path"] == path && c["change"] == change)
            .unwrap_or_else(|| panic!("{path} {change}: {files:?}"))
            .clone()
    };
    let added = find("/new.txt", "added");
    assert_eq!(added["size"], 3);
    assert_eq!(added["type"], "file");
    let big = find("/sizes/big.bin", "added");
    assert_eq!(big["size"], 3 << 20);
    let mode = find("/bin/tool.sh", "metadata");
    assert_eq!((&mode["a"], &mode["b"]), (&"0755".into(), &"0700".into()));
    let m = files
        .iter()
        .find(|c| c["path"] == "/sizes/one" && c["field"] == "mtime")
        .unwrap();
    assert!(m["b"].as_str().unwrap().starts_with("2022-04-15T"), "{m}");
}
