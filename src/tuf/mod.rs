//! The Notary v1 (TUF) wire model: metadata types, canonical JSON, key IDs, signature
//! and threshold verification.
//!
//! - [`cjson`]: canonical JSON (protocol §4.1) and the file-envelope escaping (§4.3).
//! - [`keys`]: public keys and key IDs (§5.1, §5.2).
//! - [`Root`], [`Targets`], [`Snapshot`], [`Timestamp`]: the role objects (§3).
//! - [`Signed`]: a parsed metadata file; [`sign_role`] writes one.
//! - [`verify`](mod@verify): the one threshold check, producing [`Verified`].

pub mod cjson;
pub mod expires;
pub mod filemeta;
pub mod keys;
pub mod roles;
pub mod root;
mod serde_util;
pub mod signed;
pub mod snapshot;
pub mod targets;
pub mod verify;

pub use expires::Expires;
pub use filemeta::{check_hashes, check_valid_hash_structures, FileMeta, Hashes};
pub use keys::{KeyId, PublicKey};
pub use roles::BaseRole;
pub use root::{RoleKeys, Root};
pub use signed::{encode_envelope, sign_role, Metadata, Signature, Signed};
pub use snapshot::{Snapshot, Timestamp};
pub use targets::{DelegationRole, Delegations, Targets};
pub use verify::{check_expiry, verify, verify_signatures, verify_with_roles, Verified};

use crate::crypto::CryptoError;
use crate::exit::ExitCode;

/// Errors about metadata and keys as data.
#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error("invalid key ID {0:?}: expected 64 lowercase hex characters")]
    InvalidKeyId(String),
    #[error("malformed metadata: {0}")]
    Malformed(String),
    /// A role name that is neither a base role nor a valid delegation name.
    #[error("invalid role name {name:?}: {reason}")]
    InvalidRoleName { name: String, reason: String },
    /// Structurally invalid metadata (missing roles, bad thresholds, bad hashes, ...).
    #[error("invalid {role} metadata: {reason}")]
    InvalidMetadata { role: String, reason: String },
    #[error("{role} metadata has _type {found:?}, expected {expected:?}")]
    WrongType {
        role: String,
        expected: &'static str,
        found: String,
    },
    #[error("{role} metadata has no signatures")]
    NoSignatures { role: String },
    /// A role lists a key under an ID that is not that key's ID (a hard error, as in notary).
    #[error("{role}: key listed as {listed} has key ID {computed}")]
    KeyIdMismatch {
        role: String,
        listed: String,
        computed: KeyId,
    },
    #[error("{role}: {valid} valid signature(s) from distinct keys, threshold is {threshold}")]
    ThresholdNotMet {
        role: String,
        valid: usize,
        threshold: i64,
    },
    #[error("{role} metadata expired at {expires}")]
    Expired { role: String, expires: String },
    #[error("{role} metadata version {version} is lower than the known version {min}")]
    LowVersion {
        role: String,
        version: i64,
        min: i64,
    },
    #[error("{name}: {algorithm} checksum mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        name: String,
        algorithm: String,
        expected: String,
        actual: String,
    },
    #[error("{name}: no sha256 or sha512 checksum to check against")]
    MissingHashes { name: String },
    #[error("cannot sign: {0}")]
    NoSigners(String),
    #[error("signing with key {keyid} failed")]
    Signing {
        keyid: KeyId,
        #[source]
        source: CryptoError,
    },
    #[error("key {keyid}: {source}")]
    Key {
        keyid: KeyId,
        #[source]
        source: CryptoError,
    },
}

impl TufError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            TufError::InvalidKeyId(_) | TufError::InvalidRoleName { .. } => ExitCode::Usage,
            TufError::Malformed(_)
            | TufError::InvalidMetadata { .. }
            | TufError::WrongType { .. }
            | TufError::NoSignatures { .. }
            | TufError::KeyIdMismatch { .. }
            | TufError::ThresholdNotMet { .. }
            | TufError::Expired { .. }
            | TufError::LowVersion { .. }
            | TufError::HashMismatch { .. }
            | TufError::MissingHashes { .. } => ExitCode::NotTrusted,
            TufError::NoSigners(_) => ExitCode::Keystore,
            TufError::Signing { source, .. } | TufError::Key { source, .. } => source.exit_code(),
        }
    }
}
