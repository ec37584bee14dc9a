//! Walking a record's SUSP entries (through CE continuation areas) and
//! gathering the Rock Ridge fields.

use isoforge_format::rrip::{self, Px, Rrip, Tf, Zf};
use isoforge_format::susp::{parse_sp, Continuation, ExtensionRef, SuspIter};

use super::{block_offset, Image};
use crate::error::{Diagnostic, Error, Result};
use crate::options::Strictness;
use crate::source::ReadAt;

/// Rock Ridge fields of one directory record.
#[derive(Debug, Default)]
pub(crate) struct RrFields {
    pub px: Option<Px>,
    pub pn: Option<(u32, u32)>,
    pub name: Option<Vec<u8>>,
    /// NM said "." or "..".
    pub name_special: bool,
    pub target: Option<String>,
    pub cl: Option<u32>,
    pub pl: Option<u32>,
    pub re: bool,
    pub tf: Option<Tf>,
    pub sf: Option<u64>,
    pub zf: Option<Zf>,
    pub extensions: Vec<String>,
    /// Whether any RRIP entry was seen.
    pub any_rrip: bool,
}

/// The skip length of an SP entry at the start of a system use area.
pub(crate) fn find_sp(su: &[u8]) -> Option<u8> {
    match SuspIter::new(su).next() {
        Some(Ok(e)) if &e.sig == b"SP" => parse_sp(e.data).ok(),
        _ => None,
    }
}

/// Largest continuation area accepted. Continuation areas of real images fit
/// in one block; libisofs may write larger ones for big extended attributes.
const MAX_CE_LEN: u32 = 64 * 1024;

struct SlState {
    /// The target's bytes, decoded once whole: a UTF-8 character may be
    /// split between components.
    out: Vec<u8>,
    need_sep: bool,
}

/// Gathers the Rock Ridge fields of a system use area, following CE entries.
/// `record_offset` locates the directory record in error messages.
pub(crate) fn collect<S: ReadAt>(
    img: &Image<S>,
    su: &[u8],
    skip: u8,
    record_offset: u64,
    root_dot: bool,
    diags: &mut Vec<Diagnostic>,
) -> Result<RrFields> {
    let limits = img.limits();
    let mut f = RrFields::default();
    let mut name = Vec::new();
    let mut sl = SlState {
        out: Vec::new(),
        need_sep: false,
    };
    let mut have_sl = false;
    let mut have_nm = false;
    let mut area: Vec<u8> = su.get(usize::from(skip)..).unwrap_or_default().to_vec();
    let mut area_offset = record_offset;
    let mut visited: Vec<u64> = Vec::new();
    loop {
        let mut next_ce = None;
        let mut damaged = None;
        for e in SuspIter::new(&area) {
            // Broken SUSP framing is an error; a damaged RRIP payload (below)
            // is tolerated.
            let e = e.map_err(|er| Error::format("SUSP entry", area_offset, er))?;
            match &e.sig {
                b"CE" => {
                    next_ce = Some(
                        Continuation::parse(e.data)
                            .map_err(|er| Error::format("SUSP CE entry", area_offset, er))?,
                    )
                }
                b"ER" if root_dot => {
                    let er = ExtensionRef::parse(e.data)
                        .map_err(|er| Error::format("SUSP ER entry", area_offset, er))?;
                    f.extensions.push(er.id);
                }
                b"SP" | b"ST" | b"PD" | b"ES" | b"ER" => {}
                _ => {
                    let r = match rrip::parse(&e) {
                        Ok(Some(r)) => r,
                        Ok(None) => continue,
                        Err(er) => {
                            damaged = Some(Error::format("Rock Ridge entry", area_offset, er));
                            break;
                        }
                    };
                    f.any_rrip = true;
                    match r {
                        Rrip::Px(px) => f.px = Some(px),
                        Rrip::Pn(h, l) => f.pn = Some((h, l)),
                        Rrip::Nm(flags, part) => {
                            have_nm = true;
                            if flags & 0x06 != 0 {
                                f.name_special = true;
                            }
                            if name.len().saturating_add(part.len())
                                > limits.max_name_bytes as usize
                            {
                                return Err(Error::LimitExceeded {
                                    what: "Rock Ridge NM name length",
                                    value: (name.len() + part.len()) as u64,
                                    limit: limits.max_name_bytes.into(),
                                });
                            }
                            name.extend_from_slice(part);
                        }
                        Rrip::Sl(_, comps) => {
                            have_sl = true;
                            for c in comps {
                                let piece: &[u8] = if c.flags & 0x02 != 0 {
                                    b"."
                                } else if c.flags & 0x04 != 0 {
                                    b".."
                                } else if c.flags & 0x08 != 0 {
                                    sl.out.clear();
                                    sl.out.push(b'/');
                                    sl.need_sep = false;
                                    continue;
                                } else if c.flags & 0x30 != 0 {
                                    // Volume root / host name: obsolete, read as the root.
                                    sl.out.clear();
                                    sl.out.push(b'/');
                                    sl.need_sep = false;
                                    continue;
                                } else {
                                    c.content
                                };
                                if sl.need_sep && !sl.out.ends_with(b"/") {
                                    sl.out.push(b'/');
                                }
                                sl.out.extend_from_slice(piece);
                                sl.need_sep = c.flags & 0x01 == 0;
                                if sl.out.len() > limits.max_symlink_bytes as usize {
                                    return Err(Error::LimitExceeded {
                                        what: "Rock Ridge SL symlink target length",
                                        value: sl.out.len() as u64,
                                        limit: limits.max_symlink_bytes.into(),
                                    });
                                }
                            }
                        }
                        Rrip::Cl(l) => f.cl = Some(l),
                        Rrip::Pl(l) => f.pl = Some(l),
                        Rrip::Re => f.re = true,
                        Rrip::Tf(tf) => {
                            // Several TF entries may each carry some stamps.
                            let mut t = f.tf.unwrap_or_default();
                            t.creation = tf.creation.or(t.creation);
                            t.modify = tf.modify.or(t.modify);
                            t.access = tf.access.or(t.access);
                            t.attributes = tf.attributes.or(t.attributes);
                            t.backup = tf.backup.or(t.backup);
                            t.expiration = tf.expiration.or(t.expiration);
                            t.effective = tf.effective.or(t.effective);
                            f.tf = Some(t);
                        }
                        Rrip::Sf(s) => f.sf = Some(s),
                        Rrip::Zf(z) => f.zf = Some(z),
                        Rrip::Rr(_) => {}
                        _ => {}
                    }
                }
            }
        }
        if let Some(err) = damaged {
            // genisoimage writes SL entries longer than 255 bytes with their
            // length byte wrapped; what follows cannot be framed. Keep what
            // was read, and say so.
            if img.options().strictness == Strictness::Strict {
                return Err(err);
            }
            diags.push(Diagnostic {
                offset: area_offset,
                message: format!("{err}; the rest of this record's Rock Ridge data is ignored"),
            });
            break;
        }
        let Some(ce) = next_ce else { break };
        if visited.len() >= limits.max_ce_chain as usize {
            return Err(Error::LimitExceeded {
                what: "SUSP continuation (CE) chain length",
                value: visited.len() as u64 + 1,
                limit: limits.max_ce_chain.into(),
            });
        }
        let base = block_offset(ce.block, img.info().block_size)
            .and_then(|b| b.checked_add(u64::from(ce.offset)))
            .ok_or_else(|| {
                Error::corrupt(
                    "SUSP CE entry",
                    area_offset,
                    "continuation area location overflows",
                )
            })?;
        // A continuation area must lie within its logical block (the Linux
        // isofs driver rejects one that crosses the block end too).
        let block_end = u64::from(ce.offset).saturating_add(u64::from(ce.len));
        if ce.len > MAX_CE_LEN
            || ce.offset >= img.info().block_size
            || block_end > u64::from(img.info().block_size)
        {
            return Err(Error::corrupt(
                "SUSP CE entry",
                area_offset,
                format!(
                    "continuation area of {} bytes at offset {} of block {} is out of bounds",
                    ce.len, ce.offset, ce.block
                ),
            ));
        }
        let end = base.saturating_add(u64::from(ce.len));
        if end > img.info().image_size {
            return Err(Error::corrupt(
                "SUSP CE entry",
                area_offset,
                format!("continuation area at byte {base} lies past the end of the image"),
            ));
        }
        if visited.contains(&base) {
            return Err(Error::corrupt(
                "SUSP CE entry",
                area_offset,
                format!("continuation chain loops back to byte {base}"),
            ));
        }
        visited.push(base);
        area = vec![0u8; ce.len as usize];
        img.read_at("SUSP continuation area", base, &mut area)?;
        area_offset = base;
    }
    if have_nm {
        f.name = Some(name);
    }
    if have_sl {
        f.target = Some(isoforge_format::strings::decode_name(&sl.out));
    }
    Ok(f)
}
