//! Collecting a backup from a key store.

use super::*;

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
pub(super) struct CachedRepo {
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
            // Keys on PKCS#11 tokens never leave them: not in any backup.
            .filter(|k| !matches!(k.format, crate::keystore::FileFormat::Token { .. }))
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

pub(super) fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE)
        .read_to_end(&mut buf)
        .ok()?;
    Some(buf)
}
