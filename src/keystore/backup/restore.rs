//! Restoring a backup into a key store.

use super::*;

/// What happened (or would happen) to one key of a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// Written (or, when planning, would be written).
    Restored,
    /// The store already has this exact file.
    AlreadyPresent,
    /// The store has a different file for this key ID: refused.
    Conflict { existing: PathBuf },
}

/// What happened to a repository's root.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootOutcome {
    Restored,
    AlreadyPresent,
    /// The cache has another root.json for this GUN (likely newer): left as it is.
    KeptExisting,
    /// Not asked for: cached trust data is restored only on request
    /// ([`KeyStore::restore_archive`] with `trust_data`), as a root.json is a trust anchor.
    NotRequested,
}

#[derive(Debug, Clone)]
pub struct RestoredKey {
    pub id: KeyId,
    pub role: String,
    pub gun: Option<String>,
    pub path: PathBuf,
    pub outcome: RestoreOutcome,
}

#[derive(Debug, Clone)]
pub struct RestoredRoot {
    pub gun: String,
    pub path: PathBuf,
    pub outcome: RootOutcome,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    pub keys: Vec<RestoredKey>,
    pub roots: Vec<RestoredRoot>,
}

impl KeyStore {
    /// What [`Self::restore_archive`] would do, without writing anything.
    pub fn plan_restore(&self, archive: &Archive, trust_data: bool) -> Result<RestoreReport> {
        let mut report = RestoreReport::default();
        for k in &archive.keys {
            let existing = self.locations(&k.id)?;
            let mut outcome = RestoreOutcome::Restored;
            let mut path = self.private_dir().join(&k.path);
            for loc in &existing {
                let bytes = fsio::read_key_file(&loc.path)?;
                if *bytes == *k.file {
                    outcome = RestoreOutcome::AlreadyPresent;
                    path = loc.path.clone();
                    break;
                }
            }
            if outcome == RestoreOutcome::Restored {
                if let Some(loc) = existing.first() {
                    outcome = RestoreOutcome::Conflict {
                        existing: loc.path.clone(),
                    };
                    path = loc.path.clone();
                } else if path.exists() {
                    // A file at the target path that the store does not see as this key.
                    outcome = RestoreOutcome::Conflict {
                        existing: path.clone(),
                    };
                }
            }
            report.keys.push(RestoredKey {
                id: k.id.clone(),
                role: k.role.clone(),
                gun: k.gun.clone(),
                path,
                outcome,
            });
        }
        for r in &archive.roots {
            let path = self.root_json_path(&r.gun);
            let outcome = match std::fs::read(&path) {
                Ok(b) if b == r.root_json => RootOutcome::AlreadyPresent,
                _ if !trust_data => RootOutcome::NotRequested,
                Ok(_) => RootOutcome::KeptExisting,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => RootOutcome::Restored,
                Err(e) => return Err(KeystoreError::io("read", &path, e)),
            };
            report.roots.push(RestoredRoot {
                gun: r.gun.clone(),
                path,
                outcome,
            });
        }
        Ok(report)
    }

    /// Write the archive's keys (byte for byte, where they were) and, with `trust_data`,
    /// any missing cached root.json (without it, those are reported as
    /// [`RootOutcome::NotRequested`]: a cached root.json is what later commands trust a
    /// repository by, so it is installed only when asked for). All or nothing for keys: if
    /// any key ID is already in the store as a different file, nothing is written and the
    /// error names those files.
    pub fn restore_archive(&self, archive: &Archive, trust_data: bool) -> Result<RestoreReport> {
        self.restore_archive_with(archive, trust_data, &mut || {})
    }

    /// [`Self::restore_archive`], calling `on_key` once per key of the archive as it is
    /// dealt with (for a progress display).
    pub fn restore_archive_with(
        &self,
        archive: &Archive,
        trust_data: bool,
        on_key: &mut dyn FnMut(),
    ) -> Result<RestoreReport> {
        let _lock = self.write_lock()?;
        let report = self.plan_restore(archive, trust_data)?;
        let conflicts: Vec<(String, PathBuf)> = report
            .keys
            .iter()
            .filter_map(|k| match &k.outcome {
                RestoreOutcome::Conflict { existing } => Some((k.id.to_string(), existing.clone())),
                _ => None,
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(BackupError::Conflict { conflicts }.into());
        }
        for (k, r) in archive.keys.iter().zip(&report.keys) {
            if r.outcome == RestoreOutcome::Restored {
                if let Some(dir) = r.path.parent() {
                    fsio::ensure_private_dir(dir)?;
                }
                fsio::write_atomic(&r.path, &k.file)?;
            }
            on_key();
        }
        for (a, r) in archive.roots.iter().zip(&report.roots) {
            if r.outcome == RootOutcome::Restored {
                if let Some(dir) = r.path.parent() {
                    fsio::ensure_private_dir(dir)?;
                }
                fsio::write_atomic(&r.path, &a.root_json)?;
            }
        }
        Ok(report)
    }

    pub(super) fn root_json_path(&self, gun: &str) -> PathBuf {
        let mut p = self.trust_dir().join("tuf");
        for seg in gun.split('/') {
            p.push(seg);
        }
        p.join("metadata").join("root.json")
    }
}
