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
    /// The work was stopped through its [`Cancel`](crate::Cancel) token;
    /// its temporary files are removed.
    #[error("stopped before the end; temporary files removed")]
    Cancelled,
    /// The output's file system is full, or the user's quota on it is used
    /// up: the fault is the output's, not the input's.
    #[error("{} while writing {}", no_space_text(error), path.as_ref().map_or("the output".into(), |p| p.display().to_string()))]
    NoSpace {
        /// The output being written, when known.
        path: Option<std::path::PathBuf>,
        /// The error of the write.
        error: io::Error,
    },
    /// Extraction would replace something already in the destination, and
    /// was not asked to.
    #[error("{path} already exists in the destination{}", if *more > 0 { format!(" (and {more} more entries)") } else { String::new() })]
    Exists {
        /// The first such entry, relative to the destination.
        path: String,
        /// How many more there are.
        more: u64,
    },
}

fn no_space_text(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::QuotaExceeded {
        "disk quota exceeded"
    } else {
        "no space left on device"
    }
}

/// `e`, or [`Error::NoSpace`] (naming no path) when it is a failure for
/// want of room: only writes to the output fail so.
pub(crate) fn output_fault(e: Error) -> Error {
    match e {
        Error::Io { source, .. } if is_out_of_room(&source) => Error::NoSpace {
            path: None,
            error: source,
        },
        other => other,
    }
}

/// Whether a write failed for want of room: the device is full or the quota
/// is used up.
pub(crate) fn is_out_of_room(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
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
    /// The same error, but a failure for want of room on the output becomes
    /// [`Error::NoSpace`] naming `path` (the output as the user knows it).
    pub fn on_output(self, path: &std::path::Path) -> Error {
        match output_fault(self) {
            Error::NoSpace { path: None, error } => Error::NoSpace {
                path: Some(path.to_path_buf()),
                error,
            },
            other => other,
        }
    }
    /// An I/O error at an image offset.
    pub fn io_at(source: io::Error, offset: u64) -> Error {
        Error::Io {
            source,
            offset: Some(offset),
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
