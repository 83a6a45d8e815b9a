//! Verified repository state: root, targets and delegations, snapshot, timestamp, each
//! with the exact bytes it was read from.
//!
//! [`RepoState::fetch`] follows notary's update flow (protocol §8): trust starts where
//! [`super::anchor`] says (a pin, an anchored cache, or trust on first use with consent),
//! newer roots are followed version by version, each signed by the previous root's keys
//! and its own; then timestamp → snapshot → targets → delegations, each checked against
//! its parent's hashes and keys, and never older than the cached copy.

use std::collections::BTreeMap;

use crate::clock::Clock;
use crate::remote::{limits, Gun, Remote, RemoteError};
use crate::trust::Error;
use crate::tuf::roles::{self, BaseRole};
use crate::tuf::{
    check_hashes, verify, Metadata, Root, Signed, Snapshot, Targets, Timestamp, TufError, Verified,
};

use super::anchor::{self, AnchoredBy, Start, TrustPolicy};
use super::local::LocalRepo;
use super::{verification, TrustError};

mod fetch;

pub use super::anchor::roots::{root_role, rotate_root, trust_cached_root, trust_new_root};
use fetch::*;

pub(super) fn base_role(gun: &str, root: &Root, name: &str) -> Result<BaseRole, TrustError> {
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

/// Where the state came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Remote,
    Cache,
}

/// A repository's verified state. Only this module builds one (every field is set by
/// verification); outside the library it is read through its accessors.
pub struct RepoState {
    pub(crate) gun: Gun,
    pub(crate) root: Verified<Root>,
    /// `targets` and every delegation that loaded and verified, by role name.
    pub(crate) targets: BTreeMap<String, Verified<Targets>>,
    pub(crate) snapshot: Option<Verified<Snapshot>>,
    pub(crate) timestamp: Option<Verified<Timestamp>>,
    pub(crate) source: Source,
    /// Delegations that were skipped, a pin that is behind, and why.
    pub(crate) warnings: Vec<String>,
    /// The pin this state was anchored by is behind its root (see [`RepoState::pin_behind`]).
    pub(crate) pin_behind: bool,
    /// How the root came to be trusted.
    pub(crate) anchored_by: AnchoredBy,
    /// The root was trusted on first use just now (with consent: nothing cached or pinned).
    pub(crate) first_use: bool,
    /// Roles whose bytes differ from the local cache (downloaded just now).
    pub(crate) fresh: std::collections::BTreeSet<String>,
    /// Root versions verified on the way to the current one (for the local history).
    pub(crate) walked_roots: Vec<Vec<u8>>,
    /// Loaded with expiry checks ([`LoadPolicy::check_expiry`]): only such a state gives
    /// a verdict ([`super::verdict::lookup`]), which checks expiry again at its own time.
    pub(crate) expiry_checked: bool,
}

impl RepoState {
    pub fn gun(&self) -> &Gun {
        &self.gun
    }
    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }
    /// `targets` and every delegation that verified, by role name.
    pub fn targets(&self) -> &BTreeMap<String, Verified<Targets>> {
        &self.targets
    }
    pub fn snapshot(&self) -> Option<&Verified<Snapshot>> {
        self.snapshot.as_ref()
    }
    pub fn timestamp(&self) -> Option<&Verified<Timestamp>> {
        self.timestamp.as_ref()
    }
    /// Read from the remote, or from the local cache alone.
    pub fn source(&self) -> Source {
        self.source
    }
    /// Delegations that were skipped, a pin that is behind, and why.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// The pin is behind the repository's root: signed rotations moved it to keys the pin
    /// does not list (trusted along the chain; the pin wants updating after a review).
    pub fn pin_behind(&self) -> bool {
        self.pin_behind
    }
    /// How the root came to be trusted.
    pub fn anchored_by(&self) -> AnchoredBy {
        self.anchored_by
    }
    /// The root was trusted on first use just now (with consent).
    pub fn first_use(&self) -> bool {
        self.first_use
    }
}

/// How strictly to load, and how trust in the root is anchored.
#[derive(Clone, Copy)]
pub struct LoadPolicy<'a> {
    pub clock: &'a dyn Clock,
    /// Refuse expired metadata (verification); publishing re-signs and may ignore it.
    pub check_expiry: bool,
    /// Pins and consent ([`super::anchor`]).
    pub trust: &'a TrustPolicy,
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

    /// Download and verify the repository, anchoring trust as `policy.trust` says.
    /// `Ok(None)` when the remote has no trust data.
    pub fn fetch(
        remote: &dyn Remote,
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
    ) -> Result<Option<RepoState>, Error> {
        let gun = local.gun().clone();
        let g = gun.as_str();
        let now = policy.clock.now();
        let cached_root_bytes = local.read_cached("root")?;
        let start = match anchor::start(local, cached_root_bytes.as_deref(), policy.trust, now) {
            Ok(s) => s,
            // Nothing anchors a first root: a repository the remote does not have at all
            // is said as such (not initialised, a wrong name), not as a trust question.
            Err(e @ Error::Trust(TrustError::NoAnchor { .. })) => {
                return match remote.get_current(&gun, "root", limits::MAX_DOWNLOAD_SIZE) {
                    Ok(None) if cached_root_bytes.is_none() => Ok(None),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        // A cache no record anchors, accepted now with consent, is trusted on first use.
        let unrecorded_first_use = matches!(
            start,
            Start::Trusted {
                by: AnchoredBy::Tofu,
                ..
            }
        ) && local.anchor_record()?.is_none();
        // Fast path, as notary's client does: with a trusted, unexpired root, go straight
        // to the timestamp. root.json is fetched only when the snapshot names another
        // root (or anything else fails to verify), and then the full update runs.
        if let Start::Trusted { root, by } = &start {
            if !root.role().expires.is_expired_at(now) {
                let root_fresh = cached_root_bytes.as_deref() != Some(root.bytes());
                match Self::load_from_root(remote, local, policy, root.clone(), root_fresh) {
                    Ok(mut state) => {
                        state.anchored_by = *by;
                        state.first_use = unrecorded_first_use;
                        return Ok(Some(state));
                    }
                    // Something did not verify under the cached root: do the full update.
                    Err(Error::Trust(_)) | Err(Error::Tuf(_)) | Err(Error::Crypto(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let Some(remote_root_bytes) =
            remote.get_current(&gun, "root", limits::MAX_DOWNLOAD_SIZE)?
        else {
            return Ok(None);
        };
        let followed = anchor::follow(
            remote,
            local,
            &gun,
            policy.trust,
            start,
            remote_root_bytes,
            now,
        )?;
        let root = followed.root;
        if policy.check_expiry {
            root.check_expiry(policy.clock)
                .map_err(|e| super::expired(g, "root", e))?;
        }
        let root_fresh = cached_root_bytes.as_deref() != Some(root.bytes());
        let mut state = Self::load_from_root(remote, local, policy, root, root_fresh)?;
        state.anchored_by = followed.by;
        state.first_use = followed.first_use || unrecorded_first_use;
        state.walked_roots = followed.walked;
        state.warnings.splice(0..0, followed.warnings);
        state.pin_behind = followed.pin_behind;
        Ok(Some(state))
    }

    /// Write what this state downloaded to the local cache, with the root versions
    /// walked (the history a pin is followed along) and how the root was anchored.
    /// Nothing is written, and no lock taken, when nothing changed.
    pub fn refresh_cache(&self, local: &LocalRepo, now: time::OffsetDateTime) -> Result<(), Error> {
        let fresh = self.fresh_files();
        let record = local.anchor_record()?;
        let record_stale = match &record {
            None => true,
            // A pin outranks how the cache was first trusted.
            Some(r) => self.anchored_by == AnchoredBy::Pin && r.anchored_by != "pin",
        };
        if fresh.is_empty() && self.walked_roots.is_empty() && !record_stale {
            return Ok(());
        }
        let _lock = local.lock()?;
        local.remember_roots(&self.walked_roots)?;
        local.write_cached_all(&fresh)?;
        if record_stale {
            local.write_anchor_record(&self.anchored_by.record(self.root.role().version, now))?;
        }
        Ok(())
    }

    /// Timestamp → snapshot → targets → delegations under an already trusted `root`.
    fn load_from_root(
        remote: &dyn Remote,
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
        root: Verified<Root>,
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
                .map_err(|e| super::expired(g, "timestamp", e))?;
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
                .map_err(|e| super::expired(g, "snapshot", e))?;
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
            pin_behind: false,
            anchored_by: AnchoredBy::Tofu,
            first_use: false,
            fresh: std::collections::BTreeSet::new(),
            walked_roots: Vec::new(),
            expiry_checked: policy.check_expiry,
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
                .map_err(|e| super::expired(g, "targets", e))?;
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
        // A cached file that does not verify is named by its path: it is a local file
        // the user can look at (or drop), not something a server sent.
        Self::from_cache_files(local, policy).map_err(|e| match e {
            Error::Trust(TrustError::Verification { gun, role, reason }) => {
                let path = local.cached_path(&role);
                let shown = path.display().to_string();
                let reason = if reason.contains(&shown) {
                    reason
                } else {
                    format!("cached file {shown}: {reason}")
                };
                Error::Trust(TrustError::Verification { gun, role, reason })
            }
            other => other,
        })
    }

    fn from_cache_files(
        local: &LocalRepo,
        policy: LoadPolicy<'_>,
    ) -> Result<Option<RepoState>, Error> {
        let gun = local.gun().clone();
        let g = gun.as_str();
        let Some(root_bytes) = local.read_cached("root")? else {
            return Ok(None);
        };
        let (root, anchored_by) =
            anchor::offline_root(local, policy.trust, &root_bytes, policy.clock.now())?;
        if policy.check_expiry {
            root.check_expiry(policy.clock)
                .map_err(|e| super::expired(g, "root", e))?;
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
                        return Err(TrustError::Expired {
                            gun: g.to_owned(),
                            role: role.to_owned(),
                            expires: exp.to_string(),
                        }
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
            pin_behind: false,
            anchored_by,
            first_use: false,
            fresh: std::collections::BTreeSet::new(),
            walked_roots: Vec::new(),
            expiry_checked: policy.check_expiry,
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
