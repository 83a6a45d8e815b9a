//! The exit-code contract (see `docs/exit-codes.md`), the hint for a failed file-system
//! operation, and a placeholder for secrets in `Debug` output: what every layer may use
//! without knowing about the others.

use std::fmt;

/// The documented exit codes (see `docs/exit-codes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success, or "trusted".
    Success = 0,
    /// A definitive "no": unsigned, tampered, expired, rolled back, untrusted key.
    NotTrusted = 1,
    /// Usage error or bad input (arguments, malformed files given by the user).
    Usage = 2,
    /// Remote unavailable: network, TLS, server error, authentication refused.
    Remote = 3,
    /// Keystore: key missing, wrong passphrase, unreadable key file.
    Keystore = 4,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A secret that never prints itself.
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// What to do about a failed file-system operation on `path`, by why it failed: a full
/// disk, missing permissions and a read-only file system each need a different fix.
pub fn io_hint(path: &std::path::Path, kind: std::io::ErrorKind) -> String {
    use std::io::ErrorKind::*;
    // The nearest directory that exists: where `df` and `ls -ld` can look.
    let dir = path
        .ancestors()
        .find(|p| p.is_dir())
        .unwrap_or(std::path::Path::new("."));
    let d = dir.display();
    match kind {
        StorageFull | QuotaExceeded => format!(
            "the file system holding {d} is full (or over quota); nothing was lost: free space (`df -h {d}`), then run the command again"
        ),
        PermissionDenied => format!(
            "this user may not write {d}: check its owner and mode (`ls -ld {d}`), or run as the user who owns it"
        ),
        ReadOnlyFilesystem => format!(
            "{d} is on a read-only file system: remount it read-write, or use a writable directory (--trust-dir / VOUCH_TRUST_DIR for the trust dir)"
        ),
        NotFound => format!("check that {} exists", path.display()),
        _ => format!("check the file system holding {d} (`df -h {d}`, `dmesg`), then run the command again"),
    }
}

#[cfg(test)]
mod tests {
    use super::io_hint;
    use std::io::ErrorKind;

    #[test]
    fn io_hints_name_the_nearest_existing_directory_and_the_fix_for_the_cause() {
        let dir = std::env::temp_dir();
        let missing = dir.join("vouch-no-such-dir/a/b.json");
        let full = io_hint(&missing, ErrorKind::StorageFull);
        assert!(full.contains(&format!("df -h {}", dir.display())), "{full}");
        assert!(full.contains("full"), "{full}");
        let denied = io_hint(&missing, ErrorKind::PermissionDenied);
        assert!(
            denied.contains(&format!("ls -ld {}", dir.display())),
            "{denied}"
        );
        assert!(io_hint(&missing, ErrorKind::ReadOnlyFilesystem).contains("read-only"));
        assert!(io_hint(&missing, ErrorKind::NotFound).contains("vouch-no-such-dir/a/b.json"));
    }
}
