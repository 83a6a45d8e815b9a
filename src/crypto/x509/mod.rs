//! X.509 certificates as notary uses them (protocol §5.4): the self-signed root
//! certificate bound to a GUN, and the acceptance checks for certificate keys.

use std::time::Duration as StdDuration;

use der::asn1::{Any, BitString, GeneralizedTime, OctetString, UintRef, UtcTime};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, SliceReader, Tag, Tagged as _};
use rand_core::RngCore as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use time::{Duration, OffsetDateTime};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use super::private::EcdsaSigningKey;
use super::CryptoError;
use crate::tuf::keys::{self, PublicKey};

mod build;
mod chain;

pub use build::*;
pub use chain::*;

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// sha1WithRSAEncryption, dsaWithSHA1, ecdsa-with-SHA1: refused by notary.
const SHA1_SIGNATURES: [ObjectIdentifier; 3] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
];

/// Extension values exactly as Go's `x509.CreateCertificate` writes them for notary's
/// template (`tuf/utils/x509.go` `NewCertificate`), checked against a Go-made cert:
/// KeyUsage BIT STRING {digitalSignature, keyEncipherment}.
const KEY_USAGE_DER: [u8; 4] = [0x03, 0x02, 0x05, 0xa0];
/// ExtKeyUsage SEQUENCE { id-kp-codeSigning }.
const EXT_KEY_USAGE_DER: [u8; 12] = [
    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03,
];
/// BasicConstraints SEQUENCE {} (cA FALSE is the default and so omitted).
const BASIC_CONSTRAINTS_DER: [u8; 2] = [0x30, 0x00];

/// Validity of a generated root certificate: 10 × 365 days (notary 0.7).
pub const ROOT_CERT_VALIDITY_DAYS: i64 = 3650;

/// The public-key algorithm of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertKeyAlgorithm {
    Ecdsa,
    Rsa,
    Ed25519,
    /// Any other algorithm, by OID.
    Other(String),
}

/// What notary looks at in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject common name (the last CN attribute, as Go reads it; empty if none).
    pub common_name: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// DER SubjectPublicKeyInfo as Go's `MarshalPKIXPublicKey` writes it (RSA with
    /// NULL parameters); the canonical key ID is computed over these bytes.
    pub spki_der: Vec<u8>,
    /// BasicConstraints cA.
    pub is_ca: bool,
    pub key_algorithm: CertKeyAlgorithm,
    /// Signed with a SHA-1 based algorithm.
    pub sha1_signature: bool,
    /// Modulus size of an RSA key.
    pub rsa_bits: Option<usize>,
    /// The certificate DER.
    pub der: Vec<u8>,
}

fn cert_err(what: impl Into<String>) -> CryptoError {
    CryptoError::Certificate(what.into())
}

/// Parse one DER certificate.
pub fn parse_certificate_der(der: &[u8]) -> Result<CertInfo, CryptoError> {
    let cert = Certificate::from_der(der)
        .map_err(|e| cert_err(format!("cannot parse certificate: {e}")))?;
    let tbs = &cert.tbs_certificate;
    if tbs.signature != cert.signature_algorithm {
        return Err(cert_err("inner and outer signature algorithms differ"));
    }
    let common_name = common_name(&tbs.subject)?;
    let spki = &tbs.subject_public_key_info;
    let oid = spki.algorithm.oid;
    let (key_algorithm, spki_der, rsa_bits) = if oid == OID_RSA_ENCRYPTION {
        let key_bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| cert_err("RSA public key bit string is not octet-aligned"))?;
        let (n, _e) = parse_pkcs1_public_key(key_bits)
            .map_err(|e| cert_err(format!("invalid RSA public key in certificate: {e}")))?;
        let normalized = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid,
                parameters: Some(Any::null()),
            },
            subject_public_key: spki.subject_public_key.clone(),
        };
        (
            CertKeyAlgorithm::Rsa,
            encode(&normalized)?,
            Some(bit_len(n)),
        )
    } else if oid == OID_EC_PUBLIC_KEY {
        (CertKeyAlgorithm::Ecdsa, encode(spki)?, None)
    } else if oid == OID_ED25519 {
        (CertKeyAlgorithm::Ed25519, encode(spki)?, None)
    } else {
        (
            CertKeyAlgorithm::Other(oid.to_string()),
            encode(spki)?,
            None,
        )
    };
    Ok(CertInfo {
        common_name,
        not_before: to_datetime(tbs.validity.not_before)?,
        not_after: to_datetime(tbs.validity.not_after)?,
        spki_der,
        is_ca: is_ca(tbs)?,
        key_algorithm,
        sha1_signature: SHA1_SIGNATURES.contains(&cert.signature_algorithm.oid),
        rsa_bits,
        der: der.to_vec(),
    })
}

fn encode<T: Encode>(v: &T) -> Result<Vec<u8>, CryptoError> {
    v.to_der()
        .map_err(|e| cert_err(format!("cannot encode certificate field: {e}")))
}

fn bit_len(n: UintRef<'_>) -> usize {
    let b = n.as_bytes();
    match b.first() {
        None => 0,
        Some(&first) => (b.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub(crate) fn parse_pkcs1_public_key(der: &[u8]) -> der::Result<(UintRef<'_>, UintRef<'_>)> {
    use der::Reader as _;
    let mut reader = SliceReader::new(der)?;
    let parsed = reader.sequence(|r| Ok((UintRef::decode(r)?, UintRef::decode(r)?)))?;
    reader.finish(parsed)
}

fn to_datetime(t: Time) -> Result<OffsetDateTime, CryptoError> {
    let secs = i64::try_from(t.to_unix_duration().as_secs())
        .map_err(|_| cert_err("certificate time out of range"))?;
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| cert_err(format!("certificate time out of range: {e}")))
}

fn common_name(name: &Name) -> Result<String, CryptoError> {
    let mut cn = String::new();
    for rdn in &name.0 {
        for atv in rdn.0.iter().filter(|atv| atv.oid == OID_CN) {
            cn = directory_string(&atv.value)?;
        }
    }
    Ok(cn)
}

/// The string types Go accepts in names.
fn directory_string(v: &Any) -> Result<String, CryptoError> {
    let bytes = v.value();
    let utf8 = |b: &[u8]| {
        String::from_utf8(b.to_vec()).map_err(|_| cert_err("common name is not valid UTF-8"))
    };
    match v.tag() {
        Tag::PrintableString | Tag::Utf8String | Tag::Ia5String => utf8(bytes),
        // Go reads T61String bytes as Latin-1.
        Tag::TeletexString => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return Err(cert_err("BMPString common name has odd length"));
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| cert_err("invalid BMPString common name"))
        }
        other => Err(cert_err(format!(
            "unsupported string type {other} in common name"
        ))),
    }
}

fn is_ca(tbs: &TbsCertificate) -> Result<bool, CryptoError> {
    let Some(exts) = &tbs.extensions else {
        return Ok(false);
    };
    match exts.iter().find(|e| e.extn_id == OID_BASIC_CONSTRAINTS) {
        None => Ok(false),
        Some(ext) => BasicConstraints::from_der(ext.extn_value.as_bytes())
            .map(|bc| bc.ca)
            .map_err(|e| cert_err(format!("invalid basic constraints: {e}"))),
    }
}

/// Every PEM block, each of which must be a `CERTIFICATE` that parses (notary's
/// `LoadCertBundleFromPEM`); at least one.
pub fn parse_pem_chain(pem_text: &[u8]) -> Result<Vec<CertInfo>, CryptoError> {
    let blocks = pem::parse_many(pem_text)
        .map_err(|e| cert_err(format!("invalid PEM certificate data: {e}")))?;
    if blocks.is_empty() {
        return Err(cert_err("no certificates found in PEM data"));
    }
    blocks
        .iter()
        .map(|b| {
            if b.tag() != "CERTIFICATE" {
                return Err(cert_err(format!("invalid PEM block type {:?}", b.tag())));
            }
            parse_certificate_der(b.contents())
        })
        .collect()
}

/// The one certificate of an `ecdsa-x509`/`rsa-x509` key: the only parser for such keys,
/// used alike for the key that verifies signatures, for the key ID a pin is compared
/// with, and for the root-certificate checks, so that all three see the same key.
///
/// The PEM text must be exactly one `CERTIFICATE` block without headers, with nothing
/// but whitespace around it. notary itself accepts a chain here and reads the first
/// block for signatures but the first header-less one for key IDs; a key in two
/// blocks could so be verified by one certificate and pinned by another. notary
/// writes one certificate per key, and so does vouch.
pub fn key_certificate(pem_text: &[u8]) -> Result<CertInfo, CryptoError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let count = pem_text
        .windows(BEGIN.len())
        .filter(|w| *w == BEGIN)
        .count();
    if count != 1 {
        return Err(cert_err(format!(
            "a certificate key must hold exactly one PEM block, found {count}"
        )));
    }
    let text = std::str::from_utf8(pem_text)
        .map_err(|_| cert_err("certificate key PEM text is not UTF-8"))?;
    let start = text.find("-----BEGIN ").expect("counted above");
    const END: &str = "-----END ";
    let end = text[start..]
        .find(END)
        .map(|i| start + i)
        .ok_or_else(|| cert_err("certificate key PEM block has no END line"))?;
    let end = text[end + END.len()..]
        .find("-----")
        .map(|i| end + END.len() + i + 5)
        .ok_or_else(|| cert_err("certificate key PEM block has a malformed END line"))?;
    if !text[..start].trim().is_empty() || !text[end..].trim().is_empty() {
        return Err(cert_err(
            "certificate key PEM text has data outside its PEM block",
        ));
    }
    let block = pem::parse(&text[start..end])
        .map_err(|e| cert_err(format!("invalid PEM certificate: {e}")))?;
    if block.tag() != "CERTIFICATE" {
        return Err(cert_err(format!(
            "certificate key holds a PEM block of type {:?}, expected CERTIFICATE",
            block.tag()
        )));
    }
    if block.headers().iter().next().is_some() {
        return Err(cert_err(
            "certificate key PEM block has header lines; a certificate key has none",
        ));
    }
    parse_certificate_der(block.contents())
}

/// The canonical key ID (protocol §5.2, notary's `CanonicalKeyID`): for
/// `ecdsa-x509`/`rsa-x509` keys, the ID of the `ecdsa`/`rsa` key made of the certificate's
/// public key (DER SPKI, read by [`key_certificate`], the one parser of certificate keys);
/// for every other type, the key's own ID. Private key files are named by this ID, and
/// pins compare it.
pub trait CanonicalKeyId {
    fn canonical_key_id(&self) -> Result<keys::KeyId, CryptoError>;
}

impl CanonicalKeyId for PublicKey {
    fn canonical_key_id(&self) -> Result<keys::KeyId, CryptoError> {
        let plain_type = match self.keytype.as_str() {
            keys::ECDSA_X509 => keys::ECDSA,
            keys::RSA_X509 => keys::RSA,
            _ => return Ok(self.key_id()),
        };
        let cert = key_certificate(&self.public)
            .map_err(|e| cert_err(format!("key {}: {e}", self.key_id())))?;
        Ok(PublicKey::new(plain_type, cert.spki_der).key_id())
    }
}

/// Whether a certificate CN names this GUN: equal, or a `prefix*` wildcard that
/// prefix-matches it (notary's `MatchCNToGun`).
pub fn cn_matches_gun(cn: &str, gun: &str) -> bool {
    match cn.strip_suffix('*') {
        Some(_) => gun.starts_with(cn.trim_end_matches('*')),
        None => cn == gun,
    }
}

/// notary's `ValidateCertificate`: a sane validity window, no SHA-1 signature, RSA keys
/// of at least 2048 bits and, with `check_expiry`, `not_before ≤ now + 24h` and
/// `now ≤ not_after`.
pub fn validate_certificate(
    info: &CertInfo,
    now: OffsetDateTime,
    check_expiry: bool,
) -> Result<(), CryptoError> {
    let reject = |reason: String| CryptoError::CertificateRejected {
        cn: info.common_name.clone(),
        reason,
    };
    if info.not_before > info.not_after {
        return Err(reject(
            "its validity window is invalid (not before > not after)".into(),
        ));
    }
    if info.sha1_signature {
        return Err(reject("it uses a SHA-1 signature algorithm".into()));
    }
    if let Some(bits) = info.rsa_bits.filter(|&b| b < 2048) {
        return Err(reject(format!(
            "its RSA key has {bits} bits, at least 2048 are required"
        )));
    }
    if check_expiry && (now + Duration::days(1) < info.not_before || now > info.not_after) {
        return Err(CryptoError::CertificateExpired {
            cn: info.common_name.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
        });
    }
    Ok(())
}

/// The acceptance check for a root-role key (protocol §5.4): the PEM holds exactly one
/// certificate ([`key_certificate`]), a leaf (non-CA); its CN names `gun`; and it passes
/// [`validate_certificate`]. Returns the leaf.
pub fn validate_root_cert(
    pem_text: &[u8],
    gun: &str,
    now: OffsetDateTime,
    check_expiry: bool,
) -> Result<CertInfo, CryptoError> {
    let leaf = key_certificate(pem_text)?;
    if leaf.is_ca {
        return Err(cert_err(
            "the root key's certificate is a CA certificate, not a leaf",
        ));
    }
    if !cn_matches_gun(&leaf.common_name, gun) {
        return Err(CryptoError::CertificateRejected {
            cn: leaf.common_name.clone(),
            reason: format!("its common name does not match the repository {gun:?}"),
        });
    }
    validate_certificate(&leaf, now, check_expiry)?;
    Ok(leaf)
}

/// A public key from a PEM file, as `notary delegation add` reads it (notary's
/// `ParsePEMPublicKey`): a `CERTIFICATE` (checked with [`validate_certificate`],
/// expiry included) becomes an `ecdsa-x509`/`rsa-x509` key holding that one
/// certificate in Go's PEM form; a `PUBLIC KEY` becomes an `ecdsa`/`rsa` key holding
/// the DER as given. Only the first PEM block is read.
pub fn public_key_from_pem(pem_text: &[u8], now: OffsetDateTime) -> Result<PublicKey, CryptoError> {
    let block = pem::parse(pem_text).map_err(|e| {
        CryptoError::InvalidKey(format!("no PEM public key or certificate found: {e}"))
    })?;
    match block.tag() {
        "CERTIFICATE" => {
            let info = parse_certificate_der(block.contents())?;
            validate_certificate(&info, now, true)?;
            let keytype = match info.key_algorithm {
                CertKeyAlgorithm::Ecdsa => keys::ECDSA_X509,
                CertKeyAlgorithm::Rsa => keys::RSA_X509,
                other => {
                    return Err(CryptoError::Unsupported(format!(
                        "certificate key algorithm {other:?} (only ECDSA and RSA certificates can be keys)"
                    )))
                }
            };
            Ok(PublicKey::new(
                keytype,
                to_pem("CERTIFICATE", &info.der).into_bytes(),
            ))
        }
        "PUBLIC KEY" => {
            let spki = SubjectPublicKeyInfoRef::from_der(block.contents()).map_err(|e| {
                CryptoError::InvalidKey(format!("unable to parse PEM public key: {e}"))
            })?;
            let keytype = match spki.algorithm.oid {
                OID_EC_PUBLIC_KEY => keys::ECDSA,
                OID_RSA_ENCRYPTION => keys::RSA,
                other => {
                    return Err(CryptoError::Unsupported(format!(
                        "public key algorithm {other} (only ECDSA and RSA public keys are accepted)"
                    )))
                }
            };
            Ok(PublicKey::new(keytype, block.contents().to_vec()))
        }
        other => Err(CryptoError::InvalidKey(format!(
            "unsupported PEM block type {other:?}, expected CERTIFICATE or PUBLIC KEY"
        ))),
    }
}

/// PEM text the way Go's `encoding/pem` writes it: LF line ends, 64-column base64.
pub fn to_pem(tag: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {tag}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {tag}-----\n"));
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod chain_tests;
