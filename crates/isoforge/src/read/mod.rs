//! The image reader: volume descriptors, directory hierarchies in each name
//! space (plain ISO 9660, Joliet, Rock Ridge, ISO 9660:1999, UDF), file
//! contents (multi-extent, interleaved, zisofs, UDF extents), El Torito and
//! the system area.
//!
//! Nothing read from the image is trusted: every offset is computed with
//! checked arithmetic and compared with the image size before a read, every
//! allocation is bounded by [`Limits`], and directory walks are iterative with
//! a visited set, a depth cap and a total work budget.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)
)]

pub(crate) mod dir;
pub(crate) mod file;
mod pathtable;
mod rr;
pub(crate) mod udf;
mod walk;

pub mod boot;
pub mod sysarea;

use isoforge_format::ecma119::volume::{descriptor_kind, volume_structure};
pub use isoforge_format::ecma119::volume::{
    BootRecord, VolumeDescriptor, VolumeDescriptorKind, VolumeStructure,
};
use isoforge_format::ecma119::DirRecord;
use isoforge_format::time::IsoTime;
use isoforge_format::SECTOR;

use crate::error::{Diagnostic, Error, Refusal, Result};
use crate::options::{Limits, ReadOptions, Strictness, View};
use crate::source::ReadAt;

pub use file::{FileReader, ZisofsIndex};
pub use pathtable::PathTableCheck;
pub use udf::{UdfInfo, UdfIntegrity, UdfMap, UdfPartition};
pub use walk::{Dirs, Walk};

/// The kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (Rock Ridge SL).
    Symlink,
    /// A character device (Rock Ridge PN).
    Char,
    /// A block device (Rock Ridge PN).
    Block,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
}

/// A contiguous run of file data in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Extent {
    /// First logical block of the data (after any extended attribute record).
    pub lba: u32,
    /// Length in bytes.
    pub len: u32,
}

/// A piece of a file's data: a byte range of the image, or a run of zeros
/// (UDF extents that are allocated but not recorded, or not allocated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DataRun {
    /// Byte offset in the image; `None` for zeros.
    pub offset: Option<u64>,
    /// Length in bytes.
    pub len: u64,
}

/// Where a UDF entry is recorded, and where its data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdfNode {
    /// Byte offset of its file entry (FE or EFE) in the image.
    pub icb_offset: u64,
    /// Partition reference number of the file entry.
    pub partition: u16,
    /// Logical block of the file entry in that partition.
    pub block: u32,
    /// The UDF unique ID.
    pub unique_id: u64,
    /// A regular file's data, in order (empty for other kinds).
    pub runs: Vec<DataRun>,
}

/// zisofs compression parameters of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Zisofs {
    /// log2 of the compression block size (15..=17).
    pub log2_block_size: u8,
    /// Header size in bytes.
    pub header_size: u32,
    /// Uncompressed size in bytes.
    pub uncompressed_size: u32,
}

/// One file, directory or other entry of a directory hierarchy, as presented
/// in the chosen view.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Full path from the root, `/`-separated, starting with `/`.
    pub path: String,
    /// The last path component.
    pub name: String,
    /// Kind of entry.
    pub file_type: FileType,
    /// Size in bytes (uncompressed for zisofs files).
    pub size: u64,
    /// st_mode from Rock Ridge, or a default (0o555 directories, 0o444 files).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count from Rock Ridge, or 1 (2 for directories).
    pub nlink: u32,
    /// File serial number from Rock Ridge PX (RRIP 1.12), if recorded.
    pub ino: Option<u32>,
    /// Modification time (Rock Ridge TF, else the recording date).
    pub mtime: Option<IsoTime>,
    /// Access time (Rock Ridge TF).
    pub atime: Option<IsoTime>,
    /// Attribute change time (Rock Ridge TF).
    pub ctime: Option<IsoTime>,
    /// Symbolic link target.
    pub target: Option<String>,
    /// Device number (major, minor) of a device node.
    pub rdev: Option<(u32, u32)>,
    /// Where the data is, for ISO 9660 entries (UDF entries keep theirs in
    /// [`Entry::udf`]).
    pub extents: Vec<Extent>,
    /// zisofs parameters, if the file is stored compressed.
    pub zisofs: Option<Zisofs>,
    /// The ISO 9660 hidden (existence) flag.
    pub hidden: bool,
    /// Byte offset of the directory record that describes this entry.
    pub record_offset: u64,
    /// Nesting depth (the root's children have depth 1).
    pub depth: u32,
    /// Rock Ridge sparse-file size (SF), if recorded.
    pub sparse_size: Option<u64>,
    /// For entries of the UDF tree: the file entry and the data runs.
    pub udf: Option<Box<UdfNode>>,
}

impl Entry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Dir
    }

    /// A key that is the same for two entries exactly when they are the same
    /// directory: the first block of an ISO 9660 directory, the file entry
    /// of a UDF one.
    pub(crate) fn dir_key(&self) -> u64 {
        match &self.udf {
            Some(u) => udf_key(u.partition, u.block),
            None => self.extents.first().map_or(0, |x| u64::from(x.lba)),
        }
    }
}

/// The directory key of a UDF file entry (above every ISO 9660 block).
pub(crate) fn udf_key(partition: u16, block: u32) -> u64 {
    (1 << 63) | (u64::from(partition) << 32) | u64::from(block)
}

/// Rock Ridge details of a volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RockRidgeInfo {
    /// The extension identifier from the ER entry, if any.
    pub identifier: Option<String>,
    /// "1.09", "1.10" or "1.12" from the identifier; "unknown" without ER.
    pub version: &'static str,
    /// SUSP SP skip length.
    pub skip: u8,
}

/// One volume descriptor in the volume descriptor set.
#[derive(Debug, Clone, PartialEq)]
pub struct DescriptorEntry {
    /// Sector number.
    pub sector: u32,
    /// Type.
    pub kind: VolumeDescriptorKind,
    /// Parsed contents, for primary / supplementary / enhanced.
    pub volume: Option<VolumeDescriptor>,
    /// Parsed contents, for a boot record.
    pub boot: Option<BootRecord>,
}

/// What an image is, from its descriptors.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// Size of the image file in bytes.
    pub image_size: u64,
    /// Volume identifier of the primary descriptor.
    pub volume_id: String,
    /// Logical block size of the primary volume.
    pub block_size: u32,
    /// Volume space size in logical blocks.
    pub volume_space_size: u32,
    /// The descriptors, in order.
    pub descriptors: Vec<DescriptorEntry>,
    /// ECMA-167 / UDF volume recognition sequence after the terminator.
    pub udf_recognition: Vec<(u32, VolumeStructure)>,
    /// Rock Ridge in the primary tree.
    pub rock_ridge: Option<RockRidgeInfo>,
    /// Joliet level of the first Joliet descriptor.
    pub joliet_level: Option<u8>,
    /// Whether an ISO 9660:1999 enhanced descriptor is present.
    pub enhanced: bool,
    /// El Torito catalog sector, from the boot record.
    pub el_torito_catalog: Option<u32>,
    /// The UDF file system, when one could be read.
    pub udf: Option<UdfInfo>,
}

impl ImageInfo {
    /// The primary volume descriptor.
    pub fn primary(&self) -> Option<&VolumeDescriptor> {
        self.descriptors.iter().find_map(|d| {
            d.volume
                .as_ref()
                .filter(|v| v.kind == VolumeDescriptorKind::Primary)
        })
    }
    /// The first Joliet supplementary descriptor.
    pub fn joliet(&self) -> Option<&VolumeDescriptor> {
        self.descriptors
            .iter()
            .find_map(|d| d.volume.as_ref().filter(|v| v.joliet_level.is_some()))
    }
    /// The enhanced (ISO 9660:1999) descriptor.
    pub fn enhanced_vd(&self) -> Option<&VolumeDescriptor> {
        self.descriptors.iter().find_map(|d| {
            d.volume
                .as_ref()
                .filter(|v| v.kind == VolumeDescriptorKind::Enhanced)
        })
    }
    /// Whether a UDF file system is announced (NSR02 or NSR03).
    pub fn has_udf(&self) -> bool {
        self.udf_recognition
            .iter()
            .any(|(_, v)| matches!(v, VolumeStructure::Nsr02 | VolumeStructure::Nsr03))
    }
}

/// The root of one directory hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tree {
    pub root_lba: u32,
    pub root_len: u32,
    pub joliet: bool,
    pub rock_ridge: bool,
    pub skip: u8,
    /// The UDF hierarchy (the other fields are unused).
    pub udf: bool,
    /// [`Entry::dir_key`] of the root.
    pub root_key: u64,
}

/// The UDF side of an image.
enum UdfState {
    /// No UDF volume is announced.
    Absent,
    Open(Box<udf::Volume>),
    /// Announced, but unreadable: the error is reported when the UDF view is
    /// asked for.
    Failed(Error),
}

/// An open image. Cheap to share between threads: all reads are positional.
pub struct Image<S: ReadAt> {
    src: S,
    info: ImageInfo,
    opts: ReadOptions,
    diagnostics: Vec<Diagnostic>,
    udf: UdfState,
    /// What `View::Auto` stands for, and why; found on first use.
    auto: std::sync::OnceLock<(View, String)>,
}

/// Most volume descriptors read before giving up on finding a terminator.
const MAX_DESCRIPTORS: u32 = 64;

/// The byte offset of a logical block, checked.
pub(crate) fn block_offset(lba: u32, block_size: u32) -> Option<u64> {
    u64::from(lba).checked_mul(u64::from(block_size))
}

impl<S: ReadAt> udf::Disk for Image<S> {
    fn read_at(&self, what: &'static str, off: u64, buf: &mut [u8]) -> Result<()> {
        Image::read_at(self, what, off, buf)
    }
    fn len(&self) -> u64 {
        self.info.image_size
    }
}

impl<S: ReadAt> Image<S> {
    /// Opens an image with default options.
    pub fn open(src: S) -> Result<Self> {
        Self::open_with(src, &ReadOptions::default())
    }

    /// Opens an image: reads and checks the volume descriptor set and the
    /// root directories, and detects the extensions present.
    pub fn open_with(src: S, opts: &ReadOptions) -> Result<Self> {
        let image_size = src.size()?;
        let mut diagnostics = Vec::new();
        let mut descriptors = Vec::new();
        let mut sector = [0u8; SECTOR];
        let mut terminator = None;
        for n in 16..16 + MAX_DESCRIPTORS {
            let off = u64::from(n) * SECTOR as u64;
            if off.saturating_add(SECTOR as u64) > image_size {
                break;
            }
            src.read_exact_at(off, &mut sector)
                .map_err(|e| Error::io_at(e, off))?;
            let kind = match descriptor_kind(&sector) {
                Ok(k) => k,
                Err(e) if n == 16 => {
                    // No ECMA-119 descriptor at all: a UDF-only volume, or
                    // not an image.
                    let vsd = volume_structure(&sector).is_some();
                    return Self::open_udf_only(
                        src,
                        image_size,
                        opts,
                        vsd,
                        Error::format("primary volume descriptor", off, e),
                    );
                }
                Err(e) => {
                    // A descriptor set that ends without a terminator: tolerated
                    // (some writers pad with zeros), reported.
                    diagnostics.push(Diagnostic {
                        offset: off,
                        message: format!("volume descriptor set ends without a terminator ({e})"),
                    });
                    break;
                }
            };
            let mut entry = DescriptorEntry {
                sector: n,
                kind,
                volume: None,
                boot: None,
            };
            match kind {
                VolumeDescriptorKind::Primary
                | VolumeDescriptorKind::Supplementary
                | VolumeDescriptorKind::Enhanced => {
                    let vd = VolumeDescriptor::parse(&sector)
                        .map_err(|e| Error::format("volume descriptor", off, e))?;
                    for (field, m) in &vd.mismatches {
                        if opts.strictness == Strictness::Strict {
                            return Err(Error::corrupt(
                                "volume descriptor",
                                off,
                                format!(
                                    "{field}: little-endian {} and big-endian {} differ",
                                    m.le, m.be
                                ),
                            ));
                        }
                        diagnostics.push(Diagnostic {
                            offset: off,
                            message: format!(
                                "{:?} descriptor: {field} little-endian {} and big-endian {} differ; using {}",
                                kind, m.le, m.be, m.le
                            ),
                        });
                    }
                    for field in &vd.bad_dates {
                        diagnostics.push(Diagnostic {
                            offset: off,
                            message: format!("{kind:?} descriptor: unreadable {field}, ignored"),
                        });
                    }
                    entry.volume = Some(vd);
                }
                VolumeDescriptorKind::BootRecord => {
                    entry.boot = Some(
                        BootRecord::parse(&sector)
                            .map_err(|e| Error::format("boot record", off, e))?,
                    );
                }
                _ => {}
            }
            descriptors.push(entry);
            if kind == VolumeDescriptorKind::Terminator {
                terminator = Some(n);
                break;
            }
        }
        // ECMA-167 volume recognition sequence after the terminator.
        let mut udf_recognition = Vec::new();
        if let Some(t) = terminator {
            for n in t + 1..t + 1 + 16 {
                let off = u64::from(n) * SECTOR as u64;
                if off.saturating_add(SECTOR as u64) > image_size {
                    break;
                }
                src.read_exact_at(off, &mut sector)
                    .map_err(|e| Error::io_at(e, off))?;
                match volume_structure(&sector) {
                    Some(v) if v != VolumeStructure::Cd001 => {
                        udf_recognition.push((n, v));
                        if v == VolumeStructure::Tea01 {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
        let pvd = descriptors
            .iter()
            .find_map(|d| {
                d.volume
                    .as_ref()
                    .filter(|v| v.kind == VolumeDescriptorKind::Primary)
            })
            .ok_or_else(|| {
                Error::corrupt(
                    "volume descriptor set",
                    16 * SECTOR as u64,
                    "no primary volume descriptor",
                )
            })?;
        let block_size = u32::from(pvd.logical_block_size);
        if ![512, 1024, 2048].contains(&block_size) {
            return Err(Error::corrupt(
                "primary volume descriptor",
                16 * SECTOR as u64,
                format!("logical block size {block_size} is not 512, 1024 or 2048"),
            ));
        }
        let volume_bytes = u64::from(pvd.volume_space_size).saturating_mul(u64::from(block_size));
        if volume_bytes > image_size {
            diagnostics.push(Diagnostic {
                offset: 16 * SECTOR as u64 + 80,
                message: format!(
                    "volume space size says {volume_bytes} bytes but the image has only {image_size}: the image may be truncated"
                ),
            });
        }
        // A volume space smaller than the file is normal: hybrid images are
        // padded for USB sticks and partitions are appended after the volume.
        let el_torito_catalog = descriptors
            .iter()
            .find_map(|d| d.boot.as_ref().and_then(|b| b.el_torito_catalog));
        let joliet_level = descriptors
            .iter()
            .find_map(|d| d.volume.as_ref().and_then(|v| v.joliet_level));
        let enhanced = descriptors
            .iter()
            .any(|d| d.kind == VolumeDescriptorKind::Enhanced);
        let info = ImageInfo {
            image_size,
            volume_id: pvd.volume_id.clone(),
            block_size,
            volume_space_size: pvd.volume_space_size,
            descriptors,
            udf_recognition,
            rock_ridge: None,
            joliet_level,
            enhanced,
            el_torito_catalog,
            udf: None,
        };
        let mut img = Image {
            src,
            info,
            opts: *opts,
            diagnostics,
            udf: UdfState::Absent,
            auto: std::sync::OnceLock::new(),
        };
        img.info.rock_ridge = img.detect_rock_ridge(img.info.primary().map(|p| p.root_record))?;
        if img.info.has_udf() {
            let mut diags = Vec::new();
            let disk = udf::RawDisk {
                src: &img.src,
                size: image_size,
            };
            img.udf = match udf::Volume::open(&disk, &opts.limits, &mut diags) {
                Ok(v) => {
                    img.info.udf = Some(v.info.clone());
                    UdfState::Open(Box::new(v))
                }
                Err(e) => {
                    diags.push(Diagnostic {
                        offset: 256 * SECTOR as u64,
                        message: format!("the UDF file system cannot be read: {e}"),
                    });
                    UdfState::Failed(e)
                }
            };
            img.diagnostics.extend(diags);
        }
        Ok(img)
    }

    /// Opens an image without an ECMA-119 volume descriptor set as a UDF
    /// volume. `iso_err` is the error to report when it is not one either
    /// (unless the volume recognition sequence announced one, `vsd`).
    fn open_udf_only(
        src: S,
        image_size: u64,
        opts: &ReadOptions,
        vsd: bool,
        iso_err: Error,
    ) -> Result<Self> {
        let mut diagnostics = Vec::new();
        let disk = udf::RawDisk {
            src: &src,
            size: image_size,
        };
        let vol = match udf::Volume::open(&disk, &opts.limits, &mut diagnostics) {
            Ok(v) => v,
            Err(e) if vsd => return Err(e),
            Err(_) => return Err(iso_err),
        };
        let recognition = udf::recognition(&disk, vol.block)?;
        let block_size = vol.block;
        let info = ImageInfo {
            image_size,
            volume_id: vol.info.logical_volume_id.clone(),
            block_size,
            volume_space_size: u32::try_from(image_size / u64::from(block_size))
                .unwrap_or(u32::MAX),
            descriptors: Vec::new(),
            udf_recognition: recognition,
            rock_ridge: None,
            joliet_level: None,
            enhanced: false,
            el_torito_catalog: None,
            udf: Some(vol.info.clone()),
        };
        Ok(Image {
            src,
            info,
            opts: *opts,
            diagnostics,
            udf: UdfState::Open(Box::new(vol)),
            auto: std::sync::OnceLock::new(),
        })
    }

    /// The UDF volume, or why there is none.
    pub(crate) fn udf_volume(&self) -> Result<&udf::Volume> {
        match &self.udf {
            UdfState::Open(v) => Ok(v),
            UdfState::Failed(e) => Err(e.duplicate()),
            UdfState::Absent => Err(Error::Refused(Refusal::NoSuchView(View::Udf))),
        }
    }

    /// The source the image is read from.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// What the descriptors say.
    pub fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// Tolerated departures from the specifications found while opening.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The options the image was opened with.
    pub fn options(&self) -> &ReadOptions {
        &self.opts
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.opts.limits
    }

    /// Reads `buf.len()` bytes at `offset`, failing with the structure's name
    /// when the range is outside the image.
    pub(crate) fn read_at(&self, what: &'static str, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.info.image_size) {
            return Err(Error::corrupt(
                what,
                offset,
                format!(
                    "{} bytes at this offset lie past the end of the image ({} bytes)",
                    buf.len(),
                    self.info.image_size
                ),
            ));
        }
        self.src
            .read_exact_at(offset, buf)
            .map_err(|e| Error::io_at(e, offset))
    }

    /// Reads a whole extent of `len` bytes at block `lba`, bounded by `cap`.
    pub(crate) fn read_extent(
        &self,
        what: &'static str,
        lba: u32,
        len: u32,
        cap: u32,
    ) -> Result<Vec<u8>> {
        let off = block_offset(lba, self.info.block_size)
            .ok_or_else(|| Error::corrupt(what, 0, format!("extent location {lba} overflows")))?;
        if len > cap {
            return Err(Error::LimitExceeded {
                what,
                value: len.into(),
                limit: cap.into(),
            });
        }
        let len =
            usize::try_from(len).map_err(|_| Error::corrupt(what, off, "extent too large"))?;
        if off.saturating_add(len as u64) > self.info.image_size {
            return Err(Error::corrupt(
                what,
                off,
                format!("extent of {len} bytes at block {lba} lies past the end of the image ({} bytes)", self.info.image_size),
            ));
        }
        let mut buf = vec![0u8; len];
        self.read_at(what, off, &mut buf)?;
        Ok(buf)
    }

    /// Looks at the root's "." record for SUSP SP and a Rock Ridge ER.
    fn detect_rock_ridge(&self, root_record: Option<[u8; 34]>) -> Result<Option<RockRidgeInfo>> {
        let Some(root) = root_record else {
            return Ok(None);
        };
        let root = DirRecord::parse(&root)
            .map_err(|e| Error::format("root directory record", 16 * 2048 + 156, e))?;
        let first =
            self.read_extent("root directory", root.extent, SECTOR as u32, SECTOR as u32)?;
        let root_off = block_offset(root.extent, self.info.block_size).unwrap_or(0);
        let dot = DirRecord::parse(&first)
            .map_err(|e| Error::format("root directory \".\" record", root_off, e))?;
        let su = dot.system_use;
        let Some(skip) = rr::find_sp(su) else {
            return Ok(None);
        };
        let found = rr::collect(self, su, 0, root_off, true, &mut Vec::new())?;
        let known = ["RRIP_1991A", "IEEE_P1282", "IEEE_1282"];
        let er = found
            .extensions
            .iter()
            .find(|e| known.contains(&e.as_str()))
            .cloned();
        if er.is_none() && !found.any_rrip {
            return Ok(None);
        }
        let version = match er.as_deref() {
            Some("RRIP_1991A") => "1.09",
            Some("IEEE_P1282") => "1.12",
            Some("IEEE_1282") => "1.12",
            _ => "unknown",
        };
        Ok(Some(RockRidgeInfo {
            identifier: er,
            version,
            skip,
        }))
    }

    /// The directory hierarchy a view presents.
    pub(crate) fn tree(&self, view: View) -> Result<Tree> {
        let view = self.resolve_view(view)?;
        if view == View::Udf {
            let root = self.udf_volume()?.root();
            return Ok(Tree {
                root_lba: 0,
                root_len: 0,
                joliet: false,
                rock_ridge: false,
                skip: 0,
                udf: true,
                root_key: udf_key(root.partition, root.block),
            });
        }
        let root_of = |vd: &VolumeDescriptor| -> Result<(u32, u32)> {
            let r = DirRecord::parse(&vd.root_record)
                .map_err(|e| Error::format("root directory record", 16 * 2048 + 156, e))?;
            Ok((r.extent.saturating_add(u32::from(r.ear_len)), r.data_len))
        };
        let primary = self.info.primary().ok_or_else(|| {
            if self.info.udf.is_some() {
                Error::Refused(Refusal::OnlyUdf(view))
            } else {
                Error::corrupt(
                    "volume descriptor set",
                    32768,
                    "no primary volume descriptor",
                )
            }
        })?;
        let rr = self.info.rock_ridge.as_ref();
        let (vd, joliet, rock_ridge) = match view {
            View::RockRidge => {
                if rr.is_none() {
                    return Err(Error::Refused(Refusal::NoSuchView(View::RockRidge)));
                }
                (primary, false, true)
            }
            View::Joliet => (
                self.info
                    .joliet()
                    .ok_or(Error::Refused(Refusal::NoSuchView(View::Joliet)))?,
                true,
                false,
            ),
            View::Enhanced => (
                self.info
                    .enhanced_vd()
                    .ok_or(Error::Refused(Refusal::NoSuchView(View::Enhanced)))?,
                false,
                false,
            ),
            _ => (primary, false, false),
        };
        let (root_lba, root_len) = root_of(vd)?;
        Ok(Tree {
            root_lba,
            root_len,
            joliet,
            rock_ridge,
            skip: rr.map_or(0, |r| r.skip),
            udf: false,
            root_key: root_lba.into(),
        })
    }

    /// The concrete view `Auto` stands for on this image.
    pub fn resolve_view(&self, view: View) -> Result<View> {
        Ok(match view {
            View::Auto => self.auto_view().0,
            View::Udf => {
                self.udf_volume()?;
                View::Udf
            }
            v => v,
        })
    }

    /// The view `Auto` stands for, and why, in words.
    ///
    /// The ISO 9660 views keep their order (Rock Ridge, Joliet, ISO
    /// 9660:1999, plain), and a readable UDF file system comes before all
    /// but Rock Ridge. UDF also comes before Rock Ridge when the ISO 9660
    /// tree is only a placeholder (Windows install media), and when the UDF
    /// tree holds an entry the Rock Ridge tree lacks or a file of another
    /// size (a file over 4 GiB that ISO 9660 records modulo 2^32, as
    /// `genisoimage -udf -allow-limited-size` writes it). Without an ISO
    /// 9660 file system, UDF is the only view.
    pub fn auto_view(&self) -> (View, &str) {
        let (v, why) = self.auto.get_or_init(|| self.choose_auto());
        (*v, why.as_str())
    }

    fn choose_auto(&self) -> (View, String) {
        let iso = || {
            if self.info.rock_ridge.is_some() {
                (
                    View::RockRidge,
                    "Rock Ridge extensions are present".to_string(),
                )
            } else if self.info.joliet().is_some() {
                (View::Joliet, "a Joliet tree is present".into())
            } else if self.info.enhanced_vd().is_some() {
                (View::Enhanced, "an ISO 9660:1999 tree is present".into())
            } else {
                (
                    View::Iso9660,
                    "only the plain ISO 9660 tree is present".into(),
                )
            }
        };
        if !matches!(self.udf, UdfState::Open(_)) {
            let (v, why) = iso();
            return match &self.udf {
                UdfState::Failed(_) => (v, format!("{why} (the UDF file system cannot be read)")),
                _ => (v, why),
            };
        }
        if self.info.primary().is_none() {
            return (View::Udf, "the image has no ISO 9660 file system".into());
        }
        if self.udf_stub().unwrap_or(false) {
            return (
                View::Udf,
                "the ISO 9660 tree is only a placeholder for the UDF file system".into(),
            );
        }
        if self.info.rock_ridge.is_none() {
            return (
                View::Udf,
                "UDF is preferred to Joliet and plain ISO 9660 names".into(),
            );
        }
        match self.udf_has_more() {
            Ok(Some(why)) => (View::Udf, why),
            Ok(None) => (
                View::RockRidge,
                "Rock Ridge extensions are present and the UDF tree holds the same files".into(),
            ),
            Err(e) => (
                View::RockRidge,
                format!(
                    "Rock Ridge extensions are present (the UDF tree could not be compared: {e})"
                ),
            ),
        }
    }

    /// Why the UDF tree says more than the Rock Ridge tree, if it does: an
    /// entry missing from Rock Ridge, or a file of another size.
    fn udf_has_more(&self) -> Result<Option<String>> {
        let mut rr = std::collections::HashMap::new();
        for e in self.walk(View::RockRidge)? {
            let e = e?;
            rr.insert(e.path, (e.file_type, e.size));
        }
        // The boot catalog is often hidden from ISO 9660 only.
        let catalog = self
            .info
            .el_torito_catalog
            .map(|c| u64::from(c) * SECTOR as u64);
        for e in self.walk(View::Udf)? {
            let e = e?;
            let first = e.udf.as_ref().and_then(|u| u.runs.first()?.offset);
            if first.is_some() && first == catalog {
                continue;
            }
            match rr.get(&e.path) {
                None => {
                    return Ok(Some(format!(
                        "the UDF tree holds {} which the ISO 9660 tree lacks",
                        e.path
                    )))
                }
                Some(&(t, size))
                    if t == FileType::File && e.file_type == FileType::File && size != e.size =>
                {
                    return Ok(Some(format!(
                        "{} has {} bytes in the UDF tree and {size} in the ISO 9660 tree",
                        e.path, e.size
                    )))
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// The views this image offers.
    pub fn views(&self) -> Vec<View> {
        let mut v = Vec::new();
        if self.info.primary().is_some() {
            v.push(View::Iso9660);
        }
        if self.info.rock_ridge.is_some() {
            v.push(View::RockRidge);
        }
        if self.info.joliet().is_some() {
            v.push(View::Joliet);
        }
        if self.info.enhanced_vd().is_some() {
            v.push(View::Enhanced);
        }
        if matches!(self.udf, UdfState::Open(_)) {
            v.push(View::Udf);
        }
        v
    }

    /// The root directory of a view, as an entry.
    pub fn root(&self, view: View) -> Result<Entry> {
        let tree = self.tree(view)?;
        self.root_entry(&tree)
    }

    /// Every entry of a view, depth first in directory order, parents before
    /// children. Bounded by the limits; a directory loop is an error.
    pub fn walk(&self, view: View) -> Result<Walk<'_, S>> {
        let tree = self.tree(view)?;
        Walk::new(self, tree)
    }

    /// Every entry below directory `dir` (not included), as [`Image::walk`].
    pub fn walk_from(&self, dir: &Entry, view: View) -> Result<Walk<'_, S>> {
        let tree = self.tree(view)?;
        if !dir.is_dir() {
            return Err(Error::NotADirectory(dir.path.clone()));
        }
        Walk::from_dir(self, tree, dir)
    }

    /// A directory-by-directory traversal of a view under one work budget.
    pub fn dirs(&self, view: View) -> Result<Dirs<'_, S>> {
        Ok(Dirs::new(self, self.tree(view)?))
    }

    /// The entries of a directory, sorted by name.
    pub fn read_dir(&self, dir: &Entry, view: View) -> Result<Vec<Entry>> {
        let tree = self.tree(view)?;
        let mut budget = dir::Budget::new(self.limits());
        self.list_dir(&tree, dir, &mut budget)
    }

    /// Finds a path (`/`-separated; `.` and empty components ignored).
    pub fn lookup(&self, path: &str, view: View) -> Result<Entry> {
        let tree = self.tree(view)?;
        let mut cur = self.root_entry(&tree)?;
        let mut budget = dir::Budget::new(self.limits());
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if !cur.is_dir() {
                return Err(Error::NotADirectory(cur.path));
            }
            let mut children = self.list_dir(&tree, &cur, &mut budget)?;
            let exact = children.iter().position(|c| c.name == comp);
            // Plain ISO 9660 names are upper case; let users type either,
            // when the folded name is unambiguous.
            let found = exact.or_else(|| {
                let mut folded = children
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.name.eq_ignore_ascii_case(comp));
                match (folded.next(), folded.next()) {
                    (Some((i, _)), None) if !tree.rock_ridge => Some(i),
                    _ => None,
                }
            });
            cur = match found {
                Some(i) => children.swap_remove(i),
                None => return Err(Error::NotFound(path.to_string())),
            };
        }
        Ok(cur)
    }

    /// Whether the ISO 9660 side is only a placeholder for a UDF file system,
    /// as on Windows install media: UDF is announced, and the ISO 9660 root
    /// holds no directories and a few files that are tiny next to the volume.
    /// When the UDF file system can be read, its root must also hold
    /// names the ISO 9660 root lacks.
    pub fn udf_stub(&self) -> Result<bool> {
        if !self.info.has_udf() || self.info.primary().is_none() {
            return Ok(false);
        }
        let root = self.root(View::Iso9660)?;
        let children = self.read_dir(&root, View::Iso9660)?;
        if children.iter().any(Entry::is_dir) || children.len() > 8 {
            return Ok(false);
        }
        if let UdfState::Open(_) = self.udf {
            let iso: std::collections::HashSet<String> = children
                .iter()
                .map(|e| e.name.to_ascii_lowercase())
                .collect();
            let udf_root = self.root(View::Udf)?;
            let more = self
                .read_dir(&udf_root, View::Udf)?
                .iter()
                .any(|e| !iso.contains(&e.name.to_ascii_lowercase()));
            if !more {
                return Ok(false);
            }
        }
        let bytes: u64 = children.iter().map(|e| e.size).sum();
        let volume =
            u64::from(self.info.volume_space_size).saturating_mul(u64::from(self.info.block_size));
        Ok(bytes.saturating_mul(20) < volume)
    }

    /// Opens a file's contents for reading.
    pub fn open_file(&self, e: &Entry) -> Result<FileReader<'_, S>> {
        FileReader::new(self, e)
    }

    /// Byte ranges `(offset, len)` in the image that hold a file's data, in
    /// order, or `None` if the file is stored compressed (zisofs) or has
    /// runs of zeros that are not recorded (UDF); see [`Image::data_runs`].
    pub fn data_ranges(&self, e: &Entry) -> Result<Option<Vec<(u64, u64)>>> {
        Ok(self.data_runs(e)?.and_then(|runs| {
            runs.into_iter()
                .map(|r| r.offset.map(|o| (o, r.len)))
                .collect()
        }))
    }

    /// The runs that hold a file's data, in order, each checked against
    /// the image size, or `None` if the file is stored compressed (zisofs).
    pub fn data_runs(&self, e: &Entry) -> Result<Option<Vec<DataRun>>> {
        if e.zisofs.is_some() {
            return Ok(None);
        }
        file::ranges(self, e).map(Some)
    }

    /// The block table of a zisofs file, for reading it at any offset one
    /// block at a time; `None` for a file that is not compressed.
    pub fn zisofs_index(&self, e: &Entry) -> Result<Option<ZisofsIndex>> {
        match e.zisofs {
            Some(p) => ZisofsIndex::new(self, e, p, file::ranges(self, e)?).map(Some),
            None => Ok(None),
        }
    }

    /// Reads and cross-checks the L and M path tables of a view against the
    /// directories found by walking it.
    pub fn check_path_tables(&self, view: View) -> Result<PathTableCheck> {
        pathtable::check(self, view)
    }
}
