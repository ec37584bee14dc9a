//! Iterative, bounded, cycle-checked traversal of a directory hierarchy.

use std::collections::HashSet;

use super::dir::Budget;
use super::{Entry, Image, Tree};
use crate::error::{Diagnostic, Error, Result};
use crate::source::ReadAt;

/// Directory-by-directory traversal of a hierarchy under one work budget:
/// the caller lists a directory and chooses which subdirectories to enter.
/// Entering a directory a second time is a loop and an error, and the
/// limits on entries and directory bytes hold for the whole traversal.
pub struct Dirs<'a, S: ReadAt> {
    img: &'a Image<S>,
    tree: Tree,
    visited: HashSet<u64>,
    budget: Budget,
}

impl<'a, S: ReadAt> Dirs<'a, S> {
    pub(crate) fn new(img: &'a Image<S>, tree: Tree) -> Self {
        let mut visited = HashSet::new();
        visited.insert(tree.root_key);
        Dirs {
            img,
            tree,
            visited,
            budget: Budget::new(img.limits()),
        }
    }

    /// The root directory of the traversal's hierarchy (already entered).
    pub fn root(&self) -> Result<Entry> {
        self.img.root_entry(&self.tree)
    }

    /// Marks `dir` as entered. A directory reached twice is a loop.
    pub fn enter(&mut self, dir: &Entry) -> Result<()> {
        if !self.visited.insert(dir.dir_key()) {
            let at = match &dir.udf {
                Some(u) => format!("the file entry at byte {}", u.icb_offset),
                None => format!("block {}", dir.extents.first().map_or(0, |x| x.lba)),
            };
            return Err(Error::corrupt(
                if dir.udf.is_some() {
                    "UDF file identifier descriptor"
                } else {
                    "directory record"
                },
                dir.record_offset,
                format!(
                    "directory loop: {} points at {at}, a directory already visited",
                    dir.path
                ),
            ));
        }
        Ok(())
    }

    /// The children of `dir`, sorted by name.
    pub fn list(&mut self, dir: &Entry) -> Result<Vec<Entry>> {
        self.img.list_dir(&self.tree, dir, &mut self.budget)
    }

    /// Departures from the specifications tolerated so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.budget.diagnostics
    }
}

/// Every entry of a hierarchy, parents before children, each directory's
/// children sorted by name. Ends after the first error.
pub struct Walk<'a, S: ReadAt> {
    dirs: Dirs<'a, S>,
    stack: Vec<std::vec::IntoIter<Entry>>,
    failed: bool,
}

impl<'a, S: ReadAt> Walk<'a, S> {
    pub(crate) fn new(img: &'a Image<S>, tree: Tree) -> Result<Self> {
        let root = img.root_entry(&tree)?;
        Self::from_dir(img, tree, &root)
    }

    /// Walks below `dir` (not included).
    pub(crate) fn from_dir(img: &'a Image<S>, tree: Tree, dir: &Entry) -> Result<Self> {
        let mut dirs = Dirs::new(img, tree);
        if dir.depth > 0 {
            dirs.enter(dir)?;
        }
        let children = dirs.list(dir)?;
        Ok(Walk {
            dirs,
            stack: vec![children.into_iter()],
            failed: false,
        })
    }

    /// Departures from the specifications tolerated so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        self.dirs.diagnostics()
    }

    fn step(&mut self) -> Option<Result<Entry>> {
        loop {
            let top = self.stack.last_mut()?;
            let Some(e) = top.next() else {
                self.stack.pop();
                continue;
            };
            if e.is_dir() {
                if let Err(err) = self.dirs.enter(&e) {
                    return Some(Err(err));
                }
                match self.dirs.list(&e) {
                    Ok(children) => self.stack.push(children.into_iter()),
                    Err(err) => return Some(Err(err)),
                }
            }
            return Some(Ok(e));
        }
    }
}

impl<S: ReadAt> Iterator for Walk<'_, S> {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.step();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }
}
