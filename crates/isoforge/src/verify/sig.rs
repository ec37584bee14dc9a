//! OpenPGP signatures over SUMS files: detached (binary or armored) and
//! clear-signed (Fedora's `CHECKSUM`).
//!
//! Only keys from the given keyring count. A signature fails, as a finding,
//! when it does not verify, when no key in the keyring made it, when the
//! signing key (or subkey) is expired or revoked, when the signature itself
//! has expired, or when it uses SHA-1 or MD5: rPGP accepts SHA-1 data
//! signatures, so the hash is checked here.

use std::io::Cursor;

use pgp::composed::{
    CleartextSignedMessage, Deserializable, DetachedSignature, PublicOrSecret, SignedPublicKey,
    SignedPublicSubKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{Duration, KeyDetails, Tag, Timestamp};

use crate::error::{Error, Result, VerifyInput};

/// The key that made a good signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer {
    /// Fingerprint of the primary key, upper-case hex (40 digits for v4 keys).
    pub fingerprint: String,
    /// Fingerprint of the signing subkey, when a subkey signed.
    pub subkey_fingerprint: Option<String>,
    /// The primary user id, if the key has one that is valid UTF-8.
    pub user_id: Option<String>,
}

impl Signer {
    /// `FINGERPRINT (user id)`.
    pub fn describe(&self) -> String {
        match &self.user_id {
            Some(u) => format!("{} ({u})", self.fingerprint),
            None => self.fingerprint.clone(),
        }
    }
}

/// The outcome of a signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigOutcome {
    /// A key from the keyring made a good signature.
    Good(Signer),
    /// No good signature; the reason.
    Bad(String),
}

/// Public keys to trust.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

const ARMOR_BEGIN: &str = "-----BEGIN PGP ";

impl Keyring {
    /// Parses one or more keys, binary or armored (several armor blocks may
    /// follow each other). Secret keys are reduced to their public part.
    /// A file without a single usable key is an error.
    pub fn parse(bytes: &[u8]) -> Result<Keyring> {
        let mut keys = Vec::new();
        let mut errors = Vec::new();
        let text = std::str::from_utf8(bytes).ok();
        let armored = text.is_some_and(|t| t.contains(ARMOR_BEGIN));
        match text.filter(|t| t.contains(ARMOR_BEGIN)) {
            Some(t) => {
                let starts: Vec<usize> = t.match_indices(ARMOR_BEGIN).map(|(i, _)| i).collect();
                for (n, start) in starts.iter().enumerate() {
                    let end = starts.get(n + 1).copied().unwrap_or(t.len());
                    let block = t.get(*start..end).unwrap_or("");
                    match PublicOrSecret::from_armor_many(block.as_bytes()) {
                        Ok((it, _)) => collect(it, &mut keys, &mut errors),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
            None => match PublicOrSecret::from_bytes_many(Cursor::new(bytes)) {
                Ok(it) => collect(it, &mut keys, &mut errors),
                Err(e) => errors.push(e.to_string()),
            },
        }
        if keys.is_empty() {
            // rPGP's own texts ("unknown packet header version ...") say
            // nothing to a user: say what the file is not.
            let why = if bytes.iter().all(u8::is_ascii_whitespace) {
                "is empty"
            } else if armored {
                "holds no OpenPGP public key: its ASCII-armored block is not a key, or is damaged"
            } else if errors.is_empty() {
                "holds no OpenPGP public key"
            } else {
                "is not an OpenPGP keyring: it is neither binary OpenPGP key packets nor an ASCII-armored key block"
            };
            return Err(Error::verify_input(VerifyInput::Keyring, why));
        }
        Ok(Keyring { keys })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys (never, for a parsed keyring).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn collect(
    it: Box<dyn Iterator<Item = pgp::errors::Result<PublicOrSecret>> + '_>,
    keys: &mut Vec<SignedPublicKey>,
    errors: &mut Vec<String>,
) {
    // A keyring file is small; still, stop after a generous number of keys.
    for k in it.take(10_000) {
        match k {
            Ok(PublicOrSecret::Public(k)) => keys.push(k),
            Ok(PublicOrSecret::Secret(k)) => keys.push(k.to_public_key()),
            Err(e) => errors.push(e.to_string()),
        }
    }
}

/// True when `text` is a clear-signed message.
pub fn is_cleartext(text: &[u8]) -> bool {
    let t = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    let start = t
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(t.len());
    t.get(start..)
        .is_some_and(|t| t.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----"))
}

fn parse_cleartext(text: &[u8]) -> Result<CleartextSignedMessage> {
    let t = std::str::from_utf8(text).map_err(|_| {
        Error::verify_input(VerifyInput::Sums, "is clear-signed but is not UTF-8 text")
    })?;
    let t = t.trim_start_matches('\u{feff}').trim_start();
    // Whatever follows the signature block is not signed: drop it, as gpg does.
    // Dash-escaping keeps a signed line from starting with "-----".
    const END: &str = "\n-----END PGP SIGNATURE-----";
    let t = match t.find(END) {
        Some(i) => t.get(..i + END.len()).unwrap_or(t),
        None => t,
    };
    CleartextSignedMessage::from_string(t)
        .map(|(m, _)| m)
        .map_err(|_| {
            Error::verify_input(
                VerifyInput::Sums,
                "is clear-signed but its signature block cannot be read: it is cut short or damaged",
            )
        })
}

/// The signed text of a clear-signed file, without checking the signature.
pub fn cleartext_body(text: &[u8]) -> Result<String> {
    Ok(parse_cleartext(text)?.signed_text())
}

/// Checks a detached signature over `data`.
///
/// A signature file that is not OpenPGP is an error; a signature that does
/// not hold is [`SigOutcome::Bad`].
pub fn verify_detached(data: &[u8], signature: &[u8], keyring: &Keyring) -> Result<SigOutcome> {
    let sigs = parse_signatures(signature)?;
    Ok(check_signatures(&sigs, data, keyring))
}

/// Checks a clear-signed file and returns the outcome with the signed text;
/// only the signed text may be used, whatever else the file holds.
pub fn verify_cleartext(text: &[u8], keyring: &Keyring) -> Result<(SigOutcome, String)> {
    let msg = parse_cleartext(text)?;
    let body = msg.signed_text();
    let outcome = check_signatures(msg.signatures(), body.as_bytes(), keyring);
    Ok((outcome, body))
}

fn parse_signatures(bytes: &[u8]) -> Result<Vec<Signature>> {
    let bad = |_: String| {
        Error::verify_input(
            VerifyInput::Signature,
            "is not an OpenPGP signature: it is neither a binary signature packet nor an ASCII-armored signature block",
        )
    };
    let armored = std::str::from_utf8(bytes).is_ok_and(|t| t.contains(ARMOR_BEGIN));
    let mut sigs = Vec::new();
    if armored {
        let (it, _) = DetachedSignature::from_armor_many(Cursor::new(bytes))
            .map_err(|e| bad(e.to_string()))?;
        for s in it.take(64) {
            sigs.push(s.map_err(|e| bad(e.to_string()))?.signature);
        }
    } else {
        for s in DetachedSignature::from_bytes_many(Cursor::new(bytes))
            .map_err(|e| bad(e.to_string()))?
            .take(64)
        {
            sigs.push(s.map_err(|e| bad(e.to_string()))?.signature);
        }
    }
    if sigs.is_empty() {
        return Err(bad("no signature packets".into()));
    }
    Ok(sigs)
}

/// The first good signature wins; otherwise the most telling reason.
fn check_signatures(sigs: &[Signature], data: &[u8], keyring: &Keyring) -> SigOutcome {
    let now = Timestamp::now();
    let mut reasons = Vec::new();
    for sig in sigs {
        match check_one(sig, data, keyring, now) {
            Ok(signer) => return SigOutcome::Good(signer),
            Err(r) => reasons.push(r),
        }
    }
    SigOutcome::Bad(reasons.join("; "))
}

fn hex(fp: &impl std::fmt::UpperHex) -> String {
    format!("{fp:X}")
}

fn issuer_matches(sig: &Signature, key: &impl KeyDetails) -> bool {
    let fp = key.fingerprint();
    let id = key.legacy_key_id();
    sig.issuer_fingerprint().iter().any(|f| **f == fp)
        || sig.issuer_key_id().iter().any(|k| **k == id)
}

fn expired(created: Timestamp, validity: Option<Duration>, now: Timestamp) -> bool {
    match validity {
        Some(d) if d.as_secs() != 0 => {
            let until = u64::from(created.as_secs()).saturating_add(u64::from(d.as_secs()));
            u64::from(now.as_secs()) >= until
        }
        _ => false,
    }
}

fn check_one(
    sig: &Signature,
    data: &[u8],
    keyring: &Keyring,
    now: Timestamp,
) -> std::result::Result<Signer, String> {
    if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
        return Err(format!("not a document signature (type {:?})", sig.typ()));
    }
    // Find the key or subkey named as issuer.
    let mut found = None;
    for key in &keyring.keys {
        if issuer_matches(sig, &key.primary_key) {
            found = Some((key, None));
            break;
        }
        if let Some(sub) = key
            .public_subkeys
            .iter()
            .find(|s| issuer_matches(sig, &s.key))
        {
            found = Some((key, Some(sub)));
            break;
        }
    }
    let Some((key, sub)) = found else {
        let ids: Vec<String> = sig
            .issuer_fingerprint()
            .iter()
            .map(|f| hex(*f))
            .chain(
                sig.issuer_key_id()
                    .iter()
                    .map(|k| base16ct::upper::encode_string(k.as_ref())),
            )
            .collect();
        return Err(format!(
            "unknown key: the signature was made by {} which is not in the keyring",
            ids.first()
                .cloned()
                .unwrap_or_else(|| "an unnamed key".into())
        ));
    };
    let fingerprint = hex(&key.primary_key.fingerprint());
    match sig.hash_alg() {
        Some(HashAlgorithm::Sha1 | HashAlgorithm::Md5 | HashAlgorithm::Ripemd160) | None => {
            return Err(format!(
                "signature by {fingerprint} uses the weak hash {}; refusing it",
                sig.hash_alg().map_or("unknown".into(), |h| h.to_string())
            ));
        }
        _ => {}
    }
    let verified = match sub {
        Some(s) => sig.verify(&s.key, data),
        None => sig.verify(&key.primary_key, data),
    };
    // rPGP's error text here can be an internal assertion: no use to a user.
    if verified.is_err() {
        return Err(format!("bad signature by {fingerprint}: the SUMS file was changed after it was signed, or the signature is damaged"));
    }
    if let (Some(created), Some(d)) = (sig.created(), sig.signature_expiration_time()) {
        if expired(created, Some(d), now) {
            return Err(format!("signature by {fingerprint} has expired"));
        }
    }
    let state = primary_state(key, now)?;
    if let Some(s) = sub {
        subkey_state(key, s, now, &fingerprint)?;
    }
    Ok(Signer {
        fingerprint,
        subkey_fingerprint: sub.map(|s| hex(&s.key.fingerprint())),
        user_id: state,
    })
}

/// Checks the primary key is bound, not revoked and not expired; returns its
/// primary user id.
fn primary_state(
    key: &SignedPublicKey,
    now: Timestamp,
) -> std::result::Result<Option<String>, String> {
    let pk = &key.primary_key;
    let fp = hex(&pk.fingerprint());
    for rev in &key.details.revocation_signatures {
        if matches!(rev.typ(), Some(SignatureType::KeyRevocation)) && rev.verify_key(pk).is_ok() {
            let why = rev
                .revocation_reason_string()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .filter(|s| !s.is_empty())
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            return Err(format!("key {fp} is revoked{why}"));
        }
    }
    // The newest valid self-signature (user id certification or direct key
    // signature) decides the key's expiry.
    let mut newest: Option<(&Signature, Option<String>, bool)> = None;
    for user in &key.details.users {
        for s in &user.signatures {
            if !s.is_certification() || !issuer_matches(s, pk) {
                continue;
            }
            if s.verify_certification(pk, Tag::UserId, &user.id).is_err() {
                continue;
            }
            let uid = std::str::from_utf8(user.id.id()).ok().map(str::to_string);
            let primary = s.is_primary();
            let better = match &newest {
                None => true,
                Some((n, _, np)) => {
                    (primary && !np) || (primary == *np && s.created() > n.created())
                }
            };
            if better {
                newest = Some((s, uid, primary));
            }
        }
    }
    let mut direct_expiry = None;
    for s in &key.details.direct_signatures {
        if issuer_matches(s, pk) && s.verify_key(pk).is_ok() {
            direct_expiry = s.key_expiration_time().or(direct_expiry);
        }
    }
    let Some((self_sig, uid, _)) = newest else {
        if direct_expiry.is_none() && key.details.direct_signatures.is_empty() {
            return Err(format!("key {fp} has no valid self-signature"));
        }
        if expired(pk.created_at(), direct_expiry, now) {
            return Err(format!("key {fp} has expired"));
        }
        return Ok(None);
    };
    let validity = self_sig.key_expiration_time().or(direct_expiry);
    if expired(pk.created_at(), validity, now) {
        return Err(format!("key {fp} has expired"));
    }
    Ok(uid)
}

fn subkey_state(
    key: &SignedPublicKey,
    sub: &SignedPublicSubKey,
    now: Timestamp,
    fp: &str,
) -> std::result::Result<(), String> {
    let pk = &key.primary_key;
    let sfp = hex(&sub.key.fingerprint());
    let mut binding: Option<&Signature> = None;
    for s in &sub.signatures {
        match s.typ() {
            Some(SignatureType::SubkeyRevocation)
                if s.verify_subkey_binding(pk, &sub.key).is_ok()
                    || s.verify_key_third_party(&sub.key, pk).is_ok() =>
            {
                return Err(format!("subkey {sfp} of key {fp} is revoked"));
            }
            Some(SignatureType::SubkeyBinding) => {
                if s.verify_subkey_binding(pk, &sub.key).is_err() {
                    continue;
                }
                let back_ok = s
                    .embedded_signature()
                    .is_some_and(|b| b.verify_primary_key_binding(&sub.key, pk).is_ok());
                if !s.key_flags().sign() || !back_ok {
                    continue;
                }
                if binding.is_none_or(|b| s.created() > b.created()) {
                    binding = Some(s);
                }
            }
            _ => {}
        }
    }
    let Some(b) = binding else {
        return Err(format!(
            "subkey {sfp} of key {fp} is not validly bound for signing"
        ));
    };
    if expired(sub.key.created_at(), b.key_expiration_time(), now) {
        return Err(format!("subkey {sfp} of key {fp} has expired"));
    }
    Ok(())
}
