//! A static repository: plain files laid out like notary-server's URLs, so any web server
//! can serve it.
//!
//! ```text
//! DIR/<gun>/_trust/tuf/<role>.json              current (timestamp.json written last)
//! DIR/<gun>/_trust/tuf/<role>.<sha256hex>.json  by checksum
//! DIR/<gun>/_trust/tuf/<version>.<role>.json    by version
//! DIR/<gun>/_trust/.lock                        serialises publishers (not metadata)
//! ```
//!
//! Delegations keep their slashes (`targets/releases.json`, `3.targets/releases.json`), as
//! on the server. Served at `https://host/v2/`, the directory answers the same GETs as a
//! notary-server at `https://host`.
//!
//! Publishing writes every file as temp file + fsync + rename: first all checksum- and
//! version-named copies, then the current names with `timestamp.json` last, so a reader
//! that starts from `timestamp.json` never sees a half-written set. Like the server, it
//! refuses a role whose version is not strictly greater than the stored one (`VERSION`)
//! and a part that is not `{"signed":{…},"signatures":[…]}` (`MALFORMED_JSON`); it checks
//! no signatures (the trust layer does). There are no server keys: the client signs
//! timestamp and snapshot.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::remote::client::Client;
use rand_core::{OsRng, RngCore};
use reqwest::Url;
use sha2::{Digest, Sha256};

use super::auth::{basic_authorization, parse_challenges};
use super::http::{build_client, classify_send_error, read_capped, server_error};
use super::{
    limits, validate_checksum, validate_role, CredentialLookup, Gun, Remote, RemoteError,
    RemoteOptions, Timeouts,
};
use crate::tuf::PublicKey;

/// A static repository in a directory (read-write) or behind a web server (read-only).
pub struct StaticRepo {
    kind: Kind,
    /// The largest root.json read ([`limits::DEFAULT_MAX_ROOT_SIZE`] unless configured).
    root_cap: u64,
}

enum Kind {
    Dir(PathBuf),
    Http(Box<HttpRepo>),
}

struct HttpRepo {
    base: Url,
    client: Client,
    timeouts: Timeouts,
    lookup: CredentialLookup,
}

impl StaticRepo {
    /// A static repository rooted at `dir` (created on first publish).
    pub fn dir(dir: PathBuf) -> StaticRepo {
        StaticRepo {
            kind: Kind::Dir(dir),
            root_cap: limits::DEFAULT_MAX_ROOT_SIZE,
        }
    }

    /// With another cap on root.json (`None`: the default).
    pub fn with_root_cap(mut self, cap: Option<u64>) -> StaticRepo {
        self.root_cap = cap.unwrap_or(limits::DEFAULT_MAX_ROOT_SIZE);
        self
    }

    /// A static repository served at `url` (`http(s)://host[/prefix]`), read-only. A
    /// `401` with a `Basic` challenge is answered with credentials from the lookup.
    pub fn http(url: &str, opts: &RemoteOptions) -> Result<StaticRepo, RemoteError> {
        let base = super::http::parse_base_url(url)?;
        Ok(StaticRepo {
            kind: Kind::Http(Box::new(HttpRepo {
                client: build_client(&opts.tls, &opts.timeouts, true)?,
                base,
                timeouts: opts.timeouts,
                lookup: opts.credentials.clone(),
            })),
            root_cap: opts.max_root_size.unwrap_or(limits::DEFAULT_MAX_ROOT_SIZE),
        })
    }

    /// The directory, for a local repository.
    pub fn root_dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Dir(d) => Some(d),
            Kind::Http(_) => None,
        }
    }

    fn tuf_dir(dir: &Path, gun: &Gun) -> PathBuf {
        dir.join(gun.as_str()).join("_trust").join("tuf")
    }

    fn get(
        &self,
        gun: &Gun,
        role: &str,
        file: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        validate_role(role)?;
        let max_len = limits::clamp(role, max_len, self.root_cap);
        let what = format!("{gun} {file}");
        match &self.kind {
            Kind::Dir(dir) => {
                let tuf = Self::tuf_dir(dir, gun);
                // A publish cut short after it committed: finish it before reading. A
                // directory this process may not write is read as it is.
                let _ = finish_switch(&dir.join(gun.as_str()).join("_trust"), &tuf);
                read_file_capped(&tuf.join(file), max_len, &self.describe(), &what)
            }
            Kind::Http(h) => {
                let HttpRepo {
                    base,
                    client,
                    timeouts,
                    lookup,
                } = &**h;
                let mut url = base.clone();
                url.set_path(&format!(
                    "{}/{gun}/_trust/tuf/{file}",
                    base.path().trim_end_matches('/')
                ));
                let remote = self.describe();
                let send = |auth: Option<&str>| {
                    let mut b = client.get(url.clone());
                    if let Some(a) = auth {
                        b = b.header(reqwest::header::AUTHORIZATION, a);
                    }
                    b.send().map_err(|e| {
                        classify_send_error(e, &remote, url.as_str(), timeouts.request)
                    })
                };
                let mut resp = send(None)?;
                let mut tried = "no credentials were sent".to_owned();
                if resp.status().as_u16() == 401 {
                    let basic = resp
                        .headers()
                        .get_all(reqwest::header::WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(parse_challenges)
                        .any(|c| c.scheme == "basic");
                    if basic {
                        let host = match base.port() {
                            Some(p) => format!("{}:{p}", base.host_str().unwrap_or_default()),
                            None => base.host_str().unwrap_or_default().to_owned(),
                        };
                        let search = lookup.find(&[host]);
                        tried = search.describe();
                        if let Some(h) = search.found.as_ref().and_then(basic_authorization) {
                            resp = send(Some(h.as_str()))?;
                        }
                    }
                }
                let status = resp.status().as_u16();
                match status {
                    200 => read_capped(resp, max_len, &remote, &what).map(Some),
                    404 => Ok(None),
                    401 | 403 => Err(RemoteError::Unauthorized {
                        remote,
                        what,
                        status,
                        scope: "read".into(),
                        tried,
                    }),
                    _ => {
                        let body = read_capped(resp, limits::MAX_ERROR_SIZE, &remote, &what)
                            .unwrap_or_default();
                        Err(server_error(&remote, &what, status, &body))
                    }
                }
            }
        }
    }

    fn dir_or_read_only(&self, what: &str) -> Result<&Path, RemoteError> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            Kind::Http(_) => Err(RemoteError::NotSupported {
                remote: self.describe(),
                what: format!("{what} (a static repository read over HTTP is read-only)"),
            }),
        }
    }

    fn io<'a>(
        &'a self,
        doing: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> RemoteError + 'a {
        move |source| RemoteError::Io {
            remote: self.describe(),
            doing,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads `path` if it exists and is at most `max_len` bytes.
fn read_file_capped(
    path: &Path,
    max_len: u64,
    remote: &str,
    what: &str,
) -> Result<Option<Vec<u8>>, RemoteError> {
    let io = |source: std::io::Error| RemoteError::Io {
        remote: remote.to_owned(),
        doing: "reading",
        path: path.to_path_buf(),
        source,
    };
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::NotADirectory =>
        {
            return Ok(None)
        }
        Err(e) => return Err(io(e)),
    };
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Ok(None);
    }
    if meta.len() > max_len {
        return Err(RemoteError::TooLarge {
            remote: remote.to_owned(),
            what: what.to_owned(),
            limit: max_len,
            declared: Some(meta.len()),
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max_len.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > max_len {
        return Err(RemoteError::TooLarge {
            remote: remote.to_owned(),
            what: what.to_owned(),
            limit: max_len,
            declared: None,
        });
    }
    Ok(Some(buf))
}

/// `signed.version` and `signed._type` of a metadata file, or why it is not one.
fn parse_meta(bytes: &[u8]) -> Result<(u64, String), String> {
    #[derive(serde::Deserialize)]
    struct Signed {
        #[serde(rename = "_type")]
        ty: String,
        version: u64,
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        signed: Signed,
        #[allow(dead_code)]
        signatures: Vec<serde_json::Value>,
    }
    let e: Envelope = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok((e.signed.version, e.signed.ty))
}

fn expected_type(role: &str) -> &'static str {
    match role {
        "root" => "Root",
        "snapshot" => "Snapshot",
        "timestamp" => "Timestamp",
        _ => "Targets",
    }
}

/// Publishing order: root, targets, delegations (shallow first), snapshot, timestamp.
fn order(role: &str) -> (u8, usize, String) {
    let rank = match role {
        "root" => 0,
        "targets" => 1,
        "snapshot" => 3,
        "timestamp" => 4,
        _ => 2,
    };
    (rank, role.matches('/').count(), role.to_owned())
}

/// Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("metadata paths have a parent");
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("meta");
    let mut rnd = [0u8; 8];
    OsRng.fill_bytes(&mut rnd);
    let tmp = dir.join(format!(".{name}.tmp-{}", hex::encode(rnd)));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Points `path` at the file `target` (same directory) atomically: a hard link under a
/// temp name, renamed over `path`.
fn link_atomic(target: &Path, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().expect("metadata paths have a parent");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("meta");
    let mut rnd = [0u8; 8];
    OsRng.fill_bytes(&mut rnd);
    let tmp = dir.join(format!(".{name}.link-{}", hex::encode(rnd)));
    std::fs::hard_link(target, &tmp)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The journal of a publish's switch of current names (`[[current, copy], …]`).
const SWITCH_JOURNAL: &str = ".vouch-switch.json";

/// Point each current name at its copy (a hard link where the file system allows: no new
/// data to write, so a full disk cannot stop the switch halfway), sync, then remove the
/// journal. Repeating it is harmless.
fn switch_current_names(tuf: &Path, journal: &[(String, String)]) -> std::io::Result<()> {
    let mut dirs = BTreeSet::new();
    for (current, copy) in journal {
        let (current, copy) = (tuf.join(current), tuf.join(copy));
        if !copy.is_file() {
            continue;
        }
        if link_atomic(&copy, &current).is_err() {
            let bytes = std::fs::read(&copy)?;
            write_atomic(&current, &bytes)?;
        }
        dirs.insert(current.parent().expect("has parent").to_path_buf());
    }
    for d in &dirs {
        fsync_dir(d)?;
    }
    std::fs::remove_file(tuf.join(SWITCH_JOURNAL))?;
    fsync_dir(tuf)
}

/// Finish a switch of current names that a publish committed (its journal is on disk)
/// but did not complete, under the repository's lock. Only names within `tuf` that the
/// journal lists, pointing at copies that exist, are switched.
fn finish_switch(gun_dir: &Path, tuf: &Path) -> std::io::Result<()> {
    let journal_path = tuf.join(SWITCH_JOURNAL);
    if !journal_path.is_file() {
        return Ok(());
    }
    let _lock = crate::keystore::fsio::lock_file_with_mode(&gun_dir.join(".lock"), 0o666)?;
    finish_switch_locked(tuf)
}

/// [`finish_switch`] for a caller that holds the lock.
fn finish_switch_locked(tuf: &Path) -> std::io::Result<()> {
    let journal_path = tuf.join(SWITCH_JOURNAL);
    let Ok(text) = std::fs::read(&journal_path) else {
        return Ok(()); // finished by another process meanwhile
    };
    let journal: Vec<(String, String)> = match serde_json::from_slice(&text) {
        Ok(j) => j,
        // Not a journal a publish wrote (it is written whole, atomically): ignore it.
        Err(_) => return Ok(()),
    };
    let safe = |name: &str| {
        !name.is_empty()
            && !name.starts_with('/')
            && name
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
    };
    if journal.iter().all(|(c, k)| safe(c) && safe(k)) {
        switch_current_names(tuf, &journal)?;
    }
    Ok(())
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Remote for StaticRepo {
    fn describe(&self) -> String {
        match &self.kind {
            Kind::Dir(d) => format!("static repository {}", d.display()),
            Kind::Http(h) => {
                format!(
                    "static repository {}",
                    h.base.as_str().trim_end_matches('/')
                )
            }
        }
    }

    fn get_current(
        &self,
        gun: &Gun,
        role: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        self.get(gun, role, &format!("{role}.json"), max_len)
    }

    fn get_by_checksum(
        &self,
        gun: &Gun,
        role: &str,
        checksum_hex: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        validate_checksum(checksum_hex)?;
        self.get(gun, role, &format!("{role}.{checksum_hex}.json"), max_len)
    }

    fn get_by_version(
        &self,
        gun: &Gun,
        role: &str,
        version: u64,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        self.get(gun, role, &format!("{version}.{role}.json"), max_len)
    }

    fn publish(&self, gun: &Gun, parts: &[(String, Vec<u8>)]) -> Result<(), RemoteError> {
        for (role, _) in parts {
            validate_role(role)?;
        }
        let dir = self.dir_or_read_only("publishing")?;
        if parts.is_empty() {
            return Ok(());
        }
        let remote = self.describe();
        let what = {
            let roles: Vec<&str> = parts.iter().map(|(r, _)| r.as_str()).collect();
            format!("the upload of {} for {gun}", roles.join(", "))
        };
        let reject = |code: &str, message: String| RemoteError::Rejected {
            remote: remote.clone(),
            what: what.clone(),
            code: code.to_owned(),
            message,
            detail: None,
        };
        let mut seen = BTreeSet::new();
        let mut checked = Vec::with_capacity(parts.len());
        for (role, bytes) in parts {
            if !seen.insert(role.as_str()) {
                return Err(reject(
                    "INVALID_ROLE",
                    format!("role {role} appears twice in one upload"),
                ));
            }
            let (version, ty) = parse_meta(bytes).map_err(|e| {
                reject(
                    "MALFORMED_JSON",
                    format!("{role} is not a signed metadata file: {e}"),
                )
            })?;
            if ty != expected_type(role) {
                return Err(reject(
                    "INVALID_UPDATE",
                    format!(
                        "{role} has _type {ty:?}, expected {:?}",
                        expected_type(role)
                    ),
                ));
            }
            if version < 1 {
                return Err(reject(
                    "INVALID_UPDATE",
                    format!("{role} has version 0; versions start at 1"),
                ));
            }
            checked.push((role.as_str(), bytes.as_slice(), version));
        }
        checked.sort_by_key(|(role, _, _)| order(role));

        let gun_dir = dir.join(gun.as_str()).join("_trust");
        let tuf = gun_dir.join("tuf");
        std::fs::create_dir_all(&gun_dir).map_err(self.io("creating", &gun_dir))?;
        let lock_path = gun_dir.join(".lock");
        let lock = crate::keystore::fsio::lock_file_with_mode(&lock_path, 0o666)
            .map_err(self.io("locking", &lock_path))?;
        // A publish before this one was cut short after it committed: finish it first, so
        // that versions are compared with what readers see.
        finish_switch_locked(&tuf).map_err(self.io("finishing the last publish in", &tuf))?;

        // Like the server: every uploaded version must be newer than the stored one.
        for (role, _, version) in &checked {
            let current = tuf.join(format!("{role}.json"));
            if let Some(old) = read_file_capped(&current, limits::MAX_DOWNLOAD_SIZE, &remote, role)?
            {
                let (stored, _) = parse_meta(&old).map_err(|e| RemoteError::Malformed {
                    remote: remote.clone(),
                    what: current.display().to_string(),
                    message: format!("the stored file is not signed metadata: {e}"),
                })?;
                if *version <= stored {
                    return Err(reject(
                        "VERSION",
                        format!("{role} version {version} is not newer than the stored version {stored}"),
                    ));
                }
            }
        }

        let write =
            |path: PathBuf, data: &[u8], dirs: &mut BTreeSet<PathBuf>| -> Result<(), RemoteError> {
                write_atomic(&path, data).map_err(self.io("writing", &path))?;
                dirs.insert(path.parent().expect("has parent").to_path_buf());
                Ok(())
            };
        let sync = |dirs: &BTreeSet<PathBuf>| -> Result<(), RemoteError> {
            for d in dirs {
                fsync_dir(d).map_err(self.io("syncing", d))?;
            }
            Ok(())
        };
        let mut dirs = BTreeSet::new();
        for (role, bytes, version) in &checked {
            let sum = hex::encode(Sha256::digest(bytes));
            write(tuf.join(format!("{role}.{sum}.json")), bytes, &mut dirs)?;
            write(tuf.join(format!("{version}.{role}.json")), bytes, &mut dirs)?;
        }
        // The copies must be durable before any current name points at them.
        sync(&dirs)?;
        // The switch of the current names is journaled first: from the moment the journal
        // is on disk the upload is committed, and a switch cut short (a kill, a crash) is
        // finished by the next reader or writer of this directory (`finish_switch`), so
        // that the current names never stay half old and half new.
        let journal: Vec<(String, String)> = checked
            .iter()
            .map(|(role, bytes, _)| {
                let sum = hex::encode(Sha256::digest(bytes));
                (format!("{role}.json"), format!("{role}.{sum}.json"))
            })
            .collect();
        let journal_path = tuf.join(SWITCH_JOURNAL);
        let text = serde_json::to_vec(&journal).expect("a list of names serializes");
        write_atomic(&journal_path, &text).map_err(self.io("writing", &journal_path))?;
        fsync_dir(&tuf).map_err(self.io("syncing", &tuf))?;
        switch_current_names(&tuf, &journal).map_err(self.io("switching", &tuf))?;
        drop(lock);
        Ok(())
    }

    fn server_key(&self, _gun: &Gun, role: &str) -> Result<PublicKey, RemoteError> {
        Err(RemoteError::NotSupported {
            remote: self.describe(),
            what: format!("a server-held {role} key"),
        })
    }

    fn rotate_server_key(&self, _gun: &Gun, role: &str) -> Result<PublicKey, RemoteError> {
        Err(RemoteError::NotSupported {
            remote: self.describe(),
            what: format!("rotating a server-held {role} key"),
        })
    }

    fn delete(&self, gun: &Gun) -> Result<(), RemoteError> {
        let dir = self.dir_or_read_only("deleting")?;
        let gun_dir = dir.join(gun.as_str()).join("_trust");
        if !gun_dir.exists() {
            return Ok(());
        }
        let lock_path = gun_dir.join(".lock");
        let _lock = crate::keystore::fsio::lock_file_with_mode(&lock_path, 0o666)
            .map_err(self.io("locking", &lock_path))?;
        let tuf = gun_dir.join("tuf");
        match std::fs::remove_dir_all(&tuf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io("removing", &tuf)(e)),
        }
        Ok(())
    }

    fn signs_timestamp(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ty: &str, v: u64) -> Vec<u8> {
        format!(r#"{{"signed":{{"_type":"{ty}","expires":"2030-01-01T00:00:00Z","version":{v}}},"signatures":[]}}"#).into_bytes()
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let mut r = [0u8; 6];
        OsRng.fill_bytes(&mut r);
        let d = std::env::temp_dir().join(format!("vouch-static-{tag}-{}", hex::encode(r)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn write_read_round_trip_and_version_rule() {
        let d = tmpdir("rt");
        let repo = StaticRepo::dir(d.clone());
        let g = Gun::parse("example.com/app").unwrap();
        assert_eq!(repo.get_current(&g, "root", 1000).unwrap(), None);
        let parts = vec![
            ("timestamp".to_owned(), meta("Timestamp", 1)),
            ("targets/releases".to_owned(), meta("Targets", 1)),
            ("root".to_owned(), meta("Root", 1)),
        ];
        repo.publish(&g, &parts).unwrap();
        for (role, bytes) in &parts {
            assert_eq!(
                repo.get_current(&g, role, 1000).unwrap().as_ref(),
                Some(bytes)
            );
            let sum = hex::encode(Sha256::digest(bytes));
            assert_eq!(
                repo.get_by_checksum(&g, role, &sum, 1000).unwrap().as_ref(),
                Some(bytes)
            );
            assert_eq!(
                repo.get_by_version(&g, role, 1, 1000).unwrap().as_ref(),
                Some(bytes)
            );
        }
        assert!(d
            .join("example.com/app/_trust/tuf/1.targets/releases.json")
            .is_file());
        let e = repo
            .publish(&g, &[("root".into(), meta("Root", 1))])
            .unwrap_err();
        assert_eq!(e.code(), Some("VERSION"), "{e}");
        let e = repo
            .publish(&g, &[("root".into(), b"{not json".to_vec())])
            .unwrap_err();
        assert_eq!(e.code(), Some("MALFORMED_JSON"));
        let e = repo
            .publish(&g, &[("root".into(), meta("Targets", 2))])
            .unwrap_err();
        assert_eq!(e.code(), Some("INVALID_UPDATE"));
        // A rejected upload writes nothing, even for the parts that were fine.
        let before = repo.get_current(&g, "timestamp", 1000).unwrap();
        let e = repo
            .publish(
                &g,
                &[
                    ("timestamp".into(), meta("Timestamp", 2)),
                    ("root".into(), meta("Root", 1)),
                ],
            )
            .unwrap_err();
        assert_eq!(e.code(), Some("VERSION"));
        assert_eq!(repo.get_current(&g, "timestamp", 1000).unwrap(), before);
        assert_eq!(repo.get_by_version(&g, "timestamp", 2, 1000).unwrap(), None);
        // A newer version goes through.
        repo.publish(&g, &[("timestamp".into(), meta("Timestamp", 2))])
            .unwrap();
        assert_eq!(
            repo.get_current(&g, "timestamp", 1000).unwrap(),
            Some(meta("Timestamp", 2))
        );
        assert_eq!(
            repo.get_by_version(&g, "timestamp", 1, 1000).unwrap(),
            Some(meta("Timestamp", 1))
        );
        // Size cap.
        let e = repo.get_current(&g, "root", 10).unwrap_err();
        assert!(matches!(e, RemoteError::TooLarge { limit: 10, .. }), "{e}");
        // No temp files left behind.
        let leftovers: Vec<_> = walk(&d)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        repo.delete(&g).unwrap();
        assert_eq!(repo.get_current(&g, "root", 1000).unwrap(), None);
        repo.delete(&g).unwrap();
        assert!(matches!(
            repo.server_key(&g, "timestamp"),
            Err(RemoteError::NotSupported { .. })
        ));
        assert!(!repo.signs_timestamp());
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn walk(d: &Path) -> Vec<PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn publish_order() {
        let mut roles = vec![
            "timestamp",
            "snapshot",
            "targets/a/b",
            "targets/a",
            "targets",
            "root",
        ];
        roles.sort_by_key(|r| order(r));
        assert_eq!(
            roles,
            [
                "root",
                "targets",
                "targets/a",
                "targets/a/b",
                "snapshot",
                "timestamp"
            ]
        );
    }
}
