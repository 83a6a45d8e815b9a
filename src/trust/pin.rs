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
//! This module only reads and writes pins; how a pin anchors trust in a root is decided in
//! [`super::anchor`], with every other rule for trusting a root.

use crate::crypto::CanonicalKeyId as _;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::x509::{self, CertInfo};
use crate::tuf::roles::BaseRole;
use crate::tuf::Root;

use super::local::{local_err, read_capped};
use super::TrustError;

pub const LOCK_FORMAT: u32 = 1;

/// The pin for one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub root_keys: Vec<String>,
    pub root_version: i64,
    /// notary's `trust_pinning.ca`: instead of key IDs, the root certificates must chain
    /// to one of these CAs. Never part of a trust lock.
    #[serde(skip)]
    pub ca: Option<CaPin>,
}

/// A CA bundle that root certificates must chain to (notary's `trust_pinning.ca`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaPin {
    /// The bundle's path, as configured (for messages).
    pub path: String,
    /// Every certificate of the bundle; expired or otherwise unusable ones are ignored
    /// when verifying.
    pub certs: Vec<CertInfo>,
}

impl CaPin {
    /// Read a PEM bundle of CA certificates (notary's `LoadCertBundleFromFile`): every
    /// PEM block must be a certificate; at least one.
    pub fn load(path: &str) -> Result<CaPin, TrustError> {
        let bad = |e: String| {
            TrustError::BadInput(format!(
                "trust_pinning.ca: could not load the CA bundle {path}: {e}"
            ))
        };
        let bytes = read_capped(Path::new(path), 4 << 20)
            .map_err(|e| bad(e.to_string()))?
            .ok_or_else(|| bad("the file does not exist".into()))?;
        let certs = x509::parse_pem_chain(&bytes).map_err(|e| bad(e.to_string()))?;
        Ok(CaPin {
            path: path.to_owned(),
            certs,
        })
    }

    /// The bundle's certificates usable as trust anchors at `now` (notary ignores CA
    /// certificates failing `ValidateCertificate` with expiry checked); none is an error.
    pub(crate) fn usable(
        &self,
        gun: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<CertInfo>, TrustError> {
        let usable: Vec<CertInfo> = self
            .certs
            .iter()
            .filter(|c| x509::validate_certificate(c, now, true).is_ok())
            .cloned()
            .collect();
        if usable.is_empty() {
            return Err(TrustError::PinMismatch {
                gun: gun.into(),
                reason: format!(
                    "trust_pinning.ca: no certificate in {} is valid now (expired, not yet valid, SHA-1 signed or a short RSA key)",
                    self.path
                ),
            });
        }
        Ok(usable)
    }

    /// Whether the root key `key` (one certificate, [`x509::key_certificate`]) was issued
    /// by one of `cas` (or by an intermediate CA the bundle holds, which then counts
    /// as an anchor of its own).
    pub(crate) fn accepts(
        &self,
        cas: &[CertInfo],
        key: &crate::tuf::PublicKey,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        let leaf = x509::key_certificate(&key.public).map_err(|e| e.to_string())?;
        x509::verify_chain_to_ca(&leaf, &[], cas, now)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
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
        let bytes = read_capped(path, 4 << 20)?.ok_or_else(|| TrustError::NoTrustLock {
            path: path.to_owned(),
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

    /// Write (pretty JSON, keys sorted, trailing newline), atomically: a new temp file
    /// with an unpredictable name, created exclusively (so a file or symlink planted at
    /// a temp name is never written through), synced, renamed over `path`. The lock is
    /// meant to be committed beside manifests: it is written 0644, and its directory's
    /// permissions are left alone.
    pub fn save(&self, path: &Path) -> Result<(), TrustError> {
        use rand_core::RngCore as _;
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut text = serde_json::to_string_pretty(self).expect("locks serialize");
        text.push('\n');
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("trust-lock");
        let tmp = dir.join(format!(".{name}.tmp-{:016x}", rand_core::OsRng.next_u64()));
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            })
            .and_then(|_| std::fs::rename(&tmp, path))
            .and_then(|_| std::fs::File::open(dir)?.sync_all());
        result.map_err(|e| {
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
            ca: None,
        })
    }

    pub(crate) fn pins(&self, listed_id: &str, key: &crate::tuf::PublicKey) -> bool {
        self.root_keys.iter().any(|p| p == listed_id)
            || key
                .canonical_key_id()
                .is_ok_and(|c| self.root_keys.iter().any(|p| p == c.as_str()))
    }

    /// The root role of `root` restricted to pinned keys (same threshold).
    pub(crate) fn pinned_role(&self, full: &BaseRole) -> BaseRole {
        let mut r = full.clone();
        r.keys.retain(|id, key| self.pins(id, key));
        r
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

    /// The pin for `gun`, with notary's precedence: an exact `certs` entry, else the
    /// longest matching `prefix*` entry, else the `ca` entry whose key is the longest
    /// prefix of `gun` (its bundle is read now; a relative path is relative to the
    /// current directory, as in notary 0.7's code).
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
                ca: None,
            }));
        }
        match self.ca_path_for(gun) {
            Some(path) => Ok(Some(Pin {
                root_keys: Vec::new(),
                root_version: 1,
                ca: Some(CaPin::load(path)?),
            })),
            None => Ok(None),
        }
    }

    /// The `ca` bundle path whose key is the longest prefix of `gun`.
    pub fn ca_path_for(&self, gun: &str) -> Option<&str> {
        self.ca
            .iter()
            .filter(|(prefix, _)| gun.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, path)| path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_a_lock_never_writes_through_a_planted_temp_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouch-trust.json");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        // The temp name the previous version used, planted as a symlink.
        std::os::unix::fs::symlink(&victim, dir.path().join(".vouch-trust.json.tmp")).unwrap();
        let mut lock = TrustLock::default();
        lock.repositories.insert(
            "example.com/app".into(),
            Pin {
                root_keys: vec!["ab".repeat(32)],
                root_version: 1,
                ca: None,
            },
        );
        lock.save(&path).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert_eq!(TrustLock::load(&path).unwrap(), lock);
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        // Only the lock and what was planted are there: no temp file left behind.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".vouch-trust.json.tmp", "victim", "vouch-trust.json"]
        );
    }

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
            br#"{"trust_pinning":{"ca":{"other.org/":"/nonexistent/ca.pem"}}}"#,
        )
        .unwrap();
        assert!(
            ca.pin_for("other.org/x").is_err(),
            "an unreadable CA bundle fails closed"
        );
        assert_eq!(
            NotaryTrustPinning::from_config_json(b"{}").unwrap(),
            NotaryTrustPinning::default()
        );
    }

    #[test]
    fn ca_entry_is_the_longest_prefix_and_certs_take_precedence() {
        let cfg = br#"{"trust_pinning":{"ca":{"":"all.pem","example.com/":"short.pem","example.com/team/":"long.pem"},"certs":{"example.com/team/pinned":["aa"],"example.com/team/w*":["bb"]}}}"#;
        let tp = NotaryTrustPinning::from_config_json(cfg).unwrap();
        assert_eq!(tp.ca_path_for("example.com/team/x"), Some("long.pem"));
        assert_eq!(tp.ca_path_for("example.com/other"), Some("short.pem"));
        assert_eq!(tp.ca_path_for("other.org/x"), Some("all.pem"));
        // certs, exact or wildcard, win over a ca entry (whose bundle is then not read).
        let exact = tp.pin_for("example.com/team/pinned").unwrap().unwrap();
        assert_eq!((exact.root_keys, exact.ca), (vec!["aa".to_owned()], None));
        let wild = tp.pin_for("example.com/team/web").unwrap().unwrap();
        assert_eq!((wild.root_keys, wild.ca), (vec!["bb".to_owned()], None));
    }
}
