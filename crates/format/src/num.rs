//! Integer field types. ECMA-119 §7.2-7.3 stores many numbers twice, little-
//! endian then big-endian ("both-byte orders"); [`Both16`] and [`Both32`] keep
//! both halves, and the little-endian half is the one the reader trusts.

use zerocopy::byteorder::{BigEndian, LittleEndian, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Little-endian 16-bit field.
pub type Le16 = U16<LittleEndian>;
/// Little-endian 32-bit field.
pub type Le32 = U32<LittleEndian>;
/// Little-endian 64-bit field.
pub type Le64 = U64<LittleEndian>;
/// Big-endian 16-bit field.
pub type Be16 = U16<BigEndian>;
/// Big-endian 32-bit field.
pub type Be32 = U32<BigEndian>;

/// The two halves of a both-byte-order field disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// The little-endian half (the value used).
    pub le: u64,
    /// The big-endian half.
    pub be: u64,
}

/// ECMA-119 §7.2.3: a 16-bit number recorded little-endian then big-endian.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Both16 {
    le: Le16,
    be: Be16,
}

impl Both16 {
    /// Both halves set to `v`.
    pub fn new(v: u16) -> Self {
        Both16 {
            le: Le16::new(v),
            be: Be16::new(v),
        }
    }
    /// The little-endian half, which real images get right more often.
    pub fn get(self) -> u16 {
        self.le.get()
    }
    /// The value, or the disagreement between the halves.
    pub fn checked(self) -> Result<u16, Mismatch> {
        let (le, be) = (self.le.get(), self.be.get());
        if le == be {
            Ok(le)
        } else {
            Err(Mismatch {
                le: le.into(),
                be: be.into(),
            })
        }
    }
}

/// ECMA-119 §7.3.3: a 32-bit number recorded little-endian then big-endian.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Both32 {
    le: Le32,
    be: Be32,
}

impl Both32 {
    /// Both halves set to `v`.
    pub fn new(v: u32) -> Self {
        Both32 {
            le: Le32::new(v),
            be: Be32::new(v),
        }
    }
    /// The little-endian half, which real images get right more often.
    pub fn get(self) -> u32 {
        self.le.get()
    }
    /// The value, or the disagreement between the halves.
    pub fn checked(self) -> Result<u32, Mismatch> {
        let (le, be) = (self.le.get(), self.be.get());
        if le == be {
            Ok(le)
        } else {
            Err(Mismatch {
                le: le.into(),
                be: be.into(),
            })
        }
    }
}

const _: () = assert!(core::mem::size_of::<Both16>() == 4);
const _: () = assert!(core::mem::size_of::<Both32>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both32_layout_and_mismatch() {
        let b = Both32::new(0x0102_0304);
        assert_eq!(b.as_bytes(), &[4, 3, 2, 1, 1, 2, 3, 4]);
        assert_eq!(b.checked(), Ok(0x0102_0304));
        let bad = Both32::read_from_bytes(&[1, 0, 0, 0, 0, 0, 0, 2][..]).unwrap();
        assert_eq!(bad.get(), 1);
        assert_eq!(bad.checked(), Err(Mismatch { le: 1, be: 2 }));
    }

    #[test]
    fn both16_layout() {
        let b = Both16::new(0x0800);
        assert_eq!(b.as_bytes(), &[0, 8, 8, 0]);
    }
}
