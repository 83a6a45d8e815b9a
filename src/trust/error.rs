//! The error every library entry point returns: one of the layers' typed errors.

use crate::exit::ExitCode;

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
    Trust(#[from] super::TrustError),
    #[error(transparent)]
    Registry(#[from] crate::remote::registry::RegistryError),
    #[error(transparent)]
    Manifest(#[from] crate::manifests::ManifestError),
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),
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
            Error::Oci(e) => e.exit_code(),
            Error::Usage(_) => ExitCode::Usage,
        }
    }
}
