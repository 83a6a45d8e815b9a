//! Small serde helpers for the wire format.

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

/// A map of byte strings, each base64 (Go's `map[string][]byte`), as [`Hashes`].
pub(crate) mod b64_map {
    use super::*;
    use crate::tuf::filemeta::Hashes;
    use serde::ser::SerializeMap;

    pub(crate) fn serialize<S: Serializer>(v: &Hashes, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, bytes) in v.iter() {
            m.serialize_entry(k, &B64.encode(bytes))?;
        }
        m.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hashes, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Hashes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of base64 digests, or null")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Hashes, E> {
                Ok(Hashes::new())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Hashes, E> {
                Ok(Hashes::new())
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Hashes, D2::Error> {
                d.deserialize_map(V)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Hashes, A::Error> {
                let mut h = Hashes::new();
                while let Some(k) = map.next_key::<String>()? {
                    // Go decodes a JSON null into a nil []byte.
                    let v: Option<std::borrow::Cow<'de, str>> = map.next_value()?;
                    let s = v.unwrap_or_default();
                    let bytes = B64.decode(s.as_bytes()).map_err(|e| {
                        serde::de::Error::custom(format!("invalid base64 for hash {k:?}: {e}"))
                    })?;
                    h.insert(k, bytes);
                }
                Ok(h)
            }
        }
        d.deserialize_option(V)
    }
}
