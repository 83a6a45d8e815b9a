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

use super::client::{Client, Response};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::exit::ExitCode;
use crate::reference::{DOCKER_HUB, DOCKER_HUB_API, DOCKER_HUB_LEGACY};
use crate::remote::auth::{
    basic_authorization, pick_challenge, Challenge, CredentialSearch, TokenSource,
};
use crate::remote::http::{
    build_registry_client, classify_send_error, excerpt, parse_err_body, read_capped, send_traced,
    server_error, TraceFn,
};
use crate::remote::{limits, CredentialLookup, RemoteError, Timeouts, TlsOptions};

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
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// A CA file here is *added* to the system roots; client certificate and key optional.
    pub tls: TlsOptions,
    pub timeouts: Timeouts,
    /// Where credentials are looked up (`notary_auth` is ignored for registries).
    pub credentials: CredentialLookup,
    /// Listed as insecure by the user (see [`transport`]).
    pub insecure: bool,
    /// Told of every request (`vouch -v`): the ping, manifests, blobs, tokens.
    pub trace: Option<super::http::TraceFn>,
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("tls", &self.tls)
            .field("timeouts", &self.timeouts)
            .field("credentials", &self.credentials)
            .field("insecure", &self.insecure)
            .field("trace", &self.trace.is_some())
            .finish()
    }
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

mod client;
mod error;
mod push;

pub use client::*;
pub use error::*;
pub use push::*;

#[cfg(test)]
mod tests;
