//! Builders for small hand-made images, so that each hostile case is a few
//! lines: volume descriptors, directory records, directories laid out in
//! sectors, SUSP / Rock Ridge entries, zisofs files and path tables.
//!
//! Layout of [`Iso::new`]: sectors 0-15 system area, 16 the primary volume
//! descriptor, 17 the terminator, 18 and 19 the type L and M path tables,
//! 20 the root directory ([`ROOT`]); blocks from [`FREE`] on are free.
#![allow(dead_code)]

use std::io::Write;

use isoforge_format::ecma119::dirrec::DirRecordSpec;
use isoforge_format::ecma119::path_table::PathTableRecord;
use isoforge_format::rrip::{encode_entry, Px};
use isoforge_format::susp::{Continuation, ExtensionRef};

/// Logical block (and sector) size used by the builders.
pub const BLOCK: usize = 2048;
/// Block of the primary volume descriptor.
pub const PVD: u32 = 16;
/// Block of the root directory.
pub const ROOT: u32 = 20;
/// First block not used by [`Iso::new`].
pub const FREE: u32 = 21;
/// Byte offset of the primary volume descriptor.
pub const PVD_OFFSET: usize = PVD as usize * BLOCK;

/// Directory flag of a directory record.
pub const DIR: u8 = 0x02;
/// Multi-extent flag of a directory record.
pub const MULTI: u8 = 0x80;

/// A both-byte-order 16-bit number.
pub fn both16(v: u16) -> [u8; 4] {
    let [a, b] = v.to_le_bytes();
    [a, b, b, a]
}

/// A both-byte-order 32-bit number.
pub fn both32(v: u32) -> [u8; 8] {
    let [a, b, c, d] = v.to_le_bytes();
    [a, b, c, d, d, c, b, a]
}

/// A primary volume descriptor with the root directory at `root_lba`
/// (`root_len` bytes), a volume of `blocks` blocks of 2048 bytes, and path
/// tables of `pt_size` bytes at blocks 18 (L) and 19 (M).
pub fn pvd(root_lba: u32, root_len: u32, blocks: u32, pt_size: u32) -> [u8; BLOCK] {
    let mut s = [0u8; BLOCK];
    s[0] = 1;
    s[1..6].copy_from_slice(b"CD001");
    s[6] = 1;
    s[8..40].fill(b' ');
    s[40..72].fill(b' ');
    s[40..47].copy_from_slice(b"HOSTILE");
    s[80..88].copy_from_slice(&both32(blocks));
    s[120..124].copy_from_slice(&both16(1));
    s[124..128].copy_from_slice(&both16(1));
    s[128..132].copy_from_slice(&both16(BLOCK as u16));
    s[132..140].copy_from_slice(&both32(pt_size));
    s[140..144].copy_from_slice(&18u32.to_le_bytes());
    s[148..152].copy_from_slice(&19u32.to_be_bytes());
    let root = dot(root_lba, root_len, &[]);
    s[156..156 + root.len()].copy_from_slice(&root);
    s[190..813].fill(b' ');
    for d in 0..4 {
        let at = 813 + d * 17;
        s[at..at + 16].fill(b'0');
    }
    s[881] = 1;
    s
}

/// A Joliet (level 3) supplementary volume descriptor.
pub fn joliet_svd(root_lba: u32, root_len: u32, blocks: u32) -> [u8; BLOCK] {
    let mut s = pvd(root_lba, root_len, blocks, 0);
    s[0] = 2;
    s[88..91].copy_from_slice(b"%/E");
    s
}

/// The volume descriptor set terminator.
pub fn terminator() -> [u8; BLOCK] {
    let mut s = [0u8; BLOCK];
    s[0] = 255;
    s[1..6].copy_from_slice(b"CD001");
    s[6] = 1;
    s
}

/// One directory record.
pub fn dir_record(name: &[u8], extent: u32, len: u32, flags: u8, su: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    DirRecordSpec {
        extent,
        data_len: len,
        flags,
        name,
        system_use: su,
        ..Default::default()
    }
    .encode(&mut out)
    .expect("record fits in 255 bytes");
    out
}

/// A directory's "." record.
pub fn dot(extent: u32, len: u32, su: &[u8]) -> Vec<u8> {
    dir_record(&[0], extent, len, DIR, su)
}

/// A directory's ".." record.
pub fn dotdot(extent: u32, len: u32) -> Vec<u8> {
    dir_record(&[1], extent, len, DIR, &[])
}

/// A regular file's record.
pub fn file(name: &[u8], extent: u32, len: u32) -> Vec<u8> {
    dir_record(name, extent, len, 0, &[])
}

/// A subdirectory's record.
pub fn subdir(name: &[u8], extent: u32, len: u32) -> Vec<u8> {
    dir_record(name, extent, len, DIR, &[])
}

/// Lays directory records out in sectors: a record that does not fit in the
/// rest of a sector starts the next one. The result is whole sectors.
pub fn dir_sectors(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let used = out.len() % BLOCK;
        if used + r.len() > BLOCK {
            out.resize(out.len() + BLOCK - used, 0);
        }
        out.extend_from_slice(r);
    }
    let pad = (BLOCK - out.len() % BLOCK) % BLOCK;
    out.resize(out.len() + pad, 0);
    out
}

/// A SUSP entry with any signature and payload.
pub fn susp(sig: &[u8; 2], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_entry(sig, payload, &mut v).expect("entry fits in 255 bytes");
    v
}

/// SUSP SP with a skip length.
pub fn sp(skip: u8) -> Vec<u8> {
    susp(b"SP", &[0xBE, 0xEF, skip])
}

/// SUSP CE pointing at `len` bytes at `offset` of `block`.
pub fn ce(block: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut v = Vec::new();
    Continuation { block, offset, len }.encode(&mut v);
    v
}

/// SUSP ER naming an extension.
pub fn er(id: &str) -> Vec<u8> {
    let mut v = Vec::new();
    ExtensionRef {
        version: 1,
        id: id.into(),
        descriptor: "D".into(),
        source: "S".into(),
    }
    .encode(&mut v)
    .expect("ER fits in 255 bytes");
    v
}

/// RRIP NM.
pub fn nm(flags: u8, name: &[u8]) -> Vec<u8> {
    let mut p = vec![flags];
    p.extend_from_slice(name);
    susp(b"NM", &p)
}

/// RRIP SL with `(flags, content)` components.
pub fn sl(flags: u8, comps: &[(u8, &[u8])]) -> Vec<u8> {
    let mut p = vec![flags];
    for (f, c) in comps {
        p.push(*f);
        p.push(u8::try_from(c.len()).expect("component fits"));
        p.extend_from_slice(c);
    }
    susp(b"SL", &p)
}

/// RRIP PX with a mode (nlink 1, uid and gid 0, no serial number).
pub fn px(mode: u32) -> Vec<u8> {
    let mut v = Vec::new();
    Px {
        mode,
        nlink: 1,
        uid: 0,
        gid: 0,
        ino: None,
    }
    .encode(&mut v)
    .expect("PX encodes");
    v
}

/// RRIP CL (child link).
pub fn cl(lba: u32) -> Vec<u8> {
    susp(b"CL", &both32(lba))
}

/// RRIP PL (parent link).
pub fn pl(lba: u32) -> Vec<u8> {
    susp(b"PL", &both32(lba))
}

/// RRIP RE (relocated).
pub fn re() -> Vec<u8> {
    susp(b"RE", &[])
}

/// RRIP TF with raw flags and stamp bytes.
pub fn tf(flags: u8, stamps: &[u8]) -> Vec<u8> {
    let mut p = vec![flags];
    p.extend_from_slice(stamps);
    susp(b"TF", &p)
}

/// zisofs ZF: algorithm `pz`, header size 16, `log2_bs`, uncompressed size.
pub fn zf(log2_bs: u8, size: u32) -> Vec<u8> {
    let mut p = vec![b'p', b'z', 4, log2_bs];
    p.extend_from_slice(&both32(size));
    susp(b"ZF", &p)
}

/// System use of the root's "." record announcing Rock Ridge (SP, ER).
pub fn rr_root_su() -> Vec<u8> {
    [sp(0), er("RRIP_1991A")].concat()
}

/// Concatenates SUSP entries.
pub fn entries(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The zisofs file header magic.
pub const ZISOFS_MAGIC: [u8; 8] = [0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];

/// zlib-compresses `data`.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("write to a Vec");
    e.finish().expect("finish to a Vec")
}

/// A zisofs file from its parts: the 16-byte header (declared size and
/// `log2_bs`), the block pointer table as given, and the compressed blocks
/// placed after the table.
pub fn zisofs_raw(size: u32, log2_bs: u8, pointers: &[u32], blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&ZISOFS_MAGIC);
    out.extend_from_slice(&size.to_le_bytes());
    out.push(4);
    out.push(log2_bs);
    out.extend_from_slice(&[0, 0]);
    for p in pointers {
        out.extend_from_slice(&p.to_le_bytes());
    }
    for b in blocks {
        out.extend_from_slice(b);
    }
    out
}

/// A well-formed zisofs file holding `data`, in blocks of `1 << log2_bs`.
pub fn zisofs_file(data: &[u8], log2_bs: u8) -> Vec<u8> {
    let bs = 1usize << log2_bs;
    let blocks: Vec<Vec<u8>> = data.chunks(bs).map(deflate).collect();
    let mut ptr = 16 + 4 * (blocks.len() as u32 + 1);
    let mut pointers = vec![ptr];
    for b in &blocks {
        ptr += b.len() as u32;
        pointers.push(ptr);
    }
    zisofs_raw(data.len() as u32, log2_bs, &pointers, &blocks)
}

/// A path table from `(extent, parent, name)` records.
pub fn path_table(recs: &[(u32, u16, &[u8])], big_endian: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for &(extent, parent, name) in recs {
        PathTableRecord {
            ear_len: 0,
            extent,
            parent,
            name,
        }
        .encode(big_endian, &mut out);
    }
    out
}

/// An image under construction.
pub struct Iso {
    /// The image bytes.
    pub data: Vec<u8>,
}

impl Iso {
    /// An image of `blocks` blocks with a primary descriptor, a terminator,
    /// path tables listing only the root, and an empty one-sector root.
    pub fn new(blocks: u32) -> Iso {
        Iso::with_root_su(blocks, &[])
    }

    /// Like [`Iso::new`], with Rock Ridge announced in the root's "." record.
    pub fn rock_ridge(blocks: u32) -> Iso {
        Iso::with_root_su(blocks, &rr_root_su())
    }

    fn with_root_su(blocks: u32, su: &[u8]) -> Iso {
        let mut iso = Iso {
            data: vec![0; blocks as usize * BLOCK],
        };
        let pt = path_table(&[(ROOT, 1, b"\0")], false);
        iso.put(PVD, &pvd(ROOT, BLOCK as u32, blocks, pt.len() as u32));
        iso.put(17, &terminator());
        iso.put(18, &pt);
        iso.put(19, &path_table(&[(ROOT, 1, b"\0")], true));
        iso.dir(ROOT, BLOCK as u32, ROOT, su, &[]);
        iso
    }

    /// Writes `bytes` at block `lba`, growing the image if needed.
    pub fn put(&mut self, lba: u32, bytes: &[u8]) {
        self.put_at(lba as usize * BLOCK, bytes);
    }

    /// Writes `bytes` at byte `offset`, growing the image if needed.
    pub fn put_at(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[offset..end].copy_from_slice(bytes);
    }

    /// Writes a directory at `lba` whose "." says `len` bytes, whose ".."
    /// points at `parent` (one sector), with `dot_su` in its "." record and
    /// `children` after "." and "..". Returns the bytes written.
    pub fn dir(
        &mut self,
        lba: u32,
        len: u32,
        parent: u32,
        dot_su: &[u8],
        children: &[Vec<u8>],
    ) -> usize {
        let mut recs = vec![dot(lba, len, dot_su), dotdot(parent, BLOCK as u32)];
        recs.extend_from_slice(children);
        let bytes = dir_sectors(&recs);
        self.put(lba, &bytes);
        bytes.len()
    }

    /// Writes the root directory's children; Rock Ridge if `rr`.
    pub fn root(&mut self, rr: bool, children: &[Vec<u8>]) {
        let su = if rr { rr_root_su() } else { Vec::new() };
        let n = self.dir(ROOT, BLOCK as u32, ROOT, &su, children);
        assert_eq!(n, BLOCK, "root directory is one sector");
    }

    /// Points the primary descriptor's root record at `len` bytes at `lba`.
    pub fn set_root(&mut self, lba: u32, len: u32) {
        let root = dot(lba, len, &[]);
        self.pvd_mut()[156..190].copy_from_slice(&root);
    }

    /// The primary volume descriptor, to patch.
    pub fn pvd_mut(&mut self) -> &mut [u8] {
        &mut self.data[PVD_OFFSET..PVD_OFFSET + BLOCK]
    }

    /// The image bytes.
    pub fn bytes(self) -> Vec<u8> {
        self.data
    }
}
