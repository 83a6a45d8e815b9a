//! The top-level error type and the exit-code contract.
//!
//! Every module has its own typed error; each can say which [`ExitCode`] it maps to and,
//! where there is one, what the user should do next ([`Error::hint`]).

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

/// The error every library entry point returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tuf(#[from] crate::tuf::TufError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error(transparent)]
    Keystore(#[from] crate::keystore::KeystoreError),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    #[error(transparent)]
    Registry(#[from] crate::remote::registry::RegistryError),
    #[error(transparent)]
    Manifest(#[from] crate::manifests::ManifestError),
    /// Bad input from the user that no module-specific error describes.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Tuf(e) => e.exit_code(),
            Error::Crypto(e) => e.exit_code(),
            Error::Keystore(e) => e.exit_code(),
            Error::Remote(e) => e.exit_code(),
            Error::Trust(e) => e.exit_code(),
            Error::Registry(e) => e.exit_code(),
            Error::Manifest(e) => e.exit_code(),
            Error::Usage(_) => ExitCode::Usage,
        }
    }

    /// What to do next, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Tuf(e) => e.hint(),
            Error::Crypto(e) => e.hint(),
            Error::Keystore(e) => e.hint(),
            Error::Remote(e) => e.hint(),
            Error::Trust(e) => e.hint(),
            Error::Registry(e) => e.hint(),
            Error::Manifest(e) => e.hint(),
            Error::Usage(_) => None,
        }
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
pub(crate) fn io_hint(path: &std::path::Path, kind: std::io::ErrorKind) -> String {
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
