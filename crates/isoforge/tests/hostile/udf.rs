//! A UDF volume builder for tests, written from ECMA-167 and the UDF
//! specification with the encoders of `isoforge_format::udf`: UDF-only
//! volumes of any block size and revision, with an optional metadata
//! partition (2.50) and its mirror, and low-level access for hostile cases.
//!
//! Layout (bytes, any block size up to 4096): the volume recognition
//! sequence at 32 KiB, the main volume descriptor sequence at 48 KiB, the
//! reserve one 16 blocks later, the integrity sequence 16 blocks after that,
//! anchors at sector 256 and at the last sector, and the partition from
//! sector 257 to the sector before the last.
#![allow(dead_code, clippy::unwrap_used)]

use isoforge_format::time::IsoTime;
use isoforge_format::udf::anchor::Anchor;
use isoforge_format::udf::cs0;
use isoforge_format::udf::fid::{characteristics, Fid};
use isoforge_format::udf::fileset::FileSet;
use isoforge_format::udf::icb::{encode_ads, file_type, AdType, AllocDesc, FileEntry, IcbTag};
use isoforge_format::udf::lvid::Integrity;
use isoforge_format::udf::partition::PartitionMap;
use isoforge_format::udf::volume::{
    encode_terminator, encode_unallocated_space, ImplUseVolume, LogicalVolume, PartitionDescriptor,
    PrimaryVolume,
};
use isoforge_format::udf::{EntityId, ExtentAd, ExtentKind, LbAddr, LongAd};

/// Partition reference number of the physical partition.
pub const PHYS: u16 = 0;
/// Partition reference number of the metadata partition (when there is one).
pub const META: u16 = 1;

/// The time recorded everywhere: 2023-11-14T22:13:20Z.
pub fn t0() -> IsoTime {
    IsoTime {
        unix: 1_700_000_000,
        nanos: 0,
        offset_quarters: 0,
    }
}

/// How to build.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Block size.
    pub bs: usize,
    /// UDF revision (0x0102, 0x0150, 0x0201, 0x0250, 0x0260).
    pub revision: u16,
    /// Put the file set, directories and file entries in a metadata
    /// partition with a mirror (UDF 2.50).
    pub metadata: bool,
    /// Partition length in blocks.
    pub blocks: u32,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            bs: 2048,
            revision: 0x0201,
            metadata: false,
            blocks: 256,
        }
    }
}

/// A UDF volume under construction.
pub struct Udf {
    pub o: Opts,
    /// The physical partition's blocks.
    pub part: Vec<u8>,
    /// The metadata partition's blocks (main copy), when there is one.
    pub meta: Vec<u8>,
    next_phys: u32,
    next_meta: u32,
    unique: u64,
    /// Files and directories made so far (for the LVID counts).
    pub files: u32,
    pub dirs: u32,
    /// With a metadata partition: the physical blocks of the metadata
    /// file's entry, its mirror's, and of their data (reserved first, so
    /// that file data comes after them as other writers lay it out).
    meta_at: Option<(LbAddr, LbAddr, LbAddr, LbAddr)>,
}

/// Blocks reserved for the metadata file (and as many for its mirror).
pub fn meta_blocks(o: &Opts) -> u32 {
    (o.blocks / 4).clamp(16, 64)
}

/// Sector where the partition starts.
pub const PART_START: u32 = 257;

impl Udf {
    pub fn new(o: Opts) -> Udf {
        let mut u = Udf {
            o,
            part: vec![0; o.blocks as usize * o.bs],
            meta: Vec::new(),
            next_phys: 0,
            next_meta: 0,
            unique: 16,
            files: 0,
            dirs: 0,
            meta_at: None,
        };
        if o.metadata {
            let main_fe = u.data_blocks(1);
            let mirror_fe = u.data_blocks(1);
            let main = u.data_blocks(meta_blocks(&o));
            let mirror = u.data_blocks(meta_blocks(&o));
            u.meta_at = Some((main_fe, mirror_fe, main, mirror));
        }
        // Block 0 of the ICB partition holds the file set descriptor,
        // block 1 its terminator.
        u.icb_blocks(2);
        u
    }

    pub fn efe(&self) -> bool {
        self.o.revision >= 0x0200
    }

    /// The partition that holds file entries and directories.
    pub fn icb_partition(&self) -> u16 {
        if self.o.metadata {
            META
        } else {
            PHYS
        }
    }

    /// Allocates `n` blocks in the physical partition.
    pub fn data_blocks(&mut self, n: u32) -> LbAddr {
        let b = self.next_phys;
        self.next_phys += n;
        assert!(self.next_phys <= self.o.blocks, "partition full");
        LbAddr {
            partition: PHYS,
            block: b,
        }
    }

    /// Allocates `n` blocks in the ICB partition.
    pub fn icb_blocks(&mut self, n: u32) -> LbAddr {
        if self.o.metadata {
            let b = self.next_meta;
            self.next_meta += n;
            self.meta.resize(self.next_meta as usize * self.o.bs, 0);
            LbAddr {
                partition: META,
                block: b,
            }
        } else {
            self.data_blocks(n)
        }
    }

    /// Writes bytes at a block of a partition.
    pub fn write(&mut self, at: LbAddr, bytes: &[u8]) {
        let off = at.block as usize * self.o.bs;
        let buf = if at.partition == META && self.o.metadata {
            &mut self.meta
        } else {
            &mut self.part
        };
        buf[off..off + bytes.len()].copy_from_slice(bytes);
    }

    /// A file entry (or extended file entry) of `kind` at `at`.
    pub fn entry_bytes(
        &mut self,
        at: LbAddr,
        kind: u8,
        info_len: u64,
        ad_type: AdType,
        ad: &[u8],
        links: u16,
    ) -> Vec<u8> {
        self.unique += 1;
        let mode = if kind == file_type::DIRECTORY {
            0o755
        } else {
            0o644
        };
        let e = FileEntry {
            extended: self.efe(),
            icb: IcbTag {
                strategy: 4,
                max_entries: 1,
                file_type: kind,
                flags: ad_type.bits(),
                ..IcbTag::default()
            },
            uid: 1000,
            gid: 100,
            permissions: FileEntry::permissions_from_mode(mode),
            link_count: links,
            info_len,
            blocks_recorded: info_len.div_ceil(self.o.bs as u64),
            atime: Some(t0()),
            mtime: Some(t0()),
            ctime: self.efe().then(t0),
            attr_time: Some(t0()),
            stream_dir: LongAd::default(),
            impl_id: EntityId::new(b"*isoforge tests", [0; 8]),
            unique_id: self.unique,
            ea: &[],
            ad,
            ad_offset: 0,
            bad_times: 0,
        };
        let b = e.encode(at.block).expect("file entry encodes");
        assert!(b.len() <= self.o.bs, "file entry larger than a block");
        b
    }

    /// Writes a file entry whose data is `ads` (long_ad) at a new ICB.
    pub fn entry(&mut self, kind: u8, info_len: u64, ads: &[AllocDesc], links: u16) -> LbAddr {
        let at = self.icb_blocks(1);
        let mut ad = Vec::new();
        encode_ads(ads, AdType::Long, &mut ad).expect("ads encode");
        let b = self.entry_bytes(at, kind, info_len, AdType::Long, &ad, links);
        self.write(at, &b);
        at
    }

    /// Writes data in the physical partition and returns its descriptors
    /// (extents of at most `max` bytes).
    pub fn data(&mut self, data: &[u8], max: u32) -> Vec<AllocDesc> {
        let bs = self.o.bs as u64;
        let blocks = (data.len() as u64).div_ceil(bs) as u32;
        let start = self.data_blocks(blocks.max(1));
        self.write(start, data);
        let mut ads = Vec::new();
        let mut done = 0u64;
        while done < data.len() as u64 {
            let n = (data.len() as u64 - done).min(max as u64);
            ads.push(AllocDesc {
                kind: ExtentKind::Recorded,
                len: n as u32,
                block: start.block + (done / bs) as u32,
                partition: Some(PHYS),
            });
            done += n;
        }
        ads
    }

    /// A regular file holding `data`.
    pub fn file(&mut self, data: &[u8]) -> LbAddr {
        self.files += 1;
        let ads = self.data(data, 0x3FFF_F800);
        self.entry(file_type::REGULAR, data.len() as u64, &ads, 1)
    }

    /// A regular file whose data is embedded in its file entry.
    pub fn embedded_file(&mut self, data: &[u8]) -> LbAddr {
        self.files += 1;
        let at = self.icb_blocks(1);
        let b = self.entry_bytes(
            at,
            file_type::REGULAR,
            data.len() as u64,
            AdType::Embedded,
            data,
            1,
        );
        self.write(at, &b);
        at
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, target: &str) -> LbAddr {
        self.files += 1;
        let mut comps = Vec::new();
        isoforge_format::udf::path::encode(target, &mut comps).expect("path encodes");
        let ads = self.data(&comps, 0x3FFF_F800);
        self.entry(file_type::SYMLINK, comps.len() as u64, &ads, 1)
    }

    /// The file identifier descriptors of a directory.
    pub fn fids(
        &self,
        at_block: u32,
        parent: LbAddr,
        children: &[(&str, LbAddr, bool)],
    ) -> Vec<u8> {
        let bs = self.o.bs;
        let mut out = Vec::new();
        let put = |f: &Fid<'_>, out: &mut Vec<u8>| {
            let loc = at_block + (out.len() / bs) as u32;
            f.encode(loc, out).expect("fid encodes");
        };
        let icb = |a: LbAddr| LongAd::new(self.o.bs as u32, a);
        put(
            &Fid {
                characteristics: characteristics::PARENT | characteristics::DIRECTORY,
                icb: icb(parent),
                impl_use: &[],
                name: &[],
                location: 0,
            },
            &mut out,
        );
        for (name, child, is_dir) in children {
            let mut n = Vec::new();
            cs0::encode(name, &mut n);
            put(
                &Fid {
                    characteristics: if *is_dir {
                        characteristics::DIRECTORY
                    } else {
                        0
                    },
                    icb: icb(*child),
                    impl_use: &[],
                    name: &n,
                    location: 0,
                },
                &mut out,
            );
        }
        out
    }

    /// Writes the directory `at` (an ICB block allocated beforehand) with
    /// its parent and children.
    pub fn dir(&mut self, at: LbAddr, parent: LbAddr, children: &[(&str, LbAddr, bool)]) {
        self.dirs += 1;
        let bs = self.o.bs;
        // Directory data goes in the ICB partition.
        let guess = self.fids(0, parent, children).len();
        let data_at = self.icb_blocks(guess.div_ceil(bs).max(1) as u32);
        let fids = self.fids(data_at.block, parent, children);
        self.write(data_at, &fids);
        let subdirs = children.iter().filter(|c| c.2).count() as u16;
        let ads = [AllocDesc {
            kind: ExtentKind::Recorded,
            len: fids.len() as u32,
            block: data_at.block,
            partition: Some(data_at.partition),
        }];
        let mut ad = Vec::new();
        encode_ads(&ads, AdType::Long, &mut ad).expect("ads encode");
        let b = self.entry_bytes(
            at,
            file_type::DIRECTORY,
            fids.len() as u64,
            AdType::Long,
            &ad,
            1 + subdirs,
        );
        self.write(at, &b);
    }

    /// Lays the volume out, with the root directory at `root`.
    pub fn finish(mut self, root: LbAddr) -> Vec<u8> {
        let bs = self.o.bs;
        let rev = self.o.revision;
        let fsd_at = LbAddr {
            partition: self.icb_partition(),
            block: 0,
        };
        let fsd = FileSet {
            recorded: Some(t0()),
            fileset_number: 0,
            lv_id: "TESTLV".into(),
            fileset_id: "TESTFS".into(),
            root: LongAd::new(bs as u32, root),
            domain: EntityId::domain(rev),
            next: LongAd::default(),
            stream_dir: LongAd::default(),
        }
        .encode(0)
        .expect("fsd encodes");
        self.write(fsd_at, &fsd);
        self.write(
            LbAddr {
                partition: fsd_at.partition,
                block: 1,
            },
            &encode_terminator(1),
        );
        let mut maps = vec![PartitionMap::Type1 {
            volume_seq: 1,
            partition: 0,
        }];
        if self.o.metadata {
            // The metadata file and its mirror: two copies of the metadata
            // partition's blocks in the physical partition.
            let m = (self.meta.len() / bs) as u32;
            assert!(m <= meta_blocks(&self.o), "metadata partition full");
            let (main_fe, mirror_fe, main, mirror) = self.meta_at.expect("reserved");
            let meta = self.meta.clone();
            self.write(main, &meta);
            self.write(mirror, &meta);
            for (fe_at, data_at, kind) in [
                (main_fe, main, file_type::METADATA),
                (mirror_fe, mirror, file_type::METADATA_MIRROR),
            ] {
                let ads = [AllocDesc {
                    kind: ExtentKind::Recorded,
                    len: m * bs as u32,
                    block: data_at.block,
                    partition: None,
                }];
                let mut ad = Vec::new();
                encode_ads(&ads, AdType::Short, &mut ad).expect("ads encode");
                let b =
                    self.entry_bytes(fe_at, kind, u64::from(m) * bs as u64, AdType::Short, &ad, 1);
                self.write(fe_at, &b);
            }
            maps.push(PartitionMap::Metadata {
                volume_seq: 1,
                partition: 0,
                file_loc: main_fe.block,
                mirror_loc: mirror_fe.block,
                bitmap_loc: u32::MAX,
                alloc_unit: 32,
                align_unit: 1,
                flags: 0,
            });
        }
        let blocks = self.o.blocks;
        let total = PART_START + blocks + 1;
        let mut img = vec![0u8; total as usize * bs];
        let put = |img: &mut Vec<u8>, sector: u64, b: &[u8]| {
            let off = sector as usize * bs;
            img[off..off + b.len()].copy_from_slice(b);
        };
        // Volume recognition sequence.
        let step = bs.max(2048);
        let nsr: &[u8; 5] = if rev >= 0x0200 { b"NSR03" } else { b"NSR02" };
        for (i, id) in [b"BEA01", nsr, b"TEA01"].iter().enumerate() {
            let off = 32768 + i * step;
            img[off] = 0;
            img[off + 1..off + 6].copy_from_slice(*id);
            img[off + 6] = 1;
        }
        let main_vds = (49152 / bs) as u32;
        let reserve_vds = main_vds + 16;
        let lvid_at = reserve_vds + 16;
        assert!(lvid_at < 256);
        for start in [main_vds, reserve_vds] {
            let mut s = start;
            let next = |img: &mut Vec<u8>, s: &mut u32, b: &[u8]| {
                put(img, (*s).into(), b);
                *s += (b.len().div_ceil(bs)) as u32;
            };
            let pvd = PrimaryVolume {
                vdsn: 0,
                number: 0,
                volume_id: "TESTVOL".into(),
                volume_set_id: "0123456789ABCDEFTEST".into(),
                recorded: Some(t0()),
                app_id: EntityId::new(b"*isoforge tests", [0; 8]),
                impl_id: EntityId::new(b"*isoforge tests", [0; 8]),
            };
            let d = pvd.encode(s).unwrap();
            next(&mut img, &mut s, &d);
            let iu = ImplUseVolume {
                vdsn: 1,
                impl_id: EntityId::udf(b"*UDF LV Info", rev),
                lv_id: "TESTLV".into(),
                info: [String::new(), String::new(), String::new()],
            };
            let d = iu.encode(s).unwrap();
            next(&mut img, &mut s, &d);
            let pd = PartitionDescriptor {
                vdsn: 2,
                flags: 1,
                number: 0,
                contents: EntityId::new(if rev >= 0x0200 { b"+NSR03" } else { b"+NSR02" }, [0; 8]),
                access_type: 1,
                start: PART_START,
                length: blocks,
                impl_id: EntityId::new(b"*isoforge tests", [0; 8]),
            };
            let d = pd.encode(s).unwrap();
            next(&mut img, &mut s, &d);
            let lvd = LogicalVolume {
                vdsn: 3,
                lv_id: "TESTLV".into(),
                block_size: bs as u32,
                domain: EntityId::domain(rev),
                fsd: LongAd::new(bs as u32, fsd_at),
                impl_id: EntityId::new(b"*isoforge tests", [0; 8]),
                integrity: ExtentAd {
                    len: 2 * bs as u32,
                    loc: lvid_at,
                },
                maps: maps.clone(),
            };
            let d = lvd.encode(s).unwrap();
            next(&mut img, &mut s, &d);
            let d = encode_unallocated_space(4, s).unwrap();
            next(&mut img, &mut s, &d);
            let d = encode_terminator(s);
            next(&mut img, &mut s, &d);
        }
        let lvid = Integrity {
            recorded: Some(t0()),
            integrity_type: 1,
            next: ExtentAd::default(),
            next_unique_id: self.unique + 1,
            free: vec![0; maps.len()],
            size: vec![blocks; maps.len()],
            impl_id: Some(EntityId::new(b"*isoforge tests", [0; 8])),
            num_files: Some(self.files),
            num_dirs: Some(self.dirs),
            min_read: Some(rev),
            min_write: Some(rev),
            max_write: Some(rev),
        };
        put(&mut img, lvid_at.into(), &lvid.encode(lvid_at).unwrap());
        put(
            &mut img,
            (lvid_at + 1).into(),
            &encode_terminator(lvid_at + 1),
        );
        let anchor = Anchor {
            main: ExtentAd {
                len: 16 * bs as u32,
                loc: main_vds,
            },
            reserve: ExtentAd {
                len: 16 * bs as u32,
                loc: reserve_vds,
            },
        };
        put(&mut img, 256, &anchor.encode(256));
        put(&mut img, (total - 1).into(), &anchor.encode(total - 1));
        put(&mut img, PART_START.into(), &self.part);
        img
    }

    /// Byte offset in the finished image of a physical partition block.
    pub fn phys_offset(&self, block: u32) -> usize {
        (PART_START + block) as usize * self.o.bs
    }
}

/// A small tree, as most tests want it: `/a.txt` (embedded data),
/// `/dir/b.bin` (`b` bytes), `/dir/link -> ../a.txt`, `/dir/hard` (a hard
/// link to `b.bin`), `/empty/`.
pub fn small_tree(o: Opts, b: &[u8]) -> Vec<u8> {
    tree(o, b, true)
}

/// [`small_tree`], with or without the symbolic link (7-Zip reads no UDF
/// symbolic links: it refuses the whole volume).
pub fn tree(o: Opts, b: &[u8], with_link: bool) -> Vec<u8> {
    let mut u = Udf::new(o);
    let root = u.icb_blocks(1);
    let dir = u.icb_blocks(1);
    let empty = u.icb_blocks(1);
    let a = u.embedded_file(b"hello udf\n");
    let bin = {
        u.files += 1;
        let ads = u.data(b, 0x3FFF_F800);
        u.entry(file_type::REGULAR, b.len() as u64, &ads, 2)
    };
    let mut children = vec![("b.bin", bin, false), ("hard", bin, false)];
    if with_link {
        children.push(("link", u.symlink("../a.txt"), false));
    }
    u.dir(empty, root, &[]);
    u.dir(dir, root, &children);
    u.dir(
        root,
        root,
        &[
            ("a.txt", a, false),
            ("dir", dir, true),
            ("empty", empty, true),
        ],
    );
    u.finish(root)
}

/// Sector of the main volume descriptor sequence.
pub fn main_vds(bs: usize) -> u32 {
    (49152 / bs) as u32
}

/// Replaces the descriptor at `sector` of a finished image.
pub fn put_sector(img: &mut [u8], bs: usize, sector: u32, b: &[u8]) {
    let off = sector as usize * bs;
    img[off..off + bs].fill(0);
    img[off..off + b.len()].copy_from_slice(b);
}

/// A root directory holding one entry `name` whose ICB is `child`, made
/// by `f` on a fresh builder.
pub fn one_entry(o: Opts, name: &str, is_dir: bool, f: impl FnOnce(&mut Udf) -> LbAddr) -> Vec<u8> {
    let mut u = Udf::new(o);
    let root = u.icb_blocks(1);
    let child = f(&mut u);
    u.dir(root, root, &[(name, child, is_dir)]);
    u.finish(root)
}

/// Hostile UDF volumes, one per attack. Each must fail with an error that
/// names the structure and its byte offset (or a limit), quickly and in
/// bounded memory.
pub fn hostile_images() -> Vec<(&'static str, Vec<u8>)> {
    use isoforge_format::udf::{aed, icb, tag, volume::Pointer};
    let o = Opts::default();
    let bs = o.bs;
    let mut out = Vec::new();

    // The anchor's main and reserve sequences are the anchor itself.
    let mut img = small_tree(o, b"data");
    let selfish = Anchor {
        main: ExtentAd {
            len: bs as u32,
            loc: 256,
        },
        reserve: ExtentAd {
            len: bs as u32,
            loc: 256,
        },
    };
    let last = (img.len() / bs - 1) as u32;
    put_sector(&mut img, bs, 256, &selfish.encode(256));
    put_sector(&mut img, bs, last, &selfish.encode(last));
    out.push(("anchor pointing at itself", img));

    // Both sequences start with a pointer back to their own start.
    let mut img = small_tree(o, b"data");
    for start in [main_vds(bs), main_vds(bs) + 16] {
        let p = Pointer {
            vdsn: 9,
            next: ExtentAd {
                len: 16 * bs as u32,
                loc: start,
            },
        };
        put_sector(&mut img, bs, start, &p.encode(start).unwrap());
    }
    out.push(("volume descriptor pointer loop", img));

    // A file's allocation descriptors continue in an AED that continues in
    // itself.
    let img = one_entry(o, "cycle", false, |u| {
        u.files += 1;
        let data = u.data(b"payload", 1 << 20);
        let aed_at = u.data_blocks(1);
        let cont = AllocDesc {
            kind: ExtentKind::Continuation,
            len: bs as u32,
            block: aed_at.block,
            partition: Some(PHYS),
        };
        let mut ads = Vec::new();
        encode_ads(&[cont], AdType::Long, &mut ads).unwrap();
        u.write(aed_at, &aed::encode(aed_at.block, 0, &ads).unwrap());
        u.entry(file_type::REGULAR, 1 << 30, &[data[0], cont], 1)
    });
    out.push(("allocation extent descriptor cycle", img));

    // An extent that runs past the end of the partition.
    let img = one_entry(o, "past", false, |u| {
        u.files += 1;
        let blocks = u.o.blocks;
        let ads = [AllocDesc {
            kind: ExtentKind::Recorded,
            len: 64 * bs as u32,
            block: blocks - 2,
            partition: Some(PHYS),
        }];
        u.entry(file_type::REGULAR, 64 * bs as u64, &ads, 1)
    });
    out.push(("extent past the end", img));

    // A FID whose implementation use length runs far past the directory.
    let mut u = Udf::new(o);
    let root = u.icb_blocks(1);
    let f = u.file(b"x");
    u.dir(root, root, &[("victim", f, false)]);
    let mut img = u.finish(root);
    // The root's data follows its ICB; its second FID is the child.
    let data = u_offset_of_dir_data(&img, bs, root);
    let fid2 = data + 40;
    img[fid2 + 36..fid2 + 38].copy_from_slice(&u16::MAX.to_le_bytes());
    reseal(&mut img[fid2..fid2 + 56], tag::FID);
    out.push(("FID length overflow", img));

    // An indirect entry that points at itself: indirections without end.
    let img = one_entry(o, "deep", false, |u| {
        let at = u.icb_blocks(1);
        let ie = icb::encode_indirect(at.block, LongAd::new(bs as u32, at)).unwrap();
        u.write(at, &ie);
        at
    });
    out.push(("ICB indirections without end", img));

    // Two thousand distinct indirect entries, each pointing at the next
    // (blocks of 512 bytes keep the volume small): nesting past the limit
    // without a loop.
    let small = Opts {
        bs: 512,
        blocks: 2100,
        ..o
    };
    let img = one_entry(small, "nested", false, |u| {
        let mut to = u.file(b"never reached");
        for _ in 0..2000 {
            let at = u.icb_blocks(1);
            let ie = icb::encode_indirect(at.block, LongAd::new(512, to)).unwrap();
            u.write(at, &ie);
            to = at;
        }
        to
    });
    out.push(("ICB indirections nested 2000 deep", img));

    // A name that climbs out of the directory.
    let img = one_entry(o, "../evil", false, |u| u.file(b"evil"));
    out.push(("CS0 name with ../", img));

    // A subdirectory that is the root again.
    let mut u = Udf::new(o);
    let root = u.icb_blocks(1);
    u.dir(root, root, &[("loop", root, true)]);
    out.push(("directory loop", u.finish(root)));

    // A directory claiming a terabyte.
    let img = one_entry(o, "huge", true, |u| {
        u.dirs += 1;
        let ads = [AllocDesc {
            kind: ExtentKind::Recorded,
            len: 0x3FFF_F800,
            block: 0,
            partition: Some(PHYS),
        }];
        u.entry(file_type::DIRECTORY, 1 << 40, &ads, 1)
    });
    out.push(("huge directory", img));
    out
}

/// Byte offset of the data of the directory whose ICB is `icb` (long_ad
/// descriptors, physical partition, no metadata partition).
pub fn u_offset_of_dir_data(img: &[u8], bs: usize, icb: LbAddr) -> usize {
    let fe = (PART_START + icb.block) as usize * bs;
    let fixed = if u16::from_le_bytes([img[fe], img[fe + 1]]) == 0x010A {
        216
    } else {
        176
    };
    let ad = fe + fixed;
    let block = u32::from_le_bytes(img[ad + 4..ad + 8].try_into().unwrap());
    (PART_START + block) as usize * bs
}

/// Recomputes the tag of the descriptor at the start of `b` (its CRC over
/// what the tag's CRC length says, clamped to `b`).
pub fn reseal(b: &mut [u8], ident: u16) {
    use isoforge_format::udf::tag::Tag;
    let loc = u32::from_le_bytes(b[12..16].try_into().unwrap());
    let crc_len = u16::from_le_bytes([b[10], b[11]]).min((b.len() - 16) as u16);
    let mut t = Tag::new(ident, loc, 16 + crc_len as usize);
    t.version = u16::from_le_bytes([b[2], b[3]]);
    t.write(b).unwrap();
}
