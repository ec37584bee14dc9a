//! The programs in `examples/` do what they say. Their code is compiled into
//! this test (running `cargo run --example` here would build them again) and
//! called as their `main` calls it; xorriso judges the images they make and
//! makes the images they read, and the trees are compared byte for byte.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/build_image.rs"]
mod build_image;
#[allow(dead_code)]
#[path = "../examples/extract_safely.rs"]
mod extract_safely;
#[allow(dead_code)]
#[path = "../examples/modify_image.rs"]
mod modify_image;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Whether xorriso runs; a missing oracle skips, or fails under
/// `ISOFORGE_REQUIRE_ORACLES=1`.
fn have_xorriso() -> bool {
    let ok = Command::new("xorriso")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "oracle xorriso is required (ISOFORGE_REQUIRE_ORACLES=1) but not installed"
        );
        eprintln!("skipping: xorriso is not installed");
    }
    ok
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A small tree: nested directories, a file of several blocks, an empty
/// file, and a relative symbolic link.
fn source(root: &Path) {
    fs::create_dir_all(root.join("docs/deep/er")).unwrap();
    fs::write(root.join("hello.txt"), "hello\n").unwrap();
    fs::write(root.join("empty"), "").unwrap();
    let big: Vec<u8> = (0..70_001u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(root.join("docs/big.bin"), big).unwrap();
    fs::write(root.join("docs/deep/er/leaf.txt"), "leaf").unwrap();
    std::os::unix::fs::symlink("../hello.txt", root.join("docs/hello")).unwrap();
}

/// Path -> contents (`<dir>`, `-> target`, or the bytes) of a host tree.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = fs::symlink_metadata(&p).unwrap();
            let v = if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&p).unwrap().display()).into_bytes()
            } else if m.is_dir() {
                stack.push(p.clone());
                b"<dir>".to_vec()
            } else {
                fs::read(&p).unwrap()
            };
            out.insert(rel, v);
        }
    }
    out
}

/// xorriso's extraction of an image into `dest` (a new directory).
fn xorriso_tree(img: &Path, dest: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::create_dir(dest).unwrap();
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(img)
        .args(["-extract", "/"])
        .arg(dest));
    tree(dest)
}

/// An image of `src` made by xorriso, with Rock Ridge and Joliet.
fn xorriso_image(src: &Path, img: &Path) {
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-R", "-J", "-quiet", "-o"])
        .arg(img)
        .arg(src));
}

#[test]
fn build_image_makes_an_image_xorriso_reads_back() {
    if !have_xorriso() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    source(&src);
    let img = t.path().join("out.iso");
    let n = build_image::run(&src, &img, "EXAMPLE_VOL").unwrap();
    assert_eq!(fs::metadata(&img).unwrap().len(), n);
    let mut want = tree(&src);
    want.insert(
        "README.TXT".into(),
        b"Made with the isoforge Builder.\n".to_vec(),
    );
    assert_eq!(xorriso_tree(&img, &t.path().join("x")), want);
    let o = Command::new("xorriso")
        .args(["-indev"])
        .arg(&img)
        .args(["-pvd_info"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&o.stdout);
    assert!(info.contains("EXAMPLE_VOL"), "{info}");
    assert!(!t.path().join("out.iso.part").exists());
}

#[test]
fn extract_safely_gives_back_an_xorriso_image_and_skips_links_out() {
    if !have_xorriso() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    source(&src);
    std::os::unix::fs::symlink("/etc/passwd", src.join("outside")).unwrap();
    let img = t.path().join("in.iso");
    xorriso_image(&src, &img);
    let dest = t.path().join("new/dest");
    let report = extract_safely::run(&img, &dest).unwrap();
    let mut want = tree(&src);
    want.remove("outside");
    assert_eq!(tree(&dest), want);
    assert_eq!(report.symlinks, 1);
    assert!(
        report.warnings.iter().any(|w| w.contains("/outside")),
        "{:?}",
        report.warnings
    );
    // Run again: the files are there now, and nothing is replaced.
    let e = extract_safely::run(&img, &dest).unwrap_err();
    assert!(matches!(e, isoforge::Error::Exists { .. }), "{e}");
    assert_eq!(tree(&dest), want);
}

#[test]
fn modify_image_adds_a_file_and_keeps_the_rest() {
    if !have_xorriso() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    source(&src);
    let img = t.path().join("in.iso");
    xorriso_image(&src, &img);
    let host = t.path().join("new.txt");
    fs::write(&host, "added by the example").unwrap();
    let out = t.path().join("out.iso");
    modify_image::run(&img, &host, "/added/new.txt", &out).unwrap();
    let mut want = tree(&src);
    want.insert("added".into(), b"<dir>".to_vec());
    want.insert("added/new.txt".into(), b"added by the example".to_vec());
    assert_eq!(xorriso_tree(&out, &t.path().join("x")), want);
    // The old image is untouched.
    assert_eq!(xorriso_tree(&img, &t.path().join("y")), tree(&src));
}
