//! Reading file contents: plain and multi-extent files by byte ranges, and
//! zisofs-compressed files inflated block by block into bounded buffers.

use std::io::{self, Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::{block_offset, DataRun, Entry, Image, Zisofs};
use crate::error::{Error, Result};
use crate::source::ReadAt;

/// The runs of a file's data, each checked against the image size.
pub(crate) fn ranges<S: ReadAt>(img: &Image<S>, e: &Entry) -> Result<Vec<DataRun>> {
    let size = img.info().image_size;
    if let Some(u) = &e.udf {
        for r in &u.runs {
            if let Some(off) = r.offset {
                if off.checked_add(r.len).is_none_or(|end| end > size) {
                    return Err(Error::corrupt(
                        "UDF file entry",
                        u.icb_offset,
                        format!(
                            "{}: {} bytes of data at byte {off} lie past the end of the image ({size} bytes)",
                            e.path, r.len
                        ),
                    ));
                }
            }
        }
        return Ok(u.runs.clone());
    }
    let mut out = Vec::with_capacity(e.extents.len());
    for x in &e.extents {
        let off = block_offset(x.lba, img.info().block_size).ok_or_else(|| {
            Error::corrupt(
                "directory record",
                e.record_offset,
                "extent location overflows",
            )
        })?;
        let end = off.checked_add(x.len.into());
        if end.is_none_or(|end| end > size) {
            return Err(Error::corrupt(
                "directory record",
                e.record_offset,
                format!(
                    "{}: extent of {} bytes at block {} lies past the end of the image ({} bytes)",
                    e.path, x.len, x.lba, size
                ),
            ));
        }
        out.push(DataRun {
            offset: Some(off),
            len: u64::from(x.len),
        });
    }
    Ok(out)
}

/// The zisofs file header magic.
const ZISOFS_MAGIC: [u8; 8] = [0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];

/// The most bytes a compressed zisofs block of `bs` bytes may take: zlib's
/// worst case for that much input (its conservative `deflateBound`), which
/// is the limit the Linux kernel's isofs reader enforces. Writers stay
/// below it: libisofs (xorriso) and mkzftree compress each block with
/// `compress2` into a buffer of `compressBound(bs)` bytes, a few dozen
/// bytes over the block size for data that does not compress. For 128 KiB
/// blocks (the largest) this is 149,515 bytes.
const fn max_stored_block(bs: usize) -> usize {
    bs + bs.div_ceil(8) + bs.div_ceil(64) + 11
}

/// Reads a file's contents. Implements [`Read`].
pub struct FileReader<'a, S: ReadAt> {
    img: &'a Image<S>,
    ranges: Vec<DataRun>,
    /// Index of the current range and position within it.
    cur: usize,
    pos_in: u64,
    z: Option<ZState>,
}

struct ZState {
    index: ZisofsIndex,
    /// The next block to inflate.
    block: usize,
    buf: Vec<u8>,
    buf_pos: usize,
    remaining: u64,
}

/// The block table of a zisofs file: enough to inflate any one block on its
/// own, so a file can be read at any offset without inflating what comes
/// before it. Owns its data (no borrow of the image).
#[derive(Debug, Clone)]
pub struct ZisofsIndex {
    params: Zisofs,
    /// Byte offsets (within the stored file) of each block, nblocks + 1 of them.
    pointers: Vec<u32>,
    ranges: Vec<DataRun>,
    path: String,
    record_offset: u64,
}

impl ZisofsIndex {
    /// Reads and checks the header and block pointer table of a zisofs file
    /// whose stored data lies in `ranges`.
    pub(crate) fn new<S: ReadAt>(
        img: &Image<S>,
        e: &Entry,
        p: Zisofs,
        ranges: Vec<DataRun>,
    ) -> Result<Self> {
        let mut z = ZisofsIndex {
            params: p,
            pointers: Vec::new(),
            ranges,
            path: e.path.clone(),
            record_offset: e.record_offset,
        };
        if !(15..=17).contains(&p.log2_block_size) {
            return Err(z.corrupt(format!(
                "block size 2^{} is not 2^15..2^17",
                p.log2_block_size
            )));
        }
        let mut hdr = [0u8; 16];
        z.read_stored_at(img, 0, &mut hdr)?;
        if hdr.get(..8) != Some(&ZISOFS_MAGIC[..]) {
            return Err(z.corrupt("missing zisofs header magic"));
        }
        let size = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
        let hsize = u32::from(hdr[12]) * 4;
        if hdr[13] != p.log2_block_size || hsize < 16 {
            return Err(z.corrupt("header disagrees with its ZF entry"));
        }
        if size != p.uncompressed_size {
            return Err(z.corrupt(format!(
                "header size {size} differs from ZF size {}",
                p.uncompressed_size
            )));
        }
        let bs = 1u64 << p.log2_block_size;
        let nblocks = u64::from(size).div_ceil(bs);
        let table_len = (nblocks + 1) * 4;
        let stored = z.stored_len();
        if u64::from(hsize) + table_len > stored {
            return Err(z.corrupt("block pointer table lies past the end of the file"));
        }
        let mut table = vec![0u8; table_len as usize];
        z.read_stored_at(img, hsize.into(), &mut table)?;
        let pointers: Vec<u32> = table
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(<[u8; 4]>::try_from(c).unwrap_or_default()))
            .collect();
        let mut prev = u64::from(hsize) + table_len;
        for &ptr in &pointers {
            let ptr = u64::from(ptr);
            if ptr < prev || ptr > stored {
                return Err(z.corrupt("block pointers are not increasing within the file"));
            }
            prev = ptr;
        }
        z.pointers = pointers;
        Ok(z)
    }

    fn corrupt(&self, msg: impl Into<String>) -> Error {
        Error::corrupt(
            "zisofs file",
            self.record_offset,
            format!("{}: {}", self.path, msg.into()),
        )
    }

    /// The uncompressed size in bytes.
    pub fn size(&self) -> u64 {
        self.params.uncompressed_size.into()
    }

    /// The block size in bytes (32, 64 or 128 KiB).
    pub fn block_size(&self) -> u64 {
        1u64 << self.params.log2_block_size
    }

    /// Reads `buf.len()` bytes at `pos` of the stored (compressed) data.
    fn read_stored_at<S: ReadAt>(
        &self,
        img: &Image<S>,
        mut pos: u64,
        mut buf: &mut [u8],
    ) -> Result<()> {
        for r in &self.ranges {
            let len = r.len;
            if buf.is_empty() {
                break;
            }
            if pos >= len {
                pos -= len;
                continue;
            }
            let n = (len - pos).min(buf.len() as u64) as usize;
            let (head, tail) = buf.split_at_mut(n);
            match r.offset {
                Some(off) => img.read_at("file data", off + pos, head)?,
                None => head.fill(0),
            }
            buf = tail;
            pos = 0;
        }
        if buf.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt("data ends before the sizes in its header say"))
        }
    }

    fn stored_len(&self) -> u64 {
        self.ranges.iter().map(|r| r.len).sum()
    }

    /// Inflates block `n` (0-based): exactly `block_size` bytes, fewer for
    /// the last block; an index past the end is an error. Nothing larger
    /// than one block (or its stored form) is allocated.
    pub fn block<S: ReadAt>(&self, img: &Image<S>, n: usize) -> Result<Vec<u8>> {
        let bs = 1usize << self.params.log2_block_size;
        let start_byte = (n as u64).saturating_mul(bs as u64);
        let want = self.size().saturating_sub(start_byte).min(bs as u64) as usize;
        let (Some(&start), Some(&end)) = (self.pointers.get(n), self.pointers.get(n + 1)) else {
            return Err(self.corrupt("more data than block pointers"));
        };
        let stored = (end - start) as usize;
        let limit = max_stored_block(bs);
        if stored > limit {
            // Checked before anything is allocated for it.
            return Err(self.corrupt(format!(
                "block {n} is stored in {stored} bytes; a zlib stream of a {bs}-byte block needs {limit} at most"
            )));
        }
        let mut out = vec![0u8; want];
        if end > start {
            let mut input = vec![0u8; stored];
            self.read_stored_at(img, start.into(), &mut input)?;
            let mut d = Decompress::new(true);
            // Output is bounded by `out`, which has exactly the block's size.
            let status = d
                .decompress(&input, &mut out, FlushDecompress::Finish)
                .map_err(|e| self.corrupt(format!("block {n}: {e}")))?;
            if d.total_out() as usize != want
                || !matches!(status, Status::StreamEnd | Status::Ok | Status::BufError)
            {
                return Err(self.corrupt(format!(
                    "block {n} inflates to {} bytes, expected {want}",
                    d.total_out()
                )));
            }
            if status != Status::StreamEnd {
                // The block is full; a stream that still yields output would
                // inflate past the block size (a decompression bomb).
                let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
                let mut extra = [0u8; 1];
                let more = d
                    .decompress(
                        input.get(consumed..).unwrap_or_default(),
                        &mut extra,
                        FlushDecompress::Finish,
                    )
                    .map(|_| d.total_out() as usize > want)
                    .unwrap_or(false);
                if more {
                    return Err(
                        self.corrupt(format!("block {n} inflates to more than {want} bytes"))
                    );
                }
            }
        }
        // An empty block (equal pointers) is a block of zeros.
        Ok(out)
    }
}

impl<'a, S: ReadAt> FileReader<'a, S> {
    pub(crate) fn new(img: &'a Image<S>, e: &Entry) -> Result<Self> {
        if !matches!(e.file_type, super::FileType::File) {
            return Err(Error::InvalidInput(format!(
                "{} is not a regular file",
                e.path
            )));
        }
        let ranges = ranges(img, e)?;
        let z = match e.zisofs {
            Some(p) => {
                let index = ZisofsIndex::new(img, e, p, ranges.clone())?;
                Some(ZState {
                    remaining: index.size(),
                    index,
                    block: 0,
                    buf: Vec::new(),
                    buf_pos: 0,
                })
            }
            None => None,
        };
        Ok(FileReader {
            img,
            ranges,
            cur: 0,
            pos_in: 0,
            z,
        })
    }

    /// Inflates the next zisofs block into the state's buffer.
    fn next_zblock(&mut self) -> Result<()> {
        let Some(z) = self.z.as_mut() else {
            return Ok(());
        };
        let out = z.index.block(self.img, z.block)?;
        z.remaining -= out.len() as u64;
        z.buf = out;
        z.buf_pos = 0;
        z.block += 1;
        Ok(())
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.z.is_some() {
            loop {
                let z = self
                    .z
                    .as_mut()
                    .ok_or_else(|| Error::InvalidInput("not compressed".into()))?;
                let avail = z.buf.get(z.buf_pos..).unwrap_or_default();
                if !avail.is_empty() {
                    let n = avail.len().min(buf.len());
                    let (dst, src) = (buf.iter_mut(), avail.iter());
                    dst.zip(src).for_each(|(d, s)| *d = *s);
                    z.buf_pos += n;
                    return Ok(n);
                }
                if z.remaining == 0 {
                    return Ok(0);
                }
                self.next_zblock()?;
            }
        }
        while let Some(&DataRun { offset, len }) = self.ranges.get(self.cur) {
            if self.pos_in >= len {
                self.cur += 1;
                self.pos_in = 0;
                continue;
            }
            let n = (len - self.pos_in).min(buf.len() as u64) as usize;
            let dst = buf.get_mut(..n).unwrap_or_default();
            match offset {
                Some(off) => self.img.read_at("file data", off + self.pos_in, dst)?,
                None => dst.fill(0),
            }
            self.pos_in += n as u64;
            return Ok(n);
        }
        Ok(0)
    }

    /// Copies the whole (remaining) contents to `out`, returning the byte count.
    pub fn copy_to(&mut self, out: &mut dyn Write) -> Result<u64> {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = self.read_inner(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            out.write_all(buf.get(..n).unwrap_or_default())?;
            total += n as u64;
        }
    }
}

impl<S: ReadAt> Read for FileReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf).map_err(|e| match e {
            Error::Io { source, .. } => source,
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        })
    }
}
