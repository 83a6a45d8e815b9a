//! notary's CA trust pinning (`trust_pinning.ca`, protocol §8.5 step 3) with `vouch verify`:
//! a repository created by the real `notary` CLI with a root certificate issued by a CA
//! (`notary init --rootkey KEY --rootcert CERT`), served by a real notary-server on
//! 127.0.0.1, verified by vouch with a config file pinning that CA, another CA, or key IDs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Notary, NotaryServer, ROOT_PASS};

const RUN_LIMIT: Duration = Duration::from_secs(40);
const GUN: &str = "example.com/ca/app";
/// Protocol §5.4's root certificate extensions, without the codeSigning extended key usage
/// that notary's CA check (Go's x509 defaults) refuses.
const LEAF_EXT: &str =
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed P-256 CA `name` (files NAME.pem, NAME.key in `dir`).
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let key = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
    );
    std::fs::write(dir.join(format!("{name}.ext")), CA_EXT).unwrap();
    let subj = format!("/CN=Test CA {name}");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &subj,
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-signkey",
            &key,
            "-days",
            "30",
            "-sha256",
            "-extfile",
            &format!("{name}.ext"),
            "-set_serial",
            "7",
            "-out",
            &format!("{name}.pem"),
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A root key for `gun` (encrypted PKCS#8 as notary imports it) and its certificate, issued
/// by CA `ca`: (key file, cert file).
fn make_root(dir: &Path, ca: &str, gun: &str) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "root.key",
        ],
    );
    let pass = format!("pass:{ROOT_PASS}");
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-v2prf",
            "hmacWithSHA1",
            "-passout",
            &pass,
            "-in",
            "root.key",
            "-out",
            "root.p8",
        ],
    );
    std::fs::write(dir.join("root.ext"), LEAF_EXT).unwrap();
    let subj = format!("/CN={}", gun.replace('/', "\\/"));
    openssl(
        dir,
        &[
            "req", "-new", "-key", "root.key", "-subj", &subj, "-out", "root.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "root.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-days",
            "90",
            "-sha256",
            "-extfile",
            "root.ext",
            "-set_serial",
            "4242",
            "-out",
            "root.pem",
        ],
    );
    (dir.join("root.p8"), dir.join("root.pem"))
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    server: NotaryServer,
    notary: Notary,
    /// The CA that issued the repository's root certificate, and one that did not.
    ca: PathBuf,
    other_ca: PathBuf,
}

/// `GUN` published by the notary CLI with a CA-issued root certificate, tag `v1`.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let ca = make_ca(&dir, "ca");
    let other_ca = make_ca(&dir, "other");
    let (key, cert) = make_root(&dir, "ca", GUN);
    let server = NotaryServer::start();
    let notary = Notary::with_server(&dir.join("notary"), &server);
    notary.run(&[
        "init",
        "--rootkey",
        key.to_str().unwrap(),
        "--rootcert",
        cert.to_str().unwrap(),
        GUN,
    ]);
    let file = dir.join("payload.txt");
    std::fs::write(&file, b"hello\n").unwrap();
    notary.run(&["add", "-p", GUN, "v1", file.to_str().unwrap()]);
    Setup {
        _tmp: tmp,
        dir,
        server,
        notary,
        ca,
        other_ca,
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Setup {
    /// `vouch --config CFG verify GUN:v1` from a fresh trust dir named `reader`.
    fn verify(&self, reader: &str, trust_pinning: serde_json::Value) -> Run {
        self.verify_in(reader, trust_pinning, &self.dir, GUN)
    }

    fn verify_in(
        &self,
        reader: &str,
        trust_pinning: serde_json::Value,
        cwd: &Path,
        gun: &str,
    ) -> Run {
        let cfg = self.dir.join(format!("{reader}-config.json"));
        std::fs::write(
            &cfg,
            serde_json::json!({"trust_pinning": trust_pinning}).to_string(),
        )
        .unwrap();
        let out = support::vouch(&self.dir.join(reader))
            .current_dir(cwd)
            .arg("--config")
            .arg(&cfg)
            .args(["-s", &self.server.url, "verify", &format!("{gun}:v1")])
            .timeout(RUN_LIMIT)
            .output()
            .unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The root key ID listed in the served root.json (as notary caches it).
    fn root_key_id(&self, gun: &str) -> String {
        let root = self
            .notary
            .trust_dir
            .join("tuf")
            .join(gun)
            .join("metadata/root.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(root).unwrap()).unwrap();
        v["signed"]["roles"]["root"]["keyids"][0]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn root_issued_by_the_pinned_ca_verifies() {
    let s = setup();
    let r = s.verify(
        "reader",
        serde_json::json!({"ca": {"example.com/": s.ca}, "disable_tofu": true}),
    );
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(
        r.stdout.contains(&sha256_hex(b"hello\n")),
        "stdout: {}",
        r.stdout
    );
    assert!(!r.stderr.contains("TRUST ON FIRST USE"), "{}", r.stderr);
}

#[test]
fn root_issued_by_another_ca_is_refused() {
    let s = setup();
    let r = s.verify(
        "reader",
        serde_json::json!({"ca": {"example.com/": s.other_ca}}),
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert!(r.stderr.contains("chains to a CA"), "stderr: {}", r.stderr);
    // The longest prefix applies: a shorter entry naming the right CA does not help.
    let r = s.verify(
        "reader2",
        serde_json::json!({"ca": {"example.com/": s.ca, "example.com/ca/": s.other_ca}}),
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    let r = s.verify(
        "reader3",
        serde_json::json!({"ca": {"example.com/": s.other_ca, "example.com/ca/": s.ca}}),
    );
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
}

#[test]
fn self_signed_root_is_refused_under_ca_pinning() {
    let s = setup();
    let gun = "example.com/ca/selfsigned";
    s.notary.run(&["init", "-p", gun]);
    let file = s.dir.join("payload.txt");
    s.notary
        .run(&["add", "-p", gun, "v1", file.to_str().unwrap()]);
    let r = s.verify_in(
        "reader",
        serde_json::json!({"ca": {"example.com/": s.ca}}),
        &s.dir,
        gun,
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("chains to a CA"), "stderr: {}", r.stderr);
}

#[test]
fn certs_pin_takes_precedence_over_ca() {
    let s = setup();
    let id = s.root_key_id(GUN);
    // The ca entry alone would refuse (another CA); the exact certs entry decides.
    let r = s.verify(
        "exact",
        serde_json::json!({"ca": {"example.com/": s.other_ca}, "certs": {GUN: [id]}}),
    );
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    // A wildcard certs entry wins over a ca entry too.
    let r = s.verify(
        "wildcard",
        serde_json::json!({"ca": {"example.com/ca/": s.other_ca}, "certs": {"example.com/*": [id]}}),
    );
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    // And the other way round: the ca entry would accept, the certs entry pins other keys.
    let r = s.verify(
        "wrong-id",
        serde_json::json!({"ca": {"example.com/": s.ca}, "certs": {GUN: ["0".repeat(64)]}}),
    );
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
}

#[test]
fn relative_ca_path_is_relative_to_the_working_directory() {
    let s = setup();
    // `ca.pem` lives in s.dir; the config file is there too, but the working directory
    // decides (as in notary 0.7's code).
    let r = s.verify_in(
        "from-dir",
        serde_json::json!({"ca": {"example.com/": "ca.pem"}}),
        &s.dir,
        GUN,
    );
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let elsewhere = s.dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let r = s.verify_in(
        "from-elsewhere",
        serde_json::json!({"ca": {"example.com/": "ca.pem"}}),
        &elsewhere,
        GUN,
    );
    assert_ne!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("could not load the CA bundle"),
        "stderr: {}",
        r.stderr
    );
}

#[test]
fn disable_tofu_still_refuses_a_gun_no_pin_covers() {
    let s = setup();
    let r = s.verify_in(
        "reader",
        serde_json::json!({"ca": {"other.org/": s.ca}, "disable_tofu": true}),
        &s.dir,
        GUN,
    );
    assert_ne!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
}
