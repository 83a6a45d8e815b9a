//! Key files on disk: notary-compatible layout, PEM + encrypted PKCS#8, passphrases.

use crate::error::ExitCode;

/// Errors from the key store.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("key {0} not found")]
    NotFound(String),
}

impl KeystoreError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Keystore
    }
    pub fn hint(&self) -> Option<String> {
        None
    }
}
