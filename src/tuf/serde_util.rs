//! Small serde helpers for the wire format.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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
