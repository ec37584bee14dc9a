//! ECMA-167 4/14.16 pathname: the path components that make up the data of
//! a symbolic link (UDF 2.3.12).

use super::cs0;
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};

/// Component type: a root (with an identifier: one agreed between
/// implementations, read as the root here).
const ROOT_AGREED: u8 = 1;
/// Component type: the root directory.
const ROOT: u8 = 2;
/// Component type: the parent directory.
const PARENT: u8 = 3;
/// Component type: the current directory.
const CURRENT: u8 = 4;
/// Component type: a named component.
const NAME: u8 = 5;

/// Decodes path components into a `/`-separated target of at most `max`
/// bytes. A named component containing `/` or NUL is an error: it would
/// change the link's meaning.
pub fn decode(b: &[u8], max: usize) -> Result<String> {
    let mut c = Cursor::new(b, "path component");
    let mut absolute = false;
    let mut parts: Vec<String> = Vec::new();
    let mut len = 0usize;
    while !c.is_empty() {
        let [kind, ci_len] = c.array::<2>()?;
        let _version = c.array::<2>()?;
        let ident = c.take(usize::from(ci_len))?;
        let part = match kind {
            ROOT_AGREED | ROOT => {
                absolute = true;
                parts.clear();
                len = 1;
                continue;
            }
            PARENT => "..".to_string(),
            CURRENT => ".".to_string(),
            NAME => {
                let s = cs0::decode(ident)?;
                if s.is_empty() || s.contains(['/', '\0']) {
                    return Err(FormatError::BadValue {
                        what: "path component name",
                        value: s.len() as u64,
                    });
                }
                s
            }
            other => {
                return Err(FormatError::BadValue {
                    what: "path component type",
                    value: other.into(),
                })
            }
        };
        len = len.saturating_add(part.len()).saturating_add(1);
        if len > max.saturating_add(1) {
            return Err(FormatError::BadValue {
                what: "symbolic link target length",
                value: len as u64,
            });
        }
        parts.push(part);
    }
    let joined = parts.join("/");
    Ok(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}

/// Encodes a `/`-separated target as path components.
pub fn encode(target: &str, out: &mut Vec<u8>) -> Result<()> {
    let mut push = |kind: u8, ident: &[u8]| -> Result<()> {
        let n = u8::try_from(ident.len()).map_err(|_| FormatError::BadValue {
            what: "path component length",
            value: ident.len() as u64,
        })?;
        out.extend_from_slice(&[kind, n, 0, 0]);
        out.extend_from_slice(ident);
        Ok(())
    };
    if target.starts_with('/') {
        push(ROOT, &[])?;
    }
    for comp in target.split('/').filter(|c| !c.is_empty()) {
        match comp {
            "." => push(CURRENT, &[])?,
            ".." => push(PARENT, &[])?,
            name => {
                let mut v = Vec::new();
                cs0::encode(name, &mut v);
                push(NAME, &v)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for t in ["../a.txt", "/etc/passwd", "./x/y", "名前", "/"] {
            let mut b = Vec::new();
            encode(t, &mut b).unwrap();
            assert_eq!(decode(&b, 4096).unwrap(), t, "{t}");
        }
    }

    #[test]
    fn hostile_components() {
        // A name with a slash in it.
        let b = [5, 4, 0, 0, 8, b'a', b'/', b'b'];
        assert!(decode(&b, 4096).is_err());
        // A component longer than the data.
        assert!(decode(&[5, 200, 0, 0, 8], 4096).is_err());
        // Unknown type.
        assert!(decode(&[9, 0, 0, 0], 4096).is_err());
        // Too long for the cap.
        let mut b = Vec::new();
        encode(&"x/".repeat(100), &mut b).unwrap();
        assert!(decode(&b, 50).is_err());
    }
}
