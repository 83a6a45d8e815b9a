//! Signers and verifiers: ECDSA P-256, Ed25519, RSA-PSS; X.509 root certificates.

pub mod private;

use crate::error::ExitCode;

/// Errors from key material and signature operations.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("unsupported key: {0}")]
    Unsupported(String),
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    #[error("signature verification failed: {0}")]
    BadSignature(String),
    /// Bytes that are not the DER structure expected (after a decryption: wrong passphrase).
    #[error("malformed key data: {0}")]
    Malformed(String),
    #[error("signing failed: {0}")]
    SigningFailed(String),
}

impl CryptoError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CryptoError::Unsupported(_)
            | CryptoError::InvalidKey(_)
            | CryptoError::Malformed(_)
            | CryptoError::SigningFailed(_) => ExitCode::Keystore,
            CryptoError::BadSignature(_) => ExitCode::NotTrusted,
        }
    }
    pub fn hint(&self) -> Option<String> {
        None
    }
}

/// Something that can produce a signature over a message, as notary's `method` names it.
///
/// Implemented by the private keys of the key store. The key ID written next to the
/// signature is chosen by the caller (for root keys it is the certificate key's ID).
pub trait SignatureProvider {
    /// `ecdsa`, `eddsa` or `rsapss`.
    fn method(&self) -> &'static str;
    /// Sign `msg` (the canonical bytes of a role object).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError>;
}
