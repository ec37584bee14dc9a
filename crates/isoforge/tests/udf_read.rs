//! The UDF reader on volumes built from the specification by
//! `hostile/udf.rs`: every block size, revisions 1.02 to 2.60, metadata
//! partitions (and their mirror when the main copy is damaged), embedded
//! data, symbolic links, hard links, allocation extent descriptors,
//! strategy 4096 ICBs, sparse files over 4 GiB, and the reserve descriptor
//! sequence and last anchor when the first ones are damaged.

#![allow(clippy::unwrap_used)]

#[path = "hostile/udf.rs"]
mod udf;

use std::io::Read;

use isoforge::extract::{extract, ExtractOptions};
use isoforge::{Entry, FileType, Image, View};
use isoforge_format::udf::icb::{self, encode_ads, file_type, AdType, AllocDesc};
use isoforge_format::udf::{aed, ExtentKind, LongAd};
use udf::*;

fn open(img: Vec<u8>) -> Image<Vec<u8>> {
    Image::open(img).unwrap_or_else(|e| panic!("open: {e}"))
}

fn walk(img: &Image<Vec<u8>>) -> Vec<Entry> {
    img.walk(View::Udf)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("walk: {e}"))
}

fn read(img: &Image<Vec<u8>>, path: &str) -> Vec<u8> {
    let e = img.lookup(path, View::Udf).unwrap();
    let mut v = Vec::new();
    img.open_file(&e).unwrap().read_to_end(&mut v).unwrap();
    v
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Checks the small tree in every respect the builder recorded.
fn check_small_tree(img: &Image<Vec<u8>>, b: &[u8], what: &str) {
    let all = walk(img);
    let paths: Vec<&str> = all.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/a.txt",
            "/dir",
            "/dir/b.bin",
            "/dir/hard",
            "/dir/link",
            "/empty"
        ],
        "{what}"
    );
    assert_eq!(read(img, "/a.txt"), b"hello udf\n", "{what}");
    assert_eq!(read(img, "/dir/b.bin"), b, "{what}");
    assert_eq!(read(img, "/dir/hard"), b, "{what}");
    let get = |p: &str| all.iter().find(|e| e.path == p).unwrap();
    let (bin, hard, link) = (get("/dir/b.bin"), get("/dir/hard"), get("/dir/link"));
    assert_eq!(bin.ino, hard.ino, "{what}: hard links share an inode");
    assert_eq!((bin.nlink, bin.size), (2, b.len() as u64), "{what}");
    assert_eq!(link.file_type, FileType::Symlink, "{what}");
    assert_eq!(link.target.as_deref(), Some("../a.txt"), "{what}");
    let dir = get("/dir");
    assert_eq!(
        (dir.file_type, dir.mode & 0o7777, dir.nlink),
        (FileType::Dir, 0o755, 1),
        "{what}"
    );
    assert_eq!(
        (bin.mode, bin.uid, bin.gid),
        (0o100_644, 1000, 100),
        "{what}"
    );
    assert_eq!(bin.mtime.map(|t| t.unix), Some(1_700_000_000), "{what}");
    let u = img.info().udf.as_ref().unwrap();
    assert_eq!(u.logical_volume_id, "TESTLV", "{what}");
    assert_eq!(u.file_set_id, "TESTFS", "{what}");
    let lvid = u.integrity.as_ref().unwrap();
    assert!(lvid.closed, "{what}");
    assert_eq!(
        (lvid.num_files, lvid.num_dirs),
        (Some(3), Some(3)),
        "{what}"
    );
}

#[test]
fn every_block_size_and_revision() {
    let b = pattern(70_000);
    for bs in [512, 1024, 2048, 4096] {
        for (revision, metadata) in [
            (0x0102, false),
            (0x0150, false),
            (0x0201, false),
            (0x0250, true),
            (0x0260, true),
        ] {
            let what = format!("block {bs}, revision {revision:#x}, metadata {metadata}");
            let o = Opts {
                bs,
                revision,
                metadata,
                blocks: 400,
            };
            let img = open(small_tree(o, &b));
            let u = img.info().udf.clone().unwrap();
            assert_eq!((u.block_size, u.revision), (bs as u32, revision), "{what}");
            assert_eq!(u.maps.len(), 1 + usize::from(metadata), "{what}");
            assert_eq!(img.info().primary(), None);
            assert_eq!(img.resolve_view(View::Auto).unwrap(), View::Udf, "{what}");
            assert_eq!(img.views(), [View::Udf], "{what}");
            check_small_tree(&img, &b, &what);
            assert!(
                img.diagnostics().is_empty(),
                "{what}: {:?}",
                img.diagnostics()
            );
        }
    }
}

/// Byte range of the metadata partition's main copy in an image made by
/// `small_tree` with a metadata partition of `m` blocks.
fn corrupt_main_metadata(img: &mut [u8], bs: usize) {
    // The main metadata file entry is the first block after the data that
    // `finish` allocates; find it by its file type (250).
    let fe = (0..img.len() / bs)
        .map(|s| s * bs)
        .find(|&o| {
            (img[o..o + 2] == [0x0A, 0x01] || img[o..o + 2] == [0x05, 0x01]) && img[o + 27] == 250
        })
        .expect("metadata file entry");
    // Its data follows the two file entries (main, mirror).
    let main = fe + 2 * bs;
    for b in &mut img[main..main + 8 * bs] {
        *b ^= 0x5A;
    }
}

#[test]
fn metadata_mirror_stands_in_for_a_damaged_main_copy() {
    let b = pattern(5000);
    for bs in [512, 2048] {
        let o = Opts {
            bs,
            revision: 0x0250,
            metadata: true,
            blocks: 300,
        };
        let mut raw = small_tree(o, &b);
        corrupt_main_metadata(&mut raw, bs);
        let img = open(raw);
        check_small_tree(&img, &b, "damaged main metadata");
        let mut walk = img.walk(View::Udf).unwrap();
        for e in walk.by_ref() {
            e.unwrap();
        }
        let notes: Vec<String> = img
            .diagnostics()
            .iter()
            .chain(walk.diagnostics())
            .map(|d| d.message.clone())
            .collect();
        assert!(
            notes.iter().any(|m| m.contains("mirror")),
            "the mirror's use is reported: {notes:?}"
        );
    }
    // With the metadata file entry itself damaged, the mirror is used from
    // the start.
    let o = Opts {
        bs: 2048,
        revision: 0x0250,
        metadata: true,
        blocks: 300,
    };
    let mut raw = small_tree(o, &b);
    let fe = (0..raw.len() / 2048)
        .map(|s| s * 2048)
        .find(|&o| raw[o..o + 2] == [0x0A, 0x01] && raw[o + 27] == 250)
        .unwrap();
    raw[fe + 100] ^= 1;
    let img = open(raw);
    check_small_tree(&img, &b, "damaged metadata file entry");
    assert!(img
        .diagnostics()
        .iter()
        .any(|d| d.message.contains("its mirror is used")));
}

#[test]
fn reserve_sequence_and_last_anchor() {
    let b = pattern(100);
    let o = Opts::default();
    let mut raw = small_tree(o, &b);
    // Damage the main sequence's logical volume descriptor and the anchor
    // at sector 256: the anchor at the last sector and the reserve
    // sequence still describe the volume.
    let lvd = (main_vds(2048) + 3) as usize * 2048;
    raw[lvd + 300] ^= 0xFF;
    raw[256 * 2048 + 20] ^= 0xFF;
    let img = open(raw);
    check_small_tree(&img, &b, "reserve sequence");
    let u = img.info().udf.as_ref().unwrap();
    assert!(u.reserve_sequence);
    assert_eq!(u.anchors.len(), 1);
    assert!(img
        .diagnostics()
        .iter()
        .any(|d| d.message.contains("reserve sequence is used")));
}

#[test]
fn sparse_file_over_4_gib_in_many_extents() {
    // As writers split large files: extents of 0x3FFFF800 bytes. Five
    // unrecorded ones (zeros) and a recorded tail.
    let tail = b"the end of a big file";
    let chunk = 0x3FFF_F800u32;
    let raw = one_entry(Opts::default(), "big.img", false, |u| {
        u.files += 1;
        let mut ads: Vec<AllocDesc> = (0..5)
            .map(|i| AllocDesc {
                kind: if i % 2 == 0 {
                    ExtentKind::NotAllocated
                } else {
                    ExtentKind::AllocatedNotRecorded
                },
                len: chunk,
                block: 0,
                partition: Some(PHYS),
            })
            .collect();
        ads.extend(u.data(tail, chunk));
        u.entry(
            file_type::REGULAR,
            5 * u64::from(chunk) + tail.len() as u64,
            &ads,
            1,
        )
    });
    let img = open(raw);
    let e = img.lookup("/big.img", View::Udf).unwrap();
    let size = 5 * u64::from(chunk) + tail.len() as u64;
    assert_eq!(e.size, size);
    assert!(e.size > 4 << 30);
    let runs = img.data_runs(&e).unwrap().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[0].offset, runs[0].len), (None, 5 * u64::from(chunk)));
    assert_eq!(runs[1].len, tail.len() as u64);
    assert_eq!(img.data_ranges(&e).unwrap(), None);
    // Extraction leaves the zeros as a hole and writes the tail. The
    // zeros count against the byte budget like any data (the default
    // budget, from the image's size, refuses them).
    let t = tempfile::tempdir().unwrap();
    let refused = extract(
        &img,
        View::Udf,
        t.path(),
        &[],
        &ExtractOptions::default(),
        &|_| {},
    );
    assert!(
        matches!(refused, Err(isoforge::Error::LimitExceeded { .. })),
        "{refused:?}"
    );
    let t = tempfile::tempdir().unwrap();
    let mut opts = ExtractOptions::default();
    opts.max_bytes = Some(8 << 30);
    let report = extract(&img, View::Udf, t.path(), &[], &opts, &|_| {}).unwrap();
    assert_eq!(report.bytes, size);
    let out = t.path().join("big.img");
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!(meta.len(), size);
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "the zeros were written: {} blocks",
        meta.blocks()
    );
    let mut f = std::fs::File::open(&out).unwrap();
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(5 * u64::from(chunk) - 3)).unwrap();
    let mut end = Vec::new();
    f.read_to_end(&mut end).unwrap();
    assert_eq!(&end[..3], &[0, 0, 0]);
    assert_eq!(&end[3..], tail);
}

#[test]
fn allocation_extent_descriptors_continue_the_list() {
    let data = pattern(40 * 2048);
    let raw = one_entry(Opts::default(), "frag", false, |u| {
        u.files += 1;
        // One-block extents, stored in reverse order so that none merge;
        // the second half of the list is in an AED.
        let start = u.data_blocks(40);
        for i in 0..40u32 {
            let at = isoforge_format::udf::LbAddr {
                partition: PHYS,
                block: start.block + 39 - i,
            };
            u.write(at, &data[i as usize * 2048..(i as usize + 1) * 2048]);
        }
        let ads: Vec<AllocDesc> = (0..40u32)
            .map(|i| AllocDesc {
                kind: ExtentKind::Recorded,
                len: 2048,
                block: start.block + 39 - i,
                partition: Some(PHYS),
            })
            .collect();
        let aed_at = u.data_blocks(1);
        let mut rest = Vec::new();
        encode_ads(&ads[20..], AdType::Long, &mut rest).unwrap();
        u.write(aed_at, &aed::encode(aed_at.block, 0, &rest).unwrap());
        let mut first = ads[..20].to_vec();
        first.push(AllocDesc {
            kind: ExtentKind::Continuation,
            len: 2048,
            block: aed_at.block,
            partition: Some(PHYS),
        });
        u.entry(file_type::REGULAR, data.len() as u64, &first, 1)
    });
    let img = open(raw);
    assert_eq!(read(&img, "/frag"), data);
    let e = img.lookup("/frag", View::Udf).unwrap();
    assert_eq!(img.data_runs(&e).unwrap().unwrap().len(), 40);
}

#[test]
fn strategy_4096_follows_to_the_newest_entry() {
    let raw = one_entry(Opts::default(), "f", false, |u| {
        // An old entry (strategy 4096), then an indirect entry in the next
        // block pointing at the newer entry.
        u.files += 1;
        let old_ads = u.data(b"old contents", 1 << 20);
        let new_ads = u.data(b"new contents!", 1 << 20);
        let old = u.icb_blocks(2);
        let mut ad = Vec::new();
        encode_ads(&old_ads, AdType::Long, &mut ad).unwrap();
        let mut b = u.entry_bytes(old, file_type::REGULAR, 12, AdType::Long, &ad, 1);
        // Strategy 4096 in the ICB tag (RBP 16 + 4).
        b[20..22].copy_from_slice(&4096u16.to_le_bytes());
        let ident = if u.efe() {
            isoforge_format::udf::tag::EFE
        } else {
            isoforge_format::udf::tag::FE
        };
        isoforge_format::udf::tag::seal(&mut b, ident, old.block).unwrap();
        u.write(old, &b);
        let new = u.entry(file_type::REGULAR, 13, &new_ads, 1);
        let ie_at = isoforge_format::udf::LbAddr {
            partition: old.partition,
            block: old.block + 1,
        };
        u.write(
            ie_at,
            &icb::encode_indirect(ie_at.block, LongAd::new(2048, new)).unwrap(),
        );
        old
    });
    let img = open(raw);
    assert_eq!(read(&img, "/f"), b"new contents!");
}
