//! Fetching a role by the hashes its parent lists (from the cache when they match), and the
//! rollback floor a cached copy sets.

use super::*;

pub(super) fn fetch_by_meta(
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
pub(super) fn fetch_by_meta_cached(
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
pub(super) fn check_floor<T: Metadata>(
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
