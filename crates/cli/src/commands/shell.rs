//! `isoforge completions SHELL` and `isoforge man`: generated from the same
//! clap definitions as the parser, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::args::Cli;
use crate::commands::Outcome;

/// Options of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    isoforge completions bash > /etc/bash_completion.d/isoforge\n  \
    isoforge completions zsh > \"${fpath[1]}/_isoforge\"\n  \
    isoforge completions fish > ~/.config/fish/completions/isoforge.fish")]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {}

/// Prints the completion script for a shell.
pub fn completions(a: &CompletionArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "isoforge", out);
    Ok(Outcome::Ok)
}

/// Prints the manual page: the top level, then a section per subcommand.
pub fn man(out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    // The commands are sections of this page, not pages of their own.
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            out,
            ".TP\n\\fBisoforge {}\\fR\n{}",
            roff_text(sub.get_name()),
            roff_text(&about)
        )?;
    }
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = sub.get_name();
        writeln!(out, ".SH \"ISOFORGE {}\"", name.to_uppercase())?;
        let sub_man = clap_mangen::Man::new(sub.clone());
        let mut body = Vec::new();
        sub_man.render_synopsis_section(&mut body)?;
        sub_man.render_description_section(&mut body)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            sub_man.render_options_section(&mut body)?;
        }
        // Each subcommand is one section: its headings become subsections.
        let body = String::from_utf8_lossy(&body).replace("\n.SH ", "\n.SS ");
        out.write_all(
            body.strip_prefix(".SH ")
                .map_or(body.clone(), |b| format!(".SS {b}"))
                .as_bytes(),
        )?;
    }
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra)?;
    let extra = String::from_utf8_lossy(&extra).replace(".SH EXTRA", ".SH EXAMPLES");
    out.write_all(extra.as_bytes())?;
    man.render_version_section(out)?;
    Ok(Outcome::Ok)
}

/// Text for a roff line: backslashes and hyphens escaped, and no line
/// starting with a control character.
fn roff_text(s: &str) -> String {
    let t = s.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}
