//! Property tests over the parsers that read untrusted input: canonical JSON, metadata
//! envelopes, key files, backups and shares, the config file, root-key certificates, trust
//! locks and notary's trust_pinning. Whatever the input —
//! arbitrary bytes, or a valid file with bytes flipped, removed, inserted or repeated —
//! parsing returns a value or an error that says something, and never panics.
//!
//! Bounded: a few hundred cases each, no failure files written.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
use vouch::keystore::backup::{self, ScryptCost, Selection};
use vouch::keystore::{Fixed, ImportOptions, KeyFormat, KeyStore, Secret};
use vouch::remote::RemoteConfig;
use vouch::tuf::cjson::{canonicalize_raw, to_canonical};
use vouch::tuf::{Root, Signed, Snapshot, Targets, Timestamp};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// Mutations of valid input
// ---------------------------------------------------------------------------------------

/// One edit of a byte string, at a position taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Repeat(usize, usize, u8),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the formats: JSON and PEM punctuation, digits, letters, line
    // breaks, high bytes.
    let interesting = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"{}[]\",:-0123456789.eE+ \n\r\t\\=/ABCxyz".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(p, m)| Edit::Flip(p, m)),
        (any::<usize>(), interesting.clone()).prop_map(|(p, b)| Edit::Set(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), prop::collection::vec(interesting, 1..16))
            .prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<usize>(), 1usize..64, 1u8..8).prop_map(|(p, n, k)| Edit::Repeat(p, n, k)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let len = v.len().max(1);
        match e {
            Edit::Flip(p, m) => {
                if !v.is_empty() {
                    v[p % len] ^= m;
                }
            }
            Edit::Set(p, b) => {
                if !v.is_empty() {
                    v[p % len] = *b;
                }
            }
            Edit::Delete(p, n) => {
                let at = p % len;
                let end = (at + n).min(v.len());
                if at < end {
                    v.drain(at..end);
                }
            }
            Edit::Insert(p, b) => {
                let at = p % (v.len() + 1);
                v.splice(at..at, b.iter().copied());
            }
            Edit::Repeat(p, n, k) => {
                let at = p % len;
                let end = (at + n).min(v.len());
                if at < end {
                    let piece = v[at..end].to_vec();
                    for _ in 0..*k {
                        v.splice(end..end, piece.iter().copied());
                    }
                }
            }
            Edit::Truncate(p) => v.truncate(p % len),
        }
    }
    v
}

fn mutated(base: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(edit(), 1..6).prop_map(move |edits| apply(base, &edits))
}

/// An error must say something.
fn says_something(e: &dyn std::fmt::Display) {
    let s = e.to_string();
    assert!(!s.trim().is_empty(), "an empty error message");
}

// ---------------------------------------------------------------------------------------
// Canonical JSON
// ---------------------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| Value::from(i64::from(n))),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// Any text: canonicalized or refused, never a panic.
    #[test]
    fn cjson_arbitrary_text(s in "\\PC{0,300}") {
        if let Err(e) = canonicalize_raw(&s) {
            says_something(&e);
        }
    }

    /// JSON-looking text built from JSON's own characters.
    #[test]
    fn cjson_jsonish_text(s in "[\\[\\]{}\":,0-9.eE+\\- a-z\\\\]{0,200}") {
        if let Err(e) = canonicalize_raw(&s) {
            says_something(&e);
        }
    }

    /// Deeply nested input is refused, not a stack overflow.
    #[test]
    fn cjson_deep_nesting(depth in 100usize..5000, open in prop::sample::select(vec!['[', '{'])) {
        let s: String = if open == '[' {
            "[".repeat(depth) + &"]".repeat(depth)
        } else {
            "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
        };
        let _ = canonicalize_raw(&s);
    }

    /// Objects whose members come in any order, with repeated keys (the later one
    /// wins, as in Go's decoding), nested: canonicalized from the text as from the value
    /// the text parses to.
    #[test]
    fn cjson_unordered_and_repeated_keys(
        members in prop::collection::vec(("[a-d]{0,2}", json_value()), 0..8),
        inner in prop::collection::vec(("[a-c]{1}", json_value()), 0..5),
    ) {
        let object = |m: &[(String, serde_json::Value)]| {
            let body: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap()))
                .collect();
            format!("{{{}}}", body.join(","))
        };
        let text = format!("{{\"outer\":{},\"inner\":[{}]}}", object(&members), object(&inner));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(canonicalize_raw(&text).unwrap(), to_canonical(&value).unwrap());
    }

    /// A value written canonically from the value and from its text gives the same
    /// bytes, and canonicalizing canonical bytes changes nothing.
    #[test]
    fn cjson_writer_and_parser_agree(v in json_value()) {
        let canon = to_canonical(&v).unwrap();
        let from_text = canonicalize_raw(&serde_json::to_string(&v).unwrap()).unwrap();
        prop_assert_eq!(&canon, &from_text);
        // Canonical bytes hold raw control characters (as Go writes them), which JSON
        // text may not: only the others parse back.
        if !canon.iter().any(|b| *b < 0x20) {
            let again = canonicalize_raw(std::str::from_utf8(&canon).unwrap()).unwrap();
            prop_assert_eq!(&again, &canon);
            let back: serde_json::Value = serde_json::from_slice(&canon).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Metadata envelopes
// ---------------------------------------------------------------------------------------

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/notary-fixtures/notary0.3/tuf/docker.com/notary0.3/tst/metadata"
);

fn fixture(name: &str) -> &'static [u8] {
    static FILES: OnceLock<std::collections::BTreeMap<String, Vec<u8>>> = OnceLock::new();
    let files = FILES.get_or_init(|| {
        [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
        ]
        .iter()
        .map(|r| {
            (
                (*r).to_owned(),
                std::fs::read(format!("{FIXTURES}/{r}.json")).unwrap(),
            )
        })
        .collect()
    });
    &files[name]
}

/// Parse `bytes` as every role type; whatever parses is validated, canonicalized and (for
/// root) checked against its own root role, none of which may panic.
fn parse_all_roles(bytes: &[u8]) {
    match Signed::<Root>::from_bytes(bytes) {
        Ok(root) => {
            let _ = vouch::tuf::Metadata::validate(root.untrusted(), "root");
            let _ = root.canonical_signed();
            if let Ok(role) = root.untrusted().base_role("root") {
                if let Err(e) = vouch::tuf::verify_signatures(&root, &role) {
                    says_something(&e);
                }
            }
        }
        Err(e) => says_something(&e),
    }
    match Signed::<Targets>::from_bytes(bytes) {
        Ok(t) => {
            let _ = vouch::tuf::Metadata::validate(t.untrusted(), "targets");
            let _ = vouch::tuf::Metadata::validate(t.untrusted(), "targets/releases");
            let _ = t.canonical_signed();
            let _ = t.untrusted().delegation_role("targets/releases");
        }
        Err(e) => says_something(&e),
    }
    match Signed::<Snapshot>::from_bytes(bytes) {
        Ok(s) => {
            let _ = vouch::tuf::Metadata::validate(s.untrusted(), "snapshot");
            let _ = s.canonical_signed();
        }
        Err(e) => says_something(&e),
    }
    match Signed::<Timestamp>::from_bytes(bytes) {
        Ok(t) => {
            let _ = vouch::tuf::Metadata::validate(t.untrusted(), "timestamp");
            let _ = t.canonical_signed();
        }
        Err(e) => says_something(&e),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn envelopes_from_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all_roles(&bytes);
    }

    #[test]
    fn mutated_root(bytes in mutated(fixture("root"))) {
        parse_all_roles(&bytes);
    }

    #[test]
    fn mutated_targets_and_delegation(
        a in mutated(fixture("targets")),
        b in mutated(fixture("targets/releases")),
    ) {
        parse_all_roles(&a);
        parse_all_roles(&b);
    }

    #[test]
    fn mutated_snapshot_and_timestamp(
        a in mutated(fixture("snapshot")),
        b in mutated(fixture("timestamp")),
    ) {
        parse_all_roles(&a);
        parse_all_roles(&b);
    }
}

// ---------------------------------------------------------------------------------------
// Key files
// ---------------------------------------------------------------------------------------

/// Key files of every family vouch reads, with their passphrases: notary 0.3's legacy
/// encrypted RSA and EC files, a notary-format PKCS#8 (PBKDF2) file and an unencrypted
/// PKCS#8 file made here, and a PEM block with headers.
fn key_files() -> &'static [(Vec<u8>, &'static str)] {
    static FILES: OnceLock<Vec<(Vec<u8>, &'static str)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/notary-fixtures/notary0.3/private"
        );
        let mut out = Vec::new();
        for f in [
            "root_keys/f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690.key",
            "tuf_keys/docker.com/notary0.3/tst/041b64dab281324ef2b62fd2d04f4758269e120ff063b7bc78709272821a0a02.key",
        ] {
            out.push((std::fs::read(format!("{dir}/{f}")).unwrap(), "password"));
        }
        let tmp = tempfile::tempdir().unwrap();
        let store = KeyStore::open(tmp.path()).unwrap();
        let pass = Fixed::new(Secret::new("notary-pass"));
        for format in [KeyFormat::Notary, KeyFormat::Unencrypted] {
            let info = store
                .generate(
                    "targets/releases",
                    None,
                    vouch::crypto::private::Algorithm::Ecdsa,
                    format,
                    &pass,
                )
                .unwrap();
            out.push((std::fs::read(&info.path).unwrap(), "notary-pass"));
        }
        out
    })
}

fn import(bytes: &[u8], pass: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(tmp.path()).unwrap();
    let opts = ImportOptions {
        unencrypted_as: KeyFormat::Unencrypted,
        ..Default::default()
    };
    if let Err(e) = store.import(bytes, &opts, &Fixed::new(Secret::new(pass))) {
        says_something(&e);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn pem_blocks_from_arbitrary_text(s in "(-----(BEGIN|END) [A-Z ]{0,20}-----|[A-Za-z0-9+/=:, \\-]{0,70}|\\PC{0,20})(\n(-----(BEGIN|END) [A-Z ]{0,20}-----|[A-Za-z0-9+/=:, \\-]{0,70}|\\PC{0,20})){0,12}") {
        if let Err(e) = vouch::keystore::pemblock::parse_all(s.as_bytes()) {
            prop_assert!(!e.trim().is_empty());
        }
        import(s.as_bytes(), "password");
    }

    #[test]
    fn mutated_key_files(which in 0usize..4, edits in prop::collection::vec(edit(), 1..5)) {
        let (file, pass) = &key_files()[which];
        let bytes = apply(file, &edits);
        if let Err(e) = vouch::keystore::pemblock::parse_all(&bytes) {
            prop_assert!(!e.trim().is_empty());
        }
        import(&bytes, pass);
    }
}

// ---------------------------------------------------------------------------------------
// Backups and shares
// ---------------------------------------------------------------------------------------

/// Cheap scrypt: these tests open many backups.
const FAST: ScryptCost = ScryptCost {
    log_n: 10,
    r: 8,
    p: 1,
};
const BACKUP_PASS: &str = "backup passphrase";

/// A passphrase backup and a 2-of-3 split of a small key store.
fn backups() -> &'static (Vec<u8>, Vec<Vec<u8>>) {
    static B: OnceLock<(Vec<u8>, Vec<Vec<u8>>)> = OnceLock::new();
    B.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let store = KeyStore::open(tmp.path()).unwrap();
        let pass = Fixed::new(Secret::new("notary-pass"));
        store
            .generate(
                "targets/releases",
                None,
                vouch::crypto::private::Algorithm::Ecdsa,
                KeyFormat::Notary,
                &pass,
            )
            .unwrap();
        let (archive, _) = store.backup_archive(&Selection::default()).unwrap();
        let env = backup::seal_with_passphrase(&archive, BACKUP_PASS, FAST).unwrap();
        let split = backup::split_archive(&archive, 2, 3, &mut rand_core::OsRng).unwrap();
        (
            env.to_armored().unwrap().into_bytes(),
            split.shares.iter().map(|s| s.as_bytes().to_vec()).collect(),
        )
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn backup_files_from_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = backup::sniff(&bytes);
        if let Err(e) = backup::read_backup_file(&bytes, "input") {
            says_something(&e);
        }
        if let Err(e) = backup::parse_share("input", &bytes) {
            says_something(&e);
        }
    }

    #[test]
    fn mutated_backup(edits in prop::collection::vec(edit(), 1..5)) {
        let bytes = apply(&backups().0, &edits);
        let _ = backup::sniff(&bytes);
        match backup::read_backup_file(&bytes, "backup") {
            // Open only what still asks for the cheap scrypt the backup was made with (a
            // mutated cost within vouch's bounds may still need hundreds of MiB).
            Ok(env) if String::from_utf8_lossy(env.bytes()).contains(r#""log_n":10,"r":8,"p":1"#) => {
                if let Err(e) = env.open_with_passphrase(BACKUP_PASS, "backup") {
                    says_something(&e);
                }
            }
            Ok(_) => {}
            Err(e) => says_something(&e),
        }
    }

    #[test]
    fn mutated_shares(which in 0usize..3, edits in prop::collection::vec(edit(), 1..5)) {
        let shares = &backups().1;
        let bytes = apply(&shares[which], &edits);
        match backup::parse_share("share", &bytes) {
            Ok(bad) => {
                let other = backup::parse_share("other", &shares[(which + 1) % 3]).unwrap();
                if let Err(e) = backup::combine_shares(&[bad, other]) {
                    says_something(&e);
                }
            }
            Err(e) => says_something(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The config file
// ---------------------------------------------------------------------------------------

const CONFIG: &[u8] = br#"{
  "trust_dir": "~/.notary",
  "remote_server": {"url": "https://notary.example.com:4443", "root_ca": "ca.crt",
                    "tls_client_cert": "c.crt", "tls_client_key": "c.key", "skipTLSVerify": false},
  "remote_servers": {"registry.example.com/team": {"url": "https://team.example.com"},
                     "localhost:5000": {"url": "file:///srv/trust"}},
  "registries": {"registry.example.com": {"root_ca": "r.crt"}, "10.0.0.5:5000": {"insecure": true}},
  "max_root_size": "4M",
  "trust_pinning": {"disable_tofu": true}
}"#;

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn config_from_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = RemoteConfig::from_json(&bytes, None) {
            says_something(&e);
        }
    }

    #[test]
    fn mutated_config(bytes in mutated(CONFIG)) {
        match RemoteConfig::from_json(&bytes, Some(std::path::Path::new("/etc/vouch/config.json"))) {
            Ok(cfg) => {
                for gun in ["registry.example.com/team/app", "localhost:5000/x", "docker.io/library/x"] {
                    let gun = vouch::remote::Gun::parse(gun).unwrap();
                    match cfg.resolve(Some(&gun), &Default::default(), std::path::Path::new("/t")) {
                        Ok(r) => {
                            prop_assert!(!r.url.is_empty());
                            prop_assert!(r.max_root_size > 0);
                        }
                        Err(e) => says_something(&e),
                    }
                }
            }
            Err(e) => says_something(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Root keys and certificates, trust locks, notary's trust_pinning
// ---------------------------------------------------------------------------------------

/// A root certificate for a GUN, as vouch and notary write them (one PEM block).
fn root_cert_pem() -> &'static [u8] {
    static PEM: OnceLock<Vec<u8>> = OnceLock::new();
    PEM.get_or_init(|| {
        let key =
            vouch::crypto::private::PrivateKey::generate(vouch::crypto::private::Algorithm::Ecdsa)
                .unwrap();
        vouch::crypto::x509::root_certificate(
            key.ecdsa_signing_key().unwrap(),
            "example.com/app",
            time::OffsetDateTime::now_utc(),
        )
        .unwrap()
        .into_bytes()
    })
}

const TRUST_LOCK: &[u8] = br#"{
  "vouch_trust_lock": 1,
  "repositories": {
    "example.com/app": {
      "root_keys": ["9c1f0000000000000000000000000000000000000000000000000000000000aa"],
      "root_version": 2
    }
  }
}
"#;

const TRUST_PINNING: &[u8] = br#"{"trust_pinning": {"certs": {"example.com/app": ["aa"], "example.com/*": ["bb"]}, "ca": {"example.com/": "/nonexistent/ca.pem"}, "disable_tofu": true}}"#;

proptest! {
    #![proptest_config(config(512))]

    /// Every reader of a root key's certificate goes through one parser; whatever the PEM
    /// text, it yields the certificate or says why not, and the key ID a pin compares and
    /// the key that verifies signatures agree.
    #[test]
    fn mutated_root_key_certificates(bytes in mutated(root_cert_pem())) {
        use vouch::crypto::CanonicalKeyId as _;
        match vouch::crypto::x509::key_certificate(&bytes) {
            Ok(cert) => {
                let key = vouch::tuf::PublicKey::new(vouch::tuf::keys::ECDSA_X509, bytes.clone());
                let id = key.canonical_key_id().unwrap();
                let plain = vouch::tuf::PublicKey::new(vouch::tuf::keys::ECDSA, cert.spki_der.clone());
                prop_assert_eq!(id, plain.key_id());
                let now = time::OffsetDateTime::now_utc();
                if let Err(e) = vouch::crypto::x509::validate_root_cert(&bytes, "example.com/app", now, true) {
                    says_something(&e);
                }
            }
            Err(e) => says_something(&e),
        }
    }

    #[test]
    fn mutated_trust_locks(bytes in mutated(TRUST_LOCK)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouch-trust.json");
        std::fs::write(&path, &bytes).unwrap();
        match vouch::trust::pin::TrustLock::load(&path) {
            Ok(lock) => {
                for pin in lock.repositories.values() {
                    prop_assert!(!pin.root_keys.is_empty());
                }
            }
            Err(e) => says_something(&e),
        }
    }

    #[test]
    fn mutated_notary_trust_pinning(bytes in mutated(TRUST_PINNING)) {
        match vouch::trust::pin::NotaryTrustPinning::from_config_json(&bytes) {
            Ok(tp) => {
                for gun in ["example.com/app", "example.com/other", "other.org/x"] {
                    if let Err(e) = tp.pin_for(gun) {
                        says_something(&e);
                    }
                }
            }
            Err(e) => says_something(&e),
        }
    }
}
