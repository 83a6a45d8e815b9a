//! Keys on a PKCS#11 token, as the key store records them: `private/<key ID>.pkcs11`, a
//! small JSON file with the key's URI, role, GUN and public key. It holds no secret.
//!
//! notary lists only `*.key` files under `private/`, so it never reads these files: the
//! same trust directory keeps working with the notary CLI (which sees the repository's
//! root certificate and signatures as usual, and simply does not hold the token key).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::format::FileFormat;
use super::fsio;
use super::info::KeyInfo;
use super::role::{role_takes_gun, validate_role_gun};
use super::KeystoreError;
use crate::crypto::pkcs11::Pkcs11Uri;
use crate::crypto::private::PrivateKey;
use crate::tuf::keys::{self as tufkeys, KeyId, PublicKey};

/// The file name suffix of a token key reference.
pub const SUFFIX: &str = ".pkcs11";
const KIND: &str = "vouch-pkcs11-key";
/// Largest reference file read.
const MAX_SIZE: u64 = 16 * 1024;

type Result<T> = std::result::Result<T, KeystoreError>;

/// What a reference file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub uri: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gun: Option<String>,
    /// Base64 DER SubjectPublicKeyInfo of the ECDSA P-256 key.
    pub public_key: String,
}

impl TokenRef {
    /// The record of `key`, which must be a token key.
    pub fn new(key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<TokenRef> {
        validate_role_gun(role, gun)?;
        let token = key.token().ok_or_else(|| KeystoreError::BadInput {
            what: format!("key {}", key.key_id()),
            reason: "not a key on a PKCS#11 token".into(),
        })?;
        Ok(TokenRef {
            kind: KIND.to_owned(),
            uri: token.uri().to_string(),
            role: role.to_owned(),
            gun: gun.map(str::to_owned),
            public_key: base64::engine::general_purpose::STANDARD.encode(key.public_key().public),
        })
    }

    pub fn public_key(&self) -> std::result::Result<PublicKey, String> {
        let der = base64::engine::general_purpose::STANDARD
            .decode(&self.public_key)
            .map_err(|e| format!("public_key is not base64: {e}"))?;
        Ok(PublicKey::new(tufkeys::ECDSA, der))
    }

    /// The uncompressed public point (the SPKI's last 65 bytes).
    pub fn point(&self) -> std::result::Result<[u8; 65], String> {
        let der = self.public_key()?.public.clone();
        der.len()
            .checked_sub(65)
            .and_then(|at| <[u8; 65]>::try_from(&der[at..]).ok())
            .filter(|p| p[0] == 4 && der.len() == 91)
            .ok_or_else(|| "public_key is not an ECDSA P-256 key".to_string())
    }

    pub fn parsed_uri(&self) -> std::result::Result<Pkcs11Uri, String> {
        Pkcs11Uri::parse(&self.uri).map_err(|e| e.to_string())
    }

    pub fn key_id(&self) -> std::result::Result<KeyId, String> {
        Ok(self.public_key()?.key_id())
    }

    pub fn info(&self, id: KeyId, path: PathBuf) -> KeyInfo {
        KeyInfo {
            id,
            role: self.role.clone(),
            gun: self.gun.clone().filter(|_| role_takes_gun(&self.role)),
            algorithm: Some(tufkeys::ECDSA.to_owned()),
            path,
            format: FileFormat::Token {
                uri: self.uri.clone(),
            },
            legacy_layout: false,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// The reference file of key `id`.
pub(crate) fn path(private_dir: &Path, id: &KeyId) -> PathBuf {
    private_dir.join(format!("{id}{SUFFIX}"))
}

/// Read and check a reference file: its name must be the ID of the public key it records.
pub(crate) fn read(path: &Path) -> Result<(KeyId, TokenRef)> {
    let corrupt = |reason: String| KeystoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fsio::read_key_file(path)?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(corrupt(format!("larger than {MAX_SIZE} bytes")));
    }
    let r: TokenRef = serde_json::from_slice(&bytes)
        .map_err(|e| corrupt(format!("not a PKCS#11 key reference: {e}")))?;
    if r.kind != KIND {
        return Err(corrupt(format!("type is {:?}, not {KIND:?}", r.kind)));
    }
    r.parsed_uri().map_err(corrupt)?;
    r.point().map_err(corrupt)?;
    let id = r.key_id().map_err(corrupt)?;
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(SUFFIX))
        .unwrap_or_default();
    if named != id.as_str() {
        return Err(KeystoreError::IdMismatch {
            path: path.to_path_buf(),
            expected: named.to_owned(),
            actual: id.to_string(),
        });
    }
    Ok((id, r))
}

/// Every reference file directly under `private_dir` (symlinks and dot files skipped).
pub(crate) fn list(private_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(private_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(KeystoreError::io("list", private_dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(SUFFIX) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::private::Algorithm;

    fn record(uri: &str) -> (KeyId, TokenRef) {
        let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
        let r = TokenRef {
            kind: KIND.to_owned(),
            uri: uri.to_owned(),
            role: "root".to_owned(),
            gun: None,
            public_key: base64::engine::general_purpose::STANDARD.encode(key.public_key().public),
        };
        (key.key_id(), r)
    }

    #[test]
    fn a_reference_reads_back_under_its_key_id() {
        let dir = tempfile::tempdir().unwrap();
        let (id, r) = record("pkcs11:token=t;object=k");
        let p = path(dir.path(), &id);
        std::fs::write(&p, r.encode()).unwrap();
        let (got, back) = read(&p).unwrap();
        assert_eq!((got, back), (id.clone(), r));
        assert_eq!(list(dir.path()).unwrap(), vec![p.clone()]);
        let info = read(&p).unwrap().1.info(id, p);
        assert!(
            matches!(info.format, FileFormat::Token { ref uri } if uri == "pkcs11:token=t;object=k")
        );
        assert!(!info.format.is_encrypted() && !info.format.notary_readable());
    }

    #[test]
    fn damaged_references_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (id, r) = record("pkcs11:token=t;object=k");
        let p = path(dir.path(), &id);
        let write = |v: &TokenRef| std::fs::write(&p, v.encode()).unwrap();
        // Filed under another key's ID.
        let other = dir.path().join(format!("{}{SUFFIX}", "0".repeat(64)));
        std::fs::write(&other, r.encode()).unwrap();
        assert!(matches!(
            read(&other),
            Err(KeystoreError::IdMismatch { .. })
        ));
        for (bad, why) in [
            (
                TokenRef {
                    kind: "other".into(),
                    ..r.clone()
                },
                "type",
            ),
            (
                TokenRef {
                    uri: "token=t".into(),
                    ..r.clone()
                },
                "pkcs11:",
            ),
            (
                TokenRef {
                    public_key: "AAAA".into(),
                    ..r.clone()
                },
                "P-256",
            ),
        ] {
            write(&bad);
            let e = read(&p).unwrap_err();
            assert!(e.to_string().contains(why), "{why}: {e}");
        }
        std::fs::write(&p, br#"{"type":"vouch-pkcs11-key","uri":"pkcs11:","role":"root","public_key":"","pin":"1"}"#).unwrap();
        assert!(matches!(read(&p), Err(KeystoreError::Corrupt { .. })));
    }
}
