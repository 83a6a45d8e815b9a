//! Finding the manifests that refer to an image (OCI distribution spec 1.1, "Listing
//! Referrers"): the referrers API when the registry has it, else the tag-schema fallback
//! index `sha256-<hex>` that clients keep up to date themselves (fetch, add, push).

use serde_json::{json, Value};

use crate::remote::registry::Registry;

use super::*;

/// The fallback tag for a subject digest: `sha256-<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

fn manifests_of(bytes: &[u8], what: &str) -> Result<Vec<Value>, OciError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| OciError::malformed(what, e.to_string()))?;
    Ok(v.get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// The descriptors of the manifests that refer to `digest` in `repository`, optionally
/// only those of `artifact_type`: from the referrers API, else from the fallback index.
pub fn list(
    reg: &Registry,
    repository: &str,
    digest: &str,
    artifact_type: Option<&str>,
) -> Result<Vec<Value>, OciError> {
    let mut all = match reg.referrers_api(repository, digest)? {
        Some(b) => manifests_of(&b, &format!("the referrers of {repository}@{digest}"))?,
        None => match reg.get_manifest(repository, &fallback_tag(digest))? {
            Some(m) => manifests_of(
                &m.bytes,
                &format!("the referrers index {repository}:{}", fallback_tag(digest)),
            )?,
            None => Vec::new(),
        },
    };
    if let Some(t) = artifact_type {
        all.retain(|d| d.get("artifactType").and_then(Value::as_str) == Some(t));
    }
    Ok(all)
}

/// Adds `descriptor` to the fallback index of `digest` (created when absent; nothing is
/// pushed when it is listed already). Other entries are kept as they are.
pub fn add_to_fallback(
    reg: &Registry,
    repository: &str,
    digest: &str,
    descriptor: Value,
    artifact: &str,
) -> Result<(), OciError> {
    let tag = fallback_tag(digest);
    let mut manifests = match reg.get_manifest(repository, &tag)? {
        Some(m) => manifests_of(&m.bytes, &format!("the referrers index {repository}:{tag}"))?,
        None => Vec::new(),
    };
    let new_digest = descriptor.get("digest").cloned();
    if manifests
        .iter()
        .any(|d| d.get("digest") == new_digest.as_ref())
    {
        return Ok(());
    }
    manifests.push(descriptor);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    }))
    .expect("JSON");
    reg.put_manifest(
        repository,
        &tag,
        OCI_INDEX,
        &index,
        &format!("the referrers index of {artifact}"),
    )?;
    Ok(())
}
