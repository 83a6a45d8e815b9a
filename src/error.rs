//! The library's error and the exit-code contract, re-exported in one place for callers.
//! The error is defined by the top layer ([`crate::trust::Error`]); exit codes, I/O hints
//! and the secret placeholder live in [`crate::exit`], below every layer, so that no layer
//! imports back from here.

pub use crate::exit::{io_hint, ExitCode, Redacted};
pub use crate::trust::Error;
