//! Keys on a PKCS#11 token, against the real SoftHSM2 (a token of its own per test, in a
//! temp `SOFTHSM2_CONF`), the real notary-server and the real `notary` CLI (loopback only):
//! a root key generated on the token makes a repository (`vouch init`) with no root key
//! file, which `notary list` / `lookup` read; the root rotates to a second token key and
//! clients holding the old root follow; the offline ceremony's `root sign` uses a token
//! key; a targets key on the token signs tags; a wrong PIN (exit 4) and a wrong module
//! change nothing; `key backup` leaves token keys out and says so.

#[path = "support/softhsm.rs"]
mod softhsm;
mod support;

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use softhsm::SoftHsm;
use support::{fails, http_get, list_rows, ok, run, Notary, NotaryServer};
use vouch::crypto::CanonicalKeyId as _;
use vouch::tuf::Root;

const ROOT_URI: &str = "pkcs11:token=release;object=vouch-root";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn digest(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

fn pair(gun: &str, tag: &str, seed: &str, size: u64) -> String {
    format!("{gun}:{tag}=sha256:{}:{size}", digest(seed))
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

/// `vouch` with the trust dir, this SoftHSM (module, PIN), no stray credentials, and
/// `-s server` when given.
fn vouch(hsm: &SoftHsm, trust: &Path, server: Option<&str>) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    hsm.env(&mut c);
    if let Some(server) = server {
        c.arg("-s").arg(server);
    }
    c
}

fn server_bytes(server: &NotaryServer, gun: &str, role: &str) -> Vec<u8> {
    let (status, body) = http_get(server.port, &format!("/v2/{gun}/_trust/tuf/{role}.json"));
    assert_eq!(status, 200, "GET {role}.json for {gun}");
    body
}

fn server_status(server: &NotaryServer, gun: &str, role: &str) -> u16 {
    http_get(server.port, &format!("/v2/{gun}/_trust/tuf/{role}.json")).0
}

fn server_meta(server: &NotaryServer, gun: &str, role: &str) -> Value {
    serde_json::from_slice(&server_bytes(server, gun, role)).unwrap()
}

fn version(meta: &Value) -> i64 {
    meta["signed"]["version"].as_i64().unwrap()
}

/// The canonical (public-key) IDs of `role`'s keys in a root file.
fn canonical_role_keys(root: &Value, role: &str) -> Vec<String> {
    let root: Root = serde_json::from_value(root["signed"].clone()).unwrap();
    let mut ids: Vec<String> = root
        .base_role(role)
        .unwrap()
        .keys
        .values()
        .map(|k| k.canonical_key_id().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn signer_count(meta: &Value) -> usize {
    meta["signatures"].as_array().unwrap().len()
}

fn cached_version(trust: &Path, gun: &str, role: &str) -> i64 {
    let p = trust
        .join("tuf")
        .join(gun)
        .join("metadata")
        .join(format!("{role}.json"));
    version(&serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap())
}

/// `vouch key list --output json`.
fn key_list(hsm: &SoftHsm, trust: &Path) -> Vec<Value> {
    let out = ok(
        vouch(hsm, trust, None),
        &["key", "list", "--output", "json"],
    );
    json(&out.stdout)["items"].as_array().unwrap().clone()
}

/// Every file under `dir` (lock files aside) with the SHA-256 of its bytes: "nothing
/// changed" is this staying equal.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    support::snapshot_tree(dir)
        .into_iter()
        .map(|(p, b)| (p, digest_bytes(&b)))
        .collect()
}

fn digest_bytes(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Files directly in `private/`.
fn private_files(trust: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(trust.join("private"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Generate an ECDSA key on the token for `role` (and `gun`); returns its key ID.
fn generate_on_token(
    hsm: &SoftHsm,
    trust: &Path,
    uri: &str,
    role: &str,
    gun: Option<&str>,
) -> String {
    let mut args = vec!["key", "generate", "--role", role, "--pkcs11", uri];
    if let Some(g) = gun {
        args.extend(["--gun", g]);
    }
    ok(vouch(hsm, trust, None), &args).stdout.trim().to_owned()
}

/// A SoftHSM with a `release` token, an admin trust dir with a root key on the token,
/// and `gun` made with it on `server`, holding tag v1.
struct Repo {
    hsm: SoftHsm,
    admin: std::path::PathBuf,
    root_id: String,
}

fn init_with_token_root(tmp: &Path, server: &NotaryServer, gun: &str) -> Repo {
    let hsm = SoftHsm::new();
    hsm.init_token("release");
    let admin = tmp.join("admin");
    let root_id = generate_on_token(&hsm, &admin, ROOT_URI, "root", None);
    let srv = Some(server.url.as_str());
    ok(
        vouch(&hsm, &admin, srv),
        &["init", gun, "--key-format", "notary"],
    );
    ok(
        vouch(&hsm, &admin, srv),
        &["sign", &pair(gun, "v1", "v1", 101)],
    );
    Repo {
        hsm,
        admin,
        root_id,
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn root_key_generated_on_the_token_makes_a_repository_notary_reads() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/init";
    let r = init_with_token_root(tmp.path(), &server, gun);

    // The key store holds a reference to the token key, not a key file.
    let keys = key_list(&r.hsm, &r.admin);
    let root: Vec<&Value> = keys.iter().filter(|k| k["role"] == "root").collect();
    assert_eq!(root.len(), 1, "{keys:?}");
    assert_eq!(root[0]["id"], r.root_id.as_str());
    let location = root[0]["location"].as_str().unwrap();
    assert!(
        location.starts_with("pkcs11:token=release;object=vouch-root;id="),
        "{location}"
    );
    assert_eq!(root[0]["algorithm"], "ecdsa");
    let files = private_files(&r.admin);
    assert!(
        !files.contains(&format!("{}.key", r.root_id)),
        "no root key file: {files:?}"
    );
    assert!(
        files.contains(&format!("{}.pkcs11", r.root_id)),
        "{files:?}"
    );
    let reference = std::fs::read_to_string(
        r.admin
            .join("private")
            .join(format!("{}.pkcs11", r.root_id)),
    )
    .unwrap();
    assert!(!reference.contains("PRIVATE"), "{reference}");
    // The table shows the pkcs11: location too.
    let table = ok(vouch(&r.hsm, &r.admin, None), &["key", "list"]);
    assert_contains(&table.stdout, "pkcs11:token=release;object=vouch-root");

    // The published root lists the token key (its certificate, CN = GUN), signed once.
    let root_meta = server_meta(&server, gun, "root");
    assert_eq!(
        canonical_role_keys(&root_meta, "root"),
        vec![r.root_id.clone()]
    );
    assert_eq!(signer_count(&root_meta), 1);

    // The real notary CLI reads the repository from a fresh trust dir...
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    let rows = list_rows(&n.run(&["list", gun]));
    assert_eq!(
        rows,
        vec![("v1".to_owned(), digest("v1"), 101, "targets".to_owned())]
    );
    assert_eq!(
        n.run(&["lookup", gun, "v1"]).trim(),
        format!("v1 sha256:{} 101", digest("v1"))
    );
    // ... and from the admin's own trust dir, whose private/ holds the reference file.
    let own = Notary::with_server(&r.admin, &server);
    assert_eq!(list_rows(&own.run(&["list", gun])).len(), 1);
    let notary_keys = own.run(&["key", "list"]);
    assert!(!notary_keys.contains(&r.root_id), "{notary_keys}");
    // vouch verifies it as a client would.
    let client = tmp.path().join("client");
    let out = ok(
        vouch(&r.hsm, &client, Some(&server.url)),
        &["verify", &format!("{gun}:v1"), "--tofu"],
    );
    assert_eq!(out.stdout.trim(), format!("{gun}@sha256:{}", digest("v1")));

    // A token key has no file to export, and key backup leaves it out, saying so.
    let export = fails(
        vouch(&r.hsm, &r.admin, None),
        &["key", "export", &r.root_id],
        2,
    );
    assert_contains(&export.stderr, "PKCS#11 token");
    let backup = tmp.path().join("keys.backup");
    let mut c = vouch(&r.hsm, &r.admin, None);
    c.env("VOUCH_BACKUP_PASSPHRASE", "backup-pass-123");
    let out = ok(c, &["key", "backup", "-o", s(&backup)]);
    assert_contains(&out.stderr, "Not in the backup: 1 key(s) on PKCS#11 tokens");
    assert_contains(&out.stderr, &r.root_id);
    assert!(
        !out.stdout.contains(&r.root_id),
        "the backup's table lists no token key: {}",
        out.stdout
    );
    let mut c = vouch(&r.hsm, &r.admin, None);
    c.env("VOUCH_BACKUP_PASSPHRASE", "backup-pass-123");
    let only_root = run(
        c,
        &[
            "key",
            "backup",
            "--role",
            "root",
            "-o",
            s(&tmp.path().join("r")),
        ],
    );
    assert_ne!(only_root.code, 0);
    assert_contains(&only_root.stderr, "Not in the backup");
}

#[test]
fn targets_key_on_the_token_signs_tags() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/targets";
    let r = init_with_token_root(tmp.path(), &server, gun);
    let srv = Some(server.url.as_str());
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 1);

    let targets = generate_on_token(
        &r.hsm,
        &r.admin,
        "pkcs11:token=release;object=vouch-targets",
        "targets",
        Some(gun),
    );
    ok(
        vouch(&r.hsm, &r.admin, srv),
        &["key", "rotate", gun, "targets", "--key", &targets],
    );
    assert_eq!(
        canonical_role_keys(&server_meta(&server, gun, "root"), "targets"),
        vec![targets.clone()]
    );
    // Remove every targets key file: only the token can sign targets now.
    for k in key_list(&r.hsm, &r.admin) {
        if k["role"] == "targets" && k["id"] != targets.as_str() {
            ok(
                vouch(&r.hsm, &r.admin, None),
                &["key", "remove", k["id"].as_str().unwrap(), "--yes"],
            );
        }
    }
    ok(
        vouch(&r.hsm, &r.admin, srv),
        &[
            "sign",
            &pair(gun, "v2", "v2", 102),
            &pair(gun, "v3", "v3", 103),
        ],
    );
    let t = server_meta(&server, gun, "targets");
    assert_eq!(t["signatures"][0]["keyid"], targets.as_str());
    let rows = list_rows(&n.run(&["list", gun]));
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["v1", "v2", "v3"]
    );
    assert_eq!(
        n.run(&["lookup", gun, "v3"]).trim(),
        format!("v3 sha256:{} 103", digest("v3"))
    );

    // Renewing re-signs with the token keys: targets with the targets key, the root with
    // the root key.
    let (targets_before, root_before) = (
        version(&server_meta(&server, gun, "targets")),
        version(&server_meta(&server, gun, "root")),
    );
    ok(
        vouch(&r.hsm, &r.admin, srv),
        &["renew", gun, "targets", "root"],
    );
    let t = server_meta(&server, gun, "targets");
    assert_eq!(version(&t), targets_before + 1);
    assert_eq!(t["signatures"][0]["keyid"], targets.as_str());
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), root_before + 1);
    assert_eq!(canonical_role_keys(&root, "root"), vec![r.root_id.clone()]);
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 3);
}

#[test]
fn root_rotates_to_a_second_token_key_and_old_clients_follow() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/rotate";
    let srv = server.url.as_str();
    let r = init_with_token_root(tmp.path(), &server, gun);
    // Clients that cached root v1: the notary CLI and a vouch client.
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 1);
    let client = tmp.path().join("client");
    ok(
        vouch(&r.hsm, &client, Some(srv)),
        &["verify", &format!("{gun}:v1"), "--tofu"],
    );
    assert_eq!(cached_version(&client, gun, "root"), 1);

    let new_root = generate_on_token(
        &r.hsm,
        &r.admin,
        "pkcs11:token=release;object=vouch-root-2",
        "root",
        None,
    );
    ok(
        vouch(&r.hsm, &r.admin, Some(srv)),
        &["key", "rotate", gun, "root", "--key", &new_root, "--yes"],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 2);
    assert_eq!(canonical_role_keys(&root, "root"), vec![new_root.clone()]);
    // Signed by the old token key (for old clients) and the new one.
    assert_eq!(signer_count(&root), 2);
    assert!(
        private_files(&r.admin).iter().all(
            |f| !f.ends_with(".key") || !f.starts_with(&r.root_id) && !f.starts_with(&new_root)
        ),
        "no root key file"
    );

    // notary, holding root v1, follows; so does the vouch client (cached root its anchor).
    assert_eq!(
        n.run(&["lookup", gun, "v1"]).trim(),
        format!("v1 sha256:{} 101", digest("v1"))
    );
    assert_eq!(cached_version(&n.trust_dir, gun, "root"), 2);
    let out = ok(
        vouch(&r.hsm, &client, Some(srv)),
        &["verify", &format!("{gun}:v1")],
    );
    assert_eq!(out.stdout.trim(), format!("{gun}@sha256:{}", digest("v1")));
    assert_eq!(cached_version(&client, gun, "root"), 2);
    // The repository keeps working under the new root.
    ok(
        vouch(&r.hsm, &r.admin, Some(srv)),
        &["sign", &pair(gun, "v2", "v2", 102)],
    );
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 2);
}

#[test]
fn offline_ceremony_root_sign_uses_token_keys() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/ceremony";
    let srv = server.url.as_str();
    let r = init_with_token_root(tmp.path(), &server, gun);
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 1);

    // The offline machine knows the token's current root key by its URI, and makes the
    // next one on the token; only the certificate travels.
    let offline = tmp.path().join("offline");
    let registered = ok(
        vouch(&r.hsm, &offline, None),
        &["key", "import-pkcs11", ROOT_URI, "--role", "root"],
    );
    assert_eq!(registered.stdout.trim(), r.root_id);
    let new_root = generate_on_token(
        &r.hsm,
        &offline,
        "pkcs11:token=release;object=vouch-root-next",
        "root",
        None,
    );
    let public = ok(
        vouch(&r.hsm, &offline, None),
        &["key", "public", &new_root, "--gun", gun],
    );
    assert_contains(&public.stdout, "-----BEGIN CERTIFICATE-----");
    let cert = tmp.path().join("new-root.crt");
    std::fs::write(&cert, &public.stdout).unwrap();

    // The admin side no longer holds the root key.
    ok(
        vouch(&r.hsm, &r.admin, None),
        &["key", "remove", &r.root_id, "--yes"],
    );
    let request = tmp.path().join("rotate.json");
    ok(
        vouch(&r.hsm, &r.admin, Some(srv)),
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
    // Signed offline (a server that does not answer) with both token keys.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let signed = tmp.path().join("rotate.signed.json");
    let out = ok(
        vouch(&r.hsm, &offline, Some(&dead)),
        &[
            "root",
            "sign",
            s(&request),
            "-o",
            s(&signed),
            "--yes",
            "--output",
            "json",
        ],
    );
    let mut by: Vec<String> = json(&out.stdout)["signed_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    by.sort();
    let mut want = vec![r.root_id.clone(), new_root.clone()];
    want.sort();
    assert_eq!(by, want);
    assert!(private_files(&offline)
        .iter()
        .all(|f| f.ends_with(".pkcs11")));

    ok(
        vouch(&r.hsm, &r.admin, Some(srv)),
        &["root", "apply", s(&signed)],
    );
    let root = server_meta(&server, gun, "root");
    assert_eq!(version(&root), 2);
    assert_eq!(canonical_role_keys(&root, "root"), vec![new_root]);
    assert_eq!(
        n.run(&["lookup", gun, "v1"]).trim(),
        format!("v1 sha256:{} 101", digest("v1"))
    );
    assert_eq!(cached_version(&n.trust_dir, gun, "root"), 2);
}

#[test]
fn wrong_pin_exits_4_and_changes_nothing() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/pin";
    let srv = Some(server.url.as_str());
    let r = init_with_token_root(tmp.path(), &server, gun);
    let new_root = generate_on_token(
        &r.hsm,
        &r.admin,
        "pkcs11:token=release;object=vouch-root-2",
        "root",
        None,
    );
    let wrong = |args: &[&str]| {
        let mut c = vouch(&r.hsm, &r.admin, srv);
        c.env("VOUCH_PKCS11_PIN", "999999");
        fails(c, args, 4)
    };
    let state = |g: &str| {
        (
            tree(&r.admin),
            ["root", "targets", "snapshot"].map(|role| {
                (server_status(&server, g, role) == 200).then(|| server_bytes(&server, g, role))
            }),
        )
    };

    // A root rotation with a wrong PIN.
    let before = state(gun);
    let out = wrong(&["key", "rotate", gun, "root", "--key", &new_root, "--yes"]);
    assert_contains(&out.stderr, "wrong PIN for token \"release\"");
    // SoftHSM flags a failed login as CKF_USER_PIN_COUNT_LOW: the error says so.
    assert_contains(&out.stderr, "tries left");
    assert!(!out.stderr.contains("999999"), "{}", out.stderr);
    assert_eq!(state(gun), before, "nothing changed");
    // The same with a new root key to be made: the old root key is opened first, so no
    // new key file is left behind either.
    let out = wrong(&["key", "rotate", gun, "root", "--yes"]);
    assert_contains(&out.stderr, "wrong PIN");
    assert_eq!(state(gun), before, "nothing changed");

    // A new repository with a wrong PIN: nothing on the server, nothing in the trust dir.
    let other = "example.com/pkcs11/pin-new";
    let before = state(other);
    assert_eq!(before.1, [None, None, None]);
    let out = wrong(&["init", other]);
    assert_contains(&out.stderr, "wrong PIN");
    assert_eq!(state(other), before, "nothing changed");

    // A PIN file works, and the right PIN still does (the token is not locked).
    let pin_file = tmp.path().join("pin");
    std::fs::write(&pin_file, format!("{}\n", softhsm::PIN)).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = vouch(&r.hsm, &r.admin, srv);
    c.env_remove("VOUCH_PKCS11_PIN")
        .env("VOUCH_PKCS11_PIN_FILE", &pin_file);
    ok(
        c,
        &["key", "rotate", gun, "root", "--key", &new_root, "--yes"],
    );
    assert_eq!(version(&server_meta(&server, gun, "root")), 2);
}

#[test]
fn wrong_module_absent_token_and_missing_key_are_clear_errors() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/module";
    let srv = Some(server.url.as_str());
    let r = init_with_token_root(tmp.path(), &server, gun);
    let before = (tree(&r.admin), server_bytes(&server, gun, "root"));

    // The module path is wrong (the token "was removed"): a clear error, exit 4.
    let mut c = vouch(&r.hsm, &r.admin, srv);
    c.env("VOUCH_PKCS11_MODULE", "/nonexistent/libsofthsm2.so");
    let out = fails(c, &["key", "rotate", gun, "root", "--yes"], 4);
    assert_contains(
        &out.stderr,
        "cannot load the PKCS#11 module /nonexistent/libsofthsm2.so",
    );
    // --pkcs11-module wins over the environment.
    let mut c = vouch(&r.hsm, &r.admin, srv);
    c.env("VOUCH_PKCS11_MODULE", "/nonexistent/libsofthsm2.so");
    c.args(["--pkcs11-module", softhsm::MODULE]);
    ok(c, &["key", "list"]);
    // No module configured at all.
    let mut c = vouch(&r.hsm, &r.admin, srv);
    c.env_remove("VOUCH_PKCS11_MODULE");
    let out = fails(c, &["key", "rotate", gun, "root", "--yes"], 2);
    assert_contains(&out.stderr, "--pkcs11-module");
    assert_eq!((tree(&r.admin), server_bytes(&server, gun, "root")), before);

    // A token that is not there, a key that is not on it, a URI with a PIN.
    let out = fails(
        vouch(&r.hsm, &r.admin, None),
        &[
            "key",
            "import-pkcs11",
            "pkcs11:token=absent;object=x",
            "--role",
            "root",
        ],
        4,
    );
    assert_contains(&out.stderr, "no token matching pkcs11:token=absent");
    assert_contains(&out.stderr, "tokens present: release");
    let out = fails(
        vouch(&r.hsm, &r.admin, None),
        &[
            "key",
            "import-pkcs11",
            "pkcs11:token=release;object=nope",
            "--role",
            "root",
        ],
        4,
    );
    assert_contains(&out.stderr, "no private key matching");
    let out = fails(
        vouch(&r.hsm, &r.admin, None),
        &[
            "key",
            "import-pkcs11",
            "pkcs11:token=release;object=vouch-root?pin-value=123456",
            "--role",
            "root",
        ],
        2,
    );
    assert_contains(&out.stderr, "never on the command line");
    // Registering the key a second time is refused.
    let out = fails(
        vouch(&r.hsm, &r.admin, None),
        &["key", "import-pkcs11", ROOT_URI, "--role", "root"],
        4,
    );
    assert_contains(&out.stderr, "already exists");
    assert_eq!(tree(&r.admin), before.0);
}

#[test]
fn delegation_key_on_the_token_signs_into_its_role() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/delegation";
    let srv = Some(server.url.as_str());
    let r = init_with_token_root(tmp.path(), &server, gun);
    let releases = generate_on_token(
        &r.hsm,
        &r.admin,
        "pkcs11:token=release;object=vouch-releases",
        "targets/releases",
        None,
    );
    let public = ok(vouch(&r.hsm, &r.admin, None), &["key", "public", &releases]);
    let pem = tmp.path().join("releases.pem");
    std::fs::write(&pem, &public.stdout).unwrap();
    ok(
        vouch(&r.hsm, &r.admin, srv),
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
    ok(
        vouch(&r.hsm, &r.admin, srv),
        &[
            "sign",
            "--role",
            "targets/releases",
            &pair(gun, "r1", "r1", 201),
        ],
    );
    let meta = server_meta(&server, gun, "targets/releases");
    assert_eq!(meta["signatures"][0]["keyid"], releases.as_str());
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    let rows = list_rows(&n.run(&["list", gun, "-r", "targets/releases"]));
    assert_eq!(
        rows,
        vec![(
            "r1".to_owned(),
            digest("r1"),
            201,
            "targets/releases".to_owned()
        )]
    );
}

#[test]
fn key_list_needs_no_token_and_skips_a_damaged_reference() {
    let hsm = SoftHsm::new();
    hsm.init_token("release");
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let id = generate_on_token(&hsm, &trust, ROOT_URI, "root", None);
    // Listing reads the reference only: no module, no PIN needed.
    let mut c = vouch(&hsm, &trust, None);
    c.env_remove("VOUCH_PKCS11_MODULE")
        .env_remove("VOUCH_PKCS11_PIN");
    let out = ok(c, &["key", "list", "--output", "json"]);
    let keys = json(&out.stdout)["items"].clone();
    assert_eq!(keys[0]["id"], id.as_str());
    assert_contains(
        keys[0]["encryption"].as_str().unwrap(),
        "on a PKCS#11 token",
    );
    assert_eq!(keys[0]["notary_readable"], false);
    // A reference copied under another key's name is not taken for that key.
    let other = "0".repeat(64);
    std::fs::copy(
        trust.join("private").join(format!("{id}.pkcs11")),
        trust.join("private").join(format!("{other}.pkcs11")),
    )
    .unwrap();
    let out = ok(vouch(&hsm, &trust, None), &["key", "list"]);
    assert_contains(
        &out.stderr,
        &format!(
            "skipped {}",
            trust
                .join("private")
                .join(format!("{other}.pkcs11"))
                .display()
        ),
    );
    assert!(!out.stdout.contains(&other), "{}", out.stdout);
    // The same key generated under a label already on the token is refused.
    let out = fails(
        vouch(&hsm, &tmp.path().join("second"), None),
        &["key", "generate", "--role", "root", "--pkcs11", ROOT_URI],
        2,
    );
    assert_contains(&out.stderr, "already exists on token \"release\"");
}
