//! What can go wrong with a registry, and what to do about it.

use super::*;

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
    /// `list --check-registry`: signed tags the registry no longer serves as signed.
    #[error(
        "{count} signed tag(s) of {gun} are not served as signed by registry {registry}: {details}"
    )]
    TagsNotServed {
        gun: String,
        registry: String,
        count: usize,
        details: String,
    },
}

/// The transport error, prefixed with the registry where the message would not name it
/// (TLS errors name only a URL, token-server refusals the token server).
pub(super) fn remote_message(registry: &str, source: &RemoteError) -> String {
    let m = source.to_string();
    if m.contains(&format!("registry {registry}")) {
        m
    } else {
        format!("registry {registry}: {m}")
    }
}

pub(super) fn code_suffix(code: &Option<String>, message: &Option<String>) -> String {
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
            RegistryError::Disagrees { .. }
            | RegistryError::TagMoved { .. }
            | RegistryError::TagsNotServed { .. } => ExitCode::NotTrusted,
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
            RegistryError::TagsNotServed { gun, .. } => format!(
                "remove the signatures of tags that are gone with `vouch unsign {gun}:TAG…`; for a moved tag, check what it points to now and sign it again, or deploy the pinned reference `vouch verify` prints"
            ),
            RegistryError::TagMoved { image, .. } => format!(
                "the tag was pushed again after it was signed, or the registry serves a different image; deploy the signed digest (shown above) or re-sign the tag after reviewing the new image: vouch sign {image}"
            ),
            RegistryError::BadInput(_) => return None,
        })
    }
}
