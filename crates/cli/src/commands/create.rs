//! `isoforge create`: an image from host directories and files.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use isoforge::write::{BuildOptions, Builder, RrVersion};

use crate::args::Cli;
use crate::commands::Outcome;
use crate::progress::bytes_bar;

/// Options of `create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output image (`-` for standard output).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Host directories (their contents become the root) or grafts ISO_PATH=HOST_PATH.
    #[arg(required = true)]
    pub sources: Vec<String>,
    /// Volume identifier.
    #[arg(short = 'V', long = "volume-id", default_value = "ISOIMAGE")]
    pub volume_id: String,
    /// Publisher identifier.
    #[arg(long, default_value = "")]
    pub publisher: String,
    /// Data preparer identifier.
    #[arg(long, default_value = "")]
    pub preparer: String,
    /// Application identifier.
    #[arg(long, default_value = "ISOFORGE")]
    pub application: String,
    /// System identifier.
    #[arg(long = "system-id", default_value = "LINUX")]
    pub system_id: String,
    /// ISO level: 1 (8.3 names), 2 and 3 (31 characters; 3 allows files over 4 GiB), 4 (ISO 9660:1999).
    #[arg(long = "iso-level", default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub iso_level: u8,
    /// Do not write a Joliet tree.
    #[arg(long)]
    pub no_joliet: bool,
    /// Allow Joliet names of 103 characters (64 otherwise).
    #[arg(long)]
    pub joliet_long: bool,
    /// Do not write Rock Ridge.
    #[arg(long)]
    pub no_rock_ridge: bool,
    /// Rock Ridge flavour: 1.09 (RRIP_1991A, read everywhere) or 1.12 (IEEE_1282, with file serial numbers).
    #[arg(long = "rock-ridge-version", default_value = "1.09", value_parser = ["1.09", "1.12"])]
    pub rock_ridge_version: String,
    /// Same input, same bytes: fixed times (SOURCE_DATE_EPOCH, or the newest input time).
    #[arg(long)]
    pub reproducible: bool,
    /// Store identical file contents once.
    #[arg(long)]
    pub dedup: bool,
    /// Fail instead of shortening or changing names that do not fit a name space.
    #[arg(long)]
    pub strict_names: bool,
}

fn newest_time(b: &Builder) -> i64 {
    b.nodes_meta()
        .map(|m| m.mtime.secs.max(m.ctime.secs))
        .max()
        .unwrap_or(0)
}

/// Runs `create`.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut opts = BuildOptions::default();
    opts.volume_id = a.volume_id.clone();
    opts.publisher = a.publisher.clone();
    opts.preparer = a.preparer.clone();
    opts.application = a.application.clone();
    opts.system_id = a.system_id.clone();
    opts.level = a.iso_level;
    opts.joliet = !a.no_joliet;
    opts.joliet_long = a.joliet_long;
    opts.rock_ridge = !a.no_rock_ridge;
    opts.rr_version = if a.rock_ridge_version == "1.12" {
        RrVersion::V112
    } else {
        RrVersion::V109
    };
    opts.dedup = a.dedup;
    opts.strict_names = a.strict_names;
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(
            v.trim()
                .parse::<i64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        ),
        _ => None,
    };
    opts.source_date_epoch = epoch;
    let mut b = Builder::new(opts.clone());
    for s in &a.sources {
        match s.split_once('=') {
            Some((iso, host)) if !iso.is_empty() => {
                b.add_host(iso, Path::new(host))
                    .with_context(|| format!("adding {host} at {iso}"))?;
            }
            _ => {
                b.add_host("/", Path::new(s))
                    .with_context(|| format!("adding {s}"))?;
            }
        }
    }
    if a.reproducible && epoch.is_none() {
        // No epoch given: the newest modification time in the input stands
        // for it (change times cannot be copied, so they are clamped to it).
        let t = newest_time(&b);
        b.set_source_date_epoch(t);
    }
    let plan = b.plan()?;
    if !cli.quiet {
        for w in plan.warnings() {
            eprintln!("isoforge: warning: {w}");
        }
        if cli.verbose {
            for n in plan.notes() {
                eprintln!("isoforge: note: {n}");
            }
        }
    }
    let bar = bytes_bar(plan.image_len(), cli.quiet, "writing");
    if a.output.as_os_str() == "-" {
        let mut w = BufWriter::with_capacity(1 << 20, out);
        plan.write_to(&mut w, &|n| bar.inc(n))?;
        w.flush()?;
        bar.finish_and_clear();
        return Ok(Outcome::Ok);
    }
    let target = &a.output;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if target.is_dir() {
        bail!(
            "{} is a directory; give the image's file name with -o",
            target.display()
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix(".isoforge-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    plan.write_to_file(tmp.as_file(), &|n| bar.inc(n))
        .with_context(|| format!("writing {}", target.display()))?;
    tmp.as_file().sync_all()?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    tmp.persist(target)
        .with_context(|| format!("cannot rename the finished image to {}", target.display()))?;
    bar.finish_and_clear();
    Ok(Outcome::Ok)
}
