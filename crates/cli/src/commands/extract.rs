//! `isoforge extract`: extract files into a directory, safely.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use isoforge::extract::{extract, ExtractOptions};

use crate::args::Cli;
use crate::commands::{open_image, Outcome, ViewArg};
use crate::progress::bytes_bar;

/// Options of `extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image.
    pub image: PathBuf,
    /// Paths in the image to extract (all when none are given).
    pub paths: Vec<String>,
    /// Destination directory (created if missing).
    #[arg(short = 'C', long = "directory", default_value = ".")]
    pub dest: PathBuf,
    /// Which name space to extract.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// Replace files that already exist in the destination.
    #[arg(long)]
    pub overwrite: bool,
    /// Keep permission bits exactly (no umask; set-id bits too when root).
    #[arg(short = 'p', long)]
    pub preserve_permissions: bool,
    /// Do not restore owners even when running as root.
    #[arg(long)]
    pub no_same_owner: bool,
    /// Create device nodes, FIFOs and sockets instead of skipping them.
    #[arg(long)]
    pub special_files: bool,
    /// Skip symbolic links that are absolute or lead outside the destination.
    #[arg(long)]
    pub safe_links: bool,
    /// Fail instead of skipping entries with unusable names.
    #[arg(long)]
    pub strict: bool,
    /// Most bytes to write (default: 4 x the image size + 1 GiB).
    #[arg(long)]
    pub max_bytes: Option<u64>,
    /// Print a JSON report of what was extracted.
    #[arg(long)]
    pub json: bool,
}

/// Runs `extract`.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let img = open_image(&a.image)?;
    let view = a.view.into();
    let mut opts = ExtractOptions::default();
    opts.overwrite = a.overwrite;
    opts.preserve_permissions = a.preserve_permissions;
    opts.same_owner = if a.no_same_owner { Some(false) } else { None };
    opts.special_files = a.special_files;
    opts.safe_links = a.safe_links;
    opts.strict = a.strict;
    opts.max_bytes = a.max_bytes;
    // The total is only worth a second walk when a bar will be drawn.
    let total = if !cli.quiet && std::io::stderr().is_terminal() {
        img.walk(view)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type == isoforge::FileType::File)
            .map(|e| e.size)
            .sum()
    } else {
        0
    };
    let bar = bytes_bar(total, cli.quiet, "extracting");
    let report = extract(&img, view, &a.dest, &a.paths, &opts, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    if !cli.quiet {
        for w in &report.warnings {
            eprintln!("isoforge: warning: {w}");
        }
    }
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else if cli.verbose {
        writeln!(
            out,
            "{} files, {} directories, {} symbolic links, {} hard links, {} bytes",
            report.files, report.dirs, report.symlinks, report.hardlinks, report.bytes
        )?;
    }
    Ok(Outcome::Ok)
}
