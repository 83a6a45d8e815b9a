//! A repository's local state in the trust dir, in notary's layout (protocol §7):
//! `tuf/<gun>/metadata/<role>.json` (the cache of verified metadata) and
//! `tuf/<gun>/changelist/*.change` (staged changes). vouch and notary can share it.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::keystore::fsio;
use crate::remote::Gun;

use super::TrustError;

/// Largest cached metadata file vouch reads (notary's `MaxDownloadSize`).
const MAX_CACHED: u64 = 100 << 20;

pub struct LocalRepo {
    gun: Gun,
    dir: PathBuf,
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
    /// updates). The lock lives next to the repository's state, not in it, so that
    /// `notary delete` of the state does not race with it.
    pub fn lock(&self) -> Result<RepoLock, TrustError> {
        let parent = self.dir.parent().unwrap_or(&self.dir);
        ensure_dir(parent)?;
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = parent.join(format!(".{name}.vouch-lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| local_err("cannot open lock file", &path, e))?;
        file.lock()
            .map_err(|e| local_err("cannot lock", &path, e))?;
        Ok(RepoLock { _file: file })
    }

    /// The cached bytes of `role`, if present.
    pub fn read_cached(&self, role: &str) -> Result<Option<Vec<u8>>, TrustError> {
        let path = self.role_path(role);
        read_capped(&path, MAX_CACHED)
    }

    /// Replace the cached copy of `role` atomically.
    pub fn write_cached(&self, role: &str, bytes: &[u8]) -> Result<(), TrustError> {
        let path = self.role_path(role);
        ensure_dir(path.parent().expect("role path has a parent"))?;
        fsio::write_atomic(&path, bytes).map_err(|e| local_err("cannot write cache file", &path, e))
    }

    /// [`Self::write_cached`], unless the cached copy already holds exactly `bytes` (a
    /// publish writes back what `init` cached before its upload: no second fsync round).
    pub fn update_cached(&self, role: &str, bytes: &[u8]) -> Result<(), TrustError> {
        if matches!(self.read_cached(role), Ok(Some(old)) if old == bytes) {
            return Ok(());
        }
        self.write_cached(role, bytes)
    }

    /// Write several cache files; each is atomic, the set is written roots first.
    pub fn write_cached_all(&self, files: &[(String, Vec<u8>)]) -> Result<(), TrustError> {
        for (role, bytes) in files {
            self.write_cached(role, bytes)?;
        }
        Ok(())
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
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(cap)
        .read_to_end(&mut buf)
        .map_err(|e| local_err("cannot read", path, e))?;
    Ok(Some(buf))
}

pub(crate) fn local_err(what: &str, path: &Path, e: impl std::fmt::Display) -> TrustError {
    TrustError::LocalState {
        what: what.to_owned(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
