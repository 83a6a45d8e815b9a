//! The `vouch` binary: parse the command line, run one command, print, map errors to
//! exit codes. All rules live in the library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    forbid_core_dumps();
    quiet_broken_pipe();
    let args = match cli::args::parse() {
        Ok(args) => args,
        Err(e) => return parse_error(e),
    };
    let json = args.global.output == cli::args::OutputFormat::Json;
    let result = cli::run(args);
    let unwritten = cli::out::finish();
    match result {
        Ok(()) => match unwritten {
            None => ExitCode::SUCCESS,
            // The command did its work; its answer could not be written.
            Some(e) => {
                let report = cli::Report::output_failed(&e);
                report.print(false);
                ExitCode::from(report.exit_code as u8)
            }
        },
        Err(err) => {
            // Errors are printed even with --quiet: they are the reason for the exit code.
            let report = err.report();
            report.print(json);
            ExitCode::from(report.exit_code as u8)
        }
    }
}

/// `--help` and `--version` print as clap prints them (exit 0); a usage error is reported
/// like every other error: `vouch: error: …`, `vouch: hint: …`, exit 2, and the error
/// object on stdout with `--output json`.
fn parse_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = args.iter().enumerate().any(|(i, a)| {
        a == "--output=json" || (a == "--output" && args.get(i + 1).is_some_and(|v| v == "json"))
    });
    let report = cli::Report::from_clap(&e);
    report.print(json);
    ExitCode::from(report.exit_code as u8)
}

/// `vouch list … | head`: when the reader goes away, stop as Unix tools do (killed by
/// SIGPIPE, nothing printed), not with a panic about a broken pipe. The Rust runtime
/// ignores SIGPIPE by default; this puts the default back. Network sockets are not
/// affected: reqwest sends with MSG_NOSIGNAL.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: resets one signal's disposition to its default; touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Before anything is read: no core file (which would hold decrypted keys and
/// passphrases) and, on Linux, not dumpable, so that other processes of the same user
/// cannot ptrace vouch or read its memory through /proc. Failures are ignored: these
/// harden the process, they are not needed for it to work.
fn forbid_core_dumps() {
    #[cfg(unix)]
    {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct passed by reference; no other effect.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes an integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}
