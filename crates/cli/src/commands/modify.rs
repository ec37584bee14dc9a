//! `isoforge modify`: a new image from an existing one with changes, keeping
//! everything else (names, attributes, boot records, hybrid partitions).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use isoforge::modify::{modify, ModifyOptions};
use isoforge::source::ReadAt;

use crate::args::Cli;
use crate::commands::create::write_image;

use crate::commands::{open_source, Outcome, RemoteArgs};

/// Options of `modify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to change (it is not written to): a path, or an http://,
    /// https:// or s3:// URL.
    pub image: PathBuf,
    /// The new image (`-` for standard output).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Add a host file or directory: ISO_PATH=HOST_PATH (a file replaces one
    /// of the same name; a directory merges).
    #[arg(long, value_name = "ISO_PATH=HOST_PATH")]
    pub add: Vec<String>,
    /// Remove a file or directory (recursively).
    #[arg(long, value_name = "ISO_PATH")]
    pub rm: Vec<String>,
    /// Create a directory.
    #[arg(long, value_name = "ISO_PATH")]
    pub mkdir: Vec<String>,
    /// Move or rename: OLD=NEW.
    #[arg(long, value_name = "OLD=NEW")]
    pub mv: Vec<String>,
    /// New volume identifier.
    #[arg(short = 'V', long = "volume-id")]
    pub volume_id: Option<String>,
    /// New publisher identifier.
    #[arg(long)]
    pub publisher: Option<String>,
    /// New data preparer identifier.
    #[arg(long)]
    pub preparer: Option<String>,
    /// New application identifier.
    #[arg(long)]
    pub application: Option<String>,
    /// New system identifier.
    #[arg(long = "system-id")]
    pub system_id: Option<String>,
    /// Same input, same bytes: what is added gets no time later than
    /// SOURCE_DATE_EPOCH, or without it, than the newest time the image records.
    #[arg(long)]
    pub reproducible: bool,
    /// Drop what the new image cannot keep (an unknown system area, an Apple
    /// partition map, UDF) instead of refusing.
    #[arg(long)]
    pub force: bool,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

fn pair(s: &str, what: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => bail!("{what} {s:?} is not of the form A=B"),
    }
}

/// Runs `modify`.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    crate::commands::create::check_output(&a.output)?;
    let mut o = ModifyOptions::default();
    o.cancel = crate::signals::install()?;
    for s in &a.add {
        let (iso, host) = pair(s, "--add")?;
        o.add.push((iso, PathBuf::from(host)));
    }
    o.remove = a.rm.clone();
    o.mkdir = a.mkdir.clone();
    for s in &a.mv {
        o.rename.push(pair(s, "--mv")?);
    }
    o.volume_id = a.volume_id.clone();
    o.publisher = a.publisher.clone();
    o.preparer = a.preparer.clone();
    o.application = a.application.clone();
    o.system_id = a.system_id.clone();
    o.force = a.force;
    o.reproducible = a.reproducible;
    o.source_date_epoch = isoforge::write::source_date_epoch_from_env()?;
    let src: Arc<dyn ReadAt> = open_source(&a.image, &a.remote)?;
    let m = modify(src, &o)?;
    if !cli.quiet {
        for n in &m.notes {
            eprintln!("isoforge: {n}");
        }
    }
    write_image(cli, &m.plan, &a.output, out)?;
    Ok(Outcome::Ok)
}
