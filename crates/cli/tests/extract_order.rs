//! `extract` restores a directory's mode and times only after everything in
//! it exists: files, subdirectories, symbolic links and hard links, including
//! hard links into it whose first name lies in a read-only directory already
//! finished. The image is made by xorriso from a generated tree.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::*;

/// A tree with read-only directories holding files, links and hard links,
/// every time distinct and set after the contents exist.
fn make_ordered_tree(root: &Path) {
    let files = [
        ("ro/a.txt", "a"),
        ("ro/sub/b.txt", "b"),
        ("ro/sub/deeper/c.txt", "c"),
        ("rw/d.txt", "d"),
        ("top.txt", "top"),
    ];
    for (p, data) in files {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
    }
    symlink("a.txt", root.join("ro/link")).unwrap();
    symlink("../a.txt", root.join("ro/sub/up")).unwrap();
    symlink("ro/sub", root.join("dirlink")).unwrap();
    // Hard links within a read-only directory, into one from outside, and
    // from a later directory to a file in a read-only one walked earlier.
    fs::hard_link(root.join("ro/a.txt"), root.join("ro/hard.txt")).unwrap();
    fs::hard_link(root.join("top.txt"), root.join("ro/sub/top.hard")).unwrap();
    fs::hard_link(root.join("ro/sub/b.txt"), root.join("rw/b.hard")).unwrap();
    fs::hard_link(root.join("ro/sub/deeper/c.txt"), root.join("zz.hard")).unwrap();

    let mut paths: Vec<String> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            paths.push(p.to_str().unwrap().to_string());
        }
    }
    // Deepest first, so that setting a time changes no parent's afterwards.
    paths.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for (i, p) in paths.iter().enumerate() {
        touch(Path::new(p), 1_500_000_000 + i as i64 * 7919);
    }
    for (dir, mode) in [("ro/sub/deeper", 0o555), ("ro/sub", 0o500), ("ro", 0o555)] {
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Makes the tree's directories writable again so that it can be removed.
fn unlock(root: &Path) {
    for dir in ["ro", "ro/sub", "ro/sub/deeper"] {
        let _ = fs::set_permissions(root.join(dir), fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn directory_modes_and_times_follow_their_contents() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_ordered_tree(&src);
    let img = t.path().join("ordered.iso");
    xorriso::mkisofs(&["-R"], &img, &src);
    let expected = snapshot(&src);
    for (name, args) in [("preserve", &["-p"][..]), ("default", &[][..])] {
        let out = t.path().join(name);
        let mut argv = vec!["extract"];
        argv.extend_from_slice(args);
        argv.extend([img.to_str().unwrap(), "-C", out.to_str().unwrap()]);
        isoforge_ok(&argv);
        let got = snapshot(&out);
        assert_same(
            &format!("extract {args:?}"),
            &expected,
            &got,
            Compare {
                // The default applies the umask, which the test does not set.
                mode: name == "preserve",
                ..Compare::ALL
            },
        );
        assert_eq!(hardlink_groups(&src), hardlink_groups(&out), "{name}");
        assert_eq!(hardlink_groups(&out).len(), 4, "{name}");
        unlock(&out);
    }
    unlock(&src);
}

/// Runs isoforge as an unprivileged user (root gets past every directory
/// mode), from a copy of the binary that user can run.
fn isoforge_as_nobody(dir: &Path, args: &[&str]) -> std::process::Output {
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !is_root {
        return isoforge(args);
    }
    let exe = dir.join("isoforge");
    fs::copy(bin(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_hard_link_to_a_file_in_an_unsearchable_directory_is_written_as_a_copy() {
    if !have("xorriso") || !have("setpriv") {
        return;
    }
    let t = tempdir();
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let src = t.path().join("src");
    // `a/f` comes first and `z/f.hard` last; enough files in between that
    // `a` is finished (its mode, without search permission, set) before the
    // link in `z` is made.
    for d in ["a", "m", "z"] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    fs::write(src.join("a/f"), b"shared data").unwrap();
    fs::hard_link(src.join("a/f"), src.join("z/f.hard")).unwrap();
    for i in 0..2100 {
        fs::write(src.join(format!("m/{i:04}")), b"").unwrap();
    }
    fs::set_permissions(src.join("a"), fs::Permissions::from_mode(0o600)).unwrap();
    let img = t.path().join("links.iso");
    xorriso::mkisofs(&["-R"], &img, &src);
    fs::set_permissions(src.join("a"), fs::Permissions::from_mode(0o755)).unwrap();
    for strict in [false, true] {
        let out = t.path().join(format!("out-{strict}"));
        fs::create_dir(&out).unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
        let mut args = vec![
            "extract",
            "-p",
            img.to_str().unwrap(),
            "-C",
            out.to_str().unwrap(),
        ];
        if strict {
            args.push("--strict");
        }
        let o = isoforge_as_nobody(t.path(), &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "strict {strict}: {err}");
        assert!(
            err.contains("/z/f.hard: written as a copy"),
            "strict {strict}: {err}"
        );
        assert_eq!(fs::read(out.join("z/f.hard")).unwrap(), b"shared data");
        let meta = |p: &str| fs::metadata(out.join(p)).unwrap();
        assert_eq!(meta("a").permissions().mode() & 0o777, 0o600);
        fs::set_permissions(out.join("a"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(fs::read(out.join("a/f")).unwrap(), b"shared data");
        assert_eq!(std::os::unix::fs::MetadataExt::nlink(&meta("a/f")), 1);
    }
}
