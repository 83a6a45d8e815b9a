//! What verifiers outside vouch need to check the OCI signatures of a repository:
//! `cosign.pub` (the signing key as a PEM public key, for `cosign verify --key`), and for
//! notation a trust store folder with the signing certificate and `trustpolicy.oci.json`
//! scoped to the repository. Keys come from the verified TUF metadata; a certificate is
//! only exported when its public key is one of those keys.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

/// One key to export: its role, listed ID, DER SubjectPublicKeyInfo, and the notation
/// certificate made for it (if one was made here).
#[derive(Debug, Clone)]
pub struct ExportKey {
    pub role: String,
    pub key_id: KeyId,
    pub spki_der: Vec<u8>,
    pub certificate: Option<Vec<u8>>,
}

/// The trust store (and policy) name for a GUN: notation allows `[A-Za-z0-9_.-]+`.
pub fn store_name(gun: &str) -> String {
    let s: String = gun
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("vouch_{s}")
}

/// The trust policy document for `scope` (`registry/repository`) trusting certificates
/// of store `name` whose subject is vouch's subject for `gun`.
pub fn trust_policy(name: &str, scope: &str, gun: &str) -> serde_json::Value {
    json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": name,
            "registryScopes": [scope],
            "signatureVerification": {"level": "strict"},
            "trustStores": [format!("ca:{name}")],
            "trustedIdentities": [format!("x509.subject: {}", cert::subject_string(gun))],
        }]
    })
}

/// Writes into `out`: `cosign.pub` (the first key; with several keys also
/// `cosign-<role>-<key ID>.pub` for each), and, when some key has a certificate,
/// `truststore/x509/ca/<name>/<key ID>.crt` and `trustpolicy.oci.json`. Returns the files
/// written. A certificate whose public key is not the key's is refused.
pub fn export(
    out: &Path,
    gun: &str,
    scope: &str,
    keys: &[ExportKey],
) -> Result<Vec<PathBuf>, OciError> {
    if keys.is_empty() {
        return Err(OciError::BadInput(format!(
            "{gun}'s verified metadata lists no ECDSA key for the targets role or its delegations"
        )));
    }
    let mut written = Vec::new();
    let mut write = |path: PathBuf, bytes: &[u8]| -> Result<(), OciError> {
        write_public(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    let pem_of = |spki: &[u8]| crate::crypto::x509::to_pem("PUBLIC KEY", spki);
    write(out.join("cosign.pub"), pem_of(&keys[0].spki_der).as_bytes())?;
    if keys.len() > 1 {
        for k in keys {
            let role = k.role.replace('/', "_");
            write(
                out.join(format!("cosign-{role}-{}.pub", k.key_id.short())),
                pem_of(&k.spki_der).as_bytes(),
            )?;
        }
    }
    let name = store_name(gun);
    let mut any_cert = false;
    for k in keys {
        let Some(der) = &k.certificate else { continue };
        if cert::spki_of(der).map_err(|e| OciError::malformed("a notation certificate", e))?
            != k.spki_der
        {
            return Err(OciError::malformed(
                format!("the notation certificate kept for key {}", k.key_id),
                "its public key is not the key the verified metadata lists",
            ));
        }
        let pem = crate::crypto::x509::to_pem("CERTIFICATE", der);
        write(
            out.join("truststore/x509/ca")
                .join(&name)
                .join(format!("{}.crt", k.key_id)),
            pem.as_bytes(),
        )?;
        any_cert = true;
    }
    if any_cert {
        let policy = serde_json::to_vec_pretty(&trust_policy(&name, scope, gun)).expect("JSON");
        write(out.join("trustpolicy.oci.json"), &policy)?;
    }
    Ok(written)
}

/// Atomic write, readable by others (these are public keys and certificates).
fn write_public(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    notation::write_private(path, bytes)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(|e| {
        OciError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    })
}
