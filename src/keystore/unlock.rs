//! Opening encrypted key blocks with passphrases from a [`PassphraseSource`], and asking
//! for the passphrase of a new key.

use std::path::Path;

use super::encryption::KekCache;
use super::format::{self, DecodeError};
use super::passphrase::{Origin, PassphraseRequest, PassphraseSource, Secret, MAX_ATTEMPTS};
use super::pemblock::PemBlock;
use super::KeystoreError;
use crate::crypto::private::PrivateKey;
use crate::tuf::KeyId;

/// The key being opened, for passphrase requests and error messages.
pub(crate) struct Target<'a> {
    pub id: Option<&'a KeyId>,
    pub role: &'a str,
    /// The file (or input name) the block came from.
    pub path: &'a Path,
}

impl Target<'_> {
    fn id_text(&self) -> String {
        self.id
            .map_or_else(|| "(ID not yet known)".to_owned(), |i| i.to_string())
    }

    fn role_text(&self) -> String {
        if self.role.is_empty() {
            "imported".into()
        } else {
            self.role.to_owned()
        }
    }

    pub(crate) fn error(&self, e: DecodeError) -> KeystoreError {
        match e {
            DecodeError::WrongPassphrase => KeystoreError::WrongPassphrase {
                id: self.id_text(),
                role: self.role_text(),
                path: self.path.to_path_buf(),
            },
            DecodeError::NeedPassphrase => KeystoreError::PassphraseRequired {
                id: self.id_text(),
                role: self.role_text(),
            },
            DecodeError::Corrupt(reason) => KeystoreError::Corrupt {
                path: self.path.to_path_buf(),
                reason,
            },
            DecodeError::Unsupported(reason) => KeystoreError::Unsupported {
                path: self.path.to_path_buf(),
                reason,
            },
            DecodeError::TooCostly(reason) => KeystoreError::TooCostly {
                path: self.path.to_path_buf(),
                reason,
            },
        }
    }
}

/// Decode `block`, asking `pass` for a passphrase if it is encrypted. Returns the key and
/// the passphrase that opened it (`None` for an unencrypted block).
///
/// A wrong passphrase from a configured source fails at once; a wrong cached one is
/// reported (so the cache forgets it) and the sources are asked again; wrong interactive
/// answers are retried up to [`MAX_ATTEMPTS`] in all.
pub(crate) fn unlock(
    block: &PemBlock,
    target: &Target<'_>,
    pass: &dyn PassphraseSource,
) -> Result<(PrivateKey, Option<Secret>), KeystoreError> {
    unlock_with(block, target, pass, None)
}

/// [`unlock`], first trying the KEKs of an unlock session (`cache`), and recording there
/// the scrypt KEK a passphrase derives.
pub(crate) fn unlock_with(
    block: &PemBlock,
    target: &Target<'_>,
    pass: &dyn PassphraseSource,
    cache: Option<&dyn KekCache>,
) -> Result<(PrivateKey, Option<Secret>), KeystoreError> {
    match format::decode(block, None, None) {
        Ok(key) => return Ok((key, None)),
        Err(DecodeError::NeedPassphrase) => {}
        Err(e) => return Err(target.error(e)),
    }
    if let Some(key) = cache.and_then(|c| format::decode_cached(block, c)) {
        return Ok((key, None));
    }
    let mut attempt = 0;
    let mut cached_failures = 0;
    loop {
        let req = PassphraseRequest {
            key_id: target.id.cloned(),
            role: target.role.to_owned(),
            new_key: false,
            attempt,
        };
        let Some(secret) = pass.get(&req)? else {
            let e = if attempt == 0 && cached_failures == 0 {
                DecodeError::NeedPassphrase
            } else {
                DecodeError::WrongPassphrase
            };
            return Err(target.error(e));
        };
        match format::decode(block, Some(secret.expose().as_bytes()), cache) {
            Ok(key) => {
                pass.report(&req, &secret, true);
                return Ok((key, Some(secret)));
            }
            Err(DecodeError::WrongPassphrase) => {
                pass.report(&req, &secret, false);
                match secret.origin() {
                    Origin::Configured => return Err(target.error(DecodeError::WrongPassphrase)),
                    Origin::Cached if cached_failures == 0 => cached_failures += 1,
                    Origin::Cached => return Err(target.error(DecodeError::WrongPassphrase)),
                    Origin::Interactive => {
                        attempt += 1;
                        if attempt >= MAX_ATTEMPTS {
                            return Err(KeystoreError::TooManyAttempts {
                                id: target.id_text(),
                                role: target.role_text(),
                                path: target.path.to_path_buf(),
                            });
                        }
                    }
                }
            }
            Err(e) => return Err(target.error(e)),
        }
    }
}

/// Ask for the passphrase of a new key. An empty passphrase is refused: unencrypted keys
/// are written only when that format is asked for explicitly (and then nothing is asked).
/// Returns the request too, so the caller can report success once the key is stored.
pub(crate) fn new_passphrase(
    pass: &dyn PassphraseSource,
    id: &KeyId,
    role: &str,
) -> Result<(PassphraseRequest, Secret), KeystoreError> {
    let req = PassphraseRequest {
        key_id: Some(id.clone()),
        role: role.to_owned(),
        new_key: true,
        attempt: 0,
    };
    match pass.get(&req)? {
        None => Err(KeystoreError::PassphraseRequired {
            id: id.to_string(),
            role: role.to_owned(),
        }),
        Some(s) if s.is_empty() => Err(KeystoreError::EmptyPassphrase {
            id: id.to_string(),
            role: role.to_owned(),
        }),
        Some(s) => Ok((req, s)),
    }
}
