//! Key files: which PEM block types and encryptions vouch reads and writes.
//!
//! Written:
//! - [`KeyFormat::Vouch`]: `ENCRYPTED PRIVATE KEY`, PBES2 scrypt + AES-256-CBC around a
//!   standard `PrivateKeyInfo`, headers `algorithm`, `gun`, `role`.
//! - [`KeyFormat::Notary`]: `ENCRYPTED PRIVATE KEY` exactly as notary 0.7 writes it
//!   (PBKDF2-HMAC-SHA1, 2048 iterations, notary's `PrivateKeyInfo`), headers `gun`, `role`.
//! - [`KeyFormat::Unencrypted`]: `PRIVATE KEY` with notary's `PrivateKeyInfo` (what notary
//!   writes for an empty passphrase).
//!
//! Read: all of the above, any PBES2 PBKDF2/scrypt AES-CBC file (openssl), and the legacy
//! `EC PRIVATE KEY` / `RSA PRIVATE KEY` / `ED25519 PRIVATE KEY` types, plain or RFC 1423
//! encrypted.

use std::fmt;

use zeroize::Zeroizing;

use super::encryption::{self, DecryptError, KdfInfo, KekCache, Pbes2Kind};
use super::pemblock::PemBlock;
use crate::crypto::private::pkcs8::{pkcs8_algorithm, Pkcs8Flavor};
use crate::crypto::private::PrivateKey;
use crate::crypto::CryptoError;

pub const ENCRYPTED_PKCS8: &str = "ENCRYPTED PRIVATE KEY";
pub const PKCS8: &str = "PRIVATE KEY";
pub const LEGACY_EC: &str = "EC PRIVATE KEY";
pub const LEGACY_RSA: &str = "RSA PRIVATE KEY";
pub const LEGACY_ED25519: &str = "ED25519 PRIVATE KEY";

/// The vouch-only header that lets `key list` show the algorithm without a passphrase.
pub const ALGORITHM_HEADER: &str = "algorithm";

/// How vouch writes a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyFormat {
    /// scrypt-encrypted PKCS#8 (the default).
    #[default]
    Vouch,
    /// notary 0.7's PBKDF2-SHA1 encrypted PKCS#8, for keys shared with notary / docker.
    Notary,
    /// Unencrypted PKCS#8 (only on explicit request).
    Unencrypted,
}

/// What a key file on disk is, as far as can be told without the passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFormat {
    /// `ENCRYPTED PRIVATE KEY` with scrypt (vouch's format).
    Scrypt { log_n: u8, r: u16, p: u16 },
    /// `ENCRYPTED PRIVATE KEY` with PBKDF2 (notary / docker's format, or openssl's).
    Pbkdf2 { prf: &'static str, iterations: u32 },
    /// `PRIVATE KEY`.
    Unencrypted,
    /// `EC PRIVATE KEY`, `RSA PRIVATE KEY` or `ED25519 PRIVATE KEY`; `cipher` is the RFC 1423
    /// cipher when encrypted.
    Legacy {
        pem_type: String,
        cipher: Option<&'static str>,
    },
    /// Not a key file: a reference to a key on a PKCS#11 token (`<id>.pkcs11`).
    Token { uri: String },
}

impl FileFormat {
    pub fn is_encrypted(&self) -> bool {
        match self {
            FileFormat::Scrypt { .. } | FileFormat::Pbkdf2 { .. } => true,
            FileFormat::Unencrypted | FileFormat::Token { .. } => false,
            FileFormat::Legacy { cipher, .. } => cipher.is_some(),
        }
    }

    /// Whether notary 0.7 / docker can read this file.
    pub fn notary_readable(&self) -> bool {
        !matches!(self, FileFormat::Scrypt { .. } | FileFormat::Token { .. })
            && !matches!(self, FileFormat::Pbkdf2 { prf, .. } if *prf != "hmac-sha1")
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileFormat::Scrypt { log_n, r, p } => {
                write!(f, "vouch (scrypt N=2^{log_n} r={r} p={p})")
            }
            FileFormat::Pbkdf2 {
                prf: "hmac-sha1",
                iterations: 2048,
            } => f.write_str("notary (pbkdf2-sha1)"),
            FileFormat::Pbkdf2 { prf, iterations } => {
                write!(f, "pkcs8 (pbkdf2 {prf}, {iterations} iterations)")
            }
            FileFormat::Unencrypted => f.write_str("unencrypted"),
            FileFormat::Legacy {
                pem_type,
                cipher: Some(c),
            } => write!(f, "legacy {pem_type} ({c})"),
            FileFormat::Legacy {
                pem_type,
                cipher: None,
            } => write!(f, "legacy {pem_type} (unencrypted)"),
            FileFormat::Token { uri } => write!(f, "on a PKCS#11 token ({uri})"),
        }
    }
}

/// Why a key block could not be decoded.
#[derive(Debug)]
pub(crate) enum DecodeError {
    NeedPassphrase,
    WrongPassphrase,
    Corrupt(String),
    Unsupported(String),
    /// A key derivation costlier than vouch allows (refused before deriving).
    TooCostly(String),
}

impl From<DecryptError> for DecodeError {
    fn from(e: DecryptError) -> Self {
        match e {
            DecryptError::WrongPassphrase => DecodeError::WrongPassphrase,
            DecryptError::Corrupt(s) => DecodeError::Corrupt(s),
            DecryptError::Unsupported(s) => DecodeError::Unsupported(s),
            DecryptError::TooCostly(s) => DecodeError::TooCostly(s),
        }
    }
}

/// Whether `kind` is a PEM type that holds a private key.
pub(crate) fn is_key_block(kind: &str) -> bool {
    matches!(
        kind,
        ENCRYPTED_PKCS8 | PKCS8 | LEGACY_EC | LEGACY_RSA | LEGACY_ED25519
    )
}

/// Tell the file format of a block without decrypting it.
pub(crate) fn classify(block: &PemBlock) -> Result<FileFormat, DecodeError> {
    match block.kind.as_str() {
        ENCRYPTED_PKCS8 => Ok(match encryption::describe_pkcs8(&block.bytes)? {
            KdfInfo::Scrypt { log_n, r, p } => FileFormat::Scrypt { log_n, r, p },
            KdfInfo::Pbkdf2 { prf, iterations } => FileFormat::Pbkdf2 { prf, iterations },
        }),
        PKCS8 => Ok(FileFormat::Unencrypted),
        LEGACY_EC | LEGACY_RSA | LEGACY_ED25519 => {
            let cipher = match block.header("DEK-Info") {
                Some(dek) => Some(encryption::legacy_cipher(dek)?),
                None => None,
            };
            Ok(FileFormat::Legacy {
                pem_type: block.kind.clone(),
                cipher,
            })
        }
        other => Err(DecodeError::Unsupported(format!(
            "PEM type {other:?} is not a private key"
        ))),
    }
}

/// The key algorithm, when it can be told without the passphrase.
pub(crate) fn algorithm_hint(block: &PemBlock) -> Option<String> {
    if let Some(a) = block.header(ALGORITHM_HEADER) {
        return Some(a.to_owned());
    }
    match block.kind.as_str() {
        LEGACY_EC => Some("ecdsa".into()),
        LEGACY_RSA => Some("rsa".into()),
        LEGACY_ED25519 => Some("ed25519".into()),
        PKCS8 => pkcs8_algorithm(&block.bytes)
            .ok()
            .map(|a| a.as_str().to_owned()),
        _ => None,
    }
}

/// Decode an encrypted PKCS#8 `block` with a KEK recorded in `cache` (an unlock
/// session), without a passphrase. `None` if the session cannot open it.
pub(crate) fn decode_cached(block: &PemBlock, cache: &dyn KekCache) -> Option<PrivateKey> {
    if block.kind != ENCRYPTED_PKCS8 {
        return None;
    }
    let der = encryption::decrypt_pkcs8_cached(&block.bytes, cache)?;
    PrivateKey::from_pkcs8_der(&der).ok()
}

/// Decode the key in `block`, decrypting with `pass` if it is encrypted (a scrypt KEK
/// derived on the way is recorded in `cache`).
pub(crate) fn decode(
    block: &PemBlock,
    pass: Option<&[u8]>,
    cache: Option<&dyn KekCache>,
) -> Result<PrivateKey, DecodeError> {
    let format = classify(block)?;
    if block.kind == ENCRYPTED_PKCS8 {
        // Before a passphrase is asked for: a hostile file fails at once.
        encryption::check_pkcs8_cost(&block.bytes)?;
    }
    let (der, decrypted) = if format.is_encrypted() {
        let pass = pass.ok_or(DecodeError::NeedPassphrase)?;
        let der = match block.kind.as_str() {
            ENCRYPTED_PKCS8 => encryption::decrypt_pkcs8(&block.bytes, pass, cache)?,
            _ => encryption::decrypt_legacy(
                block.header("DEK-Info").unwrap_or_default(),
                &block.bytes,
                pass,
            )?,
        };
        (der, true)
    } else {
        (Zeroizing::new(block.bytes.to_vec()), false)
    };
    let parsed = match block.kind.as_str() {
        ENCRYPTED_PKCS8 | PKCS8 => PrivateKey::from_pkcs8_der(&der),
        LEGACY_EC => PrivateKey::from_sec1_der(&der),
        LEGACY_RSA => PrivateKey::from_pkcs1_der(&der),
        _ => PrivateKey::from_ed25519_raw(&der),
    };
    parsed.map_err(|e| match e {
        // Decrypted bytes that are not the expected structure: the passphrase was wrong.
        CryptoError::Malformed(_) if decrypted => DecodeError::WrongPassphrase,
        // The raw Ed25519 form has no structure; a mismatch after decryption is the same.
        CryptoError::InvalidKey(_) if decrypted && block.kind == LEGACY_ED25519 => {
            DecodeError::WrongPassphrase
        }
        // ring rejects a garbled PKCS#1 body as an invalid key rather than bad DER.
        CryptoError::InvalidKey(_) if decrypted && block.kind == LEGACY_RSA => {
            DecodeError::WrongPassphrase
        }
        CryptoError::Unsupported(s) => DecodeError::Unsupported(s),
        other => DecodeError::Corrupt(other.to_string()),
    })
}

/// Encode `key` as a key file block in `format`. `role` is always written; `gun` only
/// when given (the caller validated that the role takes one).
pub(crate) fn encode(
    key: &PrivateKey,
    role: &str,
    gun: Option<&str>,
    format: KeyFormat,
    pass: Option<&[u8]>,
    cache: Option<&dyn KekCache>,
) -> Result<PemBlock, String> {
    let (kind, flavor) = match format {
        KeyFormat::Vouch => (ENCRYPTED_PKCS8, Pkcs8Flavor::Standard),
        KeyFormat::Notary => (ENCRYPTED_PKCS8, Pkcs8Flavor::Notary),
        KeyFormat::Unencrypted => (PKCS8, Pkcs8Flavor::Notary),
    };
    let der = key.to_pkcs8_der(flavor).map_err(|e| e.to_string())?;
    let bytes = match format {
        KeyFormat::Unencrypted => der,
        KeyFormat::Vouch | KeyFormat::Notary => {
            let pass = pass.ok_or("a passphrase is required to encrypt the key")?;
            let kdf = if format == KeyFormat::Vouch {
                Pbes2Kind::Scrypt
            } else {
                Pbes2Kind::Notary
            };
            Zeroizing::new(encryption::encrypt_pkcs8(&der, pass, kdf, cache)?)
        }
    };
    let mut block = PemBlock::new(kind, bytes);
    if !role.is_empty() {
        block.headers.insert("role".into(), role.to_owned());
    }
    if let Some(g) = gun {
        block.headers.insert("gun".into(), g.to_owned());
    }
    if format == KeyFormat::Vouch {
        block
            .headers
            .insert(ALGORITHM_HEADER.into(), key.algorithm().as_str().to_owned());
    }
    Ok(block)
}
