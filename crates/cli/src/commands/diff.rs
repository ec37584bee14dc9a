//! `isoforge diff`: what differs between two images.

use std::io::Write;
use std::path::PathBuf;

use isoforge::diff::{diff, DiffOptions, FieldChange, FileChange, Value};
use isoforge::FileType;
use serde_json::json;

use crate::args::Cli;
use crate::commands::{open_image, Outcome, RemoteArgs, ViewArg};
use crate::render::{hex, octal_mode, rfc3339, type_name, write_json};
use crate::style::Paint;

/// Options of `diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first (reference) image: a path or an http://, https:// or s3:// URL.
    pub a: PathBuf,
    /// The second image (a path or a URL).
    pub b: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Which name space's trees to compare.
    #[arg(long, value_enum, default_value_t = ViewArg::Auto)]
    pub view: ViewArg,
    /// Ignore where blocks lie: addresses, sizes, the boot catalog's bytes
    /// and the boot information patched into boot images (for comparing an
    /// image with a remastered copy).
    #[arg(long)]
    pub ignore_layout: bool,
    /// Remote images.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// A value as a person reads it.
fn value_text(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "(none)".into();
    };
    match v {
        Value::Text(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Bytes(b) => hex(b),
        Value::Code { value, digits } => format!("0x{value:0w$x}", w = usize::from(*digits)),
        Value::Time(t) => rfc3339(t),
        Value::Mode(m) => octal_mode(*m),
        Value::Device(a, b) => format!("{a},{b}"),
        Value::Type(t) => type_word(*t).into(),
        _ => "(unknown)".into(),
    }
}

/// A value in JSON: numbers and booleans as such; bytes in hex, modes in
/// octal and codes in hex as strings, times in RFC 3339.
fn value_json(v: Option<&Value>) -> serde_json::Value {
    let Some(v) = v else {
        return serde_json::Value::Null;
    };
    match v {
        Value::Text(s) => json!(s),
        Value::Number(n) => json!(n),
        Value::Bool(b) => json!(b),
        Value::Device(a, b) => json!([a, b]),
        Value::Type(t) => json!(type_name(*t)),
        other => json!(value_text(Some(other)).trim_matches('"')),
    }
}

/// The type of an entry in words.
fn type_word(t: FileType) -> &'static str {
    match t {
        FileType::File => "file",
        FileType::Dir => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Char => "character device",
        FileType::Block => "block device",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
    }
}

/// `(file, 40 bytes)` or `(directory)`.
fn what(kind: FileType, size: u64) -> String {
    if kind == FileType::File {
        format!("({}, {size} bytes)", type_word(kind))
    } else {
        format!("({})", type_word(kind))
    }
}

/// The first 16 hex digits of a digest, enough to tell two apart.
fn short(d: &[u8; 32]) -> String {
    hex(d.get(..8).unwrap_or(d))
}

/// One line per change: `+`/`-` added or removed, `T` type, `M` contents,
/// `m` an attribute; section lines name the field.
fn text_lines(r: &isoforge::diff::DiffReport, p: Paint) -> Vec<String> {
    let mut lines = Vec::new();
    for (section, changes) in [
        ("descriptor", &r.descriptors),
        ("boot", &r.boot),
        ("system-area", &r.system_area),
    ] {
        for c in changes {
            lines.push(p.changed(&format!(
                "{section} {}: {} -> {}",
                c.field,
                value_text(c.a.as_ref()),
                value_text(c.b.as_ref())
            )));
        }
    }
    for c in &r.files {
        lines.push(match c {
            FileChange::Added { path, kind, size } => {
                p.good(&format!("+ {path} {}", what(*kind, *size)))
            }
            FileChange::Removed { path, kind, size } => {
                p.bad(&format!("- {path} {}", what(*kind, *size)))
            }
            FileChange::Type { path, a, b } => {
                p.changed(&format!("T {path}: {} -> {}", type_word(*a), type_word(*b)))
            }
            FileChange::Content {
                path,
                a_size,
                b_size,
                a_sha256,
                b_sha256,
            } => p.changed(&format!(
                "M {path}: content {a_size} bytes sha256 {}… -> {b_size} bytes sha256 {}…",
                short(a_sha256),
                short(b_sha256)
            )),
            FileChange::Metadata { path, field, a, b } => p.changed(&format!(
                "m {path}: {field} {} -> {}",
                value_text(a.as_ref()),
                value_text(b.as_ref())
            )),
        });
    }
    lines
}

fn field_json(c: &FieldChange) -> serde_json::Value {
    json!({"field": c.field, "a": value_json(c.a.as_ref()), "b": value_json(c.b.as_ref())})
}

fn file_json(c: &FileChange) -> serde_json::Value {
    match c {
        FileChange::Added { path, kind, size } => {
            json!({"change": "added", "path": path, "type": type_name(*kind), "size": size})
        }
        FileChange::Removed { path, kind, size } => {
            json!({"change": "removed", "path": path, "type": type_name(*kind), "size": size})
        }
        FileChange::Type { path, a, b } => {
            json!({"change": "type", "path": path, "a": type_name(*a), "b": type_name(*b)})
        }
        FileChange::Content {
            path,
            a_size,
            b_size,
            a_sha256,
            b_sha256,
        } => json!({
            "change": "content",
            "path": path,
            "a_size": a_size,
            "b_size": b_size,
            "a_sha256": hex(a_sha256),
            "b_sha256": hex(b_sha256),
        }),
        FileChange::Metadata { path, field, a, b } => json!({
            "change": "metadata",
            "path": path,
            "field": field,
            "a": value_json(a.as_ref()),
            "b": value_json(b.as_ref()),
        }),
    }
}

/// Runs `diff`: exit 0 when the images are the same, 1 when they differ.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let (ia, ib) = (open_image(&a.a, &a.remote)?, open_image(&a.b, &a.remote)?);
    let mut opts = DiffOptions::default();
    opts.view = a.view.into();
    opts.ignore_layout = a.ignore_layout;
    let r = diff(&ia, &ib, &opts)?;
    if a.json {
        let fields = |v: &Vec<FieldChange>| v.iter().map(field_json).collect::<Vec<_>>();
        write_json(
            out,
            json!({
                "identical": r.is_empty(),
                "differences": {
                    "descriptors": fields(&r.descriptors),
                    "boot": fields(&r.boot),
                    "system_area": fields(&r.system_area),
                    "files": r.files.iter().map(file_json).collect::<Vec<_>>(),
                },
            }),
        )?;
    } else if !cli.quiet {
        for line in text_lines(&r, Paint::stdout(cli)) {
            writeln!(out, "{line}")?;
        }
        if r.is_empty() {
            writeln!(out, "identical")?;
        }
    }
    Ok(if r.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
