//! Certificate chains to a pinned CA, checked as Go's `Certificate.Verify` checks them.

use super::*;

/// The longest certificate chain [`verify_chain_to_ca`] builds, leaf and CA included.
pub const MAX_CHAIN_LEN: usize = 6;

pub(super) const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// Extensions Go's x509 parser handles; a leaf with any other critical extension is refused
/// by `Certificate.Verify` (`UnhandledCriticalExtension`).
pub(super) const HANDLED_CRITICAL: [ObjectIdentifier; 9] = [
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
pub(super) const EKU_SATISFYING_DEFAULT: [ObjectIdentifier; 4] = [
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"),
    ObjectIdentifier::new_unwrap("2.5.29.37.0"),
    ObjectIdentifier::new_unwrap("2.16.840.1.113730.4.1"),
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.3"),
];
pub(super) const OID_P256_CURVE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(super) const OID_P384_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(super) const OID_ECDSA_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub(super) const OID_RSA_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub(super) const OID_RSA_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
pub(super) const OID_RSA_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// A certificate taken apart for chain building.
pub(super) struct ChainCert<'a> {
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
pub(super) fn extend_chain(
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
