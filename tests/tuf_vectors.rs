//! Wire-format and verification vectors: notary's own compatibility fixtures
//! (`testdata/notary-fixtures`, written by notary 0.1 and 0.3) and protocol §12.
//!
//! Only the public library API is used.

use std::path::{Path, PathBuf};
use vouch::crypto::CanonicalKeyId as _;

use sha2::{Digest, Sha256};
use time::macros::datetime;
use vouch::clock::FixedClock;
use vouch::crypto::x509;
use vouch::tuf::cjson;
use vouch::tuf::{
    check_hashes, encode_envelope, verify, BaseRole, Metadata, PublicKey, Root, Signed, Snapshot,
    Targets, Timestamp, TufError, Verified,
};

struct Repo {
    /// Directory of the fixture (`notary0.1`, `notary0.3`).
    base: PathBuf,
    gun: &'static str,
}

const REPOS: [(&str, &str); 2] = [
    ("notary0.1", "docker.com/notary0.1/samplerepo"),
    ("notary0.3", "docker.com/notary0.3/tst"),
];

fn repos() -> Vec<Repo> {
    REPOS
        .iter()
        .map(|(dir, gun)| Repo {
            base: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/notary-fixtures")
                .join(dir),
            gun,
        })
        .collect()
}

impl Repo {
    fn metadata_dir(&self) -> PathBuf {
        self.base.join("tuf").join(self.gun).join("metadata")
    }
    fn read(&self, role: &str) -> Vec<u8> {
        let path = self.metadata_dir().join(format!("{role}.json"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
    fn parse<T: Metadata>(&self, role: &str) -> Signed<T> {
        Signed::from_bytes(&self.read(role)).unwrap_or_else(|e| panic!("{} {role}: {e}", self.gun))
    }
    fn root(&self) -> Verified<Root> {
        let signed: Signed<Root> = self.parse("root");
        let role = signed.untrusted().base_role("root").unwrap();
        verify(signed, &role).unwrap_or_else(|e| panic!("{} root: {e}", self.gun))
    }
    /// Every role file present, by role name (`targets/releases` for delegations).
    fn roles(&self) -> Vec<String> {
        let dir = self.metadata_dir();
        let mut out = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "json") {
                    let rel = p.strip_prefix(&dir).unwrap().with_extension("");
                    out.push(rel.to_str().unwrap().to_owned());
                }
            }
        }
        out.sort();
        out
    }
}

/// The file rebuilt from its parts: typed role → canonical → envelope.
fn rebuild_typed<T: Metadata>(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let signed: Signed<T> = Signed::from_bytes(bytes).unwrap();
    let typed = cjson::to_canonical_from(signed.untrusted()).unwrap();
    let generic = signed.canonical_signed().unwrap();
    (
        encode_envelope(&typed, signed.signatures()).unwrap(),
        encode_envelope(&generic, signed.signatures()).unwrap(),
    )
}

#[test]
fn every_fixture_file_is_envelope_of_its_canonical_signed_part() {
    let mut files = 0;
    for repo in repos() {
        let roles = repo.roles();
        assert!(roles.len() >= 4, "{}: {roles:?}", repo.gun);
        for role in roles {
            let bytes = repo.read(&role);
            assert_ne!(bytes.last(), Some(&b'\n'), "{role}: trailing newline");
            let (typed, generic) = match role.as_str() {
                "root" => rebuild_typed::<Root>(&bytes),
                "snapshot" => rebuild_typed::<Snapshot>(&bytes),
                "timestamp" => rebuild_typed::<Timestamp>(&bytes),
                _ => rebuild_typed::<Targets>(&bytes),
            };
            assert_eq!(
                String::from_utf8(generic).unwrap(),
                String::from_utf8(bytes.clone()).unwrap(),
                "{} {role} (generic)",
                repo.gun
            );
            assert_eq!(
                String::from_utf8(typed).unwrap(),
                String::from_utf8(bytes).unwrap(),
                "{} {role} (typed)",
                repo.gun
            );
            files += 1;
        }
    }
    assert_eq!(files, 9);
}

#[test]
fn canonical_json_vector_12_1() {
    let repo = &repos()[0];
    let bytes = repo.read("timestamp");
    assert_eq!(bytes.len(), 395);
    let ts: Signed<Timestamp> = Signed::from_bytes(&bytes).unwrap();
    let canonical = ts.canonical_signed().unwrap();
    assert_eq!(
        String::from_utf8(canonical.clone()).unwrap(),
        r#"{"_type":"Timestamp","expires":"2116-01-12T00:58:43.527711489Z","meta":{"snapshot":{"hashes":{"sha256":"lbmRtDEnrK4xv9M42C+vTVUR5Vu8qq373Q+Lnfe9hXk="},"length":488}},"version":1}"#
    );
    assert_eq!(canonical.len(), 178);
    assert_eq!(
        hex::encode(Sha256::digest(&canonical)),
        "e37cf553f6e89968a4d1427dd1e244c5649c9b5932739a2cf9b5ef093a376b42"
    );
    let sig = &ts.signatures()[0];
    assert_eq!(
        sig.keyid,
        "1192c9d6a8e45e4fa80fd3eb7fff45778ccad29c84f4ce7afcf45f62210a4955"
    );
    assert_eq!(sig.method, "ecdsa");
    let snapshot = repo.read("snapshot");
    assert_eq!(
        hex::encode(Sha256::digest(&snapshot)),
        "95b991b43127acae31bfd338d82faf4d5511e55bbcaaadfbdd0f8b9df7bd8579"
    );
    assert_eq!(
        ts.untrusted().snapshot_meta().unwrap().sha256().unwrap(),
        Sha256::digest(&snapshot).as_slice()
    );
}

#[test]
fn key_id_vectors_12_2() {
    let cases = [
        // (repo, key ID in root/targets, keytype, canonical ID)
        (
            0,
            "4ff57dc987163053a12c066f2dd36b1ae6037a92f5416d381fe311a3db1868d8",
            "ecdsa-x509",
            "d0c623c8e70c70d42a8a8125c44a8598588b3f6e31d5c21a83cbc338dfde8a68",
        ),
        (
            1,
            "354e203ba09dbe17807b6a9d191bff887167c06d121e738d849446a9c76c2866",
            "ecdsa-x509",
            "f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690",
        ),
        (
            1,
            "68243a1f948be7841403f65fc8f24d5eda9050c337e727e2eacc3d3cb5227d73",
            "rsa-x509",
            "fa842f66cac2dc898677a8660789dcff0e3b0b93b73f8952491f6493199936d3",
        ),
    ];
    let repos = repos();
    for (i, id, keytype, canonical) in cases {
        let key = all_keys(&repos[i])
            .into_iter()
            .find_map(|(k, key)| (k == id).then_some(key))
            .unwrap_or_else(|| panic!("{id} not in {}", repos[i].gun));
        assert_eq!(key.keytype, keytype);
        assert_eq!(key.key_id().as_str(), id);
        assert_eq!(key.canonical_key_id().unwrap().as_str(), canonical);
    }
}

/// Every key of root.json and of every targets file's delegations, with its listed ID.
fn all_keys(repo: &Repo) -> Vec<(String, PublicKey)> {
    let mut keys: Vec<(String, PublicKey)> = repo.root().role().keys.clone().into_iter().collect();
    for role in repo.roles().iter().filter(|r| r.starts_with("targets")) {
        let t: Signed<Targets> = repo.parse(role);
        keys.extend(t.untrusted().delegations.keys.clone());
    }
    keys
}

#[test]
fn every_listed_key_id_is_the_key_id_and_private_key_files_are_canonical_ids() {
    for repo in repos() {
        let keys = all_keys(&repo);
        for (id, key) in &keys {
            assert_eq!(key.key_id().as_str(), id, "{}", repo.gun);
        }
        let canonical: Vec<String> = keys
            .iter()
            .map(|(_, k)| k.canonical_key_id().unwrap().to_string())
            .collect();
        let mut key_files = Vec::new();
        let mut stack = vec![repo.base.join("private")];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    key_files.push(p.file_stem().unwrap().to_str().unwrap().to_owned());
                }
            }
        }
        assert!(key_files.len() >= 3, "{}: {key_files:?}", repo.gun);
        for name in key_files {
            // notary 0.1 names files `<id>_<role>.key`.
            let id = name.split('_').next().unwrap();
            assert!(
                canonical.iter().any(|c| c == id),
                "{}: key file {name} matches no key",
                repo.gun
            );
        }
    }
}

#[test]
fn whole_repositories_verify() {
    let now = FixedClock(datetime!(2026-07-01 00:00:00 UTC));
    for repo in repos() {
        let root = repo.root();
        root.check_expiry(&now).unwrap();
        assert_eq!(root.signed_by().len(), 1);
        // Root-role keys are certificates for this GUN, valid at `now`.
        for key in root.role().base_role("root").unwrap().keys.values() {
            let leaf = x509::validate_root_cert(&key.public, repo.gun, now.0, true).unwrap();
            assert_eq!(leaf.common_name, repo.gun);
        }

        let ts = verify(
            repo.parse::<Timestamp>("timestamp"),
            &root.role().base_role("timestamp").unwrap(),
        )
        .unwrap();
        let snapshot_bytes = repo.read("snapshot");
        check_hashes(
            "snapshot",
            &snapshot_bytes,
            ts.role().snapshot_meta().unwrap(),
        )
        .unwrap();

        let snap = verify(
            repo.parse::<Snapshot>("snapshot"),
            &root.role().base_role("snapshot").unwrap(),
        )
        .unwrap();
        assert_eq!(
            snap.role().meta.len(),
            repo.roles().len() - 2,
            "{}",
            repo.gun
        );
        for (role, meta) in &snap.role().meta {
            check_hashes(role, &repo.read(role), meta)
                .unwrap_or_else(|e| panic!("{}: {e}", repo.gun));
        }

        let targets = verify(
            repo.parse::<Targets>("targets"),
            &root.role().base_role("targets").unwrap(),
        )
        .unwrap();
        for d in &targets.role().delegations.roles {
            let role = targets.role().delegation_role(&d.name).unwrap();
            let v = verify(repo.parse::<Targets>(&d.name), &role).unwrap();
            v.check_expiry(&now).unwrap();
            assert_eq!(v.role_name(), d.name);
        }
        for v in [
            ts.check_expiry(&now),
            snap.check_expiry(&now),
            targets.check_expiry(&now),
        ] {
            v.unwrap();
        }
    }
}

#[test]
fn notary01_license_target_and_file_sizes_12_4() {
    let repo = &repos()[0];
    let targets: Signed<Targets> = repo.parse("targets");
    let license = &targets.untrusted().targets["LICENSE"];
    assert_eq!(license.length, 11309);
    assert_eq!(
        hex::encode(license.sha256().unwrap()),
        "9395bac6fccb26bcb55efb083d1b4b0fe72a1c25f959f056c016120b3bb56a62"
    );
    for (role, prefix, len) in [
        ("root", "7ccbd572", 2429),
        ("targets", "1cf725db", 439),
        ("snapshot", "95b991b4", 488),
        ("timestamp", "396f75fb", 395),
    ] {
        let bytes = repo.read(role);
        assert_eq!(bytes.len(), len, "{role}");
        assert!(
            hex::encode(Sha256::digest(&bytes)).starts_with(prefix),
            "{role}"
        );
    }
}

#[test]
fn notary03_releases_delegation_12_4() {
    let repo = &repos()[1];
    let targets: Signed<Targets> = repo.parse("targets");
    let d = targets.untrusted().delegation("targets/releases").unwrap();
    assert_eq!(d.paths, vec![String::new()]);
    let role = targets
        .untrusted()
        .delegation_role("targets/releases")
        .unwrap();
    let releases = verify(repo.parse::<Targets>("targets/releases"), &role).unwrap();
    assert_eq!(releases.signatures()[0].method, "rsapss");
    let hello = &releases.role().targets["hello"];
    assert_eq!(hello.length, 0);
    assert_eq!(hello.sha256().unwrap(), Sha256::digest(b"").as_slice());
    assert_eq!(
        releases.role().expires.as_str(),
        "2116-07-03T18:08:08.418734928-05:00"
    );
}

#[test]
fn notary03_root_certificate_expires_in_july_2026() {
    let repo = &repos()[1];
    let root = repo.root();
    let key = root
        .role()
        .base_role("root")
        .unwrap()
        .keys
        .into_values()
        .next()
        .unwrap();
    x509::validate_root_cert(&key.public, repo.gun, datetime!(2026-07-01 00:00 UTC), true).unwrap();
    let err =
        x509::validate_root_cert(&key.public, repo.gun, datetime!(2026-08-01 00:00 UTC), true)
            .unwrap_err();
    assert!(err.to_string().contains(repo.gun), "{err}");
    // Metadata expiry (2116) is a separate check.
    root.check_expiry(&FixedClock(datetime!(2026-08-01 00:00 UTC)))
        .unwrap();
    assert!(matches!(
        root.check_expiry(&FixedClock(datetime!(2117-01-01 00:00 UTC))),
        Err(TufError::Expired { .. })
    ));
}

/// The file with one byte inside `signed` changed (the first digit of the expiry
/// year, 2 → 3), still valid JSON.
fn tamper(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let at = text.find(r#""expires":"2"#).unwrap() + r#""expires":""#.len();
    let mut out = bytes.to_vec();
    out[at] = b'3';
    out
}

#[test]
fn one_changed_byte_in_signed_fails_verification() {
    for repo in repos() {
        let root = repo.root();
        let cases: Vec<(&str, BaseRole)> = vec![
            ("root", root.role().base_role("root").unwrap()),
            ("targets", root.role().base_role("targets").unwrap()),
            ("snapshot", root.role().base_role("snapshot").unwrap()),
            ("timestamp", root.role().base_role("timestamp").unwrap()),
        ];
        for (role, keys) in cases {
            let bytes = tamper(&repo.read(role));
            let err = match role {
                "root" => verify(Signed::<Root>::from_bytes(&bytes).unwrap(), &keys).map(|_| ()),
                "targets" => {
                    verify(Signed::<Targets>::from_bytes(&bytes).unwrap(), &keys).map(|_| ())
                }
                "snapshot" => {
                    verify(Signed::<Snapshot>::from_bytes(&bytes).unwrap(), &keys).map(|_| ())
                }
                _ => verify(Signed::<Timestamp>::from_bytes(&bytes).unwrap(), &keys).map(|_| ()),
            }
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    TufError::ThresholdNotMet {
                        valid: 0,
                        threshold: 1,
                        ..
                    }
                ),
                "{} {role}: {err}",
                repo.gun
            );
        }
    }
    // The delegation too.
    let repo = &repos()[1];
    let targets: Signed<Targets> = repo.parse("targets");
    let role = targets
        .untrusted()
        .delegation_role("targets/releases")
        .unwrap();
    let bytes = tamper(&repo.read("targets/releases"));
    assert!(verify(Signed::<Targets>::from_bytes(&bytes).unwrap(), &role).is_err());
}

#[test]
fn a_duplicated_signature_does_not_reach_threshold_two() {
    for repo in repos() {
        let root = repo.root();
        let signed: Signed<Timestamp> = repo.parse("timestamp");
        let sig = signed.signatures()[0].clone();
        let doubled =
            encode_envelope(&signed.canonical_signed().unwrap(), &[sig.clone(), sig]).unwrap();
        let mut role = root.role().base_role("timestamp").unwrap();
        verify(Signed::<Timestamp>::from_bytes(&doubled).unwrap(), &role).unwrap();
        role.threshold = 2;
        let err = verify(Signed::<Timestamp>::from_bytes(&doubled).unwrap(), &role).unwrap_err();
        assert!(
            matches!(
                err,
                TufError::ThresholdNotMet {
                    valid: 1,
                    threshold: 2,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn metadata_signed_by_another_role_is_rejected() {
    for repo in repos() {
        let root = repo.root();
        let wrong = root.role().base_role("targets").unwrap();
        let renamed = BaseRole {
            name: "timestamp".into(),
            ..wrong
        };
        let err = verify(repo.parse::<Timestamp>("timestamp"), &renamed).unwrap_err();
        assert!(
            matches!(err, TufError::ThresholdNotMet { valid: 0, .. }),
            "{err}"
        );
    }
}
