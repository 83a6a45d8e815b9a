//! The verdict: is NAME signed in a repository, and as what? Decided here, for every
//! caller (the CLI's verify and verify-file, and whatever else asks).
//!
//! [`load`] reads the repository's verified state — from the remote, or from the cache
//! alone — with trust anchored as the [`super::anchor::TrustPolicy`] says, and keeps what
//! it downloaded in the cache. [`verify`] looks NAME up in it and returns a
//! [`TrustedTarget`], or a typed cause.

use std::io::Read;

use crate::remote::Remote;
use crate::trust::Error;
use crate::tuf::{FileMeta, KeyId};

use super::anchor::AnchoredBy;
use super::local::LocalRepo;
use super::state::{LoadPolicy, RepoState, Source};
use super::view;
use super::TrustError;

/// What to look up.
#[derive(Debug, Clone, Copy)]
pub enum Query<'a> {
    /// A Docker tag: `targets/releases` first, then `targets` (docker's order).
    Tag(&'a str),
    /// Any target name, in the repository's delegation order.
    Name(&'a str),
}

impl Query<'_> {
    pub fn name(&self) -> &str {
        match self {
            Query::Tag(n) | Query::Name(n) => n,
        }
    }
}

/// A role's version and expiry, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleVersion {
    pub role: String,
    pub version: i64,
    pub expires: String,
}

/// A target that is signed, with everything that decided it.
#[derive(Debug, Clone)]
pub struct TrustedTarget {
    pub gun: String,
    pub name: String,
    /// Length and hashes as signed.
    pub meta: FileMeta,
    /// The signed sha256, as `sha256:HEX`.
    pub digest: String,
    /// The role that signed it.
    pub role: String,
    /// The keys whose signatures on that role counted.
    pub signed_by: Vec<KeyId>,
    /// Every verified role's version and expiry (root, targets and delegations,
    /// snapshot, timestamp).
    pub versions: Vec<RoleVersion>,
    /// Read from the remote just now, or from the cache alone.
    pub source: Source,
    /// How the root was anchored.
    pub anchored_by: AnchoredBy,
    /// The root was trusted on first use just now.
    pub first_use: bool,
}

/// The verified state of the repository `local` names: from `remote`, or from the local
/// cache alone when `remote` is `None`. What was downloaded is written to the cache
/// (with the root versions walked and how the root was anchored); a refused update
/// writes nothing.
pub fn load(
    remote: Option<&dyn Remote>,
    local: &LocalRepo,
    policy: LoadPolicy<'_>,
) -> Result<RepoState, Error> {
    let g = local.gun().as_str();
    match remote {
        None => RepoState::from_cache(local, policy)?
            .ok_or_else(|| TrustError::NotCached { gun: g.to_owned() }.into()),
        Some(remote) => {
            let state = RepoState::fetch(remote, local, policy)?.ok_or_else(|| {
                Error::from(TrustError::NoTrustData {
                    gun: g.to_owned(),
                    remote: remote.describe(),
                })
            })?;
            state.refresh_cache(local, policy.clock.now())?;
            Ok(state)
        }
    }
}

/// Look `query` up in a verified state, now. See [`lookup_at`].
pub fn lookup(
    state: &RepoState,
    query: Query<'_>,
    want: &[(&str, &str)],
) -> Result<TrustedTarget, TrustError> {
    lookup_at(state, query, want, &crate::clock::SystemClock)
}

/// Look `query` up in a verified state, at the clock's time. With `want`, the signed
/// sha256 must also be that digest (`(what it is, "sha256:HEX")`, e.g. `("--digest", …)`).
///
/// Only a state loaded with expiry checks gives a verdict, and expiry is checked again
/// here (a state kept for a while, by a long-running caller, may have expired since it
/// was loaded): every role the state holds must be unexpired at the clock's time.
pub fn lookup_at(
    state: &RepoState,
    query: Query<'_>,
    want: &[(&str, &str)],
    clock: &dyn crate::clock::Clock,
) -> Result<TrustedTarget, TrustError> {
    let gun = state.gun.as_str();
    if !state.expiry_checked {
        return Err(TrustError::BadInput(format!(
            "the state of {gun} was loaded without expiry checks (for publishing) and gives no verdict"
        )));
    }
    let now = clock.now();
    let mut expiries = vec![("root", state.root.role().expires.clone())];
    for (name, t) in &state.targets {
        expiries.push((name.as_str(), t.role().expires.clone()));
    }
    if let Some(s) = &state.snapshot {
        expiries.push(("snapshot", s.role().expires.clone()));
    }
    if let Some(t) = &state.timestamp {
        expiries.push(("timestamp", t.role().expires.clone()));
    }
    if let Some((role, exp)) = expiries.iter().find(|(_, e)| e.is_expired_at(now)) {
        return Err(TrustError::Expired {
            gun: gun.to_owned(),
            role: (*role).to_owned(),
            expires: exp.to_string(),
        });
    }
    let entry = match query {
        Query::Tag(t) => view::docker_lookup(state, t),
        Query::Name(n) => view::lookup(state, n),
    }
    .ok_or_else(|| match query {
        Query::Tag(tag) => TrustError::UnsignedTag {
            gun: gun.to_owned(),
            tag: tag.to_owned(),
        },
        Query::Name(name) => TrustError::NoSuchTarget {
            gun: gun.to_owned(),
            name: name.to_owned(),
        },
    })?;
    let hex = entry.sha256_hex().ok_or_else(|| TrustError::Verification {
        gun: gun.to_owned(),
        role: entry.role.clone(),
        reason: format!("target {} has no sha256 hash", entry.name),
    })?;
    let digest = format!("sha256:{hex}");
    for (what, wanted) in want {
        if !wanted.eq_ignore_ascii_case(&digest) {
            return Err(TrustError::DigestMismatch {
                gun: gun.to_owned(),
                name: entry.name.clone(),
                what: (*what).to_owned(),
                signed: digest,
                wanted: (*wanted).to_owned(),
            });
        }
    }
    let signed_by = state
        .targets
        .get(&entry.role)
        .map(|t| t.signed_by().to_vec())
        .unwrap_or_default();
    Ok(TrustedTarget {
        gun: gun.to_owned(),
        name: entry.name,
        meta: entry.meta,
        digest,
        role: entry.role,
        signed_by,
        versions: versions(state),
        source: state.source,
        anchored_by: state.anchored_by,
        first_use: state.first_use,
    })
}

/// A manifest digest and the tags that sign it.
#[derive(Debug, Clone)]
pub struct TrustedDigest {
    /// The verdict through the first of `tags` (its role, keys, versions, …).
    pub target: TrustedTarget,
    /// Every tag whose docker lookup (`targets/releases`, then `targets`) gives this
    /// digest, sorted. A tag that another role signs with another digest is not among them.
    pub tags: Vec<String>,
}

/// Is `digest` (`sha256:HEX`) signed under some tag, now? See [`lookup_digest_at`].
pub fn lookup_digest(state: &RepoState, digest: &str) -> Result<TrustedDigest, TrustError> {
    lookup_digest_at(state, digest, &crate::clock::SystemClock)
}

/// The by-digest verdict (`IMAGE@sha256:…` with no tag): the tags whose docker lookup
/// gives `digest`, and the verdict through the first of them, with the same expiry checks
/// as [`lookup_at`]. None: [`TrustError::UnsignedDigest`].
pub fn lookup_digest_at(
    state: &RepoState,
    digest: &str,
    clock: &dyn crate::clock::Clock,
) -> Result<TrustedDigest, TrustError> {
    let wanted = digest.to_ascii_lowercase();
    let mut tags: Vec<String> = view::all_targets(state)
        .into_iter()
        .filter_map(|e| view::docker_lookup(state, &e.name))
        .filter(|e| {
            e.sha256_hex()
                .is_some_and(|h| format!("sha256:{h}") == wanted)
        })
        .map(|e| e.name)
        .collect();
    tags.sort();
    tags.dedup();
    let Some(first) = tags.first() else {
        // Expired metadata is said as such before "not signed".
        lookup_at(state, Query::Tag(""), &[], clock)
            .err()
            .filter(|e| matches!(e, TrustError::Expired { .. } | TrustError::BadInput(_)))
            .map_or(Ok(()), Err)?;
        return Err(TrustError::UnsignedDigest {
            gun: state.gun.as_str().to_owned(),
            digest: digest.to_owned(),
        });
    };
    let target = lookup_at(
        state,
        Query::Tag(first),
        &[("the reference's digest", digest)],
        clock,
    )?;
    Ok(TrustedDigest { target, tags })
}

/// [`load`], then [`lookup`].
pub fn verify(
    remote: Option<&dyn Remote>,
    local: &LocalRepo,
    policy: LoadPolicy<'_>,
    query: Query<'_>,
    want: &[(&str, &str)],
) -> Result<(TrustedTarget, RepoState), Error> {
    let state = load(remote, local, policy)?;
    let target = lookup(&state, query, want)?;
    Ok((target, state))
}

/// Check content read from `reader` (named `what` in messages) against a trusted target:
/// its length and every hash signed for it, in one pass with flat memory. Returns the
/// content's length and sha256 (`sha256:HEX`).
pub fn check_content(
    target: &TrustedTarget,
    what: &str,
    reader: &mut dyn Read,
) -> Result<(u64, String), Error> {
    let signed_len = u64::try_from(target.meta.length).unwrap_or(0);
    // Never read more than one byte past the signed length.
    let mut limited = reader.take(signed_len.saturating_add(1));
    let actual = FileMeta::from_reader(&mut limited).map_err(|e| {
        Error::from(TrustError::LocalState {
            what: "cannot read".into(),
            path: what.into(),
            reason: e.to_string(),
            io: Some(e.kind()),
        })
    })?;
    let len = u64::try_from(actual.length).unwrap_or(0);
    let mismatch = |detail: String| {
        Error::from(TrustError::DigestMismatch {
            gun: target.gun.clone(),
            name: target.name.clone(),
            what: what.to_owned(),
            signed: format!("{} bytes, {}", target.meta.length, target.digest),
            wanted: detail,
        })
    };
    let sha = |m: &FileMeta| m.sha256().map(hex::encode).unwrap_or_default();
    if len != signed_len {
        // At most one byte past the signed length is read.
        let at_least = if len > signed_len { "at least " } else { "" };
        return Err(mismatch(format!("{at_least}{len} bytes")));
    }
    if let Err(e) = actual.check_matches(&target.name, &target.meta) {
        return Err(mismatch(format!("sha256:{}: {e}", sha(&actual))));
    }
    Ok((len, format!("sha256:{}", sha(&actual))))
}

fn versions(state: &RepoState) -> Vec<RoleVersion> {
    let mut out = vec![RoleVersion {
        role: "root".into(),
        version: state.root.role().version,
        expires: state.root.role().expires.as_str().to_owned(),
    }];
    for (name, t) in &state.targets {
        out.push(RoleVersion {
            role: name.clone(),
            version: t.role().version,
            expires: t.role().expires.as_str().to_owned(),
        });
    }
    if let Some(s) = &state.snapshot {
        out.push(RoleVersion {
            role: "snapshot".into(),
            version: s.role().version,
            expires: s.role().expires.as_str().to_owned(),
        });
    }
    if let Some(t) = &state.timestamp {
        out.push(RoleVersion {
            role: "timestamp".into(),
            version: t.role().version,
            expires: t.role().expires.as_str().to_owned(),
        });
    }
    out
}
