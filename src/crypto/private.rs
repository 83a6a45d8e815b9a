//! Private keys: ECDSA P-256, Ed25519 and (import-only) RSA, and how they sign.
//!
//! A [`PrivateKey`] knows its public half ([`PublicKey`], in notary's encoding) and signs
//! the way notary names it (`ecdsa`: raw `r ‖ s` over SHA-256; `eddsa`: pure Ed25519;
//! `rsapss`: RSASSA-PSS SHA-256, salt 32). The DER encodings live in [`pkcs8`]:
//! notary's `PrivateKeyInfo` quirks on write, and the standard forms on read.
//!
//! Secret material is held in zeroizing buffers and wiped on drop. `ring`'s own key
//! objects are built per signature from those buffers and dropped right away (ring does
//! not wipe its internal copies, so they are kept as short-lived as possible).

mod ec;
pub mod pkcs8;

use std::fmt;

use der::Encode as _;
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

use super::{CryptoError, SignatureProvider};
use crate::tuf::keys::{self as tufkeys, KeyId, PublicKey};

pub use ec::EcdsaSigningKey;

/// The key algorithms vouch holds private keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on P-256 (notary's default for every client-side key).
    Ecdsa,
    /// Ed25519.
    Ed25519,
    /// RSA (import only; signs RSASSA-PSS).
    Rsa,
}

impl Algorithm {
    /// The notary `keytype` of the public key: `ecdsa`, `ed25519` or `rsa`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ecdsa => tufkeys::ECDSA,
            Algorithm::Ed25519 => tufkeys::ED25519,
            Algorithm::Rsa => tufkeys::RSA,
        }
    }

    /// Parse `ecdsa`, `ed25519` or `rsa` (case-insensitive).
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s.to_ascii_lowercase().as_str() {
            "ecdsa" => Some(Algorithm::Ecdsa),
            "ed25519" => Some(Algorithm::Ed25519),
            "rsa" => Some(Algorithm::Rsa),
            _ => None,
        }
    }

    /// The signature `method` notary writes for this key type.
    pub fn method(self) -> &'static str {
        match self {
            Algorithm::Ecdsa => "ecdsa",
            Algorithm::Ed25519 => "eddsa",
            Algorithm::Rsa => "rsapss",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The secret half, one variant per algorithm. Clones wipe themselves on drop too.
#[derive(Clone)]
enum Secret {
    /// The scalar wipes itself on drop.
    Ecdsa(EcdsaSigningKey),
    Ed25519 {
        seed: Zeroizing<[u8; 32]>,
        public: [u8; 32],
    },
    /// PKCS#1 `RSAPrivateKey` DER, validated by ring when the key was built.
    Rsa { pkcs1: Zeroizing<Vec<u8>> },
}

/// A private signing key with its public key.
#[derive(Clone)]
pub struct PrivateKey {
    secret: Secret,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A fresh random key. RSA keys cannot be generated (notary imports them only).
    pub fn generate(algorithm: Algorithm) -> Result<PrivateKey, CryptoError> {
        match algorithm {
            Algorithm::Ecdsa => Ok(Self::from_ecdsa_key(EcdsaSigningKey::generate()?)),
            Algorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(seed.as_mut());
                let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
                    .map_err(|e| CryptoError::InvalidKey(format!("ed25519 seed: {e}")))?;
                let public = public_of(&pair);
                Ok(Self::ed25519_parts(seed, public))
            }
            Algorithm::Rsa => Err(CryptoError::Unsupported(
                "RSA keys can only be imported, not generated; use ecdsa or ed25519".into(),
            )),
        }
    }

    /// Wrap a `p256` signing key.
    pub fn from_ecdsa(key: p256::ecdsa::SigningKey) -> Result<PrivateKey, CryptoError> {
        Ok(Self::from_ecdsa_key(EcdsaSigningKey::from_p256(&key)))
    }

    /// A key on a PKCS#11 token (ECDSA P-256): it signs on the token, everywhere a key
    /// file's key signs; exporting it fails.
    pub fn from_token(key: super::pkcs11::TokenKey) -> PrivateKey {
        Self::from_ecdsa_key(EcdsaSigningKey::from_token(key))
    }

    /// The token key behind this key, if it is on a PKCS#11 token.
    pub fn token(&self) -> Option<&super::pkcs11::TokenKey> {
        self.ecdsa_signing_key().and_then(EcdsaSigningKey::token)
    }

    /// Wrap an ECDSA P-256 key.
    pub fn from_ecdsa_key(key: EcdsaSigningKey) -> PrivateKey {
        PrivateKey {
            public: PublicKey::new(tufkeys::ECDSA, key.public_key_der()),
            secret: Secret::Ecdsa(key),
        }
    }

    /// An Ed25519 key from its 32-byte seed and 32-byte public key; the two must match.
    pub fn from_ed25519(seed: &[u8], public: &[u8]) -> Result<PrivateKey, CryptoError> {
        let pair = ring::signature::Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map_err(|e| CryptoError::InvalidKey(format!("ed25519 seed and public key: {e}")))?;
        let mut s = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(seed);
        Ok(Self::ed25519_parts(s, public_of(&pair)))
    }

    /// An Ed25519 key from its 32-byte seed alone.
    pub fn from_ed25519_seed(seed: &[u8]) -> Result<PrivateKey, CryptoError> {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| CryptoError::InvalidKey(format!("ed25519 seed: {e}")))?;
        let mut s = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(seed);
        Ok(Self::ed25519_parts(s, public_of(&pair)))
    }

    fn ed25519_parts(seed: Zeroizing<[u8; 32]>, public: [u8; 32]) -> PrivateKey {
        PrivateKey {
            public: PublicKey::new(tufkeys::ED25519, public.to_vec()),
            secret: Secret::Ed25519 { seed, public },
        }
    }

    /// An RSA key from PKCS#1 `RSAPrivateKey` DER. ring checks the key (≥ 2048 bits).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        let pair = ring::signature::RsaKeyPair::from_der(der)
            .map_err(|e| CryptoError::InvalidKey(format!("RSA private key: {e}")))?;
        let spki = pkcs8::rsa_spki(ring::signature::KeyPair::public_key(&pair).as_ref())?;
        Ok(PrivateKey {
            public: PublicKey::new(tufkeys::RSA, spki),
            secret: Secret::Rsa {
                pkcs1: Zeroizing::new(der.to_vec()),
            },
        })
    }

    /// Which algorithm this key is.
    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            Secret::Ecdsa(_) => Algorithm::Ecdsa,
            Secret::Ed25519 { .. } => Algorithm::Ed25519,
            Secret::Rsa { .. } => Algorithm::Rsa,
        }
    }

    /// The public key as notary writes it: `ecdsa`/`rsa` with DER SubjectPublicKeyInfo,
    /// `ed25519` with the raw 32 bytes.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// The key ID of [`Self::public_key`]. For these (non-certificate) keys this is also
    /// the canonical key ID: the key's file name in the key store.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    /// The P-256 key, for building certificates (ECDSA keys only).
    pub fn ecdsa_signing_key(&self) -> Option<&EcdsaSigningKey> {
        match &self.secret {
            Secret::Ecdsa(k) => Some(k),
            _ => None,
        }
    }

    /// SEC1 `ECPrivateKey` DER as Go's `MarshalECPrivateKey` writes it: version 1, the
    /// 32-byte scalar, the namedCurve parameter and the uncompressed public key.
    pub(crate) fn ecdsa_sec1_der(key: &EcdsaSigningKey) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let scalar = key.to_bytes()?;
        let sec1 = sec1::EcPrivateKey {
            private_key: scalar.as_slice(),
            parameters: Some(sec1::EcParameters::NamedCurve(pkcs8::OID_P256)),
            public_key: Some(key.public_point()),
        };
        sec1.to_der()
            .map(Zeroizing::new)
            .map_err(|e| CryptoError::InvalidKey(format!("encoding SEC1 key: {e}")))
    }
}

fn public_of(pair: &ring::signature::Ed25519KeyPair) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::signature::KeyPair::public_key(pair).as_ref());
    out
}

impl SignatureProvider for PrivateKey {
    fn method(&self) -> &'static str {
        self.algorithm().method()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.secret {
            Secret::Ecdsa(key) => key.sign_fixed(msg),
            Secret::Ed25519 { seed, public } => {
                let pair = ring::signature::Ed25519KeyPair::from_seed_and_public_key(
                    seed.as_ref(),
                    public,
                )
                .map_err(|e| CryptoError::SigningFailed(format!("ed25519: {e}")))?;
                Ok(pair.sign(msg).as_ref().to_vec())
            }
            Secret::Rsa { pkcs1 } => {
                let pair = ring::signature::RsaKeyPair::from_der(pkcs1)
                    .map_err(|e| CryptoError::SigningFailed(format!("rsa: {e}")))?;
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(
                    &ring::signature::RSA_PSS_SHA256,
                    &ring::rand::SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|_| CryptoError::SigningFailed("rsa-pss signing failed".into()))?;
                Ok(sig)
            }
        }
    }
}

#[cfg(test)]
#[path = "private_tests.rs"]
mod tests;
