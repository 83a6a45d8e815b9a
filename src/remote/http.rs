//! The one HTTP client setup every remote uses: TLS (a CA file *replaces* the system
//! roots, as notary's `ExclusiveRootPools`), client certificates, timeouts, and bounded
//! reads that refuse a body larger than the caller's cap before allocating for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::client::{Client, RequestBuilder, Response};
use reqwest::Url;

use super::RemoteError;

/// TLS material for a remote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM CA bundle. When set it is the *only* trust anchor (system roots are not used),
    /// like notary's `--tlscacert` / `remote_server.root_ca`.
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate (chain) and its private key (PKCS#8, SEC1 or PKCS#1);
    /// both or neither.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// notary's `remote_server.skipTLSVerify`: accept any server certificate. Only ever
    /// set from an explicit user setting.
    pub insecure_skip_verify: bool,
    /// More PEM CA files, always *added* to the roots (a registry's `certs.d/*.crt`).
    pub extra_ca_certs: Vec<PathBuf>,
}

/// Timeouts. Defaults follow notary: 30 s to connect, 5 s for the `/v2/` ping; notary
/// has no overall limit, vouch stops a request after `request` (default 120 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
    pub ping: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            request: Duration::from_secs(120),
            ping: Duration::from_secs(5),
        }
    }
}

/// One request as it went, for the caller's tracing (`vouch -v`): never a header, never
/// a body; the URL without user info.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    pub method: String,
    pub url: String,
    /// The reply's status; `None` when no reply came (`error` says why).
    pub status: Option<u16>,
    pub elapsed: Duration,
    pub error: Option<String>,
}

/// Called once per request with its [`RequestTrace`].
pub type TraceFn = std::sync::Arc<dyn Fn(&RequestTrace) + Send + Sync>;

/// Sends `b`, reporting the request to `trace` when there is one.
pub fn send_traced(b: RequestBuilder, trace: Option<&TraceFn>) -> reqwest::Result<Response> {
    let Some(trace) = trace else {
        return b.send();
    };
    let (client, req) = b.build_split();
    let req = req?;
    let method = req.method().to_string();
    let mut url = req.url().clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let start = std::time::Instant::now();
    // The URL is traced on its own; callers name it in their errors themselves.
    let r = client.execute(req).map_err(reqwest::Error::without_url);
    trace(&RequestTrace {
        method,
        url: url.to_string(),
        status: r.as_ref().ok().map(|r| r.status().as_u16()),
        elapsed: start.elapsed(),
        error: r.as_ref().err().map(send_error_cause),
    });
    r
}

const USER_AGENT: &str = concat!("vouch/", env!("CARGO_PKG_VERSION"));

/// Builds the HTTP client. `follow_redirects` is off for notary-server (notary's client
/// does not follow them either) and on (at most 5) for static repositories.
pub fn build_client(
    tls: &TlsOptions,
    timeouts: &Timeouts,
    follow_redirects: bool,
) -> Result<Client, RemoteError> {
    build(tls, timeouts, follow_redirects, true)
}

/// The client for a notary server reached over plain `http://`: the same as
/// [`build_client`] without redirects, but the system's root certificates are not loaded
/// (no TLS happens; loading them costs a few milliseconds per command). An `https://`
/// token realm is served by a full client built on demand ([`build_client`]).
pub fn build_plain_http_client(
    tls: &TlsOptions,
    timeouts: &Timeouts,
) -> Result<Client, RemoteError> {
    let mut no_roots = tls.clone();
    no_roots.ca_cert = None;
    no_roots.extra_ca_certs.clear();
    build_inner(&no_roots, timeouts, false, true, false)
}

/// The client for a container registry: as [`build_client`] (no redirects), except that a
/// CA file is *added* to the system roots, as Docker does for registry CAs.
pub fn build_registry_client(tls: &TlsOptions, timeouts: &Timeouts) -> Result<Client, RemoteError> {
    build(tls, timeouts, false, false)
}

fn build(
    tls: &TlsOptions,
    timeouts: &Timeouts,
    follow_redirects: bool,
    ca_replaces_system_roots: bool,
) -> Result<Client, RemoteError> {
    build_inner(
        tls,
        timeouts,
        follow_redirects,
        ca_replaces_system_roots,
        true,
    )
}

fn build_inner(
    tls: &TlsOptions,
    timeouts: &Timeouts,
    follow_redirects: bool,
    ca_replaces_system_roots: bool,
    system_roots: bool,
) -> Result<Client, RemoteError> {
    let mut b = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .use_rustls_tls()
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .redirect(if follow_redirects {
            reqwest::redirect::Policy::limited(5)
        } else {
            reqwest::redirect::Policy::none()
        });
    if !system_roots {
        b = b.tls_built_in_root_certs(false);
    }
    if let Some(ca) = &tls.ca_cert {
        if ca_replaces_system_roots {
            b = b.tls_built_in_root_certs(false);
        }
        for c in read_ca_file(ca)? {
            b = b.add_root_certificate(c);
        }
    }
    for ca in &tls.extra_ca_certs {
        for c in read_ca_file(ca)? {
            b = b.add_root_certificate(c);
        }
    }
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read_tls_file(cert, "client certificate")?;
            pem.push(b'\n');
            pem.extend_from_slice(&read_tls_file(key, "client key")?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| RemoteError::TlsSetup {
                message: format!(
                    "client certificate {} / key {}: {}",
                    cert.display(),
                    key.display(),
                    chain(&e)
                ),
            })?;
            b = b.identity(id);
        }
        (None, None) => {}
        _ => {
            return Err(RemoteError::TlsSetup {
                message: "either give both a client certificate and a client key, or neither"
                    .into(),
            })
        }
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    Client::build(b).map_err(|e| RemoteError::TlsSetup { message: chain(&e) })
}

/// The certificates of a PEM CA file; none is an error.
fn read_ca_file(ca: &Path) -> Result<Vec<reqwest::Certificate>, RemoteError> {
    let pem = read_tls_file(ca, "CA certificate")?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| RemoteError::TlsSetup {
        message: format!("CA certificate {}: {}", ca.display(), chain(&e)),
    })?;
    if certs.is_empty() {
        return Err(RemoteError::TlsSetup {
            message: format!(
                "CA certificate {}: no PEM CERTIFICATE block found",
                ca.display()
            ),
        });
    }
    Ok(certs)
}

fn read_tls_file(path: &Path, what: &str) -> Result<Vec<u8>, RemoteError> {
    let meta = std::fs::metadata(path).map_err(|e| RemoteError::TlsSetup {
        message: format!("{what} {}: {e}", path.display()),
    })?;
    if meta.len() > 1 << 20 {
        return Err(RemoteError::TlsSetup {
            message: format!("{what} {}: larger than 1 MiB", path.display()),
        });
    }
    std::fs::read(path).map_err(|e| RemoteError::TlsSetup {
        message: format!("{what} {}: {e}", path.display()),
    })
}

/// The error and its sources, joined with ": ", without repeating the URL.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// What went wrong with a request that got no reply, without the URL and without
/// hyper's wrappers, which say nothing a user can act on ("connection refused", "received
/// corrupt message", …).
fn send_error_cause(e: &reqwest::Error) -> String {
    let noise = [
        "error sending request",
        "client error (Connect)",
        "tcp connect error",
    ];
    chain(e)
        .split(": ")
        .filter(|p| !noise.contains(p))
        .collect::<Vec<_>>()
        .join(": ")
}

/// Turns a failed request into the error a user can act on.
pub(crate) fn classify_send_error(
    e: reqwest::Error,
    remote: &str,
    url: &str,
    timeout: Duration,
) -> RemoteError {
    if e.is_timeout() {
        return RemoteError::Timeout {
            remote: remote.to_owned(),
            url: url.to_owned(),
            seconds: timeout.as_secs().max(1),
        };
    }
    let cause = send_error_cause(&e.without_url());
    let lower = cause.to_ascii_lowercase();
    let tls_markers = [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "unknownissuer",
        "peer sent",
    ];
    if url.starts_with("https://") && tls_markers.iter().any(|m| lower.contains(m)) {
        return RemoteError::Tls {
            url: url.to_owned(),
            cause,
        };
    }
    RemoteError::Unavailable {
        remote: remote.to_owned(),
        url: url.to_owned(),
        cause,
    }
}

/// Reads a response body of at most `limit` bytes.
///
/// A `Content-Length` above the limit is refused before anything is read or allocated;
/// without one, reading stops with the piece of the body (as the connection delivers
/// it, a few KiB) that passes the limit, and the body is refused; a declared length
/// within the limit bounds what the HTTP layer reads. Memory grows with the bytes
/// actually received, never with a declared size.
pub(crate) fn read_capped(
    mut resp: Response,
    limit: u64,
    remote: &str,
    what: &str,
) -> Result<Vec<u8>, RemoteError> {
    let read_failed = |timed_out: bool, e: &(dyn std::error::Error + 'static)| {
        if timed_out {
            RemoteError::Timeout {
                remote: remote.to_owned(),
                url: what.to_owned(),
                seconds: 0,
            }
        } else {
            RemoteError::Unavailable {
                remote: remote.to_owned(),
                url: what.to_owned(),
                cause: format!("reading the response failed: {}", chain(e)),
            }
        }
    };
    let too_large = |declared| RemoteError::TooLarge {
        remote: remote.to_owned(),
        what: what.to_owned(),
        limit,
        declared,
    };
    let declared = resp.content_length();
    if let Some(len) = declared {
        if len > limit {
            return Err(too_large(Some(len)));
        }
    }
    if declared.is_some() {
        // A declared length within the limit bounds the body (the HTTP layer reads no
        // more than Content-Length): take it in one piece.
        return resp.bytes().map_err(|e| read_failed(e.is_timeout(), &e));
    }
    let mut buf = Vec::new();
    while buf.len() as u64 <= limit {
        match resp.read_chunk_into(&mut buf) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(read_failed(e.is_timeout(), &e)),
        }
    }
    if buf.len() as u64 > limit {
        return Err(too_large(None));
    }
    Ok(buf)
}

/// The first `n` bytes of a body as printable text (for messages about odd answers).
pub(crate) fn excerpt(body: &[u8], n: usize) -> String {
    let s: String = String::from_utf8_lossy(&body[..body.len().min(n)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim().to_owned();
    if body.len() > n {
        format!("{s}…")
    } else {
        s
    }
}

/// `url` as the base of a remote's URLs: `http(s)://HOST[:PORT][/PREFIX]`, without a
/// trailing slash; no query, fragment or user info (credentials come from the
/// environment, never from a URL that ends up in messages).
pub(crate) fn parse_base_url(url: &str) -> Result<Url, RemoteError> {
    let bad = |reason: String| RemoteError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let mut base = Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none_or(str::is_empty) {
        return Err(bad("expected http(s)://HOST[:PORT][/PATH]".into()));
    }
    if base.query().is_some()
        || base.fragment().is_some()
        || !base.username().is_empty()
        || base.password().is_some()
    {
        return Err(bad(
            "the URL may have no query, fragment or user info (give credentials through the environment)".into(),
        ));
    }
    let path = base.path().trim_end_matches('/').to_owned();
    base.set_path(&path);
    Ok(base)
}

/// A failed request as [`RemoteError::Server`]: the errcode and message of its body when
/// it has them, else an excerpt of the body.
pub(crate) fn server_error(remote: &str, what: &str, status: u16, body: &[u8]) -> RemoteError {
    let e = parse_err_body(body).unwrap_or_default();
    RemoteError::Server {
        remote: remote.to_owned(),
        what: what.to_owned(),
        status,
        code: e.code,
        message: e
            .message
            .or_else(|| Some(excerpt(body, 200)).filter(|s| !s.is_empty())),
    }
}

/// A parsed docker-distribution errcode body `{"errors":[{"code","message","detail"}]}`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ErrBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub detail: Option<String>,
}

/// Parses an error body (already capped by the caller). Also understands the
/// `{"details":"…"}` and OAuth `{"error","error_description"}` shapes token servers use.
pub(crate) fn parse_err_body(body: &[u8]) -> Option<ErrBody> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(errs) = v.get("errors").and_then(|e| e.as_array()) {
        let first = errs.first()?;
        let s = |k: &str| first.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        return Some(ErrBody {
            code: s("code"),
            message: s("message"),
            detail: first.get("detail").and_then(describe_detail),
        });
    }
    if let Some(d) = v.get("details").and_then(|d| d.as_str()) {
        return Some(ErrBody {
            code: None,
            message: Some(d.to_owned()),
            detail: None,
        });
    }
    if let Some(e) = v.get("error").and_then(|d| d.as_str()) {
        let desc = v.get("error_description").and_then(|d| d.as_str());
        let message = match desc {
            Some(d) => format!("{e}: {d}"),
            None => e.to_owned(),
        };
        return Some(ErrBody {
            code: None,
            message: Some(message),
            detail: None,
        });
    }
    None
}

/// Renders an errcode `detail`: notary's validation errors as `Name: Msg (missing X)`,
/// anything else non-empty as compact JSON (shortened).
fn describe_detail(d: &serde_json::Value) -> Option<String> {
    match d {
        serde_json::Value::Null => None,
        serde_json::Value::Object(m) if m.is_empty() => None,
        serde_json::Value::Array(a) if a.is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        _ => {
            if let (Some(name), Some(err)) =
                (d.get("Name").and_then(|n| n.as_str()), d.get("Error"))
            {
                let msg = err.get("Msg").and_then(|m| m.as_str()).unwrap_or("");
                let mut out = format!("{name}: {msg}");
                if let Some(missing) = err.get("Missing").and_then(|m| m.as_str()) {
                    out.push_str(&format!(" (missing {missing})"));
                }
                return Some(out);
            }
            let s = d.to_string();
            Some(shorten(&s, 300))
        }
    }
}

/// `s` cut to at most `n` bytes (on a character boundary), with `…` when cut.
pub(crate) fn shorten(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    let mut i = n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    format!("{}…", &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcode_bodies() {
        let b = br#"{"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.","detail":{"Name":"ErrBadHierarchy","Error":{"Missing":"snapshot","Msg":"no snapshot was included"}}}]}"#;
        let e = parse_err_body(b).unwrap();
        assert_eq!(e.code.as_deref(), Some("INVALID_UPDATE"));
        assert_eq!(
            e.detail.as_deref(),
            Some("ErrBadHierarchy: no snapshot was included (missing snapshot)")
        );
        let e = parse_err_body(br#"{"errors":[{"code":"VERSION","message":"m","detail":{}}]}"#)
            .unwrap();
        assert_eq!(e.detail, None);
        assert_eq!(
            parse_err_body(br#"{"details":"bad credentials"}"#)
                .unwrap()
                .message
                .as_deref(),
            Some("bad credentials")
        );
        assert_eq!(
            parse_err_body(br#"{"error":"invalid_grant","error_description":"nope"}"#)
                .unwrap()
                .message
                .as_deref(),
            Some("invalid_grant: nope")
        );
        assert_eq!(parse_err_body(b"<html>"), None);
    }

    #[test]
    fn excerpts() {
        assert_eq!(
            excerpt(b"Client sent an HTTP request\n", 100),
            "Client sent an HTTP request"
        );
        assert_eq!(excerpt(b"abcdef", 3), "abc…");
    }

    #[test]
    fn tls_setup_errors() {
        let t = Timeouts::default();
        let e = build_client(
            &TlsOptions {
                ca_cert: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            },
            &t,
            false,
        )
        .unwrap_err();
        assert!(matches!(e, RemoteError::TlsSetup { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/ca.pem"));
        let e = build_client(
            &TlsOptions {
                client_cert: Some("/x".into()),
                ..Default::default()
            },
            &t,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        let dir = std::env::temp_dir().join(format!("vouch-http-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("empty.pem");
        std::fs::write(&f, "not a pem").unwrap();
        let e = build_client(
            &TlsOptions {
                ca_cert: Some(f),
                ..Default::default()
            },
            &t,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no PEM CERTIFICATE"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
