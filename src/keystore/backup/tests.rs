//! Backup format tests: round trips, wrong passphrases, tampering, shares.

use super::*;
use crate::crypto::private::Algorithm;
use crate::keystore::{Fixed, KeyFormat, Secret};

/// Cheap scrypt for tests.
const FAST: ScryptCost = ScryptCost {
    log_n: 10,
    r: 8,
    p: 1,
};
const PASS: &str = "correct horse battery";

fn pass(p: &str) -> Fixed {
    Fixed::new(Secret::new(p))
}

/// A store with a root key, a targets key for `example.com/app`, a delegation key and a
/// cached root.json for `example.com/app` listing the root key.
fn store() -> (tempfile::TempDir, KeyStore, BTreeMap<&'static str, KeyId>) {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::open(dir.path().join("trust")).unwrap();
    let p = pass("key passphrase");
    let (root, root_info) = store
        .generate_key("root", None, Algorithm::Ecdsa, KeyFormat::Vouch, &p)
        .unwrap();
    let targets = store
        .generate(
            "targets",
            Some("example.com/app"),
            Algorithm::Ecdsa,
            KeyFormat::Notary,
            &p,
        )
        .unwrap();
    let deleg = store
        .generate(
            "targets/releases",
            None,
            Algorithm::Ed25519,
            KeyFormat::Vouch,
            &p,
        )
        .unwrap();
    write_root_json(&store, "example.com/app", &root.public_key());
    let ids = BTreeMap::from([
        ("root", root_info.id),
        ("targets", targets.id),
        ("delegation", deleg.id),
    ]);
    (dir, store, ids)
}

/// A well-formed (unsigned) root.json whose root role lists `key`.
fn write_root_json(store: &KeyStore, gun: &str, key: &PublicKey) {
    let id = key.key_id().to_string();
    let json = serde_json::json!({
        "signed": {
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": "2035-01-01T00:00:00Z",
            "keys": { id.clone(): { "keytype": key.keytype, "keyval": { "private": null, "public": key.public_b64() } } },
            "roles": {
                "root": { "keyids": [id.clone()], "threshold": 1 },
                "targets": { "keyids": [id.clone()], "threshold": 1 },
                "snapshot": { "keyids": [id.clone()], "threshold": 1 },
                "timestamp": { "keyids": [id], "threshold": 1 }
            },
            "version": 1
        },
        "signatures": []
    });
    let path = store.root_json_path(gun);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, json.to_string()).unwrap();
}

fn empty_store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::open(dir.path().join("trust")).unwrap();
    (dir, store)
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with(fsio::LOCK_FILE) {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn backup_error(e: KeystoreError) -> BackupError {
    match e {
        KeystoreError::Backup(b) => *b,
        other => panic!("not a backup error: {other:?}"),
    }
}

#[test]
fn passphrase_backup_round_trip_restores_identical_files_into_an_empty_store() {
    let (_d, src, ids) = store();
    let (archive, skipped) = src.backup_archive(&Selection::default()).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(archive.keys.len(), 3);
    assert_eq!(archive.roots.len(), 1);
    assert_eq!(archive.root_of(&ids["root"]), ["example.com/app"]);

    let env = seal_with_passphrase(&archive, PASS, FAST).unwrap();
    let text = env.to_armored().unwrap();
    assert!(text.contains("-----BEGIN VOUCH KEY BACKUP-----"));
    for id in ids.values() {
        assert!(text.contains(id.as_str()), "the clear header lists {id}");
    }
    assert_eq!(sniff(text.as_bytes()), FileKind::Backup);

    let read = read_backup_file(text.as_bytes(), "b").unwrap();
    assert_eq!(read.fingerprint(), env.fingerprint());
    assert_eq!(read.protection(), Protection::Passphrase);
    let opened = read.open_with_passphrase(PASS, "b").unwrap();

    let (_e, dst) = empty_store();
    let report = dst.restore_archive(&opened, true).unwrap();
    assert!(report
        .keys
        .iter()
        .all(|k| k.outcome == RestoreOutcome::Restored));
    assert_eq!(report.roots[0].outcome, RootOutcome::Restored);
    // Same files, same places, same bytes; and the store describes them the same way.
    let src_tree = tree(src.trust_dir());
    let dst_tree = tree(dst.trust_dir());
    assert_eq!(src_tree, dst_tree);
    let describe = |s: &KeyStore| {
        s.list()
            .unwrap()
            .into_iter()
            .map(|k| (k.id, k.role, k.gun, k.algorithm))
            .collect::<Vec<_>>()
    };
    assert_eq!(describe(&src), describe(&dst));
    // The restored keys still need (and open with) their own passphrases.
    let (key, _) = dst.load(&ids["root"], &pass("key passphrase")).unwrap();
    assert_eq!(key.key_id(), ids["root"]);
    assert!(dst.load(&ids["root"], &pass("nope")).is_err());

    // Restoring again: everything already present, nothing rewritten.
    let again = dst.restore_archive(&opened, true).unwrap();
    assert!(again
        .keys
        .iter()
        .all(|k| k.outcome == RestoreOutcome::AlreadyPresent));
    assert_eq!(again.roots[0].outcome, RootOutcome::AlreadyPresent);
    assert_eq!(tree(dst.trust_dir()), dst_tree);
}

#[test]
fn selection_by_role_and_gun() {
    let (_d, src, ids) = store();
    let pick = |roles: &[&str], guns: &[&str]| {
        let sel = Selection {
            roles: roles.iter().map(|s| s.to_string()).collect(),
            guns: guns.iter().map(|s| s.to_string()).collect(),
        };
        src.backup_archive(&sel).map(|(a, _)| {
            (
                a.keys.iter().map(|k| k.id.clone()).collect::<BTreeSet<_>>(),
                a.roots.iter().map(|r| r.gun.clone()).collect::<Vec<_>>(),
            )
        })
    };
    let (keys, roots) = pick(&["root"], &[]).unwrap();
    assert_eq!(keys, BTreeSet::from([ids["root"].clone()]));
    assert_eq!(roots, ["example.com/app"]);
    // --gun: the repository's own keys and the root key its root.json lists.
    let (keys, _) = pick(&[], &["example.com/app"]).unwrap();
    assert_eq!(
        keys,
        BTreeSet::from([ids["root"].clone(), ids["targets"].clone()])
    );
    let (keys, roots) = pick(&["targets/releases"], &[]).unwrap();
    assert_eq!(keys, BTreeSet::from([ids["delegation"].clone()]));
    assert!(roots.is_empty());
    let e = backup_error(pick(&["snapshot"], &[]).unwrap_err());
    assert!(matches!(e, BackupError::NothingSelected { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Keystore);
    assert!(pick(&[], &["../x"]).is_err());
}

#[test]
fn wrong_passphrase_is_exit_4_and_changes_nothing() {
    let (_d, src, _) = store();
    let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
    let env = seal_with_passphrase(&archive, PASS, FAST).unwrap();
    let e = env
        .open_with_passphrase("correct horse battery!", "b")
        .unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Keystore);
    assert!(matches!(
        backup_error(e),
        BackupError::WrongPassphrase { .. }
    ));
    assert!(seal_with_passphrase(&archive, "", FAST).is_err());
}

#[test]
fn tampering_with_ciphertext_or_header_is_detected() {
    let (_d, src, _) = store();
    let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
    let env = seal_with_passphrase(&archive, PASS, FAST).unwrap();
    let mut wire: serde_json::Value = serde_json::from_slice(env.bytes()).unwrap();

    // One bit of the ciphertext.
    let mut ct = B64.decode(wire["ciphertext"].as_str().unwrap()).unwrap();
    ct[10] ^= 1;
    let mut w = wire.clone();
    w["ciphertext"] = B64.encode(&ct).into();
    let e = Envelope::parse(w.to_string().as_bytes(), "b")
        .unwrap()
        .open_with_passphrase(PASS, "b")
        .unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Usage);
    assert!(e.to_string().contains("altered or damaged"), "{e}");

    // The clear key list (authenticated as associated data).
    let mut w = wire.clone();
    w["header"]["keys"][0]["role"] = "snapshot".into();
    let e = Envelope::parse(w.to_string().as_bytes(), "b")
        .unwrap()
        .open_with_passphrase(PASS, "b")
        .unwrap_err();
    assert!(e.to_string().contains("altered or damaged"), "{e}");

    // Unknown fields, other versions, other formats, garbage.
    wire["header"]["extra"] = 1.into();
    assert!(Envelope::parse(wire.to_string().as_bytes(), "b").is_err());
    let mut w: serde_json::Value = serde_json::from_slice(env.bytes()).unwrap();
    w["header"]["version"] = 2.into();
    let e = backup_error(Envelope::parse(w.to_string().as_bytes(), "b").unwrap_err());
    assert!(matches!(e, BackupError::TooNew { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Usage);
    let e = read_backup_file(b"hello", "b").unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Usage);
    let text = env.to_armored().unwrap();
    let cut = &text[..text.len() - 40];
    assert_eq!(
        read_backup_file(cut.as_bytes(), "b")
            .unwrap_err()
            .exit_code(),
        ExitCode::Usage
    );

    // A cost an attacker chose to exhaust memory or CPU is refused before scrypt runs
    // (exit 4), naming the parameters; up to four times the default work and memory pass.
    let t = std::time::Instant::now();
    for (log_n, r, p, needle) in [
        (30, 8, 1, "N=1073741824 r=8 p=1"),
        (20, 8, 16, "N=1048576 r=8 p=16"),
        (18, 8, 16, "N=262144 r=8 p=16"),
        (17, 8, 5, "N=131072 r=8 p=5"),
        (19, 8, 2, "N=524288 r=8 p=2"),
        (17, 4_000_000, 1, "r=4000000"),
        (255, 255, 255, "r=255 p=255"),
        (0, 8, 1, "N=1 r=8 p=1"),
        (17, 0, 1, "r=0"),
        (17, 8, 0, "p=0"),
    ] {
        let mut w: serde_json::Value = serde_json::from_slice(env.bytes()).unwrap();
        w["header"]["kdf"]["log_n"] = log_n.into();
        w["header"]["kdf"]["r"] = r.into();
        w["header"]["kdf"]["p"] = p.into();
        let e = Envelope::parse(w.to_string().as_bytes(), "b").unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
        if r > 0 && p > 0 && log_n > 0 {
            assert!(
                e.to_string().contains("asks for a costlier key derivation"),
                "{e}"
            );
            assert_eq!(e.exit_code(), ExitCode::Keystore, "{e}");
        }
    }
    assert!(t.elapsed() < std::time::Duration::from_secs(1));
    for (log_n, r, p) in [(17, 8, 1), (17, 8, 4), (18, 8, 2), (19, 8, 1), (10, 8, 1)] {
        let mut w: serde_json::Value = serde_json::from_slice(env.bytes()).unwrap();
        w["header"]["kdf"]["log_n"] = log_n.into();
        w["header"]["kdf"]["r"] = r.into();
        w["header"]["kdf"]["p"] = p.into();
        Envelope::parse(w.to_string().as_bytes(), "b").unwrap();
    }
}

#[test]
fn archives_with_unsafe_paths_or_mismatched_ids_are_refused() {
    let (_d, src, ids) = store();
    for bad in [
        "../x.key",
        "/etc/x.key",
        ".hidden/{id}.key",
        "{id}.pem",
        "{other}.key",
    ] {
        let (mut archive, _) = src.backup_archive(&Selection::default()).unwrap();
        archive.keys[0].path = bad
            .replace("{id}", archive.keys[0].id.as_str())
            .replace("{other}", ids["delegation"].as_str());
        if archive.keys[0].id == ids["delegation"] && bad == "{other}.key" {
            continue;
        }
        let env = seal_with_passphrase(&archive, PASS, FAST).unwrap();
        let e = env.open_with_passphrase(PASS, "b").unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Usage, "{bad}: {e}");
    }
    let (mut archive, _) = src.backup_archive(&Selection::default()).unwrap();
    archive.keys[0].file = Zeroizing::new(b"not a key".to_vec());
    let env = seal_with_passphrase(&archive, PASS, FAST).unwrap();
    assert!(env
        .open_with_passphrase(PASS, "b")
        .unwrap_err()
        .to_string()
        .contains("no PEM private key"));
}

#[test]
fn restore_refuses_a_different_file_for_the_same_key_id_and_writes_nothing() {
    let (_d, src, ids) = store();
    let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
    let (_e, dst) = empty_store();
    // The same key ID, another key file (here: the delegation key's file under the root
    // key's name).
    let forged = dst.private_dir().join(format!("{}.key", ids["root"]));
    let deleg_file = std::fs::read(src.info(&ids["delegation"]).unwrap().path).unwrap();
    std::fs::write(&forged, &deleg_file).unwrap();
    let before = tree(dst.trust_dir());
    let e = dst.restore_archive(&archive, true).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Keystore);
    assert!(e.to_string().contains(ids["root"].as_str()), "{e}");
    assert!(e.to_string().contains("nothing was restored"), "{e}");
    assert_eq!(tree(dst.trust_dir()), before);
    let plan = dst.plan_restore(&archive, true).unwrap();
    let root = plan.keys.iter().find(|k| k.id == ids["root"]).unwrap();
    assert_eq!(
        root.outcome,
        RestoreOutcome::Conflict {
            existing: forged.clone()
        }
    );
}

#[test]
fn restore_keeps_a_different_cached_root_json() {
    let (_d, src, _) = store();
    let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
    let (_e, dst) = empty_store();
    let other = PrivateKeyForTest::public();
    write_root_json(&dst, "example.com/app", &other);
    let before = std::fs::read(dst.root_json_path("example.com/app")).unwrap();
    let report = dst.restore_archive(&archive, true).unwrap();
    assert_eq!(report.roots[0].outcome, RootOutcome::KeptExisting);
    assert_eq!(
        std::fs::read(dst.root_json_path("example.com/app")).unwrap(),
        before
    );
}

struct PrivateKeyForTest;
impl PrivateKeyForTest {
    fn public() -> PublicKey {
        crate::crypto::private::PrivateKey::generate(Algorithm::Ecdsa)
            .unwrap()
            .public_key()
    }
}

fn split(src: &KeyStore, k: usize, n: usize) -> SplitBackup {
    let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
    split_archive(&archive, k, n, &mut OsRng).unwrap()
}

fn parsed(s: &SplitBackup) -> Vec<ShareFile> {
    s.shares
        .iter()
        .enumerate()
        .map(|(i, t)| parse_share(&format!("s{}", i + 1), t.as_bytes()).unwrap())
        .collect()
}

#[test]
fn every_3_of_5_subset_restores_and_every_2_subset_fails() {
    let (_d, src, ids) = store();
    let split = split(&src, 3, 5);
    assert_eq!(
        split.envelope.protection(),
        Protection::Shares {
            threshold: 3,
            shares: 5
        }
    );
    let shares = parsed(&split);
    for s in &shares {
        assert_eq!(s.fingerprint, split.envelope.fingerprint());
        assert_eq!(s.keys.len(), 3);
        assert_eq!(sniff(split.shares[0].as_bytes()), FileKind::Share);
    }
    let mut restored = 0;
    let mut refused = 0;
    for mask in 1u32..32 {
        let subset: Vec<ShareFile> = (0..5)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| parse_share("s", split.shares[i].as_bytes()).unwrap())
            .collect();
        match combine_shares(&subset) {
            Ok((env, archive)) => {
                assert!(subset.len() >= 3);
                assert_eq!(env.fingerprint(), split.envelope.fingerprint());
                let got: BTreeSet<KeyId> = archive.keys.iter().map(|k| k.id.clone()).collect();
                assert_eq!(got, ids.values().cloned().collect());
                restored += 1;
            }
            Err(e) => {
                assert!(subset.len() < 3, "{mask:b}: {e}");
                assert_eq!(e.exit_code(), ExitCode::Usage);
                assert!(
                    matches!(
                        backup_error(e),
                        BackupError::NotEnoughShares { need: 3, .. }
                    ),
                    "{mask:b}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!((restored, refused), (16, 15));
    drop(shares);
}

#[test]
fn a_mistyped_share_line_is_named_with_its_line_number() {
    let (_d, src, _) = store();
    let split = split(&src, 2, 3);
    let text = split.shares[1].to_string();
    let lines: Vec<&str> = text.lines().collect();
    for prefix in ["data 2/", "secret ", "key ", "vouch-key-share ", "end "] {
        let n = lines.iter().position(|l| l.starts_with(prefix)).unwrap();
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        // Change one character in the middle of the line.
        let mut chars: Vec<char> = changed[n].chars().collect();
        let mid = chars.len() / 2;
        chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
        changed[n] = chars.into_iter().collect();
        let e = parse_share("s2.txt", changed.join("\n").as_bytes()).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Usage);
        let msg = e.to_string();
        assert!(msg.contains("s2.txt"), "{msg}");
        assert!(msg.contains(&format!("line {}", n + 1)), "{prefix}: {msg}");
    }
    // A missing data line, a duplicated one, a truncated file.
    let n = lines.iter().position(|l| l.starts_with("data 3/")).unwrap();
    let mut missing: Vec<&str> = lines.clone();
    missing.remove(n);
    assert!(parse_share("s", missing.join("\n").as_bytes())
        .unwrap_err()
        .to_string()
        .contains("out of order"));
    let cut = lines[..lines.len() - 1].join("\n");
    assert!(parse_share("s", cut.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("incomplete"));
    // Comments and blank lines may change freely; whitespace inside lines too.
    let relaxed = text.replace("\n# ", "\n\n#  ").replace(" data ", "  data ");
    parse_share("s", relaxed.as_bytes()).unwrap();
    assert!(parse_share("s", b"hello\n")
        .unwrap_err()
        .to_string()
        .contains("not a vouch key share"));
}

/// Rewrite one share line and fix its checksum and the end line, as a forger would.
fn forge(text: &str, prefix: &str, edit: impl Fn(&str) -> String) -> String {
    let mut contents: Vec<Zeroizing<String>> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            out.push(line.to_string());
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut content = words[..words.len() - 1].join(" ");
        if content.starts_with("end ") {
            content = format!("end {}", end_digest(&contents));
        } else if content.starts_with(prefix) {
            content = edit(&content);
        }
        out.push(format!("{content} {}", line_checksum(&content)));
        contents.push(Zeroizing::new(content));
    }
    out.join("\n")
}

#[test]
fn a_forged_share_is_named() {
    let (_d, src, _) = store();
    let split = split(&src, 3, 5);
    let shares = parsed(&split);

    // A different secret with every checksum fixed: caught by the share digests in the
    // archive.
    let forged = forge(&split.shares[1], "secret ", |c| {
        let mut c = c.to_string();
        let last = c.pop().unwrap();
        c.push(if last == '0' { '1' } else { '0' });
        c
    });
    let e = parse_share("s2", forged.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("s2"), "{e}");
    assert!(e.to_string().contains("damaged or forged"), "{e}");

    // A share of another backup with the same keys: the odd one out is named.
    let other = split_archive(
        &src.backup_archive(&Selection::default()).unwrap().0,
        3,
        5,
        &mut OsRng,
    )
    .unwrap();
    let stranger = parse_share("other3", other.shares[2].as_bytes()).unwrap();
    let mix = vec![
        parse_share("s1", split.shares[0].as_bytes()).unwrap(),
        parse_share("s2", split.shares[1].as_bytes()).unwrap(),
        stranger,
    ];
    let e = combine_shares(&mix).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("other3 (share 3)"), "{msg}");
    assert!(!msg.contains("s1 (share 1)"), "{msg}");
    assert_eq!(e.exit_code(), ExitCode::Usage);

    // The same share twice does not count twice.
    let twice = vec![
        parse_share("a", split.shares[0].as_bytes()).unwrap(),
        parse_share("b", split.shares[0].as_bytes()).unwrap(),
        parse_share("c", split.shares[1].as_bytes()).unwrap(),
    ];
    assert!(combine_shares(&twice)
        .unwrap_err()
        .to_string()
        .contains("the same share twice"));
    drop(shares);
}

#[test]
fn share_backups_do_not_open_with_a_passphrase_and_vice_versa() {
    let (_d, src, _) = store();
    let split = split(&src, 2, 2);
    assert!(split
        .envelope
        .open_with_passphrase(PASS, "b")
        .unwrap_err()
        .to_string()
        .contains("--shares"));
    assert_eq!(sniff(b"random"), FileKind::Unknown);
}

/// A restore installs keys only unless trust data is asked for: the backup's cached
/// root.json is reported as not requested and not written; asked for, it is written.
#[test]
fn restore_installs_cached_root_json_only_when_asked() {
    let (_d, src, _ids) = store();
    let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
    assert_eq!(archive.roots.len(), 1);
    let (_e, dst) = empty_store();
    let root_path = dst.root_json_path("example.com/app");

    let report = dst.restore_archive(&archive, false).unwrap();
    assert!(report
        .keys
        .iter()
        .all(|k| k.outcome == RestoreOutcome::Restored));
    assert_eq!(report.roots[0].outcome, RootOutcome::NotRequested);
    assert!(!root_path.exists(), "a root.json was installed unasked");
    assert!(!dst.trust_dir().join("tuf").exists());
    assert_eq!(
        dst.plan_restore(&archive, false).unwrap().roots[0].outcome,
        RootOutcome::NotRequested
    );

    let report = dst.restore_archive(&archive, true).unwrap();
    assert!(report
        .keys
        .iter()
        .all(|k| k.outcome == RestoreOutcome::AlreadyPresent));
    assert_eq!(report.roots[0].outcome, RootOutcome::Restored);
    assert_eq!(
        std::fs::read(&root_path).unwrap(),
        archive.roots[0].root_json
    );
    // Once it is there, a keys-only restore sees it as present.
    assert_eq!(
        dst.plan_restore(&archive, false).unwrap().roots[0].outcome,
        RootOutcome::AlreadyPresent
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn archive_json() -> &'static [u8] {
        static J: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        J.get_or_init(|| {
            let (_d, src, _ids) = store();
            let (archive, _) = src.backup_archive(&Selection::default()).unwrap();
            archive.to_json().unwrap().to_vec()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// The archive parser (reached only after the AEAD check, so written by whoever
        /// holds the backup key) never panics on altered JSON and names what is wrong.
        #[test]
        fn altered_archives_parse_or_fail_cleanly(
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
        ) {
            let mut v = archive_json().to_vec();
            for (pos, byte, op) in edits {
                let at = pos % v.len().max(1);
                match op {
                    0 if !v.is_empty() => v[at] = byte,
                    1 if !v.is_empty() => { v.remove(at); }
                    _ => v.insert(at.min(v.len()), byte),
                }
            }
            if let Err(e) = Archive::from_json(&v, "archive") {
                prop_assert!(e.to_string().contains("archive"), "{}", e);
            }
        }
    }
}
