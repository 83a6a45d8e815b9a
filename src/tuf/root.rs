//! root.json (protocol §3.3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expires::Expires;
use super::keys::PublicKey;
use super::roles::{BaseRole, BASE_ROLES, ROOT};
use super::serde_util::null_default;
use super::signed::{metadata_accessors, Metadata};
use super::TufError;

/// The `signed` part of root.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    #[serde(rename = "_type")]
    pub typ: String,
    /// Always `false` from notary; clients ignore it.
    #[serde(default)]
    pub consistent_snapshot: bool,
    pub expires: Expires,
    /// Key ID (as listed) → key. Old root keys may stay here after a rotation.
    #[serde(default, deserialize_with = "null_default")]
    pub keys: BTreeMap<String, PublicKey>,
    /// Role name → key IDs and threshold; the four base roles must be present.
    #[serde(default, deserialize_with = "null_default")]
    pub roles: BTreeMap<String, RoleKeys>,
    pub version: i64,
    /// Fields this version does not know, kept for re-serialization.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `{"keyids":[…],"threshold":N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    #[serde(default, deserialize_with = "null_default")]
    pub keyids: Vec<String>,
    pub threshold: i64,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl RoleKeys {
    pub fn new(keyids: Vec<String>, threshold: i64) -> Self {
        RoleKeys {
            keyids,
            threshold,
            extra: BTreeMap::new(),
        }
    }
}

impl Root {
    /// A root object as notary writes it (`consistent_snapshot` false).
    pub fn new(
        version: i64,
        expires: Expires,
        keys: BTreeMap<String, PublicKey>,
        roles: BTreeMap<String, RoleKeys>,
    ) -> Self {
        Root {
            typ: Self::TYPE.to_owned(),
            consistent_snapshot: false,
            expires,
            keys,
            roles,
            version,
            extra: BTreeMap::new(),
        }
    }

    /// The keys and threshold of role `name` (notary's `BuildBaseRole`): every key ID the
    /// role lists must be in `keys`.
    pub fn base_role(&self, name: &str) -> Result<BaseRole, TufError> {
        let role = self
            .roles
            .get(name)
            .ok_or_else(|| TufError::InvalidMetadata {
                role: ROOT.to_owned(),
                reason: format!("role {name:?} is not listed in root"),
            })?;
        let mut keys = BTreeMap::new();
        for id in &role.keyids {
            let key = self.keys.get(id).ok_or_else(|| TufError::InvalidMetadata {
                role: ROOT.to_owned(),
                reason: format!("role {name:?} lists key {id} that root.json does not contain"),
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

/// A role entry is valid when its threshold is ≥ 1 and every key ID is in `keys`
/// (notary's `isValidRootRoleStructure`, shared with delegations).
pub(crate) fn check_role_keys(
    containing: &str,
    name: &str,
    keyids: &[String],
    threshold: i64,
    keys: &BTreeMap<String, PublicKey>,
) -> Result<(), TufError> {
    if threshold < 1 {
        return Err(TufError::InvalidMetadata {
            role: containing.to_owned(),
            reason: format!("threshold of {name} is {threshold}, must be at least 1"),
        });
    }
    if let Some(id) = keyids.iter().find(|id| !keys.contains_key(id.as_str())) {
        return Err(TufError::InvalidMetadata {
            role: containing.to_owned(),
            reason: format!("{name} lists key {id} without a corresponding key"),
        });
    }
    Ok(())
}

impl Metadata for Root {
    const TYPE: &'static str = "Root";

    metadata_accessors!();

    /// `_type` `Root`, version ≥ 1, all four base roles present with threshold ≥ 1 and
    /// known keys. Other role names are tolerated. `role` must be `root`.
    fn validate(&self, role: &str) -> Result<(), TufError> {
        Self::check_only_role(role, ROOT)?;
        self.check_common(role)?;
        for name in BASE_ROLES {
            let r = self
                .roles
                .get(name)
                .ok_or_else(|| TufError::InvalidMetadata {
                    role: ROOT.to_owned(),
                    reason: format!("missing {name} role specification"),
                })?;
            check_role_keys(ROOT, name, &r.keyids, r.threshold, &self.keys)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Root {
        let key = PublicKey::new("ed25519", vec![7; 32]);
        let id = key.key_id().to_string();
        let keys = BTreeMap::from([(id.clone(), key)]);
        let roles = BASE_ROLES
            .iter()
            .map(|r| (r.to_string(), RoleKeys::new(vec![id.clone()], 1)))
            .collect();
        Root::new(
            1,
            Expires::parse("2030-01-02T03:04:05Z").unwrap(),
            keys,
            roles,
        )
    }

    #[test]
    fn serializes_like_notary() {
        let root = sample();
        let id = root.keys.keys().next().unwrap().clone();
        let text =
            String::from_utf8(super::super::cjson::to_canonical_from(&root).unwrap()).unwrap();
        let role = format!(r#"{{"keyids":["{id}"],"threshold":1}}"#);
        let want = format!(
            r#"{{"_type":"Root","consistent_snapshot":false,"expires":"2030-01-02T03:04:05Z","keys":{{"{id}":{{"keytype":"ed25519","keyval":{{"private":null,"public":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="}}}}}},"roles":{{"root":{role},"snapshot":{role},"targets":{role},"timestamp":{role}}},"version":1}}"#
        );
        assert_eq!(text, want);
        let back: Root = serde_json::from_str(&text).unwrap();
        assert_eq!(back, root);
    }

    #[test]
    fn validate_accepts_sample_and_names_each_problem() {
        let root = sample();
        root.validate("root").unwrap();
        assert!(root.validate("targets").is_err());

        let mut r = sample();
        r.roles.remove("timestamp");
        let err = r.validate("root").unwrap_err().to_string();
        assert!(err.contains("missing timestamp role"), "{err}");

        let mut r = sample();
        r.roles.get_mut("snapshot").unwrap().threshold = 0;
        let err = r.validate("root").unwrap_err().to_string();
        assert!(err.contains("threshold of snapshot is 0"), "{err}");

        let mut r = sample();
        r.roles
            .get_mut("targets")
            .unwrap()
            .keyids
            .push("ab".repeat(32));
        let err = r.validate("root").unwrap_err().to_string();
        assert!(err.contains("targets lists key abab"), "{err}");

        let mut r = sample();
        r.version = 0;
        assert!(matches!(
            r.validate("root"),
            Err(TufError::InvalidMetadata { .. })
        ));

        let mut r = sample();
        r.typ = "Targets".into();
        assert!(matches!(
            r.validate("root"),
            Err(TufError::WrongType { .. })
        ));

        // Extra roles are tolerated.
        let mut r = sample();
        r.roles.insert("mirror".into(), RoleKeys::new(vec![], 1));
        r.validate("root").unwrap();
    }

    #[test]
    fn base_role_collects_keys() {
        let root = sample();
        let role = root.base_role("targets").unwrap();
        assert_eq!(role.name, "targets");
        assert_eq!(role.threshold, 1);
        assert_eq!(role.keys.len(), 1);
        assert!(root.base_role("mirror").is_err());
        let mut r = sample();
        r.keys.clear();
        let err = r.base_role("root").unwrap_err().to_string();
        assert!(err.contains("does not contain"), "{err}");
    }

    #[test]
    fn unknown_fields_survive_and_nulls_parse() {
        let text = r#"{"_type":"Root","consistent_snapshot":false,"expires":"2030-01-02T03:04:05Z","keys":null,"roles":{"root":{"keyids":null,"threshold":1,"x":2}},"spec":"1.0","version":3}"#;
        let r: Root = serde_json::from_str(text).unwrap();
        assert!(r.keys.is_empty());
        assert_eq!(r.extra.get("spec"), Some(&Value::from("1.0")));
        assert_eq!(r.roles["root"].extra.get("x"), Some(&Value::from(2)));
        let back = super::super::cjson::to_canonical_from(&r).unwrap();
        assert_eq!(
            String::from_utf8(back).unwrap(),
            r#"{"_type":"Root","consistent_snapshot":false,"expires":"2030-01-02T03:04:05Z","keys":{},"roles":{"root":{"keyids":[],"threshold":1,"x":2}},"spec":"1.0","version":3}"#
        );
    }
}
