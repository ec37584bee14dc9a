//! `isoforge diff`: what differs between two images.

use std::io::Write;
use std::path::PathBuf;

use isoforge::diff::{diff, DiffOptions, FileChange};

use crate::args::Cli;
use crate::commands::{open_image, Outcome, ViewArg};

/// Options of `diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first (reference) image.
    pub a: PathBuf,
    /// The second image.
    pub b: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Which name space's trees to compare.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// Ignore where blocks lie: addresses, sizes, the boot catalog's bytes
    /// and the boot information patched into boot images (for comparing an
    /// image with a remastered copy).
    #[arg(long)]
    pub ignore_layout: bool,
}

fn short(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

/// Runs `diff`: exit 0 when the images are the same, 1 when they differ.
pub fn run(_cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let (ia, ib) = (open_image(&a.a)?, open_image(&a.b)?);
    let mut opts = DiffOptions::default();
    opts.view = a.view.into();
    opts.ignore_layout = a.ignore_layout;
    let r = diff(&ia, &ib, &opts)?;
    if a.json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({ "identical": r.is_empty(), "differences": r }),
        )?;
        writeln!(out)?;
    } else {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        for (section, changes) in [
            ("descriptor", &r.descriptors),
            ("boot", &r.boot),
            ("system-area", &r.system_area),
        ] {
            for c in changes {
                writeln!(out, "{section} {}: {} -> {}", c.field, opt(&c.a), opt(&c.b))?;
            }
        }
        for c in &r.files {
            match c {
                FileChange::Added { path, kind } => writeln!(out, "+ {path} ({kind:?})")?,
                FileChange::Removed { path, kind } => writeln!(out, "- {path} ({kind:?})")?,
                FileChange::Type { path, a, b } => writeln!(out, "T {path}: {a:?} -> {b:?}")?,
                FileChange::Content {
                    path,
                    a_size,
                    b_size,
                    a_sha256,
                    b_sha256,
                } => writeln!(
                    out,
                    "M {path}: content {a_size} bytes sha256 {}.. -> {b_size} bytes sha256 {}..",
                    short(a_sha256),
                    short(b_sha256)
                )?,
                FileChange::Metadata { path, field, a, b } => {
                    writeln!(out, "m {path}: {field} {a} -> {b}")?
                }
            }
        }
        if r.is_empty() {
            writeln!(out, "identical")?;
        }
    }
    Ok(if r.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
