//! Key file formats: round trips, notary's exact DER layout, openssl interoperability,
//! wrong passphrases and damaged files.

mod keystore_support;

use keystore_support::*;
use vouch::crypto::private::pkcs8::Pkcs8Flavor;
use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::crypto::SignatureProvider as _;
use vouch::keystore::{FileFormat, ImportOptions, KeyFormat, KeyStore, KeystoreError};
use vouch::tuf::KeyId;
use vouch::ExitCode;

const PBES2: &str = "2a864886f70d01050d";
const PBKDF2: &str = "2a864886f70d01050c";
const AES256CBC: &str = "60864801650304012a";

fn store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::open(dir.path()).unwrap();
    (dir, ks)
}

#[test]
fn every_format_and_algorithm_round_trips() {
    let (_dir, ks) = store();
    for alg in [Algorithm::Ecdsa, Algorithm::Ed25519] {
        for fmt in [KeyFormat::Vouch, KeyFormat::Notary, KeyFormat::Unencrypted] {
            for (role, gun) in [
                ("root", None),
                ("targets", Some("reg.example.com:5000/team/app")),
                ("targets/ci", None),
            ] {
                let (key, info) = ks
                    .generate_key(role, gun, alg, fmt, &pass("correct horse"))
                    .unwrap();
                let text = std::fs::read_to_string(&info.path).unwrap();
                let kind = if fmt == KeyFormat::Unencrypted {
                    "PRIVATE KEY"
                } else {
                    "ENCRYPTED PRIVATE KEY"
                };
                assert!(
                    text.starts_with(&format!("-----BEGIN {kind}-----\n")),
                    "{text}"
                );
                let headers: Vec<&str> =
                    text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
                let mut expect = Vec::new();
                if fmt == KeyFormat::Vouch {
                    expect.push(format!("algorithm: {}", alg.as_str()));
                }
                if let Some(g) = gun {
                    expect.push(format!("gun: {g}"));
                }
                expect.push(format!("role: {role}"));
                assert_eq!(headers, expect, "{fmt:?} {alg:?} {role}");
                assert!(text.lines().all(|l| l.len() <= 64));
                assert_eq!(
                    info.path.file_name().unwrap().to_str().unwrap(),
                    format!("{}.key", key.key_id())
                );

                let (loaded, again) = ks.load(&info.id, &pass("correct horse")).unwrap();
                assert_eq!(loaded.public_key(), key.public_key());
                assert_eq!(again, info);
                let sig = loaded.sign(b"payload").unwrap();
                assert!(verify(&key.public_key(), b"payload", &sig));
            }
        }
    }
}

#[test]
fn notary_format_has_notarys_exact_der_skeleton() {
    let (_dir, ks) = store();
    let info = ks
        .generate(
            "targets",
            Some("example.com/app"),
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("pw-123456"),
        )
        .unwrap();
    assert_eq!(
        info.format,
        FileFormat::Pbkdf2 {
            prf: "hmac-sha1",
            iterations: 2048
        }
    );
    let text = std::fs::read_to_string(&info.path).unwrap();
    let der = pem_der(&text);
    let shape = der_shape(&der);
    // SEQ{ SEQ{ OID pbes2, SEQ{ SEQ{ OID pbkdf2, SEQ{ OCTET STRING(8), INTEGER 2048 } },
    //      SEQ{ OID aes-256-cbc, OCTET STRING(16) } } }, OCTET STRING(…) }
    let expect_prefix = format!(
        "30{{30{{OID({PBES2}) 30{{30{{OID({PBKDF2}) 30{{04[8] INT(0800) }} }} 30{{OID({AES256CBC}) 04[16] }} }} }} 04["
    );
    assert!(shape.starts_with(&expect_prefix), "{shape}");

    // The inner PrivateKeyInfo is notary's: version 1, {ecPublicKey, P-256}, SEC1 with curve and key.
    let epki = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let inner = epki.decrypt("pw-123456").unwrap();
    let inner_shape = der_shape(inner.as_bytes());
    assert!(
        inner_shape.starts_with("30{INT(01) 30{OID(2a8648ce3d0201) OID(2a8648ce3d030107) } 04["),
        "{inner_shape}"
    );
}

#[test]
fn notary_format_matches_a_key_written_by_notary() {
    // Same DER shape, outside and inside, as a key the real notary CLI generated.
    let notary_dir = tempfile::tempdir().unwrap();
    run_ok(
        "notary",
        &[
            "-d",
            notary_dir.path().to_str().unwrap(),
            "key",
            "generate",
            "--role",
            "targets/x",
        ],
        &[("NOTARY_DELEGATION_PASSPHRASE", "notarypass")],
        None,
    );
    let theirs = std::fs::read_dir(notary_dir.path().join("private"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let their_der = pem_der(&std::fs::read_to_string(&theirs).unwrap());
    let (_dir, ks) = store();
    let ours = ks
        .generate(
            "targets/x",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("vouchpass"),
        )
        .unwrap();
    let our_der = pem_der(&std::fs::read_to_string(&ours.path).unwrap());
    assert_eq!(der_shape(&our_der), der_shape(&their_der));
    let decrypt = |der: &[u8], p: &str| {
        pkcs8::EncryptedPrivateKeyInfo::try_from(der)
            .unwrap()
            .decrypt(p)
            .unwrap()
            .as_bytes()
            .to_vec()
    };
    assert_eq!(
        der_shape(&decrypt(&our_der, "vouchpass")),
        der_shape(&decrypt(&their_der, "notarypass"))
    );
}

#[test]
fn vouch_format_is_scrypt_and_openssl_reads_it() {
    let (dir, ks) = store();
    for alg in [Algorithm::Ecdsa, Algorithm::Ed25519] {
        let (key, info) = ks
            .generate_key("root", None, alg, KeyFormat::Vouch, &pass("open sesame"))
            .unwrap();
        assert_eq!(
            info.format,
            FileFormat::Scrypt {
                log_n: 14,
                r: 8,
                p: 4
            }
        );
        let stripped = dir.path().join("stripped.pem");
        std::fs::write(
            &stripped,
            strip_headers(&std::fs::read_to_string(&info.path).unwrap()),
        )
        .unwrap();
        let spki = run_ok(
            "openssl",
            &[
                "pkey",
                "-in",
                stripped.to_str().unwrap(),
                "-passin",
                "pass:open sesame",
                "-pubout",
                "-outform",
                "DER",
            ],
            &[],
            None,
        );
        let ours = key.public_key();
        match alg {
            Algorithm::Ecdsa => assert_eq!(spki, ours.public),
            // openssl prints an SPKI; ours is the raw 32 bytes notary uses.
            _ => assert!(spki.ends_with(&ours.public) && spki.len() == 44),
        }
        let wrong = run(
            "openssl",
            &[
                "pkey",
                "-in",
                stripped.to_str().unwrap(),
                "-passin",
                "pass:wrong",
                "-noout",
            ],
            &[],
            None,
        );
        assert!(!wrong.status.success());
    }
}

/// Keys written by openssl in the formats it offers, imported and compared with the
/// public key openssl derives.
#[test]
fn keys_written_by_openssl_are_read() {
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str| work.path().join(name).to_str().unwrap().to_owned();
    run_ok(
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &w("ec.pem"),
        ],
        &[],
        None,
    );
    run_ok(
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", &w("ed.pem")],
        &[],
        None,
    );
    run_ok(
        "openssl",
        &["genrsa", "-out", &w("rsa.pem"), "2048"],
        &[],
        None,
    );
    let pub_der = |f: &str| {
        run_ok(
            "openssl",
            &["pkey", "-in", &w(f), "-pubout", "-outform", "DER"],
            &[],
            None,
        )
    };
    let p = "pass:s3cret-pass";
    let variants: Vec<(&str, Vec<&str>, &str, &str)> = vec![
        (
            "pbkdf2-sha256.pem",
            vec![
                "pkcs8",
                "-topk8",
                "-in",
                "ec.pem",
                "-v2",
                "aes-256-cbc",
                "-v2prf",
                "hmacWithSHA256",
                "-passout",
                p,
            ],
            "ec.pem",
            "pbkdf2 hmac-sha256",
        ),
        (
            "pbkdf2-sha1.pem",
            vec![
                "pkcs8",
                "-topk8",
                "-in",
                "ec.pem",
                "-v2",
                "aes-128-cbc",
                "-v2prf",
                "hmacWithSHA1",
                "-iter",
                "2048",
                "-passout",
                p,
            ],
            "ec.pem",
            "notary (pbkdf2-sha1)",
        ),
        (
            "scrypt.pem",
            vec!["pkcs8", "-topk8", "-in", "ec.pem", "-scrypt", "-passout", p],
            "ec.pem",
            "scrypt N=2^14 r=8 p=1",
        ),
        (
            "plain.pem",
            vec!["pkcs8", "-topk8", "-in", "ec.pem", "-nocrypt"],
            "ec.pem",
            "notary (pbkdf2-sha1)",
        ),
        (
            "ec-aes128.pem",
            vec!["ec", "-in", "ec.pem", "-aes128", "-passout", p],
            "ec.pem",
            "EC PRIVATE KEY (AES-128-CBC)",
        ),
        (
            "ec-aes192.pem",
            vec!["ec", "-in", "ec.pem", "-aes192", "-passout", p],
            "ec.pem",
            "EC PRIVATE KEY (AES-192-CBC)",
        ),
        (
            "ec-des3.pem",
            vec!["ec", "-in", "ec.pem", "-des3", "-passout", p],
            "ec.pem",
            "EC PRIVATE KEY (DES-EDE3-CBC)",
        ),
        (
            "ec-plain.pem",
            vec!["ec", "-in", "ec.pem"],
            "ec.pem",
            "notary (pbkdf2-sha1)",
        ),
        (
            "rsa-aes256.pem",
            vec![
                "rsa",
                "-in",
                "rsa.pem",
                "-traditional",
                "-aes256",
                "-passout",
                p,
            ],
            "rsa.pem",
            "RSA PRIVATE KEY (AES-256-CBC)",
        ),
        (
            "rsa-pkcs8.pem",
            vec![
                "pkcs8",
                "-topk8",
                "-in",
                "rsa.pem",
                "-v2",
                "aes-256-cbc",
                "-passout",
                p,
            ],
            "rsa.pem",
            "pbkdf2 hmac-sha256",
        ),
        (
            "ed-pkcs8.pem",
            vec![
                "pkcs8",
                "-topk8",
                "-in",
                "ed.pem",
                "-v2",
                "aes-256-cbc",
                "-passout",
                p,
            ],
            "ed.pem",
            "pbkdf2 hmac-sha256",
        ),
        (
            "ed-plain.pem",
            vec!["pkey", "-in", "ed.pem"],
            "ed.pem",
            "notary (pbkdf2-sha1)",
        ),
    ];
    for (out, args, original, stored_as) in variants {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.ends_with(".pem") {
                    w(a)
                } else {
                    a.to_string()
                }
            })
            .chain(["-out".to_string(), w(out)])
            .collect();
        run_ok(
            "openssl",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            &[],
            None,
        );
        let text = std::fs::read(w(out)).unwrap();
        let (_d, ks) = store();
        let opts = ImportOptions {
            role: Some("targets/ops".into()),
            unencrypted_as: KeyFormat::Notary,
            ..Default::default()
        };
        let imported = ks
            .import(&text, &opts, &pass("s3cret-pass"))
            .unwrap_or_else(|e| panic!("{out}: {e}"));
        assert_eq!(imported.len(), 1, "{out}");
        let stored = imported[0].info.format.to_string();
        assert!(stored.contains(stored_as), "{out} stored as {stored}");
        let (key, _) = ks.load(&imported[0].info.id, &pass("s3cret-pass")).unwrap();
        let expected = pub_der(original);
        let ours = key.public_key().public;
        if original == "ed.pem" {
            assert!(expected.ends_with(&ours), "{out}");
        } else {
            assert_eq!(ours, expected, "{out}");
        }
        let sig = key.sign(b"m").unwrap();
        assert!(verify(&key.public_key(), b"m", &sig), "{out}");
    }
}

#[test]
fn ed25519_pkcs8_layouts() {
    let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let public = key.public_key().public;
    assert_eq!(public.len(), 32);
    let notary = key.to_pkcs8_der(Pkcs8Flavor::Notary).unwrap();
    // version 0, { 1.3.6.1.4.1.11591.15.1 }, OCTET STRING of the raw 96 bytes.
    assert!(
        der_shape(&notary).starts_with("30{INT(00) 30{OID(2b06010401da470f01) } 04[96] }"),
        "{}",
        der_shape(&notary)
    );
    let raw = &notary[notary.len() - 96..];
    assert_eq!(&raw[..32], public.as_slice());
    assert_eq!(&raw[64..], public.as_slice());
    let standard = key.to_pkcs8_der(Pkcs8Flavor::Standard).unwrap();
    assert!(
        der_shape(&standard).starts_with("30{INT(00) 30{OID(2b6570) } 04[34] }"),
        "{}",
        der_shape(&standard)
    );
    for der in [&notary, &standard] {
        assert_eq!(
            PrivateKey::from_pkcs8_der(der).unwrap().public_key(),
            key.public_key()
        );
    }
    // The raw form with mismatched public halves is rejected.
    let mut bad = raw.to_vec();
    bad[0] ^= 1;
    assert!(PrivateKey::from_ed25519_raw(&bad).is_err());
}

#[test]
fn rsa_pkcs8_has_no_null_parameter_for_notary() {
    let (_dir, ks) = store();
    let src = fixtures().join("notary0.3/private/tuf_keys/fa842f66cac2dc898677a8660789dcff0e3b0b93b73f8952491f6493199936d3.key");
    let opts = ImportOptions::default();
    let imported = ks
        .import(&std::fs::read(src).unwrap(), &opts, &pass("password"))
        .unwrap();
    let (key, _) = ks.load(&imported[0].info.id, &pass("password")).unwrap();
    let notary = key.to_pkcs8_der(Pkcs8Flavor::Notary).unwrap();
    assert!(
        der_shape(&notary).starts_with("30{INT(00) 30{OID(2a864886f70d010101) } 04["),
        "{}",
        der_shape(&notary)
    );
    let standard = key.to_pkcs8_der(Pkcs8Flavor::Standard).unwrap();
    assert!(der_shape(&standard).starts_with("30{INT(00) 30{OID(2a864886f70d010101) 05[0] } 04["));
    assert_eq!(
        PrivateKey::from_pkcs8_der(&notary).unwrap().key_id(),
        key.key_id()
    );
    assert!(matches!(
        PrivateKey::generate(Algorithm::Rsa),
        Err(vouch::crypto::CryptoError::Unsupported(_))
    ));
    let err = ks
        .generate("root", None, Algorithm::Rsa, KeyFormat::Vouch, &pass("x"))
        .unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::Usage);
}

#[test]
fn wrong_passphrase_is_reported_as_such_and_changes_nothing() {
    let (dir, ks) = store();
    for fmt in [KeyFormat::Vouch, KeyFormat::Notary] {
        let info = ks
            .generate(
                "snapshot",
                Some("a/b"),
                Algorithm::Ecdsa,
                fmt,
                &pass("right passphrase"),
            )
            .unwrap();
        let before = snapshot(dir.path());
        let err = ks.load(&info.id, &pass("wrong passphrase")).unwrap_err();
        assert!(
            matches!(err, KeystoreError::WrongPassphrase { .. }),
            "{fmt:?}: {err}"
        );
        assert_eq!(err.exit_code(), ExitCode::Keystore);
        let err = ks
            .change_passphrase(&info.id, &pass("wrong"), &pass("new passphrase"), None)
            .unwrap_err();
        assert!(matches!(err, KeystoreError::WrongPassphrase { .. }));
        let err = ks
            .export(
                &info.id,
                vouch::keystore::ExportFormat::Notary,
                &pass("wrong"),
            )
            .map(|_| ());
        if fmt == KeyFormat::Vouch {
            assert!(matches!(err, Err(KeystoreError::WrongPassphrase { .. })));
        }
        assert_eq!(snapshot(dir.path()), before, "{fmt:?}");
    }
}

#[test]
fn interactive_answers_are_retried_three_times() {
    let (_dir, ks) = store();
    let info = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("the right one"),
        )
        .unwrap();
    let prompt = Scripted::new(&["nope", "the right one"]);
    ks.load(&info.id, &prompt).unwrap();
    assert_eq!(prompt.attempts(), vec![0, 1]);
    assert!(prompt
        .requests
        .borrow()
        .iter()
        .all(|r| !r.new_key && r.role == "root" && r.key_id.as_ref() == Some(&info.id)));

    let prompt = Scripted::new(&["a", "b", "c", "the right one"]);
    let err = ks.load(&info.id, &prompt).unwrap_err();
    assert!(
        matches!(err, KeystoreError::TooManyAttempts { .. }),
        "{err}"
    );
    assert_eq!(prompt.attempts(), vec![0, 1, 2]);

    // A source with nothing to say: a clear "passphrase required" naming the variables.
    let err = ks
        .load(&info.id, &vouch::keystore::NoPassphrase)
        .unwrap_err();
    assert!(matches!(err, KeystoreError::PassphraseRequired { .. }));
    assert!(vouch::advice::keystore(&err)
        .unwrap()
        .contains("VOUCH_ROOT_PASSPHRASE"));
}

#[test]
fn damaged_key_files_give_typed_errors_and_nothing_changes() {
    let (dir, ks) = store();
    let good = ks
        .generate(
            "root",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &pass("pw"),
        )
        .unwrap();
    let text = std::fs::read_to_string(&good.path).unwrap();
    let plain = ks
        .generate(
            "targets/p",
            None,
            Algorithm::Ecdsa,
            KeyFormat::Unencrypted,
            &pass(""),
        )
        .unwrap();
    let plain_text = std::fs::read_to_string(&plain.path).unwrap();

    let cases: Vec<(&str, String)> = vec![
        ("truncated", text[..text.len() / 2].to_string()),
        ("bad base64", text.replacen("MI", "M!", 1)),
        (
            "no key block",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
        ),
        ("empty", String::new()),
    ];
    for (what, body) in cases {
        std::fs::write(&good.path, &body).unwrap();
        let before = snapshot(dir.path());
        let err = ks.load(&good.id, &pass("pw")).unwrap_err();
        assert!(
            matches!(err, KeystoreError::Corrupt { .. }),
            "{what}: {err}"
        );
        assert!(
            err.to_string().contains(good.path.to_str().unwrap()),
            "{what}: {err}"
        );
        assert_eq!(err.exit_code(), ExitCode::Keystore);
        assert_eq!(snapshot(dir.path()), before, "{what}");
    }

    // Ciphertext cut to a non-block length: corrupt, not a wrong passphrase.
    let der = pem_der(&text);
    let short = vouch::keystore::pemblock::PemBlock {
        kind: "ENCRYPTED PRIVATE KEY".into(),
        headers: Default::default(),
        bytes: zeroize::Zeroizing::new(reencode_with_shorter_ciphertext(&der)),
    };
    std::fs::write(&good.path, short.encode().unwrap().as_bytes()).unwrap();
    let err = ks.load(&good.id, &pass("pw")).unwrap_err();
    assert!(matches!(err, KeystoreError::Corrupt { .. }), "{err}");

    // An unencrypted PKCS#8 key whose algorithm OID is DSA: unsupported, naming the OID.
    let mut der = pem_der(&plain_text);
    let ec_oid = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let at = der.windows(ec_oid.len()).position(|w| w == ec_oid).unwrap();
    der[at + 2..at + 9].copy_from_slice(&[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01]);
    let block = vouch::keystore::pemblock::PemBlock {
        kind: "PRIVATE KEY".into(),
        headers: [("role".to_string(), "targets/p".to_string())].into(),
        bytes: zeroize::Zeroizing::new(der),
    };
    std::fs::write(&plain.path, block.encode().unwrap().as_bytes()).unwrap();
    let before = snapshot(dir.path());
    let err = ks.load(&plain.id, &pass("")).unwrap_err();
    assert!(matches!(err, KeystoreError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("1.2.840.10040.4.1"), "{err}");
    let err = ks
        .import(
            block.encode().unwrap().as_bytes(),
            &ImportOptions::default(),
            &pass("x"),
        )
        .unwrap_err();
    assert!(matches!(err, KeystoreError::Unsupported { .. }), "{err}");
    assert_eq!(snapshot(dir.path()), before);

    // A key that is not there.
    let missing = KeyId::parse(&"ab".repeat(32)).unwrap();
    let err = ks.load(&missing, &pass("pw")).unwrap_err();
    assert!(matches!(err, KeystoreError::NotFound { .. }));
    assert!(err.to_string().contains(missing.as_str()));
    assert!(matches!(
        ks.remove(&missing),
        Err(KeystoreError::NotFound { .. })
    ));
    assert_eq!(snapshot(dir.path()), before);
}

/// Rebuild an EncryptedPrivateKeyInfo with its ciphertext shortened by 5 bytes.
fn reencode_with_shorter_ciphertext(der: &[u8]) -> Vec<u8> {
    use der::Encode as _;
    let epki = pkcs8::EncryptedPrivateKeyInfo::try_from(der).unwrap();
    let data = &epki.encrypted_data[..epki.encrypted_data.len() - 5];
    pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: epki.encryption_algorithm,
        encrypted_data: data,
    }
    .to_der()
    .unwrap()
}
