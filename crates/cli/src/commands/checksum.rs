//! `isoforge checksum`: digests of images in one read each, in the format
//! of `sha256sum` and its siblings, so that the output checks with
//! `sha256sum -c`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use isoforge::verify::{digest, digest_reader, Algo, Digests};
use isoforge::ReadAt;

use crate::args::Cli;
use crate::commands::{open_source, Outcome, RemoteArgs};
use crate::progress::bytes_bar;
use crate::render::write_json;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images (or any files), paths or http://, https:// or s3:// URLs;
    /// `-` reads standard input.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Algorithms, comma-separated, in output order: sha256, sha512, sha1, md5.
    #[arg(long, value_delimiter = ',', default_value = "sha256", value_parser = parse_algo)]
    pub algo: Vec<Algo>,
    /// Print `{"schema": 1, "files": [{"file", "size", "digests": {"sha256": ...}}]}` instead.
    #[arg(long)]
    pub json: bool,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
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

/// Digests of one image, or of standard input for `-`.
fn digests_of(
    cli: &Cli,
    path: &Path,
    algos: &[Algo],
    remote: &RemoteArgs,
) -> anyhow::Result<Digests> {
    if path.as_os_str() == "-" {
        let stdin = std::io::stdin();
        return digest_reader(stdin.lock(), algos, None).context("standard input");
    }
    let file = open_source(path, remote)?;
    let size = ReadAt::size(&file).with_context(|| format!("{}", path.display()))?;
    let bar = bytes_bar(size, cli.quiet, "checksum");
    let progress = |n: u64| bar.set_position(n);
    let d = digest(&file, algos, Some(&progress)).with_context(|| format!("{}", path.display()))?;
    bar.finish_and_clear();
    Ok(d)
}

/// Runs the command: for each image in turn, one line per algorithm in the
/// order given, exactly what the matching `*sum` tool prints. Standard
/// input is named `-`, as the `*sum` tools name it.
pub fn run(cli: &Cli, args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    if args.images.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        anyhow::bail!("standard input (-) can be read only once");
    }
    let mut files = Vec::new();
    for path in &args.images {
        let d = digests_of(cli, path, &args.algo, &args.remote)?;
        if args.json {
            let mut digests = serde_json::Map::new();
            for a in &args.algo {
                digests.insert(a.name().into(), d.hex(*a).unwrap_or_default().into());
            }
            files.push(serde_json::json!({
                "file": path.to_string_lossy(),
                "size": d.size,
                "digests": digests,
            }));
        } else {
            for a in &args.algo {
                writeln!(out, "{}", sum_line(&d.hex(*a).unwrap_or_default(), path))?;
            }
            // Each image's lines as soon as they are known.
            out.flush()?;
        }
    }
    if args.json {
        write_json(out, serde_json::json!({ "files": files }))?;
    }
    Ok(Outcome::Ok)
}
