//! Passphrase encryption of private keys.
//!
//! - PKCS#8 `EncryptedPrivateKeyInfo` with PBES2 (RFC 8018): notary's PBKDF2-HMAC-SHA1 /
//!   2048 iterations / AES-256-CBC on request, scrypt / AES-256-CBC by default. On read,
//!   any PBKDF2 PRF (absent = HMAC-SHA1, as the standard and notary say) or scrypt, with
//!   AES-128/192/256-CBC.
//! - Legacy RFC 1423 PEM encryption (`Proc-Type: 4,ENCRYPTED`, `DEK-Info`), read only:
//!   AES-128/192/256-CBC, DES-EDE3-CBC and DES-CBC with OpenSSL's `EVP_BytesToKey`-MD5.
//!
//! A wrong passphrase shows up as bad CBC padding or, when the padding happens to look
//! right, as a plaintext that is not the expected DER; both are reported as
//! `DecryptError::WrongPassphrase`, never as a corrupt file.

use der::{Decode as _, Encode as _};
use md5::Digest as _;
use pkcs5::pbes2::{self, Kdf, Pbkdf2Params, Pbkdf2Prf, ScryptParams};
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

/// Why a decryption failed.
#[derive(Debug)]
pub(crate) enum DecryptError {
    WrongPassphrase,
    Corrupt(String),
    Unsupported(String),
    /// The key derivation's parameters ask for more work or memory than vouch allows.
    TooCostly(String),
}

/// Refuses scrypt parameters (`n` the cost N, any value a file may hold) whose work
/// N·r·p exceeds `max_work` or whose memory 128·N·r exceeds `max_memory`; the message
/// names the parameters and the bounds. Shared by key files and backups.
pub(crate) fn check_scrypt_cost(
    n: u64,
    r: u64,
    p: u64,
    max_work: u64,
    max_memory: u64,
    own: &str,
) -> Result<(), String> {
    let memory = n.saturating_mul(r).saturating_mul(128);
    let work = n.saturating_mul(r).saturating_mul(p);
    if n < 2 || r == 0 || p == 0 {
        return Err(format!("scrypt parameters N={n} r={r} p={p} are not valid"));
    }
    if work > max_work || memory > max_memory {
        return Err(format!(
            "scrypt parameters N={n} r={r} p={p} need {} work units (N·r·p) and {} of memory; \
             vouch allows at most {max_work} units and {} (four times its own {own}) and \
             refuses before deriving anything",
            work,
            mib(memory),
            mib(max_memory)
        ));
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes.div_ceil(1 << 10))
    }
}

/// The cost bounds of a key file's KDF (see [`MAX_PBKDF2_ITERATIONS`], [`MAX_SCRYPT_WORK`],
/// [`MAX_SCRYPT_MEMORY`]).
fn check_kdf_cost(kdf: &Kdf<'_>) -> Result<(), DecryptError> {
    match kdf {
        Kdf::Pbkdf2(p) if p.iteration_count == 0 || p.iteration_count > MAX_PBKDF2_ITERATIONS => {
            Err(DecryptError::TooCostly(format!(
                "PBKDF2 with {} iterations; vouch accepts 1 to {MAX_PBKDF2_ITERATIONS} \
                 (notary writes {NOTARY_PBKDF2_ITERATIONS}) and refuses before deriving anything",
                p.iteration_count
            )))
        }
        Kdf::Scrypt(s) => check_scrypt_cost(
            s.cost_parameter,
            u64::from(s.block_size),
            u64::from(s.parallelization),
            MAX_SCRYPT_WORK,
            MAX_SCRYPT_MEMORY,
            &format!("N=2^{SCRYPT_LOG_N} r={SCRYPT_R} p={SCRYPT_P}"),
        )
        .map_err(DecryptError::TooCostly),
        _ => Ok(()),
    }
}

/// Checks the cost of an encrypted PKCS#8 file's key derivation without deriving (a file
/// that does not parse is left to the decryption to report).
pub(crate) fn check_pkcs8_cost(der: &[u8]) -> Result<(), DecryptError> {
    match parse_pbes2(der) {
        Ok((params, _)) => check_kdf_cost(&params.kdf),
        Err(_) => Ok(()),
    }
}

/// scrypt cost of the vouch format: N = 2^14, r = 8, p = 4.
///
/// Memory per guess is 128·r·N = 16 MiB, the most OpenSSL 3 accepts when it decrypts
/// (its scrypt limit is 32 MiB, which N = 2^15 with r = 8 already exceeds), so files stay
/// readable with `openssl pkcs8` once the headers are stripped. p = 4 multiplies the work
/// per guess by four (≈ the CPU cost of N = 2^16) without raising that memory bound. Every
/// guess costs ~0.1–0.2 s on a laptop core, against microseconds for notary's
/// PBKDF2-SHA1 with 2048 iterations.
pub const SCRYPT_LOG_N: u8 = 14;
pub const SCRYPT_R: u32 = 8;
pub const SCRYPT_P: u32 = 4;

/// notary's fixed PBKDF2 parameters (`tuf/utils/pkcs8.go`).
pub const NOTARY_PBKDF2_ITERATIONS: u32 = 2048;
const NOTARY_SALT_LEN: usize = 8;
const SCRYPT_SALT_LEN: usize = 16;

/// Bounds on the key derivation of a file, checked before anything is derived (and
/// before a passphrase is asked for), so a hostile key file cannot make vouch allocate
/// gigabytes or spin for minutes.
///
/// PBKDF2: notary writes 2048 iterations, OpenSSL 2048 too; one million (≈ 0.3–1 s) still
/// covers today's recommendations for PBKDF2-HMAC-SHA256 (600 000).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// scrypt work, N·r·p: four times vouch's own (N = 2^14, r = 8, p = 4 → 2^19).
pub const MAX_SCRYPT_WORK: u64 = 4 << (SCRYPT_LOG_N as u32 + 5);
/// scrypt memory, 128·N·r: four times vouch's own 16 MiB.
pub const MAX_SCRYPT_MEMORY: u64 = 64 << 20;

/// Which PBES2 key derivation to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pbes2Kind {
    /// PBKDF2-HMAC-SHA1, 2048 iterations, 8-byte salt, no PRF/keyLength fields.
    Notary,
    /// scrypt with the parameters above, 16-byte salt.
    Scrypt,
}

/// The key derivation of an encrypted PKCS#8 file, read without the passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdfInfo {
    Pbkdf2 { prf: &'static str, iterations: u32 },
    Scrypt { log_n: u8, r: u16, p: u16 },
}

/// A key-encryption key derived from a passphrase: the DER of the PBES2 KDF it came from
/// (algorithm, salt and cost) and the AES-256 key.
pub(crate) struct Kek {
    pub(crate) kdf: Vec<u8>,
    pub(crate) key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

/// Key-encryption keys derived earlier (an unlock session, [`super::session`]), so that
/// scrypt runs once per passphrase and salt instead of once per key file.
pub(crate) trait KekCache {
    /// The KEK recorded for exactly these KDF parameters (DER, salt included).
    fn get(&self, kdf: &[u8]) -> Option<Zeroizing<[u8; 32]>>;
    /// A recorded KEK derived from `pass` whose KDF `reusable` accepts (for a new file).
    fn find(&self, pass: &[u8], reusable: &dyn Fn(&[u8]) -> bool) -> Option<Kek>;
    /// Record a KEK just derived from `pass`.
    fn put(&self, kek: &Kek, pass: &[u8]);
}

/// Whether a recorded KDF is scrypt with the parameters vouch writes today.
fn is_current_scrypt(kdf: &[u8]) -> bool {
    matches!(Kdf::from_der(kdf), Ok(Kdf::Scrypt(s))
        if s.cost_parameter == 1u64 << SCRYPT_LOG_N
            && u32::from(s.block_size) == SCRYPT_R
            && u32::from(s.parallelization) == SCRYPT_P
            && s.key_length.is_none_or(|l| l == 32)
            && s.salt.len() == SCRYPT_SALT_LEN)
}

/// A new scrypt KEK for `pass`: a recorded one from `cache` (same passphrase, same
/// parameters: its salt is reused), else a fresh salt and derivation, recorded.
fn scrypt_kek(pass: &[u8], cache: Option<&dyn KekCache>) -> Result<Kek, String> {
    if let Some(k) = cache.and_then(|c| c.find(pass, &is_current_scrypt)) {
        return Ok(k);
    }
    let mut salt = [0u8; SCRYPT_SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let params = pkcs5::scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, 32)
        .map_err(|e| format!("scrypt parameters: {e}"))?;
    let kdf: Kdf<'_> = ScryptParams::from_params_and_salt(params, &salt)
        .map_err(|e| format!("scrypt parameters: {e}"))?
        .into();
    let derived = derive_key(&kdf, pass, 32).map_err(|_| "key derivation failed".to_string())?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&derived);
    let kek = Kek {
        kdf: kdf
            .to_der()
            .map_err(|e| format!("encoding scrypt parameters: {e}"))?,
        key,
    };
    if let Some(c) = cache {
        c.put(&kek, pass);
    }
    Ok(kek)
}

/// Encrypt a DER `PrivateKeyInfo` into a DER `EncryptedPrivateKeyInfo` (AES-256-CBC).
/// With a `cache` (an unlock session), a scrypt KEK derived earlier from the same
/// passphrase is reused (its salt with it), and a new one is recorded.
pub(crate) fn encrypt_pkcs8(
    plain: &[u8],
    pass: &[u8],
    kind: Pbes2Kind,
    cache: Option<&dyn KekCache>,
) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; NOTARY_SALT_LEN];
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    let scrypt = match kind {
        Pbes2Kind::Notary => None,
        Pbes2Kind::Scrypt => Some(scrypt_kek(pass, cache)?),
    };
    let (kdf, key): (Kdf<'_>, Zeroizing<Vec<u8>>) = match &scrypt {
        None => {
            let kdf: Kdf<'_> = Pbkdf2Params {
                salt: &salt,
                iteration_count: NOTARY_PBKDF2_ITERATIONS,
                key_length: None,
                prf: Pbkdf2Prf::HmacWithSha1,
            }
            .into();
            let key =
                derive_key(&kdf, pass, 32).map_err(|_| "key derivation failed".to_string())?;
            (kdf, key)
        }
        Some(k) => (
            Kdf::from_der(&k.kdf).map_err(|e| format!("scrypt parameters: {e}"))?,
            Zeroizing::new(k.key.to_vec()),
        ),
    };
    // PKCS#7 padding, always 1–16 bytes, as notary adds it.
    let pad = 16 - plain.len() % 16;
    let mut buf = Zeroizing::new(Vec::with_capacity(plain.len() + pad));
    buf.extend_from_slice(plain);
    buf.resize(plain.len() + pad, pad as u8);
    {
        use cbc::cipher::{block_padding::NoPadding, BlockEncryptMut as _, KeyIvInit as _};
        let len = buf.len();
        cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(|e| format!("cipher setup: {e}"))?
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map_err(|e| format!("encryption failed: {e}"))?;
    }
    let params = pbes2::Parameters {
        kdf,
        encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
    };
    pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
        encrypted_data: &buf,
    }
    .to_der()
    .map_err(|e| format!("encoding the encrypted key: {e}"))
}

/// Run the PBES2 key derivation into a wiping buffer (`pkcs5`'s own does not wipe).
fn derive_key(kdf: &Kdf<'_>, pass: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    use pbkdf2::pbkdf2_hmac;
    if kdf.key_length().is_some_and(|l| usize::from(l) != len) {
        return Err(DecryptError::Unsupported(format!(
            "key derivation length {:?} does not fit the cipher",
            kdf.key_length()
        )));
    }
    let mut key = Zeroizing::new(vec![0u8; len]);
    match kdf {
        Kdf::Pbkdf2(p) => {
            let (salt, n) = (p.salt, p.iteration_count);
            match p.prf {
                Pbkdf2Prf::HmacWithSha1 => pbkdf2_hmac::<sha1::Sha1>(pass, salt, n, &mut key),
                Pbkdf2Prf::HmacWithSha224 => pbkdf2_hmac::<sha2::Sha224>(pass, salt, n, &mut key),
                Pbkdf2Prf::HmacWithSha256 => pbkdf2_hmac::<sha2::Sha256>(pass, salt, n, &mut key),
                Pbkdf2Prf::HmacWithSha384 => pbkdf2_hmac::<sha2::Sha384>(pass, salt, n, &mut key),
                Pbkdf2Prf::HmacWithSha512 => pbkdf2_hmac::<sha2::Sha512>(pass, salt, n, &mut key),
                other => {
                    return Err(DecryptError::Unsupported(format!(
                        "PBKDF2 PRF {}",
                        other.oid()
                    )))
                }
            }
        }
        Kdf::Scrypt(s) => {
            let params = pkcs5::scrypt::Params::try_from(s)
                .map_err(|e| DecryptError::Unsupported(format!("scrypt parameters: {e}")))?;
            pkcs5::scrypt::scrypt(pass, s.salt, &params, &mut key)
                .map_err(|e| DecryptError::Unsupported(format!("scrypt: {e}")))?;
        }
        other => {
            return Err(DecryptError::Unsupported(format!(
                "key derivation {}",
                other.oid()
            )))
        }
    }
    Ok(key)
}

fn parse_pbes2(der: &[u8]) -> Result<(pbes2::Parameters<'_>, &[u8]), DecryptError> {
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|e| DecryptError::Corrupt(format!("not a PKCS#8 EncryptedPrivateKeyInfo: {e}")))?;
    match info.encryption_algorithm {
        pkcs5::EncryptionScheme::Pbes2(params) => Ok((params, info.encrypted_data)),
        other => Err(DecryptError::Unsupported(format!(
            "encryption scheme {}; only PBES2 is supported",
            other.oid()
        ))),
    }
}

/// Describe the key derivation without decrypting.
pub(crate) fn describe_pkcs8(der: &[u8]) -> Result<KdfInfo, DecryptError> {
    let (params, _) = parse_pbes2(der)?;
    Ok(match params.kdf {
        Kdf::Pbkdf2(p) => KdfInfo::Pbkdf2 {
            prf: prf_name(p.prf),
            iterations: p.iteration_count,
        },
        Kdf::Scrypt(s) => KdfInfo::Scrypt {
            log_n: s.cost_parameter.checked_ilog2().unwrap_or(0) as u8,
            r: s.block_size,
            p: s.parallelization,
        },
        other => {
            return Err(DecryptError::Unsupported(format!(
                "key derivation {}",
                other.oid()
            )))
        }
    })
}

fn prf_name(prf: Pbkdf2Prf) -> &'static str {
    match prf {
        Pbkdf2Prf::HmacWithSha1 => "hmac-sha1",
        Pbkdf2Prf::HmacWithSha224 => "hmac-sha224",
        Pbkdf2Prf::HmacWithSha256 => "hmac-sha256",
        Pbkdf2Prf::HmacWithSha384 => "hmac-sha384",
        Pbkdf2Prf::HmacWithSha512 => "hmac-sha512",
        _ => "unknown",
    }
}

/// Decrypt with a KEK recorded in `cache` for this file's KDF parameters, without a
/// passphrase. `None` when there is none, or it does not open the file.
pub(crate) fn decrypt_pkcs8_cached(der: &[u8], cache: &dyn KekCache) -> Option<Zeroizing<Vec<u8>>> {
    let (params, data) = parse_pbes2(der).ok()?;
    let pbes2::EncryptionScheme::Aes256Cbc { iv } = params.encryption else {
        return None;
    };
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return None;
    }
    let key = cache.get(&params.kdf.to_der().ok()?)?;
    let mut buf = Zeroizing::new(data.to_vec());
    cbc_decrypt("AES-256-CBC", &*key, iv, &mut buf).ok()?;
    strip_pkcs7(&mut buf, 16).ok()?;
    Some(buf)
}

/// Decrypt a DER `EncryptedPrivateKeyInfo` into the DER `PrivateKeyInfo` it wraps. A
/// scrypt KEK that opened it is recorded in `cache` (the caller checks the plaintext is a
/// key before that matters: a wrong passphrase almost always fails the padding here).
pub(crate) fn decrypt_pkcs8(
    der: &[u8],
    pass: &[u8],
    cache: Option<&dyn KekCache>,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let (params, data) = parse_pbes2(der)?;
    check_kdf_cost(&params.kdf)?;
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(DecryptError::Corrupt(format!(
            "encrypted data is {} bytes, not a whole number of cipher blocks",
            data.len()
        )));
    }
    let (name, key_len, iv) = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => ("AES-128-CBC", 16, iv),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => ("AES-192-CBC", 24, iv),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => ("AES-256-CBC", 32, iv),
        other => {
            return Err(DecryptError::Unsupported(format!(
                "PBES2 cipher {}",
                other.oid()
            )))
        }
    };
    let key = derive_key(&params.kdf, pass, key_len)?;
    let mut buf = Zeroizing::new(data.to_vec());
    cbc_decrypt(name, &key, iv, &mut buf)?;
    strip_pkcs7(&mut buf, 16)?;
    if let (Some(c), Kdf::Scrypt(_), 32) = (cache, &params.kdf, key_len) {
        if pkcs8::PrivateKeyInfo::from_der(&buf).is_ok() {
            if let Ok(kdf) = params.kdf.to_der() {
                let mut k = Zeroizing::new([0u8; 32]);
                k.copy_from_slice(&key);
                c.put(&Kek { kdf, key: k }, pass);
            }
        }
    }
    Ok(buf)
}

/// Remove PKCS#7 padding, checked as Go's `DecryptPEMBlock` does: a bad pad means a
/// wrong passphrase.
fn strip_pkcs7(buf: &mut Zeroizing<Vec<u8>>, block: usize) -> Result<(), DecryptError> {
    let pad = usize::from(*buf.last().unwrap_or(&0));
    if pad == 0
        || pad > block
        || pad > buf.len()
        || buf[buf.len() - pad..]
            .iter()
            .any(|b| usize::from(*b) != pad)
    {
        return Err(DecryptError::WrongPassphrase);
    }
    let keep = buf.len() - pad;
    buf.truncate(keep);
    Ok(())
}

/// The legacy ciphers Go's `x509.DecryptPEMBlock` knows: (name, key length, block size).
const LEGACY_CIPHERS: [(&str, usize, usize); 5] = [
    ("DES-CBC", 8, 8),
    ("DES-EDE3-CBC", 24, 8),
    ("AES-128-CBC", 16, 16),
    ("AES-192-CBC", 24, 16),
    ("AES-256-CBC", 32, 16),
];

/// The cipher named by a `DEK-Info` header, if it is one vouch can decrypt.
pub(crate) fn legacy_cipher(dek_info: &str) -> Result<&'static str, DecryptError> {
    let name = dek_info.split(',').next().unwrap_or_default().trim();
    LEGACY_CIPHERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, _)| *n)
        .ok_or_else(|| DecryptError::Unsupported(format!("legacy PEM cipher {name:?}")))
}

/// Decrypt an RFC 1423 encrypted PEM body given its `DEK-Info` header.
pub(crate) fn decrypt_legacy(
    dek_info: &str,
    data: &[u8],
    pass: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let (name, hex_iv) = dek_info
        .split_once(',')
        .ok_or_else(|| DecryptError::Corrupt(format!("malformed DEK-Info header {dek_info:?}")))?;
    let (name, key_len, block) = *LEGACY_CIPHERS
        .iter()
        .find(|(n, _, _)| *n == name.trim())
        .ok_or_else(|| DecryptError::Unsupported(format!("legacy PEM cipher {name:?}")))?;
    let iv = hex::decode(hex_iv.trim())
        .ok()
        .filter(|iv| iv.len() == block)
        .ok_or_else(|| {
            DecryptError::Corrupt(format!("DEK-Info IV for {name} is not {block} hex bytes"))
        })?;
    if data.is_empty() || !data.len().is_multiple_of(block) {
        return Err(DecryptError::Corrupt(format!(
            "encrypted data is {} bytes, not a whole number of {name} blocks",
            data.len()
        )));
    }
    let key = evp_bytes_to_key(pass, &iv[..8], key_len);
    let mut buf = Zeroizing::new(data.to_vec());
    cbc_decrypt(name, &key, &iv, &mut buf)?;
    // PKCS#7 padding, checked as Go does: a bad pad means a wrong passphrase.
    let pad = usize::from(*buf.last().unwrap_or(&0));
    if pad == 0
        || pad > block
        || buf[buf.len() - pad..]
            .iter()
            .any(|b| usize::from(*b) != pad)
    {
        return Err(DecryptError::WrongPassphrase);
    }
    let keep = buf.len() - pad;
    buf.truncate(keep);
    Ok(buf)
}

/// OpenSSL `EVP_BytesToKey` with MD5 and one round: D_i = MD5(D_{i-1} ‖ pass ‖ salt).
fn evp_bytes_to_key(pass: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut prev: Option<Zeroizing<[u8; 16]>> = None;
    while out.len() < len {
        let mut h = md5::Md5::new();
        if let Some(p) = &prev {
            h.update(p.as_ref());
        }
        h.update(pass);
        h.update(salt);
        let d: Zeroizing<[u8; 16]> = Zeroizing::new(h.finalize().into());
        out.extend_from_slice(d.as_ref());
        prev = Some(d);
    }
    out.truncate(len);
    out
}

fn cbc_decrypt(name: &str, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), DecryptError> {
    use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut as _, KeyIvInit as _};
    fn run<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), DecryptError>
    where
        cbc::Decryptor<C>: cbc::cipher::KeyIvInit + cbc::cipher::BlockDecryptMut,
        C: cbc::cipher::BlockDecryptMut + cbc::cipher::BlockCipher,
    {
        cbc::Decryptor::<C>::new_from_slices(key, iv)
            .map_err(|e| DecryptError::Corrupt(format!("cipher setup: {e}")))?
            .decrypt_padded_mut::<NoPadding>(buf)
            .map(|_| ())
            .map_err(|e| DecryptError::Corrupt(format!("decryption: {e}")))
    }
    match name {
        "DES-CBC" => run::<des::Des>(key, iv, buf),
        "DES-EDE3-CBC" => run::<des::TdesEde3>(key, iv, buf),
        "AES-128-CBC" => run::<aes::Aes128>(key, iv, buf),
        "AES-192-CBC" => run::<aes::Aes192>(key, iv, buf),
        _ => run::<aes::Aes256>(key, iv, buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (KDF DER, passphrase, KEK)
    type Entry = (Vec<u8>, Vec<u8>, [u8; 32]);

    /// An in-memory [`KekCache`].
    #[derive(Default)]
    struct MemCache(std::cell::RefCell<Vec<Entry>>);

    impl KekCache for MemCache {
        fn get(&self, kdf: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
            let v = self.0.borrow();
            v.iter().find(|e| e.0 == kdf).map(|e| Zeroizing::new(e.2))
        }
        fn find(&self, pass: &[u8], reusable: &dyn Fn(&[u8]) -> bool) -> Option<Kek> {
            let v = self.0.borrow();
            v.iter()
                .find(|e| e.1 == pass && reusable(&e.0))
                .map(|e| Kek {
                    kdf: e.0.clone(),
                    key: Zeroizing::new(e.2),
                })
        }
        fn put(&self, kek: &Kek, pass: &[u8]) {
            self.0
                .borrow_mut()
                .push((kek.kdf.clone(), pass.to_vec(), *kek.key));
        }
    }

    fn kdf_of(der: &[u8]) -> Vec<u8> {
        parse_pbes2(der).unwrap().0.kdf.to_der().unwrap()
    }

    fn iv_of(der: &[u8]) -> Vec<u8> {
        match parse_pbes2(der).unwrap().0.encryption {
            pbes2::EncryptionScheme::Aes256Cbc { iv } => iv.to_vec(),
            _ => panic!("not AES-256-CBC"),
        }
    }

    #[test]
    fn a_cache_reuses_the_kek_of_the_same_passphrase_and_only_that() {
        let cache = MemCache::default();
        let plain = b"0123456789abcdef-private-key-info".to_vec();
        let a = encrypt_pkcs8(&plain, b"one", Pbes2Kind::Scrypt, Some(&cache)).unwrap();
        assert_eq!(cache.0.borrow().len(), 1, "the derivation is recorded");
        let b = encrypt_pkcs8(&plain, b"one", Pbes2Kind::Scrypt, Some(&cache)).unwrap();
        let c = encrypt_pkcs8(&plain, b"two", Pbes2Kind::Scrypt, Some(&cache)).unwrap();
        assert_eq!(kdf_of(&a), kdf_of(&b), "same passphrase: same salt and KEK");
        assert_ne!(iv_of(&a), iv_of(&b), "but a fresh IV per file");
        assert_ne!(kdf_of(&a), kdf_of(&c), "another passphrase: another salt");
        assert_eq!(cache.0.borrow().len(), 2);
        // Every file opens with its passphrase alone, and with the cache alone.
        for (der, pass) in [(&a, b"one"), (&b, b"one"), (&c, b"two")] {
            assert_eq!(*decrypt_pkcs8(der, pass, None).unwrap(), plain);
            assert_eq!(*decrypt_pkcs8_cached(der, &cache).unwrap(), plain);
        }
        assert!(matches!(
            decrypt_pkcs8(&b, b"two", None),
            Err(DecryptError::WrongPassphrase)
        ));
    }

    #[test]
    fn notary_format_files_do_not_use_the_cache() {
        let cache = MemCache::default();
        let der = encrypt_pkcs8(b"key", b"p", Pbes2Kind::Notary, Some(&cache)).unwrap();
        assert!(cache.0.borrow().is_empty());
        assert!(decrypt_pkcs8_cached(&der, &cache).is_none());
    }

    /// An encrypted PKCS#8 file with `kdf` and 32 bytes of (random) ciphertext.
    fn hostile_pkcs8(kdf: Kdf<'_>) -> Vec<u8> {
        let iv = [7u8; 16];
        pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(pbes2::Parameters {
                kdf,
                encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
            }),
            encrypted_data: &[0x5a; 32],
        }
        .to_der()
        .unwrap()
    }

    fn scrypt_file(log_n: u8, r: u32, p: u32) -> Vec<u8> {
        let salt = [1u8; 16];
        let params = pkcs5::scrypt::Params::new(log_n, r, p, 32).unwrap();
        hostile_pkcs8(
            ScryptParams::from_params_and_salt(params, &salt)
                .unwrap()
                .into(),
        )
    }

    fn pbkdf2_file(iterations: u32) -> Vec<u8> {
        let salt = [1u8; 8];
        hostile_pkcs8(
            Pbkdf2Params {
                salt: &salt,
                iteration_count: iterations,
                key_length: None,
                prf: Pbkdf2Prf::HmacWithSha256,
            }
            .into(),
        )
    }

    /// Parameters a hostile file may carry are refused before anything is derived: the
    /// refusal is immediate and names the parameters and the bound.
    #[test]
    fn costly_key_derivations_are_refused_before_deriving() {
        let t = std::time::Instant::now();
        for (file, needle) in [
            // The 214 s / 1 GiB file of the review: N = 2^20, r = 8, p = 64.
            (scrypt_file(20, 8, 64), "N=1048576 r=8 p=64"),
            // Within notary's old memory bound, but 128 times vouch's work.
            (scrypt_file(17, 8, 64), "N=131072 r=8 p=64"),
            // Work within 4x, memory above 64 MiB.
            (scrypt_file(17, 8, 1), "128 MiB of memory"),
            (scrypt_file(14, 8, 17), "N=16384 r=8 p=17"),
            (pbkdf2_file(1_000_001), "1000001 iterations"),
            (pbkdf2_file(u32::MAX), "4294967295 iterations"),
        ] {
            for result in [
                check_pkcs8_cost(&file),
                decrypt_pkcs8(&file, b"pass", None).map(|_| ()),
            ] {
                match result {
                    Err(DecryptError::TooCostly(m)) => {
                        assert!(m.contains(needle), "{m}");
                        assert!(m.contains("refuses before deriving"), "{m}");
                    }
                    other => panic!("{needle}: {other:?}"),
                }
            }
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
        // The bounds are 4x vouch's own scrypt work and memory; OpenSSL's and notary's
        // defaults pass.
        assert_eq!(
            MAX_SCRYPT_WORK,
            4 * (1 << SCRYPT_LOG_N) * u64::from(SCRYPT_R * SCRYPT_P)
        );
        assert_eq!(
            MAX_SCRYPT_MEMORY,
            4 * 128 * (1 << SCRYPT_LOG_N) * u64::from(SCRYPT_R)
        );
        for ok in [
            scrypt_file(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P),
            scrypt_file(14, 8, 16),
            scrypt_file(16, 8, 4),
            scrypt_file(14, 8, 1),
            pbkdf2_file(NOTARY_PBKDF2_ITERATIONS),
            pbkdf2_file(MAX_PBKDF2_ITERATIONS),
        ] {
            check_pkcs8_cost(&ok).unwrap();
        }
        // A wrong passphrase on an acceptable file is still just that.
        assert!(matches!(
            decrypt_pkcs8(&scrypt_file(10, 8, 1), b"pass", None),
            Err(DecryptError::WrongPassphrase | DecryptError::Corrupt(_))
        ));
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -S 0102030405060708 -pass pass:password`
        let key = evp_bytes_to_key(b"password", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            hex::encode(&*key),
            "e7b0971e52ca5cc8d0539fb3412f6316f7ba2e6ee293d9f3457b99436b51ce02"
        );
    }
}
