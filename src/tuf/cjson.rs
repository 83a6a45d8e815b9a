//! Canonical JSON, byte-identical to notary's Go encoder (protocol §4). (stub)
pub fn to_canonical(_v: &serde_json::Value) -> Result<Vec<u8>, super::TufError> {
    unimplemented!()
}
