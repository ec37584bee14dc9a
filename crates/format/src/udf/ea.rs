//! ECMA-167 4/14.10 extended attributes: the header descriptor and the
//! attributes that follow it. Only the device specification (4/14.10.7,
//! the major and minor numbers of device files) is interpreted.

use super::tag;
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};

/// Attribute type of a device specification.
pub const DEVICE_SPEC: u32 = 12;

fn le32(b: [u8; 4]) -> u32 {
    u32::from_le_bytes(b)
}

/// The device numbers in an extended attribute space, if any.
pub fn device(ea: &[u8]) -> Result<Option<(u32, u32)>> {
    if ea.is_empty() {
        return Ok(None);
    }
    let t = tag::Tag::parse(ea)?;
    if t.ident != tag::EAHD {
        return Err(FormatError::BadValue {
            what: "extended attribute header tag identifier",
            value: t.ident.into(),
        });
    }
    let mut c = Cursor::new(ea.get(24..).unwrap_or_default(), "extended attribute");
    while c.remaining() >= 12 {
        let kind = le32(c.array()?);
        let _subtype_reserved = c.array::<4>()?;
        let len = le32(c.array()?);
        let body_len = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_sub(12))
            .ok_or(FormatError::BadValue {
                what: "extended attribute length",
                value: len.into(),
            })?;
        let mut body = c.sub(body_len)?;
        if kind == DEVICE_SPEC {
            let _impl_use_len = body.array::<4>()?;
            let major = le32(body.array()?);
            let minor = le32(body.array()?);
            return Ok(Some((major, minor)));
        }
    }
    Ok(None)
}

/// Encodes an extended attribute space holding a device specification;
/// `location` is the block of the file entry.
pub fn encode_device(major: u32, minor: u32, location: u32) -> Result<Vec<u8>> {
    let mut out = vec![0u8; 16];
    out.extend_from_slice(&24u32.to_le_bytes());
    out.extend_from_slice(&48u32.to_le_bytes());
    out.extend_from_slice(&DEVICE_SPEC.to_le_bytes());
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(&24u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&major.to_le_bytes());
    out.extend_from_slice(&minor.to_le_bytes());
    let mut t = tag::Tag::new(tag::EAHD, location, 24);
    t.crc_len = 8;
    t.write(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_round_trip_and_bad_lengths() {
        let ea = encode_device(8, 1, 3).unwrap();
        assert_eq!(device(&ea).unwrap(), Some((8, 1)));
        assert_eq!(device(&[]).unwrap(), None);
        let mut bad = ea.clone();
        bad[32..36].copy_from_slice(&5u32.to_le_bytes());
        assert!(device(&bad).is_err());
        let mut bad = ea.clone();
        bad[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(device(&bad).is_err());
    }
}
