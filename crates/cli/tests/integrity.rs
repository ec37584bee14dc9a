//! `checksum`, `verify` and `implant-md5` against independent tools:
//! coreutils `*sum`, GnuPG, isomd5sum, xorriso/genisoimage.
//!
//! A test whose tool is missing prints why and passes, unless
//! `ISOFORGE_REQUIRE_ORACLES=1`, when it fails.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// True when `name` can be run; otherwise skips (or fails under
/// `ISOFORGE_REQUIRE_ORACLES=1`).
fn oracle(name: &str) -> bool {
    if on_path(name) {
        return true;
    }
    if std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("required oracle {name} is not installed");
    }
    eprintln!("skipping: {name} is not installed");
    false
}

fn isoforge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoforge"))
        .args(args)
        .output()
        .expect("run isoforge")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    let stderr = text(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    o.status.code().unwrap_or(-1)
}

fn run(cmd: &str, args: &[&str], dir: &Path) -> Output {
    let o = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    o
}

/// Deterministic non-trivial bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn checksum_agrees_with_coreutils() {
    let tools = ["sha256sum", "sha512sum", "sha1sum", "md5sum"];
    if !tools.iter().all(|t| oracle(t)) {
        return;
    }
    let dir = TempDir::new().unwrap();
    // 4 MiB is the read size: cover below, at and across it, and a ragged tail.
    for (i, len) in [0usize, 1, 2047, 2048, 4 << 20, (9 << 20) + 12345]
        .into_iter()
        .enumerate()
    {
        let name = format!("f{i}.bin");
        std::fs::write(dir.path().join(&name), bytes(len, i as u64 + 7)).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_isoforge"))
            .args(["checksum", "--algo", "sha256,sha512,sha1,md5", &name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", text(&o.stderr));
        let ours: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
        let theirs: Vec<String> = tools
            .iter()
            .map(|t| {
                text(&run(t, &[&name], dir.path()).stdout)
                    .trim_end()
                    .to_string()
            })
            .collect();
        assert_eq!(ours, theirs, "size {len}");

        let o = Command::new(env!("CARGO_BIN_EXE_isoforge"))
            .args(["checksum", "--algo", "md5,sha1", "--json", &name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["schema"], 1);
        let v = &v["files"][0];
        assert_eq!(v["size"], len as u64);
        assert_eq!(v["file"], name.as_str());
        let md5 = theirs[3].split_whitespace().next().unwrap();
        assert_eq!(v["digests"]["md5"], md5);
        assert!(v["digests"]["sha256"].is_null());
    }
    let o = isoforge(&["checksum", "/nonexistent/x.iso"]);
    assert_eq!(code(&o), 2);
    let o = isoforge(&["checksum", "--algo", "sha3", "x"]);
    assert_eq!(code(&o), 2);
}

/// A throwaway GnuPG home.
struct Gpg {
    home: TempDir,
}

impl Gpg {
    fn new() -> Gpg {
        let home = TempDir::new().unwrap();
        Gpg { home }
    }
    fn run(&self, args: &[&str], dir: &Path) -> Output {
        let o = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--yes", "--quiet", "--passphrase", ""])
            .args(["--pinentry-mode", "loopback"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run gpg");
        assert!(o.status.success(), "gpg {args:?}: {}", text(&o.stderr));
        o
    }
    fn gen(&self, uid: &str, algo: &str, expire: &str, extra: &[&str]) -> String {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["--quick-gen-key", uid, algo, "sign", expire]);
        self.run(&args, self.home.path());
        let o = self.run(&["--list-keys", "--with-colons", uid], self.home.path());
        text(&o.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("fingerprint")
    }
    fn export(&self, dir: &Path, name: &str, armor: bool) -> PathBuf {
        let p = dir.join(name);
        let mut args = vec!["--output", p.to_str().unwrap()];
        if armor {
            args.push("--armor");
        }
        args.push("--export");
        self.run(&args, dir);
        p
    }
}

struct SigFixture {
    dir: TempDir,
    gpg: Gpg,
    fpr: String,
}

fn sig_fixture() -> Option<SigFixture> {
    if !oracle("gpg") || !oracle("sha256sum") {
        return None;
    }
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("img.iso"), bytes(300_000, 3)).unwrap();
    std::fs::write(dir.path().join("other.iso"), bytes(1000, 4)).unwrap();
    let sums = run("sha256sum", &["other.iso", "img.iso"], dir.path());
    std::fs::write(dir.path().join("SHA256SUMS"), &sums.stdout).unwrap();
    let gpg = Gpg::new();
    let fpr = gpg.gen("Good Signer <good@example.org>", "ed25519", "0", &[]);
    gpg.export(dir.path(), "pub.gpg", false);
    gpg.export(dir.path(), "pub.asc", true);
    gpg.run(
        &["--detach-sign", "-o", "SHA256SUMS.gpg", "SHA256SUMS"],
        dir.path(),
    );
    gpg.run(
        &[
            "--detach-sign",
            "--armor",
            "-o",
            "SHA256SUMS.sign",
            "SHA256SUMS",
        ],
        dir.path(),
    );
    gpg.run(&["--clearsign", "-o", "CHECKSUM", "SHA256SUMS"], dir.path());
    Some(SigFixture { dir, gpg, fpr })
}

fn verify_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_isoforge"))
        .arg("verify")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (code(&o), text(&o.stdout), text(&o.stderr))
}

#[test]
fn good_signatures_in_every_form() {
    let Some(f) = sig_fixture() else { return };
    let d = f.dir.path();
    for args in [
        [
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "pub.gpg",
        ]
        .as_slice(),
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.sign",
            "--keyring",
            "pub.asc",
        ],
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "pub.asc",
        ],
        &["img.iso", "--sums", "CHECKSUM", "--keyring", "pub.gpg"],
        &["img.iso", "--sums", "CHECKSUM", "--keyring", "pub.asc"],
    ] {
        let (c, out, err) = verify_in(d, args);
        assert_eq!(c, 0, "{args:?}: {out}{err}");
        assert!(out.contains(&f.fpr), "{out}");
        assert!(out.contains("Good Signer"), "{out}");
    }
    let (c, out, _) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "CHECKSUM",
            "--keyring",
            "pub.asc",
            "--json",
        ],
    );
    assert_eq!(c, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signer"]["fingerprint"], f.fpr.as_str());
    assert_eq!(v["ok"], true);
    // The other file named in the SUMS file is checked only under its own name.
    let (c, out, err) = verify_in(
        d,
        &[
            "other.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "pub.gpg",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let (c, _, _) = verify_in(
        d,
        &[
            "img.iso",
            "--name",
            "other.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "pub.gpg",
        ],
    );
    assert_eq!(c, 1);
}

#[test]
fn signature_failures() {
    let Some(f) = sig_fixture() else { return };
    let d = f.dir.path();
    let good = [
        "--sums",
        "SHA256SUMS",
        "--signature",
        "SHA256SUMS.gpg",
        "--keyring",
        "pub.gpg",
    ];

    // Tampered image: the signature holds, the digest does not.
    let mut img = std::fs::read(d.join("img.iso")).unwrap();
    img[1000] ^= 1;
    std::fs::write(d.join("bad.iso"), &img).unwrap();
    let (c, out, _) = verify_in(
        d,
        &[&["bad.iso", "--name", "img.iso"], good.as_slice()].concat(),
    );
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("FAILED sums sha256"), "{out}");

    // Tampered SUMS file (detached and clear-signed).
    let sums = std::fs::read_to_string(d.join("SHA256SUMS")).unwrap();
    let tampered = sums
        .replacen("img.iso", "img.isp", 1)
        .replace("other.iso", "img.iso");
    std::fs::write(d.join("T"), &tampered).unwrap();
    let (c, out, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "T",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "pub.gpg",
        ],
    );
    assert_eq!(c, 1, "{out}");
    assert!(err.contains("bad signature"), "{err}");
    let clear = std::fs::read_to_string(d.join("CHECKSUM")).unwrap();
    let first_hex = sums.split_whitespace().next().unwrap();
    let flipped = if first_hex.starts_with('0') { "1" } else { "0" };
    std::fs::write(d.join("C2"), clear.replacen(&first_hex[..1], flipped, 1)).unwrap();
    let (c, out, _) = verify_in(d, &["other.iso", "--sums", "C2", "--keyring", "pub.gpg"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("bad signature"), "{out}");

    // Lines outside the clear-signed text are never used.
    let img_line = sums.lines().find(|l| l.ends_with("img.iso")).unwrap();
    let only_other: String = sums
        .lines()
        .filter(|l| !l.ends_with("img.iso"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("O"), &only_other).unwrap();
    f.gpg.run(&["--clearsign", "-o", "O.clear", "O"], d);
    let mut smuggled = std::fs::read_to_string(d.join("O.clear")).unwrap();
    smuggled.push_str(img_line);
    smuggled.push('\n');
    std::fs::write(d.join("O.clear"), smuggled).unwrap();
    let (c, out, _) = verify_in(d, &["img.iso", "--sums", "O.clear", "--keyring", "pub.gpg"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("no line for"), "{out}");

    // Wrong key.
    let other = Gpg::new();
    other.gen("Other <other@example.org>", "ed25519", "0", &[]);
    other.export(d, "other.gpg", false);
    let (c, out, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "other.gpg",
        ],
    );
    assert_eq!(c, 1, "{out}");
    assert!(
        err.contains("unknown key") && err.contains("not in the keyring"),
        "{err}"
    );

    // Garbage keyring or signature: unreadable input, exit 2.
    std::fs::write(d.join("garbage"), b"this is not a key\n").unwrap();
    let (c, _, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "garbage",
        ],
    );
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("keyring"), "{err}");
    let (c, _, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "garbage",
            "--keyring",
            "pub.gpg",
        ],
    );
    assert_eq!(c, 2, "{err}");
    let (c, _, _) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "missing.sig",
            "--keyring",
            "pub.gpg",
        ],
    );
    assert_eq!(c, 2);
    let _ = &f.fpr;
}

#[test]
fn sha1_signature_is_rejected() {
    let Some(f) = sig_fixture() else { return };
    let d = f.dir.path();
    // RSA, where SHA-1 signatures are otherwise accepted by rPGP and gpgv.
    let rsa = Gpg::new();
    rsa.gen("Rsa Signer <rsa@example.org>", "rsa2048", "0", &[]);
    rsa.export(d, "rsa.gpg", false);
    rsa.run(
        &[
            "--digest-algo",
            "SHA1",
            "--detach-sign",
            "-o",
            "sha1.sig",
            "SHA256SUMS",
        ],
        d,
    );
    rsa.run(
        &[
            "--digest-algo",
            "SHA256",
            "--detach-sign",
            "-o",
            "sha256.sig",
            "SHA256SUMS",
        ],
        d,
    );
    let (c, out, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "sha256.sig",
            "--keyring",
            "rsa.gpg",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let (c, out, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "sha1.sig",
            "--keyring",
            "rsa.gpg",
        ],
    );
    assert_eq!(c, 1, "{out}");
    assert!(err.contains("SHA1"), "{err}");
}

#[test]
fn expired_key_is_rejected() {
    let Some(f) = sig_fixture() else { return };
    let d = f.dir.path();
    let old = Gpg::new();
    // Made in 2020, valid for a year; the signature was made while it was valid.
    old.gen(
        "Old Signer <old@example.org>",
        "ed25519",
        "1y",
        &["--faked-system-time", "20200101T000000!"],
    );
    old.export(d, "old.gpg", false);
    old.run(
        &[
            "--faked-system-time",
            "20200601T000000!",
            "--detach-sign",
            "-o",
            "old.sig",
            "SHA256SUMS",
        ],
        d,
    );
    let (c, out, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "old.sig",
            "--keyring",
            "old.gpg",
        ],
    );
    assert_eq!(c, 1, "{out}");
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn revoked_key_is_rejected() {
    let Some(f) = sig_fixture() else { return };
    let d = f.dir.path();
    let rev = f
        .gpg
        .home
        .path()
        .join("openpgp-revocs.d")
        .join(format!("{}.rev", f.fpr));
    let cert = std::fs::read_to_string(rev)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    std::fs::write(d.join("rev.asc"), cert).unwrap();
    f.gpg.run(&["--import", "rev.asc"], d);
    f.gpg.export(d, "revoked.asc", true);
    let (c, out, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "SHA256SUMS",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "revoked.asc",
        ],
    );
    assert_eq!(c, 1, "{out}");
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn plain_digests_and_usage() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.iso"), b"abc").unwrap();
    let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let (c, out, _) = verify_in(
        d,
        &[
            "x.iso",
            "--sha256",
            sha,
            "--md5",
            "900150983CD24FB0D6963F7D28E17F72",
        ],
    );
    assert_eq!(c, 0, "{out}");
    let (c, _, _) = verify_in(
        d,
        &[
            "x.iso",
            "--sha1",
            "a9993e364706816aba3e25717850c26c9cd0d89e",
        ],
    );
    assert_eq!(c, 1);
    let (c, _, _) = verify_in(d, &["x.iso", "--sha256", "abc"]);
    assert_eq!(c, 2);
    let (c, _, _) = verify_in(d, &["x.iso"]);
    assert_eq!(c, 2);
    let (c, _, _) = verify_in(d, &["missing.iso", "--sha256", sha]);
    assert_eq!(c, 2);
    // A plain SUMS file without signature: lines for other paths never match.
    std::fs::write(d.join("S"), format!("{sha}  ../x.iso\n{sha}  sub/x.iso\n")).unwrap();
    let (c, out, _) = verify_in(d, &["x.iso", "--sums", "S"]);
    assert_eq!(c, 1, "{out}");
    std::fs::write(d.join("S"), format!("SHA256 (./x.iso) = {sha}\r\n")).unwrap();
    let (c, out, _) = verify_in(d, &["x.iso", "--sums", "S"]);
    assert_eq!(c, 0, "{out}");
}

/// Builds an ISO from a generated tree with xorriso (or genisoimage).
fn make_iso(dir: &Path, name: &str, payload: usize) -> Option<PathBuf> {
    let tree = dir.join(format!("{name}.tree"));
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/data.bin"), bytes(payload, 11)).unwrap();
    std::fs::write(tree.join("readme.txt"), b"hello\n").unwrap();
    let out = dir.join(name);
    let (tool, pre): (&str, &[&str]) = if on_path("xorriso") {
        ("xorriso", &["-as", "mkisofs"])
    } else if oracle("genisoimage") {
        ("genisoimage", &[])
    } else {
        return None;
    };
    let o = Command::new(tool)
        .args(pre)
        .args([
            "-quiet",
            "-o",
            out.to_str().unwrap(),
            tree.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    Some(out)
}

#[test]
fn implanted_md5_round_trips_with_isomd5sum() {
    if !oracle("implantisomd5") || !oracle("checkisomd5") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some(iso) = make_iso(d, "a.iso", 3 << 20) else {
        return;
    };
    let theirs = d.join("theirs.iso");
    let ours = d.join("ours.iso");
    std::fs::copy(&iso, &theirs).unwrap();
    std::fs::copy(&iso, &ours).unwrap();
    assert!(run("implantisomd5", &[theirs.to_str().unwrap()], d)
        .status
        .success());
    let o = isoforge(&["implant-md5", ours.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("not proof of authenticity"));
    assert!(
        std::fs::read(&theirs).unwrap() == std::fs::read(&ours).unwrap(),
        "not byte-identical to implantisomd5"
    );
    assert!(run("checkisomd5", &[ours.to_str().unwrap()], d)
        .status
        .success());
    let o = isoforge(&["verify", "--implanted-md5", theirs.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));

    // --supported-iso matches too; a second implant needs --force.
    let o = isoforge(&["implant-md5", ours.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(run(
        "implantisomd5",
        &["--force", "--supported-iso", theirs.to_str().unwrap()],
        d
    )
    .status
    .success());
    let o = isoforge(&[
        "implant-md5",
        "--force",
        "--supported-iso",
        ours.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0);
    assert!(std::fs::read(&theirs).unwrap() == std::fs::read(&ours).unwrap());

    // One changed byte in the data fails both checkers.
    let mut img = std::fs::read(&ours).unwrap();
    let at = img.len() / 2;
    img[at] ^= 0x40;
    let bad = d.join("bad.iso");
    std::fs::write(&bad, &img).unwrap();
    assert!(!run("checkisomd5", &[bad.to_str().unwrap()], d)
        .status
        .success());
    let o = isoforge(&["verify", "--implanted-md5", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(text(&o.stdout).contains("not authenticity"));

    // Combined with a digest in the same read.
    let sha = text(&run("sha256sum", &[ours.to_str().unwrap()], d).stdout);
    let sha = sha.split_whitespace().next().unwrap();
    let o = isoforge(&[
        "verify",
        "--implanted-md5",
        "--sha256",
        sha,
        ours.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));

    // No tag: a failed check, not an error.
    let o = isoforge(&["verify", "--implanted-md5", iso.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    // Not an ISO: implant refuses.
    std::fs::write(d.join("junk"), bytes(100_000, 1)).unwrap();
    let o = isoforge(&["implant-md5", d.join("junk").to_str().unwrap()]);
    assert_eq!(code(&o), 2);
}

#[test]
fn small_images_are_judged_on_content() {
    if !oracle("implantisomd5") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some(iso) = make_iso(d, "s.iso", 10_000) else {
        return;
    };
    assert!(std::fs::metadata(&iso).unwrap().len() < 700 * 1024);
    let ours = d.join("ours.iso");
    std::fs::copy(&iso, &ours).unwrap();
    assert!(run("implantisomd5", &[iso.to_str().unwrap()], d)
        .status
        .success());
    let o = isoforge(&["implant-md5", ours.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    // Same bytes as implantisomd5 even here, where checkisomd5 rejects its own output.
    assert!(std::fs::read(&iso).unwrap() == std::fs::read(&ours).unwrap());
    let o = isoforge(&["verify", "--implanted-md5", iso.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    let mut img = std::fs::read(&iso).unwrap();
    img[18 * 2048 + 5] ^= 1;
    std::fs::write(&iso, &img).unwrap();
    let o = isoforge(&["verify", "--implanted-md5", iso.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
}

/// One line on standard error, naming `file`, in plain words: no text of
/// the OpenPGP library's internals.
fn one_plain_sentence(err: &str, file: &str) {
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(file), "{file}: {err}");
    for internal in [
        "assertion",
        "left:",
        "right:",
        "packet header",
        "IO error",
        "Error {",
        "Error(",
        "os error",
    ] {
        assert!(!err.contains(internal), "{internal}: {err}");
    }
}

#[test]
fn garbage_inputs_get_one_plain_sentence_each() {
    let Some(f) = sig_fixture() else { return };
    let d = f.dir.path();
    // A SUMS file changed after it was signed: a failed check (exit 1).
    let sums = std::fs::read_to_string(d.join("SHA256SUMS")).unwrap();
    std::fs::write(d.join("TAMPERED"), sums.replacen('0', "1", 1)).unwrap();
    let (c, _, err) = verify_in(
        d,
        &[
            "img.iso",
            "--sums",
            "TAMPERED",
            "--signature",
            "SHA256SUMS.gpg",
            "--keyring",
            "pub.gpg",
        ],
    );
    assert_eq!(c, 1, "{err}");
    one_plain_sentence(&err, "TAMPERED");
    assert!(err.contains("changed after it was signed"), "{err}");
    // The same, clear-signed.
    let clear = std::fs::read_to_string(d.join("CHECKSUM")).unwrap();
    let line = clear.lines().find(|l| l.ends_with("img.iso")).unwrap();
    let flipped = format!(
        "{}{}",
        if line.starts_with('0') { '1' } else { '0' },
        &line[1..]
    );
    std::fs::write(d.join("CHECKSUM.bad"), clear.replace(line, &flipped)).unwrap();
    let (c, _, err) = verify_in(
        d,
        &["img.iso", "--sums", "CHECKSUM.bad", "--keyring", "pub.gpg"],
    );
    assert_eq!(c, 1, "{err}");
    one_plain_sentence(&err, "CHECKSUM.bad");

    // Unreadable inputs (exit 2), each named with what is wrong with it.
    std::fs::write(d.join("notakey.gpg"), bytes(300, 5)).unwrap();
    std::fs::write(d.join("words.asc"), b"this is not a key\n").unwrap();
    std::fs::write(d.join("junk.sig"), bytes(200, 6)).unwrap();
    std::fs::write(
        d.join("junk.asc"),
        b"-----BEGIN PGP SIGNATURE-----\n\nnot base64 at all\n-----END PGP SIGNATURE-----\n",
    )
    .unwrap();
    std::fs::write(d.join("NOLINES"), b"this file has no checksums\n").unwrap();
    std::fs::write(d.join("CUT"), &clear.as_bytes()[..clear.len() - 60]).unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    let cases: [(&[&str], &str, &str); 8] = [
        (
            &["--signature", "SHA256SUMS.gpg", "--keyring", "notakey.gpg"],
            "notakey.gpg",
            "not an OpenPGP keyring",
        ),
        (
            &["--signature", "SHA256SUMS.gpg", "--keyring", "words.asc"],
            "words.asc",
            "not an OpenPGP keyring",
        ),
        (
            &["--signature", "junk.sig", "--keyring", "pub.gpg"],
            "junk.sig",
            "not an OpenPGP signature",
        ),
        (
            &["--signature", "junk.asc", "--keyring", "pub.gpg"],
            "junk.asc",
            "not an OpenPGP signature",
        ),
        (
            &["--signature", "SHA256SUMS.gpg", "--keyring", "adir"],
            "adir",
            "is a directory",
        ),
        (
            &["--signature", "adir", "--keyring", "pub.gpg"],
            "adir",
            "is a directory",
        ),
        (&[], "NOLINES", "no checksum lines"),
        (&["--keyring", "pub.gpg"], "CUT", "cut short or damaged"),
    ];
    for (extra, file, what) in cases {
        let sums = match file {
            "NOLINES" | "CUT" => file,
            _ => "SHA256SUMS",
        };
        let mut args = vec!["img.iso", "--sums", sums];
        args.extend_from_slice(extra);
        let (c, _, err) = verify_in(d, &args);
        assert_eq!(c, 2, "{args:?}: {err}");
        one_plain_sentence(&err, file);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    // A directory given as the image, or as the SUMS file.
    let (c, _, err) = verify_in(d, &["adir", "--sha256", &"0".repeat(64)]);
    assert_eq!(c, 2);
    one_plain_sentence(&err, "adir");
    assert!(err.contains("is a directory"), "{err}");
    let (c, _, err) = verify_in(d, &["img.iso", "--sums", "adir"]);
    assert_eq!(c, 2);
    one_plain_sentence(&err, "adir");
}

#[test]
fn info_shows_the_implanted_md5() {
    if !oracle("implantisomd5") || !oracle("checkisomd5") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some(iso) = make_iso(d, "a.iso", 1 << 20) else {
        return;
    };
    let info_json = |p: &Path| -> serde_json::Value {
        let o = isoforge(&["info", "--json", p.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // None yet.
    assert!(info_json(&iso)["implanted_md5"].is_null());
    let o = isoforge(&["info", iso.to_str().unwrap()]);
    assert!(!text(&o.stdout).contains("Implanted MD5"));
    let theirs = d.join("theirs.iso");
    let ours = d.join("ours.iso");
    std::fs::copy(&iso, &theirs).unwrap();
    std::fs::copy(&iso, &ours).unwrap();
    assert!(run("implantisomd5", &[theirs.to_str().unwrap()], d)
        .status
        .success());
    assert_eq!(
        code(&isoforge(&["implant-md5", "-q", ours.to_str().unwrap()])),
        0
    );
    for img in [&theirs, &ours] {
        // checkisomd5 --md5sumonly prints what is implanted:
        // "NAME:   MD5", "Fragment sums: ...", "Fragment count: N".
        let o = run("checkisomd5", &["--md5sumonly", img.to_str().unwrap()], d);
        let shown = text(&o.stdout);
        let field = |prefix: &str| {
            shown
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("{prefix}: {shown}"))
        };
        let want = field(&format!("{}:", img.to_str().unwrap()));
        assert_eq!(want.len(), 32, "{want}");
        let sums = field("Fragment sums:");
        let count: u64 = field("Fragment count:").parse().unwrap();
        let v = info_json(img);
        let t = &v["implanted_md5"];
        assert_eq!(t["md5"], want.as_str(), "{t}");
        assert_eq!(t["skip_sectors"], 15);
        assert_eq!(t["fragment_count"], count);
        assert_eq!(t["fragment_sums"], sums.as_str());
        let shown = text(&isoforge(&["info", img.to_str().unwrap()]).stdout);
        let line = shown
            .lines()
            .find(|l| l.starts_with("Implanted MD5"))
            .unwrap();
        assert!(
            line.contains(&want) && line.contains("20 fragments") && line.contains("15 sectors"),
            "{line}"
        );
    }
}
