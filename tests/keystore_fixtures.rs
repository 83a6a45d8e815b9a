//! notary 0.1 / 0.3 fixture keys (legacy PEM types, RFC 1423 encryption, old layout):
//! every key decrypts, its canonical ID is its file name, it signs, and nothing is migrated.

mod keystore_support;

use std::path::Path;

use keystore_support::*;
use vouch::crypto::private::Algorithm;
use vouch::crypto::SignatureProvider as _;
use vouch::keystore::{FileFormat, KeyStore, KeystoreError};
use vouch::tuf::KeyId;
use vouch::ExitCode;

/// A trust dir holding a copy of a fixture's `private/` directory.
fn fixture_store(version: &str) -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &fixtures().join(version).join("private"),
        &dir.path().join("private"),
    );
    let ks = KeyStore::open(dir.path()).unwrap();
    (dir, ks)
}

/// The key ID a fixture file name claims (`<id>.key` or `<id>_<role>.key`).
fn id_from_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    stem.split('_').next().unwrap().to_owned()
}

fn key_files(dir: &Path) -> Vec<std::path::PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect()
}

#[test]
fn notary03_keys_decrypt_and_their_ids_are_their_file_names() {
    let (dir, ks) = fixture_store("notary0.3");
    let listed = ks.list().unwrap();
    let files = key_files(dir.path());
    assert_eq!(files.len(), 4);
    assert_eq!(listed.len(), files.len());
    for file in files {
        let id = KeyId::parse(&id_from_name(&file)).unwrap();
        let info = listed
            .iter()
            .find(|k| k.id == id)
            .expect("every fixture key is listed");
        assert!(info.legacy_layout);
        assert!(
            matches!(
                &info.format,
                FileFormat::Legacy {
                    cipher: Some("AES-256-CBC"),
                    ..
                }
            ),
            "{:?}",
            info.format
        );
        let (key, loaded) = ks.load(&id, &pass("password")).unwrap();
        assert_eq!(key.key_id(), id, "canonical ID of {}", file.display());
        assert_eq!(loaded.path, file);
    }
    let role = |r: &str| {
        listed
            .iter()
            .find(|k| k.role == r)
            .unwrap_or_else(|| panic!("no {r} key"))
    };
    assert_eq!(role("root").gun, None);
    assert_eq!(
        role("targets").gun.as_deref(),
        Some("docker.com/notary0.3/tst")
    );
    assert_eq!(
        role("snapshot").gun.as_deref(),
        Some("docker.com/notary0.3/tst")
    );
    let deleg = role("targets/releases");
    assert_eq!(deleg.gun, None);
    assert_eq!(deleg.algorithm.as_deref(), Some("rsa"));
    let (rsa, _) = ks.load(&deleg.id, &pass("password")).unwrap();
    assert_eq!(rsa.algorithm(), Algorithm::Rsa);
    assert_eq!(rsa.public_key().keytype, "rsa");
}

#[test]
fn notary01_keys_decrypt_with_roles_from_file_names() {
    let (dir, ks) = fixture_store("notary0.1");
    let listed = ks.list().unwrap();
    let files = key_files(dir.path());
    assert_eq!(files.len(), 3);
    assert_eq!(listed.len(), 3);
    for file in &files {
        let id = KeyId::parse(&id_from_name(file)).unwrap();
        let (key, info) = ks.load(&id, &pass("randompass")).unwrap();
        assert_eq!(key.key_id(), id);
        // Role from the `_<role>` suffix: these files have no headers.
        let suffix = file
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .split_once('_')
            .unwrap()
            .1;
        assert_eq!(info.role, suffix);
        let expect_gun = (suffix != "root").then_some("docker.com/notary0.1/samplerepo");
        assert_eq!(info.gun.as_deref(), expect_gun);
    }
}

#[test]
fn fixture_keys_sign_verifiably() {
    for (version, passphrase) in [("notary0.3", "password"), ("notary0.1", "randompass")] {
        let (_dir, ks) = fixture_store(version);
        for info in ks.list().unwrap() {
            let (key, _) = ks.load(&info.id, &pass(passphrase)).unwrap();
            let msg = format!("signed by {}", info.id);
            let sig = key.sign(msg.as_bytes()).unwrap();
            assert!(
                verify(&key.public_key(), msg.as_bytes(), &sig),
                "{} {}",
                version,
                info.id
            );
            assert!(!verify(&key.public_key(), b"another message", &sig));
            let method = if key.algorithm() == Algorithm::Rsa {
                "rsapss"
            } else {
                "ecdsa"
            };
            assert_eq!(key.method(), method);
        }
    }
}

#[test]
fn legacy_layout_is_read_in_place_not_migrated() {
    let (dir, ks) = fixture_store("notary0.3");
    let before = snapshot(dir.path());
    for info in ks.list().unwrap() {
        ks.load(&info.id, &pass("password")).unwrap();
    }
    assert_eq!(snapshot(dir.path()), before);
    assert!(dir.path().join("private/root_keys").is_dir());
    assert!(dir.path().join("private/tuf_keys").is_dir());
}

#[test]
fn wrong_passphrase_on_a_legacy_key_changes_nothing() {
    let (dir, ks) = fixture_store("notary0.3");
    let before = snapshot(dir.path());
    for info in ks.list().unwrap() {
        let err = ks.load(&info.id, &pass("not-the-passphrase")).unwrap_err();
        assert!(
            matches!(err, KeystoreError::WrongPassphrase { .. }),
            "{}: {err}",
            info.id
        );
        assert_eq!(err.exit_code(), ExitCode::Keystore);
        assert!(err.to_string().contains(info.id.as_str()));
        assert!(vouch::advice::keystore(&err)
            .unwrap()
            .contains("PASSPHRASE"));
    }
    assert_eq!(snapshot(dir.path()), before);
}
