//! The conventions a user of `docker trust`, `notary` and other modern CLIs expects: the
//! server named in the environment (VOUCH_SERVER, DOCKER_CONTENT_TRUST_SERVER) and never
//! a silent fallback, config typos refused, `config show`, completions and man pages, JSON
//! error objects, usage errors in vouch's own form. Against the real notary-server and
//! the real `notary` CLI where a server is involved.

mod support;

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{fails, list_rows, ok, run, Notary, NotaryServer};

fn digest(seed: &str) -> String {
    hex::encode(Sha256::digest(format!("manifest {seed}").as_bytes()))
}

fn tag_pair(gun: &str, tag: &str, size: u64) -> String {
    format!("{gun}:{tag}=sha256:{}:{size}", digest(tag))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s:?}"))
}

/// `vouch` with a trust dir and the test passphrases, nothing from the environment that
/// names a server or credentials.
fn vouch(trust: &Path) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    for v in ["NOTARY_AUTH", "VOUCH_USERNAME", "VOUCH_PASSWORD", "DOCKER_CONFIG"] {
        c.env_remove(v);
    }
    c
}

// ---------------------------------------------------------------------------------------
// 1. The server from the environment

#[test]
fn docker_content_trust_server_is_where_init_and_sign_publish() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/env/app";
    let with_env = || {
        let mut c = vouch(&trust);
        c.env("DOCKER_CONTENT_TRUST_SERVER", &server.url);
        c
    };
    let init = ok(with_env(), &["init", gun]);
    assert!(
        !init.stderr.contains("static repository"),
        "{}",
        init.stderr
    );
    ok(with_env(), &["sign", &tag_pair(gun, "v1", 401)]);
    assert!(
        !trust.join("repository").exists(),
        "nothing may go to the default static repository"
    );
    // The real notary CLI reads it back from the server.
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![(
            "v1".to_owned(),
            digest("v1"),
            401,
            "targets".to_owned()
        )]
    );

    // VOUCH_SERVER wins over DOCKER_CONTENT_TRUST_SERVER, --server over both.
    let mut c = vouch(&trust);
    c.env("VOUCH_SERVER", &server.url)
        .env("DOCKER_CONTENT_TRUST_SERVER", "not a url");
    ok(c, &["sign", &tag_pair(gun, "v2", 402)]);
    let mut c = vouch(&trust);
    c.env("VOUCH_SERVER", "notary.example.com:4443")
        .env("DOCKER_CONTENT_TRUST_SERVER", "not a url");
    ok(c, &["-s", &server.url, "sign", &tag_pair(gun, "v3", 403)]);
    let names: Vec<String> = list_rows(&n.run(&["list", gun]))
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, ["v1", "v2", "v3"]);
}

#[test]
fn an_unusable_server_from_the_environment_is_an_error_naming_the_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    for (var, value) in [
        ("DOCKER_CONTENT_TRUST_SERVER", "notary.example.com:4443"),
        ("VOUCH_SERVER", "ftp://notary.example.com"),
    ] {
        let mut c = vouch(&trust);
        c.env(var, value);
        let out = fails(c, &["init", "example.com/env/bad"], 2);
        assert!(
            out.stderr.starts_with(&format!("vouch: error: {var}: ")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(value), "{}", out.stderr);
        assert!(!trust.join("repository").exists());
    }
}

#[test]
fn a_config_remote_server_without_a_url_is_an_error_not_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    std::fs::create_dir_all(&trust).unwrap();
    let cfg = trust.join("config.json");
    std::fs::write(&cfg, r#"{"remote_server": {"url": ""}}"#).unwrap();
    let out = fails(vouch(&trust), &["init", "example.com/cfg/app"], 2);
    assert!(
        out.stderr.contains(&cfg.display().to_string())
            && out.stderr.contains("remote_server has no url"),
        "{}",
        out.stderr
    );
    assert!(!trust.join("repository").exists());

    // A config file that names no server: the default is used, and said so.
    std::fs::write(&cfg, r#"{"trust_pinning": {}}"#).unwrap();
    let out = ok(vouch(&trust), &["init", "example.com/cfg/app"]);
    assert!(
        out.stderr.contains(&format!(
            "({} names no server)",
            cfg.display()
        )),
        "{}",
        out.stderr
    );
    let _ = s(&cfg);
}
