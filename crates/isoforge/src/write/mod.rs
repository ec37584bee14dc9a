//! The image writer. A [`Builder`] collects the tree; [`Builder::plan`]
//! assigns names in every name space and the LBA of every block (so the image
//! size is known before a byte of data is read); [`Plan::write_to`] then
//! streams descriptors, path tables, directories and file data in LBA order,
//! in one pass, to any `Write`.

pub mod boot;
pub mod builder;
pub mod emit;
pub mod esp;
pub mod names;
pub mod plan;
mod readahead;
pub mod rockridge;
pub mod text;
pub mod times;

pub use crate::fsutil::replace_file;
pub use boot::{AppendedPartition, BootConfig, BootEmulation, BootImage, Grub2Partition};
pub use builder::{
    BuildOptions, Builder, FileSource, ImageData, Meta, NodeId, RrVersion, Time, VolumeText,
};
pub use emit::WriteSummary;
pub use isoforge_format::eltorito::Platform as BootPlatform;
pub use plan::Plan;
pub use times::source_date_epoch_from_env;
