//! A repository's local state in the trust dir, in notary's layout (protocol §7):
//! `tuf/<gun>/metadata/<role>.json` (the cache of verified metadata) and
//! `tuf/<gun>/changelist/*.change` (staged changes). vouch and notary can share it.
//!
//! vouch keeps two things of its own beside them, in `tuf/<gun>/@vouch/` (`@` is in no
//! GUN, so no repository's directory can clash with it, and notary reads none of it): every
//! root version it verified (`roots/<version>.json`, the chain a pin is followed along)
//! and how the cached root was first anchored (`anchor.json`). Both go away with the
//! cache when notary or vouch delete the repository's local state. Locks live outside
//! `tuf/`, in `<trust_dir>/locks/`, so that a command that changes nothing leaves `tuf/`
//! byte for byte as it was.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::keystore::fsio;
use crate::remote::Gun;

use super::TrustError;

/// Largest cached metadata file vouch reads (notary's `MaxDownloadSize`).
const MAX_CACHED: u64 = 100 << 20;
/// Largest root history file read.
const MAX_ROOT: u64 = 8 << 20;
/// Most root history files read.
const MAX_HISTORY: usize = 1024;

/// How a repository's cached root came to be trusted, as `anchor.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnchorRecord {
    /// `init` (created here), `pin` (verified against pinned root keys), `tofu` (trusted
    /// on first use with the user's consent).
    pub anchored_by: String,
    /// The root version first anchored so.
    pub root_version: i64,
    /// When (RFC 3339).
    pub at: String,
}

/// The `signed.version` of a root file, without verifying anything.
fn root_version(bytes: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct V {
        version: i64,
    }
    #[derive(serde::Deserialize)]
    struct E {
        signed: V,
    }
    serde_json::from_slice::<E>(bytes)
        .ok()
        .map(|e| e.signed.version)
}

pub struct LocalRepo {
    gun: Gun,
    dir: PathBuf,
    lock_dir: PathBuf,
}

/// Holds the per-repository lock until dropped.
pub struct RepoLock {
    _file: File,
}

impl LocalRepo {
    pub fn new(trust_dir: &Path, gun: &Gun) -> LocalRepo {
        LocalRepo {
            gun: gun.clone(),
            dir: trust_dir.join("tuf").join(gun.as_str()),
            lock_dir: trust_dir.join("locks").join(gun.as_str()),
        }
    }

    pub fn gun(&self) -> &Gun {
        &self.gun
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    pub fn changelist_dir(&self) -> PathBuf {
        self.dir.join("changelist")
    }

    fn role_path(&self, role: &str) -> PathBuf {
        self.metadata_dir().join(format!("{role}.json"))
    }

    /// Serialise writers to this repository's local state (staging, publishing, cache
    /// updates). The lock is `<trust_dir>/locks/<gun>/@lock`: outside `tuf/`, so that
    /// `notary delete` of the state does not race with it and reading commands leave
    /// `tuf/` untouched.
    pub fn lock(&self) -> Result<RepoLock, TrustError> {
        ensure_dir(&self.lock_dir)?;
        let path = self.lock_dir.join("@lock");
        let file = fsio::lock_file(&path).map_err(|e| local_err("cannot lock", &path, e))?;
        Ok(RepoLock { _file: file })
    }

    /// vouch's own state for this repository (see the module doc).
    fn vouch_dir(&self) -> PathBuf {
        self.dir.join("@vouch")
    }

    fn history_dir(&self) -> PathBuf {
        self.vouch_dir().join("roots")
    }

    /// Every root version kept in the history and the cached root.json, by version
    /// (one file per version; the cached root.json wins over a history copy of its
    /// version). Files that do not parse far enough to show a version are skipped: each
    /// root is verified by the caller anyway.
    pub fn root_history(&self) -> Result<Vec<(i64, Vec<u8>)>, TrustError> {
        let mut out = std::collections::BTreeMap::new();
        let dir = self.history_dir();
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let Some(v) = name
                        .to_str()
                        .and_then(|n| n.strip_suffix(".json"))
                        .and_then(|n| n.parse::<i64>().ok())
                    else {
                        continue;
                    };
                    if out.len() >= MAX_HISTORY {
                        break;
                    }
                    if let Some(bytes) = read_capped(&e.path(), MAX_ROOT)? {
                        out.insert(v, bytes);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(local_err("cannot read", &dir, e)),
        }
        if let Some(bytes) = self.read_cached("root")? {
            if let Some(v) = root_version(&bytes) {
                out.insert(v, bytes);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Keep these verified root versions in the history.
    pub fn remember_roots(&self, roots: &[Vec<u8>]) -> Result<(), TrustError> {
        let dir = self.history_dir();
        let mut files = Vec::new();
        for bytes in roots {
            let Some(v) = root_version(bytes) else {
                continue;
            };
            let path = dir.join(format!("{v}.json"));
            if read_capped(&path, MAX_ROOT).ok().flatten().as_deref() != Some(bytes.as_slice()) {
                files.push((path, bytes.as_slice()));
            }
        }
        if files.is_empty() {
            return Ok(());
        }
        ensure_dir(&dir)?;
        let list: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (p.as_path(), *b)).collect();
        fsio::write_atomic_all(&dir, &list)
            .map_err(|e| local_err("cannot write root history in", &dir, e))
    }

    /// How the cached root was anchored, as recorded (`None`: no record, e.g. a cache
    /// that notary or an older vouch wrote). An unreadable record counts as none.
    pub fn anchor_record(&self) -> Result<Option<AnchorRecord>, TrustError> {
        let path = self.vouch_dir().join("anchor.json");
        Ok(read_capped(&path, 64 << 10)?.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Record how the cached root was anchored.
    pub fn write_anchor_record(&self, record: &AnchorRecord) -> Result<(), TrustError> {
        let dir = self.vouch_dir();
        ensure_dir(&dir)?;
        let path = dir.join("anchor.json");
        let mut text = serde_json::to_vec_pretty(record).expect("records serialize");
        text.push(b'\n');
        fsio::write_atomic(&path, &text).map_err(|e| local_err("cannot write", &path, e))
    }

    /// The cached bytes of `role`, if present.
    pub fn read_cached(&self, role: &str) -> Result<Option<Vec<u8>>, TrustError> {
        let path = self.role_path(role);
        read_capped(&path, MAX_CACHED)
    }

    /// Replace the cached copy of `role` atomically.
    pub fn write_cached(&self, role: &str, bytes: &[u8]) -> Result<(), TrustError> {
        if role == "root" {
            self.remember_roots(&[bytes.to_vec()])?;
        }
        let path = self.role_path(role);
        ensure_dir(path.parent().expect("role path has a parent"))?;
        fsio::write_atomic(&path, bytes).map_err(|e| local_err("cannot write cache file", &path, e))
    }

    /// Write top-level cache files without syncing them (see `fsio::replace_unsynced`);
    /// [`Self::sync_cached`] makes them durable. `init` writes its local repository so,
    /// just before uploading it and rewriting most of it durably.
    pub fn write_cached_unsynced(&self, files: &[(String, Vec<u8>)]) -> Result<(), TrustError> {
        self.remember_cached_roots(files)?;
        let paths: Vec<PathBuf> = files.iter().map(|(r, _)| self.role_path(r)).collect();
        ensure_dir(&self.top_level_dir(&paths)?)?;
        for (path, (_, bytes)) in paths.iter().zip(files) {
            fsio::replace_unsynced(path, bytes)
                .map_err(|e| local_err("cannot write cache file", path, e))?;
        }
        Ok(())
    }

    /// fsync the cached files of `roles` (top-level roles) and their directory.
    pub fn sync_cached(&self, roles: &[&str]) -> Result<(), TrustError> {
        let paths: Vec<PathBuf> = roles
            .iter()
            .map(|r| self.role_path(r))
            .filter(|p| p.is_file())
            .collect();
        if paths.is_empty() {
            return Ok(());
        }
        let dir = self.top_level_dir(&paths)?;
        let list: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        fsio::sync_files(&dir, &list).map_err(|e| local_err("cannot sync cache files in", &dir, e))
    }

    /// The metadata directory, if every one of `paths` is directly in it (top-level
    /// roles; delegated roles live in subdirectories).
    fn top_level_dir(&self, paths: &[PathBuf]) -> Result<PathBuf, TrustError> {
        let dir = self.metadata_dir();
        match paths.iter().find(|p| p.parent() != Some(dir.as_path())) {
            None => Ok(dir),
            Some(p) => Err(TrustError::LocalState {
                what: "cache file".into(),
                path: p.clone(),
                reason: "not a top-level role's file".into(),
                io: None,
            }),
        }
    }

    /// Whether the cached copy of `role` is exactly `bytes` (a publish need not write back
    /// what `init` cached before its upload).
    pub fn holds_cached(&self, role: &str, bytes: &[u8]) -> bool {
        matches!(self.read_cached(role), Ok(Some(old)) if old == bytes)
    }

    /// Write several cache files in the order given (roots first); each is atomic, and
    /// the directory is synced once for all of them.
    pub fn write_cached_all(&self, files: &[(String, Vec<u8>)]) -> Result<(), TrustError> {
        if files.is_empty() {
            return Ok(());
        }
        self.remember_cached_roots(files)?;
        let paths: Vec<PathBuf> = files.iter().map(|(r, _)| self.role_path(r)).collect();
        let Ok(dir) = self.top_level_dir(&paths) else {
            // Delegated roles live in subdirectories: one at a time.
            for (role, bytes) in files {
                self.write_cached(role, bytes)?;
            }
            return Ok(());
        };
        ensure_dir(&dir)?;
        let list: Vec<(&Path, &[u8])> = paths
            .iter()
            .zip(files)
            .map(|(p, (_, b))| (p.as_path(), b.as_slice()))
            .collect();
        fsio::write_atomic_all(&dir, &list)
            .map_err(|e| local_err("cannot write cache files in", &dir, e))
    }

    /// The roots among cache files about to be written go into the history first.
    fn remember_cached_roots(&self, files: &[(String, Vec<u8>)]) -> Result<(), TrustError> {
        let roots: Vec<Vec<u8>> = files
            .iter()
            .filter(|(r, _)| r == "root")
            .map(|(_, b)| b.clone())
            .collect();
        self.remember_roots(&roots)
    }

    pub fn remove_cached(&self, role: &str) -> Result<(), TrustError> {
        let path = self.role_path(role);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(local_err("cannot remove", &path, e)),
        }
    }

    /// Remove all local state of the repository (cache and staged changes); keys stay.
    pub fn delete_all(&self) -> Result<bool, TrustError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(local_err("cannot remove", &self.dir, e)),
        }
    }
}

pub(crate) fn ensure_dir(dir: &Path) -> Result<(), TrustError> {
    fsio::ensure_private_dir(dir).map_err(|e| local_err("cannot create directory", dir, e))
}

pub(crate) fn read_capped(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, TrustError> {
    use std::io::Read;
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(local_err("cannot open", path, e)),
    };
    let len = f
        .metadata()
        .map_err(|e| local_err("cannot stat", path, e))?
        .len();
    if len > cap {
        return Err(TrustError::LocalState {
            what: "cached file".into(),
            path: path.to_path_buf(),
            reason: format!("{len} bytes is larger than the {cap}-byte limit"),
            io: None,
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(cap)
        .read_to_end(&mut buf)
        .map_err(|e| local_err("cannot read", path, e))?;
    Ok(Some(buf))
}

pub(crate) fn local_err(what: &str, path: &Path, e: impl Into<LocalCause>) -> TrustError {
    let LocalCause { reason, io } = e.into();
    TrustError::LocalState {
        what: what.to_owned(),
        path: path.to_path_buf(),
        reason,
        io,
    }
}

/// Why a local trust-dir file could not be used: a file-system error (whose kind picks the
/// hint and exit code) or unreadable content.
pub(crate) struct LocalCause {
    reason: String,
    io: Option<std::io::ErrorKind>,
}

impl From<std::io::Error> for LocalCause {
    fn from(e: std::io::Error) -> Self {
        LocalCause {
            io: Some(e.kind()),
            reason: e.to_string(),
        }
    }
}

impl From<crate::keystore::KeystoreError> for LocalCause {
    fn from(e: crate::keystore::KeystoreError) -> Self {
        match e {
            // The caller names the file; the temp file beside it is noise.
            crate::keystore::KeystoreError::Io { source, .. } => source.into(),
            other => LocalCause {
                reason: other.to_string(),
                io: None,
            },
        }
    }
}

impl From<serde_json::Error> for LocalCause {
    fn from(e: serde_json::Error) -> Self {
        LocalCause {
            reason: e.to_string(),
            io: None,
        }
    }
}
