//! What the key store knows about a key without opening it.

use std::path::PathBuf;

use super::format::FileFormat;
use crate::tuf::KeyId;

/// What the key store knows about a key without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The canonical key ID (the file name).
    pub id: KeyId,
    /// `root`, `targets`, `snapshot`, `timestamp`, `targets/<name>`, a signer name, or ""
    /// if the file does not say.
    pub role: String,
    /// The repository, for targets/snapshot/timestamp keys.
    pub gun: Option<String>,
    /// `ecdsa`, `ed25519` or `rsa`, when known without decrypting.
    pub algorithm: Option<String>,
    pub path: PathBuf,
    pub format: FileFormat,
    /// Stored in notary ≤ 0.3's `root_keys/` or `tuf_keys/` directories.
    pub legacy_layout: bool,
}
