//! A command that talks to a server runs on one thread: its requests are sent and read
//! by the thread that runs the command (no HTTP thread per command, to start, hand work
//! to and join). Counted with strace against the real notary-server.

mod support;

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};
use support::{ok, NotaryServer};

/// The threads and processes `vouch ARGS` starts (strace's clone/clone3/fork/vfork
/// lines), and its stdout.
fn started_by(trust: &Path, server: &str, args: &[&str]) -> (Vec<String>, String) {
    let strace = support::require_binary("strace");
    let log = trust.with_extension("strace");
    let vouch = assert_cmd::cargo::cargo_bin("vouch");
    let cmd = support::vouch(trust);
    let mut c = Command::new(strace);
    c.args(["-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o"])
        .arg(&log)
        .arg(vouch)
        .args(["--trust-dir", trust.to_str().unwrap(), "--server", server])
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("clone") || l.contains("fork"))
        .map(str::to_owned)
        .collect();
    (lines, String::from_utf8(out.stdout).unwrap())
}

#[test]
fn reading_commands_against_a_notary_server_start_no_thread() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let publisher = tmp.path().join("publisher");
    let gun = "example.com/threads/app";
    let d = hex::encode(Sha256::digest(b"manifest v1"));
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let mut c = support::vouch(&publisher);
    c.args(["--server", &server.url]);
    ok(c, &["init", gun]);
    let mut c = support::vouch(&publisher);
    c.args(["--server", &server.url]);
    ok(c, &["sign", &format!("{gun}:v1=sha256:{d}:10")]);

    let reader = tmp.path().join("reader");
    let lock = tmp.path().join("trust.lock");
    let mut c = support::vouch(&reader);
    c.args(["--server", &server.url]);
    ok(c, &["--tofu", "list", gun]);
    let mut c = support::vouch(&reader);
    c.args(["--server", &server.url]);
    ok(
        c,
        &[
            "trust",
            "pin",
            gun,
            "--from-cache",
            "--trust-lock",
            &s(&lock),
        ],
    );

    for args in [
        vec![
            "verify",
            "example.com/threads/app:v1",
            "--trust-lock",
            &s(&lock),
        ],
        vec!["list", gun, "--trust-lock", &s(&lock)],
        vec!["inspect", gun, "--trust-lock", &s(&lock)],
    ] {
        let (started, stdout) = started_by(&reader, &server.url, &args);
        assert!(
            started.is_empty(),
            "`vouch {}` started: {started:#?}",
            args.join(" ")
        );
        if args[0] == "verify" {
            assert_eq!(stdout.trim(), format!("{gun}@sha256:{d}"));
        }
    }
}
