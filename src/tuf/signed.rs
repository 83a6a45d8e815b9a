//! The file envelope `{"signed":…,"signatures":[…]}` (protocol §3.1, §4.2, §4.3).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::cjson;
use super::expires::Expires;
use super::keys::KeyId;
use super::serde_util::{b64, null_default};
use super::TufError;
use crate::crypto::SignatureProvider;

/// A role object: what goes inside `signed`.
pub trait Metadata: Serialize + DeserializeOwned {
    /// The `_type` this role carries (`Root`, `Targets`, `Snapshot`, `Timestamp`).
    const TYPE: &'static str;
    /// The `_type` actually present.
    fn type_field(&self) -> &str;
    fn expires(&self) -> &Expires;
    fn version(&self) -> i64;
    /// notary's structure checks for a document of role `role` (type, version ≥ 1, the
    /// entries that must be present). Signatures and expiry are checked elsewhere.
    fn validate(&self, role: &str) -> Result<(), TufError>;

    /// The checks every document shares: `_type` is [`Self::TYPE`] and version ≥ 1.
    fn check_common(&self, role: &str) -> Result<(), TufError> {
        if self.type_field() != Self::TYPE {
            return Err(TufError::WrongType {
                role: role.to_owned(),
                expected: Self::TYPE,
                found: self.type_field().to_owned(),
            });
        }
        let version = self.version();
        if version < 1 {
            return Err(TufError::InvalidMetadata {
                role: role.to_owned(),
                reason: format!("version is {version}, must be at least 1"),
            });
        }
        Ok(())
    }

    /// For the documents of one role only (root, snapshot, timestamp): `role` is `only`.
    fn check_only_role(role: &str, only: &str) -> Result<(), TufError> {
        if role == only {
            return Ok(());
        }
        Err(TufError::InvalidMetadata {
            role: role.to_owned(),
            reason: format!("a {} document can only be the {only} role", Self::TYPE),
        })
    }
}

/// The [`Metadata`] accessors of a role struct with `typ`, `expires` and `version` fields.
macro_rules! metadata_accessors {
    () => {
        fn type_field(&self) -> &str {
            &self.typ
        }
        fn expires(&self) -> &$crate::tuf::Expires {
            &self.expires
        }
        fn version(&self) -> i64 {
            self.version
        }
    };
}
pub(crate) use metadata_accessors;

/// One signature: `{"keyid":…,"method":…,"sig":"<base64>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub keyid: String,
    /// `ecdsa`, `eddsa`, `rsapss`, … (lower-cased on parse, as notary does).
    pub method: String,
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Missing fields decode as empty, as in Go; such a signature never verifies.
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default, deserialize_with = "null_default")]
            keyid: String,
            #[serde(default, deserialize_with = "null_default")]
            method: String,
            #[serde(default, with = "b64")]
            sig: Vec<u8>,
        }
        let w = Wire::deserialize(d)?;
        Ok(Signature {
            keyid: w.keyid,
            method: w.method.to_lowercase(),
            sig: w.sig,
        })
    }
}

/// A parsed metadata file.
///
/// Keeps the exact file bytes and the generic JSON value of `signed`, because
/// signatures are checked over the canonical form of that generic value (protocol
/// §4.2), never over a re-serialization of the typed role. The typed role is read
/// from the same value, so the two cannot disagree; fields are private so nobody can
/// change one without the other.
#[derive(Debug, Clone)]
pub struct Signed<T> {
    signed: T,
    signatures: Vec<Signature>,
    /// Byte range of the raw `signed` value within `bytes`.
    raw_signed: std::ops::Range<usize>,
    bytes: Vec<u8>,
}

/// The most signatures a metadata file may carry. Every file notary or vouch writes has
/// one signature per signing key of its role (a rotated root: the old and the new root
/// keys), a handful at most; a file with more is refused while it is parsed, before any
/// of them is kept or checked, so a file stuffed with signatures costs neither memory
/// nor CPU.
pub const MAX_SIGNATURES: usize = 256;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    signed: &'a serde_json::value::RawValue,
    #[serde(default, deserialize_with = "capped_signatures")]
    signatures: Vec<Signature>,
}

/// `signatures`: `null` is none (as in Go); more than [`MAX_SIGNATURES`] is an error
/// raised as soon as the one too many is reached.
fn capped_signatures<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Signature>, D::Error> {
    struct Capped;
    impl<'de> serde::de::Visitor<'de> for Capped {
        type Value = Vec<Signature>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_SIGNATURES} signatures")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_seq(Capped)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(sig) = seq.next_element::<Signature>()? {
                if out.len() == MAX_SIGNATURES {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_SIGNATURES} signatures (vouch refuses such files)"
                    )));
                }
                out.push(sig);
            }
            Ok(out)
        }
    }
    d.deserialize_option(Capped)
}

impl<T: Metadata> Signed<T> {
    /// Parse a metadata file. Checks only that it is well-formed; nothing is trusted yet.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TufError> {
        Self::from_vec(bytes.to_vec())
    }

    /// [`Signed::from_bytes`] taking ownership of the file bytes (no copy).
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, TufError> {
        let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| {
            TufError::Malformed(format!("{} file is not a signed envelope: {e}", T::TYPE))
        })?;
        let raw = env.signed.get();
        let raw_len = raw.len();
        if !raw.starts_with('{') {
            return Err(TufError::Malformed(format!(
                "{} file: \"signed\" is not a JSON object",
                T::TYPE
            )));
        }
        // The typed role is read from the very text that is canonicalized for
        // verification, so the two cannot disagree.
        let signed: T = serde_json::from_str(raw)
            .map_err(|e| TufError::Malformed(format!("{} metadata: {e}", T::TYPE)))?;
        // `raw` borrows from `bytes`: its offset locates it.
        let start = raw.as_ptr() as usize - bytes.as_ptr() as usize;
        let signatures = env.signatures;
        Ok(Signed {
            signed,
            signatures,
            raw_signed: start..start + raw_len,
            bytes,
        })
    }
}

impl<T> Signed<T> {
    /// The typed role object, NOT verified: nothing here is to be trusted until
    /// [`crate::tuf::verify()`] turned the envelope into a `Verified` document.
    pub fn untrusted(&self) -> &T {
        &self.signed
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The file exactly as read.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `signed` as a generic JSON value, as parsed.
    pub fn raw_signed(&self) -> &str {
        std::str::from_utf8(&self.bytes[self.raw_signed.clone()]).expect("parsed from UTF-8 JSON")
    }

    /// The bytes the signatures cover: the canonical form of the parsed `signed` value.
    pub fn canonical_signed(&self) -> Result<Vec<u8>, TufError> {
        cjson::canonicalize_raw(self.raw_signed())
    }

    pub(crate) fn into_parts(self) -> (T, Vec<Signature>, Vec<u8>) {
        (self.signed, self.signatures, self.bytes)
    }
}

/// Write a metadata file: `{"signed":` + canonical bytes with Go's HTML escaping +
/// `,"signatures":[…]}`, no trailing newline (protocol §4.3).
///
/// Fails when the canonical bytes hold a raw control character (only possible inside a
/// string): Go cannot write such a file and notary-server would reject it.
pub fn encode_envelope(
    canonical_signed: &[u8],
    signatures: &[Signature],
) -> Result<Vec<u8>, TufError> {
    if let Some(pos) = canonical_signed.iter().position(|&b| b < 0x20) {
        return Err(TufError::Malformed(format!(
            "cannot write metadata: a string contains control character 0x{:02x} (at byte {pos}), \
             which notary cannot encode",
            canonical_signed[pos]
        )));
    }
    let sigs = serde_json::to_vec(signatures)
        .map_err(|e| TufError::Malformed(format!("cannot encode signatures: {e}")))?;
    let escaped = cjson::html_escape(canonical_signed);
    let mut out = Vec::with_capacity(escaped.len() + sigs.len() + 32);
    out.extend_from_slice(b"{\"signed\":");
    out.extend_from_slice(&escaped);
    out.extend_from_slice(b",\"signatures\":");
    out.extend_from_slice(&sigs);
    out.push(b'}');
    Ok(out)
}

/// Sign `role` with every signer and return the file bytes.
///
/// The key ID next to each signature is the one given (for root keys, the ID of the
/// certificate key as listed in root.json).
pub fn sign_role<T: Serialize>(
    role: &T,
    signers: &[(KeyId, &dyn SignatureProvider)],
) -> Result<Vec<u8>, TufError> {
    if signers.is_empty() {
        return Err(TufError::NoSigners("no signing keys were given".to_owned()));
    }
    let canonical = cjson::to_canonical_from(role)?;
    let mut signatures = Vec::with_capacity(signers.len());
    for (keyid, signer) in signers {
        let sig = signer
            .sign(&canonical)
            .map_err(|source| TufError::Signing {
                keyid: keyid.clone(),
                source,
            })?;
        signatures.push(Signature {
            keyid: keyid.to_string(),
            method: signer.method().to_owned(),
            sig,
        });
    }
    encode_envelope(&canonical, &signatures)
}
