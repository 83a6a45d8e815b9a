//! End-to-end tests of `vouch key …`: the built binary against the real `notary` CLI,
//! a real notary-server on 127.0.0.1 and `openssl`. Every check that a key "works" is made
//! by a tool other than vouch (notary, openssl) or by recomputing key IDs here.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{
    snapshot_tree, Notary, NotaryServer, DELEGATION_PASS, ROOT_PASS, SNAPSHOT_PASS, TARGETS_PASS,
};

// ---- running vouch ----

/// Every passphrase variable vouch reads, plus the keyring switch and the trust dir:
/// removed from the environment of every vouch run so only what a test sets counts.
fn clean_env() -> impl Iterator<Item = &'static str> {
    support::PASSPHRASE_VARS
        .into_iter()
        .chain(["VOUCH_KEYRING", "VOUCH_TRUST_DIR"])
}

/// The vouch binary with a clean environment: HOME = `home`, the support passphrases in
/// `VOUCH_ROOT/TARGETS/SNAPSHOT/DELEGATION_PASSPHRASE`, no other passphrase variable.
/// No arguments (so tests can put global options anywhere).
fn vouch_bare(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    for v in clean_env() {
        c.env_remove(v);
    }
    c.env("HOME", home)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env("VOUCH_ROOT_PASSPHRASE", ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", SNAPSHOT_PASS)
        .env("VOUCH_DELEGATION_PASSPHRASE", DELEGATION_PASS)
        .stdin(Stdio::null());
    c
}

/// `vouch --trust-dir DIR` as [`vouch_bare`].
fn vouch(dir: &Path) -> Command {
    let mut c = vouch_bare(dir);
    c.arg("--trust-dir").arg(dir);
    c
}

/// `vouch --trust-dir DIR` with no passphrase variable at all.
fn vouch_nopass(dir: &Path) -> Command {
    let mut c = vouch(dir);
    for v in clean_env() {
        c.env_remove(v);
    }
    c
}

fn output(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().expect("run vouch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run; require exit 0; return stdout.
fn ok(c: Command, args: &[&str]) -> String {
    let out = output(c, args);
    assert!(
        out.status.success(),
        "vouch {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Run; require the exit code `code`; return stderr.
fn fails(c: Command, args: &[&str], code: i32) -> String {
    let out = output(c, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "vouch {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("vouch: error: "),
        "no error line for {args:?}: {err}"
    );
    err
}

/// Generate a key with vouch; returns its ID (the first stdout line).
fn generate(dir: &Path, args: &[&str]) -> String {
    let mut full = vec!["key", "generate"];
    full.extend_from_slice(args);
    let id = ok(vouch(dir), &full).trim().to_owned();
    assert!(is_key_id(&id), "{id:?}");
    id
}

fn is_key_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A file holding `content`, mode 0600 (passphrase files must not be group/world readable).
fn secret_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{content}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- keys, IDs, PEM ----

/// notary's key ID: SHA-256 of the canonical JSON public key.
fn canonical_id(keytype: &str, public: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(public);
    let cjson =
        format!(r#"{{"keytype":"{keytype}","keyval":{{"private":null,"public":"{b64}"}}}}"#);
    hex::encode(Sha256::digest(cjson.as_bytes()))
}

/// The DER of the first `kind` PEM block in `pem` (headers skipped).
fn pem_der(pem: &str, kind: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {kind}-----");
    let end = format!("-----END {kind}-----");
    let start = pem
        .find(&begin)
        .unwrap_or_else(|| panic!("no {kind} in {pem}"));
    let body = &pem[start + begin.len()..];
    let body = &body[..body.find(&end).unwrap_or_else(|| panic!("no END in {pem}"))];
    let b64: String = body
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.trim().chars())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// The key ID of a `PUBLIC KEY` PEM, computed as notary does for each key type.
fn id_of_public_pem(pem: &str) -> String {
    let der = pem_der(pem, "PUBLIC KEY");
    let contains = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    if contains(&[0x06, 0x03, 0x2b, 0x65, 0x70]) {
        // Ed25519: notary's public bytes are the raw 32-byte key.
        canonical_id("ed25519", &der[der.len() - 32..])
    } else if contains(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ]) {
        canonical_id("rsa", &der)
    } else {
        canonical_id("ecdsa", &der)
    }
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
    out.stdout
}

/// The public key of a PEM certificate, as openssl extracts it (DER SPKI).
fn cert_public_key(cert_pem: &str) -> Vec<u8> {
    let pubkey = openssl(&["x509", "-pubkey", "-noout"], Some(cert_pem.as_bytes()));
    pem_der(&text(&pubkey), "PUBLIC KEY")
}

// ---- key lists ----

type Row = (String, String, String); // (role, gun, id)

/// Rows of a `ROLE GUN KEY ID …` table (notary's or vouch's): the GUN column is empty for
/// root and delegation keys, so the key ID is found by its shape.
fn table_rows(table: &str) -> BTreeSet<Row> {
    table
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            let at = cells.iter().position(|c| is_key_id(c))?;
            // A file without a role (and so without a GUN) starts with its ID.
            let role = if at > 0 { cells[0] } else { "" };
            let gun = if at == 2 { cells[1] } else { "" };
            assert!(at <= 2, "unexpected row {l:?}");
            Some((role.into(), gun.into(), cells[at].into()))
        })
        .collect()
}

fn json_rows(json: &str) -> BTreeSet<Row> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["role"].as_str().unwrap().into(),
                k["gun"].as_str().unwrap_or_default().into(),
                k["id"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn json_key(dir: &Path, id: &str) -> Value {
    let v: Value =
        serde_json::from_str(&ok(vouch(dir), &["key", "list", "--output", "json"])).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {v}"))
        .clone()
}

fn row(role: &str, gun: &str, id: &str) -> Row {
    (role.into(), gun.into(), id.into())
}

/// The ID in notary's "Generated new ecdsa <role> key with keyID: <id>".
fn notary_generated(out: &str) -> String {
    let id = out.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(is_key_id(&id), "{out}");
    id
}

// ---- the state of a directory ----

/// Every entry under `dir` (directories and dot-files included) with its mode, plus
/// `snapshot_tree`'s file contents: equal states mean nothing was written, created,
/// removed or chmod-ed.
#[derive(Debug, PartialEq)]
struct DirState {
    entries: Vec<(PathBuf, u32)>,
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn dir_state(dir: &Path) -> DirState {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, u32)>) {
        let mut entries: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            out.push((e.path(), meta.permissions().mode()));
            if meta.is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut entries = vec![(
        dir.to_path_buf(),
        std::fs::metadata(dir).unwrap().permissions().mode(),
    )];
    walk(dir, &mut entries);
    DirState {
        entries,
        files: snapshot_tree(dir),
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn key_file(dir: &Path, id: &str) -> PathBuf {
    dir.join("private").join(format!("{id}.key"))
}

// =====================================================================================
// notary's keys in vouch
// =====================================================================================

#[test]
fn keys_generated_by_notary_are_listed_by_vouch_with_role_gun_and_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notary");
    let notary = Notary::new(&dir);
    let deleg =
        notary_generated(&notary.run(&["key", "generate", "ecdsa", "--role", "targets/releases"]));
    let root = notary_generated(&notary.run(&["key", "generate", "--role", "root"]));

    let table = ok(vouch(&dir), &["key", "list"]);
    let expected: BTreeSet<Row> =
        [row("root", "", &root), row("targets/releases", "", &deleg)].into();
    assert_eq!(table_rows(&table), expected, "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ROLE", "GUN", "KEY", "ID", "ALGORITHM", "LOCATION"]
    );
    // Root first, as notary lists; notary's encrypted files show `?` for the algorithm
    // and the file as location.
    assert!(lines[2].starts_with("root "), "{table}");
    for id in [&root, &deleg] {
        let line = lines.iter().find(|l| l.contains(id.as_str())).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[cells.len() - 2], "?", "{line}");
        assert_eq!(cells[cells.len() - 1], s(&key_file(&dir, id)), "{line}");
    }

    let json = ok(vouch(&dir), &["key", "list", "--output", "json"]);
    assert_eq!(json_rows(&json), expected, "{json}");
    for (id, role) in [(&root, "root"), (&deleg, "targets/releases")] {
        let k = json_key(&dir, id);
        assert_eq!(k["role"], role);
        assert_eq!(k["gun"], Value::Null);
        assert_eq!(k["algorithm"], Value::Null);
        assert_eq!(k["encryption"], "notary (pbkdf2-sha1)");
        assert_eq!(k["notary_readable"], true);
        assert_eq!(k["location"], s(&key_file(&dir, id)));
    }
}

#[test]
fn vouch_unlocks_and_signs_with_keys_generated_by_notary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notary");
    let notary = Notary::new(&dir);
    let deleg =
        notary_generated(&notary.run(&["key", "generate", "ecdsa", "--role", "targets/releases"]));
    let root = notary_generated(&notary.run(&["key", "generate", "--role", "root"]));

    // The public key vouch decrypts from each file has the ID notary named the file by.
    for id in [&deleg, &root] {
        let pem = ok(vouch(&dir), &["key", "public", id]);
        assert_eq!(&id_of_public_pem(&pem), id, "{pem}");
    }
    let deleg_pem = ok(vouch(&dir), &["key", "public", &deleg[..12]]);
    assert!(
        deleg_pem.contains("role: targets/releases\n"),
        "{deleg_pem}"
    );

    // A root certificate signed by the root key: openssl checks the self-signature and
    // finds the key's public key in it.
    let gun = "registry.example.com/team/app";
    let cert = ok(vouch(&dir), &["key", "public", &root, "--gun", gun]);
    let cert_file = tmp.path().join("root.crt");
    std::fs::write(&cert_file, &cert).unwrap();
    openssl(
        &[
            "verify",
            "-check_ss_sig",
            "-partial_chain",
            "-CAfile",
            s(&cert_file),
            s(&cert_file),
        ],
        None,
    );
    let root_pub = pem_der(&ok(vouch(&dir), &["key", "public", &root]), "PUBLIC KEY");
    assert_eq!(cert_public_key(&cert), root_pub);
    let subject = text(&openssl(
        &["x509", "-noout", "-subject"],
        Some(cert.as_bytes()),
    ));
    assert!(subject.contains(&format!("CN = {gun}")), "{subject}");

    // With the wrong root passphrase there is no certificate.
    let mut c = vouch(&dir);
    c.env("VOUCH_ROOT_PASSPHRASE", "not-the-root-passphrase");
    let err = fails(c, &["key", "public", &root, "--gun", gun], 4);
    assert!(err.contains(&root), "{err}");
}

#[test]
fn notary_init_trust_dir_is_listed_with_notarys_ids_and_left_as_it_was() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notary");
    let notary = Notary::with_server(&dir, &server);
    let gun = "example.com/team/app";
    notary.run(&["init", "-p", gun]);
    let notary_list = notary.run(&["key", "list"]);
    let notary_rows = table_rows(&notary_list);
    let roles: Vec<&str> = notary_rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(roles.len(), 3, "{notary_list}");
    for (role, want_gun) in [("root", ""), ("targets", gun), ("snapshot", gun)] {
        assert!(
            notary_rows.iter().any(|r| r.0 == role && r.1 == want_gun),
            "{role} missing: {notary_list}"
        );
    }
    let before = dir_state(&dir);
    assert!(before.files.iter().any(|(p, _)| p.ends_with("root.json")));

    let table = ok(vouch(&dir), &["key", "list"]);
    assert_eq!(table_rows(&table), notary_rows, "{table}\n{notary_list}");
    let json = ok(vouch(&dir), &["key", "list", "--output", "json"]);
    assert_eq!(json_rows(&json), notary_rows, "{json}");
    // vouch decrypts each with the passphrase of its role and finds the key its file
    // name says.
    for (_, _, id) in &notary_rows {
        let pem = ok(vouch(&dir), &["key", "public", id]);
        assert_eq!(&id_of_public_pem(&pem), id);
    }

    assert_eq!(dir_state(&dir), before, "vouch changed notary's trust dir");
    assert_eq!(notary.run(&["key", "list"]), notary_list);
    // notary still reads its repository (and its keys) after vouch looked at them.
    let list = notary.run(&["list", gun]);
    assert!(list.contains("No targets present"), "{list}");
}

// =====================================================================================
// vouch's keys in notary
// =====================================================================================

#[test]
fn delegation_key_exported_by_vouch_is_imported_and_signed_with_by_notary() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let vdir = tmp.path().join("vouch");
    let ndir = tmp.path().join("notary");
    let id = generate(&vdir, &["--role", "targets/releases"]);
    assert_eq!(
        json_key(&vdir, &id)["encryption"],
        "vouch (scrypt N=2^14 r=8 p=4)"
    );

    let exported = tmp.path().join("f.pem");
    ok(
        vouch(&vdir),
        &[
            "key",
            "export",
            &id,
            "--format",
            "notary",
            "-o",
            s(&exported),
        ],
    );
    assert_eq!(mode(&exported), 0o600);
    let pem = std::fs::read_to_string(&exported).unwrap();
    assert!(pem.contains(&format!("path: {id}\n")), "{pem}");
    assert!(pem.contains("role: targets/releases\n"), "{pem}");
    let public = tmp.path().join("releases.pub");
    std::fs::write(&public, ok(vouch(&vdir), &["key", "public", &id])).unwrap();

    let notary = Notary::with_server(&ndir, &server);
    notary.run(&["key", "import", s(&exported)]);
    let listed = table_rows(&notary.run(&["key", "list"]));
    assert_eq!(listed, [row("targets/releases", "", &id)].into());
    // notary stored it under the same ID, still under vouch's (the delegation) passphrase.
    let mut wrong = notary.cmd();
    wrong
        .env("NOTARY_DELEGATION_PASSPHRASE", "not-the-passphrase")
        .args(["key", "passwd", &id]);
    assert!(!wrong.output().unwrap().status.success());

    let gun = "example.com/deleg";
    notary.run(&["init", "-p", gun]);
    let added = notary.run(&[
        "delegation",
        "add",
        gun,
        "targets/releases",
        s(&public),
        "--all-paths",
        "-p",
    ]);
    assert!(added.contains(&id), "{added}");
    let payload = tmp.path().join("hello.txt");
    std::fs::write(&payload, "hello\n").unwrap();
    notary.run(&[
        "add",
        gun,
        "t",
        s(&payload),
        "--roles",
        "targets/releases",
        "-p",
    ]);
    let list = notary.run(&["list", gun]);
    let line = list
        .lines()
        .find(|l| l.starts_with("t "))
        .unwrap_or_else(|| panic!("{list}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "t",
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
            "6",
            "targets/releases"
        ]
    );
}

#[test]
fn passwd_format_notary_makes_a_vouch_root_key_usable_by_notary() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    let mut c = vouch(&dir);
    c.env("VOUCH_ROOT_PASSPHRASE", "vouch-root-old-1");
    let id = ok(c, &["key", "generate", "--role", "root"])
        .trim()
        .to_owned();
    // notary cannot decrypt vouch's scrypt format…
    let notary = Notary::with_server(&dir, &server);
    let vouch_format = std::fs::read(key_file(&dir, &id)).unwrap();
    let mut c = notary.cmd();
    c.env("NOTARY_ROOT_PASSPHRASE", "vouch-root-old-1")
        .args(["key", "passwd", &id]);
    assert!(!c.output().unwrap().status.success());
    assert_eq!(std::fs::read(key_file(&dir, &id)).unwrap(), vouch_format);
    // …so convert it, choosing the passphrase notary will be given.
    let new = secret_file(tmp.path(), "new-pass", ROOT_PASS);
    let mut c = vouch(&dir);
    c.env("VOUCH_ROOT_PASSPHRASE", "vouch-root-old-1");
    ok(
        c,
        &[
            "key",
            "passwd",
            &id,
            "--format",
            "notary",
            "--new-passphrase-file",
            s(&new),
        ],
    );
    assert_eq!(mode(&key_file(&dir, &id)), 0o600);
    let k = json_key(&dir, &id);
    assert_eq!(k["encryption"], "notary (pbkdf2-sha1)");
    assert_eq!(k["notary_readable"], true);

    assert_eq!(
        table_rows(&notary.run(&["key", "list"])),
        [row("root", "", &id)].into()
    );
    // notary signs a new repository's root with it: the server accepts that root, and the
    // root certificate in it holds this key.
    let gun = "example.com/rooted";
    let init = notary.run(&["init", "-p", gun]);
    assert!(
        init.contains(&format!("Root key found, using: {id}")),
        "{init}"
    );
    let root_json: Value = serde_json::from_slice(
        &std::fs::read(dir.join("tuf").join(gun).join("metadata/root.json")).unwrap(),
    )
    .unwrap();
    let root_key_id = root_json["signed"]["roles"]["root"]["keyids"][0]
        .as_str()
        .unwrap();
    let cert_b64 = root_json["signed"]["keys"][root_key_id]["keyval"]["public"]
        .as_str()
        .unwrap();
    let cert = text(
        &base64::engine::general_purpose::STANDARD
            .decode(cert_b64)
            .unwrap(),
    );
    let public = pem_der(&ok(vouch(&dir), &["key", "public", &id]), "PUBLIC KEY");
    assert_eq!(cert_public_key(&cert), public);
}

// =====================================================================================
// wrong passphrases, damaged files, missing keys
// =====================================================================================

/// A store with one vouch-format delegation key; returns (tempdir, trust dir, key ID).
fn store_with_key() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    let id = generate(&dir, &["--role", "targets/releases"]);
    (tmp, dir, id)
}

/// Run `args` with a wrong delegation passphrase: exit 4, an error naming the key and
/// "wrong passphrase", and the trust dir exactly as before.
fn assert_wrong_passphrase(dir: &Path, id: &str, args: &[&str]) {
    let before = dir_state(dir);
    let mut c = vouch(dir);
    c.env("VOUCH_DELEGATION_PASSPHRASE", "wrong-passphrase-1");
    let err = fails(c, args, 4);
    assert!(err.contains("wrong passphrase"), "{err}");
    assert!(err.contains(id), "{err}");
    assert!(err.contains("targets/releases"), "{err}");
    assert!(err.contains("VOUCH_DELEGATION_PASSPHRASE"), "{err}");
    assert_eq!(dir_state(dir), before);
}

#[test]
fn wrong_passphrase_for_key_export_exits_4_names_the_key_and_changes_nothing() {
    let (tmp, dir, id) = store_with_key();
    let out = tmp.path().join("out.pem");
    // Exporting to notary's format decrypts the key.
    assert_wrong_passphrase(
        &dir,
        &id,
        &["key", "export", &id, "--format", "notary", "-o", s(&out)],
    );
    assert!(!out.exists(), "a failed export left {}", out.display());
    assert_wrong_passphrase(&dir, &id, &["key", "export", &id, "--format", "notary"]);
}

#[test]
fn wrong_passphrase_for_key_passwd_exits_4_names_the_key_and_changes_nothing() {
    let (tmp, dir, id) = store_with_key();
    let new = secret_file(tmp.path(), "new", "a-new-passphrase-1");
    assert_wrong_passphrase(
        &dir,
        &id,
        &["key", "passwd", &id, "--new-passphrase-file", s(&new)],
    );
    assert_wrong_passphrase(
        &dir,
        &id,
        &[
            "key",
            "passwd",
            &id,
            "--format",
            "notary",
            "--new-passphrase-file",
            s(&new),
        ],
    );
    // The old passphrase still opens it.
    ok(vouch(&dir), &["key", "public", &id]);
}

#[test]
fn wrong_passphrase_for_key_public_exits_4_names_the_key_and_changes_nothing() {
    let (_tmp, dir, id) = store_with_key();
    assert_wrong_passphrase(&dir, &id, &["key", "public", &id]);
    assert_wrong_passphrase(&dir, &id, &["key", "public", &id[..10]]);
    // A notary-format key too (a different decryption path).
    let new = secret_file(_tmp.path(), "new", DELEGATION_PASS);
    ok(
        vouch(&dir),
        &[
            "key",
            "passwd",
            &id,
            "--format",
            "notary",
            "--new-passphrase-file",
            s(&new),
        ],
    );
    assert_wrong_passphrase(&dir, &id, &["key", "public", &id]);
}

#[test]
fn missing_passphrase_exits_4_and_names_the_variables_to_set() {
    let (_tmp, dir, id) = store_with_key();
    let before = dir_state(&dir);
    let err = fails(vouch_nopass(&dir), &["key", "public", &id], 4);
    assert!(err.contains(&id), "{err}");
    assert!(err.contains("no passphrase available"), "{err}");
    assert!(
        err.contains("VOUCH_DELEGATION_PASSPHRASE")
            && err.contains("NOTARY_DELEGATION_PASSPHRASE")
            && err.contains("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"),
        "{err}"
    );
    assert_eq!(dir_state(&dir), before);
}

/// Damaged versions of a good key file: (what, bytes, whether the PEM still parses as a
/// key block whose algorithm is unknown).
fn damaged_variants(good: &[u8]) -> Vec<(&'static str, Vec<u8>, bool)> {
    let text = String::from_utf8(good.to_vec()).unwrap();
    let body_line = text
        .lines()
        .find(|l| l.len() == 64 && !l.contains(':'))
        .unwrap()
        .to_owned();
    let ed448 = openssl(&["genpkey", "-algorithm", "ed448"], None);
    let p384 = openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
        None,
    );
    vec![
        (
            "corrupt PEM (bad base64)",
            text.replace(&body_line, &format!("!!{}", &body_line[2..]))
                .into_bytes(),
            false,
        ),
        ("truncated file", good[..good.len() / 2].to_vec(), false),
        (
            "corrupt DER",
            text.replace(&body_line, &"A".repeat(64)).into_bytes(),
            false,
        ),
        ("empty file", Vec::new(), false),
        ("unknown algorithm (Ed448)", ed448, true),
        ("unknown algorithm (P-384)", p384, true),
    ]
}

#[test]
fn corrupt_key_in_the_store_exits_4_names_the_file_and_changes_nothing() {
    let (tmp, dir, id) = store_with_key();
    let other = generate(&dir, &["--role", "targets/other"]);
    let path = key_file(&dir, &id);
    let good = std::fs::read(&path).unwrap();
    let new = secret_file(tmp.path(), "new", "a-new-passphrase-1");
    let out = tmp.path().join("out.pem");
    for (what, bytes, unknown_algorithm) in damaged_variants(&good) {
        std::fs::write(&path, &bytes).unwrap();
        let before = dir_state(&dir);
        let mut commands = vec![
            vec!["key", "public", id.as_str()],
            vec!["key", "public", &id[..8]],
            vec!["key", "passwd", &id, "--new-passphrase-file", s(&new)],
        ];
        if !unknown_algorithm {
            commands.push(vec![
                "key",
                "export",
                &id,
                "--format",
                "notary",
                "-o",
                s(&out),
            ]);
            commands.push(vec!["key", "export", &id]);
        }
        for args in commands {
            let err = fails(vouch(&dir), &args, 4);
            let expected = if unknown_algorithm {
                "unsupported key file"
            } else {
                "corrupt key file"
            };
            assert!(
                err.contains(expected) && err.contains(s(&path)),
                "{what}, {args:?}: {err}"
            );
            assert!(!err.contains("not found"), "{what}, {args:?}: {err}");
            assert_eq!(dir_state(&dir), before, "{what}, {args:?}");
            assert!(!out.exists());
        }
        // The list goes on; a file that is not a readable key block is skipped with a
        // warning naming it.
        let listed = output(vouch(&dir), &["key", "list"]);
        assert!(listed.status.success(), "{what}");
        let rows = table_rows(&text(&listed.stdout));
        assert!(rows.contains(&row("targets/other", "", &other)), "{what}");
        if !unknown_algorithm {
            assert_eq!(rows.len(), 1, "{what}: {rows:?}");
            assert!(
                text(&listed.stderr).contains(&format!("skipped {}", s(&path))),
                "{what}: {}",
                text(&listed.stderr)
            );
        }
        assert_eq!(dir_state(&dir), before, "{what}: key list");
    }
    // A damaged key can be removed, as the error's hint says.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let removed = output(vouch(&dir), &["key", "remove", &id[..10], "--yes"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert!(!path.exists());
    ok(vouch(&dir), &["key", "public", &other]);
}

#[test]
fn missing_key_id_exits_4_says_not_found_and_changes_nothing() {
    let (tmp, dir, id) = store_with_key();
    // An ID that differs from the key's in its first character.
    let first = if id.starts_with('0') { "f" } else { "0" };
    let absent = first.repeat(64);
    let absent_prefix = &absent[..2];
    let new = secret_file(tmp.path(), "new", "a-new-passphrase-1");
    let out = tmp.path().join("out.pem");
    let before = dir_state(&dir);
    for args in [
        vec!["key", "public", absent.as_str()],
        vec!["key", "public", absent_prefix],
        vec!["key", "export", &absent, "-o", s(&out)],
        vec!["key", "passwd", &absent, "--new-passphrase-file", s(&new)],
        vec!["key", "remove", &absent, "--yes"],
    ] {
        let err = fails(vouch(&dir), &args, 4);
        assert!(err.contains("not found in"), "{args:?}: {err}");
        assert!(err.contains("vouch key list"), "{args:?}: {err}");
        assert_eq!(dir_state(&dir), before, "{args:?}");
    }
    assert!(!out.exists());
    // Not a key ID at all: bad input.
    let err = fails(vouch(&dir), &["key", "public", "not-hex"], 2);
    assert!(err.contains("not-hex"), "{err}");
    // No key ID: a usage error from the parser.
    let out = output(vouch(&dir), &["key", "export"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("KEY_ID"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(dir_state(&dir), before);
    ok(vouch(&dir), &["key", "public", &id]);
}

#[test]
fn corrupt_file_given_to_key_import_exits_2_and_changes_nothing() {
    let (tmp, dir, id) = store_with_key();
    let good = std::fs::read(key_file(&dir, &id)).unwrap();
    let mut inputs = damaged_variants(&good);
    inputs.push(("no key block", b"just some text\n".to_vec(), false));
    let before = dir_state(&dir);
    for (what, bytes, _) in inputs {
        let input = tmp.path().join("input.pem");
        std::fs::write(&input, bytes).unwrap();
        let err = fails(
            vouch(&dir),
            &["key", "import", s(&input), "--role", "targets/x"],
            2,
        );
        assert!(err.contains("input.pem"), "{what}: {err}");
        assert!(
            !err.contains("vouch key remove"),
            "{what}: the hint is about the store, not the input: {err}"
        );
        assert_eq!(dir_state(&dir), before, "{what}");
    }
    let err = fails(
        vouch(&dir),
        &["key", "import", s(&tmp.path().join("absent.pem"))],
        2,
    );
    assert!(err.contains("absent.pem"), "{err}");
    assert_eq!(dir_state(&dir), before);
}

// =====================================================================================
// permissions, concurrency
// =====================================================================================

/// vouch run with umask 000, so only vouch's own modes protect what it writes.
fn vouch_umask0(dir: &Path, args: &[&str]) -> String {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_vouch"))
        .arg("--trust-dir")
        .arg(dir)
        .args(args);
    let proto = vouch_bare(dir);
    for (k, v) in proto.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn generate_import_passwd_and_export_leave_0700_directories_and_0600_files() {
    let tmp = tempfile::tempdir().unwrap();
    // A fresh trust dir is created private.
    let fresh = tmp.path().join("fresh/trust");
    let id = vouch_umask0(&fresh, &["key", "generate", "--role", "root"])
        .trim()
        .to_owned();
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("private")), 0o700);
    assert_eq!(mode(&key_file(&fresh, &id)), 0o600);

    // An existing, too open one is tightened by the first write.
    let dir = tmp.path().join("open");
    std::fs::create_dir_all(dir.join("private")).unwrap();
    for d in [&dir, &dir.join("private")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let generated = vouch_umask0(&dir, &["key", "generate", "--role", "targets/a"])
        .trim()
        .to_owned();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("private")), 0o700);
    assert_eq!(mode(&key_file(&dir, &generated)), 0o600);
    assert_eq!(mode(&dir.join(vouch::keystore::LOCK_FILE)), 0o600);

    let plain = tmp.path().join("plain.pem");
    std::fs::write(
        &plain,
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ],
            None,
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let imported = vouch_umask0(&dir, &["key", "import", s(&plain), "--role", "targets/b"])
        .trim()
        .to_owned();
    assert_eq!(mode(&key_file(&dir, &imported)), 0o600);

    let new = secret_file(tmp.path(), "new", "another-passphrase-1");
    std::fs::set_permissions(
        key_file(&dir, &generated),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    vouch_umask0(
        &dir,
        &[
            "key",
            "passwd",
            &generated,
            "--new-passphrase-file",
            s(&new),
        ],
    );
    assert_eq!(mode(&key_file(&dir, &generated)), 0o600);

    let out = tmp.path().join("exported.pem");
    vouch_umask0(
        &dir,
        &[
            "key",
            "export",
            &imported,
            "--format",
            "notary",
            "-o",
            s(&out),
        ],
    );
    assert_eq!(mode(&out), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("private")), 0o700);
    // No temp files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.join("private"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names
        .iter()
        .all(|n| n.ends_with(".key") && !n.starts_with('.')));
}

#[test]
fn concurrent_key_generate_in_one_trust_dir_both_succeed_and_both_keys_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    for round in 0..3 {
        let roles = [format!("targets/a{round}"), format!("targets/b{round}")];
        let barrier = std::sync::Barrier::new(roles.len());
        let ids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = roles
                .iter()
                .map(|role| {
                    let (dir, barrier) = (&dir, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        generate(dir, &["--role", role])
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_ne!(ids[0], ids[1]);
        let rows = json_rows(&ok(vouch(&dir), &["key", "list", "--output", "json"]));
        for (role, id) in roles.iter().zip(&ids) {
            assert!(rows.contains(&row(role, "", id)), "round {round}: {rows:?}");
            let pem = ok(vouch(&dir), &["key", "public", id]);
            assert_eq!(&id_of_public_pem(&pem), id);
        }
        assert_eq!(rows.len(), 2 * (round + 1));
    }
}

// =====================================================================================
// import
// =====================================================================================

#[test]
fn import_of_notary_exported_keys_keeps_notarys_ids_roles_and_guns() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let ndir = tmp.path().join("notary");
    let notary = Notary::with_server(&ndir, &server);
    let gun = "example.com/exported";
    notary.run(&["init", "-p", gun]);
    let deleg =
        notary_generated(&notary.run(&["key", "generate", "ecdsa", "--role", "targets/releases"]));
    let notary_rows = table_rows(&notary.run(&["key", "list"]));
    assert_eq!(notary_rows.len(), 4);

    // Everything in one file.
    let all = tmp.path().join("all.pem");
    notary.run(&["key", "export", "-o", s(&all)]);
    let vdir = tmp.path().join("vouch");
    let printed: BTreeSet<String> = ok(vouch(&vdir), &["key", "import", s(&all)])
        .lines()
        .map(str::to_owned)
        .collect();
    let notary_ids: BTreeSet<String> = notary_rows.iter().map(|r| r.2.clone()).collect();
    assert_eq!(printed, notary_ids);
    assert_eq!(
        json_rows(&ok(vouch(&vdir), &["key", "list", "--output", "json"])),
        notary_rows
    );
    for (_, _, id) in &notary_rows {
        assert!(key_file(&vdir, id).is_file());
        let pem = ok(vouch(&vdir), &["key", "public", id]);
        assert_eq!(&id_of_public_pem(&pem), id);
        assert_eq!(json_key(&vdir, id)["encryption"], "notary (pbkdf2-sha1)");
    }
    // Stored as notary wrote them, so notary reads the vouch copy too.
    let again = Notary::with_server(&vdir, &server);
    assert_eq!(table_rows(&again.run(&["key", "list"])), notary_rows);

    // One key by ID.
    let one = tmp.path().join("one.pem");
    notary.run(&["key", "export", "--key", &deleg, "-o", s(&one)]);
    let vdir2 = tmp.path().join("vouch2");
    assert_eq!(ok(vouch(&vdir2), &["key", "import", s(&one)]).trim(), deleg);
    assert_eq!(
        table_rows(&ok(vouch(&vdir2), &["key", "list"])),
        [row("targets/releases", "", &deleg)].into()
    );
}

/// openssl's public key of a private key PEM, and its notary key ID.
fn openssl_key_id(private_pem: &Path, passin: Option<&str>) -> String {
    let mut args = vec!["pkey", "-in", s(private_pem), "-pubout"];
    let pass;
    if let Some(p) = passin {
        pass = format!("pass:{p}");
        args.extend(["-passin", &pass]);
    }
    id_of_public_pem(&text(&openssl(&args, None)))
}

#[test]
fn import_of_openssl_pkcs8_keys_gives_the_ids_of_their_public_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    let gen = |name: &str, args: &[&str]| -> PathBuf {
        let p = tmp.path().join(name);
        std::fs::write(&p, openssl(args, None)).unwrap();
        p
    };
    let ec = gen(
        "ec.pem",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    let ed = gen("ed.pem", &["genpkey", "-algorithm", "ed25519"]);
    let pbkdf2 = tmp.path().join("pbkdf2-sha256.pem");
    let scrypt = tmp.path().join("scrypt.pem");
    let passout = format!("pass:{DELEGATION_PASS}");
    for (out, extra) in [
        (&pbkdf2, vec!["-v2", "aes-256-cbc"]),
        (&scrypt, vec!["-scrypt"]),
    ] {
        let mut args = vec!["pkcs8", "-topk8", "-in", s(&ec), "-passout", &passout];
        args.extend(extra);
        args.extend(["-out", s(out)]);
        openssl(&args, None);
    }
    // The same key three times: plain, PBKDF2-HMAC-SHA256 (openssl 3's default), scrypt.
    let ec_id = openssl_key_id(&ec, None);
    assert_eq!(openssl_key_id(&pbkdf2, Some(DELEGATION_PASS)), ec_id);
    let ed_id = openssl_key_id(&ed, None);

    // Named by the key ID, as notary names key files: the name must match the key.
    for (file, role, id, encryption) in [
        (&ed, "targets/ed", &ed_id, "vouch (scrypt N=2^14 r=8 p=4)"),
        (
            &pbkdf2,
            "targets/ec",
            &ec_id,
            "pkcs8 (pbkdf2 hmac-sha256, 2048 iterations)",
        ),
    ] {
        let named = tmp.path().join(format!("{id}.key"));
        std::fs::copy(file, &named).unwrap();
        let out = ok(vouch(&dir), &["key", "import", s(&named), "--role", role]);
        assert_eq!(out.trim(), id.as_str());
        assert!(key_file(&dir, id).is_file());
        let k = json_key(&dir, id);
        assert_eq!(k["role"], role);
        assert_eq!(k["encryption"], encryption);
        assert_eq!(k["notary_readable"], false);
        let pem = ok(vouch(&dir), &["key", "public", id]);
        assert_eq!(&id_of_public_pem(&pem), id);
    }
    // The scrypt copy of the same key is already there: left as it is.
    let out = output(
        vouch(&dir),
        &["key", "import", s(&scrypt), "--role", "targets/ec"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), ec_id);
    assert!(text(&out.stderr).contains("already present"));
    // Unencrypted EC key imported into another store: encrypted there with the role's
    // passphrase.
    let dir2 = tmp.path().join("trust2");
    let out = ok(
        vouch(&dir2),
        &["key", "import", s(&ec), "--role", "targets/ec"],
    );
    assert_eq!(out.trim(), ec_id);
    assert_eq!(
        json_key(&dir2, &ec_id)["encryption"],
        "vouch (scrypt N=2^14 r=8 p=4)"
    );
    let mut c = vouch(&dir2);
    c.env("VOUCH_DELEGATION_PASSPHRASE", "wrong-passphrase-1");
    fails(c, &["key", "public", &ec_id], 4);

    // A file name that claims another key ID is refused (bad input), nothing written.
    let liar = tmp.path().join(format!("{}.key", "a".repeat(64)));
    std::fs::copy(&ed, &liar).unwrap();
    let dir3 = tmp.path().join("trust3");
    let err = fails(
        vouch(&dir3),
        &["key", "import", s(&liar), "--role", "targets/ed"],
        2,
    );
    assert!(err.contains(&ed_id), "{err}");
    assert!(std::fs::read_dir(dir3.join("private"))
        .unwrap()
        .next()
        .is_none());
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/notary-fixtures")
}

#[test]
fn import_of_legacy_notary_fixture_keys_gives_the_ids_of_their_file_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    // Passphrases from testdata/README.md.
    let pass01 = secret_file(tmp.path(), "pass01", "randompass");
    let pass03 = secret_file(tmp.path(), "pass03", "password");
    let f = fixtures();
    let fixtures_before = dir_state(&f);
    let cases: [(&str, &Path, Option<&str>, &str); 7] = [
        (
            "notary0.1/private/root_keys/d0c623c8e70c70d42a8a8125c44a8598588b3f6e31d5c21a83cbc338dfde8a68_root.key",
            &pass01,
            None,
            "root",
        ),
        (
            "notary0.1/private/tuf_keys/docker.com/notary0.1/samplerepo/7fc757801b9bab4ec9e35bfe7a6b61668ff6f4c81b5632af19e6c728ab799599_targets.key",
            &pass01,
            Some("docker.com/notary0.1/samplerepo"),
            "targets",
        ),
        (
            "notary0.1/private/tuf_keys/docker.com/notary0.1/samplerepo/a55ccf652b0be4b6c4d356cbb02d9ea432bb84a2571665be3df7c7396af8e8b8_snapshot.key",
            &pass01,
            Some("docker.com/notary0.1/samplerepo"),
            "snapshot",
        ),
        (
            "notary0.3/private/root_keys/f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690.key",
            &pass03,
            None,
            "root",
        ),
        (
            "notary0.3/private/tuf_keys/docker.com/notary0.3/tst/041b64dab281324ef2b62fd2d04f4758269e120ff063b7bc78709272821a0a02.key",
            &pass03,
            Some("docker.com/notary0.3/tst"),
            "targets",
        ),
        (
            "notary0.3/private/tuf_keys/docker.com/notary0.3/tst/85559599cf3cf681ff193f432a7ca6d128182bd1cfa8ede2c70761deac8bc2dc.key",
            &pass03,
            Some("docker.com/notary0.3/tst"),
            "snapshot",
        ),
        (
            "notary0.3/private/tuf_keys/fa842f66cac2dc898677a8660789dcff0e3b0b93b73f8952491f6493199936d3.key",
            &pass03,
            None,
            "targets/releases",
        ),
    ];
    let mut expected = BTreeSet::new();
    for (rel, pass, gun, role) in cases {
        let file = f.join(rel);
        let stem = file.file_stem().unwrap().to_str().unwrap();
        let id = stem.split('_').next().unwrap();
        let mut args = vec!["--passphrase-file", s(pass), "key", "import", s(&file)];
        if let Some(g) = gun {
            args.extend(["--gun", g]);
        }
        let out = ok(vouch_nopass(&dir), &args);
        assert_eq!(out.trim(), id, "{rel}");
        assert!(key_file(&dir, id).is_file(), "{rel}");
        let k = json_key(&dir, id);
        assert_eq!(k["role"], role, "{rel}");
        assert!(
            k["encryption"].as_str().unwrap().starts_with("legacy "),
            "{rel}: {k}"
        );
        let pem = ok(
            vouch_nopass(&dir),
            &["--passphrase-file", s(pass), "key", "public", id],
        );
        assert_eq!(id_of_public_pem(&pem), id, "{rel}");
        expected.insert(row(role, gun.unwrap_or_default(), id));
    }
    assert_eq!(table_rows(&ok(vouch(&dir), &["key", "list"])), expected);
    // The fixtures were read, not migrated or changed.
    assert_eq!(dir_state(&f), fixtures_before);
}

// =====================================================================================
// passwd
// =====================================================================================

#[test]
fn passwd_with_new_passphrase_file_replaces_the_old_passphrase() {
    let (tmp, dir, id) = store_with_key();
    let new_pass = "replacement-passphrase-7";
    let new = secret_file(tmp.path(), "new", new_pass);
    let before = std::fs::read(key_file(&dir, &id)).unwrap();
    let out = output(
        vouch(&dir),
        &["key", "passwd", &id, "--new-passphrase-file", s(&new)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&id));
    assert_ne!(std::fs::read(key_file(&dir, &id)).unwrap(), before);
    assert_eq!(
        json_key(&dir, &id)["encryption"],
        "vouch (scrypt N=2^14 r=8 p=4)"
    );

    // The old passphrase (still in VOUCH_DELEGATION_PASSPHRASE) no longer opens it.
    let err = fails(vouch(&dir), &["key", "public", &id], 4);
    assert!(
        err.contains("wrong passphrase") && err.contains(&id),
        "{err}"
    );
    // The new one does, from the environment or a file.
    let mut c = vouch(&dir);
    c.env("VOUCH_DELEGATION_PASSPHRASE", new_pass);
    let pem = ok(c, &["key", "public", &id]);
    assert_eq!(id_of_public_pem(&pem), id);
    ok(
        vouch_nopass(&dir),
        &["key", "public", &id, "--passphrase-file", s(&new)],
    );
}

#[test]
fn passwd_format_notary_leaves_a_file_notary_lists_and_decrypts() {
    let (tmp, dir, id) = store_with_key();
    let notary = Notary::new(&dir);
    let new = secret_file(tmp.path(), "new", DELEGATION_PASS);
    ok(
        vouch(&dir),
        &[
            "key",
            "passwd",
            &id,
            "--format",
            "notary",
            "--new-passphrase-file",
            s(&new),
        ],
    );
    let k = json_key(&dir, &id);
    assert_eq!(k["encryption"], "notary (pbkdf2-sha1)");
    assert_eq!(k["notary_readable"], true);
    assert_eq!(k["algorithm"], Value::Null, "{k}");
    assert_eq!(
        table_rows(&notary.run(&["key", "list"])),
        [row("targets/releases", "", &id)].into()
    );
    // notary decrypts it with NOTARY_DELEGATION_PASSPHRASE (`key passwd` re-encrypts it
    // under the same one), and refuses a wrong one.
    let mut wrong = notary.cmd();
    wrong
        .env("NOTARY_DELEGATION_PASSPHRASE", "not-the-passphrase")
        .args(["key", "passwd", &id]);
    assert!(!wrong.output().unwrap().status.success());
    notary.run(&["key", "passwd", &id]);
    // And vouch still reads what notary wrote back.
    let pem = ok(vouch(&dir), &["key", "public", &id]);
    assert_eq!(id_of_public_pem(&pem), id);
}

// =====================================================================================
// command line
// =====================================================================================

#[test]
fn global_options_are_accepted_before_or_after_the_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    let id = generate(&dir, &["--role", "targets/releases"]);
    let d = s(&dir);
    let placements: [&[&str]; 4] = [
        &["--output", "json", "--trust-dir", d, "key", "list"],
        &["key", "list", "--output", "json", "--trust-dir", d],
        &["key", "--trust-dir", d, "list", "--output", "json"],
        &["--trust-dir", d, "key", "list", "--output=json"],
    ];
    let outputs: Vec<String> = placements
        .iter()
        .map(|args| ok(vouch_bare(tmp.path()), args))
        .collect();
    assert_eq!(
        json_rows(&outputs[0]),
        [row("targets/releases", "", &id)].into()
    );
    assert!(outputs.iter().all(|o| *o == outputs[0]), "{outputs:?}");

    // --passphrase-file on either side.
    let pass = secret_file(tmp.path(), "pass", DELEGATION_PASS);
    let mut before_nopass = vouch_bare(tmp.path());
    for v in clean_env() {
        before_nopass.env_remove(v);
    }
    let a = ok(
        before_nopass,
        &[
            "--passphrase-file",
            s(&pass),
            "--trust-dir",
            d,
            "key",
            "public",
            &id,
        ],
    );
    let b = ok(
        vouch_nopass(&dir),
        &["key", "public", &id, "--passphrase-file", s(&pass)],
    );
    assert_eq!(a, b);
    assert_eq!(id_of_public_pem(&a), id);

    // --quiet on either side silences the note on stderr; without it there is one.
    let loud = output(vouch(&dir), &["key", "generate", "--role", "targets/l"]);
    assert!(text(&loud.stderr).contains("Generated"));
    for args in [
        &["-q", "key", "generate", "--role", "targets/q1"][..],
        &["key", "generate", "--role", "targets/q2", "--quiet"][..],
    ] {
        let out = output(vouch(&dir), args);
        assert!(out.status.success());
        assert!(is_key_id(text(&out.stdout).trim()));
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn a_distinctive_passphrase_never_appears_on_stdout_or_stderr() {
    const SECRET: &str = "Xq7-distinctive-passphrase-Jw3";
    const SECRET2: &str = "Vb9-second-distinctive-passphrase-Kp2";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    let with = |pass: &str| {
        let mut c = vouch(&dir);
        c.env("VOUCH_DELEGATION_PASSPHRASE", pass)
            .env("VOUCH_ROOT_PASSPHRASE", pass);
        c
    };
    let mut seen = Vec::new();
    let mut run = |c: Command, args: &[&str], expect: i32| -> String {
        let out = output(c, args);
        assert_eq!(
            out.status.code(),
            Some(expect),
            "{args:?}: {}",
            text(&out.stderr)
        );
        seen.push((args.join(" "), out.stdout.clone(), out.stderr.clone()));
        text(&out.stdout)
    };
    let id = run(
        with(SECRET),
        &["-v", "key", "generate", "--role", "targets/s"],
        0,
    )
    .trim()
    .to_owned();
    let root = run(with(SECRET), &["key", "generate", "--output", "json"], 0);
    let root: Value = serde_json::from_str(&root).unwrap();
    let root = root["id"].as_str().unwrap().to_owned();
    let good_file = secret_file(tmp.path(), "good", SECRET);
    let new_file = secret_file(tmp.path(), "new", SECRET2);
    let open_file = tmp.path().join("open");
    std::fs::write(&open_file, SECRET).unwrap();
    std::fs::set_permissions(&open_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exported = tmp.path().join("exported.pem");
    let plain = tmp.path().join("plain.pem");
    std::fs::write(&plain, openssl(&["genpkey", "-algorithm", "ed25519"], None)).unwrap();

    run(with(SECRET), &["key", "list", "-v"], 0);
    run(with(SECRET), &["key", "list", "--output", "json"], 0);
    run(with(SECRET), &["key", "public", &id, "-v"], 0);
    run(
        with(SECRET),
        &["key", "public", &root, "--gun", "a.example/b"],
        0,
    );
    run(
        with(SECRET),
        &["key", "export", &id, "--format", "notary"],
        0,
    );
    run(
        with(SECRET),
        &[
            "key",
            "export",
            &id,
            "--format",
            "notary",
            "-o",
            s(&exported),
        ],
        0,
    );
    run(
        with(SECRET),
        &["key", "import", s(&plain), "--role", "targets/p", "-v"],
        0,
    );
    // Error paths: wrong passphrase, unreadable passphrase file, import of an encrypted
    // file with the wrong passphrase, passwd with the wrong old one.
    run(with(SECRET2), &["key", "public", &id, "-v"], 4);
    run(
        with(SECRET2),
        &["key", "public", &root, "--gun", "a.example/b"],
        4,
    );
    run(
        with(SECRET2),
        &[
            "key", "export", &id, "--format", "notary", "--output", "json",
        ],
        4,
    );
    run(
        vouch_nopass(&dir),
        &["key", "public", &id, "--passphrase-file", s(&open_file)],
        2,
    );
    run(with(SECRET2), &["key", "import", s(&exported)], 4);
    run(
        with(SECRET2),
        &[
            "key",
            "passwd",
            &id,
            "--new-passphrase-file",
            s(&good_file),
            "-v",
        ],
        4,
    );
    run(
        with(SECRET),
        &[
            "key",
            "passwd",
            &id,
            "--new-passphrase-file",
            s(&new_file),
            "-v",
        ],
        0,
    );
    run(with(SECRET), &["key", "public", &id], 4);
    run(
        vouch_nopass(&dir),
        &["key", "public", &id, "--passphrase-file", s(&new_file)],
        0,
    );

    for (cmd, stdout, stderr) in &seen {
        for secret in [SECRET, SECRET2] {
            assert!(
                !text(stdout).contains(secret),
                "`vouch {cmd}` printed the passphrase on stdout"
            );
            assert!(
                !text(stderr).contains(secret),
                "`vouch {cmd}` printed the passphrase on stderr"
            );
        }
    }
}

#[test]
fn failed_import_of_several_files_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trust");
    let good = tmp.path().join("good.pem");
    std::fs::write(
        &good,
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ],
            None,
        ),
    )
    .unwrap();
    let bad = tmp.path().join("bad.pem");
    let text = std::fs::read(&good).unwrap();
    std::fs::write(&bad, &text[..text.len() / 2]).unwrap();
    ok(vouch(&dir), &["key", "list"]);
    // The write lock file may appear (it holds no state); everything else must not change.
    let without_lock = |d: DirState| DirState {
        entries: d
            .entries
            .into_iter()
            .filter(|(p, _)| !p.ends_with(".vouch.lock"))
            .collect(),
        files: d
            .files
            .into_iter()
            .filter(|(p, _)| !p.ends_with(".vouch.lock"))
            .collect(),
    };
    let before = without_lock(dir_state(&dir));
    fails(
        vouch(&dir),
        &["key", "import", s(&good), s(&bad), "--role", "targets/x"],
        2,
    );
    assert_eq!(
        without_lock(dir_state(&dir)),
        before,
        "the key from good.pem was imported"
    );
    // Importing good.pem alone works (the rollback did not break the store).
    ok(
        vouch(&dir),
        &["key", "import", s(&good), "--role", "targets/x"],
    );
    assert_eq!(std::fs::read_dir(dir.join("private")).unwrap().count(), 1);
}
