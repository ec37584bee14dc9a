//! Device facts from a made-up sysfs tree laid out as the kernel lays out
//! a real one, the refusals they lead to, and the writer and read-back on
//! regular files.

use std::fs;
use std::os::unix::fs::{symlink, FileExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::*;

/// Writes `attrs` (relative path, contents) under `dir`.
fn attrs(dir: &Path, attrs: &[(&str, &str)]) {
    for (p, v) in attrs {
        let f = dir.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, format!("{v}\n")).unwrap();
    }
}

/// A disk at `devpath` (below `sys/devices`), linked from `sys/block` and
/// `sys/dev/block`, with partitions (name, major:minor, start, size in
/// sectors).
fn disk(
    root: &Path,
    devpath: &str,
    name: &str,
    dev: &str,
    sectors: u64,
    extra: &[(&str, &str)],
    parts: &[(&str, &str, u64, u64)],
) -> PathBuf {
    let sys = root.join("sys");
    let dir = sys.join("devices").join(devpath).join("block").join(name);
    attrs(
        &dir,
        &[
            ("dev", dev),
            ("size", &sectors.to_string()),
            ("removable", "0"),
            ("ro", "0"),
        ],
    );
    attrs(&dir, extra);
    fs::create_dir_all(dir.join("holders")).unwrap();
    fs::create_dir_all(sys.join("block")).unwrap();
    fs::create_dir_all(sys.join("dev/block")).unwrap();
    symlink(&dir, sys.join("block").join(name)).unwrap();
    symlink(&dir, sys.join("dev/block").join(dev)).unwrap();
    for (i, (p, pdev, start, size)) in parts.iter().enumerate() {
        let pd = dir.join(p);
        attrs(
            &pd,
            &[
                ("dev", pdev),
                ("partition", &(i + 1).to_string()),
                ("start", &start.to_string()),
                ("size", &size.to_string()),
            ],
        );
        fs::create_dir_all(pd.join("holders")).unwrap();
        symlink(&pd, sys.join("dev/block").join(pdev)).unwrap();
    }
    dir
}

/// The `device` link of a disk, to the SCSI (or other) device above it.
fn device_link(disk_dir: &Path, extra: &[(&str, &str)]) {
    let parent = disk_dir.parent().unwrap().parent().unwrap();
    attrs(parent, extra);
    symlink(parent, disk_dir.join("device")).unwrap();
}

/// A machine with a SATA system disk, a USB stick with a mounted
/// partition, an NVMe disk under LVM, an SD card, a loop device, a CD
/// drive and a disk with active swap.
fn machine() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let gib = 2 * 1024 * 1024;
    let sda = disk(
        r,
        "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0",
        "sda",
        "8:0",
        500 * gib,
        &[],
        &[
            ("sda1", "8:1", 2048, 1_048_576),
            ("sda2", "8:2", 1_050_624, 400 * gib),
        ],
    );
    device_link(
        &sda,
        &[("vendor", "ATA     "), ("model", "Samsung SSD 870")],
    );
    let usb = "pci0000:00/0000:00:14.0/usb2/2-1";
    attrs(
        &r.join("sys/devices").join(usb),
        &[
            ("removable", "removable"),
            ("idVendor", "0781"),
            ("manufacturer", "SanDisk"),
            ("product", "Cruzer Blade"),
            ("serial", "4C530001230512117392"),
        ],
    );
    let sdb = disk(
        r,
        &format!("{usb}/2-1:1.0/host6/target6:0:0/6:0:0:0"),
        "sdb",
        "8:16",
        30_031_872,
        &[("removable", "1")],
        &[("sdb1", "8:17", 2048, 30_029_824)],
    );
    device_link(
        &sdb,
        &[("vendor", "SanDisk "), ("model", "Cruzer Blade    ")],
    );
    let nvme = disk(
        r,
        "pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0",
        "nvme0n1",
        "259:0",
        1000 * gib,
        &[],
        &[
            ("nvme0n1p1", "259:1", 2048, 1_048_576),
            ("nvme0n1p2", "259:2", 1_050_624, 900 * gib),
        ],
    );
    device_link(&nvme, &[("model", "WDC PC SN730"), ("serial", "NV123")]);
    fs::create_dir_all(nvme.join("nvme0n1p2/holders/dm-0")).unwrap();
    let dm = disk(r, "virtual", "dm-0", "254:0", 900 * gib, &[], &[]);
    attrs(&dm, &[("dm/name", "vg-home")]);
    let mmc = disk(
        r,
        "pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:aaaa",
        "mmcblk0",
        "179:0",
        62_333_952,
        &[],
        &[],
    );
    device_link(
        &mmc,
        &[("name", "SC64G"), ("serial", "0x1234abcd"), ("type", "SD")],
    );
    let emmc = disk(
        r,
        "platform/fe330000.mmc/mmc_host/mmc1/mmc1:0001",
        "mmcblk1",
        "179:32",
        62_333_952,
        &[],
        &[],
    );
    device_link(&emmc, &[("name", "DG4064"), ("type", "MMC")]);
    let lo = disk(r, "virtual", "loop0", "7:0", 204_800, &[], &[]);
    attrs(&lo, &[("loop/backing_file", "/var/tmp/disk.img")]);
    disk(r, "virtual", "loop1", "7:1", 0, &[], &[]);
    let sr = disk(
        r,
        "pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0",
        "sr0",
        "11:0",
        2_097_152,
        &[("removable", "1"), ("ro", "1")],
        &[],
    );
    device_link(&sr, &[("model", "DVD-RW")]);
    let sdc = disk(
        r,
        "pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host7/target7:0:0/7:0:0:0",
        "sdc",
        "8:32",
        10 * gib,
        &[],
        &[("sdc1", "8:33", 2048, 4 * gib)],
    );
    device_link(&sdc, &[("model", "Portable SSD")]);
    attrs(
        r,
        &[
            (
                "proc/self/mountinfo",
                "22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n\
                 23 22 8:1 / /boot/efi rw - vfat /dev/sda1 rw\n\
                 24 22 0:5 / /dev rw - devtmpfs udev rw\n\
                 25 22 0:47 / /home rw - btrfs /dev/mapper/vg-home rw\n\
                 36 22 8:17 / /media/me/MY\\040STICK rw,nosuid - vfat /dev/sdb1 rw",
            ),
            (
                "proc/swaps",
                "Filename\tType\tSize\tUsed\tPriority\n/dev/sdc1 partition 4194300 0 -2",
            ),
        ],
    );
    t
}

fn find<'a>(disks: &'a [Device], name: &str) -> &'a Device {
    disks.iter().find(|d| d.name == name).unwrap()
}

#[test]
fn facts_from_sysfs() {
    let m = machine();
    let disks = SysProbe::with_root(m.path()).disks().unwrap();
    let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        ["dm-0", "loop0", "loop1", "mmcblk0", "mmcblk1", "nvme0n1", "sda", "sdb", "sdc", "sr0"]
    );

    let sda = find(&disks, "sda");
    assert_eq!(sda.transport, Transport::Sata);
    assert!(!sda.removable && !sda.hotplug && !sda.is_removable(true));
    assert_eq!(sda.label(), "ATA Samsung SSD 870");
    assert_eq!(sda.size, 500 << 30);
    assert_eq!(sda.partitions.len(), 2);
    assert_eq!(sda.partitions[1].start, 1_050_624 * 512);
    let points: Vec<&Path> = sda.mounts.iter().map(|m| m.point.as_path()).collect();
    assert_eq!(points, [Path::new("/"), Path::new("/boot/efi")]);

    let sdb = find(&disks, "sdb");
    assert_eq!(sdb.transport, Transport::Usb);
    assert!(sdb.removable && sdb.hotplug);
    assert_eq!(sdb.label(), "SanDisk Cruzer Blade");
    assert_eq!(sdb.serial.as_deref(), Some("4C530001230512117392"));
    assert_eq!(sdb.node, m.path().join("dev/sdb"));
    assert_eq!(sdb.dev, (8, 16));
    assert_eq!(sdb.mounts.len(), 1);
    assert_eq!(sdb.mounts[0].point, Path::new("/media/me/MY STICK"));

    // A USB disk that does not say its medium is removable is still one.
    let sdc = find(&disks, "sdc");
    assert!(!sdc.removable && sdc.is_removable(false));
    assert_eq!(sdc.swaps, [PathBuf::from("/dev/sdc1")]);

    // btrfs reports an anonymous device number: the mount is found through
    // its source, the mapped device built on the NVMe disk.
    let nvme = find(&disks, "nvme0n1");
    assert_eq!(nvme.transport, Transport::Nvme);
    assert_eq!(nvme.holders, ["dm-0"]);
    assert_eq!(nvme.mounts.len(), 1);
    assert_eq!(nvme.mounts[0].point, Path::new("/home"));
    assert_eq!(nvme.serial.as_deref(), Some("NV123"));

    let mmc = find(&disks, "mmcblk0");
    assert_eq!(mmc.transport, Transport::Mmc);
    assert_eq!(mmc.model.as_deref(), Some("SC64G"));
    assert!(mmc.is_removable(false), "an SD card");
    let emmc = find(&disks, "mmcblk1");
    assert_eq!(emmc.transport, Transport::Mmc);
    assert!(!emmc.is_removable(false), "soldered eMMC");

    let lo = find(&disks, "loop0");
    assert_eq!(lo.transport, Transport::Loop);
    assert_eq!(
        lo.loop_backing.as_deref(),
        Some(Path::new("/var/tmp/disk.img"))
    );
    assert!(!lo.is_removable(false) && lo.is_removable(true));
    assert_eq!(lo.label(), "loop device over /var/tmp/disk.img");

    assert!(find(&disks, "sr0").read_only);
}

#[test]
fn candidates_are_removable_disks_with_a_medium() {
    let m = machine();
    let p = SysProbe::with_root(m.path());
    let names = |allow_loop| -> Vec<String> {
        candidates(&p, allow_loop)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    assert_eq!(names(false), ["mmcblk0", "sdb", "sdc"]);
    // loop1 has no file behind it (size 0).
    assert_eq!(names(true), ["loop0", "mmcblk0", "sdb", "sdc"]);
}

#[test]
fn refusals_from_the_facts() {
    let m = machine();
    let p = SysProbe::with_root(m.path());
    let t = |name: &str| Target::Disk(p.disk(name).unwrap());
    let image = 100 << 20;
    let none = Rules::default();

    let sda = assess(&t("sda"), image, &none);
    assert!(matches!(&sda[0], Refusal::System { mount } if mount.point == Path::new("/")));
    assert!(matches!(&sda[1], Refusal::System { mount } if mount.point == Path::new("/boot/efi")));
    assert_eq!(
        sda[2],
        Refusal::NonRemovable {
            transport: Transport::Sata
        }
    );
    // No flag makes a system disk writable.
    let all = Rules::default()
        .force_non_removable(true)
        .unmount(true)
        .allow_loop(true)
        .file_target(true);
    assert_eq!(assess(&t("sda"), image, &all).len(), 2);
    assert!(assess(&t("sda"), image, &all)[0]
        .to_string()
        .contains("system file system mounted at /"));

    let sdb = assess(&t("sdb"), image, &none);
    assert_eq!(sdb.len(), 1);
    assert!(
        sdb[0]
            .to_string()
            .contains("/dev/sdb1 at /media/me/MY STICK"),
        "{}",
        sdb[0]
    );
    assert!(assess(&t("sdb"), image, &none.unmount(true)).is_empty());
    assert_eq!(
        assess(&t("sdb"), 16 << 30, &none.unmount(true)),
        [Refusal::TooSmall {
            size: 30_031_872 * 512,
            needed: 16 << 30
        }]
    );

    let nvme = assess(&t("nvme0n1"), image, &all);
    assert!(matches!(&nvme[0], Refusal::System { mount } if mount.point == Path::new("/home")));
    assert_eq!(
        nvme[1],
        Refusal::Held {
            holders: vec!["dm-0".into()]
        }
    );
    assert_eq!(
        assess(&t("sdc"), image, &all),
        [Refusal::Swap {
            area: "/dev/sdc1".into()
        }]
    );
    assert_eq!(
        assess(&t("loop0"), image, &none),
        [Refusal::NonRemovable {
            transport: Transport::Loop
        }]
    );
    assert!(assess(&t("loop0"), image, &none.allow_loop(true)).is_empty());
    assert!(assess(&t("loop0"), image, &none.force_non_removable(true)).is_empty());
    assert_eq!(
        assess(&t("sr0"), image, &all),
        [Refusal::ReadOnly],
        "an optical drive"
    );

    let part = Target::Partition {
        disk: p.disk("sdb").unwrap(),
        partition: "sdb1".into(),
    };
    assert!(assess(&part, image, &all)[0]
        .to_string()
        .contains("partition sdb1, not a whole disk"));
    let file = Target::File {
        path: "/tmp/x".into(),
        len: None,
        id: None,
    };
    assert_eq!(assess(&file, image, &none), [Refusal::Missing]);
    let existing = Target::File {
        path: "/tmp/x".into(),
        len: Some(5),
        id: Some((1, 2)),
    };
    assert_eq!(assess(&existing, image, &none), [Refusal::RegularFile]);
    assert!(assess(&file, image, &none.file_target(true)).is_empty());
}

/// A probe that answers with given facts, as a test or another platform
/// would plug in.
struct FakeProbe(Vec<Device>);

impl Probe for FakeProbe {
    fn inspect(&self, path: &Path) -> crate::Result<Target> {
        let name = path.file_name().unwrap().to_string_lossy();
        Ok(Target::Disk(
            self.0.iter().find(|d| d.name == name).unwrap().clone(),
        ))
    }
    fn disks(&self) -> crate::Result<Vec<Device>> {
        Ok(self.0.clone())
    }
}

fn plain_disk(name: &str, transport: Transport, removable: bool) -> Device {
    Device {
        name: name.into(),
        node: Path::new("/dev").join(name),
        dev: (8, 0),
        size: 64 << 30,
        removable,
        hotplug: false,
        read_only: false,
        transport,
        vendor: None,
        model: Some("Disk".into()),
        serial: None,
        loop_backing: None,
        partitions: Vec::new(),
        holders: Vec::new(),
        mounts: Vec::new(),
        swaps: Vec::new(),
    }
}

#[test]
fn an_injected_probe_decides_what_is_removable() {
    let probe = FakeProbe(vec![
        plain_disk("sda", Transport::Sata, false),
        plain_disk("sdb", Transport::Sata, true),
        plain_disk("nvme1n1", Transport::Nvme, false),
    ]);
    let check = |dev: &str, rules: Rules| {
        let t = probe.inspect(Path::new(dev)).unwrap();
        assess(&t, 1 << 30, &rules)
    };
    assert_eq!(
        check("/dev/sda", Rules::default()),
        [Refusal::NonRemovable {
            transport: Transport::Sata
        }]
    );
    assert!(check("/dev/sda", Rules::default().force_non_removable(true)).is_empty());
    // A card reader on SATA with its removable bit set.
    assert!(check("/dev/sdb", Rules::default()).is_empty());
    assert_eq!(
        check(
            "/dev/nvme1n1",
            Rules::default().unmount(true).allow_loop(true)
        ),
        [Refusal::NonRemovable {
            transport: Transport::Nvme
        }]
    );
    let names: Vec<String> = candidates(&probe, true)
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["sdb"]);
}

/// On the machine running the tests: the disk holding `/`, when `/` is on
/// one, is refused whatever the flags say. Nothing is opened for writing.
#[test]
fn the_running_systems_root_disk_is_refused() {
    let probe = SysProbe::new();
    let Ok(disks) = probe.disks() else {
        eprintln!("skipping: no /sys/block");
        return;
    };
    let Some(root) = disks
        .iter()
        .find(|d| d.mounts.iter().any(|m| m.point == Path::new("/")))
    else {
        eprintln!("skipping: / is not on a block device here");
        return;
    };
    let all = Rules::default()
        .force_non_removable(true)
        .unmount(true)
        .allow_loop(true)
        .file_target(true);
    let r = assess(&Target::Disk(root.clone()), 0, &all);
    assert!(
        r.iter()
            .any(|r| matches!(r, Refusal::System { mount } if mount.point == Path::new("/"))),
        "{}: {r:?}",
        root.name
    );
    // And through the device node, as the command line sees it.
    if root.node.exists() {
        let t = probe.inspect(&root.node).unwrap();
        assert!(matches!(&t, Target::Disk(d) if d.name == root.name));
        assert!(!assess(&t, 0, &all).is_empty());
    }
}

fn image_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x1234_5678_9abc_def0u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn file_target(path: &Path) -> Target {
    SysProbe::new().inspect(path).unwrap()
}

/// Writes `data` as an image to a regular file through the writer, with
/// the target first holding `before` bytes of 0xee.
fn write_file(dir: &Path, data: &[u8], before: usize) -> (PathBuf, File, Writer, Written) {
    let img = dir.join("image");
    fs::write(&img, data).unwrap();
    let out = dir.join("target");
    fs::write(&out, vec![0xee; before]).unwrap();
    let image = File::open(&img).unwrap();
    let mut w = Writer::open(&out, &file_target(&out)).unwrap();
    let written = w
        .write(&image, data.len() as u64, &WriteOptions::default())
        .unwrap()
        .done()
        .unwrap();
    (out, image, w, written)
}

use std::fs::File;

#[test]
fn writes_and_reads_back_files_of_awkward_lengths() {
    let dir = tempfile::tempdir().unwrap();
    // Around the chunk size, with tails that are not whole blocks; the
    // target held more than the image before.
    for len in [0, 1, 4095, 4096 + 17, super::io::CHUNK + 512 + 3] {
        let data = image_bytes(len);
        let (out, image, mut w, written) = write_file(dir.path(), &data, len + 9000);
        assert_eq!(written.len, len as u64);
        assert_eq!(fs::read(&out).unwrap(), data, "{len}");
        let expect: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(&data).into()
        };
        assert_eq!(written.sha256, expect);
        let rb = w
            .verify(&image, &written, &WriteOptions::default())
            .unwrap();
        assert!(rb.ok(), "{len}: {rb:?}");
        assert_eq!(rb.sha256, Some(expect));
        assert_eq!(w.finish(), Finish::File);
        let rb = compare(&out, &image, None, &WriteOptions::default()).unwrap();
        assert!(rb.ok(), "{len}: {rb:?}");
    }
}

#[test]
fn read_back_names_the_first_differing_byte() {
    let dir = tempfile::tempdir().unwrap();
    let len = 2 * super::io::CHUNK + 1000;
    let data = image_bytes(len);
    let (out, image, mut w, written) = write_file(dir.path(), &data, 0);
    // Two changes in the second chunk: the first is named.
    let at = super::io::CHUNK as u64 + 12_345;
    let f = fs::OpenOptions::new().write(true).open(&out).unwrap();
    f.write_all_at(&[!data[at as usize]], at).unwrap();
    f.write_all_at(&[!data[at as usize + 7]], at + 7).unwrap();
    let rb = w
        .verify(&image, &written, &WriteOptions::default())
        .unwrap();
    assert!(!rb.ok());
    assert_eq!(
        rb.difference,
        Some(Difference::Byte {
            offset: at,
            found: !data[at as usize],
            expected: data[at as usize],
        })
    );
    assert!(rb
        .difference
        .unwrap()
        .to_string()
        .starts_with(&format!("first difference at byte {at}:")));
    let rb = compare(&out, &image, None, &WriteOptions::default()).unwrap();
    assert_eq!(rb.difference.map(|d| d.offset()), Some(at));
    // Only the bytes before it compared: equal.
    assert!(compare(&out, &image, Some(at), &WriteOptions::default())
        .unwrap()
        .ok());

    // A target shorter than the image ends before it.
    f.set_len(5000).unwrap();
    let rb = compare(&out, &image, None, &WriteOptions::default()).unwrap();
    assert_eq!(rb.difference, Some(Difference::End { offset: 5000 }));
}

#[test]
fn a_raised_stop_flag_stops_writing() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_bytes(3 * super::io::CHUNK);
    let img = dir.path().join("image");
    fs::write(&img, &data).unwrap();
    let out = dir.path().join("target");
    let image = File::open(&img).unwrap();
    let mut w = Writer::open(&out, &file_target(&out)).unwrap();
    let stop = AtomicBool::new(false);
    // The first chunk's progress raises the flag, as a signal handler would.
    let progress = |_n: u64| stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let opts = WriteOptions {
        progress: Some(&progress),
        stop: Some(&stop),
    };
    match w.write(&image, data.len() as u64, &opts).unwrap() {
        WriteOutcome::Stopped { written } => {
            assert!(written >= super::io::CHUNK as u64 && written < data.len() as u64);
            let got = fs::read(&out).unwrap();
            assert_eq!(&got[..written as usize], &data[..written as usize]);
        }
        WriteOutcome::Done(_) => panic!("not stopped"),
    }
}

#[test]
fn partitions_and_other_files_cannot_be_opened_for_writing() {
    let m = machine();
    let p = SysProbe::with_root(m.path());
    let part = Target::Partition {
        disk: p.disk("sdb").unwrap(),
        partition: "sdb1".into(),
    };
    assert!(Writer::open(Path::new("/nonexistent/sdb1"), &part).is_err());
    let t = SysProbe::new().inspect(m.path()).unwrap();
    assert_eq!(
        t,
        Target::Other {
            path: m.path().to_path_buf(),
            kind: "a directory"
        }
    );
    assert!(Writer::open(m.path(), &t).is_err());
}

#[test]
fn a_path_that_names_another_device_once_open_is_refused() {
    // The facts say sda (8:0); the path opens /dev/null (1:3).
    let t = Target::Disk(plain_disk("sda", Transport::Usb, true));
    let e = Writer::open(Path::new("/dev/null"), &t).unwrap_err();
    assert!(
        e.to_string()
            .contains("is no longer the disk that was checked (8:0 then, 1:3 now)"),
        "{e}"
    );
}
