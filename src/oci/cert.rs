//! The certificate a Notary Project (notation) signature carries: a self-signed
//! certificate for the signing key that meets notation's leaf rules (notaryproject
//! `specs/signature-specification.md`, "Certificate Requirements"): `keyUsage` critical
//! with `digitalSignature` only, `extendedKeyUsage` codeSigning, `basicConstraints` cA
//! FALSE, ECDSA P-256 with SHA-256. Notary v1 root certificates set `keyEncipherment`
//! and so fail these rules: a new certificate is made for the targets key.
//!
//! notation's trusted identities need `C`, `ST` and `O` in the subject; vouch writes
//! `C=ZZ, ST=-, O=vouch, CN=<GUN>` ([`subject_string`]).

use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use rand_core::RngCore as _;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

use super::{OciError, Signer};

const OID_C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const OID_ST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
/// serverAuth, clientAuth, emailProtection, timeStamping, OCSPSigning, anyExtendedKeyUsage.
const FORBIDDEN_EKU: [(&str, ObjectIdentifier); 6] = [
    (
        "serverAuth",
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"),
    ),
    (
        "clientAuth",
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2"),
    ),
    (
        "emailProtection",
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4"),
    ),
    (
        "timeStamping",
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8"),
    ),
    (
        "OCSPSigning",
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9"),
    ),
    (
        "anyExtendedKeyUsage",
        ObjectIdentifier::new_unwrap("2.5.29.37.0"),
    ),
];
/// sha1WithRSAEncryption, ecdsa-with-SHA1, dsaWithSHA1.
const SHA1_SIGNATURES: [ObjectIdentifier; 3] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
    ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),
];

/// KeyUsage BIT STRING {digitalSignature}.
const KEY_USAGE_DER: [u8; 4] = [0x03, 0x02, 0x07, 0x80];

/// Validity of a made certificate: 10 years from an hour before now.
const VALIDITY_SECS: i64 = 10 * 365 * 86_400;

pub const SUBJECT_C: &str = "ZZ";
pub const SUBJECT_ST: &str = "-";
pub const SUBJECT_O: &str = "vouch";

/// The subject as notation's trust policy writes a trusted identity:
/// `C=ZZ, ST=-, O=vouch, CN=<gun>`.
pub fn subject_string(gun: &str) -> String {
    format!("C={SUBJECT_C}, ST={SUBJECT_ST}, O={SUBJECT_O}, CN={gun}")
}

/// A self-signed certificate (DER) for `signer`'s key with subject
/// [`subject_string`]`(gun)`, meeting notation's leaf rules, valid from an hour before
/// `now` (unix seconds) for ten years.
pub fn make_certificate(signer: &Signer<'_>, gun: &str, now: i64) -> Result<Vec<u8>, OciError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        OciError::Crypto(crate::crypto::CryptoError::Certificate(format!(
            "cannot make the notation certificate for {gun:?}: {what}: {e}"
        )))
    };
    if gun.is_empty() || gun.len() > 64 * 4 {
        return Err(fail("subject", &format!("{gun:?} cannot be a common name")));
    }
    let mut serial = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut serial);
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let not_before = now - 3600;
    crate::crypto::x509::self_signed(
        &crate::crypto::x509::SelfSigned {
            subject: &[
                (OID_C, SUBJECT_C),
                (OID_ST, SUBJECT_ST),
                (OID_O, SUBJECT_O),
                (OID_CN, gun),
            ],
            serial: &serial,
            not_before,
            not_after: not_before + VALIDITY_SECS,
            spki_der: &signer.spki_der,
            key_usage_der: &KEY_USAGE_DER,
        },
        |tbs| signer.sign_der(tbs),
        fail,
    )
}

/// Checks notation's rules for a signing (leaf) certificate: keyUsage present and
/// critical... (notation requires it present with digitalSignature and none of
/// keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign); an
/// extendedKeyUsage, if any, without serverAuth, clientAuth, emailProtection,
/// timeStamping, OCSPSigning or anyExtendedKeyUsage; not a CA; EC keys of at least 256
/// bits (RSA of at least 2048); no SHA-1 signature. Returns every rule broken.
pub fn check_leaf_rules(der: &[u8]) -> Result<(), Vec<String>> {
    let cert = match Certificate::from_der(der) {
        Ok(c) => c,
        Err(e) => return Err(vec![format!("cannot parse the certificate: {e}")]),
    };
    let mut broken = Vec::new();
    let tbs = &cert.tbs_certificate;
    if SHA1_SIGNATURES.contains(&cert.signature_algorithm.oid) {
        broken.push("signed with SHA-1".to_owned());
    }
    let alg = &tbs.subject_public_key_info.algorithm;
    if alg.oid == OID_EC_PUBLIC_KEY {
        let curve = alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if !matches!(curve, Some(c) if c == OID_P256 || c == OID_P384 || c == OID_P521) {
            broken.push("an EC key on a curve smaller than 256 bits or unknown".to_owned());
        }
    } else if alg.oid == OID_RSA {
        let bits = crate::crypto::x509::parse_certificate_der(der)
            .ok()
            .and_then(|c| c.rsa_bits);
        if bits.is_none_or(|b| b < 2048) {
            broken.push("an RSA key smaller than 2048 bits".to_owned());
        }
    } else {
        broken.push(format!("an unsupported key algorithm {}", alg.oid));
    }
    let exts = tbs.extensions.clone().unwrap_or_default();
    match exts.iter().find(|e| e.extn_id == OID_KEY_USAGE) {
        None => broken.push("no keyUsage extension".to_owned()),
        Some(e) => {
            if !e.critical {
                broken.push("keyUsage is not critical".to_owned());
            }
            match KeyUsage::from_der(e.extn_value.as_bytes()) {
                Err(err) => broken.push(format!("unreadable keyUsage: {err}")),
                Ok(ku) => {
                    if !ku.digital_signature() {
                        broken.push("keyUsage lacks digitalSignature".to_owned());
                    }
                    for (flag, name) in [
                        (KeyUsages::KeyEncipherment, "keyEncipherment"),
                        (KeyUsages::DataEncipherment, "dataEncipherment"),
                        (KeyUsages::KeyAgreement, "keyAgreement"),
                        (KeyUsages::KeyCertSign, "keyCertSign"),
                        (KeyUsages::CRLSign, "cRLSign"),
                    ] {
                        if ku.0.contains(flag) {
                            broken.push(format!("keyUsage has {name}"));
                        }
                    }
                }
            }
        }
    }
    if let Some(e) = exts.iter().find(|e| e.extn_id == OID_EXT_KEY_USAGE) {
        match ExtendedKeyUsage::from_der(e.extn_value.as_bytes()) {
            Err(err) => broken.push(format!("unreadable extendedKeyUsage: {err}")),
            Ok(eku) => {
                for (name, oid) in FORBIDDEN_EKU {
                    if eku.0.contains(&oid) {
                        broken.push(format!("extendedKeyUsage has {name}"));
                    }
                }
                let _ = OID_CODE_SIGNING;
            }
        }
    }
    if let Some(e) = exts.iter().find(|e| e.extn_id == OID_BASIC_CONSTRAINTS) {
        if BasicConstraints::from_der(e.extn_value.as_bytes()).is_ok_and(|b| b.ca) {
            broken.push("basicConstraints says it is a CA".to_owned());
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken)
    }
}

/// The SPKI DER of a certificate.
pub fn spki_of(der: &[u8]) -> Result<Vec<u8>, String> {
    let cert =
        Certificate::from_der(der).map_err(|e| format!("cannot parse the certificate: {e}"))?;
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())
}

/// SHA-256 thumbprint (hex) of a certificate's DER.
pub fn thumbprint(der: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(der))
}
