//! Signature verification (protocol §5.3, notary's `tuf/signed/verifiers.go`).
//!
//! The verifier is chosen from the **trusted key's type**; the signature's `method`
//! only selects a variant valid for that type (RSA-PSS or PKCS#1 v1.5), so a signature
//! can never make us read a key as another type (NCC CS-DRNT15-1).
//!
//! | key type | methods | key bytes |
//! |---|---|---|
//! | `ecdsa`, `ecdsa-x509` | `ecdsa`: P-256, SHA-256, raw `r‖s` (64 bytes) | SPKI / first certificate |
//! | `ed25519` | `eddsa` | raw 32 bytes |
//! | `rsa`, `rsa-x509` | `rsapss` (SHA-256, salt 32), `rsapkcs1v15` (SHA-256) | SPKI / first certificate |
//! | `rsa` (PEM public key) | `pycrypto-pkcs#1 pss` | PEM SPKI |

use der::Decode as _;
use ring::signature as rs;
use spki::SubjectPublicKeyInfoRef;

use super::x509::{self, OID_EC_PUBLIC_KEY, OID_RSA_ENCRYPTION};
use super::CryptoError;
use crate::tuf::keys::{self, PublicKey};

/// Signature method names as they appear in metadata.
pub const METHOD_ECDSA: &str = "ecdsa";
pub const METHOD_EDDSA: &str = "eddsa";
pub const METHOD_RSAPSS: &str = "rsapss";
pub const METHOD_RSAPKCS1V15: &str = "rsapkcs1v15";
pub const METHOD_PYCRYPTO_PSS: &str = "pycrypto-pkcs#1 pss";

const OID_P256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A public key read for verification.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    keytype: String,
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519([u8; 32]),
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        pem: bool,
    },
}

impl VerifyingKey {
    /// Read `key` according to its type. Unknown types cannot verify anything.
    pub fn from_public_key(key: &PublicKey) -> Result<Self, CryptoError> {
        let inner = match key.keytype.as_str() {
            keys::ECDSA => ecdsa_from_spki(&key.public)?,
            keys::ECDSA_X509 => ecdsa_from_spki(&x509::key_certificate(&key.public)?.spki_der)?,
            keys::RSA => match rsa_from_spki(&key.public, false) {
                Ok(inner) => inner,
                // Legacy PyCrypto-era keys hold a PEM public key instead of DER.
                Err(der_err) => match pem::parse(&key.public) {
                    Ok(block) => rsa_from_spki(block.contents(), true)?,
                    Err(_) => return Err(der_err),
                },
            },
            keys::RSA_X509 => rsa_from_spki(&x509::key_certificate(&key.public)?.spki_der, false)?,
            keys::ED25519 => {
                let raw: [u8; 32] = key.public.as_slice().try_into().map_err(|_| {
                    CryptoError::InvalidKey(format!(
                        "ed25519 public key is {} bytes, expected 32",
                        key.public.len()
                    ))
                })?;
                Inner::Ed25519(raw)
            }
            other => {
                return Err(CryptoError::Unsupported(format!(
                    "key type {other:?} cannot verify signatures"
                )))
            }
        };
        Ok(VerifyingKey {
            keytype: key.keytype.clone(),
            inner,
        })
    }

    /// An identity of the public key itself, independent of how it is wrapped: an
    /// `ecdsa-x509` certificate key and the `ecdsa` key of the same public key have
    /// the same fingerprint. Thresholds count distinct fingerprints.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.inner {
            Inner::P256(k) => {
                out.extend_from_slice(b"p256:");
                out.extend_from_slice(k.to_encoded_point(false).as_bytes());
            }
            Inner::Ed25519(k) => {
                out.extend_from_slice(b"ed25519:");
                out.extend_from_slice(k);
            }
            Inner::Rsa { n, e, .. } => {
                out.extend_from_slice(b"rsa:");
                out.extend_from_slice(&(n.len() as u32).to_be_bytes());
                out.extend_from_slice(n);
                out.extend_from_slice(e);
            }
        }
        out
    }

    /// Check `sig` over `msg` with `method`, which must suit this key's type.
    pub fn verify(&self, method: &str, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let mismatch = || CryptoError::MethodMismatch {
            method: method.to_owned(),
            keytype: self.keytype.clone(),
        };
        let bad = |what: &str| CryptoError::BadSignature(format!("{method} signature {what}"));
        match (&self.inner, method) {
            (Inner::P256(key), METHOD_ECDSA) => {
                if sig.len() != 64 {
                    return Err(bad(&format!("is {} bytes, expected 64 (r‖s)", sig.len())));
                }
                // ring's P-256 verification (the key was parsed and checked by p256).
                let point = key.to_encoded_point(false);
                rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, point.as_bytes())
                    .verify(msg, sig)
                    .map_err(|_| bad("does not match the message and key (or r, s out of range)"))
            }
            (Inner::Ed25519(key), METHOD_EDDSA) => {
                if sig.len() != 64 {
                    return Err(bad(&format!("is {} bytes, expected 64", sig.len())));
                }
                rs::UnparsedPublicKey::new(&rs::ED25519, key)
                    .verify(msg, sig)
                    .map_err(|_| bad("does not match the message and key"))
            }
            (Inner::Rsa { n, e, pem }, _) => {
                let params: &rs::RsaParameters = match (method, pem) {
                    (METHOD_RSAPSS, false) | (METHOD_PYCRYPTO_PSS, true) => {
                        &rs::RSA_PSS_2048_8192_SHA256
                    }
                    (METHOD_RSAPKCS1V15, false) => &rs::RSA_PKCS1_2048_8192_SHA256,
                    _ => return Err(mismatch()),
                };
                if sig.len() < 256 {
                    return Err(bad(&format!(
                        "is {} bytes, at least 256 expected",
                        sig.len()
                    )));
                }
                rs::RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(params, msg, sig)
                .map_err(|_| {
                    bad("does not match the message and key (or the key is not 2048–8192 bits)")
                })
            }
            _ => Err(mismatch()),
        }
    }
}

/// Verify one signature by `key` (notary's `VerifySignature`).
pub fn verify_signature(
    key: &PublicKey,
    method: &str,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    VerifyingKey::from_public_key(key)?.verify(method, msg, sig)
}

fn parse_spki(der: &[u8]) -> Result<SubjectPublicKeyInfoRef<'_>, CryptoError> {
    SubjectPublicKeyInfoRef::from_der(der).map_err(|e| {
        CryptoError::InvalidKey(format!("public key is not a DER SubjectPublicKeyInfo: {e}"))
    })
}

fn ecdsa_from_spki(der: &[u8]) -> Result<Inner, CryptoError> {
    let spki = parse_spki(der)?;
    if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
        return Err(CryptoError::InvalidKey(format!(
            "expected an EC public key, found algorithm {}",
            spki.algorithm.oid
        )));
    }
    let curve = spki
        .algorithm
        .parameters_oid()
        .map_err(|_| CryptoError::InvalidKey("EC public key without a named curve".into()))?;
    if curve != OID_P256 {
        return Err(CryptoError::Unsupported(format!(
            "EC curve {curve} (only P-256 is supported)"
        )));
    }
    let point = spki.subject_public_key.as_bytes().ok_or_else(|| {
        CryptoError::InvalidKey("EC public key bit string is not octet-aligned".into())
    })?;
    // Go accepts only uncompressed points here; so do we.
    if point.len() != 65 || point[0] != 0x04 {
        return Err(CryptoError::InvalidKey(
            "EC public key is not an uncompressed P-256 point".into(),
        ));
    }
    p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .map(Inner::P256)
        .map_err(|_| CryptoError::InvalidKey("EC public key is not a point on P-256".into()))
}

fn rsa_from_spki(der: &[u8], pem: bool) -> Result<Inner, CryptoError> {
    let spki = parse_spki(der)?;
    if spki.algorithm.oid != OID_RSA_ENCRYPTION {
        return Err(CryptoError::InvalidKey(format!(
            "expected an RSA public key, found algorithm {}",
            spki.algorithm.oid
        )));
    }
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        CryptoError::InvalidKey("RSA public key bit string is not octet-aligned".into())
    })?;
    let (n, e) = x509::parse_pkcs1_public_key(bits)
        .map_err(|err| CryptoError::InvalidKey(format!("invalid PKCS#1 RSA public key: {err}")))?;
    Ok(Inner::Rsa {
        n: n.as_bytes().to_vec(),
        e: e.as_bytes().to_vec(),
        pem,
    })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
