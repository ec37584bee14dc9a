//! Files of a UDF volume: ICBs (with strategy 4096 indirect entries),
//! allocation descriptors (with allocation extent descriptor chains), file
//! data as runs of the image, symbolic links, and directories of file
//! identifier descriptors presented as [`Entry`] values.

use std::collections::HashSet;

use isoforge_format::time::IsoTime;
use isoforge_format::udf::aed;
use isoforge_format::udf::cs0;
use isoforge_format::udf::ea;
use isoforge_format::udf::fid::Fid;
use isoforge_format::udf::icb::{self, file_type, parse_ads, AdType, FileEntry};
use isoforge_format::udf::path;
use isoforge_format::udf::tag::{self, Tag};
use isoforge_format::udf::{ExtentKind, LbAddr};

use super::map::{push_run, Copy};
use super::{corrupt, Disk, Volume};
use crate::error::{Diagnostic, Error, Result};
use crate::options::Limits;
use crate::read::dir::Budget;
use crate::read::{DataRun, Entry, FileType, UdfNode};

/// A file entry read from an ICB, with what the reader needs of it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Where the (last) file entry of the ICB is.
    pub addr: LbAddr,
    /// Its byte offset in the image.
    pub offset: u64,
    pub file_type: u8,
    pub ad_type: AdType,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (0o7777).
    pub mode: u32,
    pub link_count: u16,
    pub info_len: u64,
    pub atime: Option<IsoTime>,
    pub mtime: Option<IsoTime>,
    pub attr_time: Option<IsoTime>,
    pub unique_id: u64,
    pub streams: bool,
    /// The allocation descriptors, or the data itself when embedded.
    pub ad: Vec<u8>,
    /// Offset of `ad` within the entry.
    pub ad_offset: usize,
    pub rdev: Option<(u32, u32)>,
    pub bad_times: u8,
}

/// An extent named by an allocation descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ext {
    pub kind: ExtentKind,
    pub len: u32,
    pub addr: LbAddr,
}

/// Directory data as read, with where each piece came from.
struct DirData {
    bytes: Vec<u8>,
    /// (offset in `bytes`, logical block of that byte, length): the tag
    /// location of a FID is the logical block holding its first byte.
    pieces: Vec<(u64, LbAddr, u64)>,
    /// (offset in `bytes`, image offset, length).
    runs: Vec<(u64, Option<u64>, u64)>,
}

impl DirData {
    fn block_of(&self, pos: u64, bs: u64) -> Option<u32> {
        let i = self.pieces.partition_point(|p| p.0 + p.2 <= pos);
        let p = self.pieces.get(i).filter(|p| p.0 <= pos)?;
        u32::try_from(u64::from(p.1.block) + (pos - p.0) / bs).ok()
    }
    fn image_offset(&self, pos: u64) -> u64 {
        let i = self.runs.partition_point(|r| r.0 + r.2 <= pos);
        match self.runs.get(i) {
            Some(&(at, Some(off), _)) if at <= pos => off + (pos - at),
            _ => 0,
        }
    }
}

/// A FID name that cannot be a path component.
fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("is \".\" or \"..\"")
    } else if name.contains('/') {
        Some("contains '/'")
    } else if name.contains('\0') {
        Some("contains NUL")
    } else {
        None
    }
}

impl Volume {
    /// Reads one logical block.
    pub(super) fn read_block(
        &self,
        d: &dyn Disk,
        addr: LbAddr,
        copy: Copy,
    ) -> Result<(Vec<u8>, u64)> {
        let off = self.mapper().block_offset(addr, copy)?;
        let mut buf = vec![0u8; usize::try_from(self.block).unwrap_or(2048)];
        d.read_at("UDF descriptor", off, &mut buf)?;
        Ok((buf, off))
    }

    /// Reads the file entry of the ICB at `addr`, following indirect
    /// entries (ECMA-167 4/14.7) and, for strategy 4096, the indirect entry
    /// that may follow a file entry to a newer one.
    pub(super) fn read_icb(
        &self,
        d: &dyn Disk,
        start: LbAddr,
        copy: Copy,
        limits: &Limits,
    ) -> Result<Node> {
        let mut addr = start;
        let mut hops = 0u32;
        let hop = |hops: &mut u32| -> Result<()> {
            *hops += 1;
            if *hops > limits.max_udf_icb_indirections {
                return Err(Error::LimitExceeded {
                    what: "UDF indirect entries followed for one file",
                    value: u64::from(*hops),
                    limit: limits.max_udf_icb_indirections.into(),
                });
            }
            Ok(())
        };
        loop {
            let (buf, off) = self.read_block(d, addr, copy)?;
            let t = Tag::parse(&buf).map_err(|e| corrupt("UDF file entry", off, e))?;
            match t.ident {
                tag::IE => {
                    let to = icb::parse_indirect(&buf, addr.block)
                        .map_err(|e| corrupt("UDF indirect entry", off, e))?;
                    hop(&mut hops)?;
                    addr = to.loc;
                }
                tag::FE | tag::EFE => {
                    let fe = FileEntry::parse(&buf, addr.block)
                        .map_err(|e| corrupt("UDF file entry", off, e))?;
                    if fe.icb.strategy == 4096 {
                        let next = LbAddr {
                            partition: addr.partition,
                            block: addr.block.saturating_add(1),
                        };
                        let newer = self
                            .read_block(d, next, copy)
                            .ok()
                            .and_then(|(b, _)| icb::parse_indirect(&b, next.block).ok())
                            .filter(|to| to.len > 0);
                        if let Some(to) = newer {
                            hop(&mut hops)?;
                            addr = to.loc;
                            continue;
                        }
                    }
                    return Ok(self.node(addr, off, &fe));
                }
                tag::TE => {
                    return Err(Error::corrupt(
                        "UDF file entry",
                        off,
                        "a terminal entry where a file entry was expected",
                    ))
                }
                other => {
                    return Err(Error::corrupt(
                        "UDF file entry",
                        off,
                        format!(
                        "descriptor with tag identifier {other} where a file entry was expected"
                    ),
                    ))
                }
            }
        }
    }

    fn node(&self, addr: LbAddr, offset: u64, fe: &FileEntry<'_>) -> Node {
        let rdev = if matches!(fe.icb.file_type, file_type::BLOCK | file_type::CHAR) {
            ea::device(fe.ea).ok().flatten()
        } else {
            None
        };
        Node {
            addr,
            offset,
            file_type: fe.icb.file_type,
            ad_type: fe.icb.ad_type(),
            uid: fe.uid,
            gid: fe.gid,
            mode: fe.unix_mode(),
            link_count: fe.link_count,
            info_len: fe.info_len,
            atime: fe.atime,
            mtime: fe.mtime,
            attr_time: fe.attr_time,
            unique_id: fe.unique_id,
            streams: fe.stream_dir.len > 0,
            ad: fe.ad.to_vec(),
            ad_offset: fe.ad_offset,
            rdev,
            bad_times: fe.bad_times,
        }
    }

    /// The ICB at `addr`, from the metadata mirror when the main copy of a
    /// metadata partition is bad.
    pub(super) fn icb(
        &self,
        d: &dyn Disk,
        addr: LbAddr,
        limits: &Limits,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<Node> {
        match self.read_icb(d, addr, Copy::Main, limits) {
            Ok(n) => Ok(n),
            Err(e) if self.mapper().has_mirror(addr.partition) => {
                let n = self
                    .read_icb(d, addr, Copy::Mirror, limits)
                    .map_err(|_| e)?;
                diags.push(Diagnostic {
                    offset: n.offset,
                    message: format!(
                        "UDF file entry at metadata block {} read from the metadata mirror",
                        addr.block
                    ),
                });
                Ok(n)
            }
            Err(e) => Err(e),
        }
    }

    /// The extents named by a file entry's allocation descriptors, following
    /// allocation extent descriptors. Empty for embedded data.
    pub(super) fn extents(&self, d: &dyn Disk, n: &Node, limits: &Limits) -> Result<Vec<Ext>> {
        if n.ad_type == AdType::Embedded {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut area = n.ad.clone();
        let mut area_off = n.offset;
        let mut seen = HashSet::new();
        let mut chain = 0u32;
        let cap = usize::try_from(limits.max_extents_per_file).unwrap_or(usize::MAX);
        loop {
            let ads =
                parse_ads(&area, n.ad_type).map_err(|e| corrupt("UDF file entry", area_off, e))?;
            let mut next = None;
            for a in ads {
                let addr = LbAddr {
                    partition: a.partition.unwrap_or(n.addr.partition),
                    block: a.block,
                };
                if a.kind == ExtentKind::Continuation {
                    next = Some(addr);
                    break;
                }
                if out.len() >= cap {
                    return Err(Error::LimitExceeded {
                        what: "extents of one file",
                        value: out.len() as u64 + 1,
                        limit: cap as u64,
                    });
                }
                out.push(Ext {
                    kind: a.kind,
                    len: a.len,
                    addr,
                });
            }
            let Some(next) = next else {
                return Ok(out);
            };
            chain += 1;
            if chain > limits.max_udf_aed_chain {
                return Err(Error::LimitExceeded {
                    what: "UDF allocation extent descriptors followed for one file",
                    value: chain.into(),
                    limit: limits.max_udf_aed_chain.into(),
                });
            }
            if !seen.insert(next) {
                return Err(Error::corrupt(
                    "UDF allocation extent descriptor",
                    area_off,
                    format!(
                        "the allocation descriptors loop back to block {} of partition {}",
                        next.block, next.partition
                    ),
                ));
            }
            let (buf, off) = self.read_block(d, next, Copy::Main)?;
            area = aed::parse(&buf, next.block)
                .map_err(|e| corrupt("UDF allocation extent descriptor", off, e))?
                .to_vec();
            area_off = off;
        }
    }

    /// Where a file's data is: runs of the image (or of zeros) adding up to
    /// its information length.
    pub(super) fn runs_of(&self, d: &dyn Disk, n: &Node, limits: &Limits) -> Result<Vec<DataRun>> {
        if n.ad_type == AdType::Embedded {
            let len = usize::try_from(n.info_len).unwrap_or(usize::MAX);
            if len > n.ad.len() {
                return Err(Error::corrupt(
                    "UDF file entry",
                    n.offset,
                    format!(
                        "{} bytes of data embedded in an area of {}",
                        n.info_len,
                        n.ad.len()
                    ),
                ));
            }
            return Ok(if len == 0 {
                Vec::new()
            } else {
                vec![DataRun {
                    offset: Some(n.offset + n.ad_offset as u64),
                    len: n.info_len,
                }]
            });
        }
        let exts = self.extents(d, n, limits)?;
        let cap = usize::try_from(limits.max_extents_per_file).unwrap_or(usize::MAX);
        let mut runs = Vec::new();
        let mut left = n.info_len;
        let mapper = self.mapper();
        for e in exts {
            if left == 0 {
                break;
            }
            let len = u64::from(e.len).min(left);
            match e.kind {
                ExtentKind::Recorded => {
                    mapper
                        .runs(e.addr, len, Copy::Main, &mut runs, cap)
                        .map_err(|er| relocate(er, n.offset))?;
                }
                _ => push_run(&mut runs, DataRun { offset: None, len }, cap)?,
            }
            left -= len;
        }
        if left > 0 {
            return Err(Error::corrupt(
                "UDF file entry",
                n.offset,
                format!(
                    "the allocation descriptors hold {} bytes, the file {}",
                    n.info_len - left,
                    n.info_len
                ),
            ));
        }
        Ok(runs)
    }

    /// Reads runs into memory, at most `max` bytes.
    pub(super) fn read_runs(
        &self,
        d: &dyn Disk,
        runs: &[DataRun],
        len: u64,
        max: u64,
        what: &'static str,
    ) -> Result<Vec<u8>> {
        if len > max {
            return Err(Error::LimitExceeded {
                what,
                value: len,
                limit: max,
            });
        }
        let mut out = vec![0u8; usize::try_from(len).unwrap_or(0)];
        let mut at = 0usize;
        for r in runs {
            let n = usize::try_from(r.len).unwrap_or(usize::MAX);
            let end = at.saturating_add(n).min(out.len());
            let Some(dst) = out.get_mut(at..end) else {
                break;
            };
            if let Some(off) = r.offset {
                d.read_at(what, off, dst)?;
            }
            at = end;
        }
        Ok(out)
    }

    /// The root directory as an entry.
    pub(crate) fn root_entry(&self, d: &dyn Disk, limits: &Limits) -> Result<Entry> {
        let mut diags = Vec::new();
        let n = self.icb(d, self.root(), limits, &mut diags)?;
        if n.file_type != file_type::DIRECTORY {
            return Err(Error::corrupt(
                "UDF file entry",
                n.offset,
                format!("the root directory's ICB has file type {}", n.file_type),
            ));
        }
        let mut e = self.entry_of(&n, String::new(), "/".into(), 0, n.offset, false);
        e.file_type = FileType::Dir;
        Ok(e)
    }

    fn entry_of(
        &self,
        n: &Node,
        name: String,
        path: String,
        depth: u32,
        record_offset: u64,
        hidden: bool,
    ) -> Entry {
        let (file_type, ifmt) = match n.file_type {
            file_type::DIRECTORY => (FileType::Dir, 0o040_000),
            file_type::SYMLINK => (FileType::Symlink, 0o120_000),
            file_type::BLOCK => (FileType::Block, 0o060_000),
            file_type::CHAR => (FileType::Char, 0o020_000),
            file_type::FIFO => (FileType::Fifo, 0o010_000),
            file_type::SOCKET => (FileType::Socket, 0o140_000),
            _ => (FileType::File, 0o100_000),
        };
        let ino = u32::try_from(n.offset / u64::from(self.block)).ok();
        Entry {
            path,
            name,
            file_type,
            size: n.info_len,
            mode: ifmt | n.mode,
            // ECMA-167 4/14.9.3: all ones means "not specified".
            uid: if n.uid == u32::MAX { 0 } else { n.uid },
            gid: if n.gid == u32::MAX { 0 } else { n.gid },
            nlink: u32::from(n.link_count.max(1)),
            ino,
            mtime: n.mtime,
            atime: n.atime,
            ctime: n.attr_time,
            target: None,
            rdev: n.rdev,
            extents: Vec::new(),
            zisofs: None,
            hidden,
            record_offset,
            depth,
            sparse_size: None,
            udf: Some(Box::new(UdfNode {
                icb_offset: n.offset,
                partition: n.addr.partition,
                block: n.addr.block,
                unique_id: n.unique_id,
                runs: Vec::new(),
            })),
        }
    }

    /// Reads a directory's data.
    fn dir_data(&self, d: &dyn Disk, n: &Node, copy: Copy, limits: &Limits) -> Result<DirData> {
        if n.info_len > u64::from(limits.max_dir_bytes) {
            return Err(Error::LimitExceeded {
                what: "directory size",
                value: n.info_len,
                limit: limits.max_dir_bytes.into(),
            });
        }
        if n.ad_type == AdType::Embedded {
            let len = usize::try_from(n.info_len).unwrap_or(usize::MAX);
            let bytes = n.ad.get(..len).ok_or_else(|| {
                Error::corrupt(
                    "UDF file entry",
                    n.offset,
                    format!(
                        "{} bytes of directory embedded in an area of {}",
                        n.info_len,
                        n.ad.len()
                    ),
                )
            })?;
            return Ok(DirData {
                bytes: bytes.to_vec(),
                pieces: vec![(0, n.addr, n.info_len)],
                runs: vec![(0, Some(n.offset + n.ad_offset as u64), n.info_len)],
            });
        }
        let exts = self.extents(d, n, limits)?;
        let cap = usize::try_from(limits.max_extents_per_file).unwrap_or(usize::MAX);
        let mapper = self.mapper();
        let mut data = DirData {
            bytes: vec![0u8; usize::try_from(n.info_len).unwrap_or(0)],
            pieces: Vec::new(),
            runs: Vec::new(),
        };
        let mut at = 0u64;
        for e in exts {
            if at >= n.info_len {
                break;
            }
            let len = u64::from(e.len).min(n.info_len - at);
            data.pieces.push((at, e.addr, len));
            let mut runs = Vec::new();
            if e.kind == ExtentKind::Recorded {
                mapper
                    .runs(e.addr, len, copy, &mut runs, cap)
                    .map_err(|er| relocate(er, n.offset))?;
            } else {
                runs.push(DataRun { offset: None, len });
            }
            for r in runs {
                data.runs.push((at, r.offset, r.len));
                let (s, t) = (
                    usize::try_from(at).unwrap_or(0),
                    usize::try_from(at + r.len).unwrap_or(0),
                );
                if let (Some(off), Some(dst)) = (r.offset, data.bytes.get_mut(s..t)) {
                    d.read_at("UDF directory", off, dst)?;
                }
                at += r.len;
            }
        }
        if at < n.info_len {
            return Err(Error::corrupt(
                "UDF file entry",
                n.offset,
                format!(
                    "the allocation descriptors of a directory hold {at} bytes, the directory {}",
                    n.info_len
                ),
            ));
        }
        Ok(data)
    }

    /// The children of directory `dir` (without the parent entry), sorted
    /// by name.
    pub(crate) fn list_dir(
        &self,
        d: &dyn Disk,
        dir: &Entry,
        limits: &Limits,
        budget: &mut Budget,
    ) -> Result<Vec<Entry>> {
        let u = dir.udf.as_deref().ok_or_else(|| {
            Error::InvalidInput(format!("{} is not an entry of the UDF tree", dir.path))
        })?;
        let addr = LbAddr {
            partition: u.partition,
            block: u.block,
        };
        let n = self.icb(d, addr, limits, &mut budget.diagnostics)?;
        if n.file_type != file_type::DIRECTORY {
            return Err(Error::NotADirectory(dir.path.clone()));
        }
        budget.dir_bytes = budget.dir_bytes.saturating_add(n.info_len);
        let total_cap = limits
            .max_total_dir_bytes
            .min(d.len().saturating_mul(2).saturating_add(1 << 20));
        if budget.dir_bytes > total_cap {
            return Err(Error::LimitExceeded {
                what: "total directory bytes read",
                value: budget.dir_bytes,
                limit: total_cap,
            });
        }
        let main = self
            .dir_data(d, &n, Copy::Main, limits)
            .and_then(|data| self.parse_dir(d, dir, &data, limits, budget));
        match main {
            Ok(v) => Ok(v),
            Err(e)
                if self.mapper().has_mirror(n.addr.partition) && matches!(e, Error::Corrupt(_)) =>
            {
                let v = self
                    .dir_data(d, &n, Copy::Mirror, limits)
                    .and_then(|data| self.parse_dir(d, dir, &data, limits, budget))
                    .map_err(|_| e)?;
                budget.diagnostics.push(Diagnostic {
                    offset: n.offset,
                    message: format!("UDF directory {} read from the metadata mirror", dir.path),
                });
                Ok(v)
            }
            Err(e) => Err(e),
        }
    }

    fn parse_dir(
        &self,
        d: &dyn Disk,
        dir: &Entry,
        data: &DirData,
        limits: &Limits,
        budget: &mut Budget,
    ) -> Result<Vec<Entry>> {
        let bs = u64::from(self.block);
        let mut out: Vec<Entry> = Vec::new();
        let mut pos = 0usize;
        while pos < data.bytes.len() {
            let rest = data.bytes.get(pos..).unwrap_or_default();
            let at = pos as u64;
            let off = data.image_offset(at);
            // Unused space at the end of a directory is zeros.
            if rest.iter().all(|&b| b == 0) {
                break;
            }
            let (fid, len) =
                Fid::parse(rest).map_err(|e| corrupt("UDF file identifier descriptor", off, e))?;
            if let Some(want) = data.block_of(at, bs) {
                Tag::parse_head(rest)
                    .and_then(|t| t.check_location(want))
                    .map_err(|e| corrupt("UDF file identifier descriptor", off, e))?;
            }
            pos = pos.saturating_add(len);
            if fid.is_parent() || fid.is_deleted() {
                continue;
            }
            if fid.characteristics & isoforge_format::udf::fid::characteristics::METADATA != 0 {
                budget.diagnostics.push(Diagnostic {
                    offset: off,
                    message: "UDF metadata stream entry in a directory; skipped".into(),
                });
                continue;
            }
            let name = cs0::decode(fid.name)
                .map_err(|e| corrupt("UDF file identifier descriptor", off, e))?;
            if let Some(why) = bad_name(&name) {
                return Err(Error::corrupt(
                    "UDF file identifier descriptor",
                    off,
                    format!("the name {name:?} in {} {why}", dir.path),
                ));
            }
            budget.entries += 1;
            if budget.entries > limits.max_total_entries {
                return Err(Error::LimitExceeded {
                    what: "total directory entries",
                    value: budget.entries,
                    limit: limits.max_total_entries,
                });
            }
            if out.len() >= limits.max_entries_per_dir as usize {
                return Err(Error::LimitExceeded {
                    what: "entries in one directory",
                    value: out.len() as u64 + 1,
                    limit: limits.max_entries_per_dir.into(),
                });
            }
            let n = self
                .icb(d, fid.icb.loc, limits, &mut budget.diagnostics)
                .map_err(|e| relocate(e, off))?;
            let path = if dir.path == "/" {
                format!("/{name}")
            } else {
                format!("{}/{name}", dir.path)
            };
            let is_dir = n.file_type == file_type::DIRECTORY;
            if is_dir != fid.is_dir() {
                budget.diagnostics.push(Diagnostic {
                    offset: off,
                    message: format!(
                        "{path}: the directory bit of its identifier disagrees with its file entry (file type {}); the file entry wins",
                        n.file_type
                    ),
                });
            }
            if !matches!(
                n.file_type,
                file_type::DIRECTORY
                    | file_type::REGULAR
                    | file_type::SYMLINK
                    | file_type::BLOCK
                    | file_type::CHAR
                    | file_type::FIFO
                    | file_type::SOCKET
                    | file_type::UNSPECIFIED
                    | file_type::REALTIME
            ) {
                budget.diagnostics.push(Diagnostic {
                    offset: n.offset,
                    message: format!(
                        "{path}: UDF file type {} is not presented; skipped",
                        n.file_type
                    ),
                });
                continue;
            }
            if n.streams {
                budget.diagnostics.push(Diagnostic {
                    offset: n.offset,
                    message: format!("{path}: named streams are not presented"),
                });
            }
            if n.bad_times > 0 {
                budget.diagnostics.push(Diagnostic {
                    offset: n.offset,
                    message: format!("{path}: {} unreadable timestamps ignored", n.bad_times),
                });
            }
            let mut e = self.entry_of(
                &n,
                name,
                path,
                dir.depth.saturating_add(1),
                off,
                fid.is_hidden(),
            );
            match e.file_type {
                FileType::File => {
                    let runs = self.runs_of(d, &n, limits)?;
                    if let Some(u) = e.udf.as_mut() {
                        u.runs = runs;
                    }
                }
                FileType::Symlink => {
                    let runs = self.runs_of(d, &n, limits)?;
                    let raw = self.read_runs(
                        d,
                        &runs,
                        n.info_len,
                        limits.max_symlink_bytes.into(),
                        "UDF symbolic link",
                    )?;
                    let target = path::decode(
                        &raw,
                        usize::try_from(limits.max_symlink_bytes).unwrap_or(4096),
                    )
                    .map_err(|er| corrupt("UDF symbolic link", n.offset, er))?;
                    e.size = target.len() as u64;
                    e.target = Some(target);
                }
                FileType::Dir => {}
                _ => e.size = 0,
            }
            out.push(e);
        }
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(out)
    }
}

/// Gives an error from the partition mapping the offset of the file entry
/// whose descriptor named the extent, when it has none of its own.
fn relocate(e: Error, offset: u64) -> Error {
    match e {
        Error::Corrupt(c) if c.offset() == 0 => Error::Corrupt(c.with_offset(offset)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refused() {
        for n in ["", ".", "..", "a/b", "../x", "a\0"] {
            assert!(bad_name(n).is_some(), "{n:?}");
        }
        assert!(bad_name("...").is_none());
    }
}
