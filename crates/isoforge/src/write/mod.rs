//! The image writer.

pub mod names;
