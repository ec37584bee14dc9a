//! Names that need no change are recorded the way genisoimage and xorriso
//! record them, in the same order: identifiers listed by `isoinfo -l` /
//! `isoinfo -J -l` and read raw from the root directory are compared with
//! `write::names::assign` sorted by `record_order`. Tests skip with a reason
//! when a tool is missing, and fail instead with `ISOFORGE_REQUIRE_ORACLES=1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::Command;

use isoforge::write::names::{assign, record_order, Child, Namespace};
use isoforge_format::strings::decode_ucs2be;

fn require_oracles() -> bool {
    std::env::var("ISOFORGE_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

/// Whether `tool` runs; prints why not (or fails when oracles are required).
fn have(tool: &str, version_arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let reason = format!("{tool} is not installed");
        if require_oracles() {
            panic!("oracle missing and ISOFORGE_REQUIRE_ORACLES=1: {reason}");
        }
        eprintln!("skipped: {reason}");
    }
    ok
}

/// ISO 9660 names that need at most upper-casing, chosen so that §9.3 order
/// differs from input order ("A" < "A.B" < "A.BZ" < "AB" < "A_").
const ISO_FILES: &[&str] = &[
    "readme.txt",
    "Makefile",
    "A_B_C.H",
    "x1.c",
    "A_",
    "AB",
    "A.BZ",
    "A.B",
    "A",
    "ZZZZZZZZ.ZZZ",
];
const ISO_DIRS: &[&str] = &["DIR_A", "sub", "B1"];

/// Joliet names that need no change.
const JOLIET_FILES: &[&str] = &[
    "readme.txt",
    "Makefile",
    "Long File Name With Spaces and.ext",
    "a.b.c",
    "a.bz",
    "ab",
    "A_",
    "caf\u{e9}.txt",
];
const JOLIET_DIRS: &[&str] = &["subdir.d", "Sub"];

fn make_tree(dir: &Path, files: &[&str], dirs: &[&str]) {
    for f in files {
        std::fs::write(dir.join(f), b"x\n").unwrap();
    }
    for d in dirs {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
}

fn children<'a>(files: &[&'a str], dirs: &[&'a str]) -> Vec<Child<'a>> {
    let f = files.iter().map(|&name| Child {
        name,
        is_dir: false,
    });
    let d = dirs.iter().map(|&name| Child { name, is_dir: true });
    f.chain(d).collect()
}

/// Our identifiers, in directory record order.
fn ours(ns: Namespace, ch: &[Child<'_>]) -> Vec<Vec<u8>> {
    let (mut ids, renamed) = assign(ns, ch);
    assert!(renamed.is_empty(), "{renamed:?}");
    let joliet = matches!(ns, Namespace::Joliet { .. });
    ids.sort_by(|a, b| record_order(a, b, joliet));
    ids
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Identifiers of the root directory as `isoinfo -l` prints them, in order.
fn isoinfo_root(iso: &Path, joliet: bool) -> Vec<String> {
    let mut cmd = Command::new("isoinfo");
    cmd.arg("-i").arg(iso).arg("-l");
    if joliet {
        cmd.arg("-J");
    }
    let text = run(&mut cmd);
    let mut names = Vec::new();
    let mut in_root = false;
    for line in text.lines() {
        if let Some(dir) = line.strip_prefix("Directory listing of ") {
            in_root = dir.trim() == "/";
            continue;
        }
        if !in_root {
            continue;
        }
        // "...  [     28 02]  NAME " with one trailing space.
        if let Some((_, name)) = line.split_once("]  ") {
            let name = name.strip_suffix(' ').unwrap_or(name);
            if name != "." && name != ".." {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Raw identifiers of the root directory of the primary (or Joliet
/// supplementary) volume descriptor, in record order, without `.` and `..`.
fn raw_root(iso: &Path, joliet: bool) -> Vec<Vec<u8>> {
    let img = std::fs::read(iso).unwrap();
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    for n in 16.. {
        let vd = &img[n * 2048..(n + 1) * 2048];
        let want = if joliet { 2 } else { 1 };
        if vd[0] == 255 {
            break;
        }
        if vd[0] != want || (joliet && !matches!(&vd[88..91], b"%/@" | b"%/C" | b"%/E")) {
            continue;
        }
        let root = &vd[156..190];
        let (lba, len) = (u32le(&root[2..]), u32le(&root[10..]));
        let dir = &img[lba * 2048..lba * 2048 + len];
        let mut ids = Vec::new();
        let mut pos = 0;
        while pos < dir.len() {
            let rec_len = usize::from(dir[pos]);
            if rec_len == 0 {
                pos = (pos / 2048 + 1) * 2048;
                continue;
            }
            let id_len = usize::from(dir[pos + 32]);
            let id = &dir[pos + 33..pos + 33 + id_len];
            if id != [0] && id != [1] {
                ids.push(id.to_vec());
            }
            pos += rec_len;
        }
        return ids;
    }
    panic!(
        "no {} volume descriptor",
        if joliet { "Joliet" } else { "primary" }
    );
}

fn build(tool: &str, args: &[&str], src: &Path, iso: &Path) {
    let mut cmd = Command::new(tool);
    if tool == "xorriso" {
        cmd.args(["-as", "mkisofs"]);
    }
    cmd.arg("-quiet").args(args).arg("-o").arg(iso).arg(src);
    run(&mut cmd);
}

fn check_iso(tool: &str, level: u8) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src, ISO_FILES, ISO_DIRS);
    let iso = tmp.path().join("out.iso");
    build(tool, &["-iso-level", &level.to_string()], &src, &iso);

    let ns = Namespace::Iso9660 {
        level,
        allow_lowercase: false,
    };
    let want = ours(ns, &children(ISO_FILES, ISO_DIRS));
    let raw = raw_root(&iso, false);
    assert_eq!(
        raw.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>(),
        want.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>(),
        "{tool} -iso-level {level}: raw root directory"
    );
    let listed = isoinfo_root(&iso, false);
    let want_str: Vec<String> = want
        .iter()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .collect();
    assert_eq!(listed, want_str, "{tool} -iso-level {level}: isoinfo -l");
}

fn check_joliet(tool: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src, JOLIET_FILES, JOLIET_DIRS);
    let iso = tmp.path().join("out.iso");
    build(tool, &["-J", "-input-charset", "utf-8"], &src, &iso);

    let want = ours(
        Namespace::Joliet { long: false },
        &children(JOLIET_FILES, JOLIET_DIRS),
    );
    // Raw bytes: UCS-2BE, no ";1", same order.
    let raw = raw_root(&iso, true);
    let show = |v: &[Vec<u8>]| v.iter().map(|b| decode_ucs2be(b)).collect::<Vec<_>>();
    assert_eq!(show(&raw), show(&want), "{tool} -J: raw root directory");
    assert_eq!(raw, want, "{tool} -J: raw bytes");
    // isoinfo's listing (its output charset may differ for non-ASCII).
    let listed = isoinfo_root(&iso, true);
    let want_ascii: Vec<String> = show(&want).into_iter().filter(|s| s.is_ascii()).collect();
    let listed_ascii: Vec<String> = listed.into_iter().filter(|s| s.is_ascii()).collect();
    assert_eq!(listed_ascii, want_ascii, "{tool} -J: isoinfo -J -l");
}

#[test]
fn genisoimage_iso_levels() {
    if !have("genisoimage", "-version") || !have("isoinfo", "-version") {
        return;
    }
    for level in 1..=4 {
        check_iso("genisoimage", level);
    }
}

#[test]
fn xorriso_iso_levels() {
    if !have("xorriso", "-version") || !have("isoinfo", "-version") {
        return;
    }
    // xorriso -as mkisofs has no level 4 (it records level 3 names).
    for level in 1..=3 {
        check_iso("xorriso", level);
    }
}

#[test]
fn joliet_like_xorriso_and_genisoimage() {
    if !have("isoinfo", "-version") {
        return;
    }
    if have("xorriso", "-version") {
        check_joliet("xorriso");
    }
    if have("genisoimage", "-version") {
        check_joliet("genisoimage");
    }
}
