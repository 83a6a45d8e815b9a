//! Helpers shared by the key store tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vouch::keystore::{Fixed, KeystoreError, Origin, PassphraseRequest, PassphraseSource, Secret};
use vouch::tuf::PublicKey;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/notary-fixtures")
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, to prove an operation changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".vouch.lock" {
                out.insert(e.path(), std::fs::read(e.path()).unwrap_or_default());
            }
        }
    }
    out
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

pub fn pass(p: &str) -> Fixed {
    Fixed::new(Secret::new(p))
}

/// A stand-in for the binary's prompt: answers from a list, records every request.
pub struct Scripted {
    answers: RefCell<VecDeque<String>>,
    pub requests: RefCell<Vec<PassphraseRequest>>,
}

impl Scripted {
    pub fn new(answers: &[&str]) -> Scripted {
        Scripted {
            answers: RefCell::new(answers.iter().map(|s| s.to_string()).collect()),
            requests: RefCell::new(Vec::new()),
        }
    }
    pub fn attempts(&self) -> Vec<u32> {
        self.requests.borrow().iter().map(|r| r.attempt).collect()
    }
}

impl PassphraseSource for Scripted {
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        self.requests.borrow_mut().push(req.clone());
        Ok(self
            .answers
            .borrow_mut()
            .pop_front()
            .map(|a| Secret::with_origin(a, Origin::Interactive)))
    }
}

/// Verify a signature with an independent implementation (p256 / ring), by key type.
pub fn verify(public: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    match public.keytype.as_str() {
        "ecdsa" => {
            use p256::ecdsa::signature::Verifier as _;
            use p256::pkcs8::DecodePublicKey as _;
            let Ok(vk) = p256::ecdsa::VerifyingKey::from_public_key_der(&public.public) else {
                return false;
            };
            let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else {
                return false;
            };
            sig.to_bytes().len() == 64 && vk.verify(msg, &sig).is_ok()
        }
        "ed25519" => {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public.public)
                .verify(msg, sig)
                .is_ok()
        }
        "rsa" => {
            use der::Decode as _;
            let Ok(spki) = spki::SubjectPublicKeyInfoRef::from_der(&public.public) else {
                return false;
            };
            let Some(pkcs1) = spki.subject_public_key.as_bytes() else {
                return false;
            };
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PSS_2048_8192_SHA256,
                pkcs1,
            )
            .verify(msg, sig)
            .is_ok()
        }
        _ => false,
    }
}

/// Run an external tool; panics with its output if it cannot be started.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (install it: `make test` does): {e}"));
    {
        use std::io::Write as _;
        let mut input = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            input.write_all(data).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// Run and require success; returns stdout.
pub fn run_ok(program: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Vec<u8> {
    let out = run(program, args, env, stdin);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A key file without its PEM headers (what openssl accepts).
pub fn strip_headers(pem: &str) -> String {
    pem.lines()
        .filter(|l| l.starts_with("-----") || !(l.contains(':') || l.is_empty()))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The DER of the first PEM block in `text`.
pub fn pem_der(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .filter(|l| !l.contains(':') && !l.is_empty())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// A DER tree's shape: tags, with the length of primitive values and the value of OIDs
/// and small integers — salts, IVs and ciphertext bytes left out.
pub fn der_shape(der: &[u8]) -> String {
    let mut out = String::new();
    shape_into(der, &mut out);
    out
}

fn shape_into(mut der: &[u8], out: &mut String) {
    while !der.is_empty() {
        let tag = der[0];
        let (len, hdr) = match der[1] {
            l if l < 0x80 => (l as usize, 2),
            0x81 => (der[2] as usize, 3),
            0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
            _ => panic!("unexpected DER length"),
        };
        let value = &der[hdr..hdr + len];
        if tag & 0x20 != 0 {
            out.push_str(&format!("{tag:02x}{{"));
            shape_into(value, out);
            out.push('}');
        } else if tag == 0x06 {
            out.push_str(&format!("OID({})", hex::encode(value)));
        } else if tag == 0x02 && len <= 4 {
            out.push_str(&format!("INT({})", hex::encode(value)));
        } else {
            out.push_str(&format!("{tag:02x}[{len}]"));
        }
        out.push(' ');
        der = &der[hdr + len..];
    }
}
