//! One module per subcommand. Each has `Args` (its clap options) and
//! `run(cli, args, out) -> anyhow::Result<Outcome>`, so tests can capture its
//! output without spawning a process.

use std::io::Write;
use std::sync::Arc;

use isoforge::source::{is_remote, RemoteOptions, RemoteSource};
use isoforge::ReadAt;

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

/// How remote images (`http://`, `https://`, `s3://`) are reached.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Remote images (http://, https://, s3://)")]
pub struct RemoteArgs {
    /// Seconds to wait for a connection or an answer from the server.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Retries of a request after a broken connection or a server error
    /// (5xx), with doubling pauses.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// The S3-compatible server for s3:// images (path-style addressing);
    /// AWS_ENDPOINT_URL when not given, else AWS itself.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
}

/// The environment variable holding a bearer token for HTTP(S) images.
pub const TOKEN_VAR: &str = "ISOFORGE_HTTP_TOKEN";

/// The remote sources opened by this run, for `-v`'s request counts.
static REMOTES: std::sync::Mutex<Vec<Arc<RemoteSource>>> = std::sync::Mutex::new(Vec::new());

/// Requests and bytes of every remote image read, one line each.
pub fn remote_stats() -> Vec<String> {
    let Ok(list) = REMOTES.lock() else {
        return Vec::new();
    };
    list.iter()
        .map(|r| {
            let s = r.stats();
            format!(
                "{}: {} requests, {} bytes fetched of {}",
                r.location(),
                s.requests(),
                s.bytes(),
                r.size().unwrap_or(0)
            )
        })
        .collect()
}

/// Whether an image argument names a remote image (a URL) rather than a
/// local path.
pub fn is_remote_arg(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(is_remote)
}

/// Opens an image (a path or a URL) for reading.
pub fn open_image(
    path: &std::path::Path,
    remote: &RemoteArgs,
) -> anyhow::Result<isoforge::Image<Arc<dyn ReadAt>>> {
    use anyhow::Context;
    let src = open_source(path, remote)?;
    isoforge::Image::open(src).with_context(|| format!("{}", path.display()))
}

/// Opens the bytes of an image: a local file (a directory is refused in
/// words) or a remote object read in place.
pub fn open_source(path: &std::path::Path, remote: &RemoteArgs) -> anyhow::Result<Arc<dyn ReadAt>> {
    let Some(url) = path.to_str().filter(|p| is_remote(p)) else {
        return Ok(Arc::new(open_file(path)?));
    };
    let token = std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty());
    let netrc = match token {
        Some(_) => None,
        None => isoforge::source::netrc::Netrc::from_env()
            .map_err(|e| anyhow::anyhow!("cannot read the .netrc file: {e}"))?,
    };
    let endpoint = remote.s3_endpoint.clone().or_else(|| {
        std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|e| !e.is_empty())
    });
    let opts = RemoteOptions::default()
        .timeout(std::time::Duration::from_secs(remote.timeout))
        .retries(remote.retries)
        .bearer_token(token)
        .netrc(netrc)
        .s3_endpoint(endpoint);
    // The error names the URL itself.
    let src = Arc::new(RemoteSource::open(url, &opts)?);
    if let Ok(mut list) = REMOTES.lock() {
        list.push(Arc::clone(&src));
    }
    Ok(src)
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
