//! Notary Project (notation) signatures: a JWS envelope (flattened JSON serialization,
//! `application/jose+json`) over the payload `{"targetArtifact": <descriptor>}`, carried
//! by an OCI manifest with `artifactType: application/vnd.cncf.notary.signature` and a
//! `subject`, found through the referrers API or its tag-schema fallback index
//! (notaryproject `specs/signature-envelope-jws.md`, `specs/signature-specification.md`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::crypto::verify::VerifyingKey;
use crate::remote::registry::{Registry, MAX_SIGNATURE_BLOB_SIZE};
use crate::tuf::keys::PublicKey;

use super::*;

pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
pub const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64url(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("not base64url: {e}"))
}

/// The payload notation signs for `subject`.
pub fn payload(subject: &Subject) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "targetArtifact": {
            "digest": subject.digest,
            "mediaType": subject.media_type,
            "size": subject.size,
        }
    }))
    .expect("JSON")
}

/// A JWS envelope over `subject`'s payload, signed ES256 by `signer`, carrying `cert_der`
/// (the self-signed certificate of the signer's key) in `x5c`.
pub fn sign_envelope(
    subject: &Subject,
    signer: &Signer<'_>,
    cert_der: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<u8>, OciError> {
    let time = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .map_err(|e| OciError::BadInput(format!("signing time: {e}")))?;
    let protected = serde_json::to_vec(&json!({
        "alg": "ES256",
        "crit": [SIGNING_SCHEME],
        "cty": PAYLOAD_TYPE,
        SIGNING_SCHEME: "notary.x509",
        SIGNING_TIME: time,
    }))
    .expect("JSON");
    let protected_b64 = b64url(&protected);
    let payload_b64 = b64url(&payload(subject));
    let input = format!("{protected_b64}.{payload_b64}");
    let sig = signer.sign_raw(input.as_bytes())?;
    let envelope = json!({
        "payload": payload_b64,
        "protected": protected_b64,
        "header": {
            "x5c": [base64::engine::general_purpose::STANDARD.encode(cert_der)],
            SIGNING_AGENT: format!("vouch/{}", env!("CARGO_PKG_VERSION")),
        },
        "signature": b64url(&sig),
    });
    Ok(serde_json::to_vec(&envelope).expect("JSON"))
}

/// What a verified envelope said.
#[derive(Debug, Clone)]
pub struct EnvelopeInfo {
    /// The leaf certificate (DER).
    pub leaf: Vec<u8>,
    /// The leaf's public key.
    pub key: VerifyingKey,
    pub signing_time: Option<String>,
}

/// Checks a JWS envelope by itself: its headers, the leaf certificate's rules, the
/// signature with the leaf's key, and that the payload names `digest`. Whether the leaf's
/// key is trusted is the caller's question ([`verify_envelope`]).
pub fn check_envelope(
    bytes: &[u8],
    digest: &str,
    now: OffsetDateTime,
) -> Result<EnvelopeInfo, String> {
    let env: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the envelope is not JSON: {e}"))?;
    let field = |k: &str| {
        env.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the envelope has no {k:?}"))
    };
    let (payload_b64, protected_b64, sig_b64) =
        (field("payload")?, field("protected")?, field("signature")?);
    let protected: Value = serde_json::from_slice(&unb64url(protected_b64)?)
        .map_err(|e| format!("the protected header is not JSON: {e}"))?;
    let alg = protected.get("alg").and_then(Value::as_str).unwrap_or("");
    let cty = protected.get("cty").and_then(Value::as_str).unwrap_or("");
    if cty != PAYLOAD_TYPE {
        return Err(format!("the content type is {cty:?}, not {PAYLOAD_TYPE:?}"));
    }
    let scheme = protected
        .get(SIGNING_SCHEME)
        .and_then(Value::as_str)
        .unwrap_or("");
    if scheme != "notary.x509" && scheme != "notary.x509.signingAuthority" {
        return Err(format!("unknown signing scheme {scheme:?}"));
    }
    let crit: Vec<&str> = protected
        .get("crit")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !crit.contains(&SIGNING_SCHEME) {
        return Err(format!("{SIGNING_SCHEME} is not marked critical"));
    }
    for c in &crit {
        if ![SIGNING_SCHEME, EXPIRY, AUTHENTIC_SIGNING_TIME].contains(c) {
            return Err(format!("unknown critical header {c:?}"));
        }
        if protected.get(*c).is_none() {
            return Err(format!("critical header {c:?} is missing"));
        }
    }
    if let Some(exp) = protected.get(EXPIRY).and_then(Value::as_str) {
        let t = OffsetDateTime::parse(exp, &Rfc3339)
            .map_err(|e| format!("expiry {exp:?} is not RFC 3339: {e}"))?;
        if t <= now {
            return Err(format!("the signature expired at {exp}"));
        }
    }
    let x5c = env
        .pointer("/header/x5c")
        .and_then(Value::as_array)
        .ok_or("the envelope has no x5c certificate chain")?;
    let leaf_b64 = x5c
        .first()
        .and_then(Value::as_str)
        .ok_or("the x5c certificate chain is empty")?;
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(leaf_b64)
        .map_err(|e| format!("the leaf certificate is not base64: {e}"))?;
    super::cert::check_leaf_rules(&leaf).map_err(|b| {
        format!(
            "the leaf certificate breaks notation's rules: {}",
            b.join(", ")
        )
    })?;
    let info = crate::crypto::x509::parse_certificate_der(&leaf).map_err(|e| e.to_string())?;
    if info.not_after <= now {
        return Err(format!(
            "the leaf certificate expired at {}",
            info.not_after
        ));
    }
    let (keytype, method) = match (alg, &info.key_algorithm) {
        ("ES256", crate::crypto::x509::CertKeyAlgorithm::Ecdsa) => {
            (crate::tuf::keys::ECDSA, "ecdsa")
        }
        ("PS256", crate::crypto::x509::CertKeyAlgorithm::Rsa) => (crate::tuf::keys::RSA, "rsapss"),
        _ => {
            return Err(format!(
                "algorithm {alg:?} with a {:?} leaf key is not supported (ES256 with P-256, PS256 with RSA)",
                info.key_algorithm
            ))
        }
    };
    let key = VerifyingKey::from_public_key(&PublicKey::new(keytype, info.spki_der.clone()))
        .map_err(|e| e.to_string())?;
    let sig = unb64url(sig_b64)?;
    let input = format!("{protected_b64}.{payload_b64}");
    key.verify(method, input.as_bytes(), &sig).map_err(|_| {
        "the JWS signature does not verify with the leaf certificate's key".to_owned()
    })?;
    let payload: Value = serde_json::from_slice(&unb64url(payload_b64)?)
        .map_err(|e| format!("the payload is not JSON: {e}"))?;
    let signed = payload
        .pointer("/targetArtifact/digest")
        .and_then(Value::as_str)
        .unwrap_or("");
    if signed != digest {
        return Err(format!("the payload signs {signed}, not {digest}"));
    }
    Ok(EnvelopeInfo {
        leaf,
        key,
        signing_time: protected
            .get(SIGNING_TIME)
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// [`check_envelope`], and the leaf's key must be one of `keys`. Returns that key.
pub fn verify_envelope<'k>(
    bytes: &[u8],
    digest: &str,
    keys: &'k [TrustedKey],
    now: OffsetDateTime,
) -> Result<&'k TrustedKey, String> {
    let info = check_envelope(bytes, digest, now)?;
    find_trusted(keys, &info.key)
        .ok_or_else(|| "it is signed by a key that is not one of the keys".to_owned())
}

/// A notation signature found for an image.
#[derive(Debug, Clone)]
pub struct Found {
    /// The signature manifest's digest.
    pub manifest: String,
    /// The envelope's bytes, or why they could not be read.
    pub envelope: Result<Vec<u8>, String>,
}

/// Each notation signature of `subject`.
pub fn read_signatures(reg: &Registry, subject: &Subject) -> Result<Vec<Found>, OciError> {
    let mut out = Vec::new();
    for d in referrers::list(
        reg,
        &subject.repository,
        &subject.digest,
        Some(ARTIFACT_TYPE),
    )? {
        let Some(md) = d.get("digest").and_then(Value::as_str) else {
            continue;
        };
        let envelope = (|| -> Result<Vec<u8>, String> {
            let m = reg
                .get_manifest(&subject.repository, md)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the signature manifest {md} is gone"))?;
            let v: Value = serde_json::from_slice(&m.bytes).map_err(|e| e.to_string())?;
            if v.pointer("/subject/digest").and_then(Value::as_str) != Some(&subject.digest) {
                return Err(format!("the signature manifest {md} has another subject"));
            }
            let layer = v
                .get("layers")
                .and_then(Value::as_array)
                .and_then(|l| {
                    l.iter().find(|l| {
                        l.get("mediaType").and_then(Value::as_str) == Some(JWS_MEDIA_TYPE)
                    })
                })
                .ok_or_else(|| format!("the signature manifest {md} has no JWS envelope"))?;
            let ld = layer
                .get("digest")
                .and_then(Value::as_str)
                .ok_or("the envelope layer has no digest")?;
            reg.get_blob(&subject.repository, ld, MAX_SIGNATURE_BLOB_SIZE)
                .map_err(|e| e.to_string())
        })();
        out.push(Found {
            manifest: md.to_owned(),
            envelope,
        });
    }
    Ok(out)
}

/// Verifies the notation signatures of `subject` with `keys`.
pub fn verify(
    reg: &Registry,
    subject: &Subject,
    gun: &str,
    keys: &[TrustedKey],
    now: OffsetDateTime,
) -> Result<Verified, OciError> {
    let mut reasons = Vec::new();
    let sigs = read_signatures(reg, subject)?;
    if sigs.is_empty() {
        reasons.push(format!(
            "no signature refers to it (referrers API or index {}:{})",
            subject.repository,
            referrers::fallback_tag(&subject.digest)
        ));
    }
    for Found { manifest, envelope } in sigs {
        match envelope.and_then(|e| verify_envelope(&e, &subject.digest, keys, now).cloned()) {
            Ok(k) => {
                return Ok(Verified {
                    format: Format::Notation,
                    role: k.role,
                    key_id: k.key_id,
                    manifest,
                })
            }
            Err(r) => reasons.push(format!("{manifest}: {r}")),
        }
    }
    Err(OciError::NotSigned {
        format: Format::Notation,
        image: subject.pinned(),
        gun: gun.to_owned(),
        roles: role_names(keys),
        reasons,
    })
}

/// Where the certificate made for a key is kept: `<dir>/<key ID>.crt` (PEM).
pub fn certificate_path(dir: &Path, key_id: &KeyId) -> PathBuf {
    dir.join(format!("{key_id}.crt"))
}

/// The certificate for `signer`'s key kept in `dir`, or a new one written there. The
/// same certificate is reused for every signature, so a trust store made from it once
/// ([`super::export`]) keeps verifying.
pub fn certificate(
    dir: &Path,
    signer: &Signer<'_>,
    gun: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, OciError> {
    let path = certificate_path(dir, &signer.key_id);
    if let Some(der) = read_certificate(&path)? {
        if cert::spki_of(&der).is_ok_and(|s| s == signer.spki_der) {
            return Ok(der);
        }
    }
    let der = cert::make_certificate(signer, gun, now.unix_timestamp())?;
    let pem = crate::crypto::x509::to_pem("CERTIFICATE", &der);
    write_private(&path, pem.as_bytes())?;
    Ok(der)
}

/// A kept certificate (DER), if there is one.
pub fn read_certificate(path: &Path) -> Result<Option<Vec<u8>>, OciError> {
    let io = |e: std::io::Error| OciError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    match std::fs::read(path) {
        Ok(b) => {
            let block = pem::parse(&b).map_err(|e| OciError::Io {
                path: path.display().to_string(),
                message: format!("not a PEM certificate: {e}"),
            })?;
            Ok(Some(block.contents().to_vec()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename), directories 0700,
/// the file 0600.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let io = |e: std::io::Error| OciError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(io)
}

/// Publishes a notation signature of `subject` by `signer` with `cert_der`, unless one by
/// the same key is there already: blobs, then the signature manifest by digest, then
/// (for a registry without the referrers API) the fallback index. Nothing is tagged
/// before everything it names is stored.
pub fn publish(
    reg: &Registry,
    subject: &Subject,
    signer: &Signer<'_>,
    cert_der: &[u8],
    now: OffsetDateTime,
) -> Result<Published, OciError> {
    let own = [TrustedKey {
        role: signer.role.clone(),
        key_id: signer.key_id.clone(),
        key: signer.verifying_key()?,
    }];
    for found in read_signatures(reg, subject)? {
        if found
            .envelope
            .is_ok_and(|e| verify_envelope(&e, &subject.digest, &own, now).is_ok())
        {
            return Ok(Published::Exists);
        }
    }
    let artifact = format!("the notation signature of {}", subject.pinned());
    let envelope = sign_envelope(subject, signer, cert_der, now)?;
    reg.push_blob(&subject.repository, b"{}", &artifact)?;
    reg.push_blob(&subject.repository, &envelope, &artifact)?;
    let created = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default();
    let annotations = json!({
        THUMBPRINT_ANNOTATION: serde_json::to_string(&[cert::thumbprint(cert_der)]).expect("JSON"),
        "org.opencontainers.image.created": created,
    });
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": descriptor(OCI_EMPTY, b"{}"),
        "layers": [descriptor(JWS_MEDIA_TYPE, &envelope)],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
        "annotations": annotations,
    }))
    .expect("JSON");
    let digest = sha256_digest(&manifest);
    let pushed = reg.put_manifest(
        &subject.repository,
        &digest,
        OCI_MANIFEST,
        &manifest,
        &artifact,
    )?;
    if !pushed.oci_subject {
        let mut d = descriptor(OCI_MANIFEST, &manifest);
        d["artifactType"] = json!(ARTIFACT_TYPE);
        d["annotations"] = annotations;
        referrers::add_to_fallback(reg, &subject.repository, &subject.digest, d, &artifact)?;
    }
    Ok(Published::Pushed { manifest: digest })
}
