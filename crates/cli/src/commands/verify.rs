//! `isoforge verify`: digests, a (signed) SUMS file and the implanted MD5,
//! all from one read of the image.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use std::os::unix::fs::FileTypeExt;

use anyhow::Context;
use isoforge::device::{compare, Difference, DirectSource, WriteOptions};
use isoforge::verify::{verify, Algo, Check, Status, SumsInput, VerifyReport, VerifyRequest};
use isoforge::ReadAt;

use crate::args::Cli;
use crate::commands::{open_source, Outcome, RemoteArgs};
use crate::progress::bytes_bar;
use crate::render::write_json;
use crate::style::Paint;

/// Largest SUMS, signature or keyring file read.
const MAX_AUX: u64 = 64 << 20;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a path, or an http://, https:// or s3:// URL.
    pub image: PathBuf,
    /// Expected SHA-256 (hex).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Expected SHA-512 (hex).
    #[arg(long, value_name = "HEX")]
    pub sha512: Option<String>,
    /// Expected SHA-1 (hex).
    #[arg(long, value_name = "HEX")]
    pub sha1: Option<String>,
    /// Expected MD5 (hex).
    #[arg(long, value_name = "HEX")]
    pub md5: Option<String>,
    /// A SUMS file (GNU or BSD style; may be clear-signed).
    #[arg(long, value_name = "FILE")]
    pub sums: Option<PathBuf>,
    /// The name to look up in the SUMS file (default: the image's file name).
    #[arg(long, requires = "sums")]
    pub name: Option<String>,
    /// A detached signature over the SUMS file (binary or armored).
    #[arg(long, value_name = "SIG", requires_all = ["sums", "keyring"])]
    pub signature: Option<PathBuf>,
    /// The public keys to trust (binary or armored).
    #[arg(long, value_name = "KEYS", requires = "sums")]
    pub keyring: Option<PathBuf>,
    /// Check the isomd5sum tag implanted in the image.
    #[arg(long)]
    pub implanted_md5: bool,
    /// Check only the first N bytes (the image's length, on a device that
    /// holds an image).
    #[arg(long, value_name = "N")]
    pub length: Option<u64>,
    /// Compare with this image byte for byte (the first N bytes with
    /// --length) and name the first differing byte.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["sha256", "sha512", "sha1", "md5", "sums", "implanted_md5"])]
    pub against: Option<PathBuf>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

fn read_small(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    if path.is_dir() {
        anyhow::bail!("{what} {} is a directory, not a file", path.display());
    }
    let f = File::open(path).with_context(|| format!("{what} {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_AUX + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("{what} {}", path.display()))?;
    if buf.len() as u64 > MAX_AUX {
        anyhow::bail!(
            "{what} {} is larger than {MAX_AUX} bytes, too large for one",
            path.display()
        );
    }
    Ok(buf)
}

/// Runs the command.
pub fn run(cli: &Cli, args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut req = VerifyRequest::new(name).implanted_md5(args.implanted_md5);
    for (algo, hex) in [
        (Algo::Sha256, &args.sha256),
        (Algo::Sha512, &args.sha512),
        (Algo::Sha1, &args.sha1),
        (Algo::Md5, &args.md5),
    ] {
        if let Some(h) = hex {
            req = req.expect(algo, h.clone());
        }
    }
    if let Some(s) = &args.sums {
        let sums = SumsInput {
            text: read_small(s, "SUMS file")?,
            signature: args
                .signature
                .as_deref()
                .map(|p| read_small(p, "signature"))
                .transpose()?,
            keyring: args
                .keyring
                .as_deref()
                .map(|p| read_small(p, "keyring"))
                .transpose()?,
        };
        req = req.sums(sums);
    }
    let image = args.image.display().to_string();
    let mut difference = None;
    let report = if let Some(reference) = &args.against {
        let (report, d) = against(cli, args, reference)?;
        difference = d;
        report
    } else {
        if req.expected.is_empty() && req.sums.is_none() && !req.implanted_md5 {
            anyhow::bail!(
                "nothing to verify: give --sha256/--sha512/--sha1/--md5, --sums, \
                 --implanted-md5 or --against"
            );
        }
        // A block device (a written stick) is read bypassing the page cache,
        // so the digest is of what the device holds, not of what the cache
        // remembers; so is a file when only its first bytes are checked.
        let is_device =
            std::fs::metadata(&args.image).is_ok_and(|m| m.file_type().is_block_device());
        let remote = crate::commands::is_remote_arg(&args.image);
        if remote && args.length.is_some() {
            anyhow::bail!("--length is for devices and local files, not for {image}");
        }
        let src: Box<dyn ReadAt> = if !remote && (is_device || args.length.is_some()) {
            Box::new(DirectSource::open(&args.image, args.length).with_context(|| image.clone())?)
        } else {
            Box::new(open_source(&args.image, &args.remote)?)
        };
        let size = src.size().with_context(|| image.clone())?;
        let bar = bytes_bar(size, cli.quiet, "verify");
        let progress = |n: u64| bar.set_position(n);
        let report = verify(&*src, &req, Some(&progress)).with_context(|| image.clone())?;
        bar.finish_and_clear();
        report
    };

    let paint = Paint::stdout(cli);
    let verdict = |ok: bool| {
        if ok {
            paint.good("OK")
        } else {
            paint.alarm("FAILED")
        }
    };
    if args.json {
        let mut v = serde_json::json!({
            "file": image,
            "ok": report.ok(),
            "checks": report.checks,
            "signer": report.signer,
            "notes": report.notes,
        });
        if let Some(d) = difference {
            v["difference"] = serde_json::to_value(d)?;
        }
        write_json(out, v)?;
    } else if !cli.quiet {
        for c in &report.checks {
            let (word, ok) = match c.status {
                Status::Ok => ("OK", true),
                Status::Failed => ("FAILED", false),
            };
            // Padded before colouring, so columns line up either way.
            let status = format!("{word:<7}").replacen(word, &verdict(ok), 1);
            writeln!(out, "{status}{}: {}", c.name, c.detail)?;
        }
        if let Some(s) = &report.signer {
            writeln!(out, "signed by key {}", s.fingerprint)?;
            if let Some(sub) = &s.subkey_fingerprint {
                writeln!(out, "  (with subkey {sub})")?;
            }
            if let Some(u) = &s.user_id {
                writeln!(out, "  user id: {u}")?;
            }
        }
        for n in &report.notes {
            writeln!(out, "note: {n}")?;
        }
        writeln!(out, "{image}: {}", verdict(report.ok()))?;
    }
    // Failed checks are errors: on standard error even with --quiet, each
    // naming the file at fault.
    let prefix = Paint::stderr(cli).alarm("isoforge:");
    let sums = args.sums.as_deref().map(|p| p.display().to_string());
    for c in report.checks.iter().filter(|c| !c.is_ok()) {
        match (c.name.as_str(), &sums) {
            ("signature" | "sums", Some(s)) => eprintln!("{prefix} SUMS file {s}: {}", c.detail),
            _ => eprintln!("{prefix} {image}: {} failed: {}", c.name, c.detail),
        }
    }
    Ok(if report.ok() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// `--against`: the target's first bytes compared with an image, reading
/// the target without the page cache.
fn against(
    cli: &Cli,
    args: &Args,
    reference: &Path,
) -> anyhow::Result<(VerifyReport, Option<Difference>)> {
    let name = reference.display().to_string();
    let img = File::open(reference).with_context(|| format!("cannot open {name}"))?;
    let len = match args.length {
        Some(l) => l,
        None => ReadAt::size(&img).with_context(|| name.clone())?,
    };
    let bar = bytes_bar(len, cli.quiet, "verify");
    let progress = |n: u64| bar.set_position(n);
    let opts = WriteOptions {
        progress: Some(&progress),
        ..WriteOptions::default()
    };
    let rb = compare(&args.image, &img, Some(len), &opts)
        .with_context(|| args.image.display().to_string())?;
    bar.finish_and_clear();
    let check = match (&rb.difference, rb.sha256_hex()) {
        (None, Some(sha)) => Check {
            name: "image".into(),
            status: Status::Ok,
            detail: format!("the first {len} bytes are {name} (sha256 {sha})"),
        },
        (d, _) => Check {
            name: "image".into(),
            status: Status::Failed,
            detail: match d {
                Some(d) => format!("{d} ({name})"),
                None => format!("differs from {name}"),
            },
        },
    };
    let mut report = VerifyReport::default();
    report.checks.push(check);
    if !rb.direct {
        report
            .notes
            .push("read through the page cache after dropping it (O_DIRECT was refused)".into());
    }
    Ok((report, rb.difference))
}
