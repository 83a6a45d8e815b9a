//! Unlock sessions (`vouch key unlock`, `key lock`, `key session`): the built binary, the
//! Linux kernel keyring, a real notary-server and the real `notary` CLI.
//!
//! Every test uses its own session name (`VOUCH_SESSION`) and ends it when it finishes,
//! even when it fails, so tests do not see each other's sessions or leave keys behind.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{
    fails, ok, snapshot_tree, vouch, Notary, NotaryServer, PASSPHRASE_VARS, TARGETS_PASS,
};

/// A session of this test; ended (`vouch key lock`) on drop.
struct TestSession {
    name: String,
    trust: std::path::PathBuf,
}

impl TestSession {
    /// A session for `test`, or `None` where the kernel keyring cannot hold one (not
    /// Linux, or `keyctl` blocked by a container's seccomp profile): then `key unlock`
    /// must refuse with exit 4 and say why, which is checked here, and the test ends.
    fn new(test: &str, trust: &Path) -> Option<TestSession> {
        let s = TestSession {
            name: format!("vouch-test-{test}-{}", std::process::id()),
            trust: trust.to_path_buf(),
        };
        let probe = tempfile::tempdir().unwrap();
        let mut c = vouch(probe.path());
        c.env("VOUCH_SESSION", &s.name);
        let out = support::run(c, &["key", "unlock", "--for", "5s"]);
        if out.code == 0 {
            let mut c = vouch(probe.path());
            c.env("VOUCH_SESSION", &s.name);
            ok(c, &["key", "lock"]);
            return Some(s);
        }
        assert_eq!(out.code, 4, "key unlock: {}", out.stderr);
        assert!(
            out.stderr.contains("kernel keyring is not available"),
            "{}",
            out.stderr
        );
        eprintln!("no kernel keyring here: only the refusal of `key unlock` was tested");
        None
    }

    /// vouch in this session, with the support passphrases in the environment.
    fn vouch(&self) -> assert_cmd::Command {
        let mut c = vouch(&self.trust);
        c.env("VOUCH_SESSION", &self.name);
        c
    }

    /// vouch in this session with no passphrase anywhere (and no terminal to ask on).
    fn vouch_nopass(&self) -> assert_cmd::Command {
        let mut c = self.vouch();
        for v in PASSPHRASE_VARS {
            c.env_remove(v);
        }
        c
    }
}

impl Drop for TestSession {
    fn drop(&mut self) {
        let _ = self.vouch().args(["key", "lock"]).output();
    }
}

fn digest(n: u32) -> String {
    format!("sha256:{:064x}", n)
}

fn pair(gun: &str, tag: &str, n: u32) -> String {
    format!("{gun}:{tag}={}:{}", digest(n), 100 + n)
}

/// The key IDs of `role` (and `gun`, if given) in the trust dir.
fn key_ids(s: &TestSession, role: &str, gun: Option<&str>) -> Vec<String> {
    let out = ok(s.vouch(), &["key", "list", "--output", "json"]);
    let keys: Vec<Value> = serde_json::from_value(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["items"].clone(),
    )
    .unwrap();
    keys.iter()
        .filter(|k| k["role"] == role && gun.is_none_or(|g| k["gun"] == g))
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn unlocked_keys_sign_without_passphrases_until_the_session_is_locked() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(s) = TestSession::new("sign", &trust) else {
        return;
    };
    let gun = "example.com/session/app";
    ok(s.vouch(), &["-s", &server.url, "init", gun]);
    let targets = key_ids(&s, "targets", Some(gun));
    let snapshot = key_ids(&s, "snapshot", Some(gun));

    let unlock = ok(s.vouch(), &["key", "unlock", "--for", "10m"]);
    for id in targets.iter().chain(&snapshot) {
        assert!(
            unlock.stdout.contains(id.as_str()),
            "{id} unlocked:\n{}",
            unlock.stdout
        );
    }
    assert!(
        !unlock.stdout.contains("\troot\t"),
        "root stays locked:\n{}",
        unlock.stdout
    );
    assert!(
        unlock.stderr.contains("Unlocked 2 keys"),
        "{}",
        unlock.stderr
    );
    let status = ok(s.vouch(), &["key", "session", "--output", "json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["open"], true);
    assert_eq!(status["key_encryption_keys"], 2);
    assert_eq!(status["root"], false);

    // No passphrase anywhere: the session opens the targets and snapshot keys.
    ok(
        s.vouch_nopass(),
        &["-s", &server.url, "sign", &pair(gun, "v1", 1)],
    );
    let listed = Notary::with_server(&tmp.path().join("notary"), &server).run(&["list", gun]);
    assert!(
        listed.contains("v1") && listed.contains(&format!("{:064x}", 1)),
        "notary lists what was signed in the session:\n{listed}"
    );

    let lock = ok(s.vouch(), &["key", "lock"]);
    assert!(lock.stderr.contains("Ended session"), "{}", lock.stderr);
    let refused = fails(
        s.vouch_nopass(),
        &["-s", &server.url, "sign", &pair(gun, "v2", 2)],
        4,
    );
    assert!(
        refused
            .stderr
            .contains("no passphrase available for targets key"),
        "{}",
        refused.stderr
    );
    let status = ok(s.vouch(), &["key", "session"]);
    assert!(status.stdout.contains("not open"), "{}", status.stdout);
    // A sign that fails stages nothing; with a passphrase it publishes.
    let staged = ok(s.vouch(), &["status", gun]);
    assert!(
        staged.stdout.contains("No unpublished changes"),
        "{}",
        staged.stdout
    );
    ok(s.vouch(), &["-s", &server.url, "sign", &pair(gun, "v2", 2)]);
    let listed = Notary::with_server(&tmp.path().join("notary"), &server).run(&["list", gun]);
    assert!(listed.contains("v2"), "{listed}");
}

#[test]
fn a_wrong_passphrase_opens_no_session_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(s) = TestSession::new("wrong", &trust) else {
        return;
    };
    ok(s.vouch(), &["init", "example.com/session/wrong"]);
    let before = snapshot_tree(&trust);
    let mut c = s.vouch();
    c.env("VOUCH_TARGETS_PASSPHRASE", "not the passphrase");
    let out = fails(c, &["key", "unlock"], 4);
    assert!(
        out.stderr.contains("wrong passphrase for targets key"),
        "{}",
        out.stderr
    );
    let status = ok(s.vouch(), &["key", "session"]);
    assert!(
        status.stdout.contains("not open"),
        "a failed unlock stores no session: {}",
        status.stdout
    );
    assert_eq!(snapshot_tree(&trust), before, "the trust dir is unchanged");
}

#[test]
fn root_keys_stay_locked_unless_the_session_allows_them() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(s) = TestSession::new("root", &trust) else {
        return;
    };
    let gun = "example.com/session/root";
    ok(s.vouch(), &["init", gun]);
    let root = key_ids(&s, "root", None).remove(0);

    let out = fails(s.vouch(), &["key", "unlock", &root], 2);
    assert!(out.stderr.contains("add --root"), "{}", out.stderr);

    ok(s.vouch(), &["key", "unlock"]);
    let out = fails(s.vouch_nopass(), &["key", "public", &root, "--gun", gun], 4);
    assert!(out.stderr.contains("root key"), "{}", out.stderr);

    let unlock = ok(s.vouch(), &["key", "unlock", "--root"]);
    assert!(
        unlock.stderr.contains("root keys allowed"),
        "{}",
        unlock.stderr
    );
    let cert = ok(s.vouch_nopass(), &["key", "public", &root, "--gun", gun]);
    assert!(cert.stdout.contains("BEGIN CERTIFICATE"), "{}", cert.stdout);
}

#[test]
fn a_session_ends_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(s) = TestSession::new("expiry", &trust) else {
        return;
    };
    let gun = "example.com/session/expiry";
    ok(s.vouch(), &["init", gun]);
    ok(s.vouch(), &["key", "unlock", "--for", "2s"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let out = fails(s.vouch_nopass(), &["sign", &pair(gun, "v1", 1)], 4);
    assert!(
        out.stderr.contains("no passphrase available"),
        "{}",
        out.stderr
    );
    let status = ok(s.vouch(), &["key", "session"]);
    assert!(status.stdout.contains("not open"), "{}", status.stdout);
}

#[test]
fn sessions_are_separate_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(a) = TestSession::new("name-a", &trust) else {
        return;
    };
    let Some(b) = TestSession::new("name-b", &trust) else {
        return;
    };
    let gun = "example.com/session/names";
    ok(a.vouch(), &["init", gun]);
    ok(a.vouch(), &["key", "unlock"]);
    fails(b.vouch_nopass(), &["sign", &pair(gun, "v1", 1)], 4);
    ok(a.vouch_nopass(), &["sign", &pair(gun, "v1", 1)]);

    let mut bad = a.vouch();
    bad.env("VOUCH_SESSION", "no spaces allowed");
    let out = fails(bad, &["key", "unlock"], 2);
    assert!(out.stderr.contains("VOUCH_SESSION"), "{}", out.stderr);
}

#[test]
fn keys_created_in_a_session_are_protected_by_their_own_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(s) = TestSession::new("create", &trust) else {
        return;
    };
    // An empty trust dir: the session learns passphrases from the commands that follow.
    let unlock = ok(s.vouch(), &["key", "unlock", "--root"]);
    assert!(
        unlock.stderr.contains("Unlocked 0 keys"),
        "{}",
        unlock.stderr
    );
    ok(s.vouch(), &["init", "example.com/session/one"]);
    // Same passphrases: the session's key-encryption keys are reused for the new keys.
    ok(s.vouch(), &["init", "example.com/session/two"]);
    // Another targets passphrase: a key of its own.
    let mut other = s.vouch();
    other.env("VOUCH_TARGETS_PASSPHRASE", "another targets passphrase");
    ok(other, &["init", "example.com/session/three"]);
    // In the session, all sign without passphrases.
    for (i, gun) in ["one", "two", "three"].iter().enumerate() {
        let gun = format!("example.com/session/{gun}");
        ok(
            s.vouch_nopass(),
            &["sign", &pair(&gun, "in-session", i as u32)],
        );
    }

    ok(s.vouch(), &["key", "lock"]);
    // Without the session each key opens with its own passphrase, and only with it.
    ok(
        s.vouch(),
        &["sign", &pair("example.com/session/two", "after", 7)],
    );
    let out = fails(
        s.vouch(),
        &["sign", &pair("example.com/session/three", "after", 8)],
        4,
    );
    assert!(
        out.stderr.contains("wrong passphrase for targets key"),
        "{}",
        out.stderr
    );
    let mut other = s.vouch();
    other.env("VOUCH_TARGETS_PASSPHRASE", "another targets passphrase");
    ok(other, &["publish", "example.com/session/three"]);
    // And the files are standard: export with the passphrase, into notary's format.
    let two = key_ids(&s, "targets", Some("example.com/session/two")).remove(0);
    let exported = ok(s.vouch(), &["key", "export", &two, "--format", "notary"]);
    assert!(
        exported.stdout.contains("ENCRYPTED PRIVATE KEY"),
        "{}",
        exported.stdout
    );
    let mut wrong = s.vouch();
    wrong.env("VOUCH_TARGETS_PASSPHRASE", TARGETS_PASS.to_owned() + "x");
    fails(wrong, &["key", "export", &two, "--format", "notary"], 4);
}

#[test]
fn unlock_gun_opens_only_that_repositorys_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let Some(s) = TestSession::new("gun", &trust) else {
        return;
    };
    let (a, b) = ("example.com/session/a", "example.com/session/b");
    ok(s.vouch(), &["init", a]);
    let mut other = s.vouch();
    other.env("VOUCH_TARGETS_PASSPHRASE", "b's own targets passphrase");
    ok(other, &["init", b]);

    // All keys: b's targets key does not open with the passphrase in the environment.
    let out = fails(s.vouch(), &["key", "unlock"], 4);
    assert!(
        out.stderr.contains("wrong passphrase for targets key"),
        "{}",
        out.stderr
    );
    // Only a's keys: they open, and a signs without passphrases; b does not.
    let out = ok(s.vouch(), &["key", "unlock", "--gun", a]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    // targets, snapshot and (static repository) timestamp keys of a, nothing of b
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines.iter().all(|l| l.ends_with(&format!("\t{a}"))),
        "{}",
        out.stdout
    );
    ok(s.vouch_nopass(), &["sign", &pair(a, "v1", 1)]);
    fails(s.vouch_nopass(), &["sign", &pair(b, "v1", 1)], 4);

    let out = fails(
        s.vouch(),
        &["key", "unlock", "--gun", "example.com/none"],
        4,
    );
    assert!(out.stderr.contains("example.com/none"), "{}", out.stderr);
}
