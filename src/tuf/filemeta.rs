//! Length and hashes of a file (a target, or a metadata file listed in snapshot or
//! timestamp) and the hash rules of protocol §3.7.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

use super::TufError;

pub const SHA256: &str = "sha256";
pub const SHA512: &str = "sha512";

/// Algorithm name → raw digest bytes (base64 on the wire).
///
/// A small sorted vector rather than a `BTreeMap`: a target lists one or two hashes, and a
/// targets file may hold hundreds of thousands of targets (a `BTreeMap` node per target
/// costs ten times the memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hashes(Vec<(String, Vec<u8>)>);

impl Hashes {
    pub fn new() -> Hashes {
        Hashes(Vec::new())
    }

    /// Insert or replace; returns the previous digest.
    pub fn insert(&mut self, alg: String, digest: Vec<u8>) -> Option<Vec<u8>> {
        match self
            .0
            .binary_search_by(|(k, _)| k.as_str().cmp(alg.as_str()))
        {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, digest)),
            Err(i) => {
                self.0.insert(i, (alg, digest));
                None
            }
        }
    }

    pub fn get(&self, alg: &str) -> Option<&Vec<u8>> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(alg))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, alg: &str) -> bool {
        self.get(alg).is_some()
    }

    pub fn remove(&mut self, alg: &str) -> Option<Vec<u8>> {
        let i = self.0.binary_search_by(|(k, _)| k.as_str().cmp(alg)).ok()?;
        Some(self.0.remove(i).1)
    }

    /// In algorithm-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for Hashes {
    type Output = Vec<u8>;
    fn index(&self, alg: &str) -> &Vec<u8> {
        self.get(alg).unwrap_or_else(|| panic!("no {alg} hash"))
    }
}

impl<'a> IntoIterator for &'a Hashes {
    type Item = (&'a String, &'a Vec<u8>);
    type IntoIter = Box<dyn Iterator<Item = (&'a String, &'a Vec<u8>)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<(String, Vec<u8>)> for Hashes {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Self {
        let mut h = Hashes::new();
        for (k, v) in iter {
            h.insert(k, v);
        }
        h
    }
}

/// `{"custom":…,"hashes":{…},"length":N}` (`custom` omitted when absent).
///
/// Deserialized by hand (not with `#[serde(flatten)]`, which buffers every entry): a
/// targets file can hold hundreds of thousands of these.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileMeta {
    pub length: i64,
    #[serde(with = "b64_map", default)]
    pub hashes: Hashes,
    /// Free-form JSON attached to a target. Signed in canonical form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Fields this version does not know, kept for re-serialization.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for FileMeta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FileMeta;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a file meta object {length, hashes, custom}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FileMeta, A::Error> {
                use serde::de::Error;
                #[derive(Deserialize)]
                #[serde(transparent)]
                struct H(#[serde(with = "b64_map")] Hashes);
                let (mut length, mut hashes, mut custom) = (None, None, None);
                let mut extra = BTreeMap::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "length" => {
                            if length.is_some() {
                                return Err(A::Error::duplicate_field("length"));
                            }
                            length = Some(map.next_value::<i64>()?);
                        }
                        "hashes" => {
                            if hashes.is_some() {
                                return Err(A::Error::duplicate_field("hashes"));
                            }
                            hashes = Some(map.next_value::<H>()?.0);
                        }
                        "custom" => {
                            if custom.is_some() {
                                return Err(A::Error::duplicate_field("custom"));
                            }
                            custom = Some(map.next_value::<Option<Value>>()?);
                        }
                        _ => {
                            extra.insert(key.into_owned(), map.next_value::<Value>()?);
                        }
                    }
                }
                Ok(FileMeta {
                    length: length.ok_or_else(|| A::Error::missing_field("length"))?,
                    hashes: hashes.unwrap_or_default(),
                    custom: custom.flatten(),
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl FileMeta {
    /// Length and the given hashes (`sha256`, `sha512`) of `bytes`.
    pub fn from_bytes(bytes: &[u8], algorithms: &[&str]) -> Result<Self, TufError> {
        let mut hashes = Hashes::new();
        for &alg in algorithms {
            let digest = digest(alg, bytes)
                .ok_or_else(|| TufError::Malformed(format!("unknown hash algorithm {alg:?}")))?;
            hashes.insert(alg.to_owned(), digest);
        }
        Ok(FileMeta {
            length: bytes.len() as i64,
            hashes,
            custom: None,
            extra: BTreeMap::new(),
        })
    }

    /// Length, sha256 and sha512 of everything `reader` yields, read in one pass with a
    /// fixed 1 MiB buffer: memory stays flat whatever the size (`sign-file`,
    /// `verify-file` of large files). The sha512 is computed on a second thread, so a
    /// pass costs about as long as the slower of the two hashes, not their sum.
    pub fn from_reader(mut reader: impl std::io::Read) -> std::io::Result<Self> {
        use std::sync::mpsc;
        const BUF: usize = 1 << 20;
        // Two buffers travel between the reader and the sha512 thread.
        let (to_hash, hash_rx) = mpsc::sync_channel::<Vec<u8>>(1);
        let (back, free_rx) = mpsc::sync_channel::<Vec<u8>>(2);
        back.send(vec![0u8; BUF]).expect("room for two");
        back.send(vec![0u8; BUF]).expect("room for two");
        std::thread::scope(|s| {
            let sha512 = s.spawn(move || {
                let mut h = Sha512::new();
                while let Ok(buf) = hash_rx.recv() {
                    h.update(&buf);
                    if back.send(buf).is_err() {
                        break;
                    }
                }
                h.finalize().to_vec()
            });
            let mut sha256 = Sha256::new();
            let mut length: u64 = 0;
            let read = (|| {
                while let Ok(mut buf) = free_rx.recv() {
                    buf.resize(BUF, 0);
                    let mut n = 0;
                    // Fill the buffer (short reads from pipes) before handing it over.
                    while n < BUF {
                        match reader.read(&mut buf[n..]) {
                            Ok(0) => break,
                            Ok(k) => n += k,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if n == 0 {
                        return Ok(());
                    }
                    buf.truncate(n);
                    sha256.update(&buf);
                    length += n as u64;
                    if to_hash.send(buf).is_err() {
                        return Err(std::io::Error::other("the sha512 thread stopped"));
                    }
                }
                Ok(())
            })();
            drop(to_hash);
            let sha512 = sha512.join().expect("sha512 thread does not panic");
            read?;
            let mut hashes = Hashes::new();
            hashes.insert(SHA256.to_owned(), sha256.finalize().to_vec());
            hashes.insert(SHA512.to_owned(), sha512);
            Ok(FileMeta {
                length: i64::try_from(length).map_err(std::io::Error::other)?,
                hashes,
                custom: None,
                extra: BTreeMap::new(),
            })
        })
    }

    /// notary's `CheckHashes` for a file whose hashes are already computed (`self`, e.g.
    /// by [`Self::from_reader`]): every sha256/sha512 `expected` lists must be in `self`
    /// and equal; at least one of the two must be listed.
    pub fn check_matches(&self, name: &str, expected: &FileMeta) -> Result<(), TufError> {
        compare_listed(name, &expected.hashes, |alg| {
            matches!(alg, SHA256 | SHA512)
                .then(|| self.hashes.get(alg).cloned())
                .flatten()
        })
    }

    /// The sha256 digest, if listed.
    pub fn sha256(&self) -> Option<&[u8]> {
        self.hashes.get(SHA256).map(Vec::as_slice)
    }
}

/// A whole file's digest (ring's: on this path, checking the cached copy of a large
/// targets file on every verify, it is markedly faster than a portable implementation).
fn digest(alg: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match alg {
        SHA256 => &ring::digest::SHA256,
        SHA512 => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(algorithm, bytes).as_ref().to_vec())
}

/// notary's `CheckHashes`: every `sha256`/`sha512` listed must match `bytes`; other
/// algorithms are ignored; at least one of the two must be listed. The length is not
/// compared (it is a download cap; the hashes catch any difference). `name` says what
/// is being checked, for the error message.
pub fn check_hashes(name: &str, bytes: &[u8], meta: &FileMeta) -> Result<(), TufError> {
    compare_listed(name, &meta.hashes, |alg| digest(alg, bytes))
}

/// Every hash `expected` lists for which `actual` has a value must equal it; at least one
/// must have been compared.
fn compare_listed(
    name: &str,
    expected: &Hashes,
    mut actual: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Result<(), TufError> {
    let mut checked = 0;
    for (alg, want) in expected {
        let Some(got) = actual(alg) else {
            continue;
        };
        if got != *want {
            return Err(TufError::HashMismatch {
                name: name.to_owned(),
                algorithm: alg.clone(),
                expected: hex::encode(want),
                actual: hex::encode(got),
            });
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(TufError::MissingHashes {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// notary's `CheckValidHashStructures`: a listed sha256 is 32 bytes, a sha512 64 bytes,
/// and at least one of them is listed. The error says which rule failed.
pub fn check_valid_hash_structures(hashes: &Hashes) -> Result<(), String> {
    let mut supported = 0;
    for (alg, value) in hashes {
        let want = match alg.as_str() {
            SHA256 => 32,
            SHA512 => 64,
            _ => continue,
        };
        if value.len() != want {
            return Err(format!(
                "{alg} checksum is {} bytes, expected {want}",
                value.len()
            ));
        }
        supported += 1;
    }
    if supported == 0 {
        return Err("at least one sha256 or sha512 checksum is needed".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    /// Hands out at most 7 bytes per read: short reads must still fill whole buffers.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn from_reader_equals_from_bytes_across_buffer_boundaries() {
        for len in [0usize, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let want = FileMeta::from_bytes(&data, &["sha256", "sha512"]).unwrap();
            let got = FileMeta::from_reader(&data[..]).unwrap();
            assert_eq!(got, want, "length {len}");
            if len < (2 << 20) {
                assert_eq!(FileMeta::from_reader(Trickle(&data)).unwrap(), want);
            }
            got.check_matches("f", &want).unwrap();
        }
    }

    #[test]
    fn from_reader_passes_read_errors_on() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let e = FileMeta::from_reader(Broken).unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
    }

    #[test]
    fn check_matches_compares_listed_hashes() {
        let a = FileMeta::from_bytes(b"a", &["sha256", "sha512"]).unwrap();
        let b = FileMeta::from_bytes(b"b", &["sha256", "sha512"]).unwrap();
        let only512 = FileMeta::from_bytes(b"a", &["sha512"]).unwrap();
        a.check_matches("f", &only512).unwrap();
        assert!(matches!(
            a.check_matches("f", &b),
            Err(TufError::HashMismatch { .. })
        ));
        let none = FileMeta::from_bytes(b"a", &[]).unwrap();
        assert!(matches!(
            a.check_matches("f", &none),
            Err(TufError::MissingHashes { .. })
        ));
    }

    #[test]
    fn wire_format_round_trip() {
        let text = format!(r#"{{"hashes":{{"sha256":"{EMPTY_SHA256_B64}"}},"length":0}}"#);
        let m: FileMeta = serde_json::from_str(&text).unwrap();
        assert_eq!(m.length, 0);
        assert_eq!(m.sha256().unwrap(), Sha256::digest(b"").as_slice());
        assert_eq!(m.custom, None);
        assert_eq!(
            super::super::cjson::to_canonical_from(&m).unwrap(),
            text.as_bytes()
        );
    }

    #[test]
    fn custom_and_unknown_fields_are_kept() {
        let text = r#"{"custom":{"b":1,"a":"x"},"hashes":{},"length":3,"zzz":[1]}"#;
        let m: FileMeta = serde_json::from_str(text).unwrap();
        assert_eq!(m.custom, Some(serde_json::json!({"a":"x","b":1})));
        assert_eq!(m.extra.get("zzz"), Some(&serde_json::json!([1])));
        let back = super::super::cjson::to_canonical_from(&m).unwrap();
        assert_eq!(
            back,
            br#"{"custom":{"a":"x","b":1},"hashes":{},"length":3,"zzz":[1]}"#
        );
    }

    #[test]
    fn null_custom_and_hashes_parse_as_absent() {
        let m: FileMeta =
            serde_json::from_str(r#"{"custom":null,"hashes":null,"length":1}"#).unwrap();
        assert!(m.custom.is_none());
        assert!(m.hashes.is_empty());
        assert_eq!(
            super::super::cjson::to_canonical_from(&m).unwrap(),
            br#"{"hashes":{},"length":1}"#
        );
    }

    #[test]
    fn bad_base64_is_rejected() {
        let err = serde_json::from_str::<FileMeta>(r#"{"hashes":{"sha256":"***"},"length":1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
    }

    #[test]
    fn from_bytes_and_check() {
        let m = FileMeta::from_bytes(b"hello", &[SHA256, SHA512]).unwrap();
        assert_eq!(m.length, 5);
        assert_eq!(m.hashes[SHA512].len(), 64);
        check_hashes("f", b"hello", &m).unwrap();
        let err = check_hashes("f", b"hellO", &m).unwrap_err();
        assert!(
            matches!(err, TufError::HashMismatch { ref name, .. } if name == "f"),
            "{err}"
        );
        assert!(FileMeta::from_bytes(b"", &["md5"]).is_err());
    }

    #[test]
    fn every_listed_hash_must_match() {
        // sha256 matches, sha512 does not: rejected (all known hashes are checked).
        let mut m = FileMeta::from_bytes(b"data", &[SHA256, SHA512]).unwrap();
        m.hashes.insert(SHA512.into(), vec![0; 64]);
        let err = check_hashes("t", b"data", &m).unwrap_err();
        assert!(matches!(err, TufError::HashMismatch { ref algorithm, .. } if algorithm == SHA512));
    }

    #[test]
    fn unknown_algorithms_alone_are_missing_hashes() {
        let mut m = FileMeta::from_bytes(b"data", &[]).unwrap();
        m.hashes.insert("md5".into(), vec![1, 2, 3]);
        assert!(matches!(
            check_hashes("t", b"data", &m),
            Err(TufError::MissingHashes { .. })
        ));
        // An unknown algorithm next to a matching sha256 is ignored.
        m.hashes
            .insert(SHA256.into(), Sha256::digest(b"data").to_vec());
        check_hashes("t", b"data", &m).unwrap();
    }

    #[test]
    fn hash_structure_rules() {
        let mut h = Hashes::new();
        assert!(check_valid_hash_structures(&h).is_err());
        h.insert("md5".into(), vec![0; 16]);
        assert!(check_valid_hash_structures(&h).is_err());
        h.insert(SHA256.into(), vec![0; 32]);
        check_valid_hash_structures(&h).unwrap();
        h.insert(SHA512.into(), vec![0; 32]);
        let err = check_valid_hash_structures(&h).unwrap_err();
        assert!(err.contains("sha512"), "{err}");
        h.insert(SHA512.into(), vec![0; 64]);
        h.insert(SHA256.into(), vec![0; 31]);
        assert!(check_valid_hash_structures(&h).is_err());
    }
}

/// A map of byte strings, each base64 (Go's `map[string][]byte`), as [`Hashes`] (the wire form of `hashes`).
pub(crate) mod b64_map {
    use super::super::serde_util::B64;
    use super::Hashes;
    use base64::Engine as _;
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

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
