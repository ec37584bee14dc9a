//! Images made by xorriso, genisoimage, bsdtar and mkzftree are read by
//! isoforge; listings and extracted trees are compared with the source tree
//! byte for byte, and names per name space with isoinfo and pycdlib.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

/// Writes `src` into `img` with a tool and arguments (`OUT`/`SRC` substituted).
fn build(tool: &str, args: &[&str], src: &Path, img: &Path) {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("OUT", img.to_str().unwrap())
                .replace("SRC", src.to_str().unwrap())
        })
        .collect();
    run(Command::new(tool).args(&args));
}

/// Checks an image against its source: the Rock Ridge listing, an extraction
/// (contents, modes, times, links, hard links), and the names of the plain
/// ISO 9660 and Joliet trees against isoinfo and pycdlib.
fn check_rr_image(src: &Path, img: &Path, cmp: Compare, hardlinks: bool) {
    let expected = snapshot(src);
    let img_s = img.to_str().unwrap();
    let listed = snapshot_json(&isoforge_ok(&["ls", "-r", "--json", img_s]).stdout);
    assert_same(
        &format!("ls -r --json {img_s}"),
        &expected,
        &listed,
        Compare {
            content: false,
            ..cmp
        },
    );

    let tmp = tempdir();
    let out = tmp.path().join("x");
    isoforge_ok(&["extract", "-p", img_s, "-C", out.to_str().unwrap()]);
    let got = snapshot(&out);
    assert_same(&format!("extract {img_s}"), &expected, &got, cmp);
    if hardlinks {
        assert_eq!(
            hardlink_groups(src),
            hardlink_groups(&out),
            "hard link groups after extracting {img_s}"
        );
        assert!(!hardlink_groups(&out).is_empty());
    }
    check_names(img);
}

/// Our plain ISO 9660 names equal isoinfo's and pycdlib's; our Joliet names
/// equal pycdlib's.
fn check_names(img: &Path) {
    assert_eq!(
        our_names(img, "iso9660"),
        isoinfo_names(img, false),
        "ISO 9660 names of {} vs isoinfo -l",
        img.display()
    );
    if have_pycdlib() {
        assert_eq!(
            our_names(img, "iso9660"),
            pycdlib_names(img, "iso"),
            "ISO 9660 names vs pycdlib"
        );
        let info: serde_json::Value =
            serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
                .unwrap();
        if !info["extensions"]["joliet_level"].is_null() {
            assert_eq!(
                our_names(img, "joliet"),
                pycdlib_names(img, "joliet"),
                "Joliet names vs pycdlib"
            );
        }
    }
}

#[test]
fn xorriso_rock_ridge_joliet() {
    if !have("xorriso") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    let img = t.path().join("x.iso");
    build(
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-joliet-long",
            "-o",
            "OUT",
            "SRC",
        ],
        &src,
        &img,
    );
    check_rr_image(&src, &img, Compare::ALL, true);
}

#[test]
fn xorriso_iso_levels_1_and_2() {
    if !have("xorriso") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    for level in ["1", "2"] {
        let img = t.path().join(format!("l{level}.iso"));
        build(
            "xorriso",
            &[
                "-as",
                "mkisofs",
                "-quiet",
                "-iso-level",
                level,
                "-R",
                "-o",
                "OUT",
                "SRC",
            ],
            &src,
            &img,
        );
        check_rr_image(&src, &img, Compare::ALL, true);
    }
}

#[test]
fn genisoimage_rock_ridge_relocates_deep_directories() {
    if !have("genisoimage") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    let img = t.path().join("g.iso");
    build(
        "genisoimage",
        &[
            "-quiet",
            "-input-charset",
            "utf-8",
            "-R",
            "-J",
            "-joliet-long",
            "-o",
            "OUT",
            "SRC",
        ],
        &src,
        &img,
    );
    // genisoimage moved the deep directory to rr_moved; the plain tree shows that.
    assert!(
        our_names(&img, "iso9660")
            .keys()
            .any(|k| k.starts_with("/RR_MOVED")),
        "expected a relocation directory"
    );
    check_rr_image(&src, &img, Compare::ALL, true);
}

#[test]
fn genisoimage_rationalized_rock_ridge() {
    if !have("genisoimage") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    let img = t.path().join("r.iso");
    build(
        "genisoimage",
        &[
            "-quiet",
            "-input-charset",
            "utf-8",
            "-r",
            "-J",
            "-o",
            "OUT",
            "SRC",
        ],
        &src,
        &img,
    );
    check_rr_image(
        &src,
        &img,
        Compare {
            mode: false,
            ..Compare::ALL
        },
        true,
    );
    // -r makes everything readable by all and owned by root.
    let v = ls_entries(&isoforge_ok(&["ls", "-r", "--json", img.to_str().unwrap()]).stdout);
    for e in &v {
        if e["type"] == "file" {
            assert_eq!(json_mode(&e["mode"]) & 0o444, 0o444, "{e}");
            assert_eq!(e["uid"], 0);
        }
    }
}

#[test]
fn bsdtar_iso9660_writer() {
    if !have("bsdtar") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    let img = t.path().join("b.iso");
    run(Command::new("bsdtar")
        .args(["--format", "iso9660", "-cf"])
        .arg(&img)
        .arg("-C")
        .arg(&src)
        .arg("."));
    // libarchive records permission bits rationalized, and no time for the root.
    check_rr_image(
        &src,
        &img,
        Compare {
            mode: false,
            ..Compare::ALL
        },
        true,
    );
}

#[test]
fn joliet_only_image_lists_joliet_names() {
    if !have("genisoimage") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(
        &src,
        TreeSpec {
            long_names: false,
            symlinks: false,
            hardlinks: false,
            deep: false,
            ..TreeSpec::FULL
        },
    );
    // Without Rock Ridge genisoimage drops what ISO 9660 cannot nest (over 8
    // levels) and names outside the BMP: keep the tree within both.
    fs::remove_dir_all(src.join("a")).unwrap();
    fs::remove_file(src.join("emoji 😀.txt")).unwrap();
    let img = t.path().join("j.iso");
    // xorriso always adds Rock Ridge; genisoimage writes Joliet alone.
    build(
        "genisoimage",
        &[
            "-quiet",
            "-input-charset",
            "utf-8",
            "-J",
            "-o",
            "OUT",
            "SRC",
        ],
        &src,
        &img,
    );
    let info: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(info["default_view"], "joliet");
    assert!(info["extensions"]["rock_ridge"].is_null());
    let expected = snapshot(&src);
    let listed = snapshot_json(&isoforge_ok(&["ls", "-r", "--json", img.to_str().unwrap()]).stdout);
    // No Rock Ridge: no modes; times are the recording dates.
    let cmp = Compare {
        mode: false,
        mtime: true,
        dir_mtime: true,
        content: false,
    };
    assert_same("joliet listing", &expected, &listed, cmp);
    let out = t.path().join("x");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ]);
    assert_same(
        "joliet extract",
        &expected,
        &snapshot(&out),
        Compare {
            mode: false,
            ..Compare::ALL
        },
    );
    check_names(&img);
}

#[test]
fn iso_level_4_enhanced_tree() {
    if !have("genisoimage") || !have("isoinfo") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::PLAIN);
    let img = t.path().join("l4.iso");
    build(
        "genisoimage",
        &["-quiet", "-iso-level", "4", "-o", "OUT", "SRC"],
        &src,
        &img,
    );
    let info: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(info["extensions"]["iso9660_1999"], true);
    assert_eq!(info["default_view"], "iso9660-1999");
    let types: Vec<_> = info["descriptors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"enhanced".to_string()), "{types:?}");
    // ISO 9660:1999 keeps the names as they are.
    let expected = snapshot(&src);
    let listed = snapshot_json(&isoforge_ok(&["ls", "-r", "--json", img.to_str().unwrap()]).stdout);
    assert_same(
        "level 4 listing",
        &expected,
        &listed,
        Compare {
            mode: false,
            mtime: true,
            dir_mtime: true,
            content: false,
        },
    );
    let out = t.path().join("x");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ]);
    assert_same(
        "level 4 extract",
        &expected,
        &snapshot(&out),
        Compare {
            mode: false,
            ..Compare::ALL
        },
    );
    assert_eq!(our_names(&img, "iso9660"), isoinfo_names(&img, false));
}

#[test]
fn file_over_4_gib_is_multi_extent() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let big = src.join("big.bin");
    let size: u64 = 4_500 * 1024 * 1024;
    // Markers at the start, across the 4 GiB - 2 KiB section boundary, and at the end.
    let marks: [(u64, &[u8]); 3] = [
        (0, b"START"),
        (4_294_965_248 - 3, b"ACROSS"),
        (size - 3, b"END"),
    ];
    sparse_with_marks(&big, size, &marks);
    let img = t.path().join("big.iso");
    // Written through cp so that the zero runs of the image stay holes.
    run(Command::new("sh").arg("-c").arg(format!(
        "xorriso -as mkisofs -quiet -R -iso-level 3 -o - '{}' | cp --sparse=always /dev/stdin '{}'",
        src.display(),
        img.display()
    )));
    let v = ls_entries(&isoforge_ok(&["ls", "--json", img.to_str().unwrap()]).stdout);
    let e = &v[0];
    assert_eq!(e["size"].as_u64().unwrap(), size);
    assert_eq!(e["extents"].as_array().unwrap().len(), 2, "{e}");
    let out = t.path().join("x");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ]);
    assert_marks(&out.join("big.bin"), size, &marks);
    let got = fs::File::open(out.join("big.bin")).unwrap();
    use std::os::unix::fs::FileExt;
    // Bytes around the markers are zero.
    let mut b = [0xFFu8; 4096];
    got.read_exact_at(&mut b, 1 << 31).unwrap();
    assert!(b.iter().all(|&x| x == 0));
    // Holes stayed holes.
    use std::os::unix::fs::MetadataExt;
    assert!(
        got.metadata().unwrap().blocks() * 512 < 64 << 20,
        "extracted file is not sparse"
    );
    // cat of the section boundary region through a pipe agrees too.
    let o = run(Command::new("sh").arg("-c").arg(format!(
        "'{}' cat '{}' /big.bin | tail -c +{} | head -c 6",
        bin().display(),
        img.display(),
        4_294_965_248u64 - 3 + 1
    )));
    assert_eq!(o.stdout, b"ACROSS");
}

#[test]
fn zisofs_files_read_back_to_the_original_bytes() {
    if !have("mkzftree") || !have("genisoimage") || !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let mut text = Vec::new();
    for i in 0..20000 {
        text.extend_from_slice(format!("line {i} of a compressible file\n").as_bytes());
    }
    fs::write(src.join("text.txt"), &text).unwrap();
    fs::write(src.join("random.bin"), bytes(9, 100_000)).unwrap();
    fs::write(src.join("zeros.bin"), vec![0u8; 300_000]).unwrap();
    fs::write(src.join("small.txt"), b"tiny").unwrap();
    let z = t.path().join("z");
    run(Command::new("mkzftree").arg(&src).arg(&z));
    let g = t.path().join("g.iso");
    build(
        "genisoimage",
        &["-quiet", "-R", "-z", "-o", "OUT", "SRC"],
        &z,
        &g,
    );
    let x = t.path().join("x.iso");
    run(Command::new("xorriso")
        .args(["-outdev"])
        .arg(&x)
        .args(["-map"])
        .arg(&src)
        .args([
            "/",
            "-zisofs",
            "level=9:block_size=32k",
            "-set_filter_r",
            "--zisofs",
            "/",
            "--",
            "-commit",
        ])
        .arg("-end")
        .env("LANG", "C"));
    for img in [&g, &x] {
        let info: serde_json::Value =
            serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
                .unwrap();
        assert_eq!(info["extensions"]["zisofs"], true, "{}", img.display());
        let listed = ls_entries(&isoforge_ok(&["ls", "--json", img.to_str().unwrap()]).stdout);
        let text_entry = listed.iter().find(|e| e["name"] == "text.txt").unwrap();
        assert_eq!(text_entry["zisofs"], true);
        assert_eq!(text_entry["size"].as_u64().unwrap(), text.len() as u64);
        let o = isoforge_ok(&["cat", img.to_str().unwrap(), "/text.txt"]);
        assert!(
            o.stdout == text,
            "cat of a zisofs file differs in {}",
            img.display()
        );
        let out = t.path().join(format!(
            "out-{}",
            img.file_name().unwrap().to_string_lossy()
        ));
        isoforge_ok(&[
            "extract",
            img.to_str().unwrap(),
            "-C",
            out.to_str().unwrap(),
        ]);
        assert_same(
            "zisofs extract",
            &snapshot(&src),
            &snapshot(&out),
            Compare {
                mode: false,
                mtime: false,
                dir_mtime: false,
                content: true,
            },
        );
    }
}

/// Extracts with isoforge, xorriso -osirrox and bsdtar and compares the trees.
fn extract_agrees_with_peers(img: &str) {
    let t = tempdir();
    let ours = t.path().join("ours");
    let xo = t.path().join("xorriso");
    let bt = t.path().join("bsdtar");
    isoforge_ok(&["extract", img, "-C", ours.to_str().unwrap()]);
    fs::create_dir(&xo).unwrap();
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev", img, "-extract", "/"])
        .arg(&xo));
    fs::create_dir(&bt).unwrap();
    run(Command::new("bsdtar").args(["xf", img, "-C"]).arg(&bt));
    let cmp = Compare {
        mode: false,
        mtime: true,
        dir_mtime: false,
        content: true,
    };
    let mine = snapshot(&ours);
    assert!(mine.len() > 3);
    assert_same(
        &format!("{img}: isoforge vs xorriso -osirrox"),
        &snapshot(&xo),
        &mine,
        cmp,
    );
    // bsdtar lists the boot catalog as a file too; compare what both have.
    let theirs = snapshot(&bt);
    assert_same(&format!("{img}: isoforge vs bsdtar"), &theirs, &mine, cmp);
}

#[test]
fn real_images_extract_like_xorriso_and_bsdtar() {
    if !have("xorriso") || !have("bsdtar") {
        return;
    }
    for img in [
        "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
        "/usr/lib/ipxe/ipxe.iso",
    ] {
        if have_file(img) {
            extract_agrees_with_peers(img);
        }
    }
}

#[test]
fn real_images_list_like_isoinfo() {
    if !have("isoinfo") {
        return;
    }
    for img in [
        "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
        "/usr/lib/ipxe/ipxe.iso",
    ] {
        if have_file(img) {
            check_names(Path::new(img));
        }
    }
}
