//! `isoforge extract`: extract files into a directory, safely.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use isoforge::extract::{extract, Existing, ExtractOptions};

use crate::args::Cli;
use crate::commands::{open_image, Outcome, RemoteArgs, ViewArg};
use crate::progress::bytes_bar;

/// Options of `extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a path, or an http://, https:// or s3:// URL.
    pub image: PathBuf,
    /// Paths in the image to extract (all when none are given).
    pub paths: Vec<String>,
    /// Destination directory (created if missing).
    #[arg(short = 'C', long = "directory", default_value = ".")]
    pub dest: PathBuf,
    /// Which name space to extract.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// What to do with files already in the destination: never (the default:
    /// everything is checked before a byte is written, and any existing file
    /// is an error), always (replace them; `--overwrite` alone means this),
    /// newer (replace those older than the image's).
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        num_args = 0..=1,
        default_value_t = Overwrite::Never,
        default_missing_value = "always"
    )]
    pub overwrite: Overwrite,
    /// Keep files already in the destination and extract the rest.
    #[arg(long, conflicts_with = "overwrite")]
    pub skip_existing: bool,
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
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// The `--overwrite` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Overwrite {
    /// Never: an existing file is an error, found before anything is written.
    Never,
    /// Always, through a temporary name renamed over the old file.
    Always,
    /// When the image's modification time is later than the file's.
    Newer,
}

/// Runs `extract`.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let img = open_image(&a.image, &a.remote)?;
    let view = a.view.into();
    let mut opts = ExtractOptions::default();
    opts.existing = match (a.skip_existing, a.overwrite) {
        (true, _) => Existing::Keep,
        (false, Overwrite::Never) => Existing::Refuse,
        (false, Overwrite::Always) => Existing::Replace,
        (false, Overwrite::Newer) => Existing::ReplaceOlder,
    };
    opts.cancel = crate::signals::install()?;
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
    let report = match extract(&img, view, &a.dest, &a.paths, &opts, &|n| bar.inc(n)) {
        Ok(r) => r,
        Err(e @ isoforge::Error::Exists { .. }) => anyhow::bail!(
            "{e}; use --overwrite always (or newer) to replace, or --skip-existing to keep what is there"
        ),
        Err(e) => return Err(e.into()),
    };
    bar.finish_and_clear();
    if !cli.quiet {
        for w in &report.warnings {
            eprintln!("isoforge: warning: {w}");
        }
    }
    if a.json {
        crate::render::write_json(out, serde_json::to_value(&report)?)?;
    } else if cli.verbose {
        writeln!(
            out,
            "{} files, {} directories, {} symbolic links, {} hard links, {} bytes; {} kept as they were",
            report.files,
            report.dirs,
            report.symlinks,
            report.hardlinks,
            report.bytes,
            report.skipped
        )?;
    }
    Ok(Outcome::Ok)
}
