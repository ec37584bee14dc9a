//! Identifier strings: space-padded a-/d-character fields of volume
//! descriptors, ISO 9660 file identifiers (`NAME.EXT;1`), and Joliet's
//! UCS-2 big-endian names.

/// Trims the trailing spaces (and NULs, which some mastering tools write) of a
/// fixed-width descriptor field and decodes it lossily.
pub fn trim_field(b: &[u8]) -> String {
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |p| p.saturating_add(1));
    String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
}

/// Trims a UCS-2BE descriptor field (Joliet volume id and the like).
pub fn trim_ucs2_field(b: &[u8]) -> String {
    let s = decode_ucs2be(b);
    s.trim_end_matches([' ', '\0']).to_string()
}

/// Decodes UCS-2 big-endian bytes. Surrogate pairs (UTF-16) are joined, as
/// Windows and xorriso write them; unpaired surrogates become U+FFFD. An odd
/// trailing byte is ignored.
pub fn decode_ucs2be(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes(<[u8; 2]>::try_from(c).unwrap_or_default()));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Encodes a string as UCS-2 big-endian (UTF-16BE: characters outside the
/// BMP become surrogate pairs).
pub fn encode_ucs2be(s: &str, out: &mut Vec<u8>) {
    // Two bytes per unit, and no more units than UTF-8 bytes.
    out.reserve(s.len().saturating_mul(2));
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// A recorded name as text: UTF-8 when it is valid UTF-8, else ISO 8859-1
/// (images made on hosts with a legacy locale). Every byte then stays a
/// character of its own, so names that differ keep differing, where a
/// lossy decoding would turn them all into the same replacement characters.
pub fn decode_name(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// Strips the version suffix (`;1`) and then a trailing dot from an ISO 9660
/// file identifier, as `FOO.;1` names a file `FOO` with an empty extension.
/// A name made only of dots keeps them all, so that `...` and `..` never
/// become `..` and `.`.
pub fn strip_version(name: &[u8]) -> &[u8] {
    let base = match name.iter().rposition(|&c| c == b';') {
        Some(p)
            if name
                .get(p.saturating_add(1)..)
                .is_some_and(|v| v.iter().all(u8::is_ascii_digit)) =>
        {
            name.get(..p).unwrap_or(name)
        }
        _ => name,
    };
    match base.split_last() {
        Some((b'.', rest)) if !rest.iter().all(|&c| c == b'.') => rest,
        _ => base,
    }
}

/// The same for a decoded (Joliet) name.
pub fn strip_version_str(name: &str) -> &str {
    let base = match name.rsplit_once(';') {
        Some((base, version)) if version.bytes().all(|c| c.is_ascii_digit()) => base,
        _ => name,
    };
    match base.strip_suffix('.') {
        Some(rest) if !rest.bytes().all(|c| c == b'.') => rest,
        _ => base,
    }
}

/// Whether `c` is a d-character (ECMA-119 §7.4.1: A-Z, 0-9, `_`).
pub fn is_d_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'
}

/// Whether `c` is an a-character (ECMA-119 §7.4.1).
pub fn is_a_char(c: u8) -> bool {
    is_d_char(c) || b" !\"%&'()*+,-./:;<=>?".contains(&c)
}

/// Writes `s` into a fixed-width field, padding with spaces; bytes past the
/// field width are dropped.
pub fn pad_field(s: &[u8], field: &mut [u8]) {
    field.fill(b' ');
    for (o, &c) in field.iter_mut().zip(s) {
        *o = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode_as_utf8_else_latin1() {
        assert_eq!(decode_name("café".as_bytes()), "café");
        assert_eq!(decode_name(b"caf\xe9"), "café");
        assert_ne!(decode_name(b"caf\xe9"), decode_name(b"caf\xe8"));
        assert_eq!(decode_name(b"a/\x00\xff"), "a/\u{0}ÿ");
        assert_eq!(decode_name(b""), "");
    }

    #[test]
    fn versions_and_dots() {
        assert_eq!(strip_version(b"README.TXT;1"), b"README.TXT");
        assert_eq!(strip_version(b"FOO.;1"), b"FOO");
        assert_eq!(strip_version(b"FOO."), b"FOO");
        assert_eq!(strip_version(b"A;B"), b"A;B");
        assert_eq!(strip_version(b"."), b".");
        assert_eq!(strip_version(b".."), b"..");
        assert_eq!(strip_version(b"...;1"), b"...");
        assert_eq!(strip_version(b"A..;1"), b"A.");
        assert_eq!(strip_version_str(".."), "..");
        assert_eq!(strip_version_str("...;1"), "...");
        assert_eq!(strip_version_str("hello.txt;1"), "hello.txt");
    }

    #[test]
    fn ucs2_with_surrogates() {
        let mut v = Vec::new();
        encode_ucs2be("a\u{1F600}é", &mut v);
        assert_eq!(v.len(), 8);
        assert_eq!(decode_ucs2be(&v), "a\u{1F600}é");
        assert_eq!(decode_ucs2be(&[0xD8, 0x00, 0, b'a']), "\u{FFFD}a");
    }

    #[test]
    fn fields() {
        assert_eq!(trim_field(b"CDROM   \0\0"), "CDROM");
        let mut f = [0u8; 6];
        pad_field(b"AB", &mut f);
        assert_eq!(&f, b"AB    ");
    }
}
