//! Reading a seed image back: what cloud-init will see in it.
//!
//! An ISO 9660 seed is read with [`Image`]; a FAT seed with the small,
//! bounded reader below, which looks only at what cloud-init uses: the
//! labels and the files of the root directory.

use std::io::Read;

use super::check::{self, Finding, Severity, MAX_CHECKED};
use super::{SeedFormat, FAT_LABEL, ISO_LABEL};
use crate::error::{Error, Result};
use crate::read::{FileType, Image};
use crate::source::ReadAt;
use crate::View;

/// The files of one name space (or the FAT root) of a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedListing {
    /// Which names these are: `Rock Ridge`, `Joliet`, `ISO 9660` or `FAT`.
    pub namespace: &'static str,
    /// Who reads this name space.
    pub reader: &'static str,
    /// Entries of the root directory: name, size, whether a directory.
    pub files: Vec<(String, u64, bool)>,
}

/// What cloud-init will see in a seed image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedReport {
    /// ISO 9660 or FAT.
    pub format: SeedFormat,
    /// The label blkid reports, which cloud-init matches.
    pub label: String,
    /// Every label recorded, and where.
    pub labels: Vec<(&'static str, String)>,
    /// The root directory in each name space.
    pub listings: Vec<SeedListing>,
    /// instance-id in meta-data.
    pub instance_id: Option<String>,
    /// local-hostname in meta-data.
    pub local_hostname: Option<String>,
    /// The checks.
    pub findings: Vec<Finding>,
}

impl SeedReport {
    /// Whether a check found something that keeps cloud-init from using
    /// the seed as meant.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Reads a seed image (ISO 9660 or FAT) and checks it as cloud-init's
/// NoCloud data source will read it.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the image is neither ISO 9660 nor FAT;
/// [`Error::Corrupt`] and the other reading errors when it is malformed.
/// What would keep cloud-init from using a well-formed image is reported
/// in [`SeedReport::findings`].
pub fn inspect<S: ReadAt>(src: S) -> Result<SeedReport> {
    let size = src.size().map_err(|e| Error::io_at(e, 0))?;
    let mut magic = [0u8; 5];
    if size >= 32774 {
        src.read_exact_at(32769, &mut magic)
            .map_err(|e| Error::io_at(e, 32769))?;
    }
    if &magic == b"CD001" {
        return inspect_iso(&Image::open(src)?);
    }
    let mut boot = [0u8; 512];
    if size >= 512 {
        src.read_exact_at(0, &mut boot)
            .map_err(|e| Error::io_at(e, 0))?;
        if boot.get(510..512) == Some(&[0x55, 0xAA][..]) && Fat::of(&boot, size).is_ok() {
            return inspect_fat(&src, &boot, size);
        }
    }
    Err(Error::InvalidInput(
        "neither an ISO 9660 nor a FAT image, so not a cloud-init seed".into(),
    ))
}

/// Reads up to [`MAX_CHECKED`] bytes of a file of an image; `None` when it
/// is larger.
fn read_capped(r: impl Read) -> Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_CHECKED).unwrap_or(u64::MAX) + 1;
    r.take(limit).read_to_end(&mut buf)?;
    Ok((buf.len() <= MAX_CHECKED).then_some(buf))
}

/// Checks the seed files in `files` (name, contents if read) and fills in
/// the meta-data fields.
fn check_files(
    report: &mut SeedReport,
    files: Vec<(&'static str, Option<Option<Vec<u8>>>)>,
    where_: &str,
) {
    for (name, data) in files {
        match data {
            None if matches!(name, "user-data" | "meta-data") => {
                report.findings.push(Finding::new(
                    Severity::Error,
                    "",
                    None,
                    format!(
                        "no {name} in the root directory {where_}; cloud-init needs both \
                         user-data and meta-data, and skips the seed without them"
                    ),
                ));
            }
            None => {}
            Some(None) => report.findings.push(Finding::new(
                Severity::Note,
                name,
                None,
                format!("larger than {MAX_CHECKED} bytes; not checked"),
            )),
            Some(Some(d)) => {
                if name == "meta-data" {
                    let (id, host) = check::meta_fields(&d);
                    report.instance_id = id;
                    report.local_hostname = host;
                }
                report.findings.extend(check::check_file(name, &d));
            }
        }
    }
}

fn label_finding(label: &str, fat: bool) -> Option<Finding> {
    if label == ISO_LABEL || label == FAT_LABEL {
        return None;
    }
    let want = if fat { FAT_LABEL } else { ISO_LABEL };
    Some(Finding::new(
        Severity::Error,
        "",
        None,
        format!(
            "the label is {label:?}; cloud-init looks for exactly cidata or CIDATA \
             (use {want})"
        ),
    ))
}

fn inspect_iso<S: ReadAt>(img: &Image<S>) -> Result<SeedReport> {
    let info = img.info();
    let pvd_label = info.volume_id.trim_end().to_string();
    let mut labels = vec![("ISO 9660 volume identifier", pvd_label.clone())];
    let joliet_label = info.joliet().map(|j| j.volume_id.trim_end().to_string());
    if let Some(j) = &joliet_label {
        labels.push(("Joliet volume identifier", j.clone()));
    }
    // blkid (util-linux) prefers the Joliet label when it is the primary
    // one but for letter case (it keeps lower case, which d-characters
    // cannot); otherwise it reports the primary label.
    let label = match &joliet_label {
        Some(j) if j.eq_ignore_ascii_case(&pvd_label) => j.clone(),
        _ => pvd_label.clone(),
    };
    let mut report = SeedReport {
        format: SeedFormat::Iso9660,
        label: label.clone(),
        labels,
        listings: Vec::new(),
        instance_id: None,
        local_hostname: None,
        findings: Vec::new(),
    };
    report.findings.extend(label_finding(&label, false));
    if let Some(j) = joliet_label.as_deref().filter(|j| *j != pvd_label) {
        report.findings.push(Finding::new(
            Severity::Warning,
            "",
            None,
            format!(
                "the ISO 9660 label {pvd_label:?} and the Joliet label {j:?} differ; \
                 give both the same name"
            ),
        ));
    }
    let views = img.views();
    let mut linux_view = None;
    for (view, namespace, reader) in [
        (View::RockRidge, "Rock Ridge", "Linux (cloud-init)"),
        (
            View::Joliet,
            "Joliet",
            "Windows (cloudbase-init), and Linux without Rock Ridge",
        ),
        (
            View::Iso9660,
            "ISO 9660",
            "readers without Rock Ridge or Joliet",
        ),
    ] {
        if !views.contains(&view) {
            continue;
        }
        let root = img.root(view)?;
        let entries = img.read_dir(&root, view)?;
        report.listings.push(SeedListing {
            namespace,
            reader,
            files: entries
                .iter()
                .map(|e| (e.name.clone(), e.size, e.file_type == FileType::Dir))
                .collect(),
        });
        linux_view.get_or_insert((view, namespace, entries));
    }
    let Some((view, namespace, entries)) = linux_view else {
        return Ok(report);
    };
    if view == View::Iso9660 {
        report.findings.push(Finding::new(
            Severity::Error,
            "",
            None,
            "neither Rock Ridge nor Joliet: Linux sees only 8.3 names such as user_dat, \
             so cloud-init finds no user-data or meta-data"
                .into(),
        ));
    }
    if !views.contains(&View::Joliet) {
        report.findings.push(Finding::new(
            Severity::Warning,
            "",
            None,
            "no Joliet tree: Windows guests (cloudbase-init) see only ISO 9660 names such as \
             USER_DAT and find no user-data"
                .into(),
        ));
    } else if view != View::Joliet {
        let joliet = report
            .listings
            .iter()
            .find(|l| l.namespace == "Joliet")
            .map(|l| l.files.clone())
            .unwrap_or_default();
        for name in ["user-data", "meta-data"] {
            let in_linux = entries.iter().any(|e| e.name == name);
            if in_linux && !joliet.iter().any(|f| f.0 == name) {
                report.findings.push(Finding::new(
                    Severity::Warning,
                    "",
                    None,
                    format!("no {name} among the Joliet names, which Windows guests read"),
                ));
            }
        }
    }
    let mut files = Vec::new();
    for name in super::SEED_FILES {
        let data = match entries
            .iter()
            .find(|e| e.name == name && e.file_type == FileType::File)
        {
            Some(e) => Some(read_capped(img.open_file(e)?)?),
            None => None,
        };
        files.push((name, data));
    }
    check_files(&mut report, files, &format!("({namespace} names)"));
    Ok(report)
}

// ---------------------------------------------------------------------------
// FAT

/// The layout of a FAT volume, from its boot sector.
#[derive(Debug, Clone, Copy)]
struct Fat {
    /// 12, 16 or 32.
    bits: u8,
    cluster_bytes: u64,
    /// Byte offset of the first FAT.
    fat_at: u64,
    fat_len: u64,
    /// Byte offset and length of the FAT12/16 root directory.
    root_at: u64,
    root_len: u64,
    /// Byte offset of cluster 2.
    data_at: u64,
    /// Highest valid cluster number + 1.
    cluster_end: u64,
    root_cluster: u64,
}

fn le16(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2)
        .and_then(|s| s.first_chunk::<2>())
        .map_or(0, |c| u64::from(u16::from_le_bytes(*c)))
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |c| u64::from(u32::from_le_bytes(*c)))
}

fn bad_bpb(msg: &str) -> Error {
    Error::corrupt("FAT boot sector", 0, msg.to_string())
}

impl Fat {
    /// The layout the boot sector `b` describes, checked against the image
    /// size (FAT specification, "BPB" and "FAT type determination").
    fn of(b: &[u8; 512], size: u64) -> Result<Fat> {
        let bps = le16(b, 11);
        if ![512, 1024, 2048, 4096].contains(&bps) {
            return Err(bad_bpb("bytes per sector is not 512, 1024, 2048 or 4096"));
        }
        let spc = u64::from(b[13]);
        if spc == 0 || !spc.is_power_of_two() {
            return Err(bad_bpb("sectors per cluster is not a power of two"));
        }
        let reserved = le16(b, 14);
        let fats = u64::from(b[16]);
        if reserved == 0 || fats == 0 {
            return Err(bad_bpb("no reserved sectors or no FAT"));
        }
        let root_entries = le16(b, 17);
        let total = match le16(b, 19) {
            0 => le32(b, 32),
            n => n,
        };
        let fat_sectors = match le16(b, 22) {
            0 => le32(b, 36),
            n => n,
        };
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let first_data = reserved + fats * fat_sectors + root_sectors;
        let data_sectors = total
            .checked_sub(first_data)
            .ok_or_else(|| bad_bpb("the FATs and root directory are larger than the volume"))?;
        let clusters = data_sectors / spc;
        let bits = if clusters < 4085 {
            12
        } else if clusters < 65525 {
            16
        } else {
            32
        };
        if total * bps > size {
            return Err(bad_bpb("the volume is larger than the image"));
        }
        if bits == 32 && root_entries != 0 {
            return Err(bad_bpb("a FAT32 volume with a fixed root directory"));
        }
        let fat = Fat {
            bits,
            cluster_bytes: spc * bps,
            fat_at: reserved * bps,
            fat_len: fat_sectors * bps,
            root_at: (reserved + fats * fat_sectors) * bps,
            root_len: root_sectors * bps,
            data_at: first_data * bps,
            cluster_end: clusters + 2,
            root_cluster: if bits == 32 { le32(b, 44) } else { 0 },
        };
        if fat.fat_len * 8 < (clusters + 2) * u64::from(bits) {
            return Err(bad_bpb("the FAT is too small for the clusters"));
        }
        Ok(fat)
    }

    /// The cluster after `c` in its chain, or `None` at the end.
    fn next<S: ReadAt>(&self, src: &S, c: u64) -> Result<Option<u64>> {
        let (at, width) = match self.bits {
            12 => (c + c / 2, 2),
            16 => (c * 2, 2),
            _ => (c * 4, 4),
        };
        if at + width > self.fat_len {
            return Err(Error::corrupt(
                "FAT",
                self.fat_at,
                format!("cluster {c} is past the end of the FAT"),
            ));
        }
        let mut buf = [0u8; 4];
        let slice = buf
            .get_mut(..usize::try_from(width).unwrap_or(2))
            .unwrap_or_default();
        src.read_exact_at(self.fat_at + at, slice)
            .map_err(|e| Error::io_at(e, self.fat_at + at))?;
        let v = u64::from(u32::from_le_bytes(buf));
        let (next, end) = match self.bits {
            12 if c % 2 == 1 => (v >> 4, 0xFF8),
            12 => (v & 0xFFF, 0xFF8),
            16 => (v, 0xFFF8),
            _ => (v & 0x0FFF_FFFF, 0x0FFF_FFF8),
        };
        if next >= end {
            return Ok(None);
        }
        if next < 2 || next >= self.cluster_end {
            return Err(Error::corrupt(
                "FAT",
                self.fat_at + at,
                format!("cluster {c} is followed by {next}, which is not a data cluster"),
            ));
        }
        Ok(Some(next))
    }

    /// Up to `len` bytes of the chain starting at cluster `first`. The
    /// walk stops after as many clusters as the volume has, so a loop in
    /// the FAT is an error, not a hang.
    fn read_chain<S: ReadAt>(&self, src: &S, first: u64, len: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut cur = Some(first);
        let mut steps = 0u64;
        while let Some(c) = cur {
            if u64::try_from(out.len()).unwrap_or(u64::MAX) >= len {
                break;
            }
            if c < 2 || c >= self.cluster_end {
                return Err(Error::corrupt(
                    "FAT directory entry",
                    self.data_at,
                    format!("cluster {c} is not a data cluster"),
                ));
            }
            steps += 1;
            if steps > self.cluster_end {
                return Err(Error::corrupt("FAT", self.fat_at, "a cluster chain loops"));
            }
            let want = self
                .cluster_bytes
                .min(len - u64::try_from(out.len()).unwrap_or(0));
            let at = self.data_at + (c - 2) * self.cluster_bytes;
            let start = out.len();
            out.resize(start + usize::try_from(want).unwrap_or(0), 0);
            src.read_exact_at(at, out.get_mut(start..).unwrap_or_default())
                .map_err(|e| Error::io_at(e, at))?;
            cur = self.next(src, c)?;
        }
        Ok(out)
    }
}

/// A FAT directory entry: long (or 8.3) name, attributes, first cluster,
/// size.
struct DirEntry {
    name: String,
    attr: u8,
    cluster: u64,
    size: u64,
}

/// The 8.3 name of a directory entry as Linux shows it (lower-case flags
/// of byte 12 applied).
fn short_name(e: &[u8]) -> String {
    let flags = e.get(12).copied().unwrap_or(0);
    let part = |r: std::ops::Range<usize>, lower: bool| {
        let s: String = e
            .get(r)
            .unwrap_or_default()
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .trim_end()
            .to_string();
        if lower {
            s.to_ascii_lowercase()
        } else {
            s
        }
    };
    let base = part(0..8, flags & 0x08 != 0);
    let ext = part(8..11, flags & 0x10 != 0);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// Entries of a directory's bytes, long names assembled (a long name is
/// used only when its checksum matches the 8.3 entry that follows it).
fn dir_entries(data: &[u8]) -> (Vec<DirEntry>, Option<String>) {
    let mut out = Vec::new();
    let mut label = None;
    let mut lfn: Vec<(u8, [u16; 13])> = Vec::new();
    let mut lfn_sum = None;
    for e in data.chunks_exact(32) {
        let first = e.first().copied().unwrap_or(0);
        let attr = e.get(11).copied().unwrap_or(0);
        if first == 0 {
            break;
        }
        if first == 0xE5 {
            lfn.clear();
            continue;
        }
        if attr & 0x3F == 0x0F {
            let mut units = [0u16; 13];
            let spans = [(1usize, 5usize), (14, 6), (28, 2)];
            let mut k = 0;
            for (at, n) in spans {
                for i in 0..n {
                    if let Some(u) = units.get_mut(k) {
                        *u = u16::try_from(le16(e, at + 2 * i)).unwrap_or(0);
                    }
                    k += 1;
                }
            }
            if first & 0x40 != 0 {
                lfn.clear();
            }
            lfn.push((first & 0x1F, units));
            lfn_sum = e.get(13).copied();
            continue;
        }
        if attr & 0x08 != 0 {
            label = Some(short_name(e).replace('.', ""));
            lfn.clear();
            continue;
        }
        let sum = e
            .get(..11)
            .unwrap_or_default()
            .iter()
            .fold(0u8, |s, &b| (s >> 1).wrapping_add(s << 7).wrapping_add(b));
        let mut name = short_name(e);
        if !lfn.is_empty() && lfn_sum == Some(sum) {
            lfn.sort_by_key(|p| p.0);
            let units: Vec<u16> = lfn
                .iter()
                .flat_map(|p| p.1)
                .take_while(|&u| u != 0)
                .collect();
            name = String::from_utf16_lossy(&units);
        }
        lfn.clear();
        if name == "." || name == ".." {
            continue;
        }
        out.push(DirEntry {
            name,
            attr,
            cluster: (le16(e, 20) << 16) | le16(e, 26),
            size: le32(e, 28),
        });
    }
    (out, label)
}

/// Largest root directory read (64 Ki entries, the FAT maximum).
const MAX_ROOT_BYTES: u64 = 65536 * 32;

fn inspect_fat<S: ReadAt>(src: &S, boot: &[u8; 512], size: u64) -> Result<SeedReport> {
    let fat = Fat::of(boot, size)?;
    let root = if fat.bits == 32 {
        fat.read_chain(src, fat.root_cluster, MAX_ROOT_BYTES)?
    } else {
        let len = fat.root_len.min(MAX_ROOT_BYTES);
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        src.read_exact_at(fat.root_at, &mut buf)
            .map_err(|e| Error::io_at(e, fat.root_at))?;
        buf
    };
    let (entries, root_label) = dir_entries(&root);
    // Boot sector label: extended boot signature 0x29 at 38 (FAT12/16)
    // or 66 (FAT32), label after the serial.
    let (sig, at) = if fat.bits == 32 { (66, 71) } else { (38, 43) };
    let boot_label = (boot.get(sig) == Some(&0x29))
        .then(|| {
            let l: String = boot
                .get(at..at + 11)
                .unwrap_or_default()
                .iter()
                .map(|&b| char::from(b))
                .collect();
            l.trim_end().to_string()
        })
        .filter(|l| !l.is_empty() && l != "NO NAME");
    let mut labels = Vec::new();
    if let Some(l) = &root_label {
        labels.push(("FAT root directory label", l.clone()));
    }
    if let Some(l) = &boot_label {
        labels.push(("FAT boot sector label", l.clone()));
    }
    // blkid reports the root directory's label, else the boot sector's.
    let label = root_label
        .clone()
        .or(boot_label.clone())
        .unwrap_or_default();
    let mut report = SeedReport {
        format: SeedFormat::Vfat,
        label: label.clone(),
        labels,
        listings: vec![SeedListing {
            namespace: "FAT",
            reader: "Linux and Windows",
            files: entries
                .iter()
                .map(|e| (e.name.clone(), e.size, e.attr & 0x10 != 0))
                .collect(),
        }],
        instance_id: None,
        local_hostname: None,
        findings: Vec::new(),
    };
    if root_label.is_none() && boot_label.is_some() {
        report.findings.push(Finding::new(
            Severity::Warning,
            "",
            None,
            "the label is only in the boot sector; blkid reports it as LABEL_FATBOOT, which \
             ds-identify and older cloud-init do not look at: put it in the root directory too"
                .into(),
        ));
    }
    report.findings.extend(label_finding(&label, true));
    let mut files = Vec::new();
    for name in super::SEED_FILES {
        // FAT names are looked up without regard to case.
        let data = match entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name) && e.attr & 0x18 == 0)
        {
            Some(e) if e.size > u64::try_from(MAX_CHECKED).unwrap_or(u64::MAX) => Some(None),
            Some(e) if e.size == 0 => Some(Some(Vec::new())),
            Some(e) => Some(Some(fat.read_chain(src, e.cluster, e.size)?)),
            None => None,
        };
        files.push((name, data));
    }
    check_files(&mut report, files, "");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        let mut e = [b' '; 32];
        e[..8].copy_from_slice(b"USER-DAT");
        assert_eq!(short_name(&e), "USER-DAT");
        e[8..11].copy_from_slice(b"TXT");
        e[12] = 0x18;
        assert_eq!(short_name(&e), "user-dat.txt");
    }

    /// A seed with a user-data of several clusters.
    fn seed_image(format: SeedFormat) -> Vec<u8> {
        let mut o = super::super::SeedOptions::default();
        let mut ud = b"#cloud-config\nwrite_files:\n  - path: /x\n    content: |\n".to_vec();
        for i in 0..300 {
            ud.extend_from_slice(format!("      line {i}\n").as_bytes());
        }
        o.user_data = Some(super::super::SeedInput::new("u", ud));
        o.hostname = Some("h".into());
        o.format = format;
        let mut img = Vec::new();
        super::super::prepare(&o)
            .unwrap()
            .write_to(&mut img)
            .unwrap();
        img
    }

    #[test]
    fn reads_back_what_was_written() {
        for format in [SeedFormat::Iso9660, SeedFormat::Vfat] {
            let r = inspect(seed_image(format)).unwrap();
            assert_eq!(r.format, format);
            assert!(r.findings.is_empty(), "{:?}", r.findings);
            assert_eq!(r.local_hostname.as_deref(), Some("h"));
            assert!(r.instance_id.as_deref().unwrap().starts_with("iid-"));
            let names: Vec<&str> = r.listings[0].files.iter().map(|f| f.0.as_str()).collect();
            assert_eq!(names, ["meta-data", "user-data"], "{format:?}");
        }
    }

    #[test]
    fn a_fat_chain_out_of_the_volume_is_an_error() {
        let mut img = seed_image(SeedFormat::Vfat);
        // FAT12 at sector 1: entries 2 to 21 (two per three bytes) point
        // to cluster 0xFF0, past the end of this small volume.
        for k in 0..10 {
            let at = 512 + 3 + 3 * k;
            img[at..at + 3].copy_from_slice(&[0xF0, 0x0F, 0xFF]);
        }
        let e = inspect(img).unwrap_err().to_string();
        assert!(e.contains("not a data cluster"), "{e}");
    }

    /// Damaged copies of seeds end in a report or an error, never a panic
    /// or a hang.
    #[test]
    fn damaged_seeds_do_not_panic() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for format in [SeedFormat::Iso9660, SeedFormat::Vfat] {
            let good = seed_image(format);
            let span = good.len().min(64 << 10);
            for _ in 0..300 {
                let mut img = good.clone();
                for _ in 0..1 + next() % 8 {
                    let at = usize::try_from(next() % span as u64).unwrap();
                    img[at] = u8::try_from(next() & 0xFF).unwrap();
                }
                if next() % 10 == 0 {
                    img.truncate(usize::try_from(next() % span as u64).unwrap());
                }
                let _ = inspect(img);
            }
        }
    }

    #[test]
    fn garbage_is_not_a_seed() {
        assert!(inspect(vec![0u8; 4096]).is_err());
        assert!(inspect(Vec::<u8>::new()).is_err());
        let mut b = vec![0u8; 4096];
        b[510] = 0x55;
        b[511] = 0xAA;
        b[11] = 0x02; // 512 bytes per sector
        b[13] = 1;
        b[14] = 1;
        b[16] = 2;
        b[19] = 8; // 8 sectors: fewer than the FATs need
        b[22] = 4;
        assert!(inspect(b).is_err());
    }
}
