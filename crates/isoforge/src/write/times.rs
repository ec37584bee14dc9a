//! The time rule of every image the writer makes, new (`create`) or
//! remastered (`modify`), kept in this one place so the two cannot drift.
//!
//! Every node's times come from one of three places ([`Stamp`]):
//!
//! | stamp      | what                                                   | no fixed time | fixed time `E`                         |
//! |------------|--------------------------------------------------------|---------------|----------------------------------------|
//! | `Given`    | host files, attributes a caller passed                 | as given      | mtime clamped to `E`; atime = ctime = mtime |
//! | `Recorded` | nodes read from an image being remastered              | as recorded   | as recorded                            |
//! | `Made`     | the root of a new tree, directories made for a path, the boot catalog, a built EFI image, the relocation directory | the build time | `E`               |
//!
//! The volume descriptors' creation, modification and effective dates are
//! the build time: the time the writer started, or `E`. A remastered image
//! keeps its recorded creation, expiration and effective dates; its
//! modification date is the build time.
//!
//! The fixed time is `SOURCE_DATE_EPOCH` ([`source_date_epoch_from_env`]),
//! or for a reproducible build without it, the newest modification time
//! of the tree the build starts from ([`newest_mtime`]): the host sources of
//! a new image, the tree of the image being remastered. Access and change
//! times never take part: nobody can set them, and a copy (`cp -a`) changes
//! them, so an image that depended on them would not be reproducible.

use super::builder::{Meta, Time};
use crate::error::{Error, Result};

/// Where a node's times come from; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Stamp {
    /// From the host or the caller: clamped to a fixed time.
    #[default]
    Given,
    /// Recorded in an image being remastered: kept.
    Recorded,
    /// Made by the writer: the build time.
    Made,
}

/// The clock of one build: when it started, and the fixed time of a
/// reproducible build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// The time the builder was made.
    pub started: Time,
    /// `SOURCE_DATE_EPOCH`, or the time a reproducible build fixed.
    pub fixed: Option<i64>,
}

impl Clock {
    /// The time the volume descriptors record and made nodes get.
    pub fn build_time(&self) -> Time {
        self.fixed
            .map_or(self.started, |secs| Time { secs, nanos: 0 })
    }

    /// Applies the rule to the times of a node stamped `stamp`.
    pub fn apply(&self, meta: &mut Meta, stamp: Stamp) {
        match (stamp, self.fixed) {
            (Stamp::Recorded, _) | (Stamp::Given, None) => {}
            (Stamp::Given, Some(e)) => {
                let t = meta.mtime.min(Time { secs: e, nanos: 0 });
                meta.mtime = t;
                meta.atime = t;
                meta.ctime = t;
            }
            (Stamp::Made, _) => {
                let t = self.build_time();
                meta.mtime = t;
                meta.atime = t;
                meta.ctime = t;
            }
        }
    }
}

/// The current time, in whole seconds.
pub(crate) fn now() -> Time {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Time { secs, nanos: 0 }
}

/// The fixed time of a reproducible build from the environment: the value
/// of `SOURCE_DATE_EPOCH` (seconds since 1970-01-01T00:00:00Z), `None` when
/// it is unset or empty. A value that is not a whole number of seconds is
/// an error, as the reproducible-builds.org specification asks.
pub fn source_date_epoch_from_env() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<i64>().map(Some).map_err(|_| {
            Error::InvalidInput(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds since 1970-01-01"
            ))
        }),
        Ok(_) => Ok(None),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(Error::InvalidInput(format!(
            "SOURCE_DATE_EPOCH={v:?} is not a number of seconds since 1970-01-01"
        ))),
    }
}

/// The newest modification time among nodes whose times come from their
/// sources (given or recorded), 0 when there is none.
pub(crate) fn newest_mtime<'a>(nodes: impl Iterator<Item = (&'a Meta, Stamp)>) -> i64 {
    nodes
        .filter(|(_, s)| *s != Stamp::Made)
        .map(|(m, _)| m.mtime.secs)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32) -> Time {
        Time { secs, nanos }
    }

    fn meta(m: Time, a: Time, c: Time) -> Meta {
        Meta {
            perm: 0o644,
            uid: 1,
            gid: 2,
            mtime: m,
            atime: a,
            ctime: c,
        }
    }

    #[test]
    fn given_times_are_clamped_and_atime_ctime_follow_mtime() {
        let clock = Clock {
            started: at(2_000_000_000, 0),
            fixed: Some(1_700_000_000),
        };
        let mut late = meta(at(1_800_000_000, 5), at(1_900_000_000, 0), at(10, 0));
        clock.apply(&mut late, Stamp::Given);
        assert_eq!(late.mtime, at(1_700_000_000, 0));
        assert_eq!((late.atime, late.ctime), (late.mtime, late.mtime));
        // Earlier times stay, to the nanosecond; owner and mode are untouched.
        let mut early = meta(at(1_600_000_000, 7), at(1_900_000_000, 0), at(5, 0));
        clock.apply(&mut early, Stamp::Given);
        assert_eq!(early.mtime, at(1_600_000_000, 7));
        assert_eq!((early.atime, early.ctime), (early.mtime, early.mtime));
        assert_eq!((early.perm, early.uid, early.gid), (0o644, 1, 2));
        // A fraction past the fixed time is past it.
        let mut just = meta(at(1_700_000_000, 1), at(0, 0), at(0, 0));
        clock.apply(&mut just, Stamp::Given);
        assert_eq!(just.mtime, at(1_700_000_000, 0));
    }

    #[test]
    fn recorded_times_are_kept_and_made_ones_are_the_build_time() {
        for fixed in [None, Some(1_700_000_000)] {
            let clock = Clock {
                started: at(2_000_000_000, 0),
                fixed,
            };
            let old = meta(at(1_800_000_000, 3), at(1_850_000_000, 0), at(1, 0));
            let mut kept = old;
            clock.apply(&mut kept, Stamp::Recorded);
            assert_eq!(kept, old);
            let mut made = old;
            clock.apply(&mut made, Stamp::Made);
            let t = at(fixed.unwrap_or(2_000_000_000), 0);
            assert_eq!((made.mtime, made.atime, made.ctime), (t, t, t));
            assert_eq!(clock.build_time(), t);
        }
        // Without a fixed time, given times are as given.
        let clock = Clock {
            started: at(5, 0),
            fixed: None,
        };
        let old = meta(at(1_800_000_000, 3), at(1_850_000_000, 0), at(1, 0));
        let mut given = old;
        clock.apply(&mut given, Stamp::Given);
        assert_eq!(given, old);
    }

    #[test]
    fn the_newest_mtime_ignores_made_nodes_and_other_times() {
        let a = meta(at(100, 0), at(900, 0), at(900, 0));
        let b = meta(at(200, 0), at(0, 0), at(0, 0));
        let made = meta(at(5000, 0), at(0, 0), at(0, 0));
        let list = [
            (&a, Stamp::Given),
            (&b, Stamp::Recorded),
            (&made, Stamp::Made),
        ];
        assert_eq!(newest_mtime(list.into_iter()), 200);
        assert_eq!(newest_mtime([(&made, Stamp::Made)].into_iter()), 0);
    }
}
