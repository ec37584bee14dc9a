//! `isoforge checksum`: digests of a file in one read, in `sha256sum` format.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use isoforge::verify::{digest, Algo};
use isoforge::ReadAt;

use crate::args::Cli;
use crate::commands::Outcome;
use crate::progress::bytes_bar;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image (or any file).
    pub image: PathBuf,
    /// Algorithms, comma-separated, in output order: sha256, sha512, sha1, md5.
    #[arg(long, value_delimiter = ',', default_value = "sha256", value_parser = parse_algo)]
    pub algo: Vec<Algo>,
    /// Print `{"file", "size", "digests": {"sha256": ...}}` instead.
    #[arg(long)]
    pub json: bool,
}

/// Parses an algorithm name for clap.
pub fn parse_algo(s: &str) -> Result<Algo, String> {
    Algo::from_name(s)
        .ok_or_else(|| format!("unknown algorithm {s:?} (use sha256, sha512, sha1 or md5)"))
}

/// The file name as `sha256sum` prints it: a name with `\` or a newline is
/// escaped and the line starts with `\`.
pub fn sum_line(hex: &str, name: &Path) -> String {
    let name = name.to_string_lossy();
    if name.contains(['\\', '\n', '\r']) {
        let esc = name
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r");
        format!("\\{hex}  {esc}")
    } else {
        format!("{hex}  {name}")
    }
}

/// Runs the command: one line per algorithm, exactly what the matching
/// `*sum` tool prints, in the order given.
pub fn run(cli: &Cli, args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let file = File::open(&args.image).with_context(|| format!("{}", args.image.display()))?;
    let size = ReadAt::size(&file).with_context(|| format!("{}", args.image.display()))?;
    let bar = bytes_bar(size, cli.quiet, "checksum");
    let progress = |n: u64| bar.set_position(n);
    let d = digest(&file, &args.algo, Some(&progress))
        .with_context(|| format!("{}", args.image.display()))?;
    bar.finish_and_clear();
    if args.json {
        let mut digests = serde_json::Map::new();
        for a in &args.algo {
            digests.insert(a.name().into(), d.hex(*a).unwrap_or_default().into());
        }
        let v = serde_json::json!({
            "file": args.image.to_string_lossy(),
            "size": d.size,
            "digests": digests,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        for a in &args.algo {
            writeln!(
                out,
                "{}",
                sum_line(&d.hex(*a).unwrap_or_default(), &args.image)
            )?;
        }
    }
    Ok(Outcome::Ok)
}
