//! Safe extraction of an image's files into a host directory.
//!
//! # Security
//!
//! The destination is treated as a capability: it is opened once, and every
//! file, directory and link is created relative to a directory descriptor
//! resolved beneath it with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
//! so no symbolic link, whether from the image or already in the destination,
//! is ever followed. Names that are empty, `.`, `..`, or contain `/` or NUL are
//! refused. Symbolic links from the image are recreated verbatim, after every
//! file and directory, so no later entry can be written through one. Regular
//! files are written under a temporary name and renamed into place without
//! replacing anything (`RENAME_NOREPLACE`) unless overwriting was asked for.
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
use std::sync::Mutex;

use rayon::prelude::*;
use rustix::fs::{
    self as rfs, AtFlags, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps,
};

use crate::error::{Error, Result};
use crate::fsutil::{copy_exact, copy_range_sparse, has_holes};
use crate::options::View;
use crate::read::{Dirs, Entry, FileType, Image};
use crate::source::ReadAt;
use isoforge_format::time::IsoTime;

/// How to extract.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// Replace existing files (by unlink and create, never through the old inode).
    pub overwrite: bool,
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
}

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
    /// Entries skipped, and why.
    pub warnings: Vec<String>,
}

/// An entry with its path relative to the destination.
struct Item {
    rel: String,
    entry: Entry,
}

/// Files are written in batches of this many, in parallel.
const BATCH: usize = 2048;

/// State of the directory-by-directory extraction.
struct Walker {
    /// Directories still to list, with their destination paths.
    stack: Vec<(Entry, String)>,
    /// Rock Ridge hard-link groups: key -> destination path of the first.
    first_link: HashMap<(u8, u64), String>,
    /// (first, later) hard links to make once files exist.
    links: Vec<(String, Item)>,
    /// Symbolic links and special files, made last.
    deferred: Vec<Item>,
    /// Directories, for modes and times at the end.
    dirs: Vec<Item>,
    /// Files to write, per destination directory.
    batch: Vec<(String, Vec<Item>)>,
    batch_files: usize,
}

impl Walker {
    fn push_dir<S: ReadAt>(&mut self, walk: &mut Dirs<'_, S>, e: Entry, rel: String) -> Result<()> {
        walk.enter(&e)?;
        self.stack.push((e, rel));
        Ok(())
    }

    /// Takes one entry: refuses a bad name, creates a directory, queues a
    /// file, or defers a link or special file.
    fn add<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        walk: &mut Dirs<'_, S>,
        rel: String,
        entry: Entry,
        files: &mut Vec<Item>,
        report: &mut ExtractReport,
    ) -> Result<()> {
        if let Err(why) = valid_component(&entry.name) {
            return ctx.warn(format!("{}: {why}; skipped", entry.path));
        }
        match entry.file_type {
            FileType::Dir => {
                ensure_dir(ctx, &rel, &entry.name)?;
                report.dirs += 1;
                let mut lite = entry.clone();
                lite.extents.clear();
                self.dirs.push(Item {
                    rel: rel.clone(),
                    entry: lite,
                });
                self.push_dir(walk, entry, rel)?;
            }
            FileType::File => match link_key(&entry) {
                Some(k) if self.first_link.contains_key(&k) => {
                    let first = self.first_link.get(&k).cloned().unwrap_or_default();
                    self.links.push((first, Item { rel, entry }));
                }
                Some(k) => {
                    self.first_link.insert(k, rel.clone());
                    files.push(Item { rel, entry });
                }
                None => files.push(Item { rel, entry }),
            },
            _ => self.deferred.push(Item { rel, entry }),
        }
        Ok(())
    }

    fn queue_files<S: ReadAt>(
        &mut self,
        ctx: &Ctx<'_, S>,
        dir: String,
        files: Vec<Item>,
        report: &mut ExtractReport,
    ) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        self.batch_files += files.len();
        self.batch.push((dir, files));
        if self.batch_files >= BATCH {
            self.flush(ctx, report)?;
        }
        Ok(())
    }

    fn flush<S: ReadAt>(&mut self, ctx: &Ctx<'_, S>, report: &mut ExtractReport) -> Result<()> {
        self.batch
            .par_iter()
            .try_for_each(|(dir, files)| -> Result<()> {
                let fd = ctx.open_dir(dir)?;
                let mut buf = Vec::new();
                for it in files {
                    ctx.write_file(&fd, it, &mut buf)?;
                }
                Ok(())
            })?;
        report.files += self.batch_files as u64;
        self.batch.clear();
        self.batch_files = 0;
        Ok(())
    }
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

struct Ctx<'a, S: ReadAt> {
    img: &'a Image<S>,
    dest: OwnedFd,
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
        if rel.is_empty() {
            return rfs::openat(
                &self.dest,
                ".",
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io_err("cannot open", ".", e));
        }
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        match rfs::openat2(
            &self.dest,
            rel,
            flags,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => Ok(fd),
            Err(rustix::io::Errno::NOSYS) => self.open_dir_walk(rel),
            Err(e) => Err(io_err(
                "cannot open directory (a symbolic link or a non-directory is in the way?)",
                rel,
                e,
            )),
        }
    }

    /// `open_dir` for kernels without openat2: one component at a time.
    fn open_dir_walk(&self, rel: &str) -> Result<OwnedFd> {
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let mut fd = rfs::openat(&self.dest, ".", flags, Mode::empty())
            .map_err(|e| io_err("cannot open", ".", e))?;
        for comp in rel.split('/') {
            fd = rfs::openat(&fd, comp, flags, Mode::empty())
                .map_err(|e| io_err("cannot open directory", rel, e))?;
        }
        Ok(fd)
    }

    fn warn(&self, msg: String) -> Result<()> {
        if self.opts.strict {
            return Err(Error::InvalidInput(msg));
        }
        if let Ok(mut w) = self.warnings.lock() {
            w.push(msg);
        }
        Ok(())
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
                what: "bytes extracted (raise it with --max-bytes)",
                value: before.saturating_add(n),
                limit: self.budget,
            });
        }
        Ok(())
    }

    /// Writes one regular file through a temporary name.
    fn write_file(&self, dir: &OwnedFd, item: &Item, buf: &mut Vec<u8>) -> Result<()> {
        let e = &item.entry;
        self.reserve(e.size)?;
        let name = e.name.as_str();
        let tmp = format!(
            ".isoforge-{}-{}",
            self.pid,
            self.tmp_seq.fetch_add(1, Ordering::Relaxed)
        );
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        // Without --preserve-permissions the mode is the image's less the
        // umask, which is what creating the file with it gives: no fchmod.
        let mode = self.mode_for(e);
        let exact = self.opts.preserve_permissions || mode & 0o7000 != 0;
        let create_mode = if exact { 0o600 } else { e.mode & 0o777 };
        let fd = rfs::openat(dir, tmp.as_str(), flags, Mode::from_raw_mode(create_mode))
            .map_err(|er| io_err("cannot create", &item.rel, er))?;
        let mut fd = File::from(fd);
        let result = (|| -> Result<()> {
            self.copy_data(e, &mut fd, buf)?;
            if exact {
                rfs::fchmod(&fd, Mode::from_raw_mode(mode))
                    .map_err(|er| io_err("cannot set mode of", &item.rel, er))?;
            }
            self.set_owner(&fd, e)?;
            rfs::futimens(&fd, &times(e))
                .map_err(|er| io_err("cannot set times of", &item.rel, er))?;
            let rflags = if self.opts.overwrite {
                RenameFlags::empty()
            } else {
                RenameFlags::NOREPLACE
            };
            rfs::renameat_with(dir, tmp.as_str(), dir, name, rflags).map_err(|er| {
                if er == rustix::io::Errno::EXIST {
                    Error::InvalidInput(format!(
                        "{} already exists in the destination; use --overwrite to replace it",
                        item.rel
                    ))
                } else {
                    io_err("cannot rename into place", &item.rel, er)
                }
            })
        })();
        if result.is_err() {
            let _ = rfs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        }
        result
    }

    /// Copies a file's data: holes in the image stay holes, and data moves in
    /// the kernel with `copy_file_range` when the image is a local file.
    fn copy_data(&self, e: &Entry, out: &mut File, buf: &mut Vec<u8>) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let img = self.img;
        let file = img.source().as_file();
        let ranges = img.data_ranges(e)?;
        // The byte budget was charged for `e.size`: the extents must hold
        // exactly that, whatever a hostile record claims.
        if let Some(r) = &ranges {
            let held = r.iter().fold(0u64, |a, x| a.saturating_add(x.1));
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
                for (off, len) in ranges {
                    // The extents add up to the size the entry claims; if a
                    // hostile record says otherwise, fail instead of writing
                    // a short file.
                    let dst = at
                        .checked_add(len as usize)
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
                    FileExt::read_exact_at(src, dst, off).map_err(|er| Error::Io {
                        source: er,
                        offset: Some(off),
                    })?;
                    at += len as usize;
                }
                out.write_all(buf)?;
                (self.progress)(e.size);
            }
            (Some(src), Some(ranges)) => {
                let mut out_pos = 0u64;
                for (off, len) in ranges {
                    if self.sparse_image {
                        copy_range_sparse(src, off, len, out, out_pos)
                    } else {
                        copy_exact(src, off, out, out_pos, len)
                    }
                    .map_err(|er| Error::Io {
                        source: er,
                        offset: Some(off),
                    })?;
                    out_pos += len;
                    (self.progress)(len);
                }
                if self.sparse_image {
                    // A hole at the end was skipped, not written.
                    out.set_len(out_pos)?;
                }
            }
            _ => {
                let mut w = io::BufWriter::with_capacity(1 << 20, &mut *out);
                let n = img.open_file(e)?.copy_to(&mut w)?;
                w.flush()?;
                (self.progress)(n);
            }
        }
        Ok(())
    }
}

/// Files up to this size are copied with one read and one write.
const SMALL_FILE: u64 = 256 * 1024;

fn parent_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |p| &rel[..p])
}

/// The key under which Rock Ridge hard links are recognised: the PX serial
/// number when the writer recorded one, else the data extent.
fn link_key(e: &Entry) -> Option<(u8, u64)> {
    if e.nlink < 2 || e.file_type != FileType::File {
        return None;
    }
    match e.ino {
        Some(ino) if ino != 0 => Some((0, ino.into())),
        _ => e
            .extents
            .first()
            .map(|x| (1, u64::from(x.lba) << 32 | u64::from(x.len))),
    }
}

/// Extracts `paths` (all of the view when empty) into `dest`.
/// `progress` is called with the number of data bytes written as they are.
///
/// # Security
///
/// See the module documentation: nothing is written outside `dest`, no
/// symbolic link is followed, and existing files are not replaced unless
/// [`ExtractOptions::overwrite`] is set.
pub fn extract<S: ReadAt>(
    img: &Image<S>,
    view: View,
    dest: &Path,
    paths: &[String],
    opts: &ExtractOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ExtractReport> {
    std::fs::create_dir_all(dest).map_err(|e| Error::Io {
        source: io::Error::new(
            e.kind(),
            format!("cannot create destination {}: {e}", dest.display()),
        ),
        offset: None,
    })?;
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

    // 1-3. Directory by directory: check names, create subdirectories, and
    //      write regular files in parallel batches. Links, special files and
    //      directory attributes wait until every file is in place. Memory
    //      holds one batch of files and the deferred items, not the tree.
    let mut walk = img.dirs(view)?;
    let mut st = Walker {
        stack: Vec::new(),
        first_link: HashMap::new(),
        links: Vec::new(),
        deferred: Vec::new(),
        dirs: Vec::new(),
        batch: Vec::new(),
        batch_files: 0,
    };
    if paths.is_empty() {
        st.stack.push((walk.root()?, String::new()));
    } else {
        for p in paths {
            let e = img.lookup(p, view)?;
            if e.path == "/" {
                st.stack.push((e, String::new()));
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
                ensure_dir(&ctx, &acc, comp)?;
            }
            let parent = parent_of(&rel).to_string();
            let mut files = Vec::new();
            st.add(&ctx, &mut walk, rel, e, &mut files, &mut report)?;
            st.queue_files(&ctx, parent, files, &mut report)?;
        }
    }
    while let Some((dir, rel)) = st.stack.pop() {
        let children = walk.list(&dir)?;
        let mut names: HashSet<&str> = HashSet::with_capacity(children.len());
        let mut files = Vec::new();
        for c in &children {
            if !names.insert(c.name.as_str()) {
                ctx.warn(format!(
                    "{}: the image has this name twice in one directory; the first one was kept",
                    c.path
                ))?;
                continue;
            }
            let crel = if rel.is_empty() {
                c.name.clone()
            } else {
                format!("{rel}/{}", c.name)
            };
            st.add(&ctx, &mut walk, crel, c.clone(), &mut files, &mut report)?;
        }
        st.queue_files(&ctx, rel, files, &mut report)?;
    }
    st.flush(&ctx, &mut report)?;
    let Walker {
        links,
        deferred,
        dirs,
        ..
    } = st;

    // 4. Hard links, to files this extraction created.
    for (first, b) in &links {
        let a_name = first.rsplit('/').next().unwrap_or(first);
        let (da, db) = (
            ctx.open_dir(parent_of(first))?,
            ctx.open_dir(parent_of(&b.rel))?,
        );
        match rfs::linkat(&da, a_name, &db, b.entry.name.as_str(), AtFlags::empty()) {
            Ok(()) => report.hardlinks += 1,
            Err(rustix::io::Errno::EXIST) if !ctx.opts.overwrite => {
                return Err(Error::InvalidInput(format!(
                    "{} already exists in the destination; use --overwrite to replace it",
                    b.rel
                )))
            }
            Err(rustix::io::Errno::EXIST) => {
                rfs::unlinkat(&db, b.entry.name.as_str(), AtFlags::empty())
                    .map_err(|e| io_err("cannot replace", &b.rel, e))?;
                rfs::linkat(&da, a_name, &db, b.entry.name.as_str(), AtFlags::empty())
                    .map_err(|e| io_err("cannot link", &b.rel, e))?;
                report.hardlinks += 1;
            }
            Err(e) => return Err(io_err("cannot link", &b.rel, e)),
        }
    }

    // 5. Special files, reported unless asked for.
    for it in deferred.iter().filter(|i| {
        matches!(
            i.entry.file_type,
            FileType::Char | FileType::Block | FileType::Fifo | FileType::Socket
        )
    }) {
        let e = &it.entry;
        if !opts.special_files {
            ctx.warn(format!(
                "{}: {:?} node not created (use --special-files)",
                e.path, e.file_type
            ))?;
            continue;
        }
        let (ft, dev) = match e.file_type {
            FileType::Char => (rfs::FileType::CharacterDevice, e.rdev.unwrap_or((0, 0))),
            FileType::Block => (rfs::FileType::BlockDevice, e.rdev.unwrap_or((0, 0))),
            FileType::Fifo => (rfs::FileType::Fifo, (0, 0)),
            _ => (rfs::FileType::Socket, (0, 0)),
        };
        let fd = ctx.open_dir(parent_of(&it.rel))?;
        let devno = rfs::makedev(dev.0, dev.1);
        match rfs::mknodat(
            &fd,
            e.name.as_str(),
            ft,
            Mode::from_raw_mode(ctx.mode_for(e) & 0o777),
            devno,
        ) {
            Ok(()) => report.special += 1,
            Err(er) => ctx.warn(format!("{}: cannot create node: {er}", e.path))?,
        }
    }

    // 6. Symbolic links, last, never followed.
    for it in deferred
        .iter()
        .filter(|i| i.entry.file_type == FileType::Symlink)
    {
        let e = &it.entry;
        let target = e.target.as_deref().unwrap_or("");
        if target.is_empty() || target.contains('\0') {
            ctx.warn(format!(
                "{}: symbolic link with an empty or invalid target; skipped",
                e.path
            ))?;
            continue;
        }
        if opts.safe_links && escapes(parent_of(&it.rel), target) {
            ctx.warn(format!(
                "{}: link target {target:?} leads outside the destination; skipped (--safe-links)",
                e.path
            ))?;
            continue;
        }
        let fd = ctx.open_dir(parent_of(&it.rel))?;
        match rfs::symlinkat(target, &fd, e.name.as_str()) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) if ctx.opts.overwrite => {
                rfs::unlinkat(&fd, e.name.as_str(), AtFlags::empty())
                    .map_err(|er| io_err("cannot replace", &it.rel, er))?;
                rfs::symlinkat(target, &fd, e.name.as_str())
                    .map_err(|er| io_err("cannot create link", &it.rel, er))?;
            }
            Err(rustix::io::Errno::EXIST) => {
                return Err(Error::InvalidInput(format!(
                    "{} already exists in the destination; use --overwrite to replace it",
                    it.rel
                )))
            }
            Err(er) => return Err(io_err("cannot create link", &it.rel, er)),
        }
        if ctx.chown {
            let _ = rfs::chownat(
                &fd,
                e.name.as_str(),
                Some(rfs::Uid::from_raw(e.uid)),
                Some(rfs::Gid::from_raw(e.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            );
        }
        let _ = rfs::utimensat(&fd, e.name.as_str(), &times(e), AtFlags::SYMLINK_NOFOLLOW);
        report.symlinks += 1;
    }

    // 7. Directory modes, owners and times, deepest first.
    let mut dirs: Vec<&Item> = dirs.iter().collect();
    dirs.sort_by_key(|i| std::cmp::Reverse(i.rel.matches('/').count()));
    for it in dirs {
        let fd = ctx.open_dir(&it.rel)?;
        rfs::fchmod(&fd, Mode::from_raw_mode(ctx.mode_for(&it.entry)))
            .map_err(|e| io_err("cannot set mode of", &it.rel, e))?;
        ctx.set_owner(&fd, &it.entry)?;
        rfs::futimens(&fd, &times(&it.entry))
            .map_err(|e| io_err("cannot set times of", &it.rel, e))?;
    }

    report.bytes = ctx.written.load(Ordering::Relaxed);
    report.warnings = ctx.warnings.into_inner().unwrap_or_default();
    Ok(report)
}

/// Creates a directory beneath the destination if it is not there; an
/// existing directory is kept, anything else in the way is an error.
fn ensure_dir<S: ReadAt>(ctx: &Ctx<'_, S>, rel: &str, name: &str) -> Result<()> {
    let parent = ctx.open_dir(parent_of(rel))?;
    match rfs::mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) => {
            let st = rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io_err("cannot inspect", rel, e))?;
            if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory {
                Ok(())
            } else {
                Err(Error::InvalidInput(format!(
                    "{rel} exists in the destination and is not a directory"
                )))
            }
        }
        Err(e) => Err(io_err("cannot create directory", rel, e)),
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
    fn link_escapes() {
        assert!(escapes("a", "/etc/passwd"));
        assert!(escapes("a", "../../x"));
        assert!(!escapes("a/b", "../c"));
        assert!(!escapes("", "x/../y"));
        assert!(escapes("", ".."));
    }
}
