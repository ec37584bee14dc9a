//! Replays the `image_walk` fuzz corpus, and hand-made hostile images,
//! through the same open / walk / read / lookup logic as the fuzz target, so
//! that a stable toolchain without libFuzzer still runs every input.

#[path = "hostile/builder.rs"]
mod builder;
#[path = "common/exercise.rs"]
mod exercise;
#[path = "hostile/udf.rs"]
mod udf;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    v.sort();
    v
}

/// Runs one input in a thread with a time bound, re-raising its panic.
fn run(path: &Path) -> exercise::Report {
    let data = std::fs::read(path).expect("read input");
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(exercise::exercise(&data));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => {
                eprintln!("input {} panicked", path.display());
                std::panic::resume_unwind(p)
            }
            Ok(()) => unreachable!("no report and no panic"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{}: not done within 10 s", path.display()),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn seed_corpus_reads_cleanly() {
    let seeds = inputs(&root().join("fuzz/corpus/image_walk"));
    assert!(seeds.len() >= 5, "seed corpus is missing");
    for p in seeds {
        let r = run(&p);
        // The seeds are well-formed images made by mkisofs-compatible tools.
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".iso"))
        {
            assert!(r.opened, "{}: {:?}", p.display(), r.errors);
            assert!(r.errors.is_empty(), "{}: {:?}", p.display(), r.errors);
            assert!(r.entries > 0 && r.files_read > 0, "{}: {r:?}", p.display());
            assert!(r.lookups > 0, "{}: {r:?}", p.display());
        }
    }
}

/// Hand-made hostile images, one per attack family, through the fuzz logic.
fn hostile_images() -> Vec<(&'static str, Vec<u8>)> {
    use builder::*;
    let mut out = Vec::new();

    let mut iso = Iso::new(FREE);
    iso.root(false, &[subdir(b"LOOP", ROOT, BLOCK as u32)]);
    out.push(("self loop", iso.bytes()));

    let mut iso = Iso::rock_ridge(FREE + 1);
    iso.put(FREE, &ce(FREE, 0, 28));
    iso.root(true, &[dir_record(b"F;1", 0, 0, 0, &ce(FREE, 0, 28))]);
    out.push(("CE loop", iso.bytes()));

    let mut iso = Iso::rock_ridge(FREE + 1);
    iso.root(true, &[subdir(b"A", FREE, BLOCK as u32)]);
    let c = dir_record(b"C;1", 0, 0, 0, &[px(0o040_755), cl(ROOT)].concat());
    iso.dir(FREE, BLOCK as u32, ROOT, &[], &[c]);
    out.push(("CL to the root", iso.bytes()));

    let bomb = deflate(&vec![0u8; 4 << 20]);
    let t = 16 + 8;
    let z = zisofs_raw(32 << 10, 15, &[t, t + bomb.len() as u32], &[bomb]);
    let mut iso = Iso::rock_ridge(FREE + 8);
    iso.put(FREE, &z);
    let su = [px(0o100_644), zf(15, 32 << 10)].concat();
    iso.root(true, &[dir_record(b"Z;1", FREE, z.len() as u32, 0, &su)]);
    out.push(("zisofs bomb", iso.bytes()));

    let mut iso = Iso::new(FREE);
    iso.root(false, &[subdir(b"HUGE", FREE, 0xFFFF_F800)]);
    out.push(("huge directory", iso.bytes()));

    let mut iso = Iso::new(FREE);
    iso.pvd_mut()[128..132].copy_from_slice(&both16(4096));
    out.push(("block size 4096", iso.bytes()));

    let mut iso = Iso::new(FREE + 1);
    iso.root(false, &[file(b"F;1", u32::MAX, u32::MAX)]);
    out.push(("extent overflow", iso.bytes()));
    out.extend(udf::hostile_images());
    out
}

#[test]
fn hostile_images_through_the_fuzz_logic() {
    for (name, data) in hostile_images() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(exercise::exercise(&data));
        });
        let r = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!r.errors.is_empty(), "{name}: no error reported: {r:?}");
        assert!(
            r.errors
                .iter()
                .all(|e| e.contains("at byte") || e.contains("limit")),
            "{name}: {:?}",
            r.errors
        );
    }
}

/// Seeds of the `udf_walk` target made by the builder; written to
/// `fuzz/corpus/udf_walk/` by `ISOFORGE_WRITE_SEEDS=1 cargo test -p isoforge
/// --test fuzz_corpus write_udf_seeds -- --ignored`.
fn udf_builder_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let small = |revision, metadata| udf::Opts {
        bs: 512,
        revision,
        metadata,
        blocks: 64,
    };
    vec![
        (
            "builder-1.02-512.udf",
            udf::small_tree(small(0x0102, false), b"0123456789"),
        ),
        (
            "builder-2.01-512.udf",
            udf::small_tree(small(0x0201, false), b"0123456789"),
        ),
        (
            "builder-2.50-metadata-512.udf",
            udf::small_tree(small(0x0250, true), b"0123456789"),
        ),
    ]
}

#[test]
#[ignore = "writes the seed corpus"]
fn write_udf_seeds() {
    if std::env::var("ISOFORGE_WRITE_SEEDS").as_deref() != Ok("1") {
        return;
    }
    let dir = root().join("fuzz/corpus/udf_walk");
    std::fs::create_dir_all(&dir).expect("UDF test setup");
    for (name, data) in udf_builder_seeds() {
        std::fs::write(dir.join(name), data).expect("UDF test setup");
    }
}

#[test]
fn udf_seed_corpus_reads_cleanly() {
    let seeds = inputs(&root().join("fuzz/corpus/udf_walk"));
    assert!(seeds.len() >= 5, "UDF seed corpus is missing");
    // The committed builder seeds are what the builder makes today.
    for (name, data) in udf_builder_seeds() {
        let p = root().join("fuzz/corpus/udf_walk").join(name);
        let committed = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            committed == data,
            "{name} differs from the builder's output; rewrite the seeds"
        );
    }
    let mut fids = 0;
    for p in seeds {
        let r = run(&p);
        let data = std::fs::read(&p).expect("UDF test setup");
        let trips = exercise::udf_descriptors(&data);
        let name = p
            .file_name()
            .expect("UDF test setup")
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".udf") || name.ends_with(".iso") {
            // Every volume has a file set and a root directory's file
            // entry (whose identifiers may be embedded in it).
            assert!(
                trips.file_sets > 0 && trips.file_entries > 0,
                "{name}: descriptors were not encoded back: {trips:?}"
            );
            fids += trips.fids;
            assert!(r.opened, "{name}: {:?}", r.errors);
            assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
            // mkudffs volumes are empty.
            assert!(
                r.entries > 0 || name.starts_with("mkudffs"),
                "{name}: {r:?}"
            );
            assert!(r.views > 0, "{name}: {r:?}");
        }
    }
    assert!(fids > 0, "no file identifier was encoded back");
}
