//! Path tables (ECMA-119 §9.4): read both the type L and type M tables and
//! cross-check them against each other and against the directory hierarchy.

use std::collections::BTreeSet;

use isoforge_format::ecma119::path_table::PathTableIter;
use isoforge_format::ecma119::volume::VolumeDescriptor;

use super::{block_offset, Image};
use crate::error::{Error, Result};
use crate::options::View;
use crate::source::ReadAt;

/// The outcome of a path table check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathTableCheck {
    /// Which descriptor's tables ("primary", "joliet", "enhanced").
    pub descriptor: &'static str,
    /// Records in the type L table.
    pub l_records: usize,
    /// Records in the type M table.
    pub m_records: usize,
    /// Directories found by walking the hierarchy (the root included).
    pub directories: usize,
    /// Problems found; empty when the tables agree with each other and the tree.
    pub problems: Vec<String>,
}

impl PathTableCheck {
    /// Whether everything agreed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

type Rec = (u32, u16, Vec<u8>);

fn read_table<S: ReadAt>(
    img: &Image<S>,
    vd: &VolumeDescriptor,
    lba: u32,
    big_endian: bool,
    problems: &mut Vec<String>,
) -> Result<Vec<Rec>> {
    let what = if big_endian {
        "type M path table"
    } else {
        "type L path table"
    };
    let data = img.read_extent(
        what,
        lba,
        vd.path_table_size,
        img.limits().max_path_table_bytes,
    )?;
    let off = block_offset(lba, img.info().block_size).unwrap_or(0);
    let mut out = Vec::new();
    for (i, r) in PathTableIter::new(&data, big_endian).enumerate() {
        let r = r.map_err(|e| Error::format(what, off, e))?;
        let idx = u16::try_from(i + 1).unwrap_or(u16::MAX);
        if r.parent == 0 || r.parent > idx {
            problems.push(format!(
                "{what} record {} has parent number {}",
                i + 1,
                r.parent
            ));
        }
        out.push((
            r.extent.saturating_add(r.ear_len.into()),
            r.parent,
            r.name.to_vec(),
        ));
    }
    Ok(out)
}

pub(crate) fn check<S: ReadAt>(img: &Image<S>, view: View) -> Result<PathTableCheck> {
    let view = img.resolve_view(view)?;
    let (vd, name, walk_view) = match view {
        View::Joliet => (img.info().joliet(), "joliet", View::Joliet),
        View::Enhanced => (img.info().enhanced_vd(), "enhanced", View::Enhanced),
        _ => (img.info().primary(), "primary", View::Iso9660),
    };
    let vd = vd.ok_or_else(|| Error::InvalidInput(format!("no {name} volume descriptor")))?;
    let mut problems = Vec::new();
    let l = read_table(img, vd, vd.l_path_table, false, &mut problems)?;
    let m = read_table(img, vd, vd.m_path_table, true, &mut problems)?;
    if l != m {
        problems.push(format!(
            "type L ({} records) and type M ({} records) path tables differ",
            l.len(),
            m.len()
        ));
    }
    let mut dirs = BTreeSet::new();
    dirs.insert(img.root(walk_view)?.extents.first().map_or(0, |x| x.lba));
    for e in img.walk(walk_view)? {
        let e = e?;
        if e.is_dir() {
            dirs.insert(e.extents.first().map_or(0, |x| x.lba));
        }
    }
    let table: BTreeSet<u32> = l.iter().map(|r| r.0).collect();
    if table != dirs {
        let missing = dirs.difference(&table).count();
        let extra = table.difference(&dirs).count();
        problems.push(format!(
            "path table lists {} directories, the hierarchy has {}: {missing} missing from the table, {extra} not in the hierarchy",
            table.len(),
            dirs.len()
        ));
    }
    Ok(PathTableCheck {
        descriptor: name,
        l_records: l.len(),
        m_records: m.len(),
        directories: dirs.len(),
        problems,
    })
}
