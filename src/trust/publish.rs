//! Publishing: apply staged changes to the current verified state, re-sign what notary
//! would re-sign, upload everything in one request (protocol §9.2).

use crate::crypto::CanonicalKeyId as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::clock::Clock;
use crate::crypto::private::PrivateKey;
use crate::crypto::SignatureProvider;
use crate::keystore::{KeyStore, PassphraseSource};
use crate::remote::{Remote, RemoteError};
use crate::trust::Error;
use crate::tuf::roles::BaseRole;
use crate::tuf::{
    sign_role, Expires, FileMeta, KeyId, Metadata, Root, Signed, Snapshot, Targets, Timestamp,
};

use super::apply::Working;
use super::changelist::{Change, Changelist, StagedChange, TYPE_TARGET, TYPE_WITNESS};
use super::local::LocalRepo;
use super::state::{LoadPolicy, RepoState};
use super::{expiry, TrustError};

/// Everything a workflow needs.
pub struct Env<'a> {
    pub keys: &'a KeyStore,
    pub pass: &'a dyn PassphraseSource,
    pub remote: &'a dyn Remote,
    pub clock: &'a dyn Clock,
    /// How trust in the repository's root is anchored when it is read.
    pub trust: &'a super::anchor::TrustPolicy,
}

/// What a publish did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    /// Role → new version, for every file uploaded.
    pub uploaded: BTreeMap<String, i64>,
    pub applied_changes: usize,
    /// True when the remote had no trust data before (first publish).
    pub first: bool,
    pub warnings: Vec<String>,
    /// How the root published on was anchored, and its version (recorded in the cache
    /// when nothing records it yet).
    pub anchor: Option<(super::anchor::AnchoredBy, i64)>,
    /// The upload succeeded but the local cache could not be updated (why); the next
    /// command that reads the repository refreshes it. Also among `warnings`.
    pub cache_error: Option<String>,
    /// The upload succeeded but the staged changes it applied could not be removed (why):
    /// they are still staged. Also among `warnings`.
    pub changes_left: Option<String>,
}

/// How often a publish that lost a race (the remote moved on) is rebased and retried.
const MAX_ATTEMPTS: usize = 3;

/// A change to root published together with the staged changes.
pub enum RootUpdate {
    /// Re-sign the current root (version + 1, new expiry).
    Resign,
    /// Replace root with this one (version and expiry already set); signed by the current
    /// root role's keys, by the new root role's keys, and by `extra` keys.
    Replace {
        root: Root,
        extra: Vec<(KeyId, PrivateKey)>,
    },
    /// Publish this already signed root (offline ceremony); it must verify as the
    /// successor of the current root.
    Presigned(Vec<u8>),
}

/// What else a publish does besides applying staged changes.
#[derive(Default)]
pub struct PublishOptions {
    pub root: Option<RootUpdate>,
    /// Re-sign the snapshot even if nothing else changed (snapshot key rotation, renewal).
    pub force_snapshot: bool,
    /// Roles to re-sign unchanged (renewal).
    pub resign: Vec<String>,
    /// Leave staged changes out (and staged): rotations, root ceremonies and renewals
    /// publish only themselves, as notary's `key rotate` does.
    pub exclude_staged: bool,
    /// The caller saw (under the repository lock) that the remote has no trust data for
    /// this GUN: the first attempt publishes the local repository without fetching again
    /// (`init`). If somebody else created it meanwhile, the upload is refused and the
    /// next attempt fetches as usual.
    pub remote_known_empty: bool,
    /// The remote lost the repository (checked by the caller under the repository lock):
    /// publish the verified cached copy to it again, with `root` (the cached root listing
    /// the server's new keys); every targets role goes up as cached, unchanged.
    pub recover: bool,
}

/// Publish the staged changes of `local` (and, on the first publish, the locally
/// initialised repository). Staged changes are removed only after the upload succeeded.
pub fn publish(env: &Env<'_>, local: &LocalRepo) -> Result<PublishReport, Error> {
    publish_with(env, local, &PublishOptions::default())
}

/// [`publish`] with a root update or forced re-signing.
pub fn publish_with(
    env: &Env<'_>,
    local: &LocalRepo,
    opts: &PublishOptions,
) -> Result<PublishReport, Error> {
    let _lock = local.lock()?;
    publish_locked_with(env, local, opts)
}

pub(crate) fn publish_locked(env: &Env<'_>, local: &LocalRepo) -> Result<PublishReport, Error> {
    publish_locked_with(env, local, &PublishOptions::default())
}

pub(crate) fn publish_locked_with(
    env: &Env<'_>,
    local: &LocalRepo,
    opts: &PublishOptions,
) -> Result<PublishReport, Error> {
    let changelist = Changelist::for_repo(local);
    // A batch a killed command committed but did not finish moving in is completed first.
    changelist.recover()?;
    let staged = if opts.exclude_staged {
        Vec::new()
    } else {
        changelist.list()?
    };
    let mut last_err = None;
    for n in 0..MAX_ATTEMPTS {
        let known_empty = opts.remote_known_empty && n == 0;
        match attempt(env, local, &staged, opts, known_empty) {
            Ok((mut report, cache)) => {
                // The upload happened: whatever fails locally from here on is reported as
                // a warning beside it, never as a failed publish (that a script would
                // retry).
                let gun = local.gun();
                let files: Vec<PathBuf> = staged.iter().map(|s| s.file.clone()).collect();
                if let Err(e) = changelist.remove(&files) {
                    report.warnings.push(format!(
                        "published {gun} ({}); the staged changes it applied could not be removed: {e}",
                        describe_versions(&report)
                    ));
                    report.changes_left = Some(e.to_string());
                }
                if let Err(e) = update_cache(local, &cache) {
                    report.cache_error = Some(e.to_string());
                    report.warnings.push(format!(
                        "published {gun} ({}); the local cache could not be updated: {e}; it will be refreshed by the next command",
                        describe_versions(&report)
                    ));
                }
                if let Some((by, version)) = report.anchor {
                    if local.anchor_record().ok().flatten().is_none() {
                        let _ = local.write_anchor_record(&by.record(version, env.clock.now()));
                    }
                }
                return Ok(report);
            }
            Err(Error::Remote(e)) if is_version_conflict(&e) => {
                // Somebody else published in between: fetch, verify and rebase again.
                last_err = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(TrustError::Conflict {
        gun: local.gun().to_string(),
        reason: format!(
            "the remote kept changing while publishing ({})",
            last_err.map(|e| e.to_string()).unwrap_or_default()
        ),
    }
    .into())
}

/// Bring the cache to what was just published: removals first (an empty entry: a
/// deleted delegation, or a server-signed role that could not be fetched), then the new
/// files as one set. Stopped in between, the cache holds fewer files, never a new file
/// beside a stale one that lists other hashes.
fn update_cache(local: &LocalRepo, cache: &CacheFiles) -> Result<(), TrustError> {
    let mut changed = Vec::new();
    for (role, bytes) in cache {
        if bytes.is_empty() {
            local.remove_cached(role)?;
        } else if !local.holds_cached(role, bytes) {
            changed.push((role.clone(), bytes.clone()));
        }
    }
    local.write_cached_all(&changed)
}

/// "root v2, targets v5" for messages.
fn describe_versions(report: &PublishReport) -> String {
    let v: Vec<String> = report
        .uploaded
        .iter()
        .map(|(role, version)| format!("{role} v{version}"))
        .collect();
    if v.is_empty() {
        "nothing uploaded".into()
    } else {
        v.join(", ")
    }
}

/// After an upload to a server that signs the timestamp (and, for a server-managed
/// snapshot, the snapshot): its new copies, verified under `root` and checked to list
/// what was just uploaded, for the cache. A role that cannot be fetched or does not check
/// out gets an empty entry (its cached copy is removed): an offline read then has no stale
/// copy to compare the new files against, and the next online read fetches it.
fn server_signed_after_publish(
    env: &Env<'_>,
    gun: &crate::remote::Gun,
    root: &Root,
    snapshot_signed_here: Option<&[u8]>,
    new_targets: &BTreeMap<String, Vec<u8>>,
) -> CacheFiles {
    use crate::remote::limits;
    let fetch = || -> Result<CacheFiles, Error> {
        let ts_bytes = env
            .remote
            .get_current(gun, "timestamp", limits::MAX_TIMESTAMP_SIZE)?
            .ok_or_else(|| TrustError::BadInput("no timestamp".into()))?;
        let ts = crate::tuf::verify(
            Signed::<Timestamp>::from_bytes(&ts_bytes)?,
            &root.base_role("timestamp")?,
        )?;
        let snap_meta = ts
            .role()
            .snapshot_meta()
            .ok_or_else(|| TrustError::BadInput("the timestamp lists no snapshot".into()))?
            .clone();
        let mut out = Vec::new();
        match snapshot_signed_here {
            Some(snap) => crate::tuf::check_hashes("snapshot", snap, &snap_meta)?,
            None => {
                let sha = snap_meta
                    .sha256()
                    .ok_or_else(|| TrustError::BadInput("no sha256 for the snapshot".into()))?;
                let cap = u64::try_from(snap_meta.length).unwrap_or(0).max(1);
                let snap = env
                    .remote
                    .get_by_checksum(gun, "snapshot", &hex::encode(sha), cap)?
                    .ok_or_else(|| TrustError::BadInput("no snapshot".into()))?;
                crate::tuf::check_hashes("snapshot", &snap, &snap_meta)?;
                let verified = crate::tuf::verify(
                    Signed::<Snapshot>::from_bytes(&snap)?,
                    &root.base_role("snapshot")?,
                )?;
                for (name, bytes) in new_targets {
                    let m = verified.role().meta.get(name).ok_or_else(|| {
                        TrustError::BadInput(format!("the snapshot does not list {name}"))
                    })?;
                    crate::tuf::check_hashes(name, bytes, m)?;
                }
                out.push(("snapshot".to_owned(), snap));
            }
        }
        out.push(("timestamp".to_owned(), ts_bytes));
        Ok(out)
    };
    fetch().unwrap_or_else(|_| {
        let mut drop = vec![("timestamp".to_owned(), Vec::new())];
        if snapshot_signed_here.is_none() {
            drop.push(("snapshot".to_owned(), Vec::new()));
        }
        drop
    })
}

fn is_version_conflict(e: &RemoteError) -> bool {
    e.code() == Some("VERSION")
}

type CacheFiles = Vec<(String, Vec<u8>)>;

fn attempt(
    env: &Env<'_>,
    local: &LocalRepo,
    staged: &[StagedChange],
    opts: &PublishOptions,
    known_empty: bool,
) -> Result<(PublishReport, CacheFiles), Error> {
    let gun = local.gun().as_str().to_owned();
    let policy = LoadPolicy {
        clock: env.clock,
        check_expiry: false,
        trust: env.trust,
    };
    // Versions the remote already stores, when completing a first publish it holds part of.
    let mut floors: Option<BTreeMap<String, i64>> = None;
    let fetched = if known_empty {
        None
    } else {
        match RepoState::fetch(env.remote, local, policy) {
            Ok(s) => s,
            Err(e) => match interrupted_first_publish(env, local) {
                Ok(Some(f)) => {
                    floors = Some(f);
                    None
                }
                _ => return Err(e),
            },
        }
    };
    let floor = |role: &str, v: i64| -> i64 {
        floors
            .as_ref()
            .and_then(|f| f.get(role))
            .map_or(v, |&stored| stored.max(v))
    };
    if opts.recover && fetched.is_some() {
        return Err(TrustError::NothingToRecover {
            gun,
            remote: env.remote.describe(),
        }
        .into());
    }
    let (state, first) = match fetched {
        Some(s) => (s, false),
        None => match RepoState::from_cache(local, policy)? {
            Some(s) => (s, true),
            None => {
                return Err(TrustError::NotInitialized {
                    gun,
                    remote: env.remote.describe(),
                }
                .into());
            }
        },
    };
    if first && !opts.recover && floors.is_none() {
        check_not_lost(env, &state)?;
    }
    let now = env.clock.now();
    let mut report = PublishReport {
        first,
        warnings: state.warnings.clone(),
        // A first publish (`init` here) records its own anchor.
        anchor: (!first).then_some((state.anchored_by, state.root.role().version)),
        ..Default::default()
    };
    // A root read just now (first contact, or a rotation since) is cached with what the
    // publish writes, so that the next command starts from it.
    let fetched_root: CacheFiles = if !first && state.fresh.contains("root") {
        vec![("root".to_owned(), state.root.bytes().to_vec())]
    } else {
        Vec::new()
    };

    // Delegations that are published but did not verify are not in the state; the ones
    // to be witnessed are loaded as their files are, checked against the snapshot.
    let mut invalid = BTreeMap::new();
    if let Some(snap) = &state.snapshot {
        for s in staged {
            let role = &s.change.role;
            if s.change.kind != TYPE_WITNESS
                || state.targets.contains_key(role)
                || invalid.contains_key(role)
            {
                continue;
            }
            if let Some(meta) = snap.role().meta.get(role) {
                invalid.insert(
                    role.clone(),
                    fetch_unverified(env, local.gun(), role, meta)?,
                );
            }
        }
    }

    // Apply staged changes to copies of the targets roles.
    let mut work = working(&state, invalid, now)?;
    apply_all(&mut work, &gun, staged.iter().map(|s| &s.change))?;
    for r in &opts.resign {
        if !work.roles.contains_key(r) {
            return Err(
                TrustError::BadInput(format!("{gun} has no {r} metadata to re-sign")).into(),
            );
        }
        work.dirty.insert(r.clone());
    }
    report.warnings.append(&mut work.warnings);
    report.applied_changes = staged.len();
    if first && !opts.recover {
        work.dirty.insert("targets".into());
    }
    let Working {
        roles,
        dirty,
        deleted,
        ..
    } = work;

    // Root: uploaded as is on the first publish; re-signed when asked or near expiry.
    let mut root_bytes = state.root.bytes().to_vec();
    let mut root_changed = first;
    let old_root = state.root.role().clone();
    let mut root = old_root.clone();
    let near_expiry = !first && old_root.expires.time() - now < expiry::ROOT_RESIGN_WINDOW;
    let update = match (&opts.root, near_expiry) {
        (Some(u), _) => Some(u),
        (None, true) => {
            report.warnings.push(format!(
                "root was due to expire at {}; re-signing it",
                old_root.expires
            ));
            Some(&RootUpdate::Resign)
        }
        (None, false) => None,
    };
    if let Some(update) = update {
        if first && !opts.recover {
            return Err(TrustError::BadInput(format!(
                "{gun} is not published yet; publish it before changing its root"
            ))
            .into());
        }
        match update {
            RootUpdate::Resign => {
                root.version = super::next_version(&gun, "root", root.version)?;
                root.expires = Expires::new(now + expiry::ROOT)?;
                root_bytes = sign_with_role(env, &gun, &root, &old_root.base_role("root")?)
                    .map_err(|e| match e {
                        Error::Trust(TrustError::MissingKey { .. }) if opts.root.is_none() => {
                            TrustError::RootNeedsResigning {
                                gun: gun.clone(),
                                expires: old_root.expires.to_string(),
                            }
                            .into()
                        }
                        other => other,
                    })?;
            }
            RootUpdate::Replace {
                root: new_root,
                extra,
            } => {
                root = new_root.clone();
                let old_signers = load_signers(env, &gun, &old_root.base_role("root")?)?;
                let mut signers: Vec<(KeyId, &PrivateKey)> =
                    old_signers.iter().map(|(id, k)| (id.clone(), k)).collect();
                for (id, k) in extra {
                    if !signers.iter().any(|(s, _)| s == id) {
                        signers.push((id.clone(), k));
                    }
                }
                root_bytes = sign_with_key_refs(&root, &signers)?;
            }
            RootUpdate::Presigned(bytes) => {
                let v = super::state::rotate_root(
                    &gun,
                    &state.root,
                    bytes,
                    now,
                    super::next_version(&gun, "root", old_root.version)?,
                    true,
                )?;
                root = v.role().clone();
                root_bytes = bytes.clone();
            }
        }
        // Whatever changed, the result must be acceptable to every client holding the old root.
        super::state::rotate_root(
            &gun,
            &state.root,
            &root_bytes,
            now,
            super::next_version(&gun, "root", old_root.version)?,
            true,
        )?;
        root_changed = true;
    }

    // A role whose keys changed in root must be re-signed with its new keys.
    let mut dirty = dirty;
    let targets_keys_changed = old_root.roles.get("targets").map(|r| &r.keyids)
        != root.roles.get("targets").map(|r| &r.keyids);
    if root_changed && !first && targets_keys_changed {
        dirty.insert("targets".into());
    }

    if dirty.is_empty() && !root_changed && !opts.force_snapshot && deleted.is_empty() {
        return Ok((report, fetched_root));
    }

    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    // Completing an interrupted first publish: the remote has this very root already.
    if floors.is_some() {
        root_changed = false;
    }
    if root_changed {
        parts.push(("root".into(), root_bytes.clone()));
        report.uploaded.insert(
            "root".into(),
            Signed::<Root>::from_bytes(&root_bytes)?.untrusted().version,
        );
    }

    // Re-sign changed targets roles, shallowest first.
    let mut new_bytes: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut order: Vec<&String> = dirty.iter().collect();
    order.sort_by_key(|r| (r.matches('/').count(), r.to_string()));
    for name in order {
        let mut t = roles.get(name).cloned().expect("dirty roles exist");
        t.version = super::next_version(&gun, name, floor(name, t.version))?;
        t.expires = Expires::new(now + expiry::TARGETS)?;
        let role = signing_role(&gun, &root, &roles, name)?;
        let bytes = sign_with_role(env, &gun, &t, &role)?;
        report.uploaded.insert(name.clone(), t.version);
        new_bytes.insert(name.clone(), bytes.clone());
        parts.push((name.clone(), bytes));
    }
    // A first publish uploads every targets role of the local repository; the ones not
    // re-signed (delegations; all of them when recovering) go up as cached.
    if first {
        for (name, v) in &state.targets {
            if !new_bytes.contains_key(name) && roles.contains_key(name) {
                report.uploaded.insert(name.clone(), v.role().version);
                parts.push((name.clone(), v.bytes().to_vec()));
            }
        }
    }

    // Snapshot: signed here when we hold its key (always for static repositories).
    let snapshot_role = root.base_role("snapshot")?;
    let must_sign_snapshot = !env.remote.signs_timestamp();
    let snapshot_bytes = if must_sign_snapshot || holds_any_key(env, &snapshot_role)? {
        let prev_version = floor(
            "snapshot",
            state
                .snapshot
                .as_ref()
                .map(|s| s.role().version)
                .unwrap_or(0),
        );
        let mut meta = BTreeMap::new();
        meta.insert(
            "root".to_owned(),
            FileMeta::from_bytes(&root_bytes, &["sha256", "sha512"])?,
        );
        // Every targets role that still exists: new bytes if re-signed, else as published.
        for name in roles.keys() {
            let bytes = match (new_bytes.get(name), state.targets.get(name)) {
                (Some(b), _) => b.as_slice(),
                (None, Some(v)) => v.bytes(),
                (None, None) => continue,
            };
            meta.insert(
                name.clone(),
                FileMeta::from_bytes(bytes, &["sha256", "sha512"])?,
            );
        }
        // Published delegations that did not verify keep their entry, as in notary's
        // incremental snapshot update: dropping it would lose their targets for good and
        // leave nothing to witness.
        if let Some(prev) = &state.snapshot {
            let mut names: Vec<&String> = prev
                .role()
                .meta
                .keys()
                .filter(|n| crate::tuf::roles::is_delegation(n))
                .collect();
            names.sort_by_key(|n| n.matches('/').count());
            for name in names {
                if meta.contains_key(name) || deleted.contains(name) {
                    continue;
                }
                let Some(parent) = crate::tuf::roles::parent_role(name) else {
                    continue;
                };
                let still_delegated = match roles.get(parent) {
                    Some(p) => p.delegation(name).is_some(),
                    // Below another unverified delegation that is kept.
                    None => meta.contains_key(parent),
                };
                if still_delegated {
                    meta.insert(name.clone(), prev.role().meta[name].clone());
                }
            }
        }
        let snap = Snapshot::new(
            super::next_version(&gun, "snapshot", prev_version)?,
            Expires::new(now + expiry::SNAPSHOT)?,
            meta,
        );
        let bytes = sign_with_role(env, &gun, &snap, &snapshot_role)?;
        report.uploaded.insert("snapshot".into(), snap.version);
        parts.push(("snapshot".into(), bytes.clone()));
        Some(bytes)
    } else {
        None
    };

    // Timestamp: notary-server always signs it; for a static repository we do.
    let mut ts_bytes = None;
    if !env.remote.signs_timestamp() {
        let snap = snapshot_bytes
            .as_ref()
            .expect("snapshot signed for static repositories");
        let prev = floor(
            "timestamp",
            state
                .timestamp
                .as_ref()
                .map(|t| t.role().version)
                .unwrap_or(0),
        );
        let ts = Timestamp::new(
            super::next_version(&gun, "timestamp", prev)?,
            Expires::new(now + expiry::TIMESTAMP)?,
            FileMeta::from_bytes(snap, &["sha256", "sha512"])?,
        );
        let role = root.base_role("timestamp")?;
        let bytes = sign_with_role(env, &gun, &ts, &role)?;
        report.uploaded.insert("timestamp".into(), ts.version);
        parts.push(("timestamp".into(), bytes.clone()));
        ts_bytes = Some(bytes);
    }

    env.remote.publish(local.gun(), &parts)?;

    // What the cache holds afterwards: everything uploaded, and the server's new
    // timestamp (and snapshot, when the server holds its key), so that the cache is one
    // consistent state an offline read verifies.
    // (An empty entry removes a cached copy: a deleted delegation.)
    let mut cache: CacheFiles = deleted.iter().map(|r| (r.clone(), Vec::new())).collect();
    if env.remote.signs_timestamp() {
        cache.extend(server_signed_after_publish(
            env,
            local.gun(),
            &root,
            snapshot_bytes.as_deref(),
            &new_bytes,
        ));
    }
    if root_changed {
        cache.push(("root".into(), root_bytes));
    } else {
        cache.extend(fetched_root);
    }
    for (n, b) in new_bytes {
        cache.push((n, b));
    }
    if let Some(b) = snapshot_bytes {
        cache.push(("snapshot".into(), b));
    }
    if let Some(b) = ts_bytes {
        cache.push(("timestamp".into(), b));
    }
    Ok((report, cache))
}

/// Before a first publish: the remote has nothing, but the cache holds a timestamp, which
/// only a publish brings. The repository was published before and the remote has lost it
/// (a new database, a folder restored from before it was made), or this is not the
/// remote it was published to. Publishing the cache as a new repository would be refused
/// by a server (its keys went with its data) and would reset what readers hold.
fn check_not_lost(env: &Env<'_>, state: &RepoState) -> Result<(), Error> {
    if state.timestamp.is_none() {
        return Ok(());
    }
    Err(TrustError::ServerLostData {
        gun: state.gun.to_string(),
        remote: env.remote.describe(),
        root_version: state.root.role().version,
        targets_version: state
            .targets
            .get("targets")
            .map(|t| t.role().version)
            .unwrap_or(0),
    }
    .into())
}

/// A first publish (of the repository `init` prepared locally) that stopped part way:
/// the remote's root is byte for byte the cached one, but the remote has no timestamp
/// yet (a static repository switches its current names root first, timestamp last), the
/// cache has none either, and nothing on the remote is newer than that first upload.
/// Returns the versions the remote stores for the other roles (the next upload must be
/// newer), or `None` when the remote is not in that state.
pub(crate) fn interrupted_first_publish(
    env: &Env<'_>,
    local: &LocalRepo,
) -> Result<Option<BTreeMap<String, i64>>, Error> {
    use crate::remote::limits::MAX_DOWNLOAD_SIZE;
    let gun = local.gun();
    let Some(cached_root) = local.read_cached("root")? else {
        return Ok(None);
    };
    // The local repository `init` prepared has no timestamp; a cache that has one has
    // read (or published) a complete repository, and must not be published over it.
    if local.read_cached("timestamp")?.is_some()
        || env
            .remote
            .get_current(gun, "timestamp", MAX_DOWNLOAD_SIZE)?
            .is_some()
        || env
            .remote
            .get_current(gun, "root", MAX_DOWNLOAD_SIZE)?
            .as_deref()
            != Some(cached_root.as_slice())
    {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct VersionOnly {
        version: i64,
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        signed: VersionOnly,
    }
    let mut floors = BTreeMap::new();
    for role in ["targets", "snapshot"] {
        if let Some(b) = env.remote.get_current(gun, role, MAX_DOWNLOAD_SIZE)? {
            // Unverified: only a number to stay above (a bogus one costs version numbers).
            if let Ok(e) = serde_json::from_slice::<Envelope>(&b) {
                // init's first upload is version 2 of both: anything later is not it.
                if e.signed.version > 2 {
                    return Ok(None);
                }
                floors.insert(role.to_owned(), e.signed.version);
            }
        }
    }
    Ok(Some(floors))
}

/// A published targets file by its parent's meta (hashes checked), without verifying its
/// signatures: for delegations that no longer verify and are about to be witnessed.
/// Copies of `state`'s targets roles, for staged changes to edit.
fn working(
    state: &RepoState,
    invalid: BTreeMap<String, Targets>,
    now: time::OffsetDateTime,
) -> Result<Working, Error> {
    Ok(Working {
        roles: state
            .targets
            .iter()
            .map(|(k, v)| (k.clone(), v.role().clone()))
            .collect(),
        dirty: BTreeSet::new(),
        deleted: BTreeSet::new(),
        invalid,
        new_expires: Expires::new(now + expiry::TARGETS)?,
        warnings: Vec::new(),
    })
}

/// Apply `changes` (staged changes, numbered as `vouch status` numbers them) in order; a
/// change that cannot apply is named with the command that drops it.
fn apply_all<'c>(
    work: &mut Working,
    gun: &str,
    changes: impl Iterator<Item = &'c Change>,
) -> Result<(), Error> {
    for (i, c) in changes.enumerate() {
        work.apply(gun, c).map_err(|e| match e {
            Error::Trust(
                cause @ (TrustError::BadInput(_)
                | TrustError::NoSuchRole { .. }
                | TrustError::BelowThreshold { .. }),
            ) => TrustError::UnusableChange {
                gun: gun.to_owned(),
                number: i,
                change: format!("{} {} {:?} in {}", c.action, c.kind, c.path, c.role),
                cause: Box::new(cause),
            }
            .into(),
            other => other,
        })?;
    }
    Ok(())
}

/// Whether `changes`, staged after those already staged, apply to the repository as the
/// local cache holds it: the check staging alone (`--stage`) can make, offline. `Ok(None)`
/// when they apply, when they only add or remove targets of the top-level targets role
/// (which always applies), when nothing is cached, or when a witness is staged (what it
/// brings back is only known to a publish); else why not, as a publish would say it.
pub fn check_applies_to_cache(
    local: &LocalRepo,
    clock: &dyn Clock,
    changes: &[Change],
) -> Result<Option<TrustError>, Error> {
    // Targets added to or removed from the top-level targets role always apply: no need
    // to load (and verify) what may be a large cached repository for them.
    if changes
        .iter()
        .all(|c| c.kind == TYPE_TARGET && c.role == "targets")
    {
        return Ok(None);
    }
    // Only a warning while staging, offline: the cache is read as it is (however its root
    // was anchored); the publish that follows anchors trust as its policy says.
    let as_cached = super::anchor::TrustPolicy::tofu();
    let policy = LoadPolicy {
        clock,
        check_expiry: false,
        trust: &as_cached,
    };
    let Some(state) = RepoState::from_cache(local, policy)? else {
        return Ok(None);
    };
    let staged = Changelist::for_repo(local).list()?;
    let all: Vec<&Change> = staged.iter().map(|s| &s.change).chain(changes).collect();
    if all.iter().any(|c| c.kind == TYPE_WITNESS) {
        return Ok(None);
    }
    let mut work = working(&state, BTreeMap::new(), clock.now())?;
    match apply_all(&mut work, local.gun().as_str(), all.into_iter()) {
        Ok(()) => Ok(None),
        Err(Error::Trust(e @ TrustError::UnusableChange { .. })) => Ok(Some(e)),
        Err(e) => Err(e),
    }
}

fn fetch_unverified(
    env: &Env<'_>,
    gun: &crate::remote::Gun,
    role: &str,
    meta: &FileMeta,
) -> Result<Targets, Error> {
    let g = gun.as_str();
    let sha = meta
        .sha256()
        .ok_or_else(|| super::verification(g, role, "the snapshot lists no sha256 for it"))?;
    let cap = u64::try_from(meta.length).unwrap_or(0).max(1);
    let bytes = env
        .remote
        .get_by_checksum(gun, role, &hex::encode(sha), cap)?
        .ok_or_else(|| {
            super::verification(
                g,
                role,
                format!(
                    "{} does not have the version the snapshot lists",
                    env.remote.describe()
                ),
            )
        })?;
    crate::tuf::check_hashes(role, &bytes, meta).map_err(|e| super::verification(g, role, e))?;
    let signed =
        Signed::<Targets>::from_bytes(&bytes).map_err(|e| super::verification(g, role, e))?;
    Ok(signed.untrusted().clone())
}

/// The keys that must sign targets role `name`: root's targets role, or the delegation
/// entry in its parent.
pub(crate) fn signing_role(
    gun: &str,
    root: &Root,
    roles: &BTreeMap<String, Targets>,
    name: &str,
) -> Result<BaseRole, Error> {
    if name == "targets" {
        return Ok(root.base_role("targets")?);
    }
    let parent = crate::tuf::roles::parent_role(name)
        .ok_or_else(|| TrustError::BadInput(format!("{name} is not a targets role")))?;
    let p = roles.get(parent).ok_or_else(|| {
        TrustError::BadInput(format!(
            "{gun}: parent role {parent} of {name} is not loaded"
        ))
    })?;
    Ok(p.delegation_role(name)?)
}

/// Whether the key store holds any private key of `role`. A key file that is there but
/// cannot be read is an error naming it, not "no key": else a corrupt snapshot key would
/// silently leave the snapshot to the server, which refuses it.
pub(crate) fn holds_any_key(env: &Env<'_>, role: &BaseRole) -> Result<bool, Error> {
    for key in role.keys.values() {
        if let Ok(id) = key.canonical_key_id() {
            if env.keys.holds(&id)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Load the private keys for `role` from the key store: (listed key ID, key).
pub fn load_signers(
    env: &Env<'_>,
    gun: &str,
    role: &BaseRole,
) -> Result<Vec<(KeyId, PrivateKey)>, Error> {
    let mut out = Vec::new();
    let mut last_err = None;
    for (listed, key) in &role.keys {
        let Ok(canonical) = key.canonical_key_id() else {
            continue;
        };
        // Absent: another key of the role may do. There but unreadable (corrupt,
        // truncated): that is the error to report if the role cannot be signed.
        match env.keys.holds(&canonical) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        }
        match env.keys.load(&canonical, env.pass) {
            Ok((pk, _)) => out.push((KeyId::parse(listed)?, pk)),
            Err(e) => last_err = Some(e),
        }
    }
    if (out.len() as i64) < role.threshold.max(1) {
        if let Some(e) = last_err {
            return Err(e.into());
        }
        return Err(TrustError::MissingKey {
            gun: gun.to_owned(),
            role: role.name.clone(),
            keyids: role
                .keys
                .values()
                .filter_map(|k| k.canonical_key_id().ok())
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    }
    Ok(out)
}

pub(crate) fn sign_with_role<T: Metadata>(
    env: &Env<'_>,
    gun: &str,
    meta: &T,
    role: &BaseRole,
) -> Result<Vec<u8>, Error> {
    let signers = load_signers(env, gun, role)?;
    sign_with_keys(meta, &signers)
}

pub(crate) fn sign_with_key_refs<T: Metadata>(
    meta: &T,
    signers: &[(KeyId, &PrivateKey)],
) -> Result<Vec<u8>, Error> {
    let refs: Vec<(KeyId, &dyn SignatureProvider)> = signers
        .iter()
        .map(|(id, k)| (id.clone(), *k as &dyn SignatureProvider))
        .collect();
    Ok(sign_role(meta, &refs)?)
}

pub(crate) fn sign_with_keys<T: Metadata>(
    meta: &T,
    signers: &[(KeyId, PrivateKey)],
) -> Result<Vec<u8>, Error> {
    let refs: Vec<(KeyId, &dyn SignatureProvider)> = signers
        .iter()
        .map(|(id, k)| (id.clone(), k as &dyn SignatureProvider))
        .collect();
    Ok(sign_role(meta, &refs)?)
}
