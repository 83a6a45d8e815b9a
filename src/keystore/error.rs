//! The key store's error type: every variant names what failed and says what to do next.

use std::path::PathBuf;

use crate::crypto::CryptoError;
use crate::exit::ExitCode;

/// Errors from the key store and its passphrase sources.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("key {id} not found in {dir}")]
    NotFound { id: String, dir: PathBuf },
    #[error("key ID prefix {prefix:?} matches {count} keys in {dir}")]
    Ambiguous {
        prefix: String,
        count: usize,
        dir: PathBuf,
    },
    #[error("wrong passphrase for {role} key {id} ({path})")]
    WrongPassphrase {
        id: String,
        role: String,
        path: PathBuf,
    },
    #[error("too many wrong passphrases for {role} key {id} ({path})")]
    TooManyAttempts {
        id: String,
        role: String,
        path: PathBuf,
    },
    #[error("no passphrase available for {role} key {id}")]
    PassphraseRequired { id: String, role: String },
    #[error("empty passphrase for new {role} key {id}")]
    EmptyPassphrase { id: String, role: String },
    #[error("cannot get a passphrase: {reason}")]
    PassphraseInput { reason: String },
    #[error("passphrase file {path} is readable or writable by group or others (mode {mode:04o})")]
    InsecurePassphraseFile { path: PathBuf, mode: u32 },
    #[error("corrupt key file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("unsupported key file {path}: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// A key file whose key derivation would cost more work or memory than vouch allows.
    #[error("key file {path} asks for a costlier key derivation than vouch allows: {reason}")]
    TooCostly { path: PathBuf, reason: String },
    #[error("key file {path} holds key {actual}, not {expected}")]
    IdMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("key {id} already exists at {path}")]
    AlreadyExists { id: String, path: PathBuf },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid role {role:?}: {reason}")]
    InvalidRole { role: String, reason: String },
    #[error("invalid GUN {gun:?}: {reason}")]
    InvalidGun { gun: String, reason: String },
    #[error("a {role} key belongs to one repository: a GUN is required")]
    GunRequired { role: String },
    #[error("a {role} key is not tied to a repository: GUN {gun:?} does not apply")]
    GunNotAllowed { role: String, gun: String },
    #[error("{what}: the key has no role")]
    RoleRequired { what: String },
    #[error("no private key found in {what}")]
    NoKeys { what: String },
    #[error("{what}: {reason}")]
    BadInput { what: String, reason: String },
    #[error("cannot generate a {algorithm} key: {reason}")]
    UnsupportedAlgorithm { algorithm: String, reason: String },
    #[error("key {id}: {source}")]
    Crypto {
        id: String,
        #[source]
        source: CryptoError,
    },
    /// Key backups, shares and restores (`vouch key backup` / `restore`).
    #[error(transparent)]
    Backup(Box<super::backup::BackupError>),
    /// Keys on PKCS#11 tokens.
    #[error(transparent)]
    Token(#[from] crate::crypto::pkcs11::TokenError),
    /// An operation on key material that a token key does not allow (export, passphrase).
    #[error("key {id} is on a PKCS#11 token ({uri}): {reason}")]
    OnToken {
        id: String,
        uri: String,
        reason: String,
    },
    /// Unlock sessions (`vouch key unlock`).
    #[error("cannot open an unlock session: {0}")]
    Session(#[from] super::session::SessionError),
}

impl KeystoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KeystoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        use KeystoreError::*;
        match self {
            NotFound { .. }
            | Ambiguous { .. }
            | WrongPassphrase { .. }
            | TooManyAttempts { .. }
            | PassphraseRequired { .. }
            | PassphraseInput { .. }
            | Corrupt { .. }
            | Unsupported { .. }
            | TooCostly { .. }
            | IdMismatch { .. }
            | AlreadyExists { .. }
            | Io { .. }
            | Crypto { .. } => ExitCode::Keystore,
            Session(super::session::SessionError::Unavailable(_)) => ExitCode::Keystore,
            Session(super::session::SessionError::BadName(_)) => ExitCode::Usage,
            EmptyPassphrase { .. }
            | InsecurePassphraseFile { .. }
            | InvalidRole { .. }
            | InvalidGun { .. }
            | GunRequired { .. }
            | GunNotAllowed { .. }
            | RoleRequired { .. }
            | NoKeys { .. }
            | BadInput { .. }
            | UnsupportedAlgorithm { .. } => ExitCode::Usage,
            Backup(e) => e.exit_code(),
            Token(e) => e.exit_code(),
            OnToken { .. } => ExitCode::Usage,
        }
    }
}
