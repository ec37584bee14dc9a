//! ECMA-167 1/7.3 timestamp: 12 bytes, a type and time zone, the civil date
//! and time, and fractions of a second down to microseconds.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{FormatError, Result};
use crate::num::Le16;
use crate::time::IsoTime;

/// ECMA-167 1/7.3 timestamp, byte for byte.
#[derive(
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
)]
#[repr(C)]
pub struct RawTimestamp {
    /// RBP 0: type (bits 12-15) and time zone (bits 0-11, signed minutes
    /// from UTC; -2047 means none).
    pub type_and_tz: Le16,
    /// RBP 2: year (1-9999).
    pub year: Le16,
    /// RBP 4: month (1-12).
    pub month: u8,
    /// RBP 5: day (1-31).
    pub day: u8,
    /// RBP 6: hour (0-23).
    pub hour: u8,
    /// RBP 7: minute (0-59).
    pub minute: u8,
    /// RBP 8: second (0-59).
    pub second: u8,
    /// RBP 9: centiseconds (0-99).
    pub centiseconds: u8,
    /// RBP 10: hundreds of microseconds (0-99).
    pub hundreds_of_us: u8,
    /// RBP 11: microseconds (0-99).
    pub microseconds: u8,
}
const _: () = assert!(core::mem::size_of::<RawTimestamp>() == 12);

/// Time zone value meaning "not specified" (1/7.3.1).
const NO_TZ: i16 = -2047;

impl RawTimestamp {
    /// The instant recorded, or `None` for an all-zero (unrecorded) field.
    /// A local time (type 1) is read at its recorded offset; a time without
    /// offset, or of another type, is taken as UTC.
    pub fn to_iso(&self) -> Result<Option<IsoTime>> {
        if self.as_bytes().iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let tt = self.type_and_tz.get();
        // Sign-extend the 12-bit time zone.
        let tz = i16::from_ne_bytes((tt << 4).to_ne_bytes()) >> 4;
        let offset = if tt >> 12 == 1 && tz != NO_TZ && (-1440..=1440).contains(&tz) {
            tz
        } else {
            0
        };
        let frac = [self.centiseconds, self.hundreds_of_us, self.microseconds];
        if frac.iter().any(|&f| f > 99) {
            return Err(FormatError::BadValue {
                what: "timestamp fraction",
                value: frac.iter().copied().max().unwrap_or(0).into(),
            });
        }
        let [c, h, u] = frac.map(u32::from);
        // Each fraction is at most 99 (checked above).
        let nanos = c
            .saturating_mul(10_000_000)
            .saturating_add(h.saturating_mul(100_000))
            .saturating_add(u.saturating_mul(1000));
        IsoTime::from_civil(
            i64::from(self.year.get()),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            nanos,
            offset,
        )
        .map(Some)
    }

    /// The timestamp of an instant, as local time at its recorded offset
    /// (type 1). `None` gives the all-zero field.
    pub fn from_iso(t: Option<&IsoTime>) -> RawTimestamp {
        let Some(t) = t else {
            return RawTimestamp::default();
        };
        let c = t.civil_local();
        let minutes = i16::from(t.offset_quarters).saturating_mul(15);
        let tz = u16::from_ne_bytes(minutes.to_ne_bytes()) & 0x0FFF;
        let micros = t.nanos / 1000;
        let b = |v: u32| u8::try_from(v).unwrap_or(0);
        RawTimestamp {
            type_and_tz: Le16::new(0x1000 | tz),
            year: Le16::new(u16::try_from(c.year.clamp(1, 9999)).unwrap_or(1)),
            month: b(c.month),
            day: b(c.day),
            hour: b(c.hour),
            minute: b(c.minute),
            second: b(c.second),
            centiseconds: b(micros / 10_000),
            hundreds_of_us: b(micros / 100 % 100),
            microseconds: b(micros % 100),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_with_offset() {
        let raw = RawTimestamp {
            type_and_tz: Le16::new(0x1000 | (u16::from_ne_bytes((-300i16).to_ne_bytes()) & 0xFFF)),
            year: Le16::new(2024),
            month: 1,
            day: 31,
            hour: 7,
            minute: 34,
            second: 56,
            centiseconds: 12,
            hundreds_of_us: 34,
            microseconds: 56,
        };
        let t = raw.to_iso().unwrap().unwrap();
        // 2024-01-31T12:34:56Z
        assert_eq!(t.unix, 1_706_704_496);
        assert_eq!(t.nanos, 123_456_000);
        assert_eq!(t.offset_quarters, -20);
        assert_eq!(RawTimestamp::from_iso(Some(&t)), raw);
        assert_eq!(RawTimestamp::default().to_iso().unwrap(), None);
    }

    #[test]
    fn no_time_zone_is_utc_and_bad_fields_fail() {
        let mut raw = RawTimestamp {
            type_and_tz: Le16::new(0x1000 | 0x801),
            year: Le16::new(1970),
            month: 1,
            day: 2,
            ..RawTimestamp::default()
        };
        assert_eq!(raw.to_iso().unwrap().unwrap().unix, 86_400);
        raw.month = 13;
        assert!(raw.to_iso().is_err());
        raw.month = 1;
        raw.centiseconds = 100;
        assert!(raw.to_iso().is_err());
    }
}
