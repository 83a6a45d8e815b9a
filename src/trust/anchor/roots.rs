//! Trusting a root: its role from valid certificates, the cached or new root, and the
//! walk from one root version to the next.

use time::OffsetDateTime;

use crate::crypto::x509;
use crate::remote::{Gun, Remote};
use crate::trust::Error;
use crate::tuf::roles::BaseRole;
use crate::tuf::{verify, verify_with_roles, Root, Signed, Verified};

use super::super::{verification, TrustError};

/// How many root versions one update may walk through.
pub const MAX_ROOT_ROTATIONS: i64 = 256;

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

/// A root from the local cache: self-signed by valid root certificates for the GUN
/// (certificate expiry is not checked for an already trusted root, as in notary).
pub fn trust_cached_root(
    gun: &str,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes)
        .map_err(|e| verification(gun, "root", format!("cached root.json: {e}")))?;
    let role = root_role(gun, signed.untrusted(), now, false).map_err(|e| match e {
        TrustError::Verification { reason, .. } => {
            verification(gun, "root", format!("cached root.json: {reason}"))
        }
        other => other,
    })?;
    verify(signed, &role).map_err(|e| verification(gun, "root", format!("cached root.json: {e}")))
}

/// Trust a root with no local anchor (trust on first use): valid, unexpired certificates.
pub fn trust_new_root(
    gun: &str,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes).map_err(|e| verification(gun, "root", e))?;
    let role = root_role(gun, signed.untrusted(), now, true)?;
    verify(signed, &role).map_err(|e| verification(gun, "root", e))
}

/// Move from the trusted root to the remote's current one, one version at a time.
/// Returns the current root and every root version verified on the way (the current
/// one included), for the root history.
pub(crate) fn update_root(
    remote: &dyn Remote,
    gun: &Gun,
    trusted: Verified<Root>,
    current_bytes: Vec<u8>,
    now: OffsetDateTime,
) -> Result<(Verified<Root>, Vec<Vec<u8>>), Error> {
    let g = gun.as_str();
    let mut trusted = trusted;
    let current =
        Signed::<Root>::from_bytes(&current_bytes).map_err(|e| verification(g, "root", e))?;
    let target_version = current.untrusted().version;
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
        return Ok((trusted, Vec::new()));
    }
    if target_version - have > MAX_ROOT_ROTATIONS {
        return Err(verification(
            g,
            "root",
            format!("the remote root is {} versions ahead; refusing to follow more than {MAX_ROOT_ROTATIONS}", target_version - have),
        )
        .into());
    }
    let mut walked = Vec::new();
    for v in (have + 1)..=target_version {
        let bytes = if v == target_version {
            current_bytes.clone()
        } else {
            remote
                .get_by_version(
                    gun,
                    "root",
                    v as u64,
                    crate::remote::limits::MAX_DOWNLOAD_SIZE,
                )?
                .ok_or_else(|| {
                    verification(
                        g,
                        "root",
                        format!("root version {v} is missing on {}", remote.describe()),
                    )
                })?
        };
        trusted = rotate_root(g, &trusted, &bytes, now, v, true)?;
        walked.push(bytes);
    }
    Ok((trusted, walked))
}

/// Verify `bytes` as the successor of `previous`: a threshold of the previous root's keys
/// and of its own keys must sign it.
/// The new root's certificates are checked for expiry when `check_cert_expiry` (not
/// for roots taken from the local history, which were checked when first verified).
pub fn rotate_root(
    gun: &str,
    previous: &Verified<Root>,
    bytes: &[u8],
    now: OffsetDateTime,
    expect_version: i64,
    check_cert_expiry: bool,
) -> Result<Verified<Root>, TrustError> {
    let signed = Signed::<Root>::from_bytes(bytes).map_err(|e| verification(gun, "root", e))?;
    if signed.untrusted().version != expect_version {
        return Err(verification(
            gun,
            "root",
            format!(
                "expected root version {expect_version}, got {}",
                signed.untrusted().version
            ),
        ));
    }
    let old_role = root_role(gun, previous.role(), now, false)?;
    let new_role = root_role(gun, signed.untrusted(), now, check_cert_expiry)?;
    verify_with_roles(signed, &[&old_role, &new_role])
        .map_err(|e| verification(gun, "root", format!("root version {expect_version}: {e}")))
}
