//! `isoforge seed`: cloud-init NoCloud seeds compared with what
//! `cloud-localds` (cloud-image-utils) makes from the same inputs, read by
//! isoinfo (plain, `-J`, `-R`), pycdlib, blkid, fsck.fat and mtools; the
//! checks' messages for bad inputs; and `--inspect`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    have, have_pycdlib, have_tool, isoforge, isoforge_ok, isoinfo_names, pycdlib_names, run,
    tempdir, tool,
};

const USER_DATA: &str = "#cloud-config\nhostname: seedhost\nssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@seed\npackages:\n  - curl\n";
const META_DATA: &str = "instance-id: iid-seed-test\nlocal-hostname: seedhost\n";
const NETWORK_CONFIG: &str = "version: 2\nethernets:\n  eth0:\n    addresses: [192.0.2.10/24]\n";
const VENDOR_DATA: &str = "#cloud-config\nruncmd:\n  - [echo, vendor]\n";

/// The four seed files written into `dir`, by seed name.
fn inputs(dir: &Path) -> BTreeMap<&'static str, PathBuf> {
    let mut m = BTreeMap::new();
    for (name, text) in [
        ("user-data", USER_DATA),
        ("meta-data", META_DATA),
        ("network-config", NETWORK_CONFIG),
        ("vendor-data", VENDOR_DATA),
    ] {
        let p = dir.join(format!("in-{name}"));
        fs::write(&p, text).unwrap();
        m.insert(name, p);
    }
    m
}

fn seed_args<'a>(out: &'a str, files: &'a BTreeMap<&'static str, PathBuf>) -> Vec<String> {
    let mut v = vec!["seed".to_string(), "-o".into(), out.to_string()];
    for (name, p) in files {
        v.push(format!("--{name}"));
        v.push(p.to_str().unwrap().to_string());
    }
    v
}

fn isoforge_seed(args: &[String]) -> std::process::Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    isoforge_ok(&a)
}

/// `isoinfo -l` names with `flag` (`""`, `-J` or `-R`), as listed.
fn isoinfo_raw_names(img: &Path, flag: &str) -> Vec<String> {
    let mut cmd = Command::new("isoinfo");
    cmd.arg("-l").arg("-i").arg(img);
    if !flag.is_empty() {
        cmd.arg(flag);
    }
    let out = run(&mut cmd);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.find("]  ").map(|p| l[p + 3..].trim_end().to_string()))
        .filter(|n| n != "." && n != "..")
        .collect()
}

/// One file's contents by isoinfo, in the name space of `flag`.
fn isoinfo_cat(img: &Path, flag: &str, path: &str) -> Vec<u8> {
    let mut cmd = Command::new("isoinfo");
    cmd.arg("-i").arg(img).arg("-x").arg(path);
    if !flag.is_empty() {
        cmd.arg(flag);
    }
    run(&mut cmd).stdout
}

/// Every root file of every name space, by pycdlib: namespace -> name ->
/// contents.
fn pycdlib_files(img: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let script = r#"
import io, json, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
out = {}
for ns in ("iso", "joliet", "rr"):
    kw = ns + "_path"
    files = {}
    for root, dirs, names in iso.walk(**{kw: "/"}):
        if root != "/":
            continue
        for n in names:
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, **{kw: "/" + n})
            files[n] = buf.getvalue().hex()
    out[ns] = files
print(json.dumps(out))
"#;
    let out = run(Command::new("python3").arg("-c").arg(script).arg(img));
    let v: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|(ns, files)| {
            let files = files
                .into_iter()
                .map(|(n, hex)| {
                    let bytes = (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect();
                    (n, bytes)
                })
                .collect();
            (ns, files)
        })
        .collect()
}

/// blkid's `-o export` values of a file system image.
fn blkid(img: &Path) -> BTreeMap<String, String> {
    let out = run(tool("blkid").arg("-p").arg("-o").arg("export").arg(img));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn same_seed_as_cloud_localds() {
    if !have("cloud-localds") || !have("genisoimage") || !have("isoinfo") {
        return;
    }
    let dir = tempdir();
    let files = inputs(dir.path());
    let theirs = dir.path().join("cloud-localds.iso");
    run(Command::new("cloud-localds")
        .arg("-N")
        .arg(&files["network-config"])
        .arg("-V")
        .arg(&files["vendor-data"])
        .arg(&theirs)
        .arg(&files["user-data"])
        .arg(&files["meta-data"]));
    let ours = dir.path().join("isoforge.iso");
    isoforge_seed(&seed_args(ours.to_str().unwrap(), &files));

    // The label.
    let volume_id = |img: &Path| {
        let out = run(Command::new("isoinfo").arg("-d").arg("-i").arg(img));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Volume id: ").map(str::to_string))
            .unwrap()
    };
    assert_eq!(volume_id(&ours), "cidata");
    assert_eq!(volume_id(&ours), volume_id(&theirs));

    // Names in all three name spaces, as listed.
    for flag in ["", "-J", "-R"] {
        let (a, b) = (
            isoinfo_raw_names(&ours, flag),
            isoinfo_raw_names(&theirs, flag),
        );
        assert_eq!(a, b, "isoinfo -l {flag}");
        assert_eq!(a.len(), 4, "isoinfo -l {flag}: {a:?}");
    }
    assert_eq!(
        isoinfo_names(&ours, true).into_keys().collect::<Vec<_>>(),
        [
            "/meta-data",
            "/network-config",
            "/user-data",
            "/vendor-data"
        ]
    );

    // Contents, through each name space, equal the inputs.
    for (flag, names) in [
        (
            "",
            [
                "/META_DAT.;1",
                "/NETWORK_.;1",
                "/USER_DAT.;1",
                "/VENDOR_D.;1",
            ],
        ),
        (
            "-J",
            [
                "/meta-data",
                "/network-config",
                "/user-data",
                "/vendor-data",
            ],
        ),
        (
            "-R",
            [
                "/meta-data",
                "/network-config",
                "/user-data",
                "/vendor-data",
            ],
        ),
    ] {
        for (path, (seed_name, host)) in names.iter().zip(&files) {
            let want = fs::read(host).unwrap();
            assert_eq!(
                isoinfo_cat(&ours, flag, path),
                want,
                "{flag} {path} ({seed_name})"
            );
            assert_eq!(
                isoinfo_cat(&theirs, flag, path),
                want,
                "{flag} {path} in theirs"
            );
        }
    }

    // pycdlib: names and contents of every name space.
    if have_pycdlib() {
        for ns in ["iso", "joliet", "rr"] {
            assert_eq!(
                pycdlib_names(&ours, ns),
                pycdlib_names(&theirs, ns),
                "pycdlib {ns}"
            );
        }
        let (a, b) = (pycdlib_files(&ours), pycdlib_files(&theirs));
        assert_eq!(a, b, "pycdlib contents");
        for (seed_name, host) in &files {
            let want = fs::read(host).unwrap();
            assert_eq!(a["rr"][*seed_name], want, "pycdlib rr {seed_name}");
            assert_eq!(a["joliet"][*seed_name], want, "pycdlib joliet {seed_name}");
        }
        assert_eq!(a["iso"]["USER_DAT.;1"], USER_DATA.as_bytes());
    }
}

#[test]
fn blkid_sees_the_labels() {
    if !have_tool("blkid") {
        return;
    }
    let dir = tempdir();
    let files = inputs(dir.path());
    let iso = dir.path().join("seed.iso");
    isoforge_seed(&seed_args(iso.to_str().unwrap(), &files));
    let b = blkid(&iso);
    assert_eq!(b.get("TYPE").map(String::as_str), Some("iso9660"), "{b:?}");
    assert_eq!(b.get("LABEL").map(String::as_str), Some("cidata"), "{b:?}");

    let img = dir.path().join("seed.img");
    let mut args = seed_args(img.to_str().unwrap(), &files);
    args.push("--vfat".into());
    isoforge_seed(&args);
    let b = blkid(&img);
    assert_eq!(b.get("TYPE").map(String::as_str), Some("vfat"), "{b:?}");
    // The root directory's label, which blkid reports as LABEL (the boot
    // sector's is LABEL_FATBOOT): cloud-init matches LABEL.
    assert_eq!(b.get("LABEL").map(String::as_str), Some("CIDATA"), "{b:?}");
    assert_eq!(
        b.get("LABEL_FATBOOT").map(String::as_str),
        Some("CIDATA"),
        "{b:?}"
    );
}

#[test]
fn vfat_seed_reads_back_with_mtools_and_fsck() {
    if !have_tool("fsck.fat") || !have("mcopy") {
        return;
    }
    let dir = tempdir();
    let files = inputs(dir.path());
    let extra = dir.path().join("setup.sh");
    fs::write(&extra, "#!/bin/sh\necho setup\n").unwrap();
    let img = dir.path().join("seed.img");
    let mut args = seed_args(img.to_str().unwrap(), &files);
    args.extend(["--vfat".into(), "--file".into()]);
    args.push(format!("scripts/setup.sh={}", extra.display()));
    isoforge_seed(&args);
    run(tool("fsck.fat").arg("-n").arg(&img));
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    run(Command::new("mcopy")
        .arg("-s")
        .arg("-i")
        .arg(&img)
        .arg("::/")
        .arg(&out)
        .env("MTOOLS_SKIP_CHECK", "1"));
    for (name, host) in &files {
        assert_eq!(
            fs::read(out.join(name)).unwrap(),
            fs::read(host).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        fs::read(out.join("scripts/setup.sh")).unwrap(),
        fs::read(&extra).unwrap()
    );
    let listing: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listing.len(), 5, "{listing:?}");
}

#[test]
fn extra_files_go_into_the_iso_seed() {
    if !have("isoinfo") {
        return;
    }
    let dir = tempdir();
    let files = inputs(dir.path());
    let extra = dir.path().join("setup.sh");
    fs::write(&extra, "#!/bin/sh\necho setup\n").unwrap();
    let iso = dir.path().join("seed.iso");
    let mut args = seed_args(iso.to_str().unwrap(), &files);
    args.push("--file".into());
    args.push(format!("scripts/setup.sh={}", extra.display()));
    isoforge_seed(&args);
    for flag in ["-R", "-J"] {
        assert_eq!(
            isoinfo_cat(&iso, flag, "/scripts/setup.sh"),
            fs::read(&extra).unwrap(),
            "{flag}"
        );
    }
    let names = isoinfo_names(&iso, true);
    assert_eq!(names.get("/scripts"), Some(&true), "{names:?}");
}

#[test]
fn same_inputs_same_bytes() {
    let dir = tempdir();
    let files = inputs(dir.path());
    for vfat in [false, true] {
        let mut images = Vec::new();
        for i in 0..2 {
            let p = dir.path().join(format!("seed-{vfat}-{i}"));
            let mut args = seed_args(p.to_str().unwrap(), &files);
            if vfat {
                args.push("--vfat".into());
            }
            isoforge_seed(&args);
            images.push(fs::read(&p).unwrap());
        }
        assert!(images[0] == images[1], "vfat {vfat}: two builds differ");
    }
    // The instance-id derived from the contents: stable, and new when the
    // user-data changes.
    let ud = dir.path().join("ud");
    let id_of = |text: &str| {
        fs::write(&ud, text).unwrap();
        let out = dir.path().join("derived.iso");
        let o = isoforge_ok(&[
            "seed",
            "-o",
            out.to_str().unwrap(),
            "--user-data",
            ud.to_str().unwrap(),
        ]);
        let meta = isoforge_ok(&["cat", out.to_str().unwrap(), "/meta-data"]);
        let meta = String::from_utf8(meta.stdout).unwrap();
        let id = meta
            .strip_prefix("instance-id: \"")
            .and_then(|m| m.split('"').next())
            .unwrap()
            .to_string();
        assert!(
            stderr(&o).contains(&format!("instance-id: {id}")),
            "{}",
            stderr(&o)
        );
        id
    };
    let a = id_of("#cloud-config\nhostname: a\n");
    assert!(a.starts_with("iid-"), "{a}");
    assert_eq!(id_of("#cloud-config\nhostname: a\n"), a);
    assert_ne!(id_of("#cloud-config\nhostname: b\n"), a);
}

#[test]
fn missing_meta_data_is_filled_in() {
    let dir = tempdir();
    let out = dir.path().join("seed.iso");
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl k@h";
    let keyfile = dir.path().join("id.pub");
    fs::write(&keyfile, format!("# a comment\n{key}\n")).unwrap();
    let o = isoforge_ok(&[
        "seed",
        "-o",
        out.to_str().unwrap(),
        "--hostname",
        "vm-1",
        "--instance-id",
        "i-42",
        "--ssh-key",
        keyfile.to_str().unwrap(),
        "--password-hash",
        "$6$salt$0123456789abcdef",
    ]);
    assert!(
        stderr(&o).contains("generated meta-data and user-data"),
        "{}",
        stderr(&o)
    );
    let cat = |p: &str| {
        String::from_utf8(isoforge_ok(&["cat", out.to_str().unwrap(), p]).stdout).unwrap()
    };
    assert_eq!(
        cat("/meta-data"),
        "instance-id: \"i-42\"\nlocal-hostname: \"vm-1\"\n"
    );
    assert_eq!(
        cat("/user-data"),
        format!(
            "#cloud-config\nhostname: \"vm-1\"\nssh_authorized_keys:\n  - \"{key}\"\n\
             password: \"$6$salt$0123456789abcdef\"\nchpasswd:\n  expire: false\n"
        )
    );
    // Only user-data given: meta-data is still written (cloud-init skips
    // a seed without it).
    let ud = dir.path().join("ud");
    fs::write(&ud, USER_DATA).unwrap();
    let o = isoforge_ok(&[
        "seed",
        "-o",
        out.to_str().unwrap(),
        "--user-data",
        ud.to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("generated meta-data"), "{}", stderr(&o));
    assert!(cat("/meta-data").starts_with("instance-id: \"iid-"));
    let inspect = isoforge_ok(&["seed", "--inspect", out.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert!(
        v["instance_id"].as_str().unwrap().starts_with("iid-"),
        "{v}"
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["label"], "cidata");
}

/// Runs `isoforge seed` with one seed file of the given text; returns the
/// exit code and standard error.
fn seed_with(
    option: &str,
    text: &str,
    extra: &[&str],
) -> (i32, String, PathBuf, tempfile::TempDir) {
    let dir = tempdir();
    let input = dir.path().join("input.yaml");
    fs::write(&input, text).unwrap();
    let out = dir.path().join("seed.iso");
    let mut args = vec![
        "seed",
        "-o",
        out.to_str().unwrap(),
        option,
        input.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = isoforge(&args);
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    (o.status.code().unwrap(), err, out, dir)
}

#[test]
fn bad_inputs_get_their_messages() {
    // Invalid YAML: the error names the file and the line.
    let (code, err, out, _d) = seed_with(
        "--user-data",
        "#cloud-config\npackages:\n  - curl\n - vim\n",
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("user-data ("), "{err}");
    assert!(err.contains("input.yaml) line 4: invalid YAML"), "{err}");
    assert!(!out.exists(), "an image was written despite the error");

    let (code, err, ..) = seed_with(
        "--meta-data",
        "instance-id: a\nlocal-hostname: x\npublic-keys: {a: [b}\n",
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("meta-data ("), "{err}");
    assert!(err.contains("line 3: invalid YAML"), "{err}");

    // instance_id: a warning naming the right key; the seed is written.
    let (code, err, out, _d) =
        seed_with("--meta-data", "instance_id: i-1\nlocal-hostname: h\n", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("line 1: instance_id: cloud-init reads instance-id"),
        "{err}"
    );
    assert!(out.exists());

    // A header cloud-init does not know.
    let (code, err, ..) = seed_with("--user-data", "cloud-config\nhostname: x\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("user-data (") && err.contains("line 1: starts with \"cloud-config\""),
        "{err}"
    );
    assert!(err.contains("#cloud-config"), "{err}");

    // cloud-config that is not a mapping, and dashes where cloud-init
    // reads underscores.
    let (code, err, ..) = seed_with("--user-data", "#cloud-config\n- a\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 2: the cloud-config is a list"), "{err}");
    let (code, err, ..) = seed_with(
        "--user-data",
        "#cloud-config\nssh-authorized-keys: []\n",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("line 2: ssh-authorized-keys: cloud-init reads ssh_authorized_keys"),
        "{err}"
    );

    // network-config versions.
    let (code, err, ..) = seed_with("--network-config", "ethernets: {}\nversion: 3\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("network-config (") && err.contains("line 2: version is 3"),
        "{err}"
    );

    // --no-check writes it anyway, and --inspect then reports it (exit 1).
    let (code, err, out, _d) = seed_with("--user-data", "cloud-config\n", &["--no-check"]);
    assert_eq!(code, 0, "{err}");
    let o = isoforge(&["seed", "--inspect", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("error: user-data line 1: starts with"),
        "{text}"
    );

    // Options that contradict each other or are not what they claim.
    for args in [
        vec!["--hostname", "bad_name"],
        vec!["--ssh-key", "not-a-key-and-not-a-file"],
        vec!["--password-hash", "plaintext"],
        vec!["--file", "meta-data=/etc/hostname"],
    ] {
        let dir = tempdir();
        let out = dir.path().join("s.iso");
        let mut a = vec!["seed", "-o", out.to_str().unwrap()];
        a.extend(&args);
        let o = isoforge(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn inspect_reads_cloud_localds_seeds() {
    if !have("cloud-localds") || !have_tool("mkfs.vfat") || !have("mcopy") {
        return;
    }
    let dir = tempdir();
    let files = inputs(dir.path());
    for fs_type in ["iso9660", "vfat"] {
        let img = dir.path().join(format!("seed.{fs_type}"));
        run(tool("cloud-localds")
            .arg("-f")
            .arg(fs_type)
            .arg("-N")
            .arg(&files["network-config"])
            .arg(&img)
            .arg(&files["user-data"])
            .arg(&files["meta-data"]));
        let o = isoforge_ok(&["seed", "--inspect", img.to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["type"], fs_type, "{v}");
        assert_eq!(v["label"], "cidata", "{v}");
        assert_eq!(v["instance_id"], "iid-seed-test", "{v}");
        assert_eq!(v["local_hostname"], "seedhost", "{v}");
        assert_eq!(v["ok"], true, "{v}");
        let names: Vec<&str> = v["listings"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        for n in ["user-data", "meta-data", "network-config"] {
            assert!(names.contains(&n), "{fs_type}: {names:?}");
        }
    }
    // Not a seed at all.
    let junk = dir.path().join("junk");
    fs::write(&junk, vec![0u8; 8192]).unwrap();
    let o = isoforge(&["seed", "--inspect", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("neither an ISO 9660 nor a FAT image"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inspect_flags_a_wrong_label() {
    if !have("genisoimage") {
        return;
    }
    let dir = tempdir();
    let files = inputs(dir.path());
    let img = dir.path().join("wrong.iso");
    // A label in mixed case, and no Joliet: cloud-init finds neither.
    run(Command::new("genisoimage")
        .arg("-quiet")
        .arg("-o")
        .arg(&img)
        .arg("-V")
        .arg("CiData")
        .arg("-R")
        .arg("-graft-points")
        .arg(format!("user-data={}", files["user-data"].display()))
        .arg(format!("meta-data={}", files["meta-data"].display())));
    let o = isoforge(&["seed", "--inspect", img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("the label is \"CiData\""), "{text}");
    assert!(text.contains("no Joliet tree"), "{text}");
}
