//! `isoforge mount`: mounted trees compared file by file (contents, sizes,
//! modes, link targets, times, hard links) with the source trees and with
//! what `isoforge extract`, 7-Zip and bsdtar extract from the same images,
//! for Rock Ridge, Joliet-only, ISO-only, zisofs, multi-extent (> 4 GiB),
//! UDF and the Debian-packaged boot images; hostile images mount or are
//! refused, and a walk of the mount ends; signals unmount; a corrupt file
//! is EIO while the mount stays up; an unprivileged user can mount.
//!
//! Every mount is waited for by condition (the command returns once it is
//! in /proc/self/mountinfo) and undone by a guard, whatever the test does.
#![allow(clippy::unwrap_used)]

#[path = "../../isoforge/tests/hostile/builder.rs"]
mod builder;
mod common;
#[path = "../../isoforge/tests/hostile/udf.rs"]
mod udf;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// How long a mount, an unmount or a walk of a hostile mount may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// Whether FUSE can be used here (skip rules of [`have`]).
fn have_fuse() -> bool {
    have_file("/dev/fuse") && have("fusermount3")
}

/// Whether `dir` is an isoforge mount now, from /proc/self/mountinfo.
fn mounted(dir: &Path) -> bool {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let want = dir.to_str().unwrap().replace(' ', "\\040");
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| {
            l.split(' ').nth(4) == Some(want.as_str())
                && l.split(" - ").nth(1).is_some_and(|r| {
                    let mut f = r.split(' ');
                    f.next().is_some_and(|t| t.starts_with("fuse"))
                        && f.next().is_some_and(|s| s.starts_with("isoforge:"))
                })
        })
}

/// Waits for a condition, polling, up to [`DEADLINE`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A mount made by `isoforge mount`; unmounted when dropped.
struct Mount {
    dir: PathBuf,
}

impl Mount {
    /// Mounts `img` on a new directory `dir` with extra arguments; the
    /// command returns only once the mount is ready.
    fn new(img: &Path, dir: &Path, extra: &[&str]) -> Mount {
        fs::create_dir_all(dir).unwrap();
        let m = Mount {
            dir: dir.to_path_buf(),
        };
        let mut args = vec!["mount", img.to_str().unwrap(), dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        isoforge_ok(&args);
        assert!(
            mounted(dir),
            "isoforge mount returned before {} was mounted",
            dir.display()
        );
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Unconditionally: a mount that `mounted` failed to see is undone too.
        {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.dir)
                .stderr(Stdio::null())
                .status();
        }
        if mounted(&self.dir) {
            // Busy: detach it lazily rather than leave it behind.
            let _ = Command::new("fusermount3")
                .args(["-u", "-z"])
                .arg(&self.dir)
                .stderr(Stdio::null())
                .status();
        }
    }
}

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

fn extract_isoforge(img: &Path, out: &Path, extra: &[&str]) -> BTreeMap<String, Node> {
    let mut args = vec![
        "extract",
        "-p",
        img.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    isoforge_ok(&args);
    snapshot(out)
}

fn extract_bsdtar(img: &Path, out: &Path) -> BTreeMap<String, Node> {
    fs::create_dir(out).unwrap();
    run(Command::new("bsdtar")
        .arg("xpf")
        .arg(img)
        .arg("-C")
        .arg(out));
    snapshot(out)
}

fn extract_7z(img: &Path, out: &Path) -> BTreeMap<String, Node> {
    run(Command::new("7z")
        .arg("x")
        .arg("-y")
        .arg(format!("-o{}", out.display()))
        .arg(img)
        .stdout(Stdio::null()));
    snapshot(out)
}

const CONTENT: Compare = Compare {
    mode: false,
    mtime: false,
    dir_mtime: false,
    content: true,
};

const NO_DIR_TIMES: Compare = Compare {
    dir_mtime: false,
    ..Compare::ALL
};

/// The inode number of a path in a mount.
fn ino(p: &Path) -> u64 {
    fs::symlink_metadata(p).unwrap().ino()
}

#[test]
fn rock_ridge_image_mounts_like_its_source_and_extractions() {
    if !have_fuse() || !have("xorriso") || !have("bsdtar") || !have("7z") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    let img = t.path().join("rr.iso");
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
    let expected = snapshot(&src);
    let m = Mount::new(&img, &t.path().join("m"), &[]);
    let got = snapshot(&m.dir);
    assert_same(
        "mounted Rock Ridge tree vs source",
        &expected,
        &got,
        Compare::ALL,
    );
    assert_eq!(hardlink_groups(&src), hardlink_groups(&m.dir), "hard links");
    assert!(!hardlink_groups(&m.dir).is_empty());
    // One inode with the link count of its names.
    let a = fs::symlink_metadata(m.dir.join("a.txt")).unwrap();
    assert_eq!(a.nlink(), 2);
    assert_eq!(a.ino(), ino(&m.dir.join("hard.txt")));
    assert_same(
        "mount vs isoforge extract",
        &extract_isoforge(&img, &t.path().join("x"), &[]),
        &got,
        Compare::ALL,
    );
    assert_same(
        "mount vs bsdtar",
        &extract_bsdtar(&img, &t.path().join("b")),
        &got,
        Compare::ALL,
    );
    // 7-Zip reads the Joliet tree: compare it with the Joliet view.
    let j = Mount::new(&img, &t.path().join("j"), &["--view", "joliet"]);
    let seven = extract_7z(&img, &t.path().join("7"));
    assert_same("Joliet mount vs 7z", &seven, &snapshot(&j.dir), CONTENT);
    // Inode numbers come from the image: a second mount has the same ones.
    let m2 = Mount::new(&img, &t.path().join("m2"), &[]);
    for p in [
        "a.txt",
        "sizes/s2049",
        "bin",
        "a/b/c/d/e/f/g/leaf.txt",
        "sym",
    ] {
        assert_eq!(ino(&m.dir.join(p)), ino(&m2.dir.join(p)), "{p}");
    }
    // Symbolic links are not followed by the file system.
    assert_eq!(
        fs::read_link(m.dir.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    // `info` of the mounted image is unaffected.
    isoforge_ok(&["info", img.to_str().unwrap()]);
    // Read-only.
    assert!(fs::write(m.dir.join("new"), b"x").is_err());
    assert!(fs::OpenOptions::new()
        .write(true)
        .open(m.dir.join("a.txt"))
        .is_err());
    // statfs answers.
    run(Command::new("df").arg(&m.dir));
    drop(m2);
    drop(j);
    // `isoforge umount` unmounts, and refuses what is not an isoforge mount.
    run(Command::new(bin()).arg("umount").arg(&m.dir));
    assert!(!mounted(&m.dir));
    let o = isoforge(&["umount", t.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn device_nodes_show_their_numbers_and_cannot_be_opened() {
    if !have_fuse() || !have("xorriso") || !have("bsdtar") {
        return;
    }
    if !is_root() {
        eprintln!("skipping: mknod needs root");
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    // Numbers both within the old 8-bit minor form and beyond it.
    run(Command::new("mknod")
        .arg(src.join("null"))
        .args(["c", "1", "3"]));
    run(Command::new("mknod")
        .arg(src.join("disk"))
        .args(["b", "259", "300"]));
    run(Command::new("mkfifo").arg(src.join("fifo")));
    let img = t.path().join("dev.iso");
    build(
        "xorriso",
        &["-as", "mkisofs", "-quiet", "-R", "-o", "OUT", "SRC"],
        &src,
        &img,
    );
    let m = Mount::new(&img, &t.path().join("m"), &[]);
    use std::os::unix::fs::FileTypeExt;
    for (name, major, minor, block) in [("null", 1, 3, false), ("disk", 259, 300, true)] {
        let st = fs::symlink_metadata(m.dir.join(name)).unwrap();
        let want = fs::symlink_metadata(src.join(name)).unwrap();
        assert_eq!(st.file_type().is_block_device(), block, "{name}");
        assert_eq!(st.file_type().is_char_device(), !block, "{name}");
        assert_eq!(st.rdev(), want.rdev(), "{name}: {major}:{minor}");
        // nodev: the node is shown, never opened as a device.
        assert!(fs::File::open(m.dir.join(name)).is_err(), "{name}");
    }
    assert!(fs::symlink_metadata(m.dir.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    // bsdtar agrees on the numbers.
    let o = run(Command::new("bsdtar").arg("tvf").arg(&img));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("1,3") && l.ends_with("null")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("259,300") && l.ends_with("disk")),
        "{text}"
    );
}

#[test]
fn joliet_only_and_iso_only_images_mount_like_extractions() {
    if !have_fuse() || !have("genisoimage") || !have("bsdtar") || !have("7z") {
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
    fs::remove_dir_all(src.join("a")).unwrap();
    fs::remove_file(src.join("emoji 😀.txt")).unwrap();
    let joliet = t.path().join("j.iso");
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
        &joliet,
    );
    let m = Mount::new(&joliet, &t.path().join("mj"), &[]);
    let got = snapshot(&m.dir);
    // No Rock Ridge: no modes; times are the recording dates.
    let cmp = Compare {
        mode: false,
        ..Compare::ALL
    };
    assert_same("Joliet mount vs source", &snapshot(&src), &got, cmp);
    assert_same(
        "Joliet mount vs isoforge extract",
        &extract_isoforge(&joliet, &t.path().join("xj"), &[]),
        &got,
        cmp,
    );
    assert_same(
        "Joliet mount vs 7z",
        &extract_7z(&joliet, &t.path().join("7j")),
        &got,
        CONTENT,
    );
    assert_same(
        "Joliet mount vs bsdtar",
        &extract_bsdtar(&joliet, &t.path().join("bj")),
        &got,
        CONTENT,
    );

    // Plain ISO 9660 (level 2 names, no extensions): compared with the
    // extractions, which see the same names.
    let plain_src = t.path().join("plain");
    make_tree(&plain_src, TreeSpec::PLAIN);
    let plain = t.path().join("p.iso");
    build(
        "genisoimage",
        &["-quiet", "-iso-level", "2", "-o", "OUT", "SRC"],
        &plain_src,
        &plain,
    );
    let m = Mount::new(&plain, &t.path().join("mp"), &[]);
    let got = snapshot(&m.dir);
    assert!(got.len() > 10, "{got:?}");
    assert_same(
        "ISO 9660 mount vs isoforge extract",
        &extract_isoforge(&plain, &t.path().join("xp"), &[]),
        &got,
        Compare {
            mode: false,
            ..Compare::ALL
        },
    );
    assert_same(
        "ISO 9660 mount vs bsdtar",
        &extract_bsdtar(&plain, &t.path().join("bp")),
        &got,
        CONTENT,
    );
    let seven = extract_7z(&plain, &t.path().join("7p"));
    // 7-Zip keeps the ";1" version suffix nowhere and upper case as it is.
    assert_same("ISO 9660 mount vs 7z", &seven, &got, CONTENT);
}

#[test]
fn zisofs_files_read_at_any_offset() {
    if !have_fuse() || !have("mkzftree") || !have("genisoimage") || !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let mut text = Vec::new();
    for i in 0..40000 {
        text.extend_from_slice(format!("line {i} of a compressible file\n").as_bytes());
    }
    fs::write(src.join("text.txt"), &text).unwrap();
    fs::write(src.join("random.bin"), bytes(9, 300_000)).unwrap();
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
        .arg("-outdev")
        .arg(&x)
        .arg("-map")
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
    for (i, img) in [&g, &x].into_iter().enumerate() {
        let m = Mount::new(img, &t.path().join(format!("m{i}")), &[]);
        assert_same(
            "zisofs mount vs source",
            &snapshot(&src),
            &snapshot(&m.dir),
            CONTENT,
        );
        assert_same(
            "zisofs mount vs isoforge extract",
            &extract_isoforge(img, &t.path().join(format!("x{i}")), &[]),
            &snapshot(&m.dir),
            CONTENT,
        );
        // Reads that start and end inside blocks, across block boundaries,
        // backwards.
        let f = fs::File::open(m.dir.join("text.txt")).unwrap();
        for (off, len) in [
            (1_000_000usize, 70_000usize),
            (32_767, 2),
            (65_530, 40_000),
            (5, 10),
            (text.len() - 7, 7),
        ] {
            let mut b = vec![0u8; len];
            f.read_exact_at(&mut b, off as u64).unwrap();
            assert!(b == text[off..off + len], "text.txt at {off}+{len}");
        }
    }
}

#[test]
fn file_over_4_gib_reads_across_its_extents() {
    if !have_fuse() || !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let size: u64 = 4_500 * 1024 * 1024;
    let marks: [(u64, &[u8]); 3] = [
        (0, b"START"),
        (4_294_965_248 - 3, b"ACROSS"),
        (size - 3, b"END"),
    ];
    sparse_with_marks(&src.join("big.bin"), size, &marks);
    fs::write(src.join("small.txt"), b"small").unwrap();
    let img = t.path().join("big.iso");
    run(Command::new("sh").arg("-c").arg(format!(
        "xorriso -as mkisofs -quiet -R -iso-level 3 -o - '{}' | cp --sparse=always /dev/stdin '{}'",
        src.display(),
        img.display()
    )));
    let m = Mount::new(&img, &t.path().join("m"), &[]);
    let f = fs::File::open(m.dir.join("big.bin")).unwrap();
    assert_eq!(f.metadata().unwrap().len(), size);
    for (off, data) in marks {
        let mut b = vec![0u8; data.len()];
        f.read_exact_at(&mut b, off).unwrap();
        assert_eq!(b, data, "at {off}");
    }
    // A read spanning the extent boundary, and zeros elsewhere.
    let mut b = vec![0xFFu8; 64 * 1024];
    f.read_exact_at(&mut b, 4_294_965_248 - 32 * 1024).unwrap();
    let mut want = vec![0u8; 64 * 1024];
    want[32 * 1024 - 3..32 * 1024 + 3].copy_from_slice(b"ACROSS");
    assert!(b == want);
    f.read_exact_at(&mut b, 1 << 31).unwrap();
    assert!(b.iter().all(|&x| x == 0));
    // bsdtar sees the same size.
    let o = run(Command::new("bsdtar").arg("tvf").arg(&img));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&size.to_string()));
    assert_eq!(fs::read(m.dir.join("small.txt")).unwrap(), b"small");
}

#[test]
fn deep_trees_and_relocated_directories() {
    if !have_fuse() || !have("genisoimage") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    // genisoimage relocates directories deeper than 8 levels (RR_MOVED, CL/PL/RE).
    let img = t.path().join("g.iso");
    build(
        "genisoimage",
        &[
            "-quiet",
            "-input-charset",
            "utf-8",
            "-R",
            "-o",
            "OUT",
            "SRC",
        ],
        &src,
        &img,
    );
    let m = Mount::new(&img, &t.path().join("m"), &[]);
    let got = without(without(snapshot(&m.dir), "/rr_moved"), "/.rr_moved");
    // genisoimage keeps what it can of long names and symlink targets:
    // compare with isoforge's own extraction and the source where they agree.
    let x = without(
        without(
            extract_isoforge(&img, &t.path().join("x"), &[]),
            "/rr_moved",
        ),
        "/.rr_moved",
    );
    assert_same("deep mount vs isoforge extract", &x, &got, NO_DIR_TIMES);
    assert_eq!(
        fs::read(
            m.dir
                .join("d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/deep.txt")
        )
        .unwrap(),
        b"deep"
    );
    // `..` of a relocated directory is its logical parent.
    let d10 = m.dir.join("d1/d2/d3/d4/d5/d6/d7/d8/d9/d10");
    assert_eq!(
        fs::metadata(d10.join("..")).unwrap().ino(),
        fs::metadata(m.dir.join("d1/d2/d3/d4/d5/d6/d7/d8/d9"))
            .unwrap()
            .ino()
    );
}

#[test]
fn udf_views_mount_like_7z() {
    if !have_fuse() || !have("genisoimage") || !have("7z") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(
        &src,
        TreeSpec {
            symlinks: false,
            hardlinks: false,
            ..TreeSpec::FULL
        },
    );
    let img = t.path().join("u.iso");
    build(
        "genisoimage",
        &[
            "-quiet",
            "-input-charset",
            "utf-8",
            "-udf",
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
    let m = Mount::new(&img, &t.path().join("m"), &["--view", "udf"]);
    let got = snapshot(&m.dir);
    // 7-Zip reads the UDF side of a bridge.
    assert_same(
        "UDF mount vs 7z",
        &extract_7z(&img, &t.path().join("7")),
        &got,
        CONTENT,
    );
    assert_same(
        "UDF mount vs isoforge extract --view udf",
        &extract_isoforge(&img, &t.path().join("x"), &["--view", "udf"]),
        &got,
        Compare {
            mode: false,
            dir_mtime: false,
            ..Compare::ALL
        },
    );
    // A UDF-only volume (mkudffs), built from the specification's encoders
    // when mkudffs cannot fill one itself.
    let u = t.path().join("only.udf");
    let o = udf::Opts::default();
    fs::write(&u, udf::tree(o, &bytes(3, 5000), true)).unwrap();
    let m = Mount::new(&u, &t.path().join("mu"), &[]);
    assert_same(
        "UDF-only mount vs isoforge extract",
        &extract_isoforge(&u, &t.path().join("xu"), &[]),
        &snapshot(&m.dir),
        Compare {
            mode: false,
            dir_mtime: false,
            ..Compare::ALL
        },
    );
    if have("mkudffs") {
        let blank = t.path().join("blank.udf");
        run(Command::new("dd")
            .arg(format!("of={}", blank.display()))
            .args(["bs=1M", "count=0", "seek=4"])
            .stderr(Stdio::null()));
        run(tool("mkudffs")
            .args(["--blocksize=2048", "--label=EMPTY"])
            .arg(&blank)
            .stdout(Stdio::null()));
        let m = Mount::new(&blank, &t.path().join("mb"), &[]);
        assert!(
            snapshot(&m.dir)
                .keys()
                .all(|k| k.starts_with("/lost+found")),
            "{:?}",
            snapshot(&m.dir)
        );
    }
}

#[test]
fn debian_boot_images_mount_like_extractions() {
    if !have_fuse() || !have("bsdtar") || !have("7z") || !have("xorriso") {
        return;
    }
    for img in [
        "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
        "/usr/lib/ipxe/ipxe.iso",
    ] {
        if !have_file(img) {
            continue;
        }
        let t = tempdir();
        let img = Path::new(img);
        let m = Mount::new(img, &t.path().join("m"), &[]);
        let got = snapshot(&m.dir);
        assert!(got.len() > 3);
        assert_same(
            &format!("{}: mount vs isoforge extract", img.display()),
            &extract_isoforge(img, &t.path().join("x"), &[]),
            &got,
            NO_DIR_TIMES,
        );
        let cmp = Compare {
            mode: false,
            mtime: true,
            dir_mtime: false,
            content: true,
        };
        assert_same(
            &format!("{}: mount vs bsdtar", img.display()),
            &extract_bsdtar(img, &t.path().join("b")),
            &got,
            cmp,
        );
        let xo = t.path().join("xo");
        fs::create_dir(&xo).unwrap();
        run(Command::new("xorriso")
            .args(["-osirrox", "on", "-indev"])
            .arg(img)
            .args(["-extract", "/"])
            .arg(&xo)
            .stderr(Stdio::null()));
        assert_same(
            &format!("{}: mount vs xorriso", img.display()),
            &snapshot(&xo),
            &got,
            cmp,
        );
        // 7-Zip shows the El Torito images as extra files: compare the
        // files both have.
        let seven = extract_7z(img, &t.path().join("7"));
        let both: BTreeMap<String, Node> = seven
            .into_iter()
            .filter(|(k, _)| got.contains_key(k))
            .collect();
        assert!(both.len() * 2 > got.len(), "7z has too few of the names");
        let mine: BTreeMap<String, Node> = got
            .iter()
            .filter(|(k, _)| both.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_same(
            &format!("{}: mount vs 7z", img.display()),
            &both,
            &mine,
            CONTENT,
        );
        // `tar` of the whole mount reads every byte (through a pipe: GNU tar
        // reads nothing when its archive is /dev/null).
        let o = run(Command::new("sh")
            .arg("-c")
            .arg(format!("tar cf - -C '{}' . | wc -c", m.dir.display())));
        let total: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
        assert!(total > got.values().map(|n| n.size).sum::<u64>());
    }
}

/// Runs a command with a deadline; panics if it is still running then.
fn finishes(cmd: &mut Command, what: &str) -> std::process::ExitStatus {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Hand-made hostile ISO 9660 images: loops, deep nesting, bad extents.
fn hostile_isos() -> Vec<(&'static str, Vec<u8>)> {
    use builder::*;
    let mut out = Vec::new();
    let mut iso = Iso::new(FREE);
    iso.root(false, &[subdir(b"LOOP", ROOT, BLOCK as u32)]);
    out.push(("dir-self-loop", iso.bytes()));
    let (a, b) = (FREE, FREE + 1);
    let mut iso = Iso::new(FREE + 2);
    iso.root(false, &[subdir(b"A", a, BLOCK as u32)]);
    iso.dir(a, BLOCK as u32, ROOT, &[], &[subdir(b"B", b, BLOCK as u32)]);
    iso.dir(b, BLOCK as u32, a, &[], &[subdir(b"BACK", a, BLOCK as u32)]);
    out.push(("dir-ancestor-loop", iso.bytes()));
    // 200 nested directories, deeper than the reader's depth limit.
    let n = 200;
    let mut iso = Iso::new(FREE + n);
    iso.root(false, &[subdir(b"D", FREE, BLOCK as u32)]);
    for i in 0..n {
        let me = FREE + i;
        let parent = if i == 0 { ROOT } else { me - 1 };
        let kids = if i + 1 < n {
            vec![subdir(b"D", me + 1, BLOCK as u32)]
        } else {
            vec![]
        };
        iso.dir(me, BLOCK as u32, parent, &[], &kids);
    }
    out.push(("nesting-200", iso.bytes()));
    // Files whose extents lie past the end, or overflow.
    let mut iso = Iso::new(FREE + 1);
    iso.root(
        false,
        &[
            file(b"PAST.BIN;1", 1_000_000, 4096),
            file(b"OK.TXT;1", FREE, 5),
        ],
    );
    iso.put(FREE, b"fine!");
    out.push(("extent-past-end", iso.bytes()));
    // A CE entry that points at itself.
    let mut iso = Iso::rock_ridge(FREE + 1);
    let su = entries(&[px(0o100644), ce(FREE, 0, 28)]);
    iso.root(true, &[dir_record(b"F.TXT;1", FREE, 3, 0, &su)]);
    iso.put(FREE, &entries(&[ce(FREE, 0, 28), nm(0, b"looping")]));
    out.push(("ce-self-loop", iso.bytes()));
    // A zisofs file whose block inflates past its size.
    let mut iso = Iso::rock_ridge(FREE + 200);
    let bomb = deflate(&vec![0u8; 1 << 20]);
    let data = zisofs_raw(32768, 15, &[24, 24 + bomb.len() as u32], &[bomb]);
    let blocks = data.len().div_ceil(BLOCK) as u32;
    iso.put(FREE, &data);
    let su = entries(&[px(0o100644), zf(15, 32768)]);
    iso.root(
        true,
        &[
            dir_record(b"BOMB.BIN;1", FREE, data.len() as u32, 0, &su),
            file(b"OK.TXT;1", FREE + blocks + 1, 5),
        ],
    );
    iso.put(FREE + blocks + 1, b"fine!");
    out.push(("zisofs-bomb", iso.bytes()));
    out
}

#[test]
fn hostile_images_mount_or_refuse_and_walks_end() {
    if !have_fuse() {
        return;
    }
    let t = tempdir();
    let mut cases = hostile_isos();
    cases.extend(udf::hostile_images());
    let mut mounted_n = 0;
    for (name, data) in cases {
        let case = t.path().join(name.replace(' ', "-"));
        fs::create_dir_all(&case).unwrap();
        let img = case.join("img");
        fs::write(&img, data).unwrap();
        let dir = case.join("m");
        fs::create_dir(&dir).unwrap();
        let guard = Mount { dir: dir.clone() };
        let st = finishes(
            Command::new(bin()).arg("mount").arg(&img).arg(&dir),
            &format!("{name}: mount"),
        );
        if !st.success() {
            // Refused: exit 2, nothing mounted.
            assert_eq!(st.code(), Some(2), "{name}");
            assert!(!mounted(&dir), "{name}");
            continue;
        }
        assert!(mounted(&dir), "{name}");
        mounted_n += 1;
        // A walk ends; reads end (errors are fine, hangs are not).
        finishes(Command::new("find").arg(&dir), &format!("{name}: find"));
        finishes(
            Command::new("sh").arg("-c").arg(format!(
                "find '{}' -type f -exec cat {{}} + > /dev/null",
                dir.display()
            )),
            &format!("{name}: cat"),
        );
        finishes(
            Command::new("ls").arg("-lR").arg(&dir),
            &format!("{name}: ls -lR"),
        );
        // The mount is still up after the errors.
        assert!(mounted(&dir), "{name}: the mount went away");
        assert!(fs::read_dir(&dir).is_ok(), "{name}");
        drop(guard);
        wait_for(&format!("{name}: unmount"), || !mounted(&dir));
    }
    assert!(mounted_n >= 4, "only {mounted_n} hostile images mounted");
}

#[test]
fn corrupt_file_is_eio_and_the_mount_stays_up() {
    if !have_fuse() || !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let text: Vec<u8> = (0..20000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    fs::write(src.join("z.txt"), &text).unwrap();
    fs::write(src.join("ok.txt"), b"fine").unwrap();
    let img = t.path().join("c.iso");
    run(Command::new("xorriso")
        .arg("-outdev")
        .arg(&img)
        .arg("-map")
        .arg(&src)
        .args([
            "/",
            "-zisofs",
            "block_size=32k",
            "-set_filter_r",
            "--zisofs",
            "/z.txt",
            "--",
            "-commit",
        ])
        .arg("-end")
        .env("LANG", "C"));
    // Overwrite the compressed data of the first block (after the 16-byte
    // header and the pointer table) with garbage.
    let e = ls_entry(&img, "/z.txt");
    let lba = e["extents"][0]["lba"].as_u64().unwrap();
    let f = fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&[0xAB; 200], lba * 2048 + 64).unwrap();
    drop(f);
    let log = t.path().join("log");
    let m = Mount::new(&img, &t.path().join("m"), &["--log", log.to_str().unwrap()]);
    for _ in 0..2 {
        let err = fs::read(m.dir.join("z.txt")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(5), "{err}");
    }
    assert_eq!(fs::read(m.dir.join("ok.txt")).unwrap(), b"fine");
    assert!(mounted(&m.dir));
    // One line, naming the file.
    let logged = fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 1, "{logged}");
    assert!(
        logged.contains("z.txt") && logged.contains("zisofs"),
        "{logged}"
    );
}

#[test]
fn foreground_mount_unmounts_on_sigterm_and_sigint() {
    if !have_fuse() || !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::PLAIN);
    let img = t.path().join("s.iso");
    build(
        "xorriso",
        &["-as", "mkisofs", "-quiet", "-R", "-o", "OUT", "SRC"],
        &src,
        &img,
    );
    for sig in ["TERM", "INT"] {
        let dir = t.path().join(format!("m-{sig}"));
        fs::create_dir(&dir).unwrap();
        let _guard = Mount { dir: dir.clone() };
        let mut child = Command::new(bin())
            .args(["mount", "--foreground"])
            .arg(&img)
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("the foreground mount", || mounted(&dir));
        assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"hello\n");
        run(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string()));
        let start = Instant::now();
        let st = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(start.elapsed() < DEADLINE, "still serving after SIG{sig}");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(st.success(), "SIG{sig}: {st}");
        assert!(!mounted(&dir), "SIG{sig}: still mounted");
    }
    // A mount point that is not a directory, and a bad image: exit 2.
    assert_eq!(
        isoforge(&["mount", img.to_str().unwrap(), img.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    let bad = t.path().join("bad.iso");
    fs::write(&bad, vec![0u8; 100_000]).unwrap();
    let dir = t.path().join("mbad");
    fs::create_dir(&dir).unwrap();
    let o = isoforge(&["mount", bad.to_str().unwrap(), dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("isoforge: "),
        "{o:?}"
    );
    assert!(!mounted(&dir));
}

#[test]
fn unprivileged_user_mounts_and_reads() {
    if !have_fuse() || !have("xorriso") || !have("runuser") {
        return;
    }
    if !is_root() {
        eprintln!("skipping: switching to user nobody needs root");
        return;
    }
    // A directory every user can reach, with a copy of the binary, since
    // the build directory may not be.
    let t = tempfile::Builder::new()
        .prefix("isoforge-mount-")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let exe = t.path().join("isoforge");
    fs::copy(bin(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::PLAIN);
    let img = t.path().join("u.iso");
    build(
        "xorriso",
        &["-as", "mkisofs", "-quiet", "-R", "-o", "OUT", "SRC"],
        &src,
        &img,
    );
    fs::set_permissions(&img, fs::Permissions::from_mode(0o644)).unwrap();
    let dir = t.path().join("m");
    fs::create_dir(&dir).unwrap();
    run(Command::new("chown").arg("nobody").arg(&dir));
    let _guard = Mount { dir: dir.clone() };
    let as_nobody = |script: String| {
        run(Command::new("runuser")
            .args(["-u", "nobody", "--", "sh", "-c"])
            .arg(script)
            .env(
                "PATH",
                format!(
                    "/usr/bin:/bin:{}",
                    std::env::var("PATH").unwrap_or_default()
                ),
            ))
    };
    as_nobody(format!(
        "'{}' mount '{}' '{}'",
        exe.display(),
        img.display(),
        dir.display()
    ));
    assert!(mounted(&dir));
    // The mount belongs to nobody: its files read for nobody, as the
    // recorded modes allow the owner (--uid shows them as nobody's).
    let o = as_nobody(format!(
        "cat '{}/a.txt' '{}/sizes/s2049' | wc -c",
        dir.display(),
        dir.display()
    ));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        (6 + 2049).to_string()
    );
    as_nobody(format!("'{}' umount '{}'", exe.display(), dir.display()));
    assert!(!mounted(&dir));
}
