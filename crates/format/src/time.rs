//! ECMA-119 timestamps: the 17-byte digit form of volume descriptors (§8.4.26.1)
//! and the 7-byte binary form of directory records (§9.1.5). Rock Ridge TF
//! entries use one or the other.

use crate::error::{FormatError, Result};

/// A point in time as recorded on disk: seconds since the Unix epoch (UTC),
/// nanoseconds, and the recorded offset from UTC in 15-minute units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IsoTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset from UTC in 15-minute intervals (-48..=52).
    pub offset_quarters: i8,
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
#[allow(clippy::arithmetic_side_effects)] // callers pass years within ±10^6 and checked months/days
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count from 1970-01-01.
#[allow(clippy::arithmetic_side_effects)] // day counts come from i64 seconds / 86400
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[allow(clippy::arithmetic_side_effects)] // all operands are bounded by the range checks above each call
fn to_unix(y: i64, mo: u8, d: u8, h: u8, mi: u8, s: u8, off: i8) -> i64 {
    let days = days_from_civil(y, i64::from(mo), i64::from(d));
    let local = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    local - i64::from(off) * 900
}

/// Broken-down UTC+offset fields of an [`IsoTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub minute: u32,
    /// Second 0..=59.
    pub second: u32,
}

impl IsoTime {
    /// The local (offset-applied) civil time.
    #[allow(clippy::arithmetic_side_effects)] // i64 seconds within year ±10^6 cannot overflow
    pub fn civil_local(&self) -> Civil {
        let local = self
            .unix
            .saturating_add(i64::from(self.offset_quarters) * 900);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let secs = u32::try_from(secs).unwrap_or(0);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// A time from its civil fields as recorded at `offset_minutes` from UTC
    /// (ECMA-167 timestamps use minutes; the recorded offset is kept to the
    /// nearest quarter hour, the exact offset is used for the instant).
    /// Fields out of range give an error.
    #[allow(clippy::too_many_arguments, clippy::arithmetic_side_effects)] // bounded by the checks
    pub fn from_civil(
        year: i64,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        nanos: u32,
        offset_minutes: i16,
    ) -> Result<IsoTime> {
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
            || nanos >= 1_000_000_000
            || !(-1440..=1440).contains(&offset_minutes)
            || !(-100_000..=100_000).contains(&year)
        {
            return Err(FormatError::BadValue {
                what: "date and time",
                value: u64::from(month),
            });
        }
        let days = days_from_civil(year, i64::from(month), i64::from(day));
        let local = days.saturating_mul(86_400).saturating_add(
            i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second.min(59)),
        );
        let quarters = (i64::from(offset_minutes) + 7)
            .div_euclid(15)
            .clamp(-48, 52);
        Ok(IsoTime {
            unix: local.saturating_sub(i64::from(offset_minutes) * 60),
            nanos,
            offset_quarters: i8::try_from(quarters).unwrap_or(0),
        })
    }

    /// Parses the 7-byte directory-record form (§9.1.5). All-zero bytes mean
    /// "not specified" and give `None`.
    pub fn from_dir_bytes(b: &[u8; 7]) -> Result<Option<IsoTime>> {
        if b.iter().all(|&x| x == 0) {
            return Ok(None);
        }
        let [y, mo, d, h, mi, s, off] = *b;
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return Err(FormatError::BadValue {
                what: "directory record date",
                value: u64::from(mo),
            });
        }
        let off = i8::from_ne_bytes([off]);
        let off = if (-48..=52).contains(&off) { off } else { 0 };
        Ok(Some(IsoTime {
            unix: to_unix(
                i64::from(y).saturating_add(1900),
                mo,
                d,
                h,
                mi,
                s.min(59),
                off,
            ),
            nanos: 0,
            offset_quarters: off,
        }))
    }

    /// Encodes in the 7-byte directory-record form. Years outside 1900..=2155
    /// are clamped to that range.
    pub fn to_dir_bytes(&self) -> [u8; 7] {
        let c = self.civil_local();
        let (year, c) = if c.year < 1900 {
            (
                0,
                Civil {
                    year: 1900,
                    month: 1,
                    day: 1,
                    hour: 0,
                    minute: 0,
                    second: 0,
                },
            )
        } else if c.year > 2155 {
            (
                255,
                Civil {
                    year: 2155,
                    month: 12,
                    day: 31,
                    hour: 23,
                    minute: 59,
                    second: 59,
                },
            )
        } else {
            (u8::try_from(c.year.saturating_sub(1900)).unwrap_or(0), c)
        };
        let n = |v: u32| u8::try_from(v).unwrap_or(0);
        [
            year,
            n(c.month),
            n(c.day),
            n(c.hour),
            n(c.minute),
            n(c.second),
            self.offset_quarters.to_ne_bytes()[0],
        ]
    }

    /// Parses the 17-byte digit form (§8.4.26.1). All digits zero means "not
    /// specified" and gives `None`.
    pub fn from_dec_bytes(b: &[u8; 17]) -> Result<Option<IsoTime>> {
        let (digits, off) = b.split_at(16);
        if digits.iter().all(|&x| x == b'0' || x == 0 || x == b' ') {
            return Ok(None);
        }
        let mut v = [0u8; 16];
        for (o, &c) in v.iter_mut().zip(digits) {
            if !c.is_ascii_digit() {
                return Err(FormatError::BadValue {
                    what: "volume descriptor date",
                    value: u64::from(c),
                });
            }
            *o = c.wrapping_sub(b'0');
        }
        let num = |s: &[u8]| {
            s.iter()
                .fold(0u32, |a, &d| a.wrapping_mul(10).wrapping_add(u32::from(d)))
        };
        let year = num(v.get(0..4).unwrap_or_default());
        let f = |r: core::ops::Range<usize>| {
            u8::try_from(num(v.get(r).unwrap_or_default())).unwrap_or(u8::MAX)
        };
        let (mo, d, h, mi, s, cs) = (f(4..6), f(6..8), f(8..10), f(10..12), f(12..14), f(14..16));
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return Err(FormatError::BadValue {
                what: "volume descriptor date",
                value: u64::from(mo),
            });
        }
        let off = i8::from_ne_bytes([off.first().copied().unwrap_or(0)]);
        let off = if (-48..=52).contains(&off) { off } else { 0 };
        Ok(Some(IsoTime {
            unix: to_unix(i64::from(year), mo, d, h, mi, s.min(59), off),
            nanos: u32::from(cs).saturating_mul(10_000_000),
            offset_quarters: off,
        }))
    }

    /// Encodes in the 17-byte digit form; `None` encodes "not specified".
    pub fn to_dec_bytes(t: Option<&IsoTime>) -> [u8; 17] {
        let mut out = [b'0'; 17];
        out[16] = 0;
        let Some(t) = t else { return out };
        let c = t.civil_local();
        let year = c.year.clamp(1, 9999);
        let s = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:02}",
            year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            t.nanos / 10_000_000
        );
        for (o, b) in out.iter_mut().zip(s.bytes()) {
            *o = b;
        }
        out[16] = t.offset_quarters.to_ne_bytes()[0];
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_time_round_trip() {
        // 2024-02-29 13:14:15 at UTC+1 (4 quarters)
        let b = [124, 2, 29, 13, 14, 15, 4];
        let t = IsoTime::from_dir_bytes(&b).unwrap().unwrap();
        assert_eq!(t.unix, 1_709_212_455 - 3600);
        assert_eq!(t.to_dir_bytes(), b);
        assert_eq!(IsoTime::from_dir_bytes(&[0; 7]).unwrap(), None);
    }

    #[test]
    fn dec_time_round_trip() {
        let mut b = *b"2023010203040599\0";
        b[16] = 0xF8u8; // -8 quarters = UTC-2
        let t = IsoTime::from_dec_bytes(&b).unwrap().unwrap();
        assert_eq!(t.unix, 1_672_628_645 + 7200);
        assert_eq!(t.nanos, 990_000_000);
        assert_eq!(IsoTime::to_dec_bytes(Some(&t)), b);
        assert_eq!(
            IsoTime::from_dec_bytes(&IsoTime::to_dec_bytes(None)).unwrap(),
            None
        );
    }

    #[test]
    fn bad_dates_are_errors() {
        assert!(IsoTime::from_dir_bytes(&[100, 13, 1, 0, 0, 0, 0]).is_err());
        assert!(IsoTime::from_dec_bytes(b"2023x10203040599\0").is_err());
    }
}
