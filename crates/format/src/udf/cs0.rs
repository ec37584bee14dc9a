//! OSTA Compressed Unicode (UDF 2.1.1) and dstrings (ECMA-167 1/7.2.12).
//!
//! A CS0 string starts with a compression ID: 8 means one byte per character
//! (code points U+0000-U+00FF), 16 means big-endian UTF-16 units. 254 and 255
//! mark the names of deleted file identifiers (UDF 2.3.4.2) and are decoded
//! as 8 and 16. A dstring is a fixed field whose last byte holds the number
//! of bytes used (compression ID included).

use crate::error::{FormatError, Result};

/// Decodes a CS0 string (compression ID first). An empty input is the empty
/// string. Unpaired UTF-16 surrogates become U+FFFD.
pub fn decode(b: &[u8]) -> Result<String> {
    let Some((&id, rest)) = b.split_first() else {
        return Ok(String::new());
    };
    match id {
        8 | 254 => Ok(rest.iter().map(|&c| char::from(c)).collect()),
        16 | 255 => {
            if rest.len() % 2 != 0 {
                return Err(FormatError::BadValue {
                    what: "CS0 16-bit string length",
                    value: rest.len() as u64,
                });
            }
            let units = rest.chunks_exact(2).map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            });
            Ok(char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect())
        }
        other => Err(FormatError::BadValue {
            what: "CS0 compression ID",
            value: other.into(),
        }),
    }
}

/// Encodes a string in CS0: compression ID 8 when every character is below
/// U+0100, else 16 (UTF-16 big-endian).
pub fn encode(s: &str, out: &mut Vec<u8>) {
    if s.chars().all(|c| u32::from(c) < 0x100) {
        out.push(8);
        out.extend(
            s.chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')),
        );
    } else {
        out.push(16);
        for u in s.encode_utf16() {
            out.extend_from_slice(&u.to_be_bytes());
        }
    }
}

/// Decodes a dstring field: the last byte is the used length. A length of
/// 0 is the empty string; a length larger than the field is an error.
pub fn decode_dstring(field: &[u8]) -> Result<String> {
    let Some((&used, body)) = field.split_last() else {
        return Ok(String::new());
    };
    let s = body.get(..usize::from(used)).ok_or(FormatError::BadValue {
        what: "dstring length",
        value: used.into(),
    })?;
    Ok(decode(s)?.trim_end_matches('\0').to_string())
}

/// Decodes a dstring field for display: unreadable fields give the empty
/// string (they name volumes; nothing depends on them).
pub fn dstring_lossy(field: &[u8]) -> String {
    decode_dstring(field).unwrap_or_default()
}

/// Encodes `s` into a dstring field, which it must fit (compression ID and
/// length byte included).
pub fn encode_dstring(s: &str, field: &mut [u8]) -> Result<()> {
    field.fill(0);
    if s.is_empty() {
        return Ok(());
    }
    let mut v = Vec::new();
    encode(s, &mut v);
    let cap = field.len().saturating_sub(1);
    if v.len() > cap {
        return Err(FormatError::BadValue {
            what: "dstring too long for its field",
            value: v.len() as u64,
        });
    }
    let used = u8::try_from(v.len()).map_err(|_| FormatError::BadValue {
        what: "dstring length",
        value: v.len() as u64,
    })?;
    if let Some(d) = field.get_mut(..v.len()) {
        d.copy_from_slice(&v);
    }
    if let Some(last) = field.last_mut() {
        *last = used;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_compressions_round_trip() {
        for s in ["", "README.TXT", "café", "名前.txt", "emoji 😀"] {
            let mut v = Vec::new();
            encode(s, &mut v);
            if !s.is_empty() {
                let want = if s.is_ascii() || s == "café" { 8 } else { 16 };
                assert_eq!(v[0], want, "{s}");
            }
            assert_eq!(decode(&v).unwrap(), s);
        }
        assert_eq!(decode(&[16, 0, b'A', 0xD8, 0x00]).unwrap(), "A\u{FFFD}");
        assert_eq!(decode(&[254, b'x']).unwrap(), "x");
        assert!(decode(&[16, 0]).is_err());
        assert!(decode(&[9, b'x']).is_err());
    }

    #[test]
    fn dstrings() {
        let mut f = [0u8; 32];
        encode_dstring("LinuxUDF", &mut f).unwrap();
        assert_eq!(f[31], 9);
        assert_eq!(decode_dstring(&f).unwrap(), "LinuxUDF");
        assert!(encode_dstring(&"x".repeat(31), &mut f).is_err());
        encode_dstring(&"x".repeat(30), &mut f).unwrap();
        assert_eq!(decode_dstring(&f).unwrap().len(), 30);
        let mut bad = [0u8; 8];
        bad[7] = 9;
        assert!(decode_dstring(&bad).is_err());
        assert_eq!(dstring_lossy(&bad), "");
        assert_eq!(decode_dstring(&[0u8; 8]).unwrap(), "");
    }
}
