//! Small serde helpers for the wire format.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serializer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `null` decodes as the default value, as Go decodes `null` into a nil map or slice.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Byte strings as standard base64 with padding (Go's `[]byte` in JSON).
pub(crate) mod b64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        // Go decodes a JSON null into a nil []byte.
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        B64.decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64 {s:?}: {e}")))
    }
}

/// A map of byte strings, each base64 (Go's `map[string][]byte`).
pub(crate) mod b64_map {
    use super::*;
    use serde::ser::SerializeMap;

    pub(crate) fn serialize<S: Serializer>(
        v: &BTreeMap<String, Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, bytes) in v {
            m.serialize_entry(k, &B64.encode(bytes))?;
        }
        m.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        let raw: BTreeMap<String, Option<String>> = Option::deserialize(d)?.unwrap_or_default();
        raw.into_iter()
            .map(|(k, v)| {
                let s = v.unwrap_or_default();
                let bytes = B64.decode(s.as_bytes()).map_err(|e| {
                    serde::de::Error::custom(format!("invalid base64 for hash {k:?}: {e}"))
                })?;
                Ok((k, bytes))
            })
            .collect()
    }
}
