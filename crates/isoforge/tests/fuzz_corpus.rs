//! Replays the `image_walk` fuzz corpus and the hostile-image regressions
//! through the same open / walk / read / lookup logic as the fuzz target, so
//! that a stable toolchain without libFuzzer still runs every input.

#[path = "common/exercise.rs"]
mod exercise;

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

#[test]
fn hostile_regressions_do_not_panic() {
    let dir = root().join("crates/isoforge/tests/hostile/regressions");
    for p in inputs(&dir) {
        let r = run(&p);
        eprintln!(
            "{}: {} entries, {:?}",
            p.display(),
            r.entries,
            r.errors.first()
        );
    }
}
