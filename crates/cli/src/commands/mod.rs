//! One module per subcommand. Each has `Args` (its clap options) and
//! `run(cli, args, out) -> anyhow::Result<Outcome>`, so tests can capture its
//! output without spawning a process.

use std::io::Write;

use crate::args::{Cli, Command};

pub mod cat;
pub mod checksum;
pub mod create;
pub mod diff;
pub mod extract;
pub mod implant_md5;
pub mod info;
pub mod ls;
pub mod modify;
pub mod mount;
pub mod seed;
pub mod shell;
pub mod verify;
pub mod write;

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
        Command::Create(a) => create::run(cli, a, out),
        Command::Modify(a) => modify::run(cli, a, out),
        Command::Checksum(a) => checksum::run(cli, a, out),
        Command::Verify(a) => verify::run(cli, a, out),
        Command::Diff(a) => diff::run(cli, a, out),
        Command::ImplantMd5(a) => implant_md5::run(cli, a, out),
        Command::Mount(a) => mount::run(cli, a, out),
        Command::Umount(a) => mount::umount(cli, a, out),
        Command::Completions(a) => shell::completions(a, out),
        Command::Man(_) => shell::man(out),
        Command::Version => {
            writeln!(out, "isoforge {}", env!("CARGO_PKG_VERSION"))?;
            Ok(Outcome::Ok)
        }
        Command::Seed(a) => seed::run(cli, a, out),
        Command::Mkisofs(a) => {
            crate::mkisofs::run_subcommand(&a.args, cli.quiet)?;
            Ok(Outcome::Ok)
        }
        Command::InstallLinks(a) => crate::mkisofs::links::run(a, out),
        Command::Write(a) => write::run(cli, a, out),
    }
}

/// The `--view` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ViewArg {
    /// Rock Ridge, else UDF, else Joliet, else ISO 9660:1999, else plain
    /// ISO 9660; UDF first when the ISO 9660 tree is a placeholder or lacks
    /// what UDF has (`info` says which and why).
    #[default]
    Auto,
    /// Plain ISO 9660 names.
    Iso9660,
    /// The Joliet tree.
    Joliet,
    /// Rock Ridge names and attributes.
    Rockridge,
    /// The UDF file system.
    Udf,
}

impl From<ViewArg> for isoforge::View {
    fn from(v: ViewArg) -> Self {
        match v {
            ViewArg::Auto => isoforge::View::Auto,
            ViewArg::Iso9660 => isoforge::View::Iso9660,
            ViewArg::Joliet => isoforge::View::Joliet,
            ViewArg::Rockridge => isoforge::View::RockRidge,
            ViewArg::Udf => isoforge::View::Udf,
        }
    }
}

/// Opens an image file for reading.
pub fn open_image(path: &std::path::Path) -> anyhow::Result<isoforge::Image<std::fs::File>> {
    use anyhow::Context;
    let f = open_file(path)?;
    isoforge::Image::open(f).with_context(|| format!("{}", path.display()))
}

/// Opens a file that is read as an image (or any file's bytes); a
/// directory is refused in words.
pub fn open_file(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    if path.is_dir() {
        anyhow::bail!("{} is a directory, not an image file", path.display());
    }
    std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))
}
