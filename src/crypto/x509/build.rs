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
pub(super) fn gun_name(gun: &str) -> Result<Name, String> {
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
