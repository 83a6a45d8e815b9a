//! Progress bars on stderr for long work: hashing big files (bytes), signing many tags
//! (count), backing up and restoring keys (keys). Only when stderr is a terminal and
//! --quiet is not given: a pipe or a log file never gets a bar, and what is printed
//! there stays exactly the normal output. The bar is cleared when the work ends.

use std::io::{IsTerminal as _, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Context;

/// Files smaller than this hash in a blink: no bar.
pub const MIN_BYTES: u64 = 16 << 20;
/// Fewer items than this: no bar.
pub const MIN_ITEMS: u64 = 2;

/// A progress bar, or nothing (not a terminal, --quiet, too little work).
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// No bar at all.
    pub fn none() -> Progress {
        Progress { bar: None }
    }

    /// A bar over `total` bytes, when `total` is at least [`MIN_BYTES`].
    pub fn bytes(ctx: &Context, total: u64, what: &str) -> Progress {
        if total < MIN_BYTES {
            return Progress::none();
        }
        Progress::new(
            ctx,
            total,
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            what,
        )
    }

    /// A bar over `total` items (`unit`: "tags", "keys"…), when there are several.
    pub fn count(ctx: &Context, total: u64, what: &str, unit: &str) -> Progress {
        if total < MIN_ITEMS {
            return Progress::none();
        }
        Progress::new(
            ctx,
            total,
            &format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}"),
            what,
        )
    }

    /// A spinner for one long step whose progress cannot be counted (a key derivation).
    pub fn spinner(ctx: &Context, what: &str) -> Progress {
        if ctx.global.quiet || !std::io::stderr().is_terminal() {
            return Progress::none();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            )
            .with_message(what.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    fn new(ctx: &Context, total: u64, template: &str, what: &str) -> Progress {
        if ctx.global.quiet || !std::io::stderr().is_terminal() {
            return Progress::none();
        }
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_message(what.to_owned());
        // Drawn at once, not only after the first update.
        bar.tick();
        Progress { bar: Some(bar) }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Another piece of work of the same kind (e.g. the next file).
    pub fn set_message(&self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_owned());
        }
    }

    /// `reader`, ticking this bar by the bytes read through it.
    pub fn reader<R: Read>(&self, reader: R) -> Counting<'_, R> {
        Counting {
            inner: reader,
            progress: self,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// A reader that ticks a [`Progress`] by the bytes it reads.
pub struct Counting<'a, R> {
    inner: R,
    progress: &'a Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counting_reader_reads_the_same_bytes() {
        let p = Progress::none();
        let data = vec![7u8; 100_000];
        let mut out = Vec::new();
        p.reader(&data[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }
}
