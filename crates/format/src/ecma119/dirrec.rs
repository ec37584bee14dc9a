//! ECMA-119 §9.1: directory records.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::{Both16, Both32, Mismatch};

/// ECMA-119 §9.1 fixed part of a directory record, 33 bytes, followed by the
/// file identifier, a padding byte when the identifier length is even, and the
/// system use area (SUSP / Rock Ridge).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RawDirRecordHeader {
    /// BP 1: length of the directory record.
    pub len_dr: u8,
    /// BP 2: extended attribute record length, in logical blocks.
    pub ear_len: u8,
    /// BP 3-10: location of the extent.
    pub extent: Both32,
    /// BP 11-18: data length.
    pub data_len: Both32,
    /// BP 19-25: recording date and time.
    pub recorded: [u8; 7],
    /// BP 26: file flags.
    pub flags: u8,
    /// BP 27: file unit size (interleaved files).
    pub file_unit_size: u8,
    /// BP 28: interleave gap size.
    pub interleave_gap: u8,
    /// BP 29-32: volume sequence number.
    pub volume_sequence_number: Both16,
    /// BP 33: length of the file identifier.
    pub len_fi: u8,
}
const _: () = assert!(core::mem::size_of::<RawDirRecordHeader>() == 33);

/// ECMA-119 §9.1.6 file flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFlags(pub u8);

impl FileFlags {
    /// Bit 0: existence (hidden from the user).
    pub const HIDDEN: u8 = 0x01;
    /// Bit 1: directory.
    pub const DIRECTORY: u8 = 0x02;
    /// Bit 2: associated file.
    pub const ASSOCIATED: u8 = 0x04;
    /// Bit 3: record format in the extended attribute record.
    pub const RECORD: u8 = 0x08;
    /// Bit 4: protection in the extended attribute record.
    pub const PROTECTION: u8 = 0x10;
    /// Bit 7: not the final directory record of a multi-extent file.
    pub const MULTI_EXTENT: u8 = 0x80;

    /// Whether the hidden (existence) bit is set.
    pub fn hidden(self) -> bool {
        self.0 & Self::HIDDEN != 0
    }
    /// Whether this is a directory.
    pub fn directory(self) -> bool {
        self.0 & Self::DIRECTORY != 0
    }
    /// Whether this is an associated file.
    pub fn associated(self) -> bool {
        self.0 & Self::ASSOCIATED != 0
    }
    /// Whether more extents of this file follow.
    pub fn multi_extent(self) -> bool {
        self.0 & Self::MULTI_EXTENT != 0
    }
}

/// A parsed directory record borrowing its name and system use area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRecord<'a> {
    /// Total record length.
    pub len: u8,
    /// Extended attribute record length in logical blocks.
    pub ear_len: u8,
    /// First logical block of the extent.
    pub extent: u32,
    /// Data length in bytes.
    pub data_len: u32,
    /// Recording date (7-byte form).
    pub recorded: [u8; 7],
    /// File flags.
    pub flags: FileFlags,
    /// File unit size (interleaving), 0 if not interleaved.
    pub file_unit_size: u8,
    /// Interleave gap size.
    pub interleave_gap: u8,
    /// Volume sequence number.
    pub volume_sequence_number: u16,
    /// File identifier bytes (`\0` is "." and `\x01` is "..").
    pub name: &'a [u8],
    /// System use area.
    pub system_use: &'a [u8],
    /// Both-endian fields whose halves disagree.
    pub mismatches: [Option<(&'static str, Mismatch)>; 2],
}

impl<'a> DirRecord<'a> {
    /// Parses one record from the start of `buf`. `buf` must end where the
    /// record may end (the sector boundary); the record's own length byte
    /// decides how much is consumed. Returns the record and its length.
    pub fn parse(buf: &'a [u8]) -> Result<DirRecord<'a>> {
        let len = *buf.first().ok_or(FormatError::Truncated {
            what: "directory record",
            need: 1,
            have: 0,
        })?;
        let len_us = usize::from(len);
        if len_us < 34 {
            return Err(FormatError::BadValue {
                what: "directory record length",
                value: u64::from(len),
            });
        }
        let rec = buf.get(..len_us).ok_or(FormatError::Truncated {
            what: "directory record (overruns its sector)",
            need: len_us,
            have: buf.len(),
        })?;
        let (hdr, rest) =
            RawDirRecordHeader::ref_from_prefix(rec).map_err(|_| FormatError::Truncated {
                what: "directory record",
                need: 33,
                have: rec.len(),
            })?;
        let len_fi = usize::from(hdr.len_fi);
        if len_fi == 0 || len_fi > rest.len() {
            return Err(FormatError::BadValue {
                what: "directory record file identifier length",
                value: len_fi as u64,
            });
        }
        let (name, after) = rest.split_at(len_fi);
        // One padding byte follows an even-length identifier.
        let system_use = if len_fi % 2 == 0 {
            after.get(1..).unwrap_or_default()
        } else {
            after
        };
        let extent = hdr.extent.checked();
        let data_len = hdr.data_len.checked();
        Ok(DirRecord {
            len,
            ear_len: hdr.ear_len,
            extent: extent.unwrap_or_else(|_| hdr.extent.get()),
            data_len: data_len.unwrap_or_else(|_| hdr.data_len.get()),
            recorded: hdr.recorded,
            flags: FileFlags(hdr.flags),
            file_unit_size: hdr.file_unit_size,
            interleave_gap: hdr.interleave_gap,
            volume_sequence_number: hdr.volume_sequence_number.get(),
            name,
            system_use,
            mismatches: [
                extent.err().map(|m| ("extent location", m)),
                data_len.err().map(|m| ("data length", m)),
            ],
        })
    }

    /// Whether this is the "." record of its directory.
    pub fn is_self(&self) -> bool {
        self.name == [0]
    }
    /// Whether this is the ".." record of its directory.
    pub fn is_parent(&self) -> bool {
        self.name == [1]
    }
}

/// The fields of a directory record to encode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirRecordSpec<'a> {
    /// Extended attribute record length.
    pub ear_len: u8,
    /// Extent location.
    pub extent: u32,
    /// Data length.
    pub data_len: u32,
    /// Recording date.
    pub recorded: [u8; 7],
    /// File flags.
    pub flags: u8,
    /// File identifier.
    pub name: &'a [u8],
    /// System use bytes.
    pub system_use: &'a [u8],
}

impl DirRecordSpec<'_> {
    /// The encoded length, or `None` if it exceeds 255 bytes.
    pub fn encoded_len(&self) -> Option<usize> {
        let pad = usize::from(self.name.len().is_multiple_of(2));
        33usize
            .checked_add(self.name.len())?
            .checked_add(pad)?
            .checked_add(self.system_use.len())
            .filter(|&l| l <= 255)
    }

    /// Appends the record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let len = self.encoded_len().ok_or(FormatError::BadValue {
            what: "directory record length",
            value: (self.name.len().saturating_add(self.system_use.len())) as u64,
        })?;
        let hdr = RawDirRecordHeader {
            len_dr: u8::try_from(len).unwrap_or(u8::MAX),
            ear_len: self.ear_len,
            extent: Both32::new(self.extent),
            data_len: Both32::new(self.data_len),
            recorded: self.recorded,
            flags: self.flags,
            file_unit_size: 0,
            interleave_gap: 0,
            volume_sequence_number: Both16::new(1),
            len_fi: u8::try_from(self.name.len()).unwrap_or(u8::MAX),
        };
        out.extend_from_slice(hdr.as_bytes());
        out.extend_from_slice(self.name);
        if self.name.len().is_multiple_of(2) {
            out.push(0);
        }
        out.extend_from_slice(self.system_use);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let spec = DirRecordSpec {
            extent: 20,
            data_len: 4096,
            recorded: [120, 1, 2, 3, 4, 5, 0],
            flags: FileFlags::DIRECTORY,
            name: b"DIR",
            system_use: b"SUSPDATA",
            ..Default::default()
        };
        let mut v = Vec::new();
        spec.encode(&mut v).unwrap();
        assert_eq!(v.len(), 33 + 3 + 8);
        let r = DirRecord::parse(&v).unwrap();
        assert_eq!(
            (r.extent, r.data_len, r.name, r.system_use),
            (20, 4096, &b"DIR"[..], &b"SUSPDATA"[..])
        );
        assert!(r.flags.directory());

        let even = DirRecordSpec {
            name: b"AB",
            system_use: b"XY",
            ..Default::default()
        };
        v.clear();
        even.encode(&mut v).unwrap();
        assert_eq!(v.len(), 33 + 2 + 1 + 2);
        assert_eq!(DirRecord::parse(&v).unwrap().system_use, b"XY");
    }

    #[test]
    fn malformed() {
        assert!(DirRecord::parse(&[]).is_err());
        assert!(DirRecord::parse(&[20; 40]).is_err()); // length < 34
        let mut v = Vec::new();
        DirRecordSpec {
            name: b"A",
            ..Default::default()
        }
        .encode(&mut v)
        .unwrap();
        assert!(DirRecord::parse(&v[..30]).is_err()); // overruns
        v[32] = 200; // len_fi past the record
        assert!(DirRecord::parse(&v).is_err());
        v[32] = 0;
        assert!(DirRecord::parse(&v).is_err());
    }
}
