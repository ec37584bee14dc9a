//! A read-only FUSE file system over one view of an image (Rock Ridge,
//! Joliet, plain ISO 9660, ISO 9660:1999 or UDF), served by the reader's
//! positional reads on several threads.
//!
//! - Inode numbers come from the image's structure, so they are the same on
//!   every mount of the same image: a directory's first block (UDF: its
//!   file entry), a Rock Ridge hard link's serial number (or shared extent), else the byte
//!   offset of the file's directory record. A directory that points back at
//!   an ancestor gets the ancestor's inode, so the kernel sees the loop and a
//!   walk of the mount ends.
//! - zisofs files are inflated one block at a time into a small bounded
//!   cache; nothing holds a whole file.
//! - The image is immutable, so open files keep the page cache
//!   (`FOPEN_KEEP_CACHE`) and read-ahead is as large as the kernel allows.
//! - A corrupt structure met while serving fails that request with `EIO`
//!   and is logged once; the mount stays up.
//! - Mounted `ro,nosuid,nodev`: setuid and setgid bits are dropped, and
//!   Rock Ridge device nodes are shown as such but cannot be opened as
//!   devices.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEntry, ReplyOpen, ReplyStatfs, Request, SessionACL,
};

use crate::error::{Error, Result};
use crate::options::View;
use crate::read::{udf_key, DataRun, Entry, FileType, Image, ZisofsIndex};
use crate::source::ReadAt;
use isoforge_format::time::IsoTime;

/// How a mount behaves.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// The view to serve ([`View::Auto`] picks as `ls` does).
    pub view: View,
    /// Show every entry as owned by this user instead of its recorded owner.
    pub uid: Option<u32>,
    /// Show every entry as owned by this group instead of its recorded group.
    pub gid: Option<u32>,
    /// Let other users see the mount (`allow_other`; for a non-root user
    /// this needs `user_allow_other` in `/etc/fuse.conf`). Modes are then
    /// enforced by the kernel (`default_permissions`).
    pub allow_other: bool,
    /// Threads serving requests.
    pub threads: usize,
    /// The source name shown in the mount table (usually the image path).
    pub fsname: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            view: View::Auto,
            uid: None,
            gid: None,
            allow_other: false,
            threads: 4,
            fsname: "isoforge".into(),
        }
    }
}

/// Where a line about a problem met while serving goes (standard error of
/// the serving process by default).
pub type Logger = Box<dyn Fn(&str) + Send + Sync>;

/// A mounted image, before it serves requests: [`Mounted::run`] serves
/// until the file system is unmounted.
pub struct Mounted<S: ReadAt + 'static> {
    session: fuser::Session<IsoFs<S>>,
    mountpoint: std::path::PathBuf,
}

/// Unmounts a [`Mounted`] image from another thread (a signal handler's).
pub struct Unmounter {
    mountpoint: std::path::PathBuf,
}

impl Unmounter {
    /// Unmounts (as root directly, else through `fusermount3 -u`); serving
    /// then ends. A busy mount stays, and the error says so.
    pub fn unmount(&mut self) -> io::Result<()> {
        match rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::empty()) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::PERM) => {
                let out = std::process::Command::new("fusermount3")
                    .arg("-u")
                    .arg(&self.mountpoint)
                    .output()?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(
                        String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    ))
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl<S: ReadAt + 'static> Mounted<S> {
    /// Something that unmounts this mount when called.
    pub fn unmounter(&mut self) -> Unmounter {
        Unmounter {
            mountpoint: self.mountpoint.clone(),
        }
    }

    /// Serves requests until the file system is unmounted.
    pub fn run(self) -> io::Result<()> {
        self.session.run()
    }
}

/// Mounts `img` on `mountpoint`. When this returns the mount is in place
/// and the kernel has completed its handshake: requests wait until
/// [`Mounted::run`] serves them.
pub fn mount<S: ReadAt + 'static>(
    img: Image<S>,
    mountpoint: &Path,
    opts: &MountOptions,
    log: Logger,
) -> Result<Mounted<S>> {
    let fs = IsoFs::new(img, opts, log)?;
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::FSName(opts.fsname.replace(',', "_")),
        MountOption::Subtype("isoforge".into()),
    ];
    if opts.allow_other {
        config.acl = SessionACL::All;
        config.mount_options.push(MountOption::DefaultPermissions);
    }
    config.n_threads = Some(opts.threads.max(1));
    config.clone_fd = true;
    let session = fuser::Session::new(fs, mountpoint, &config).map_err(|e| Error::Io {
        source: io::Error::new(
            e.kind(),
            format!("cannot mount on {}: {e}", mountpoint.display()),
        ),
        offset: None,
    })?;
    let mountpoint = std::fs::canonicalize(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    Ok(Mounted {
        session,
        mountpoint,
    })
}

/// The inode number of the root directory.
const ROOT: u64 = 1;
/// Tags of inode numbers in the ISO 9660 hierarchies (UDF keys have the top
/// bit set and use the file entry's location).
const TAG_DIR: u64 = 1 << 62;
const TAG_LINK: u64 = 2 << 62;
const TAG_FILE: u64 = 3 << 62;
/// Attributes and names never change: the kernel may keep them long.
const TTL: Duration = Duration::from_secs(3600);
/// Inflated zisofs blocks kept (at most 128 KiB each).
const ZCACHE_BLOCKS: usize = 32;
/// What `stat` reports as the preferred I/O size: large, so `cp` and `cat`
/// ask for big reads.
const BLKSIZE: u32 = 128 * 1024;

struct Node {
    entry: Entry,
    parent: u64,
    data: OnceLock<std::result::Result<Data, Errno>>,
    listing: OnceLock<std::result::Result<Arc<Vec<Child>>, Errno>>,
}

/// An inflated zisofs block: inode, block number, bytes.
type ZBlock = (u64, usize, Arc<Vec<u8>>);

enum Data {
    Runs(Vec<DataRun>),
    Zisofs(Box<ZisofsIndex>),
}

struct Child {
    name: OsString,
    ino: u64,
}

/// The file system: one view of one image.
pub struct IsoFs<S: ReadAt> {
    img: Image<S>,
    view: View,
    root_key: u64,
    uid: Option<u32>,
    gid: Option<u32>,
    nodes: RwLock<HashMap<u64, Arc<Node>>>,
    max_nodes: usize,
    zcache: Mutex<VecDeque<ZBlock>>,
    log: Logger,
    logged: Mutex<std::collections::HashSet<u64>>,
}

impl<S: ReadAt> IsoFs<S> {
    /// Opens the view `opts.view` of `img` (the root must be readable).
    pub fn new(img: Image<S>, opts: &MountOptions, log: Logger) -> Result<Self> {
        let view = img.resolve_view(opts.view)?;
        let root = img.root(view)?;
        let root_key = root.dir_key();
        let max_nodes = usize::try_from(img.options().limits.max_total_entries)
            .unwrap_or(usize::MAX)
            .max(1);
        let fs = IsoFs {
            img,
            view,
            root_key,
            uid: opts.uid,
            gid: opts.gid,
            nodes: RwLock::new(HashMap::new()),
            max_nodes,
            zcache: Mutex::new(VecDeque::new()),
            log,
            logged: Mutex::new(std::collections::HashSet::new()),
        };
        fs.nodes_mut().insert(
            ROOT,
            Arc::new(Node {
                entry: root,
                parent: ROOT,
                data: OnceLock::new(),
                listing: OnceLock::new(),
            }),
        );
        Ok(fs)
    }

    /// The view being served.
    pub fn view(&self) -> View {
        self.view
    }

    fn nodes_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Arc<Node>>> {
        self.nodes.write().unwrap_or_else(|p| p.into_inner())
    }

    fn node(&self, ino: INodeNo) -> std::result::Result<Arc<Node>, Errno> {
        let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
        nodes.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    /// Logs a problem with one inode, once.
    fn fail(&self, ino: u64, e: &Error) -> Errno {
        let first = self
            .logged
            .lock()
            .map(|mut l| l.insert(ino))
            .unwrap_or(false);
        if first {
            (self.log)(&format!("isoforge mount: {e}"));
        }
        match e {
            Error::NotFound(_) => Errno::ENOENT,
            Error::NotADirectory(_) => Errno::ENOTDIR,
            _ => Errno::EIO,
        }
    }

    /// The structural inode number of an entry.
    fn ino_of(&self, e: &Entry) -> u64 {
        if e.is_dir() {
            let k = e.dir_key();
            return if k == self.root_key {
                ROOT
            } else if e.udf.is_some() {
                k
            } else {
                TAG_DIR | k
            };
        }
        if let Some(u) = &e.udf {
            return udf_key(u.partition, u.block);
        }
        // Rock Ridge hard links: the PX serial number when the writer
        // recorded one, else the data extent (as `extract` groups them).
        if e.nlink > 1 && e.file_type == FileType::File {
            match (e.ino, e.extents.first()) {
                (Some(i), _) if i != 0 => return TAG_LINK | u64::from(i),
                (_, Some(x)) => return TAG_LINK | (1 << 61) | u64::from(x.lba),
                _ => {}
            }
        }
        TAG_FILE | (e.record_offset & !(3 << 62))
    }

    /// The children of a directory, listed once and kept.
    /// The directory `ino` and its children, for `readdir` and
    /// `readdirplus`.
    fn dir_listing(
        &self,
        ino: INodeNo,
    ) -> std::result::Result<(Arc<Node>, Arc<Vec<Child>>), Errno> {
        let dir = self.node(ino)?;
        let list = self.listing(&dir, ino.0)?;
        Ok((dir, list))
    }

    fn listing(&self, dir: &Arc<Node>, ino: u64) -> std::result::Result<Arc<Vec<Child>>, Errno> {
        dir.listing
            .get_or_init(|| {
                if !dir.entry.is_dir() {
                    return Err(Errno::ENOTDIR);
                }
                let entries = self
                    .img
                    .read_dir(&dir.entry, self.view)
                    .map_err(|e| self.fail(ino, &e))?;
                let mut out: Vec<Child> = Vec::with_capacity(entries.len());
                let mut seen = std::collections::HashSet::new();
                let mut nodes = self.nodes_mut();
                for e in entries {
                    let name = e.name.as_bytes();
                    if name.is_empty()
                        || name == b"."
                        || name == b".."
                        || name.contains(&b'/')
                        || name.contains(&0)
                        || !seen.insert(e.name.clone())
                    {
                        // Not a name a directory can hold, or a second entry
                        // of the same name: the first one wins.
                        continue;
                    }
                    let mut cino = self.ino_of(&e);
                    if let Some(old) = nodes.get(&cino) {
                        // A serial number shared by entries that are not the
                        // same file is not a hard link.
                        if cino & (3 << 62) == TAG_LINK && !same_file(&old.entry, &e) {
                            cino = TAG_FILE | (e.record_offset & !(3 << 62));
                        }
                    }
                    if !nodes.contains_key(&cino) {
                        if nodes.len() >= self.max_nodes {
                            drop(nodes);
                            return Err(self.fail(
                                ino,
                                &Error::LimitExceeded {
                                    what: "entries served by the mount",
                                    value: self.max_nodes as u64,
                                    limit: self.max_nodes as u64,
                                },
                            ));
                        }
                        let name = OsString::from(&e.name);
                        nodes.insert(
                            cino,
                            Arc::new(Node {
                                entry: e,
                                parent: ino,
                                data: OnceLock::new(),
                                listing: OnceLock::new(),
                            }),
                        );
                        out.push(Child { name, ino: cino });
                    } else {
                        out.push(Child {
                            name: OsString::from(&e.name),
                            ino: cino,
                        });
                    }
                }
                Ok(Arc::new(out))
            })
            .clone()
    }

    fn attr(&self, ino: u64, e: &Entry) -> FileAttr {
        let kind = match e.file_type {
            FileType::File => fuser::FileType::RegularFile,
            FileType::Dir => fuser::FileType::Directory,
            FileType::Symlink => fuser::FileType::Symlink,
            FileType::Char => fuser::FileType::CharDevice,
            FileType::Block => fuser::FileType::BlockDevice,
            FileType::Fifo => fuser::FileType::NamedPipe,
            FileType::Socket => fuser::FileType::Socket,
        };
        let size = match e.file_type {
            FileType::Symlink => e.target.as_ref().map_or(0, |t| t.len() as u64),
            FileType::File | FileType::Dir => e.size,
            _ => 0,
        };
        let mtime = e.mtime.map_or(UNIX_EPOCH, system_time);
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: e.atime.map_or(mtime, system_time),
            mtime,
            ctime: e.ctime.map_or(mtime, system_time),
            crtime: mtime,
            kind,
            // No setuid or setgid from an image.
            perm: u16::try_from(e.mode & 0o1777).unwrap_or(0o444),
            nlink: e.nlink.max(1),
            uid: self.uid.unwrap_or(e.uid),
            gid: self.gid.unwrap_or(e.gid),
            rdev: e.rdev.map_or(0, |(h, l)| encode_dev(device_numbers(h, l))),
            blksize: BLKSIZE,
            flags: 0,
        }
    }

    fn data<'n>(&self, ino: u64, node: &'n Node) -> std::result::Result<&'n Data, Errno> {
        node.data
            .get_or_init(|| {
                let e = &node.entry;
                if e.file_type != FileType::File {
                    return Err(Errno::EINVAL);
                }
                let r = match self.img.zisofs_index(e) {
                    Ok(Some(z)) => Ok(Data::Zisofs(Box::new(z))),
                    Ok(None) => match self.img.data_runs(e) {
                        Ok(runs) => Ok(Data::Runs(runs.unwrap_or_default())),
                        Err(err) => Err(err),
                    },
                    Err(err) => Err(err),
                };
                r.map_err(|err| self.fail(ino, &err))
            })
            .as_ref()
            .map_err(|e| *e)
    }

    /// Reads up to `len` bytes at `offset` of a plain (not compressed) file.
    fn read_runs(&self, runs: &[DataRun], size: u64, offset: u64, len: u32) -> Result<Vec<u8>> {
        let want = size.saturating_sub(offset).min(u64::from(len));
        let mut out = vec![0u8; usize::try_from(want).unwrap_or(0)];
        let mut buf = &mut out[..];
        let mut pos = offset;
        for r in runs {
            if buf.is_empty() {
                break;
            }
            if pos >= r.len {
                pos -= r.len;
                continue;
            }
            let n = usize::try_from((r.len - pos).min(buf.len() as u64)).unwrap_or(0);
            let (head, tail) = buf.split_at_mut(n);
            match r.offset {
                Some(off) => self
                    .img
                    .read_at("file data", off.saturating_add(pos), head)?,
                None => head.fill(0),
            }
            buf = tail;
            pos = 0;
        }
        // Runs shorter than the size read as zeros (the buffer starts zeroed).
        Ok(out)
    }

    /// One inflated zisofs block, from the cache or the image.
    fn zblock(&self, ino: u64, z: &ZisofsIndex, n: usize) -> Result<Arc<Vec<u8>>> {
        if let Ok(c) = self.zcache.lock() {
            if let Some((_, _, b)) = c.iter().find(|(i, k, _)| *i == ino && *k == n) {
                return Ok(b.clone());
            }
        }
        let b = Arc::new(z.block(&self.img, n)?);
        if let Ok(mut c) = self.zcache.lock() {
            if c.len() >= ZCACHE_BLOCKS {
                c.pop_front();
            }
            c.push_back((ino, n, b.clone()));
        }
        Ok(b)
    }

    fn read_zisofs(&self, ino: u64, z: &ZisofsIndex, offset: u64, len: u32) -> Result<Vec<u8>> {
        let end = z.size().min(offset.saturating_add(u64::from(len)));
        let mut out = Vec::new();
        let bs = z.block_size();
        let mut pos = offset;
        while pos < end {
            let n = usize::try_from(pos / bs).unwrap_or(usize::MAX);
            let block = self.zblock(ino, z, n)?;
            let from = usize::try_from(pos % bs).unwrap_or(0);
            let upto = usize::try_from((end - pos).saturating_add(pos % bs))
                .unwrap_or(usize::MAX)
                .min(block.len());
            let part = block.get(from..upto).unwrap_or_default();
            if part.is_empty() {
                break;
            }
            out.extend_from_slice(part);
            pos += part.len() as u64;
        }
        Ok(out)
    }
}

/// The `i`-th entry of a directory listing: `.`, `..`, then the children.
fn dir_item<'a>(ino: u64, dir: &Node, list: &'a [Child], i: u64) -> Option<(u64, &'a OsStr)> {
    match i {
        0 => Some((ino, OsStr::new("."))),
        1 => Some((dir.parent, OsStr::new(".."))),
        _ => usize::try_from(i - 2)
            .ok()
            .and_then(|k| list.get(k))
            .map(|c| (c.ino, c.name.as_os_str())),
    }
}

/// Whether two entries describe the same file's data.
fn same_file(a: &Entry, b: &Entry) -> bool {
    a.file_type == b.file_type
        && a.size == b.size
        && a.extents == b.extents
        && a.zisofs == b.zisofs
        && a.target == b.target
        && a.rdev == b.rdev
}

/// Major and minor device numbers from a Rock Ridge PN entry. The RRIP
/// form is (high, low) = (major, minor); Linux writers (libisofs, mkisofs)
/// record the host's 64-bit `dev_t` split in halves instead, which for
/// ordinary devices leaves the high half 0 and the glibc encoding of both
/// numbers in the low half.
pub fn device_numbers(high: u32, low: u32) -> (u32, u32) {
    if high == 0 {
        let major = (low >> 8) & 0xfff;
        let minor = (low & 0xff) | ((low >> 12) & 0xf_ff00);
        (major, minor)
    } else {
        (high, low)
    }
}

/// The kernel's 32-bit device number encoding (`new_encode_dev`).
fn encode_dev((major, minor): (u32, u32)) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

fn system_time(t: IsoTime) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(t.nanos.min(999_999_999)));
    match u64::try_from(t.unix) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s) + nanos,
        Err(_) => UNIX_EPOCH
            .checked_sub(Duration::from_secs(t.unix.unsigned_abs()))
            .map_or(UNIX_EPOCH, |b| b + nanos),
    }
}

impl<S: ReadAt + 'static> Filesystem for IsoFs<S> {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // As much read-ahead as the kernel offers, and large reads: the
        // image is immutable and read sequentially most of the time.
        if let Err(max) = config.set_max_readahead(u32::MAX) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_write(1 << 20);
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_MAX_PAGES,
        ] {
            // Each is an optimisation: without it the mount still works.
            let _ = config.add_capabilities(flag);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = self.node(parent).and_then(|dir| {
            let list = self.listing(&dir, parent.0)?;
            let c = list.iter().find(|c| c.name == name).ok_or(Errno::ENOENT)?;
            let node = self.node(INodeNo(c.ino))?;
            Ok(self.attr(c.ino, &node.entry))
        });
        match r {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.node(ino) {
            Ok(n) => reply.attr(&TTL, &self.attr(ino.0, &n.entry)),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.node(ino) {
            Ok(n) => match &n.entry.target {
                Some(t) if n.entry.file_type == FileType::Symlink => reply.data(t.as_bytes()),
                _ => reply.error(Errno::EINVAL),
            },
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != fuser::OpenAccMode::O_RDONLY {
            reply.error(Errno::EROFS);
            return;
        }
        let r = self.node(ino).and_then(|n| match n.entry.file_type {
            FileType::File => self.data(ino.0, &n).map(|_| ()),
            FileType::Dir => Err(Errno::EISDIR),
            _ => Err(Errno::ENXIO),
        });
        match r {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let r = self.node(ino).and_then(|n| {
            let data = self.data(ino.0, &n)?;
            let out = match data {
                Data::Runs(runs) => self.read_runs(runs, n.entry.size, offset, size),
                Data::Zisofs(z) => self.read_zisofs(ino.0, z, offset, size),
            };
            out.map_err(|e| self.fail(ino.0, &e))
        });
        match r {
            Ok(buf) => reply.data(&buf),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let r = self.node(ino).and_then(|n| {
            if n.entry.is_dir() {
                Ok(())
            } else {
                Err(Errno::ENOTDIR)
            }
        });
        match r {
            Ok(()) => reply.opened(
                FileHandle(0),
                FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let (dir, list) = match self.dir_listing(ino) {
            Ok(x) => x,
            Err(e) => return reply.error(e),
        };
        let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
        let mut i = offset;
        while let Some((cino, name)) = dir_item(ino.0, &dir, &list, i) {
            let kind = nodes.get(&cino).map_or(fuser::FileType::Directory, |n| {
                self.attr(cino, &n.entry).kind
            });
            if reply.add(INodeNo(cino), i + 1, kind, name) {
                break;
            }
            i += 1;
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let (dir, list) = match self.dir_listing(ino) {
            Ok(x) => x,
            Err(e) => return reply.error(e),
        };
        let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
        let mut i = offset;
        while let Some((cino, name)) = dir_item(ino.0, &dir, &list, i) {
            let Some(n) = nodes.get(&cino) else { break };
            let attr = self.attr(cino, &n.entry);
            if reply.add(INodeNo(cino), i + 1, name, &TTL, &attr, Generation(0)) {
                break;
            }
            i += 1;
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let info = self.img.info();
        let files = self.nodes.read().map_or(0, |n| n.len() as u64);
        reply.statfs(
            u64::from(info.volume_space_size),
            0,
            0,
            files,
            0,
            info.block_size.max(512),
            255,
            info.block_size.max(512),
        );
    }
}
