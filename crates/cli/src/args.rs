//! Command-line arguments (clap derive). Each command's own options live next
//! to its code in `commands/`.

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

/// Inspect, extract, create, verify and modify ISO 9660 disc images.
#[derive(Debug, Parser)]
#[command(name = "isoforge", version, about)]
pub struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more detail (diagnostics, skipped entries).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Color {
    /// On a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe an image: descriptors, extensions, boot records, partitions.
    Info(commands::info::Args),
    /// List files in an image.
    Ls(commands::ls::Args),
    /// Write one file of an image to standard output.
    Cat(commands::cat::Args),
    /// Extract files from an image into a directory.
    Extract(commands::extract::Args),
    /// Create an image from host directories and files.
    Create(commands::create::Args),
    /// Compute digests of an image in one read.
    Checksum(commands::checksum::Args),
    /// Verify an image against digests, a signed SUMS file or an implanted MD5.
    Verify(commands::verify::Args),
    /// Compare two images: descriptors, boot records, partitions, files.
    Diff(commands::diff::Args),
    /// A new image from an existing one with files added, removed or moved,
    /// keeping its boot records and hybrid partitions working.
    Modify(commands::modify::Args),
    /// Implant an isomd5sum-compatible MD5 into an image.
    #[command(name = "implant-md5")]
    ImplantMd5(commands::implant_md5::Args),
    /// Write an image to a USB stick, refusing system and mounted disks,
    /// and read it back without the page cache to prove it is there.
    Write(commands::write::Args),
}
