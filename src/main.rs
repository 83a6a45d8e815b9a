//! The `vouch` binary: parse the command line, run one command, print, map errors to
//! exit codes. All rules live in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    forbid_core_dumps();
    let args = cli::args::Cli::parse();
    let quiet = args.global.quiet;
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors are printed even with --quiet: they are the reason for the exit code.
            let _ = quiet;
            eprintln!("vouch: error: {}", err.message());
            for cause in err.causes() {
                eprintln!("vouch: caused by: {cause}");
            }
            if let Some(hint) = err.hint() {
                eprintln!("vouch: hint: {hint}");
            }
            ExitCode::from(err.exit_code().code() as u8)
        }
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
