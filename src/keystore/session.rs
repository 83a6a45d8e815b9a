//! Unlock sessions: key-encryption keys kept in the Linux kernel keyring for a while, so
//! that a run of commands pays for each passphrase's scrypt derivation once.
//!
//! vouch's key files are encrypted under a key derived from the passphrase with scrypt
//! (≈ 0.1 s of CPU per derivation, on purpose). `vouch key unlock` opens a session: from
//! then on, until it expires or `vouch key lock` ends it, every key-encryption key (KEK)
//! vouch derives is recorded in the session, and a key file whose KDF parameters (salt
//! included) match a recorded KEK is opened without its passphrase and without scrypt.
//!
//! What a session holds, per derivation: the DER of the KDF parameters (salt and cost),
//! the 32-byte KEK, and HMAC-SHA256(KEK, passphrase) — the check that lets a *new* key,
//! encrypted under a passphrase the session has seen, reuse that salt and KEK instead of
//! deriving a fresh one. Files so written share the salt of a file with the same
//! passphrase; each has its own IV and stays a standard PBES2/scrypt PKCS#8 file that the
//! passphrase alone opens. Never in a session: passphrases themselves, private keys, and
//! (unless the session was opened with `--root`) anything derived for a root key.
//!
//! Where it lives: one `user` key named `vouch-session:<name>` in the session keyring
//! (the user-session keyring for processes that have none), in kernel memory only (never
//! on disk, never swapped), with a kernel timeout equal to the session's lifetime and
//! permissions for its possessor only. Any process of the same user that possesses that
//! keyring can read it while it lasts — the same boundary as ssh-agent's socket. Where the
//! kernel keyring is not available (other systems, containers whose seccomp profile
//! blocks `keyctl`), sessions cannot be opened and vouch asks for passphrases as usual.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac as _};
use zeroize::Zeroizing;

use super::encryption::{Kek, KekCache};

/// The session name when `VOUCH_SESSION` is not set.
pub const DEFAULT_NAME: &str = "default";
/// The longest session `vouch key unlock --for` opens.
pub const MAX_TTL_SECS: u64 = 24 * 3600;
/// Records kept per session (the kernel's default quota for a normal user is 20,000
/// bytes of key payload; a record takes about 140).
const MAX_RECORDS: usize = 48;
const MAGIC: &[u8; 4] = b"VSS1";
const DESC_PREFIX: &str = "vouch-session:";

/// Why a session could not be opened, read or changed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session name {0:?} is not valid: use letters, digits, '.', '_' and '-' (at most 64)")]
    BadName(String),
    #[error("the kernel keyring is not available ({0}); sessions need Linux with keyctl allowed (a container's seccomp profile may block it)")]
    Unavailable(String),
}

/// One derivation: KDF parameters (DER, salt included), its KEK, and the passphrase check.
#[derive(Clone)]
struct Record {
    root: bool,
    kdf: Vec<u8>,
    check: [u8; 32],
    kek: Zeroizing<[u8; 32]>,
}

/// What the kernel key holds.
#[derive(Clone, Default)]
struct State {
    /// Unix time the session ends.
    expires: u64,
    /// Whether keys of the root role may be recorded and reused.
    root: bool,
    records: Vec<Record>,
}

/// Status of a session, for `vouch key session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub name: String,
    /// Unix time the session ends.
    pub expires: u64,
    pub root: bool,
    /// Key-encryption keys recorded.
    pub keks: usize,
}

/// An open session. Cloning shares it.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    /// The kernel key; `None` for a session prepared but not stored yet.
    backend: Mutex<Option<backend::Handle>>,
    state: Mutex<State>,
    /// Lifetime to give the kernel key when a prepared session is stored.
    ttl: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({:?})", self.inner.name)
    }
}

/// The session name from `VOUCH_SESSION`, else [`DEFAULT_NAME`].
pub fn name_from_env() -> String {
    std::env::var("VOUCH_SESSION")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned())
}

fn check_name(name: &str) -> Result<(), SessionError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SessionError::BadName(name.to_owned()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Session {
    /// Open session `name` for `ttl_secs` from now (or extend it: an open session keeps
    /// its records; `root` is kept if it was already allowed).
    pub fn open(name: &str, ttl_secs: u64, root: bool) -> Result<Session, SessionError> {
        let s = Session::prepare(name, ttl_secs, root)?;
        s.flush()?;
        Ok(s)
    }

    /// Like [`Self::open`], but nothing reaches the kernel keyring until [`Self::flush`]:
    /// records are kept in memory meanwhile (`key unlock` stores the session only when
    /// every key it was asked for opened).
    pub fn prepare(name: &str, ttl_secs: u64, root: bool) -> Result<Session, SessionError> {
        check_name(name)?;
        let ttl = ttl_secs.clamp(1, MAX_TTL_SECS);
        let mut state = stored(name).map(|(_, s)| s).unwrap_or_default();
        state.expires = now() + ttl;
        state.root |= root;
        Ok(Session {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                backend: Mutex::new(None),
                state: Mutex::new(state),
                ttl,
            }),
        })
    }

    /// The open session `name`, if there is one that has not expired. Never fails: no
    /// keyring, no session, or an unreadable one all mean "none".
    pub fn current(name: &str) -> Option<Session> {
        check_name(name).ok()?;
        let (handle, state) = stored(name)?;
        Some(Session {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                backend: Mutex::new(Some(handle)),
                state: Mutex::new(state),
                ttl: 0,
            }),
        })
    }

    /// End session `name` now. Returns whether one was open.
    pub fn end(name: &str) -> Result<bool, SessionError> {
        check_name(name)?;
        match backend::find(&describe(name)) {
            Some(h) => {
                backend::remove(&h);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub fn info(&self) -> SessionInfo {
        let s = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        SessionInfo {
            name: self.inner.name.clone(),
            expires: s.expires,
            root: s.root,
            keks: s.records.len(),
        }
    }

    /// Whether keys of `role` may use the session.
    pub fn allows(&self, role: &str) -> bool {
        role != "root" || self.inner.state.lock().is_ok_and(|s| s.root)
    }

    /// The session as a KEK cache for keys of `role` (`None` for root keys unless the
    /// session allows them).
    pub(crate) fn cache_for(&self, role: &str) -> Option<RoleCache<'_>> {
        self.allows(role).then_some(RoleCache {
            session: self,
            root: role == "root",
        })
    }

    /// Store a prepared session in the kernel keyring (replacing an open one of the same
    /// name), or write the records of an open one.
    pub fn flush(&self) -> Result<(), SessionError> {
        let s = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut backend = self.inner.backend.lock().unwrap_or_else(|e| e.into_inner());
        match backend.as_ref() {
            Some(h) => backend::update(h, &encode(&s)),
            None => {
                *backend = Some(backend::store(
                    &describe(&self.inner.name),
                    &encode(&s),
                    self.inner.ttl,
                )?);
                Ok(())
            }
        }
    }

    fn record(&self, rec: Record) {
        let mut s = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.records.iter().any(|r| r.kdf == rec.kdf) {
            return;
        }
        if s.records.len() >= MAX_RECORDS {
            s.records.remove(0);
        }
        s.records.push(rec);
        // A prepared session is written by `flush`. For an open one this is a cache: if
        // the write fails, the next command derives again.
        if let Some(h) = self
            .inner
            .backend
            .lock()
            .ok()
            .as_ref()
            .and_then(|b| b.as_ref())
        {
            let _ = backend::update(h, &encode(&s));
        }
    }
}

/// [`KekCache`] over a session, for one key's role.
pub(crate) struct RoleCache<'a> {
    session: &'a Session,
    root: bool,
}

fn passphrase_check(kek: &[u8], pass: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<sha2::Sha256>>::new_from_slice(kek).expect("HMAC takes any key length");
    mac.update(b"vouch session passphrase check\0");
    mac.update(pass);
    mac.finalize().into_bytes().into()
}

impl KekCache for RoleCache<'_> {
    fn get(&self, kdf: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let s = self.session.inner.state.lock().ok()?;
        s.records
            .iter()
            .find(|r| r.kdf == kdf && r.root == self.root)
            .map(|r| r.kek.clone())
    }

    fn find(&self, pass: &[u8], reusable: &dyn Fn(&[u8]) -> bool) -> Option<Kek> {
        let s = self.session.inner.state.lock().ok()?;
        s.records
            .iter()
            .filter(|r| r.root == self.root && reusable(&r.kdf))
            .find(|r| {
                use subtle::ConstantTimeEq as _;
                bool::from(passphrase_check(&*r.kek, pass).ct_eq(&r.check))
            })
            .map(|r| Kek {
                kdf: r.kdf.clone(),
                key: r.kek.clone(),
            })
    }

    fn put(&self, kek: &Kek, pass: &[u8]) {
        self.session.record(Record {
            root: self.root,
            kdf: kek.kdf.clone(),
            check: passphrase_check(&*kek.key, pass),
            kek: kek.key.clone(),
        });
    }
}

/// The kernel key of session `name` and what it holds, if it is there, readable and
/// not expired.
fn stored(name: &str) -> Option<(backend::Handle, State)> {
    let handle = backend::find(&describe(name))?;
    let state = decode(&backend::read(&handle)?)?;
    (state.expires > now()).then_some((handle, state))
}

fn describe(name: &str) -> String {
    format!("{DESC_PREFIX}{name}")
}

fn encode(s: &State) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(16 + s.records.len() * 140));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&s.expires.to_be_bytes());
    out.push(u8::from(s.root));
    out.push(s.records.len() as u8);
    for r in &s.records {
        out.push(u8::from(r.root));
        out.push(r.kdf.len() as u8);
        out.extend_from_slice(&r.kdf);
        out.extend_from_slice(&r.check);
        out.extend_from_slice(&*r.kek);
    }
    out
}

fn decode(p: &[u8]) -> Option<State> {
    let mut rest = p.strip_prefix(MAGIC.as_slice())?;
    let mut take = |n: usize| -> Option<&[u8]> {
        if rest.len() < n {
            return None;
        }
        let (a, b) = rest.split_at(n);
        rest = b;
        Some(a)
    };
    let expires = u64::from_be_bytes(take(8)?.try_into().ok()?);
    let root = take(1)?[0] == 1;
    let count = usize::from(take(1)?[0]);
    let mut records = Vec::with_capacity(count.min(MAX_RECORDS));
    for _ in 0..count {
        let rec_root = take(1)?[0] == 1;
        let len = usize::from(take(1)?[0]);
        let kdf = take(len)?.to_vec();
        let check: [u8; 32] = take(32)?.try_into().ok()?;
        let mut kek = Zeroizing::new([0u8; 32]);
        kek.copy_from_slice(take(32)?);
        records.push(Record {
            root: rec_root,
            kdf,
            check,
            kek,
        });
    }
    Some(State {
        expires,
        root,
        records,
    })
}

#[cfg(target_os = "linux")]
mod backend {
    use linux_keyutils::{Key, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
    use zeroize::Zeroizing;

    use super::SessionError;

    pub(super) type Handle = Key;

    /// The session keyring, without creating one: a process that has none gets the
    /// user-session keyring, which outlives it (a new session keyring would not).
    fn keyring() -> Result<KeyRing, SessionError> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .map_err(|e| SessionError::Unavailable(format!("{e:?}")))
    }

    pub(super) fn find(desc: &str) -> Option<Key> {
        keyring().ok()?.search(desc).ok()
    }

    pub(super) fn read(key: &Key) -> Option<Zeroizing<Vec<u8>>> {
        key.read_to_vec().ok().map(Zeroizing::new)
    }

    pub(super) fn store(desc: &str, payload: &[u8], ttl: u64) -> Result<Key, SessionError> {
        let err = |e: linux_keyutils::KeyError| SessionError::Unavailable(format!("{e:?}"));
        let key = keyring()?.add_key(desc, payload).map_err(err)?;
        // Possessor: everything; the owning user (without possession): see that it exists.
        let perms = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .user(Permission::VIEW)
            .build();
        let done = key
            .set_timeout(usize::try_from(ttl).unwrap_or(usize::MAX))
            .and_then(|()| key.set_perms(perms));
        if let Err(e) = done {
            let _ = key.invalidate();
            return Err(err(e));
        }
        Ok(key)
    }

    pub(super) fn update(key: &Key, payload: &[u8]) -> Result<(), SessionError> {
        key.update(&payload)
            .map_err(|e| SessionError::Unavailable(format!("{e:?}")))
    }

    pub(super) fn remove(key: &Key) {
        // Invalidate removes it at once from every keyring; revoke is the fallback.
        if key.invalidate().is_err() {
            let _ = key.revoke();
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod backend {
    use zeroize::Zeroizing;

    use super::SessionError;

    pub(super) type Handle = ();

    pub(super) fn find(_desc: &str) -> Option<()> {
        None
    }

    pub(super) fn read(_key: &()) -> Option<Zeroizing<Vec<u8>>> {
        None
    }

    pub(super) fn store(_desc: &str, _payload: &[u8], _ttl: u64) -> Result<(), SessionError> {
        Err(SessionError::Unavailable(
            "unlock sessions use the Linux kernel keyring".into(),
        ))
    }

    pub(super) fn update(_key: &(), _payload: &[u8]) -> Result<(), SessionError> {
        Err(SessionError::Unavailable(
            "unlock sessions use the Linux kernel keyring".into(),
        ))
    }

    pub(super) fn remove(_key: &()) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(root: bool, tag: u8) -> Record {
        Record {
            root,
            kdf: vec![tag; 40 + usize::from(tag)],
            check: [tag; 32],
            kek: Zeroizing::new([tag.wrapping_add(1); 32]),
        }
    }

    #[test]
    fn payload_round_trips() {
        let s = State {
            expires: 1_900_000_000,
            root: true,
            records: vec![rec(false, 1), rec(true, 2)],
        };
        let back = decode(&encode(&s)).expect("decodes");
        assert_eq!(back.expires, s.expires);
        assert!(back.root);
        assert_eq!(back.records.len(), 2);
        for (a, b) in back.records.iter().zip(&s.records) {
            assert_eq!(
                (a.root, &a.kdf, a.check, *a.kek),
                (b.root, &b.kdf, b.check, *b.kek)
            );
        }
    }

    #[test]
    fn truncated_or_foreign_payloads_are_no_session() {
        let full = encode(&State {
            expires: 5,
            root: false,
            records: vec![rec(false, 3)],
        });
        for cut in 0..full.len() {
            assert!(decode(&full[..cut]).is_none(), "prefix of {cut} bytes");
        }
        assert!(decode(b"XXXX\0\0\0\0\0\0\0\x05\0\0").is_none());
    }

    #[test]
    fn the_largest_session_fits_a_normal_users_key_quota() {
        let s = State {
            expires: 1,
            root: false,
            records: (0..MAX_RECORDS).map(|_| rec(false, 90)).collect(),
        };
        assert!(encode(&s).len() < 16_000, "{} bytes", encode(&s).len());
    }

    #[test]
    fn names_are_checked() {
        for good in ["default", "ci-42", "a.b_c"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "x:y", "ü", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_passphrase_check_depends_on_kek_and_passphrase() {
        let a = passphrase_check(&[1; 32], b"pass");
        assert_eq!(a, passphrase_check(&[1; 32], b"pass"));
        assert_ne!(a, passphrase_check(&[2; 32], b"pass"));
        assert_ne!(a, passphrase_check(&[1; 32], b"pas"));
    }
}
