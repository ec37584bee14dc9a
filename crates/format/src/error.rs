//! The error type of the format layer.

use core::fmt;

/// A structure could not be parsed. Small and `Copy`; the reader adds the byte
/// offset at which the structure was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes were available than the structure needs.
    Truncated {
        /// The structure or field being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A magic number or identifier did not match.
    BadMagic {
        /// The structure whose identifier was wrong.
        what: &'static str,
    },
    /// A field holds a value the specification does not allow here.
    BadValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u64,
    },
    /// A checksum over the structure did not match.
    BadChecksum {
        /// The structure.
        what: &'static str,
    },
    /// Bytes were left over after a structure that must fill its container.
    TrailingData {
        /// The structure.
        what: &'static str,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormatError::Truncated { what, need, have } => {
                write!(
                    f,
                    "{what} is truncated: needs {need} bytes, only {have} available"
                )
            }
            FormatError::BadMagic { what } => write!(f, "{what} has a wrong identifier"),
            FormatError::BadValue { what, value } => {
                write!(f, "{what} has an invalid value {value}")
            }
            FormatError::BadChecksum { what } => write!(f, "{what} checksum does not match"),
            FormatError::TrailingData { what } => write!(f, "{what} has trailing bytes"),
        }
    }
}

impl std::error::Error for FormatError {}

/// Result type of the format layer.
pub type Result<T> = core::result::Result<T, FormatError>;
