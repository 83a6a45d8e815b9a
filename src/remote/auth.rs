//! Authentication to a notary server: docker-registry token auth (protocol §2) and basic
//! credentials.
//!
//! Credentials are looked up, in this order, when a server asks for them:
//! 1. `VOUCH_USERNAME` + `VOUCH_PASSWORD`;
//! 2. notary's `NOTARY_AUTH` = base64(`user:password`) (password trimmed, as notary does);
//! 3. Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `credHelpers[host]`, then `credsStore` (both through `docker-credential-<name> get`),
//!    then `auths[host]` (`auth` = base64 `user:password`, or `username`/`password`),
//!    where `host` is the notary server's `host[:port]`, then the GUN's registry host;
//! 4. the caller's prompt callback, if any.
//!
//! Each source that was consulted is remembered, so that a refusal can say exactly which
//! credentials were tried and where they were looked for.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::blocking::Client;
use reqwest::Url;
use zeroize::Zeroizing;

use super::http::{classify_send_error, parse_err_body, read_capped};
use super::{limits, RemoteError};

/// What an operation needs on `repository:<gun>`: notary's read-only / read-write / admin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// `pull`: reads. Tried anonymously first, then with credentials.
    #[default]
    Pull,
    /// `push,pull`: publishing, `GET <role>.key`.
    PushPull,
    /// `*`: `DELETE`, `POST <role>.key`.
    Admin,
}

impl Access {
    /// The actions as notary joins them into a scope.
    pub fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::PushPull => "push,pull",
            Access::Admin => "*",
        }
    }
    /// `repository:<gun>:<actions>`.
    pub fn scope(self, gun: &str) -> String {
        format!("repository:{gun}:{}", self.actions())
    }
}

/// A username and password, or an identity token, and where they came from (for messages).
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    /// The password, or the identity token when `identity_token` is set.
    pub password: Zeroizing<String>,
    /// e.g. `NOTARY_AUTH`, `docker-credential-pass (credsStore) for registry.example.com`.
    pub source: String,
    /// `password` is an identity token (docker's `identitytoken`, or a credential helper's
    /// `<token>` user): an OAuth2 refresh token, exchanged for bearer tokens at the token
    /// server (`POST`, `grant_type=refresh_token`) and never sent as Basic credentials.
    pub identity_token: bool,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &crate::error::Redacted)
            .field("source", &self.source)
            .field("identity_token", &self.identity_token)
            .finish()
    }
}

impl Credentials {
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Credentials {
            username: username.into(),
            password: Zeroizing::new(password.into()),
            source: source.into(),
            identity_token: false,
        }
    }

    /// An identity token (an OAuth2 refresh token) for the token server.
    pub fn identity(token: Zeroizing<String>, source: impl Into<String>) -> Self {
        Credentials {
            username: "<token>".into(),
            password: token,
            source: source.into(),
            identity_token: true,
        }
    }
    fn basic_header(&self) -> Zeroizing<String> {
        let plain = Zeroizing::new(format!("{}:{}", self.username, self.password.as_str()));
        Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(plain.as_bytes())
        ))
    }
}

/// Asked (with a description of the server) for credentials when none were found.
pub type CredentialPrompt = Arc<dyn Fn(&str) -> Option<Credentials> + Send + Sync>;

/// Where credentials may be found. [`CredentialLookup::from_env`] fills it from the
/// process environment; `Default` looks nowhere.
#[derive(Clone, Default)]
pub struct CredentialLookup {
    pub vouch_username: Option<String>,
    pub vouch_password: Option<Zeroizing<String>>,
    /// The raw value of `NOTARY_AUTH`.
    pub notary_auth: Option<Zeroizing<String>>,
    /// Docker's `config.json` to read, if any.
    pub docker_config: Option<PathBuf>,
    /// Where to look for `docker-credential-<name>`; `None` = the process's `PATH`.
    pub helper_path: Option<OsString>,
    /// How long a credential helper may take.
    pub helper_timeout: Option<Duration>,
}

impl fmt::Debug for CredentialLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialLookup")
            .field("vouch_username", &self.vouch_username)
            .field(
                "vouch_password",
                &self.vouch_password.as_ref().map(|_| crate::error::Redacted),
            )
            .field(
                "notary_auth",
                &self.notary_auth.as_ref().map(|_| crate::error::Redacted),
            )
            .field("docker_config", &self.docker_config)
            .finish()
    }
}

/// The result of a credential search: what was found and everything that was looked at.
#[derive(Clone, Debug, Default)]
pub struct CredentialSearch {
    pub found: Option<Credentials>,
    /// One line per place consulted, e.g. `NOTARY_AUTH (not set)`.
    pub looked: Vec<String>,
}

impl CredentialSearch {
    /// For messages: `credentials for user "alice" from NOTARY_AUTH` or
    /// `no credentials found (looked in: …)`.
    pub fn describe(&self) -> String {
        match &self.found {
            Some(c) => format!(
                "tried credentials for user {:?} from {}",
                c.username, c.source
            ),
            None => format!(
                "no credentials found (looked in: {})",
                self.looked.join("; ")
            ),
        }
    }
}

const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

impl CredentialLookup {
    /// `VOUCH_USERNAME`, `VOUCH_PASSWORD`, `NOTARY_AUTH`, and Docker's config file
    /// (`$DOCKER_CONFIG/config.json` or `$HOME/.docker/config.json`).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let docker_config = match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
            Some(d) => Some(PathBuf::from(d).join("config.json")),
            None => std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".docker/config.json")),
        };
        CredentialLookup {
            vouch_username: var("VOUCH_USERNAME"),
            vouch_password: var("VOUCH_PASSWORD").map(Zeroizing::new),
            notary_auth: var("NOTARY_AUTH").map(Zeroizing::new),
            docker_config,
            helper_path: None,
            helper_timeout: None,
        }
    }

    /// Looks for credentials for `hosts` (`host[:port]`, most specific first).
    pub fn find(&self, hosts: &[String]) -> CredentialSearch {
        let mut s = CredentialSearch::default();
        match (&self.vouch_username, &self.vouch_password) {
            (Some(u), Some(p)) => {
                s.found = Some(Credentials::new(
                    u.clone(),
                    p.as_str(),
                    "VOUCH_USERNAME/VOUCH_PASSWORD",
                ));
                return s;
            }
            (Some(_), None) => s
                .looked
                .push("VOUCH_USERNAME (set, but VOUCH_PASSWORD is not)".into()),
            (None, Some(_)) => s
                .looked
                .push("VOUCH_PASSWORD (set, but VOUCH_USERNAME is not)".into()),
            (None, None) => s
                .looked
                .push("VOUCH_USERNAME/VOUCH_PASSWORD (not set)".into()),
        }
        match &self.notary_auth {
            None => s.looked.push("NOTARY_AUTH (not set)".into()),
            Some(raw) => match parse_notary_auth(raw) {
                Ok((u, p)) => {
                    s.found = Some(Credentials {
                        username: u,
                        password: p,
                        source: "NOTARY_AUTH".into(),
                        identity_token: false,
                    });
                    return s;
                }
                Err(why) => s.looked.push(format!("NOTARY_AUTH ({why})")),
            },
        }
        match &self.docker_config {
            None => {}
            Some(path) => {
                if let Some(c) = self.search_docker_config(path, hosts, &mut s.looked) {
                    s.found = Some(c);
                }
            }
        }
        s
    }

    fn search_docker_config(
        &self,
        path: &Path,
        hosts: &[String],
        looked: &mut Vec<String>,
    ) -> Option<Credentials> {
        let shown = path.display();
        let bytes = match std::fs::File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                looked.push(format!("{shown} (no such file)"));
                return None;
            }
            Err(e) => {
                looked.push(format!("{shown} ({e})"));
                return None;
            }
            Ok(f) => {
                let mut buf = Vec::new();
                if let Err(e) = f.take(1 << 20).read_to_end(&mut buf) {
                    looked.push(format!("{shown} ({e})"));
                    return None;
                }
                buf
            }
        };
        let cfg: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                looked.push(format!("{shown} (not valid JSON: {e})"));
                return None;
            }
        };
        let helpers = cfg.get("credHelpers").and_then(|h| h.as_object());
        let store = cfg
            .get("credsStore")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty());
        let auths: HashMap<String, &serde_json::Value> = cfg
            .get("auths")
            .and_then(|a| a.as_object())
            .map(|m| m.iter().map(|(k, v)| (normalize_host(k), v)).collect())
            .unwrap_or_default();
        for host in hosts {
            if let Some(name) = helpers.and_then(|h| h.get(host)).and_then(|n| n.as_str()) {
                let what = format!("docker-credential-{name} (credHelpers in {shown}) for {host}");
                if let Some(c) = self.run_helper(name, host, &what, looked) {
                    return Some(c);
                }
            }
        }
        if let Some(name) = store {
            for host in hosts {
                let what = format!("docker-credential-{name} (credsStore in {shown}) for {host}");
                if let Some(c) = self.run_helper(name, host, &what, looked) {
                    return Some(c);
                }
            }
        }
        for host in hosts {
            let Some(entry) = auths.get(host) else {
                continue;
            };
            let what = format!("{shown} auths[{host:?}]");
            match auth_entry(entry) {
                Ok(Some(AuthEntry::Password(u, p))) => {
                    return Some(Credentials {
                        username: u,
                        password: p,
                        source: what,
                        identity_token: false,
                    })
                }
                Ok(Some(AuthEntry::IdentityToken(t))) => {
                    return Some(Credentials::identity(t, format!("{what} (identity token)")))
                }
                Ok(None) => looked.push(format!("{what} (no username/password in it)")),
                Err(why) => looked.push(format!("{what} ({why})")),
            }
        }
        if helpers.is_none() && store.is_none() {
            looked.push(format!(
                "{shown} (no auths entry for {})",
                hosts.join(" or ")
            ));
        } else {
            looked.push(format!(
                "{shown} (auths, credsStore, credHelpers: nothing for {})",
                hosts.join(" or ")
            ));
        }
        None
    }

    fn run_helper(
        &self,
        name: &str,
        server: &str,
        what: &str,
        looked: &mut Vec<String>,
    ) -> Option<Credentials> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            looked.push(format!("{what} (invalid helper name)"));
            return None;
        }
        let exe = format!("docker-credential-{name}");
        let path = self
            .helper_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let Some(bin) = std::env::split_paths(&path)
            .map(|d| d.join(&exe))
            .find(|p| p.is_file())
        else {
            looked.push(format!("{what} ({exe} not found on PATH)"));
            return None;
        };
        match run_with_timeout(
            &bin,
            server,
            self.helper_timeout.unwrap_or(DEFAULT_HELPER_TIMEOUT),
        ) {
            Err(why) => {
                looked.push(format!("{what} ({why})"));
                None
            }
            Ok((true, out)) => {
                #[derive(serde::Deserialize)]
                struct HelperCreds {
                    #[serde(rename = "Username")]
                    username: String,
                    #[serde(rename = "Secret")]
                    secret: String,
                }
                match serde_json::from_slice::<HelperCreds>(&out) {
                    Ok(c) if c.username == "<token>" && !c.secret.is_empty() => {
                        Some(Credentials::identity(
                            Zeroizing::new(c.secret),
                            format!("{what} (identity token)"),
                        ))
                    }
                    Ok(c) if c.username.is_empty() => {
                        looked.push(format!("{what} (empty username)"));
                        None
                    }
                    Ok(c) => Some(Credentials {
                        username: c.username,
                        password: Zeroizing::new(c.secret),
                        source: what.to_owned(),
                        identity_token: false,
                    }),
                    Err(e) => {
                        looked.push(format!("{what} (unreadable answer: {e})"));
                        None
                    }
                }
            }
            Ok((false, out)) => {
                let msg = super::http::excerpt(&out, 200);
                looked.push(format!(
                    "{what} ({})",
                    if msg.is_empty() {
                        "failed".to_owned()
                    } else {
                        msg
                    }
                ));
                None
            }
        }
    }
}

/// Runs `bin get` with `input` on stdin; returns (success, stdout) or a reason.
fn run_with_timeout(bin: &Path, input: &str, timeout: Duration) -> Result<(bool, Vec<u8>), String> {
    let mut child = Command::new(bin)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(64 << 10).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let out = reader.join().unwrap_or_default();
    Ok((status.success(), out))
}

/// `NOTARY_AUTH` = base64(`user:password`); the password is trimmed (notary does).
fn parse_notary_auth(raw: &str) -> Result<(String, Zeroizing<String>), &'static str> {
    let dec = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(raw.trim().as_bytes())
            .map_err(|_| "not valid base64")?,
    );
    let plain = std::str::from_utf8(&dec).map_err(|_| "not UTF-8")?;
    match plain.find(':') {
        Some(0) => Err("empty username"),
        Some(i) => Ok((
            plain[..i].to_owned(),
            Zeroizing::new(plain[i + 1..].trim().to_owned()),
        )),
        None => Err("not of the form user:password"),
    }
}

/// What an `auths` entry of docker's config holds.
enum AuthEntry {
    Password(String, Zeroizing<String>),
    IdentityToken(Zeroizing<String>),
}

fn auth_entry(v: &serde_json::Value) -> Result<Option<AuthEntry>, &'static str> {
    // docker prefers the identity token when there is one (`docker login` with OAuth
    // stores it beside a placeholder username).
    if let Some(t) = v
        .get("identitytoken")
        .and_then(|a| a.as_str())
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(AuthEntry::IdentityToken(Zeroizing::new(t.to_owned()))));
    }
    if let Some(a) = v
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        return parse_notary_auth(a)
            .map(|(u, p)| Some(AuthEntry::Password(u, p)))
            .map_err(|_| "auth is not base64 of user:password");
    }
    let u = v
        .get("username")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty());
    let p = v.get("password").and_then(|a| a.as_str());
    if let (Some(u), Some(p)) = (u, p) {
        return Ok(Some(AuthEntry::Password(
            u.to_owned(),
            Zeroizing::new(p.to_owned()),
        )));
    }
    Ok(None)
}

/// Docker's `ConvertToHostname`: strip `http(s)://` and any path.
fn normalize_host(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_owned()
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Lower-cased scheme (`bearer`, `basic`).
    pub scheme: String,
    /// Parameters with lower-cased names.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses a `WWW-Authenticate` value (RFC 7235: one or more challenges, each a scheme and
/// `name=token` / `name="quoted"` parameters). Lenient: unparsable tails are dropped.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut p = Cursor {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        let scheme = p.token();
        if scheme.is_empty() {
            break;
        }
        let mut params = BTreeMap::new();
        loop {
            p.skip(|b| b == b' ' || b == b'\t' || b == b',');
            let save = p.i;
            let name = p.token();
            if name.is_empty() {
                break;
            }
            p.skip(|b| b == b' ' || b == b'\t');
            if !p.eat(b'=') {
                p.i = save; // the next challenge's scheme
                break;
            }
            p.skip(|b| b == b' ' || b == b'\t');
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token()
            };
            params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
        if p.i >= p.s.len() {
            break;
        }
    }
    out
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> String {
        let start = self.i;
        // RFC 7230 tchar, plus '/' so that token68-ish values survive.
        self.skip(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn quoted(&mut self) -> String {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
struct CachedToken {
    token: Zeroizing<String>,
    until: Instant,
}

/// Token fetching and caching for one remote (protocol §2: `GET <realm>?account=&scope=&service=`;
/// with an identity token, docker's OAuth2 `POST <realm>` with `grant_type=refresh_token`).
pub(crate) struct TokenSource {
    client: Client,
    server_url: Url,
    timeout: Duration,
    cache: Mutex<HashMap<(String, String), CachedToken>>,
    /// When `client` has no TLS roots (a plain-HTTP server): how to build one for an
    /// `https://` realm, built at most once.
    https: Option<(
        super::TlsOptions,
        super::Timeouts,
        std::sync::OnceLock<Client>,
    )>,
}

impl TokenSource {
    /// For a client without TLS roots: `https://` realms get a full client from `tls`.
    pub(crate) fn with_https_fallback(
        mut self,
        tls: super::TlsOptions,
        timeouts: super::Timeouts,
    ) -> Self {
        self.https = Some((tls, timeouts, std::sync::OnceLock::new()));
        self
    }

    fn client_for(&self, url: &Url) -> Result<&Client, RemoteError> {
        match &self.https {
            Some((tls, timeouts, cell)) if url.scheme() == "https" => {
                if let Some(c) = cell.get() {
                    return Ok(c);
                }
                let c = super::http::build_client(tls, timeouts, false)?;
                Ok(cell.get_or_init(|| c))
            }
            _ => Ok(&self.client),
        }
    }

    pub(crate) fn new(client: Client, server_url: Url, timeout: Duration) -> Self {
        TokenSource {
            https: None,
            client,
            server_url,
            timeout,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A bearer token for `scope`, fetched from the challenge's realm (anonymously when
    /// `creds` is `None`) or taken from the cache. `tried` describes the credentials, for
    /// messages.
    pub(crate) fn token(
        &self,
        challenge: &Challenge,
        scope: &str,
        creds: Option<&Credentials>,
        tried: &str,
    ) -> Result<Zeroizing<String>, RemoteError> {
        let (server_url, timeout) = (&self.server_url, self.timeout);
        let user = creds.map(|c| c.username.clone()).unwrap_or_default();
        let key = (scope.to_owned(), user);
        if let Some(t) = self.cache.lock().unwrap().get(&key) {
            if Instant::now() < t.until {
                return Ok(t.token.clone());
            }
        }
        let realm = challenge.param("realm").unwrap_or("");
        let refused = |status: u16, message: Option<String>| RemoteError::TokenRefused {
            realm: realm.to_owned(),
            scope: scope.to_owned(),
            status,
            message,
            tried: tried.to_owned(),
        };
        let url = Url::parse(realm).map_err(|e| RemoteError::Malformed {
            remote: format!("notary server {server_url}"),
            what: "the WWW-Authenticate challenge".into(),
            message: format!("realm {realm:?} is not a URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RemoteError::Malformed {
                remote: format!("notary server {server_url}"),
                what: "the WWW-Authenticate challenge".into(),
                message: format!("realm {realm:?} is not an http(s) URL"),
            });
        }
        if creds.is_some() && url.scheme() == "http" && server_url.scheme() == "https" {
            return Err(refused(
                0,
                Some("vouch does not send credentials over plain HTTP to the token server of an HTTPS notary server".into()),
            ));
        }
        let remote = format!("token server {realm}");
        let service = challenge.param("service").filter(|s| !s.is_empty());
        let req = match creds.filter(|c| c.identity_token) {
            // docker's OAuth2 flow: the identity token is a refresh token, POSTed as a form.
            Some(c) => {
                let mut form: Vec<(&str, &str)> = vec![
                    ("client_id", "vouch"),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.password.as_str()),
                    ("scope", scope),
                ];
                if let Some(service) = service {
                    form.push(("service", service));
                }
                self.client_for(&url)?
                    .post(url.clone())
                    .timeout(timeout)
                    .form(&form)
            }
            None => self.basic_token_request(url, scope, service, creds, timeout)?,
        };
        let resp = req
            .send()
            .map_err(|e| classify_send_error(e, &remote, realm, timeout))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body =
                read_capped(resp, limits::MAX_ERROR_SIZE, &remote, "an error").unwrap_or_default();
            let message = parse_err_body(&body)
                .and_then(|b| match (b.code, b.message) {
                    (Some(c), Some(m)) => Some(format!("{}: {m}", c.to_ascii_lowercase())),
                    (_, m) => m,
                })
                .or_else(|| Some(super::http::excerpt(&body, 200)).filter(|s| !s.is_empty()));
            return Err(refused(status, message));
        }
        let body = read_capped(resp, limits::MAX_TOKEN_RESPONSE_SIZE, &remote, "a token")?;
        let token = parse_token_reply(&body, &remote)?;
        self.cache.lock().unwrap().insert(key, token.clone());
        Ok(token.token)
    }

    /// docker's token request: `GET realm?account=&scope=&service=`, with Basic
    /// credentials when there are some.
    fn basic_token_request(
        &self,
        mut url: Url,
        scope: &str,
        service: Option<&str>,
        creds: Option<&Credentials>,
        timeout: Duration,
    ) -> Result<reqwest::blocking::RequestBuilder, RemoteError> {
        // Query keys sorted, as Go's url.Values.Encode does.
        let mut q: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some(c) = creds {
            if !c.username.is_empty() && !c.password.is_empty() {
                q.push(("account".into(), c.username.clone()));
            }
        }
        q.push(("scope".into(), scope.to_owned()));
        if let Some(service) = service {
            q.push(("service".into(), service.to_owned()));
        }
        q.sort_by(|a, b| a.0.cmp(&b.0));
        url.set_query(None);
        url.query_pairs_mut()
            .extend_pairs(q.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut req = self.client_for(&url)?.get(url.clone()).timeout(timeout);
        if let Some(c) = creds {
            if !c.username.is_empty() && !c.password.is_empty() {
                req = req.header(reqwest::header::AUTHORIZATION, c.basic_header().as_str());
            }
        }
        Ok(req)
    }
}

/// A token server's answer: `token` (docker) or `access_token` (OAuth2), and how long it
/// may be used.
fn parse_token_reply(body: &[u8], remote: &str) -> Result<CachedToken, RemoteError> {
    #[derive(serde::Deserialize)]
    struct TokenReply {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        expires_in: Option<i64>,
    }
    let malformed = |message: String| RemoteError::Malformed {
        remote: remote.to_owned(),
        what: "a token request".into(),
        message,
    };
    let reply: TokenReply =
        serde_json::from_slice(body).map_err(|e| malformed(format!("not a token reply: {e}")))?;
    let token = reply
        .token
        .filter(|t| !t.is_empty())
        .or(reply.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| malformed("no token in the reply".into()))?;
    // notary/distribution: at least 60 s; keep a little margin.
    let secs = reply.expires_in.unwrap_or(60).max(60) as u64;
    Ok(CachedToken {
        token: Zeroizing::new(token),
        until: Instant::now() + Duration::from_secs(secs - 5),
    })
}

/// The `Authorization` header value for basic auth; none for an identity token, which
/// only a token server takes.
pub(crate) fn basic_authorization(c: &Credentials) -> Option<Zeroizing<String>> {
    (!c.identity_token).then(|| c.basic_header())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer realm="http://127.0.0.1:4460/token",service="notary-server",scope="repository:example.com/t:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("http://127.0.0.1:4460/token"));
        assert_eq!(c[0].param("service"), Some("notary-server"));
        assert_eq!(c[0].param("scope"), Some("repository:example.com/t:pull"));

        let c = parse_challenges(r#"Basic realm="harness \"registry\"""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("harness \"registry\""));

        let c =
            parse_challenges(r#"Newauth realm="apps", type=1, title="Login", Basic realm=simple"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("type"), Some("1"));
        assert_eq!(c[0].param("title"), Some("Login"));
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(c[1].param("realm"), Some("simple"));

        let c = parse_challenges(r#"BEARER Realm = "r" , error="insufficient_scope""#);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("r"));
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
        assert!(parse_challenges("").is_empty());
    }

    #[test]
    fn access_scopes() {
        assert_eq!(
            Access::Pull.scope("example.com/app"),
            "repository:example.com/app:pull"
        );
        assert_eq!(Access::PushPull.scope("g"), "repository:g:push,pull");
        assert_eq!(Access::Admin.scope("g"), "repository:g:*");
        assert!(Access::Pull < Access::PushPull && Access::PushPull < Access::Admin);
    }

    #[test]
    fn notary_auth() {
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let (u, p) = parse_notary_auth(&b("alice:s3cret \n")).unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("alice", "s3cret"));
        let (u, p) = parse_notary_auth(&b("bob:a:b")).unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("bob", "a:b"));
        assert!(parse_notary_auth(&b(":x")).is_err());
        assert!(parse_notary_auth(&b("nocolon")).is_err());
        assert!(parse_notary_auth("%%%").is_err());
    }

    #[test]
    fn lookup_order_and_messages() {
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut l = CredentialLookup {
            vouch_username: Some("v".into()),
            vouch_password: Some(Zeroizing::new("vp".into())),
            notary_auth: Some(Zeroizing::new(b("n:np"))),
            ..Default::default()
        };
        let s = l.find(&["h".into()]);
        assert_eq!(s.found.as_ref().unwrap().username, "v");
        l.vouch_password = None;
        let s = l.find(&["h".into()]);
        assert_eq!(s.found.as_ref().unwrap().username, "n");
        assert_eq!(s.found.as_ref().unwrap().source, "NOTARY_AUTH");
        assert!(s.looked[0].contains("VOUCH_PASSWORD is not"));
        l.notary_auth = Some(Zeroizing::new("garbage!".into()));
        l.docker_config = Some("/nonexistent/config.json".into());
        let s = l.find(&["h".into()]);
        assert!(s.found.is_none());
        let d = s.describe();
        assert!(
            d.contains("NOTARY_AUTH (not valid base64)")
                && d.contains("/nonexistent/config.json (no such file)"),
            "{d}"
        );
        assert!(!format!("{:?}", l).contains("garbage"));
    }

    #[test]
    fn docker_config_auths() {
        let dir = std::env::temp_dir().join(format!("vouch-auth-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("config.json");
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        std::fs::write(
            &cfg,
            format!(
                r#"{{"auths":{{"https://reg.example.com/v1/":{{"auth":"{}"}},"other:5000":{{"username":"u2","password":"p2"}},"tok.example.com":{{"identitytoken":"x"}}}}}}"#,
                b("alice:pw")
            ),
        )
        .unwrap();
        let l = CredentialLookup {
            docker_config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = l.find(&["notary.example.com".into(), "reg.example.com".into()]);
        let c = s.found.unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "pw"));
        assert!(
            c.source.contains("auths[\"reg.example.com\"]"),
            "{}",
            c.source
        );
        let c = l.find(&["other:5000".into()]).found.unwrap();
        assert_eq!(c.username, "u2");
        let c = l.find(&["tok.example.com".into()]).found.unwrap();
        assert!(c.identity_token);
        assert_eq!(c.password.as_str(), "x");
        assert!(c.source.contains("identity token"), "{}", c.source);
        assert!(basic_authorization(&c).is_none(), "sent as Basic");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
