//! Passphrase sources: environment mapping (vouch, notary, docker), passphrase files,
//! chains, the keyring cache, and secrets that never print.

mod keystore_support;

use std::os::unix::fs::PermissionsExt as _;

use keystore_support::*;
use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::keystore::{
    Chain, EnvSource, KeyFormat, KeyStore, KeyringCache, KeystoreError, Origin, PassphraseFile,
    PassphraseRequest, PassphraseSource, Secret,
};
use vouch::ExitCode;

fn req(role: &str) -> PassphraseRequest {
    PassphraseRequest {
        key_id: None,
        role: role.into(),
        new_key: false,
        attempt: 0,
    }
}

fn answer(src: &dyn PassphraseSource, role: &str) -> Option<String> {
    src.get(&req(role)).unwrap().map(|s| s.expose().to_owned())
}

fn env(vars: &[(&str, &str)]) -> EnvSource {
    EnvSource::new(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn environment_variables_map_roles_like_notary_and_docker() {
    let all = env(&[
        ("VOUCH_ROOT_PASSPHRASE", "v-root"),
        ("NOTARY_ROOT_PASSPHRASE", "n-root"),
        ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "d-root"),
        ("NOTARY_TARGETS_PASSPHRASE", "n-targets"),
        ("NOTARY_SNAPSHOT_PASSPHRASE", "n-snapshot"),
        ("NOTARY_DELEGATION_PASSPHRASE", "n-deleg"),
        ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "d-repo"),
    ]);
    assert_eq!(answer(&all, "root").as_deref(), Some("v-root"));
    assert_eq!(answer(&all, "targets").as_deref(), Some("n-targets"));
    assert_eq!(answer(&all, "snapshot").as_deref(), Some("n-snapshot"));
    assert_eq!(answer(&all, "targets/releases").as_deref(), Some("n-deleg"));
    assert_eq!(
        answer(&all, "alice").as_deref(),
        Some("n-deleg"),
        "docker signer names are delegations"
    );
    assert_eq!(answer(&all, "").as_deref(), Some("n-deleg"));
    // notary has no timestamp variable; docker's repository one applies.
    assert_eq!(answer(&all, "timestamp").as_deref(), Some("d-repo"));

    let docker = env(&[
        ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "d-root"),
        ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "d-repo"),
        ("NOTARY_ROOT_PASSPHRASE", ""),
    ]);
    assert_eq!(
        answer(&docker, "root").as_deref(),
        Some("d-root"),
        "empty values count as unset"
    );
    for role in ["targets", "snapshot", "targets/releases", "bob"] {
        assert_eq!(answer(&docker, role).as_deref(), Some("d-repo"), "{role}");
    }
    // Values are taken as they are, spaces included.
    let spaced = env(&[("VOUCH_DELEGATION_PASSPHRASE", " with spaces ")]);
    assert_eq!(
        answer(&spaced, "targets/x").as_deref(),
        Some(" with spaces ")
    );
    assert_eq!(answer(&spaced, "root"), None);
    let s = spaced.get(&req("targets/x")).unwrap().unwrap();
    assert_eq!(s.origin(), Origin::Configured);
}

#[test]
fn a_wrong_configured_passphrase_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(dir.path()).unwrap();
    let info = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("right one"),
        )
        .unwrap();
    let e = env(&[("NOTARY_ROOT_PASSPHRASE", "wrong one")]);
    // The prompt after it is never reached: a configured value is final (as in notary).
    let prompt = Scripted::new(&["right one"]);
    let chain = Chain::new().push(&e).push(&prompt);
    let err = ks.load(&info.id, &chain).unwrap_err();
    assert!(
        matches!(err, KeystoreError::WrongPassphrase { .. }),
        "{err}"
    );
    assert!(prompt.requests.borrow().is_empty());
    // Without the variable, the chain falls through to the prompt.
    let chain = Chain::new().push(env(&[])).push(&prompt);
    ks.load(&info.id, &chain).unwrap();
}

#[test]
fn passphrase_files_first_line_and_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pass.txt");
    std::fs::write(&path, "first line\r\nsecond line\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let f = PassphraseFile::open(&path).unwrap();
    assert!(!f.insecure());
    assert_eq!(answer(&f, "root").as_deref(), Some("first line"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = PassphraseFile::open(&path).err().unwrap();
    assert!(
        matches!(
            err,
            KeystoreError::InsecurePassphraseFile { mode: 0o644, .. }
        ),
        "{err}"
    );
    assert_eq!(err.exit_code(), ExitCode::Usage);
    assert!(vouch::advice::keystore(&err).unwrap().contains("chmod 600"));
    let loose = PassphraseFile::open_allow_insecure(&path).unwrap();
    assert!(loose.insecure());
    assert_eq!(answer(&loose, "targets").as_deref(), Some("first line"));
    let missing = PassphraseFile::open(dir.path().join("nope")).err().unwrap();
    assert!(matches!(missing, KeystoreError::Io { .. }) && missing.to_string().contains("nope"));
}

#[test]
fn secrets_and_keys_never_print_their_secret() {
    let s = Secret::new("hunter2-secret");
    assert!(!format!("{s:?}").contains("hunter2"));
    let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let scalar = hex::encode(key.ecdsa_signing_key().unwrap().to_bytes().unwrap());
    let shown = format!("{key:?} {key:#?}");
    assert!(!shown.to_lowercase().contains(&scalar) && shown.contains(key.key_id().as_str()));
    let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let der = ed
        .to_pkcs8_der(vouch::crypto::private::pkcs8::Pkcs8Flavor::Standard)
        .unwrap();
    let seed = hex::encode(&der[der.len() - 32..]);
    assert!(!format!("{ed:?}").contains(&seed));
}

/// The keyring cache is opt-in and best effort: when the OS keyring works, a passphrase
/// typed once is served from it next time and a stale one is dropped; when it does not,
/// everything still works through the next source.
#[test]
fn keyring_cache_is_best_effort() {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(dir.path()).unwrap();
    let info = ks
        .generate(
            "targets/k",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("typed once"),
        )
        .unwrap();
    let cache = KeyringCache::with_service(format!("vouch-test-{}", std::process::id()));
    let available = cache.store(&info.id, &Secret::new("probe")) && {
        let probe = PassphraseRequest {
            key_id: Some(info.id.clone()),
            ..req("targets/k")
        };
        cache
            .get(&probe)
            .unwrap()
            .is_some_and(|s| s.expose() == "probe")
    };
    cache.forget(&info.id);

    let prompt = Scripted::new(&["typed once", "typed once"]);
    let chain = Chain::new().push(&cache).push(&prompt);
    ks.load(&info.id, &chain).unwrap();
    assert_eq!(prompt.requests.borrow().len(), 1);
    ks.load(&info.id, &chain).unwrap();
    let asked = prompt.requests.borrow().len();
    assert_eq!(
        asked,
        if available { 1 } else { 2 },
        "keyring available: {available}"
    );

    if available {
        // A stale cached passphrase is forgotten and the prompt asked instead.
        assert!(cache.store(&info.id, &Secret::new("stale")));
        let prompt = Scripted::new(&["typed once"]);
        let chain = Chain::new().push(&cache).push(&prompt);
        ks.load(&info.id, &chain).unwrap();
        assert_eq!(prompt.requests.borrow().len(), 1);
    }
    cache.forget(&info.id);
    let probe = PassphraseRequest {
        key_id: Some(info.id.clone()),
        ..req("targets/k")
    };
    assert!(cache.get(&probe).unwrap().is_none());
}
