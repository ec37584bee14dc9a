//! Names recorded in a legacy 8-bit encoding (not UTF-8) are read as
//! ISO 8859-1: names that differ stay different, and `extract` gives every
//! file its own bytes; symbolic link targets likewise. bsdtar, which keeps
//! the raw bytes, is the judge.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// Bytes as text: UTF-8 when valid, else ISO 8859-1.
fn latin1(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// Relative path (raw bytes read as ISO 8859-1) -> contents, for every file;
/// a symbolic link's contents are `-> ` and its target, read the same way.
fn files_latin1(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = latin1(p.strip_prefix(root).unwrap().as_os_str().as_bytes());
            if fs::symlink_metadata(&p).unwrap().file_type().is_symlink() {
                let target = fs::read_link(&p).unwrap();
                let shown = format!("-> {}", latin1(target.as_os_str().as_bytes()));
                out.insert(rel, shown.into_bytes());
            } else if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn legacy_encoded_names_stay_distinct() {
    if !have("xorriso") || !have("genisoimage") || !have("bsdtar") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    let raw = |b: &[u8]| src.join(OsStr::from_bytes(b));
    fs::create_dir_all(raw(b"dir\xfc")).unwrap();
    for (name, data) in [
        (&b"caf\xe9"[..], &b"e acute"[..]),
        (b"caf\xe8", b"e grave"),
        (b"na\xefve.txt", b"i diaeresis"),
        (b"dir\xfc/x", b"in a directory"),
        ("café-utf8".as_bytes(), b"valid UTF-8"),
    ] {
        fs::write(raw(name), data).unwrap();
    }
    // Link targets in the legacy encoding.
    for (name, target) in [(&b"link\xe9"[..], &b"caf\xe9"[..]), (b"deep", b"dir\xfc/x")] {
        std::os::unix::fs::symlink(OsStr::from_bytes(target), raw(name)).unwrap();
    }
    for (tool, args) in [
        ("xorriso", &["-as", "mkisofs", "-quiet", "-R", "-o"][..]),
        ("genisoimage", &["-quiet", "-R", "-o"][..]),
    ] {
        let img = t.path().join(format!("{tool}.iso"));
        run(Command::new(tool).args(args).arg(&img).arg(&src));
        let judge = t.path().join(format!("{tool}-bsdtar"));
        fs::create_dir(&judge).unwrap();
        run(Command::new("bsdtar")
            .arg("xf")
            .arg(&img)
            .arg("-C")
            .arg(&judge));
        let want = files_latin1(&judge);
        assert_eq!(want.len(), 7, "{tool}: bsdtar extracted {:?}", want.keys());
        assert!(want.contains_key("café"), "{tool}: {:?}", want.keys());

        let ours = t.path().join(format!("{tool}-isoforge"));
        isoforge_ok(&[
            "extract",
            img.to_str().unwrap(),
            "-C",
            ours.to_str().unwrap(),
        ]);
        assert_eq!(files_latin1(&ours), want, "{tool}");
        let listed = isoforge_ok(&["ls", "-r", img.to_str().unwrap()]).stdout;
        let listed = String::from_utf8(listed).unwrap();
        for name in [
            "/café",
            "/cafè",
            "/naïve.txt",
            "/dirü/x",
            "/café-utf8",
            "/linké",
        ] {
            assert!(
                listed.lines().any(|l| l == name),
                "{tool}: {name} not in\n{listed}"
            );
        }
    }
}

/// A link target with a component longer than one SL component holds
/// (255 bytes) is split, and the split falls inside a UTF-8 character.
/// xorriso cannot write such a link, but reads ours: it judges the writer,
/// the source judges both readers.
#[test]
fn long_link_targets_split_inside_a_character() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let target = format!("{}/{}", "ü".repeat(200), "é".repeat(150));
    std::os::unix::fs::symlink(&target, src.join("long")).unwrap();
    let img = t.path().join("long.iso");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    isoforge_ok(&["create", "-q", "-o", &s(&img), &s(&src)]);
    let ours = t.path().join("ours");
    isoforge_ok(&["extract", &s(&img), "-C", &s(&ours)]);
    let theirs = t.path().join("xorriso");
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&img)
        .args(["-extract", "/"])
        .arg(&theirs));
    for dir in [&ours, &theirs] {
        let got = fs::read_link(dir.join("long")).unwrap();
        assert!(
            got.as_os_str().as_bytes() == target.as_bytes(),
            "{}",
            dir.display()
        );
    }
}
