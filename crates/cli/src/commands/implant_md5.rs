//! `isoforge implant-md5`: an isomd5sum-compatible MD5 tag, as `implantisomd5`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use isoforge::verify::md5_tag::{implant, ImplantOptions};
use isoforge::ReadAt;

use crate::args::Cli;
use crate::commands::Outcome;
use crate::progress::bytes_bar;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image, changed in place.
    pub image: PathBuf,
    /// Overwrite an application-use field that is already in use.
    #[arg(short, long)]
    pub force: bool,
    /// Mark the image as supported (`RHLISOSTATUS=1`).
    #[arg(long)]
    pub supported_iso: bool,
}

/// Runs the command.
pub fn run(cli: &Cli, args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let name = args.image.display().to_string();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&args.image)
        .with_context(|| name.clone())?;
    let size = ReadAt::size(&file).with_context(|| name.clone())?;
    let bar = bytes_bar(size, cli.quiet, "implant-md5");
    let progress = |n: u64| bar.set_position(n);
    let opts = ImplantOptions::default()
        .force(args.force)
        .supported(args.supported_iso);
    let tag = implant(&file, opts, Some(&progress)).with_context(|| name.clone())?;
    bar.finish_and_clear();
    if !cli.quiet {
        writeln!(out, "implanted MD5 {} into {name}", tag.md5)?;
        writeln!(
            out,
            "note: the implanted MD5 detects accidental corruption; it is not proof of authenticity"
        )?;
    }
    Ok(Outcome::Ok)
}
