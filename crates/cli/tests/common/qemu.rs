//! Boots a disk image in QEMU (SeaBIOS or OVMF, as a CD or as a disk) and
//! judges the boot by what its console shows; and makes copies of images
//! with their boot structures broken.
//!
//! The judge never looks at the raw serial stream, whose line breaks and
//! cursor moves depend on timing: the stream feeds a screen model
//! ([`Screen`]), markers are looked for in the printed text with
//! whitespace left out, and two boots are compared by what their screens
//! show. Waits are conditions with deadlines; the deadlines scale with a
//! boot of a known-good image measured on the same machine, and both count
//! QEMU's own time (wall time less the time it waited for a CPU), so a busy
//! machine gets more time while a broken image still fails as soon as the
//! firmware gives up.
#![allow(dead_code, clippy::unwrap_used)]

#[path = "screen.rs"]
pub mod screen;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use screen::Screen;

pub const QEMU: &str = "qemu-system-x86_64";
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// What the firmware prints once it has tried every boot device: SeaBIOS
/// (on the serial console set up by [`Firmware::SeaBios`]) and OVMF, which
/// falls back to its built-in shell.
pub const GAVE_UP: &[&str] = &["No bootable device.", "Shell> "];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    SeaBios,
    Ovmf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// An IDE CD-ROM drive: the firmware boots through El Torito.
    Cdrom,
    /// An IDE hard disk: SeaBIOS runs the MBR boot code, OVMF looks for an
    /// EFI system partition (or an El Torito catalog, which it also reads on
    /// hard disks).
    IdeDisk,
    /// A USB stick on an xHCI controller.
    UsbDisk,
}

/// Whether QEMU and the firmware for `fw` are installed (skip rules of
/// `have`).
pub fn have_qemu(fw: Firmware) -> bool {
    crate::common::have(QEMU)
        && match fw {
            Firmware::SeaBios => true,
            Firmware::Ovmf => {
                crate::common::have_file(OVMF_CODE) && crate::common::have_file(OVMF_VARS)
            }
        }
}

// ---------------------------------------------------------------------------
// Deadlines

/// How long the firmware takes to reach a known point on this machine now:
/// SeaBIOS booting a one-sector disk that prints a line, OVMF starting
/// with no boot device until its shell prompt. Measured once per test
/// program, the first time a deadline is asked for.
pub fn calibration(fw: Firmware) -> Duration {
    static SEABIOS: OnceLock<Duration> = OnceLock::new();
    static OVMF: OnceLock<Duration> = OnceLock::new();
    let cell = match fw {
        Firmware::SeaBios => &SEABIOS,
        Firmware::Ovmf => &OVMF,
    };
    *cell.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("isoforge-calibration-")
            .tempdir()
            .unwrap();
        let (img, media, marker) = match fw {
            Firmware::SeaBios => {
                let img = dir.path().join("calibration.img");
                fs::write(&img, calibration_disk()).unwrap();
                (Some(img), Media::IdeDisk, CALIBRATION_MARKER)
            }
            Firmware::Ovmf => (None, Media::IdeDisk, "Shell>"),
        };
        // Generous: this is the known-good run every other deadline is
        // derived from; it ends as soon as its text shows.
        let mut q = Qemu::start(img.as_deref(), fw, media);
        let (_, _, timed_out) = q.watch(Duration::from_secs(300), |s| s.printed(marker));
        let (elapsed, stderr) = q.stop();
        assert!(
            !timed_out,
            "{fw:?} calibration boot did not show {marker:?} in 300 s: the harness is broken\n{stderr}"
        );
        eprintln!("{fw:?} calibration boot: {:.1} s", elapsed.as_secs_f64());
        elapsed
    })
}

/// What the calibration disk prints.
pub const CALIBRATION_MARKER: &str = "ISOFORGE-CALIBRATION-OK";

/// A one-sector disk whose boot code prints [`CALIBRATION_MARKER`] through
/// INT 10h and waits (the boot trees' program,
/// [`bios_print_program`](crate::boot_tree::bios_print_program)).
fn calibration_disk() -> Vec<u8> {
    let mut disk = crate::boot_tree::bios_print_program(CALIBRATION_MARKER);
    assert!(
        disk.len() <= 440,
        "the program must fit before the MBR's tables"
    );
    disk.resize(510, 0);
    disk.extend([0x55, 0xaa]);
    disk.resize(1 << 20, 0);
    disk
}

/// How long a boot that should show its marker may take under `fw`:
/// many times the calibration boot, and never less than a floor that a
/// quiet machine never comes near.
pub fn boot_timeout(fw: Firmware) -> Duration {
    let (factor, floor) = match fw {
        Firmware::SeaBios => (25, 60),
        Firmware::Ovmf => (6, 90),
    };
    (calibration(fw) * factor).max(Duration::from_secs(floor))
}

/// How long a boot that should not show its marker is watched. The
/// firmware usually gives up long before (see [`GAVE_UP`]); a broken MBR
/// boot code can hang SeaBIOS without a word, so this is the time after
/// which a good boot would certainly have shown its marker.
pub fn no_boot_timeout(fw: Firmware) -> Duration {
    let (factor, floor) = match fw {
        Firmware::SeaBios => (10, 20),
        Firmware::Ovmf => (3, 60),
    };
    (calibration(fw) * factor).max(Duration::from_secs(floor))
}

// ---------------------------------------------------------------------------
// One boot, judged by a marker

/// What one boot printed.
#[derive(Debug)]
pub struct Boot {
    pub what: String,
    pub marker: String,
    pub found: bool,
    /// The firmware's give-up message, when it printed one before the marker.
    pub gave_up: Option<&'static str>,
    /// QEMU ended by itself (otherwise it was killed).
    pub exited: Option<std::process::ExitStatus>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub screen: Screen,
    pub stderr: String,
}

impl Boot {
    fn describe(&self) -> String {
        let mut s = format!(
            "{}: marker {:?} {} after {:.1} s",
            self.what,
            self.marker,
            if self.found { "seen" } else { "not seen" },
            self.elapsed.as_secs_f64()
        );
        if let Some(g) = self.gave_up {
            let _ = write!(s, "; firmware gave up ({g:?})");
        }
        if let Some(st) = self.exited {
            let _ = write!(s, "; QEMU exited by itself ({st})");
        }
        if self.timed_out {
            s.push_str("; timed out");
        }
        let _ = write!(
            s,
            "\n--- console screen (rows scrolled off first) ---\n{}\n--- QEMU stderr ---\n{}",
            self.screen.lines().join("\n").trim_end(),
            self.stderr.trim_end()
        );
        s
    }

    /// Panics with the console screen unless the marker was printed.
    pub fn assert_booted(&self) -> &Self {
        assert!(self.found, "{}", self.describe());
        eprintln!(
            "{}: booted in {:.1} s",
            self.what,
            self.elapsed.as_secs_f64()
        );
        self
    }

    /// Panics with the console screen if the marker was printed.
    pub fn assert_not_booted(&self) -> &Self {
        assert!(!self.found, "{}", self.describe());
        eprintln!(
            "{}: did not boot, as expected ({:.1} s{})",
            self.what,
            self.elapsed.as_secs_f64(),
            if self.timed_out { ", timed out" } else { "" }
        );
        self
    }

    /// Panics unless the console printed `text` (e.g. which device booted).
    pub fn assert_console_shows(&self, text: &str) -> &Self {
        assert!(
            self.screen.printed(text),
            "console does not show {text:?}\n{}",
            self.describe()
        );
        self
    }
}

/// Kills QEMU when dropped, so a panicking test leaves no process behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn drive_args(img: &Path, media: Media) -> Vec<String> {
    let file = img.to_str().unwrap();
    assert!(!file.contains(','), "QEMU option values cannot hold ','");
    match media {
        Media::Cdrom => vec![
            "-drive".into(),
            format!("if=ide,media=cdrom,format=raw,readonly=on,file={file}"),
        ],
        // snapshot=on: writes go to a temporary overlay, so parallel boots
        // can share one image and it stays as built.
        Media::IdeDisk => vec![
            "-drive".into(),
            format!("if=ide,media=disk,format=raw,snapshot=on,file={file}"),
        ],
        Media::UsbDisk => vec![
            "-device".into(),
            "qemu-xhci,id=xhci".into(),
            "-drive".into(),
            format!("if=none,id=stick,format=raw,snapshot=on,file={file}"),
            "-device".into(),
            "usb-storage,bus=xhci.0,drive=stick".into(),
        ],
    }
}

/// A running QEMU whose serial console goes to a file.
struct Qemu {
    what: String,
    /// Holds the serial log, QEMU's stderr and OVMF's variable store.
    work: tempfile::TempDir,
    serial: PathBuf,
    stderr: PathBuf,
    process: Running,
    start: Instant,
}

impl Qemu {
    /// Starts QEMU on `img` (no drive at all when `None`).
    ///
    /// TCG is used unless `ISOFORGE_QEMU_ACCEL` names another accelerator:
    /// it needs no host support and behaves the same on every machine.
    fn start(img: Option<&Path>, fw: Firmware, media: Media) -> Qemu {
        let what = format!(
            "{:?} from {:?}: {}",
            fw,
            media,
            img.map_or("no drive".into(), |i| i
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned())
        );
        let work = tempfile::Builder::new()
            .prefix("isoforge-qemu-")
            .tempdir()
            .unwrap();
        let serial = work.path().join("serial.log");
        let stderr = work.path().join("stderr.log");
        let accel = std::env::var("ISOFORGE_QEMU_ACCEL").unwrap_or_else(|_| "tcg".into());
        let mut cmd = Command::new(QEMU);
        cmd.args(["-machine", "pc", "-accel", &accel, "-m", "256"])
            .args(["-nodefaults", "-display", "none", "-no-reboot"])
            // Named threads: the virtual CPU's is the one [`Qemu::clock`]
            // watches.
            .args(["-name", "isoforge,debug-threads=on"])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()));
        match fw {
            Firmware::SeaBios => {
                // Without a graphics card, this fw_cfg file makes SeaBIOS copy
                // the BIOS text console (its own messages and everything a boot
                // loader prints through INT 10h) to this serial port (0x3f8, as
                // a little-endian integer).
                let port = work.path().join("sercon-port");
                fs::write(&port, 0x3f8u16.to_le_bytes()).unwrap();
                cmd.arg("-fw_cfg")
                    .arg(format!("name=etc/sercon-port,file={}", port.display()));
            }
            Firmware::Ovmf => {
                let vars = work.path().join("OVMF_VARS.fd");
                fs::copy(OVMF_VARS, &vars).unwrap();
                cmd.arg("-drive")
                    .arg(format!(
                        "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
                    ))
                    .arg("-drive")
                    .arg(format!(
                        "if=pflash,format=raw,unit=1,file={}",
                        vars.display()
                    ));
            }
        }
        if let Some(img) = img {
            cmd.args(drive_args(img, media));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap());
        let start = Instant::now();
        let process = Running(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
        );
        Qemu {
            what,
            work,
            serial,
            stderr,
            process,
            start,
        }
    }

    /// Renders the serial log on a screen every 100 ms and hands it to
    /// `done` until that returns true, QEMU exits, or `timeout` passes.
    /// Returns the last screen, QEMU's exit status if it ended by itself
    /// (its log was then read to the end), and whether the time ran out.
    fn watch(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Screen) -> bool,
    ) -> (Screen, Option<std::process::ExitStatus>, bool) {
        let mut screen = Screen::of("");
        // The log's length when it was last rendered: the log only grows,
        // so an unchanged length means an unchanged screen.
        let mut rendered = None;
        loop {
            // Read the exit status first: a log read after QEMU ended is
            // complete.
            let exited = self.process.0.try_wait().unwrap();
            let len = fs::metadata(&self.serial).map_or(0, |m| m.len());
            if rendered != Some(len) {
                let log = fs::read(&self.serial).unwrap_or_default();
                rendered = Some(len);
                screen = Screen::of(&String::from_utf8_lossy(&log));
                if done(&screen) {
                    return (screen, None, false);
                }
            }
            if exited.is_some() {
                return (screen, exited, false);
            }
            // A starved QEMU's clock stands still; the wall-clock bound
            // only ends a run the host never lets go on.
            if self.clock() > timeout || self.start.elapsed() > timeout * 20 {
                return (screen, None, true);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The time since QEMU started, less the time its virtual CPU spent
    /// waiting for a host CPU ([`run_queue_delay`]): what the guest would
    /// have had on an idle host. Deadlines and the calibration count this time, so a host
    /// busy with other work slows the clock instead of failing the boot.
    fn clock(&self) -> Duration {
        let waited = run_queue_delay(self.process.0.id());
        self.start.elapsed().saturating_sub(waited)
    }

    /// Stops QEMU; returns its [`Qemu::clock`] time and its stderr.
    fn stop(self) -> (Duration, String) {
        let elapsed = self.clock();
        drop(self.process);
        let stderr = fs::read_to_string(&self.stderr).unwrap_or_default();
        drop(self.work);
        (elapsed, stderr)
    }
}

/// How long QEMU's virtual CPU thread (`CPU 0/TCG`; any thread when none
/// is named so) has waited on a run queue; zero when the kernel does not
/// say.
fn run_queue_delay(pid: u32) -> Duration {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    // (is a virtual CPU, waited ns) per thread.
    let threads: Vec<(bool, u64)> = tasks
        .flatten()
        .filter_map(|t| {
            let stat = fs::read_to_string(t.path().join("schedstat")).ok()?;
            let waited = stat.split_whitespace().nth(1)?.parse::<u64>().ok()?;
            let comm = fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            Some((comm.starts_with("CPU "), waited))
        })
        .collect();
    let vcpu = threads.iter().any(|t| t.0);
    let ns = threads
        .iter()
        .filter(|t| t.0 || !vcpu)
        .map(|t| t.1)
        .max()
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Boots `img` and waits until the console has printed `marker`, the
/// firmware gives up, QEMU exits, or `timeout` passes; then stops QEMU.
pub fn boot(img: &Path, fw: Firmware, media: Media, marker: &str, timeout: Duration) -> Boot {
    let mut qemu = Qemu::start(Some(img), fw, media);
    let mut found = false;
    let mut gave_up = None;
    let (screen, exited, timed_out) = qemu.watch(timeout, |s| {
        found = s.printed(marker);
        gave_up = GAVE_UP.iter().copied().find(|g| s.printed(g));
        found || gave_up.is_some()
    });
    let what = qemu.what.clone();
    let (elapsed, stderr) = qemu.stop();
    Boot {
        what,
        marker: marker.to_string(),
        found,
        gave_up,
        exited,
        timed_out,
        elapsed,
        screen,
        stderr,
    }
}

// ---------------------------------------------------------------------------
// One boot, recorded to be compared with another

/// What the console showed during one boot, up to a stop text.
#[derive(Debug)]
pub struct Transcript {
    pub what: String,
    /// The screen when the run ended.
    pub screen: Screen,
    /// What the screen shows ([`Screen::shown`]: whitespace left out),
    /// up to and including the first stop text it shows.
    pub shown: String,
    /// The stop text that ended the run.
    pub stop: Option<String>,
    /// QEMU ended by itself (otherwise it was killed).
    pub exited: Option<std::process::ExitStatus>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub stderr: String,
}

impl Transcript {
    /// How the run ended, for messages.
    pub fn ending(&self) -> String {
        let mut s = format!("{:.1} s", self.elapsed.as_secs_f64());
        if let Some(t) = &self.stop {
            let _ = write!(s, ", stopped at {t:?}");
        }
        if let Some(st) = self.exited {
            let _ = write!(s, ", QEMU exited by itself ({st})");
        }
        if self.timed_out {
            s.push_str(", timed out");
        }
        s
    }

    /// Whether the console printed `text` (whitespace ignored).
    pub fn printed(&self, text: &str) -> bool {
        self.screen.printed(text)
    }

    /// The verdict: `other` boots like `self` when its screen shows the
    /// same text up to the same stop.
    pub fn alike(&self, other: &Transcript) -> bool {
        self.stop.is_some() && self.stop == other.stop && self.shown == other.shown
    }

    /// Both screens side by side, with where their text parts, for a
    /// failure message.
    pub fn compare(&self, other: &Transcript) -> String {
        let n = self
            .shown
            .chars()
            .zip(other.shown.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let around =
            |s: &str| -> String { s.chars().skip(n.saturating_sub(20)).take(60).collect() };
        format!(
            "the screens part after {n} characters (whitespace aside):\n  first:  ...{}\n  second: ...{}\n{}\n--- QEMU stderr of the second ---\n{}",
            around(&self.shown),
            around(&other.shown),
            screen::side_by_side(
                &format!("{} ({})", self.what, self.ending()),
                &self.screen.lines(),
                &format!("{} ({})", other.what, other.ending()),
                &other.screen.lines(),
            ),
            other.stderr.trim_end()
        )
    }
}

/// Boots `img` and records the console until its screen shows one of
/// `stops`, QEMU exits, or `timeout` passes; then stops QEMU.
///
/// The transcript holds what the screen shows up to the first stop text,
/// so a boot loader's countdown or a firmware's retries after it do not
/// depend on when the console was last read.
pub fn transcript(
    img: &Path,
    fw: Firmware,
    media: Media,
    stops: &[&str],
    timeout: Duration,
) -> Transcript {
    let mut qemu = Qemu::start(Some(img), fw, media);
    let (screen, exited, timed_out) = qemu.watch(timeout, |s| s.shown_until(stops).1.is_some());
    let (shown, stop) = screen.shown_until(stops);
    let what = qemu.what.clone();
    let (elapsed, stderr) = qemu.stop();
    Transcript {
        what,
        screen,
        shown,
        stop: stop.map(str::to_string),
        exited,
        timed_out,
        elapsed,
        stderr,
    }
}

/// A copy of `img` at `dir/name` with `ranges` (byte offset, length) zeroed.
pub fn broken_copy(img: &Path, dir: &Path, name: &str, ranges: &[(u64, usize)]) -> PathBuf {
    let zeros: Vec<(u64, Vec<u8>)> = ranges
        .iter()
        .map(|&(off, len)| (off, vec![0; len]))
        .collect();
    patched_copy(img, dir, name, &zeros)
}

/// A copy of `img` at `dir/name` with `patches` (byte offset, bytes)
/// written over it.
pub fn patched_copy(img: &Path, dir: &Path, name: &str, patches: &[(u64, Vec<u8>)]) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let out = dir.join(name);
    fs::copy(img, &out).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&out).unwrap();
    for (off, bytes) in patches {
        f.write_all_at(bytes, *off).unwrap();
    }
    out
}

/// `len` bytes of `img` from `offset`.
pub fn read_at(img: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut b = vec![0u8; len];
    fs::File::open(img)
        .unwrap()
        .read_exact_at(&mut b, offset)
        .unwrap();
    b
}

fn le32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(b[..4].try_into().unwrap()))
}

/// Byte offset of the El Torito boot catalog, from the boot record volume
/// descriptor (sector 17, catalog LBA at byte 71).
pub fn catalog_offset(img: &Path) -> u64 {
    let vd = read_at(img, 17 * 2048, 2048);
    assert_eq!(
        &vd[1..6],
        b"CD001",
        "{}: no volume descriptor at 17",
        img.display()
    );
    assert_eq!(vd[0], 0, "{}: sector 17 is no boot record", img.display());
    le32(&vd[71..75]) * 2048
}

/// Whether `img` has a GPT header at 512.
pub fn has_gpt(img: &Path) -> bool {
    read_at(img, 512, 8) == b"EFI PART"
}

/// Byte offset of the backup GPT header, from the primary header's
/// alternate LBA field.
pub fn backup_gpt_offset(img: &Path) -> u64 {
    let h = read_at(img, 512, 512);
    assert_eq!(&h[..8], b"EFI PART", "{}: no GPT header", img.display());
    u64::from_le_bytes(h[32..40].try_into().unwrap()) * 512
}

/// One boot entry of an El Torito catalog, read straight from its bytes.
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    /// Platform of the validation entry or section header (0 BIOS, 0xef
    /// UEFI).
    pub platform: u8,
    /// Byte offset of the section header that introduces the entry, or
    /// `None` for the default entry.
    pub header: Option<u64>,
    /// Number of entries under that header.
    pub header_entries: u16,
    /// Block address of the boot image.
    pub load_rba: u64,
}

/// The entries of `img`'s boot catalog: the default entry, then every
/// section's entries.
pub fn catalog_entries(img: &Path) -> Vec<CatalogEntry> {
    let cat_at = catalog_offset(img);
    let cat = read_at(img, cat_at, 2048);
    assert_eq!(cat[0], 1, "{}: no validation entry", img.display());
    let mut v = vec![CatalogEntry {
        platform: cat[1],
        header: None,
        header_entries: 1,
        load_rba: le32(&cat[40..]),
    }];
    let mut at = 64;
    while at + 32 <= cat.len() && matches!(cat[at], 0x90 | 0x91) {
        let platform = cat[at + 1];
        let n = u16::from_le_bytes([cat[at + 2], cat[at + 3]]);
        let last = cat[at] == 0x91;
        let header = at;
        at += 32;
        for _ in 0..n {
            if at + 32 > cat.len() {
                break;
            }
            v.push(CatalogEntry {
                platform,
                header: Some(cat_at + header as u64),
                header_entries: n,
                load_rba: le32(&cat[at + 8..]),
            });
            at += 32;
        }
        if last {
            break;
        }
    }
    v
}

/// A copy of `img` whose catalog has no UEFI entry: each UEFI section's
/// header and entries are zeroed, which ends the catalog there.
pub fn without_efi_entries(img: &Path, dir: &Path, name: &str) -> PathBuf {
    let ranges: Vec<(u64, usize)> = catalog_entries(img)
        .iter()
        .filter(|e| e.platform == 0xef)
        .filter_map(|e| {
            e.header
                .map(|h| (h, 32 * (1 + usize::from(e.header_entries))))
        })
        .collect();
    assert!(!ranges.is_empty(), "{}: no UEFI section", img.display());
    broken_copy(img, dir, name, &ranges)
}

/// A copy of `img` whose BIOS boot image has a wrong boot info table: its
/// checksum field (bytes 20-23 of the image) is inverted. ISOLINUX checks
/// it and refuses to start.
pub fn with_wrong_boot_info_table(img: &Path, dir: &Path, name: &str) -> PathBuf {
    let e = catalog_entries(img)[0];
    assert_eq!(
        e.platform,
        0,
        "{}: the default entry is not BIOS",
        img.display()
    );
    let at = e.load_rba * 2048;
    let table = read_at(img, at + 8, 16);
    assert_eq!(
        le32(&table),
        16,
        "{}: the BIOS boot image has no boot info table",
        img.display()
    );
    let csum: Vec<u8> = table[12..16].iter().map(|b| !b).collect();
    patched_copy(img, dir, name, &[(at + 20, csum)])
}
