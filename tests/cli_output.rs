//! Where vouch's output goes: a reader that stops early (`vouch list | head`) ends vouch
//! quietly, as it ends any Unix tool; a full output device is an error (exit 4), not a
//! panic.

mod support;

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use support::ok;

const GUN: &str = "example.com/output/many";

/// A static repository with `n` signed tags, and the trust dir that made it.
fn many_tags(dir: &Path, n: usize) -> std::path::PathBuf {
    let trust = dir.join("trust");
    ok(support::vouch(&trust), &["init", GUN]);
    let pairs: String = (0..n)
        .map(|i| format!("{GUN}:t{i}=sha256:{:064x}:1\n", i))
        .collect();
    let file = dir.join("pairs.txt");
    std::fs::write(&file, pairs).unwrap();
    ok(
        support::vouch(&trust),
        &["sign", "--from-file", file.to_str().unwrap()],
    );
    trust
}

fn list(trust: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    c.arg("--trust-dir").arg(trust).args(["list", GUN]);
    c.env_remove("VOUCH_TRUST_DIR").env("HOME", trust);
    c
}

#[test]
fn a_reader_that_stops_early_ends_vouch_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    // Far more than a pipe buffer holds (64 KiB), so vouch is still writing when the
    // reader goes away.
    let trust = many_tags(tmp.path(), 2000);
    let mut child = list(&trust)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 200];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout dropped: the pipe has no reader any more.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(String::from_utf8_lossy(&first).starts_with("NAME"));
}
#[test]
fn a_full_output_device_is_an_error_that_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = many_tags(tmp.path(), 3);
    let out = list(&trust)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("vouch: error: cannot write the output")
            && stderr.contains("No space left on device"),
        "{stderr}"
    );
}
