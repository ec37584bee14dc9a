//! Several digests of one source in one read.
//!
//! The calling thread reads the source in [`CHUNK`]-byte pieces with
//! positional reads and hands each piece to one thread per digest over
//! bounded channels. The pieces come from a fixed pool of buffers that
//! return to the pool when the last digest thread is done with them, so
//! memory stays at `POOL * CHUNK` whatever the image size.
//!
//! The reads are `pread`, not `mmap`: mapping a file is `unsafe` (another
//! process truncating it turns reads into SIGBUS) and the workspace forbids
//! `unsafe`. With a reader thread ahead of the hashers, a copy out of the
//! page cache costs far less than the slowest digest, so mapping would not
//! make the pass faster.

use std::io::Read;
use std::sync::mpsc;
use std::sync::Arc;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::md5::Md5;
use super::md5_tag::{CheckPlan, TagSink};
use super::{Algo, Check};
use crate::error::{Error, Result};
use crate::source::ReadAt;

/// Bytes per read.
pub const CHUNK: usize = 4 << 20;
/// Buffers in flight.
const POOL: usize = 6;

/// Consumes the bytes of a source in order, on its own thread.
pub(crate) trait Sink: Send {
    /// Feeds `data`, which starts at byte `offset` of the source.
    fn update(&mut self, offset: u64, data: &[u8]);
}

enum Hasher {
    Sha256(Box<Sha256>),
    Sha512(Box<Sha512>),
    Sha1(Box<Sha1>),
    Md5(Box<Md5>),
}

struct HashSink {
    algo: Algo,
    hasher: Hasher,
}

impl HashSink {
    fn new(algo: Algo) -> HashSink {
        let hasher = match algo {
            Algo::Sha256 => Hasher::Sha256(Box::default()),
            Algo::Sha512 => Hasher::Sha512(Box::default()),
            Algo::Sha1 => Hasher::Sha1(Box::default()),
            Algo::Md5 => Hasher::Md5(Box::default()),
        };
        HashSink { algo, hasher }
    }
    fn finish(self) -> (Algo, Vec<u8>) {
        let out = match self.hasher {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        };
        (self.algo, out)
    }
}

impl Sink for HashSink {
    fn update(&mut self, _offset: u64, data: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
        }
    }
}

/// Digests of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Bytes read.
    pub size: u64,
    values: Vec<(Algo, Vec<u8>)>,
}

impl Digests {
    /// The raw digest for `algo`, if it was computed.
    pub fn bytes(&self, algo: Algo) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, v)| v.as_slice())
    }
    /// The digest for `algo` as lower-case hex, if it was computed.
    pub fn hex(&self, algo: Algo) -> Option<String> {
        self.bytes(algo).map(base16ct::lower::encode_string)
    }
    /// Every computed digest, in the order the algorithms were asked for.
    pub fn iter(&self) -> impl Iterator<Item = (Algo, &[u8])> {
        self.values.iter().map(|(a, v)| (*a, v.as_slice()))
    }
}

/// Computes each algorithm in `algos` over all of `src`, reading it once.
///
/// `progress` is called with the number of bytes read so far. Repeated
/// algorithms are computed once.
pub fn digest<S: ReadAt + ?Sized>(
    src: &S,
    algos: &[Algo],
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Digests> {
    digest_with_tag(src, algos, None, progress).map(|(d, _)| d)
}

/// [`digest`] of a stream (standard input, a pipe), read once to its end.
pub fn digest_reader<R: Read>(
    mut reader: R,
    algos: &[Algo],
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Digests> {
    let mut hashers: Vec<HashSink> = dedup(algos).into_iter().map(HashSink::new).collect();
    let size = {
        let mut sinks: Vec<&mut dyn Sink> = Vec::new();
        for h in hashers.iter_mut() {
            sinks.push(h);
        }
        feed(
            CHUNK,
            POOL,
            |_, buf| read_full(&mut reader, buf).map_err(Error::from),
            &mut sinks,
            progress,
        )?
    };
    let values = hashers.into_iter().map(HashSink::finish).collect();
    Ok(Digests { size, values })
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn dedup(algos: &[Algo]) -> Vec<Algo> {
    let mut wanted: Vec<Algo> = Vec::new();
    for a in algos {
        if !wanted.contains(a) {
            wanted.push(*a);
        }
    }
    wanted
}

/// [`digest`] plus, in the same pass, the isomd5sum check described by `tag`.
pub(crate) fn digest_with_tag<S: ReadAt + ?Sized>(
    src: &S,
    algos: &[Algo],
    tag: Option<CheckPlan>,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<(Digests, Option<Check>)> {
    let size = src.size()?;
    let mut hashers: Vec<HashSink> = dedup(algos).into_iter().map(HashSink::new).collect();
    let mut tag_sink = tag.map(TagSink::new);
    let end = match &tag_sink {
        // The tag covers a prefix of the image; plain digests need all of it.
        Some(t) if hashers.is_empty() => t.end(),
        _ => size,
    };
    {
        let mut sinks: Vec<&mut dyn Sink> = Vec::new();
        for h in hashers.iter_mut() {
            sinks.push(h);
        }
        if let Some(t) = tag_sink.as_mut() {
            sinks.push(t);
        }
        run_pass(src, end, &mut sinks, progress)?;
    }
    let values = hashers.into_iter().map(HashSink::finish).collect();
    Ok((Digests { size, values }, tag_sink.map(TagSink::finish)))
}

/// A buffer on loan from the pool; it goes home when the last reader drops it.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
    offset: u64,
    home: mpsc::Sender<Vec<u8>>,
}

impl Chunk {
    fn data(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The pool may be gone when the pass ended early; the buffer is then freed.
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

/// Feeds bytes `0..end` of `src` to every sink, each on its own thread.
pub(crate) fn run_pass<S: ReadAt + ?Sized>(
    src: &S,
    end: u64,
    sinks: &mut [&mut dyn Sink],
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<()> {
    if sinks.is_empty() || end == 0 {
        if let Some(p) = progress {
            p(0);
        }
        return Ok(());
    }
    let chunk_len = usize::try_from(end).map_or(CHUNK, |e| e.min(CHUNK));
    let chunks_needed = end.div_ceil(CHUNK as u64);
    let pool_len = usize::try_from(chunks_needed).map_or(POOL, |n| n.min(POOL));
    let fill = |offset: u64, buf: &mut [u8]| {
        let n = usize::try_from(end - offset).map_or(buf.len(), |r| r.min(buf.len()));
        let dst = buf.get_mut(..n).unwrap_or_default();
        src.read_exact_at(offset, dst)
            .map_err(|e| Error::io_at(e, offset))?;
        Ok(n)
    };
    feed(chunk_len, pool_len, fill, sinks, progress).map(|_| ())
}

/// Hands the pieces `fill` reads (until it reads none) to every sink, each
/// on its own thread; the bytes read.
fn feed(
    chunk_len: usize,
    pool_len: usize,
    mut fill: impl FnMut(u64, &mut [u8]) -> Result<usize>,
    sinks: &mut [&mut dyn Sink],
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<u64> {
    let (home_tx, pool_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..pool_len {
        // Cannot fail: the receiver is alive.
        let _ = home_tx.send(vec![0u8; chunk_len]);
    }

    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(sinks.len());
        let mut handles = Vec::with_capacity(sinks.len());
        for sink in sinks.iter_mut() {
            let (tx, rx) = mpsc::sync_channel::<Arc<Chunk>>(POOL);
            senders.push(tx);
            handles.push(scope.spawn(move || {
                while let Ok(chunk) = rx.recv() {
                    sink.update(chunk.offset, chunk.data());
                }
            }));
        }

        let mut result = Ok(());
        let mut offset = 0u64;
        loop {
            let Ok(mut buf) = pool_rx.recv() else {
                result = Err(Error::InvalidInput("digest buffer pool closed".into()));
                break;
            };
            buf.resize(chunk_len, 0);
            let n = match fill(offset, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
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
                result = Err(Error::InvalidInput("a digest thread stopped".into()));
                break;
            }
            drop(chunk);
            offset += n as u64;
            if let Some(p) = progress {
                p(offset);
            }
        }
        drop(senders);
        for h in handles {
            if h.join().is_err() && result.is_ok() {
                result = Err(Error::InvalidInput("a digest thread panicked".into()));
            }
        }
        result.map(|()| offset)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(algo: Algo, data: &[u8]) -> String {
        let mut h = HashSink::new(algo);
        h.update(0, data);
        base16ct::lower::encode_string(&h.finish().1)
    }

    #[test]
    fn known_vectors() {
        let d = digest(&b"abc".to_vec(), &Algo::ALL, None).unwrap();
        assert_eq!(
            d.hex(Algo::Sha256).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            d.hex(Algo::Md5).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            d.hex(Algo::Sha1).unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(d.size, 3);
    }

    #[test]
    fn empty_and_chunk_edges() {
        let empty: Vec<u8> = Vec::new();
        let d = digest(&empty, &[Algo::Md5], None).unwrap();
        assert_eq!(
            d.hex(Algo::Md5).unwrap(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        for len in [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let seen = std::sync::atomic::AtomicU64::new(0);
            let p = |n: u64| seen.store(n, std::sync::atomic::Ordering::Relaxed);
            let d = digest(&data, &[Algo::Sha256, Algo::Md5, Algo::Sha256], Some(&p)).unwrap();
            assert_eq!(d.hex(Algo::Sha256).unwrap(), hex(Algo::Sha256, &data));
            assert_eq!(d.hex(Algo::Md5).unwrap(), hex(Algo::Md5, &data));
            assert_eq!(d.iter().count(), 2);
            assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), len as u64);
        }
    }

    #[test]
    fn streams_give_the_digests_of_positional_reads() {
        /// Hands out at most 1000 bytes per read, as a pipe may.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(1000);
                let (now, rest) = self.0.split_at(n);
                buf[..n].copy_from_slice(now);
                self.0 = rest;
                Ok(n)
            }
        }
        for len in [0, 1, CHUNK, 2 * CHUNK + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let algos = [Algo::Sha512, Algo::Sha1];
            let streamed = digest_reader(Trickle(&data), &algos, None).unwrap();
            assert_eq!(streamed, digest(&data, &algos, None).unwrap(), "{len}");
        }
    }

    struct Short;
    impl ReadAt for Short {
        fn read_exact_at(&self, offset: u64, _buf: &mut [u8]) -> std::io::Result<()> {
            if offset > 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            Ok(())
        }
        fn size(&self) -> std::io::Result<u64> {
            Ok(3 * CHUNK as u64)
        }
    }

    #[test]
    fn read_error_is_an_error() {
        let e = digest(&Short, &[Algo::Sha1, Algo::Md5], None).unwrap_err();
        assert!(e.to_string().contains(&format!("{CHUNK}")), "{e}");
    }
}
