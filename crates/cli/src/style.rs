//! Colour on terminals: `--color auto|always|never`, with `NO_COLOR`
//! (<https://no-color.org>) turning `auto` off. An explicit `--color always`
//! wins over `NO_COLOR`, as a command-line flag overrides the environment.

use std::io::IsTerminal;

use crate::args::{Cli, Color};

/// Whether to colour one output stream, and the colours used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// The decision for a stream that is (`terminal`) or is not a terminal.
    pub fn new(choice: Color, terminal: bool) -> Paint {
        let on = match choice {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        };
        Paint { on }
    }

    /// For standard output.
    pub fn stdout(cli: &Cli) -> Paint {
        Paint::new(cli.color, std::io::stdout().is_terminal())
    }

    /// For standard error.
    pub fn stderr(cli: &Cli) -> Paint {
        Paint::new(cli.color, std::io::stderr().is_terminal())
    }

    fn wrap(self, sgr: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{sgr}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Something that held, or was added.
    pub fn good(self, s: &str) -> String {
        self.wrap("32", s)
    }

    /// Something that failed, or was removed.
    pub fn bad(self, s: &str) -> String {
        self.wrap("31", s)
    }

    /// A failure that decides the outcome.
    pub fn alarm(self, s: &str) -> String {
        self.wrap("1;31", s)
    }

    /// Something changed.
    pub fn changed(self, s: &str) -> String {
        self.wrap("33", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices() {
        assert_eq!(Paint::new(Color::Never, true).good("x"), "x");
        assert_eq!(
            Paint::new(Color::Always, false).good("x"),
            "\x1b[32mx\x1b[0m"
        );
        assert_eq!(Paint::new(Color::Auto, false).bad("x"), "x");
    }
}
