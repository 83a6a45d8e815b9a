//! Command implementations: one module per command group.

pub mod args;
mod key;
mod output;
mod prompt;

use std::path::PathBuf;

use vouch::{Error, ExitCode};

use args::{Cli, Command, GlobalOpts};

/// An error as the user sees it: the library error plus, optionally, more context.
pub struct CliError {
    inner: Box<Error>,
    context: Option<String>,
}

impl CliError {
    pub fn message(&self) -> String {
        match &self.context {
            Some(c) => format!("{c}: {}", self.inner),
            None => self.inner.to_string(),
        }
    }
    pub fn hint(&self) -> Option<String> {
        self.inner.hint()
    }
    pub fn exit_code(&self) -> ExitCode {
        self.inner.exit_code()
    }
}

impl CliError {
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

impl<E: Into<Error>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError {
            inner: Box::new(e.into()),
            context: None,
        }
    }
}

pub fn usage(msg: impl Into<String>) -> CliError {
    CliError {
        inner: Box::new(Error::Usage(msg.into())),
        context: None,
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

pub fn run(cli: Cli) -> CliResult {
    let ctx = Context::new(cli.global)?;
    match cli.command {
        Command::Key(cmd) => key::run(&ctx, cmd),
    }
}

/// What every command gets: resolved global options.
pub struct Context {
    pub global: GlobalOpts,
    pub trust_dir: PathBuf,
}

impl Context {
    fn new(global: GlobalOpts) -> CliResult<Context> {
        let trust_dir = match &global.trust_dir {
            Some(d) => d.clone(),
            None => match std::env::var_os("VOUCH_TRUST_DIR").filter(|v| !v.is_empty()) {
                Some(d) => PathBuf::from(d),
                None => home_dir()
                    .ok_or_else(|| usage("cannot find the home directory for the default trust dir ~/.vouch; pass --trust-dir DIR or set VOUCH_TRUST_DIR"))?
                    .join(".vouch"),
            },
        };
        Ok(Context { global, trust_dir })
    }

    pub fn json(&self) -> bool {
        self.global.output == args::OutputFormat::Json
    }

    /// Progress and notes on stderr, unless --quiet.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.global.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Warnings on stderr, unless --quiet.
    pub fn warn(&self, msg: impl AsRef<str>) {
        if !self.global.quiet {
            eprintln!("vouch: warning: {}", msg.as_ref());
        }
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}
