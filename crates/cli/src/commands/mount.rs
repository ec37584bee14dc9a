//! `isoforge mount` and `isoforge umount`: serve an image as a read-only
//! FUSE file system.
//!
//! By default `mount` starts the server in the background and returns once
//! the mount is in place, so `isoforge mount a.iso m && ls m` works: the
//! command runs itself again with `--foreground`, in its own process group,
//! standard input and output detached, and waits for the word that the
//! mount is ready (or for the error that stopped it). SIGINT, SIGTERM and
//! SIGHUP unmount; so do `isoforge umount` and `fusermount3 -u`.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use isoforge::mount::{MountOptions, Mounted};

use crate::args::Cli;
use crate::commands::{is_remote_arg, open_image, Outcome, RemoteArgs, ViewArg};

/// Set in the background server's environment: write `ready` (or the error)
/// as one line to standard output, then nothing more.
const NOTIFY_ENV: &str = "ISOFORGE_MOUNT_NOTIFY";

/// The mount table's source field of an isoforge mount starts with this,
/// then the image's path: how `umount` tells its mounts from others (the
/// file system type is `fuse`, or `fuse.isoforge` when fusermount3 mounts).
const FSNAME_PREFIX: &str = "isoforge:";

/// Options of `mount`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a path, or an http://, https:// or s3:// URL.
    pub image: PathBuf,
    /// An existing directory to mount it on.
    pub mountpoint: PathBuf,
    /// Which name space to serve.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// Stay attached: serve until unmounted or interrupted, problems on
    /// standard error.
    #[arg(long)]
    pub foreground: bool,
    /// Let other users see the mount (non-root users need `user_allow_other`
    /// in /etc/fuse.conf); modes are then enforced.
    #[arg(long)]
    pub allow_other: bool,
    /// Show every file as owned by this user id.
    #[arg(long, value_name = "N")]
    pub uid: Option<u32>,
    /// Show every file as owned by this group id.
    #[arg(long, value_name = "N")]
    pub gid: Option<u32>,
    /// Threads serving requests.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
    /// In the background, append problems met while serving (one line each)
    /// to this file instead of dropping them.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Options of `umount`.
#[derive(Debug, clap::Args)]
pub struct UmountArgs {
    /// Where an image is mounted by `isoforge mount`.
    pub mountpoint: PathBuf,
}

/// Runs `mount`.
pub fn run(cli: &Cli, a: &Args, _out: &mut dyn Write) -> anyhow::Result<Outcome> {
    if !a.mountpoint.is_dir() {
        bail!("mount point {} is not a directory", a.mountpoint.display());
    }
    if !a.foreground {
        return background(a);
    }
    let notify = std::env::var_os(NOTIFY_ENV).is_some();
    match serve(a, notify) {
        Ok(()) => Ok(Outcome::Ok),
        Err(e) if notify => {
            // The waiting parent shows the message and exits 2.
            let text = crate::report::error_text(cli, &e);
            let mut o = io::stdout();
            let _ = writeln!(o, "error {}", text.replace('\n', " "));
            let _ = o.flush();
            std::process::exit(2);
        }
        Err(e) => Err(e),
    }
}

/// Mounts, says so when asked to, and serves until unmounted.
fn serve(a: &Args, notify: bool) -> anyhow::Result<()> {
    let img = open_image(&a.image, &a.remote)?;
    let opts = MountOptions {
        view: a.view.into(),
        uid: a.uid,
        gid: a.gid,
        allow_other: a.allow_other,
        threads: a.threads.into(),
        fsname: format!(
            "{FSNAME_PREFIX}{}",
            if is_remote_arg(&a.image) {
                a.image.clone()
            } else {
                std::fs::canonicalize(&a.image).unwrap_or_else(|_| a.image.clone())
            }
            .to_string_lossy()
        ),
    };
    let log: isoforge::mount::Logger = Box::new(|line: &str| {
        let _ = writeln!(io::stderr(), "{line}");
    });
    let mut mounted: Mounted<std::sync::Arc<dyn isoforge::ReadAt>> =
        isoforge::mount::mount(img, &a.mountpoint, &opts, log)
            .with_context(|| format!("{}", a.image.display()))?;
    let mut unmounter = mounted.unmounter();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .context("cannot install signal handlers")?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("isoforge-unmount".into())
        .spawn(move || {
            for _ in signals.forever() {
                // Busy (a shell inside the mount): keep serving, and try
                // again on the next signal.
                if let Err(e) = unmounter.unmount() {
                    let _ = writeln!(io::stderr(), "isoforge: cannot unmount: {e}");
                }
            }
        })
        .context("cannot start the signal thread")?;
    if notify {
        let mut o = io::stdout();
        writeln!(o, "ready")?;
        o.flush()?;
    }
    let r = mounted.run();
    handle.close();
    r.context("serving the mount")
}

/// Starts the server in the background and waits until it is mounted.
fn background(a: &Args) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find the isoforge executable")?;
    let stderr = match &a.log {
        Some(p) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open log file {}", p.display()))?,
        ),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(exe);
    cmd.arg("mount")
        .arg("--foreground")
        .arg("--view")
        .arg(
            clap::ValueEnum::to_possible_value(&a.view)
                .map_or("auto".into(), |v| v.get_name().to_string()),
        )
        .arg("--threads")
        .arg(a.threads.to_string());
    if a.allow_other {
        cmd.arg("--allow-other");
    }
    if let Some(u) = a.uid {
        cmd.arg("--uid").arg(u.to_string());
    }
    if let Some(g) = a.gid {
        cmd.arg("--gid").arg(g.to_string());
    }
    cmd.arg("--timeout")
        .arg(a.remote.timeout.to_string())
        .arg("--retries")
        .arg(a.remote.retries.to_string());
    if let Some(e) = &a.remote.s3_endpoint {
        cmd.arg("--s3-endpoint").arg(e);
    }
    let image = if is_remote_arg(&a.image) {
        a.image.clone()
    } else {
        absolute(&a.image)?
    };
    cmd.arg("--")
        .arg(image)
        .arg(absolute(&a.mountpoint)?)
        .env(NOTIFY_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("cannot start the mount server")?;
    let Some(stdout) = child.stdout.take() else {
        bail!("the mount server has no output pipe");
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("waiting for the mount server")?;
    let line = line.trim_end();
    if line == "ready" {
        // The server goes on alone.
        return Ok(Outcome::Ok);
    }
    if let Some(msg) = line.strip_prefix("error ") {
        let _ = child.wait();
        bail!("{msg}");
    }
    let status = child.wait().context("waiting for the mount server")?;
    bail!("the mount server stopped before the mount was ready ({status})")
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("{}", p.display()))
}

/// Runs `umount`: `fusermount3 -u` on a mount made by `isoforge mount`
/// (anything else is refused); its server then exits.
pub fn umount(_cli: &Cli, a: &UmountArgs, _out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let target = std::fs::canonicalize(&a.mountpoint)
        .with_context(|| format!("{}", a.mountpoint.display()))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .context("cannot read /proc/self/mountinfo")?;
    let ours = info.lines().any(|l| {
        let point = l.split(' ').nth(4).map(unescape_mountinfo);
        let mut fs = l.split(" - ").nth(1).unwrap_or_default().split(' ');
        let (fstype, source) = (fs.next().unwrap_or_default(), fs.next().unwrap_or_default());
        point.as_deref() == Some(target.as_os_str().as_encoded_bytes())
            && fstype.starts_with("fuse")
            && source.starts_with(FSNAME_PREFIX)
    });
    if !ours {
        bail!(
            "{} is not mounted by isoforge mount",
            a.mountpoint.display()
        );
    }
    let out = Command::new("fusermount3")
        .arg("-u")
        .arg(&target)
        .output()
        .context("cannot run fusermount3 (package fuse3)")?;
    if !out.status.success() {
        bail!(
            "fusermount3 -u {}: {}",
            target.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(Outcome::Ok)
}

/// A mount point field of /proc/self/mountinfo with its octal escapes
/// (`\040` for a space) undone.
pub fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| c == b'\\' && d.iter().all(|x| (b'0'..=b'7').contains(x)));
        match oct {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, x| acc.wrapping_mul(8).wrapping_add(x - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}
