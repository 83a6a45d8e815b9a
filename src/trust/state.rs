//! Verified repository state: root, targets and delegations, snapshot, timestamp, each
//! with the exact bytes it was read from.
//!
//! [`RepoState::fetch`] follows notary's update flow (protocol §8): the cached root is the
//! trust anchor (trust on first use when there is none; pinning comes with `verify`),
//! newer roots are followed version by version, each signed by the previous root's keys
//! and its own; then timestamp → snapshot → targets → delegations, each checked against
//! its parent's hashes and keys, and never older than the cached copy.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::crypto::x509;
use crate::error::Error;
use crate::remote::{limits, Gun, Remote, RemoteError};
use crate::tuf::roles::{self, BaseRole};
use crate::tuf::{
    check_hashes, verify, verify_with_roles, Metadata, Root, Signed, Snapshot, Targets, Timestamp,
    TufError, Verified,
};

use super::local::LocalRepo;
use super::{verification, TrustError};

/// How many root versions one update may walk through.
pub const MAX_ROOT_ROTATIONS: i64 = 256;

/// Where the state came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Remote,
    Cache,
}

pub struct RepoState {
    pub gun: Gun,
    pub root: Verified<Root>,
    /// `targets` and every delegation that loaded and verified, by role name.
    pub targets: BTreeMap<String, Verified<Targets>>,
    pub snapshot: Option<Verified<Snapshot>>,
    pub timestamp: Option<Verified<Timestamp>>,
    pub source: Source,
    /// Delegations that were skipped, and why.
    pub warnings: Vec<String>,
    /// The root was trusted on first use (no cache, no pin).
    pub tofu: bool,
    /// Roles whose bytes differ from the local cache (downloaded just now).
    pub fresh: std::collections::BTreeSet<String>,
}

/// How trust in a repository's root is anchored.
pub enum Bootstrap<'a> {
    /// The cached root; with none, the remote's root on first use (as notary does).
    CacheOrTofu,
    /// The cached root; with none, fail.
    CacheOnly,
    /// Pinned root keys (the cached root is not used as the anchor).
    Pinned(&'a super::pin::Pin),
}

/// How strictly to load.
#[derive(Clone, Copy)]
pub struct LoadPolicy<'a> {
    pub clock: &'a dyn Clock,
    /// Refuse expired metadata (verification); publishing re-signs and may ignore it.
    pub check_expiry: bool,
}

impl RepoState {
    /// Every metadata file of the state, by role name, in upload order
    /// (root, targets, delegations, snapshot, timestamp).
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![("root".to_owned(), self.root.bytes().to_vec())];
        for (name, t) in &self.targets {
            out.push((name.clone(), t.bytes().to_vec()));
        }
        if let Some(s) = &self.snapshot {
            out.push(("snapshot".into(), s.bytes().to_vec()));
        }
        if let Some(t) = &self.timestamp {
            out.push(("timestamp".into(), t.bytes().to_vec()));
        }
        out
    }

    /// Download and verify the repository. `Ok(None)` when the remote has no trust data.
    pub fn fetch(
        remote: &dyn Remote,
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
    ) -> Result<Option<RepoState>, Error> {
        Self::fetch_with(remote, local, policy, &Bootstrap::CacheOrTofu)
    }

    /// Download and verify the repository, anchoring trust as `bootstrap` says.
    pub fn fetch_with(
        remote: &dyn Remote,
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
        bootstrap: &Bootstrap<'_>,
    ) -> Result<Option<RepoState>, Error> {
        let gun = local.gun().clone();
        let g = gun.as_str();
        let now = policy.clock.now();
        let cached_root_bytes = local.read_cached("root")?;
        let cached_root = match (bootstrap, &cached_root_bytes) {
            (Bootstrap::Pinned(_), _) => None,
            (_, Some(bytes)) => Some(trust_cached_root(g, bytes, now)?),
            (_, None) => None,
        };
        // Fast path, as notary's client does: with a trusted, unexpired cached root, go
        // straight to the timestamp. root.json is fetched only when the snapshot names
        // another root (or anything else fails to verify), and then the full update runs.
        let fast_anchor = match (bootstrap, &cached_root) {
            (Bootstrap::Pinned(pin), _) => match &cached_root_bytes {
                Some(bytes) => super::pin::verify_pinned(g, pin, bytes, now, false)
                    .ok()
                    .filter(|r| r.role().version >= pin.root_version),
                None => None,
            },
            (_, Some(r)) => Some(r.clone()),
            (_, None) => None,
        };
        if let Some(anchor) = fast_anchor.filter(|r| !r.role().expires.is_expired_at(now)) {
            match Self::load_from_root(remote, local, policy, anchor, false, false) {
                Ok(state) => return Ok(Some(state)),
                // Something did not verify under the cached root: do the full update.
                Err(Error::Trust(_)) | Err(Error::Tuf(_)) | Err(Error::Crypto(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let Some(remote_root_bytes) =
            remote.get_current(&gun, "root", limits::MAX_DOWNLOAD_SIZE)?
        else {
            return Ok(None);
        };
        let mut tofu = false;
        let anchor = match (bootstrap, cached_root) {
            (Bootstrap::Pinned(pin), _) => Some(super::pin::anchor(
                remote,
                &gun,
                pin,
                &remote_root_bytes,
                now,
            )?),
            (_, Some(r)) => Some(r),
            (Bootstrap::CacheOnly, None) => {
                return Err(TrustError::NoAnchor { gun: g.to_owned() }.into());
            }
            (Bootstrap::CacheOrTofu, None) => {
                tofu = true;
                None
            }
        };
        let root = update_root(remote, &gun, anchor, remote_root_bytes, now)?;
        if policy.check_expiry {
            root.check_expiry(policy.clock)
                .map_err(|e| verification(g, "root", e))?;
        }

        let root_fresh = cached_root_bytes.as_deref() != Some(root.bytes());
        Ok(Some(Self::load_from_root(
            remote, local, policy, root, tofu, root_fresh,
        )?))
    }

    /// Timestamp → snapshot → targets → delegations under an already trusted `root`.
    fn load_from_root(
        remote: &dyn Remote,
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
        root: Verified<Root>,
        tofu: bool,
        root_fresh: bool,
    ) -> Result<RepoState, Error> {
        let gun = local.gun().clone();
        let g = gun.as_str();
        // Timestamp.
        let ts_bytes = remote
            .get_current(&gun, "timestamp", limits::MAX_TIMESTAMP_SIZE)?
            .ok_or_else(|| {
                verification(
                    g,
                    "timestamp",
                    format!("{} has root.json but no timestamp.json", remote.describe()),
                )
            })?;
        let timestamp = verify_role::<Timestamp>(
            g,
            "timestamp",
            &ts_bytes,
            &base_role(g, root.role(), "timestamp")?,
        )?;
        let cached_timestamp = local.read_cached("timestamp")?;
        check_floor(cached_timestamp.as_deref(), g, &timestamp, |b| {
            verify_role::<Timestamp>(
                g,
                "timestamp",
                b,
                &base_role(g, root.role(), "timestamp").ok()?,
            )
            .ok()
        })?;
        if policy.check_expiry {
            timestamp
                .check_expiry(policy.clock)
                .map_err(|e| verification(g, "timestamp", e))?;
        }

        // Snapshot, by the checksum the timestamp lists.
        let snap_meta = timestamp
            .role()
            .snapshot_meta()
            .ok_or_else(|| verification(g, "timestamp", "it lists no snapshot"))?
            .clone();
        let (snap_bytes, snap_fresh) =
            fetch_by_meta_cached(remote, local, &gun, "snapshot", &snap_meta)?;
        let snapshot = verify_role::<Snapshot>(
            g,
            "snapshot",
            &snap_bytes,
            &base_role(g, root.role(), "snapshot")?,
        )?;
        if snap_fresh {
            check_floor(
                local.read_cached("snapshot")?.as_deref(),
                g,
                &snapshot,
                |b| {
                    verify_role::<Snapshot>(
                        g,
                        "snapshot",
                        b,
                        &base_role(g, root.role(), "snapshot").ok()?,
                    )
                    .ok()
                },
            )?;
        }
        if policy.check_expiry {
            snapshot
                .check_expiry(policy.clock)
                .map_err(|e| verification(g, "snapshot", e))?;
        }
        if let Some(m) = snapshot.role().meta.get("root") {
            check_hashes("root", root.bytes(), m).map_err(|e| {
                verification(
                    g,
                    "snapshot",
                    format!("it lists a different root than the current one: {e}"),
                )
            })?;
        }

        let fresh_delegations = std::cell::RefCell::new(std::collections::BTreeSet::new());
        // Targets and delegations.
        let mut state = RepoState {
            gun: gun.clone(),
            root,
            targets: BTreeMap::new(),
            snapshot: None,
            timestamp: None,
            source: Source::Remote,
            warnings: Vec::new(),
            tofu,
            fresh: std::collections::BTreeSet::new(),
        };
        let targets_meta = snapshot
            .role()
            .meta
            .get("targets")
            .ok_or_else(|| verification(g, "snapshot", "it lists no targets"))?
            .clone();
        let (t_bytes, t_fresh) =
            fetch_by_meta_cached(remote, local, &gun, "targets", &targets_meta)?;
        let targets_role = base_role(g, state.root.role(), "targets")?;
        let targets = verify_role_owned::<Targets>(g, "targets", t_bytes, &targets_role)?;
        // A file taken from the cache is the cached copy: no floor to compare with.
        if t_fresh {
            check_floor(local.read_cached("targets")?.as_deref(), g, &targets, |b| {
                verify_role::<Targets>(g, "targets", b, &targets_role).ok()
            })?;
        }
        if policy.check_expiry {
            targets
                .check_expiry(policy.clock)
                .map_err(|e| verification(g, "targets", e))?;
        }
        state.targets.insert("targets".into(), targets);
        state.load_delegations(
            policy,
            |role, meta| {
                let (b, f) = fetch_by_meta_cached(remote, local, &gun, role, meta)?;
                if f {
                    fresh_delegations.borrow_mut().insert(role.to_owned());
                }
                Ok(Some(b))
            },
            snapshot.role(),
            Some(local),
        )?;
        let mut fresh = fresh_delegations.into_inner();
        if t_fresh {
            fresh.insert("targets".to_owned());
        }
        if snap_fresh {
            fresh.insert("snapshot".to_owned());
        }
        if cached_timestamp.as_deref() != Some(timestamp.bytes()) {
            fresh.insert("timestamp".to_owned());
        }
        if root_fresh {
            fresh.insert("root".to_owned());
        }
        state.fresh = fresh;
        state.snapshot = Some(snapshot);
        state.timestamp = Some(timestamp);
        Ok(state)
    }

    /// The files that differ from the local cache (what a cache refresh must write).
    pub fn fresh_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut add = |role: &str, bytes: &[u8]| {
            if self.fresh.contains(role) {
                out.push((role.to_owned(), bytes.to_vec()));
            }
        };
        add("root", self.root.bytes());
        for (name, t) in &self.targets {
            add(name, t.bytes());
        }
        if let Some(s) = &self.snapshot {
            add("snapshot", s.bytes());
        }
        if let Some(t) = &self.timestamp {
            add("timestamp", t.bytes());
        }
        out
    }

    /// Load from the local cache alone. `Ok(None)` when nothing is cached.
    /// The cached root is the trust anchor; everything else must chain to it.
    pub fn from_cache(
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
    ) -> Result<Option<RepoState>, Error> {
        let gun = local.gun().clone();
        let g = gun.as_str();
        let Some(root_bytes) = local.read_cached("root")? else {
            return Ok(None);
        };
        let root = trust_cached_root(g, &root_bytes, policy.clock.now())?;
        if policy.check_expiry {
            root.check_expiry(policy.clock)
                .map_err(|e| verification(g, "root", e))?;
        }
        let timestamp = match local.read_cached("timestamp")? {
            Some(b) => Some(verify_role::<Timestamp>(
                g,
                "timestamp",
                &b,
                &base_role(g, root.role(), "timestamp")?,
            )?),
            None => None,
        };
        let snapshot = match local.read_cached("snapshot")? {
            Some(b) => {
                if let Some(m) = timestamp.as_ref().and_then(|t| t.role().snapshot_meta()) {
                    check_hashes("snapshot", &b, m).map_err(|e| verification(g, "snapshot", e))?;
                }
                Some(verify_role::<Snapshot>(
                    g,
                    "snapshot",
                    &b,
                    &base_role(g, root.role(), "snapshot")?,
                )?)
            }
            None => None,
        };
        let t_bytes = local.read_cached("targets")?.ok_or_else(|| {
            verification(
                g,
                "targets",
                "the local cache has root.json but no targets.json",
            )
        })?;
        if let Some(m) = snapshot.as_ref().and_then(|s| s.role().meta.get("targets")) {
            check_hashes("targets", &t_bytes, m).map_err(|e| verification(g, "targets", e))?;
        }
        let targets = verify_role_owned::<Targets>(
            g,
            "targets",
            t_bytes,
            &base_role(g, root.role(), "targets")?,
        )?;
        if policy.check_expiry {
            for (role, r) in [
                (
                    "timestamp",
                    timestamp.as_ref().map(|t| t.role().expires().clone()),
                ),
                (
                    "snapshot",
                    snapshot.as_ref().map(|t| t.role().expires().clone()),
                ),
                ("targets", Some(targets.role().expires().clone())),
            ] {
                if let Some(exp) = r {
                    if exp.is_expired_at(policy.clock.now()) {
                        return Err(verification(
                            g,
                            role,
                            format!("the cached copy expired at {exp}"),
                        )
                        .into());
                    }
                }
            }
        }
        let mut state = RepoState {
            gun: gun.clone(),
            root,
            targets: BTreeMap::from([("targets".to_owned(), targets)]),
            snapshot: None,
            timestamp,
            source: Source::Cache,
            warnings: Vec::new(),
            tofu: false,
            fresh: std::collections::BTreeSet::new(),
        };
        if let Some(snap) = &snapshot {
            let snap_role = snap.role().clone();
            state.load_delegations(
                policy,
                |role, meta| match local.read_cached(role)? {
                    Some(b) => {
                        check_hashes(role, &b, meta).map_err(|e| verification(g, role, e))?;
                        Ok(Some(b))
                    }
                    None => Ok(None),
                },
                &snap_role,
                None,
            )?;
        }
        state.snapshot = snapshot;
        Ok(Some(state))
    }

    /// Walk delegations in pre-order from `targets`. A delegation that fails its threshold
    /// or has expired is skipped with a warning (as notary does); one that cannot be
    /// fetched, parsed or validated is an error.
    fn load_delegations(
        &mut self,
        policy: LoadPolicy<'_>,
        mut fetch: impl FnMut(&str, &crate::tuf::FileMeta) -> Result<Option<Vec<u8>>, Error>,
        snapshot: &Snapshot,
        floor: Option<&LocalRepo>,
    ) -> Result<(), Error> {
        let g = self.gun.as_str().to_owned();
        let mut queue: Vec<String> = vec!["targets".into()];
        let mut visited = 0usize;
        while let Some(parent) = queue.pop() {
            visited += 1;
            if visited > 10_000 {
                return Err(verification(&g, &parent, "more than 10000 delegations").into());
            }
            // Only the delegations are needed from the parent (not its targets, which may
            // be many): each direct child with its keys, or why its entry is unusable.
            let entries: Vec<(String, Result<BaseRole, crate::tuf::TufError>)> = {
                let p = self.targets[&parent].role();
                p.delegations
                    .roles
                    .iter()
                    .filter(|d| roles::is_direct_child(&parent, &d.name))
                    .map(|d| (d.name.clone(), p.delegation_role(&d.name)))
                    .collect()
            };
            // Children in listed order; pushed reversed so the first is visited first.
            let mut children = Vec::new();
            for (name, role) in entries {
                let Some(meta) = snapshot.meta.get(&name) else {
                    continue; // not published yet
                };
                let Some(bytes) = fetch(&name, meta)? else {
                    continue;
                };
                let role = match role {
                    Ok(r) => r,
                    Err(e) => {
                        self.warnings
                            .push(format!("skipping delegation {}: {e}", name));
                        continue;
                    }
                };
                // As notary (`downloadTargets`): a delegation whose signatures miss its
                // threshold (or that has expired, below) is skipped; anything else wrong
                // with it (unparsable, wrong `_type`, invalid structure) fails the update,
                // so a broken delegation cannot hand its names to a lower-priority role.
                let verified = match Signed::<Targets>::from_vec(bytes)
                    .and_then(|signed| verify(signed, &role))
                {
                    Ok(v) => v,
                    Err(e @ TufError::ThresholdNotMet { .. }) => {
                        self.warnings.push(format!(
                            "skipping delegation {name}: {}",
                            Error::from(verification(&g, &name, e))
                        ));
                        continue;
                    }
                    Err(e) => return Err(verification(&g, &name, e).into()),
                };
                if policy.check_expiry
                    && verified.role().expires().is_expired_at(policy.clock.now())
                {
                    self.warnings.push(format!(
                        "skipping delegation {}: expired at {}",
                        name,
                        verified.role().expires()
                    ));
                    continue;
                }
                if let Some(local) = floor {
                    check_floor(local.read_cached(&name)?.as_deref(), &g, &verified, |b| {
                        verify_role::<Targets>(&g, &name, b, &role).ok()
                    })?;
                }
                children.push(name.clone());
                self.targets.insert(name.clone(), verified);
            }
            for c in children.into_iter().rev() {
                queue.push(c);
            }
        }
        Ok(())
    }
}

/// The root role's keys that are valid root certificates for `gun` (protocol §5.4).
/// Certificates are checked for expiry only when `check_cert_expiry`.
pub fn root_role(
    gun: &str,
    root: &Root,
    now: OffsetDateTime,
    check_cert_expiry: bool,
) -> Result<BaseRole, TrustError> {
    let mut role = root
        .base_role("root")
        .map_err(|e| verification(gun, "root", e))?;
    let mut rejected = Vec::new();
    role.keys.retain(|id, key| {
        let ok = matches!(key.keytype.as_str(), "ecdsa-x509" | "rsa-x509")
            && match x509::validate_root_cert(&key.public, gun, now, check_cert_expiry) {
                Ok(_) => true,
                Err(e) => {
                    rejected.push(format!("{id}: {e}"));
                    false
                }
            };
        if !ok && rejected.last().is_none_or(|r| !r.starts_with(id.as_str())) {
            rejected.push(format!("{id}: not an x509 certificate key"));
        }
        ok
    });
    if role.keys.is_empty() {
        return Err(verification(
            gun,
            "root",
            format!(
                "no root key is a valid certificate for {gun} ({})",
                rejected.join("; ")
            ),
        ));
    }
    Ok(role)
}

fn base_role(gun: &str, root: &Root, name: &str) -> Result<BaseRole, TrustError> {
    root.base_role(name)
        .map_err(|e| verification(gun, "root", e))
}

/// Parse and verify one role file against `role`.
pub fn verify_role<T: Metadata>(
    gun: &str,
    name: &str,
    bytes: &[u8],
    role: &BaseRole,
) -> Result<Verified<T>, TrustError> {
    let signed = Signed::<T>::from_bytes(bytes).map_err(|e| verification(gun, name, e))?;
    verify(signed, role).map_err(|e| verification(gun, name, e))
}

/// [`verify_role`] taking ownership of the bytes (no copy of a large file).
pub fn verify_role_owned<T: Metadata>(
    gun: &str,
    name: &str,
    bytes: Vec<u8>,
    role: &BaseRole,
) -> Result<Verified<T>, TrustError> {
    let signed = Signed::<T>::from_vec(bytes).map_err(|e| verification(gun, name, e))?;
    verify(signed, role).map_err(|e| verification(gun, name, e))
}

/// A root from the local cache: self-signed by valid root certificates for the GUN
/// (certificate expiry is not checked for an already trusted root, as in notary).
pub fn trust_cached_root(
    gun: &str,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes)
        .map_err(|e| verification(gun, "root", format!("cached root.json: {e}")))?;
    let role = root_role(gun, signed.signed(), now, false)?;
    verify(signed, &role).map_err(|e| verification(gun, "root", format!("cached root.json: {e}")))
}

/// Trust a root with no local anchor (trust on first use): valid, unexpired certificates.
pub fn trust_new_root(
    gun: &str,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes).map_err(|e| verification(gun, "root", e))?;
    let role = root_role(gun, signed.signed(), now, true)?;
    verify(signed, &role).map_err(|e| verification(gun, "root", e))
}

/// Move from the trusted root to the remote's current one, one version at a time.
pub(crate) fn update_root(
    remote: &dyn Remote,
    gun: &Gun,
    trusted: Option<Verified<Root>>,
    current_bytes: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Verified<Root>, Error> {
    let g = gun.as_str();
    let Some(mut trusted) = trusted else {
        return Ok(trust_new_root(g, &current_bytes, now)?);
    };
    let current =
        Signed::<Root>::from_bytes(&current_bytes).map_err(|e| verification(g, "root", e))?;
    let target_version = current.signed().version;
    let have = trusted.role().version;
    if target_version < have {
        return Err(verification(
            g,
            "root",
            format!("the remote root is version {target_version}, older than the trusted version {have} (rollback)"),
        )
        .into());
    }
    if target_version == have {
        if current_bytes != trusted.bytes() {
            // Same version, different content: only the trusted one counts.
            return Err(verification(
                g,
                "root",
                format!("the remote root version {have} differs from the trusted copy"),
            )
            .into());
        }
        return Ok(trusted);
    }
    if target_version - have > MAX_ROOT_ROTATIONS {
        return Err(verification(
            g,
            "root",
            format!("the remote root is {} versions ahead; refusing to follow more than {MAX_ROOT_ROTATIONS}", target_version - have),
        )
        .into());
    }
    for v in (have + 1)..=target_version {
        let bytes = if v == target_version {
            current_bytes.clone()
        } else {
            remote
                .get_by_version(gun, "root", v as u64, limits::MAX_DOWNLOAD_SIZE)?
                .ok_or_else(|| {
                    verification(
                        g,
                        "root",
                        format!("root version {v} is missing on {}", remote.describe()),
                    )
                })?
        };
        trusted = rotate_root(g, &trusted, &bytes, now, v)?;
    }
    Ok(trusted)
}

/// Verify `bytes` as the successor of `previous`: a threshold of the previous root's keys
/// and of its own keys must sign it.
pub fn rotate_root(
    gun: &str,
    previous: &Verified<Root>,
    bytes: &[u8],
    now: OffsetDateTime,
    expect_version: i64,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes).map_err(|e| verification(gun, "root", e))?;
    if signed.signed().version != expect_version {
        return Err(verification(
            gun,
            "root",
            format!(
                "expected root version {expect_version}, got {}",
                signed.signed().version
            ),
        ));
    }
    let old_role = root_role(gun, previous.role(), now, false)?;
    let new_role = root_role(gun, signed.signed(), now, true)?;
    verify_with_roles(signed, &[&old_role, &new_role])
        .map_err(|e| verification(gun, "root", format!("root version {expect_version}: {e}")))
}

fn fetch_by_meta(
    remote: &dyn Remote,
    gun: &Gun,
    role: &str,
    meta: &crate::tuf::FileMeta,
) -> Result<Vec<u8>, Error> {
    let g = gun.as_str();
    let sha = meta
        .sha256()
        .ok_or_else(|| verification(g, role, "its parent lists no sha256 for it"))?;
    let cap = u64::try_from(meta.length).unwrap_or(0).max(1);
    let bytes = match remote.get_by_checksum(gun, role, &hex::encode(sha), cap) {
        // The parent signed this length: a longer answer is not the file it lists (a
        // verification failure, not an unavailable remote).
        Err(e @ RemoteError::TooLarge { .. }) => {
            return Err(verification(
                g,
                role,
                format!(
                    "longer than the {} bytes its parent lists: {e}",
                    meta.length
                ),
            )
            .into())
        }
        other => other?,
    }
    .ok_or_else(|| {
        verification(
            g,
            role,
            format!(
                "{} does not have the version its parent lists",
                remote.describe()
            ),
        )
    })?;
    check_hashes(role, &bytes, meta).map_err(|e| verification(g, role, e))?;
    Ok(bytes)
}

/// The file `meta` describes: the cached copy when it matches (no download), else
/// downloaded. Returns whether it was downloaded.
fn fetch_by_meta_cached(
    remote: &dyn Remote,
    local: &LocalRepo,
    gun: &Gun,
    role: &str,
    meta: &crate::tuf::FileMeta,
) -> Result<(Vec<u8>, bool), Error> {
    if let Some(b) = local.read_cached(role)? {
        if u64::try_from(meta.length).is_ok_and(|l| b.len() as u64 <= l)
            && check_hashes(role, &b, meta).is_ok()
        {
            return Ok((b, false));
        }
    }
    Ok((fetch_by_meta(remote, gun, role, meta)?, true))
}

/// Rollback protection: the new version may not be lower than the cached copy's, when the
/// cached copy still verifies (expired or not).
fn check_floor<T: Metadata>(
    cached: Option<&[u8]>,
    gun: &str,
    new: &Verified<T>,
    verify_cached: impl FnOnce(&[u8]) -> Option<Verified<T>>,
) -> Result<(), TrustError> {
    let name = new.role_name().to_owned();
    let Some(bytes) = cached else {
        return Ok(());
    };
    if bytes == new.bytes() {
        return Ok(());
    }
    // Cheap first look: only a cached copy with a higher version can block the update.
    #[derive(serde::Deserialize)]
    struct VersionOnly {
        version: i64,
    }
    #[derive(serde::Deserialize)]
    struct Env {
        signed: VersionOnly,
    }
    match serde_json::from_slice::<Env>(bytes) {
        Ok(e) if e.signed.version <= new.role().version() => return Ok(()),
        _ => {}
    }
    // The cached copy claims a higher version: it is the floor only if it still verifies
    // under the current keys (after a key rotation an inflated version by the old key no
    // longer counts: fast-forward recovery).
    if let Some(cached) = verify_cached(bytes) {
        let min = cached.role().version();
        if new.role().version() < min {
            return Err(verification(
                gun,
                &name,
                format!(
                    "version {} is older than the trusted version {min} (rollback)",
                    new.role().version()
                ),
            ));
        }
    }
    Ok(())
}
