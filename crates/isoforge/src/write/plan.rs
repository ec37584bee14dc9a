//! Phase 1 of writing: names in every name space, Rock Ridge relocation of
//! deep directories, directory sizes, continuation areas, and the LBA of
//! every block. Nothing is written here; the image size is known at the end.

use std::collections::{BTreeMap, HashMap};

use isoforge_format::ecma119::dirrec::{DirRecordSpec, FileFlags};
use isoforge_format::strings::encode_ucs2be;
use isoforge_format::SECTOR;

use super::boot::BootPlan;
use super::builder::{host_err, Builder, FileSource, Kind, Node, NodeId, RrVersion, Src, Time};
use super::names::{self, Child, Namespace};
use super::rockridge::{self as rr, rr_flag, Entries};
use super::times::Stamp;
use crate::error::{Error, Refusal, Reserved, Result};

/// Bytes per multi-extent section: the largest multiple of 2048 below 4 GiB.
pub(crate) const SECTION: u64 = 0xFFFF_F800;
/// Blocks of padding after the data, as mkisofs and xorriso add, so that
/// drives reading ahead past the last file do not fail.
pub(crate) const PAD_BLOCKS: u32 = 150;
/// Deepest directory level (the root is level 1) in a plain ECMA-119 tree.
const MAX_LEVEL: usize = 8;

/// What one directory record of a physical directory stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// An ordinary child.
    Child(u32),
    /// A relocated directory's placeholder (a file record with CL).
    Placeholder(u32),
    /// A relocated directory in the relocation directory (with RE).
    Moved(u32),
}

impl Slot {
    fn node(self) -> NodeId {
        match self {
            Slot::Child(n) | Slot::Placeholder(n) | Slot::Moved(n) => n as NodeId,
        }
    }
}

/// A node id as a slot holds it.
fn slot_id(id: NodeId) -> Result<u32> {
    u32::try_from(id).map_err(|_| Error::InvalidInput("too many files".into()))
}

/// A directory as laid out in one name space.
#[derive(Debug, Clone)]
pub(crate) struct PDir {
    /// The directory's node (a `NodeId`; the fields are small, as a tree
    /// may hold many directories).
    pub node: u32,
    /// Physical parent (index into `dirs`).
    pub parent: u32,
    /// Logical parent, when relocated (index into `dirs`; [`NO_DIR`]: not
    /// relocated).
    pub logical_parent: u32,
    /// The directory's records, as a range of `NsTree::slots`.
    pub first_slot: u32,
    pub slot_count: u32,
    pub lba: u32,
    pub size: u32,
    /// Blocks of continuation areas right after the directory's extent.
    pub ce_blocks: u32,
}

impl PDir {
    fn new(node: NodeId, parent: usize) -> Result<PDir> {
        Ok(PDir {
            node: slot_id(node)?,
            parent: slot_id(parent)?,
            logical_parent: NO_DIR,
            first_slot: 0,
            slot_count: 0,
            lba: 0,
            size: 0,
            ce_blocks: 0,
        })
    }

    /// The directory's node.
    pub fn node(&self) -> NodeId {
        self.node as NodeId
    }
}

/// How a name space's identifiers usually follow from names: those that
/// do are not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Derive {
    /// They do not (ECMA-119 levels 1 to 3: upper case, `;1`).
    No,
    /// The name's UTF-8 bytes (level 4).
    Utf8,
    /// The name in UCS-2BE (Joliet).
    Ucs2,
}

impl Derive {
    fn of(ns: Namespace) -> Derive {
        match ns {
            Namespace::Joliet { .. } => Derive::Ucs2,
            Namespace::Iso9660 { level, .. } if level >= 4 => Derive::Utf8,
            Namespace::Iso9660 { .. } => Derive::No,
        }
    }

    /// Whether `id` is what `name` becomes.
    fn matches(self, name: &str, id: &[u8]) -> bool {
        match self {
            Derive::No => false,
            Derive::Utf8 => name.as_bytes() == id,
            Derive::Ucs2 => {
                let mut units = id.chunks_exact(2);
                name.encode_utf16()
                    .all(|u| units.next() == Some(&u.to_be_bytes()[..]))
                    && units.next().is_none()
                    && units.remainder().is_empty()
            }
        }
    }

    fn append(self, name: &str, out: &mut Vec<u8>) {
        match self {
            Derive::No => {}
            Derive::Utf8 => out.extend_from_slice(name.as_bytes()),
            Derive::Ucs2 => encode_ucs2be(name, out),
        }
    }
}

/// Identifiers of nodes, kept in one buffer but for those that follow from
/// the node's name.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    derive: Derive,
    /// Each identifier kept: a two-byte little-endian header (the length,
    /// and in the top bit [`UTF8_FORM`]), then the bytes.
    bytes: Vec<u8>,
    /// Where each node's identifier starts in `bytes`, or [`ABSENT`] or
    /// [`DERIVED`] (made from the node's name).
    at: Vec<u32>,
}

/// `Ids::at` of a node without identifier.
const ABSENT: u32 = u32::MAX - 1;
/// `Ids::at` of an identifier made from the node's name.
const DERIVED: u32 = u32::MAX;
/// Header bit of a Joliet identifier kept in UTF-8 (half the bytes of
/// UCS-2 for most names).
const UTF8_FORM: u16 = 0x8000;

impl Ids {
    fn new(derive: Derive, nodes: usize) -> Ids {
        Ids {
            derive,
            bytes: Vec::new(),
            at: vec![ABSENT; nodes],
        }
    }

    /// Records `id` as the identifier of `node`, named `name`.
    fn set(&mut self, node: NodeId, name: &str, id: &[u8]) -> Result<()> {
        let at = if self.derive.matches(name, id) {
            DERIVED
        } else {
            let too_many = || Error::InvalidInput("too many names".into());
            let at = u32::try_from(self.bytes.len())
                .ok()
                .filter(|&a| a < ABSENT)
                .ok_or_else(too_many)?;
            let text = (self.derive == Derive::Ucs2)
                .then(|| names::readable_id(id, Namespace::Joliet { long: true }, true))
                .flatten()
                .filter(|t| {
                    let mut again = Vec::with_capacity(id.len());
                    encode_ucs2be(t, &mut again);
                    again == id
                });
            let (flag, kept) = match &text {
                Some(t) => (UTF8_FORM, t.as_bytes()),
                None => (0, id),
            };
            let len = u16::try_from(kept.len())
                .ok()
                .filter(|&l| l < UTF8_FORM)
                .ok_or_else(|| Error::InvalidInput("identifier too long".into()))?;
            self.bytes.extend_from_slice(&(len | flag).to_le_bytes());
            self.bytes.extend_from_slice(kept);
            at
        };
        if self.at.len() <= node {
            self.at.resize(node + 1, ABSENT);
        }
        if let Some(a) = self.at.get_mut(node) {
            *a = at;
        }
        Ok(())
    }

    /// Appends the identifier of `node`, named `name`, to `out`; false if
    /// it has none.
    pub fn append(&self, node: NodeId, name: &str, out: &mut Vec<u8>) -> bool {
        match self.at.get(node).copied() {
            None | Some(ABSENT) => false,
            Some(DERIVED) => {
                self.derive.append(name, out);
                true
            }
            Some(at) => {
                let at = at as usize;
                let head = self
                    .bytes
                    .get(at..at + 2)
                    .and_then(|h| <[u8; 2]>::try_from(h).ok())
                    .map_or(0, u16::from_le_bytes);
                let len = usize::from(head & !UTF8_FORM);
                let kept = self.bytes.get(at + 2..at + 2 + len).unwrap_or_default();
                if head & UTF8_FORM != 0 {
                    encode_ucs2be(std::str::from_utf8(kept).unwrap_or_default(), out);
                } else {
                    out.extend_from_slice(kept);
                }
                true
            }
        }
    }
}

/// No directory: `NsTree::dir_of` of other nodes.
const NO_DIR: u32 = u32::MAX;

/// One name space's hierarchy.
#[derive(Debug, Clone)]
pub(crate) struct NsTree {
    pub joliet: bool,
    pub rock_ridge: bool,
    /// Directories in path-table order.
    pub dirs: Vec<PDir>,
    /// Index into `dirs` of each directory node ([`NO_DIR`] for others).
    pub dir_of: Vec<u32>,
    /// Identifier of each node in its (logical) parent.
    pub id: Ids,
    /// Identifier of relocated directories in the relocation directory.
    pub moved_id: HashMap<NodeId, Vec<u8>>,
    /// The records of every directory, each directory's in one range.
    pub slots: Vec<Slot>,
    pub l_table: u32,
    pub m_table: u32,
    pub table_size: u32,
}

impl NsTree {
    /// Index into `dirs` of a directory node.
    pub fn dir_index(&self, node: NodeId) -> Option<usize> {
        self.dir_of
            .get(node)
            .copied()
            .filter(|&i| i != NO_DIR)
            .map(|i| i as usize)
    }

    /// The records of directory `d`.
    pub fn slots_of(&self, d: &PDir) -> &[Slot] {
        let start = d.first_slot as usize;
        self.slots
            .get(start..start + d.slot_count as usize)
            .unwrap_or_default()
    }
}

/// Files from this size on are copied file to file by the kernel when the
/// image goes to a file, and start at the same offset within a 4 KiB page as
/// their source data, one block of padding before them where needed (see
/// `Plan::page_parity`).
pub(crate) const KERNEL_COPY: u64 = 1 << 20;

/// A run of file data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Data {
    /// The file's node (a `NodeId`, stored small).
    pub node: u32,
    pub lba: u32,
    pub size: u64,
}

impl Data {
    /// The file's node.
    pub fn node(&self) -> NodeId {
        self.node as NodeId
    }
}

/// One set of volume descriptors, path tables and directories, as the LBAs
/// it records see the image.
///
/// An image with a partition offset P (`-partition_offset` in xorriso) holds
/// two sets. The first, with its volume descriptors at block 16, counts
/// blocks from the image's start. The second, with its volume descriptors at
/// block P + 16, counts them from block P: read from there, the partition is
/// an ISO 9660 file system of its own. Both share the file data (which
/// therefore lies at block P or later); the second set's path tables,
/// directories and continuation areas are a copy of the first set's, `shift`
/// blocks further on, that differs only in the LBAs it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Set {
    /// Blocks from the first set's path tables and directories to this set's.
    pub shift: u32,
    /// The block that this set's LBAs count from.
    pub origin: u32,
}

impl Set {
    /// The set every image has.
    pub const FIRST: Set = Set {
        shift: 0,
        origin: 0,
    };

    /// The LBA this set records for a path table, directory or continuation
    /// area block that the plan places at `lba` for the first set.
    pub fn meta(self, lba: u32) -> u32 {
        lba.saturating_add(self.shift).saturating_sub(self.origin)
    }

    /// The LBA this set records for file data (or the boot catalog) at `lba`.
    pub fn data(self, lba: u32) -> u32 {
        lba.saturating_sub(self.origin)
    }
}

/// The complete layout of an image, ready to be written.
#[derive(Debug)]
pub struct Plan {
    pub(crate) b: Builder,
    pub(crate) volume_time: Time,
    pub(crate) ino: Vec<u32>,
    pub(crate) nlink: Vec<u32>,
    pub(crate) iso: NsTree,
    pub(crate) joliet: Option<NsTree>,
    pub(crate) data: Vec<Data>,
    /// LBA of each file's data (0: none; empty files point at `empty_lba`).
    pub(crate) data_lba: Vec<u32>,
    pub(crate) empty_lba: u32,
    /// Continuation areas, placed right after the directory whose records
    /// point at them (libarchive reads images front to back and rejects a
    /// continuation area behind its position).
    pub(crate) ce_loc: HashMap<(usize, usize, usize), (u32, u32, u32)>,
    pub(crate) ce_chunks: Vec<CeChunk>,
    pub(crate) vd_count: u32,
    /// The second set, present with a partition offset.
    pub(crate) second: Option<Set>,
    /// The boot catalog's node, when it is visible in the tree.
    pub(crate) catalog_node: Option<NodeId>,
    /// LBA of the boot catalog (0: no El Torito).
    pub(crate) catalog_lba: u32,
    /// Boot catalog, boot image patches and system area.
    pub(crate) boot: Option<BootPlan>,
    /// Blocks of the ISO 9660 volume (the image may go on past it with
    /// appended partitions).
    pub(crate) total_blocks: u32,
    /// Warnings given as text (the builder's).
    pub(crate) warnings: Vec<String>,
    /// Names that had to change, described on demand.
    pub(crate) renames: Vec<Rename>,
    /// The messages of renames that the tree cannot tell.
    pub(crate) told: Vec<String>,
    /// `warnings` and then `renames`, as text, once asked for.
    pub(crate) described: std::sync::OnceLock<Vec<String>>,
    pub(crate) notes: Vec<String>,
}

/// Names changed to fit a name space, as messages, up to a cap; or, with
/// `later`, kept to be described on demand.
pub(crate) struct Renames {
    list: Vec<String>,
    cap: usize,
    more: usize,
    later: Option<Vec<Rename>>,
    /// The messages of `later` renames that the tree cannot tell.
    told: Vec<String>,
}

/// A name changed to fit a name space. The message is made from the tree
/// when asked for, so that a tree of many long names does not hold a
/// message per name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rename {
    /// The directory (a `NodeId`).
    dir: u32,
    /// The renamed node (a `NodeId`); with [`Why::Told`], the index of the
    /// message in `Renames::told`.
    node: u32,
    ns: Namespace,
    why: Why,
}

/// Why a name changed, as [`names::Renamed::reason`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    TooLong,
    Characters,
    Collision,
    /// The tree cannot tell the change: its message is kept as text.
    Told,
}

impl Why {
    fn of(reason: &str) -> Why {
        match reason {
            names::REASON_TOO_LONG => Why::TooLong,
            names::REASON_CHARACTERS => Why::Characters,
            names::REASON_COLLISION => Why::Collision,
            _ => Why::Told,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Why::TooLong => names::REASON_TOO_LONG,
            Why::Characters => names::REASON_CHARACTERS,
            Why::Collision => names::REASON_COLLISION,
            Why::Told => "",
        }
    }
}

/// One continuation area's entries, and the continuation that follows it.
#[derive(Debug, Clone)]
pub(crate) struct CeChunk {
    /// The ISO directory whose continuation area holds this chunk.
    pub dir: usize,
    pub rel_block: u32,
    pub offset: u32,
    pub bytes: Vec<u8>,
    /// (relative block, offset, length) of the next chunk of the same record.
    pub next: Option<(u32, u32, u32)>,
}

/// POSIX file type bits of a node.
pub(crate) fn type_bits(k: &Kind) -> u32 {
    match k {
        Kind::Dir(_) => 0o040_000,
        Kind::File { .. } => 0o100_000,
        Kind::Symlink(_) => 0o120_000,
        Kind::Device { block: true, .. } => 0o060_000,
        Kind::Device { block: false, .. } => 0o020_000,
        Kind::Fifo => 0o010_000,
        Kind::Socket => 0o140_000,
    }
}

fn blocks(bytes: u64) -> Result<u32> {
    u32::try_from(bytes.div_ceil(SECTOR as u64))
        .map_err(|_| Error::InvalidInput("the image would exceed 8 TiB".into()))
}

/// Buffers for building one directory's records, reused from directory to
/// directory.
#[derive(Debug, Default)]
pub(crate) struct DirBuf {
    /// The records, packed into 2048-byte sectors (no record crosses a
    /// sector), up to the end of the last sector.
    pub bytes: Vec<u8>,
    /// For each record whose system use overflows, the entries that go to
    /// continuation areas.
    pub overflow: Overflow,
    /// The system use entries of the record being built.
    su: Entries,
    /// The system use field of the record being built.
    field: Vec<u8>,
    /// The identifier of the record being built.
    ident: Vec<u8>,
}

impl Builder {
    /// Plans the image: names, relocation, sizes and every LBA.
    pub fn plan(mut self) -> Result<Plan> {
        if !(1..=4).contains(&self.opts.level) {
            return Err(Error::InvalidInput(format!(
                "ISO level {} does not exist; use 1, 2, 3 or 4",
                self.opts.level
            )));
        }
        self.opts.check_text().map_err(Error::Field)?;
        let (joliet_copy, text_warnings) = self.opts.joliet_copy();
        if joliet_copy.is_some() {
            self.opts.joliet_text = joliet_copy;
        }
        self.warnings.extend(text_warnings);
        let offset = self.opts.boot.partition_offset;
        if (1..16).contains(&offset) {
            return Err(Error::InvalidInput(format!(
                "a partition offset of {offset} blocks is too small: use 0 (none) or 16 and more, so that the partition starts past the 16-block system area that holds the MBR and GPT"
            )));
        }
        // The one time rule (see `super::times`).
        let clock = self.clock();
        for n in &mut self.nodes {
            clock.apply(&mut n.meta, n.stamp);
        }
        let volume_time = clock.build_time();
        // What the writer makes below: the root's mode and owner, the build
        // time.
        let made = |root: Option<&Node>, perm: Option<u32>| {
            let mut m = root.map(|r| r.meta).unwrap_or_default();
            m.perm = perm.unwrap_or(m.perm);
            clock.apply(&mut m, Stamp::Made);
            m
        };
        // An EFI System Partition image built from a host directory.
        if let Some(dir) = self.opts.boot.efi_dir.clone() {
            let path = self
                .opts
                .boot
                .images
                .iter()
                .find(|i| i.platform == isoforge_format::eltorito::Platform::Efi)
                .map(|i| i.path.clone())
                .ok_or_else(|| {
                    Error::InvalidInput(
                        "an EFI directory needs a UEFI boot entry to go with".into(),
                    )
                })?;
            if self.lookup(&path).is_some() {
                return Err(Error::Refused(Refusal::PathTaken {
                    path,
                    by: Reserved::EspImage,
                }));
            }
            let esp = super::esp::EspOptions {
                time: volume_time,
                ..super::esp::EspOptions::default()
            };
            let bytes: std::sync::Arc<[u8]> = super::esp::build_esp(&dir, &esp)?.into();
            let meta = made(self.nodes.first(), Some(0o444));
            self.add_file(&path, FileSource::Bytes(bytes), meta)?;
        }
        // Boot images that no directory lists: data of their own.
        for k in 0..self.opts.boot.images.len() {
            let hidden = self.opts.boot.images.get(k).and_then(|i| i.hidden.clone());
            if let Some(data) = hidden {
                let id = self.add_unlisted(data, made(self.nodes.first(), Some(0o444)))?;
                if let Some(i) = self.opts.boot.images.get_mut(k) {
                    i.node = Some(id);
                }
            }
        }
        // A visible boot catalog is a file of one block in the tree.
        let has_catalog = !self.opts.boot.images.is_empty();
        let catalog_node = if has_catalog && !self.opts.boot.catalog_hidden {
            let path = self.opts.boot.catalog_path.clone();
            if self.lookup(&path).is_some() {
                return Err(Error::Refused(Refusal::PathTaken {
                    path,
                    by: Reserved::BootCatalog,
                }));
            }
            let meta = match self.opts.boot.catalog_meta {
                Some(m) => m,
                None => made(self.nodes.first(), Some(0o444)),
            };
            let zeros: std::sync::Arc<[u8]> = vec![0u8; SECTOR].into();
            let id = self.add_file(&path, FileSource::Bytes(zeros), meta)?;
            if let Some((iso, joliet)) = self.opts.boot.catalog_ids.clone() {
                self.set_fixed_ids(id, iso, joliet);
            }
            Some(id)
        } else {
            None
        };
        // Nodes are all added (but the relocation directory, which needs no
        // lookup).
        self.drop_index();
        // Tree order: depth first, children sorted by name.
        let order = self.tree_order();
        // Sizes over 4 GiB need multi-extent files (ISO level 3 and up).
        for &id in &order {
            if let Some(Node {
                kind: Kind::File { size, .. },
                ..
            }) = self.nodes.get(id)
            {
                if *size > SECTION && self.opts.level < 3 {
                    return Err(Error::Refused(Refusal::FileTooLarge {
                        path: self.path_of(id),
                        level: self.opts.level,
                    }));
                }
            }
        }
        // Inode numbers in tree order; hard links share their group's number.
        let groups = self.link_groups(&order);
        let mut ino = vec![0u32; self.nodes.len() + 1];
        let mut nlink = vec![1u32; self.nodes.len() + 1];
        let mut next = 1u32;
        let mut group_size: HashMap<NodeId, u32> = HashMap::new();
        for g in groups.values() {
            *group_size.entry(*g).or_insert(0) += 1;
        }
        for &id in std::iter::once(&0).chain(order.iter()) {
            match groups.get(&id) {
                Some(&first) if first != id => {
                    let i = ino.get(first).copied().unwrap_or(0);
                    if let Some(slot) = ino.get_mut(id) {
                        *slot = i;
                    }
                }
                _ => {
                    if let Some(slot) = ino.get_mut(id) {
                        *slot = next;
                    }
                    next = next.saturating_add(1);
                }
            }
            let n = match self.nodes.get(id).map(|n| &n.kind) {
                Some(Kind::Dir(c)) => {
                    2 + c
                        .iter()
                        .filter(|&&c| {
                            matches!(self.nodes.get(c).map(|n| &n.kind), Some(Kind::Dir(_)))
                        })
                        .count() as u32
                }
                Some(Kind::File { .. }) => groups
                    .get(&id)
                    .and_then(|g| group_size.get(g))
                    .copied()
                    .unwrap_or(1),
                _ => 1,
            };
            if let Some(slot) = nlink.get_mut(id) {
                *slot = n;
            }
        }
        let mut renamed = Renames {
            list: Vec::new(),
            cap: usize::MAX,
            more: 0,
            later: Some(Vec::new()),
            told: Vec::new(),
        };
        // With Rock Ridge the plain ISO 9660 names are a fallback that is
        // expected to differ: their changes are notes (kept up to a cap), not
        // warnings.
        let mut notes = Renames {
            list: Vec::new(),
            cap: 1000,
            more: 0,
            later: None,
            told: Vec::new(),
        };
        let rock_ridge = self.opts.rock_ridge;
        let level = self.opts.level;
        let iso_renames = if rock_ridge { &mut notes } else { &mut renamed };
        let mut iso = self.ns_tree(
            Namespace::Iso9660 {
                level,
                allow_lowercase: false,
            },
            rock_ridge,
            iso_renames,
        )?;
        iso.rock_ridge = rock_ridge;
        let joliet = if self.opts.joliet {
            Some(self.ns_tree(
                Namespace::Joliet {
                    long: self.opts.joliet_long,
                },
                false,
                &mut renamed,
            )?)
        } else {
            None
        };
        let warnings = std::mem::take(&mut self.warnings);
        let mut renames = renamed.later.unwrap_or_default();
        renames.shrink_to_fit();
        let told = renamed.told;
        let mut notes = notes
            .list
            .into_iter()
            .chain((notes.more > 0).then(|| format!("... and {} more", notes.more)))
            .collect::<Vec<_>>();
        notes.shrink_to_fit();
        let strict = self.opts.strict_names && !(warnings.is_empty() && renames.is_empty());
        let vd_count =
            1 + u32::from(has_catalog) + u32::from(level == 4) + u32::from(joliet.is_some()) + 1;
        let mut plan = Plan {
            b: self,
            volume_time,
            ino,
            nlink,
            iso,
            joliet,
            data: Vec::new(),
            data_lba: Vec::new(),
            empty_lba: 0,
            ce_loc: HashMap::new(),
            ce_chunks: Vec::new(),
            vd_count,
            second: None,
            catalog_node,
            catalog_lba: 0,
            boot: None,
            total_blocks: 0,
            warnings,
            renames,
            told,
            described: std::sync::OnceLock::new(),
            notes,
        };
        if strict {
            return Err(Error::Refused(Refusal::NamesDoNotFit(
                plan.warnings().to_vec(),
            )));
        }
        plan.layout(&order)?;
        plan.plan_boot()?;
        Ok(plan)
    }

    fn tree_order(&self) -> Vec<NodeId> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            if id != 0 {
                out.push(id);
            }
            if let Some(Node {
                kind: Kind::Dir(c), ..
            }) = self.nodes.get(id)
            {
                let mut c = c.clone();
                c.sort_by(|a, b| {
                    let na = self
                        .nodes
                        .get(*a)
                        .map(|n| self.node_name(n).as_bytes())
                        .unwrap_or_default();
                    let nb = self
                        .nodes
                        .get(*b)
                        .map(|n| self.node_name(n).as_bytes())
                        .unwrap_or_default();
                    nb.cmp(na)
                });
                stack.extend(c);
            }
        }
        // Data that no directory lists comes after the tree's.
        out.extend_from_slice(&self.unlisted);
        out
    }

    fn children(&self, id: NodeId) -> &[NodeId] {
        match self.nodes.get(id).map(|n| &n.kind) {
            Some(Kind::Dir(c)) => c,
            _ => &[],
        }
    }

    /// Appends the identifier a slot records to `out`.
    fn slot_ident(&self, t: &NsTree, s: Slot, out: &mut Vec<u8>) {
        match s {
            Slot::Moved(_) => out.extend_from_slice(
                t.moved_id
                    .get(&s.node())
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            _ => {
                t.id.append(s.node(), self.name(s.node()), out);
            }
        }
    }

    fn is_dir(&self, id: NodeId) -> bool {
        matches!(self.nodes.get(id).map(|n| &n.kind), Some(Kind::Dir(_)))
    }

    /// The identifier a node keeps in a name space, if it keeps one.
    fn fixed_id(&self, id: NodeId, joliet: bool) -> Option<&[u8]> {
        let f = self.fixed.get(&id)?;
        if joliet {
            f.joliet.as_deref()
        } else {
            f.iso.as_deref()
        }
    }

    /// Names one directory's children in a name space, recording renames.
    /// Children that keep identifiers from an image get them (the first of
    /// two equal ones); the others are named around them.
    ///
    /// With `final_ids`, the identifiers given are the ones the tree keeps
    /// (not those of the root, named again beside the relocation directory,
    /// nor of relocated directories), which rename descriptions can then
    /// refer to.
    fn name_children(
        &self,
        ns: Namespace,
        kids: &[NodeId],
        dir: NodeId,
        warnings: &mut Renames,
        final_ids: bool,
    ) -> Vec<(NodeId, Vec<u8>)> {
        let joliet = matches!(ns, Namespace::Joliet { .. });
        let mut kept: HashMap<NodeId, Vec<u8>> = HashMap::new();
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for &k in kids {
            if let Some(id) = self.fixed_id(k, joliet) {
                if seen.insert(id) {
                    kept.insert(k, id.to_vec());
                }
            }
        }
        let free: Vec<NodeId> = kids
            .iter()
            .copied()
            .filter(|k| !kept.contains_key(k))
            .collect();
        // Kept identifiers take part as names of their own, so that the
        // free children's names avoid them.
        let kept_names: Vec<(String, bool)> = kids
            .iter()
            .filter_map(|k| {
                kept.get(k)
                    .map(|id| (names::decode_id(id, joliet), self.is_dir(*k)))
            })
            .collect();
        let mut children: Vec<Child<'_>> = free
            .iter()
            .map(|&k| Child {
                name: self.name(k),
                is_dir: self.is_dir(k),
            })
            .collect();
        children.extend(kept_names.iter().map(|(n, d)| Child {
            name: n.as_str(),
            is_dir: *d,
        }));
        let (ids, renamed) = names::assign(ns, &children);
        let mut out: Vec<(NodeId, Vec<u8>)> = free.iter().copied().zip(ids).collect();
        out.extend(kept);
        let kept_set: std::collections::HashSet<&str> =
            kept_names.iter().map(|(n, _)| n.as_str()).collect();
        let renamed: Vec<_> = renamed
            .into_iter()
            .filter(|r| !kept_set.contains(r.original.as_str()))
            .collect();
        if renamed.is_empty() {
            return out;
        }
        if let Some(later) = warnings.later.as_mut() {
            // Free children have distinct names: each rename is one of them.
            let by_name: HashMap<&str, usize> = free
                .iter()
                .enumerate()
                .map(|(i, &k)| (self.name(k), i))
                .collect();
            for r in renamed {
                let why = Why::of(r.reason);
                // Kept as a node when its message can be made again from the
                // tree, as it is here.
                let node = by_name
                    .get(r.original.as_str())
                    .and_then(|&i| out.get(i))
                    .filter(|(k, id)| {
                        final_ids
                            && why != Why::Told
                            && names::label(ns) == r.namespace
                            && names::readable_id(id, ns, self.is_dir(*k)).as_deref()
                                == Some(r.assigned.as_str())
                    })
                    .and_then(|&(k, _)| u32::try_from(k).ok());
                let rename = match (node, u32::try_from(dir)) {
                    (Some(node), Ok(dir)) => Rename { dir, node, ns, why },
                    _ => {
                        let base = self.path_of(dir);
                        let sep = if base == "/" { "" } else { "/" };
                        warnings.told.push(format!(
                            "{base}{sep}{}: recorded as {:?} in {} ({})",
                            r.original, r.assigned, r.namespace, r.reason
                        ));
                        Rename {
                            dir: 0,
                            node: u32::try_from(warnings.told.len() - 1).unwrap_or(u32::MAX),
                            ns,
                            why: Why::Told,
                        }
                    }
                };
                later.push(rename);
            }
            return out;
        }
        if warnings.list.len() >= warnings.cap {
            warnings.more += renamed.len();
            return out;
        }
        let base = self.path_of(dir);
        let sep = if base == "/" { "" } else { "/" };
        for r in renamed {
            if warnings.list.len() >= warnings.cap {
                warnings.more += 1;
                continue;
            }
            warnings.list.push(format!(
                "{base}{sep}{}: recorded as {:?} in {} ({})",
                r.original, r.assigned, r.namespace, r.reason
            ));
        }
        out
    }

    /// Builds one name space's physical hierarchy, relocating directories
    /// nested deeper than eight levels when Rock Ridge can present them where
    /// they belong.
    fn ns_tree(
        &mut self,
        ns: Namespace,
        rock_ridge: bool,
        warnings: &mut Renames,
    ) -> Result<NsTree> {
        let joliet = matches!(ns, Namespace::Joliet { .. });
        let mut t = NsTree {
            joliet,
            rock_ridge: false,
            dirs: Vec::new(),
            dir_of: Vec::new(),
            id: Ids::new(Derive::of(ns), self.nodes.len()),
            moved_id: HashMap::new(),
            slots: Vec::new(),
            l_table: 0,
            m_table: 0,
            table_size: 0,
        };
        // Identifiers per logical directory.
        let mut all_dirs = vec![0usize];
        let mut i = 0;
        while let Some(&d) = all_dirs.get(i) {
            i += 1;
            for (k, id) in self.name_children(ns, self.children(d), d, warnings, d != 0) {
                t.id.set(k, self.name(k), &id)?;
                if self.is_dir(k) {
                    all_dirs.push(k);
                }
            }
        }
        // Which directories must move: a plain ECMA-119 tree has 8 levels.
        let relocate = !joliet && self.opts.level < 4 && self.opts.relocate_deep;
        let mut moved: Vec<NodeId> = Vec::new();
        let mut rr_moved: Option<NodeId> = None;
        if relocate {
            // Depth of each directory (the root is level 1), breadth first
            // over the physical tree.
            let mut depth: HashMap<NodeId, usize> = HashMap::new();
            depth.insert(0, 1);
            let mut j = 0;
            let mut queue = vec![0usize];
            while let Some(&d) = queue.get(j) {
                j += 1;
                let dd = depth.get(&d).copied().unwrap_or(1);
                let kids: Vec<NodeId> = self
                    .children(d)
                    .iter()
                    .copied()
                    .filter(|&k| self.is_dir(k))
                    .collect();
                for k in kids {
                    if dd + 1 > MAX_LEVEL {
                        if !rock_ridge {
                            return Err(Error::Refused(Refusal::TooDeep(self.path_of(k))));
                        }
                        if rr_moved.is_none() {
                            let name =
                                if self.children(0).iter().any(|&c| self.name(c) == "rr_moved") {
                                    ".rr_moved"
                                } else {
                                    "rr_moved"
                                };
                            let mut meta = self.nodes.first().map(|r| r.meta).unwrap_or_default();
                            self.clock().apply(&mut meta, Stamp::Made);
                            let id = self.nodes.len();
                            let node = self.new_node(name, 0, Kind::Dir(Vec::new()), meta)?;
                            self.nodes.push(node);
                            rr_moved = Some(id);
                            depth.insert(id, 2);
                        }
                        moved.push(k);
                        depth.insert(k, 3);
                    } else {
                        depth.insert(k, dd + 1);
                    }
                    queue.push(k);
                }
            }
        }
        // The relocation directory gets a name in the root.
        if let Some(mv) = rr_moved {
            let mut root_kids: Vec<NodeId> = self.children(0).to_vec();
            root_kids.push(mv);
            for (k, id) in self.name_children(
                ns,
                &root_kids,
                0,
                &mut Renames {
                    list: Vec::new(),
                    cap: 0,
                    more: 0,
                    later: None,
                    told: Vec::new(),
                },
                false,
            ) {
                t.id.set(k, self.name(k), &id)?;
            }
            for (k, id) in self.name_children(ns, &moved, mv, warnings, false) {
                t.moved_id.insert(k, id);
            }
        }
        let moved_set: std::collections::HashSet<NodeId> = moved.iter().copied().collect();
        t.dir_of = vec![NO_DIR; self.nodes.len()];
        // Directories in path-table order: breadth first over the physical
        // tree; each one's records sorted by identifier.
        t.dirs.push(PDir::new(0, 0)?);
        if let Some(d) = t.dir_of.first_mut() {
            *d = 0;
        }
        let mut list: Vec<Slot> = Vec::new();
        // Each record's identifier, for sorting: (slot, end in `idents`).
        let mut keyed: Vec<(Slot, usize)> = Vec::new();
        let mut idents: Vec<u8> = Vec::new();
        let mut k = 0;
        while k < t.dirs.len() {
            let node = t.dirs.get(k).map_or(0, PDir::node);
            list.clear();
            if Some(node) == rr_moved {
                for &m in &moved {
                    list.push(Slot::Moved(slot_id(m)?));
                }
            } else {
                for &c in self.children(node) {
                    let id = slot_id(c)?;
                    list.push(if moved_set.contains(&c) {
                        Slot::Placeholder(id)
                    } else {
                        Slot::Child(id)
                    });
                }
                if let Some(mv) = rr_moved.filter(|_| node == 0) {
                    list.push(Slot::Child(slot_id(mv)?));
                }
            }
            keyed.clear();
            idents.clear();
            for &s in &list {
                self.slot_ident(&t, s, &mut idents);
                keyed.push((s, idents.len()));
            }
            let ident = |i: usize| -> &[u8] {
                let start = i
                    .checked_sub(1)
                    .and_then(|p| keyed.get(p))
                    .map_or(0, |x| x.1);
                let end = keyed.get(i).map_or(0, |x| x.1);
                idents.get(start..end).unwrap_or_default()
            };
            let mut order: Vec<usize> = (0..keyed.len()).collect();
            order.sort_by(|&a, &b| names::record_order(ident(a), ident(b), joliet));
            for (dst, &o) in list.iter_mut().zip(&order) {
                if let Some(x) = keyed.get(o) {
                    *dst = x.0;
                }
            }
            for s in &list {
                if let Slot::Child(_) | Slot::Moved(_) = *s {
                    let c = s.node();
                    if self.is_dir(c) {
                        let at = u32::try_from(t.dirs.len()).unwrap_or(NO_DIR);
                        if let Some(d) = t.dir_of.get_mut(c) {
                            *d = at;
                        }
                        t.dirs.push(PDir::new(c, k)?);
                    }
                }
            }
            let first = slot_id(t.slots.len())?;
            t.slots.extend_from_slice(&list);
            if let Some(d) = t.dirs.get_mut(k) {
                d.first_slot = first;
                d.slot_count = slot_id(list.len())?;
            }
            k += 1;
        }
        for &m in &moved {
            let lp = self
                .nodes
                .get(m)
                .map(Node::parent)
                .and_then(|p| t.dir_index(p));
            if let Some(d) = t.dir_index(m).and_then(|i| t.dirs.get_mut(i)) {
                d.logical_parent = lp.map_or(Ok(NO_DIR), slot_id)?;
            }
        }
        if t.dirs.len() > usize::from(u16::MAX) {
            return Err(Error::InvalidInput(format!(
                "{} directories exceed the 65535 a path table can number",
                t.dirs.len()
            )));
        }
        Ok(t)
    }
}

/// System use entries that go to continuation areas, per record
/// (directory, slot, multi-extent section).
pub(crate) type Overflow = Vec<((usize, usize, usize), Vec<Vec<u8>>)>;

/// Inputs to one record besides its place and system use.
struct Rec<'a> {
    extent: u32,
    len: u32,
    flags: u8,
    date: [u8; 7],
    name: &'a [u8],
}

impl Plan {
    fn node(&self, id: NodeId) -> Option<&Node> {
        self.b.nodes.get(id)
    }

    /// Appends the full Rock Ridge entries for a node's record (without
    /// CL/PL/RE) to `out`; `extra_flags` go into the RR entry besides those
    /// of the entries written here. `date` is the node's modification time
    /// in the 7-byte form.
    fn rr_entries(
        &self,
        id: NodeId,
        name: Option<&str>,
        extra_flags: u8,
        date: [u8; 7],
        out: &mut Entries,
    ) {
        let Some(n) = self.node(id) else {
            return;
        };
        let v112 = self.b.opts.rr_version == RrVersion::V112;
        let mut flags = rr_flag::PX | rr_flag::TF;
        // RR comes first; its flags are known at the end.
        let rr_at = (!v112).then(|| {
            let at = out.bytes.len();
            out.rr(0);
            at
        });
        // Serial numbers in every flavour: readers that find none (libarchive)
        // take the extent as the file's identity and merge files that share
        // one (empty files, --dedup) into hard links.
        let ino = Some(self.ino.get(id).copied().unwrap_or(0));
        out.px(
            type_bits(&n.kind) | n.meta.perm,
            self.nlink.get(id).copied().unwrap_or(1),
            n.meta.uid,
            n.meta.gid,
            ino,
        );
        if let Kind::Device { major, minor, .. } = n.kind {
            out.pn(major, minor);
            flags |= rr_flag::PN;
        }
        out.tf_from(date, n.meta.mtime, n.meta.atime, n.meta.ctime);
        if let Some(name) = name {
            out.nm(name);
            flags |= rr_flag::NM;
        }
        if let Kind::Symlink(t) = &n.kind {
            out.sl(t);
            flags |= rr_flag::SL;
        }
        if let Some(z) = n.kind.zisofs() {
            out.zf(z);
        }
        if let Some(f) = rr_at.and_then(|at| out.bytes.get_mut(at + 4)) {
            *f = flags | extra_flags;
        }
    }

    fn dir_lba(&self, t: &NsTree, node: NodeId, set: Set) -> (u32, u32) {
        t.dir_index(node)
            .and_then(|i| t.dirs.get(i))
            .map_or((0, 0), |d| (set.meta(d.lba), d.size))
    }

    /// For a file large enough to be copied in the kernel, the parity of
    /// the block its data should start at so that source and image agree on
    /// the offset within a 4 KiB page: even for host files, the parity of the
    /// first extent for data from an image (when it starts on a block).
    fn page_parity(&self, id: NodeId, size: u64) -> Option<u32> {
        if size < KERNEL_COPY {
            return None;
        }
        match &self.node(id)?.kind {
            Kind::File {
                src: Src::Host(_) | Src::InDir(_),
                ..
            } => Some(0),
            Kind::File {
                src: Src::Image(d), ..
            } => {
                let off = d.runs.first()?.0;
                (off % SECTOR as u64 == 0).then_some(((off / SECTOR as u64) % 2) as u32)
            }
            _ => None,
        }
    }

    /// The LBA of a file's data.
    pub(crate) fn data_lba_of(&self, id: NodeId) -> Option<u32> {
        self.data_lba.get(id).copied().filter(|&l| l != 0)
    }

    /// Builds the records of one directory as `set` records them into
    /// `buf.bytes`, and for each record whose system use overflows, the
    /// entries that go to continuation areas into `buf.overflow`.
    pub(crate) fn dir_records(
        &self,
        t: &NsTree,
        d: usize,
        set: Set,
        buf: &mut DirBuf,
    ) -> Result<()> {
        let dir = t
            .dirs
            .get(d)
            .ok_or_else(|| Error::InvalidInput("directory index out of range".into()))?;
        buf.bytes.clear();
        buf.overflow.clear();
        let rr_on = t.rock_ridge;
        let meta_date = |id: NodeId| self.node(id).map_or([0; 7], |n| rr::dir_time(n.meta.mtime));
        let (self_lba, self_len) = (set.meta(dir.lba), dir.size);
        let parent = t.dirs.get(dir.parent as usize).unwrap_or(dir);
        // "." and "..".
        buf.su.clear();
        if rr_on {
            if d == 0 {
                buf.su.sp();
            }
            self.rr_entries(dir.node(), None, 0, meta_date(dir.node()), &mut buf.su);
            if d == 0 {
                buf.su.er(self.b.opts.rr_version);
            }
        }
        let dot = Rec {
            extent: self_lba,
            len: self_len,
            flags: FileFlags::DIRECTORY,
            date: meta_date(dir.node()),
            name: &[0],
        };
        self.record(dot, (d, 0, 0), buf, set)?;
        buf.su.clear();
        if rr_on {
            if let Some(lp) = t.dirs.get(dir.logical_parent as usize) {
                buf.su.link(b"PL", set.meta(lp.lba));
            }
            self.rr_entries(
                parent.node(),
                None,
                0,
                meta_date(parent.node()),
                &mut buf.su,
            );
        }
        let dotdot = Rec {
            extent: set.meta(parent.lba),
            len: parent.size,
            flags: FileFlags::DIRECTORY,
            date: meta_date(parent.node()),
            name: &[1],
        };
        self.record(dotdot, (d, 1, 0), buf, set)?;
        let mut ident = std::mem::take(&mut buf.ident);
        for (i, s) in t.slots_of(dir).iter().enumerate() {
            let id = s.node();
            let Some(n) = self.node(id) else { continue };
            let name = self.b.node_name(n);
            ident.clear();
            self.b.slot_ident(t, *s, &mut ident);
            let ident = ident.as_slice();
            let date = rr::dir_time(n.meta.mtime);
            let slot = i + 2;
            buf.su.clear();
            // The existence flag of files kept hidden in an image read in.
            let hide = match self.b.fixed.get(&id) {
                Some(f) if (if t.joliet { f.hidden.1 } else { f.hidden.0 }) => FileFlags::HIDDEN,
                _ => 0,
            };
            match (s, &n.kind) {
                (Slot::Placeholder(_), _) => {
                    let (lba, _) = self.dir_lba(t, id, set);
                    if rr_on {
                        buf.su.link(b"CL", lba);
                        self.rr_entries(id, Some(name), rr_flag::CL, date, &mut buf.su);
                    }
                    let rec = Rec {
                        extent: lba,
                        len: 0,
                        flags: hide,
                        date,
                        name: ident,
                    };
                    self.record(rec, (d, slot, 0), buf, set)?;
                }
                (Slot::Moved(_), _) | (Slot::Child(_), Kind::Dir(_)) => {
                    let (lba, len) = self.dir_lba(t, id, set);
                    if rr_on {
                        let moved = matches!(s, Slot::Moved(_));
                        if moved {
                            buf.su.re();
                        }
                        let extra = if moved { rr_flag::RE } else { 0 };
                        self.rr_entries(id, Some(name), extra, date, &mut buf.su);
                    }
                    let rec = Rec {
                        extent: lba,
                        len,
                        flags: FileFlags::DIRECTORY | hide,
                        date,
                        name: ident,
                    };
                    self.record(rec, (d, slot, 0), buf, set)?;
                }
                (Slot::Child(_), Kind::File { size, .. }) => {
                    let lba = set.data(self.data_lba_of(id).unwrap_or(self.empty_lba));
                    let sections = size.div_ceil(SECTION).max(1);
                    if rr_on {
                        self.rr_entries(id, Some(name), 0, date, &mut buf.su);
                    }
                    for sec in 0..sections {
                        let off = sec * SECTION;
                        let len = (size - off.min(*size)).min(SECTION);
                        let last = sec + 1 == sections;
                        let extent = lba
                            .saturating_add(u32::try_from(off / SECTOR as u64).unwrap_or(u32::MAX));
                        let flags = hide | if last { 0 } else { FileFlags::MULTI_EXTENT };
                        let rec = Rec {
                            extent,
                            len: u32::try_from(len).unwrap_or(u32::MAX),
                            flags,
                            date,
                            name: ident,
                        };
                        self.record(rec, (d, slot, sec as usize), buf, set)?;
                    }
                }
                (Slot::Child(_), _) => {
                    // Links, devices, FIFOs and sockets: no data.
                    if !rr_on {
                        continue;
                    }
                    self.rr_entries(id, Some(name), 0, date, &mut buf.su);
                    let rec = Rec {
                        extent: set.data(self.empty_lba),
                        len: 0,
                        flags: hide,
                        date,
                        name: ident,
                    };
                    self.record(rec, (d, slot, 0), buf, set)?;
                }
            }
        }
        buf.ident = ident;
        let full = buf.bytes.len().div_ceil(SECTOR).max(1) * SECTOR;
        buf.bytes.resize(full, 0);
        Ok(())
    }

    /// Appends one record, as `set` records it, with the system use entries
    /// in `buf.su`, to `buf.bytes`; entries that do not fit go to a
    /// continuation area (planned in `ce_loc`).
    fn record(
        &self,
        r: Rec<'_>,
        key: (usize, usize, usize),
        buf: &mut DirBuf,
        set: Set,
    ) -> Result<()> {
        let pad = usize::from(r.name.len().is_multiple_of(2));
        let avail = 255usize.saturating_sub(33 + r.name.len() + pad);
        let total = buf.su.bytes.len();
        let su = &mut buf.field;
        su.clear();
        if total <= avail {
            su.extend_from_slice(&buf.su.bytes);
        } else {
            // Keep whole entries inline while 28 bytes remain for the CE entry.
            let mut rest = Vec::new();
            let mut inline = true;
            for e in buf.su.iter() {
                if inline && su.len() + e.len() + 28 <= avail {
                    su.extend_from_slice(e);
                } else {
                    inline = false;
                    rest.push(e.to_vec());
                }
            }
            let (block, offset, len) = self.ce_loc.get(&key).copied().unwrap_or((0, 0, 0));
            let base = self
                .iso
                .dirs
                .get(key.0)
                .map_or(0, |d| d.lba + d.size / SECTOR as u32);
            isoforge_format::susp::Continuation {
                block: set.meta(base + block),
                offset,
                len,
            }
            .encode(su);
            buf.overflow.push((key, rest));
        }
        let spec = DirRecordSpec {
            ear_len: 0,
            extent: r.extent,
            data_len: r.len,
            recorded: r.date,
            flags: r.flags,
            name: r.name,
            system_use: su,
        };
        // No record crosses a sector boundary.
        let len = spec.encoded_len().unwrap_or(0);
        let used = buf.bytes.len() % SECTOR;
        if used + len > SECTOR {
            buf.bytes.resize(buf.bytes.len() + SECTOR - used, 0);
        }
        spec.encode(&mut buf.bytes)
            .map_err(|e| Error::InvalidInput(format!("directory record: {e}")))
    }

    /// Assigns every LBA.
    fn layout(&mut self, order: &[NodeId]) -> Result<()> {
        // Continuation areas and directory sizes do not depend on LBAs.
        let mut chunks: Vec<CeChunk> = Vec::new();
        let mut loc = HashMap::new();
        let trees: Vec<bool> = std::iter::once(false)
            .chain(self.joliet.as_ref().map(|_| true))
            .collect();
        let mut buf = DirBuf::default();
        for &jol in &trees {
            let n = if jol {
                self.joliet.as_ref().map_or(0, |t| t.dirs.len())
            } else {
                self.iso.dirs.len()
            };
            for d in 0..n {
                let t = if jol {
                    self.joliet.as_ref()
                } else {
                    Some(&self.iso)
                };
                let Some(t) = t else { continue };
                self.dir_records(t, d, Set::FIRST, &mut buf)?;
                let size = u32::try_from(buf.bytes.len())
                    .map_err(|_| Error::InvalidInput("directory too large".into()))?;
                let (mut blk, mut off) = (0u32, 0u32);
                for (key, entries) in buf.overflow.drain(..) {
                    // Split into chunks of at most one block each, chained.
                    let mut parts: Vec<Vec<u8>> = vec![Vec::new()];
                    for e in entries {
                        let cur_len = parts.last().map_or(0, Vec::len);
                        if cur_len + e.len() + 28 > SECTOR {
                            parts.push(Vec::new());
                        }
                        if let Some(p) = parts.last_mut() {
                            p.extend_from_slice(&e);
                        }
                    }
                    let mut places = Vec::new();
                    for p in &parts {
                        let need = p.len() as u32 + 28;
                        if off + need > SECTOR as u32 {
                            blk += 1;
                            off = 0;
                        }
                        places.push((blk, off, p.len() as u32));
                        off += need;
                    }
                    for (i, p) in parts.into_iter().enumerate() {
                        let (b, o, _) = places[i];
                        let next = places
                            .get(i + 1)
                            .map(|&(b, o, l)| (b, o, l + u32::from(i + 2 < places.len()) * 28));
                        chunks.push(CeChunk {
                            dir: d,
                            rel_block: b,
                            offset: o,
                            bytes: p,
                            next,
                        });
                    }
                    let (b, o, l) = places[0];
                    loc.insert(key, (b, o, l + u32::from(places.len() > 1) * 28));
                }
                let ce_blocks = if off == 0 && blk == 0 { 0 } else { blk + 1 };
                let t = if jol {
                    self.joliet.as_mut()
                } else {
                    Some(&mut self.iso)
                };
                if let Some(pd) = t.and_then(|t| t.dirs.get_mut(d)) {
                    pd.size = size;
                    pd.ce_blocks = ce_blocks;
                }
            }
        }
        self.ce_loc = loc;
        self.ce_chunks = chunks;
        // Path tables.
        let pt_size = |t: &NsTree| -> u32 {
            let mut ident = Vec::new();
            t.dirs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let name_len = if i == 0 {
                        1
                    } else {
                        ident.clear();
                        self.dir_ident(t, d.node(), &mut ident);
                        ident.len()
                    };
                    (8 + name_len + name_len % 2) as u32
                })
                .sum()
        };
        let mut lba = 16 + self.vd_count;
        let offset = self.b.opts.boot.partition_offset;
        if offset != 0 {
            // The first set's descriptors must end before the second set's.
            if lba > offset.saturating_add(16) {
                return Err(Error::InvalidInput(format!(
                    "a partition offset of {offset} leaves no room for the {} volume descriptors before block {}",
                    self.vd_count,
                    offset.saturating_add(16)
                )));
            }
            lba = offset
                .checked_add(16 + self.second_vd_count())
                .ok_or_else(|| Error::InvalidInput("the image would exceed 8 TiB".into()))?;
        }
        // Path tables and directories of the first set, then (with a
        // partition offset) the same again for the second.
        let meta_start = lba;
        let iso_pt = pt_size(&self.iso);
        let jol_pt = self.joliet.as_ref().map(pt_size);
        let iso_pt_blocks = blocks(iso_pt.into())?;
        self.iso.table_size = iso_pt;
        self.iso.l_table = lba;
        self.iso.m_table = lba + iso_pt_blocks;
        lba += 2 * iso_pt_blocks;
        if let Some(s) = jol_pt {
            let b = blocks(s.into())?;
            if let Some(j) = self.joliet.as_mut() {
                j.table_size = s;
                j.l_table = lba;
                j.m_table = lba + b;
            }
            lba += 2 * b;
        }
        for d in &mut self.iso.dirs {
            d.lba = lba;
            lba += d.size / SECTOR as u32 + d.ce_blocks;
        }
        if let Some(j) = self.joliet.as_mut() {
            for d in &mut j.dirs {
                d.lba = lba;
                lba += d.size / SECTOR as u32;
            }
        }
        if offset != 0 {
            let shift = lba - meta_start;
            self.second = Some(Set {
                shift,
                origin: offset,
            });
            lba = lba
                .checked_add(shift)
                .ok_or_else(|| Error::InvalidInput("the image would exceed 8 TiB".into()))?;
        }
        // The boot catalog comes before the file data.
        if !self.b.opts.boot.images.is_empty() {
            self.catalog_lba = lba;
            lba += 1;
        }
        // File data in tree order; hard links and (with --dedup) identical
        // contents share one extent.
        self.empty_lba = lba;
        let groups = self.b.link_groups(order);
        let mut dups = if self.b.opts.dedup {
            self.find_duplicates(order)?
        } else {
            HashMap::new()
        };
        // Files read from one image extent keep sharing it.
        let mut by_runs: HashMap<&[(u64, u64)], NodeId> = HashMap::new();
        for &id in order {
            if let Some(Node {
                kind:
                    Kind::File {
                        src: Src::Image(d),
                        size,
                        ..
                    },
                ..
            }) = self.b.nodes.get(id)
            {
                if *size > 0 {
                    let first = *by_runs.entry(d.runs.as_slice()).or_insert(id);
                    if first != id {
                        dups.entry(id).or_insert(first);
                    }
                }
            }
        }
        // Boot images that get patched keep extents of their own.
        let patched: Vec<NodeId> = self
            .b
            .opts
            .boot
            .images
            .iter()
            .filter(|i| i.boot_info_table || i.grub2_boot_info)
            .filter_map(|i| self.b.boot_node(i))
            .collect();
        dups.retain(|k, v| !patched.contains(k) && !patched.contains(v));
        if let Some(c) = self.catalog_node {
            dups.retain(|k, v| *k != c && *v != c);
        }
        let mut data = Vec::new();
        let mut data_lba = vec![0u32; self.b.nodes.len()];
        // UEFI boot images go last: their partitions then end where the
        // padding starts, as in xorriso's layouts.
        let efi: Vec<NodeId> = self
            .b
            .opts
            .boot
            .images
            .iter()
            .filter(|i| i.platform == isoforge_format::eltorito::Platform::Efi)
            .filter_map(|i| self.b.boot_node(i))
            .collect();
        let data_order = order
            .iter()
            .filter(|id| !efi.contains(id))
            .chain(order.iter().filter(|id| efi.contains(id)));
        for &id in data_order {
            let Some(Node {
                kind: Kind::File { size, .. },
                ..
            }) = self.node(id)
            else {
                continue;
            };
            let size = *size;
            if size == 0 {
                continue;
            }
            if Some(id) == self.catalog_node {
                if let Some(l) = data_lba.get_mut(id) {
                    *l = self.catalog_lba;
                }
                continue;
            }
            let canon = groups
                .get(&id)
                .copied()
                .filter(|&g| g != id)
                .or_else(|| dups.get(&id).copied());
            if let Some(c) = canon.and_then(|c| data_lba.get(c).copied().filter(|&l| l != 0)) {
                if let Some(l) = data_lba.get_mut(id) {
                    *l = c;
                }
                continue;
            }
            if let Some(parity) = self.page_parity(id, size) {
                // One block of padding keeps a large file's data at the same
                // place within a 4 KiB page as in its source, which the
                // kernel copies faster.
                if lba % 2 != parity {
                    lba = lba.checked_add(1).ok_or_else(|| {
                        Error::InvalidInput("the image would exceed 8 TiB".into())
                    })?;
                }
            }
            data.push(Data {
                node: slot_id(id)?,
                lba,
                size,
            });
            if let Some(l) = data_lba.get_mut(id) {
                *l = lba;
            }
            lba = lba
                .checked_add(blocks(size)?)
                .ok_or_else(|| Error::InvalidInput("the image would exceed 8 TiB".into()))?;
        }
        self.data = data;
        self.data_lba = data_lba;
        self.total_blocks = lba
            .checked_add(PAD_BLOCKS)
            .ok_or_else(|| Error::InvalidInput("the image would exceed 8 TiB".into()))?;
        Ok(())
    }

    /// Volume descriptors of the second set: those of the first but the El
    /// Torito boot record. Firmware finds the boot catalog through the first
    /// set; in the partition, the catalog's absolute LBAs would be wrong.
    pub(crate) fn second_vd_count(&self) -> u32 {
        self.vd_count - u32::from(!self.b.opts.boot.images.is_empty())
    }

    /// Appends the identifier of a directory in its physical parent to
    /// `out`.
    pub(crate) fn dir_ident(&self, t: &NsTree, node: NodeId, out: &mut Vec<u8>) {
        if let Some(m) = t.moved_id.get(&node) {
            out.extend_from_slice(m);
        } else if !t.id.append(node, self.b.name(node), out) {
            out.push(0);
        }
    }

    /// Files with identical contents: each maps to the first in tree order.
    fn find_duplicates(&self, order: &[NodeId]) -> Result<HashMap<NodeId, NodeId>> {
        use sha2::{Digest, Sha256};
        let mut by_size: BTreeMap<u64, Vec<NodeId>> = BTreeMap::new();
        for &id in order {
            if let Some(Node {
                kind: Kind::File { size, .. },
                ..
            }) = self.node(id)
            {
                if *size > 0 {
                    by_size.entry(*size).or_default().push(id);
                }
            }
        }
        let mut out = HashMap::new();
        for ids in by_size.values().filter(|v| v.len() > 1) {
            let mut first: HashMap<[u8; 32], NodeId> = HashMap::new();
            for &id in ids {
                let mut h = Sha256::new();
                self.read_source(id, &mut |chunk| {
                    h.update(chunk);
                    Ok(())
                })?;
                let digest: [u8; 32] = h.finalize().into();
                let f = *first.entry(digest).or_insert(id);
                if f != id {
                    out.insert(id, f);
                }
            }
        }
        Ok(out)
    }

    /// Streams the start of a file's source until `sink` returns false.
    pub(crate) fn read_source_until(
        &self,
        id: NodeId,
        sink: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        use std::io::Read;
        let Some(Node {
            kind: Kind::File { src, size, .. },
            ..
        }) = self.node(id)
        else {
            return Ok(());
        };
        match src {
            Src::Bytes(b) => {
                sink(b)?;
            }
            Src::Image(d) => d.stream(sink)?,
            Src::Host(_) | Src::InDir(_) => {
                let p = self.b.host_path(id).unwrap_or_default();
                let io = |e: std::io::Error| host_err(&p, e);
                let mut f = std::fs::File::open(&p).map_err(io)?;
                let mut buf = vec![0u8; (*size).clamp(1, 1 << 20) as usize];
                loop {
                    let n = f.read(&mut buf).map_err(io)?;
                    if n == 0 || !sink(buf.get(..n).unwrap_or_default())? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// What messages call a file: its host path, or its path in the image.
    pub(crate) fn source_name(&self, id: NodeId) -> String {
        match self.b.host_path(id) {
            Some(p) => p.display().to_string(),
            None => self.b.path_of(id),
        }
    }

    /// Streams a file's source in chunks, failing if its size changed.
    pub(crate) fn read_source(
        &self,
        id: NodeId,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        let size = match self.node(id) {
            Some(Node {
                kind: Kind::File { size, .. },
                ..
            }) => *size,
            _ => return Ok(0),
        };
        let mut done = 0u64;
        self.read_source_until(id, &mut |chunk| {
            done += chunk.len() as u64;
            if done > size {
                return Err(grew(&self.source_name(id)));
            }
            sink(chunk)?;
            Ok(true)
        })?;
        if done != size {
            return Err(changed_size(&self.source_name(id), size, done));
        }
        Ok(done)
    }

    /// Size of the image in bytes (appended partitions included).
    pub fn image_len(&self) -> u64 {
        u64::from(self.total_blocks) * SECTOR as u64
            + self.boot.as_ref().map_or(0, BootPlan::tail_len)
    }

    /// Names that had to be changed to fit a name space, and other warnings.
    pub fn warnings(&self) -> &[String] {
        self.described
            .get_or_init(|| self.warning_texts().collect())
    }

    /// The messages of [`Plan::warnings`], made one at a time (the plan
    /// keeps none).
    pub fn warning_texts(&self) -> impl Iterator<Item = String> + '_ {
        self.warnings
            .iter()
            .cloned()
            .chain(self.renames.iter().map(|r| self.describe(r)))
    }

    /// The message of a rename.
    fn describe(&self, r: &Rename) -> String {
        if r.why == Why::Told {
            return self.told.get(r.node as usize).cloned().unwrap_or_default();
        }
        let (dir, node) = (r.dir as NodeId, r.node as NodeId);
        let base = self.b.path_of(dir);
        let sep = if base == "/" { "" } else { "/" };
        let t = match r.ns {
            Namespace::Joliet { .. } => self.joliet.as_ref(),
            Namespace::Iso9660 { .. } => Some(&self.iso),
        };
        let name = self.b.name(node);
        let mut id = Vec::new();
        if let Some(t) = t {
            t.id.append(node, name, &mut id);
        }
        let is_dir = matches!(self.node(node).map(|n| &n.kind), Some(Kind::Dir(_)));
        let assigned = names::readable_id(&id, r.ns, is_dir).unwrap_or_default();
        format!(
            "{base}{sep}{name}: recorded as {assigned:?} in {} ({})",
            names::label(r.ns),
            r.why.reason()
        )
    }

    /// Changes to the plain ISO 9660 names of an image with Rock Ridge, whose
    /// readers see the original names (the first thousand).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// The error for a file (`what`) that grew while it was read.
pub(crate) fn grew(what: &str) -> Error {
    Error::InvalidInput(format!(
        "{what} grew while it was being read; no image was written"
    ))
}

/// The error for a file (`what`) of `size` bytes planned of which `done`
/// were read.
pub(crate) fn changed_size(what: &str, size: u64, done: u64) -> Error {
    Error::InvalidInput(format!(
        "{what} changed size while it was being read ({size} bytes planned, {done} read); no image was written"
    ))
}
