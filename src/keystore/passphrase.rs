//! Where passphrases come from. The library never prompts: the binary adds an
//! interactive [`PassphraseSource`]; here are the non-interactive ones (environment,
//! file, fixed value) and a [`Chain`] to combine them. The OS keyring cache is in
//! [`super::keyring`].
//!
//! Retries: a passphrase from a configured source (environment, file) that turns out
//! wrong fails at once with `WrongPassphrase`; a cached one is forgotten and the next
//! source is asked; an interactive one may be asked again, [`MAX_ATTEMPTS`] times in all.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::role::is_base_role;
use super::KeystoreError;
use crate::tuf::KeyId;

/// How many wrong passphrases an interactive source may give for one key.
pub const MAX_ATTEMPTS: u32 = 3;
/// The shortest passphrase an interactive prompt should accept for a new key (notary's rule).
pub const MIN_NEW_PASSPHRASE_LEN: usize = 8;

/// Where a passphrase came from, which decides what happens when it is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Set by the user for this run (environment, file): wrong means stop.
    Configured,
    /// Remembered from an earlier run (keyring): wrong means forget it and ask on.
    Cached,
    /// Typed by the user: wrong means ask again, up to [`MAX_ATTEMPTS`].
    Interactive,
}

/// A passphrase. Wiped on drop; `Debug` never shows it and there is no `Display`.
#[derive(Clone)]
pub struct Secret {
    value: Zeroizing<String>,
    origin: Origin,
}

impl Secret {
    /// A passphrase from a configured source.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret::with_origin(value, Origin::Configured)
    }
    pub fn with_origin(value: impl Into<String>, origin: Origin) -> Secret {
        Secret {
            value: Zeroizing::new(value.into()),
            origin,
        }
    }
    /// The passphrase text. Do not log it.
    pub fn expose(&self) -> &str {
        &self.value
    }
    pub fn origin(&self) -> Origin {
        self.origin
    }
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([REDACTED], {:?})", self.origin)
    }
}

/// What the key store asks for.
#[derive(Debug, Clone)]
pub struct PassphraseRequest {
    /// The key's ID; `None` while importing an encrypted key whose ID is not known yet.
    pub key_id: Option<KeyId>,
    /// The role (notary's "alias"): `root`, `targets`, `targets/releases`, a signer name, or "".
    pub role: String,
    /// A passphrase for a key being written (should be asked twice by a prompt).
    pub new_key: bool,
    /// 0 for the first request for this key, then 1, 2, … after wrong answers.
    pub attempt: u32,
}

impl PassphraseRequest {
    /// How a prompt names the key: `root key with ID 1a2b3c4`.
    pub fn describe(&self) -> String {
        let role = if self.role.is_empty() {
            "imported"
        } else {
            &self.role
        };
        match &self.key_id {
            Some(id) => format!("{role} key with ID {}", id.short()),
            None => format!("{role} key"),
        }
    }
}

/// Something that can supply passphrases.
pub trait PassphraseSource {
    /// A passphrase for `req`, or `None` if this source has none for it.
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError>;

    /// Told whether a passphrase it gave was right (a cache stores or forgets it).
    fn report(&self, _req: &PassphraseRequest, _secret: &Secret, _accepted: bool) {}
}

/// The environment variables consulted for a role, in order: vouch's own, notary's,
/// docker's (notary `cmd/notary/main.go`, docker `cli/trust/trust.go`).
pub fn env_vars_for(role: &str) -> Vec<&'static str> {
    const DOCKER_REPO: &str = "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE";
    match role {
        "root" => vec![
            "VOUCH_ROOT_PASSPHRASE",
            "NOTARY_ROOT_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
        ],
        "targets" => vec![
            "VOUCH_TARGETS_PASSPHRASE",
            "NOTARY_TARGETS_PASSPHRASE",
            DOCKER_REPO,
        ],
        "snapshot" => vec![
            "VOUCH_SNAPSHOT_PASSPHRASE",
            "NOTARY_SNAPSHOT_PASSPHRASE",
            DOCKER_REPO,
        ],
        // notary has no timestamp variable (the server holds that key); vouch does, for
        // repositories whose timestamp key is local.
        "timestamp" => vec!["VOUCH_TIMESTAMP_PASSPHRASE", DOCKER_REPO],
        r => {
            debug_assert!(!is_base_role(r));
            vec![
                "VOUCH_DELEGATION_PASSPHRASE",
                "NOTARY_DELEGATION_PASSPHRASE",
                DOCKER_REPO,
            ]
        }
    }
}

/// Passphrases from environment variables, by role. Empty values count as unset (as in
/// notary); values are not trimmed.
pub struct EnvSource {
    vars: HashMap<String, Zeroizing<String>>,
}

impl EnvSource {
    /// Read the relevant variables from the process environment.
    pub fn from_process_env() -> EnvSource {
        let names = ["root", "targets", "snapshot", "timestamp", "targets/x"]
            .iter()
            .flat_map(|r| env_vars_for(r));
        EnvSource::new(names.filter_map(|n| std::env::var(n).ok().map(|v| (n.to_owned(), v))))
    }

    /// Use the given variables instead of the process environment (tests, embedding).
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> EnvSource {
        EnvSource {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        }
    }

    /// The variable that would answer for `role`, if any is set.
    pub fn variable_for(&self, role: &str) -> Option<&'static str> {
        env_vars_for(role)
            .into_iter()
            .find(|n| self.vars.get(*n).is_some_and(|v| !v.is_empty()))
    }
}

impl PassphraseSource for EnvSource {
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        Ok(self
            .variable_for(&req.role)
            .and_then(|n| self.vars.get(n))
            .map(|v| Secret::new(v.as_str())))
    }
}

/// One passphrase for every key (a passphrase file or descriptor, tests).
pub struct Fixed(Secret);

impl Fixed {
    pub fn new(secret: Secret) -> Fixed {
        Fixed(secret)
    }
    /// The first line of `reader`, without its line end (`\n` or `\r\n`).
    pub fn from_reader(reader: impl Read) -> Result<Fixed, KeystoreError> {
        read_first_line(reader, Path::new("<passphrase input>")).map(Fixed)
    }
}

impl PassphraseSource for Fixed {
    fn get(&self, _req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        Ok(Some(self.0.clone()))
    }
}

/// A passphrase file: its first line is the passphrase for every key.
pub struct PassphraseFile {
    secret: Secret,
    path: PathBuf,
    insecure: bool,
}

impl PassphraseFile {
    /// Read `path`; refuse it if group or others may read or write it.
    pub fn open(path: impl AsRef<Path>) -> Result<PassphraseFile, KeystoreError> {
        let f = PassphraseFile::open_allow_insecure(path)?;
        if f.insecure {
            return Err(KeystoreError::InsecurePassphraseFile {
                mode: file_mode(&f.path).unwrap_or(0),
                path: f.path,
            });
        }
        Ok(f)
    }

    /// Read `path` whatever its permissions; [`Self::insecure`] tells the caller to warn.
    pub fn open_allow_insecure(path: impl AsRef<Path>) -> Result<PassphraseFile, KeystoreError> {
        let path = path.as_ref().to_path_buf();
        let insecure = file_mode(&path)? & 0o077 != 0;
        let file = std::fs::File::open(&path).map_err(|e| KeystoreError::io("read", &path, e))?;
        let secret = read_first_line(file, &path)?;
        Ok(PassphraseFile {
            secret,
            path,
            insecure,
        })
    }

    /// Whether group or others may read or write the file.
    pub fn insecure(&self) -> bool {
        self.insecure
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl PassphraseSource for PassphraseFile {
    fn get(&self, _req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        Ok(Some(self.secret.clone()))
    }
}

fn file_mode(path: &Path) -> Result<u32, KeystoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .map_err(|e| KeystoreError::io("read", path, e))
}

fn read_first_line(reader: impl Read, path: &Path) -> Result<Secret, KeystoreError> {
    let mut buf = Zeroizing::new(Vec::new());
    reader
        .take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| KeystoreError::io("read", path, e))?;
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| KeystoreError::BadInput {
        what: path.display().to_string(),
        reason: "the passphrase is not valid UTF-8".into(),
    })?;
    Ok(Secret::new(text))
}

/// Ask several sources in order; the first that has a passphrase answers.
#[derive(Default)]
pub struct Chain<'a> {
    sources: Vec<Box<dyn PassphraseSource + 'a>>,
}

impl<'a> Chain<'a> {
    pub fn new() -> Chain<'a> {
        Chain {
            sources: Vec::new(),
        }
    }
    pub fn push(mut self, source: impl PassphraseSource + 'a) -> Chain<'a> {
        self.sources.push(Box::new(source));
        self
    }
    pub fn push_boxed(mut self, source: Box<dyn PassphraseSource + 'a>) -> Chain<'a> {
        self.sources.push(source);
        self
    }
}

impl PassphraseSource for Chain<'_> {
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        for s in &self.sources {
            if let Some(secret) = s.get(req)? {
                return Ok(Some(secret));
            }
        }
        Ok(None)
    }
    fn report(&self, req: &PassphraseRequest, secret: &Secret, accepted: bool) {
        for s in &self.sources {
            s.report(req, secret, accepted);
        }
    }
}

impl<T: PassphraseSource + ?Sized> PassphraseSource for &T {
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        (**self).get(req)
    }
    fn report(&self, req: &PassphraseRequest, secret: &Secret, accepted: bool) {
        (**self).report(req, secret, accepted)
    }
}

/// No passphrases at all (unencrypted keys only).
pub struct NoPassphrase;

impl PassphraseSource for NoPassphrase {
    fn get(&self, _req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        Ok(None)
    }
}
