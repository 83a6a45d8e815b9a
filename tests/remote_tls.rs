//! notary-server over TLS with a self-signed CA (test-servers §2.3).

mod support;

use support::tls::make_tls_files;
use support::{Notary, NotaryServer, ServerConfig};
use vouch::remote::config::{RemoteConfig, RemoteOverrides};
use vouch::remote::{open_remote, Gun, RemoteError, RemoteOptions, TlsOptions};
use vouch::ExitCode;

const MAX: u64 = 1 << 20;

fn with_tls(tls: TlsOptions) -> RemoteOptions {
    RemoteOptions {
        tls,
        ..Default::default()
    }
}

#[test]
fn self_signed_ca() {
    let files = make_tls_files();
    let server = NotaryServer::start_with(&ServerConfig {
        tls: Some((files.server_cert.clone(), files.server_key.clone())),
        ..Default::default()
    });
    assert!(server.url.starts_with("https://127.0.0.1:"));
    let tmp = tempfile::tempdir().unwrap();
    let gun_s = "example.com/tls";
    let n = Notary::with_server(&tmp.path().join("trust"), &server);
    let out = n
        .cmd()
        .args([
            "--tlscacert",
            files.ca_cert.to_str().unwrap(),
            "init",
            "-p",
            gun_s,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let gun = Gun::parse(gun_s).unwrap();

    // With the CA: works, for metadata and keys.
    let ca_only = TlsOptions {
        ca_cert: Some(files.ca_cert.clone()),
        ..Default::default()
    };
    let r = open_remote(&server.url, &with_tls(ca_only.clone())).unwrap();
    let root = r
        .get_current(&gun, "root", MAX)
        .unwrap()
        .expect("root.json over TLS");
    assert_eq!(r.server_key(&gun, "timestamp").unwrap().keytype, "ed25519");
    // The host name in the URL may be the DNS SAN as well.
    let by_name = server.url.replace("127.0.0.1", "localhost");
    assert_eq!(
        open_remote(&by_name, &with_tls(ca_only.clone()))
            .unwrap()
            .get_current(&gun, "root", MAX)
            .unwrap()
            .unwrap(),
        root
    );

    // With a client certificate (the server does not ask for one; it must load and not get in the way).
    let with_client = TlsOptions {
        ca_cert: Some(files.ca_cert.clone()),
        client_cert: Some(files.client_cert.clone()),
        client_key: Some(files.client_key.clone()),
        insecure_skip_verify: false,
        extra_ca_certs: Vec::new(),
    };
    assert_eq!(
        open_remote(&server.url, &with_tls(with_client))
            .unwrap()
            .get_current(&gun, "root", MAX)
            .unwrap()
            .unwrap(),
        root
    );

    // Without the CA (system roots only): a TLS error that says what to do.
    let e = open_remote(&server.url, &RemoteOptions::default())
        .unwrap()
        .get_current(&gun, "root", MAX)
        .unwrap_err();
    match &e {
        RemoteError::Tls { url, cause } => {
            // The request that failed: the first one goes out without a probe in front.
            assert_eq!(
                url,
                &format!("{}/v2/{gun}/_trust/tuf/root.json", server.url)
            );
            assert!(
                cause.contains("UnknownIssuer") || cause.to_lowercase().contains("certificate"),
                "{cause}"
            );
        }
        _ => panic!("expected Tls, got {e}"),
    }
    assert_eq!(e.exit_code(), ExitCode::Remote);
    assert!(
        vouch::advice::remote(&e).unwrap().contains("--tls-ca-cert"),
        "{:?}",
        vouch::advice::remote(&e)
    );

    // Another CA is not good enough either: the given CA replaces the system roots and is
    // the only anchor.
    let other = make_tls_files();
    let e = open_remote(
        &server.url,
        &with_tls(TlsOptions {
            ca_cert: Some(other.ca_cert.clone()),
            ..Default::default()
        }),
    )
    .unwrap()
    .get_current(&gun, "root", MAX)
    .unwrap_err();
    assert!(matches!(e, RemoteError::Tls { .. }), "{e}");

    // notary's skipTLSVerify, when the user sets it explicitly.
    let skip = TlsOptions {
        insecure_skip_verify: true,
        ..Default::default()
    };
    assert_eq!(
        open_remote(&server.url, &with_tls(skip))
            .unwrap()
            .get_current(&gun, "root", MAX)
            .unwrap()
            .unwrap(),
        root
    );

    // Plain HTTP to the TLS port: the server's answer is shown.
    let plain = server.url.replace("https://", "http://");
    let e = open_remote(&plain, &RemoteOptions::default())
        .unwrap()
        .get_current(&gun, "root", MAX)
        .unwrap_err();
    assert!(
        matches!(e, RemoteError::NotNotaryServer { status: 400, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("HTTP request to an HTTPS server"),
        "{e}"
    );
    assert!(
        vouch::advice::remote(&e).unwrap().contains("use https://"),
        "{:?}",
        vouch::advice::remote(&e)
    );

    // The config file route: notary's remote_server block, root_ca relative to the file.
    let cfg_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&files.ca_cert, cfg_dir.path().join("ca.crt")).unwrap();
    let cfg_path = cfg_dir.path().join("config.json");
    std::fs::write(
        &cfg_path,
        format!(
            r#"{{"remote_server":{{"url":"{}","root_ca":"ca.crt"}}}}"#,
            server.url
        ),
    )
    .unwrap();
    let cfg = RemoteConfig::load(&cfg_path).unwrap();
    let resolved = cfg
        .resolve(Some(&gun), &RemoteOverrides::default(), tmp.path())
        .unwrap();
    assert_eq!(resolved.url, server.url);
    assert_eq!(
        resolved.tls.ca_cert.as_deref(),
        Some(cfg_dir.path().join("ca.crt").as_path())
    );
    let r = open_remote(&resolved.url, &with_tls(resolved.tls)).unwrap();
    assert_eq!(r.get_current(&gun, "root", MAX).unwrap().unwrap(), root);
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_error() {
    let server = NotaryServer::start();
    let url = server.url.replace("http://", "https://");
    let e = open_remote(&url, &RemoteOptions::default())
        .unwrap()
        .get_current(&Gun::parse("example.com/x").unwrap(), "root", MAX)
        .unwrap_err();
    assert!(matches!(e, RemoteError::Tls { .. }), "{e}");
    assert!(
        vouch::advice::remote(&e)
            .unwrap()
            .contains("does not speak TLS"),
        "{:?}",
        vouch::advice::remote(&e)
    );
}

#[test]
fn unusable_tls_files_are_usage_errors() {
    let files = make_tls_files();
    // Key and certificate swapped.
    let bad = TlsOptions {
        client_cert: Some(files.client_key.clone()),
        client_key: Some(files.client_key.clone()),
        ..Default::default()
    };
    let e = open_remote("https://127.0.0.1:9", &with_tls(bad))
        .err()
        .expect("refused");
    assert!(matches!(e, RemoteError::TlsSetup { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Usage);
    let missing = TlsOptions {
        ca_cert: Some(files.dir.path().join("nope.crt")),
        ..Default::default()
    };
    let e = open_remote("https://127.0.0.1:9", &with_tls(missing))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("nope.crt"), "{e}");
    assert!(vouch::advice::remote(&e).unwrap().contains("--tls-ca-cert"));
}

/// As `docker trust` does, vouch takes a notary server's CA from Docker's
/// `$DOCKER_CONFIG/tls/<host:port>/` when nothing else names one: without it the server's
/// certificate is unknown (exit 3; `list` answers from the cache with a warning); with
/// `ca.crt` there, the same commands work.
#[test]
fn docker_tls_directory_gives_the_notary_servers_ca() {
    let files = make_tls_files();
    let server = NotaryServer::start_with(&ServerConfig {
        tls: Some((files.server_cert.clone(), files.server_key.clone())),
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let gun = "example.com/docker-tls";
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let vouch = || {
        let mut c = support::vouch(&trust);
        c.args(["--server", &server.url])
            .env("DOCKER_CONFIG", &docker)
            .env_remove("NOTARY_AUTH");
        c
    };
    let ca = files.ca_cert.display().to_string();
    support::ok(vouch(), &["--tls-ca-cert", &ca, "init", gun]);

    // Without the CA: reading the server fails (exit 3); `list` falls back to the
    // verified cache and says why.
    let lock = tmp.path().join("lock.json");
    let out = support::fails(
        vouch(),
        &["--trust-lock", lock.to_str().unwrap(), "trust", "pin", gun],
        3,
    );
    assert!(out.stderr.contains("TLS connection"), "{}", out.stderr);
    let out = support::ok(vouch(), &["list", gun]);
    assert!(
        out.stderr.contains("TLS connection") && out.stderr.contains("verified cache"),
        "{}",
        out.stderr
    );

    let host = server.url.trim_start_matches("https://");
    let dir = docker.join("tls").join(host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&files.ca_cert, dir.join("ca.crt")).unwrap();
    support::ok(vouch(), &["list", gun]);
    support::ok(
        vouch(),
        &["sign", &format!("{gun}:v1=sha256:{}:10", "a".repeat(64))],
    );
    let rows = support::list_rows(&support::ok(vouch(), &["list", gun]).stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
}
