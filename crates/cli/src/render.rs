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
pub fn mode_string(e: &Entry) -> String {
    let t = match e.file_type {
        FileType::File => '-',
        FileType::Dir => 'd',
        FileType::Symlink => 'l',
        FileType::Char => 'c',
        FileType::Block => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
    };
    let m = e.mode;
    let mut s = String::with_capacity(10);
    s.push(t);
    for (shift, special, lower, upper) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (m >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        s.push(match (m & special != 0, x) {
            (true, true) => lower,
            (true, false) => upper,
            (false, true) => 'x',
            (false, false) => '-',
        });
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

/// One `ls -l` line.
pub fn long_line(e: &Entry, name: &str) -> String {
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
    s
}
