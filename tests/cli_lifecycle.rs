//! Key lifecycle with the `vouch` binary against the real notary-server and the real
//! `notary` CLI (loopback only): root, targets and snapshot rotation followed by clients
//! that cached the old root; a root rotated without the old root key refused by the
//! server, by vouch and by notary; delegations, signers and witnessing; the offline root
//! ceremony (plan, sign with no network, apply); `key rotate --plan` changing nothing;
//! the expiry runway report and renewal; delegation path rules.
//!
//! After every change, `notary list` (from a trust dir that cached the repository before
//! the change) and `vouch verify` (from a client trust dir that verified before, so its
//! cached root is the anchor) must agree: the same digests, with Docker's rule that
//! `targets/releases` wins over `targets` for `verify`.

mod support;

use std::path::{Path, PathBuf};
use vouch::crypto::CanonicalKeyId as _;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::httpd::{HttpServer, Request, Response};
use support::{fails, http_get, list_rows, ok, run, Notary, NotaryServer, Out};

use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::crypto::SignatureProvider;
use vouch::keystore::{Fixed, KeyStore, Secret};
use vouch::tuf::{
    keys, sign_role, Expires, FileMeta, KeyId, PublicKey, RoleKeys, Root, Signed, Snapshot,
    Timestamp,
};

// ---------------------------------------------------------------------------------------
// Helpers

/// A made-up manifest digest (hex) for `seed`.
fn digest(seed: &str) -> String {
    hex::encode(Sha256::digest(format!("manifest {seed}").as_bytes()))
}

/// `GUN:TAG=sha256:HEX:SIZE` with the digest of `seed` (no registry is contacted).
fn pair(gun: &str, tag: &str, seed: &str, size: u64) -> String {
    format!("{gun}:{tag}=sha256:{}:{size}", digest(seed))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `vouch` with a trust dir, the test passphrases, no credentials or notary passphrases
/// from the environment, and `-s server` when given.
fn vouch(trust: &Path, server: Option<&str>) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    if let Some(server) = server {
        c.arg("-s").arg(server);
    }
    c
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

/// A `notary` run that must fail; returns stdout and stderr (notary prints errors to stdout).
fn notary_fails(n: &Notary, args: &[&str]) -> String {
    let out = n.run_raw(args);
    assert!(
        !out.status.success(),
        "notary {args:?} unexpectedly succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

type Row = support::ListRow;

/// An expected row: `tag` signed with the digest of `seed` and `size` by `role`.
fn row(tag: &str, seed: &str, size: u64, role: &str) -> Row {
    (tag.to_owned(), digest(seed), size, role.to_owned())
}

/// `notary list GUN [-r ROLE]` equals `want` (sorted by name, as notary prints it).
fn assert_notary_lists(n: &Notary, gun: &str, role: Option<&str>, want: &[Row]) {
    let mut args = vec!["list", gun];
    if let Some(r) = role {
        args.extend(["-r", r]);
    }
    let got = list_rows(&n.run(&args));
    assert_eq!(got, want, "notary {args:?}");
}

/// `vouch verify IMAGE:TAG` from `client` (whose cached root is the trust anchor; no
/// --tofu) prints IMAGE@sha256:<digest of seed>, or exits 1 when `seed` is `None`.
fn assert_verifies(client: &Path, srv: &str, gun: &str, tag: &str, seed: Option<&str>) {
    let image = format!("{gun}:{tag}");
    match seed {
        Some(seed) => {
            let out = ok(vouch(client, Some(srv)), &["verify", &image]);
            assert_eq!(
                out.stdout.trim(),
                format!("{gun}@sha256:{}", digest(seed)),
                "vouch verify {image}: {}",
                out.stderr
            );
        }
        None => {
            fails(vouch(client, Some(srv)), &["verify", &image], 1);
        }
    }
}

/// The agreement check made after every change: `notary list` from `n` shows `rows`, and
/// `vouch verify` from `client` resolves every tag as Docker does (`targets/releases`
/// before `targets`). `releases` are the rows of `targets/releases` (`notary list -r`);
/// `gone` are tags that must not verify.
fn assert_agree(
    n: &Notary,
    client: &Path,
    srv: &str,
    gun: &str,
    rows: &[Row],
    releases: &[Row],
    gone: &[&str],
) {
    assert_notary_lists(n, gun, None, rows);
    if !releases.is_empty() {
        assert_notary_lists(n, gun, Some("targets/releases"), releases);
    }
    // Docker's resolution, from notary's answers.
    let mut docker: Vec<(String, String)> = releases
        .iter()
        .map(|r| (r.0.clone(), r.1.clone()))
        .collect();
    for r in rows.iter().filter(|r| r.3 == "targets") {
        if !docker.iter().any(|(t, _)| *t == r.0) {
            docker.push((r.0.clone(), r.1.clone()));
        }
    }
    for (tag, hex) in &docker {
        let image = format!("{gun}:{tag}");
        let out = ok(vouch(client, Some(srv)), &["verify", &image]);
        assert_eq!(
            out.stdout.trim(),
            format!("{gun}@sha256:{hex}"),
            "vouch verify {image} disagrees with notary"
        );
    }
    for tag in gone {
        assert_verifies(client, srv, gun, tag, None);
        assert!(
            !list_rows(&n.run(&["list", gun]))
                .iter()
                .any(|r| r.0 == *tag),
            "notary still lists {tag}"
        );
        assert_contains(
            &notary_fails(n, &["lookup", gun, tag]),
            &format!("No valid trust data for {tag}"),
        );
    }
}

/// The server's current `<role>.json` for `gun`, as bytes.
fn server_bytes(server: &NotaryServer, gun: &str, role: &str) -> Vec<u8> {
    let (status, body) = http_get(server.port, &format!("/v2/{gun}/_trust/tuf/{role}.json"));
    assert_eq!(
        status,
        200,
        "GET {role}.json for {gun}: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

/// The server's current `<role>.json` for `gun`, parsed.
fn server_meta(server: &NotaryServer, gun: &str, role: &str) -> Value {
    serde_json::from_slice(&server_bytes(server, gun, role)).unwrap()
}

fn version(meta: &Value) -> i64 {
    meta["signed"]["version"].as_i64().unwrap()
}

/// The key IDs (as listed in root.json) of `role` in a root file.
fn role_keyids(root: &Value, role: &str) -> Vec<String> {
    root["signed"]["roles"][role]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// Key IDs of a metadata file's signatures.
fn signer_ids(meta: &Value) -> Vec<String> {
    meta["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["keyid"].as_str().unwrap().to_owned())
        .collect()
}

/// The canonical (public-key) IDs of `role`'s keys in a root file: what `vouch key list`
/// and `notary key list` show.
fn canonical_role_keys(root: &Value, role: &str) -> Vec<String> {
    let root: Root = serde_json::from_value(root["signed"].clone()).unwrap();
    root.base_role(role)
        .unwrap()
        .keys
        .values()
        .map(|k| k.canonical_key_id().unwrap().to_string())
        .collect()
}

/// The version of a role in a trust dir's cache.
fn cached_version(trust: &Path, gun: &str, role: &str) -> i64 {
    let p = trust
        .join("tuf")
        .join(gun)
        .join("metadata")
        .join(format!("{role}.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    version(&v)
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

/// The ID of the only key with `role` in a trust dir.
fn only_key(trust: &Path, role: &str) -> String {
    let ids: Vec<String> = key_list(trust)
        .into_iter()
        .filter(|k| k.0 == role)
        .map(|k| k.2)
        .collect();
    assert_eq!(ids.len(), 1, "{role} keys in {}: {ids:?}", trust.display());
    ids[0].clone()
}

/// Generate a key for `role` in `trust` and write its public key (PEM) to `pem`; returns
/// the key ID.
fn generate_with_public(trust: &Path, role: &str, pem: &Path) -> String {
    let out = ok(
        vouch(trust, None),
        &[
            "key", "generate", "--role", role, "--format", "notary", "--output", "json",
        ],
    );
    let id = json(&out.stdout)["id"].as_str().unwrap().to_owned();
    let public = ok(vouch(trust, None), &["key", "public", &id]);
    assert_contains(&public.stdout, "-----BEGIN PUBLIC KEY-----");
    std::fs::write(pem, &public.stdout).unwrap();
    id
}

/// `vouch delegation list --output json` as (role, paths, key IDs).
fn delegations(trust: &Path, srv: &str, gun: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let out = ok(
        vouch(trust, Some(srv)),
        &["delegation", "list", gun, "--output", "json"],
    );
    let strings = |v: &Value| -> Vec<String> {
        let mut x: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        x.sort();
        x
    };
    let mut rows: Vec<_> = json(&out.stdout)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["role"].as_str().unwrap().to_owned(),
                strings(&d["paths"]),
                strings(&d["key_ids"]),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Staged changes, from `vouch status --output json`.
fn staged(trust: &Path, gun: &str) -> Vec<Value> {
    let out = ok(vouch(trust, None), &["status", gun, "--output", "json"]);
    json(&out.stdout)["items"]
        .as_array()
        .expect("a JSON array")
        .clone()
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

/// A port on 127.0.0.1 that nothing listens on.
fn dead_port() -> u16 {
    support::free_port()
}

fn pass(p: &str) -> Fixed {
    Fixed::new(Secret::new(p))
}

/// A successor of `current` (root.json bytes) whose root role is a brand-new root key,
/// as an attacker holding only a new key would make it. Signed by the new key, and also by
/// the current root key from `old_keys` when that is given (a genuine rotation: the
/// control).
fn successor_root(gun: &str, current: &[u8], old_keys: Option<&KeyStore>) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc();
    let old = Signed::<Root>::from_bytes(current).unwrap();
    let mut root = old.untrusted().clone();
    let new_key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let cert =
        vouch::crypto::x509::root_certificate(new_key.ecdsa_signing_key().unwrap(), gun, now)
            .unwrap();
    let cert = PublicKey::new(keys::ECDSA_X509, cert.into_bytes());
    let new_id = cert.key_id();
    root.keys.insert(new_id.to_string(), cert);
    root.roles
        .insert("root".into(), RoleKeys::new(vec![new_id.to_string()], 1));
    root.version += 1;
    root.expires = Expires::new(now + time::Duration::days(3650)).unwrap();

    let mut old_signer = None;
    if let Some(store) = old_keys {
        let role = old.untrusted().base_role("root").unwrap();
        let (listed, key) = role.keys.iter().next().unwrap();
        let (pk, _) = store
            .load(&key.canonical_key_id().unwrap(), &pass(support::ROOT_PASS))
            .unwrap();
        old_signer = Some((KeyId::parse(listed).unwrap(), pk));
    }
    let mut signers: Vec<(KeyId, &dyn SignatureProvider)> = vec![(new_id, &new_key)];
    if let Some((id, k)) = &old_signer {
        signers.push((id.clone(), k));
    }
    sign_role(&root, &signers).unwrap()
}

/// Sign `meta` with the key of `role` listed in `root`, loaded from `store`.
fn sign_as<T: serde::Serialize>(
    store: &KeyStore,
    root: &Root,
    role: &str,
    p: &str,
    meta: &T,
) -> Vec<u8> {
    let base = root.base_role(role).unwrap();
    let (listed, key) = base.keys.iter().next().unwrap();
    let (pk, _) = store
        .load(&key.canonical_key_id().unwrap(), &pass(p))
        .unwrap();
    let signers: Vec<(KeyId, &dyn SignatureProvider)> = vec![(KeyId::parse(listed).unwrap(), &pk)];
    sign_role(meta, &signers).unwrap()
}

/// Publish `new_root` into the static repository at `repo` as a complete, consistent
/// update: the snapshot lists the new root's hashes and the timestamp the new snapshot,
/// both signed with the repository's own (unchanged) snapshot and timestamp keys from
/// `owner`. Only the root's signatures decide whether a client may accept it.
fn publish_static_root(repo: &Path, owner: &Path, gun: &str, new_root: Vec<u8>) {
    let tuf = repo.join(gun).join("_trust/tuf");
    let read = |role: &str| std::fs::read(tuf.join(format!("{role}.json"))).unwrap();
    let root = Signed::<Root>::from_bytes(&read("root"))
        .unwrap()
        .untrusted()
        .clone();
    let store = KeyStore::open(owner).unwrap();
    let mut snap = Signed::<Snapshot>::from_bytes(&read("snapshot"))
        .unwrap()
        .untrusted()
        .clone();
    snap.version += 1;
    snap.meta.insert(
        "root".into(),
        FileMeta::from_bytes(&new_root, &["sha256", "sha512"]).unwrap(),
    );
    let snap_bytes = sign_as(&store, &root, "snapshot", support::SNAPSHOT_PASS, &snap);
    let old_ts = Signed::<Timestamp>::from_bytes(&read("timestamp")).unwrap();
    let ts = Timestamp::new(
        old_ts.untrusted().version + 1,
        old_ts.untrusted().expires.clone(),
        FileMeta::from_bytes(&snap_bytes, &["sha256", "sha512"]).unwrap(),
    );
    let ts_bytes = sign_as(&store, &root, "timestamp", support::TIMESTAMP_PASS, &ts);
    let remote =
        vouch::remote::open_remote(&format!("file://{}", repo.display()), &Default::default())
            .unwrap();
    remote
        .publish(
            &vouch::remote::Gun::parse(gun).unwrap(),
            &[
                ("root".into(), new_root),
                ("snapshot".into(), snap_bytes),
                ("timestamp".into(), ts_bytes),
            ],
        )
        .unwrap();
}

/// A repository on `server` made by vouch in `admin`, with tags v1 and v2 signed into
/// `targets`; the `notary` trust dir and the vouch client trust dir have both read it
/// (cached root version 1) before anything changes.
struct Repo {
    admin: PathBuf,
    client: PathBuf,
    notary: Notary,
}

fn setup(tmp: &Path, server: &NotaryServer, gun: &str, init_args: &[&str]) -> Repo {
    let srv = Some(server.url.as_str());
    let admin = tmp.join("admin");
    let mut args = vec!["init", gun, "--key-format", "notary"];
    args.extend(init_args);
    ok(vouch(&admin, srv), &args);
    ok(
        vouch(&admin, srv),
        &[
            "sign",
            &pair(gun, "v1", "v1", 101),
            &pair(gun, "v2", "v2", 102),
        ],
    );
    let notary = Notary::with_server(&tmp.join("notary"), server);
    assert_notary_lists(
        &notary,
        gun,
        None,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
    );
    let client = tmp.join("client");
    let first = ok(
        vouch(&client, srv),
        &["verify", &format!("{gun}:v1"), "--tofu"],
    );
    assert_contains(&first.stderr, "TRUST ON FIRST USE");
    assert_eq!(cached_version(&client, gun, "root"), 1);
    assert_eq!(cached_version(&tmp.join("notary"), gun, "root"), 1);
    Repo {
        admin,
        client,
        notary,
    }
}

// ---------------------------------------------------------------------------------------
// Root rotation

#[test]
fn root_rotation_by_vouch_is_followed_by_notary_and_vouch_clients_holding_the_old_root() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/root";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);
    let old_root = server_meta(&server, gun, "root");
    let old_root_key = only_key(&r.admin, "root");
    assert_eq!(
        canonical_role_keys(&old_root, "root"),
        vec![old_root_key.clone()]
    );
    // A deployment pins the root keys of version 1.
    let lock = tmp.path().join("vouch-trust.json");
    ok(
        vouch(&r.client, None),
        &[
            "trust",
            "pin",
            gun,
            "--from-cache",
            "--trust-lock",
            s(&lock),
        ],
    );

    // Without --yes and without a terminal, root rotation refuses and changes nothing.
    let refused = fails(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "root"],
        2,
    );
    assert_contains(&refused.stderr, "--yes");
    assert_eq!(version(&server_meta(&server, gun, "root")), 1);

    let out = ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "root", "--yes"],
    );
    assert_contains(&out.stdout, "Done: rotation of the root key");
    let new_root = server_meta(&server, gun, "root");
    assert_eq!(version(&new_root), 2);
    let root_keys: Vec<String> = key_list(&r.admin)
        .into_iter()
        .filter(|k| k.0 == "root")
        .map(|k| k.2)
        .collect();
    assert_eq!(
        root_keys.len(),
        2,
        "the old root key file is kept: {root_keys:?}"
    );
    let new_root_key = root_keys.into_iter().find(|k| *k != old_root_key).unwrap();
    assert_eq!(
        canonical_role_keys(&new_root, "root"),
        vec![new_root_key.clone()]
    );
    // The output says which key signs the root from now on, which is only listed, and
    // how to back up the new key; the backup command it prints works as printed.
    assert_contains(
        &out.stdout,
        &format!("root keys that sign the root from now on: {new_root_key}\n"),
    );
    assert_contains(
        &out.stdout,
        &format!("old root keys, only listed in root.json from now on (they sign this version for clients holding the old root, and no later one): {old_root_key}\n"),
    );
    let backup_line = format!(
        "back up the new root key: vouch key backup --role root --gun {gun} -o root.backup"
    );
    assert_eq!(
        out.stdout.trim_end().lines().last(),
        Some(backup_line.as_str())
    );
    let backup = r.admin.parent().unwrap().join("root.backup");
    let with_backup_pass = || {
        let mut c = vouch(&r.admin, None);
        c.env("VOUCH_BACKUP_PASSPHRASE", "backup-pass-123");
        c
    };
    ok(
        with_backup_pass(),
        &[
            "key",
            "backup",
            "--role",
            "root",
            "--gun",
            gun,
            "-o",
            s(&backup),
        ],
    );
    let listed = ok(with_backup_pass(), &["key", "backup", "verify", s(&backup)]);
    assert_contains(
        &format!("{}{}", listed.stdout, listed.stderr),
        &new_root_key,
    );

    // Signed by the old root key (listed as its certificate) and by the new one.
    let sigs = sorted(signer_ids(&new_root));
    let mut want = role_keyids(&old_root, "root");
    want.extend(role_keyids(&new_root, "root"));
    assert_eq!(sigs, sorted(want));

    // notary, whose cache holds root v1, follows the rotation and still lists and looks up.
    assert_notary_lists(
        &r.notary,
        gun,
        None,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
    );
    assert_eq!(
        r.notary.run(&["lookup", gun, "v2"]).trim(),
        format!("v2 sha256:{} 102", digest("v2"))
    );
    assert_eq!(cached_version(&r.notary.trust_dir, gun, "root"), 2);

    // So does a vouch client whose cached root v1 is its only anchor (no --tofu).
    assert_verifies(&r.client, srv, gun, "v1", Some("v1"));
    assert_eq!(cached_version(&r.client, gun, "root"), 2);
    // And a fresh one that pinned the version 1 root keys.
    let pinned = ok(
        vouch(&tmp.path().join("pinned"), Some(srv)),
        &["verify", &format!("{gun}:v2"), "--trust-lock", s(&lock)],
    );
    assert_eq!(
        pinned.stdout.trim(),
        format!("{gun}@sha256:{}", digest("v2"))
    );

    // The repository stays usable: a new tag after the rotation reaches both.
    ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v3", "v3", 103)],
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
            row("v3", "v3", 103, "targets"),
        ],
        &[],
        &[],
    );
}

#[test]
fn root_replaced_without_the_old_root_key_is_refused_by_the_server() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/hijack";
    let srv = server.url.as_str();
    // The server holds the snapshot key, so a root alone is a complete update.
    let r = setup(tmp.path(), &server, gun, &["--server-managed-snapshot"]);
    let current = server_bytes(&server, gun, "root");
    let remote = vouch::remote::open_remote(srv, &Default::default()).unwrap();
    let g = vouch::remote::Gun::parse(gun).unwrap();

    // Signed only by a new root key: notary-server refuses it.
    let forged = successor_root(gun, &current, None);
    let err = remote
        .publish(&g, &[("root".into(), forged)])
        .expect_err("the server accepted a root not signed by the current root key");
    assert_contains(&err.to_string(), "ErrBadRoot");
    assert_eq!(
        server_bytes(&server, gun, "root"),
        current,
        "root unchanged"
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &[],
    );

    // Control: the same kind of root, also signed by the current root key, is accepted by
    // the server and followed by both clients.
    let genuine = successor_root(gun, &current, Some(&KeyStore::open(&r.admin).unwrap()));
    remote.publish(&g, &[("root".into(), genuine)]).unwrap();
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &[],
    );
    assert_eq!(cached_version(&r.notary.trust_dir, gun, "root"), 2);
    assert_eq!(cached_version(&r.client, gun, "root"), 2);
}

/// What the clients made of a replaced root.
struct Verdict {
    vouch: Out,
    notary_ok: bool,
    /// notary's stdout (where it prints its table, and its errors).
    notary_out: String,
}

/// A static repository (no server to refuse anything) where the root is replaced: the
/// rest of the update is consistent and correctly signed, so only the root's signatures
/// decide. `vouch verify` and `notary list` run from trust dirs that cached root
/// version 1 before.
fn static_root_replacement(tmp: &Path, gun: &str, sign_with_old_key: bool) -> Verdict {
    let owner = tmp.join("owner");
    let repo = tmp.join("repo");
    let url = format!("file://{}", repo.display());
    ok(
        vouch(&owner, Some(&url)),
        &["init", gun, "--key-format", "notary"],
    );
    ok(
        vouch(&owner, Some(&url)),
        &["sign", &pair(gun, "v1", "v1", 101)],
    );
    let web = serve_under_v2(repo.clone());
    let n = Notary {
        trust_dir: tmp.join("notary"),
        server: Some(web.url.clone()),
    };
    assert_notary_lists(&n, gun, None, &[row("v1", "v1", 101, "targets")]);
    let client = tmp.join("client");
    ok(
        vouch(&client, Some(&url)),
        &["verify", &format!("{gun}:v1"), "--tofu"],
    );

    let tuf = repo.join(gun).join("_trust/tuf");
    let current = std::fs::read(tuf.join("root.json")).unwrap();
    let old_keys = KeyStore::open(&owner).unwrap();
    let new_root = successor_root(gun, &current, sign_with_old_key.then_some(&old_keys));
    publish_static_root(&repo, &owner, gun, new_root.clone());
    assert_eq!(std::fs::read(tuf.join("root.json")).unwrap(), new_root);

    let vouch = run(
        vouch(&client, Some(&url)),
        &["verify", &format!("{gun}:v1")],
    );
    let nl = n.run_raw(&["list", gun]);
    Verdict {
        vouch,
        notary_ok: nl.status.success(),
        notary_out: String::from_utf8_lossy(&nl.stdout).into_owned(),
    }
}

#[test]
fn static_root_replaced_without_the_old_root_key_is_refused_by_vouch_and_notary() {
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/static-hijack";
    let v = static_root_replacement(tmp.path(), gun, false);
    assert_eq!(
        v.vouch.code, 1,
        "vouch verify: {}{}",
        v.vouch.stdout, v.vouch.stderr
    );
    assert!(v.vouch.stdout.is_empty(), "{}", v.vouch.stdout);
    assert_contains(&v.vouch.stderr, "root version 2");
    assert_contains(&v.vouch.stderr, "threshold is 1");
    assert!(!v.notary_ok, "notary accepted it:\n{}", v.notary_out);
    assert_contains(
        &v.notary_out,
        "could not rotate trust to a new trusted root",
    );
}

#[test]
fn static_root_replaced_with_the_old_root_key_signing_is_accepted_by_vouch_and_notary() {
    // The control for the test above: the same construction, plus the old key's signature.
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/static-rotate";
    let v = static_root_replacement(tmp.path(), gun, true);
    assert_eq!(v.vouch.code, 0, "vouch verify: {}", v.vouch.stderr);
    assert_eq!(
        v.vouch.stdout.trim(),
        format!("{gun}@sha256:{}", digest("v1"))
    );
    assert!(v.notary_ok, "notary refused it:\n{}", v.notary_out);
    assert_eq!(
        list_rows(&v.notary_out),
        vec![row("v1", "v1", 101, "targets")]
    );
}

// ---------------------------------------------------------------------------------------
// Targets, snapshot and timestamp rotation

#[test]
fn targets_rotation_new_and_existing_key_keeps_notary_and_vouch_in_agreement() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/targets";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);
    let old_targets_key = only_key(&r.admin, "targets");
    let targets_v = version(&server_meta(&server, gun, "targets"));

    // A new key.
    let out = ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "targets"],
    );
    assert_contains(&out.stdout, "Done: rotation of the targets key");
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 2);
    let new_key = canonical_role_keys(&root, "targets");
    assert_eq!(new_key.len(), 1);
    assert_ne!(new_key[0], old_targets_key);
    assert!(
        key_list(&r.admin).contains(&("targets".into(), gun.into(), new_key[0].clone())),
        "the new targets key is in the key store"
    );
    // targets was re-signed with the new key alone, as a new version.
    let targets = server_meta(&server, gun, "targets");
    assert_eq!(version(&targets), targets_v + 1);
    assert_eq!(signer_ids(&targets), new_key);
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &[],
    );
    ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v3", "v3", 103)],
    );
    assert_eq!(signer_ids(&server_meta(&server, gun, "targets")), new_key);

    // An existing key (made in advance, e.g. on another machine and imported).
    let made = ok(
        vouch(&r.admin, None),
        &[
            "key", "generate", "--role", "targets", "--gun", gun, "--format", "notary",
        ],
    );
    let chosen = made.stdout.trim().to_owned();
    ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "targets", "--key", &chosen[..16]],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 3);
    assert_eq!(canonical_role_keys(&root, "targets"), vec![chosen.clone()]);
    assert_eq!(
        signer_ids(&server_meta(&server, gun, "targets")),
        vec![chosen.clone()]
    );
    // The keys no role uses any more have left root.json.
    let listed: Vec<String> = root["signed"]["keys"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(!listed.contains(&new_key[0]), "{listed:?}");
    assert!(!listed.contains(&old_targets_key), "{listed:?}");

    ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v4", "v4", 104)],
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
            row("v3", "v3", 103, "targets"),
            row("v4", "v4", 104, "targets"),
        ],
        &[],
        &[],
    );
    assert_eq!(cached_version(&r.notary.trust_dir, gun, "root"), 3);
    assert_eq!(cached_version(&r.client, gun, "root"), 3);
}

#[test]
fn snapshot_key_moves_to_the_server_and_back_and_timestamp_key_rotates() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/snapshot";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);
    let local_snapshot = only_key(&r.admin, "snapshot");
    assert_eq!(
        canonical_role_keys(&server_meta(&server, gun, "root"), "snapshot"),
        vec![local_snapshot.clone()]
    );

    // To the server.
    ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "snapshot", "--server-managed"],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 2);
    let server_snapshot = role_keyids(&root, "snapshot");
    assert_ne!(server_snapshot, vec![local_snapshot.clone()]);
    let (status, body) = http_get(server.port, &format!("/v2/{gun}/_trust/tuf/snapshot.key"));
    assert_eq!(status, 200);
    let held: PublicKey = serde_json::from_slice(&body).unwrap();
    assert_eq!(server_snapshot, vec![held.key_id().to_string()]);
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &[],
    );
    // Publishing now uploads targets only; the server signs the snapshot.
    let snap_v = version(&server_meta(&server, gun, "snapshot"));
    let signed = ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v3", "v3", 103)],
    );
    assert!(!signed.stderr.contains("snapshot v"), "{}", signed.stderr);
    let snap = server_meta(&server, gun, "snapshot");
    assert_eq!(version(&snap), snap_v + 1);
    assert_eq!(signer_ids(&snap), server_snapshot);
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
            row("v3", "v3", 103, "targets"),
        ],
        &[],
        &[],
    );

    // And back to a new key held here.
    ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "snapshot"],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 3);
    let back = canonical_role_keys(&root, "snapshot");
    assert_ne!(back, vec![local_snapshot.clone()]);
    assert!(
        key_list(&r.admin).contains(&("snapshot".into(), gun.into(), back[0].clone())),
        "the new snapshot key is in the key store"
    );
    let signed = ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v4", "v4", 104)],
    );
    assert_contains(&signed.stderr, "snapshot v");
    assert_eq!(signer_ids(&server_meta(&server, gun, "snapshot")), back);

    // Timestamp: the server makes a new key; root lists it and the server signs with it.
    let old_ts = role_keyids(&root, "timestamp");
    ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "timestamp"],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 4);
    let new_ts = role_keyids(&root, "timestamp");
    assert_ne!(new_ts, old_ts);
    assert_eq!(signer_ids(&server_meta(&server, gun, "timestamp")), new_ts);

    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
            row("v3", "v3", 103, "targets"),
            row("v4", "v4", 104, "targets"),
        ],
        &[],
        &[],
    );
    assert_eq!(cached_version(&r.notary.trust_dir, gun, "root"), 4);
    assert_eq!(cached_version(&r.client, gun, "root"), 4);
}

#[test]
fn rotate_plan_shows_before_and_after_and_changes_nothing() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/plan";
    let srv = server.url.as_str();
    let admin = tmp.path().join("admin");
    ok(
        vouch(&admin, Some(srv)),
        &["init", gun, "--key-format", "notary"],
    );
    let root_key = only_key(&admin, "root");
    let targets_key = only_key(&admin, "targets");
    // A key made in advance to rotate targets to.
    let other = ok(
        vouch(&admin, None),
        &[
            "key", "generate", "--role", "targets", "--gun", gun, "--format", "notary",
        ],
    )
    .stdout
    .trim()
    .to_owned();
    let server_before: Vec<Vec<u8>> = ["root", "targets", "snapshot", "timestamp"]
        .iter()
        .map(|r| server_bytes(&server, gun, r))
        .collect();
    let trust_before = support::snapshot_tree(&admin);
    let keys_before = key_list(&admin);

    // Root, text: the table of keys before and after, the signers, the notes.
    let out = ok(
        vouch(&admin, Some(srv)),
        &["key", "rotate", gun, "root", "--plan"],
    );
    assert_contains(&out.stdout, "Plan: rotation of the root key");
    // Who signs from now on and the backup step are said when it is done, not planned.
    assert!(!out.stdout.contains("from now on"), "{}", out.stdout);
    assert!(!out.stdout.contains("vouch key backup"), "{}", out.stdout);
    assert_contains(&out.stdout, "BEFORE (ROOT V1)");
    assert_contains(&out.stdout, "AFTER (ROOT V2)");
    let root_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("root "))
        .unwrap_or_else(|| panic!("no root row in {}", out.stdout));
    assert_contains(root_line, &root_key);
    assert_contains(root_line, "a new ECDSA P-256 key");
    let targets_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("targets "))
        .unwrap();
    assert_eq!(
        targets_line.matches(&targets_key).count(),
        2,
        "{targets_line}"
    );
    assert_contains(&out.stdout, &format!("signed by root keys: {root_key}"));
    assert_contains(
        &out.stdout,
        "clients that trust root version 1 accept version 2",
    );

    // Targets to the existing key, JSON.
    let out = ok(
        vouch(&admin, Some(srv)),
        &[
            "key", "rotate", gun, "targets", "--key", &other, "--plan", "--output", "json",
        ],
    );
    let plan = json(&out.stdout);
    assert_eq!(plan["done"], false);
    assert_eq!(plan["before"]["version"], 1);
    assert_eq!(plan["after"]["version"], 2);
    assert_eq!(
        plan["before"]["roles"]["targets"],
        serde_json::json!([targets_key])
    );
    assert_eq!(
        plan["after"]["roles"]["targets"],
        serde_json::json!([other])
    );
    assert_eq!(
        plan["after"]["roles"]["root"],
        serde_json::json!([root_key])
    );
    assert_eq!(plan["root_signers"], serde_json::json!([root_key]));
    assert_eq!(plan["missing_signers"], serde_json::json!([]));

    // Snapshot to the server.
    let out = ok(
        vouch(&admin, Some(srv)),
        &[
            "key",
            "rotate",
            gun,
            "snapshot",
            "--server-managed",
            "--plan",
        ],
    );
    assert_contains(&out.stdout, "from now on the server signs snapshots");

    // Nothing changed: the server's files, the trust dir, the key store.
    for (i, r) in ["root", "targets", "snapshot", "timestamp"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            server_bytes(&server, gun, r),
            server_before[i],
            "{r}.json changed"
        );
    }
    assert!(
        support::snapshot_tree(&admin) == trust_before,
        "the trust dir changed"
    );
    assert_eq!(key_list(&admin), keys_before);
    assert!(staged(&admin, gun).is_empty());
}

// ---------------------------------------------------------------------------------------
// Delegations, signers, witness

#[test]
fn delegation_add_sign_remove_keeps_notary_and_vouch_in_agreement() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/delegation";
    let srv = server.url.as_str();
    // Docker's layout: the server holds the snapshot key, so a delegation key alone can
    // publish.
    let r = setup(tmp.path(), &server, gun, &["--server-managed-snapshot"]);

    // The CI system's key, made where CI runs; the admin gets only the public key.
    let ci = tmp.path().join("ci");
    let pem = tmp.path().join("releases.pem");
    let ci_key = generate_with_public(&ci, "targets/releases", &pem);
    let added = ok(
        vouch(&r.admin, Some(srv)),
        &[
            "delegation",
            "add",
            gun,
            "targets/releases",
            "--key",
            s(&pem),
            "--all-paths",
        ],
    );
    assert!(!added.stderr.contains("warning"), "{}", added.stderr);
    assert_eq!(
        delegations(&r.admin, srv, gun),
        vec![(
            "targets/releases".into(),
            vec![String::new()],
            vec![ci_key.clone()]
        )]
    );
    // notary sees the same delegation.
    let nd = r.notary.run(&["delegation", "list", gun]);
    let line = nd
        .lines()
        .find(|l| l.starts_with("targets/releases"))
        .unwrap_or_else(|| panic!("{nd}"));
    assert_contains(line, &ci_key);
    assert_contains(line, "\"\" <all paths>");

    // CI signs v1 (a different build than targets' v1) and r1 into targets/releases.
    // CI's trust dir has nothing that anchors the root yet: it consents once (--tofu).
    let signed = ok(
        vouch(&ci, Some(srv)),
        &[
            "sign",
            "--tofu",
            "--role",
            "targets/releases",
            &pair(gun, "v1", "v1-release", 201),
            &pair(gun, "r1", "r1", 202),
        ],
    );
    assert_contains(&signed.stderr, "targets/releases v1");
    assert_eq!(
        signer_ids(&server_meta(&server, gun, "targets/releases")),
        vec![ci_key.clone()]
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("r1", "r1", 202, "targets/releases"),
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[
            row("r1", "r1", 202, "targets/releases"),
            row("v1", "v1-release", 201, "targets/releases"),
        ],
        &[],
    );
    // Docker's rule, spelled out: releases wins over targets for v1.
    assert_verifies(&r.client, srv, gun, "v1", Some("v1-release"));

    // Removing the key leaves a role nobody can sign for: its old signatures no longer
    // count, so both clients fall back to targets.
    ok(
        vouch(&r.admin, Some(srv)),
        &[
            "delegation",
            "remove",
            gun,
            "targets/releases",
            "--key",
            &ci_key,
        ],
    );
    assert_eq!(
        delegations(&r.admin, srv, gun),
        vec![("targets/releases".into(), vec![String::new()], vec![])]
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &["r1"],
    );
    assert_verifies(&r.client, srv, gun, "v1", Some("v1"));
    // CI cannot sign any more.
    let refused = run(
        vouch(&ci, Some(srv)),
        &[
            "sign",
            "--role",
            "targets/releases",
            &pair(gun, "r2", "r2", 203),
        ],
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);

    // Back again, then the whole role removed (no --key, no --path).
    ok(
        vouch(&r.admin, Some(srv)),
        &[
            "delegation",
            "add",
            gun,
            "targets/releases",
            "--key",
            s(&pem),
            "--all-paths",
        ],
    );
    ok(vouch(&ci, None), &["reset", gun, "--all"]);
    ok(
        vouch(&ci, Some(srv)),
        &[
            "sign",
            "--role",
            "targets/releases",
            &pair(gun, "r2", "r2", 203),
        ],
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("r1", "r1", 202, "targets/releases"),
            row("r2", "r2", 203, "targets/releases"),
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[
            row("r1", "r1", 202, "targets/releases"),
            row("r2", "r2", 203, "targets/releases"),
            row("v1", "v1-release", 201, "targets/releases"),
        ],
        &[],
    );
    ok(
        vouch(&r.admin, Some(srv)),
        &["delegation", "remove", gun, "targets/releases"],
    );
    assert!(delegations(&r.admin, srv, gun).is_empty());
    assert_contains(
        &r.notary.run(&["delegation", "list", gun]),
        "No delegations present in this repository.",
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &["r1", "r2"],
    );
}

#[test]
fn signer_add_remove_and_witness_keep_notary_and_vouch_in_agreement() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/signers";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &["--server-managed-snapshot"]);

    // Each signer makes a key on their own machine and hands the admin the public key.
    let alice = tmp.path().join("alice");
    let bob = tmp.path().join("bob");
    let alice_key = generate_with_public(&alice, "targets/alice", &tmp.path().join("alice.pem"));
    let bob_key = generate_with_public(&bob, "targets/bob", &tmp.path().join("bob.pem"));
    ok(
        vouch(&r.admin, Some(srv)),
        &[
            "signer",
            "add",
            "alice",
            gun,
            "--key",
            s(&tmp.path().join("alice.pem")),
        ],
    );
    ok(
        vouch(&r.admin, Some(srv)),
        &[
            "signer",
            "add",
            "bob",
            gun,
            "--key",
            s(&tmp.path().join("bob.pem")),
        ],
    );
    assert_eq!(
        delegations(&r.admin, srv, gun),
        vec![
            (
                "targets/alice".into(),
                vec![String::new()],
                vec![alice_key.clone()]
            ),
            (
                "targets/bob".into(),
                vec![String::new()],
                vec![bob_key.clone()]
            ),
            (
                "targets/releases".into(),
                vec![String::new()],
                sorted(vec![alice_key.clone(), bob_key.clone()])
            ),
        ]
    );

    // Bob signs v2, then Alice signs v1: targets/releases is last signed by Alice.
    ok(
        vouch(&bob, Some(srv)),
        &[
            "sign",
            "--tofu",
            "--role",
            "targets/releases",
            &pair(gun, "v2", "v2-bob", 302),
        ],
    );
    ok(
        vouch(&alice, Some(srv)),
        &[
            "sign",
            "--tofu",
            "--role",
            "targets/releases",
            &pair(gun, "v1", "v1-alice", 301),
        ],
    );
    assert_eq!(
        signer_ids(&server_meta(&server, gun, "targets/releases")),
        vec![alice_key.clone()]
    );
    let both = [
        row("v1", "v1-alice", 301, "targets/releases"),
        row("v2", "v2-bob", 302, "targets/releases"),
    ];
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &both,
        &[],
    );
    assert_verifies(&r.client, srv, gun, "v1", Some("v1-alice"));
    assert_verifies(&r.client, srv, gun, "v2", Some("v2-bob"));

    // Alice leaves: targets/alice is deleted and her key leaves targets/releases, whose
    // current file only she signed. Both clients ignore it now and fall back to targets.
    let removed = ok(
        vouch(&r.admin, Some(srv)),
        &["signer", "remove", "alice", gun],
    );
    assert_contains(&removed.stderr, "vouch witness");
    assert_eq!(
        delegations(&r.admin, srv, gun),
        vec![
            (
                "targets/bob".into(),
                vec![String::new()],
                vec![bob_key.clone()]
            ),
            (
                "targets/releases".into(),
                vec![String::new()],
                vec![bob_key.clone()]
            ),
        ]
    );
    let listed = list_rows(&r.notary.run(&["list", gun]));
    assert_eq!(
        listed,
        vec![
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets")
        ]
    );
    assert_verifies(&r.client, srv, gun, "v1", Some("v1"));
    assert_verifies(&r.client, srv, gun, "v2", Some("v2"));

    // Bob witnesses targets/releases: re-signed as it is, valid again for both clients.
    let before = version(&server_meta(&server, gun, "targets/releases"));
    ok(
        vouch(&bob, Some(srv)),
        &["witness", gun, "targets/releases"],
    );
    let releases = server_meta(&server, gun, "targets/releases");
    assert_eq!(version(&releases), before + 1);
    assert_eq!(signer_ids(&releases), vec![bob_key.clone()]);
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &both,
        &[],
    );
    assert_verifies(&r.client, srv, gun, "v1", Some("v1-alice"));

    // Alice's key no longer signs anything.
    let refused = run(
        vouch(&alice, Some(srv)),
        &[
            "sign",
            "--role",
            "targets/releases",
            &pair(gun, "v3", "v3", 303),
        ],
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
}

#[test]
fn witness_restores_a_delegation_whose_only_signing_key_was_removed() {
    // Client-held snapshot: every publish here re-signs the snapshot, which must keep
    // listing the delegation that no longer verifies, or there is nothing to witness.
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/witness";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);
    // Delegation keys in the admin's own key store, given by key ID.
    let old = ok(
        vouch(&r.admin, None),
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
        vouch(&r.admin, Some(srv)),
        &[
            "delegation",
            "add",
            gun,
            "targets/releases",
            "--key",
            &old[..12],
            "--all-paths",
        ],
    );
    ok(
        vouch(&r.admin, Some(srv)),
        &[
            "sign",
            "--role",
            "targets/releases",
            &pair(gun, "v1", "v1-release", 201),
        ],
    );
    let releases = [row("v1", "v1-release", 201, "targets/releases")];
    let targets_rows = [
        row("v1", "v1", 101, "targets"),
        row("v2", "v2", 102, "targets"),
    ];
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &targets_rows,
        &releases,
        &[],
    );

    // The key is removed (say, it leaked) and a new one added in the same publish:
    // targets/releases is still published but signed only by the removed key.
    let new = ok(
        vouch(&r.admin, None),
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
        vouch(&r.admin, Some(srv)),
        &[
            "delegation",
            "remove",
            gun,
            "targets/releases",
            "--key",
            &old,
            "--stage",
        ],
    );
    ok(
        vouch(&r.admin, Some(srv)),
        &["delegation", "add", gun, "targets/releases", "--key", &new],
    );
    assert_eq!(
        delegations(&r.admin, srv, gun),
        vec![(
            "targets/releases".into(),
            vec![String::new()],
            vec![new.clone()]
        )]
    );
    // Both clients ignore the role now.
    assert_notary_lists(&r.notary, gun, None, &targets_rows);
    assert_verifies(&r.client, srv, gun, "v1", Some("v1"));
    // A later, unrelated publish (its snapshot signed here) keeps listing the role.
    ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v3", "v3", 103)],
    );
    let snapshot = server_meta(&server, gun, "snapshot");
    assert!(
        snapshot["signed"]["meta"].get("targets/releases").is_some(),
        "the snapshot still lists targets/releases: {snapshot}"
    );
    let targets_rows = [
        row("v1", "v1", 101, "targets"),
        row("v2", "v2", 102, "targets"),
        row("v3", "v3", 103, "targets"),
    ];
    assert_notary_lists(&r.notary, gun, None, &targets_rows);

    // Witnessing re-signs its content with the new key: v1 is the release build again.
    let before = version(&server_meta(&server, gun, "targets/releases"));
    ok(
        vouch(&r.admin, Some(srv)),
        &["witness", gun, "targets/releases"],
    );
    let file = server_meta(&server, gun, "targets/releases");
    assert_eq!(version(&file), before + 1);
    assert_eq!(signer_ids(&file), vec![new.clone()]);
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &targets_rows,
        &releases,
        &[],
    );
    assert_verifies(&r.client, srv, gun, "v1", Some("v1-release"));
}

// ---------------------------------------------------------------------------------------
// Offline root ceremony

#[test]
fn offline_root_plan_sign_without_network_apply_rotates_and_resigns() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/offline";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);
    let rows = [
        row("v1", "v1", 101, "targets"),
        row("v2", "v2", 102, "targets"),
    ];

    // Move the root key to the offline machine: export, import there, remove here.
    let offline = tmp.path().join("offline");
    let old_root = only_key(&r.admin, "root");
    let exported = tmp.path().join("root.key");
    ok(
        vouch(&r.admin, None),
        &["key", "export", &old_root, "-o", s(&exported)],
    );
    ok(vouch(&offline, None), &["key", "import", s(&exported)]);
    ok(
        vouch(&r.admin, None),
        &["key", "remove", &old_root, "--yes"],
    );
    std::fs::remove_file(&exported).unwrap();
    assert!(key_list(&r.admin).iter().all(|k| k.0 != "root"));
    // Where the network is, the root cannot be rotated any more.
    let refused = run(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "root", "--yes"],
    );
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert_eq!(version(&server_meta(&server, gun, "root")), 1);
    // The plans say so, and what to do instead.
    let plan = ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "root", "--plan", "--output", "json"],
    );
    let plan = json(&plan.stdout);
    assert_eq!(plan["missing_signers"], serde_json::json!([old_root]));
    let notes = plan["notes"].to_string();
    assert_contains(&notes, "cannot be signed here");
    assert_contains(&notes, "vouch root plan");
    let plan = ok(
        vouch(&r.admin, Some(srv)),
        &["key", "rotate", gun, "targets", "--plan"],
    );
    assert_contains(&plan.stdout, "cannot be signed here");
    assert_contains(&plan.stdout, "bring a root key here");
    assert!(!plan.stdout.contains("root plan"), "{}", plan.stdout);

    // The new root key is made offline; only its certificate travels.
    let new_root = ok(
        vouch(&offline, None),
        &["key", "generate", "--role", "root", "--format", "notary"],
    )
    .stdout
    .trim()
    .to_owned();
    let cert = tmp.path().join("new-root.crt");
    let public = ok(
        vouch(&offline, None),
        &["key", "public", &new_root, "--gun", gun],
    );
    assert_contains(&public.stdout, "-----BEGIN CERTIFICATE-----");
    std::fs::write(&cert, &public.stdout).unwrap();

    // Plan where the network is.
    let request = tmp.path().join("rotate.json");
    let planned = ok(
        vouch(&r.admin, Some(srv)),
        &[
            "root",
            "plan",
            gun,
            "--new-root-cert",
            s(&cert),
            "-o",
            s(&request),
        ],
    );
    assert_contains(&planned.stderr, "root version 1 -> 2");
    assert_contains(&planned.stderr, &old_root);
    assert_contains(&planned.stderr, &new_root);
    let req = json(&std::fs::read_to_string(&request).unwrap());
    assert_eq!(req["gun"], gun);
    assert_eq!(req["current_version"], 1);
    assert_eq!(req["root"]["version"], 2);
    assert_eq!(req["signatures"], serde_json::json!([]));

    // An unsigned request is refused and changes nothing; the admin cannot sign it.
    let unsigned = run(vouch(&r.admin, Some(srv)), &["root", "apply", s(&request)]);
    assert_eq!(unsigned.code, 1, "{}", unsigned.stderr);
    assert_eq!(version(&server_meta(&server, gun, "root")), 1);
    let no_key = run(
        vouch(&r.admin, None),
        &["root", "sign", s(&request), "--yes"],
    );
    assert_eq!(no_key.code, 4, "{}", no_key.stderr);

    // Sign offline: a server that does not answer, no config file, only the root keys.
    assert!(!offline.join("config.json").exists());
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let signed_path = tmp.path().join("rotate.signed.json");
    let signed = ok(
        vouch(&offline, Some(&dead)),
        &[
            "root",
            "sign",
            s(&request),
            "-o",
            s(&signed_path),
            "--yes",
            "--output",
            "json",
        ],
    );
    let by = json(&signed.stdout)["signed_by"].clone();
    assert_eq!(
        sorted(
            by.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        ),
        sorted(vec![old_root.clone(), new_root.clone()])
    );
    assert!(
        !offline.join("tuf").exists(),
        "signing offline read no repository"
    );

    // Apply where the network is.
    ok(
        vouch(&r.admin, Some(srv)),
        &["root", "apply", s(&signed_path)],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 2);
    assert_eq!(canonical_role_keys(&root, "root"), vec![new_root.clone()]);
    assert_eq!(signer_ids(&root).len(), 2);
    assert_agree(&r.notary, &r.client, srv, gun, &rows, &[], &[]);
    assert_eq!(cached_version(&r.notary.trust_dir, gun, "root"), 2);
    assert_eq!(cached_version(&r.client, gun, "root"), 2);

    // Re-signing before expiry: the same path with no new key.
    let before = Expires::parse(root["signed"]["expires"].as_str().unwrap()).unwrap();
    let resign = tmp.path().join("resign.json");
    let planned = ok(
        vouch(&r.admin, Some(srv)),
        &["root", "plan", gun, "--expires", "3660d", "-o", s(&resign)],
    );
    assert_contains(&planned.stderr, "root keys unchanged");
    ok(
        vouch(&offline, Some(&dead)),
        &["root", "sign", s(&resign), "--yes"],
    );
    ok(vouch(&r.admin, Some(srv)), &["root", "apply", s(&resign)]);
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 3);
    assert_eq!(canonical_role_keys(&root, "root"), vec![new_root.clone()]);
    let after = Expires::parse(root["signed"]["expires"].as_str().unwrap()).unwrap();
    assert!(
        after.time() - before.time() > time::Duration::days(9),
        "expiry moved from {before} to {after}"
    );
    ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v3", "v3", 103)],
    );
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
            row("v3", "v3", 103, "targets"),
        ],
        &[],
        &[],
    );
    assert_eq!(cached_version(&r.notary.trust_dir, gun, "root"), 3);
    assert_eq!(cached_version(&r.client, gun, "root"), 3);
}

/// A repository on `server` made by vouch in `tmp/admin` (which holds its root key), and a
/// re-signing request planned for it at `tmp/NAME`.
fn planned_request(tmp: &Path, server: &NotaryServer, gun: &str, name: &str) -> (PathBuf, PathBuf) {
    let admin = tmp.join("admin");
    let srv = Some(server.url.as_str());
    if !admin.join("tuf").exists() {
        ok(vouch(&admin, srv), &["init", gun, "--key-format", "notary"]);
    }
    let req = tmp.join(name);
    ok(vouch(&admin, srv), &["root", "plan", gun, "-o", s(&req)]);
    (admin, req)
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v = json(&std::fs::read_to_string(path).unwrap());
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// A root certificate for `gun` whose key is in `trust` (not the repository's): the key as
/// root.json lists it, its listed ID and its canonical ID.
fn foreign_root_cert(trust: &Path, gun: &str) -> (Value, String, String) {
    let id = ok(
        vouch(trust, None),
        &["key", "generate", "--role", "root", "--format", "notary"],
    )
    .stdout
    .trim()
    .to_owned();
    let pem = ok(vouch(trust, None), &["key", "public", &id, "--gun", gun]).stdout;
    let key = PublicKey::new(keys::ECDSA_X509, pem.into_bytes());
    assert_eq!(key.canonical_key_id().unwrap().to_string(), id);
    (
        serde_json::to_value(&key).unwrap(),
        key.key_id().to_string(),
        id,
    )
}

#[test]
fn root_sign_shows_the_change_computed_from_the_roots_and_refuses_without_yes_off_a_terminal() {
    // Whoever can alter the request on its way to the offline machine must not get a root
    // signed that says something else than the request's words: the signer sees the change
    // computed from the current and the new root, and nothing is signed unconfirmed.
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/tampered-request";
    let (admin, pristine) = planned_request(tmp.path(), &server, gun, "resign.json");
    let root_id = only_key(&admin, "root");
    let req = json(&std::fs::read_to_string(&pristine).unwrap());
    let current_expires = signed_root(&current_root_bytes(&req)).expires;
    let targets_listed = req["root"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let targets_key: PublicKey =
        serde_json::from_value(req["root"]["keys"][&targets_listed].clone()).unwrap();
    let targets_id = targets_key.canonical_key_id().unwrap().to_string();
    let attacker = tmp.path().join("attacker");
    let (evil_cert, evil_listed, evil_id) = foreign_root_cert(&attacker, gun);

    // The untampered request: everything unchanged but version and expiry.
    let shown = fails(vouch(&admin, None), &["root", "sign", s(&pristine)], 2);
    assert_contains(&shown.stderr, "root version 1 -> 2");
    assert_contains(
        &shown.stderr,
        &format!("root keys unchanged (re-signing): threshold 1, keys [{root_id}]"),
    );
    assert_contains(
        &shown.stderr,
        &format!("targets keys unchanged: threshold 1, keys [{targets_id}]"),
    );
    assert_contains(
        &shown.stderr,
        &format!(
            "planned against root version 1 (sha256 {})",
            req["current_sha256"].as_str().unwrap()
        ),
    );
    assert_contains(&shown.stderr, "pass --yes to sign it");

    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, Vec<String>)> = vec![
        (
            "root key swapped",
            Box::new({
                let (c, l) = (evil_cert.clone(), evil_listed.clone());
                move |v: &mut Value| {
                    v["root"]["keys"][&l] = c.clone();
                    v["root"]["roles"]["root"]["keyids"] = serde_json::json!([l]);
                }
            }),
            vec![
                format!("root: key REMOVED {root_id}"),
                format!("root: key ADDED {evil_id}"),
                format!("must be signed by 1 of the current root keys [{root_id}] and 1 of the new root keys [{evil_id}]"),
            ],
        ),
        (
            "targets key added",
            Box::new({
                let (c, l) = (evil_cert.clone(), evil_listed.clone());
                move |v: &mut Value| {
                    v["root"]["keys"][&l] = c.clone();
                    v["root"]["roles"]["targets"]["keyids"]
                        .as_array_mut()
                        .unwrap()
                        .push(l.clone().into());
                }
            }),
            vec![
                format!("targets: key ADDED {evil_id}"),
                format!("root keys unchanged (re-signing): threshold 1, keys [{root_id}]"),
            ],
        ),
        (
            "threshold changed",
            Box::new(|v: &mut Value| {
                v["root"]["roles"]["snapshot"]["threshold"] = 2.into();
            }),
            vec!["snapshot: threshold 1 -> 2".to_owned()],
        ),
        (
            "expiry changed",
            Box::new(|v: &mut Value| {
                v["root"]["expires"] = "2030-01-01T00:00:00Z".into();
            }),
            vec![format!("expires {current_expires} -> 2030-01-01T00:00:00Z")],
        ),
    ];
    for (what, tamper, want) in cases {
        let path = tmp.path().join(format!("{}.json", what.replace(' ', "-")));
        std::fs::copy(&pristine, &path).unwrap();
        edit_json(&path, |v| {
            tamper(v);
            // Words that claim nothing changes are not shown (nor trusted).
            v["summary"] = serde_json::json!(["NOTHING CHANGES: root keys unchanged"]);
        });
        let before = std::fs::read(&path).unwrap();
        let refused = fails(vouch(&admin, None), &["root", "sign", s(&path)], 2);
        for line in &want {
            assert_contains(&refused.stderr, line);
        }
        assert!(
            !refused.stderr.contains("NOTHING CHANGES"),
            "{what}: {}",
            refused.stderr
        );
        assert_contains(
            &refused.stderr,
            "review the change shown above and pass --yes",
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{what}: nothing signed"
        );
    }

    // With --yes (after review) the change shown is what is signed: the request's root.
    let swapped = tmp.path().join("root-key-swapped.json");
    let signed = ok(
        vouch(&admin, None),
        &["root", "sign", s(&swapped), "--yes", "--output", "json"],
    );
    assert_contains(&signed.stderr, &format!("root: key ADDED {evil_id}"));
    let changes = json(&signed.stdout)["changes"].to_string();
    assert_contains(&changes, &format!("root: key ADDED {evil_id}"));
}

/// The current root carried by a request, as the repository served it.
fn current_root_bytes(req: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(req["current_root"].as_str().unwrap())
        .unwrap()
}

/// The `signed` part of a root file.
fn signed_root(bytes: &[u8]) -> Root {
    Signed::<Root>::from_bytes(bytes)
        .unwrap()
        .untrusted()
        .clone()
}

#[test]
fn root_sign_refuses_a_request_whose_current_root_or_version_was_altered() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/tampered-current";
    let (admin, pristine) = planned_request(tmp.path(), &server, gun, "resign.json");
    let req = json(&std::fs::read_to_string(&pristine).unwrap());
    let current = current_root_bytes(&req);
    assert_eq!(
        req["current_sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(&current)),
        "the request carries the exact current root"
    );

    let altered_root = {
        // The current root with its expiry moved, re-hashed: its signature no longer holds.
        let mut v = json(std::str::from_utf8(&current).unwrap());
        v["signed"]["expires"] = "2099-01-01T00:00:00Z".into();
        serde_json::to_vec(&v).unwrap()
    };
    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "sha256 changed",
            Box::new(|v: &mut Value| {
                v["current_sha256"] = hex::encode(Sha256::digest(b"another root")).into();
            }),
            "not ",
        ),
        (
            "current root replaced and re-hashed",
            Box::new(move |v: &mut Value| {
                use base64::Engine as _;
                v["current_root"] = base64::engine::general_purpose::STANDARD
                    .encode(&altered_root)
                    .into();
                v["current_sha256"] = hex::encode(Sha256::digest(&altered_root)).into();
            }),
            "not signed by its own root keys",
        ),
        (
            "new version skips ahead",
            Box::new(|v: &mut Value| {
                v["root"]["version"] = 7.into();
            }),
            "the new root is version 7, not 2",
        ),
        (
            "current version misstated",
            Box::new(|v: &mut Value| {
                v["current_version"] = 6.into();
            }),
            "the current root is version 1, the request says 6",
        ),
    ];
    for (what, tamper, reason) in cases {
        let path = tmp.path().join(format!("{}.json", what.replace(' ', "-")));
        std::fs::copy(&pristine, &path).unwrap();
        edit_json(&path, tamper);
        let before = std::fs::read(&path).unwrap();
        for args in [
            vec!["root", "sign", s(&path), "--yes"],
            vec!["root", "apply", s(&path)],
        ] {
            let refused = fails(vouch(&admin, Some(server.url.as_str())), &args, 1);
            assert_contains(&refused.stderr, "cannot be trusted");
            assert_contains(&refused.stderr, reason);
            assert_contains(&refused.stderr, &format!("vouch root plan {gun}"));
            assert!(
                !refused.stderr.contains("Signed with"),
                "{what}: {}",
                refused.stderr
            );
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{what}: nothing signed"
        );
    }
    assert_eq!(version(&server_meta(&server, gun, "root")), 1);

    // A request in the old format (no current root in it) is refused with the way forward.
    let old = tmp.path().join("old-format.json");
    std::fs::copy(&pristine, &old).unwrap();
    edit_json(&old, |v| {
        v["vouch_root_request"] = 1.into();
        v.as_object_mut().unwrap().remove("current_root");
    });
    let refused = fails(vouch(&admin, None), &["root", "sign", s(&old), "--yes"], 2);
    assert_contains(&refused.stderr, "root request format 1 is not supported");
    assert_contains(&refused.stderr, "vouch root plan");
}

#[test]
fn root_apply_refuses_a_request_the_repository_moved_past_and_says_so_when_already_applied() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/moved-on";
    let srv = server.url.as_str();
    let (admin, first) = planned_request(tmp.path(), &server, gun, "first.json");
    let (_, second) = planned_request(tmp.path(), &server, gun, "second.json");
    ok(vouch(&admin, None), &["root", "sign", s(&first), "--yes"]);
    ok(vouch(&admin, None), &["root", "sign", s(&second), "--yes"]);
    let planned_against = json(&std::fs::read_to_string(&first).unwrap())["current_sha256"]
        .as_str()
        .unwrap()
        .to_owned();

    ok(vouch(&admin, Some(srv)), &["root", "apply", s(&second)]);
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);
    let now_at = hex::encode(Sha256::digest(server_bytes(&server, gun, "root")));

    // The other request was made for root version 1; the repository is at 2.
    let stale = fails(vouch(&admin, Some(srv)), &["root", "apply", s(&first)], 2);
    assert_contains(
        &stale.stderr,
        &format!(
            "the request was made for root version 1 (sha256 {planned_against}) of {gun}, \
             but the repository is now at root version 2 (sha256 {now_at})"
        ),
    );
    assert_contains(
        &stale.stderr,
        &format!("make a new request with `vouch root plan {gun}"),
    );
    assert!(!stale.stderr.contains("tampered"), "{}", stale.stderr);
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);

    // Applying the applied request again is not an attack: it says so and changes nothing.
    let again = ok(vouch(&admin, Some(srv)), &["root", "apply", s(&second)]);
    assert_contains(
        &again.stderr,
        &format!("Root version 2 of {gun} is already this request's root (applied before); nothing to do."),
    );
    assert!(!again.stderr.contains("tamper"), "{}", again.stderr);
    assert!(
        !again.stderr.contains("cannot be trusted"),
        "{}",
        again.stderr
    );
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);
}

#[test]
fn root_ceremony_files_are_written_new_and_private_never_through_a_planted_symlink() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/symlink";
    let srv = Some(server.url.as_str());
    let admin = tmp.path().join("admin");
    ok(vouch(&admin, srv), &["init", gun, "--key-format", "notary"]);
    let dir = tmp.path().join("carry");
    std::fs::create_dir(&dir).unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // Links planted where a predictable temp file would be written.
    for name in ["req.tmp", "signed.tmp", ".req.json.tmp", ".signed.json.tmp"] {
        symlink(&victim, dir.join(name)).unwrap();
    }
    let req = dir.join("req.json");
    ok(vouch(&admin, srv), &["root", "plan", gun, "-o", s(&req)]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&req)
        .unwrap()
        .file_type()
        .is_file());
    let signed = dir.join("signed.json");
    ok(
        vouch(&admin, None),
        &["root", "sign", s(&req), "--yes", "-o", s(&signed)],
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    for f in [&req, &signed] {
        let m = std::fs::symlink_metadata(f).unwrap();
        assert!(m.file_type().is_file(), "{} is a regular file", f.display());
        assert_eq!(m.permissions().mode() & 0o777, 0o600, "{}", f.display());
    }
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            ".req.json.tmp",
            ".signed.json.tmp",
            "req.json",
            "req.tmp",
            "signed.json",
            "signed.tmp"
        ],
        "no temp file left behind"
    );
    // Signing in place replaces the request file (even a symlink to elsewhere) without
    // writing through it.
    let link = dir.join("link.json");
    symlink(&victim, &link).unwrap();
    std::fs::copy(&req, &victim).unwrap();
    let victim_before = std::fs::read(&victim).unwrap();
    ok(vouch(&admin, None), &["root", "sign", s(&link), "--yes"]);
    assert_eq!(std::fs::read(&victim).unwrap(), victim_before);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_file());
    ok(vouch(&admin, srv), &["root", "apply", s(&link)]);
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);
}

// ---------------------------------------------------------------------------------------
// Expiry runway and renewal

/// `vouch expiry --output json` rows as (gun, role, within the window, who re-signs).
fn expiry_rows(out: &str) -> Vec<(String, String, bool, String)> {
    json(out)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["gun"].as_str().unwrap().to_owned(),
                r["role"].as_str().unwrap().to_owned(),
                r["within_window"].as_bool().unwrap(),
                support::signer_text(&r["signer"]),
            )
        })
        .collect()
}

fn flagged(rows: &[(String, String, bool, String)]) -> Vec<String> {
    rows.iter().filter(|r| r.2).map(|r| r.1.clone()).collect()
}

#[test]
fn expiry_flags_targets_inside_the_window_and_renew_pushes_it_out() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/expiry";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);

    // targets and snapshot expire in 3 years (1095 days), root in 10.
    let out = fails(
        vouch(&r.admin, None),
        &["expiry", gun, "--within", "1100d"],
        1,
    );
    let table = out.stdout.clone();
    let targets_line = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("targets"))
        .unwrap_or_else(|| panic!("{table}"));
    assert_contains(targets_line, "<- renew");
    assert_contains(targets_line, "(here)");
    assert_contains(&out.stderr, "expire within 1100d");
    let root_line = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("root"))
        .unwrap();
    assert!(!root_line.contains("<- renew"), "{root_line}");
    ok(vouch(&r.admin, None), &["expiry", gun, "--within", "1000d"]);

    // With the server's timestamp (14 days): re-signed by the server, so not flagged.
    let out = ok(
        vouch(&r.admin, Some(srv)),
        &[
            "expiry",
            gun,
            "--within",
            "15d",
            "--refresh",
            "--output",
            "json",
        ],
    );
    let rows = expiry_rows(&out.stdout);
    let ts = rows
        .iter()
        .find(|r| r.1 == "timestamp")
        .expect("timestamp row");
    assert!(!ts.2);
    assert_contains(&ts.3, "server");
    let days = json(&out.stdout)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "timestamp")
        .unwrap()["expires_in_days"]
        .as_i64()
        .unwrap();
    assert!(
        (13..=14).contains(&days),
        "the server's timestamp lasts 14 days: {days}"
    );
    let out = fails(
        vouch(&r.admin, None),
        &["expiry", gun, "--within", "1100d", "--output", "json"],
        1,
    );
    assert_eq!(
        flagged(&expiry_rows(&out.stdout)),
        vec!["targets", "snapshot"]
    );

    // A trust dir without the keys (the client) is warned too: someone has to act.
    let out = fails(
        vouch(&r.client, None),
        &["expiry", gun, "--within", "1100d", "--output", "json"],
        1,
    );
    let rows = expiry_rows(&out.stdout);
    let t = rows.iter().find(|r| r.1 == "targets").unwrap();
    assert!(t.2);
    assert_contains(&t.3, "NOT in this key store");

    // renew re-signs targets: a new version expiring later.
    let before = server_meta(&server, gun, "targets");
    ok(vouch(&r.admin, Some(srv)), &["renew", gun, "targets"]);
    let after = server_meta(&server, gun, "targets");
    assert_eq!(version(&after), version(&before) + 1);
    let exp = |m: &Value| {
        Expires::parse(m["signed"]["expires"].as_str().unwrap())
            .unwrap()
            .time()
    };
    assert!(exp(&after) > exp(&before));
    assert_eq!(cached_version(&r.admin, gun, "targets"), version(&after));
    assert_agree(
        &r.notary,
        &r.client,
        srv,
        gun,
        &[
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
        &[],
        &[],
    );
}

#[test]
fn expiry_flags_a_static_repository_timestamp_vouch_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/static-expiry";
    let owner = tmp.path().join("owner");
    let url = format!("file://{}", tmp.path().join("repo").display());
    ok(
        vouch(&owner, Some(&url)),
        &["init", gun, "--key-format", "notary"],
    );

    // The timestamp vouch signs for a static repository lasts 14 days.
    let out = fails(
        vouch(&owner, None),
        &["expiry", gun, "--within", "15d", "--output", "json"],
        1,
    );
    let rows = expiry_rows(&out.stdout);
    assert_eq!(flagged(&rows), vec!["timestamp"]);
    assert_contains(
        &rows.iter().find(|r| r.1 == "timestamp").unwrap().3,
        "(here)",
    );
    // Every repository in the trust dir when none is named.
    ok(vouch(&owner, None), &["expiry", "--within", "13d"]);
    fails(vouch(&owner, None), &["expiry", "--within", "15d"], 1);

    // renew re-signs the timestamp too (a new version); it still lasts 14 days.
    let ts = |dir: &Path| cached_version(dir, gun, "timestamp");
    let before = ts(&owner);
    ok(vouch(&owner, Some(&url)), &["renew", gun]);
    assert_eq!(ts(&owner), before + 1);
    ok(vouch(&owner, None), &["expiry", gun, "--within", "13d"]);
}

// ---------------------------------------------------------------------------------------
// Delegation paths

#[test]
fn path_prefix_without_slash_warns_and_a_delegation_cannot_sign_outside_its_paths() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/paths";
    let srv = server.url.as_str();
    let r = setup(tmp.path(), &server, gun, &[]);
    let key = ok(
        vouch(&r.admin, None),
        &[
            "key",
            "generate",
            "--role",
            "targets/app",
            "--format",
            "notary",
        ],
    )
    .stdout
    .trim()
    .to_owned();

    let added = ok(
        vouch(&r.admin, Some(srv)),
        &[
            "delegation",
            "add",
            gun,
            "targets/app",
            "--key",
            &key,
            "--path",
            "rel",
        ],
    );
    assert_contains(
        &added.stderr,
        "warning: path prefix \"rel\" does not end in '/'",
    );
    assert_contains(&added.stderr, "sibling");
    // A prefix ending in '/' gets no warning.
    let added = ok(
        vouch(&r.admin, Some(srv)),
        &["delegation", "add", gun, "targets/app", "--path", "docs/"],
    );
    assert!(!added.stderr.contains("warning"), "{}", added.stderr);
    assert_eq!(
        delegations(&r.admin, srv, gun),
        vec![(
            "targets/app".into(),
            vec!["docs/".to_owned(), "rel".to_owned()],
            vec![key.clone()]
        )]
    );

    // Inside its paths (the prefix also matches "rel-1"): signed, and notary lists it.
    ok(
        vouch(&r.admin, Some(srv)),
        &[
            "sign",
            "--role",
            "targets/app",
            &pair(gun, "rel-1", "rel-1", 401),
        ],
    );
    let app_version = version(&server_meta(&server, gun, "targets/app"));
    assert_notary_lists(
        &r.notary,
        gun,
        None,
        &[
            row("rel-1", "rel-1", 401, "targets/app"),
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
    );

    // Outside its paths: refused as bad input, nothing published, nothing left staged.
    let refused = fails(
        vouch(&r.admin, Some(srv)),
        &["sign", "--role", "targets/app", &pair(gun, "v9", "v9", 409)],
        2,
    );
    assert_contains(&refused.stderr, "targets/app may not sign \"v9\"");
    assert!(staged(&r.admin, gun).is_empty());
    let status = ok(vouch(&r.admin, None), &["status", gun]);
    assert!(!status.stdout.contains("v9"), "{}", status.stdout);
    assert_eq!(
        version(&server_meta(&server, gun, "targets/app")),
        app_version
    );
    assert_notary_lists(
        &r.notary,
        gun,
        None,
        &[
            row("rel-1", "rel-1", 401, "targets/app"),
            row("v1", "v1", 101, "targets"),
            row("v2", "v2", 102, "targets"),
        ],
    );
    // A later publish is not blocked by it.
    ok(
        vouch(&r.admin, Some(srv)),
        &["sign", &pair(gun, "v3", "v3", 103)],
    );
    assert_verifies(&r.client, srv, gun, "v3", Some("v3"));
}

#[test]
fn offline_root_near_expiry_blocks_publishing_until_it_is_re_signed() {
    // Publishing re-signs a root that expires within 6 months (as notary does); with the
    // root key offline that fails, keeping the staged change, until the root is re-signed
    // through the ceremony. `vouch expiry` shows it coming.
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/root-expiry";
    let srv = server.url.as_str();
    let admin = tmp.path().join("admin");
    let offline = tmp.path().join("offline");
    ok(
        vouch(&admin, Some(srv)),
        &["init", gun, "--key-format", "notary"],
    );
    let root_key = only_key(&admin, "root");
    let exported = tmp.path().join("root.key");
    ok(
        vouch(&admin, None),
        &["key", "export", &root_key, "-o", s(&exported)],
    );
    ok(vouch(&offline, None), &["key", "import", s(&exported)]);
    ok(vouch(&admin, None), &["key", "remove", &root_key, "--yes"]);
    let dead = format!("http://127.0.0.1:{}", dead_port());

    // A root re-signed for 100 days only.
    let req = tmp.path().join("short.json");
    ok(
        vouch(&admin, Some(srv)),
        &["root", "plan", gun, "--expires", "100d", "-o", s(&req)],
    );
    ok(
        vouch(&offline, Some(&dead)),
        &["root", "sign", s(&req), "--yes"],
    );
    ok(vouch(&admin, Some(srv)), &["root", "apply", s(&req)]);
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);

    let out = fails(
        vouch(&admin, None),
        &["expiry", gun, "--within", "200d", "--output", "json"],
        1,
    );
    let rows = expiry_rows(&out.stdout);
    assert_eq!(flagged(&rows), vec!["root"]);
    assert_contains(&rows[0].3, "NOT in this key store");

    let refused = fails(
        vouch(&admin, Some(srv)),
        &["sign", &pair(gun, "v1", "v1", 101)],
        4,
    );
    assert_contains(&refused.stderr, "must be re-signed");
    assert_contains(&refused.stderr, "vouch root plan");
    assert_eq!(
        staged(&admin, gun).len(),
        0,
        "a sign that fails keeps nothing"
    );
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);
    ok(
        vouch(&admin, None),
        &["sign", "--stage", &pair(gun, "v1", "v1", 101)],
    );

    // The ceremony re-signs it for 10 years and publishes only the root (as notary's
    // rotations do); the kept change then goes out with a plain publish.
    ok(
        vouch(&admin, Some(srv)),
        &["root", "plan", gun, "-o", s(&req)],
    );
    ok(
        vouch(&offline, Some(&dead)),
        &["root", "sign", s(&req), "--yes"],
    );
    let applied = ok(vouch(&admin, Some(srv)), &["root", "apply", s(&req)]);
    assert!(!applied.stderr.contains("targets v"), "{}", applied.stderr);
    assert_eq!(
        staged(&admin, gun).len(),
        1,
        "root apply leaves staged changes staged"
    );
    assert_eq!(version(&server_meta(&server, gun, "root")), 3);
    let published = ok(vouch(&admin, Some(srv)), &["publish", gun]);
    assert_contains(&published.stderr, "targets v");
    assert!(staged(&admin, gun).is_empty());
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_notary_lists(&n, gun, None, &[row("v1", "v1", 101, "targets")]);
    ok(vouch(&admin, None), &["expiry", gun, "--within", "200d"]);
}

#[test]
fn init_with_a_temporary_root_key_then_hand_the_root_to_a_key_made_offline() {
    // The runbook's way to a root key that never touches a networked machine.
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/handover";
    let srv = server.url.as_str();
    let admin = tmp.path().join("admin");
    let offline = tmp.path().join("offline");
    let dead = format!("http://127.0.0.1:{}", dead_port());
    ok(
        vouch(&admin, Some(srv)),
        &["init", gun, "--key-format", "notary"],
    );
    let temporary = only_key(&admin, "root");
    // An early client trusts root version 1.
    let early = Notary::with_server(&tmp.path().join("early"), &server);
    early.run(&["list", gun]);

    let root = ok(
        vouch(&offline, None),
        &["key", "generate", "--role", "root", "--format", "notary"],
    )
    .stdout
    .trim()
    .to_owned();
    let cert = tmp.path().join("root.crt");
    std::fs::write(
        &cert,
        ok(
            vouch(&offline, Some(&dead)),
            &["key", "public", &root, "--gun", gun],
        )
        .stdout,
    )
    .unwrap();
    let req = tmp.path().join("handover.json");
    ok(
        vouch(&admin, Some(srv)),
        &[
            "root",
            "plan",
            gun,
            "--new-root-cert",
            s(&cert),
            "-o",
            s(&req),
        ],
    );
    // Both ends sign: the temporary key as the current root, the offline key as the new.
    let here = ok(vouch(&admin, None), &["root", "sign", s(&req), "--yes"]);
    assert_contains(&here.stderr, &format!("Signed with {temporary}"));
    let there = ok(
        vouch(&offline, Some(&dead)),
        &["root", "sign", s(&req), "--yes"],
    );
    assert_contains(&there.stderr, &format!("Signed with {root}"));
    ok(vouch(&admin, Some(srv)), &["root", "apply", s(&req)]);
    ok(vouch(&admin, None), &["key", "remove", &temporary, "--yes"]);

    let published = server_meta(&server, gun, "root");
    assert_eq!(version(&published), 2);
    assert_eq!(canonical_role_keys(&published, "root"), vec![root.clone()]);
    // Day-to-day signing needs no root key.
    ok(
        vouch(&admin, Some(srv)),
        &["sign", &pair(gun, "v1", "v1", 101)],
    );
    assert_notary_lists(&early, gun, None, &[row("v1", "v1", 101, "targets")]);
    let fresh = Notary::with_server(&tmp.path().join("fresh"), &server);
    assert_notary_lists(&fresh, gun, None, &[row("v1", "v1", 101, "targets")]);
    let v = ok(
        vouch(&tmp.path().join("client"), Some(srv)),
        &["verify", &format!("{gun}:v1"), "--tofu"],
    );
    assert_eq!(v.stdout.trim(), format!("{gun}@sha256:{}", digest("v1")));
}

/// A timestamp inflated to 2^53, the largest version notary metadata carries exactly
/// (canonical JSON goes through float64), correctly signed with the repository's
/// timestamp key (a stolen key, or a broken client): nothing newer can be published, and
/// vouch says so and how to recover instead of wrapping the version around. Nothing is
/// uploaded and the change is not kept.
#[test]
fn a_timestamp_inflated_to_the_largest_exact_version_stops_publishing_with_a_way_out() {
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/lifecycle/inflated";
    let owner = tmp.path().join("owner");
    let repo = tmp.path().join("repo");
    let url = format!("file://{}", repo.display());
    ok(
        vouch(&owner, Some(&url)),
        &["init", gun, "--key-format", "notary"],
    );
    ok(
        vouch(&owner, Some(&url)),
        &["sign", &pair(gun, "v1", "v1", 101)],
    );

    let tuf = repo.join(gun).join("_trust/tuf");
    let read = |role: &str| std::fs::read(tuf.join(format!("{role}.json"))).unwrap();
    let root = Signed::<Root>::from_bytes(&read("root"))
        .unwrap()
        .untrusted()
        .clone();
    let old_ts = Signed::<Timestamp>::from_bytes(&read("timestamp")).unwrap();
    let inflated: i64 = 1 << 53;
    let ts = Timestamp::new(
        inflated,
        old_ts.untrusted().expires.clone(),
        FileMeta::from_bytes(&read("snapshot"), &["sha256", "sha512"]).unwrap(),
    );
    let store = KeyStore::open(&owner).unwrap();
    let ts_bytes = sign_as(&store, &root, "timestamp", support::TIMESTAMP_PASS, &ts);
    vouch::remote::open_remote(&url, &Default::default())
        .unwrap()
        .publish(
            &vouch::remote::Gun::parse(gun).unwrap(),
            &[("timestamp".into(), ts_bytes.clone())],
        )
        .unwrap();

    let before = support::snapshot_tree(&repo);
    let out = fails(
        vouch(&owner, Some(&url)),
        &["sign", &pair(gun, "v2", "v2", 102)],
        2,
    );
    assert_contains(
        &out.stderr,
        &format!("timestamp of {gun} is at version {inflated}"),
    );
    assert_contains(&out.stderr, &format!("vouch delete {gun} --remote"));
    assert_eq!(
        support::snapshot_tree(&repo),
        before,
        "something was uploaded"
    );
    let status = ok(vouch(&owner, Some(&url)), &["status", gun]);
    assert_contains(&status.stdout, "No unpublished changes");
}
