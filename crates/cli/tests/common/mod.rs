//! Shared helpers of the CLI tests: oracles, a generated source tree, and
//! snapshots of host trees and of `ls --json` output for comparison.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod xorriso;

/// The isoforge binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_isoforge"))
}

/// Whether an oracle tool is on PATH. When it is missing the test should
/// skip, unless `ISOFORGE_REQUIRE_ORACLES=1`, under which this panics.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("oracle `{tool}` is required (ISOFORGE_REQUIRE_ORACLES=1) but not installed");
        }
        eprintln!("skipping: oracle `{tool}` is not installed");
    }
    found
}

/// Whether a file an oracle test needs exists (same rules as [`have`]).
pub fn have_file(path: &str) -> bool {
    let found = Path::new(path).exists();
    if !found {
        if std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("oracle file {path} is required (ISOFORGE_REQUIRE_ORACLES=1) but missing");
        }
        eprintln!("skipping: {path} is missing");
    }
    found
}

/// Runs a command, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs isoforge with arguments, returning its output (not checked).
pub fn isoforge(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Runs isoforge and expects success.
pub fn isoforge_ok(args: &[&str]) -> Output {
    run(Command::new(bin()).args(args))
}

/// `isoforge modify ORIG -o OUT --add ISO=HOST --rm RM`.
pub fn remaster_add_rm(orig: &Path, out: &Path, add: (&str, &Path), rm: &str) {
    isoforge_ok(&[
        "modify",
        orig.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--add",
        &format!("{}={}", add.0, add.1.display()),
        "--rm",
        rm,
    ]);
}

/// A file for remasters to add, written into `dir`.
pub fn autoinstall_yaml(dir: &Path) -> PathBuf {
    let p = dir.join("autoinstall.yaml");
    fs::write(&p, b"#cloud-config\nautoinstall: {version: 1}\n").unwrap();
    p
}

/// `isoforge diff --ignore-layout ORIG OUT` reports differences (exit 1)
/// in exactly one line per entry of `changes`, which starts with it (such
/// as `+ /added` or `- /removed`), besides the volume modification dates
/// (a changed image is dated anew).
pub fn assert_diff_lists(orig: &Path, out: &Path, changes: &[&str]) {
    let d = isoforge(&[
        "diff",
        "--ignore-layout",
        orig.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&d.stdout);
    assert_eq!(d.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !(l.starts_with("descriptor") && l.contains("modification")))
        .collect();
    assert_eq!(lines.len(), changes.len(), "{text}");
    for c in changes {
        assert!(lines.iter().any(|l| l.starts_with(c)), "{c}: {text}");
    }
}

/// One node of a tree, as compared between the source and an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub size: u64,
    pub mode: u32,
    pub mtime: i64,
    pub target: Option<String>,
    /// FNV-1a of the contents, for regular files.
    pub digest: Option<u64>,
}

pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Which attributes to compare.
#[derive(Debug, Clone, Copy)]
pub struct Compare {
    pub mode: bool,
    pub mtime: bool,
    pub dir_mtime: bool,
    pub content: bool,
}

impl Compare {
    pub const ALL: Compare = Compare {
        mode: true,
        mtime: true,
        dir_mtime: true,
        content: true,
    };
}

fn project(n: &Node, c: Compare) -> String {
    let mode = if c.mode && n.kind != 'l' {
        format!("{:o}", n.mode)
    } else {
        "-".into()
    };
    let mtime = if c.mtime && n.kind != 'l' && (c.dir_mtime || n.kind != 'd') {
        n.mtime.to_string()
    } else {
        "-".into()
    };
    let size = if n.kind == 'f' {
        n.size.to_string()
    } else {
        "-".into()
    };
    let digest = if c.content {
        n.digest.map(|d| format!("{d:x}")).unwrap_or_default()
    } else {
        String::new()
    };
    format!(
        "{} size={size} mode={mode} mtime={mtime} target={:?} {digest}",
        n.kind, n.target
    )
}

/// Asserts two snapshots are equal in the compared attributes, showing the
/// differing lines.
pub fn assert_same(
    what: &str,
    expected: &BTreeMap<String, Node>,
    actual: &BTreeMap<String, Node>,
    c: Compare,
) {
    let e: Vec<String> = expected
        .iter()
        .map(|(p, n)| format!("{p}: {}", project(n, c)))
        .collect();
    let a: Vec<String> = actual
        .iter()
        .map(|(p, n)| format!("{p}: {}", project(n, c)))
        .collect();
    if e != a {
        let missing: Vec<_> = e.iter().filter(|l| !a.contains(l)).collect();
        let extra: Vec<_> = a.iter().filter(|l| !e.contains(l)).collect();
        panic!(
            "{what}: trees differ\nexpected but not found:\n  {}\nfound but not expected:\n  {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  "),
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
}

/// Snapshot of a host tree, paths relative to `root` with a leading `/`.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().to_string_lossy());
            let ft = m.file_type();
            let node = if ft.is_symlink() {
                Node {
                    kind: 'l',
                    size: 0,
                    mode: 0,
                    mtime: m.mtime(),
                    target: Some(fs::read_link(&p).unwrap().to_string_lossy().into_owned()),
                    digest: None,
                }
            } else if ft.is_dir() {
                stack.push(p.clone());
                Node {
                    kind: 'd',
                    size: 0,
                    mode: m.permissions().mode() & 0o7777,
                    mtime: m.mtime(),
                    target: None,
                    digest: None,
                }
            } else {
                Node {
                    kind: 'f',
                    size: m.len(),
                    mode: m.permissions().mode() & 0o7777,
                    mtime: m.mtime(),
                    target: None,
                    digest: Some(fnv(&fs::read(&p).unwrap())),
                }
            };
            out.insert(rel, node);
        }
    }
    out
}

/// Groups of paths that are hard links of one another (two or more names).
pub fn hardlink_groups(root: &Path) -> Vec<Vec<String>> {
    let mut by_ino: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    for (p, n) in snapshot(root) {
        if n.kind == 'f' {
            let m = fs::symlink_metadata(root.join(p.trim_start_matches('/'))).unwrap();
            by_ino.entry((m.dev(), m.ino())).or_default().push(p);
        }
    }
    let mut g: Vec<Vec<String>> = by_ino.into_values().filter(|v| v.len() > 1).collect();
    g.sort();
    g
}

/// The entries of `isoforge ls --json` output
/// (`{"schema": 1, "entries": [...]}`).
pub fn ls_entries(json: &[u8]) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(v["schema"], 1, "{v}");
    v["entries"].as_array().unwrap().clone()
}

/// `isoforge ls --json IMG PATH`: the entry of PATH.
pub fn ls_entry(img: &Path, path: &str) -> serde_json::Value {
    let out = isoforge_ok(&["ls", "--json", img.to_str().unwrap(), path]).stdout;
    ls_entries(&out).remove(0)
}

/// A mode of `--json` output (an octal string such as `"0755"`) as a number.
pub fn json_mode(v: &serde_json::Value) -> u32 {
    u32::from_str_radix(v.as_str().unwrap(), 8).unwrap()
}

/// Snapshot of `isoforge ls -r --json` output (contents are not in JSON).
pub fn snapshot_json(json: &[u8]) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    for e in &ls_entries(json) {
        let kind = match e["type"].as_str().unwrap() {
            "file" => 'f',
            "dir" => 'd',
            "symlink" => 'l',
            other => panic!("unexpected type {other}"),
        };
        out.insert(
            e["path"].as_str().unwrap().to_string(),
            Node {
                kind,
                size: e["size"].as_u64().unwrap(),
                mode: json_mode(&e["mode"]),
                mtime: e["mtime_unix"].as_i64().unwrap_or(0),
                target: e["target"].as_str().map(str::to_string),
                digest: None,
            },
        );
    }
    out
}

/// Sets a path's times (a symbolic link's own) to `epoch`.
pub fn touch(p: &Path, epoch: i64) {
    run(Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(format!("@{epoch}"))
        .arg(p));
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// Options of the generated tree.
#[derive(Debug, Clone, Copy)]
pub struct TreeSpec {
    /// Names outside ASCII.
    pub unicode: bool,
    /// Names longer than 103 characters.
    pub long_names: bool,
    /// Directories nested deeper than 8 levels.
    pub deep: bool,
    /// Symbolic links.
    pub symlinks: bool,
    /// Hard links.
    pub hardlinks: bool,
}

impl TreeSpec {
    pub const FULL: TreeSpec = TreeSpec {
        unicode: true,
        long_names: true,
        deep: true,
        symlinks: true,
        hardlinks: true,
    };
    pub const PLAIN: TreeSpec = TreeSpec {
        unicode: false,
        long_names: false,
        deep: false,
        symlinks: false,
        hardlinks: false,
    };
}

/// Writes the generated test tree into `root` (which must not exist).
pub fn make_tree(root: &Path, spec: TreeSpec) {
    fs::create_dir_all(root).unwrap();
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        ("a.txt".into(), b"hello\n".to_vec(), 0o644),
        (
            "bin/tool.sh".into(),
            b"#!/bin/sh\necho tool\n".to_vec(),
            0o755,
        ),
        ("secret.key".into(), b"s3cret".to_vec(), 0o600),
        ("readonly.txt".into(), b"ro".to_vec(), 0o444),
        ("with space.txt".into(), b"spaces".to_vec(), 0o644),
        ("sizes/zero".into(), Vec::new(), 0o644),
        ("sizes/one".into(), bytes(1, 1), 0o644),
        ("sizes/s2047".into(), bytes(2, 2047), 0o644),
        ("sizes/s2048".into(), bytes(3, 2048), 0o644),
        ("sizes/s2049".into(), bytes(4, 2049), 0o644),
        ("sizes/s70001.bin".into(), bytes(5, 70001), 0o644),
        ("sizes/MixedCase.Data".into(), bytes(6, 300), 0o644),
        ("priv/inside.txt".into(), b"private".to_vec(), 0o640),
        ("a/b/c/d/e/f/g/leaf.txt".into(), b"eight".to_vec(), 0o644),
    ];
    if spec.unicode {
        files.push(("héllo wörld ✓.txt".into(), b"unicode".to_vec(), 0o644));
        files.push(("日本語/ファイル.txt".into(), b"cjk".to_vec(), 0o644));
        files.push(("emoji 😀.txt".into(), b"astral".to_vec(), 0o644));
    }
    if spec.long_names {
        files.push((format!("{}.txt", "L".repeat(150)), b"long".to_vec(), 0o644));
        files.push((
            format!("{}/x", "D".repeat(120)),
            b"in long dir".to_vec(),
            0o644,
        ));
    }
    if spec.deep {
        files.push((
            "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/deep.txt".into(),
            b"deep".to_vec(),
            0o644,
        ));
        files.push((
            "d1/d2/d3/d4/d5/d6/d7/d8/d9/side.txt".into(),
            b"side".to_vec(),
            0o644,
        ));
    }
    for (i, (p, data, mode)) in files.iter().enumerate() {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
        touch(&path, 1_600_000_000 + i as i64 * 3601);
    }
    fs::create_dir_all(root.join("empty")).unwrap();
    if spec.hardlinks {
        fs::hard_link(root.join("a.txt"), root.join("hard.txt")).unwrap();
        fs::hard_link(root.join("sizes/s2049"), root.join("bin/s2049.link")).unwrap();
    }
    if spec.symlinks {
        let links: [(&str, String); 6] = [
            ("sym", "a.txt".into()),
            ("bin/up", "../a.txt".into()),
            ("abs", "/etc/passwd".into()),
            ("dangling", "does/not/exist".into()),
            ("dirlink", "sizes".into()),
            // Longer than one SL entry, so it continues; genisoimage cannot write
            // targets over about 250 bytes (its entry length byte wraps).
            (
                "longlink",
                format!(
                    "{}/{}/../{}",
                    "x".repeat(100),
                    "y".repeat(90),
                    "z".repeat(40)
                ),
            ),
        ];
        for (i, (l, t)) in links.iter().enumerate() {
            std::os::unix::fs::symlink(t, root.join(l)).unwrap();
            touch(&root.join(l), 1_500_000_000 + i as i64);
        }
    }
    fs::set_permissions(root.join("priv"), fs::Permissions::from_mode(0o750)).unwrap();
    // Directory times last, deepest first, so creating children does not change them.
    let mut dirs: Vec<PathBuf> = snapshot(root)
        .iter()
        .filter(|(_, n)| n.kind == 'd')
        .map(|(p, _)| root.join(p.trim_start_matches('/')))
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for (i, d) in dirs.iter().enumerate() {
        touch(d, 1_700_000_000 + i as i64 * 61);
    }
}

/// Names of `isoinfo -l` (optionally with `-J`) listings: path -> is_dir,
/// with the version suffix and trailing dot removed.
pub fn isoinfo_names(img: &Path, joliet: bool) -> BTreeMap<String, bool> {
    let mut cmd = Command::new("isoinfo");
    cmd.arg("-l").arg("-i").arg(img);
    if joliet {
        cmd.arg("-J").arg("-j").arg("iso8859-1");
    }
    let out = run(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dir = String::new();
    let mut names = BTreeMap::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("Directory listing of ") {
            dir = d.trim_end().to_string();
            continue;
        }
        let Some(pos) = line.find("]  ") else {
            continue;
        };
        let name = line[pos + 3..]
            .strip_suffix(' ')
            .unwrap_or(&line[pos + 3..]);
        if name == "." || name == ".." {
            continue;
        }
        let mut name = name.to_string();
        if let Some(p) = name.rfind(';') {
            name.truncate(p);
        }
        if name.ends_with('.') && name.len() > 1 {
            name.pop();
        }
        names.insert(format!("{dir}{name}"), line.starts_with('d'));
    }
    names
}

/// The same from `isoforge ls -r --json --view VIEW`.
pub fn our_names(img: &Path, view: &str) -> BTreeMap<String, bool> {
    let out = isoforge_ok(&["ls", "-r", "--json", "--view", view, img.to_str().unwrap()]);
    ls_entries(&out.stdout)
        .iter()
        .map(|e| (e["path"].as_str().unwrap().to_string(), e["type"] == "dir"))
        .collect()
}

/// A temporary directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("isoforge-test-")
        .tempdir()
        .unwrap()
}

/// pycdlib's listing of one name space: path -> is_dir.
pub fn pycdlib_names(img: &Path, space: &str) -> BTreeMap<String, bool> {
    let script = r#"
import json, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
kw = {sys.argv[2] + "_path": "/"}
out = {}
for root, dirs, files in iso.walk(**kw):
    base = root.rstrip("/")
    for d in dirs:
        out[base + "/" + d] = True
    for f in files:
        name = f
        if sys.argv[2] == "iso":
            name = name.split(";")[0]
            if name.endswith(".") and len(name) > 1:
                name = name[:-1]
        out[base + "/" + name] = False
print(json.dumps(out))
"#;
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(img)
        .arg(space));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Whether pycdlib can be imported (same rules as [`have`]).
pub fn have_pycdlib() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pycdlib"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("oracle pycdlib is required (ISOFORGE_REQUIRE_ORACLES=1) but not installed");
        }
        eprintln!("skipping: pycdlib is not installed");
    }
    ok
}

/// A sparse file of `size` bytes, zero but for `marks` (offset, bytes).
pub fn sparse_with_marks(path: &Path, size: u64, marks: &[(u64, &[u8])]) {
    use std::os::unix::fs::FileExt;
    let f = fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    for (off, m) in marks {
        f.write_all_at(m, *off).unwrap();
    }
}

/// Asserts `path` is `size` bytes with `marks` where they were written.
pub fn assert_marks(path: &Path, size: u64, marks: &[(u64, &[u8])]) {
    use std::os::unix::fs::FileExt;
    let f = fs::File::open(path).unwrap();
    assert_eq!(f.metadata().unwrap().len(), size, "{}", path.display());
    for (off, m) in marks {
        let mut b = vec![0u8; m.len()];
        f.read_exact_at(&mut b, *off).unwrap();
        assert_eq!(&b[..], *m, "{}: marker at {off}", path.display());
    }
}

/// `m` without `prefix` and the paths below it.
pub fn without(mut m: BTreeMap<String, Node>, prefix: &str) -> BTreeMap<String, Node> {
    m.retain(|k, _| !(k == prefix || k.starts_with(&format!("{prefix}/"))));
    m
}

/// Whether the tests run as root (extractions keep owners' bits only then).
pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.starts_with(b"0\n")
}

/// `isoforge ls -r --json` lists `expected` (contents aside), and
/// `isoforge extract -p` into `out` gives it back whole.
pub fn check_isoforge_reads(img: &Path, expected: &BTreeMap<String, Node>, out: &Path, what: &str) {
    let img_s = img.to_str().unwrap();
    let listed = snapshot_json(&isoforge_ok(&["ls", "-r", "--json", img_s]).stdout);
    assert_same(
        &format!("isoforge ls {what}"),
        expected,
        &listed,
        Compare {
            content: false,
            ..Compare::ALL
        },
    );
    isoforge_ok(&["extract", "-p", img_s, "-C", out.to_str().unwrap()]);
    assert_same(
        &format!("isoforge extract {what}"),
        expected,
        &snapshot(out),
        Compare::ALL,
    );
}

/// xorriso extracts `img` into `out` (a new directory) as `expected`; it also
/// shows the relocation directory, as it does for genisoimage's images. And
/// `-check_media` finds every block good.
pub fn check_xorriso_reads(
    img: &Path,
    expected: &BTreeMap<String, Node>,
    out: &Path,
    c: Compare,
    what: &str,
) {
    let img_s = img.to_str().unwrap();
    fs::create_dir(out).unwrap();
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev", img_s, "-extract", "/"])
        .arg(out));
    let got = without(without(snapshot(out), "/rr_moved"), "/.rr_moved");
    assert_same(&format!("xorriso -osirrox {what}"), expected, &got, c);
    let o = run(Command::new("xorriso").args(["-indev", img_s, "-check_media", "--"]));
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        text.contains("+ good") && !text.contains("- bad") && !text.contains("FAILURE"),
        "{what}: check_media: {text}"
    );
}

/// bsdtar extracts `img` into `out` (a new directory) as `expected`.
pub fn check_bsdtar_reads(
    img: &Path,
    expected: &BTreeMap<String, Node>,
    out: &Path,
    c: Compare,
    what: &str,
) {
    fs::create_dir(out).unwrap();
    run(Command::new("bsdtar")
        .arg("xpf")
        .arg(img)
        .arg("-C")
        .arg(out));
    assert_same(&format!("bsdtar {what}"), expected, &snapshot(out), c);
}

/// PATH with the sbin directories added, where mkfs.vfat, fsck.fat, fdisk,
/// sfdisk and sgdisk live.
pub fn sbin_path() -> String {
    format!(
        "{}:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A command for a tool that may live in sbin.
pub fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.env("PATH", sbin_path());
    c
}

/// Whether a tool is on PATH or in sbin (skip rules of [`have`]).
pub fn have_tool(name: &str) -> bool {
    let found = tool("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    // When missing, `have` skips or fails under ISOFORGE_REQUIRE_ORACLES.
    found || have(name)
}
