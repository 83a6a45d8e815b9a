//! `-v` tells what happens (the server, each request with its status and time, where
//! trust data came from, roles and versions) and never a credential; `-q` keeps only
//! answers and errors. Against the real notary-server with a real token service.

mod support;

use std::path::Path;

use sha2::{Digest, Sha256};
use support::token::TokenServer;
use support::{ok, NotaryServer, ServerConfig};

fn vouch(trust: &Path, server: &str) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.args(["--server", server]);
    c
}

#[test]
fn verbose_verify_names_its_requests_and_quiet_keeps_only_the_answer() {
    let token = TokenServer::start(&[("alice", "s3cret", false)]);
    let server = NotaryServer::start_with(&ServerConfig {
        auth: Some(token.notary_auth_block()),
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/verbose/app";
    let d = hex::encode(Sha256::digest(b"manifest v1"));
    let with_creds = || {
        let mut c = vouch(&trust, &server.url);
        c.env("VOUCH_USERNAME", "alice")
            .env("VOUCH_PASSWORD", "s3cret");
        c
    };
    ok(with_creds(), &["init", gun]);
    ok(with_creds(), &["sign", &format!("{gun}:v1=sha256:{d}:10")]);

    let image = format!("{gun}:v1");
    // A deploy machine's first read (a fresh trust dir): every role is fetched.
    let deploy = tmp.path().join("deploy");
    let out = ok(
        vouch(&deploy, &server.url),
        &["-v", "--tofu", "verify", &image],
    );
    assert_eq!(out.stdout.trim(), format!("{gun}@sha256:{d}"));
    let base = format!("{}/v2/{gun}/_trust/tuf/", server.url);
    // The server used and where it came from.
    assert!(
        out.stderr
            .contains(&format!("vouch: {gun}: {} (from --server)", server.url)),
        "{}",
        out.stderr
    );
    // Each request: method, URL, status and time.
    let requests: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("vouch: GET "))
        .collect();
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert!(
            requests
                .iter()
                .any(|l| l.starts_with(&format!("vouch: GET {base}{role}."))
                    && l.contains(".json -> 200 (")
                    && l.ends_with(" ms)")),
            "no GET of {role} metadata in:\n{}",
            out.stderr
        );
    }
    // The token service's requests too, with no credential in them.
    assert!(
        requests.iter().any(|l| l.contains(&token.realm)),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    // Where the trust data came from, the anchor, roles and versions.
    assert!(
        out.stderr.contains(&format!(
            "vouch: {gun}: trust data from notary server {}, root anchored by tofu",
            server.url
        )) && out.stderr.contains("root v1")
            && out.stderr.contains("targets v"),
        "{}",
        out.stderr
    );
    // Warm: only the timestamp is asked for (the rest is unchanged in the cache).
    let out = ok(with_creds(), &["-v", "verify", &image]);
    let gets: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with(&format!("vouch: GET {base}")))
        .collect();
    assert!(
        gets.iter().all(|l| l.contains("/timestamp.json ")) && !gets.is_empty(),
        "{}",
        out.stderr
    );
    // Without -v, none of it.
    let out = ok(with_creds(), &["verify", &image]);
    assert!(!out.stderr.contains("vouch: GET"), "{}", out.stderr);
    // Offline: the cache, said as such, and no request.
    let out = ok(with_creds(), &["-v", "verify", &image, "--offline"]);
    assert!(
        out.stderr
            .contains(&format!("vouch: {gun}: trust data from the local cache")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("vouch: GET"), "{}", out.stderr);

    // -q: only the answer. A fresh trust dir with --tofu would warn loudly; -q silences it.
    let fresh = tmp.path().join("fresh");
    let out = ok(vouch(&fresh, &server.url), &["--tofu", "verify", &image]);
    assert!(out.stderr.contains("TRUST ON FIRST USE"), "{}", out.stderr);
    let fresh2 = tmp.path().join("fresh2");
    let out = ok(
        vouch(&fresh2, &server.url),
        &["-q", "--tofu", "verify", &image],
    );
    assert_eq!(out.stderr, "");
    assert_eq!(out.stdout.trim(), format!("{gun}@sha256:{d}"));
}

/// Container registries are traced like notary servers: `sign IMAGE:TAG` asks the
/// registry for the tag's digest, and `-v` shows the ping and the manifest request.
/// Against the real docker-registry, with an image pushed by skopeo.
#[test]
fn verbose_names_the_container_registry_requests_too() {
    use support::registry::{OciLayout, Registry};
    let reg = Registry::start();
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&tmp.path().join("oci"));
    let digest = oci.add_image("app", "app 1.0", "amd64").digest;
    reg.push_oci(&oci, "app", "demo/app:1.0");
    let gun = reg.image("demo/app");
    let trust = tmp.path().join("vouch");
    ok(vouch(&trust, &server.url), &["init", &gun]);

    let out = ok(
        vouch(&trust, &server.url),
        &["-v", "sign", &format!("{gun}:1.0")],
    );
    let base = format!("http://{}/v2/", reg.host);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let traced = |what: &str| {
        lines.iter().any(|l| {
            l.starts_with("vouch: ")
                && l.contains(&format!(" {base}{what} -> "))
                && l.ends_with(" ms)")
        })
    };
    assert!(traced(""), "no ping of the registry in:\n{}", out.stderr);
    // A loopback registry is tried over HTTPS first; this one speaks plain HTTP, and the
    // failed try says why, once, without repeating its URL.
    let https_try = lines
        .iter()
        .find(|l| {
            l.starts_with(&format!(
                "vouch: GET https://{}/v2/ -> no reply: ",
                reg.host
            ))
        })
        .unwrap_or_else(|| panic!("no HTTPS try in:\n{}", out.stderr));
    assert!(!https_try.contains("for url"), "{https_try}");
    assert!(
        traced("demo/app/manifests/1.0"),
        "no manifest request in:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(digest.trim_start_matches("sha256:"))
            || out.stdout.contains(digest.trim_start_matches("sha256:")),
        "the signed digest {digest} is named nowhere:\n{}{}",
        out.stdout,
        out.stderr
    );

    // Without -v: not a word of it.
    let out = ok(vouch(&trust, &server.url), &["sign", &format!("{gun}:1.0")]);
    assert!(!out.stderr.contains(&base), "{}", out.stderr);
}
