//! Bearer tokens from a docker-registry token server (protocol §2), cached per scope.

use super::*;

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub(super) struct CachedToken {
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
    /// Credentials may go to an `http://` realm of an `https://` server.
    allow_http: bool,
    trace: Option<crate::remote::http::TraceFn>,
    /// When `client` has no TLS roots (a plain-HTTP server): how to build one for an
    /// `https://` realm, built at most once.
    https: Option<(
        crate::remote::TlsOptions,
        crate::remote::Timeouts,
        std::sync::OnceLock<Client>,
    )>,
}

impl TokenSource {
    /// For a client without TLS roots: `https://` realms get a full client from `tls`.
    pub(crate) fn with_https_fallback(
        mut self,
        tls: crate::remote::TlsOptions,
        timeouts: crate::remote::Timeouts,
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
                let c = crate::remote::http::build_client(tls, timeouts, false)?;
                Ok(cell.get_or_init(|| c))
            }
            _ => Ok(&self.client),
        }
    }

    /// Allow (or not) credentials to an `http://` realm of an `https://` server.
    pub(crate) fn allow_http_credentials(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Report each token request to `trace`.
    pub(crate) fn traced(mut self, trace: Option<crate::remote::http::TraceFn>) -> Self {
        self.trace = trace;
        self
    }

    /// Refuses credentials for `challenge` when its realm is plain HTTP and the server is
    /// HTTPS (unless allowed): checked before credentials are looked up or asked for.
    pub(crate) fn check_credentials_may_go(
        &self,
        challenge: &Challenge,
        server: &str,
    ) -> Result<(), RemoteError> {
        if challenge.scheme != "bearer" || self.allow_http || self.server_url.scheme() != "https" {
            return Ok(());
        }
        let realm = challenge.param("realm").unwrap_or("");
        match Url::parse(realm) {
            Ok(u) if u.scheme() == "http" => Err(RemoteError::CredentialsOverHttp {
                realm: realm.to_owned(),
                server: server.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn new(client: Client, server_url: Url, timeout: Duration) -> Self {
        TokenSource {
            allow_http: false,
            trace: None,
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
        if creds.is_some()
            && url.scheme() == "http"
            && server_url.scheme() == "https"
            && !self.allow_http
        {
            return Err(RemoteError::CredentialsOverHttp {
                realm: realm.to_owned(),
                server: format!("notary server {server_url}"),
            });
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
        let resp = crate::remote::http::send_traced(req, self.trace.as_ref())
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
                .or_else(|| {
                    Some(crate::remote::http::excerpt(&body, 200)).filter(|s| !s.is_empty())
                });
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
    ) -> Result<crate::remote::client::RequestBuilder, RemoteError> {
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
pub(super) fn parse_token_reply(body: &[u8], remote: &str) -> Result<CachedToken, RemoteError> {
    #[derive(serde::Deserialize)]
    struct TokenReply {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
        /// Any JSON number: a value that does not fit an integer, a negative or a huge
        /// one is clamped below, never an error and never an overflow.
        #[serde(default)]
        expires_in: Option<serde_json::Number>,
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
    let now = Instant::now();
    Ok(CachedToken {
        token: Zeroizing::new(token),
        until: now
            .checked_add(cache_lifetime(reply.expires_in.as_ref()))
            .unwrap_or(now),
    })
}

/// The longest vouch keeps a token, whatever the server says: a command never runs
/// that long, and a token server's number cannot push an `Instant` out of range.
const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// How long a token with this `expires_in` is used: notary/distribution say at least 60 s
/// (also when it is missing, negative or not a number); 5 s of margin; at most a day.
pub(super) fn cache_lifetime(expires_in: Option<&serde_json::Number>) -> Duration {
    let secs = match expires_in {
        None => 60,
        Some(n) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|i| i.max(0).unsigned_abs()))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f > 0.0)
                    .map(|f| f.min(MAX_TOKEN_LIFETIME_SECS as f64) as u64)
            })
            .unwrap_or(60),
    };
    Duration::from_secs(secs.clamp(60, MAX_TOKEN_LIFETIME_SECS) - 5)
}
