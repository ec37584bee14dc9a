//! What is mounted and what swaps: `/proc/self/mountinfo` and `/proc/swaps`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One mounted file system, from a line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    /// The device number the kernel reports for it (`major:minor`).
    pub dev: (u32, u32),
    /// Where it is mounted.
    pub point: PathBuf,
    /// The file system type (`ext4`, `vfat`, ...).
    pub fstype: String,
    /// The mount source (`/dev/sdb1`); for btrfs and others whose device
    /// number is anonymous, the only link to the block device.
    pub source: String,
}

impl Mount {
    /// True for the root file system and those a running system needs:
    /// mounted at or below `/boot`, `/usr`, `/var`, `/etc` and the other
    /// top-level directories of the file system hierarchy, or at `/home` or
    /// `/root` themselves. Mounts elsewhere (`/media`, `/mnt`, `/run/media`,
    /// a directory in a home, a temporary directory) may be unmounted to
    /// write over their device.
    pub fn is_system(&self) -> bool {
        const TREES: &[&str] = &[
            "/boot", "/efi", "/usr", "/var", "/etc", "/opt", "/srv", "/nix", "/gnu", "/snap",
            "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
        ];
        const POINTS: &[&str] = &["/", "/home", "/root"];
        POINTS.iter().any(|p| self.point == std::path::Path::new(p))
            || TREES.iter().any(|s| self.point.starts_with(s))
    }
}

/// Undoes the octal escapes (`\040` for a space) the kernel puts in paths.
fn unescape(field: &str) -> OsString {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            if let Some(d) = b.get(i + 1..i + 4) {
                if d.iter().all(|x| (b'0'..=b'7').contains(x)) {
                    let v = d.iter().fold(0u32, |acc, x| acc * 8 + u32::from(x - b'0'));
                    if let Ok(v) = u8::try_from(v) {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(c);
        i += 1;
    }
    OsString::from_vec(out)
}

/// Parses `major:minor`.
pub(crate) fn parse_dev(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The mounts listed in the text of a `mountinfo` file; malformed lines are
/// skipped.
///
/// A line is `ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE
/// SOURCE SUPER_OPTIONS` (proc(5)).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (head, tail) = line.split_once(" - ")?;
            let mut h = head.split(' ');
            let dev = parse_dev(h.nth(2)?)?;
            let point = PathBuf::from(unescape(h.nth(1)?));
            let mut t = tail.split(' ');
            let fstype = t.next()?.to_string();
            let source = unescape(t.next().unwrap_or(""))
                .to_string_lossy()
                .into_owned();
            Some(Mount {
                dev,
                point,
                fstype,
                source,
            })
        })
        .collect()
}

/// The files and devices in use as swap, from the text of `/proc/swaps`.
pub fn parse_swaps(text: &str) -> Vec<PathBuf> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(|f| PathBuf::from(unescape(f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let text = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
36 22 8:17 / /media/me/MY\\040STICK rw,nosuid master:1 shared:5 - vfat /dev/sdb1 rw,fmask=0022
40 22 0:45 /@home /home rw,relatime shared:9 - btrfs /dev/nvme0n1p2 rw,subvol=/@home
garbage line without separator
41 22 bad / /x rw - tmpfs tmpfs rw
";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].dev, (254, 0));
        assert!(m[0].is_system());
        assert_eq!(m[1].point, PathBuf::from("/media/me/MY STICK"));
        assert_eq!(m[1].fstype, "vfat");
        assert_eq!(m[1].source, "/dev/sdb1");
        assert!(!m[1].is_system());
        assert_eq!(m[2].dev, (0, 45));
        assert!(m[2].is_system());
        assert_eq!(m[2].source, "/dev/nvme0n1p2");
    }

    #[test]
    fn system_mount_points() {
        let at = |p: &str| Mount {
            dev: (8, 1),
            point: p.into(),
            fstype: "ext4".into(),
            source: String::new(),
        };
        for p in ["/", "/boot/efi", "/var/lib/docker", "/home"] {
            assert!(at(p).is_system(), "{p}");
        }
        for p in [
            "/media/x",
            "/mnt",
            "/run/media/u/S",
            "/tmp/t",
            "/homes",
            "/work/m",
            "/home/me/stick",
        ] {
            assert!(!at(p).is_system(), "{p}");
        }
    }

    #[test]
    fn swaps_and_escapes() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/sda3                               partition\t8388604\t\t0\t\t-2\n\
                    /swap\\040file                         file\t\t1024\t0\t-3\n";
        assert_eq!(
            parse_swaps(text),
            vec![PathBuf::from("/dev/sda3"), PathBuf::from("/swap file")]
        );
        assert_eq!(unescape("a\\134b\\9"), OsString::from("a\\b\\9"));
        assert_eq!(unescape("end\\04"), OsString::from("end\\04"));
    }
}
