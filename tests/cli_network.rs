//! Network settings a user of a real deployment needs: a TLS notary server whose token
//! service is plain HTTP (credentials refused, and an explicit override), and request
//! timeouts from a flag, the environment or the config file. Against the real
//! notary-server with a real token service.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::tls::make_tls_files;
use support::token::TokenServer;
use support::{fails, ok, NotaryServer, ServerConfig};

fn tag_pair(gun: &str, tag: &str, size: u64) -> String {
    let d = hex::encode(Sha256::digest(format!("manifest {tag}").as_bytes()));
    format!("{gun}:{tag}=sha256:{d}:{size}")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn vouch(trust: &Path) -> assert_cmd::Command {
    support::vouch(trust)
}

#[test]
fn credentials_are_not_sent_to_a_plain_http_token_service_of_a_tls_server_unless_allowed() {
    let token = TokenServer::start(&[("alice", "s3cret", false)]);
    assert!(token.realm.starts_with("http://"), "{}", token.realm);
    let files = make_tls_files();
    let server = NotaryServer::start_with(&ServerConfig {
        tls: Some((files.server_cert.clone(), files.server_key.clone())),
        auth: Some(token.notary_auth_block()),
        ..Default::default()
    });
    assert!(server.url.starts_with("https://"));
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/plain-token/app";
    let with_creds = || {
        let mut c = vouch(&trust);
        c.args(["--server", &server.url, "--tls-ca-cert", s(&files.ca_cert)])
            .env("VOUCH_USERNAME", "alice")
            .env("VOUCH_PASSWORD", "s3cret");
        c
    };

    let out = fails(with_creds(), &["init", gun], 3);
    assert!(
        out.stderr
            .contains("vouch refused to send credentials over plain HTTP to the token service")
            && out.stderr.contains(&token.realm),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--allow-http-token-service"),
        "{}",
        out.stderr
    );
    assert!(
        token.requests().iter().all(|r| r.basic_user.is_none()),
        "credentials reached the token service: {:?}",
        token.requests()
    );

    // The explicit override, from the flag, the environment or the config file.
    let mut c = with_creds();
    c.arg("--allow-http-token-service");
    ok(c, &["init", gun]);
    assert!(token
        .requests()
        .iter()
        .any(|r| r.basic_user.as_deref() == Some("alice")));
    let mut c = with_creds();
    c.env("VOUCH_ALLOW_HTTP_TOKEN_SERVICE", "1");
    ok(c, &["sign", &tag_pair(gun, "v1", 1)]);
    let cfg = tmp.path().join("config.json");
    std::fs::write(&cfg, r#"{"allow_http_token_service": true}"#).unwrap();
    let mut c = with_creds();
    c.args(["--config", s(&cfg)]);
    ok(c, &["sign", &tag_pair(gun, "v2", 2)]);
    // config show says where it came from.
    let mut c = vouch(&trust);
    c.args(["--config", s(&cfg), "--output", "json"]);
    let out = ok(c, &["config", "show"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["settings"]["allow_http_token_service"]["value"], true);

    // Reading anonymously needs no credentials and is not refused.
    let mut c = vouch(&trust);
    c.args(["--server", &server.url, "--tls-ca-cert", s(&files.ca_cert)]);
    let out = ok(c, &["list", gun]);
    assert!(out.stdout.contains("v2"), "{}", out.stdout);
}

/// A server that accepts connections and never answers.
fn silent_server() -> support::httpd::HttpServer {
    support::httpd::HttpServer::start_raw(|stream| {
        std::thread::sleep(Duration::from_secs(30));
        drop(stream);
    })
}

#[test]
fn request_timeouts_come_from_the_flag_the_environment_or_the_config_file() {
    let silent = silent_server();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/slow/app";
    let read = |mut c: assert_cmd::Command, extra: &[&str]| {
        c.args(["--server", &silent.url, "--tofu"]).args(extra);
        let start = Instant::now();
        let out = fails(c, &["list", gun], 3);
        (start.elapsed(), out)
    };
    let (took, out) = read(vouch(&trust), &["--timeout", "1s"]);
    assert!(took < Duration::from_secs(4), "{took:?}: {}", out.stderr);
    assert!(
        out.stderr.contains("timeout") || out.stderr.contains("timed out"),
        "{}",
        out.stderr
    );

    let mut c = vouch(&trust);
    c.env("VOUCH_TIMEOUT", "1");
    let (took, _) = read(c, &[]);
    assert!(took < Duration::from_secs(4), "{took:?}");

    let cfg = tmp.path().join("config.json");
    std::fs::write(&cfg, r#"{"timeout": "1s"}"#).unwrap();
    let (took, _) = read(vouch(&trust), &["--config", s(&cfg)]);
    assert!(took < Duration::from_secs(4), "{took:?}");
    let mut c = vouch(&trust);
    c.args(["--config", s(&cfg), "--output", "json"]);
    let out = ok(c, &["config", "show"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["settings"]["timeout"]["value"], "1s");
    assert!(
        v["settings"]["timeout"]["source"]
            .as_str()
            .unwrap()
            .contains("config.json"),
        "{v}"
    );

    // The default is longer than that: the same read takes the 5 s first-request limit.
    let (took, _) = read(vouch(&trust), &[]);
    assert!(took >= Duration::from_secs(4), "{took:?}");

    // A value that is not a duration: exit 2, naming it.
    let out = fails(
        vouch(&trust),
        &["--timeout", "soon", "--server", &silent.url, "list", gun],
        2,
    );
    assert!(out.stderr.contains("--timeout \"soon\""), "{}", out.stderr);
}

/// The same timeout applies to the image's registry: a registry that accepts the
/// connection and never answers fails the sign within the timeout given (exit 3), not the
/// longer default.
#[test]
fn a_registry_that_never_answers_is_given_up_on_at_the_timeout() {
    let silent = silent_server();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let host = silent
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let gun = format!("{host}/team/app");
    ok(vouch(&trust), &["init", &gun]);
    let sign = |extra: &[&str]| {
        let mut c = vouch(&trust);
        c.args(extra);
        let start = Instant::now();
        let out = fails(c, &["sign", &format!("{gun}:1.0")], 3);
        (start.elapsed(), out)
    };
    let (took, out) = sign(&["--timeout", "1s"]);
    assert!(took < Duration::from_secs(4), "{took:?}: {}", out.stderr);
    assert!(out.stderr.contains(&host), "{}", out.stderr);
    let (took, _) = sign(&[]);
    assert!(
        took >= Duration::from_secs(4),
        "the default is longer: {took:?}"
    );
    let status = ok(vouch(&trust), &["status", &gun]).stdout;
    assert!(
        !status.contains("1.0"),
        "a failed sign keeps nothing: {status}"
    );
}
