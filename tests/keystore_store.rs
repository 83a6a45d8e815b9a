//! The key store's behaviour: permissions, roles and GUNs, listing, passphrase changes,
//! removal, import rules, and concurrent writers.

mod keystore_support;

use std::os::unix::fs::PermissionsExt as _;

use keystore_support::*;
use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::keystore::{
    ExportFormat, FileFormat, ImportOptions, ImportOutcome, KeyFormat, KeyStore, KeystoreError,
    NoPassphrase,
};
use vouch::ExitCode;

fn store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(dir.path().join("trust")).unwrap();
    (dir, ks)
}

#[test]
fn directories_are_0700_and_key_files_0600() {
    let (dir, ks) = store();
    let trust = dir.path().join("trust");
    assert_eq!(mode(&trust), 0o700);
    assert_eq!(mode(&trust.join("private")), 0o700);
    // A private dir someone loosened is tightened by the next write.
    std::fs::set_permissions(
        trust.join("private"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let info = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("pw"),
        )
        .unwrap();
    assert_eq!(mode(&trust.join("private")), 0o700);
    assert_eq!(mode(&info.path), 0o600);
    ks.change_passphrase(&info.id, &pass("pw"), &pass("pw2"), None)
        .unwrap();
    assert_eq!(mode(&info.path), 0o600);
    let exported = ks
        .export(&info.id, ExportFormat::Notary, &NoPassphrase)
        .unwrap();
    let (_d2, other) = store();
    let imported = other
        .import(exported.as_bytes(), &ImportOptions::default(), &pass("pw2"))
        .unwrap();
    assert_eq!(mode(&imported[0].info.path), 0o600);
    // No temp files are left behind.
    let names: Vec<String> = std::fs::read_dir(trust.join("private"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("{}.key", info.id)]);
}

#[test]
fn roles_and_guns_are_checked_before_anything_is_written() {
    let (dir, ks) = store();
    let before = snapshot(dir.path());
    let p = pass("pw");
    type Case<'a> = (&'a str, Option<&'a str>, fn(&KeystoreError) -> bool);
    let cases: Vec<Case> = vec![
        ("targets", None, |e| {
            matches!(e, KeystoreError::GunRequired { .. })
        }),
        ("snapshot", None, |e| {
            matches!(e, KeystoreError::GunRequired { .. })
        }),
        ("root", Some("example.com/app"), |e| {
            matches!(e, KeystoreError::GunNotAllowed { .. })
        }),
        ("targets/releases", Some("example.com/app"), |e| {
            matches!(e, KeystoreError::GunNotAllowed { .. })
        }),
        ("Targets/X", None, |e| {
            matches!(e, KeystoreError::InvalidRole { .. })
        }),
        ("targets/../root", None, |e| {
            matches!(e, KeystoreError::InvalidRole { .. })
        }),
        ("targets", Some("bad gun\nrole: root"), |e| {
            matches!(e, KeystoreError::InvalidGun { .. })
        }),
    ];
    for (role, gun, is_expected) in cases {
        let err = ks
            .generate(role, gun, Algorithm::Ecdsa, KeyFormat::Notary, &p)
            .unwrap_err();
        assert!(is_expected(&err), "{role} {gun:?}: {err}");
        assert_eq!(err.exit_code(), ExitCode::Usage, "{err}");
        assert!(vouch::advice::keystore(&err).is_some());
    }
    assert_eq!(snapshot(dir.path()), before);
    // Docker signer names are plain names; their keys carry no GUN.
    let alice = ks
        .generate("alice", None, Algorithm::Ecdsa, KeyFormat::Notary, &p)
        .unwrap();
    let text = std::fs::read_to_string(&alice.path).unwrap();
    assert!(text.contains("role: alice\n") && !text.contains("gun:"));
    let ts = ks
        .generate(
            "timestamp",
            Some("example.com/app"),
            Algorithm::Ed25519,
            KeyFormat::Notary,
            &p,
        )
        .unwrap();
    assert!(std::fs::read_to_string(&ts.path)
        .unwrap()
        .contains("gun: example.com/app\nrole: timestamp\n"));
}

#[test]
fn empty_or_missing_new_passphrases_are_refused_unless_unencrypted_is_asked_for() {
    let (dir, ks) = store();
    let err = ks
        .generate("root", None, Algorithm::Ecdsa, KeyFormat::Vouch, &pass(""))
        .unwrap_err();
    assert!(
        matches!(err, KeystoreError::EmptyPassphrase { .. }),
        "{err}"
    );
    let err = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &NoPassphrase,
        )
        .unwrap_err();
    assert!(
        matches!(err, KeystoreError::PassphraseRequired { .. }),
        "{err}"
    );
    assert!(ks.list().unwrap().is_empty());
    let info = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Unencrypted,
            &NoPassphrase,
        )
        .unwrap();
    assert_eq!(info.format, FileFormat::Unencrypted);
    assert_eq!(ks.list().unwrap()[0].algorithm.as_deref(), Some("ecdsa"));
    ks.load(&info.id, &NoPassphrase).unwrap();
    assert_eq!(snapshot(dir.path()).len(), 1);
}

#[test]
fn listing_skips_symlinks_and_reports_files_it_cannot_use() {
    let (dir, ks) = store();
    let good = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Vouch,
            &pass("pw"),
        )
        .unwrap();
    let private = dir.path().join("trust/private");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("x.key");
    std::fs::copy(&good.path, &target).unwrap();
    std::os::unix::fs::symlink(&target, private.join(format!("{}.key", "cd".repeat(32)))).unwrap();
    std::fs::write(private.join("not-an-id.key"), "junk").unwrap();
    let broken = private.join(format!("{}.key", "ef".repeat(32)));
    std::fs::write(&broken, "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
    let scan = ks.scan().unwrap();
    assert_eq!(
        scan.keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
        vec![good.id.clone()]
    );
    assert_eq!(
        scan.keys[0].algorithm.as_deref(),
        Some("ecdsa"),
        "from the vouch header"
    );
    let mut skipped: Vec<_> = scan.skipped.iter().map(|s| s.path.clone()).collect();
    skipped.sort();
    assert_eq!(skipped, vec![broken.clone(), private.join("not-an-id.key")]);
    assert!(scan
        .skipped
        .iter()
        .any(|s| s.reason.contains("no END line")));
    // Unique prefixes resolve; ambiguous or unknown ones are errors.
    assert_eq!(ks.find(&good.id.as_str()[..8]).unwrap().id, good.id);
    assert!(matches!(
        ks.find("ffffffff"),
        Err(KeystoreError::NotFound { .. })
    ));
    ks.generate(
        "targets/x",
        None,
        Algorithm::Ecdsa,
        KeyFormat::Unencrypted,
        &NoPassphrase,
    )
    .unwrap();
    assert!(matches!(
        ks.find("0123456789abcdef"),
        Err(KeystoreError::NotFound { .. })
    ));
}

#[test]
fn change_passphrase_rewrites_in_place_and_keeps_notary_keys_notary() {
    let (dir, ks) = store();
    let info = ks
        .generate(
            "targets",
            Some("a/b"),
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("old pass"),
        )
        .unwrap();
    let new = ks
        .change_passphrase(&info.id, &pass("old pass"), &pass("new pass"), None)
        .unwrap();
    assert_eq!(
        new.format,
        FileFormat::Pbkdf2 {
            prf: "hmac-sha1",
            iterations: 2048
        }
    );
    assert_eq!(
        (new.role.as_str(), new.gun.as_deref()),
        ("targets", Some("a/b"))
    );
    assert!(matches!(
        ks.load(&info.id, &pass("old pass")),
        Err(KeystoreError::WrongPassphrase { .. })
    ));
    ks.load(&info.id, &pass("new pass")).unwrap();
    let upgraded = ks
        .change_passphrase(
            &info.id,
            &pass("new pass"),
            &pass("newer"),
            Some(KeyFormat::Vouch),
        )
        .unwrap();
    assert!(matches!(upgraded.format, FileFormat::Scrypt { .. }));
    ks.load(&info.id, &pass("newer")).unwrap();
    assert_eq!(snapshot(dir.path()).len(), 1);
    // A legacy fixture key is rewritten where it lives, in notary's format by default.
    let legacy = dir.path().join("trust/private/root_keys");
    copy_tree(&fixtures().join("notary0.3/private/root_keys"), &legacy);
    let id = vouch::tuf::KeyId::parse(
        "f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690",
    )
    .unwrap();
    let re = ks
        .change_passphrase(&id, &pass("password"), &pass("fresh one"), None)
        .unwrap();
    assert!(re.legacy_layout && re.path.starts_with(&legacy) && re.role == "root");
    assert_eq!((mode(&re.path), mode(&legacy)), (0o600, 0o700));
    assert_eq!(
        re.format,
        FileFormat::Pbkdf2 {
            prf: "hmac-sha1",
            iterations: 2048
        }
    );
    assert_eq!(ks.load(&id, &pass("fresh one")).unwrap().0.key_id(), id);
}

#[test]
fn remove_deletes_every_copy() {
    let (dir, ks) = store();
    let info = ks
        .generate(
            "targets/x",
            None,
            Algorithm::Ed25519,
            KeyFormat::Vouch,
            &pass("pw"),
        )
        .unwrap();
    let keep = ks
        .generate(
            "targets/y",
            None,
            Algorithm::Ed25519,
            KeyFormat::Vouch,
            &pass("pw"),
        )
        .unwrap();
    let copy = dir
        .path()
        .join(format!("trust/private/tuf_keys/{}.key", info.id));
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&info.path, &copy).unwrap();
    let removed = ks.remove(&info.id).unwrap();
    assert_eq!(removed, vec![info.path.clone(), copy.clone()]);
    assert!(!info.path.exists() && !copy.exists());
    assert!(matches!(
        ks.load(&info.id, &pass("pw")),
        Err(KeystoreError::NotFound { .. })
    ));
    assert_eq!(
        ks.list().unwrap().iter().map(|k| &k.id).collect::<Vec<_>>(),
        vec![&keep.id]
    );
}

#[test]
fn import_checks_claimed_ids_and_changes_nothing_on_error() {
    let (dir, ks) = store();
    let a = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let b = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let (_s, src) = store();
    let ia = src
        .add_key(&a, "targets/a", None, KeyFormat::Notary, &pass("pw"))
        .unwrap();
    let ib = src
        .add_key(&b, "targets/b", None, KeyFormat::Vouch, &pass("pw"))
        .unwrap();
    let ea = src
        .export(&ia.id, ExportFormat::Notary, &NoPassphrase)
        .unwrap();
    let eb = src
        .export(&ib.id, ExportFormat::Vouch, &NoPassphrase)
        .unwrap();
    let before = snapshot(dir.path());

    // A `path` header naming another key: refused.
    let lying = ea.replace(ia.id.as_str(), ib.id.as_str());
    let err = ks
        .import(lying.as_bytes(), &ImportOptions::default(), &pass("pw"))
        .unwrap_err();
    assert!(matches!(err, KeystoreError::IdMismatch { .. }), "{err}");
    // A file name naming another key: refused too.
    let plain = std::fs::read_to_string(&ia.path).unwrap();
    let opts = ImportOptions {
        source_name: Some(format!("/backup/{}.key", ib.id)),
        ..Default::default()
    };
    let err = ks.import(plain.as_bytes(), &opts, &pass("pw")).unwrap_err();
    assert!(matches!(err, KeystoreError::IdMismatch { .. }), "{err}");
    // Two blocks where the second has a wrong passphrase: nothing is imported.
    let both = format!("{}{}", *ea, *eb);
    let err = ks
        .import(
            both.as_bytes(),
            &ImportOptions::default(),
            &Scripted::new(&["pw", "bad", "bad", "bad"]),
        )
        .unwrap_err();
    assert!(
        matches!(err, KeystoreError::TooManyAttempts { .. }),
        "{err}"
    );
    // No key in the input.
    let err = ks
        .import(b"hello", &ImportOptions::default(), &pass("pw"))
        .unwrap_err();
    assert!(matches!(err, KeystoreError::NoKeys { .. }));
    assert_eq!(err.exit_code(), ExitCode::Usage);
    assert_eq!(snapshot(dir.path()), before);

    // Both blocks with the right passphrase: both imported, under their own IDs and roles.
    let done = ks
        .import(both.as_bytes(), &ImportOptions::default(), &pass("pw"))
        .unwrap();
    let got: Vec<_> = done
        .iter()
        .map(|k| (k.info.id.clone(), k.info.role.clone(), k.outcome))
        .collect();
    assert_eq!(
        got,
        vec![
            (ia.id.clone(), "targets/a".into(), ImportOutcome::Imported),
            (ib.id.clone(), "targets/b".into(), ImportOutcome::Imported)
        ]
    );
    assert!(matches!(
        ks.info(&ib.id).unwrap().format,
        FileFormat::Scrypt { .. }
    ));
    // Overwrite replaces.
    let opts = ImportOptions {
        overwrite: true,
        ..Default::default()
    };
    assert_eq!(
        ks.import(ea.as_bytes(), &opts, &pass("pw")).unwrap()[0].outcome,
        ImportOutcome::Replaced
    );
}

#[test]
fn import_roles_and_guns_from_options_headers_and_legacy_paths() {
    let (_dir, ks) = store();
    let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let (_s, src) = store();
    let info = src
        .add_key(
            &key,
            "targets/x",
            None,
            KeyFormat::Unencrypted,
            &NoPassphrase,
        )
        .unwrap();
    let bare = std::fs::read_to_string(&info.path)
        .unwrap()
        .replace("role: targets/x\n\n", "");
    assert!(!bare.contains("role:"));

    // No role anywhere: asked for.
    let err = ks
        .import(bare.as_bytes(), &ImportOptions::default(), &pass("pw"))
        .unwrap_err();
    assert!(matches!(err, KeystoreError::RoleRequired { .. }), "{err}");
    // targets without a GUN: refused; a GUN for a delegation: refused.
    let opts = ImportOptions {
        role: Some("targets".into()),
        ..Default::default()
    };
    assert!(matches!(
        ks.import(bare.as_bytes(), &opts, &pass("pw")),
        Err(KeystoreError::GunRequired { .. })
    ));
    let opts = ImportOptions {
        role: Some("targets/y".into()),
        gun: Some("a/b".into()),
        ..Default::default()
    };
    assert!(matches!(
        ks.import(bare.as_bytes(), &opts, &pass("pw")),
        Err(KeystoreError::GunNotAllowed { .. })
    ));
    assert!(ks.list().unwrap().is_empty());

    // An unencrypted key is encrypted on import with a new passphrase.
    let prompt = Scripted::new(&["chosen passphrase"]);
    let opts = ImportOptions {
        role: Some("targets".into()),
        gun: Some("reg:5000/app".into()),
        ..Default::default()
    };
    let done = ks.import(bare.as_bytes(), &opts, &prompt).unwrap();
    assert!(prompt.requests.borrow()[0].new_key);
    let stored = std::fs::read_to_string(&done[0].info.path).unwrap();
    assert!(
        stored.contains("gun: reg:5000/app\nrole: targets\n") && stored.contains("ENCRYPTED"),
        "{stored}"
    );
    ks.load(&key.key_id(), &pass("chosen passphrase")).unwrap();

    // A notary 0.3 export path: GUN from tuf_keys/<gun>/, role from the `_<role>` suffix.
    let (_d, legacy) = store();
    let pem = bare.replacen(
        "-----\n",
        &format!(
            "-----\npath: tuf_keys/docker.com/notary0.3/tst/{}_snapshot\n\n",
            key.key_id()
        ),
        1,
    );
    let done = legacy
        .import(pem.as_bytes(), &ImportOptions::default(), &pass("pw"))
        .unwrap();
    assert_eq!(
        (done[0].info.role.as_str(), done[0].info.gun.as_deref()),
        ("snapshot", Some("docker.com/notary0.3/tst"))
    );
}

#[test]
fn concurrent_writers_in_one_trust_dir_all_succeed() {
    let (dir, _ks) = store();
    let trust = dir.path().join("trust");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let trust = trust.clone();
            std::thread::spawn(move || {
                let ks = KeyStore::open(&trust).unwrap();
                (0..3)
                    .map(|i| {
                        ks.generate(
                            &format!("targets/t{t}-{i}"),
                            None,
                            Algorithm::Ecdsa,
                            KeyFormat::Notary,
                            &pass("pw"),
                        )
                        .unwrap()
                        .id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    // Two processes as well: this test binary, re-run as a child generating keys.
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "concurrency_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("VOUCH_KS_CHILD_DIR", &trust)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        // The harness may print "test concurrency_child ... " on the same line.
        let found = text
            .match_indices("generated ")
            .map(|(at, _)| &text[at + 10..at + 74]);
        ids.extend(found.map(|s| vouch::tuf::KeyId::parse(s).unwrap()));
    }
    assert_eq!(ids.len(), 4 * 3 + 2 * 3);
    let ks = KeyStore::open(&trust).unwrap();
    let listed = ks.list().unwrap();
    assert_eq!(listed.len(), ids.len());
    for id in &ids {
        assert_eq!(ks.load(id, &pass("pw")).unwrap().0.key_id(), *id);
    }
}

/// Run only as a child of `concurrent_writers_in_one_trust_dir_all_succeed`.
#[test]
fn concurrency_child() {
    let Some(dir) = std::env::var_os("VOUCH_KS_CHILD_DIR") else {
        return;
    };
    let ks = KeyStore::open(dir).unwrap();
    for i in 0..3 {
        let info = ks
            .generate(
                &format!("p{}-{i}", std::process::id()),
                None,
                Algorithm::Ecdsa,
                KeyFormat::Notary,
                &pass("pw"),
            )
            .unwrap();
        println!("generated {}", info.id);
    }
}

#[test]
fn writers_wait_for_the_trust_dir_lock() {
    let (dir, ks) = store();
    let lock_path = dir.path().join("trust").join(vouch::keystore::LOCK_FILE);
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    held.lock().unwrap();
    let trust = dir.path().join("trust");
    let writer = std::thread::spawn(move || {
        KeyStore::open(&trust)
            .unwrap()
            .generate(
                "root",
                None,
                Algorithm::Ecdsa,
                KeyFormat::Unencrypted,
                &NoPassphrase,
            )
            .unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(
        ks.list().unwrap().is_empty(),
        "the write went ahead while the lock was held"
    );
    assert!(!writer.is_finished());
    held.unlock().unwrap();
    let info = writer.join().unwrap();
    assert_eq!(ks.list().unwrap()[0].id, info.id);
}
