//! Makes a new image from an existing one with a host file added (or
//! replaced), keeping everything else as it was: names, attributes, boot
//! records and hybrid partitions.
//!
//! ```text
//! cargo run --example modify_image -- IMAGE.iso HOST_FILE /PATH/IN/IMAGE OUT.iso
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use isoforge::modify::{modify, ModifyOptions};
use isoforge::ReadAt;

/// Writes `out`: `image` with `host_file` at `iso_path`. The old image is
/// only read; the new one appears at `out` only when whole.
pub fn run(image: &Path, host_file: &Path, iso_path: &str, out: &Path) -> isoforge::Result<()> {
    let src: Arc<dyn ReadAt> = Arc::new(std::fs::File::open(image)?);
    let mut opts = ModifyOptions::default();
    opts.add
        .push((iso_path.to_string(), host_file.to_path_buf()));
    let m = modify(src, &opts)?;
    for n in &m.notes {
        eprintln!("note: {n}");
    }
    let tmp = PathBuf::from(format!("{}.part", out.display()));
    let written = std::fs::File::create(&tmp)
        .map_err(isoforge::Error::from)
        .and_then(|f| m.plan.write_to_file(&f, &|_| {}));
    match written {
        Ok(_) => Ok(isoforge::write::replace_file(&tmp, out)?),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, host, iso_path, out] = args.as_slice() else {
        eprintln!("usage: modify_image IMAGE.iso HOST_FILE /PATH/IN/IMAGE OUT.iso");
        return ExitCode::from(2);
    };
    match run(Path::new(image), Path::new(host), iso_path, Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modify_image: {e}");
            ExitCode::from(2)
        }
    }
}
