//! Where key files live under `<trust_dir>/private` (protocol §6.1, §6.4).
//!
//! - notary ≥ 0.4 and vouch: `private/<canonical key ID>.key` (any sub-directory is
//!   listed too, as notary does; the ID is the file's base name).
//! - notary ≤ 0.3: `private/root_keys/<id>[_root].key`, `private/tuf_keys/<gun>/<id>[_<role>].key`
//!   and `private/tuf_keys/<id>.key`. Listed and loaded in place, never migrated: the GUN
//!   comes from the directory, the role from the `_<role>` suffix when the file has no
//!   `role` header.

use std::path::{Path, PathBuf};

use crate::tuf::KeyId;

pub const ROOT_KEYS_DIR: &str = "root_keys";
pub const TUF_KEYS_DIR: &str = "tuf_keys";

/// What a key file's path says about it.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub id: KeyId,
    pub path: PathBuf,
    /// Role from a legacy `_<role>` suffix, or `root` for `root_keys/`.
    pub path_role: Option<String>,
    /// GUN from a legacy `tuf_keys/<gun>/` directory.
    pub path_gun: Option<String>,
    /// Found in a notary ≤ 0.3 directory.
    pub legacy: bool,
}

/// Interpret `path` (a `*.key` file under `private_dir`). `Err` says why it is not a key file.
pub(crate) fn locate(private_dir: &Path, path: &Path) -> Result<Location, String> {
    let rel = path
        .strip_prefix(private_dir)
        .map_err(|_| "outside the key directory".to_string())?;
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".key"))
        .ok_or_else(|| "file name is not UTF-8".to_string())?;
    let (id_part, suffix) = match stem.split_once('_') {
        Some((id, role)) => (id, Some(role.to_owned())),
        None => (stem, None),
    };
    let id = KeyId::parse(id_part)
        .map_err(|_| format!("file name {stem:?} is not a key ID (64 lowercase hex characters)"))?;
    let dirs: Vec<String> = rel
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let (legacy, path_role, path_gun) = match dirs.first().map(String::as_str) {
        Some(ROOT_KEYS_DIR) => (true, suffix.or(Some("root".to_owned())), None),
        Some(TUF_KEYS_DIR) => {
            let gun = dirs[1..].join("/");
            (true, suffix, (!gun.is_empty()).then_some(gun))
        }
        _ => (false, suffix, None),
    };
    Ok(Location {
        id,
        path: path.to_path_buf(),
        path_role,
        path_gun,
        legacy,
    })
}

/// The path a key with this ID is written to.
pub(crate) fn key_path(private_dir: &Path, id: &KeyId) -> PathBuf {
    private_dir.join(format!("{id}.key"))
}
