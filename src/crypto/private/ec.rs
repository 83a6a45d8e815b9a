//! ECDSA P-256 private keys, generated, checked and used by `ring`.
//!
//! A key is its 32-byte scalar and its uncompressed SEC1 public point. `ring` derives the
//! public point from the scalar with a fixed-base multiplication over precomputed tables,
//! which is cheap; the `p256` crate's generic arithmetic is much slower, so it is used
//! only to compute the point of a key file that does not include it.

use std::fmt;

use der::Decode as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use zeroize::Zeroizing;

use crate::crypto::CryptoError;

/// The order n of the P-256 group, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// DER SubjectPublicKeyInfo up to the point: `{ id-ecPublicKey, prime256v1 }` and the
/// BIT STRING header (65 bytes of point, no unused bits), as Go's `MarshalPKIXPublicKey`
/// writes it.
const SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Shortest scalar encoding accepted (old Go versions dropped leading zero bytes).
const MIN_SCALAR_LEN: usize = 24;

/// An ECDSA P-256 private key: the secret scalar (wiped on drop) and its public point.
///
/// `ring`'s key object is built per signature from these and dropped right away; building
/// it checks again that the point belongs to the scalar.
#[derive(Clone)]
pub struct EcdsaSigningKey {
    scalar: Zeroizing<[u8; 32]>,
    /// Uncompressed SEC1: `04 ‖ x ‖ y`.
    point: [u8; 65],
    /// A key on a PKCS#11 token: it signs there, and `scalar` is all zeros (never used).
    token: Option<std::sync::Arc<crate::crypto::pkcs11::TokenKey>>,
}

impl fmt::Debug for EcdsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaSigningKey")
            .field("public", &hex::encode(self.point))
            .finish_non_exhaustive()
    }
}

impl EcdsaSigningKey {
    /// A fresh random key. ring hands it over as a PKCS#8 document, which (like ring's
    /// key objects) is not wiped when dropped.
    pub fn generate() -> Result<EcdsaSigningKey, CryptoError> {
        let failed = || CryptoError::InvalidKey("generating an ECDSA P-256 key failed".into());
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| failed())?;
        // ring's PKCS#8 v1: `{ 0, { id-ecPublicKey, prime256v1 }, ECPrivateKey }`, the
        // ECPrivateKey with the 32-byte scalar and `[1] publicKey`.
        let info = ::pkcs8::PrivateKeyInfo::from_der(doc.as_ref()).map_err(|_| failed())?;
        let ec = sec1::EcPrivateKey::from_der(info.private_key).map_err(|_| failed())?;
        let point = ec.public_key.map(<&[u8; 65]>::try_from);
        match (<&[u8; 32]>::try_from(ec.private_key), point) {
            (Ok(scalar), Some(Ok(point))) => Ok(EcdsaSigningKey {
                scalar: Zeroizing::new(*scalar),
                point: *point,
                token: None,
            }),
            _ => Err(failed()),
        }
    }

    /// A key from its big-endian scalar (24 to 32 bytes, left-padded) and its SEC1 public
    /// point, which must belong to the scalar. An uncompressed point is checked by `ring`;
    /// a compressed one needs the point computed (slow).
    pub fn from_parts(scalar: &[u8], point: &[u8]) -> Result<EcdsaSigningKey, CryptoError> {
        let scalar = parse_scalar(scalar)?;
        let key = match <&[u8; 65]>::try_from(point) {
            Ok(point) => {
                let key = EcdsaSigningKey {
                    scalar,
                    point: *point,
                    token: None,
                };
                key.ring_pair(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| mismatch())?;
                key
            }
            Err(_) => Self::with_computed_point(scalar)?,
        };
        if key.matches_point(point) {
            Ok(key)
        } else {
            Err(mismatch())
        }
    }

    /// A key from its big-endian scalar alone (24 to 32 bytes, left-padded). The public
    /// point is computed with the `p256` crate (slow); prefer [`Self::from_parts`].
    pub fn from_scalar(scalar: &[u8]) -> Result<EcdsaSigningKey, CryptoError> {
        Self::with_computed_point(parse_scalar(scalar)?)
    }

    fn with_computed_point(scalar: Zeroizing<[u8; 32]>) -> Result<EcdsaSigningKey, CryptoError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let secret = p256::SecretKey::from_slice(scalar.as_ref()).map_err(|_| out_of_range())?;
        let encoded = secret.public_key().to_encoded_point(false);
        let mut point = [0u8; 65];
        point.copy_from_slice(encoded.as_bytes());
        Ok(EcdsaSigningKey {
            scalar,
            point,
            token: None,
        })
    }

    /// The key a `p256` signing key holds (its public point is already computed there).
    pub fn from_p256(key: &p256::ecdsa::SigningKey) -> EcdsaSigningKey {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let mut point = [0u8; 65];
        point.copy_from_slice(
            key.verifying_key()
                .as_affine()
                .to_encoded_point(false)
                .as_bytes(),
        );
        let mut scalar = Zeroizing::new([0u8; 32]);
        scalar.copy_from_slice(&Zeroizing::new(key.to_bytes()));
        EcdsaSigningKey {
            scalar,
            point,
            token: None,
        }
    }

    /// A key held on a PKCS#11 token: it signs there and cannot be exported.
    pub fn from_token(key: crate::crypto::pkcs11::TokenKey) -> EcdsaSigningKey {
        EcdsaSigningKey {
            scalar: Zeroizing::new([0u8; 32]),
            point: *key.public_point(),
            token: Some(std::sync::Arc::new(key)),
        }
    }

    /// The token key behind this key, if it is on a token.
    pub fn token(&self) -> Option<&crate::crypto::pkcs11::TokenKey> {
        self.token.as_deref()
    }

    /// The secret scalar, big-endian, 32 bytes. A key on a token has none to give.
    pub fn to_bytes(&self) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        match &self.token {
            Some(t) => Err(CryptoError::Unsupported(format!(
                "the key is on a PKCS#11 token ({}) and cannot be exported",
                t.uri()
            ))),
            None => Ok(self.scalar.clone()),
        }
    }

    /// The public point, uncompressed SEC1 (`04 ‖ x ‖ y`).
    pub fn public_point(&self) -> &[u8; 65] {
        &self.point
    }

    /// The public key as DER SubjectPublicKeyInfo (what notary's `ecdsa` keys hold).
    pub fn public_key_der(&self) -> Vec<u8> {
        [&SPKI_PREFIX[..], &self.point].concat()
    }

    /// Whether `point` (SEC1, uncompressed or compressed) is this key's public point.
    pub fn matches_point(&self, point: &[u8]) -> bool {
        match point.len() {
            65 => point == self.point,
            33 => point[0] == 0x02 | (self.point[64] & 1) && point[1..] == self.point[1..33],
            _ => false,
        }
    }

    /// ECDSA over SHA-256 of `msg`, as raw `r ‖ s` (64 bytes; TUF's `ecdsa` method).
    pub fn sign_fixed(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if let Some(t) = &self.token {
            return Ok(t.sign_digest(&sha256(msg))?.to_vec());
        }
        self.sign_with(&ECDSA_P256_SHA256_FIXED_SIGNING, msg)
    }

    /// ECDSA over SHA-256 of `msg`, as a DER `ECDSA-Sig-Value` (X.509 ecdsa-with-SHA256).
    pub fn sign_asn1(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if let Some(t) = &self.token {
            let fixed = t.sign_digest(&sha256(msg))?;
            let sig = p256::ecdsa::Signature::from_slice(&fixed)
                .map_err(|e| CryptoError::SigningFailed(format!("ecdsa: {e}")))?;
            return Ok(sig.to_der().as_bytes().to_vec());
        }
        self.sign_with(&ECDSA_P256_SHA256_ASN1_SIGNING, msg)
    }

    fn sign_with(
        &self,
        alg: &'static EcdsaSigningAlgorithm,
        msg: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let pair = self
            .ring_pair(alg)
            .map_err(|e| CryptoError::SigningFailed(format!("ecdsa: {e}")))?;
        let sig = pair
            .sign(&SystemRandom::new(), msg)
            .map_err(|_| CryptoError::SigningFailed("ecdsa signing failed".into()))?;
        Ok(sig.as_ref().to_vec())
    }

    fn ring_pair(
        &self,
        alg: &'static EcdsaSigningAlgorithm,
    ) -> Result<EcdsaKeyPair, ring::error::KeyRejected> {
        EcdsaKeyPair::from_private_key_and_public_key(
            alg,
            self.scalar.as_ref(),
            &self.point,
            &SystemRandom::new(),
        )
    }
}

fn sha256(msg: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(msg).into()
}

/// A scalar as `p256`'s `SecretKey::from_slice` takes it: 24 to 32 big-endian bytes,
/// left-padded to 32, in `[1, n-1]`.
fn parse_scalar(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if !(MIN_SCALAR_LEN..=32).contains(&bytes.len()) {
        return Err(out_of_range());
    }
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar[32 - bytes.len()..].copy_from_slice(bytes);
    // Without data-dependent branches: the borrow of `scalar - n` is 1 iff scalar < n.
    let mut borrow = 0u16;
    let mut any = 0u8;
    for (s, n) in scalar.iter().zip(ORDER.iter()).rev() {
        let d = u16::from(*s)
            .wrapping_sub(u16::from(*n))
            .wrapping_sub(borrow);
        borrow = (d >> 8) & 1;
        any |= *s;
    }
    if borrow == 1 && any != 0 {
        Ok(scalar)
    } else {
        Err(out_of_range())
    }
}

fn out_of_range() -> CryptoError {
    CryptoError::InvalidKey("EC private key scalar is out of range".into())
}

fn mismatch() -> CryptoError {
    CryptoError::InvalidKey(
        "EC private key: the embedded public key does not match the private key".into(),
    )
}
