//! Phase 2 of writing: every block in LBA order, in one pass, to any `Write`.

use std::fs::File;
use std::io::{BufWriter, Write};

use isoforge_format::ecma119::dirrec::{DirRecordSpec, FileFlags};
use isoforge_format::ecma119::path_table::PathTableRecord;
use isoforge_format::ecma119::volume::{RawVolumeDescriptor, EL_TORITO_ID, STANDARD_ID};
use isoforge_format::num::{Be32, Both16, Both32, Le32};
use isoforge_format::strings::{encode_ucs2be, pad_field};
use isoforge_format::susp::Continuation;
use isoforge_format::time::IsoTime;
use isoforge_format::SECTOR;
use zerocopy::{FromZeros, IntoBytes};

use super::boot::Tail;
use super::builder::{host_err, FileSource, ImageData, Kind, Src, VolumeText};
use super::plan::{changed_size, DirBuf, NsTree, Plan, Set, KERNEL_COPY};
use super::readahead::{self, ReadAhead};
use super::rockridge::dir_time;
use crate::error::{Error, Result};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    /// Bytes written.
    pub bytes: u64,
    /// Files whose data was written (shared extents count once).
    pub files: u64,
}

/// Counts bytes written so the emitter can check every block lands where
/// the plan put it.
struct Counting<'a> {
    out: Out<'a>,
    pos: u64,
    progress: &'a dyn Fn(u64),
    cancel: crate::Cancel,
}

/// Where the image goes: any stream, or a file that large inputs are copied
/// into by the kernel and zero runs are skipped in (left as holes).
enum Out<'a> {
    Stream(&'a mut dyn Write),
    File(BufWriter<SparseFile<'a>>),
}

/// Writes to a file at a tracked position, leaving holes where whole 64 KiB
/// pieces are zero; runs of pieces with data go out in one write each.
struct SparseFile<'a> {
    f: &'a File,
    pos: u64,
    cancel: crate::Cancel,
}

impl SparseFile<'_> {
    /// Copies `len` bytes at `off` of `src` here, in the kernel, skipping
    /// holes.
    fn copy_from(&mut self, src: &File, off: u64, len: u64) -> std::io::Result<()> {
        crate::fsutil::copy_range_sparse(src, off, len, self.f, self.pos, &self.cancel)?;
        self.pos += len;
        Ok(())
    }
}

impl Write for SparseFile<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        const PIECE: usize = 64 * 1024;
        let mut run: Option<(usize, usize)> = None;
        let mut at = 0usize;
        for piece in buf.chunks(PIECE) {
            let data = piece.len() < PIECE || piece.iter().any(|&b| b != 0);
            match run {
                Some((s, _)) if data => run = Some((s, at + piece.len())),
                None if data => run = Some((at, at + piece.len())),
                Some((s, e)) => {
                    self.f
                        .write_all_at(buf.get(s..e).unwrap_or_default(), self.pos + s as u64)?;
                    run = None;
                }
                None => {}
            }
            at += piece.len();
        }
        if let Some((s, e)) = run {
            self.f
                .write_all_at(buf.get(s..e).unwrap_or_default(), self.pos + s as u64)?;
        }
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Write for Out<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Stream(w) => w.write(b),
            Out::File(w) => w.write(b),
        }
    }
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Stream(w) => w.write_all(b),
            Out::File(w) => w.write_all(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Stream(w) => w.flush(),
            Out::File(w) => w.flush(),
        }
    }
}

impl Counting<'_> {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.cancel.check()?;
        self.out.write_all(b)?;
        self.pos += b.len() as u64;
        (self.progress)(b.len() as u64);
        Ok(())
    }
    fn zeros(&mut self, mut n: u64) -> Result<()> {
        let z = [0u8; SECTOR];
        while n > 0 {
            let k = n.min(SECTOR as u64) as usize;
            self.put(z.get(..k).unwrap_or_default())?;
            n -= k as u64;
        }
        Ok(())
    }
    fn pad_to_block(&mut self) -> Result<()> {
        let r = self.pos % SECTOR as u64;
        if r != 0 {
            self.zeros(SECTOR as u64 - r)?;
        }
        Ok(())
    }
    /// Zeros up to block `lba` when the layout left one block of padding
    /// there (before a large file, see `Plan::page_parity`); anything else
    /// than `lba` or that one block before it is a layout error.
    fn skip_pad(&mut self, lba: u32, size: u64) -> Result<()> {
        let want = u64::from(lba) * SECTOR as u64;
        if size >= KERNEL_COPY && self.pos + SECTOR as u64 == want {
            self.zeros(SECTOR as u64)?;
        }
        self.at(lba)
    }
    fn at(&self, lba: u32) -> Result<()> {
        if self.pos != u64::from(lba) * SECTOR as u64 {
            return Err(Error::InvalidInput(format!(
                "internal layout error: at byte {} instead of block {lba}",
                self.pos
            )));
        }
        Ok(())
    }
}

fn text_field(s: &str, field: &mut [u8], joliet: bool) {
    if joliet {
        let mut v = Vec::new();
        encode_ucs2be(s, &mut v);
        v.truncate(field.len() & !1);
        field.fill(0);
        // UCS-2 fields pad with spaces (0x00 0x20).
        for pair in field.chunks_exact_mut(2) {
            pair.copy_from_slice(&[0, b' ']);
        }
        for (o, b) in field.iter_mut().zip(&v) {
            *o = *b;
        }
    } else {
        pad_field(s.as_bytes(), field);
    }
}

/// Data items that one kernel copy writes: files of one image file, each
/// stored in one extent, that follow one another block after block in the
/// new image and lie at the same distances in the old one.
struct Span<'a> {
    src: &'a File,
    /// Byte offset in the old image and length, from the first file's start
    /// to the last one's end.
    off: u64,
    len: u64,
    /// How many data items.
    count: usize,
}

/// Copies a span straight from the old image into the output file. The
/// bytes between two of its files are the old image's rest of the first
/// one's last block (padding), which the new image has at that place too.
fn copy_span(w: &mut Counting<'_>, span: &Span<'_>) -> Result<()> {
    let Out::File(bw) = &mut w.out else {
        return Err(Error::InvalidInput("direct copy needs a file".into()));
    };
    bw.flush()?;
    bw.get_mut()
        .copy_from(span.src, span.off, span.len)
        .map_err(|e| Error::Io {
            source: e,
            offset: Some(span.off),
        })?;
    w.pos += span.len;
    (w.progress)(span.len);
    Ok(())
}

/// Copies an image file's runs straight from the old image into the output file.
fn copy_image(w: &mut Counting<'_>, img: &ImageData) -> Result<()> {
    let Out::File(bw) = &mut w.out else {
        return Err(Error::InvalidInput("direct copy needs a file".into()));
    };
    let Some(src) = img.src.as_file() else {
        return Err(Error::InvalidInput("direct copy needs a file".into()));
    };
    bw.flush()?;
    let sink = bw.get_mut();
    for &(off, len) in &img.runs {
        sink.copy_from(src, off, len).map_err(|e| {
            if w.cancel.is_cancelled() {
                Error::Cancelled
            } else {
                Error::Io {
                    source: e,
                    offset: Some(off),
                }
            }
        })?;
        w.pos += len;
        (w.progress)(len);
    }
    Ok(())
}

impl Plan {
    /// A primary or supplementary volume descriptor of `set`: its volume
    /// ends where the image's does, counted from the set's origin.
    fn volume_descriptor(
        &self,
        t: &NsTree,
        vd_type: u8,
        version: u8,
        set: Set,
    ) -> Result<[u8; SECTOR]> {
        let o = &self.b.opts;
        let joliet = t.joliet;
        let own = match &o.joliet_text {
            Some(j) if joliet => j.clone(),
            _ => VolumeText {
                system_id: o.system_id.clone(),
                volume_id: o.volume_id.clone(),
                volume_set_id: o.volume_set_id.clone(),
                publisher: o.publisher.clone(),
                preparer: o.preparer.clone(),
                application: o.application.clone(),
                file_ids: o.file_ids.clone(),
                application_use: o.application_use.clone().unwrap_or_default(),
            },
        };
        let mut raw = RawVolumeDescriptor::new_zeroed();
        raw.vd_type = vd_type;
        raw.standard_id = *STANDARD_ID;
        raw.version = version;
        text_field(&own.system_id, &mut raw.system_id, joliet);
        text_field(&own.volume_id, &mut raw.volume_id, joliet);
        raw.volume_space_size = Both32::new(set.data(self.total_blocks));
        if joliet {
            // Escape sequence for UCS-2 level 3.
            raw.escape_sequences[..3].copy_from_slice(&[0x25, 0x2F, 0x45]);
        }
        raw.volume_set_size = Both16::new(1);
        raw.volume_sequence_number = Both16::new(1);
        raw.logical_block_size = Both16::new(SECTOR as u16);
        raw.path_table_size = Both32::new(t.table_size);
        raw.l_path_table = Le32::new(set.meta(t.l_table));
        raw.m_path_table = Be32::new(set.meta(t.m_table));
        let root = t
            .dirs
            .first()
            .ok_or_else(|| Error::InvalidInput("no root directory".into()))?;
        let mut rec = Vec::with_capacity(34);
        DirRecordSpec {
            ear_len: 0,
            extent: set.meta(root.lba),
            data_len: root.size,
            recorded: dir_time(
                self.b
                    .nodes
                    .first()
                    .map(|n| n.meta.mtime)
                    .unwrap_or_default(),
            ),
            flags: FileFlags::DIRECTORY,
            name: &[0],
            system_use: &[],
        }
        .encode(&mut rec)
        .map_err(|e| Error::InvalidInput(format!("root record: {e}")))?;
        raw.root_record
            .copy_from_slice(rec.get(..34).unwrap_or(&[0; 34]));
        text_field(&own.volume_set_id, &mut raw.volume_set_id, joliet);
        text_field(&own.publisher, &mut raw.publisher_id, joliet);
        text_field(&own.preparer, &mut raw.preparer_id, joliet);
        text_field(&own.application, &mut raw.application_id, joliet);
        let [copyright, abstract_file, biblio] = &own.file_ids;
        text_field(copyright, &mut raw.copyright_file_id, joliet);
        text_field(abstract_file, &mut raw.abstract_file_id, joliet);
        text_field(biblio, &mut raw.bibliographic_file_id, joliet);
        let t0 = IsoTime {
            unix: self.volume_time.secs,
            nanos: 0,
            offset_quarters: 0,
        };
        let [c, x, e] = o
            .recorded_volume_dates
            .unwrap_or([Some(t0), None, Some(t0)]);
        let m = Some(o.volume_modified.unwrap_or(t0));
        raw.creation = IsoTime::to_dec_bytes(c.as_ref());
        raw.modification = IsoTime::to_dec_bytes(m.as_ref());
        raw.expiration = IsoTime::to_dec_bytes(x.as_ref());
        raw.effective = IsoTime::to_dec_bytes(e.as_ref());
        raw.file_structure_version = version;
        raw.application_use.fill(b' ');
        if !own.application_use.is_empty() {
            for (d, s) in raw.application_use.iter_mut().zip(&own.application_use) {
                *d = *s;
            }
        }
        let mut out = [0u8; SECTOR];
        out.copy_from_slice(raw.as_bytes());
        Ok(out)
    }

    fn path_table(&self, t: &NsTree, big_endian: bool, set: Set) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ident = Vec::new();
        for (i, d) in t.dirs.iter().enumerate() {
            ident.clear();
            if i == 0 {
                ident.push(0);
            } else {
                self.dir_ident(t, d.node(), &mut ident);
            }
            PathTableRecord {
                ear_len: 0,
                extent: set.meta(d.lba),
                parent: u16::try_from(d.parent + 1).unwrap_or(1),
                name: &ident,
            }
            .encode(big_endian, &mut out);
        }
        out
    }

    /// The continuation areas that follow ISO directory `dir`, as `set`
    /// records them.
    fn ce_area(&self, dir: usize, set: Set) -> Vec<u8> {
        let (start, blocks) = self
            .iso
            .dirs
            .get(dir)
            .map_or((0, 0), |d| (d.lba + d.size / SECTOR as u32, d.ce_blocks));
        let start = set.meta(start);
        let mut area = vec![0u8; blocks as usize * SECTOR];
        // Chunks are in directory order.
        let first = self.ce_chunks.partition_point(|c| c.dir < dir);
        let chunks = self.ce_chunks.get(first..).unwrap_or_default();
        for c in chunks.iter().take_while(|c| c.dir == dir) {
            let mut bytes = c.bytes.clone();
            if let Some((b, o, l)) = c.next {
                Continuation {
                    block: start + b,
                    offset: o,
                    len: l,
                }
                .encode(&mut bytes);
            }
            let at = c.rel_block as usize * SECTOR + c.offset as usize;
            if let Some(dst) = area.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(&bytes);
            }
        }
        area
    }

    /// Writes the image. `progress` is told how many bytes went out.
    ///
    /// Stops with [`Error::Cancelled`] once the options' cancel token is
    /// cancelled; a full output device gives [`Error::NoSpace`].
    pub fn write_to<W: Write>(&self, mut out: W, progress: &dyn Fn(u64)) -> Result<WriteSummary> {
        self.write_dyn(&mut out, progress)
    }

    /// Writes the image into a file: large inputs are copied by the kernel
    /// (`copy_file_range`), and zero runs, holes in sparse inputs included,
    /// are left as holes. The file is set to the image's length. Stops as
    /// [`write_to`](Plan::write_to) does.
    pub fn write_to_file(&self, f: &File, progress: &dyn Fn(u64)) -> Result<WriteSummary> {
        self.write_to_file_inner(f, progress)
            .map_err(crate::error::output_fault)
    }

    fn write_to_file_inner(&self, f: &File, progress: &dyn Fn(u64)) -> Result<WriteSummary> {
        // Skipped zero runs must read as zeros: start from an empty file.
        // A file that is empty already is left alone: on ext4, truncating
        // to zero marks the file so that closing it flushes all its data
        // to disk (a safeguard for programs that rewrite files in place).
        if f.metadata()?.len() != 0 {
            f.set_len(0)?;
        }
        // Batches of small files read ahead are as large as the buffer, and so
        // go out without a copy into it.
        let out = Out::File(BufWriter::with_capacity(
            readahead::BATCH,
            SparseFile {
                f,
                pos: 0,
                cancel: self.b.opts.cancel.clone(),
            },
        ));
        let s = self.write_out(out, progress)?;
        f.set_len(self.image_len())?;
        Ok(s)
    }

    fn write_dyn(&self, out: &mut dyn Write, progress: &dyn Fn(u64)) -> Result<WriteSummary> {
        self.write_out(Out::Stream(out), progress)
            .map_err(crate::error::output_fault)
    }

    /// Copies a large host file straight into the output file.
    fn copy_host(&self, w: &mut Counting<'_>, path: &std::path::Path, size: u64) -> Result<()> {
        let Out::File(bw) = &mut w.out else {
            return Err(Error::InvalidInput("direct copy needs a file".into()));
        };
        bw.flush()?;
        let io = |e: std::io::Error| host_err(path, e);
        let src = File::open(path).map_err(io)?;
        let changed = |now: u64| {
            Error::InvalidInput(format!(
                "{} changed size while it was being read ({size} bytes planned, {now} now); no image was written",
                path.display()
            ))
        };
        let len = src.metadata().map_err(io)?.len();
        if len != size {
            return Err(changed(len));
        }
        bw.get_mut().copy_from(&src, 0, size).map_err(|e| {
            if w.cancel.is_cancelled() {
                Error::Cancelled
            } else {
                io(e)
            }
        })?;
        let len = src.metadata().map_err(io)?.len();
        if len != size {
            return Err(changed(len));
        }
        w.pos += size;
        (w.progress)(size);
        Ok(())
    }

    /// Streams a host file appended after the volume.
    fn append_file(&self, w: &mut Counting<'_>, path: &std::path::Path, size: u64) -> Result<()> {
        use std::io::Read;
        let io = |e: std::io::Error| host_err(path, e);
        let f = File::open(path).map_err(io)?;
        let mut r = f.take(size);
        let mut buf = vec![0u8; size.clamp(1, 1 << 20) as usize];
        let mut done = 0u64;
        loop {
            let n = r.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            w.put(buf.get(..n).unwrap_or_default())?;
            done += n as u64;
        }
        if done != size {
            return Err(changed_size(&path.display().to_string(), size, done));
        }
        Ok(())
    }

    /// The volume descriptors of one set, up to its terminator. Only the
    /// first set has the El Torito boot record.
    fn write_descriptors(&self, w: &mut Counting<'_>, set: Set) -> Result<()> {
        w.put(&self.volume_descriptor(&self.iso, 1, 1, set)?)?;
        if self.catalog_lba != 0 && set == Set::FIRST {
            let mut br = [0u8; SECTOR];
            br[1..6].copy_from_slice(STANDARD_ID);
            br[6] = 1;
            br[7..7 + EL_TORITO_ID.len()].copy_from_slice(EL_TORITO_ID);
            br[0x47..0x4B].copy_from_slice(&self.catalog_lba.to_le_bytes());
            w.put(&br)?;
        }
        if self.b.opts.level == 4 {
            w.put(&self.volume_descriptor(&self.iso, 2, 2, set)?)?;
        }
        if let Some(j) = &self.joliet {
            w.put(&self.volume_descriptor(j, 2, 1, set)?)?;
        }
        let mut term = [0u8; SECTOR];
        term[0] = 255;
        term[1..6].copy_from_slice(STANDARD_ID);
        term[6] = 1;
        w.put(&term)
    }

    /// The path tables, directories and continuation areas of one set, at
    /// the first set's blocks moved on by the set's shift.
    fn write_trees(&self, w: &mut Counting<'_>, set: Set) -> Result<()> {
        let at = |lba: u32| lba + set.shift;
        let mut buf = DirBuf::default();
        for t in std::iter::once(&self.iso).chain(self.joliet.as_ref()) {
            w.at(at(t.l_table))?;
            w.put(&self.path_table(t, false, set))?;
            w.pad_to_block()?;
            w.at(at(t.m_table))?;
            w.put(&self.path_table(t, true, set))?;
            w.pad_to_block()?;
        }
        for t in std::iter::once(&self.iso).chain(self.joliet.as_ref()) {
            for (i, d) in t.dirs.iter().enumerate() {
                w.at(at(d.lba))?;
                self.dir_records(t, i, set, &mut buf)?;
                if buf.bytes.len() != d.size as usize {
                    return Err(Error::InvalidInput(
                        "internal layout error: directory size changed".into(),
                    ));
                }
                w.put(&buf.bytes)?;
                if d.ce_blocks > 0 {
                    w.put(&self.ce_area(i, set))?;
                }
            }
        }
        Ok(())
    }

    /// Writes the file data; with `ra`, files for which `ahead` holds come
    /// from it. Returns how many files were written.
    fn write_data(
        &self,
        w: &mut Counting<'_>,
        direct: bool,
        ahead: &dyn Fn(usize) -> bool,
        mut ra: Option<ReadAhead>,
    ) -> Result<u64> {
        let boot = self.boot.as_ref();
        let mut files = 0u64;
        let mut i = 0;
        while let Some(d) = self.data.get(i) {
            w.skip_pad(d.lba, d.size)?;
            if let Some(ra) = ra.as_mut().filter(|_| ahead(i)) {
                let batch = ra.next(i)?;
                w.put(batch.bytes())?;
                files += batch.count as u64;
                i += batch.count;
                ra.done(batch)?;
                continue;
            }
            if let Some(span) = direct.then(|| self.image_span(i)).flatten() {
                copy_span(w, &span)?;
                w.pad_to_block()?;
                files += span.count as u64;
                i += span.count;
                continue;
            }
            i += 1;
            if let Some(p) = boot.and_then(|b| b.patches.get(&d.node())) {
                let mut pos = 0u64;
                let n = self.read_source(d.node(), &mut |chunk| {
                    let mut c = chunk.to_vec();
                    p.apply(pos, &mut c);
                    pos += c.len() as u64;
                    w.put(&c)
                })?;
                if n != d.size {
                    return Err(Error::InvalidInput(
                        "internal layout error: file size".into(),
                    ));
                }
                w.pad_to_block()?;
                files += 1;
                continue;
            }
            let src = match self.b.nodes.get(d.node()).map(|n| &n.kind) {
                Some(Kind::File { src, .. }) => Some(src),
                _ => None,
            };
            let direct = direct && d.size >= KERNEL_COPY;
            let n = match src {
                Some(Src::Host(_) | Src::InDir(_)) if direct => {
                    let p = self.b.host_path(d.node()).unwrap_or_default();
                    self.copy_host(w, &p, d.size)?;
                    d.size
                }
                Some(Src::Image(img)) if direct && img.src.as_file().is_some() => {
                    copy_image(w, img)?;
                    d.size
                }
                _ => self.read_source(d.node(), &mut |chunk| w.put(chunk))?,
            };
            if n != d.size {
                return Err(Error::InvalidInput(
                    "internal layout error: file size".into(),
                ));
            }
            w.pad_to_block()?;
            files += 1;
        }
        Ok(files)
    }

    /// The file data of item `i`, as one extent of an image file, unless
    /// it is patched: (the file, byte offset, length).
    fn image_extent(&self, i: usize) -> Option<(&File, u64, u64)> {
        let d = self.data.get(i)?;
        let Some(Kind::File {
            src: Src::Image(img),
            ..
        }) = self.b.nodes.get(d.node()).map(|n| &n.kind)
        else {
            return None;
        };
        let patched = self
            .boot
            .as_ref()
            .is_some_and(|b| b.patches.contains_key(&d.node()));
        match img.runs.as_slice() {
            [(off, len)] if *len == d.size && !patched => Some((img.src.as_file()?, *off, *len)),
            _ => None,
        }
    }

    /// The data items from `i` on that one kernel copy can write (see
    /// [`Span`]): more than one, together at least [`KERNEL_COPY`] bytes, so
    /// that the copy saves reads and writes of many small files; or `None`.
    fn image_span(&self, i: usize) -> Option<Span<'_>> {
        let (src, off, first_len) = self.image_extent(i)?;
        let first = self.data.get(i)?;
        let start = u64::from(first.lba) * SECTOR as u64;
        let mut end = off + first_len;
        let mut next_lba = u64::from(first.lba) + first_len.div_ceil(SECTOR as u64);
        let mut count = 1;
        while let (Some(d), Some((f, o, len))) =
            (self.data.get(i + count), self.image_extent(i + count))
        {
            // The next block in the new image, at the same distance from
            // the first file in the old one, and in the same file.
            let at = u64::from(d.lba);
            if at != next_lba
                || o.checked_sub(off) != Some(at * SECTOR as u64 - start)
                || !std::ptr::eq(f, src)
            {
                break;
            }
            end = o + len;
            next_lba = at + len.div_ceil(SECTOR as u64);
            count += 1;
        }
        (count > 1 && end - off >= KERNEL_COPY).then_some(Span {
            src,
            off,
            len: end - off,
            count,
        })
    }

    fn write_out<'a>(&self, out: Out<'a>, progress: &'a dyn Fn(u64)) -> Result<WriteSummary> {
        let mut w = Counting {
            out,
            pos: 0,
            progress,
            cancel: self.b.opts.cancel.clone(),
        };
        let boot = self.boot.as_ref();
        match boot.and_then(|b| b.system_area.as_ref()) {
            Some(sa) => w.put(sa)?,
            None => w.zeros(16 * SECTOR as u64)?,
        }
        w.at(16)?;
        self.write_descriptors(&mut w, Set::FIRST)?;
        if let Some(second) = self.second {
            w.zeros(((u64::from(second.origin) + 16) * SECTOR as u64).saturating_sub(w.pos))?;
            w.at(second.origin + 16)?;
            self.write_descriptors(&mut w, second)?;
        }
        self.write_trees(&mut w, Set::FIRST)?;
        if let Some(second) = self.second {
            self.write_trees(&mut w, second)?;
        }
        if self.catalog_lba != 0 {
            w.at(self.catalog_lba)?;
            let cat = boot.map(|b| b.catalog.as_slice()).unwrap_or_default();
            w.put(cat)?;
            w.pad_to_block()?;
        }
        let direct = matches!(w.out, Out::File(_));
        // Small host files are read on other threads, ahead of the writes.
        let ahead = |i: usize| {
            self.data.get(i).is_some_and(|d| {
                d.size < KERNEL_COPY
                    && !boot.is_some_and(|b| b.patches.contains_key(&d.node()))
                    && matches!(
                        self.b.nodes.get(d.node()).map(|n| &n.kind),
                        Some(Kind::File {
                            src: Src::Host(_) | Src::InDir(_),
                            ..
                        })
                    )
            })
        };
        let files = std::thread::scope(|scope| {
            let ra = ReadAhead::start(scope, self, &ahead);
            self.write_data(&mut w, direct, &ahead, ra)
        })?;
        // Padding, with the backup GPT in its last blocks.
        for (at, bytes) in boot.map(|b| b.in_padding.as_slice()).unwrap_or_default() {
            w.zeros(at.saturating_sub(w.pos))?;
            w.put(bytes)?;
        }
        w.zeros((u64::from(self.total_blocks) * SECTOR as u64).saturating_sub(w.pos))?;
        if let Some(b) = boot {
            for t in &b.tail {
                match t {
                    Tail::Zeros(n) => w.zeros(*n)?,
                    Tail::File { src, size, blocks } => {
                        match src {
                            FileSource::Host(path) => self.append_file(&mut w, path, *size)?,
                            FileSource::Image(d) => d.stream(&mut |c| w.put(c).map(|()| true))?,
                            FileSource::Bytes(b) => w.put(b)?,
                        }
                        w.zeros(blocks * SECTOR as u64 - size)?;
                    }
                }
            }
            w.put(&b.tail_end)?;
        }
        if w.pos != self.image_len() {
            return Err(Error::InvalidInput(
                "internal layout error: image length".into(),
            ));
        }
        w.out.flush()?;
        Ok(WriteSummary {
            bytes: w.pos,
            files,
        })
    }
}
