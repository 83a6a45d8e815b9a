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

/// The first PEM block parsed as a certificate, whatever its type (how notary's
/// signature verifiers read an `*-x509` key).
pub fn first_pem_certificate(pem_text: &[u8]) -> Result<CertInfo, CryptoError> {
    let block =
        pem::parse(pem_text).map_err(|e| cert_err(format!("no PEM certificate found: {e}")))?;
    parse_certificate_der(block.contents())
}

/// The first `CERTIFICATE` block without headers that parses (notary's
/// `LoadCertFromPEM`, used for canonical key IDs).
pub fn load_cert_from_pem(pem_text: &[u8]) -> Result<CertInfo, CryptoError> {
    let blocks = pem::parse_many(pem_text)
        .map_err(|e| cert_err(format!("invalid PEM certificate data: {e}")))?;
    blocks
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE" && b.headers().iter().next().is_none())
        .find_map(|b| parse_certificate_der(b.contents()).ok())
        .ok_or_else(|| cert_err("no certificates found in PEM data"))
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

/// The acceptance check for a root-role key (protocol §5.4): the PEM holds ≥ 1
/// certificate, exactly one of them a leaf (non-CA), the leaf first; its CN names
/// `gun`; and it passes [`validate_certificate`]. Returns the leaf.
pub fn validate_root_cert(
    pem_text: &[u8],
    gun: &str,
    now: OffsetDateTime,
    check_expiry: bool,
) -> Result<CertInfo, CryptoError> {
    let chain = parse_pem_chain(pem_text)?;
    let leaves = chain.iter().filter(|c| !c.is_ca).count();
    if leaves != 1 {
        return Err(cert_err(format!(
            "chain has {leaves} leaf certificates, expected exactly 1"
        )));
    }
    let leaf = chain.into_iter().next().expect("chain is not empty");
    if leaf.is_ca {
        return Err(cert_err(
            "the leaf certificate is not the first in the chain",
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

/// The longest certificate chain [`verify_chain_to_ca`] builds, leaf and CA included.
pub const MAX_CHAIN_LEN: usize = 6;

const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// Extensions Go's x509 parser handles; a leaf with any other critical extension is refused
/// by `Certificate.Verify` (`UnhandledCriticalExtension`).
const HANDLED_CRITICAL: [ObjectIdentifier; 9] = [
    OID_KEY_USAGE,
    OID_BASIC_CONSTRAINTS,
    OID_EXT_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
    ObjectIdentifier::new_unwrap("2.5.29.14"), // subjectKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.32"), // certificatePolicies
    ObjectIdentifier::new_unwrap("2.5.29.31"), // cRLDistributionPoints
    ObjectIdentifier::new_unwrap("2.5.29.30"), // nameConstraints
];
/// Extended key usages that satisfy Go's default `VerifyOptions` (serverAuth): serverAuth,
/// anyExtendedKeyUsage, and the Netscape / Microsoft server-gated-crypto usages Go treats
/// as serverAuth.
const EKU_SATISFYING_DEFAULT: [ObjectIdentifier; 4] = [
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"),
    ObjectIdentifier::new_unwrap("2.5.29.37.0"),
    ObjectIdentifier::new_unwrap("2.16.840.1.113730.4.1"),
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.3"),
];
const OID_P256_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// A certificate taken apart for chain building.
struct ChainCert<'a> {
    info: &'a CertInfo,
    cert: Certificate,
    /// The exact TBSCertificate bytes (what the issuer signed).
    tbs_der: &'a [u8],
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
}

impl<'a> ChainCert<'a> {
    fn new(info: &'a CertInfo) -> Result<ChainCert<'a>, CryptoError> {
        use der::Reader as _;
        let cert = Certificate::from_der(&info.der)
            .map_err(|e| cert_err(format!("cannot parse certificate: {e}")))?;
        let mut reader = SliceReader::new(&info.der)
            .map_err(|e| cert_err(format!("cannot parse certificate: {e}")))?;
        let tbs_der = reader
            .sequence(|r| {
                let tbs = r.tlv_bytes()?;
                // The rest (algorithm, signature) was parsed above.
                while !r.is_finished() {
                    r.tlv_bytes()?;
                }
                Ok(tbs)
            })
            .map_err(|e| cert_err(format!("cannot parse certificate: {e}")))?;
        let subject_der = encode(&cert.tbs_certificate.subject)?;
        let issuer_der = encode(&cert.tbs_certificate.issuer)?;
        Ok(ChainCert {
            info,
            cert,
            tbs_der,
            subject_der,
            issuer_der,
        })
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
    }

    fn name(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// Usable as an issuer now: BasicConstraints cA, valid at `now`, no SHA-1 signature,
    /// RSA ≥ 2048 bits (notary's `ValidateCertificate`).
    fn check_issuer(&self, now: OffsetDateTime) -> Result<(), String> {
        if !self.info.is_ca {
            return Err(format!(
                "{:?} is not a CA certificate (basicConstraints cA is not set)",
                self.name()
            ));
        }
        validate_certificate(self.info, now, true).map_err(|e| e.to_string())
    }

    /// Go's `BasicConstraints` path length: `below` intermediates under this issuer.
    fn check_path_len(&self, below: usize) -> Result<(), String> {
        let Some(ext) = self.extension(OID_BASIC_CONSTRAINTS) else {
            return Ok(());
        };
        let bc = BasicConstraints::from_der(ext.extn_value.as_bytes())
            .map_err(|e| format!("{:?} has invalid basic constraints: {e}", self.name()))?;
        match bc.path_len_constraint {
            Some(max) if below > usize::from(max) => Err(format!(
                "{:?} allows {max} intermediate certificates below it, the chain has {below}",
                self.name()
            )),
            _ => Ok(()),
        }
    }

    /// Go's default key usage check (`VerifyOptions.KeyUsages` empty ⇒ serverAuth): a
    /// certificate that lists extended key usages must list one that allows serverAuth.
    fn check_eku(&self) -> Result<(), String> {
        let Some(ext) = self.extension(OID_EXT_KEY_USAGE) else {
            return Ok(());
        };
        let usages = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
            .map_err(|e| format!("{:?} has an invalid extended key usage: {e}", self.name()))?;
        if usages.0.iter().any(|u| EKU_SATISFYING_DEFAULT.contains(u)) {
            Ok(())
        } else {
            Err(format!(
                "{:?} has extended key usages [{}] without serverAuth or anyExtendedKeyUsage, which notary's CA check (Go's x509 defaults) refuses",
                self.name(),
                usages
                    .0
                    .iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    /// Whether `issuer`'s public key verifies this certificate's signature.
    fn check_signed_by(&self, issuer: &ChainCert<'_>) -> Result<(), String> {
        use ring::signature as rs;
        let alg = self.cert.signature_algorithm.oid;
        let spki = &issuer.cert.tbs_certificate.subject_public_key_info;
        let key_oid = spki.algorithm.oid;
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        let verifier: &dyn rs::VerificationAlgorithm = match (alg, key_oid, curve) {
            (OID_ECDSA_SHA256, OID_EC_PUBLIC_KEY, Some(OID_P256_CURVE)) => {
                &rs::ECDSA_P256_SHA256_ASN1
            }
            (OID_ECDSA_SHA256, OID_EC_PUBLIC_KEY, Some(OID_P384_CURVE)) => {
                &rs::ECDSA_P384_SHA256_ASN1
            }
            (OID_ECDSA_SHA384, OID_EC_PUBLIC_KEY, Some(OID_P256_CURVE)) => {
                &rs::ECDSA_P256_SHA384_ASN1
            }
            (OID_ECDSA_SHA384, OID_EC_PUBLIC_KEY, Some(OID_P384_CURVE)) => {
                &rs::ECDSA_P384_SHA384_ASN1
            }
            (OID_RSA_SHA256, OID_RSA_ENCRYPTION, _) => &rs::RSA_PKCS1_2048_8192_SHA256,
            (OID_RSA_SHA384, OID_RSA_ENCRYPTION, _) => &rs::RSA_PKCS1_2048_8192_SHA384,
            (OID_RSA_SHA512, OID_RSA_ENCRYPTION, _) => &rs::RSA_PKCS1_2048_8192_SHA512,
            (OID_ED25519, OID_ED25519, _) => &rs::ED25519,
            _ => {
                return Err(format!(
                "signature algorithm {alg} of {:?} with a {key_oid} key of {:?} is not supported",
                self.name(),
                issuer.name()
            ))
            }
        };
        let key = spki.subject_public_key.raw_bytes();
        let sig =
            self.cert.signature.as_bytes().ok_or_else(|| {
                format!("the signature of {:?} is not octet-aligned", self.name())
            })?;
        rs::UnparsedPublicKey::new(verifier, key)
            .verify(self.tbs_der, sig)
            .map_err(|_| {
                format!(
                    "the signature on {:?} does not verify with the key of {:?}",
                    self.name(),
                    issuer.name()
                )
            })
    }
}

/// Whether `leaf` chains to one of `cas` (notary's CA trust pinning, protocol §8.5; Go's
/// `Certificate.Verify` with the CAs as roots and `intermediates` as the pool):
///
/// - each link: the child's issuer name equals the parent's subject name (DER bytes) and
///   the child's signature verifies with the parent's key (ECDSA P-256/P-384 with SHA-256
///   or SHA-384, RSA PKCS#1 v1.5 with SHA-256/384/512, Ed25519);
/// - every parent (intermediate or CA) is a CA (basicConstraints cA), valid at `now`, not
///   SHA-1 signed, RSA ≥ 2048 bits, and respects its path length constraint; intermediates
///   that are not are skipped, as are such CAs (expired CA certificates are ignored);
/// - the leaf is valid at `now` and has no critical extension Go does not handle;
/// - as with Go's defaults, no certificate of the chain may restrict its extended key usage
///   to purposes other than serverAuth (notary's generated `codeSigning` certificates
///   therefore do not pass notary's CA pinning);
/// - at most [`MAX_CHAIN_LEN`] certificates; name constraints are not evaluated.
///
/// Returns the subject of the CA reached.
pub fn verify_chain_to_ca(
    leaf: &CertInfo,
    intermediates: &[CertInfo],
    cas: &[CertInfo],
    now: OffsetDateTime,
) -> Result<String, CryptoError> {
    let reject = |reason: String| CryptoError::CertificateRejected {
        cn: leaf.common_name.clone(),
        reason,
    };
    let leaf_c = ChainCert::new(leaf)?;
    validate_certificate(leaf, now, true)?;
    if let Some(exts) = &leaf_c.cert.tbs_certificate.extensions {
        if let Some(e) = exts
            .iter()
            .find(|e| e.critical && !HANDLED_CRITICAL.contains(&e.extn_id))
        {
            return Err(reject(format!(
                "it has an unhandled critical extension {}",
                e.extn_id
            )));
        }
    }
    leaf_c.check_eku().map_err(reject)?;
    let ints: Vec<ChainCert<'_>> = intermediates
        .iter()
        .filter_map(|c| ChainCert::new(c).ok())
        .collect();
    let roots: Vec<ChainCert<'_>> = cas.iter().filter_map(|c| ChainCert::new(c).ok()).collect();
    let mut reasons = Vec::new();
    let mut path = Vec::new();
    match extend_chain(&leaf_c, &ints, &roots, now, &mut path, &mut reasons) {
        Some(ca) => Ok(ca),
        None => {
            if reasons.is_empty() {
                reasons.push(format!(
                    "its issuer {:?} is not one of the pinned CAs (nor an intermediate in its bundle)",
                    leaf_c.cert.tbs_certificate.issuer.to_string()
                ));
            }
            reasons.dedup();
            Err(reject(format!(
                "it does not chain to a pinned CA: {}",
                reasons.join("; ")
            )))
        }
    }
}

/// Depth-first search from `child` (whose chain so far is `path`, leaf excluded, as
/// indices into `ints`) to one of `roots`.
fn extend_chain(
    child: &ChainCert<'_>,
    ints: &[ChainCert<'_>],
    roots: &[ChainCert<'_>],
    now: OffsetDateTime,
    path: &mut Vec<usize>,
    reasons: &mut Vec<String>,
) -> Option<String> {
    let below = path.len();
    let link = |parent: &ChainCert<'_>| -> Result<(), String> {
        parent.check_issuer(now)?;
        parent.check_path_len(below)?;
        parent.check_eku()?;
        child.check_signed_by(parent)
    };
    for root in roots.iter().filter(|r| r.subject_der == child.issuer_der) {
        match link(root) {
            Ok(()) => return Some(root.name()),
            Err(e) => reasons.push(e),
        }
    }
    // Room for one more intermediate and the CA above it.
    if below + 3 > MAX_CHAIN_LEN {
        reasons.push(format!(
            "no chain of at most {MAX_CHAIN_LEN} certificates reaches a pinned CA"
        ));
        return None;
    }
    for (i, int) in ints.iter().enumerate() {
        if path.contains(&i) || int.subject_der != child.issuer_der {
            continue;
        }
        if let Err(e) = link(int) {
            reasons.push(e);
            continue;
        }
        path.push(i);
        if let Some(ca) = extend_chain(int, ints, roots, now, path, reasons) {
            return Some(ca);
        }
        path.pop();
    }
    None
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

/// Generate the self-signed root certificate notary makes for `gun` (protocol §5.4):
/// subject = issuer = `CN=<gun>`, random serial < 2^128, valid from `now` (whole
/// seconds) for 3650 days, KeyUsage (critical) digitalSignature + keyEncipherment,
/// ExtKeyUsage codeSigning, BasicConstraints (critical) CA:FALSE, ecdsa-with-SHA256.
/// Returns Go-style PEM text, the `public` of an `ecdsa-x509` key.
pub fn root_certificate(
    key: &EcdsaSigningKey,
    gun: &str,
    now: OffsetDateTime,
) -> Result<String, CryptoError> {
    let mut serial = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut serial);
    let der = build_root_certificate(key, gun, now, &serial)?;
    Ok(to_pem("CERTIFICATE", &der))
}

pub(crate) fn build_root_certificate(
    key: &EcdsaSigningKey,
    gun: &str,
    now: OffsetDateTime,
    serial: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        cert_err(format!(
            "cannot create the root certificate for {gun:?}: {what}: {e}"
        ))
    };
    let name = gun_name(gun).map_err(|e| fail("subject", &e))?;
    let not_before = now.unix_timestamp();
    let not_after = not_before + ROOT_CERT_VALIDITY_DAYS * 86_400;
    let validity = Validity {
        not_before: x509_time(not_before).map_err(|e| fail("not before", &e))?,
        not_after: x509_time(not_after).map_err(|e| fail("not after", &e))?,
    };
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())
        .map_err(|e| fail("public key", &e))?;
    let ext = |oid, critical, value: &[u8]| -> Result<Extension, CryptoError> {
        Ok(Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(value).map_err(|e| fail("extension", &e))?,
        })
    };
    let signature_alg = AlgorithmIdentifierOwned {
        oid: OID_ECDSA_SHA256,
        parameters: None,
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(serial).map_err(|e| fail("serial", &e))?,
        signature: signature_alg.clone(),
        issuer: name.clone(),
        validity,
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![
            ext(OID_KEY_USAGE, true, &KEY_USAGE_DER)?,
            ext(OID_EXT_KEY_USAGE, false, &EXT_KEY_USAGE_DER)?,
            ext(OID_BASIC_CONSTRAINTS, true, &BASIC_CONSTRAINTS_DER)?,
        ]),
    };
    let tbs_der = tbs.to_der().map_err(|e| fail("encoding", &e))?;
    let sig = key.sign_asn1(&tbs_der)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: signature_alg,
        signature: BitString::from_bytes(&sig).map_err(|e| fail("signature", &e))?,
    };
    cert.to_der().map_err(|e| fail("encoding", &e))
}

/// `CN=<gun>` encoded as Go does: PrintableString when every character allows it,
/// else UTF8String.
fn gun_name(gun: &str) -> Result<Name, String> {
    if gun.is_empty() {
        return Err("the repository name is empty".to_owned());
    }
    let printable = gun.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'\''..=b')' | b'+'..=b'/' | b' ' | b':' | b'=' | b'?')
    });
    let tag = if printable {
        Tag::PrintableString
    } else {
        Tag::Utf8String
    };
    let value = Any::new(tag, gun.as_bytes()).map_err(|e| e.to_string())?;
    let atv = AttributeTypeAndValue { oid: OID_CN, value };
    let rdn = RelativeDistinguishedName(
        vec![atv]
            .try_into()
            .map_err(|e: der::Error| e.to_string())?,
    );
    Ok(RdnSequence(vec![rdn]))
}

/// UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280, as Go writes it).
fn x509_time(unix: i64) -> Result<Time, String> {
    let secs = u64::try_from(unix).map_err(|_| "time before 1970".to_owned())?;
    let d = StdDuration::from_secs(secs);
    let year = OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| e.to_string())?
        .year();
    if year < 2050 {
        UtcTime::from_unix_duration(d)
            .map(Time::UtcTime)
            .map_err(|e| e.to_string())
    } else {
        GeneralizedTime::from_unix_duration(d)
            .map(Time::GeneralTime)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
#[path = "x509_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "x509_chain_tests.rs"]
mod chain_tests;
