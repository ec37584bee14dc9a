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
    /// A text field of a volume descriptor cannot be written as given.
    #[error("{0}")]
    Field(FieldError),
    /// A request that cannot be carried out as made; the variant says why,
    /// so that a caller can tell its user what to change.
    #[error("{0}")]
    Refused(Refusal),
    /// An input of a verification (SUMS file, signature, keyring) is not
    /// what it should be.
    #[error("{0}")]
    VerifyInput(VerifyInputError),
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

/// A text field of a primary or supplementary volume descriptor
/// (ECMA-119 8.4 and 8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TextField {
    /// System identifier (BP 9-40, a-characters).
    SystemId,
    /// Volume identifier (BP 41-72, d-characters).
    VolumeId,
    /// Volume set identifier (BP 191-318, d-characters).
    VolumeSetId,
    /// Publisher identifier (BP 319-446, a-characters).
    Publisher,
    /// Data preparer identifier (BP 447-574, a-characters).
    Preparer,
    /// Application identifier (BP 575-702, a-characters).
    Application,
    /// Copyright file identifier (BP 703-739).
    CopyrightFile,
    /// Abstract file identifier (BP 740-776).
    AbstractFile,
    /// Bibliographic file identifier (BP 777-813).
    BibliographicFile,
}

impl TextField {
    /// Every text field, in descriptor order.
    pub const ALL: [TextField; 9] = [
        TextField::SystemId,
        TextField::VolumeId,
        TextField::VolumeSetId,
        TextField::Publisher,
        TextField::Preparer,
        TextField::Application,
        TextField::CopyrightFile,
        TextField::AbstractFile,
        TextField::BibliographicFile,
    ];

    /// The field's name in words ("volume identifier").
    pub fn name(self) -> &'static str {
        match self {
            TextField::SystemId => "system identifier",
            TextField::VolumeId => "volume identifier",
            TextField::VolumeSetId => "volume set identifier",
            TextField::Publisher => "publisher identifier",
            TextField::Preparer => "data preparer identifier",
            TextField::Application => "application identifier",
            TextField::CopyrightFile => "copyright file identifier",
            TextField::AbstractFile => "abstract file identifier",
            TextField::BibliographicFile => "bibliographic file identifier",
        }
    }

    /// Size of the field in bytes.
    pub fn bytes(self) -> usize {
        match self {
            TextField::SystemId | TextField::VolumeId => 32,
            TextField::CopyrightFile | TextField::AbstractFile | TextField::BibliographicFile => 37,
            _ => 128,
        }
    }

    /// The characters ECMA-119 allows in the field of a primary descriptor.
    pub fn charset(self) -> CharSet {
        match self {
            TextField::VolumeId | TextField::VolumeSetId => CharSet::D,
            TextField::CopyrightFile | TextField::AbstractFile | TextField::BibliographicFile => {
                CharSet::FileId
            }
            _ => CharSet::A,
        }
    }
}

/// A character repertoire of ECMA-119 (7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharSet {
    /// d-characters: `A`-`Z`, `0`-`9`, `_`.
    D,
    /// a-characters: the d-characters, space and `!"%&'()*+,-./:;<=>?`.
    A,
    /// A file identifier: d-characters with `.` and `;`.
    FileId,
}

impl CharSet {
    /// Whether `c` belongs to the set.
    pub fn contains(self, c: char) -> bool {
        let Ok(b) = u8::try_from(c) else {
            return false;
        };
        match self {
            CharSet::D => isoforge_format::strings::is_d_char(b),
            CharSet::A => isoforge_format::strings::is_a_char(b),
            CharSet::FileId => isoforge_format::strings::is_d_char(b) || b == b'.' || b == b';',
        }
    }

    /// The set in words.
    pub fn describe(self) -> &'static str {
        match self {
            CharSet::D => "d-characters (A-Z, 0-9 and _)",
            CharSet::A => "a-characters (A-Z, 0-9, _, space and !\"%&'()*+,-./:;<=>?)",
            CharSet::FileId => "d-characters (A-Z, 0-9 and _) with . and ;",
        }
    }
}

/// What is wrong with a descriptor text field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The text is longer than the field. Lengths count what the field
    /// holds: bytes in a primary descriptor, UCS-2 characters in a Joliet one.
    TooLong {
        /// Length of the text given.
        len: usize,
        /// Most the field holds.
        limit: usize,
    },
    /// Characters outside the field's set (checked under strict naming).
    Characters {
        /// The offending characters, each once, in order of appearance.
        invalid: Vec<char>,
        /// The set the field allows.
        allowed: CharSet,
    },
}

/// A descriptor text field that cannot be written as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Which field.
    pub field: TextField,
    /// True for the Joliet (supplementary) descriptor's copy of the field.
    pub joliet: bool,
    /// What is wrong.
    pub problem: FieldProblem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vd = if self.joliet {
            "Joliet volume descriptor"
        } else {
            "primary volume descriptor"
        };
        match &self.problem {
            FieldProblem::TooLong { len, limit } => write!(
                f,
                "the {} of the {vd} holds {limit} {unit}; the text given is {len}",
                self.field.name(),
                unit = if self.joliet { "characters" } else { "bytes" },
            ),
            FieldProblem::Characters { invalid, allowed } => write!(
                f,
                "the {} of the {vd} allows only {}; the text given has {}",
                self.field.name(),
                allowed.describe(),
                quote_chars(invalid)
            ),
        }
    }
}

/// `'a', 'b' and ' '`.
pub fn quote_chars(chars: &[char]) -> String {
    let q: Vec<String> = chars.iter().map(|c| format!("{c:?}")).collect();
    match q.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Something reserved for a path of the image being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reserved {
    /// The EFI System Partition image built from a host directory.
    EspImage,
    /// The El Torito boot catalog.
    BootCatalog,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Something of the image being changed that the new image cannot keep.
    CannotKeep(String),
    /// The image has no tree of this kind.
    NoSuchView(crate::options::View),
    /// An ISO 9660 tree of a volume that holds only a UDF file system.
    OnlyUdf(crate::options::View),
    /// The application-use field of the primary volume descriptor holds
    /// data already.
    ApplicationUseInUse,
    /// A path that the build needs for something it makes is taken by a
    /// file of the tree.
    PathTaken {
        /// The path.
        path: String,
        /// What needs it.
        by: Reserved,
    },
    /// A file larger than 4 GiB at an ISO level without multi-extent files.
    FileTooLarge {
        /// The file.
        path: String,
        /// The ISO level asked for.
        level: u8,
    },
    /// A directory nested deeper than eight levels in a plain ISO 9660
    /// tree without Rock Ridge to relocate it.
    TooDeep(String),
    /// Names that a name space cannot hold unchanged, under strict naming:
    /// one description per name.
    NamesDoNotFit(Vec<String>),
    /// A BIOS boot image that the MBR of the given system area cannot
    /// start: it has no isohybrid signature and no GRUB2 boot info.
    NoHybridSignature(String),
    /// The system area has data past its first 512 bytes, where a GPT goes.
    SystemAreaOverlapsGpt,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::CannotKeep(what) => write!(f, "{what}; the new image cannot keep it"),
            Refusal::NoSuchView(v) => match v {
                crate::options::View::RockRidge => {
                    f.write_str("this image has no Rock Ridge extensions")
                }
                crate::options::View::Joliet => f.write_str("this image has no Joliet tree"),
                crate::options::View::Enhanced => {
                    f.write_str("this image has no ISO 9660:1999 tree")
                }
                crate::options::View::Udf => f.write_str("this image has no UDF file system"),
                other => write!(f, "this image has no {other:?} tree"),
            },
            Refusal::OnlyUdf(_) => {
                f.write_str("this image has no ISO 9660 file system, only UDF")
            }
            Refusal::ApplicationUseInUse => f.write_str(
                "the application-use field of the primary volume descriptor is in use; not implanting",
            ),
            Refusal::PathTaken { path, by } => match by {
                Reserved::EspImage => write!(
                    f,
                    "{path} is in the tree already, where the EFI System Partition image goes"
                ),
                Reserved::BootCatalog => write!(
                    f,
                    "{path} is in the tree already, where the boot catalog goes"
                ),
            },
            Refusal::FileTooLarge { path, level } => write!(
                f,
                "{path} is larger than 4 GiB, which ISO level {level} cannot hold (levels 3 and 4 write multi-extent files)"
            ),
            Refusal::TooDeep(p) => write!(
                f,
                "{p} is nested deeper than 8 levels, which plain ISO 9660 cannot hold (Rock Ridge relocates such directories; ISO 9660:1999 allows them)"
            ),
            Refusal::NamesDoNotFit(names) => {
                write!(f, "names do not fit unchanged: {}", names.join("; "))
            }
            Refusal::NoHybridSignature(p) => write!(
                f,
                "{p} has no isohybrid signature (ISOLINUX 3.72 and later have one) and no GRUB2 boot info, so the MBR of the system area cannot boot it"
            ),
            Refusal::SystemAreaOverlapsGpt => f.write_str(
                "the system area has data past its first 512 bytes, where the GPT goes",
            ),
        }
    }
}

/// Which input of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyInput {
    /// The SUMS file.
    Sums,
    /// The detached signature.
    Signature,
    /// The keyring.
    Keyring,
}

impl VerifyInput {
    /// The input in words ("the keyring").
    pub fn name(self) -> &'static str {
        match self {
            VerifyInput::Sums => "the SUMS file",
            VerifyInput::Signature => "the signature",
            VerifyInput::Keyring => "the keyring",
        }
    }
}

/// A verification input that cannot be used, and why, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyInputError {
    /// Which input.
    pub input: VerifyInput,
    /// What is wrong with it ("is not an OpenPGP signature").
    pub problem: String,
}

impl fmt::Display for VerifyInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.input.name(), self.problem)
    }
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
    /// A verification input that cannot be used.
    pub fn verify_input(input: VerifyInput, problem: impl Into<String>) -> Error {
        Error::VerifyInput(VerifyInputError {
            input,
            problem: problem.into(),
        })
    }
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
            Error::Cancelled => Error::Cancelled,
            Error::NoSpace { path, error } => Error::NoSpace {
                path: path.clone(),
                error: io::Error::new(error.kind(), error.to_string()),
            },
            Error::Exists { path, more } => Error::Exists {
                path: path.clone(),
                more: *more,
            },
            Error::Field(f) => Error::Field(f.clone()),
            Error::Refused(r) => Error::Refused(r.clone()),
            Error::VerifyInput(v) => Error::VerifyInput(v.clone()),
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
