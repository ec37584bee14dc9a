//! Not built yet.

use std::io::Write;

use crate::args::Cli;
use crate::commands::Outcome;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image.
    pub image: std::path::PathBuf,
}

/// Runs the command.
pub fn run(_cli: &Cli, _args: &Args, _out: &mut dyn Write) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not available in this build yet")
}
