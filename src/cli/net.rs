//! Network settings every remote gets: the request timeout and whether credentials may
//! go to a plain-HTTP token service, each from a flag, the environment or the config file.

use std::time::Duration;

use vouch::remote::config::parse_timeout;
use vouch::remote::Timeouts;

use super::{usage, CliResult, Context};

/// The environment variable for the request timeout.
pub const TIMEOUT_ENV: &str = "VOUCH_TIMEOUT";
/// The environment variable that allows credentials to a plain-HTTP token service.
pub const HTTP_TOKEN_ENV: &str = "VOUCH_ALLOW_HTTP_TOKEN_SERVICE";

impl Context {
    /// With -v: each request on stderr as `vouch: GET URL -> 200 (12 ms)` (no headers, no
    /// bodies, no user info in the URL).
    pub fn request_trace(&self) -> Option<vouch::remote::http::TraceFn> {
        if self.global.verbose == 0 {
            return None;
        }
        Some(std::sync::Arc::new(
            |t: &vouch::remote::http::RequestTrace| {
                let ms = t.elapsed.as_millis();
                match (t.status, &t.error) {
                    (Some(s), _) => errln!("vouch: {} {} -> {s} ({ms} ms)", t.method, t.url),
                    (None, Some(e)) => {
                        errln!("vouch: {} {} -> no reply: {e} ({ms} ms)", t.method, t.url)
                    }
                    (None, None) => {
                        errln!("vouch: {} {} -> no reply ({ms} ms)", t.method, t.url)
                    }
                }
            },
        ))
    }

    /// The timeouts for a remote and where the request timeout came from: `--timeout`,
    /// else `VOUCH_TIMEOUT`, else `timeout` in the config file, else the default (120 s).
    /// The connection gets at most 30 s of it, a first probe at most 5 s.
    pub fn timeouts(&self) -> CliResult<(Timeouts, String)> {
        let from = |v: &str, what: &str| {
            parse_timeout(v).ok_or_else(|| {
                usage(format!(
                    "{what} {v:?} is not a timeout: give seconds, or a number with ms, s, m or h (e.g. 30s, 2m)"
                ))
            })
        };
        let env = std::env::var(TIMEOUT_ENV).ok().filter(|v| !v.is_empty());
        let (request, source): (Option<Duration>, String) = if let Some(v) = &self.global.timeout {
            (Some(from(v, "--timeout")?), "--timeout".into())
        } else if let Some(v) = env {
            (Some(from(&v, TIMEOUT_ENV)?), TIMEOUT_ENV.into())
        } else if let Some(t) = self.remote_config()?.timeout {
            (
                Some(t),
                format!("config file {}", self.config_path().display()),
            )
        } else {
            (None, "default (120s)".into())
        };
        let mut t = Timeouts::default();
        if let Some(r) = request {
            t.request = r;
            t.connect = t.connect.min(r);
            t.ping = t.ping.min(r);
        }
        Ok((t, source))
    }

    /// Credentials may go to a plain-HTTP token service of an HTTPS notary server:
    /// `--allow-http-token-service`, `VOUCH_ALLOW_HTTP_TOKEN_SERVICE=1` or
    /// `"allow_http_token_service": true` in the config file. With where it came from.
    pub fn allow_http_token_service(&self) -> CliResult<(bool, String)> {
        if self.global.allow_http_token_service {
            return Ok((true, "--allow-http-token-service".into()));
        }
        if std::env::var(HTTP_TOKEN_ENV).is_ok_and(|v| v == "1" || v == "true") {
            return Ok((true, HTTP_TOKEN_ENV.into()));
        }
        if self.remote_config()?.allow_http_token_service {
            return Ok((
                true,
                format!("config file {}", self.config_path().display()),
            ));
        }
        Ok((false, "default".into()))
    }
}
