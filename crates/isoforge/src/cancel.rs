//! Stopping long work from outside, and the temporary files to remove then.
//!
//! A [`Cancel`] token is given to the writer (in
//! [`BuildOptions`](crate::write::BuildOptions) and
//! [`ModifyOptions`](crate::modify::ModifyOptions)) and to extraction (in
//! [`ExtractOptions`](crate::extract::ExtractOptions)). Another thread, such
//! as a program's signal handler, calls [`Cancel::cancel`]; the work then
//! stops at its next check (after each file, and at least every few
//! megabytes of data) with [`Error::Cancelled`], having removed the
//! temporary files it made.
//!
//! The token also keeps a register of the temporary files in use. Should
//! the work be stuck where it cannot check (a write to a pipe nobody reads),
//! [`Cancel::remove_temporaries`] removes them from another thread, and no
//! new one can be made afterwards. The library installs no signal handler.
//!
//! ```
//! use isoforge::Cancel;
//! let cancel = Cancel::new();
//! let other = cancel.clone();
//! std::thread::spawn(move || other.cancel()).join().unwrap();
//! assert!(cancel.check().is_err());
//! ```

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result};

/// A cancellation flag shared between the work and whoever may stop it,
/// with the register of the work's temporary files. Clones share both.
///
/// The default token cannot be cancelled and registers nothing.
#[derive(Clone, Default)]
pub struct Cancel(Option<Arc<Shared>>);

struct Shared {
    flag: AtomicBool,
    /// Whether the temporary files have been removed; no new one may be
    /// made then. Makers hold it shared while they create and register a
    /// file, so removal waits for them and misses none.
    closed: RwLock<bool>,
    temps: Mutex<HashMap<u64, Temporary>>,
    next: AtomicU64,
}

/// A temporary file (or tree) to remove if the work is stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum Temporary {
    /// A file at a path.
    File(PathBuf),
    /// A file named `name` in the directory open as the descriptor. Removing
    /// it follows no path, so nothing outside that directory can be hit.
    FileAt(Arc<OwnedFd>, String),
    /// A directory the work created, with everything in it.
    Tree(PathBuf),
}

/// A registered temporary file; give it back with [`Cancel::forget`] once
/// the file is gone or renamed into place.
#[derive(Debug)]
#[must_use = "a registered temporary file stays registered until forgotten"]
pub struct Registered(Option<u64>);

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancellable", &self.0.is_some())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Tokens are equal when they are the same token (or both the default).
impl PartialEq for Cancel {
    fn eq(&self, other: &Cancel) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Cancel {}

impl Cancel {
    /// A token that can be cancelled.
    pub fn new() -> Cancel {
        Cancel(Some(Arc::new(Shared {
            flag: AtomicBool::new(false),
            closed: RwLock::new(false),
            temps: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })))
    }

    /// Asks the work to stop. Safe to call from any thread, any number of
    /// times; does nothing on the default token.
    pub fn cancel(&self) {
        if let Some(s) = &self.0 {
            s.flag.store(true, Ordering::SeqCst);
        }
    }

    /// Whether [`cancel`](Cancel::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|s| s.flag.load(Ordering::Relaxed))
    }

    /// `Err(Error::Cancelled)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Makes a temporary file with `create` and registers what it returns
    /// for removal. Fails with [`Error::Cancelled`] without calling `create`
    /// once cancelled.
    pub fn register<T>(
        &self,
        create: impl FnOnce() -> io::Result<(T, Temporary)>,
    ) -> Result<(T, Registered)> {
        let Some(s) = &self.0 else {
            let (t, _) = create()?;
            return Ok((t, Registered(None)));
        };
        let closed = s.closed.read().unwrap_or_else(|e| e.into_inner());
        if *closed || s.flag.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        let (t, temp) = create()?;
        let id = s.next.fetch_add(1, Ordering::Relaxed);
        s.temps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, temp);
        drop(closed);
        Ok((t, Registered(Some(id))))
    }

    /// Takes a temporary file off the register (it was removed, or renamed
    /// into place).
    pub fn forget(&self, r: Registered) {
        if let (Some(s), Some(id)) = (&self.0, r.0) {
            s.temps
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
    }

    /// Removes every registered temporary file, and refuses to register new
    /// ones from now on. Waits for files being made to be registered first.
    pub fn remove_temporaries(&self) {
        let Some(s) = &self.0 else {
            return;
        };
        let mut closed = s.closed.write().unwrap_or_else(|e| e.into_inner());
        *closed = true;
        let temps: Vec<Temporary> = s
            .temps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, t)| t)
            .collect();
        for t in temps {
            // Gone already (renamed into place or removed) is fine.
            let _ = match t {
                Temporary::File(p) => std::fs::remove_file(p),
                Temporary::FileAt(dir, name) => {
                    rustix::fs::unlinkat(&*dir, name.as_str(), rustix::fs::AtFlags::empty())
                        .map_err(io::Error::from)
                }
                Temporary::Tree(p) => std::fs::remove_dir_all(p),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_token_is_never_cancelled() {
        let c = Cancel::default();
        c.cancel();
        assert!(!c.is_cancelled());
        assert!(c.check().is_ok());
        assert_eq!(c, Cancel::default());
        assert_ne!(Cancel::new(), Cancel::new());
    }

    #[test]
    fn removes_what_is_registered_and_refuses_more() {
        let d = tempfile::tempdir().unwrap();
        let c = Cancel::new();
        let (kept, r_kept) = c
            .register(|| {
                let p = d.path().join("kept");
                std::fs::write(&p, b"x")?;
                Ok((p.clone(), Temporary::File(p)))
            })
            .unwrap();
        let (gone, _r) = c
            .register(|| {
                let p = d.path().join("gone");
                std::fs::write(&p, b"x")?;
                Ok((p.clone(), Temporary::File(p)))
            })
            .unwrap();
        let dir = Arc::new(OwnedFd::from(std::fs::File::open(d.path()).unwrap()));
        let (_, _r2) = c
            .register(|| {
                std::fs::write(d.path().join("at"), b"x")?;
                Ok(((), Temporary::FileAt(dir.clone(), "at".into())))
            })
            .unwrap();
        let (_, _r3) = c
            .register(|| {
                std::fs::create_dir_all(d.path().join("tree/sub"))?;
                std::fs::write(d.path().join("tree/sub/f"), b"x")?;
                Ok(((), Temporary::Tree(d.path().join("tree"))))
            })
            .unwrap();
        c.forget(r_kept);
        c.cancel();
        c.remove_temporaries();
        assert!(kept.exists());
        assert!(!gone.exists());
        assert!(!d.path().join("at").exists());
        assert!(!d.path().join("tree").exists());
        let mut called = false;
        let r = c.register(|| {
            called = true;
            Ok(((), Temporary::File(d.path().join("late"))))
        });
        assert!(matches!(r, Err(Error::Cancelled)));
        assert!(!called);
    }
}
