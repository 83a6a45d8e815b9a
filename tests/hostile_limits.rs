//! Hostile input must never crash vouch or exhaust the machine: token servers with absurd
//! lifetimes, root.json files that never end or carry thousands of signatures, roots
//! larger than the configured cap. Every run here is bounded in time and in peak memory
//! (the child's own `ru_maxrss`, from `wait4`).

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use vouch::crypto::CanonicalKeyId as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use support::httpd::{read_request, write_response, HttpServer, Response};
use vouch::remote::{open_remote, CredentialLookup, Gun, RemoteOptions};
use zeroize::Zeroizing;

const GUN: &str = "example.com/limits";
/// Every vouch run is killed after this long (far above what any scenario may take).
const KILL_AFTER: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------
// Running vouch with a stopwatch and a memory gauge
// ---------------------------------------------------------------------------------------

/// A finished run: exit code, output, wall time and peak resident set size.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
    max_rss_bytes: u64,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} in {:?}, peak RSS {} MiB\nstdout: {}\nstderr: {}",
            self.code,
            self.took,
            self.max_rss_bytes >> 20,
            self.stdout,
            self.stderr
        )
    }
}

/// `vouch` with a trust dir and the test passphrases, as `support::vouch`, but a plain
/// `std::process::Command` so that the child can be reaped with `wait4`.
fn vouch(trust: &Path) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("vouch"));
    c.arg("--trust-dir")
        .arg(trust)
        .env_remove("VOUCH_TRUST_DIR")
        .env_remove("VOUCH_MAX_ROOT_SIZE")
        .env("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS)
        .env("VOUCH_DELEGATION_PASSPHRASE", support::DELEGATION_PASS)
        .env("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS)
        .env("VOUCH_SESSION", support::NO_SESSION)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", trust);
    c
}

/// Runs `c` to the end (killed after [`KILL_AFTER`]) and measures it. The child is reaped
/// with `wait4` (for its resource usage), not with `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(mut c: Command) -> Run {
    let t = Instant::now();
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + KILL_AFTER;
            while Instant::now() < until {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                // Our own child, by its pid, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        })
    };
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let took = t.elapsed();
    watchdog.join().unwrap();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        took,
        // Linux reports kilobytes.
        max_rss_bytes: usage.ru_maxrss as u64 * 1024,
    }
}

// ---------------------------------------------------------------------------------------
// A repository and a server double for it
// ---------------------------------------------------------------------------------------

fn manifest(tag: &str) -> Vec<u8> {
    format!("manifest of {GUN}:{tag}").into_bytes()
}

fn digest(tag: &str) -> String {
    hex::encode(Sha256::digest(manifest(tag)))
}

/// A static repository vouch published (`init`, then `sign GUN:v1`), and its publisher's
/// trust dir (whose key store re-signs snapshot and timestamp for altered roots).
struct Published {
    _dir: tempfile::TempDir,
    publisher: PathBuf,
    /// By their name under `_trust/tuf/` (which is also notary-server's URL layout).
    files: BTreeMap<String, Vec<u8>>,
}

fn published() -> &'static BTreeMap<String, Vec<u8>> {
    &fixture().files
}

fn fixture() -> &'static Published {
    static FX: OnceLock<Published> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let publisher = dir.path().join("publisher");
        for args in [
            vec!["init".to_owned(), GUN.to_owned()],
            vec![
                "sign".to_owned(),
                format!("{GUN}:v1=sha256:{}:{}", digest("v1"), manifest("v1").len()),
            ],
        ] {
            let r = measure({
                let mut c = vouch(&publisher);
                c.args(&args);
                c
            });
            assert_eq!(r.code, Some(0), "vouch {args:?}: {r:?}");
        }
        let tuf = publisher.join("repository").join(GUN).join("_trust/tuf");
        let files = std::fs::read_dir(&tuf)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        Published {
            _dir: dir,
            publisher,
            files,
        }
    })
}

/// The published files with `root` as root.json and a snapshot and timestamp (signed by
/// the publisher's keys) that list it.
fn with_root(root: &Generated) -> BTreeMap<String, Vec<u8>> {
    use vouch::crypto::SignatureProvider;
    use vouch::keystore::{EnvSource, KeyStore};
    use vouch::tuf::{sign_role, FileMeta, KeyId, Root, Signed, Snapshot, Timestamp};
    let fx = fixture();
    let store = KeyStore::open(&fx.publisher).unwrap();
    let pass = EnvSource::new(
        [
            ("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS),
            ("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let root_role = Signed::<Root>::from_bytes(&fx.files["root.json"])
        .unwrap()
        .untrusted()
        .clone();
    let key_of = |role: &str| {
        let id = &root_role.roles[role].keyids[0];
        let public = &root_role.keys[id];
        let (key, _) = store
            .load(&public.canonical_key_id().unwrap(), &pass)
            .unwrap();
        (KeyId::parse(id).unwrap(), key)
    };
    let mut snapshot = Signed::<Snapshot>::from_bytes(&fx.files["snapshot.json"])
        .unwrap()
        .untrusted()
        .clone();
    snapshot.version += 1;
    let (root_len, root_sha) = root.len_and_sha256();
    snapshot.meta.insert(
        "root".into(),
        serde_json::from_value::<FileMeta>(serde_json::json!({
            "length": root_len,
            "hashes": {"sha256": base64::engine::general_purpose::STANDARD.encode(root_sha)},
        }))
        .unwrap(),
    );
    let (id, key) = key_of("snapshot");
    let snapshot = sign_role(&snapshot, &[(id, &key as &dyn SignatureProvider)]).unwrap();
    let mut timestamp = Signed::<Timestamp>::from_bytes(&fx.files["timestamp.json"])
        .unwrap()
        .untrusted()
        .clone();
    timestamp.version += 1;
    timestamp.meta.insert(
        "snapshot".into(),
        FileMeta::from_bytes(&snapshot, &["sha256"]).unwrap(),
    );
    let (id, key) = key_of("timestamp");
    let timestamp = sign_role(&timestamp, &[(id, &key as &dyn SignatureProvider)]).unwrap();
    let mut files = fx.files.clone();
    files.remove("root.json");
    for (role, bytes) in [("snapshot", snapshot), ("timestamp", timestamp)] {
        let sha = hex::encode(Sha256::digest(&bytes));
        files.insert(format!("{role}.{sha}.json"), bytes.clone());
        files.insert(format!("{role}.json"), bytes);
    }
    files
}

/// The current root.json of the published repository.
fn honest_root() -> Vec<u8> {
    published()["root.json"].clone()
}

#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    /// 200 without Content-Length, then JSON-looking bytes until the client hangs up.
    Endless,
    /// A large body made while it is sent, so that the test process stays small (a child
    /// inherits its parent's peak RSS in `ru_maxrss`).
    Generated(Arc<Generated>),
}

/// `head`, then `unit` `count` times separated by `sep`, then `tail`.
struct Generated {
    head: Vec<u8>,
    unit: Vec<u8>,
    sep: Vec<u8>,
    count: usize,
    tail: Vec<u8>,
}

impl Generated {
    fn for_each_chunk(
        &self,
        mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        f(&self.head)?;
        let per = ((64 << 10) / (self.unit.len() + self.sep.len())).max(1);
        let mut done = 0;
        let mut buf = Vec::new();
        while done < self.count {
            buf.clear();
            for _ in 0..per.min(self.count - done) {
                if done > 0 {
                    buf.extend_from_slice(&self.sep);
                }
                buf.extend_from_slice(&self.unit);
                done += 1;
            }
            f(&buf)?;
        }
        f(&self.tail)
    }

    fn len_and_sha256(&self) -> (u64, Vec<u8>) {
        let mut h = Sha256::new();
        let mut n = 0u64;
        self.for_each_chunk(|c| {
            h.update(c);
            n += c.len() as u64;
            Ok(())
        })
        .unwrap();
        (n, h.finalize().to_vec())
    }
}

/// A notary-server double serving the published repository with `root.json` replaced.
struct Double {
    http: HttpServer,
    /// Bytes written for `root.json` requests.
    root_bytes_sent: Arc<Mutex<u64>>,
}

impl Double {
    fn start(root: Reply) -> Double {
        Double::serving(published(), root)
    }

    fn serving(served: &BTreeMap<String, Vec<u8>>, root: Reply) -> Double {
        let mut files: BTreeMap<String, Reply> = served
            .iter()
            .map(|(k, v)| (k.clone(), Reply::Body(v.clone())))
            .collect();
        files.insert("root.json".into(), root);
        let sent = Arc::new(Mutex::new(0u64));
        let sent2 = sent.clone();
        let http = HttpServer::start_raw(move |mut s: TcpStream| {
            let Some(req) = read_request(&mut s) else {
                return;
            };
            let prefix = format!("/v2/{GUN}/_trust/tuf/");
            let reply = if req.path() == "/v2/" {
                Some(Reply::Body(b"{}".to_vec()))
            } else {
                req.path()
                    .strip_prefix(&prefix)
                    .and_then(|p| files.get(p).cloned())
            };
            let is_root = req.path().ends_with("/root.json");
            match reply {
                None => {
                    let body = r#"{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist.","detail":{}}]}"#;
                    let _ = write_response(&mut s, &Response::json(404, body));
                }
                Some(Reply::Body(b)) => {
                    if is_root {
                        *sent2.lock().unwrap() += b.len() as u64;
                    }
                    let _ = write_response(&mut s, &Response::new(200, b));
                }
                Some(Reply::Generated(g)) => {
                    let (len, _) = g.len_and_sha256();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                    );
                    let _ = s.write_all(head.as_bytes()).and_then(|_| {
                        g.for_each_chunk(|c| {
                            s.write_all(c)?;
                            *sent2.lock().unwrap() += c.len() as u64;
                            Ok(())
                        })
                    });
                }
                Some(Reply::Endless) => {
                    if s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                    let chunk = [b'['; 64 << 10];
                    for _ in 0..(4u64 << 30) / chunk.len() as u64 {
                        if s.write_all(&chunk).is_err() {
                            return;
                        }
                        *sent2.lock().unwrap() += chunk.len() as u64;
                    }
                }
            }
        });
        Double {
            http,
            root_bytes_sent: sent,
        }
    }
}

/// A fresh client trust dir.
struct Client {
    _tmp: tempfile::TempDir,
    trust: PathBuf,
}

impl Client {
    fn new() -> Client {
        let tmp = tempfile::tempdir().unwrap();
        Client {
            trust: tmp.path().join("trust"),
            _tmp: tmp,
        }
    }

    /// `vouch -s URL verify GUN:v1 --tofu` (with `env` set).
    fn verify(&self, double: &Double, env: &[(&str, &str)]) -> Run {
        let mut c = vouch(&self.trust);
        c.arg("-s")
            .arg(&double.http.url)
            .args(["verify", &format!("{GUN}:v1"), "--tofu"]);
        for (k, v) in env {
            c.env(k, v);
        }
        measure(c)
    }
}

/// The honest root.json with its signature list replaced by `count` copies of its first
/// signature: `signed` is untouched, so every copy is a valid signature by the root key.
fn stuffed_root(count: usize) -> Arc<Generated> {
    let root = honest_root();
    let text = std::str::from_utf8(&root).unwrap();
    let at = text.rfind(",\"signatures\":[").unwrap();
    let sigs: serde_json::Value =
        serde_json::from_str(&text[at + ",\"signatures\":".len()..text.len() - 1]).unwrap();
    Arc::new(Generated {
        head: format!("{},\"signatures\":[", &text[..at]).into_bytes(),
        unit: serde_json::to_vec(&sigs[0]).unwrap(),
        sep: b",".to_vec(),
        count,
        tail: b"]}".to_vec(),
    })
}

/// The honest root.json padded with whitespace (outside `signed`) to about `size` bytes:
/// still valid, still verifying, just large.
fn padded_root(size: usize) -> Arc<Generated> {
    let mut root = honest_root();
    assert_eq!(root.pop(), Some(b'}'));
    Arc::new(Generated {
        head: root,
        unit: vec![b' '; 1024],
        sep: Vec::new(),
        count: size / 1024,
        tail: b"}".to_vec(),
    })
}

/// The run took less than `seconds` and peaked below `mib` MiB. (A child's `ru_maxrss`
/// starts from its parent's peak at spawn time, so this test process keeps its own memory
/// small: large bodies are generated while they are sent.)
fn assert_bounded(r: &Run, seconds: u64, mib: u64) {
    assert!(r.took < Duration::from_secs(seconds), "too slow: {r:?}");
    assert!(r.max_rss_bytes < mib << 20, "too much memory: {r:?}");
}

// ---------------------------------------------------------------------------------------
// Token lifetimes
// ---------------------------------------------------------------------------------------

/// A token server answering `expires_in` values that overflow any deadline arithmetic
/// (with absurd `issued_at` values too): vouch uses the token, twice (the second time from
/// its cache), and never panics.
#[test]
fn absurd_token_lifetimes_neither_crash_nor_fail() {
    for (expires_in, issued_at) in [
        ("9223372036854775807", r#""9999-12-31T23:59:59Z""#),
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", r#""0001-01-01T00:00:00Z""#),
        ("1e300", r#""not a time""#),
        ("-1", "null"),
    ] {
        let reply = format!(
            r#"{{"token":"good-token","expires_in":{expires_in},"issued_at":{issued_at}}}"#
        );
        let tokens = HttpServer::start(move |_| Response::json(200, reply.clone()));
        let realm = format!("{}/token", tokens.url);
        let server = HttpServer::start(move |req| {
            if req.header("authorization") != Some("Bearer good-token") {
                return Response::new(401, "").with_header(
                    "WWW-Authenticate",
                    &format!("Bearer realm=\"{realm}\",service=\"svc\""),
                );
            }
            match req.path() {
                "/v2/" => Response::json(200, "{}"),
                p if p.ends_with("/root.json") => Response::new(200, "ROOT"),
                _ => Response::new(404, ""),
            }
        });
        let r = open_remote(
            &server.url,
            &RemoteOptions {
                credentials: CredentialLookup {
                    notary_auth: Some(Zeroizing::new("YWxpY2U6czNjcmV0".into())),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
        let gun = Gun::parse(GUN).unwrap();
        for _ in 0..2 {
            assert_eq!(
                r.get_current(&gun, "root", 1 << 20).unwrap().as_deref(),
                Some(&b"ROOT"[..]),
                "expires_in {expires_in}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// root.json: endless, stuffed with signatures, larger than the cap
// ---------------------------------------------------------------------------------------

/// A server that streams root.json forever: vouch stops at the root cap (1 MiB by
/// default, not notary's 100 MiB), says so, and stays small.
#[test]
fn endless_root_is_cut_off_at_the_root_cap() {
    let double = Double::start(Reply::Endless);
    let client = Client::new();
    let r = client.verify(&double, &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.contains("root.json"), "{r:?}");
    assert!(r.stderr.contains("more than 1048576 bytes"), "{r:?}");
    assert!(r.stderr.contains("VOUCH_MAX_ROOT_SIZE"), "{r:?}");
    assert_bounded(&r, 10, 80);
    std::thread::sleep(Duration::from_millis(200));
    let sent = *double.root_bytes_sent.lock().unwrap();
    assert!(sent < 16 << 20, "the server got to send {sent} bytes");
}

/// A root.json carrying thousands of (valid) signatures under the root key's ID is
/// refused while it is parsed, before any signature is checked.
#[test]
fn signature_stuffed_root_is_refused_quickly() {
    let root = stuffed_root(5000);
    assert!(root.len_and_sha256().0 < 1 << 20);
    // Snapshot and timestamp list the stuffed root: only its signatures are wrong.
    let double = Double::serving(&with_root(&root), Reply::Generated(root));
    let client = Client::new();
    let r = client.verify(&double, &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.contains("more than 256 signatures"), "{r:?}");
    assert_bounded(&r, 10, 80);
}

/// The same attack at scale (55 000 signatures, 10 MiB) with the root cap raised to let
/// it through: refused on the signature count, in bounded time and memory.
#[test]
fn huge_signature_stuffed_root_is_refused_quickly_even_under_a_raised_cap() {
    let root = stuffed_root(55_000);
    assert!(root.len_and_sha256().0 > 8 << 20);
    let double = Double::serving(&with_root(&root), Reply::Generated(root));
    let client = Client::new();
    // Default cap: refused by size, before parsing.
    let r = client.verify(&double, &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.contains("more than 1048576 bytes"), "{r:?}");
    assert_bounded(&r, 10, 80);
    // Raised cap: read, then refused on the signature count.
    let r = client.verify(&double, &[("VOUCH_MAX_ROOT_SIZE", "64M")]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("more than 256 signatures"), "{r:?}");
    assert_bounded(&r, 10, 100);
}

/// A genuine root larger than the default cap is refused with a hint naming the setting;
/// `VOUCH_MAX_ROOT_SIZE` or `max_root_size` in the config file let it through.
#[test]
fn the_root_cap_is_configurable() {
    let big = padded_root(3 << 20);
    let double = Double::serving(&with_root(&big), Reply::Generated(big));
    let client = Client::new();
    let r = client.verify(&double, &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.contains("more than 1048576 bytes"), "{r:?}");
    assert!(r.stderr.contains("max_root_size"), "{r:?}");

    let trusted = format!("{GUN}@sha256:{}", digest("v1"));
    let r = client.verify(&double, &[("VOUCH_MAX_ROOT_SIZE", "4M")]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (Some(0), trusted.as_str()),
        "{r:?}"
    );

    let other = Client::new();
    std::fs::create_dir_all(&other.trust).unwrap();
    std::fs::write(
        other.trust.join("config.json"),
        br#"{"max_root_size": 4194304}"#,
    )
    .unwrap();
    let r = other.verify(&double, &[]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (Some(0), trusted.as_str()),
        "{r:?}"
    );
    // The environment wins over the file, in both directions; nonsense is a usage error.
    let third = Client::new();
    std::fs::create_dir_all(&third.trust).unwrap();
    std::fs::write(
        third.trust.join("config.json"),
        br#"{"max_root_size": "4M"}"#,
    )
    .unwrap();
    let r = third.verify(&double, &[("VOUCH_MAX_ROOT_SIZE", "1M")]);
    assert_eq!(r.code, Some(3), "{r:?}");
    let r = third.verify(&double, &[("VOUCH_MAX_ROOT_SIZE", "lots")]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("VOUCH_MAX_ROOT_SIZE"), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// Key files and backups with ruinous key-derivation costs
// ---------------------------------------------------------------------------------------

/// The DER of an encrypted PKCS#8 file whose scrypt parameters are `log_n`, `r`, `p`
/// (the ciphertext is filler: the file must be refused before anything is derived).
fn scrypt_pkcs8(log_n: u8, r: u32, p: u32) -> Vec<u8> {
    use der::Encode as _;
    use pkcs5::pbes2;
    let (salt, iv) = ([3u8; 16], [4u8; 16]);
    let params = pkcs5::scrypt::Params::new(log_n, r, p, 32).unwrap();
    pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(pbes2::Parameters {
            kdf: pbes2::ScryptParams::from_params_and_salt(params, &salt)
                .unwrap()
                .into(),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
        }),
        encrypted_data: &[0x42; 48],
    }
    .to_der()
    .unwrap()
}

fn pem(kind: &str, headers: &[(&str, &str)], der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    if !headers.is_empty() {
        out.push('\n');
    }
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// A key file in the key store (or handed over for import) whose scrypt parameters
/// would cost ~128 times vouch's own work (N = 2^17, r = 8, p = 64: minutes of CPU) is
/// refused at once, with exit 4, naming the file and the parameters, and no passphrase is
/// asked for.
#[test]
fn key_files_with_ruinous_scrypt_parameters_are_refused_before_deriving() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let mut c = vouch(&trust);
    c.args(["key", "generate", "--role", "targets/releases"]);
    let r = measure(c);
    assert_eq!(r.code, Some(0), "{r:?}");
    let id = r.stdout.trim().to_owned();
    let path = trust.join("private").join(format!("{id}.key"));
    let hostile = pem(
        "ENCRYPTED PRIVATE KEY",
        &[("algorithm", "ecdsa"), ("role", "targets/releases")],
        &scrypt_pkcs8(17, 8, 64),
    );
    std::fs::write(&path, &hostile).unwrap();
    let check = |r: &Run, file: &Path| {
        assert_eq!(r.code, Some(4), "{r:?}");
        assert!(r.stderr.contains(&file.display().to_string()), "{r:?}");
        assert!(r.stderr.contains("N=131072 r=8 p=64"), "{r:?}");
        assert!(r.stderr.contains("costlier key derivation"), "{r:?}");
        assert!(!r.stderr.contains("passphrase for"), "asked: {r:?}");
        assert_bounded(r, 5, 80);
    };
    let out = tmp.path().join("out.pem");
    let mut c = vouch(&trust);
    c.args(["key", "export", &id, "--format", "notary", "-o"])
        .arg(&out);
    check(&measure(c), &path);
    assert!(!out.exists());

    let given = tmp.path().join("given.pem");
    std::fs::write(&given, &hostile).unwrap();
    let other = tmp.path().join("other");
    let mut c = vouch(&other);
    c.args(["key", "import"]).arg(&given);
    check(&measure(c), &given);
}

/// A backup file whose header asks for scrypt with N = 2^18, r = 8, p = 16 (32 times the
/// default work, 256 MiB per lane) is refused while it is read: exit 4, the file and the
/// parameters named, in bounded time.
#[test]
fn backups_with_ruinous_scrypt_parameters_are_refused_before_deriving() {
    let tmp = tempfile::tempdir().unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let header = serde_json::json!({
        "format": "vouch-key-backup",
        "version": 1,
        "created": "2026-01-01T00:00:00Z",
        "keys": [],
        "kdf": {"name": "scrypt", "log_n": 18, "r": 8, "p": 16,
                "salt": b64(&[9; 16]), "check": "00112233445566778899aabbccddeeff"},
        "cipher": {"name": "AES-256-GCM", "nonce": b64(&[1; 12])},
    });
    // As vouch writes it: the header first.
    let envelope = format!(r#"{{"header":{header},"ciphertext":"{}"}}"#, b64(&[2; 64]));
    let file = tmp.path().join("hostile.backup");
    std::fs::write(&file, envelope).unwrap();
    for args in [vec!["key", "restore"], vec!["key", "backup", "verify"]] {
        let mut c = vouch(&tmp.path().join("trust"));
        c.args(&args)
            .arg(&file)
            .env("VOUCH_BACKUP_PASSPHRASE", "backup-passphrase-123");
        let r = measure(c);
        assert_eq!(r.code, Some(4), "{args:?}: {r:?}");
        assert!(r.stderr.contains(&file.display().to_string()), "{r:?}");
        assert!(r.stderr.contains("N=262144 r=8 p=16"), "{r:?}");
        assert!(r.stderr.contains("costlier key derivation"), "{r:?}");
        assert_bounded(&r, 5, 80);
    }
}

// ---------------------------------------------------------------------------------------
// Credential helpers never see vouch's secrets
// ---------------------------------------------------------------------------------------

/// A `docker-credential-*` helper (here one that writes its environment to a file) runs
/// without any passphrase, PIN or credential variable vouch, notary or docker trust read,
/// and with everything else a helper may need.
#[test]
fn credential_helpers_get_an_environment_without_secrets() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let dump = tmp.path().join("helper.env");
    let helper = bin.join("docker-credential-envdump");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\ncat >/dev/null\nenv > '{}'\nprintf '{{\"Username\":\"alice\",\"Secret\":\"s3cret\"}}'\n",
            dump.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), r#"{"credsStore":"envdump"}"#).unwrap();
    let authed = Arc::new(Mutex::new(false));
    let seen = authed.clone();
    let server = HttpServer::start(move |req| {
        if req.basic_auth() != Some(("alice".into(), "s3cret".into())) {
            return Response::new(401, "")
                .with_header("WWW-Authenticate", "Basic realm=\"notary\"");
        }
        *seen.lock().unwrap() = true;
        match req.path() {
            "/v2/" => Response::json(200, "{}"),
            _ => Response::new(404, ""),
        }
    });
    let secrets = [
        ("VOUCH_PKCS11_PIN", "pin-4242"),
        ("VOUCH_BACKUP_PASSPHRASE", "backup-secret-1"),
        ("VOUCH_PASSWORD", "vouch-password-1"),
        ("NOTARY_ROOT_PASSPHRASE", "notary-root-1"),
        ("NOTARY_TARGETS_PASSPHRASE", "notary-targets-1"),
        ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "dct-root-1"),
        ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "dct-repo-1"),
    ];
    let mut c = vouch(&tmp.path().join("trust"));
    c.arg("-s")
        .arg(&server.url)
        .args(["list", GUN])
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("DOCKER_CONFIG", &docker)
        .env("PASSWORD_STORE_DIR", "/srv/pass-store")
        .env("GNUPGHOME", "/srv/gnupg")
        .env("HTTPS_PROXY", "http://proxy.example:3128")
        .env_remove("NOTARY_AUTH")
        .env_remove("VOUCH_USERNAME");
    for (k, v) in secrets {
        c.env(k, v);
    }
    let r = measure(c);
    assert!(
        *authed.lock().unwrap(),
        "the helper's credentials were not used: {r:?}"
    );
    let env = std::fs::read_to_string(&dump).unwrap();
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for (k, v) in secrets.iter().chain(&[
        ("VOUCH_ROOT_PASSPHRASE", support::ROOT_PASS),
        ("VOUCH_TARGETS_PASSPHRASE", support::TARGETS_PASS),
        ("VOUCH_SNAPSHOT_PASSPHRASE", support::SNAPSHOT_PASS),
        ("VOUCH_DELEGATION_PASSPHRASE", support::DELEGATION_PASS),
        ("VOUCH_TIMESTAMP_PASSPHRASE", support::TIMESTAMP_PASS),
    ]) {
        assert!(!names.contains(k), "{k} reached the helper:\n{env}");
        assert!(
            !env.contains(v),
            "the value of {k} reached the helper:\n{env}"
        );
    }
    for kept in [
        "PATH",
        "HOME",
        "DOCKER_CONFIG",
        "PASSWORD_STORE_DIR",
        "GNUPGHOME",
        "HTTPS_PROXY",
    ] {
        assert!(names.contains(&kept), "{kept} missing:\n{env}");
    }
}

// ---------------------------------------------------------------------------------------
// No core dumps, not dumpable
// ---------------------------------------------------------------------------------------

/// While vouch runs (here: waiting for a server that never answers), its core-file limit
/// is 0 and it is not dumpable: its /proc files belong to root instead of the user it
/// runs as, so other processes of that user cannot read its memory or attach to it.
#[test]
fn vouch_runs_without_core_dumps_and_not_dumpable() {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::process::CommandExt as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Accept and hold the connection without answering.
        if let Ok((s, _)) = listener.accept() {
            let _ = tx.send(());
            std::thread::sleep(Duration::from_secs(30));
            drop(s);
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    // As root, run vouch as `nobody`: its /proc files then belong to nobody unless it
    // made itself non-dumpable. Otherwise as ourselves: ours unless non-dumpable.
    let runs_as: u32 = if root {
        65534
    } else {
        unsafe { libc::geteuid() }
    };
    if root {
        std::os::unix::fs::chown(tmp.path(), Some(runs_as), Some(runs_as)).unwrap();
    }
    let mut c = vouch(&tmp.path().join("trust"));
    c.arg("-s")
        .arg(&url)
        .args(["list", GUN])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if root {
        c.uid(runs_as).gid(runs_as);
    }
    let mut child = c.spawn().unwrap();
    rx.recv_timeout(Duration::from_secs(20))
        .expect("vouch never connected");
    let proc_dir = PathBuf::from(format!("/proc/{}", child.id()));
    let limits = std::fs::read_to_string(proc_dir.join("limits")).unwrap();
    let status_owner = std::fs::metadata(proc_dir.join("status")).unwrap().uid();
    let _ = child.kill();
    let _ = child.wait();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_else(|| panic!("no core limit in {limits}"));
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{core}");
    assert_eq!(
        status_owner, 0,
        "/proc/PID/status belongs to uid {status_owner} (vouch runs as {runs_as}): vouch is dumpable"
    );
}
