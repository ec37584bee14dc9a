//! One module per subcommand. Each has `Args` (its clap options) and
//! `run(cli, args, out) -> anyhow::Result<Outcome>`, so tests can capture its
//! output without spawning a process.

use std::io::Write;

use crate::args::{Cli, Command};

pub mod cat;
pub mod checksum;
pub mod extract;
pub mod implant_md5;
pub mod info;
pub mod ls;
pub mod verify;

/// How a command that ran to completion came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything held: exit 0.
    Ok,
    /// A verification failed or images differ: exit 1.
    Failed,
}

/// Runs the chosen command.
pub fn run(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Info(a) => info::run(cli, a, out),
        Command::Ls(a) => ls::run(cli, a, out),
        Command::Cat(a) => cat::run(cli, a, out),
        Command::Extract(a) => extract::run(cli, a, out),
        Command::Checksum(a) => checksum::run(cli, a, out),
        Command::Verify(a) => verify::run(cli, a, out),
        Command::ImplantMd5(a) => implant_md5::run(cli, a, out),
    }
}
