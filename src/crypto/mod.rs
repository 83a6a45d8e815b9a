//! Signers and verifiers: ECDSA P-256, Ed25519, RSA-PSS; X.509 root certificates.

pub mod pkcs11;
mod pkcs11_uri;
pub mod private;
pub mod verify;
pub mod x509;

pub use x509::CanonicalKeyId;

use crate::exit::ExitCode;

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
    /// A signature method that cannot be used with the key's type (notary picks the
    /// verifier from the trusted key, the method only selects a variant).
    #[error("signature method {method:?} cannot be used with a {keytype} key")]
    MethodMismatch { method: String, keytype: String },
    /// A certificate that cannot be read.
    #[error("invalid certificate: {0}")]
    Certificate(String),
    /// A certificate that was read but is not acceptable.
    #[error("certificate {cn:?} rejected: {reason}")]
    CertificateRejected { cn: String, reason: String },
    #[error("certificate {cn:?} is not valid now: valid from {not_before} to {not_after}")]
    CertificateExpired {
        cn: String,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    },
}

impl CryptoError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CryptoError::Unsupported(_)
            | CryptoError::InvalidKey(_)
            | CryptoError::Malformed(_)
            | CryptoError::SigningFailed(_) => ExitCode::Keystore,
            CryptoError::BadSignature(_)
            | CryptoError::MethodMismatch { .. }
            | CryptoError::Certificate(_)
            | CryptoError::CertificateRejected { .. }
            | CryptoError::CertificateExpired { .. } => ExitCode::NotTrusted,
        }
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
