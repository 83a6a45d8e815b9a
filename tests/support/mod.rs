//! Test support: the real `notary` CLI and a real notary-server on a free loopback port.
//!
//! Servers are started as child processes on 127.0.0.1 and stopped by pid when the
//! handle drops. Nothing here talks to anything but loopback.

#![allow(dead_code)]

pub mod httpd;
pub mod pty;
pub mod registry;
pub mod smallfs;
pub mod tls;
pub mod token;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ROOT_PASS: &str = "rootpass-123";
pub const TARGETS_PASS: &str = "targetspass-123";
pub const SNAPSHOT_PASS: &str = "snapshotpass-123";
pub const DELEGATION_PASS: &str = "delegpass-123";
/// Static repositories keep a local timestamp key.
pub const TIMESTAMP_PASS: &str = "timestamppass-123";

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn require_binary(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed; run `make test-deps` (installs Debian packages notary docker-registry skopeo)");
}

/// A running notary-server (memory storage, local ed25519 signer, plain HTTP).
pub struct NotaryServer {
    child: Child,
    pub url: String,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// Extra notary-server settings: TLS files, an `auth` block, GUN prefixes.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// (certificate, key) PEM files: the server then speaks HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The `auth` block (e.g. from `token::TokenServer::notary_auth_block`).
    pub auth: Option<serde_json::Value>,
    /// `repositories.gun_prefixes`.
    pub gun_prefixes: Vec<String>,
}

impl NotaryServer {
    pub fn start() -> NotaryServer {
        NotaryServer::start_with(&ServerConfig::default())
    }

    pub fn start_with(extra: &ServerConfig) -> NotaryServer {
        let bin = require_binary("notary-server");
        let mut last_log = String::new();
        // A port picked by `free_port` can be taken by someone else before the server
        // binds it; try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let cfg = dir.path().join("server.json");
            let mut server = serde_json::json!({"http_addr": format!("127.0.0.1:{port}")});
            if let Some((cert, key)) = &extra.tls {
                server["tls_cert_file"] = cert.to_str().unwrap().into();
                server["tls_key_file"] = key.to_str().unwrap().into();
            }
            let mut config = serde_json::json!({
                "server": server,
                "trust_service": {"type": "local"},
                "storage": {"backend": "memory"},
                "logging": {"level": "error"},
            });
            if let Some(auth) = &extra.auth {
                config["auth"] = auth.clone();
            }
            if !extra.gun_prefixes.is_empty() {
                config["repositories"] = serde_json::json!({"gun_prefixes": extra.gun_prefixes});
            }
            std::fs::write(&cfg, config.to_string()).unwrap();
            let log_path = dir.path().join("server.log");
            let child = Command::new(&bin)
                .arg("-config")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log_path).unwrap())
                .spawn()
                .expect("start notary-server");
            let scheme = if extra.tls.is_some() { "https" } else { "http" };
            let url = format!("{scheme}://127.0.0.1:{port}");
            let mut server = NotaryServer {
                child,
                url,
                port,
                _dir: dir,
            };
            if server.wait_ready(port) {
                return server;
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("notary-server did not become ready: {last_log}");
    }

    fn wait_ready(&mut self, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // A TLS server answers a plain-HTTP probe with 400 ("Client sent an HTTP
            // request to an HTTPS server"), which is as good a sign of life.
            if matches!(
                http_get_status("127.0.0.1", port, "/_notary_server/health"),
                Some(200 | 400)
            ) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for NotaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal HTTP/1.0 GET returning the status code (readiness probes only).
pub fn http_get_status(host: &str, port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((host, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// A plain HTTP/1.0 GET to 127.0.0.1:port: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP response");
    let head = String::from_utf8_lossy(&buf[..split]);
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, buf[split + 4..].to_vec())
}

/// The real `notary` CLI bound to one trust dir (and optionally one server).
pub struct Notary {
    pub trust_dir: PathBuf,
    pub server: Option<String>,
}

impl Notary {
    pub fn new(trust_dir: &Path) -> Notary {
        Notary {
            trust_dir: trust_dir.to_path_buf(),
            server: None,
        }
    }
    pub fn with_server(trust_dir: &Path, server: &NotaryServer) -> Notary {
        Notary {
            trust_dir: trust_dir.to_path_buf(),
            server: Some(server.url.clone()),
        }
    }
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(require_binary("notary"));
        c.arg("-d").arg(&self.trust_dir);
        // Always name a server: notary's default would be a non-loopback host.
        c.arg("-s")
            .arg(self.server.as_deref().unwrap_or("http://127.0.0.1:9"));
        c.env("NOTARY_ROOT_PASSPHRASE", ROOT_PASS)
            .env("NOTARY_TARGETS_PASSPHRASE", TARGETS_PASS)
            .env("NOTARY_SNAPSHOT_PASSPHRASE", SNAPSHOT_PASS)
            .env("NOTARY_DELEGATION_PASSPHRASE", DELEGATION_PASS)
            .env("HOME", &self.trust_dir)
            .stdin(Stdio::null());
        c
    }
    /// Run and require success; returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.run_raw(args);
        assert!(
            out.status.success(),
            "notary {args:?} failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    pub fn run_raw(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run notary")
    }
}

/// Settings a developer's or CI machine's environment may hold that would change what a
/// test's vouch does: credentials, docker's config, a trust lock, timeouts, a token's
/// module and PIN. [`vouch`] starts without them, and without notary's and docker's
/// passphrase variables; a test that wants one sets it.
pub const AMBIENT_VARS: [&str; 11] = [
    "NOTARY_AUTH",
    "VOUCH_USERNAME",
    "VOUCH_PASSWORD",
    "DOCKER_CONFIG",
    "VOUCH_TRUST_LOCK",
    "VOUCH_TIMEOUT",
    "VOUCH_ALLOW_HTTP_TOKEN_SERVICE",
    "VOUCH_KEYRING",
    "VOUCH_PKCS11_MODULE",
    "VOUCH_PKCS11_PIN",
    "VOUCH_PKCS11_PIN_FILE",
];

/// `vouch` with a trust dir and vouch's passphrase variables (VOUCH_*) set; none of
/// [`AMBIENT_VARS`] and no other [`PASSPHRASE_VARS`].
pub fn vouch(trust_dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("vouch").unwrap();
    c.arg("--trust-dir").arg(trust_dir);
    for v in AMBIENT_VARS
        .iter()
        .chain(PASSPHRASE_VARS.iter().filter(|v| !v.starts_with("VOUCH_")))
    {
        c.env_remove(v);
    }
    c.env_remove("VOUCH_TRUST_DIR")
        .env_remove("VOUCH_SERVER")
        .env_remove("DOCKER_CONTENT_TRUST_SERVER")
        .env("VOUCH_ROOT_PASSPHRASE", ROOT_PASS)
        .env("VOUCH_TARGETS_PASSPHRASE", TARGETS_PASS)
        .env("VOUCH_SNAPSHOT_PASSPHRASE", SNAPSHOT_PASS)
        .env("VOUCH_DELEGATION_PASSPHRASE", DELEGATION_PASS)
        .env("VOUCH_TIMESTAMP_PASSPHRASE", TIMESTAMP_PASS)
        .env("VOUCH_SESSION", NO_SESSION)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", trust_dir);
    c
}

/// The real `kubectl` with no cluster (`--local`, `--dry-run=client` work): its stdout;
/// a failure fails the test with kubectl's stderr.
pub fn kubectl(args: &[&str]) -> String {
    let out = Command::new(require_binary("kubectl"))
        .args(args)
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every passphrase variable vouch reads (vouch's, notary's and docker's names).
pub const PASSPHRASE_VARS: [&str; 11] = [
    "VOUCH_ROOT_PASSPHRASE",
    "VOUCH_TARGETS_PASSPHRASE",
    "VOUCH_SNAPSHOT_PASSPHRASE",
    "VOUCH_TIMESTAMP_PASSPHRASE",
    "VOUCH_DELEGATION_PASSPHRASE",
    "NOTARY_ROOT_PASSPHRASE",
    "NOTARY_TARGETS_PASSPHRASE",
    "NOTARY_SNAPSHOT_PASSPHRASE",
    "NOTARY_DELEGATION_PASSPHRASE",
    "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
    "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
];

/// An unlock-session name nobody opens: tests run outside any session the machine's user
/// may have open (`vouch key unlock`), unless a test opens its own.
pub const NO_SESSION: &str = "vouch-tests-none";

/// Files under `dir`, recursively, with their bytes (to prove "nothing changed"); lock
/// files (which hold their holder's pid) are not state and are left out.
pub fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .extension()
                .is_none_or(|x| x != "lock" && x != "vouch-lock")
                && p.file_name().is_none_or(|n| n != ".lock" && n != "@lock")
            {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, &mut out);
    out
}

/// A finished `vouch` run.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `c` with `args` and collect its exit code and output.
pub fn run(mut c: assert_cmd::Command, args: &[&str]) -> Out {
    let o = c.args(args).output().expect("run vouch");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Run and require exit 0.
pub fn ok(c: assert_cmd::Command, args: &[&str]) -> Out {
    let o = run(c, args);
    assert_eq!(
        o.code, 0,
        "vouch {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        o.code, o.stdout, o.stderr
    );
    o
}

/// Run and require exit `code`.
pub fn fails(c: assert_cmd::Command, args: &[&str], code: i32) -> Out {
    let o = run(c, args);
    assert_eq!(
        o.code, code,
        "vouch {args:?}: expected exit {code}:\nstdout: {}\nstderr: {}",
        o.stdout, o.stderr
    );
    o
}

/// A listed target: (name, digest hex, size, role).
pub type ListRow = (String, String, u64, String);

/// Rows of a `notary list` / `vouch list` table: (name, digest hex, size, role).
pub fn list_rows(out: &str) -> Vec<ListRow> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with("NAME"));
    assert!(lines.next().is_some(), "no table header in {out:?}");
    assert!(lines.next().is_some_and(|l| l.starts_with("----")), "{out}");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "row {l:?}");
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].to_owned(),
            )
        })
        .collect()
}

/// Every file under `dir` whose name marks it as one of vouch's temp files (`.NAME.tmp-…`,
/// `.NAME.set-…`): what a killed command may leave, and the next command removes.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(temp_files(&p));
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(".tmp") || n.contains(".set-"))
        {
            out.push(p);
        }
    }
    out
}

/// Who re-signs a role, from `expiry --output json`'s `signer` object, as the text table
/// says it.
pub fn signer_text(s: &serde_json::Value) -> String {
    let first = |k: &str| {
        s[k].as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            .map(|id| id[..12].to_owned())
            .unwrap_or_default()
    };
    if s["server"] == true {
        "server (re-signed automatically)".to_owned()
    } else if !first("here").is_empty() {
        format!("key {} (here)", first("here"))
    } else {
        format!("key {} (NOT in this key store)", first("key_ids"))
    }
}
