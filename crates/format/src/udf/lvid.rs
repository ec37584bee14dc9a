//! ECMA-167 3/10.10 logical volume integrity descriptor, with the UDF 2.2.6
//! implementation use (file and directory counts, UDF revisions).

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::tag::{self, RawTag};
use super::time::RawTimestamp;
use super::{EntityId, ExtentAd, RawEntityId, RawExtentAd};
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32, Le64};
use crate::time::IsoTime;

/// ECMA-167 3/10.10 fixed part, byte for byte (tables and implementation
/// use follow).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawIntegrity {
    /// RBP 0: tag (identifier 9).
    pub tag: RawTag,
    /// RBP 16: recording date and time.
    pub recorded: RawTimestamp,
    /// RBP 28: integrity type (0 open, 1 closed).
    pub integrity_type: Le32,
    /// RBP 32: next integrity extent.
    pub next: RawExtentAd,
    /// RBP 40: logical volume contents use (the logical volume header
    /// descriptor: next unique ID, then reserved).
    pub next_unique_id: Le64,
    /// RBP 48: reserved part of the logical volume header descriptor.
    pub reserved: [u8; 24],
    /// RBP 72: number of partitions.
    pub num_partitions: Le32,
    /// RBP 76: length of implementation use.
    pub impl_use_len: Le32,
}
const _: () = assert!(core::mem::size_of::<RawIntegrity>() == 80);

/// UDF 2.2.6.4 implementation use of the LVID, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawIntegrityImplUse {
    /// RBP 0: implementation identifier.
    pub impl_id: RawEntityId,
    /// RBP 32: number of files.
    pub num_files: Le32,
    /// RBP 36: number of directories.
    pub num_dirs: Le32,
    /// RBP 40: minimum UDF read revision.
    pub min_read: Le16,
    /// RBP 42: minimum UDF write revision.
    pub min_write: Le16,
    /// RBP 44: maximum UDF write revision.
    pub max_write: Le16,
}
const _: () = assert!(core::mem::size_of::<RawIntegrityImplUse>() == 46);

/// A parsed logical volume integrity descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integrity {
    /// Recording date and time.
    pub recorded: Option<IsoTime>,
    /// 0 open, 1 closed.
    pub integrity_type: u32,
    /// Next integrity extent (length 0: none).
    pub next: ExtentAd,
    /// Next unique ID to assign.
    pub next_unique_id: u64,
    /// Free blocks per partition.
    pub free: Vec<u32>,
    /// Size in blocks per partition.
    pub size: Vec<u32>,
    /// Implementation identifier (UDF implementation use).
    pub impl_id: Option<EntityId>,
    /// Number of files.
    pub num_files: Option<u32>,
    /// Number of directories.
    pub num_dirs: Option<u32>,
    /// Minimum UDF read revision.
    pub min_read: Option<u16>,
    /// Minimum UDF write revision.
    pub min_write: Option<u16>,
    /// Maximum UDF write revision.
    pub max_write: Option<u16>,
}

impl Integrity {
    /// Whether the volume was closed cleanly.
    pub fn is_closed(&self) -> bool {
        self.integrity_type == 1
    }

    /// Parses and verifies an LVID at sector `location`; `b` holds the whole
    /// descriptor (the CRC length says how much that is).
    pub fn parse(b: &[u8], location: u32) -> Result<Self> {
        tag::Tag::verify(b, tag::LVID, location)?;
        let (r, rest) = RawIntegrity::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
            what: "logical volume integrity descriptor",
            need: 80,
            have: b.len(),
        })?;
        let mut c = Cursor::new(rest, "logical volume integrity descriptor tables");
        let n = r.num_partitions.get();
        // Each partition needs 8 bytes: a count beyond what is recorded is
        // truncation, found before anything is allocated for it.
        let need = u64::from(n).saturating_mul(8);
        if need > c.remaining() as u64 {
            return Err(FormatError::Truncated {
                what: "logical volume integrity descriptor tables",
                need: usize::try_from(need).unwrap_or(usize::MAX),
                have: c.remaining(),
            });
        }
        let read = |c: &mut Cursor<'_>| -> Result<Vec<u32>> {
            (0..n)
                .map(|_| c.array::<4>().map(u32::from_le_bytes))
                .collect()
        };
        let free = read(&mut c)?;
        let size = read(&mut c)?;
        let iu_len = usize::try_from(r.impl_use_len.get()).unwrap_or(usize::MAX);
        let iu = c.take(iu_len.min(c.remaining()))?;
        let parsed = RawIntegrityImplUse::ref_from_prefix(iu)
            .ok()
            .map(|(x, _)| x);
        Ok(Integrity {
            recorded: r.recorded.to_iso().ok().flatten(),
            integrity_type: r.integrity_type.get(),
            next: ExtentAd::from_raw(&r.next),
            next_unique_id: r.next_unique_id.get(),
            free,
            size,
            impl_id: parsed.map(|p| EntityId::from_raw(&p.impl_id)),
            num_files: parsed.map(|p| p.num_files.get()),
            num_dirs: parsed.map(|p| p.num_dirs.get()),
            min_read: parsed.map(|p| p.min_read.get()),
            min_write: parsed.map(|p| p.min_write.get()),
            max_write: parsed.map(|p| p.max_write.get()),
        })
    }

    /// Encodes the descriptor recorded at sector `location`.
    pub fn encode(&self, location: u32) -> Result<Vec<u8>> {
        let mut r = RawIntegrity::new_zeroed();
        r.recorded = RawTimestamp::from_iso(self.recorded.as_ref());
        r.integrity_type = Le32::new(self.integrity_type);
        r.next = self.next.to_raw();
        r.next_unique_id = Le64::new(self.next_unique_id);
        r.num_partitions = Le32::new(u32::try_from(self.free.len()).unwrap_or(0));
        r.impl_use_len = Le32::new(46);
        let mut out = r.as_bytes().to_vec();
        for v in self.free.iter().chain(&self.size) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let iu = RawIntegrityImplUse {
            impl_id: self.impl_id.unwrap_or_default().to_raw(),
            num_files: Le32::new(self.num_files.unwrap_or(0)),
            num_dirs: Le32::new(self.num_dirs.unwrap_or(0)),
            min_read: Le16::new(self.min_read.unwrap_or(0)),
            min_write: Le16::new(self.min_write.unwrap_or(0)),
            max_write: Le16::new(self.max_write.unwrap_or(0)),
        };
        out.extend_from_slice(iu.as_bytes());
        tag::seal(&mut out, tag::LVID, location)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_counts() {
        let lvid = Integrity {
            recorded: None,
            integrity_type: 1,
            next: ExtentAd::default(),
            next_unique_id: 16,
            free: vec![10],
            size: vec![100],
            impl_id: Some(EntityId::new(b"*isoforge", [0; 8])),
            num_files: Some(3),
            num_dirs: Some(2),
            min_read: Some(0x0250),
            min_write: Some(0x0250),
            max_write: Some(0x0250),
        };
        let b = lvid.encode(64).unwrap();
        let p = Integrity::parse(&b, 64).unwrap();
        assert_eq!(p, lvid);
        assert!(p.is_closed());
        let mut bad = b.clone();
        bad[72..76].copy_from_slice(&u32::MAX.to_le_bytes());
        tag::seal(&mut bad, tag::LVID, 64).unwrap();
        assert!(matches!(
            Integrity::parse(&bad, 64),
            Err(FormatError::Truncated { .. })
        ));
    }
}
