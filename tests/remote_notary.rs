//! The notary-server remote against the real notary-server 0.7, with data put there by
//! the real `notary` CLI.

mod support;

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::httpd::{HttpServer, Response};
use support::{Notary, NotaryServer, ServerConfig};
use vouch::remote::limits::MAX_DOWNLOAD_SIZE;
use vouch::remote::{open_remote, Gun, Remote, RemoteError, RemoteOptions};
use vouch::ExitCode;

const MAX: u64 = MAX_DOWNLOAD_SIZE;

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap()
}

fn b64_to_hex(s: &str) -> String {
    hex::encode(base64::engine::general_purpose::STANDARD.decode(s).unwrap())
}

fn remote(server: &NotaryServer) -> Box<dyn Remote> {
    open_remote(&server.url, &RemoteOptions::default()).unwrap()
}

/// `notary init -p` + one target, and a delegation `targets/releases` with one target.
fn publish_with_notary(server: &NotaryServer, dir: &Path, gun: &str) -> Notary {
    let n = Notary::with_server(&dir.join("trust"), server);
    n.run(&["init", "-p", gun]);
    let hello = dir.join("hello.txt");
    std::fs::write(&hello, "hello\n").unwrap();
    n.run(&["add", "-p", gun, "v1", hello.to_str().unwrap()]);
    n
}

fn add_delegation(n: &Notary, dir: &Path, gun: &str) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "releases-key.pem",
    ]);
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "releases-key.pem",
        "-out",
        "releases.crt",
        "-days",
        "30",
        "-subj",
        "/CN=releases",
    ]);
    openssl(&[
        "pkey",
        "-in",
        "releases-key.pem",
        "-out",
        "releases-pkcs8.pem",
    ]);
    let p = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    n.run(&[
        "delegation",
        "add",
        gun,
        "targets/releases",
        &p("releases.crt"),
        "--all-paths",
        "-p",
    ]);
    n.run(&[
        "key",
        "import",
        &p("releases-pkcs8.pem"),
        "--role",
        "targets/releases",
    ]);
    n.run(&[
        "add",
        gun,
        "rel1",
        &p("hello.txt"),
        "--roles",
        "targets/releases",
        "-p",
    ]);
}

#[test]
fn reads_by_name_checksum_and_version() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun_s = "example.com/app";
    publish_with_notary(&server, tmp.path(), gun_s);
    let r = remote(&server);
    let gun = Gun::parse(gun_s).unwrap();
    assert!(r.signs_timestamp());
    assert_eq!(r.describe(), format!("notary server {}", server.url));

    let root = r
        .get_current(&gun, "root", MAX)
        .unwrap()
        .expect("root.json");
    assert_eq!(json(&root)["signed"]["_type"], "Root");
    let ts = r
        .get_current(&gun, "timestamp", 1 << 20)
        .unwrap()
        .expect("timestamp.json");
    let ts_v = json(&ts);
    assert_eq!(ts_v["signed"]["_type"], "Timestamp");

    // timestamp → snapshot by checksum → targets by checksum, as notary reads.
    let snap_hex = b64_to_hex(
        ts_v["signed"]["meta"]["snapshot"]["hashes"]["sha256"]
            .as_str()
            .unwrap(),
    );
    let snap = r
        .get_by_checksum(&gun, "snapshot", &snap_hex, MAX)
        .unwrap()
        .expect("snapshot by checksum");
    assert_eq!(sha256_hex(&snap), snap_hex);
    let snap_v = json(&snap);
    let targets_hex = b64_to_hex(
        snap_v["signed"]["meta"]["targets"]["hashes"]["sha256"]
            .as_str()
            .unwrap(),
    );
    let targets = r
        .get_by_checksum(&gun, "targets", &targets_hex, MAX)
        .unwrap()
        .expect("targets by checksum");
    assert_eq!(sha256_hex(&targets), targets_hex);
    let targets_v = json(&targets);
    assert!(
        targets_v["signed"]["targets"]["v1"].is_object(),
        "{targets_v}"
    );
    // The current targets are the ones the snapshot names.
    assert_eq!(
        r.get_current(&gun, "targets", MAX).unwrap().unwrap(),
        targets
    );

    // By version: the same bytes.
    let tv = targets_v["signed"]["version"].as_u64().unwrap();
    assert_eq!(
        r.get_by_version(&gun, "targets", tv, MAX).unwrap().unwrap(),
        targets
    );
    assert_eq!(
        r.get_by_version(&gun, "root", 1, MAX).unwrap().unwrap(),
        root
    );
    assert_eq!(
        r.get_by_checksum(&gun, "root", &sha256_hex(&root), MAX)
            .unwrap()
            .unwrap(),
        root
    );

    // Missing things are None, not errors.
    assert_eq!(r.get_by_version(&gun, "root", 99, MAX).unwrap(), None);
    assert_eq!(
        r.get_by_checksum(&gun, "root", &"0".repeat(64), MAX)
            .unwrap(),
        None
    );
    assert_eq!(r.get_current(&gun, "targets/nope", MAX).unwrap(), None);
    assert_eq!(
        r.get_current(&Gun::parse("example.com/none").unwrap(), "root", MAX)
            .unwrap(),
        None
    );

    // Larger than the cap: refused (notary-server sends a root this size chunked, so
    // the cap is enforced while reading; tests/remote_hostile.rs covers Content-Length).
    match r.get_current(&gun, "root", 100).unwrap_err() {
        RemoteError::TooLarge {
            limit: 100,
            declared,
            ..
        } => assert!(declared.is_none_or(|n| n == root.len() as u64)),
        e => panic!("expected TooLarge, got {e}"),
    }
    // Exactly the size is fine.
    assert_eq!(
        r.get_current(&gun, "root", root.len() as u64)
            .unwrap()
            .unwrap(),
        root
    );
    match r
        .get_current(&gun, "root", root.len() as u64 - 1)
        .unwrap_err()
    {
        RemoteError::TooLarge { .. } => {}
        e => panic!("expected TooLarge, got {e}"),
    }
}

#[test]
fn server_keys_and_delete() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun_s = "example.com/keys";
    publish_with_notary(&server, tmp.path(), gun_s);
    let r = remote(&server);
    let gun = Gun::parse(gun_s).unwrap();

    // GET timestamp.key: the ed25519 key that root.json lists for timestamp.
    let key = r.server_key(&gun, "timestamp").unwrap();
    assert_eq!(key.keytype, "ed25519");
    assert_eq!(key.public.len(), 32);
    let root = json(&r.get_current(&gun, "root", MAX).unwrap().unwrap());
    let ts_id = root["signed"]["roles"]["timestamp"]["keyids"][0]
        .as_str()
        .unwrap();
    assert_eq!(key.key_id().as_str(), ts_id);
    assert_eq!(
        root["signed"]["keys"][ts_id]["keyval"]["public"],
        key.public_b64()
    );
    assert_eq!(
        r.server_key(&gun, "timestamp").unwrap(),
        key,
        "stable once a root lists it"
    );

    // POST snapshot.key: a new server key each time.
    let k1 = r.rotate_server_key(&gun, "snapshot").unwrap();
    let k2 = r.rotate_server_key(&gun, "snapshot").unwrap();
    assert_eq!(k1.keytype, "ed25519");
    assert_ne!(k1, k2);
    assert_ne!(k1, key);

    assert!(matches!(
        r.server_key(&gun, "root"),
        Err(RemoteError::InvalidRole { .. })
    ));
    assert!(matches!(
        r.server_key(&gun, "targets"),
        Err(RemoteError::InvalidRole { .. })
    ));

    r.delete(&gun).unwrap();
    assert_eq!(r.get_current(&gun, "root", MAX).unwrap(), None);
    assert_eq!(r.get_current(&gun, "timestamp", MAX).unwrap(), None);
    r.delete(&gun).unwrap(); // 200 even when nothing is there
}

#[test]
fn upload_is_accepted_and_read_by_the_notary_cli() {
    // Take what notary published (including a delegation, whose part is named
    // "targets/releases"), delete it on the server, upload it again with vouch's
    // multipart POST, and let a fresh notary CLI read it.
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun_s = "example.com/upload";
    let n = publish_with_notary(&server, tmp.path(), gun_s);
    add_delegation(&n, tmp.path(), gun_s);
    let r = remote(&server);
    let gun = Gun::parse(gun_s).unwrap();
    let roles = ["root", "targets", "targets/releases", "snapshot"];
    let parts: Vec<(String, Vec<u8>)> = roles
        .iter()
        .map(|role| {
            (
                role.to_string(),
                r.get_current(&gun, role, MAX).unwrap().unwrap(),
            )
        })
        .collect();
    let old_ts = json(&r.get_current(&gun, "timestamp", MAX).unwrap().unwrap());

    r.delete(&gun).unwrap();
    assert_eq!(r.get_current(&gun, "targets/releases", MAX).unwrap(), None);
    r.publish(&gun, &parts).unwrap();
    for (role, bytes) in &parts {
        assert_eq!(
            &r.get_current(&gun, role, MAX).unwrap().unwrap(),
            bytes,
            "{role}"
        );
    }
    // The server signed a fresh timestamp (version 1 again after the delete).
    let ts = json(&r.get_current(&gun, "timestamp", MAX).unwrap().unwrap());
    assert_eq!(ts["signed"]["version"], 1);
    assert!(old_ts["signed"]["version"].as_u64().unwrap() >= 1);

    let fresh = Notary::with_server(&tmp.path().join("fresh-trust"), &server);
    let list = fresh.run(&["list", gun_s]);
    assert!(
        list.contains("v1") && list.contains("rel1") && list.contains("targets/releases"),
        "{list}"
    );
}

#[test]
fn rejected_uploads_surface_the_servers_code() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun_s = "example.com/reject";
    publish_with_notary(&server, tmp.path(), gun_s);
    let r = remote(&server);
    let gun = Gun::parse(gun_s).unwrap();
    let get = |role: &str| r.get_current(&gun, role, MAX).unwrap().unwrap();

    // The same versions again: validation passes, the store refuses (400 VERSION).
    let e = r
        .publish(
            &gun,
            &[
                ("root".into(), get("root")),
                ("targets".into(), get("targets")),
                ("snapshot".into(), get("snapshot")),
            ],
        )
        .unwrap_err();
    match &e {
        RemoteError::Rejected { code, .. } => assert_eq!(code, "VERSION", "{e}"),
        _ => panic!("expected Rejected, got {e}"),
    }
    let err = vouch::Error::from(e);
    assert_eq!(err.exit_code(), ExitCode::Remote);
    assert!(
        vouch::advice::hint(&err).unwrap().contains("newer"),
        "{:?}",
        vouch::advice::hint(&err)
    );

    // targets without snapshot, and the server does not hold the snapshot key.
    let e = r
        .publish(&gun, &[("targets".into(), get("targets"))])
        .unwrap_err();
    assert_eq!(e.code(), Some("INVALID_UPDATE"), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("Update sent by the client is invalid")
            && msg.contains("ErrBadHierarchy")
            && msg.contains("missing snapshot"),
        "{msg}"
    );

    // Not metadata at all.
    let e = r
        .publish(&gun, &[("root".into(), b"this is not json".to_vec())])
        .unwrap_err();
    assert_eq!(e.code(), Some("MALFORMED_JSON"), "{e}");

    // A snapshot whose hashes do not match what the server holds.
    let mut snap = json(&get("snapshot"));
    snap["signed"]["version"] = (snap["signed"]["version"].as_u64().unwrap() + 1).into();
    let e = r
        .publish(
            &gun,
            &[("snapshot".into(), serde_json::to_vec(&snap).unwrap())],
        )
        .unwrap_err();
    assert_eq!(e.code(), Some("INVALID_UPDATE"), "{e}");
    assert!(e.to_string().contains("ErrBadSnapshot"), "{e}");

    // Nothing changed on the server.
    assert_eq!(
        json(&get("targets"))["signed"]["targets"]["v1"]["length"],
        6
    );
}

#[test]
fn gun_prefix_filter_is_reported() {
    let server = NotaryServer::start_with(&ServerConfig {
        gun_prefixes: vec!["allowed.example.com/".into()],
        ..Default::default()
    });
    let r = remote(&server);
    let gun = Gun::parse("other.example.com/app").unwrap();
    let e = r
        .publish(&gun, &[("root".into(), b"{}".to_vec())])
        .unwrap_err();
    assert_eq!(e.code(), Some("INVALID_GUN"), "{e}");
    assert!(e.to_string().contains("Require GUNs with prefix"), "{e}");
    assert!(vouch::advice::remote(&e).unwrap().contains("gun_prefixes"));
    assert_eq!(r.get_current(&gun, "root", MAX).unwrap(), None);
    // GET timestamp.key on such a GUN is a 404: an error, since a key must exist.
    assert!(matches!(
        r.server_key(&gun, "timestamp"),
        Err(RemoteError::NotFound { .. })
    ));
}

#[test]
fn server_down_is_unavailable() {
    let port = {
        let server = NotaryServer::start();
        server.port
    }; // dropped: nothing listens there any more
    let url = format!("http://127.0.0.1:{port}");
    let r = open_remote(&url, &RemoteOptions::default()).unwrap();
    let gun = Gun::parse("example.com/app").unwrap();
    let e = r.get_current(&gun, "root", MAX).unwrap_err();
    match &e {
        RemoteError::Unavailable { url: u, cause, .. } => {
            assert_eq!(u, &format!("{url}/v2/{gun}/_trust/tuf/root.json"));
            assert!(
                cause.to_lowercase().contains("refused") || cause.contains("connect"),
                "{cause}"
            );
        }
        _ => panic!("expected Unavailable, got {e}"),
    }
    assert_eq!(e.exit_code(), ExitCode::Remote);
    assert!(
        vouch::advice::remote(&e).unwrap().contains("--server"),
        "{:?}",
        vouch::advice::remote(&e)
    );
    assert!(matches!(
        r.publish(&gun, &[("root".into(), vec![])]),
        Err(RemoteError::Unavailable { .. })
    ));
    assert!(matches!(
        r.delete(&gun),
        Err(RemoteError::Unavailable { .. })
    ));
}

#[test]
fn not_a_notary_server_and_server_errors() {
    let web = HttpServer::start(|_req| Response::new(404, "404 page not found\n"));
    let r = open_remote(&web.url, &RemoteOptions::default()).unwrap();
    let gun = Gun::parse("example.com/app").unwrap();
    let e = r.get_current(&gun, "root", MAX).unwrap_err();
    assert!(
        matches!(e, RemoteError::NotNotaryServer { status: 404, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("404 page not found"), "{e}");
    assert!(
        vouch::advice::remote(&e)
            .unwrap()
            .contains("static+https://"),
        "{:?}",
        vouch::advice::remote(&e)
    );
    assert_eq!(e.exit_code(), ExitCode::Remote);

    let broken = HttpServer::start(|req| {
        if req.path() == "/v2/" {
            Response::new(200, "{}")
        } else {
            Response::json(
                500,
                r#"{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}"#,
            )
        }
    });
    let r = open_remote(&broken.url, &RemoteOptions::default()).unwrap();
    let e = r.get_current(&gun, "root", MAX).unwrap_err();
    match &e {
        RemoteError::Server {
            status: 500, code, ..
        } => assert_eq!(code.as_deref(), Some("UNKNOWN")),
        _ => panic!("expected Server, got {e}"),
    }
    assert_eq!(e.exit_code(), ExitCode::Remote);
    let down = HttpServer::start(|_| Response::new(503, "maintenance"));
    let e = open_remote(&down.url, &RemoteOptions::default())
        .unwrap()
        .get_current(&gun, "root", MAX)
        .unwrap_err();
    assert!(matches!(e, RemoteError::Server { status: 503, .. }), "{e}");
    assert!(e.to_string().contains("maintenance"), "{e}");
}
