//! Applying staged changes to a repository's targets roles, with notary's semantics
//! (`client/helpers.go`, `tuf/tuf.go`): targets added/removed, delegations created,
//! updated and deleted, roles witnessed.

use crate::crypto::CanonicalKeyId as _;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::trust::Error;
use crate::tuf::roles::{self, is_delegation, parent_role};
use crate::tuf::{DelegationRole, Expires, PublicKey, Targets};

use super::changelist::{
    Change, ACTION_CREATE, ACTION_DELETE, ACTION_UPDATE, TYPE_DELEGATION, TYPE_TARGET, TYPE_WITNESS,
};
use super::TrustError;

/// notary's `changelist.TUFDelegation` (field names as notary writes them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DelegationChange {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub new_name: String,
    #[serde(rename = "threshold", default, skip_serializing_if = "is_zero")]
    pub new_threshold: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_keys: Vec<PublicKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_paths: Vec<String>,
    #[serde(rename = "clear_paths", default, skip_serializing_if = "is_false")]
    pub clear_all_paths: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

impl DelegationChange {
    pub fn into_change(self, action: &str, role: &str) -> Change {
        Change {
            action: action.into(),
            role: role.into(),
            kind: TYPE_DELEGATION.into(),
            path: String::new(),
            data: Some(serde_json::to_vec(&self).expect("delegation changes serialize")),
        }
    }
}

/// A change that deletes delegation `role`.
pub fn delete_delegation(role: &str) -> Change {
    Change {
        action: ACTION_DELETE.into(),
        role: role.into(),
        kind: TYPE_DELEGATION.into(),
        path: String::new(),
        data: None,
    }
}

/// A change that re-signs `role` as it is.
pub fn witness(role: &str) -> Change {
    Change {
        action: ACTION_UPDATE.into(),
        role: role.into(),
        kind: TYPE_WITNESS.into(),
        path: String::new(),
        data: None,
    }
}

/// The targets roles being edited, with what changed.
pub struct Working {
    pub roles: BTreeMap<String, Targets>,
    pub dirty: BTreeSet<String>,
    pub deleted: BTreeSet<String>,
    /// Published delegations that did not verify, as their files hold them (checked
    /// against the snapshot's hashes only): what `witness` can bring back.
    pub invalid: BTreeMap<String, Targets>,
    /// Expiry for targets files that have to be created.
    pub new_expires: Expires,
    pub warnings: Vec<String>,
}

impl Working {
    pub fn apply(&mut self, gun: &str, c: &Change) -> Result<(), Error> {
        match c.kind.as_str() {
            TYPE_TARGET => self.apply_target(gun, c),
            TYPE_DELEGATION => self.apply_delegation(gun, c),
            TYPE_WITNESS => {
                if !self.roles.contains_key(&c.role) {
                    // A published delegation that did not verify (e.g. its signer's key was
                    // removed): witnessing re-signs what it holds with a current key, as
                    // notary's `witnessTargets` does.
                    let role = c.role.as_str();
                    let Some(t) = self.invalid.remove(role) else {
                        return Err(bad(format!(
                            "cannot witness {role}: {gun} has no published {role} metadata"
                        )));
                    };
                    let entry = parent_role(role)
                        .and_then(|p| self.roles.get(p))
                        .and_then(|p| p.delegation(role));
                    match entry {
                        Some(d) if d.keyids.len() as i64 >= d.threshold => {}
                        Some(_) => {
                            return Err(TrustError::BelowThreshold {
                                gun: gun.to_owned(),
                                role: role.to_owned(),
                            }
                            .into())
                        }
                        None => {
                            return Err(bad(format!(
                                "cannot witness {role}: it is no longer delegated in {gun}"
                            )))
                        }
                    }
                    self.roles.insert(role.to_owned(), t);
                }
                self.dirty.insert(c.role.clone());
                Ok(())
            }
            other => Err(bad(format!(
                "a change of type {other:?} (on {}) is not one vouch applies",
                c.role
            ))),
        }
    }

    /// The targets file of `role`, created empty when the role is delegated but has no
    /// file yet (as notary's `InitTargets`).
    fn role_mut(&mut self, gun: &str, role: &str) -> Result<&mut Targets, Error> {
        if !self.roles.contains_key(role) {
            let delegated = parent_role(role)
                .and_then(|p| self.roles.get(p))
                .is_some_and(|p| p.delegation(role).is_some());
            if role == "targets" || !delegated {
                return Err(TrustError::NoSuchRole {
                    gun: gun.to_owned(),
                    role: role.to_owned(),
                }
                .into());
            }
            self.roles
                .insert(role.to_owned(), Targets::new(0, self.new_expires.clone()));
        }
        Ok(self.roles.get_mut(role).expect("present"))
    }

    fn apply_target(&mut self, gun: &str, c: &Change) -> Result<(), Error> {
        // A delegation may only sign names its paths allow.
        if is_delegation(&c.role) {
            if let Some(paths) = self.effective_paths(&c.role) {
                if !roles::path_allowed(&c.path, &paths) {
                    return Err(bad(format!(
                        "{} may not sign {:?}: its paths are {paths:?}",
                        c.role, c.path
                    )));
                }
            }
        }
        match c.action.as_str() {
            ACTION_CREATE => {
                let mut meta = c.target_meta()?;
                // Sign `custom` canonically so every verifier agrees on the bytes.
                if let Some(custom) = meta.custom.take() {
                    let canon = crate::tuf::cjson::to_canonical(&custom)?;
                    meta.custom =
                        Some(serde_json::from_slice(&canon).map_err(|e| bad(e.to_string()))?);
                }
                crate::tuf::check_valid_hash_structures(&meta.hashes)
                    .map_err(|e| bad(format!("target {:?}: {e}", c.path)))?;
                let t = self.role_mut(gun, &c.role)?;
                if t.targets.get(&c.path) == Some(&meta) {
                    // Already signed exactly so (e.g. a re-run after an upload that
                    // landed): no new version.
                    return Ok(());
                }
                t.targets.insert(c.path.clone(), meta);
            }
            ACTION_DELETE => {
                let existed = self.roles.contains_key(&c.role);
                let removed = self.role_mut(gun, &c.role)?.targets.remove(&c.path);
                if existed && removed.is_none() {
                    // Nothing to remove: no new version.
                    return Ok(());
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown staged action {other:?} for target {:?}",
                    c.path
                )))
            }
        }
        self.dirty.insert(c.role.clone());
        Ok(())
    }

    /// Paths `role` may sign, restricted by every ancestor; `None` if some ancestor is missing.
    fn effective_paths(&self, role: &str) -> Option<Vec<String>> {
        let mut chain = vec![role.to_owned()];
        let mut cur = role.to_owned();
        while let Some(p) = parent_role(&cur) {
            if p == "targets" {
                break;
            }
            chain.push(p.to_owned());
            cur = p.to_owned();
        }
        let mut allowed = vec![String::new()];
        for r in chain.iter().rev() {
            let parent = parent_role(r)?;
            let d = self.roles.get(parent)?.delegation(r)?;
            allowed = roles::restrict_paths(&allowed, &d.paths);
        }
        Some(allowed)
    }

    fn apply_delegation(&mut self, gun: &str, c: &Change) -> Result<(), Error> {
        let role = c.role.as_str();
        if let Some(problem) = roles::delegation_name_problem(role) {
            return Err(bad(format!(
                "{role:?} is not a valid delegation name: {problem}"
            )));
        }
        let parent = parent_role(role)
            .expect("delegations have parents")
            .to_owned();
        if !self.roles.contains_key(&parent) {
            if parent == "targets" {
                return Err(bad(format!("{gun} has no targets metadata")));
            }
            self.role_mut(gun, &parent)?;
        }
        match c.action.as_str() {
            ACTION_CREATE | ACTION_UPDATE => {
                let td: DelegationChange = match &c.data {
                    Some(d) => serde_json::from_slice(d)
                        .map_err(|e| bad(format!("staged delegation change for {role}: {e}")))?,
                    None => DelegationChange::default(),
                };
                if !td.new_name.is_empty() {
                    return Err(bad(format!(
                        "renaming delegations ({role} → {}) is not supported",
                        td.new_name
                    )));
                }
                let parent_paths = if parent == "targets" {
                    vec![String::new()]
                } else {
                    self.effective_paths(&parent).unwrap_or_default()
                };
                if roles::restrict_paths(&parent_paths, &td.add_paths).len() != td.add_paths.len() {
                    return Err(bad(format!(
                        "paths {:?} are outside what {parent} may delegate ({parent_paths:?})",
                        td.add_paths
                    )));
                }
                let p = self.roles.get_mut(&parent).expect("parent present");
                let existing = p.delegations.roles.iter().position(|r| r.name == role);
                let mut d = match existing {
                    Some(i) => p.delegations.roles[i].clone(),
                    None => DelegationRole::new(
                        role.to_owned(),
                        Vec::new(),
                        td.new_threshold.max(1),
                        Vec::new(),
                    ),
                };
                if existing.is_some() {
                    // Remove keys given by canonical (public-key) ID, as notary does.
                    let remove: BTreeSet<String> = td.remove_keys.iter().cloned().collect();
                    let keys = &p.delegations.keys;
                    d.keyids.retain(|id| {
                        let canon = keys
                            .get(id)
                            .and_then(|k| k.canonical_key_id().ok())
                            .map(|k| k.to_string());
                        !(remove.contains(id) || canon.is_some_and(|c| remove.contains(&c)))
                    });
                    d.paths.retain(|x| !td.remove_paths.contains(x));
                    if td.clear_all_paths {
                        d.paths.clear();
                    }
                    if td.new_threshold > 0 {
                        d.threshold = td.new_threshold;
                    }
                }
                for path in &td.add_paths {
                    if !d.paths.contains(path) {
                        d.paths.push(path.clone());
                    }
                }
                for k in &td.add_keys {
                    let id = k.key_id().to_string();
                    if !d.keyids.contains(&id) {
                        d.keyids.push(id.clone());
                    }
                    p.delegations.keys.insert(id, k.clone());
                }
                if (d.keyids.len() as i64) < d.threshold {
                    self.warnings.push(format!(
                        "{role} has fewer keys ({}) than its threshold ({}); it cannot sign until keys are added",
                        d.keyids.len(),
                        d.threshold
                    ));
                }
                match existing {
                    Some(i) => p.delegations.roles[i] = d,
                    None => p.delegations.roles.push(d),
                }
                remove_unused_keys(p);
            }
            ACTION_DELETE => {
                let p = self.roles.get_mut(&parent).expect("parent present");
                p.delegations.roles.retain(|r| r.name != role);
                remove_unused_keys(p);
                // The role and everything below it leave the repository.
                let gone: Vec<String> = self
                    .roles
                    .keys()
                    .filter(|r| *r == role || r.starts_with(&format!("{role}/")))
                    .cloned()
                    .collect();
                for r in gone {
                    self.roles.remove(&r);
                    self.dirty.remove(&r);
                    self.deleted.insert(r);
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown staged action {other:?} for delegation {role}"
                )))
            }
        }
        self.dirty.insert(parent);
        Ok(())
    }
}

/// Drop delegation keys no role uses any more (notary's `RemoveUnusedKeys`).
fn remove_unused_keys(t: &mut Targets) {
    let used: BTreeSet<&String> = t
        .delegations
        .roles
        .iter()
        .flat_map(|r| r.keyids.iter())
        .collect();
    let keep: BTreeMap<String, PublicKey> = t
        .delegations
        .keys
        .iter()
        .filter(|(id, _)| used.contains(id))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    t.delegations.keys = keep;
}

fn bad(msg: String) -> Error {
    TrustError::BadInput(msg).into()
}
