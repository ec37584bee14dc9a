//! A FAT EFI System Partition image made from a host directory, for the
//! El Torito EFI boot entry (`isoforge create --efi-dir`).
//!
//! [`build_esp`] walks the directory in sorted name order, sizes a FAT12,
//! FAT16 or FAT32 volume to hold it, formats that volume in memory with
//! `fatfs` and copies the tree in. The bytes depend only on the names and
//! contents in the tree and on [`EspOptions`]: every timestamp is
//! [`EspOptions::time`], nothing depends on the host's directory order or
//! file times, and the volume serial is either given or derived from the
//! tree.
//!
//! # Sizing
//!
//! Data clusters are counted exactly: one run of clusters per file, one per
//! directory for its `.`, `..` and its children's entries (each child takes
//! one 8.3 entry and one long-name entry per 13 UTF-16 units, since `fatfs`
//! always writes long names), and on FAT32 the root directory's clusters.
//! Clusters are 512 bytes while the tree needs at most 2^19 of them
//! (256 MiB) and 4 KiB above that, the sizes of Microsoft's FAT32 table.
//! The volume gets 1/16 more clusters plus 16 and then takes its type from
//! the cluster count, as the FAT specification does: FAT12 below 4085,
//! FAT16 below 65525, FAT32 from there. A count within 16 of either limit
//! is raised past it, because FAT drivers disagree by a few clusters about
//! where the limits are. The image is a whole number of 2048-byte blocks so
//! that it fills ISO sectors exactly. Should `fatfs` still run out of
//! space, the build starts over with twice the extra clusters, a bounded
//! number of times. Images over 4 GiB are refused.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::builder::{FileSource, Time};
use crate::error::{Error, Result};

/// Options for [`build_esp`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EspOptions {
    /// Volume serial number. `None` derives it from a SHA-256 over the
    /// tree's relative paths, entry types and file contents in sorted
    /// order: the same tree always gets the same serial, and a different
    /// tree another one (but for a 2^-32 chance).
    pub volume_serial: Option<u32>,
    /// Volume label, written to the boot sector and to the root directory:
    /// at most 11 characters that an 8.3 name can hold. Lower-case ASCII
    /// letters are upper-cased; an empty label is written as `NO NAME`.
    pub label: String,
    /// Every FAT timestamp (creation, modification and access of every
    /// entry, and the label's), read as UTC. It is rounded down to FAT's
    /// 2-second steps and clamped to the range FAT can hold, 1980-01-01
    /// to 2107-12-31.
    pub time: Time,
}

impl Default for EspOptions {
    /// A derived serial, the label `EFIBOOT` and the FAT epoch,
    /// 1980-01-01T00:00:00Z, as the time.
    fn default() -> Self {
        EspOptions {
            volume_serial: None,
            label: "EFIBOOT".into(),
            time: Time {
                secs: FAT_EPOCH,
                nanos: 0,
            },
        }
    }
}

/// Builds a FAT image holding the files and directories under `dir`, for
/// use as an EFI System Partition.
///
/// The same directory contents and options give the same bytes. The image
/// is a multiple of 2048 bytes long, and its size grows with the contents
/// only; files are streamed in through a bounded buffer.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the tree holds something FAT cannot: a
/// symbolic link, device, FIFO or socket; a name that is not UTF-8, has a
/// character FAT names exclude (`"*/:<>?\|` and control characters), ends
/// in a dot or space, starts with a space, is over 255 bytes or has a
/// character beyond U+FFFF; two names in one directory that differ only
/// in case; a file of 4 GiB or more; a directory of over 65536 entries; or
/// a tree needing an image over 4 GiB. Also when a file changes size while
/// it is copied, or the label is invalid. [`Error::Io`] when the host
/// tree cannot be read; the message names the path.
///
/// # Security
///
/// Reads everything below `dir`. Symbolic links are never followed
/// (except `dir` itself when it is one): they are errors, and files are
/// opened with `O_NOFOLLOW`.
pub fn build_esp(dir: &Path, opts: &EspOptions) -> Result<Vec<u8>> {
    let label = label_bytes(&opts.label)?;
    let scan = Scan::of(dir)?;
    build(&scan, opts, label, dir)
}

/// Builds a FAT image holding `files`, each a `/`-separated path in the
/// volume (its directories are made as needed) and its contents, in
/// memory or in a host file. The image is the one [`build_esp`] makes of a
/// host directory holding the same files: the same sizing, checks of
/// names and sizes, fixed times and derived serial.
///
/// # Errors
///
/// As [`build_esp`]; also [`Error::InvalidInput`] for an empty, `.` or
/// `..` path component, a path given twice or both as a file and as a
/// directory, and contents taken from an image.
///
/// # Security
///
/// Reads the host files named by [`FileSource::Host`], opened with
/// `O_NOFOLLOW`: a symbolic link there is an error.
pub fn build_fat(files: &[(String, FileSource)], opts: &EspOptions) -> Result<Vec<u8>> {
    let label = label_bytes(&opts.label)?;
    let scan = Scan::of_files(files)?;
    build(&scan, opts, label, Path::new("the FAT volume"))
}

fn build(scan: &Scan, opts: &EspOptions, label: [u8; 11], what: &Path) -> Result<Vec<u8>> {
    let now = fat_time(opts.time);
    let _time = TimeScope::set(now);
    for attempt in 0..ATTEMPTS {
        let geo = Geometry::plan(scan, attempt)?;
        match fill(scan, &geo, &label, now)? {
            Filled::Done(mut img, digest) => {
                let serial = opts.volume_serial.unwrap_or(digest);
                set_serial(&mut img, geo.fat, serial)?;
                return Ok(img);
            }
            Filled::Full => {}
        }
    }
    Err(Error::InvalidInput(format!(
        "{}: the FAT image was still too small after {ATTEMPTS} sizings",
        what.display()
    )))
}

/// 1980-01-01T00:00:00Z, the earliest FAT time.
const FAT_EPOCH: i64 = 315_532_800;
/// 2107-12-31T23:59:58Z, the latest FAT time.
const FAT_END: i64 = 4_354_819_198;
const SECTOR: u64 = 512;
/// The image is a whole number of these (ISO 9660 sectors).
const BLOCK: u64 = 2048;
const MAX_IMAGE: u64 = 4 << 30;
/// FAT12 has fewer clusters than this, FAT16 at least this many.
const FAT16_MIN: u64 = 4085;
/// FAT16 has fewer clusters than this, FAT32 at least this many.
const FAT32_MIN: u64 = 65525;
/// Cluster counts this close to a type limit are moved past it.
const GUARD: u64 = 16;
/// Largest number of 32-byte entries a FAT directory may have.
const MAX_DIR_SLOTS: u64 = 65536;
/// Largest FAT12/16 root directory, in entries, that the BPB's 16-bit
/// field holds in whole sectors.
const MAX_ROOT_ENTRIES: u64 = 65520;
const ATTEMPTS: u32 = 4;
const COPY_BUF: usize = 64 << 10;
const ENTRY: u64 = 32;
const ENTRY_BYTES: usize = 32;
/// UTF-16 units per long-name entry.
const LFN_UNITS: u64 = 13;

// ---------------------------------------------------------------------------
// Time

/// `fatfs` 0.3 asks a `&'static dyn TimeProvider` for the time of every
/// entry it creates or changes. The provider is a static that reads a
/// thread-local value, set by [`TimeScope`] for the span of one
/// [`build_esp`] call: nothing is leaked per build, and builds on other
/// threads each see their own time (all `fatfs` calls of a build run on the
/// calling thread).
#[derive(Debug)]
struct ScopedTime;

static SCOPED_TIME: ScopedTime = ScopedTime;

const FAT_EPOCH_DT: fatfs::DateTime = fatfs::DateTime {
    date: fatfs::Date {
        year: 1980,
        month: 1,
        day: 1,
    },
    time: fatfs::Time {
        hour: 0,
        min: 0,
        sec: 0,
        millis: 0,
    },
};

thread_local! {
    static NOW: Cell<fatfs::DateTime> = const { Cell::new(FAT_EPOCH_DT) };
}

impl fatfs::TimeProvider for ScopedTime {
    fn get_current_date(&self) -> fatfs::Date {
        NOW.with(|t| t.get().date)
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        NOW.with(Cell::get)
    }
}

/// Sets the time [`ScopedTime`] gives on this thread, and puts the
/// previous one back when dropped.
struct TimeScope(fatfs::DateTime);

impl TimeScope {
    fn set(t: fatfs::DateTime) -> Self {
        TimeScope(NOW.with(|c| c.replace(t)))
    }
}

impl Drop for TimeScope {
    fn drop(&mut self) {
        NOW.with(|c| c.set(self.0));
    }
}

/// `t` as a FAT date and time, UTC. The seconds are even and the
/// milliseconds zero, so that the creation time (10 ms steps) and the
/// modification time (2 s steps) hold the same value and `fatfs` never
/// rewrites an entry to update one of them.
fn fat_time(t: Time) -> fatfs::DateTime {
    let secs = t.secs.clamp(FAT_EPOCH, FAT_END);
    let secs = secs.saturating_sub(secs.rem_euclid(2));
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return FAT_EPOCH_DT;
    };
    fatfs::DateTime {
        date: fatfs::Date {
            year: u16::try_from(dt.year()).unwrap_or(1980),
            month: u16::from(u8::from(dt.month())),
            day: u16::from(dt.day()),
        },
        time: fatfs::Time {
            hour: u16::from(dt.hour()),
            min: u16::from(dt.minute()),
            sec: u16::from(dt.second()),
            millis: 0,
        },
    }
}

/// DOS (time, date) words of a directory entry.
fn dos_words(t: fatfs::DateTime) -> (u16, u16) {
    let time = (t.time.hour << 11) | (t.time.min << 5) | (t.time.sec / 2);
    let date = (t.date.year.saturating_sub(1980) << 9) | (t.date.month << 5) | t.date.day;
    (time, date)
}

// ---------------------------------------------------------------------------
// Names

/// The 11 bytes of the volume label field.
fn label_bytes(label: &str) -> Result<[u8; 11]> {
    if label.is_empty() {
        return Ok(*b"NO NAME    ");
    }
    let bad = |why: &str| Error::InvalidInput(format!("FAT volume label {label:?}: {why}"));
    if label.len() > 11 {
        return Err(bad("longer than 11 characters"));
    }
    if label.starts_with(' ') {
        return Err(bad("starts with a space"));
    }
    let mut out = [b' '; 11];
    for (slot, b) in out.iter_mut().zip(label.bytes()) {
        *slot = match b.to_ascii_uppercase() {
            c @ (b'A'..=b'Z' | b'0'..=b'9' | b' ') => c,
            c if b"!#$%&'()-@^_`{}~".contains(&c) => c,
            _ => {
                return Err(bad(
                    "only letters, digits, spaces and !#$%&'()-@^_`{}~ are allowed",
                ))
            }
        };
    }
    Ok(out)
}

/// Why FAT (as `fatfs` writes it) cannot hold `name`, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    if name.len() > 255 {
        return Some("is longer than 255 bytes".into());
    }
    if name.ends_with(['.', ' ']) || name.starts_with(' ') {
        // FAT drivers drop these, so "a." and "a" would be one name.
        return Some("ends with a dot or a space, or starts with a space".into());
    }
    for c in name.chars() {
        if c.is_control() {
            return Some(format!(
                "holds the control character U+{:04X}",
                u32::from(c)
            ));
        }
        if "\"*/:<>?\\|".contains(c) {
            return Some(format!("holds {c:?}, which FAT names exclude"));
        }
        if u32::from(c) > 0xFFFF {
            return Some(format!(
                "holds {c:?}, beyond U+FFFF, which this FAT writer cannot store"
            ));
        }
    }
    None
}

/// The key under which `fatfs` sees two names as the same: full Unicode
/// upper case. It joins a few pairs that FAT drivers using a simple
/// upper-case table keep apart ("ß" and "SS"); refusing those is the
/// safe side.
fn fold(name: &str) -> String {
    name.chars().flat_map(char::to_uppercase).collect()
}

/// 32-byte directory entries a child named `name` takes: its long-name
/// entries and its 8.3 entry.
fn slots(name: &str) -> u64 {
    let units = u64::try_from(name.encode_utf16().count()).unwrap_or(u64::MAX);
    units.div_ceil(LFN_UNITS).saturating_add(1)
}

// ---------------------------------------------------------------------------
// Scan

#[derive(Debug)]
enum Kind {
    Dir,
    File(u64),
}

/// One file or directory below the top directory.
#[derive(Debug)]
struct Item {
    /// The host file, or for contents in memory the path in the volume
    /// (named in messages).
    host: PathBuf,
    /// Contents in memory, for a file not read from the host.
    data: Option<Arc<[u8]>>,
    /// Path from the top directory, `/`-separated.
    rel: String,
    name: String,
    /// 1 for children of the top directory.
    depth: usize,
    kind: Kind,
}

/// The host tree, checked for what FAT can hold, in sorted walk order.
#[derive(Debug)]
struct Scan {
    items: Vec<Item>,
    /// Entries in the root directory (without the label).
    root_slots: u64,
    /// Entries in each subdirectory, `.` and `..` included.
    dir_slots: Vec<u64>,
}

/// A directory being listed while scanning.
struct Open {
    rel: String,
    slots: u64,
    /// Folded name to the name seen first.
    names: HashMap<String, String>,
}

impl Open {
    fn new(rel: String, slots: u64) -> Self {
        Open {
            rel,
            slots,
            names: HashMap::new(),
        }
    }
}

fn host_error(path: &Path, e: &io::Error) -> Error {
    Error::Io {
        source: io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        offset: None,
    }
}

fn invalid(path: &Path, why: &str) -> Error {
    Error::InvalidInput(format!("{}: {why}", path.display()))
}

impl Scan {
    fn of(dir: &Path) -> Result<Scan> {
        let mut scan = Scan {
            items: Vec::new(),
            root_slots: 0,
            dir_slots: Vec::new(),
        };
        // Open directories from the top one down to the current parent.
        let mut open: Vec<Open> = Vec::new();
        for entry in WalkDir::new(dir).follow_links(false).sort_by_file_name() {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(dir).to_path_buf();
                match e.into_io_error() {
                    Some(io) => host_error(&path, &io),
                    None => invalid(&path, "cannot be walked"),
                }
            })?;
            let path = entry.path();
            let ft = entry.file_type();
            if entry.depth() == 0 {
                if !ft.is_dir() {
                    return Err(invalid(path, "is not a directory"));
                }
                open.push(Open::new(String::new(), 0));
                continue;
            }
            let kind = if ft.is_dir() {
                Kind::Dir
            } else if ft.is_file() {
                let len = entry.metadata().map_err(|e| match e.into_io_error() {
                    Some(io) => host_error(path, &io),
                    None => invalid(path, "cannot be read"),
                })?;
                let len = len.len();
                if len > u64::from(u32::MAX) {
                    return Err(invalid(
                        path,
                        "is 4 GiB or larger, more than a FAT file can hold",
                    ));
                }
                Kind::File(len)
            } else {
                return Err(invalid(path, &unsupported(ft)));
            };
            let name = entry
                .file_name()
                .to_str()
                .ok_or_else(|| invalid(path, "the name is not UTF-8, which FAT long names need"))?;
            scan.add(&mut open, entry.depth(), path, name, kind, None)?;
        }
        while !open.is_empty() {
            scan.close(open.pop())?;
        }
        Ok(scan)
    }

    /// Adds the entry `name` at `depth` (1 for the top directory's
    /// children), named `path` in messages, after the entries before it in
    /// walk order; `open` holds the directories from the top one down.
    fn add(
        &mut self,
        open: &mut Vec<Open>,
        depth: usize,
        path: &Path,
        name: &str,
        kind: Kind,
        data: Option<Arc<[u8]>>,
    ) -> Result<()> {
        while open.len() > depth {
            self.close(open.pop())?;
        }
        if open.len() != depth {
            return Err(invalid(path, "walked out of order"));
        }
        if let Some(why) = name_problem(name) {
            return Err(invalid(path, &format!("the name {name:?} {why}")));
        }
        let parent = open
            .last_mut()
            .ok_or_else(|| invalid(path, "walked outside the top directory"))?;
        if let Some(first) = parent.names.insert(fold(name), name.to_string()) {
            return Err(invalid(
                path,
                &format!(
                    "{first:?} is in the same directory and differs only in case; \
                     FAT names ignore case, so a directory cannot hold both"
                ),
            ));
        }
        parent.slots = parent.slots.saturating_add(slots(name));
        let rel = if parent.rel.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", parent.rel)
        };
        if matches!(kind, Kind::Dir) {
            // "." and "..".
            open.push(Open::new(rel.clone(), 2));
        }
        self.items.push(Item {
            host: path.to_path_buf(),
            data,
            rel,
            name: name.to_string(),
            depth,
            kind,
        });
        Ok(())
    }

    /// The scan of a list of files with their paths in the volume: the
    /// entries a walk of a host directory holding them would give, in the
    /// same order.
    fn of_files(files: &[(String, FileSource)]) -> Result<Scan> {
        #[derive(Default)]
        struct Dir {
            dirs: std::collections::BTreeMap<String, Dir>,
            files: std::collections::BTreeMap<String, usize>,
        }
        let mut top = Dir::default();
        for (i, (p, _)) in files.iter().enumerate() {
            let bad = |why: &str| Error::InvalidInput(format!("{p:?}: {why}"));
            let comps: Vec<&str> = p.trim_start_matches('/').split('/').collect();
            let Some((file, dirs)) = comps.split_last() else {
                return Err(bad("no file name"));
            };
            let mut cur = &mut top;
            for c in dirs.iter().chain(std::iter::once(file)) {
                if c.is_empty() || *c == "." || *c == ".." {
                    return Err(bad(
                        "empty, . and .. path components cannot be in a FAT volume",
                    ));
                }
            }
            for c in dirs {
                if cur.files.contains_key(*c) {
                    return Err(bad("a directory in it is also given as a file"));
                }
                cur = cur.dirs.entry((*c).to_string()).or_default();
            }
            if cur.dirs.contains_key(*file) || cur.files.insert((*file).to_string(), i).is_some() {
                return Err(bad("given twice, or as a file and as a directory"));
            }
        }
        let mut scan = Scan {
            items: Vec::new(),
            root_slots: 0,
            dir_slots: Vec::new(),
        };
        let mut open = vec![Open::new(String::new(), 0)];
        /// (depth, name, index in `files` of a file, a directory's entries)
        type Child<'a> = (usize, &'a str, Option<usize>, Option<&'a Dir>);
        /// The entries of `dir`, last first: popped from a stack, they come
        /// out in name order, as the walk of a host directory sorts them.
        fn children(depth: usize, dir: &Dir) -> Vec<Child<'_>> {
            let mut v: Vec<Child<'_>> = dir
                .dirs
                .iter()
                .map(|(n, d)| (depth, n.as_str(), None, Some(d)))
                .chain(
                    dir.files
                        .iter()
                        .map(|(n, &i)| (depth, n.as_str(), Some(i), None)),
                )
                .collect();
            v.sort_by(|a, b| b.1.cmp(a.1));
            v
        }
        // Depth first, a directory before its entries.
        let mut todo: Vec<Child<'_>> = Vec::new();
        todo.extend(children(1, &top));
        while let Some((depth, name, file, sub)) = todo.pop() {
            let (path, src) = match file.and_then(|i| files.get(i)) {
                Some((p, src)) => (p.as_str(), Some(src)),
                None => (name, None),
            };
            let shown = PathBuf::from(path);
            match (src, sub) {
                (Some(src), _) => {
                    let (kind, data) = match src {
                        FileSource::Bytes(b) => {
                            let len = u64::try_from(b.len()).unwrap_or(u64::MAX);
                            (Kind::File(len), Some(Arc::clone(b)))
                        }
                        FileSource::Host(h) => {
                            let m = fs::symlink_metadata(h).map_err(|e| host_error(h, &e))?;
                            if !m.is_file() {
                                return Err(invalid(h, &unsupported(m.file_type())));
                            }
                            if m.len() > u64::from(u32::MAX) {
                                return Err(invalid(
                                    h,
                                    "is 4 GiB or larger, more than a FAT file can hold",
                                ));
                            }
                            (Kind::File(m.len()), None)
                        }
                        FileSource::Image(_) => {
                            return Err(invalid(
                                &shown,
                                "contents from an image cannot go into a FAT volume",
                            ))
                        }
                    };
                    let at = match src {
                        FileSource::Host(h) => h.as_path(),
                        _ => shown.as_path(),
                    };
                    scan.add(&mut open, depth, at, name, kind, data)?;
                }
                (None, Some(d)) => {
                    scan.add(&mut open, depth, &shown, name, Kind::Dir, None)?;
                    todo.extend(children(depth + 1, d));
                }
                (None, None) => return Err(invalid(&shown, "neither a file nor a directory")),
            }
        }
        while !open.is_empty() {
            scan.close(open.pop())?;
        }
        Ok(scan)
    }

    /// Records the entry count of a directory whose listing is complete.
    fn close(&mut self, dir: Option<Open>) -> Result<()> {
        let Some(dir) = dir else { return Ok(()) };
        if dir.slots > MAX_DIR_SLOTS {
            return Err(Error::InvalidInput(format!(
                "directory /{}: {} FAT directory entries, more than the {MAX_DIR_SLOTS} \
                 a FAT directory can have",
                dir.rel, dir.slots
            )));
        }
        if dir.rel.is_empty() {
            self.root_slots = dir.slots;
        } else {
            self.dir_slots.push(dir.slots);
        }
        Ok(())
    }

    /// Clusters of `cluster` bytes for the files and subdirectories.
    fn body_clusters(&self, cluster: u64) -> u64 {
        let files = self.items.iter().map(|i| match i.kind {
            Kind::File(len) => len.div_ceil(cluster),
            Kind::Dir => 0,
        });
        let dirs = self.dir_slots.iter().map(|&s| dir_clusters(s, cluster));
        files.chain(dirs).fold(0, u64::saturating_add)
    }
}

fn dir_clusters(slots: u64, cluster: u64) -> u64 {
    slots.saturating_mul(ENTRY).div_ceil(cluster).max(1)
}

fn unsupported(ft: fs::FileType) -> String {
    let what = if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "neither a file nor a directory"
    };
    format!("is {what}, which a FAT file system cannot hold (only files and directories)")
}

// ---------------------------------------------------------------------------
// Geometry

/// The shape of the volume to format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    fat: FatType,
    /// Bytes per cluster.
    cluster: u32,
    /// Root directory entries (FAT12/16).
    root_entries: u16,
    /// 512-byte sectors in the image.
    sectors: u32,
    /// Data clusters the tree needs; the volume has more.
    needed: u64,
}

impl Geometry {
    /// The volume for `scan`; a later `attempt` leaves more free space.
    fn plan(scan: &Scan, attempt: u32) -> Result<Geometry> {
        let cluster: u64 = if scan.body_clusters(SECTOR) <= 1 << 19 {
            512
        } else {
            4096
        };
        let grow = |n: u64| n.saturating_add((n / 16 + GUARD) << attempt);
        let body = scan.body_clusters(cluster);
        let root = scan.root_slots.saturating_add(1); // the label entry
        let root_entries = grow(root).next_multiple_of(16).max(512);
        let count = grow(body);
        let (fat, clusters, needed) =
            if root_entries > MAX_ROOT_ENTRIES || count >= FAT32_MIN - GUARD {
                let needed = body.saturating_add(dir_clusters(root, cluster));
                let clusters = grow(needed).max(FAT32_MIN + GUARD);
                (FatType::Fat32, clusters, needed)
            } else if count >= FAT16_MIN - GUARD {
                (FatType::Fat16, count.max(FAT16_MIN + GUARD), body)
            } else {
                (FatType::Fat12, count, body)
            };
        let (bits, reserved, root_sectors) = match fat {
            // `fatfs` 0.3 reserves 8 sectors on FAT32 and 1 on FAT12/16.
            FatType::Fat32 => (32, 8, 0),
            FatType::Fat16 => (16, 1, root_entries * ENTRY / SECTOR),
            FatType::Fat12 => (12, 1, root_entries * ENTRY / SECTOR),
        };
        let fat_sectors = (clusters + 2).saturating_mul(bits).div_ceil(8 * SECTOR);
        let sectors = fat_sectors
            .saturating_mul(2)
            .saturating_add(reserved + root_sectors)
            .saturating_add(clusters.saturating_mul(cluster / SECTOR))
            .next_multiple_of(BLOCK / SECTOR);
        let bytes = sectors.saturating_mul(SECTOR);
        if bytes > MAX_IMAGE {
            return Err(Error::InvalidInput(format!(
                "the EFI directory needs a {bytes}-byte FAT image; the limit is {MAX_IMAGE}"
            )));
        }
        Ok(Geometry {
            fat,
            cluster: u32::try_from(cluster).unwrap_or(512),
            root_entries: u16::try_from(root_entries).unwrap_or(512),
            sectors: u32::try_from(sectors).unwrap_or(u32::MAX),
            needed,
        })
    }

    fn bytes(&self) -> usize {
        usize::try_from(u64::from(self.sectors) * SECTOR).unwrap_or(usize::MAX)
    }
}

// ---------------------------------------------------------------------------
// The image in memory

/// The image `fatfs` works on. It cannot grow, and it notes where the last
/// `.` directory entry name was written (see [`fix_dots`]).
struct Disk {
    img: Cursor<Box<[u8]>>,
    dot_at: Option<u64>,
}

/// The 8.3 name field of a `.` entry.
const DOT: &[u8; 11] = b".          ";
/// The 8.3 name field of a `..` entry.
const DOTDOT: &[u8; 11] = b"..         ";

impl Disk {
    fn bytes(&self, at: u64, len: usize) -> Option<&[u8]> {
        let at = usize::try_from(at).ok()?;
        self.img.get_ref().get(at..at.checked_add(len)?)
    }
    fn bytes_mut(&mut self, at: u64, len: usize) -> Option<&mut [u8]> {
        let at = usize::try_from(at).ok()?;
        self.img.get_mut().get_mut(at..at.checked_add(len)?)
    }
}

/// What `fatfs` gets: a shared handle, so that the build can patch the
/// image between `fatfs` calls.
struct DiskRef<'a>(&'a RefCell<Disk>);

impl DiskRef<'_> {
    fn with<T>(&self, f: impl FnOnce(&mut Disk) -> io::Result<T>) -> io::Result<T> {
        let mut d = self
            .0
            .try_borrow_mut()
            .map_err(|_| io::Error::other("FAT image borrowed twice"))?;
        f(&mut d)
    }
}

impl Read for DiskRef<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.with(|d| d.img.read(buf))
    }
}

impl Write for DiskRef<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with(|d| {
            if buf == DOT {
                d.dot_at = Some(d.img.position());
            }
            d.img.write(buf)
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for DiskRef<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.with(|d| d.img.seek(pos))
    }
}

// ---------------------------------------------------------------------------
// Filling the volume

enum Filled {
    /// The image and the serial derived from the tree.
    Done(Vec<u8>, u32),
    /// The volume ran out of space.
    Full,
}

/// Why an attempt stopped.
enum Stop {
    Full,
    Err(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Err(e)
    }
}

/// A `fatfs` error while doing `what`; running out of space is told apart
/// so that the build can retry with a larger volume.
fn fat_error(what: &str, e: io::Error) -> Stop {
    // `fatfs` 0.3 reports a full FAT as `Other` with this text, and a full
    // FAT12/16 root directory as a short write.
    if e.kind() == io::ErrorKind::WriteZero || e.to_string().contains("No space left") {
        return Stop::Full;
    }
    Stop::Err(Error::Io {
        source: io::Error::new(e.kind(), format!("FAT image: {what}: {e}")),
        offset: None,
    })
}

/// The image, between `fatfs` calls.
fn borrow(disk: &RefCell<Disk>) -> Result<std::cell::RefMut<'_, Disk>, Stop> {
    disk.try_borrow_mut()
        .map_err(|_| Stop::Err(internal("image borrowed twice")))
}

fn internal(what: &str) -> Error {
    Error::InvalidInput(format!("FAT image: {what}"))
}

/// Formats a volume of `geo`'s shape and copies the tree in.
fn fill(scan: &Scan, geo: &Geometry, label: &[u8; 11], now: fatfs::DateTime) -> Result<Filled> {
    let disk = RefCell::new(Disk {
        img: Cursor::new(vec![0u8; geo.bytes()].into_boxed_slice()),
        dot_at: None,
    });
    let digest = match fill_in(scan, geo, label, now, &disk) {
        Ok(d) => d,
        Err(Stop::Full) => return Ok(Filled::Full),
        Err(Stop::Err(e)) => return Err(e),
    };
    Ok(Filled::Done(
        disk.into_inner().img.into_inner().into_vec(),
        digest,
    ))
}

fn fill_in(
    scan: &Scan,
    geo: &Geometry,
    label: &[u8; 11],
    now: fatfs::DateTime,
    disk: &RefCell<Disk>,
) -> Result<u32, Stop> {
    let mut format = FormatVolumeOptions::new()
        .bytes_per_sector(512)
        .total_sectors(geo.sectors)
        .bytes_per_cluster(geo.cluster)
        .fat_type(geo.fat)
        .fats(2)
        .volume_id(0)
        .volume_label(*label);
    if geo.fat != FatType::Fat32 {
        format = format.max_root_dir_entries(geo.root_entries);
    }
    fatfs::format_volume(DiskRef(disk), format).map_err(|e| fat_error("formatting", e))?;
    date_label_entry(disk, geo.fat, label, now)?;
    let mut dr = DiskRef(disk);
    dr.seek(SeekFrom::Start(0))
        .map_err(|e| fat_error("mounting", e))?;
    let fs = FileSystem::new(dr, FsOptions::new().time_provider(&SCOPED_TIME))
        .map_err(|e| fat_error("mounting", e))?;
    if fs.fat_type() != geo.fat {
        return Err(internal(&format!(
            "fatfs formatted {:?} where {:?} was planned",
            fs.fat_type(),
            geo.fat
        ))
        .into());
    }
    let stats = fs.stats().map_err(|e| fat_error("mounting", e))?;
    if u64::from(stats.total_clusters()) < geo.needed {
        return Err(Stop::Full);
    }
    let digest = copy_tree(&fs, disk, scan)?;
    check_listing(&fs, scan)?;
    fs.unmount().map_err(|e| fat_error("unmounting", e))?;
    Ok(digest)
}

/// Copies every item into the volume, in scan order, and returns the serial
/// derived from the tree.
fn copy_tree(fs: &FileSystem<DiskRef<'_>>, disk: &RefCell<Disk>, scan: &Scan) -> Result<u32, Stop> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; COPY_BUF];
    // The open directories, the root first; `dirs[d - 1]` is the parent of
    // an item at depth `d`.
    let mut dirs = vec![fs.root_dir()];
    for item in &scan.items {
        dirs.truncate(item.depth);
        let parent = dirs
            .last()
            .filter(|_| dirs.len() == item.depth)
            .ok_or_else(|| internal("walk order"))?;
        let (tag, len) = match item.kind {
            Kind::Dir => (b'd', 0),
            Kind::File(len) => (b'f', len),
        };
        hash.update([tag]);
        hash.update(u64::try_from(item.rel.len()).unwrap_or(0).to_le_bytes());
        hash.update(item.rel.as_bytes());
        hash.update(len.to_le_bytes());
        match item.kind {
            Kind::Dir => {
                borrow(disk)?.dot_at = None;
                let d = parent
                    .create_dir(&item.name)
                    .map_err(|e| create_error(item, e))?;
                // No `.` entry written: `fatfs` opened an existing directory.
                let dot_at = borrow(disk)?
                    .dot_at
                    .take()
                    .ok_or_else(|| alias_clash(item))?;
                fix_dots(disk, dot_at, &item.rel, item.depth == 1)?;
                dirs.push(d);
            }
            Kind::File(len) => {
                let mut f = parent
                    .create_file(&item.name)
                    .map_err(|e| create_error(item, e))?;
                copy_file(item, len, &mut f, &mut hash, &mut buf)?;
                f.flush().map_err(|e| fat_error(&item.rel, e))?;
            }
        }
    }
    let digest = hash.finalize();
    let serial = digest
        .first_chunk::<4>()
        .map_or(0, |b| u32::from_le_bytes(*b));
    Ok(serial)
}

/// The error for an item whose name equals the 8.3 alias `fatfs`
/// generated for a sibling: `fatfs` matches names against aliases too, so
/// it would open the sibling instead of creating the item.
fn alias_clash(item: &Item) -> Stop {
    invalid(
        &item.host,
        "its name equals the 8.3 alias FAT generated for a sibling; rename it",
    )
    .into()
}

/// A `fatfs` error from creating `item`. Finding an entry of the other
/// kind under its name can only be an alias clash, since names that fold
/// to the same key were refused while scanning.
fn create_error(item: &Item, e: io::Error) -> Stop {
    let msg = e.to_string();
    if msg == "Is a directory" || msg == "Not a directory" {
        return alias_clash(item);
    }
    fat_error(&item.rel, e)
}

/// Streams a host file into `out`, hashing it as it goes.
fn copy_file(
    item: &Item,
    len: u64,
    out: &mut impl Write,
    hash: &mut Sha256,
    buf: &mut [u8],
) -> Result<(), Stop> {
    let path = &item.host;
    if let Some(data) = &item.data {
        if u64::try_from(data.len()).ok() != Some(len) {
            return Err(internal("in-memory contents changed size").into());
        }
        hash.update(data);
        out.write_all(data).map_err(|e| fat_error(&item.rel, e))?;
        return Ok(());
    }
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| host_error(path, &e.into()))?;
    let mut src = fs::File::from(fd);
    let meta = src.metadata().map_err(|e| host_error(path, &e))?;
    if !meta.is_file() {
        return Err(invalid(path, "is no longer a regular file").into());
    }
    let changed = || invalid(path, "changed size while it was being copied").into();
    if meta.len() != len {
        return Err(changed());
    }
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let chunk = buf.get_mut(..want).ok_or_else(|| internal("copy buffer"))?;
        let n = match src.read(chunk) {
            Ok(0) => return Err(changed()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(host_error(path, &e).into()),
        };
        let data = chunk.get(..n).ok_or_else(|| internal("copy buffer"))?;
        hash.update(data);
        out.write_all(data).map_err(|e| fat_error(&item.rel, e))?;
        left = left.saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
    }
    let mut probe = [0u8; 1];
    loop {
        match src.read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => return Err(changed()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(host_error(path, &e).into()),
        }
    }
}

/// `fatfs` 0.3 gives the `.` and `..` entries of a new directory long-name
/// entries of their own, which FAT checkers reject (`.` must be the first
/// entry and `..` the second). The new directory starts with
/// `[LFN, ".", LFN, ".."]`; this rewrites it to `[".", "..", end, end]`,
/// after checking it is exactly that (`dot_at` is where the `.` entry's
/// name was written). A `..` that refers to the root gets
/// cluster 0, as FAT requires; `fatfs` writes the FAT32 root's cluster.
fn fix_dots(disk: &RefCell<Disk>, dot_at: u64, rel: &str, in_root: bool) -> Result<(), Stop> {
    let mut d = borrow(disk)?;
    let bad = || Stop::Err(internal(&format!("{rel}: unexpected new directory layout")));
    let start = dot_at.checked_sub(ENTRY).ok_or_else(bad)?;
    let head = d.bytes_mut(start, 4 * ENTRY_BYTES).ok_or_else(bad)?;
    let is_lfn = |e: &[u8]| e.first() == Some(&0x41) && e.get(11) == Some(&0x0F);
    let is_dir = |e: &[u8], name: &[u8; 11]| e.get(..11) == Some(name) && e.get(11) == Some(&0x10);
    let (e0, rest) = head.split_at_mut(ENTRY_BYTES);
    let (e1, rest) = rest.split_at_mut(ENTRY_BYTES);
    let (e2, e3) = rest.split_at_mut(ENTRY_BYTES);
    if !(is_lfn(e0) && is_dir(e1, DOT) && is_lfn(e2) && is_dir(e3, DOTDOT)) {
        return Err(bad());
    }
    e0.copy_from_slice(e1);
    e1.copy_from_slice(e3);
    if in_root {
        // Bytes 20..22 and 26..28: high and low halves of the first cluster.
        for field in [20..22, 26..28] {
            e1.get_mut(field).ok_or_else(bad)?.fill(0);
        }
    }
    e2.fill(0);
    e3.fill(0);
    Ok(())
}

/// Lists the volume and compares it with the scan, so that an alias clash
/// (see [`alias_clash`]) that merged two files is an error.
fn check_listing(fs: &FileSystem<DiskRef<'_>>, scan: &Scan) -> Result<(), Stop> {
    let mut found = Vec::new();
    let mut todo = vec![(fs.root_dir(), String::new())];
    while let Some((dir, prefix)) = todo.pop() {
        for e in dir.iter() {
            let e = e.map_err(|e| fat_error("listing", e))?;
            let name = e.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let path = format!("{prefix}{name}");
            if e.is_dir() {
                todo.push((e.to_dir(), format!("{path}/")));
            }
            found.push(path);
        }
    }
    found.sort_unstable();
    for item in &scan.items {
        if found.binary_search(&item.rel).is_err() {
            return Err(alias_clash(item));
        }
    }
    if found.len() != scan.items.len() {
        return Err(internal("the volume lists other entries than the tree").into());
    }
    Ok(())
}

/// Byte offset of the root directory, from the boot sector `fatfs` wrote.
fn root_dir_offset(d: &Disk, fat: FatType) -> Option<u64> {
    let le16 = |at: u64| -> Option<u64> {
        let b = d.bytes(at, 2)?.first_chunk::<2>()?;
        Some(u64::from(u16::from_le_bytes(*b)))
    };
    let le32 = |at: u64| -> Option<u64> {
        let b = d.bytes(at, 4)?.first_chunk::<4>()?;
        Some(u64::from(u32::from_le_bytes(*b)))
    };
    let reserved = le16(14)?;
    let fats = u64::from(*d.bytes(16, 1)?.first()?);
    let per_fat = if fat == FatType::Fat32 {
        le32(36)?
    } else {
        le16(22)?
    };
    // FAT12/16: the fixed root region; FAT32: cluster 2, the first data
    // cluster, where `fatfs` puts the root.
    reserved
        .checked_add(fats.checked_mul(per_fat)?)?
        .checked_mul(SECTOR)
}

/// Dates the volume label entry that `fatfs` writes as the root
/// directory's first entry: it leaves the time and date zero, which is no
/// valid date (`mkfs.fat` writes the time of formatting).
fn date_label_entry(
    disk: &RefCell<Disk>,
    fat: FatType,
    label: &[u8; 11],
    now: fatfs::DateTime,
) -> Result<(), Stop> {
    let mut d = borrow(disk)?;
    let bad = || Stop::Err(internal("the volume label entry is not where expected"));
    let at = root_dir_offset(&d, fat).ok_or_else(bad)?;
    let entry = d.bytes_mut(at, ENTRY_BYTES).ok_or_else(bad)?;
    // Bytes 0..11: name; 11: attributes (0x08, volume label).
    if entry.get(..11) != Some(label.as_slice()) || entry.get(11) != Some(&0x08) {
        return Err(bad());
    }
    let (time, date) = dos_words(now);
    // Bytes 22..24: modification time; 24..26: modification date.
    for (at, value) in [(22, time), (24, date)] {
        entry
            .get_mut(at..at + 2)
            .ok_or_else(bad)?
            .copy_from_slice(&value.to_le_bytes());
    }
    Ok(())
}

/// Writes the volume serial into the boot sector, and on FAT32 into its
/// backup too.
fn set_serial(img: &mut [u8], fat: FatType, serial: u32) -> Result<()> {
    let bad = || internal("boot sector too short for the serial");
    let (field, backups) = if fat == FatType::Fat32 {
        let backup = img
            .get(50..52)
            .and_then(|b| b.first_chunk::<2>())
            .map(|b| u64::from(u16::from_le_bytes(*b)))
            .ok_or_else(bad)?;
        (67u64, vec![0, backup * SECTOR])
    } else {
        (39u64, vec![0])
    };
    for base in backups {
        let at = usize::try_from(base + field).map_err(|_| bad())?;
        img.get_mut(at..at.saturating_add(4))
            .ok_or_else(bad)?
            .copy_from_slice(&serial.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_scan(sizes: &[u64]) -> Scan {
        Scan {
            items: sizes
                .iter()
                .enumerate()
                .map(|(i, &len)| Item {
                    host: PathBuf::from(format!("/nonexistent/f{i}")),
                    data: None,
                    rel: format!("f{i}"),
                    name: format!("f{i}"),
                    depth: 1,
                    kind: Kind::File(len),
                })
                .collect(),
            root_slots: 2 * u64::try_from(sizes.len()).unwrap(),
            dir_slots: Vec::new(),
        }
    }

    fn clusters_of(g: &Geometry) -> u64 {
        // The data area left after the planned FAT12/16/32 overhead.
        let (bits, reserved, root) = match g.fat {
            FatType::Fat32 => (32, 8, 0),
            FatType::Fat16 => (16, 1, u64::from(g.root_entries) * ENTRY / SECTOR),
            FatType::Fat12 => (12, 1, u64::from(g.root_entries) * ENTRY / SECTOR),
        };
        let spc = u64::from(g.cluster) / SECTOR;
        let sectors = u64::from(g.sectors);
        // Largest count whose FAT still fits (what fatfs computes).
        let mut c = (sectors - reserved - root) / spc;
        while 2 * (c + 2).saturating_mul(bits).div_ceil(8 * SECTOR) + reserved + root + c * spc
            > sectors
        {
            c -= 1;
        }
        c
    }

    #[test]
    fn fat_type_follows_the_cluster_count() {
        let cases: &[(&[u64], FatType)] = &[
            (&[], FatType::Fat12),
            (&[1 << 20], FatType::Fat12),
            (&[3 << 20], FatType::Fat16),
            (&[30 << 20], FatType::Fat16),
            (&[33 << 20], FatType::Fat32),
            (&[300 << 20], FatType::Fat32),
        ];
        for &(sizes, fat) in cases {
            let g = Geometry::plan(&file_scan(sizes), 0).unwrap();
            assert_eq!(g.fat, fat, "{sizes:?}");
            assert_eq!(u64::from(g.sectors) * SECTOR % BLOCK, 0);
            let c = clusters_of(&g);
            assert!(c >= g.needed, "{sizes:?}: {c} < {}", g.needed);
            match fat {
                FatType::Fat12 => assert!(c < FAT16_MIN - GUARD / 2, "{c}"),
                FatType::Fat16 => {
                    assert!(
                        (FAT16_MIN + GUARD..FAT32_MIN - GUARD / 2).contains(&c),
                        "{c}"
                    )
                }
                FatType::Fat32 => assert!(c >= FAT32_MIN + GUARD, "{c}"),
            }
        }
        assert_eq!(
            Geometry::plan(&file_scan(&[300 << 20]), 0).unwrap().cluster,
            4096
        );
        assert_eq!(
            Geometry::plan(&file_scan(&[30 << 20]), 0).unwrap().cluster,
            512
        );
    }

    #[test]
    fn counts_near_a_type_limit_move_past_it() {
        // Every size around the FAT12/16 limit (in 512-byte clusters).
        // Rounding the image to 2048 bytes may add up to 3 clusters below
        // a limit, hence GUARD / 2.
        for n in 3700..4200u64 {
            let g = Geometry::plan(&file_scan(&[n * 512]), 0).unwrap();
            let c = clusters_of(&g);
            assert!(
                c + GUARD / 2 < FAT16_MIN || c >= FAT16_MIN + GUARD,
                "{n} clusters of data: {c} clusters, {:?}",
                g.fat
            );
        }
        for n in (60_000..63_000u64).step_by(7) {
            let g = Geometry::plan(&file_scan(&[n * 512]), 0).unwrap();
            let c = clusters_of(&g);
            assert!(
                c + GUARD / 2 < FAT32_MIN || c >= FAT32_MIN + GUARD,
                "{n} clusters of data: {c} clusters, {:?}",
                g.fat
            );
        }
    }

    /// fatfs formats each planned shape with the planned type and the
    /// cluster count computed above.
    #[test]
    fn planned_shapes_format_as_planned() {
        let sizes = (4040..4110)
            .step_by(5)
            .chain((61_400..61_700).step_by(25))
            .chain([0, 1, 20_000, 1 << 19, (1 << 19) + 1]);
        for n in sizes {
            let g = Geometry::plan(&file_scan(&[n * 512]), 0).unwrap();
            let disk = RefCell::new(Disk {
                img: Cursor::new(vec![0u8; g.bytes()].into_boxed_slice()),
                dot_at: None,
            });
            let mut format = FormatVolumeOptions::new()
                .total_sectors(g.sectors)
                .bytes_per_cluster(g.cluster)
                .fat_type(g.fat);
            if g.fat != FatType::Fat32 {
                format = format.max_root_dir_entries(g.root_entries);
            }
            fatfs::format_volume(DiskRef(&disk), format).unwrap();
            let fs = FileSystem::new(DiskRef(&disk), FsOptions::new()).unwrap();
            assert_eq!(fs.fat_type(), g.fat, "{n}");
            let total = u64::from(fs.stats().unwrap().total_clusters());
            assert_eq!(total, clusters_of(&g), "{n}");
        }
    }

    #[test]
    fn later_attempts_are_larger() {
        let s = file_scan(&[100_000, 5_000, 0]);
        let sizes: Vec<u32> = (0..ATTEMPTS)
            .map(|a| Geometry::plan(&s, a).unwrap().sectors)
            .collect();
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    }

    #[test]
    fn directories_count_their_entries() {
        let mut s = file_scan(&[]);
        // 16 entries fill one 512-byte cluster; 17 need two.
        s.dir_slots = vec![16, 17, 2];
        assert_eq!(s.body_clusters(512), 1 + 2 + 1);
        assert_eq!(s.body_clusters(4096), 3);
    }

    #[test]
    fn images_over_4_gib_are_refused() {
        let s = file_scan(&[u64::from(u32::MAX); 2]);
        let Err(Error::InvalidInput(m)) = Geometry::plan(&s, 0) else {
            panic!("no error")
        };
        assert!(m.contains("limit"), "{m}");
    }

    #[test]
    fn a_volume_that_runs_out_of_space_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data"), vec![7u8; 100_000]).unwrap();
        let scan = Scan::of(dir.path()).unwrap();
        // The shape planned for an empty tree has 16 clusters.
        let small = Geometry::plan(&file_scan(&[]), 0).unwrap();
        let r = fill(&scan, &small, b"NO NAME    ", FAT_EPOCH_DT).unwrap();
        assert!(matches!(r, Filled::Full));
        let img = build_esp(dir.path(), &EspOptions::default()).unwrap();
        assert!(img.len() > 100_000);
    }

    #[test]
    fn a_file_of_another_size_than_listed_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"123456").unwrap();
        for listed in [5, 7] {
            let item = Item {
                host: path.clone(),
                data: None,
                rel: "f".into(),
                name: "f".into(),
                depth: 1,
                kind: Kind::File(listed),
            };
            let mut out = Vec::new();
            let mut buf = [0u8; 4];
            let r = copy_file(&item, listed, &mut out, &mut Sha256::new(), &mut buf);
            let Err(Stop::Err(Error::InvalidInput(m))) = r else {
                panic!("no error for {listed}")
            };
            assert!(m.contains("changed size"), "{m}");
        }
        // The listed size copies through a buffer smaller than the file.
        let item = Item {
            host: path.clone(),
            data: None,
            rel: "f".into(),
            name: "f".into(),
            depth: 1,
            kind: Kind::File(6),
        };
        let mut out = Vec::new();
        let mut buf = [0u8; 4];
        assert!(copy_file(&item, 6, &mut out, &mut Sha256::new(), &mut buf).is_ok());
        assert_eq!(out, b"123456");
    }

    #[test]
    fn labels() {
        assert_eq!(&label_bytes("EFIBOOT").unwrap(), b"EFIBOOT    ");
        assert_eq!(&label_bytes("").unwrap(), b"NO NAME    ");
        assert_eq!(&label_bytes("esp_1 (x)").unwrap(), b"ESP_1 (X)  ");
        for bad in ["TWELVE CHARS", " LEAD", "A.B", "caf\u{e9}", "A/B"] {
            assert!(label_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        for ok in [
            "BOOTX64.EFI",
            ".hidden",
            "a b",
            "Gr\u{fc}\u{df}e",
            "\u{65e5}\u{672c}",
            "+,;=[]^#&!@~`'$%(){}",
            "a..b",
        ] {
            assert_eq!(name_problem(ok), None, "{ok:?}");
        }
        for bad in [
            "a:b",
            "a*",
            "a?",
            "a\"",
            "a<",
            "a>",
            "a|",
            "a\\b",
            "a\u{7f}",
            "a\nb",
            "a.",
            "a ",
            " a",
            "...",
            "\u{1F600}",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(name_problem(&"x".repeat(256)).is_some());
        assert_eq!(fold("Stra\u{df}e"), fold("STRASSE"));
        assert_eq!(slots("EFI"), 2);
        assert_eq!(slots(&"x".repeat(13)), 2);
        assert_eq!(slots(&"x".repeat(14)), 3);
    }

    #[test]
    fn times() {
        let at = |secs| fat_time(Time { secs, nanos: 0 });
        assert_eq!(at(0), FAT_EPOCH_DT);
        assert_eq!(at(i64::MIN), FAT_EPOCH_DT);
        let end = at(i64::MAX);
        assert_eq!(
            (end.date.year, end.date.month, end.date.day),
            (2107, 12, 31)
        );
        assert_eq!((end.time.hour, end.time.min, end.time.sec), (23, 59, 58));
        // 2024-02-29T13:37:43Z rounds down to an even second.
        let t = at(1_709_213_863);
        assert_eq!((t.date.year, t.date.month, t.date.day), (2024, 2, 29));
        assert_eq!((t.time.hour, t.time.min, t.time.sec), (13, 37, 42));
        assert_eq!(dos_words(FAT_EPOCH_DT), (0, 0x21));
    }

    #[test]
    fn time_scope_restores_the_previous_time() {
        use fatfs::TimeProvider;
        let t = fat_time(Time {
            secs: 1_000_000_000,
            nanos: 0,
        });
        {
            let _outer = TimeScope::set(t);
            assert_eq!(SCOPED_TIME.get_current_date_time(), t);
            {
                let _inner = TimeScope::set(FAT_EPOCH_DT);
                assert_eq!(SCOPED_TIME.get_current_date_time(), FAT_EPOCH_DT);
            }
            assert_eq!(SCOPED_TIME.get_current_date(), t.date);
        }
        assert_eq!(SCOPED_TIME.get_current_date_time(), FAT_EPOCH_DT);
    }
}
