//! Every rule for trusting a repository's root, in one place.
//!
//! A command that reads trust data (verify, list, inspect, sign, publish, …) hands a
//! [`TrustPolicy`] to [`crate::trust::state::RepoState`]; this module decides where trust
//! starts, in this order:
//!
//! 1. **A pin** (a trust lock, notary's `trust_pinning.certs` or `.ca`): the newest root
//!    of the local history that is reachable by signed rotations from a root the pinned
//!    keys sign; else the remote's root, which the pinned keys must sign (or reach by
//!    signed rotations from the pinned version). A root in the cache that no pinned key
//!    leads to is never an anchor under a pin, however it got there.
//! 2. **The cache**, when `anchor.json` records how its root was first anchored: created
//!    here by `init`, verified against a pin, restored from a key backup on request, or
//!    trusted on first use with consent.
//! 3. **Trust on first use**, only with consent (`--tofu`, or `"tofu": true` in the config
//!    file; never when notary's `trust_pinning.disable_tofu` is set), and loudly. A cache
//!    with no record (written by notary, docker trust or an older vouch) needs the same
//!    consent once.
//!
//! From there, newer roots are followed one version at a time, each signed by a threshold
//! of the previous root's keys and of its own (`roots::update_root`). Offline, the same
//! rules apply to the cache alone.

pub mod pins;
pub mod roots;

use time::OffsetDateTime;

use crate::remote::{Gun, Remote};
use crate::trust::Error;
use crate::tuf::{Root, Signed, Verified};

/// How the root a command used came to be trusted (kept with the record of it).
pub use super::local::AnchoredBy;
use super::local::LocalRepo;
use super::pin::Pin;
use super::TrustError;

pub use pins::check_ca_pin;
pub use roots::*;

/// How trust in a repository's root may be anchored, as the command line and the config
/// file say.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Pinned root keys or CAs for this repository.
    pub pin: Option<Pin>,
    /// Where the pin comes from, for messages (e.g. "trust lock vouch-trust.json").
    pub pin_origin: String,
    /// The user consents to trust on first use (`--tofu`, or the config file).
    pub tofu: bool,
    /// notary's `trust_pinning.disable_tofu` is set (for messages).
    pub tofu_disabled: bool,
}

impl TrustPolicy {
    /// Consent to trust on first use, nothing pinned.
    pub fn tofu() -> TrustPolicy {
        TrustPolicy {
            tofu: true,
            ..Default::default()
        }
    }

    /// Pinned by `pin`.
    pub fn pinned(pin: Pin, origin: impl Into<String>) -> TrustPolicy {
        TrustPolicy {
            pin: Some(pin),
            pin_origin: origin.into(),
            ..Default::default()
        }
    }
}

/// Where an update starts.
#[allow(clippy::large_enum_variant)] // made once per command, never stored
pub(crate) enum Start {
    /// A root trusted already: the cache, or the newest pinned root of the history.
    Trusted {
        root: Verified<Root>,
        by: AnchoredBy,
    },
    /// The pin alone: the remote's root must be signed by pinned keys, or reachable from
    /// the pinned version.
    Pin,
    /// Nothing cached and nothing pinned: trust on first use (consented).
    FirstUse,
}

/// Decide where trust starts for `local`'s repository, from the local state alone
/// (`cached_root`: its cached root.json, as the caller read it).
pub(crate) fn start(
    local: &LocalRepo,
    cached_root: Option<&[u8]>,
    policy: &TrustPolicy,
    now: OffsetDateTime,
) -> Result<Start, Error> {
    let g = local.gun().as_str();
    if let Some(pin) = &policy.pin {
        let history = local.root_history(cached_root)?;
        return Ok(match pinned_chain(g, pin, &history, now).pop() {
            Some(root) => Start::Trusted {
                root,
                by: AnchoredBy::Pin,
            },
            None => Start::Pin,
        });
    }
    let Some(bytes) = cached_root else {
        if policy.tofu {
            return Ok(Start::FirstUse);
        }
        return Err(no_anchor(g, policy, false).into());
    };
    let root = trust_cached_root(g, bytes, now)?;
    let recorded = local
        .anchor_record()?
        .and_then(|r| AnchoredBy::parse(&r.anchored_by));
    match recorded {
        Some(by) => Ok(Start::Trusted { root, by }),
        None if policy.tofu => Ok(Start::Trusted {
            root,
            by: AnchoredBy::Tofu,
        }),
        None => Err(no_anchor(g, policy, true).into()),
    }
}

fn no_anchor(gun: &str, policy: &TrustPolicy, unrecorded_cache: bool) -> TrustError {
    TrustError::NoAnchor {
        gun: gun.to_owned(),
        unrecorded_cache,
        tofu_disabled: policy.tofu_disabled,
    }
}

/// The roots of `history` (ascending versions) that are trusted through `pin`: from the
/// lowest version at or above the pinned one that the pinned keys sign, each following
/// version as long as it is a signed rotation of the one before. Empty when no root of
/// the history is signed by the pinned keys.
pub(crate) fn pinned_chain(
    gun: &str,
    pin: &Pin,
    history: &[(i64, Vec<u8>)],
    now: OffsetDateTime,
) -> Vec<Verified<Root>> {
    let mut chain: Vec<Verified<Root>> = Vec::new();
    for (version, bytes) in history {
        if *version < pin.root_version {
            continue;
        }
        match chain.last() {
            None => {
                if let Ok(root) = pins::verify_pinned(gun, pin, bytes, now, false) {
                    chain.push(root);
                }
            }
            Some(prev) => {
                if *version != prev.role().version + 1 {
                    break;
                }
                match rotate_root(gun, prev, bytes, now, *version, false) {
                    Ok(root) => chain.push(root),
                    Err(_) => break,
                }
            }
        }
    }
    // A CA pin applies to the root in use, not only to where the chain starts.
    if pin.ca.is_some() {
        while chain
            .last()
            .is_some_and(|r| pins::verify_pinned(gun, pin, r.bytes(), now, false).is_err())
        {
            chain.pop();
        }
    }
    chain
}

/// A root trusted online: where it was anchored, the root versions verified on the way
/// (for the history), and warnings.
pub(crate) struct Followed {
    pub root: Verified<Root>,
    pub by: AnchoredBy,
    pub walked: Vec<Vec<u8>>,
    pub first_use: bool,
    pub warnings: Vec<String>,
    /// The pin is behind the repository's root (signed rotations since); among `warnings`.
    pub pin_behind: bool,
}

/// From `start` to the remote's current root (`current`).
pub(crate) fn follow(
    remote: &dyn Remote,
    local: &LocalRepo,
    gun: &Gun,
    policy: &TrustPolicy,
    start: Start,
    current: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Followed, Error> {
    let g = gun.as_str();
    let mut warnings = Vec::new();
    let mut pin_behind = false;
    let (root, by, walked, first_use) = match start {
        Start::Trusted { root, by } => {
            let (root, walked) = match update_root(remote, gun, root, current, now) {
                Ok(r) => r,
                // Under a pin, the trusted root is the newest pinned one: a remote root
                // that does not follow from it does not chain to a pinned key.
                Err(Error::Trust(TrustError::Verification { reason, .. }))
                    if by == AnchoredBy::Pin =>
                {
                    return Err(TrustError::PinMismatch {
                        gun: g.to_owned(),
                        reason,
                    }
                    .into())
                }
                Err(e) => return Err(e),
            };
            (root, by, walked, false)
        }
        Start::Pin => {
            let pin = policy.pin.as_ref().expect("a pin start has a pin");
            let anchor = pins::anchor(remote, gun, pin, &current, now)?;
            let mut walked = vec![anchor.bytes().to_vec()];
            let (root, more) = update_root(remote, gun, anchor, current, now)?;
            walked.extend(more);
            // A root the cache holds is a floor, even when no pinned key leads to it.
            if let Some(cached) = local.read_cached("root")? {
                if let Ok(c) = trust_cached_root(g, &cached, now) {
                    let have = c.role().version;
                    if root.role().version < have {
                        return Err(super::verification(
                            g,
                            "root",
                            format!(
                                "the remote root is version {}, older than the cached version {have} (rollback)",
                                root.role().version
                            ),
                        )
                        .into());
                    }
                }
            }
            (root, AnchoredBy::Pin, walked, false)
        }
        Start::FirstUse => {
            let root = trust_new_root(g, &current, now)?;
            (root, AnchoredBy::Tofu, vec![current], true)
        }
    };
    if let Some(pin) = &policy.pin {
        if pin.ca.is_some() {
            pins::check_ca_pin(g, pin, root.bytes(), now)?;
        } else if root.role().version > pin.root_version
            && pins::verify_pinned(g, pin, root.bytes(), now, false).is_err()
        {
            warnings.push(format!(
                "{} pins root keys [{}] at root version {}; the repository's root is version {} and, after signed rotations, is signed by other keys. \
                 Review it and update the pin.",
                policy.pin_origin,
                pin.root_keys.join(", "),
                pin.root_version,
                root.role().version
            ));
            pin_behind = true;
        }
    }
    Ok(Followed {
        root,
        by,
        walked,
        first_use,
        warnings,
        pin_behind,
    })
}

/// The cached root, trusted as `policy` says, with no network: under a pin it must be on
/// the chain from a pinned root of the history.
pub(crate) fn offline_root(
    local: &LocalRepo,
    policy: &TrustPolicy,
    cached: &[u8],
    now: OffsetDateTime,
) -> Result<(Verified<Root>, AnchoredBy), Error> {
    let g = local.gun().as_str();
    if let Some(pin) = &policy.pin {
        let history = local.root_history(Some(cached))?;
        let chain = pinned_chain(g, pin, &history, now);
        return match chain.into_iter().find(|r| r.bytes() == cached) {
            Some(root) => Ok((root, AnchoredBy::Pin)),
            None => Err(TrustError::PinMismatch {
                gun: g.to_owned(),
                reason: format!(
                    "the cached root (version {}) is not signed by a pinned key, nor reached from one by signed rotations kept in the cache; \
                     go online (without --offline) to follow the repository's rotations",
                    Signed::<Root>::from_bytes(cached)
                        .map(|s| s.untrusted().version.to_string())
                        .unwrap_or_else(|_| "?".into())
                ),
            }
            .into()),
        };
    }
    match start(local, Some(cached), policy, now)? {
        Start::Trusted { root, by } => Ok((root, by)),
        // `start` only says so with a pin, or with nothing cached.
        Start::Pin | Start::FirstUse => Err(no_anchor(g, policy, false).into()),
    }
}
