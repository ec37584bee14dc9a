//! Images made by `isoforge create` are read by xorriso, isoinfo, 7z, bsdtar
//! and pycdlib, and each sees the source tree: names per name space, sizes,
//! contents, symlink targets, modes and times.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn create(args: &[&str], src: &Path, out: &Path) {
    let mut a: Vec<&str> = vec!["create", "-q", "-o", out.to_str().unwrap()];
    a.extend_from_slice(args);
    a.push(src.to_str().unwrap());
    isoforge_ok(&a);
}

/// Every oracle reads `img` and sees `src`.
fn check_created(src: &Path, img: &Path, rr: bool, joliet: bool) {
    let t = tempdir();
    let expected = snapshot(src);
    let img_s = img.to_str().unwrap();
    let root = is_root();
    let dirs_no_time = Compare {
        dir_mtime: false,
        ..Compare::ALL
    };

    if rr {
        // Our reader.
        let ours = t.path().join("ours");
        check_isoforge_reads(img, &expected, &ours, "");
        assert_eq!(
            hardlink_groups(src),
            hardlink_groups(&ours),
            "hard links (isoforge)"
        );
        // xorriso.
        if have("xorriso") {
            let x = t.path().join("xorriso");
            let c = Compare {
                mode: root,
                ..dirs_no_time
            };
            check_xorriso_reads(img, &expected, &x, c, "");
        }
        // bsdtar.
        if have("bsdtar") {
            let b = t.path().join("bsdtar");
            let c = Compare {
                mode: root,
                ..dirs_no_time
            };
            check_bsdtar_reads(img, &expected, &b, c, "");
            assert_eq!(
                hardlink_groups(src),
                hardlink_groups(&b),
                "hard links (bsdtar)"
            );
        }
        // isoinfo -R.
        if have("isoinfo") {
            let o = run(Command::new("isoinfo").args(["-R", "-l", "-i", img_s]));
            let text = String::from_utf8_lossy(&o.stdout);
            for (p, n) in &expected {
                if n.kind == 'f' && p.is_ascii() {
                    let name = p.rsplit('/').next().unwrap();
                    assert!(
                        text.contains(&format!("]  {name} ")),
                        "isoinfo -R -l lacks {p}"
                    );
                }
            }
        }
        if have_pycdlib() {
            let names: BTreeMap<String, bool> = expected
                .iter()
                .map(|(p, n)| (p.clone(), n.kind == 'd'))
                .collect();
            let py = pycdlib_names(img, "rr");
            let py: BTreeMap<String, bool> = py
                .into_iter()
                .filter(|(k, _)| !k.starts_with("/rr_moved"))
                .collect();
            assert_eq!(py, names, "pycdlib Rock Ridge names");
        }
    }
    // Plain ISO 9660 names agree with isoinfo and pycdlib.
    if have("isoinfo") {
        assert_eq!(
            our_names(img, "iso9660"),
            isoinfo_names(img, false),
            "ISO 9660 names vs isoinfo"
        );
    }
    if have_pycdlib() {
        assert_eq!(
            our_names(img, "iso9660"),
            pycdlib_names(img, "iso"),
            "ISO 9660 names vs pycdlib"
        );
    }
    if joliet {
        if have_pycdlib() {
            assert_eq!(
                our_names(img, "joliet"),
                pycdlib_names(img, "joliet"),
                "Joliet names vs pycdlib"
            );
        }
        // 7-Zip extracts the Joliet tree: the same as ours, and the contents of
        // every file whose name fit are the source's.
        if have("7z") {
            let z = t.path().join("7z");
            run(Command::new("7z")
                .args(["x", "-y"])
                .arg(format!("-o{}", z.display()))
                .arg(img_s));
            let j = t.path().join("joliet");
            isoforge_ok(&[
                "extract",
                "--view",
                "joliet",
                img_s,
                "-C",
                j.to_str().unwrap(),
            ]);
            let cmp = Compare {
                mode: false,
                mtime: true,
                dir_mtime: false,
                content: true,
            };
            assert_same("7z vs isoforge (Joliet)", &snapshot(&j), &snapshot(&z), cmp);
            // Every file whose path fits Joliet unchanged is there with its contents.
            let zs = snapshot(&z);
            for (p, e) in &expected {
                let fits = p.split('/').all(|c| {
                    c.encode_utf16().count() <= 64 && !c.contains([';', '*', '?', ':', '\\'])
                });
                if e.kind == 'f' && fits {
                    let n = zs
                        .get(p)
                        .unwrap_or_else(|| panic!("7z did not extract {p}"));
                    assert_eq!(e.digest, n.digest, "7z content of {p}");
                }
            }
        }
    }
}

fn tree(t: &Path) -> PathBuf {
    let src = t.join("src");
    make_tree(&src, TreeSpec::FULL);
    src
}

#[test]
fn default_level_3_joliet_rock_ridge() {
    let t = tempdir();
    let src = tree(t.path());
    let img = t.path().join("o.iso");
    create(
        &[
            "-V",
            "MY_VOLUME",
            "--publisher",
            "ACME PUBLISHING",
            "--preparer",
            "TEST PREP",
            "--application",
            "APP ID",
            "--system-id",
            "SYS",
        ],
        &src,
        &img,
    );
    check_created(&src, &img, true, true);
    if have("isoinfo") {
        let o = run(Command::new("isoinfo").args(["-d", "-i"]).arg(&img));
        let d = String::from_utf8_lossy(&o.stdout);
        for want in [
            "Volume id: MY_VOLUME",
            "Publisher id: ACME PUBLISHING",
            "Data preparer id: TEST PREP",
            "Application id: APP ID",
            "System id: SYS",
            "Joliet with UCS level 3",
            "Rock Ridge signatures version 1",
        ] {
            assert!(d.contains(want), "isoinfo -d lacks {want:?}:\n{d}");
        }
    }
    // The deep directory was relocated for plain readers.
    assert!(our_names(&img, "iso9660")
        .keys()
        .any(|k| k.starts_with("/RR_MOVED")));
}

#[test]
fn iso_levels_1_2_4() {
    let t = tempdir();
    let src = tree(t.path());
    for (level, joliet) in [("1", true), ("2", false), ("4", true)] {
        let img = t.path().join(format!("l{level}.iso"));
        let mut args = vec!["--iso-level", level];
        if !joliet {
            args.push("--no-joliet");
        }
        let o = isoforge(
            &[
                &["create", "-o", img.to_str().unwrap()][..],
                &args,
                &[src.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        if level == "1" {
            // Shortened names are reported.
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("warning"),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        check_created(&src, &img, true, joliet);
    }
}

#[test]
fn joliet_long_and_rock_ridge_1_12() {
    let t = tempdir();
    let src = tree(t.path());
    let img = t.path().join("o.iso");
    create(
        &["--joliet-long", "--rock-ridge-version", "1.12"],
        &src,
        &img,
    );
    check_created(&src, &img, true, true);
    let v: Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["extensions"]["rock_ridge"]["identifier"], "IEEE_P1282");
    assert_eq!(v["extensions"]["rock_ridge"]["version"], "1.12");
    // Serial numbers: unique per file, shared by hard links.
    let l = ls_entries(&isoforge_ok(&["ls", "-r", "--json", img.to_str().unwrap()]).stdout);
    let mut by_ino: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in &l {
        by_ino
            .entry(e["ino"].as_u64().expect("serial number"))
            .or_default()
            .push(e["path"].as_str().unwrap().to_string());
    }
    let shared: Vec<&Vec<String>> = by_ino.values().filter(|v| v.len() > 1).collect();
    assert_eq!(shared.len(), 2, "{shared:?}");
}

#[test]
fn joliet_only_and_plain() {
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(
        &src,
        TreeSpec {
            deep: false,
            symlinks: false,
            hardlinks: false,
            long_names: false,
            ..TreeSpec::FULL
        },
    );
    let img = t.path().join("j.iso");
    create(&["--no-rock-ridge"], &src, &img);
    check_created(&src, &img, false, true);
    let listed = snapshot_json(
        &isoforge_ok(&[
            "ls",
            "-r",
            "--json",
            "--view",
            "joliet",
            img.to_str().unwrap(),
        ])
        .stdout,
    );
    assert_same(
        "joliet names",
        &snapshot(&src),
        &listed,
        Compare {
            mode: false,
            mtime: true,
            dir_mtime: true,
            content: false,
        },
    );
    // Without Rock Ridge a tree deeper than 8 levels cannot be written at level 3.
    let deep = t.path().join("deep");
    make_tree(&deep, TreeSpec::FULL);
    let o = isoforge(&[
        "create",
        "--no-rock-ridge",
        "-o",
        t.path().join("d.iso").to_str().unwrap(),
        deep.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("deeper than 8 levels"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!t.path().join("d.iso").exists());
}

#[test]
fn reproducible_bytes_regardless_of_order_and_inodes() {
    let t = tempdir();
    let a = tree(t.path());
    // A copy made in reverse order gets other inode numbers and directory order.
    let b = t.path().join("copy");
    run(Command::new("sh").arg("-c").arg(format!(
        "mkdir -p '{b}' && cd '{a}' && find . -depth -print | tac | cpio -pdm --quiet '{b}' 2>/dev/null || cp -a '{a}/.' '{b}'",
        a = a.display(),
        b = b.display()
    )));
    // Hard links in the copy as in the source; times as in the source.
    let _ = fs::remove_file(b.join("hard.txt"));
    fs::hard_link(b.join("a.txt"), b.join("hard.txt")).unwrap();
    let _ = fs::remove_file(b.join("bin/s2049.link"));
    fs::hard_link(b.join("sizes/s2049"), b.join("bin/s2049.link")).unwrap();
    // make_tree uses whole seconds, so the snapshot's times are exact.
    for (p, n) in snapshot(&a) {
        run(Command::new("touch")
            .arg("-h")
            .arg("-d")
            .arg(format!("@{}", n.mtime))
            .arg(b.join(p.trim_start_matches('/'))));
    }
    run(Command::new("touch").arg("-h").arg("-r").arg(&a).arg(&b));
    let i1 = t.path().join("1.iso");
    let i2 = t.path().join("2.iso");
    let env_run = |src: &Path, out: &Path| {
        run(Command::new(bin())
            .env("SOURCE_DATE_EPOCH", "1750000000")
            .args(["create", "-q", "-o"])
            .arg(out)
            .arg(src));
    };
    env_run(&a, &i1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env_run(&b, &i2);
    if fs::read(&i1).unwrap() != fs::read(&i2).unwrap() {
        let d = isoforge(&["diff", i1.to_str().unwrap(), i2.to_str().unwrap()]);
        panic!(
            "reproducible builds differ:\n{}",
            String::from_utf8_lossy(&d.stdout)
        );
    }
    // --reproducible without SOURCE_DATE_EPOCH, and -o - to standard output.
    let r1 = isoforge_ok(&[
        "create",
        "--reproducible",
        "-q",
        "-o",
        "-",
        a.to_str().unwrap(),
    ])
    .stdout;
    // The same tree again, a little later: the time of day does not matter.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r2 = isoforge_ok(&[
        "create",
        "--reproducible",
        "-q",
        "-o",
        "-",
        a.to_str().unwrap(),
    ])
    .stdout;
    if r1 != r2 {
        let at = r1.iter().zip(&r2).position(|(x, y)| x != y);
        let (f1, f2) = (t.path().join("r1.iso"), t.path().join("r2.iso"));
        fs::write(&f1, &r1).unwrap();
        fs::write(&f2, &r2).unwrap();
        let d = isoforge(&["diff", f1.to_str().unwrap(), f2.to_str().unwrap()]);
        eprintln!("{}", String::from_utf8_lossy(&d.stdout));
        let newest = |root: &Path| {
            snapshot(root)
                .into_iter()
                .max_by_key(|(_, n)| n.mtime)
                .map(|(p, n)| (p, n.mtime))
        };
        eprintln!("newest in a: {:?}, in b: {:?}", newest(&a), newest(&b));
        panic!(
            "--reproducible builds differ (lengths {} {}, first difference at {at:?})",
            r1.len(),
            r2.len()
        );
    }
    check_created(&a, &i1, true, true);
}

#[test]
fn dedup_stores_identical_contents_once() {
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("a/b")).unwrap();
    let data = bytes(42, 300_000);
    for p in ["one.bin", "a/two.bin", "a/b/three.bin"] {
        fs::write(src.join(p), &data).unwrap();
    }
    fs::write(src.join("other.bin"), bytes(43, 300_000)).unwrap();
    let plain = t.path().join("plain.iso");
    let dedup = t.path().join("dedup.iso");
    create(&[], &src, &plain);
    create(&["--dedup"], &src, &dedup);
    let (p, d) = (
        fs::metadata(&plain).unwrap().len(),
        fs::metadata(&dedup).unwrap().len(),
    );
    assert!(p - d >= 2 * 300_000, "dedup saved only {} bytes", p - d);
    check_created(&src, &dedup, true, true);
}

#[test]
fn sparse_5_gib_file_is_multi_extent() {
    if !have("xorriso") || !have("bsdtar") || !have("7z") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let size: u64 = 5 << 30;
    let marks: [(u64, &[u8]); 3] = [
        (0, b"HEAD"),
        (0xFFFF_F800 - 2, b"EDGE"),
        (size - 4, b"TAIL"),
    ];
    sparse_with_marks(&src.join("five.bin"), size, &marks);
    let img = t.path().join("big.iso");
    create(&[], &src, &img);
    use std::os::unix::fs::MetadataExt;
    assert!(
        fs::metadata(&img).unwrap().blocks() * 512 < 64 << 20,
        "image of a sparse file is not sparse"
    );
    // Sizes as the peers see them.
    let o = run(Command::new("xorriso").args([
        "-indev",
        img.to_str().unwrap(),
        "-find",
        "/five.bin",
        "-exec",
        "lsdl",
    ]));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&size.to_string()),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(Command::new("bsdtar").args(["tvf", img.to_str().unwrap()]));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&size.to_string()));
    let o = run(Command::new("7z").args(["l", img.to_str().unwrap()]));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&size.to_string()));
    // Contents read back through xorriso's reader at the markers.
    for (i, (off, m)) in marks.iter().enumerate() {
        let piece = t.path().join(format!("piece{i}"));
        run(Command::new("xorriso")
            .args([
                "-osirrox",
                "on",
                "-indev",
                img.to_str().unwrap(),
                "-extract_cut",
                "/five.bin",
                &off.to_string(),
                &m.len().to_string(),
            ])
            .arg(&piece));
        assert_eq!(&fs::read(&piece).unwrap()[..], *m, "xorriso read at {off}");
    }
    let out = t.path().join("x");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ]);
    assert_marks(&out.join("five.bin"), size, &marks);
    // Level 2 cannot hold it.
    let o = isoforge(&[
        "create",
        "--iso-level",
        "2",
        "-o",
        t.path().join("l2.iso").to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--iso-level 3"));
}

#[test]
fn grafts_and_collisions() {
    let t = tempdir();
    let src = tree(t.path());
    let extra = t.path().join("extra.txt");
    fs::write(&extra, b"grafted").unwrap();
    let img = t.path().join("g.iso");
    isoforge_ok(&[
        "create",
        "-q",
        "-o",
        img.to_str().unwrap(),
        src.to_str().unwrap(),
        &format!("/docs/deep/extra.txt={}", extra.display()),
        &format!("/more={}", src.join("bin").display()),
    ]);
    assert_eq!(
        isoforge_ok(&["cat", img.to_str().unwrap(), "/docs/deep/extra.txt"]).stdout,
        b"grafted"
    );
    assert_eq!(
        isoforge_ok(&["cat", img.to_str().unwrap(), "/more/tool.sh"]).stdout,
        fs::read(src.join("bin/tool.sh")).unwrap()
    );
    let o = isoforge(&[
        "create",
        "-o",
        t.path().join("c.iso").to_str().unwrap(),
        src.to_str().unwrap(),
        &format!("/a.txt={}", extra.display()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("name collision"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!t.path().join("c.iso").exists());
}

#[test]
fn strict_names_refuses_shortening() {
    let t = tempdir();
    let src = tree(t.path());
    let o = isoforge(&[
        "create",
        "--iso-level",
        "1",
        "--strict-names",
        "-o",
        t.path().join("s.iso").to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!t.path().join("s.iso").exists());
}
