//! Offline root ceremonies: plan a new root where the network is, sign it where the root
//! key lives (no network, no server configuration), apply it where the network is.
//!
//! The request file is JSON: the new root object, the signatures gathered so far, which
//! keys must sign (the current root keys, for clients holding the current root, and the
//! new root keys), and a human-readable summary of what changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::Error;
use crate::keystore::{KeyStore, PassphraseSource};
use crate::tuf::{cjson, encode_envelope, keys, Expires, PublicKey, RoleKeys, Root, Signature};

use super::TrustError;

pub const REQUEST_FORMAT: u32 = 1;

/// Keys that must sign, with their threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Signers {
    pub threshold: i64,
    /// Key ID as listed in root.json → the key (certificate).
    pub keys: BTreeMap<String, PublicKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RootRequest {
    pub vouch_root_request: u32,
    pub gun: String,
    /// The root this request replaces.
    pub current_version: i64,
    pub current_sha256: String,
    /// The new root (the `signed` part).
    pub root: Root,
    pub signatures: Vec<Signature>,
    pub current_root_signers: Signers,
    pub new_root_signers: Signers,
    pub summary: Vec<String>,
}

/// Build a request from the verified current root.
pub fn plan(
    gun: &str,
    current: &crate::tuf::Verified<Root>,
    new_root_cert: Option<PublicKey>,
    expires_in: time::Duration,
    clock: &dyn Clock,
) -> Result<RootRequest, Error> {
    let old = current.role();
    let mut root = old.clone();
    root.version = super::next_version(gun, "root", root.version)?;
    root.expires = Expires::new(clock.now() + expires_in)?;
    let mut summary = vec![
        format!(
            "repository {gun}: root version {} -> {}",
            old.version, root.version
        ),
        format!("expires {} -> {}", old.expires, root.expires),
    ];
    if let Some(cert) = new_root_cert {
        if cert.keytype != keys::ECDSA_X509 && cert.keytype != keys::RSA_X509 {
            return Err(TrustError::BadInput("the new root key must be given as a certificate (`vouch key public KEYID --gun GUN`)".into()).into());
        }
        crate::crypto::x509::validate_root_cert(&cert.public, gun, clock.now(), true)?;
        let id = cert.key_id().to_string();
        summary.push(format!(
            "root key: {} -> {}",
            old_root_ids(old).join(", "),
            cert.canonical_key_id()
                .map(|c| c.to_string())
                .unwrap_or_else(|_| id.clone())
        ));
        root.keys.insert(id.clone(), cert);
        root.roles.insert("root".into(), RoleKeys::new(vec![id], 1));
    } else {
        summary.push("root keys unchanged (re-signing)".into());
    }
    let current_root_signers = signers_of(old)?;
    let new_root_signers = signers_of(&root)?;
    summary.push(format!(
        "must be signed by {} of the current root keys [{}] and {} of the new root keys [{}]",
        current_root_signers.threshold,
        canonical_ids(&current_root_signers).join(", "),
        new_root_signers.threshold,
        canonical_ids(&new_root_signers).join(", ")
    ));
    Ok(RootRequest {
        vouch_root_request: REQUEST_FORMAT,
        gun: gun.to_owned(),
        current_version: old.version,
        current_sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(current.bytes())),
        root,
        signatures: Vec::new(),
        current_root_signers,
        new_root_signers,
        summary,
    })
}

fn old_root_ids(root: &Root) -> Vec<String> {
    signers_of(root)
        .map(|s| canonical_ids(&s))
        .unwrap_or_default()
}

fn signers_of(root: &Root) -> Result<Signers, Error> {
    let r = root.base_role("root")?;
    Ok(Signers {
        threshold: r.threshold,
        keys: r.keys,
    })
}

fn canonical_ids(s: &Signers) -> Vec<String> {
    s.keys
        .values()
        .filter_map(|k| k.canonical_key_id().ok())
        .map(|k| k.to_string())
        .collect()
}

impl RootRequest {
    pub fn parse(bytes: &[u8]) -> Result<RootRequest, TrustError> {
        let r: RootRequest = serde_json::from_slice(bytes)
            .map_err(|e| TrustError::BadInput(format!("not a root signing request: {e}")))?;
        if r.vouch_root_request != REQUEST_FORMAT {
            return Err(TrustError::BadInput(format!(
                "root request format {} is not supported (expected {REQUEST_FORMAT})",
                r.vouch_root_request
            )));
        }
        Ok(r)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("requests serialize");
        s.push('\n');
        s
    }

    /// Add signatures from every required key in `keys`. Returns the key IDs that signed.
    pub fn sign(
        &mut self,
        keys: &KeyStore,
        pass: &dyn PassphraseSource,
    ) -> Result<Vec<String>, Error> {
        let msg = cjson::to_canonical_from(&self.root)?;
        let mut all: BTreeMap<String, PublicKey> = self.current_root_signers.keys.clone();
        all.extend(self.new_root_signers.keys.clone());
        let mut signed = Vec::new();
        for (listed, key) in all {
            let Ok(canonical) = key.canonical_key_id() else {
                continue;
            };
            if keys.info(&canonical).is_err() {
                continue;
            }
            let (pk, _) = keys.load(&canonical, pass)?;
            if pk.public_key().canonical_key_id()? != canonical {
                continue;
            }
            use crate::crypto::SignatureProvider;
            let sig = pk.sign(&msg)?;
            self.signatures.retain(|s| s.keyid != listed);
            self.signatures.push(Signature {
                keyid: listed.clone(),
                method: pk.method().to_owned(),
                sig,
            });
            signed.push(canonical.to_string());
        }
        if signed.is_empty() {
            return Err(TrustError::MissingKey {
                gun: self.gun.clone(),
                role: "root".into(),
                keyids: canonical_ids(&self.current_root_signers)
                    .into_iter()
                    .chain(canonical_ids(&self.new_root_signers))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        Ok(signed)
    }

    /// The signed root file (`{"signed":…,"signatures":…}`).
    pub fn signed_bytes(&self) -> Result<Vec<u8>, Error> {
        let canonical = cjson::to_canonical_from(&self.root)?;
        Ok(encode_envelope(&canonical, &self.signatures)?)
    }
}
