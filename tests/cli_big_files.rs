//! Large files: `sign-file` and `verify-file` stream the file (sha256 and sha512 in one
//! pass) with memory that does not grow with its size.

mod support;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use support::{ok, vouch};

const GUN: &str = "example.com/team/files";
const SIZE: u64 = 256 << 20;
/// Far below the file's size: a command that reads the whole file into memory exceeds it.
const MAX_RSS_KIB: i64 = 64 << 10;

/// A sparse file of `SIZE` bytes with a few non-zero bytes spread through it.
fn big_file(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    f.set_len(SIZE).unwrap();
    for (i, off) in [0, 1 << 20, SIZE / 2 + 3, SIZE - 1].into_iter().enumerate() {
        f.seek(SeekFrom::Start(off)).unwrap();
        f.write_all(&[0x41 + i as u8]).unwrap();
    }
}

/// Run vouch with `args` on `td`; returns (exit code, stdout, stderr, peak RSS in KiB) of
/// that child alone (wait4 reports its own rusage, not that of other tests' children).
fn run_measured(td: &Path, args: &[&str]) -> (i32, String, String, i64) {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let child = Command::new(assert_cmd::cargo::cargo_bin("vouch"))
        .arg("--trust-dir")
        .arg(td)
        .args(args)
        .env_remove("VOUCH_TRUST_DIR")
        .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
        .env("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env("HOME", td)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child `pid`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child); // reaped above
    assert!(
        libc::WIFEXITED(status),
        "vouch {args:?} did not exit: {status}"
    );
    (
        libc::WEXITSTATUS(status),
        std::fs::read_to_string(out_path).unwrap(),
        std::fs::read_to_string(err_path).unwrap(),
        usage.ru_maxrss,
    )
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn sign_file_and_verify_file_of_256_mib_stay_under_64_mb() {
    let tmp = tempfile::tempdir().unwrap();
    let td = tmp.path().join("trust");
    let file = tmp.path().join("big.bin");
    big_file(&file);
    let want = sha256sum(&file);
    ok(vouch(&td), &["init", GUN]);

    let f = file.to_str().unwrap();
    let (code, stdout, stderr, rss) = run_measured(&td, &["sign-file", GUN, "big", f]);
    assert_eq!(code, 0, "sign-file: {stderr}");
    assert!(
        stdout.contains(&format!("big sha256:{want} {SIZE}")),
        "{stdout}"
    );
    assert!(
        rss < MAX_RSS_KIB,
        "sign-file peaked at {rss} KiB for a {SIZE}-byte file"
    );

    let (code, stdout, stderr, rss) = run_measured(&td, &["verify-file", GUN, "big", f]);
    assert_eq!(code, 0, "verify-file: {stderr}");
    assert!(
        stdout.contains(&format!("big: OK ({SIZE} bytes, sha256:{want}")),
        "{stdout}"
    );
    assert!(
        rss < MAX_RSS_KIB,
        "verify-file peaked at {rss} KiB for a {SIZE}-byte file"
    );

    // One byte changed in the middle: not trusted, the file named.
    {
        let mut h = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        h.seek(SeekFrom::Start(SIZE / 2 + 3)).unwrap();
        h.write_all(b"Z").unwrap();
    }
    let (code, _, stderr, rss) = run_measured(&td, &["verify-file", GUN, "big", f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(f) && stderr.contains("sha256"), "{stderr}");
    assert!(rss < MAX_RSS_KIB, "verify-file peaked at {rss} KiB");
}

#[test]
fn a_truncated_file_fails_verify_file_on_its_length() {
    let tmp = tempfile::tempdir().unwrap();
    let td = tmp.path().join("trust");
    let file = tmp.path().join("f.bin");
    std::fs::write(&file, vec![7u8; (3 << 20) + 5]).unwrap();
    ok(vouch(&td), &["init", GUN]);
    let f = file.to_str().unwrap();
    ok(vouch(&td), &["sign-file", GUN, "f", f]);
    std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
    let (code, _, stderr, _) = run_measured(&td, &["verify-file", GUN, "f", f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("signed as 3145733 bytes"), "{stderr}");
}
