//! Extracts every file of an image into a directory, safely: nothing is
//! written outside it, no symbolic link is followed, existing files are
//! not replaced, and links that would lead outside it are skipped.
//!
//! ```text
//! cargo run --example extract_safely -- IMAGE.iso DEST_DIR
//! ```

use std::path::Path;
use std::process::ExitCode;

use isoforge::extract::{extract, ExtractOptions, ExtractReport};
use isoforge::{Image, View};

/// Extracts all of `image` (Rock Ridge names and attributes when present)
/// into `dest`, which is created if missing, and returns what was done.
///
/// # Security
///
/// The image is untrusted: names are checked, the destination is never
/// left through `..` or a link, and the bytes written are capped.
pub fn run(image: &Path, dest: &Path) -> isoforge::Result<ExtractReport> {
    let img = Image::open(std::fs::File::open(image)?)?;
    let mut opts = ExtractOptions::default();
    // Links whose target is absolute or climbs out of `dest` are skipped.
    opts.safe_links = true;
    let report = extract(&img, View::Auto, dest, &[], &opts, &|_| {})?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(report)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(image), Some(dest)) = (args.first(), args.get(1)) else {
        eprintln!("usage: extract_safely IMAGE.iso DEST_DIR");
        return ExitCode::from(2);
    };
    match run(Path::new(image), Path::new(dest)) {
        Ok(r) => {
            println!(
                "{} files, {} directories, {} links, {} bytes",
                r.files, r.dirs, r.symlinks, r.bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("extract_safely: {e}");
            ExitCode::from(2)
        }
    }
}
