//! Credentials: where they are looked for, and what was tried.

use super::*;

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
            .field("password", &crate::exit::Redacted)
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
    pub(super) fn basic_header(&self) -> Zeroizing<String> {
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
                &self.vouch_password.as_ref().map(|_| crate::exit::Redacted),
            )
            .field(
                "notary_auth",
                &self.notary_auth.as_ref().map(|_| crate::exit::Redacted),
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

pub(super) const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

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
                let msg = crate::remote::http::excerpt(&out, 200);
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

/// Whether an environment variable is kept from credential helpers: it may hold one of
/// vouch's secrets. Helpers get the rest of the environment (they need `PATH`, `HOME`,
/// `DOCKER_CONFIG`, D-Bus and display variables, `PASSWORD_STORE_DIR`, `GNUPGHOME`,
/// proxies…), but never a signing-key passphrase, a PIN or other credentials:
/// - every `VOUCH_*` variable (`VOUCH_*_PASSPHRASE`, `VOUCH_PASSWORD`, `VOUCH_PKCS11_PIN`…);
/// - every `NOTARY_*` variable (`NOTARY_*_PASSPHRASE`, `NOTARY_AUTH`);
/// - any variable whose name contains `PASSPHRASE` (`DOCKER_CONTENT_TRUST_*_PASSPHRASE`,
///   and whatever else a script exported for vouch or notary).
pub fn withheld_from_helpers(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy().to_ascii_uppercase();
    name.starts_with("VOUCH_") || name.starts_with("NOTARY_") || name.contains("PASSPHRASE")
}

/// Runs `bin get` with `input` on stdin; returns (success, stdout) or a reason. The
/// helper gets the environment without vouch's secrets ([`withheld_from_helpers`]).
pub(super) fn run_with_timeout(
    bin: &Path,
    input: &str,
    timeout: Duration,
) -> Result<(bool, Vec<u8>), String> {
    let mut cmd = Command::new(bin);
    for (name, _) in std::env::vars_os() {
        if withheld_from_helpers(&name) {
            cmd.env_remove(&name);
        }
    }
    let mut child = cmd
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
    let started = Instant::now();
    let deadline = started.checked_add(timeout);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if deadline.is_none_or(|d| Instant::now() < d) => {
                std::thread::sleep(Duration::from_millis(10))
            }
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
pub(super) fn parse_notary_auth(raw: &str) -> Result<(String, Zeroizing<String>), &'static str> {
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
pub(super) enum AuthEntry {
    Password(String, Zeroizing<String>),
    IdentityToken(Zeroizing<String>),
}

pub(super) fn auth_entry(v: &serde_json::Value) -> Result<Option<AuthEntry>, &'static str> {
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
pub(super) fn normalize_host(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_owned()
}

/// The `Authorization` header value for basic auth; none for an identity token, which
/// only a token server takes.
pub(crate) fn basic_authorization(c: &Credentials) -> Option<Zeroizing<String>> {
    (!c.identity_token).then(|| c.basic_header())
}
