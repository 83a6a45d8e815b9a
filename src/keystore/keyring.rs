//! An opt-in passphrase cache in the OS keyring (`keyring` crate; on Linux the kernel
//! keyutils session keyring). Entries are keyed by service (`vouch`) and key ID.
//!
//! Any keyring error means "not available": the cache answers nothing and never fails a
//! command. A cached passphrase that turns out wrong is deleted, and the next source in
//! the chain is asked.

use super::passphrase::{Origin, PassphraseRequest, PassphraseSource, Secret};
use super::KeystoreError;

/// The default keyring service name.
pub const SERVICE: &str = "vouch";

/// Passphrase cache in the OS keyring. Put it before the prompt in a [`super::Chain`].
pub struct KeyringCache {
    service: String,
}

impl KeyringCache {
    pub fn new() -> KeyringCache {
        KeyringCache::with_service(SERVICE)
    }

    /// A cache under another service name (tests, several profiles).
    pub fn with_service(service: impl Into<String>) -> KeyringCache {
        KeyringCache {
            service: service.into(),
        }
    }

    fn entry(&self, req: &PassphraseRequest) -> Option<keyring::Entry> {
        let id = req.key_id.as_ref()?;
        keyring::Entry::new(&self.service, id.as_str()).ok()
    }

    /// Remember `secret` for key `id`. Returns false if the keyring is not available.
    pub fn store(&self, id: &crate::tuf::KeyId, secret: &Secret) -> bool {
        set(&self.service, id.as_str(), secret)
    }

    /// Forget key `id` (after `key remove` or a passphrase change). Best effort.
    pub fn forget(&self, id: &crate::tuf::KeyId) {
        if let Ok(e) = keyring::Entry::new(&self.service, id.as_str()) {
            let _ = e.delete_credential();
        }
    }
}

/// Store a password. The Linux keyutils backend can fail the first write of a process
/// with `NoEntry` while the persistent keyring is being set up, so one failure is retried
/// with a fresh entry.
fn set(service: &str, user: &str, secret: &Secret) -> bool {
    (0..2).any(|_| {
        keyring::Entry::new(service, user).is_ok_and(|e| e.set_password(secret.expose()).is_ok())
    })
}

impl Default for KeyringCache {
    fn default() -> Self {
        KeyringCache::new()
    }
}

impl PassphraseSource for KeyringCache {
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        // Only existing keys: a new key's passphrase is chosen by the user.
        if req.new_key {
            return Ok(None);
        }
        Ok(self
            .entry(req)
            .and_then(|e| e.get_password().ok())
            .map(|p| Secret::with_origin(p, Origin::Cached)))
    }

    fn report(&self, req: &PassphraseRequest, secret: &Secret, accepted: bool) {
        let Some(entry) = self.entry(req) else { return };
        match (accepted, secret.origin()) {
            (true, Origin::Cached) => {}
            (true, _) => {
                if let Some(id) = &req.key_id {
                    set(&self.service, id.as_str(), secret);
                }
            }
            (false, Origin::Cached) => {
                let _ = entry.delete_credential();
            }
            (false, _) => {}
        }
    }
}
