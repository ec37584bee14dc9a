//! `isoforge ls`: list a directory of an image.

use std::io::Write;
use std::path::PathBuf;

use crate::args::Cli;
use crate::commands::{open_image, Outcome, RemoteArgs, ViewArg};
use crate::render;

/// Options of `ls`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a path, or an http://, https:// or s3:// URL.
    pub image: PathBuf,
    /// Directory (or file) in the image to list.
    #[arg(default_value = "/")]
    pub path: String,
    /// List subdirectories recursively (prints full paths); -R works too.
    #[arg(short = 'r', long, visible_short_alias = 'R')]
    pub recursive: bool,
    /// Long format: mode, links, owner, group, size, time, name.
    #[arg(short = 'l', long)]
    pub long: bool,
    /// JSON: `{"schema": 1, "entries": [...]}`, one object per entry.
    #[arg(long)]
    pub json: bool,
    /// Which name space to list.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Runs `ls`.
pub fn run(_cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let img = open_image(&a.image, &a.remote)?;
    let view = a.view.into();
    let target = img.lookup(&a.path, view)?;
    let mut first = true;
    let mut line = Vec::with_capacity(256);
    let mut emit = |out: &mut dyn Write, e: &isoforge::Entry, name: &str| -> std::io::Result<()> {
        if a.json {
            if first {
                writeln!(out, "{{\"schema\": {}, \"entries\": [", render::SCHEMA)?;
            } else {
                out.write_all(b",\n")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &render::entry_json(e))?;
        } else if a.long {
            line.clear();
            render::long_line_into(&mut line, e, name);
            out.write_all(&line)?;
        } else {
            writeln!(out, "{name}")?;
        }
        Ok(())
    };
    if !target.is_dir() {
        emit(out, &target, &target.path)?;
    } else if a.recursive {
        for e in img.walk_from(&target, view)? {
            let e = e?;
            emit(out, &e, &e.path)?;
        }
    } else {
        for e in img.read_dir(&target, view)? {
            emit(out, &e, &e.name)?;
        }
    }
    if a.json {
        // Entries stream out as they are read; the object is closed here.
        if first {
            writeln!(out, "{{\"schema\": {}, \"entries\": []}}", render::SCHEMA)?;
        } else {
            out.write_all(b"\n]}\n")?;
        }
    }
    Ok(Outcome::Ok)
}
