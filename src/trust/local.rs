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

/// How the root a command used came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchoredBy {
    /// Pinned root keys or CAs (now, or along the cached chain).
    Pin,
    /// The repository was created in this trust dir.
    Init,
    /// Trusted on first use, with consent.
    Tofu,
    /// Restored from a key backup, asked for (`key restore --with-trust-data`).
    Backup,
}

impl AnchoredBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AnchoredBy::Pin => "pin",
            AnchoredBy::Init => "init",
            AnchoredBy::Tofu => "tofu",
            AnchoredBy::Backup => "backup",
        }
    }

    pub fn parse(s: &str) -> Option<AnchoredBy> {
        match s {
            "pin" => Some(AnchoredBy::Pin),
            "init" => Some(AnchoredBy::Init),
            "tofu" => Some(AnchoredBy::Tofu),
            "backup" => Some(AnchoredBy::Backup),
            _ => None,
        }
    }

    /// The record for a root of `version` anchored so at `now`.
    pub fn record(self, version: i64, now: time::OffsetDateTime) -> AnchorRecord {
        AnchorRecord {
            anchored_by: self.as_str().to_owned(),
            root_version: version,
            at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
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
        // No writer is at work now: temp files of a cache set that a stopped writer never
        // committed are tidied (best effort: they are never read either way).
        let _ = self.remove_stale_set_temps();
        // The same for the anchor record and the root history (whose writers are gone).
        fsio::remove_stale_temps(&self.vouch_dir());
        Ok(RepoLock { _file: file })
    }

    /// Temp files of the anchor record and root history whose writers are gone (see
    /// [`Self::lock`], which removes them).
    pub fn stale_record_temps(&self) -> Vec<PathBuf> {
        fsio::stale_temps(&self.vouch_dir())
    }

    /// vouch's own state for this repository (see the module doc).
    fn vouch_dir(&self) -> PathBuf {
        self.dir.join("@vouch")
    }

    fn history_dir(&self) -> PathBuf {
        self.vouch_dir().join("roots")
    }

    /// Every root version kept in the history and the cached root.json (`cached_root`,
    /// as the caller read it with [`read_cached`](Self::read_cached)), by version (one
    /// file per version; the cached root.json wins over a history copy of its version).
    /// Files that do not parse far enough to show a version are skipped: each root is
    /// verified by the caller anyway.
    pub fn root_history(
        &self,
        cached_root: Option<&[u8]>,
    ) -> Result<Vec<(i64, Vec<u8>)>, TrustError> {
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
        if let Some(bytes) = cached_root {
            if let Some(v) = root_version(bytes) {
                out.insert(v, bytes.to_vec());
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
    /// that notary or an older vouch wrote). A record that cannot be read is an error
    /// naming the file, never taken for another anchoring.
    pub fn anchor_record(&self) -> Result<Option<AnchorRecord>, TrustError> {
        let path = self.anchor_record_path();
        match read_capped(&path, 64 << 10)? {
            None => Ok(None),
            Some(b) => {
                let corrupt = |reason: String| TrustError::CorruptRecord {
                    gun: self.gun.to_string(),
                    path: path.clone(),
                    reason,
                };
                let r: AnchorRecord =
                    serde_json::from_slice(&b).map_err(|e| corrupt(e.to_string()))?;
                if AnchoredBy::parse(&r.anchored_by).is_none() {
                    return Err(corrupt(format!(
                        "anchored_by {:?} is not init, pin, tofu or backup",
                        r.anchored_by
                    )));
                }
                if r.root_version < 1 {
                    return Err(corrupt(format!(
                        "root_version {} is not a root version",
                        r.root_version
                    )));
                }
                if time::OffsetDateTime::parse(
                    &r.at,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_err()
                {
                    return Err(corrupt(format!("at {:?} is not an RFC 3339 time", r.at)));
                }
                Ok(Some(r))
            }
        }
    }

    /// Where the anchor record lives (`tuf/<gun>/@vouch/anchor.json`).
    pub fn anchor_record_path(&self) -> PathBuf {
        self.vouch_dir().join("anchor.json")
    }

    /// Remove a corrupt anchor record: the cache is then unanchored (a reader needs a pin
    /// or consent again), which is where a record that cannot be read leaves it anyway.
    pub fn remove_anchor_record(&self) -> Result<(), TrustError> {
        let path = self.anchor_record_path();
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(local_err("cannot remove", &path, e)),
        }
    }

    /// The root history's files, with the version each one's name says.
    pub fn history_files(&self) -> Vec<(i64, PathBuf)> {
        let Ok(entries) = fs::read_dir(self.history_dir()) else {
            return Vec::new();
        };
        let mut out: Vec<(i64, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let v = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".json"))
                    .and_then(|n| n.parse::<i64>().ok())?;
                Some((v, path))
            })
            .collect();
        out.sort();
        out
    }

    /// Read one file of the root history.
    pub fn read_history_file(&self, path: &Path) -> Option<Vec<u8>> {
        read_capped(path, MAX_ROOT).ok().flatten()
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

    /// Where the cached copy of `role` lives (`tuf/<gun>/metadata/<role>.json`), to name
    /// it in messages about its content.
    pub fn cached_path(&self, role: &str) -> PathBuf {
        self.role_path(role)
    }

    /// The cached bytes of `role`, if present. A set of cache files whose writing was
    /// interrupted after it was complete on disk is finished first (see
    /// [`Self::write_cached_all`]), so readers never see half of a set.
    pub fn read_cached(&self, role: &str) -> Result<Option<Vec<u8>>, TrustError> {
        self.finish_pending_set();
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

    /// Whether the cached copy of `role` is exactly `bytes` (a publish need not write back
    /// what `init` cached before its upload).
    pub fn holds_cached(&self, role: &str, bytes: &[u8]) -> bool {
        matches!(self.read_cached(role), Ok(Some(old)) if old == bytes)
    }

    /// Replace several cache files as ONE set: after a crash, a full disk or a kill at any
    /// point, readers see either all of the old files or all of the new ones (never a
    /// root.json without the targets.json that goes with it).
    ///
    /// Every file is written under a temp name beside its final name and synced; then a
    /// list of the renames to do (`metadata/.vouch-pending-set.json`) is written
    /// atomically: from that moment the set is committed. The renames follow, the
    /// directories are synced and the list is removed. A set whose renames were cut short
    /// is finished by the next reader or writer ([`Self::read_cached`]); a set cut short
    /// before its list was written is as if never begun (its temp files are left behind).
    pub fn write_cached_all(&self, files: &[(String, Vec<u8>)]) -> Result<(), TrustError> {
        if files.is_empty() {
            return Ok(());
        }
        self.remember_cached_roots(files)?;
        self.finish_pending_set();
        let meta_dir = self.metadata_dir();
        let mut renames: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(files.len());
        let result = (|| {
            for (role, bytes) in files {
                let path = self.role_path(role);
                let dir = path.parent().expect("role path has a parent");
                ensure_dir(dir)?;
                let tmp = write_temp(&path, bytes)
                    .map_err(|e| local_err("cannot write cache file", &path, e))?;
                renames.push((tmp, path));
            }
            sync_parents(&renames)?;
            let journal = PendingSet {
                renames: renames
                    .iter()
                    .map(|(t, p)| {
                        let rel = |x: &Path| {
                            x.strip_prefix(&meta_dir)
                                .expect("cache files are under the metadata directory")
                                .to_string_lossy()
                                .into_owned()
                        };
                        (rel(t), rel(p))
                    })
                    .collect(),
            };
            let text = serde_json::to_vec(&journal).expect("serialisable");
            let jpath = meta_dir.join(PENDING_SET);
            fsio::write_atomic(&jpath, &text)
                .map_err(|e| local_err("cannot write cache file", &jpath, e))
        })();
        if let Err(e) = result {
            for (tmp, _) in &renames {
                let _ = fs::remove_file(tmp);
            }
            return Err(e);
        }
        // Committed: the renames are done now, or by the next command if this one stops.
        for (tmp, path) in &renames {
            fs::rename(tmp, path).map_err(|e| local_err("cannot write cache file", path, e))?;
        }
        self.finish_journal(&renames)
    }

    /// Sync the directories of a set's renames, then remove its list.
    fn finish_journal(&self, renames: &[(PathBuf, PathBuf)]) -> Result<(), TrustError> {
        sync_parents(renames)?;
        let jpath = self.metadata_dir().join(PENDING_SET);
        match fs::remove_file(&jpath) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(local_err("cannot remove", &jpath, e)),
        }
    }

    /// Finish a committed set whose renames were cut short, if there is one (what every
    /// read of the cache does first; `doctor --fix` calls it directly). Best effort:
    /// a reader that may not write (read-only trust dir) reads what is there. Renaming a
    /// temp file that is already in place fails harmlessly, so two commands may do this at
    /// once.
    pub fn finish_pending_set(&self) {
        let meta_dir = self.metadata_dir();
        let jpath = meta_dir.join(PENDING_SET);
        let Ok(Some(text)) = read_capped(&jpath, 1 << 20) else {
            return;
        };
        let Ok(journal) = serde_json::from_slice::<PendingSet>(&text) else {
            // Not ours to understand: leave the cache as it is.
            return;
        };
        let safe = |rel: &str| {
            let p = Path::new(rel);
            !rel.is_empty()
                && p.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        };
        if !journal.renames.iter().all(|(t, p)| safe(t) && safe(p)) {
            return;
        }
        let renames: Vec<(PathBuf, PathBuf)> = journal
            .renames
            .iter()
            .map(|(t, p)| (meta_dir.join(t), meta_dir.join(p)))
            .collect();
        for (tmp, path) in &renames {
            match fs::rename(tmp, path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => return,
            }
        }
        let _ = self.finish_journal(&renames);
    }

    /// The list of a committed cache set whose renames are not all done yet
    /// (`metadata/.vouch-pending-set.json`), if there is one: the next read finishes it.
    pub fn pending_set_path(&self) -> Option<PathBuf> {
        let path = self.metadata_dir().join(PENDING_SET);
        fs::symlink_metadata(&path).is_ok().then_some(path)
    }

    /// Temp files of cache sets (`metadata/**/.<role>.json.set-<16 hex>`) that no pending
    /// set lists: a writer stopped before it committed its set, and nothing will ever read
    /// them. Only meaningful while no writer is at work (the caller checked or holds the
    /// repository lock): writers write them under that lock.
    pub fn stale_set_temps(&self) -> Vec<PathBuf> {
        let meta_dir = self.metadata_dir();
        let listed: std::collections::BTreeSet<PathBuf> =
            read_capped(&meta_dir.join(PENDING_SET), 1 << 20)
                .ok()
                .flatten()
                .and_then(|t| serde_json::from_slice::<PendingSet>(&t).ok())
                .map(|j| {
                    j.renames
                        .into_iter()
                        .map(|(t, _)| meta_dir.join(t))
                        .collect()
                })
                .unwrap_or_default();
        let mut out: Vec<PathBuf> = fsio::files_under(&meta_dir)
            .into_iter()
            .filter(|entry| is_set_temp(&entry.file_name().to_string_lossy()))
            .map(|entry| entry.path())
            .filter(|path| !listed.contains(path))
            .collect();
        out.sort();
        out
    }

    /// Remove [`Self::stale_set_temps`] (the caller holds the repository lock). Returns
    /// the files removed.
    pub fn remove_stale_set_temps(&self) -> Result<Vec<PathBuf>, TrustError> {
        let stale = self.stale_set_temps();
        for p in &stale {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(local_err("cannot remove stale temp file", p, e)),
            }
        }
        Ok(stale)
    }

    /// The file [`Self::lock`] locks.
    pub fn lock_path(&self) -> PathBuf {
        self.lock_dir.join("@lock")
    }

    /// [`Self::lock`] without waiting: `None` when another command holds the lock.
    pub fn try_lock(&self) -> Result<Option<RepoLock>, TrustError> {
        ensure_dir(&self.lock_dir)?;
        let path = self.lock_path();
        let file = fsio::try_lock_file(&path).map_err(|e| local_err("cannot lock", &path, e))?;
        Ok(file.map(|f| RepoLock { _file: f }))
    }

    /// The key IDs of this GUN's keys that existed when an `init` of it began, if an init
    /// began and did not get as far as writing its local repository (see
    /// [`Self::begin_init`]).
    pub fn init_marker(&self) -> Option<Vec<String>> {
        let bytes = read_capped(&self.dir.join(INIT_MARKER), 1 << 20).ok()??;
        serde_json::from_slice::<InitMarker>(&bytes)
            .ok()
            .map(|m| m.keys_before)
    }

    /// Note that an `init` begins, with the IDs of the GUN's keys that exist before it
    /// generates any: a rerun after it was stopped uses the keys it generated (those not
    /// listed) instead of leaving them behind, and never older keys of the GUN (a key
    /// rotated out, say). Not synced: after a power loss at worst keys are left behind.
    pub fn begin_init(&self, keys_before: Vec<String>) -> Result<(), TrustError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        ensure_dir(&self.dir)?;
        let path = self.dir.join(INIT_MARKER);
        let text = serde_json::to_vec(&InitMarker { keys_before }).expect("serialisable");
        let tmp = self.dir.join(format!(".{INIT_MARKER}.new"));
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&text))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| local_err("cannot write", &path, e))
    }

    /// The local repository of an `init` is written: forget [`Self::begin_init`]'s note.
    pub fn end_init(&self) {
        let _ = fs::remove_file(self.dir.join(INIT_MARKER));
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

/// The list of renames of a committed cache set (see [`LocalRepo::write_cached_all`]),
/// in the metadata directory. A dot-file: notary reads only `<role>.json` files.
const PENDING_SET: &str = ".vouch-pending-set.json";

/// `init`'s note of the keys that existed before it (see [`LocalRepo::begin_init`]), in the
/// repository's directory.
const INIT_MARKER: &str = ".vouch-init.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct InitMarker {
    keys_before: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PendingSet {
    /// (temp file, final name), relative to the metadata directory, in rename order.
    renames: Vec<(String, String)>,
}

/// `.<name>.set-<16 hex>`: a cache set's temp file ([`write_temp`]).
fn is_set_temp(name: &str) -> bool {
    let Some((target, random)) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".set-")) else {
        return false;
    };
    !target.is_empty() && random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `bytes` in a new 0600 temp file beside `path`, synced; returns the temp file's path.
fn write_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use rand_core::RngCore as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("cache");
    let tmp = dir.join(format!(".{name}.set-{:016x}", rand_core::OsRng.next_u64()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Sync, once each, the directories the final names of `renames` live in (their temp
/// files live beside them).
fn sync_parents(renames: &[(PathBuf, PathBuf)]) -> Result<(), TrustError> {
    let mut dirs: Vec<&Path> = renames
        .iter()
        .map(|(_, p)| p.parent().expect("has a parent"))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        sync_dir(d).map_err(|e| local_err("cannot sync", d, e))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, LocalRepo) {
        let tmp = tempfile::tempdir().unwrap();
        let gun = Gun::parse("example.com/team/app").unwrap();
        let local = LocalRepo::new(tmp.path(), &gun);
        (tmp, local)
    }

    #[test]
    fn cached_path_names_the_file_read_cached_reads() {
        let (tmp, local) = repo();
        let p = local.cached_path("targets/releases");
        assert_eq!(
            p,
            tmp.path()
                .join("tuf/example.com/team/app/metadata/targets/releases.json")
        );
        local
            .write_cached_all(&[("targets/releases".into(), b"x".to_vec())])
            .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn a_committed_set_cut_short_is_finished_by_the_next_read() {
        let (_tmp, local) = repo();
        let old = [
            ("root".to_owned(), b"root 1".to_vec()),
            ("targets".to_owned(), b"targets 1".to_vec()),
        ];
        local.write_cached_all(&old).unwrap();
        // A set committed (temp files and list written) whose renames never ran.
        let dir = local.metadata_dir();
        let mut renames = Vec::new();
        for (role, bytes) in [("root", b"root 2"), ("targets", b"tgts 2")] {
            let tmp = write_temp(&local.role_path(role), bytes).unwrap();
            let rel = |p: &Path| p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            renames.push((rel(&tmp), format!("{role}.json")));
        }
        let list = serde_json::to_vec(&PendingSet { renames }).unwrap();
        std::fs::write(dir.join(PENDING_SET), list).unwrap();
        assert_eq!(local.read_cached("root").unwrap().unwrap(), b"root 2");
        assert_eq!(local.read_cached("targets").unwrap().unwrap(), b"tgts 2");
        assert!(!dir.join(PENDING_SET).exists());
        // No temp files are left.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn stale_set_temps_are_those_no_pending_set_lists() {
        let (_tmp, local) = repo();
        local
            .write_cached_all(&[("root".to_owned(), b"r".to_vec())])
            .unwrap();
        let dir = local.metadata_dir();
        let listed = write_temp(&local.role_path("root"), b"r2").unwrap();
        std::fs::create_dir_all(dir.join("targets")).unwrap();
        let unlisted = write_temp(&local.role_path("targets/releases"), b"t").unwrap();
        let other = dir.join(".notes.set-tmp");
        std::fs::write(&other, b"x").unwrap();
        let rel = listed
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let list = serde_json::to_vec(&PendingSet {
            renames: vec![(rel, "root.json".into())],
        })
        .unwrap();
        std::fs::write(dir.join(PENDING_SET), list).unwrap();
        assert_eq!(local.pending_set_path(), Some(dir.join(PENDING_SET)));
        assert_eq!(local.stale_set_temps(), vec![unlisted.clone()]);
        assert_eq!(
            local.remove_stale_set_temps().unwrap(),
            vec![unlisted.clone()]
        );
        assert!(!unlisted.exists() && listed.exists() && other.exists());
        local.finish_pending_set();
        assert_eq!(local.pending_set_path(), None);
        assert_eq!(std::fs::read(local.cached_path("root")).unwrap(), b"r2");
    }

    #[test]
    fn a_pending_list_naming_paths_outside_the_cache_is_ignored() {
        let (tmp, local) = repo();
        local
            .write_cached_all(&[("root".to_owned(), b"r".to_vec())])
            .unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"secret").unwrap();
        let list = serde_json::to_vec(&PendingSet {
            renames: vec![("../../../../../outside".into(), "root.json".into())],
        })
        .unwrap();
        std::fs::write(local.metadata_dir().join(PENDING_SET), list).unwrap();
        assert_eq!(local.read_cached("root").unwrap().unwrap(), b"r");
        assert!(outside.exists());
    }
}
