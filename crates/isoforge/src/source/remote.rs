//! Images read in place where they lie: over HTTP(S) byte ranges or from an
//! S3-compatible object store.
//!
//! A [`RemoteSource`] puts a bounded block cache in front of a [`Fetch`]er.
//! Reads are rounded out to aligned blocks; the blocks a read misses are
//! fetched in one request (nearby misses are coalesced, the cached blocks
//! between them fetched again rather than split into several round trips);
//! a run of sequential reads (a digest, an extraction) grows a read-ahead
//! window, so a stream costs a few large requests instead of many small ones.
//! A directory listing touches a few scattered blocks and pays for those
//! only.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::ReadAt;

/// Why a remote image could not be read. It travels inside an
/// [`io::Error`] (see [`remote_error`]) so the readers need no new paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// A range request was answered with the whole object (`200`): the
    /// server does not do ranges, and the image would have to be
    /// downloaded to be read.
    #[error("{url}: the server ignores byte ranges (it answered a range request with the whole object, HTTP 200); download the image first")]
    RangesIgnored {
        /// The object.
        url: String,
    },
    /// The object is not the one first read: its validator or its size
    /// changed between requests.
    #[error("{url}: the image changed on the server while it was being read ({detail})")]
    Changed {
        /// The object.
        url: String,
        /// What differs.
        detail: String,
    },
    /// `404` or the store's "no such key".
    #[error("{url}: not found on the server (HTTP 404)")]
    NotFound {
        /// The object.
        url: String,
    },
    /// `403`: the credentials, if any, do not allow reading it.
    #[error("{url}: access denied (HTTP 403)")]
    Forbidden {
        /// The object.
        url: String,
    },
    /// `401`: credentials missing or refused.
    #[error("{url}: the server wants credentials, or refused the ones given (HTTP 401)")]
    Unauthorized {
        /// The object.
        url: String,
    },
    /// The store refused the credentials given (a wrong S3 key or signature).
    #[error("{url}: the credentials were refused ({detail})")]
    BadCredentials {
        /// The object.
        url: String,
        /// The store's words.
        detail: String,
    },
    /// More redirects than allowed (or a loop).
    #[error("{url}: more than {limit} redirects (a redirect loop?)")]
    TooManyRedirects {
        /// The object.
        url: String,
        /// The limit.
        limit: u32,
    },
    /// No answer in time.
    #[error("{url}: no answer within {} s (timed out)", timeout.as_secs_f64())]
    Timeout {
        /// The object.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// The connection failed or broke, also after the retries.
    #[error("{url}: connection failed: {detail}")]
    Connection {
        /// The object.
        url: String,
        /// What happened.
        detail: String,
    },
    /// A `5xx` answer, also after the retries.
    #[error("{url}: server error (HTTP {status}) after {attempts} attempts")]
    Server {
        /// The object.
        url: String,
        /// The last status.
        status: u16,
        /// Requests made.
        attempts: u32,
    },
    /// An answer that breaks the protocol or is not what was asked for.
    #[error("{url}: {detail}")]
    Protocol {
        /// The object.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The location cannot be used (bad URL, unknown scheme, a store this
    /// build cannot reach).
    #[error("{url}: {detail}")]
    Location {
        /// The location as given.
        url: String,
        /// Why it cannot be used.
        detail: String,
    },
}

impl RemoteError {
    /// Whether trying again may help (a broken connection, a `5xx`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RemoteError::Connection { .. } | RemoteError::Server { .. }
        )
    }
    fn into_io(self) -> io::Error {
        let kind = match &self {
            RemoteError::NotFound { .. } => io::ErrorKind::NotFound,
            RemoteError::Forbidden { .. }
            | RemoteError::Unauthorized { .. }
            | RemoteError::BadCredentials { .. } => io::ErrorKind::PermissionDenied,
            RemoteError::Timeout { .. } => io::ErrorKind::TimedOut,
            RemoteError::Connection { .. } => io::ErrorKind::ConnectionAborted,
            RemoteError::Location { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

impl From<RemoteError> for io::Error {
    fn from(e: RemoteError) -> io::Error {
        e.into_io()
    }
}

/// The [`RemoteError`] inside an error or any of its causes, if there is one.
pub fn remote_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a RemoteError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<RemoteError>() {
            return Some(r);
        }
        if let Some(r) = c
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<RemoteError>())
        {
            return Some(r);
        }
        if let Some(crate::Error::Io { source, .. }) = c.downcast_ref::<crate::Error>() {
            if let Some(r) = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<RemoteError>())
            {
                return Some(r);
            }
        }
        cur = c.source();
    }
    None
}

/// Byte ranges of one remote object, fetched exactly.
pub trait Fetch: Send + Sync {
    /// Fills all of `buf` with the object's bytes from `offset`; the range
    /// lies inside the object.
    fn fetch(&self, offset: u64, buf: &mut [u8], stats: &Stats) -> Result<(), RemoteError>;
}

/// Requests made and bytes fetched.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Stats {
    /// Counts one request (every attempt and redirect hop counts).
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts body bytes received.
    pub fn received(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
    /// Requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Body bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Settings of remote reading.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// Limit on connecting, on waiting for an answer, and on each wait for
    /// more of a body.
    pub timeout: Duration,
    /// Retries of a request after a connection failure or a `5xx`, with
    /// doubling pauses from [`RemoteOptions::backoff`].
    pub retries: u32,
    /// The first pause before a retry.
    pub backoff: Duration,
    /// Redirects followed per request.
    pub max_redirects: u32,
    /// Bearer token sent to the host named in the URL (never to another
    /// host a redirect leads to).
    pub bearer_token: Option<String>,
    /// Credentials by host, from a `.netrc` file: sent over HTTPS, and over
    /// plain HTTP only to the host named in the URL.
    pub netrc: Option<super::netrc::Netrc>,
    /// Cache block size (a power of two).
    pub block_size: u64,
    /// Most bytes held in the cache.
    pub cache_bytes: u64,
    /// Largest read-ahead window.
    pub max_readahead: u64,
    /// S3-compatible endpoint (`http://host:port`), instead of AWS.
    pub s3_endpoint: Option<String>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(250),
            max_redirects: 10,
            bearer_token: None,
            netrc: None,
            block_size: 256 << 10,
            cache_bytes: 64 << 20,
            max_readahead: 16 << 20,
            s3_endpoint: None,
        }
    }
}

impl RemoteOptions {
    /// The options with a timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// The options with a number of retries.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }
    /// The options with a bearer token.
    pub fn bearer_token(mut self, t: Option<String>) -> Self {
        self.bearer_token = t;
        self
    }
    /// The options with `.netrc` credentials.
    pub fn netrc(mut self, n: Option<super::netrc::Netrc>) -> Self {
        self.netrc = n;
        self
    }
    /// The options with an S3 endpoint.
    pub fn s3_endpoint(mut self, e: Option<String>) -> Self {
        self.s3_endpoint = e;
        self
    }
}

/// Whether `location` names a remote image (`http://`, `https://`, `s3://`).
pub fn is_remote(location: &str) -> bool {
    ["http://", "https://", "s3://"].iter().any(|p| {
        location
            .get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    })
}

struct Block {
    data: Vec<u8>,
    used: u64,
}

#[derive(Default)]
struct CacheState {
    blocks: HashMap<u64, Block>,
    tick: u64,
    /// Where the last read ended, and how many bytes in a row were read
    /// sequentially up to there.
    seq_end: u64,
    seq_run: u64,
}

/// A remote object read through a bounded block cache.
pub struct RemoteSource {
    fetcher: Box<dyn Fetch>,
    location: String,
    size: u64,
    block: u64,
    max_blocks: usize,
    max_readahead: u64,
    state: Mutex<CacheState>,
    stats: Stats,
}

impl fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSource")
            .field("location", &self.location)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl RemoteSource {
    /// Opens `location` (`http://`, `https://` or `s3://bucket/key`): the
    /// first request pins the object's size and validator.
    pub fn open(location: &str, opts: &RemoteOptions) -> Result<RemoteSource, RemoteError> {
        let stats = Stats::default();
        let lower = location.to_ascii_lowercase();
        let (fetcher, size, first): Opened =
            if lower.starts_with("http://") || lower.starts_with("https://") {
                let block = opts.block_size;
                let (f, size, first) = super::http::HttpFetch::open(location, opts, block, &stats)?;
                (Box::new(f), size, first)
            } else if lower.starts_with("s3://") {
                open_s3(location, opts, &stats)?
            } else {
                return Err(RemoteError::Location {
                    url: location.into(),
                    detail: "not an http://, https:// or s3:// URL".into(),
                });
            };
        let src = RemoteSource::with_fetcher(fetcher, location, size, opts);
        src.seed(&first);
        src.stats
            .requests
            .store(stats.requests(), Ordering::Relaxed);
        src.stats.bytes.store(stats.bytes(), Ordering::Relaxed);
        Ok(src)
    }

    /// A cache in front of any fetcher of an object of `size` bytes.
    pub fn with_fetcher(
        fetcher: Box<dyn Fetch>,
        location: &str,
        size: u64,
        opts: &RemoteOptions,
    ) -> RemoteSource {
        let block = opts.block_size.max(4096).next_power_of_two();
        let max_blocks = usize::try_from((opts.cache_bytes / block).max(8)).unwrap_or(8);
        // Read-ahead never takes more than half the cache.
        let max_readahead = opts.max_readahead.min(block * (max_blocks as u64 / 2));
        RemoteSource {
            fetcher,
            location: location.into(),
            size,
            block,
            max_blocks,
            max_readahead,
            state: Mutex::new(CacheState::default()),
            stats: Stats::default(),
        }
    }

    /// The location as given.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Requests made and bytes fetched so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Puts the bytes of the first request (from offset 0) in the cache.
    fn seed(&self, first: &[u8]) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let block = usize::try_from(self.block).unwrap_or(usize::MAX);
        for (i, chunk) in first.chunks(block).enumerate() {
            let end = (i as u64 + 1) * self.block;
            // Only whole blocks (or the object's last one).
            if chunk.len() == block || end >= self.size {
                let used = st.tick;
                st.blocks.insert(
                    i as u64,
                    Block {
                        data: chunk.to_vec(),
                        used,
                    },
                );
            }
        }
    }

    fn block_len(&self, index: u64) -> u64 {
        let start = index * self.block;
        self.block.min(self.size.saturating_sub(start))
    }

    /// Fetches blocks `first..end` in one request (or several of at most
    /// the read-ahead limit) and caches them.
    fn fill(&self, st: &mut CacheState, first: u64, end: u64, keep: (u64, u64)) -> io::Result<()> {
        let per_request = (self.max_readahead / self.block).max(1);
        let mut b = first;
        while b < end {
            let stop = end.min(b + per_request);
            let start_off = b * self.block;
            let stop_off = (stop * self.block).min(self.size);
            let len = usize::try_from(stop_off - start_off)
                .map_err(|_| io::Error::other("request too large"))?;
            let mut buf = vec![0u8; len];
            self.fetcher
                .fetch(start_off, &mut buf, &self.stats)
                .map_err(RemoteError::into_io)?;
            self.make_room(st, stop - b, keep);
            let block = usize::try_from(self.block).unwrap_or(usize::MAX);
            for (i, chunk) in buf.chunks(block).enumerate() {
                st.tick += 1;
                let used = st.tick;
                st.blocks.insert(
                    b + i as u64,
                    Block {
                        data: chunk.to_vec(),
                        used,
                    },
                );
            }
            b = stop;
        }
        Ok(())
    }

    /// Evicts the least recently used blocks so that `incoming` more fit,
    /// sparing the blocks `keep.0..keep.1` the current read needs.
    fn make_room(&self, st: &mut CacheState, incoming: u64, keep: (u64, u64)) {
        let incoming = usize::try_from(incoming).unwrap_or(usize::MAX);
        let total = st.blocks.len().saturating_add(incoming);
        if total <= self.max_blocks {
            return;
        }
        let mut ages: Vec<(u64, u64)> = st
            .blocks
            .iter()
            .filter(|(i, _)| !(keep.0..keep.1).contains(*i))
            .map(|(i, b)| (b.used, *i))
            .collect();
        ages.sort_unstable();
        for (_, i) in ages.into_iter().take(total - self.max_blocks) {
            st.blocks.remove(&i);
        }
    }

    fn read_cached(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let len = buf.len() as u64;
        let end = offset + len;
        let first = offset / self.block;
        let last = (end - 1) / self.block;
        let nblocks = self.size.div_ceil(self.block);
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("remote cache lock poisoned"))?;
        if offset == st.seq_end {
            st.seq_run = st.seq_run.saturating_add(len);
        } else {
            st.seq_run = len;
        }
        st.seq_end = end;
        let missing: Vec<u64> = (first..=last)
            .filter(|i| !st.blocks.contains_key(i))
            .collect();
        if let (Some(&lo), Some(&hi)) = (missing.first(), missing.last()) {
            // Read-ahead once two blocks' worth were read in order, as
            // large as the sequential run so far, within the limit.
            let readahead = if st.seq_run >= 2 * self.block {
                st.seq_run.min(self.max_readahead) / self.block
            } else {
                0
            };
            // The window counts from the first missing block, so a
            // read-ahead request is one request, not one plus a remainder.
            let mut stop = hi + 1;
            let limit = (last + 1).max(lo + readahead).min(nblocks);
            while stop < limit && !st.blocks.contains_key(&stop) {
                stop += 1;
            }
            self.fill(&mut st, lo, stop, (first, last + 1))?;
        }
        let mut pos = 0usize;
        for i in first..=last {
            st.tick += 1;
            let tick = st.tick;
            let blk = st
                .blocks
                .get_mut(&i)
                .ok_or_else(|| io::Error::other("remote cache lost a block"))?;
            blk.used = tick;
            let start = usize::try_from(offset.saturating_sub(i * self.block)).unwrap_or(0);
            let avail = blk.data.get(start..).unwrap_or_default();
            let want = buf.len() - pos;
            let n = avail.len().min(want);
            let (dst, src) = (buf.get_mut(pos..pos + n), avail.get(..n));
            match (dst, src) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => return Err(io::Error::other("remote cache block too short")),
            }
            pos += n;
            debug_assert!(self.block_len(i) == blk.data.len() as u64);
        }
        if pos != buf.len() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

impl ReadAt for RemoteSource {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        if end > self.size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // A read larger than the read-ahead limit would flush the cache:
        // it is fetched straight into the caller's buffer.
        if buf.len() as u64 > self.max_readahead {
            let step = usize::try_from(self.max_readahead).unwrap_or(usize::MAX);
            let mut off = offset;
            for piece in buf.chunks_mut(step) {
                self.fetcher
                    .fetch(off, piece, &self.stats)
                    .map_err(RemoteError::into_io)?;
                off += piece.len() as u64;
            }
            return Ok(());
        }
        self.read_cached(offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.size)
    }
}

/// A fetcher, the object's length, and the bytes its first request read
/// (from offset 0).
type Opened = (Box<dyn Fetch>, u64, Vec<u8>);

#[cfg(feature = "s3")]
fn open_s3(location: &str, opts: &RemoteOptions, stats: &Stats) -> Result<Opened, RemoteError> {
    let (f, size, first) = super::s3::S3Fetch::open(location, opts, stats)?;
    Ok((Box::new(f), size, first))
}

#[cfg(not(feature = "s3"))]
fn open_s3(location: &str, _opts: &RemoteOptions, _stats: &Stats) -> Result<Opened, RemoteError> {
    Err(RemoteError::Location {
        url: location.into(),
        detail: "this build of isoforge cannot read from S3 (built without the `s3` feature)"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory object that records the ranges asked for.
    struct Mem {
        data: Vec<u8>,
        asked: Mutex<Vec<(u64, usize)>>,
    }

    impl Fetch for std::sync::Arc<Mem> {
        fn fetch(&self, offset: u64, buf: &mut [u8], stats: &Stats) -> Result<(), RemoteError> {
            self.asked.lock().unwrap().push((offset, buf.len()));
            stats.request();
            stats.received(buf.len() as u64);
            let o = offset as usize;
            buf.copy_from_slice(&self.data[o..o + buf.len()]);
            Ok(())
        }
    }

    fn source(size: usize, opts: &RemoteOptions) -> (RemoteSource, std::sync::Arc<Mem>) {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 4096) as u8).collect();
        let mem = std::sync::Arc::new(Mem {
            data,
            asked: Mutex::new(Vec::new()),
        });
        let src = RemoteSource::with_fetcher(Box::new(mem.clone()), "mem:", size as u64, opts);
        (src, mem)
    }

    fn small_opts() -> RemoteOptions {
        RemoteOptions {
            block_size: 4096,
            cache_bytes: 16 * 4096,
            max_readahead: 8 * 4096,
            ..RemoteOptions::default()
        }
    }

    #[test]
    fn reads_match_the_object_and_are_aligned_and_cached() {
        let (src, mem) = source(100_000, &small_opts());
        let mut b = [0u8; 100];
        src.read_exact_at(5000, &mut b).unwrap();
        assert_eq!(&b[..], &mem.data[5000..5100]);
        assert_eq!(*mem.asked.lock().unwrap(), vec![(4096, 4096)]);
        // The same block again: no request.
        src.read_exact_at(4200, &mut b).unwrap();
        assert_eq!(mem.asked.lock().unwrap().len(), 1);
        // The last, short block.
        let mut t = [0u8; 10];
        src.read_exact_at(99_990, &mut t).unwrap();
        assert_eq!(&t[..], &mem.data[99_990..]);
        assert!(src.read_exact_at(99_995, &mut t).is_err());
        assert!(src.read_exact_at(u64::MAX - 2, &mut t).is_err());
    }

    #[test]
    fn a_read_over_several_missing_blocks_is_one_request() {
        let (src, mem) = source(100_000, &small_opts());
        let mut one = [0u8; 1];
        src.read_exact_at(3 * 4096, &mut one).unwrap();
        let mut b = vec![0u8; 6 * 4096];
        src.read_exact_at(4096, &mut b).unwrap();
        assert_eq!(&b[..], &mem.data[4096..7 * 4096]);
        // Blocks 1..7 in one request, block 3 fetched again.
        assert_eq!(mem.asked.lock().unwrap()[1], (4096, 6 * 4096));
    }

    #[test]
    fn sequential_reads_grow_a_readahead_and_memory_stays_bounded() {
        let (src, mem) = source(1 << 20, &small_opts());
        let mut b = vec![0u8; 4096];
        let mut off = 0u64;
        while off < 1 << 20 {
            src.read_exact_at(off, &mut b).unwrap();
            assert_eq!(&b[..], &mem.data[off as usize..off as usize + 4096]);
            off += 4096;
        }
        let asked = mem.asked.lock().unwrap();
        // 256 blocks in requests of up to 8: far fewer than 256 requests.
        assert!(asked.len() < 256 / 6, "{}", asked.len());
        assert!(asked.iter().all(|(_, n)| *n <= 8 * 4096));
        assert!(src.state.lock().unwrap().blocks.len() <= 16);
        // Every byte fetched once.
        assert_eq!(asked.iter().map(|(_, n)| n).sum::<usize>(), 1 << 20);
    }

    #[test]
    fn scattered_small_reads_get_no_readahead() {
        let (src, mem) = source(1 << 20, &small_opts());
        let mut b = [0u8; 2048];
        for k in [10u64, 50, 20, 90, 60] {
            src.read_exact_at(k * 4096, &mut b).unwrap();
        }
        assert!(mem.asked.lock().unwrap().iter().all(|(_, n)| *n == 4096));
    }

    #[test]
    fn large_reads_bypass_the_cache() {
        let (src, mem) = source(1 << 20, &small_opts());
        let mut b = vec![0u8; 20 * 4096];
        src.read_exact_at(100, &mut b).unwrap();
        assert_eq!(&b[..], &mem.data[100..100 + 20 * 4096]);
        assert!(src.state.lock().unwrap().blocks.is_empty());
    }

    #[test]
    fn locations() {
        assert!(is_remote("https://x/y.iso"));
        assert!(is_remote("HTTP://x/y.iso"));
        assert!(is_remote("s3://b/k"));
        assert!(!is_remote("./http:/x"));
        assert!(!is_remote("s3:"));
    }
}
