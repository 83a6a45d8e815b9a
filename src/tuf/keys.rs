//! Public keys as they appear in metadata, and key IDs (protocol §5.1, §5.2).

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TufError;

/// A key ID: lowercase hex SHA-256, 64 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Result<Self, TufError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(TufError::InvalidKeyId(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The first 7 characters, as notary shows them in prompts.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
    pub(crate) fn from_digest(d: &[u8]) -> Self {
        KeyId(hex::encode(d))
    }
}

impl TryFrom<String> for KeyId {
    type Error = TufError;
    fn try_from(s: String) -> Result<Self, TufError> {
        KeyId::parse(&s)
    }
}
impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// Key types notary knows. Anything else parses (as `Other`) but cannot verify.
pub const ECDSA: &str = "ecdsa";
pub const ECDSA_X509: &str = "ecdsa-x509";
pub const RSA: &str = "rsa";
pub const RSA_X509: &str = "rsa-x509";
pub const ED25519: &str = "ed25519";

/// A public key: `{"keytype":T,"keyval":{"private":null,"public":"<base64>"}}`.
///
/// `public` holds the decoded bytes: DER SubjectPublicKeyInfo for `ecdsa`/`rsa`, the PEM
/// text of a certificate chain for `*-x509`, the raw 32 bytes for `ed25519`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub keytype: String,
    pub public: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.keytype, self.key_id())
    }
}

impl PublicKey {
    pub fn new(keytype: impl Into<String>, public: Vec<u8>) -> Self {
        PublicKey { keytype: keytype.into(), public }
    }

    /// The base64 of `public`, as written in metadata.
    pub fn public_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.public)
    }

    /// The TUF key ID: SHA-256 of the canonical JSON of the key object (protocol §5.2).
    pub fn key_id(&self) -> KeyId {
        let mut v = serde_json::Map::new();
        v.insert("keytype".into(), self.keytype.clone().into());
        let mut kv = serde_json::Map::new();
        kv.insert("private".into(), serde_json::Value::Null);
        kv.insert("public".into(), self.public_b64().into());
        v.insert("keyval".into(), kv.into());
        let bytes = super::cjson::to_canonical(&serde_json::Value::Object(v))
            .expect("a key object always canonicalizes");
        KeyId::from_digest(&Sha256::digest(&bytes))
    }
}

#[derive(Serialize, Deserialize)]
struct KeyVal {
    #[serde(default)]
    private: Option<serde_json::Value>,
    public: String,
}

#[derive(Serialize, Deserialize)]
struct WireKey {
    keytype: String,
    keyval: KeyVal,
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireKey {
            keytype: self.keytype.clone(),
            keyval: KeyVal { private: None, public: self.public_b64() },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireKey::deserialize(d)?;
        let public = base64::engine::general_purpose::STANDARD
            .decode(w.keyval.public.as_bytes())
            .map_err(serde::de::Error::custom)?;
        // notary lower-cases nothing here; key types are compared exactly.
        Ok(PublicKey { keytype: w.keytype, public })
    }
}
