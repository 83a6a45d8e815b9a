//! Static repositories: `file://DIR` written and read by vouch, the same directory served by
//! a plain web server and read over `static+http://`, and the real notary CLI reading it
//! like a notary-server when it is served under `/v2/`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use support::httpd::{HttpServer, Request, Response};
use support::{Notary, NotaryServer};
use vouch::remote::limits::MAX_DOWNLOAD_SIZE as MAX;
use vouch::remote::{open_remote, CredentialLookup, Gun, RemoteError, RemoteOptions};

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Serves files under `root` at `prefix` (e.g. "/trust" or "/v2"); `/v2/` itself is 200 `{}`
/// (what notary's ping wants). Optionally requires basic auth.
fn serve_dir(
    root: PathBuf,
    prefix: &'static str,
    basic: Option<(&'static str, &'static str)>,
) -> HttpServer {
    HttpServer::start(move |req: &Request| {
        if let Some((u, p)) = basic {
            if req.basic_auth() != Some((u.to_owned(), p.to_owned())) {
                return Response::new(401, "")
                    .with_header("WWW-Authenticate", "Basic realm=\"static\"");
            }
        }
        if req.path() == "/v2/" {
            return Response::new(200, "{}");
        }
        let Some(rel) = req
            .path()
            .strip_prefix(prefix)
            .and_then(|p| p.strip_prefix('/'))
        else {
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

fn meta(ty: &str, version: u64, extra: &str) -> Vec<u8> {
    format!(r#"{{"signed":{{"_type":"{ty}","expires":"2030-01-01T00:00:00Z",{extra}"version":{version}}},"signatures":[]}}"#).into_bytes()
}

#[test]
fn file_repository_round_trip_and_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let r = open_remote(&file_url(&dir), &RemoteOptions::default()).unwrap();
    assert!(!r.signs_timestamp());
    assert_eq!(r.describe(), format!("static repository {}", dir.display()));
    let gun = Gun::parse("127.0.0.1:5000/team/app").unwrap();
    assert_eq!(r.get_current(&gun, "root", MAX).unwrap(), None);

    let root = meta("Root", 1, "");
    let targets = meta("Targets", 2, r#""targets":{},"#);
    let releases = meta("Targets", 1, "");
    let snapshot = meta("Snapshot", 2, "");
    let timestamp = meta("Timestamp", 1, "");
    let parts = vec![
        ("timestamp".to_owned(), timestamp.clone()),
        ("snapshot".to_owned(), snapshot.clone()),
        ("targets/releases".to_owned(), releases.clone()),
        ("targets".to_owned(), targets.clone()),
        ("root".to_owned(), root.clone()),
    ];
    r.publish(&gun, &parts).unwrap();

    // The server's paths, under DIR.
    let tuf = dir.join("127.0.0.1:5000/team/app/_trust/tuf");
    for (name, bytes) in [
        ("root.json".to_owned(), &root),
        ("1.root.json".to_owned(), &root),
        (format!("root.{}.json", sha256_hex(&root)), &root),
        ("targets/releases.json".to_owned(), &releases),
        ("1.targets/releases.json".to_owned(), &releases),
        (
            format!("targets/releases.{}.json", sha256_hex(&releases)),
            &releases,
        ),
        ("2.targets.json".to_owned(), &targets),
        ("timestamp.json".to_owned(), &timestamp),
    ] {
        assert_eq!(
            &std::fs::read(tuf.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}")),
            bytes,
            "{name}"
        );
    }
    for (role, bytes) in &parts {
        assert_eq!(
            r.get_current(&gun, role, MAX).unwrap().as_ref(),
            Some(bytes)
        );
        assert_eq!(
            r.get_by_checksum(&gun, role, &sha256_hex(bytes), MAX)
                .unwrap()
                .as_ref(),
            Some(bytes)
        );
    }
    assert_eq!(
        r.get_by_version(&gun, "targets", 2, MAX).unwrap(),
        Some(targets.clone())
    );
    assert_eq!(r.get_by_version(&gun, "targets", 1, MAX).unwrap(), None);

    // Version rule, like the server's 400 VERSION; a refused upload changes nothing.
    let before = support::snapshot_tree(&dir);
    let e = r
        .publish(&gun, &[("targets".into(), meta("Targets", 2, ""))])
        .unwrap_err();
    assert_eq!(e.code(), Some("VERSION"), "{e}");
    assert!(
        e.to_string()
            .contains("not newer than the stored version 2"),
        "{e}"
    );
    assert_eq!(e.exit_code(), vouch::ExitCode::Remote);
    let e = r
        .publish(
            &gun,
            &[
                ("snapshot".into(), meta("Snapshot", 3, "")),
                ("root".into(), meta("Root", 1, "")),
            ],
        )
        .unwrap_err();
    assert_eq!(e.code(), Some("VERSION"));
    let e = r
        .publish(&gun, &[("targets".into(), b"garbage".to_vec())])
        .unwrap_err();
    assert_eq!(e.code(), Some("MALFORMED_JSON"));
    assert_eq!(
        support::snapshot_tree(&dir),
        before,
        "refused uploads wrote nothing"
    );

    // Newer versions go through; old by-version copies stay readable.
    r.publish(
        &gun,
        &[
            ("targets".into(), meta("Targets", 3, "")),
            ("snapshot".into(), meta("Snapshot", 3, "")),
        ],
    )
    .unwrap();
    assert_eq!(
        r.get_current(&gun, "targets", MAX).unwrap(),
        Some(meta("Targets", 3, ""))
    );
    assert_eq!(
        r.get_by_version(&gun, "targets", 2, MAX).unwrap(),
        Some(targets)
    );

    // No server keys here.
    assert!(matches!(
        r.server_key(&gun, "timestamp"),
        Err(RemoteError::NotSupported { .. })
    ));

    r.delete(&gun).unwrap();
    assert_eq!(r.get_current(&gun, "root", MAX).unwrap(), None);
    // A plain path works as well as file://.
    let plain = open_remote(dir.to_str().unwrap(), &RemoteOptions::default()).unwrap();
    assert_eq!(plain.get_current(&gun, "root", MAX).unwrap(), None);
}

#[test]
fn readers_never_see_a_half_written_set() {
    // A writer publishes snapshot+timestamp pairs; the timestamp names its snapshot's
    // checksum. A reader going timestamp → snapshot-by-checksum must always find it.
    let tmp = tempfile::tempdir().unwrap();
    let url = file_url(&tmp.path().join("repo"));
    let gun = Gun::parse("example.com/race").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (url, gun, done) = (url.clone(), gun.clone(), done.clone());
        std::thread::spawn(move || {
            let r = open_remote(&url, &RemoteOptions::default()).unwrap();
            let mut checked = 0;
            while !done.load(Ordering::SeqCst) {
                let Some(ts) = r.get_current(&gun, "timestamp", MAX).unwrap() else {
                    continue;
                };
                let v: serde_json::Value = serde_json::from_slice(&ts).unwrap();
                let sum = v["signed"]["snapshot_sha256"].as_str().unwrap().to_owned();
                let snap = r.get_by_checksum(&gun, "snapshot", &sum, MAX).unwrap();
                assert!(
                    snap.is_some(),
                    "timestamp {} names a snapshot that is not there",
                    v["signed"]["version"]
                );
                checked += 1;
            }
            checked
        })
    };
    let w = open_remote(&url, &RemoteOptions::default()).unwrap();
    for v in 1..=60u64 {
        let snap = meta(
            "Snapshot",
            v,
            &format!(r#""n":"{}","#, "x".repeat(v as usize * 100)),
        );
        let ts = meta(
            "Timestamp",
            v,
            &format!(r#""snapshot_sha256":"{}","#, sha256_hex(&snap)),
        );
        w.publish(&gun, &[("timestamp".into(), ts), ("snapshot".into(), snap)])
            .unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let checked = reader.join().unwrap();
    assert!(checked > 0);
}

#[test]
fn concurrent_publishers_are_serialised() {
    let tmp = tempfile::tempdir().unwrap();
    let url = file_url(&tmp.path().join("repo"));
    let gun = Gun::parse("example.com/many").unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (url, gun) = (url.clone(), gun.clone());
            std::thread::spawn(move || {
                let r = open_remote(&url, &RemoteOptions::default()).unwrap();
                // Everybody tries version 1; exactly one may win.
                r.publish(
                    &gun,
                    &[(
                        "targets".into(),
                        meta("Targets", 1, &format!(r#""by":{i},"#)),
                    )],
                )
                .map_err(|e| e.code().map(str::to_owned))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| r.as_ref().unwrap_err().as_deref() == Some("VERSION")),
        "{results:?}"
    );
}

#[test]
fn served_over_http_is_readable_and_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let gun = Gun::parse("example.com/web").unwrap();
    let w = open_remote(&file_url(&dir), &RemoteOptions::default()).unwrap();
    let root = meta("Root", 1, "");
    let ts = meta("Timestamp", 1, "");
    w.publish(
        &gun,
        &[
            ("root".into(), root.clone()),
            ("timestamp".into(), ts.clone()),
        ],
    )
    .unwrap();

    let web = serve_dir(dir.clone(), "/trust", None);
    let r = open_remote(
        &format!("static+{}/trust/", web.url),
        &RemoteOptions::default(),
    )
    .unwrap();
    assert_eq!(r.describe(), format!("static repository {}/trust", web.url));
    assert!(!r.signs_timestamp());
    assert_eq!(
        r.get_current(&gun, "root", MAX).unwrap(),
        Some(root.clone())
    );
    assert_eq!(
        r.get_by_version(&gun, "root", 1, MAX).unwrap(),
        Some(root.clone())
    );
    assert_eq!(
        r.get_by_checksum(&gun, "timestamp", &sha256_hex(&ts), MAX)
            .unwrap(),
        Some(ts)
    );
    assert_eq!(r.get_current(&gun, "snapshot", MAX).unwrap(), None);
    assert!(matches!(
        r.get_current(&gun, "root", 5),
        Err(RemoteError::TooLarge { .. })
    ));
    let e = r
        .publish(&gun, &[("root".into(), meta("Root", 2, ""))])
        .unwrap_err();
    assert!(matches!(e, RemoteError::NotSupported { .. }), "{e}");
    assert!(e.to_string().contains("read-only"), "{e}");
    assert!(matches!(
        r.delete(&gun),
        Err(RemoteError::NotSupported { .. })
    ));

    // Behind basic auth: credentials from Docker's config for that host.
    let locked = serve_dir(dir, "/trust", Some(("bob", "pw")));
    let url = format!("static+{}/trust", locked.url);
    let e = open_remote(&url, &RemoteOptions::default())
        .unwrap()
        .get_current(&gun, "root", MAX)
        .unwrap_err();
    assert!(
        matches!(e, RemoteError::Unauthorized { status: 401, .. }),
        "{e}"
    );
    let cfg = tmp.path().join("config.json");
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#,
            locked.port
        ),
    )
    .unwrap();
    let opts = RemoteOptions {
        credentials: CredentialLookup {
            docker_config: Some(cfg),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        open_remote(&url, &opts)
            .unwrap()
            .get_current(&gun, "root", MAX)
            .unwrap(),
        Some(root)
    );
}

#[test]
fn the_notary_cli_reads_a_static_repository_served_under_v2() {
    // Metadata published by notary to a real server, copied into a static repository by
    // vouch, served by a plain file server under /v2/: notary reads it as if it were the server.
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun_s = "example.com/mirror";
    let n = Notary::with_server(&tmp.path().join("trust"), &server);
    n.run(&["init", "-p", gun_s]);
    let hello = tmp.path().join("hello.txt");
    std::fs::write(&hello, "hello\n").unwrap();
    n.run(&["add", "-p", gun_s, "v1", hello.to_str().unwrap()]);

    let gun = Gun::parse(gun_s).unwrap();
    let src = open_remote(&server.url, &RemoteOptions::default()).unwrap();
    let parts: Vec<(String, Vec<u8>)> = ["root", "targets", "snapshot", "timestamp"]
        .iter()
        .map(|role| {
            (
                role.to_string(),
                src.get_current(&gun, role, MAX).unwrap().unwrap(),
            )
        })
        .collect();
    let dir = tmp.path().join("static");
    open_remote(&file_url(&dir), &RemoteOptions::default())
        .unwrap()
        .publish(&gun, &parts)
        .unwrap();
    drop(server);

    let web = serve_dir(dir, "/v2", None);
    let reader = Notary {
        trust_dir: tmp.path().join("fresh"),
        server: Some(web.url.clone()),
    };
    let out = reader.run(&["lookup", gun_s, "v1"]);
    assert!(
        out.starts_with(
            "v1 sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 6"
        ),
        "{out}"
    );
    // And vouch reads the same bytes back through either remote kind.
    let via_static =
        open_remote(&format!("static+{}/v2", web.url), &RemoteOptions::default()).unwrap();
    for (role, bytes) in &parts {
        assert_eq!(
            via_static.get_current(&gun, role, MAX).unwrap().as_ref(),
            Some(bytes),
            "{role}"
        );
    }
}

/// A role's current name is a hard link to its checksum-named copy, written first: switching
/// the current names writes no new data, so a disk that fills up cannot stop the switch
/// halfway. The next version relinks the current name; the old copy keeps its bytes.
#[test]
fn current_names_are_links_to_the_copies_written_first() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let r = open_remote(&file_url(&dir), &RemoteOptions::default()).unwrap();
    let gun = Gun::parse("example.com/links").unwrap();
    let tuf = dir.join("example.com/links/_trust/tuf");
    let inode = |name: &str| {
        let m = std::fs::metadata(tuf.join(name)).unwrap();
        (m.dev(), m.ino())
    };

    let v1 = meta("Timestamp", 1, "");
    r.publish(&gun, &[("timestamp".into(), v1.clone())])
        .unwrap();
    let copy1 = format!("timestamp.{}.json", sha256_hex(&v1));
    assert_eq!(inode("timestamp.json"), inode(&copy1));

    let v2 = meta("Timestamp", 2, "");
    r.publish(&gun, &[("timestamp".into(), v2.clone())])
        .unwrap();
    let copy2 = format!("timestamp.{}.json", sha256_hex(&v2));
    assert_eq!(inode("timestamp.json"), inode(&copy2));
    assert_eq!(std::fs::read(tuf.join("timestamp.json")).unwrap(), v2);
    assert_eq!(std::fs::read(tuf.join(&copy1)).unwrap(), v1);
    // No temporary names are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&tuf)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
