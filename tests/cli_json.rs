//! `--output json` on every command, in one versioned schema: each answer is one object
//! with `"vouch_json": 1` (a list answer is its `items`), digests are `sha256:HEX`, key IDs
//! are bare IDs, and `published` says whether anything was published. Every command of a
//! repository's life is run against the real notary-server and its answer parsed.

mod support;

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{ok, NotaryServer};

fn digest(seed: &str) -> String {
    hex::encode(Sha256::digest(format!("manifest {seed}").as_bytes()))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The schema's rules, checked everywhere in a document: `digest` fields are
/// `sha256:HEX`; `id`, `*_key` and `*_id(s)` fields are bare key IDs; `published` is a
/// boolean.
fn check_values(v: &Value, path: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{path}.{k}");
                match (k.as_str(), x) {
                    ("digest", Value::String(d)) => assert!(
                        d.strip_prefix("sha256:").is_some_and(|h| is_hex(h, 64)),
                        "{here}: {d:?} is not sha256:HEX"
                    ),
                    ("published", x) => assert!(x.is_boolean(), "{here}: {x}"),
                    (k, Value::String(id))
                        if k == "id"
                            || k.ends_with("_key")
                            || k.ends_with("_key_id")
                            || k == "new_key" =>
                    {
                        assert!(is_hex(id, 64), "{here}: {id:?} is not a key ID")
                    }
                    (k, Value::Array(ids)) if k.ends_with("key_ids") => {
                        for id in ids {
                            assert!(is_hex(id.as_str().unwrap_or(""), 64), "{here}: {id}");
                        }
                    }
                    _ => {}
                }
                check_values(x, &here);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_values(x, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

/// Parse one command's stdout as a vouch JSON answer and check the schema.
fn answer(what: &str, stdout: &str) -> Value {
    let v: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not one JSON document ({e}): {stdout:?}"));
    assert!(v.is_object(), "{what}: not an object: {v}");
    assert_eq!(v["vouch_json"], 1, "{what}: {v}");
    check_values(&v, what);
    v
}

struct Env {
    _tmp: tempfile::TempDir,
    trust: std::path::PathBuf,
    server: NotaryServer,
    dir: std::path::PathBuf,
}

impl Env {
    fn vouch(&self) -> assert_cmd::Command {
        let mut c = support::vouch(&self.trust);
        c.args(["--server", &self.server.url, "--output", "json"]);
        c
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = ok(self.vouch(), args);
        answer(&args.join(" "), &out.stdout)
    }
}

#[test]
fn every_command_answers_in_the_versioned_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let env = Env {
        trust: tmp.path().join("vouch"),
        dir: tmp.path().to_path_buf(),
        server: NotaryServer::start(),
        _tmp: tmp,
    };
    let gun = "example.com/json/app";
    let (d1, d2, d3) = (digest("1"), digest("2"), digest("3"));

    let k = env.json(&["key", "generate", "--role", "root"]);
    let root_key = k["id"].as_str().unwrap().to_owned();
    let keys = env.json(&["key", "list"]);
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);

    let init = env.json(&["init", gun]);
    assert_eq!(init["gun"], gun);
    assert_eq!(init["root_key"], root_key.as_str());

    let signed = env.json(&[
        "sign",
        &format!("{gun}:v1=sha256:{d1}:10"),
        &format!("{gun}:v2=sha256:{d2}:20"),
    ]);
    let items = signed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["digest"], format!("sha256:{d1}"));
    assert_eq!(items[0]["published"], true);

    // Staged only: published is false, and no versions.
    let staged = env.json(&["sign", "--stage", &format!("{gun}:v3=sha256:{d3}:30")]);
    assert_eq!(staged["items"][0]["published"], false);
    assert!(staged["items"][0]["versions"].is_null());
    let status = env.json(&["status", gun]);
    assert_eq!(status["items"][0]["path"], "v3");
    let reset = env.json(&["reset", gun, "--all"]);
    assert_eq!(reset["dropped"], serde_json::json!([0]));
    assert_eq!(reset["remaining"], 0);

    let check = env.json(&["sign", "--check", &format!("{gun}:v1")]);
    assert_eq!(check["items"][0]["ready"], true);

    let file = env.dir.join("notes.txt");
    std::fs::write(&file, "release notes\n").unwrap();
    let sf = env.json(&["sign-file", gun, "notes", s(&file)]);
    assert_eq!(
        sf["targets"][0]["digest"],
        format!("sha256:{}", hex::encode(Sha256::digest(b"release notes\n")))
    );
    assert_eq!(sf["published"], true);

    let list = env.json(&["list", gun]);
    assert_eq!(list["gun"], gun);
    assert_eq!(list["source"], "remote");
    assert_eq!(list["items"].as_array().unwrap().len(), 3);

    let v = env.json(&["verify", &format!("{gun}:v1")]);
    assert_eq!(v["trusted"], true);
    assert_eq!(v["digest"], format!("sha256:{d1}"));
    let v = env.json(&["verify", &format!("{gun}@sha256:{d2}")]);
    assert_eq!(v["tags"], serde_json::json!(["v2"]));
    let vf = env.json(&["verify-file", gun, "notes", s(&file)]);
    assert_eq!(vf["digest"], sf["targets"][0]["digest"]);
    let insp = env.json(&["inspect", gun]);
    assert_eq!(insp["gun"], gun);

    let lock = env.dir.join("lock.json");
    let pin = env.json(&[
        "trust",
        "pin",
        gun,
        "--from-cache",
        "--trust-lock",
        s(&lock),
    ]);
    assert_eq!(pin["updated"], false);
    let exp = env.json(&["expiry", gun]);
    let ts = exp["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "timestamp")
        .unwrap()
        .clone();
    assert_eq!(ts["signer"]["server"], true);

    let dk = env.json(&["key", "generate", "--role", "targets/releases"]);
    let dk = dk["id"].as_str().unwrap().to_owned();
    let add = env.json(&[
        "delegation",
        "add",
        gun,
        "targets/releases",
        "--key",
        &dk,
        "--all-paths",
    ]);
    assert_eq!(add["added_key_ids"], serde_json::json!([dk]));
    assert_eq!(add["published"], true);
    let dl = env.json(&["delegation", "list", gun]);
    assert_eq!(dl["items"][0]["role"], "targets/releases");
    let rm = env.json(&["delegation", "remove", gun, "targets/releases"]);
    assert_eq!(rm["removed_role"], true);
    let sa = env.json(&["signer", "add", "alice", gun, "--key", &dk]);
    assert_eq!(sa["key_ids"], serde_json::json!([dk]));
    let sr = env.json(&["signer", "remove", "alice", gun]);
    assert_eq!(sr["removed_role"], "targets/alice");
    let w = env.json(&["witness", gun, "targets"]);
    assert_eq!(w["published"], true);
    let r = env.json(&["renew", gun, "targets"]);
    assert!(r["versions"]["targets"].is_number(), "{r}");
    let u = env.json(&["unsign", &format!("{gun}:v2")]);
    assert_eq!(u["items"][0]["removed"], serde_json::json!(["v2"]));
    assert_eq!(u["items"][0]["published"], true);

    let public = env.json(&["key", "public", &dk]);
    assert_eq!(public["id"], dk.as_str());
    let exported = env.dir.join("exported.key");
    let e = env.json(&["key", "export", &dk, "-o", s(&exported)]);
    assert_eq!(e["file"], s(&exported));
    let newpass = env.dir.join("newpass");
    std::fs::write(&newpass, "another-passphrase-1\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&newpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let p = env.json(&["key", "passwd", &dk, "--new-passphrase-file", s(&newpass)]);
    assert_eq!(p["changed"], true);

    let req = env.dir.join("root-request.json");
    let plan = env.json(&["root", "plan", gun, "-o", s(&req)]);
    assert_eq!(plan["new_version"], 2);
    let signed = env.json(&["root", "sign", s(&req), "--yes"]);
    assert_eq!(signed["signed_by"].as_array().unwrap().len(), 1);
    let applied = env.json(&["root", "apply", s(&req)]);
    assert_eq!(applied["root_version"], 2);
    assert_eq!(applied["published"], true);

    let session = env.json(&["key", "session"]);
    assert_eq!(session["open"], false);
    let cfg = env.json(&["config", "show", gun]);
    assert_eq!(cfg["gun"], gun);
    let doctor = env.json(&["doctor", gun]);
    assert!(doctor["items"].is_array());

    let manifest = env.dir.join("pod.yaml");
    std::fs::write(
        &manifest,
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: {gun}:v1\n"),
    )
    .unwrap();
    let pm = env.json(&["pin-manifests", s(&manifest)]);
    assert_eq!(pm["trusted"], true);

    let del = env.json(&["delete", gun, "--remote"]);
    assert_eq!(del["local_deleted"], true);
    assert_eq!(del["remote_deleted"], true);
    let removed = env.json(&["key", "remove", &dk, "--yes"]);
    assert_eq!(removed["id"], dk.as_str());
}
