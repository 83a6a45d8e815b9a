//! Preflight (`vouch sign --check`, `vouch publish --check`): which keys a publish of a
//! repository would sign with, and whether each one is in the key store and opens with
//! the passphrase vouch would use — before anything is staged, uploaded or asked of a
//! registry. The roles come from the local cache when it holds the repository (no network
//! at all), else from the remote, read and verified as for a publish; nothing is written.

use crate::crypto::CanonicalKeyId as _;
use std::collections::BTreeMap;

use super::changelist::{Change, TYPE_DELEGATION, TYPE_TARGET, TYPE_WITNESS};
use super::publish::{holds_any_key, load_signers, signing_role, Env};
use super::state::LoadPolicy;
use super::{LocalRepo, RepoState, TrustError};
use crate::trust::Error;
use crate::tuf::roles::BaseRole;

/// One key of a role.
#[derive(Debug, Clone)]
pub struct KeyCheck {
    /// The key's canonical ID (its file name in the key store).
    pub key_id: String,
    pub status: KeyStatus,
}

#[derive(Debug, Clone)]
pub enum KeyStatus {
    /// In the key store, and it opened.
    Ready,
    /// Not in this key store.
    Absent,
    /// In the key store, but it did not open: why (the error, for the advice).
    Fails {
        reason: String,
        error: std::sync::Arc<crate::keystore::KeystoreError>,
    },
}

/// One role a publish would sign.
#[derive(Debug, Clone)]
pub struct RoleCheck {
    pub role: String,
    pub threshold: i64,
    pub keys: Vec<KeyCheck>,
}

impl RoleCheck {
    /// Enough keys here open to meet the threshold.
    pub fn ready(&self) -> bool {
        let n = self
            .keys
            .iter()
            .filter(|k| matches!(k.status, KeyStatus::Ready))
            .count();
        n as i64 >= self.threshold.max(1)
    }
}

#[derive(Debug, Clone)]
pub struct Preflight {
    pub gun: String,
    /// The roles and keys came from the local cache (no network).
    pub from_cache: bool,
    pub roles: Vec<RoleCheck>,
}

impl Preflight {
    pub fn ready(&self) -> bool {
        self.roles.iter().all(RoleCheck::ready)
    }
}

/// Check the keys a publish of `local`'s repository signing `roles` (targets roles:
/// `targets`, `targets/NAME`) would need: those roles, the snapshot when vouch signs it
/// (static repositories, or a snapshot key held here), the timestamp for static
/// repositories. Each key found is opened once, with `env.pass`.
pub fn preflight(env: &Env<'_>, local: &LocalRepo, roles: &[String]) -> Result<Preflight, Error> {
    let gun = local.gun().as_str().to_owned();
    let (needed, from_cache) = needed_keys(env, local, roles, false)?;
    let roles = needed
        .into_iter()
        .map(|(name, role)| RoleCheck {
            role: name,
            threshold: role.threshold,
            keys: role
                .keys
                .values()
                .filter_map(|k| k.canonical_key_id().ok())
                .map(|id| KeyCheck {
                    key_id: id.to_string(),
                    status: check_key(env, &id),
                })
                .collect(),
        })
        .collect();
    Ok(Preflight {
        gun,
        from_cache,
        roles,
    })
}

/// The roles (with their keys) a publish signing the targets roles `roles` needs: those,
/// the snapshot when vouch signs it, the timestamp for static repositories; and whether
/// they came from the local cache. With `known_only`, targets roles the repository does
/// not have (yet) are left out instead of being an error.
fn needed_keys(
    env: &Env<'_>,
    local: &LocalRepo,
    roles: &[String],
    known_only: bool,
) -> Result<(Vec<(String, BaseRole)>, bool), Error> {
    let gun = local.gun().as_str().to_owned();
    let policy = LoadPolicy {
        clock: env.clock,
        check_expiry: false,
        trust: env.trust,
    };
    // The cache may not verify on its own (after a publish it holds the new targets but
    // not the snapshot the server signed for them): the remote then says.
    let (state, from_cache) = match RepoState::from_cache(local, policy).ok().flatten() {
        Some(s) => (s, true),
        None => match RepoState::fetch(env.remote, local, policy)? {
            Some(s) => (s, false),
            None => {
                return Err(TrustError::NotInitialized {
                    gun,
                    remote: env.remote.describe(),
                }
                .into())
            }
        },
    };
    let root = state.root.role();
    let loaded: BTreeMap<String, crate::tuf::Targets> = state
        .targets
        .iter()
        .map(|(k, v)| (k.clone(), v.role().clone()))
        .collect();
    let mut needed: Vec<(String, BaseRole)> = Vec::new();
    for r in roles {
        match signing_role(&gun, root, &loaded, r) {
            Ok(role) => needed.push((r.clone(), role)),
            Err(_) if known_only => {}
            Err(e) => return Err(e),
        }
    }
    let static_repo = !env.remote.signs_timestamp();
    let snapshot = root.base_role("snapshot")?;
    // A snapshot key file here that cannot be read is listed, so that opening it says why.
    if static_repo || holds_any_key(env, &snapshot).unwrap_or(true) {
        needed.push(("snapshot".into(), snapshot));
    }
    if static_repo {
        needed.push(("timestamp".into(), root.base_role("timestamp")?));
    }
    Ok((needed, from_cache))
}

/// Open the keys a publish of `changes` would sign with, before anything is published or
/// staged: a missing or wrong passphrase, an interrupted prompt or a corrupt key file
/// then fails the command with nothing written. The keys stay open for the publish that
/// follows when the key store keeps unlocked keys ([`crate::keystore::KeyStore::keep_unlocked_keys`]).
/// The roles come from the local cache (no network) when it holds the repository, else
/// from the remote; an uninitialised repository is [`TrustError::NotInitialized`]. Roles
/// the cached repository does not know yet are left to the publish.
pub fn unlock_for_publish<'c>(
    env: &Env<'_>,
    local: &LocalRepo,
    changes: impl IntoIterator<Item = &'c Change>,
) -> Result<(), Error> {
    let mut roles: Vec<String> = Vec::new();
    for c in changes {
        let role = match c.kind.as_str() {
            TYPE_TARGET | TYPE_WITNESS => Some(c.role.as_str()),
            TYPE_DELEGATION => crate::tuf::roles::parent_role(&c.role),
            _ => None,
        };
        if let Some(r) = role {
            if !roles.iter().any(|x| x == r) {
                roles.push(r.to_owned());
            }
        }
    }
    let gun = local.gun().as_str().to_owned();
    let (needed, _) = needed_keys(env, local, &roles, true)?;
    for (_, role) in &needed {
        match load_signers(env, &gun, role) {
            // Not here by the cached root: the publish reads the current one and decides.
            Err(Error::Trust(TrustError::MissingKey { .. })) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

fn check_key(env: &Env<'_>, id: &crate::tuf::KeyId) -> KeyStatus {
    match env.keys.holds(id) {
        Ok(true) => {}
        Ok(false) => return KeyStatus::Absent,
        Err(e) => {
            return KeyStatus::Fails {
                reason: e.to_string(),
                error: std::sync::Arc::new(e),
            }
        }
    }
    match env.keys.load(id, env.pass) {
        Ok(_) => KeyStatus::Ready,
        Err(e) => KeyStatus::Fails {
            reason: e.to_string(),
            error: std::sync::Arc::new(e),
        },
    }
}
