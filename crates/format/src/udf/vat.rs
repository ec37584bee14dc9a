//! The virtual allocation table of write-once media (UDF 1.50 2.2.10 and
//! UDF 2.00+ 2.2.11): the contents of the VAT file, which maps the blocks
//! of a virtual partition to blocks of its physical partition.

use zerocopy::{FromBytes, IntoBytes};

use super::cs0::{dstring_lossy, encode_dstring};
use super::{EntityId, RawEntityId};
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};

/// `*UDF Virtual Alloc Tbl`, the identifier at the end of a UDF 1.50 VAT.
pub const VAT15_ID: &[u8] = b"*UDF Virtual Alloc Tbl";
/// Size of the fixed header of a UDF 2.00 VAT.
pub const VAT20_HEADER_LEN: usize = 152;
/// A VAT entry for a block that is not mapped.
pub const UNMAPPED: u32 = 0xFFFF_FFFF;

/// A parsed VAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vat {
    /// Entry `n` is the physical-partition block of virtual block `n`.
    pub entries: Vec<u32>,
    /// Logical volume identifier (UDF 2.00 VATs).
    pub lv_id: Option<String>,
    /// Number of files (UDF 2.00 VATs).
    pub num_files: Option<u32>,
    /// Number of directories (UDF 2.00 VATs).
    pub num_dirs: Option<u32>,
}

fn entries(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| <[u8; 4]>::try_from(c).map_or(UNMAPPED, u32::from_le_bytes))
        .collect()
}

impl Vat {
    /// Parses VAT file contents; `v20` for a file of type 248 (UDF 2.00),
    /// else the UDF 1.50 layout with its identifier at the end.
    pub fn parse(b: &[u8], v20: bool) -> Result<Vat> {
        if v20 {
            let mut c = Cursor::new(b, "virtual allocation table header");
            let hlen = usize::from(u16::from_le_bytes(c.array()?));
            let _impl_use_len = c.array::<2>()?;
            let lv_id = dstring_lossy(c.take(128)?);
            let _previous = c.array::<4>()?;
            let num_files = u32::from_le_bytes(c.array()?);
            let num_dirs = u32::from_le_bytes(c.array()?);
            if hlen < VAT20_HEADER_LEN || hlen > b.len() {
                return Err(FormatError::BadValue {
                    what: "virtual allocation table header length",
                    value: hlen as u64,
                });
            }
            Ok(Vat {
                entries: entries(b.get(hlen..).unwrap_or_default()),
                lv_id: Some(lv_id),
                num_files: Some(num_files),
                num_dirs: Some(num_dirs),
            })
        } else {
            let split = b.len().checked_sub(36).ok_or(FormatError::Truncated {
                what: "virtual allocation table",
                need: 36,
                have: b.len(),
            })?;
            let (body, tail) = b.split_at(split);
            let id = RawEntityId::read_from_prefix(tail)
                .map(|(r, _)| EntityId::from_raw(&r))
                .map_err(|_| FormatError::Truncated {
                    what: "virtual allocation table identifier",
                    need: 32,
                    have: tail.len(),
                })?;
            if !id.is(VAT15_ID) {
                return Err(FormatError::BadMagic {
                    what: "virtual allocation table identifier",
                });
            }
            Ok(Vat {
                entries: entries(body),
                lv_id: None,
                num_files: None,
                num_dirs: None,
            })
        }
    }

    /// Encodes the VAT contents in the UDF 2.00 (`v20`) or 1.50 layout.
    pub fn encode(&self, v20: bool) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if v20 {
            out.extend_from_slice(&VAT20_HEADER_LEN.to_le_bytes()[..2]);
            out.extend_from_slice(&[0, 0]);
            let mut lv = [0u8; 128];
            encode_dstring(self.lv_id.as_deref().unwrap_or(""), &mut lv)?;
            out.extend_from_slice(&lv);
            out.extend_from_slice(&UNMAPPED.to_le_bytes());
            out.extend_from_slice(&self.num_files.unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&self.num_dirs.unwrap_or(0).to_le_bytes());
            for _ in 0..3 {
                out.extend_from_slice(&0x0201u16.to_le_bytes());
            }
            out.extend_from_slice(&[0, 0]);
        }
        for e in &self.entries {
            out.extend_from_slice(&e.to_le_bytes());
        }
        if !v20 {
            out.extend_from_slice(EntityId::udf(VAT15_ID, 0x0150).to_raw().as_bytes());
            out.extend_from_slice(&UNMAPPED.to_le_bytes());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_round_trip() {
        let v = Vat {
            entries: vec![100, 101, UNMAPPED, 7],
            lv_id: Some("LV".into()),
            num_files: Some(2),
            num_dirs: Some(1),
        };
        let b = v.encode(true).unwrap();
        assert_eq!(Vat::parse(&b, true).unwrap(), v);
        let v15 = Vat {
            entries: vec![5, 6],
            lv_id: None,
            num_files: None,
            num_dirs: None,
        };
        let b = v15.encode(false).unwrap();
        assert_eq!(b.len(), 8 + 36);
        assert_eq!(Vat::parse(&b, false).unwrap(), v15);
        assert!(Vat::parse(&b[..20], false).is_err());
        assert!(Vat::parse(&[0u8; 10], true).is_err());
    }
}
