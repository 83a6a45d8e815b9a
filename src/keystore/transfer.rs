//! Moving keys in and out of the store: `key import` and `key export`.
//!
//! Export follows `notary key export` (`trustmanager/keys.go`): the stored block plus a
//! `path: <key ID>` header, which `notary key import` and `docker trust key load` need to
//! accept an encrypted key. Import accepts that, plain and encrypted PKCS#8 (openssl),
//! legacy PEM types, several blocks per input, and notary ≤ 0.3 `path` values
//! (`tuf_keys/<gun>/<id>_<role>`). Unlike notary, vouch decrypts every imported key: the
//! stored file name is the key ID computed from the key, and an ID claimed by the `path`
//! header or the input's file name must match it.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::format::{self, FileFormat, KeyFormat, ALGORITHM_HEADER};
use super::info::KeyInfo;
use super::layout::{self, TUF_KEYS_DIR};
use super::passphrase::{PassphraseRequest, PassphraseSource, Secret};
use super::pemblock::{self, PemBlock};
use super::role::{role_takes_gun, validate_gun, validate_role};
use super::store::{encode_new, KeyStore};
use super::unlock::{self, Target};
use super::{fsio, KeystoreError};
use crate::crypto::CryptoError;
use crate::tuf::KeyId;

type Result<T> = std::result::Result<T, KeystoreError>;

/// The export encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// vouch's scrypt format (unencrypted keys stay unencrypted).
    Vouch,
    /// What notary 0.7 writes, so `notary key import` / `docker trust key load` accept it.
    Notary,
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Role for every imported key; overrides a `role` header.
    pub role: Option<String>,
    /// GUN for targets/snapshot/timestamp keys; overrides a `gun` header.
    pub gun: Option<String>,
    /// How to store keys that arrive unencrypted (a new passphrase is asked unless this is
    /// [`KeyFormat::Unencrypted`]). Encrypted keys are stored as they are.
    pub unencrypted_as: KeyFormat,
    /// Replace a key that is already in the store (otherwise it is left as it is).
    pub overwrite: bool,
    /// The input's file name, for messages; a `<key ID>[_<role>].key` name must match the key.
    pub source_name: Option<String>,
}

/// What happened to one imported key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    Replaced,
    /// The store already had this key; its file was left unchanged.
    AlreadyPresent,
}

#[derive(Debug, Clone)]
pub struct ImportedKey {
    pub info: KeyInfo,
    pub outcome: ImportOutcome,
}

/// One key ready to be written.
struct Prepared {
    info: KeyInfo,
    text: Zeroizing<String>,
    asked: Option<(PassphraseRequest, Secret)>,
}

impl KeyStore {
    /// Import every private key block in `input`. Everything is checked and decrypted
    /// before anything is written; on error the store is unchanged.
    pub fn import(
        &self,
        input: &[u8],
        opts: &ImportOptions,
        pass: &dyn PassphraseSource,
    ) -> Result<Vec<ImportedKey>> {
        let source = PathBuf::from(opts.source_name.as_deref().unwrap_or("<import input>"));
        if let Some(r) = &opts.role {
            validate_role(r)?;
        }
        if let Some(g) = &opts.gun {
            validate_gun(g)?;
        }
        let blocks: Vec<PemBlock> = pemblock::parse_all(input)
            .map_err(|reason| KeystoreError::Corrupt {
                path: source.clone(),
                reason,
            })?
            .into_iter()
            .filter(|b| format::is_key_block(&b.kind))
            .collect();
        if blocks.is_empty() {
            return Err(KeystoreError::NoKeys {
                what: source.display().to_string(),
            });
        }
        let name_claim = (blocks.len() == 1)
            .then(|| opts.source_name.as_deref().and_then(claim_from_name))
            .flatten();
        let mut prepared: Vec<Prepared> = Vec::new();
        for block in &blocks {
            let p = self.prepare(block, name_claim.as_ref(), opts, &source, pass)?;
            if !prepared.iter().any(|q| q.info.id == p.info.id) {
                prepared.push(p);
            }
        }
        let mut out = Vec::new();
        {
            let _lock = self.write_lock()?;
            for p in &prepared {
                let existing = self.locations(&p.info.id)?;
                let outcome = match (existing.is_empty(), opts.overwrite) {
                    (true, _) => ImportOutcome::Imported,
                    (false, true) => ImportOutcome::Replaced,
                    (false, false) => {
                        let info = self.info(&p.info.id)?;
                        out.push(ImportedKey {
                            info,
                            outcome: ImportOutcome::AlreadyPresent,
                        });
                        continue;
                    }
                };
                fsio::write_atomic(&p.info.path, p.text.as_bytes())?;
                for old in existing.iter().filter(|l| l.path != p.info.path) {
                    fsio::remove_durable(&old.path)?;
                }
                out.push(ImportedKey {
                    info: p.info.clone(),
                    outcome,
                });
            }
        }
        for p in &prepared {
            if let Some((req, secret)) = &p.asked {
                pass.report(req, secret, true);
            }
        }
        Ok(out)
    }

    fn prepare(
        &self,
        block: &PemBlock,
        name_claim: Option<&(KeyId, Option<String>)>,
        opts: &ImportOptions,
        source: &Path,
        pass: &dyn PassphraseSource,
    ) -> Result<Prepared> {
        // notary's handleLegacyPath: `tuf_keys/<gun>/<id>[_role]` → gun from the directories.
        let raw_path = block.header("path").unwrap_or_default();
        let (path_claim, path_gun) = parse_path_header(raw_path);
        let claim = path_claim.as_ref().or(name_claim);
        let role = opts
            .role
            .clone()
            .or_else(|| block.header("role").map(str::to_owned))
            .or_else(|| claim.and_then(|c| c.1.clone()))
            .ok_or_else(|| KeystoreError::RoleRequired {
                what: source.display().to_string(),
            })?;
        validate_role(&role)?;
        let gun = if role_takes_gun(&role) {
            let g = opts
                .gun
                .clone()
                .or_else(|| block.header("gun").map(str::to_owned))
                .or(path_gun);
            let g = g.ok_or_else(|| KeystoreError::GunRequired { role: role.clone() })?;
            validate_gun(&g)?;
            Some(g)
        } else if let Some(g) = &opts.gun {
            return Err(KeystoreError::GunNotAllowed {
                role,
                gun: g.clone(),
            });
        } else {
            None
        };
        let file_format = format::classify(block).map_err(|e| {
            Target {
                id: claim.map(|c| &c.0),
                role: &role,
                path: source,
            }
            .error(e)
        })?;
        let t = Target {
            id: claim.map(|c| &c.0),
            role: &role,
            path: source,
        };
        let (key, _) = unlock::unlock(block, &t, pass)?;
        let id = key.key_id();
        if let Some((claimed, _)) = claim {
            if *claimed != id {
                return Err(KeystoreError::IdMismatch {
                    path: source.to_path_buf(),
                    expected: claimed.to_string(),
                    actual: id.to_string(),
                });
            }
        }
        let (stored, asked) = if file_format.is_encrypted() {
            // Keep the encryption as it is; only the headers are normalised.
            let mut b = PemBlock::new(&block.kind, block.bytes.clone());
            b.headers = block.headers.clone();
            for h in ["path", "role", "gun", ALGORITHM_HEADER] {
                b.headers.remove(h);
            }
            set_identity(&mut b, &role, gun.as_deref());
            if matches!(file_format, FileFormat::Scrypt { .. }) {
                b.headers
                    .insert(ALGORITHM_HEADER.into(), key.algorithm().as_str().into());
            }
            (b, None)
        } else {
            encode_new(&key, &role, gun.as_deref(), opts.unencrypted_as, pass, None)?
        };
        let text = stored.encode().map_err(|reason| KeystoreError::BadInput {
            what: source.display().to_string(),
            reason,
        })?;
        let path = layout::key_path(self.private_dir(), &id);
        let format = format::classify(&stored).map_err(|e| t.error(e))?;
        Ok(Prepared {
            info: KeyInfo {
                id,
                role,
                gun,
                algorithm: Some(key.algorithm().as_str().to_owned()),
                path,
                format,
                legacy_layout: false,
            },
            text,
            asked,
        })
    }

    /// Export one key as a PEM block with a `path` header (see [`ExportFormat`]). A key is
    /// decrypted (with `pass`) only when it must be re-encrypted into the other format; it
    /// keeps its passphrase.
    pub fn export(
        &self,
        id: &KeyId,
        format: ExportFormat,
        pass: &dyn PassphraseSource,
    ) -> Result<Zeroizing<String>> {
        let (info, block, _) = self.read(id)?;
        let reencrypt = match (format, &info.format) {
            (ExportFormat::Notary, f) => !f.notary_readable(),
            (ExportFormat::Vouch, FileFormat::Scrypt { .. } | FileFormat::Unencrypted) => false,
            (ExportFormat::Vouch, _) => true,
        };
        let gun = info.gun.as_deref().filter(|_| role_takes_gun(&info.role));
        let mut out = if reencrypt {
            let (key, secret) = self.open_block(&info, &block, pass)?;
            let secret = secret.ok_or_else(|| KeystoreError::Corrupt {
                path: info.path.clone(),
                reason: "expected an encrypted key".into(),
            })?;
            let target = if format == ExportFormat::Notary {
                KeyFormat::Notary
            } else {
                KeyFormat::Vouch
            };
            format::encode(
                &key,
                &info.role,
                gun,
                target,
                Some(secret.expose().as_bytes()),
                None,
            )
            .map_err(|reason| KeystoreError::Crypto {
                id: id.to_string(),
                source: CryptoError::InvalidKey(reason),
            })?
        } else {
            let mut b = PemBlock::new(&block.kind, block.bytes.clone());
            b.headers = block.headers.clone();
            if format == ExportFormat::Notary {
                b.headers.remove(ALGORITHM_HEADER);
            }
            set_identity(&mut b, &info.role, gun);
            b
        };
        out.headers.insert("path".into(), id.to_string());
        out.encode().map_err(|reason| KeystoreError::BadInput {
            what: format!("key {id}"),
            reason,
        })
    }
}

fn set_identity(b: &mut PemBlock, role: &str, gun: Option<&str>) {
    b.headers.remove("gun");
    if !role.is_empty() {
        b.headers.insert("role".into(), role.to_owned());
    }
    if let Some(g) = gun {
        b.headers.insert("gun".into(), g.to_owned());
    }
}

/// `<id>` or `<id>_<role>`, as in key file names and `path` headers.
fn parse_stem(stem: &str) -> Option<(KeyId, Option<String>)> {
    let (id, role) = match stem.split_once('_') {
        Some((id, role)) => (id, Some(role.to_owned())),
        None => (stem, None),
    };
    KeyId::parse(id).ok().map(|id| (id, role))
}

/// A key ID claimed by an input file name such as `<id>.key` or `<id>_root.key`.
fn claim_from_name(name: &str) -> Option<(KeyId, Option<String>)> {
    let base = Path::new(name).file_name()?.to_str()?;
    parse_stem(base.strip_suffix(".key").unwrap_or(base))
}

/// notary's `path` header: a key ID (and role suffix) and, for paths under `tuf_keys/`, a GUN.
fn parse_path_header(raw: &str) -> (Option<(KeyId, Option<String>)>, Option<String>) {
    if raw.is_empty() {
        return (None, None);
    }
    let (dir, base) = raw.rsplit_once('/').unwrap_or(("", raw));
    let gun = dir
        .strip_prefix(TUF_KEYS_DIR)
        .map(|g| g.trim_matches('/').to_owned())
        .filter(|g| !g.is_empty());
    (parse_stem(base.strip_suffix(".key").unwrap_or(base)), gun)
}
