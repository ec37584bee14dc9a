//! Phase 1 of writing: names in every name space, Rock Ridge relocation of
//! deep directories, directory sizes, continuation areas, and the LBA of
//! every block. Nothing is written here; the image size is known at the end.

use std::collections::{BTreeMap, HashMap};

use isoforge_format::ecma119::dirrec::{DirRecordSpec, FileFlags};
use isoforge_format::SECTOR;

use super::boot::BootPlan;
use super::builder::{Builder, FileSource, Kind, Meta, Node, NodeId, RrVersion, Time};
use super::names::{self, Child, Namespace};
use super::rockridge::{self as rr, rr_flag};
use crate::error::{Error, Result};

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
    Child(NodeId),
    /// A relocated directory's placeholder (a file record with CL).
    Placeholder(NodeId),
    /// A relocated directory in the relocation directory (with RE).
    Moved(NodeId),
}

impl Slot {
    fn node(self) -> NodeId {
        match self {
            Slot::Child(n) | Slot::Placeholder(n) | Slot::Moved(n) => n,
        }
    }
}

/// A directory as laid out in one name space.
#[derive(Debug, Clone)]
pub(crate) struct PDir {
    pub node: NodeId,
    /// Physical parent (index into `dirs`).
    pub parent: usize,
    /// Logical parent, when relocated (index into `dirs`).
    pub logical_parent: Option<usize>,
    pub slots: Vec<Slot>,
    pub lba: u32,
    pub size: u32,
    /// Blocks of continuation areas right after the directory's extent.
    pub ce_blocks: u32,
}

/// One name space's hierarchy.
#[derive(Debug, Clone)]
pub(crate) struct NsTree {
    pub joliet: bool,
    pub rock_ridge: bool,
    /// Directories in path-table order.
    pub dirs: Vec<PDir>,
    pub dir_of: HashMap<NodeId, usize>,
    /// Identifier of each node in its (logical) parent.
    pub id: HashMap<NodeId, Vec<u8>>,
    /// Identifier of relocated directories in the relocation directory.
    pub moved_id: HashMap<NodeId, Vec<u8>>,
    pub l_table: u32,
    pub m_table: u32,
    pub table_size: u32,
}

/// A run of file data.
#[derive(Debug, Clone)]
pub(crate) struct Data {
    pub node: NodeId,
    pub lba: u32,
    pub size: u64,
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
    pub(crate) data_lba: HashMap<NodeId, u32>,
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
    pub(crate) warnings: Vec<String>,
    pub(crate) notes: Vec<String>,
}

/// Names changed to fit a name space, as messages, up to a cap.
pub(crate) struct Renames {
    list: Vec<String>,
    cap: usize,
    more: usize,
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

/// Packs records into 2048-byte sectors (no record crosses a sector).
pub(crate) fn pack(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let used = out.len() % SECTOR;
        if used + r.len() > SECTOR {
            out.resize(out.len() + SECTOR - used, 0);
        }
        out.extend_from_slice(r);
    }
    let full = out.len().div_ceil(SECTOR).max(1) * SECTOR;
    out.resize(full, 0);
    out
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
        let offset = self.opts.boot.partition_offset;
        if (1..16).contains(&offset) {
            return Err(Error::InvalidInput(format!(
                "a partition offset of {offset} blocks is too small: use 0 (none) or 16 and more, so that the partition starts past the 16-block system area that holds the MBR and GPT"
            )));
        }
        let epoch = self.opts.source_date_epoch;
        if let Some(e) = epoch {
            let clamp = |t: &mut Time| {
                if t.secs > e || (t.secs == e && t.nanos > 0) {
                    *t = Time { secs: e, nanos: 0 };
                }
            };
            for n in &mut self.nodes {
                // Access and change times record when the input was last read
                // or touched, not what it is: reproducible output uses the
                // modification time for all three.
                clamp(&mut n.meta.mtime);
                n.meta.atime = n.meta.mtime;
                n.meta.ctime = n.meta.mtime;
            }
        }
        let volume_time = self.nodes.first().map(|r| r.meta.ctime).unwrap_or_default();
        let volume_time = epoch.map_or(volume_time, |e| Time { secs: e, nanos: 0 });
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
                return Err(Error::InvalidInput(format!(
                    "{path} is in the tree already; the EFI System Partition image built from {} goes there (choose another --boot-efi path)",
                    dir.display()
                )));
            }
            let root = self.nodes.first().map(|r| r.meta).unwrap_or_default();
            let esp = super::esp::EspOptions {
                time: volume_time,
                ..super::esp::EspOptions::default()
            };
            let bytes: std::sync::Arc<[u8]> = super::esp::build_esp(&dir, &esp)?.into();
            let meta = Meta {
                perm: 0o444,
                ..root
            };
            self.add_file(&path, FileSource::Bytes(bytes), meta)?;
        }
        // A visible boot catalog is a file of one block in the tree.
        let has_catalog = !self.opts.boot.images.is_empty();
        let catalog_node = if has_catalog && !self.opts.boot.catalog_hidden {
            let path = self.opts.boot.catalog_path.clone();
            if self.lookup(&path).is_some() {
                return Err(Error::InvalidInput(format!(
                    "{path} is in the tree already; choose another --boot-catalog path"
                )));
            }
            let root = self.nodes.first().map(|r| r.meta).unwrap_or_default();
            let meta = self.opts.boot.catalog_meta.unwrap_or(Meta {
                perm: 0o444,
                ..root
            });
            let zeros: std::sync::Arc<[u8]> = vec![0u8; SECTOR].into();
            let id = self.add_file(&path, FileSource::Bytes(zeros), meta)?;
            if let Some((iso, joliet)) = self.opts.boot.catalog_ids.clone() {
                self.set_fixed_ids(id, iso, joliet);
            }
            Some(id)
        } else {
            None
        };
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
                    return Err(Error::InvalidInput(format!(
                        "{} is larger than 4 GiB, which needs --iso-level 3 or 4 (multi-extent files)",
                        self.path_of(id)
                    )));
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
        };
        // With Rock Ridge the plain ISO 9660 names are a fallback that is
        // expected to differ: their changes are notes (kept up to a cap), not
        // warnings.
        let mut notes = Renames {
            list: Vec::new(),
            cap: 1000,
            more: 0,
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
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(renamed.list);
        let mut notes = notes
            .list
            .into_iter()
            .chain((notes.more > 0).then(|| format!("... and {} more", notes.more)))
            .collect::<Vec<_>>();
        notes.shrink_to_fit();
        if self.opts.strict_names && !warnings.is_empty() {
            return Err(Error::InvalidInput(format!(
                "names do not fit (--strict-names): {}",
                warnings.join("; ")
            )));
        }
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
            data_lba: HashMap::new(),
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
            notes,
        };
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
                        .map(|n| n.name.as_bytes())
                        .unwrap_or_default();
                    let nb = self
                        .nodes
                        .get(*b)
                        .map(|n| n.name.as_bytes())
                        .unwrap_or_default();
                    nb.cmp(na)
                });
                stack.extend(c);
            }
        }
        out
    }

    fn children(&self, id: NodeId) -> &[NodeId] {
        match self.nodes.get(id).map(|n| &n.kind) {
            Some(Kind::Dir(c)) => c,
            _ => &[],
        }
    }

    fn is_dir(&self, id: NodeId) -> bool {
        matches!(self.nodes.get(id).map(|n| &n.kind), Some(Kind::Dir(_)))
    }

    /// The identifier a node keeps in a name space, if it keeps one.
    fn fixed_id(&self, id: NodeId, joliet: bool) -> Option<&[u8]> {
        let f = self.nodes.get(id)?.fixed.as_ref()?;
        if joliet {
            f.joliet.as_deref()
        } else {
            f.iso.as_deref()
        }
    }

    /// Names one directory's children in a name space, recording renames.
    /// Children that keep identifiers from an image get them (the first of
    /// two equal ones); the others are named around them.
    fn name_children(
        &self,
        ns: Namespace,
        kids: &[NodeId],
        dir: NodeId,
        warnings: &mut Renames,
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
                name: self.nodes.get(k).map_or("", |n| n.name.as_str()),
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
            dir_of: HashMap::new(),
            id: HashMap::new(),
            moved_id: HashMap::new(),
            l_table: 0,
            m_table: 0,
            table_size: 0,
        };
        // Identifiers per logical directory.
        let mut all_dirs = vec![0usize];
        let mut i = 0;
        while let Some(&d) = all_dirs.get(i) {
            i += 1;
            let kids: Vec<NodeId> = self.children(d).to_vec();
            for (k, id) in self.name_children(ns, &kids, d, warnings) {
                t.id.insert(k, id);
                if self.is_dir(k) {
                    all_dirs.push(k);
                }
            }
        }
        // Which directories must move: a plain ECMA-119 tree has 8 levels.
        let relocate = !joliet && self.opts.level < 4 && self.opts.relocate_deep;
        let mut depth: HashMap<NodeId, usize> = HashMap::new();
        depth.insert(0, 1);
        let mut moved: Vec<NodeId> = Vec::new();
        let mut phys_parent: HashMap<NodeId, NodeId> = HashMap::new();
        let mut j = 0;
        let mut queue = vec![0usize];
        let mut rr_moved: Option<NodeId> = None;
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
                if relocate && dd + 1 > MAX_LEVEL {
                    if !rock_ridge {
                        return Err(Error::InvalidInput(format!(
                            "{} is nested deeper than 8 levels, which plain ISO 9660 cannot hold; keep Rock Ridge on (it relocates such directories), or use --iso-level 4",
                            self.path_of(k)
                        )));
                    }
                    let mv = match rr_moved {
                        Some(m) => m,
                        None => {
                            let name =
                                if self.children(0).iter().any(|&c| {
                                    self.nodes.get(c).is_some_and(|n| n.name == "rr_moved")
                                }) {
                                    ".rr_moved"
                                } else {
                                    "rr_moved"
                                };
                            let meta = self.nodes.first().map(|r| r.meta).unwrap_or_default();
                            let id = self.nodes.len();
                            self.nodes.push(Node {
                                name: name.into(),
                                parent: 0,
                                kind: Kind::Dir(Vec::new()),
                                meta,
                                fixed: None,
                            });
                            rr_moved = Some(id);
                            depth.insert(id, 2);
                            id
                        }
                    };
                    moved.push(k);
                    phys_parent.insert(k, mv);
                    depth.insert(k, 3);
                } else {
                    phys_parent.insert(k, d);
                    depth.insert(k, dd + 1);
                }
                queue.push(k);
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
                },
            ) {
                t.id.insert(k, id);
            }
            for (k, id) in self.name_children(ns, &moved, mv, warnings) {
                t.moved_id.insert(k, id);
            }
            phys_parent.insert(mv, 0);
        }
        let moved_set: std::collections::HashSet<NodeId> = moved.iter().copied().collect();
        // Physical slots per directory, sorted by identifier.
        let mut slots: HashMap<NodeId, Vec<(Vec<u8>, Slot)>> = HashMap::new();
        for &d in &all_dirs {
            let list = slots.entry(d).or_default();
            for &k in self.children(d) {
                let id = t.id.get(&k).cloned().unwrap_or_default();
                let s = if moved_set.contains(&k) {
                    Slot::Placeholder(k)
                } else {
                    Slot::Child(k)
                };
                list.push((id, s));
            }
        }
        if let Some(mv) = rr_moved {
            let id = t.id.get(&mv).cloned().unwrap_or_default();
            slots.entry(0).or_default().push((id, Slot::Child(mv)));
            let list: Vec<(Vec<u8>, Slot)> = moved
                .iter()
                .map(|&k| {
                    (
                        t.moved_id.get(&k).cloned().unwrap_or_default(),
                        Slot::Moved(k),
                    )
                })
                .collect();
            slots.insert(mv, list);
        }
        for list in slots.values_mut() {
            list.sort_by(|a, b| names::record_order(&a.0, &b.0, joliet));
        }
        // Directories in path-table order: breadth first over the physical tree.
        t.dirs.push(PDir {
            node: 0,
            parent: 0,
            logical_parent: None,
            slots: Vec::new(),
            lba: 0,
            size: 0,
            ce_blocks: 0,
        });
        t.dir_of.insert(0, 0);
        let mut k = 0;
        while k < t.dirs.len() {
            let node = t.dirs.get(k).map_or(0, |d| d.node);
            let list: Vec<Slot> = slots
                .get(&node)
                .map(|l| l.iter().map(|x| x.1).collect())
                .unwrap_or_default();
            for s in &list {
                if let Slot::Child(c) | Slot::Moved(c) = *s {
                    if self.is_dir(c) {
                        t.dir_of.insert(c, t.dirs.len());
                        t.dirs.push(PDir {
                            node: c,
                            parent: k,
                            logical_parent: None,
                            slots: Vec::new(),
                            lba: 0,
                            size: 0,
                            ce_blocks: 0,
                        });
                    }
                }
            }
            if let Some(d) = t.dirs.get_mut(k) {
                d.slots = list;
            }
            k += 1;
        }
        for &m in &moved {
            let lp = self
                .nodes
                .get(m)
                .map(|n| n.parent)
                .and_then(|p| t.dir_of.get(&p).copied());
            if let Some(d) = t.dir_of.get(&m).copied().and_then(|i| t.dirs.get_mut(i)) {
                d.logical_parent = lp;
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

/// Inputs to one record besides its place.
struct Rec<'a> {
    extent: u32,
    len: u32,
    flags: u8,
    date: [u8; 7],
    name: &'a [u8],
    su: Vec<Vec<u8>>,
}

impl Plan {
    fn node(&self, id: NodeId) -> Option<&Node> {
        self.b.nodes.get(id)
    }

    /// The full Rock Ridge entries for a node's record (without CL/PL/RE).
    fn rr_entries(&self, id: NodeId, name: Option<&str>) -> Vec<Vec<u8>> {
        let Some(n) = self.node(id) else {
            return Vec::new();
        };
        let v112 = self.b.opts.rr_version == RrVersion::V112;
        let mut flags = rr_flag::PX | rr_flag::TF;
        let mut out = Vec::new();
        // Serial numbers in every flavour: readers that find none (libarchive)
        // take the extent as the file's identity and merge files that share
        // one (empty files, --dedup) into hard links.
        let ino = Some(self.ino.get(id).copied().unwrap_or(0));
        out.push(rr::px(
            type_bits(&n.kind) | n.meta.perm,
            self.nlink.get(id).copied().unwrap_or(1),
            n.meta.uid,
            n.meta.gid,
            ino,
        ));
        if let Kind::Device { major, minor, .. } = n.kind {
            out.push(rr::pn(major, minor));
            flags |= rr_flag::PN;
        }
        out.push(rr::tf(n.meta.mtime, n.meta.atime, n.meta.ctime));
        if let Some(name) = name {
            out.extend(rr::nm(name));
            flags |= rr_flag::NM;
        }
        if let Kind::Symlink(t) = &n.kind {
            out.extend(rr::sl(t));
            flags |= rr_flag::SL;
        }
        if let Kind::File {
            zisofs: Some(z), ..
        } = &n.kind
        {
            out.push(rr::zf(z));
        }
        if !v112 {
            out.insert(0, rr::rr(flags));
        }
        out
    }

    fn dir_lba(&self, t: &NsTree, node: NodeId, set: Set) -> (u32, u32) {
        t.dir_of
            .get(&node)
            .and_then(|&i| t.dirs.get(i))
            .map_or((0, 0), |d| (set.meta(d.lba), d.size))
    }

    /// The records of one directory as `set` records them, and for each
    /// record whose system use overflows, the entries that go to
    /// continuation areas.
    #[allow(clippy::type_complexity)]
    pub(crate) fn dir_records(
        &self,
        t: &NsTree,
        d: usize,
        set: Set,
    ) -> Result<(Vec<Vec<u8>>, Vec<((usize, usize, usize), Vec<Vec<u8>>)>)> {
        let dir = t
            .dirs
            .get(d)
            .ok_or_else(|| Error::InvalidInput("directory index out of range".into()))?;
        let rr_on = t.rock_ridge;
        let mut records = Vec::new();
        let mut overflow = Vec::new();
        let meta_date = |id: NodeId| self.node(id).map_or([0; 7], |n| rr::dir_time(n.meta.mtime));
        let (self_lba, self_len) = (set.meta(dir.lba), dir.size);
        let parent = t.dirs.get(dir.parent).unwrap_or(dir);
        // "." and "..".
        let mut dot_su = Vec::new();
        let mut dotdot_su = Vec::new();
        if rr_on {
            if d == 0 {
                dot_su.push(rr::sp());
            }
            dot_su.extend(self.rr_entries(dir.node, None));
            if d == 0 {
                dot_su.push(rr::er(self.b.opts.rr_version));
            }
            if let Some(lp) = dir.logical_parent.and_then(|i| t.dirs.get(i)) {
                dotdot_su.push(rr::link(b"PL", set.meta(lp.lba)));
            }
            dotdot_su.extend(self.rr_entries(parent.node, None));
        }
        let dot = Rec {
            extent: self_lba,
            len: self_len,
            flags: FileFlags::DIRECTORY,
            date: meta_date(dir.node),
            name: &[0],
            su: dot_su,
        };
        let dotdot = Rec {
            extent: set.meta(parent.lba),
            len: parent.size,
            flags: FileFlags::DIRECTORY,
            date: meta_date(parent.node),
            name: &[1],
            su: dotdot_su,
        };
        for (slot, rec) in [(0usize, dot), (1, dotdot)] {
            records.push(self.record(rec, (d, slot, 0), &mut overflow, set)?);
        }
        for (i, s) in dir.slots.iter().enumerate() {
            let id = s.node();
            let Some(n) = self.node(id) else { continue };
            let ident: &[u8] = match s {
                Slot::Moved(_) => t.moved_id.get(&id).map(Vec::as_slice).unwrap_or_default(),
                _ => t.id.get(&id).map(Vec::as_slice).unwrap_or_default(),
            };
            let date = rr::dir_time(n.meta.mtime);
            let slot = i + 2;
            let mut su = Vec::new();
            let first = records.len();
            let hidden =
                n.fixed
                    .as_ref()
                    .is_some_and(|f| if t.joliet { f.hidden.1 } else { f.hidden.0 });
            match (s, &n.kind) {
                (Slot::Placeholder(_), _) => {
                    let (lba, _) = self.dir_lba(t, id, set);
                    if rr_on {
                        su.push(rr::link(b"CL", lba));
                        su.extend(self.rr_entries(id, Some(&n.name)));
                        patch_rr_flag(&mut su, rr_flag::CL);
                    }
                    records.push(self.record(
                        Rec {
                            extent: lba,
                            len: 0,
                            flags: 0,
                            date,
                            name: ident,
                            su,
                        },
                        (d, slot, 0),
                        &mut overflow,
                        set,
                    )?);
                }
                (Slot::Moved(_), _) | (Slot::Child(_), Kind::Dir(_)) => {
                    let (lba, len) = self.dir_lba(t, id, set);
                    if rr_on {
                        if matches!(s, Slot::Moved(_)) {
                            su.push(rr::re());
                        }
                        su.extend(self.rr_entries(id, Some(&n.name)));
                        if matches!(s, Slot::Moved(_)) {
                            patch_rr_flag(&mut su, rr_flag::RE);
                        }
                    }
                    records.push(self.record(
                        Rec {
                            extent: lba,
                            len,
                            flags: FileFlags::DIRECTORY,
                            date,
                            name: ident,
                            su,
                        },
                        (d, slot, 0),
                        &mut overflow,
                        set,
                    )?);
                }
                (Slot::Child(_), Kind::File { size, .. }) => {
                    let lba = set.data(self.data_lba.get(&id).copied().unwrap_or(self.empty_lba));
                    let sections = size.div_ceil(SECTION).max(1);
                    for sec in 0..sections {
                        let off = sec * SECTION;
                        let len = (size - off.min(*size)).min(SECTION);
                        let last = sec + 1 == sections;
                        let su = if rr_on {
                            self.rr_entries(id, Some(&n.name))
                        } else {
                            Vec::new()
                        };
                        let extent = lba
                            .saturating_add(u32::try_from(off / SECTOR as u64).unwrap_or(u32::MAX));
                        let flags = if last { 0 } else { FileFlags::MULTI_EXTENT };
                        records.push(self.record(
                            Rec {
                                extent,
                                len: u32::try_from(len).unwrap_or(u32::MAX),
                                flags,
                                date,
                                name: ident,
                                su,
                            },
                            (d, slot, sec as usize),
                            &mut overflow,
                            set,
                        )?);
                    }
                }
                (Slot::Child(_), _) => {
                    // Links, devices, FIFOs and sockets: no data.
                    if !rr_on {
                        continue;
                    }
                    let su = self.rr_entries(id, Some(&n.name));
                    records.push(self.record(
                        Rec {
                            extent: set.data(self.empty_lba),
                            len: 0,
                            flags: 0,
                            date,
                            name: ident,
                            su,
                        },
                        (d, slot, 0),
                        &mut overflow,
                        set,
                    )?);
                }
            }
            // The existence flag of files kept hidden in an image read in.
            if hidden {
                for r in records.get_mut(first..).unwrap_or_default() {
                    if let Some(f) = r.get_mut(25) {
                        *f |= FileFlags::HIDDEN;
                    }
                }
            }
        }
        Ok((records, overflow))
    }

    /// Encodes one record as `set` records it; system use that does not fit
    /// goes to a continuation area (planned in `ce_loc`).
    fn record(
        &self,
        r: Rec<'_>,
        key: (usize, usize, usize),
        overflow: &mut Overflow,
        set: Set,
    ) -> Result<Vec<u8>> {
        let pad = usize::from(r.name.len().is_multiple_of(2));
        let avail = 255usize.saturating_sub(33 + r.name.len() + pad);
        let total: usize = r.su.iter().map(Vec::len).sum();
        let mut su: Vec<u8> = Vec::with_capacity(total.min(avail));
        if total <= avail {
            for e in &r.su {
                su.extend_from_slice(e);
            }
        } else {
            // Keep whole entries inline while 28 bytes remain for the CE entry.
            let mut rest = Vec::new();
            let mut inline = true;
            for e in r.su {
                if inline && su.len() + e.len() + 28 <= avail {
                    su.extend_from_slice(&e);
                } else {
                    inline = false;
                    rest.push(e);
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
            .encode(&mut su);
            overflow.push((key, rest));
        }
        let spec = DirRecordSpec {
            ear_len: 0,
            extent: r.extent,
            data_len: r.len,
            recorded: r.date,
            flags: r.flags,
            name: r.name,
            system_use: &su,
        };
        let mut out = Vec::with_capacity(34 + su.len());
        spec.encode(&mut out)
            .map_err(|e| Error::InvalidInput(format!("directory record: {e}")))?;
        Ok(out)
    }

    /// Assigns every LBA.
    fn layout(&mut self, order: &[NodeId]) -> Result<()> {
        // Continuation areas and directory sizes do not depend on LBAs.
        let mut chunks: Vec<CeChunk> = Vec::new();
        let mut loc = HashMap::new();
        let trees: Vec<bool> = std::iter::once(false)
            .chain(self.joliet.as_ref().map(|_| true))
            .collect();
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
                let (records, overflow) = self.dir_records(t, d, Set::FIRST)?;
                let size = u32::try_from(pack(&records).len())
                    .map_err(|_| Error::InvalidInput("directory too large".into()))?;
                let (mut blk, mut off) = (0u32, 0u32);
                for (key, entries) in overflow {
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
            t.dirs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let name_len = if i == 0 {
                        1
                    } else {
                        self.dir_ident(t, d.node).len()
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
                        src: FileSource::Image(d),
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
            .filter_map(|i| self.b.lookup(&i.path))
            .collect();
        dups.retain(|k, v| !patched.contains(k) && !patched.contains(v));
        if let Some(c) = self.catalog_node {
            dups.retain(|k, v| *k != c && *v != c);
        }
        let mut data = Vec::new();
        let mut data_lba = HashMap::new();
        // UEFI boot images go last: their partitions then end where the
        // padding starts, as in xorriso's layouts.
        let efi: Vec<NodeId> = self
            .b
            .opts
            .boot
            .images
            .iter()
            .filter(|i| i.platform == isoforge_format::eltorito::Platform::Efi)
            .filter_map(|i| self.b.lookup(&i.path))
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
                data_lba.insert(id, self.catalog_lba);
                continue;
            }
            let canon = groups
                .get(&id)
                .copied()
                .filter(|&g| g != id)
                .or_else(|| dups.get(&id).copied());
            if let Some(c) = canon.and_then(|c| data_lba.get(&c).copied()) {
                data_lba.insert(id, c);
                continue;
            }
            data.push(Data {
                node: id,
                lba,
                size,
            });
            data_lba.insert(id, lba);
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

    /// The identifier of a directory in its physical parent.
    pub(crate) fn dir_ident<'a>(&'a self, t: &'a NsTree, node: NodeId) -> &'a [u8] {
        t.moved_id
            .get(&node)
            .or_else(|| t.id.get(&node))
            .map(Vec::as_slice)
            .unwrap_or(&[0])
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
            FileSource::Bytes(b) => {
                sink(b)?;
            }
            FileSource::Image(d) => d.stream(sink)?,
            FileSource::Host(p) => {
                let io = |e: std::io::Error| Error::Io {
                    source: std::io::Error::new(e.kind(), format!("{}: {e}", p.display())),
                    offset: None,
                };
                let mut f = std::fs::File::open(p).map_err(io)?;
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

    /// Streams a file's source in chunks, failing if its size changed.
    pub(crate) fn read_source(
        &self,
        id: NodeId,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        let (size, what) = match self.node(id) {
            Some(Node {
                kind: Kind::File { src, size, .. },
                ..
            }) => (
                *size,
                match src {
                    FileSource::Host(p) => p.display().to_string(),
                    FileSource::Bytes(_) | FileSource::Image(_) => self.b.path_of(id),
                },
            ),
            _ => return Ok(0),
        };
        let mut done = 0u64;
        self.read_source_until(id, &mut |chunk| {
            done += chunk.len() as u64;
            if done > size {
                return Err(Error::InvalidInput(format!(
                    "{what} grew while it was being read; no image was written"
                )));
            }
            sink(chunk)?;
            Ok(true)
        })?;
        if done != size {
            return Err(Error::InvalidInput(format!(
                "{what} changed size while it was being read ({size} bytes planned, {done} read); no image was written"
            )));
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
        &self.warnings
    }

    /// Changes to the plain ISO 9660 names of an image with Rock Ridge, whose
    /// readers see the original names (the first thousand).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Sets a flag bit in a record's RR entry (RRIP 1.09), if it has one.
fn patch_rr_flag(su: &mut [Vec<u8>], bit: u8) {
    for e in su.iter_mut() {
        if e.get(..2) == Some(b"RR") {
            if let Some(f) = e.get_mut(4) {
                *f |= bit;
            }
        }
    }
}
