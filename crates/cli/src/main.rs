//! The `isoforge` command: parse arguments, run one command, map the outcome
//! to an exit status (0 ok, 1 verification failed or images differ, 2 bad
//! usage or bad input).

mod args;
mod commands;
mod mkisofs;
mod progress;
mod render;
mod report;
mod signals;
mod style;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::commands::Outcome;

fn main() -> ExitCode {
    // The contract is "never a raw panic": an internal error still exits 2.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(
            io::stderr(),
            "isoforge: internal error: {info}; please report this with the input that caused it"
        );
        std::process::exit(2);
    }));
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = mkisofs::dispatch(&argv) {
        return code;
    }
    let cli = args::Cli::parse_from(argv);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = commands::run(&cli, &mut out).and_then(|o| {
        out.flush()?;
        Ok(o)
    });
    if cli.verbose {
        for line in commands::remote_stats() {
            let _ = writeln!(io::stderr(), "isoforge: {line}");
        }
    }
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            if let Some(sig) = signals::received() {
                // Stopped by a signal: 128 + its number, once the
                // temporary files are gone.
                if !e
                    .chain()
                    .any(|c| matches!(c.downcast_ref(), Some(isoforge::Error::Cancelled)))
                {
                    let _ = writeln!(io::stderr(), "{}", report::error_line(&cli, &e));
                }
                signals::finish(&signals::current(), sig);
            }
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(io::stderr(), "{}", report::error_line(&cli, &e));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<isoforge::Error>().is_some_and(|ie| {
                matches!(ie, isoforge::Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
            })
    })
}
