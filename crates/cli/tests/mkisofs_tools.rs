//! Real build tools, unchanged, running isoforge in place of xorriso and
//! genisoimage: `grub-mkrescue --xorriso=<link named xorriso>` makes an
//! image that boots under SeaBIOS and OVMF, as a CD and as a disk, as the
//! one it makes with xorriso does; `cloud-localds` with isoforge first on
//! PATH as `genisoimage` makes a seed with the same names in every name
//! space and the same volume id as genisoimage's.
#![allow(clippy::unwrap_used)]

#[path = "common/boot_tree.rs"]
mod boot_tree;
mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use qemu::{Firmware, Media};

const MARKER: &str = "ISOFORGE-GRUB-MKRESCUE-OK";

/// A directory holding links named mkisofs, genisoimage, xorrisofs and
/// xorriso to the binary under test, made by `isoforge install-links`.
fn links(dir: &Path) -> PathBuf {
    let d = dir.join("bin");
    let out = isoforge_ok(&["install-links", d.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("xorriso"));
    for n in ["mkisofs", "genisoimage", "xorrisofs", "xorriso"] {
        assert_eq!(fs::read_link(d.join(n)).unwrap(), bin());
    }
    d
}

struct Rescue {
    _dir: tempfile::TempDir,
    /// The arguments grub-mkrescue gave isoforge, one a line.
    log: PathBuf,
    ours: PathBuf,
    theirs: PathBuf,
}

/// grub-mkrescue's image of a tree whose grub.cfg prints [`MARKER`] on the
/// serial console, once with isoforge as xorriso and once with xorriso.
fn rescue() -> Option<&'static Rescue> {
    static R: OnceLock<Option<Rescue>> = OnceLock::new();
    R.get_or_init(|| {
        if !have("grub-mkrescue")
            || !have("xorriso")
            || !have_file("/usr/lib/grub/i386-pc/boot_hybrid.img")
            || !have_file("/usr/lib/grub/x86_64-efi/kernel.img")
            || !have_tool("mformat")
        {
            return None;
        }
        let dir = tempdir();
        let bins = links(dir.path());
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("boot/grub")).unwrap();
        fs::write(
            src.join("boot/grub/grub.cfg"),
            format!(
                "serial --unit=0 --speed=115200\nterminal_output serial console\n\
                 echo {MARKER}\nsleep 3600\n"
            ),
        )
        .unwrap();
        fs::write(src.join("hello.txt"), b"hello from the rescue image\n").unwrap();
        let ours = dir.path().join("ours.iso");
        let theirs = dir.path().join("theirs.iso");
        // A wrapper named xorriso that records its arguments and runs
        // isoforge's xorriso link.
        let log = dir.path().join("args.log");
        let wrap = dir.path().join("wrap");
        fs::create_dir(&wrap).unwrap();
        fs::write(
            wrap.join("xorriso"),
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                bins.join("xorriso").display()
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(wrap.join("xorriso"), fs::Permissions::from_mode(0o755)).unwrap();
        }
        for (img, xorriso) in [
            (&ours, wrap.join("xorriso")),
            (&theirs, PathBuf::from("xorriso")),
        ] {
            let out = tool("grub-mkrescue")
                .arg(format!("--xorriso={}", xorriso.display()))
                .arg("-o")
                .arg(img)
                .arg(&src)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "grub-mkrescue with {xorriso:?}: {err}"
            );
            // grub-mkrescue found --grub2-boot-info in the help: it says
            // so when it does not.
            assert!(!err.contains("doesn't support"), "{err}");
        }
        Some(Rescue {
            _dir: dir,
            log,
            ours,
            theirs,
        })
    })
    .as_ref()
}

fn boots(img: &Path, fw: Firmware, media: Media) {
    if !qemu::have_qemu(fw) {
        return;
    }
    qemu::boot(img, fw, media, MARKER, qemu::boot_timeout(fw)).assert_booted();
}

#[test]
fn grub_mkrescue_image_has_grubs_boot_setup() {
    let Some(r) = rescue() else { return };
    // The El Torito entries and the MBR and GPT types as xorriso reports
    // them; isoforge writes no HFS+ (grub-mkrescue asks for none, since the
    // help does not offer it), so xorriso's image has the APM and the HFS+
    // GPT entries that ours lacks.
    let ours = xorriso::boot_setup(&r.ours);
    let theirs = xorriso::boot_setup(&r.theirs);
    let keep = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| {
                l.starts_with("El Torito boot img")
                    || l.starts_with("El Torito img opts")
                    || l.starts_with("El Torito img path")
                    || l.starts_with("MBR partition :")
                    || l.starts_with("MBR partition  ")
            })
            .cloned()
            .collect()
    };
    assert_eq!(
        keep(&ours),
        keep(&theirs),
        "ours:\n{ours:#?}\ntheirs:\n{theirs:#?}"
    );
    let sum = |v: &[String]| {
        v.iter()
            .find(|l| l.starts_with("System area summary"))
            .cloned()
    };
    let s = sum(&ours).unwrap();
    assert!(
        s.contains("grub2-mbr") && s.contains("protective-msdos-label"),
        "{s}"
    );
    // GRUB finds its file system by the volume modification date that
    // grub-mkrescue passes (--modification-date), recorded by the wrapper.
    let log = fs::read_to_string(&r.log).unwrap();
    let date = log
        .lines()
        .find_map(|l| l.strip_prefix("--modification-date="))
        .expect("grub-mkrescue passes --modification-date");
    let civil = format!(
        "{}-{}-{} {}:{}:{}",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &date[8..10],
        &date[10..12],
        &date[12..14]
    );
    let out = run(Command::new("date")
        .env("TZ", "UTC")
        .args(["-d", &civil, "+%s"]));
    let want: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(xorriso::volume_dates(&r.ours).1, want, "{date}");
}

#[test]
fn grub_mkrescue_image_boots_seabios_cd() {
    let Some(r) = rescue() else { return };
    boots(&r.ours, Firmware::SeaBios, Media::Cdrom);
}

#[test]
fn grub_mkrescue_image_boots_seabios_disk() {
    let Some(r) = rescue() else { return };
    boots(&r.ours, Firmware::SeaBios, Media::IdeDisk);
}

#[test]
fn grub_mkrescue_image_boots_ovmf_cd() {
    let Some(r) = rescue() else { return };
    boots(&r.ours, Firmware::Ovmf, Media::Cdrom);
}

#[test]
fn grub_mkrescue_image_boots_ovmf_disk() {
    let Some(r) = rescue() else { return };
    boots(&r.ours, Firmware::Ovmf, Media::IdeDisk);
}

/// Names of every name space of a seed, by pycdlib, and its volume id by
/// isoinfo.
fn seed_view(img: &Path) -> (BTreeMap<String, BTreeMap<String, bool>>, String) {
    let mut m = BTreeMap::new();
    for space in ["iso", "joliet", "rr"] {
        m.insert(space.to_string(), pycdlib_names(img, space));
    }
    let out = run(Command::new("isoinfo").arg("-d").arg("-i").arg(img));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let vol = text
        .lines()
        .find_map(|l| l.strip_prefix("Volume id: "))
        .unwrap_or_default()
        .to_string();
    (m, vol)
}

#[test]
fn cloud_localds_with_isoforge_as_genisoimage() {
    if !have("cloud-localds") || !have("genisoimage") || !have("isoinfo") || !have_pycdlib() {
        return;
    }
    let dir = tempdir();
    let bins = links(dir.path());
    let ud = dir.path().join("user-data");
    fs::write(
        &ud,
        "#cloud-config\npassword: passw0rd\nchpasswd: { expire: False }\n",
    )
    .unwrap();
    let md = dir.path().join("meta-data");
    fs::write(&md, "instance-id: iid-local01\nlocal-hostname: seeded\n").unwrap();
    let nc = dir.path().join("network-config");
    fs::write(&nc, "version: 2\nethernets: {}\n").unwrap();
    let mut views = Vec::new();
    for (name, path_first) in [("ours", Some(&bins)), ("theirs", None)] {
        let img = dir.path().join(format!("{name}.iso"));
        let path = match path_first {
            Some(b) => format!("{}:{}", b.display(), sbin_path()),
            None => sbin_path(),
        };
        let out = Command::new("cloud-localds")
            .env("PATH", path)
            .arg("--network-config")
            .arg(&nc)
            .arg(&img)
            .arg(&ud)
            .arg(&md)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cloud-localds ({name}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        views.push(seed_view(&img));
        // The contents are the inputs, byte for byte.
        for (f, host) in [
            ("/user-data", &ud),
            ("/meta-data", &md),
            ("/network-config", &nc),
        ] {
            let got = isoforge_ok(&["cat", img.to_str().unwrap(), f]).stdout;
            assert_eq!(got, fs::read(host).unwrap(), "{name}: {f}");
        }
    }
    assert_eq!(views[0], views[1]);
    assert_eq!(views[0].1, "cidata");
    assert!(
        views[0].0["rr"].contains_key("/network-config"),
        "{:?}",
        views[0]
    );
}
