//! SUMS files (`SHA256SUMS`, Fedora `CHECKSUM`): GNU coreutils lines
//! (`HEX  NAME`, `HEX *NAME`, with `\`-escaped names), BSD tag lines
//! (`SHA256 (NAME) = HEX`), CRLF line ends and comments.
//!
//! # Security
//!
//! A SUMS file is untrusted text. Its names only ever select the one image
//! being verified: a name matches when it equals the image's file name,
//! after at most one leading `./`. A name with any other `/` (`../x.iso`,
//! `/etc/x.iso`, `sub/x.iso`) never matches, so a SUMS file cannot point the
//! check at another file.

use std::fmt;

use super::Algo;

/// One usable line of a SUMS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumsEntry {
    /// The algorithm, from the BSD tag or else from the digest length.
    pub algo: Algo,
    /// The expected digest, lower-case hex.
    pub hex: String,
    /// The file name as written (after unescaping), `./` kept.
    pub name: String,
}

/// Why no line could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// No line names the file.
    NotFound(String),
    /// Two lines name the file with different digests of one algorithm.
    Conflict(String, Algo),
    /// The name to look for is not a plain file name.
    BadName(String),
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::NotFound(n) => write!(f, "no line for {n:?} in the SUMS file"),
            SelectError::Conflict(n, a) => {
                write!(f, "the SUMS file gives {n:?} two different {a} digests")
            }
            SelectError::BadName(n) => {
                write!(
                    f,
                    "{n:?} is not a plain file name (it must not contain '/')"
                )
            }
        }
    }
}

/// Parses every line that is a well-formed GNU or BSD checksum line; other
/// lines (comments, blank lines, signatures, junk) are skipped.
pub fn parse(text: &str) -> Vec<SumsEntry> {
    text.split('\n').filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<SumsEntry> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim_start().starts_with('#') {
        return None;
    }
    parse_bsd(line).or_else(|| parse_gnu(line))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `SHA256 (NAME) = HEX`; also `SHA256(NAME)= HEX` as OpenSSL writes it.
fn parse_bsd(line: &str) -> Option<SumsEntry> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let open = line.find('(')?;
    let algo = Algo::from_name(line.get(..open)?.trim_end())?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?;
    let rest = line.get(close + 1..)?.trim_start();
    let hex = rest.strip_prefix('=')?.trim();
    if !is_hex(hex) || hex.len() != algo.hex_len() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_string()
    };
    Some(SumsEntry {
        algo,
        hex: hex.to_ascii_lowercase(),
        name,
    })
}

/// `HEX  NAME` (text mode) or `HEX *NAME` (binary mode); a leading `\` means
/// the name is escaped (`\\`, `\n`, `\r`).
fn parse_gnu(line: &str) -> Option<SumsEntry> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let sp = line.find(' ')?;
    let hex = line.get(..sp)?;
    let algo = Algo::from_hex_len(hex.len())?;
    if !is_hex(hex) {
        return None;
    }
    let rest = line.get(sp + 1..)?;
    let name = rest
        .strip_prefix('*')
        .or_else(|| rest.strip_prefix(' '))
        .unwrap_or(rest);
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_string()
    };
    Some(SumsEntry {
        algo,
        hex: hex.to_ascii_lowercase(),
        name,
    })
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The name a SUMS line refers to, if it is a plain file name: one leading
/// `./` is dropped; anything else with a `/` (or empty, `.`, `..`) is not.
fn plain_name(name: &str) -> Option<&str> {
    let n = name.strip_prefix("./").unwrap_or(name);
    if n.is_empty() || n == "." || n == ".." || n.contains('/') || n.contains('\0') {
        None
    } else {
        Some(n)
    }
}

/// The lines for the file called `name` (the image's own file name, or an
/// explicit `--name`), one per algorithm.
///
/// Several algorithms for the same file are all returned, so each can be
/// checked; two different digests of one algorithm are a conflict.
pub fn select<'a>(entries: &'a [SumsEntry], name: &str) -> Result<Vec<&'a SumsEntry>, SelectError> {
    let Some(want) = plain_name(name) else {
        return Err(SelectError::BadName(name.to_string()));
    };
    let mut chosen: Vec<&SumsEntry> = Vec::new();
    for e in entries {
        if plain_name(&e.name) != Some(want) {
            continue;
        }
        match chosen.iter().find(|c| c.algo == e.algo) {
            Some(c) if c.hex != e.hex => {
                return Err(SelectError::Conflict(want.to_string(), e.algo))
            }
            Some(_) => {}
            None => chosen.push(e),
        }
    }
    if chosen.is_empty() {
        Err(SelectError::NotFound(want.to_string()))
    } else {
        Ok(chosen)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const H256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const H1: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";

    #[test]
    fn gnu_text_binary_crlf_and_dot_slash() {
        let text = format!(
            "{H256}  a.iso\r\n{H1} *b.iso\n# comment\n\n{}  ./c.iso\r\n",
            H256.to_uppercase()
        );
        let e = parse(&text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].name, "a.iso");
        assert_eq!(e[1].algo, Algo::Sha1);
        assert_eq!(e[1].name, "b.iso");
        assert_eq!(e[2].hex, H256);
        assert_eq!(select(&e, "c.iso").unwrap()[0].name, "./c.iso");
        assert_eq!(select(&e, "b.iso").unwrap()[0].hex, H1);
    }

    #[test]
    fn bsd_tags_choose_the_algorithm() {
        let text = format!(
            "SHA256 (Fedora-x86_64.iso) = {H256}\nSHA1 (Fedora-x86_64.iso) = {H1}\nMD5(o.iso)= 900150983cd24fb0d6963f7d28e17f72\nSHA512 (bad.iso) = {H256}\n"
        );
        let e = parse(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        let s = select(&e, "Fedora-x86_64.iso").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].algo, Algo::Sha256);
        assert_eq!(s[1].algo, Algo::Sha1);
        assert_eq!(select(&e, "o.iso").unwrap()[0].algo, Algo::Md5);
        // A name with parentheses keeps them.
        let e = parse(&format!("SHA256 (a (1).iso) = {H256}"));
        assert_eq!(e[0].name, "a (1).iso");
    }

    #[test]
    fn names_with_spaces_and_escapes() {
        let e = parse(&format!(
            "{H256}  my image.iso\n\\{H1}  back\\\\slash\\n.iso\n"
        ));
        assert_eq!(e[0].name, "my image.iso");
        assert_eq!(e[1].name, "back\\slash\n.iso");
        assert!(parse(&format!("\\{H1}  bad\\q")).is_empty());
    }

    #[test]
    fn never_selects_another_path() {
        let text = format!(
            "{H256}  ../x.iso\n{H256}  /tmp/x.iso\n{H256}  sub/x.iso\n{H256}  .//x.iso\n{H256}  ././x.iso\n"
        );
        let e = parse(&text);
        assert_eq!(e.len(), 5);
        assert_eq!(
            select(&e, "x.iso"),
            Err(SelectError::NotFound("x.iso".into()))
        );
        assert!(matches!(
            select(&e, "../x.iso"),
            Err(SelectError::BadName(_))
        ));
        assert!(matches!(
            select(&e, "sub/x.iso"),
            Err(SelectError::BadName(_))
        ));
        assert!(matches!(select(&e, ".."), Err(SelectError::BadName(_))));
        assert!(matches!(select(&e, ""), Err(SelectError::BadName(_))));
        // `--name ./x.iso` is the same file as `x.iso`.
        let e = parse(&format!("{H256}  x.iso"));
        assert_eq!(select(&e, "./x.iso").unwrap().len(), 1);
    }

    #[test]
    fn conflicts_and_junk() {
        let other = "0".repeat(64);
        let e = parse(&format!("{H256}  x.iso\n{other}  ./x.iso\n"));
        assert_eq!(
            select(&e, "x.iso"),
            Err(SelectError::Conflict("x.iso".into(), Algo::Sha256))
        );
        let e = parse(&format!("{H256}  x.iso\n{H256}  x.iso\n"));
        assert_eq!(select(&e, "x.iso").unwrap().len(), 1);
        for junk in [
            "",
            " ",
            "zz  x.iso",
            "abc  x.iso",
            H256,
            &format!("{H256}  "),
            &format!("{}g  x.iso", &H256[..63]),
            "SHA256 (x.iso) = abc",
            "SHA999 (x.iso) = abc",
            "(",
            ")(",
            "\\",
            "SHA256 (x.iso",
            "é",
            "\u{0}",
        ] {
            assert!(parse(junk).is_empty(), "{junk:?}");
        }
    }

    #[test]
    fn case_insensitive_hex_and_clearsign_noise_skipped() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{}  x.iso\n-----BEGIN PGP SIGNATURE-----\n",
            H256.to_uppercase()
        );
        let e = parse(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].hex, H256);
    }
}
