//! Offline root ceremonies: plan a new root where the network is, sign it where the root
//! key lives (no network, no server configuration), apply it where the network is.
//!
//! The request file is JSON: the current root exactly as the repository served it (and its
//! sha256), the new root object and the signatures gathered so far. Nothing else in it is
//! trusted: the signer checks that the current root is the one the hash names and that it
//! is signed by its own root keys, that the new root is its successor, and computes what
//! changes from the two objects ([`RootDiff`]). Who must sign comes from the two roots, not
//! from the request. `apply` checks that the repository is still at the root the request
//! was made against.

use crate::crypto::CanonicalKeyId as _;
use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::exit::ExitCode;
use crate::keystore::{KeyStore, PassphraseSource};
use crate::trust::Error;
use crate::tuf::{
    cjson, encode_envelope, keys, BaseRole, Expires, PublicKey, RoleKeys, Root, Signature, Verified,
};

use super::TrustError;

/// Version 2: the current root travels with the request; no signer list, no summary text.
pub const REQUEST_FORMAT: u32 = 2;

const BASE_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    #[error("not a root signing request: {0}")]
    NotARequest(String),
    #[error(
        "root request format {found} is not supported (this vouch reads format {REQUEST_FORMAT})"
    )]
    Format { found: u64 },
    /// The request does not hold together: altered after `plan`, or not made by it.
    #[error("the root request for {gun} cannot be trusted: {reason}")]
    Tampered { gun: String, reason: String },
    /// The repository is no longer at the root the request was made against.
    #[error("the request was made for root version {requested_version} (sha256 {requested_sha256}) of {gun}, but the repository is now at root version {current_version} (sha256 {current_sha256})")]
    Stale {
        gun: String,
        requested_version: i64,
        requested_sha256: String,
        current_version: i64,
        current_sha256: String,
    },
}

impl CeremonyError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CeremonyError::Tampered { .. } => ExitCode::NotTrusted,
            CeremonyError::NotARequest(_)
            | CeremonyError::Format { .. }
            | CeremonyError::Stale { .. } => ExitCode::Usage,
        }
    }
}

impl From<CeremonyError> for Error {
    fn from(e: CeremonyError) -> Self {
        Error::Trust(TrustError::Ceremony(e))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RootRequest {
    pub vouch_root_request: u32,
    pub gun: String,
    /// The root this request replaces: its version, the sha256 of its file, and the file
    /// itself (base64, exactly as the repository served it).
    pub current_version: i64,
    pub current_sha256: String,
    pub current_root: String,
    /// The new root (the `signed` part).
    pub root: Root,
    pub signatures: Vec<Signature>,
}

/// A request that holds together: the verified current root, the keys that must sign, and
/// what changes.
pub struct Review {
    pub current: Verified<Root>,
    /// The current root's root role: clients holding it need these signatures.
    pub current_signers: BaseRole,
    /// The new root's root role.
    pub new_signers: BaseRole,
    pub diff: RootDiff,
}

/// Where the repository is relative to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyState {
    /// The repository is at the root the request was made against.
    Ready,
    /// The repository's root already is the request's new root.
    AlreadyApplied,
}

/// Build a request from the verified current root.
pub fn plan(
    gun: &str,
    current: &Verified<Root>,
    new_root_cert: Option<PublicKey>,
    expires_in: time::Duration,
    clock: &dyn Clock,
) -> Result<RootRequest, Error> {
    let old = current.role();
    let mut root = old.clone();
    root.version = super::next_version(gun, "root", root.version)?;
    root.expires = Expires::new(clock.now() + expires_in)?;
    if let Some(cert) = new_root_cert {
        if cert.keytype != keys::ECDSA_X509 && cert.keytype != keys::RSA_X509 {
            return Err(TrustError::BadInput("the new root key must be given as a certificate (an ecdsa-x509 or rsa-x509 public key, as notary lists root keys)".into()).into());
        }
        crate::crypto::x509::validate_root_cert(&cert.public, gun, clock.now(), true)?;
        let id = cert.key_id().to_string();
        root.keys.insert(id.clone(), cert);
        root.roles.insert("root".into(), RoleKeys::new(vec![id], 1));
    }
    Ok(RootRequest {
        vouch_root_request: REQUEST_FORMAT,
        gun: gun.to_owned(),
        current_version: old.version,
        current_sha256: sha256_hex(current.bytes()),
        current_root: base64::engine::general_purpose::STANDARD.encode(current.bytes()),
        root,
        signatures: Vec::new(),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// How a key is named to people: its canonical (public key) ID, which stays the same when
/// its certificate is re-issued.
fn display_id(listed: &str, key: Option<&PublicKey>) -> String {
    match key {
        Some(k) => k
            .canonical_key_id()
            .map(|c| c.to_string())
            .unwrap_or_else(|_| listed.to_owned()),
        None => format!("{listed} (not in root.json's keys)"),
    }
}

fn canonical_ids(role: &BaseRole) -> Vec<String> {
    role.keys
        .iter()
        .map(|(id, k)| display_id(id, Some(k)))
        .collect()
}

impl RootRequest {
    pub fn parse(bytes: &[u8]) -> Result<RootRequest, CeremonyError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| CeremonyError::NotARequest(e.to_string()))?;
        let format = v
            .get("vouch_root_request")
            .and_then(|f| f.as_u64())
            .ok_or_else(|| CeremonyError::NotARequest("no \"vouch_root_request\" format".into()))?;
        if format != u64::from(REQUEST_FORMAT) {
            return Err(CeremonyError::Format { found: format });
        }
        serde_json::from_value(v).map_err(|e| CeremonyError::NotARequest(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("requests serialize");
        s.push('\n');
        s
    }

    fn tampered(&self, reason: impl Into<String>) -> CeremonyError {
        CeremonyError::Tampered {
            gun: self.gun.clone(),
            reason: reason.into(),
        }
    }

    /// Check that the request holds together, and compute what it changes. Needs no
    /// network: the current root travels in the request and must be the one its sha256
    /// names, signed by its own root keys; the new root must be its successor.
    pub fn review(&self, now: OffsetDateTime) -> Result<Review, Error> {
        let gun = self.gun.as_str();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.current_root)
            .map_err(|e| self.tampered(format!("the current root is not base64: {e}")))?;
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&self.current_sha256) {
            return Err(self
                .tampered(format!(
                    "the current root it carries has sha256 {actual}, not {} as the request says",
                    self.current_sha256
                ))
                .into());
        }
        let unverified = crate::tuf::Signed::<Root>::from_bytes(&bytes)
            .map_err(|e| self.tampered(format!("the current root does not parse: {e}")))?;
        let role =
            super::state::root_role(gun, unverified.untrusted(), now, false).map_err(|e| {
                self.tampered(format!(
                    "the current root's keys are not root certificates for {gun}: {e}"
                ))
            })?;
        let current =
            super::state::verify_role::<Root>(gun, "root", &bytes, &role).map_err(|e| {
                self.tampered(format!(
                    "the current root is not signed by its own root keys: {e}"
                ))
            })?;
        if current.role().version != self.current_version {
            return Err(self
                .tampered(format!(
                    "the current root is version {}, the request says {}",
                    current.role().version,
                    self.current_version
                ))
                .into());
        }
        let expected = super::next_version(gun, "root", current.role().version)?;
        if self.root.version != expected {
            return Err(self
                .tampered(format!(
                    "the new root is version {}, not {expected} (the current version {} + 1)",
                    self.root.version,
                    current.role().version
                ))
                .into());
        }
        for name in BASE_ROLES {
            let r = self
                .root
                .base_role(name)
                .map_err(|e| self.tampered(format!("the new root is not a valid root: {e}")))?;
            if r.threshold < 1 || r.keys.is_empty() {
                return Err(self
                    .tampered(format!(
                        "the new root's {name} role has threshold {} and {} key(s)",
                        r.threshold,
                        r.keys.len()
                    ))
                    .into());
            }
        }
        let new_signers = super::state::root_role(gun, &self.root, now, true).map_err(|e| {
            self.tampered(format!(
                "the new root's keys are not valid root certificates for {gun}: {e}"
            ))
        })?;
        let current_signers = role;
        let diff = RootDiff::between(gun, current.role(), &self.root, now);
        Ok(Review {
            current,
            current_signers,
            new_signers,
            diff,
        })
    }

    /// Add signatures from every required key in `keys`: the current root's root keys and
    /// the new root's. Returns the (canonical) key IDs that signed. The request is reviewed
    /// first; a request that does not hold together is not signed.
    pub fn sign(
        &mut self,
        keys: &KeyStore,
        pass: &dyn PassphraseSource,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, Error> {
        let review = self.review(now)?;
        let msg = cjson::to_canonical_from(&self.root)?;
        let mut all: BTreeMap<String, PublicKey> = review.current_signers.keys.clone();
        all.extend(review.new_signers.keys.clone());
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
            if !signed.contains(&canonical.to_string()) {
                signed.push(canonical.to_string());
            }
        }
        if signed.is_empty() {
            return Err(TrustError::MissingKey {
                gun: self.gun.clone(),
                role: "root".into(),
                keyids: canonical_ids(&review.current_signers)
                    .into_iter()
                    .chain(canonical_ids(&review.new_signers))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        Ok(signed)
    }

    /// Where the repository, whose verified current root is `repo_root`, stands relative to
    /// this request.
    pub fn check_against(&self, repo_root: &Verified<Root>) -> Result<ApplyState, Error> {
        let repo_sha = sha256_hex(repo_root.bytes());
        if repo_sha.eq_ignore_ascii_case(&self.current_sha256) {
            return Ok(ApplyState::Ready);
        }
        if repo_root.role().version == self.root.version
            && cjson::to_canonical_from(repo_root.role())? == cjson::to_canonical_from(&self.root)?
        {
            return Ok(ApplyState::AlreadyApplied);
        }
        Err(CeremonyError::Stale {
            gun: self.gun.clone(),
            requested_version: self.current_version,
            requested_sha256: self.current_sha256.clone(),
            current_version: repo_root.role().version,
            current_sha256: repo_sha,
        }
        .into())
    }

    /// The signed root file (`{"signed":…,"signatures":…}`).
    pub fn signed_bytes(&self) -> Result<Vec<u8>, Error> {
        let canonical = cjson::to_canonical_from(&self.root)?;
        Ok(encode_envelope(&canonical, &self.signatures)?)
    }
}

/// What changes between two roots, computed from the objects.
#[derive(Debug, Clone, PartialEq)]
pub struct RootDiff {
    pub gun: String,
    pub version: (i64, i64),
    pub expires: (String, String),
    /// The new root has already expired.
    pub new_expired: bool,
    /// Every role of either root, in root, targets, snapshot, timestamp, then name order.
    pub roles: Vec<RoleDiff>,
    /// Other top-level fields, or fields of role entries, whose values differ.
    pub other_fields: Vec<String>,
    /// Who must sign: (threshold, canonical key IDs) of the current and the new root role.
    pub current_signers: (i64, Vec<String>),
    pub new_signers: (i64, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleDiff {
    pub role: String,
    /// None: not in that root.
    pub threshold: (Option<i64>, Option<i64>),
    pub keys_before: Vec<String>,
    pub keys_after: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Keys in both whose certificate (listed key ID) changed: (key, old listed ID, new).
    pub recertified: Vec<(String, String, String)>,
}

impl RoleDiff {
    pub fn unchanged(&self) -> bool {
        self.threshold.0 == self.threshold.1
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.recertified.is_empty()
    }
}

/// Display ID → listed ID, for the keys a role lists.
fn role_keys(root: &Root, name: &str) -> Option<(i64, BTreeMap<String, String>)> {
    let r = root.roles.get(name)?;
    let keys = r
        .keyids
        .iter()
        .map(|id| (display_id(id, root.keys.get(id)), id.clone()))
        .collect();
    Some((r.threshold, keys))
}

impl RootDiff {
    pub fn between(gun: &str, old: &Root, new: &Root, now: OffsetDateTime) -> RootDiff {
        let mut names: Vec<String> = BASE_ROLES.iter().map(|s| s.to_string()).collect();
        let others: BTreeSet<&String> = old
            .roles
            .keys()
            .chain(new.roles.keys())
            .filter(|n| !BASE_ROLES.contains(&n.as_str()))
            .collect();
        names.extend(others.into_iter().cloned());
        let mut roles = Vec::new();
        let mut other_fields = Vec::new();
        for name in names {
            let before = role_keys(old, &name);
            let after = role_keys(new, &name);
            if before.is_none() && after.is_none() {
                continue;
            }
            let empty = BTreeMap::new();
            let b = before.as_ref().map(|(_, k)| k).unwrap_or(&empty);
            let a = after.as_ref().map(|(_, k)| k).unwrap_or(&empty);
            let added = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
            let removed = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
            let recertified = a
                .iter()
                .filter_map(|(k, listed)| {
                    b.get(k)
                        .filter(|old_listed| *old_listed != listed)
                        .map(|old_listed| (k.clone(), old_listed.clone(), listed.clone()))
                })
                .collect();
            if let (Some(o), Some(n)) = (old.roles.get(&name), new.roles.get(&name)) {
                if o.extra != n.extra {
                    other_fields.push(format!(
                        "roles.{name} (fields other than keyids and threshold)"
                    ));
                }
            }
            roles.push(RoleDiff {
                role: name,
                threshold: (before.as_ref().map(|x| x.0), after.as_ref().map(|x| x.0)),
                keys_before: b.keys().cloned().collect(),
                keys_after: a.keys().cloned().collect(),
                added,
                removed,
                recertified,
            });
        }
        if old.typ != new.typ {
            other_fields.push(format!("_type {:?} -> {:?}", old.typ, new.typ));
        }
        if old.consistent_snapshot != new.consistent_snapshot {
            other_fields.push(format!(
                "consistent_snapshot {} -> {}",
                old.consistent_snapshot, new.consistent_snapshot
            ));
        }
        let extra: BTreeSet<&String> = old.extra.keys().chain(new.extra.keys()).collect();
        for f in extra {
            if old.extra.get(f) != new.extra.get(f) {
                other_fields.push(f.clone());
            }
        }
        // Keys the new root carries that no role of either root lists: harmless, but shown.
        let used: BTreeSet<&String> = new.roles.values().flat_map(|r| &r.keyids).collect();
        for (id, k) in &new.keys {
            if !old.keys.contains_key(id) && !used.contains(id) {
                other_fields.push(format!(
                    "key {} added to root.json's keys, listed by no role",
                    display_id(id, Some(k))
                ));
            }
        }
        let signers = |root: &Root| {
            role_keys(root, "root")
                .map(|(t, k)| (t, k.into_keys().collect()))
                .unwrap_or((0, Vec::new()))
        };
        RootDiff {
            gun: gun.to_owned(),
            version: (old.version, new.version),
            expires: (old.expires.to_string(), new.expires.to_string()),
            new_expired: new.expires.is_expired_at(now),
            roles,
            other_fields,
            current_signers: signers(old),
            new_signers: signers(new),
        }
    }

    /// The change, one line per fact, for people to read before signing.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!(
                "repository {}: root version {} -> {}",
                self.gun, self.version.0, self.version.1
            ),
            format!(
                "expires {} -> {}{}",
                self.expires.0,
                self.expires.1,
                if self.new_expired {
                    " (ALREADY EXPIRED)"
                } else {
                    ""
                }
            ),
        ];
        for r in &self.roles {
            let name = &r.role;
            match r.threshold {
                (None, Some(t)) => {
                    out.push(format!(
                        "{name}: role ADDED, threshold {t}, keys [{}]",
                        r.keys_after.join(", ")
                    ));
                    continue;
                }
                (Some(t), None) => {
                    out.push(format!(
                        "{name}: role REMOVED (was threshold {t}, keys [{}])",
                        r.keys_before.join(", ")
                    ));
                    continue;
                }
                _ => {}
            }
            if r.unchanged() {
                let t = r.threshold.1.unwrap_or_default();
                let what = if name == "root" {
                    "root keys unchanged (re-signing)".to_owned()
                } else {
                    format!("{name} keys unchanged")
                };
                out.push(format!(
                    "{what}: threshold {t}, keys [{}]",
                    r.keys_after.join(", ")
                ));
                continue;
            }
            for k in &r.removed {
                out.push(format!("{name}: key REMOVED {k}"));
            }
            for k in &r.added {
                out.push(format!("{name}: key ADDED {k}"));
            }
            for (k, a, b) in &r.recertified {
                out.push(format!(
                    "{name}: certificate of key {k} replaced (listed as {a}, now {b})"
                ));
            }
            if let (Some(a), Some(b)) = r.threshold {
                if a != b {
                    out.push(format!("{name}: threshold {a} -> {b}"));
                }
            }
        }
        for f in &self.other_fields {
            out.push(format!("also changed: {f}"));
        }
        out.push(format!(
            "must be signed by {} of the current root keys [{}] and {} of the new root keys [{}]",
            self.current_signers.0,
            self.current_signers.1.join(", "),
            self.new_signers.0,
            self.new_signers.1.join(", ")
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> (String, PublicKey) {
        let k = PublicKey::new(keys::ECDSA, vec![n; 65]);
        (k.key_id().to_string(), k)
    }

    fn root(version: i64, roles: &[(&str, &[u8], i64)]) -> Root {
        let mut keys = BTreeMap::new();
        let mut rs = BTreeMap::new();
        for (name, ks, t) in roles {
            let ids = ks
                .iter()
                .map(|n| {
                    let (id, k) = key(*n);
                    keys.insert(id.clone(), k);
                    id
                })
                .collect();
            rs.insert(name.to_string(), RoleKeys::new(ids, *t));
        }
        Root::new(
            version,
            Expires::parse("2030-01-01T00:00:00Z").unwrap(),
            keys,
            rs,
        )
    }

    #[test]
    fn the_diff_names_every_key_threshold_role_and_field_change() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let old = root(
            3,
            &[
                ("root", &[1], 1),
                ("targets", &[2], 1),
                ("snapshot", &[3], 1),
                ("timestamp", &[4], 1),
                ("targets/old", &[5], 1),
            ],
        );
        let mut new = root(
            4,
            &[
                ("root", &[9], 1),
                ("targets", &[2, 7], 2),
                ("snapshot", &[3], 1),
                ("timestamp", &[4], 1),
                ("extra", &[8], 1),
            ],
        );
        new.expires = Expires::parse("2020-01-01T00:00:00Z").unwrap();
        new.consistent_snapshot = true;
        new.extra.insert("x-note".into(), serde_json::json!(1));
        let (unused, k) = key(6);
        new.keys.insert(unused.clone(), k);
        let id = |n| key(n).0;
        let lines = RootDiff::between("example.com/a", &old, &new, now).lines();
        let want = vec![
            "repository example.com/a: root version 3 -> 4".to_owned(),
            "expires 2030-01-01T00:00:00Z -> 2020-01-01T00:00:00Z (ALREADY EXPIRED)".to_owned(),
            format!("root: key REMOVED {}", id(1)),
            format!("root: key ADDED {}", id(9)),
            format!("targets: key ADDED {}", id(7)),
            "targets: threshold 1 -> 2".to_owned(),
            format!("snapshot keys unchanged: threshold 1, keys [{}]", id(3)),
            format!("timestamp keys unchanged: threshold 1, keys [{}]", id(4)),
            format!("extra: role ADDED, threshold 1, keys [{}]", id(8)),
            format!(
                "targets/old: role REMOVED (was threshold 1, keys [{}])",
                id(5)
            ),
            "also changed: consistent_snapshot false -> true".to_owned(),
            "also changed: x-note".to_owned(),
            format!("also changed: key {unused} added to root.json's keys, listed by no role"),
            format!(
                "must be signed by 1 of the current root keys [{}] and 1 of the new root keys [{}]",
                id(1),
                id(9)
            ),
        ];
        assert_eq!(lines, want);
        // Nothing changed but the version: every role says so.
        let mut same = old.clone();
        same.version = 4;
        let lines = RootDiff::between("example.com/a", &old, &same, now).lines();
        assert!(lines.contains(&format!(
            "root keys unchanged (re-signing): threshold 1, keys [{}]",
            id(1)
        )));
        assert!(!lines
            .iter()
            .any(|l| l.contains("ADDED") || l.contains("REMOVED")));
    }

    #[test]
    fn requests_of_another_format_or_not_requests_are_refused_plainly() {
        let e = RootRequest::parse(br#"{"vouch_root_request": 1, "gun": "a"}"#).unwrap_err();
        assert!(matches!(e, CeremonyError::Format { found: 1 }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Usage);
        let e = RootRequest::parse(b"[]").unwrap_err();
        assert!(matches!(e, CeremonyError::NotARequest(_)), "{e}");
    }
}
