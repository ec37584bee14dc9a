//! A virtual machine reads the seeds `isoforge seed` writes, with
//! cloud-init itself.
//!
//! QEMU boots the host's Debian kernel (package linux-image-amd64) with a
//! small initramfs made here: static busybox (busybox-static) and the
//! modules to mount the host's root file system read-only over virtio-9p,
//! with a tmpfs overlay on top. In that root the guest runs the host's
//! cloud-init (package cloud-init) as a first boot does: `ds-identify`
//! looks for a file system labelled cidata or CIDATA with blkid, then
//! `cloud-init init --local`, `cloud-init init` and (for the ISO seed)
//! `cloud-init modules --mode config` read the seed, set the host name,
//! SSH key and password, and render the network configuration. The guest
//! prints what cloud-init stored, base64-encoded, between markers on the
//! serial console; the test compares it with the seed's inputs.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{have, have_file, have_tool, isoforge_ok, tempdir, tool};

const QEMU: &str = "qemu-system-x86_64";
/// A boot with cloud-init runs for one to three minutes under TCG; a
/// loaded machine is slower still.
const DEADLINE: Duration = Duration::from_secs(900);

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl vm@seed";
const HASH: &str =
    "$6$isoforge$9Yw3C0m2tDqUvCe0eQ1b8x1aT0qXzKc5w8m3sBq0o8E7bqvVh6mVJ4m0b0Qb3aZqK2dY6fXf3y7Q0L1m2n3o4p";
const NETWORK_CONFIG: &str = "version: 2\nethernets:\n  eth0:\n    addresses: [192.0.2.10/24]\n";
const VENDOR_DATA: &str = "#cloud-config\nruncmd:\n  - [echo, from vendor-data]\n";

/// The guest's init: mount the host root read-only over 9p with a tmpfs
/// overlay, and run the probe in it.
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do insmod "/modules/$m" || echo "@@FAIL insmod $m"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /lower || echo "@@FAIL 9p"
mount -t tmpfs tmp /upper
mkdir -p /upper/rw /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/rw,workdir=/upper/work /newroot || echo "@@FAIL overlay"
cp /probe.sh /newroot/probe.sh
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs run /newroot/run
mount -t tmpfs tmp /newroot/tmp
chroot /newroot /bin/sh /probe.sh
echo "@@PROBE-EXIT $?"
poweroff -f
"#;

/// Runs cloud-init on the seed and prints what it stored. `FULL` is set
/// above this text: 1 to run the config stage too (password).
const PROBE: &str = r#"
echo "@@PROBE-START"
for m in isofs vfat sr_mod virtio_blk ata_piix virtio_net nls_utf8 nls_ascii nls_cp437 nls_iso8859-1; do
    modprobe $m
done
echo "@@BLKID $(blkid -t LABEL=cidata -o device) $(blkid -t LABEL=CIDATA -o device)"
/usr/lib/cloud-init/ds-identify --force
echo "@@DS-IDENTIFY $(grep datasource_list /run/cloud-init/cloud.cfg)"
cloud-init init --local >/dev/null 2>&1; echo "@@RC local $?"
cloud-init init >/dev/null 2>&1; echo "@@RC init $?"
if [ "$FULL" = 1 ]; then
    cloud-init modules --mode config >/dev/null 2>&1; echo "@@RC config $?"
fi
emit() {
    echo "@@BEGIN $1"
    if [ -f "$2" ]; then base64 -w0 < "$2"; else echo -n MISSING; fi
    echo
    echo "@@END $1"
}
emit user-data /var/lib/cloud/instance/user-data.txt
emit vendor-data /var/lib/cloud/instance/vendor-data.txt
emit datasource /var/lib/cloud/instance/datasource
emit hostname /etc/hostname
emit authorized_keys /home/debian/.ssh/authorized_keys
emit network /etc/systemd/network/10-cloud-init-eth0.network
echo "@@INSTANCE-ID $(cloud-init query v1.instance_id)"
echo "@@SHADOW $(grep '^debian:' /etc/shadow | cut -d: -f2)"
grep -h -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log | head -20
echo "@@PROBE-END"
"#;

/// The newest kernel in /boot whose modules are installed.
fn kernel() -> Option<(PathBuf, String)> {
    let mut found: Vec<(PathBuf, String)> = fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix("vmlinuz-")?.to_string();
            Path::new("/lib/modules")
                .join(&version)
                .join("modules.dep")
                .exists()
                .then(|| (e.path(), version))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found.pop()
}

/// Whether an ELF executable is static (has no PT_INTERP program header).
fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = fs::read(path) else { return false };
    if b.get(..4) != Some(b"\x7fELF") || b.get(4) != Some(&2) {
        return false;
    }
    let u = |at: usize, n: usize| -> usize {
        b.get(at..at + n)
            .map(|s| {
                s.iter()
                    .rev()
                    .fold(0usize, |v, &x| (v << 8) | usize::from(x))
            })
            .unwrap_or(0)
    };
    let (phoff, phentsize, phnum) = (u(0x20, 8), u(0x36, 2), u(0x38, 2));
    (0..phnum).all(|i| u(phoff + i * phentsize, 4) != 3)
}

/// Everything the test needs, or `None` (skip, or fail under
/// `ISOFORGE_REQUIRE_ORACLES=1`).
fn prerequisites() -> Option<(PathBuf, String)> {
    let ok = have(QEMU)
        && have_tool("modprobe")
        && have("cloud-init")
        && have_file("/usr/lib/cloud-init/ds-identify")
        && have_file("/bin/busybox");
    if !ok {
        return None;
    }
    if !is_static_elf(Path::new("/bin/busybox")) {
        assert!(
            std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "/bin/busybox is not static: install busybox-static"
        );
        eprintln!("skipping: /bin/busybox is not static (install busybox-static)");
        return None;
    }
    let k = kernel();
    if k.is_none() {
        assert!(
            std::env::var("ISOFORGE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "no kernel with modules in /boot: install linux-image-amd64"
        );
        eprintln!("skipping: no kernel with modules in /boot (install linux-image-amd64)");
    }
    k
}

/// A cpio archive in the "newc" format the kernel unpacks as initramfs.
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn new() -> Self {
        Cpio {
            out: Vec::new(),
            ino: 1,
        }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        let pad = |out: &mut Vec<u8>| {
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
        };
        let fields = [
            self.ino,
            mode,
            0,
            0,
            if mode & 0o040000 != 0 { 2 } else { 1 },
            0,
            u32::try_from(data.len()).unwrap(),
            0,
            0,
            0,
            0,
            u32::try_from(name.len() + 1).unwrap(),
            0,
        ];
        self.ino += 1;
        self.out.extend_from_slice(b"070701");
        for f in fields {
            write!(self.out, "{f:08X}").unwrap();
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        pad(&mut self.out);
        self.out.extend_from_slice(data);
        pad(&mut self.out);
    }

    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, b"");
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, data);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, b"");
        self.out
    }
}

/// The initramfs: busybox, the modules for virtio-9p and overlayfs, the
/// init and the probe.
fn initramfs(version: &str, full: bool) -> Vec<u8> {
    let deps = common::run(
        tool("modprobe")
            .args(["-a", "--show-depends", "-S", version])
            .args(["virtio_pci", "9pnet_virtio", "9p", "overlay"]),
    );
    let mut c = Cpio::new();
    for d in [
        "bin", "dev", "proc", "sys", "lower", "upper", "newroot", "modules",
    ] {
        c.dir(d);
    }
    c.file("bin/busybox", 0o755, &fs::read("/bin/busybox").unwrap());
    let mut list = String::new();
    let mut seen = Vec::new();
    for line in String::from_utf8(deps.stdout).unwrap().lines() {
        let Some(path) = line.strip_prefix("insmod ") else {
            continue; // "builtin ..." lines
        };
        let path = path.split_whitespace().next().unwrap();
        if seen.iter().any(|s| s == path) {
            continue;
        }
        seen.push(path.to_string());
        let name = format!(
            "{:02}-{}",
            seen.len(),
            Path::new(path).file_name().unwrap().to_string_lossy()
        );
        c.file(&format!("modules/{name}"), 0o644, &fs::read(path).unwrap());
        list.push_str(&name);
        list.push('\n');
    }
    assert!(
        list.contains("9p.ko") && list.contains("overlay.ko"),
        "{list}"
    );
    c.file("modules.list", 0o644, list.as_bytes());
    c.file("init", 0o755, INIT.as_bytes());
    let probe = format!("FULL={}\n{PROBE}", u8::from(full));
    c.file("probe.sh", 0o755, probe.as_bytes());
    c.finish()
}

/// Kills QEMU when dropped, so a failing test leaves no process behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// How the seed is attached.
#[derive(Debug, Clone, Copy)]
enum Attach {
    /// An IDE CD-ROM drive: /dev/sr0.
    Cdrom,
    /// A virtio disk: /dev/vda.
    VirtioDisk,
}

/// Boots the kernel with the initramfs and the seed attached; returns the
/// serial console text once the probe has printed its end marker or the
/// guest has powered off (panics at the deadline).
fn boot(kernel: &Path, initrd: &Path, seed: &Path, attach: Attach, work: &Path) -> String {
    let serial = work.join("serial.log");
    let stderr = work.join("qemu-stderr.log");
    let seed = seed.to_str().unwrap();
    assert!(!seed.contains(','), "QEMU option values cannot hold ','");
    let accel = std::env::var("ISOFORGE_QEMU_ACCEL").unwrap_or_else(|_| "tcg".into());
    let mut cmd = Command::new(QEMU);
    cmd.args(["-machine", "pc", "-accel", &accel, "-m", "1024"])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        // The host's root, read-only: the guest's cloud-init and its
        // Python come from there.
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on",
        ])
        // A network card for the network-config to be rendered for; the
        // restricted user network reaches nothing.
        .args(["-netdev", "user,id=n0,restrict=on"])
        .args(["-device", "virtio-net-pci,netdev=n0"]);
    match attach {
        Attach::Cdrom => cmd.arg("-drive").arg(format!(
            "if=ide,media=cdrom,format=raw,readonly=on,file={seed}"
        )),
        Attach::VirtioDisk => cmd
            .arg("-drive")
            .arg(format!("if=virtio,format=raw,snapshot=on,file={seed}")),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr).unwrap());
    let start = Instant::now();
    let mut qemu = Running(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    );
    loop {
        let exited = qemu.0.try_wait().unwrap();
        let log = String::from_utf8_lossy(&fs::read(&serial).unwrap_or_default()).replace('\r', "");
        if log.contains("@@PROBE-END") || exited.is_some() {
            eprintln!(
                "{attach:?}: guest done in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            return log;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{attach:?}: no end marker after {DEADLINE:?}\n--- serial ---\n{log}\n--- QEMU stderr ---\n{}",
            fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap());
        }
    }
    out
}

/// What the probe printed: the files between `@@BEGIN x` and `@@END x`
/// (decoded; `None` when missing), and the `@@KEY value` lines.
struct Probe {
    files: BTreeMap<String, Option<Vec<u8>>>,
    values: BTreeMap<String, String>,
    log: String,
}

impl Probe {
    fn of(log: String) -> Probe {
        let mut files = BTreeMap::new();
        let mut values = BTreeMap::new();
        let mut lines = log.lines();
        while let Some(l) = lines.next() {
            let Some(rest) = l.trim_start().strip_prefix("@@") else {
                continue;
            };
            if let Some(name) = rest.strip_prefix("BEGIN ") {
                let body = lines.next().unwrap_or_default().trim();
                let data = (body != "MISSING").then(|| base64_decode(body));
                files.insert(name.to_string(), data);
            } else if let Some((k, v)) = rest.split_once(' ') {
                values.insert(k.to_string(), v.trim().to_string());
            }
        }
        Probe { files, values, log }
    }

    fn file(&self, name: &str) -> Vec<u8> {
        match self.files.get(name) {
            Some(Some(d)) => d.clone(),
            _ => panic!("the guest has no {name}\n--- serial ---\n{}", self.log),
        }
    }

    fn text(&self, name: &str) -> String {
        String::from_utf8(self.file(name)).unwrap()
    }

    fn value(&self, key: &str) -> &str {
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("the guest printed no {key}\n--- serial ---\n{}", self.log))
    }

    fn assert(&self, ok: bool, what: &str) {
        assert!(ok, "{what}\n--- serial ---\n{}", self.log);
    }
}

#[test]
fn cloud_init_reads_the_iso_seed() {
    let Some((kernel, version)) = prerequisites() else {
        return;
    };
    let dir = tempdir();
    let nc = dir.path().join("network-config");
    fs::write(&nc, NETWORK_CONFIG).unwrap();
    let vd = dir.path().join("vendor-data");
    fs::write(&vd, VENDOR_DATA).unwrap();
    let seed = dir.path().join("seed.iso");
    // meta-data and user-data are generated from the options.
    isoforge_ok(&[
        "seed",
        "-o",
        seed.to_str().unwrap(),
        "--hostname",
        "isoforge-vm",
        "--ssh-key",
        KEY,
        "--password-hash",
        HASH,
        "--network-config",
        nc.to_str().unwrap(),
        "--vendor-data",
        vd.to_str().unwrap(),
    ]);
    let cat = |p: &str| isoforge_ok(&["cat", seed.to_str().unwrap(), p]).stdout;
    let meta = String::from_utf8(cat("/meta-data")).unwrap();
    let instance_id = meta
        .strip_prefix("instance-id: \"")
        .and_then(|m| m.split('"').next())
        .unwrap()
        .to_string();
    let initrd = dir.path().join("initrd.cpio");
    fs::write(&initrd, initramfs(&version, true)).unwrap();
    let p = Probe::of(boot(&kernel, &initrd, &seed, Attach::Cdrom, dir.path()));

    // ds-identify found the seed by its label, with blkid.
    p.assert(
        p.value("BLKID").split_whitespace().any(|d| d == "/dev/sr0"),
        "blkid finds /dev/sr0 by LABEL=cidata",
    );
    p.assert(
        p.value("DS-IDENTIFY").contains("NoCloud"),
        "ds-identify chose NoCloud",
    );
    p.assert(
        p.text("datasource").contains("DataSourceNoCloud")
            && p.text("datasource").contains("seed=/dev/sr0"),
        "the data source is NoCloud from /dev/sr0",
    );
    // What cloud-init read is what the seed holds.
    assert_eq!(p.value("INSTANCE-ID"), instance_id, "instance-id");
    assert_eq!(p.file("user-data"), cat("/user-data"), "user-data");
    assert_eq!(p.text("vendor-data"), VENDOR_DATA, "vendor-data");
    // And it acted on it.
    assert_eq!(p.text("hostname").trim(), "isoforge-vm", "host name");
    assert_eq!(p.text("authorized_keys").trim(), KEY, "SSH key");
    assert_eq!(p.value("SHADOW"), HASH, "password hash");
    let network = p.text("network");
    p.assert(
        network.contains("Name=eth0") && network.contains("Address=192.0.2.10/24"),
        "network-config rendered for eth0",
    );
}

#[test]
fn cloud_init_reads_the_vfat_seed() {
    let Some((kernel, version)) = prerequisites() else {
        return;
    };
    let dir = tempdir();
    let ud = dir.path().join("user-data");
    let user_data = "#cloud-config\nhostname: vfat-vm\nruncmd:\n  - [touch, /run/seeded]\n";
    fs::write(&ud, user_data).unwrap();
    let md = dir.path().join("meta-data");
    fs::write(&md, "instance-id: iid-vfat-1\nlocal-hostname: vfat-vm\n").unwrap();
    let nc = dir.path().join("network-config");
    fs::write(&nc, NETWORK_CONFIG).unwrap();
    let seed = dir.path().join("seed.img");
    isoforge_ok(&[
        "seed",
        "--vfat",
        "-o",
        seed.to_str().unwrap(),
        "--user-data",
        ud.to_str().unwrap(),
        "--meta-data",
        md.to_str().unwrap(),
        "--network-config",
        nc.to_str().unwrap(),
    ]);
    let initrd = dir.path().join("initrd.cpio");
    fs::write(&initrd, initramfs(&version, false)).unwrap();
    let p = Probe::of(boot(
        &kernel,
        &initrd,
        &seed,
        Attach::VirtioDisk,
        dir.path(),
    ));
    p.assert(
        p.value("BLKID").split_whitespace().any(|d| d == "/dev/vda"),
        "blkid finds /dev/vda by LABEL=CIDATA",
    );
    p.assert(
        p.value("DS-IDENTIFY").contains("NoCloud"),
        "ds-identify chose NoCloud",
    );
    p.assert(
        p.text("datasource").contains("seed=/dev/vda"),
        "the data source is NoCloud from /dev/vda",
    );
    assert_eq!(p.value("INSTANCE-ID"), "iid-vfat-1", "instance-id");
    assert_eq!(p.text("user-data"), user_data, "user-data");
    assert_eq!(p.text("hostname").trim(), "vfat-vm", "host name");
    let network = p.text("network");
    p.assert(
        network.contains("Address=192.0.2.10/24"),
        "network-config rendered",
    );
}
