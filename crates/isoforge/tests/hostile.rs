//! Hand-made hostile images, one test per attack class. Each case must end in
//! a typed error naming the structure and its byte offset, or in a diagnostic
//! and a bounded result; never a panic, a hang or a large allocation. Every
//! case runs in its own thread under a two-second bound.

#[path = "hostile/builder.rs"]
mod builder;

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use builder::*;
use isoforge::{Entry, Error, FileType, Image, Limits, ReadOptions, Strictness, View};

/// Runs `f` in a thread and fails if it takes longer than two seconds.
/// A panic in `f` is re-raised here.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(2)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the thread sent nothing and did not panic"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("not done within 2 s: a hang"),
    }
}

fn open_with(data: Vec<u8>, opts: ReadOptions) -> Result<Image<Vec<u8>>, Error> {
    Image::open_with(data, &opts)
}

fn open(data: Vec<u8>) -> Image<Vec<u8>> {
    match Image::open(data) {
        Ok(img) => img,
        Err(e) => panic!("image should open: {e}"),
    }
}

fn open_err(data: Vec<u8>) -> Error {
    match Image::open(data) {
        Ok(_) => panic!("image should not open"),
        Err(e) => e,
    }
}

fn limited(f: impl FnOnce(&mut Limits)) -> ReadOptions {
    let mut l = Limits::default();
    f(&mut l);
    ReadOptions::default().limits(l)
}

/// Walks a view to the end or the first error.
fn walk(img: &Image<Vec<u8>>, view: View) -> Result<Vec<Entry>, Error> {
    img.walk(view)?.collect()
}

fn walk_err(img: &Image<Vec<u8>>, view: View) -> Error {
    match walk(img, view) {
        Ok(v) => panic!("walk should fail, found {} entries", v.len()),
        Err(e) => e,
    }
}

/// Reads at most `cap` bytes of a file.
fn read(img: &Image<Vec<u8>>, e: &Entry, cap: u64) -> Result<Vec<u8>, String> {
    let r = img.open_file(e).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    r.take(cap)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn find<'a>(entries: &'a [Entry], path: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("{path} not found in {entries:?}"))
}

/// The error is `Corrupt`, names `structure` and says "at byte `offset`".
#[track_caller]
fn assert_corrupt(err: &Error, structure: &str, offset: Option<u64>) {
    let s = err.to_string();
    assert!(s.contains(structure), "{s:?} does not name {structure:?}");
    assert!(s.contains("at byte"), "{s:?} has no byte offset");
    match err {
        Error::Corrupt(c) => {
            if let Some(o) = offset {
                assert_eq!(c.offset(), o, "{s}");
            }
        }
        other => panic!("expected a Corrupt error, got {other:?}"),
    }
}

/// The error is `LimitExceeded` for a limit whose name contains `what`.
#[track_caller]
fn assert_limit(err: &Error, what: &str) {
    match err {
        Error::LimitExceeded { what: w, .. } => assert!(w.contains(what), "{err}"),
        other => panic!("expected LimitExceeded({what}), got {other}"),
    }
}

/// Byte offset of the `n`th byte of block `lba`.
fn at(lba: u32, n: usize) -> u64 {
    lba as u64 * BLOCK as u64 + n as u64
}

/// Byte offset of the first child record of a directory with plain "." and
/// ".." records (34 bytes each).
fn first_child(lba: u32) -> u64 {
    at(lba, 68)
}

/// Byte offset of the first child record of the root of an image made with
/// [`Iso::rock_ridge`], whose "." record carries SP and ER.
fn rr_first_child() -> u64 {
    at(ROOT, 68 + rr_root_su().len())
}

/// `n` distinct file records of exactly `len` bytes (33 + 1-byte name + system use).
fn filler(n: usize, len: usize, first_name: u8) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| dir_record(&[first_name + i as u8], 0, 0, 0, &vec![b'x'; len - 34]))
        .collect()
}

// ---------------------------------------------------------------- truncation

#[test]
fn truncated_before_and_inside_the_pvd() {
    for len in [
        0,
        1000,
        PVD_OFFSET,
        PVD_OFFSET + 100,
        PVD_OFFSET + BLOCK - 1,
    ] {
        let mut data = Iso::new(30).bytes();
        data.truncate(len);
        let e = bounded(move || open_err(data));
        assert_corrupt(&e, "volume descriptor", Some(PVD_OFFSET as u64));
    }
}

#[test]
fn truncated_before_the_root_directory() {
    let mut data = Iso::new(30).bytes();
    data.truncate(ROOT as usize * BLOCK + 100);
    let e = bounded(move || open_err(data));
    assert_corrupt(&e, "root directory", Some(at(ROOT, 0)));
}

#[test]
fn truncated_inside_a_file_extent() {
    let mut iso = Iso::new(FREE + 3);
    iso.root(false, &[file(b"F.TXT;1", FREE, 5 * BLOCK as u32)]);
    let e = bounded(move || {
        let img = open(iso.bytes());
        let all = walk(&img, View::Iso9660).expect("walk");
        let f = find(&all, "/F.TXT");
        assert!(img.data_ranges(f).is_err());
        match img.open_file(f) {
            Ok(_) => panic!("file past the end opened"),
            Err(e) => e,
        }
    });
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
    assert!(e.to_string().contains("past the end of the image"), "{e}");
}

#[test]
fn truncated_before_the_path_tables() {
    let mut iso = Iso::new(30);
    // Path tables claimed far beyond the end of the image.
    iso.pvd_mut()[140..144].copy_from_slice(&9000u32.to_le_bytes());
    let e = bounded(move || {
        let img = open(iso.bytes());
        img.check_path_tables(View::Iso9660)
            .expect_err("path table past the end")
    });
    assert_corrupt(&e, "path table", Some(at(9000, 0)));
}

// --------------------------------------------------------- directory records

#[test]
fn record_length_below_34() {
    let mut iso = Iso::new(FREE);
    let mut bad = file(b"A;1", 0, 0);
    bad[0] = 20;
    iso.root(false, &[bad]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
    assert!(e.to_string().contains("length"), "{e}");
}

#[test]
fn record_overrunning_its_sector() {
    let mut iso = Iso::new(FREE);
    // "." and ".." (68 bytes), 7 x 254 and 1 x 200 bytes: 2046 bytes used.
    let mut recs = filler(7, 254, b'A');
    recs.extend(filler(1, 200, b'Q'));
    iso.root(false, &recs);
    // A record of 40 bytes starting 2 bytes before the end of the sector.
    iso.put_at(ROOT as usize * BLOCK + 2046, &[40, 0]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(at(ROOT, 2046)));
    assert!(e.to_string().contains("overruns its sector"), "{e}");
}

#[test]
fn record_overrunning_the_directory_extent() {
    let mut iso = Iso::new(FREE);
    iso.root(false, &[file(b"A;1", 0, 0)]);
    // The directory says it is 80 bytes: the child record crosses its end.
    iso.set_root(ROOT, 80);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
}

#[test]
fn identifier_length_past_the_record() {
    let mut iso = Iso::new(FREE);
    let mut bad = file(b"A;1", 0, 0);
    bad[32] = 200;
    iso.root(false, &[bad]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
    assert!(e.to_string().contains("identifier length"), "{e}");
}

#[test]
fn zero_length_byte_skips_to_the_next_sector() {
    let mut iso = Iso::new(FREE + 2);
    // The root spans two sectors; the first ends in zero padding after A,
    // the second holds B and C.
    let first = dir_sectors(&[
        dot(ROOT, 2 * BLOCK as u32, &[]),
        dotdot(ROOT, 2 * BLOCK as u32),
        file(b"A;1", 0, 0),
    ]);
    let second = dir_sectors(&[file(b"B;1", 0, 0), file(b"C;1", 0, 0)]);
    iso.put(ROOT, &first);
    iso.put(ROOT + 1, &second);
    iso.set_root(ROOT, 2 * BLOCK as u32);
    let names = bounded(move || {
        let img = open(iso.bytes());
        let all = walk(&img, View::Iso9660).expect("walk");
        all.into_iter().map(|e| e.name).collect::<Vec<_>>()
    });
    assert_eq!(names, ["A", "B", "C"]);
}

// ------------------------------------------------------------------- extents

#[test]
fn interleaved_file_with_millions_of_units() {
    let mut iso = Iso::new(FREE);
    let mut rec = file(b"I;1", FREE, u32::MAX);
    rec[26] = 1; // file unit size: one block
    rec[27] = 200; // interleave gap
    iso.root(false, &[rec]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "interleaved", Some(first_child(ROOT)));
    assert!(e.to_string().contains("interleaved units"), "{e}");
}

#[test]
fn file_extent_out_of_range_and_overflowing() {
    let mut iso = Iso::new(FREE);
    let mut ear = file(b"EAR;1", u32::MAX, 10);
    ear[1] = 5; // extended attribute record length: u32::MAX + 5 overflows
    iso.root(
        false,
        &[
            file(b"FAR;1", 1_000_000, 10),
            file(b"MAX;1", u32::MAX, u32::MAX),
            file(b"END;1", u32::MAX - 1, u32::MAX),
        ],
    );
    let data = iso.bytes();
    bounded(move || {
        let img = open(data);
        let all = walk(&img, View::Iso9660).expect("walk");
        assert_eq!(all.len(), 3);
        for e in &all {
            let err = match img.open_file(e) {
                Ok(_) => panic!("{} opened", e.path),
                Err(err) => err,
            };
            assert_corrupt(&err, "directory record", Some(e.record_offset));
        }
    });
    let mut iso = Iso::new(FREE);
    iso.root(false, &[ear]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
    assert!(e.to_string().contains("overflows"), "{e}");
}

#[test]
fn directory_extent_out_of_range() {
    for lba in [1_000_000, u32::MAX - 1, u32::MAX] {
        let mut iso = Iso::new(FREE);
        iso.root(false, &[subdir(b"D", lba, BLOCK as u32)]);
        let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
        assert_corrupt(&e, "directory", Some(at(lba, 0)));
        assert!(e.to_string().contains("past the end"), "{e}");
    }
    // The root itself.
    let mut iso = Iso::new(FREE);
    iso.set_root(u32::MAX, BLOCK as u32);
    let e = bounded(move || open_err(iso.bytes()));
    assert_corrupt(&e, "root directory", None);
}

#[test]
fn logical_block_size_not_512_1024_2048() {
    for bs in [0u16, 1, 4096, 1 << 15, u16::MAX] {
        let mut iso = Iso::new(FREE);
        iso.pvd_mut()[128..132].copy_from_slice(&both16(bs));
        let e = bounded(move || open_err(iso.bytes()));
        assert_corrupt(&e, "primary volume descriptor", Some(PVD_OFFSET as u64));
        assert!(e.to_string().contains("logical block size"), "{e}");
    }
}

// --------------------------------------------------- cycles, DAGs and depth

#[test]
fn directory_pointing_at_itself() {
    let mut iso = Iso::new(FREE);
    iso.root(false, &[subdir(b"LOOP", ROOT, BLOCK as u32)]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
    assert!(e.to_string().contains("directory loop"), "{e}");
}

#[test]
fn directory_pointing_at_an_ancestor() {
    let (a, b) = (FREE, FREE + 1);
    let mut iso = Iso::new(FREE + 2);
    iso.root(false, &[subdir(b"A", a, BLOCK as u32)]);
    iso.dir(a, BLOCK as u32, ROOT, &[], &[subdir(b"B", b, BLOCK as u32)]);
    iso.dir(b, BLOCK as u32, a, &[], &[subdir(b"BACK", a, BLOCK as u32)]);
    let data = iso.bytes();
    let e = bounded(move || {
        let img = open(data);
        // A lookup follows only the components it is given, loop or not.
        let deep = img
            .lookup("/A/B/BACK/B/BACK/B", View::Iso9660)
            .expect("lookup");
        assert_eq!(deep.extents[0].lba, b);
        walk_err(&img, View::Iso9660)
    });
    assert_corrupt(&e, "directory record", Some(first_child(b)));
    assert!(e.to_string().contains("/A/B/BACK"), "{e}");
}

#[test]
fn many_directories_sharing_one_big_directory() {
    // 50 directories all point at one directory of 8 sectors full of
    // entries: without a visited set the walk would list it 50 times.
    let shared = FREE;
    let sectors = 8u32;
    let mut iso = Iso::new(FREE + sectors);
    let names: Vec<Vec<u8>> = (0..50).map(|i| format!("D{i:02}").into_bytes()).collect();
    let recs: Vec<Vec<u8>> = names
        .iter()
        .map(|n| subdir(n, shared, sectors * BLOCK as u32))
        .collect();
    iso.root(false, &recs);
    let files: Vec<Vec<u8>> = (0..300)
        .map(|i| file(format!("F{i:03}.TXT;1").as_bytes(), 0, 0))
        .collect();
    let n = iso.dir(shared, sectors * BLOCK as u32, ROOT, &[], &files);
    assert!(n <= (sectors as usize) * BLOCK);
    let data = iso.bytes();
    let (e, seen) = bounded(move || {
        let img = open(data);
        let mut seen = 0;
        for r in img.walk(View::Iso9660).expect("walk") {
            match r {
                Ok(_) => seen += 1,
                Err(e) => return (e, seen),
            }
        }
        panic!("the walk revisited the shared directory {seen} times over");
    });
    // D00, its 300 files, then D01 is refused.
    assert_eq!(seen, 301);
    assert!(e.to_string().contains("already visited"), "{e}");
    assert_corrupt(&e, "directory record", None);
}

#[test]
fn overlapping_directory_extents_at_distinct_blocks() {
    // 50 directories of 8 MiB starting one block apart: each is a new
    // extent for the visited set, but together they would read 400 MiB of
    // an 8 MiB image.
    let n = 50u32;
    let len = 8u32 << 20;
    let recs: Vec<Vec<u8>> = (0..n)
        .map(|i| subdir(format!("D{i:02}").as_bytes(), FREE + i, len))
        .collect();
    let mut iso = Iso::new(FREE + len / BLOCK as u32 + n);
    iso.root(false, &recs);
    let data = iso.bytes();
    let (e, seen) = bounded(move || {
        let img = open(data);
        let mut seen = 0;
        for r in img.walk(View::Iso9660).expect("walk") {
            match r {
                Ok(_) => seen += 1,
                Err(e) => return (e, seen),
            }
        }
        panic!("all {seen} overlapping directories were read");
    });
    assert_limit(&e, "total directory bytes");
    assert!(seen < 5, "{seen} directories read before the limit");
}

/// A chain of `n` nested directories /D/D/.../D, one block each.
fn nested(n: u32) -> Vec<u8> {
    let mut iso = Iso::new(FREE + n);
    iso.root(false, &[subdir(b"D", FREE, BLOCK as u32)]);
    for i in 0..n {
        let lba = FREE + i;
        let parent = if i == 0 { ROOT } else { lba - 1 };
        let child = if i + 1 < n {
            vec![subdir(b"D", lba + 1, BLOCK as u32)]
        } else {
            vec![]
        };
        iso.dir(lba, BLOCK as u32, parent, &[], &child);
    }
    iso.bytes()
}

#[test]
fn nesting_deeper_than_max_depth() {
    let data = nested(300);
    let e = bounded(move || walk_err(&open(data), View::Iso9660));
    assert_limit(&e, "nesting depth");

    let data = nested(40);
    let opts = limited(|l| l.max_depth = 16);
    let (walk_e, lookup_e) = bounded(move || {
        let img = open_with(data, opts).expect("open");
        let deep = vec!["D"; 30].join("/");
        let l = img.lookup(&deep, View::Iso9660).expect_err("too deep");
        (walk_err(&img, View::Iso9660), l)
    });
    assert_limit(&walk_e, "nesting depth");
    assert_limit(&lookup_e, "nesting depth");
}

#[test]
fn huge_directory_length_is_a_limit_not_an_allocation() {
    for len in [0xFFFF_F800u32, u32::MAX, 64 << 20 | 1] {
        let mut iso = Iso::new(FREE);
        iso.root(false, &[subdir(b"HUGE", FREE, len)]);
        let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
        assert_limit(&e, "directory");
    }
    // With the per-directory cap lifted, the image size still bounds it.
    let mut iso = Iso::new(FREE);
    iso.root(false, &[subdir(b"HUGE", FREE, 0xFFFF_F800)]);
    let opts = limited(|l| l.max_dir_bytes = u32::MAX);
    let e = bounded(move || walk_err(&open_with(iso.bytes(), opts).expect("open"), View::Iso9660));
    assert_limit(&e, "total directory bytes");
    // And with every directory cap lifted, reading stops at the image end.
    let mut iso = Iso::new(FREE);
    iso.root(false, &[subdir(b"HUGE", FREE, 0x10_0000)]);
    let opts = limited(|l| l.max_dir_bytes = u32::MAX);
    let e = bounded(move || walk_err(&open_with(iso.bytes(), opts).expect("open"), View::Iso9660));
    assert_corrupt(&e, "directory", Some(at(FREE, 0)));
    // And the root.
    let mut iso = Iso::new(FREE);
    iso.set_root(ROOT, 0xFFFF_F800);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::Iso9660));
    assert_limit(&e, "directory");
}

// ----------------------------------------------------------------- SUSP/RRIP

/// A Rock Ridge image whose root holds one file `F` with system use `su`.
fn rr_file(su: &[u8], extra_blocks: u32) -> Iso {
    let mut iso = Iso::rock_ridge(FREE + extra_blocks);
    iso.root(true, &[dir_record(b"F;1", 0, 0, 0, su)]);
    iso
}

#[test]
fn susp_entry_shorter_than_its_header() {
    let iso = rr_file(&[b'P', b'X', 2, 1, 0, 0], 0);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_corrupt(&e, "SUSP entry", Some(rr_first_child()));
    assert!(e.to_string().contains("SUSP entry length"), "{e}");
}

#[test]
fn susp_entry_longer_than_its_area() {
    let iso = rr_file(&[b'N', b'M', 60, 1, 0, b'a'], 0);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_corrupt(&e, "SUSP entry", None);
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn rrip_entry_payload_too_short() {
    // A PX with 8 bytes where at least 32 are needed; a ZF with 2.
    for su in [
        susp(b"PX", &[0; 8]),
        susp(b"ZF", b"pz"),
        susp(b"TF", &[0x81, 0]),
    ] {
        // Tolerant: a diagnostic naming the entry, and the walk goes on
        // (genisoimage writes such entries for long symbolic links).
        let bytes = rr_file(&su, 0).bytes();
        let strict_bytes = bytes.clone();
        let diags = bounded(move || {
            let img = open(bytes);
            let mut w = img.walk(View::RockRidge).expect("walk");
            assert!(w.by_ref().all(|e| e.is_ok()));
            w.diagnostics().to_vec()
        });
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("Rock Ridge entry") && d.message.contains("at byte")),
            "{diags:?}"
        );
        // Strict: an error.
        let e = bounded(move || {
            let img = open_with(
                strict_bytes,
                ReadOptions::default().strictness(Strictness::Strict),
            )
            .expect("open");
            walk_err(&img, View::RockRidge)
        });
        assert_corrupt(&e, "Rock Ridge entry", None);
    }
}

#[test]
fn er_lengths_past_the_entry() {
    let mut iso = Iso::rock_ridge(FREE);
    // ER claiming a 200-byte identifier in a 10-byte entry.
    let su = [sp(0), susp(b"ER", &[200, 0, 0, 1, b'R', b'R'])].concat();
    iso.dir(ROOT, BLOCK as u32, ROOT, &su, &[]);
    let e = bounded(move || open_err(iso.bytes()));
    assert_corrupt(&e, "SUSP ER entry", Some(at(ROOT, 0)));
}

#[test]
fn sp_skip_larger_than_any_area() {
    let mut iso = Iso::rock_ridge(FREE);
    let su = [sp(255), er("RRIP_1991A")].concat();
    iso.dir(
        ROOT,
        BLOCK as u32,
        ROOT,
        &su,
        &[dir_record(b"F;1", 0, 0, 0, &nm(0, b"long-name"))],
    );
    let names = bounded(move || {
        let img = open(iso.bytes());
        assert_eq!(img.info().rock_ridge.as_ref().map(|r| r.skip), Some(255));
        let all = walk(&img, View::RockRidge).expect("walk");
        all.into_iter().map(|e| e.name).collect::<Vec<_>>()
    });
    // Every area is skipped entirely: the ISO name is used.
    assert_eq!(names, ["F"]);
}

#[test]
fn ce_pointing_at_itself() {
    let area = FREE;
    let mut iso = rr_file(&ce(area, 0, 28), 1);
    iso.put(area, &ce(area, 0, 28));
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_corrupt(&e, "SUSP CE entry", Some(at(area, 0)));
    assert!(e.to_string().contains("loops"), "{e}");

    // A -> B -> A.
    let mut iso = rr_file(&ce(area, 0, 28), 1);
    iso.put_at(at(area, 0) as usize, &ce(area, 100, 28));
    iso.put_at(at(area, 100) as usize, &ce(area, 0, 28));
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_corrupt(&e, "SUSP CE entry", Some(at(area, 100)));
}

#[test]
fn ce_chain_longer_than_32() {
    let area = FREE;
    let mut iso = rr_file(&ce(area, 0, 28), 1);
    for i in 0..60u32 {
        iso.put_at(
            at(area, 28 * i as usize) as usize,
            &ce(area, 28 * (i + 1), 28),
        );
    }
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_limit(&e, "CE");
}

#[test]
fn ce_pointing_past_the_image() {
    for (block, offset, len) in [(100_000, 0, 100), (u32::MAX, 2000, 48), (FREE, 0, 4096)] {
        let iso = rr_file(&ce(block, offset, len), 0);
        let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
        assert_corrupt(&e, "SUSP CE entry", Some(rr_first_child()));
    }
}

#[test]
fn ce_area_crossing_its_block() {
    let area = FREE;
    for (offset, len) in [(2000, 100), (2048, 10), (0, 2049), (u32::MAX, 28)] {
        let mut iso = rr_file(&ce(area, offset, len), 2);
        iso.put(area + 1, &nm(0, b"x"));
        let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
        assert_corrupt(&e, "SUSP CE entry", Some(rr_first_child()));
    }
}

/// Entries laid out in continuation areas of consecutive blocks from
/// `first`, each area ending with a CE to the next; the record's own system
/// use is a CE to the first area. Returns the record's system use.
fn ce_chain(iso: &mut Iso, first: u32, areas: &[Vec<u8>]) -> Vec<u8> {
    for (i, a) in areas.iter().enumerate() {
        let lba = first + i as u32;
        let mut bytes = a.clone();
        if i + 1 < areas.len() {
            bytes.extend(ce(lba + 1, 0, areas[i + 1].len() as u32 + 28));
        }
        assert!(bytes.len() <= BLOCK);
        iso.put(lba, &bytes);
    }
    let first_len = areas[0].len() + if areas.len() > 1 { 28 } else { 0 };
    ce(first, 0, first_len as u32)
}

#[test]
fn nm_pieces_joined_beyond_the_cap() {
    let mut iso = Iso::rock_ridge(FREE + 2);
    // 2 areas x 8 NM entries of 240 bytes, each "continues".
    let area: Vec<u8> = (0..8).flat_map(|_| nm(1, &[b'n'; 240])).collect();
    let su = ce_chain(&mut iso, FREE, &[area.clone(), area]);
    iso.root(true, &[dir_record(b"F;1", 0, 0, 0, &su)]);
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_limit(&e, "NM");
}

#[test]
fn sl_target_beyond_the_cap() {
    let mut iso = Iso::rock_ridge(FREE + 3);
    // 3 areas x 8 SL entries of two 110-byte components each: > 4096 bytes.
    let comp = [b's'; 110];
    let area: Vec<u8> = (0..8)
        .flat_map(|_| sl(1, &[(0, &comp[..]), (0, &comp[..])]))
        .collect();
    let su = ce_chain(&mut iso, FREE, &[area.clone(), area.clone(), area]);
    iso.root(
        true,
        &[dir_record(b"L;1", 0, 0, 0, &[px(0o120_777), su].concat())],
    );
    let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
    assert_limit(&e, "SL");
}

#[test]
fn cl_pointing_at_a_non_directory() {
    // A block of file data, and a block whose first record is a file.
    let data_block = FREE;
    let file_dir = FREE + 1;
    for target in [data_block, file_dir, 5_000_000] {
        let mut iso = Iso::rock_ridge(FREE + 2);
        iso.put(data_block, b"just some file contents");
        iso.put(file_dir, &dir_sectors(&[file(b"NOTDIR;1", file_dir, 10)]));
        iso.root(
            true,
            &[dir_record(
                b"C;1",
                0,
                0,
                0,
                &[px(0o040_755), cl(target)].concat(),
            )],
        );
        let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
        let s = e.to_string();
        assert!(s.contains("at byte"), "{s}");
        assert!(s.contains("CL") || s.contains("relocated directory"), "{s}");
    }
}

#[test]
fn cl_pointing_at_an_ancestor() {
    // /A/C is a CL placeholder whose target is the root; /A/P has CL to /A.
    let a = FREE;
    for target in [ROOT, a] {
        let mut iso = Iso::rock_ridge(FREE + 1);
        iso.root(true, &[subdir(b"A", a, BLOCK as u32)]);
        iso.dir(
            a,
            BLOCK as u32,
            ROOT,
            &[],
            &[dir_record(
                b"C;1",
                0,
                0,
                0,
                &[px(0o040_755), cl(target)].concat(),
            )],
        );
        let e = bounded(move || walk_err(&open(iso.bytes()), View::RockRidge));
        assert_corrupt(&e, "directory record", Some(first_child(a)));
        assert!(e.to_string().contains("directory loop"), "{e}");
    }
}

#[test]
fn relocated_directory_with_looping_pl_and_re() {
    // rr_moved/M is relocated (RE) and its ".." PL points at itself; the
    // placeholder /P has CL to it. The walk shows /P once and ends.
    let moved = FREE;
    let m = FREE + 1;
    let mut iso = Iso::rock_ridge(FREE + 2);
    iso.root(
        true,
        &[
            dir_record(b"P;1", 0, 0, 0, &[px(0o040_755), cl(m)].concat()),
            dir_record(b"RR_MOVED", moved, BLOCK as u32, DIR, &nm(0, b"rr_moved")),
        ],
    );
    iso.dir(
        moved,
        BLOCK as u32,
        ROOT,
        &[],
        &[dir_record(b"M", m, BLOCK as u32, DIR, &re())],
    );
    let recs = vec![
        dot(m, BLOCK as u32, &[]),
        dir_record(&[1], m, BLOCK as u32, DIR, &pl(m)),
        file(b"INSIDE;1", 0, 0),
    ];
    iso.put(m, &dir_sectors(&recs));
    let paths = bounded(move || {
        let img = open(iso.bytes());
        let all = walk(&img, View::RockRidge).expect("walk");
        all.into_iter().map(|e| e.path).collect::<Vec<_>>()
    });
    assert_eq!(paths, ["/P", "/P/INSIDE"]);
}

// -------------------------------------------------------------------- zisofs

/// A Rock Ridge image whose root holds file `Z` with `zfile` as its data,
/// marked with `zf_entry`.
fn zisofs_image(zfile: &[u8], zf_entry: &[u8]) -> Vec<u8> {
    let blocks = zfile.len().div_ceil(BLOCK) as u32;
    let mut iso = Iso::rock_ridge(FREE + blocks);
    iso.put(FREE, zfile);
    iso.root(
        true,
        &[dir_record(
            b"Z;1",
            FREE,
            zfile.len() as u32,
            0,
            &[px(0o100_644), zf_entry.to_vec()].concat(),
        )],
    );
    iso.bytes()
}

fn zisofs_read_err(data: Vec<u8>) -> Error {
    bounded(move || {
        let img = open(data);
        let all = walk(&img, View::RockRidge).expect("walk");
        let z = find(&all, "/Z");
        assert!(z.zisofs.is_some());
        let mut out = Vec::new();
        match img.open_file(z).and_then(|mut r| r.copy_to(&mut out)) {
            Ok(n) => panic!("read {n} bytes from a bad zisofs file"),
            Err(e) => e,
        }
    })
}

#[test]
fn zisofs_well_formed_reads_back() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let img = zisofs_image(&zisofs_file(&data, 15), &zf(15, data.len() as u32));
    let out = bounded(move || {
        let img = open(img);
        let all = walk(&img, View::RockRidge).expect("walk");
        read(&img, find(&all, "/Z"), u64::MAX).expect("read")
    });
    assert!(out == data, "zisofs contents differ");
}

#[test]
fn zisofs_block_size_out_of_range() {
    for log2 in [0u8, 2, 14, 18, 31, 63, 255] {
        let zfile = zisofs_file(&[7; 1000], 15);
        let mut zfile2 = zfile.clone();
        zfile2[13] = log2;
        for (zfile, entry) in [(zfile, zf(log2, 1000)), (zfile2, zf(log2, 1000))] {
            let e = zisofs_read_err(zisofs_image(&zfile, &entry));
            assert_corrupt(&e, "zisofs file", Some(rr_first_child()));
            assert!(e.to_string().contains(&format!("2^{log2}")), "{e}");
        }
    }
}

#[test]
fn zisofs_block_pointers_bad() {
    let block = deflate(&[1; 1000]);
    let table_end = 16 + 2 * 4;
    let end = table_end + block.len() as u32;
    for pointers in [
        [end, table_end],          // decreasing
        [table_end - 4, end],      // inside the table
        [table_end, end + 10_000], // past the end of the file
        [table_end, u32::MAX],     // far past
    ] {
        let zfile = zisofs_raw(1000, 15, &pointers, std::slice::from_ref(&block));
        let e = zisofs_read_err(zisofs_image(&zfile, &zf(15, 1000)));
        assert_corrupt(&e, "zisofs file", Some(rr_first_child()));
    }
    // A table that does not fit in the file (4 GiB in 32 KiB blocks).
    let zfile = zisofs_raw(u32::MAX, 15, &[], &[]);
    let e = zisofs_read_err(zisofs_image(&zfile, &zf(15, u32::MAX)));
    assert!(e.to_string().contains("pointer table"), "{e}");
}

#[test]
fn zisofs_block_inflating_past_the_block_size() {
    // One 32 KiB block whose stream inflates to 16 MiB.
    let bomb = deflate(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 32 << 10);
    let table_end = 16 + 2 * 4;
    let zfile = zisofs_raw(
        32 << 10,
        15,
        &[table_end, table_end + bomb.len() as u32],
        &[bomb],
    );
    let e = zisofs_read_err(zisofs_image(&zfile, &zf(15, 32 << 10)));
    assert_corrupt(&e, "zisofs file", Some(rr_first_child()));
    assert!(e.to_string().contains("inflates"), "{e}");
}

#[test]
fn zisofs_block_stored_in_more_than_any_zlib_stream_needs() {
    // zlib's worst case for a 32 KiB block (the Linux kernel's bound).
    let limit = 32768 + 4096 + 512 + 11;
    let data = vec![9u8; 32 << 10];
    let block = deflate(&data);
    let table_end = 16 + 2 * 4;
    let padded = |len: usize| {
        let mut b = block.clone();
        b.resize(len, 0);
        zisofs_raw(32 << 10, 15, &[table_end, table_end + len as u32], &[b])
    };
    // At the bound: read (the stream ends early; what follows is unused).
    let img = zisofs_image(&padded(limit), &zf(15, 32 << 10));
    let out = bounded(move || {
        let img = open(img);
        let all = walk(&img, View::RockRidge).expect("walk");
        read(&img, find(&all, "/Z"), u64::MAX).expect("read")
    });
    assert!(out == data, "zisofs contents differ");
    // One byte more: corrupt, named, and nothing read for it.
    let e = zisofs_read_err(zisofs_image(&padded(limit + 1), &zf(15, 32 << 10)));
    assert_corrupt(&e, "zisofs file", Some(rr_first_child()));
    assert!(
        e.to_string()
            .contains(&format!("stored in {} bytes", limit + 1)),
        "{e}"
    );
}

#[test]
fn zisofs_sizes_disagree() {
    // ZF says 5000, the header says 1000.
    let zfile = zisofs_file(&[3; 1000], 15);
    let e = zisofs_read_err(zisofs_image(&zfile, &zf(15, 5000)));
    assert_corrupt(&e, "zisofs file", None);
    assert!(e.to_string().contains("differs"), "{e}");
    // Both say 5000, the block inflates to 1000.
    let mut zfile = zisofs_file(&[3; 1000], 15);
    zfile[8..12].copy_from_slice(&5000u32.to_le_bytes());
    let e = zisofs_read_err(zisofs_image(&zfile, &zf(15, 5000)));
    assert!(e.to_string().contains("inflates to 1000"), "{e}");
    // Not a zlib stream at all.
    let table_end = 16 + 2 * 4;
    let zfile = zisofs_raw(1000, 15, &[table_end, table_end + 50], &[vec![0xAB; 50]]);
    let e = zisofs_read_err(zisofs_image(&zfile, &zf(15, 1000)));
    assert_corrupt(&e, "zisofs file", None);
}

// --------------------------------------------------------------- path tables

#[test]
fn path_table_with_absurd_size() {
    let mut iso = Iso::new(FREE);
    iso.pvd_mut()[132..140].copy_from_slice(&both32(0xFFFF_FFFF));
    let e = bounded(move || {
        let img = open(iso.bytes());
        img.check_path_tables(View::Iso9660)
            .expect_err("absurd size")
    });
    assert_limit(&e, "path table");
}

#[test]
fn path_table_parent_out_of_range() {
    let mut iso = Iso::new(FREE + 1);
    iso.root(false, &[subdir(b"A", FREE, BLOCK as u32)]);
    iso.dir(FREE, BLOCK as u32, ROOT, &[], &[]);
    let recs: [(u32, u16, &[u8]); 2] = [(ROOT, 1, b"\0"), (FREE, 999, b"A")];
    let l = path_table(&recs, false);
    iso.put(18, &l);
    iso.put(19, &path_table(&recs, true));
    iso.pvd_mut()[132..140].copy_from_slice(&both32(l.len() as u32));
    let check = bounded(move || {
        let img = open(iso.bytes());
        img.check_path_tables(View::Iso9660).expect("check")
    });
    assert!(!check.ok());
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("parent number 999")),
        "{:?}",
        check.problems
    );
}

#[test]
fn path_table_record_truncated() {
    let mut iso = Iso::new(FREE);
    // A record claiming a 200-byte identifier in a 20-byte table.
    iso.put(18, &[200, 0, 20, 0, 0, 0, 1, 0, b'A', b'B']);
    iso.pvd_mut()[132..140].copy_from_slice(&both32(20));
    let e = bounded(move || {
        let img = open(iso.bytes());
        img.check_path_tables(View::Iso9660).expect_err("truncated")
    });
    assert_corrupt(&e, "type L path table", Some(at(18, 0)));
}

// --------------------------------------------- multi-extent and overlapping

/// A root with `n` records of one multi-extent file, each section 2048
/// bytes of the same block.
fn multi_extent(n: usize) -> Vec<u8> {
    let recs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let flags = if i + 1 < n { MULTI } else { 0 };
            dir_record(b"BIG;1", FREE, BLOCK as u32, flags, &[])
        })
        .collect();
    let sectors = dir_sectors(&recs).len() / BLOCK + 1;
    let mut iso = Iso::new(FREE + 1 + sectors as u32);
    iso.put(FREE, &[b'x'; BLOCK]);
    let root = FREE + 1;
    let len = iso.dir(root, 0, root, &[], &recs);
    iso.put(root, &dot(root, len as u32, &[]));
    iso.set_root(root, len as u32);
    iso.bytes()
}

#[test]
fn multi_extent_file_with_thousands_of_sections() {
    let data = multi_extent(3000);
    let opts = limited(|l| l.max_extents_per_file = 1000);
    let d = data.clone();
    let e = bounded(move || walk_err(&open_with(d, opts).expect("open"), View::Iso9660));
    assert_limit(&e, "multi-extent");
    // Under the default cap: one entry, 3000 sections, read in full.
    let (sections, size, read_len) = bounded(move || {
        let img = open(data);
        let all = walk(&img, View::Iso9660).expect("walk");
        assert_eq!(all.len(), 1);
        let f = &all[0];
        let n = read(&img, f, u64::MAX).expect("read").len();
        (f.extents.len(), f.size, n)
    });
    assert_eq!(sections, 3000);
    assert_eq!(size, 3000 * BLOCK as u64);
    assert_eq!(read_len as u64, size);
}

#[test]
fn many_records_sharing_one_big_extent() {
    // 1500 files all point at the same 1 MiB extent: the image "holds"
    // 1.5 GiB. Listing is cheap and each file reads its own 1 MiB only;
    // a budget for the sum is the extracting caller's (the CLI's) concern.
    let big = 1u32 << 20;
    let data_blocks = big / BLOCK as u32;
    let recs: Vec<Vec<u8>> = (0..1500)
        .map(|i| file(format!("F{i:04}.BIN;1").as_bytes(), FREE, big))
        .collect();
    let dir_bytes = dir_sectors(&recs).len() + BLOCK;
    let root = FREE + data_blocks;
    let mut iso = Iso::new(root + (dir_bytes / BLOCK) as u32);
    let len = iso.dir(root, dir_bytes as u32, ROOT, &[], &recs);
    assert!(len <= dir_bytes);
    iso.set_root(root, dir_bytes as u32);
    let data = iso.bytes();
    let (n, declared, read_lens) = bounded(move || {
        let img = open(data);
        let all = walk(&img, View::Iso9660).expect("walk");
        let declared: u64 = all.iter().map(|e| e.size).sum();
        let reads: Vec<usize> = all
            .iter()
            .take(3)
            .map(|e| read(&img, e, u64::MAX).expect("read").len())
            .collect();
        (all.len(), declared, reads)
    });
    assert_eq!(n, 1500);
    assert_eq!(declared, 1500 * u64::from(big));
    assert_eq!(read_lens, [big as usize; 3]);
}

// ------------------------------------------------------------ byte order

#[test]
fn pvd_byte_order_mismatch() {
    let mut iso = Iso::new(FREE);
    // Big-endian half of the volume space size says 9.
    iso.pvd_mut()[84..88].copy_from_slice(&9u32.to_be_bytes());
    let data = iso.bytes();
    let d = data.clone();
    let (space, diags) = bounded(move || {
        let img = open(d);
        (img.info().volume_space_size, img.diagnostics().to_vec())
    });
    assert_eq!(space, FREE);
    assert!(
        diags.iter().any(|d| d.offset == PVD_OFFSET as u64
            && d.message.contains("volume space size")
            && d.message.contains(&format!("using {FREE}"))),
        "{diags:?}"
    );
    let opts = ReadOptions::default().strictness(Strictness::Strict);
    let e = bounded(move || match open_with(data, opts) {
        Ok(_) => panic!("strict open accepted a byte order mismatch"),
        Err(e) => e,
    });
    assert_corrupt(&e, "volume descriptor", Some(PVD_OFFSET as u64));
    assert!(e.to_string().contains("big-endian"), "{e}");
}

#[test]
fn dir_record_byte_order_mismatch() {
    let mut iso = Iso::new(FREE + 1);
    let mut rec = file(b"F;1", FREE, 100);
    rec[14..18].copy_from_slice(&7777u32.to_be_bytes()); // BE half of data length
    iso.root(false, &[rec]);
    let data = iso.bytes();
    let d = data.clone();
    let (size, diags) = bounded(move || {
        let img = open(d);
        let mut w = img.walk(View::Iso9660).expect("walk");
        let all: Vec<Entry> = w.by_ref().collect::<Result<_, _>>().expect("walk");
        (all[0].size, w.diagnostics().to_vec())
    });
    assert_eq!(size, 100);
    assert!(
        diags.iter().any(|d| d.offset == first_child(ROOT)
            && d.message.contains("data length")
            && d.message.contains("using 100")),
        "{diags:?}"
    );
    let opts = ReadOptions::default().strictness(Strictness::Strict);
    let e = bounded(move || walk_err(&open_with(data, opts).expect("open"), View::Iso9660));
    assert_corrupt(&e, "directory record", Some(first_child(ROOT)));
}

// -------------------------------------------------------------------- Joliet

#[test]
fn joliet_names_odd_unpaired_and_with_separators() {
    let jroot = FREE;
    let mut iso = Iso::new(FREE + 1);
    iso.put(17, &joliet_svd(jroot, BLOCK as u32, FREE + 1));
    iso.put(18, &terminator());
    iso.dir(
        jroot,
        BLOCK as u32,
        jroot,
        &[],
        &[
            file(&[0x00, 0x41, 0x00], 0, 0), // odd length: "A" and a stray byte
            file(&[0x00, 0x2F, 0x00, 0x78], 0, 0), // "/x"
            file(&[0xD8, 0x00], 0, 0),       // an unpaired surrogate
            file(&[0x00, 0x2E, 0x00, 0x2E], 0, 0), // ".."
            file(&[0x00, 0x2E, 0x00, 0x2E, 0x00, 0x2E], 0, 0), // "..."
            file(&[0x00, 0x5C, 0x00, 0x00], 0, 0), // "\\" and NUL
        ],
    );
    let names = bounded(move || {
        let img = open(iso.bytes());
        assert_eq!(img.info().joliet_level, Some(3));
        let all = walk(&img, View::Joliet).expect("walk");
        let mut names: Vec<String> = all.into_iter().map(|e| e.name).collect();
        names.sort();
        names
    });
    // Decoded lossily; a name of dots is never shortened into "." or "..".
    assert_eq!(names, ["..", "...", "/x", "A", "\\\0", "\u{FFFD}"]);
}

// ------------------------------------------------ volume descriptor set

#[test]
fn descriptor_set_without_terminator() {
    // 100 primary descriptors and no terminator: the scan stops at 64.
    let mut iso = Iso::new(200);
    let pvd_bytes = iso.pvd_mut().to_vec();
    for n in 0..100 {
        iso.put(PVD + n, &pvd_bytes);
    }
    // The root moves out of the way.
    let root = 190;
    iso.dir(root, BLOCK as u32, root, &[], &[file(b"F;1", 0, 0)]);
    let mut data = iso.bytes();
    for n in 0..100usize {
        let at = (PVD as usize + n) * BLOCK + 156;
        data[at..at + 34].copy_from_slice(&dot(root, BLOCK as u32, &[]));
    }
    let (descs, names) = bounded(move || {
        let img = open(data);
        let all = walk(&img, View::Iso9660).expect("walk");
        (
            img.info().descriptors.len(),
            all.into_iter().map(|e| e.name).collect::<Vec<_>>(),
        )
    });
    assert_eq!(descs, 64);
    assert_eq!(names, ["F"]);
}

#[test]
fn loop_reached_through_read_dir_and_lookup() {
    // A loop reached through read_dir and lookup rather than walk.
    let mut iso = Iso::new(FREE);
    iso.root(
        false,
        &[subdir(b"LOOP", ROOT, BLOCK as u32), file(b"F;1", 0, 0)],
    );
    let data = iso.bytes();
    let (names, deep) = bounded(move || {
        let img = open(data);
        let root = img.root(View::Iso9660).expect("root");
        let names: Vec<String> = img
            .read_dir(&root, View::Iso9660)
            .expect("read_dir")
            .into_iter()
            .map(|e| e.name)
            .collect();
        let deep = img.lookup(&vec!["LOOP"; 200].join("/"), View::Iso9660);
        (names, deep.map(|e| e.file_type))
    });
    assert_eq!(names, ["F", "LOOP"]);
    assert_eq!(deep.expect("a chosen path is followed"), FileType::Dir);
}

#[path = "hostile/udf.rs"]
mod udf;

/// Opens, walks the UDF view and reads every file: the first error.
fn udf_first_error(data: Vec<u8>) -> Option<Error> {
    let img = match Image::open(data) {
        Ok(img) => img,
        Err(e) => return Some(e),
    };
    let all = match walk(&img, View::Udf) {
        Ok(v) => v,
        Err(e) => return Some(e),
    };
    for e in all.iter().filter(|e| e.file_type == FileType::File) {
        if let Err(e) = img.open_file(e).and_then(|r| {
            let mut v = Vec::new();
            r.take(1 << 20).read_to_end(&mut v).map_err(Error::from)?;
            Ok(v)
        }) {
            return Some(e);
        }
    }
    None
}

#[test]
fn udf_hostile_volumes_fail_cleanly() {
    for (name, data) in udf::hostile_images() {
        let err =
            bounded(move || udf_first_error(data)).unwrap_or_else(|| panic!("{name}: no error"));
        let text = err.to_string();
        let expect: &[&str] = match name {
            "anchor pointing at itself" => &["UDF volume descriptor sequence", "at byte 524288"],
            "volume descriptor pointer loop" => &["UDF volume descriptor pointer", "loops back"],
            "allocation extent descriptor cycle" => {
                &["UDF allocation extent descriptor", "loop back"]
            }
            "extent past the end" => &["past the end of the partition"],
            "FID length overflow" => &["UDF file identifier descriptor", "truncated"],
            "ICB indirections without end" => &["UDF indirect entries followed", "1025 > 1024"],
            "ICB indirections nested 2000 deep" => {
                &["UDF indirect entries followed", "1025 > 1024"]
            }
            "CS0 name with ../" => &["UDF file identifier descriptor", "contains '/'"],
            "directory loop" => &["directory loop"],
            "huge directory" => &["directory bytes read"],
            other => panic!("unknown case {other}"),
        };
        for want in expect {
            assert!(text.contains(want), "{name}: {text:?} lacks {want:?}");
        }
        assert!(
            text.contains("at byte") || matches!(err, Error::LimitExceeded { .. }),
            "{name}: {text}"
        );
    }
}

#[test]
fn udf_limits_are_honoured() {
    // Indirect entries: a chain shorter than the limit is followed, one
    // longer is refused.
    let chain = |n: u32| {
        udf::one_entry(udf::Opts::default(), "f", false, |u| {
            let target = u.file(b"end of chain");
            let mut to = target;
            for _ in 0..n {
                let at = u.icb_blocks(1);
                let ie = isoforge_format::udf::icb::encode_indirect(
                    at.block,
                    isoforge_format::udf::LongAd::new(2048, to),
                )
                .expect("UDF test setup");
                u.write(at, &ie);
                to = at;
            }
            to
        })
    };
    let img = Image::open(chain(10)).expect("UDF test setup");
    let f = img.lookup("/f", View::Udf).expect("UDF test setup");
    assert_eq!(
        read(&img, &f, 100).expect("UDF test setup"),
        b"end of chain"
    );
    let tight = limited(|l| l.max_udf_icb_indirections = 5);
    let img = open_with(chain(10), tight).expect("UDF test setup");
    assert_limit(&walk_err(&img, View::Udf), "indirect entries");
    // Entries per directory, directory size and descriptor counts.
    let tree = udf::small_tree(udf::Opts::default(), b"x");
    let img =
        open_with(tree.clone(), limited(|l| l.max_entries_per_dir = 2)).expect("UDF test setup");
    assert_limit(&walk_err(&img, View::Udf), "entries in one directory");
    let img = open_with(tree.clone(), limited(|l| l.max_dir_bytes = 64)).expect("UDF test setup");
    assert_limit(&walk_err(&img, View::Udf), "directory size");
    let err = open_with(tree, limited(|l| l.max_udf_descriptors = 3))
        .err()
        .expect("UDF test setup");
    assert_limit(&err, "UDF descriptors");
}

#[test]
fn udf_tag_damage_is_corruption_with_its_offset() {
    // One flipped byte in a file entry: its CRC fails, and the error names
    // the file entry at its byte offset.
    let mut u = udf::Udf::new(udf::Opts::default());
    let root = u.icb_blocks(1);
    let f = u.file(b"content");
    u.dir(root, root, &[("f", f, false)]);
    let mut raw = u.finish(root);
    let fe = (udf::PART_START + f.block) as usize * 2048;
    raw[fe + 60] ^= 1;
    let img = Image::open(raw).expect("UDF test setup");
    let err = walk_err(&img, View::Udf);
    assert_corrupt(&err, "UDF file entry", Some(fe as u64));
    assert!(err.to_string().contains("CRC"), "{err}");
}
