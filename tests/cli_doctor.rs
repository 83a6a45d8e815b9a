//! `vouch doctor`: a healthy trust dir passes (exit 0); every problem a failed or killed
//! command (or a careless hand) can leave is named with its path (exit 1); `doctor` alone
//! changes nothing; `--fix` repairs what is safe and leaves staged changes and keys alone.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{fails, ok, run, snapshot_tree, vouch};

const GUN: &str = "example.com/team/doctor";

/// A trust dir with one repository created by `vouch init` on the default static
/// repository (under the trust dir).
fn initialized() -> tempfile::TempDir {
    let td = tempfile::tempdir().unwrap();
    ok(vouch(td.path()), &["init", GUN]);
    td
}

fn doctor_json(td: &Path, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let mut args = vec!["--output", "json", "doctor"];
    args.extend_from_slice(extra);
    let o = run(vouch(td), &args);
    let v: serde_json::Value = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("doctor --output json: {e}\n{}\n{}", o.stdout, o.stderr));
    (
        o.code,
        v["items"].as_array().expect("a list of findings").clone(),
    )
}

fn kinds(findings: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Paths and modes of everything under `dir` (modes are state too).
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        out.push((
            d.clone(),
            std::fs::metadata(&d).unwrap().permissions().mode(),
        ));
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.clone(),
                    std::fs::metadata(&p).unwrap().permissions().mode(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn key_files(td: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(td.join("private"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .collect();
    v.sort();
    v
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_healthy_trust_dir_has_no_problems() {
    let td = initialized();
    let o = ok(vouch(td.path()), &["doctor"]);
    assert!(o.stdout.contains("no problems"), "{}", o.stdout);
    assert!(o.stdout.contains("1 repository"), "{}", o.stdout);
    let (code, findings) = doctor_json(td.path(), &[]);
    assert_eq!(code, 0);
    assert!(findings.is_empty(), "{findings:?}");
    // Only this repository.
    let o = ok(vouch(td.path()), &["doctor", GUN]);
    assert!(o.stdout.contains("no problems"), "{}", o.stdout);
    // A repository with no local state here is said to be so.
    let o = ok(vouch(td.path()), &["doctor", "example.com/team/other"]);
    assert!(
        o.stderr
            .contains("nothing is cached or staged for example.com/team/other"),
        "{}",
        o.stderr
    );
}

/// Every problem planted, each named; `doctor` changes nothing; `--fix` repairs the safe
/// ones; the next `doctor` finds only what must stay.
#[test]
fn planted_problems_are_named_doctor_changes_nothing_and_fix_repairs_the_safe_ones() {
    let td = initialized();
    let t = td.path();
    let meta = t.join("tuf").join(GUN).join("metadata");
    let snapshot_before = std::fs::read(meta.join("snapshot.json")).unwrap();

    // A key no repository lists (made first: opening the key store tidies).
    let before_keys = key_files(t);
    ok(vouch(t), &["key", "generate", "--role", "root"]);
    let orphan = key_files(t)
        .into_iter()
        .find(|p| !before_keys.contains(p))
        .expect("a new key file");
    // A key file that does not parse.
    let corrupt = t.join("private").join(format!("{}.key", "a".repeat(64)));
    std::fs::write(
        &corrupt,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: targets\n\nnot base64 at all!\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    chmod(&corrupt, 0o600);
    // Permissions: a key file and the trust dir readable by others.
    let real_key = before_keys.into_iter().next().expect("init made keys");
    chmod(&real_key, 0o644);
    chmod(t, 0o755);
    // A key file's temp copy whose writer is gone (pid_max is at most 2^22).
    let key_temp = t.join("private").join(format!(
        ".{}.key.tmp-99999999-0123456789abcdef",
        "c".repeat(64)
    ));
    std::fs::write(&key_temp, b"half a key").unwrap();
    // A cache set's temp file that no pending set lists.
    let cache_temp = meta.join(".targets.json.set-0123456789abcdef");
    std::fs::write(&cache_temp, b"{}").unwrap();
    // A committed cache set whose rename never ran (its content: the current snapshot,
    // so that the finished cache verifies).
    let pending_temp = meta.join(".snapshot.json.set-fedcba9876543210");
    std::fs::write(&pending_temp, &snapshot_before).unwrap();
    let pending = meta.join(".vouch-pending-set.json");
    std::fs::write(
        &pending,
        br#"{"renames":[[".snapshot.json.set-fedcba9876543210","snapshot.json"]]}"#,
    )
    .unwrap();
    std::fs::remove_file(meta.join("snapshot.json")).unwrap();
    // A staged change that cannot be read.
    let changelist = t.join("tuf").join(GUN).join("changelist");
    std::fs::create_dir_all(&changelist).unwrap();
    let bad_change = changelist.join("01796043473550426939_bad.change");
    std::fs::write(&bad_change, b"{not json").unwrap();
    // An incomplete staging batch of a command that died.
    let batch = t
        .join("tuf")
        .join(GUN)
        .join(".vouch-staging")
        .join("1-99999999-0.tmp");
    std::fs::create_dir_all(&batch).unwrap();
    std::fs::write(batch.join("x.change"), b"{").unwrap();

    // `doctor` names each, and changes nothing.
    let tree = snapshot_tree(t);
    let perms = modes(t);
    let o = fails(vouch(t), &["doctor"], 1);
    for p in [
        &corrupt,
        &real_key,
        &t.to_path_buf(),
        &key_temp,
        &cache_temp,
        &pending,
        &bad_change,
        &batch,
        &orphan,
    ] {
        assert!(
            o.stdout.contains(&p.display().to_string()),
            "{} not named:\n{}",
            p.display(),
            o.stdout
        );
    }
    assert!(o.stdout.contains("--fix would"), "{}", o.stdout);
    assert!(
        o.stdout.contains(&format!("vouch reset {GUN} -n 0")),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("vouch key remove"), "{}", o.stdout);
    assert!(o.stderr.contains("problem(s) found"), "{}", o.stderr);
    let (code, findings) = doctor_json(t, &[]);
    assert_eq!(code, 1);
    let found = kinds(&findings);
    let s = |p: &Path| p.display().to_string();
    for want in [
        ("bad-key-file".to_owned(), s(&corrupt)),
        ("permissions".to_owned(), s(&real_key)),
        ("permissions".to_owned(), s(t)),
        ("stale-key-temp".to_owned(), s(&key_temp)),
        ("stale-cache-temp".to_owned(), s(&cache_temp)),
        ("pending-cache-set".to_owned(), s(&pending)),
        ("unreadable-change".to_owned(), s(&bad_change)),
        ("staging-leftover".to_owned(), s(&batch)),
        ("orphan-key".to_owned(), s(&orphan)),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:?}");
    }
    for f in &findings {
        for field in ["kind", "path", "gun", "detail", "fix", "fixed"] {
            assert!(f.get(field).is_some(), "{field} missing in {f}");
        }
        assert_eq!(f["fixed"], false);
    }
    assert_eq!(snapshot_tree(t), tree, "doctor without --fix changed files");
    assert_eq!(modes(t), perms, "doctor without --fix changed modes");

    // --fix repairs the safe ones; what must stay stays, and the exit says so.
    let (code, fixed) = doctor_json(t, &["--fix"]);
    assert_eq!(code, 1, "{fixed:?}");
    for f in &fixed {
        let kind = f["kind"].as_str().unwrap();
        let must_stay = ["bad-key-file", "unreadable-change", "orphan-key"].contains(&kind);
        assert_eq!(f["fixed"], !must_stay, "{f}");
    }
    assert!(!key_temp.exists() && !cache_temp.exists() && !pending.exists());
    assert!(!pending_temp.exists() && !batch.exists());
    assert_eq!(
        std::fs::read(meta.join("snapshot.json")).unwrap(),
        snapshot_before,
        "the pending set was finished"
    );
    assert_eq!(
        std::fs::metadata(&real_key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(t).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Keys and staged work are the user's.
    assert!(corrupt.exists() && orphan.exists() && bad_change.exists());

    let (code, after) = doctor_json(t, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&after),
        vec![
            ("bad-key-file".to_owned(), s(&corrupt)),
            ("orphan-key".to_owned(), s(&orphan)),
            ("unreadable-change".to_owned(), s(&bad_change)),
        ]
    );
    // Once the user dealt with them, all is clean.
    ok(vouch(t), &["reset", GUN, "-n", "0"]);
    std::fs::remove_file(&corrupt).unwrap();
    let o = ok(vouch(t), &["doctor"]);
    assert!(o.stdout.contains("vouch key remove"), "{}", o.stdout);
    assert!(!o.stdout.contains("problem:"), "{}", o.stdout);
}

/// A key file whose name is not the ID of the (unencrypted) key inside.
#[test]
fn a_key_file_named_for_another_key_is_named() {
    let td = initialized();
    let t = td.path();
    let pem = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .output()
        .expect("run openssl");
    assert!(pem.status.success());
    let wrong = t.join("private").join(format!("{}.key", "b".repeat(64)));
    std::fs::write(&wrong, &pem.stdout).unwrap();
    chmod(&wrong, 0o600);
    let (code, findings) = doctor_json(t, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&findings),
        vec![("key-id-mismatch".to_owned(), wrong.display().to_string())]
    );
    let detail = findings[0]["detail"].as_str().unwrap();
    assert!(detail.contains("holds key"), "{detail}");
}

/// A cache file altered on disk fails verification and is named; --fix does not touch it.
#[test]
fn a_tampered_cache_is_named_and_left_alone() {
    let td = initialized();
    let t = td.path();
    let targets = t
        .join("tuf")
        .join(GUN)
        .join("metadata")
        .join("targets.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&targets).unwrap()).unwrap();
    v["signed"]["version"] = serde_json::json!(99);
    let bytes = serde_json::to_vec(&v).unwrap();
    std::fs::write(&targets, &bytes).unwrap();
    let o = fails(vouch(t), &["doctor"], 1);
    assert!(
        o.stdout.contains(&targets.display().to_string()),
        "{}",
        o.stdout
    );
    fails(vouch(t), &["doctor", "--fix"], 1);
    assert_eq!(std::fs::read(&targets).unwrap(), bytes);
}

/// A cache without an anchor record is information, not a problem, and is never "fixed".
#[test]
fn an_unanchored_cache_is_reported_as_info() {
    let td = initialized();
    let t = td.path();
    let anchor = t.join("tuf").join(GUN).join("@vouch").join("anchor.json");
    std::fs::remove_file(&anchor).unwrap();
    let o = ok(vouch(t), &["doctor", "--fix"]);
    assert!(o.stdout.contains("not anchored"), "{}", o.stdout);
    assert!(o.stdout.contains(&format!("vouch trust pin {GUN}")));
    assert!(!anchor.exists());
}

/// A lock held by a running process is reported with its holder; its repository's temp
/// files are left to it, even with --fix.
#[test]
fn a_held_lock_is_reported_and_its_repository_left_alone() {
    let td = initialized();
    let t = td.path();
    let lock_dir = t.join("locks").join(GUN);
    std::fs::create_dir_all(&lock_dir).unwrap();
    let lock = lock_dir.join("@lock");
    let cache_temp = t
        .join("tuf")
        .join(GUN)
        .join("metadata")
        .join(".targets.json.set-0123456789abcdef");
    std::fs::write(&cache_temp, b"{}").unwrap();
    // flock(1) and the sleep it runs both hold the lock: their own process group, to
    // end both.
    use std::os::unix::process::CommandExt as _;
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "60"])
        .process_group(0)
        .spawn()
        .expect("run flock");
    // Wait until the lock is taken.
    let mut found = Vec::new();
    for _ in 0..100 {
        let (_, f) = doctor_json(t, &[]);
        found = f;
        if found.iter().any(|f| f["kind"] == "lock-held") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, fixed) = doctor_json(t, &["--fix"]);
    // SAFETY: signals the process group this test started; nothing else.
    unsafe {
        libc::kill(-(holder.id() as libc::pid_t), libc::SIGKILL);
    }
    holder.wait().unwrap();
    assert_eq!(
        kinds(&found),
        vec![("lock-held".to_owned(), lock.display().to_string())]
    );
    assert!(found[0]["detail"].as_str().unwrap().contains("held by"));
    assert_eq!(code, 0, "{fixed:?}");
    assert!(
        cache_temp.exists(),
        "a working command's files were touched"
    );
    // Once released, the temp file is found and removed.
    let (code, after) = doctor_json(t, &["--fix"]);
    assert_eq!(code, 0, "{after:?}");
    assert!(!cache_temp.exists());
}

/// A damaged reference to a token key (`private/<id>.pkcs11`, no secret in it) is a
/// problem doctor names, with the way to register the key again; doctor --fix leaves it.
#[test]
fn a_damaged_token_key_reference_is_named() {
    let td = initialized();
    let reference = td
        .path()
        .join("private")
        .join(format!("{}.pkcs11", "ab".repeat(32)));
    std::fs::write(&reference, b"{\"uri\": 17").unwrap();
    let (code, findings) = doctor_json(td.path(), &[]);
    assert_eq!(code, 1, "{findings:?}");
    assert_eq!(
        kinds(&findings),
        vec![("bad-key-file".to_owned(), reference.display().to_string())]
    );
    assert!(findings[0]["fix"]
        .as_str()
        .unwrap()
        .contains("vouch key import-pkcs11"));
    let (code, _) = doctor_json(td.path(), &["--fix"]);
    assert_eq!(code, 1);
    assert!(reference.exists(), "--fix never removes a key reference");
}
