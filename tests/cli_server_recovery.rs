//! A notary server that lost its data (a new database, a restore from before the
//! repository existed): the next publish says so instead of failing on the server's
//! validation, and `publish --recover` publishes the trust dir's verified copy to it
//! again — readers holding the old root follow, the real `notary` CLI lists it, and staged
//! changes stay staged for the next publish.

mod support;

use std::path::Path;

use support::{fails, list_rows, ok, Notary, NotaryServer};

fn vouch(trust: &Path, server: &str) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.arg("-s").arg(server);
    c
}

fn digest(seed: &str) -> String {
    support::registry::sha256_hex(seed.as_bytes())
}

fn tag_pair(gun: &str, tag: &str, seed: &str) -> String {
    format!("{gun}:{tag}=sha256:{}:10", digest(seed))
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

/// (tag, digest hex, role) as the real `notary list` shows them.
fn notary_list(n: &Notary, gun: &str) -> Vec<(String, String, String)> {
    list_rows(&n.run(&["list", gun]))
        .into_iter()
        .map(|(name, hex, _, role)| (name, hex, role))
        .collect()
}

fn row(tag: &str, seed: &str, role: &str) -> (String, String, String) {
    (tag.to_owned(), digest(seed), role.to_owned())
}

#[test]
fn a_server_that_lost_the_repository_is_named_and_publish_recover_restores_it() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = tmp.path().join("admin");
    let reader = tmp.path().join("reader");
    let gun = "example.com/recover/app";
    let old = NotaryServer::start();

    // A repository with a delegation that signs a tag of its own.
    ok(vouch(&admin, &old.url), &["init", gun]);
    ok(
        vouch(&admin, &old.url),
        &["sign", &tag_pair(gun, "v1", "one")],
    );
    let key = ok(
        vouch(&admin, &old.url),
        &[
            "key",
            "generate",
            "--role",
            "targets/releases",
            "--format",
            "notary",
        ],
    )
    .stdout
    .trim()
    .to_owned();
    ok(
        vouch(&admin, &old.url),
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
    ok(
        vouch(&admin, &old.url),
        &[
            "sign",
            "--role",
            "targets/releases",
            &tag_pair(gun, "r1", "rel"),
        ],
    );
    ok(
        vouch(&admin, &old.url),
        &["sign", &tag_pair(gun, "v2", "two")],
    );
    // A reader that trusted the repository on the old server (its cache: root v1 and the
    // old server's timestamp).
    let out = ok(
        vouch(&reader, &old.url),
        &["--tofu", "verify", &format!("{gun}:v2")],
    );
    assert_contains(&out.stdout, &digest("two"));
    let notary_reader = tmp.path().join("notary-reader");
    assert_eq!(
        notary_list(&Notary::with_server(&notary_reader, &old), gun).len(),
        3
    );
    drop(old);

    // The server comes back empty. The next sign says what happened and keeps its change.
    let fresh = NotaryServer::start();
    let out = fails(
        vouch(&admin, &fresh.url),
        &["sign", &tag_pair(gun, "v3", "three")],
        3,
    );
    assert_contains(&out.stderr, "the server has lost this repository");
    assert_contains(&out.stderr, "root version 1, targets version");
    assert_contains(&out.stderr, &format!("vouch publish {gun} --recover"));
    assert!(!out.stderr.contains("ErrBadRoot"), "{}", out.stderr);
    let staged = ok(vouch(&admin, &fresh.url), &["status", gun]);
    assert_contains(&staged.stdout, "v3");

    // Recover: the verified copy goes up again; the staged change stays staged.
    let out = ok(
        vouch(&admin, &fresh.url),
        &["publish", gun, "--recover", "--output", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["recovered"], true);
    assert_eq!(report["root_version_before"], 1);
    assert_eq!(report["root_version"], 2);
    assert_eq!(report["staged_kept"], 1);
    assert_eq!(report["new_server_keys"][0]["role"], "timestamp");
    let staged = ok(vouch(&admin, &fresh.url), &["status", gun]);
    assert_contains(&staged.stdout, "v3");

    // The real notary CLI, from a fresh trust dir, lists what was signed before the loss.
    let notary = Notary::with_server(&tmp.path().join("notary"), &fresh);
    assert_eq!(
        notary_list(&notary, gun),
        vec![
            row("r1", "rel", "targets/releases"),
            row("v1", "one", "targets"),
            row("v2", "two", "targets"),
        ]
    );
    // The reader, holding root v1 and a timestamp of the lost server, follows without
    // any new consent: root v2 is signed by the root key it trusts.
    let out = ok(
        vouch(&reader, &fresh.url),
        &["verify", &format!("{gun}:r1")],
    );
    assert_contains(&out.stdout, &digest("rel"));
    // A notary client that read the repository from the old server refuses the new
    // server's first timestamp as a rollback (notary keeps the version floor of a
    // timestamp whose key is gone); once its cached timestamp is removed (as the runbook
    // says), it follows the new root from its cached one.
    let old_reader = Notary::with_server(&notary_reader, &fresh);
    let out = old_reader.cmd().args(["list", gun]).output().unwrap();
    assert!(!out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stdout),
        "is lower than current version",
    );
    std::fs::remove_file(
        notary_reader
            .join("tuf")
            .join(gun)
            .join("metadata")
            .join("timestamp.json"),
    )
    .unwrap();
    assert_eq!(notary_list(&old_reader, gun), notary_list(&notary, gun));

    // A second recover is refused (the server has the repository); the staged change
    // publishes as usual, and both vouch and notary see it.
    let out = fails(vouch(&admin, &fresh.url), &["publish", gun, "--recover"], 2);
    assert_contains(&out.stderr, "nothing to recover");
    ok(vouch(&admin, &fresh.url), &["publish", gun]);
    let out = ok(
        vouch(&reader, &fresh.url),
        &["verify", &format!("{gun}:v3")],
    );
    assert_contains(&out.stdout, &digest("three"));
    assert!(notary_list(&notary, gun).contains(&row("v3", "three", "targets")));
}

/// Recovery publishes only what the trust dir verified: a cache no record anchors (as
/// notary or an older vouch wrote it) is refused without consent, and nothing is uploaded.
#[test]
fn recover_needs_an_anchored_copy_and_uploads_nothing_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = tmp.path().join("admin");
    let gun = "example.com/recover/unanchored";
    let old = NotaryServer::start();
    ok(vouch(&admin, &old.url), &["init", gun]);
    ok(
        vouch(&admin, &old.url),
        &["sign", &tag_pair(gun, "v1", "one")],
    );
    drop(old);
    std::fs::remove_file(
        admin
            .join("tuf")
            .join(gun)
            .join("@vouch")
            .join("anchor.json"),
    )
    .unwrap();
    let fresh = NotaryServer::start();
    fails(vouch(&admin, &fresh.url), &["publish", gun, "--recover"], 1);
    let notary = Notary::with_server(&tmp.path().join("notary"), &fresh);
    let out = notary.cmd().args(["list", gun]).output().unwrap();
    assert!(!out.status.success(), "nothing was published");
}
