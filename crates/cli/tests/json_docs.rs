//! Every `--json` output carries `"schema": 1`, and its keys are exactly the
//! keys of the example docs/json.md gives for the command: every key the
//! program writes is documented, and every documented key is written
//! wherever the object that holds it is present.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

const ISOLINUX: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";

/// The example of each command in docs/json.md: the ```json block after
/// each "## `NAME`" heading.
fn doc_examples() -> BTreeMap<String, Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md");
    let text = fs::read_to_string(&path).unwrap();
    let mut out = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut block: Option<String> = None;
    for line in text.lines() {
        if let Some(b) = block.as_mut() {
            if line == "```" {
                let v: Value = serde_json::from_str(b)
                    .unwrap_or_else(|e| panic!("docs/json.md, {name:?}: {e}"));
                out.insert(name.take().expect("a json block under a heading"), v);
                block = None;
            } else {
                b.push_str(line);
                b.push('\n');
            }
        } else if let Some(h) = line.strip_prefix("## `") {
            name = Some(h.trim_end_matches('`').to_string());
        } else if line == "```json" && name.is_some() {
            block = Some(String::new());
        }
    }
    out
}

/// Key paths (`a.b`, `a.list[].c`) of a JSON value, and the paths that hold
/// an object (`""` for the top level).
fn key_paths(v: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(v: &Value, at: &str, keys: &mut BTreeSet<String>, objects: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                objects.insert(at.to_string());
                for (k, x) in m {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    keys.insert(p.clone());
                    walk(x, &p, keys, objects);
                }
            }
            Value::Array(a) => {
                for x in a {
                    walk(x, &format!("{at}[]"), keys, objects);
                }
            }
            _ => {}
        }
    }
    let (mut keys, mut objects) = (BTreeSet::new(), BTreeSet::new());
    walk(v, "", &mut keys, &mut objects);
    (keys, objects)
}

fn parent(p: &str) -> &str {
    p.rfind('.').map_or("", |i| &p[..i])
}

/// Compares the output of `what` with its documented example.
fn check(what: &str, real: &Value, doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if real["schema"] != 1 {
        problems.push(format!("{what}: no \"schema\": 1 at the top level"));
    }
    let (doc_keys, _) = key_paths(doc);
    let (real_keys, real_objects) = key_paths(real);
    for k in real_keys.difference(&doc_keys) {
        problems.push(format!("{what}: `{k}` is written but not documented"));
    }
    for k in doc_keys.difference(&real_keys) {
        if real_objects.contains(parent(k)) {
            problems.push(format!("{what}: `{k}` is documented but not written"));
        }
    }
    problems
}

fn json_of(args: &[&str]) -> Value {
    let o = isoforge(args);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// Subcommands whose help offers `--json`.
fn commands_with_json() -> BTreeSet<String> {
    let help = String::from_utf8(isoforge_ok(&["--help"]).stdout).unwrap();
    let mut out = BTreeSet::new();
    let commands = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "));
    // Continuation lines of a wrapped description are indented further.
    for line in commands.filter(|l| !l.starts_with("   ")) {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if name == "help" {
            continue;
        }
        let sub = String::from_utf8(isoforge_ok(&[name, "--help"]).stdout).unwrap();
        if sub.lines().any(|l| l.trim_start().starts_with("--json")) {
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn every_json_output_matches_docs_json_md() {
    let docs = doc_examples();
    let documented: BTreeSet<String> = docs.keys().cloned().collect();
    assert_eq!(
        documented,
        commands_with_json(),
        "docs/json.md must have a section for each command with --json"
    );
    if !have_file(ISOLINUX) || !have_file(ISOHDPFX) {
        return;
    }
    let t = tempdir();
    let d = t.path();
    // An image with every part `info` describes: El Torito for BIOS and
    // UEFI, an isohybrid MBR, a GPT, an Apple partition map, an implanted
    // MD5, Rock Ridge, Joliet, files, a directory and a symbolic link.
    let src = d.join("src");
    fs::create_dir_all(src.join("isolinux")).unwrap();
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::copy(ISOLINUX, src.join("isolinux/isolinux.bin")).unwrap();
    fs::write(src.join("a.txt"), b"hello\n").unwrap();
    fs::write(src.join("sub/b.txt"), b"b\n").unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    let esp = d.join("esp/EFI/BOOT");
    fs::create_dir_all(&esp).unwrap();
    fs::write(esp.join("BOOTX64.EFI"), b"not really an EFI program").unwrap();
    let img = d.join("a.iso");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    isoforge_ok(&[
        "create",
        "-q",
        "-o",
        &s(&img),
        "--boot-bios",
        "/isolinux/isolinux.bin",
        "--boot-info-table",
        "--system-area",
        ISOHDPFX,
        "--efi-dir",
        &s(&d.join("esp")),
        "--gpt",
        "--apm",
        &s(&src),
    ]);
    isoforge_ok(&["implant-md5", "-q", &s(&img)]);
    // A second image that differs in every way `diff` reports.
    let other = d.join("other");
    fs::create_dir_all(other.join("sub")).unwrap();
    fs::write(other.join("a.txt"), b"changed\n").unwrap();
    fs::write(other.join("new.txt"), b"new\n").unwrap();
    fs::write(other.join("link"), b"now a file\n").unwrap();
    fs::create_dir_all(other.join("isolinux")).unwrap();
    fs::copy(ISOLINUX, other.join("isolinux/isolinux.bin")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        other.join("isolinux/isolinux.bin"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let img2 = d.join("b.iso");
    isoforge_ok(&["create", "-q", "-o", &s(&img2), "-V", "OTHER", &s(&other)]);
    // A seed whose meta-data spells a key as cloud-init does not read it,
    // so that `findings` has an entry.
    let meta = d.join("meta-data");
    fs::write(
        &meta,
        b"instance-id: i-1\nlocal-hostname: h\ninstance_id: i-1\n",
    )
    .unwrap();
    let seed = d.join("seed.iso");
    isoforge_ok(&["seed", "-q", "-o", &s(&seed), "--meta-data", &s(&meta)]);
    let sums = d.join("SHA256SUMS");
    let sum_line = String::from_utf8(isoforge_ok(&["checksum", &s(&img)]).stdout).unwrap();
    fs::write(&sums, sum_line).unwrap();

    let mut checksum_stdin = Command::new(bin())
        .args(["checksum", "--json", "--algo", "sha256,md5", &s(&img), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    checksum_stdin
        .stdin
        .take()
        .unwrap()
        .write_all(b"some bytes")
        .unwrap();
    let checksum: Value =
        serde_json::from_slice(&checksum_stdin.wait_with_output().unwrap().stdout).unwrap();

    let outputs: Vec<(&str, Value)> = vec![
        ("info", json_of(&["info", "--json", &s(&img)])),
        ("ls", json_of(&["ls", "-R", "--json", &s(&img)])),
        ("checksum", checksum),
        (
            "verify",
            json_of(&[
                "verify",
                "--json",
                &s(&img),
                "--sums",
                &s(&sums),
                "--implanted-md5",
            ]),
        ),
        ("diff", json_of(&["diff", "--json", &s(&img), &s(&img2)])),
        (
            "extract",
            json_of(&["extract", "--json", &s(&img), "-C", &s(&d.join("x"))]),
        ),
        ("seed", json_of(&["seed", "--json", "--inspect", &s(&seed)])),
    ];
    // `write --list` lists a loop device (with its mount) where loop
    // devices can be made; elsewhere its empty list is checked.
    let stick = LoopDisk::new(d);
    let mut outputs = outputs;
    outputs.push((
        "write",
        json_of(&["write", "--list", "--allow-loop", "--json"]),
    ));
    if let Some(stick) = &stick {
        let devices = outputs.last().unwrap().1["devices"].clone();
        assert!(
            devices
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["node"] == stick.dev.as_str()),
            "{devices}"
        );
    }
    let mut problems = Vec::new();
    // The `udf` object of `info` on a UDF bridge, where every key has a
    // value.
    if have("genisoimage") {
        let bridge = d.join("udf.iso");
        run(Command::new("genisoimage")
            .args(["-quiet", "-udf", "-R", "-J", "-o"])
            .arg(&bridge)
            .arg(&src));
        let v = json_of(&["info", "--json", &s(&bridge)]);
        assert_eq!(v["udf"]["readable"], true, "{v}");
        let only_udf = |v: &Value| serde_json::json!({"schema": 1, "udf": v["udf"]});
        problems.extend(check(
            "info of a UDF bridge",
            &only_udf(&v),
            &only_udf(&docs["info"]),
        ));
    }
    for (what, real) in &outputs {
        problems.extend(check(what, real, &docs[*what]));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The conventions: octal modes, RFC 3339 times, numbers for sizes.
    let ls = &outputs[1].1["entries"];
    let a = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/a.txt")
        .unwrap();
    assert!(
        a["mode"]
            .as_str()
            .is_some_and(|m| m.len() == 4 && m.starts_with('0')),
        "{a}"
    );
    assert!(
        a["size"].is_u64() && a["mtime"].as_str().unwrap().contains('T'),
        "{a}"
    );
    let files = outputs[4].1["differences"]["files"].as_array().unwrap();
    for kind in ["added", "removed", "type", "content", "metadata"] {
        assert!(
            files.iter().any(|f| f["change"] == kind),
            "{kind}: {files:?}"
        );
    }
}

/// A loop device over a small file holding a mounted FAT file system,
/// detached (and unmounted) on drop; `None` where loop devices or mounts
/// are not permitted. (Partitions are not made: not every kernel reads
/// partition tables of loop devices.)
struct LoopDisk {
    dev: String,
    mnt: std::path::PathBuf,
}

impl LoopDisk {
    fn new(dir: &Path) -> Option<LoopDisk> {
        let file = dir.join("stick.img");
        fs::File::create(&file).unwrap().set_len(16 << 20).unwrap();
        let o = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .ok()?;
        if !o.status.success() {
            eprintln!("no loop device: {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        let disk = LoopDisk {
            dev: String::from_utf8(o.stdout).unwrap().trim().to_string(),
            mnt: dir.join("stick-mnt"),
        };
        fs::create_dir_all(&disk.mnt).unwrap();
        let ok = Command::new("mkfs.vfat")
            .arg(&disk.dev)
            .output()
            .is_ok_and(|o| o.status.success())
            && Command::new("mount")
                .arg(&disk.dev)
                .arg(&disk.mnt)
                .output()
                .is_ok_and(|o| o.status.success());
        ok.then_some(disk)
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).output();
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).output();
    }
}
