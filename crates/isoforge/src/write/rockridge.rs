//! Rock Ridge (SUSP + RRIP) entries for directory records.

use isoforge_format::rrip::{encode_entry, Px};
use isoforge_format::susp::ExtensionRef;
use isoforge_format::time::IsoTime;
use zerocopy::IntoBytes;

use super::builder::{RrVersion, Time};
use isoforge_format::num::Both32;

/// Largest SUSP entry.
const MAX_ENTRY: usize = 255;

fn entry(sig: &[u8; 2], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 4);
    // Callers keep payloads under 251 bytes.
    let _ = encode_entry(sig, payload, &mut v);
    v
}

/// SP: SUSP is in use, no bytes skipped.
pub fn sp() -> Vec<u8> {
    entry(b"SP", &[0xBE, 0xEF, 0])
}

/// RR (RRIP 1.09): which entries the record carries.
pub fn rr(flags: u8) -> Vec<u8> {
    entry(b"RR", &[flags])
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

/// ER naming the RRIP version.
pub fn er(v: RrVersion) -> Vec<u8> {
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
    let mut v = Vec::new();
    let _ = er.encode(&mut v);
    v
}

/// PX: mode, links, owner, group, and (RRIP 1.12) the file serial number.
pub fn px(mode: u32, nlink: u32, uid: u32, gid: u32, ino: Option<u32>) -> Vec<u8> {
    let mut v = Vec::with_capacity(44);
    let _ = Px {
        mode,
        nlink,
        uid,
        gid,
        ino,
    }
    .encode(&mut v);
    v
}

/// PN: device number.
pub fn pn(major: u32, minor: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(16);
    p.extend_from_slice(Both32::new(major).as_bytes());
    p.extend_from_slice(Both32::new(minor).as_bytes());
    entry(b"PN", &p)
}

/// CL or PL: a directory location.
pub fn link(sig: &[u8; 2], lba: u32) -> Vec<u8> {
    entry(sig, Both32::new(lba).as_bytes())
}

/// RE: this directory was relocated.
pub fn re() -> Vec<u8> {
    entry(b"RE", &[])
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

/// TF: modification, access and attribute change times, short form.
pub fn tf(mtime: Time, atime: Time, ctime: Time) -> Vec<u8> {
    let mut p = Vec::with_capacity(22);
    p.push(0x0E);
    for t in [mtime, atime, ctime] {
        p.extend_from_slice(&dir_time(t));
    }
    entry(b"TF", &p)
}

/// NM entries spelling `name`, continued as needed.
pub fn nm(name: &str) -> Vec<Vec<u8>> {
    let bytes = name.as_bytes();
    let room = MAX_ENTRY - 5;
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(room).collect()
    };
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = Vec::with_capacity(c.len() + 1);
            p.push(u8::from(i + 1 < n));
            p.extend_from_slice(c);
            entry(b"NM", &p)
        })
        .collect()
}

/// SL entries for a symbolic link target, split into components (root,
/// ".", "..", names; long names continued) and entries of at most 255 bytes.
pub fn sl(target: &str) -> Vec<Vec<u8>> {
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
    entries
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut p = Vec::with_capacity(body.len() + 1);
            p.push(u8::from(i + 1 < n));
            p.extend_from_slice(&body);
            entry(b"SL", &p)
        })
        .collect()
}

/// ZF: zisofs data (`pz`), with its header size, block size and
/// uncompressed size.
pub fn zf(z: &crate::read::Zisofs) -> Vec<u8> {
    let mut p = vec![b'p', b'z', (z.header_size / 4) as u8, z.log2_block_size];
    p.extend_from_slice(&z.uncompressed_size.to_le_bytes());
    p.extend_from_slice(&z.uncompressed_size.to_be_bytes());
    entry(b"ZF", &p)
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
