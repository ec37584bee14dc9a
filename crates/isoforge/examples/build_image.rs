//! Builds an ISO 9660 image (with Joliet and Rock Ridge) from a host
//! directory, plus one file made in memory, with the library's `Builder`.
//!
//! ```text
//! cargo run --example build_image -- SOURCE_DIR OUT.iso [VOLUME_ID]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use isoforge::write::{BuildOptions, Builder, FileSource, Meta, Time};

/// Builds `out` from the contents of `source`, adds `/README.TXT` from
/// memory, and returns the image's size in bytes. The image is written
/// under a temporary name beside `out` and renamed into place when whole.
pub fn run(source: &Path, out: &Path, volume_id: &str) -> isoforge::Result<u64> {
    let mut opts = BuildOptions::default();
    opts.volume_id = volume_id.to_string();
    let mut b = Builder::new(opts);
    b.add_host("/", source)?;
    let readme: Arc<[u8]> = Arc::from(&b"Made with the isoforge Builder.\n"[..]);
    let meta = Meta {
        perm: 0o644,
        mtime: Time {
            secs: 1_700_000_000,
            nanos: 0,
        },
        ..Meta::default()
    };
    b.add_file("/README.TXT", FileSource::Bytes(readme), meta)?;
    // Every name and block is decided here, before any data is read.
    let plan = b.plan()?;
    for w in plan.warning_texts() {
        eprintln!("warning: {w}");
    }
    let tmp = PathBuf::from(format!("{}.part", out.display()));
    let written = std::fs::File::create(&tmp)
        .map_err(isoforge::Error::from)
        .and_then(|f| plan.write_to_file(&f, &|_| {}));
    match written {
        Ok(summary) => {
            isoforge::write::replace_file(&tmp, out)?;
            Ok(summary.bytes)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(source), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: build_image SOURCE_DIR OUT.iso [VOLUME_ID]");
        return ExitCode::from(2);
    };
    let label = args.get(2).map_or("EXAMPLE", String::as_str);
    match run(Path::new(source), Path::new(out), label) {
        Ok(n) => {
            println!("{out}: {n} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("build_image: {e}");
            ExitCode::from(2)
        }
    }
}
