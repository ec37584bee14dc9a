//! `isoforge write`: an image onto a USB stick, refusing the wrong disk, and
//! read back without the page cache to prove it is there.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::HumanBytes;
use isoforge::device::{
    assess_image, candidates, unmount_all, Device, Finish, Probe, Refusal, Rules, SysProbe, Target,
    Transport, WriteOptions, WriteOutcome, Writer,
};
use isoforge::ReadAt;

use crate::args::Cli;
use crate::commands::Outcome;
use crate::progress::bytes_bar;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to write.
    #[arg(required_unless_present = "list")]
    pub image: Option<PathBuf>,
    /// The whole disk to write it to (such as /dev/sdb).
    #[arg(required_unless_present = "list")]
    pub device: Option<PathBuf>,
    /// List the disks an image can be written to, and exit.
    #[arg(long, conflicts_with_all = ["image", "device", "yes", "no_verify", "force_non_removable", "unmount", "file_target"])]
    pub list: bool,
    /// Write without asking (needed when standard input is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Read the device back and compare it with the image (the default).
    #[arg(long, overrides_with = "no_verify")]
    pub verify: bool,
    /// Do not read the device back.
    #[arg(long, overrides_with = "verify")]
    pub no_verify: bool,
    /// Write to a disk that is not removable (an internal disk).
    #[arg(long)]
    pub force_non_removable: bool,
    /// Unmount the device's mounted file systems first (never system ones).
    #[arg(long)]
    pub unmount: bool,
    /// Count loop devices as removable disks.
    #[arg(long)]
    pub allow_loop: bool,
    /// Allow a regular file as the target (created when missing).
    #[arg(long)]
    pub file_target: bool,
    /// JSON output (with --list).
    #[arg(long, requires = "list")]
    pub json: bool,
}

/// Runs the command.
pub fn run(cli: &Cli, args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let probe = SysProbe::new();
    if args.list {
        return list(&probe, args, out);
    }
    let (Some(image_path), Some(dev_path)) = (&args.image, &args.device) else {
        anyhow::bail!("give an IMAGE and a DEVICE, or --list");
    };
    let dev = dev_path.display().to_string();
    let image =
        File::open(image_path).with_context(|| format!("cannot open {}", image_path.display()))?;
    let meta = image
        .metadata()
        .with_context(|| format!("{}", image_path.display()))?;
    let len = ReadAt::size(&image).with_context(|| format!("{}", image_path.display()))?;
    let target = probe.inspect(dev_path).with_context(|| dev.clone())?;
    let rules = Rules::default()
        .allow_loop(args.allow_loop)
        .file_target(args.file_target)
        .force_non_removable(args.force_non_removable)
        .unmount(args.unmount);
    let refusals = assess_image(&target, len, Some(&meta), &rules);
    if !refusals.is_empty() {
        for r in &refusals {
            eprintln!("isoforge: {dev}: {r}{}", hint(r));
        }
        anyhow::bail!("{dev}: refused; nothing was written");
    }
    confirm(args, &target, &dev, image_path, len)?;
    if let Target::Disk(d) = &target {
        if args.unmount && !d.mounts.is_empty() {
            for p in unmount_all(d).with_context(|| dev.clone())? {
                if !cli.quiet {
                    eprintln!("isoforge: unmounted {}", p.display());
                }
            }
        }
    }

    // Ctrl-C and SIGTERM stop the work at the next chunk; a second one ends
    // the process at once.
    let stop = Arc::new(AtomicBool::new(false));
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_default(sig, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("cannot install the signal handlers")?;
    }
    let interrupted = |out: &mut dyn Write, what: String| -> ! {
        let _ = out.flush();
        eprintln!("isoforge: interrupted: {what}");
        let sig = signal.load(Ordering::SeqCst);
        std::process::exit(128 + i32::try_from(sig).unwrap_or(2))
    };

    let mut writer = Writer::open(dev_path, &target)?;
    let bar = bytes_bar(len, cli.quiet, "write");
    let progress = |n: u64| bar.set_position(n);
    let opts = WriteOptions {
        progress: Some(&progress),
        stop: Some(&stop),
    };
    let start = Instant::now();
    let outcome = writer.write(&image, len, &opts);
    bar.finish_and_clear();
    let written = match outcome? {
        WriteOutcome::Done(w) => w,
        WriteOutcome::Stopped { written } => {
            writer.finish();
            interrupted(
                out,
                format!(
                    "{dev} now holds a partial image ({written} of {len} bytes written); \
                     write it again before using it"
                ),
            )
        }
    };
    let secs = start.elapsed().as_secs_f64();
    writeln!(
        out,
        "wrote {} ({len} bytes) to {dev} in {secs:.1} s, {}/s{}",
        HumanBytes(len),
        HumanBytes(rate(len, secs)),
        if written.direct {
            ""
        } else {
            " (through the page cache: the device refused O_DIRECT)"
        }
    )?;
    writeln!(out, "sha256 {}", written.sha256_hex())?;

    let mut failed = false;
    if !args.no_verify {
        let bar = bytes_bar(len, cli.quiet, "verify");
        let progress = |n: u64| bar.set_position(n);
        let opts = WriteOptions {
            progress: Some(&progress),
            stop: Some(&stop),
        };
        let start = Instant::now();
        let check = writer.verify(&image, &written, &opts);
        bar.finish_and_clear();
        let check = check?;
        if check.stopped {
            writer.finish();
            interrupted(
                out,
                format!("{dev} holds the whole image, but it was not verified"),
            );
        }
        let secs = start.elapsed().as_secs_f64();
        if check.ok() {
            writeln!(
                out,
                "verified: read back {} in {secs:.1} s, {}/s, {}: sha256 {}",
                HumanBytes(len),
                HumanBytes(rate(len, secs)),
                if check.direct {
                    "bypassing the page cache (O_DIRECT)"
                } else {
                    "after dropping the page cache"
                },
                check.sha256_hex().unwrap_or_default()
            )?;
        } else {
            failed = true;
            let why = check
                .difference
                .map(|d| d.to_string())
                .unwrap_or_else(|| "the digests differ".into());
            writeln!(out, "verification FAILED: {why}")?;
            if !cli.quiet {
                eprintln!("isoforge: {dev}: verification FAILED: {why}");
            }
        }
    }
    match writer.finish() {
        Finish::Reread | Finish::File => {}
        Finish::RereadFailed(why) => {
            let what_to_do = match target.disk() {
                Some(d) if d.transport == Transport::Loop => {
                    "a loop device has partitions only when set up with losetup -P"
                }
                _ => "unplug the device and plug it back in to see its new partitions",
            };
            if !cli.quiet {
                eprintln!(
                    "isoforge: note: the kernel did not re-read the partition table of {dev} \
                     ({why}); {what_to_do}"
                );
            }
        }
    }
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}

fn rate(len: u64, secs: f64) -> u64 {
    if secs > 0.0 {
        (len as f64 / secs) as u64
    } else {
        0
    }
}

/// What the user can do about a refusal.
fn hint(r: &Refusal) -> &'static str {
    match r {
        Refusal::RegularFile => " (give --file-target to write to a file)",
        Refusal::Mounted { .. } => " (give --unmount to unmount them first)",
        Refusal::NonRemovable {
            transport: Transport::Loop,
        } => " (give --allow-loop to count loop devices as removable)",
        Refusal::NonRemovable { .. } => {
            " (give --force-non-removable if this really is the disk to erase)"
        }
        Refusal::Swap { .. } => " (turn it off with swapoff first)",
        Refusal::Held { .. } => " (stop them first)",
        _ => "",
    }
}

/// On a terminal, shows what is about to be erased and asks; without one,
/// `--yes` must have been given.
fn confirm(args: &Args, target: &Target, dev: &str, image: &Path, len: u64) -> anyhow::Result<()> {
    if args.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "standard input is not a terminal, so there is no one to ask: \
             give --yes to write to {dev} without asking; nothing was written"
        );
    }
    let mut e = std::io::stderr().lock();
    match target {
        Target::Disk(d) => describe(&mut e, d)?,
        Target::File { len: Some(l), .. } => writeln!(e, "{dev}: a file of {l} bytes")?,
        _ => writeln!(e, "{dev}: a new file")?,
    }
    write!(
        e,
        "Everything on {dev} will be replaced by {} ({}). Write? [y/N] ",
        image.display(),
        HumanBytes(len)
    )?;
    e.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    let a = answer.trim().to_ascii_lowercase();
    if a == "y" || a == "yes" {
        Ok(())
    } else {
        anyhow::bail!("not confirmed; nothing was written to {dev}")
    }
}

fn describe(e: &mut dyn Write, d: &Device) -> std::io::Result<()> {
    writeln!(
        e,
        "{}: {}, {} ({} bytes), {}{}",
        d.node.display(),
        d.label(),
        HumanBytes(d.size),
        d.size,
        d.transport,
        d.serial
            .as_deref()
            .map(|s| format!(", serial {s}"))
            .unwrap_or_default()
    )?;
    if d.partitions.is_empty() {
        writeln!(e, "  no partitions")?;
    }
    for p in &d.partitions {
        let mounted: Vec<String> = d
            .mounts
            .iter()
            .filter(|m| m.dev == p.dev || Path::new(&m.source).file_name() == Some(p.name.as_ref()))
            .map(|m| format!(", mounted at {}", m.point.display()))
            .collect();
        writeln!(
            e,
            "  partition {}: {}{}",
            p.name,
            HumanBytes(p.size),
            mounted.concat()
        )?;
    }
    Ok(())
}

fn list(probe: &dyn Probe, args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let devices = candidates(probe, args.allow_loop)?;
    if args.json {
        let v = serde_json::json!({ "schema": 1, "devices": devices });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    if devices.is_empty() {
        eprintln!(
            "isoforge: no removable disks found{}",
            if args.allow_loop {
                ""
            } else {
                " (loop devices are listed with --allow-loop)"
            }
        );
        return Ok(Outcome::Ok);
    }
    writeln!(
        out,
        "{:<14} {:>11} {:<6} {:<32} {:<20} MOUNTED",
        "DEVICE", "SIZE", "TRAN", "MODEL", "SERIAL"
    )?;
    for d in &devices {
        let mounts: Vec<String> = d
            .mounts
            .iter()
            .map(|m| m.point.display().to_string())
            .collect();
        writeln!(
            out,
            "{:<14} {:>11} {:<6} {:<32} {:<20} {}",
            d.node.display(),
            HumanBytes(d.size).to_string(),
            d.transport.to_string(),
            d.label(),
            d.serial.as_deref().unwrap_or("-"),
            if mounts.is_empty() {
                "-".to_string()
            } else {
                mounts.join(",")
            }
        )?;
    }
    Ok(Outcome::Ok)
}
