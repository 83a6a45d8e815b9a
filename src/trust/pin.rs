//! Trust pinning: the trust lock file that deployments commit next to their manifests,
//! and anchoring a repository's root on pinned keys instead of trusting on first use.
//!
//! A trust lock is a small JSON file:
//!
//! ```json
//! {
//!   "vouch_trust_lock": 1,
//!   "repositories": {
//!     "registry.example.com/team/app": {
//!       "root_keys": ["9c1f…"],
//!       "root_version": 2
//!     }
//!   }
//! }
//! ```
//!
//! `root_keys` are root key IDs: either the public-key ("canonical") ID that names the key
//! file, or the certificate key ID listed in root.json; both are accepted. `root_version`
//! is the root version seen when pinning; an older root is a rollback.
//!
//! To trust a repository's current root, a threshold of its root signatures must come from
//! pinned keys — or the root must be reachable by signed rotations from the pinned version
//! whose signatures do. A repository re-created with new root keys fails closed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Error;
use crate::remote::{limits, Gun, Remote};
use crate::tuf::roles::BaseRole;
use crate::tuf::{verify_with_roles, Root, Signed, Verified};

use super::local::{local_err, read_capped};
use super::state::root_role;
use super::TrustError;

pub const LOCK_FORMAT: u32 = 1;

/// The pin for one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub root_keys: Vec<String>,
    pub root_version: i64,
}

/// A trust lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustLock {
    pub vouch_trust_lock: u32,
    pub repositories: BTreeMap<String, Pin>,
}

impl Default for TrustLock {
    fn default() -> Self {
        TrustLock {
            vouch_trust_lock: LOCK_FORMAT,
            repositories: BTreeMap::new(),
        }
    }
}

impl TrustLock {
    pub fn load(path: &Path) -> Result<TrustLock, TrustError> {
        let bytes = read_capped(path, 4 << 20)?.ok_or_else(|| {
            TrustError::BadInput(format!("trust lock file {} does not exist; create it with `vouch trust pin GUN --trust-lock {}`", path.display(), path.display()))
        })?;
        let lock: TrustLock = serde_json::from_slice(&bytes).map_err(|e| {
            TrustError::BadInput(format!(
                "trust lock file {} is not valid: {e}",
                path.display()
            ))
        })?;
        if lock.vouch_trust_lock != LOCK_FORMAT {
            return Err(TrustError::BadInput(format!(
                "trust lock file {} has format {}, this vouch reads format {LOCK_FORMAT}",
                path.display(),
                lock.vouch_trust_lock
            )));
        }
        for (gun, pin) in &lock.repositories {
            if pin.root_keys.is_empty() {
                return Err(TrustError::BadInput(format!(
                    "trust lock file {}: {gun} pins no root keys",
                    path.display()
                )));
            }
        }
        Ok(lock)
    }

    /// Load, or start an empty lock when the file does not exist yet.
    pub fn load_or_default(path: &Path) -> Result<TrustLock, TrustError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(TrustLock::default())
        }
    }

    /// Write (pretty JSON, keys sorted, trailing newline), atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrustError> {
        let mut text = serde_json::to_string_pretty(self).expect("locks serialize");
        text.push('\n');
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("trust-lock")
        ));
        std::fs::write(&tmp, text.as_bytes())
            .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                local_err("cannot write trust lock", path, e)
            })
    }

    pub fn get(&self, gun: &str) -> Option<&Pin> {
        self.repositories.get(gun)
    }
}

impl Pin {
    /// Pin the root role of a verified root: its keys' public-key IDs and its version.
    pub fn from_root(root: &Root) -> Result<Pin, TrustError> {
        let role = root
            .roles
            .get("root")
            .ok_or_else(|| TrustError::BadInput("root lists no root role".into()))?;
        let mut ids = Vec::new();
        for id in &role.keyids {
            let key = root
                .keys
                .get(id)
                .ok_or_else(|| TrustError::BadInput(format!("root lists unknown key {id}")))?;
            let canonical = key
                .canonical_key_id()
                .map_err(|e| TrustError::BadInput(e.to_string()))?;
            ids.push(canonical.to_string());
        }
        ids.sort();
        ids.dedup();
        Ok(Pin {
            root_keys: ids,
            root_version: root.version,
        })
    }

    fn pins(&self, listed_id: &str, key: &crate::tuf::PublicKey) -> bool {
        self.root_keys.iter().any(|p| p == listed_id)
            || key
                .canonical_key_id()
                .is_ok_and(|c| self.root_keys.iter().any(|p| p == c.as_str()))
    }

    /// The root role of `root` restricted to pinned keys (same threshold).
    fn pinned_role(&self, full: &BaseRole) -> BaseRole {
        let mut r = full.clone();
        r.keys.retain(|id, key| self.pins(id, key));
        r
    }
}

/// Verify `bytes` as a root trusted through `pin`: a threshold of signatures from pinned
/// keys and a threshold of its own root keys.
fn verify_pinned(
    gun: &str,
    pin: &Pin,
    bytes: &[u8],
    now: OffsetDateTime,
    check_cert_expiry: bool,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes).map_err(|e| TrustError::PinMismatch {
        gun: gun.into(),
        reason: e.to_string(),
    })?;
    let full = root_role(gun, signed.signed(), now, check_cert_expiry)?;
    let pinned = pin.pinned_role(&full);
    if pinned.keys.is_empty() {
        let present: Vec<String> = full
            .keys
            .values()
            .filter_map(|k| k.canonical_key_id().ok())
            .map(|k| k.to_string())
            .collect();
        return Err(TrustError::PinMismatch {
            gun: gun.into(),
            reason: format!(
                "root version {} is signed for root keys [{}], none of which is pinned [{}]",
                signed.signed().version,
                present.join(", "),
                pin.root_keys.join(", ")
            ),
        });
    }
    verify_with_roles(signed, &[&pinned, &full]).map_err(|e| TrustError::PinMismatch {
        gun: gun.into(),
        reason: e.to_string(),
    })
}

/// The root to start the update from, given a pin: the current root if pinned keys sign it,
/// else the pinned version (from which signed rotations must lead to the current root).
pub fn anchor(
    remote: &dyn Remote,
    gun: &Gun,
    pin: &Pin,
    current: &[u8],
    now: OffsetDateTime,
) -> Result<Verified<Root>, Error> {
    let g = gun.as_str();
    let current_version = Signed::<Root>::from_bytes(current)
        .map_err(|e| super::verification(g, "root", e))?
        .signed()
        .version;
    if current_version < pin.root_version {
        return Err(TrustError::PinMismatch {
            gun: g.into(),
            reason: format!(
                "the repository's root is version {current_version}, older than the pinned version {} (rollback)",
                pin.root_version
            ),
        }
        .into());
    }
    let direct = verify_pinned(g, pin, current, now, true);
    match direct {
        Ok(v) => Ok(v),
        Err(direct_err) if current_version > pin.root_version => {
            let old = remote
                .get_by_version(
                    gun,
                    "root",
                    pin.root_version as u64,
                    limits::MAX_DOWNLOAD_SIZE,
                )?
                .ok_or_else(|| TrustError::PinMismatch {
                    gun: g.into(),
                    reason: format!(
                        "{direct_err}; and the pinned root version {} is not on the remote",
                        pin.root_version
                    ),
                })?;
            // An older, pinned root: its certificates may have expired since; they are only
            // used to check the signature on the next root.
            Ok(verify_pinned(g, pin, &old, now, false)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// notary's `trust_pinning` client configuration (protocol §7.3, §8.5):
/// `{"certs": {"<gun>" | "<prefix>*": ["<root key id>", …]}, "ca": {…}, "disable_tofu": bool}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NotaryTrustPinning {
    #[serde(default)]
    pub certs: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub ca: BTreeMap<String, String>,
    #[serde(default)]
    pub disable_tofu: bool,
}

impl NotaryTrustPinning {
    /// Read `trust_pinning` from a config file's JSON (absent → default).
    pub fn from_config_json(bytes: &[u8]) -> Result<NotaryTrustPinning, TrustError> {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| TrustError::BadInput(format!("config file is not JSON: {e}")))?;
        match v.get("trust_pinning") {
            None | Some(serde_json::Value::Null) => Ok(NotaryTrustPinning::default()),
            Some(tp) => serde_json::from_value(tp.clone())
                .map_err(|e| TrustError::BadInput(format!("config file: trust_pinning: {e}"))),
        }
    }

    /// The pin for `gun`: an exact `certs` entry, else the longest matching `prefix*`
    /// entry (as notary does). `ca` pinning is not supported and fails closed.
    pub fn pin_for(&self, gun: &str) -> Result<Option<Pin>, TrustError> {
        let ids = self.certs.get(gun).or_else(|| {
            self.certs
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_suffix('*')
                        .filter(|p| gun.starts_with(p))
                        .map(|p| (p.len(), v))
                })
                .max_by_key(|(len, _)| *len)
                .map(|(_, v)| v)
        });
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Err(TrustError::BadInput(format!(
                    "trust_pinning.certs for {gun} lists no key IDs"
                )));
            }
            return Ok(Some(Pin {
                root_keys: ids.clone(),
                root_version: 1,
            }));
        }
        if self
            .ca
            .keys()
            .any(|prefix| gun.starts_with(prefix.as_str()))
        {
            return Err(TrustError::BadInput(format!(
                "trust_pinning.ca applies to {gun}, but CA pinning is not supported by vouch; pin the root key IDs with trust_pinning.certs or a trust lock (`vouch trust pin`)"
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notary_trust_pinning_picks_exact_then_longest_prefix() {
        let cfg = br#"{"trust_pinning":{"certs":{"example.com/app":["aa"],"example.com/*":["bb"],"example.com/team/*":["cc"]},"disable_tofu":true}}"#;
        let tp = NotaryTrustPinning::from_config_json(cfg).unwrap();
        assert!(tp.disable_tofu);
        assert_eq!(
            tp.pin_for("example.com/app").unwrap().unwrap().root_keys,
            vec!["aa"]
        );
        assert_eq!(
            tp.pin_for("example.com/team/x").unwrap().unwrap().root_keys,
            vec!["cc"]
        );
        assert_eq!(
            tp.pin_for("example.com/other").unwrap().unwrap().root_keys,
            vec!["bb"]
        );
        assert!(tp.pin_for("other.org/x").unwrap().is_none());
        let ca = NotaryTrustPinning::from_config_json(
            br#"{"trust_pinning":{"ca":{"other.org/":"ca.pem"}}}"#,
        )
        .unwrap();
        assert!(
            ca.pin_for("other.org/x").is_err(),
            "CA pinning fails closed"
        );
        assert_eq!(
            NotaryTrustPinning::from_config_json(b"{}").unwrap(),
            NotaryTrustPinning::default()
        );
    }
}
