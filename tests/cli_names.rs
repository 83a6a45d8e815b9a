//! Repository names and reading commands as a docker-trust or notary user meets them: one
//! naming rule for every command (docker's), repositories notary created by a literal name
//! still found, reading commands that never advise `vouch init` and name the repositories
//! this machine knows, and notary's cache fallback for `list`/`inspect` when the server is
//! unreachable. Against the real notary-server and the real `notary` CLI.

mod support;

use std::path::Path;

use sha2::{Digest, Sha256};
use support::{fails, list_rows, ok, Notary, NotaryServer};

fn digest(seed: &str) -> String {
    hex::encode(Sha256::digest(format!("manifest {seed}").as_bytes()))
}

fn tag_pair(image: &str, tag: &str, size: u64) -> String {
    format!("{image}:{tag}=sha256:{}:{size}", digest(tag))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn vouch(trust: &Path, server: &str) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.args(["--server", server]);
    c
}

// ---------------------------------------------------------------------------------------
// One rule for names

#[test]
fn init_sign_list_and_verify_read_a_short_name_the_same_way() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let v = || vouch(&trust, &server.url);

    // `init bench/one` is docker.io/bench/one, and says so.
    let init = ok(v(), &["init", "bench/one"]);
    assert!(
        init.stderr
            .contains("bench/one is the repository docker.io/bench/one"),
        "{}",
        init.stderr
    );
    // So `sign bench/one:v1` (docker's naming) signs into what init created.
    ok(v(), &["sign", &tag_pair("bench/one", "v1", 101)]);
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", "docker.io/bench/one"])),
        vec![("v1".to_owned(), digest("v1"), 101, "targets".to_owned())]
    );
    // Nothing was created under the literal name.
    assert!(!n.run_raw(&["list", "bench/one"]).status.success());

    // Every spelling of the name reads the same repository.
    for name in [
        "bench/one",
        "docker.io/bench/one",
        "index.docker.io/bench/one",
    ] {
        let rows = list_rows(&ok(v(), &["list", name]).stdout);
        assert_eq!(rows.len(), 1, "{name}");
        let out = ok(v(), &["verify", &format!("{name}:v1")]);
        assert_eq!(out.stdout.trim(), format!("{name}@sha256:{}", digest("v1")));
    }

    // A tag where a repository name belongs: exit 2, naming the repository.
    let out = fails(v(), &["list", "bench/one:v1"], 2);
    assert!(out.stderr.contains("docker.io/bench/one"), "{}", out.stderr);

    // `ubuntu` is docker.io/library/ubuntu, for a GUN command too.
    let out = ok(v(), &["config", "show", "ubuntu"]);
    assert!(
        out.stderr
            .contains("ubuntu is the repository docker.io/library/ubuntu"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_repository_notary_created_under_a_short_name_is_used_as_named() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let notary_dir = tmp.path().join("notary");
    let n = Notary::with_server(&notary_dir, &server);
    // notary takes GUNs literally.
    n.run(&["init", "bench/two"]);
    let payload = tmp.path().join("payload.txt");
    std::fs::write(&payload, "signed by notary\n").unwrap();
    n.run(&["add", "bench/two", "v1", s(&payload)]);
    n.run(&["publish", "bench/two"]);

    // vouch on notary's trust dir finds it by the name notary gave it.
    let mut c = vouch(&notary_dir, &server.url);
    c.arg("--tofu");
    let out = ok(c, &["list", "bench/two"]);
    assert_eq!(list_rows(&out.stdout).len(), 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("Using the repository bench/two as named")
            && out.stderr.contains("docker.io/bench/two"),
        "{}",
        out.stderr
    );
    let out = ok(
        vouch(&notary_dir, &server.url),
        &["verify-file", "bench/two", "v1", s(&payload)],
    );
    assert!(out.stdout.starts_with("v1: OK"), "{}", out.stdout);
    // An image reference with the same short name reads it too.
    let out = ok(vouch(&notary_dir, &server.url), &["verify", "bench/two:v1"]);
    assert!(
        out.stdout.starts_with("bench/two@sha256:"),
        "{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------------
// Reading commands: no `vouch init`, "did you mean …"

#[test]
fn reading_an_unknown_repository_suggests_known_ones_and_never_init() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/team/app";
    ok(vouch(&trust, &server.url), &["init", gun]);
    ok(
        vouch(&trust, &server.url),
        &["sign", &tag_pair(gun, "v1", 11)],
    );

    let typo = "example.com/team/ap";
    let scratch_lock = tmp.path().join("scratch-lock.json");
    for args in [
        vec!["--tofu", "verify", "example.com/team/ap:v1"],
        vec!["--tofu", "list", typo],
        vec!["--tofu", "inspect", typo],
        vec!["verify", "example.com/team/ap:v1"],
        vec!["--tofu", "delegation", "list", typo],
        vec![
            "--trust-lock",
            scratch_lock.to_str().unwrap(),
            "trust",
            "pin",
            typo,
        ],
    ] {
        let out = support::run(vouch(&trust, &server.url), &args);
        assert_ne!(out.code, 0, "{args:?}");
        assert!(
            out.stderr.contains(&format!("did you mean {gun}?")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("vouch init"),
            "{args:?}: {}",
            out.stderr
        );
    }

    // Names pinned in a trust lock are suggested too.
    let lock = tmp.path().join("lock.json");
    let mut c = vouch(&trust, &server.url);
    c.args(["--trust-lock", s(&lock)]);
    ok(c, &["trust", "pin", gun, "--from-cache"]);
    let other = tmp.path().join("other");
    let mut c = vouch(&other, &server.url);
    c.args(["--trust-lock", s(&lock)]);
    let out = fails(c, &["verify", "example.com/team/app2:v1"], 2);
    assert!(
        out.stderr.contains(&format!("did you mean {gun}?")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_notary_trust_dir_without_a_vouch_one_is_pointed_out() {
    let server = NotaryServer::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".notary").join("tuf")).unwrap();
    let mut c = assert_cmd::Command::cargo_bin("vouch").unwrap();
    c.env_remove("VOUCH_TRUST_DIR")
        .env_remove("VOUCH_SERVER")
        .env_remove("DOCKER_CONTENT_TRUST_SERVER")
        .env_remove("VOUCH_TRUST_LOCK")
        .env("HOME", home.path());
    let out = fails(
        c,
        &[
            "--server",
            &server.url,
            "--tofu",
            "verify",
            "example.com/nobody/app:v1",
        ],
        1,
    );
    let notary = home.path().join(".notary");
    assert!(
        out.stderr
            .contains(&format!("--trust-dir {}", notary.display())),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------
// Cache fallback

#[test]
fn list_and_inspect_fall_back_to_the_verified_cache_and_verify_only_when_asked() {
    let mut server = Some(NotaryServer::start());
    let url = server.as_ref().unwrap().url.clone();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/cache/app";
    ok(vouch(&trust, &url), &["init", gun]);
    ok(vouch(&trust, &url), &["sign", &tag_pair(gun, "v1", 21)]);
    ok(vouch(&trust, &url), &["list", gun]);

    // The server goes away.
    server.take();
    let out = ok(vouch(&trust, &url), &["list", gun]);
    assert_eq!(
        list_rows(&out.stdout),
        vec![("v1".to_owned(), digest("v1"), 21, "targets".to_owned())]
    );
    assert!(
        out.stderr.contains("could not be reached")
            && out.stderr.contains("verified cache")
            && out.stderr.contains(" ago"),
        "{}",
        out.stderr
    );
    let out = ok(vouch(&trust, &url), &["--output", "json", "inspect", gun]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["source"], "cache");
    assert!(
        out.stderr.contains("could not be reached"),
        "{}",
        out.stderr
    );

    // verify does not, unless asked.
    let image = format!("{gun}:v1");
    fails(vouch(&trust, &url), &["verify", &image], 3);
    let out = ok(vouch(&trust, &url), &["verify", &image, "--cache-fallback"]);
    assert_eq!(out.stdout.trim(), format!("{gun}@sha256:{}", digest("v1")));
    assert!(
        out.stderr.contains("could not be reached"),
        "{}",
        out.stderr
    );

    // Nothing cached: the server's error stands (exit 3).
    let empty = tmp.path().join("empty");
    let mut c = vouch(&empty, &url);
    c.arg("--tofu");
    fails(c, &["list", gun], 3);
}

// ---------------------------------------------------------------------------------------
// verify IMAGE@sha256:… (no tag)

#[test]
fn verify_by_digest_names_the_tags_that_carry_it() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let v = || vouch(&trust, &server.url);
    let gun = "example.com/digest/app";
    ok(v(), &["init", gun]);
    let d1 = digest("one");
    let d2 = digest("two");
    ok(
        v(),
        &[
            "sign",
            &format!("{gun}:v1=sha256:{d1}:10"),
            &format!("{gun}:latest=sha256:{d1}:10"),
            &format!("{gun}:v2=sha256:{d2}:20"),
        ],
    );

    let image = format!("{gun}@sha256:{d1}");
    let out = ok(v(), &["verify", &image]);
    assert_eq!(out.stdout.trim(), image);
    assert!(
        out.stderr.contains(&format!("{gun}:latest, {gun}:v1")),
        "{}",
        out.stderr
    );
    let out = ok(v(), &["--output", "json", "verify", &image]);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["tags"], serde_json::json!(["latest", "v1"]));
    assert_eq!(j["digest"], format!("sha256:{d1}"));
    assert_eq!(j["trusted"], true);
    assert!(j["tag"].is_null());

    // A digest no tag carries: not trusted (exit 1), said as such.
    let unsigned = format!("{gun}@sha256:{}", digest("three"));
    let out = fails(v(), &["--output", "json", "verify", &unsigned], 1);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "trust_unsigned_digest");

    // A tag moved to another digest no longer carries the old one.
    ok(v(), &["sign", &format!("{gun}:latest=sha256:{d2}:20")]);
    let out = ok(v(), &["--output", "json", "verify", &image]);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["tags"], serde_json::json!(["v1"]));

    // docker's order: targets/releases first. v1 signed there with another digest no
    // longer carries the one targets signs for it.
    let mut c = v();
    c.args(["--output", "json"]);
    let key = ok(c, &["key", "generate", "--role", "targets/releases"]);
    let key: serde_json::Value = serde_json::from_str(&key.stdout).unwrap();
    let key = key["id"].as_str().unwrap();
    ok(
        v(),
        &[
            "delegation",
            "add",
            gun,
            "targets/releases",
            "--key",
            key,
            "--all-paths",
        ],
    );
    let d3 = digest("three");
    ok(
        v(),
        &[
            "sign",
            "--role",
            "targets/releases",
            &format!("{gun}:v1=sha256:{d3}:30"),
        ],
    );
    let out = fails(v(), &["--output", "json", "verify", &image], 1);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "trust_unsigned_digest");
    let out = ok(
        v(),
        &["--output", "json", "verify", &format!("{gun}@sha256:{d3}")],
    );
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["tags"], serde_json::json!(["v1"]));
    assert_eq!(j["role"], "targets/releases");
}

#[test]
fn key_commands_read_gun_options_by_the_same_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let mut c = support::vouch(&trust);
    c.args(["--output", "json"]);
    let out = ok(
        c,
        &[
            "key",
            "generate",
            "--role",
            "targets",
            "--gun",
            "bench/three",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["gun"], "docker.io/bench/three", "{v}");
    let mut c = support::vouch(&trust);
    c.args(["--output", "json"]);
    let out = ok(c, &["key", "list"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["items"][0]["gun"], "docker.io/bench/three", "{v}");
}
