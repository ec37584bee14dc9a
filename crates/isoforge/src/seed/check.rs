//! What cloud-init does with each seed file, checked before it boots: the
//! user-data header, YAML syntax (with line numbers), the shape of
//! meta-data and network-config, and keys spelt the way cloud-init does
//! not read them.
//!
//! The rules follow cloud-init's NoCloud data source and user-data
//! processing: a user-data part's type comes from the start of its text,
//! lower-cased and without leading white space (`#cloud-config`, `#!`,
//! `#include`, ...), or it is MIME when `mime-version:` appears in its first
//! 4096 bytes; gzip data is decompressed first. meta-data and
//! network-config are YAML mappings; anything else is dropped with only a
//! log line on the guest.

use std::fmt;
use std::io::Read;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; cloud-init reads the file as meant.
    Note,
    /// cloud-init reads the file, but not the way it was probably meant.
    Warning,
    /// cloud-init would ignore the file or fail on it.
    Error,
}

/// One result of the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// The seed file (`user-data`, `meta-data`, ...), or empty for the
    /// image as a whole.
    pub file: String,
    /// Where the file came from (a host path), when it was given.
    pub origin: Option<String>,
    /// The line in the file (1-based), when the finding has one.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    pub(crate) fn new(
        severity: Severity,
        file: &str,
        line: Option<usize>,
        message: String,
    ) -> Self {
        Finding {
            severity,
            file: file.to_string(),
            origin: None,
            line,
            message,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            f.write_str(&self.file)?;
            if let Some(o) = &self.origin {
                write!(f, " ({o})")?;
            }
            if let Some(l) = self.line {
                write!(f, " line {l}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// The largest seed file the checks read (decompressed, for gzip).
pub const MAX_CHECKED: usize = 16 << 20;
/// Deepest YAML nesting the checks accept.
const MAX_DEPTH: usize = 256;

// ---------------------------------------------------------------------------
// A small YAML tree with line numbers

/// A YAML node and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// A scalar; `plain` when unquoted (so `2` is a number, `"2"` text).
    Scalar {
        text: String,
        plain: bool,
    },
    /// `*anchor`: not followed (the checks never need to).
    Alias,
}

impl Node {
    /// A plain empty, `~` or `null` scalar: YAML's null.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value under scalar key `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    /// What kind of node this is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::Seq(_) => "a list",
            Value::Scalar { .. } if self.is_null() => "empty",
            Value::Scalar { .. } => "a single value",
            Value::Alias => "an alias",
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A mapping or list being read.
struct Open {
    line: usize,
    map: bool,
    items: Vec<Node>,
}

/// Parses one YAML document into a tree; `None` when the text holds no
/// document (only comments or nothing). The parse is iterative (the
/// parser's pull API), nesting is capped, and aliases are not expanded,
/// so hostile text costs time and memory in proportion to its length.
pub(crate) fn parse_yaml(text: &str) -> Result<Option<Node>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let mut line = e.marker().line();
            let mut column = e.marker().col() + 1;
            // The parser marks the start of the scalar it was reading when
            // it meets a tab; point at the tab itself, as PyYAML does.
            if e.info().contains("tab") {
                let tab = text
                    .lines()
                    .enumerate()
                    .skip(line.saturating_sub(1))
                    .find_map(|(i, l)| {
                        let indent = l.len() - l.trim_start().len();
                        l.get(..indent)?.find('\t').map(|c| (i + 1, c + 1))
                    });
                if let Some((l, c)) = tab {
                    (line, column) = (l, c);
                }
            }
            YamlError {
                line,
                column,
                message: e.info().to_string(),
            }
        })?;
        let line = mark.line();
        let leaf = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        line,
                        column: mark.col() + 1,
                        message: "a second YAML document starts here; cloud-init reads \
                                  exactly one (remove the `---` line or what follows it)"
                            .into(),
                    });
                }
                continue;
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => continue,
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError {
                        line,
                        column: mark.col() + 1,
                        message: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                stack.push(Open {
                    line,
                    map: matches!(event, Event::MappingStart(..)),
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(open) = stack.pop() else { continue };
                let value = if open.map {
                    let mut items = open.items.into_iter();
                    let mut pairs = Vec::new();
                    while let Some(k) = items.next() {
                        let v = items.next().unwrap_or(Node {
                            line: k.line,
                            value: Value::Scalar {
                                text: String::new(),
                                plain: true,
                            },
                        });
                        pairs.push((k, v));
                    }
                    Value::Map(pairs)
                } else {
                    Value::Seq(open.items)
                };
                Node {
                    line: open.line,
                    value,
                }
            }
            Event::Scalar(text, style, ..) => Node {
                line,
                value: Value::Scalar {
                    text,
                    plain: style == TScalarStyle::Plain,
                },
            },
            Event::Alias(_) => Node {
                line,
                value: Value::Alias,
            },
        };
        match stack.last_mut() {
            Some(open) => open.items.push(leaf),
            None => root = Some(leaf),
        }
    }
    Ok(root)
}

// ---------------------------------------------------------------------------
// The checks

/// Keys of meta-data that cloud-init reads only with dashes.
const META_DASHED: &[&str] = &[
    "instance-id",
    "local-hostname",
    "public-keys",
    "network-interfaces",
];

/// Top-level cloud-config keys that cloud-init reads only with
/// underscores (the common ones; a dash makes cloud-init skip them).
const CONFIG_UNDERSCORED: &[&str] = &[
    "ssh_authorized_keys",
    "ssh_pwauth",
    "ssh_keys",
    "ssh_deletekeys",
    "ssh_genkeytypes",
    "ssh_import_id",
    "write_files",
    "package_update",
    "package_upgrade",
    "package_reboot_if_required",
    "manage_etc_hosts",
    "preserve_hostname",
    "prefer_fqdn_over_hostname",
    "disable_root",
    "final_message",
    "ca_certs",
    "apt_pipelining",
    "phone_home",
    "power_state",
    "resize_rootfs",
    "timezone",
];

/// The text of a seed file, or the finding that says why it has none:
/// gzip data is inflated (as cloud-init does), and the result must be
/// UTF-8 of at most [`MAX_CHECKED`] bytes.
fn text_of(file: &str, data: &[u8], out: &mut Vec<Finding>) -> Option<String> {
    let inflated;
    let data = if data.starts_with(&[0x1f, 0x8b]) {
        let mut buf = Vec::new();
        let limit = u64::try_from(MAX_CHECKED).unwrap_or(u64::MAX) + 1;
        match flate2::read::GzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut buf)
        {
            Ok(_) if buf.len() > MAX_CHECKED => {
                out.push(Finding::new(
                    Severity::Note,
                    file,
                    None,
                    format!("gzip data inflates to more than {MAX_CHECKED} bytes; not checked"),
                ));
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                out.push(Finding::new(
                    Severity::Error,
                    file,
                    None,
                    format!("gzip data that does not inflate ({e}); cloud-init cannot read it"),
                ));
                return None;
            }
        }
        inflated = buf;
        &inflated[..]
    } else {
        data
    };
    if data.len() > MAX_CHECKED {
        out.push(Finding::new(
            Severity::Note,
            file,
            None,
            format!("larger than {MAX_CHECKED} bytes; not checked"),
        ));
        return None;
    }
    match std::str::from_utf8(data) {
        Ok(s) => Some(s.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let line = data
                .get(..at)
                .map_or(0, |d| d.iter().filter(|&&b| b == b'\n').count())
                + 1;
            out.push(Finding::new(
                Severity::Error,
                file,
                Some(line),
                format!("not UTF-8 text (byte {at}); cloud-init cannot decode it"),
            ));
            None
        }
    }
}

/// The findings for a YAML syntax error.
fn yaml_error(file: &str, e: &YamlError) -> Finding {
    Finding::new(
        Severity::Error,
        file,
        Some(e.line),
        format!("invalid YAML (column {}): {}", e.column, e.message),
    )
}

/// Checks the contents of seed file `name` (at the root of the seed) as
/// cloud-init will read it.
pub fn check_file(name: &str, data: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    match name {
        "user-data" | "vendor-data" => check_user_data(name, data, &mut out),
        "meta-data" => check_meta_data(data, &mut out),
        "network-config" => check_network_config(data, &mut out),
        _ => {}
    }
    out
}

/// The user-data part types cloud-init recognises by their start, longest
/// first (cloud-init's `INCLUSION_TYPES_MAP`), lower case.
const HEADERS: &[&str] = &[
    "#cloud-config-archive",
    "#cloud-config-jsonp",
    "## template: jinja",
    "#cloud-boothook",
    "#include-once",
    "#part-handler",
    "#cloud-config",
    "#include",
    "#!",
];

fn check_user_data(file: &str, data: &[u8], out: &mut Vec<Finding>) {
    let Some(text) = text_of(file, data, out) else {
        return;
    };
    if text.trim().is_empty() {
        out.push(Finding::new(
            Severity::Note,
            file,
            None,
            "empty: cloud-init has nothing to do".into(),
        ));
        return;
    }
    let head: String = text.chars().take(4096).collect::<String>().to_lowercase();
    if head.contains("mime-version:") {
        out.push(Finding::new(
            Severity::Note,
            file,
            None,
            "MIME multipart: each part is read by its Content-Type; parts are not checked".into(),
        ));
        return;
    }
    let start = text.trim_start();
    let line = text
        .get(..text.len() - start.len())
        .map_or(0, |skipped| skipped.matches('\n').count())
        + 1;
    let lower = start.chars().take(32).collect::<String>().to_lowercase();
    let Some(header) = HEADERS.iter().find(|h| lower.starts_with(*h)) else {
        let first = start.lines().next().unwrap_or_default();
        let shown: String = first.chars().take(40).collect();
        let why = if first.starts_with('\u{feff}') {
            "starts with a byte-order mark, which hides the header from cloud-init; \
             save the file without it"
                .to_string()
        } else {
            format!(
                "starts with {shown:?}, which cloud-init does not recognise, so it ignores \
                 the file; start it with #cloud-config, #!, #include, ## template: jinja \
                 or a MIME header"
            )
        };
        out.push(Finding::new(Severity::Error, file, Some(line), why));
        return;
    };
    let first = start.lines().next().unwrap_or_default();
    if start.split('\n').next().is_some_and(|l| l.ends_with('\r')) {
        let sev = if *header == "#!" {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(Finding::new(
            sev,
            file,
            Some(line),
            "lines end in CR LF (Windows line ends); a script's #! line then names an \
             interpreter that does not exist; convert the file to LF line ends"
                .into(),
        ));
    }
    match *header {
        "#cloud-config" => {
            // `#cloud-configuration` is not a header cloud-init knows.
            let rest = first.get("#cloud-config".len()..).unwrap_or_default();
            if rest.chars().next().is_some_and(|c| !c.is_whitespace()) {
                out.push(Finding::new(
                    Severity::Error,
                    file,
                    Some(line),
                    format!(
                        "the first line is {:?}; cloud-init expects exactly #cloud-config",
                        first.chars().take(40).collect::<String>()
                    ),
                ));
                return;
            }
            check_cloud_config(file, &text, out);
        }
        "#cloud-config-archive" | "#cloud-config-jsonp" => {
            if let Err(e) = parse_yaml(&text) {
                out.push(yaml_error(file, &e));
            }
        }
        "## template: jinja" => out.push(Finding::new(
            Severity::Note,
            file,
            Some(line),
            "a Jinja template: checked only once cloud-init renders it".into(),
        )),
        _ => {}
    }
}

fn check_cloud_config(file: &str, text: &str, out: &mut Vec<Finding>) {
    let root = match parse_yaml(text) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            out.push(yaml_error(file, &e));
            return;
        }
    };
    if root.is_null() {
        return;
    }
    if !matches!(root.value, Value::Map(_)) {
        out.push(Finding::new(
            Severity::Error,
            file,
            Some(root.line),
            format!(
                "the cloud-config is {}, not a mapping of keys; cloud-init ignores it",
                root.kind()
            ),
        ));
        return;
    }
    for (k, _) in root.entries() {
        let Some(key) = k.text() else { continue };
        let underscored = key.replace('-', "_");
        if key.contains('-') && CONFIG_UNDERSCORED.contains(&underscored.as_str()) {
            out.push(Finding::new(
                Severity::Warning,
                file,
                Some(k.line),
                format!(
                    "{key}: cloud-init reads {underscored} (with underscores) and ignores this key"
                ),
            ));
        }
        if matches!(key, "instance-id" | "local-hostname" | "instance_id") {
            out.push(Finding::new(
                Severity::Warning,
                file,
                Some(k.line),
                format!("{key} belongs in meta-data; cloud-init ignores it in user-data"),
            ));
        }
    }
}

fn check_meta_data(data: &[u8], out: &mut Vec<Finding>) {
    let file = "meta-data";
    let Some(text) = text_of(file, data, out) else {
        return;
    };
    let root = match parse_yaml(&text) {
        Ok(r) => r,
        Err(e) => {
            out.push(yaml_error(file, &e));
            return;
        }
    };
    let root = match root {
        Some(r) if !r.is_null() => r,
        _ => {
            out.push(Finding::new(
                Severity::Warning,
                file,
                None,
                "empty: cloud-init uses instance-id \"nocloud\", so a changed seed is not \
                 seen as a new instance; add instance-id: ..."
                    .into(),
            ));
            return;
        }
    };
    if !matches!(root.value, Value::Map(_)) {
        out.push(Finding::new(
            Severity::Error,
            file,
            Some(root.line),
            format!(
                "meta-data is {}, not a mapping of keys; cloud-init ignores it",
                root.kind()
            ),
        ));
        return;
    }
    let mut has_id = false;
    for (k, v) in root.entries() {
        let Some(key) = k.text() else { continue };
        let dashed = key.replace('_', "-");
        if key.contains('_') && META_DASHED.contains(&dashed.as_str()) {
            out.push(Finding::new(
                Severity::Warning,
                file,
                Some(k.line),
                format!("{key}: cloud-init reads {dashed} (with dashes) and ignores this key"),
            ));
        }
        if key == "hostname" {
            out.push(Finding::new(
                Severity::Warning,
                file,
                Some(k.line),
                "hostname: cloud-init takes the host name from local-hostname".into(),
            ));
        }
        if key == "instance-id" {
            has_id = true;
            if v.text().is_none_or(str::is_empty) || v.is_null() {
                out.push(Finding::new(
                    Severity::Error,
                    file,
                    Some(v.line),
                    format!("instance-id is {}; give it a text value", v.kind()),
                ));
            }
        }
    }
    if !has_id {
        out.push(Finding::new(
            Severity::Warning,
            file,
            None,
            "no instance-id: cloud-init uses \"nocloud\", so a changed seed is not seen as a \
             new instance"
                .into(),
        ));
    }
}

fn check_network_config(data: &[u8], out: &mut Vec<Finding>) {
    let file = "network-config";
    let Some(text) = text_of(file, data, out) else {
        return;
    };
    let root = match parse_yaml(&text) {
        Ok(r) => r,
        Err(e) => {
            out.push(yaml_error(file, &e));
            return;
        }
    };
    let root = match root {
        Some(r) if !r.is_null() => r,
        _ => {
            out.push(Finding::new(
                Severity::Warning,
                file,
                None,
                "empty: cloud-init ignores it and configures the network itself".into(),
            ));
            return;
        }
    };
    if !matches!(root.value, Value::Map(_)) {
        out.push(Finding::new(
            Severity::Error,
            file,
            Some(root.line),
            format!(
                "network-config is {}, not a mapping; it needs version: 1 or 2",
                root.kind()
            ),
        ));
        return;
    }
    // cloud-init takes the config from under a top-level `network:` key
    // when there is one.
    let cfg = match root.get("network") {
        Some(n) if matches!(n.value, Value::Map(_)) => n,
        _ => &root,
    };
    if cfg.get("config").and_then(Node::text) == Some("disabled") {
        return;
    }
    let Some(version) = cfg.get("version") else {
        out.push(Finding::new(
            Severity::Error,
            file,
            Some(cfg.line),
            "no version key: cloud-init needs version: 1 or version: 2".into(),
        ));
        return;
    };
    let number = match &version.value {
        Value::Scalar { text, plain: true } => text.parse::<u32>().ok(),
        _ => None,
    };
    match number {
        Some(1) => match cfg.get("config") {
            Some(Node {
                value: Value::Seq(_),
                ..
            }) => {}
            other => out.push(Finding::new(
                Severity::Error,
                file,
                Some(other.map_or(cfg.line, |n| n.line)),
                "version 1 needs config: a list of network devices".into(),
            )),
        },
        Some(2) => {}
        _ => out.push(Finding::new(
            Severity::Error,
            file,
            Some(version.line),
            format!(
                "version is {}; cloud-init reads the numbers 1 and 2 only",
                match &version.value {
                    Value::Scalar { text, plain: true } => text.clone(),
                    Value::Scalar { text, plain: false } => format!("the text {text:?}"),
                    _ => version.kind().to_string(),
                }
            ),
        )),
    }
}

/// `instance-id` and `local-hostname` of a meta-data file, when it is a
/// YAML mapping that has them.
pub(crate) fn meta_fields(data: &[u8]) -> (Option<String>, Option<String>) {
    let Some(text) = data
        .get(..data.len().min(MAX_CHECKED))
        .and_then(|d| std::str::from_utf8(d).ok())
    else {
        return (None, None);
    };
    let Ok(Some(root)) = parse_yaml(text) else {
        return (None, None);
    };
    let field = |k: &str| {
        root.get(k)
            .filter(|n| !n.is_null())
            .and_then(Node::text)
            .map(str::to_string)
    };
    (field("instance-id"), field("local-hostname"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(name: &str, data: &str) -> Vec<(Severity, Option<usize>, String)> {
        check_file(name, data.as_bytes())
            .into_iter()
            .map(|f| (f.severity, f.line, f.message))
            .collect()
    }

    #[test]
    fn yaml_tree_has_lines() {
        let t = parse_yaml("a: 1\nb:\n  - x\n  - \"y\"\n").unwrap().unwrap();
        let e = t.entries();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].0.text(), e[0].0.line), (Some("a"), 1));
        assert_eq!((e[1].0.text(), e[1].0.line), (Some("b"), 2));
        let Value::Seq(items) = &e[1].1.value else {
            panic!()
        };
        assert_eq!(items[1].line, 4);
        assert_eq!(
            items[1].value,
            Value::Scalar {
                text: "y".into(),
                plain: false
            }
        );
        assert_eq!(parse_yaml("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn yaml_errors_have_lines() {
        let e = parse_yaml("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        let e = parse_yaml("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_yaml("a: b\n\tc: d\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1), "{e:?}");
        let deep = "[".repeat(300);
        assert!(parse_yaml(&deep).is_err());
        let deep_block: String = (0..2000)
            .map(|i| format!("{}- \n", " ".repeat(i)))
            .collect();
        assert!(parse_yaml(&deep_block).is_err());
    }

    #[test]
    fn user_data_headers() {
        for ok in [
            "#cloud-config\na: 1\n",
            "  #Cloud-Config\n",
            "#!/bin/sh\necho hi\n",
            "#include\nhttp://x/y\n",
            "## template: jinja\n#cloud-config\n",
            "#cloud-boothook\n",
            "",
        ] {
            let e = errors("user-data", ok);
            assert!(e.iter().all(|f| f.0 != Severity::Error), "{ok:?}: {e:?}");
        }
        let e = errors("user-data", "\n\ncloud-config:\n  a: 1\n");
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].0, e[0].1), (Severity::Error, Some(3)));
        assert!(e[0].2.contains("#cloud-config"), "{e:?}");
        let e = errors("user-data", "\u{feff}#cloud-config\n");
        assert!(e[0].2.contains("byte-order mark"), "{e:?}");
        let e = errors("user-data", "#!/bin/bash\r\necho\r\n");
        assert_eq!(e[0].0, Severity::Error);
        let e = errors("user-data", "#cloud-configuration\n");
        assert_eq!(e[0].0, Severity::Error);
        let e = errors(
            "user-data",
            "Content-Type: multipart/mixed; boundary=x\nMIME-Version: 1.0\n",
        );
        assert_eq!(e[0].0, Severity::Note);
    }

    #[test]
    fn cloud_config_yaml() {
        let e = errors("user-data", "#cloud-config\nusers:\n  - name: a\n bad: [\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, Severity::Error);
        assert!(e[0].1.unwrap() >= 4, "{e:?}");
        let e = errors("user-data", "#cloud-config\n- a\n- b\n");
        assert!(e[0].2.contains("not a mapping"), "{e:?}");
        let e = errors("user-data", "#cloud-config\nssh-authorized-keys: []\n");
        assert_eq!(e[0].1, Some(2));
        assert!(e[0].2.contains("ssh_authorized_keys"), "{e:?}");
        let e = errors("user-data", "#cloud-config\nhostname: a\ninstance-id: x\n");
        assert!(e[0].2.contains("belongs in meta-data"), "{e:?}");
    }

    #[test]
    fn meta_data_keys() {
        let e = errors("meta-data", "local-hostname: a\ninstance_id: x\n");
        let w: Vec<_> = e.iter().filter(|f| f.0 == Severity::Warning).collect();
        assert_eq!(w.len(), 2, "{e:?}");
        assert_eq!(w[0].1, Some(2));
        assert!(w[0].2.contains("instance-id"), "{e:?}");
        assert!(w[1].2.contains("no instance-id"), "{e:?}");
        assert!(errors("meta-data", "instance-id: a\n").is_empty());
        assert!(errors("meta-data", "{\"instance-id\": \"a\"}\n").is_empty());
        let e = errors("meta-data", "- a\n");
        assert_eq!(e[0].0, Severity::Error);
        let e = errors("meta-data", "instance-id: a\nlocal-hostname: [\n");
        assert_eq!(e[0].0, Severity::Error);
        assert_eq!(e[0].1, Some(3), "{e:?}");
        assert_eq!(errors("meta-data", "")[0].0, Severity::Warning);
        let e = errors("meta-data", "instance-id: a\0\n");
        assert!(e.iter().all(|f| f.0 != Severity::Error) || !e.is_empty());
    }

    #[test]
    fn network_config_versions() {
        assert!(errors("network-config", "version: 2\nethernets: {}\n").is_empty());
        assert!(errors("network-config", "network:\n  version: 2\n").is_empty());
        assert!(errors("network-config", "version: 1\nconfig: []\n").is_empty());
        assert!(errors("network-config", "network: {config: disabled}\n").is_empty());
        let e = errors("network-config", "ethernets: {}\n");
        assert!(e[0].2.contains("no version"), "{e:?}");
        let e = errors("network-config", "ethernets: {}\nversion: 3\n");
        assert_eq!(e[0].1, Some(2));
        let e = errors("network-config", "version: \"2\"\n");
        assert!(e[0].2.contains("text"), "{e:?}");
        let e = errors("network-config", "version: 1\n");
        assert!(e[0].2.contains("config"), "{e:?}");
    }

    #[test]
    fn gzip_and_bytes() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"#cloud-config\n- a\n").unwrap();
        let data = gz.finish().unwrap();
        let e = check_file("user-data", &data);
        assert!(e[0].message.contains("not a mapping"), "{e:?}");
        let e = check_file("user-data", &[0x1f, 0x8b, 0, 1, 2]);
        assert_eq!(e[0].severity, Severity::Error);
        let e = check_file("meta-data", b"a: \xff\n");
        assert_eq!(e[0].line, Some(1));
        assert!(e[0].message.contains("UTF-8"));
    }

    #[test]
    fn meta_fields_of_json_and_yaml() {
        assert_eq!(
            meta_fields(b"{\"instance-id\": \"i-1\", \"local-hostname\": \"h\"}"),
            (Some("i-1".into()), Some("h".into()))
        );
        assert_eq!(meta_fields(b"instance_id: x\n"), (None, None));
    }
}
