//! The library's error type.

use std::fmt;
use std::io;

use isoforge_format::FormatError;

/// What went wrong, in a form the CLI maps to exit status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing failed.
    #[error("I/O error{}: {source}", offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    Io {
        /// The underlying error.
        #[source]
        source: io::Error,
        /// Where in the image, if the error came from reading it.
        offset: Option<u64>,
    },
    /// The image is malformed.
    #[error("{0}")]
    Corrupt(Corrupt),
    /// The image is valid but uses something not handled.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A safety limit was reached.
    #[error("limit exceeded: {what} ({value} > {limit}); the image is malformed or hostile")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The value reached.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// No such path in the image.
    #[error("no such file or directory in the image: {0}")]
    NotFound(String),
    /// A path component is not a directory.
    #[error("not a directory in the image: {0}")]
    NotADirectory(String),
    /// The caller asked for something invalid.
    #[error("{0}")]
    InvalidInput(String),
}

/// A malformed structure: which one, where, and what is wrong with it.
#[derive(Debug, Clone)]
pub struct Corrupt {
    structure: &'static str,
    offset: u64,
    kind: CorruptKind,
}

#[derive(Debug, Clone, PartialEq)]
enum CorruptKind {
    Format(FormatError),
    Message(String),
}

impl Corrupt {
    /// The structure at fault ("directory record", "boot catalog", ...).
    pub fn structure(&self) -> &'static str {
        self.structure
    }
    /// The byte offset in the image where the structure starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// The same finding placed at another offset (for a structure found
    /// through another that knows where it is).
    pub(crate) fn with_offset(mut self, offset: u64) -> Corrupt {
        self.offset = offset;
        self
    }
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed {} at byte {} (sector {}): ",
            self.structure,
            self.offset,
            self.offset / 2048
        )?;
        match &self.kind {
            CorruptKind::Format(e) => write!(f, "{e}"),
            CorruptKind::Message(m) => f.write_str(m),
        }
    }
}

impl Error {
    /// A malformed structure reported by the format layer.
    pub fn format(structure: &'static str, offset: u64, e: FormatError) -> Error {
        Error::Corrupt(Corrupt {
            structure,
            offset,
            kind: CorruptKind::Format(e),
        })
    }
    /// A malformed structure described in words.
    pub fn corrupt(structure: &'static str, offset: u64, msg: impl Into<String>) -> Error {
        Error::Corrupt(Corrupt {
            structure,
            offset,
            kind: CorruptKind::Message(msg.into()),
        })
    }
    /// An I/O error at an image offset.
    pub fn io_at(source: io::Error, offset: u64) -> Error {
        Error::Io {
            source,
            offset: Some(offset),
        }
    }
}

impl Error {
    /// The same error again, for one kept to be reported more than once
    /// (an I/O error keeps its kind and text).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { source, offset } => Error::Io {
                source: io::Error::new(source.kind(), source.to_string()),
                offset: *offset,
            },
            Error::Corrupt(c) => Error::Corrupt(c.clone()),
            Error::Unsupported(s) => Error::Unsupported(s.clone()),
            Error::LimitExceeded { what, value, limit } => Error::LimitExceeded {
                what,
                value: *value,
                limit: *limit,
            },
            Error::NotFound(s) => Error::NotFound(s.clone()),
            Error::NotADirectory(s) => Error::NotADirectory(s.clone()),
            Error::InvalidInput(s) => Error::InvalidInput(s.clone()),
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Error {
        Error::Io {
            source,
            offset: None,
        }
    }
}

/// Result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A tolerated departure from the specifications, found while reading. These
/// are findings, not errors: real images have them, and reading goes on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Byte offset of the structure concerned.
    pub offset: u64,
    /// What was found and how it was handled.
    pub message: String,
}
