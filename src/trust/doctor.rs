//! `vouch doctor`: look over a trust directory for what a failed or killed command may have
//! left, and for what is wrong with it otherwise, and repair what is safe to repair.
//!
//! [`examine`] reads only, unless asked to fix: key files (they parse, their names match
//! the keys they hold as far as that can be known without a passphrase, 0600 in a 0700
//! directory), temp files of writes that were stopped, a committed cache update whose
//! renames were cut short, staging leftovers, each cached repository's metadata (verified
//! as a command reading it would), staged changes that cannot be read, keys that no cached
//! repository lists, and locks held by running commands.
//!
//! Repairs reuse what the commands themselves do when they next run (the key store's and
//! the changelist's clean-up, finishing a pending cache set): never a rule of their own.
//! Staged changes and keys are the user's and are never removed; a cache that fails
//! verification is reported, never replaced.

use crate::crypto::CanonicalKeyId as _;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::keystore::{self, fsio};
use crate::remote::Gun;

use super::anchor::TrustPolicy;
use super::changelist::Changelist;
use super::local::LocalRepo;
use super::state::{LoadPolicy, RepoState};
use super::TrustError;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A key file that cannot be read or parsed.
    BadKeyFile,
    /// A key file whose name is not the ID of the key it holds.
    KeyIdMismatch,
    /// A key file or key directory readable by others.
    Permissions,
    /// A key file's temp copy left by a stopped write.
    StaleKeyTemp,
    /// A temp file of a cache write that was stopped.
    StaleCacheTemp,
    /// A committed cache update whose renames were cut short.
    PendingSet,
    /// Staging leftovers of a stopped command.
    StagingLeftover,
    /// A cached repository that fails verification.
    CacheInvalid,
    /// A cached repository with no record of how its root was anchored.
    NotAnchored,
    /// An anchor record or root history file that cannot be read.
    CorruptRecord,
    /// A staged change that cannot be read.
    UnreadableChange,
    /// A key that no role of any cached repository lists.
    OrphanKey,
    /// A lock held by a running command.
    LockHeld,
}

impl Kind {
    /// The name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BadKeyFile => "bad-key-file",
            Kind::KeyIdMismatch => "key-id-mismatch",
            Kind::Permissions => "permissions",
            Kind::StaleKeyTemp => "stale-key-temp",
            Kind::StaleCacheTemp => "stale-cache-temp",
            Kind::PendingSet => "pending-cache-set",
            Kind::StagingLeftover => "staging-leftover",
            Kind::CacheInvalid => "cache-invalid",
            Kind::NotAnchored => "not-anchored",
            Kind::CorruptRecord => "corrupt-record",
            Kind::UnreadableChange => "unreadable-change",
            Kind::OrphanKey => "orphan-key",
            Kind::LockHeld => "lock-held",
        }
    }

    /// Whether this is a problem (counted in the exit code) or only worth knowing.
    pub fn is_problem(self) -> bool {
        !matches!(self, Kind::NotAnchored | Kind::OrphanKey | Kind::LockHeld)
    }
}

/// One thing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The repository concerned, if one is.
    pub gun: Option<String>,
    /// What is wrong.
    pub detail: String,
    /// What `--fix` does about it, or what to do (when `fixable` is false).
    pub fix: String,
    /// For what `--fix` leaves alone: the way out, as a value (the command line names the
    /// command that does it).
    pub remedy: Option<Remedy>,
    /// `--fix` repairs it.
    pub fixable: bool,
    /// It was repaired (only with `fix`).
    pub fixed: bool,
}

/// What to do about a finding that `--fix` does not repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// Import the key file again (it is stored under its own key ID).
    ImportAgain { stored_as: String },
    /// Restore the key from a backup, if it is needed.
    RestoreFromBackup,
    /// Register a key on a PKCS#11 token again (its reference is damaged).
    RegisterTokenKey,
    /// Look at the repository; drop the cache if it alone is bad.
    ReviewRepository { gun: String },
    /// Pin the repository's root keys, or accept the cache with consent.
    Anchor { gun: String },
    /// Drop one staged change.
    DropChange { gun: String, number: usize },
    /// Back up, then remove a key.
    RemoveKey { id: String },
}

/// What to examine and whether to repair.
pub struct Options<'a> {
    /// Only this repository (its cache, staged changes, temp files and keys).
    pub gun: Option<&'a Gun>,
    /// Repair what is safe to repair.
    pub fix: bool,
    pub clock: &'a dyn Clock,
}

/// What [`examine`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// The cached repositories examined.
    pub repositories: Vec<String>,
    /// How many key files were examined.
    pub key_files: usize,
}

impl Report {
    /// Problems not repaired.
    pub fn unresolved(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.kind.is_problem() && !f.fixed)
            .count()
    }
}

/// Examine `trust_dir` (and, with `opts.fix`, repair what is safe to repair).
pub fn examine(trust_dir: &Path, opts: &Options<'_>) -> Result<Report, TrustError> {
    let meta = std::fs::metadata(trust_dir)
        .map_err(|e| super::local::local_err("cannot read the trust dir", trust_dir, e))?;
    if !meta.is_dir() {
        return Err(TrustError::LocalState {
            what: "trust dir".into(),
            path: trust_dir.to_path_buf(),
            reason: "not a directory".into(),
            io: Some(std::io::ErrorKind::NotADirectory),
        });
    }
    let mut report = Report::default();
    let private_dir = trust_dir.join("private");
    let gun_filter = opts.gun.map(|g| g.as_str().to_owned());

    // Directory permissions.
    for dir in [trust_dir, private_dir.as_path()] {
        if let Some(mode) = mode_of(dir) {
            if mode & 0o077 != 0 {
                report.findings.push(Finding {
                    kind: Kind::Permissions,
                    path: dir.to_path_buf(),
                    gun: None,
                    detail: format!("directory mode {mode:04o}: others may read it (0700 wanted)"),
                    fix: "set its mode to 0700".into(),
                    remedy: None,
                    fixable: true,
                    fixed: false,
                });
            }
        }
    }

    // Key files.
    let mut keys: Vec<keystore::KeyInfo> = Vec::new();
    if private_dir.is_dir() {
        let files = fsio::walk_key_files(&private_dir).map_err(|e| {
            super::local::local_err("cannot list the key files in", &private_dir, e)
        })?;
        for path in files {
            report.key_files += 1;
            match keystore::inspect_file(&private_dir, &path) {
                Ok((info, actual)) => {
                    if gun_filter.is_some() && info.gun != gun_filter {
                        continue;
                    }
                    if let Some(actual) = actual.filter(|a| *a != info.id) {
                        report.findings.push(Finding {
                            kind: Kind::KeyIdMismatch,
                            path: path.clone(),
                            gun: info.gun.clone(),
                            detail: format!(
                                "the file is named for key {} but holds key {actual}",
                                info.id
                            ),
                            fix: format!(
                                "move the file out of the trust dir and import it again (it is stored as {actual}.key)"
                            ),
                            remedy: Some(Remedy::ImportAgain {
                                stored_as: format!("{actual}.key"),
                            }),
                            fixable: false,
                            fixed: false,
                        });
                    } else {
                        keys.push(info.clone());
                    }
                    if let Some(mode) = mode_of(&path).filter(|m| m & 0o077 != 0) {
                        report.findings.push(Finding {
                            kind: Kind::Permissions,
                            path: path.clone(),
                            gun: info.gun.clone(),
                            detail: format!(
                                "key file mode {mode:04o}: others may read it (0600 wanted)"
                            ),
                            fix: "set its mode to 0600".into(),
                            remedy: None,
                            fixable: true,
                            fixed: false,
                        });
                    }
                }
                Err(e) => {
                    if gun_filter.is_some() {
                        // Whose key it is cannot be told: reported only for the whole dir.
                        continue;
                    }
                    report.findings.push(Finding {
                        kind: Kind::BadKeyFile,
                        path: path.clone(),
                        gun: None,
                        detail: e.to_string(),
                        fix: "move it out of the trust dir; restore the key from a backup if it is needed".into(),
                        remedy: Some(Remedy::RestoreFromBackup),
                        fixable: false,
                        fixed: false,
                    });
                }
            }
        }
        // References to keys on a PKCS#11 token (no secret in them).
        for (path, read) in keystore::inspect_token_refs(&private_dir) {
            report.key_files += 1;
            match read {
                Ok(info) => {
                    if gun_filter.is_none() || info.gun == gun_filter {
                        keys.push(info);
                    }
                }
                Err(e) if gun_filter.is_none() => report.findings.push(Finding {
                    kind: Kind::BadKeyFile,
                    path,
                    gun: None,
                    detail: e.to_string(),
                    fix:
                        "move it out of the trust dir; register the token key again if it is needed"
                            .into(),
                    remedy: Some(Remedy::RegisterTokenKey),
                    fixable: false,
                    fixed: false,
                }),
                Err(_) => {}
            }
        }
        if gun_filter.is_none() {
            for path in fsio::stale_temps(&private_dir) {
                report.findings.push(Finding {
                    kind: Kind::StaleKeyTemp,
                    path,
                    gun: None,
                    detail: "temp copy of a key file left by a command that was stopped before it renamed it into place".into(),
                    fix: "remove it (the key file itself is whole)".into(),
                    remedy: None,
                    fixable: true,
                    fixed: false,
                });
            }
        }
    }

    // Locks held by running commands.
    let held = held_locks(trust_dir);
    for (path, gun, holder) in &held {
        if gun_filter.is_some() && *gun != gun_filter {
            continue;
        }
        report.findings.push(Finding {
            kind: Kind::LockHeld,
            path: path.clone(),
            gun: gun.clone(),
            detail: format!(
                "held by {holder}{}",
                if gun.is_some() {
                    "; its temp and staging files were not examined while it works"
                } else {
                    ""
                }
            ),
            fix: "nothing: it is released when that command ends".into(),
            remedy: None,
            fixable: false,
            fixed: false,
        });
    }
    let busy: BTreeSet<String> = held.into_iter().filter_map(|(_, g, _)| g).collect();

    // Repositories.
    let mut known_ids: BTreeSet<String> = BTreeSet::new();
    let mut all_loaded = true;
    let mut loaded_guns: BTreeSet<String> = BTreeSet::new();
    for gun in cached_repositories(&trust_dir.join("tuf")) {
        if gun_filter.as_ref().is_some_and(|g| *g != gun.as_str()) {
            continue;
        }
        report.repositories.push(gun.to_string());
        let local = LocalRepo::new(trust_dir, &gun);
        let g = Some(gun.to_string());
        let mut lock = None;
        let mut is_busy = busy.contains(gun.as_str());
        if opts.fix && !is_busy {
            lock = local.try_lock()?;
            is_busy = lock.is_none();
        }
        let mut pending = None;
        if !is_busy {
            if let Some(p) = local.pending_set_path() {
                pending = Some(report.findings.len());
                report.findings.push(Finding {
                    kind: Kind::PendingSet,
                    path: p,
                    gun: g.clone(),
                    detail: "a cache update was committed but its files were not all renamed into place (the next command reading the cache finishes it)".into(),
                    fix: "finish it now".into(),
                    remedy: None,
                    fixable: true,
                    fixed: false,
                });
            }
            for path in local
                .stale_set_temps()
                .into_iter()
                .chain(local.stale_record_temps())
            {
                report.findings.push(Finding {
                    kind: Kind::StaleCacheTemp,
                    path,
                    gun: g.clone(),
                    detail: "temp file of a cache update that was stopped before it was committed"
                        .into(),
                    fix: "remove it (the cache is as before that update)".into(),
                    remedy: None,
                    fixable: true,
                    fixed: false,
                });
            }
            let changelist = Changelist::for_repo(&local);
            for left in changelist.leftovers()? {
                let cache_temp = left.path.starts_with(local.metadata_dir());
                report.findings.push(Finding {
                    kind: if cache_temp {
                        Kind::StaleCacheTemp
                    } else {
                        Kind::StagingLeftover
                    },
                    path: left.path,
                    gun: g.clone(),
                    detail: left.what,
                    fix: if cache_temp {
                        "remove it".into()
                    } else {
                        "tidy it as the next staging command would (complete changes stay staged)"
                            .into()
                    },
                    remedy: None,
                    fixable: true,
                    fixed: false,
                });
            }
            if opts.fix {
                local.finish_pending_set();
                local.remove_stale_set_temps()?;
                for p in local.stale_record_temps() {
                    let _ = std::fs::remove_file(p);
                }
                changelist.recover()?;
            }
        }

        // The cache, verified as a reader would (any root trusted: this checks the
        // cache's consistency, not whom to trust).
        let cache_readable = !is_busy && (opts.fix || pending.is_none());
        if cache_readable && local.cached_path("root").exists() {
            let trust = TrustPolicy::tofu();
            let policy = LoadPolicy {
                clock: opts.clock,
                check_expiry: false,
                trust: &trust,
            };
            match RepoState::from_cache(&local, policy) {
                Ok(_) => {}
                // Reported as its own finding below.
                Err(crate::Error::Trust(TrustError::CorruptRecord { .. })) => {}
                Err(e) => {
                    let path = match &e {
                        crate::Error::Trust(TrustError::Verification { role, .. }) => {
                            local.cached_path(role)
                        }
                        crate::Error::Trust(TrustError::LocalState { path, .. }) => path.clone(),
                        _ => local.metadata_dir(),
                    };
                    report.findings.push(Finding {
                        kind: Kind::CacheInvalid,
                        path,
                        gun: g.clone(),
                        detail: e.to_string(),
                        fix: "do not deploy from it; look at the repository, and if the cache alone is bad, drop it after publishing or resetting staged changes".into(),
                        remedy: Some(Remedy::ReviewRepository { gun: gun.to_string() }),
                        fixable: false,
                        fixed: false,
                    });
                }
            }
            let record = match local.anchor_record() {
                Ok(r) => r.is_some(),
                Err(TrustError::CorruptRecord { path, reason, .. }) => {
                    let fixed = opts.fix && local.remove_anchor_record().is_ok();
                    report.findings.push(Finding {
                        kind: Kind::CorruptRecord,
                        path,
                        gun: g.clone(),
                        detail: format!("the anchor record is corrupt: {reason}"),
                        fix: "remove it: the cache is then anchored by nothing until it is pinned or accepted again".into(),
                        remedy: None,
                        fixable: true,
                        fixed,
                    });
                    true
                }
                Err(e) => return Err(e),
            };
            let now = opts.clock.now();
            let bad_history = local.history_files().into_iter().filter(|(v, path)| {
                // A root of the version its name says, signed by its own root keys.
                let whole = local.read_history_file(path).and_then(|b| {
                    super::anchor::roots::trust_cached_root(gun.as_str(), &b, now).ok()
                });
                whole.is_none_or(|r| r.role().version != *v)
            });
            for (_, path) in bad_history {
                let fixed = opts.fix && std::fs::remove_file(&path).is_ok();
                report.findings.push(Finding {
                    kind: Kind::CorruptRecord,
                    path,
                    gun: g.clone(),
                    detail: "a root history file that is not the root version its name says".into(),
                    fix:
                        "remove it (the history is filled again from the server as roots are read)"
                            .into(),
                    remedy: None,
                    fixable: true,
                    fixed,
                });
            }
            if !record {
                report.findings.push(Finding {
                    kind: Kind::NotAnchored,
                    path: local.metadata_dir(),
                    gun: g.clone(),
                    detail: "no record of how the cached root was anchored (written by notary, docker trust or an older vouch)".into(),
                    fix: "not anchored: pin its root keys, or accept it with --tofu".into(),
                    remedy: Some(Remedy::Anchor { gun: gun.to_string() }),
                    fixable: false,
                    fixed: false,
                });
            }
        }
        if listed_key_ids(&local, &mut known_ids) {
            loaded_guns.insert(gun.to_string());
        } else {
            all_loaded = false;
        }

        // Staged changes.
        if !is_busy {
            for (number, entry) in Changelist::for_repo(&local)
                .entries()?
                .into_iter()
                .enumerate()
            {
                if let Err(reason) = entry.change {
                    report.findings.push(Finding {
                        kind: Kind::UnreadableChange,
                        path: entry.file,
                        gun: g.clone(),
                        detail: format!("staged change #{number} cannot be read: {reason}"),
                        fix: "look at it, then drop it (staged work is never dropped by --fix)"
                            .into(),
                        remedy: Some(Remedy::DropChange {
                            gun: gun.to_string(),
                            number,
                        }),
                        fixable: false,
                        fixed: false,
                    });
                }
            }
        }
        drop(lock);
    }

    // Keys no cached repository lists.
    for info in &keys {
        let in_scope = if gun_filter.is_some() || all_loaded {
            true
        } else {
            info.gun.as_ref().is_some_and(|g| loaded_guns.contains(g))
        };
        if !in_scope || known_ids.contains(info.id.as_str()) {
            continue;
        }
        report.findings.push(Finding {
            kind: Kind::OrphanKey,
            path: info.path.clone(),
            gun: info.gun.clone(),
            detail: format!(
                "key {} ({}) is listed by no role of any cached repository",
                info.id,
                if info.role.is_empty() {
                    "no role"
                } else {
                    &info.role
                }
            ),
            fix: "back up the key, then remove it".into(),
            remedy: Some(Remedy::RemoveKey {
                id: info.id.to_string(),
            }),
            fixable: false,
            fixed: false,
        });
    }

    if opts.fix {
        // Modes are set here; everything else was repaired above or is removed now by the
        // key store's own rule, and counts as repaired when its file is gone.
        if gun_filter.is_none() && private_dir.is_dir() {
            fsio::remove_stale_temps(&private_dir);
        }
        for f in report.findings.iter_mut().filter(|f| f.fixable) {
            f.fixed = if f.kind == Kind::Permissions {
                let mode = if f.path.is_dir() { 0o700 } else { 0o600 };
                fsio::set_mode(&f.path, mode).is_ok()
            } else {
                std::fs::symlink_metadata(&f.path).is_err()
            };
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Ok(report)
}

fn mode_of(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Every key ID (as listed, and canonical) that a role of the cached repository lists:
/// its root's roles and every cached targets file's delegations. Read as they are, not
/// verified (a tampered cache is reported on its own; this only tells which keys are in
/// use, and nothing is removed on its word). `false` when there is no readable root.
fn listed_key_ids(local: &LocalRepo, out: &mut BTreeSet<String>) -> bool {
    const CAP: u64 = 100 << 20;
    let read = |path: &Path| -> Option<serde_json::Value> {
        use std::io::Read as _;
        let mut buf = Vec::new();
        std::fs::File::open(path)
            .ok()?
            .take(CAP)
            .read_to_end(&mut buf)
            .ok()?;
        serde_json::from_slice(&buf).ok()
    };
    let mut add = |keys: &serde_json::Value, ids: &serde_json::Value| {
        for id in ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_str())
        {
            out.insert(id.to_owned());
            let canonical = keys
                .get(id)
                .and_then(|k| serde_json::from_value::<crate::tuf::PublicKey>(k.clone()).ok())
                .and_then(|k| k.canonical_key_id().ok());
            if let Some(c) = canonical {
                out.insert(c.to_string());
            }
        }
    };
    let Some(root) = read(&local.cached_path("root")) else {
        return false;
    };
    let signed = &root["signed"];
    for role in signed["roles"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        add(&signed["keys"], &role["keyids"]);
    }
    let meta = local.metadata_dir();
    let mut files = vec![meta.join("targets.json")];
    let mut stack = vec![(meta.join("targets"), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 32 => stack.push((p, depth + 1)),
                Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "json") => files.push(p),
                _ => {}
            }
        }
    }
    for f in files {
        if let Some(t) = read(&f) {
            let d = &t["signed"]["delegations"];
            for role in d["roles"].as_array().into_iter().flatten() {
                add(&d["keys"], &role["keyids"]);
            }
        }
    }
    true
}

/// The repositories with local state under `tuf/`: directories with a `metadata/`,
/// `changelist/` or staging directory, by GUN.
fn cached_repositories(tuf: &Path) -> Vec<Gun> {
    let mut out = Vec::new();
    let mut stack = vec![(tuf.to_path_buf(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut is_repo = false;
        let mut subdirs = Vec::new();
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name();
            match name.to_str() {
                Some("metadata" | "changelist" | super::changelist::STAGING_DIR) => is_repo = true,
                Some(n) if n.starts_with('@') || n.starts_with('.') => {}
                _ => subdirs.push(entry.path()),
            }
        }
        if is_repo {
            let rel = dir.strip_prefix(tuf).unwrap_or(&dir).to_string_lossy();
            if let Ok(gun) = Gun::parse(&rel) {
                out.push(gun);
            }
            continue;
        }
        if depth < 16 {
            stack.extend(subdirs.into_iter().map(|p| (p, depth + 1)));
        }
    }
    out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    out
}

/// Locks held by running commands: the key store's `.vouch.lock` and every
/// `locks/<gun>/@lock`, with the GUN and who holds it.
fn held_locks(trust_dir: &Path) -> Vec<(PathBuf, Option<String>, String)> {
    let mut out = Vec::new();
    let store_lock = trust_dir.join(keystore::LOCK_FILE);
    if let Some(holder) = fsio::lock_held_by(&store_lock) {
        out.push((store_lock, None, holder));
    }
    let locks = trust_dir.join("locks");
    let mut stack = vec![(locks.clone(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if ft.is_dir() && depth < 16 {
                stack.push((path, depth + 1));
            } else if ft.is_file() {
                if let Some(holder) = fsio::lock_held_by(&path) {
                    let gun = (entry.file_name() == "@lock")
                        .then(|| dir.strip_prefix(&locks).ok())
                        .flatten()
                        .map(|g| g.to_string_lossy().into_owned());
                    out.push((path, gun, holder));
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_found_at_any_depth_and_vouch_dirs_are_not_repositories() {
        let d = tempfile::tempdir().unwrap();
        let tuf = d.path().join("tuf");
        std::fs::create_dir_all(tuf.join("example.com/a/metadata")).unwrap();
        std::fs::create_dir_all(tuf.join("example.com/a/@vouch/roots")).unwrap();
        std::fs::create_dir_all(tuf.join("example.com/team/b/changelist")).unwrap();
        std::fs::create_dir_all(tuf.join("example.com/empty")).unwrap();
        let guns: Vec<String> = cached_repositories(&tuf)
            .into_iter()
            .map(|g| g.to_string())
            .collect();
        assert_eq!(guns, ["example.com/a", "example.com/team/b"]);
    }

    #[test]
    fn a_lock_is_reported_only_while_held() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("locks/example.com/a");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("@lock");
        std::fs::write(&path, b"").unwrap();
        assert!(held_locks(d.path()).is_empty());
        let held = fsio::try_lock_file(&path).unwrap().expect("free");
        // flock locks belong to the open file: a second open sees it held.
        let found = held_locks(d.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.as_deref(), Some("example.com/a"));
        assert!(found[0].2.contains(&std::process::id().to_string()));
        drop(held);
        assert!(held_locks(d.path()).is_empty());
    }
}
