//! Reading one directory: its records, merged multi-extent files, names in the
//! chosen name space and Rock Ridge attributes.

use isoforge_format::ecma119::DirRecord;
use isoforge_format::strings::{decode_name, decode_ucs2be, strip_version, strip_version_str};
use isoforge_format::time::IsoTime;
use isoforge_format::SECTOR;

use super::rr::{self, RrFields};
use super::{block_offset, Entry, Extent, FileType, Image, Tree, Zisofs};
use crate::error::{Diagnostic, Error, Result};
use crate::options::Limits;
use crate::source::ReadAt;

/// Work done so far in one walk or lookup, checked against the limits.
pub(crate) struct Budget {
    pub entries: u64,
    pub dir_bytes: u64,
    pub diagnostics: Vec<Diagnostic>,
    pub limits: Limits,
}

impl Budget {
    pub fn new(limits: &Limits) -> Self {
        Budget {
            entries: 0,
            dir_bytes: 0,
            diagnostics: Vec::new(),
            limits: *limits,
        }
    }
}

const S_IFMT: u32 = 0o170_000;

fn file_type_of(mode: u32) -> Option<FileType> {
    Some(match mode & S_IFMT {
        0o040_000 => FileType::Dir,
        0o100_000 => FileType::File,
        0o120_000 => FileType::Symlink,
        0o020_000 => FileType::Char,
        0o060_000 => FileType::Block,
        0o010_000 => FileType::Fifo,
        0o140_000 => FileType::Socket,
        _ => return None,
    })
}

/// A record being assembled (multi-extent files span several records).
struct Pending {
    entry: Entry,
    raw_name: Vec<u8>,
}

impl<S: ReadAt> Image<S> {
    /// The entry for a tree's root, with the attributes of its "." record.
    pub(crate) fn root_entry(&self, tree: &Tree) -> Result<Entry> {
        if tree.udf {
            return self.udf_volume()?.root_entry(self, self.limits());
        }
        let mut e = Entry {
            path: "/".into(),
            name: String::new(),
            file_type: FileType::Dir,
            size: tree.root_len.into(),
            mode: 0o040_555,
            uid: 0,
            gid: 0,
            nlink: 2,
            ino: None,
            mtime: None,
            atime: None,
            ctime: None,
            target: None,
            rdev: None,
            extents: vec![Extent {
                lba: tree.root_lba,
                len: tree.root_len,
            }],
            zisofs: None,
            hidden: false,
            record_offset: block_offset(tree.root_lba, self.info().block_size).unwrap_or(0),
            depth: 0,
            sparse_size: None,
            udf: None,
        };
        let first = self.read_extent(
            "root directory",
            tree.root_lba,
            tree.root_len.min(SECTOR as u32),
            SECTOR as u32,
        )?;
        if let Ok(dot) = DirRecord::parse(&first) {
            e.mtime = IsoTime::from_dir_bytes(&dot.recorded).ok().flatten();
            if tree.rock_ridge {
                let f = rr::collect(
                    self,
                    dot.system_use,
                    0,
                    e.record_offset,
                    false,
                    &mut Vec::new(),
                )?;
                apply_attrs(&mut e, &f);
                e.file_type = FileType::Dir;
            }
        }
        Ok(e)
    }

    /// The children of `dir` (without "." and ".."), sorted by name.
    pub(crate) fn list_dir(
        &self,
        tree: &Tree,
        dir: &Entry,
        budget: &mut Budget,
    ) -> Result<Vec<Entry>> {
        let limits = budget.limits;
        let ext = dir
            .extents
            .first()
            .copied()
            .unwrap_or(Extent { lba: 0, len: 0 });
        if dir.depth >= limits.max_depth {
            return Err(Error::LimitExceeded {
                what: "directory nesting depth",
                value: u64::from(dir.depth) + 1,
                limit: limits.max_depth.into(),
            });
        }
        if tree.udf {
            return self.udf_volume()?.list_dir(self, dir, &limits, budget);
        }
        budget.dir_bytes = budget.dir_bytes.saturating_add(ext.len.into());
        // Directories of a real image do not overlap, so one walk reads at
        // most about the image's size; twice that (plus slack) catches
        // overlapping extents at distinct blocks, which the visited set
        // cannot see, long before the absolute cap.
        let total_cap = limits.max_total_dir_bytes.min(
            self.info()
                .image_size
                .saturating_mul(2)
                .saturating_add(1 << 20),
        );
        if budget.dir_bytes > total_cap {
            return Err(Error::LimitExceeded {
                what: "total directory bytes read",
                value: budget.dir_bytes,
                limit: total_cap,
            });
        }
        let data = self.read_extent("directory", ext.lba, ext.len, limits.max_dir_bytes)?;
        let base = block_offset(ext.lba, self.info().block_size).unwrap_or(0);
        let mut out: Vec<Entry> = Vec::new();
        let mut pending: Option<Pending> = None;
        for (sector_index, sector) in data.chunks(SECTOR).enumerate() {
            let mut pos = 0usize;
            while pos < sector.len() {
                let rest = sector.get(pos..).unwrap_or_default();
                // A zero length byte means the rest of the sector is unused.
                if rest.first().copied().unwrap_or(0) == 0 {
                    break;
                }
                let rec_off = base + (sector_index * SECTOR + pos) as u64;
                let rec = DirRecord::parse(rest)
                    .map_err(|e| Error::format("directory record", rec_off, e))?;
                pos += usize::from(rec.len);
                for (field, m) in rec.mismatches.iter().flatten() {
                    if self.options().strictness == crate::Strictness::Strict {
                        return Err(Error::corrupt(
                            "directory record",
                            rec_off,
                            format!(
                                "{field}: little-endian {} and big-endian {} differ",
                                m.le, m.be
                            ),
                        ));
                    }
                    budget.diagnostics.push(Diagnostic {
                        offset: rec_off,
                        message: format!("directory record {field}: little-endian {} and big-endian {} differ; using {}", m.le, m.be, m.le),
                    });
                }
                if rec.is_self() || rec.is_parent() {
                    continue;
                }
                if rec.flags.associated() {
                    // Associated files (Macintosh resource forks) are not part
                    // of the hierarchy presented.
                    continue;
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
                // Continue a multi-extent file?
                if let Some(p) = pending.as_mut() {
                    if p.raw_name == rec.name && !rec.flags.directory() {
                        if p.entry.extents.len() >= limits.max_extents_per_file as usize {
                            return Err(Error::LimitExceeded {
                                what: "sections of one multi-extent file",
                                value: p.entry.extents.len() as u64 + 1,
                                limit: limits.max_extents_per_file.into(),
                            });
                        }
                        let lba =
                            rec.extent
                                .checked_add(u32::from(rec.ear_len))
                                .ok_or_else(|| {
                                    Error::corrupt(
                                        "directory record",
                                        rec_off,
                                        "extent location overflows",
                                    )
                                })?;
                        if rec.data_len > 0 {
                            p.entry.extents.push(Extent {
                                lba,
                                len: rec.data_len,
                            });
                        }
                        p.entry.size = p.entry.size.saturating_add(rec.data_len.into());
                        if !rec.flags.multi_extent() {
                            if let Some(p) = pending.take() {
                                out.push(p.entry);
                            }
                        }
                        budget.entries -= 1;
                        continue;
                    }
                    budget.diagnostics.push(Diagnostic {
                        offset: rec_off,
                        message: "multi-extent file ends without its final record".into(),
                    });
                    if let Some(p) = pending.take() {
                        out.push(p.entry);
                    }
                }
                let Some(entry) = self.entry_from_record(tree, dir, &rec, rec_off, budget)? else {
                    continue;
                };
                if rec.flags.multi_extent() && !rec.flags.directory() {
                    pending = Some(Pending {
                        entry,
                        raw_name: rec.name.to_vec(),
                    });
                } else {
                    out.push(entry);
                }
            }
        }
        if let Some(p) = pending.take() {
            budget.diagnostics.push(Diagnostic {
                offset: p.entry.record_offset,
                message: "multi-extent file ends without its final record".into(),
            });
            out.push(p.entry);
        }
        if tree.rock_ridge && dir.depth == 0 {
            self.hide_rr_moved(tree, &mut out, budget)?;
        }
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(out)
    }

    /// Hides the root's relocation directory when it holds nothing but
    /// relocated (RE) directories, which appear at their original places.
    fn hide_rr_moved(&self, tree: &Tree, out: &mut Vec<Entry>, budget: &mut Budget) -> Result<()> {
        let Some(i) = out
            .iter()
            .position(|e| e.is_dir() && (e.name == "rr_moved" || e.name == ".rr_moved"))
        else {
            return Ok(());
        };
        let Some(moved) = out.get(i) else {
            return Ok(());
        };
        if self.list_dir(tree, moved, budget)?.is_empty() {
            out.remove(i);
        }
        Ok(())
    }

    fn entry_from_record(
        &self,
        tree: &Tree,
        parent: &Entry,
        rec: &DirRecord<'_>,
        rec_off: u64,
        budget: &mut Budget,
    ) -> Result<Option<Entry>> {
        let rr = if tree.rock_ridge {
            Some(rr::collect(
                self,
                rec.system_use,
                tree.skip,
                rec_off,
                false,
                &mut budget.diagnostics,
            )?)
        } else {
            None
        };
        if let Some(f) = &rr {
            if f.re {
                // A relocated directory: shown where its CL placeholder is.
                return Ok(None);
            }
            if f.name_special {
                budget.diagnostics.push(Diagnostic {
                    offset: rec_off,
                    message: "Rock Ridge NM names \".\" or \"..\" on an ordinary record; skipped"
                        .into(),
                });
                return Ok(None);
            }
        }
        let iso_name = || decode_name(strip_version(rec.name));
        let name = if tree.joliet {
            strip_version_str(&decode_ucs2be(rec.name)).to_string()
        } else if let Some(n) = rr.as_ref().and_then(|f| f.name.as_ref()) {
            decode_name(n)
        } else {
            iso_name()
        };
        let path = if parent.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", parent.path)
        };
        let lba = rec
            .extent
            .checked_add(u32::from(rec.ear_len))
            .ok_or_else(|| {
                Error::corrupt("directory record", rec_off, "extent location overflows")
            })?;
        let is_dir = rec.flags.directory();
        let mut e = Entry {
            path,
            name,
            file_type: if is_dir {
                FileType::Dir
            } else {
                FileType::File
            },
            size: rec.data_len.into(),
            mode: if is_dir { 0o040_555 } else { 0o100_444 },
            uid: 0,
            gid: 0,
            nlink: if is_dir { 2 } else { 1 },
            ino: None,
            mtime: IsoTime::from_dir_bytes(&rec.recorded).ok().flatten(),
            atime: None,
            ctime: None,
            target: None,
            rdev: None,
            extents: Vec::new(),
            zisofs: None,
            hidden: rec.flags.hidden(),
            record_offset: rec_off,
            depth: parent.depth.saturating_add(1),
            sparse_size: None,
            udf: None,
        };
        if is_dir || rec.data_len > 0 {
            e.extents.push(Extent {
                lba,
                len: rec.data_len,
            });
        }
        if rec.file_unit_size != 0 && !is_dir {
            e.extents = interleaved(
                lba,
                rec.data_len,
                rec.file_unit_size,
                rec.interleave_gap,
                self.info().block_size,
                budget.limits,
            )
            .map_err(|m| Error::corrupt("directory record (interleaved file)", rec_off, m))?;
        }
        if let Some(f) = rr {
            apply_attrs(&mut e, &f);
            if is_dir {
                e.file_type = FileType::Dir;
            }
            if let Some(cl) = f.cl {
                // Child link: the directory itself lives at `cl` (in rr_moved).
                self.follow_child_link(tree, &mut e, cl, rec_off)?;
            } else if e.file_type == FileType::Symlink && f.target.is_none() {
                budget.diagnostics.push(Diagnostic {
                    offset: rec_off,
                    message: "symbolic link without an SL target".into(),
                });
                e.target = Some(String::new());
            }
            if e.file_type == FileType::Dir && !is_dir && f.cl.is_none() {
                // PX says directory but the record does not: trust the record.
                e.file_type = FileType::File;
            }
            if matches!(
                e.file_type,
                FileType::Symlink
                    | FileType::Char
                    | FileType::Block
                    | FileType::Fifo
                    | FileType::Socket
            ) {
                e.extents.clear();
                e.size = e.target.as_ref().map_or(0, |t| t.len() as u64);
            }
            if let Some(z) = f.zf {
                if e.file_type == FileType::File && z.algorithm == *b"pz" {
                    e.zisofs = Some(Zisofs {
                        log2_block_size: z.log2_block_size,
                        header_size: u32::from(z.header_size_div4) * 4,
                        uncompressed_size: z.uncompressed_size,
                    });
                    e.size = z.uncompressed_size.into();
                } else if e.file_type == FileType::File {
                    budget.diagnostics.push(Diagnostic {
                        offset: rec_off,
                        message: format!(
                            "unsupported compression {:?} in ZF entry; the file reads as stored",
                            String::from_utf8_lossy(&z.algorithm)
                        ),
                    });
                }
            }
        }
        Ok(Some(e))
    }

    /// Resolves a CL child link: the placeholder becomes the directory that
    /// was relocated to `cl`, with the attributes of its "." record.
    fn follow_child_link(&self, tree: &Tree, e: &mut Entry, cl: u32, rec_off: u64) -> Result<()> {
        let first = self.read_extent(
            "relocated directory (CL target)",
            cl,
            SECTOR as u32,
            SECTOR as u32,
        )?;
        let off = block_offset(cl, self.info().block_size).unwrap_or(0);
        let dot = DirRecord::parse(&first)
            .map_err(|er| Error::format("relocated directory \".\" record", off, er))?;
        if !dot.is_self() || dot.extent != cl {
            return Err(Error::corrupt(
                "Rock Ridge CL entry",
                rec_off,
                format!("child link to block {cl}, which does not hold a directory"),
            ));
        }
        e.file_type = FileType::Dir;
        e.extents = vec![Extent {
            lba: cl.saturating_add(dot.ear_len.into()),
            len: dot.data_len,
        }];
        e.size = dot.data_len.into();
        let f = rr::collect(self, dot.system_use, tree.skip, off, false, &mut Vec::new())?;
        let (name, path) = (e.name.clone(), e.path.clone());
        apply_attrs(e, &f);
        e.file_type = FileType::Dir;
        e.name = name;
        e.path = path;
        Ok(())
    }
}

/// Applies PX, PN, SL, TF and SF to an entry.
fn apply_attrs(e: &mut Entry, f: &RrFields) {
    if let Some(px) = f.px {
        e.mode = px.mode;
        e.nlink = px.nlink;
        e.uid = px.uid;
        e.gid = px.gid;
        e.ino = px.ino;
        if let Some(t) = file_type_of(px.mode) {
            e.file_type = t;
        }
    }
    if let Some(t) = &f.target {
        e.target = Some(t.clone());
        if f.px.is_none() {
            e.file_type = FileType::Symlink;
        }
    }
    if let Some(dev) = f.pn {
        e.rdev = Some(dev);
    }
    if let Some(tf) = f.tf {
        if tf.modify.is_some() {
            e.mtime = tf.modify;
        }
        e.atime = tf.access;
        e.ctime = tf.attributes;
    }
    e.sparse_size = f.sf;
}

/// Extents of an interleaved file (ECMA-119 §6.4.3): units of `unit` blocks
/// separated by gaps of `gap` blocks, holding `len` bytes in all.
fn interleaved(
    lba: u32,
    len: u32,
    unit: u8,
    gap: u8,
    block: u32,
    limits: Limits,
) -> std::result::Result<Vec<Extent>, String> {
    let unit_bytes = u32::from(unit) * block;
    let stride = u32::from(unit) + u32::from(gap);
    let mut out = Vec::new();
    let mut left = len;
    let mut cur = lba;
    while left > 0 {
        if out.len() >= limits.max_extents_per_file as usize {
            return Err(format!(
                "more than {} interleaved units",
                limits.max_extents_per_file
            ));
        }
        let n = left.min(unit_bytes);
        out.push(Extent { lba: cur, len: n });
        left -= n;
        cur = cur
            .checked_add(stride)
            .ok_or("interleaved unit location overflows")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_splits_into_units() {
        let x = interleaved(100, 5000, 1, 2, 2048, Limits::default()).unwrap();
        assert_eq!(
            x,
            vec![
                Extent {
                    lba: 100,
                    len: 2048
                },
                Extent {
                    lba: 103,
                    len: 2048
                },
                Extent { lba: 106, len: 904 }
            ]
        );
        let tiny = Limits {
            max_extents_per_file: 2,
            ..Limits::default()
        };
        assert!(interleaved(100, 5000, 1, 2, 2048, tiny).is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(file_type_of(0o120_777), Some(FileType::Symlink));
        assert_eq!(file_type_of(0o777), None);
    }
}
