//! UDF read by isoforge against implementations we did not write: 7-Zip's
//! UDF view of `genisoimage -udf` bridges (one with a file over 4 GiB) and
//! pycdlib UDF 2.60 bridges, listed and extracted, names, sizes, times and
//! bytes compared; `mkudffs` volumes of several revisions and block sizes
//! checked against `udfinfo`, those of 512-byte blocks also filled by
//! udfclient and compared with 7-Zip (udfclient reads no volume of 2048-byte
//! blocks in a file, so those stay empty); a
//! Windows-install-media-like bridge; a UDF 2.50 volume with a metadata
//! partition built from the specification; and hostile volumes, which must
//! end in exit status 2 without writing outside the destination.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../isoforge/tests/hostile/udf.rs"]
mod udf;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Days from 1970-01-01 to a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// `2026-12-07 13:39:08.000000` (UTC) as Unix seconds.
fn parse_7z_time(s: &str) -> i64 {
    let n: Vec<i64> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|x| !x.is_empty())
        .take(6)
        .map(|x| x.parse().unwrap())
        .collect();
    days_from_civil(n[0], n[1], n[2]) * 86_400 + n[3] * 3600 + n[4] * 60 + n[5]
}

/// 7-Zip's UDF view of an image: `7z l -slt -tudf`, times in UTC.
fn seven_zip_list(img: &Path) -> BTreeMap<String, Node> {
    let o = run(Command::new("7z")
        .env("TZ", "UTC")
        .args(["l", "-slt", "-tudf"])
        .arg(img));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let body = text.split("----------").nth(1).unwrap_or_default();
    let mut out = BTreeMap::new();
    for block in body.split("\n\n") {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = ")))
                .map(str::to_string)
        };
        let Some(path) = field("Path") else { continue };
        let dir = field("Folder").as_deref() == Some("+");
        out.insert(
            format!("/{path}"),
            Node {
                kind: if dir { 'd' } else { 'f' },
                size: field("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
                mode: 0,
                mtime: field("Modified").map_or(0, |t| parse_7z_time(&t)),
                target: None,
                digest: None,
            },
        );
    }
    out
}

/// `isoforge ls -r --json` of a view, without modes and with symbolic links
/// as 7-Zip shows them (files).
fn our_list(img: &Path, view: &str) -> BTreeMap<String, Node> {
    snapshot_json(
        &isoforge_ok(&["ls", "-r", "--json", "--view", view, img.to_str().unwrap()]).stdout,
    )
}

const LISTING: Compare = Compare {
    mode: false,
    mtime: true,
    dir_mtime: true,
    content: false,
};

/// Lists and extracts `img` with isoforge's UDF view and with 7-Zip, and
/// compares names, kinds, sizes, times and bytes.
fn agrees_with_7z(img: &Path, t: &Path, what: &str) -> BTreeMap<String, Node> {
    let ours = our_list(img, "udf");
    let theirs = seven_zip_list(img);
    assert_same(&format!("{what}: ls vs 7z l"), &theirs, &ours, LISTING);
    let (a, b) = (t.join(format!("{what}-ours")), t.join(format!("{what}-7z")));
    isoforge_ok(&[
        "extract",
        "--view",
        "udf",
        img.to_str().unwrap(),
        "-C",
        a.to_str().unwrap(),
    ]);
    run(Command::new("7z")
        .args(["x", "-tudf", "-y"])
        .arg(format!("-o{}", b.display()))
        .arg(img));
    assert_same(
        &format!("{what}: extract vs 7z x"),
        &snapshot(&b),
        &snapshot(&a),
        Compare {
            mode: false,
            mtime: true,
            dir_mtime: false,
            content: true,
        },
    );
    ours
}

fn have_all(tools: &[&str]) -> bool {
    tools.iter().all(|t| have(t))
}

/// A tree with the cases that matter to a reader: empty and block-sized
/// files, a file of many blocks, nesting, names with spaces and
/// non-ASCII characters, a hard link.
fn source_tree(root: &Path) {
    let d = root.join("dir/sub dir");
    fs::create_dir_all(&d).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("empty.txt"), b"").unwrap();
    fs::write(root.join("one"), b"1").unwrap();
    fs::write(root.join("block.bin"), bytes(1, 2048)).unwrap();
    fs::write(root.join("dir/big.bin"), bytes(2, 3_000_001)).unwrap();
    fs::write(d.join("café näme.txt"), b"unicode\n").unwrap();
    fs::hard_link(root.join("one"), root.join("dir/one-again")).unwrap();
    for p in [
        "empty.txt",
        "one",
        "block.bin",
        "dir/big.bin",
        "dir/sub dir/café näme.txt",
        "dir/sub dir",
        "dir",
        "empty",
    ] {
        touch(&root.join(p), 1_600_000_000);
    }
}

#[test]
fn genisoimage_udf_bridge_agrees_with_7z() {
    if !have_all(&["genisoimage", "7z"]) {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    source_tree(&src);
    let img = t.path().join("g.iso");
    run(Command::new("genisoimage")
        .args(["-quiet", "-udf", "-J", "-input-charset", "utf-8", "-o"])
        .arg(&img)
        .arg(&src));
    let ours = agrees_with_7z(&img, t.path(), "genisoimage");
    // And against the source: every file's bytes, sizes and times.
    let out = t.path().join("out");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ]);
    assert_same(
        "genisoimage: extract (auto) vs source",
        &snapshot(&src),
        &snapshot(&out),
        Compare {
            mode: false,
            mtime: true,
            dir_mtime: false,
            content: true,
        },
    );
    assert_eq!(ours["/dir/big.bin"].size, 3_000_001);
    // Without Rock Ridge, auto prefers UDF to Joliet.
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["default_view"], "udf", "{v}");
    assert_eq!(v["udf"]["revision"], "1.02");
    assert_eq!(v["udf"]["readable"], true);
}

#[test]
fn genisoimage_file_over_4_gib_shows_its_real_size() {
    if !have_all(&["genisoimage", "7z"]) {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let size = (4u64 << 30) + 12_345_678;
    let marks: &[(u64, &[u8])] = &[(0, b"HEAD"), (1 << 32, b"AT4G"), (size - 4, b"TAIL")];
    sparse_with_marks(&src.join("huge.bin"), size, marks);
    fs::write(src.join("small.txt"), b"small\n").unwrap();
    let img = t.path().join("big.iso");
    // ISO 9660 (with Rock Ridge) records the size modulo 2^32; UDF the real
    // one. The image is written sparse.
    run(Command::new("sh").arg("-c").arg(format!(
        "genisoimage -quiet -udf -R -allow-limited-size -o - '{}' | cp --sparse=always /dev/stdin '{}'",
        src.display(),
        img.display()
    )));
    let img_s = img.to_str().unwrap();
    let rr = our_list(&img, "rockridge");
    assert_eq!(rr["/huge.bin"].size, size % (1 << 32));
    let auto = snapshot_json(&isoforge_ok(&["ls", "-r", "--json", img_s]).stdout);
    assert_eq!(
        auto["/huge.bin"].size, size,
        "--view auto shows the real size"
    );
    let theirs = seven_zip_list(&img);
    assert_same("ls vs 7z l", &theirs, &our_list(&img, "udf"), LISTING);
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img_s]).stdout).unwrap();
    assert_eq!(v["default_view"], "udf");
    let why = v["default_view_reason"].as_str().unwrap();
    assert!(
        why.contains("/huge.bin") && why.contains(&size.to_string()),
        "{why}"
    );
    let text = String::from_utf8(isoforge_ok(&["info", img_s]).stdout).unwrap();
    assert!(
        text.contains("View           : udf, because /huge.bin has"),
        "{text}"
    );
    // The data: extracted by isoforge (auto view), and the tail as 7-Zip
    // reads it.
    let out = t.path().join("out");
    isoforge_ok(&["extract", img_s, "-C", out.to_str().unwrap()]);
    assert_marks(&out.join("huge.bin"), size, marks);
    let o = run(Command::new("sh")
        .arg("-c")
        .arg(format!("7z e -tudf -so '{img_s}' huge.bin | tail -c 4")));
    assert_eq!(o.stdout, b"TAIL");
    let o = isoforge_ok(&["cat", img_s, "/small.txt"]);
    assert_eq!(o.stdout, b"small\n");
}

const PYCDLIB_SCRIPT: &str = r#"
import io, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.new(udf='2.60', joliet=3, rock_ridge='1.09')
def add(iso_path, data, rr, joliet, udf):
    iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=rr, joliet_path=joliet, udf_path=udf)
add('/README.TXT;1', b'read me\n', 'README.TXT', '/README.TXT', '/README.TXT')
iso.add_directory('/DIR', rr_name='dir', joliet_path='/dir', udf_path='/dir')
iso.add_directory('/DIR/SUB', rr_name='sub', joliet_path='/dir/sub', udf_path='/dir/sub')
add('/DIR/DATA.BIN;1', bytes(range(256)) * 4000 + b'x', 'data.bin', '/dir/data.bin', '/dir/data.bin')
add('/DIR/SUB/EMPTY.;1', b'', 'empty', '/dir/sub/empty', '/dir/sub/empty')
iso.add_hard_link(iso_old_path='/DIR/DATA.BIN;1', udf_new_path='/dir/data-again.bin')
if sys.argv[2] == 'link':
    iso.add_symlink(symlink_path='/DIR/LINK.;1', rr_symlink_name='link', rr_path='../README.TXT',
                    udf_symlink_path='/dir/link', udf_target='../README.TXT')
iso.write(sys.argv[1])
"#;

#[test]
fn pycdlib_udf_260_bridge_agrees_with_7z() {
    if !have("7z") || !have_pycdlib() {
        return;
    }
    let t = tempdir();
    // 7-Zip refuses UDF volumes with symbolic links: the volume compared
    // with it has none, a second one has one.
    let img = t.path().join("p.iso");
    run(Command::new("python3")
        .args(["-c", PYCDLIB_SCRIPT])
        .arg(&img)
        .arg("plain"));
    let ours = agrees_with_7z(&img, t.path(), "pycdlib");
    assert_eq!(ours["/dir/data.bin"].size, 1_024_001);
    let img_s = img.to_str().unwrap();
    // The hard link: two names of one ICB, so one inode number. pycdlib
    // leaves the link count at 1, so extraction writes two copies.
    let v: serde_json::Value = serde_json::from_slice(
        &isoforge_ok(&["ls", "--json", "--view", "udf", img_s, "/dir"]).stdout,
    )
    .unwrap();
    let ino = |name: &str| {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["ino"].clone())
            .unwrap()
    };
    assert_eq!(ino("data.bin"), ino("data-again.bin"));
    assert!(ino("data.bin").is_u64());
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img_s]).stdout).unwrap();
    assert_eq!(v["udf"]["readable"], true);
    // pycdlib records revision 1.02 in the domain and the LVID.
    assert_eq!(v["udf"]["revision"], "1.02", "{}", v["udf"]);

    let linked = t.path().join("l.iso");
    run(Command::new("python3")
        .args(["-c", PYCDLIB_SCRIPT])
        .arg(&linked)
        .arg("link"));
    let with_link = our_list(&linked, "udf");
    assert_eq!(with_link["/dir/link"].kind, 'l');
    assert_eq!(
        with_link["/dir/link"].target.as_deref(),
        Some("../README.TXT")
    );
    let shape = Compare {
        mode: false,
        mtime: false,
        dir_mtime: false,
        content: false,
    };
    assert_same(
        "pycdlib with a link",
        &ours,
        &without(with_link, "/dir/link"),
        shape,
    );
    let out = t.path().join("linked");
    isoforge_ok(&[
        "extract",
        "--view",
        "udf",
        linked.to_str().unwrap(),
        "-C",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        fs::read_link(out.join("dir/link")).unwrap().to_str(),
        Some("../README.TXT")
    );
    assert_eq!(fs::read(out.join("dir/data.bin")).unwrap().len(), 1_024_001);
}

/// `udfinfo`'s `key=value` lines.
fn udfinfo(img: &Path) -> BTreeMap<String, String> {
    let o = Command::new("udfinfo").arg(img).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The blocks where `udfinfo` finds anchors (`start=N, blocks=1,
/// type=ANCHOR`), in order.
fn udfinfo_anchors(img: &Path) -> Vec<u64> {
    let o = Command::new("udfinfo").arg(img).output().unwrap();
    let mut out: Vec<u64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.ends_with("type=ANCHOR"))
        .filter_map(|l| l.strip_prefix("start=")?.split(',').next()?.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

/// Cuts an image after its last written block, as a disc image ends.
fn cut_after_last_block(img: &Path, bs: usize) {
    let d = fs::read(img).unwrap();
    let last = d.iter().rposition(|&b| b != 0).unwrap();
    fs::write(img, &d[..(last / bs + 1) * bs]).unwrap();
}

/// Checks isoforge's `info --json` and `ls` of an empty mkudffs volume
/// against `udfinfo`.
fn check_against_udfinfo(img: &Path, what: &str) {
    let u = udfinfo(img);
    let img_s = img.to_str().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img_s]).stdout).unwrap();
    let j = &v["udf"];
    assert_eq!(j["readable"], true, "{what}: {v}");
    assert_eq!(j["block_size"].to_string(), u["blocksize"], "{what}");
    assert_eq!(j["logical_volume_id"], u["lvid"].as_str(), "{what}");
    assert_eq!(j["volume_id"], u["vid"].as_str(), "{what}");
    assert_eq!(j["volume_set_id"], u["fullvsid"].as_str(), "{what}");
    assert_eq!(j["file_set_id"], u["fsid"].as_str(), "{what}");
    assert_eq!(j["revision"], u["udfrev"].as_str(), "{what}");
    let mut anchors: Vec<u64> = j["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_u64().unwrap())
        .collect();
    anchors.sort_unstable();
    assert_eq!(anchors, udfinfo_anchors(img), "{what}: anchors");
    let i = &j["integrity"];
    assert_eq!(i["files"].to_string(), u["numfiles"], "{what}");
    assert_eq!(i["directories"].to_string(), u["numdirs"], "{what}");
    // mkudffs leaves the LVID's revisions zero for UDF 1.01; udfinfo then
    // shows the domain's.
    if i["max_write_revision"] != "0.00" {
        assert_eq!(i["max_write_revision"], u["udfwriterev"].as_str(), "{what}");
    }
    // The integrity descriptor of write-once media with a VAT stays open
    // (the VAT stands for it); udfinfo calls such volumes closed.
    let vat = j["maps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "virtual");
    let state = if u["integrity"] == "closed" && !vat {
        "closed"
    } else {
        "open"
    };
    assert_eq!(i["state"], state, "{what}");
    assert_eq!(
        j["partitions"][0]["access"],
        u["accesstype"].replace("writeonce", "write-once").as_str(),
        "{what}"
    );
    assert_eq!(v["default_view"], "udf", "{what}");
    // Empty: nothing but the root.
    let o = isoforge_ok(&["ls", "-r", img_s]);
    assert!(
        o.stdout.is_empty(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = isoforge_ok(&["ls", "-l", "--json", img_s, "/"]);
    assert_eq!(ls_entries(&o.stdout).len(), 0, "{what}");
}

#[test]
fn mkudffs_volumes_agree_with_udfinfo() {
    if !have_all(&["mkudffs", "udfinfo"]) {
        return;
    }
    let t = tempdir();
    let mk = |name: &str, args: &[&str], blocks: &str| {
        let img = t.path().join(name);
        run(Command::new("mkudffs")
            .args(args)
            .args([
                "--label=Lbl",
                "--vsid=Set",
                "--fsid=Files",
                "--uuid=0123456789abcdef",
                "--new-file",
            ])
            .arg(&img)
            .arg(blocks));
        img
    };
    for rev in ["1.01", "1.50", "2.01"] {
        for bs in ["512", "2048"] {
            let name = format!("hd-{rev}-{bs}.udf");
            let img = mk(
                &name,
                &["--media-type=hd", &format!("--udfrev={rev}"), "-b", bs],
                "4096",
            );
            check_against_udfinfo(&img, &name);
        }
    }
    // Sparable (CD-RW) and virtual (CD-R, BD-R with its VAT) partitions.
    let img = mk("cdrw.udf", &["--media-type=cdrw", "--udfrev=2.01"], "8192");
    check_against_udfinfo(&img, "cdrw");
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["udf"]["maps"][0]["kind"], "sparable", "{v}");
    for (name, args) in [
        ("cdr.udf", &["--media-type=cdr", "--udfrev=2.01"][..]),
        ("bdr.udf", &["--media-type=bdr", "--udfrev=2.50"][..]),
    ] {
        let img = mk(name, args, "8192");
        cut_after_last_block(&img, 2048);
        check_against_udfinfo(&img, name);
        let v: serde_json::Value =
            serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
                .unwrap();
        assert_eq!(v["udf"]["maps"][1]["kind"], "virtual", "{name}: {v}");
    }
}

/// Puts `files` (paths relative to `src`, directories first) into the
/// logical volume of `img` with udfclient, a UDF writer of its own (NetBSD's
/// UDF code). It reads volumes of 512-byte blocks only when they are in a
/// regular file.
fn udfclient_put(img: &Path, src: &Path, dirs: &[&str], files: &[&str]) {
    // It shows each logical volume as a directory of its root.
    let text = udfclient(img, false, "ls\nquit\n");
    let volume = text
        .lines()
        .find(|l| l.starts_with("drwx"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("udfclient sees no logical volume: {text}"))
        .to_string();
    let mut script = String::new();
    for d in dirs {
        let (parent, name) = d.rsplit_once('/').unwrap_or(("", d));
        script.push_str(&format!("cd /{volume}/{parent}\nmkdir {name}\n"));
    }
    for f in files {
        let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
        script.push_str(&format!(
            "cd /{volume}/{dir}\nlcd {}\nput {name}\n",
            src.join(dir).display()
        ));
    }
    script.push_str("quit\n");
    let out = udfclient(img, true, &script);
    assert!(
        !out.contains("couldn't") && out.matches("finished").count() == files.len(),
        "udfclient: {out}"
    );
}

/// Runs udfclient on `img` (`-W`: writing) with `script` as its input; its
/// output.
fn udfclient(img: &Path, write: bool, script: &str) -> String {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new("udfclient")
        .args(write.then_some("-W"))
        .arg(img)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "udfclient: {out}");
    out
}

#[test]
fn mkudffs_volumes_filled_by_udfclient_agree_with_7z() {
    if !have_all(&["mkudffs", "udfinfo", "udfclient", "7z"]) {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("dir/sub")).unwrap();
    fs::write(src.join("a.txt"), b"hello\n").unwrap();
    fs::write(src.join("empty"), b"").unwrap();
    fs::write(src.join("dir/big.bin"), bytes(3, 3_000_001)).unwrap();
    fs::write(src.join("dir/sub/c.txt"), b"c").unwrap();
    let files = ["a.txt", "empty", "dir/big.bin", "dir/sub/c.txt"];
    for rev in ["1.01", "1.50", "2.01"] {
        let what = format!("mkudffs {rev} + udfclient");
        let img = t.path().join(format!("filled-{rev}.udf"));
        run(Command::new("mkudffs")
            .args(["--media-type=hd", &format!("--udfrev={rev}"), "-b", "512"])
            .args(["--label=Filled", "--new-file"])
            .arg(&img)
            .arg("32768"));
        udfclient_put(&img, &src, &["dir", "dir/sub"], &files);
        // Names, kinds, sizes, times and bytes as 7-Zip reads them.
        let ours = agrees_with_7z(&img, t.path(), &format!("filled-{rev}"));
        assert_eq!(ours.len(), 6, "{what}: {ours:?}");
        // The bytes as they were put.
        let out = t.path().join(format!("out-{rev}"));
        isoforge_ok(&[
            "extract",
            img.to_str().unwrap(),
            "-C",
            out.to_str().unwrap(),
        ]);
        assert_same(
            &format!("{what}: extract vs source"),
            &snapshot(&src),
            &snapshot(&out),
            Compare {
                mode: false,
                mtime: false,
                dir_mtime: false,
                content: true,
            },
        );
        // The descriptors and counts as udfinfo reads them.
        let v: serde_json::Value =
            serde_json::from_slice(&isoforge_ok(&["info", "--json", img.to_str().unwrap()]).stdout)
                .unwrap();
        let u = udfinfo(&img);
        assert_eq!(v["udf"]["revision"], u["udfrev"].as_str(), "{what}");
        assert_eq!(v["udf"]["block_size"], 512, "{what}");
        let i = &v["udf"]["integrity"];
        assert_eq!(i["files"].to_string(), u["numfiles"], "{what}");
        assert_eq!(i["directories"].to_string(), u["numdirs"], "{what}");
        assert_eq!(u["numfiles"], "4", "{what}");
    }
}

#[test]
fn windows_media_layout_shows_the_udf_tree() {
    if !have("genisoimage") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("win");
    for d in ["boot", "efi/microsoft/boot", "sources"] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    fs::write(
        src.join("README.TXT"),
        b"This disc contains a UDF file system and requires an operating system\r\nthat supports the ISO-13346 UDF file system specification.\r\n",
    )
    .unwrap();
    fs::write(src.join("boot/etfsboot.com"), bytes(4, 4096)).unwrap();
    fs::write(
        src.join("efi/microsoft/boot/efisys.bin"),
        bytes(5, 1_474_560),
    )
    .unwrap();
    fs::write(src.join("sources/install.wim"), bytes(6, 5_000_000)).unwrap();
    fs::write(src.join("setup.exe"), bytes(7, 70_000)).unwrap();
    let img = t.path().join("win.iso");
    // ISO 9660 shows README.TXT only; UDF 1.02 has everything; El Torito
    // BIOS no-emulation (load size 8) and UEFI entries, as on the media.
    run(Command::new("genisoimage")
        .args([
            "-quiet",
            "-udf",
            "-iso-level",
            "3",
            "-b",
            "boot/etfsboot.com",
            "-no-emul-boot",
            "-boot-load-size",
            "8",
            "-hide",
            "boot.catalog",
            "-eltorito-alt-boot",
            "-e",
            "efi/microsoft/boot/efisys.bin",
            "-no-emul-boot",
            "-hide",
            "boot",
            "-hide",
            "efi",
            "-hide",
            "sources",
            "-hide",
            "setup.exe",
            "-o",
        ])
        .arg(&img)
        .arg(&src));
    let img_s = img.to_str().unwrap();
    let o = isoforge_ok(&["ls", "--view", "iso9660", img_s]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "README.TXT\n");
    let o = isoforge_ok(&["ls", img_s]);
    let names = String::from_utf8(o.stdout).unwrap();
    for n in ["README.TXT", "boot", "efi", "setup.exe", "sources"] {
        assert!(names.lines().any(|l| l == n), "{n} missing: {names}");
    }
    let text = String::from_utf8(isoforge_ok(&["info", img_s]).stdout).unwrap();
    assert!(
        text.contains("View           : udf, because the ISO 9660 tree is only a placeholder"),
        "{text}"
    );
    assert!(
        text.contains("El Torito img path :   1  /boot/etfsboot.com"),
        "{text}"
    );
    assert!(
        text.contains("El Torito img path :   2  /efi/microsoft/boot/efisys.bin"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img_s]).stdout).unwrap();
    assert_eq!(v["udf"]["iso9660_is_placeholder"], true);
    let imgs = v["el_torito"]["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 2, "{v}");
    assert_eq!(imgs[0]["sector_count"], 8);
    assert_eq!(imgs[1]["platform"], "UEFI", "{}", imgs[1]);
    // Everything extracts from the UDF tree, byte for byte.
    let out = t.path().join("out");
    isoforge_ok(&["extract", img_s, "-C", out.to_str().unwrap()]);
    let got = without(snapshot(&out), "/boot.catalog");
    assert_same(
        "windows layout",
        &snapshot(&src),
        &got,
        Compare {
            mode: false,
            mtime: false,
            dir_mtime: false,
            content: true,
        },
    );
    if have("7z") {
        agrees_with_7z(&img, t.path(), "windows");
    }
}

#[test]
fn udf_250_metadata_partition_from_the_specification() {
    let t = tempdir();
    let b = bytes(9, 300_000);
    let o = udf::Opts {
        bs: 2048,
        revision: 0x0250,
        metadata: true,
        blocks: 400,
    };
    let img = t.path().join("meta.udf");
    fs::write(&img, udf::small_tree(o, &b)).unwrap();
    let img_s = img.to_str().unwrap();
    let check = |img_s: &str, what: &str| {
        let listed = snapshot_json(&isoforge_ok(&["ls", "-r", "--json", img_s]).stdout);
        let names: Vec<&str> = listed.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "/a.txt",
                "/dir",
                "/dir/b.bin",
                "/dir/hard",
                "/dir/link",
                "/empty"
            ],
            "{what}"
        );
        let o = isoforge_ok(&["cat", img_s, "/dir/b.bin"]);
        assert!(o.stdout == b, "{what}: contents differ");
        let out = t.path().join(format!("out-{what}"));
        isoforge_ok(&["extract", img_s, "-C", out.to_str().unwrap()]);
        assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"hello udf\n");
        assert_eq!(
            fs::read_link(out.join("dir/link")).unwrap().to_str(),
            Some("../a.txt")
        );
        assert_eq!(hardlink_groups(&out), [["/dir/b.bin", "/dir/hard"]]);
    };
    check(img_s, "intact");
    let v: serde_json::Value =
        serde_json::from_slice(&isoforge_ok(&["info", "--json", img_s]).stdout).unwrap();
    assert_eq!(v["udf"]["revision"], "2.50");
    assert_eq!(v["udf"]["maps"][1]["kind"], "metadata");
    // The main copy of the metadata damaged: the mirror is read.
    let mut raw = fs::read(&img).unwrap();
    let fe = (0..raw.len() / 2048)
        .map(|s| s * 2048)
        .find(|&o| raw[o..o + 2] == [0x0A, 0x01] && raw[o + 27] == 250)
        .unwrap();
    for x in &mut raw[fe + 2 * 2048..fe + 6 * 2048] {
        *x = !*x;
    }
    let bad = t.path().join("meta-bad.udf");
    fs::write(&bad, &raw).unwrap();
    check(bad.to_str().unwrap(), "damaged main copy");
    let text = String::from_utf8(isoforge_ok(&["info", bad.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("mirror"), "{text}");
    // 7-Zip reads metadata partitions (from the main copy only, and no
    // volume with a symbolic link): its view of the same volume without
    // the link agrees.
    if have("7z") {
        let plain = t.path().join("meta-plain.udf");
        fs::write(&plain, udf::tree(o, &b, false)).unwrap();
        let ours = agrees_with_7z(&plain, t.path(), "metadata");
        assert_eq!(ours.len(), 5);
    }
}

/// Runs isoforge with a deadline; returns its status code, its standard
/// error and how long it took.
fn run_with_deadline(args: &[&str], deadline: Duration) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(bin())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let text = fs::read_to_string(err.path()).unwrap();
            return (st.code(), text, start.elapsed());
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("isoforge {args:?} still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn hostile_udf_volumes_exit_2_and_write_nothing_outside() {
    let t = tempdir();
    for (name, data) in udf::hostile_images() {
        let case = t.path().join(name.replace(' ', "-"));
        fs::create_dir_all(&case).unwrap();
        let img = case.join("img.udf");
        fs::write(&img, data).unwrap();
        let img_s = img.to_str().unwrap();
        let dest = case.join("dest");
        let before = snapshot(&case);
        for args in [
            vec!["ls", "-r", "-l", img_s],
            vec!["extract", img_s, "-C", dest.to_str().unwrap()],
        ] {
            let (code, err, took) = run_with_deadline(&args, Duration::from_secs(20));
            assert_eq!(code, Some(2), "{name}: {args:?}: {err}");
            // The error names the UDF structure and its byte offset, or the
            // limit that stopped the reading.
            assert!(
                (err.contains("UDF") || err.contains("directory"))
                    && (err.contains("at byte ") || err.contains("limit exceeded")),
                "{name}: {args:?}: {err}"
            );
            eprintln!("{name}: {} exit 2 after {took:?}", args[0]);
        }
        let after = snapshot(&case);
        let outside: Vec<_> = after
            .keys()
            .filter(|p| !before.contains_key(*p) && !p.starts_with("/dest"))
            .collect();
        assert!(outside.is_empty(), "{name}: written outside: {outside:?}");
        if dest.exists() {
            assert!(
                snapshot(&dest).keys().all(|p| !p.contains("evil")),
                "{name}"
            );
        }
    }
}

#[test]
fn udf_links_modify_and_views() {
    let t = tempdir();
    // A link out of the destination is recreated verbatim, never followed,
    // and skipped with --safe-links.
    let img = t.path().join("links.udf");
    fs::write(
        &img,
        udf::one_entry(udf::Opts::default(), "escape", false, |u| {
            u.symlink("/etc/passwd")
        }),
    )
    .unwrap();
    let img_s = img.to_str().unwrap();
    let out = t.path().join("a");
    isoforge_ok(&["extract", img_s, "-C", out.to_str().unwrap()]);
    assert_eq!(
        fs::read_link(out.join("escape")).unwrap().to_str(),
        Some("/etc/passwd")
    );
    let out = t.path().join("b");
    let o = isoforge_ok(&[
        "extract",
        "--safe-links",
        img_s,
        "-C",
        out.to_str().unwrap(),
    ]);
    assert!(!out.join("escape").exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("escape"));
    // modify refuses a UDF volume (it does not write UDF).
    let o = isoforge(&[
        "modify",
        img_s,
        "-o",
        t.path().join("m.iso").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("UDF"));
    // diff compares the UDF descriptors too.
    let (x, y) = (t.path().join("x.udf"), t.path().join("y.udf"));
    let o201 = udf::Opts::default();
    let o250 = udf::Opts {
        revision: 0x0250,
        metadata: true,
        ..o201
    };
    fs::write(&x, udf::small_tree(o201, b"same")).unwrap();
    fs::write(&y, udf::small_tree(o250, b"same")).unwrap();
    let o = isoforge(&["diff", x.to_str().unwrap(), y.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(r#"udf.revision: "2.01" -> "2.50""#)
            && text.contains(r#"udf.partition_maps: "type1" -> "type1 metadata""#),
        "{o:?}"
    );
    isoforge_ok(&["diff", x.to_str().unwrap(), x.to_str().unwrap()]);
    // ISO 9660 views of a UDF-only volume: a usage error naming the view
    // that exists.
    let o = isoforge(&["ls", "--view", "joliet", img_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--view udf"),
        "{o:?}"
    );
}
