//! The mkisofs front end: the names the binary answers to, help and version
//! as build tools probe them, the parsing rules (any order, attached
//! values, repeated flags, merged sources, grafts with escapes, path lists,
//! `--`), refusals with their messages, and the flags compared with
//! `xorriso -as mkisofs` on the same tree: names in every name space
//! (pycdlib), Rock Ridge attributes and contents (isoforge's reader on both
//! images, and xorriso's extraction of ours).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// Links of every name to the binary under test, in `dir/bin`.
fn links(dir: &Path) -> PathBuf {
    let d = dir.join("bin");
    isoforge_ok(&["install-links", d.to_str().unwrap()]);
    d
}

fn named(dir: &Path, name: &str, args: &[&str]) -> Output {
    Command::new(dir.join(name)).args(args).output().unwrap()
}

fn mk(args: &[&str]) -> Output {
    let mut v = vec!["mkisofs"];
    v.extend_from_slice(args);
    isoforge(&v)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_goes_to_stderr_under_every_name_and_names_grub2_boot_info() {
    let d = tempdir();
    let bins = links(d.path());
    let outs = [
        named(&bins, "mkisofs", &["-help"]),
        named(&bins, "genisoimage", &["--help"]),
        named(&bins, "xorrisofs", &["-help"]),
        named(&bins, "xorriso", &["-as", "mkisofs", "-help"]),
        named(
            &bins,
            "xorriso",
            &["-no_rc", "-as", "genisoimage", "--help"],
        ),
        mk(&["-help"]),
    ];
    for o in outs {
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
        let err = text(&o.stderr);
        assert!(err.contains("--grub2-boot-info"), "{err}");
        assert!(err.contains("install-links"), "{err}");
    }
}

#[test]
fn version_lines_in_each_programs_form() {
    let d = tempdir();
    let bins = links(d.path());
    let first = |o: Output| {
        text(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(first(named(&bins, "xorriso", &["-version"]))
        .starts_with("xorriso 1.5.4 : RockRidge filesystem manipulator"));
    assert!(
        first(named(&bins, "xorriso", &["-as", "mkisofs", "-version"]))
            .starts_with("mkisofs 2.01-Emulation")
    );
    assert!(first(named(&bins, "xorrisofs", &["-version"])).starts_with("mkisofs 2.01-Emulation"));
    assert!(first(named(&bins, "genisoimage", &["-version"])).starts_with("genisoimage 1.1.11"));
    assert!(first(mk(&["-version"])).starts_with("mkisofs 2.01-Emulation"));
}

#[test]
fn top_level_help_shows_the_front_end_and_install_links() {
    let out = text(&isoforge_ok(&["--help"]).stdout);
    assert!(
        out.contains("mkisofs") && out.contains("install-links"),
        "{out}"
    );
    let d = tempdir();
    let bins = links(d.path());
    // A second run refuses to replace them, unless told to.
    let again = isoforge(&["install-links", bins.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("--force"));
    isoforge_ok(&["install-links", "--force", bins.to_str().unwrap()]);
}

#[test]
fn unknown_options_and_native_commands_are_named_with_exit_2() {
    let d = tempdir();
    let bins = links(d.path());
    for (o, what) in [
        (mk(&["-o", "x.iso", "-frobnicate", "."]), "-frobnicate"),
        (
            named(&bins, "genisoimage", &["--no-such-flag", "."]),
            "--no-such-flag",
        ),
        (
            named(
                &bins,
                "xorriso",
                &["-outdev", "x.iso", "-as", "mkisofs", "."],
            ),
            "-outdev",
        ),
        (
            named(&bins, "xorriso", &["-as", "cdrecord", "x"]),
            "cdrecord",
        ),
        (
            named(
                &bins,
                "xorriso",
                &["-boot_image", "any", "cat_path=/x", "-as", "mkisofs"],
            ),
            "cat_path",
        ),
        (
            named(
                &bins,
                "xorrisofs",
                &["-R", "-o", "x.iso", ".", "--", "-commit"],
            ),
            "-commit",
        ),
    ] {
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(what), "{what}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn refused_flags_say_why() {
    let d = tempdir();
    let out = d.path().join("x.iso");
    for (flag, value, why) in [
        ("-chrp-boot", None, "not supported"),
        ("-mips-boot", Some("x"), "not supported"),
        ("--grub2-sparc-core", Some("x"), "not supported"),
        ("-hfs", None, "HFS"),
        ("-jigdo-jigdo", Some("x"), "jigdo"),
        ("-jigdo-template", Some("x"), "jigdo"),
        ("-md5-list", Some("x"), "jigdo"),
        ("-udf", None, "UDF"),
        ("-allow-limited-size", None, "UDF"),
    ] {
        let mut args = vec!["-o", out.to_str().unwrap(), flag];
        args.extend(value);
        args.push(".");
        let o = mk(&args);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        let err = text(&o.stderr);
        assert!(err.contains(flag) && err.contains(why), "{flag}: {err}");
        assert!(!out.exists(), "{flag}");
    }
}

#[test]
fn loud_where_mkisofs_is_silently_wrong() {
    let d = tempdir();
    let src = d.path().join("src");
    fs::create_dir(&src).unwrap();
    let long = format!("{}.txt", "j".repeat(80));
    fs::write(src.join(&long), b"x").unwrap();
    let img = d.path().join("a.iso");
    let s = src.to_str().unwrap();
    // A volume id over 32 characters: refused (mkisofs cuts it).
    let o = mk(&["-o", img.to_str().unwrap(), "-V", &"V".repeat(33), s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).to_lowercase().contains("volume"),
        "{}",
        text(&o.stderr)
    );
    // A Joliet name cut to 64 characters: a warning naming the file.
    let o = mk(&["-o", img.to_str().unwrap(), "-J", s]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains(&long) && err.contains("Joliet"), "{err}");
    // -hfsplus (which grub-mkrescue passes): accepted, with a warning that
    // no HFS+ is written.
    let o = mk(&[
        "-o",
        img.to_str().unwrap(),
        "-hfsplus",
        "-hfs-bless-by",
        "i",
        "/x",
        s,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no HFS+ file system is written"),
        "{}",
        text(&o.stderr)
    );
    // A long Joliet name is not cut with -joliet-long, where it fits.
    let o = mk(&["-o", img.to_str().unwrap(), "-J", "-joliet-long", s]);
    assert!(!text(&o.stderr).contains(&long), "{}", text(&o.stderr));
    // A file over 4 GiB at ISO level 1 or 2: refused (genisoimage records
    // its size mod 2^32); at level 3 it is written.
    let big = d.path().join("big");
    fs::create_dir(&big).unwrap();
    let f = fs::File::create(big.join("huge.bin")).unwrap();
    f.set_len((4 << 30) + 4096).unwrap();
    let b = big.to_str().unwrap();
    for lvl in [&[][..], &["-iso-level", "2"][..]] {
        let mut args = vec!["-print-size"];
        args.extend_from_slice(lvl);
        args.push(b);
        let o = mk(&args);
        assert_eq!(o.status.code(), Some(2), "{lvl:?}");
        assert!(text(&o.stderr).contains("huge.bin"), "{}", text(&o.stderr));
    }
    let o = mk(&["-print-size", "-iso-level", "3", b]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let blocks: u64 = text(&o.stdout).trim().parse().unwrap();
    assert!(blocks > (4 << 30) / 2048);
}

// ---------------------------------------------------------------------------
// Compared with xorriso

/// A small distro-like tree: nested directories, long and mixed-case names,
/// a symbolic link, an executable, object files and a CVS directory to
/// exclude.
fn make_src(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let files: &[(&str, &[u8])] = &[
        ("README.TXT", b"readme\n"),
        ("boot/grub/grub.cfg", b"set timeout=5\n"),
        ("boot/isolinux/isolinux.cfg", b"default linux\n"),
        ("live/vmlinuz", b"kernel bytes\n"),
        ("live/filesystem.squashfs", b"squash"),
        ("pool/main/a/apt/apt_2.6.1_amd64.deb", b"deb"),
        (
            "pool/main/a/apt/A Long Mixed-Case File Name for Joliet.txt",
            b"long",
        ),
        ("src/main.o", b"obj"),
        ("src/main.c", b"int main(){}\n"),
        ("src/CVS/Entries", b"cvs"),
        ("tools/run.sh", b"#!/bin/sh\n"),
    ];
    for (p, data) in files {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        touch(&path, 1_600_000_000);
    }
    fs::set_permissions(root.join("tools/run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("vmlinuz", root.join("live/vmlinuz.link")).unwrap();
}

/// Type, size, mode, link target, uid and gid of an entry.
type Attrs = (String, u64, String, Option<String>, u64, u64);

/// What is compared between two images: the names of each name space
/// (pycdlib), and the Rock Ridge tree as isoforge reads it (type, size,
/// mode, target), with the volume id.
#[derive(Debug, PartialEq)]
struct View {
    names: BTreeMap<String, BTreeMap<String, bool>>,
    tree: BTreeMap<String, Attrs>,
    volume_id: String,
}

fn view(img: &Path) -> View {
    let mut names = BTreeMap::new();
    let pvd = text(&run(Command::new("isoinfo").arg("-d").arg("-i").arg(img)).stdout);
    let joliet = pvd.contains("Joliet with UCS level");
    for space in ["iso", "rr"].iter().chain(joliet.then_some(&"joliet")) {
        names.insert(space.to_string(), pycdlib_names(img, space));
    }
    let out = isoforge_ok(&[
        "ls",
        "-r",
        "--json",
        "--view",
        "rockridge",
        img.to_str().unwrap(),
    ]);
    let tree = ls_entries(&out.stdout)
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                (
                    e["type"].as_str().unwrap().to_string(),
                    if e["type"] == "file" {
                        e["size"].as_u64().unwrap()
                    } else {
                        0
                    },
                    e["mode"].as_str().unwrap().to_string(),
                    e["target"].as_str().map(str::to_string),
                    e["uid"].as_u64().unwrap_or(0),
                    e["gid"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect();
    let volume_id = pvd
        .lines()
        .find_map(|l| l.strip_prefix("Volume id: "))
        .unwrap_or_default()
        .to_string();
    View {
        names,
        tree,
        volume_id,
    }
}

fn oracles() -> bool {
    have("xorriso") && have("isoinfo") && have_pycdlib()
}

/// Builds with `xorriso -as mkisofs ARGS` and `isoforge mkisofs ARGS`
/// (with `{src}` in ARGS replaced by the source tree) and compares.
fn same_as_xorriso(args: &[&str], lists: &[(&str, &str)]) -> (PathBuf, tempfile::TempDir) {
    let d = tempdir();
    let src = d.path().join("src");
    make_src(&src);
    let other = d.path().join("other");
    fs::create_dir_all(other.join("extra")).unwrap();
    fs::write(other.join("extra/added.txt"), b"merged\n").unwrap();
    fs::write(other.join("top.txt"), b"top\n").unwrap();
    let ours = d.path().join("ours.iso");
    let theirs = d.path().join("theirs.iso");
    let subst = |a: &str| -> String {
        a.replace("{src}", src.to_str().unwrap())
            .replace("{other}", other.to_str().unwrap())
            .replace("{dir}", d.path().to_str().unwrap())
    };
    for (name, content) in lists {
        fs::write(d.path().join(name), subst(content)).unwrap();
    }
    let fill = |img: &Path| -> Vec<String> {
        let mut v = vec!["-o".to_string(), img.display().to_string()];
        v.extend(args.iter().map(|a| subst(a)));
        v
    };
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet"])
        .args(fill(&theirs))
        .env("SOURCE_DATE_EPOCH", "1700000000"));
    let o = Command::new(bin())
        .arg("mkisofs")
        .args(fill(&ours))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("warning"),
        "{args:?}: {}",
        text(&o.stderr)
    );
    let (a, b) = (view(&ours), view(&theirs));
    assert_eq!(a, b, "{args:?}");
    // The contents, as xorriso extracts them from our image, are the
    // source's files.
    let x = d.path().join("x");
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&ours)
        .args(["-extract", "/"])
        .arg(&x));
    for (p, (kind, ..)) in &a.tree {
        if kind == "file" {
            let rel = p.trim_start_matches('/');
            let got = fs::read(x.join(rel)).unwrap();
            let from_src = src.join(rel);
            let host = if from_src.exists() {
                from_src
            } else {
                other.join(rel)
            };
            if host.exists() {
                assert_eq!(got, fs::read(&host).unwrap(), "{p}");
            }
        }
    }
    (ours, d)
}

#[test]
fn rock_and_joliet_as_xorriso() {
    if oracles() {
        same_as_xorriso(&["-R", "-J", "-V", "DISC", "{src}"], &[]);
    }
}

#[test]
fn rational_rock_joliet_long_aliases_and_attached_values_as_xorriso() {
    if oracles() {
        same_as_xorriso(
            &[
                "-rational-rock",
                "-joliet",
                "-joliet-long",
                "-V",
                "LABEL_1",
                "-A",
                "APP",
                "-publisher",
                "PUB",
                "-p",
                "PREP",
                "-sysid",
                "SYS",
                "-volset",
                "SET",
                "{src}",
            ],
            &[],
        );
    }
}

#[test]
fn full_names_levels_and_repeats_as_xorriso() {
    if oracles() {
        same_as_xorriso(&["-l", "-R", "-R", "-J", "-J", "{src}"], &[]);
        same_as_xorriso(&["-iso-level", "3", "-r", "-J", "{src}"], &[]);
        same_as_xorriso(
            &["-iso-level", "2", "-R", "-cache-inodes", "-pad", "{src}"],
            &[],
        );
    }
}

/// ISO level 4: isoforge writes ISO 9660:1999 (an enhanced volume
/// descriptor with the names as they are) where xorriso 1.5.4 under `-as
/// mkisofs` writes level-3 names; the Rock Ridge and Joliet trees agree.
#[test]
fn iso_level_4_rock_ridge_and_joliet_as_xorriso() {
    if !oracles() {
        return;
    }
    let d = tempdir();
    let src = d.path().join("src");
    make_src(&src);
    let mut views = Vec::new();
    for ours in [true, false] {
        let img = d.path().join(format!("{ours}.iso"));
        let args = [
            "-iso-level",
            "4",
            "-R",
            "-J",
            "-o",
            img.to_str().unwrap(),
            src.to_str().unwrap(),
        ];
        if ours {
            isoforge_ok(&[&["mkisofs"][..], &args[..]].concat());
        } else {
            run(Command::new("xorriso")
                .args(["-as", "mkisofs", "-quiet"])
                .args(args));
        }
        let mut v = view(&img);
        v.names.remove("iso");
        views.push(v);
    }
    assert_eq!(views[0], views[1]);
}

/// Values attached to one-letter options, as genisoimage reads them.
#[test]
fn attached_values_as_genisoimage() {
    if !have("genisoimage") || !have("isoinfo") {
        return;
    }
    let d = tempdir();
    let src = d.path().join("src");
    make_src(&src);
    let bins = links(d.path());
    let mut ids = Vec::new();
    for prog in [bins.join("genisoimage"), PathBuf::from("genisoimage")] {
        let img = d.path().join("a.iso");
        let _ = fs::remove_file(&img);
        run(Command::new(prog)
            .current_dir(d.path())
            .args(["-quiet", "-R", "-VATTACHED_ID", "-Aapp.1", "-oa.iso"])
            .arg(&src));
        let pvd = text(&run(Command::new("isoinfo").arg("-d").arg("-i").arg(&img)).stdout);
        let pick = |k: &str| {
            pvd.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_default()
                .to_string()
        };
        ids.push((pick("Volume id: "), pick("Application id: ")));
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].0, "ATTACHED_ID");
}

#[test]
fn excludes_as_xorriso() {
    if oracles() {
        same_as_xorriso(&["-R", "-J", "-m", "*.o", "-exclude", "CVS", "{src}"], &[]);
        same_as_xorriso(&["-R", "-x", "{src}/pool", "{src}"], &[]);
    }
}

#[test]
fn several_sources_merge_into_the_root_as_xorriso() {
    if oracles() {
        same_as_xorriso(&["-R", "-J", "{src}", "{other}"], &[]);
        same_as_xorriso(&["-R", "{src}/README.TXT", "{other}"], &[]);
    }
}

#[test]
fn graft_points_with_escapes_as_xorriso() {
    if oracles() {
        same_as_xorriso(
            &[
                "-R",
                "-graft-points",
                "/={src}",
                "/more/x\\=y/={other}",
                "/a\\\\b/top={other}/top.txt",
                "docs/={src}/README.TXT",
            ],
            &[],
        );
    }
}

#[test]
fn path_list_as_xorriso() {
    if oracles() {
        same_as_xorriso(
            &[
                "-R",
                "-graft-points",
                "-path-list",
                "{dir}/paths.lst",
                "/solo={src}/README.TXT",
            ],
            &[("paths.lst", "/={src}\n/more={other}\n")],
        );
    }
}

#[test]
fn modification_date_sets_the_volume_date_as_xorriso() {
    if !oracles() {
        return;
    }
    let (ours, _d) = same_as_xorriso(
        &["-R", "--modification-date=2024010203040500", "{src}"],
        &[],
    );
    let (_, modified) = xorriso::volume_dates(&ours);
    assert_eq!(modified, 1_704_164_645);
}

#[test]
fn system_area_from_a_longer_file_is_its_first_32768_bytes_as_xorriso() {
    if !oracles() {
        return;
    }
    let big = "0123456789abcdef".repeat(2600);
    let (ours, d) = same_as_xorriso(&["-R", "-G", "{dir}/big", "{src}"], &[("big", &big)]);
    let img = fs::read(&ours).unwrap();
    assert_eq!(&img[..32768], &big.as_bytes()[..32768]);
    drop(d);
}

#[test]
fn dash_dash_ends_the_options_for_genisoimage() {
    let d = tempdir();
    let src = d.path().join("-src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f.txt"), b"f").unwrap();
    let bins = links(d.path());
    let img = d.path().join("a.iso");
    let o = Command::new(bins.join("genisoimage"))
        .current_dir(d.path())
        .args(["-o", "a.iso", "-R", "--", "-src"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(our_names(&img, "rockridge").contains_key("/f.txt"));
}

#[test]
fn xorriso_native_settings_before_as_mkisofs() {
    if !have("xorriso") {
        return;
    }
    let d = tempdir();
    let src = d.path().join("src");
    make_src(&src);
    let bins = links(d.path());
    let img = d.path().join("a.iso");
    let esp = d.path().join("esp.img");
    fs::write(&esp, vec![0u8; 64 * 1024]).unwrap();
    run(Command::new(bins.join("xorriso")).args([
        "-no_rc",
        "-report_about",
        "SORRY",
        "-boot_image",
        "any",
        "gpt_disk_guid=00112233445566778899aabbccddeeff",
        "-volume_date",
        "all_file_dates",
        "=1650000000",
        "-as",
        "mkisofs",
        "-R",
        "-o",
        img.to_str().unwrap(),
        "-append_partition",
        "2",
        "0xef",
        esp.to_str().unwrap(),
        "-appended_part_as_gpt",
        src.to_str().unwrap(),
    ]));
    let e = ls_entry(&img, "/README.TXT");
    assert_eq!(e["mtime_unix"].as_i64(), Some(1_650_000_000), "{e}");
    let rep = xorriso::xorriso_report(&img);
    assert_eq!(
        rep["GPT disk GUID"][0][0], "00112233445566778899aabbccddeeff",
        "{rep:?}"
    );
}
