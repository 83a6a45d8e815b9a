//! Local storage: a full disk and a read-only file system (on a small tmpfs), a trust dir
//! this user may not write, and locks held by another process. vouch names the file it
//! could not write, says how to fix it, exits 4 (trust dir) or 3 (static repository), and
//! loses nothing: once there is room again the same command works. A held lock is waited
//! for, and the wait is announced.

mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::smallfs::SmallFs;
use support::{fails, list_rows, ok, snapshot_tree, vouch};

const GUN: &str = "example.com/team/app";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn sign_args<'a>(tag: &'a str, digest: &'a str) -> Vec<&'a str> {
    vec![
        "sign",
        tag,
        "--digest",
        digest,
        "--size",
        "10",
        "--no-registry-check",
    ]
}

/// The current (not checksum- or version-named) metadata of a static repository.
fn current_metadata(repo: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot_tree(repo)
        .into_iter()
        .filter(|(p, _)| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.split('.').count() == 2 && name.ends_with(".json")
        })
        .collect()
}

#[test]
fn full_trust_dir_exits_4_names_the_file_and_changes_nothing_until_there_is_room() {
    let Some(fs) = SmallFs::mount(1024) else {
        return;
    };
    let td = fs.path("trust");
    ok(vouch(&td), &["init", GUN]);
    let (d1, d2) = (digest('a'), digest('b'));
    let (t1, t2) = (format!("{GUN}:1"), format!("{GUN}:2"));
    ok(vouch(&td), &sign_args(&t1, &d1));

    fs.fill();
    let before = snapshot_tree(&td);
    for args in [
        sign_args(&t2, &d2),
        [sign_args(&t2, &d2), vec!["--stage"]].concat(),
        vec!["key", "generate", "--role", "root"],
    ] {
        let out = fails(vouch(&td), &args, 4);
        assert!(
            out.stderr.contains("No space left on device"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("is full") && out.stderr.contains("df -h"),
            "{args:?}: no hint to free space: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains(".tmp-"),
            "{args:?}: names a temp file: {}",
            out.stderr
        );
        assert_eq!(snapshot_tree(&td), before, "{args:?} changed the trust dir");
    }
    let status = ok(vouch(&td), &["status", GUN]);
    assert!(
        status.stdout.contains("No unpublished changes"),
        "{}",
        status.stdout
    );

    fs.free();
    ok(vouch(&td), &sign_args(&t2, &d2));
    let rows = list_rows(&ok(vouch(&td), &["list", GUN]).stdout);
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["1", "2"]);
}

#[test]
fn full_static_repository_exits_3_keeps_the_change_staged_and_publish_retries_it() {
    let Some(fs) = SmallFs::mount(1024) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let td = tmp.path().join("trust");
    let repo = fs.path("repo");
    let url = format!("file://{}", repo.display());
    let vouch_at = || {
        let mut c = vouch(&td);
        c.args(["--server", &url]);
        c
    };
    ok(vouch_at(), &["init", GUN]);
    let published = current_metadata(&repo);
    assert_eq!(published.len(), 4, "root, targets, snapshot, timestamp");

    fs.fill();
    let (d1, t1) = (digest('c'), format!("{GUN}:1"));
    let out = fails(vouch_at(), &sign_args(&t1, &d1), 3);
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("df -h {}", repo.display())),
        "{}",
        out.stderr
    );
    assert_eq!(
        current_metadata(&repo),
        published,
        "a failed publish switched some current names"
    );
    let status = ok(vouch_at(), &["status", GUN]);
    let staged: Vec<Vec<&str>> = status
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("#"))
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        staged,
        [["0", "create", "targets", "target", "1"]],
        "{}",
        status.stdout
    );

    fs.free();
    ok(vouch_at(), &["publish", GUN]);
    let rows = list_rows(&ok(vouch_at(), &["list", GUN]).stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("1", &d1[7..]));
    // Exactly one new version: targets 2 (init) → 3.
    assert!(repo.join(GUN).join("_trust/tuf/3.targets.json").exists());
    assert!(!repo.join(GUN).join("_trust/tuf/4.targets.json").exists());
}

#[test]
fn read_only_trust_dir_exits_4_and_says_so() {
    let Some(fs) = SmallFs::mount(1024) else {
        return;
    };
    let td = fs.path("trust");
    ok(vouch(&td), &["init", GUN]);
    let (d1, t1) = (digest('d'), format!("{GUN}:1"));

    fs.remount("ro");
    let out = fails(vouch(&td), &sign_args(&t1, &d1), 4);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("read-only file system: remount"),
        "{}",
        out.stderr
    );
    // Reading needs no writes.
    ok(vouch(&td), &["key", "list"]);

    fs.remount("rw");
    ok(vouch(&td), &sign_args(&t1, &d1));
}

/// Hold `path`'s lock as another vouch would: locked, with the holder's pid inside.
fn hold_lock(path: &Path) -> std::fs::File {
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    held.lock().unwrap();
    std::fs::write(path, format!("{}\n", std::process::id())).unwrap();
    held
}

/// Start vouch with `args` while this process holds `lock_path`: it must say that it waits
/// for that lock, naming this process, and go on waiting.
fn start_waiting(td: &Path, args: &[&str], lock_path: &Path) -> std::process::Child {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("vouch"))
        .arg("--trust-dir")
        .arg(td)
        .args(args)
        .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
        .env("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env_remove("VOUCH_TRUST_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Whatever else it says first, within a minute it must say that it waits.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let waiting = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("no word from a vouch waiting for the lock");
        if line.contains("waiting for") {
            break line;
        }
    };
    assert!(waiting.contains("waiting for"), "{waiting}");
    assert!(
        waiting.contains(&lock_path.display().to_string()),
        "{waiting}"
    );
    let me = format!("pid {} (", std::process::id());
    assert!(waiting.contains(&me), "holder not named: {waiting}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "vouch did not wait for the lock"
    );
    child
}

#[test]
fn a_held_trust_dir_lock_is_announced_with_its_holder_and_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let td = tmp.path().join("trust");
    ok(vouch(&td), &["key", "list"]);
    let lock_path = td.join(vouch::keystore::LOCK_FILE);
    let held = hold_lock(&lock_path);

    let mut child = start_waiting(&td, &["key", "generate", "--role", "root"], &lock_path);
    let keys = vouch::keystore::KeyStore::open(&td)
        .unwrap()
        .list()
        .unwrap();
    assert!(keys.is_empty(), "a key was written while the lock was held");

    drop(held);
    let status = child.wait().unwrap();
    assert!(status.success(), "vouch failed after the lock was released");
    let keys = ok(vouch(&td), &["key", "list"]);
    assert!(keys.stdout.contains("root"), "{}", keys.stdout);
}

#[test]
fn a_held_static_repository_lock_is_announced_and_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let td = tmp.path().join("trust");
    let repo = tmp.path().join("static");
    let url = format!("file://{}", repo.display());
    let mut c = vouch(&td);
    c.args(["--server", &url]);
    ok(c, &["init", GUN]);
    let tuf = repo.join(GUN).join("_trust");
    let lock_path = tuf.join(".lock");
    let held = hold_lock(&lock_path);

    let (d1, t1) = (digest('e'), format!("{GUN}:1"));
    let args = [vec!["--server", &url], sign_args(&t1, &d1)].concat();
    let mut child = start_waiting(&td, &args, &lock_path);
    assert!(
        !tuf.join("tuf/3.targets.json").exists(),
        "published while the lock was held"
    );

    drop(held);
    let status = child.wait().unwrap();
    assert!(status.success(), "vouch failed after the lock was released");
    assert!(tuf.join("tuf/3.targets.json").exists());
}

#[test]
fn a_trust_dir_this_user_may_not_write_exits_4_and_names_the_directory_to_check() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: running vouch as another user needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let td = tmp.path().join("trust");
    ok(vouch(&td), &["init", GUN]);
    let before = snapshot_tree(&td);
    let (d1, t1) = (digest('f'), format!("{GUN}:1"));
    for args in [
        sign_args(&t1, &d1),
        vec!["key", "generate", "--role", "root"],
    ] {
        // The trust dir is root's (0700); vouch runs as nobody.
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("vouch"))
            .arg("--trust-dir")
            .arg(&td)
            .args(&args)
            .env("HOME", tmp.path())
            .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
            .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
            .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
            .env("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS)
            .env("VOUCH_SESSION", support::NO_SESSION)
            .env_remove("VOUCH_TRUST_DIR")
            .output()
            .expect("run setpriv");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {stderr}");
        assert!(stderr.contains("Permission denied"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("ls -ld {}", td.display())),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(snapshot_tree(&td), before, "the trust dir changed");
}
