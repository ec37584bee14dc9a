//! What a serial console shows: a small VT100 screen model fed with the
//! bytes a guest wrote, and the views of it the boot judges compare.
//!
//! Firmware and boot loaders draw on the serial console as on a screen:
//! SeaBIOS's serial console mirrors the VGA text screen and sends what
//! changed when its timer fires, so the same menu arrives as different
//! byte streams (a line break here, a cursor move there) from one boot to
//! the next. What is on the screen afterwards is the same. So the judges
//! compare the rendered screen (the rows that scrolled off the top, then
//! the rows still on it, a cleared screen counting as scrolled off),
//! never the raw stream, and compare it without
//! whitespace, so a redraw that leaves one more empty line or breaks a line
//! elsewhere does not count.
#![allow(dead_code)]

use std::fmt::Write as _;

/// Columns and rows of the modelled screen: the VGA text mode that SeaBIOS
/// mirrors, and the size OVMF's terminal driver assumes.
pub const COLS: usize = 80;
pub const ROWS: usize = 25;

/// The most rows kept once scrolled off the top.
const MAX_HISTORY: usize = 10_000;

/// A terminal screen: the rows on it, the rows scrolled off it, a cursor.
#[derive(Debug, Clone)]
pub struct Screen {
    rows: Vec<Vec<char>>,
    history: Vec<String>,
    row: usize,
    col: usize,
    saved: (usize, usize),
    /// Every printable character in the order it arrived, escape sequences
    /// and whitespace left out.
    stream: String,
    parser: Parser,
}

/// Where the parser is within an escape sequence.
#[derive(Debug, Clone, Default)]
enum Parser {
    #[default]
    Ground,
    Escape,
    /// Within `ESC [`: parameters so far.
    Csi(String),
    /// Within `ESC ]` or another string sequence, up to BEL or `ESC \`.
    Osc,
    /// `ESC (`, `ESC )` and the like: one more byte names a character set.
    Charset,
}

impl Default for Screen {
    fn default() -> Self {
        Screen::new()
    }
}

impl Screen {
    pub fn new() -> Screen {
        Screen {
            rows: vec![vec![' '; COLS]; ROWS],
            history: Vec::new(),
            row: 0,
            col: 0,
            saved: (0, 0),
            stream: String::new(),
            parser: Parser::Ground,
        }
    }

    /// A screen that has been fed `text`.
    pub fn of(text: &str) -> Screen {
        let mut s = Screen::new();
        s.feed(text);
        s
    }

    /// Feeds what the guest wrote (as text: the firmware's code page 437
    /// box drawing arrives as bytes above 0x7f, which the lossy decoding
    /// turns into U+FFFD on both sides of any comparison alike).
    pub fn feed(&mut self, text: &str) {
        for c in text.chars() {
            self.put(c);
        }
    }

    fn put(&mut self, c: char) {
        match std::mem::take(&mut self.parser) {
            Parser::Ground => self.ground(c),
            Parser::Escape => self.escape(c),
            Parser::Csi(mut params) => {
                if ('@'..='~').contains(&c) {
                    self.csi(&params, c);
                } else if params.len() < 64 {
                    params.push(c);
                    self.parser = Parser::Csi(params);
                } else {
                    // A runaway sequence: drop it.
                }
            }
            Parser::Osc => {
                if c != '\u{7}' && c != '\u{1b}' {
                    self.parser = Parser::Osc;
                }
            }
            Parser::Charset => {}
        }
    }

    fn ground(&mut self, c: char) {
        match c {
            '\u{1b}' => self.parser = Parser::Escape,
            '\r' => self.col = 0,
            '\n' | '\u{b}' | '\u{c}' => self.line_feed(),
            '\u{8}' => self.col = self.col.saturating_sub(1),
            '\t' => self.col = ((self.col / 8) + 1).saturating_mul(8).min(COLS - 1),
            c if c.is_control() => {}
            c => {
                if self.col >= COLS {
                    self.col = 0;
                    self.line_feed();
                }
                self.rows[self.row][self.col] = c;
                self.col += 1;
                if !c.is_whitespace() {
                    self.stream.push(c);
                }
            }
        }
    }

    fn escape(&mut self, c: char) {
        match c {
            '[' => self.parser = Parser::Csi(String::new()),
            ']' | 'P' | '_' | '^' => self.parser = Parser::Osc,
            '(' | ')' | '*' | '+' => self.parser = Parser::Charset,
            '7' => self.saved = (self.row, self.col),
            '8' => (self.row, self.col) = self.saved,
            'D' => self.line_feed(),
            'E' => {
                self.col = 0;
                self.line_feed();
            }
            'M' => self.row = self.row.saturating_sub(1),
            'c' => {
                self.clear_screen();
                (self.row, self.col) = (0, 0);
            }
            _ => {}
        }
    }

    fn csi(&mut self, params: &str, fin: char) {
        let private = params.starts_with(['?', '>', '=']);
        let nums: Vec<usize> = params
            .trim_start_matches(['?', '>', '='])
            .split(';')
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let arg = |i: usize, default: usize| match nums.get(i) {
            Some(&0) | None => default,
            Some(&n) => n,
        };
        if private {
            // Cursor visibility, modes: nothing on the screen changes.
            return;
        }
        match fin {
            'A' => self.row = self.row.saturating_sub(arg(0, 1)),
            'B' | 'e' => self.row = self.row.saturating_add(arg(0, 1)).min(ROWS - 1),
            'C' | 'a' => self.col = self.col.saturating_add(arg(0, 1)).min(COLS - 1),
            'D' => self.col = self.col.saturating_sub(arg(0, 1)),
            'E' => {
                self.row = self.row.saturating_add(arg(0, 1)).min(ROWS - 1);
                self.col = 0;
            }
            'F' => {
                self.row = self.row.saturating_sub(arg(0, 1));
                self.col = 0;
            }
            'G' | '`' => self.col = (arg(0, 1) - 1).min(COLS - 1),
            'd' => self.row = (arg(0, 1) - 1).min(ROWS - 1),
            'H' | 'f' => {
                self.row = (arg(0, 1) - 1).min(ROWS - 1);
                self.col = (arg(1, 1) - 1).min(COLS - 1);
            }
            'J' => match nums.first().copied().unwrap_or(0) {
                0 => {
                    self.clear_line_from(self.row, self.col);
                    for r in self.row + 1..ROWS {
                        self.rows[r].fill(' ');
                    }
                }
                1 => {
                    for r in 0..self.row {
                        self.rows[r].fill(' ');
                    }
                    self.clear_line_to(self.row, self.col);
                }
                _ => self.clear_screen(),
            },
            'K' => match nums.first().copied().unwrap_or(0) {
                0 => self.clear_line_from(self.row, self.col),
                1 => self.clear_line_to(self.row, self.col),
                _ => self.rows[self.row].fill(' '),
            },
            'S' => {
                for _ in 0..arg(0, 1).min(ROWS) {
                    self.scroll_up();
                }
            }
            's' => self.saved = (self.row, self.col),
            'u' => (self.row, self.col) = self.saved,
            // Colours and attributes (m), and everything else, change no
            // character on the screen.
            _ => {}
        }
    }

    /// Clears the screen. What it showed goes to the history first, as
    /// terminals keep a cleared screen in their scrollback: a firmware that
    /// clears the screen before the next boot option must not erase what
    /// the boot loader before it printed.
    fn clear_screen(&mut self) {
        let shown: Vec<String> = self
            .rows
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .collect();
        let used = shown
            .iter()
            .rposition(|l| !l.is_empty())
            .map_or(0, |i| i + 1);
        for l in shown.into_iter().take(used) {
            if self.history.len() < MAX_HISTORY {
                self.history.push(l);
            }
        }
        for r in &mut self.rows {
            r.fill(' ');
        }
    }

    fn clear_line_from(&mut self, row: usize, col: usize) {
        for c in &mut self.rows[row][col.min(COLS)..] {
            *c = ' ';
        }
    }

    fn clear_line_to(&mut self, row: usize, col: usize) {
        for c in &mut self.rows[row][..=col.min(COLS - 1)] {
            *c = ' ';
        }
    }

    fn line_feed(&mut self) {
        if self.row + 1 >= ROWS {
            self.scroll_up();
        } else {
            self.row += 1;
        }
    }

    fn scroll_up(&mut self) {
        let top = self.rows.remove(0);
        self.rows.push(vec![' '; COLS]);
        if self.history.len() < MAX_HISTORY {
            self.history
                .push(top.iter().collect::<String>().trim_end().to_string());
        }
    }

    /// The rows scrolled off the top, then the rows on the screen, each
    /// without trailing blanks.
    pub fn lines(&self) -> Vec<String> {
        let mut v = self.history.clone();
        v.extend(self.visible());
        v
    }

    /// The rows on the screen only.
    pub fn visible(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .collect()
    }

    /// Every printable character that arrived, in order, without
    /// whitespace: where to look for a marker, which a redraw cannot
    /// erase and a line break cannot split.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Whether `text` (whitespace ignored) has been printed.
    pub fn printed(&self, text: &str) -> bool {
        self.stream.contains(&compact(text))
    }

    /// What the screen shows, whitespace left out, in reading order
    /// (scrolled-off rows first).
    pub fn shown(&self) -> String {
        compact(&self.lines().concat())
    }

    /// What the screen shows (as [`Screen::shown`]) up to and including
    /// the first of `stops` it shows; the stop found.
    pub fn shown_until<'a>(&self, stops: &[&'a str]) -> (String, Option<&'a str>) {
        let shown = self.shown();
        match stops
            .iter()
            .filter_map(|s| {
                let c = compact(s);
                shown.find(&c).map(|i| (i + c.len(), *s))
            })
            .min()
        {
            Some((end, stop)) => (shown[..end].to_string(), Some(stop)),
            None => (shown, None),
        }
    }
}

/// `s` without whitespace.
pub fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Two screens side by side, rows that differ (whitespace aside) marked
/// with `|` between them, for a judge's failure message.
pub fn side_by_side(
    left_title: &str,
    left: &[String],
    right_title: &str,
    right: &[String],
) -> String {
    const W: usize = COLS;
    let cut = |s: &str| -> String {
        let mut t: String = s.chars().take(W).collect();
        let n = t.chars().count();
        t.extend(std::iter::repeat_n(' ', W - n));
        t
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}   {}", cut(left_title), right_title);
    let _ = writeln!(out, "{}   {}", "-".repeat(W), "-".repeat(W));
    let n = left.len().max(right.len());
    for i in 0..n {
        let a = left.get(i).map_or("", String::as_str);
        let b = right.get(i).map_or("", String::as_str);
        let mark = if compact(a) == compact(b) { ' ' } else { '|' };
        let _ = writeln!(out, "{} {} {}", cut(a), mark, b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_cursor_moves_stay_on_the_screen() {
        let max = usize::MAX;
        let s = Screen::of(&format!("\u{1b}[{max}B\u{1b}[{max}Cx\u{1b}[{max}Ey"));
        let lines = s.lines();
        assert_eq!(lines.len(), ROWS, "{lines:?}");
        let last = &lines[ROWS - 1];
        assert_eq!(last.len(), COLS, "{lines:?}");
        assert!(last.starts_with('y') && last.ends_with('x'), "{lines:?}");
    }

    #[test]
    fn line_breaks_and_cursor_moves_render_alike() {
        // The same two rows, once with a line break, once with a cursor
        // position sent where the break was, once repainted twice.
        let a = Screen::of(
            "Press enter to boot the selected OS, `e' to edit the commands\r\nbefore booting",
        );
        let b = Screen::of(
            "Press enter to boot the selected OS, `e' to edit the\x1b[1;59H commands\x1b[2;1Hbefore booting",
        );
        let c = Screen::of("\x1b[2J\x1b[HPress enter to boot the selected OS, `e' to edit the commands\r\n\r\nbefore booting");
        assert_eq!(a.shown(), b.shown());
        assert_eq!(a.shown(), c.shown());
        assert!(a.printed("edit the commands before"));
        assert!(b.printed("editthecommands"));
    }

    #[test]
    fn a_cleared_screen_is_kept() {
        let s = Screen::of("iPXE initialising devices...ok\r\n\x1b[2J\x1b[01;01HShell> ");
        assert!(s.shown().starts_with("iPXEinitialisingdevices...ok"));
        assert_eq!(
            s.shown_until(&["iPXE initialising"]).1,
            Some("iPXE initialising")
        );
        assert_eq!(s.visible()[0], "Shell>");
    }

    #[test]
    fn different_text_differs() {
        let a = Screen::of("GNU GRUB  version 2.06\r\n");
        let b = Screen::of("No bootable device.\r\n");
        assert_ne!(a.shown(), b.shown());
    }

    #[test]
    fn scrolled_rows_are_kept() {
        let mut s = Screen::new();
        for i in 0..40 {
            s.feed(&format!("line {i}\r\n"));
        }
        let lines = s.lines();
        assert_eq!(lines[0], "line 0");
        assert!(s.shown().starts_with("line0line1"));
        assert!(s.shown().contains("line39"));
    }

    #[test]
    fn cut_at_the_first_stop() {
        let s =
            Screen::of("GRUB menu\r\nThe highlighted entry will be executed automatically in 30s.");
        let (text, stop) = s.shown_until(&["automatically in", "Shell>"]);
        assert_eq!(stop, Some("automatically in"));
        assert!(text.ends_with("automaticallyin"));
    }
}
