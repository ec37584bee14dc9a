//! Iterative, bounded, cycle-checked traversal of a directory hierarchy.

use std::collections::HashSet;

use super::dir::Budget;
use super::{Entry, Image, Tree};
use crate::error::{Diagnostic, Error, Result};
use crate::source::ReadAt;

/// Every entry of a hierarchy, parents before children, each directory's
/// children sorted by name. Ends after the first error.
pub struct Walk<'a, S: ReadAt> {
    img: &'a Image<S>,
    tree: Tree,
    stack: Vec<std::vec::IntoIter<Entry>>,
    visited: HashSet<u32>,
    budget: Budget,
    failed: bool,
}

impl<'a, S: ReadAt> Walk<'a, S> {
    pub(crate) fn new(img: &'a Image<S>, tree: Tree) -> Result<Self> {
        let root = img.root_entry(&tree)?;
        Self::from_dir(img, tree, &root)
    }

    /// Walks below `dir` (not included).
    pub(crate) fn from_dir(img: &'a Image<S>, tree: Tree, dir: &Entry) -> Result<Self> {
        let mut budget = Budget::new(img.limits());
        let children = img.list_dir(&tree, dir, &mut budget)?;
        let mut visited = HashSet::new();
        visited.insert(tree.root_lba);
        visited.insert(dir.extents.first().map_or(0, |x| x.lba));
        Ok(Walk {
            img,
            tree,
            stack: vec![children.into_iter()],
            visited,
            budget,
            failed: false,
        })
    }

    /// Departures from the specifications tolerated so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.budget.diagnostics
    }

    fn step(&mut self) -> Option<Result<Entry>> {
        loop {
            let top = self.stack.last_mut()?;
            let Some(e) = top.next() else {
                self.stack.pop();
                continue;
            };
            if e.is_dir() {
                let lba = e.extents.first().map_or(0, |x| x.lba);
                if !self.visited.insert(lba) {
                    return Some(Err(Error::corrupt(
                        "directory record",
                        e.record_offset,
                        format!(
                            "directory loop: {} points at block {lba}, a directory already visited",
                            e.path
                        ),
                    )));
                }
                match self.img.list_dir(&self.tree, &e, &mut self.budget) {
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
