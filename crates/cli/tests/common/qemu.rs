//! Boots a disk image in QEMU (SeaBIOS or OVMF, as a CD or as a disk) and
//! watches the serial console for a marker the boot loader prints, or
//! records what the console shows; and makes copies of images with their
//! boot structures broken.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU: &str = "qemu-system-x86_64";
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// Time a boot that should print its marker gets before it fails.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// Time a boot that should not print its marker is watched: about twenty
/// times what a good boot takes. OVMF usually gives up sooner (see
/// [`GAVE_UP`]); a broken MBR boot code can hang SeaBIOS without a word.
pub fn no_boot_timeout(fw: Firmware) -> Duration {
    match fw {
        Firmware::SeaBios => Duration::from_secs(20),
        Firmware::Ovmf => Duration::from_secs(60),
    }
}

/// What the firmware prints once it has tried every boot device: SeaBIOS
/// (on the serial console set up by [`Firmware::SeaBios`]) and OVMF, which
/// falls back to its built-in shell.
const GAVE_UP: &[&str] = &["No bootable device.", "Shell> "];

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
    pub serial: String,
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
            "\n--- serial console (escape sequences removed) ---\n{}\n--- QEMU stderr ---\n{}",
            readable(&self.serial),
            self.stderr.trim_end()
        );
        s
    }

    /// Panics with the console output unless the marker was printed.
    pub fn assert_booted(&self) -> &Self {
        assert!(self.found, "{}", self.describe());
        eprintln!(
            "{}: booted in {:.1} s",
            self.what,
            self.elapsed.as_secs_f64()
        );
        self
    }

    /// Panics with the console output if the marker was printed.
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

    /// Panics unless the console shows `text` (e.g. which device booted).
    pub fn assert_console_shows(&self, text: &str) -> &Self {
        assert!(
            readable(&self.serial).contains(text),
            "console does not show {text:?}\n{}",
            self.describe()
        );
        self
    }
}

/// The serial log without ANSI escape sequences and carriage returns.
pub fn readable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte; other escapes: ESC + one char.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
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
    /// Starts QEMU on `img`.
    ///
    /// TCG is used unless `ISOFORGE_QEMU_ACCEL` names another accelerator:
    /// it needs no host support and behaves the same on every machine.
    fn start(img: &Path, fw: Firmware, media: Media) -> Qemu {
        let what = format!(
            "{:?} from {:?}: {}",
            fw,
            media,
            img.file_name().unwrap().to_string_lossy()
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
        cmd.args(drive_args(img, media))
            .stdin(Stdio::null())
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

    /// Reads the serial log every 100 ms and hands it to `done` until that
    /// returns true, QEMU exits, or `timeout` passes. Returns QEMU's exit
    /// status if it ended by itself (its log was then read to the end), and
    /// whether the time ran out.
    fn watch(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(String) -> bool,
    ) -> (Option<std::process::ExitStatus>, bool) {
        loop {
            // Read the exit status first: a log read after QEMU ended is
            // complete.
            let exited = self.process.0.try_wait().unwrap();
            let log =
                String::from_utf8_lossy(&fs::read(&self.serial).unwrap_or_default()).into_owned();
            if done(log) {
                return (None, false);
            }
            if exited.is_some() {
                return (exited, false);
            }
            if self.start.elapsed() > timeout {
                return (None, true);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops QEMU; returns the time since it started and its stderr.
    fn stop(self) -> (Duration, String) {
        let elapsed = self.start.elapsed();
        drop(self.process);
        let stderr = fs::read_to_string(&self.stderr).unwrap_or_default();
        drop(self.work);
        (elapsed, stderr)
    }
}

/// Boots `img` and waits until the serial console shows `marker`, the
/// firmware gives up, QEMU exits, or `timeout` passes; then stops QEMU.
pub fn boot(img: &Path, fw: Firmware, media: Media, marker: &str, timeout: Duration) -> Boot {
    let mut qemu = Qemu::start(img, fw, media);
    let mut result = Boot {
        what: qemu.what.clone(),
        marker: marker.to_string(),
        found: false,
        gave_up: None,
        exited: None,
        timed_out: false,
        elapsed: Duration::ZERO,
        serial: String::new(),
        stderr: String::new(),
    };
    (result.exited, result.timed_out) = qemu.watch(timeout, |log| {
        // SeaBIOS's serial console moves the cursor with escape sequences
        // in the middle of text.
        let text = readable(&log);
        result.found = text.contains(marker);
        result.gave_up = GAVE_UP.iter().copied().find(|g| text.contains(g));
        result.serial = log;
        result.found || result.gave_up.is_some()
    });
    (result.elapsed, result.stderr) = qemu.stop();
    result
}

/// What the serial console showed during one boot, up to a stop text.
#[derive(Debug)]
pub struct Transcript {
    pub what: String,
    /// The console text ([`readable`]), up to and including the first stop
    /// text it shows.
    pub text: String,
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
}

/// Where `text` is cut: after the stop text that ends first in it; and
/// which stop text that is.
fn cut_at_stop<'a>(text: &str, stops: &[&'a str]) -> Option<(usize, &'a str)> {
    stops
        .iter()
        .filter_map(|s| text.find(s).map(|i| (i + s.len(), *s)))
        .min()
}

/// Boots `img` and records the serial console until it shows one of
/// `stops`, QEMU exits, or `timeout` passes; then stops QEMU.
///
/// The transcript holds only the text before the first stop text (and the
/// stop text), so a boot loader's countdown or a firmware's retries after
/// it do not depend on when the console was last read.
pub fn transcript(
    img: &Path,
    fw: Firmware,
    media: Media,
    stops: &[&str],
    timeout: Duration,
) -> Transcript {
    let mut qemu = Qemu::start(img, fw, media);
    let mut result = Transcript {
        what: qemu.what.clone(),
        text: String::new(),
        stop: None,
        exited: None,
        timed_out: false,
        elapsed: Duration::ZERO,
        stderr: String::new(),
    };
    (result.exited, result.timed_out) = qemu.watch(timeout, |log| {
        let text = readable(&log);
        match cut_at_stop(&text, stops) {
            Some((end, stop)) => {
                result.text = text[..end].to_string();
                result.stop = Some(stop.to_string());
                true
            }
            None => {
                result.text = text;
                false
            }
        }
    });
    (result.elapsed, result.stderr) = qemu.stop();
    result
}

/// A copy of `img` at `dir/name` with `ranges` (byte offset, length) zeroed.
pub fn broken_copy(img: &Path, dir: &Path, name: &str, ranges: &[(u64, usize)]) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let out = dir.join(name);
    fs::copy(img, &out).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&out).unwrap();
    for &(off, len) in ranges {
        f.write_all_at(&vec![0u8; len], off).unwrap();
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
