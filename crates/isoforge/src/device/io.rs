//! Aligned buffers, opens that bypass the page cache, and the pipeline that
//! moves an image through them in large chunks.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use rustix::fs::{Advice, Mode, OFlags};

use crate::error::{Error, Result};
use crate::source::ReadAt;

/// Alignment of buffers, offsets and lengths for `O_DIRECT`: the largest
/// logical block size in use (4Kn disks), a multiple of every smaller one.
pub(crate) const ALIGN: usize = 4096;
/// Bytes per read and write: large sequential requests, as `dd bs=4M`.
pub(crate) const CHUNK: usize = 4 << 20;
/// Chunks in flight between the reading thread and the consumers.
const POOL: usize = 4;

/// A heap buffer whose usable part starts at an [`ALIGN`]-aligned address,
/// as `O_DIRECT` needs, without `unsafe`: the vector is over-allocated and
/// the slice starts at the first aligned byte.
#[derive(Default)]
pub(crate) struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    cap: usize,
}

impl AlignedBuf {
    pub(crate) fn new(cap: usize) -> AlignedBuf {
        let raw = vec![0u8; cap + ALIGN];
        let addr = raw.as_ptr().addr();
        let start = (ALIGN - addr % ALIGN) % ALIGN;
        AlignedBuf { raw, start, cap }
    }
    pub(crate) fn get(&self, n: usize) -> &[u8] {
        let n = n.min(self.cap);
        self.raw.get(self.start..self.start + n).unwrap_or(&[])
    }
    pub(crate) fn get_mut(&mut self, n: usize) -> &mut [u8] {
        let n = n.min(self.cap);
        self.raw
            .get_mut(self.start..self.start + n)
            .unwrap_or(&mut [])
    }
}

/// `n` rounded up to a multiple of `block`.
pub(crate) fn round_up(n: usize, block: usize) -> usize {
    n.div_ceil(block) * block
}

/// An I/O error with what was being done to which path.
pub(crate) fn ctx(e: io::Error, path: &Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Opens `path` with `flags` plus `O_DIRECT`, or without it where the file
/// system or driver refuses it (`EINVAL`). Returns whether it is direct.
pub(crate) fn open_maybe_direct(path: &Path, flags: OFlags) -> io::Result<(File, bool)> {
    let flags = flags | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(0o644);
    match rustix::fs::open(path, flags | OFlags::DIRECT, mode) {
        Ok(fd) => Ok((File::from(fd), true)),
        Err(rustix::io::Errno::INVAL) => {
            let fd = rustix::fs::open(path, flags, mode)?;
            Ok((File::from(fd), false))
        }
        Err(e) => Err(e.into()),
    }
}

/// Turns `O_DIRECT` on or off on an open file.
pub(crate) fn set_direct(file: &File, on: bool) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    rustix::fs::fcntl_setfl(file, flags)?;
    Ok(())
}

/// The logical block size of `file` when it is a block device; [`ALIGN`]
/// for anything else (a multiple of every file system's direct-I/O unit).
pub(crate) fn logical_block(file: &File) -> usize {
    let is_block = file
        .metadata()
        .is_ok_and(|m| m.file_type().is_block_device());
    if is_block {
        if let Ok(b) = rustix::fs::ioctl_blksszget(file) {
            if let Ok(b) = usize::try_from(b) {
                if b.is_power_of_two() && b <= ALIGN {
                    return b;
                }
            }
        }
    }
    ALIGN
}

/// Makes written data durable and drops it from the page cache, so that a
/// later buffered read comes from the device. This is what `BLKFLSBUF`
/// does for a block device (write back, then invalidate its cache), made
/// of calls that need no `unsafe`: `fsync` (which also flushes the
/// device's own write cache) and `posix_fadvise(POSIX_FADV_DONTNEED)`.
pub(crate) fn flush_and_drop_cache(file: &File) -> io::Result<()> {
    file.sync_all()?;
    rustix::fs::fadvise(file, 0, None, Advice::DontNeed)?;
    Ok(())
}

/// Reads into `buf` from `offset` until it is full or the end; returns the
/// bytes read. `EINTR` is retried.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let Some(rest) = buf.get_mut(done..) else {
            break;
        };
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// One buffer of the pool on loan; it goes home when the last consumer
/// drops it.
pub(crate) struct Chunk {
    buf: AlignedBuf,
    len: usize,
    offset: u64,
    home: mpsc::Sender<AlignedBuf>,
}

impl Chunk {
    /// The bytes read, starting at an aligned address.
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(self.len)
    }
    /// Where they are in the stream.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The pool may be gone when the stream ended early; the buffer is then freed.
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

/// A consumer of the stream, on its own thread: gets each chunk in order;
/// returns `Ok(false)` to stop the stream early.
pub(crate) type Sink<'a> = Box<dyn FnMut(&Chunk) -> Result<bool> + Send + 'a>;

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Every byte went through every sink.
    Done,
    /// The stop flag was raised.
    Stopped,
    /// A sink asked to stop.
    Ended,
}

/// Reads bytes `0..len` in [`CHUNK`] pieces on one thread with `read`
/// (which fills the buffer's first `n` bytes, and may use up to the next
/// block boundary) and hands each piece to every sink, each on its own
/// thread. Memory stays at a few chunks whatever `len` is.
pub(crate) fn stream(
    len: u64,
    read: &mut (dyn FnMut(&mut AlignedBuf, usize, u64) -> Result<()> + Send),
    sinks: Vec<Sink<'_>>,
    stop: Option<&AtomicBool>,
) -> Result<Flow> {
    let stopped = || stop.is_some_and(|s| s.load(Ordering::Relaxed));
    let pool_len = usize::try_from(len.div_ceil(CHUNK as u64)).map_or(POOL, |n| n.clamp(1, POOL));
    let (home_tx, pool_rx) = mpsc::channel::<AlignedBuf>();
    for _ in 0..pool_len {
        let _ = home_tx.send(AlignedBuf::new(CHUNK));
    }
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for mut sink in sinks {
            let (tx, rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);
            senders.push(tx);
            handles.push(scope.spawn(move || -> Result<bool> {
                while let Ok(c) = rx.recv() {
                    if stopped() {
                        return Ok(true);
                    }
                    if !sink(&c)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }));
        }
        let mut result: Result<()> = Ok(());
        let mut offset = 0u64;
        let mut cut = false;
        while offset < len && !stopped() {
            let Ok(mut buf) = pool_rx.recv() else {
                break;
            };
            let n = usize::try_from(len - offset).map_or(CHUNK, |r| r.min(CHUNK));
            if let Err(e) = read(&mut buf, n, offset) {
                result = Err(e);
                break;
            }
            let chunk = Arc::new(Chunk {
                buf,
                len: n,
                offset,
                home: home_tx.clone(),
            });
            if senders
                .iter()
                .any(|tx| tx.send(Arc::clone(&chunk)).is_err())
            {
                cut = true;
                break;
            }
            offset += n as u64;
        }
        drop(senders);
        let mut ended = false;
        for h in handles {
            match h.join() {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => ended = true,
                Ok(Err(e)) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
                Err(_) => {
                    if result.is_ok() {
                        result = Err(Error::InvalidInput("a device I/O thread panicked".into()));
                    }
                }
            }
        }
        result?;
        Ok(if stopped() {
            Flow::Stopped
        } else if ended || cut {
            Flow::Ended
        } else {
            Flow::Done
        })
    })
}

/// Reads of a block device or file that bypass the page cache (`O_DIRECT`;
/// where that is refused, the cache is written back and dropped once at
/// open), limited to a length. For [`verify`](crate::verify::verify) on a
/// device: its digest is then of what the device holds, not of what the
/// cache remembers.
pub struct DirectSource {
    file: File,
    len: u64,
    direct: bool,
    block: usize,
    spare: Mutex<Vec<AlignedBuf>>,
}

impl std::fmt::Debug for DirectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectSource")
            .field("len", &self.len)
            .field("direct", &self.direct)
            .field("block", &self.block)
            .finish()
    }
}

impl DirectSource {
    /// Opens `path` for reading its first `len` bytes (all of it when
    /// `None`). A `len` beyond the end is an error.
    pub fn open(path: &Path, len: Option<u64>) -> Result<DirectSource> {
        let (file, direct) =
            open_maybe_direct(path, OFlags::RDONLY).map_err(|e| ctx(e, path, "cannot open"))?;
        if !direct {
            flush_and_drop_cache(&file).map_err(|e| ctx(e, path, "cannot flush"))?;
        }
        let size = ReadAt::size(&file).map_err(|e| ctx(e, path, "cannot size"))?;
        let len = match len {
            Some(l) if l > size => {
                return Err(Error::InvalidInput(format!(
                    "{} holds {size} bytes, fewer than the {l} asked for",
                    path.display()
                )))
            }
            Some(l) => l,
            None => size,
        };
        let block = logical_block(&file);
        Ok(DirectSource {
            file,
            len,
            direct,
            block,
            spare: Mutex::new(Vec::new()),
        })
    }

    /// Whether reads bypass the page cache through `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }
    pub(crate) fn block(&self) -> usize {
        self.block
    }
}

/// Reads `n` bytes at `offset` (a multiple of `block`) into `buf`, reading
/// up to the next block boundary when `direct`. Fewer bytes than `n` means
/// the file ended.
pub(crate) fn read_block_aligned(
    file: &File,
    direct: bool,
    block: usize,
    buf: &mut AlignedBuf,
    n: usize,
    offset: u64,
) -> io::Result<usize> {
    let want = if direct { round_up(n, block) } else { n };
    let got = read_full_at(file, buf.get_mut(want), offset)?;
    Ok(got.min(n))
}

impl ReadAt for DirectSource {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|e| *e <= self.len)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        if !self.direct {
            return FileExt::read_exact_at(&self.file, buf, offset);
        }
        let block = self.block as u64;
        let start = offset - offset % block;
        let span = usize::try_from(end - start).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut bounce = {
            let mut spare = self
                .spare
                .lock()
                .map_err(|_| io::Error::other("buffer lock poisoned"))?;
            match spare.pop() {
                Some(b) if b.cap >= round_up(span, self.block) => b,
                _ => AlignedBuf::new(round_up(span, self.block)),
            }
        };
        let got = read_block_aligned(&self.file, true, self.block, &mut bounce, span, start)?;
        if got < span {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let skip = usize::try_from(offset - start).map_err(|_| io::ErrorKind::InvalidInput)?;
        let src = bounce
            .get(span)
            .get(skip..)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < POOL + 4 {
                spare.push(bounce);
            }
        }
        Ok(())
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers() {
        for cap in [0, 1, 4096, 10_000] {
            let mut b = AlignedBuf::new(cap);
            assert_eq!(b.get(cap).len(), cap);
            assert_eq!(b.get_mut(cap + 5).len(), cap);
            assert_eq!(b.get(cap).as_ptr().addr() % ALIGN, 0);
        }
        assert_eq!(round_up(1, 512), 512);
        assert_eq!(round_up(4096, 512), 4096);
        assert_eq!(round_up(0, 512), 0);
    }

    #[test]
    fn stream_feeds_every_sink_in_order_and_stops() {
        let len = 3 * CHUNK as u64 + 77;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut read = |b: &mut AlignedBuf, n: usize, off: u64| -> Result<()> {
            let o = off as usize;
            b.get_mut(n).copy_from_slice(&data[o..o + n]);
            Ok(())
        };
        let mut a = Vec::new();
        let mut seen = 0u64;
        let sinks: Vec<Sink<'_>> = vec![
            Box::new(|c: &Chunk| {
                a.extend_from_slice(c.data());
                Ok(true)
            }),
            Box::new(|c: &Chunk| {
                assert_eq!(c.offset(), seen);
                seen += c.data().len() as u64;
                Ok(true)
            }),
        ];
        assert_eq!(stream(len, &mut read, sinks, None).unwrap(), Flow::Done);
        assert_eq!(a, data);
        assert_eq!(seen, len);

        // A sink that stops after the first chunk ends the stream.
        let mut calls = 0;
        let sinks: Vec<Sink<'_>> = vec![Box::new(|_: &Chunk| {
            calls += 1;
            Ok(false)
        })];
        assert_eq!(stream(len, &mut read, sinks, None).unwrap(), Flow::Ended);
        assert_eq!(calls, 1);

        // A raised stop flag stops it before anything is read.
        let stop = AtomicBool::new(true);
        let sinks: Vec<Sink<'_>> = vec![Box::new(|_: &Chunk| panic!("nothing to consume"))];
        assert_eq!(
            stream(len, &mut read, sinks, Some(&stop)).unwrap(),
            Flow::Stopped
        );

        // A read error is the stream's error.
        let mut bad = |_: &mut AlignedBuf, _: usize, off: u64| -> Result<()> {
            Err(Error::io_at(io::ErrorKind::Other.into(), off))
        };
        let sinks: Vec<Sink<'_>> = vec![Box::new(|_: &Chunk| Ok(true))];
        assert!(stream(len, &mut bad, sinks, None).is_err());
    }

    #[test]
    fn direct_source_reads_unaligned_ranges_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let s = DirectSource::open(&p, Some(15_000)).unwrap();
        assert_eq!(s.size().unwrap(), 15_000);
        let mut b = vec![0u8; 5000];
        s.read_exact_at(4097, &mut b).unwrap();
        assert_eq!(&b[..], &data[4097..9097]);
        assert!(s.read_exact_at(12_000, &mut b).is_err());
        assert!(DirectSource::open(&p, Some(20_001)).is_err());
    }
}
