//! The self-signed root certificate notary makes for a GUN.

use super::*;

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
    if gun.is_empty() {
        return Err(fail("subject", &"the repository name is empty"));
    }
    let not_before = now.unix_timestamp();
    self_signed(
        &SelfSigned {
            subject: &[(OID_CN, gun)],
            serial,
            not_before,
            not_after: not_before + ROOT_CERT_VALIDITY_DAYS * 86_400,
            spki_der: &key.public_key_der(),
            key_usage_der: &KEY_USAGE_DER,
        },
        |tbs| key.sign_asn1(tbs),
        fail,
    )
}

/// A self-signed end-entity certificate signed with ecdsa-with-SHA256: notary's root
/// certificates and the notation signing certificate are both such. Subject = issuer =
/// `subject`'s attributes in order (each a PrintableString when it can be, else a
/// UTF8String, as Go writes them); KeyUsage (critical) as given; ExtKeyUsage codeSigning;
/// BasicConstraints (critical) CA:FALSE.
pub(crate) struct SelfSigned<'a> {
    pub subject: &'a [(ObjectIdentifier, &'a str)],
    pub serial: &'a [u8],
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: &'a [u8],
    /// DER of the KeyUsage extension's value.
    pub key_usage_der: &'a [u8],
}

/// The DER certificate `cert` describes, its to-be-signed part signed by `sign` (an
/// ASN.1 DER ECDSA signature); `fail` makes the caller's error from what failed.
pub(crate) fn self_signed<E>(
    cert: &SelfSigned<'_>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    fail: impl Fn(&str, &dyn std::fmt::Display) -> E,
) -> Result<Vec<u8>, E> {
    let name = directory_name(cert.subject).map_err(|e| fail("subject", &e))?;
    let validity = Validity {
        not_before: x509_time(cert.not_before).map_err(|e| fail("not before", &e))?,
        not_after: x509_time(cert.not_after).map_err(|e| fail("not after", &e))?,
    };
    let spki =
        SubjectPublicKeyInfoOwned::from_der(cert.spki_der).map_err(|e| fail("public key", &e))?;
    let ext = |oid, critical, value: &[u8]| -> Result<Extension, E> {
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
        serial_number: SerialNumber::new(cert.serial).map_err(|e| fail("serial", &e))?,
        signature: signature_alg.clone(),
        issuer: name.clone(),
        validity,
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![
            ext(OID_KEY_USAGE, true, cert.key_usage_der)?,
            ext(OID_EXT_KEY_USAGE, false, &EXT_KEY_USAGE_DER)?,
            ext(OID_BASIC_CONSTRAINTS, true, &BASIC_CONSTRAINTS_DER)?,
        ]),
    };
    let tbs_der = tbs.to_der().map_err(|e| fail("encoding", &e))?;
    let sig = sign(&tbs_der)?;
    let signed = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: signature_alg,
        signature: BitString::from_bytes(&sig).map_err(|e| fail("signature", &e))?,
    };
    signed.to_der().map_err(|e| fail("encoding", &e))
}

/// A distinguished name of one attribute per RDN, in order; each value a PrintableString
/// when every character allows it, else a UTF8String.
fn directory_name(attributes: &[(ObjectIdentifier, &str)]) -> Result<Name, String> {
    let mut rdns = Vec::with_capacity(attributes.len());
    for (oid, value) in attributes {
        let printable = value.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'\''..=b')' | b'+'..=b'/' | b' ' | b':' | b'=' | b'?')
        });
        let tag = if printable {
            Tag::PrintableString
        } else {
            Tag::Utf8String
        };
        let value = Any::new(tag, value.as_bytes()).map_err(|e| e.to_string())?;
        rdns.push(RelativeDistinguishedName(
            vec![AttributeTypeAndValue { oid: *oid, value }]
                .try_into()
                .map_err(|e: der::Error| e.to_string())?,
        ));
    }
    Ok(RdnSequence(rdns))
}

/// UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280, as Go writes it).
pub(super) fn x509_time(unix: i64) -> Result<Time, String> {
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
