//! The mkisofs front end: `isoforge mkisofs ARGS`, and the same binary
//! called as `mkisofs`, `genisoimage`, `xorrisofs` or `xorriso` (through a
//! link of that name), so that build scripts that run those programs run
//! isoforge unchanged. One module per concern: `parse` (the option
//! language), `xorriso` (xorriso's native commands around `-as mkisofs`),
//! `build` (what the options mean for the writer), `help`, `glob` and
//! `links` (`isoforge install-links`).

pub mod build;
pub mod glob;
pub mod help;
pub mod interval;
pub mod links;
pub mod parse;
pub mod xorriso;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use build::{Flavour, Native};
use parse::DashDash;

/// The names the binary answers to.
pub const NAMES: &[&str] = &["mkisofs", "genisoimage", "xorrisofs", "xorriso"];

/// `isoforge mkisofs ARGS` as the ordinary parser sees it (reached only
/// after global options; without them the front end takes the line first).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct MkisofsArgs {
    /// The mkisofs command line.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// How a command line is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The mkisofs language, as the named program reads it.
    Mkisofs(&'static str),
    /// xorriso's native commands, with `-as mkisofs`.
    Xorriso,
}

/// The mode for a program name (the file name of `argv[0]`).
pub fn mode_of(argv0: &std::ffi::OsStr) -> Option<Mode> {
    let name = std::path::Path::new(argv0).file_name()?.to_str()?;
    match name {
        "xorriso" => Some(Mode::Xorriso),
        n => NAMES.iter().find(|m| **m == n).map(|m| Mode::Mkisofs(m)),
    }
}

/// Runs the front end when the binary is called by one of [`NAMES`] or as
/// `isoforge mkisofs`; `None` otherwise (the ordinary command line).
pub fn dispatch(argv: &[OsString]) -> Option<ExitCode> {
    let (mode, rest) = match argv.first().and_then(|a| mode_of(a)) {
        Some(m) => (m, argv.get(1..).unwrap_or_default()),
        None if argv.get(1).is_some_and(|a| a == "mkisofs") => {
            (Mode::Mkisofs("mkisofs"), argv.get(2..).unwrap_or_default())
        }
        None => return None,
    };
    Some(finish(run_args(mode, rest, false)))
}

/// Runs `isoforge mkisofs ARGS` reached through the ordinary parser (after
/// global options).
pub fn run_subcommand(args: &[String], quiet: bool) -> anyhow::Result<()> {
    let os: Vec<OsString> = args.iter().map(OsString::from).collect();
    run_args(Mode::Mkisofs("mkisofs"), &os, quiet)
}

fn run_args(mode: Mode, args: &[OsString], quiet: bool) -> anyhow::Result<()> {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_string)
                .with_context(|| format!("argument {a:?} is not UTF-8"))
        })
        .collect::<anyhow::Result<_>>()?;
    match mode {
        Mode::Mkisofs(name) => {
            let (dashdash, flavour) = match name {
                "xorrisofs" => (DashDash::EndsEmulation, Flavour::Xorriso),
                "genisoimage" => (DashDash::EndsOptions, Flavour::Genisoimage),
                _ => (DashDash::EndsOptions, Flavour::Xorriso),
            };
            emulate(name, &args, dashdash, flavour, &Native::default(), quiet)
        }
        Mode::Xorriso => {
            let mut line = xorriso::NativeLine::default();
            xorriso::apply(&args, &mut line, false)?;
            match &line.emulation {
                Some(em) => emulate(
                    "mkisofs",
                    em,
                    DashDash::EndsEmulation,
                    Flavour::Xorriso,
                    &line.native,
                    quiet,
                ),
                None if line.version => {
                    println!("{}", help::version("xorriso"));
                    Ok(())
                }
                None if line.help => {
                    eprint!("{}", help::HELP);
                    Ok(())
                }
                None => anyhow::bail!(
                    "xorriso without -as mkisofs: isoforge implements xorriso's mkisofs emulation only"
                ),
            }
        }
    }
}

fn emulate(
    name: &str,
    args: &[String],
    dashdash: DashDash,
    flavour: Flavour,
    native: &Native,
    quiet: bool,
) -> anyhow::Result<()> {
    let spec = parse::parse(args, dashdash)?;
    if spec.has("-help") {
        eprint!("{}", help::HELP);
        return Ok(());
    }
    if spec.has("-version") {
        println!("{}", help::version(name));
        return Ok(());
    }
    let mut native = native.clone();
    if !spec.native_after.is_empty() {
        let mut line = xorriso::NativeLine {
            native: native.clone(),
            ..Default::default()
        };
        xorriso::apply(&spec.native_after, &mut line, true)?;
        native = line.native;
    }
    build::run(&spec, &native, flavour, quiet)
}

/// The exit status for an outcome, with the error on standard error.
fn finish(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(sig) = crate::signals::received() {
                // Stopped by a signal: 128 + its number, once the temporary
                // output is gone.
                crate::signals::finish(&crate::signals::current(), sig);
            }
            let _ = writeln!(
                std::io::stderr(),
                "isoforge: {}",
                crate::report::chain_once(&e)
            );
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    crate::is_broken_pipe(e)
}
