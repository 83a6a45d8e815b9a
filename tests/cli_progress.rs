//! Progress bars: on a terminal only. Hashing a big file for `sign-file` / `verify-file`
//! shows a bar on stderr when stderr is a terminal (a pseudo-terminal here); with stderr a
//! pipe, or with -q, nothing but the normal output is printed.

mod support;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::pty::Pty;
use support::{ok, vouch};

const GUN: &str = "example.com/team/progress";

/// `vouch` with the test passphrases, as `support::vouch` sets them up.
fn vouch_std(td: &Path) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("vouch"));
    c.arg("--trust-dir")
        .arg(td)
        .env_remove("VOUCH_TRUST_DIR")
        .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
        .env("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env("HOME", td)
        .stdin(Stdio::null());
    c
}

/// Run `c` with stderr on a pseudo-terminal; returns (exit code, stdout, what the
/// terminal received).
fn run_on_pty(mut c: Command) -> (i32, String, String) {
    let pty = Pty::open();
    c.stdout(Stdio::piped())
        .stderr(pty.slave.try_clone().unwrap());
    let mut child = c.spawn().expect("start vouch");
    drop(pty.slave);
    drop(c);
    let mut master = pty.master;
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last holder of the slave side is gone.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "vouch did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    let seen = reader.join().unwrap();
    (
        status.code().unwrap_or(-1),
        stdout,
        String::from_utf8_lossy(&seen).into_owned(),
    )
}

/// A trust dir with GUN initialised and a 64 MiB file.
fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let td = tempfile::tempdir().unwrap();
    ok(vouch(td.path()), &["init", GUN]);
    let big = td.path().join("big.bin");
    let chunk: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let mut data = Vec::with_capacity(64 << 20);
    for _ in 0..64 {
        data.extend_from_slice(&chunk);
    }
    std::fs::write(&big, &data).unwrap();
    (td, big)
}

#[test]
fn hashing_a_big_file_shows_a_bar_on_a_terminal_only() {
    let (td, big) = setup();
    let t = td.path();

    let mut c = vouch_std(t);
    c.args(["sign-file", GUN, "big", big.to_str().unwrap()]);
    let (code, stdout, term) = run_on_pty(c);
    assert_eq!(code, 0, "{stdout}\n{term}");
    assert!(stdout.starts_with("big sha256:"), "{stdout}");
    assert!(
        term.contains("hashing big"),
        "no bar on the terminal:\n{term:?}"
    );
    assert!(term.contains("64.00 MiB"), "no byte count:\n{term:?}");

    let mut c = vouch_std(t);
    c.args(["verify-file", GUN, "big", big.to_str().unwrap()]);
    let (code, stdout, term) = run_on_pty(c);
    assert_eq!(code, 0, "{stdout}\n{term}");
    assert!(stdout.starts_with("big: OK"), "{stdout}");
    assert!(
        term.contains("hashing big"),
        "no bar on the terminal:\n{term:?}"
    );

    // -q: no bar, even on a terminal.
    let mut c = vouch_std(t);
    c.args(["-q", "verify-file", GUN, "big", big.to_str().unwrap()]);
    let (code, stdout, term) = run_on_pty(c);
    assert_eq!(code, 0, "{stdout}\n{term}");
    assert!(!term.contains("hashing"), "a bar despite -q:\n{term:?}");
}

#[test]
fn with_stderr_a_pipe_only_the_normal_output_is_printed() {
    let (td, big) = setup();
    let t = td.path();
    let o = ok(vouch(t), &["sign-file", GUN, "big", big.to_str().unwrap()]);
    assert!(o.stdout.starts_with("big sha256:"), "{}", o.stdout);
    for s in [&o.stdout, &o.stderr] {
        assert!(!s.contains("hashing"), "{s:?}");
        assert!(!s.contains('\r') && !s.contains('\u{1b}'), "{s:?}");
    }
    let o = ok(
        vouch(t),
        &["verify-file", GUN, "big", big.to_str().unwrap()],
    );
    assert_eq!(o.stderr, "", "verify-file printed more than its answer");
    assert!(o.stdout.starts_with("big: OK"), "{}", o.stdout);
}

#[test]
fn signing_a_list_and_restoring_keys_count_on_a_terminal() {
    let td = tempfile::tempdir().unwrap();
    let t = td.path().join("trust");
    ok(vouch(&t), &["init", GUN]);

    // `sign --from-file`: the tags read from the list.
    let list = td.path().join("tags.txt");
    let lines: Vec<String> = (1..=3)
        .map(|i| format!("{GUN}:v{i}=sha256:{}:{i}", format!("{i}").repeat(64)))
        .collect();
    std::fs::write(&list, lines.join("\n") + "\n").unwrap();
    let mut c = vouch_std(&t);
    c.args(["sign", "--from-file", list.to_str().unwrap()]);
    let (code, stdout, term) = run_on_pty(c);
    assert_eq!(code, 0, "{stdout}\n{term}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        term.contains("/3 tags"),
        "no count on the terminal:\n{term:?}"
    );

    // `key restore`: the keys written.
    let backup = td.path().join("keys.backup");
    let mut c = vouch(&t);
    c.env("VOUCH_BACKUP_PASSPHRASE", "backup-pass-123");
    ok(c, &["key", "backup", "-o", backup.to_str().unwrap()]);
    let fresh = td.path().join("fresh");
    let mut c = vouch_std(&fresh);
    c.env("VOUCH_BACKUP_PASSPHRASE", "backup-pass-123").args([
        "key",
        "restore",
        backup.to_str().unwrap(),
    ]);
    let (code, stdout, term) = run_on_pty(c);
    assert_eq!(code, 0, "{stdout}\n{term}");
    assert!(
        term.contains("/4 keys"),
        "no count on the terminal:\n{term:?}"
    );
    assert!(term.contains("decrypting"), "no spinner:\n{term:?}");
}
