//! Staged changes (`tuf/<gun>/changelist/`, shared with the real `notary` CLI) when
//! things go wrong: a sign that fails keeps nothing; a batch staged by a command killed
//! part-way is all there or not at all; leftover temp files are removed and never reach
//! notary; an unreadable staged change is named, and `reset` always clears it; a corrupt
//! key file is named as such (exit 4), not blamed on the server or taken for a missing key.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::pty::Pty;
use support::{fails, ok, Notary, NotaryServer, PASSPHRASE_VARS};

fn digest(seed: &str) -> String {
    support::registry::sha256_hex(seed.as_bytes())
}

fn tag_pair(gun: &str, tag: &str, seed: &str, size: u64) -> String {
    format!("{gun}:{tag}=sha256:{}:{size}", digest(seed))
}

/// `vouch` with the test passphrases, on `server` (else the default static repository).
fn vouch(trust: &Path, server: Option<&str>) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    if let Some(s) = server {
        c.arg("--server").arg(s);
    }
    c
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

/// `vouch status --output json`.
fn staged(trust: &Path, gun: &str) -> Vec<Value> {
    let out = ok(vouch(trust, None), &["status", gun, "--output", "json"]);
    serde_json::from_str::<Value>(&out.stdout).unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn changelist_dir(trust: &Path, gun: &str) -> PathBuf {
    trust.join("tuf").join(gun).join("changelist")
}

/// Names in `changelist/` (every one of them is read by notary).
fn changelist_files(trust: &Path, gun: &str) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(changelist_dir(trust, gun)) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// `notary list GUN` as (name, sha256 hex).
fn notary_targets(n: &Notary, gun: &str) -> Vec<(String, String)> {
    support::list_rows(&n.run(&["list", gun]))
        .into_iter()
        .map(|(name, hex, _, _)| (name, hex))
        .collect()
}

/// The key file of `role` (for `gun`) in `trust`'s key store.
fn key_file(trust: &Path, role: &str) -> PathBuf {
    let out = ok(vouch(trust, None), &["key", "list", "--output", "json"]);
    let keys: Value = serde_json::from_str(&out.stdout).unwrap();
    let id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == role)
        .unwrap_or_else(|| panic!("no {role} key in {keys}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    trust.join("private").join(format!("{id}.key"))
}

// ---------------------------------------------------------------------------------------
// 1. A sign that fails keeps nothing

#[test]
fn failed_signs_keep_nothing_and_the_next_sign_publishes_only_its_own_tag() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/failed";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    ok(
        vouch(&trust, srv),
        &["sign", &tag_pair(gun, "v1", "one", 10)],
    );

    // A wrong passphrase (four CI retries): exit 4, nothing staged.
    for _ in 0..4 {
        let mut c = vouch(&trust, srv);
        c.env("VOUCH_TARGETS_PASSPHRASE", "not-the-passphrase");
        let out = fails(c, &["sign", &tag_pair(gun, "2.1", "two-one", 21)], 4);
        assert_contains(&out.stderr, "wrong passphrase");
        assert_contains(&out.stderr, "nothing was published or staged");
    }
    assert!(staged(&trust, gun).is_empty());
    assert_eq!(changelist_files(&trust, gun), Vec::<String>::new());

    // No passphrase at all and no terminal to ask on: exit 4, nothing staged.
    let mut c = vouch(&trust, srv);
    for v in PASSPHRASE_VARS {
        c.env_remove(v);
    }
    c.write_stdin(""); // not a terminal: nobody to ask
    let out = fails(c, &["sign", &tag_pair(gun, "2.1", "two-one", 21)], 4);
    assert_contains(&out.stderr, "no passphrase available");
    assert!(staged(&trust, gun).is_empty());
    assert_eq!(changelist_files(&trust, gun), Vec::<String>::new());

    // A repository nobody initialised: exit 2 (a wrong name or a missing init), naming
    // the command that creates it; nothing staged for it.
    let other = "example.com/staging/never-initialised";
    let out = fails(
        vouch(&trust, srv),
        &["sign", &tag_pair(other, "2.1", "two-one", 21)],
        2,
    );
    assert_contains(&out.stderr, &format!("vouch init {other}"));
    assert!(staged(&trust, other).is_empty());
    assert_eq!(changelist_files(&trust, other), Vec::<String>::new());

    // The next sign publishes its own tag and nothing else.
    let out = ok(
        vouch(&trust, srv),
        &["sign", &tag_pair(gun, "2.2", "two-two", 22)],
    );
    assert!(!out.stderr.contains("also publishing"), "{}", out.stderr);
    let n = Notary::with_server(&tmp.path().join("reader"), &server);
    assert_eq!(
        notary_targets(&n, gun),
        vec![
            ("2.2".to_owned(), digest("two-two")),
            ("v1".to_owned(), digest("one")),
        ]
    );
}

#[test]
fn sign_and_publish_name_the_staged_changes_they_publish_and_status_says_when_each_was_staged() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/announce";
    ok(vouch(&trust, None), &["init", gun]);
    let out = ok(
        vouch(&trust, None),
        &["sign", "--stage", &tag_pair(gun, "a", "a", 1)],
    );
    assert_contains(
        &out.stderr,
        &format!("{gun}: 1 change(s) staged; not published: publish with `vouch publish {gun}`"),
    );
    // A name staged to be signed may be staged for removal too.
    ok(vouch(&trust, None), &["unsign", "--stage", gun, "a"]);

    let out = ok(vouch(&trust, None), &["status", gun]);
    assert_contains(&out.stderr, "#0 staged 0 s ago (");
    assert_contains(&out.stderr, "#1 staged ");
    let json = staged(&trust, gun);
    assert_eq!(json.len(), 2);
    assert!(json[0]["staged_at"].as_str().unwrap().ends_with('Z'));

    // Drop the removal of `a`, keep its creation.
    ok(vouch(&trust, None), &["reset", gun, "-n", "1"]);
    let out = ok(vouch(&trust, None), &["sign", &tag_pair(gun, "b", "b", 2)]);
    assert_contains(&out.stderr, "also publishing 1 staged change(s) of");
    assert_contains(&out.stderr, "  create a (staged ");
    assert!(!out.stderr.contains("create b"), "{}", out.stderr);
    assert!(staged(&trust, gun).is_empty());

    ok(
        vouch(&trust, None),
        &["sign", "--stage", &tag_pair(gun, "c", "c", 3)],
    );
    let out = ok(vouch(&trust, None), &["publish", gun]);
    assert_contains(&out.stderr, "Publishing 1 staged change(s) of");
    assert_contains(&out.stderr, "  create c (staged ");
    let listed = ok(vouch(&trust, None), &["list", gun]).stdout;
    let names: Vec<String> = support::list_rows(&listed)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, vec!["a", "b", "c"]);
}

#[test]
fn only_a_remote_failure_after_the_keys_opened_keeps_the_change_staged() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/offline";
    ok(
        vouch(&trust, Some(&server.url)),
        &["init", gun, "--key-format", "notary"],
    );
    let dead = format!("http://127.0.0.1:{}", support::free_port());

    // The keys are opened first: a wrong passphrase is the error, whatever the network.
    let mut c = vouch(&trust, Some(&dead));
    c.env("VOUCH_TARGETS_PASSPHRASE", "not-the-passphrase");
    fails(c, &["sign", &tag_pair(gun, "v1", "one", 10)], 4);
    assert!(staged(&trust, gun).is_empty());

    // Keys open, server down: exit 3, and the change stays staged, as a change file
    // notary reads too.
    let out = fails(
        vouch(&trust, Some(&dead)),
        &["sign", &tag_pair(gun, "v1", "one", 10)],
        3,
    );
    assert_contains(&out.stderr, "staged; not published");
    assert_contains(&out.stderr, &format!("vouch publish {gun}"));
    let now = staged(&trust, gun);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["path"], "v1");
    let n = Notary::with_server(&trust, &server);
    assert_contains(&n.run(&["status", gun]), "v1");
    let staging = trust.join("tuf").join(gun).join(".vouch-staging");
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);

    // notary publishes it from the shared trust dir.
    n.run(&["publish", gun]);
    let reader = Notary::with_server(&tmp.path().join("reader"), &server);
    assert_eq!(
        notary_targets(&reader, gun),
        vec![("v1".to_owned(), digest("one"))]
    );
}

#[test]
fn the_batch_of_a_sign_killed_mid_publish_is_kept_and_handed_to_notary() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/orphan";
    ok(vouch(&trust, None), &["init", gun]);
    // What a `sign` killed during its upload leaves: its batch file, named with its pid.
    let staging = trust.join("tuf").join(gun).join(".vouch-staging");
    std::fs::create_dir_all(&staging).unwrap();
    let changes: Vec<Value> = ["a", "b"]
        .iter()
        .map(|t| {
            serde_json::json!({
                "action": "create", "role": "targets", "type": "target", "path": t,
                "data": b64(format!(
                    r#"{{"length":3,"hashes":{{"sha256":"{}"}}}}"#,
                    b64(&hex::decode(digest(t)).unwrap())
                ).as_bytes()),
            })
        })
        .collect();
    let batch = staging.join("01796043473550426939-99999999-0123456789abcdef.vouch-batch");
    std::fs::write(&batch, serde_json::to_vec(&changes).unwrap()).unwrap();

    let out = ok(vouch(&trust, None), &["status", gun]);
    assert_contains(&out.stderr, "Finished staging 1 batch(es)");
    assert!(!batch.exists());
    assert_eq!(changelist_files(&trust, gun).len(), 2);
    let n = Notary::new(&trust);
    let notary_status = n.run(&["status", gun]);
    assert_contains(&notary_status, "target    a");
    assert_contains(&notary_status, "target    b");
    ok(vouch(&trust, None), &["publish", gun]);
    let listed = ok(vouch(&trust, None), &["list", gun]).stdout;
    let names: Vec<String> = support::list_rows(&listed)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, vec!["a", "b"]);
}

#[test]
fn ctrl_c_at_the_passphrase_prompt_stages_nothing() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/interrupted";
    ok(vouch(&trust, None), &["init", gun]);

    let pty = Pty::open();
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("vouch"));
    c.arg("--trust-dir")
        .arg(&trust)
        .args(["sign", &tag_pair(gun, "v1", "one", 10)])
        .env_remove("VOUCH_TRUST_DIR")
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env("HOME", &trust)
        .stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap());
    for v in PASSPHRASE_VARS {
        c.env_remove(v);
    }
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c.spawn().expect("start vouch on a pty");
    drop(pty.slave);

    // Wait for the prompt, then press Ctrl-C (the terminal sends SIGINT).
    let (tx, rx) = std::sync::mpsc::channel();
    let mut master = pty.master;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen).contains("Enter passphrase") {
        assert!(
            Instant::now() < deadline,
            "no passphrase prompt; output so far: {}",
            String::from_utf8_lossy(&seen)
        );
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.extend(b);
        }
    }
    // SAFETY: signalling our own child by its pid.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let status = child.wait().unwrap();
    assert!(!status.success(), "vouch went on after Ctrl-C: {status:?}");

    assert!(staged(&trust, gun).is_empty());
    assert_eq!(changelist_files(&trust, gun), Vec::<String>::new());
    let listed = ok(vouch(&trust, None), &["list", gun]).stdout;
    assert_contains(&listed, "No targets present");
}

// ---------------------------------------------------------------------------------------
// 2. A batch is staged all or nothing

#[test]
fn a_batch_killed_at_any_rename_is_staged_all_or_nothing() {
    let strace = support::require_binary("strace");
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/batch";
    ok(vouch(&trust, None), &["init", gun]);
    let list = tmp.path().join("tags.txt");
    let tags: Vec<String> = (0..1000)
        .map(|i| tag_pair(gun, &format!("t{i:04}"), &format!("t{i}"), i + 1))
        .collect();
    std::fs::write(&list, tags.join("\n")).unwrap();
    let vouch_bin = assert_cmd::cargo::cargo_bin("vouch");

    // Rename 1 commits the batch; renames 2..=1001 move its files into changelist/.
    for (n, publish) in [
        (1, false),
        (2, true),
        (3, false),
        (500, false),
        (1001, false),
    ] {
        ok(vouch(&trust, None), &["reset", gun, "--all"]);
        let out = Command::new(&strace)
            .args(["-f", "-o", "/dev/null", "-e"])
            .arg(format!(
                "inject=rename,renameat,renameat2:signal=KILL:when={n}"
            ))
            .arg(&vouch_bin)
            .arg("--trust-dir")
            .arg(&trust)
            .args(["sign", "--stage", "--from-file"])
            .arg(&list)
            .env("VOUCH_SESSION", support::NO_SESSION)
            .env("HOME", &trust)
            .output()
            .expect("run strace");
        assert!(
            !out.status.success(),
            "rename {n}: vouch was not killed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = if n == 1 { 0 } else { 1000 };
        let got = staged(&trust, gun);
        assert_eq!(got.len(), want, "killed at rename {n}");
        if want > 0 {
            assert_eq!(got[0]["path"], "t0000");
            assert_eq!(got[999]["path"], "t0999");
        }
        // The command that looked finished the batch: notary sees what vouch sees.
        assert_eq!(changelist_files(&trust, gun).len(), want, "rename {n}");
        if publish {
            ok(vouch(&trust, None), &["publish", gun]);
            let listed = ok(vouch(&trust, None), &["list", gun, "--output", "json"]).stdout;
            let listed: Value = serde_json::from_str(&listed).unwrap();
            assert_eq!(
                listed["items"].as_array().unwrap().len(),
                1000,
                "rename {n}"
            );
        }
    }
    // Nothing of vouch's own is left behind in its staging area.
    let staging = trust.join("tuf").join(gun).join(".vouch-staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------
// 3. Leftover temp files

#[test]
fn leftover_temp_files_are_removed_and_never_published_by_notary() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/temps";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    ok(
        vouch(&trust, srv),
        &["sign", &tag_pair(gun, "v1", "current", 10)],
    );

    // What an older vouch killed between write and rename left in changelist/: a
    // complete change, under a name notary reads, re-signing v1 with a stale digest.
    let stale_change = format!(
        r#"{{"action":"create","role":"targets","type":"target","path":"v1","data":"{}"}}"#,
        b64(format!(
            r#"{{"length":10,"hashes":{{"sha256":"{}"}}}}"#,
            b64(&hex::decode(digest("stale")).unwrap())
        )
        .as_bytes())
    );
    let cl = changelist_dir(&trust, gun);
    std::fs::create_dir_all(&cl).unwrap();
    let leftover = cl.join(".01796043473550426939_94f6ac6a-0db8-46ba-83c5-84b79cc4ec6c.change.tmp");
    std::fs::write(&leftover, &stale_change).unwrap();
    // A batch a killed `sign --stage` never finished writing.
    let half = trust
        .join("tuf")
        .join(gun)
        .join(".vouch-staging")
        .join("01796043473550426939-99999999-0123456789abcdef.tmp");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(
        half.join("01796043473550426939_94f6ac6a-0db8-46ba-83c5-84b79cc4ec6d.change"),
        &stale_change,
    )
    .unwrap();
    // Complete encrypted key copies left by kills during key writes: one named with its
    // (gone) writer's pid, one of the older naming, an hour old.
    let targets_key = key_file(&trust, "targets");
    let key_name = targets_key
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let key_tmp_pid = trust
        .join("private")
        .join(format!(".{key_name}.tmp-99999999-0123456789abcdef"));
    let key_tmp_old = trust
        .join("private")
        .join(format!(".{key_name}.tmp-fedcba9876543210"));
    std::fs::copy(&targets_key, &key_tmp_pid).unwrap();
    std::fs::copy(&targets_key, &key_tmp_old).unwrap();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&key_tmp_old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    // Someone else's dot-files are not vouch's to remove.
    let foreign = trust.join("private").join(".notes.tmp");
    std::fs::write(&foreign, "mine").unwrap();

    // The next vouch command tidies up.
    let out = ok(vouch(&trust, None), &["status", gun]);
    assert_contains(&out.stderr, "Dropped 1 incomplete batch(es)");
    assert_contains(&out.stdout, "No unpublished changes");
    assert!(!leftover.exists(), "changelist temp file left");
    assert!(!half.exists(), "incomplete batch left");
    // The key store's own leftovers go with the next command that opens it.
    ok(vouch(&trust, None), &["key", "list"]);
    assert!(
        !key_tmp_pid.exists() && !key_tmp_old.exists(),
        "key temp left"
    );
    assert!(foreign.exists());

    // notary, publishing a change staged since in the same trust dir, does not roll v1 back.
    ok(
        vouch(&trust, None),
        &["sign", "--stage", &tag_pair(gun, "v2", "two", 20)],
    );
    let n = Notary::with_server(&trust, &server);
    n.run(&["publish", gun]);
    let reader = Notary::with_server(&tmp.path().join("reader"), &server);
    assert_eq!(
        notary_targets(&reader, gun),
        vec![
            ("v1".to_owned(), digest("current")),
            ("v2".to_owned(), digest("two")),
        ]
    );
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---------------------------------------------------------------------------------------
// 4. An unreadable staged change

#[test]
fn an_unreadable_staged_change_is_named_and_reset_clears_it() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/corrupt";
    ok(vouch(&trust, None), &["init", gun]);
    ok(
        vouch(&trust, None),
        &["sign", "--stage", &tag_pair(gun, "good", "good", 1)],
    );
    let cl = changelist_dir(&trust, gun);
    // Garbage bytes, invalid JSON, a directory with a change file's name.
    let garbage = cl.join("09999999999999999991_00000000-0000-4000-8000-000000000001.change");
    std::fs::write(&garbage, [0xff, 0x00, 0x13, 0x37]).unwrap();
    let invalid = cl.join("09999999999999999992_00000000-0000-4000-8000-000000000002.change");
    std::fs::write(&invalid, br#"{"action":"create","role":"#).unwrap();
    let dir = cl.join("09999999999999999993_00000000-0000-4000-8000-000000000003.change");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("inside"), "x").unwrap();

    let out = fails(vouch(&trust, None), &["status", gun], 4);
    assert_contains(&out.stdout, "good");
    assert_contains(&out.stderr, &garbage.display().to_string());
    assert_contains(&out.stderr, "staged change #1");
    assert_contains(&out.stderr, &format!("vouch reset {gun} -n 1"));
    assert_contains(&out.stderr, &format!("vouch reset {gun} --all"));
    let out = fails(vouch(&trust, None), &["status", gun, "--output", "json"], 4);
    let rows: Value = serde_json::from_str::<Value>(&out.stdout).unwrap()["items"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 4);
    assert!(rows[3]["unreadable"]
        .as_str()
        .unwrap()
        .contains("directory"));

    // publish and sign refuse with the same advice, and change nothing.
    let out = fails(vouch(&trust, None), &["publish", gun], 4);
    assert_contains(&out.stderr, &format!("vouch reset {gun} -n 1"));
    let out = fails(
        vouch(&trust, None),
        &["sign", &tag_pair(gun, "new", "new", 2)],
        4,
    );
    assert_contains(&out.stderr, &format!("vouch reset {gun} -n 1"));
    assert_eq!(changelist_files(&trust, gun).len(), 4);

    // reset by number drops an unreadable one; --all drops everything left.
    ok(vouch(&trust, None), &["reset", gun, "-n", "1"]);
    assert!(!garbage.exists());
    let out = fails(vouch(&trust, None), &["status", gun], 4);
    assert_contains(&out.stderr, &invalid.display().to_string());
    ok(vouch(&trust, None), &["reset", gun, "--all"]);
    assert_eq!(changelist_files(&trust, gun), Vec::<String>::new());
    let out = ok(vouch(&trust, None), &["status", gun]);
    assert_contains(&out.stdout, "No unpublished changes");
    ok(
        vouch(&trust, None),
        &["sign", &tag_pair(gun, "new", "new", 2)],
    );
}

/// A staged change that reads well but names a role the repository does not have (as the
/// real `notary add --roles` stages without checking): the error says what is wrong, the
/// hint names both ways out, and nothing is published or dropped.
#[test]
fn a_staged_change_for_a_missing_role_is_refused_with_both_ways_out() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/norole";
    ok(vouch(&trust, None), &["init", gun]);
    let change = format!(
        r#"{{"action":"create","role":"targets/nope","type":"target","path":"v1","data":"{}"}}"#,
        b64(format!(
            r#"{{"length":10,"hashes":{{"sha256":"{}"}}}}"#,
            b64(&hex::decode(digest("v1")).unwrap())
        )
        .as_bytes())
    );
    let cl = changelist_dir(&trust, gun);
    std::fs::create_dir_all(&cl).unwrap();
    std::fs::write(
        cl.join("01796043473550426939_94f6ac6a-0db8-46ba-83c5-84b79cc4ec6c.change"),
        change,
    )
    .unwrap();
    let before = changelist_files(&trust, gun);

    let out = fails(vouch(&trust, None), &["publish", gun], 2);
    let error: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("vouch: error:"))
        .collect();
    assert_eq!(error.len(), 1, "{}", out.stderr);
    assert_contains(error[0], "staged change #0");
    assert_contains(error[0], "role targets/nope does not exist");
    assert!(
        !error[0].contains("`vouch "),
        "the error says what failed; the command to run is the hint's: {}",
        out.stderr
    );
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("vouch: hint:"))
        .unwrap_or_else(|| panic!("no hint in:\n{}", out.stderr));
    assert_contains(hint, &format!("vouch delegation add {gun} targets/nope"));
    assert_contains(hint, &format!("vouch reset {gun} -n 0"));
    assert_eq!(changelist_files(&trust, gun), before);
    let out = ok(vouch(&trust, None), &["--tofu", "list", gun]);
    assert!(!out.stdout.contains("v1"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------
// 5. Corrupt key files

#[test]
fn a_corrupt_targets_or_snapshot_key_file_is_named_with_exit_4() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/staging/keys";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);

    for role in ["targets", "snapshot"] {
        let file = key_file(&trust, role);
        let original = std::fs::read(&file).unwrap();
        std::fs::write(&file, &original[..original.len() / 3]).unwrap();
        let out = fails(
            vouch(&trust, srv),
            &["sign", &tag_pair(gun, "v1", "one", 10)],
            4,
        );
        assert_contains(&out.stderr, &file.display().to_string());
        assert!(
            !out.stderr.contains("server rejected") && !out.stderr.contains("no signing key"),
            "{role}: {}",
            out.stderr
        );
        assert!(staged(&trust, gun).is_empty(), "{role}");
        std::fs::write(&file, &original).unwrap();
    }
    ok(
        vouch(&trust, srv),
        &["sign", &tag_pair(gun, "v1", "one", 10)],
    );
}
