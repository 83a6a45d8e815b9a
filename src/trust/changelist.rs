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
/// Extension of vouch's batch files (several changes in one file; notary ignores them).
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

/// The staged changes of one repository.
pub struct Changelist {
    dir: PathBuf,
}

/// A change as stored: its file and content.
#[derive(Debug, Clone)]
pub struct StagedChange {
    pub file: PathBuf,
    pub change: Change,
}

impl Changelist {
    pub fn new(dir: PathBuf) -> Changelist {
        Changelist { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All staged changes in application order.
    pub fn list(&self) -> Result<Vec<StagedChange>, TrustError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(local_err("cannot read changelist", &self.dir, e)),
        };
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "change" || x == BATCH_EXT)
                    && p.is_file()
            })
            .collect();
        // File names start with a zero-padded timestamp: name order is staging order.
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for file in files {
            if file.extension().is_some_and(|x| x == BATCH_EXT) {
                let bytes = read_capped(&file, 1 << 30)?.unwrap_or_default();
                let changes: Vec<Change> = serde_json::from_slice(&bytes)
                    .map_err(|e| local_err("unreadable staged batch", &file, e))?;
                out.extend(changes.into_iter().map(|change| StagedChange {
                    file: file.clone(),
                    change,
                }));
                continue;
            }
            let bytes = read_capped(&file, 1 << 20)?.unwrap_or_default();
            let change: Change = serde_json::from_slice(&bytes)
                .map_err(|e| local_err("unreadable staged change", &file, e))?;
            out.push(StagedChange { file, change });
        }
        Ok(out)
    }

    /// Stage `changes` as one batch file (one write, one fsync), for a command that
    /// publishes them right away. vouch applies batches like other staged changes; notary
    /// does not read them, so a batch left by a failed publish is turned into ordinary
    /// change files with [`Changelist::unbatch`].
    pub fn add_batch(&self, changes: &[Change]) -> Result<PathBuf, TrustError> {
        ensure_dir(&self.dir)?;
        let base = time::OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .max(0) as u128;
        let path = self
            .dir
            .join(format!("{base:020}_{}.{BATCH_EXT}", uuid_v4()));
        let bytes = serde_json::to_vec(changes).expect("changes serialize");
        crate::keystore::fsio::write_atomic(&path, &bytes)
            .map_err(|e| local_err("cannot stage changes", &path, e))?;
        Ok(path)
    }

    /// Replace a batch file by one notary change file per change (same order).
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

    /// Stage `changes` (written in order, one file each). Each file appears atomically
    /// (temp file + rename); the whole batch is then made durable with one filesystem sync
    /// instead of one fsync per file, so staging thousands of changes stays fast.
    pub fn add(&self, changes: &[Change]) -> Result<Vec<PathBuf>, TrustError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        ensure_dir(&self.dir)?;
        let mut written: Vec<PathBuf> = Vec::with_capacity(changes.len());
        let base = time::OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .max(0) as u128;
        let undo = |written: &[PathBuf]| {
            for p in written {
                let _ = fs::remove_file(p);
            }
        };
        for (i, change) in changes.iter().enumerate() {
            let name = format!("{:020}_{}.change", base + i as u128, uuid_v4());
            let path = self.dir.join(&name);
            let tmp = self.dir.join(format!(".{name}.tmp"));
            let bytes = serde_json::to_vec(change).expect("changes serialize");
            let res = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| f.write_all(&bytes))
                .and_then(|_| fs::rename(&tmp, &path));
            if let Err(e) = res {
                let _ = fs::remove_file(&tmp);
                // Staging is all or nothing.
                undo(&written);
                return Err(local_err("cannot stage change", &path, e));
            }
            written.push(path);
        }
        if let Err(e) = sync_filesystem(&self.dir) {
            undo(&written);
            return Err(local_err("cannot sync staged changes", &self.dir, e));
        }
        Ok(written)
    }

    /// Remove the given staged changes (after they were published).
    pub fn remove(&self, files: &[PathBuf]) -> Result<(), TrustError> {
        let mut seen = std::collections::BTreeSet::new();
        for f in files.iter().filter(|f| seen.insert(f.as_path())) {
            match fs::remove_file(f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(local_err("cannot remove staged change", f, e)),
            }
        }
        Ok(())
    }
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
}
