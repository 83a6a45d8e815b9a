//! Key files moving between vouch and the real notary 0.7 CLI (`/usr/bin/notary`).

mod keystore_support;

use keystore_support::*;
use vouch::crypto::private::Algorithm;
use vouch::crypto::SignatureProvider as _;
use vouch::keystore::{
    EnvSource, ExportFormat, FileFormat, ImportOptions, ImportOutcome, KeyFormat, KeyStore,
};
use vouch::tuf::KeyId;

const ROOT_PASS: &str = "root passphrase 1";
const TARGETS_PASS: &str = "targets passphrase 2";
const DELEG_PASS: &str = "delegation passphrase 3";

fn notary_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("NOTARY_ROOT_PASSPHRASE", ROOT_PASS),
        ("NOTARY_TARGETS_PASSPHRASE", TARGETS_PASS),
        ("NOTARY_DELEGATION_PASSPHRASE", DELEG_PASS),
    ]
}

fn notary(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut full = vec!["-d", dir.to_str().unwrap()];
    full.extend_from_slice(args);
    run("notary", &full, env, None)
}

fn notary_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = notary(dir, args, &notary_env());
    assert!(
        out.status.success(),
        "notary {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The key ID in notary's "Generated new ecdsa <role> key with keyID: <id>" line.
fn generated_id(out: &str) -> KeyId {
    KeyId::parse(out.trim().rsplit(' ').next().unwrap()).unwrap()
}

fn vouch_env() -> EnvSource {
    EnvSource::new(
        notary_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn keys_generated_by_notary_load_and_sign() {
    let dir = tempfile::tempdir().unwrap();
    let root = generated_id(&notary_ok(
        dir.path(),
        &["key", "generate", "--role", "root"],
    ));
    let deleg = generated_id(&notary_ok(
        dir.path(),
        &["key", "generate", "--role", "targets/releases"],
    ));
    let ks = KeyStore::open(dir.path()).unwrap();
    let listed = ks.list().unwrap();
    assert_eq!(listed.len(), 2);
    for (id, role) in [(&root, "root"), (&deleg, "targets/releases")] {
        let info = listed.iter().find(|k| &k.id == id).unwrap();
        assert_eq!(info.role, role);
        assert_eq!(info.gun, None);
        assert_eq!(
            info.format,
            FileFormat::Pbkdf2 {
                prf: "hmac-sha1",
                iterations: 2048
            }
        );
        // Passphrases by role from notary's variables, as notary maps them.
        let (key, _) = ks.load(id, &vouch_env()).unwrap();
        assert_eq!(&key.key_id(), id);
        let msg = b"{\"_type\":\"Targets\"}";
        let sig = key.sign(msg).unwrap();
        assert_eq!(sig.len(), 64);
        assert_eq!(key.method(), "ecdsa");
        // Verified with p256 directly, not through vouch.
        assert!(verify(&key.public_key(), msg, &sig));
    }
}

#[test]
fn notary_uses_keys_vouch_writes_in_notary_format() {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(dir.path()).unwrap();
    let targets = ks
        .generate(
            "targets",
            Some("example.com/app"),
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &vouch_env(),
        )
        .unwrap();
    let deleg = ks
        .generate(
            "targets/ci",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &vouch_env(),
        )
        .unwrap();
    let list = notary_ok(dir.path(), &["key", "list"]);
    for (info, role) in [(&targets, "targets"), (&deleg, "targets/ci")] {
        let line = list
            .lines()
            .find(|l| l.contains(info.id.as_str()))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(line.split_whitespace().next() == Some(role), "{line}");
    }
    assert!(list.contains("example.com/app"));
    // `key passwd` decrypts the key with the env passphrase: proof notary can read it.
    notary_ok(dir.path(), &["key", "passwd", targets.id.as_str()]);
    notary_ok(dir.path(), &["key", "passwd", deleg.id.as_str()]);
    let wrong = notary(
        dir.path(),
        &["key", "passwd", deleg.id.as_str()],
        &[("NOTARY_DELEGATION_PASSPHRASE", "wrong")],
    );
    assert!(!wrong.status.success());
    // And vouch still reads what notary rewrote.
    ks.load(&targets.id, &vouch_env()).unwrap();
}

#[test]
fn notary_format_export_equals_notarys_own_export() {
    let dir = tempfile::tempdir().unwrap();
    let id = generated_id(&notary_ok(
        dir.path(),
        &["key", "generate", "--role", "root"],
    ));
    let theirs = notary_ok(dir.path(), &["key", "export", "--key", id.as_str()]);
    let ks = KeyStore::open(dir.path()).unwrap();
    let ours = ks
        .export(&id, ExportFormat::Notary, &vouch::keystore::NoPassphrase)
        .unwrap();
    assert_eq!(*ours, theirs);
    assert!(theirs.contains(&format!("path: {id}\n")));
}

#[test]
fn vouch_keys_exported_for_notary_are_imported_by_notary() {
    let src = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(src.path()).unwrap();
    // vouch's own (scrypt) format: re-encrypted on export with the same passphrase.
    let deleg = ks
        .generate(
            "targets/releases",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Vouch,
            &vouch_env(),
        )
        .unwrap();
    let snap = ks
        .generate(
            "snapshot",
            Some("example.com/app"),
            Algorithm::Ecdsa,
            KeyFormat::Vouch,
            &pass(TARGETS_PASS),
        )
        .unwrap();
    let mut bundle = String::new();
    for id in [&deleg.id, &snap.id] {
        let text = ks
            .export(
                id,
                ExportFormat::Notary,
                &vouch_env().chained_with(TARGETS_PASS),
            )
            .unwrap();
        assert!(!text.contains("algorithm:"), "{}", *text);
        assert!(text.contains(&format!("path: {id}\n")));
        bundle.push_str(&text);
    }
    let file = src.path().join("export.pem");
    std::fs::write(&file, &bundle).unwrap();
    let dst = tempfile::tempdir().unwrap();
    let env = [
        ("NOTARY_DELEGATION_PASSPHRASE", DELEG_PASS),
        ("NOTARY_SNAPSHOT_PASSPHRASE", TARGETS_PASS),
    ];
    let out = notary(dst.path(), &["key", "import", file.to_str().unwrap()], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let list = String::from_utf8(notary(dst.path(), &["key", "list"], &env).stdout).unwrap();
    assert!(
        list.contains(deleg.id.as_str()) && list.contains(snap.id.as_str()),
        "{list}"
    );
    for id in [&deleg.id, &snap.id] {
        let out = notary(dst.path(), &["key", "passwd", id.as_str()], &env);
        assert!(
            out.status.success(),
            "notary cannot decrypt {id}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn notary_exports_import_into_vouch() {
    let dir = tempfile::tempdir().unwrap();
    let root = generated_id(&notary_ok(
        dir.path(),
        &["key", "generate", "--role", "root"],
    ));
    let deleg = generated_id(&notary_ok(
        dir.path(),
        &["key", "generate", "--role", "targets/a"],
    ));
    let bundle = notary_ok(dir.path(), &["key", "export"]);
    let dst = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(dst.path()).unwrap();
    let imported = ks
        .import(bundle.as_bytes(), &ImportOptions::default(), &vouch_env())
        .unwrap();
    assert_eq!(imported.len(), 2);
    assert!(imported
        .iter()
        .all(|k| k.outcome == ImportOutcome::Imported));
    for (id, role) in [(&root, "root"), (&deleg, "targets/a")] {
        let (key, info) = ks.load(id, &vouch_env()).unwrap();
        assert_eq!(info.role, role);
        assert_eq!(&key.key_id(), id);
        // Stored as notary wrote it (minus the `path` header): still notary's format.
        let text = std::fs::read_to_string(&info.path).unwrap();
        assert!(!text.contains("path:"));
        assert_eq!(
            info.format,
            FileFormat::Pbkdf2 {
                prf: "hmac-sha1",
                iterations: 2048
            }
        );
    }
    // Importing the same bundle again leaves the store as it is.
    let before = snapshot(dst.path());
    let again = ks
        .import(bundle.as_bytes(), &ImportOptions::default(), &vouch_env())
        .unwrap();
    assert!(again
        .iter()
        .all(|k| k.outcome == ImportOutcome::AlreadyPresent));
    assert_eq!(snapshot(dst.path()), before);
}

/// The notary-env source plus one fixed passphrase for roles it has no variable for.
trait ChainedWith {
    fn chained_with(self, p: &str) -> vouch::keystore::Chain<'static>;
}

impl ChainedWith for EnvSource {
    fn chained_with(self, p: &str) -> vouch::keystore::Chain<'static> {
        vouch::keystore::Chain::new().push(self).push(pass(p))
    }
}
