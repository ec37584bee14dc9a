//! Writing an image to a device and reading it back.
//!
//! One pass over the image: a thread reads it in [`CHUNK`](super::io)-byte
//! pieces (and takes a CRC-32 of each), one thread hashes it with SHA-256,
//! and one writes it to the device with `O_DIRECT` from aligned buffers, so
//! reading, hashing and writing overlap. The read-back pass reads the device
//! the same way, without the page cache, and compares each piece's CRC-32
//! and the SHA-256 of the whole; the first piece that differs is read again
//! beside the image to name the first differing byte.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use rustix::fs::OFlags;
use sha2::{Digest, Sha256};

use super::io::{
    ctx, flush_and_drop_cache, logical_block, open_maybe_direct, read_block_aligned, set_direct,
    stream, AlignedBuf, Chunk, DirectSource, Flow, Sink, CHUNK,
};
use super::Target;
use crate::error::{Error, Result};
use crate::source::ReadAt;

/// Progress reporting and cancellation for [`Writer::write`],
/// [`Writer::verify`] and [`compare`].
#[derive(Clone, Copy, Default)]
pub struct WriteOptions<'a> {
    /// Called with the bytes done so far.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// When it becomes true, the work stops at the next chunk.
    pub stop: Option<&'a AtomicBool>,
}

impl fmt::Debug for WriteOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteOptions")
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
            .finish()
    }
}

/// What was written: the image's length and digests, taken as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub len: u64,
    /// SHA-256 of the image.
    pub sha256: [u8; 32],
    /// Whether the writes bypassed the page cache (`O_DIRECT`).
    pub direct: bool,
    /// CRC-32 of each chunk, to find where a read-back differs.
    crcs: Vec<u32>,
}

impl Written {
    /// The SHA-256 in lower-case hex.
    pub fn sha256_hex(&self) -> String {
        base16ct::lower::encode_string(&self.sha256)
    }
}

/// How [`Writer::write`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The whole image is on the device, flushed.
    Done(Written),
    /// The stop flag was raised: the device holds the first `written`
    /// bytes of the image (flushed), and whatever it held after them.
    Stopped {
        /// Bytes written before stopping.
        written: u64,
    },
}

impl WriteOutcome {
    /// What was written, unless stopped.
    pub fn done(self) -> Option<Written> {
        match self {
            WriteOutcome::Done(w) => Some(w),
            WriteOutcome::Stopped { .. } => None,
        }
    }
}

/// Where a read-back first differs from the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Difference {
    /// The byte at `offset` differs.
    Byte {
        /// Its offset.
        offset: u64,
        /// What the target holds.
        found: u8,
        /// What the image holds.
        expected: u8,
    },
    /// The target ends at `offset`, before the image does.
    End {
        /// Its length.
        offset: u64,
    },
    /// The chunk at `offset` differed from the image on the first read and
    /// not on a second: the device does not return what it holds reliably.
    Unstable {
        /// Where the chunk starts.
        offset: u64,
    },
}

impl Difference {
    /// The offset of the difference.
    pub fn offset(&self) -> u64 {
        match *self {
            Difference::Byte { offset, .. }
            | Difference::End { offset }
            | Difference::Unstable { offset } => offset,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Difference::Byte {
                offset,
                found,
                expected,
            } => write!(
                f,
                "first difference at byte {offset}: the target holds 0x{found:02x}, the image 0x{expected:02x}"
            ),
            Difference::End { offset } => {
                write!(f, "the target ends at byte {offset}, before the image")
            }
            Difference::Unstable { offset } => write!(
                f,
                "the {} bytes from byte {offset} read differently twice: the device is unreliable",
                CHUNK
            ),
        }
    }
}

/// The outcome of reading a target back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    /// Bytes compared.
    pub len: u64,
    /// Whether the reads bypassed the page cache with `O_DIRECT` (otherwise
    /// the cache was written back and dropped before reading).
    pub direct: bool,
    /// SHA-256 of what was read, when every byte was read.
    pub sha256: Option<[u8; 32]>,
    /// The first difference, if any.
    pub difference: Option<Difference>,
    /// The stop flag was raised before the end.
    pub stopped: bool,
}

impl ReadBack {
    /// True when every byte was read and matched.
    pub fn ok(&self) -> bool {
        self.difference.is_none() && !self.stopped && self.sha256.is_some()
    }
    /// The SHA-256 in lower-case hex, when every byte was read.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(|d| base16ct::lower::encode_string(&d))
    }
}

/// What [`Writer::finish`] did about the partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The kernel re-read the partition table: the image's partitions show.
    Reread,
    /// The kernel did not re-read it (the message says why); unplugging
    /// and plugging the device back makes it.
    RereadFailed(String),
    /// The target is a file: nothing to re-read.
    File,
}

/// A target opened for writing.
#[derive(Debug)]
pub struct Writer {
    file: File,
    path: PathBuf,
    disk: bool,
    direct: bool,
    block: usize,
}

/// How a chunk is checked on reading back.
enum Expect<'a> {
    /// Against the CRC-32 of each chunk of the image.
    Crcs(&'a [u32]),
    /// Against the image's bytes.
    Image,
}

impl Writer {
    /// Opens `path`, which [`assess`](super::assess) found to be `target`,
    /// for writing: a block device with `O_EXCL`, so that the kernel
    /// refuses while a file system on it is mounted and no one mounts one
    /// until it is closed, and `O_DIRECT` (buffered where refused); a
    /// regular file is created if needed.
    ///
    /// # Security
    ///
    /// Everything on the target is overwritten by [`Writer::write`]; call
    /// [`assess`](super::assess) first and heed its refusals.
    pub fn open(path: &Path, target: &Target) -> Result<Writer> {
        let (flags, disk) = match target {
            Target::Disk(_) => (OFlags::RDWR | OFlags::EXCL, true),
            Target::File { .. } => (OFlags::RDWR | OFlags::CREATE, false),
            Target::Partition { .. } | Target::Other { .. } => {
                return Err(Error::InvalidInput(format!(
                    "{} is not a whole disk or a regular file",
                    path.display()
                )))
            }
        };
        let (file, direct) = open_maybe_direct(path, flags).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} is in use: a file system on it is mounted, or another program \
                         has it open exclusively ({e})",
                        path.display()
                    ),
                )
            } else {
                ctx(e, path, "cannot open for writing")
            }
        })?;
        // The path named the disk that was assessed when it was checked; it
        // must still name that disk now that it is open.
        if let Target::Disk(d) = target {
            use std::os::unix::fs::MetadataExt;
            let rdev = file
                .metadata()
                .map_err(|e| ctx(e, path, "cannot stat"))?
                .rdev();
            let now = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
            if now != d.dev {
                return Err(Error::InvalidInput(format!(
                    "{} is no longer the disk that was checked ({}:{} then, {}:{} now)",
                    path.display(),
                    d.dev.0,
                    d.dev.1,
                    now.0,
                    now.1
                )));
            }
        }
        let block = logical_block(&file);
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            disk,
            direct,
            block,
        })
    }

    /// Whether writes currently bypass the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes the first `len` bytes of `image` from the target's start,
    /// hashing them on the way, then makes them durable and drops them from
    /// the page cache (a regular file is cut to `len`).
    pub fn write(&mut self, image: &File, len: u64, opts: &WriteOptions) -> Result<WriteOutcome> {
        let mut crcs: Vec<u32> = Vec::new();
        let mut sha = Sha256::new();
        let mut written = 0u64;
        let mut tail_buffered = false;
        let block = self.block;
        let path = self.path.clone();
        let file = &self.file;
        let direct = &mut self.direct;
        let flow = {
            let crcs = &mut crcs;
            let mut read = |buf: &mut AlignedBuf, n: usize, off: u64| -> Result<()> {
                let dst = buf.get_mut(n);
                FileExt::read_exact_at(image, dst, off).map_err(|e| {
                    Error::io_at(
                        io::Error::new(e.kind(), format!("reading the image: {e}")),
                        off,
                    )
                })?;
                crcs.push(crc32fast::hash(dst));
                Ok(())
            };
            let sha = &mut sha;
            let written = &mut written;
            let tail = &mut tail_buffered;
            let sinks: Vec<Sink<'_>> = vec![
                Box::new(move |c: &Chunk| {
                    sha.update(c.data());
                    Ok(true)
                }),
                Box::new(move |c: &Chunk| {
                    write_chunk(file, &path, direct, tail, block, c)?;
                    *written += c.data().len() as u64;
                    if let Some(p) = opts.progress {
                        p(*written);
                    }
                    Ok(true)
                }),
            ];
            stream(len, &mut read, sinks, opts.stop)?
        };
        let flush = |file: &File| -> Result<()> {
            flush_and_drop_cache(file).map_err(|e| ctx(e, &self.path, "cannot flush").into())
        };
        if flow == Flow::Stopped {
            flush(&self.file)?;
            return Ok(WriteOutcome::Stopped { written });
        }
        if !self.disk {
            self.file
                .set_len(len)
                .map_err(|e| ctx(e, &self.path, "cannot set the length of"))?;
        }
        flush(&self.file)?;
        if tail_buffered {
            set_direct(&self.file, true).map_err(|e| ctx(e, &self.path, "cannot reopen"))?;
        }
        Ok(WriteOutcome::Done(Written {
            len: written,
            sha256: sha.finalize().into(),
            direct: self.direct,
            crcs,
        }))
    }

    /// Reads the target back, bypassing the page cache, for exactly
    /// `written.len` bytes, and compares it with what was written; `image`
    /// is read again only to name the first differing byte.
    pub fn verify(
        &mut self,
        image: &File,
        written: &Written,
        opts: &WriteOptions,
    ) -> Result<ReadBack> {
        if !self.direct {
            flush_and_drop_cache(&self.file).map_err(|e| ctx(e, &self.path, "cannot flush"))?;
        }
        let target = Side {
            file: &self.file,
            path: &self.path,
            direct: self.direct,
            block: self.block,
        };
        let mut rb = read_back(
            &target,
            image,
            written.len,
            Expect::Crcs(&written.crcs),
            opts,
        )?;
        if rb.difference.is_none() && rb.sha256.is_some_and(|d| d != written.sha256) {
            // Every CRC-32 matched but the SHA-256 did not: find the byte.
            let full = read_back(&target, image, written.len, Expect::Image, opts)?;
            rb.difference = full.difference.or(Some(Difference::Unstable { offset: 0 }));
        }
        Ok(rb)
    }

    /// Closes the target; for a disk, then has the kernel re-read its
    /// partition table, so the image's partitions appear.
    ///
    /// `BLKRRPART` is not among the ioctls that rustix offers without
    /// `unsafe`, which this workspace forbids, so util-linux's `blockdev
    /// --rereadpt` issues it. That must happen after closing: the kernel
    /// refuses it while another open file holds the disk exclusively.
    pub fn finish(self) -> Finish {
        let Writer {
            file, path, disk, ..
        } = self;
        drop(file);
        if !disk {
            return Finish::File;
        }
        let path_var = format!(
            "{}:/usr/sbin:/sbin",
            std::env::var("PATH").unwrap_or_default()
        );
        match std::process::Command::new("blockdev")
            .env("PATH", path_var)
            .arg("--rereadpt")
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => Finish::Reread,
            Ok(o) => Finish::RereadFailed(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => Finish::RereadFailed(format!("cannot run blockdev: {e}")),
        }
    }
}

/// Writes one chunk at its offset: the whole blocks with `O_DIRECT`, a
/// last partial block (only at the image's end) buffered. Where `O_DIRECT`
/// writes are refused (`EINVAL` on the first one), the rest is buffered.
fn write_chunk(
    file: &File,
    path: &Path,
    direct: &mut bool,
    tail_buffered: &mut bool,
    block: usize,
    c: &Chunk,
) -> Result<()> {
    let data = c.data();
    let off = c.offset();
    let err = |e: io::Error, at: u64| Error::io_at(ctx(e, path, "writing to"), at);
    let whole = if *direct {
        data.len() - data.len() % block
    } else {
        data.len()
    };
    let (head, rest) = data.split_at(whole);
    if !head.is_empty() {
        match file.write_all_at(head, off) {
            Err(e)
                if *direct
                    && off == 0
                    && e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) =>
            {
                set_direct(file, false).map_err(|e| err(e, off))?;
                *direct = false;
                return file.write_all_at(data, off).map_err(|e| err(e, off));
            }
            r => r.map_err(|e| err(e, off))?,
        }
    }
    if !rest.is_empty() {
        let at = off + whole as u64;
        if *direct {
            set_direct(file, false).map_err(|e| err(e, at))?;
            *tail_buffered = true;
        }
        file.write_all_at(rest, at).map_err(|e| err(e, at))?;
    }
    Ok(())
}

/// The target as read back.
struct Side<'a> {
    file: &'a File,
    path: &'a Path,
    direct: bool,
    block: usize,
}

impl Side<'_> {
    /// Reads `n` bytes at `off`; fewer means the target ended.
    fn read(&self, buf: &mut AlignedBuf, n: usize, off: u64) -> Result<usize> {
        read_block_aligned(self.file, self.direct, self.block, buf, n, off)
            .map_err(|e| Error::io_at(ctx(e, self.path, "reading back"), off))
    }
}

fn read_back(
    target: &Side<'_>,
    image: &File,
    len: u64,
    expect: Expect<'_>,
    opts: &WriteOptions,
) -> Result<ReadBack> {
    let mut sha = Sha256::new();
    let mut bad: Option<(u64, usize)> = None;
    let flow = {
        let mut read = |buf: &mut AlignedBuf, n: usize, off: u64| -> Result<()> {
            let got = target.read(buf, n, off)?;
            // A short target: zeros stand for the missing bytes, and the
            // chunk's comparison finds where it ended.
            if let Some(rest) = buf.get_mut(n).get_mut(got..) {
                rest.fill(0);
            }
            Ok(())
        };
        let sha = &mut sha;
        let bad = &mut bad;
        let expect = &expect;
        let mut scratch: Vec<u8> = Vec::new();
        let sinks: Vec<Sink<'_>> = vec![Box::new(move |c: &Chunk| {
            let data = c.data();
            sha.update(data);
            let same = match expect {
                Expect::Crcs(crcs) => {
                    let i = usize::try_from(c.offset() / CHUNK as u64).unwrap_or(usize::MAX);
                    crcs.get(i) == Some(&crc32fast::hash(data))
                }
                Expect::Image => {
                    scratch.resize(data.len(), 0);
                    FileExt::read_exact_at(image, &mut scratch, c.offset()).map_err(|e| {
                        Error::io_at(
                            io::Error::new(e.kind(), format!("reading the image: {e}")),
                            c.offset(),
                        )
                    })?;
                    scratch == data
                }
            };
            if let Some(p) = opts.progress {
                p(c.offset() + data.len() as u64);
            }
            if !same {
                *bad = Some((c.offset(), data.len()));
            }
            Ok(same)
        })];
        stream(len, &mut read, sinks, opts.stop)?
    };
    let mut rb = ReadBack {
        len,
        direct: target.direct,
        sha256: None,
        difference: None,
        stopped: flow == Flow::Stopped,
    };
    match (flow, bad) {
        (Flow::Done, None) => rb.sha256 = Some(sha.finalize().into()),
        (_, Some((off, n))) => rb.difference = Some(locate(target, image, off, n)?),
        _ => {}
    }
    Ok(rb)
}

/// The first difference between the target and the image in the `n` bytes
/// at `off`, read again.
fn locate(target: &Side<'_>, image: &File, off: u64, n: usize) -> Result<Difference> {
    let mut buf = AlignedBuf::new(super::io::round_up(n, target.block));
    let got = target.read(&mut buf, n, off)?;
    let mut want = vec![0u8; n];
    FileExt::read_exact_at(image, &mut want, off).map_err(|e| {
        Error::io_at(
            io::Error::new(e.kind(), format!("reading the image: {e}")),
            off,
        )
    })?;
    let have = buf.get(got);
    if let Some((i, (f, e))) = have
        .iter()
        .zip(&want)
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        return Ok(Difference::Byte {
            offset: off + i as u64,
            found: *f,
            expected: *e,
        });
    }
    if got < n {
        return Ok(Difference::End {
            offset: off + got as u64,
        });
    }
    Ok(Difference::Unstable { offset: off })
}

/// Compares the first `len` bytes of `target` (a block device or a file;
/// all of `image` when `len` is `None`) with `image`, reading the target
/// without the page cache; names the first differing byte.
pub fn compare(
    target: &Path,
    image: &File,
    len: Option<u64>,
    opts: &WriteOptions,
) -> Result<ReadBack> {
    let image_len = ReadAt::size(image)?;
    let len = match len {
        Some(l) if l > image_len => {
            return Err(Error::InvalidInput(format!(
                "the image holds {image_len} bytes, fewer than the {l} asked for"
            )))
        }
        Some(l) => l,
        None => image_len,
    };
    let src = DirectSource::open(target, None)?;
    let size = ReadAt::size(&src)?;
    let side = Side {
        file: src.file(),
        path: target,
        direct: src.is_direct(),
        block: src.block(),
    };
    let mut rb = read_back(&side, image, len.min(size), Expect::Image, opts)?;
    if size < len && rb.difference.is_none() && !rb.stopped {
        rb.difference = Some(Difference::End { offset: size });
        rb.sha256 = None;
    }
    rb.len = len;
    Ok(rb)
}
