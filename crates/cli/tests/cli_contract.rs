//! The command-line contract: exit codes, messages, and the safety rules of
//! `extract` as a user sees them.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn small_image(dir: &Path) -> Option<PathBuf> {
    if !have("xorriso") {
        return None;
    }
    let src = dir.join("src");
    make_tree(&src, TreeSpec::FULL);
    let img = dir.join("img.iso");
    xorriso::mkisofs(&["-R", "-J"], &img, &src);
    Some(img)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn usage_errors_exit_2() {
    let o = isoforge(&[]);
    assert_eq!(o.status.code(), Some(2));
    let o = isoforge(&["info"]);
    assert_eq!(o.status.code(), Some(2));
    let o = isoforge(&["info", "/nonexistent/image.iso"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/image.iso"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn garbage_and_truncated_images_exit_2_naming_the_structure() {
    let t = tempdir();
    let junk = t.path().join("junk.iso");
    fs::write(&junk, bytes(7, 100_000)).unwrap();
    let o = isoforge(&["info", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("primary volume descriptor at byte 32768"),
        "{}",
        stderr(&o)
    );

    let tiny = t.path().join("tiny.iso");
    fs::write(&tiny, b"short").unwrap();
    let o = isoforge(&["ls", tiny.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("panicked"));

    let Some(img) = small_image(t.path()) else {
        return;
    };
    // Cut the image inside its directory area.
    let data = fs::read(&img).unwrap();
    let cut = t.path().join("cut.iso");
    fs::write(&cut, &data[..19 * 2048 + 100]).unwrap();
    for cmd in [&["ls", "-r"][..], &["extract", "-C"], &["info"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        let dest = t.path().join("dest");
        if cmd[0] == "extract" {
            args.push(dest.to_str().unwrap());
        }
        args.push(cut.to_str().unwrap());
        let o = isoforge(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("at byte") && !e.contains("panicked"),
            "{args:?}: {e}"
        );
    }
}

#[test]
fn missing_paths_and_wrong_types_exit_2() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let img = img.to_str().unwrap();
    let o = isoforge(&["ls", img, "/no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/dir"));
    let o = isoforge(&["cat", img, "/bin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a directory"));
    let o = isoforge(&["ls", "--view", "udf", img]);
    assert_eq!(o.status.code(), Some(2));
    // cat gives exactly the file.
    let o = isoforge_ok(&["cat", img, "/bin/tool.sh"]);
    assert_eq!(o.stdout, b"#!/bin/sh\necho tool\n");
    // Plain ISO 9660 names may be typed in any case.
    let o = isoforge_ok(&["cat", "--view", "iso9660", img, "/bin/tool.sh"]);
    assert_eq!(o.stdout, b"#!/bin/sh\necho tool\n");
}

#[test]
fn ls_formats() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let img = img.to_str().unwrap();
    let o = isoforge_ok(&["ls", img]);
    let names = String::from_utf8(o.stdout).unwrap();
    assert!(names.lines().any(|l| l == "a.txt"));
    assert!(names.lines().any(|l| l == "bin"));
    let o = isoforge_ok(&["ls", "-l", img, "/bin"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let line = text.lines().find(|l| l.ends_with(" tool.sh")).unwrap();
    assert!(line.starts_with("-rwxr-xr-x "), "{line}");
    assert!(
        text.lines().any(|l| l.ends_with("up -> ../a.txt")),
        "{text}"
    );
    let o = isoforge_ok(&["ls", "--json", img, "/a.txt"]);
    let v = ls_entries(&o.stdout);
    assert_eq!(v[0]["path"], "/a.txt");
    assert_eq!(v[0]["mode"], "0644");
    assert_eq!(v[0]["mtime"], "2020-09-13T12:26:40Z");
    assert_eq!(v[0]["extents"].as_array().unwrap().len(), 1);
}

#[test]
fn big_endian_mismatch_is_a_diagnostic() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let mut data = fs::read(&img).unwrap();
    // Volume space size, big-endian half (ECMA-119 BP 85-88).
    data[16 * 2048 + 84..16 * 2048 + 88].copy_from_slice(&[0, 0, 0, 7]);
    let bad = t.path().join("be.iso");
    fs::write(&bad, &data).unwrap();
    let o = isoforge_ok(&["info", "--json", bad.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let diags = v["diagnostics"].as_array().unwrap();
    assert!(
        diags
            .iter()
            .any(|d| d["message"].as_str().unwrap().contains("volume space size")),
        "{diags:?}"
    );
    assert_eq!(
        v["volume_space_size"].as_u64().unwrap() * 2048,
        fs::metadata(&img).unwrap().len()
    );
    isoforge_ok(&["ls", "-r", bad.to_str().unwrap()]);
}

#[test]
fn udf_placeholder_tree_is_called_out() {
    if !have("genisoimage") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("s");
    fs::create_dir_all(src.join("sources")).unwrap();
    fs::write(src.join("README.TXT"), b"This disc needs UDF").unwrap();
    fs::write(src.join("sources/install.wim"), bytes(3, 2_000_000)).unwrap();
    let img = t.path().join("u.iso");
    // As on Windows media: the files are only in UDF, ISO 9660 has a README.
    run(Command::new("genisoimage")
        .args([
            "-quiet",
            "-udf",
            "-hide",
            "sources",
            "-hide",
            "install.wim",
            "-o",
        ])
        .arg(&img)
        .arg(&src));
    let img = img.to_str().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img]).stdout).unwrap();
    assert_eq!(v["udf"]["present"], true);
    assert_eq!(v["udf"]["iso9660_is_placeholder"], true);
    let text = String::from_utf8(isoforge_ok(&["info", img]).stdout).unwrap();
    assert!(text.contains("placeholder"), "{text}");
    assert_eq!(v["default_view"], "udf");
    assert!(
        v["default_view_reason"]
            .as_str()
            .unwrap()
            .contains("placeholder"),
        "{v}"
    );
    // The UDF tree is what `ls` shows by default.
    let o = isoforge_ok(&["ls", "-r", img]);
    let listed = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["/README.TXT", "/sources", "/sources/install.wim"]
    );
    let o = isoforge_ok(&["cat", img, "/sources/install.wim"]);
    assert_eq!(o.stdout, bytes(3, 2_000_000));
    let o = isoforge_ok(&["ls", "--view", "iso9660", img]);
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), "README.TXT");
    // An ordinary image is not called a placeholder.
    let Some(plain) = small_image(t.path()) else {
        return;
    };
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", plain.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["udf"]["iso9660_is_placeholder"], false);
}

fn no_temp_files(dir: &Path) {
    for (p, _) in snapshot(dir) {
        assert!(!p.contains(".isoforge-"), "temporary file left behind: {p}");
    }
}

#[test]
fn extract_does_not_clobber_unless_asked() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let img = img.to_str().unwrap();
    let dest = t.path().join("dest");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("a.txt"), b"mine").unwrap();
    let o = isoforge(&["extract", img, "-C", dest.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    assert_eq!(fs::read(dest.join("a.txt")).unwrap(), b"mine");
    no_temp_files(&dest);
    isoforge_ok(&[
        "extract",
        "--overwrite",
        "always",
        img,
        "-C",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(fs::read(dest.join("a.txt")).unwrap(), b"hello\n");
    no_temp_files(&dest);
}

#[test]
fn extract_never_writes_through_a_symlink_in_the_destination() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dest = t.path().join("dest");
    fs::create_dir(&dest).unwrap();
    // A planted link where the image has a directory.
    std::os::unix::fs::symlink(&outside, dest.join("bin")).unwrap();
    let o = isoforge(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "something was written outside the destination"
    );
}

#[test]
fn extract_byte_budget_stops_cleanly() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let dest = t.path().join("dest");
    let o = isoforge(&[
        "extract",
        "--max-bytes",
        "10000",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-bytes"), "{}", stderr(&o));
    // The destination it created is gone again, with what was written.
    assert!(!dest.exists());
    // Into a directory that was there: no file larger than the budget was
    // written, even partly.
    fs::create_dir(&dest).unwrap();
    let o = isoforge(&[
        "extract",
        "--max-bytes",
        "10000",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    no_temp_files(&dest);
    assert!(!dest.join("sizes/s70001.bin").exists());
}

#[test]
fn extract_selected_paths() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let dest = t.path().join("dest");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "/bin",
        "/sizes/one",
        "-C",
        dest.to_str().unwrap(),
    ]);
    let got: Vec<String> = snapshot(&dest).into_keys().collect();
    assert_eq!(
        got,
        [
            "/bin",
            "/bin/s2049.link",
            "/bin/tool.sh",
            "/bin/up",
            "/sizes",
            "/sizes/one"
        ]
    );
    assert_eq!(fs::read(dest.join("sizes/one")).unwrap(), bytes(1, 1));
}

#[test]
fn special_files_are_reported_not_created_unless_asked() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"x").unwrap();
    run(Command::new("mkfifo").arg(src.join("pipe")));
    let img = t.path().join("p.iso");
    xorriso::mkisofs(&["-R"], &img, &src);
    let v = ls_entries(&isoforge_ok(&["ls", "--json", img.to_str().unwrap()]).stdout);
    assert!(
        v.iter().any(|e| e["name"] == "pipe" && e["type"] == "fifo"),
        "{v:?}"
    );
    let d1 = t.path().join("d1");
    let o = isoforge_ok(&["extract", img.to_str().unwrap(), "-C", d1.to_str().unwrap()]);
    assert!(stderr(&o).contains("pipe"), "{}", stderr(&o));
    assert!(!d1.join("pipe").exists());
    let d2 = t.path().join("d2");
    isoforge_ok(&[
        "extract",
        "--special-files",
        img.to_str().unwrap(),
        "-C",
        d2.to_str().unwrap(),
    ]);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(d2.join("pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn safe_links_skips_escaping_links() {
    let t = tempdir();
    let Some(img) = small_image(t.path()) else {
        return;
    };
    let dest = t.path().join("dest");
    let o = isoforge_ok(&[
        "extract",
        "--safe-links",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("/abs"), "{}", stderr(&o));
    assert!(fs::symlink_metadata(dest.join("abs")).is_err());
    assert!(fs::symlink_metadata(dest.join("sym"))
        .unwrap()
        .file_type()
        .is_symlink());
    // Default umask applies without -p.
    let m = fs::metadata(dest.join("bin/tool.sh"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(m & 0o700, 0o700);
}

#[test]
fn create_replaces_an_existing_image_whole() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("one.txt"), b"first tree").unwrap();
    fs::write(b.join("two.txt"), b"second tree").unwrap();
    let out = d.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let img = out.join("x.iso");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    isoforge_ok(&["create", "-q", "-o", &s(&img), &s(&a)]);
    // A second name for the first image keeps its bytes: the new image is
    // a new file, not written into the old one.
    let keep = d.path().join("kept.iso");
    fs::hard_link(&img, &keep).unwrap();
    let first = fs::read(&keep).unwrap();
    isoforge_ok(&["create", "-q", "-o", &s(&img), &s(&b)]);
    let cat = |img: &Path, p: &str| isoforge_ok(&["cat", &s(img), p]).stdout;
    assert_eq!(cat(&img, "/two.txt"), b"second tree");
    assert!(isoforge(&["cat", &s(&img), "/one.txt"]).status.code() == Some(2));
    assert!(fs::read(&keep).unwrap() == first);
    assert_eq!(cat(&keep, "/one.txt"), b"first tree");
    // A symbolic link at the output name is replaced, not written through.
    let link = out.join("link.iso");
    std::os::unix::fs::symlink(&keep, &link).unwrap();
    isoforge_ok(&["create", "-q", "-o", &s(&link), &s(&b)]);
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert!(fs::read(&keep).unwrap() == first);
    // A directory at the output name is an error, and stays.
    let dir = out.join("dir.iso");
    fs::create_dir(&dir).unwrap();
    assert_eq!(
        isoforge(&["create", "-q", "-o", &s(&dir), &s(&b)])
            .status
            .code(),
        Some(2)
    );
    assert!(dir.is_dir());
    no_temp_files(&out);
    let names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}
