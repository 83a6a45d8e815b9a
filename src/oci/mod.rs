//! OCI signatures from the same keys as the Notary v1 (TUF) repository: cosign "simple
//! signing" signatures ([`cosign`]) and Notary Project JWS signatures ([`notation`]),
//! published next to the image in its registry and verified with the keys the verified
//! TUF metadata lists.
//!
//! Keys for verification come only from a verified [`RepoState`] ([`trusted_keys`]):
//! nothing read from the registry (a certificate in an envelope, a public key in an
//! annotation) is ever trusted by itself — its public key must be one of those keys.
//!
//! Signing goes through [`SignatureProvider`] (ECDSA P-256: raw `r ‖ s`), converted to
//! ASN.1 DER where cosign wants it. Nothing here prints or prompts.

use crate::crypto::verify::VerifyingKey;
use crate::crypto::{CryptoError, SignatureProvider};
use crate::exit::ExitCode;
use crate::remote::registry::RegistryError;
use crate::trust::state::RepoState;
use crate::tuf::keys::PublicKey;
use crate::tuf::KeyId;

pub mod cert;
pub mod cosign;
pub mod export;
pub mod notation;
pub mod referrers;

#[cfg(test)]
mod tests;

pub const OCI_MANIFEST: &str = crate::remote::registry::OCI_MANIFEST;
pub const OCI_INDEX: &str = crate::remote::registry::OCI_INDEX;
/// The OCI empty descriptor's media type and content (`{}`).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// The signature formats vouch publishes and verifies besides Notary v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Cosign,
    Notation,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Cosign => "cosign",
            Format::Notation => "notation",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cosign" => Some(Format::Cosign),
            "notation" | "notary-project" => Some(Format::Notation),
            _ => None,
        }
    }

    /// `cosign,notation` → both; duplicates collapse; an unknown name is an error
    /// naming it.
    pub fn parse_list(s: &str) -> Result<Vec<Format>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let f = Format::parse(part).ok_or_else(|| {
                format!("unknown OCI signature format {part:?}: expected cosign or notation")
            })?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out.sort();
        Ok(out)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong with OCI signatures.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// cosign and notation (ES256) signatures need an ECDSA P-256 key.
    #[error(
        "the {role} key {key_id} is {keytype}: OCI signatures are made with ECDSA P-256 keys only"
    )]
    UnsupportedKey {
        role: String,
        key_id: String,
        keytype: String,
    },
    /// No signature of this format verifies with a trusted key.
    #[error("{image}: no {format} signature verifies with the keys {gun}'s verified TUF metadata lists ({roles}){}", reasons_suffix(reasons))]
    NotSigned {
        format: Format,
        image: String,
        gun: String,
        roles: String,
        reasons: Vec<String>,
    },
    /// `verify --format any`: no format verified.
    #[error("{image}: no signature verifies in any format: {}", reasons.join("; "))]
    NoneVerifies { image: String, reasons: Vec<String> },
    /// A signature artifact that is not what its format says.
    #[error("{what} is malformed: {reason}")]
    Malformed { what: String, reason: String },
    /// A local file (certificate cache, export) could not be read or written.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    BadInput(String),
}

fn reasons_suffix(reasons: &[String]) -> String {
    if reasons.is_empty() {
        ": none found".into()
    } else {
        format!(": {}", reasons.join("; "))
    }
}

impl OciError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            OciError::Registry(e) => e.exit_code(),
            OciError::Crypto(e) => e.exit_code(),
            OciError::UnsupportedKey { .. } | OciError::BadInput(_) => ExitCode::Usage,
            OciError::NotSigned { .. }
            | OciError::NoneVerifies { .. }
            | OciError::Malformed { .. } => ExitCode::NotTrusted,
            OciError::Io { .. } => ExitCode::Keystore,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, reason: impl Into<String>) -> OciError {
        OciError::Malformed {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// An image in a registry: host, repository path, and the manifest to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path in the registry (`team/app`).
    pub repository: String,
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

impl Subject {
    /// `registry/repository`, as cosign's `docker-reference` and notation's registry
    /// scopes write it.
    pub fn docker_reference(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository@sha256:…`.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.docker_reference(), self.digest)
    }

    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// A key the verified TUF metadata lists for a role that may sign the image.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub role: String,
    /// The key ID as the role lists it.
    pub key_id: KeyId,
    pub key: VerifyingKey,
}

/// The keys of every role that may sign the docker tag `tag` in a verified state:
/// `targets` (from the root) and each delegation that every delegation above it allows to
/// sign the tag (its paths, and its parents' paths, as for a Notary v1 target; from the
/// parent's verified targets file). A role whose threshold is above 1 is left out: one
/// OCI signature cannot meet it. Keys that cannot verify (unknown types) are left out.
pub fn trusted_keys(state: &RepoState, tag: Option<&str>) -> Vec<TrustedKey> {
    let targets = |name: &str| state.targets().get(name).map(|t| t.role());
    keys_for(
        state.root().role(),
        &targets,
        state.targets().keys().map(String::as_str),
        tag,
    )
}

/// [`trusted_keys`] over plain metadata: `root`, the verified targets files by role name
/// (`targets`), and the names of the roles that have one (`roles`).
fn keys_for<'t>(
    root: &crate::tuf::Root,
    targets: &dyn Fn(&str) -> Option<&'t crate::tuf::targets::Targets>,
    roles: impl Iterator<Item = &'t str>,
    tag: Option<&str>,
) -> Vec<TrustedKey> {
    let mut out = Vec::new();
    let mut add = |role: &crate::tuf::roles::BaseRole| {
        if role.threshold > 1 {
            return;
        }
        for (id, k) in &role.keys {
            let (Ok(key_id), Ok(key)) = (KeyId::parse(id), VerifyingKey::from_public_key(k)) else {
                continue;
            };
            out.push(TrustedKey {
                role: role.name.clone(),
                key_id,
                key,
            });
        }
    };
    if let Ok(r) = root.base_role(crate::tuf::roles::TARGETS) {
        add(&r);
    }
    for name in roles {
        let Some(parent) = crate::tuf::roles::parent_role(name) else {
            continue;
        };
        if !chain_allows(targets, name, tag) {
            continue;
        }
        if let Some(r) = targets(parent).and_then(|p| p.delegation_role(name).ok()) {
            add(&r);
        }
    }
    out
}

/// Whether delegation `role` may sign `tag`: its entry in its parent's targets file allows
/// the tag, and so does each ancestor's entry up to `targets`.
fn chain_allows<'t>(
    targets: &dyn Fn(&str) -> Option<&'t crate::tuf::targets::Targets>,
    role: &str,
    tag: Option<&str>,
) -> bool {
    let mut name = role;
    while let Some(parent) = crate::tuf::roles::parent_role(name) {
        let Some(entry) = targets(parent).and_then(|p| p.delegation(name)) else {
            return false;
        };
        if let Some(tag) = tag {
            if !entry.paths.iter().any(|p| tag.starts_with(p.as_str())) {
                return false;
            }
        }
        if parent == crate::tuf::roles::TARGETS {
            return true;
        }
        name = parent;
    }
    false
}

/// The names of the roles of `keys`, for messages.
pub fn role_names(keys: &[TrustedKey]) -> String {
    let mut roles: Vec<&str> = keys.iter().map(|k| k.role.as_str()).collect();
    roles.dedup();
    if roles.is_empty() {
        "no usable keys".into()
    } else {
        roles.join(", ")
    }
}

/// The trusted key `candidate` is, if any (the same public key, however wrapped).
pub fn find_trusted<'a>(
    keys: &'a [TrustedKey],
    candidate: &VerifyingKey,
) -> Option<&'a TrustedKey> {
    let fp = candidate.fingerprint();
    keys.iter().find(|k| k.key.fingerprint() == fp)
}

/// A signing key: a provider of ECDSA P-256 signatures and its public key.
pub struct Signer<'a> {
    pub role: String,
    pub key_id: KeyId,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    pub provider: &'a dyn SignatureProvider,
}

impl<'a> Signer<'a> {
    /// `public` is the role's listed key (`ecdsa` SPKI or `ecdsa-x509` certificate).
    pub fn new(
        role: &str,
        key_id: KeyId,
        public: &PublicKey,
        provider: &'a dyn SignatureProvider,
    ) -> Result<Signer<'a>, OciError> {
        let unsupported = || OciError::UnsupportedKey {
            role: role.to_owned(),
            key_id: key_id.to_string(),
            keytype: public.keytype.clone(),
        };
        if provider.method() != "ecdsa" {
            return Err(unsupported());
        }
        let spki_der = match public.keytype.as_str() {
            crate::tuf::keys::ECDSA => public.public.clone(),
            crate::tuf::keys::ECDSA_X509 => {
                crate::crypto::x509::key_certificate(&public.public)?.spki_der
            }
            _ => return Err(unsupported()),
        };
        Ok(Signer {
            role: role.to_owned(),
            key_id,
            spki_der,
            provider,
        })
    }

    /// The verifying half.
    pub fn verifying_key(&self) -> Result<VerifyingKey, OciError> {
        Ok(VerifyingKey::from_public_key(&PublicKey::new(
            crate::tuf::keys::ECDSA,
            self.spki_der.clone(),
        ))?)
    }

    /// Raw `r ‖ s` (64 bytes) over SHA-256 of `msg`.
    pub fn sign_raw(&self, msg: &[u8]) -> Result<Vec<u8>, OciError> {
        let sig = self.provider.sign(msg)?;
        if sig.len() != 64 {
            return Err(OciError::Crypto(CryptoError::SigningFailed(format!(
                "expected a 64-byte ECDSA P-256 signature, got {} bytes",
                sig.len()
            ))));
        }
        Ok(sig)
    }

    /// ASN.1 DER `ECDSA-Sig-Value` over SHA-256 of `msg` (what cosign and X.509 want).
    pub fn sign_der(&self, msg: &[u8]) -> Result<Vec<u8>, OciError> {
        raw_to_der(&self.sign_raw(msg)?)
    }
}

/// Raw `r ‖ s` → DER.
pub fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, OciError> {
    let sig = p256::ecdsa::Signature::from_slice(raw).map_err(|e| {
        OciError::Crypto(CryptoError::SigningFailed(format!(
            "not an ECDSA P-256 signature: {e}"
        )))
    })?;
    Ok(sig.to_der().as_bytes().to_vec())
}

/// DER → raw `r ‖ s` (`None` when it is not a P-256 DER signature).
pub fn der_to_raw(der: &[u8]) -> Option<Vec<u8>> {
    p256::ecdsa::Signature::from_der(der)
        .ok()
        .map(|s| s.to_bytes().to_vec())
}

pub(crate) fn sha256_digest(b: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// A content descriptor as it goes into manifests and indexes.
pub(crate) fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": media_type,
        "digest": sha256_digest(bytes),
        "size": bytes.len(),
    })
}

/// What publishing one signature did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Pushed: the signature manifest's digest (and for cosign, its tag).
    Pushed { manifest: String },
    /// A signature by this key over this digest was there already.
    Exists,
}

/// One verified OCI signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub format: Format,
    pub role: String,
    pub key_id: KeyId,
    /// The signature manifest it was read from.
    pub manifest: String,
}
