//! On-disk structures of optical-disc images: ECMA-119 (ISO 9660) volume
//! descriptors, directory records and path tables, Joliet names, SUSP and
//! RRIP (Rock Ridge) entries, El Torito boot catalogs, ECMA-167 / OSTA UDF
//! descriptors, and the MBR, GPT and Apple partition maps found in the system
//! area of hybrid images.
//!
//! Every structure is parsed from a byte slice and encoded back into bytes in
//! the same module. Nothing here performs I/O, allocates on behalf of a length
//! read from disk, or panics on malformed input: parsers return
//! [`FormatError`], which names the structure and the field at fault.
//!
//! Fixed-layout records are `#[repr(C)]` zerocopy structs (the *raw* layer);
//! variable-length data is walked with the bounded [`cursor::Cursor`].
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
#![deny(missing_docs)]

pub mod apm;
pub mod cursor;
pub mod ecma119;
pub mod eltorito;
pub mod error;
pub mod gpt;
pub mod mbr;
pub mod num;
pub mod rrip;
pub mod strings;
pub mod susp;
pub mod time;
pub mod udf;

pub use error::FormatError;

/// Size of an ECMA-119 logical sector, in bytes. Volume descriptors, directory
/// records and the system area are laid out in units of this size whatever the
/// logical block size of the volume is.
pub const SECTOR: usize = 2048;
