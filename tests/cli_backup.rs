//! End-to-end tests of `vouch key backup`, `vouch key backup verify` and `vouch key restore`
//! with the built binary: round trips into empty trust dirs followed by signing with the
//! restored keys (vouch on a static repository; the real notary CLI against a real
//! notary-server), refusals, 3-of-5 shares, tampered shares, and "nothing written".

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{
    snapshot_tree, Notary, NotaryServer, DELEGATION_PASS, ROOT_PASS, SNAPSHOT_PASS, TARGETS_PASS,
};

const BACKUP_PASS: &str = "backup-passphrase-7f3c";
const TIMESTAMP_PASS: &str = "timestamppass-123";
const GUN: &str = "example.com/team/app";

/// `vouch --trust-dir DIR` with the support passphrases, a timestamp passphrase, and no
/// backup passphrase unless a test sets one.
fn vouch(dir: &Path) -> assert_cmd::Command {
    let mut c = support::vouch(dir);
    c.env("VOUCH_TIMESTAMP_PASSPHRASE", TIMESTAMP_PASS)
        .env_remove("VOUCH_BACKUP_PASSPHRASE")
        .env_remove("VOUCH_KEYRING");
    c
}

/// As [`vouch`], with the backup passphrase in the environment.
fn vouch_bk(dir: &Path) -> assert_cmd::Command {
    let mut c = vouch(dir);
    c.env("VOUCH_BACKUP_PASSPHRASE", BACKUP_PASS);
    c
}

fn run(mut c: assert_cmd::Command, args: &[&str]) -> Output {
    let out = c.args(args).output().unwrap();
    // No passphrase is ever printed.
    for secret in [
        BACKUP_PASS,
        ROOT_PASS,
        TARGETS_PASS,
        SNAPSHOT_PASS,
        DELEGATION_PASS,
        TIMESTAMP_PASS,
    ] {
        assert!(
            !out.stdout
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())
                && !out
                    .stderr
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
            "a passphrase appeared in the output of {args:?}"
        );
    }
    out
}

fn ok(c: assert_cmd::Command, args: &[&str]) -> String {
    let out = run(c, args);
    assert!(
        out.status.success(),
        "vouch {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run, require exit `code`, return stderr.
fn fails(c: assert_cmd::Command, args: &[&str], code: i32) -> String {
    let out = run(c, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "vouch {args:?}: stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (role, gun, id) of every key, from `key list --output json`.
fn key_rows(dir: &Path) -> BTreeSet<(String, String, String)> {
    let json: Value =
        serde_json::from_str(&ok(vouch(dir), &["key", "list", "--output", "json"])).unwrap();
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["role"].as_str().unwrap().to_owned(),
                k["gun"].as_str().unwrap_or("").to_owned(),
                k["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn id_of(rows: &BTreeSet<(String, String, String)>, role: &str) -> String {
    rows.iter().find(|r| r.0 == role).unwrap().2.clone()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A trust dir with a repository initialised on its embedded static repository (root,
/// targets, snapshot, timestamp keys, cached root.json), one signed file, and a
/// delegation key.
fn source_trust_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("source");
    ok(vouch(&dir), &["init", GUN]);
    let file = tmp.join("first.txt");
    std::fs::write(&file, "first release\n").unwrap();
    ok(vouch(&dir), &["sign-file", GUN, "first.txt", s(&file)]);
    ok(
        vouch(&dir),
        &["key", "generate", "--role", "targets/releases"],
    );
    dir
}

fn repository_url(source: &Path) -> String {
    format!("file://{}", source.join("repository").display())
}

#[test]
fn backup_and_restore_into_an_empty_trust_dir_then_sign_with_the_restored_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source_trust_dir(tmp.path());
    let src_rows = key_rows(&src);
    assert_eq!(
        src_rows
            .iter()
            .map(|r| r.0.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases"
        ])
    );
    let before = snapshot_tree(&src);

    let file = tmp.path().join("keys.backup");
    let out = ok(vouch_bk(&src), &["key", "backup", "-o", s(&file)]);
    for (role, _, id) in &src_rows {
        assert!(
            out.contains(id.as_str()) && out.contains(role.as_str()),
            "{out}"
        );
    }
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        snapshot_tree(&src),
        before,
        "backup changed the source trust dir"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("-----BEGIN VOUCH KEY BACKUP-----"), "{text}");
    assert!(!text.contains(BACKUP_PASS));
    // What it holds is readable without the passphrase.
    for (_, _, id) in &src_rows {
        assert!(text.contains(id.as_str()));
    }

    // Restore into an empty trust dir.
    let dst = tmp.path().join("restored");
    let json: Value = serde_json::from_str(&ok(
        vouch_bk(&dst),
        &[
            "key",
            "restore",
            s(&file),
            "--with-trust-data",
            "--output",
            "json",
        ],
    ))
    .unwrap();
    let outcomes: BTreeSet<&str> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, BTreeSet::from(["restored"]), "{json}");
    assert_eq!(json["repositories"][0]["gun"], GUN, "{json}");
    assert_eq!(key_rows(&dst), src_rows);
    // Byte-identical key files, 0600 in 0700 directories.
    for (_, _, id) in &src_rows {
        let a = std::fs::read(src.join("private").join(format!("{id}.key"))).unwrap();
        let p = dst.join("private").join(format!("{id}.key"));
        assert_eq!(std::fs::read(&p).unwrap(), a);
        assert_eq!(mode(&p), 0o600);
    }
    assert_eq!(mode(&dst.join("private")), 0o700);
    assert_eq!(
        std::fs::read(dst.join("tuf").join(GUN).join("metadata/root.json")).unwrap(),
        std::fs::read(src.join("tuf").join(GUN).join("metadata/root.json")).unwrap()
    );

    // The restored keys sign: the root key unlocks (its passphrase is still needed) ...
    let root = id_of(&src_rows, "root");
    let mut wrong = vouch(&dst);
    wrong.env("VOUCH_ROOT_PASSPHRASE", "not-the-root-passphrase");
    fails(wrong, &["key", "public", &root], 4);
    ok(vouch(&dst), &["key", "public", &root, "--gun", GUN]);
    // ... and creates a new repository with `init --root-key` ...
    let init = run(
        vouch(&dst),
        &["init", "example.com/team/other", "--root-key", &root],
    );
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(
        String::from_utf8_lossy(&init.stderr).contains(&format!("Root key found, using: {root}"))
    );
    // ... and the restored targets/snapshot/timestamp keys publish a new target to the
    // original repository, trusting it through the restored root.json (restored on
    // request, so recorded as this trust dir's anchor) ...
    let second = tmp.path().join("second.txt");
    std::fs::write(&second, "second release\n").unwrap();
    let url = repository_url(&src);
    ok(
        vouch(&dst),
        &["--server", &url, "sign-file", GUN, "second.txt", s(&second)],
    );
    // ... which the original trust dir verifies.
    ok(vouch(&src), &["verify-file", GUN, "second.txt", s(&second)]);
    ok(
        vouch(&src),
        &[
            "--server",
            &url,
            "verify-file",
            GUN,
            "second.txt",
            s(&second),
        ],
    );
}

#[test]
fn restore_refuses_a_different_key_with_the_same_id_and_reports_the_same_key_as_present() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source_trust_dir(tmp.path());
    let rows = key_rows(&src);
    let file = tmp.path().join("keys.backup");
    ok(vouch_bk(&src), &["key", "backup", "-o", s(&file)]);

    // Restoring into the trust dir it came from: every key already present.
    let before = snapshot_tree(&src);
    let json: Value = serde_json::from_str(&ok(
        vouch_bk(&src),
        &["key", "restore", s(&file), "--output", "json"],
    ))
    .unwrap();
    assert!(
        json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["outcome"] == "already_present"),
        "{json}"
    );
    let out = run(vouch_bk(&src), &["key", "restore", s(&file)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already present"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already present"));
    assert_eq!(snapshot_tree(&src), before);

    // A trust dir holding another key under the root key's ID (crafted: the targets
    // key's file renamed).
    let dst = tmp.path().join("other");
    ok(vouch(&dst), &["key", "list"]);
    let root = id_of(&rows, "root");
    let targets = id_of(&rows, "targets");
    let crafted = dst.join("private").join(format!("{root}.key"));
    std::fs::copy(src.join("private").join(format!("{targets}.key")), &crafted).unwrap();
    let before = snapshot_tree(&dst);
    let err = fails(vouch_bk(&dst), &["key", "restore", s(&file)], 4);
    assert!(
        err.contains(&root) && err.contains("different file"),
        "{err}"
    );
    assert!(err.contains("nothing was restored"), "{err}");
    assert_eq!(
        snapshot_tree(&dst),
        before,
        "a refused restore wrote something"
    );
    // `backup verify` says so too, and still writes nothing.
    let plan = ok(vouch_bk(&dst), &["key", "backup", "verify", s(&file)]);
    assert!(plan.contains("conflict with"), "{plan}");
    assert_eq!(snapshot_tree(&dst), before);
}

#[test]
fn wrong_passphrase_exits_4_and_a_damaged_backup_exits_2_changing_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    ok(vouch(&src), &["key", "generate", "--role", "root"]);
    let file = tmp.path().join("keys.backup");

    // Without any source of a backup passphrase (no terminal): exit 4, nothing written.
    let err = fails(vouch(&src), &["key", "backup", "-o", s(&file)], 4);
    assert!(err.contains("VOUCH_BACKUP_PASSPHRASE"), "{err}");
    assert!(!file.exists());

    // --passphrase-file supplies it (and must be private).
    let pass_file = tmp.path().join("backup-pass");
    std::fs::write(&pass_file, format!("{BACKUP_PASS}\n")).unwrap();
    std::fs::set_permissions(&pass_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(
        vouch(&src),
        &[
            "key",
            "backup",
            "-o",
            s(&file),
            "--passphrase-file",
            s(&pass_file),
        ],
        2,
    );
    std::fs::set_permissions(&pass_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(
        vouch(&src),
        &[
            "key",
            "backup",
            "-o",
            s(&file),
            "--passphrase-file",
            s(&pass_file),
        ],
    );
    // Never overwritten.
    let err = fails(vouch_bk(&src), &["key", "backup", "-o", s(&file)], 2);
    assert!(err.contains("already exists"), "{err}");

    let dst = tmp.path().join("dst");
    ok(vouch(&dst), &["key", "list"]);
    let before = snapshot_tree(&dst);
    let mut wrong = vouch(&dst);
    wrong.env("VOUCH_BACKUP_PASSPHRASE", "not the backup passphrase");
    let err = fails(wrong, &["key", "restore", s(&file)], 4);
    assert!(err.contains("wrong backup passphrase"), "{err}");
    assert_eq!(snapshot_tree(&dst), before);

    // Damaged: one base64 character of the armour changed, the file cut short, garbage.
    let text = std::fs::read_to_string(&file).unwrap();
    let body_start = text.find("-----BEGIN").unwrap() + 40;
    let mut flipped = text.clone().into_bytes();
    let i = (body_start..flipped.len())
        .find(|&i| flipped[i].is_ascii_alphabetic() && i > body_start + 200)
        .unwrap();
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let cut = text.as_bytes()[..text.len() / 2].to_vec();
    for (name, bytes) in [
        ("flipped", flipped),
        ("cut", cut),
        ("garbage", b"hello\n".to_vec()),
    ] {
        let damaged = tmp.path().join(name);
        std::fs::write(&damaged, bytes).unwrap();
        let err = fails(vouch_bk(&dst), &["key", "restore", s(&damaged)], 2);
        assert!(err.contains(name), "{name}: {err}");
        fails(vouch_bk(&dst), &["key", "backup", "verify", s(&damaged)], 2);
        assert_eq!(snapshot_tree(&dst), before, "{name}");
    }
    // The right passphrase from the file restores.
    ok(
        vouch(&dst),
        &[
            "key",
            "restore",
            s(&file),
            "--passphrase-file",
            s(&pass_file),
        ],
    );
    assert_eq!(key_rows(&dst), key_rows(&src));
}

#[test]
fn selection_by_role_and_gun() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source_trust_dir(tmp.path());
    let rows = key_rows(&src);
    let listed = |args: &[&str]| -> BTreeSet<String> {
        let file = tmp
            .path()
            .join(format!("sel-{}", args.join("-").replace('/', "_")));
        let mut all = vec!["key", "backup", "-o", s(&file), "--output", "json"];
        all.extend_from_slice(args);
        let v: Value = serde_json::from_str(&ok(vouch_bk(&src), &all)).unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["role"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        listed(&["--role", "root"]),
        BTreeSet::from(["root".to_owned()])
    );
    assert_eq!(
        listed(&["--gun", GUN]),
        ["root", "targets", "snapshot", "timestamp"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        listed(&["--role", "targets/releases", "--role", "targets"]),
        ["targets/releases", "targets"].map(String::from).into()
    );
    let file = tmp.path().join("none");
    let err = fails(
        vouch_bk(&src),
        &[
            "key",
            "backup",
            "--gun",
            "example.com/nothing",
            "-o",
            s(&file),
        ],
        4,
    );
    assert!(err.contains("no keys to back up"), "{err}");
    assert!(!file.exists());
    let _ = rows;
}

// ---- shares ----

fn share_files(prefix: &Path) -> Vec<PathBuf> {
    (1..=5)
        .map(|i| PathBuf::from(format!("{}-share-{i}-of-5.txt", prefix.display())))
        .collect()
}

fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

#[test]
fn three_of_five_shares_every_3_subset_restores_every_2_subset_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source_trust_dir(tmp.path());
    let rows = key_rows(&src);
    let prefix = tmp.path().join("root-backup");
    // No backup passphrase is needed (or read) for a split backup.
    let out = ok(
        vouch(&src),
        &[
            "key",
            "backup",
            "--shares",
            "3-of-5",
            "-o",
            s(&prefix),
            "--output",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let fingerprint = v["archive_sha256"].as_str().unwrap().to_owned();
    let files = share_files(&prefix);
    for (i, f) in files.iter().enumerate() {
        assert_eq!(mode(f), 0o600);
        let text = std::fs::read_to_string(f).unwrap();
        let header = text
            .lines()
            .find(|l| l.starts_with("vouch-key-share"))
            .unwrap();
        assert!(header.contains(&format!("share={}/5", i + 1)), "{header}");
        assert!(header.contains("threshold=3"), "{header}");
        assert!(
            header.contains(&format!("archive=sha256:{fingerprint}")),
            "{header}"
        );
        for (_, _, id) in &rows {
            assert!(
                text.contains(&format!("key {id} ")),
                "share {i} lacks key {id}"
            );
        }
    }

    for subset in subsets(5, 3) {
        let dst = tmp
            .path()
            .join(format!("r{subset:?}").replace([' ', ',', '[', ']'], ""));
        let mut args = vec!["key", "restore", "--shares"];
        args.extend(subset.iter().map(|&i| s(&files[i])));
        ok(vouch(&dst), &args);
        assert_eq!(key_rows(&dst), rows, "{subset:?}");
    }
    let dst = tmp.path().join("two");
    ok(vouch(&dst), &["key", "list"]);
    let before = snapshot_tree(&dst);
    for subset in subsets(5, 2) {
        let mut args = vec!["key", "restore", "--shares"];
        args.extend(subset.iter().map(|&i| s(&files[i])));
        let err = fails(vouch(&dst), &args, 2);
        assert!(err.contains("needs 3"), "{subset:?}: {err}");
        let mut args = vec!["key", "backup", "verify"];
        args.extend(subset.iter().map(|&i| s(&files[i])));
        fails(vouch(&dst), &args, 2);
    }
    assert_eq!(snapshot_tree(&dst), before);
    // The same share twice does not make two.
    let err = fails(
        vouch(&dst),
        &[
            "key",
            "restore",
            "--shares",
            s(&files[0]),
            s(&files[0]),
            s(&files[1]),
        ],
        2,
    );
    assert!(err.contains("both share 1"), "{err}");
    // A share is not a backup file and vice versa.
    fails(vouch(&dst), &["key", "restore", s(&files[0])], 2);
}

/// The checksum ending a share line, as docs/key-management.md defines it.
fn line_checksum(content: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"vouch-share-line\0");
    h.update(content.as_bytes());
    hex::encode(&h.finalize()[..4])
}

/// Rewrite the line starting with `prefix` and fix every checksum, as a forger would.
fn forge(text: &str, prefix: &str, edit: impl Fn(&str) -> String) -> String {
    let mut digest = Sha256::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            out.push(line.to_owned());
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut content = words[..words.len() - 1].join(" ");
        if content.starts_with("end ") {
            content = format!("end {}", hex::encode(&digest.clone().finalize()[..8]));
        } else {
            if content.starts_with(prefix) {
                content = edit(&content);
            }
            digest.update(content.as_bytes());
            digest.update(b"\n");
        }
        out.push(format!("{content} {}", line_checksum(&content)));
    }
    out.join("\n") + "\n"
}

#[test]
fn tampered_shares_are_detected_and_named_and_verify_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source_trust_dir(tmp.path());
    let rows = key_rows(&src);
    let prefix = tmp.path().join("bk");
    ok(
        vouch(&src),
        &["key", "backup", "--shares", "3-of-5", "-o", s(&prefix)],
    );
    let files = share_files(&prefix);

    // `backup verify` proves a set restores (listing the keys) and writes nothing, in a
    // trust dir with keys and in one without.
    for dir in [&src, &tmp.path().join("empty")] {
        let before = snapshot_tree(dir);
        let out = run(
            vouch(dir),
            &[
                "key",
                "backup",
                "verify",
                s(&files[4]),
                s(&files[1]),
                s(&files[2]),
                s(&files[3]),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        for (_, _, id) in &rows {
            assert!(stdout.contains(id.as_str()), "{stdout}");
        }
        assert!(String::from_utf8_lossy(&out.stderr).contains("Nothing was written"));
        assert_eq!(snapshot_tree(dir), before);
    }

    let text = std::fs::read_to_string(&files[1]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dst = tmp.path().join("dst");
    ok(vouch(&dst), &["key", "list"]);
    let before = snapshot_tree(&dst);

    // A typo in a data line: the file and the line are named.
    let n = lines.iter().position(|l| l.starts_with("data 5/")).unwrap();
    let mut typo: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let c = typo[n].as_bytes()[20];
    typo[n].replace_range(20..21, if c == b'x' { "y" } else { "x" });
    let bad = tmp.path().join("typo-share-2.txt");
    std::fs::write(&bad, typo.join("\n")).unwrap();
    for cmd in [
        vec!["key", "restore", "--shares"],
        vec!["key", "backup", "verify"],
    ] {
        let mut args = cmd.clone();
        args.extend([s(&files[0]), s(&bad), s(&files[2])]);
        let err = fails(vouch(&dst), &args, 2);
        assert!(
            err.contains("typo-share-2.txt") && err.contains(&format!("line {}", n + 1)),
            "{err}"
        );
        assert!(err.contains("checksum"), "{err}");
    }

    // A forged secret with every checksum recomputed: named as damaged or forged.
    let forged = forge(&text, "secret ", |c| {
        let mut c = c.to_owned();
        let last = c.pop().unwrap();
        c.push(if last == '0' { '1' } else { '0' });
        c
    });
    let bad = tmp.path().join("forged-share-2.txt");
    std::fs::write(&bad, &forged).unwrap();
    let err = fails(
        vouch(&dst),
        &[
            "key",
            "restore",
            "--shares",
            s(&files[0]),
            s(&bad),
            s(&files[2]),
        ],
        2,
    );
    assert!(
        err.contains("forged-share-2.txt") && err.contains("damaged or forged"),
        "{err}"
    );

    // A share of another backup of the same keys: the odd one out is named.
    let other = tmp.path().join("other");
    ok(
        vouch(&src),
        &["key", "backup", "--shares", "3-of-5", "-o", s(&other)],
    );
    let stranger = share_files(&other)[3].clone();
    let err = fails(
        vouch(&dst),
        &[
            "key",
            "restore",
            "--shares",
            s(&files[0]),
            s(&files[1]),
            s(&stranger),
        ],
        2,
    );
    assert!(
        err.contains(&format!("{} (share 4)", stranger.display())),
        "{err}"
    );
    assert!(
        !err.contains(&format!("{} (share 1)", files[0].display())),
        "{err}"
    );

    assert_eq!(
        snapshot_tree(&dst),
        before,
        "a refused restore wrote something"
    );
    // With good shares the same trust dir restores.
    ok(
        vouch(&dst),
        &[
            "key",
            "restore",
            "--shares",
            s(&files[0]),
            s(&files[1]),
            s(&files[2]),
        ],
    );
    assert_eq!(key_rows(&dst), rows);
}

#[test]
fn bad_share_specifications_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    ok(vouch(&src), &["key", "generate", "--role", "root"]);
    for spec in ["1-of-3", "4-of-3", "3", "0-of-0", "2-of-256", "a-of-b"] {
        let prefix = tmp.path().join("p");
        let err = fails(
            vouch(&src),
            &["key", "backup", "--shares", spec, "-o", s(&prefix)],
            2,
        );
        assert!(err.contains("K-of-N"), "{spec}: {err}");
    }
    fails(vouch(&src), &["key", "backup"], 2);
    fails(vouch(&src), &["key", "restore"], 2);
}

// ---- with the real notary CLI and notary-server ----

#[test]
fn keys_notary_made_are_backed_up_restored_and_used_by_notary_to_publish() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("notary-a");
    let notary_a = Notary::with_server(&a, &server);
    notary_a.run(&["init", "-p", GUN]);
    let notary_keys = notary_a.run(&["key", "list"]);

    let file = tmp.path().join("notary.backup");
    ok(vouch_bk(&a), &["key", "backup", "-o", s(&file)]);
    let b = tmp.path().join("notary-b");
    ok(
        vouch_bk(&b),
        &["key", "restore", s(&file), "--with-trust-data"],
    );

    // notary sees the same keys in the restored trust dir ...
    let notary_b = Notary::with_server(&b, &server);
    let restored_keys = notary_b.run(&["key", "list"]);
    let rows = |t: &str| -> BTreeSet<String> {
        t.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|w| {
                w.iter()
                    .any(|x| x.len() == 64 && x.bytes().all(|b| b.is_ascii_hexdigit()))
            })
            .map(|w| w[..w.len() - 1].join(" "))
            .collect()
    };
    assert_eq!(rows(&notary_keys).len(), 3, "{notary_keys}");
    assert_eq!(
        rows(&restored_keys),
        rows(&notary_keys),
        "{restored_keys}\n{notary_keys}"
    );
    // ... and publishes with the restored targets and snapshot keys.
    let payload = tmp.path().join("payload.txt");
    std::fs::write(&payload, "from the restored keys\n").unwrap();
    notary_b.run(&["add", GUN, "restored", s(&payload)]);
    notary_b.run(&["publish", GUN]);
    let list = notary_a.run(&["list", GUN]);
    assert!(list.contains("restored"), "{list}");
    // And vouch verifies it through the restored root.json.
    let mut c = vouch(&b);
    c.args(["--server", &server.url]);
    ok(c, &["verify-file", GUN, "restored", s(&payload)]);
}

/// Cached root.json files in a backup are trust anchors: `key restore` installs them only
/// with --with-trust-data. Without it the keys are restored, the root.json is not, and
/// stderr says so and how to install it; `verify` then has no trusted root for the GUN.
#[test]
fn restore_installs_trust_data_only_with_with_trust_data() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source_trust_dir(tmp.path());
    let file = tmp.path().join("keys.backup");
    ok(vouch_bk(&src), &["key", "backup", "-o", s(&file)]);
    let payload = tmp.path().join("first.txt");
    let url = repository_url(&src);
    let cached = |d: &Path| d.join("tuf").join(GUN).join("metadata/root.json");

    let dst = tmp.path().join("keys-only");
    let out = run(vouch_bk(&dst), &["key", "restore", s(&file)]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Not restored: the cached root.json (trust data) of {GUN}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--with-trust-data"), "{stderr}");
    assert_eq!(key_rows(&dst), key_rows(&src));
    assert!(
        !cached(&dst).exists(),
        "root.json installed without being asked"
    );
    // Nothing anchors trust in GUN here: verify refuses without --tofu.
    let err = fails(
        vouch(&dst),
        &[
            "--server",
            &url,
            "verify-file",
            GUN,
            "first.txt",
            s(&payload),
        ],
        1,
    );
    assert!(err.contains("no trusted root"), "{err}");

    // JSON says the same.
    let again = tmp.path().join("keys-only-json");
    let json: Value = serde_json::from_str(&ok(
        vouch_bk(&again),
        &["key", "restore", s(&file), "--output", "json"],
    ))
    .unwrap();
    assert_eq!(json["repositories"][0]["gun"], GUN, "{json}");
    assert_eq!(json["repositories"][0]["outcome"], "not_restored", "{json}");
    assert!(!cached(&again).exists());

    // Asked for, it is installed (into the keys-only trust dir too), and verify trusts it.
    for d in [&dst, &tmp.path().join("full")] {
        let out = run(
            vouch_bk(d),
            &["key", "restore", s(&file), "--with-trust-data"],
        );
        assert!(out.status.success(), "{out:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("Not restored"),
            "{out:?}"
        );
        assert_eq!(
            std::fs::read(cached(d)).unwrap(),
            std::fs::read(cached(&src)).unwrap()
        );
        ok(
            vouch(d),
            &[
                "--server",
                &url,
                "verify-file",
                GUN,
                "first.txt",
                s(&payload),
            ],
        );
    }
}
