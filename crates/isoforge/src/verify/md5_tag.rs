//! The isomd5sum tag (`implantisomd5` / `checkisomd5`, as used by Fedora and
//! RHEL installers for their media check).
//!
//! The tag is ASCII text in the 512-byte application-use field of the primary
//! volume descriptor (byte 883 of its sector), padded with spaces:
//!
//! ```text
//! ISO MD5SUM = <32 hex>;SKIPSECTORS = 15;RHLISOSTATUS=0;FRAGMENT SUMS = <60 chars>;FRAGMENT COUNT = 20;THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!
//! ```
//!
//! The MD5 covers the volume (its size taken from the PVD's volume space
//! size) minus the last `SKIPSECTORS` sectors, with the application-use field
//! read as 512 spaces. The image is read in 32 KiB pieces; after the piece
//! starting at byte `o`, fragment `o * (COUNT + 1) / total` is reached, and on
//! each change of fragment the running MD5 is finalised and one character per
//! digest byte is appended (the first hex digit of `%x` of the byte, so a byte
//! below 16 gives its only digit): three characters per fragment.
//!
//! This is an **integrity** check against accidental corruption (a bad burn, a
//! truncated download), not authenticity: anyone who changes the image can
//! implant a new tag.
//!
//! # Difference from isomd5sum on small images
//!
//! Fragments are only taken at 32 KiB boundaries, so when the checked length
//! is under 21 × 32 KiB (672 KiB; images under about 700 KiB) one piece can
//! cross several fragment borders. `implantisomd5` then appends fewer than
//! 60 characters, and `checkisomd5` compares them at fixed positions and
//! rejects the images it made itself. [`implant`] writes exactly what
//! `implantisomd5` writes, for every size. [`check`] (and `verify
//! --implanted-md5`) recomputes the fragment string the way it was built and
//! compares it whole, up to its `;`, so small images are judged on their
//! content.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::digest::{run_pass, Sink};
use super::md5::Md5;
use super::Check;
use crate::error::{Error, Refusal, Result};
use crate::source::ReadAt;

const SECTOR: u64 = 2048;
const FIRST_VD: u64 = 16 * SECTOR;
/// Byte of the application-use field within the PVD sector.
const APPDATA_OFFSET: u64 = 883;
/// Length of the application-use field.
const APPDATA_SIZE: usize = 512;
/// Byte of the big-endian volume space size within the PVD.
const SIZE_OFFSET: usize = 84;
/// isomd5sum's read size, which decides where fragment sums are taken.
const PIECE: u64 = 32 * 1024;
const SKIPSECTORS: u64 = 15;
const FRAGMENT_COUNT: u64 = 20;
const FRAGMENT_SUM_SIZE: u64 = 60;
/// Volume descriptors scanned for the PVD before giving up.
const MAX_VDS: u64 = 64;

/// A parsed isomd5sum tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Md5Tag {
    /// The implanted MD5, lower-case hex.
    pub md5: String,
    /// Sectors at the end of the volume left out of the sum.
    pub skip_sectors: u64,
    /// `RHLISOSTATUS`: the "supported ISO" flag, if present.
    pub supported: Option<bool>,
    /// The fragment sums as written (normally 60 characters), if present.
    pub fragment_sums: Option<String>,
    /// The number of fragments, if present.
    pub fragment_count: Option<u64>,
}

/// Where the primary volume descriptor is and what it says about sizes.
#[derive(Debug, Clone, Copy)]
struct Pvd {
    /// Byte offset of the PVD sector.
    offset: u64,
    /// Volume size in bytes (volume space size × 2048).
    volume_bytes: u64,
}

fn find_pvd<S: ReadAt + ?Sized>(src: &S) -> Result<Option<(Pvd, [u8; 2048])>> {
    let size = src.size()?;
    let mut sector = [0u8; 2048];
    for i in 0..MAX_VDS {
        let offset = FIRST_VD + i * SECTOR;
        if offset + SECTOR > size {
            return Ok(None);
        }
        src.read_exact_at(offset, &mut sector)
            .map_err(|e| Error::io_at(e, offset))?;
        if sector.get(1..6) != Some(b"CD001") {
            return Ok(None);
        }
        match sector.first() {
            Some(1) => {
                let mut be = [0u8; 4];
                be.copy_from_slice(sector.get(SIZE_OFFSET..SIZE_OFFSET + 4).unwrap_or(&[0; 4]));
                let volume_bytes = u64::from(u32::from_be_bytes(be)) * SECTOR;
                return Ok(Some((
                    Pvd {
                        offset,
                        volume_bytes,
                    },
                    sector,
                )));
            }
            Some(255) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

fn appdata(sector: &[u8; 2048]) -> &[u8] {
    let start = APPDATA_OFFSET as usize;
    sector.get(start..start + APPDATA_SIZE).unwrap_or(&[])
}

/// Parses the tag text from an application-use field.
fn parse_tag(field: &[u8]) -> Option<Md5Tag> {
    // isomd5sum reads the field as a C string of at most 511 bytes.
    let field = field.get(..APPDATA_SIZE - 1).unwrap_or(field);
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    let text = std::str::from_utf8(field.get(..end)?).ok()?;
    let mut md5 = None;
    let mut skip = None;
    let mut supported = None;
    let mut frags = None;
    let mut count = None;
    for part in text.split(';') {
        if let Some(v) = part.strip_prefix("ISO MD5SUM = ") {
            let v = v.get(..32)?;
            if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            md5 = Some(v.to_ascii_lowercase());
        } else if let Some(v) = part.strip_prefix("SKIPSECTORS = ") {
            skip = Some(v.trim().parse::<u64>().ok()?);
        } else if let Some(v) = part.strip_prefix("RHLISOSTATUS=") {
            supported = Some(v.trim() == "1");
        } else if let Some(v) = part.strip_prefix("FRAGMENT SUMS = ") {
            frags = Some(v.to_string());
        } else if let Some(v) = part.strip_prefix("FRAGMENT COUNT = ") {
            count = Some(v.trim().parse::<u64>().ok()?);
        }
    }
    Some(Md5Tag {
        md5: md5?,
        skip_sectors: skip?,
        supported,
        fragment_sums: frags,
        fragment_count: count,
    })
}

/// Reads the tag, if the image has a PVD with one.
pub fn read_tag<S: ReadAt + ?Sized>(src: &S) -> Result<Option<Md5Tag>> {
    Ok(find_pvd(src)?.and_then(|(_, sector)| parse_tag(appdata(&sector))))
}

/// What a check pass needs to know, worked out before reading the image.
#[derive(Debug, Clone)]
pub(crate) struct CheckPlan {
    tag: Md5Tag,
    apoff: u64,
    total: u64,
}

/// Prepares a check; the inner `Err` is a finding (no tag, truncated image).
pub(crate) fn plan_check<S: ReadAt + ?Sized>(
    src: &S,
) -> Result<std::result::Result<CheckPlan, String>> {
    let Some((pvd, sector)) = find_pvd(src)? else {
        return Ok(Err("no ISO 9660 primary volume descriptor".into()));
    };
    let Some(tag) = parse_tag(appdata(&sector)) else {
        return Ok(Err(
            "no implanted MD5 (isomd5sum tag) in the primary volume descriptor".into(),
        ));
    };
    let total = tag
        .skip_sectors
        .checked_mul(SECTOR)
        .map_or(0, |skip| pvd.volume_bytes.saturating_sub(skip));
    let size = src.size()?;
    if total > size {
        return Ok(Err(format!(
            "the image is truncated: the tag covers {total} bytes but the file has {size}"
        )));
    }
    if let Some(c) = tag.fragment_count {
        if !(1..=FRAGMENT_SUM_SIZE).contains(&c) {
            return Ok(Err(format!("implausible FRAGMENT COUNT {c} in the tag")));
        }
    }
    Ok(Ok(CheckPlan {
        tag,
        apoff: pvd.offset + APPDATA_OFFSET,
        total,
    }))
}

/// Computes the isomd5sum MD5 and fragment string of `0..total`, reading the
/// field at `apoff` as spaces.
pub(crate) struct TagSink {
    plan: Option<CheckPlan>,
    total: u64,
    apoff: u64,
    count: u64,
    chars: u64,
    md5: Md5,
    prev_fragment: u64,
    fragments: String,
}

impl TagSink {
    pub(crate) fn new(plan: CheckPlan) -> TagSink {
        let count = plan.tag.fragment_count.unwrap_or(FRAGMENT_COUNT);
        let mut s = TagSink::raw(plan.total, plan.apoff, count);
        s.plan = Some(plan);
        s
    }

    fn raw(total: u64, apoff: u64, count: u64) -> TagSink {
        TagSink {
            plan: None,
            total,
            apoff,
            count,
            chars: (FRAGMENT_SUM_SIZE / count.max(1)).min(16),
            md5: Md5::new(),
            prev_fragment: 0,
            fragments: String::new(),
        }
    }

    pub(crate) fn end(&self) -> u64 {
        self.total
    }

    fn piece(&mut self, offset: u64, data: &[u8]) {
        let end = offset + data.len() as u64;
        let ap_end = self.apoff + APPDATA_SIZE as u64;
        if offset < ap_end && end > self.apoff {
            let from = usize::try_from(self.apoff.saturating_sub(offset)).unwrap_or(0);
            let to = usize::try_from(ap_end.min(end) - offset).unwrap_or(0);
            let mut copy = data.to_vec();
            if let Some(f) = copy.get_mut(from..to) {
                f.fill(b' ');
            }
            self.md5.update(&copy);
        } else {
            self.md5.update(data);
        }
        // u128: offset * 21 must not overflow for any u64 offset.
        let cur = (u128::from(offset) * u128::from(self.count + 1) / u128::from(self.total)) as u64;
        if cur != self.prev_fragment {
            let d = self.md5.clone().finalize();
            for b in d.iter().take(self.chars as usize) {
                let hex = format!("{b:x}");
                self.fragments.push_str(hex.get(..1).unwrap_or("0"));
            }
            self.prev_fragment = cur;
        }
    }

    fn finish_raw(self) -> (String, String) {
        (
            base16ct::lower::encode_string(&self.md5.finalize()),
            self.fragments,
        )
    }

    pub(crate) fn finish(mut self) -> Check {
        let Some(plan) = self.plan.take() else {
            return Check::failed("implanted-md5", "no tag");
        };
        let (md5, frags) = self.finish_raw();
        if md5 != plan.tag.md5 {
            return Check::failed(
                "implanted-md5",
                format!(
                    "implanted MD5 {} does not match the computed {md5} (the image is damaged; this is an integrity check, not authenticity)",
                    plan.tag.md5
                ),
            );
        }
        if let Some(stored) = &plan.tag.fragment_sums {
            if plan.tag.fragment_count != Some(0) && stored != &frags {
                return Check::failed(
                    "implanted-md5",
                    format!("fragment sums {stored:?} do not match the computed {frags:?}"),
                );
            }
        }
        Check::ok(
            "implanted-md5",
            format!("{md5} (isomd5sum; an integrity check, not authenticity)"),
        )
    }
}

impl Sink for TagSink {
    fn update(&mut self, offset: u64, data: &[u8]) {
        if offset >= self.total {
            return;
        }
        let keep = usize::try_from(self.total - offset).map_or(data.len(), |k| k.min(data.len()));
        let mut data = data.get(..keep).unwrap_or(&[]);
        let mut off = offset;
        // Split on isomd5sum's 32 KiB read boundaries.
        while !data.is_empty() {
            let to_boundary = PIECE - off % PIECE;
            let n = usize::try_from(to_boundary).map_or(data.len(), |t| t.min(data.len()));
            let (head, rest) = data.split_at(n);
            self.piece(off, head);
            off += n as u64;
            data = rest;
        }
    }
}

/// Verifies the implanted MD5 of `src` on its own (see [`crate::verify::verify`]
/// to combine it with other digests in one read).
pub fn check<S: ReadAt + ?Sized>(
    src: &S,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Check> {
    match plan_check(src)? {
        Err(reason) => Ok(Check::failed("implanted-md5", reason)),
        Ok(plan) => {
            let mut sink = TagSink::new(plan);
            let end = sink.end();
            run_pass(src, end, &mut [&mut sink], progress)?;
            Ok(sink.finish())
        }
    }
}

/// Options for [`implant`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ImplantOptions {
    /// Overwrite a non-blank application-use field (`implantisomd5 --force`).
    pub force: bool,
    /// Set `RHLISOSTATUS=1` (`implantisomd5 --supported-iso`).
    pub supported: bool,
}

impl ImplantOptions {
    /// Sets `force`.
    pub fn force(mut self, on: bool) -> Self {
        self.force = on;
        self
    }
    /// Sets `supported`.
    pub fn supported(mut self, on: bool) -> Self {
        self.supported = on;
        self
    }
}

/// Builds the 512-byte application-use field for a tag.
fn tag_field(md5: &str, fragments: &str, supported: bool) -> Result<[u8; APPDATA_SIZE]> {
    let text = format!(
        "ISO MD5SUM = {md5};SKIPSECTORS = {SKIPSECTORS};RHLISOSTATUS={};FRAGMENT SUMS = {fragments};FRAGMENT COUNT = {FRAGMENT_COUNT};THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!",
        u8::from(supported)
    );
    let mut field = [b' '; APPDATA_SIZE];
    // isomd5sum refuses a tag that would reach the last byte of the field.
    if text.len() >= APPDATA_SIZE {
        return Err(Error::InvalidInput("isomd5sum tag too long".into()));
    }
    field
        .get_mut(..text.len())
        .ok_or_else(|| Error::InvalidInput("isomd5sum tag too long".into()))?
        .copy_from_slice(text.as_bytes());
    Ok(field)
}

/// Implants an isomd5sum tag into the image file, as `implantisomd5` does,
/// and returns it.
///
/// Refuses (with [`Error::InvalidInput`]) when the application-use field is
/// not blank, unless `opts.force`. The output is byte-identical to
/// `implantisomd5`'s for the same options. The file is written only once,
/// after the sum is computed.
pub fn implant(
    file: &File,
    opts: ImplantOptions,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Md5Tag> {
    let Some((pvd, sector)) = find_pvd(file)? else {
        return Err(Error::InvalidInput(
            "no ISO 9660 primary volume descriptor; not an ISO image".into(),
        ));
    };
    if !opts.force && appdata(&sector).iter().any(|b| *b != b' ') {
        return Err(Error::Refused(Refusal::ApplicationUseInUse));
    }
    let total = pvd.volume_bytes.saturating_sub(SKIPSECTORS * SECTOR);
    let size = ReadAt::size(file)?;
    if total > size {
        return Err(Error::InvalidInput(format!(
            "the image is truncated: its volume is {} bytes but the file has {size}",
            pvd.volume_bytes
        )));
    }
    let apoff = pvd.offset + APPDATA_OFFSET;
    let mut sink = TagSink::raw(total, apoff, FRAGMENT_COUNT);
    if total > 0 {
        run_pass(file, total, &mut [&mut sink], progress)?;
    }
    let (md5, fragments) = sink.finish_raw();
    let field = tag_field(&md5, &fragments, opts.supported)?;
    file.write_all_at(&field, apoff)
        .map_err(|e| Error::io_at(e, apoff))?;
    file.sync_data().map_err(Error::from)?;
    Ok(Md5Tag {
        md5,
        skip_sectors: SKIPSECTORS,
        supported: Some(opts.supported),
        fragment_sums: Some(fragments),
        fragment_count: Some(FRAGMENT_COUNT),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A minimal image: 16 empty sectors, a PVD, a terminator, then data.
    fn image(sectors: u32) -> Vec<u8> {
        let mut img = vec![0u8; sectors as usize * 2048];
        for (i, b) in img.iter_mut().enumerate().skip(18 * 2048) {
            *b = (i % 253) as u8;
        }
        let pvd = &mut img[16 * 2048..17 * 2048];
        pvd[0] = 1;
        pvd[1..6].copy_from_slice(b"CD001");
        pvd[6] = 1;
        pvd[80..84].copy_from_slice(&sectors.to_le_bytes());
        pvd[84..88].copy_from_slice(&sectors.to_be_bytes());
        pvd[883..883 + 512].fill(b' ');
        let term = &mut img[17 * 2048..18 * 2048];
        term[0] = 255;
        term[1..6].copy_from_slice(b"CD001");
        img
    }

    fn implant_vec(img: &mut [u8]) {
        let (pvd, _) = find_pvd(&img.to_vec()).unwrap().unwrap();
        let total = pvd.volume_bytes - SKIPSECTORS * SECTOR;
        let mut sink = TagSink::raw(total, pvd.offset + APPDATA_OFFSET, FRAGMENT_COUNT);
        run_pass(&img.to_vec(), total, &mut [&mut sink], None).unwrap();
        let (md5, frags) = sink.finish_raw();
        let field = tag_field(&md5, &frags, false).unwrap();
        let at = (pvd.offset + APPDATA_OFFSET) as usize;
        img[at..at + 512].copy_from_slice(&field);
    }

    #[test]
    fn round_trip_and_damage() {
        for sectors in [40u32, 300, 2000] {
            let mut img = image(sectors);
            implant_vec(&mut img);
            let tag = read_tag(&img).unwrap().unwrap();
            assert_eq!(tag.skip_sectors, 15);
            if sectors == 2000 {
                assert_eq!(tag.fragment_sums.as_deref().map(str::len), Some(60));
            } else {
                assert!(tag.fragment_sums.as_deref().unwrap().len() < 60);
            }
            assert!(check(&img, None).unwrap().is_ok(), "{sectors}");
            let mut bad = img.clone();
            bad[20 * 2048] ^= 1;
            assert!(!check(&bad, None).unwrap().is_ok());
            // The skipped tail is not covered.
            let mut tail = img.clone();
            let last = tail.len() - 1;
            tail[last] ^= 1;
            assert!(check(&tail, None).unwrap().is_ok());
            // Truncation is a finding, not an error.
            let short = img[..img.len() - 16 * 2048].to_vec();
            let c = check(&short, None).unwrap();
            assert!(!c.is_ok() && c.detail.contains("truncated"), "{c:?}");
        }
    }

    #[test]
    fn fragment_char_is_first_hex_digit() {
        // A byte below 16 contributes its only digit, as "%01x" does in C.
        assert_eq!(&format!("{:x}", 5u8)[..1], "5");
        assert_eq!(&format!("{:x}", 0xa3u8)[..1], "a");
    }

    #[test]
    fn missing_or_garbled_tags() {
        let img = image(40);
        assert!(read_tag(&img).unwrap().is_none());
        assert!(!check(&img, None).unwrap().is_ok());
        assert!(!check(&vec![0u8; 100], None).unwrap().is_ok());
        assert!(parse_tag(b"ISO MD5SUM = zz;SKIPSECTORS = 15").is_none());
        assert!(parse_tag(b"ISO MD5SUM = 0123456789abcdef0123456789abcdef;").is_none());
        let t = parse_tag(
            b"ISO MD5SUM = 0123456789abcdef0123456789abcdef;SKIPSECTORS = 99999999999999999;",
        )
        .unwrap();
        assert_eq!(t.skip_sectors, 99_999_999_999_999_999);
        assert!(parse_tag(&[0xff; 512]).is_none());
    }
}
