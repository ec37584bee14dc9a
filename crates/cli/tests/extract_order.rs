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
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(&img)
        .arg(&src));
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
