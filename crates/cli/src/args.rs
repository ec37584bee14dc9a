//! Command-line arguments (clap derive). Each command's own options live next
//! to its code in `commands/`.

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use crate::commands;

/// Shown after the top-level help.
const EXAMPLES: &str = "\
Examples:
  isoforge create -o disc.iso -V MY_DISC ./tree     make an image of a directory
  isoforge ls -l -R disc.iso                        list every file with attributes
  isoforge verify disc.iso --sums SHA256SUMS --signature SHA256SUMS.gpg --keyring keys.gpg
                                                    check a download against its signed sums";

/// isoforge reads, creates, checks and changes ISO 9660 disc images (with
/// Joliet, Rock Ridge, El Torito boot records and hybrid MBR/GPT layouts).
#[derive(Debug, Parser)]
#[command(
    name = "isoforge",
    version,
    about = "isoforge reads, creates, checks and changes ISO 9660 disc images.",
    long_about = None,
    after_help = EXAMPLES,
    // `-V` is the volume id of `create` and `modify`, as in mkisofs: the
    // version is `--version` only, so no global flag takes it.
    disable_version_flag = true
)]
pub struct Cli {
    /// No progress, warnings or status lines: only errors, and the data a
    /// command was asked for (ls, cat, info, checksum, --json).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more detail (diagnostics, skipped entries).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is
    /// set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
    /// Print the version.
    #[arg(long, action = ArgAction::Version)]
    pub version: Option<bool>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
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
    /// Compute digests of images in one read each, in `sha256sum` format.
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
    /// The mkisofs language (xorriso -as mkisofs, genisoimage): `isoforge
    /// mkisofs -help` lists its options. The binary speaks it too when
    /// called as mkisofs, genisoimage, xorrisofs or xorriso (see
    /// install-links).
    Mkisofs(crate::mkisofs::MkisofsArgs),
    /// Make links named mkisofs, genisoimage, xorrisofs and xorriso to this
    /// binary in a directory, for build scripts that run those programs.
    #[command(name = "install-links")]
    InstallLinks(crate::mkisofs::links::Args),
    /// Create a cloud-init NoCloud seed image (label cidata), its files
    /// checked, or inspect one.
    Seed(commands::seed::Args),
    /// Mount an image as a read-only file system (FUSE): in the background
    /// once the mount is ready, or with --foreground until unmounted.
    Mount(commands::mount::Args),
    /// Unmount an image mounted by `isoforge mount` (as `fusermount3 -u`).
    Umount(commands::mount::UmountArgs),
    /// Print a shell completion script.
    Completions(commands::shell::CompletionArgs),
    /// Print the manual page (roff), e.g. `isoforge man | man -l -`.
    Man(commands::shell::ManArgs),
    /// Print the version.
    Version,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::CommandFactory;

    use super::*;

    /// Every short flag of every (sub)command, by command path.
    fn shorts(cmd: &clap::Command, path: String, out: &mut BTreeMap<String, Vec<(char, String)>>) {
        let mut mine: Vec<(char, String)> = Vec::new();
        for a in cmd.get_arguments() {
            let id = a.get_id().to_string();
            for c in a
                .get_short()
                .into_iter()
                .chain(a.get_all_short_aliases().unwrap_or_default())
            {
                mine.push((c, id.clone()));
            }
        }
        out.insert(path.clone(), mine);
        for sub in cmd.get_subcommands() {
            shorts(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn no_top_level_short_flag_shadows_a_subcommand_flag() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut all = BTreeMap::new();
        shorts(&cmd, "isoforge".into(), &mut all);
        let top: Vec<(char, String)> = all["isoforge"].clone();
        // Short flags of the top level: the global ones are repeated in every
        // subcommand with the same meaning; any other would take a letter a
        // subcommand uses when typed before the subcommand name.
        for (path, flags) in &all {
            if path == "isoforge" {
                continue;
            }
            for (c, id) in flags {
                if let Some((_, top_id)) = top.iter().find(|(t, _)| t == c) {
                    assert_eq!(
                        top_id, id,
                        "-{c} means {top_id} before the subcommand but {id} in `{path}`"
                    );
                }
            }
        }
        // The mkisofs letters stay free for the subcommands that use them.
        assert!(top.iter().all(|(c, _)| *c != 'V'), "{top:?}");
        assert!(all["isoforge create"]
            .iter()
            .any(|(c, id)| *c == 'V' && id == "volume_id"));
        assert!(all["isoforge modify"]
            .iter()
            .any(|(c, id)| *c == 'V' && id == "volume_id"));
    }

    #[test]
    fn the_parser_is_consistent() {
        Cli::command().debug_assert();
    }
}
