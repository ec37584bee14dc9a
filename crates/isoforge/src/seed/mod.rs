//! cloud-init NoCloud seed images: the small ISO 9660 (or FAT) volume
//! labelled `cidata` that hands `user-data`, `meta-data` and optionally
//! `network-config` and `vendor-data` to cloud-init on first boot.
//!
//! [`prepare`] turns [`SeedOptions`] into a [`Seed`]: it fills in what is
//! missing (a `meta-data` with an `instance-id` derived from the other
//! files, a minimal `#cloud-config` for SSH keys, a password hash or a
//! host name) and checks every given file the way cloud-init will read it
//! ([`check::check_file`]). [`Seed::write_to`] then writes the image:
//!
//! - ISO 9660 level 1 with Rock Ridge (what Linux mounts) and Joliet (what
//!   Windows and cloudbase-init read), volume identifier `cidata`, the
//!   layout `cloud-localds` makes with genisoimage;
//! - or, with [`SeedFormat::Vfat`], a FAT volume labelled `CIDATA` in the
//!   boot sector and in the root directory (blkid, and so cloud-init,
//!   reads the latter), made by [`crate::write::esp::build_fat`].
//!
//! Every time in the image is [`SeedOptions::time`] and nothing depends on
//! host file attributes, so the same inputs give the same bytes.
//!
//! [`inspect`] reads a seed image back and reports what cloud-init will
//! see: the label, the files, the instance-id, and the same checks.

pub mod check;
mod inspect;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::write::esp::{build_fat, EspOptions};
use crate::write::{BuildOptions, Builder, FileSource, Meta, Plan, Time};

pub use check::{check_file, Finding, Severity};
pub use inspect::{inspect, SeedListing, SeedReport};

/// The ISO 9660 volume identifier (and blkid label) cloud-init looks for.
pub const ISO_LABEL: &str = "cidata";
/// The FAT volume label cloud-init looks for (FAT labels are upper case).
pub const FAT_LABEL: &str = "CIDATA";

/// The files cloud-init's NoCloud data source reads, at the root.
pub const SEED_FILES: [&str; 4] = ["user-data", "meta-data", "vendor-data", "network-config"];

/// The file system of a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SeedFormat {
    /// ISO 9660 with Rock Ridge and Joliet, labelled `cidata`.
    #[default]
    Iso9660,
    /// FAT, labelled `CIDATA`.
    Vfat,
}

/// A seed file given by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedInput {
    /// Where it came from (a host path), named in findings.
    pub origin: String,
    /// Its contents.
    pub data: Arc<[u8]>,
}

impl SeedInput {
    /// Contents `data` from `origin`.
    pub fn new(origin: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Self {
        SeedInput {
            origin: origin.into(),
            data: data.into(),
        }
    }
}

/// What goes into a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedOptions {
    /// `user-data`. Without it, one is generated: a `#cloud-config` setting
    /// the SSH keys, password hash and host name given, or an empty file
    /// (cloud-init needs the file to accept the seed).
    pub user_data: Option<SeedInput>,
    /// `meta-data`. Without it, one is generated with `instance-id` and,
    /// with [`SeedOptions::hostname`], `local-hostname`.
    pub meta_data: Option<SeedInput>,
    /// `network-config` (network configuration version 1 or 2).
    pub network_config: Option<SeedInput>,
    /// `vendor-data`.
    pub vendor_data: Option<SeedInput>,
    /// Host name for the generated meta-data (and user-data).
    pub hostname: Option<String>,
    /// instance-id for the generated meta-data. Default: `iid-` and 16 hex
    /// digits of a SHA-256 over every other file and the host name, so a
    /// changed seed is a new instance and an unchanged one is not.
    pub instance_id: Option<String>,
    /// SSH public keys (one per entry, as in `authorized_keys`) for the
    /// generated user-data.
    pub ssh_keys: Vec<String>,
    /// A crypt(3) hash of the default user's password, for the generated
    /// user-data.
    pub password_hash: Option<String>,
    /// Further files: (path in the seed, host file).
    pub files: Vec<(String, PathBuf)>,
    /// ISO 9660 or FAT.
    pub format: SeedFormat,
    /// Check the given files (on by default).
    pub check: bool,
    /// Every time recorded in the image, in seconds since the epoch
    /// (default 0; FAT clamps it to 1980).
    pub time: i64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            user_data: None,
            meta_data: None,
            network_config: None,
            vendor_data: None,
            hostname: None,
            instance_id: None,
            ssh_keys: Vec::new(),
            password_hash: None,
            files: Vec::new(),
            format: SeedFormat::default(),
            check: true,
            time: 0,
        }
    }
}

/// Where a file of the seed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedOrigin {
    /// Given by the caller (its origin text).
    Given(String),
    /// Generated from the options.
    Generated,
    /// A host file added with [`SeedOptions::files`].
    Host(PathBuf),
}

/// One file of a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// Path in the seed, without a leading `/`.
    pub path: String,
    /// Where it comes from.
    pub origin: SeedOrigin,
    data: Option<Arc<[u8]>>,
}

impl SeedFile {
    /// The contents, for files held in memory (all but host files).
    pub fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    fn source(&self) -> FileSource {
        match (&self.data, &self.origin) {
            (Some(d), _) => FileSource::Bytes(Arc::clone(d)),
            (None, SeedOrigin::Host(p)) => FileSource::Host(p.clone()),
            (None, _) => FileSource::Bytes(Arc::from(&b""[..])),
        }
    }
}

/// A seed ready to be written: its files and the findings of the checks.
#[derive(Debug, Clone)]
pub struct Seed {
    files: Vec<SeedFile>,
    findings: Vec<Finding>,
    instance_id: Option<String>,
    format: SeedFormat,
    time: i64,
}

impl Seed {
    /// The files, in the order they are written (by path).
    pub fn files(&self) -> &[SeedFile] {
        &self.files
    }

    /// What the checks found.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Whether a check found something cloud-init would ignore or fail on.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The instance-id cloud-init will see, when known: the generated one,
    /// or the one in the given meta-data.
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// The names of the files that were generated.
    pub fn generated(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|f| f.origin == SeedOrigin::Generated)
            .map(|f| f.path.as_str())
    }

    /// The image's file system.
    pub fn format(&self) -> SeedFormat {
        self.format
    }

    /// The write plan of the ISO 9660 image.
    pub fn plan_iso(&self) -> Result<Plan> {
        let opts = BuildOptions {
            volume_id: ISO_LABEL.into(),
            // 8.3 names in the plain tree, as genisoimage writes by
            // default: every reader takes them, and Rock Ridge and Joliet
            // carry the real names.
            level: 1,
            joliet: true,
            rock_ridge: true,
            source_date_epoch: Some(self.time),
            ..BuildOptions::default()
        };
        let t = Time {
            secs: self.time,
            nanos: 0,
        };
        let meta = Meta {
            perm: 0o644,
            uid: 0,
            gid: 0,
            mtime: t,
            atime: t,
            ctime: t,
        };
        let mut b = Builder::new(opts);
        for f in &self.files {
            b.add_file(&format!("/{}", f.path), f.source(), meta)?;
        }
        b.plan()
    }

    /// The FAT image.
    pub fn fat_image(&self) -> Result<Vec<u8>> {
        let files: Vec<(String, FileSource)> = self
            .files
            .iter()
            .map(|f| (f.path.clone(), f.source()))
            .collect();
        let opts = EspOptions {
            label: FAT_LABEL.into(),
            time: Time {
                secs: self.time,
                nanos: 0,
            },
            ..EspOptions::default()
        };
        build_fat(&files, &opts)
    }

    /// Writes the image.
    pub fn write_to<W: Write>(&self, mut out: W) -> Result<()> {
        match self.format {
            SeedFormat::Iso9660 => {
                self.plan_iso()?.write_to(&mut out, &|_| {})?;
            }
            SeedFormat::Vfat => {
                out.write_all(&self.fat_image()?)?;
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// Checks that `name` is a host name cloud-init can set: dot-separated
/// labels of ASCII letters, digits and `-` (not at either end), each of at
/// most 63 characters, 253 in all.
fn valid_hostname(name: &str) -> Result<()> {
    let bad = |why: &str| Error::InvalidInput(format!("host name {name:?}: {why}"));
    if name.is_empty() || name.len() > 253 {
        return Err(bad("must have 1 to 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each dot-separated part must have 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("only ASCII letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a part cannot start or end with '-'"));
        }
    }
    Ok(())
}

/// Key types an `authorized_keys` line may start with (after options,
/// which the generated user-data does not take).
const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
];

/// Whether `key` looks like an OpenSSH public key line: a known type, a
/// base64 blob, and an optional comment.
pub fn is_ssh_public_key(key: &str) -> bool {
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    SSH_KEY_TYPES.contains(&kind)
        && blob.len() >= 16
        && blob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

/// The crypt(3) prefixes cloud-init 22.4 (Debian 12's) takes as a hash; it
/// sets any other text as the password itself.
const CLOUD_INIT_HASHES: &[&str] = &["$1$", "$2a$", "$2y$", "$5$", "$6$"];

fn check_password_hash(hash: &str) -> Result<Option<Finding>> {
    let fields = hash.split('$').count();
    if !hash.starts_with('$') || fields < 4 || hash.chars().any(|c| c.is_whitespace()) {
        return Err(Error::InvalidInput(format!(
            "password hash {:?} is not a crypt(3) hash such as $6$salt$...; \
             make one with `mkpasswd -m sha-512` or `openssl passwd -6`",
            hash.chars().take(12).collect::<String>()
        )));
    }
    if CLOUD_INIT_HASHES.iter().any(|p| hash.starts_with(p)) {
        return Ok(None);
    }
    Ok(Some(Finding::new(
        Severity::Warning,
        "user-data",
        None,
        "the password hash is not MD5, bcrypt ($2a$/$2y$), SHA-256 or SHA-512 crypt; \
         cloud-init 22.4 and older set such text as the password itself; \
         `mkpasswd -m sha-512` makes one every version takes"
            .into(),
    )))
}

/// A YAML double-quoted scalar holding `s`.
fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The path in the seed of an extra file: `/`-separated, no empty, `.` or
/// `..` component, and not one of the files cloud-init reads (those have
/// their own options).
fn seed_path(path: &str) -> Result<String> {
    let p = path.trim_start_matches('/');
    let bad = |why: &str| Error::InvalidInput(format!("extra file {path:?}: {why}"));
    if p.is_empty() || p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(bad("give a relative path such as scripts/setup.sh"));
    }
    if let Some(std) = SEED_FILES.iter().find(|s| **s == p) {
        return Err(bad(&format!("{std} has its own option")));
    }
    Ok(p.to_string())
}

/// The default instance-id: `iid-` and 16 hex digits of a SHA-256 over the
/// files other than meta-data (name and contents, in path order) and the
/// host name.
fn derive_instance_id(files: &[SeedFile], hostname: Option<&str>) -> Result<String> {
    let mut h = Sha256::new();
    let framed = |h: &mut Sha256, b: &[u8]| {
        h.update(u64::try_from(b.len()).unwrap_or(u64::MAX).to_le_bytes());
        h.update(b);
    };
    for f in files.iter().filter(|f| f.path != "meta-data") {
        framed(&mut h, f.path.as_bytes());
        match (&f.data, &f.origin) {
            (Some(d), _) => framed(&mut h, d),
            (None, SeedOrigin::Host(p)) => {
                let mut file = std::fs::File::open(p).map_err(|e| host_error(p, e))?;
                let len = file.metadata().map_err(|e| host_error(p, e))?.len();
                h.update(len.to_le_bytes());
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(host_error(p, e)),
                    };
                    h.update(buf.get(..n).unwrap_or_default());
                }
            }
            (None, _) => framed(&mut h, b""),
        }
    }
    framed(&mut h, hostname.unwrap_or("").as_bytes());
    let digest = h.finalize();
    let hex = base16ct::lower::encode_string(&digest);
    Ok(format!("iid-{}", hex.get(..16).unwrap_or(&hex)))
}

fn host_error(p: &std::path::Path, e: std::io::Error) -> Error {
    Error::Io {
        source: std::io::Error::new(e.kind(), format!("{}: {e}", p.display())),
        offset: None,
    }
}

/// Fills in and checks a seed.
///
/// # Errors
///
/// [`Error::InvalidInput`] for options that contradict each other or
/// cannot go into a seed: `--ssh-key` or `--password-hash` with given
/// user-data, `--hostname` or `--instance-id` with given meta-data (write
/// them in those files), a host name that is not one, an SSH key or
/// password hash that is not one, an extra file under a name cloud-init
/// reads. Content problems are not errors but [`Finding`]s; see
/// [`Seed::has_errors`].
///
/// # Security
///
/// Reads the host files of [`SeedOptions::files`] (to derive the
/// instance-id); they are read again when the image is written.
pub fn prepare(opts: &SeedOptions) -> Result<Seed> {
    if opts.user_data.is_some() && (!opts.ssh_keys.is_empty() || opts.password_hash.is_some()) {
        return Err(Error::InvalidInput(
            "SSH keys and a password hash go into generated user-data; with your own \
             user-data, put them there (ssh_authorized_keys:, password:)"
                .into(),
        ));
    }
    if opts.meta_data.is_some() && (opts.hostname.is_some() || opts.instance_id.is_some()) {
        return Err(Error::InvalidInput(
            "a host name and an instance-id go into generated meta-data; with your own \
             meta-data, put them there (local-hostname:, instance-id:)"
                .into(),
        ));
    }
    if let Some(h) = &opts.hostname {
        valid_hostname(h)?;
    }
    if let Some(id) = &opts.instance_id {
        if id.is_empty() || id.chars().any(char::is_control) {
            return Err(Error::InvalidInput(format!(
                "instance-id {id:?}: give a non-empty text without control characters"
            )));
        }
    }
    let mut findings = Vec::new();
    for k in &opts.ssh_keys {
        if !is_ssh_public_key(k.trim()) {
            return Err(Error::InvalidInput(format!(
                "{:?} is not an SSH public key line (type, base64 key, comment), such as \
                 the contents of ~/.ssh/id_ed25519.pub",
                k.chars().take(40).collect::<String>()
            )));
        }
    }
    if let Some(h) = &opts.password_hash {
        findings.extend(check_password_hash(h)?);
    }

    let given = |name: &str, input: &Option<SeedInput>| {
        input.as_ref().map(|i| SeedFile {
            path: name.to_string(),
            origin: SeedOrigin::Given(i.origin.clone()),
            data: Some(Arc::clone(&i.data)),
        })
    };
    let mut files: Vec<SeedFile> = Vec::new();
    files.extend(given("user-data", &opts.user_data));
    files.extend(given("network-config", &opts.network_config));
    files.extend(given("vendor-data", &opts.vendor_data));
    for (path, host) in &opts.files {
        let path = seed_path(path)?;
        if files.iter().any(|f| f.path == path) {
            return Err(Error::InvalidInput(format!(
                "extra file {path:?} is given twice"
            )));
        }
        files.push(SeedFile {
            path,
            origin: SeedOrigin::Host(host.clone()),
            data: None,
        });
    }
    if opts.user_data.is_none() {
        let mut ud = String::new();
        if opts.hostname.is_some() || !opts.ssh_keys.is_empty() || opts.password_hash.is_some() {
            ud.push_str("#cloud-config\n");
            if let Some(h) = &opts.hostname {
                ud.push_str(&format!("hostname: {}\n", yaml_quote(h)));
            }
            if !opts.ssh_keys.is_empty() {
                ud.push_str("ssh_authorized_keys:\n");
                for k in &opts.ssh_keys {
                    ud.push_str(&format!("  - {}\n", yaml_quote(k.trim())));
                }
            }
            if let Some(p) = &opts.password_hash {
                // The default user's password; without expire: false,
                // cloud-init makes it expire at the first login.
                ud.push_str(&format!("password: {}\n", yaml_quote(p)));
                ud.push_str("chpasswd:\n  expire: false\n");
            }
        }
        files.push(SeedFile {
            path: "user-data".into(),
            origin: SeedOrigin::Generated,
            data: Some(Arc::from(ud.into_bytes())),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let instance_id = match &opts.meta_data {
        Some(m) => {
            files.push(SeedFile {
                path: "meta-data".into(),
                origin: SeedOrigin::Given(m.origin.clone()),
                data: Some(Arc::clone(&m.data)),
            });
            check::meta_fields(&m.data).0
        }
        None => {
            let id = match &opts.instance_id {
                Some(id) => id.clone(),
                None => derive_instance_id(&files, opts.hostname.as_deref())?,
            };
            let mut md = format!("instance-id: {}\n", yaml_quote(&id));
            if let Some(h) = &opts.hostname {
                md.push_str(&format!("local-hostname: {}\n", yaml_quote(h)));
            }
            files.push(SeedFile {
                path: "meta-data".into(),
                origin: SeedOrigin::Generated,
                data: Some(Arc::from(md.into_bytes())),
            });
            Some(id)
        }
    };
    files.sort_by(|a, b| a.path.cmp(&b.path));

    if opts.check {
        for f in &files {
            let (SeedOrigin::Given(origin), Some(data)) = (&f.origin, &f.data) else {
                continue;
            };
            for mut finding in check_file(&f.path, data) {
                finding.origin = Some(origin.clone());
                findings.push(finding);
            }
        }
    }
    Ok(Seed {
        files,
        findings,
        instance_id,
        format: opts.format,
        time: opts.time,
    })
}

#[cfg(test)]
// Options are set field by field, as callers outside the crate must
// (the struct is non-exhaustive).
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    fn text(seed: &Seed, path: &str) -> String {
        let f = seed.files().iter().find(|f| f.path == path).unwrap();
        String::from_utf8(f.data().unwrap().to_vec()).unwrap()
    }

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";

    #[test]
    fn generated_files() {
        let mut o = SeedOptions::default();
        o.hostname = Some("vm1".into());
        o.ssh_keys = vec![KEY.into()];
        o.password_hash = Some("$6$salt$hash".into());
        let s = prepare(&o).unwrap();
        assert_eq!(
            s.generated().collect::<Vec<_>>(),
            ["meta-data", "user-data"]
        );
        let ud = text(&s, "user-data");
        assert!(ud.starts_with("#cloud-config\n"), "{ud}");
        assert!(check_file("user-data", ud.as_bytes()).is_empty(), "{ud}");
        let md = text(&s, "meta-data");
        assert!(check_file("meta-data", md.as_bytes()).is_empty(), "{md}");
        let id = s.instance_id().unwrap().to_string();
        assert!(id.starts_with("iid-") && id.len() == 20, "{id}");
        assert_eq!(
            check::meta_fields(md.as_bytes()),
            (Some(id.clone()), Some("vm1".into()))
        );
        // Stable for the same inputs, new for other ones.
        assert_eq!(prepare(&o).unwrap().instance_id(), Some(id.as_str()));
        o.hostname = Some("vm2".into());
        assert_ne!(prepare(&o).unwrap().instance_id(), Some(id.as_str()));
        o.instance_id = Some("fixed".into());
        assert_eq!(prepare(&o).unwrap().instance_id(), Some("fixed"));
    }

    #[test]
    fn empty_user_data_is_written() {
        let s = prepare(&SeedOptions::default()).unwrap();
        assert_eq!(text(&s, "user-data"), "");
        assert!(s.findings().is_empty());
    }

    #[test]
    fn contradicting_options() {
        let mut o = SeedOptions::default();
        o.user_data = Some(SeedInput::new("u", &b"#cloud-config\n"[..]));
        o.ssh_keys = vec![KEY.into()];
        assert!(prepare(&o).is_err());
        let mut o = SeedOptions::default();
        o.meta_data = Some(SeedInput::new("m", &b"instance-id: a\n"[..]));
        o.hostname = Some("a".into());
        assert!(prepare(&o).is_err());
        for bad in ["-a", "a_b", "", "a..b", &"x".repeat(64)] {
            let mut o = SeedOptions::default();
            o.hostname = Some(bad.into());
            assert!(prepare(&o).is_err(), "{bad:?}");
        }
        let mut o = SeedOptions::default();
        o.ssh_keys = vec!["not a key".into()];
        assert!(prepare(&o).is_err());
        let mut o = SeedOptions::default();
        o.password_hash = Some("secret".into());
        assert!(prepare(&o).is_err());
        o.password_hash = Some("$y$j9T$salt$hash".into());
        assert_eq!(
            prepare(&o).unwrap().findings()[0].severity,
            Severity::Warning
        );
        let mut o = SeedOptions::default();
        o.files = vec![("meta-data".into(), PathBuf::from("/dev/null"))];
        assert!(prepare(&o).is_err());
        o.files = vec![("../x".into(), PathBuf::from("/dev/null"))];
        assert!(prepare(&o).is_err());
    }

    #[test]
    fn findings_name_the_origin() {
        let mut o = SeedOptions::default();
        o.meta_data = Some(SeedInput::new("md.yaml", &b"instance_id: a\n"[..]));
        let s = prepare(&o).unwrap();
        let f = &s.findings()[0];
        assert_eq!(
            f.to_string(),
            "meta-data (md.yaml) line 1: instance_id: cloud-init reads instance-id (with \
             dashes) and ignores this key"
        );
        o.check = false;
        assert!(prepare(&o).unwrap().findings().is_empty());
    }

    #[test]
    fn quoting() {
        assert_eq!(yaml_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        let doc = format!("k: {}\n", yaml_quote("x: \"y\" # z\t"));
        let n = check::parse_yaml(&doc).unwrap().unwrap();
        assert_eq!(
            n.get("k").and_then(check::Node::text),
            Some("x: \"y\" # z\t")
        );
    }

    #[test]
    fn reproducible_images() {
        for format in [SeedFormat::Iso9660, SeedFormat::Vfat] {
            let mut o = SeedOptions::default();
            o.user_data = Some(SeedInput::new("u", &b"#cloud-config\n{}\n"[..]));
            o.format = format;
            let mut a = Vec::new();
            prepare(&o).unwrap().write_to(&mut a).unwrap();
            let mut b = Vec::new();
            prepare(&o).unwrap().write_to(&mut b).unwrap();
            assert!(a == b, "{format:?}");
            assert_eq!(a.len() % 2048, 0);
        }
    }
}
