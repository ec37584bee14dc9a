//! Recorded file identifiers for each name space of an image: mapping host
//! names onto what ECMA-119 (levels 1 to 3), ISO 9660:1999 (level 4) and
//! Joliet allow, shortening, and making the names of one directory unique.
//!
//! The result depends only on the multiset of names in the directory, never
//! on the order in which the caller lists them, so two builds of the same
//! tree give the same image.
//!
//! # Rules
//!
//! | name space    | files                                   | directories              |
//! |---------------|-----------------------------------------|--------------------------|
//! | level 1       | `NAME.EXT;1`, name ≤ 8, extension ≤ 3   | ≤ 8, no dot              |
//! | levels 2, 3   | `NAME.EXT;1`, name + extension ≤ 30     | ≤ 31, no dot             |
//! | level 4       | ≤ 193 bytes of UTF-8, no version        | the same                 |
//! | Joliet        | ≤ 64 UTF-16 units (103 with `long`)     | the same                 |
//!
//! - The extension is the part after the last `.`; a leading dot does not
//!   start one (`.profile` has none). At levels 1 to 3 every other dot, and
//!   every dot of a directory name, becomes `_`, as identifiers there have a
//!   single separator and directory identifiers have none (ECMA-119 §7.6.1).
//! - Characters not allowed become one `_` each (a character, not a byte):
//!   at levels 1 to 3 anything but d-characters (ASCII letters are
//!   upper-cased unless `allow_lowercase`); at level 4 `/` and NUL; in Joliet
//!   `*` `/` `:` `;` `?` `\` and U+0000 to U+001F.
//! - A name too long is shortened at a character boundary (never inside a
//!   UTF-8 sequence or a surrogate pair) and keeps its extension: at level 1
//!   the extension is cut to 3; elsewhere the extension is only cut when the
//!   name part and the extension together do not fit: the name part keeps
//!   up to half of the room (rounded up), the extension gets what is left,
//!   and the name part is then cut to the rest.
//! - Names that still clash (case-insensitively at levels 1 to 3, exactly
//!   elsewhere; a file and a directory of the same name clash too) are
//!   resolved in byte order of the original names: the first keeps its
//!   name, the others get a counter at the end of the name part, before the
//!   extension: `_1`, `_2`, ... at levels 1 to 3 (d-characters only), `~1`,
//!   `~2`, ... at level 4 and in Joliet. Each clashing name counts from 1.
//!   The counter replaces the end of the name part so the length limit still
//!   holds, and skips every name already taken in the directory, so a
//!   suffixed name never takes a name that another child keeps unchanged.
//!   Counters are decimal; at level 1 a counter past 9999999 (which would
//!   not fit in 8 characters with its `_`) is written in base 36.
//!
//! Joliet identifiers carry no `;1`: genisoimage 1.1.11 and xorriso 1.5.4
//! (`-as mkisofs -J` and native `-joliet on`) record none, and readers strip
//! it when present.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use isoforge_format::strings::{encode_ucs2be, is_d_char};

/// [`Renamed::reason`] when a name was shortened.
pub const REASON_TOO_LONG: &str = "too long";
/// [`Renamed::reason`] when characters were replaced by `_`.
pub const REASON_CHARACTERS: &str = "characters not allowed";
/// [`Renamed::reason`] when a counter made the name unique.
pub const REASON_COLLISION: &str = "name collision";

/// A name space of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// ECMA-119 primary tree. level 1: 8.3 d-characters; levels 2 and 3: 31
    /// characters (d-characters and '.'); level 4 (ISO 9660:1999): up to 207
    /// bytes, any characters except '/' and NUL, no version suffix.
    ///
    /// A level of 0 is treated as 1 and a level above 4 as 4.
    Iso9660 {
        /// Interchange level, 1 to 4.
        level: u8,
        /// Keep lower-case ASCII letters at levels 1 to 3 (as
        /// `mkisofs -allow-lowercase`); upper-case them otherwise.
        allow_lowercase: bool,
    },
    /// Joliet: UCS-2BE (UTF-16BE with surrogate pairs for characters outside
    /// the BMP), 64 UTF-16 units, or 103 with `long`.
    Joliet {
        /// Allow 103 units (`-joliet-long`) instead of 64.
        long: bool,
    },
}

/// One child of a directory to be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child<'a> {
    /// The name in the source tree.
    pub name: &'a str,
    /// Whether the child is a directory (no version, and at levels 1 to 3
    /// no extension).
    pub is_dir: bool,
}

/// A name that had to be changed to fit a name space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The name in the source tree.
    pub original: String,
    /// The name recorded, as read back: without `;1` and without the dot
    /// of an empty extension.
    pub assigned: String,
    /// `"ISO 9660 level N"` or `"Joliet"`.
    pub namespace: &'static str,
    /// [`REASON_TOO_LONG`], [`REASON_CHARACTERS`] or [`REASON_COLLISION`],
    /// the first that applies in that order.
    pub reason: &'static str,
}

/// The name a recorded identifier stands for: ISO 9660 bytes (Latin-1 read
/// as such) or Joliet UCS-2BE, without the `;1` version and a trailing dot.
pub fn decode_id(id: &[u8], joliet: bool) -> String {
    let s: String = if joliet {
        let units: Vec<u16> = id
            .chunks_exact(2)
            .map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    } else {
        String::from_utf8(id.to_vec())
            .unwrap_or_else(|_| id.iter().map(|&b| char::from(b)).collect())
    };
    let s = match s.rsplit_once(';') {
        Some((base, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            base.to_string()
        }
        _ => s,
    };
    match s.strip_suffix('.') {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => s,
    }
}

/// Assigns the recorded file identifiers of all children of one directory.
///
/// Returns one identifier per child, in input order, as the bytes to record,
/// plus the names that were changed (in byte order of the original names).
/// ISO 9660 files at levels 1 to 3 get the `;1` version suffix and a `.`
/// even with no extension, as ECMA-119 requires; directories get neither.
/// Joliet identifiers are UCS-2BE bytes without a version suffix, as
/// genisoimage and xorriso record them. Level 4 identifiers are UTF-8.
///
/// Upper-casing and the `;1` suffix are the normal ISO 9660 form and are not
/// reported; shortening, replaced characters and collision counters are.
///
/// Deterministic: the result depends only on the multiset of children, never
/// on their input order. Two identical children get different identifiers;
/// the one earlier in the input gets the unchanged one.
pub fn assign(ns: Namespace, children: &[Child<'_>]) -> (Vec<Vec<u8>>, Vec<Renamed>) {
    let kind = Kind::of(ns);
    let mut sorted: Vec<(usize, &Child<'_>)> = children.iter().enumerate().collect();
    // Stable: identical children keep their input order.
    sorted
        .sort_by(|a, b| (a.1.name.as_bytes(), a.1.is_dir).cmp(&(b.1.name.as_bytes(), b.1.is_dir)));

    let mut used: HashSet<String> = HashSet::with_capacity(children.len());
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); children.len()];
    let mut renamed = Vec::new();
    let mut pending = Vec::new();

    // Pass 1: every child whose mapped name is still free keeps it, so that
    // pass 2's counters can never take a name another child keeps.
    for &(idx, child) in &sorted {
        let rules = Rules::new(kind, child.is_dir);
        let mapped = rules.map(child.name);
        let plain = rules.shape(&mapped.base, mapped.ext.as_deref(), "");
        let (shaped, truncated) = match plain {
            Some(s) => {
                let truncated = s.truncated;
                (s, truncated)
            }
            // The empty suffix always fits; keep the mapped name regardless.
            None => (
                Shaped {
                    base: mapped.base.clone(),
                    ext: mapped.ext.clone(),
                    truncated: false,
                },
                false,
            ),
        };
        let key = rules.key(&shaped);
        if used.insert(key) {
            record(
                &mut out,
                &mut renamed,
                idx,
                child,
                &rules,
                &shaped,
                Flags {
                    truncated,
                    replaced: mapped.replaced,
                    suffixed: false,
                },
            );
        } else {
            pending.push((idx, child, rules, mapped, shaped, truncated));
        }
    }

    // Pass 2: the rest get counters, in sorted order. Counters count up per
    // clashing name, so a directory of many clashing names takes linear time.
    let mut next: HashMap<String, u64> = HashMap::new();
    for (idx, child, rules, mapped, plain, truncated) in pending {
        let max_digits = rules.max_suffix().saturating_sub(1);
        let group = rules.key(&plain);
        let first = next.get(&group).copied().unwrap_or(1);
        let mut chosen = None;
        for n in first..=u64::MAX {
            let Some(digits) = counter(n, max_digits) else {
                // Unreachable: 36^max_digits exceeds any directory that
                // fits in memory (max_digits >= 7).
                break;
            };
            let suffix = format!("{}{digits}", rules.sep);
            let Some(candidate) = rules.shape(&mapped.base, mapped.ext.as_deref(), &suffix) else {
                break;
            };
            if used.insert(rules.key(&candidate)) {
                chosen = Some(candidate);
                next.insert(group, n.saturating_add(1));
                break;
            }
        }
        let suffixed = chosen.is_some();
        let shaped = chosen.unwrap_or(plain);
        record(
            &mut out,
            &mut renamed,
            idx,
            child,
            &rules,
            &shaped,
            Flags {
                // A counter that pushes characters out is the collision,
                // not the length, so only the plain shape's cut counts.
                truncated,
                replaced: mapped.replaced,
                suffixed,
            },
        );
    }
    // Stable: for equal originals the unchanged-or-shortened one stays first.
    renamed.sort_by(|a, b| a.original.cmp(&b.original));
    (out, renamed)
}

/// What was lost on the way from the original to the recorded name.
#[derive(Clone, Copy)]
struct Flags {
    truncated: bool,
    replaced: bool,
    suffixed: bool,
}

impl Flags {
    fn reason(self) -> Option<&'static str> {
        if self.truncated {
            Some(REASON_TOO_LONG)
        } else if self.replaced {
            Some(REASON_CHARACTERS)
        } else if self.suffixed {
            Some(REASON_COLLISION)
        } else {
            None
        }
    }
}

fn record(
    out: &mut [Vec<u8>],
    renamed: &mut Vec<Renamed>,
    idx: usize,
    child: &Child<'_>,
    rules: &Rules,
    shaped: &Shaped,
    flags: Flags,
) {
    if let Some(slot) = out.get_mut(idx) {
        *slot = rules.encode(shaped);
    }
    if let Some(reason) = flags.reason() {
        renamed.push(Renamed {
            original: child.name.to_string(),
            assigned: rules.readable(shaped),
            namespace: rules.kind.label(),
            reason,
        });
    }
}

/// The name space with the level normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Levels 1 to 3: d-characters, `NAME.EXT;1`.
    Strict { level: u8, lower: bool },
    /// ISO 9660:1999.
    Level4,
    /// Joliet, with its limit in UTF-16 units.
    Joliet { limit: usize },
}

impl Kind {
    fn of(ns: Namespace) -> Self {
        match ns {
            Namespace::Iso9660 {
                level,
                allow_lowercase,
            } => match level {
                0..=3 => Kind::Strict {
                    level: level.max(1),
                    lower: allow_lowercase,
                },
                _ => Kind::Level4,
            },
            Namespace::Joliet { long } => Kind::Joliet {
                limit: if long { 103 } else { 64 },
            },
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Strict { level: 1, .. } => "ISO 9660 level 1",
            Kind::Strict { level: 2, .. } => "ISO 9660 level 2",
            Kind::Strict { .. } => "ISO 9660 level 3",
            Kind::Level4 => "ISO 9660 level 4",
            Kind::Joliet { .. } => "Joliet",
        }
    }

    /// Room a character takes against the length limit.
    fn weight(self, c: char) -> usize {
        match self {
            Kind::Strict { .. } => 1,
            Kind::Level4 => c.len_utf8(),
            Kind::Joliet { .. } => c.len_utf16(),
        }
    }

    /// The recorded character for `c`, and whether it was replaced.
    fn map_char(self, c: char) -> (char, bool) {
        match self {
            Kind::Strict { lower, .. } => {
                if c.is_ascii_lowercase() {
                    (if lower { c } else { c.to_ascii_uppercase() }, false)
                } else if u8::try_from(c).is_ok_and(|b| b.is_ascii() && is_d_char(b)) {
                    (c, false)
                } else {
                    ('_', true)
                }
            }
            Kind::Level4 => {
                if c == '/' || c == '\0' {
                    ('_', true)
                } else {
                    (c, false)
                }
            }
            Kind::Joliet { .. } => {
                if matches!(c, '*' | '/' | ':' | ';' | '?' | '\\') || c < ' ' {
                    ('_', true)
                } else {
                    (c, false)
                }
            }
        }
    }
}

/// Length limits for one kind of child in one name space. Limits exclude
/// the `.` before the extension and the `;1`.
struct Rules {
    kind: Kind,
    is_dir: bool,
    /// Whether the last `.` separates an extension.
    split_ext: bool,
    /// Most room for the name part.
    base_cap: usize,
    /// Most room for the extension.
    ext_cap: usize,
    /// Most room for name part plus extension, when there is a dot.
    with_ext: usize,
    /// Most room for the name when there is no dot.
    without_ext: usize,
    /// Starts the collision counter.
    sep: char,
}

impl Rules {
    fn new(kind: Kind, is_dir: bool) -> Self {
        let (split_ext, base_cap, ext_cap, with_ext, without_ext, sep) = match kind {
            Kind::Strict { level: 1, .. } if is_dir => (false, 8, 0, 8, 8, '_'),
            Kind::Strict { level: 1, .. } => (true, 8, 3, 11, 8, '_'),
            Kind::Strict { .. } if is_dir => (false, 31, 0, 31, 31, '_'),
            // ECMA-119 §7.5.1: name + extension <= 30, dot and ";1" excluded.
            Kind::Strict { .. } => (true, 30, 30, 30, 30, '_'),
            // ISO 9660:1999 allows 207 bytes; 193 leaves room in the record
            // for the 28-byte CE entry that points at Rock Ridge data.
            Kind::Level4 => (true, 193, 192, 192, 193, '~'),
            Kind::Joliet { limit } => (
                true,
                limit,
                limit.saturating_sub(1),
                limit.saturating_sub(1),
                limit,
                '~',
            ),
        };
        Rules {
            kind,
            is_dir,
            split_ext,
            base_cap,
            ext_cap,
            with_ext,
            without_ext,
            sep,
        }
    }

    /// Whether identifiers get `.` and `;1` (ECMA-119 files).
    fn versioned(&self) -> bool {
        matches!(self.kind, Kind::Strict { .. }) && !self.is_dir
    }

    /// Longest suffix that fits in every shape.
    fn max_suffix(&self) -> usize {
        self.base_cap.min(self.without_ext).min(self.with_ext)
    }

    fn map(&self, name: &str) -> Mapped {
        let chars: Vec<char> = name.chars().collect();
        let dot = if self.split_ext {
            chars.iter().rposition(|&c| c == '.').filter(|&p| p > 0)
        } else {
            None
        };
        let (base_src, ext_src) = match dot.and_then(|p| chars.split_at_checked(p)) {
            Some((base, rest)) => (base, Some(rest.get(1..).unwrap_or_default())),
            None => (chars.as_slice(), None),
        };
        let mut replaced = false;
        let mut conv = |src: &[char]| -> Vec<char> {
            src.iter()
                .map(|&c| {
                    let (m, r) = self.kind.map_char(c);
                    replaced |= r;
                    m
                })
                .collect()
        };
        let mut base = conv(base_src);
        let ext = ext_src.map(&mut conv);
        if base.is_empty() && ext.as_ref().is_none_or(Vec::is_empty) {
            base.push('_');
            replaced = true;
        }
        Mapped {
            base,
            ext,
            replaced,
        }
    }

    /// Fits `base` + `suffix` and `ext` into the limits, or `None` when the
    /// suffix alone does not fit.
    fn shape(&self, base: &[char], ext: Option<&[char]>, suffix: &str) -> Option<Shaped> {
        let w = |s: &[char]| s.iter().map(|&c| self.kind.weight(c)).sum::<usize>();
        let sw: usize = suffix.chars().map(|c| self.kind.weight(c)).sum();
        let ext_len = ext.map_or(0, <[char]>::len);
        let (ext, base_room) = match ext {
            None => (None, self.base_cap.min(self.without_ext)),
            Some(ext) => {
                let room = self.with_ext;
                // A long name part leaves the extension at most half the room;
                // a short one leaves it the rest.
                let want = w(base).saturating_add(sw);
                let half = room.saturating_sub(room / 2);
                let budget = self
                    .ext_cap
                    .min(room.saturating_sub(want.min(half)))
                    .min(room.saturating_sub(sw));
                let kept = cut(ext, budget, self.kind);
                let base_room = self.base_cap.min(room.saturating_sub(w(&kept)));
                (Some(kept), base_room)
            }
        };
        if sw > base_room {
            return None;
        }
        let mut new_base = cut(base, base_room.saturating_sub(sw), self.kind);
        let truncated = new_base.len() < base.len() || ext.as_ref().map_or(0, Vec::len) < ext_len;
        new_base.extend(suffix.chars());
        Some(Shaped {
            base: new_base,
            ext,
            truncated,
        })
    }

    /// The name as read back: no `;1`, no dot before an empty extension at
    /// levels 1 to 3.
    fn readable(&self, s: &Shaped) -> String {
        let mut r: String = s.base.iter().collect();
        if let Some(ext) = &s.ext {
            if !ext.is_empty() || !matches!(self.kind, Kind::Strict { .. }) {
                r.push('.');
                r.extend(ext.iter());
            }
        }
        r
    }

    /// What two names must not share in one directory.
    fn key(&self, s: &Shaped) -> String {
        let r = self.readable(s);
        match self.kind {
            Kind::Strict { .. } => r.to_ascii_uppercase(),
            _ => r,
        }
    }

    fn encode(&self, s: &Shaped) -> Vec<u8> {
        let mut id = self.readable(s);
        if self.versioned() {
            if s.ext.as_ref().is_none_or(Vec::is_empty) {
                id.push('.');
            }
            id.push_str(";1");
        }
        match self.kind {
            Kind::Joliet { .. } => {
                let mut out = Vec::with_capacity(id.len().saturating_mul(2));
                encode_ucs2be(&id, &mut out);
                out
            }
            _ => id.into_bytes(),
        }
    }
}

/// A name after character mapping, before shortening.
struct Mapped {
    base: Vec<char>,
    /// `Some` when the name has a separating dot (possibly with nothing after).
    ext: Option<Vec<char>>,
    replaced: bool,
}

/// A name that fits the limits.
struct Shaped {
    base: Vec<char>,
    ext: Option<Vec<char>>,
    truncated: bool,
}

/// The longest prefix of `s` whose weight is at most `budget`.
fn cut(s: &[char], budget: usize, kind: Kind) -> Vec<char> {
    let mut used = 0usize;
    s.iter()
        .take_while(|&&c| {
            used = used.saturating_add(kind.weight(c));
            used <= budget
        })
        .copied()
        .collect()
}

/// Decimal digits of `n`, or base-36 digits when decimal would be longer
/// than `max_digits`; `None` when neither fits.
fn counter(n: u64, max_digits: usize) -> Option<String> {
    let dec = n.to_string();
    if dec.len() <= max_digits {
        return Some(dec);
    }
    let mut digits = Vec::new();
    let mut v = n;
    while v > 0 {
        let d = u32::try_from(v % 36)
            .ok()
            .and_then(|d| char::from_digit(d, 36))?;
        digits.push(d.to_ascii_uppercase());
        v /= 36;
    }
    (digits.len() <= max_digits).then(|| digits.iter().rev().collect())
}

/// ECMA-119 §9.3 ordering of directory records by file identifier (name
/// part padded with 0x20, then extension padded, then version descending);
/// for Joliet identifiers UCS-2 units are compared the same way (padding
/// 0x0020), as the Joliet specification asks.
///
/// The name part ends at the first `.`, the version starts after the last
/// `;`. The identifiers of `.` (0x00) and `..` (0x01) come first. Identifiers
/// equal under padding are ordered by their bytes, so this is a total order.
///
/// genisoimage and xorriso order Joliet records by plain UCS-2 comparison,
/// which differs from this one only for names with characters below `.`
/// (space, `!`, `-`, ...) where a name part of one is a prefix of another's.
pub fn record_order(a: &[u8], b: &[u8], joliet: bool) -> Ordering {
    fn rank(id: &[u8]) -> u8 {
        match id {
            [0] => 0,
            [1] => 1,
            _ => 2,
        }
    }
    rank(a).cmp(&rank(b)).then_with(|| {
        let ua = units(a, joliet);
        let ub = units(b, joliet);
        let pa = Parts::of(&ua);
        let pb = Parts::of(&ub);
        padded_cmp(pa.name, pb.name)
            .then_with(|| padded_cmp(pa.ext, pb.ext))
            .then_with(|| pb.version().cmp(&pa.version()))
            .then_with(|| a.cmp(b))
    })
}

fn units(id: &[u8], joliet: bool) -> Vec<u16> {
    if joliet {
        id.chunks_exact(2)
            .map(|c| u16::from_be_bytes(<[u8; 2]>::try_from(c).unwrap_or_default()))
            .collect()
    } else {
        id.iter().map(|&b| u16::from(b)).collect()
    }
}

struct Parts<'a> {
    name: &'a [u16],
    ext: &'a [u16],
    version: Option<&'a [u16]>,
}

impl<'a> Parts<'a> {
    fn of(id: &'a [u16]) -> Self {
        let (head, version) = match id.iter().rposition(|&u| u == u16::from(b';')) {
            Some(p) => match id.split_at_checked(p) {
                Some((h, v)) => (h, Some(v.get(1..).unwrap_or_default())),
                None => (id, None),
            },
            None => (id, None),
        };
        let (name, ext) = match head.iter().position(|&u| u == u16::from(b'.')) {
            Some(p) => match head.split_at_checked(p) {
                Some((n, e)) => (n, e.get(1..).unwrap_or_default()),
                None => (head, &[][..]),
            },
            None => (head, &[][..]),
        };
        Parts { name, ext, version }
    }

    /// The version number; absent or not a number sorts below any number.
    fn version(&self) -> Option<u64> {
        let v = self.version?;
        if v.is_empty() {
            return None;
        }
        v.iter().try_fold(0u64, |acc, &u| {
            let d = char::from_u32(u32::from(u))?.to_digit(10)?;
            Some(acc.saturating_mul(10).saturating_add(u64::from(d)))
        })
    }
}

fn padded_cmp(a: &[u16], b: &[u16]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0x20);
            let y = b.get(i).copied().unwrap_or(0x20);
            x.cmp(&y)
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use isoforge_format::strings::decode_ucs2be;
    use proptest::prelude::*;

    const L1: Namespace = Namespace::Iso9660 {
        level: 1,
        allow_lowercase: false,
    };
    const L2: Namespace = Namespace::Iso9660 {
        level: 2,
        allow_lowercase: false,
    };
    const L3: Namespace = Namespace::Iso9660 {
        level: 3,
        allow_lowercase: false,
    };
    const L4: Namespace = Namespace::Iso9660 {
        level: 4,
        allow_lowercase: false,
    };
    const J: Namespace = Namespace::Joliet { long: false };
    const JL: Namespace = Namespace::Joliet { long: true };

    fn files(names: &[&'static str]) -> Vec<Child<'static>> {
        names
            .iter()
            .map(|&name| Child {
                name,
                is_dir: false,
            })
            .collect()
    }

    /// Identifiers as strings (Joliet decoded).
    fn ids(ns: Namespace, children: &[Child<'_>]) -> Vec<String> {
        let (out, _) = assign(ns, children);
        out.iter()
            .map(|b| match ns {
                Namespace::Joliet { .. } => decode_ucs2be(b),
                Namespace::Iso9660 { .. } => String::from_utf8(b.clone()).unwrap(),
            })
            .collect()
    }

    fn one(ns: Namespace, name: &str, is_dir: bool) -> (String, Vec<Renamed>) {
        let (out, renamed) = assign(ns, &[Child { name, is_dir }]);
        let s = match ns {
            Namespace::Joliet { .. } => decode_ucs2be(&out[0]),
            Namespace::Iso9660 { .. } => String::from_utf8(out[0].clone()).unwrap(),
        };
        (s, renamed)
    }

    #[test]
    fn level1_plain_names_get_version_and_dot() {
        assert_eq!(
            one(L1, "readme.txt", false),
            ("README.TXT;1".into(), vec![])
        );
        assert_eq!(one(L1, "Makefile", false), ("MAKEFILE.;1".into(), vec![]));
        assert_eq!(one(L1, "boot", true), ("BOOT".into(), vec![]));
        assert_eq!(one(L1, "foo.", false), ("FOO.;1".into(), vec![]));
    }

    #[test]
    fn level1_shortening_keeps_extension() {
        let (id, r) = one(L1, "verylongname.markdown", false);
        assert_eq!(id, "VERYLONG.MAR;1");
        assert_eq!(
            r,
            vec![Renamed {
                original: "verylongname.markdown".into(),
                assigned: "VERYLONG.MAR".into(),
                namespace: "ISO 9660 level 1",
                reason: REASON_TOO_LONG,
            }]
        );
        assert_eq!(one(L1, "archive.tar.gz", false).0, "ARCHIVE_.GZ;1");
        assert_eq!(one(L1, "subdir.d", true).0, "SUBDIR_D");
        assert_eq!(one(L1, "a.very.long.dir", true).0, "A_VERY_L");
    }

    #[test]
    fn level1_characters() {
        let (id, r) = one(L1, "résumé.txt", false);
        assert_eq!(id, "R_SUM_.TXT;1");
        assert_eq!(r[0].reason, REASON_CHARACTERS);
        assert_eq!(one(L1, ".profile", false).0, "_PROFILE.;1");
        assert_eq!(one(L1, "a b-c", false).0, "A_B_C.;1");
        // Emoji: one '_' per character, not per UTF-8 byte or UTF-16 unit.
        assert_eq!(one(L1, "\u{1F600}x", false).0, "_X.;1");
    }

    #[test]
    fn lowercase_allowed() {
        let ns = Namespace::Iso9660 {
            level: 2,
            allow_lowercase: true,
        };
        assert_eq!(
            one(ns, "Readme.txt", false),
            ("Readme.txt;1".into(), vec![])
        );
        // Case-folded collision even so.
        let ch = files(&["a", "A"]);
        assert_eq!(ids(ns, &ch), ["a_1.;1", "A.;1"]);
    }

    #[test]
    fn level2_lengths() {
        let long = "abcdefghijklmnopqrstuvwxyz0123456789.txt";
        let (id, r) = one(L2, long, false);
        assert_eq!(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0.TXT;1");
        assert_eq!(id.len(), 31 + 2);
        assert_eq!(r[0].assigned, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0.TXT");
        // Exactly 30 + dot fits.
        let fits = "abcdefghijklmnopqrstuvwxyz.abcd";
        assert_eq!(
            one(L3, fits, false),
            (format!("{};1", fits.to_uppercase()), vec![])
        );
        // Long extension with short name: extension gets the rest.
        let (id, _) = one(L2, "a.abcdefghijklmnopqrstuvwxyz0123456789", false);
        assert_eq!(id, "A.ABCDEFGHIJKLMNOPQRSTUVWXYZ012;1");
        // Both long: name part keeps 15, extension 15.
        let (id, _) = one(L2, &format!("{}.{}", "n".repeat(40), "e".repeat(40)), false);
        assert_eq!(id, format!("{}.{};1", "N".repeat(15), "E".repeat(15)));
        // Directories: 31, no dots.
        let (id, r) = one(L2, &"d.".repeat(20), true);
        assert_eq!(id, "D_".repeat(16)[..31]);
        assert_eq!(r[0].reason, REASON_TOO_LONG);
    }

    #[test]
    fn collisions_keep_extension_and_length() {
        let ch = files(&[
            "verylongname2.txt",
            "verylongname1.txt",
            "VERYLONGNAME3.TXT",
        ]);
        assert_eq!(
            ids(L1, &ch),
            ["VERYLO_2.TXT;1", "VERYLO_1.TXT;1", "VERYLONG.TXT;1"]
        );
        let (_, r) = assign(L1, &ch);
        // Sorted by original bytes; reasons say the first loss.
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|r| r.reason == REASON_TOO_LONG));
        // A counter never takes a name another child keeps.
        let ch = files(&["a", "A", "a_1"]);
        assert_eq!(ids(L2, &ch), ["A_2.;1", "A.;1", "A_1.;1"]);
        let (_, r) = assign(L2, &ch);
        assert_eq!(
            r,
            vec![Renamed {
                original: "a".into(),
                assigned: "A_2".into(),
                namespace: "ISO 9660 level 2",
                reason: REASON_COLLISION,
            }]
        );
        // File and directory of the same name clash.
        let ch = [
            Child {
                name: "x",
                is_dir: false,
            },
            Child {
                name: "x",
                is_dir: true,
            },
        ];
        assert_eq!(ids(L1, &ch), ["X.;1", "X_1"]);
        assert_eq!(ids(J, &ch), ["x", "x~1"]);
    }

    #[test]
    fn counter_replaces_end_of_full_name() {
        let ch = files(&["abcdefgh.c", "ABCDEFGH.C"]);
        assert_eq!(ids(L1, &ch), ["ABCDEF_1.C;1", "ABCDEFGH.C;1"]);
        let n = "x".repeat(64);
        let names = [n.as_str(), n.as_str()];
        let ch: Vec<Child<'_>> = names
            .iter()
            .map(|&name| Child {
                name,
                is_dir: false,
            })
            .collect();
        let got = ids(J, &ch);
        assert_eq!(got[0], n);
        assert_eq!(got[1], format!("{}~1", "x".repeat(62)));
    }

    #[test]
    fn many_clashes_stay_fast_and_unique() {
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("img_20230101_{i:05}.jpg"))
            .chain(std::iter::repeat_n("a".to_string(), 20_000))
            .collect();
        let ch: Vec<Child<'_>> = names
            .iter()
            .map(|name| Child {
                name,
                is_dir: false,
            })
            .collect();
        let start = std::time::Instant::now();
        let (out, renamed) = assign(L1, &ch);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(out.iter().collect::<HashSet<_>>().len(), ch.len());
        assert_eq!(out[0], b"IMG_2023.JPG;1");
        assert_eq!(out[1], b"IMG_20_1.JPG;1");
        // Counter 2023 would give "IMG_2023", the name the first one keeps.
        assert_eq!(out[2023], b"IMG_2024.JPG;1");
        assert_eq!(out[19_999], b"IM_20000.JPG;1");
        assert_eq!(out[20_001], b"A_1.;1");
        assert_eq!(renamed.len(), 20_000 + 19_999);
    }

    #[test]
    fn counter_format() {
        assert_eq!(counter(7, 7).as_deref(), Some("7"));
        assert_eq!(counter(9_999_999, 7).as_deref(), Some("9999999"));
        assert_eq!(counter(10_000_000, 7).as_deref(), Some("5YC1S"));
        assert_eq!(counter(u64::MAX, 7), None);
    }

    #[test]
    fn joliet_unchanged_and_mapped() {
        let name = "Long File Name With Spaces and.ext";
        let (out, r) = assign(
            J,
            &[Child {
                name,
                is_dir: false,
            }],
        );
        let mut want = Vec::new();
        encode_ucs2be(name, &mut want);
        assert_eq!(out, vec![want]);
        assert!(r.is_empty());
        let (id, r) = one(J, "a:b*c?.txt", false);
        assert_eq!(id, "a_b_c_.txt");
        assert_eq!(r[0].reason, REASON_CHARACTERS);
        assert_eq!(one(J, "tab\there", false).0, "tab_here");
        // Names differing only in case are distinct in Joliet.
        assert_eq!(ids(J, &files(&["a", "A"])), ["a", "A"]);
    }

    #[test]
    fn joliet_shortening_never_splits_surrogates() {
        // 63 units of 'a' then an emoji (2 units) then ".txt": 69 units.
        let name = format!("{}\u{1F600}.txt", "a".repeat(63));
        let (id, r) = one(J, &name, false);
        // Name part room: 64 - 4 ("txt" + dot) = 60 units.
        assert_eq!(id, format!("{}.txt", "a".repeat(60)));
        assert_eq!(r[0].reason, REASON_TOO_LONG);
        let name = format!("{}.txt", "\u{1F600}".repeat(40));
        let (out, _) = assign(
            J,
            &[Child {
                name: &name,
                is_dir: false,
            }],
        );
        let units = out[0].len() / 2;
        assert!(units <= 64);
        let decoded: Result<String, _> = char::decode_utf16(
            out[0]
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect();
        assert_eq!(decoded.unwrap(), format!("{}.txt", "\u{1F600}".repeat(30)));
        // 103 with long.
        let name = "b".repeat(120);
        assert_eq!(one(JL, &name, true).0, "b".repeat(103));
    }

    #[test]
    fn level4() {
        assert_eq!(one(L4, "Makefile", false), ("Makefile".into(), vec![]));
        assert_eq!(one(L4, "a b;c.txt", false).0, "a b;c.txt");
        assert_eq!(one(L4, "a\0b", false).0, "a_b");
        let name = format!("{}.tar.gz", "é".repeat(150));
        let (id, r) = one(L4, &name, false);
        assert!(id.len() <= 193 && id.len() >= 190, "{}", id.len());
        assert!(id.ends_with(".gz"));
        assert!(id.trim_end_matches(".gz").chars().all(|c| c == 'é'));
        assert_eq!(r[0].reason, REASON_TOO_LONG);
    }

    #[test]
    fn odd_levels_and_empty_names_do_not_panic() {
        for level in [0, 5, 255] {
            let ns = Namespace::Iso9660 {
                level,
                allow_lowercase: false,
            };
            let (out, _) = assign(ns, &files(&["", "", "."]));
            assert_eq!(out.len(), 3);
        }
        assert_eq!(ids(L1, &files(&["", ""])), ["_.;1", "__1.;1"]);
        assert_eq!(ids(J, &files(&[""])), ["_"]);
    }

    #[test]
    fn record_order_ecma119() {
        let mut v: Vec<&[u8]> = vec![
            b"A_B.C;1", b"AB.;1", b"A.BZ;1", b"\x01", b"A.;1", b"A.B;1", b"\x00", b"A_.;1",
            b"A.B;2",
        ];
        v.sort_by(|a, b| record_order(a, b, false));
        let want: Vec<&[u8]> = vec![
            b"\x00", b"\x01", b"A.;1", b"A.B;2", b"A.B;1", b"A.BZ;1", b"AB.;1", b"A_.;1",
            b"A_B.C;1",
        ];
        assert_eq!(v, want);
        // Padding, not plain byte order: "A-B" (name "A-B") sorts after
        // "A.X" (name "A" padded with a space, which is below '-').
        assert_eq!(record_order(b"A.X", b"A-B", false), Ordering::Less);
        assert_eq!(record_order(b"AB", b"AB", false), Ordering::Equal);
        let j = |s: &str| {
            let mut v = Vec::new();
            encode_ucs2be(s, &mut v);
            v
        };
        assert_eq!(record_order(&j("a.b"), &j("a b"), true), Ordering::Less);
        assert_eq!(record_order(&j("a"), &j("ab"), true), Ordering::Less);
        assert_eq!(record_order(&[0], &j("a"), true), Ordering::Less);
        // Equal under padding still ordered.
        assert_eq!(record_order(&j("a "), &j("a"), true), Ordering::Greater);
    }

    /// Names from a small pool (to collide), anything printable, anything
    /// at all, and long ones.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "a", "A", "a.txt", "A.TXT", "a_1", "A_1.TXT", "a~1", ".x", "x.", "read me", "é",
            ])
            .prop_map(str::to_string),
            "[a-zA-Z0-9._~ -]{1,12}",
            ".{1,40}",
            "\\PC{1,20}",
            "[a-z\u{e9}\u{1F600}]{30,120}(\\.[a-z\u{1F600}]{0,40})?",
        ]
    }

    fn children() -> impl Strategy<Value = Vec<(String, bool)>> {
        prop::collection::vec((name(), any::<bool>()), 0..24)
    }

    fn namespace() -> impl Strategy<Value = Namespace> {
        prop_oneof![
            (1u8..=4, any::<bool>()).prop_map(|(level, allow_lowercase)| Namespace::Iso9660 {
                level,
                allow_lowercase
            }),
            any::<bool>().prop_map(|long| Namespace::Joliet { long }),
        ]
    }

    /// Checks one identifier against the name space; returns the collision key.
    fn check(ns: Namespace, id: &[u8], is_dir: bool) -> Result<String, TestCaseError> {
        match ns {
            Namespace::Iso9660 {
                level: 1..=3,
                allow_lowercase,
            } => {
                let level = match ns {
                    Namespace::Iso9660 { level, .. } => level,
                    Namespace::Joliet { .. } => 0,
                };
                let s = std::str::from_utf8(id).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let ok = |c: char| {
                    u8::try_from(c).is_ok_and(is_d_char)
                        || (allow_lowercase && c.is_ascii_lowercase())
                };
                if is_dir {
                    prop_assert!(s.chars().all(ok), "{s:?}");
                    let limit = if level == 1 { 8 } else { 31 };
                    prop_assert!(s.len() <= limit, "{s:?}");
                    Ok(s.to_ascii_uppercase())
                } else {
                    let body = s.strip_suffix(";1");
                    prop_assert!(body.is_some(), "{s:?}");
                    let body = body.unwrap_or_default();
                    let (n, e) = body.split_once('.').unwrap_or((body, "!"));
                    prop_assert!(n.chars().all(ok) && e.chars().all(ok), "{s:?}");
                    if level == 1 {
                        prop_assert!(n.len() <= 8 && e.len() <= 3, "{s:?}");
                    } else {
                        prop_assert!(n.len() + e.len() <= 30, "{s:?}");
                    }
                    prop_assert!(!n.is_empty() || !e.is_empty(), "{s:?}");
                    let key = if e.is_empty() {
                        n.to_string()
                    } else {
                        format!("{n}.{e}")
                    };
                    Ok(key.to_ascii_uppercase())
                }
            }
            Namespace::Iso9660 { .. } => {
                let s = std::str::from_utf8(id).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(!s.is_empty() && s.len() <= 207, "{s:?}");
                prop_assert!(!s.contains(['/', '\0']), "{s:?}");
                Ok(s.to_string())
            }
            Namespace::Joliet { long } => {
                prop_assert!(id.len().is_multiple_of(2));
                let limit = if long { 103 } else { 64 };
                prop_assert!(!id.is_empty() && id.len() / 2 <= limit, "{id:?}");
                let s: Result<String, _> = char::decode_utf16(
                    id.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])),
                )
                .collect();
                let s = s.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(
                    !s.chars()
                        .any(|c| matches!(c, '*' | '/' | ':' | ';' | '?' | '\\') || c < ' '),
                    "{s:?}"
                );
                Ok(s)
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn names_are_valid_unique_and_order_independent(
            ns in namespace(),
            (list, shuffled) in children().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        ) {
            let ch: Vec<Child<'_>> = list.iter().map(|(n, d)| Child { name: n, is_dir: *d }).collect();
            let (out, renamed) = assign(ns, &ch);
            prop_assert_eq!(out.len(), ch.len());
            let mut keys = HashSet::new();
            for (id, c) in out.iter().zip(&ch) {
                let key = check(ns, id, c.is_dir)?;
                prop_assert!(keys.insert(key.clone()), "duplicate {:?} in {:?}", key, out);
            }
            for r in &renamed {
                prop_assert!(list.iter().any(|(n, _)| *n == r.original));
            }
            // Same multiset, other order: same (child, identifier) pairs.
            let ch2: Vec<Child<'_>> = shuffled.iter().map(|(n, d)| Child { name: n, is_dir: *d }).collect();
            let (out2, renamed2) = assign(ns, &ch2);
            let pairs = |c: &[Child<'_>], o: &[Vec<u8>]| {
                let mut p: Vec<(String, bool, Vec<u8>)> =
                    c.iter().zip(o).map(|(c, o)| (c.name.to_string(), c.is_dir, o.clone())).collect();
                p.sort();
                p
            };
            prop_assert_eq!(pairs(&ch, &out), pairs(&ch2, &out2));
            prop_assert_eq!(renamed, renamed2);
        }

        #[test]
        fn fitting_names_are_unchanged(ns in namespace(), n in "[a-z0-9]{1,8}(\\.[a-z0-9]{1,3})?") {
            let (out, renamed) = assign(ns, &[Child { name: &n, is_dir: false }]);
            prop_assert!(renamed.is_empty());
            let want = match ns {
                Namespace::Iso9660 { level: 4.., .. } => n.clone().into_bytes(),
                Namespace::Iso9660 { allow_lowercase, .. } => {
                    let u = if allow_lowercase { n.clone() } else { n.to_ascii_uppercase() };
                    let dot = if n.contains('.') { "" } else { "." };
                    format!("{u}{dot};1").into_bytes()
                }
                Namespace::Joliet { .. } => {
                    let mut v = Vec::new();
                    encode_ucs2be(&n, &mut v);
                    v
                }
            };
            prop_assert_eq!(&out[0], &want);
        }

        #[test]
        fn record_order_is_a_total_order(
            a in prop::collection::vec(any::<u8>(), 0..12),
            b in prop::collection::vec(any::<u8>(), 0..12),
            c in prop::collection::vec(any::<u8>(), 0..12),
            joliet in any::<bool>(),
        ) {
            let o = |x: &[u8], y: &[u8]| record_order(x, y, joliet);
            prop_assert_eq!(o(&a, &b), o(&b, &a).reverse());
            prop_assert_eq!(o(&a, &b) == Ordering::Equal, a == b);
            if o(&a, &b) != Ordering::Greater && o(&b, &c) != Ordering::Greater {
                prop_assert_ne!(o(&a, &c), Ordering::Greater);
            }
        }
    }
}
