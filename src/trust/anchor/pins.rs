//! Pins: a root is trusted through a pin when a threshold of its root signatures comes
//! from pinned keys (and a threshold of its own root keys signs it) — or when it is
//! reachable by signed rotations from a root that is. A CA pin (notary's
//! `trust_pinning.ca`) counts the root certificates issued by the pinned CAs instead.

use crate::crypto::CanonicalKeyId as _;
use time::OffsetDateTime;

use crate::remote::{limits, Gun, Remote};
use crate::trust::Error;
use crate::tuf::roles::BaseRole;
use crate::tuf::{verify_with_roles, Root, Signed, Verified};

use super::super::pin::{CaPin, Pin};
use super::super::TrustError;
use super::roots::root_role;

/// Verify `bytes` as a root trusted through `pin`: a threshold of signatures from pinned
/// keys and a threshold of its own root keys.
pub(crate) fn verify_pinned(
    gun: &str,
    pin: &Pin,
    bytes: &[u8],
    now: OffsetDateTime,
    check_cert_expiry: bool,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes).map_err(|e| TrustError::PinMismatch {
        gun: gun.into(),
        reason: e.to_string(),
    })?;
    let full = root_role(gun, signed.untrusted(), now, check_cert_expiry)?;
    if let Some(ca) = &pin.ca {
        return verify_ca_pinned(gun, ca, signed, &full, now);
    }
    let pinned = pin.pinned_role(&full);
    if pinned.keys.is_empty() {
        let present: Vec<String> = full
            .keys
            .values()
            .filter_map(|k| k.canonical_key_id().ok())
            .map(|k| k.to_string())
            .collect();
        return Err(TrustError::PinMismatch {
            gun: gun.into(),
            reason: format!(
                "root version {} is signed for root keys [{}], none of which is pinned [{}]",
                signed.untrusted().version,
                present.join(", "),
                pin.root_keys.join(", ")
            ),
        });
    }
    verify_with_roles(signed, &[&pinned, &full]).map_err(|e| TrustError::PinMismatch {
        gun: gun.into(),
        reason: e.to_string(),
    })
}

/// `verify_pinned` for a CA pin: the root role restricted to the certificates that chain
/// to the CA bundle (same threshold), and the full root role, must each sign.
fn verify_ca_pinned(
    gun: &str,
    ca: &CaPin,
    signed: Signed<Root>,
    full: &BaseRole,
    now: OffsetDateTime,
) -> Result<Verified<Root>, TrustError> {
    let cas = ca.usable(gun, now)?;
    let mut pinned = full.clone();
    let mut refused = Vec::new();
    pinned
        .keys
        .retain(|id, key| match ca.accepts(&cas, key, now) {
            Ok(()) => true,
            Err(e) => {
                refused.push(format!("{id}: {e}"));
                false
            }
        });
    if pinned.keys.is_empty() {
        return Err(TrustError::PinMismatch {
            gun: gun.into(),
            reason: format!(
                "no root certificate of root version {} chains to a CA in {} ({})",
                signed.untrusted().version,
                ca.path,
                refused.join("; ")
            ),
        });
    }
    verify_with_roles(signed, &[&pinned, full]).map_err(|e| TrustError::PinMismatch {
        gun: gun.into(),
        reason: format!(
            "{e} (counting only root certificates that chain to a CA in {})",
            ca.path
        ),
    })
}

/// Whether `bytes`, a root trusted otherwise (the local cache), satisfies `pin`'s CA
/// bundle. Always true for a key pin.
pub fn check_ca_pin(
    gun: &str,
    pin: &Pin,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<(), TrustError> {
    if pin.ca.is_some() {
        verify_pinned(gun, pin, bytes, now, true)?;
    }
    Ok(())
}

/// The root to start the update from, given a pin: the current root if pinned keys sign it,
/// else the pinned version (from which signed rotations must lead to the current root).
pub fn anchor(
    remote: &dyn Remote,
    gun: &Gun,
    pin: &Pin,
    current: &[u8],
    now: OffsetDateTime,
) -> Result<Verified<Root>, Error> {
    let g = gun.as_str();
    let current_version = Signed::<Root>::from_bytes(current)
        .map_err(|e| super::super::verification(g, "root", e))?
        .untrusted()
        .version;
    if current_version < pin.root_version {
        return Err(TrustError::PinMismatch {
            gun: g.into(),
            reason: format!(
                "the repository's root is version {current_version}, older than the pinned version {} (rollback)",
                pin.root_version
            ),
        }
        .into());
    }
    let direct = verify_pinned(g, pin, current, now, true);
    match direct {
        Ok(v) => Ok(v),
        // notary applies a CA pin to the root it downloads; there is no pinned version
        // to walk rotations from.
        Err(e) if pin.ca.is_some() => Err(e.into()),
        Err(direct_err) if current_version > pin.root_version => {
            let old = remote
                .get_by_version(
                    gun,
                    "root",
                    u64::try_from(pin.root_version).unwrap_or(0),
                    limits::MAX_DOWNLOAD_SIZE,
                )?
                .ok_or_else(|| TrustError::PinMismatch {
                    gun: g.into(),
                    reason: format!(
                        "{direct_err}; and the pinned root version {} is not on the remote",
                        pin.root_version
                    ),
                })?;
            // An older, pinned root: its certificates may have expired since; they are only
            // used to check the signature on the next root.
            Ok(verify_pinned(g, pin, &old, now, false)?)
        }
        Err(e) => Err(e.into()),
    }
}
