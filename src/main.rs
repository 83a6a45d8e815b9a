//! The `vouch` binary: parse the command line, run one command, print, map errors to
//! exit codes. All rules live in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    let quiet = args.global.quiet;
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors are printed even with --quiet: they are the reason for the exit code.
            let _ = quiet;
            eprintln!("vouch: error: {}", err.message());
            if let Some(hint) = err.hint() {
                eprintln!("vouch: hint: {hint}");
            }
            ExitCode::from(err.exit_code().code() as u8)
        }
    }
}
