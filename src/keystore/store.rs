//! The key store over a trust directory (notary layout, protocol §6.1).
//!
//! Writes hold an exclusive lock on `<trust_dir>/.vouch.lock`, go through a temp file,
//! fsync and rename, and leave files 0600 in 0700 directories. Reads take no lock (files
//! are only ever replaced whole). Legacy notary ≤ 0.3 files are read in place.

use std::path::{Path, PathBuf};

use super::encryption::KekCache;
use super::format::{self, FileFormat, KeyFormat};
use super::fsio::{self, DirLock};
use super::info::KeyInfo;
use super::layout::{self, Location};
use super::passphrase::PassphraseSource;
use super::pemblock::{self, PemBlock};
use super::pkcs11_ref;
use super::role::{role_takes_gun, validate_role_gun};
use super::session::{RoleCache, Session};
use super::unlock::{self, Target};
use super::KeystoreError;
use crate::crypto::pkcs11::{Pkcs11Uri, TokenError, Tokens};
use crate::crypto::private::{Algorithm, PrivateKey};
use crate::crypto::CryptoError;
use crate::tuf::KeyId;

type Result<T> = std::result::Result<T, KeystoreError>;

/// A `*.key` file that `scan` could not use, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The result of walking the key directory.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub keys: Vec<KeyInfo>,
    pub skipped: Vec<Skipped>,
}

/// Private keys in `<trust_dir>/private`.
#[derive(Debug, Clone)]
pub struct KeyStore {
    trust_dir: PathBuf,
    private_dir: PathBuf,
    unlocked: std::sync::Arc<Unlocked>,
    /// An open unlock session (`vouch key unlock`): KEKs derived earlier, by salt.
    session: Option<Session>,
    /// How to reach PKCS#11 tokens, for keys the store records as token references.
    tokens: Option<std::sync::Arc<Tokens>>,
}

/// Keys this key store generated or opened, once [`KeyStore::keep_unlocked_keys`] was
/// called, so that one command signing with a key several times (`init` creates keys and
/// signs at once; a publish signs several roles) decrypts each key once. Each entry is
/// tied to the SHA-256 of the key file it came from: a changed file is decrypted again.
/// Key material is wiped on drop. Off by default: `load` then always decrypts and checks
/// the passphrase.
type UnlockedMap = std::collections::HashMap<String, ([u8; 32], PrivateKey)>;

#[derive(Default)]
struct Unlocked(std::sync::Mutex<UnlockedMap>, std::sync::atomic::AtomicBool);

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "Unlocked({n} keys)")
    }
}

impl Unlocked {
    /// The SHA-256 of a key file, when keys are being kept (`None`: nothing to look up
    /// or store, so no hashing).
    fn digest(&self, file: &[u8]) -> Option<[u8; 32]> {
        use sha2::Digest;
        self.1
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| sha2::Sha256::digest(file).into())
    }

    fn get(&self, id: &KeyId, digest: &[u8; 32]) -> Option<PrivateKey> {
        let map = self.0.lock().ok()?;
        let (d, key) = map.get(id.as_str())?;
        (d == digest).then(|| key.clone())
    }

    fn put(&self, id: &KeyId, digest: [u8; 32], key: &PrivateKey) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(id.as_str().to_owned(), (digest, key.clone()));
        }
    }
}

impl KeyStore {
    /// Open the key store of `trust_dir`, creating `trust_dir` and `trust_dir/private`
    /// (mode 0700) if they do not exist. Works on an existing `~/.notary` or `~/.docker/trust`.
    pub fn open(trust_dir: impl AsRef<Path>) -> Result<KeyStore> {
        let trust_dir = trust_dir.as_ref().to_path_buf();
        let private_dir = trust_dir.join("private");
        for dir in [&trust_dir, &private_dir] {
            if !dir.is_dir() {
                fsio::ensure_private_dir(dir)?;
            }
        }
        // Complete encrypted key copies a killed write left behind (`.ID.key.tmp-…`).
        fsio::remove_stale_temps(&private_dir);
        Ok(KeyStore {
            trust_dir,
            private_dir,
            unlocked: Default::default(),
            session: None,
            tokens: None,
        })
    }

    /// Use an unlock session: [`Self::load`] opens files whose KEK the session holds
    /// without a passphrase, new keys reuse a KEK the session derived from the same
    /// passphrase, and every scrypt derivation is recorded there (see [`super::session`]).
    pub fn with_session(mut self, session: Option<Session>) -> KeyStore {
        self.session = session;
        self
    }

    /// From now on, keys this store generates or opens stay unlocked in memory for the
    /// rest of the process (one command): signing with them again does not decrypt them
    /// again. Clones of this store share them.
    pub fn keep_unlocked_keys(&self) {
        self.unlocked
            .1
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reach PKCS#11 tokens through `tokens` (module and PIN source): keys recorded as
    /// token references load from there, and [`Self::generate_on_token`] /
    /// [`Self::import_token_key`] work. Clones of this store share the open sessions.
    pub fn with_tokens(mut self, tokens: Option<std::sync::Arc<Tokens>>) -> KeyStore {
        self.tokens = tokens;
        self
    }

    fn tokens(&self, uri: &Pkcs11Uri) -> Result<&Tokens> {
        self.tokens.as_deref().ok_or_else(|| {
            KeystoreError::Token(TokenError::NoModule {
                uri: uri.to_string(),
            })
        })
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    fn cache_for(&self, role: &str) -> Option<RoleCache<'_>> {
        self.session.as_ref().and_then(|s| s.cache_for(role))
    }

    pub fn trust_dir(&self) -> &Path {
        &self.trust_dir
    }

    pub fn private_dir(&self) -> &Path {
        &self.private_dir
    }

    /// Walk `private/` for `*.key` files (symlinks skipped) and describe each key. When a
    /// key ID appears twice, the file in the current layout wins.
    pub fn scan(&self) -> Result<Scan> {
        let mut scan = Scan::default();
        for path in fsio::walk_key_files(&self.private_dir)? {
            let described = layout::locate(&self.private_dir, &path)
                .map_err(|reason| KeystoreError::Corrupt {
                    path: path.clone(),
                    reason,
                })
                .and_then(|loc| read_entry(&loc));
            match described {
                Ok((info, _)) => scan.keys.push(info),
                Err(e) => scan.skipped.push(Skipped {
                    path,
                    reason: e.to_string(),
                }),
            }
        }
        for path in pkcs11_ref::list(&self.private_dir)? {
            match pkcs11_ref::read(&path) {
                Ok((id, r)) => scan.keys.push(r.info(id, path)),
                Err(e) => scan.skipped.push(Skipped {
                    path,
                    reason: e.to_string(),
                }),
            }
        }
        // A key file and a token reference for one ID: the key file is listed.
        scan.keys.sort_by(|a, b| {
            let token = |k: &KeyInfo| matches!(k.format, FileFormat::Token { .. });
            (&a.id, token(a), a.legacy_layout, &a.path).cmp(&(
                &b.id,
                token(b),
                b.legacy_layout,
                &b.path,
            ))
        });
        scan.keys.dedup_by(|later, first| later.id == first.id);
        Ok(scan)
    }

    /// All keys, sorted by ID.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.scan()?.keys)
    }

    /// The key with this ID.
    pub fn info(&self, id: &KeyId) -> Result<KeyInfo> {
        match self.locate(id) {
            Ok(loc) => Ok(read_entry(&loc)?.0),
            Err(e @ KeystoreError::NotFound { .. }) => match self.token_ref(id)? {
                Some((info, _)) => Ok(info),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The token reference recorded for `id`, if there is one.
    fn token_ref(&self, id: &KeyId) -> Result<Option<(KeyInfo, pkcs11_ref::TokenRef)>> {
        let path = pkcs11_ref::path(&self.private_dir, id);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            return Ok(None);
        }
        let (found, r) = pkcs11_ref::read(&path)?;
        Ok(Some((r.info(found, path), r)))
    }

    /// Open the token key `id` refers to (logging in to its token once per command).
    fn load_token(&self, info: KeyInfo, r: &pkcs11_ref::TokenRef) -> Result<(PrivateKey, KeyInfo)> {
        let corrupt = |reason: String| KeystoreError::Corrupt {
            path: info.path.clone(),
            reason,
        };
        let uri = r.parsed_uri().map_err(corrupt)?;
        let point = r.point().map_err(corrupt)?;
        let key = self.tokens(&uri)?.find_key(&uri, Some(&point))?;
        let key = PrivateKey::from_token(key);
        if key.key_id() != info.id {
            return Err(KeystoreError::IdMismatch {
                path: info.path.clone(),
                expected: info.id.to_string(),
                actual: key.key_id().to_string(),
            });
        }
        Ok((key, info))
    }

    /// Generate an ECDSA P-256 key on the token `uri` names (its `object` is the new
    /// key's label), non-extractable, and record it for `role` / `gun`.
    pub fn generate_on_token(
        &self,
        uri: &Pkcs11Uri,
        role: &str,
        gun: Option<&str>,
    ) -> Result<(PrivateKey, KeyInfo)> {
        validate_role_gun(role, gun)?;
        let key = PrivateKey::from_token(self.tokens(uri)?.generate(uri)?);
        let info = self.record_token_key(&key, role, gun)?;
        Ok((key, info))
    }

    /// Record a key that is already on a token (`uri` names it) for `role` / `gun`.
    pub fn import_token_key(
        &self,
        uri: &Pkcs11Uri,
        role: &str,
        gun: Option<&str>,
    ) -> Result<(PrivateKey, KeyInfo)> {
        validate_role_gun(role, gun)?;
        let key = PrivateKey::from_token(self.tokens(uri)?.find_key(uri, None)?);
        let info = self.record_token_key(&key, role, gun)?;
        Ok((key, info))
    }

    fn record_token_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<KeyInfo> {
        let r = pkcs11_ref::TokenRef::new(key, role, gun)?;
        let id = key.key_id();
        let path = pkcs11_ref::path(&self.private_dir, &id);
        let _lock = self.write_lock()?;
        if let Ok(existing) = self.locate(&id) {
            return Err(KeystoreError::AlreadyExists {
                id: id.to_string(),
                path: existing.path,
            });
        }
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(KeystoreError::AlreadyExists {
                id: id.to_string(),
                path,
            });
        }
        fsio::write_atomic(&path, &r.encode())?;
        Ok(r.info(id, path))
    }

    /// Whether the store has a file for key `id`: `Ok(false)` when it has none, an error
    /// naming the file when it has one that cannot be read or parsed (a corrupt key file
    /// is never taken for a missing one).
    pub fn holds(&self, id: &KeyId) -> Result<bool> {
        match self.info(id) {
            Ok(_) => Ok(true),
            Err(KeystoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The one key whose ID starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Result<KeyInfo> {
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeystoreError::BadInput {
                what: format!("key ID {prefix:?}"),
                reason: "expected hexadecimal characters of a key ID".into(),
            });
        }
        let prefix = prefix.to_ascii_lowercase();
        let mut hits: Vec<KeyInfo> = self
            .list()?
            .into_iter()
            .filter(|k| k.id.as_str().starts_with(&prefix))
            .collect();
        match hits.len() {
            1 => Ok(hits.remove(0)),
            0 => Err(self.not_found(&prefix)),
            count => Err(KeystoreError::Ambiguous {
                prefix,
                count,
                dir: self.private_dir.clone(),
            }),
        }
    }

    /// Load and decrypt a key. The decrypted key's ID must equal `id` (the file name).
    /// The returned info has the algorithm filled in.
    pub fn load(&self, id: &KeyId, pass: &dyn PassphraseSource) -> Result<(PrivateKey, KeyInfo)> {
        let (mut info, block, file) = match self.read_file(id) {
            Err(e @ KeystoreError::NotFound { .. }) => {
                return match self.token_ref(id)? {
                    Some((info, r)) => self.load_token(info, &r),
                    None => Err(e),
                }
            }
            other => other?,
        };
        let digest = self.unlocked.digest(&file);
        if let Some(key) = digest.as_ref().and_then(|d| self.unlocked.get(id, d)) {
            info.algorithm = Some(key.algorithm().as_str().to_owned());
            return Ok((key, info));
        }
        let cache = self.cache_for(&info.role);
        let (key, _) = self.open_block_with(
            &info,
            &block,
            pass,
            cache.as_ref().map(|c| c as &dyn KekCache),
        )?;
        if let Some(d) = digest {
            self.unlocked.put(id, d, &key);
        }
        info.algorithm = Some(key.algorithm().as_str().to_owned());
        Ok((key, info))
    }

    /// Generate a key for `role` (and `gun`, for targets/snapshot/timestamp) and store it.
    pub fn generate(
        &self,
        role: &str,
        gun: Option<&str>,
        algorithm: Algorithm,
        format: KeyFormat,
        pass: &dyn PassphraseSource,
    ) -> Result<KeyInfo> {
        self.generate_key(role, gun, algorithm, format, pass)
            .map(|(_, info)| info)
    }

    /// Like [`Self::generate`], also returning the key (e.g. to self-sign a root certificate
    /// without asking for the passphrase again).
    pub fn generate_key(
        &self,
        role: &str,
        gun: Option<&str>,
        algorithm: Algorithm,
        format: KeyFormat,
        pass: &dyn PassphraseSource,
    ) -> Result<(PrivateKey, KeyInfo)> {
        let mut out = self.generate_keys(&[(role, gun)], algorithm, format, pass)?;
        Ok(out.remove(0))
    }

    /// Generate one key per `(role, gun)` and store them together: the key directory is
    /// synced once for all of them (`init` creates three or four keys). All or nothing
    /// as far as passphrases go: every passphrase is asked before anything is written.
    pub fn generate_keys(
        &self,
        specs: &[(&str, Option<&str>)],
        algorithm: Algorithm,
        format: KeyFormat,
        pass: &dyn PassphraseSource,
    ) -> Result<Vec<(PrivateKey, KeyInfo)>> {
        let keys = specs
            .iter()
            .map(|(role, gun)| {
                validate_role_gun(role, *gun)?;
                PrivateKey::generate(algorithm).map_err(|e| KeystoreError::UnsupportedAlgorithm {
                    algorithm: algorithm.to_string(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let items: Vec<(&PrivateKey, &str, Option<&str>)> = keys
            .iter()
            .zip(specs)
            .map(|(k, (role, gun))| (k, *role, *gun))
            .collect();
        let infos = self.store_new(&items, format, pass)?;
        Ok(keys.into_iter().zip(infos).collect())
    }

    /// Store an existing key under `role` / `gun`. Fails with `AlreadyExists` if a file for
    /// this key ID is already in the store.
    pub fn add_key(
        &self,
        key: &PrivateKey,
        role: &str,
        gun: Option<&str>,
        format: KeyFormat,
        pass: &dyn PassphraseSource,
    ) -> Result<KeyInfo> {
        Ok(self.store_new(&[(key, role, gun)], format, pass)?.remove(0))
    }

    /// Encrypt and write new key files (one directory sync for all). The keys are kept
    /// unlocked for the rest of the process: a command that just created a key signs
    /// with it without decrypting it again.
    fn store_new(
        &self,
        items: &[(&PrivateKey, &str, Option<&str>)],
        format: KeyFormat,
        pass: &dyn PassphraseSource,
    ) -> Result<Vec<KeyInfo>> {
        let mut encoded = Vec::with_capacity(items.len());
        for (key, role, gun) in items {
            validate_role_gun(role, *gun)?;
            let id = key.key_id();
            let cache = self.cache_for(role);
            let cache = cache.as_ref().map(|c| c as &dyn KekCache);
            let (block, asked) = encode_new(key, role, *gun, format, pass, cache)?;
            let text =
                zeroize::Zeroizing::new(block.encode().map_err(|reason| bad_header(&id, reason))?);
            let path = layout::key_path(&self.private_dir, &id);
            encoded.push((id, block, text, path, asked));
        }
        {
            let _lock = self.write_lock()?;
            for (id, ..) in &encoded {
                if let Ok(existing) = self.locate(id) {
                    return Err(KeystoreError::AlreadyExists {
                        id: id.to_string(),
                        path: existing.path,
                    });
                }
            }
            let files: Vec<(&Path, &[u8])> = encoded
                .iter()
                .map(|(_, _, text, path, _)| (path.as_path(), text.as_bytes()))
                .collect();
            fsio::write_atomic_all(&self.private_dir, &files)?;
        }
        let mut infos = Vec::with_capacity(items.len());
        for ((key, role, gun), (id, block, text, path, asked)) in items.iter().zip(encoded) {
            if let Some((req, secret)) = asked {
                pass.report(&req, &secret, true);
            }
            if let Some(d) = self.unlocked.digest(text.as_bytes()) {
                self.unlocked.put(&id, d, key);
            }
            let format = format::classify(&block).map_err(|e| target(&id, "", &path).error(e))?;
            infos.push(KeyInfo {
                id,
                role: (*role).to_owned(),
                gun: gun.map(str::to_owned),
                algorithm: Some(key.algorithm().as_str().to_owned()),
                path,
                format,
                legacy_layout: false,
            });
        }
        Ok(infos)
    }

    /// Re-encrypt a key under a new passphrase (asked from `new` as for a new key), in
    /// `format` or, by default, the family it is in (vouch stays vouch; notary, legacy and
    /// openssl files become notary so notary and docker can still use them; unencrypted
    /// becomes vouch). The file is rewritten in place; a wrong old passphrase changes nothing.
    pub fn change_passphrase(
        &self,
        id: &KeyId,
        old: &dyn PassphraseSource,
        new: &dyn PassphraseSource,
        format: Option<KeyFormat>,
    ) -> Result<KeyInfo> {
        let (info, block, original) = self.read(id)?;
        let (key, _) = self.open_block(&info, &block, old)?;
        let format = format.unwrap_or(match info.format {
            FileFormat::Scrypt { .. } | FileFormat::Unencrypted => KeyFormat::Vouch,
            FileFormat::Pbkdf2 { .. } | FileFormat::Legacy { .. } | FileFormat::Token { .. } => {
                KeyFormat::Notary
            }
        });
        let gun = info.gun.as_deref().filter(|_| role_takes_gun(&info.role));
        let (block, asked) = encode_new(&key, &info.role, gun, format, new, None)?;
        let text = block.encode().map_err(|reason| bad_header(id, reason))?;
        {
            let _lock = self.write_lock()?;
            // Refuse to overwrite a file that changed since it was read.
            if *fsio::read_key_file(&info.path)? != *original {
                return Err(KeystoreError::Corrupt {
                    path: info.path.clone(),
                    reason: "the file changed while its passphrase was being changed; try again"
                        .into(),
                });
            }
            fsio::write_atomic(&info.path, text.as_bytes())?;
        }
        if let Some((req, secret)) = asked {
            new.report(&req, &secret, true);
        }
        self.info(id)
    }

    /// Delete every file holding key `id`. Returns the removed paths.
    /// A token key's reference is removed; the key stays on its token.
    pub fn remove(&self, id: &KeyId) -> Result<Vec<PathBuf>> {
        let _lock = self.write_lock()?;
        let mut paths: Vec<PathBuf> = self.locations(id)?.into_iter().map(|l| l.path).collect();
        let reference = pkcs11_ref::path(&self.private_dir, id);
        if std::fs::symlink_metadata(&reference).is_ok() {
            paths.push(reference);
        }
        if paths.is_empty() {
            return Err(self.not_found(id.as_str()));
        }
        for p in &paths {
            fsio::remove_durable(p)?;
        }
        Ok(paths)
    }

    // ---- internals shared with import/export ----

    pub(crate) fn write_lock(&self) -> Result<DirLock> {
        fsio::ensure_private_dir(&self.trust_dir)?;
        fsio::ensure_private_dir(&self.private_dir)?;
        fsio::lock(&self.trust_dir)
    }

    pub(crate) fn not_found(&self, id: &str) -> KeystoreError {
        KeystoreError::NotFound {
            id: id.to_owned(),
            dir: self.private_dir.clone(),
        }
    }

    /// Every file for `id`, current layout first.
    pub(crate) fn locations(&self, id: &KeyId) -> Result<Vec<Location>> {
        let mut out: Vec<Location> = fsio::walk_key_files(&self.private_dir)?
            .into_iter()
            .filter_map(|p| layout::locate(&self.private_dir, &p).ok())
            .filter(|l| &l.id == id)
            .collect();
        out.sort_by(|a, b| (a.legacy, &a.path).cmp(&(b.legacy, &b.path)));
        Ok(out)
    }

    fn locate(&self, id: &KeyId) -> Result<Location> {
        // The current layout's file, when it is there, is the one to use: no need to walk
        // the whole directory (which grows with every repository) for it.
        let direct = layout::key_path(&self.private_dir, id);
        if std::fs::symlink_metadata(&direct).is_ok_and(|m| m.file_type().is_file()) {
            if let Ok(loc) = layout::locate(&self.private_dir, &direct) {
                return Ok(loc);
            }
        }
        self.locations(id)?
            .into_iter()
            .next()
            .ok_or_else(|| self.not_found(id.as_str()))
    }

    /// The key's info, its key block and the file's bytes. A key on a token has none:
    /// `OnToken` says so.
    pub(crate) fn read(
        &self,
        id: &KeyId,
    ) -> Result<(KeyInfo, PemBlock, zeroize::Zeroizing<Vec<u8>>)> {
        match self.read_file(id) {
            Err(e @ KeystoreError::NotFound { .. }) => match self.token_ref(id)? {
                Some((_, r)) => Err(KeystoreError::OnToken {
                    id: id.to_string(),
                    uri: r.uri,
                    reason: "it never leaves the token: it has no passphrase and cannot be exported or backed up".into(),
                }),
                None => Err(e),
            },
            other => other,
        }
    }

    fn read_file(&self, id: &KeyId) -> Result<(KeyInfo, PemBlock, zeroize::Zeroizing<Vec<u8>>)> {
        let loc = self.locate(id)?;
        let bytes = fsio::read_key_file(&loc.path)?;
        let (info, block) = describe(&loc, &bytes)?;
        Ok((info, block, bytes))
    }

    /// Decrypt a stored block and check that it holds the key its file name says.
    pub(crate) fn open_block(
        &self,
        info: &KeyInfo,
        block: &PemBlock,
        pass: &dyn PassphraseSource,
    ) -> Result<(PrivateKey, Option<super::Secret>)> {
        self.open_block_with(info, block, pass, None)
    }

    /// [`Self::open_block`] with an unlock session's KEKs.
    fn open_block_with(
        &self,
        info: &KeyInfo,
        block: &PemBlock,
        pass: &dyn PassphraseSource,
        cache: Option<&dyn KekCache>,
    ) -> Result<(PrivateKey, Option<super::Secret>)> {
        let t = Target {
            id: Some(&info.id),
            role: &info.role,
            path: &info.path,
        };
        let (key, secret) = unlock::unlock_with(block, &t, pass, cache)?;
        let actual = key.key_id();
        if actual != info.id {
            return Err(KeystoreError::IdMismatch {
                path: info.path.clone(),
                expected: info.id.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok((key, secret))
    }
}

/// Every token key reference (`<id>.pkcs11`) in `private_dir`, read as `scan` reads it.
pub(crate) fn inspect_token_refs(private_dir: &Path) -> Vec<(PathBuf, Result<KeyInfo>)> {
    pkcs11_ref::list(private_dir)
        .unwrap_or_default()
        .into_iter()
        .map(|path| {
            let read = pkcs11_ref::read(&path).map(|(id, r)| r.info(id, path.clone()));
            (path, read)
        })
        .collect()
}

/// One key file examined read-only and without a passphrase (for `doctor`): its name
/// must be a key ID, it must parse (PEM, headers, the encrypted PKCS#8 envelope). Also
/// returns the ID of the key inside when it can be known without decrypting (an
/// unencrypted key), `None` otherwise.
pub(crate) fn inspect_file(private_dir: &Path, path: &Path) -> Result<(KeyInfo, Option<KeyId>)> {
    let loc = layout::locate(private_dir, path).map_err(|reason| KeystoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    })?;
    let (info, block) = read_entry(&loc)?;
    let actual = match format::decode(&block, None, None) {
        Ok(key) => Some(key.key_id()),
        Err(format::DecodeError::NeedPassphrase) => None,
        Err(e) => return Err(target(&info.id, &info.role, &info.path).error(e)),
    };
    Ok((info, actual))
}

/// Read and describe the key file at `loc`.
fn read_entry(loc: &Location) -> Result<(KeyInfo, PemBlock)> {
    describe(loc, &fsio::read_key_file(&loc.path)?)
}

fn describe(loc: &Location, bytes: &[u8]) -> Result<(KeyInfo, PemBlock)> {
    let corrupt = |reason: String| KeystoreError::Corrupt {
        path: loc.path.clone(),
        reason,
    };
    let block = pemblock::parse_all(bytes)
        .map_err(corrupt)?
        .into_iter()
        .find(|b| format::is_key_block(&b.kind))
        .ok_or_else(|| corrupt("no PEM private key block".into()))?;
    let role = block
        .header("role")
        .map(str::to_owned)
        .or_else(|| loc.path_role.clone())
        .unwrap_or_default();
    let gun = block
        .header("gun")
        .map(str::to_owned)
        .or_else(|| loc.path_gun.clone().filter(|_| role_takes_gun(&role)));
    let fmt = format::classify(&block).map_err(|e| target(&loc.id, &role, &loc.path).error(e))?;
    let info = KeyInfo {
        id: loc.id.clone(),
        role,
        gun,
        algorithm: format::algorithm_hint(&block),
        path: loc.path.clone(),
        format: fmt,
        legacy_layout: loc.legacy,
    };
    Ok((info, block))
}

fn target<'a>(id: &'a KeyId, role: &'a str, path: &'a Path) -> Target<'a> {
    Target {
        id: Some(id),
        role,
        path,
    }
}

type Asked = Option<(super::PassphraseRequest, super::Secret)>;

/// Encode `key` for storage, asking for a new passphrase unless `format` is unencrypted.
pub(crate) fn encode_new(
    key: &PrivateKey,
    role: &str,
    gun: Option<&str>,
    format: KeyFormat,
    pass: &dyn PassphraseSource,
    cache: Option<&dyn KekCache>,
) -> Result<(PemBlock, Asked)> {
    let id = key.key_id();
    let asked = match format {
        KeyFormat::Unencrypted => None,
        KeyFormat::Vouch | KeyFormat::Notary => Some(unlock::new_passphrase(pass, &id, role)?),
    };
    let secret = asked.as_ref().map(|(_, s)| s.expose().as_bytes());
    let block = format::encode(key, role, gun, format, secret, cache).map_err(|reason| {
        KeystoreError::Crypto {
            id: id.to_string(),
            source: CryptoError::InvalidKey(reason),
        }
    })?;
    Ok((block, asked))
}

fn bad_header(id: &KeyId, reason: String) -> KeystoreError {
    KeystoreError::BadInput {
        what: format!("key {id}"),
        reason,
    }
}
