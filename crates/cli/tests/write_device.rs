//! `isoforge write` and `isoforge verify` on real block devices: loop
//! devices over files, as root. `cmp` judges what was written, QEMU boots
//! the written device as a USB stick, and every refusal is shown on a device
//! that stays as it was.
//!
//! Each loop device is detached (and unmounted) by a guard when its test
//! ends, also when it fails.
#![allow(clippy::unwrap_used)]

#[path = "common/boot_tree.rs"]
mod boot_tree;
mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The byte a backing file is filled with before a test writes over it, so
/// that a refused write is seen to have changed nothing.
const FILL: u8 = 0xa5;

/// Whether loop devices can be made here (root and losetup), with the skip
/// rules of `have`.
fn can_loop() -> bool {
    if !is_root() {
        if std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("loop devices need root (ISOFORGE_REQUIRE_ORACLES=1)");
        }
        eprintln!("skipping: loop devices need root");
        return false;
    }
    have_tool("losetup")
}

/// A loop device over a file filled with [`FILL`]; unmounted and detached
/// when dropped.
struct Loop {
    dev: PathBuf,
    backing: PathBuf,
    mounted: Option<PathBuf>,
}

impl Loop {
    /// A loop device of `size` bytes over `dir/name`; `partscan` lets the
    /// kernel read a partition table on it (`losetup -P`).
    fn new(dir: &Path, name: &str, size: usize, partscan: bool) -> Loop {
        let backing = dir.join(name);
        fs::write(&backing, vec![FILL; size]).unwrap();
        let mut cmd = tool("losetup");
        cmd.args(["-f", "--show"]);
        if partscan {
            cmd.arg("-P");
        }
        let out = run(cmd.arg(&backing));
        let dev = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let lo = Loop {
            dev,
            backing,
            mounted: None,
        };
        assert!(lo.path().starts_with("/dev/loop"), "{}", lo.path());
        lo
    }

    fn path(&self) -> &str {
        self.dev.to_str().unwrap()
    }

    fn name(&self) -> String {
        self.dev.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// `len` bytes of the device from `offset`, read as any program would.
    fn read(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        fs::File::open(&self.dev)
            .unwrap()
            .read_exact_at(&mut b, offset)
            .unwrap();
        b
    }

    /// Asserts the device still holds only [`FILL`] in its first `len` bytes.
    fn assert_untouched(&self, len: usize) {
        assert!(
            fs::read(&self.backing).unwrap()[..len]
                .iter()
                .all(|b| *b == FILL),
            "{} was written to",
            self.path()
        );
    }

    /// The partitions the kernel shows for it (`loop3p1`, ...).
    fn kernel_partitions(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(Path::new("/sys/block").join(self.name()))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{}p", self.name())))
            .collect();
        v.sort();
        v
    }

    /// Sectors written to it so far, from its I/O statistics.
    fn sectors_written(&self) -> u64 {
        let stat =
            fs::read_to_string(Path::new("/sys/block").join(self.name()).join("stat")).unwrap();
        stat.split_whitespace().nth(6).unwrap().parse().unwrap()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            let _ = tool("umount").arg(&m).status();
        }
        let _ = tool("losetup").arg("-d").arg(&self.dev).status();
    }
}

/// A plain image made by `isoforge create`, about `mib` MiB of data.
fn plain_image(dir: &Path, mib: usize) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("docs")).unwrap();
    fs::write(src.join("docs/data.bin"), bytes(42, mib << 20)).unwrap();
    fs::write(src.join("README.TXT"), b"written by isoforge write\n").unwrap();
    let img = dir.join("plain.iso");
    isoforge_ok(&[
        "create",
        "-q",
        "-o",
        img.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    img
}

fn len(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len()
}

/// `isoforge write IMAGE TARGET ARGS...` with no standard input.
fn write(img: &Path, target: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("write")
        .arg(img)
        .arg(target)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Asserts a refusal: exit 2, stderr naming `what`, no panic.
fn assert_refused(o: &Output, what: &[&str]) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(2), "stdout: {out}\nstderr: {err}");
    for w in what {
        assert!(err.contains(w), "stderr lacks {w:?}: {err}");
    }
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `cmp -n SIZE image device`: the independent judge of what was written.
fn assert_cmp_same(img: &Path, dev: &str) {
    run(Command::new("cmp")
        .arg("-n")
        .arg(len(img).to_string())
        .arg(img)
        .arg(dev));
}

#[test]
fn writes_an_image_that_cmp_reads_back_and_nothing_after_it() {
    if !can_loop() || !have("cmp") {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 3);
    let lo = Loop::new(dir.path(), "disk", 8 << 20, false);
    let o = write(&img, lo.path(), &["--allow-loop", "--yes"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains(&format!("({} bytes) to {}", len(&img), lo.path())),
        "{out}"
    );
    assert!(out.contains("bypassing the page cache (O_DIRECT)"), "{out}");
    let sha = String::from_utf8(run(Command::new("sha256sum").arg(&img)).stdout).unwrap();
    let sha = &sha[..64];
    assert!(out.contains(&format!("sha256 {sha}")), "{out}");
    assert_cmp_same(&img, lo.path());
    // The write stopped at the image's end.
    assert_eq!(lo.read(len(&img), 4096), vec![FILL; 4096]);

    // verify with the length and digest works on the device.
    let n = len(&img).to_string();
    let o = isoforge(&["verify", lo.path(), "--length", &n, "--sha256", sha]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = isoforge(&["verify", lo.path(), "--against", img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // Without --length, the whole device is hashed: not the image's digest.
    let o = isoforge(&["verify", lo.path(), "--sha256", sha]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
}

#[test]
fn writes_an_image_that_ends_inside_a_4k_sector() {
    if !can_loop() || !have("cmp") {
        return;
    }
    let dir = tempdir();
    // Whole 4 KiB blocks go out with O_DIRECT; the last 2048 + 17 bytes do
    // not fill one, and are written through the page cache: the rest of
    // that sector keeps what the device held.
    let img = dir.path().join("odd.img");
    let n = (3 << 20) + 2048 + 17;
    fs::write(&img, bytes(9, n)).unwrap();
    let backing = dir.path().join("4kn");
    fs::write(&backing, vec![FILL; 8 << 20]).unwrap();
    let out = run(tool("losetup")
        .args(["-f", "--show", "--sector-size", "4096"])
        .arg(&backing));
    let lo = Loop {
        dev: PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()),
        backing,
        mounted: None,
    };
    let lbs =
        fs::read_to_string(format!("/sys/block/{}/queue/logical_block_size", lo.name())).unwrap();
    assert_eq!(lbs.trim(), "4096");
    let o = write(&img, lo.path(), &["--yes", "--allow-loop"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("bypassing the page cache (O_DIRECT)"), "{out}");
    assert_cmp_same(&img, lo.path());
    assert_eq!(lo.read(n as u64, 4096 - 2065), vec![FILL; 4096 - 2065]);
    let o = isoforge(&["verify", lo.path(), "--against", img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn writes_to_a_regular_file_only_with_file_target() {
    let dir = tempdir();
    let img = plain_image(dir.path(), 1);
    let target = dir.path().join("stick.img");
    fs::write(&target, vec![FILL; 4 << 20]).unwrap();
    let t = target.to_str().unwrap();
    assert_refused(
        &write(&img, t, &["--yes"]),
        &["not a block device", "--file-target"],
    );
    assert_eq!(fs::read(&target).unwrap(), vec![FILL; 4 << 20]);

    let o = write(&img, t, &["--yes", "--file-target"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(fs::read(&target).unwrap(), fs::read(&img).unwrap());
    // A file that does not exist yet is made.
    let new = dir.path().join("new.img");
    let o = write(&img, new.to_str().unwrap(), &["--yes", "--file-target"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(fs::read(&new).unwrap(), fs::read(&img).unwrap());
    // Never the image over itself.
    assert_refused(
        &write(&img, img.to_str().unwrap(), &["--yes", "--file-target"]),
        &["the image itself"],
    );
    // A directory is not a target.
    assert_refused(
        &write(
            &img,
            dir.path().to_str().unwrap(),
            &["--yes", "--file-target"],
        ),
        &["a directory, not a block device"],
    );
}

#[test]
fn a_loop_device_is_not_removable_without_the_flag() {
    if !can_loop() {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 1);
    let lo = Loop::new(dir.path(), "disk", 4 << 20, false);
    assert_refused(
        &write(&img, lo.path(), &["--yes"]),
        &["not a removable disk", "--allow-loop"],
    );
    lo.assert_untouched(4 << 20);
    // --force-non-removable is the other way to write to it.
    let o = write(&img, lo.path(), &["--yes", "--force-non-removable"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_cmp_same(&img, lo.path());
}

#[test]
fn refuses_a_device_smaller_than_the_image() {
    if !can_loop() {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 2);
    let lo = Loop::new(dir.path(), "small", 1 << 20, false);
    assert_refused(
        &write(&img, lo.path(), &["--yes", "--allow-loop"]),
        &[&format!("holds {} bytes, smaller than the image", 1 << 20)],
    );
    lo.assert_untouched(1 << 20);
}

#[test]
fn without_a_terminal_yes_is_required() {
    if !can_loop() {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 1);
    let lo = Loop::new(dir.path(), "disk", 4 << 20, false);
    assert_refused(
        &write(&img, lo.path(), &["--allow-loop"]),
        &["standard input is not a terminal", "--yes"],
    );
    lo.assert_untouched(4 << 20);
}

#[test]
fn refuses_a_mounted_device_unless_told_to_unmount_it() {
    if !can_loop() || !have_tool("mkfs.ext4") || !have_tool("mount") {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 1);
    let mut lo = Loop::new(dir.path(), "disk", 16 << 20, false);
    run(tool("mkfs.ext4").args(["-q", "-F"]).arg(&lo.dev));
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    run(tool("mount").arg(&lo.dev).arg(&mnt));
    lo.mounted = Some(mnt.clone());
    let superblock = lo.read(1024, 1024);
    assert_eq!(&superblock[56..58], &[0x53, 0xef], "ext4 magic");

    assert_refused(
        &write(&img, lo.path(), &["--yes", "--allow-loop"]),
        &["mounted", mnt.to_str().unwrap(), "--unmount"],
    );
    assert_eq!(lo.read(1024, 1024), superblock);

    let o = write(&img, lo.path(), &["--yes", "--allow-loop", "--unmount"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        err.contains(&format!("unmounted {}", mnt.display())),
        "{err}"
    );
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(mnt.to_str().unwrap()), "{mountinfo}");
    lo.mounted = None;
    assert_cmp_same(&img, lo.path());
}

#[test]
fn refuses_a_partition_and_the_image_itself() {
    if !can_loop() || !have_tool("sfdisk") || !have_tool("partx") {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 1);
    let lo = Loop::new(dir.path(), "disk", 8 << 20, true);
    let mut sf = tool("sfdisk")
        .args(["-q", lo.path()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    sf.stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\n,,83\n")
        .unwrap();
    assert!(sf.wait().unwrap().success());
    // Kernels built without partition table parsers see no partition:
    // partx tells the kernel about it (BLKPG) from user space.
    let part = format!("{}p1", lo.path());
    if !Path::new(&part).exists() {
        run(tool("partx").arg("-u").arg(&lo.dev));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Path::new(&part).exists() {
        assert!(Instant::now() < deadline, "{part} did not appear");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_refused(
        &write(
            &img,
            &part,
            &["--yes", "--allow-loop", "--force-non-removable"],
        ),
        &[
            "not a whole disk",
            &format!("the disk is /dev/{}", lo.name()),
        ],
    );
    // The device itself as the image.
    let o = Command::new(bin())
        .args(["write", lo.path(), lo.path(), "--yes", "--allow-loop"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_refused(&o, &["the image itself"]);
}

#[test]
fn lists_loop_devices_only_when_allowed() {
    if !can_loop() {
        return;
    }
    let dir = tempdir();
    let lo = Loop::new(dir.path(), "listed", 4 << 20, false);
    let names = |args: &[&str]| -> Vec<(String, Option<String>)> {
        let o = isoforge_ok(&[&["write", "--list", "--json"], args].concat());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["schema"], 1);
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["node"].as_str().unwrap().to_string(),
                    d["loop_backing"].as_str().map(str::to_string),
                )
            })
            .collect()
    };
    let backing = fs::canonicalize(&lo.backing).unwrap();
    let with = names(&["--allow-loop"]);
    assert!(
        with.contains(&(lo.path().to_string(), Some(backing.display().to_string()))),
        "{with:?}"
    );
    assert!(!names(&[]).iter().any(|(n, _)| n == lo.path()));
    let o = isoforge_ok(&["write", "--list", "--allow-loop"]);
    let (out, _) = text(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with(lo.path()) && l.contains("loop")),
        "{out}"
    );
}

#[test]
fn verify_reads_past_a_page_cache_that_hides_a_flipped_byte() {
    if !can_loop() || !have("cmp") {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 3);
    let lo = Loop::new(dir.path(), "disk", 8 << 20, false);
    let o = write(&img, lo.path(), &["--yes", "--allow-loop"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let n = len(&img);
    let at: u64 = 2_500_001;
    let good = fs::read(&img).unwrap()[at as usize];

    // Held open, the device keeps its page cache (the kernel drops it when
    // the last opener closes it); cmp reads through it and fills it.
    let held = fs::File::open(&lo.dev).unwrap();
    assert_cmp_same(&img, lo.path());
    // A byte changes underneath the cache: the loop driver reads its
    // backing file, as a stick's controller reads its flash, and the
    // device's cached pages still hold the good byte.
    let backing = fs::OpenOptions::new()
        .write(true)
        .open(&lo.backing)
        .unwrap();
    backing.write_all_at(&[!good], at).unwrap();
    backing.sync_all().unwrap();
    // Reading through the cache (cmp, or a digest of a buffered read) sees
    // nothing wrong ...
    assert_cmp_same(&img, lo.path());
    // ... reading past it (O_DIRECT) does, and names the byte.
    let o = isoforge(&["verify", lo.path(), "--against", img.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let expected = format!(
        "first difference at byte {at}: the target holds 0x{:02x}, the image 0x{good:02x}",
        !good
    );
    assert!(out.contains(&expected), "{out}");
    assert!(err.contains(&expected), "{err}");
    let o = isoforge(&[
        "verify",
        "--json",
        lo.path(),
        "--against",
        img.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["difference"]["kind"], "byte");
    assert_eq!(v["difference"]["offset"], at);
    assert_eq!(v["difference"]["found"], u64::from(!good));
    assert_eq!(v["difference"]["expected"], u64::from(good));
    let sha = String::from_utf8(run(Command::new("sha256sum").arg(&img)).stdout).unwrap();
    let o = isoforge(&[
        "verify",
        lo.path(),
        "--length",
        &n.to_string(),
        "--sha256",
        &sha[..64],
    ]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    drop(held);
    // Once the cache is gone, cmp agrees (its byte numbers start at 1).
    let c = Command::new("cmp")
        .arg("-n")
        .arg(n.to_string())
        .arg(&img)
        .arg(lo.path())
        .output()
        .unwrap();
    assert_eq!(c.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&c.stdout).contains(&format!("byte {}", at + 1)),
        "{:?}",
        c
    );
}

#[test]
fn verify_catches_a_byte_flipped_through_a_buffered_descriptor() {
    if !can_loop() {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 3);
    let lo = Loop::new(dir.path(), "disk", 8 << 20, false);
    let o = write(&img, lo.path(), &["--yes", "--allow-loop"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let at: u64 = 1_000_003;
    let good = fs::read(&img).unwrap()[at as usize];
    // A second, buffered descriptor on the device changes a byte and does
    // not sync: the changed byte sits dirty in the device's page cache.
    // Caught either way: a direct read makes the kernel write dirty cached
    // pages of its range back first, and a buffered read reads the cache.
    let second = fs::OpenOptions::new().write(true).open(&lo.dev).unwrap();
    second.write_all_at(&[!good], at).unwrap();
    let o = isoforge(&["verify", lo.path(), "--against", img.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains(&format!("first difference at byte {at}:")),
        "{out}"
    );
    drop(second);
}

#[test]
fn ctrl_c_stops_and_says_the_device_holds_a_partial_image() {
    if !can_loop() {
        return;
    }
    let dir = tempdir();
    // A sparse image large enough that writing it takes far longer than
    // noticing that it started; the loop device's file is in memory.
    let img = dir.path().join("big.img");
    sparse_with_marks(
        &img,
        768 << 20,
        &[(0, b"START"), ((768 << 20) - 5, b"-END-")],
    );
    let shm = tempfile::Builder::new()
        .prefix("isoforge-test-")
        .tempdir_in("/dev/shm")
        .unwrap_or_else(|_| tempdir());
    let lo = Loop::new(shm.path(), "disk", 800 << 20, false);
    let before = lo.sectors_written();
    let mut child = Command::new(bin())
        .arg("write")
        .arg(&img)
        .arg(&lo.dev)
        .args(["--yes", "--allow-loop"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lo.sectors_written() == before {
        assert!(Instant::now() < deadline, "writing did not start");
        assert!(child.try_wait().unwrap().is_none(), "isoforge ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{out}\n{err}");
    let total = 768u64 << 20;
    let needle = format!(" of {total} bytes written");
    let line = err
        .lines()
        .find(|l| l.contains("now holds a partial image"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(&needle), "{line}");
    let written: u64 = line
        .split(" of ")
        .next()
        .unwrap()
        .rsplit('(')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(written > 0 && written < total, "{line}");
    // What it says was written is there; the end of the image is not.
    assert_eq!(lo.read(0, 5), b"START");
    assert_eq!(lo.read(total - 5, 5), vec![FILL; 5]);
    assert!(!out.contains("verified"), "{out}");
}

#[test]
fn on_a_terminal_it_shows_the_device_and_asks() {
    if !can_loop() || !have("script") {
        return;
    }
    let dir = tempdir();
    let img = plain_image(dir.path(), 1);
    let lo = Loop::new(dir.path(), "disk", 4 << 20, false);
    // script(1) runs the command on a pseudo-terminal fed from our stdin.
    let ask = |answer: &str| -> Output {
        let cmd = format!(
            "{} write {} {} --allow-loop",
            bin().display(),
            img.display(),
            lo.path()
        );
        let mut c = Command::new("script")
            .args(["-qefc", &cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        c.wait_with_output().unwrap()
    };
    let o = ask("n\n");
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(&format!(
            "{}: loop device over {}, 4.00 MiB (4194304 bytes), loop",
            lo.path(),
            fs::canonicalize(&lo.backing).unwrap().display()
        )),
        "{shown}"
    );
    assert!(shown.contains("no partitions"), "{shown}");
    assert!(shown.contains("Write? [y/N]"), "{shown}");
    assert!(
        shown.contains("not confirmed; nothing was written"),
        "{shown}"
    );
    lo.assert_untouched(4 << 20);

    let o = ask("yes\n");
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{shown}");
    assert!(shown.contains("verified"), "{shown}");
    assert_cmp_same(&img, lo.path());
}

// ---------------------------------------------------------------------------
// A bootable hybrid image, written and booted as a USB stick

/// The hybrid image of the boot tests: ISOLINUX (BIOS), GRUB in an EFI
/// system partition built by isoforge (UEFI), isohdpfx.bin and a GPT.
fn hybrid_image(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    let esp = dir.join("esp");
    let mut files = boot_tree::isolinux_files();
    files.push(("README.TXT", b"isoforge write boot test\n".to_vec()));
    boot_tree::write_tree(&src, &files);
    boot_tree::make_esp(&esp, dir);
    let img = dir.join("hybrid.iso");
    run(Command::new(bin())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["create", "-q", "--reproducible", "-o"])
        .arg(&img)
        .args([
            "--boot-bios",
            "/isolinux/isolinux.bin",
            "--boot-info-table",
            "--boot-load-size",
            "4",
            "--efi-dir",
        ])
        .arg(&esp)
        .args(["--system-area", boot_tree::ISOHDPFX, "--gpt"])
        .arg(&src));
    img
}

#[test]
fn a_written_hybrid_image_boots_from_the_device_as_a_usb_stick() {
    if !can_loop()
        || !have("cmp")
        || !have_tool("addpart")
        || !boot_tree::have_boot_tools()
        || !qemu::have_qemu(qemu::Firmware::SeaBios)
        || !qemu::have_qemu(qemu::Firmware::Ovmf)
    {
        return;
    }
    let dir = tempdir();
    let img = hybrid_image(dir.path());
    let size = usize::try_from(len(&img)).unwrap() + (4 << 20);
    let lo = Loop::new(dir.path(), "stick", size, true);
    // A partition the new image does not have: re-reading the partition
    // table removes it (and shows the image's, on kernels that parse MBR
    // and GPT).
    let stale = format!("{}p9", lo.name());
    run(tool("addpart").arg(&lo.dev).args(["9", "100", "20"]));
    assert_eq!(lo.kernel_partitions(), std::slice::from_ref(&stale));
    let o = write(&img, lo.path(), &["--yes", "--allow-loop"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("verified"), "{out}");
    assert!(!err.contains("did not re-read"), "{err}");
    let parts = lo.kernel_partitions();
    assert!(
        !parts.contains(&stale),
        "the partition table was not re-read: {parts:?}"
    );
    eprintln!("partitions after writing: {parts:?}");
    assert_cmp_same(&img, lo.path());

    for (fw, marker) in [
        (qemu::Firmware::SeaBios, boot_tree::BIOS_MARKER),
        (qemu::Firmware::Ovmf, boot_tree::EFI_MARKER),
    ] {
        qemu::boot(
            &lo.dev,
            fw,
            qemu::Media::UsbDisk,
            marker,
            qemu::boot_timeout(fw),
        )
        .assert_booted();
    }
}
