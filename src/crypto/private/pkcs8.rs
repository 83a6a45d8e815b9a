//! DER encodings of private keys (protocol §6.3, §6.4).
//!
//! Written (`PrivateKeyInfo`), notary flavour, byte for byte as `tuf/utils/pkcs8.go`:
//!
//! | key | version | algorithm | privateKey |
//! |---|---|---|---|
//! | ECDSA | 1 | `{ id-ecPublicKey, prime256v1 }` | SEC1 with curve and public key |
//! | RSA | 0 | `{ rsaEncryption }`, no NULL | PKCS#1 |
//! | Ed25519 | 0 | `{ 1.3.6.1.4.1.11591.15.1 }` | raw 96 bytes `pub ‖ seed ‖ pub` |
//!
//! The standard flavour (what openssl reads) differs in three places: ECDSA version 0,
//! RSA with the NULL parameter, Ed25519 as RFC 8410 (`1.3.101.112`, seed in an inner
//! OCTET STRING).
//!
//! Read: both flavours, RFC 5958 v2 (`[1] publicKey`, checked against the private key),
//! SEC1 `ECPrivateKey`, PKCS#1 `RSAPrivateKey`, and notary's raw 96-byte Ed25519 form.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Class, Decode as _, Reader as _, SliceReader, Tagged as _};
use zeroize::Zeroizing;

use super::{Algorithm, EcdsaSigningKey, PrivateKey, Secret};
use crate::crypto::CryptoError;

/// id-ecPublicKey.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / secp256r1.
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// rsaEncryption.
pub const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// The Ed25519 OID notary writes (non-standard).
pub const OID_ED25519_NOTARY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11591.15.1");
/// id-Ed25519 (RFC 8410).
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Which `PrivateKeyInfo` layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkcs8Flavor {
    /// Exactly what notary writes (readable by notary and docker).
    Notary,
    /// Standard PKCS#8 / RFC 8410 (readable by openssl).
    Standard,
}

impl PrivateKey {
    /// Encode as an unencrypted PKCS#8 `PrivateKeyInfo`.
    pub fn to_pkcs8_der(&self, flavor: Pkcs8Flavor) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let notary = flavor == Pkcs8Flavor::Notary;
        let (version, alg, key): (u8, Vec<u8>, Zeroizing<Vec<u8>>) = match &self.secret {
            Secret::Ecdsa(k) => (
                if notary { 1 } else { 0 },
                seq(&[&oid(OID_EC_PUBLIC_KEY), &oid(OID_P256)]),
                PrivateKey::ecdsa_sec1_der(k)?,
            ),
            Secret::Rsa { pkcs1 } => (
                0,
                if notary {
                    seq(&[&oid(OID_RSA)])
                } else {
                    seq(&[&oid(OID_RSA), &[0x05, 0x00]])
                },
                Zeroizing::new(pkcs1.to_vec()),
            ),
            Secret::Ed25519 { seed, public } if notary => {
                let mut raw = Zeroizing::new(Vec::with_capacity(96));
                raw.extend_from_slice(public);
                raw.extend_from_slice(seed.as_ref());
                raw.extend_from_slice(public);
                (0, seq(&[&oid(OID_ED25519_NOTARY)]), raw)
            }
            Secret::Ed25519 { seed, .. } => (
                0,
                seq(&[&oid(OID_ED25519)]),
                Zeroizing::new(tlv(0x04, seed.as_ref())),
            ),
        };
        let octets = Zeroizing::new(tlv(0x04, &key));
        let body = Zeroizing::new([&[0x02, 0x01, version][..], &alg, &octets].concat());
        Ok(Zeroizing::new(tlv(0x30, &body)))
    }

    /// Decode a PKCS#8 `PrivateKeyInfo` (notary's or the standard layout).
    ///
    /// Errors: [`CryptoError::Malformed`] if `der` is not a `PrivateKeyInfo` at all (after a
    /// decryption this means the passphrase was wrong), [`CryptoError::Unsupported`] for an
    /// unknown algorithm or curve, [`CryptoError::InvalidKey`] for a broken key inside.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        let info = parse_private_key_info(der)?;
        match algorithm_of(&info)? {
            Algorithm::Ecdsa => {
                let key = ecdsa_from_sec1(info.private_key, info.curve, info.public_key)?;
                if let Some(public) = info.public_key {
                    check_ec_public(&key, public)?;
                }
                Ok(PrivateKey::from_ecdsa_key(key))
            }
            Algorithm::Rsa => PrivateKey::from_pkcs1_der(info.private_key),
            Algorithm::Ed25519 if info.oid == OID_ED25519_NOTARY => {
                PrivateKey::from_ed25519_raw(info.private_key)
            }
            Algorithm::Ed25519 => {
                let seed = OctetStringRef::from_der(info.private_key)
                    .map_err(|e| CryptoError::InvalidKey(format!("ed25519 private key: {e}")))?;
                match info.public_key {
                    Some(public) => PrivateKey::from_ed25519(seed.as_bytes(), public),
                    None => PrivateKey::from_ed25519_seed(seed.as_bytes()),
                }
            }
        }
    }

    /// Decode a SEC1 `ECPrivateKey` (PEM type `EC PRIVATE KEY`). Only P-256 is supported.
    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        ecdsa_from_sec1(der, None, None).map(PrivateKey::from_ecdsa_key)
    }

    /// Decode notary's raw Ed25519 form: 96 bytes `public ‖ seed ‖ public`
    /// (PEM type `ED25519 PRIVATE KEY`, and inside notary's PKCS#8).
    pub fn from_ed25519_raw(raw: &[u8]) -> Result<PrivateKey, CryptoError> {
        if raw.len() != 96 {
            return Err(CryptoError::InvalidKey(format!(
                "ed25519 private key has {} bytes, expected 96",
                raw.len()
            )));
        }
        if raw[..32] != raw[64..] {
            return Err(CryptoError::InvalidKey(
                "ed25519 private key: the two copies of the public key differ".into(),
            ));
        }
        PrivateKey::from_ed25519(&raw[32..64], &raw[..32])
    }
}

/// The algorithm of an unencrypted PKCS#8 key, without building the key.
pub fn pkcs8_algorithm(der: &[u8]) -> Result<Algorithm, CryptoError> {
    algorithm_of(&parse_private_key_info(der)?)
}

/// DER SubjectPublicKeyInfo for an RSA public key (PKCS#1 `RSAPublicKey` DER), with the
/// NULL parameter as Go's `MarshalPKIXPublicKey` writes it.
pub fn rsa_spki(pkcs1_public: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let alg = seq(&[&oid(OID_RSA), &[0x05, 0x00]]);
    let bits = tlv(0x03, &[&[0u8][..], pkcs1_public].concat());
    Ok(seq(&[&alg, &bits]))
}

/// The fields of a `PrivateKeyInfo` / `OneAsymmetricKey`.
struct KeyInfoRef<'a> {
    oid: ObjectIdentifier,
    /// The namedCurve parameter, when the parameter is an OID.
    curve: Option<ObjectIdentifier>,
    private_key: &'a [u8],
    public_key: Option<&'a [u8]>,
}

fn parse_private_key_info(der: &[u8]) -> Result<KeyInfoRef<'_>, CryptoError> {
    let malformed =
        |e: der::Error| CryptoError::Malformed(format!("not a PKCS#8 private key: {e}"));
    let mut reader = SliceReader::new(der).map_err(malformed)?;
    let info = reader
        .sequence(|r| {
            let version: u8 = r.decode()?;
            if version > 1 {
                return Err(der::Tag::Integer.value_error());
            }
            let alg: spki::AlgorithmIdentifierRef<'_> = r.decode()?;
            let private_key = OctetStringRef::decode(r)?.as_bytes();
            let mut public_key = None;
            // Optional `[0] attributes` and `[1] publicKey` (RFC 5958).
            while !r.is_finished() {
                let any = AnyRef::decode(r)?;
                let tag = any.tag();
                if tag.class() == Class::ContextSpecific && tag.number().value() == 1 {
                    match any.value().split_first() {
                        Some((0, bits)) => public_key = Some(bits),
                        _ => return Err(tag.value_error()),
                    }
                } else if !(tag.class() == Class::ContextSpecific && tag.number().value() == 0) {
                    return Err(tag.value_error());
                }
            }
            let curve = alg
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            Ok(KeyInfoRef {
                oid: alg.oid,
                curve,
                private_key,
                public_key,
            })
        })
        .map_err(malformed)?;
    reader.finish(info).map_err(malformed)
}

fn algorithm_of(info: &KeyInfoRef<'_>) -> Result<Algorithm, CryptoError> {
    match info.oid {
        o if o == OID_EC_PUBLIC_KEY => match info.curve {
            Some(c) if c == OID_P256 => Ok(Algorithm::Ecdsa),
            // Curve given only inside the SEC1 structure: checked there.
            None => Ok(Algorithm::Ecdsa),
            Some(c) => Err(CryptoError::Unsupported(format!(
                "elliptic curve {c} (only P-256 / 1.2.840.10045.3.1.7 is supported)"
            ))),
        },
        o if o == OID_RSA => Ok(Algorithm::Rsa),
        o if o == OID_ED25519 || o == OID_ED25519_NOTARY => Ok(Algorithm::Ed25519),
        o => Err(CryptoError::Unsupported(format!(
            "private key algorithm OID {o} (supported: ecdsa P-256, ed25519, rsa)"
        ))),
    }
}

/// The key of a SEC1 `ECPrivateKey`. Its public point, else `outer_public` (PKCS#8 v2's
/// `[1] publicKey`), must belong to the scalar; only without either is the point computed.
fn ecdsa_from_sec1(
    der: &[u8],
    outer_curve: Option<ObjectIdentifier>,
    outer_public: Option<&[u8]>,
) -> Result<EcdsaSigningKey, CryptoError> {
    let ec = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| CryptoError::Malformed(format!("not a SEC1 EC private key: {e}")))?;
    let curve = ec.parameters.and_then(|p| p.named_curve()).or(outer_curve);
    match curve {
        Some(c) if c == OID_P256 => {}
        None => {
            return Err(CryptoError::InvalidKey(
                "EC private key does not name its curve".into(),
            ))
        }
        Some(c) => {
            return Err(CryptoError::Unsupported(format!(
                "elliptic curve {c} (only P-256 / 1.2.840.10045.3.1.7 is supported)"
            )))
        }
    }
    // Old Go versions wrote the scalar without leading zeros; both constructors left-pad.
    match ec.public_key.or(outer_public) {
        Some(public) => EcdsaSigningKey::from_parts(ec.private_key, public),
        None => EcdsaSigningKey::from_scalar(ec.private_key),
    }
}

/// `[1] publicKey` of a PKCS#8 v2 EC key must be this key's point.
fn check_ec_public(key: &EcdsaSigningKey, public: &[u8]) -> Result<(), CryptoError> {
    if key.matches_point(public) {
        Ok(())
    } else {
        Err(CryptoError::InvalidKey(
            "EC private key: the embedded public key does not match the private key".into(),
        ))
    }
}

fn oid(o: ObjectIdentifier) -> Vec<u8> {
    tlv(0x06, o.as_bytes())
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// One DER TLV with a definite length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}
