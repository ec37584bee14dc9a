//! Sources of image bytes. Readers use positional reads, so one open image can
//! serve several threads at once, and a remote source needs nothing but ranges.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

mod http;
pub mod netrc;
pub mod remote;
#[cfg(feature = "s3")]
mod s3;

pub use remote::{is_remote, remote_error, RemoteError, RemoteOptions, RemoteSource};

/// Something that can be read at an offset.
pub trait ReadAt: Send + Sync {
    /// Fills `buf` from `offset`; a read past the end is an `UnexpectedEof` error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Total size in bytes.
    fn size(&self) -> io::Result<u64>;
    /// The underlying file, when there is one (for `copy_file_range`).
    fn as_file(&self) -> Option<&File> {
        None
    }
}

impl ReadAt for File {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        let m = self.metadata()?;
        if m.file_type().is_file() {
            return Ok(m.len());
        }
        // Block devices report 0 in metadata; seek to the end instead.
        let mut f = self;
        f.seek(SeekFrom::End(0))
    }
    fn as_file(&self) -> Option<&File> {
        Some(self)
    }
}

fn slice_read(data: &[u8], offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
    let src = start
        .checked_add(buf.len())
        .and_then(|end| data.get(start..end))
        .ok_or(io::ErrorKind::UnexpectedEof)?;
    buf.copy_from_slice(src);
    Ok(())
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        slice_read(self, offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        slice_read(self, offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_at(offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
    fn as_file(&self) -> Option<&File> {
        (**self).as_file()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_exact_at(offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
    fn as_file(&self) -> Option<&File> {
        (**self).as_file()
    }
}

/// Adapts any `Read + Seek` (a pipe cannot be used: images are read out of order).
pub struct SeekSource<R>(Mutex<R>);

impl<R: Read + Seek + Send> SeekSource<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        SeekSource(Mutex::new(inner))
    }
}

impl<R: Read + Seek + Send> ReadAt for SeekSource<R> {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut r = self
            .0
            .lock()
            .map_err(|_| io::Error::other("source lock poisoned"))?;
        r.seek(SeekFrom::Start(offset))?;
        r.read_exact(buf)
    }
    fn size(&self) -> io::Result<u64> {
        let mut r = self
            .0
            .lock()
            .map_err(|_| io::Error::other("source lock poisoned"))?;
        r.seek(SeekFrom::End(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_seek_sources() {
        let v = vec![1u8, 2, 3, 4];
        let mut b = [0u8; 2];
        v.read_exact_at(2, &mut b).unwrap();
        assert_eq!(b, [3, 4]);
        assert!(v.read_exact_at(3, &mut b).is_err());
        assert!(v.read_exact_at(u64::MAX, &mut b).is_err());
        let s = SeekSource::new(io::Cursor::new(v));
        s.read_exact_at(1, &mut b).unwrap();
        assert_eq!(b, [2, 3]);
        assert_eq!(s.size().unwrap(), 4);
    }
}
