//! Key backups: one encrypted archive of key files and the metadata needed to use them,
//! sealed under a backup passphrase or split into Shamir shares (docs/key-management.md,
//! "Backups").
//!
//! What is inside (the *archive*, JSON, secret): for every key its ID, role, GUN, the
//! key file's path under `private/` and the key file's bytes exactly as they are on disk
//! (still encrypted under the key's own passphrase), plus the cached `root.json` of every
//! repository those keys belong to, so a restored root key can be matched to its
//! certificate.
//!
//! How it is sealed (the *envelope*, JSON, public): a header `{format, version, created,
//! keys, kdf, cipher}` and the AES-256-GCM ciphertext of the archive. The header is the
//! AEAD's associated data, so changing any of it (or the ciphertext) is detected.
//! - Passphrase backups: the AES key comes from scrypt(passphrase, salt) with the
//!   parameters in the header. The envelope is written PEM-armoured
//!   (`VOUCH KEY BACKUP`), after a few lines of plain text saying what the file is.
//! - Split backups: the AES key is 32 random bytes, split with [`super::shamir`]; every
//!   share file carries one share of that key and a full copy of the envelope, whose
//!   header lists the SHA-256 of every share, so a damaged or forged share is named.
//!
//! The archive fingerprint is the SHA-256 of the envelope's JSON bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand_core::{CryptoRng, OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::fsio;
use super::layout;
use super::pemblock::{self, PemBlock};
use super::role::validate_gun;
use super::shamir::{self, ShamirError};
use super::store::KeyStore;
use super::{format, KeyInfo, KeystoreError, Skipped};
use crate::error::ExitCode;
use crate::tuf::{KeyId, PublicKey};

type Result<T> = std::result::Result<T, KeystoreError>;

/// `format` of the envelope.
pub const BACKUP_FORMAT: &str = "vouch-key-backup";
/// `format` of the archive inside it.
pub const ARCHIVE_FORMAT: &str = "vouch-key-archive";
/// The first word of a share file.
pub const SHARE_FORMAT: &str = "vouch-key-share";
/// The one version of all three this code writes and reads.
pub const VERSION: u32 = 1;
/// The PEM type of a passphrase backup file.
pub const PEM_TYPE: &str = "VOUCH KEY BACKUP";
/// The only cipher.
pub const CIPHER: &str = "AES-256-GCM";
/// The environment variable scripts use for the backup passphrase.
pub const PASSPHRASE_ENV: &str = "VOUCH_BACKUP_PASSPHRASE";

const SCRYPT_SALT_LEN: usize = 16;
/// Refuse envelopes whose scrypt would need more memory than this (an attacker-chosen
/// cost must not exhaust the machine restoring it).
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_P: u32 = 16;
/// Largest backup or share file read.
pub const MAX_FILE: u64 = 16 << 20;
/// Base64 characters per share data line.
const SHARE_LINE: usize = 64;

/// scrypt cost for the backup passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptCost {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptCost {
    /// N = 2^17, r = 8, p = 1: 128 MiB and a fraction of a second per attempt. Backups
    /// live long and travel, so this is stronger than the key files' own cost.
    pub const DEFAULT: ScryptCost = ScryptCost {
        log_n: 17,
        r: 8,
        p: 1,
    };
}

/// Errors of backups, shares and restores.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("wrong backup passphrase for {what}")]
    WrongPassphrase { what: String },
    #[error("no backup passphrase available")]
    PassphraseRequired,
    #[error("{what}: {reason}")]
    BadPassphrase { what: String, reason: String },
    #[error("{what} is not a usable key backup: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("{what} was written by a newer vouch ({found}); this vouch reads version {VERSION}")]
    TooNew { what: String, found: String },
    #[error("share {file}{}: {reason}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Share {
        file: String,
        line: Option<usize>,
        reason: String,
    },
    #[error("{have} distinct share(s) given ({given}), but this backup needs {need}")]
    NotEnoughShares {
        have: usize,
        need: usize,
        given: String,
    },
    #[error("the shares do not belong together: {reason}")]
    Mismatch { reason: String },
    #[error("the shares do not combine into the key of archive sha256:{fingerprint}: at least one is damaged or forged")]
    SharesDoNotCombine { fingerprint: String },
    #[error("{} already in the key store as a different file: {}; nothing was restored",
        if .conflicts.len() == 1 { "a key of this backup is" } else { "keys of this backup are" },
        .conflicts.iter().map(|(id, p)| format!("{id} ({})", p.display())).collect::<Vec<_>>().join(", "))]
    Conflict { conflicts: Vec<(String, PathBuf)> },
    #[error("no keys to back up: {reason}")]
    NothingSelected { reason: String },
    #[error("cannot split the backup: {0}")]
    Split(ShamirError),
}

impl BackupError {
    pub fn exit_code(&self) -> ExitCode {
        use BackupError::*;
        match self {
            WrongPassphrase { .. }
            | PassphraseRequired
            | Conflict { .. }
            | NothingSelected { .. } => ExitCode::Keystore,
            BadPassphrase { .. }
            | Corrupt { .. }
            | TooNew { .. }
            | Share { .. }
            | NotEnoughShares { .. }
            | Mismatch { .. }
            | SharesDoNotCombine { .. }
            | Split(_) => ExitCode::Usage,
        }
    }

    pub fn hint(&self) -> Option<String> {
        use BackupError::*;
        Some(match self {
            WrongPassphrase { .. } => format!(
                "the backup passphrase is the one chosen for `vouch key backup` (prompt, {PASSPHRASE_ENV} or --passphrase-file), not a key's passphrase"
            ),
            PassphraseRequired => format!(
                "set {PASSPHRASE_ENV}, pass --passphrase-file FILE, or run in a terminal to be prompted"
            ),
            BadPassphrase { .. } => return None,
            Corrupt { .. } => "the file is damaged or not a vouch key backup; use another copy".into(),
            TooNew { .. } => "restore with the vouch version that made the backup, or a newer one".into(),
            Share { line: Some(_), .. } => {
                "compare the line with the original share (a checksum ends every line) and retype it".into()
            }
            Share { .. } => "use another copy of this share, or another share".into(),
            NotEnoughShares { need, .. } => {
                format!("bring at least {need} different shares of this backup together")
            }
            Mismatch { .. } => "give shares of one backup only; the odd one out may have been altered".into(),
            SharesDoNotCombine { .. } => {
                "try other combinations of shares: with more shares than needed, `vouch key backup verify` names the bad one".into()
            }
            Conflict { .. } => {
                "the existing file may hold another key, or the same key under another passphrase: move it away and restore again, or restore into an empty --trust-dir and compare".into()
            }
            NothingSelected { .. } => "run `vouch key list` to see the keys and their roles and GUNs".into(),
            Split(_) => "use --shares K-of-N with 2 ≤ K ≤ N ≤ 255".into(),
        })
    }
}

impl From<BackupError> for KeystoreError {
    fn from(e: BackupError) -> Self {
        KeystoreError::Backup(Box::new(e))
    }
}

fn corrupt(what: &str, reason: impl Into<String>) -> KeystoreError {
    BackupError::Corrupt {
        what: what.to_owned(),
        reason: reason.into(),
    }
    .into()
}

fn share_err(file: &str, line: Option<usize>, reason: impl Into<String>) -> KeystoreError {
    BackupError::Share {
        file: file.to_owned(),
        line,
        reason: reason.into(),
    }
    .into()
}

// ---------------------------------------------------------------------------------------
// The archive (plaintext)
// ---------------------------------------------------------------------------------------

/// One key in an archive: the key file exactly as it was on disk.
pub struct ArchivedKey {
    pub id: KeyId,
    pub role: String,
    pub gun: Option<String>,
    pub algorithm: Option<String>,
    /// How the file is encrypted (as `key list --output json` says it), informational.
    pub encryption: String,
    /// Path under `private/`, `/`-separated (`<id>.key`, or a notary ≤ 0.3 location).
    pub path: String,
    /// The key file; wiped on drop.
    pub file: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ArchivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchivedKey")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("gun", &self.gun)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A repository's cached root.json, kept so restored root keys can be matched to their
/// certificates.
#[derive(Debug, Clone)]
pub struct ArchivedRoot {
    pub gun: String,
    pub root_json: Vec<u8>,
    /// The canonical IDs of the root keys this root.json lists (derived, not stored).
    pub root_keys: BTreeSet<KeyId>,
}

/// The plaintext of a backup.
#[derive(Debug)]
pub struct Archive {
    pub created: String,
    pub keys: Vec<ArchivedKey>,
    pub roots: Vec<ArchivedRoot>,
}

impl Archive {
    /// The GUNs whose cached root lists key `id`.
    pub fn root_of(&self, id: &KeyId) -> Vec<&str> {
        self.roots
            .iter()
            .filter(|r| r.root_keys.contains(id))
            .map(|r| r.gun.as_str())
            .collect()
    }

    fn labels(&self) -> Vec<KeyLabel> {
        self.keys
            .iter()
            .map(|k| KeyLabel {
                id: k.id.to_string(),
                role: k.role.clone(),
                gun: k.gun.clone(),
            })
            .collect()
    }

    /// The archive's JSON, in a wiping buffer sized so that it never reallocates (a
    /// reallocation would leave a copy behind), with room for the AEAD tag.
    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
        let wire = ArchiveWire {
            format: ARCHIVE_FORMAT.into(),
            version: VERSION,
            created: self.created.clone(),
            keys: self
                .keys
                .iter()
                .map(|k| KeyWire {
                    id: k.id.to_string(),
                    role: k.role.clone(),
                    gun: k.gun.clone(),
                    algorithm: k.algorithm.clone(),
                    encryption: k.encryption.clone(),
                    path: k.path.clone(),
                    file: B64.encode(&*k.file),
                })
                .collect(),
            metadata: self
                .roots
                .iter()
                .map(|r| RootWire {
                    gun: r.gun.clone(),
                    root_json: B64.encode(&r.root_json),
                })
                .collect(),
        };
        let estimate: usize = 1024
            + wire
                .keys
                .iter()
                .map(|k| k.file.len() + k.path.len() + k.role.len() + 1024)
                .sum::<usize>()
            + wire
                .metadata
                .iter()
                .map(|m| m.root_json.len() + m.gun.len() + 256)
                .sum::<usize>();
        let mut buf = Zeroizing::new(Vec::with_capacity(2 * estimate + TAG_LEN));
        serde_json::to_writer(&mut *buf, &wire).map_err(|e| corrupt("archive", e.to_string()))?;
        Ok(buf)
    }

    /// Parse and check an archive's JSON.
    fn from_json(bytes: &[u8], what: &str) -> Result<Archive> {
        let peek: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(what, format!("archive: {e}")))?;
        if peek.get("format").and_then(|f| f.as_str()) != Some(ARCHIVE_FORMAT) {
            return Err(corrupt(
                what,
                "the decrypted data is not a vouch key archive",
            ));
        }
        check_version(&peek, what)?;
        drop(peek);
        let wire: ArchiveWire =
            serde_json::from_slice(bytes).map_err(|e| corrupt(what, format!("archive: {e}")))?;
        let mut keys = Vec::new();
        for k in &wire.keys {
            let id = KeyId::parse(&k.id)
                .map_err(|_| corrupt(what, format!("key ID {:?} is not a key ID", k.id)))?;
            let mut file = Zeroizing::new(Vec::with_capacity(k.file.len()));
            B64.decode_vec(k.file.as_bytes(), &mut file)
                .map_err(|e| corrupt(what, format!("key {id}: {e}")))?;
            let key = ArchivedKey {
                id,
                role: k.role.clone(),
                gun: k.gun.clone(),
                algorithm: k.algorithm.clone(),
                encryption: k.encryption.clone(),
                path: k.path.clone(),
                file,
            };
            check_archived_key(&key).map_err(|reason| corrupt(what, reason))?;
            if keys.iter().any(|o: &ArchivedKey| o.id == key.id) {
                return Err(corrupt(what, format!("key {} is listed twice", key.id)));
            }
            keys.push(key);
        }
        let mut roots = Vec::new();
        for m in &wire.metadata {
            validate_gun(&m.gun).map_err(|e| corrupt(what, e.to_string()))?;
            let root_json = B64
                .decode(m.root_json.as_bytes())
                .map_err(|e| corrupt(what, format!("root.json of {}: {e}", m.gun)))?;
            let root_keys = root_key_ids(&root_json)
                .map_err(|e| corrupt(what, format!("root.json of {}: {e}", m.gun)))?;
            roots.push(ArchivedRoot {
                gun: m.gun.clone(),
                root_json,
                root_keys,
            });
        }
        Ok(Archive {
            created: wire.created.clone(),
            keys,
            roots,
        })
    }
}

/// An archived key must be restorable where it says: a safe relative path under
/// `private/` naming its ID, a role and GUN without line breaks, a PEM key block.
fn check_archived_key(k: &ArchivedKey) -> std::result::Result<(), String> {
    let rel = Path::new(&k.path);
    let safe = !k.path.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(n) if !n.to_string_lossy().starts_with('.')));
    if !safe || !k.path.ends_with(".key") {
        return Err(format!("key {}: unsafe file path {:?}", k.id, k.path));
    }
    let root = Path::new("/private");
    let loc = layout::locate(root, &root.join(rel))
        .map_err(|e| format!("key {}: path {:?}: {e}", k.id, k.path))?;
    if loc.id != k.id {
        return Err(format!(
            "key {}: its path {:?} names another key",
            k.id, k.path
        ));
    }
    if k.role.contains(['\n', '\r']) || k.gun.as_deref().is_some_and(|g| validate_gun(g).is_err()) {
        return Err(format!("key {}: invalid role or GUN", k.id));
    }
    let blocks = pemblock::parse_all(&k.file).map_err(|e| format!("key {}: {e}", k.id))?;
    if !blocks.iter().any(|b| format::is_key_block(&b.kind)) {
        return Err(format!("key {}: the file holds no PEM private key", k.id));
    }
    Ok(())
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ArchiveWire {
    format: String,
    version: u32,
    created: String,
    keys: Vec<KeyWire>,
    metadata: Vec<RootWire>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct KeyWire {
    id: String,
    role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gun: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    algorithm: Option<String>,
    encryption: String,
    path: String,
    /// base64 of the key file.
    file: String,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct RootWire {
    gun: String,
    /// base64 of root.json.
    root_json: String,
}

fn check_version(v: &serde_json::Value, what: &str) -> Result<()> {
    match v.get("version").and_then(|x| x.as_u64()) {
        Some(n) if n == u64::from(VERSION) => Ok(()),
        Some(n) if n > u64::from(VERSION) => Err(BackupError::TooNew {
            what: what.to_owned(),
            found: format!("version {n}"),
        }
        .into()),
        _ => Err(corrupt(what, "missing or unknown format version")),
    }
}

/// The canonical IDs of the keys of the root role of a root.json.
fn root_key_ids(root_json: &[u8]) -> std::result::Result<BTreeSet<KeyId>, String> {
    let signed = crate::tuf::Signed::<crate::tuf::root::Root>::from_bytes(root_json)
        .map_err(|e| e.to_string())?;
    let root = signed.signed();
    let mut out = BTreeSet::new();
    for id in root
        .roles
        .get("root")
        .map(|r| r.keyids.as_slice())
        .unwrap_or_default()
    {
        if let Some(key) = root.keys.get(id) {
            if let Ok(c) = key.canonical_key_id() {
                out.insert(c);
            }
        }
    }
    Ok(out)
}

/// The canonical IDs of the delegation keys a cached targets.json lists.
fn delegation_key_ids(targets_json: &[u8]) -> BTreeSet<KeyId> {
    crate::tuf::Signed::<crate::tuf::targets::Targets>::from_bytes(targets_json)
        .map(|s| {
            s.signed()
                .delegations
                .keys
                .values()
                .filter_map(|k: &PublicKey| k.canonical_key_id().ok())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Collecting a backup from a key store
// ---------------------------------------------------------------------------------------

/// Which keys to back up: every key when both lists are empty.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Keys with one of these roles.
    pub roles: Vec<String>,
    /// Keys of these repositories: their targets/snapshot/timestamp keys, the root keys
    /// their cached root.json lists, the delegation keys their cached targets.json lists.
    pub guns: Vec<String>,
}

/// A repository in the trust dir's metadata cache.
struct CachedRepo {
    gun: String,
    root_json: Vec<u8>,
    root_keys: BTreeSet<KeyId>,
    delegation_keys: BTreeSet<KeyId>,
}

impl KeyStore {
    /// Read the selected keys (as files, without decrypting them) and the cached root.json
    /// of every repository they belong to. Key files the store cannot describe are
    /// returned as skipped.
    pub fn backup_archive(&self, sel: &Selection) -> Result<(Archive, Vec<Skipped>)> {
        for g in &sel.guns {
            validate_gun(g)?;
        }
        let scan = self.scan()?;
        let repos = self.cached_repos();
        let in_gun = |k: &KeyInfo, gun: &str| {
            k.gun.as_deref() == Some(gun)
                || repos.iter().any(|r| {
                    r.gun == gun
                        && (r.root_keys.contains(&k.id) || r.delegation_keys.contains(&k.id))
                })
        };
        let mut selected: Vec<&KeyInfo> = scan
            .keys
            .iter()
            .filter(|k| sel.roles.is_empty() || sel.roles.contains(&k.role))
            .filter(|k| sel.guns.is_empty() || sel.guns.iter().any(|g| in_gun(k, g)))
            .collect();
        // As `key list` shows them: root keys first, then by GUN, role and ID.
        selected.sort_by(|a, b| {
            (a.role != "root", &a.gun, &a.role, &a.id).cmp(&(
                b.role != "root",
                &b.gun,
                &b.role,
                &b.id,
            ))
        });
        if selected.is_empty() {
            let mut what = Vec::new();
            if !sel.roles.is_empty() {
                what.push(format!("role {}", sel.roles.join(" or ")));
            }
            if !sel.guns.is_empty() {
                what.push(format!("GUN {}", sel.guns.join(" or ")));
            }
            let reason = if what.is_empty() {
                format!("{} holds no keys", self.private_dir().display())
            } else {
                format!(
                    "no key in {} matches {}",
                    self.private_dir().display(),
                    what.join(" and ")
                )
            };
            return Err(BackupError::NothingSelected { reason }.into());
        }
        let mut keys = Vec::new();
        for info in &selected {
            let rel =
                info.path
                    .strip_prefix(self.private_dir())
                    .map_err(|_| KeystoreError::Corrupt {
                        path: info.path.clone(),
                        reason: "outside the key directory".into(),
                    })?;
            let path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            keys.push(ArchivedKey {
                id: info.id.clone(),
                role: info.role.clone(),
                gun: info.gun.clone(),
                algorithm: info.algorithm.clone(),
                encryption: info.format.to_string(),
                path,
                file: fsio::read_key_file(&info.path)?,
            });
        }
        let ids: BTreeSet<&KeyId> = keys.iter().map(|k| &k.id).collect();
        let guns_of_keys: BTreeSet<&str> = keys.iter().filter_map(|k| k.gun.as_deref()).collect();
        let roots = repos
            .into_iter()
            .filter(|r| sel.guns.is_empty() || sel.guns.contains(&r.gun))
            .filter(|r| {
                guns_of_keys.contains(r.gun.as_str())
                    || r.root_keys.iter().any(|id| ids.contains(id))
                    || r.delegation_keys.iter().any(|id| ids.contains(id))
            })
            .map(|r| ArchivedRoot {
                gun: r.gun,
                root_json: r.root_json,
                root_keys: r.root_keys,
            })
            .collect();
        let created = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        Ok((
            Archive {
                created,
                keys,
                roots,
            },
            scan.skipped,
        ))
    }

    /// Every `tuf/<gun>/metadata/root.json` under the trust dir that parses.
    fn cached_repos(&self) -> Vec<CachedRepo> {
        let tuf = self.trust_dir().join("tuf");
        let mut out = Vec::new();
        let mut stack = vec![(tuf.clone(), 0u32)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let meta = dir.join("metadata");
            if dir != tuf && meta.join("root.json").is_file() {
                if let Some(repo) = self.cached_repo(&tuf, &dir, &meta) {
                    out.push(repo);
                }
            }
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || name == "metadata" || name == "changelist" {
                    continue;
                }
                if e.file_type().is_ok_and(|t| t.is_dir()) && depth < 32 {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
        out.sort_by(|a, b| a.gun.cmp(&b.gun));
        out
    }

    fn cached_repo(&self, tuf: &Path, dir: &Path, meta: &Path) -> Option<CachedRepo> {
        let gun = dir
            .strip_prefix(tuf)
            .ok()?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        validate_gun(&gun).ok()?;
        let root_json = read_small(&meta.join("root.json"))?;
        let root_keys = root_key_ids(&root_json).ok()?;
        let delegation_keys = read_small(&meta.join("targets.json"))
            .map(|t| delegation_key_ids(&t))
            .unwrap_or_default();
        Some(CachedRepo {
            gun,
            root_json,
            root_keys,
            delegation_keys,
        })
    }
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE)
        .read_to_end(&mut buf)
        .ok()?;
    Some(buf)
}

// ---------------------------------------------------------------------------------------
// The envelope (public header + ciphertext)
// ---------------------------------------------------------------------------------------

const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// What a backup lists in the clear about each key (also authenticated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLabel {
    pub id: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gun: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "name", deny_unknown_fields)]
enum Kdf {
    #[serde(rename = "scrypt")]
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        /// base64
        salt: String,
        /// Tells a wrong passphrase from a damaged archive: hex of the first 16 bytes of
        /// SHA-256 over the second half of the scrypt output (the first half is the AES key).
        check: String,
    },
    /// The key is 32 random bytes split into shares (`shamir-gf256`: GF(2^8) modulo 0x11b).
    #[serde(rename = "shamir-gf256")]
    Shamir {
        threshold: u8,
        shares: u8,
        /// Hex SHA-256 of each share ([`share_digest`]), share 1 first.
        share_sha256: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherParams {
    name: String,
    /// base64
    nonce: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    created: String,
    keys: Vec<KeyLabel>,
    kdf: Kdf,
    cipher: CipherParams,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeWire {
    header: Header,
    /// base64
    ciphertext: String,
}

/// How a backup is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Passphrase,
    Shares { threshold: u8, shares: u8 },
}

/// A sealed backup: the public header and the ciphertext.
#[derive(Debug, Clone)]
pub struct Envelope {
    header: Header,
    ciphertext: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    /// The envelope's JSON, as written or read.
    bytes: Vec<u8>,
}

impl Envelope {
    /// Parse an envelope's JSON.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Envelope> {
        let peek: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(what, format!("envelope: {e}")))?;
        let header = peek.get("header").unwrap_or(&serde_json::Value::Null);
        if header.get("format").and_then(|f| f.as_str()) != Some(BACKUP_FORMAT) {
            return Err(corrupt(what, "not a vouch key backup"));
        }
        check_version(header, what)?;
        let wire: EnvelopeWire =
            serde_json::from_slice(bytes).map_err(|e| corrupt(what, format!("envelope: {e}")))?;
        if wire.header.cipher.name != CIPHER {
            return Err(corrupt(
                what,
                format!("unknown cipher {:?}", wire.header.cipher.name),
            ));
        }
        let nonce: [u8; NONCE_LEN] = B64
            .decode(&wire.header.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| corrupt(what, "bad nonce"))?;
        let ciphertext = B64
            .decode(&wire.ciphertext)
            .map_err(|e| corrupt(what, format!("ciphertext: {e}")))?;
        if ciphertext.len() < TAG_LEN {
            return Err(corrupt(what, "ciphertext too short"));
        }
        match &wire.header.kdf {
            Kdf::Scrypt {
                log_n, r, p, salt, ..
            } => {
                let memory = 128u64
                    .saturating_mul(u64::from(*r))
                    .saturating_mul(1u64.checked_shl(u32::from(*log_n)).unwrap_or(u64::MAX));
                if *log_n == 0
                    || *r == 0
                    || *p == 0
                    || memory > MAX_SCRYPT_MEMORY
                    || *p > MAX_SCRYPT_P
                {
                    return Err(corrupt(
                        what,
                        format!(
                            "scrypt parameters N=2^{log_n} r={r} p={p} are outside what vouch accepts ({} MiB, p ≤ {MAX_SCRYPT_P})",
                            MAX_SCRYPT_MEMORY >> 20
                        ),
                    ));
                }
                if B64.decode(salt).map_or(true, |s| s.is_empty()) {
                    return Err(corrupt(what, "bad scrypt salt"));
                }
            }
            Kdf::Shamir {
                threshold,
                shares,
                share_sha256,
            } => {
                if *threshold < 2
                    || threshold > shares
                    || share_sha256.len() != usize::from(*shares)
                {
                    return Err(corrupt(what, "inconsistent share parameters"));
                }
            }
        }
        Ok(Envelope {
            header: wire.header,
            ciphertext,
            nonce,
            bytes: bytes.to_vec(),
        })
    }

    /// Hex SHA-256 of the envelope's JSON: the archive fingerprint.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// The envelope's JSON.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The keys the backup says it holds (authenticated when the backup is opened).
    pub fn keys(&self) -> &[KeyLabel] {
        &self.header.keys
    }

    pub fn created(&self) -> &str {
        &self.header.created
    }

    pub fn protection(&self) -> Protection {
        match &self.header.kdf {
            Kdf::Scrypt { .. } => Protection::Passphrase,
            Kdf::Shamir {
                threshold, shares, ..
            } => Protection::Shares {
                threshold: *threshold,
                shares: *shares,
            },
        }
    }

    /// The file a passphrase backup is written to: a few lines saying what it is, then
    /// the envelope PEM-armoured.
    pub fn to_armored(&self) -> Result<String> {
        let mut out = String::new();
        out.push_str("vouch key backup: signing keys encrypted under a backup passphrase (scrypt, AES-256-GCM).\n");
        out.push_str(
            "Check it: vouch key backup verify FILE    Restore it: vouch key restore FILE\n",
        );
        out.push_str(&format!("Archive: sha256:{}\n", self.fingerprint()));
        out.push_str(&format!("Created: {}\n", self.header.created));
        for k in &self.header.keys {
            out.push_str(&format!("Key: {}\n", label_text(k)));
        }
        out.push('\n');
        let block = PemBlock::new(PEM_TYPE, Zeroizing::new(self.bytes.clone()));
        out.push_str(&block.encode().map_err(|e| corrupt("backup", e))?);
        Ok(out)
    }

    fn aad(&self) -> Vec<u8> {
        serde_json::to_vec(&self.header).unwrap_or_default()
    }

    /// Decrypt with a 32-byte key; `None` when the key is wrong or anything was altered.
    fn open_with_key(&self, key: &[u8; 32], what: &str) -> Result<Option<Archive>> {
        let mut buf = Zeroizing::new(self.ciphertext.clone());
        let Some(len) = aead_open(key, self.nonce, &self.aad(), &mut buf) else {
            return Ok(None);
        };
        let archive = Archive::from_json(&buf[..len], what)?;
        if archive.labels() != self.header.keys {
            return Err(corrupt(
                what,
                "the key list in the header does not match the archive",
            ));
        }
        Ok(Some(archive))
    }

    /// Decrypt a passphrase backup. A wrong passphrase is `WrongPassphrase` (exit 4).
    pub fn open_with_passphrase(&self, passphrase: &str, what: &str) -> Result<Archive> {
        let Kdf::Scrypt {
            log_n,
            r,
            p,
            salt,
            check,
        } = &self.header.kdf
        else {
            return Err(corrupt(
                what,
                "this backup is split into shares: restore it with --shares",
            ));
        };
        let salt = B64.decode(salt).map_err(|_| corrupt(what, "bad salt"))?;
        let (key, expected) = derive(
            passphrase,
            &salt,
            ScryptCost {
                log_n: *log_n,
                r: *r,
                p: *p,
            },
        )
        .map_err(|e| corrupt(what, e))?;
        if !expected.eq_ignore_ascii_case(check) {
            return Err(BackupError::WrongPassphrase {
                what: what.to_owned(),
            }
            .into());
        }
        self.open_with_key(&key, what)?.ok_or_else(|| {
            corrupt(
                what,
                "the passphrase is right but the archive does not decrypt: it was altered or damaged",
            )
        })
    }
}

fn label_text(k: &KeyLabel) -> String {
    match &k.gun {
        Some(g) => format!("{} {} {g}", k.id, role_word(&k.role)),
        None => format!("{} {}", k.id, role_word(&k.role)),
    }
}

fn role_word(role: &str) -> &str {
    if role.is_empty() {
        "-"
    } else {
        role
    }
}

/// The AES key and the passphrase check value for a passphrase and salt.
fn derive(
    passphrase: &str,
    salt: &[u8],
    cost: ScryptCost,
) -> std::result::Result<(Zeroizing<[u8; 32]>, String), String> {
    let params = pkcs5::scrypt::Params::new(cost.log_n, cost.r, cost.p, 64)
        .map_err(|e| format!("scrypt parameters: {e}"))?;
    let mut out = Zeroizing::new([0u8; 64]);
    pkcs5::scrypt::scrypt(passphrase.as_bytes(), salt, &params, &mut *out)
        .map_err(|e| format!("scrypt: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&out[..32]);
    let check = hex::encode(&Sha256::digest(&out[32..])[..16]);
    Ok((key, check))
}

fn aead_key(key: &[u8; 32]) -> ring::aead::LessSafeKey {
    ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
            .expect("a 32-byte key is valid for AES-256-GCM"),
    )
}

/// Encrypt `buf` in place and append the tag (`buf` must have room for it).
fn aead_seal(key: &[u8; 32], nonce: [u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) -> Result<()> {
    debug_assert!(buf.capacity() - buf.len() >= TAG_LEN);
    aead_key(key)
        .seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(aad),
            buf,
        )
        .map_err(|_| corrupt("backup", "encryption failed"))
}

/// Decrypt in place; the plaintext length, or `None` if the tag does not verify.
fn aead_open(key: &[u8; 32], nonce: [u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Option<usize> {
    aead_key(key)
        .open_in_place(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(aad),
            buf,
        )
        .ok()
        .map(|p| p.len())
}

/// Encrypt `archive` under `key` with the given KDF description.
fn seal(
    archive: &Archive,
    kdf: Kdf,
    key: &[u8; 32],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Envelope> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let header = Header {
        format: BACKUP_FORMAT.into(),
        version: VERSION,
        created: archive.created.clone(),
        keys: archive.labels(),
        kdf,
        cipher: CipherParams {
            name: CIPHER.into(),
            nonce: B64.encode(nonce),
        },
    };
    let aad = serde_json::to_vec(&header).map_err(|e| corrupt("backup", e.to_string()))?;
    let mut buf = archive.to_json()?;
    aead_seal(key, nonce, &aad, &mut buf)?;
    let wire = EnvelopeWire {
        header,
        ciphertext: B64.encode(&*buf),
    };
    let bytes = serde_json::to_vec(&wire).map_err(|e| corrupt("backup", e.to_string()))?;
    Envelope::parse(&bytes, "backup")
}

/// Seal an archive under a backup passphrase.
pub fn seal_with_passphrase(
    archive: &Archive,
    passphrase: &str,
    cost: ScryptCost,
) -> Result<Envelope> {
    if passphrase.is_empty() {
        return Err(BackupError::BadPassphrase {
            what: "backup passphrase".into(),
            reason: "empty".into(),
        }
        .into());
    }
    let mut salt = [0u8; SCRYPT_SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let (key, check) = derive(passphrase, &salt, cost).map_err(|e| corrupt("backup", e))?;
    let kdf = Kdf::Scrypt {
        log_n: cost.log_n,
        r: cost.r,
        p: cost.p,
        salt: B64.encode(salt),
        check,
    };
    seal(archive, kdf, &key, &mut OsRng)
}

/// Read a passphrase backup file (armoured, or the bare envelope JSON).
pub fn read_backup_file(bytes: &[u8], what: &str) -> Result<Envelope> {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        return Envelope::parse(trimmed, what);
    }
    let blocks = pemblock::parse_all(bytes).map_err(|e| corrupt(what, e))?;
    let mut blocks = blocks.into_iter().filter(|b| b.kind == PEM_TYPE);
    let block = blocks
        .next()
        .ok_or_else(|| corrupt(what, format!("no {PEM_TYPE} block")))?;
    if blocks.next().is_some() {
        return Err(corrupt(what, format!("more than one {PEM_TYPE} block")));
    }
    Envelope::parse(&block.bytes, what)
}

/// What a file given to restore or verify looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Backup,
    Share,
    Unknown,
}

pub fn sniff(bytes: &[u8]) -> FileKind {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]);
    let begin = format!("-----BEGIN {PEM_TYPE}-----");
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(SHARE_FORMAT) {
            return FileKind::Share;
        }
        if line == begin || line.starts_with("{\"header\"") {
            return FileKind::Backup;
        }
    }
    FileKind::Unknown
}

// ---------------------------------------------------------------------------------------
// Shares
// ---------------------------------------------------------------------------------------

/// A split backup: the envelope and the text of each share file.
pub struct SplitBackup {
    pub envelope: Envelope,
    /// Share `i + 1`'s file text.
    pub shares: Vec<Zeroizing<String>>,
}

fn share_digest(index: u8, value: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"vouch-key-share\0");
    h.update([index]);
    h.update(value);
    hex::encode(h.finalize())
}

/// The checksum ending a share line: 8 hex characters of SHA-256 over its other words.
fn line_checksum(content: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"vouch-share-line\0");
    h.update(content.as_bytes());
    hex::encode(&h.finalize()[..4])
}

fn end_digest(contents: &[Zeroizing<String>]) -> String {
    let mut h = Sha256::new();
    for c in contents {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

/// Seal `archive` under a random key and split that key into `total` shares, any
/// `threshold` of which restore it.
pub fn split_archive(
    archive: &Archive,
    threshold: usize,
    total: usize,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SplitBackup> {
    let mut key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut *key);
    let shares = shamir::split(&*key, threshold, total, rng).map_err(BackupError::Split)?;
    let kdf = Kdf::Shamir {
        threshold: threshold as u8,
        shares: total as u8,
        share_sha256: shares
            .iter()
            .map(|s| share_digest(s.index, &s.value))
            .collect(),
    };
    let envelope = seal(archive, kdf, &key, rng)?;
    let texts = shares
        .iter()
        .map(|s| share_text(&envelope, s, threshold, total))
        .collect();
    Ok(SplitBackup {
        envelope,
        shares: texts,
    })
}

fn share_text(
    env: &Envelope,
    share: &shamir::Share,
    threshold: usize,
    total: usize,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    // Every line but the end line, for the end line's digest; the secret line is one.
    let mut contents: Vec<Zeroizing<String>> = Vec::new();
    let mut line = |out: &mut String, content: String| {
        out.push_str(&content);
        out.push(' ');
        out.push_str(&line_checksum(&content));
        out.push('\n');
        contents.push(Zeroizing::new(content));
    };
    let i = share.index;
    out.push_str(&format!(
        "# vouch key backup, share {i} of {total}. Any {threshold} of the {total} shares restore the\n\
         # backup; fewer reveal nothing about it. Keep each share in a different place.\n\
         # Created {}. It holds {} key(s); the key files inside stay encrypted under their\n\
         # own passphrases, which are needed to use the keys after a restore.\n\
         # Check: vouch key backup verify SHARE...   Restore: vouch key restore --shares SHARE...\n\
         # Lines starting with # are comments. Every other line ends with a checksum of its\n\
         # other words, so a mistyped line is reported by number.\n",
        env.created(),
        env.keys().len()
    ));
    line(
        &mut out,
        format!(
            "{SHARE_FORMAT} v{VERSION} share={i}/{total} threshold={threshold} archive=sha256:{}",
            env.fingerprint()
        ),
    );
    for k in env.keys() {
        line(&mut out, format!("key {}", label_text(k)));
    }
    let hex = Zeroizing::new(hex::encode(&*share.value));
    let groups: Vec<&str> = hex
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    line(&mut out, format!("secret {}", groups.join(" ")));
    let data = B64.encode(env.bytes());
    let chunks: Vec<&[u8]> = data.as_bytes().chunks(SHARE_LINE).collect();
    let n = chunks.len();
    for (j, c) in chunks.iter().enumerate() {
        line(
            &mut out,
            format!(
                "data {}/{n} {}",
                j + 1,
                std::str::from_utf8(c).unwrap_or_default()
            ),
        );
    }
    let end = format!("end {}", end_digest(&contents));
    out.push_str(&end);
    out.push(' ');
    out.push_str(&line_checksum(&end));
    out.push('\n');
    out
}

/// One share file, parsed and checked on its own.
pub struct ShareFile {
    /// How the file was named (for messages).
    pub name: String,
    pub index: u8,
    pub threshold: u8,
    pub total: u8,
    /// Hex SHA-256 of the envelope.
    pub fingerprint: String,
    pub keys: Vec<KeyLabel>,
    value: Zeroizing<Vec<u8>>,
    envelope: Envelope,
}

impl std::fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ShareFile({}, {}/{} k={}, {})",
            self.name, self.index, self.total, self.threshold, self.fingerprint
        )
    }
}

/// Parse a share file and check it on its own: every line's checksum, the end line, its
/// copy of the archive against its fingerprint, its secret against the archive's list of
/// share digests.
pub fn parse_share(name: &str, bytes: &[u8]) -> Result<ShareFile> {
    let text = std::str::from_utf8(bytes).map_err(|_| share_err(name, None, "not a text file"))?;
    let mut contents: Vec<Zeroizing<String>> = Vec::new();
    let mut head: Option<(u8, u8, u8, String)> = None;
    let mut keys = Vec::new();
    let mut value: Option<Zeroizing<Vec<u8>>> = None;
    let mut data = String::new();
    let mut data_lines = 0usize;
    let mut data_total: Option<usize> = None;
    let mut ended = false;
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if ended {
            return Err(share_err(name, Some(lineno), "text after the end line"));
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if head.is_none() && words[0] != SHARE_FORMAT {
            return Err(share_err(
                name,
                Some(lineno),
                format!("not a vouch key share (the first line should start with {SHARE_FORMAT})"),
            ));
        }
        let (check, words) = words.split_last().expect("a non-empty line has a word");
        if words.is_empty() {
            return Err(share_err(name, Some(lineno), "a line with only one word"));
        }
        let content = Zeroizing::new(words.join(" "));
        if !line_checksum(&content).eq_ignore_ascii_case(check) {
            return Err(share_err(
                name,
                Some(lineno),
                format!(
                    "checksum mismatch: the line was mistyped or changed ({}…)",
                    words[0]
                ),
            ));
        }
        let bad = |reason: &str| share_err(name, Some(lineno), reason.to_owned());
        match words[0] {
            SHARE_FORMAT if head.is_none() => {
                let [_, version, share, threshold, archive] = words else {
                    return Err(bad("the header line should have 5 words"));
                };
                if *version != format!("v{VERSION}") {
                    return Err(BackupError::TooNew {
                        what: format!("share {name}"),
                        found: format!("share format {version}"),
                    }
                    .into());
                }
                let (i, total) = share
                    .strip_prefix("share=")
                    .and_then(|s| s.split_once('/'))
                    .and_then(|(i, t)| Some((i.parse::<u8>().ok()?, t.parse::<u8>().ok()?)))
                    .ok_or_else(|| bad("bad share=I/N"))?;
                let k = threshold
                    .strip_prefix("threshold=")
                    .and_then(|t| t.parse::<u8>().ok())
                    .ok_or_else(|| bad("bad threshold=K"))?;
                let fp = archive
                    .strip_prefix("archive=sha256:")
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| bad("bad archive=sha256:…"))?
                    .to_ascii_lowercase();
                if i == 0 || i > total || k < 2 || k > total {
                    return Err(bad("impossible share number or threshold"));
                }
                head = Some((i, k, total, fp));
            }
            "key" if value.is_none() && data_lines == 0 => {
                let (id, role, gun) = match words {
                    [_, id, role] => (id, role, None),
                    [_, id, role, gun] => (id, role, Some(gun.to_string())),
                    _ => return Err(bad("a key line is: key ID ROLE [GUN]")),
                };
                keys.push(KeyLabel {
                    id: id.to_string(),
                    role: if *role == "-" {
                        String::new()
                    } else {
                        role.to_string()
                    },
                    gun,
                });
            }
            "secret" if value.is_none() && data_lines == 0 => {
                let hex_text = Zeroizing::new(words[1..].concat());
                let v =
                    hex::decode(&*hex_text).map_err(|_| bad("the secret is not hexadecimal"))?;
                value = Some(Zeroizing::new(v));
            }
            "data" if value.is_some() => {
                let [_, pos, chunk] = words else {
                    return Err(bad("a data line is: data I/N BASE64"));
                };
                let (i, total) = pos
                    .split_once('/')
                    .and_then(|(i, t)| Some((i.parse::<usize>().ok()?, t.parse::<usize>().ok()?)))
                    .ok_or_else(|| bad("bad data line number"))?;
                if i != data_lines + 1 || data_total.is_some_and(|t| t != total) || i > total {
                    return Err(bad(&format!(
                        "data line {i}/{total} out of order: expected {}",
                        data_lines + 1
                    )));
                }
                data_total = Some(total);
                data_lines += 1;
                data.push_str(chunk);
            }
            "end" => {
                let [_, digest] = words else {
                    return Err(bad("an end line is: end DIGEST"));
                };
                if data_total != Some(data_lines) {
                    return Err(bad(&format!(
                        "only {data_lines} of {} data lines",
                        data_total.unwrap_or(0)
                    )));
                }
                if !end_digest(&contents).eq_ignore_ascii_case(digest) {
                    return Err(bad(
                        "the lines above do not add up to the end line: a line is missing, repeated or out of place",
                    ));
                }
                ended = true;
                continue;
            }
            other => return Err(bad(&format!("unexpected {other:?} line here"))),
        }
        contents.push(content);
    }
    drop(contents);
    if !ended {
        return Err(share_err(
            name,
            None,
            "no end line: the share is incomplete",
        ));
    }
    let (index, threshold, total, fingerprint) = head.expect("the header comes first");
    let value = value.ok_or_else(|| share_err(name, None, "no secret line"))?;
    let env_bytes = B64
        .decode(data.as_bytes())
        .map_err(|e| share_err(name, None, format!("data lines: {e}")))?;
    if hex::encode(Sha256::digest(&env_bytes)) != fingerprint {
        return Err(share_err(
            name,
            None,
            "its copy of the archive does not match the archive fingerprint on its first line",
        ));
    }
    let envelope = Envelope::parse(&env_bytes, &format!("share {name}"))?;
    let Kdf::Shamir {
        threshold: k,
        shares: n,
        share_sha256,
    } = &envelope.header.kdf
    else {
        return Err(share_err(name, None, "its archive is not a split backup"));
    };
    if (*k, *n) != (threshold, total) {
        return Err(share_err(
            name,
            None,
            "its first line and its archive disagree about the threshold",
        ));
    }
    if keys != envelope.header.keys {
        return Err(share_err(
            name,
            None,
            "its key lines do not match the keys in its archive",
        ));
    }
    if value.len() != 32
        || share_sha256.get(usize::from(index) - 1) != Some(&share_digest(index, &value))
    {
        return Err(share_err(
            name,
            None,
            format!("its secret (share {index}) does not match the archive: the share is damaged or forged"),
        ));
    }
    Ok(ShareFile {
        name: name.to_owned(),
        index,
        threshold,
        total,
        fingerprint,
        keys,
        value,
        envelope,
    })
}

/// Combine shares (each already checked by [`parse_share`]) and decrypt the archive.
pub fn combine_shares(shares: &[ShareFile]) -> Result<(Envelope, Archive)> {
    let first = shares.first().ok_or_else(|| {
        KeystoreError::from(BackupError::NotEnoughShares {
            have: 0,
            need: 2,
            given: "none".into(),
        })
    })?;
    // All from one backup: same fingerprint. Name the odd ones out.
    let mut groups: BTreeMap<&str, Vec<&ShareFile>> = BTreeMap::new();
    for s in shares {
        groups.entry(&s.fingerprint).or_default().push(s);
    }
    if groups.len() > 1 {
        let mut sizes: Vec<(usize, &str)> = groups.iter().map(|(f, v)| (v.len(), *f)).collect();
        sizes.sort_by(|a, b| b.cmp(a));
        let describe = |v: &[&ShareFile]| {
            v.iter()
                .map(|s| format!("{} (share {})", s.name, s.index))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let reason = if sizes[0].0 > sizes[1].0 {
            let majority = sizes[0].1;
            let odd: Vec<&ShareFile> = shares
                .iter()
                .filter(|s| s.fingerprint != majority)
                .collect();
            format!(
                "{} {} from another backup or altered: archive fingerprint differs from the other shares' sha256:{}",
                describe(&odd),
                if odd.len() == 1 { "is" } else { "are" },
                &majority[..16]
            )
        } else {
            groups
                .iter()
                .map(|(f, v)| format!("{} say sha256:{}", describe(v), &f[..16]))
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(BackupError::Mismatch { reason }.into());
    }
    let mut distinct: Vec<&ShareFile> = Vec::new();
    for s in shares {
        if let Some(other) = distinct.iter().find(|d| d.index == s.index) {
            let reason = format!(
                "{} and {} are both share {}{}",
                other.name,
                s.name,
                s.index,
                if *other.value == *s.value {
                    " (the same share twice)"
                } else {
                    ""
                }
            );
            return Err(BackupError::Mismatch { reason }.into());
        }
        distinct.push(s);
    }
    let need = usize::from(first.threshold);
    if distinct.len() < need {
        return Err(BackupError::NotEnoughShares {
            have: distinct.len(),
            need,
            given: distinct
                .iter()
                .map(|s| format!("share {} of {}", s.index, s.total))
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    }
    let parts: Vec<shamir::Share> = distinct
        .iter()
        .map(|s| shamir::Share {
            index: s.index,
            value: s.value.clone(),
        })
        .collect();
    let secret = shamir::combine(&parts).map_err(|e| {
        KeystoreError::from(BackupError::Mismatch {
            reason: e.to_string(),
        })
    })?;
    let key: Zeroizing<[u8; 32]> = Zeroizing::new(
        secret[..]
            .try_into()
            .map_err(|_| corrupt("shares", "the combined key is not 32 bytes"))?,
    );
    let env = first.envelope.clone();
    match env.open_with_key(&key, "the combined shares")? {
        Some(archive) => Ok((env, archive)),
        None => Err(BackupError::SharesDoNotCombine {
            fingerprint: env.fingerprint(),
        }
        .into()),
    }
}

// ---------------------------------------------------------------------------------------
// Restoring
// ---------------------------------------------------------------------------------------

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
    pub fn plan_restore(&self, archive: &Archive) -> Result<RestoreReport> {
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

    /// Write the archive's keys (byte for byte, where they were) and any missing cached
    /// root.json. All or nothing for keys: if any key ID is already in the store as a
    /// different file, nothing is written and the error names those files.
    pub fn restore_archive(&self, archive: &Archive) -> Result<RestoreReport> {
        let _lock = self.write_lock()?;
        let report = self.plan_restore(archive)?;
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

    fn root_json_path(&self, gun: &str) -> PathBuf {
        let mut p = self.trust_dir().join("tuf");
        for seg in gun.split('/') {
            p.push(seg);
        }
        p.join("metadata").join("root.json")
    }
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
