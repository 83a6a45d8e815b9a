//! Where trust metadata lives: a notary-server over HTTP(S), or a static repository.
//!
//! [`open_remote`] picks the implementation from the URL:
//!
//! | URL | remote | writes | who signs timestamp |
//! |---|---|---|---|
//! | `https://host[:port][/prefix]`, `http://…` | [`NotaryServer`]: notary-server's API (`/v2/<gun>/_trust/tuf/…`), token/basic auth | yes | the server |
//! | `file:///abs/dir` (or a plain path) | [`StaticRepo`] on disk: `DIR/<gun>/_trust/tuf/<role>.json`, plus `<role>.<sha256>.json` and `<version>.<role>.json` | yes (atomic) | the client |
//! | `static+https://host[/prefix]`, `static+http://…` | [`StaticRepo`] read over HTTP from any web server serving such a directory at `/prefix` | no (read-only) | the client |
//!
//! A static directory served by a web server *under `/v2/`* has the same URLs as a
//! notary-server, so `static+https://host/v2` and a notary-server at `https://host` read the
//! same paths.
//!
//! Nothing here prints or prompts; credentials come from [`auth::CredentialLookup`] (env,
//! NOTARY_AUTH, Docker's config and credential helpers) and an optional prompt callback.

pub mod auth;
pub mod certs_d;
pub mod client;
pub mod config;
mod gun;
pub mod http;
pub mod notary;
pub mod registry;
pub mod static_repo;

use std::fmt;
use std::path::PathBuf;

pub use auth::{Access, CredentialLookup, CredentialPrompt, Credentials};
pub use config::{RemoteConfig, ResolvedRemote};
pub use gun::{validate_checksum, validate_role, Gun, MAX_GUN_LEN};
pub use http::{Timeouts, TlsOptions};
pub use notary::NotaryServer;
pub use static_repo::StaticRepo;

use crate::exit::ExitCode;
use crate::tuf::PublicKey;

/// Size limits of notary's client (protocol §1.7).
pub mod limits {
    /// `timestamp.json`.
    pub const MAX_TIMESTAMP_SIZE: u64 = 1 << 20;
    /// Any metadata whose length is not known from a parent (root without snapshot meta).
    /// Root downloads are capped lower still, by the remote: see [`DEFAULT_MAX_ROOT_SIZE`].
    pub const MAX_DOWNLOAD_SIZE: u64 = 100 << 20;
    /// `root.json` (every version, by name, version or checksum): the trust anchor is read
    /// before anything vouches for its size, so a server could otherwise make every client
    /// download and parse [`MAX_DOWNLOAD_SIZE`] bytes. A root with a few certificates is a
    /// few KiB. Raised with `max_root_size` in the config file or `VOUCH_MAX_ROOT_SIZE`.
    pub const DEFAULT_MAX_ROOT_SIZE: u64 = 1 << 20;
    /// The environment variable that sets the root size cap (bytes; wins over the config
    /// file's `max_root_size`).
    pub const MAX_ROOT_SIZE_ENV: &str = "VOUCH_MAX_ROOT_SIZE";

    /// The cap for a download of `role` given the caller's `max_len`: for `root`, at most
    /// `root_cap`; for any role, at most [`MAX_DOWNLOAD_SIZE`] (a length taken from
    /// signed metadata is the signer's word, and the snapshot signer may be the server).
    pub fn clamp(role: &str, max_len: u64, root_cap: u64) -> u64 {
        let max_len = max_len.min(MAX_DOWNLOAD_SIZE);
        if role == "root" {
            max_len.min(root_cap)
        } else {
            max_len
        }
    }

    /// A size limit as written by a user: a positive number of bytes, or with a `K`, `M` or
    /// `G` suffix (KiB, MiB, GiB; `KiB`, `MiB`, `GiB` too).
    pub fn parse_size(s: &str) -> Option<u64> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        let (num, unit) = [
            ("kib", 10),
            ("mib", 20),
            ("gib", 30),
            ("k", 10),
            ("m", 20),
            ("g", 30),
        ]
        .iter()
        .find_map(|(suffix, shift)| {
            lower
                .strip_suffix(suffix)
                .map(|n| (n.trim().to_owned(), *shift))
        })
        .unwrap_or((lower.clone(), 0));
        let n: u64 = num.parse().ok().filter(|n| *n > 0)?;
        n.checked_mul(1u64 << unit)
    }
    /// `<role>.key` bodies.
    pub const MAX_KEY_SIZE: u64 = 256 << 10;
    /// Error bodies that are parsed (400 errcode bodies, token-server errors).
    pub const MAX_ERROR_SIZE: u64 = 1 << 10;
    /// Token-server responses.
    pub const MAX_TOKEN_RESPONSE_SIZE: u64 = 1 << 20;
}

/// One place trust metadata can be read from and (usually) published to.
///
/// All methods validate role names and checksums before they build a URL or path.
/// `max_len` is the most the caller accepts; a larger answer is refused with
/// [`RemoteError::TooLarge`] before the body is read (or as soon as it passes the cap).
pub trait Remote: Send + Sync {
    /// For messages: `notary server https://…`, `static repository /path`.
    fn describe(&self) -> String;

    /// `GET <role>.json`. `Ok(None)` when the remote has no such metadata (404).
    fn get_current(
        &self,
        gun: &Gun,
        role: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError>;

    /// `GET <role>.<checksum>.json` (lowercase hex; only SHA-256 finds anything on notary-server).
    fn get_by_checksum(
        &self,
        gun: &Gun,
        role: &str,
        checksum_hex: &str,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError>;

    /// `GET <version>.<role>.json`.
    fn get_by_version(
        &self,
        gun: &Gun,
        role: &str,
        version: u64,
        max_len: u64,
    ) -> Result<Option<Vec<u8>>, RemoteError>;

    /// Publish several roles at once (one multipart POST for a server; an atomic set of
    /// file writes for a static repository). `parts` are `(role, exact file bytes)`.
    fn publish(&self, gun: &Gun, parts: &[(String, Vec<u8>)]) -> Result<(), RemoteError>;

    /// `GET <role>.key`: the public key the server holds for `timestamp` or `snapshot`.
    /// Static repositories hold no keys ([`RemoteError::NotSupported`]).
    fn server_key(&self, gun: &Gun, role: &str) -> Result<PublicKey, RemoteError>;

    /// `POST <role>.key`: have the server create a new key for `timestamp` or `snapshot`.
    fn rotate_server_key(&self, gun: &Gun, role: &str) -> Result<PublicKey, RemoteError>;

    /// Delete all metadata of `gun` on the remote (200 even when there was none).
    fn delete(&self, gun: &Gun) -> Result<(), RemoteError>;

    /// `true` when the remote signs `timestamp` itself (notary-server). For a static
    /// repository the client signs timestamp (and snapshot) and publishes them.
    fn signs_timestamp(&self) -> bool;
}

/// How to reach a remote: TLS material, timeouts, credentials and the access level of the
/// command (notary asks for `pull` when reading, `push,pull` when publishing and `*` for
/// admin operations; each operation asks for at least what it needs itself).
#[derive(Clone, Default)]
pub struct RemoteOptions {
    pub tls: TlsOptions,
    pub timeouts: Timeouts,
    /// The access the whole command needs (token scope); operations never ask for less
    /// than their own minimum (`publish` and `GET <role>.key`: push,pull; `POST <role>.key`
    /// and `delete`: `*`).
    pub access: Access,
    pub credentials: CredentialLookup,
    /// Asked for a username and password when a server wants credentials and none were
    /// found. The library never prompts itself.
    pub prompt: Option<CredentialPrompt>,
    /// The largest `root.json` accepted, whatever the caller's cap (`None`:
    /// [`limits::DEFAULT_MAX_ROOT_SIZE`]; see [`config::ResolvedRemote::max_root_size`]).
    pub max_root_size: Option<u64>,
    /// Send credentials to a plain-`http://` token service of an `https://` notary server
    /// (refused by default: they would cross the network in clear text).
    pub allow_http_token_service: bool,
    /// Told of every request to a notary server or its token service (`vouch -v`).
    pub trace: Option<http::TraceFn>,
}

impl fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("tls", &self.tls)
            .field("timeouts", &self.timeouts)
            .field("access", &self.access)
            .field("credentials", &self.credentials)
            .field("prompt", &self.prompt.is_some())
            .field("max_root_size", &self.max_root_size)
            .field("allow_http_token_service", &self.allow_http_token_service)
            .field("trace", &self.trace.is_some())
            .finish()
    }
}

/// Opens the remote named by `url_or_path` (see the table in the module docs).
///
/// A string without `scheme://` is taken as a directory path (static repository).
/// Opening does not touch the network; the first request does.
pub fn open_remote(
    url_or_path: &str,
    opts: &RemoteOptions,
) -> Result<Box<dyn Remote>, RemoteError> {
    let bad = |reason: &str| RemoteError::InvalidUrl {
        url: url_or_path.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(rest) = url_or_path.strip_prefix("file://") {
        if rest.is_empty() {
            return Err(bad("no directory after file://"));
        }
        if !rest.starts_with('/') {
            return Err(bad("file:// URLs need an absolute path (file:///abs/dir); give a plain path for a relative one"));
        }
        return Ok(Box::new(
            StaticRepo::dir(PathBuf::from(rest)).with_root_cap(opts.max_root_size),
        ));
    }
    if let Some(inner) = url_or_path.strip_prefix("static+") {
        if !(inner.starts_with("http://") || inner.starts_with("https://")) {
            return Err(bad("static+ must be followed by http:// or https://"));
        }
        return Ok(Box::new(StaticRepo::http(inner, opts)?));
    }
    if url_or_path.starts_with("http://") || url_or_path.starts_with("https://") {
        return Ok(Box::new(NotaryServer::new(url_or_path, opts)?));
    }
    if let Some((scheme, _)) = url_or_path.split_once("://") {
        return Err(bad(&format!(
            "unsupported scheme {scheme:?}; use https:// or http:// (notary server), file:///DIR or static+https:// (static repository)"
        )));
    }
    if url_or_path.is_empty() {
        return Err(bad("it is empty"));
    }
    Ok(Box::new(
        StaticRepo::dir(PathBuf::from(url_or_path)).with_root_cap(opts.max_root_size),
    ))
}

/// Errors talking to a remote, each naming the remote and what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("invalid GUN {gun:?}: {reason}")]
    InvalidGun { gun: String, reason: String },
    #[error("invalid role name {role:?}: {reason}")]
    InvalidRole { role: String, reason: String },
    #[error("invalid checksum {checksum:?}: expected lowercase hex of a SHA-256 digest")]
    InvalidChecksum { checksum: String },
    #[error("invalid remote {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A config file that cannot be read or parsed.
    #[error("config file {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// TLS files (CA, client certificate/key) that cannot be read or used.
    #[error("TLS setup: {message}")]
    TlsSetup { message: String },
    /// A setting from the environment that cannot be used.
    #[error("{name}: {message}")]
    BadSetting { name: String, message: String },

    /// Nothing answered: connection refused, DNS failure, reset.
    #[error("cannot reach {remote} ({url}): {cause}")]
    Unavailable {
        remote: String,
        url: String,
        cause: String,
    },
    /// The TLS handshake failed (unknown CA, wrong host name, plain HTTP on a TLS port…).
    #[error("TLS connection to {url} failed: {cause}")]
    Tls { url: String, cause: String },
    #[error("{remote} did not answer {url} {}", within(*seconds))]
    Timeout {
        remote: String,
        url: String,
        seconds: u64,
    },
    /// The ping (`GET /v2/`) got neither 2xx nor 401, or a metadata request reached a
    /// container registry's API: this is not a notary server.
    #[error("{url} does not look like a notary server: GET {ping_url} returned {status}{excerpt}")]
    NotNotaryServer {
        url: String,
        ping_url: String,
        status: u16,
        excerpt: String,
    },
    /// 5xx and other unexpected statuses.
    #[error(
        "{remote} failed on {what}: HTTP {status}{}",
        errcode_suffix(code, message)
    )]
    Server {
        remote: String,
        what: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// A 404 where something must exist (POST, DELETE, key endpoints).
    #[error("{remote} has no {what} (HTTP 404{})", errcode_suffix(code, &None))]
    NotFound {
        remote: String,
        what: String,
        code: Option<String>,
    },
    /// 400: the server (or the static repository, by the same rules) refused the request.
    /// `code` is notary's errcode (`VERSION`, `INVALID_UPDATE`, `MALFORMED_JSON`, …).
    #[error("{remote} rejected {what}: {code}: {message}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        remote: String,
        what: String,
        code: String,
        message: String,
        detail: Option<String>,
    },
    /// 401/403 after every credential that could be tried.
    #[error("{remote} refused {what} (HTTP {status}) for {scope}: {tried}")]
    Unauthorized {
        remote: String,
        what: String,
        status: u16,
        scope: String,
        tried: String,
    },
    /// The token service of an HTTPS notary server is plain HTTP: credentials are not
    /// sent there (nor asked for) unless explicitly allowed.
    #[error("vouch refused to send credentials over plain HTTP to the token service {realm} of the HTTPS {server}")]
    CredentialsOverHttp { realm: String, server: String },
    /// The token server itself refused or failed.
    #[error("token server {realm} refused a token for {scope} (HTTP {status}{}): {tried}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    TokenRefused {
        realm: String,
        scope: String,
        status: u16,
        message: Option<String>,
        tried: String,
    },
    /// A body larger than the caller's cap (by Content-Length or by counting).
    #[error("{remote} sent more than {limit} bytes for {what}{}; refused", declared.map(|d| format!(" (Content-Length {d})")).unwrap_or_default())]
    TooLarge {
        remote: String,
        what: String,
        limit: u64,
        declared: Option<u64>,
    },
    /// A response that cannot be used (a key body that is not a key, a token reply without a token…).
    #[error("{remote} sent an unusable answer for {what}: {message}")]
    Malformed {
        remote: String,
        what: String,
        message: String,
    },
    #[error("{what} is not supported by {remote}")]
    NotSupported { remote: String, what: String },
    #[error("{remote}: {doing} {}: {source}", path.display())]
    Io {
        remote: String,
        /// What was being done to `path` ("writing", "locking", …).
        doing: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `what` (as in [`RemoteError::TooLarge`]: `GUN FILE`) names a root file.
pub fn is_root_file(what: &str) -> bool {
    let file = what.rsplit(' ').next().unwrap_or(what);
    file == "root.json"
        || file
            .strip_suffix(".root.json")
            .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()))
        || (file.starts_with("root.") && file.ends_with(".json"))
}

fn within(seconds: u64) -> String {
    if seconds == 0 {
        "in time".into()
    } else {
        format!("within {seconds} s")
    }
}

fn errcode_suffix(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (Some(c), None) => format!(" {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

impl RemoteError {
    /// Bad input (names, URLs, config or TLS files given by the user) → 2; anything the
    /// remote did or failed to do → 3.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RemoteError::InvalidGun { .. }
            | RemoteError::InvalidRole { .. }
            | RemoteError::InvalidChecksum { .. }
            | RemoteError::InvalidUrl { .. }
            | RemoteError::Config { .. }
            | RemoteError::BadSetting { .. }
            | RemoteError::TlsSetup { .. } => ExitCode::Usage,
            _ => ExitCode::Remote,
        }
    }

    /// The notary errcode of a rejection or server error, if there was one.
    pub fn code(&self) -> Option<&str> {
        match self {
            RemoteError::Rejected { code, .. } => Some(code),
            RemoteError::Server { code, .. } | RemoteError::NotFound { code, .. } => {
                code.as_deref()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_remote_schemes() {
        let o = RemoteOptions::default();
        assert!(open_remote("https://127.0.0.1:4443", &o)
            .unwrap()
            .describe()
            .starts_with("notary server https://127.0.0.1:4443"));
        assert!(open_remote("http://127.0.0.1:4443/", &o)
            .unwrap()
            .signs_timestamp());
        let s = open_remote("file:///tmp/x", &o).unwrap();
        assert!(!s.signs_timestamp());
        assert_eq!(s.describe(), "static repository /tmp/x");
        assert_eq!(
            open_remote("rel/dir", &o).unwrap().describe(),
            "static repository rel/dir"
        );
        assert!(open_remote("static+https://127.0.0.1/trust", &o)
            .unwrap()
            .describe()
            .contains("https://127.0.0.1/trust"));
        for bad in ["ftp://x", "file://rel", "file://", "static+file:///x", ""] {
            let e = open_remote(bad, &o)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.exit_code(), ExitCode::Usage, "{e}");
        }
    }

    #[test]
    fn download_caps() {
        use limits::*;
        assert_eq!(clamp("root", u64::MAX, DEFAULT_MAX_ROOT_SIZE), 1 << 20);
        assert_eq!(clamp("root", 1000, DEFAULT_MAX_ROOT_SIZE), 1000);
        assert_eq!(clamp("root", u64::MAX, 8 << 20), 8 << 20);
        assert_eq!(clamp("root", u64::MAX, u64::MAX), MAX_DOWNLOAD_SIZE);
        for role in ["targets", "snapshot", "timestamp", "targets/releases"] {
            assert_eq!(clamp(role, u64::MAX, 1), MAX_DOWNLOAD_SIZE, "{role}");
            assert_eq!(clamp(role, 4 << 20, 1), 4 << 20, "{role}");
        }
        assert_eq!(parse_size("4M"), Some(4 << 20));
        assert_eq!(parse_size("1 KiB"), Some(1024));
        assert_eq!(parse_size("17"), Some(17));
        for bad in ["", "0", "-1", "1.5M", "M", "4T", "18446744073709551615G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn exit_codes() {
        let e = RemoteError::Unavailable {
            remote: "notary server http://x".into(),
            url: "http://x/v2/".into(),
            cause: "refused".into(),
        };
        assert_eq!(e.exit_code(), ExitCode::Remote);
        let e = RemoteError::Rejected {
            remote: "r".into(),
            what: "upload".into(),
            code: "VERSION".into(),
            message: "m".into(),
            detail: None,
        };
        assert_eq!(e.exit_code(), ExitCode::Remote);
        assert_eq!(e.code(), Some("VERSION"));
        assert!(e.to_string().contains("VERSION: m"));
        let e = RemoteError::Tls {
            url: "https://x".into(),
            cause: "UnknownIssuer".into(),
        };
        assert_eq!(e.exit_code(), ExitCode::Remote);
    }
}
