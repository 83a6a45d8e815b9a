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
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
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
        PublicKey {
            keytype: keytype.into(),
            public,
        }
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
            keyval: KeyVal {
                private: None,
                public: self.public_b64(),
            },
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
        Ok(PublicKey {
            keytype: w.keytype,
            public,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::CanonicalKeyId as _;

    /// `baseECDSAx509Key` of notary's `tuf/signed/verifiers_test.go` (cert CN/O
    /// `docker.com/notary`).
    pub(crate) const BASE_ECDSA_X509_PUBLIC: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJwRENDQVVtZ0F3SUJBZ0lRQlBWc1NoUmRMdG45WEtRZ29JaDIvREFLQmdncWhrak9QUVFEQWpBNE1Sb3cKR0FZRFZRUUtFeEZrYjJOclpYSXVZMjl0TDI1dmRHRnllVEVhTUJnR0ExVUVBeE1SWkc5amEyVnlMbU52YlM5dQpiM1JoY25rd0hoY05NVFV3TnpFek1EVXdORFF4V2hjTk1UY3dOekV5TURVd05EUXhXakE0TVJvd0dBWURWUVFLCkV4RmtiMk5yWlhJdVkyOXRMMjV2ZEdGeWVURWFNQmdHQTFVRUF4TVJaRzlqYTJWeUxtTnZiUzl1YjNSaGNua3cKV1RBVEJnY3Foa2pPUFFJQkJnZ3Foa2pPUFFNQkJ3TkNBQVI3SjNSOGpWODV5Rnp0dGFTV3FMRDFHa042UHlhWAowUUdmOHh2Rzd6MUYwUG5DQUdSWk9QQ01aWWpZSGVkdzNXY0FmQWVVcDY5OVExSjNEYW9kbzNBcm96VXdNekFPCkJnTlZIUThCQWY4RUJBTUNBS0F3RXdZRFZSMGxCQXd3Q2dZSUt3WUJCUVVIQXdNd0RBWURWUjBUQVFIL0JBSXcKQURBS0JnZ3Foa2pPUFFRREFnTkpBREJHQWlFQWppVkJjaTBDRTBaazgwZ2ZqbytYdE9xM3NURGJkSWJRRTZBTQpoL29mN1RFQ0lRRGxlbXB5MDRhY0RKODNnVHBvaFNtcFJYdjdJbnRLc0lRTU1oLy9VZzliU2c9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";

    pub(crate) fn base_ecdsa_x509_key() -> PublicKey {
        let json = format!(
            r#"{{"keytype":"ecdsa-x509","keyval":{{"public":"{BASE_ECDSA_X509_PUBLIC}","private":null}}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn ed25519_key_id_vector() {
        let raw = hex::decode("846612b43cef909a0e4ea9c818379bca4723a2020619f95e7a0ccc6f0850b7dc")
            .unwrap();
        let key = PublicKey::new(ED25519, raw);
        let want = "bfb4fc848dff4fda17f40331f705e0718c20beb7615818d9f9f536e4e395d08c";
        assert_eq!(key.key_id().as_str(), want);
        assert_eq!(key.canonical_key_id().unwrap().as_str(), want);
    }

    #[test]
    fn ecdsa_x509_key_id_and_canonical_id_vector() {
        let key = base_ecdsa_x509_key();
        assert_eq!(
            key.key_id().as_str(),
            "cf43f17dbcc5a9f4da3d2419fc52cce7f3cb241ed663f6c2eda6885bf809513a"
        );
        assert_eq!(
            key.canonical_key_id().unwrap().as_str(),
            "277f290bdd27cfbf7816024e91dbda047b414dce55b990c703febff65e2a6e04"
        );
    }

    #[test]
    fn canonical_id_of_plain_key_is_its_id_and_bad_pem_fails() {
        let key = PublicKey::new(ECDSA, b"not even DER".to_vec());
        assert_eq!(key.canonical_key_id().unwrap(), key.key_id());
        let broken = PublicKey::new(
            ECDSA_X509,
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        );
        let err = broken.canonical_key_id().unwrap_err();
        assert!(err.to_string().contains(broken.key_id().as_str()), "{err}");
    }

    #[test]
    fn wire_form_round_trips() {
        let key = base_ecdsa_x509_key();
        let text = serde_json::to_string(&key).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"keytype":"ecdsa-x509","keyval":{{"private":null,"public":"{BASE_ECDSA_X509_PUBLIC}"}}}}"#
            )
        );
        assert_eq!(serde_json::from_str::<PublicKey>(&text).unwrap(), key);
    }

    #[test]
    fn key_id_parse() {
        let id = "bfb4fc848dff4fda17f40331f705e0718c20beb7615818d9f9f536e4e395d08c";
        assert_eq!(KeyId::parse(id).unwrap().short(), "bfb4fc8");
        assert!(KeyId::parse(&id.to_uppercase()).is_err());
        assert!(KeyId::parse(&id[1..]).is_err());
    }
}
