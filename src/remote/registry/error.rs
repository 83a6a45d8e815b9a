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
    /// A write (blob upload, manifest push) was refused.
    #[error("registry {registry} refused to store {artifact}: {what} returned HTTP {status}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    PushRefused {
        registry: String,
        /// What was being written (`the cosign signature of …`).
        artifact: String,
        what: String,
        status: u16,
        detail: String,
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
            | RegistryError::PushRefused { .. }
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
}
