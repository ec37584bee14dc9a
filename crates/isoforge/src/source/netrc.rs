//! `.netrc` credentials (the format curl, wget and ftp read): `machine HOST
//! login USER password PASS`, a `default` entry, and `macdef` bodies, which
//! are skipped.

use std::io;
use std::path::{Path, PathBuf};

/// Largest `.netrc` read.
const MAX_NETRC: u64 = 1 << 20;

/// A login and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub login: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log.
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// The entries of one `.netrc` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Netrc {
    machines: Vec<(String, Credentials)>,
    default: Option<Credentials>,
}

impl Netrc {
    /// Parses the text of a `.netrc` file. Unknown tokens are skipped, as
    /// curl skips them.
    pub fn parse(text: &str) -> Netrc {
        let mut out = Netrc::default();
        let mut lines = text.lines();
        // The entry being read: its machine (None for `default`) and fields.
        let mut cur: Option<(Option<String>, String, String)> = None;
        let finish = |out: &mut Netrc, cur: Option<(Option<String>, String, String)>| {
            if let Some((machine, login, password)) = cur {
                let c = Credentials { login, password };
                match machine {
                    Some(m) => out.machines.push((m.to_ascii_lowercase(), c)),
                    None => out.default = Some(c),
                }
            }
        };
        while let Some(line) = lines.next() {
            let mut words = line.split_whitespace();
            while let Some(w) = words.next() {
                match w {
                    "machine" => {
                        finish(&mut out, cur.take());
                        let m = words.next().unwrap_or_default().to_string();
                        cur = Some((Some(m), String::new(), String::new()));
                    }
                    "default" => {
                        finish(&mut out, cur.take());
                        cur = Some((None, String::new(), String::new()));
                    }
                    "login" => {
                        if let (Some(c), Some(v)) = (cur.as_mut(), words.next()) {
                            c.1 = v.to_string();
                        }
                    }
                    "password" => {
                        if let (Some(c), Some(v)) = (cur.as_mut(), words.next()) {
                            c.2 = v.to_string();
                        }
                    }
                    "account" => {
                        words.next();
                    }
                    "macdef" => {
                        // The macro body runs to the next empty line.
                        finish(&mut out, cur.take());
                        for l in lines.by_ref() {
                            if l.trim().is_empty() {
                                break;
                            }
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
        finish(&mut out, cur);
        out
    }

    /// Reads `$NETRC`, else `~/.netrc`; `None` when there is none.
    pub fn from_env() -> io::Result<Option<Netrc>> {
        let path = match std::env::var_os("NETRC") {
            Some(p) => PathBuf::from(p),
            None => match std::env::var_os("HOME") {
                Some(h) => Path::new(&h).join(".netrc"),
                None => return Ok(None),
            },
        };
        Netrc::from_file(&path)
    }

    /// Reads one `.netrc` file; `None` when it does not exist.
    pub fn from_file(path: &Path) -> io::Result<Option<Netrc>> {
        use std::io::Read;
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        f.take(MAX_NETRC).read_to_string(&mut text)?;
        Ok(Some(Netrc::parse(&text)))
    }

    /// The credentials for `host`: its own entry, else the default one.
    pub fn lookup(&self, host: &str) -> Option<&Credentials> {
        let host = host.to_ascii_lowercase();
        self.machines
            .iter()
            .find(|(m, _)| *m == host)
            .map(|(_, c)| c)
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_default_and_macros() {
        let n = Netrc::parse(
            "machine mirror.example login alice password s3cret\n\
             macdef init\nmachine evil login x password y\n\n\
             machine Other.Example\n  login bob\n  password pw account acct\n\
             default login anon password guest\n",
        );
        assert_eq!(n.lookup("mirror.example").unwrap().login, "alice");
        assert_eq!(n.lookup("mirror.example").unwrap().password, "s3cret");
        assert_eq!(n.lookup("other.example").unwrap().login, "bob");
        // Inside a macro body: not an entry.
        assert_eq!(n.lookup("evil").unwrap().login, "anon");
        assert_eq!(n.lookup("unknown").unwrap().password, "guest");
        assert!(!format!("{:?}", n.lookup("mirror.example").unwrap()).contains("s3cret"));
        assert!(Netrc::parse("machine a login b password c")
            .lookup("z")
            .is_none());
    }
}
