//! The Notary v1 (TUF) wire model: metadata types, canonical JSON, key IDs, signature
//! and threshold verification.

pub mod cjson;
pub mod keys;

pub use keys::{KeyId, PublicKey};

use crate::error::ExitCode;

/// Errors about metadata and keys as data.
#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error("invalid key ID {0:?}: expected 64 lowercase hex characters")]
    InvalidKeyId(String),
    #[error("malformed metadata: {0}")]
    Malformed(String),
}

impl TufError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            TufError::InvalidKeyId(_) => ExitCode::Usage,
            TufError::Malformed(_) => ExitCode::NotTrusted,
        }
    }
    pub fn hint(&self) -> Option<String> {
        None
    }
}
