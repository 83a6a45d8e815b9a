//! Faults against the real notary-server, each followed by the next command, with the
//! real `notary` CLI as the judge of what is published: a full disk at every point of
//! `init` and `sign` (a small tmpfs, filled to leave 0, 1, 2, … pages), and `sign` killed
//! at every rename and at every fsync. Whatever happened, the command said the truth (published → exit 0),
//! nothing is half done, and the next command finishes the job.

mod support;

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::smallfs::SmallFs;
use support::{list_rows, ok, run, Notary, NotaryServer};

/// Far more steps than any of these commands needs: the loops stop at the first run the
/// fault did not reach.
const MAX_STEPS: u64 = 80;

fn digest(seed: &str) -> String {
    support::registry::sha256_hex(seed.as_bytes())
}

fn pair(gun: &str, tag: &str) -> String {
    format!("{gun}:{tag}=sha256:{}:10", digest(tag))
}

fn vouch(trust: &Path, server: &NotaryServer) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.arg("-s").arg(&server.url);
    c
}

/// (tag, digest) as the real `notary list` shows them from a fresh trust dir, or
/// `None` when notary finds no trust data.
fn notary_sees(dir: &Path, server: &NotaryServer, gun: &str) -> Option<Vec<(String, String)>> {
    let _ = std::fs::remove_dir_all(dir);
    let n = Notary::with_server(dir, server);
    let out = n.cmd().args(["list", gun]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        assert!(
            stdout.contains("does not have trust data") || stdout.contains("No valid trust data"),
            "notary list failed otherwise: {stdout}"
        );
        return None;
    }
    if stdout.contains("No targets present") {
        return Some(Vec::new());
    }
    Some(list_rows(&stdout).into_iter().map(|r| (r.0, r.1)).collect())
}

/// The tags vouch lists from `trust` (its own cache and the server).
fn vouch_sees(trust: &Path, server: &NotaryServer, gun: &str) -> Vec<(String, String)> {
    list_rows(&ok(vouch(trust, server), &["list", gun]).stdout)
        .into_iter()
        .map(|r| (r.0, r.1))
        .collect()
}

/// Every file under `dir` whose name marks it as a temp file of vouch's.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(temp_files(&p));
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(".tmp") || n.contains(".set-"))
        {
            out.push(p);
        }
    }
    out
}

fn assert_no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_full_disk_at_any_point_of_sign_keeps_nothing_half_done_and_notary_agrees() {
    let Some(fs) = SmallFs::mount(2048) else {
        return;
    };
    let server = NotaryServer::start();
    let trust = fs.path("trust");
    let judge = tempfile::tempdir().unwrap();
    let gun = "example.com/faults/sign-enospc";
    ok(vouch(&trust, &server), &["init", gun]);
    ok(vouch(&trust, &server), &["sign", &pair(gun, "v0")]);
    let mut want = vec![("v0".to_owned(), digest("v0"))];

    for pages in 0..MAX_STEPS {
        let tag = format!("p{pages}");
        fs.leave_free(pages);
        let out = run(vouch(&trust, &server), &["sign", &pair(gun, &tag)]);
        fs.free();
        assert_no_panic(&out.stderr);
        let published = notary_sees(judge.path(), &server, gun).unwrap();
        match out.code {
            0 => {
                // Published, even if the cache could not take it (said as a warning).
                want.push((tag.clone(), digest(&tag)));
                want.sort();
                assert_eq!(published, want, "exit 0 with {pages} page(s) free");
                if !out.stderr.contains("warning") {
                    break;
                }
            }
            4 => {
                assert!(
                    out.stderr.contains("No space left on device"),
                    "{pages} page(s): {}",
                    out.stderr
                );
                assert_eq!(published, want, "exit 4 yet published ({pages} page(s))");
                let status = ok(vouch(&trust, &server), &["status", gun]);
                assert!(
                    status.stdout.contains("No unpublished changes"),
                    "a failed sign kept its change ({pages} page(s)): {}",
                    status.stdout
                );
                // The next command, with room, finishes the job.
                ok(vouch(&trust, &server), &["sign", &pair(gun, &tag)]);
                want.push((tag.clone(), digest(&tag)));
                want.sort();
            }
            code => panic!("exit {code} with {pages} page(s) free: {}", out.stderr),
        }
        assert_eq!(vouch_sees(&trust, &server, gun), want, "{pages} page(s)");
        assert_eq!(temp_files(&trust), Vec::<PathBuf>::new(), "{pages} page(s)");
        assert!(pages + 1 < MAX_STEPS, "sign never had room enough");
    }
}

#[test]
fn a_full_disk_at_any_point_of_init_leaves_a_repository_the_next_init_finishes() {
    let Some(fs) = SmallFs::mount(2048) else {
        return;
    };
    let server = NotaryServer::start();
    let judge = tempfile::tempdir().unwrap();
    for pages in 0..MAX_STEPS {
        // A trust dir of its own for each step (keys and all), on the small disk.
        let trust = fs.path(&format!("trust{pages}"));
        let gun = format!("example.com/faults/init-enospc-{pages}");
        fs.leave_free(pages);
        let out = run(vouch(&trust, &server), &["init", &gun]);
        fs.free();
        assert_no_panic(&out.stderr);
        let clean = out.code == 0 && !out.stderr.contains("warning");
        match out.code {
            0 => assert_eq!(notary_sees(judge.path(), &server, &gun), Some(Vec::new())),
            4 => assert!(
                out.stderr.contains("No space left on device"),
                "{pages} page(s): {}",
                out.stderr
            ),
            code => panic!(
                "init: exit {code} with {pages} page(s) free: {}",
                out.stderr
            ),
        }
        // With room, the same init completes (or says it is done), and the repository
        // signs: notary and vouch agree on it.
        ok(vouch(&trust, &server), &["init", &gun]);
        ok(vouch(&trust, &server), &["sign", &pair(&gun, "v1")]);
        let want = vec![("v1".to_owned(), digest("v1"))];
        assert_eq!(notary_sees(judge.path(), &server, &gun), Some(want.clone()));
        assert_eq!(vouch_sees(&trust, &server, &gun), want);
        assert_eq!(temp_files(&trust), Vec::<PathBuf>::new(), "{pages} page(s)");
        let keys = ok(vouch(&trust, &server), &["key", "list"]).stdout;
        assert_eq!(
            keys.lines().filter(|l| l.starts_with("root ")).count(),
            1,
            "one root key, no orphan from the stopped init ({pages} page(s)):\n{keys}"
        );
        std::fs::remove_dir_all(&trust).unwrap();
        if clean {
            break;
        }
        assert!(pages + 1 < MAX_STEPS, "init never had room enough");
    }
}

/// `sign` SIGKILLed at its n-th rename (strace fault injection), on the real
/// notary-server: the next sign succeeds, and what the real notary CLI lists is what vouch
/// lists — each killed tag either published whole or not at all, never twice.
#[test]
fn sign_killed_at_any_rename_on_notary_server_then_notary_and_vouch_agree() {
    sign_killed_at_any(
        "rename,renameat,renameat2",
        "example.com/faults/sign-kill-rename",
    );
}

/// The same at every fsync: a kill between a write and its rename.
#[test]
fn sign_killed_at_any_fsync_on_notary_server_then_notary_and_vouch_agree() {
    sign_killed_at_any("fsync,fdatasync", "example.com/faults/sign-kill-fsync");
}

fn sign_killed_at_any(syscalls: &str, gun: &str) {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let judge = tmp.path().join("judge");
    ok(vouch(&trust, &server), &["init", gun]);
    ok(vouch(&trust, &server), &["sign", &pair(gun, "v0")]);
    for n in 1..MAX_STEPS {
        let tag = format!("k{n}");
        let out = Command::new(support::require_binary("strace"))
            .args(["-f", "-o", "/dev/null", "-e"])
            .arg(format!(
                "inject=rename,renameat,renameat2:signal=KILL:when={n}"
            ))
            .arg(assert_cmd::cargo::cargo_bin("vouch"))
            .arg("--trust-dir")
            .arg(&trust)
            .args(["-s", &server.url, "sign", &pair(gun, &tag)])
            .env_remove("VOUCH_TRUST_DIR")
            .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
            .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
            .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
            .env("VOUCH_SESSION", support::NO_SESSION)
            .env("HOME", &trust)
            .output()
            .expect("run strace");
        let killed =
            out.status.signal() == Some(libc::SIGKILL) || out.status.code() == Some(128 + 9);
        if !killed {
            assert!(
                out.status.success(),
                "sign under strace ({syscalls} {n}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The next command: publish whatever the killed one left staged, then sign
        // the tag again (a no-op when it was published).
        ok(vouch(&trust, &server), &["publish", gun]);
        ok(vouch(&trust, &server), &["sign", &pair(gun, &tag)]);
        let seen = notary_sees(&judge, &server, gun).unwrap();
        assert_eq!(seen, vouch_sees(&trust, &server, gun), "{syscalls} {n}");
        let mut want: Vec<(String, String)> = (1..=n)
            .map(|i| format!("k{i}"))
            .chain(["v0".to_owned()])
            .map(|t| (t.clone(), digest(&t)))
            .collect();
        want.sort();
        assert_eq!(seen, want, "{syscalls} {n}");
        assert_eq!(temp_files(&trust), Vec::<PathBuf>::new(), "{syscalls} {n}");
        if !killed {
            return;
        }
    }
    panic!("sign was still killed at {syscalls} {MAX_STEPS}");
}
