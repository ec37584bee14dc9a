//! Small host files read on other threads, ahead of the writes: the writer
//! then spends its time writing while the opens and reads of the files to
//! come go on beside it. Files are read into batches of a few hundred
//! kilobytes, handed to the writer in its order, and only a few batches are
//! ever in flight, so memory stays bounded whatever the tree.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::Scope;

use isoforge_format::SECTOR;
use rustix::fs as rfs;

use super::builder::{host_err, Kind, Node, Src};
use super::plan::{changed_size, grew, Data, Plan};
use crate::error::{Error, Result};

/// File data a batch collects before it goes to the writer.
pub(crate) const BATCH: usize = 256 << 10;
/// Reading threads. Opening and reading many small files takes longer than
/// writing them out, so more than one reader keeps the writer busy.
const READERS: usize = 2;
/// Batches each reader has read and the writer not yet taken, at most.
const IN_FLIGHT: usize = 2;

/// The data of consecutive files (consecutive in `Plan::data` and on disc),
/// each padded to whole blocks.
pub(crate) struct Batch {
    /// Index into `Plan::data` of the first file.
    first: usize,
    /// Number of files.
    pub count: usize,
    /// The data, in `buf[..len]`. The buffer is reused from batch to batch
    /// and keeps its length, so that it is not zeroed again each time.
    buf: Vec<u8>,
    len: usize,
    /// Why the file after the last one could not be read.
    err: Option<Error>,
}

impl Batch {
    /// The files' data.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// One reader as the writer sees it: its batches, and its used buffers
/// going back.
struct Reader {
    batches: Receiver<Batch>,
    spare: Sender<Vec<u8>>,
}

/// The writer's end. Reader `r` reads batches `r`, `r + READERS`, ...
pub(crate) struct ReadAhead {
    readers: Vec<Reader>,
    /// The number of batches taken so far.
    taken: usize,
}

impl ReadAhead {
    /// Starts reading, in `scope`, the data of the files of `plan` for
    /// whose index in `Plan::data` `ahead` holds; `None` if the threads
    /// cannot be started (the readers started stop when it is dropped).
    pub fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        plan: &'env Plan,
        ahead: &'env (dyn Fn(usize) -> bool + Sync),
    ) -> Option<ReadAhead> {
        let readers = (0..READERS)
            .map(|r| {
                let (tx, batches) = sync_channel(IN_FLIGHT);
                let (spare, spare_rx) = channel();
                std::thread::Builder::new()
                    .name("isoforge-read".into())
                    .spawn_scoped(scope, move || run(plan, ahead, r, &tx, &spare_rx))
                    .ok()?;
                Some(Reader { batches, spare })
            })
            .collect::<Option<Vec<Reader>>>()?;
        Some(ReadAhead { readers, taken: 0 })
    }

    /// The next batch, which starts with file `i`.
    pub fn next(&mut self, i: usize) -> Result<Batch> {
        let reader = self.readers.get(self.taken % READERS);
        self.taken += 1;
        match reader.map(|r| r.batches.recv()) {
            Some(Ok(b)) if b.first == i => Ok(b),
            Some(Err(_)) => Err(Error::InvalidInput(
                "internal error: a thread reading files ahead stopped".into(),
            )),
            _ => Err(Error::InvalidInput(
                "internal error: files read ahead out of order".into(),
            )),
        }
    }

    /// Hands the buffer of the batch taken last back to its reader, once
    /// written; fails with the batch's error.
    pub fn done(&self, b: Batch) -> Result<()> {
        if let Some(e) = b.err {
            return Err(e);
        }
        if let Some(r) = self.readers.get((self.taken + READERS - 1) % READERS) {
            // The reader may have finished: then the buffer is simply dropped.
            let _ = r.spare.send(b.buf);
        }
        Ok(())
    }
}

/// The batches, in order, as (first file, number of files): runs of files
/// read ahead that follow one another on disc, cut after `BATCH` bytes.
fn batches<'a>(
    plan: &'a Plan,
    ahead: &'a dyn Fn(usize) -> bool,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < plan.data.len() && !ahead(i) {
            i += 1;
        }
        let first = i;
        let mut next_lba = plan.data.get(i)?.lba;
        let mut bytes = 0usize;
        while let Some(d) = plan.data.get(i) {
            if !ahead(i) || d.lba != next_lba || bytes >= BATCH {
                break;
            }
            let blocks = d.size.div_ceil(SECTOR as u64);
            bytes += blocks as usize * SECTOR;
            next_lba = d
                .lba
                .saturating_add(u32::try_from(blocks).unwrap_or(u32::MAX));
            i += 1;
        }
        Some((first, i - first))
    })
}

/// Reader `r`: ends after its last batch, at the first error, when the
/// writer stops taking batches, or once the work is cancelled.
fn run(
    plan: &Plan,
    ahead: &dyn Fn(usize) -> bool,
    r: usize,
    tx: &SyncSender<Batch>,
    spare: &Receiver<Vec<u8>>,
) {
    let mut dir: Option<(u32, OwnedFd)> = None;
    for (first, count) in batches(plan, ahead).skip(r).step_by(READERS) {
        let mut b = Batch {
            first,
            count: 0,
            buf: spare.try_recv().unwrap_or_default(),
            len: 0,
            err: None,
        };
        for d in plan.data.iter().skip(first).take(count) {
            let read = plan
                .b
                .opts
                .cancel
                .check()
                .and_then(|()| read_file(plan, d, &mut dir, &mut b.buf, &mut b.len));
            if let Err(e) = read {
                b.err = Some(e);
                let _ = tx.send(b);
                return;
            }
            b.count += 1;
        }
        if tx.send(b).is_err() {
            return;
        }
    }
}

/// Puts file `d`'s data at `out[*len..]`, padded to whole blocks, and moves
/// `len` past it. Fails, as `Plan::read_source` does, if the file's size is
/// not the planned one.
fn read_file(
    plan: &Plan,
    d: &Data,
    dir: &mut Option<(u32, OwnedFd)>,
    out: &mut Vec<u8>,
    len: &mut usize,
) -> Result<()> {
    let path = || plan.b.host_path(d.node()).unwrap_or_default();
    let mut f = match plan.b.nodes.get(d.node()) {
        Some(
            n @ Node {
                kind: Kind::File {
                    src: Src::InDir(k), ..
                },
                ..
            },
        ) => {
            // Opened relative to the file's directory, which stays open
            // while its files come one after another.
            if dir.as_ref().map(|x| x.0) != Some(*k) {
                *dir = plan
                    .b
                    .host_dirs
                    .path(*k)
                    .and_then(|p| {
                        rfs::openat(
                            rfs::CWD,
                            &p,
                            rfs::OFlags::PATH | rfs::OFlags::DIRECTORY | rfs::OFlags::CLOEXEC,
                            rfs::Mode::empty(),
                        )
                        .ok()
                    })
                    .map(|fd| (*k, fd));
            }
            match dir {
                Some((_, fd)) => rfs::openat(
                    &*fd,
                    plan.b.node_name(n),
                    rfs::OFlags::RDONLY | rfs::OFlags::CLOEXEC,
                    rfs::Mode::empty(),
                )
                .map(File::from)
                .map_err(|e| host_err(&path(), e.into()))?,
                None => File::open(path()).map_err(|e| host_err(&path(), e))?,
            }
        }
        _ => {
            let p = path();
            File::open(&p).map_err(|e| host_err(&p, e))?
        }
    };
    let size = usize::try_from(d.size)
        .map_err(|_| Error::InvalidInput("file too large to read ahead".into()))?;
    let start = *len;
    let blocks = size.div_ceil(SECTOR);
    let end = start + blocks * SECTOR;
    // One byte more than planned, to see a file that grew.
    let room_end = end.max(start + size + 1);
    if out.len() < room_end {
        out.resize(room_end, 0);
    }
    let mut got = 0usize;
    loop {
        let room = out
            .get_mut(start + got..start + size + 1)
            .unwrap_or_default();
        if room.is_empty() {
            return Err(grew(&path().display().to_string()));
        }
        let n = match f.read(room) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(host_err(&path(), e)),
        };
        if n == 0 {
            break;
        }
        got += n;
    }
    if got != size {
        return Err(changed_size(
            &path().display().to_string(),
            d.size,
            got as u64,
        ));
    }
    if let Some(pad) = out.get_mut(start + size..end) {
        pad.fill(0);
    }
    *len = end;
    Ok(())
}
