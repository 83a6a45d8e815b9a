//! `init`: create a repository as `notary init -p` does (protocol §9.1): a root
//! certificate for the GUN, targets and snapshot keys, the server's timestamp key, root v1,
//! targets and snapshot signed locally and published in one upload (root 1, targets 2,
//! snapshot 2).

use crate::crypto::CanonicalKeyId as _;
use std::collections::BTreeMap;

use crate::crypto::private::Algorithm;
use crate::crypto::x509;
use crate::keystore::KeyFormat;
use crate::remote::{limits, Gun};
use crate::trust::Error;
use crate::tuf::{keys, Expires, FileMeta, KeyId, PublicKey, RoleKeys, Root, Snapshot, Targets};

use super::local::LocalRepo;
use super::publish::{
    holds_any_key, publish_locked, publish_locked_with, sign_with_keys, Env, PublishOptions,
    PublishReport,
};
use super::state::{LoadPolicy, RepoState};
use super::{expiry, TrustError};

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Use this root key (canonical ID) instead of the first one in the key store.
    pub root_key: Option<KeyId>,
    /// Let the server hold the snapshot key (Docker's default).
    pub server_managed_snapshot: bool,
    /// File format for newly generated keys.
    pub key_format: KeyFormat,
}

#[derive(Debug, Clone)]
pub struct InitReport {
    pub root_key: KeyId,
    pub root_key_created: bool,
    pub root_cert_key: KeyId,
    pub targets_key: KeyId,
    /// None when the server holds it.
    pub snapshot_key: Option<KeyId>,
    pub timestamp_key: KeyId,
    /// True when an earlier `init` had prepared the repository locally and this one only
    /// published it.
    pub resumed: bool,
    pub publish: PublishReport,
}

pub fn init(env: &Env<'_>, local: &LocalRepo, opts: &InitOptions) -> Result<InitReport, Error> {
    let _lock = local.lock()?;
    let gun = local.gun().clone();
    if env
        .remote
        .get_current(&gun, "root", limits::MAX_DOWNLOAD_SIZE)?
        .is_some()
    {
        return init_published(env, local);
    }
    // Keys of this GUN an init that was stopped generated: used again below.
    let mut reusable: Vec<String> = Vec::new();
    // A previous init that could not publish left a complete local repository: publish it.
    if let Some(bytes) = local.read_cached("root")? {
        let root = super::state::trust_cached_root(gun.as_str(), &bytes, env.clock.now())?;
        if local.read_cached("targets")?.is_some() {
            let report = publish_locked(env, local)?;
            return Ok(resumed_report(root.role(), report));
        }
        // Half a local repository (written one file at a time by an earlier version that
        // was stopped): nothing was published from it. Start again with its keys.
        for role in ["targets", "snapshot", "timestamp"] {
            if let Ok(r) = root.role().base_role(role) {
                reusable.extend(
                    r.keys
                        .values()
                        .filter_map(|k| k.canonical_key_id().ok())
                        .map(|k| k.to_string()),
                );
            }
        }
        for role in ["root", "snapshot", "timestamp"] {
            local.remove_cached(role)?;
        }
    }
    let now = env.clock.now();
    // The keys generated below sign right away: no need to decrypt them again.
    env.keys.keep_unlocked_keys();

    // Root key: as given, else the first existing root key, else a new one.
    let existing_root = match &opts.root_key {
        Some(id) => Some(env.keys.load(id, env.pass)?.0),
        None => {
            let mut roots: Vec<_> = env
                .keys
                .list()?
                .into_iter()
                .filter(|k| k.role == "root")
                .collect();
            roots.sort_by(|a, b| a.id.cmp(&b.id));
            match roots.first() {
                Some(info) => Some(env.keys.load(&info.id, env.pass)?.0),
                None => None,
            }
        }
    };
    if let Some(k) = existing_root
        .as_ref()
        .filter(|k| k.ecdsa_signing_key().is_none())
    {
        return Err(not_ecdsa(k));
    }
    // The new keys, written together (one sync of the key directory).
    let g = Some(gun.as_str());
    let local_timestamp = !env.remote.signs_timestamp();
    let mut specs = Vec::new();
    if existing_root.is_none() {
        specs.push(("root", None));
    }
    specs.push(("targets", g));
    if !opts.server_managed_snapshot {
        specs.push(("snapshot", g));
    }
    if local_timestamp {
        specs.push(("timestamp", g));
    }
    // Keys an earlier init of this GUN generated before it was stopped (nothing was
    // published, nothing cached: see above) are used again rather than left behind: those
    // its half-written root lists, and those created since it began (its note says which
    // keys of the GUN existed before). Older keys of the GUN are never picked up.
    let existing = env.keys.list()?;
    let gun_key_ids = || -> Vec<String> {
        existing
            .iter()
            .filter(|k| k.gun.as_deref() == Some(gun.as_str()))
            .map(|k| k.id.to_string())
            .collect()
    };
    match local.init_marker() {
        Some(before) => {
            reusable.extend(gun_key_ids().into_iter().filter(|id| !before.contains(id)))
        }
        None => local.begin_init(gun_key_ids())?,
    }
    let mut reused = BTreeMap::new();
    specs.retain(|(role, g)| {
        let Some(g) = g else { return true };
        let mut mine: Vec<_> = existing
            .iter()
            .filter(|k| k.role == *role && k.gun.as_deref() == Some(*g))
            .filter(|k| reusable.contains(&k.id.to_string()))
            .collect();
        mine.sort_by(|a, b| a.id.cmp(&b.id));
        match mine.first() {
            Some(k) => {
                reused.insert(*role, k.id.clone());
                false
            }
            None => true,
        }
    });
    let mut reused_keys = BTreeMap::new();
    for (role, id) in reused {
        reused_keys.insert(role, env.keys.load(&id, env.pass)?.0);
    }
    let mut generated: BTreeMap<&str, _> = env
        .keys
        .generate_keys(&specs, Algorithm::Ecdsa, opts.key_format, env.pass)?
        .into_iter()
        .zip(&specs)
        .map(|((k, _), (role, _))| (*role, k))
        .collect();
    let mut take = |role: &str| {
        generated
            .remove(role)
            .or_else(|| reused_keys.remove(role))
            .expect("a key for every role")
    };
    let mut next_new = || take("root");
    let root_key_created = existing_root.is_none();
    let root_key = existing_root.unwrap_or_else(&mut next_new);
    let targets_key = take("targets");
    let snapshot_key = (!opts.server_managed_snapshot).then(|| take("snapshot"));
    let timestamp_key = local_timestamp.then(|| take("timestamp"));

    let signing = root_key
        .ecdsa_signing_key()
        .ok_or_else(|| not_ecdsa(&root_key))?;
    let cert = x509::root_certificate(signing, gun.as_str(), now)?;
    let root_pub = PublicKey::new(keys::ECDSA_X509, cert.into_bytes());

    let snapshot_pub = match &snapshot_key {
        Some(k) => k.public_key(),
        None => env.remote.server_key(&gun, "snapshot")?,
    };
    let timestamp_pub = match &timestamp_key {
        Some(k) => k.public_key(),
        None => env.remote.server_key(&gun, "timestamp")?,
    };

    let targets_pub = targets_key.public_key();
    let mut keys_map = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for (name, key) in [
        ("root", &root_pub),
        ("targets", &targets_pub),
        ("snapshot", &snapshot_pub),
        ("timestamp", &timestamp_pub),
    ] {
        let id = key.key_id().to_string();
        keys_map.insert(id.clone(), key.clone());
        roles.insert(name.to_owned(), RoleKeys::new(vec![id], 1));
    }
    let root = Root::new(1, Expires::new(now + expiry::ROOT)?, keys_map, roles);
    let root_bytes = sign_with_keys(&root, &[(root_pub.key_id(), root_key)])?;
    let targets = Targets::new(1, Expires::new(now + expiry::TARGETS)?);
    let targets_bytes = sign_with_keys(&targets, &[(targets_pub.key_id(), targets_key)])?;
    let mut cache = vec![
        ("root".to_owned(), root_bytes.clone()),
        ("targets".to_owned(), targets_bytes.clone()),
    ];
    if let Some(sk) = snapshot_key {
        let mut meta = BTreeMap::new();
        meta.insert(
            "root".to_owned(),
            FileMeta::from_bytes(&root_bytes, &["sha256", "sha512"])?,
        );
        meta.insert(
            "targets".to_owned(),
            FileMeta::from_bytes(&targets_bytes, &["sha256", "sha512"])?,
        );
        let snap = Snapshot::new(1, Expires::new(now + expiry::SNAPSHOT)?, meta);
        cache.push((
            "snapshot".to_owned(),
            sign_with_keys(&snap, &[(snapshot_pub.key_id(), sk)])?,
        ));
    }
    // The local repository exists from here on, as one set of files (root never
    // without its targets), durably: a failed or interrupted upload is finished by
    // running `vouch init` again.
    // Trust in this root is anchored here: it was made here.
    local.write_anchor_record(&super::anchor::AnchoredBy::Init.record(1, now))?;
    local.write_cached_all(&cache)?;
    local.end_init();
    let opts = PublishOptions {
        remote_known_empty: true,
        ..Default::default()
    };
    let report = publish_locked_with(env, local, &opts)?;
    let mut r = resumed_report(&root, report);
    r.resumed = false;
    r.root_key_created = root_key_created;
    Ok(r)
}

/// `init` of a GUN the remote already has. Ours when we hold one of its root keys: an
/// earlier `init` that was stopped after (part of) its upload, or a trust dir that lost its
/// cache. Then finish what is missing (an upload cut short, the local cache) instead of
/// failing; anybody else's repository is refused as before.
fn init_published(env: &Env<'_>, local: &LocalRepo) -> Result<InitReport, Error> {
    let gun = local.gun();
    let already = || -> Error {
        TrustError::AlreadyExists {
            gun: gun.to_string(),
            remote: env.remote.describe(),
        }
        .into()
    };
    let cached_root = local.read_cached("root")?;
    if let Some(bytes) = &cached_root {
        if super::publish::interrupted_first_publish(env, local)?.is_some() {
            let root = super::state::trust_cached_root(gun.as_str(), bytes, env.clock.now())?;
            let report = publish_locked(env, local)?;
            return Ok(resumed_report(root.role(), report));
        }
    }
    // The remote's root is read as it is; it counts as ours only if a root key this key
    // store holds signed it (checked below), which then anchors it as made here.
    let as_served = super::anchor::TrustPolicy {
        tofu: true,
        ..env.trust.clone()
    };
    let policy = LoadPolicy {
        clock: env.clock,
        check_expiry: false,
        trust: &as_served,
    };
    let state = match RepoState::fetch(env.remote, local, policy) {
        Ok(Some(s)) => s,
        Ok(None) => return Err(already()),
        // Not verifiable: somebody else's, or broken.
        Err(_) if cached_root.is_none() => return Err(already()),
        Err(e) => return Err(e),
    };
    // A root key listed is not enough (anyone can list a public key): one of ours must
    // have signed this root.
    let mut signers = state.root.role().base_role("root")?;
    signers
        .keys
        .retain(|id, _| state.root.signed_by().iter().any(|k| k.as_str() == id));
    if !holds_any_key(env, &signers)? {
        return Err(already());
    }
    local.write_cached_all(&state.fresh_files())?;
    if local.anchor_record()?.is_none() {
        local.write_anchor_record(
            &super::anchor::AnchoredBy::Init.record(state.root.role().version, env.clock.now()),
        )?;
    }
    // Staged changes, if any, go out as an init that publishes would send them.
    let report = publish_locked(env, local)?;
    Ok(resumed_report(state.root.role(), report))
}

fn not_ecdsa(root_key: &crate::crypto::private::PrivateKey) -> Error {
    TrustError::BadInput(format!(
        "root key {} is {}; root certificates need an ECDSA P-256 key",
        root_key.key_id(),
        root_key.algorithm().as_str()
    ))
    .into()
}

fn resumed_report(root: &Root, publish: PublishReport) -> InitReport {
    let first = |role: &str| -> (KeyId, Option<KeyId>) {
        let id = root
            .roles
            .get(role)
            .and_then(|r| r.keyids.first())
            .cloned()
            .unwrap_or_default();
        let key = root.keys.get(&id);
        (
            KeyId::parse(&id).unwrap_or_else(|_| KeyId::parse(&"0".repeat(64)).expect("valid")),
            key.and_then(|k| k.canonical_key_id().ok()),
        )
    };
    let (root_cert_key, root_key) = first("root");
    let (_, targets_key) = first("targets");
    let (snapshot_tuf, snapshot_key) = first("snapshot");
    let (timestamp_key, _) = first("timestamp");
    let _ = snapshot_tuf;
    InitReport {
        root_key: root_key.unwrap_or_else(|| root_cert_key.clone()),
        root_key_created: false,
        root_cert_key,
        targets_key: targets_key.unwrap_or_else(|| KeyId::parse(&"0".repeat(64)).expect("valid")),
        snapshot_key,
        timestamp_key,
        resumed: true,
        publish,
    }
}

/// The GUN a `Gun` names, for messages.
pub fn describe(gun: &Gun) -> String {
    gun.to_string()
}
