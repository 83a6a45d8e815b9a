//! Key rotation (protocol §9.4): a new root (or a root listing a new targets, snapshot or
//! timestamp key) signed by the old root keys *and* the new ones, so every client holding
//! the old root accepts it.

use crate::crypto::CanonicalKeyId as _;
use std::collections::BTreeSet;

use crate::crypto::private::{Algorithm, PrivateKey};
use crate::crypto::x509;
use crate::keystore::KeyFormat;
use crate::trust::Error;
use crate::tuf::{keys, Expires, KeyId, PublicKey, RoleKeys, Root};

use super::local::LocalRepo;
use super::publish::{publish_with, Env, PublishOptions, PublishReport, RootUpdate};
use super::state::{LoadPolicy, RepoState};
use super::{expiry, TrustError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateRole {
    Root,
    Targets,
    Snapshot,
    Timestamp,
}

impl RotateRole {
    pub fn parse(s: &str) -> Option<RotateRole> {
        match s {
            "root" => Some(RotateRole::Root),
            "targets" => Some(RotateRole::Targets),
            "snapshot" => Some(RotateRole::Snapshot),
            "timestamp" => Some(RotateRole::Timestamp),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            RotateRole::Root => "root",
            RotateRole::Targets => "targets",
            RotateRole::Snapshot => "snapshot",
            RotateRole::Timestamp => "timestamp",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RotateOptions {
    pub role: RotateRole,
    /// Rotate to this existing key (canonical ID) instead of a new one.
    pub key: Option<KeyId>,
    /// Hand the key to the server (snapshot, timestamp).
    pub server_managed: bool,
    pub key_format: KeyFormat,
}

/// What a rotation will do (or did).
#[derive(Debug, Clone)]
pub struct RotationPlan {
    pub gun: String,
    pub role: RotateRole,
    pub before: Root,
    pub after: Root,
    /// Public-key IDs whose signatures the new root carries (old root keys + new root key).
    pub root_signers: Vec<String>,
    /// Of those, the ones missing from this key store.
    pub missing_signers: Vec<String>,
    pub new_key: String,
    pub notes: Vec<String>,
}

pub struct RotateReport {
    pub plan: RotationPlan,
    pub publish: PublishReport,
}

enum NewKey {
    Local(PrivateKey),
    Server(PublicKey),
    /// For plans: a key that would be generated.
    Placeholder,
}

/// Work out the rotation without changing anything (no key generated, nothing uploaded).
pub fn plan(env: &Env<'_>, local: &LocalRepo, opts: &RotateOptions) -> Result<RotationPlan, Error> {
    let state = current(env, local)?;
    let new_key = match &opts.key {
        Some(id) => NewKey::Local(env.keys.load(id, env.pass)?.0),
        None => NewKey::Placeholder,
    };
    let (after, _) = build(env, &state, opts, &new_key)?;
    describe(env, &state, opts, after, &new_key)
}

/// Rotate and publish.
pub fn rotate(
    env: &Env<'_>,
    local: &LocalRepo,
    opts: &RotateOptions,
) -> Result<RotateReport, Error> {
    let state = current(env, local)?;
    let gun = local.gun();
    let g = Some(gun.as_str());
    if opts.role == RotateRole::Root && opts.key.is_none() {
        // Open the current root keys before a new one is written: a wrong passphrase or
        // PIN, or a token that is not there, fails with nothing changed.
        super::publish::load_signers(env, gun.as_str(), &state.root.role().base_role("root")?)?;
    }
    let new_key = match (&opts.key, opts.role, opts.server_managed) {
        (Some(_), _, true) => {
            return Err(TrustError::BadInput(
                "--key and --server-managed exclude each other".into(),
            )
            .into());
        }
        (_, RotateRole::Root | RotateRole::Targets, true) => {
            return Err(TrustError::BadInput(format!(
                "the {} key cannot be held by the server",
                opts.role.name()
            ))
            .into());
        }
        (Some(id), _, false) => NewKey::Local(env.keys.load(id, env.pass)?.0),
        (None, RotateRole::Snapshot | RotateRole::Timestamp, true)
        | (None, RotateRole::Timestamp, false)
            if env.remote.signs_timestamp() =>
        {
            NewKey::Server(env.remote.rotate_server_key(gun, opts.role.name())?)
        }
        (None, role @ (RotateRole::Snapshot | RotateRole::Timestamp), true) => {
            return Err(TrustError::BadInput(format!(
                "{} is a static repository: there is no server to hold the {} key",
                env.remote.describe(),
                role.name()
            ))
            .into());
        }
        (None, role, false) => {
            let (role_name, gun_header) = match role {
                RotateRole::Root => ("root", None),
                r => (r.name(), g),
            };
            NewKey::Local(
                env.keys
                    .generate_key(
                        role_name,
                        gun_header,
                        Algorithm::Ecdsa,
                        opts.key_format,
                        env.pass,
                    )?
                    .0,
            )
        }
    };
    let (after, extra) = build(env, &state, opts, &new_key)?;
    let plan = describe(env, &state, opts, after.clone(), &new_key)?;
    let publish = publish_with(
        env,
        local,
        &PublishOptions {
            root: Some(RootUpdate::Replace { root: after, extra }),
            force_snapshot: true,
            exclude_staged: true,
            ..Default::default()
        },
    )?;
    Ok(RotateReport { plan, publish })
}

/// What [`recover_server`] published.
pub struct RecoverReport {
    /// Root version of the verified copy, and of the root published now.
    pub root_versions: (i64, i64),
    /// Roles whose keys the server made anew (timestamp; snapshot when it held it), with
    /// the new key IDs.
    pub new_server_keys: Vec<(String, String)>,
    /// Staged changes left staged (published by the next `publish`).
    pub staged_kept: usize,
    pub publish: PublishReport,
}

/// A server that lost the repository (see [`TrustError::ServerLostData`]): publish the
/// verified cached copy to it again. The server makes new keys for the roles it signs;
/// a new root (version + 1, signed by the current root keys, so every client follows)
/// lists them, and every targets role goes up as it is. Staged changes stay staged.
pub fn recover_server(env: &Env<'_>, local: &LocalRepo) -> Result<RecoverReport, Error> {
    let _lock = local.lock()?;
    let gun = local.gun();
    let remote = env.remote.describe();
    if env
        .remote
        .get_current(gun, "root", crate::remote::limits::MAX_DOWNLOAD_SIZE)?
        .is_some()
    {
        return Err(TrustError::NothingToRecover {
            gun: gun.to_string(),
            remote,
        }
        .into());
    }
    let policy = LoadPolicy {
        clock: env.clock,
        check_expiry: false,
        trust: env.trust,
    };
    let state =
        RepoState::from_cache(local, policy)?.ok_or_else(|| TrustError::NotInitialized {
            gun: gun.to_string(),
            remote: remote.clone(),
        })?;
    let before = state.root.role().clone();
    let mut root = before.clone();
    let mut new_server_keys = Vec::new();
    if env.remote.signs_timestamp() {
        let mut roles = vec!["timestamp"];
        // A snapshot key the server held is gone with its data; one held here stays.
        if !super::publish::holds_any_key(env, &before.base_role("snapshot")?)? {
            roles.push("snapshot");
        }
        for role in roles {
            let key = env.remote.rotate_server_key(gun, role)?;
            let id = key.key_id().to_string();
            set_role_key(&mut root, &before, role, id.clone(), key);
            new_server_keys.push((role.to_owned(), id));
        }
    }
    let root_update = if new_server_keys.is_empty() {
        None
    } else {
        root.version = super::next_version(gun.as_str(), "root", root.version)?;
        root.expires = Expires::new(env.clock.now() + expiry::ROOT)?;
        Some(RootUpdate::Replace {
            root: root.clone(),
            extra: Vec::new(),
        })
    };
    let staged_kept = super::changelist::Changelist::for_repo(local).list()?.len();
    let publish = super::publish::publish_locked_with(
        env,
        local,
        &PublishOptions {
            root: root_update,
            force_snapshot: true,
            exclude_staged: true,
            remote_known_empty: true,
            recover: true,
            ..Default::default()
        },
    )?;
    Ok(RecoverReport {
        root_versions: (before.version, root.version),
        new_server_keys,
        staged_kept,
        publish,
    })
}

fn current(env: &Env<'_>, local: &LocalRepo) -> Result<RepoState, Error> {
    let policy = LoadPolicy {
        clock: env.clock,
        check_expiry: false,
        trust: env.trust,
    };
    RepoState::fetch(env.remote, local, policy)?.ok_or_else(|| {
        TrustError::NoTrustData {
            gun: local.gun().to_string(),
            remote: env.remote.describe(),
        }
        .into()
    })
}

/// The new root and the extra signers it needs (the new root key).
fn build(
    env: &Env<'_>,
    state: &RepoState,
    opts: &RotateOptions,
    new_key: &NewKey,
) -> Result<(Root, Vec<(KeyId, PrivateKey)>), Error> {
    let now = env.clock.now();
    let gun = state.gun.as_str();
    let mut root = state.root.role().clone();
    root.version = super::next_version(gun, "root", root.version)?;
    root.expires = Expires::new(now + expiry::ROOT)?;
    let mut extra = Vec::new();
    let public = match (opts.role, new_key) {
        (RotateRole::Root, NewKey::Local(k)) => {
            let signing = k.ecdsa_signing_key().ok_or_else(|| {
                TrustError::BadInput(format!(
                    "root keys must be ECDSA P-256; key {} is {}",
                    k.key_id(),
                    k.algorithm().as_str()
                ))
            })?;
            let cert = x509::root_certificate(signing, gun, now)?;
            let p = PublicKey::new(keys::ECDSA_X509, cert.into_bytes());
            extra.push((p.key_id(), clone_key(k)?));
            Some(p)
        }
        (_, NewKey::Local(k)) => Some(k.public_key()),
        (_, NewKey::Server(p)) => Some(p.clone()),
        (_, NewKey::Placeholder) => None,
    };
    if let Some(p) = public {
        let id = p.key_id().to_string();
        set_role_key(&mut root, state.root.role(), opts.role.name(), id, p);
    }
    Ok((root, extra))
}

/// `role` of `root` (an edit of `before`) signed by `key` alone, threshold 1. Keys no
/// role uses any more leave root, except `before`'s root keys, which stay listed as
/// notary keeps them.
fn set_role_key(root: &mut Root, before: &Root, role: &str, id: String, key: PublicKey) {
    root.keys.insert(id.clone(), key);
    root.roles
        .insert(role.to_owned(), RoleKeys::new(vec![id], 1));
    let used: BTreeSet<String> = root
        .roles
        .values()
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    let old_root_ids: BTreeSet<String> = before
        .roles
        .get("root")
        .map(|r| r.keyids.iter().cloned().collect())
        .unwrap_or_default();
    root.keys
        .retain(|id, _| used.contains(id) || old_root_ids.contains(id));
}

/// A copy of the key (a key on a PKCS#11 token shares its session: it cannot be copied out).
fn clone_key(k: &PrivateKey) -> Result<PrivateKey, Error> {
    Ok(k.clone())
}

fn describe(
    env: &Env<'_>,
    state: &RepoState,
    opts: &RotateOptions,
    after: Root,
    new_key: &NewKey,
) -> Result<RotationPlan, Error> {
    let before = state.root.role().clone();
    let mut signers = Vec::new();
    let mut missing = Vec::new();
    for key in before.base_role("root")?.keys.values() {
        if let Ok(id) = key.canonical_key_id() {
            if env.keys.info(&id).is_err() {
                missing.push(id.to_string());
            }
            signers.push(id.to_string());
        }
    }
    let new_key_desc = match new_key {
        NewKey::Local(k) => k.key_id().to_string(),
        NewKey::Server(p) => format!("{} (held by the server)", p.key_id()),
        NewKey::Placeholder => match opts.server_managed {
            true => "a new key from the server".into(),
            false => "a new ECDSA P-256 key (generated when the rotation runs)".into(),
        },
    };
    if opts.role == RotateRole::Root {
        if let NewKey::Local(k) = new_key {
            signers.push(k.key_id().to_string());
        }
    }
    let mut notes = vec![format!(
        "clients that trust root version {} accept version {}: it is signed by a threshold of the current root keys",
        before.version, after.version
    )];
    match opts.role {
        RotateRole::Root => notes.push("the old root certificate stays listed in root.json; the old root key file is kept".into()),
        RotateRole::Targets => notes.push("targets is re-signed with the new key; delegations stay signed by their own keys (none becomes unsigned)".into()),
        RotateRole::Snapshot => notes.push(if opts.server_managed { "from now on the server signs snapshots".into() } else { "the snapshot is re-signed with the new key".to_string() }),
        RotateRole::Timestamp => notes.push("the timestamp is re-signed with the new key".into()),
    }
    if !missing.is_empty() {
        notes.push(format!(
            "the current root keys {} are not in this key store: the rotation cannot be signed here",
            missing.join(", ")
        ));
    }
    Ok(RotationPlan {
        gun: state.gun.to_string(),
        role: opts.role,
        before,
        after,
        root_signers: signers,
        missing_signers: missing,
        new_key: new_key_desc,
        notes,
    })
}
