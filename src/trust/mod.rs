//! The workflows: creating repositories, staging and publishing changes, reading
//! verified trust data back.
//!
//! Everything that comes from a remote or from the local cache is verified (signatures,
//! thresholds, hashes, versions) before it is used; see [`state`].

pub mod anchor;
pub mod apply;
pub mod ceremony;
pub mod changelist;
pub mod doctor;
mod error;
pub mod images;
pub mod init;
pub mod local;
pub mod pin;
pub mod preflight;
pub mod publish;
pub mod rotate;
pub mod state;
pub mod verdict;
pub mod view;

use crate::exit::ExitCode;

pub use changelist::{Change, Changelist};
pub use error::Error;
pub use local::LocalRepo;
pub use state::RepoState;

/// Default lifetimes (notary `const.go`).
pub mod expiry {
    use time::Duration;
    pub const ROOT: Duration = Duration::days(3650);
    pub const TARGETS: Duration = Duration::days(1095);
    pub const SNAPSHOT: Duration = Duration::days(1095);
    /// For repositories whose timestamp vouch signs itself (static repositories).
    pub const TIMESTAMP: Duration = Duration::days(14);
    /// Root is re-signed on publish when it expires within this window.
    pub const ROOT_RESIGN_WINDOW: Duration = Duration::days(183);
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{remote} has no trust data for {gun}")]
    NoTrustData { gun: String, remote: String },
    #[error("repository {gun} is not initialized: no trust data on {remote} and none in the local cache")]
    NotInitialized { gun: String, remote: String },
    #[error("{role} metadata for {gun} failed verification: {reason}")]
    Verification {
        gun: String,
        role: String,
        reason: String,
    },
    #[error(
        "no signing key for the {role} role of {gun} in the key store (needs one of: {keyids})"
    )]
    MissingKey {
        gun: String,
        role: String,
        keyids: String,
    },
    /// `sign --check`: the keys a publish needs are not all here and usable.
    #[error("{gun} cannot be signed here: {problems}")]
    NotReadyToSign { gun: String, problems: String },
    #[error("{0}")]
    BadInput(String),
    #[error("trust data for {gun} already exists on {remote}")]
    AlreadyExists { gun: String, remote: String },
    #[error("{what} {path}: {reason}")]
    LocalState {
        what: String,
        path: std::path::PathBuf,
        reason: String,
        /// Set when the file system refused (full, permissions, read-only).
        io: Option<std::io::ErrorKind>,
    },
    #[error("publishing {gun} failed: {reason}")]
    Conflict { gun: String, reason: String },
    #[error("nothing cached for {gun} (--offline reads only the local cache)")]
    NotCached { gun: String },
    /// A Docker tag that neither `targets` nor `targets/releases` signs (docker's rule).
    #[error("tag {tag:?} of {gun} is not signed by targets or targets/releases")]
    UnsignedTag { gun: String, tag: String },
    #[error("no target {name:?} in {gun}")]
    NoSuchTarget { gun: String, name: String },
    /// No tag signed by `targets` or `targets/releases` carries the digest.
    #[error("{digest} is not signed under any tag of {gun} (targets or targets/releases)")]
    UnsignedDigest { gun: String, digest: String },
    #[error("no trusted root for {gun}: {}", if *unrecorded_cache {
        "its cached root has no record of how it was anchored (written by notary, docker trust or an older vouch), nothing is pinned, and trust on first use was not allowed"
    } else {
        "nothing cached, nothing pinned, and trust on first use was not allowed"
    })]
    NoAnchor {
        gun: String,
        /// A cache exists, but nothing records how its root was anchored.
        unrecorded_cache: bool,
        /// notary's `trust_pinning.disable_tofu` forbids trust on first use.
        tofu_disabled: bool,
    },
    #[error("the root of {gun} expires at {expires}, within 6 months, and must be re-signed before anything else is published, but no root key is in this key store")]
    RootNeedsResigning { gun: String, expires: String },
    #[error("{count} role(s) expire within {within}: {roles}")]
    ExpiringSoon {
        count: usize,
        within: String,
        roles: String,
    },
    #[error("the root of {gun} does not chain to a pinned key: {reason}")]
    PinMismatch { gun: String, reason: String },
    /// Signed metadata that expired: not an attack by itself, but nothing to deploy from.
    #[error("the {role} metadata of {gun} expired at {expires}")]
    Expired {
        gun: String,
        role: String,
        expires: String,
    },
    /// The target is signed, but as something else than the caller asked for.
    #[error("{name} in {gun} is signed as {signed}, but {what} is {wanted}")]
    DigestMismatch {
        gun: String,
        name: String,
        /// What was compared: "--digest", "the reference's digest", a file's path.
        what: String,
        signed: String,
        wanted: String,
    },
    /// An offline root ceremony request that cannot be signed or applied.
    #[error(transparent)]
    Ceremony(#[from] ceremony::CeremonyError),
    /// `vouch doctor` found problems (each named in its report).
    #[error("{count} problem(s) found in {dir}{}", if *after_fix { " that --fix cannot repair" } else { "" })]
    Unhealthy {
        count: usize,
        dir: std::path::PathBuf,
        after_fix: bool,
    },
    #[error("staged change #{number} of {gun} ({path}) cannot be read: {reason}")]
    UnreadableChange {
        gun: String,
        number: usize,
        path: std::path::PathBuf,
        reason: String,
    },
    /// A staged change that reads well but cannot be applied to the repository as it is.
    #[error("staged change #{number} of {gun} ({change}) cannot be applied: {cause}")]
    UnusableChange {
        gun: String,
        number: usize,
        change: String,
        cause: Box<TrustError>,
    },
    #[error("role {role} does not exist in {gun}")]
    NoSuchRole { gun: String, role: String },
    #[error("cannot witness {role} of {gun}: it lists fewer keys than its threshold")]
    BelowThreshold { gun: String, role: String },
    /// Metadata whose version cannot be followed by a newer one (at or past 2^53).
    #[error(
        "{role} of {gun} is at version {version}, at or past the largest version notary metadata carries exactly (2^53), \
         so no newer {role} can be published; its versions were inflated (a stolen {role} key, or a broken client)"
    )]
    VersionExhausted {
        gun: String,
        role: String,
        version: i64,
    },
    #[error("trust lock file {} does not exist", path.display())]
    NoTrustLock { path: std::path::PathBuf },
    /// The remote has no data for a repository this trust dir holds a verified, published
    /// copy of.
    #[error(
        "{remote} has no trust data for {gun}, which this trust dir holds as published \
         (root version {root_version}, targets version {targets_version}): \
         the server has lost this repository (a new database, or a restore from before it was created), \
         or it is not the server the repository was published to"
    )]
    ServerLostData {
        gun: String,
        remote: String,
        root_version: i64,
        targets_version: i64,
    },
    /// The record of how a cached root was anchored cannot be read.
    #[error("the record of how the cached root of {gun} was anchored ({}) is corrupt: {reason}", path.display())]
    CorruptRecord {
        gun: String,
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("{remote} has trust data for {gun}: there is nothing to recover")]
    NothingToRecover { gun: String, remote: String },
}

impl TrustError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            TrustError::NoTrustData { .. }
            | TrustError::NotCached { .. }
            | TrustError::Expired { .. }
            | TrustError::DigestMismatch { .. }
            | TrustError::Verification { .. }
            | TrustError::NoSuchTarget { .. }
            | TrustError::UnsignedTag { .. }
            | TrustError::UnsignedDigest { .. }
            | TrustError::NoAnchor { .. }
            | TrustError::ExpiringSoon { .. }
            | TrustError::PinMismatch { .. }
            | TrustError::Unhealthy { .. } => ExitCode::NotTrusted,
            TrustError::MissingKey { .. }
            | TrustError::RootNeedsResigning { .. }
            | TrustError::NotReadyToSign { .. } => ExitCode::Keystore,
            // Publishing (or signing into) a repository nobody created is a wrong name or a
            // missing `vouch init`, not a trust verdict.
            TrustError::BadInput(_)
            | TrustError::NoSuchRole { .. }
            | TrustError::BelowThreshold { .. }
            | TrustError::VersionExhausted { .. }
            | TrustError::NoTrustLock { .. }
            | TrustError::AlreadyExists { .. }
            | TrustError::NotInitialized { .. } => ExitCode::Usage,
            TrustError::UnreadableChange { .. } | TrustError::CorruptRecord { .. } => {
                ExitCode::Keystore
            }
            TrustError::UnusableChange { cause, .. } => cause.exit_code(),
            // The trust dir could not be read or written: a local-storage problem, as for
            // key files.
            TrustError::LocalState { io: Some(_), .. } => ExitCode::Keystore,
            TrustError::LocalState { io: None, .. } => ExitCode::Usage,
            TrustError::Conflict { .. } | TrustError::ServerLostData { .. } => ExitCode::Remote,
            TrustError::NothingToRecover { .. } => ExitCode::Usage,
            TrustError::Ceremony(e) => e.exit_code(),
        }
    }
}

/// The largest version notary's metadata carries exactly: its canonical JSON goes through
/// float64, so 2^53 + 1 would be signed as 2^53.
pub(crate) const MAX_VERSION: i64 = 1 << 53;

/// The version after `version` for `role`. Metadata at [`MAX_VERSION`] or above (a
/// fast-forward attack by a stolen key, or a broken client) cannot be followed by
/// anything notary-server or a client would take as newer: refused with the way out.
pub(crate) fn next_version(gun: &str, role: &str, version: i64) -> Result<i64, TrustError> {
    if version >= MAX_VERSION {
        return Err(TrustError::VersionExhausted {
            gun: gun.to_owned(),
            role: role.to_owned(),
            version,
        });
    }
    Ok(version + 1)
}

/// A role's expiry check failed: [`TrustError::Expired`] for an expiry, else a
/// verification failure.
pub(crate) fn expired(gun: &str, role: &str, e: crate::tuf::TufError) -> TrustError {
    match e {
        crate::tuf::TufError::Expired { expires, .. } => TrustError::Expired {
            gun: gun.to_owned(),
            role: role.to_owned(),
            expires,
        },
        other => verification(gun, role, other),
    }
}

pub(crate) fn verification(gun: &str, role: &str, reason: impl std::fmt::Display) -> TrustError {
    TrustError::Verification {
        gun: gun.to_owned(),
        role: role.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_version_counts_up_and_stops_at_the_largest_exact_version() {
        assert_eq!(next_version("example.com/a", "targets", 41).unwrap(), 42);
        assert_eq!(
            next_version("example.com/a", "targets", MAX_VERSION - 1).unwrap(),
            MAX_VERSION
        );
        for v in [MAX_VERSION, i64::MAX] {
            let e = next_version("example.com/a", "timestamp", v).unwrap_err();
            assert_eq!(e.exit_code(), ExitCode::Usage);
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("timestamp of example.com/a is at version {v}")),
                "{msg}"
            );
            assert!(!msg.contains("vouch "), "the layer names no command: {msg}");
            let hint = crate::advice::trust(&e).expect("a way out");
            assert!(
                hint.contains("vouch delete example.com/a --remote"),
                "{hint}"
            );
        }
    }
}
