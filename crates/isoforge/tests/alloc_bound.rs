//! Peak memory while reading hostile images.
//!
//! A counting `#[global_allocator]` needs an `unsafe impl GlobalAlloc`, which
//! the workspace's `unsafe_code = "forbid"` lint rules out. Instead each case
//! runs in a child process (this test binary, re-run with
//! `ISOFORGE_ALLOC_CASE` set), which reports `VmHWM` (peak resident set) and
//! `VmPeak` (peak address space) from `/proc/self/status`. The parent compares
//! them with a no-op case built and read the same way. `VmPeak` matters
//! because a zeroed allocation is mapped lazily: `vec![0; 4 << 30]` barely
//! moves the resident set but does move the address space. The address
//! space check is coarse: glibc reserves arena space early (about 130 MiB of
//! `VmPeak` for the no-op case), so it catches allocations of hundreds of MiB
//! and more, such as a buffer sized from a 32-bit length read from the image.
//!
//! The limits themselves are exercised directly by the hostile tests (tiny
//! limits give `LimitExceeded`); this test checks that the *default* limits
//! and the image size keep real memory use small.

#[path = "hostile/builder.rs"]
mod builder;
#[path = "hostile/udf.rs"]
mod udf;

use std::io::Read;
use std::process::Command;

use builder::*;
use isoforge::{Image, Limits, ReadOptions, View};

const ENV: &str = "ISOFORGE_ALLOC_CASE";
const TEST_NAME: &str = "hostile_images_stay_within_memory";

/// Peak resident set allowed above the no-op case.
const MAX_EXTRA_RSS_KB: u64 = 64 << 10;
/// Peak address space allowed above the no-op case.
const MAX_EXTRA_VM_KB: u64 = 512 << 10;

const CASES: &[&str] = &[
    "huge-dir",
    "huge-dir-uncapped",
    "huge-path-table",
    "zisofs-bomb",
    "zisofs-4g",
    "zisofs-huge-block",
    "multi-extent",
    "shared-extent",
    "deep",
    "ce-chain",
    "udf-hostile",
    "udf-hostile-uncapped",
    "udf-many-extents",
];

fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn walk_and_read<S: isoforge::ReadAt>(data: S, opts: ReadOptions, view: View) -> u64 {
    let img = match Image::open_with(data, &opts) {
        Ok(img) => img,
        Err(_) => return 0,
    };
    let _ = img.check_path_tables(View::Iso9660);
    let Ok(walk) = img.walk(view) else { return 0 };
    let mut read = 0u64;
    for e in walk.take(10_000) {
        let Ok(e) = e else { break };
        if e.file_type == isoforge::FileType::File {
            if let Ok(r) = img.open_file(&e) {
                let mut sink = Vec::new();
                let _ = r.take(4 << 20).read_to_end(&mut sink);
                read += sink.len() as u64;
            }
        }
    }
    read
}

fn lifted() -> ReadOptions {
    let mut l = Limits::default();
    l.max_dir_bytes = u32::MAX;
    l.max_path_table_bytes = u32::MAX;
    l.max_total_dir_bytes = u64::MAX;
    ReadOptions::default().limits(l)
}

fn zisofs_image(zfile: &[u8], size: u32) -> Vec<u8> {
    let blocks = zfile.len().div_ceil(BLOCK) as u32;
    let mut iso = Iso::rock_ridge(FREE + blocks);
    iso.put(FREE, zfile);
    let su = [px(0o100_644), zf(15, size)].concat();
    iso.root(
        true,
        &[dir_record(b"Z;1", FREE, zfile.len() as u32, 0, &su)],
    );
    iso.bytes()
}

fn run_case(case: &str) {
    let d = ReadOptions::default();
    match case {
        "noop" => {
            let mut iso = Iso::new(FREE + 1);
            iso.root(false, &[file(b"F;1", FREE, 100)]);
            walk_and_read(iso.bytes(), d, View::Iso9660);
        }
        "huge-dir" | "huge-dir-uncapped" => {
            let mut iso = Iso::new(FREE);
            iso.root(false, &[subdir(b"HUGE", FREE, 0xFFFF_F800)]);
            let opts = if case == "huge-dir" { d } else { lifted() };
            walk_and_read(iso.bytes(), opts, View::Iso9660);
        }
        "huge-path-table" => {
            let mut iso = Iso::new(FREE);
            iso.pvd_mut()[132..140].copy_from_slice(&both32(u32::MAX));
            walk_and_read(iso.bytes(), lifted(), View::Iso9660);
        }
        "zisofs-bomb" => {
            let bomb = deflate(&vec![0u8; 16 << 20]);
            let t = 16 + 8;
            let z = zisofs_raw(32 << 10, 15, &[t, t + bomb.len() as u32], &[bomb]);
            walk_and_read(zisofs_image(&z, 32 << 10), d, View::RockRidge);
        }
        "zisofs-4g" => {
            // Declares 4 GiB; the pointer table alone would be 512 KiB.
            let z = zisofs_raw(u32::MAX, 15, &[], &[]);
            walk_and_read(zisofs_image(&z, u32::MAX), d, View::RockRidge);
        }
        "zisofs-huge-block" => {
            // One block stored in 1 GiB, inside a (sparse) image that
            // really is that large.
            use std::io::Write;
            let huge = 1u32 << 30;
            let t = 16 + 8;
            let z = zisofs_raw(32 << 10, 15, &[t, t + huge], &[deflate(&[1u8; 32 << 10])]);
            let mut iso = Iso::rock_ridge(FREE + z.len().div_ceil(BLOCK) as u32);
            iso.put(FREE, &z);
            let su = [px(0o100_644), zf(15, 32 << 10)].concat();
            iso.root(true, &[dir_record(b"Z;1", FREE, t + huge, 0, &su)]);
            let mut f = tempfile::tempfile().expect("temporary file");
            f.write_all(&iso.bytes()).expect("write");
            f.set_len(u64::from(FREE) * BLOCK as u64 + u64::from(t + huge) + BLOCK as u64)
                .expect("extend");
            walk_and_read(f, d, View::RockRidge);
        }
        "multi-extent" => {
            let n = 5000;
            let recs: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    let flags = if i + 1 < n { MULTI } else { 0 };
                    dir_record(b"BIG;1", FREE, u32::MAX - 2047, flags, &[])
                })
                .collect();
            let mut iso = Iso::new(FREE + 1);
            let root = FREE + 1;
            let len = iso.dir(root, 0, root, &[], &recs);
            iso.put(root, &dot(root, len as u32, &[]));
            iso.set_root(root, len as u32);
            walk_and_read(iso.bytes(), d, View::Iso9660);
        }
        "shared-extent" => {
            let big = 1u32 << 20;
            let recs: Vec<Vec<u8>> = (0..1000)
                .map(|i| file(format!("F{i:04}.BIN;1").as_bytes(), FREE, big))
                .collect();
            let root = FREE + big / BLOCK as u32;
            let mut iso = Iso::new(root);
            let len = iso.dir(root, 0, ROOT, &[], &recs);
            iso.put(root, &dot(root, len as u32, &[]));
            iso.set_root(root, len as u32);
            walk_and_read(iso.bytes(), d, View::Iso9660);
        }
        "deep" => {
            let n = 400;
            let mut iso = Iso::new(FREE + n);
            iso.root(false, &[subdir(b"D", FREE, BLOCK as u32)]);
            for i in 0..n {
                let lba = FREE + i;
                let child = vec![subdir(b"D", lba + 1, BLOCK as u32)];
                iso.dir(lba, BLOCK as u32, lba.saturating_sub(1), &[], &child);
            }
            walk_and_read(iso.bytes(), d, View::Iso9660);
        }
        "ce-chain" => {
            let mut iso = Iso::rock_ridge(FREE + 1);
            for i in 0..70u32 {
                let at = FREE as usize * BLOCK + 28 * i as usize;
                iso.put_at(at, &ce(FREE, 28 * (i + 1), 28));
            }
            iso.root(true, &[dir_record(b"F;1", 0, 0, 0, &ce(FREE, 0, 28))]);
            walk_and_read(iso.bytes(), d, View::RockRidge);
        }
        "udf-hostile" | "udf-hostile-uncapped" => {
            let opts = if case == "udf-hostile" { d } else { lifted() };
            for (_, img) in udf::hostile_images() {
                walk_and_read(img, opts, View::Udf);
            }
        }
        "udf-many-extents" => {
            // 60 000 one-block extents of one file, in a chain of allocation
            // extent descriptors, each pointing at the same block.
            let o = udf::Opts {
                blocks: 1024,
                ..udf::Opts::default()
            };
            let img = udf::one_entry(o, "f", false, |u| {
                use isoforge_format::udf::icb::{encode_ads, file_type, AdType, AllocDesc};
                use isoforge_format::udf::{aed, ExtentKind};
                let data = u.data_blocks(1);
                let one = AllocDesc {
                    kind: ExtentKind::Recorded,
                    len: 2048,
                    block: data.block,
                    partition: Some(udf::PHYS),
                };
                let per_aed = 100;
                let aeds = 600u32;
                let first = u.data_blocks(aeds);
                for i in 0..aeds {
                    let mut ads = Vec::new();
                    let mut list = vec![one; per_aed];
                    if i + 1 < aeds {
                        list.push(AllocDesc {
                            kind: ExtentKind::Continuation,
                            len: 2048,
                            block: first.block + i + 1,
                            partition: Some(udf::PHYS),
                        });
                    }
                    encode_ads(&list, AdType::Long, &mut ads).expect("descriptors encode");
                    let at = isoforge_format::udf::LbAddr {
                        partition: udf::PHYS,
                        block: first.block + i,
                    };
                    u.write(at, &aed::encode(at.block, 0, &ads).expect("AED encodes"));
                }
                let cont = AllocDesc {
                    kind: ExtentKind::Continuation,
                    len: 2048,
                    block: first.block,
                    partition: Some(udf::PHYS),
                };
                u.entry(file_type::REGULAR, 60_000 * 2048, &[cont], 1)
            });
            walk_and_read(img, d, View::Udf);
        }
        other => panic!("unknown case {other}"),
    }
}

/// Runs one case in a child process and returns its (VmHWM, VmPeak) in KiB.
fn measure(case: &str) -> (u64, u64) {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, case)
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "case {case} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.split_once(name).map(|(_, v)| v))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("case {case}: no {name} in {stdout}"))
    };
    (field("VMHWM_KB="), field("VMPEAK_KB="))
}

#[test]
fn hostile_images_stay_within_memory() {
    if let Ok(case) = std::env::var(ENV) {
        run_case(&case);
        println!("VMHWM_KB={}", status_kb("VmHWM:"));
        println!("VMPEAK_KB={}", status_kb("VmPeak:"));
        return;
    }
    let (base_rss, base_vm) = measure("noop");
    for case in CASES {
        let (rss, vm) = measure(case);
        eprintln!("{case}: VmHWM {rss} KiB, VmPeak {vm} KiB (no-op: {base_rss}, {base_vm})");
        assert!(
            rss.saturating_sub(base_rss) < MAX_EXTRA_RSS_KB,
            "{case}: peak RSS {rss} KiB, {base_rss} KiB for the no-op case"
        );
        assert!(
            vm.saturating_sub(base_vm) < MAX_EXTRA_VM_KB,
            "{case}: peak address space {vm} KiB, {base_vm} KiB for the no-op case"
        );
    }
}

/// The measurement itself can fail: an allocation of 1 GiB shows in VmPeak.
#[test]
fn measurement_sees_a_large_allocation() {
    if std::env::var(ENV).is_ok() {
        return;
    }
    let before = status_kb("VmPeak:");
    let v: Vec<u8> = vec![0; 1 << 30];
    let after = status_kb("VmPeak:");
    assert_eq!(v.len(), 1 << 30);
    // Half of it at least: the earlier peak may have been above the
    // current size.
    assert!(after - before >= 1 << 19, "{before} -> {after}");
}
