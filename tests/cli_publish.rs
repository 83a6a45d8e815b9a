//! Publishing with the `vouch` binary against the real notary-server and the real `notary`
//! CLI (loopback only): what vouch signs, notary lists, looks up and verifies; what notary
//! publishes, vouch lists and extends (sharing notary's trust dir); snapshot keys held by
//! the client or the server, and rotated to the server by notary; TLS with a private CA;
//! token auth; static repositories (on disk and served over HTTP); failures that keep
//! staged changes (server down, upload rejected, publish killed mid-upload);
//! status/reset; delete --remote.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::httpd::{read_request, HttpServer, Request, Response};
use support::token::TokenServer;
use support::{fails, http_get, list_rows, ok, Notary, NotaryServer, ServerConfig};

// ---------------------------------------------------------------------------------------
// Helpers

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A made-up manifest digest (hex) for `seed`.
fn digest(seed: &str) -> String {
    sha256_hex(format!("manifest {seed}").as_bytes())
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `vouch` with a trust dir, the test passphrases, no credentials from the environment,
/// and `-s server` when given.
fn vouch(trust: &Path, server: Option<&str>) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    if let Some(server) = server {
        c.arg("-s").arg(server);
    }
    c
}

/// The same environment as [`vouch`], as a `std::process::Command` that can be spawned
/// and killed.
fn vouch_process(trust: &Path, server: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"));
    c.arg("--trust-dir").arg(trust).arg("-s").arg(server);
    for v in [
        "NOTARY_AUTH",
        "VOUCH_USERNAME",
        "VOUCH_PASSWORD",
        "DOCKER_CONFIG",
        "VOUCH_TRUST_DIR",
    ] {
        c.env_remove(v);
    }
    c.env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env("HOME", trust)
        .stdin(Stdio::null());
    c
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

type Row = support::ListRow;

fn row(name: &str, hex: &str, size: u64) -> Row {
    (name.to_owned(), hex.to_owned(), size, "targets".to_owned())
}

/// Rows of a `status` table, each split on whitespace (`#`, action, scope, type, path).
fn status_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip_while(|l| !l.starts_with('#'))
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// `vouch list --output json` as (name, digest, size, role).
/// `vouch list --output json` rows; a reader in a trust dir of its own trusts the
/// repository's root on first use (--tofu).
fn json_targets(trust: &Path, server: Option<&str>, gun: &str) -> Vec<Row> {
    let out = ok(
        vouch(trust, server),
        &["list", gun, "--output", "json", "--tofu"],
    );
    json(&out.stdout)["items"]
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
                    .to_owned(),
                t["size"].as_u64().unwrap(),
                t["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Number of staged changes, from `vouch status --output json`.
fn staged(trust: &Path, gun: &str) -> Vec<Value> {
    let out = ok(vouch(trust, None), &["status", gun, "--output", "json"]);
    json(&out.stdout)["items"]
        .as_array()
        .expect("a JSON array")
        .clone()
}

/// The server's current `<role>.json` for `gun`, parsed; `None` on 404.
fn server_meta(server: &NotaryServer, gun: &str, role: &str) -> Option<Value> {
    let (status, body) = http_get(server.port, &format!("/v2/{gun}/_trust/tuf/{role}.json"));
    match status {
        200 => Some(serde_json::from_slice(&body).unwrap()),
        404 => None,
        other => panic!(
            "GET {role}.json for {gun}: HTTP {other}: {}",
            String::from_utf8_lossy(&body)
        ),
    }
}

fn targets_version(server: &NotaryServer, gun: &str) -> i64 {
    server_meta(server, gun, "targets").expect("targets.json on the server")["signed"]["version"]
        .as_i64()
        .unwrap()
}

fn cached_version(trust: &Path, gun: &str, role: &str) -> i64 {
    let p = trust
        .join("tuf")
        .join(gun)
        .join("metadata")
        .join(format!("{role}.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["signed"]["version"].as_i64().unwrap()
}

/// `vouch key list --output json` rows as (role, gun, id).
fn key_list(trust: &Path) -> Vec<(String, String, String)> {
    let out = ok(vouch(trust, None), &["key", "list", "--output", "json"]);
    json(&out.stdout)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["role"].as_str().unwrap().to_owned(),
                k["gun"].as_str().unwrap_or("").to_owned(),
                k["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

/// A `notary` run that must fail; returns its stdout (where notary prints errors).
fn notary_fails(n: &Notary, args: &[&str]) -> String {
    let out = n.run_raw(args);
    assert!(
        !out.status.success(),
        "notary {args:?} unexpectedly succeeded"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tag_pair(gun: &str, tag: &str, size: u64) -> String {
    format!("{gun}:{tag}=sha256:{}:{size}", digest(tag))
}

/// Serves the files under `root` at `/v2/…` (and `/v2/` itself as notary's ping wants),
/// so a static repository reads like a notary-server.
fn serve_under_v2(root: PathBuf) -> HttpServer {
    HttpServer::start(move |req: &Request| {
        if req.path() == "/v2/" {
            return Response::json(200, "{}");
        }
        let Some(rel) = req.path().strip_prefix("/v2/") else {
            return Response::new(404, "not found");
        };
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return Response::new(400, "bad path");
        }
        match std::fs::read(root.join(rel)) {
            Ok(b) if req.method == "GET" => Response::new(200, b),
            Ok(_) => Response::new(405, ""),
            Err(_) => Response::new(404, "not found"),
        }
    })
}

// ---------------------------------------------------------------------------------------
// vouch publishes, notary reads

#[test]
fn sign_and_sign_file_are_listed_looked_up_and_verified_by_notary() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/team/app";
    let srv = Some(server.url.as_str());

    let init = ok(vouch(&trust, srv), &["init", gun]);
    assert_eq!(init.stdout.trim(), gun);
    let tag_hex = digest("v1");
    let signed = ok(
        vouch(&trust, srv),
        &[
            "sign",
            &format!("{gun}:v1"),
            "--digest",
            &format!("sha256:{tag_hex}"),
            "--size",
            "401",
            // No registry here: sign the given digest without asking one.
            "--no-registry-check",
        ],
    );
    assert_eq!(signed.stdout.trim(), format!("{gun}:v1@sha256:{tag_hex}"));
    let payload = b"release payload\n";
    let file = tmp.path().join("release.tar");
    std::fs::write(&file, payload).unwrap();
    let file_hex = sha256_hex(payload);
    let out = ok(
        vouch(&trust, srv),
        &["sign-file", gun, "release.tar", s(&file)],
    );
    assert_eq!(
        out.stdout.trim(),
        format!("release.tar sha256:{file_hex} {}", payload.len())
    );

    // A fresh notary trust dir: notary trusts the repository on first use and agrees.
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![
            row("release.tar", &file_hex, payload.len() as u64),
            row("v1", &tag_hex, 401)
        ]
    );
    assert_eq!(
        n.run(&["lookup", gun, "v1"]).trim(),
        format!("v1 sha256:{tag_hex} 401")
    );
    assert_eq!(
        n.run(&["lookup", gun, "release.tar"]).trim(),
        format!("release.tar sha256:{file_hex} {}", payload.len())
    );

    // notary verify: the signed file passes, a different one is refused.
    let verify = |f: &Path| {
        n.cmd()
            .args(["verify", gun, "release.tar", "-q"])
            .stdin(std::fs::File::open(f).unwrap())
            .output()
            .unwrap()
    };
    let good = verify(&file);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    let other = tmp.path().join("other.tar");
    std::fs::write(&other, b"release payload, altered\n").unwrap();
    let bad = verify(&other);
    assert!(!bad.status.success());
    assert_contains(
        &String::from_utf8_lossy(&bad.stdout),
        "data not present in the trusted collection",
    );
}

#[test]
fn unsign_removes_targets_for_notary() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/unsign";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    ok(
        vouch(&trust, srv),
        &[
            "sign",
            &tag_pair(gun, "v1", 11),
            &tag_pair(gun, "v2", 12),
            &tag_pair(gun, "v3", 13),
        ],
    );
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, b"notes").unwrap();
    ok(
        vouch(&trust, srv),
        &["sign-file", gun, "notes.txt", s(&notes)],
    );
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 4);

    // `unsign IMAGE:TAG`
    ok(vouch(&trust, srv), &["unsign", &format!("{gun}:v1")]);
    assert_contains(
        &notary_fails(&n, &["lookup", gun, "v1"]),
        "No valid trust data for v1",
    );
    // `unsign GUN NAME…`
    ok(vouch(&trust, srv), &["unsign", gun, "v2", "notes.txt"]);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![row("v3", &digest("v3"), 13)]
    );
}

#[test]
fn several_targets_in_one_command_publish_one_new_version() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/batch";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    let v0 = targets_version(&server, gun);
    assert_eq!(v0, 2, "init publishes targets v2, as notary init -p does");

    // Three pairs on the command line.
    ok(
        vouch(&trust, srv),
        &[
            "sign",
            &tag_pair(gun, "a", 1),
            &tag_pair(gun, "b", 2),
            &tag_pair(gun, "c", 3),
        ],
    );
    assert_eq!(targets_version(&server, gun), v0 + 1);

    // Four lines from a file (with a comment and a blank line).
    let pairs = tmp.path().join("pairs.txt");
    let text = format!(
        "# release 7\n{}\n\n{}\n{}\n{}\n",
        tag_pair(gun, "d", 4),
        tag_pair(gun, "e", 5),
        tag_pair(gun, "f", 6),
        tag_pair(gun, "g", 7)
    );
    std::fs::write(&pairs, text).unwrap();
    ok(vouch(&trust, srv), &["sign", "--from-file", s(&pairs)]);
    assert_eq!(targets_version(&server, gun), v0 + 2);

    // A directory of files.
    let dir = tmp.path().join("dist");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("one.txt"), b"one").unwrap();
    std::fs::write(dir.join("two.txt"), b"two!").unwrap();
    std::fs::write(dir.join("sub/three.txt"), b"three").unwrap();
    ok(
        vouch(&trust, srv),
        &["sign-file", gun, "--from-dir", s(&dir)],
    );
    assert_eq!(targets_version(&server, gun), v0 + 3);

    // Two removals.
    ok(vouch(&trust, srv), &["unsign", gun, "a", "one.txt"]);
    assert_eq!(targets_version(&server, gun), v0 + 4);

    let mut expected = vec![
        row("b", &digest("b"), 2),
        row("c", &digest("c"), 3),
        row("d", &digest("d"), 4),
        row("e", &digest("e"), 5),
        row("f", &digest("f"), 6),
        row("g", &digest("g"), 7),
        row("sub/three.txt", &sha256_hex(b"three"), 5),
        row("two.txt", &sha256_hex(b"two!"), 4),
    ];
    expected.sort();
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(list_rows(&n.run(&["list", gun])), expected);
    assert_eq!(json_targets(&trust, srv, gun), expected);
}

// ---------------------------------------------------------------------------------------
// notary publishes, vouch reads and continues

#[test]
fn notary_published_targets_are_listed_by_vouch_in_text_and_json() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/from-notary";
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    let file = tmp.path().join("payload.bin");
    std::fs::write(&file, b"payload bytes\n").unwrap();
    let hash = digest("addhash");
    n.run(&["init", "-p", gun]);
    n.run(&["add", gun, "payload.bin", s(&file)]);
    n.run(&["addhash", gun, "v1", "401", "--sha256", &hash]);
    n.run(&["publish", gun]);

    let expected = vec![
        row("payload.bin", &sha256_hex(b"payload bytes\n"), 14),
        row("v1", &hash, 401),
    ];
    let fresh = tmp.path().join("vouch");
    let srv = Some(server.url.as_str());
    // A fresh trust dir has nothing anchoring the root: without consent, no answer.
    let refused = fails(vouch(&fresh, srv), &["list", gun], 1);
    assert_contains(&refused.stderr, "no trusted root");
    assert!(
        !fresh.join("tuf").exists(),
        "a refused list cached something"
    );
    let text = ok(vouch(&fresh, srv), &["list", gun, "--tofu"]).stdout;
    assert_eq!(list_rows(&text), expected);
    // Same table, byte for byte.
    assert_eq!(text, n.run(&["list", gun]));
    assert_eq!(json_targets(&fresh, srv, gun), expected);
}

#[test]
fn vouch_publishes_with_a_notary_trust_dir_and_notary_publishes_after_it() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/shared";
    let ndir = tmp.path().join("notary");
    let n = Notary::with_server(&ndir, &server);
    let f1 = tmp.path().join("f1");
    let f2 = tmp.path().join("f2");
    let f3 = tmp.path().join("f3");
    for (f, body) in [(&f1, "first\n"), (&f2, "second!\n"), (&f3, "third!!\n")] {
        std::fs::write(f, body).unwrap();
    }
    n.run(&["init", "-p", gun]);
    n.run(&["add", "-p", gun, "f1", s(&f1)]);
    let v = targets_version(&server, gun);

    // vouch in notary's trust dir, with notary's passphrase variables only.
    let mut c = vouch(&ndir, Some(&server.url));
    for r in ["ROOT", "TARGETS", "SNAPSHOT", "DELEGATION", "TIMESTAMP"] {
        c.env_remove(format!("VOUCH_{r}_PASSPHRASE"));
    }
    c.env("NOTARY_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("NOTARY_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("NOTARY_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS);
    // notary's cache has no record of how its root was anchored: consent once.
    ok(c, &["sign-file", gun, "f2", s(&f2), "--tofu"]);
    assert_eq!(targets_version(&server, gun), v + 1);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![
            row("f1", &sha256_hex(b"first\n"), 6),
            row("f2", &sha256_hex(b"second!\n"), 8)
        ]
    );

    // notary publishes on top of vouch's version.
    n.run(&["add", "-p", gun, "f3", s(&f3)]);
    assert_eq!(targets_version(&server, gun), v + 2);
    let expected = vec![
        row("f1", &sha256_hex(b"first\n"), 6),
        row("f2", &sha256_hex(b"second!\n"), 8),
        row("f3", &sha256_hex(b"third!!\n"), 8),
    ];
    assert_eq!(list_rows(&n.run(&["list", gun])), expected);
    assert_eq!(json_targets(&ndir, Some(&server.url), gun), expected);
}

// ---------------------------------------------------------------------------------------
// Snapshot keys

#[test]
fn server_managed_snapshot_keeps_no_snapshot_key_and_publishes() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/server-snap";
    let srv = Some(server.url.as_str());
    ok(
        vouch(&trust, srv),
        &[
            "init",
            gun,
            "--server-managed-snapshot",
            "--key-format",
            "notary",
        ],
    );
    let keys = key_list(&trust);
    assert!(
        keys.iter().any(|(r, g, _)| r == "targets" && g == gun),
        "{keys:?}"
    );
    assert!(
        !keys.iter().any(|(r, _, _)| r == "snapshot"),
        "no snapshot key expected: {keys:?}"
    );

    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v1", 10)]);
    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v2", 20)]);
    // The snapshot is signed by the server's (ed25519) key that root lists.
    let root = server_meta(&server, gun, "root").unwrap();
    let snap_key = root["signed"]["roles"]["snapshot"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(root["signed"]["keys"][&snap_key]["keytype"], "ed25519");
    let snapshot = server_meta(&server, gun, "snapshot").unwrap();
    assert_eq!(snapshot["signatures"][0]["keyid"], snap_key.as_str());
    assert_eq!(snapshot["signatures"][0]["method"], "eddsa");

    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![row("v1", &digest("v1"), 10), row("v2", &digest("v2"), 20)]
    );
}

#[test]
fn client_held_snapshot_key_signs_the_published_snapshot() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/client-snap";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun]);
    let keys = key_list(&trust);
    let snap: Vec<_> = keys
        .iter()
        .filter(|(r, g, _)| r == "snapshot" && g == gun)
        .collect();
    assert_eq!(snap.len(), 1, "{keys:?}");
    let snap_id = &snap[0].2;

    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v1", 10)]);
    let root = server_meta(&server, gun, "root").unwrap();
    assert_eq!(
        root["signed"]["roles"]["snapshot"]["keyids"][0],
        snap_id.as_str()
    );
    assert_eq!(root["signed"]["keys"][snap_id]["keytype"], "ecdsa");
    let snapshot = server_meta(&server, gun, "snapshot").unwrap();
    assert_eq!(snapshot["signatures"][0]["keyid"], snap_id.as_str());
    assert_eq!(snapshot["signed"]["version"], 3);

    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![row("v1", &digest("v1"), 10)]
    );
}

#[test]
fn vouch_follows_root_v2_after_notary_rotates_the_snapshot_key_to_the_server() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/rotated";
    let srv = Some(server.url.as_str());
    // notary must read vouch's keys: notary's key file format.
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v1", 10)]);

    let n = Notary::with_server(&trust, &server);
    n.run(&["key", "rotate", gun, "snapshot", "-r"]);
    let root = server_meta(&server, gun, "root").unwrap();
    assert_eq!(root["signed"]["version"], 2);
    let snap_key = root["signed"]["roles"]["snapshot"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(root["signed"]["keys"][&snap_key]["keytype"], "ed25519");
    // notary's publish leaves the cached root at v1: vouch has to walk to v2 itself.
    assert_eq!(cached_version(&trust, gun, "root"), 1);
    let v = targets_version(&server, gun);

    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v2", 20)]);
    assert_eq!(targets_version(&server, gun), v + 1);
    let snapshot = server_meta(&server, gun, "snapshot").unwrap();
    assert_eq!(
        snapshot["signatures"][0]["keyid"],
        snap_key.as_str(),
        "the server signs snapshots now"
    );

    let fresh = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&fresh.run(&["list", gun])),
        vec![row("v1", &digest("v1"), 10), row("v2", &digest("v2"), 20)]
    );
    ok(vouch(&trust, srv), &["list", gun]);
    assert_eq!(cached_version(&trust, gun, "root"), 2);
}

// ---------------------------------------------------------------------------------------
// TLS

#[test]
fn tls_with_the_private_ca_init_sign_and_list_work() {
    let files = support::tls::make_tls_files();
    let server = NotaryServer::start_with(&ServerConfig {
        tls: Some((files.server_cert.clone(), files.server_key.clone())),
        ..Default::default()
    });
    assert!(server.url.starts_with("https://127.0.0.1:"));
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/tls";
    let with_ca = || {
        let mut c = vouch(&trust, Some(&server.url));
        c.arg("--tls-ca-cert").arg(&files.ca_cert);
        c
    };
    ok(with_ca(), &["init", gun, "--key-format", "notary"]);
    ok(
        with_ca(),
        &[
            "sign",
            &format!("{gun}:v1"),
            "--digest",
            &format!("sha256:{}", digest("v1")),
            "--size",
            "5",
            "--no-registry-check",
        ],
    );
    assert_eq!(
        list_rows(&ok(with_ca(), &["list", gun]).stdout),
        vec![row("v1", &digest("v1"), 5)]
    );

    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    let out = n
        .cmd()
        .args(["--tlscacert", s(&files.ca_cert), "lookup", gun, "v1"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("v1 sha256:{} 5", digest("v1"))
    );
}

#[test]
fn tls_without_the_ca_fails_with_exit_3_naming_the_certificate() {
    let files = support::tls::make_tls_files();
    let server = NotaryServer::start_with(&ServerConfig {
        tls: Some((files.server_cert.clone(), files.server_key.clone())),
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/tls-no-ca";
    let srv = Some(server.url.as_str());
    for args in [vec!["init", gun], vec!["list", gun, "--tofu"]] {
        let out = fails(vouch(&trust, srv), &args, 3);
        let err = out.stderr.to_lowercase();
        assert!(err.contains("certificate"), "{}", out.stderr);
        assert_contains(&out.stderr, "--tls-ca-cert");
    }
    assert!(key_list(&trust).is_empty(), "a failed init creates no keys");
}

// ---------------------------------------------------------------------------------------
// Token auth

fn token_server_setup() -> (TokenServer, NotaryServer) {
    let token = TokenServer::start(&[("alice", "s3cret", false)]);
    let server = NotaryServer::start_with(&ServerConfig {
        auth: Some(token.notary_auth_block()),
        ..Default::default()
    });
    (token, server)
}

#[test]
fn token_auth_writes_with_credentials_and_reads_anonymously() {
    let (token, server) = token_server_setup();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/auth";
    let srv = Some(server.url.as_str());

    let mut c = vouch(&trust, srv);
    c.env("VOUCH_USERNAME", "alice")
        .env("VOUCH_PASSWORD", "s3cret");
    ok(c, &["init", gun, "--key-format", "notary"]);
    let mut c = vouch(&trust, srv);
    c.env("NOTARY_AUTH", b64("alice:s3cret"));
    ok(c, &["sign", &tag_pair(gun, "v1", 10)]);
    let writes = token.requests();
    assert!(
        writes
            .iter()
            .any(|r| r.basic_user.as_deref() == Some("alice")
                && r.granted
                    .iter()
                    .any(|(name, acts)| name == gun && acts.iter().any(|a| a == "push"))),
        "{writes:?}"
    );

    token.clear();
    let fresh = tmp.path().join("anonymous");
    assert_eq!(
        list_rows(&ok(vouch(&fresh, srv), &["list", gun, "--tofu"]).stdout),
        vec![row("v1", &digest("v1"), 10)]
    );
    let reads = token.requests();
    assert!(!reads.is_empty());
    assert!(reads.iter().all(|r| r.basic_user.is_none()), "{reads:?}");

    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![row("v1", &digest("v1"), 10)]
    );
}

#[test]
fn token_auth_wrong_credentials_exit_3_say_which_were_tried_and_keep_the_change() {
    let (_token, server) = token_server_setup();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/auth-wrong";
    let srv = Some(server.url.as_str());
    let mut c = vouch(&trust, srv);
    c.env("NOTARY_AUTH", b64("alice:s3cret"));
    ok(c, &["init", gun, "--key-format", "notary"]);

    let mut c = vouch(&trust, srv);
    c.env("VOUCH_USERNAME", "alice")
        .env("VOUCH_PASSWORD", "wrong");
    let out = fails(c, &["sign", &tag_pair(gun, "v1", 10)], 3);
    assert_contains(
        &out.stderr,
        "user \"alice\" from VOUCH_USERNAME/VOUCH_PASSWORD",
    );
    assert_contains(&out.stderr, "NOTARY_AUTH"); // where else to set them
    assert_eq!(staged(&trust, gun).len(), 1);

    let mut c = vouch(&trust, srv);
    c.env("NOTARY_AUTH", b64("alice:wrong"));
    let out = fails(c, &["publish", gun], 3);
    assert_contains(&out.stderr, "\"alice\" from NOTARY_AUTH");
    let status = ok(vouch(&trust, None), &["status", gun]).stdout;
    assert_eq!(
        status_rows(&status),
        vec![vec!["0", "create", "targets", "target", "v1"]]
    );

    // No credentials at all: still exit 3, and the message says where to set them.
    let out = fails(vouch(&trust, srv), &["publish", gun], 3);
    assert_contains(&out.stderr, "no credentials found");
    assert_contains(&out.stderr, "VOUCH_USERNAME/VOUCH_PASSWORD (not set)");
    assert_contains(&out.stderr, "NOTARY_AUTH (not set)");

    let mut c = vouch(&trust, srv);
    c.env("NOTARY_AUTH", b64("alice:s3cret"));
    ok(c, &["publish", gun]);
    assert!(staged(&trust, gun).is_empty());
    assert_eq!(
        json_targets(&tmp.path().join("reader"), srv, gun),
        vec![row("v1", &digest("v1"), 10)]
    );
}

// ---------------------------------------------------------------------------------------
// Static repositories

#[test]
fn default_static_repository_is_announced_and_used() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/static";
    let repo = trust.join("repository");

    let init = ok(
        vouch(&trust, None),
        &["init", gun, "--key-format", "notary"],
    );
    assert_contains(
        &init.stderr,
        &format!("Using a local static repository in {}", repo.display()),
    );
    let tuf = repo.join(gun).join("_trust/tuf");
    for role in ["root", "targets", "snapshot", "timestamp"] {
        assert!(
            tuf.join(format!("{role}.json")).is_file(),
            "{role}.json in {}",
            tuf.display()
        );
    }
    let signed = ok(vouch(&trust, None), &["sign", &tag_pair(gun, "v1", 10)]);
    assert_contains(
        &signed.stderr,
        &format!("static repository {}", repo.display()),
    );
    assert_eq!(
        list_rows(&ok(vouch(&trust, None), &["list", gun]).stdout),
        vec![row("v1", &digest("v1"), 10)]
    );
    let ts: Value =
        serde_json::from_slice(&std::fs::read(tuf.join("timestamp.json")).unwrap()).unwrap();
    assert_eq!(
        ts["signed"]["version"], 2,
        "vouch signs the timestamp of a static repository"
    );
}

#[test]
fn static_repository_served_over_http_is_read_by_notary_and_vouch() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/static-http";
    ok(
        vouch(&trust, None),
        &["init", gun, "--key-format", "notary"],
    );
    ok(
        vouch(&trust, None),
        &["sign", &tag_pair(gun, "v1", 10), &tag_pair(gun, "v2", 20)],
    );
    let file = tmp.path().join("app.tgz");
    std::fs::write(&file, b"application archive").unwrap();
    ok(
        vouch(&trust, None),
        &["sign-file", gun, "app.tgz", s(&file)],
    );
    let expected = vec![
        row("app.tgz", &sha256_hex(b"application archive"), 19),
        row("v1", &digest("v1"), 10),
        row("v2", &digest("v2"), 20),
    ];

    let web = serve_under_v2(trust.join("repository"));
    let n = Notary {
        trust_dir: tmp.path().join("notary"),
        server: Some(web.url.clone()),
    };
    assert_eq!(
        n.run(&["lookup", gun, "v2"]).trim(),
        format!("v2 sha256:{} 20", digest("v2"))
    );
    assert_eq!(list_rows(&n.run(&["list", gun])), expected);
    let out = n
        .cmd()
        .args(["verify", gun, "app.tgz", "-q"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let url = format!("static+{}/v2", web.url);
    assert_eq!(
        json_targets(&tmp.path().join("reader"), Some(&url), gun),
        expected
    );
}

#[test]
fn tampered_static_repository_is_refused_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/static-tamper";
    ok(
        vouch(&trust, None),
        &["init", gun, "--key-format", "notary"],
    );
    ok(vouch(&trust, None), &["sign", &tag_pair(gun, "v1", 401)]);
    ok(vouch(&trust, None), &["list", gun]);

    // Change the signed size of v1 in every copy of targets.json (current, by hash, by version).
    let tuf = trust.join("repository").join(gun).join("_trust/tuf");
    let mut tampered = 0;
    for e in std::fs::read_dir(&tuf).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.contains("targets") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        if text.contains("\"length\":401") {
            std::fs::write(e.path(), text.replace("\"length\":401", "\"length\":402")).unwrap();
            tampered += 1;
        }
    }
    assert!(
        tampered >= 2,
        "expected several copies of targets.json, tampered {tampered}"
    );

    // The publisher's own cache still holds the signed copy the snapshot names, so the
    // tampered files are never used: the answer stays the signed one.
    let out = ok(vouch(&trust, None), &["list", gun]);
    assert!(
        out.stdout.contains("401") && !out.stdout.contains("402"),
        "{}",
        out.stdout
    );
    // Without that cached copy, the tampered file is downloaded and refused.
    std::fs::remove_file(trust.join("tuf").join(gun).join("metadata/targets.json")).unwrap();
    let out = fails(vouch(&trust, None), &["list", gun], 1);
    assert_contains(&out.stderr, "targets");
    assert!(!out.stdout.contains("402"), "{}", out.stdout);
    // A reader without any cached state refuses it as well.
    fails(
        vouch(
            &tmp.path().join("fresh"),
            Some(s(&trust.join("repository"))),
        ),
        &["list", gun],
        1,
    );
}

// ---------------------------------------------------------------------------------------
// Failures keep staged changes

#[test]
fn server_down_keeps_the_staged_change_and_a_later_publish_publishes_it_once() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/down";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    let v = targets_version(&server, gun);

    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let out = fails(
        vouch(&trust, Some(&dead)),
        &["sign", &tag_pair(gun, "v1", 10)],
        3,
    );
    assert_contains(&out.stderr, "staged changes are kept");
    assert_contains(&out.stderr, &dead);
    let staged_now = staged(&trust, gun);
    assert_eq!(staged_now.len(), 1);
    assert_eq!(staged_now[0]["path"], "v1");
    assert_eq!(staged_now[0]["action"], "create");
    assert_eq!(targets_version(&server, gun), v);

    // The same trust dir, pointed at the live server.
    let out = ok(vouch(&trust, srv), &["publish", gun]);
    assert_contains(&out.stderr, &format!("targets v{}", v + 1));
    assert_eq!(targets_version(&server, gun), v + 1);
    assert!(staged(&trust, gun).is_empty());
    let out = ok(vouch(&trust, srv), &["publish", gun]);
    assert_contains(&out.stderr, "Nothing to publish");
    assert_eq!(targets_version(&server, gun), v + 1);
    assert_eq!(
        json_targets(&trust, srv, gun),
        vec![row("v1", &digest("v1"), 10)]
    );
}

#[test]
fn another_server_than_the_one_published_to_exits_3_and_keeps_staged_changes() {
    let open = NotaryServer::start();
    let strict = NotaryServer::start_with(&ServerConfig {
        gun_prefixes: vec!["allowed.example/".into()],
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/rejected";
    ok(
        vouch(&trust, Some(&open.url)),
        &["init", gun, "--key-format", "notary"],
    );
    ok(
        vouch(&trust, None),
        &["sign", "--stage", &tag_pair(gun, "v1", 10)],
    );

    // The strict server refuses the GUN: the whole upload is rejected.
    let out = fails(
        vouch(&trust, Some(&strict.url)),
        &["sign", &tag_pair(gun, "v2", 20)],
        3,
    );
    // It has never seen the repository this trust dir holds as published: said before
    // anything is uploaded, and the changes stay staged.
    assert_contains(
        &out.stderr,
        "has no trust data for example.com/rejected, which this trust dir holds as published",
    );
    assert_contains(&out.stderr, "staged changes are kept");
    let paths: Vec<Value> = staged(&trust, gun)
        .iter()
        .map(|c| c["path"].clone())
        .collect();
    assert_eq!(paths, vec!["v1", "v2"]);
    // Told to take the repository anyway, it refuses (it keeps no keys for a GUN outside
    // its prefixes), and nothing changes.
    let out = fails(
        vouch(&trust, Some(&strict.url)),
        &["publish", gun, "--recover"],
        3,
    );
    assert_contains(&out.stderr, "has no timestamp key for example.com/rejected");
    assert_eq!(staged(&trust, gun).len(), 2);
    assert!(server_meta(&strict, gun, "root").is_none());

    ok(vouch(&trust, Some(&open.url)), &["publish", gun]);
    assert_eq!(
        json_targets(&trust, Some(&open.url), gun),
        vec![row("v1", &digest("v1"), 10), row("v2", &digest("v2"), 20)]
    );
}

/// An `init` whose upload fails leaves its local repository and keys; the next `init`
/// publishes that same repository with the same keys, and notary reads it.
#[test]
fn init_after_a_failed_upload_publishes_what_the_first_init_prepared() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let repo = tmp.path().join("static");
    let gun = "example.com/resume";
    // A directory where the static repository's first file goes: its write fails.
    let blocker = repo.join(gun).join("_trust/tuf/1.root.json");
    std::fs::create_dir_all(&blocker).unwrap();
    let url = format!("file://{}", repo.display());

    let out = fails(
        vouch(&trust, Some(&url)),
        &["init", gun, "--key-format", "notary"],
        3,
    );
    assert_contains(&out.stderr, "1.root.json");
    let keys = key_list(&trust);
    assert_eq!(
        keys.len(),
        4,
        "root, targets, snapshot, timestamp: {keys:?}"
    );
    let cache = trust.join("tuf").join(gun).join("metadata");
    let root_before = std::fs::read(cache.join("root.json")).expect("root.json kept for a retry");

    std::fs::remove_dir(&blocker).unwrap();
    let out = ok(
        vouch(&trust, Some(&url)),
        &["init", gun, "--key-format", "notary"],
    );
    assert_contains(&out.stderr, "prepared by an earlier init");
    assert_eq!(key_list(&trust), keys, "no new keys");
    assert_eq!(
        std::fs::read(cache.join("root.json")).unwrap(),
        root_before,
        "the root prepared the first time is the one published"
    );
    assert_eq!(
        std::fs::read(repo.join(gun).join("_trust/tuf/root.json")).unwrap(),
        root_before
    );

    ok(
        vouch(&trust, Some(&url)),
        &["sign", &tag_pair(gun, "v1", 10)],
    );
    let web = serve_under_v2(repo.clone());
    let n = Notary {
        trust_dir: tmp.path().join("notary"),
        server: Some(web.url.clone()),
    };
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![row("v1", &digest("v1"), 10)]
    );
}

/// `sign --check` names every key a sign needs and whether it opens, with no registry, no
/// staging and no upload.
#[test]
fn sign_check_names_the_keys_a_sign_needs_and_changes_nothing() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/check";
    ok(
        vouch(&trust, Some(&server.url)),
        &["init", gun, "--key-format", "notary"],
    );
    let keys = key_list(&trust);
    let id = |role: &str| keys.iter().find(|k| k.0 == role).unwrap().2.clone();
    let before = support::snapshot_tree(&trust);
    let targets_before = targets_version(&server, gun);

    // IMAGE:TAG with no digest: a sign would ask the registry (example.com); the check
    // does not, or this could not pass without a network.
    let image = format!("{gun}:v1");
    let out = ok(
        vouch(&trust, Some(&server.url)),
        &["sign", "--check", &image],
    );
    assert_contains(&out.stdout, "roles from the local cache");
    for role in ["targets", "snapshot"] {
        let line = out.stdout.lines().find(|l| l.contains(&id(role))).unwrap();
        assert!(line.starts_with(role) && line.ends_with("opens"), "{line}");
    }
    assert_contains(&out.stderr, "Ready");

    let mut c = vouch(&trust, Some(&server.url));
    c.env_remove("VOUCH_SNAPSHOT_PASSPHRASE");
    let out = fails(c, &["sign", "--check", &image], 4);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&id("snapshot")))
        .unwrap();
    assert!(
        line.contains("not met") && line.contains("VOUCH_SNAPSHOT_PASSPHRASE"),
        "{line}"
    );
    assert_contains(&out.stderr, "cannot be signed here");

    let mut c = vouch(&trust, Some(&server.url));
    c.env("VOUCH_TARGETS_PASSPHRASE", "not it");
    let out = fails(c, &["sign", "--check", &image], 4);
    assert_contains(&out.stdout, "wrong passphrase for targets key");

    // A trust dir without the keys: the roles come from the remote, every key is absent.
    let out = fails(
        vouch(&tmp.path().join("empty"), Some(&server.url)),
        &["sign", "--check", &image, "--output", "json", "--tofu"],
        4,
    );
    let report = json(&out.stdout);
    let report = &report["items"];
    assert_eq!(report[0]["from_cache"], false);
    assert_eq!(report[0]["ready"], false);
    assert_eq!(report[0]["roles"][0]["role"], "targets");
    assert_eq!(
        report[0]["roles"][0]["keys"][0]["id"],
        id("targets").as_str()
    );
    assert_eq!(report[0]["roles"][0]["keys"][0]["status"], "absent");

    assert_eq!(
        support::snapshot_tree(&trust),
        before,
        "the trust dir is unchanged"
    );
    assert_eq!(
        targets_version(&server, gun),
        targets_before,
        "nothing was uploaded"
    );
    assert!(staged(&trust, gun).is_empty(), "nothing was staged");
}

/// What the proxy does with a held POST.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hold {
    Waiting,
    Forward,
    Drop,
}

struct HoldState {
    posts: usize,
    decision: Hold,
    forwarded: Option<u16>,
}

/// A proxy in front of a notary-server that forwards GETs at once and holds every POST
/// (the upload) until the test decides to forward or drop it.
struct HoldingProxy {
    url: String,
    state: Arc<(Mutex<HoldState>, Condvar)>,
    _http: HttpServer,
}

fn forward(port: u16, req: &Request) -> Vec<u8> {
    let mut up = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).unwrap();
    up.write_all(&req.body).unwrap();
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).unwrap();
    resp
}

impl HoldingProxy {
    fn start(upstream: u16) -> HoldingProxy {
        let state = Arc::new((
            Mutex::new(HoldState {
                posts: 0,
                decision: Hold::Waiting,
                forwarded: None,
            }),
            Condvar::new(),
        ));
        let st = state.clone();
        let http = HttpServer::start_raw(move |mut client| {
            let Some(req) = read_request(&mut client) else {
                return;
            };
            if req.method != "POST" {
                let _ = client.write_all(&forward(upstream, &req));
                return;
            }
            let (m, cv) = &*st;
            let mut g = m.lock().unwrap();
            g.posts += 1;
            cv.notify_all();
            while g.decision == Hold::Waiting {
                g = cv.wait(g).unwrap();
            }
            if g.decision == Hold::Drop {
                return; // the connection closes without an answer
            }
            drop(g);
            let resp = forward(upstream, &req);
            let status = String::from_utf8_lossy(&resp[..resp.len().min(16)])
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok());
            let _ = client.write_all(&resp);
            let mut g = m.lock().unwrap();
            g.forwarded = status;
            cv.notify_all();
        });
        HoldingProxy {
            url: http.url.clone(),
            state,
            _http: http,
        }
    }

    fn wait_for_post(&self, child: &mut std::process::Child) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (m, cv) = &*self.state;
        let mut g = m.lock().unwrap();
        while g.posts == 0 {
            assert!(Instant::now() < deadline, "vouch never started the upload");
            if let Ok(Some(st)) = child.try_wait() {
                panic!("vouch exited ({st}) before uploading");
            }
            g = cv.wait_timeout(g, Duration::from_millis(100)).unwrap().0;
        }
    }

    fn decide(&self, d: Hold) {
        let (m, cv) = &*self.state;
        m.lock().unwrap().decision = d;
        cv.notify_all();
    }

    fn wait_forwarded(&self) -> u16 {
        let (m, cv) = &*self.state;
        let g = cv
            .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(30), |g| {
                g.forwarded.is_none()
            })
            .unwrap()
            .0;
        g.forwarded.expect("the held upload was forwarded")
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        // Release any handler still waiting.
        let (m, cv) = &*self.state;
        if let Ok(mut g) = m.lock() {
            if g.decision == Hold::Waiting {
                g.decision = Hold::Drop;
            }
        }
        cv.notify_all();
    }
}

/// Pairs signed in one batch. Each staged change is a synced file, so the batch is kept
/// moderate; the proxy, not the batch size, makes the kill land during the upload.
const BATCH: usize = 400;

/// A repository whose `vouch sign` was killed while its upload was held by the proxy.
struct Killed {
    server: NotaryServer,
    proxy: HoldingProxy,
    trust: PathBuf,
    /// targets version before the killed command.
    before: i64,
    /// Every target of the batch, sorted.
    expected: Vec<Row>,
}

/// Start `vouch sign --from-file` on BATCH pairs through a holding proxy and SIGKILL it
/// while its upload is held.
fn killed_mid_upload(tmp: &Path, gun: &str) -> Killed {
    use std::os::unix::process::ExitStatusExt as _;
    let server = NotaryServer::start();
    let trust = tmp.join("vouch");
    ok(
        vouch(&trust, Some(&server.url)),
        &["init", gun, "--key-format", "notary"],
    );
    let before = targets_version(&server, gun);
    let proxy = HoldingProxy::start(server.port);

    let mut lines = String::new();
    let mut expected = Vec::new();
    for i in 0..BATCH {
        let tag = format!("t{i:04}");
        lines.push_str(&tag_pair(gun, &tag, 100 + i as u64));
        lines.push('\n');
        expected.push(row(&tag, &digest(&tag), 100 + i as u64));
    }
    let pairs = tmp.join("pairs.txt");
    std::fs::write(&pairs, lines).unwrap();

    let mut child = vouch_process(&trust, &proxy.url)
        .args(["sign", "--from-file", s(&pairs)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    proxy.wait_for_post(&mut child);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");
    assert_eq!(
        targets_version(&server, gun),
        before,
        "nothing landed while the upload was held"
    );
    assert_eq!(staged(&trust, gun).len(), BATCH, "every pair stays staged");
    Killed {
        server,
        proxy,
        trust,
        before,
        expected,
    }
}

#[test]
fn publish_after_a_kill_before_the_upload_landed_publishes_every_target_once() {
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/killed";
    let Killed {
        server,
        proxy,
        trust,
        before,
        expected,
    } = killed_mid_upload(tmp.path(), gun);
    proxy.decide(Hold::Drop);

    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["publish", gun]);
    assert_eq!(targets_version(&server, gun), before + 1);
    assert!(staged(&trust, gun).is_empty());
    let on_server = server_meta(&server, gun, "targets").unwrap();
    assert_eq!(
        on_server["signed"]["targets"].as_object().unwrap().len(),
        BATCH
    );
    assert_eq!(json_targets(&tmp.path().join("reader"), srv, gun), expected);
    ok(vouch(&trust, srv), &["publish", gun]);
    assert_eq!(targets_version(&server, gun), before + 1);
}

#[test]
fn publish_after_a_kill_whose_upload_landed_has_nothing_left_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/killed-landed";
    let Killed {
        server,
        proxy,
        trust,
        before,
        expected,
    } = killed_mid_upload(tmp.path(), gun);
    proxy.decide(Hold::Forward);
    assert_eq!(
        proxy.wait_forwarded(),
        200,
        "the server accepted the orphaned upload"
    );
    assert_eq!(targets_version(&server, gun), before + 1);

    let srv = Some(server.url.as_str());
    let out = ok(vouch(&trust, srv), &["publish", gun]);
    assert_contains(&out.stderr, "Nothing to publish");
    assert_eq!(
        targets_version(&server, gun),
        before + 1,
        "no second version for the same targets"
    );
    assert!(staged(&trust, gun).is_empty());
    assert_eq!(json_targets(&tmp.path().join("reader"), srv, gun), expected);
}

// ---------------------------------------------------------------------------------------
// status / reset

/// A repository with four staged changes: create a, create b, delete v0, create notes.txt.
fn staged_repo(tmp: &Path, server: &NotaryServer, gun: &str) -> PathBuf {
    let trust = tmp.join("vouch");
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v0", 1)]);
    assert_eq!(
        ok(vouch(&trust, None), &["status", gun]).stdout,
        format!("No unpublished changes for {gun}\n")
    );
    ok(
        vouch(&trust, None),
        &[
            "sign",
            "--stage",
            &tag_pair(gun, "a", 2),
            &tag_pair(gun, "b", 3),
        ],
    );
    ok(vouch(&trust, None), &["unsign", "--stage", gun, "v0"]);
    let notes = tmp.join("notes.txt");
    std::fs::write(&notes, b"notes").unwrap();
    ok(
        vouch(&trust, None),
        &["sign-file", "--stage", gun, "notes.txt", s(&notes)],
    );
    trust
}

#[test]
fn status_lists_staged_changes_like_notary_in_text_and_json() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/status";
    let trust = staged_repo(tmp.path(), &server, gun);
    let n = Notary::with_server(&trust, &server);

    let text = ok(vouch(&trust, None), &["status", gun]).stdout;
    assert!(
        text.starts_with(&format!("Unpublished changes for {gun}:\n\n#")),
        "{text}"
    );
    let expected: Vec<Vec<&str>> = vec![
        vec!["0", "create", "targets", "target", "a"],
        vec!["1", "create", "targets", "target", "b"],
        vec!["2", "delete", "targets", "target", "v0"],
        vec!["3", "create", "targets", "target", "notes.txt"],
    ];
    assert_eq!(status_rows(&text), expected);
    // notary reads the same changelist the same way.
    assert_eq!(status_rows(&n.run(&["status", gun])), expected);

    let j = json(&ok(vouch(&trust, None), &["status", gun, "--output", "json"]).stdout);
    let got: Vec<(u64, String, String, String, String)> = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["number"].as_u64().unwrap(),
                c["action"].as_str().unwrap().to_owned(),
                c["scope"].as_str().unwrap().to_owned(),
                c["type"].as_str().unwrap().to_owned(),
                c["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(u64, String, String, String, String)> = expected
        .iter()
        .map(|r| {
            (
                r[0].parse().unwrap(),
                r[1].into(),
                r[2].into(),
                r[3].into(),
                r[4].into(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn status_table_is_byte_identical_to_notarys() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/status-bytes";
    let trust = staged_repo(tmp.path(), &server, gun);
    let n = Notary::with_server(&trust, &server);
    assert_eq!(
        ok(vouch(&trust, None), &["status", gun]).stdout,
        n.run(&["status", gun])
    );
}

#[test]
fn reset_n_drops_the_numbered_changes_and_reset_all_drops_the_rest() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/reset";
    let trust = staged_repo(tmp.path(), &server, gun);
    let n = Notary::with_server(&trust, &server);

    // An unknown number drops nothing.
    fails(vouch(&trust, None), &["reset", gun, "-n", "1,9"], 2);
    assert_eq!(staged(&trust, gun).len(), 4);
    fails(vouch(&trust, None), &["reset", gun], 2);
    assert_eq!(staged(&trust, gun).len(), 4);

    ok(vouch(&trust, None), &["reset", gun, "-n", "1,2"]);
    let left: Vec<Vec<&str>> = vec![
        vec!["0", "create", "targets", "target", "a"],
        vec!["1", "create", "targets", "target", "notes.txt"],
    ];
    assert_eq!(
        status_rows(&ok(vouch(&trust, None), &["status", gun]).stdout),
        left
    );
    assert_eq!(status_rows(&n.run(&["status", gun])), left);

    // What is left publishes: a and notes.txt added, v0 kept, b never signed.
    let srv = Some(server.url.as_str());
    let v = targets_version(&server, gun);
    ok(vouch(&trust, srv), &["publish", gun]);
    assert_eq!(targets_version(&server, gun), v + 1);
    let names: Vec<String> = json_targets(&trust, srv, gun)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, vec!["a", "notes.txt", "v0"]);

    // reset --all
    ok(
        vouch(&trust, None),
        &[
            "sign",
            "--stage",
            &tag_pair(gun, "c", 4),
            &tag_pair(gun, "d", 5),
        ],
    );
    ok(vouch(&trust, None), &["unsign", "--stage", gun, "a"]);
    assert_eq!(staged(&trust, gun).len(), 3);
    ok(vouch(&trust, None), &["reset", gun, "--all"]);
    assert_eq!(
        ok(vouch(&trust, None), &["status", gun]).stdout,
        format!("No unpublished changes for {gun}\n")
    );
    assert_contains(
        &n.run(&["status", gun]),
        &format!("No unpublished changes for {gun}"),
    );
    let out = ok(vouch(&trust, srv), &["publish", gun]);
    assert_contains(&out.stderr, "Nothing to publish");
    assert_eq!(targets_version(&server, gun), v + 1);
}

// ---------------------------------------------------------------------------------------
// delete --remote

#[test]
fn delete_remote_removes_the_servers_trust_data_and_keeps_local_keys() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/deleted";
    let srv = Some(server.url.as_str());
    ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    ok(vouch(&trust, srv), &["sign", &tag_pair(gun, "v1", 10)]);
    let keys = key_list(&trust);
    assert_eq!(keys.len(), 3, "{keys:?}");

    ok(vouch(&trust, srv), &["delete", gun, "--remote"]);
    assert!(server_meta(&server, gun, "root").is_none());
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_contains(
        &notary_fails(&n, &["list", gun]),
        &format!("does not have trust data for {gun}"),
    );
    assert!(
        !trust.join("tuf").join(gun).exists(),
        "local trust data removed"
    );
    assert_eq!(key_list(&trust), keys, "keys are kept");
    for (_, _, id) in &keys {
        assert!(trust.join("private").join(format!("{id}.key")).is_file());
    }
    fails(vouch(&trust, srv), &["list", gun], 1);

    // The kept root key starts the repository again.
    let again = ok(vouch(&trust, srv), &["init", gun, "--key-format", "notary"]);
    assert_contains(&again.stderr, "Root key found");
    assert_contains(
        &n.run(&["list", gun]),
        "No targets present in this repository.",
    );
}

/// `--stage` does not fetch: a change the cached copy of the repository cannot take is
/// staged with a warning that says why and how to drop it (the repository may have changed
/// since it was cached), and the publish, which fetches, decides.
#[test]
fn stage_warns_when_the_cached_repository_cannot_take_the_change_and_publish_decides() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", tmp.path().join("static").display());
    let gun = "example.com/staged-role";
    let a = tmp.path().join("a");
    ok(vouch(&a, Some(&url)), &["init", gun]);
    let key = ok(
        vouch(&a, None),
        &["key", "generate", "--role", "targets/releases"],
    )
    .stdout
    .trim()
    .to_owned();
    // A second operator with the same keys.
    let b = tmp.path().join("b");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap();
    assert!(cp.success());

    let out = ok(
        vouch(&a, Some(&url)),
        &["sign", "--stage", &tag_pair(gun, "v1", 10)],
    );
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let out = ok(
        vouch(&a, Some(&url)),
        &[
            "sign",
            "--stage",
            "--role",
            "targets/releases",
            &tag_pair(gun, "v2", 20),
        ],
    );
    assert_contains(&out.stderr, "a publish would fail: staged change #1");
    assert_contains(&out.stderr, "role targets/releases does not exist");
    assert_contains(&out.stderr, &format!("`vouch reset {gun} -n 1`"));
    assert_contains(&out.stderr, "Staged anyway");
    assert_eq!(staged(&a, gun).len(), 2);

    // Meanwhile the other operator adds the role: a's cached copy is now out of date.
    ok(
        vouch(&b, Some(&url)),
        &[
            "delegation",
            "add",
            gun,
            "targets/releases",
            "--key",
            &key,
            "--all-paths",
        ],
    );
    ok(vouch(&a, Some(&url)), &["publish", gun]);
    assert!(staged(&a, gun).is_empty());
    let mut rows: Vec<(String, String)> = json_targets(&a, Some(&url), gun)
        .into_iter()
        .map(|(name, _, _, role)| (name, role))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("v1".to_owned(), "targets".to_owned()),
            ("v2".to_owned(), "targets/releases".to_owned())
        ]
    );
}
