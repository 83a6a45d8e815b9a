//! Staged changes, in notary's changelist format (protocol §7.2), so that changes staged
//! by vouch can be published by notary and the reverse.
//!
//! One file per change, `<unix nanos, 20 digits>_<uuid v4>.change`, applied in file-name
//! order and removed only after the publish that applied it succeeded.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use crate::tuf::FileMeta;

use super::local::{ensure_dir, local_err, read_capped};
use super::TrustError;

pub const ACTION_CREATE: &str = "create";
pub const ACTION_UPDATE: &str = "update";
pub const ACTION_DELETE: &str = "delete";
pub const TYPE_TARGET: &str = "target";
pub const TYPE_DELEGATION: &str = "delegation";
pub const TYPE_WITNESS: &str = "witness";
/// Extension of vouch's batch files (several changes in one file, one write): the changes
/// of a command publishing right away, in `.vouch-staging/` (older versions wrote them in
/// `changelist/`, where notary skips them as unreadable).
pub const BATCH_EXT: &str = "vouch-batch";

/// One staged change. Field order matches notary's `encoding/json` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub action: String,
    pub role: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    #[serde(with = "opt_b64", default)]
    pub data: Option<Vec<u8>>,
}

impl Change {
    /// Add (or replace) target `name` in `role`.
    pub fn add_target(role: &str, name: &str, meta: &FileMeta) -> Change {
        Change {
            action: ACTION_CREATE.into(),
            role: role.into(),
            kind: TYPE_TARGET.into(),
            path: name.into(),
            data: Some(serde_json::to_vec(meta).expect("file meta serializes")),
        }
    }

    /// Remove target `name` from `role`.
    pub fn remove_target(role: &str, name: &str) -> Change {
        Change {
            action: ACTION_DELETE.into(),
            role: role.into(),
            kind: TYPE_TARGET.into(),
            path: name.into(),
            data: None,
        }
    }

    /// What a change must hold to be applied, checked when it is read (so that `status`
    /// and `doctor` name a change that could never publish): a target to create carries
    /// its length and a sha256 or sha512 checksum.
    fn check(&self) -> Result<(), String> {
        if self.kind == TYPE_TARGET && self.action == "create" {
            let meta = self.target_meta().map_err(|e| e.to_string())?;
            crate::tuf::filemeta::check_valid_hash_structures(&meta.hashes)
                .map_err(|e| format!("target {:?}: {e}", self.path))?;
            if meta.length < 0 {
                return Err(format!("target {:?}: negative length", self.path));
            }
        }
        Ok(())
    }

    /// The target metadata of a target change.
    pub fn target_meta(&self) -> Result<FileMeta, TrustError> {
        let data = self.data.as_deref().ok_or_else(|| {
            TrustError::BadInput(format!(
                "staged change for target {:?} has no data",
                self.path
            ))
        })?;
        serde_json::from_slice(data).map_err(|e| {
            TrustError::BadInput(format!(
                "staged change for target {:?} is unreadable: {e}",
                self.path
            ))
        })
    }
}

mod opt_b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// vouch's private staging area, `tuf/<gun>/.vouch-staging/`, beside notary's changelist.
/// notary reads every file in `changelist/` (whatever its name), so nothing half-written
/// ever goes there: a batch is written here first and moved in once it is complete.
pub const STAGING_DIR: &str = ".vouch-staging";
/// A batch being written: `<nanos>-<pid>-<random>.tmp/` (incomplete: never read, removed
/// by the next command that holds the repository lock).
const BATCH_WRITING: &str = "tmp";
/// A complete batch being moved into `changelist/`: `<nanos>-<pid>-<random>.ready/`.
/// Readers count its files as staged; the next command finishes the move.
const BATCH_READY: &str = "ready";

/// The staged changes of one repository.
pub struct Changelist {
    dir: PathBuf,
    staging: PathBuf,
    /// The repository, for the advice in errors (empty when unknown).
    gun: String,
}

/// A change as stored: its file and content.
#[derive(Debug, Clone)]
pub struct StagedChange {
    pub file: PathBuf,
    pub change: Change,
    /// When it was staged (from the file name notary and vouch give it).
    pub staged_at: Option<time::OffsetDateTime>,
}

/// One entry of the changelist as found on disk, readable or not.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: PathBuf,
    /// The change, or why it cannot be read.
    pub change: Result<Change, String>,
    pub staged_at: Option<time::OffsetDateTime>,
}

/// What [`Changelist::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Complete batches whose move into `changelist/` was finished.
    pub completed_batches: usize,
    /// Incomplete batches (a command killed while writing them) removed.
    pub dropped_batches: usize,
    /// Leftover temp files of older vouch versions removed from `changelist/`.
    pub removed_temp_files: usize,
}

/// Something [`Changelist::recover`] tidies, as [`Changelist::leftovers`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub path: PathBuf,
    pub what: String,
}

impl Changelist {
    pub fn new(dir: PathBuf) -> Changelist {
        let staging = dir
            .parent()
            .map_or_else(|| PathBuf::from(STAGING_DIR), |p| p.join(STAGING_DIR));
        Changelist {
            dir,
            staging,
            gun: String::new(),
        }
    }

    /// The changelist of `local`'s repository (errors name the repository).
    pub fn for_repo(local: &super::LocalRepo) -> Changelist {
        let mut c = Changelist::new(local.changelist_dir());
        c.gun = local.gun().to_string();
        c
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every entry in application order, unreadable ones included (for `status` and
    /// `reset`). Complete batches not yet moved into `changelist/` are read first, then
    /// `changelist/`: a file moved in between is seen twice (counted once), never missed.
    pub fn entries(&self) -> Result<Vec<Entry>, TrustError> {
        let mut files: std::collections::BTreeMap<std::ffi::OsString, PathBuf> = Default::default();
        for batch in self.batches(BATCH_READY)? {
            for (name, path) in read_names(&batch)? {
                files.insert(name, path);
            }
        }
        for (name, path) in read_names(&self.staging)? {
            if Path::new(&name).extension().is_some_and(|x| x == BATCH_EXT) {
                files.insert(name, path);
            }
        }
        for (name, path) in read_names(&self.dir)? {
            let p = Path::new(&name);
            if p.extension()
                .is_some_and(|x| x == "change" || x == BATCH_EXT)
            {
                files.insert(name, path);
            }
        }
        // File names start with a zero-padded timestamp: name order is staging order.
        let mut out = Vec::with_capacity(files.len());
        for (name, file) in files {
            let staged_at = staged_at(&name, &file);
            let is_batch = Path::new(&name).extension().is_some_and(|x| x == BATCH_EXT);
            match read_entry(&file, is_batch) {
                Ok(changes) => out.extend(changes.into_iter().map(|c| Entry {
                    file: file.clone(),
                    change: Ok(c),
                    staged_at,
                })),
                Err(reason) => out.push(Entry {
                    file,
                    change: Err(reason),
                    staged_at,
                }),
            }
        }
        Ok(out)
    }

    /// All staged changes in application order. One that cannot be read stops here, with
    /// its number, its file and the command that drops it.
    pub fn list(&self) -> Result<Vec<StagedChange>, TrustError> {
        let mut out = Vec::new();
        for (number, e) in self.entries()?.into_iter().enumerate() {
            match e.change {
                Ok(change) => out.push(StagedChange {
                    file: e.file,
                    change,
                    staged_at: e.staged_at,
                }),
                Err(reason) => {
                    return Err(TrustError::UnreadableChange {
                        gun: self.gun.clone(),
                        number,
                        path: e.file,
                        reason,
                    })
                }
            }
        }
        Ok(out)
    }

    /// Stage `changes` (in order, one notary change file each), all or nothing and
    /// durably. The caller holds the repository lock.
    ///
    /// The files are written into a private batch directory (`.vouch-staging/<id>.tmp`),
    /// flushed to disk, and the batch is committed by renaming that directory to
    /// `<id>.ready`; only then are the files moved into `changelist/`. A command killed
    /// before the commit leaves nothing anybody reads (the next command removes it); one
    /// killed during the move leaves a committed batch, which vouch already counts as
    /// staged and the next vouch command finishes moving in ([`Changelist::recover`]).
    /// notary reads only `changelist/`: it can see part of a batch only in that window.
    pub fn add(&self, changes: &[Change]) -> Result<Vec<PathBuf>, TrustError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        ensure_dir(&self.dir)?;
        ensure_dir(&self.staging)?;
        let base = time::OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .max(0) as u128;
        let id = format!(
            "{base:020}-{}-{:016x}",
            std::process::id(),
            rand_core::OsRng.next_u64()
        );
        let writing = self.staging.join(format!("{id}.{BATCH_WRITING}"));
        let ready = self.staging.join(format!("{id}.{BATCH_READY}"));
        let names: Vec<String> = (0..changes.len())
            .map(|i| format!("{:020}_{}.change", base + i as u128, uuid_v4()))
            .collect();
        let write = || -> std::io::Result<()> {
            fs::create_dir(&writing)?;
            for (name, change) in names.iter().zip(changes) {
                let bytes = serde_json::to_vec(change).expect("changes serialize");
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(writing.join(name))
                    .and_then(|mut f| f.write_all(&bytes))?;
            }
            // Every file's data and name on disk before the batch counts as staged (one
            // file-system flush, not one fsync per file: thousands stay fast).
            sync_filesystem(&writing)?;
            fs::rename(&writing, &ready)?;
            fsync_dir(&self.staging)
        };
        if let Err(e) = write() {
            let _ = fs::remove_dir_all(&writing);
            return Err(local_err("cannot stage changes", &writing, e));
        }
        self.move_in(&ready)
            .map_err(|e| local_err("cannot move staged changes into", &self.dir, e))?;
        Ok(names.iter().map(|n| self.dir.join(n)).collect())
    }

    /// Stage `changes` as one batch file in `.vouch-staging/` (one write, one fsync,
    /// atomic), for a command that publishes them right away: vouch counts them as staged,
    /// so a publish cut short (even by a kill) leaves them for `vouch publish`; notary does
    /// not see them until [`Changelist::unbatch`] (or, once the command is gone,
    /// [`Changelist::recover`]) turns them into change files.
    pub fn add_batch(&self, changes: &[Change]) -> Result<PathBuf, TrustError> {
        ensure_dir(&self.staging)?;
        let base = time::OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .max(0) as u128;
        let path = self.staging.join(format!(
            "{base:020}-{}-{:016x}.{BATCH_EXT}",
            std::process::id(),
            rand_core::OsRng.next_u64()
        ));
        let bytes = serde_json::to_vec(changes).expect("changes serialize");
        crate::keystore::fsio::write_atomic(&path, &bytes)
            .map_err(|e| local_err("cannot stage changes", &path, e))?;
        Ok(path)
    }

    /// Replace a batch file by ordinary change files (same order), which notary can
    /// publish too. The caller holds the repository lock.
    pub fn unbatch(&self, batch: &Path) -> Result<Vec<PathBuf>, TrustError> {
        let Some(bytes) = read_capped(batch, 1 << 30)? else {
            return Ok(Vec::new());
        };
        let changes: Vec<Change> = serde_json::from_slice(&bytes)
            .map_err(|e| local_err("unreadable staged batch", batch, e))?;
        let files = self.add(&changes)?;
        self.remove(&[batch.to_path_buf()])?;
        Ok(files)
    }

    /// Move the files of a committed batch into `changelist/` (in name order), make that
    /// durable, and remove the batch directory.
    fn move_in(&self, ready: &Path) -> std::io::Result<()> {
        ensure_dir(&self.dir).map_err(std::io::Error::other)?;
        for (name, path) in read_names(ready).map_err(std::io::Error::other)? {
            fs::rename(&path, self.dir.join(&name))?;
        }
        sync_filesystem(&self.dir)?;
        match fs::remove_dir(ready) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Tidy what a killed command left (the caller holds the repository lock): finish
    /// moving committed batches into `changelist/`, remove batches that were never
    /// complete, and remove the temp files older vouch versions wrote inside
    /// `changelist/` (`.<name>.change.tmp`), which notary would otherwise read as staged
    /// changes. Only vouch's own names are touched.
    pub fn recover(&self) -> Result<Recovered, TrustError> {
        let mut r = Recovered::default();
        for batch in self.batches(BATCH_READY)? {
            self.move_in(&batch)
                .map_err(|e| local_err("cannot finish staging", &batch, e))?;
            r.completed_batches += 1;
        }
        // Writers hold the repository lock, as the caller does: a batch still being
        // written now belongs to a command that died.
        for batch in self.batches(BATCH_WRITING)? {
            fs::remove_dir_all(&batch)
                .map_err(|e| local_err("cannot remove incomplete batch", &batch, e))?;
            r.dropped_batches += 1;
        }
        // Batch files of commands that died before their publish ended: kept staged, as
        // change files notary can see too.
        for (name, path) in read_names(&self.staging)? {
            let name = name.to_string_lossy();
            let Some(stem) = name.strip_suffix(&format!(".{BATCH_EXT}")) else {
                continue;
            };
            if owner_gone(stem) && path.is_file() {
                self.unbatch(&path)?;
                r.completed_batches += 1;
            }
        }
        crate::keystore::fsio::remove_stale_temps(&self.staging);
        for (name, path) in read_names(&self.dir)? {
            if is_legacy_temp(&name.to_string_lossy())
                && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            {
                fs::remove_file(&path)
                    .map_err(|e| local_err("cannot remove stale temp file", &path, e))?;
                r.removed_temp_files += 1;
            }
        }
        // Temp files of cache writes killed before their rename (never read by anyone).
        if let Some(repo) = self.dir.parent() {
            crate::keystore::fsio::remove_stale_temps(&repo.join("metadata"));
        }
        Ok(r)
    }

    /// What [`Self::recover`] would tidy, without touching anything (for `doctor`), by the
    /// same rules, each with what is left: complete batches to move into `changelist/`,
    /// incomplete batches, batch files of commands that ended, stale temp files in the
    /// staging area and the cache, temp files of older versions in `changelist/`. Only
    /// meaningful while no command holds the repository lock.
    pub fn leftovers(&self) -> Result<Vec<Leftover>, TrustError> {
        let mut out = Vec::new();
        for batch in self.batches(BATCH_READY)? {
            out.push(Leftover {
                path: batch,
                what: "a complete batch of staged changes not yet moved into changelist/".into(),
            });
        }
        for batch in self.batches(BATCH_WRITING)? {
            out.push(Leftover {
                path: batch,
                what: "an incomplete batch of a command that was stopped while staging".into(),
            });
        }
        for (name, path) in read_names(&self.staging)? {
            let name = name.to_string_lossy();
            let Some(stem) = name.strip_suffix(&format!(".{BATCH_EXT}")) else {
                continue;
            };
            if owner_gone(stem) && path.is_file() {
                out.push(Leftover {
                    path,
                    what: "staged changes of a publish that was stopped (they stay staged)".into(),
                });
            }
        }
        for path in crate::keystore::fsio::stale_temps(&self.staging) {
            out.push(Leftover {
                path,
                what: "a temp file of a command that was stopped".into(),
            });
        }
        for (name, path) in read_names(&self.dir)? {
            if is_legacy_temp(&name.to_string_lossy())
                && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            {
                out.push(Leftover {
                    path,
                    what: "a temp file an older vouch left in changelist/ (notary would read it as a change)".into(),
                });
            }
        }
        if let Some(repo) = self.dir.parent() {
            for path in crate::keystore::fsio::stale_temps(&repo.join("metadata")) {
                out.push(Leftover {
                    path,
                    what: "a temp file of a cache write that was stopped".into(),
                });
            }
        }
        Ok(out)
    }

    /// The batch directories in `.vouch-staging/` with extension `ext`, in name order.
    fn batches(&self, ext: &str) -> Result<Vec<PathBuf>, TrustError> {
        Ok(read_names(&self.staging)?
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.extension().is_some_and(|x| x == ext) && p.is_dir())
            .collect())
    }

    /// Remove the given staged changes (after they were published, or by `reset`). A
    /// directory named like a change file is removed too.
    pub fn remove(&self, files: &[PathBuf]) -> Result<(), TrustError> {
        let mut seen = std::collections::BTreeSet::new();
        for f in files.iter().filter(|f| seen.insert(f.as_path())) {
            let res = match fs::symlink_metadata(f) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(f),
                Ok(_) => fs::remove_file(f),
                Err(e) => Err(e),
            };
            match res {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(local_err("cannot remove staged change", f, e)),
            }
        }
        Ok(())
    }
}

/// Whether the command that named a batch `<nanos>-<pid>-<random>` has ended.
fn owner_gone(stem: &str) -> bool {
    let Some(pid) = stem.split('-').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    pid != std::process::id() && !crate::keystore::fsio::process_alive(pid)
}

/// `.<20 digits>_<uuid>.change.tmp`: the temp name of vouch versions that wrote change
/// files inside `changelist/`.
fn is_legacy_temp(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".change.tmp"))
    else {
        return false;
    };
    let Some((nanos, uuid)) = inner.split_once('_') else {
        return false;
    };
    nanos.len() == 20
        && nanos.bytes().all(|b| b.is_ascii_digit())
        && uuid.len() == 36
        && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The entries of `dir` (none when it does not exist), by name.
fn read_names(dir: &Path) -> Result<Vec<(std::ffi::OsString, PathBuf)>, TrustError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(local_err("cannot read", dir, e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| local_err("cannot read", dir, e))?;
        out.push((e.file_name(), e.path()));
    }
    out.sort();
    Ok(out)
}

/// The change(s) in one file, or why they cannot be read.
fn read_entry(file: &Path, is_batch: bool) -> Result<Vec<Change>, String> {
    let meta = fs::metadata(file).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("a directory, not a change file".into());
    }
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let cap = if is_batch { 1 << 30 } else { 1 << 20 };
    let bytes = read_capped(file, cap)
        .map_err(|e| match e {
            TrustError::LocalState { reason, .. } => reason,
            other => other.to_string(),
        })?
        .unwrap_or_default();
    let changes: Vec<Change> = if is_batch {
        serde_json::from_slice(&bytes).map_err(|e| format!("not a vouch batch: {e}"))?
    } else {
        serde_json::from_slice(&bytes)
            .map(|c| vec![c])
            .map_err(|e| format!("not a notary change: {e}"))?
    };
    for c in &changes {
        c.check()?;
    }
    Ok(changes)
}

/// When a change was staged: the Unix-nanosecond prefix of its name, else its mtime.
fn staged_at(name: &std::ffi::OsStr, file: &Path) -> Option<time::OffsetDateTime> {
    let name = name.to_string_lossy();
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() == 20 {
        if let Ok(n) = digits.parse::<i128>() {
            if let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(n) {
                return Some(t);
            }
        }
    }
    let m = fs::symlink_metadata(file).ok()?.modified().ok()?;
    Some(time::OffsetDateTime::from(m))
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Flush the filesystem holding `dir` (file data, names and the directory) to disk.
fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = fs::File::open(dir)?;
    // SAFETY: `d` is an open file descriptor for the duration of the call.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Decode a notary `data` field for display.
pub fn describe_data(change: &Change) -> String {
    match &change.data {
        Some(d) => base64::engine::general_purpose::STANDARD.encode(d),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_serializes_in_notary_field_order() {
        let meta = FileMeta::from_bytes(b"hello\n", &["sha256"]).unwrap();
        let c = Change::add_target("targets", "v1", &meta);
        let s = String::from_utf8(serde_json::to_vec(&c).unwrap()).unwrap();
        assert!(
            s.starts_with(
                r#"{"action":"create","role":"targets","type":"target","path":"v1","data":""#
            ),
            "{s}"
        );
        let back: Change = serde_json::from_str(&s).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.target_meta().unwrap().length, 6);
        let d = serde_json::to_string(&Change::remove_target("targets", "v1")).unwrap();
        assert!(d.ends_with(r#""path":"v1","data":null}"#), "{d}");
    }

    #[test]
    fn reads_notary_fixture_changes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/notary-fixtures/notary0.3/tuf/docker.com/notary0.3/tst/changelist");
        let list = Changelist::new(dir).list().unwrap();
        assert_eq!(list.len(), 2);
        for c in &list {
            assert_eq!(c.change.kind, TYPE_TARGET);
            assert!(c.change.target_meta().unwrap().length > 0);
        }
    }

    #[test]
    fn staged_files_apply_in_order() {
        let d = tempfile::tempdir().unwrap();
        let cl = Changelist::new(d.path().join("changelist"));
        let meta = FileMeta::from_bytes(b"x", &["sha256"]).unwrap();
        cl.add(&[
            Change::add_target("targets", "a", &meta),
            Change::remove_target("targets", "a"),
        ])
        .unwrap();
        let l = cl.list().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].change.action, ACTION_CREATE);
        assert_eq!(l[1].change.action, ACTION_DELETE);
        cl.remove(&[l[0].file.clone()]).unwrap();
        assert_eq!(cl.list().unwrap().len(), 1);
    }

    fn meta() -> FileMeta {
        FileMeta::from_bytes(b"x", &["sha256"]).unwrap()
    }

    #[test]
    fn a_committed_batch_counts_whole_and_recover_finishes_moving_it_in() {
        let d = tempfile::tempdir().unwrap();
        let cl = Changelist::new(d.path().join("changelist"));
        let changes: Vec<Change> = (0..5)
            .map(|i| Change::add_target("targets", &format!("t{i}"), &meta()))
            .collect();
        cl.add(&changes).unwrap();
        // Put it back as a kill during the move would have left it: two files moved in,
        // three still in the committed batch.
        let ready = d.path().join(STAGING_DIR).join("0-1-0.ready");
        fs::create_dir_all(&ready).unwrap();
        let files = cl.list().unwrap();
        for s in &files[2..] {
            fs::rename(&s.file, ready.join(s.file.file_name().unwrap())).unwrap();
        }
        let paths = |l: Vec<StagedChange>| l.into_iter().map(|s| s.change.path).collect::<Vec<_>>();
        assert_eq!(paths(cl.list().unwrap()), ["t0", "t1", "t2", "t3", "t4"]);
        let left: Vec<PathBuf> = cl
            .leftovers()
            .unwrap()
            .into_iter()
            .map(|l| l.path)
            .collect();
        assert_eq!(left, std::slice::from_ref(&ready));
        let r = cl.recover().unwrap();
        assert_eq!(r.completed_batches, 1);
        assert!(!ready.exists());
        assert!(cl.leftovers().unwrap().is_empty());
        assert_eq!(fs::read_dir(cl.dir()).unwrap().count(), 5);
        assert_eq!(paths(cl.list().unwrap()), ["t0", "t1", "t2", "t3", "t4"]);
    }

    #[test]
    fn an_incomplete_batch_counts_as_nothing_and_recover_removes_it() {
        let d = tempfile::tempdir().unwrap();
        let cl = Changelist::new(d.path().join("changelist"));
        let writing = d.path().join(STAGING_DIR).join("0-1-0.tmp");
        fs::create_dir_all(&writing).unwrap();
        let c = serde_json::to_vec(&Change::remove_target("targets", "x")).unwrap();
        fs::write(writing.join("00000000000000000001_a.change"), c).unwrap();
        assert!(cl.list().unwrap().is_empty());
        assert_eq!(cl.leftovers().unwrap()[0].path, writing);
        assert_eq!(cl.recover().unwrap().dropped_batches, 1);
        assert!(!writing.exists());
        assert!(cl.leftovers().unwrap().is_empty());
    }

    #[test]
    fn recover_removes_only_vouchs_old_temp_names_from_the_changelist() {
        let d = tempfile::tempdir().unwrap();
        let cl = Changelist::new(d.path().join("changelist"));
        fs::create_dir_all(cl.dir()).unwrap();
        let old = cl
            .dir()
            .join(".01796043473550426939_94f6ac6a-0db8-46ba-83c5-84b79cc4ec6c.change.tmp");
        let other = cl.dir().join(".someone-elses.change.tmp");
        fs::write(&old, b"{}").unwrap();
        fs::write(&other, b"{}").unwrap();
        let left: Vec<PathBuf> = cl
            .leftovers()
            .unwrap()
            .into_iter()
            .map(|l| l.path)
            .collect();
        assert_eq!(left, std::slice::from_ref(&old));
        assert_eq!(cl.recover().unwrap().removed_temp_files, 1);
        assert!(!old.exists() && other.exists());
    }

    #[test]
    fn unreadable_entries_are_listed_and_named_by_number() {
        let d = tempfile::tempdir().unwrap();
        let cl = Changelist::new(d.path().join("changelist"));
        cl.add(&[Change::add_target("targets", "a", &meta())])
            .unwrap();
        let bad = cl.dir().join("99999999999999999999_b.change");
        fs::write(&bad, b"\xff\x00").unwrap();
        let entries = cl.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[1].change.is_err());
        match cl.list() {
            Err(TrustError::UnreadableChange { number, path, .. }) => {
                assert_eq!(number, 1);
                assert_eq!(path, bad);
            }
            other => panic!("{other:?}"),
        }
        cl.remove(&[bad]).unwrap();
        assert_eq!(cl.list().unwrap().len(), 1);
    }
}
