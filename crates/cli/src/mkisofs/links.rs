//! `isoforge install-links DIR`: links named mkisofs, genisoimage,
//! xorrisofs and xorriso to this binary, so that build scripts which run
//! those programs (from a PATH that has DIR first, or by
//! `--xorriso=DIR/xorriso`) run isoforge.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::commands::Outcome;

/// Options of `install-links`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    isoforge install-links ~/.local/isoforge-bin && PATH=~/.local/isoforge-bin:$PATH grub-mkrescue -o out.iso dir\n  \
    (the same by hand: ln -s \"$(command -v isoforge)\" DIR/xorriso, and so on)")]
pub struct Args {
    /// Directory to put the links in (made if missing).
    pub dir: PathBuf,
    /// Replace files or links of those names that are there.
    #[arg(long)]
    pub force: bool,
}

/// Makes the links.
pub fn run(a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    std::fs::create_dir_all(&a.dir).with_context(|| format!("cannot make {}", a.dir.display()))?;
    for name in super::NAMES {
        let link = a.dir.join(name);
        if std::fs::symlink_metadata(&link).is_ok() {
            if !a.force {
                bail!("{} exists; give --force to replace it", link.display());
            }
            std::fs::remove_file(&link)
                .with_context(|| format!("cannot replace {}", link.display()))?;
        }
        std::os::unix::fs::symlink(&exe, &link)
            .with_context(|| format!("cannot make the link {}", link.display()))?;
        writeln!(out, "{} -> {}", link.display(), exe.display())?;
    }
    Ok(Outcome::Ok)
}
