//! `vouch sign IMAGE:TAG` resolves the manifest digest and size from a real docker-registry,
//! `vouch verify --check-registry` compares the signed digest with what the registry serves,
//! and registry auth uses Docker's config. Images are built here from hand-written OCI and
//! `dir:` layouts (no network) and pushed with skopeo; only 127.0.0.1 is contacted.

mod support;

use std::path::Path;

use base64::Engine as _;
use support::registry::{
    sha256_digest, DirLayout, OciLayout, Registry, RegistryConfig, DOCKER_LIST, DOCKER_MANIFEST,
    OCI_INDEX, OCI_MANIFEST,
};
use support::{fails, ok, Notary, NotaryServer};

/// vouch with the test passphrases, no credentials from the environment, and an empty
/// Docker config unless the test sets `DOCKER_CONFIG` itself.
fn v(trust: &Path) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.env_remove("VOUCH_USERNAME")
        .env_remove("VOUCH_PASSWORD")
        .env_remove("NOTARY_AUTH")
        .env("DOCKER_CONFIG", trust.join("no-docker-config"))
        .env("VOUCH_TIMESTAMP_PASSPHRASE", "timestamppass-123");
    c
}

/// `vouch --output json sign …` → (digest, size) of the one signed tag.
fn sign_json(trust: &Path, extra: &[&str], args: &[&str]) -> (String, u64) {
    let mut all = vec!["--output", "json"];
    all.extend(extra);
    all.push("sign");
    all.extend(args);
    let o = ok(v(trust), &all);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    (
        j["items"][0]["digest"].as_str().unwrap().to_owned(),
        j["items"][0]["size"].as_u64().unwrap(),
    )
}

/// A trust dir with the repository `gun` initialized on the default static repository.
fn init_static(gun: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    ok(v(t.path()), &["init", gun]);
    t
}

#[test]
fn signs_what_the_registry_serves_for_every_manifest_kind() {
    let reg = Registry::start();
    let server = NotaryServer::start();
    let work = tempfile::tempdir().unwrap();

    let mut oci = OciLayout::new(&work.path().join("oci"));
    let single = oci.add_image("single", "hello oci", "amd64");
    let index = oci.add_index("multi", "hello index", &["amd64", "arm64"]);
    reg.push_oci(&oci, "single", "demo/app:oci");
    reg.push_oci(&oci, "multi", "demo/app:oci-index");
    let docker = DirLayout::docker_image(&work.path().join("docker"), "hello docker");
    reg.push_dir(&docker, "demo/app:docker");
    let list = DirLayout::docker_list(&work.path().join("list"), "hello list", &["amd64", "arm64"]);
    reg.push_dir(&list, "demo/app:docker-list");
    // skopeo's own conversion: a digest only the registry knows.
    reg.push_converted_v2s2(&oci, "single", "demo/app:converted");

    let gun = reg.image("demo/app");
    let trust = tempfile::tempdir().unwrap();
    let t = trust.path();
    ok(v(t), &["--server", &server.url, "init", &gun]);

    let cases = [
        ("oci", Some(&single), OCI_MANIFEST),
        ("oci-index", Some(&index), OCI_INDEX),
        ("docker", Some(&docker.top), DOCKER_MANIFEST),
        ("docker-list", Some(&list.top), DOCKER_LIST),
        ("converted", None, DOCKER_MANIFEST),
    ];
    let notary = Notary::with_server(&t.join("notary"), &server);
    for (tag, built, media_type) in cases {
        let (served_digest, served_size) = reg.served(&format!("demo/app:{tag}"));
        if let Some(b) = built {
            // The registry serves the bytes written here: digests were preserved.
            assert_eq!(served_digest, b.digest, "{tag}");
            assert_eq!(served_size, b.size, "{tag}");
        }
        let image = format!("{gun}:{tag}");
        let o = ok(v(t), &["--server", &server.url, "sign", &image]);
        assert_eq!(o.stdout.trim(), format!("{gun}:{tag}@{served_digest}"));
        assert!(
            o.stderr.contains(media_type) && o.stderr.contains(&served_digest),
            "{tag}: {}",
            o.stderr
        );
        // The real notary CLI reads the same digest and size.
        let lookup = notary.run(&["lookup", &gun, tag]);
        assert_eq!(
            lookup.trim(),
            format!("{tag} {served_digest} {served_size}"),
            "{tag}"
        );
    }
    // Multi-arch: the index itself is signed, not a child.
    let (d, _) = reg.served("demo/app:oci-index");
    assert_eq!(d, index.digest);
    let o = ok(
        v(t),
        &[
            "--server",
            &server.url,
            "verify",
            &format!("{gun}:docker-list"),
            "--check-registry",
        ],
    );
    assert_eq!(o.stdout.trim(), format!("{gun}@{}", list.top.digest));
}

#[test]
fn a_tag_moved_after_signing_fails_check_registry_with_both_digests() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let a = oci.add_image("a", "release 1", "amd64");
    let b = oci.add_image("b", "something else", "amd64");
    reg.push_oci(&oci, "a", "team/app:1.0");
    let gun = reg.image("team/app");
    let image = format!("{gun}:1.0");
    let trust = init_static(&gun);
    let t = trust.path();

    let (d, n) = sign_json(t, &[], &[&image]);
    assert_eq!((d.as_str(), n), (a.digest.as_str(), a.size));
    let o = ok(v(t), &["verify", &image, "--check-registry"]);
    assert_eq!(o.stdout.trim(), format!("{gun}@{}", a.digest));

    // Someone pushes another image under the signed tag.
    reg.push_oci(&oci, "b", "team/app:1.0");
    // The trust data alone still says A …
    let o = ok(v(t), &["verify", &image]);
    assert_eq!(o.stdout.trim(), format!("{gun}@{}", a.digest));
    // … and the registry check notices the swap.
    let o = fails(v(t), &["verify", &image, "--check-registry"], 1);
    assert!(o.stdout.is_empty(), "nothing to deploy: {}", o.stdout);
    assert!(
        o.stderr.contains(&a.digest) && o.stderr.contains(&b.digest),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(&format!("registry {}", reg.host)),
        "{}",
        o.stderr
    );
    // JSON output gives nothing to deploy either: only the error object.
    let o = fails(
        v(t),
        &["--output", "json", "verify", &image, "--check-registry"],
        1,
    );
    let e: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(e["error"]["exit_code"], 1, "{e}");
    assert!(
        e.get("reference").is_none() && e.get("trusted").is_none(),
        "{e}"
    );
}

#[test]
fn basic_auth_with_credentials_from_docker_config() {
    let reg = Registry::start_with_htpasswd("alice", "s3cret");
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let img = oci.add_image("v1", "private", "amd64");
    reg.push_oci(&oci, "v1", "private/app:v1");
    let gun = reg.image("private/app");
    let image = format!("{gun}:v1");
    let trust = init_static(&gun);
    let t = trust.path();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    // No credentials anywhere: 401 → exit 3, naming the registry and where vouch looked.
    let o = fails(v(t), &["sign", &image], 3);
    let looked = t.join("no-docker-config").join("config.json");
    assert!(
        o.stderr.contains(&format!("registry {}", reg.host)),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("no credentials found"), "{}", o.stderr);
    assert!(
        o.stderr.contains(&looked.display().to_string()),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("VOUCH_USERNAME"), "{}", o.stderr);

    // Right credentials in a docker config.json (as `docker login` writes them).
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            reg.host,
            b64("alice:s3cret")
        ),
    )
    .unwrap();
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path());
    let o = ok(c, &["--output", "json", "sign", &image]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["items"][0]["digest"], img.digest.as_str());
    assert_eq!(j["items"][0]["size"], img.size);

    // Wrong password: exit 3, the user and the file the credentials came from.
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"https://{}":{{"auth":"{}"}}}}}}"#,
            reg.host,
            b64("alice:wrong")
        ),
    )
    .unwrap();
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path());
    let o = fails(c, &["sign", &image], 3);
    assert!(
        o.stderr.contains(&format!("registry {}", reg.host)),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("HTTP 401"), "{}", o.stderr);
    assert!(o.stderr.contains("\"alice\""), "{}", o.stderr);
    assert!(
        o.stderr.contains(&cfg.display().to_string()),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("docker login"), "{}", o.stderr);
    assert!(
        !o.stderr.contains("wrong"),
        "no password in messages: {}",
        o.stderr
    );
    // With --digest and --size, refused credentials only make it a warning.
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path());
    let size = img.size.to_string();
    let o = ok(
        c,
        &["sign", &image, "--digest", &img.digest, "--size", &size],
    );
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("HTTP 401"),
        "{}",
        o.stderr
    );

    // VOUCH_USERNAME/VOUCH_PASSWORD win over the config file.
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path())
        .env("VOUCH_USERNAME", "alice")
        .env("VOUCH_PASSWORD", "s3cret");
    ok(c, &["sign", &image]);

    // A credential helper named in credHelpers.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-vouchtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\necho '{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        &cfg,
        format!(r#"{{"credHelpers":{{"{}":"vouchtest"}}}}"#, reg.host),
    )
    .unwrap();
    let mut c = v(t);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    c.env("DOCKER_CONFIG", cfg_dir.path()).env("PATH", path);
    ok(c, &["sign", &image]);
    // notary's NOTARY_AUTH is for the notary server, not for registries.
    let mut c = v(t);
    c.env("NOTARY_AUTH", b64("alice:s3cret"));
    let o = fails(c, &["sign", &image], 3);
    assert!(o.stderr.contains("no credentials found"), "{}", o.stderr);
}

#[test]
fn digest_flag_is_checked_against_the_registry() {
    let mut reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let a = oci.add_image("a", "A", "amd64");
    let b = oci.add_image("b", "B", "amd64");
    reg.push_oci(&oci, "a", "repo/app:v1");
    reg.push_oci(&oci, "b", "repo/app:v2");
    let gun = reg.image("repo/app");
    let v1 = format!("{gun}:v1");
    let trust = init_static(&gun);
    let t = trust.path();
    let size_b = b.size.to_string();

    // A digest the registry does not serve for the tag is refused (exit 1), both shown.
    let o = fails(v(t), &["sign", &v1, "--digest", &b.digest], 1);
    assert!(
        o.stderr.contains(&b.digest) && o.stderr.contains(&a.digest),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("--no-registry-check"), "{}", o.stderr);
    let o = ok(v(t), &["list", &gun]);
    assert!(!o.stdout.contains("v1"), "nothing signed: {}", o.stdout);
    // … also with --size.
    fails(
        v(t),
        &["sign", &v1, "--digest", &b.digest, "--size", &size_b],
        1,
    );
    // The right digest: the size comes from the registry.
    let (d, n) = sign_json(t, &[], &[&v1, "--digest", &a.digest]);
    assert_eq!((d, n), (a.digest.clone(), a.size));
    // A size that disagrees is refused.
    let o = fails(
        v(t),
        &["sign", &v1, "--digest", &a.digest, "--size", "1"],
        1,
    );
    assert!(o.stderr.contains("--size 1"), "{}", o.stderr);
    // --no-registry-check signs what it is told (and needs the size).
    let (d, n) = sign_json(
        t,
        &[],
        &[
            &v1,
            "--digest",
            &b.digest,
            "--size",
            &size_b,
            "--no-registry-check",
        ],
    );
    assert_eq!((d, n), (b.digest.clone(), b.size));
    fails(
        v(t),
        &["sign", &v1, "--digest", &b.digest, "--no-registry-check"],
        2,
    );
    fails(v(t), &["sign", &v1, "--size", "12"], 2);
    fails(v(t), &["sign", &v1, "--no-registry-check"], 2);
    let o = fails(
        v(t),
        &["sign", &v1, "--digest", "sha256:12", "--size", "5"],
        2,
    );
    assert!(o.stderr.contains("64 hex"), "{}", o.stderr);

    // IMAGE:TAG@sha256:… signs that digest under the tag, size read by digest.
    let (d, n) = sign_json(t, &[], &[&format!("{v1}@{}", b.digest)]);
    assert_eq!((d.as_str(), n), (b.digest.as_str(), b.size));
    let o = ok(v(t), &["verify", &v1]);
    assert_eq!(o.stdout.trim(), format!("{gun}@{}", b.digest));
    let unknown = sha256_digest(b"not pushed");
    let o = fails(v(t), &["sign", &format!("{v1}@{unknown}")], 2);
    assert!(o.stderr.contains(&unknown), "{}", o.stderr);
    let o = fails(
        v(t),
        &["sign", &format!("{v1}@{}", a.digest), "--digest", &b.digest],
        2,
    );
    assert!(o.stderr.contains("--digest"), "{}", o.stderr);

    // An unknown tag is bad input (exit 2) and says so.
    let o = fails(v(t), &["sign", &format!("{gun}:nope")], 2);
    assert!(
        o.stderr.contains("repo/app:nope") && o.stderr.contains("MANIFEST_UNKNOWN"),
        "{}",
        o.stderr
    );
    let o = fails(v(t), &["sign", &reg.image("no/such:v1")], 2);
    assert!(o.stderr.contains("no/such:v1"), "{}", o.stderr);

    // Registry gone: --digest with --size signs with a warning; anything needing the
    // registry is exit 3.
    reg.stop();
    let o = ok(
        v(t),
        &[
            "sign",
            &v1,
            "--digest",
            &a.digest,
            "--size",
            &a.size.to_string(),
        ],
    );
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("cannot reach"),
        "{}",
        o.stderr
    );
    let o = fails(v(t), &["sign", &v1, "--digest", &a.digest], 3);
    assert!(o.stderr.contains("--size"), "{}", o.stderr);
    let o = fails(v(t), &["sign", &v1], 3);
    assert!(
        o.stderr.contains(&format!("registry {}", reg.host)),
        "{}",
        o.stderr
    );
    let o = fails(v(t), &["verify", &v1, "--check-registry"], 3);
    assert!(o.stdout.is_empty());
}

#[test]
fn tls_registry_on_loopback_and_insecure_registry_option() {
    let tls = support::tls::make_tls_files();
    let reg = Registry::start_with(&RegistryConfig {
        tls: Some((tls.server_cert.clone(), tls.server_key.clone())),
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let img = oci.add_image("v1", "over tls", "amd64");
    reg.push_oci(&oci, "v1", "secure/app:v1");
    let gun = reg.image("secure/app");
    let trust = init_static(&gun);
    let t = trust.path();
    // Loopback: HTTPS is tried first (a plain-HTTP request to this port would fail).
    let (d, n) = sign_json(t, &[], &[&format!("{gun}:v1")]);
    assert_eq!((d, n), (img.digest.clone(), img.size));
    // With the CA given, too.
    let ca = tls.ca_cert.display().to_string();
    sign_json(t, &["--tls-ca-cert", &ca], &[&format!("{gun}:v1")]);
    // --insecure-registry takes HOST[:PORT] only.
    let o = fails(
        v(t),
        &["--insecure-registry", "a/b", "sign", &format!("{gun}:v1")],
        2,
    );
    assert!(o.stderr.contains("--insecure-registry"), "{}", o.stderr);
    // Listing a loopback registry changes nothing; a config file entry is read.
    std::fs::write(
        t.join("config.json"),
        format!(
            r#"{{"registries": {{"{}": {{"insecure": true, "root_ca": "{ca}"}}}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    sign_json(
        t,
        &["--insecure-registry", &reg.host],
        &[&format!("{gun}:v1")],
    );
    std::fs::write(
        t.join("config.json"),
        format!(
            r#"{{"registries": {{"{}": {{"insecur": true}}}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    let o = fails(v(t), &["sign", &format!("{gun}:v1")], 2);
    assert!(o.stderr.contains("insecur"), "{}", o.stderr);
}

const GOOD: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

/// A fake registry on 127.0.0.1 that misbehaves per tag, and records what it was asked.
/// A TLS ClientHello (vouch tries HTTPS first on loopback) is answered by closing.
fn fake_registry(
    log: std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
) -> support::httpd::HttpServer {
    use std::io::Write;
    support::httpd::HttpServer::start_raw(move |mut s| {
        let mut first = [0u8; 1];
        if s.peek(&mut first).ok() != Some(1) || first[0] == 0x16 {
            return;
        }
        let Some(req) = support::httpd::read_request(&mut s) else {
            return;
        };
        log.lock().unwrap().push((
            req.method.clone(),
            req.path().to_owned(),
            req.header("accept").unwrap_or_default().to_owned(),
        ));
        let head = req.method == "HEAD";
        let tag = req.path().rsplit('/').next().unwrap_or_default().to_owned();
        let mut write = |status: &str, headers: &[(&str, String)], body: &[u8]| {
            let mut h = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
            for (k, v) in headers {
                h.push_str(&format!("{k}: {v}\r\n"));
            }
            h.push_str("\r\n");
            let _ = s.write_all(h.as_bytes());
            if !head {
                let _ = s.write_all(body);
            }
        };
        if req.path() == "/v2/" {
            return write("200 OK", &[("Content-Length", "2".into())], b"{}");
        }
        let good_digest = sha256_digest(GOOD);
        let len = |b: &[u8]| b.len().to_string();
        match tag.as_str() {
            "ok" => write(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST.into()),
                    ("Content-Length", len(GOOD)),
                    ("Docker-Content-Digest", good_digest),
                ],
                GOOD,
            ),
            "schema1" => {
                let body = br#"{"schemaVersion":1,"name":"x/app","tag":"schema1"}"#;
                write(
                    "200 OK",
                    &[
                        (
                            "Content-Type",
                            "application/vnd.docker.distribution.manifest.v1+prettyjws".into(),
                        ),
                        ("Content-Length", len(body)),
                    ],
                    body,
                )
            }
            "schema1-body" => {
                let body = br#"{"schemaVersion":1,"name":"x/app","tag":"schema1-body"}"#;
                write(
                    "200 OK",
                    &[
                        ("Content-Type", "application/json".into()),
                        ("Content-Length", len(body)),
                    ],
                    body,
                )
            }
            "liar" => write(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST.into()),
                    ("Content-Length", len(GOOD)),
                    ("Docker-Content-Digest", sha256_digest(b"another manifest")),
                ],
                GOOD,
            ),
            "moved" => {
                let digest = if head {
                    sha256_digest(b"the manifest before")
                } else {
                    good_digest
                };
                write(
                    "200 OK",
                    &[
                        ("Content-Type", OCI_MANIFEST.into()),
                        ("Content-Length", len(GOOD)),
                        ("Docker-Content-Digest", digest),
                    ],
                    GOOD,
                )
            }
            "huge-declared" => write(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST.into()),
                    ("Content-Length", (5u64 << 20).to_string()),
                ],
                b"",
            ),
            "huge-streamed" if head => write(
                "405 Method Not Allowed",
                &[("Content-Length", "0".into())],
                b"",
            ),
            "huge-streamed" => {
                write("200 OK", &[("Content-Type", OCI_MANIFEST.into())], b"");
                let chunk = vec![b' '; 1 << 20];
                for _ in 0..6 {
                    if s.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
            "not-json" => write(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST.into()),
                    ("Content-Length", "5".into()),
                ],
                b"hello",
            ),
            _ => {
                let body =
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
                write(
                    "404 Not Found",
                    &[
                        ("Content-Type", "application/json".into()),
                        ("Content-Length", len(body)),
                    ],
                    body,
                )
            }
        }
    })
}

#[test]
fn misbehaving_registries_are_refused() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = fake_registry(log.clone());
    let gun = format!("127.0.0.1:{}/x/app", server.port);
    let trust = init_static(&gun);
    let t = trust.path();

    let (d, n) = sign_json(t, &[], &[&format!("{gun}:ok")]);
    assert_eq!(n, GOOD.len() as u64);
    assert_eq!(d, sha256_digest(GOOD));
    // HEAD, then GET, each accepting all four manifest types.
    let asked: Vec<(String, String, String)> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, p, _)| p.ends_with("/manifests/ok"))
        .cloned()
        .collect();
    assert_eq!(
        asked.iter().map(|(m, _, _)| m.as_str()).collect::<Vec<_>>(),
        ["HEAD", "GET"]
    );
    for (_, _, accept) in &asked {
        for t in [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST] {
            assert!(accept.contains(t), "{accept}");
        }
    }

    for (tag, code, says) in [
        ("schema1", 2, "schema 1"),
        ("schema1-body", 2, "schema 1"),
        ("liar", 3, "Docker-Content-Digest"),
        ("moved", 3, "moved while it was read"),
        ("huge-declared", 3, "more than 4194304 bytes"),
        ("huge-streamed", 3, "more than 4194304 bytes"),
        ("not-json", 3, "not a manifest"),
        ("absent", 2, "MANIFEST_UNKNOWN"),
    ] {
        let o = fails(v(t), &["sign", &format!("{gun}:{tag}")], code);
        assert!(o.stderr.contains(says), "{tag}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{tag}");
    }
    // Nothing but `ok` was signed.
    let o = ok(v(t), &["--output", "json", "list", &gun]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let names: Vec<&str> = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ok"]);
    assert_eq!(j["items"][0]["digest"], sha256_digest(GOOD).as_str());

    // Something that is not a registry at all.
    let web = support::httpd::HttpServer::start_raw(|mut s| {
        let mut first = [0u8; 1];
        if s.peek(&mut first).ok() != Some(1) || first[0] == 0x16 {
            return;
        }
        if support::httpd::read_request(&mut s).is_some() {
            let _ = support::httpd::write_response(
                &mut s,
                &support::httpd::Response::new(404, "<html>no such page</html>"),
            );
        }
    });
    let o = fails(
        v(t),
        &["sign", &format!("127.0.0.1:{}/x/app:v1", web.port)],
        3,
    );
    assert!(
        o.stderr.contains("does not look like a container registry"),
        "{}",
        o.stderr
    );
    // --digest with --size: a registry that cannot be asked is a warning, one that
    // misbehaves is still refused.
    let web_gun = format!("127.0.0.1:{}/x/app", web.port);
    let web_trust = init_static(&web_gun);
    let digest = sha256_digest(GOOD);
    let n = GOOD.len().to_string();
    let o = ok(
        v(web_trust.path()),
        &[
            "sign",
            &format!("{web_gun}:v1"),
            "--digest",
            &digest,
            "--size",
            &n,
        ],
    );
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("without the registry's confirmation"),
        "{}",
        o.stderr
    );
    let o = fails(
        v(t),
        &[
            "sign",
            &format!("{gun}:liar"),
            "--digest",
            &digest,
            "--size",
            &n,
        ],
        3,
    );
    assert!(o.stderr.contains("Docker-Content-Digest"), "{}", o.stderr);
}

#[test]
fn bearer_token_auth_anonymously_and_with_docker_credentials() {
    let tokens = support::token::TokenServer::start(&[("alice", "pw-alice", false)]);
    let mut reg = Registry::start_with(&RegistryConfig::token_auth(&tokens));
    reg.creds = Some("alice:pw-alice".into());
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let img = oci.add_image("v1", "token protected", "amd64");
    reg.push_oci(&oci, "v1", "team/app:v1");
    let gun = reg.image("team/app");
    let image = format!("{gun}:v1");
    let trust = init_static(&gun);
    let t = trust.path();

    // No credentials: an anonymous token for repository:<name>:pull.
    tokens.clear();
    let (d, n) = sign_json(t, &[], &[&image]);
    assert_eq!((d.as_str(), n), (img.digest.as_str(), img.size));
    let reqs = tokens.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(r.scopes, ["repository:team/app:pull"], "{r:?}");
        assert_eq!(r.service.as_deref(), Some(tokens.service.as_str()));
        assert_eq!(r.account, None);
        assert_eq!(r.basic_user, None);
    }

    // Credentials from Docker's config go to the token server.
    let cfg_dir = tempfile::tempdir().unwrap();
    let write_cfg = |user_pass: &str| {
        std::fs::write(
            cfg_dir.path().join("config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
                reg.host,
                base64::engine::general_purpose::STANDARD.encode(user_pass)
            ),
        )
        .unwrap();
    };
    write_cfg("alice:pw-alice");
    tokens.clear();
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path());
    ok(c, &["verify", &image, "--check-registry"]);
    let reqs = tokens.requests();
    assert!(
        reqs.iter()
            .all(|r| r.account.as_deref() == Some("alice")
                && r.basic_user.as_deref() == Some("alice")),
        "{reqs:?}"
    );

    // Wrong password: the token server refuses, exit 3, naming the source.
    write_cfg("alice:nope");
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path());
    let o = fails(c, &["sign", &image], 3);
    assert!(o.stderr.contains("bad credentials"), "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("registry {}", reg.host)),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains(&cfg_dir.path().join("config.json").display().to_string()),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("docker login"), "{}", o.stderr);

    // An identity token (OAuth `docker login`) goes to the token server as docker's
    // OAuth2 refresh-token grant, never as Basic credentials.
    std::fs::write(
        cfg_dir.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"username":"00000000-0000-0000-0000-000000000000","identitytoken":"{}"}}}}}}"#,
            reg.host,
            tokens.identity_token("alice")
        ),
    )
    .unwrap();
    tokens.clear();
    let mut c = v(t);
    c.env("DOCKER_CONFIG", cfg_dir.path());
    ok(c, &["verify", &image, "--check-registry"]);
    let reqs = tokens.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(
            (r.method.as_str(), r.grant_type.as_deref()),
            ("POST", Some("refresh_token")),
            "{r:?}"
        );
        assert_eq!(r.identity_of.as_deref(), Some("alice"), "{r:?}");
        assert_eq!(r.basic_user, None, "{r:?}");
        assert_eq!(r.scopes, ["repository:team/app:pull"], "{r:?}");
        assert_eq!(r.status, 200, "{r:?}");
    }
}

/// `--server` given the registry instead of its notary server: the registry answers
/// `GET /v2/` as notary-server does, but has no `/_trust/` routes. vouch says that it
/// reached a container registry (exit 3) rather than "no trust data" (exit 1, "unsigned"),
/// while the real notary-server's answer for a repository it does not have stays "no
/// trust data".
#[test]
fn a_registry_given_as_the_notary_server_is_named_as_such() {
    let reg = Registry::start();
    let server = NotaryServer::start();
    let t = tempfile::tempdir().unwrap();
    let image = format!("{}:v1", reg.image("team/app"));
    let registry_url = format!("http://{}", reg.host);

    for cmd in [
        vec!["verify", &image, "--tofu"],
        vec!["list", &image[..image.len() - 3], "--tofu"],
    ] {
        let args = [vec!["--server", &registry_url], cmd].concat();
        let o = fails(v(t.path()), &args, 3);
        assert!(
            o.stderr.contains("it answers as a container registry"),
            "{args:?}: {}",
            o.stderr
        );
        assert!(o.stderr.contains("separate service"), "{}", o.stderr);
        assert!(!o.stderr.contains("no trust data"), "{}", o.stderr);
    }

    let o = fails(
        v(t.path()),
        &["--server", &server.url, "verify", &image, "--tofu"],
        1,
    );
    assert!(o.stderr.contains("has no trust data"), "{}", o.stderr);
}

/// Docker's certs.d: a registry that requires a client certificate (mutual TLS) is reached
/// with the `<name>.cert`/`<name>.key` pair of `$XDG_CONFIG_HOME/docker/certs.d/<host>/`,
/// as docker reaches it; without that directory the handshake fails (exit 3).
#[test]
fn docker_certs_d_gives_the_client_certificate_a_registry_requires() {
    let tls = support::tls::make_tls_files();
    let mut reg = Registry::start_with(&RegistryConfig {
        tls: Some((tls.server_cert.clone(), tls.server_key.clone())),
        client_ca: Some(tls.ca_cert.clone()),
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    // One certs.d-style directory: skopeo's --dest-cert-dir, and vouch's certs.d entry.
    let certs = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(&tls.ca_cert, dir.join("ca.crt")).unwrap();
        std::fs::copy(&tls.client_cert, dir.join("client.cert")).unwrap();
        std::fs::copy(&tls.client_key, dir.join("client.key")).unwrap();
    };
    certs(&work.path().join("skopeo-certs"));
    reg.cert_dir = Some(work.path().join("skopeo-certs"));
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let img = oci.add_image("v1", "mutual tls", "amd64");
    reg.push_oci(&oci, "v1", "mtls/app:v1");
    let gun = reg.image("mtls/app");
    let image = format!("{gun}:v1");
    let trust = init_static(&gun);
    let t = trust.path();

    let o = fails(v(t), &["sign", &image], 3);
    assert!(
        o.stderr.contains("TLS connection to https://"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(&format!("certs.d/{}/", reg.host)),
        "no hint towards a client certificate: {}",
        o.stderr
    );

    let config_home = work.path().join("config");
    certs(&config_home.join("docker/certs.d").join(&reg.host));
    let mut c = v(t);
    c.env("XDG_CONFIG_HOME", &config_home);
    let o = ok(c, &["--output", "json", "sign", &image]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["items"][0]["digest"].as_str(), Some(img.digest.as_str()));
    assert_eq!(j["items"][0]["size"].as_u64(), Some(img.size));

    // A key without its certificate is refused, naming the file.
    let dir = config_home.join("docker/certs.d").join(&reg.host);
    std::fs::remove_file(dir.join("client.cert")).unwrap();
    let mut c = v(t);
    c.env("XDG_CONFIG_HOME", &config_home);
    let o = fails(c, &["sign", &image], 2);
    assert!(
        o.stderr.contains("client.key") && o.stderr.contains("no certificate"),
        "{}",
        o.stderr
    );
}

/// `list --check-registry`: what the registry serves now for each signed tag — the signed
/// digest (`ok`), another one (the tag was pushed again: `moved`), or nothing (the tag was
/// deleted: `missing`) — with exit 1 naming the tags when any is not served as signed; and
/// `unsign GUN --missing-in-registry` removing the signatures of the deleted tags.
#[test]
fn list_check_registry_names_tags_that_moved_or_are_gone_and_unsign_removes_the_gone() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let a = oci.add_image("a", "image a", "amd64");
    oci.add_image("b", "image b", "amd64");
    oci.add_image("c", "image c", "amd64");
    reg.push_oci(&oci, "a", "team/app:v1");
    reg.push_oci(&oci, "b", "team/app:v2");
    reg.push_oci(&oci, "c", "team/app:v3");
    let gun = reg.image("team/app");
    let trust = init_static(&gun);
    let t = trust.path();
    let tags = ["v1", "v2", "v3"].map(|tag| format!("{gun}:{tag}"));
    ok(v(t), &["sign", &tags[0], &tags[1], &tags[2]]);

    let statuses = |out: &str| -> Vec<(String, serde_json::Value)> {
        let j: serde_json::Value = serde_json::from_str(out).unwrap();
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["registry"].clone(),
                )
            })
            .collect()
    };
    let o = ok(
        v(t),
        &["--output", "json", "list", &gun, "--check-registry"],
    );
    let ok_status = serde_json::json!({"status": "ok"});
    assert_eq!(
        statuses(&o.stdout),
        [
            ("v1".to_owned(), ok_status.clone()),
            ("v2".to_owned(), ok_status.clone()),
            ("v3".to_owned(), ok_status.clone()),
        ]
    );
    let o = ok(v(t), &["list", &gun, "--check-registry"]);
    assert!(o.stdout.contains("REGISTRY"), "{}", o.stdout);

    reg.delete("team/app:v2");
    reg.push_oci(&oci, "a", "team/app:v3");
    let o = fails(
        v(t),
        &["--output", "json", "list", &gun, "--check-registry"],
        1,
    );
    assert_eq!(
        statuses(&o.stdout),
        [
            ("v1".to_owned(), ok_status),
            ("v2".to_owned(), serde_json::json!({"status": "missing"})),
            (
                "v3".to_owned(),
                serde_json::json!({"status": "moved", "served": a.digest})
            ),
        ]
    );
    assert!(o.stderr.contains("2 signed tag(s)"), "{}", o.stderr);
    assert!(o.stderr.contains("v2 missing"), "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("v3 moved to {}", a.digest)),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("vouch unsign"), "{}", o.stderr);
    // Without the flag, list asks no registry and succeeds.
    ok(v(t), &["list", &gun]);

    // unsign --missing-in-registry: the deleted tag's signature goes, in one publish; the
    // tag pushed again is kept. --dry-run only names it.
    let names = |t: &Path| -> Vec<String> {
        let o = ok(v(t), &["--output", "json", "list", &gun]);
        statuses(&o.stdout).into_iter().map(|(n, _)| n).collect()
    };
    let o = ok(
        v(t),
        &["unsign", &gun, "--missing-in-registry", "--dry-run"],
    );
    assert_eq!(o.stdout.trim(), format!("{gun}:v2"));
    assert_eq!(names(t), ["v1", "v2", "v3"], "--dry-run changed something");
    let o = ok(v(t), &["unsign", &gun, "--missing-in-registry"]);
    assert!(o.stderr.contains("Removed 1 signature(s)"), "{}", o.stderr);
    assert_eq!(names(t), ["v1", "v3"]);
    let o = fails(
        v(t),
        &["--output", "json", "list", &gun, "--check-registry"],
        1,
    );
    assert!(
        o.stderr.contains("1 signed tag(s)") && o.stderr.contains("v3 moved"),
        "{}",
        o.stderr
    );
    let o = ok(v(t), &["unsign", &gun, "--missing-in-registry"]);
    assert!(o.stderr.contains("nothing to remove"), "{}", o.stderr);
}

/// A signed file (`sign-file`) is not an image tag, whatever its name looks like:
/// `list --check-registry` does not ask the registry for it and says it is a file, and
/// `unsign --missing-in-registry` never removes it.
#[test]
fn registry_checks_tell_signed_files_from_image_tags() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    oci.add_image("a", "image a", "amd64");
    reg.push_oci(&oci, "a", "team/app:v1");
    let gun = reg.image("team/app");
    let trust = init_static(&gun);
    let t = trust.path();
    ok(v(t), &["sign", &format!("{gun}:v1")]);
    // A file whose name is also a valid tag.
    let notes = work.path().join("NOTES.txt");
    std::fs::write(&notes, b"release notes\n").unwrap();
    ok(
        v(t),
        &["sign-file", &gun, "NOTES.txt", notes.to_str().unwrap()],
    );

    let o = ok(
        v(t),
        &["--output", "json", "list", &gun, "--check-registry"],
    );
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let status = |name: &str| {
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["registry"].clone())
            .unwrap()
    };
    assert_eq!(status("v1"), serde_json::json!({"status": "ok"}));
    assert_eq!(status("NOTES.txt"), serde_json::json!({"status": "file"}));
    let o = ok(
        v(t),
        &["unsign", &gun, "--missing-in-registry", "--dry-run"],
    );
    assert!(o.stdout.trim().is_empty(), "would remove: {}", o.stdout);
    let o = ok(v(t), &["unsign", &gun, "--missing-in-registry"]);
    assert!(o.stderr.contains("nothing to remove"), "{}", o.stderr);
    let listed = ok(v(t), &["list", &gun]).stdout;
    assert!(listed.contains("NOTES.txt"), "{listed}");
}
