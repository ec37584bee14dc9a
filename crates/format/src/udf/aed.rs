//! ECMA-167 4/14.5 allocation extent descriptor: where a list of allocation
//! descriptors continues when it does not fit in its ICB.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::tag::{self, RawTag};
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::Le32;

/// Size of the fixed part.
pub const AED_FIXED_LEN: usize = 24;

/// ECMA-167 4/14.5 fixed part, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawAed {
    /// RBP 0: tag (identifier 258).
    pub tag: RawTag,
    /// RBP 16: previous allocation extent location.
    pub previous: Le32,
    /// RBP 20: length of the allocation descriptors that follow.
    pub ad_len: Le32,
}
const _: () = assert!(core::mem::size_of::<RawAed>() == AED_FIXED_LEN);

/// Parses and verifies an AED at partition block `location`, returning its
/// allocation descriptors, which must lie within `b`.
pub fn parse(b: &[u8], location: u32) -> Result<&[u8]> {
    let (raw, rest) = RawAed::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
        what: "allocation extent descriptor",
        need: AED_FIXED_LEN,
        have: b.len(),
    })?;
    let mut c = Cursor::new(rest, "allocation extent descriptor");
    let ads = c.take(usize::try_from(raw.ad_len.get()).unwrap_or(usize::MAX))?;
    // UDF 2.3.11: the CRC covers only the fixed part, but writers differ;
    // `Tag::parse` checks whatever length the tag claims, within `b`.
    tag::Tag::verify(b, tag::AED, location)?;
    Ok(ads)
}

/// Encodes an AED at `location` holding `ads`; the CRC covers the whole
/// descriptor.
pub fn encode(location: u32, previous: u32, ads: &[u8]) -> Result<Vec<u8>> {
    let raw = RawAed {
        tag: RawTag::default(),
        previous: Le32::new(previous),
        ad_len: Le32::new(u32::try_from(ads.len()).map_err(|_| FormatError::BadValue {
            what: "allocation descriptors length",
            value: ads.len() as u64,
        })?),
    };
    let mut out = raw.as_bytes().to_vec();
    out.extend_from_slice(ads);
    tag::seal(&mut out, tag::AED, location)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = encode(12, 11, &[1u8; 16]).unwrap();
        assert_eq!(parse(&b, 12).unwrap(), &[1u8; 16]);
        assert!(parse(&b, 13).is_err());
        let mut bad = b.clone();
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse(&bad, 12),
            Err(FormatError::Truncated { .. })
        ));
    }
}
