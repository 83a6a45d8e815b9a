//! Reading targets out of a verified state.

use crate::tuf::roles;
use crate::tuf::FileMeta;

use super::state::RepoState;

/// One signed target and the role it was taken from.
#[derive(Debug, Clone)]
pub struct TargetEntry {
    pub name: String,
    pub meta: FileMeta,
    pub role: String,
}

impl TargetEntry {
    pub fn sha256_hex(&self) -> Option<String> {
        self.meta.sha256().map(hex::encode)
    }
}

/// Every target reachable from `targets`, walking delegations in pre-order and honouring
/// each delegation's path prefixes (restricted by its parents'); the first role to list a
/// name wins, as in `notary list`.
pub fn all_targets(state: &RepoState) -> Vec<TargetEntry> {
    let mut out: Vec<TargetEntry> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    walk(state, "targets", &[String::new()], &mut |entry| {
        if seen.insert(entry.name.clone()) {
            out.push(entry);
        }
    });
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn walk(state: &RepoState, role: &str, allowed: &[String], f: &mut dyn FnMut(TargetEntry)) {
    let Some(t) = state.targets.get(role) else {
        return;
    };
    for (name, meta) in &t.role().targets {
        if roles::path_allowed(name, allowed) {
            f(TargetEntry {
                name: name.clone(),
                meta: meta.clone(),
                role: role.to_owned(),
            });
        }
    }
    for d in &t.role().delegations.roles {
        if !roles::is_direct_child(role, &d.name) {
            continue;
        }
        let child_paths = roles::restrict_paths(allowed, &d.paths);
        if child_paths.is_empty() {
            continue;
        }
        walk(state, &d.name, &child_paths, f);
    }
}

/// The target `name` as Docker Content Trust resolves a tag (protocol §10): from
/// `targets/releases` first, then `targets`; a target only in other delegations does
/// not count.
pub fn docker_lookup(state: &RepoState, name: &str) -> Option<TargetEntry> {
    for role in ["targets/releases", "targets"] {
        let Some(t) = state.targets.get(role) else {
            continue;
        };
        if role != "targets" {
            // A delegation counts only if `targets` delegates it the name.
            let Some(d) = state
                .targets
                .get("targets")
                .and_then(|p| p.role().delegation(role).cloned())
            else {
                continue;
            };
            if !roles::path_allowed(name, &d.paths) {
                continue;
            }
        }
        if let Some(meta) = t.role().targets.get(name) {
            return Some(TargetEntry {
                name: name.to_owned(),
                meta: meta.clone(),
                role: role.to_owned(),
            });
        }
    }
    None
}

/// The target `name` as `notary lookup` finds it: pre-order walk, first match.
pub fn lookup(state: &RepoState, name: &str) -> Option<TargetEntry> {
    let mut found = None;
    walk(state, "targets", &[String::new()], &mut |e| {
        if found.is_none() && e.name == name {
            found = Some(e);
        }
    });
    found
}
