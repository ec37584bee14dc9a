//! Writing an image to a block device (a USB stick) safely, and reading it
//! back to prove it is there.
//!
//! Three steps, each usable alone:
//!
//! 1. **Facts and refusals.** A [`Probe`] tells what a target path is
//!    ([`Target`]): a whole disk with its size, transport, model, partitions,
//!    holders and mounts ([`Device`]), a partition, a regular file or
//!    something else. [`SysProbe`] reads sysfs and `/proc` as `lsblk` does;
//!    tests give their own probe. [`assess`] turns the facts and the
//!    caller's [`Rules`] into the list of reasons not to write
//!    ([`Refusal`]): not a block device, a partition, mounted, holding a
//!    system file system or swap, used by a mapped or RAID device, not
//!    removable, read-only, too small.
//! 2. **Writing.** [`Writer::open`] opens the target with `O_EXCL` (no one
//!    can mount it meanwhile; the kernel refuses while anything has it
//!    mounted) and `O_DIRECT`; [`Writer::write`] streams the image in large
//!    aligned writes, hashing it in the same pass (SHA-256 of the whole and
//!    a CRC-32 per chunk), and flushes the device; buffered writes and
//!    `fdatasync` are used where `O_DIRECT` is refused.
//! 3. **Reading back.** [`Writer::verify`] reads the device again, bypassing
//!    the page cache, for exactly the image's length, and compares digests;
//!    on a difference it names the first differing byte. [`compare`] does
//!    the same against an image file without a write before it, and
//!    [`DirectSource`] gives any [`ReadAt`](crate::ReadAt) consumer (the
//!    digests of [`verify`](crate::verify::verify)) reads that bypass the
//!    cache.
//!
//! ```no_run
//! use isoforge::device::{assess, Probe, Rules, SysProbe, Writer, WriteOptions};
//! use std::path::Path;
//! let image = std::fs::File::open("debian.iso")?;
//! let len = image.metadata()?.len();
//! let target = SysProbe::new().inspect(Path::new("/dev/sdb"))?;
//! let refusals = assess(&target, len, &Rules::default());
//! assert!(refusals.is_empty(), "{refusals:?}");
//! let mut w = Writer::open(Path::new("/dev/sdb"), &target)?;
//! let written = w.write(&image, len, &WriteOptions::default())?.done().expect("not stopped");
//! let check = w.verify(&image, &written, &WriteOptions::default())?;
//! assert!(check.ok());
//! w.finish();
//! # Ok::<(), isoforge::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

mod io;
pub mod mounts;
mod sysfs;
mod writer;

pub use self::io::DirectSource;
pub use mounts::Mount;
pub use sysfs::SysProbe;
pub use writer::{
    compare, Difference, Finish, ReadBack, WriteOptions, WriteOutcome, Writer, Written,
};

/// How a disk is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// USB (a stick, a card reader, a USB-SATA bridge).
    Usb,
    /// SATA or PATA.
    Sata,
    /// NVMe.
    Nvme,
    /// An SD/MMC card on its own controller.
    Mmc,
    /// A virtio disk of a virtual machine.
    Virtio,
    /// A loop device over a file.
    Loop,
    /// Anything else.
    Other,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Usb => "usb",
            Transport::Sata => "sata",
            Transport::Nvme => "nvme",
            Transport::Mmc => "mmc",
            Transport::Virtio => "virtio",
            Transport::Loop => "loop",
            Transport::Other => "other",
        })
    }
}

/// A partition of a disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Partition {
    /// Its kernel name (`sdb1`).
    pub name: String,
    /// Its number in the partition table.
    pub number: u64,
    /// Its device number.
    pub dev: (u32, u32),
    /// Its start on the disk, in bytes.
    pub start: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// The facts about a whole disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Device {
    /// Its kernel name (`sdb`).
    pub name: String,
    /// Its node (`/dev/sdb`).
    pub node: PathBuf,
    /// Its device number.
    pub dev: (u32, u32),
    /// Its size in bytes (0: no medium).
    pub size: u64,
    /// The kernel says its medium is removable.
    pub removable: bool,
    /// It sits on a port or slot that can be unplugged (lsblk's HOTPLUG).
    pub hotplug: bool,
    /// The kernel says it is read-only.
    pub read_only: bool,
    /// How it is attached.
    pub transport: Transport,
    /// Vendor, as the device reports it.
    pub vendor: Option<String>,
    /// Model, as the device reports it.
    pub model: Option<String>,
    /// Serial number, as the device reports it.
    pub serial: Option<String>,
    /// For a loop device, the file behind it.
    pub loop_backing: Option<PathBuf>,
    /// Its partitions, in table order.
    pub partitions: Vec<Partition>,
    /// Devices built on it or on its partitions (`dm-0`, `md127`).
    pub holders: Vec<String>,
    /// File systems mounted from it, its partitions or its holders.
    pub mounts: Vec<Mount>,
    /// Swap areas on it, its partitions or its holders.
    pub swaps: Vec<PathBuf>,
}

impl Device {
    /// Vendor and model, as one label (`SanDisk Cruzer Blade`).
    pub fn label(&self) -> String {
        let parts: Vec<&str> = [self.vendor.as_deref(), self.model.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            match &self.loop_backing {
                Some(b) => format!("loop device over {}", b.display()),
                None => "unknown model".into(),
            }
        } else {
            parts.join(" ")
        }
    }

    /// True when it looks like something one plugs in: removable medium,
    /// hot-pluggable, or on USB. A loop device is one only when `allow_loop`.
    pub fn is_removable(&self, allow_loop: bool) -> bool {
        if self.transport == Transport::Loop {
            return allow_loop;
        }
        self.removable || self.hotplug || self.transport == Transport::Usb
    }
}

/// What a target path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A whole disk.
    Disk(Device),
    /// A partition of `disk`.
    Partition {
        /// The disk it belongs to.
        disk: Device,
        /// Its kernel name.
        partition: String,
    },
    /// A regular file (`len` is `None` when it does not exist yet).
    File {
        /// Its path.
        path: PathBuf,
        /// Its length.
        len: Option<u64>,
        /// Its file system device and inode, when it exists.
        id: Option<(u64, u64)>,
    },
    /// Anything else (a directory, a character device, ...).
    Other {
        /// Its path.
        path: PathBuf,
        /// What it is, in words.
        kind: &'static str,
    },
}

impl Target {
    /// The disk, for a whole disk.
    pub fn disk(&self) -> Option<&Device> {
        match self {
            Target::Disk(d) => Some(d),
            _ => None,
        }
    }
}

/// Where facts about devices come from.
pub trait Probe {
    /// What `path` is, with the facts about its disk when it is a block
    /// device. A path that does not exist is a [`Target::File`] with no length.
    fn inspect(&self, path: &Path) -> crate::Result<Target>;
    /// Every block device that is a whole disk, sorted by name.
    fn disks(&self) -> crate::Result<Vec<Device>>;
}

/// What the caller allows beyond the safe default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rules {
    /// Count loop devices as removable.
    pub allow_loop: bool,
    /// Allow a regular file (or a path that does not exist) as the target.
    pub file_target: bool,
    /// Allow a disk that is not removable.
    pub force_non_removable: bool,
    /// Mounted file systems (other than system ones) will be unmounted first.
    pub unmount: bool,
}

impl Rules {
    /// Sets [`Rules::allow_loop`].
    pub fn allow_loop(mut self, on: bool) -> Self {
        self.allow_loop = on;
        self
    }
    /// Sets [`Rules::file_target`].
    pub fn file_target(mut self, on: bool) -> Self {
        self.file_target = on;
        self
    }
    /// Sets [`Rules::force_non_removable`].
    pub fn force_non_removable(mut self, on: bool) -> Self {
        self.force_non_removable = on;
        self
    }
    /// Sets [`Rules::unmount`].
    pub fn unmount(mut self, on: bool) -> Self {
        self.unmount = on;
        self
    }
}

/// A reason not to write to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The target is a regular file and [`Rules::file_target`] is off.
    RegularFile,
    /// The target does not exist and [`Rules::file_target`] is off.
    Missing,
    /// The target is neither a block device nor a regular file.
    NotABlockDevice {
        /// What it is.
        kind: &'static str,
    },
    /// The target is a partition, not a whole disk.
    Partition {
        /// The partition.
        partition: String,
        /// Its disk.
        disk: PathBuf,
    },
    /// The target is the image itself.
    IsTheImage,
    /// The device holds the root file system or another system one.
    System {
        /// The mount.
        mount: Mount,
    },
    /// The device holds active swap.
    Swap {
        /// The swap area.
        area: PathBuf,
    },
    /// Mapped or RAID devices are built on the device.
    Held {
        /// Their names.
        holders: Vec<String>,
    },
    /// File systems on the device are mounted and [`Rules::unmount`] is off.
    Mounted {
        /// The mounts.
        mounts: Vec<Mount>,
    },
    /// The disk is not removable and [`Rules::force_non_removable`] is off.
    NonRemovable {
        /// How it is attached.
        transport: Transport,
    },
    /// The kernel says the device is read-only.
    ReadOnly,
    /// The device is smaller than the image.
    TooSmall {
        /// The device's size in bytes.
        size: u64,
        /// The image's size in bytes.
        needed: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::RegularFile => f.write_str("it is a regular file, not a block device"),
            Refusal::Missing => f.write_str("it does not exist"),
            Refusal::NotABlockDevice { kind } => write!(f, "it is {kind}, not a block device"),
            Refusal::Partition { partition, disk } => write!(
                f,
                "it is partition {partition}, not a whole disk (the disk is {})",
                disk.display()
            ),
            Refusal::IsTheImage => f.write_str("it is the image itself"),
            Refusal::System { mount } => write!(
                f,
                "it holds the system file system mounted at {} ({} from {})",
                mount.point.display(),
                mount.fstype,
                mount.source
            ),
            Refusal::Swap { area } => write!(f, "it holds active swap ({})", area.display()),
            Refusal::Held { holders } => write!(
                f,
                "it is in use by {} (a mapped, LVM or RAID device)",
                holders.join(", ")
            ),
            Refusal::Mounted { mounts } => {
                f.write_str("it has mounted file systems: ")?;
                for (i, m) in mounts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} at {}", m.source, m.point.display())?;
                }
                Ok(())
            }
            Refusal::NonRemovable { transport } => match transport {
                Transport::Loop => f.write_str("it is a loop device, not a removable disk"),
                t => write!(f, "it is not a removable disk (transport {t})"),
            },
            Refusal::ReadOnly => f.write_str("it is read-only"),
            Refusal::TooSmall { size, needed } => write!(
                f,
                "it holds {size} bytes, smaller than the image ({needed} bytes)"
            ),
        }
    }
}

/// Every reason not to write an image of `image_len` bytes to `target`
/// under `rules`; empty when writing may go on.
pub fn assess(target: &Target, image_len: u64, rules: &Rules) -> Vec<Refusal> {
    assess_image(target, image_len, None, rules)
}

/// [`assess`], also refusing a target that is the image itself (`image`
/// is the image's metadata).
pub fn assess_image(
    target: &Target,
    image_len: u64,
    image: Option<&std::fs::Metadata>,
    rules: &Rules,
) -> Vec<Refusal> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let image_id = image.map(|m| (m.dev(), m.ino()));
    let image_rdev = image
        .filter(|m| m.file_type().is_block_device())
        .map(|m| (rustix::fs::major(m.rdev()), rustix::fs::minor(m.rdev())));
    let mut out = Vec::new();
    let disk = match target {
        Target::Disk(d) => {
            if image_rdev.is_some_and(|r| r == d.dev || d.partitions.iter().any(|p| p.dev == r)) {
                out.push(Refusal::IsTheImage);
            }
            d
        }
        Target::Partition { disk, partition } => {
            out.push(Refusal::Partition {
                partition: partition.clone(),
                disk: disk.node.clone(),
            });
            return out;
        }
        Target::File { id, len, .. } => {
            if !rules.file_target {
                out.push(if len.is_some() {
                    Refusal::RegularFile
                } else {
                    Refusal::Missing
                });
            } else if id.is_some() && *id == image_id {
                out.push(Refusal::IsTheImage);
            }
            return out;
        }
        Target::Other { kind, .. } => {
            out.push(Refusal::NotABlockDevice { kind });
            return out;
        }
    };
    let (system, other): (Vec<&Mount>, Vec<&Mount>) =
        disk.mounts.iter().partition(|m| m.is_system());
    for m in system {
        out.push(Refusal::System { mount: m.clone() });
    }
    for s in &disk.swaps {
        out.push(Refusal::Swap { area: s.clone() });
    }
    if !disk.holders.is_empty() {
        out.push(Refusal::Held {
            holders: disk.holders.clone(),
        });
    }
    if !other.is_empty() && !rules.unmount {
        out.push(Refusal::Mounted {
            mounts: other.into_iter().cloned().collect(),
        });
    }
    if !disk.is_removable(rules.allow_loop) && !rules.force_non_removable {
        out.push(Refusal::NonRemovable {
            transport: disk.transport,
        });
    }
    if disk.read_only {
        out.push(Refusal::ReadOnly);
    }
    if disk.size < image_len {
        out.push(Refusal::TooSmall {
            size: disk.size,
            needed: image_len,
        });
    }
    out
}

/// Unmounts every mount of `disk`, last mounted first; system mounts are
/// never touched (see [`assess`]).
///
/// # Security
///
/// Unmounts file systems of the running system; callers ask the user first.
pub fn unmount_all(disk: &Device) -> crate::Result<Vec<PathBuf>> {
    let mut done = Vec::new();
    for m in disk.mounts.iter().rev() {
        if m.is_system() {
            return Err(crate::Error::InvalidInput(format!(
                "{} is a system mount point; it is not unmounted",
                m.point.display()
            )));
        }
        rustix::mount::unmount(&m.point, rustix::mount::UnmountFlags::empty()).map_err(|e| {
            std::io::Error::new(
                std::io::Error::from(e).kind(),
                format!("cannot unmount {}: {e}", m.point.display()),
            )
        })?;
        done.push(m.point.clone());
    }
    Ok(done)
}

/// The disks worth offering as targets: removable, hot-pluggable or on USB
/// (loop devices only when `allow_loop`), with a medium, writable, not
/// optical drives.
pub fn candidates(probe: &dyn Probe, allow_loop: bool) -> crate::Result<Vec<Device>> {
    Ok(probe
        .disks()?
        .into_iter()
        .filter(|d| {
            d.is_removable(allow_loop)
                && d.size > 0
                && !d.read_only
                && !d.name.starts_with("sr")
                && !d.name.starts_with("zram")
                && !d.name.starts_with("ram")
        })
        .collect())
}

#[cfg(test)]
mod tests;
