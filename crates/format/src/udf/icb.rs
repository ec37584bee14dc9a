//! ICBs: the ICB tag (ECMA-167 4/14.6), file entry (4/14.9), extended file
//! entry (4/14.17), indirect entry (4/14.7), and the allocation descriptors
//! of 4/14.14 (short_ad, long_ad, ext_ad) that say where a file's data is.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::tag::{self, RawTag};
use super::time::RawTimestamp;
use super::{
    EntityId, ExtentKind, LbAddr, LongAd, RawEntityId, RawLbAddr, RawLongAd, MAX_EXTENT_LEN,
};
use crate::cursor::Cursor;
use crate::error::{FormatError, Result};
use crate::num::{Le16, Le32, Le64};
use crate::time::IsoTime;

/// Size of the fixed part of a file entry.
pub const FE_FIXED_LEN: usize = 176;
/// Size of the fixed part of an extended file entry.
pub const EFE_FIXED_LEN: usize = 216;

/// ECMA-167 4/14.6.6 file types.
pub mod file_type {
    /// Unspecified (also the UDF 1.50 VAT).
    pub const UNSPECIFIED: u8 = 0;
    /// Indirect entry.
    pub const INDIRECT: u8 = 3;
    /// Directory.
    pub const DIRECTORY: u8 = 4;
    /// Regular file (a random-access byte sequence).
    pub const REGULAR: u8 = 5;
    /// Block device.
    pub const BLOCK: u8 = 6;
    /// Character device.
    pub const CHAR: u8 = 7;
    /// Extended attributes.
    pub const EA: u8 = 8;
    /// FIFO.
    pub const FIFO: u8 = 9;
    /// Socket.
    pub const SOCKET: u8 = 10;
    /// Terminal entry.
    pub const TERMINAL: u8 = 11;
    /// Symbolic link (path components in the data).
    pub const SYMLINK: u8 = 12;
    /// Stream directory.
    pub const STREAM_DIR: u8 = 13;
    /// UDF 2.00 virtual allocation table.
    pub const VAT20: u8 = 248;
    /// UDF real-time file.
    pub const REALTIME: u8 = 249;
    /// UDF 2.50 metadata file.
    pub const METADATA: u8 = 250;
    /// UDF 2.50 metadata mirror file.
    pub const METADATA_MIRROR: u8 = 251;
    /// UDF 2.50 metadata bitmap file.
    pub const METADATA_BITMAP: u8 = 252;
}

/// ICB tag flag bits (4/14.6.8).
pub mod flags {
    /// Bits 0-2: allocation descriptor type.
    pub const AD_MASK: u16 = 0x0007;
    /// Set-user-ID.
    pub const SETUID: u16 = 0x0040;
    /// Set-group-ID.
    pub const SETGID: u16 = 0x0080;
    /// Sticky.
    pub const STICKY: u16 = 0x0100;
}

/// ECMA-167 4/14.6 ICB tag, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct RawIcbTag {
    /// RBP 0: prior recorded number of direct entries.
    pub prior_entries: Le32,
    /// RBP 4: strategy type (4, or 4096 for write-once media).
    pub strategy: Le16,
    /// RBP 6: strategy parameter.
    pub strategy_param: Le16,
    /// RBP 8: maximum number of entries.
    pub max_entries: Le16,
    /// RBP 10: reserved.
    pub reserved: u8,
    /// RBP 11: file type.
    pub file_type: u8,
    /// RBP 12: parent ICB location.
    pub parent: RawLbAddr,
    /// RBP 18: flags.
    pub flags: Le16,
}
const _: () = assert!(core::mem::size_of::<RawIcbTag>() == 20);

/// How a file entry records its allocation descriptors (ICB flags bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdType {
    /// 0: short_ad (8 bytes, in the ICB's own partition).
    Short,
    /// 1: long_ad (16 bytes).
    Long,
    /// 2: ext_ad (20 bytes).
    Extended,
    /// 3: the data itself is recorded in the allocation descriptor area.
    Embedded,
    /// 4-7: reserved.
    Reserved(u8),
}

impl AdType {
    /// From the ICB tag flags.
    pub fn from_flags(f: u16) -> AdType {
        match f & flags::AD_MASK {
            0 => AdType::Short,
            1 => AdType::Long,
            2 => AdType::Extended,
            3 => AdType::Embedded,
            x => AdType::Reserved(u8::try_from(x).unwrap_or(7)),
        }
    }
    /// The flag bits.
    pub fn bits(self) -> u16 {
        match self {
            AdType::Short => 0,
            AdType::Long => 1,
            AdType::Extended => 2,
            AdType::Embedded => 3,
            AdType::Reserved(x) => u16::from(x & 7),
        }
    }
    /// Size of one descriptor, for the list types.
    pub fn size(self) -> Option<usize> {
        match self {
            AdType::Short => Some(8),
            AdType::Long => Some(16),
            AdType::Extended => Some(20),
            _ => None,
        }
    }
}

/// A parsed ICB tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcbTag {
    /// Prior recorded number of direct entries.
    pub prior_entries: u32,
    /// Strategy type.
    pub strategy: u16,
    /// Strategy parameter.
    pub strategy_param: u16,
    /// Maximum number of entries.
    pub max_entries: u16,
    /// File type.
    pub file_type: u8,
    /// Parent ICB.
    pub parent: LbAddr,
    /// Flags.
    pub flags: u16,
}

impl IcbTag {
    /// From the raw record.
    pub fn from_raw(r: &RawIcbTag) -> Self {
        IcbTag {
            prior_entries: r.prior_entries.get(),
            strategy: r.strategy.get(),
            strategy_param: r.strategy_param.get(),
            max_entries: r.max_entries.get(),
            file_type: r.file_type,
            parent: LbAddr::from_raw(&r.parent),
            flags: r.flags.get(),
        }
    }
    /// The raw record.
    pub fn to_raw(self) -> RawIcbTag {
        RawIcbTag {
            prior_entries: Le32::new(self.prior_entries),
            strategy: Le16::new(self.strategy),
            strategy_param: Le16::new(self.strategy_param),
            max_entries: Le16::new(self.max_entries),
            reserved: 0,
            file_type: self.file_type,
            parent: self.parent.to_raw(),
            flags: Le16::new(self.flags),
        }
    }
    /// The allocation descriptor type.
    pub fn ad_type(&self) -> AdType {
        AdType::from_flags(self.flags)
    }
}

/// ECMA-167 4/14.9 file entry, fixed part, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawFileEntry {
    /// RBP 0: tag (identifier 261).
    pub tag: RawTag,
    /// RBP 16: ICB tag.
    pub icb: RawIcbTag,
    /// RBP 36: owner.
    pub uid: Le32,
    /// RBP 40: group.
    pub gid: Le32,
    /// RBP 44: permissions (4/14.9.5).
    pub permissions: Le32,
    /// RBP 48: file link count.
    pub link_count: Le16,
    /// RBP 50: record format.
    pub record_format: u8,
    /// RBP 51: record display attributes.
    pub record_display: u8,
    /// RBP 52: record length.
    pub record_len: Le32,
    /// RBP 56: information length (file size).
    pub info_len: Le64,
    /// RBP 64: logical blocks recorded.
    pub blocks_recorded: Le64,
    /// RBP 72: access time.
    pub atime: RawTimestamp,
    /// RBP 84: modification time.
    pub mtime: RawTimestamp,
    /// RBP 96: attribute time.
    pub attr_time: RawTimestamp,
    /// RBP 108: checkpoint.
    pub checkpoint: Le32,
    /// RBP 112: extended attribute ICB.
    pub ea_icb: RawLongAd,
    /// RBP 128: implementation identifier.
    pub impl_id: RawEntityId,
    /// RBP 160: unique ID.
    pub unique_id: Le64,
    /// RBP 168: length of extended attributes.
    pub ea_len: Le32,
    /// RBP 172: length of allocation descriptors.
    pub ad_len: Le32,
}
const _: () = assert!(core::mem::size_of::<RawFileEntry>() == FE_FIXED_LEN);

/// ECMA-167 4/14.17 extended file entry, fixed part, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawExtFileEntry {
    /// RBP 0: tag (identifier 266).
    pub tag: RawTag,
    /// RBP 16: ICB tag.
    pub icb: RawIcbTag,
    /// RBP 36: owner.
    pub uid: Le32,
    /// RBP 40: group.
    pub gid: Le32,
    /// RBP 44: permissions.
    pub permissions: Le32,
    /// RBP 48: file link count.
    pub link_count: Le16,
    /// RBP 50: record format.
    pub record_format: u8,
    /// RBP 51: record display attributes.
    pub record_display: u8,
    /// RBP 52: record length.
    pub record_len: Le32,
    /// RBP 56: information length.
    pub info_len: Le64,
    /// RBP 64: object size (all streams).
    pub object_size: Le64,
    /// RBP 72: logical blocks recorded.
    pub blocks_recorded: Le64,
    /// RBP 80: access time.
    pub atime: RawTimestamp,
    /// RBP 92: modification time.
    pub mtime: RawTimestamp,
    /// RBP 104: creation time.
    pub ctime: RawTimestamp,
    /// RBP 116: attribute time.
    pub attr_time: RawTimestamp,
    /// RBP 128: checkpoint.
    pub checkpoint: Le32,
    /// RBP 132: reserved.
    pub reserved: Le32,
    /// RBP 136: extended attribute ICB.
    pub ea_icb: RawLongAd,
    /// RBP 152: stream directory ICB.
    pub stream_dir: RawLongAd,
    /// RBP 168: implementation identifier.
    pub impl_id: RawEntityId,
    /// RBP 200: unique ID.
    pub unique_id: Le64,
    /// RBP 208: length of extended attributes.
    pub ea_len: Le32,
    /// RBP 212: length of allocation descriptors.
    pub ad_len: Le32,
}
const _: () = assert!(core::mem::size_of::<RawExtFileEntry>() == EFE_FIXED_LEN);

/// A parsed file entry or extended file entry. `ea` and `ad` borrow from
/// the block the entry was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry<'a> {
    /// An extended file entry (4/14.17) rather than a file entry.
    pub extended: bool,
    /// ICB tag.
    pub icb: IcbTag,
    /// Owner (u32::MAX: not specified).
    pub uid: u32,
    /// Group (u32::MAX: not specified).
    pub gid: u32,
    /// Permissions (4/14.9.5): other in bits 0-4, group 5-9, owner 10-14.
    pub permissions: u32,
    /// File link count.
    pub link_count: u16,
    /// Information length (the file's size).
    pub info_len: u64,
    /// Logical blocks recorded.
    pub blocks_recorded: u64,
    /// Access time.
    pub atime: Option<IsoTime>,
    /// Modification time.
    pub mtime: Option<IsoTime>,
    /// Creation time (extended file entries only).
    pub ctime: Option<IsoTime>,
    /// Attribute time.
    pub attr_time: Option<IsoTime>,
    /// Stream directory ICB (extended file entries; length 0 if none).
    pub stream_dir: LongAd,
    /// Implementation identifier.
    pub impl_id: EntityId,
    /// Unique ID.
    pub unique_id: u64,
    /// Extended attributes.
    pub ea: &'a [u8],
    /// Allocation descriptors (or embedded data).
    pub ad: &'a [u8],
    /// Offset of `ad` from the start of the entry.
    pub ad_offset: usize,
    /// Timestamps that could not be read (ignored).
    pub bad_times: u8,
}

fn time(t: &RawTimestamp, bad: &mut u8) -> Option<IsoTime> {
    match t.to_iso() {
        Ok(x) => x,
        Err(_) => {
            *bad = bad.saturating_add(1);
            None
        }
    }
}

impl<'a> FileEntry<'a> {
    /// Parses and verifies a file entry or extended file entry at partition
    /// block `location`. `b` is the block; the extended attribute and
    /// allocation descriptor lengths must fit in it.
    pub fn parse(b: &'a [u8], location: u32) -> Result<Self> {
        let t = tag::Tag::parse(b)?;
        t.check_location(location)?;
        let mut bad = 0u8;
        let (mut fe, fixed, ea_len, ad_len) = match t.ident {
            tag::FE => {
                let (r, _) =
                    RawFileEntry::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
                        what: "file entry",
                        need: FE_FIXED_LEN,
                        have: b.len(),
                    })?;
                (
                    FileEntry {
                        extended: false,
                        icb: IcbTag::from_raw(&r.icb),
                        uid: r.uid.get(),
                        gid: r.gid.get(),
                        permissions: r.permissions.get(),
                        link_count: r.link_count.get(),
                        info_len: r.info_len.get(),
                        blocks_recorded: r.blocks_recorded.get(),
                        atime: time(&r.atime, &mut bad),
                        mtime: time(&r.mtime, &mut bad),
                        ctime: None,
                        attr_time: time(&r.attr_time, &mut bad),
                        stream_dir: LongAd::default(),
                        impl_id: EntityId::from_raw(&r.impl_id),
                        unique_id: r.unique_id.get(),
                        ea: &[],
                        ad: &[],
                        ad_offset: 0,
                        bad_times: 0,
                    },
                    FE_FIXED_LEN,
                    r.ea_len.get(),
                    r.ad_len.get(),
                )
            }
            tag::EFE => {
                let (r, _) =
                    RawExtFileEntry::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
                        what: "extended file entry",
                        need: EFE_FIXED_LEN,
                        have: b.len(),
                    })?;
                (
                    FileEntry {
                        extended: true,
                        icb: IcbTag::from_raw(&r.icb),
                        uid: r.uid.get(),
                        gid: r.gid.get(),
                        permissions: r.permissions.get(),
                        link_count: r.link_count.get(),
                        info_len: r.info_len.get(),
                        blocks_recorded: r.blocks_recorded.get(),
                        atime: time(&r.atime, &mut bad),
                        mtime: time(&r.mtime, &mut bad),
                        ctime: time(&r.ctime, &mut bad),
                        attr_time: time(&r.attr_time, &mut bad),
                        stream_dir: LongAd::from_raw(&r.stream_dir),
                        impl_id: EntityId::from_raw(&r.impl_id),
                        unique_id: r.unique_id.get(),
                        ea: &[],
                        ad: &[],
                        ad_offset: 0,
                        bad_times: 0,
                    },
                    EFE_FIXED_LEN,
                    r.ea_len.get(),
                    r.ad_len.get(),
                )
            }
            other => {
                return Err(FormatError::BadValue {
                    what: "file entry tag identifier",
                    value: other.into(),
                })
            }
        };
        let rest = b.get(fixed..).unwrap_or_default();
        let mut c = Cursor::new(
            rest,
            "file entry extended attributes and allocation descriptors",
        );
        fe.ea = c.take(usize::try_from(ea_len).unwrap_or(usize::MAX))?;
        fe.ad = c.take(usize::try_from(ad_len).unwrap_or(usize::MAX))?;
        // Both lengths fit in `b`, so the sum cannot overflow.
        fe.ad_offset = fixed.saturating_add(fe.ea.len());
        fe.bad_times = bad;
        Ok(fe)
    }

    /// Encodes the entry recorded at partition block `location`.
    pub fn encode(&self, location: u32) -> Result<Vec<u8>> {
        let len32 = |n: usize| {
            u32::try_from(n).map_err(|_| FormatError::BadValue {
                what: "file entry area length",
                value: n as u64,
            })
        };
        let mut out = if self.extended {
            let mut r = RawExtFileEntry::new_zeroed();
            r.icb = self.icb.to_raw();
            r.uid = Le32::new(self.uid);
            r.gid = Le32::new(self.gid);
            r.permissions = Le32::new(self.permissions);
            r.link_count = Le16::new(self.link_count);
            r.info_len = Le64::new(self.info_len);
            r.object_size = Le64::new(self.info_len);
            r.blocks_recorded = Le64::new(self.blocks_recorded);
            r.atime = RawTimestamp::from_iso(self.atime.as_ref());
            r.mtime = RawTimestamp::from_iso(self.mtime.as_ref());
            r.ctime = RawTimestamp::from_iso(self.ctime.as_ref());
            r.attr_time = RawTimestamp::from_iso(self.attr_time.as_ref());
            r.stream_dir = self.stream_dir.to_raw();
            r.impl_id = self.impl_id.to_raw();
            r.unique_id = Le64::new(self.unique_id);
            r.ea_len = Le32::new(len32(self.ea.len())?);
            r.ad_len = Le32::new(len32(self.ad.len())?);
            r.as_bytes().to_vec()
        } else {
            let mut r = RawFileEntry::new_zeroed();
            r.icb = self.icb.to_raw();
            r.uid = Le32::new(self.uid);
            r.gid = Le32::new(self.gid);
            r.permissions = Le32::new(self.permissions);
            r.link_count = Le16::new(self.link_count);
            r.info_len = Le64::new(self.info_len);
            r.blocks_recorded = Le64::new(self.blocks_recorded);
            r.atime = RawTimestamp::from_iso(self.atime.as_ref());
            r.mtime = RawTimestamp::from_iso(self.mtime.as_ref());
            r.attr_time = RawTimestamp::from_iso(self.attr_time.as_ref());
            r.impl_id = self.impl_id.to_raw();
            r.unique_id = Le64::new(self.unique_id);
            r.ea_len = Le32::new(len32(self.ea.len())?);
            r.ad_len = Le32::new(len32(self.ad.len())?);
            r.as_bytes().to_vec()
        };
        out.extend_from_slice(self.ea);
        out.extend_from_slice(self.ad);
        let ident = if self.extended { tag::EFE } else { tag::FE };
        tag::seal(&mut out, ident, location)?;
        Ok(out)
    }

    /// The Unix permission bits (0o7777) of the entry: ECMA-167 read, write
    /// and execute bits of owner, group and other, and the set-ID and sticky
    /// flags of the ICB tag.
    pub fn unix_mode(&self) -> u32 {
        let p = self.permissions;
        let rwx = |shift: u32| (p >> shift) & 7;
        let mut m = (rwx(10) << 6) | (rwx(5) << 3) | rwx(0);
        let f = self.icb.flags;
        if f & flags::SETUID != 0 {
            m |= 0o4000;
        }
        if f & flags::SETGID != 0 {
            m |= 0o2000;
        }
        if f & flags::STICKY != 0 {
            m |= 0o1000;
        }
        m
    }

    /// ECMA-167 permissions (with the delete and change-attribute bits of
    /// the owner) from Unix mode bits.
    pub fn permissions_from_mode(mode: u32) -> u32 {
        let (u, g, o) = ((mode >> 6) & 7, (mode >> 3) & 7, mode & 7);
        (u << 10) | (g << 5) | o | 0x6000
    }
}

/// ECMA-167 4/14.7 indirect entry, byte for byte.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy)]
#[repr(C)]
pub struct RawIndirectEntry {
    /// RBP 0: tag (identifier 259).
    pub tag: RawTag,
    /// RBP 16: ICB tag.
    pub icb: RawIcbTag,
    /// RBP 36: the indirect ICB.
    pub indirect: RawLongAd,
}
const _: () = assert!(core::mem::size_of::<RawIndirectEntry>() == 52);

/// Parses an indirect entry at partition block `location`: where the ICB
/// continues.
pub fn parse_indirect(b: &[u8], location: u32) -> Result<LongAd> {
    tag::Tag::verify(b, tag::IE, location)?;
    let (r, _) = RawIndirectEntry::ref_from_prefix(b).map_err(|_| FormatError::Truncated {
        what: "indirect entry",
        need: 52,
        have: b.len(),
    })?;
    Ok(LongAd::from_raw(&r.indirect))
}

/// Encodes an indirect entry at `location` pointing to `to`.
pub fn encode_indirect(location: u32, to: LongAd) -> Result<Vec<u8>> {
    let mut r = RawIndirectEntry::new_zeroed();
    r.icb = IcbTag {
        strategy: 4096,
        file_type: file_type::INDIRECT,
        ..IcbTag::default()
    }
    .to_raw();
    r.indirect = to.to_raw();
    let mut out = r.as_bytes().to_vec();
    tag::seal(&mut out, tag::IE, location)?;
    Ok(out)
}

/// One allocation descriptor, of any of the three list types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocDesc {
    /// What the extent holds.
    pub kind: ExtentKind,
    /// Extent length in bytes.
    pub len: u32,
    /// First logical block.
    pub block: u32,
    /// Partition reference number (long_ad and ext_ad; short_ad extents are
    /// in the partition of the ICB).
    pub partition: Option<u16>,
}

/// Parses a list of allocation descriptors of type `ad` (short, long or
/// extended). The list ends at its end or at a descriptor of length 0; a
/// partial descriptor at the end is ignored (ECMA-167 4/12: the area may be
/// padded).
pub fn parse_ads(b: &[u8], ad: AdType) -> Result<AdIter<'_>> {
    let size = ad.size().ok_or(FormatError::BadValue {
        what: "allocation descriptor type",
        value: ad.bits().into(),
    })?;
    Ok(AdIter {
        b,
        size,
        done: false,
    })
}

/// Iterator over allocation descriptors (see [`parse_ads`]).
#[derive(Debug, Clone)]
pub struct AdIter<'a> {
    b: &'a [u8],
    size: usize,
    done: bool,
}

impl Iterator for AdIter<'_> {
    type Item = AllocDesc;
    fn next(&mut self) -> Option<AllocDesc> {
        if self.done {
            return None;
        }
        let (d, rest) = self.b.split_at_checked(self.size)?;
        self.b = rest;
        let w = |i: usize| {
            d.get(i..i.saturating_add(4))
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map_or(0, u32::from_le_bytes)
        };
        let p = |i: usize| {
            d.get(i..i.saturating_add(2))
                .and_then(|s| <[u8; 2]>::try_from(s).ok())
                .map(u16::from_le_bytes)
        };
        let lf = w(0);
        let len = lf & MAX_EXTENT_LEN;
        if len == 0 {
            self.done = true;
            return None;
        }
        let (block, partition) = match self.size {
            8 => (w(4), None),
            16 => (w(4), p(8)),
            // ext_ad: length, recorded length, information length, location.
            _ => (w(12), p(16)),
        };
        Some(AllocDesc {
            kind: ExtentKind::from_len_field(lf),
            len,
            block,
            partition,
        })
    }
}

/// Appends allocation descriptors of type `ad`.
pub fn encode_ads(ads: &[AllocDesc], ad: AdType, out: &mut Vec<u8>) -> Result<()> {
    for d in ads {
        let lf = (d.len & MAX_EXTENT_LEN) | d.kind.bits();
        match ad {
            AdType::Short => {
                out.extend_from_slice(&lf.to_le_bytes());
                out.extend_from_slice(&d.block.to_le_bytes());
            }
            AdType::Long => {
                let l = LongAd {
                    len: d.len,
                    kind_bits: u8::try_from(d.kind.bits() >> 30).unwrap_or(0),
                    loc: LbAddr {
                        partition: d.partition.unwrap_or(0),
                        block: d.block,
                    },
                    impl_use: [0; 6],
                };
                out.extend_from_slice(l.to_raw().as_bytes());
            }
            AdType::Extended => {
                out.extend_from_slice(&lf.to_le_bytes());
                out.extend_from_slice(&d.len.to_le_bytes());
                out.extend_from_slice(&d.len.to_le_bytes());
                out.extend_from_slice(&d.block.to_le_bytes());
                out.extend_from_slice(&d.partition.unwrap_or(0).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            _ => {
                return Err(FormatError::BadValue {
                    what: "allocation descriptor type",
                    value: ad.bits().into(),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(unix: i64) -> Option<IsoTime> {
        Some(IsoTime {
            unix,
            nanos: 0,
            offset_quarters: 0,
        })
    }

    fn entry<'a>(extended: bool, ad: &'a [u8], ea: &'a [u8]) -> FileEntry<'a> {
        FileEntry {
            extended,
            icb: IcbTag {
                strategy: 4,
                file_type: file_type::REGULAR,
                flags: AdType::Long.bits() | flags::SETUID,
                ..IcbTag::default()
            },
            uid: 1000,
            gid: 100,
            permissions: FileEntry::permissions_from_mode(0o754),
            link_count: 2,
            info_len: 5000,
            blocks_recorded: 3,
            atime: t(1),
            mtime: t(2),
            ctime: if extended { t(3) } else { None },
            attr_time: t(4),
            stream_dir: LongAd::default(),
            impl_id: EntityId::new(b"*isoforge", [0; 8]),
            unique_id: 99,
            ea,
            ad,
            ad_offset: if extended {
                EFE_FIXED_LEN
            } else {
                FE_FIXED_LEN
            } + ea.len(),
            bad_times: 0,
        }
    }

    #[test]
    fn entries_round_trip() {
        let ads = [
            AllocDesc {
                kind: ExtentKind::Recorded,
                len: 4096,
                block: 10,
                partition: Some(0),
            },
            AllocDesc {
                kind: ExtentKind::NotAllocated,
                len: 904,
                block: 0,
                partition: Some(0),
            },
        ];
        let mut ad = Vec::new();
        encode_ads(&ads, AdType::Long, &mut ad).unwrap();
        let ea = [0u8; 24];
        for extended in [false, true] {
            let e = entry(extended, &ad, &ea);
            let mut b = e.encode(7).unwrap();
            b.resize(2048, 0);
            let p = FileEntry::parse(&b, 7).unwrap();
            assert_eq!(p, e);
            assert_eq!(p.unix_mode(), 0o4754);
            assert_eq!(
                parse_ads(p.ad, AdType::Long).unwrap().collect::<Vec<_>>(),
                ads
            );
            assert!(FileEntry::parse(&b, 8).is_err());
        }
    }

    #[test]
    fn lengths_past_the_block_fail() {
        let e = entry(false, &[], &[]);
        let mut b = e.encode(1).unwrap();
        // L_AD claims 4 GiB.
        b[172..176].copy_from_slice(&u32::MAX.to_le_bytes());
        tag::seal(&mut b, tag::FE, 1).unwrap();
        assert!(matches!(
            FileEntry::parse(&b, 1),
            Err(FormatError::Truncated { .. })
        ));
    }

    #[test]
    fn ad_lists_of_every_type() {
        let ads = [AllocDesc {
            kind: ExtentKind::Continuation,
            len: 2048,
            block: 42,
            partition: None,
        }];
        for ty in [AdType::Short, AdType::Long, AdType::Extended] {
            let mut b = Vec::new();
            encode_ads(&ads, ty, &mut b).unwrap();
            assert_eq!(b.len(), ty.size().unwrap());
            // Padding and a zero-length terminator end the list.
            b.extend_from_slice(&[0u8; 24]);
            let got: Vec<_> = parse_ads(&b, ty).unwrap().collect();
            assert_eq!(got.len(), 1);
            assert_eq!(
                (got[0].kind, got[0].len, got[0].block),
                (ExtentKind::Continuation, 2048, 42)
            );
        }
        assert!(parse_ads(&[], AdType::Embedded).is_err());
        let mut b = Vec::new();
        assert!(encode_ads(&ads, AdType::Embedded, &mut b).is_err());
    }

    #[test]
    fn indirect_round_trip() {
        let to = LongAd::new(
            2048,
            LbAddr {
                partition: 0,
                block: 77,
            },
        );
        let b = encode_indirect(5, to).unwrap();
        assert_eq!(parse_indirect(&b, 5).unwrap(), to);
        assert!(parse_indirect(&b, 6).is_err());
    }
}
