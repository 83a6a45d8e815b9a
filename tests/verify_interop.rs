//! `vouch verify`, `verify-file`, `inspect` and `trust pin` against the real notary-server,
//! with repositories published by the real `notary` CLI and by vouch, cross-checked with
//! `notary lookup` / `notary list`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use support::{Notary, NotaryServer};

const RUN_LIMIT: Duration = Duration::from_secs(40);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "stderr: {}", self.stderr);
        self.stdout
    }
}

fn vouch(trust: &Path, server: &NotaryServer, args: &[&str]) -> Run {
    let out = support::vouch(trust)
        .arg("-s")
        .arg(&server.url)
        .args(args)
        .timeout(RUN_LIMIT)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `vouch verify GUN:tag` with `extra` arguments.
fn verify(trust: &Path, server: &NotaryServer, gun: &str, tag: &str, extra: &[&str]) -> Run {
    let image = format!("{gun}:{tag}");
    let mut args = vec!["verify", image.as_str()];
    args.extend_from_slice(extra);
    vouch(trust, server, &args)
}

/// The sha256 hex `notary lookup` prints for `tag`, or `None` when it fails.
fn notary_lookup(n: &Notary, gun: &str, tag: &str) -> Option<String> {
    let out = n.run_raw(&["lookup", gun, tag]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        assert!(stdout.contains("* fatal:"), "{stdout}");
        return None;
    }
    // `<tag> sha256:<hex> <size>`
    let mut parts = stdout.split_whitespace();
    assert_eq!(parts.next(), Some(tag), "{stdout}");
    Some(
        parts
            .next()
            .and_then(|d| d.strip_prefix("sha256:"))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_owned(),
    )
}

/// The digest column of `notary list GUN [--roles ROLE]` for `tag`.
fn notary_list_digest(n: &Notary, gun: &str, roles: &[&str], tag: &str) -> Option<String> {
    let mut args = vec!["list", gun];
    for r in roles {
        args.extend_from_slice(&["--roles", r]);
    }
    let out = n.run(&args);
    out.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.first() == Some(&tag)).then(|| cols[1].to_owned())
    })
}

fn hex_of(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().to_path_buf();
    (t, p)
}

/// A delegation key made with openssl as in test-servers §4: (certificate, PKCS#8 key).
fn openssl_delegation_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}-key.pem"));
    let cert = dir.join(format!("{name}.crt"));
    let pkcs8 = dir.join(format!("{name}-pkcs8.pem"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(support::require_binary("openssl"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (k, c, p) = (
        key.to_str().unwrap(),
        cert.to_str().unwrap(),
        pkcs8.to_str().unwrap(),
    );
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        k,
    ]);
    run(&[
        "req",
        "-new",
        "-x509",
        "-key",
        k,
        "-out",
        c,
        "-days",
        "365",
        "-subj",
        &format!("/CN={name}"),
    ]);
    run(&["pkey", "-in", k, "-out", p]);
    (cert, pkcs8)
}

/// `notary addhash GUN tag SIZE --sha256 HEX [extra…]`.
fn addhash(n: &Notary, gun: &str, tag: &str, hex: &str, extra: &[&str]) {
    let mut args = vec!["addhash", gun, tag, "1234", "--sha256", hex];
    args.extend_from_slice(extra);
    n.run(&args);
}

fn root_version(trust: &Path, server: &NotaryServer, gun: &str) -> i64 {
    let out = vouch(trust, server, &["inspect", gun, "--output", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "root")
        .unwrap()["version"]
        .as_i64()
        .unwrap()
}

#[test]
fn vouch_verifies_every_tag_the_notary_cli_publishes() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let n = Notary::with_server(&dir.join("notary"), &server);
    let gun = "example.com/interop/app";
    n.run(&["init", "-p", gun]);
    addhash(&n, gun, "t1", &hex_of("t1"), &["-p"]);
    addhash(&n, gun, "t2", &hex_of("t2"), &[]);
    addhash(&n, gun, "t3", &hex_of("t3"), &[]);
    n.run(&["publish", gun]);
    let hello = dir.join("hello.txt");
    std::fs::write(&hello, b"hello\n").unwrap();
    n.run(&["add", gun, "file-tag", hello.to_str().unwrap(), "-p"]);
    // targets/releases, signed with an openssl-made key.
    let (cert, key) = openssl_delegation_key(&dir, "releases");
    n.run(&[
        "delegation",
        "add",
        gun,
        "targets/releases",
        cert.to_str().unwrap(),
        "--all-paths",
        "-p",
    ]);
    n.run(&[
        "key",
        "import",
        key.to_str().unwrap(),
        "--role",
        "targets/releases",
    ]);
    let rel = ["--roles", "targets/releases", "-p"];
    addhash(&n, gun, "rel", &hex_of("rel"), &rel);
    // `both` is in targets and, with another digest, in targets/releases.
    addhash(&n, gun, "both", &hex_of("both-targets"), &["-p"]);
    addhash(&n, gun, "both", &hex_of("both-releases"), &rel);

    let tags = ["t1", "t2", "t3", "file-tag", "rel"];
    let check = |trust: &Path, first: bool, tags: &[&str]| {
        for (i, tag) in tags.iter().enumerate() {
            let want = notary_lookup(&n, gun, tag).unwrap();
            let tofu: &[&str] = if first && i == 0 { &["--tofu"] } else { &[] };
            let out = verify(trust, &server, gun, tag, tofu).ok();
            assert_eq!(out.trim(), format!("{gun}@sha256:{want}"), "{tag}");
        }
        // Docker's rule: targets/releases wins over targets (notary lookup walks targets
        // first; `notary list --roles targets/releases` shadows targets as Docker does).
        assert_eq!(
            notary_lookup(&n, gun, "both").unwrap(),
            hex_of("both-targets")
        );
        let shadowed = notary_list_digest(&n, gun, &["targets/releases"], "both").unwrap();
        assert_eq!(shadowed, hex_of("both-releases"));
        let out = verify(trust, &server, gun, "both", &[]).ok();
        assert_eq!(out.trim(), format!("{gun}@sha256:{shadowed}"));
    };
    let v1 = dir.join("vouch-1");
    check(&v1, true, &tags);
    assert_eq!(
        notary_lookup(&n, gun, "file-tag").unwrap(),
        hex_of("hello\n")
    );
    assert_eq!(root_version(&v1, &server, gun), 1);

    // The server takes over the snapshot key: root v2, snapshots signed by the server.
    n.run(&["key", "rotate", gun, "snapshot", "-r"]);
    addhash(&n, gun, "t4", &hex_of("t4"), &["-p"]);
    let tags = ["t1", "t2", "t3", "file-tag", "rel", "t4"];
    // The same trust dir follows the rotation; a fresh one trusts the new root.
    check(&v1, false, &tags);
    assert_eq!(root_version(&v1, &server, gun), 2);
    let v2 = dir.join("vouch-2");
    check(&v2, true, &tags);
    assert_eq!(root_version(&v2, &server, gun), 2);
    // Unknown tags are refused by both.
    assert_eq!(notary_lookup(&n, gun, "nope"), None);
    let r = verify(&v2, &server, gun, "nope", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
}

#[test]
fn notary_lookup_agrees_with_vouch_on_vouch_published_repos() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let publisher = dir.join("publisher");
    let gun = "example.com/interop/vouched";
    vouch(&publisher, &server, &["init", gun]).ok();
    let pairs: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|t| format!("{gun}:{t}=sha256:{}:{}", hex_of(t), 100 + t.len()))
        .collect();
    let mut args = vec!["sign"];
    args.extend(pairs.iter().map(String::as_str));
    vouch(&publisher, &server, &args).ok();
    let image = format!("{gun}:d");
    let digest = format!("sha256:{}", hex_of("d"));
    vouch(
        &publisher,
        &server,
        &[
            "sign",
            &image,
            "--digest",
            &digest,
            "--size",
            "77",
            "--no-registry-check",
        ],
    )
    .ok();

    let n = Notary::with_server(&dir.join("notary"), &server);
    let reader = dir.join("reader");
    for (i, tag) in ["a", "b", "c", "d"].iter().enumerate() {
        let want = notary_lookup(&n, gun, tag).unwrap();
        assert_eq!(want, hex_of(tag));
        let tofu: &[&str] = if i == 0 { &["--tofu"] } else { &[] };
        let out = verify(&reader, &server, gun, tag, tofu).ok();
        assert_eq!(out.trim(), format!("{gun}@sha256:{want}"));
    }

    // Unsigned: gone for both.
    vouch(&publisher, &server, &["unsign", &format!("{gun}:b")]).ok();
    assert_eq!(notary_lookup(&n, gun, "b"), None);
    let r = verify(&reader, &server, gun, "b", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("\"b\""), "{}", r.stderr);
    // The others stay, for both.
    for tag in ["a", "c", "d"] {
        let want = notary_lookup(&n, gun, tag).unwrap();
        let out = verify(&reader, &server, gun, tag, &[]).ok();
        assert_eq!(out.trim(), format!("{gun}@sha256:{want}"));
    }
}

fn read_lock(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_trust_lock_verifies_in_a_fresh_trust_dir_and_refuses_a_recreated_repository() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let gun = "example.com/interop/locked";
    let lock = dir.join("vouch-trust.json");
    let lock_s = lock.to_str().unwrap();
    let owner = dir.join("owner");
    vouch(&owner, &server, &["init", gun]).ok();
    let image = format!("{gun}:v1");
    let d1 = format!("sha256:{}", hex_of("v1"));
    vouch(
        &owner,
        &server,
        &["sign", &image, "--digest", &d1, "--size", "10"],
    )
    .ok();

    let first = dir.join("first");
    verify(&first, &server, gun, "v1", &["--tofu"]).ok();
    vouch(
        &first,
        &server,
        &["trust", "pin", gun, "--from-cache", "--trust-lock", lock_s],
    )
    .ok();
    let pinned = read_lock(&lock);
    assert_eq!(pinned["repositories"][gun]["root_version"], 1);

    let fresh = dir.join("fresh");
    let out = verify(&fresh, &server, gun, "v1", &["--trust-lock", lock_s]).ok();
    assert_eq!(out.trim(), format!("{gun}@{d1}"));

    // The repository is deleted and re-created by someone else, with another root key.
    vouch(&owner, &server, &["delete", gun, "--remote"]).ok();
    let intruder = dir.join("intruder");
    vouch(&intruder, &server, &["init", gun]).ok();
    let d2 = format!("sha256:{}", hex_of("evil"));
    vouch(
        &intruder,
        &server,
        &["sign", &image, "--digest", &d2, "--size", "10"],
    )
    .ok();

    for trust in [dir.join("fresh-2"), fresh] {
        let r = verify(&trust, &server, gun, "v1", &["--trust-lock", lock_s]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(r.stderr.contains("pinned"), "{}", r.stderr);
    }
    // Without the lock, the cached root refuses it as well.
    let r = verify(&first, &server, gun, "v1", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("root"), "{}", r.stderr);
    // The lock is unchanged.
    assert_eq!(read_lock(&lock), pinned);
}

/// `notary key list` root key IDs.
fn notary_root_keys(n: &Notary) -> Vec<String> {
    n.run(&["key", "list"])
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("root"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn a_trust_lock_follows_a_signed_root_rotation() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let gun = "example.com/interop/rotated";
    let lock = dir.join("lock.json");
    let lock_s = lock.to_str().unwrap();
    let n = Notary::with_server(&dir.join("notary"), &server);
    n.run(&["init", "-p", gun]);
    addhash(&n, gun, "v1", &hex_of("v1"), &["-p"]);
    let first = dir.join("first");
    verify(&first, &server, gun, "v1", &["--tofu"]).ok();
    vouch(
        &first,
        &server,
        &["trust", "pin", gun, "--from-cache", "--trust-lock", lock_s],
    )
    .ok();
    let old = read_lock(&lock)["repositories"][gun].clone();
    assert_eq!(old["root_version"], 1);
    let old_keys = notary_root_keys(&n);
    assert_eq!(old_keys.len(), 1);
    assert_eq!(old["root_keys"], serde_json::json!(old_keys));

    // A new root key; root v2 is signed by the old and the new one.
    let mut c = n.cmd();
    c.args(["key", "rotate", gun, "root"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    addhash(&n, gun, "v2", &hex_of("v2"), &["-p"]);
    let new_key: Vec<String> = notary_root_keys(&n)
        .into_iter()
        .filter(|k| !old_keys.contains(k))
        .collect();
    assert_eq!(new_key.len(), 1);

    // The old lock still verifies, in a fresh trust dir, through the signed rotation.
    let fresh = dir.join("fresh");
    let out = verify(&fresh, &server, gun, "v2", &["--trust-lock", lock_s]).ok();
    assert_eq!(out.trim(), format!("{gun}@sha256:{}", hex_of("v2")));
    assert_eq!(root_version(&fresh, &server, gun), 2);

    // Re-pinning from that cache moves the lock to root v2 and the new key.
    vouch(
        &fresh,
        &server,
        &["trust", "pin", gun, "--from-cache", "--trust-lock", lock_s],
    )
    .ok();
    let new = read_lock(&lock)["repositories"][gun].clone();
    assert_eq!(new["root_version"], 2);
    assert_eq!(new["root_keys"], serde_json::json!(new_key));
    let out = verify(
        &dir.join("fresh-2"),
        &server,
        gun,
        "v1",
        &["--trust-lock", lock_s],
    )
    .ok();
    assert_eq!(out.trim(), format!("{gun}@sha256:{}", hex_of("v1")));
}

/// A notary-published repository with one tag, `v1`.
fn notary_repo(server: &NotaryServer, dir: &Path, gun: &str) -> Notary {
    let n = Notary::with_server(&dir.join("notary"), server);
    n.run(&["init", "-p", gun]);
    addhash(&n, gun, "v1", &hex_of("v1"), &["-p"]);
    n
}

#[test]
fn verify_without_cache_pin_or_tofu_is_refused_with_a_hint() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let gun = "example.com/interop/anchorless";
    notary_repo(&server, &dir, gun);
    let trust = dir.join("vouch");
    let r = verify(&trust, &server, gun, "v1", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("trust pin"), "{}", r.stderr);
    assert!(r.stderr.contains("--tofu"), "{}", r.stderr);
    assert!(
        support::snapshot_tree(&trust.join("tuf")).is_empty(),
        "cached trust data without an anchor"
    );
}

#[test]
fn offline_verify_uses_the_cache_of_an_online_verify() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let gun = "example.com/interop/offline";
    notary_repo(&server, &dir, gun);
    let trust = dir.join("vouch");
    let want = format!("{gun}@sha256:{}", hex_of("v1"));
    assert_eq!(
        verify(&trust, &server, gun, "v1", &["--tofu"]).ok().trim(),
        want
    );
    let empty = dir.join("empty");
    // The server goes away.
    let url = server.url.clone();
    drop(server);
    let offline = |trust: &Path, extra: &[&str]| {
        let out = support::vouch(trust)
            .args(["-s", &url, "verify", &format!("{gun}:v1")])
            .args(extra)
            .timeout(RUN_LIMIT)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = offline(&trust, &[]);
    assert_eq!(
        code,
        Some(3),
        "online verify with the server gone: {stderr}"
    );
    let (code, stdout, stderr) = offline(&trust, &["--offline"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), want);
    let (code, stdout, stderr) = offline(&empty, &["--offline"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("nothing cached"), "{stderr}");
}

#[test]
fn verify_file_accepts_the_signed_file_and_refuses_a_modified_one() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let gun = "example.com/interop/files";
    let n = Notary::with_server(&dir.join("notary"), &server);
    n.run(&["init", "-p", gun]);
    let file = dir.join("release.tar");
    let content = b"release contents\n".repeat(100);
    std::fs::write(&file, &content).unwrap();
    n.run(&["add", gun, "release.tar", file.to_str().unwrap(), "-p"]);
    let trust = dir.join("vouch");
    let out = vouch(
        &trust,
        &server,
        &[
            "verify-file",
            gun,
            "release.tar",
            file.to_str().unwrap(),
            "--tofu",
        ],
    )
    .ok();
    assert!(
        out.contains(&hex::encode(Sha256::digest(&content))),
        "{out}"
    );

    // Same length, one byte changed; and one byte longer.
    let mut same_len = content.clone();
    same_len[5] ^= 0x20;
    let mut longer = content.clone();
    longer.push(b'\n');
    let signed_len = format!("signed as {} bytes", content.len());
    for (what, bytes, why) in [
        ("modified", same_len, "sha256 checksum mismatch"),
        ("longer", longer, signed_len.as_str()),
    ] {
        let f = dir.join(what);
        std::fs::write(&f, bytes).unwrap();
        let r = vouch(
            &trust,
            &server,
            &["verify-file", gun, "release.tar", f.to_str().unwrap()],
        );
        assert_eq!(r.code, Some(1), "{what}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{what}: {}", r.stdout);
        assert!(r.stderr.contains(why), "{what}: {}", r.stderr);
    }
    // notary agrees.
    let mut c = n.cmd();
    c.args(["verify", gun, "release.tar", "-q", "-i"])
        .arg(dir.join("modified"));
    assert!(!c.output().unwrap().status.success());
}

#[test]
fn inspect_lists_the_four_roles_with_versions() {
    let server = NotaryServer::start();
    let (_t, dir) = tmp();
    let gun = "example.com/interop/inspected";
    let n = notary_repo(&server, &dir, gun);
    addhash(&n, gun, "v2", &hex_of("v2"), &["-p"]);
    // notary's cache, refreshed by an online read, holds the server's current files.
    notary_lookup(&n, gun, "v2").unwrap();
    let meta = dir.join("notary/tuf").join(gun).join("metadata");
    let version = |role: &str| -> i64 {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(meta.join(format!("{role}.json"))).unwrap())
                .unwrap();
        v["signed"]["version"].as_i64().unwrap()
    };
    let roles = ["root", "targets", "snapshot", "timestamp"];
    let want: Vec<(&str, i64)> = roles.iter().map(|r| (*r, version(r))).collect();
    assert!(want.iter().any(|(_, v)| *v > 1), "{want:?}");

    let trust = dir.join("vouch");
    let text = vouch(&trust, &server, &["inspect", gun, "--tofu"]).ok();
    for (role, v) in &want {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(role))
            .unwrap_or_else(|| panic!("no {role} line: {text}"));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(v.to_string().as_str()),
            "{line}"
        );
    }

    let json = vouch(&trust, &server, &["inspect", gun, "--output", "json"]).ok();
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["gun"], gun);
    let got: Vec<(String, i64)> = j["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_owned(),
                r["version"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = want.iter().map(|(r, v)| (r.to_string(), *v)).collect();
    assert_eq!(got, want);
}
