//! `vouch verify` against a hostile notary server.
//!
//! The server is a test double on 127.0.0.1 that answers notary-server's GETs (`/v2/`,
//! `<role>.json`, `<role>.<sha256>.json`, `<version>.<role>.json`) from an in-memory map.
//! The map starts as a real repository: vouch creates it as a static repository (its
//! default `file://` remote), so every key is in the publisher's key store and altered
//! metadata can be re-signed with the library.
//!
//! Every scenario first trusts the honest data (`verify --tofu`), then switches the double
//! to altered data and runs `vouch verify` again: it must refuse with the right exit code,
//! name the failed role or check on stderr, and leave the cache (`<trust-dir>/tuf/<gun>/`)
//! byte for byte as it was.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use vouch::crypto::CanonicalKeyId as _;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use support::httpd::{read_request, write_response, HttpServer, Response};
use time::OffsetDateTime;
use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::crypto::x509;
use vouch::crypto::SignatureProvider;
use vouch::keystore::{EnvSource, KeyStore};
use vouch::tuf::keys::ECDSA_X509;
use vouch::tuf::{
    sign_role, DelegationRole, Expires, FileMeta, KeyId, Metadata, PublicKey, Root, Signed,
    Snapshot, Targets, Timestamp,
};

const GUN: &str = "example.com/app";
/// Every vouch run is killed after this long; scenarios must finish well within it.
const RUN_LIMIT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------------------
// Keys and metadata
// ---------------------------------------------------------------------------------------

/// A signing key and the key ID a role lists it under.
#[derive(Clone)]
struct Signer {
    id: KeyId,
    key: Arc<PrivateKey>,
}

impl Signer {
    /// A fresh ECDSA key, listed under its own (public-key) ID.
    fn generate() -> Signer {
        let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
        Signer {
            id: key.key_id(),
            key: Arc::new(key),
        }
    }
    fn public(&self) -> PublicKey {
        self.key.public_key()
    }
    /// The same key in its `ecdsa-x509` form (a certificate for the GUN), and a signer
    /// that lists it under that form's ID.
    fn as_x509(&self) -> (PublicKey, Signer) {
        let cert = x509::root_certificate(
            self.key.ecdsa_signing_key().unwrap(),
            GUN,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let public = PublicKey::new(ECDSA_X509, cert.into_bytes());
        let signer = Signer {
            id: public.key_id(),
            key: self.key.clone(),
        };
        (public, signer)
    }
}

fn sign<T: Serialize>(role: &T, signers: &[&Signer]) -> Vec<u8> {
    let s: Vec<(KeyId, &dyn SignatureProvider)> = signers
        .iter()
        .map(|s| (s.id.clone(), s.key.as_ref() as &dyn SignatureProvider))
        .collect();
    sign_role(role, &s).unwrap()
}

fn parse<T: Metadata + Clone>(bytes: &[u8]) -> T {
    Signed::<T>::from_bytes(bytes).unwrap().untrusted().clone()
}

fn file_meta(bytes: &[u8]) -> FileMeta {
    FileMeta::from_bytes(bytes, &["sha256", "sha512"]).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn version_of(bytes: &[u8]) -> Option<i64> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()?
        .pointer("/signed/version")?
        .as_i64()
}

fn expires_in(days: i64) -> Expires {
    Expires::new(OffsetDateTime::now_utc() + time::Duration::days(days)).unwrap()
}

/// The manifest "content" signed for `tag`; its sha256 is the digest verify prints.
fn manifest(tag: &str) -> Vec<u8> {
    format!("manifest of {GUN}:{tag}").into_bytes()
}

fn digest(tag: &str) -> String {
    sha256_hex(&manifest(tag))
}

fn target(tag: &str) -> FileMeta {
    FileMeta::from_bytes(&manifest(tag), &["sha256"]).unwrap()
}

/// The same file with one bit of its first signature flipped.
fn corrupt_signature(bytes: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let old = v["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(&old).unwrap();
    raw[7] ^= 0x01;
    let new = b64.encode(raw);
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(text.matches(&old).count(), 1);
    text.replacen(&old, &new, 1).into_bytes()
}

/// The repository as a notary server would hold it: every root version, the current
/// targets files (by role), snapshot and timestamp.
#[derive(Clone)]
struct Repo {
    roots: Vec<Vec<u8>>,
    targets: BTreeMap<String, Vec<u8>>,
    snapshot: Vec<u8>,
    timestamp: Vec<u8>,
}

impl Repo {
    fn root(&self) -> Root {
        parse(self.roots.last().unwrap())
    }

    /// The next root version, edited, signed by `signers`. Snapshot and timestamp are
    /// not touched (see [`Repo::resnapshot`]).
    fn push_root(&mut self, signers: &[&Signer], edit: impl FnOnce(&mut Root)) -> &mut Self {
        let mut r = self.root();
        r.version += 1;
        r.expires = expires_in(3650);
        edit(&mut r);
        self.roots.push(sign(&r, signers));
        self
    }

    /// The next version of targets role `role` (a new, empty one if there is none),
    /// edited and signed by `signers`.
    fn put_targets(
        &mut self,
        role: &str,
        signers: &[&Signer],
        edit: impl FnOnce(&mut Targets),
    ) -> &mut Self {
        let mut t = match self.targets.get(role) {
            Some(b) => parse::<Targets>(b),
            None => Targets::new(0, expires_in(1095)),
        };
        t.version += 1;
        t.expires = expires_in(1095);
        edit(&mut t);
        self.targets.insert(role.to_owned(), sign(&t, signers));
        self
    }

    /// A new snapshot version over the current root and every targets file (then
    /// `edit`), signed by the snapshot key, and a new timestamp for it.
    fn resnapshot(&mut self, fx: &Fixture, edit: impl FnOnce(&mut Snapshot)) -> &mut Self {
        let mut s = parse::<Snapshot>(&self.snapshot);
        s.version += 1;
        s.expires = expires_in(1095);
        s.meta = BTreeMap::from([("root".to_owned(), file_meta(self.roots.last().unwrap()))]);
        for (role, bytes) in &self.targets {
            s.meta.insert(role.clone(), file_meta(bytes));
        }
        edit(&mut s);
        self.snapshot = sign(&s, &[&fx.snapshot]);
        self.retimestamp(fx, |_| {})
    }

    /// A new timestamp version for the current snapshot (then `edit`), signed by the
    /// timestamp key.
    fn retimestamp(&mut self, fx: &Fixture, edit: impl FnOnce(&mut Timestamp)) -> &mut Self {
        self.retimestamp_with(&fx.timestamp, edit)
    }

    fn retimestamp_with(&mut self, key: &Signer, edit: impl FnOnce(&mut Timestamp)) -> &mut Self {
        let mut t = parse::<Timestamp>(&self.timestamp);
        t.version += 1;
        t.expires = expires_in(14);
        t.meta
            .insert("snapshot".to_owned(), file_meta(&self.snapshot));
        edit(&mut t);
        self.timestamp = sign(&t, &[key]);
        self
    }

    /// Add `targets/releases` (all paths, the fixture's releases key) holding `tags`, and
    /// publish a snapshot that lists it.
    fn with_releases(&mut self, fx: &Fixture, tags: &[&str]) -> &mut Self {
        self.delegate_releases(fx);
        self.put_targets("targets/releases", &[&fx.releases], |t| {
            for tag in tags {
                t.targets
                    .insert((*tag).to_owned(), target(&format!("{tag}-release")));
            }
        });
        self.resnapshot(fx, |_| {})
    }

    /// List `targets/releases` in targets (no snapshot change).
    fn delegate_releases(&mut self, fx: &Fixture) -> &mut Self {
        let public = fx.releases.public();
        let id = fx.releases.id.to_string();
        self.put_targets("targets", &[&fx.targets], |t| {
            t.delegations.keys.insert(id.clone(), public);
            t.delegations.roles.push(DelegationRole::new(
                "targets/releases",
                vec![id],
                1,
                vec![String::new()],
            ));
        })
    }

    /// What the server answers: by name (current), by checksum and by version.
    fn served(&self) -> Files {
        let mut m = Files::new();
        let mut put = |role: &str, bytes: &[u8], current: bool| {
            let body = Reply::Body(bytes.to_vec());
            m.insert(format!("{role}.{}.json", sha256_hex(bytes)), body.clone());
            if let Some(v) = version_of(bytes) {
                m.insert(format!("{v}.{role}.json"), body.clone());
            }
            if current {
                m.insert(format!("{role}.json"), body);
            }
        };
        let last = self.roots.len() - 1;
        for (i, r) in self.roots.iter().enumerate() {
            put("root", r, i == last);
        }
        for (role, b) in &self.targets {
            put(role, b, true);
        }
        put("snapshot", &self.snapshot, true);
        put("timestamp", &self.timestamp, true);
        m
    }
}

/// The repository vouch published and the keys that signed it.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Signer,
    targets: Signer,
    snapshot: Signer,
    timestamp: Signer,
    /// For `targets/releases` (not in the published repository; added by scenarios).
    releases: Signer,
    repo: Repo,
}

/// Tags in the published repository.
const TAGS: [&str; 2] = ["v1", "v2"];

fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let publisher = dir.path().join("publisher");
        let run = |args: &[String]| {
            let out = support::vouch(&publisher)
                .args(args)
                .env("VOUCH_TIMESTAMP_PASSPHRASE", support::SNAPSHOT_PASS)
                .timeout(RUN_LIMIT)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "vouch {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["init".into(), GUN.into()]);
        let mut sign_args = vec!["sign".to_owned()];
        for tag in TAGS {
            sign_args.push(format!(
                "{GUN}:{tag}=sha256:{}:{}",
                digest(tag),
                manifest(tag).len()
            ));
        }
        run(&sign_args);

        let tuf = publisher.join("repository").join(GUN).join("_trust/tuf");
        let read = |name: &str| std::fs::read(tuf.join(name)).unwrap();
        let repo = Repo {
            roots: vec![read("root.json")],
            targets: BTreeMap::from([("targets".to_owned(), read("targets.json"))]),
            snapshot: read("snapshot.json"),
            timestamp: read("timestamp.json"),
        };
        assert_eq!(version_of(&repo.roots[0]), Some(1));

        let store = KeyStore::open(&publisher).unwrap();
        let pass = EnvSource::new(
            [
                ("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS),
                ("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS),
                ("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS),
                ("VOUCH_TIMESTAMP_PASSPHRASE", support::SNAPSHOT_PASS),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let root = repo.root();
        let signer = |role: &str| {
            let id = &root.roles[role].keyids[0];
            let public = &root.keys[id];
            let (key, _) = store
                .load(&public.canonical_key_id().unwrap(), &pass)
                .unwrap();
            Signer {
                id: KeyId::parse(id).unwrap(),
                key: Arc::new(key),
            }
        };
        Fixture {
            root: signer("root"),
            targets: signer("targets"),
            snapshot: signer("snapshot"),
            timestamp: signer("timestamp"),
            releases: Signer::generate(),
            repo,
            _dir: dir,
        }
    })
}

// ---------------------------------------------------------------------------------------
// The hostile server
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    /// 200 without Content-Length, then data until the client hangs up.
    Endless,
    /// 200 with `Content-Length: 10 GiB`, then data until the client hangs up.
    HugeLength,
}

/// Path under `/v2/<gun>/_trust/tuf/` → reply.
type Files = BTreeMap<String, Reply>;

struct Double {
    http: HttpServer,
    files: Arc<Mutex<Files>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Double {
    fn start(files: Files) -> Double {
        let files = Arc::new(Mutex::new(files));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (f, r) = (files.clone(), requests.clone());
        let http = HttpServer::start_raw(move |mut s: TcpStream| {
            let Some(req) = read_request(&mut s) else {
                return;
            };
            r.lock().unwrap().push(req.target.clone());
            let prefix = format!("/v2/{GUN}/_trust/tuf/");
            let reply = if req.path() == "/v2/" {
                Some(Reply::Body(b"{}".to_vec()))
            } else {
                req.path()
                    .strip_prefix(&prefix)
                    .and_then(|p| f.lock().unwrap().get(p).cloned())
            };
            match reply {
                None => {
                    let body = r#"{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist.","detail":{}}]}"#;
                    let _ = write_response(&mut s, &Response::json(404, body));
                }
                Some(Reply::Body(b)) => {
                    let _ = write_response(&mut s, &Response::new(200, b));
                }
                Some(Reply::Endless) => {
                    stream_forever(&mut s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                }
                Some(Reply::HugeLength) => stream_forever(
                    &mut s,
                    "HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\nConnection: close\r\n\r\n",
                ),
            }
        });
        Double {
            http,
            files,
            requests,
        }
    }

    fn serve(&self, files: Files) {
        *self.files.lock().unwrap() = files;
    }

    fn url(&self) -> &str {
        &self.http.url
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Writes `head`, then JSON-looking bytes until the peer goes away (at most 4 GiB).
fn stream_forever(s: &mut TcpStream, head: &str) {
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = [b'['; 64 << 10];
    for _ in 0..(4u64 << 30) / chunk.len() as u64 {
        if s.write_all(&chunk).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// A verifying client (its own trust dir) talking to a double.
struct Scene {
    double: Double,
    _tmp: tempfile::TempDir,
    base: PathBuf,
    trust: PathBuf,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Scene {
    /// Serve `honest` and trust it: `verify GUN:v1 --tofu` prints the signed digest.
    fn trusting(honest: &Repo) -> Scene {
        Scene::trusting_tag(honest, "v1", &digest("v1"))
    }

    /// Serve `honest` and trust it: `verify GUN:tag --tofu` prints `hex`.
    fn trusting_tag(honest: &Repo, tag: &str, hex: &str) -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let scene = Scene {
            double: Double::start(honest.served()),
            trust: base.join("trust"),
            base,
            _tmp: tmp,
        };
        scene.expect_trusted(tag, hex, &["--tofu"]);
        scene
    }

    fn vouch(&self, args: &[&str]) -> Run {
        let t = Instant::now();
        let out: Output = support::vouch(&self.trust)
            .arg("-s")
            .arg(self.double.url())
            .args(args)
            .timeout(RUN_LIMIT)
            .output()
            .unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: t.elapsed(),
        }
    }

    fn verify(&self, tag: &str, extra: &[&str]) -> Run {
        let image = format!("{GUN}:{tag}");
        let mut args = vec!["verify", image.as_str()];
        args.extend_from_slice(extra);
        self.vouch(&args)
    }

    fn cache_dir(&self) -> PathBuf {
        self.trust.join("tuf").join(GUN)
    }

    fn cache(&self) -> Vec<(PathBuf, Vec<u8>)> {
        support::snapshot_tree(&self.cache_dir())
    }

    fn cached_version(&self, role: &str) -> Option<i64> {
        let b = std::fs::read(
            self.cache_dir()
                .join("metadata")
                .join(format!("{role}.json")),
        );
        version_of(&b.ok()?)
    }

    fn expect_trusted(&self, tag: &str, hex: &str, extra: &[&str]) {
        let r = self.verify(tag, extra);
        assert_eq!(
            (r.code, r.stdout.trim()),
            (Some(0), format!("{GUN}@sha256:{hex}").as_str()),
            "verify {tag} should be trusted; stderr: {}",
            r.stderr
        );
    }

    /// Serve `files`; `verify GUN:tag` must exit `code`, say every one of `needles` on
    /// stderr, and leave the cache untouched.
    fn expect_refused(&self, files: Files, tag: &str, code: i32, needles: &[&str]) -> Run {
        self.double.serve(files);
        let before = self.cache();
        assert!(!before.is_empty(), "nothing cached before the attack");
        let r = self.verify(tag, &[]);
        assert_eq!(
            r.code,
            Some(code),
            "verify {tag}: exit code; stdout: {}; stderr: {}",
            r.stdout,
            r.stderr
        );
        assert!(r.stdout.is_empty(), "printed a reference: {}", r.stdout);
        for n in needles {
            assert!(
                r.stderr.contains(n),
                "stderr does not mention {n:?}: {}",
                r.stderr
            );
        }
        assert!(
            before == self.cache(),
            "the cache changed after a refused verify"
        );
        assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
        r
    }
}

fn honest() -> Repo {
    fixture().repo.clone()
}

// --- signatures and thresholds ----------------------------------------------------------

#[test]
fn timestamp_with_a_corrupted_signature_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.retimestamp(fx, |_| {});
    bad.timestamp = corrupt_signature(&bad.timestamp);
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["timestamp metadata", "0 valid signature(s)"],
    );
}

#[test]
fn targets_with_a_corrupted_signature_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert("v1".into(), target("evil"));
    });
    let t = corrupt_signature(&bad.targets["targets"]);
    bad.targets.insert("targets".into(), t);
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "0 valid signature(s)"],
    );
}

#[test]
fn targets_signed_by_an_unknown_key_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.put_targets("targets", &[&Signer::generate()], |t| {
        t.targets.insert("v1".into(), target("evil"));
    });
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "0 valid signature(s)", "threshold is 1"],
    );
}

#[test]
fn snapshot_signed_by_the_targets_key_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    let mut s = parse::<Snapshot>(&bad.snapshot);
    s.version += 1;
    bad.snapshot = sign(&s, &[&fx.targets]);
    bad.retimestamp(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["snapshot metadata", "0 valid signature(s)"],
    );
}

/// The honest repository with root v2 requiring two distinct targets keys, and targets
/// signed by both; returns it and the second key.
fn two_key_targets() -> (Repo, Signer) {
    let fx = fixture();
    let second = Signer::generate();
    let mut repo = honest();
    let (id1, id2) = (fx.targets.id.to_string(), second.id.to_string());
    repo.push_root(&[&fx.root], |r| {
        r.keys.insert(id2.clone(), second.public());
        let t = r.roles.get_mut("targets").unwrap();
        t.keyids = vec![id1, id2];
        t.threshold = 2;
    });
    repo.put_targets("targets", &[&fx.targets, &second], |_| {});
    repo.resnapshot(fx, |_| {});
    (repo, second)
}

#[test]
fn targets_below_its_threshold_is_refused() {
    let fx = fixture();
    let (honest2, _) = two_key_targets();
    let scene = Scene::trusting(&honest2);
    let mut bad = honest2.clone();
    bad.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert("v1".into(), target("evil"));
    });
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "1 valid signature(s)", "threshold is 2"],
    );
}

#[test]
fn one_key_signing_twice_does_not_reach_a_threshold_of_two() {
    let fx = fixture();
    let (honest2, _) = two_key_targets();
    let scene = Scene::trusting(&honest2);
    let mut bad = honest2.clone();
    bad.put_targets("targets", &[&fx.targets, &fx.targets], |t| {
        t.targets.insert("v1".into(), target("evil"));
    });
    assert_eq!(
        parse_signatures(&bad.targets["targets"]),
        vec![fx.targets.id.to_string(); 2]
    );
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "1 valid signature(s)", "threshold is 2"],
    );
}

fn parse_signatures(bytes: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["keyid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn one_key_listed_under_two_ids_does_not_reach_a_threshold_of_two() {
    let fx = fixture();
    let (honest2, _) = two_key_targets();
    let scene = Scene::trusting(&honest2);
    // Root v3 lists the targets key twice, as `ecdsa` and as `ecdsa-x509` (two key IDs,
    // one public key), with threshold 2; targets is signed by that one key under both IDs.
    let (x509_public, x509_signer) = fx.targets.as_x509();
    assert_ne!(x509_signer.id, fx.targets.id);
    let mut bad = honest2.clone();
    let (id1, id2) = (fx.targets.id.to_string(), x509_signer.id.to_string());
    bad.push_root(&[&fx.root], |r| {
        r.keys.insert(id2.clone(), x509_public);
        let t = r.roles.get_mut("targets").unwrap();
        t.keyids = vec![id1, id2];
        t.threshold = 2;
    });
    bad.put_targets("targets", &[&fx.targets, &x509_signer], |t| {
        t.targets.insert("v1".into(), target("evil"));
    });
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "1 valid signature(s)", "threshold is 2"],
    );
}

#[test]
fn two_distinct_keys_meet_a_threshold_of_two() {
    // The positive control for the threshold scenarios above.
    let (honest2, _) = two_key_targets();
    let scene = Scene::trusting(&honest2);
    assert_eq!(scene.cached_version("root"), Some(2));
    scene.expect_trusted("v2", &digest("v2"), &[]);
}

#[test]
fn wrong_type_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    // A timestamp that calls itself a snapshot.
    let mut bad = honest();
    bad.retimestamp(fx, |t| t.typ = "Snapshot".into());
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["timestamp metadata", "_type \"Snapshot\""],
    );
    // Targets that call themselves root.
    let mut bad = honest();
    bad.put_targets("targets", &[&fx.targets], |t| t.typ = "Root".into());
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "_type \"Root\""],
    );
}

// --- expiry ------------------------------------------------------------------------------

#[test]
fn expired_timestamp_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.retimestamp(fx, |t| t.expires = expires_in(-1));
    scene.expect_refused(bad.served(), "v1", 1, &["timestamp metadata", "expired"]);
}

#[test]
fn expired_snapshot_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.resnapshot(fx, |s| s.expires = expires_in(-1));
    scene.expect_refused(bad.served(), "v1", 1, &["snapshot metadata", "expired"]);
}

#[test]
fn expired_targets_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.put_targets("targets", &[&fx.targets], |t| t.expires = expires_in(-1));
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(bad.served(), "v1", 1, &["targets metadata", "expired"]);
}

#[test]
fn expired_root_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.push_root(&[&fx.root], |r| r.expires = expires_in(-1));
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(bad.served(), "v1", 1, &["root metadata", "expired"]);
}

// --- rollback ----------------------------------------------------------------------------

#[test]
fn timestamp_rollback_is_refused() {
    let fx = fixture();
    let old = honest();
    let mut new = old.clone();
    new.retimestamp(fx, |_| {});
    let scene = Scene::trusting(&new);
    scene.expect_refused(old.served(), "v1", 1, &["timestamp metadata", "rollback"]);
}

#[test]
fn snapshot_rollback_is_refused() {
    let fx = fixture();
    let old = honest();
    let mut new = old.clone();
    new.resnapshot(fx, |_| {});
    let scene = Scene::trusting(&new);
    // A fresh timestamp that points at the old (validly signed) snapshot.
    let mut bad = new.clone();
    bad.snapshot = old.snapshot.clone();
    bad.retimestamp(fx, |_| {});
    scene.expect_refused(bad.served(), "v1", 1, &["snapshot metadata", "rollback"]);
}

#[test]
fn targets_rollback_is_refused() {
    let fx = fixture();
    let old = honest();
    let mut new = old.clone();
    new.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert("v3".into(), target("v3"));
    });
    new.resnapshot(fx, |_| {});
    let scene = Scene::trusting(&new);
    scene.expect_trusted("v3", &digest("v3"), &[]);
    // A fresh snapshot and timestamp that list the old (validly signed) targets.
    let mut bad = new.clone();
    bad.targets
        .insert("targets".into(), old.targets["targets"].clone());
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(bad.served(), "v1", 1, &["targets metadata", "rollback"]);
}

// --- mix and match -----------------------------------------------------------------------

#[test]
fn targets_not_matching_the_snapshot_hash_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    // A valid, newer targets file served under the name (checksum) the current snapshot
    // lists for the old one.
    let base = honest();
    let mut other = base.clone();
    other.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert("v1".into(), target("evil"));
    });
    let listed = sha256_hex(&base.targets["targets"]);
    let mut files = base.served();
    let swapped = Reply::Body(other.targets["targets"].clone());
    files.insert(format!("targets.{listed}.json"), swapped.clone());
    files.insert("targets.json".into(), swapped);
    // With the listed file cached, the swapped one is never fetched: still the honest answer.
    scene.double.serve(files.clone());
    scene.expect_trusted("v1", &digest("v1"), &[]);
    // Without it, the swapped file is downloaded and refused.
    std::fs::remove_file(scene.cache_dir().join("metadata/targets.json")).unwrap();
    // The swapped file fails the hash check, or (when it happens to be longer than the
    // listed length) the length cap first: either way it is refused.
    let r = scene.expect_refused(files, "v1", 1, &["targets metadata"]);
    assert!(
        r.stderr.contains("sha256 checksum mismatch") || r.stderr.contains("longer than"),
        "{}",
        r.stderr
    );
}

#[test]
fn targets_longer_than_the_snapshot_lists_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert("v3".into(), target("v3"));
    });
    bad.resnapshot(fx, |s| s.meta.get_mut("targets").unwrap().length -= 1);
    scene.expect_refused(bad.served(), "v1", 1, &["targets metadata", "more than"]);
}

#[test]
fn snapshot_not_matching_the_timestamp_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    // Another valid snapshot under the checksum name the timestamp lists.
    let base = honest();
    let mut other = base.clone();
    other.resnapshot(fx, |_| {});
    let listed = sha256_hex(&base.snapshot);
    let mut files = base.served();
    files.insert(
        format!("snapshot.{listed}.json"),
        Reply::Body(other.snapshot.clone()),
    );
    // With the listed snapshot cached, the swapped one is never fetched.
    scene.double.serve(files.clone());
    scene.expect_trusted("v1", &digest("v1"), &[]);
    std::fs::remove_file(scene.cache_dir().join("metadata/snapshot.json")).unwrap();
    let r = scene.expect_refused(files, "v1", 1, &["snapshot metadata"]);
    assert!(
        r.stderr.contains("sha256 checksum mismatch") || r.stderr.contains("longer than"),
        "{}",
        r.stderr
    );
    // A valid timestamp listing a snapshot the server does not have.
    let mut bad = base.clone();
    bad.retimestamp(fx, |t| {
        t.meta
            .insert("snapshot".into(), file_meta(b"no such snapshot"));
    });
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["snapshot metadata", "does not have"],
    );
}

// --- endless data ------------------------------------------------------------------------

#[test]
fn endless_timestamp_is_cut_off() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut files = honest().served();
    files.insert("timestamp.json".into(), Reply::Endless);
    scene.expect_refused(files, "v1", 3, &["more than 1048576 bytes", "timestamp"]);
}

#[test]
fn huge_content_length_for_root_is_refused_unread() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut files = honest().served();
    files.insert("root.json".into(), Reply::HugeLength);
    // With a trusted cached root, root.json is not needed (the snapshot names the same
    // root): the honest answer, nothing read from root.json.
    scene.double.serve(files);
    scene.expect_trusted("v1", &digest("v1"), &[]);
    // A client that must read root.json refuses it before reading.
    std::fs::remove_file(scene.cache_dir().join("metadata/root.json")).unwrap();
    let r = scene.verify("v1", &["--tofu"]);
    assert_eq!(r.code, Some(3), "stderr: {}", r.stderr);
    for needle in ["Content-Length 10737418240", "root"] {
        assert!(
            r.stderr.contains(needle),
            "stderr does not mention {needle:?}: {}",
            r.stderr
        );
    }
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
}

#[test]
fn endless_snapshot_is_cut_off_at_its_signed_length() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.resnapshot(fx, |_| {});
    let len = bad.snapshot.len();
    let mut files = bad.served();
    files.insert(
        format!("snapshot.{}.json", sha256_hex(&bad.snapshot)),
        Reply::Endless,
    );
    scene.expect_refused(
        files,
        "v1",
        1,
        &["snapshot metadata", &format!("more than {len} bytes")],
    );
}

// --- root rotation -----------------------------------------------------------------------

#[test]
fn root_rotation_not_signed_by_the_old_root_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let new_root = Signer::generate();
    let (cert_public, new_signer) = new_root.as_x509();
    let rotate = |signers: &[&Signer]| {
        let mut repo = honest();
        let id = new_signer.id.to_string();
        repo.push_root(signers, |r| {
            r.keys.insert(id.clone(), cert_public.clone());
            r.roles.get_mut("root").unwrap().keyids = vec![id];
        });
        repo.resnapshot(fx, |_| {});
        repo
    };
    scene.expect_refused(
        rotate(&[&new_signer]).served(),
        "v1",
        1,
        &["root metadata", "root version 2", "0 valid signature(s)"],
    );
    // The same rotation signed by the old root as well is followed.
    scene
        .double
        .serve(rotate(&[&fx.root, &new_signer]).served());
    scene.expect_trusted("v1", &digest("v1"), &[]);
    assert_eq!(scene.cached_version("root"), Some(2));
}

#[test]
fn fast_forward_attack_recovers_after_a_timestamp_key_rotation() {
    let fx = fixture();
    let base = honest();
    let scene = Scene::trusting(&base);
    // The timestamp key leaks; the attacker signs version 1000 (otherwise valid).
    let mut inflated = base.clone();
    inflated.retimestamp(fx, |t| t.version = 1000);
    scene.double.serve(inflated.served());
    scene.expect_trusted("v1", &digest("v1"), &[]);
    assert_eq!(scene.cached_version("timestamp"), Some(1000));
    // The owner's next timestamp is locked out by the inflated version ...
    let mut next = base.clone();
    next.retimestamp(fx, |_| {});
    scene.expect_refused(next.served(), "v1", 1, &["timestamp metadata", "rollback"]);
    // ... until root rotates the timestamp key: then a timestamp version 1 signed by the
    // new key is accepted and replaces the inflated one.
    let new_ts = Signer::generate();
    let mut rotated = base.clone();
    let (old_id, new_id) = (fx.timestamp.id.to_string(), new_ts.id.to_string());
    rotated.push_root(&[&fx.root], |r| {
        r.keys.remove(&old_id);
        r.keys.insert(new_id.clone(), new_ts.public());
        r.roles.get_mut("timestamp").unwrap().keyids = vec![new_id];
    });
    rotated.resnapshot(fx, |_| {});
    rotated.retimestamp_with(&new_ts, |t| t.version = 1);
    scene.double.serve(rotated.served());
    scene.expect_trusted("v1", &digest("v1"), &[]);
    assert_eq!(scene.cached_version("root"), Some(2));
    assert_eq!(scene.cached_version("timestamp"), Some(1));
}

// --- delegations -------------------------------------------------------------------------

#[test]
fn delegation_not_listed_in_the_snapshot_is_ignored() {
    let fx = fixture();
    // targets delegates targets/releases, but no snapshot lists it and it is not served.
    let mut repo = honest();
    repo.delegate_releases(fx);
    repo.resnapshot(fx, |_| {});
    let scene = Scene::trusting(&repo);
    // Now the server also serves a releases file (by name and checksum) holding `rel`.
    let mut with_file = repo.clone();
    with_file.put_targets("targets/releases", &[&fx.releases], |t| {
        t.targets.insert("rel".into(), target("rel"));
    });
    let mut files = repo.served();
    let releases = with_file.targets["targets/releases"].clone();
    files.insert(
        "targets/releases.json".into(),
        Reply::Body(releases.clone()),
    );
    files.insert(
        format!("targets/releases.{}.json", sha256_hex(&releases)),
        Reply::Body(releases),
    );
    scene.expect_refused(
        files,
        "rel",
        1,
        &["\"rel\"", "not signed by targets or targets/releases"],
    );
    assert!(
        !scene
            .double
            .requests()
            .iter()
            .any(|r| r.contains("releases")),
        "fetched a delegation the snapshot does not list: {:?}",
        scene.double.requests()
    );
    // Listed in a snapshot, the same file is used.
    with_file.resnapshot(fx, |_| {});
    scene.double.serve(with_file.served());
    scene.expect_trusted("rel", &digest("rel"), &[]);
}

// --- names -------------------------------------------------------------------------------

#[test]
fn traversal_in_names_on_the_command_line_is_a_usage_error() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let file = scene.base.join("file");
    std::fs::write(&file, b"x").unwrap();
    let before = scene.double.requests().len();
    let file = file.to_str().unwrap();
    for args in [
        vec!["verify", "../../etc:tag", "--tofu"],
        vec!["verify", "example.com/../../etc:tag", "--tofu"],
        vec!["verify-file", "../../etc", "name", file, "--tofu"],
        vec!["inspect", "example.com/../x", "--tofu"],
        vec!["trust", "pin", "../../etc", "--from-cache"],
    ] {
        let r = scene.vouch(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
    }
    assert_eq!(
        scene.double.requests().len(),
        before,
        "a request reached the server"
    );
    assert_eq!(tree_outside_cache(&scene), vec!["file".to_owned()]);
}

/// Files under the scene's base dir that are not in the repository's cache.
fn tree_outside_cache(scene: &Scene) -> Vec<String> {
    let cache = scene.cache_dir();
    let mut out = Vec::new();
    fn walk(d: &Path, cache: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.starts_with(cache) {
                continue;
            }
            if p.is_dir() {
                walk(&p, cache, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    walk(&scene.base, &cache, &scene.base, &mut out);
    out.sort();
    // Locks (`<trust-dir>/locks/…/@lock`) hold their holder's pid; they are not state.
    out.retain(|p| !p.ends_with("@lock"));
    out
}

#[test]
fn delegation_named_with_dot_dot_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let evil = "targets/../../../../escape";
    let mut bad = honest();
    let public = fx.releases.public();
    let id = fx.releases.id.to_string();
    bad.put_targets("targets", &[&fx.targets], |t| {
        t.delegations.keys.insert(id.clone(), public);
        t.delegations
            .roles
            .push(DelegationRole::new(evil, vec![id], 1, vec![String::new()]));
    });
    let mut file = Targets::new(1, expires_in(30));
    file.targets.insert("v1".into(), target("evil"));
    let file = sign(&file, &[&fx.releases]);
    bad.targets.insert(evil.into(), file);
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["targets metadata", "not a valid direct child"],
    );
    assert!(
        !scene.double.requests().iter().any(|r| r.contains("..")),
        "{:?}",
        scene.double.requests()
    );
    assert!(tree_outside_cache(&scene).is_empty());
}

#[test]
fn target_names_with_dot_dot_are_only_names() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let name = "../../../../escape";
    let content = b"the escaping file";
    let mut repo = honest();
    repo.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert(name.into(), file_meta(content));
    });
    repo.resnapshot(fx, |_| {});
    scene.double.serve(repo.served());
    let file = scene.base.join("download");
    std::fs::write(&file, content).unwrap();
    let r = scene.vouch(&["verify-file", GUN, name, file.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains(&sha256_hex(content)), "{}", r.stdout);
    assert_eq!(tree_outside_cache(&scene), vec!["download".to_owned()]);
    // Every cached file is a metadata file of a role.
    for (p, _) in scene.cache() {
        let rel = p.strip_prefix(scene.cache_dir()).unwrap();
        assert!(
            [
                "metadata/root.json",
                "metadata/targets.json",
                "metadata/snapshot.json",
                "metadata/timestamp.json",
                "@vouch/anchor.json",
                "@vouch/roots/1.json",
            ]
            .contains(&rel.to_str().unwrap()),
            "{}",
            rel.display()
        );
    }
}

// --- malformed JSON ----------------------------------------------------------------------

const TRUNCATED: &[u8] = b"{\"signed\":{\"_type\":\"Targets\",\"version\":";

#[test]
fn malformed_root_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut files = honest().served();
    files.insert("root.json".into(), Reply::Body(TRUNCATED.to_vec()));
    // With a trusted cached root, root.json is not needed: the honest answer.
    scene.double.serve(files);
    scene.expect_trusted("v1", &digest("v1"), &[]);
    // A client that must read root.json refuses the malformed one.
    std::fs::remove_file(scene.cache_dir().join("metadata/root.json")).unwrap();
    let r = scene.verify("v1", &["--tofu"]);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("root metadata"), "{}", r.stderr);
}

#[test]
fn malformed_timestamp_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut files = honest().served();
    files.insert("timestamp.json".into(), Reply::Body(b"[1,2,3]".to_vec()));
    scene.expect_refused(
        files,
        "v1",
        1,
        &["timestamp metadata", "not a signed envelope"],
    );
}

#[test]
fn malformed_snapshot_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.snapshot = TRUNCATED.to_vec();
    bad.retimestamp(fx, |_| {});
    scene.expect_refused(
        bad.served(),
        "v1",
        1,
        &["snapshot metadata", "not a signed envelope"],
    );
}

#[test]
fn malformed_targets_is_refused() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let mut bad = honest();
    bad.targets.insert(
        "targets".into(),
        br#"{"signed":{"_type":"Targets","expires":"never","version":3},"signatures":[]}"#.to_vec(),
    );
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(bad.served(), "v1", 1, &["targets metadata"]);
}

#[test]
fn malformed_delegation_is_refused_without_falling_back_to_targets() {
    let fx = fixture();
    // `v1` is signed in targets and, with another digest, in targets/releases: the
    // releases one wins (Docker's rule).
    let mut repo = honest();
    repo.with_releases(fx, &["v1", "rel"]);
    let scene = Scene::trusting_tag(&repo, "v1", &digest("v1-release"));
    scene.expect_trusted("rel", &digest("rel-release"), &[]);
    // A snapshot listing a malformed releases file: as notary does, the update fails; the
    // targets digest of `v1` must not be used instead.
    let mut bad = repo.clone();
    bad.targets
        .insert("targets/releases".into(), TRUNCATED.to_vec());
    bad.resnapshot(fx, |_| {});
    scene.expect_refused(bad.served(), "v1", 1, &["targets/releases metadata"]);
    scene.expect_refused(bad.served(), "rel", 1, &["targets/releases metadata"]);
}

// --- anchoring: pins, the cache, trust on first use ---------------------------------------

/// A repository of the attacker's: every role signed by `attacker`, root listing
/// `root_key` (an `ecdsa-x509` key whose PEM the scenario chose) under its TUF ID, and
/// `v1` signed as `evil`.
fn attacker_repo(root_key: PublicKey, attacker: &Signer, version: i64, evil: &[u8]) -> Repo {
    let root_signer = Signer {
        id: root_key.key_id(),
        key: attacker.key.clone(),
    };
    let mut root = honest().root();
    root.version = version;
    root.expires = expires_in(3650);
    root.keys.clear();
    root.keys
        .insert(root_signer.id.to_string(), root_key.clone());
    root.keys.insert(attacker.id.to_string(), attacker.public());
    for (role, keys) in root.roles.iter_mut() {
        let id = if role == "root" {
            &root_signer.id
        } else {
            &attacker.id
        };
        *keys = vouch::tuf::RoleKeys::new(vec![id.to_string()], 1);
    }
    let root_bytes = sign(&root, &[&root_signer]);
    let mut targets = Targets::new(1, expires_in(1095));
    targets.targets.insert(
        "v1".to_owned(),
        FileMeta::from_bytes(evil, &["sha256"]).unwrap(),
    );
    let targets_bytes = sign(&targets, &[attacker]);
    let mut snapshot = parse::<Snapshot>(&honest().snapshot);
    snapshot.version = 1;
    snapshot.expires = expires_in(1095);
    snapshot.meta = BTreeMap::from([
        ("root".to_owned(), file_meta(&root_bytes)),
        ("targets".to_owned(), file_meta(&targets_bytes)),
    ]);
    let snapshot_bytes = sign(&snapshot, &[attacker]);
    let mut timestamp = parse::<Timestamp>(&honest().timestamp);
    timestamp.version = 1;
    timestamp.expires = expires_in(14);
    timestamp.meta = BTreeMap::from([("snapshot".to_owned(), file_meta(&snapshot_bytes))]);
    let timestamp_bytes = sign(&timestamp, &[attacker]);
    Repo {
        roots: vec![root_bytes],
        targets: BTreeMap::from([("targets".to_owned(), targets_bytes)]),
        snapshot: snapshot_bytes,
        timestamp: timestamp_bytes,
    }
}

/// A certificate that claims `subject_key` and a CA's basic constraints, signed by a key
/// of the attacker's (nobody checks that signature in the attack).
fn forged_ca_certificate(subject_key: &PublicKey) -> Vec<u8> {
    use der::{Decode, Encode};
    use x509_cert::ext::Extension;
    let forger = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let name: x509_cert::name::Name = "CN=Forged CA".parse().unwrap();
    let now = std::time::SystemTime::now();
    let alg = spki::AlgorithmIdentifierOwned {
        oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
        parameters: None,
    };
    let tbs = x509_cert::TbsCertificate {
        version: x509_cert::Version::V3,
        serial_number: x509_cert::serial_number::SerialNumber::new(&[7]).unwrap(),
        signature: alg.clone(),
        issuer: name.clone(),
        validity: x509_cert::time::Validity {
            not_before: x509_cert::time::Time::try_from(now - Duration::from_secs(3600)).unwrap(),
            not_after: x509_cert::time::Time::try_from(now + Duration::from_secs(86400 * 365))
                .unwrap(),
        },
        subject: name,
        subject_public_key_info: spki::SubjectPublicKeyInfoOwned::from_der(&subject_key.public)
            .unwrap(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![Extension {
            extn_id: der::oid::ObjectIdentifier::new_unwrap("2.5.29.19"),
            critical: true,
            // BasicConstraints { cA TRUE }
            extn_value: der::asn1::OctetString::new(vec![0x30, 0x03, 0x01, 0x01, 0xff]).unwrap(),
        }]),
    };
    let sig: p256::ecdsa::DerSignature =
        p256::ecdsa::signature::Signer::sign(&forger, &tbs.to_der().unwrap());
    x509_cert::Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: der::asn1::BitString::from_bytes(sig.as_bytes()).unwrap(),
    }
    .to_der()
    .unwrap()
}

impl Scene {
    /// A client with an empty trust dir talking to a double serving `files`.
    fn fresh(files: Files) -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        Scene {
            double: Double::start(files),
            trust: base.join("trust"),
            base,
            _tmp: tmp,
        }
    }

    /// `vouch trust pin GUN --trust-lock FILE` against what the double serves now.
    fn pin(&self) -> PathBuf {
        let lock = self.base.join("vouch-trust.json");
        let r = self.vouch(&["trust", "pin", GUN, "--trust-lock", lock.to_str().unwrap()]);
        assert_eq!(r.code, Some(0), "trust pin: {}", r.stderr);
        lock
    }
}

#[test]
fn a_root_key_of_two_pem_blocks_does_not_borrow_the_pinned_key() {
    let fx = fixture();
    let scene = Scene::fresh(honest().served());
    let lock = scene.pin();
    let lock = lock.to_str().unwrap();
    // The attacker's own leaf for the GUN, with a header line in its PEM block, then a
    // forged CA certificate carrying the victim's pinned root public key.
    let attacker = Signer::generate();
    let (attacker_cert, _) = attacker.as_x509();
    let leaf_pem = String::from_utf8(attacker_cert.public.clone())
        .unwrap()
        .replacen(
            "-----BEGIN CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nComment: leaf\n\n",
            1,
        );
    let bundle = format!(
        "{leaf_pem}{}",
        x509::to_pem("CERTIFICATE", &forged_ca_certificate(&fx.root.public()))
    );
    let evil = b"the attacker's manifest";
    let repo = attacker_repo(
        PublicKey::new(ECDSA_X509, bundle.into_bytes()),
        &attacker,
        1,
        evil,
    );
    // A fresh client, online, pinned: refused, nothing printed, nothing cached.
    scene.double.serve(repo.served());
    let fresh = Scene::fresh(repo.served());
    let r = fresh.verify("v1", &["--trust-lock", lock]);
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}; stderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.is_empty(), "printed a reference: {}", r.stdout);
    assert!(
        r.stderr.contains("exactly one PEM block"),
        "stderr does not say why the root key is refused: {}",
        r.stderr
    );
    assert!(
        fresh.cache().is_empty(),
        "a refused verify cached something"
    );
}

/// A repository of the attacker's whose root lists `listed` root keys (with threshold 1)
/// besides the attacker's own root certificate, and is signed by the attacker alone.
fn root_listing_pinned_key_too(fx: &Fixture, attacker: &Signer, evil: &[u8]) -> Repo {
    let (attacker_cert, attacker_root) = attacker.as_x509();
    let mut repo = attacker_repo(attacker_cert, attacker, 1, evil);
    let mut root = parse::<Root>(&repo.roots[0]);
    let honest_root = honest().root();
    let pinned_id = honest_root.roles["root"].keyids[0].clone();
    root.keys
        .insert(pinned_id.clone(), honest_root.keys[&pinned_id].clone());
    root.roles.get_mut("root").unwrap().keyids.push(pinned_id);
    repo.roots = vec![sign(&root, &[&attacker_root])];
    let _ = fx;
    // Snapshot and timestamp over the new root.
    let mut snapshot = parse::<Snapshot>(&repo.snapshot);
    snapshot
        .meta
        .insert("root".to_owned(), file_meta(&repo.roots[0]));
    repo.snapshot = sign(&snapshot, &[attacker]);
    let mut timestamp = parse::<Timestamp>(&repo.timestamp);
    timestamp
        .meta
        .insert("snapshot".to_owned(), file_meta(&repo.snapshot));
    repo.timestamp = sign(&timestamp, &[attacker]);
    repo
}

/// Replace the scene's whole cache of the repository (a restored CI cache, say) with
/// `repo`'s files.
fn plant_cache(scene: &Scene, repo: &Repo) {
    let dir = scene.cache_dir();
    std::fs::remove_dir_all(&dir).unwrap();
    let meta = dir.join("metadata");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("root.json"), repo.roots.last().unwrap()).unwrap();
    for (role, bytes) in &repo.targets {
        std::fs::write(meta.join(format!("{role}.json")), bytes).unwrap();
    }
    std::fs::write(meta.join("snapshot.json"), &repo.snapshot).unwrap();
    std::fs::write(meta.join("timestamp.json"), &repo.timestamp).unwrap();
}

#[test]
fn offline_a_cached_root_that_lists_the_pinned_key_but_is_not_signed_by_it_is_refused() {
    let fx = fixture();
    let scene = Scene::fresh(honest().served());
    let lock = scene.pin();
    let lock = lock.to_str().unwrap();
    scene.expect_trusted("v1", &digest("v1"), &["--trust-lock", lock]);
    // The cache is swapped for one whose root lists the pinned key next to the
    // attacker's, threshold 1, signed by the attacker only.
    let evil = b"the attacker's manifest";
    plant_cache(
        &scene,
        &root_listing_pinned_key_too(fx, &Signer::generate(), evil),
    );
    let before = support::snapshot_tree(&scene.trust.join("tuf"));
    let r = scene.verify("v1", &["--offline", "--trust-lock", lock]);
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}; stderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.is_empty(), "printed a reference: {}", r.stdout);
    assert!(r.stderr.contains("pinned"), "{}", r.stderr);
    assert!(
        before == support::snapshot_tree(&scene.trust.join("tuf")),
        "a refused verify changed tuf/"
    );
    // Online, the planted root is no anchor either: trust starts from the pin again, and
    // the answer is the repository's own.
    scene.expect_trusted("v1", &digest("v1"), &["--trust-lock", lock]);
}

#[test]
fn a_list_without_consent_trusts_nothing_and_leaves_no_cache_for_a_later_verify() {
    let evil = b"the attacker's manifest";
    let attacker = Signer::generate();
    let (cert, _) = attacker.as_x509();
    let scene = Scene::fresh(attacker_repo(cert, &attacker, 1, evil).served());
    // `list` (as `sign` and the rest) no longer trusts a first root silently...
    let r = scene.vouch(&["list", GUN]);
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}; stderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("no trusted root"), "{}", r.stderr);
    assert!(r.stderr.contains("--tofu"), "{}", r.stderr);
    assert!(
        !scene.trust.join("tuf").exists(),
        "a refused list wrote tuf/"
    );
    // ... so a later verify has no cache to take as its anchor.
    let r = scene.verify("v1", &[]);
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}; stderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.is_empty(), "printed a reference: {}", r.stdout);
    // With consent it is loud, and recorded as trust on first use.
    let r = scene.vouch(&["list", GUN, "--tofu"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("TRUST ON FIRST USE"), "{}", r.stderr);
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(scene.cache_dir().join("@vouch/anchor.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["anchored_by"], "tofu");
    // Pinning that cache says what it is.
    let r = scene.vouch(&[
        "trust",
        "pin",
        GUN,
        "--from-cache",
        "--trust-lock",
        scene.base.join("l.json").to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("trusted on first use"), "{}", r.stderr);
}

/// Every command that reads a repository's trust data, as arguments after the global
/// options.
fn trust_reading_commands(file: &str) -> Vec<Vec<String>> {
    let pair = format!("{GUN}:v9=sha256:{}:10", "a".repeat(64));
    [
        vec!["list", GUN],
        vec!["inspect", GUN],
        vec!["verify", "example.com/app:v1"],
        vec!["verify-file", GUN, "v1", file],
        vec!["expiry", GUN, "--refresh"],
        vec!["sign", pair.as_str()],
        vec!["sign-file", GUN, "notes", file],
        vec!["unsign", "example.com/app:v1"],
        vec!["delegation", "list", GUN],
        vec!["renew", GUN],
    ]
    .into_iter()
    .map(|a| a.into_iter().map(str::to_owned).collect())
    .collect()
}

#[test]
fn every_trust_reading_command_applies_the_same_bootstrap_policy() {
    let fx = fixture();
    let attacker = Signer::generate();
    let (cert, _) = attacker.as_x509();
    let scene = Scene::fresh(attacker_repo(cert, &attacker, 1, b"evil").served());
    let file = scene.base.join("file");
    std::fs::write(&file, b"evil").unwrap();
    let file = file.to_str().unwrap();
    // notary's trust_pinning pins the victim's root key and forbids trust on first use;
    // a trust lock does the same; with neither, nothing anchors a first root.
    let config = scene.base.join("config.json");
    let pinned = fx.root.public().key_id().to_string();
    std::fs::write(
        &config,
        serde_json::json!({"trust_pinning": {"certs": {GUN: [pinned.clone()]}, "disable_tofu": true}})
            .to_string(),
    )
    .unwrap();
    let lock = scene.base.join("lock.json");
    std::fs::write(
        &lock,
        serde_json::json!({"vouch_trust_lock": 1, "repositories": {GUN: {"root_keys": [pinned], "root_version": 1}}})
            .to_string(),
    )
    .unwrap();
    let (c, l) = (config.to_str().unwrap(), lock.to_str().unwrap());
    let modes: [(&str, Vec<&str>, &str); 3] = [
        ("no anchor", vec![], "no trusted root"),
        ("trust_pinning", vec!["--config", c], "pinned"),
        ("trust lock", vec!["--trust-lock", l], "pinned"),
    ];
    for (mode, global, needle) in &modes {
        for cmd in trust_reading_commands(file) {
            let args: Vec<&str> = global
                .iter()
                .copied()
                .chain(cmd.iter().map(String::as_str))
                .collect();
            let r = scene.vouch(&args);
            assert_eq!(r.code, Some(1), "{mode}: {args:?}: {}", r.stderr);
            assert!(r.stderr.contains(needle), "{mode}: {args:?}: {}", r.stderr);
            assert!(
                r.stdout.is_empty() || !r.stdout.contains(&sha256_hex(b"evil")),
                "{mode}: {args:?}: {}",
                r.stdout
            );
            assert!(
                !scene.cache_dir().join("metadata").exists(),
                "{mode}: {args:?} cached trust data"
            );
        }
    }
    // disable_tofu wins over --tofu, for every command alike.
    for cmd in trust_reading_commands(file) {
        let args: Vec<&str> = ["--config", c, "--tofu"]
            .into_iter()
            .chain(cmd.iter().map(String::as_str))
            .collect();
        let r = scene.vouch(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("disable_tofu"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn a_root_signed_by_a_retired_pinned_key_is_refused_after_a_rotation() {
    let fx = fixture();
    let scene = Scene::fresh(honest().served());
    let lock = scene.pin();
    let lock = lock.to_str().unwrap();
    scene.expect_trusted("v1", &digest("v1"), &["--trust-lock", lock]);
    // A legitimate rotation K1 -> K2: root v2 lists K2 only, signed by both.
    let k2 = Signer::generate();
    let (k2_cert, k2_root) = k2.as_x509();
    let mut rotated = honest();
    let k2_id = k2_root.id.to_string();
    rotated.push_root(&[&fx.root, &k2_root], |r| {
        r.keys.insert(k2_id.clone(), k2_cert.clone());
        r.roles.get_mut("root").unwrap().keyids = vec![k2_id.clone()];
    });
    rotated.resnapshot(fx, |_| {});
    scene.double.serve(rotated.served());
    let r = scene.verify("v1", &["--trust-lock", lock]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("update the pin"),
        "no warning that the pin is behind: {}",
        r.stderr
    );
    // The retired K1 (stolen, say) signs a root v3 that lists K1 again.
    let mut attack = rotated.clone();
    let k1_id = fx.root.id.to_string();
    let k1_key = honest().root().keys[&k1_id].clone();
    attack.push_root(&[&fx.root], |r| {
        r.keys.insert(k1_id.clone(), k1_key.clone());
        r.roles.get_mut("root").unwrap().keyids = vec![k1_id.clone()];
    });
    attack.put_targets("targets", &[&fx.targets], |t| {
        t.targets.insert("v1".to_owned(), target("attacker-v1"));
    });
    attack.resnapshot(fx, |_| {});
    let before = support::snapshot_tree(&scene.trust.join("tuf"));
    scene.double.serve(attack.served());
    let r = scene.verify("v1", &["--trust-lock", lock]);
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}; stderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.is_empty(), "printed a reference: {}", r.stdout);
    assert!(r.stderr.contains("pinned"), "{}", r.stderr);
    assert!(
        before == support::snapshot_tree(&scene.trust.join("tuf")),
        "a refused verify changed tuf/"
    );
    // Without the lock, the cached chain refuses it too.
    let r = scene.verify("v1", &[]);
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}; stderr: {}",
        r.stdout,
        r.stderr
    );
}

// --- the exact words of each refusal -------------------------------------------------------

/// Every refusal's whole stderr and exit code, so that a wrong or missing hint is caught:
/// a refusal of the verdict (1) is never worded as tampering unless it is one.
#[test]
fn each_refusal_says_exactly_what_failed_and_what_to_do() {
    let fx = fixture();
    let g = GUN;
    let check = |r: Run, code: i32, want: &str| {
        assert_eq!(r.code, Some(code), "stderr: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert_eq!(r.stderr, want);
    };

    // Nothing anchors a first root.
    let fresh = Scene::fresh(honest().served());
    check(
        fresh.verify("v1", &[]),
        1,
        &format!(
            "vouch: error: no trusted root for {g}: nothing cached, nothing pinned, and trust on first use was not allowed\n\
             vouch: hint: pin the repository's root keys (`vouch trust pin {g} --root-key-id ID`, then `--trust-lock FILE`), or accept trust on first use explicitly with --tofu\n"
        ),
    );
    // disable_tofu forbids --tofu: a usage error.
    let config = fresh.base.join("config.json");
    std::fs::write(&config, r#"{"trust_pinning":{"disable_tofu":true}}"#).unwrap();
    check(
        fresh.verify("v1", &["--tofu", "--config", config.to_str().unwrap()]),
        2,
        "vouch: error: --tofu is not allowed: trust_pinning.disable_tofu is set in the config file\n",
    );

    let scene = Scene::trusting(&fx.repo);
    // A tag nobody signed.
    check(
        scene.verify("v9", &[]),
        1,
        &format!(
            "vouch: error: tag \"v9\" of {g} is not signed by targets or targets/releases\n\
             vouch: hint: `vouch list {g}` shows the signed targets\n"
        ),
    );
    // Signed, but not as the digest asked for: not tampering.
    let other = format!("sha256:{}", "0".repeat(64));
    check(
        scene.verify("v1", &["--digest", &other]),
        1,
        &format!(
            "vouch: error: v1 in {g} is signed as sha256:{}, but --digest is {other}\n\
             vouch: hint: what you have is not what was signed as v1: check the tag or file you meant, and `vouch list {g}` for what is signed\n",
            digest("v1")
        ),
    );
    // Expired: the publisher must re-sign; not tampering.
    let mut expired = honest();
    expired.put_targets("targets", &[&fx.targets], |t| t.expires = expires_in(-1));
    expired.resnapshot(fx, |_| {});
    let when = parse::<Targets>(&expired.targets["targets"])
        .expires
        .to_string();
    scene.double.serve(expired.served());
    check(
        scene.verify("v1", &[]),
        1,
        &format!(
            "vouch: error: the targets metadata of {g} expired at {when}\n\
             vouch: hint: the publisher must re-sign it where its key is: `vouch renew {g} targets` (root: `vouch root plan`/`sign`/`apply` for an offline root key). Do not deploy until it is re-signed\n"
        ),
    );
    // Tampered: a bad signature is worded as such.
    let mut tampered = honest();
    tampered.timestamp = corrupt_signature(&tampered.timestamp);
    scene.double.serve(tampered.served());
    let r = scene.verify("v1", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!("vouch: error: timestamp metadata for {g} failed verification: "))
            && r.stderr.ends_with(
                "vouch: hint: the data may have been tampered with or signed by the wrong key; do not deploy it. Compare with `vouch inspect`\n"
            ),
        "{}",
        r.stderr
    );
}

#[test]
fn offline_a_corrupt_cache_file_is_named_by_its_path() {
    let fx = fixture();
    let scene = Scene::trusting(&fx.repo);
    let path = scene.cache_dir().join("metadata/targets.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).unwrap();
    let r = scene.verify("v1", &["--offline"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr
            .contains(&format!("cached file {}", path.display())),
        "the corrupt cache file is not named: {}",
        r.stderr
    );
}
