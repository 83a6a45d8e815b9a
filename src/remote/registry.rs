//! The container registry client: which manifest a tag names (Docker registry HTTP API v2,
//! as served by distribution, Harbor, Docker Hub and the OCI distribution spec).
//!
//! [`Registry::resolve_tag`] sends `HEAD` and then `GET /v2/<name>/manifests/<tag>` with all
//! four manifest media types in `Accept` (OCI manifest and index, Docker v2 manifest and
//! manifest list). Without them a registry answers 404 for OCI content, rewrites a Docker
//! v2 manifest to schema 1 (another digest), or replaces a list by its amd64 child. The
//! digest is the sha256 of the exact bytes received; a `Docker-Content-Digest` header must
//! agree with it, and so must the digest the `HEAD` reported (else the tag moved meanwhile).
//! For a multi-arch image the index/list itself is what the tag names, so its digest is
//! what gets signed. Schema 1 manifests are refused: their digest is not the sha256 of what
//! is served, and Docker stopped producing them years ago.
//!
//! Transport ([`transport`]): HTTPS, verified against the system roots plus an optional CA
//! file. Plain HTTP is only ever tried for loopback registries (`localhost`, `127.0.0.0/8`,
//! `[::1]`) and registries the user lists as insecure; for those, as Docker does, HTTPS is
//! tried first without certificate verification, then HTTP. Nothing else falls back.
//!
//! Auth: the `GET /v2/` ping announces it. Bearer (the docker token protocol, scope
//! `repository:<name>:pull`, anonymous when no credentials are found) and Basic are spoken.
//! Credentials come from `VOUCH_USERNAME`/`VOUCH_PASSWORD`, then Docker's `config.json`
//! (`credHelpers`, `credsStore`, `auths`) for the registry host — not from `NOTARY_AUTH`,
//! which is the notary server's. Docker Hub's credentials are found under
//! `https://index.docker.io/v1/`, as `docker login` stores them.
//!
//! Nothing here prints or prompts.

use std::sync::{Arc, Mutex};

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::auth::{
    basic_authorization, parse_challenges, Challenge, CredentialSearch, TokenSource,
};
use super::http::{
    build_registry_client, classify_send_error, excerpt, parse_err_body, read_capped, server_error,
};
use super::{limits, CredentialLookup, RemoteError, Timeouts, TlsOptions};
use crate::error::ExitCode;
use crate::reference::{DOCKER_HUB, DOCKER_HUB_API, DOCKER_HUB_LEGACY};

/// The most vouch reads of a manifest (distribution itself refuses manifests over 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What every manifest request accepts.
pub const ACCEPTED_MEDIA_TYPES: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

const DIGEST_HEADER: &str = "docker-content-digest";

/// How a registry is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with certificate verification, nothing else.
    HttpsOnly,
    /// HTTPS without certificate verification, then plain HTTP (loopback and listed-insecure
    /// registries, as Docker treats them).
    HttpsThenHttp,
}

/// `true` for `localhost`, `127.0.0.0/8` and `::1` (with or without a port; IPv6 in brackets).
/// Names are not resolved: `myhost` is not loopback even if it resolves to 127.0.0.1.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map(|(n, _)| n).unwrap_or(host),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The transport for `host` (`host[:port]` as in an image reference). `listed_insecure`:
/// the user named it with `--insecure-registry` or `registries.<host>.insecure` in config.
pub fn transport(host: &str, listed_insecure: bool) -> Transport {
    if listed_insecure || is_loopback(host) {
        Transport::HttpsThenHttp
    } else {
        Transport::HttpsOnly
    }
}

/// `host[:port]` as the user may write it in `--insecure-registry` or a config key
/// (`https://host:5000/` → `host:5000`); `None` when it is not a host.
pub fn normalize_registry_host(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.trim_end_matches('/');
    if s.is_empty() || s.contains('/') || s.contains(char::is_whitespace) {
        return None;
    }
    Some(if s == DOCKER_HUB_LEGACY || s == DOCKER_HUB_API {
        DOCKER_HUB.to_owned()
    } else {
        s.to_owned()
    })
}

/// How to reach a registry.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// A CA file here is *added* to the system roots; client certificate and key optional.
    pub tls: TlsOptions,
    pub timeouts: Timeouts,
    /// Where credentials are looked up (`notary_auth` is ignored for registries).
    pub credentials: CredentialLookup,
    /// Listed as insecure by the user (see [`transport`]).
    pub insecure: bool,
}

/// A manifest as the registry serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:<hex>` of the exact bytes.
    pub digest: String,
    /// Length of the exact bytes.
    pub size: u64,
    /// `Content-Type` (or the body's `mediaType` when the header is missing or generic).
    pub media_type: String,
}

impl Manifest {
    /// An OCI index or a Docker manifest list (a multi-arch image).
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_MANIFEST_LIST
    }
}

/// Registry errors: transport and auth errors (as for notary servers) plus what can go
/// wrong with manifests.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Talking to the registry failed (unreachable, TLS, timeout, 401 after credentials…).
    #[error("{}", remote_message(registry, source))]
    Remote {
        /// The registry `host[:port]`.
        registry: String,
        /// Whether plain HTTP was allowed (loopback or listed insecure).
        transport: Transport,
        source: Box<RemoteError>,
    },
    #[error("invalid registry request: {0}")]
    BadInput(String),
    /// The ping (`GET /v2/`) got neither 2xx nor 401.
    #[error("{url} does not look like a container registry: GET {url}/v2/ returned HTTP {status}{excerpt}")]
    NotRegistry {
        registry: String,
        url: String,
        status: u16,
        excerpt: String,
    },
    /// 404 for the tag or digest (distribution's `MANIFEST_UNKNOWN` / `NAME_UNKNOWN`).
    #[error(
        "registry {registry} has no manifest for {image}{}",
        code_suffix(code, message)
    )]
    ManifestUnknown {
        registry: String,
        /// `name:tag` or `name@sha256:…` (without the registry).
        image: String,
        code: Option<String>,
        message: Option<String>,
    },
    #[error("registry {registry} serves {image} as a Docker schema 1 manifest ({media_type}); vouch does not sign schema 1 manifests")]
    Schema1 {
        registry: String,
        image: String,
        media_type: String,
    },
    /// The bytes received do not hash to the digest the registry (or the request) named.
    #[error("registry {registry} sent a manifest for {image} whose sha256 is {computed}, but {claimed_by} is {claimed}; refusing it")]
    DigestMismatch {
        registry: String,
        image: String,
        computed: String,
        claimed_by: String,
        claimed: String,
    },
    /// `HEAD` and `GET` named different manifests.
    #[error(
        "the tag {image} moved while it was read from registry {registry} ({first}, then {second})"
    )]
    TagMovedDuringRead {
        registry: String,
        image: String,
        first: String,
        second: String,
    },
    /// A body that is not a manifest.
    #[error("registry {registry} sent something that is not a manifest for {image}: {message}")]
    Malformed {
        registry: String,
        image: String,
        message: String,
    },
    /// The user's digest (and size) for a tag differ from what the registry serves.
    #[error("{image}: {given} was given, but registry {registry} serves {served} for the tag")]
    Disagrees {
        image: String,
        registry: String,
        given: String,
        served: String,
    },
    /// The signed digest of a tag is not what the registry serves now.
    #[error(
        "{image} is signed as {signed}, but registry {registry} now serves {served} for the tag"
    )]
    TagMoved {
        image: String,
        registry: String,
        signed: String,
        served: String,
    },
}

/// The transport error, prefixed with the registry where the message would not name it
/// (TLS errors name only a URL, token-server refusals the token server).
fn remote_message(registry: &str, source: &RemoteError) -> String {
    let m = source.to_string();
    if m.contains(&format!("registry {registry}")) {
        m
    } else {
        format!("registry {registry}: {m}")
    }
}

fn code_suffix(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" (HTTP 404 {c}: {m})"),
        (Some(c), None) => format!(" (HTTP 404 {c})"),
        (None, Some(m)) => format!(" (HTTP 404: {m})"),
        (None, None) => " (HTTP 404)".into(),
    }
}

impl RegistryError {
    /// A tag or image the registry does not have, or a schema 1 image, is bad input (2); a
    /// digest that disagrees with the registry, or a tag that moved since it was signed, is
    /// a definitive "no" (1); the registry failing or refusing is 3.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RegistryError::Remote { source, .. } => source.exit_code(),
            RegistryError::BadInput(_)
            | RegistryError::ManifestUnknown { .. }
            | RegistryError::Schema1 { .. } => ExitCode::Usage,
            RegistryError::Disagrees { .. } | RegistryError::TagMoved { .. } => {
                ExitCode::NotTrusted
            }
            RegistryError::NotRegistry { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::TagMovedDuringRead { .. }
            | RegistryError::Malformed { .. } => ExitCode::Remote,
        }
    }

    /// The registry could not be asked about a manifest: no connection, timeout, TLS
    /// failure, server error, credentials refused, or not a registry at all. `false` when it
    /// answered (unknown tag, another digest) or misbehaved (digest mismatch, oversized or
    /// unparsable manifest), and for bad input.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RegistryError::Remote { source, .. } => matches!(
                source.as_ref(),
                RemoteError::Unavailable { .. }
                    | RemoteError::Timeout { .. }
                    | RemoteError::Tls { .. }
                    | RemoteError::Server { .. }
                    | RemoteError::Unauthorized { .. }
                    | RemoteError::TokenRefused { .. }
            ),
            RegistryError::NotRegistry { .. } => true,
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            RegistryError::Remote {
                registry,
                transport,
                source,
            } => match source.as_ref() {
                RemoteError::Unavailable { .. } | RemoteError::Timeout { .. } => {
                    if *transport == Transport::HttpsOnly {
                        format!("is the registry running and reachable over HTTPS? vouch speaks plain HTTP only to loopback registries and to those listed with --insecure-registry {registry} (or \"registries\": {{\"{registry}\": {{\"insecure\": true}}}} in the config file)")
                    } else {
                        format!("is the registry {registry} running and reachable?")
                    }
                }
                // The registry refused *us*: it wants a client certificate.
                RemoteError::Tls { cause, .. }
                    if cause.contains("BadCertificate") || cause.contains("CertificateRequired") =>
                {
                    format!(
                        "the registry asks for a client certificate: put NAME.cert and NAME.key in ~/.config/docker/certs.d/{registry}/ (or /etc/docker/certs.d/{registry}/), as for docker, or give \"registries\": {{\"{registry}\": {{\"tls_client_cert\": \"FILE\", \"tls_client_key\": \"FILE\"}}}} in the config file"
                    )
                }
                RemoteError::Tls { .. } => format!(
                    "give the CA that signed the registry's certificate (\"registries\": {{\"{registry}\": {{\"root_ca\": \"FILE\"}}}} in the config file, or --tls-ca-cert FILE), or list the registry with --insecure-registry {registry}"
                ),
                RemoteError::Unauthorized { .. } | RemoteError::TokenRefused { .. } => format!(
                    "check the credentials for {registry}: `docker login {registry}` stores them in $DOCKER_CONFIG/config.json (default ~/.docker/config.json), which vouch reads; VOUCH_USERNAME/VOUCH_PASSWORD override it"
                ),
                RemoteError::TooLarge { .. } => format!(
                    "registry {registry} sent more than a manifest may hold ({} bytes); it is misbehaving",
                    MAX_MANIFEST_SIZE
                ),
                other => return other.hint(),
            },
            RegistryError::NotRegistry { .. } => {
                "check the registry part of the image reference (host and port)".into()
            }
            RegistryError::ManifestUnknown {
                registry, image, ..
            } => format!(
                "check the tag (`skopeo list-tags docker://{registry}/{}` lists them) and push the image before signing it",
                image.split([':', '@']).next().unwrap_or(image)
            ),
            RegistryError::Schema1 { .. } => {
                "push the image again with a current docker, buildah or skopeo (schema 2 or OCI), then sign it".into()
            }
            RegistryError::DigestMismatch { .. } | RegistryError::Malformed { .. } => {
                "the registry (or something between it and vouch) is misbehaving; do not sign or deploy this tag until it is explained".into()
            }
            RegistryError::TagMovedDuringRead { .. } => {
                "someone pushed the tag at the same time; run the command again".into()
            }
            RegistryError::Disagrees { .. } => {
                "check which image you mean to sign; to sign a digest the registry does not serve for this tag (e.g. before pushing it), add --no-registry-check".into()
            }
            RegistryError::TagMoved { image, .. } => format!(
                "the tag was pushed again after it was signed, or the registry serves a different image; deploy the signed digest (shown above) or re-sign the tag after reviewing the new image: vouch sign {image}"
            ),
            RegistryError::BadInput(_) => return None,
        })
    }
}

/// The chosen endpoint: base URL, its client, the ping's challenge and a token source.
struct Endpoint {
    base: Url,
    client: Client,
    challenge: Option<Challenge>,
    tokens: TokenSource,
}

/// One registry.
pub struct Registry {
    /// As in the reference (`docker.io`, `127.0.0.1:5000`).
    host: String,
    describe: String,
    transport: Transport,
    /// Base URLs to try, in order, each with its client.
    candidates: Vec<(Url, Client)>,
    timeouts: Timeouts,
    lookup: CredentialLookup,
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

    fn wrap(&self, source: RemoteError) -> RegistryError {
        RegistryError::Remote {
            registry: self.host.clone(),
            transport: self.transport,
            source: Box::new(source),
        }
    }

    /// The manifest `name:tag` names now.
    pub fn resolve_tag(&self, name: &str, tag: &str) -> Result<Manifest, RegistryError> {
        validate_name(name)?;
        if tag.is_empty()
            || tag.len() > 128
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
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
    fn endpoint(&self) -> Result<Arc<Endpoint>, RegistryError> {
        let mut slot = self.endpoint.lock().unwrap();
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let t = self.timeouts.ping;
        let mut last_err = None;
        for (base, client) in &self.candidates {
            let url = base.join("v2/").expect("static path");
            let resp = match client.get(url.clone()).timeout(t).send() {
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
                tokens: TokenSource::new(client.clone(), base.clone(), self.timeouts.request),
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
        let what = format!("{method} {}", url.path());
        let scope = format!("repository:{name}:pull");
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
            let mut req = ep
                .client
                .request(method.clone(), url.clone())
                .header(ACCEPT, ACCEPTED_MEDIA_TYPES.join(", "));
            if let Some(a) = &auth {
                req = req.header(reqwest::header::AUTHORIZATION, a.as_str());
            }
            let resp = req.send().map_err(|e| {
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

/// Repository names as they go into the URL path (already normalised by the reference
/// parser; checked again here because the library may be called directly).
fn validate_name(name: &str) -> Result<(), RegistryError> {
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

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The media type of a `Content-Type` header, without parameters.
fn content_type(h: &HeaderMap) -> Option<String> {
    header_str(h, CONTENT_TYPE.as_str()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

fn is_schema1(media_type: &str) -> bool {
    media_type == DOCKER_SCHEMA1 || media_type == DOCKER_SCHEMA1_SIGNED
}

/// Bearer if offered, else Basic.
fn pick_challenge(h: &HeaderMap) -> Option<Challenge> {
    let all: Vec<Challenge> = h
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect();
    all.iter()
        .find(|c| c.scheme == "bearer")
        .or_else(|| all.iter().find(|c| c.scheme == "basic"))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "LOCALHOST:5000",
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "registry.example.com",
            "registry.example.com:5000",
            "localhost.example.com",
            "127.0.0.1.nip.io:5000",
            "myhost",
            "10.0.0.1:5000",
            "128.0.0.1",
            "[::2]:5000",
            "[fe80::1]",
            "docker.io",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    /// A non-loopback registry that is not listed insecure is never contacted over HTTP.
    #[test]
    fn transport_decision() {
        assert_eq!(
            transport("registry.example.com", false),
            Transport::HttpsOnly
        );
        assert_eq!(
            transport("registry.example.com:80", false),
            Transport::HttpsOnly
        );
        assert_eq!(transport("10.1.2.3:5000", false), Transport::HttpsOnly);
        assert_eq!(transport("docker.io", false), Transport::HttpsOnly);
        assert_eq!(transport("127.0.0.1:5000", false), Transport::HttpsThenHttp);
        assert_eq!(transport("localhost", false), Transport::HttpsThenHttp);
        assert_eq!(transport("[::1]:5000", false), Transport::HttpsThenHttp);
        assert_eq!(transport("10.1.2.3:5000", true), Transport::HttpsThenHttp);

        let opts = RegistryOptions::default();
        for host in [
            "registry.example.com",
            "registry.example.com:5000",
            "10.1.2.3:5000",
        ] {
            let r = Registry::new(host, &opts).unwrap();
            assert_eq!(r.transport(), Transport::HttpsOnly);
            let urls = r.candidate_urls();
            assert_eq!(urls, vec![format!("https://{host}/")], "{host}");
            assert!(urls.iter().all(|u| !u.starts_with("http:")), "{host}");
        }
        let r = Registry::new("docker.io", &opts).unwrap();
        assert_eq!(r.candidate_urls(), vec!["https://registry-1.docker.io/"]);
        let r = Registry::new("127.0.0.1:5000", &opts).unwrap();
        assert_eq!(
            r.candidate_urls(),
            vec!["https://127.0.0.1:5000/", "http://127.0.0.1:5000/"]
        );
        let insecure = RegistryOptions {
            insecure: true,
            ..Default::default()
        };
        let r = Registry::new("10.1.2.3:5000", &insecure).unwrap();
        assert_eq!(
            r.candidate_urls(),
            vec!["https://10.1.2.3:5000/", "http://10.1.2.3:5000/"]
        );
        for bad in ["", "a/b", "x y", "h@x"] {
            assert!(Registry::new(bad, &opts).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_normalisation() {
        assert_eq!(
            normalize_registry_host("https://reg.io:5000/").as_deref(),
            Some("reg.io:5000")
        );
        assert_eq!(normalize_registry_host("reg.io").as_deref(), Some("reg.io"));
        assert_eq!(
            normalize_registry_host("index.docker.io").as_deref(),
            Some("docker.io")
        );
        assert_eq!(normalize_registry_host("reg.io/team"), None);
        assert_eq!(normalize_registry_host(""), None);
    }

    #[test]
    fn exit_codes() {
        let unknown = RegistryError::ManifestUnknown {
            registry: "r".into(),
            image: "n:t".into(),
            code: Some("MANIFEST_UNKNOWN".into()),
            message: Some("manifest unknown".into()),
        };
        assert_eq!(unknown.exit_code(), ExitCode::Usage);
        assert_eq!(
            unknown.to_string(),
            "registry r has no manifest for n:t (HTTP 404 MANIFEST_UNKNOWN: manifest unknown)"
        );
        let moved = RegistryError::TagMoved {
            image: "r/n:t".into(),
            registry: "r".into(),
            signed: "sha256:aa".into(),
            served: "sha256:bb".into(),
        };
        assert_eq!(moved.exit_code(), ExitCode::NotTrusted);
        assert!(moved.to_string().contains("sha256:aa") && moved.to_string().contains("sha256:bb"));
        let down = RegistryError::Remote {
            registry: "reg.io".into(),
            transport: Transport::HttpsOnly,
            source: Box::new(RemoteError::Unavailable {
                remote: "registry reg.io".into(),
                url: "https://reg.io/v2/".into(),
                cause: "refused".into(),
            }),
        };
        assert_eq!(down.exit_code(), ExitCode::Remote);
        assert!(down.is_unavailable());
        assert!(!unknown.is_unavailable() && !moved.is_unavailable());
        assert!(down.hint().unwrap().contains("--insecure-registry reg.io"));
    }
}
