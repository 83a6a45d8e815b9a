//! Key files on disk: notary-compatible layout, PEM + encrypted PKCS#8, passphrases.
//!
//! - [`KeyStore`]: the keys of one trust directory (`~/.vouch`, `~/.notary`,
//!   `~/.docker/trust`): list, load, generate, import, export, change passphrase, remove.
//! - [`format`](mod@format): which key file formats are read and written ([`KeyFormat`], [`FileFormat`]).
//! - [`passphrase`]: where passphrases come from ([`PassphraseSource`] and the
//!   environment / file / fixed sources, [`Chain`]); [`keyring`]: the OS keyring cache.
//!
//! The library never prompts and never prints; the binary supplies an interactive
//! [`PassphraseSource`].

pub mod backup;
pub mod encryption;
mod error;
pub mod format;
pub(crate) mod fsio;
mod info;
pub mod keyring;
pub mod layout;
pub mod passphrase;
pub mod pemblock;
mod pkcs11_ref;
pub mod role;
pub mod session;
pub mod shamir;
mod store;
mod transfer;
mod unlock;

pub use error::KeystoreError;
pub use format::{FileFormat, KeyFormat};
pub use fsio::LOCK_FILE;
pub use info::KeyInfo;
pub use keyring::KeyringCache;
pub use passphrase::{
    Chain, EnvSource, Fixed, NoPassphrase, Origin, PassphraseFile, PassphraseRequest,
    PassphraseSource, Secret,
};
pub use pkcs11_ref::SUFFIX as TOKEN_REF_SUFFIX;
pub use session::{Session, SessionError, SessionInfo};
pub(crate) use store::{inspect_file, inspect_token_refs};
pub use store::{KeyStore, Scan, Skipped};
pub use transfer::{ExportFormat, ImportOptions, ImportOutcome, ImportedKey};
