//! The archive: the plaintext inside a backup (key files and the root.json they need).

use super::*;
use crate::crypto::CanonicalKeyId as _;

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

    pub(super) fn labels(&self) -> Vec<KeyLabel> {
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
    pub(super) fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
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
    pub(super) fn from_json(bytes: &[u8], what: &str) -> Result<Archive> {
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
pub(super) fn check_archived_key(k: &ArchivedKey) -> std::result::Result<(), String> {
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
pub(super) struct ArchiveWire {
    format: String,
    version: u32,
    created: String,
    keys: Vec<KeyWire>,
    metadata: Vec<RootWire>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyWire {
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
pub(super) struct RootWire {
    gun: String,
    /// base64 of root.json.
    root_json: String,
}

pub(super) fn check_version(v: &serde_json::Value, what: &str) -> Result<()> {
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
pub(super) fn root_key_ids(root_json: &[u8]) -> std::result::Result<BTreeSet<KeyId>, String> {
    let signed = crate::tuf::Signed::<crate::tuf::root::Root>::from_bytes(root_json)
        .map_err(|e| e.to_string())?;
    let root = signed.untrusted();
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
pub(super) fn delegation_key_ids(targets_json: &[u8]) -> BTreeSet<KeyId> {
    crate::tuf::Signed::<crate::tuf::targets::Targets>::from_bytes(targets_json)
        .map(|s| {
            s.untrusted()
                .delegations
                .keys
                .values()
                .filter_map(|k: &PublicKey| k.canonical_key_id().ok())
                .collect()
        })
        .unwrap_or_default()
}
