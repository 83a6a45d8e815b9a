//! Threshold verification (protocol §5.3, notary's `VerifySignatures`) and the
//! [`Verified`] proof type.
//!
//! Rules, in order:
//! - a document without signatures is rejected;
//! - a role threshold below 1 is rejected;
//! - signatures whose key ID the role does not list are skipped, without any crypto;
//! - only the first signature under each listed key ID is checked: later ones with the same
//!   ID are skipped, so the work is bounded by the number of keys the role lists, whatever
//!   the file holds (and a file holds at most [`MAX_SIGNATURES`](super::signed::MAX_SIGNATURES));
//! - a role key whose computed ID differs from the ID it is listed under is a hard error;
//! - invalid signatures (bad bytes, wrong method for the key type, unreadable key) are
//!   skipped;
//! - the valid signatures are counted by **distinct public key** (a repeated signature,
//!   or two listed IDs for the same public key, e.g. an `ecdsa-x509` certificate key and
//!   the `ecdsa` key of the same public key, count once);
//! - the count must reach the threshold.

use std::collections::BTreeSet;

use super::keys::KeyId;
use super::roles::BaseRole;
use super::signed::{Metadata, Signature, Signed};
use super::TufError;
use crate::clock::Clock;
use crate::crypto::verify::VerifyingKey;

/// A document whose signatures met its role's threshold, whose `_type` is right and
/// whose structure is valid. Only this module builds one.
///
/// Expiry and version (rollback) are not part of this proof: the caller decides when
/// they apply ([`Verified::check_expiry`], [`Verified::check_min_version`]).
#[derive(Debug, Clone)]
pub struct Verified<T> {
    role_name: String,
    role: T,
    signatures: Vec<Signature>,
    bytes: Vec<u8>,
    signed_by: Vec<KeyId>,
}

impl<T: Metadata> Verified<T> {
    /// The role name it was verified as (`root`, `targets/releases`, …).
    pub fn role_name(&self) -> &str {
        &self.role_name
    }

    /// The typed role object.
    pub fn role(&self) -> &T {
        &self.role
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The file exactly as read (what snapshot/timestamp hashes cover).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key IDs (as listed by the role) whose signatures verified, sorted.
    pub fn signed_by(&self) -> &[KeyId] {
        &self.signed_by
    }

    /// Fails when the document has expired at the clock's time.
    pub fn check_expiry(&self, clock: &dyn Clock) -> Result<(), TufError> {
        check_expiry(&self.role_name, &self.role, clock)
    }

    /// Fails when the version is below `min` (the version already trusted); equal is
    /// allowed.
    pub fn check_min_version(&self, min: i64) -> Result<(), TufError> {
        let version = self.role.version();
        if version < min {
            return Err(TufError::LowVersion {
                role: self.role_name.clone(),
                version,
                min,
            });
        }
        Ok(())
    }

    /// Give up the proof and keep the parts.
    pub fn into_role(self) -> T {
        self.role
    }
}

/// Fails when `meta` (of role `role_name`) has expired at the clock's time (expiry
/// strictly before now).
pub fn check_expiry<T: Metadata>(
    role_name: &str,
    meta: &T,
    clock: &dyn Clock,
) -> Result<(), TufError> {
    let expires = meta.expires();
    if expires.is_expired_at(clock.now()) {
        return Err(TufError::Expired {
            role: role_name.to_owned(),
            expires: expires.to_string(),
        });
    }
    Ok(())
}

/// The one threshold check: counts valid signatures from distinct public keys of
/// `role` and returns the key IDs that signed. See the module docs for the rules.
pub fn verify_signatures<T>(signed: &Signed<T>, role: &BaseRole) -> Result<Vec<KeyId>, TufError> {
    let msg = signed.canonical_signed()?;
    let mut checked = vec![None; signed.signatures().len()];
    count_signatures(signed, &msg, role, &mut checked)
}

/// What checking one signature found: the fingerprint of the key whose valid signature
/// it is, or `None` when it does not verify.
type Checked = Option<Option<Vec<u8>>>;

/// [`verify_signatures`] over the canonical bytes `msg`. `checked[i]` remembers the
/// outcome for signature `i`, so a signature listed under several roles (a rotated root's
/// old and new key sets, a pin and the full root role) is verified once: its key is fixed
/// by its key ID, which must be the hash of the key.
fn count_signatures<T>(
    signed: &Signed<T>,
    msg: &[u8],
    role: &BaseRole,
    checked: &mut [Checked],
) -> Result<Vec<KeyId>, TufError> {
    let sigs = signed.signatures();
    if sigs.is_empty() {
        return Err(TufError::NoSignatures {
            role: role.name.clone(),
        });
    }
    if role.threshold < 1 {
        return Err(TufError::InvalidMetadata {
            role: role.name.clone(),
            reason: format!("threshold is {}, must be at least 1", role.threshold),
        });
    }
    let mut keys_seen = BTreeSet::new();
    let mut signed_by = BTreeSet::new();
    let mut ids_tried = BTreeSet::new();
    for (sig, memo) in sigs.iter().zip(checked.iter_mut()) {
        let Some(key) = role.keys.get(&sig.keyid) else {
            continue;
        };
        if !ids_tried.insert(sig.keyid.as_str()) {
            continue;
        }
        let computed = key.key_id();
        if computed.as_str() != sig.keyid {
            return Err(TufError::KeyIdMismatch {
                role: role.name.clone(),
                listed: sig.keyid.clone(),
                computed,
            });
        }
        let outcome = memo.get_or_insert_with(|| {
            #[cfg(test)]
            tests::CRYPTO_CHECKS.with(|c| c.set(c.get() + 1));
            let vk = VerifyingKey::from_public_key(key).ok()?;
            vk.verify(&sig.method, msg, &sig.sig).ok()?;
            Some(vk.fingerprint())
        });
        if let Some(fingerprint) = outcome {
            keys_seen.insert(fingerprint.clone());
            signed_by.insert(computed);
        }
    }
    let valid = keys_seen.len();
    if (valid as i64) < role.threshold {
        return Err(TufError::ThresholdNotMet {
            role: role.name.clone(),
            valid,
            threshold: role.threshold,
        });
    }
    Ok(signed_by.into_iter().collect())
}

/// Verify `signed` as role `role`: `_type`, signatures (threshold) and structure.
pub fn verify<T: Metadata>(signed: Signed<T>, role: &BaseRole) -> Result<Verified<T>, TufError> {
    verify_with_roles(signed, &[role])
}

/// Verify `signed` against several key sets at once, each with its own threshold: a
/// rotated root must satisfy both the previous root role and its own (protocol §8.3).
/// The role name checked is that of the first role. `signed_by` is the union.
pub fn verify_with_roles<T: Metadata>(
    signed: Signed<T>,
    roles: &[&BaseRole],
) -> Result<Verified<T>, TufError> {
    let first = roles.first().ok_or_else(|| TufError::InvalidMetadata {
        role: T::TYPE.to_owned(),
        reason: "no key set was given to verify against".to_owned(),
    })?;
    let role_name = first.name.clone();
    let found = signed.untrusted().type_field();
    if found != T::TYPE {
        return Err(TufError::WrongType {
            role: role_name,
            expected: T::TYPE,
            found: found.to_owned(),
        });
    }
    let msg = signed.canonical_signed()?;
    let mut checked = vec![None; signed.signatures().len()];
    let mut signed_by = BTreeSet::new();
    for role in roles {
        signed_by.extend(count_signatures(&signed, &msg, role, &mut checked)?);
    }
    signed.untrusted().validate(&role_name)?;
    let (role, signatures, bytes) = signed.into_parts();
    Ok(Verified {
        role_name,
        role,
        signatures,
        bytes,
        signed_by: signed_by.into_iter().collect(),
    })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
