//! Nothing half-written, ever: signals in the middle of `create`, `modify`
//! and `extract`, a full output device, `extract` onto existing files, and
//! the output checks made before any work. Real processes get real signals;
//! afterwards the directories are listed.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rustix::process::{kill_process, Pid, Signal};

/// Every path below `dir` (relative, sorted), directories included.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Paths below `dir` that are temporary files of isoforge.
fn temporaries(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|p| p.rsplit('/').next().unwrap_or("").starts_with(".isoforge-"))
        .collect()
}

/// Writes `n` files of `size` bytes of distinct non-zero data into `dir`.
fn big_tree(dir: &Path, n: usize, size: usize) {
    fs::create_dir_all(dir).unwrap();
    let chunk = bytes(7, 1 << 20);
    for i in 0..n {
        let mut data = Vec::with_capacity(size);
        while data.len() < size {
            let take = (size - data.len()).min(chunk.len());
            data.extend_from_slice(&chunk[..take]);
        }
        // Each file and each MiB of it differs from the others.
        for (k, mib) in data.chunks_mut(1 << 20).enumerate() {
            mib[..16].copy_from_slice(&format!("{i:08}{k:08}").into_bytes());
        }
        fs::write(dir.join(format!("f{i:03}.bin")), &data).unwrap();
    }
}

/// Polls `cond` until it holds; fails after `secs` seconds.
fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The state letter of a process in /proc (`T` when stopped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Starts isoforge at the lowest priority, so that on a busy machine the
/// test, which watches it, is not the one kept waiting.
fn spawn(args: &[&str]) -> Child {
    Command::new("nice")
        .args(["-n", "19"])
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stops `child` (SIGSTOP) so that it cannot finish meanwhile, checks it is
/// still at work, sends `sig`, lets it go on (SIGCONT), and waits for it to
/// end. Returns its exit status and standard error.
fn interrupt(mut child: Child, sig: Signal) -> (ExitStatus, String) {
    let pid = Pid::from_child(&child);
    kill_process(pid, Signal::STOP).unwrap();
    let raw = child.id();
    wait_for("the child to stop", 30, || {
        proc_state(raw).is_none_or(|s| s == 'T' || s == 'Z')
    });
    if let Some(st) = child.try_wait().unwrap() {
        panic!("the command ended ({st}) before it could be interrupted: its input is too small for this machine");
    }
    kill_process(pid, sig).unwrap();
    kill_process(pid, Signal::CONT).unwrap();
    let mut status = None;
    wait_for("the child to exit after the signal", 60, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.unwrap(), err)
}

/// The size of the temporary image file in `dir`, if there is one.
fn temp_image_len(dir: &Path) -> Option<u64> {
    fs::read_dir(dir)
        .ok()?
        .find_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with(".isoforge-") && name.ends_with(".tmp")).then(|| e.metadata().ok())?
        })
        .map(|m| m.len())
}

/// Runs a command writing an image into `out_dir`, interrupts it with `sig`
/// once its temporary image has grown past 1 MiB, and checks the exit
/// status and that `out_dir` is left as it was (empty).
fn interrupt_image_write(args: &[&str], out_dir: &Path, sig: Signal, code: i32) {
    let child = spawn(args);
    wait_for("the temporary image to grow", 120, || {
        temp_image_len(out_dir).is_some_and(|n| n > 1 << 20)
    });
    let (status, err) = interrupt(child, sig);
    assert_eq!(status.code(), Some(code), "{args:?}: {err}");
    assert!(err.contains("stopped by"), "{err}");
    assert_eq!(
        listing(out_dir),
        Vec::<String>::new(),
        "{args:?} left files"
    );
}

/// The source's files under `dest`, those there complete: equal to the
/// source's.
fn assert_complete_files(src: &Path, dest: &Path) -> usize {
    let mut n = 0;
    for p in listing(dest) {
        let data = fs::read(dest.join(&p)).unwrap();
        assert_eq!(
            fnv(&data),
            fnv(&fs::read(src.join(&p)).unwrap()),
            "{p} is not the source's"
        );
        n += 1;
    }
    n
}

#[test]
fn signals_stop_create_modify_and_extract_leaving_nothing_behind() {
    let t = tempdir();
    let src = t.path().join("src");
    // 512 MiB: far more than is written between two looks at the output.
    big_tree(&src, 64, 8 << 20);
    let s = src.to_str().unwrap();

    // create, with each of the three signals.
    for (sig, code) in [(Signal::INT, 130), (Signal::TERM, 143), (Signal::HUP, 129)] {
        let out = t.path().join(format!("create-{code}"));
        fs::create_dir(&out).unwrap();
        let img = out.join("out.iso");
        interrupt_image_write(&["create", "-o", img.to_str().unwrap(), s], &out, sig, code);
    }

    // A whole image for modify and extract.
    let img = t.path().join("whole.iso");
    isoforge_ok(&["create", "-o", img.to_str().unwrap(), s]);
    let i = img.to_str().unwrap();

    let out = t.path().join("modify");
    fs::create_dir(&out).unwrap();
    let add = t.path().join("added.txt");
    fs::write(&add, b"added").unwrap();
    interrupt_image_write(
        &[
            "modify",
            i,
            "-o",
            out.join("new.iso").to_str().unwrap(),
            "--add",
            &format!("/added.txt={}", add.display()),
        ],
        &out,
        Signal::TERM,
        143,
    );

    // extract into a directory it creates: the directory goes again.
    let dest = t.path().join("made/by/extract");
    let child = spawn(&["extract", i, "-C", dest.to_str().unwrap()]);
    wait_for("a first extracted file", 120, || {
        fs::read_dir(&dest).is_ok_and(|d| d.count() > 1)
    });
    let (status, err) = interrupt(child, Signal::HUP);
    assert_eq!(status.code(), Some(129), "{err}");
    assert!(!t.path().join("made").exists(), "{:?}", listing(t.path()));

    // extract into a directory given: what completed stays, whole.
    let dest = t.path().join("given");
    fs::create_dir(&dest).unwrap();
    let child = spawn(&["extract", i, "-C", dest.to_str().unwrap()]);
    wait_for("a first extracted file", 120, || {
        fs::read_dir(&dest).is_ok_and(|d| {
            d.filter_map(Result::ok)
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
    });
    let (status, err) = interrupt(child, Signal::INT);
    assert_eq!(status.code(), Some(130), "{err}");
    assert_eq!(temporaries(&dest), Vec::<String>::new());
    let n = assert_complete_files(&src, &dest);
    assert!((1..64).contains(&n), "{n} files extracted");
}

#[test]
fn a_signal_ends_a_write_that_cannot_go_on() {
    // Standard output is a pipe nobody reads: the write blocks, cannot see
    // the cancellation, and the process still ends with 143.
    let t = tempdir();
    let src = t.path().join("src");
    big_tree(&src, 2, 4 << 20);
    let mut child = Command::new(bin())
        .args(["create", "-o", "-", src.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The pipe full (64 KiB): the child is blocked writing to it, or soon
    // will be.
    let pipe = child.stdout.take().unwrap();
    wait_for("the pipe to fill", 60, || {
        rustix::io::ioctl_fionread(&pipe).is_ok_and(|n| n >= 64 << 10)
    });
    kill_process(Pid::from_child(&child), Signal::TERM).unwrap();
    let mut status = None;
    wait_for("the child to exit after the signal", 60, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(143));
    drop(pipe);
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts `size` of tmpfs at `dir`; `None` (after saying why) when this
    /// machine does not allow it, unless oracles are required.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() == Ok("1") {
                    panic!("cannot mount a tmpfs (ISOFORGE_REQUIRE_ORACLES=1): {why}");
                }
                eprintln!("skipping: cannot mount a tmpfs here: {why}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_the_outputs_fault_and_leaves_nothing() {
    let t = tempdir();
    let src = t.path().join("src");
    big_tree(&src, 3, 3 << 20);
    let s = src.to_str().unwrap();
    let img = t.path().join("in.iso");
    isoforge_ok(&["create", "-o", img.to_str().unwrap(), s]);
    let i = img.to_str().unwrap();
    let Some(full) = Tmpfs::mount(&t.path().join("small"), "4m") else {
        return;
    };
    let m = &full.0;
    let check = |o: &std::process::Output, what: &Path| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "no space left on device while writing {}",
                what.display()
            )),
            "{err}"
        );
        assert!(!err.contains(s), "the input is blamed: {err}");
    };

    let out = m.join("out.iso");
    check(&isoforge(&["create", "-o", out.to_str().unwrap(), s]), &out);
    assert_eq!(listing(m), Vec::<String>::new());

    check(
        &isoforge(&["modify", i, "-o", out.to_str().unwrap(), "--mkdir", "/new"]),
        &out,
    );
    assert_eq!(listing(m), Vec::<String>::new());

    // Into a directory extract creates: it goes again.
    let o = isoforge(&["extract", i, "-C", m.join("new/dir").to_str().unwrap()]);
    check(&o, &m.join("new/dir"));
    assert_eq!(listing(m), Vec::<String>::new());

    // Into the directory given: what was completed stays.
    let o = isoforge(&["extract", i, "-C", m.to_str().unwrap()]);
    check(&o, m);
    assert_eq!(temporaries(m), Vec::<String>::new());
    assert_eq!(assert_complete_files(&src, m), 1, "{:?}", listing(m));
}

/// A small image made from a tree of files with known times.
fn small_tree_image(t: &Path) -> (PathBuf, PathBuf) {
    let src = t.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    for (p, data) in [
        ("a.txt", "a from the image"),
        ("m.txt", "m from the image"),
        ("sub/s.txt", "s from the image"),
        ("zz.txt", "zz from the image"),
    ] {
        fs::write(src.join(p), data).unwrap();
        touch(&src.join(p), 1_600_000_000);
    }
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    let img = t.join("small.iso");
    isoforge_ok(&["create", "-o", img.to_str().unwrap(), src.to_str().unwrap()]);
    (src, img)
}

fn contents(dir: &Path) -> BTreeMap<String, String> {
    listing(dir)
        .into_iter()
        .map(|p| {
            let full = dir.join(&p);
            let m = fs::symlink_metadata(&full).unwrap();
            let v = if m.is_dir() {
                "<dir>".to_string()
            } else if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&full).unwrap().display())
            } else {
                fs::read_to_string(&full).unwrap()
            };
            (p, v)
        })
        .collect()
}

#[test]
fn extract_refuses_existing_files_before_writing_anything() {
    let t = tempdir();
    let (_, img) = small_tree_image(t.path());
    let dest = t.path().join("dest");
    fs::create_dir(&dest).unwrap();
    // The last entry in extraction order is the one in the way.
    fs::write(dest.join("zz.txt"), "mine").unwrap();
    let before = contents(&dest);
    let o = isoforge(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("zz.txt already exists in the destination"),
        "{err}"
    );
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(contents(&dest), before, "something was written");

    // Several in the way: the first is named, the others counted.
    fs::create_dir(dest.join("sub")).unwrap();
    fs::write(dest.join("sub/s.txt"), "mine").unwrap();
    fs::write(dest.join("link"), "mine").unwrap();
    let before = contents(&dest);
    let o = isoforge(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("(and 2 more entries)"), "{err}");
    assert_eq!(contents(&dest), before, "something was written");

    // A named path is checked the same way.
    let o = isoforge(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        dest.to_str().unwrap(),
        "/sub",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sub/s.txt"));
    assert_eq!(contents(&dest), before, "something was written");
}

#[test]
fn extract_overwrite_always_newer_and_skip_existing() {
    let t = tempdir();
    let (src, img) = small_tree_image(t.path());
    let i = img.to_str().unwrap();
    let fresh = |name: &str| {
        let d = t.path().join(name);
        fs::create_dir(&d).unwrap();
        fs::write(d.join("a.txt"), "old a").unwrap();
        touch(&d.join("a.txt"), 1_500_000_000);
        fs::write(d.join("m.txt"), "new m").unwrap();
        touch(&d.join("m.txt"), 1_700_000_000);
        std::os::unix::fs::symlink("elsewhere", d.join("link")).unwrap();
        d
    };
    let all = contents(&src);

    // always: everything replaced, through new inodes (a hard link to the
    // old file elsewhere keeps the old contents).
    let d = fresh("always");
    fs::hard_link(d.join("a.txt"), t.path().join("a.keep")).unwrap();
    let ino = fs::metadata(d.join("a.txt")).unwrap().ino();
    isoforge_ok(&[
        "extract",
        i,
        "-C",
        d.to_str().unwrap(),
        "--overwrite",
        "always",
    ]);
    assert_eq!(contents(&d), all);
    assert_ne!(fs::metadata(d.join("a.txt")).unwrap().ino(), ino);
    assert_eq!(
        fs::read_to_string(t.path().join("a.keep")).unwrap(),
        "old a"
    );
    // `--overwrite` alone means always.
    isoforge_ok(&["extract", i, "-C", d.to_str().unwrap(), "--overwrite"]);
    assert_eq!(contents(&d), all);
    assert_eq!(temporaries(&d), Vec::<String>::new());

    // newer: the older a.txt and link are replaced, the newer m.txt kept.
    let d = fresh("newer");
    touch(&d.join("link"), 1_500_000_000);
    isoforge_ok(&[
        "extract",
        i,
        "-C",
        d.to_str().unwrap(),
        "--overwrite",
        "newer",
    ]);
    let mut want = all.clone();
    want.insert("m.txt".into(), "new m".into());
    assert_eq!(contents(&d), want);

    // --skip-existing: every existing one kept, the rest extracted.
    let d = fresh("skip");
    let o = isoforge_ok(&[
        "extract",
        i,
        "-C",
        d.to_str().unwrap(),
        "--skip-existing",
        "--json",
    ]);
    let mut want = all.clone();
    want.insert("a.txt".into(), "old a".into());
    want.insert("m.txt".into(), "new m".into());
    want.insert("link".into(), "-> elsewhere".into());
    assert_eq!(contents(&d), want);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["skipped"], 3, "{report}");
    assert_eq!(temporaries(&d), Vec::<String>::new());

    // A directory is never replaced by a file.
    let d = t.path().join("dir-in-the-way");
    fs::create_dir_all(d.join("a.txt")).unwrap();
    let o = isoforge(&[
        "extract",
        i,
        "-C",
        d.to_str().unwrap(),
        "--overwrite",
        "always",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(d.join("a.txt").is_dir());
    assert_eq!(temporaries(&d), Vec::<String>::new());
}

#[test]
fn a_failed_extraction_removes_the_directory_it_created() {
    let t = tempdir();
    let src = t.path().join("src");
    big_tree(&src, 3, 1 << 20);
    let img = t.path().join("in.iso");
    isoforge_ok(&["create", "-o", img.to_str().unwrap(), src.to_str().unwrap()]);
    let i = img.to_str().unwrap();
    // The byte budget stops it after the first file.
    let limit = (1u64 << 20) + (1 << 19);
    let made = t.path().join("new/sub");
    let o = isoforge(&[
        "extract",
        i,
        "-C",
        made.to_str().unwrap(),
        "--max-bytes",
        &limit.to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!t.path().join("new").exists());
    let given = t.path().join("given");
    fs::create_dir(&given).unwrap();
    let o = isoforge(&[
        "extract",
        i,
        "-C",
        given.to_str().unwrap(),
        "--max-bytes",
        &limit.to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(temporaries(&given), Vec::<String>::new());
    assert_eq!(assert_complete_files(&src, &given), 1);
}

#[test]
fn output_in_a_missing_directory_fails_before_any_work() {
    let t = tempdir();
    let missing = t.path().join("no/such/dir");
    let out = missing.join("out.iso");
    // The source does not exist either: the output is what is reported.
    for args in [
        vec!["create", "-o", out.to_str().unwrap(), "/no/such/source"],
        vec!["modify", "/no/such/image.iso", "-o", out.to_str().unwrap()],
    ] {
        let o = isoforge(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{} does not exist", missing.display())),
            "{err}"
        );
        assert!(
            !err.contains("/no/such/source") && !err.contains("image.iso:"),
            "{err}"
        );
    }
    assert_eq!(listing(t.path()), Vec::<String>::new());
}

#[test]
fn a_plain_file_source_goes_to_the_root() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("dir");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("sub/in.txt"), "in a directory").unwrap();
    let file = t.path().join("loose.txt");
    fs::write(&file, "a file on its own").unwrap();
    let img = t.path().join("out.iso");
    isoforge_ok(&[
        "create",
        "-o",
        img.to_str().unwrap(),
        file.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let expected = t.path().join("expected");
    fs::create_dir_all(expected.join("sub")).unwrap();
    fs::copy(dir.join("sub/in.txt"), expected.join("sub/in.txt")).unwrap();
    fs::copy(&file, expected.join("loose.txt")).unwrap();
    check_xorriso_reads(
        &img,
        &snapshot(&expected),
        &t.path().join("x"),
        Compare {
            mode: false,
            mtime: false,
            dir_mtime: false,
            content: true,
        },
        "a file and a directory as sources",
    );
}

#[test]
fn a_kept_file_is_never_the_target_of_a_hard_link() {
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.txt"), "shared").unwrap();
    fs::hard_link(src.join("a.txt"), src.join("b.txt")).unwrap();
    let img = t.path().join("links.iso");
    isoforge_ok(&["create", "-o", img.to_str().unwrap(), src.to_str().unwrap()]);
    let d = t.path().join("dest");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("a.txt"), "mine").unwrap();
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        d.to_str().unwrap(),
        "--skip-existing",
    ]);
    assert_eq!(fs::read_to_string(d.join("a.txt")).unwrap(), "mine");
    assert_eq!(fs::read_to_string(d.join("b.txt")).unwrap(), "shared");
    assert_ne!(
        fs::metadata(d.join("a.txt")).unwrap().ino(),
        fs::metadata(d.join("b.txt")).unwrap().ino()
    );
    // Without one in the way, the two names are one file again.
    let d = t.path().join("fresh");
    isoforge_ok(&["extract", img.to_str().unwrap(), "-C", d.to_str().unwrap()]);
    assert_eq!(
        fs::metadata(d.join("a.txt")).unwrap().ino(),
        fs::metadata(d.join("b.txt")).unwrap().ino()
    );
}
