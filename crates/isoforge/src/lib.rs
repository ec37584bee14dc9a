//! isoforge: read, write, verify and modify ISO 9660 disc images, with their
//! Joliet, Rock Ridge, El Torito and hybrid (MBR/GPT) extensions.
//!
//! The on-disk structures live in [`isoforge_format`]; this crate adds the
//! engine that reads them from any [`ReadAt`] source (a file, a byte slice,
//! later a remote object) without trusting a byte of it.
//!
//! ```no_run
//! use isoforge::{Image, View};
//! let img = Image::open(std::fs::File::open("debian.iso")?)?;
//! println!("volume: {}", img.info().volume_id);
//! for entry in img.walk(View::Auto)? {
//!     let entry = entry?;
//!     println!("{} {}", entry.path, entry.size);
//! }
//! let kernel = img.lookup("/install.amd/vmlinuz", View::Auto)?;
//! let mut out = Vec::new();
//! img.open_file(&kernel)?.copy_to(&mut out)?;
//! # Ok::<(), isoforge::Error>(())
//! ```
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)
)]
#![deny(missing_docs)]

pub mod cancel;
pub mod device;
pub mod diff;
pub mod error;
pub mod extract;
mod fsutil;
pub mod modify;
pub mod mount;
pub mod options;
pub mod read;
pub mod seed;
pub mod source;
pub mod verify;
pub mod write;

pub use cancel::Cancel;
pub use error::{Diagnostic, Error, Result};
pub use isoforge_format::time::IsoTime;
pub use options::{Limits, ReadOptions, Strictness, View};
pub use read::{Entry, FileType, Image, ImageInfo};
pub use source::{ReadAt, SeekSource};
