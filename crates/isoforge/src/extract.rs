//! Safe extraction of an image's files into a host directory.
//!
//! # Security
//!
//! The destination is treated as a capability: it is opened once, and every
//! file, directory and link is created relative to a directory descriptor
//! resolved beneath it with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
//! so no symbolic link, whether from the image or already in the destination,
//! is ever followed. Names that are empty, `.`, `..`, or contain `/` or NUL are
//! refused. Symbolic links from the image are recreated verbatim once
//! everything beneath their directory is written, so no later entry can be
//! written through one. Regular files are written under a temporary name and
//! renamed into place without replacing anything (`RENAME_NOREPLACE`) unless
//! replacing was asked for ([`Existing`]); by default every entry is checked
//! against the destination before a byte is written. A Rock Ridge hard link
//! is made only to a file this extraction wrote; when it cannot be, the data
//! is written again. On an error (or a cancellation) the temporary files
//! are removed, and a destination directory the extraction created is
//! removed with everything in it.
//! Device nodes, FIFOs and sockets are reported and skipped unless asked for.
//! Set-user-ID, set-group-ID and sticky bits are dropped unless permissions
//! are preserved by root. The total number of bytes written is capped, so
//! images whose files share one extent many times cannot fill the disk.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rustix::fs::{
    self as rfs, AtFlags, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps,
};

use crate::cancel::Temporary;
use crate::error::{is_out_of_room, Error, Result};
use crate::fsutil::{copy_exact, copy_range_sparse, has_holes};
use crate::options::View;
use crate::read::{Dirs, Entry, FileType, Image};
use crate::source::ReadAt;
use isoforge_format::time::IsoTime;

/// What to do with an entry whose name is already taken in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Existing {
    /// Refuse: before anything is written, every entry is looked up in the
    /// destination, and one that exists fails the extraction with
    /// [`Error::Exists`] (existing directories are merged into).
    #[default]
    Refuse,
    /// Replace it: the new file is written under a temporary name and
    /// renamed over the old one, so the name always holds one or the other
    /// whole, and nothing is written through the old inode. A directory is
    /// never replaced.
    Replace,
    /// Replace it as [`Existing::Replace`] does when the image's modification
    /// time is later than its own; keep it otherwise.
    ReplaceOlder,
    /// Keep it, and extract everything else.
    Keep,
}

/// How to extract.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// What to do with entries that already exist in the destination.
    pub existing: Existing,
    /// Keep the image's permission bits as they are (no umask); with root,
    /// also set-user-ID, set-group-ID and sticky bits.
    pub preserve_permissions: bool,
    /// Restore owners and groups (only possible as root). `None`: when root.
    pub same_owner: Option<bool>,
    /// Create device nodes, FIFOs and sockets (devices need root).
    pub special_files: bool,
    /// Skip symbolic links whose target is absolute or leads outside the destination.
    pub safe_links: bool,
    /// Fail on an entry that would be skipped with a warning.
    pub strict: bool,
    /// Most bytes written in all; `None`: four times the image size plus 1 GiB.
    pub max_bytes: Option<u64>,
    /// Stops the extraction (with [`Error::Cancelled`]) when cancelled.
    pub cancel: crate::Cancel,
}

/// The `what` of the [`Error::LimitExceeded`] returned when an extraction
/// reaches [`ExtractOptions::max_bytes`].
pub const BYTE_BUDGET: &str = "bytes extracted";

/// What an extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExtractReport {
    /// Regular files written.
    pub files: u64,
    /// Directories created (or already present).
    pub dirs: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Hard links created.
    pub hardlinks: u64,
    /// Device nodes, FIFOs and sockets created.
    pub special: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// Entries that existed in the destination and were kept.
    pub skipped: u64,
    /// Entries skipped, and why.
    pub warnings: Vec<String>,
}

/// An entry with its path relative to the destination.
struct Item {
    rel: String,
    entry: Entry,
}

/// Files, hard links and finished directories are handled in batches of
/// this many; files are written in parallel.
const BATCH: usize = 2048;

/// A directory whose subtree has been walked. Its symbolic links and
/// special files are made, then its mode, owner and times set, once every
/// file beneath it is written: creating anything in a directory changes its
/// modification time, and a read-only mode would stop the creation.
struct Pending {
    rel: String,
    /// The directory's own entry (without extents); `None` when its
    /// attributes are not restored (the destination itself).
    entry: Option<Entry>,
    /// Symbolic links and special files in it.
    deferred: Vec<Item>,
}

/// A directory being walked, with the subdirectories still to walk (in
/// reverse order, so that popping gives name order).
struct Frame {
    dir: Pending,
    subdirs: Vec<(Entry, String)>,
    /// Its regular files, queued once the directory is listed.
    files: Vec<Item>,
}

/// How the members of a Rock Ridge hard-link group are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkKey {
    /// The PX file serial number.
    Ino(u32),
    /// The data extent: first block and length.
    Extent(u32, u32),
}

/// Where the first name of each Rock Ridge hard-link group was written.
/// This is what grows with the number of hard-linked files, so it is kept
/// compact: a table of directories and one byte string of names instead of
/// one path per group.
#[derive(Default)]
struct FirstLinks {
    /// Serial number -> offset of the first name's record in `names`.
    by_ino: HashMap<u32, u32>,
    /// Extent -> offset of the first name's record in `names`.
    by_extent: HashMap<(u32, u32), u32>,
    /// Directories holding a first name, relative to the destination.
    dirs: Vec<String>,
    /// One record per first name: the index of its directory in `dirs`
    /// (4 bytes, little-endian), the name, and a NUL (no name holds one).
    names: Vec<u8>,
}

impl FirstLinks {
    fn find(&self, key: LinkKey) -> Option<u32> {
        match key {
            LinkKey::Ino(i) => self.by_ino.get(&i).copied(),
            LinkKey::Extent(lba, len) => self.by_extent.get(&(lba, len)).copied(),
        }
    }

    /// Records `rel` as the first name of the group `key`. Past 4 GiB of
    /// names nothing is recorded, and later names are written as copies.
    fn insert(&mut self, key: LinkKey, rel: &str) {
        let (dir, name) = (parent_of(rel), rel.rsplit('/').next().unwrap_or(rel));
        let Ok(off) = u32::try_from(self.names.len()) else {
            return;
        };
        let idx = match self.dirs.last() {
            Some(last) if last == dir => self.dirs.len() - 1,
            _ => {
                self.dirs.push(dir.to_string());
                self.dirs.len() - 1
            }
        };
        let Ok(idx) = u32::try_from(idx) else {
            return;
        };
        self.names.extend_from_slice(&idx.to_le_bytes());
        self.names.extend_from_slice(name.as_bytes());
        self.names.push(0);
        match key {
            LinkKey::Ino(i) => self.by_ino.insert(i, off),
            LinkKey::Extent(lba, len) => self.by_extent.insert((lba, len), off),
        };
    }

    /// The directory and name of a recorded first name.
    fn get(&self, off: u32) -> (&str, &str) {
        let rec = self.names.get(off as usize..).unwrap_or_default();
        let (idx, rest) = rec.split_at_checked(4).unwrap_or_default();
        let idx = <[u8; 4]>::try_from(idx).map_or(u32::MAX, u32::from_le_bytes);
        let dir = self.dirs.get(idx as usize).map_or("", String::as_str);
        let name = rest.split(|&b| b == 0).next().unwrap_or_default();
        (dir, std::str::from_utf8(name).unwrap_or_default())
    }
}

/// State of the directory-by-directory extraction: one walk, depth first,
/// holding the directories on the current path, one batch of work, and the
/// hard-link table.
struct Walker {
    /// The directories on the current path, innermost last.
    stack: Vec<Frame>,
    firsts: FirstLinks,
    /// Later names of hard-link groups, linked once the batch is written.
    links: Vec<(u32, Item)>,
    /// Directories walked to the end, children before parents.
    done: Vec<Pending>,
    /// Files to write, per destination directory.
    batch: Vec<(String, Vec<Item>)>,
    /// Files, links and directories waiting for the next flush.
    queued: usize,
}

impl Walker {
    /// Takes one entry of `frame`'s directory: refuses a bad name, creates
    /// a directory, queues a file or a hard link, or defers a symbolic link
    /// or special file.
    fn add<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        walk: &mut Dirs<'_, S>,
        frame: &mut Frame,
        rel: String,
        entry: Entry,
        report: &mut ExtractReport,
    ) -> Result<()> {
        if let Err(why) = valid_component(&entry.name) {
            return ctx.warn(format!("{}: {why}; skipped", entry.path));
        }
        match entry.file_type {
            FileType::Dir => {
                if !ensure_dir(ctx, &rel, &entry.name)? {
                    return Ok(());
                }
                report.dirs += 1;
                walk.enter(&entry)?;
                frame.subdirs.push((entry, rel));
            }
            FileType::File => match link_key(&entry) {
                Some(k) => match self.firsts.find(k) {
                    Some(first) => {
                        self.links.push((first, Item { rel, entry }));
                        self.queued += 1;
                    }
                    None => {
                        self.firsts.insert(k, &rel);
                        frame.files.push(Item { rel, entry });
                    }
                },
                None => frame.files.push(Item { rel, entry }),
            },
            _ => frame.dir.deferred.push(Item { rel, entry }),
        }
        Ok(())
    }

    /// Lists a directory into a new frame: subdirectories are created and
    /// entered, files queued.
    fn open<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        walk: &mut Dirs<'_, S>,
        mut dir: Entry,
        rel: String,
        report: &mut ExtractReport,
    ) -> Result<Frame> {
        ctx.opts.cancel.check()?;
        let mut children = walk.list(&dir)?;
        for path in dedup_names(&mut children) {
            ctx.warn(format!(
                "{path}: the image has this name twice in one directory; the first one was kept"
            ))?;
        }
        dir.extents = Vec::new();
        let mut frame = Frame {
            dir: Pending {
                entry: (!rel.is_empty()).then_some(dir),
                rel,
                deferred: Vec::new(),
            },
            subdirs: Vec::new(),
            files: Vec::new(),
        };
        for c in children {
            let crel = if frame.dir.rel.is_empty() {
                c.name.clone()
            } else {
                format!("{}/{}", frame.dir.rel, c.name)
            };
            self.add(ctx, walk, &mut frame, crel, c, report)?;
        }
        frame.subdirs.reverse();
        let files = std::mem::take(&mut frame.files);
        self.queue_files(ctx, frame.dir.rel.clone(), files, report)?;
        Ok(frame)
    }

    fn queue_files<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        dir: String,
        files: Vec<Item>,
        report: &mut ExtractReport,
    ) -> Result<()> {
        if !files.is_empty() {
            self.queued += files.len();
            self.batch.push((dir, files));
        }
        self.flush_if_full(ctx, report)
    }

    /// A directory's subtree has been walked: its attributes wait for the
    /// files queued so far.
    fn finished<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        dir: Pending,
        report: &mut ExtractReport,
    ) -> Result<()> {
        self.done.push(dir);
        self.queued += 1;
        self.flush_if_full(ctx, report)
    }

    fn flush_if_full<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        report: &mut ExtractReport,
    ) -> Result<()> {
        if self.queued >= BATCH {
            self.flush(ctx, report)?;
        }
        Ok(())
    }

    /// Writes the queued files, then makes the queued hard links, then
    /// finishes the directories walked to the end, children first.
    fn flush<S: ReadAt>(&mut self, ctx: &Ctx<'_, S>, report: &mut ExtractReport) -> Result<()> {
        report.files += self
            .batch
            .par_iter()
            .map(|(dir, files)| -> Result<u64> {
                let fd = Arc::new(ctx.open_dir(dir)?);
                let mut buf = Vec::new();
                let mut written = 0;
                for it in files {
                    written += u64::from(ctx.write_file(&fd, it, &mut buf)?);
                }
                Ok(written)
            })
            .try_reduce(|| 0, |a, b| Ok(a + b))?;
        self.batch.clear();
        // The first names' directories are opened as paths only: a link
        // needs no read permission on them, which their modes may forbid.
        let mut dirs = (DirCache::new(OFlags::PATH), DirCache::new(OFlags::RDONLY));
        for (first, it) in self.links.drain(..) {
            make_link(ctx, &self.firsts, first, &it, &mut dirs, report)?;
        }
        for d in self.done.drain(..) {
            finish_dir(ctx, d, report)?;
        }
        self.queued = 0;
        Ok(())
    }
}

/// The last directory opened, for runs of entries in one directory.
struct DirCache {
    access: OFlags,
    last: Option<(String, Arc<OwnedFd>)>,
}

impl DirCache {
    fn new(access: OFlags) -> Self {
        DirCache { access, last: None }
    }

    fn open<S: ReadAt>(&mut self, ctx: &Ctx<'_, S>, rel: &str) -> Result<&Arc<OwnedFd>> {
        self.open_raw(ctx, rel).map_err(|e| dir_err(rel, e))
    }

    fn open_raw<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        rel: &str,
    ) -> rustix::io::Result<&Arc<OwnedFd>> {
        let fd = match self.last.take() {
            Some((r, fd)) if r == rel => fd,
            _ => Arc::new(ctx.open_dir_raw(rel, self.access)?),
        };
        Ok(&self.last.insert((rel.to_string(), fd)).1)
    }
}

/// Makes a later name of a hard-link group as a link to the first. When the
/// first's directory cannot be searched (its restored mode forbids it) or
/// the file has too many links, the data is written again instead.
fn make_link<S: ReadAt>(
    ctx: &Ctx<'_, S>,
    firsts: &FirstLinks,
    first: u32,
    b: &Item,
    (cache_a, cache_b): &mut (DirCache, DirCache),
    report: &mut ExtractReport,
) -> Result<()> {
    use rustix::io::Errno;
    ctx.opts.cancel.check()?;
    let (a_dir, a_name) = firsts.get(first);
    // A first name kept from the destination is not this extraction's file:
    // no link to it.
    let first_kept = ctx.kept_links.lock().is_ok_and(|k| {
        !k.is_empty()
            && k.contains(&if a_dir.is_empty() {
                a_name.to_string()
            } else {
                format!("{a_dir}/{a_name}")
            })
    });
    let da = match cache_a.open_raw(ctx, a_dir) {
        Ok(fd) if !first_kept => Some(fd),
        Ok(_) | Err(Errno::ACCESS) => None,
        Err(e) => return Err(dir_err(a_dir, e)),
    };
    let db = cache_b.open(ctx, parent_of(&b.rel))?;
    let linked = match da {
        None => Ok(Err(Errno::ACCESS)),
        Some(da) => ctx.make_at(db, b, &mut |name| {
            rfs::linkat(&**da, a_name, &**db, name, AtFlags::empty())
        }),
    };
    match linked? {
        Ok(true) => report.hardlinks += 1,
        Ok(false) => {}
        Err(why @ (Errno::ACCESS | Errno::MLINK)) => {
            if !ctx.write_file(db, b, &mut Vec::new())? {
                return Ok(());
            }
            report.files += 1;
            // Nothing is lost, so this is a note even under --strict.
            let why = if first_kept {
                "that name was kept as it was in the destination".to_string()
            } else {
                why.to_string()
            };
            ctx.note(format!(
                "{}: written as a copy, not a hard link to {}/{a_name} ({why})",
                b.entry.path,
                if a_dir.is_empty() { "." } else { a_dir }
            ));
        }
        Err(e) => return Err(io_err("cannot link", &b.rel, e)),
    }
    Ok(())
}

/// Makes a finished directory's symbolic links and special files, then
/// sets its mode, owner and times.
fn finish_dir<S: ReadAt>(
    ctx: &Ctx<'_, S>,
    mut d: Pending,
    report: &mut ExtractReport,
) -> Result<()> {
    ctx.opts.cancel.check()?;
    let mut dirs = DirCache::new(OFlags::RDONLY);
    // Special files first, then symbolic links.
    d.deferred
        .sort_by_key(|i| i.entry.file_type == FileType::Symlink);
    for it in &d.deferred {
        make_deferred(ctx, &mut dirs, it, report)?;
    }
    if let Some(e) = &d.entry {
        let fd = dirs.open(ctx, &d.rel)?;
        rfs::fchmod(fd, Mode::from_raw_mode(ctx.mode_for(e)))
            .map_err(|er| io_err("cannot set mode of", &d.rel, er))?;
        ctx.set_owner(fd, e)?;
        rfs::futimens(fd, &times(e)).map_err(|er| io_err("cannot set times of", &d.rel, er))?;
    }
    Ok(())
}

/// Makes a symbolic link, device node, FIFO or socket, or reports why not.
fn make_deferred<S: ReadAt>(
    ctx: &Ctx<'_, S>,
    dirs: &mut DirCache,
    it: &Item,
    report: &mut ExtractReport,
) -> Result<()> {
    let e = &it.entry;
    let target = e.target.as_deref().unwrap_or("");
    let skip = if e.file_type != FileType::Symlink {
        (!ctx.opts.special_files).then(|| {
            format!(
                "{}: {:?} node not created (special files are skipped)",
                e.path, e.file_type
            )
        })
    } else if target.is_empty() || target.contains('\0') {
        Some(format!(
            "{}: symbolic link with an empty or invalid target; skipped",
            e.path
        ))
    } else if ctx.opts.safe_links && escapes(parent_of(&it.rel), target) {
        Some(format!(
            "{}: link target {target:?} leads outside the destination; skipped",
            e.path
        ))
    } else {
        None
    };
    if let Some(why) = skip {
        return ctx.warn(why);
    }
    let fd = dirs.open(ctx, parent_of(&it.rel))?;
    if e.file_type == FileType::Symlink {
        if make_symlink(ctx, fd, it, target)? {
            report.symlinks += 1;
        }
        return Ok(());
    }
    let (ft, dev) = match e.file_type {
        FileType::Char => (rfs::FileType::CharacterDevice, e.rdev.unwrap_or((0, 0))),
        FileType::Block => (rfs::FileType::BlockDevice, e.rdev.unwrap_or((0, 0))),
        FileType::Fifo => (rfs::FileType::Fifo, (0, 0)),
        _ => (rfs::FileType::Socket, (0, 0)),
    };
    let devno = rfs::makedev(dev.0, dev.1);
    let mode = Mode::from_raw_mode(ctx.mode_for(e) & 0o777);
    match ctx.make_at(fd, it, &mut |name| {
        rfs::mknodat(&**fd, name, ft, mode, devno)
    })? {
        Ok(true) => report.special += 1,
        Ok(false) => {}
        Err(er) => ctx.warn(format!("{}: cannot create node: {er}", e.path))?,
    }
    Ok(())
}

/// Recreates a symbolic link verbatim, without following it or any other.
/// Returns whether it was made (an existing entry may be kept).
fn make_symlink<S: ReadAt>(
    ctx: &Ctx<'_, S>,
    fd: &Arc<OwnedFd>,
    it: &Item,
    target: &str,
) -> Result<bool> {
    let e = &it.entry;
    match ctx.make_at(fd, it, &mut |name| rfs::symlinkat(target, &**fd, name))? {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(er) => return Err(io_err("cannot create link", &it.rel, er)),
    }
    if ctx.chown {
        let _ = rfs::chownat(
            fd,
            e.name.as_str(),
            Some(rfs::Uid::from_raw(e.uid)),
            Some(rfs::Gid::from_raw(e.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        );
    }
    let _ = rfs::utimensat(fd, e.name.as_str(), &times(e), AtFlags::SYMLINK_NOFOLLOW);
    Ok(true)
}

fn valid_component(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        Err("empty name")
    } else if name == "." || name == ".." {
        Err("name is \".\" or \"..\"")
    } else if name.contains('/') {
        Err("name contains '/'")
    } else if name.contains('\0') {
        Err("name contains NUL")
    } else if name.len() > 255 {
        Err("name longer than 255 bytes")
    } else {
        Ok(())
    }
}

fn ts(t: Option<IsoTime>) -> Timespec {
    match t {
        Some(t) => Timespec {
            tv_sec: t.unix,
            tv_nsec: t.nanos.into(),
        },
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rfs::UTIME_OMIT,
        },
    }
}

fn times(e: &Entry) -> Timestamps {
    Timestamps {
        last_access: ts(e.atime.or(e.mtime)),
        last_modification: ts(e.mtime),
    }
}

fn io_err(what: &str, path: &str, e: rustix::io::Errno) -> Error {
    Error::Io {
        source: io::Error::new(io::Error::from(e).kind(), format!("{what} {path}: {e}")),
        offset: None,
    }
}

fn dir_err(rel: &str, e: rustix::io::Errno) -> Error {
    io_err(
        "cannot open directory (a symbolic link or a non-directory is in the way?)",
        if rel.is_empty() { "." } else { rel },
        e,
    )
}

struct Ctx<'a, S: ReadAt> {
    img: &'a Image<S>,
    dest: OwnedFd,
    /// The destination as the caller named it, for messages.
    dest_path: &'a Path,
    /// Entries kept because they existed.
    skipped: AtomicU64,
    /// Kept files that are first names of hard-link groups (relative
    /// paths): later names are not linked to them.
    kept_links: Mutex<HashSet<String>>,
    opts: &'a ExtractOptions,
    umask: u32,
    chown: bool,
    root: bool,
    budget: u64,
    written: AtomicU64,
    progress: &'a (dyn Fn(u64) + Sync),
    warnings: Mutex<Vec<String>>,
    pid: u32,
    tmp_seq: AtomicU64,
    /// Whether the image file has holes (worth skipping when copying).
    sparse_image: bool,
    /// The owner files get anyway, so that chown can be skipped.
    me: (u32, u32),
}

impl<S: ReadAt> Ctx<'_, S> {
    /// Opens a directory beneath the destination without following any link.
    fn open_dir(&self, rel: &str) -> Result<OwnedFd> {
        self.open_dir_raw(rel, OFlags::RDONLY)
            .map_err(|e| dir_err(rel, e))
    }

    /// `open_dir` with the access mode given (`RDONLY` or `PATH`) and the
    /// error number as it is.
    fn open_dir_raw(&self, rel: &str, access: OFlags) -> rustix::io::Result<OwnedFd> {
        let flags = OFlags::DIRECTORY | access | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if rel.is_empty() {
            return rfs::openat(&self.dest, ".", flags, Mode::empty());
        }
        match rfs::openat2(
            &self.dest,
            rel,
            flags,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(rustix::io::Errno::NOSYS) => {
                // Kernels without openat2: one component at a time.
                let mut fd = rfs::openat(&self.dest, ".", flags, Mode::empty())?;
                for comp in rel.split('/') {
                    fd = rfs::openat(&fd, comp, flags, Mode::empty())?;
                }
                Ok(fd)
            }
            r => r,
        }
    }

    fn warn(&self, msg: String) -> Result<()> {
        if self.opts.strict {
            return Err(Error::InvalidInput(msg));
        }
        self.note(msg);
        Ok(())
    }

    /// A warning that does not stop a strict extraction.
    fn note(&self, msg: String) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(msg);
        }
    }

    fn mode_for(&self, e: &Entry) -> u32 {
        let keep_special = self.opts.preserve_permissions && self.root;
        let mut m = e.mode & if keep_special { 0o7777 } else { 0o777 };
        if !self.opts.preserve_permissions {
            m &= !self.umask;
        }
        m
    }

    fn set_owner(&self, fd: impl AsFd, e: &Entry) -> Result<()> {
        if self.chown && (e.uid, e.gid) != self.me {
            rfs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(e.uid)),
                Some(rustix::fs::Gid::from_raw(e.gid)),
            )
            .map_err(|er| io_err("cannot change owner of", &e.path, er))?;
        }
        Ok(())
    }

    fn reserve(&self, n: u64) -> Result<()> {
        let before = self.written.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.budget {
            return Err(Error::LimitExceeded {
                what: BYTE_BUDGET,
                value: before.saturating_add(n),
                limit: self.budget,
            });
        }
        Ok(())
    }

    /// A fresh temporary name for an entry being made.
    fn tmp_name(&self) -> String {
        format!(
            ".isoforge-{}-{}",
            self.pid,
            self.tmp_seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Whether an existing entry at `name` in `dir` is kept (`Ok(true)`:
    /// the new one is not made) under the options, for policies that decide
    /// before writing; replacing a directory is an error.
    fn keep_existing(&self, dir: &OwnedFd, item: &Item) -> Result<bool> {
        if !matches!(self.opts.existing, Existing::Keep | Existing::ReplaceOlder) {
            return Ok(false);
        }
        let st = match rfs::statat(dir, item.entry.name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(false),
            Err(er) => return Err(io_err("cannot inspect", &item.rel, er)),
        };
        self.decide(&st, item)
    }

    /// What the options say of an existing entry `st` where `item` goes:
    /// `Ok(true)` keep it, `Ok(false)` replace it.
    fn decide(&self, st: &rfs::Stat, item: &Item) -> Result<bool> {
        let is_dir = rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory;
        match self.opts.existing {
            Existing::Refuse => Err(Error::Exists {
                path: item.rel.clone(),
                more: 0,
            }),
            Existing::Keep => Ok(true),
            _ if is_dir => Err(Error::InvalidInput(format!(
                "{} is a directory in the destination; it is not replaced",
                item.rel
            ))),
            Existing::Replace => Ok(false),
            Existing::ReplaceOlder => {
                let theirs = (st.st_mtime, st.st_mtime_nsec);
                let newer = |t: IsoTime| (t.unix, t.nanos.into()) > theirs;
                Ok(!item.entry.mtime.is_some_and(newer))
            }
        }
    }

    /// Counts `item` as kept; a kept first name of a hard-link group is
    /// remembered.
    fn kept(&self, item: &Item) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        if link_key(&item.entry).is_some() {
            if let Ok(mut k) = self.kept_links.lock() {
                k.insert(item.rel.clone());
            }
        }
    }

    /// Makes `item` (a link or a node) in `dir` with `make(name)`: at its
    /// name when that is free; when it is taken, as the options say: an
    /// error, kept (`Ok(Ok(false))`), or made under a temporary name renamed
    /// over it. Errors of `make` come back as they are.
    fn make_at(
        &self,
        dir: &Arc<OwnedFd>,
        item: &Item,
        make: &mut dyn FnMut(&str) -> rustix::io::Result<()>,
    ) -> Result<rustix::io::Result<bool>> {
        use rustix::io::Errno;
        let name = item.entry.name.as_str();
        match make(name) {
            Err(Errno::EXIST) => {}
            other => return Ok(other.map(|()| true)),
        }
        let st = match rfs::statat(&**dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(er) => return Err(io_err("cannot inspect", &item.rel, er)),
        };
        if self.decide(&st, item)? {
            self.kept(item);
            return Ok(Ok(false));
        }
        let tmp = self.tmp_name();
        let made = self.opts.cancel.register(|| {
            make(&tmp).map_err(io::Error::from)?;
            Ok(((), Temporary::FileAt(dir.clone(), tmp.clone())))
        });
        let reg = match made {
            Ok(((), reg)) => reg,
            Err(Error::Io { source, .. }) => {
                return Ok(Err(Errno::from_io_error(&source).unwrap_or(Errno::IO)))
            }
            Err(e) => return Err(e),
        };
        let renamed = rfs::renameat(&**dir, tmp.as_str(), &**dir, name);
        if renamed.is_err() {
            let _ = rfs::unlinkat(&**dir, tmp.as_str(), AtFlags::empty());
        }
        self.opts.cancel.forget(reg);
        renamed.map_err(|er| io_err("cannot replace", &item.rel, er))?;
        Ok(Ok(true))
    }

    /// Writes one regular file through a temporary name; `Ok(false)` when
    /// an existing one is kept instead.
    fn write_file(&self, dir: &Arc<OwnedFd>, item: &Item, buf: &mut Vec<u8>) -> Result<bool> {
        self.opts.cancel.check()?;
        if self.keep_existing(dir, item)? {
            self.kept(item);
            return Ok(false);
        }
        let e = &item.entry;
        self.reserve(e.size)?;
        let name = e.name.as_str();
        let tmp = self.tmp_name();
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        // Without --preserve-permissions the mode is the image's less the
        // umask, which is what creating the file with it gives: no fchmod.
        let mode = self.mode_for(e);
        let exact = self.opts.preserve_permissions || mode & 0o7000 != 0;
        let create_mode = if exact { 0o600 } else { e.mode & 0o777 };
        let (fd, reg) = self
            .opts
            .cancel
            .register(|| {
                let fd = rfs::openat(
                    &**dir,
                    tmp.as_str(),
                    flags,
                    Mode::from_raw_mode(create_mode),
                )?;
                Ok((fd, Temporary::FileAt(dir.clone(), tmp.clone())))
            })
            .map_err(|er| match er {
                Error::Io { source, .. } => Error::Io {
                    source: io::Error::new(
                        source.kind(),
                        format!("cannot create {}: {source}", item.rel),
                    ),
                    offset: None,
                },
                other => other,
            })?;
        let mut fd = File::from(fd);
        let result = (|| -> Result<bool> {
            self.copy_data(e, &mut fd, buf)?;
            if exact {
                rfs::fchmod(&fd, Mode::from_raw_mode(mode))
                    .map_err(|er| io_err("cannot set mode of", &item.rel, er))?;
            }
            self.set_owner(&fd, e)?;
            rfs::futimens(&fd, &times(e))
                .map_err(|er| io_err("cannot set times of", &item.rel, er))?;
            let rflags = match self.opts.existing {
                Existing::Replace | Existing::ReplaceOlder => RenameFlags::empty(),
                Existing::Refuse | Existing::Keep => RenameFlags::NOREPLACE,
            };
            self.opts.cancel.check()?;
            match rfs::renameat_with(&**dir, tmp.as_str(), &**dir, name, rflags) {
                Ok(()) => Ok(true),
                // Made meanwhile by someone else.
                Err(rustix::io::Errno::EXIST) if self.opts.existing == Existing::Keep => {
                    self.kept(item);
                    let _ = rfs::unlinkat(&**dir, tmp.as_str(), AtFlags::empty());
                    Ok(false)
                }
                Err(rustix::io::Errno::EXIST) => Err(Error::Exists {
                    path: item.rel.clone(),
                    more: 0,
                }),
                Err(rustix::io::Errno::ISDIR) => Err(Error::InvalidInput(format!(
                    "{} is a directory in the destination; it is not replaced",
                    item.rel
                ))),
                Err(er) => Err(io_err("cannot rename into place", &item.rel, er)),
            }
        })();
        if result.is_err() {
            let _ = rfs::unlinkat(&**dir, tmp.as_str(), AtFlags::empty());
        }
        self.opts.cancel.forget(reg);
        result.map_err(|e| match e {
            Error::Io { source, .. } if is_out_of_room(&source) => Error::NoSpace {
                path: Some(self.dest_path.join(&item.rel)),
                error: source,
            },
            other => other,
        })
    }

    /// Copies a file's data: holes in the image stay holes, and data moves in
    /// the kernel with `copy_file_range` when the image is a local file.
    fn copy_data(&self, e: &Entry, out: &mut File, buf: &mut Vec<u8>) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let img = self.img;
        let file = img.source().as_file();
        let ranges = img.data_runs(e)?;
        // The byte budget was charged for `e.size`: the extents must hold
        // exactly that, whatever a hostile record claims.
        if let Some(r) = &ranges {
            let held = r.iter().fold(0u64, |a, x| a.saturating_add(x.len));
            if held != e.size {
                return Err(Error::corrupt(
                    "directory record",
                    e.record_offset,
                    format!("{}: extents hold {held} bytes, the file {}", e.path, e.size),
                ));
            }
        }
        match (file, ranges) {
            // Small files: one read and one write beat copy_file_range.
            (Some(src), Some(ranges)) if e.size <= SMALL_FILE => {
                buf.resize(e.size as usize, 0);
                let mut at = 0usize;
                for r in ranges {
                    // The extents add up to the size the entry claims; if a
                    // hostile record says otherwise, fail instead of writing
                    // a short file.
                    let dst = at
                        .checked_add(r.len as usize)
                        .and_then(|end| buf.get_mut(at..end))
                        .ok_or_else(|| {
                            Error::corrupt(
                                "directory record",
                                e.record_offset,
                                format!(
                                    "{}: extents hold more than the file's {} bytes",
                                    e.path, e.size
                                ),
                            )
                        })?;
                    match r.offset {
                        Some(off) => {
                            FileExt::read_exact_at(src, dst, off).map_err(|er| Error::Io {
                                source: er,
                                offset: Some(off),
                            })?
                        }
                        None => dst.fill(0),
                    }
                    at += r.len as usize;
                }
                out.write_all(buf)?;
                (self.progress)(e.size);
            }
            (Some(src), Some(ranges)) => {
                let mut out_pos = 0u64;
                let mut hole_at_end = false;
                let cancel = &self.opts.cancel;
                for r in ranges {
                    // A run of zeros (UDF) is left a hole in the output.
                    hole_at_end = r.offset.is_none();
                    if let Some(off) = r.offset {
                        if self.sparse_image {
                            copy_range_sparse(src, off, r.len, out, out_pos, cancel)
                        } else {
                            copy_exact(src, off, out, out_pos, r.len, cancel)
                        }
                        .map_err(|er| {
                            if cancel.is_cancelled() {
                                Error::Cancelled
                            } else {
                                Error::Io {
                                    source: er,
                                    offset: Some(off),
                                }
                            }
                        })?;
                    }
                    out_pos += r.len;
                    (self.progress)(r.len);
                }
                if self.sparse_image || hole_at_end {
                    // A hole at the end was skipped, not written.
                    out.set_len(out_pos)?;
                }
            }
            (None, Some(ranges)) if ranges.iter().any(|r| r.offset.is_none()) => {
                // Not a local file: read the recorded runs, leave holes for
                // the runs of zeros.
                let mut out_pos = 0u64;
                buf.resize(1 << 20, 0);
                for r in &ranges {
                    if let Some(off) = r.offset {
                        let mut done = 0u64;
                        while done < r.len {
                            if self.opts.cancel.is_cancelled() {
                                return Err(Error::Cancelled);
                            }
                            let n = (r.len - done).min(buf.len() as u64) as usize;
                            let chunk = buf.get_mut(..n).unwrap_or_default();
                            img.read_at("file data", off + done, chunk)?;
                            out.write_all_at(chunk, out_pos + done)?;
                            done += n as u64;
                        }
                    }
                    out_pos += r.len;
                    (self.progress)(r.len);
                }
                out.set_len(out_pos)?;
            }
            _ => {
                let mut w = io::BufWriter::with_capacity(
                    1 << 20,
                    Checked {
                        out: &mut *out,
                        cancel: &self.opts.cancel,
                    },
                );
                let copied = img.open_file(e)?.copy_to(&mut w);
                let n = copied.and_then(|n| Ok(w.flush().map(|()| n)?));
                if self.opts.cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                (self.progress)(n?);
            }
        }
        Ok(())
    }
}

/// Files up to this size are copied with one read and one write.
const SMALL_FILE: u64 = 256 * 1024;

/// A writer that fails once the work is cancelled.
struct Checked<'a> {
    out: &'a mut File,
    cancel: &'a crate::Cancel,
}

impl Write for Checked<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        self.out.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Removes later entries of the same name from `children` (sorted by name,
/// so they are neighbours); returns their paths.
fn dedup_names(children: &mut Vec<Entry>) -> Vec<String> {
    let mut twice = Vec::new();
    children.dedup_by(|later, kept| {
        let same = later.name == kept.name;
        if same {
            twice.push(std::mem::take(&mut later.path));
        }
        same
    });
    twice
}

fn parent_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |p| &rel[..p])
}

/// The key under which Rock Ridge hard links are recognised: the PX serial
/// number when the writer recorded one, else the data extent.
fn link_key(e: &Entry) -> Option<LinkKey> {
    if e.nlink < 2 || e.file_type != FileType::File {
        return None;
    }
    match e.ino {
        Some(ino) if ino != 0 => Some(LinkKey::Ino(ino)),
        _ => e.extents.first().map(|x| LinkKey::Extent(x.lba, x.len)),
    }
}

/// Extracts `paths` (all of the view when empty) into `dest`.
/// `progress` is called with the number of data bytes written as they are.
///
/// `dest` is created if it does not exist; on any error (a cancellation
/// included) a destination created so is removed again, while one that
/// existed keeps what was completed. No temporary file is left behind.
///
/// # Security
///
/// See the module documentation: nothing is written outside `dest`, no
/// symbolic link is followed, and existing files are not replaced unless
/// [`ExtractOptions::existing`] says so.
pub fn extract<S: ReadAt>(
    img: &Image<S>,
    view: View,
    dest: &Path,
    paths: &[String],
    opts: &ExtractOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ExtractReport> {
    opts.cancel.check()?;
    // The outermost directory this call creates, if any: it goes again on
    // an error.
    let created = dest
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
        .last()
        .map(Path::to_path_buf);
    let make = || {
        std::fs::create_dir_all(dest).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create destination {}: {e}", dest.display()),
            )
        })
    };
    // Registered, so that it goes even if the work is stopped where it
    // cannot clean up itself.
    let made = match &created {
        Some(top) => opts
            .cancel
            .register(|| {
                make()?;
                Ok(((), Temporary::Tree(top.clone())))
            })
            .map(|((), r)| Some(r)),
        None => make().map(|()| None).map_err(Error::from),
    };
    let reg = match made {
        Ok(reg) => reg,
        Err(e) => {
            remove_created(created.as_deref());
            return Err(e.on_output(dest));
        }
    };
    let result = extract_in(img, view, dest, paths, opts, progress);
    if result.is_err() {
        remove_created(created.as_deref());
    }
    if let Some(reg) = reg {
        opts.cancel.forget(reg);
    }
    result.map_err(|e| e.on_output(dest))
}

fn remove_created(top: Option<&Path>) {
    if let Some(top) = top {
        // Symbolic links inside are removed, not followed.
        let _ = std::fs::remove_dir_all(top);
    }
}

fn extract_in<S: ReadAt>(
    img: &Image<S>,
    view: View,
    dest: &Path,
    paths: &[String],
    opts: &ExtractOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ExtractReport> {
    let dest_fd = rfs::open(
        dest,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("cannot open destination", &dest.display().to_string(), e))?;
    let umask = rustix::process::umask(Mode::from_raw_mode(0o022));
    rustix::process::umask(umask);
    let root = rustix::process::geteuid().is_root();
    let ctx = Ctx {
        img,
        dest: dest_fd,
        dest_path: dest,
        skipped: AtomicU64::new(0),
        kept_links: Mutex::new(HashSet::new()),
        opts,
        umask: umask.as_raw_mode(),
        chown: opts.same_owner.unwrap_or(root) && root,
        root,
        budget: opts.max_bytes.unwrap_or_else(|| {
            img.info()
                .image_size
                .saturating_mul(4)
                .saturating_add(1 << 30)
        }),
        written: AtomicU64::new(0),
        progress,
        warnings: Mutex::new(Vec::new()),
        pid: std::process::id(),
        tmp_seq: AtomicU64::new(0),
        sparse_image: img.source().as_file().is_some_and(has_holes),
        me: (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        ),
    };
    let mut report = ExtractReport::default();
    if opts.existing == Existing::Refuse {
        refuse_existing(&ctx, view, paths)?;
    }

    // Depth first, directory by directory: names are checked, directories
    // created, files written in parallel batches. A directory's symbolic
    // links, special files and attributes wait until its subtree is
    // written; hard links wait for the batch holding their first name.
    // Memory holds the directories on the current path, one batch, and the
    // hard-link table, not the tree.
    let mut walk = img.dirs(view)?;
    let mut st = Walker {
        stack: Vec::new(),
        firsts: FirstLinks::default(),
        links: Vec::new(),
        done: Vec::new(),
        batch: Vec::new(),
        queued: 0,
    };
    if paths.is_empty() {
        let root = walk.root()?;
        let root = st.open(&ctx, &mut walk, root, String::new(), &mut report)?;
        st.stack.push(root);
    } else {
        // The named paths hang under a frame of their own, finished last.
        let mut top = Frame {
            dir: Pending {
                rel: String::new(),
                entry: None,
                deferred: Vec::new(),
            },
            subdirs: Vec::new(),
            files: Vec::new(),
        };
        for p in paths {
            let e = img.lookup(p, view)?;
            if e.path == "/" {
                top.subdirs.push((e, String::new()));
                continue;
            }
            // Parents of a named path are created with default modes.
            let rel = e.path.trim_start_matches('/').to_string();
            let mut acc = String::new();
            for comp in parent_of(&rel).split('/').filter(|c| !c.is_empty()) {
                if !acc.is_empty() {
                    acc.push('/');
                }
                acc.push_str(comp);
                if !ensure_dir(&ctx, &acc, comp)? {
                    break;
                }
            }
            let parent = parent_of(&rel).to_string();
            st.add(&ctx, &mut walk, &mut top, rel, e, &mut report)?;
            let files = std::mem::take(&mut top.files);
            st.queue_files(&ctx, parent, files, &mut report)?;
        }
        top.subdirs.reverse();
        st.stack.push(top);
    }
    while let Some(top) = st.stack.last_mut() {
        if let Some((dir, rel)) = top.subdirs.pop() {
            let frame = st.open(&ctx, &mut walk, dir, rel, &mut report)?;
            st.stack.push(frame);
        } else if let Some(frame) = st.stack.pop() {
            st.finished(&ctx, frame.dir, &mut report)?;
        }
    }
    st.flush(&ctx, &mut report)?;

    report.bytes = ctx.written.load(Ordering::Relaxed);
    report.skipped += ctx.skipped.load(Ordering::Relaxed);
    report.warnings = ctx.warnings.into_inner().unwrap_or_default();
    Ok(report)
}

/// Creates a directory beneath the destination if it is not there; an
/// existing directory is kept. Anything else in the way is an error, or,
/// when existing entries are kept, makes the directory skipped
/// (`Ok(false)`).
fn ensure_dir<S: ReadAt>(ctx: &Ctx<'_, S>, rel: &str, name: &str) -> Result<bool> {
    let parent = ctx.open_dir(parent_of(rel))?;
    match rfs::mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::EXIST) => {
            let st = rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io_err("cannot inspect", rel, e))?;
            if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory {
                return Ok(true);
            }
            match ctx.opts.existing {
                Existing::Refuse => Err(Error::Exists {
                    path: rel.to_string(),
                    more: 0,
                }),
                Existing::Keep => {
                    ctx.skipped.fetch_add(1, Ordering::Relaxed);
                    ctx.note(format!(
                        "{rel}: not a directory in the destination; kept, and the image's directory skipped"
                    ));
                    Ok(false)
                }
                Existing::Replace | Existing::ReplaceOlder => Err(Error::InvalidInput(format!(
                    "{rel} exists in the destination and is not a directory; it is not replaced by one"
                ))),
            }
        }
        Err(e) => Err(io_err("cannot create directory", rel, e)),
    }
}

/// Looks up every entry to extract in the destination before anything is
/// written, and fails with [`Error::Exists`] naming the first one there
/// (and how many more). A directory over a directory is not a conflict.
/// Only the parts of the destination the image's tree reaches are read: a
/// directory missing there has nothing under it.
fn refuse_existing<S: ReadAt>(ctx: &Ctx<'_, S>, view: View, paths: &[String]) -> Result<()> {
    let empty = std::fs::read_dir(ctx.dest_path).is_ok_and(|mut d| d.next().is_none());
    if empty {
        return Ok(());
    }
    let img = ctx.img;
    let mut walk = img.dirs(view)?;
    let mut found: Option<String> = None;
    let mut more = 0u64;
    // Directories present on both sides, still to compare.
    let mut stack: Vec<(Entry, OwnedFd, String)> = Vec::new();
    let dest = || {
        rfs::openat(
            &ctx.dest,
            ".",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    // Looks `e` up in `dir`: a conflict is counted; a directory on both
    // sides is queued.
    let mut check = |walk: &mut Dirs<'_, S>,
                     stack: &mut Vec<(Entry, OwnedFd, String)>,
                     dir: &OwnedFd,
                     e: Entry,
                     rel: String|
     -> Result<()> {
        let name = e.name.as_str();
        let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(er) => return Err(io_err("cannot inspect", &rel, er)),
        };
        let both_dirs = e.file_type == FileType::Dir
            && rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory;
        if both_dirs {
            let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd =
                rfs::openat(dir, name, flags, Mode::empty()).map_err(|er| dir_err(&rel, er))?;
            walk.enter(&e)?;
            stack.push((e, fd, rel));
        } else if found.is_none() {
            found = Some(rel);
        } else {
            more += 1;
        }
        Ok(())
    };
    if paths.is_empty() {
        let root = walk.root()?;
        let fd = dest().map_err(|er| dir_err("", er))?;
        stack.push((root, fd, String::new()));
    }
    for p in paths {
        let e = img.lookup(p, view)?;
        let rel = e.path.trim_start_matches('/').to_string();
        if rel.is_empty() {
            let fd = dest().map_err(|er| dir_err("", er))?;
            stack.push((e, fd, rel));
            continue;
        }
        if valid_component(&e.name).is_err() {
            continue;
        }
        let parent = match ctx.open_dir_raw(parent_of(&rel), OFlags::RDONLY) {
            Ok(fd) => fd,
            // Nothing there, so nothing in the way.
            Err(rustix::io::Errno::NOENT) => continue,
            Err(er) => return Err(dir_err(parent_of(&rel), er)),
        };
        check(&mut walk, &mut stack, &parent, e, rel)?;
    }
    while let Some((dir, fd, rel)) = stack.pop() {
        ctx.opts.cancel.check()?;
        let mut children = walk.list(&dir)?;
        dedup_names(&mut children);
        for c in children {
            if valid_component(&c.name).is_err() {
                continue;
            }
            let crel = if rel.is_empty() {
                c.name.clone()
            } else {
                format!("{rel}/{}", c.name)
            };
            check(&mut walk, &mut stack, &fd, c, crel)?;
        }
    }
    match found {
        Some(path) => Err(Error::Exists { path, more }),
        None => Ok(()),
    }
}

/// Whether a link target, read from the link's directory, is absolute or
/// climbs above the destination (lexically).
fn escapes(parent: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut depth: i64 = parent.split('/').filter(|c| !c.is_empty()).count() as i64;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_component("a.txt").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(valid_component(bad).is_err(), "{bad:?}");
        }
        assert!(valid_component(&"x".repeat(256)).is_err());
    }

    #[test]
    fn first_links_share_directories() {
        let mut f = FirstLinks::default();
        f.insert(LinkKey::Ino(7), "a/b/one");
        f.insert(LinkKey::Extent(7, 1), "a/b/two");
        f.insert(LinkKey::Ino(9), "top");
        assert_eq!(f.dirs, ["a/b", ""]);
        let get = |k| f.get(f.find(k).unwrap());
        assert_eq!(get(LinkKey::Ino(7)), ("a/b", "one"));
        assert_eq!(get(LinkKey::Extent(7, 1)), ("a/b", "two"));
        assert_eq!(get(LinkKey::Ino(9)), ("", "top"));
        assert_eq!(f.find(LinkKey::Extent(9, 1)), None);
    }

    #[test]
    fn link_escapes() {
        assert!(escapes("a", "/etc/passwd"));
        assert!(escapes("a", "../../x"));
        assert!(!escapes("a/b", "../c"));
        assert!(!escapes("", "x/../y"));
        assert!(escapes("", ".."));
    }
}
