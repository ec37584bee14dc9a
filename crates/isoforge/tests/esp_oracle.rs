//! EFI System Partition images from `write::esp::build_esp`, checked with
//! tools that share no code with it: `fsck.fat -n` must find each image
//! clean and report the planned FAT type, and `mcopy -s` must give back
//! the source tree byte for byte. Tests skip with a reason when a tool is
//! missing, and fail instead with `ISOFORGE_REQUIRE_ORACLES=1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use isoforge::write::esp::{build_esp, EspOptions};
use isoforge::write::Time;
use isoforge::Error;

fn require_oracles() -> bool {
    std::env::var("ISOFORGE_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

/// `tool` from `PATH`, `/usr/sbin` or `/sbin` (where dosfstools lives);
/// `None`, after printing why, when it is not installed (a failure when
/// oracles are required).
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        let reason = format!("{name} is not installed");
        if require_oracles() {
            panic!("oracle missing and ISOFORGE_REQUIRE_ORACLES=1: {reason}");
        }
        eprintln!("skipped: {reason}");
    }
    found
}

/// The checkers: `fsck.fat` and `mcopy`, or `None` to skip.
struct Oracles {
    fsck: PathBuf,
    mcopy: PathBuf,
}

fn oracles() -> Option<Oracles> {
    Some(Oracles {
        fsck: tool("fsck.fat")?,
        mcopy: tool("mcopy")?,
    })
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Files (`Some(bytes)`) and directories (`None`) below `dir`, by path.
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let path = format!("{prefix}{name}");
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &format!("{path}/"), out);
                out.insert(path, None);
            } else {
                out.insert(path, Some(fs::read(e.path()).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// Bit width of the FAT entries, as `fsck.fat -v` reports it.
fn fsck_fat_bits(o: &Oracles, img: &Path) -> u32 {
    let out = run(Command::new(&o.fsck).arg("-n").arg("-v").arg(img));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("bit entries"))
        .unwrap_or_else(|| panic!("no FAT width in fsck.fat output:\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "bit").unwrap();
    words[at - 1].parse().unwrap()
}

/// Checks `img` against the tree under `src`: clean for `fsck.fat`, of the
/// FAT width given, and extracted by `mcopy` to exactly the same tree.
fn check_image(o: &Oracles, img: &[u8], src: &Path, bits: u32) {
    assert_eq!(img.len() % 2048, 0, "image length {}", img.len());
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("esp.img");
    fs::write(&path, img).unwrap();
    assert_eq!(fsck_fat_bits(o, &path), bits, "FAT width");
    // fsck.fat exits 0 only when it found nothing to repair.
    run(Command::new(&o.fsck).arg("-n").arg(&path));
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    // "::/" names the root itself, so no name goes through mtools' globbing.
    run(Command::new(&o.mcopy)
        .args(["-s", "-n", "-i"])
        .arg(&path)
        .arg("::/")
        .arg(&out));
    let want = tree(src);
    let got = tree(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "paths"
    );
    for (k, v) in &want {
        assert!(got[k] == *v, "contents of {k} differ");
    }
}

/// A reproducible byte pattern.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// A small tree with everything FAT long names should carry.
fn small_tree(root: &Path) {
    put(root, "EFI/BOOT/BOOTX64.EFI", &pattern(70_000, 1));
    put(root, "EFI/BOOT/grub.cfg", b"set timeout=5\n");
    put(root, "EFI/BOOT/mmx64.efi", &pattern(513, 2));
    put(root, "EFI/empty-file", b"");
    fs::create_dir_all(root.join("EFI/empty dir")).unwrap();
    fs::create_dir_all(root.join("a/b/c/d/e/f")).unwrap();
    put(root, "a/b/c/d/e/f/deep.txt", b"deep");
    put(
        root,
        "a/A file name long enough to need several long-name entries, \u{e9}t\u{e9} 2024.txt",
        &pattern(4096, 3),
    );
    put(root, "Gr\u{fc}\u{df}e.txt", b"unicode");
    put(root, "\u{65e5}\u{672c}\u{8a9e}.efi", &pattern(1500, 4));
    put(root, ".hidden", b"dot file");
    put(root, "MixedCase.Cfg", b"case is kept");
    put(root, "odd +,;=[] name.x", b"punctuation");
    put(root, "many.dots.in.name", b"dots");
    for i in 0..40 {
        put(
            root,
            &format!("many/file number {i:03}.dat"),
            &pattern(i * 37, 5 + i as u32),
        );
    }
}

/// Builds an image of the tree `make` writes, and checks it has `bits`-bit
/// FAT entries and gives the tree back.
fn round_trip(bits: u32, make: impl FnOnce(&Path)) {
    let Some(o) = oracles() else { return };
    let src = tempfile::tempdir().unwrap();
    make(src.path());
    let img = build_esp(src.path(), &EspOptions::default()).unwrap();
    check_image(&o, &img, src.path(), bits);
}

#[test]
fn fat12_tree_comes_back_exactly() {
    round_trip(12, small_tree);
}

#[test]
fn empty_tree_is_a_valid_volume() {
    round_trip(12, |_| {});
}

#[test]
fn fat16_tree_comes_back_exactly() {
    round_trip(16, |root| {
        small_tree(root);
        put(root, "EFI/BOOT/big.img", &pattern(3 << 20, 9));
    });
}

#[test]
fn fat32_tree_comes_back_exactly() {
    use std::os::unix::fs::FileExt;
    round_trip(32, |root| {
        small_tree(root);
        // 34 MiB, mostly a hole, with markers that show misplaced clusters.
        let len = 34u64 << 20;
        let f = fs::File::create(root.join("EFI/BOOT/sparse.img")).unwrap();
        f.set_len(len).unwrap();
        for (i, at) in [0, 512, 1 << 20, 17 << 20, len - 5].into_iter().enumerate() {
            f.write_all_at(format!("mark{i}").as_bytes(), at).unwrap();
        }
    });
}

/// The same files, made in opposite orders with different times, give
/// the same image.
#[test]
fn creation_order_and_host_times_do_not_matter() {
    let files: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| {
            (
                format!("d{}/f{i:02}.bin", i % 4),
                pattern(100 * i, i as u32),
            )
        })
        .collect();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (rel, data) in &files {
        put(a.path(), rel, data);
    }
    for (i, (rel, data)) in files.iter().rev().enumerate() {
        put(b.path(), rel, data);
        let t = filetime::FileTime::from_unix_time(1_000_000 + i as i64 * 7919, 0);
        filetime::set_file_mtime(b.path().join(rel), t).unwrap();
    }
    let opts = EspOptions::default();
    let ia = build_esp(a.path(), &opts).unwrap();
    let ib = build_esp(b.path(), &opts).unwrap();
    assert!(ia == ib, "images differ");
    assert!(build_esp(a.path(), &opts).unwrap() == ia, "rebuild differs");
}

/// Builds on several threads at once, each with its own time, give what
/// the same builds give one at a time.
#[test]
fn concurrent_builds_keep_their_own_time() {
    let src = tempfile::tempdir().unwrap();
    small_tree(src.path());
    let opts = |i: i64| {
        let mut o = EspOptions::default();
        o.time = Time {
            secs: 1_600_000_000 + i * 86_400,
            nanos: 0,
        };
        o
    };
    let alone: Vec<Vec<u8>> = (0..4)
        .map(|i| build_esp(src.path(), &opts(i)).unwrap())
        .collect();
    let together: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (dir, o) = (src.path(), opts(i));
                s.spawn(move || build_esp(dir, &o).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(alone[0] != alone[1], "the time shows in the image");
    for (i, (a, b)) in alone.iter().zip(&together).enumerate() {
        assert!(a == b, "build {i} differs");
    }
}

fn serial(img: &[u8]) -> u32 {
    let fat32 = u16::from_le_bytes([img[22], img[23]]) == 0;
    let at = if fat32 { 67 } else { 39 };
    u32::from_le_bytes(img[at..at + 4].try_into().unwrap())
}

#[test]
fn serial_follows_the_contents() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    put(a.path(), "EFI/BOOT/BOOTX64.EFI", b"one");
    put(b.path(), "EFI/BOOT/BOOTX64.EFI", b"one");
    put(c.path(), "EFI/BOOT/BOOTX64.EFI", b"two");
    let opts = EspOptions::default();
    let sa = serial(&build_esp(a.path(), &opts).unwrap());
    assert_eq!(sa, serial(&build_esp(b.path(), &opts).unwrap()));
    assert_ne!(sa, serial(&build_esp(c.path(), &opts).unwrap()));
    // A renamed file changes it too.
    fs::rename(
        b.path().join("EFI/BOOT/BOOTX64.EFI"),
        b.path().join("EFI/BOOT/BOOTIA32.EFI"),
    )
    .unwrap();
    assert_ne!(sa, serial(&build_esp(b.path(), &opts).unwrap()));
    let mut fixed = EspOptions::default();
    fixed.volume_serial = Some(0xDEAD_BEEF);
    assert_eq!(serial(&build_esp(a.path(), &fixed).unwrap()), 0xDEAD_BEEF);
}

#[test]
fn fat32_serial_and_label_match_the_backup_boot_sector() {
    let src = tempfile::tempdir().unwrap();
    let f = fs::File::create(src.path().join("big")).unwrap();
    f.set_len(33 << 20).unwrap();
    drop(f);
    let mut opts = EspOptions::default();
    opts.volume_serial = Some(0x1234_5678);
    let img = build_esp(src.path(), &opts).unwrap();
    assert_eq!(u16::from_le_bytes([img[22], img[23]]), 0, "FAT32");
    let backup = usize::from(u16::from_le_bytes([img[50], img[51]])) * 512;
    assert_ne!(backup, 0);
    assert_eq!(img[..512], img[backup..backup + 512]);
    assert_eq!(serial(&img), 0x1234_5678);
    assert_eq!(&img[71..82], b"EFIBOOT    ");
}

/// Every timestamp is the one asked for, whatever the host files say.
#[test]
fn timestamps_are_the_given_time() {
    let Some(mdir) = tool("mdir") else { return };
    let src = tempfile::tempdir().unwrap();
    put(src.path(), "EFI/BOOT/BOOTX64.EFI", b"x");
    let mut opts = EspOptions::default();
    // 2024-02-29T13:37:43Z: the odd second is rounded down.
    opts.time = Time {
        secs: 1_709_213_863,
        nanos: 0,
    };
    let img = build_esp(src.path(), &opts).unwrap();
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("esp.img");
    fs::write(&path, &img).unwrap();
    for dir in ["::/", "::/EFI", "::/EFI/BOOT"] {
        let out = run(Command::new(&mdir).arg("-i").arg(&path).arg(dir));
        let text = String::from_utf8_lossy(&out.stdout);
        let entries: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("<DIR>") || l.contains("EFI "))
            .collect();
        assert!(!entries.is_empty(), "{dir}: {text}");
        for l in entries {
            assert!(l.contains("2024-02-29  13:37"), "{dir}: {l}");
        }
    }
    // Raw check of every 8.3 entry of the root: label and EFI directory.
    let time = (13u16 << 11) | (37 << 5) | (42 / 2);
    let date = ((2024u16 - 1980) << 9) | (2 << 5) | 29;
    let root = 512 * (1 + 2 * usize::from(u16::from_le_bytes([img[22], img[23]])));
    let mut seen = 0;
    for e in img[root..root + 512].chunks(32) {
        if e[0] == 0 {
            break;
        }
        if e[11] == 0x0F {
            continue;
        }
        seen += 1;
        assert_eq!(u16::from_le_bytes([e[22], e[23]]), time, "mtime");
        assert_eq!(u16::from_le_bytes([e[24], e[25]]), date, "mdate");
        if e[11] != 0x08 {
            assert_eq!(u16::from_le_bytes([e[14], e[15]]), time, "ctime");
            assert_eq!(u16::from_le_bytes([e[16], e[17]]), date, "cdate");
            assert_eq!(u16::from_le_bytes([e[18], e[19]]), date, "adate");
        }
    }
    assert_eq!(seen, 2, "label and EFI entries");
}

fn invalid_input(r: Result<Vec<u8>, Error>) -> String {
    match r {
        Err(Error::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {:?}", other.map(|v| v.len())),
    }
}

#[test]
fn symlink_is_an_error_naming_it() {
    let src = tempfile::tempdir().unwrap();
    put(src.path(), "EFI/BOOT/BOOTX64.EFI", b"x");
    std::os::unix::fs::symlink("BOOTX64.EFI", src.path().join("EFI/BOOT/link.efi")).unwrap();
    let m = invalid_input(build_esp(src.path(), &EspOptions::default()));
    assert!(
        m.contains("EFI/BOOT/link.efi") && m.contains("symbolic link"),
        "{m}"
    );
}

#[test]
fn fifo_is_an_error_naming_it() {
    let src = tempfile::tempdir().unwrap();
    let st = Command::new("mkfifo")
        .arg(src.path().join("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    let m = invalid_input(build_esp(src.path(), &EspOptions::default()));
    assert!(m.contains("pipe") && m.contains("FIFO"), "{m}");
}

#[test]
fn names_differing_only_in_case_are_an_error() {
    let src = tempfile::tempdir().unwrap();
    put(src.path(), "EFI/BOOT/BOOTX64.EFI", b"x");
    put(src.path(), "EFI/BOOT/bootx64.efi", b"y");
    let m = invalid_input(build_esp(src.path(), &EspOptions::default()));
    assert!(
        m.contains("bootx64.efi") && m.contains("BOOTX64.EFI") && m.contains("case"),
        "{m}"
    );
    // The same names in different directories are fine.
    let ok = tempfile::tempdir().unwrap();
    put(ok.path(), "a/x", b"1");
    put(ok.path(), "A2/X", b"2");
    build_esp(ok.path(), &EspOptions::default()).unwrap();
}

#[test]
fn names_fat_cannot_hold_are_errors() {
    for name in [
        "a:b",
        "what?",
        "star*",
        "q\"uote",
        "pipe|",
        "back\\slash",
        "lt<",
        "gt>",
        "tab\tname",
        "trailing.",
        "trailing ",
        " leading",
        "emoji\u{1F600}",
    ] {
        let src = tempfile::tempdir().unwrap();
        put(src.path(), name, b"x");
        let m = invalid_input(build_esp(src.path(), &EspOptions::default()));
        assert!(m.contains("name"), "{name:?}: {m}");
    }
}

/// A name equal to the 8.3 alias generated for a sibling would make the
/// FAT writer reopen the sibling; it is refused instead.
#[test]
fn name_equal_to_a_generated_alias_is_an_error() {
    // File and file, directory and directory, and each kind with the other.
    for (long_is_dir, alias_is_dir) in [(false, false), (true, true), (true, false), (false, true)]
    {
        let src = tempfile::tempdir().unwrap();
        for (name, is_dir) in [
            ("AAAAAAAAA.txt", long_is_dir),
            ("AAAAAA~1.TXT", alias_is_dir),
        ] {
            if is_dir {
                fs::create_dir(src.path().join(name)).unwrap();
            } else {
                put(src.path(), name, name.as_bytes());
            }
        }
        let m = invalid_input(build_esp(src.path(), &EspOptions::default()));
        assert!(m.contains("AAAAAA~1.TXT") && m.contains("alias"), "{m}");
    }
}

#[test]
fn label_is_checked_and_upper_cased() {
    let Some(o) = oracles() else { return };
    let src = tempfile::tempdir().unwrap();
    put(src.path(), "x", b"x");
    let mut opts = EspOptions::default();
    opts.label = "my esp".into();
    let img = build_esp(src.path(), &opts).unwrap();
    assert_eq!(&img[43..54], b"MY ESP     ");
    check_image(&o, &img, src.path(), 12);
    for bad in ["TWELVE CHARS", "a.b", "\u{e9}"] {
        opts.label = bad.into();
        invalid_input(build_esp(src.path(), &opts));
    }
}

#[test]
fn top_must_be_a_directory() {
    let src = tempfile::tempdir().unwrap();
    put(src.path(), "file", b"x");
    invalid_input(build_esp(&src.path().join("file"), &EspOptions::default()));
    assert!(matches!(
        build_esp(&src.path().join("missing"), &EspOptions::default()),
        Err(Error::Io { .. })
    ));
}
