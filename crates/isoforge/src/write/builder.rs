//! The tree to write, built from host directories, files and in-memory data.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::read::Zisofs;
use crate::source::ReadAt;

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
    /// Fixed time (seconds since the epoch) for reproducible output: volume
    /// dates, and the upper clamp of every file time.
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
    /// Volume creation, modification, expiration and effective dates, as
    /// recorded (instead of the build time).
    pub volume_times: Option<[Option<crate::IsoTime>; 4]>,
    /// Application use bytes of the primary descriptor (default: spaces).
    pub application_use: Option<Vec<u8>>,
    /// Text fields of the Joliet descriptor, when they differ from the
    /// primary's.
    pub joliet_text: Option<VolumeText>,
    /// Relocate directories nested deeper than eight levels (with Rock
    /// Ridge, at ISO levels 1-3), as ECMA-119 requires; off, they stay
    /// where they are, as xorriso writes them by default.
    pub relocate_deep: bool,
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
            volume_times: None,
            application_use: None,
            joliet_text: None,
            relocate_deep: true,
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

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir(Vec<NodeId>),
    File {
        src: FileSource,
        /// Bytes stored (compressed bytes for zisofs files).
        size: u64,
        host_id: Option<(u64, u64)>,
        /// zisofs parameters of data stored compressed.
        zisofs: Option<Zisofs>,
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

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub parent: NodeId,
    pub kind: Kind,
    pub meta: Meta,
    /// Identifiers kept from an image the node was read from.
    pub fixed: Option<Box<FixedIds>>,
}

/// The tree of an image being built.
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) opts: BuildOptions,
    pub(crate) nodes: Vec<Node>,
    pub(crate) warnings: Vec<String>,
    /// (directory, hash of a child's name) -> child, so that adding to a
    /// directory of many files does not scan it each time.
    index: HashMap<(NodeId, u64), NodeId>,
}

fn name_hash(name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(name)
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
        let now = opts.source_date_epoch.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        let t = Time {
            secs: now,
            nanos: 0,
        };
        let root = Node {
            name: String::new(),
            parent: 0,
            kind: Kind::Dir(Vec::new()),
            meta: Meta {
                perm: 0o755,
                uid: 0,
                gid: 0,
                mtime: t,
                atime: t,
                ctime: t,
            },
            fixed: None,
        };
        Builder {
            opts,
            nodes: vec![root],
            warnings: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &BuildOptions {
        &self.opts
    }

    /// Sets the fixed time used for reproducible output.
    pub fn set_source_date_epoch(&mut self, secs: i64) {
        self.opts.source_date_epoch = Some(secs);
        let t = Time { secs, nanos: 0 };
        if let Some(r) = self.nodes.first_mut() {
            r.meta.mtime = r.meta.mtime.min(t);
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
        match self.index.get(&(dir, name_hash(name))) {
            None => return None,
            Some(&id) if self.nodes.get(id).is_some_and(|n| n.name == name) => return Some(id),
            // Two names with one hash: look through the directory.
            Some(_) => {}
        }
        match &self.nodes.get(dir)?.kind {
            Kind::Dir(c) => c
                .iter()
                .copied()
                .find(|&i| self.nodes.get(i).is_some_and(|n| n.name == name)),
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
                src: FileSource::Image(data),
                size,
                host_id: link.map(|l| (u64::MAX, l)),
                zisofs,
            },
            meta,
        )
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
        if let Some(n) = self.nodes.get_mut(id) {
            n.fixed = Some(Box::new(FixedIds {
                iso,
                joliet,
                hidden: (false, false),
            }));
        }
    }

    /// Keeps the hidden (existence) flag of a node read from an image, in
    /// the ISO 9660 and the Joliet tree.
    pub(crate) fn set_hidden(&mut self, id: NodeId, iso: bool, joliet: bool) {
        if let Some(f) = self.nodes.get_mut(id).and_then(|n| n.fixed.as_mut()) {
            f.hidden = (iso, joliet);
        }
    }

    /// Takes a node out of its directory (with everything below it).
    fn detach(&mut self, id: NodeId) {
        let Some((parent, name)) = self.nodes.get(id).map(|n| (n.parent, n.name.clone())) else {
            return;
        };
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(parent)
        {
            c.retain(|&x| x != id);
        }
        let key = (parent, name_hash(&name));
        if self.index.get(&key) == Some(&id) {
            self.index.remove(&key);
            // Another child whose name has the same hash takes the slot.
            let other = match self.nodes.get(parent).map(|n| &n.kind) {
                Some(Kind::Dir(c)) => c.iter().copied().find(|&x| {
                    self.nodes
                        .get(x)
                        .is_some_and(|n| name_hash(&n.name) == key.1)
                }),
                _ => None,
            };
            if let Some(o) = other {
                self.index.insert(key, o);
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
            up = self.nodes.get(up).map_or(0, |n| n.parent);
        }
        if self.child(parent, name).is_some() {
            return Err(Error::InvalidInput(format!(
                "{to} exists already; remove it first"
            )));
        }
        self.detach(id);
        let renamed = self.nodes.get(id).is_some_and(|n| n.name != name);
        if let Some(n) = self.nodes.get_mut(id) {
            n.name = name.to_string();
            n.parent = parent;
            if renamed {
                n.fixed = None;
            }
        }
        self.index.entry((parent, name_hash(name))).or_insert(id);
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(parent)
        {
            c.push(id);
        }
        Ok(())
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
                src: FileSource::Image(d),
                ..
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
            parts.push(n.name.as_str());
            id = n.parent;
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
        self.index.entry((parent, name_hash(name))).or_insert(id);
        self.nodes.push(Node {
            name: name.to_string(),
            parent,
            kind,
            meta,
            fixed: None,
        });
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(parent)
        {
            c.push(id);
        }
        Ok(id)
    }

    /// The directory at `iso_path`, created (with the root's attributes) if missing.
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
                    let meta = self.nodes.first().map(|r| r.meta).unwrap_or_default();
                    self.push(cur, comp, Kind::Dir(Vec::new()), meta)?
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
        self.push(
            parent,
            name,
            Kind::File {
                src,
                size,
                host_id: None,
                zisofs: None,
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
        let m = fs::symlink_metadata(host).map_err(|e| host_err(host, e))?;
        if m.is_dir() {
            let id = if iso_path.trim_matches('/').is_empty() {
                0
            } else {
                self.mkdir_p(iso_path)?
            };
            if let Some(n) = self.nodes.get_mut(id) {
                n.meta = meta_of(&m);
            }
            self.add_tree_into(id, host)?;
            Ok(id)
        } else {
            let (dir, name) = Self::split(iso_path)?;
            let parent = self.mkdir_p(dir)?;
            self.add_entry(parent, name, host, &m)
        }
    }

    fn add_entry(
        &mut self,
        parent: NodeId,
        name: &str,
        host: &Path,
        m: &fs::Metadata,
    ) -> Result<NodeId> {
        let ft = m.file_type();
        let kind = if ft.is_file() {
            Kind::File {
                src: FileSource::Host(host.to_path_buf()),
                size: m.len(),
                host_id: (m.nlink() > 1).then(|| (m.dev(), m.ino())),
                zisofs: None,
            }
        } else if ft.is_dir() {
            Kind::Dir(Vec::new())
        } else if ft.is_symlink() {
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
        } else if ft.is_block_device() || ft.is_char_device() {
            let rdev = m.rdev();
            let major = ((rdev >> 32) & 0xFFFF_F000) as u32 | ((rdev >> 8) & 0xFFF) as u32;
            let minor = ((rdev >> 12) & 0xFFFF_FF00) as u32 | (rdev & 0xFF) as u32;
            Kind::Device {
                block: ft.is_block_device(),
                major,
                minor,
            }
        } else if ft.is_fifo() {
            Kind::Fifo
        } else {
            Kind::Socket
        };
        self.push(parent, name, kind, meta_of(m))
    }

    fn add_tree_into(&mut self, dir: NodeId, host: &Path) -> Result<()> {
        // Sorted so that the tree, and so the image, do not depend on the
        // order in which the host file system lists directories.
        let mut stack = vec![(dir, host.to_path_buf())];
        while let Some((id, path)) = stack.pop() {
            let mut entries: Vec<(String, PathBuf)> = Vec::new();
            for e in fs::read_dir(&path).map_err(|e| host_err(&path, e))? {
                let e = e.map_err(|e| host_err(&path, e))?;
                let os = e.file_name();
                let name = match os.to_str() {
                    Some(s) => s.to_string(),
                    None => {
                        let lossy = os.to_string_lossy().into_owned();
                        self.warnings.push(format!(
                            "{}: name is not UTF-8; recorded as {lossy:?}",
                            e.path().display()
                        ));
                        lossy
                    }
                };
                entries.push((name, e.path()));
            }
            entries.sort();
            for (name, p) in entries {
                let m = fs::symlink_metadata(&p).map_err(|e| host_err(&p, e))?;
                if m.is_dir() {
                    let child = match self.child(id, &name) {
                        Some(c)
                            if matches!(self.nodes.get(c).map(|n| &n.kind), Some(Kind::Dir(_))) =>
                        {
                            if let Some(n) = self.nodes.get_mut(c) {
                                n.meta = meta_of(&m);
                            }
                            c
                        }
                        _ => self.add_entry(id, &name, &p, &m)?,
                    };
                    stack.push((child, p));
                } else {
                    self.add_entry(id, &name, &p, &m)?;
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
            if let Some(Node {
                kind: Kind::File {
                    host_id: Some(k), ..
                },
                ..
            }) = self.nodes.get(id)
            {
                let f = *first.entry(*k).or_insert(id);
                group.insert(id, f);
            }
        }
        group
    }
}

fn host_err(p: &Path, e: std::io::Error) -> Error {
    Error::Io {
        source: std::io::Error::new(e.kind(), format!("{}: {e}", p.display())),
        offset: None,
    }
}
