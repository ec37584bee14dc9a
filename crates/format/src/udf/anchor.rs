//! ECMA-167 3/10.2 anchor volume descriptor pointer: at sector 256, and at
//! N-256 and/or N, N being the last sector; it gives the extents of the
//! main and reserve volume descriptor sequences.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::tag::{self, RawTag};
use super::{ExtentAd, RawExtentAd};
use crate::error::{FormatError, Result};

/// Size of the anchor.
pub const ANCHOR_LEN: usize = 512;

/// ECMA-167 3/10.2 anchor volume descriptor pointer, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawAnchor {
    /// RBP 0: tag (identifier 2).
    pub tag: RawTag,
    /// RBP 16: main volume descriptor sequence extent.
    pub main: RawExtentAd,
    /// RBP 24: reserve volume descriptor sequence extent.
    pub reserve: RawExtentAd,
    /// RBP 32: reserved.
    pub reserved: [u8; 480],
}
const _: () = assert!(core::mem::size_of::<RawAnchor>() == ANCHOR_LEN);

/// A parsed anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Main volume descriptor sequence.
    pub main: ExtentAd,
    /// Reserve volume descriptor sequence.
    pub reserve: ExtentAd,
}

impl Anchor {
    /// Parses and verifies an anchor recorded at sector `location`.
    pub fn parse(b: &[u8], location: u32) -> Result<Anchor> {
        tag::Tag::verify(b, tag::AVDP, location)?;
        let (raw, _) = RawAnchor::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
            what: "anchor volume descriptor pointer",
            need: ANCHOR_LEN,
            have: b.len(),
        })?;
        Ok(Anchor {
            main: ExtentAd::from_raw(&raw.main),
            reserve: ExtentAd::from_raw(&raw.reserve),
        })
    }

    /// Encodes the anchor recorded at sector `location`.
    pub fn encode(&self, location: u32) -> [u8; ANCHOR_LEN] {
        let mut raw = RawAnchor::new_zeroed();
        raw.main = self.main.to_raw();
        raw.reserve = self.reserve.to_raw();
        let mut out = [0u8; ANCHOR_LEN];
        out.copy_from_slice(raw.as_bytes());
        // The buffer is exactly the descriptor, so sealing cannot fail.
        let _ = tag::seal(&mut out, tag::AVDP, location);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = Anchor {
            main: ExtentAd {
                len: 32768,
                loc: 32,
            },
            reserve: ExtentAd {
                len: 32768,
                loc: 48,
            },
        };
        let b = a.encode(256);
        assert_eq!(Anchor::parse(&b, 256).unwrap(), a);
        assert!(Anchor::parse(&b, 257).is_err());
        assert!(Anchor::parse(&b[..100], 256).is_err());
    }
}
