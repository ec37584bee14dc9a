//! `isoforge cat`: write one file's contents to standard output.

use std::io::Write;
use std::path::PathBuf;

use crate::args::Cli;
use crate::commands::{open_image, Outcome, RemoteArgs, ViewArg};

/// Options of `cat`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a path, or an http://, https:// or s3:// URL.
    pub image: PathBuf,
    /// The file in the image.
    pub path: String,
    /// Which name space to look the path up in.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Runs `cat`.
pub fn run(_cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let img = open_image(&a.image, &a.remote)?;
    let e = img.lookup(&a.path, a.view.into())?;
    if e.is_dir() {
        anyhow::bail!(
            "{} is a directory; use `isoforge ls` or `isoforge extract`",
            e.path
        );
    }
    img.open_file(&e)?.copy_to(out)?;
    Ok(Outcome::Ok)
}
