//! The error line: each cause once, library errors worded with the flag the
//! user gave (or can give), and a hint saying which flag changes the
//! outcome. The library names problems in terms of images and structures;
//! only this module knows the command line.

use isoforge::error::{FieldError, FieldProblem, Refusal, Reserved, TextField, VerifyInput};
use isoforge::source::RemoteError;
use isoforge::Error;

use crate::args::{Cli, Command};
use crate::style::Paint;

/// The whole error line for `e`, without a trailing newline.
pub fn error_line(cli: &Cli, e: &anyhow::Error) -> String {
    let prefix = Paint::stderr(cli).alarm("isoforge:");
    format!("{prefix} {}", error_text(cli, e))
}

/// The message: a reworded library error, or the cause chain with each
/// cause once, then a hint.
pub fn error_text(cli: &Cli, e: &anyhow::Error) -> String {
    // A remote image's fault names its URL and says what the server did;
    // the layers it passed through add nothing.
    if let Some(r) = e.chain().find_map(|c| isoforge::source::remote_error(c)) {
        let mut text = r.to_string();
        if let Some(h) = remote_hint(r) {
            text.push_str("; ");
            text.push_str(h);
        }
        return text;
    }
    let lib = e.chain().find_map(|c| c.downcast_ref::<Error>());
    if let Some(text) = lib.and_then(|l| reworded(&cli.command, l)) {
        return text;
    }
    let mut text = chain_once(e);
    if let Some(h) = lib.and_then(|l| hint(&cli.command, l)) {
        text.push_str("; ");
        text.push_str(&h);
    }
    text
}

/// The cause chain joined by `: `, leaving out any cause whose text is
/// already there (error types that print their source as well as return
/// it, `io::Error`s wrapped with the same text).
pub fn chain_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if t.is_empty() || text.contains(&t) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&t);
    }
    text
}

/// What the user can change when a remote image cannot be read.
fn remote_hint(e: &RemoteError) -> Option<&'static str> {
    Some(match e {
        RemoteError::Timeout { .. } => "--timeout sets the limit",
        RemoteError::Unauthorized { .. } | RemoteError::Forbidden { .. } => {
            "set ISOFORGE_HTTP_TOKEN to a bearer token, or put the host's login in ~/.netrc"
        }
        RemoteError::BadCredentials { .. } => {
            "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and --s3-endpoint)"
        }
        RemoteError::Connection { .. } | RemoteError::Server { .. } => {
            "--retries sets how often a request is tried again"
        }
        _ => return None,
    })
}

/// The flag that sets a descriptor text field.
fn field_flag(f: TextField) -> Option<&'static str> {
    Some(match f {
        TextField::VolumeId => "--volume-id",
        TextField::Publisher => "--publisher",
        TextField::Preparer => "--preparer",
        TextField::Application => "--application",
        TextField::SystemId => "--system-id",
        TextField::VolumeSetId => "--volume-set-id",
        _ => return None,
    })
}

/// Errors that are the user's input in other words.
fn reworded(cmd: &Command, e: &Error) -> Option<String> {
    match (cmd, e) {
        (Command::Create(_) | Command::Modify(_), Error::Field(f)) if !f.joliet => field_text(f),
        (Command::Verify(a), Error::VerifyInput(v)) => {
            let (what, path) = match v.input {
                VerifyInput::Sums => ("SUMS file", a.sums.as_deref()),
                VerifyInput::Signature => ("signature", a.signature.as_deref()),
                VerifyInput::Keyring => ("keyring", a.keyring.as_deref()),
                _ => return None,
            };
            Some(format!("{what} {} {}", path?.display(), v.problem))
        }
        _ => None,
    }
}

/// `--volume-id is 40 characters, the limit is 32`.
fn field_text(f: &FieldError) -> Option<String> {
    let flag = field_flag(f.field)?;
    Some(match &f.problem {
        FieldProblem::TooLong { len, limit } => {
            format!("{flag} is {len} characters, the limit is {limit}")
        }
        FieldProblem::Characters { invalid, allowed } => format!(
            "{flag} may hold only {} with --strict-names; it has {}",
            allowed.describe(),
            isoforge::error::quote_chars(invalid)
        ),
        _ => return None,
    })
}

/// What the user can change, for a library error met by a command.
fn hint(cmd: &Command, e: &Error) -> Option<String> {
    let h = match (cmd, e) {
        (Command::Extract(_), Error::Exists { .. }) => {
            "use --overwrite always (or newer) to replace, or --skip-existing to keep what is there"
        }
        (Command::Extract(_), Error::LimitExceeded { what, .. })
            if *what == isoforge::extract::BYTE_BUDGET =>
        {
            "raise the limit with --max-bytes"
        }
        (Command::Modify(_), Error::Refused(Refusal::CannotKeep(_))) => "--force drops it",
        (Command::ImplantMd5(_), Error::Refused(Refusal::ApplicationUseInUse)) => {
            "--force overwrites it"
        }
        (_, Error::Refused(Refusal::OnlyUdf(_))) => "try --view udf (or leave out --view)",
        (_, Error::Refused(Refusal::NoSuchView(v))) => match v {
            isoforge::View::RockRidge => "try --view joliet or --view iso9660",
            isoforge::View::Joliet => "try --view iso9660",
            isoforge::View::Udf => "try --view iso9660 (or leave out --view)",
            _ => "`isoforge info` lists the trees the image has",
        },
        (Command::Create(_), Error::Refused(r)) => match r {
            Refusal::PathTaken {
                by: Reserved::EspImage,
                ..
            } => "choose another --boot-efi path",
            Refusal::PathTaken {
                by: Reserved::BootCatalog,
                ..
            } => "choose another --boot-catalog path",
            Refusal::FileTooLarge { .. } => "use --iso-level 3 or 4",
            Refusal::TooDeep(_) => {
                "leave out --no-rock-ridge (Rock Ridge relocates such directories), or use --iso-level 4"
            }
            Refusal::NamesDoNotFit(_) => {
                "without --strict-names such names are changed to fit, with a warning each"
            }
            Refusal::NoHybridSignature(_) => {
                "use an isolinux.bin from ISOLINUX 3.72 or later, or --grub2-boot-info for GRUB's eltorito.img, or leave out --system-area"
            }
            Refusal::SystemAreaOverlapsGpt => {
                "use a 512-byte MBR template with --gpt, or leave out --gpt"
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(h.to_string())
}
