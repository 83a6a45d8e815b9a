//! The registry client: endpoint choice, auth, manifest requests.

use super::*;

/// The chosen endpoint: base URL, its client, the ping's challenge and a token source.
pub(super) struct Endpoint {
    pub(super) base: Url,
    pub(super) client: Client,
    challenge: Option<Challenge>,
    tokens: TokenSource,
}

/// One registry.
pub struct Registry {
    /// As in the reference (`docker.io`, `127.0.0.1:5000`).
    pub(super) host: String,
    pub(super) describe: String,
    transport: Transport,
    /// Base URLs to try, in order, each with its client.
    candidates: Vec<(Url, Client)>,
    pub(super) timeouts: Timeouts,
    lookup: CredentialLookup,
    pub(super) trace: Option<TraceFn>,
    endpoint: Mutex<Option<Arc<Endpoint>>>,
    creds: Mutex<Option<CredentialSearch>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("host", &self.host)
            .field("transport", &self.transport)
            .finish()
    }
}

impl Registry {
    /// `host` is the registry part of an image reference (`host[:port]`, `[v6]:port`,
    /// `docker.io`). Opening does not touch the network.
    pub fn new(host: &str, opts: &RegistryOptions) -> Result<Registry, RegistryError> {
        let bad = |why: &str| RegistryError::BadInput(format!("registry {host:?}: {why}"));
        if host.is_empty()
            || host.contains(['/', '@', '?', '#', ' '])
            || host.chars().any(|c| c.is_control())
        {
            return Err(bad("not a host[:port]"));
        }
        let transport = transport(host, opts.insecure);
        let api_host = if host == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            host
        };
        let wrap = |source: RemoteError| RegistryError::Remote {
            registry: host.to_owned(),
            transport,
            source: Box::new(source),
        };
        let url = |scheme: &str| {
            Url::parse(&format!("{scheme}://{api_host}/")).map_err(|e| bad(&e.to_string()))
        };
        let mut candidates = Vec::new();
        match transport {
            Transport::HttpsOnly => {
                let client = build_registry_client(&opts.tls, &opts.timeouts).map_err(wrap)?;
                candidates.push((url("https")?, client));
            }
            Transport::HttpsThenHttp => {
                let tls = TlsOptions {
                    insecure_skip_verify: true,
                    ..opts.tls.clone()
                };
                let client = build_registry_client(&tls, &opts.timeouts).map_err(wrap)?;
                candidates.push((url("https")?, client.clone()));
                candidates.push((url("http")?, client));
            }
        }
        let mut lookup = opts.credentials.clone();
        lookup.notary_auth = None;
        Ok(Registry {
            host: host.to_owned(),
            describe: format!("registry {host}"),
            transport,
            candidates,
            timeouts: opts.timeouts,
            lookup,
            trace: opts.trace.clone(),
            endpoint: Mutex::new(None),
            creds: Mutex::new(None),
        })
    }

    /// `registry <host>`, for messages.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The base URLs that may be contacted, in order (no request is made).
    pub fn candidate_urls(&self) -> Vec<String> {
        self.candidates
            .iter()
            .map(|(u, _)| u.as_str().to_owned())
            .collect()
    }

    /// The base URL in use once a request has been made (`https://…/` or `http://…/`).
    pub fn endpoint_url(&self) -> Option<String> {
        self.endpoint
            .lock()
            .unwrap()
            .as_ref()
            .map(|e| e.base.as_str().to_owned())
    }

    pub(super) fn wrap(&self, source: RemoteError) -> RegistryError {
        RegistryError::Remote {
            registry: self.host.clone(),
            transport: self.transport,
            source: Box::new(source),
        }
    }

    /// The manifest `name:tag` names now.
    pub fn resolve_tag(&self, name: &str, tag: &str) -> Result<Manifest, RegistryError> {
        validate_name(name)?;
        if !crate::reference::is_valid_tag(tag) {
            return Err(RegistryError::BadInput(format!("invalid tag {tag:?}")));
        }
        self.manifest(name, tag, false)
    }

    /// The manifest `name@digest` (which must hash to `digest`).
    pub fn fetch_digest(&self, name: &str, digest: &str) -> Result<Manifest, RegistryError> {
        validate_name(name)?;
        let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !ok {
            return Err(RegistryError::BadInput(format!(
                "invalid digest {digest:?}: expected sha256:<64 lowercase hex>"
            )));
        }
        self.manifest(name, digest, true)
    }

    /// `GET /v2/` once: pick the endpoint (HTTPS, or for insecure registries HTTP when HTTPS
    /// does not answer) and learn the auth challenge.
    pub(super) fn endpoint(&self) -> Result<Arc<Endpoint>, RegistryError> {
        let mut slot = self.endpoint.lock().unwrap();
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let t = self.timeouts.ping;
        let mut last_err = None;
        for (base, client) in &self.candidates {
            let url = base.join("v2/").expect("static path");
            let resp = match send_traced(client.get(url.clone()).timeout(t), self.trace.as_ref()) {
                Ok(r) => r,
                Err(e) => {
                    last_err = Some(classify_send_error(e, &self.describe, url.as_str(), t));
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let challenge = match status {
                200..=299 => None,
                401 => pick_challenge(resp.headers()),
                500..=599 => {
                    let body =
                        read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, "GET /v2/")
                            .unwrap_or_default();
                    return Err(self.wrap(server_error(
                        &self.describe,
                        "the ping GET /v2/",
                        status,
                        &body,
                    )));
                }
                _ => {
                    // Plain HTTP to the port that just failed over HTTPS, and it answers
                    // 400 (Go's "HTTP request to an HTTPS server"): the HTTPS failure is
                    // the one to report.
                    if status == 400 && base.scheme() == "http" {
                        if let Some(https_err) = last_err.take() {
                            return Err(self.wrap(https_err));
                        }
                    }
                    let body =
                        read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, "GET /v2/")
                            .unwrap_or_default();
                    let ex = excerpt(&body, 120);
                    return Err(RegistryError::NotRegistry {
                        registry: self.host.clone(),
                        url: base.as_str().trim_end_matches('/').to_owned(),
                        status,
                        excerpt: if ex.is_empty() {
                            String::new()
                        } else {
                            format!(" ({ex})")
                        },
                    });
                }
            };
            let e = Arc::new(Endpoint {
                base: base.clone(),
                client: client.clone(),
                challenge,
                tokens: TokenSource::new(client.clone(), base.clone(), self.timeouts.request)
                    .traced(self.trace.clone()),
            });
            *slot = Some(e.clone());
            return Ok(e);
        }
        Err(self.wrap(last_err.expect("at least one candidate")))
    }

    /// Credentials for this registry (looked up once).
    fn credentials(&self) -> CredentialSearch {
        let mut slot = self.creds.lock().unwrap();
        if let Some(s) = slot.as_ref() {
            return s.clone();
        }
        let hosts: Vec<String> = if self.host == DOCKER_HUB {
            vec![
                DOCKER_HUB_LEGACY.to_owned(),
                DOCKER_HUB.to_owned(),
                DOCKER_HUB_API.to_owned(),
            ]
        } else {
            vec![self.host.clone()]
        };
        let s = self.lookup.find(&hosts);
        *slot = Some(s.clone());
        s
    }

    /// Sends a manifest request with whatever auth the registry wants; the answer is
    /// anything but 401/403.
    fn send(&self, method: Method, name: &str, reference: &str) -> Result<Response, RegistryError> {
        let ep = self.endpoint()?;
        let url = ep
            .base
            .join(&format!("v2/{name}/manifests/{reference}"))
            .map_err(|e| RegistryError::BadInput(e.to_string()))?;
        let accept = ACCEPTED_MEDIA_TYPES.join(", ");
        self.execute(
            &ep,
            Request {
                method,
                url,
                name,
                push: false,
                accept: Some(&accept),
                content_type: None,
                body: None,
            },
        )
    }

    /// Sends one request to `ep` with whatever auth the registry wants (the scope asks
    /// for `pull`, or `pull,push` for writes); the answer is anything but 401/403.
    pub(super) fn execute(&self, ep: &Endpoint, r: Request<'_>) -> Result<Response, RegistryError> {
        let url = r.url;
        let what = format!("{} {}", r.method, url.path());
        let scope = if r.push {
            format!("repository:{}:pull,push", r.name)
        } else {
            format!("repository:{}:pull", r.name)
        };
        let mut challenge = ep.challenge.clone();
        let mut rechallenged = false;
        loop {
            let (auth, tried): (Option<Zeroizing<String>>, String) = match &challenge {
                None => (
                    None,
                    "no credentials were sent (the registry asked for none)".into(),
                ),
                Some(ch) => {
                    let search = self.credentials();
                    let tried = search.describe();
                    let auth = match ch.scheme.as_str() {
                        "bearer" => {
                            let t = ep
                                .tokens
                                .token(ch, &scope, search.found.as_ref(), &tried)
                                .map_err(|e| self.wrap(e))?;
                            Some(Zeroizing::new(format!("Bearer {}", t.as_str())))
                        }
                        "basic" => search.found.as_ref().and_then(basic_authorization),
                        _ => None,
                    };
                    (auth, tried)
                }
            };
            let mut req = ep.client.request(r.method.clone(), url.clone());
            if let Some(a) = r.accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(ct) = r.content_type {
                req = req.header(CONTENT_TYPE, ct);
            }
            if let Some(b) = r.body {
                req = req.body(b.to_vec());
            }
            if let Some(a) = &auth {
                req = req.header(reqwest::header::AUTHORIZATION, a.as_str());
            }
            let resp = send_traced(req, self.trace.as_ref()).map_err(|e| {
                self.wrap(classify_send_error(
                    e,
                    &self.describe,
                    url.as_str(),
                    self.timeouts.request,
                ))
            })?;
            let status = resp.status().as_u16();
            if status == 401 && challenge.is_none() && !rechallenged {
                // Not announced on /v2/, but asked for here: follow it once.
                if let Some(c) = pick_challenge(resp.headers()) {
                    challenge = Some(c);
                    rechallenged = true;
                    continue;
                }
            }
            if status == 401 || status == 403 {
                return Err(self.wrap(RemoteError::Unauthorized {
                    remote: self.describe.clone(),
                    what,
                    status,
                    scope,
                    tried,
                }));
            }
            return Ok(resp);
        }
    }

    fn manifest(
        &self,
        name: &str,
        reference: &str,
        by_digest: bool,
    ) -> Result<Manifest, RegistryError> {
        let shown = if by_digest {
            format!("{name}@{reference}")
        } else {
            format!("{name}:{reference}")
        };
        let unknown =
            |code: Option<String>, message: Option<String>| RegistryError::ManifestUnknown {
                registry: self.host.clone(),
                image: shown.clone(),
                code,
                message,
            };
        let schema1 = |media_type: &str| RegistryError::Schema1 {
            registry: self.host.clone(),
            image: shown.clone(),
            media_type: media_type.to_owned(),
        };
        let what = format!("the manifest {shown}");

        // HEAD: the digest the tag names, and an early look at type and size.
        let head = self.send(Method::HEAD, name, reference)?;
        let mut head_digest = None;
        // Anything but 200 — a 404 (GET's error body says which: MANIFEST_UNKNOWN,
        // NAME_UNKNOWN…) or a registry without HEAD support — is left to GET.
        if head.status().as_u16() == 200 {
            let h = head.headers();
            if let Some(ct) = content_type(h) {
                if is_schema1(&ct) {
                    return Err(schema1(&ct));
                }
            }
            if let Some(len) = h
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
            {
                if len > MAX_MANIFEST_SIZE {
                    return Err(self.wrap(RemoteError::TooLarge {
                        remote: self.describe.clone(),
                        what,
                        limit: MAX_MANIFEST_SIZE,
                        declared: Some(len),
                    }));
                }
            }
            head_digest = header_str(h, DIGEST_HEADER);
        }

        let resp = self.send(Method::GET, name, reference)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, &what)
                .unwrap_or_default();
            if status == 404 {
                let e = parse_err_body(&body).unwrap_or_default();
                return Err(unknown(e.code, e.message));
            }
            return Err(self.wrap(server_error(&self.describe, &what, status, &body)));
        }
        let ct = content_type(resp.headers());
        if let Some(ct) = &ct {
            if is_schema1(ct) {
                return Err(schema1(ct));
            }
        }
        let get_digest = header_str(resp.headers(), DIGEST_HEADER);
        let body = read_capped(resp, MAX_MANIFEST_SIZE, &self.describe, &what)
            .map_err(|e| self.wrap(e))?;
        let computed = format!("sha256:{}", hex::encode(Sha256::digest(&body)));

        let malformed = |message: String| RegistryError::Malformed {
            registry: self.host.clone(),
            image: shown.clone(),
            message,
        };
        let doc: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| malformed(format!("not JSON ({e}): {}", excerpt(&body, 80))))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| malformed("not a JSON object".into()))?;
        let body_type = obj.get("mediaType").and_then(|m| m.as_str());
        if obj.get("schemaVersion").and_then(|v| v.as_i64()) == Some(1)
            || body_type.is_some_and(is_schema1)
        {
            return Err(schema1(
                body_type.or(ct.as_deref()).unwrap_or(DOCKER_SCHEMA1),
            ));
        }

        let mismatch = |claimed_by: &str, claimed: &str| RegistryError::DigestMismatch {
            registry: self.host.clone(),
            image: shown.clone(),
            computed: computed.clone(),
            claimed_by: claimed_by.to_owned(),
            claimed: claimed.to_owned(),
        };
        if by_digest && computed != reference {
            return Err(mismatch("the requested digest", reference));
        }
        if let Some(d) = &get_digest {
            if *d != computed {
                return Err(mismatch("its Docker-Content-Digest header", d));
            }
        }
        if let Some(d) = &head_digest {
            if *d != computed {
                return Err(RegistryError::TagMovedDuringRead {
                    registry: self.host.clone(),
                    image: shown.clone(),
                    first: d.clone(),
                    second: computed,
                });
            }
        }
        let known = |t: &str| ACCEPTED_MEDIA_TYPES.contains(&t);
        let media_type = match (&ct, body_type) {
            (Some(c), _) if known(c) => c.clone(),
            (_, Some(b)) => b.to_owned(),
            (Some(c), None) => c.clone(),
            (None, None) => "unknown".into(),
        };
        Ok(Manifest {
            digest: computed,
            size: body.len() as u64,
            media_type,
        })
    }
}

/// One request to a registry endpoint.
pub(super) struct Request<'a> {
    pub(super) method: Method,
    pub(super) url: Url,
    /// The repository (for the token scope).
    pub(super) name: &'a str,
    /// Ask for `pull,push` instead of `pull`.
    pub(super) push: bool,
    pub(super) accept: Option<&'a str>,
    pub(super) content_type: Option<&'a str>,
    pub(super) body: Option<&'a [u8]>,
}

/// Repository names as they go into the URL path (already normalised by the reference
/// parser; checked again here because the library may be called directly).
pub(super) fn validate_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(RegistryError::BadInput(format!(
            "invalid repository name {name:?}"
        )))
    }
}

pub(super) fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The media type of a `Content-Type` header, without parameters.
pub(super) fn content_type(h: &HeaderMap) -> Option<String> {
    header_str(h, CONTENT_TYPE.as_str()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

pub(super) fn is_schema1(media_type: &str) -> bool {
    media_type == DOCKER_SCHEMA1 || media_type == DOCKER_SCHEMA1_SIGNED
}
