//! SIGINT, SIGTERM and SIGHUP during the commands that write (`create`,
//! `modify`, `extract`): the work is cancelled through the library's token,
//! stops at its next check and removes its temporary files, and the process
//! exits with 128 + the signal's number (130, 143, 129).
//!
//! Should the work not stop within a few seconds (blocked writing to a pipe
//! nobody reads, say), or a second signal come, the registered temporary
//! files are removed here and the process exits at once.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use isoforge::Cancel;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long the work has after a signal to stop by itself.
const GRACE: Duration = Duration::from_secs(5);

/// The first signal received, or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The token the handlers cancel, once installed.
static TOKEN: OnceLock<Cancel> = OnceLock::new();

/// Installs the handlers (once) and returns the token they cancel. Commands
/// that cannot leave anything half-written do not call this, and keep the
/// default actions (the process ends at once).
pub fn install() -> anyhow::Result<Cancel> {
    if let Some(c) = TOKEN.get() {
        return Ok(c.clone());
    }
    let cancel = Cancel::new();
    let mut signals =
        Signals::new([SIGINT, SIGTERM, SIGHUP]).context("cannot install signal handlers")?;
    let c = cancel.clone();
    std::thread::Builder::new()
        .name("isoforge-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let first = RECEIVED
                    .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
                if !first {
                    // A second signal: stop now.
                    finish(&c, RECEIVED.load(Ordering::SeqCst));
                }
                c.cancel();
                let late = c.clone();
                let timer = std::thread::Builder::new()
                    .name("isoforge-grace".into())
                    .spawn(move || {
                        std::thread::sleep(GRACE);
                        finish(&late, sig);
                    });
                if timer.is_err() {
                    finish(&c, sig);
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(TOKEN.get_or_init(|| cancel).clone())
}

/// The token of the installed handlers; the default (never cancelled) one
/// when none are installed.
pub fn current() -> Cancel {
    TOKEN.get().cloned().unwrap_or_default()
}

/// The first signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Removes the temporary files still registered, says why the command
/// stopped, and exits with 128 + `sig`.
pub fn finish(cancel: &Cancel, sig: i32) -> ! {
    cancel.remove_temporaries();
    let name = match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    };
    // A progress bar may be on the line: clear it first.
    let clear = if std::io::stderr().is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    };
    eprintln!("{clear}isoforge: stopped by {name}; temporary files removed");
    std::process::exit(128 + sig)
}
