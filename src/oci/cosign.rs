//! cosign "simple signing" signatures (sigstore/cosign `specs/SIGNATURE_SPEC.md`).
//!
//! The payload names the image (`docker-reference`) and its manifest digest; the
//! signature is ECDSA P-256/SHA-256 over the payload bytes, ASN.1 DER, base64 in the
//! layer annotation `dev.cosignproject.cosign/signature`. All signatures of an image live
//! as layers of one OCI manifest tagged `sha256-<hex>.sig` in the image's repository.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::crypto::verify::VerifyingKey;
use crate::remote::registry::{Registry, MAX_SIGNATURE_BLOB_SIZE};

use super::*;

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// The tag cosign stores an image's signatures under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The payload cosign signs for `subject` (its exact bytes, as `cosign generate` writes
/// them: `critical` with `identity`, `image`, `type`; `optional` null).
pub fn payload(subject: &Subject) -> Vec<u8> {
    let v = json!({
        "critical": {
            "identity": {"docker-reference": subject.docker_reference()},
            "image": {"docker-manifest-digest": subject.digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&v).expect("JSON")
}

/// One layer of a signature manifest: the payload and its base64 DER signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub payload: Vec<u8>,
    pub signature_b64: String,
}

/// Checks a payload against the image digest: a cosign container image signature of
/// exactly `digest`.
pub fn check_payload(payload: &[u8], digest: &str) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let critical = v
        .get("critical")
        .ok_or("the payload has no \"critical\" section")?;
    let typ = critical.get("type").and_then(Value::as_str).unwrap_or("");
    if typ != PAYLOAD_TYPE {
        return Err(format!("the payload type is {typ:?}, not {PAYLOAD_TYPE:?}"));
    }
    let signed = critical
        .pointer("/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .unwrap_or("");
    if signed != digest {
        return Err(format!("the payload signs {signed}, not {digest}"));
    }
    Ok(())
}

/// Verifies one layer: the payload is for `digest` and the signature verifies with one
/// of `keys`. Returns that key.
pub fn verify_layer<'k>(
    layer: &Layer,
    digest: &str,
    keys: &'k [TrustedKey],
) -> Result<&'k TrustedKey, String> {
    check_payload(&layer.payload, digest)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(layer.signature_b64.trim())
        .map_err(|e| format!("the signature annotation is not base64: {e}"))?;
    let raw = der_to_raw(&der).ok_or("the signature is not an ASN.1 DER ECDSA P-256 signature")?;
    keys.iter()
        .find(|k| k.key.verify("ecdsa", &layer.payload, &raw).is_ok())
        .ok_or_else(|| "the signature verifies with none of the keys".to_owned())
}

/// Verifies a signature with one key (for the signer's own "is it there already" check).
fn verifies_with(layer: &Layer, digest: &str, key: &VerifyingKey) -> bool {
    if check_payload(&layer.payload, digest).is_err() {
        return false;
    }
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(layer.signature_b64.trim())
    else {
        return false;
    };
    der_to_raw(&der).is_some_and(|raw| key.verify("ecdsa", &layer.payload, &raw).is_ok())
}

/// The signature manifest of `subject` (its digest and its layers' descriptors as JSON),
/// or `None` when there is none.
fn read_manifest(
    reg: &Registry,
    subject: &Subject,
) -> Result<Option<(String, Vec<Value>)>, OciError> {
    let tag = signature_tag(&subject.digest);
    let Some(m) = reg.get_manifest(&subject.repository, &tag)? else {
        return Ok(None);
    };
    let what = format!("the cosign signature manifest {}:{tag}", subject.repository);
    let v: Value =
        serde_json::from_slice(&m.bytes).map_err(|e| OciError::malformed(&what, e.to_string()))?;
    let layers = v
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| OciError::malformed(&what, "no layers"))?;
    Ok(Some((m.digest, layers)))
}

/// The signature manifest of an image and its simple-signing layers; a layer that could
/// not be read holds the reason (not fatal: another layer may verify).
#[derive(Debug, Clone, Default)]
pub struct SignatureLayers {
    /// The manifest's digest; `None` when there is no `sha256-<hex>.sig` tag.
    pub manifest: Option<String>,
    pub layers: Vec<Result<Layer, String>>,
}

/// Reads every simple-signing layer of `subject`'s signature manifest.
pub fn read_layers(reg: &Registry, subject: &Subject) -> Result<SignatureLayers, OciError> {
    let found = read_manifest(reg, subject)?;
    Ok(layers_of(reg, subject, found.as_ref()))
}

fn layers_of(
    reg: &Registry,
    subject: &Subject,
    found: Option<&(String, Vec<Value>)>,
) -> SignatureLayers {
    let Some((manifest, layers)) = found else {
        return SignatureLayers::default();
    };
    let mut out = Vec::new();
    for l in layers {
        if l.get("mediaType").and_then(Value::as_str) != Some(SIMPLE_SIGNING) {
            continue;
        }
        let Some(sig) = l
            .pointer(&format!(
                "/annotations/{}",
                SIGNATURE_ANNOTATION.replace('/', "~1")
            ))
            .and_then(Value::as_str)
        else {
            out.push(Err("a layer without a signature annotation".to_owned()));
            continue;
        };
        let Some(digest) = l.get("digest").and_then(Value::as_str) else {
            out.push(Err("a layer without a digest".to_owned()));
            continue;
        };
        match reg.get_blob(&subject.repository, digest, MAX_SIGNATURE_BLOB_SIZE) {
            Ok(payload) => out.push(Ok(Layer {
                payload,
                signature_b64: sig.to_owned(),
            })),
            Err(e) => out.push(Err(e.to_string())),
        }
    }
    SignatureLayers {
        manifest: Some(manifest.clone()),
        layers: out,
    }
}

/// Verifies the cosign signatures of `subject` with `keys`: the first layer that verifies
/// wins; none: [`OciError::NotSigned`] with each layer's reason.
pub fn verify(
    reg: &Registry,
    subject: &Subject,
    gun: &str,
    keys: &[TrustedKey],
) -> Result<Verified, OciError> {
    let SignatureLayers { manifest, layers } = read_layers(reg, subject)?;
    let mut reasons = Vec::new();
    if manifest.is_none() {
        reasons.push(format!(
            "no signature manifest {}:{}",
            subject.repository,
            signature_tag(&subject.digest)
        ));
    }
    for l in layers {
        match l.and_then(|l| verify_layer(&l, &subject.digest, keys).cloned()) {
            Ok(k) => {
                return Ok(Verified {
                    format: Format::Cosign,
                    role: k.role,
                    key_id: k.key_id,
                    manifest: manifest.unwrap_or_default(),
                })
            }
            Err(r) => reasons.push(r),
        }
    }
    Err(OciError::NotSigned {
        format: Format::Cosign,
        image: subject.pinned(),
        gun: gun.to_owned(),
        roles: role_names(keys),
        reasons,
    })
}

/// Publishes a cosign signature of `subject` by `signer`, unless one by the same key is
/// there already. The new signature is appended to the layers already there (other
/// signers' signatures are kept). The manifest is pushed last: a failed blob upload
/// leaves the tag as it was.
pub fn publish(
    reg: &Registry,
    subject: &Subject,
    signer: &Signer<'_>,
) -> Result<Published, OciError> {
    let key = signer.verifying_key()?;
    let existing = read_manifest(reg, subject)?;
    if layers_of(reg, subject, existing.as_ref())
        .layers
        .iter()
        .flatten()
        .any(|l| verifies_with(l, &subject.digest, &key))
    {
        return Ok(Published::Exists);
    }
    let artifact = format!("the cosign signature of {}", subject.pinned());
    let payload = payload(subject);
    let sig = base64::engine::general_purpose::STANDARD.encode(signer.sign_der(&payload)?);
    reg.push_blob(&subject.repository, &payload, &artifact)?;
    let mut layer = descriptor(SIMPLE_SIGNING, &payload);
    layer["annotations"] = json!({ SIGNATURE_ANNOTATION: sig });
    let mut all: Vec<Value> = existing.map(|(_, l)| l).unwrap_or_default();
    all.push(layer);
    let diff_ids: Vec<Value> = all
        .iter()
        .filter_map(|l| l.get("digest").cloned())
        .collect();
    // The config cosign writes: an image config whose rootfs lists the payloads.
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("JSON");
    reg.push_blob(&subject.repository, &config, &artifact)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(CONFIG_MEDIA_TYPE, &config),
        "layers": all,
    }))
    .expect("JSON");
    let pushed = reg.put_manifest(
        &subject.repository,
        &signature_tag(&subject.digest),
        OCI_MANIFEST,
        &manifest,
        &artifact,
    )?;
    Ok(Published::Pushed {
        manifest: pushed.digest,
    })
}
