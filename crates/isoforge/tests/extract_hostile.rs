//! Extraction of hand-made hostile images: names that climb out of the
//! destination, links planted before paths that go through them, device
//! nodes, and shared-extent bombs. Nothing may appear outside the
//! destination, and nothing half-written may stay in it.
#![allow(clippy::unwrap_used)]

#[path = "hostile/builder.rs"]
mod builder;

use std::fs;
use std::path::Path;

use builder::*;
use isoforge::extract::{extract, ExtractOptions};
use isoforge::{Image, View};

const DATA: u32 = FREE;

/// Everything under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Extracts `img` into `<tmp>/dest` (an existing directory); returns the result and checks that
/// nothing exists beside `dest` and no temporary file stayed behind.
fn run(
    img: Vec<u8>,
    view: View,
    opts: &ExtractOptions,
) -> (
    Result<isoforge::extract::ExtractReport, isoforge::Error>,
    tempfile::TempDir,
) {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dest");
    // Given, not created by the extraction: what it wrote stays to be seen.
    fs::create_dir(&dest).unwrap();
    let image = Image::open(img).unwrap();
    let r = extract(&image, view, &dest, &[], opts, &|_| {});
    assert_eq!(
        listing(t.path())
            .iter()
            .filter(|p| !p.starts_with("dest"))
            .count(),
        0,
        "something was written outside the destination: {:?}",
        listing(t.path())
    );
    if dest.exists() {
        for p in listing(&dest) {
            assert!(!p.contains(".isoforge-"), "temporary file left: {p}");
        }
    }
    (r, t)
}

fn rr_file_record(name_on_disk: &[u8], rr_name: &[u8], lba: u32, len: u32) -> Vec<u8> {
    let su = [px(0o100_644), nm(0, rr_name)].concat();
    dir_record(name_on_disk, lba, len, 0, &su)
}

#[test]
fn rock_ridge_names_that_climb_out_are_refused() {
    for evil in [
        &b".."[..],
        b".",
        b"../evil",
        b"a/../../evil",
        b"/etc/evil",
        b"x\0y",
        b"",
    ] {
        let mut iso = Iso::rock_ridge(DATA + 1);
        iso.put(DATA, b"payload");
        iso.root(
            true,
            &[
                rr_file_record(b"EVIL;1", evil, DATA, 7),
                rr_file_record(b"GOOD;1", b"good", DATA, 7),
            ],
        );
        let (r, t) = run(iso.bytes(), View::RockRidge, &ExtractOptions::default());
        let report = r.unwrap_or_else(|e| panic!("{evil:?}: {e}"));
        assert_eq!(report.files, 1, "{evil:?}");
        assert!(!report.warnings.is_empty(), "{evil:?}: no warning");
        assert_eq!(listing(&t.path().join("dest")), ["good"], "{evil:?}");
    }
}

#[test]
fn plain_names_that_climb_out_are_refused() {
    for evil in [&b".."[..], b"A/../../B", b"..;1"] {
        let mut iso = Iso::new(DATA + 1);
        iso.put(DATA, b"payload");
        iso.root(
            false,
            &[
                dir_record(evil, DATA, 7, 0, &[]),
                dir_record(b"GOOD.TXT;1", DATA, 7, 0, &[]),
            ],
        );
        let (r, t) = run(iso.bytes(), View::Iso9660, &ExtractOptions::default());
        let report = r.unwrap();
        assert_eq!(report.files, 1, "{:?}", String::from_utf8_lossy(evil));
        assert_eq!(listing(&t.path().join("dest")), ["GOOD.TXT"]);
    }
}

#[test]
fn strict_extraction_fails_on_a_bad_name() {
    let mut iso = Iso::rock_ridge(DATA + 1);
    iso.root(true, &[rr_file_record(b"EVIL;1", b"..", DATA, 0)]);
    let mut opts = ExtractOptions::default();
    opts.strict = true;
    let (r, _t) = run(iso.bytes(), View::RockRidge, &opts);
    assert!(r.is_err());
}

/// A symbolic link `d` to a directory outside, and a directory `d` with a
/// file in it: whichever comes first wins, and nothing goes through the link.
#[test]
fn link_then_directory_of_the_same_name() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside
        .path()
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    let comps: Vec<(u8, &[u8])> = std::iter::once((0x08u8, &b""[..]))
        .chain(target.split('/').map(|c| (0u8, c.as_bytes())))
        .collect();
    for link_first in [true, false] {
        let mut iso = Iso::rock_ridge(DATA + 3);
        let sub = DATA + 1;
        iso.put(DATA, b"payload");
        iso.dir(
            sub,
            BLOCK as u32,
            ROOT,
            &px(0o040_755),
            &[rr_file_record(b"X;1", b"x", DATA, 7)],
        );
        let link = dir_record(
            b"D;1",
            0,
            0,
            0,
            &[px(0o120_777), nm(0, b"d"), sl(0, &comps)].concat(),
        );
        let dir = dir_record(
            b"D",
            sub,
            BLOCK as u32,
            DIR,
            &[px(0o040_755), nm(0, b"d")].concat(),
        );
        let children = if link_first {
            vec![link, dir]
        } else {
            vec![dir, link]
        };
        iso.root(true, &children);
        let (r, t) = run(iso.bytes(), View::RockRidge, &ExtractOptions::default());
        r.unwrap();
        assert_eq!(
            fs::read_dir(outside.path()).unwrap().count(),
            0,
            "wrote through the link (link first: {link_first})"
        );
        let d = t.path().join("dest/d");
        let m = fs::symlink_metadata(&d).unwrap();
        if link_first {
            assert!(m.file_type().is_symlink());
        } else {
            assert!(m.is_dir());
            assert_eq!(fs::read(d.join("x")).unwrap(), b"payload");
        }
    }
}

#[test]
fn device_nodes_are_reported_not_created() {
    let mut iso = Iso::rock_ridge(DATA);
    let su = [
        px(0o020_644),
        nm(0, b"mem"),
        susp(b"PN", &[both32(1), both32(1)].concat()),
    ]
    .concat();
    iso.root(true, &[dir_record(b"MEM;1", 0, 0, 0, &su)]);
    let (r, t) = run(iso.bytes(), View::RockRidge, &ExtractOptions::default());
    let report = r.unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("/mem")),
        "{:?}",
        report.warnings
    );
    assert!(listing(&t.path().join("dest")).is_empty());
}

#[test]
fn shared_extent_bomb_hits_the_byte_budget() {
    // 2000 files all pointing at one 64 KiB extent.
    let mut iso = Iso::rock_ridge(DATA + 32);
    iso.put(DATA, &vec![7u8; 64 * 1024]);
    let mut children = Vec::new();
    for i in 0..2000 {
        let name = format!("F{i};1");
        children.push(rr_file_record(
            name.as_bytes(),
            format!("f{i}").as_bytes(),
            DATA,
            64 * 1024,
        ));
    }
    let root_lba = DATA + 40;
    let len = iso.dir(root_lba, 0, root_lba, &rr_root_su(), &children) as u32;
    iso.dir(root_lba, len, root_lba, &rr_root_su(), &children);
    iso.set_root(root_lba, len);
    let mut opts = ExtractOptions::default();
    opts.max_bytes = Some(10 << 20);
    let (r, t) = run(iso.bytes(), View::RockRidge, &opts);
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            isoforge::Error::LimitExceeded {
                what: isoforge::extract::BYTE_BUDGET,
                ..
            }
        ),
        "{e}"
    );
    let written: u64 = listing(&t.path().join("dest"))
        .iter()
        .map(|p| {
            fs::metadata(t.path().join("dest").join(p))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    assert!(
        written <= 10 << 20,
        "{written} bytes written past the budget"
    );
}

#[test]
fn directory_loop_stops_extraction() {
    // A subdirectory whose extent is the root's own.
    let mut iso = Iso::rock_ridge(DATA);
    let su = [px(0o040_755), nm(0, b"loop")].concat();
    iso.root(true, &[dir_record(b"LOOP", ROOT, BLOCK as u32, DIR, &su)]);
    let (r, _t) = run(iso.bytes(), View::RockRidge, &ExtractOptions::default());
    let e = r.unwrap_err();
    assert!(e.to_string().contains("directory loop"), "{e}");
}
