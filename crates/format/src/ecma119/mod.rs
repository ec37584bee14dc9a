//! ECMA-119 (ISO 9660) structures: volume descriptors, directory records and
//! path tables.

pub mod dirrec;
pub mod path_table;
pub mod volume;

pub use dirrec::{DirRecord, FileFlags};
pub use path_table::PathTableRecord;
pub use volume::{BootRecord, RawVolumeDescriptor, VolumeDescriptor, VolumeDescriptorKind};
