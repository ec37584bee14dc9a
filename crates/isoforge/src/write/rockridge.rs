//! Rock Ridge (SUSP + RRIP) entries for directory records.

use isoforge_format::rrip::{encode_entry, Px};
use isoforge_format::susp::ExtensionRef;
use isoforge_format::time::IsoTime;
use zerocopy::IntoBytes;

use super::builder::{RrVersion, Time};
use isoforge_format::num::Both32;

/// Largest SUSP entry.
const MAX_ENTRY: usize = 255;

/// System use entries, one after another in one buffer, and where each ends.
#[derive(Debug, Default)]
pub(crate) struct Entries {
    /// The entries' bytes.
    pub bytes: Vec<u8>,
    /// End offset of each entry in `bytes`.
    pub ends: Vec<usize>,
}

/// RR flag bits.
pub mod rr_flag {
    /// PX present.
    pub const PX: u8 = 1;
    /// PN present.
    pub const PN: u8 = 2;
    /// SL present.
    pub const SL: u8 = 4;
    /// NM present.
    pub const NM: u8 = 8;
    /// CL present.
    pub const CL: u8 = 16;
    /// PL present.
    pub const PL: u8 = 32;
    /// RE present.
    pub const RE: u8 = 64;
    /// TF present.
    pub const TF: u8 = 128;
}

/// The 7-byte form of a time (years outside 1900-2155 clamp).
pub fn dir_time(t: Time) -> [u8; 7] {
    IsoTime {
        unix: t.secs,
        nanos: 0,
        offset_quarters: 0,
    }
    .to_dir_bytes()
}

/// SP: SUSP is in use, no bytes skipped.
pub fn sp() -> Vec<u8> {
    Entries::one(Entries::sp)
}

/// RR (RRIP 1.09): which entries the record carries.
pub fn rr(flags: u8) -> Vec<u8> {
    Entries::one(|e| e.rr(flags))
}

/// ER naming the RRIP version.
pub fn er(v: RrVersion) -> Vec<u8> {
    Entries::one(|e| e.er(v))
}

/// PX: mode, links, owner, group, and (RRIP 1.12) the file serial number.
pub fn px(mode: u32, nlink: u32, uid: u32, gid: u32, ino: Option<u32>) -> Vec<u8> {
    Entries::one(|e| e.px(mode, nlink, uid, gid, ino))
}

/// PN: device number.
pub fn pn(major: u32, minor: u32) -> Vec<u8> {
    Entries::one(|e| e.pn(major, minor))
}

/// CL or PL: a directory location.
pub fn link(sig: &[u8; 2], lba: u32) -> Vec<u8> {
    Entries::one(|e| e.link(sig, lba))
}

/// RE: this directory was relocated.
pub fn re() -> Vec<u8> {
    Entries::one(Entries::re)
}

/// TF: modification, access and attribute change times, short form.
pub fn tf(mtime: Time, atime: Time, ctime: Time) -> Vec<u8> {
    Entries::one(|e| e.tf(mtime, atime, ctime))
}

/// NM entries spelling `name`, continued as needed.
pub fn nm(name: &str) -> Vec<Vec<u8>> {
    Entries::many(|e| e.nm(name))
}

/// SL entries for a symbolic link target, split into components (root,
/// ".", "..", names; long names continued) and entries of at most 255 bytes.
pub fn sl(target: &str) -> Vec<Vec<u8>> {
    Entries::many(|e| e.sl(target))
}

/// ZF: zisofs data (`pz`), with its header size, block size and
/// uncompressed size.
pub fn zf(z: &crate::read::Zisofs) -> Vec<u8> {
    Entries::one(|e| e.zf(z))
}

impl Entries {
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(s, e)| self.bytes.get(s..e).unwrap_or_default())
    }

    /// Appends an entry with `payload` (under 251 bytes: callers keep it so).
    fn push(&mut self, sig: &[u8; 2], payload: &[u8]) {
        let _ = encode_entry(sig, payload, &mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    /// The bytes of the entries `f` writes.
    fn one(f: impl FnOnce(&mut Entries)) -> Vec<u8> {
        let mut e = Entries::default();
        f(&mut e);
        e.bytes
    }

    /// Each of the entries `f` writes.
    fn many(f: impl FnOnce(&mut Entries)) -> Vec<Vec<u8>> {
        let mut e = Entries::default();
        f(&mut e);
        e.iter().map(<[u8]>::to_vec).collect()
    }

    /// Appends the entry of [`sp`].
    pub(crate) fn sp(&mut self) {
        self.push(b"SP", &[0xBE, 0xEF, 0]);
    }

    /// Appends the entry of [`rr`].
    pub(crate) fn rr(&mut self, flags: u8) {
        self.push(b"RR", &[flags]);
    }

    /// Appends the entry of [`er`].
    pub(crate) fn er(&mut self, v: RrVersion) {
        let er = match v {
            RrVersion::V109 => ExtensionRef {
                version: 1,
                id: "RRIP_1991A".into(),
                descriptor: "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS".into(),
                source: "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.".into(),
            },
            // The draft's identifier: the one RRIP 1.12 writers (mkisofs,
            // xorriso) record and readers (pycdlib, libarchive) recognise.
            _ => ExtensionRef {
                version: 1,
                id: "IEEE_P1282".into(),
                descriptor: "THE IEEE P1282 PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS".into(),
                source: "PLEASE CONTACT THE IEEE STANDARDS DEPARTMENT, PISCATAWAY, NJ, USA FOR THE P1282 SPECIFICATION".into(),
            },
        };
        let _ = er.encode(&mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    /// Appends the entry of [`px`].
    pub(crate) fn px(&mut self, mode: u32, nlink: u32, uid: u32, gid: u32, ino: Option<u32>) {
        let _ = Px {
            mode,
            nlink,
            uid,
            gid,
            ino,
        }
        .encode(&mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    /// Appends the entry of [`pn`].
    pub(crate) fn pn(&mut self, major: u32, minor: u32) {
        let mut p = [0u8; 16];
        p[..8].copy_from_slice(Both32::new(major).as_bytes());
        p[8..].copy_from_slice(Both32::new(minor).as_bytes());
        self.push(b"PN", &p);
    }

    /// Appends the entry of [`link()`].
    pub(crate) fn link(&mut self, sig: &[u8; 2], lba: u32) {
        self.push(sig, Both32::new(lba).as_bytes());
    }

    /// Appends the entry of [`re`].
    pub(crate) fn re(&mut self) {
        self.push(b"RE", &[]);
    }

    /// Appends the entry of [`tf`].
    pub(crate) fn tf(&mut self, mtime: Time, atime: Time, ctime: Time) {
        self.tf_from(dir_time(mtime), mtime, atime, ctime);
    }

    /// Appends the entry of [`tf`], given `m`, the 7-byte form of `mtime`.
    pub(crate) fn tf_from(&mut self, m: [u8; 7], mtime: Time, atime: Time, ctime: Time) {
        // The 7-byte form keeps whole seconds: equal seconds, equal bytes.
        let form = |t: Time| if t.secs == mtime.secs { m } else { dir_time(t) };
        let mut p = [0u8; 22];
        p[0] = 0x0E;
        for (i, t) in [m, form(atime), form(ctime)].into_iter().enumerate() {
            let at = 1 + 7 * i;
            if let Some(d) = p.get_mut(at..at + 7) {
                d.copy_from_slice(&t);
            }
        }
        self.push(b"TF", &p);
    }

    /// Appends the entries of [`nm`].
    pub(crate) fn nm(&mut self, name: &str) {
        let bytes = name.as_bytes();
        let room = MAX_ENTRY - 5;
        if bytes.is_empty() {
            self.push(b"NM", &[0]);
            return;
        }
        let n = bytes.len().div_ceil(room);
        let mut p = [0u8; MAX_ENTRY - 4];
        for (i, c) in bytes.chunks(room).enumerate() {
            p[0] = u8::from(i + 1 < n);
            let len = c.len() + 1;
            if let Some(d) = p.get_mut(1..len) {
                d.copy_from_slice(c);
            }
            self.push(b"NM", p.get(..len).unwrap_or_default());
        }
    }

    /// Appends the entries of [`sl`].
    pub(crate) fn sl(&mut self, target: &str) {
        // (flags, content) of each component record.
        let mut comps: Vec<(u8, &[u8])> = Vec::new();
        if target.starts_with('/') {
            comps.push((0x08, &[]));
        }
        for part in target.split('/').filter(|p| !p.is_empty()) {
            match part {
                "." => comps.push((0x02, &[])),
                ".." => comps.push((0x04, &[])),
                _ => {
                    let b = part.as_bytes();
                    let pieces: Vec<&[u8]> = b.chunks(248).collect();
                    let n = pieces.len();
                    for (i, piece) in pieces.into_iter().enumerate() {
                        comps.push((u8::from(i + 1 < n), piece));
                    }
                }
            }
        }
        // Pack component records into entries.
        let room = MAX_ENTRY - 5;
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        for (flags, content) in comps {
            let rec = 2 + content.len();
            if !cur.is_empty() && cur.len() + rec > room {
                entries.push(std::mem::take(&mut cur));
            }
            cur.push(flags);
            cur.push(u8::try_from(content.len()).unwrap_or(0));
            cur.extend_from_slice(content);
        }
        entries.push(cur);
        let n = entries.len();
        for (i, body) in entries.into_iter().enumerate() {
            let mut p = Vec::with_capacity(body.len() + 1);
            p.push(u8::from(i + 1 < n));
            p.extend_from_slice(&body);
            self.push(b"SL", &p);
        }
    }

    /// Appends the entry of [`zf`].
    pub(crate) fn zf(&mut self, z: &crate::read::Zisofs) {
        let mut p = vec![b'p', b'z', (z.header_size / 4) as u8, z.log2_block_size];
        p.extend_from_slice(&z.uncompressed_size.to_le_bytes());
        p.extend_from_slice(&z.uncompressed_size.to_be_bytes());
        self.push(b"ZF", &p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isoforge_format::rrip::{parse, Rrip};
    use isoforge_format::susp::SuspIter;

    #[test]
    fn long_symlink_round_trips_through_the_reader_rules() {
        let target = format!(
            "/{}/../{}/./{}",
            "a".repeat(300),
            "b".repeat(40),
            "c".repeat(600)
        );
        let entries = sl(&target);
        assert!(entries.len() > 3);
        let mut out = String::new();
        let mut need_sep = false;
        for e in &entries {
            assert!(e.len() <= 255);
            let se = SuspIter::new(e).next().unwrap().unwrap();
            let Some(Rrip::Sl(_, comps)) = parse(&se).unwrap() else {
                panic!()
            };
            for c in comps {
                let piece = if c.flags & 2 != 0 {
                    "."
                } else if c.flags & 4 != 0 {
                    ".."
                } else if c.flags & 8 != 0 {
                    out = "/".into();
                    need_sep = false;
                    continue;
                } else {
                    std::str::from_utf8(c.content).unwrap()
                };
                if need_sep && !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(piece);
                need_sep = c.flags & 1 == 0;
            }
        }
        assert_eq!(out, target);
    }

    #[test]
    fn long_names_continue() {
        let name = "n".repeat(600);
        let e = nm(&name);
        assert_eq!(e.len(), 3);
        assert!(e.iter().all(|x| x.len() <= 255));
        assert_eq!(e[0][4], 1);
        assert_eq!(e[2][4], 0);
    }
}
