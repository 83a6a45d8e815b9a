//! kill -9 at every rename of the commands that write: `sign`, `publish`, `key generate`
//! and `key rotate` (strace fault injection, on a static repository), each followed by the
//! next command. Whatever the kill interrupted, the next command succeeds, what is
//! published is either all of a change or none of it, nothing is published twice, and no
//! temp file of vouch's is left once the next command ran.

mod support;

use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Command;

use support::{list_rows, ok, vouch};

const GUN: &str = "example.com/team/crash";
/// Far more renames than any of these commands does: the loops stop at the first run
/// that was not killed.
const MAX_RENAMES: usize = 60;

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn pair(tag: &str, c: char) -> String {
    format!("{GUN}:{tag}={}:10", digest(c))
}

struct Repo {
    _tmp: tempfile::TempDir,
    trust: PathBuf,
    url: String,
}

impl Repo {
    /// A repository made by `init` on a static repository, with `v1` signed.
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let trust = tmp.path().join("trust");
        let url = format!("file://{}", tmp.path().join("repository").display());
        let r = Repo {
            trust,
            url,
            _tmp: tmp,
        };
        ok(r.vouch(), &["init", GUN]);
        ok(r.vouch(), &["sign", &pair("v1", '1')]);
        r
    }

    fn vouch(&self) -> assert_cmd::Command {
        let mut c = vouch(&self.trust);
        c.args(["--server", &self.url]);
        c
    }

    /// `args` under strace, SIGKILLed at its `n`th rename. `true` when it was killed,
    /// `false` when it ran to its end (fewer renames than `n`): then it must succeed.
    fn killed_at(&self, n: usize, args: &[&str]) -> bool {
        self.killed_at_call(n, "rename,renameat,renameat2", args)
    }

    /// As [`Repo::killed_at`], at the `n`th call of one of `syscalls`.
    fn killed_at_call(&self, n: usize, syscalls: &str, args: &[&str]) -> bool {
        let out = Command::new(support::require_binary("strace"))
            .args(["-f", "-o", "/dev/null", "-e"])
            .arg(format!("inject={syscalls}:signal=KILL:when={n}"))
            .arg(assert_cmd::cargo::cargo_bin("vouch"))
            .arg("--trust-dir")
            .arg(&self.trust)
            .args(["--server", &self.url])
            .args(args)
            .env_remove("VOUCH_TRUST_DIR")
            .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
            .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
            .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
            .env("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS)
            .env("VOUCH_DELEGATION_PASSPHRASE", support::DELEGATION_PASS)
            .env("VOUCH_SESSION", support::NO_SESSION)
            .env("HOME", &self.trust)
            .output()
            .expect("run strace");
        if out.status.signal() == Some(libc::SIGKILL) || out.status.code() == Some(128 + 9) {
            return true;
        }
        assert!(
            out.status.success(),
            "{args:?} under strace (rename {n}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        false
    }

    /// Signed tags and their digests, as a reader with a trust dir of its own sees them.
    fn published(&self) -> Vec<(String, String)> {
        let reader = self.trust.with_file_name("reader");
        let _ = std::fs::remove_dir_all(&reader);
        let mut c = vouch(&reader);
        c.args(["--server", &self.url]);
        list_rows(&ok(c, &["list", GUN, "--tofu"]).stdout)
            .into_iter()
            .map(|r| (r.0, r.1))
            .collect()
    }

    fn staged(&self) -> String {
        ok(self.vouch(), &["status", GUN]).stdout
    }
}

fn hex(c: char) -> String {
    c.to_string().repeat(64)
}

#[test]
fn sign_killed_at_any_rename_is_all_or_nothing_and_signs_again() {
    for n in 1..MAX_RENAMES {
        let repo = Repo::new();
        let killed = repo.killed_at(n, &["sign", &pair("v2", '2')]);
        let seen = repo.published();
        // Either the new version went out whole, or not at all.
        let v2: Vec<_> = seen.iter().filter(|(t, _)| t == "v2").collect();
        assert!(
            v2.is_empty() || v2 == [&("v2".to_owned(), hex('2'))],
            "rename {n}: {seen:?}"
        );
        assert!(
            seen.contains(&("v1".to_owned(), hex('1'))),
            "rename {n}: {seen:?}"
        );
        // The next command: signing again publishes v2 once, and nothing is left staged.
        ok(repo.vouch(), &["sign", &pair("v2", '2')]);
        assert_eq!(
            repo.published(),
            vec![("v1".to_owned(), hex('1')), ("v2".to_owned(), hex('2'))],
            "rename {n}"
        );
        assert!(
            repo.staged().contains("No unpublished changes"),
            "rename {n}"
        );
        assert_eq!(
            support::temp_files(&repo.trust),
            Vec::<PathBuf>::new(),
            "rename {n}"
        );
        if !killed {
            return;
        }
    }
    panic!("sign was still killed at rename {MAX_RENAMES}");
}

#[test]
fn publish_killed_at_any_rename_publishes_the_staged_change_once() {
    for n in 1..MAX_RENAMES {
        let repo = Repo::new();
        ok(repo.vouch(), &["sign", &pair("v2", '2'), "--stage"]);
        let killed = repo.killed_at(n, &["publish", GUN]);
        let seen = repo.published();
        assert!(
            seen.contains(&("v1".to_owned(), hex('1'))),
            "rename {n}: {seen:?}"
        );
        // The next command: publish again (or nothing left to do); v2 is out exactly once
        // and nothing stays staged.
        ok(repo.vouch(), &["publish", GUN]);
        assert_eq!(
            repo.published(),
            vec![("v1".to_owned(), hex('1')), ("v2".to_owned(), hex('2'))],
            "rename {n}"
        );
        assert!(
            repo.staged().contains("No unpublished changes"),
            "rename {n}"
        );
        assert_eq!(
            support::temp_files(&repo.trust),
            Vec::<PathBuf>::new(),
            "rename {n}"
        );
        if !killed {
            return;
        }
    }
    panic!("publish was still killed at rename {MAX_RENAMES}");
}

#[test]
fn key_generate_killed_at_any_rename_leaves_a_whole_key_or_none() {
    key_generate_killed_at_any("rename,renameat,renameat2");
}

#[test]
fn key_generate_killed_at_any_fsync_leaves_a_whole_key_or_none() {
    key_generate_killed_at_any("fsync,fdatasync");
}

fn key_generate_killed_at_any(syscalls: &str) {
    for n in 1..MAX_RENAMES {
        let tmp = tempfile::tempdir().unwrap();
        let trust = tmp.path().join("trust");
        let repo = Repo {
            trust: trust.clone(),
            url: format!("file://{}", tmp.path().join("repository").display()),
            _tmp: tmp,
        };
        let killed = repo.killed_at_call(n, syscalls, &["key", "generate", "--role", "targets/ci"]);
        // The next command lists zero or one key, every one of which opens.
        let listed = ok(vouch(&trust), &["key", "list"]).stdout;
        let ids: Vec<&str> = listed
            .lines()
            .filter(|l| l.starts_with("targets/ci"))
            .filter_map(|l| {
                l.split_whitespace()
                    .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
            })
            .collect();
        assert!(ids.len() <= 1, "{syscalls} {n}: {listed}");
        for id in ids {
            ok(
                vouch(&trust),
                &[
                    "key",
                    "export",
                    id,
                    "-o",
                    trust.join("exported.pem").to_str().unwrap(),
                ],
            );
        }
        assert_eq!(
            support::temp_files(&trust),
            Vec::<PathBuf>::new(),
            "{syscalls} {n}"
        );
        if !killed {
            return;
        }
    }
    panic!("key generate was still killed at {syscalls} {MAX_RENAMES}");
}

#[test]
fn key_rotate_killed_at_any_rename_leaves_a_repository_that_signs() {
    for n in 1..MAX_RENAMES {
        let repo = Repo::new();
        let killed = repo.killed_at(n, &["key", "rotate", GUN, "snapshot"]);
        // The next command signs and publishes, whichever snapshot key is in force.
        ok(repo.vouch(), &["sign", &pair("v2", '2')]);
        assert_eq!(
            repo.published(),
            vec![("v1".to_owned(), hex('1')), ("v2".to_owned(), hex('2'))],
            "rename {n}"
        );
        // And the rotation can be done (again) afterwards.
        ok(repo.vouch(), &["key", "rotate", GUN, "snapshot"]);
        ok(repo.vouch(), &["sign", &pair("v3", '3')]);
        assert_eq!(repo.published().len(), 3, "rename {n}");
        if !killed {
            return;
        }
    }
    panic!("key rotate was still killed at rename {MAX_RENAMES}");
}
