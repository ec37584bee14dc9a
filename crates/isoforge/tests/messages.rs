//! The library names problems in terms of images, structures and its own
//! options; which command-line flag changes the outcome is for a program
//! using it to say. No text in the library's sources (outside their tests)
//! names a flag.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// The string literals of Rust source `text`, up to its tests module.
fn literals(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.trim_start();
        // Arguments handed to another program are its flags, not ours.
        if line.starts_with("//") || line.starts_with(".arg(") || line.starts_with(".args(") {
            continue;
        }
        let mut chars = line.chars().peekable();
        let mut current: Option<String> = None;
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            match (&mut current, c) {
                (None, '/') if chars.peek() == Some(&'/') => break,
                (None, '"') if prev != '\'' => current = Some(String::new()),
                (Some(s), '\\') => {
                    if let Some(e) = chars.next() {
                        s.push('\\');
                        s.push(e);
                    }
                }
                (Some(s), '"') => {
                    out.push((n + 1, std::mem::take(s)));
                    current = None;
                }
                (Some(s), c) => s.push(c),
                (None, c) => prev = c,
            }
        }
        // A literal that goes on past the line.
        if let Some(s) = current {
            out.push((n + 1, s));
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `--word` at the start of the text or after a space or parenthesis.
fn names_a_flag(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3).enumerate().any(|(i, w)| {
        w[0] == b'-'
            && w[1] == b'-'
            && w[2].is_ascii_lowercase()
            && (i == 0 || matches!(b[i - 1], b' ' | b'(' | b'`' | b'\''))
    })
}

#[test]
fn library_texts_name_no_command_line_flag() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&manifest.join("src"), &mut files);
    sources(&manifest.join("../format/src"), &mut files);
    assert!(files.len() > 20, "{files:?}");
    let mut found = Vec::new();
    for f in &files {
        for (line, lit) in literals(&fs::read_to_string(f).unwrap()) {
            if names_a_flag(&lit) {
                found.push(format!("{}:{line}: {lit:?}", f.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "texts naming a flag:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_flags_in_literals_only() {
    let src = "let a = \"use --force to drop it\"; // not --this\n/// nor --this\nlet b = '\"'; let c = \"x --y\";\ncmd\n    .arg(\"--rereadpt\")\n#[cfg(test)]\nlet d = \"--test\";";
    let lits: Vec<String> = literals(src).into_iter().map(|(_, s)| s).collect();
    assert_eq!(lits, ["use --force to drop it", "x --y"]);
    assert!(names_a_flag("use --force to drop it"));
    assert!(names_a_flag("(--strict-names)"));
    assert!(!names_a_flag("a -- b"));
    assert!(!names_a_flag("x--y"));
}
