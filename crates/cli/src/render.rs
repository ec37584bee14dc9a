//! Shared rendering of entries and times, for text and JSON output.

use isoforge::read::Extent;
use isoforge::IsoTime;
use isoforge::{Entry, FileType};
use serde_json::{json, Value};

/// The version of every `--json` output's layout, given as `"schema"` at
/// its top level (keys are documented in docs/json.md).
pub const SCHEMA: u64 = 1;

/// Writes `v` (an object) as the JSON output of a command: `"schema"` first,
/// then its keys, pretty-printed, and a newline.
pub fn write_json(out: &mut dyn std::io::Write, v: Value) -> std::io::Result<()> {
    let mut top = serde_json::Map::new();
    top.insert("schema".into(), SCHEMA.into());
    match v {
        Value::Object(m) => top.extend(m),
        other => {
            top.insert("value".into(), other);
        }
    }
    serde_json::to_writer_pretty(&mut *out, &Value::Object(top))?;
    writeln!(out)
}

/// Permission bits as users read them: `0755`.
pub fn octal_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 3339 text of a recorded time, in its recorded offset.
pub fn rfc3339(t: &IsoTime) -> String {
    let c = t.civil_local();
    let off = i32::from(t.offset_quarters) * 15;
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let frac = if t.nanos > 0 {
        format!(".{:02}", t.nanos / 10_000_000)
    } else {
        String::new()
    };
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if off == 0 {
        format!("{base}Z")
    } else {
        format!("{base}{sign}{:02}:{:02}", off / 60, off % 60)
    }
}

/// `ls -l` style date: `2024-01-31 12:34`.
pub fn short_time(t: Option<&IsoTime>) -> String {
    match t {
        Some(t) => {
            let c = t.civil_local();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                c.year, c.month, c.day, c.hour, c.minute
            )
        }
        None => "                ".into(),
    }
}

/// The type word used in JSON.
pub fn type_name(t: FileType) -> &'static str {
    match t {
        FileType::File => "file",
        FileType::Dir => "dir",
        FileType::Symlink => "symlink",
        FileType::Char => "char",
        FileType::Block => "block",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
    }
}

/// `drwxr-xr-x` style mode text.
fn mode_chars(e: &Entry) -> [u8; 10] {
    let t = match e.file_type {
        FileType::File => b'-',
        FileType::Dir => b'd',
        FileType::Symlink => b'l',
        FileType::Char => b'c',
        FileType::Block => b'b',
        FileType::Fifo => b'p',
        FileType::Socket => b's',
    };
    let m = e.mode;
    let mut s = [t; 10];
    for (i, (shift, special, lower, upper)) in [
        (6, 0o4000, b's', b'S'),
        (3, 0o2000, b's', b'S'),
        (0, 0o1000, b't', b'T'),
    ]
    .into_iter()
    .enumerate()
    {
        let bits = (m >> shift) & 7;
        let x = bits & 1 != 0;
        s[1 + 3 * i] = if bits & 4 != 0 { b'r' } else { b'-' };
        s[2 + 3 * i] = if bits & 2 != 0 { b'w' } else { b'-' };
        s[3 + 3 * i] = match (m & special != 0, x) {
            (true, true) => lower,
            (true, false) => upper,
            (false, true) => b'x',
            (false, false) => b'-',
        };
    }
    s
}

/// One entry as the JSON object of the CLI contract.
pub fn entry_json(e: &Entry) -> Value {
    json!({
        "path": e.path,
        "name": e.name,
        "type": type_name(e.file_type),
        "size": e.size,
        "mode": octal_mode(e.mode),
        "uid": e.uid,
        "gid": e.gid,
        "nlink": e.nlink,
        "ino": e.ino,
        "mtime": e.mtime.as_ref().map(rfc3339),
        "atime": e.atime.as_ref().map(rfc3339),
        "ctime": e.ctime.as_ref().map(rfc3339),
        "mtime_unix": e.mtime.map(|t| t.unix),
        "target": e.target,
        "rdev": e.rdev.map(|(a, b)| json!([a, b])),
        "extents": e.extents.iter().map(|x: &Extent| json!({"lba": x.lba, "len": x.len})).collect::<Vec<_>>(),
        "zisofs": e.zisofs.is_some(),
        "hidden": e.hidden,
        "record_offset": e.record_offset,
    })
}

/// Appends one `ls -l` line (mode, links, owner, group, size, time, name,
/// link target) and a line break to `out`: the same text as
/// `format!("{} {:>3} {:>5} {:>5} {:>12} {} {}", ..)` of the mode and
/// [`short_time`], written without a `String` per field, since a listing
/// of a large image formats one line per entry.
pub fn long_line_into(out: &mut Vec<u8>, e: &Entry, name: &str) {
    out.extend_from_slice(&mode_chars(e));
    for (v, width) in [
        (u64::from(e.nlink), 3),
        (u64::from(e.uid), 5),
        (u64::from(e.gid), 5),
        (e.size, 12),
    ] {
        out.push(b' ');
        push_right(out, v, width);
    }
    out.push(b' ');
    match e.mtime.as_ref().map(IsoTime::civil_local) {
        Some(c) if (0..=9999).contains(&c.year) => {
            push_digits(out, c.year.unsigned_abs(), 4);
            for (sep, v) in [
                (b'-', c.month),
                (b'-', c.day),
                (b' ', c.hour),
                (b':', c.minute),
            ] {
                out.push(sep);
                push_digits(out, u64::from(v), 2);
            }
        }
        _ => out.extend_from_slice(short_time(e.mtime.as_ref()).as_bytes()),
    }
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    if let Some(t) = &e.target {
        out.extend_from_slice(b" -> ");
        out.extend_from_slice(t.as_bytes());
    }
    out.push(b'\n');
}

/// Appends `v` in decimal, right-aligned in `width` columns with spaces.
fn push_right(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let n = decimal(v, &mut digits);
    out.resize(out.len() + width.saturating_sub(n), b' ');
    out.extend_from_slice(digits.get(digits.len() - n..).unwrap_or_default());
}

/// Appends `v` in decimal with leading zeros to `width` digits.
fn push_digits(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let n = decimal(v, &mut digits);
    out.resize(out.len() + width.saturating_sub(n), b'0');
    out.extend_from_slice(digits.get(digits.len() - n..).unwrap_or_default());
}

/// Writes `v`'s decimal digits at the end of `buf`; returns how many.
fn decimal(mut v: u64, buf: &mut [u8; 20]) -> usize {
    let mut n = 0;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
        if v == 0 {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            path: String::new(),
            name: String::new(),
            file_type: FileType::File,
            size: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            nlink: 0,
            ino: None,
            mtime: None,
            atime: None,
            ctime: None,
            target: None,
            rdev: None,
            extents: Vec::new(),
            zisofs: None,
            hidden: false,
            record_offset: 0,
            depth: 0,
            sparse_size: None,
            udf: None,
        }
    }

    fn mode_string(e: &Entry) -> String {
        mode_chars(e).iter().map(|&b| char::from(b)).collect()
    }

    /// The line as the `format!` it stands for writes it.
    fn reference(e: &Entry, name: &str) -> String {
        let mut s = format!(
            "{} {:>3} {:>5} {:>5} {:>12} {} {}",
            mode_string(e),
            e.nlink,
            e.uid,
            e.gid,
            e.size,
            short_time(e.mtime.as_ref()),
            name
        );
        if let Some(t) = &e.target {
            s.push_str(" -> ");
            s.push_str(t);
        }
        s.push('\n');
        s
    }

    #[test]
    fn modes_read_as_ls_shows_them() {
        let mut e = entry();
        for (t, mode, want) in [
            (FileType::File, 0o4711, "-rws--x--x"),
            (FileType::Dir, 0o1777, "drwxrwxrwt"),
            (FileType::File, 0o2640, "-rw-r-S---"),
            (FileType::Symlink, 0o777, "lrwxrwxrwx"),
            (FileType::Fifo, 0o1644, "prw-r--r-T"),
            (FileType::Block, 0, "b---------"),
        ] {
            e.file_type = t;
            e.mode = mode;
            assert_eq!(mode_string(&e), want);
        }
    }

    #[test]
    fn long_lines_are_the_formatted_text() {
        let t = |unix: i64, offset_quarters: i8| IsoTime {
            unix,
            nanos: 0,
            offset_quarters,
        };
        let times = [
            None,
            Some(t(0, 0)),
            Some(t(1_700_000_000, 0)),
            Some(t(1_700_000_000, -48)),
            Some(t(-2_208_988_800, 52)),
            Some(t(253_402_300_799, 0)),
            Some(t(253_402_300_800, 0)),
            Some(t(-62_167_219_201, 0)),
        ];
        let mut e = entry();
        for (i, mtime) in times.into_iter().enumerate() {
            for (n, v, size) in [
                (1, 0, 0),
                (12, 1000, 2048),
                (999, 65_534, 123_456_789_012),
                (1000, 100_000, u64::MAX),
                (u32::MAX, u32::MAX, 1),
            ] {
                e.mtime = mtime;
                e.nlink = n;
                e.uid = v;
                e.gid = v / 3;
                e.size = size;
                e.mode = [0o755, 0o4711, 0o1777, 0o2640, 0][i % 5];
                e.file_type = [FileType::File, FileType::Dir, FileType::Symlink][i % 3];
                e.target = (i % 3 == 2).then(|| "../target dir/x".to_string());
                let mut got = Vec::new();
                long_line_into(&mut got, &e, "name with space");
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    reference(&e, "name with space")
                );
            }
        }
    }
}
