//! Device facts from sysfs, as `lsblk` gathers them: `/sys/block/NAME/`
//! (`size`, `removable`, `ro`, `device/model`, partitions, holders), the
//! parents of the device in `/sys/devices` (transport, hot-plug, serial),
//! plus the mounts and swaps in `/proc`.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::mounts::{parse_dev, parse_mountinfo, parse_swaps, Mount};
use super::{Device, Partition, Probe, Target, Transport};
use crate::error::Result;

/// Reads the facts from the running system (`/sys`, `/proc`, `/dev`), or
/// from a copy of those trees under another root (for tests).
#[derive(Debug, Clone)]
pub struct SysProbe {
    sys: PathBuf,
    mountinfo: PathBuf,
    swaps: PathBuf,
    dev: PathBuf,
}

impl Default for SysProbe {
    fn default() -> Self {
        SysProbe::new()
    }
}

fn read_attr(path: &Path) -> Option<String> {
    // sysfs attributes are small; a bound keeps a strange tree harmless.
    let mut s = fs::read_to_string(path).ok()?;
    s.truncate(4096);
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_attr(path)?.parse().ok()
}

impl SysProbe {
    /// The running system's trees.
    pub fn new() -> SysProbe {
        SysProbe::with_root(Path::new("/"))
    }

    /// The trees under `root`: `root/sys`, `root/proc/self/mountinfo`,
    /// `root/proc/swaps` and `root/dev`.
    pub fn with_root(root: &Path) -> SysProbe {
        SysProbe {
            sys: root.join("sys"),
            mountinfo: root.join("proc/self/mountinfo"),
            swaps: root.join("proc/swaps"),
            dev: root.join("dev"),
        }
    }

    fn mounts(&self) -> Vec<Mount> {
        fs::read_to_string(&self.mountinfo)
            .map(|t| parse_mountinfo(&t))
            .unwrap_or_default()
    }

    fn swaps(&self) -> Vec<PathBuf> {
        fs::read_to_string(&self.swaps)
            .map(|t| parse_swaps(&t))
            .unwrap_or_default()
    }

    /// The whole disk `name` (`sdb`, `loop3`).
    pub fn disk(&self, name: &str) -> Result<Device> {
        self.disk_with(name, &self.mounts(), &self.swaps())
    }

    fn disk_with(&self, name: &str, mounts: &[Mount], swaps: &[PathBuf]) -> Result<Device> {
        let dir = self.sys.join("block").join(name);
        let real = fs::canonicalize(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let dev = read_attr(&dir.join("dev"))
            .and_then(|d| parse_dev(&d))
            .unwrap_or((0, 0));
        let size = read_u64(&dir.join("size")).unwrap_or(0).saturating_mul(512);
        let real_s = real.to_string_lossy();
        let loop_backing = read_attr(&dir.join("loop/backing_file")).map(PathBuf::from);
        let transport = if real_s.contains("/usb") {
            Transport::Usb
        } else if name.starts_with("loop") {
            Transport::Loop
        } else if real_s.contains("/nvme") {
            Transport::Nvme
        } else if real_s.contains("/mmc") {
            Transport::Mmc
        } else if real_s.contains("/ata") {
            Transport::Sata
        } else if real_s.contains("/virtio") {
            Transport::Virtio
        } else {
            Transport::Other
        };

        // The parents of the block device, nearest first, up to /sys/devices.
        let top = self.sys.join("devices");
        let top = fs::canonicalize(&top).unwrap_or(top);
        let parents: Vec<&Path> = real
            .ancestors()
            .skip(1)
            .take_while(|p| p.starts_with(&top) && *p != top.as_path())
            .collect();
        // lsblk's HOTPLUG: a parent (a USB port, a PCIe hot-plug slot) says
        // its devices are removable.
        let hotplug = parents
            .iter()
            .any(|p| read_attr(&p.join("removable")).as_deref() == Some("removable"));
        // Vendor, model and serial: the SCSI, NVMe or MMC device first, then
        // the USB device (`manufacturer`, `product`, `serial`).
        let usb = parents.iter().find(|p| p.join("idVendor").exists());
        let devdir = dir.join("device");
        let attr = |names: &[&str], usb_name: &str| {
            names
                .iter()
                .find_map(|n| read_attr(&devdir.join(n)))
                .or_else(|| read_attr(&dir.join(names.first().copied().unwrap_or(""))))
                .or_else(|| usb.and_then(|u| read_attr(&u.join(usb_name))))
        };
        let vendor = attr(&["vendor"], "manufacturer");
        let model = attr(&["model", "name"], "product");
        let serial = attr(&["serial"], "serial");

        let mut partitions = Vec::new();
        let mut holders = holders_of(&dir);
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if !p.join("partition").exists() {
                    continue;
                }
                let pname = e.file_name().to_string_lossy().into_owned();
                holders.extend(holders_of(&p));
                partitions.push(Partition {
                    dev: read_attr(&p.join("dev"))
                        .and_then(|d| parse_dev(&d))
                        .unwrap_or((0, 0)),
                    size: read_u64(&p.join("size")).unwrap_or(0).saturating_mul(512),
                    start: read_u64(&p.join("start")).unwrap_or(0).saturating_mul(512),
                    number: read_u64(&p.join("partition")).unwrap_or(0),
                    name: pname,
                });
            }
        }
        partitions.sort_by_key(|p| p.number);
        holders.sort();
        holders.dedup();

        // Everything whose mounts or swap use this disk: itself, its
        // partitions, and (transitively) the mapped or RAID devices above
        // them, by device number and by name.
        let mut names: Vec<String> = vec![name.to_string()];
        let mut devs: Vec<(u32, u32)> = vec![dev];
        for p in &partitions {
            names.push(p.name.clone());
            devs.push(p.dev);
        }
        let mut queue = holders.clone();
        let mut seen = 0usize;
        while let Some(h) = queue.pop() {
            // A bound against a cyclic tree.
            seen += 1;
            if seen > 256 || names.contains(&h) {
                continue;
            }
            let hdir = self.sys.join("block").join(&h);
            if let Some(d) = read_attr(&hdir.join("dev")).and_then(|d| parse_dev(&d)) {
                devs.push(d);
            }
            if let Some(dm) = read_attr(&hdir.join("dm/name")) {
                names.push(dm);
            }
            queue.extend(holders_of(&hdir));
            names.push(h);
        }
        let uses = |source: &Path| {
            source.starts_with("/dev")
                && source
                    .file_name()
                    .is_some_and(|f| names.iter().any(|n| f == n.as_str()))
        };
        let mounts = mounts
            .iter()
            .filter(|m| (m.dev.0 != 0 && devs.contains(&m.dev)) || uses(Path::new(&m.source)))
            .cloned()
            .collect();
        let swaps = swaps.iter().filter(|s| uses(s)).cloned().collect();

        Ok(Device {
            name: name.to_string(),
            node: self.dev.join(name),
            dev,
            size,
            // SD cards do not set the removable bit; soldered eMMC says
            // `MMC` where a card says `SD`.
            removable: read_attr(&dir.join("removable")).as_deref() == Some("1")
                || (transport == Transport::Mmc
                    && read_attr(&devdir.join("type")).as_deref() == Some("SD")),
            hotplug,
            read_only: read_attr(&dir.join("ro")).as_deref() == Some("1"),
            transport,
            vendor,
            model,
            serial,
            loop_backing,
            partitions,
            holders,
            mounts,
            swaps,
        })
    }

    /// The sysfs name of the block device `dev` (`major:minor`), and the
    /// name of its whole disk when it is a partition.
    fn name_of(&self, dev: (u32, u32)) -> Result<(String, Option<String>)> {
        let link = self.sys.join(format!("dev/block/{}:{}", dev.0, dev.1));
        let real = fs::canonicalize(&link).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("no sysfs entry for block device {}:{} ({e})", dev.0, dev.1),
            )
        })?;
        let name = file_name(&real);
        if real.join("partition").exists() {
            let disk = real.parent().map(file_name);
            return Ok((name, disk));
        }
        Ok((name, None))
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn holders_of(dir: &Path) -> Vec<String> {
    fs::read_dir(dir.join("holders"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

impl Probe for SysProbe {
    fn inspect(&self, path: &Path) -> Result<Target> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Target::File {
                    path: path.to_path_buf(),
                    len: None,
                    id: None,
                })
            }
            Err(e) => {
                return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())).into())
            }
        };
        let ft = meta.file_type();
        if ft.is_block_device() {
            let rdev = meta.rdev();
            let dev = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
            let (name, disk) = self.name_of(dev)?;
            return Ok(match disk {
                Some(d) => Target::Partition {
                    disk: self.disk(&d)?,
                    partition: name,
                },
                None => Target::Disk(self.disk(&name)?),
            });
        }
        if ft.is_file() {
            return Ok(Target::File {
                path: path.to_path_buf(),
                len: Some(meta.len()),
                id: Some((meta.dev(), meta.ino())),
            });
        }
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_fifo() {
            "a pipe"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a block device"
        };
        Ok(Target::Other {
            path: path.to_path_buf(),
            kind,
        })
    }

    fn disks(&self) -> Result<Vec<Device>> {
        let mounts = self.mounts();
        let swaps = self.swaps();
        let dir = self.sys.join("block");
        let mut out = Vec::new();
        let rd = fs::read_dir(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(d) = self.disk_with(&name, &mounts, &swaps) {
                out.push(d);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
