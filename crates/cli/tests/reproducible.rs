//! The one time rule of `create` and `modify`: with `SOURCE_DATE_EPOCH` or
//! `--reproducible` the image depends only on what the inputs hold (not on
//! when they were copied or touched), what an image being remastered
//! records is kept, and without them the volume is dated when it is made.
//! Judged by comparing bytes, and by xorriso (volume dates) and 7-Zip (file
//! times) rather than by our own reader alone.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::xorriso::volume_dates;
use common::*;

/// SOURCE_DATE_EPOCH of the `modify` runs: 2020-09-13 12:26:40 UTC, earlier
/// than every time the base image records.
const SDE: i64 = 1_600_000_000;
/// Modification times of the base image's files (2022).
const BASE_TIME: i64 = 1_650_000_000;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Waits until the clock's whole second is later than `secs`.
fn wait_past(secs: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while now_secs() <= secs {
        assert!(Instant::now() < deadline, "the clock does not move");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ctime(p: &Path) -> i64 {
    fs::symlink_metadata(p).unwrap().ctime()
}

/// `cp -a from to`: the same contents, names, modes and modification
/// times, other change times and inode numbers.
fn cp_a(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// isoforge with `args`, with `SOURCE_DATE_EPOCH` set to `epoch` or unset.
fn isoforge_env(epoch: Option<i64>, args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.env_remove("SOURCE_DATE_EPOCH").args(args);
    if let Some(e) = epoch {
        c.env("SOURCE_DATE_EPOCH", e.to_string());
    }
    run(&mut c)
}

/// Modification times of every entry as 7-Zip lists them, by path.
fn seven_zip_times(img: &Path) -> BTreeMap<String, String> {
    let out = run(Command::new("7z")
        .env("TZ", "UTC")
        .args(["l", "-slt"])
        .arg(img));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut times = BTreeMap::new();
    let mut path = None;
    // Entries follow the "----------" line, one block each.
    for l in text.split("----------").nth(1).unwrap_or_default().lines() {
        if let Some(p) = l.strip_prefix("Path = ") {
            path = Some(format!("/{p}"));
        } else if let Some(t) = l.strip_prefix("Modified = ") {
            if let Some(p) = path.take() {
                times.insert(p, t.trim().to_string());
            }
        }
    }
    times
}

/// `secs` as 7-Zip shows modification times.
fn seven_zip_form(secs: i64) -> String {
    let out = run(Command::new("date")
        .env("TZ", "UTC")
        .arg("-d")
        .arg(format!("@{secs}"))
        .arg("+%Y-%m-%d %H:%M:%S"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `isoforge ls -r -l` times ("YYYY-MM-DD HH:MM") by path.
fn ls_times(img: &Path) -> BTreeMap<String, String> {
    let out = isoforge_ok(&["ls", "-r", "-l", img.to_str().unwrap()]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[7].to_string(), format!("{} {}", f[5], f[6]))
        })
        .collect()
}

#[test]
fn create_reproducible_from_two_cp_a_copies() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::FULL);
    let c1 = t.path().join("c1");
    let c2 = t.path().join("c2");
    cp_a(&src, &c1);
    // The second copy is made a second later: every change time differs.
    wait_past(ctime(&c1).max(ctime(&c1.join("a.txt"))));
    cp_a(&src, &c2);
    assert!(ctime(&c2.join("a.txt")) > ctime(&c1.join("a.txt")));
    let (i1, i2) = (t.path().join("1.iso"), t.path().join("2.iso"));
    for (c, i) in [(&c1, &i1), (&c2, &i2)] {
        isoforge_env(
            None,
            &[
                "create",
                "-q",
                "--reproducible",
                "-o",
                i.to_str().unwrap(),
                c.to_str().unwrap(),
            ],
        );
    }
    assert!(
        fs::read(&i1).unwrap() == fs::read(&i2).unwrap(),
        "two cp -a copies give different images:\n{}",
        String::from_utf8_lossy(
            &isoforge(&["diff", i1.to_str().unwrap(), i2.to_str().unwrap()]).stdout
        )
    );
    // The fixed time is the newest modification time of the sources.
    let newest = snapshot(&src)
        .values()
        .map(|n| n.mtime)
        .chain([fs::metadata(&src).unwrap().mtime()])
        .max()
        .unwrap();
    assert_eq!(volume_dates(&i1), (newest, newest));
    // Files keep their times, modes and contents (xorriso extracts them).
    check_xorriso_reads(
        &i1,
        &snapshot(&src),
        &t.path().join("x"),
        Compare {
            dir_mtime: false,
            ..Compare::ALL
        },
        "cp -a copy",
    );
}

#[test]
fn volume_dates_are_the_time_of_creation() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    make_tree(&src, TreeSpec::PLAIN);
    // The clock is past every time the sources hold, the root's change
    // time included.
    let m = fs::metadata(&src).unwrap();
    wait_past(m.ctime().max(m.mtime()));
    let img = t.path().join("now.iso");
    let before = now_secs();
    isoforge_env(
        None,
        &[
            "create",
            "-q",
            "-o",
            img.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    );
    let after = now_secs();
    let (created, modified) = volume_dates(&img);
    for (what, d) in [("creation", created), ("modification", modified)] {
        assert!(
            (before..=after).contains(&d),
            "{what} date {d} is not the time of creation ({before}..={after})"
        );
    }
}

/// A base image made by xorriso whose files are dated [`BASE_TIME`] and
/// later, and the inputs of a remaster: a file, a directory with a file,
/// each with its own mode.
fn base_and_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let src = dir.join("base");
    fs::create_dir_all(src.join("docs")).unwrap();
    fs::write(src.join("readme.txt"), b"base\n").unwrap();
    fs::write(src.join("docs/guide.txt"), b"guide\n").unwrap();
    for (i, p) in ["readme.txt", "docs/guide.txt", "docs", ""]
        .iter()
        .enumerate()
    {
        touch(&src.join(p), BASE_TIME + i as i64 * 100);
    }
    let base = dir.join("base.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r", "-J", "-o"])
        .arg(&base)
        .arg(&src));
    let inputs = dir.join("in");
    fs::create_dir_all(inputs.join("extra")).unwrap();
    fs::write(inputs.join("ks.cfg"), b"install\n").unwrap();
    fs::write(inputs.join("extra/post.sh"), b"#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(inputs.join("ks.cfg"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::set_permissions(
        inputs.join("extra/post.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    (base, inputs)
}

/// `modify base -o out`, adding `inputs/ks.cfg` and `inputs/extra` and
/// making `/new/sub`.
fn remaster(epoch: Option<i64>, reproducible: bool, base: &Path, inputs: &Path, out: &Path) {
    let ks = format!("/ks.cfg={}", inputs.join("ks.cfg").display());
    let extra = format!("/extra={}", inputs.join("extra").display());
    let mut args = vec![
        "modify",
        "-q",
        base.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--add",
        &ks,
        "--add",
        &extra,
        "--mkdir",
        "/new/sub",
    ];
    if reproducible {
        args.push("--reproducible");
    }
    isoforge_env(epoch, &args);
}

/// Runs the same remaster three times: on `inputs`, on `inputs` after
/// touching every file, and on a `cp -a` copy made a second later; asserts
/// the results are the same bytes and returns the first.
fn remaster_thrice(t: &Path, epoch: Option<i64>, reproducible: bool) -> (PathBuf, PathBuf) {
    let (base, inputs) = base_and_inputs(t);
    let copy = t.join("in-copy");
    let m1 = t.join("m1.iso");
    remaster(epoch, reproducible, &base, &inputs, &m1);
    wait_past(ctime(&inputs.join("ks.cfg")).max(now_secs()));
    cp_a(&inputs, &copy);
    run(Command::new("touch")
        .arg(inputs.join("ks.cfg"))
        .arg(inputs.join("extra/post.sh")));
    let m2 = t.join("m2.iso");
    remaster(epoch, reproducible, &base, &inputs, &m2);
    let m3 = t.join("m3.iso");
    remaster(epoch, reproducible, &base, &copy, &m3);
    let first = fs::read(&m1).unwrap();
    for (what, other) in [
        ("after touching the inputs", &m2),
        ("from a cp -a copy", &m3),
    ] {
        assert!(
            first == fs::read(other).unwrap(),
            "the remaster differs {what}:\n{}",
            String::from_utf8_lossy(
                &isoforge(&["diff", m1.to_str().unwrap(), other.to_str().unwrap()]).stdout
            )
        );
    }
    (base, m1)
}

const ADDED: [&str; 5] = ["/ks.cfg", "/extra", "/extra/post.sh", "/new", "/new/sub"];

#[test]
fn modify_with_source_date_epoch_depends_only_on_what_the_inputs_hold() {
    if !have("xorriso") || !have("7z") {
        return;
    }
    let t = tempdir();
    let (base, out) = remaster_thrice(t.path(), Some(SDE), false);
    // What was added or made is dated SOURCE_DATE_EPOCH (its times were
    // all later), by 7-Zip and by our ls -l.
    let (before, after) = (seven_zip_times(&base), seven_zip_times(&out));
    let sde = seven_zip_form(SDE);
    for p in ADDED {
        assert_eq!(after.get(p), Some(&sde), "{p} (7-Zip)");
    }
    let ls = ls_times(&out);
    let limit = &sde[..16];
    for p in ADDED {
        assert!(
            ls[p].as_str() <= limit,
            "{p}: {} is later than {limit}",
            ls[p]
        );
    }
    // What was there keeps its recorded times, though they are later.
    for p in ["/readme.txt", "/docs", "/docs/guide.txt"] {
        assert_eq!(after.get(p), before.get(p), "{p} (7-Zip)");
        assert!(after[p] > sde, "{p}: {}", after[p]);
    }
    // The volume keeps its creation date and is modified at the fixed time.
    let (created, _) = volume_dates(&base);
    assert_eq!(volume_dates(&out), (created, SDE));
}

#[test]
fn modify_reproducible_takes_the_time_from_the_image() {
    if !have("xorriso") || !have("7z") {
        return;
    }
    let t = tempdir();
    let (base, out) = remaster_thrice(t.path(), None, true);
    // The fixed time is the newest modification time the image's tree
    // records: the root's.
    let newest = BASE_TIME + 300;
    let (before, after) = (seven_zip_times(&base), seven_zip_times(&out));
    for p in ADDED {
        assert_eq!(after.get(p), Some(&seven_zip_form(newest)), "{p} (7-Zip)");
    }
    for p in ["/readme.txt", "/docs", "/docs/guide.txt"] {
        assert_eq!(after.get(p), before.get(p), "{p} (7-Zip)");
    }
    let (created, _) = volume_dates(&base);
    assert_eq!(volume_dates(&out), (created, newest));
}
