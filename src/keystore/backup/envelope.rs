//! The envelope: public header and AES-256-GCM ciphertext, sealed under a passphrase or a
//! random key.

use super::*;

pub(super) const TAG_LEN: usize = 16;
pub(super) const NONCE_LEN: usize = 12;

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
pub(super) enum Kdf {
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
pub(super) struct CipherParams {
    name: String,
    /// base64
    nonce: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Header {
    format: String,
    version: u32,
    created: String,
    pub(super) keys: Vec<KeyLabel>,
    pub(super) kdf: Kdf,
    cipher: CipherParams,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EnvelopeWire {
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
    pub(super) header: Header,
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
                let d = ScryptCost::DEFAULT;
                crate::keystore::encryption::check_scrypt_cost(
                    1u64.checked_shl(u32::from(*log_n)).unwrap_or(u64::MAX),
                    u64::from(*r),
                    u64::from(*p),
                    MAX_SCRYPT_WORK,
                    MAX_SCRYPT_MEMORY,
                    &format!("N=2^{} r={} p={}", d.log_n, d.r, d.p),
                )
                .map_err(|reason| BackupError::TooCostly {
                    what: what.to_owned(),
                    reason,
                })?;
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
    pub(super) fn open_with_key(&self, key: &[u8; 32], what: &str) -> Result<Option<Archive>> {
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

pub(super) fn label_text(k: &KeyLabel) -> String {
    match &k.gun {
        Some(g) => format!("{} {} {g}", k.id, role_word(&k.role)),
        None => format!("{} {}", k.id, role_word(&k.role)),
    }
}

pub(super) fn role_word(role: &str) -> &str {
    if role.is_empty() {
        "-"
    } else {
        role
    }
}

/// The AES key and the passphrase check value for a passphrase and salt.
pub(super) fn derive(
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

pub(super) fn aead_key(key: &[u8; 32]) -> ring::aead::LessSafeKey {
    ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
            .expect("a 32-byte key is valid for AES-256-GCM"),
    )
}

/// Encrypt `buf` in place and append the tag (`buf` must have room for it).
pub(super) fn aead_seal(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<()> {
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
pub(super) fn aead_open(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Option<usize> {
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
pub(super) fn seal(
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
