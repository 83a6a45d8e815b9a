//! targets.json and delegated targets files (protocol §3.4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expires::Expires;
use super::filemeta::FileMeta;
use super::keys::PublicKey;
use super::roles::{self, BaseRole, TARGETS};
use super::root::check_role_keys;
use super::serde_util::null_default;
use super::signed::{metadata_accessors, Metadata};
use super::TufError;

/// The `signed` part of a targets file (top-level or delegated; `_type` is always
/// `Targets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(rename = "_type")]
    pub typ: String,
    /// Always written, empty as `{"keys":{},"roles":[]}`.
    #[serde(default, deserialize_with = "null_default")]
    pub delegations: Delegations,
    pub expires: Expires,
    /// Target name → length and hashes.
    #[serde(default, deserialize_with = "null_default")]
    pub targets: BTreeMap<String, FileMeta>,
    pub version: i64,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `{"keys":{…},"roles":[…]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delegations {
    #[serde(default, deserialize_with = "null_default")]
    pub keys: BTreeMap<String, PublicKey>,
    #[serde(default, deserialize_with = "null_default")]
    pub roles: Vec<DelegationRole>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `{"keyids":[…],"name":"targets/x","paths":[…],"threshold":N}`; `paths` is omitted
/// when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationRole {
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub keyids: Vec<String>,
    pub threshold: i64,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub paths: Vec<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl DelegationRole {
    pub fn new(
        name: impl Into<String>,
        keyids: Vec<String>,
        threshold: i64,
        paths: Vec<String>,
    ) -> Self {
        DelegationRole {
            name: name.into(),
            keyids,
            threshold,
            paths,
            extra: BTreeMap::new(),
        }
    }
}

impl Targets {
    /// An empty targets object.
    pub fn new(version: i64, expires: Expires) -> Self {
        Targets {
            typ: Self::TYPE.to_owned(),
            delegations: Delegations::default(),
            expires,
            targets: BTreeMap::new(),
            version,
            extra: BTreeMap::new(),
        }
    }

    /// The delegation entry for `name`, if this file lists it.
    pub fn delegation(&self, name: &str) -> Option<&DelegationRole> {
        self.delegations.roles.iter().find(|r| r.name == name)
    }

    /// The keys and threshold of delegation `name` (notary's `BuildDelegationRole`):
    /// every key ID it lists must be in `delegations.keys`.
    pub fn delegation_role(&self, name: &str) -> Result<BaseRole, TufError> {
        let role = self
            .delegation(name)
            .ok_or_else(|| TufError::InvalidMetadata {
                role: name.to_owned(),
                reason: "no such delegation in its parent targets file".to_owned(),
            })?;
        let mut keys = BTreeMap::new();
        for id in &role.keyids {
            let key = self
                .delegations
                .keys
                .get(id)
                .ok_or_else(|| TufError::InvalidMetadata {
                    role: name.to_owned(),
                    reason: format!("role lists unknown key {id} as a signing key"),
                })?;
            keys.insert(id.clone(), key.clone());
        }
        Ok(BaseRole {
            name: name.to_owned(),
            keys,
            threshold: role.threshold,
        })
    }
}

impl Metadata for Targets {
    const TYPE: &'static str = "Targets";

    metadata_accessors!();

    /// notary's `isValidTargetsStructure`: `role` is `targets` or a delegation, `_type`
    /// `Targets`, version ≥ 1, and every delegation listed is a direct child of `role`
    /// with threshold ≥ 1 and known keys.
    fn validate(&self, role: &str) -> Result<(), TufError> {
        if role != TARGETS && !roles::is_delegation(role) {
            return Err(TufError::InvalidRoleName {
                name: role.to_owned(),
                reason: "a Targets document is the targets role or a delegation".to_owned(),
            });
        }
        self.check_common(role)?;
        for d in &self.delegations.roles {
            if !roles::is_direct_child(role, &d.name) {
                return Err(TufError::InvalidMetadata {
                    role: role.to_owned(),
                    reason: format!(
                        "delegation role {:?} is not a valid direct child of {role}",
                        d.name
                    ),
                });
            }
            check_role_keys(
                role,
                &d.name,
                &d.keyids,
                d.threshold,
                &self.delegations.keys,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuf::cjson::to_canonical_from;

    fn expires() -> Expires {
        Expires::parse("2030-01-02T03:04:05Z").unwrap()
    }

    #[test]
    fn empty_targets_serialize_like_notary() {
        let t = Targets::new(1, expires());
        assert_eq!(
            String::from_utf8(to_canonical_from(&t).unwrap()).unwrap(),
            r#"{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2030-01-02T03:04:05Z","targets":{},"version":1}"#
        );
    }

    #[test]
    fn missing_delegations_are_written_back_empty() {
        let t: Targets = serde_json::from_str(
            r#"{"_type":"Targets","expires":"2030-01-02T03:04:05Z","targets":null,"version":2}"#,
        )
        .unwrap();
        assert_eq!(t.delegations, Delegations::default());
        let text = String::from_utf8(to_canonical_from(&t).unwrap()).unwrap();
        assert!(
            text.contains(r#""delegations":{"keys":{},"roles":[]}"#),
            "{text}"
        );
    }

    #[test]
    fn delegation_role_paths_omitted_when_empty() {
        let r = DelegationRole::new("targets/a", vec!["k".into()], 1, vec![]);
        assert_eq!(
            String::from_utf8(to_canonical_from(&r).unwrap()).unwrap(),
            r#"{"keyids":["k"],"name":"targets/a","threshold":1}"#
        );
        let r = DelegationRole::new("targets/a", vec![], 1, vec![String::new()]);
        assert_eq!(
            String::from_utf8(to_canonical_from(&r).unwrap()).unwrap(),
            r#"{"keyids":[],"name":"targets/a","paths":[""],"threshold":1}"#
        );
        // notary writes nil key IDs as null; they parse as empty.
        let r: DelegationRole =
            serde_json::from_str(r#"{"keyids":null,"name":"targets/a","threshold":1}"#).unwrap();
        assert!(r.keyids.is_empty() && r.paths.is_empty());
    }

    fn with_delegation(name: &str) -> Targets {
        let key = PublicKey::new("ed25519", vec![1; 32]);
        let id = key.key_id().to_string();
        let mut t = Targets::new(1, expires());
        t.delegations.keys.insert(id.clone(), key);
        t.delegations
            .roles
            .push(DelegationRole::new(name, vec![id], 1, vec![String::new()]));
        t
    }

    #[test]
    fn validate_rules() {
        with_delegation("targets/releases")
            .validate("targets")
            .unwrap();
        with_delegation("targets/a/b")
            .validate("targets/a")
            .unwrap();

        let err = with_delegation("targets/a/b")
            .validate("targets")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid direct child"), "{err}");
        assert!(with_delegation("targets/Bad").validate("targets").is_err());
        assert!(with_delegation("targets/releases")
            .validate("root")
            .is_err());

        let mut t = with_delegation("targets/releases");
        t.delegations.keys.clear();
        let err = t.validate("targets").unwrap_err().to_string();
        assert!(err.contains("without a corresponding key"), "{err}");

        let mut t = with_delegation("targets/releases");
        t.delegations.roles[0].threshold = 0;
        assert!(t.validate("targets").is_err());

        let mut t = Targets::new(0, expires());
        assert!(t.validate("targets").is_err());
        t.version = 1;
        t.typ = "Root".into();
        assert!(matches!(
            t.validate("targets"),
            Err(TufError::WrongType { .. })
        ));
    }

    #[test]
    fn delegation_role_lookup() {
        let t = with_delegation("targets/releases");
        let r = t.delegation_role("targets/releases").unwrap();
        assert_eq!(
            (r.name.as_str(), r.threshold, r.keys.len()),
            ("targets/releases", 1, 1)
        );
        assert!(t.delegation_role("targets/other").is_err());
        let mut t = t;
        t.delegations.keys.clear();
        let err = t
            .delegation_role("targets/releases")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key"), "{err}");
    }
}
