//! ECMA-167 4/14.1 file set descriptor (UDF 2.3.2): names the root
//! directory's ICB.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::cs0::{dstring_lossy, encode_dstring};
use super::tag::{self, RawTag};
use super::time::RawTimestamp;
use super::{EntityId, LongAd, RawCharspec, RawEntityId, RawLongAd};
use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32};
use crate::time::IsoTime;

/// Size of a file set descriptor.
pub const FSD_LEN: usize = 512;

/// ECMA-167 4/14.1 file set descriptor, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawFileSet {
    /// RBP 0: tag (identifier 256).
    pub tag: RawTag,
    /// RBP 16: recording date and time.
    pub recorded: RawTimestamp,
    /// RBP 28: interchange level.
    pub interchange: Le16,
    /// RBP 30: maximum interchange level.
    pub max_interchange: Le16,
    /// RBP 32: character set list.
    pub charset_list: Le32,
    /// RBP 36: maximum character set list.
    pub max_charset_list: Le32,
    /// RBP 40: file set number.
    pub fileset_number: Le32,
    /// RBP 44: file set descriptor number.
    pub fsd_number: Le32,
    /// RBP 48: logical volume identifier character set.
    pub lv_charset: RawCharspec,
    /// RBP 112: logical volume identifier (dstring).
    pub lv_id: [u8; 128],
    /// RBP 240: file set character set.
    pub fs_charset: RawCharspec,
    /// RBP 304: file set identifier (dstring).
    pub fileset_id: [u8; 32],
    /// RBP 336: copyright file identifier (dstring).
    pub copyright_id: [u8; 32],
    /// RBP 368: abstract file identifier (dstring).
    pub abstract_id: [u8; 32],
    /// RBP 400: root directory ICB.
    pub root: RawLongAd,
    /// RBP 416: domain identifier.
    pub domain: RawEntityId,
    /// RBP 448: next extent of file set descriptors.
    pub next: RawLongAd,
    /// RBP 464: system stream directory ICB (UDF 2.00+).
    pub stream_dir: RawLongAd,
    /// RBP 480: reserved.
    pub reserved: [u8; 32],
}
const _: () = assert!(core::mem::size_of::<RawFileSet>() == FSD_LEN);

/// A parsed file set descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSet {
    /// Recording date and time.
    pub recorded: Option<IsoTime>,
    /// File set number.
    pub fileset_number: u32,
    /// Logical volume identifier.
    pub lv_id: String,
    /// File set identifier.
    pub fileset_id: String,
    /// Root directory ICB.
    pub root: LongAd,
    /// Domain identifier.
    pub domain: EntityId,
    /// Next extent of file set descriptors (length 0: none).
    pub next: LongAd,
    /// System stream directory ICB (length 0: none).
    pub stream_dir: LongAd,
}

impl FileSet {
    /// Parses and verifies a file set descriptor at partition block `location`.
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::FSD, location)?;
        let (r, _) = RawFileSet::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
            what: "file set descriptor",
            need: FSD_LEN,
            have: b.len(),
        })?;
        Ok(FileSet {
            recorded: r.recorded.to_iso().ok().flatten(),
            fileset_number: r.fileset_number.get(),
            lv_id: dstring_lossy(&r.lv_id),
            fileset_id: dstring_lossy(&r.fileset_id),
            root: LongAd::from_raw(&r.root),
            domain: EntityId::from_raw(&r.domain),
            next: LongAd::from_raw(&r.next),
            stream_dir: LongAd::from_raw(&r.stream_dir),
        })
    }

    /// Encodes the descriptor recorded at partition block `location`.
    pub fn encode(&self, location: u32) -> Result<[u8; FSD_LEN]> {
        let mut r = RawFileSet::new_zeroed();
        r.recorded = RawTimestamp::from_iso(self.recorded.as_ref());
        r.interchange = Le16::new(3);
        r.max_interchange = Le16::new(3);
        r.charset_list = Le32::new(1);
        r.max_charset_list = Le32::new(1);
        r.fileset_number = Le32::new(self.fileset_number);
        r.lv_charset = RawCharspec::osta_cs0();
        encode_dstring(&self.lv_id, &mut r.lv_id)?;
        r.fs_charset = RawCharspec::osta_cs0();
        encode_dstring(&self.fileset_id, &mut r.fileset_id)?;
        r.root = self.root.to_raw();
        r.domain = self.domain.to_raw();
        r.next = self.next.to_raw();
        r.stream_dir = self.stream_dir.to_raw();
        let mut out = [0u8; FSD_LEN];
        out.copy_from_slice(r.as_bytes());
        tag::seal(&mut out, tag::FSD, location)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udf::LbAddr;

    #[test]
    fn round_trip() {
        let f = FileSet {
            recorded: None,
            fileset_number: 0,
            lv_id: "LV".into(),
            fileset_id: "FS".into(),
            root: LongAd::new(
                2048,
                LbAddr {
                    partition: 0,
                    block: 2,
                },
            ),
            domain: EntityId::domain(0x0102),
            next: LongAd::default(),
            stream_dir: LongAd::default(),
        };
        let b = f.encode(0).unwrap();
        assert_eq!(FileSet::parse(&b, 0).unwrap(), f);
        assert!(FileSet::parse(&b, 1).is_err());
    }
}
