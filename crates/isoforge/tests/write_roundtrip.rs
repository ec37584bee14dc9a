//! Random trees go through the builder and come back through the reader in
//! every name space; the writer refuses sources that change while read.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use isoforge::write::{BuildOptions, Builder, FileSource, Meta, RrVersion, Time};
use isoforge::{FileType, Image, View};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Item {
    File(Vec<u8>),
    Link(String),
    Dir,
}

fn name() -> impl Strategy<Value = String> {
    // Printable names, with non-ASCII and long ones now and then.
    prop_oneof![
        "[a-zA-Z0-9_. -]{1,20}",
        "[a-z]{1,8}\\.[a-z]{1,3}",
        "[\\p{L}\\p{N}]{1,12}",
        "[a-z]{60,200}",
    ]
    .prop_filter("reserved", |n| {
        n != "." && n != ".." && !n.trim().is_empty() && !n.contains('/')
    })
}

fn tree() -> impl Strategy<Value = BTreeMap<String, Item>> {
    let item = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..5000).prop_map(Item::File),
        1 => "[a-z./]{1,300}".prop_map(Item::Link),
        1 => Just(Item::Dir),
    ];
    proptest::collection::btree_map(
        proptest::collection::vec(name(), 1..12).prop_map(|v| v.join("/")),
        item,
        1..40,
    )
}

fn meta(i: usize) -> Meta {
    let t = Time {
        secs: 1_600_000_000 + i as i64 * 977,
        nanos: 0,
    };
    Meta {
        perm: [0o644, 0o755, 0o600, 0o4755][i % 4],
        uid: (i % 3) as u32 * 1000,
        gid: (i % 5) as u32,
        mtime: t,
        atime: t,
        ctime: t,
    }
}

/// Adds the items, skipping any whose path runs through a file or link.
fn build(
    items: &BTreeMap<String, Item>,
    opts: BuildOptions,
) -> (Vec<u8>, BTreeMap<String, (Item, Meta)>) {
    let mut b = Builder::new(opts);
    let mut added = BTreeMap::new();
    for (i, (p, item)) in items.iter().enumerate() {
        let path = format!("/{p}");
        let m = meta(i);
        let r = match item {
            Item::File(d) => b.add_file(&path, FileSource::Bytes(Arc::from(d.as_slice())), m),
            Item::Link(t) => b.add_symlink(&path, t, m),
            Item::Dir => b.add_dir(&path, m),
        };
        if r.is_ok() {
            added.insert(path, (item.clone(), m));
        }
    }
    let plan = b.plan().unwrap();
    let mut out = Vec::new();
    plan.write_to(&mut out, &|_| {}).unwrap();
    assert_eq!(out.len() as u64, plan.image_len());
    (out, added)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip(
        items in tree(),
        v112 in any::<bool>(),
        level in 1u8..=4,
        offset in prop_oneof![3 => Just(0u32), 1 => Just(16), 1 => Just(23)],
    ) {
        let mut opts = BuildOptions::default();
        opts.level = level;
        opts.rr_version = if v112 { RrVersion::V112 } else { RrVersion::V109 };
        opts.source_date_epoch = Some(1_700_000_000);
        opts.boot.partition_offset = offset;
        let (image, added) = build(&items, opts);
        // With a partition offset, the partition read on its own is the same
        // file system as the whole image.
        if offset != 0 {
            let part = image.get(offset as usize * 2048..).unwrap().to_vec();
            check_tree(Image::open(part).unwrap(), &added)?;
        }
        check_tree(Image::open(image).unwrap(), &added)?;
    }
}

/// Every added item is in every view of `img`, and nothing else.
fn check_tree(
    img: Image<Vec<u8>>,
    added: &BTreeMap<String, (Item, Meta)>,
) -> Result<(), TestCaseError> {
    {
        let mut seen = BTreeMap::new();
        for e in img.walk(View::RockRidge).unwrap() {
            let e = e.unwrap();
            seen.insert(e.path.clone(), e);
        }
        for (path, (item, m)) in added {
            let e = seen.get(path).unwrap_or_else(|| {
                panic!("{path} missing; have {:?}", seen.keys().collect::<Vec<_>>())
            });
            prop_assert_eq!(e.mode & 0o7777, m.perm);
            prop_assert_eq!(e.uid, m.uid);
            prop_assert_eq!(e.mtime.unwrap().unix, m.mtime.secs);
            match item {
                Item::File(d) => {
                    prop_assert_eq!(e.file_type, FileType::File);
                    let mut got = Vec::new();
                    img.open_file(e).unwrap().copy_to(&mut got).unwrap();
                    prop_assert_eq!(&got, d);
                }
                Item::Link(t) => {
                    prop_assert_eq!(e.file_type, FileType::Symlink);
                    // Empty components and "." and ".." are normalised by SL.
                    let norm = |s: &str| {
                        s.split('/')
                            .filter(|c| !c.is_empty())
                            .collect::<Vec<_>>()
                            .join("/")
                    };
                    prop_assert_eq!(norm(e.target.as_deref().unwrap()), norm(t));
                    prop_assert_eq!(
                        e.target.as_deref().unwrap().starts_with('/'),
                        t.starts_with('/')
                    );
                }
                Item::Dir => prop_assert_eq!(e.file_type, FileType::Dir),
            }
        }
        // Nothing extra but the parents of what was added.
        for p in seen.keys() {
            prop_assert!(
                added
                    .keys()
                    .any(|a| a == p || a.starts_with(&format!("{p}/"))),
                "unexpected {}",
                p
            );
        }
        // The Joliet tree has every file too (names may be shortened).
        let joliet_files = img
            .walk(View::Joliet)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_type == FileType::File)
            .count();
        let files = added
            .values()
            .filter(|(i, _)| matches!(i, Item::File(_)))
            .count();
        prop_assert_eq!(joliet_files, files);
        // And the plain tree, through relocation, holds as many files with
        // data (it also shows relocated directories' empty placeholders).
        let plain_files = img
            .walk(View::Iso9660)
            .unwrap()
            .filter(|e| {
                let e = e.as_ref().unwrap();
                e.file_type == FileType::File && e.size > 0
            })
            .count();
        let nonempty = added
            .values()
            .filter(|(i, _)| matches!(i, Item::File(d) if !d.is_empty()))
            .count();
        prop_assert_eq!(plain_files, nonempty);
    }
    Ok(())
}

#[test]
fn a_file_that_changes_size_fails_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, vec![1u8; 10_000]).unwrap();
    let mut b = Builder::new(BuildOptions::default());
    b.add_host("/f", &f).unwrap();
    let plan = b.plan().unwrap();
    std::fs::write(&f, vec![1u8; 5_000]).unwrap();
    let err = plan.write_to(&mut Vec::new(), &|_| {}).unwrap_err();
    assert!(err.to_string().contains("changed size"), "{err}");
    std::fs::write(&f, vec![1u8; 20_000]).unwrap();
    let err = plan.write_to(&mut Vec::new(), &|_| {}).unwrap_err();
    assert!(err.to_string().contains("grew"), "{err}");
}

#[test]
fn a_large_file_that_changes_size_fails_the_direct_copy() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big");
    std::fs::write(&f, vec![3u8; 3 << 20]).unwrap();
    let mut b = Builder::new(BuildOptions::default());
    b.add_host("/big", &f).unwrap();
    let plan = b.plan().unwrap();
    let out = std::fs::File::create(dir.path().join("o.iso")).unwrap();
    std::fs::write(&f, vec![3u8; 1 << 20]).unwrap();
    let err = plan.write_to_file(&out, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("changed size"), "{err}");
    // Unchanged, the file copy gives the same bytes as the stream.
    std::fs::write(&f, vec![3u8; 3 << 20]).unwrap();
    plan.write_to_file(&out, &|_| {}).unwrap();
    let mut streamed = Vec::new();
    plan.write_to(&mut streamed, &|_| {}).unwrap();
    assert!(std::fs::read(dir.path().join("o.iso")).unwrap() == streamed);
}

#[test]
fn hard_links_share_one_extent_and_serial_number() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"shared").unwrap();
    std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
    std::fs::write(dir.path().join("c"), b"shared").unwrap();
    let mut b = Builder::new(BuildOptions::default());
    b.add_host("/", dir.path()).unwrap();
    let plan = b.plan().unwrap();
    let mut out = Vec::new();
    plan.write_to(&mut out, &|_| {}).unwrap();
    let img = Image::open(out).unwrap();
    let get = |p: &str| img.lookup(p, View::RockRidge).unwrap();
    let (a, bb, c) = (get("/a"), get("/b"), get("/c"));
    assert_eq!(a.extents, bb.extents);
    assert_eq!(a.ino, bb.ino);
    assert_eq!(a.nlink, 2);
    assert_ne!(a.ino, c.ino);
    assert_ne!(a.extents, c.extents);
}

/// The files bsdtar extracts from `image` (path -> bytes), or `None` with
/// the reason printed when bsdtar is missing (a failure when oracles are
/// required).
fn bsdtar_files(image: &[u8]) -> Option<BTreeMap<String, Vec<u8>>> {
    use std::process::Command;
    if Command::new("bsdtar").arg("--version").output().is_err() {
        if std::env::var("ISOFORGE_REQUIRE_ORACLES").is_ok_and(|v| v == "1") {
            panic!("oracle missing and ISOFORGE_REQUIRE_ORACLES=1: bsdtar is not installed");
        }
        eprintln!("skipped: bsdtar is not installed");
        return None;
    }
    let d = tempfile::tempdir().unwrap();
    let (iso, out) = (d.path().join("i.iso"), d.path().join("x"));
    std::fs::write(&iso, image).unwrap();
    std::fs::create_dir(&out).unwrap();
    let st = Command::new("bsdtar")
        .arg("xf")
        .arg(&iso)
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "bsdtar xf failed");
    let mut files = BTreeMap::new();
    for e in walkdir::WalkDir::new(&out) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(&out)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(format!("/{rel}"), std::fs::read(e.path()).unwrap());
        }
    }
    Some(files)
}

/// Bytes computed on demand: a source that is neither a file nor in memory.
struct Pattern(u64);

impl isoforge::source::ReadAt for Pattern {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        if offset + buf.len() as u64 > self.0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = ((offset + i as u64) % 251) as u8;
        }
        Ok(())
    }
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.0)
    }
}

#[test]
fn files_from_readers() {
    use isoforge::source::SeekSource;
    let seekable: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut b = Builder::new(BuildOptions::default());
    let m = meta(1);
    let cursor = SeekSource::new(std::io::Cursor::new(seekable.clone()));
    b.add_file(
        "/a/seek.bin",
        FileSource::reader(Arc::new(cursor)).unwrap(),
        m,
    )
    .unwrap();
    let n = 3 * 1024 * 1024 + 17;
    b.add_file(
        "/gen.bin",
        FileSource::reader(Arc::new(Pattern(n))).unwrap(),
        m,
    )
    .unwrap();
    let plan = b.plan().unwrap();
    let mut out = Vec::new();
    plan.write_to(&mut out, &|_| {}).unwrap();
    let want: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    if let Some(files) = bsdtar_files(&out) {
        assert_eq!(files.len(), 2, "{:?}", files.keys());
        assert!(files["/a/seek.bin"] == seekable);
        assert!(files["/gen.bin"] == want);
    }
    let img = Image::open(out).unwrap();
    let read = |p: &str| {
        let e = img.lookup(p, View::RockRidge).unwrap();
        let mut v = Vec::new();
        img.open_file(&e).unwrap().copy_to(&mut v).unwrap();
        v
    };
    assert!(read("/a/seek.bin") == seekable);
    assert!(read("/gen.bin") == want);

    // A source that shrinks after it was added fails the write.
    let shrinking = Arc::new(std::sync::Mutex::new(Pattern(10_000)));
    struct Shared(Arc<std::sync::Mutex<Pattern>>);
    impl isoforge::source::ReadAt for Shared {
        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            self.0.lock().unwrap().read_exact_at(offset, buf)
        }
        fn size(&self) -> std::io::Result<u64> {
            self.0.lock().unwrap().size()
        }
    }
    let mut b = Builder::new(BuildOptions::default());
    let src = FileSource::reader(Arc::new(Shared(shrinking.clone()))).unwrap();
    b.add_file("/s.bin", src, meta(2)).unwrap();
    let plan = b.plan().unwrap();
    shrinking.lock().unwrap().0 = 5_000;
    assert!(plan.write_to(&mut Vec::new(), &|_| {}).is_err());
}

#[test]
fn large_files_keep_their_place_within_a_page() {
    use isoforge::write::ImageData;
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..(2u32 << 20) + 5).map(|i| (i % 253) as u8).collect();
    // Small files of one and two blocks before the large ones move the
    // next free block to either parity.
    for (i, small) in [2048usize, 4096, 2048].iter().enumerate() {
        std::fs::write(dir.path().join(format!("a{i}")), vec![7u8; *small]).unwrap();
        std::fs::write(dir.path().join(format!("b{i}")), &big).unwrap();
    }
    // Data of an existing image at an odd block keeps an odd block.
    let mut src = vec![0u8; 3 * 2048];
    src.extend_from_slice(&big);
    let src: Arc<dyn isoforge::ReadAt> = Arc::new(src);
    let mut b = Builder::new(BuildOptions::default());
    b.add_host("/", dir.path()).unwrap();
    let runs = vec![(3 * 2048, big.len() as u64)];
    b.add_file("/c", FileSource::Image(ImageData::new(src, runs)), meta(9))
        .unwrap();
    let plan = b.plan().unwrap();
    let mut out = Vec::new();
    plan.write_to(&mut out, &|_| {}).unwrap();
    if let Some(files) = bsdtar_files(&out) {
        for name in ["/b0", "/b1", "/b2", "/c"] {
            assert!(files[name] == big, "bsdtar: {name}");
        }
        assert_eq!(files["/a1"], vec![7u8; 4096]);
    }
    let img = Image::open(out).unwrap();
    for (name, parity) in [("/b0", 0), ("/b1", 0), ("/b2", 0), ("/c", 1)] {
        let e = img.lookup(name, View::RockRidge).unwrap();
        assert_eq!(e.extents[0].lba % 2, parity, "{name}: {:?}", e.extents);
        let mut v = Vec::new();
        img.open_file(&e).unwrap().copy_to(&mut v).unwrap();
        assert!(v == big, "{name}");
    }
}
