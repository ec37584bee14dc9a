//! The tree to write, built from host directories, files and in-memory data.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs as rfs;

use crate::error::{Error, Result};
use crate::read::Zisofs;
use crate::source::ReadAt;

use super::times::{self, Clock, Stamp};

/// Index of a node in a [`Builder`].
pub type NodeId = usize;

/// Which Rock Ridge flavour to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RrVersion {
    /// `RRIP_1991A` (RRIP 1.09): the identifier every reader accepts (FreeBSD
    /// looks for it). PX entries still carry file serial numbers (the 1.12
    /// form, which 1.09 readers read past).
    #[default]
    V109,
    /// RRIP 1.12, identified as `IEEE_P1282` as other 1.12 writers do.
    V112,
}

/// Options for building an image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildOptions {
    /// Volume identifier (32 bytes at most).
    pub volume_id: String,
    /// Publisher identifier.
    pub publisher: String,
    /// Data preparer identifier.
    pub preparer: String,
    /// Application identifier.
    pub application: String,
    /// System identifier.
    pub system_id: String,
    /// ISO level 1-4 (4: ISO 9660:1999).
    pub level: u8,
    /// Write a Joliet tree.
    pub joliet: bool,
    /// Allow 103-character Joliet names.
    pub joliet_long: bool,
    /// Write Rock Ridge.
    pub rock_ridge: bool,
    /// Rock Ridge flavour.
    pub rr_version: RrVersion,
    /// Fixed time (seconds since the epoch) for reproducible output: the
    /// volume dates, the times of what the writer makes, and the upper clamp
    /// of the times of what is added (see [`super::times`]).
    pub source_date_epoch: Option<i64>,
    /// Store identical contents once.
    pub dedup: bool,
    /// Refuse names that a name space cannot hold unchanged.
    pub strict_names: bool,
    /// El Torito boot entries and the hybrid layout.
    pub boot: super::boot::BootConfig,
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Copyright, abstract and bibliographic file identifiers.
    pub file_ids: [String; 3],
    /// Volume creation, expiration and effective dates, as recorded in an
    /// image being remastered (instead of the build time). The modification
    /// date is always the build time.
    pub recorded_volume_dates: Option<[Option<crate::IsoTime>; 3]>,
    /// Volume modification date of the primary and supplementary
    /// descriptors, instead of the build time (mkisofs's
    /// `--modification-date`; GRUB takes it for the file system UUID).
    pub volume_modified: Option<crate::IsoTime>,
    /// Application use bytes of the primary descriptor (default: spaces).
    pub application_use: Option<Vec<u8>>,
    /// Text fields of the Joliet descriptor, when they differ from the
    /// primary's.
    pub joliet_text: Option<VolumeText>,
    /// Relocate directories nested deeper than eight levels (with Rock
    /// Ridge, at ISO levels 1-3), as ECMA-119 requires; off, they stay
    /// where they are, as xorriso writes them by default.
    pub relocate_deep: bool,
    /// Follow symbolic links met while adding host directories (mkisofs's
    /// `-f`): a link is added as what it points to. A link that points
    /// nowhere, or to a directory above it (a loop), stays a link, with a
    /// warning.
    pub follow_links: bool,
    /// Stops writing (with [`Error::Cancelled`]) when cancelled.
    pub cancel: crate::Cancel,
}

/// The text fields of a supplementary (Joliet) volume descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VolumeText {
    /// System identifier.
    pub system_id: String,
    /// Volume identifier.
    pub volume_id: String,
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Publisher identifier.
    pub publisher: String,
    /// Data preparer identifier.
    pub preparer: String,
    /// Application identifier.
    pub application: String,
    /// Copyright, abstract and bibliographic file identifiers.
    pub file_ids: [String; 3],
    /// Application use bytes.
    pub application_use: Vec<u8>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            volume_id: "ISOIMAGE".into(),
            publisher: String::new(),
            preparer: String::new(),
            application: "ISOFORGE".into(),
            system_id: "LINUX".into(),
            level: 3,
            joliet: true,
            joliet_long: false,
            rock_ridge: true,
            rr_version: RrVersion::default(),
            source_date_epoch: None,
            dedup: false,
            strict_names: false,
            boot: super::boot::BootConfig::default(),
            volume_set_id: String::new(),
            file_ids: Default::default(),
            recorded_volume_dates: None,
            volume_modified: None,
            application_use: None,
            joliet_text: None,
            relocate_deep: true,
            follow_links: false,
            cancel: crate::Cancel::default(),
        }
    }
}

/// A point in time: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds.
    pub nanos: u32,
}

/// Attributes of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Permission bits (including set-id and sticky bits).
    pub perm: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time.
    pub mtime: Time,
    /// Access time.
    pub atime: Time,
    /// Attribute change time.
    pub ctime: Time,
}

/// Where a file's contents come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileSource {
    /// A host file, read when the image is written.
    Host(PathBuf),
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
    /// Bytes of an existing image, copied as they are.
    Image(ImageData),
}

impl FileSource {
    /// All bytes of a positional reader: anything that implements
    /// [`ReadAt`], or a `Read + Seek` wrapped in
    /// [`SeekSource`](crate::source::SeekSource). Its size is taken now and
    /// the image holds that many bytes; a source that has become shorter by
    /// the time the image is written fails the write.
    pub fn reader(src: Arc<dyn ReadAt>) -> std::io::Result<FileSource> {
        let len = src.size()?;
        Ok(FileSource::Image(ImageData::new(src, vec![(0, len)])))
    }
}

/// Runs of bytes in an existing image that make up one file's stored data.
#[derive(Clone)]
pub struct ImageData {
    pub(crate) src: Arc<dyn ReadAt>,
    /// (byte offset, length) runs, in file order.
    pub(crate) runs: Vec<(u64, u64)>,
}

impl ImageData {
    /// The data at `runs` ((byte offset, length) pairs) of `src`.
    pub fn new(src: Arc<dyn ReadAt>, runs: Vec<(u64, u64)>) -> ImageData {
        ImageData { src, runs }
    }

    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|r| r.1).sum()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Streams the bytes in chunks of at most 1 MiB until `sink` returns
    /// false.
    pub(crate) fn stream(&self, sink: &mut dyn FnMut(&[u8]) -> Result<bool>) -> Result<()> {
        let mut buf = vec![0u8; self.len().clamp(1, 1 << 20) as usize];
        for &(off, len) in &self.runs {
            let mut done = 0u64;
            while done < len {
                let n = (len - done).min(buf.len() as u64) as usize;
                let chunk = buf.get_mut(..n).unwrap_or_default();
                self.src
                    .read_exact_at(off + done, chunk)
                    .map_err(|e| Error::Io {
                        source: e,
                        offset: Some(off + done),
                    })?;
                if !sink(chunk)? {
                    return Ok(());
                }
                done += n as u64;
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for ImageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageData")
            .field("runs", &self.runs)
            .finish()
    }
}

impl PartialEq for ImageData {
    fn eq(&self, o: &ImageData) -> bool {
        Arc::ptr_eq(&self.src, &o.src) && self.runs == o.runs
    }
}

impl Eq for ImageData {}

/// Recorded ISO 9660 and Joliet identifiers.
pub(crate) type RecordedIds = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Identifiers a node keeps from an image it was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FixedIds {
    /// ISO 9660 file identifier, as recorded.
    pub iso: Option<Vec<u8>>,
    /// Joliet file identifier (UCS-2BE), as recorded.
    pub joliet: Option<Vec<u8>>,
    /// The hidden (existence) flag in the ISO 9660 and Joliet records.
    pub hidden: (bool, bool),
}

/// Where a file's data comes from, as the tree keeps it: a host file of a
/// scanned directory is named by that directory and the node's own name, so
/// that a large tree does not hold a full path per file. Every variant holds
/// at most one pointer, which keeps nodes small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Src {
    /// The file named as the node in host directory `n` (an index into
    /// `Builder::host_dirs`).
    InDir(u32),
    /// A host file.
    Host(Box<PathBuf>),
    /// Bytes in memory.
    Bytes(Box<Arc<[u8]>>),
    /// Bytes of an existing image.
    Image(Box<ImageData>),
}

/// What few files have: a hard link identity and zisofs parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileExtra {
    /// (device, inode) of a host file with more than one link, or a link key
    /// of an image file: files that share it are hard links.
    pub host_id: Option<(u64, u64)>,
    /// zisofs parameters of data stored compressed.
    pub zisofs: Option<Zisofs>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir(Vec<NodeId>),
    File {
        src: Src,
        /// Bytes stored (compressed bytes for zisofs files).
        size: u64,
        extra: Option<Box<FileExtra>>,
    },
    Symlink(String),
    Device {
        block: bool,
        major: u32,
        minor: u32,
    },
    Fifo,
    Socket,
}

impl Kind {
    /// The hard link identity of a file.
    pub fn host_id(&self) -> Option<(u64, u64)> {
        match self {
            Kind::File { extra: Some(x), .. } => x.host_id,
            _ => None,
        }
    }

    /// The zisofs parameters of a file stored compressed.
    pub fn zisofs(&self) -> Option<&Zisofs> {
        match self {
            Kind::File { extra: Some(x), .. } => x.zisofs.as_ref(),
            _ => None,
        }
    }
}

fn file_extra(host_id: Option<(u64, u64)>, zisofs: Option<Zisofs>) -> Option<Box<FileExtra>> {
    (host_id.is_some() || zisofs.is_some()).then(|| Box::new(FileExtra { host_id, zisofs }))
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The name, as `Builder::names[name_at..][..name_len]`: one buffer
    /// holds every name.
    name_at: u32,
    name_len: u32,
    /// The parent directory (a `NodeId`, stored small: a tree holds many
    /// nodes).
    pub parent: u32,
    /// Where `meta`'s times come from.
    pub(crate) stamp: Stamp,
    pub kind: Kind,
    pub meta: Meta,
}

impl Node {
    /// The parent directory.
    pub fn parent(&self) -> NodeId {
        self.parent as NodeId
    }
}

/// A node id as `Node::parent` holds it.
fn small_id(id: NodeId) -> Result<u32> {
    u32::try_from(id).map_err(|_| Error::InvalidInput("too many files".into()))
}

/// The tree of an image being built.
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) opts: BuildOptions,
    pub(crate) nodes: Vec<Node>,
    /// The names of the nodes.
    names: String,
    pub(crate) warnings: Vec<String>,
    /// Identifiers nodes keep from an image they were read from.
    pub(crate) fixed: HashMap<NodeId, FixedIds>,
    /// Hash of (directory, a child's name) -> child, so that adding to a
    /// directory of many files does not scan it each time. Dropped when the
    /// tree is planned; lookups then scan the directory.
    index: Option<HashMap<u64, NodeId>>,
    /// Host directories whose files `Src::InDir` names.
    pub(crate) host_dirs: HostDirs,
    /// When the builder was made: the build time without a fixed time.
    pub(crate) started: Time,
    /// Files that no directory lists (boot images kept hidden), children
    /// of no node.
    pub(crate) unlisted: Vec<NodeId>,
}

fn name_hash(dir: NodeId, name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one((dir, name))
}

fn time_of(secs: i64, nanos: i64) -> Time {
    Time {
        secs,
        nanos: u32::try_from(nanos).unwrap_or(0),
    }
}

fn meta_of(m: &fs::Metadata) -> Meta {
    Meta {
        perm: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: time_of(m.mtime(), m.mtime_nsec()),
        atime: time_of(m.atime(), m.atime_nsec()),
        ctime: time_of(m.ctime(), m.ctime_nsec()),
    }
}

fn valid_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(Error::InvalidInput(format!(
            "{name:?} cannot be a name in an image"
        )));
    }
    Ok(())
}

impl Builder {
    /// An empty tree with a root directory.
    pub fn new(opts: BuildOptions) -> Self {
        let started = times::now();
        let t = Clock {
            started,
            fixed: opts.source_date_epoch,
        }
        .build_time();
        let root = Node {
            name_at: 0,
            name_len: 0,
            parent: 0,
            stamp: Stamp::Made,
            kind: Kind::Dir(Vec::new()),
            meta: Meta {
                perm: 0o755,
                uid: 0,
                gid: 0,
                mtime: t,
                atime: t,
                ctime: t,
            },
        };
        Builder {
            opts,
            nodes: vec![root],
            names: String::new(),
            warnings: Vec::new(),
            fixed: HashMap::new(),
            index: Some(HashMap::new()),
            host_dirs: HostDirs::default(),
            started,
            unlisted: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &BuildOptions {
        &self.opts
    }

    /// Sets the fixed time used for reproducible output.
    pub fn set_source_date_epoch(&mut self, secs: i64) {
        self.opts.source_date_epoch = Some(secs);
    }

    /// Makes the output depend only on the tree so far and on what is
    /// added to it later by contents, name and mode: without a fixed time
    /// (`source_date_epoch`), the newest modification time of the tree as it
    /// is now becomes the fixed time (see [`super::times`]).
    pub fn set_reproducible(&mut self) {
        if self.opts.source_date_epoch.is_none() {
            let t = times::newest_mtime(self.nodes.iter().map(|n| (&n.meta, n.stamp)));
            self.opts.source_date_epoch = Some(t);
        }
    }

    /// The clock of this build.
    pub(crate) fn clock(&self) -> Clock {
        Clock {
            started: self.started,
            fixed: self.opts.source_date_epoch,
        }
    }

    /// The path of every node a directory lists, parents before their
    /// children, the root (`/`) first.
    pub fn listed_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(0usize, String::new())];
        while let Some((id, path)) = stack.pop() {
            out.push(if path.is_empty() {
                "/".into()
            } else {
                path.clone()
            });
            if let Some(Node {
                kind: Kind::Dir(c), ..
            }) = self.nodes.get(id)
            {
                for &child in c.iter().rev() {
                    let name = self.name(child);
                    stack.push((child, format!("{path}/{name}")));
                }
            }
        }
        out
    }

    /// Changes the attributes of every node in place (times keep their
    /// origin); `f` is told whether the node is a directory.
    pub fn map_meta(&mut self, mut f: impl FnMut(bool, &mut Meta)) {
        for n in &mut self.nodes {
            f(matches!(n.kind, Kind::Dir(_)), &mut n.meta);
        }
    }

    /// The attributes of every node.
    pub fn nodes_meta(&self) -> impl Iterator<Item = &Meta> {
        self.nodes.iter().map(|n| &n.meta)
    }

    /// Warnings gathered so far (unrepresentable host names and the like).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        if let Some(index) = &self.index {
            match index.get(&name_hash(dir, name)) {
                None => return None,
                Some(&id)
                    if self
                        .nodes
                        .get(id)
                        .is_some_and(|n| n.parent() == dir && self.node_name(n) == name) =>
                {
                    return Some(id)
                }
                // Two names with one hash: look through the directory.
                Some(_) => {}
            }
        }
        match &self.nodes.get(dir)?.kind {
            Kind::Dir(c) => c
                .iter()
                .copied()
                .find(|&i| self.nodes.get(i).is_some_and(|n| self.node_name(n) == name)),
            _ => None,
        }
    }

    /// Adds a file stored in an existing image, copied without being
    /// decoded (zisofs data stays compressed, described by `zisofs`).
    /// Files added with the same `link` key are hard links of one another.
    pub fn add_image_file(
        &mut self,
        iso_path: &str,
        data: ImageData,
        meta: Meta,
        zisofs: Option<Zisofs>,
        link: Option<u64>,
    ) -> Result<NodeId> {
        let (dir, name) = Self::split(iso_path)?;
        let parent = self.mkdir_p(dir)?;
        let size = data.len();
        self.push(
            parent,
            name,
            Kind::File {
                src: Src::Image(Box::new(data)),
                size,
                extra: file_extra(link.map(|l| (u64::MAX, l)), zisofs),
            },
            meta,
        )
    }

    /// Adds a file that no directory lists, with data from an image.
    pub(crate) fn add_unlisted(&mut self, data: ImageData, meta: Meta) -> Result<NodeId> {
        let id = self.nodes.len();
        let size = data.len();
        let kind = Kind::File {
            src: Src::Image(Box::new(data)),
            size,
            extra: None,
        };
        let node = self.new_node("", 0, kind, meta)?;
        self.nodes.push(node);
        self.unlisted.push(id);
        Ok(id)
    }

    /// The node of a boot image: its hidden data, or the file at its path.
    pub(crate) fn boot_node(&self, i: &super::boot::BootImage) -> Option<NodeId> {
        match (&i.hidden, i.node) {
            (Some(_), node) => node,
            (None, _) => self.lookup(&i.path),
        }
    }

    /// Adds a device node.
    pub fn add_device(
        &mut self,
        iso_path: &str,
        block: bool,
        (major, minor): (u32, u32),
        meta: Meta,
    ) -> Result<NodeId> {
        let (dir, name) = Self::split(iso_path)?;
        let parent = self.mkdir_p(dir)?;
        self.push(
            parent,
            name,
            Kind::Device {
                block,
                major,
                minor,
            },
            meta,
        )
    }

    /// Adds a FIFO (`socket` false) or a socket.
    pub fn add_special(&mut self, iso_path: &str, socket: bool, meta: Meta) -> Result<NodeId> {
        let (dir, name) = Self::split(iso_path)?;
        let parent = self.mkdir_p(dir)?;
        let kind = if socket { Kind::Socket } else { Kind::Fifo };
        self.push(parent, name, kind, meta)
    }

    /// Sets the attributes of a node.
    pub fn set_meta(&mut self, id: NodeId, meta: Meta) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.meta = meta;
            n.stamp = Stamp::Given;
        }
    }

    /// Keeps a node's times as they are, even for reproducible output: they
    /// were recorded in the image the node was read from.
    pub(crate) fn keep_recorded_times(&mut self, id: NodeId) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.stamp = Stamp::Recorded;
        }
    }

    /// Keeps recorded identifiers for a node: its ISO 9660 and Joliet
    /// names are written as given rather than derived from its name.
    pub(crate) fn set_fixed_ids(
        &mut self,
        id: NodeId,
        iso: Option<Vec<u8>>,
        joliet: Option<Vec<u8>>,
    ) {
        if id < self.nodes.len() {
            self.fixed.insert(
                id,
                FixedIds {
                    iso,
                    joliet,
                    hidden: (false, false),
                },
            );
        }
    }

    /// Keeps the hidden (existence) flag of a node read from an image, in
    /// the ISO 9660 and the Joliet tree.
    pub(crate) fn set_hidden(&mut self, id: NodeId, iso: bool, joliet: bool) {
        if let Some(f) = self.fixed.get_mut(&id) {
            f.hidden = (iso, joliet);
        }
    }

    /// Takes a node out of its directory (with everything below it).
    fn detach(&mut self, id: NodeId) {
        let Some((parent, name)) = self
            .nodes
            .get(id)
            .map(|n| (n.parent(), self.node_name(n).to_string()))
        else {
            return;
        };
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(parent)
        {
            c.retain(|&x| x != id);
        }
        let key = name_hash(parent, &name);
        if let Some(index) = self.index.as_mut().filter(|i| i.get(&key) == Some(&id)) {
            index.remove(&key);
            // Another child whose name has the same hash takes the slot.
            let other = match self.nodes.get(parent).map(|n| &n.kind) {
                Some(Kind::Dir(c)) => c.iter().copied().find(|&x| {
                    self.nodes
                        .get(x)
                        .is_some_and(|n| name_hash(parent, self.node_name(n)) == key)
                }),
                _ => None,
            };
            if let (Some(o), Some(index)) = (other, self.index.as_mut()) {
                index.insert(key, o);
            }
        }
    }

    /// Removes the file, link or directory (recursively) at `iso_path`.
    pub fn remove(&mut self, iso_path: &str) -> Result<()> {
        match self.lookup(iso_path) {
            Some(0) => Err(Error::InvalidInput("the root cannot be removed".into())),
            Some(id) => {
                self.detach(id);
                Ok(())
            }
            None => Err(Error::InvalidInput(format!(
                "{iso_path} is not in the image"
            ))),
        }
    }

    /// Moves or renames the node at `from` to `to` (whose directory is
    /// created if missing; `to` itself must not exist).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let id = match self.lookup(from) {
            Some(0) | None => {
                return Err(Error::InvalidInput(format!(
                    "{from} is not in the image (or is the root)"
                )))
            }
            Some(id) => id,
        };
        let (dir, name) = Self::split(to)?;
        valid_name(name)?;
        let parent = self.mkdir_p(dir)?;
        // A directory cannot move below itself.
        let mut up = parent;
        while up != 0 {
            if up == id {
                return Err(Error::InvalidInput(format!(
                    "{from} cannot move into itself ({to})"
                )));
            }
            up = self.nodes.get(up).map_or(0, Node::parent);
        }
        if self.child(parent, name).is_some() {
            return Err(Error::InvalidInput(format!(
                "{to} exists already; remove it first"
            )));
        }
        let parent_id = small_id(parent)?;
        self.detach(id);
        let renamed = self.name(id) != name;
        // A host file named by its directory and its name keeps its path.
        let path = self.host_path(id);
        if let (
            Some(Node {
                kind: Kind::File { src, .. },
                ..
            }),
            Some(p),
        ) = (self.nodes.get_mut(id), path)
        {
            *src = Src::Host(Box::new(p));
        }
        let (at, len) = self.keep_name(name)?;
        if let Some(n) = self.nodes.get_mut(id) {
            n.name_at = at;
            n.name_len = len;
            n.parent = parent_id;
        }
        if renamed {
            self.fixed.remove(&id);
        }
        if let Some(index) = self.index.as_mut() {
            index.entry(name_hash(parent, name)).or_insert(id);
        }
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(parent)
        {
            c.push(id);
        }
        Ok(())
    }

    /// The name of a node.
    pub(crate) fn name(&self, id: NodeId) -> &str {
        self.nodes.get(id).map_or("", |n| self.node_name(n))
    }

    /// The name of `n`, a node of this tree.
    pub(crate) fn node_name(&self, n: &Node) -> &str {
        let at = n.name_at as usize;
        self.names
            .get(at..at + n.name_len as usize)
            .unwrap_or_default()
    }

    /// Puts `name` in the buffer of names; returns its place.
    fn keep_name(&mut self, name: &str) -> Result<(u32, u32)> {
        let too_many = || Error::InvalidInput("too many names".into());
        let at = u32::try_from(self.names.len()).map_err(|_| too_many())?;
        let len = u32::try_from(name.len()).map_err(|_| too_many())?;
        at.checked_add(len).ok_or_else(too_many)?;
        self.names.push_str(name);
        Ok((at, len))
    }

    /// A node named `name` in `parent` (not yet in the tree).
    pub(crate) fn new_node(
        &mut self,
        name: &str,
        parent: NodeId,
        kind: Kind,
        meta: Meta,
    ) -> Result<Node> {
        let parent = small_id(parent)?;
        let (name_at, name_len) = self.keep_name(name)?;
        Ok(Node {
            name_at,
            name_len,
            parent,
            stamp: Stamp::Given,
            kind,
            meta,
        })
    }

    /// The host path of a file read from the host.
    pub(crate) fn host_path(&self, id: NodeId) -> Option<PathBuf> {
        match self.nodes.get(id) {
            Some(
                n @ Node {
                    kind: Kind::File { src, .. },
                    ..
                },
            ) => match src {
                Src::InDir(d) => Some(self.host_dirs.path(*d)?.join(self.node_name(n))),
                Src::Host(p) => Some(PathBuf::clone(p)),
                Src::Bytes(_) | Src::Image(_) => None,
            },
            _ => None,
        }
    }

    /// Drops the name index: planning makes few lookups, which then look
    /// through the directory.
    pub(crate) fn drop_index(&mut self) {
        self.index = None;
    }

    /// Replaces the options.
    pub fn set_options(&mut self, opts: BuildOptions) {
        self.opts = opts;
    }

    /// Whether the tree has a node at `iso_path`.
    pub fn lookup_path(&self, iso_path: &str) -> bool {
        self.lookup(iso_path).is_some()
    }

    /// The image runs of the file at `iso_path`: `None` if there is no
    /// such file, empty if its data does not come from an image.
    pub(crate) fn image_runs(&self, iso_path: &str) -> Option<Vec<(u64, u64)>> {
        match &self.nodes.get(self.lookup(iso_path)?)?.kind {
            Kind::File {
                src: Src::Image(d), ..
            } => Some(d.runs.clone()),
            Kind::File { .. } => Some(Vec::new()),
            _ => None,
        }
    }

    /// Whether `iso_path` names a directory.
    pub fn is_dir_path(&self, iso_path: &str) -> bool {
        self.lookup(iso_path)
            .is_some_and(|id| matches!(self.nodes.get(id).map(|n| &n.kind), Some(Kind::Dir(_))))
    }

    /// The node at `iso_path`, if the tree has one.
    pub(crate) fn lookup(&self, iso_path: &str) -> Option<NodeId> {
        let mut cur = 0;
        for comp in iso_path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            cur = self.child(cur, comp)?;
        }
        Some(cur)
    }

    /// The path of a node, for messages.
    pub(crate) fn path_of(&self, mut id: NodeId) -> String {
        let mut parts = Vec::new();
        while id != 0 {
            let Some(n) = self.nodes.get(id) else { break };
            parts.push(self.node_name(n));
            id = n.parent();
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    fn push(&mut self, parent: NodeId, name: &str, kind: Kind, meta: Meta) -> Result<NodeId> {
        valid_name(name)?;
        if let Some(existing) = self.child(parent, name) {
            return Err(Error::InvalidInput(format!(
                "name collision: {} is added twice; rename one of the sources or graft it elsewhere",
                self.path_of(existing)
            )));
        }
        let id = self.nodes.len();
        let node = self.new_node(name, parent, kind, meta)?;
        if let Some(index) = self.index.as_mut() {
            index.entry(name_hash(parent, name)).or_insert(id);
        }
        self.nodes.push(node);
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(parent)
        {
            c.push(id);
        }
        Ok(id)
    }

    /// The directory at `iso_path`, created if missing: with the root's
    /// mode and owner, and the build time.
    pub fn mkdir_p(&mut self, iso_path: &str) -> Result<NodeId> {
        let mut cur = 0;
        for comp in iso_path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            cur = match self.child(cur, comp) {
                Some(id) if matches!(self.nodes.get(id).map(|n| &n.kind), Some(Kind::Dir(_))) => id,
                Some(id) => {
                    return Err(Error::InvalidInput(format!(
                        "{} is not a directory",
                        self.path_of(id)
                    )))
                }
                None => {
                    let mut meta = self.nodes.first().map(|r| r.meta).unwrap_or_default();
                    self.clock().apply(&mut meta, Stamp::Made);
                    let id = self.push(cur, comp, Kind::Dir(Vec::new()), meta)?;
                    if let Some(n) = self.nodes.get_mut(id) {
                        n.stamp = Stamp::Made;
                    }
                    id
                }
            };
        }
        Ok(cur)
    }

    fn split(iso_path: &str) -> Result<(&str, &str)> {
        let p = iso_path.trim_end_matches('/');
        let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
        if name.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{iso_path:?} does not name a file"
            )));
        }
        Ok((dir, name))
    }

    /// Adds a file with the given contents and attributes.
    pub fn add_file(&mut self, iso_path: &str, src: FileSource, meta: Meta) -> Result<NodeId> {
        let (dir, name) = Self::split(iso_path)?;
        let size = match &src {
            FileSource::Bytes(b) => b.len() as u64,
            FileSource::Host(p) => fs::metadata(p).map_err(|e| host_err(p, e))?.len(),
            FileSource::Image(d) => d.len(),
        };
        let parent = self.mkdir_p(dir)?;
        let src = match src {
            FileSource::Host(p) => Src::Host(Box::new(p)),
            FileSource::Bytes(b) => Src::Bytes(Box::new(b)),
            FileSource::Image(d) => Src::Image(Box::new(d)),
        };
        self.push(
            parent,
            name,
            Kind::File {
                src,
                size,
                extra: None,
            },
            meta,
        )
    }

    /// Adds an empty directory.
    pub fn add_dir(&mut self, iso_path: &str, meta: Meta) -> Result<NodeId> {
        let (dir, name) = Self::split(iso_path)?;
        let parent = self.mkdir_p(dir)?;
        self.push(parent, name, Kind::Dir(Vec::new()), meta)
    }

    /// Adds a symbolic link.
    pub fn add_symlink(&mut self, iso_path: &str, target: &str, meta: Meta) -> Result<NodeId> {
        let (dir, name) = Self::split(iso_path)?;
        let parent = self.mkdir_p(dir)?;
        self.push(parent, name, Kind::Symlink(target.to_string()), meta)
    }

    /// Adds a host file, directory (recursively), symbolic link or special
    /// file at `iso_path`. Directories merge with existing ones; a file whose
    /// name is already taken is an error.
    ///
    /// # Security
    ///
    /// Symbolic links on the host are recorded as links, never followed.
    pub fn add_host(&mut self, iso_path: &str, host: &Path) -> Result<NodeId> {
        let mut m = fs::symlink_metadata(host).map_err(|e| host_err(host, e))?;
        if self.opts.follow_links && m.file_type().is_symlink() {
            if let Ok(t) = fs::metadata(host) {
                m = t;
            }
        }
        let st = HostStat::of(&m);
        if m.is_dir() {
            let id = if iso_path.trim_matches('/').is_empty() {
                0
            } else {
                self.mkdir_p(iso_path)?
            };
            self.set_meta(id, st.meta);
            self.add_tree_into(id, host)?;
            Ok(id)
        } else {
            let (dir, name) = Self::split(iso_path)?;
            let parent = self.mkdir_p(dir)?;
            self.add_entry(parent, name, host, &st, None)
        }
    }

    /// Adds the host entry at `host`, described by `st`. A regular file's
    /// data is named by `in_dir` (its host directory) when given.
    fn add_entry(
        &mut self,
        parent: NodeId,
        name: &str,
        host: &Path,
        st: &HostStat,
        in_dir: Option<u32>,
    ) -> Result<NodeId> {
        let kind = match st.kind {
            HostKind::File => Kind::File {
                src: match in_dir {
                    Some(d) => Src::InDir(d),
                    None => Src::Host(Box::new(host.to_path_buf())),
                },
                size: st.size,
                extra: file_extra((st.nlink > 1).then_some(st.id), None),
            },
            HostKind::Dir => Kind::Dir(Vec::new()),
            HostKind::Symlink => {
                let t = fs::read_link(host).map_err(|e| host_err(host, e))?;
                let t = match t.to_str() {
                    Some(s) => s.to_string(),
                    None => {
                        self.warnings.push(format!(
                            "{}: link target is not UTF-8; recorded with replacement characters",
                            host.display()
                        ));
                        t.to_string_lossy().into_owned()
                    }
                };
                Kind::Symlink(t)
            }
            HostKind::Device { block } => Kind::Device {
                block,
                major: st.rdev.0,
                minor: st.rdev.1,
            },
            HostKind::Fifo => Kind::Fifo,
            HostKind::Socket => Kind::Socket,
        };
        self.push(parent, name, kind, st.meta)
    }

    fn add_tree_into(&mut self, dir: NodeId, host: &Path) -> Result<()> {
        // Sorted so that the tree, and so the image, do not depend on the
        // order in which the host file system lists directories.
        let top = self.host_dirs.add(None, host.as_os_str())?;
        // With `follow_links`, the (device, inode) of the directories walked
        // down to each one, so that a link to one of them is not followed
        // for ever.
        let top_id = if self.opts.follow_links {
            let m = fs::metadata(host).map_err(|e| host_err(host, e))?;
            vec![(m.dev(), m.ino())]
        } else {
            Vec::new()
        };
        let mut stack = vec![(dir, host.to_path_buf(), top, top_id)];
        // (name, the host name when it is not UTF-8 and `name` is lossy)
        let mut entries: Vec<(String, Option<OsString>)> = Vec::new();
        while let Some((id, path, hd, ancestors)) = stack.pop() {
            self.opts.cancel.check()?;
            // Entries are looked up relative to the open directory: no path
            // walk from the root per entry.
            let fd = rfs::openat(
                rfs::CWD,
                &path,
                rfs::OFlags::RDONLY | rfs::OFlags::DIRECTORY | rfs::OFlags::CLOEXEC,
                rfs::Mode::empty(),
            )
            .map_err(|e| host_err(&path, e.into()))?;
            let mut listing = rfs::Dir::new(fd).map_err(|e| host_err(&path, e.into()))?;
            entries.clear();
            while let Some(e) = listing.read() {
                let e = e.map_err(|e| host_err(&path, e.into()))?;
                let raw = OsStr::from_bytes(e.file_name().to_bytes());
                if raw == "." || raw == ".." {
                    continue;
                }
                match raw.to_str() {
                    Some(s) => entries.push((s.to_string(), None)),
                    None => {
                        let lossy = raw.to_string_lossy().into_owned();
                        self.warnings.push(format!(
                            "{}: name is not UTF-8; recorded as {lossy:?}",
                            path.join(raw).display()
                        ));
                        entries.push((lossy, Some(raw.to_os_string())));
                    }
                }
            }
            let host_name = |e: &(String, Option<OsString>)| -> Vec<u8> {
                e.1.as_deref()
                    .unwrap_or(OsStr::new(&e.0))
                    .as_bytes()
                    .to_vec()
            };
            entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| host_name(a).cmp(&host_name(b))));
            let dfd = listing.fd().map_err(|e| host_err(&path, e.into()))?;
            for (name, raw) in entries.drain(..) {
                let host = raw.as_deref().unwrap_or(OsStr::new(&name));
                let mut st = HostStat::at(dfd, host, || path.join(host))
                    .map_err(|e| host_err(&path.join(host), e))?;
                if st.kind == HostKind::Symlink && self.opts.follow_links {
                    let full = path.join(host);
                    match fs::metadata(&full) {
                        Ok(m) if m.is_dir() && ancestors.contains(&(m.dev(), m.ino())) => {
                            self.warnings.push(format!(
                                "{}: link to a directory above it; recorded as a link",
                                full.display()
                            ));
                        }
                        Ok(m) => st = HostStat::of(&m),
                        Err(_) => self.warnings.push(format!(
                            "{}: link points nowhere; recorded as a link",
                            full.display()
                        )),
                    }
                }
                match st.kind {
                    HostKind::Dir => {
                        let child = match self.child(id, &name) {
                            Some(c)
                                if matches!(
                                    self.nodes.get(c).map(|n| &n.kind),
                                    Some(Kind::Dir(_))
                                ) =>
                            {
                                self.set_meta(c, st.meta);
                                c
                            }
                            _ => self.add_entry(id, &name, &path.join(host), &st, None)?,
                        };
                        let sub = self.host_dirs.add(Some(hd), host)?;
                        let mut below = Vec::new();
                        if self.opts.follow_links {
                            below.clone_from(&ancestors);
                            below.push(st.id);
                        }
                        stack.push((child, path.join(host), sub, below));
                    }
                    HostKind::File if raw.is_none() => {
                        self.add_entry(id, &name, &path, &st, Some(hd))?;
                    }
                    _ => {
                        self.add_entry(id, &name, &path.join(host), &st, None)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Hard link groups: nodes sharing one host file, keyed by the first
    /// node of each group in tree order.
    pub(crate) fn link_groups(&self, order: &[NodeId]) -> HashMap<NodeId, NodeId> {
        let mut first: HashMap<(u64, u64), NodeId> = HashMap::new();
        let mut group = HashMap::new();
        for &id in order {
            if let Some(k) = self.nodes.get(id).and_then(|n| n.kind.host_id()) {
                let f = *first.entry(k).or_insert(id);
                group.insert(id, f);
            }
        }
        group
    }
}

/// An I/O error on host file `p`, naming it.
pub(crate) fn host_err(p: &Path, e: std::io::Error) -> Error {
    Error::Io {
        source: std::io::Error::new(e.kind(), format!("{}: {e}", p.display())),
        offset: None,
    }
}

/// Host directories, each kept as its parent and its name, so that a large
/// tree does not hold a full path per directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostDirs {
    /// (parent, or [`HostDirs::TOP`] for a path kept whole; start and end
    /// of the name in `names`)
    dirs: Vec<(u32, u32, u32)>,
    names: Vec<u8>,
}

impl HostDirs {
    const TOP: u32 = u32::MAX;

    /// Adds directory `name` of directory `parent` (or the directory at
    /// path `name`); returns its index.
    fn add(&mut self, parent: Option<u32>, name: &OsStr) -> Result<u32> {
        let too_many = || Error::InvalidInput("too many host directories".into());
        let index = u32::try_from(self.dirs.len())
            .ok()
            .filter(|&i| i != Self::TOP)
            .ok_or_else(too_many)?;
        let start = u32::try_from(self.names.len()).map_err(|_| too_many())?;
        self.names.extend_from_slice(name.as_bytes());
        let end = u32::try_from(self.names.len()).map_err(|_| too_many())?;
        self.dirs.push((parent.unwrap_or(Self::TOP), start, end));
        Ok(index)
    }

    /// The path of directory `d`.
    pub fn path(&self, d: u32) -> Option<PathBuf> {
        let mut parts: Vec<&OsStr> = Vec::new();
        let mut cur = d;
        loop {
            let &(parent, start, end) = self.dirs.get(cur as usize)?;
            parts.push(OsStr::from_bytes(
                self.names.get(start as usize..end as usize)?,
            ));
            if parent == Self::TOP {
                break;
            }
            // Parents come before their children, so the chain ends.
            if parent >= cur {
                return None;
            }
            cur = parent;
        }
        let mut path = PathBuf::from(parts.pop()?);
        while let Some(p) = parts.pop() {
            path.push(p);
        }
        Some(path)
    }
}

/// What a host entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostKind {
    File,
    Dir,
    Symlink,
    Device { block: bool },
    Fifo,
    Socket,
}

/// The attributes of a host entry that the tree records.
struct HostStat {
    kind: HostKind,
    meta: Meta,
    size: u64,
    nlink: u64,
    /// (device, inode)
    id: (u64, u64),
    /// Device major and minor number.
    rdev: (u32, u32),
}

/// A device number as glibc's `makedev` (and so `MetadataExt::dev`) forms it.
fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (u64::from(major), u64::from(minor));
    ((ma & 0xFFFF_F000) << 32) | ((ma & 0xFFF) << 8) | ((mi & 0xFFFF_FF00) << 12) | (mi & 0xFF)
}

impl HostStat {
    fn of(m: &fs::Metadata) -> HostStat {
        let ft = m.file_type();
        let kind = if ft.is_file() {
            HostKind::File
        } else if ft.is_dir() {
            HostKind::Dir
        } else if ft.is_symlink() {
            HostKind::Symlink
        } else if ft.is_block_device() || ft.is_char_device() {
            HostKind::Device {
                block: ft.is_block_device(),
            }
        } else if ft.is_fifo() {
            HostKind::Fifo
        } else {
            HostKind::Socket
        };
        let rdev = m.rdev();
        let major = ((rdev >> 32) & 0xFFFF_F000) as u32 | ((rdev >> 8) & 0xFFF) as u32;
        let minor = ((rdev >> 12) & 0xFFFF_FF00) as u32 | (rdev & 0xFF) as u32;
        HostStat {
            kind,
            meta: meta_of(m),
            size: m.len(),
            nlink: m.nlink(),
            id: (m.dev(), m.ino()),
            rdev: (major, minor),
        }
    }

    /// The entry `name` of the open directory `dir` (at host path `full`),
    /// not following links.
    fn at(
        dir: BorrowedFd<'_>,
        name: &OsStr,
        full: impl FnOnce() -> PathBuf,
    ) -> std::io::Result<HostStat> {
        let flags = rfs::AtFlags::SYMLINK_NOFOLLOW | rfs::AtFlags::STATX_SYNC_AS_STAT;
        let x = match rfs::statx(dir, name, flags, rfs::StatxFlags::BASIC_STATS) {
            Ok(x) => x,
            // No statx (old kernels, some sandboxes): the standard library
            // falls back to stat.
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                return Ok(HostStat::of(&fs::symlink_metadata(full())?));
            }
            Err(e) => return Err(e.into()),
        };
        let mode = u32::from(x.stx_mode);
        let kind = match rfs::FileType::from_raw_mode(mode) {
            rfs::FileType::RegularFile => HostKind::File,
            rfs::FileType::Directory => HostKind::Dir,
            rfs::FileType::Symlink => HostKind::Symlink,
            rfs::FileType::BlockDevice => HostKind::Device { block: true },
            rfs::FileType::CharacterDevice => HostKind::Device { block: false },
            rfs::FileType::Fifo => HostKind::Fifo,
            _ => HostKind::Socket,
        };
        let t = |ts: rfs::StatxTimestamp| Time {
            secs: ts.tv_sec,
            nanos: ts.tv_nsec,
        };
        Ok(HostStat {
            kind,
            meta: Meta {
                perm: mode & 0o7777,
                uid: x.stx_uid,
                gid: x.stx_gid,
                mtime: t(x.stx_mtime),
                atime: t(x.stx_atime),
                ctime: t(x.stx_ctime),
            },
            size: x.stx_size,
            nlink: u64::from(x.stx_nlink),
            id: (makedev(x.stx_dev_major, x.stx_dev_minor), x.stx_ino),
            rdev: (x.stx_rdev_major, x.stx_rdev_minor),
        })
    }
}
