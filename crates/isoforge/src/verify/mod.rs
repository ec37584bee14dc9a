//! Integrity checks: digests, SUMS files and their OpenPGP signatures, and the
//! isomd5sum tag.
//!
//! Every check that ran is returned as data in a [`VerifyReport`]; `Err` means
//! an input could not be read or parsed (a missing file, a garbage keyring).
//!
//! ```no_run
//! use isoforge::verify::{digest, Algo};
//! let f = std::fs::File::open("debian.iso")?;
//! let d = digest(&f, &[Algo::Sha256, Algo::Md5], None)?;
//! println!("{}", d.hex(Algo::Sha256).unwrap_or_default());
//! # Ok::<(), isoforge::Error>(())
//! ```

use std::fmt;

use crate::error::{Error, Result, VerifyInput};
use crate::source::ReadAt;

pub mod digest;
mod md5;
pub mod md5_tag;
pub mod sig;
pub mod sums;

pub use digest::{digest, digest_reader, Digests};

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
    /// SHA-1 (integrity only; collisions are practical).
    Sha1,
    /// MD5 (integrity only; collisions are practical).
    Md5,
}

impl Algo {
    /// Every algorithm, in the order `checksum` uses by default.
    pub const ALL: [Algo; 4] = [Algo::Sha256, Algo::Sha512, Algo::Sha1, Algo::Md5];

    /// Lower-case name as used on the command line and in JSON (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
            Algo::Sha1 => "sha1",
            Algo::Md5 => "md5",
        }
    }

    /// Parses a name such as `sha256`, `SHA-256` or `MD5`.
    pub fn from_name(s: &str) -> Option<Algo> {
        let n: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        match n.as_str() {
            "sha256" => Some(Algo::Sha256),
            "sha512" => Some(Algo::Sha512),
            "sha1" => Some(Algo::Sha1),
            "md5" => Some(Algo::Md5),
            _ => None,
        }
    }

    /// Length of the digest in hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algo::Sha256 => 64,
            Algo::Sha512 => 128,
            Algo::Sha1 => 40,
            Algo::Md5 => 32,
        }
    }

    /// The algorithm whose hex digest has this length.
    pub fn from_hex_len(len: usize) -> Option<Algo> {
        Algo::ALL.into_iter().find(|a| a.hex_len() == len)
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a check held.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It held.
    Ok,
    /// It did not; see the check's detail.
    Failed,
}

/// One check and its outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// What was checked (`sha256`, `signature`, `sums`, `implanted-md5`).
    pub name: String,
    /// Whether it held.
    pub status: Status,
    /// What was found, or why it failed.
    pub detail: String,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
        }
    }
    fn failed(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Failed,
            detail: detail.into(),
        }
    }
    /// True when the check held.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// The outcome of [`verify`]: every check that ran, in order.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// The checks.
    pub checks: Vec<Check>,
    /// The key that made a good signature over the SUMS file, if one did.
    pub signer: Option<sig::Signer>,
    /// Remarks that are not failures (for example, a SUMS signature that was not checked).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// True when at least one check ran and every check held.
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(Check::is_ok)
    }
}

/// A SUMS file and, optionally, what authenticates it.
#[derive(Debug, Clone, Default)]
pub struct SumsInput {
    /// The SUMS file as read (plain, or clear-signed).
    pub text: Vec<u8>,
    /// A detached signature over `text` (binary or armored).
    pub signature: Option<Vec<u8>>,
    /// Public keys trusted to sign it (binary or armored, one or more keys).
    pub keyring: Option<Vec<u8>>,
}

/// What [`verify`] should check.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyRequest {
    /// Digests the image must have: algorithm and expected hex.
    pub expected: Vec<(Algo, String)>,
    /// A SUMS file to take the expected digest from.
    pub sums: Option<SumsInput>,
    /// The name to look up in the SUMS file (normally the image's file name).
    pub name: String,
    /// Check the isomd5sum tag in the primary volume descriptor.
    pub implanted_md5: bool,
}

impl VerifyRequest {
    /// A request that checks nothing yet; `name` is looked up in a SUMS file.
    pub fn new(name: impl Into<String>) -> VerifyRequest {
        VerifyRequest {
            name: name.into(),
            ..VerifyRequest::default()
        }
    }
    /// Adds an expected digest.
    pub fn expect(mut self, algo: Algo, hex: impl Into<String>) -> VerifyRequest {
        self.expected.push((algo, hex.into()));
        self
    }
    /// Sets the SUMS file.
    pub fn sums(mut self, sums: SumsInput) -> VerifyRequest {
        self.sums = Some(sums);
        self
    }
    /// Asks for the implanted MD5 check.
    pub fn implanted_md5(mut self, on: bool) -> VerifyRequest {
        self.implanted_md5 = on;
        self
    }
}

/// Runs every requested check, reading the image once.
///
/// The SUMS file's signature is checked before its lines are used; with a
/// clear-signed file only the signed text is parsed. A SUMS line is only
/// taken for `req.name` itself, never for another path.
pub fn verify<S: ReadAt + ?Sized>(
    src: &S,
    req: &VerifyRequest,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut expected: Vec<(String, Algo, String)> = Vec::new();
    for (algo, hex) in &req.expected {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != algo.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidInput(format!(
                "expected {algo} digest must be {} hex digits, got {:?}",
                algo.hex_len(),
                hex
            )));
        }
        expected.push((algo.name().to_string(), *algo, hex));
    }

    if let Some(sums) = &req.sums {
        sums_checks(sums, &req.name, &mut report, &mut expected)?;
    }

    let tag_plan = if req.implanted_md5 {
        match md5_tag::plan_check(src)? {
            Ok(plan) => Some(plan),
            Err(reason) => {
                report.checks.push(Check::failed("implanted-md5", reason));
                None
            }
        }
    } else {
        None
    };

    let mut algos: Vec<Algo> = expected.iter().map(|e| e.1).collect();
    algos.sort();
    algos.dedup();
    if !algos.is_empty() || tag_plan.is_some() {
        let (digests, tag) = digest::digest_with_tag(src, &algos, tag_plan, progress)?;
        for (label, algo, want) in &expected {
            let got = digests.hex(*algo).unwrap_or_default();
            if &got == want {
                report.checks.push(Check::ok(label.clone(), got));
            } else {
                report.checks.push(Check::failed(
                    label.clone(),
                    format!("expected {want}, got {got}"),
                ));
            }
        }
        if let Some(c) = tag {
            report.checks.push(c);
        }
    }
    Ok(report)
}

fn sums_checks(
    sums: &SumsInput,
    name: &str,
    report: &mut VerifyReport,
    expected: &mut Vec<(String, Algo, String)>,
) -> Result<()> {
    let clear = sig::is_cleartext(&sums.text);
    if sums.signature.is_some() && clear {
        return Err(Error::InvalidInput(
            "the SUMS file is clear-signed; do not also give a detached signature".into(),
        ));
    }
    let signed_text: String = match (&sums.keyring, &sums.signature, clear) {
        (None, Some(_), _) => {
            return Err(Error::InvalidInput(
                "a signature was given without a keyring to check it with".into(),
            ))
        }
        (Some(_), None, false) => {
            return Err(Error::InvalidInput(
                "a keyring was given but the SUMS file is neither clear-signed nor given a detached signature".into(),
            ))
        }
        (Some(keys), Some(sigbytes), false) => {
            let keyring = sig::Keyring::parse(keys)?;
            let outcome = sig::verify_detached(&sums.text, sigbytes, &keyring)?;
            if !sig_outcome(outcome, report) {
                return Ok(());
            }
            String::from_utf8_lossy(&sums.text).into_owned()
        }
        (Some(keys), None, true) => {
            let keyring = sig::Keyring::parse(keys)?;
            let (outcome, text) = sig::verify_cleartext(&sums.text, &keyring)?;
            if !sig_outcome(outcome, report) {
                return Ok(());
            }
            text
        }
        (None, None, true) => {
            report.notes.push(
                "the SUMS file is clear-signed but no keyring was given: its signature was not checked"
                    .into(),
            );
            sig::cleartext_body(&sums.text)?
        }
        (None, None, false) | (Some(_), Some(_), true) => {
            String::from_utf8_lossy(&sums.text).into_owned()
        }
    };
    let entries = sums::parse(&signed_text);
    if entries.is_empty() {
        return Err(Error::verify_input(
            VerifyInput::Sums,
            "has no checksum lines (HEX  NAME, or ALGO (NAME) = HEX)",
        ));
    }
    match sums::select(&entries, name) {
        Ok(chosen) => {
            for e in chosen {
                expected.push((format!("sums {}", e.algo), e.algo, e.hex.clone()));
            }
        }
        Err(why) => report.checks.push(Check::failed("sums", why.to_string())),
    }
    Ok(())
}

/// Records a signature outcome; true when the SUMS lines may be used.
fn sig_outcome(outcome: sig::SigOutcome, report: &mut VerifyReport) -> bool {
    match outcome {
        sig::SigOutcome::Good(signer) => {
            report.checks.push(Check::ok(
                "signature",
                format!("good signature by {}", signer.describe()),
            ));
            report.signer = Some(signer);
            true
        }
        sig::SigOutcome::Bad(reason) => {
            report.checks.push(Check::failed("signature", reason));
            report
                .notes
                .push("the SUMS file was not used because its signature failed".into());
            false
        }
    }
}
