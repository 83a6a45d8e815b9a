//! Key backups: one encrypted archive of key files and the metadata needed to use them,
//! sealed under a backup passphrase or split into Shamir shares (docs/key-management.md,
//! "Backups").
//!
//! What is inside (the *archive*, JSON, secret): for every key its ID, role, GUN, the
//! key file's path under `private/` and the key file's bytes exactly as they are on disk
//! (still encrypted under the key's own passphrase), plus the cached `root.json` of every
//! repository those keys belong to, so a restored root key can be matched to its
//! certificate.
//!
//! How it is sealed (the *envelope*, JSON, public): a header `{format, version, created,
//! keys, kdf, cipher}` and the AES-256-GCM ciphertext of the archive. The header is the
//! AEAD's associated data, so changing any of it (or the ciphertext) is detected.
//! - Passphrase backups: the AES key comes from scrypt(passphrase, salt) with the
//!   parameters in the header. The envelope is written PEM-armoured
//!   (`VOUCH KEY BACKUP`), after a few lines of plain text saying what the file is.
//! - Split backups: the AES key is 32 random bytes, split with [`super::shamir`]; every
//!   share file carries one share of that key and a full copy of the envelope, whose
//!   header lists the SHA-256 of every share, so a damaged or forged share is named.
//!
//! The archive fingerprint is the SHA-256 of the envelope's JSON bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand_core::{CryptoRng, OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::fsio;
use super::layout;
use super::pemblock::{self, PemBlock};
use super::role::validate_gun;
use super::shamir::{self, ShamirError};
use super::store::KeyStore;
use super::{format, KeyInfo, KeystoreError, Skipped};
use crate::exit::ExitCode;
use crate::tuf::{KeyId, PublicKey};

type Result<T> = std::result::Result<T, KeystoreError>;

/// `format` of the envelope.
pub const BACKUP_FORMAT: &str = "vouch-key-backup";
/// `format` of the archive inside it.
pub const ARCHIVE_FORMAT: &str = "vouch-key-archive";
/// The first word of a share file.
pub const SHARE_FORMAT: &str = "vouch-key-share";
/// The one version of all three this code writes and reads.
pub const VERSION: u32 = 1;
/// The PEM type of a passphrase backup file.
pub const PEM_TYPE: &str = "VOUCH KEY BACKUP";
/// The only cipher.
pub const CIPHER: &str = "AES-256-GCM";
/// The environment variable scripts use for the backup passphrase.
pub const PASSPHRASE_ENV: &str = "VOUCH_BACKUP_PASSPHRASE";

const SCRYPT_SALT_LEN: usize = 16;
/// Refuse envelopes whose scrypt would cost more than four times the default work
/// (N·r·p) or memory (128·N·r = 128 MiB): an attacker-chosen cost must not exhaust the
/// machine restoring it. Checked when the envelope is parsed, before any passphrase.
pub const MAX_SCRYPT_WORK: u64 = 4 << (17 + 3);
pub const MAX_SCRYPT_MEMORY: u64 = 512 << 20;
/// Largest backup or share file read.
pub const MAX_FILE: u64 = 16 << 20;
/// Base64 characters per share data line.
const SHARE_LINE: usize = 64;

/// scrypt cost for the backup passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptCost {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptCost {
    /// N = 2^17, r = 8, p = 1: 128 MiB and a fraction of a second per attempt. Backups
    /// live long and travel, so this is stronger than the key files' own cost.
    pub const DEFAULT: ScryptCost = ScryptCost {
        log_n: 17,
        r: 8,
        p: 1,
    };
}

/// Errors of backups, shares and restores.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("wrong backup passphrase for {what}")]
    WrongPassphrase { what: String },
    #[error("no backup passphrase available")]
    PassphraseRequired,
    #[error("{what}: {reason}")]
    BadPassphrase { what: String, reason: String },
    #[error("{what} is not a usable key backup: {reason}")]
    Corrupt { what: String, reason: String },
    /// The backup's key derivation would cost more work or memory than vouch allows.
    #[error("{what} asks for a costlier key derivation than vouch allows: {reason}")]
    TooCostly { what: String, reason: String },
    #[error("{what} was written by a newer vouch ({found}); this vouch reads version {VERSION}")]
    TooNew { what: String, found: String },
    #[error("share {file}{}: {reason}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Share {
        file: String,
        line: Option<usize>,
        reason: String,
    },
    #[error("{have} distinct share(s) given ({given}), but this backup needs {need}")]
    NotEnoughShares {
        have: usize,
        need: usize,
        given: String,
    },
    #[error("the shares do not belong together: {reason}")]
    Mismatch { reason: String },
    #[error("the shares do not combine into the key of archive sha256:{fingerprint}: at least one is damaged or forged")]
    SharesDoNotCombine { fingerprint: String },
    #[error("{} already in the key store as a different file: {}; nothing was restored",
        if .conflicts.len() == 1 { "a key of this backup is" } else { "keys of this backup are" },
        .conflicts.iter().map(|(id, p)| format!("{id} ({})", p.display())).collect::<Vec<_>>().join(", "))]
    Conflict { conflicts: Vec<(String, PathBuf)> },
    #[error("no keys to back up: {reason}")]
    NothingSelected { reason: String },
    #[error("cannot split the backup: {0}")]
    Split(ShamirError),
}

impl BackupError {
    pub fn exit_code(&self) -> ExitCode {
        use BackupError::*;
        match self {
            WrongPassphrase { .. }
            | PassphraseRequired
            | TooCostly { .. }
            | Conflict { .. }
            | NothingSelected { .. } => ExitCode::Keystore,
            BadPassphrase { .. }
            | Corrupt { .. }
            | TooNew { .. }
            | Share { .. }
            | NotEnoughShares { .. }
            | Mismatch { .. }
            | SharesDoNotCombine { .. }
            | Split(_) => ExitCode::Usage,
        }
    }
}

impl From<BackupError> for KeystoreError {
    fn from(e: BackupError) -> Self {
        KeystoreError::Backup(Box::new(e))
    }
}

fn corrupt(what: &str, reason: impl Into<String>) -> KeystoreError {
    BackupError::Corrupt {
        what: what.to_owned(),
        reason: reason.into(),
    }
    .into()
}

fn share_err(file: &str, line: Option<usize>, reason: impl Into<String>) -> KeystoreError {
    BackupError::Share {
        file: file.to_owned(),
        line,
        reason: reason.into(),
    }
    .into()
}

mod archive;
mod collect;
mod envelope;
mod restore;
mod shares;

pub use archive::*;
pub use collect::*;
pub use envelope::*;
pub use restore::*;
pub use shares::*;

#[cfg(test)]
mod tests;
