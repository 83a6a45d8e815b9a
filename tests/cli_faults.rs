//! Faults against the real notary-server, each followed by the next command, with the
//! real `notary` CLI as the judge of what is published: a full disk at every point of
//! `init` and `sign` (a small tmpfs, filled to leave 0, 1, 2, … pages), and `init`, `sign`,
//! `publish`, `sign --stage --from-file` and `key rotate` killed at every rename and at
//! every fsync. Whatever happened, the command said the truth (published → exit 0),
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
        assert_eq!(
            support::temp_files(&trust),
            Vec::<PathBuf>::new(),
            "{pages} page(s)"
        );
        assert!(pages + 1 < MAX_STEPS, "sign never had room enough");
    }
}

/// `publish` of two staged changes and `key rotate GUN targets` on a disk that has 0, 1,
/// 2, … pages free: a failure is exit 4 naming the full disk, what is published is both
/// changes or neither, the next command with room finishes the job, and notary lists what
/// vouch lists.
#[test]
fn a_full_disk_at_any_point_of_publish_or_key_rotate_keeps_nothing_half_done() {
    let Some(fs) = SmallFs::mount(2048) else {
        return;
    };
    let server = NotaryServer::start();
    let trust = fs.path("trust");
    let judge = tempfile::tempdir().unwrap();
    let gun = "example.com/faults/publish-enospc";
    ok(vouch(&trust, &server), &["init", gun]);
    let mut signed: Vec<String> = Vec::new();
    let sorted = |names: &[String]| {
        let mut v: Vec<(String, String)> = names.iter().map(|t| (t.clone(), digest(t))).collect();
        v.sort();
        v
    };
    let (mut publish_done, mut rotate_done) = (false, false);
    // How often each command met the full disk (the loop must have reached it).
    let (mut publish_full, mut rotate_full) = (0, 0);
    for pages in 0..MAX_STEPS {
        if !publish_done {
            let staged: Vec<String> = (0..2).map(|i| format!("p{pages}-{i}")).collect();
            for t in &staged {
                ok(vouch(&trust, &server), &["sign", "--stage", &pair(gun, t)]);
            }
            fs.leave_free(pages);
            let out = run(vouch(&trust, &server), &["publish", gun]);
            fs.free();
            assert_no_panic(&out.stderr);
            let with: Vec<String> = signed.iter().chain(&staged).cloned().collect();
            let seen = notary_sees(judge.path(), &server, gun).unwrap_or_default();
            match out.code {
                0 => {
                    // Published; a cache the disk could not take is said as a warning.
                    assert_eq!(seen, sorted(&with), "publish exit 0 with {pages} page(s)");
                    publish_done = !out.stderr.contains("warning");
                    if !publish_done {
                        assert!(
                            out.stderr.contains("No space left on device"),
                            "{}",
                            out.stderr
                        );
                        publish_full += 1;
                    }
                }
                4 => {
                    assert!(
                        out.stderr.contains("No space left on device"),
                        "{}",
                        out.stderr
                    );
                    assert!(
                        seen == sorted(&signed) || seen == sorted(&with),
                        "{pages} page(s): {seen:?}"
                    );
                    publish_full += 1;
                }
                code => panic!(
                    "publish: exit {code} with {pages} page(s) free: {}",
                    out.stderr
                ),
            }
            ok(vouch(&trust, &server), &["publish", gun]);
            signed = with;
            assert_eq!(
                notary_sees(judge.path(), &server, gun).unwrap(),
                sorted(&signed)
            );
        }
        if !rotate_done {
            fs.leave_free(pages);
            let out = run(vouch(&trust, &server), &["key", "rotate", gun, "targets"]);
            fs.free();
            assert_no_panic(&out.stderr);
            match out.code {
                0 => {
                    rotate_done = !out.stderr.contains("warning");
                    if !rotate_done {
                        assert!(
                            out.stderr.contains("No space left on device"),
                            "{}",
                            out.stderr
                        );
                        rotate_full += 1;
                    }
                }
                4 => {
                    assert!(
                        out.stderr.contains("No space left on device"),
                        "{}",
                        out.stderr
                    );
                    rotate_full += 1;
                }
                code => panic!(
                    "key rotate: exit {code} with {pages} page(s) free: {}",
                    out.stderr
                ),
            }
            // The repository signs with whichever targets key its published root lists.
            let tag = format!("r{pages}");
            ok(vouch(&trust, &server), &["sign", &pair(gun, &tag)]);
            signed.push(tag);
        }
        let seen = notary_sees(judge.path(), &server, gun).unwrap();
        assert_eq!(seen, sorted(&signed), "{pages} page(s)");
        assert_eq!(vouch_sees(&trust, &server, gun), seen, "{pages} page(s)");
        assert_eq!(
            support::temp_files(&trust),
            Vec::<PathBuf>::new(),
            "{pages} page(s)"
        );
        if publish_done && rotate_done {
            assert!(publish_full > 0 && rotate_full > 0, "the disk was never full for them: publish {publish_full}×, key rotate {rotate_full}×");
            return;
        }
    }
    panic!("publish or key rotate never had room enough");
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
        assert_eq!(
            support::temp_files(&trust),
            Vec::<PathBuf>::new(),
            "{pages} page(s)"
        );
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

/// `vouch ARGS` under strace, SIGKILLed at its `n`th call of one of `syscalls`. `true`
/// when it was killed; `false` when it ran to its end (fewer calls than `n`): then it must
/// have succeeded.
fn killed_at(trust: &Path, server: &NotaryServer, syscalls: &str, n: u64, args: &[&str]) -> bool {
    let out = Command::new(support::require_binary("strace"))
        .args(["-f", "-o", "/dev/null", "-e"])
        .arg(format!("inject={syscalls}:signal=KILL:when={n}"))
        .arg(assert_cmd::cargo::cargo_bin("vouch"))
        .arg("--trust-dir")
        .arg(trust)
        .args(["-s", &server.url])
        .args(args)
        .env_remove("VOUCH_TRUST_DIR")
        .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env("HOME", trust)
        .output()
        .expect("run strace");
    let killed = out.status.signal() == Some(libc::SIGKILL) || out.status.code() == Some(128 + 9);
    if !killed {
        assert!(
            out.status.success(),
            "{args:?} under strace ({syscalls} {n}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    killed
}

fn tags(names: &[String]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = names.iter().map(|t| (t.clone(), digest(t))).collect();
    v.sort();
    v
}

fn sign_killed_at_any(syscalls: &str, gun: &str) {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let judge = tmp.path().join("judge");
    ok(vouch(&trust, &server), &["init", gun]);
    ok(vouch(&trust, &server), &["sign", &pair(gun, "v0")]);
    let mut signed = vec!["v0".to_owned()];
    at_each_call(&trust, "sign", syscalls, |n| {
        let tag = format!("k{n}");
        let killed = killed_at(&trust, &server, syscalls, n, &["sign", &pair(gun, &tag)]);
        // The next command: publish whatever the killed one left staged, then sign
        // the tag again (a no-op when it was published).
        ok(vouch(&trust, &server), &["publish", gun]);
        ok(vouch(&trust, &server), &["sign", &pair(gun, &tag)]);
        signed.push(tag);
        let seen = notary_sees(&judge, &server, gun).unwrap();
        assert_eq!(seen, vouch_sees(&trust, &server, gun), "{syscalls} {n}");
        assert_eq!(seen, tags(&signed), "{syscalls} {n}");
        killed
    });
}

const KILL_POINTS: [&str; 2] = ["rename,renameat,renameat2", "fsync,fdatasync"];

/// Runs `step(n)` for n = 1, 2, … until its command, killed at its `n`th call of one of
/// `syscalls`, is no longer killed (`step` returns whether it was): the command has then
/// been cut at every one of those calls. After each step, no temp file of a stopped
/// command is left in `trust`.
fn at_each_call(trust: &Path, what: &str, syscalls: &str, mut step: impl FnMut(u64) -> bool) {
    for n in 1..MAX_STEPS {
        let killed = step(n);
        assert_eq!(
            support::temp_files(trust),
            Vec::<PathBuf>::new(),
            "{syscalls} {n}"
        );
        if !killed {
            return;
        }
    }
    panic!("{what} was still killed at {syscalls} {MAX_STEPS}");
}

/// [`at_each_call`] for every kill point `k` (`syscalls`): `step(k, syscalls, n)`.
fn at_every_kill_point(trust: &Path, what: &str, mut step: impl FnMut(usize, &str, u64) -> bool) {
    for (k, syscalls) in KILL_POINTS.into_iter().enumerate() {
        at_each_call(trust, what, syscalls, |n| step(k, syscalls, n));
    }
}

/// `init` killed at every rename and fsync: the same `init` again finishes (or says it is
/// done), the repository signs, and notary reads what vouch reads.
#[test]
fn init_killed_at_any_rename_or_fsync_then_init_again_finishes_and_notary_agrees() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let judge = tmp.path().join("judge");
    at_every_kill_point(&trust, "init", |k, syscalls, n| {
        let gun = format!("example.com/faults/init-{k}-{n}");
        let killed = killed_at(&trust, &server, syscalls, n, &["init", &gun]);
        ok(vouch(&trust, &server), &["init", &gun]);
        ok(vouch(&trust, &server), &["sign", &pair(&gun, "v1")]);
        let want = tags(&["v1".to_owned()]);
        assert_eq!(
            notary_sees(&judge, &server, &gun),
            Some(want.clone()),
            "{syscalls} {n}"
        );
        assert_eq!(vouch_sees(&trust, &server, &gun), want, "{syscalls} {n}");
        killed
    });
}

/// `publish` of two staged changes, and `sign --stage --from-file` of three, killed at
/// every rename and fsync: what is published is all of a batch or none of it, the next
/// `publish` publishes the rest once, and notary lists what vouch lists.
#[test]
fn publish_and_staging_killed_at_any_rename_or_fsync_are_all_or_nothing_and_notary_agrees() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let judge = tmp.path().join("judge");
    let gun = "example.com/faults/publish-kill";
    ok(vouch(&trust, &server), &["init", gun]);
    let mut signed: Vec<String> = Vec::new();
    at_every_kill_point(&trust, "publish or sign --stage", |k, syscalls, n| {
        // publish, killed.
        let staged: Vec<String> = (0..2).map(|i| format!("p{k}-{n}-{i}")).collect();
        for t in &staged {
            ok(vouch(&trust, &server), &["sign", "--stage", &pair(gun, t)]);
        }
        let killed_publish = killed_at(&trust, &server, syscalls, n, &["publish", gun]);
        let seen = notary_sees(&judge, &server, gun).unwrap_or_default();
        let with: Vec<String> = signed.iter().chain(&staged).cloned().collect();
        assert!(
            seen == tags(&signed) || seen == tags(&with),
            "publish killed at {syscalls} {n}: half a publish is visible: {seen:?}"
        );
        ok(vouch(&trust, &server), &["publish", gun]);
        signed = with;
        assert_eq!(notary_sees(&judge, &server, gun).unwrap(), tags(&signed));

        // sign --stage --from-file, killed.
        let batch: Vec<String> = (0..3).map(|i| format!("f{k}-{n}-{i}")).collect();
        let file = tmp.path().join("batch.txt");
        std::fs::write(
            &file,
            batch
                .iter()
                .map(|t| pair(gun, t) + "\n")
                .collect::<String>(),
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let killed_stage = killed_at(
            &trust,
            &server,
            syscalls,
            n,
            &["sign", "--stage", "--from-file", file],
        );
        ok(vouch(&trust, &server), &["publish", gun]);
        let seen = notary_sees(&judge, &server, gun).unwrap();
        let with: Vec<String> = signed.iter().chain(&batch).cloned().collect();
        assert!(
            seen == tags(&signed) || seen == tags(&with),
            "sign --stage --from-file killed at {syscalls} {n}: part of the batch was staged: {seen:?}"
        );
        ok(vouch(&trust, &server), &["sign", "--from-file", file]);
        signed = with;
        let seen = notary_sees(&judge, &server, gun).unwrap();
        assert_eq!(seen, tags(&signed), "{syscalls} {n}");
        assert_eq!(seen, vouch_sees(&trust, &server, gun), "{syscalls} {n}");
        killed_publish || killed_stage
    });
}

/// `key rotate GUN targets` killed at every rename and fsync: the repository still signs
/// (with whichever targets key the published root lists), and notary agrees.
#[test]
fn key_rotate_killed_at_any_rename_or_fsync_leaves_a_repository_that_signs_and_notary_agrees() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let judge = tmp.path().join("judge");
    let gun = "example.com/faults/rotate-kill";
    ok(vouch(&trust, &server), &["init", gun]);
    let mut signed: Vec<String> = Vec::new();
    at_every_kill_point(&trust, "key rotate", |k, syscalls, n| {
        let killed = killed_at(
            &trust,
            &server,
            syscalls,
            n,
            &["key", "rotate", gun, "targets"],
        );
        let tag = format!("r{k}-{n}");
        ok(vouch(&trust, &server), &["sign", &pair(gun, &tag)]);
        signed.push(tag);
        let seen = notary_sees(&judge, &server, gun).unwrap();
        assert_eq!(seen, tags(&signed), "{syscalls} {n}");
        assert_eq!(seen, vouch_sees(&trust, &server, gun), "{syscalls} {n}");
        killed
    });
}
