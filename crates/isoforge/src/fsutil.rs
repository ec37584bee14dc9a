//! Copying between files: in the kernel with `copy_file_range` where it can,
//! skipping holes so that sparse data stays sparse.

use std::fs::File;
use std::io;
use std::path::Path;

use rustix::fs as rfs;

use crate::Cancel;

/// Bytes moved by one kernel copy call at most, so that a cancellation is
/// seen within a fraction of a second.
const COPY_CHUNK: u64 = 64 << 20;

/// The error a copy stops with once cancelled (the caller, seeing the token
/// cancelled, reports [`Error::Cancelled`](crate::Error::Cancelled)). Not of
/// kind `Interrupted`, which `write_all` would retry.
fn stopped() -> io::Error {
    io::Error::other("cancelled")
}

/// Whether a file has any hole (SEEK_HOLE finds one before its end).
pub(crate) fn has_holes(f: &File) -> bool {
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    matches!(rfs::seek(f, rfs::SeekFrom::Hole(0)), Ok(h) if h < len)
}

/// Copies `len` bytes at `off` of `src` to `out` at `out_pos`, skipping holes.
/// Fails once `cancel` is cancelled.
pub(crate) fn copy_range_sparse(
    src: &File,
    off: u64,
    len: u64,
    out: &File,
    out_pos: u64,
    cancel: &Cancel,
) -> io::Result<()> {
    let end = off + len;
    let mut pos = off;
    while pos < end {
        let data = match rfs::seek(src, rfs::SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(rustix::io::Errno::NXIO) => return Ok(()),
            Err(_) => pos, // SEEK_DATA unsupported: treat everything as data.
        };
        if data >= end {
            return Ok(());
        }
        let hole = rfs::seek(src, rfs::SeekFrom::Hole(data))
            .unwrap_or(end)
            .min(end);
        let hole = if hole <= data { end } else { hole };
        copy_exact(src, data, out, out_pos + (data - off), hole - data, cancel)?;
        pos = hole;
    }
    Ok(())
}

/// Copies `len` bytes between offsets, in the kernel where it can. Fails
/// once `cancel` is cancelled.
pub(crate) fn copy_exact(
    src: &File,
    mut in_off: u64,
    out: &File,
    mut out_off: u64,
    mut len: u64,
    cancel: &Cancel,
) -> io::Result<()> {
    while len > 0 {
        if cancel.is_cancelled() {
            return Err(stopped());
        }
        let chunk = len.min(COPY_CHUNK) as usize;
        match rfs::copy_file_range(src, Some(&mut in_off), out, Some(&mut out_off), chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => len -= n as u64,
            Err(rustix::io::Errno::INTR) => {}
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::OPNOTSUPP,
            ) => return copy_rw(src, in_off, out, out_off, len, cancel),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Copies `len` bytes between offsets through a buffer.
fn copy_rw(
    src: &File,
    mut in_off: u64,
    out: &File,
    mut out_off: u64,
    mut len: u64,
    cancel: &Cancel,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len.min(1 << 20) as usize];
    while len > 0 {
        if cancel.is_cancelled() {
            return Err(stopped());
        }
        let n = len.min(buf.len() as u64) as usize;
        let b = &mut buf[..n];
        FileExt::read_exact_at(src, b, in_off)?;
        out.write_all_at(b, out_off)?;
        in_off += n as u64;
        out_off += n as u64;
        len -= n as u64;
    }
    Ok(())
}

/// Moves the finished file at `from` to `to`. Other programs see the old file
/// or the new one at `to`, never neither and never a part.
///
/// An existing regular file at `to` is exchanged with the new one
/// (`RENAME_EXCHANGE`) and then removed from `from`, rather than renamed
/// over: on ext4 a rename that replaces a file makes the kernel write the
/// new file's data out at once (its `auto_da_alloc` safeguard), which for a
/// multi-gigabyte image costs about as much as writing it did. Where the
/// exchange is not supported, a plain rename is used.
pub fn replace_file(from: &Path, to: &Path) -> io::Result<()> {
    let regular = std::fs::symlink_metadata(to).is_ok_and(|m| m.file_type().is_file());
    if regular {
        match rfs::renameat_with(rfs::CWD, from, rfs::CWD, to, rfs::RenameFlags::EXCHANGE) {
            Ok(()) => {
                // What was exchanged must still be a file: if something else
                // took its place meanwhile, put it back.
                if std::fs::symlink_metadata(from).is_ok_and(|m| m.file_type().is_file()) {
                    return std::fs::remove_file(from);
                }
                rfs::renameat_with(rfs::CWD, from, rfs::CWD, to, rfs::RenameFlags::EXCHANGE)?;
                return Err(io::Error::other(format!(
                    "{} changed from a file to something else while it was being replaced",
                    to.display()
                )));
            }
            // Gone meanwhile, or not supported here: rename instead.
            Err(
                rustix::io::Errno::NOENT
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::OPNOTSUPP,
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_replaces_and_leaves_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let (tmp, dst) = (d.path().join("tmp"), d.path().join("dst"));
        // No file there yet.
        std::fs::write(&tmp, b"one").unwrap();
        replace_file(&tmp, &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"one");
        assert!(!tmp.exists());
        // A file there: replaced, and the old one gone.
        std::fs::write(&tmp, b"two").unwrap();
        replace_file(&tmp, &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"two");
        assert!(!tmp.exists());
        // A symbolic link there is replaced, not followed.
        let other = d.path().join("other");
        std::fs::write(&other, b"keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        std::fs::write(&tmp, b"three").unwrap();
        replace_file(&tmp, &link).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(std::fs::read(&link).unwrap(), b"three");
        // A directory there is not replaced.
        let dir = d.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&tmp, b"four").unwrap();
        assert!(replace_file(&tmp, &dir).is_err());
        assert!(dir.is_dir());
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 5, "{names:?}");
    }
}
