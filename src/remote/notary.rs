//! A notary-server 0.7 over HTTP(S), spoken to as the `notary` 0.7 CLI does (protocol §1, §2).
//!
//! The first request pings `GET <server>/v2/` (5 s) to learn the auth challenge; after that
//! every request is authorized up front: a bearer token for `repository:<gun>:<actions>`
//! from the challenge's realm, or basic credentials. Reads try an anonymous token first
//! and repeat with credentials on 401, as notary does.

use std::sync::Mutex;

use super::client::{Client, RequestBuilder, Response};
use rand_core::{OsRng, RngCore};
use reqwest::{Method, Url};
use zeroize::Zeroizing;

use super::auth::{
    basic_authorization, parse_challenges, pick_challenge, Challenge, CredentialSearch, TokenSource,
};
use super::http::{
    build_client, classify_send_error, excerpt, parse_err_body, read_capped, server_error,
};
use super::{
    limits, validate_checksum, validate_role, Access, CredentialLookup, CredentialPrompt, Gun,
    Remote, RemoteError, RemoteOptions, Timeouts,
};
use crate::tuf::PublicKey;

/// A notary-server.
pub struct NotaryServer {
    base: Url,
    describe: String,
    client: Client,
    timeouts: Timeouts,
    access: Access,
    lookup: CredentialLookup,
    prompt: Option<CredentialPrompt>,
    /// `None` until pinged; then the challenge (if the server wants auth).
    challenge: Mutex<Option<Option<Challenge>>>,
    tokens: TokenSource,
    trace: Option<super::http::TraceFn>,
    /// Credential searches, per GUN registry host (the search runs helpers: do it once).
    creds: Mutex<Vec<(Vec<String>, CredentialSearch)>>,
    /// Scopes for which an anonymous token was not enough.
    anonymous_refused: Mutex<Vec<String>>,
    /// The largest root.json read ([`limits::DEFAULT_MAX_ROOT_SIZE`] unless configured).
    root_cap: u64,
}

/// One metadata request's parameters.
struct Req<'a> {
    method: Method,
    url: Url,
    body: Option<(&'a [u8], String)>,
    access: Access,
    gun: &'a Gun,
    what: String,
}

impl NotaryServer {
    /// `url` is `http(s)://host[:port][/prefix]`; requests go to `<url>/v2/…`.
    pub fn new(url: &str, opts: &RemoteOptions) -> Result<NotaryServer, RemoteError> {
        let base = super::http::parse_base_url(url)?;
        let describe = format!("notary server {}", base.as_str().trim_end_matches('/'));
        // Plain HTTP needs no TLS roots; only an https:// token realm would.
        let plain = base.scheme() == "http";
        let client = if plain {
            super::http::build_plain_http_client(&opts.tls, &opts.timeouts)?
        } else {
            build_client(&opts.tls, &opts.timeouts, false)?
        };
        let mut tokens = TokenSource::new(client.clone(), base.clone(), opts.timeouts.request)
            .allow_http_credentials(opts.allow_http_token_service)
            .traced(opts.trace.clone());
        if plain {
            tokens = tokens.with_https_fallback(opts.tls.clone(), opts.timeouts);
        }
        Ok(NotaryServer {
            tokens,
            trace: opts.trace.clone(),
            client,
            base,
            describe,
            timeouts: opts.timeouts,
            access: opts.access,
            lookup: opts.credentials.clone(),
            prompt: opts.prompt.clone(),
            challenge: Mutex::new(None),
            creds: Mutex::new(Vec::new()),
            anonymous_refused: Mutex::new(Vec::new()),
            root_cap: opts.max_root_size.unwrap_or(limits::DEFAULT_MAX_ROOT_SIZE),
        })
    }

    fn url(&self, tail: &str) -> Url {
        let mut u = self.base.clone();
        let p = format!("{}/{}", self.base.path().trim_end_matches('/'), tail);
        u.set_path(&p);
        u
    }

    fn meta_url(&self, gun: &Gun, file: &str) -> Url {
        self.url(&format!("v2/{gun}/_trust/tuf/{file}"))
    }

    fn host_port(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
    }

    /// `GET /v2/` once: the auth challenge, or `None` when the server wants none.
    fn ping(&self) -> Result<Option<Challenge>, RemoteError> {
        if let Some(c) = self.challenge.lock().unwrap().as_ref() {
            return Ok(c.clone());
        }
        let url = self.url("v2/");
        let t = self.timeouts.ping;
        let resp =
            super::http::send_traced(self.client.get(url.clone()).timeout(t), self.trace.as_ref())
                .map_err(|e| classify_send_error(e, &self.describe, url.as_str(), t))?;
        let status = resp.status().as_u16();
        let challenge = match status {
            200..=299 => None,
            401 => pick_challenge(resp.headers()),
            500..=599 => {
                let body = read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, "GET /v2/")
                    .unwrap_or_default();
                return Err(server_error(
                    &self.describe,
                    "the ping GET /v2/",
                    status,
                    &body,
                ));
            }
            _ => {
                let body = read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, "GET /v2/")
                    .unwrap_or_default();
                let ex = excerpt(&body, 120);
                return Err(RemoteError::NotNotaryServer {
                    url: self.base.as_str().trim_end_matches('/').to_owned(),
                    ping_url: url.to_string(),
                    status,
                    excerpt: if ex.is_empty() {
                        String::new()
                    } else {
                        format!(" ({ex})")
                    },
                });
            }
        };
        *self.challenge.lock().unwrap() = Some(challenge.clone());
        Ok(challenge)
    }

    /// Credentials for `gun` (looked up once per registry host, then cached).
    fn credentials(&self, gun: &Gun) -> CredentialSearch {
        let mut hosts = vec![self.host_port()];
        if let Some(h) = gun.registry_host() {
            if !hosts.iter().any(|x| x == h) {
                hosts.push(h.to_owned());
            }
        }
        if let Some((_, s)) = self.creds.lock().unwrap().iter().find(|(h, _)| *h == hosts) {
            return s.clone();
        }
        let mut s = self.lookup.find(&hosts);
        if s.found.is_none() {
            if let Some(p) = &self.prompt {
                s.looked.push("prompt".into());
                s.found = p(&self.describe);
            }
        }
        self.creds.lock().unwrap().push((hosts, s.clone()));
        s
    }

    fn build(&self, r: &Req<'_>) -> RequestBuilder {
        let mut b = self.client.request(r.method.clone(), r.url.clone());
        if let Some((body, ct)) = &r.body {
            b = b
                .header(reqwest::header::CONTENT_TYPE, ct.as_str())
                .body(body.to_vec());
        }
        b
    }

    fn send(&self, r: &Req<'_>, auth: Option<&str>) -> Result<Response, RemoteError> {
        self.send_within(r, auth, self.timeouts.request)
    }

    fn send_within(
        &self,
        r: &Req<'_>,
        auth: Option<&str>,
        t: std::time::Duration,
    ) -> Result<Response, RemoteError> {
        let mut b = self.build(r).timeout(t);
        if let Some(a) = auth {
            b = b.header(reqwest::header::AUTHORIZATION, a);
        }
        super::http::send_traced(b, self.trace.as_ref())
            .map_err(|e| classify_send_error(e, &self.describe, r.url.as_str(), t))
    }

    /// The first request to a server not probed yet goes out as it is, without the
    /// `GET /v2/` probe in front (one round trip less for a `verify`). The probe runs only
    /// when the answer needs explaining: a 401 without a challenge, or another 4xx (is
    /// this a notary server at all?). `Ok(Err(challenge))`: authenticate and send again.
    fn first_unprobed(&self, r: &Req<'_>) -> Result<Result<Response, Challenge>, RemoteError> {
        // Like the probe it replaces, a first GET gets the probe's shorter timeout.
        let t = if r.method == Method::GET {
            self.timeouts.ping
        } else {
            self.timeouts.request
        };
        let resp = self.send_within(r, None, t)?;
        let status = resp.status().as_u16();
        if status == 401 {
            if let Some(c) = pick_challenge(resp.headers()) {
                *self.challenge.lock().unwrap() = Some(Some(c.clone()));
                return Ok(Err(c));
            }
        }
        if (400..500).contains(&status) && status != 403 {
            if let Some(c) = self.ping()? {
                return Ok(Err(c));
            }
        }
        Ok(Ok(resp))
    }

    /// The `Authorization` value for one attempt; `None` = send without.
    fn authorization(
        &self,
        challenge: &Challenge,
        scope: &str,
        creds: Option<&super::Credentials>,
        tried: &str,
    ) -> Result<Option<Zeroizing<String>>, RemoteError> {
        match challenge.scheme.as_str() {
            "bearer" => {
                let t = self.tokens.token(challenge, scope, creds, tried)?;
                Ok(Some(Zeroizing::new(format!("Bearer {}", t.as_str()))))
            }
            "basic" => Ok(creds.and_then(basic_authorization)),
            _ => Ok(None),
        }
    }

    /// Sends a request with whatever authorization the server wants; the response is
    /// anything but 401/403.
    fn execute(&self, r: Req<'_>) -> Result<Response, RemoteError> {
        let access = r.access.max(self.access);
        let scope = access.scope(r.gun.as_str());
        let probed = self.challenge.lock().unwrap().clone();
        let unprobed = probed.is_none();
        let mut challenge = match probed {
            Some(c) => c,
            None => match self.first_unprobed(&r)? {
                Ok(resp) => {
                    return self.refuse_if_unauthorized(
                        resp,
                        &r,
                        &scope,
                        "no credentials were sent (the server asked for none)",
                    )
                }
                Err(c) => Some(c),
            },
        };
        let mut rechallenged = unprobed;
        loop {
            let Some(ch) = challenge.clone() else {
                let resp = self.send(&r, None)?;
                if resp.status().as_u16() == 401 && !rechallenged {
                    // Not announced on /v2/, but asked for here: follow it once.
                    if let Some(c) = pick_challenge(resp.headers()) {
                        challenge = Some(c);
                        rechallenged = true;
                        continue;
                    }
                }
                return self.refuse_if_unauthorized(
                    resp,
                    &r,
                    &scope,
                    "no credentials were sent (the server announced no auth)",
                );
            };
            let anonymous_first =
                access == Access::Pull && !self.anonymous_refused.lock().unwrap().contains(&scope);
            if anonymous_first {
                let auth = match self.authorization(&ch, &scope, None, "anonymous") {
                    Ok(a) => a,
                    // The token server may refuse anonymous requests: go on with credentials.
                    Err(RemoteError::TokenRefused { .. }) => None,
                    Err(e) => return Err(e),
                };
                if auth.is_some() || ch.scheme != "bearer" {
                    let resp = self.send(&r, auth.as_deref().map(String::as_str))?;
                    if resp.status().as_u16() != 401 {
                        return self.refuse_if_unauthorized(
                            resp,
                            &r,
                            &scope,
                            "an anonymous request",
                        );
                    }
                }
            }
            // Credentials that could not be sent are neither looked up nor asked for.
            self.tokens.check_credentials_may_go(&ch, &self.describe)?;
            let search = self.credentials(r.gun);
            let tried = search.describe();
            if anonymous_first && search.found.is_none() {
                return Err(self.unauthorized(
                    &r,
                    401,
                    &scope,
                    &format!("anonymous access was refused and {tried}"),
                ));
            }
            let auth = self.authorization(&ch, &scope, search.found.as_ref(), &tried)?;
            let resp = self.send(&r, auth.as_deref().map(String::as_str))?;
            if anonymous_first && resp.status().as_u16() != 401 {
                self.anonymous_refused.lock().unwrap().push(scope.clone());
            }
            let insufficient = resp
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_challenges)
                .any(|c| c.param("error") == Some("insufficient_scope"));
            let tried = if insufficient && search.found.is_some() {
                format!("{tried}; the token did not grant {scope} (insufficient_scope): the account lacks that permission")
            } else {
                tried
            };
            return self.refuse_if_unauthorized(resp, &r, &scope, &tried);
        }
    }

    fn unauthorized(&self, r: &Req<'_>, status: u16, scope: &str, tried: &str) -> RemoteError {
        RemoteError::Unauthorized {
            remote: self.describe.clone(),
            what: r.what.clone(),
            status,
            scope: scope.to_owned(),
            tried: tried.to_owned(),
        }
    }

    fn refuse_if_unauthorized(
        &self,
        resp: Response,
        r: &Req<'_>,
        scope: &str,
        tried: &str,
    ) -> Result<Response, RemoteError> {
        match resp.status().as_u16() {
            s @ (401 | 403) => Err(self.unauthorized(r, s, scope, tried)),
            _ => Ok(resp),
        }
    }

    /// Maps a non-200 status as notary's httpstore does; `Ok(None)` for 404.
    fn check(&self, resp: Response, what: &str) -> Result<Option<Response>, RemoteError> {
        let status = resp.status().as_u16();
        if status == 200 {
            return Ok(Some(resp));
        }
        let url = resp.url().to_string();
        let registry_api = resp
            .headers()
            .get("docker-distribution-api-version")
            .is_some_and(|v| v.as_bytes().starts_with(b"registry/"));
        let body =
            read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, what).unwrap_or_default();
        let e = parse_err_body(&body);
        match status {
            // notary-server answers every miss with its `errors` JSON; a registry's router
            // has no `/_trust/` route and answers plain text: --server names the registry
            // rather than its notary server, and "no trust data" would mislead.
            404 if registry_api && e.is_none() => Err(RemoteError::NotNotaryServer {
                url: self.base.as_str().trim_end_matches('/').to_owned(),
                ping_url: url,
                status,
                excerpt: format!(
                    " ({}; it answers as a container registry: no notary API under /_trust/)",
                    excerpt(&body, 60)
                ),
            }),
            404 => Ok(None),
            400 => {
                let e = e.unwrap_or_default();
                Err(RemoteError::Rejected {
                    remote: self.describe.clone(),
                    what: what.to_owned(),
                    code: e.code.unwrap_or_else(|| "BAD_REQUEST".into()),
                    message: e.message.unwrap_or_else(|| {
                        let ex = excerpt(&body, 200);
                        if ex.is_empty() {
                            "trust server rejected operation".into()
                        } else {
                            ex
                        }
                    }),
                    detail: e.detail,
                })
            }
            _ => Err(server_error(&self.describe, what, status, &body)),
        }
    }

    fn get_meta(
        &self,
        gun: &Gun,
        file: String,
        role: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        validate_role(role)?;
        let max_len = limits::clamp(role, max_len, self.root_cap);
        let what = format!("{gun} {file}");
        let r = Req {
            method: Method::GET,
            url: self.meta_url(gun, &file),
            body: None,
            access: Access::Pull,
            gun,
            what: what.clone(),
        };
        let resp = self.execute(r)?;
        match self.check(resp, &what)? {
            None => Ok(None),
            Some(resp) => read_capped(resp, max_len, &self.describe, &what).map(Some),
        }
    }

    fn key_request(
        &self,
        gun: &Gun,
        role: &str,
        method: Method,
        access: Access,
    ) -> Result<PublicKey, RemoteError> {
        if role != "timestamp" && role != "snapshot" {
            return Err(RemoteError::InvalidRole {
                role: role.to_owned(),
                reason: "the server only holds timestamp and snapshot keys".into(),
            });
        }
        let what = format!("{gun} {role}.key ({method})");
        let r = Req {
            method,
            url: self.meta_url(gun, &format!("{role}.key")),
            body: None,
            access,
            gun,
            what: what.clone(),
        };
        let resp = self.execute(r)?;
        let Some(resp) = self.check(resp, &what)? else {
            return Err(RemoteError::NotFound {
                remote: self.describe.clone(),
                what: format!("{role} key for {gun}"),
                code: None,
            });
        };
        let body = read_capped(resp, limits::MAX_KEY_SIZE, &self.describe, &what)?;
        serde_json::from_slice::<PublicKey>(&body).map_err(|e| RemoteError::Malformed {
            remote: self.describe.clone(),
            what,
            message: format!("not a public key: {e}"),
        })
    }
}

/// notary's upload body (protocol §1.4): one `files` part per role, filename = role name.
/// Returns the body and its Content-Type.
pub fn multipart_body(parts: &[(String, Vec<u8>)]) -> (Vec<u8>, String) {
    let boundary = loop {
        let mut raw = [0u8; 30];
        OsRng.fill_bytes(&mut raw);
        let b = hex::encode(raw);
        let clash = parts
            .iter()
            .any(|(_, data)| data.windows(b.len()).any(|w| w == b.as_bytes()));
        if !clash {
            break b;
        }
    };
    let mut body =
        Vec::with_capacity(parts.iter().map(|(_, d)| d.len() + 200).sum::<usize>() + 100);
    for (i, (role, data)) in parts.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b"\r\n");
        }
        let name = role.replace('\\', "\\\\").replace('"', "\\\"");
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

impl Remote for NotaryServer {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn get_current(
        &self,
        gun: &Gun,
        role: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        self.get_meta(gun, format!("{role}.json"), role, max_len)
    }

    fn get_by_checksum(
        &self,
        gun: &Gun,
        role: &str,
        checksum_hex: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        validate_checksum(checksum_hex)?;
        self.get_meta(gun, format!("{role}.{checksum_hex}.json"), role, max_len)
    }

    fn get_by_version(
        &self,
        gun: &Gun,
        role: &str,
        version: u64,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        self.get_meta(gun, format!("{version}.{role}.json"), role, max_len)
    }

    fn publish(&self, gun: &Gun, parts: &[(String, Vec<u8>)]) -> Result<(), RemoteError> {
        for (role, _) in parts {
            validate_role(role)?;
        }
        if parts.is_empty() {
            return Ok(());
        }
        let (body, ct) = multipart_body(parts);
        let roles: Vec<&str> = parts.iter().map(|(r, _)| r.as_str()).collect();
        let what = format!("the upload of {} for {gun}", roles.join(", "));
        let r = Req {
            method: Method::POST,
            url: self.meta_url(gun, ""),
            body: Some((&body, ct)),
            access: Access::PushPull,
            gun,
            what: what.clone(),
        };
        let resp = self.execute(r)?;
        match self.check(resp, &what)? {
            Some(_) => Ok(()),
            None => Err(RemoteError::NotFound {
                remote: self.describe.clone(),
                what: format!("upload endpoint for {gun}"),
                code: None,
            }),
        }
    }

    fn server_key(&self, gun: &Gun, role: &str) -> Result<PublicKey, RemoteError> {
        self.key_request(gun, role, Method::GET, Access::PushPull)
    }

    fn rotate_server_key(&self, gun: &Gun, role: &str) -> Result<PublicKey, RemoteError> {
        self.key_request(gun, role, Method::POST, Access::Admin)
    }

    fn delete(&self, gun: &Gun) -> Result<(), RemoteError> {
        let what = format!("deleting the trust data of {gun}");
        let r = Req {
            method: Method::DELETE,
            url: self.meta_url(gun, ""),
            body: None,
            access: Access::Admin,
            gun,
            what: what.clone(),
        };
        let resp = self.execute(r)?;
        match self.check(resp, &what)? {
            Some(_) => Ok(()),
            None => Err(RemoteError::NotFound {
                remote: self.describe.clone(),
                what: format!("delete endpoint for {gun}"),
                code: None,
            }),
        }
    }

    fn signs_timestamp(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_wire_format() {
        let parts = vec![
            ("root".to_owned(), b"{\"a\":1}".to_vec()),
            ("targets/releases".to_owned(), b"xyz".to_vec()),
        ];
        let (body, ct) = multipart_body(&parts);
        let b = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        assert_eq!(b.len(), 60);
        let expect = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"root\"\r\nContent-Type: application/octet-stream\r\n\r\n{{\"a\":1}}\r\n--{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"targets/releases\"\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--{b}--\r\n"
        );
        assert_eq!(String::from_utf8(body).unwrap(), expect);
    }

    #[test]
    fn urls() {
        let o = RemoteOptions::default();
        let s = NotaryServer::new("https://notary.example.com:4443/", &o).unwrap();
        let g = Gun::parse("example.com/app").unwrap();
        assert_eq!(
            s.meta_url(&g, "root.json").as_str(),
            "https://notary.example.com:4443/v2/example.com/app/_trust/tuf/root.json"
        );
        assert_eq!(
            s.meta_url(&g, "").as_str(),
            "https://notary.example.com:4443/v2/example.com/app/_trust/tuf/"
        );
        assert_eq!(s.url("v2/").as_str(), "https://notary.example.com:4443/v2/");
        assert_eq!(s.host_port(), "notary.example.com:4443");
        let s = NotaryServer::new("http://h/prefix/", &o).unwrap();
        assert_eq!(s.url("v2/").as_str(), "http://h/prefix/v2/");
        assert_eq!(s.describe(), "notary server http://h/prefix");
        for bad in ["https://", "https://u:p@h", "https://h?x=1", "notaurl"] {
            assert!(NotaryServer::new(bad, &o).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_validated_before_any_request() {
        // Port 9 on loopback: nothing should even be attempted.
        let s = NotaryServer::new("http://127.0.0.1:9", &RemoteOptions::default()).unwrap();
        let g = Gun::parse("example.com/app").unwrap();
        assert!(matches!(
            s.get_current(&g, "../x", 10),
            Err(RemoteError::InvalidRole { .. })
        ));
        assert!(matches!(
            s.get_by_checksum(&g, "root", "zz", 10),
            Err(RemoteError::InvalidChecksum { .. })
        ));
        assert!(matches!(
            s.server_key(&g, "root"),
            Err(RemoteError::InvalidRole { .. })
        ));
        assert!(matches!(
            s.publish(&g, &[("bad role".into(), vec![])]),
            Err(RemoteError::InvalidRole { .. })
        ));
    }
}
