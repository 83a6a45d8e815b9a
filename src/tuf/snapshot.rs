//! snapshot.json and timestamp.json (protocol §3.5, §3.6).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expires::Expires;
use super::filemeta::{check_valid_hash_structures, FileMeta, SHA256};
use super::roles::{ROOT, SNAPSHOT, TARGETS, TIMESTAMP};
use super::serde_util::null_default;
use super::signed::{metadata_accessors, Metadata};
use super::TufError;

/// The `signed` part of snapshot.json: role name (no `.json`) → file meta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "_type")]
    pub typ: String,
    pub expires: Expires,
    #[serde(default, deserialize_with = "null_default")]
    pub meta: BTreeMap<String, FileMeta>,
    pub version: i64,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `signed` part of timestamp.json: `meta` holds `snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(rename = "_type")]
    pub typ: String,
    pub expires: Expires,
    #[serde(default, deserialize_with = "null_default")]
    pub meta: BTreeMap<String, FileMeta>,
    pub version: i64,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `meta[name]` must exist with a sha256 and well-formed hashes.
fn check_required_meta(
    role: &str,
    meta: &BTreeMap<String, FileMeta>,
    name: &str,
) -> Result<(), TufError> {
    let invalid = |reason: String| TufError::InvalidMetadata {
        role: role.to_owned(),
        reason,
    };
    let entry = meta
        .get(name)
        .ok_or_else(|| invalid(format!("missing {name} checksum information")))?;
    if !entry.hashes.contains_key(SHA256) {
        return Err(invalid(format!(
            "missing {name} sha256 checksum information"
        )));
    }
    check_valid_hash_structures(&entry.hashes)
        .map_err(|e| invalid(format!("invalid {name} checksum information: {e}")))
}

impl Snapshot {
    pub fn new(version: i64, expires: Expires, meta: BTreeMap<String, FileMeta>) -> Self {
        Snapshot {
            typ: Self::TYPE.to_owned(),
            expires,
            meta,
            version,
            extra: BTreeMap::new(),
        }
    }
}

impl Timestamp {
    pub fn new(version: i64, expires: Expires, snapshot: FileMeta) -> Self {
        Timestamp {
            typ: Self::TYPE.to_owned(),
            expires,
            meta: BTreeMap::from([(SNAPSHOT.to_owned(), snapshot)]),
            version,
            extra: BTreeMap::new(),
        }
    }

    /// The snapshot entry, if present.
    pub fn snapshot_meta(&self) -> Option<&FileMeta> {
        self.meta.get(SNAPSHOT)
    }
}

impl Metadata for Snapshot {
    const TYPE: &'static str = "Snapshot";

    metadata_accessors!();

    /// `_type` `Snapshot`, version ≥ 1, `root` and `targets` listed with a sha256 and
    /// well-formed hashes (notary's `IsValidSnapshotStructure`).
    fn validate(&self, role: &str) -> Result<(), TufError> {
        Self::check_only_role(role, SNAPSHOT)?;
        self.check_common(role)?;
        check_required_meta(SNAPSHOT, &self.meta, ROOT)?;
        check_required_meta(SNAPSHOT, &self.meta, TARGETS)
    }
}

impl Metadata for Timestamp {
    const TYPE: &'static str = "Timestamp";

    metadata_accessors!();

    /// `_type` `Timestamp`, version ≥ 1, `snapshot` listed with a sha256 and well-formed
    /// hashes (notary's `IsValidTimestampStructure`).
    fn validate(&self, role: &str) -> Result<(), TufError> {
        Self::check_only_role(role, TIMESTAMP)?;
        self.check_common(role)?;
        check_required_meta(TIMESTAMP, &self.meta, SNAPSHOT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuf::cjson::to_canonical_from;
    use crate::tuf::filemeta::SHA512;

    fn expires() -> Expires {
        Expires::parse("2116-01-12T00:58:43.527711489Z").unwrap()
    }

    #[test]
    fn timestamp_matches_the_fixture_bytes() {
        // protocol §12.1: the canonical `signed` of notary0.1's timestamp.json.
        let meta: FileMeta = serde_json::from_str(
            r#"{"hashes":{"sha256":"lbmRtDEnrK4xv9M42C+vTVUR5Vu8qq373Q+Lnfe9hXk="},"length":488}"#,
        )
        .unwrap();
        let ts = Timestamp::new(1, expires(), meta);
        assert_eq!(
            String::from_utf8(to_canonical_from(&ts).unwrap()).unwrap(),
            r#"{"_type":"Timestamp","expires":"2116-01-12T00:58:43.527711489Z","meta":{"snapshot":{"hashes":{"sha256":"lbmRtDEnrK4xv9M42C+vTVUR5Vu8qq373Q+Lnfe9hXk="},"length":488}},"version":1}"#
        );
        ts.validate("timestamp").unwrap();
        assert!(ts.validate("snapshot").is_err());
    }

    #[test]
    fn timestamp_requires_snapshot_sha256() {
        let only512 = FileMeta::from_bytes(b"x", &[SHA512]).unwrap();
        let err = Timestamp::new(1, expires(), only512)
            .validate("timestamp")
            .unwrap_err();
        assert!(err.to_string().contains("missing snapshot sha256"), "{err}");

        let mut bad = FileMeta::from_bytes(b"x", &[SHA256, SHA512]).unwrap();
        bad.hashes.insert(SHA512.into(), vec![0; 3]);
        let err = Timestamp::new(1, expires(), bad)
            .validate("timestamp")
            .unwrap_err();
        assert!(
            err.to_string().contains("sha512 checksum is 3 bytes"),
            "{err}"
        );

        let mut ts = Timestamp::new(1, expires(), FileMeta::from_bytes(b"x", &[SHA256]).unwrap());
        ts.meta.clear();
        assert!(ts.validate("timestamp").is_err());
    }

    #[test]
    fn snapshot_requires_root_and_targets() {
        let m = FileMeta::from_bytes(b"x", &[SHA256]).unwrap();
        let full = BTreeMap::from([
            (ROOT.to_owned(), m.clone()),
            (TARGETS.to_owned(), m.clone()),
        ]);
        Snapshot::new(1, expires(), full.clone())
            .validate("snapshot")
            .unwrap();
        for missing in [ROOT, TARGETS] {
            let mut meta = full.clone();
            meta.remove(missing);
            let err = Snapshot::new(1, expires(), meta)
                .validate("snapshot")
                .unwrap_err();
            assert!(
                err.to_string().contains(&format!("missing {missing}")),
                "{err}"
            );
        }
        let mut s = Snapshot::new(0, expires(), full);
        assert!(s.validate("snapshot").is_err());
        s.version = 1;
        s.typ = "Timestamp".into();
        assert!(matches!(
            s.validate("snapshot"),
            Err(TufError::WrongType { .. })
        ));
    }
}
