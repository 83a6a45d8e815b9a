//! Standard output and standard error without panics. `println!` panics when stdout
//! cannot be written (a full disk behind `> file`, a closed descriptor); a panic is no
//! answer for a script. The answer goes through [`out`]: the first write that fails is
//! kept, later output is dropped, and `main` turns the failure into an error (exit 4)
//! after the command — which may have done its work, and says so only if the error
//! can be read. Messages on stderr are best effort: there is nowhere else to say that
//! stderr failed. A reader that went away (`vouch list | head`) ends the process by
//! SIGPIPE before any of this (see `main`).

use std::io::Write as _;
use std::sync::Mutex;

static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Write to stdout; after a failed write, nothing more is written.
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_some() {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        *failed = Some(e);
    }
}

/// Write bytes to stdout, as [`out`].
pub fn out_bytes(bytes: &[u8]) {
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_some() {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_all(bytes) {
        *failed = Some(e);
    }
}

/// Write to stderr, best effort.
pub fn err(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Flush stdout; the first failure of the whole command, if any.
pub fn finish() -> Option<std::io::Error> {
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_none() {
        if let Err(e) = std::io::stdout().lock().flush() {
            *failed = Some(e);
        }
    }
    failed.take()
}
