//! `modify` copies runs of files that lie together in the old image with
//! one kernel copy each: what it writes must still be exactly the files
//! kept (judged by xorriso's extraction against the source tree), and
//! nothing of a removed file may come along with its neighbours.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::process::Command;

use common::*;

#[test]
fn runs_of_small_files_are_copied_whole_and_removed_ones_left_out() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    // 600 files of 3000-5000 bytes: about 2.4 MB that xorriso stores one
    // after another, so they make runs worth one copy.
    for i in 0..600u64 {
        let p = src.join(format!("d/f{i:04}.bin"));
        fs::write(&p, bytes(i, 3000 + (i as usize * 37) % 2001)).unwrap();
        touch(&p, 1_650_000_000 + i as i64);
    }
    let secret = bytes(9999, 4000);
    fs::write(src.join("d/f0300.bin"), &secret).unwrap();
    let img = t.path().join("orig.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-o"])
        .arg(&img)
        .arg(&src));
    let raw = fs::read(&img).unwrap();
    let needle = &secret[1000..1064];
    assert!(raw.windows(needle.len()).any(|w| w == needle));
    // Remove a file in the middle, and one at each end of the run.
    let out = t.path().join("out.iso");
    isoforge_ok(&[
        "modify",
        "-q",
        img.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--rm",
        "/d/f0300.bin",
        "--rm",
        "/d/f0000.bin",
        "--rm",
        "/d/f0599.bin",
    ]);
    let result = fs::read(&out).unwrap();
    assert!(
        !result.windows(needle.len()).any(|w| w == needle),
        "bytes of the removed file are in the result"
    );
    let mut expected = snapshot(&src);
    for p in ["/d/f0300.bin", "/d/f0000.bin", "/d/f0599.bin"] {
        expected.remove(p).unwrap();
    }
    check_xorriso_reads(
        &out,
        &expected,
        &t.path().join("x"),
        Compare {
            dir_mtime: false,
            ..Compare::ALL
        },
        "remastered run of small files",
    );
}
