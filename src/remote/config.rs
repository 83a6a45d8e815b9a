//! The remote part of the config file (`<trust-dir>/config.json` or `--config FILE`).
//!
//! The format is a superset of notary's client `config.json`, so a notary config works as is:
//!
//! ```json
//! {
//!   "remote_server": {
//!     "url": "https://notary.example.com:4443",
//!     "root_ca": "ca.crt",
//!     "tls_client_cert": "client.crt",
//!     "tls_client_key": "client.key",
//!     "skipTLSVerify": false
//!   },
//!   "remote_servers": {
//!     "registry.example.com/team": { "url": "https://notary.team.example.com", "root_ca": "team-ca.crt" },
//!     "localhost:5000": { "url": "file:///srv/trust" }
//!   },
//!   "registries": {
//!     "registry.example.com": { "root_ca": "registry-ca.crt" },
//!     "10.0.0.5:5000": { "insecure": true }
//!   }
//! }
//! ```
//!
//! `remote_servers` (vouch's addition) maps GUN prefixes to servers; a prefix matches whole
//! path components (`registry.example.com/team` matches `registry.example.com/team` and
//! `registry.example.com/team/app`, not `registry.example.com/teamx`), and the longest
//! matching prefix wins. Relative file paths (TLS files, and a `url` that is a plain
//! directory path) are relative to the config file's directory,
//! `~/` is the home directory (as notary does). `trust_dir` and `trust_pinning` are read
//! elsewhere (or, for `trust_dir`, accepted and not used). A key the format does not know —
//! at the top level, in `remote_server`, a `remote_servers` entry, `trust_pinning` or a
//! `registries` entry — is refused, naming it: a typo must not silently drop a setting.
//!
//! Precedence when resolving the remote for a GUN: command-line values, then the server named
//! by `VOUCH_SERVER`, then by `DOCKER_CONTENT_TRUST_SERVER` (given to [`RemoteConfig::resolve`]
//! in [`RemoteOverrides::env_server`]), then the longest matching `remote_servers` entry,
//! then `remote_server`, then
//! Docker's default for Docker Hub (`https://notary.docker.io` for `docker.io/…` GUNs), then
//! the default (a static repository in the trust directory, [`default_remote_url`]).
//! A registry's own notary server (Harbor's `notary.<domain>`, say) is a `remote_servers`
//! entry keyed by the registry host.
//!
//! `registries` (vouch's addition) holds settings for talking to container registries, keyed
//! by `host[:port]` as in image references: `insecure` (plain HTTP allowed, certificate not
//! verified — as Docker's `insecure-registries`), `root_ca` (a CA added to the system roots),
//! `tls_client_cert`/`tls_client_key`. Unknown keys in an entry are refused.
//!
//! `timeout` (vouch's addition, top level) is how long one request to a server may take:
//! seconds as a number, or a string such as `"30s"`, `"2m"`, `"500ms"` (default 120 s; the
//! connection itself gets at most 30 s of it). `--timeout` and `VOUCH_TIMEOUT` override it.
//! `allow_http_token_service` (vouch's addition, top level, default `false`) lets
//! credentials go to a plain-`http://` token service of an `https://` notary server.
//!
//! `max_root_size` (vouch's addition, top level) is the largest `root.json` read from any
//! remote: bytes as a number, or a string with a `K`/`M`/`G` suffix; default 1 MiB
//! ([`super::limits::DEFAULT_MAX_ROOT_SIZE`]). `VOUCH_MAX_ROOT_SIZE` overrides it.

use std::path::{Path, PathBuf};

use super::registry::normalize_registry_host;
use super::{Gun, RemoteError, TlsOptions};
use crate::reference::default_notary_server;

/// One server entry: URL and TLS files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerEntry {
    pub url: Option<String>,
    pub root_ca: Option<PathBuf>,
    pub tls_client_cert: Option<PathBuf>,
    pub tls_client_key: Option<PathBuf>,
    pub skip_tls_verify: bool,
}

/// The remote settings of a config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteConfig {
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// `remote_server`.
    pub default: ServerEntry,
    /// `remote_servers`: (GUN prefix without trailing `/`, entry).
    pub by_prefix: Vec<(String, ServerEntry)>,
    /// `registries`: (registry `host[:port]`, settings).
    pub registries: Vec<(String, RegistryEntry)>,
    /// `max_root_size`, or `VOUCH_MAX_ROOT_SIZE` (which wins) when read with
    /// [`RemoteConfig::load`] / [`RemoteConfig::load_optional`].
    pub max_root_size: Option<u64>,
    /// A `remote_server` block is in the file (with or without a `url`).
    pub remote_server_given: bool,
    /// `timeout`: the longest one request may take.
    pub timeout: Option<std::time::Duration>,
    /// `allow_http_token_service`.
    pub allow_http_token_service: bool,
    /// `oci_signatures`: the OCI signature formats `vouch sign` publishes by default
    /// (`["cosign", "notation"]`).
    pub oci_signatures: Vec<String>,
}

/// A timeout setting: seconds as a number (`30`, `2.5`), or a number with a unit
/// (`"500ms"`, `"30s"`, `"2m"`, `"1h"`). Zero, negative and unreadable values are `None`.
pub fn parse_timeout(v: &str) -> Option<std::time::Duration> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0 && secs <= 86400.0)
        .then(|| std::time::Duration::from_secs_f64(secs))
}

/// Settings for one container registry (`registries` in the config file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryEntry {
    /// Plain HTTP allowed and certificates not verified (Docker's insecure registries).
    pub insecure: bool,
    /// CA certificate(s) added to the system roots for this registry.
    pub root_ca: Option<PathBuf>,
    pub tls_client_cert: Option<PathBuf>,
    pub tls_client_key: Option<PathBuf>,
}

/// Values given on the command line or in the environment; each overrides the config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteOverrides {
    /// `--server`.
    pub server: Option<String>,
    /// A server named by an environment variable: (variable name, value), e.g.
    /// `("DOCKER_CONTENT_TRUST_SERVER", "https://notary.example.com")`. `--server` wins.
    pub env_server: Option<(String, String)>,
    pub tls_ca_cert: Option<PathBuf>,
    pub tls_client_cert: Option<PathBuf>,
    pub tls_client_key: Option<PathBuf>,
}

/// The remote to use for one GUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedRemote {
    pub url: String,
    pub tls: TlsOptions,
    /// Where the URL came from, for messages (`--server`, `config.json remote_servers["…"]`, `default`).
    pub source: String,
    /// The largest root.json to accept from it (`max_root_size`, `VOUCH_MAX_ROOT_SIZE`,
    /// else [`super::limits::DEFAULT_MAX_ROOT_SIZE`]).
    pub max_root_size: u64,
}

/// The file name of the config file inside the trust directory.
pub const CONFIG_FILE: &str = "config.json";
/// The static repository used when nothing else is configured: `<trust-dir>/repository`.
pub const DEFAULT_REPOSITORY_DIR: &str = "repository";

/// `file://<trust-dir>/repository` (a plain path when `trust_dir` is relative).
pub fn default_remote_url(trust_dir: &Path) -> String {
    let dir = trust_dir.join(DEFAULT_REPOSITORY_DIR);
    if dir.is_absolute() {
        format!("file://{}", dir.display())
    } else {
        dir.display().to_string()
    }
}

impl RemoteConfig {
    /// Reads `path`; a missing file is an error. `VOUCH_MAX_ROOT_SIZE` overrides the
    /// file's `max_root_size`.
    pub fn load(path: &Path) -> Result<RemoteConfig, RemoteError> {
        let bytes = read_config(path)?;
        Self::from_json(&bytes, Some(path))?.with_env()
    }

    /// Reads `path` if it exists (the implicit `<trust-dir>/config.json`).
    pub fn load_optional(path: &Path) -> Result<RemoteConfig, RemoteError> {
        if !path.exists() {
            return RemoteConfig::default().with_env();
        }
        Self::load(path)
    }

    /// The settings the environment overrides (`VOUCH_MAX_ROOT_SIZE`).
    pub fn with_env(self) -> Result<RemoteConfig, RemoteError> {
        let name = super::limits::MAX_ROOT_SIZE_ENV;
        self.with_max_root_size_setting(std::env::var(name).ok().as_deref())
    }

    /// `value` of `VOUCH_MAX_ROOT_SIZE` (unset or empty: the file's value stays).
    pub fn with_max_root_size_setting(
        mut self,
        value: Option<&str>,
    ) -> Result<RemoteConfig, RemoteError> {
        let Some(v) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(self);
        };
        let name = super::limits::MAX_ROOT_SIZE_ENV;
        self.max_root_size = Some(super::limits::parse_size(v).ok_or_else(|| {
            RemoteError::BadSetting {
                name: name.to_owned(),
                message: format!(
                    "{v:?} is not a size: give a positive number of bytes, or with K, M or G (e.g. 4M)"
                ),
            }
        })?);
        Ok(self)
    }

    /// Parses config JSON; relative paths are taken relative to `path`'s directory (or the
    /// current directory when there is no path).
    pub fn from_json(bytes: &[u8], path: Option<&Path>) -> Result<RemoteConfig, RemoteError> {
        let shown = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("<config>"));
        let err = |message: String| RemoteError::Config {
            path: shown.clone(),
            message,
        };
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("expected a JSON object".into()))?;
        let base = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        check_keys(obj, "the top level", TOP_LEVEL_KEYS).map_err(err)?;
        for (section, value) in obj {
            let known = match section.as_str() {
                "remote_server" => SERVER_KEYS,
                "trust_pinning" => TRUST_PINNING_KEYS,
                _ => continue,
            };
            if let Some(o) = value.as_object() {
                check_keys(o, section, known).map_err(err)?;
            }
        }
        let mut cfg = RemoteConfig {
            path: path.map(Path::to_path_buf),
            ..Default::default()
        };
        match obj.get("timeout") {
            None | Some(serde_json::Value::Null) => {}
            Some(v) => {
                let t = match v {
                    serde_json::Value::Number(n) => parse_timeout(&n.to_string()),
                    serde_json::Value::String(s) => parse_timeout(s),
                    _ => None,
                };
                cfg.timeout = Some(t.ok_or_else(|| {
                    err(format!(
                        "timeout must be a positive number of seconds, or a string such as \"30s\", \"2m\" or \"500ms\" (found {v})"
                    ))
                })?);
            }
        }
        match obj.get("allow_http_token_service") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Bool(b)) => cfg.allow_http_token_service = *b,
            Some(v) => {
                return Err(err(format!(
                    "allow_http_token_service must be true or false (found {v})"
                )))
            }
        }
        if let Some(v) = obj.get("oci_signatures") {
            let bad = || {
                err(format!(
                    "oci_signatures must be a list of \"cosign\" and \"notation\" (found {v})"
                ))
            };
            for f in v.as_array().ok_or_else(bad)? {
                match f.as_str().and_then(crate::oci::Format::parse) {
                    Some(f) => cfg.oci_signatures.push(f.as_str().to_owned()),
                    None => return Err(bad()),
                }
            }
        }
        match obj.get("max_root_size") {
            None | Some(serde_json::Value::Null) => {}
            Some(v) => {
                let size = match v {
                    serde_json::Value::Number(n) => n.as_u64().filter(|n| *n > 0),
                    serde_json::Value::String(s) => super::limits::parse_size(s),
                    _ => None,
                };
                cfg.max_root_size = Some(size.ok_or_else(|| {
                    err(format!(
                        "max_root_size must be a positive number of bytes, or a string such as \"4M\" (found {v})"
                    ))
                })?);
            }
        }
        if let Some(rs) = obj.get("remote_server").filter(|v| !v.is_null()) {
            cfg.default = parse_entry(rs, "remote_server", &base).map_err(err)?;
            cfg.remote_server_given = true;
        }
        if let Some(map) = obj.get("remote_servers") {
            let map = map.as_object().ok_or_else(|| {
                err("remote_servers must be an object of GUN prefix → server".into())
            })?;
            for (prefix, entry) in map {
                let trimmed = prefix.trim_end_matches('/');
                Gun::parse(trimmed).map_err(|e| {
                    err(format!(
                        "remote_servers key {prefix:?} is not a GUN prefix: {e}"
                    ))
                })?;
                let name = format!("remote_servers[{prefix:?}]");
                if let Some(o) = entry.as_object() {
                    check_keys(o, &name, SERVER_KEYS).map_err(err)?;
                }
                let e = parse_entry(entry, &name, &base).map_err(err)?;
                if e.url.is_none() {
                    return Err(err(format!("remote_servers[{prefix:?}] has no url")));
                }
                cfg.by_prefix.push((trimmed.to_owned(), e));
            }
        }
        if let Some(map) = obj.get("registries") {
            let map = map.as_object().ok_or_else(|| {
                err("registries must be an object of registry host → settings".into())
            })?;
            for (host, entry) in map {
                let h = normalize_registry_host(host).ok_or_else(|| {
                    err(format!(
                        "registries key {host:?} is not a registry host[:port]"
                    ))
                })?;
                let e = parse_registry_entry(entry, &format!("registries[{host:?}]"), &base)
                    .map_err(err)?;
                cfg.registries.push((h, e));
            }
        }
        Ok(cfg)
    }

    /// The `registries` entry for `host` (`host[:port]` as in an image reference).
    pub fn registry(&self, host: &str) -> Option<&RegistryEntry> {
        let h = normalize_registry_host(host)?;
        self.registries
            .iter()
            .find(|(k, _)| *k == h)
            .map(|(_, e)| e)
    }

    /// The longest `remote_servers` prefix matching `gun` on path-component boundaries.
    pub fn entry_for(&self, gun: &Gun) -> Option<(&str, &ServerEntry)> {
        let g = gun.as_str();
        self.by_prefix
            .iter()
            .filter(|(p, _)| {
                g == p || (g.starts_with(p.as_str()) && g.as_bytes().get(p.len()) == Some(&b'/'))
            })
            .max_by_key(|(p, _)| p.len())
            .map(|(p, e)| (p.as_str(), e))
    }

    /// The remote for `gun` (or for no particular GUN): see the module docs for precedence.
    ///
    /// A server the user plainly named is never replaced by the default: a value from the
    /// environment that is not a server URL, a config `url` written as a bare `host:port`,
    /// or a `remote_server` block without a `url` is an error naming where it came from.
    pub fn resolve(
        &self,
        gun: Option<&Gun>,
        cli: &RemoteOverrides,
        trust_dir: &Path,
    ) -> Result<ResolvedRemote, RemoteError> {
        let file = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".into());
        let config_err = |message: String| RemoteError::Config {
            path: self
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from("<config>")),
            message,
        };
        let (entry, source) = match (
            &cli.server,
            &cli.env_server,
            gun.and_then(|g| self.entry_for(g)),
        ) {
            (Some(s), _, _) => (
                ServerEntry {
                    url: Some(s.clone()),
                    ..self.default.clone()
                },
                "--server".to_owned(),
            ),
            (None, Some((name, value)), _) => {
                check_env_server(name, value)?;
                (
                    ServerEntry {
                        url: Some(value.clone()),
                        ..self.default.clone()
                    },
                    name.clone(),
                )
            }
            (None, None, Some((prefix, e))) => {
                (e.clone(), format!("{file} remote_servers[{prefix:?}]"))
            }
            (None, None, None) => match &self.default.url {
                Some(_) => (self.default.clone(), format!("{file} remote_server.url")),
                None if self.remote_server_given => {
                    return Err(config_err(
                        "remote_server has no url: add \"url\": \"https://HOST[:PORT]\" (or file:///DIR), or remove the remote_server block to use the default static repository".into(),
                    ))
                }
                None if docker_default(gun).is_some() => (
                    ServerEntry {
                        url: docker_default(gun).map(str::to_owned),
                        ..self.default.clone()
                    },
                    DOCKER_DEFAULT_SOURCE.to_owned(),
                ),
                None => (
                    ServerEntry {
                        url: Some(default_remote_url(trust_dir)),
                        ..self.default.clone()
                    },
                    DEFAULT_SOURCE.to_owned(),
                ),
            },
        };
        let tls = TlsOptions {
            ca_cert: cli.tls_ca_cert.clone().or(entry.root_ca),
            client_cert: cli.tls_client_cert.clone().or(entry.tls_client_cert),
            client_key: cli.tls_client_key.clone().or(entry.tls_client_key),
            insecure_skip_verify: entry.skip_tls_verify,
            extra_ca_certs: Vec::new(),
        };
        Ok(ResolvedRemote {
            url: entry.url.expect("every branch sets a url"),
            tls,
            source,
            max_root_size: self
                .max_root_size
                .unwrap_or(super::limits::DEFAULT_MAX_ROOT_SIZE),
        })
    }
}

/// Keys a config file may have at the top level: notary's (`trust_dir`, `remote_server`,
/// `trust_pinning`) and vouch's additions.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "trust_dir",
    "remote_server",
    "trust_pinning",
    "remote_servers",
    "registries",
    "max_root_size",
    "tofu",
    "pkcs11_module",
    "timeout",
    "allow_http_token_service",
    "oci_signatures",
];
/// Keys of `remote_server` and of each `remote_servers` entry (notary's).
pub const SERVER_KEYS: &[&str] = &[
    "url",
    "root_ca",
    "tls_client_cert",
    "tls_client_key",
    "skipTLSVerify",
];
/// Keys of `trust_pinning` (notary's).
pub const TRUST_PINNING_KEYS: &[&str] = &["certs", "ca", "disable_tofu"];

/// Every key of `obj` must be one of `known`: a typo (`"ulr"`, `"remote_sever"`) would
/// otherwise be ignored and its setting silently not apply.
fn check_keys(
    obj: &serde_json::Map<String, serde_json::Value>,
    section: &str,
    known: &[&str],
) -> Result<(), String> {
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let near = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key))
            .or_else(|| known.iter().find(|k| edit_distance(k, key) <= 2))
            .map(|k| format!("; did you mean {k:?}?"))
            .unwrap_or_default();
        return Err(format!(
            "unknown key {key:?} in {section}{near} (known: {})",
            known.join(", ")
        ));
    }
    Ok(())
}

/// Levenshtein distance (short config keys only).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The environment variables naming a server, in precedence order (`--server` wins over
/// both; both win over the config file).
pub const SERVER_ENV_VARS: [&str; 2] = ["VOUCH_SERVER", "DOCKER_CONTENT_TRUST_SERVER"];

/// The `source` of a [`ResolvedRemote`] that is the static repository in the trust dir.
pub const DEFAULT_SOURCE: &str = "default";

/// A server named by environment variable `name` must be a URL vouch can use: a bare
/// `host[:port]` or path would otherwise be taken for a static repository directory.
fn check_env_server(name: &str, value: &str) -> Result<(), RemoteError> {
    let ok = ["https://", "http://", "static+https://", "static+http://"]
        .iter()
        .any(|p| value.starts_with(p) && value.len() > p.len())
        || value
            .strip_prefix("file://")
            .is_some_and(|r| r.starts_with('/'));
    if ok {
        return Ok(());
    }
    Err(RemoteError::BadSetting {
        name: name.to_owned(),
        message: format!(
            "{value:?} is not a server URL: give https://HOST[:PORT] (notary server), file:///DIR (static repository in a directory) or static+https://HOST/PATH; or unset {name}"
        ),
    })
}

/// A config file `url` written as `host:port` (no scheme) would be taken for a directory
/// next to the config file; notary needs a URL there, and so does vouch.
fn check_config_url(url: &str, name: &str) -> Result<(), String> {
    let first = url.split('/').next().unwrap_or_default();
    let looks_like_host = first.rsplit_once(':').is_some_and(|(h, port)| {
        !h.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    });
    if looks_like_host {
        return Err(format!(
            "{name} {url:?} is a host, not a URL: write \"https://{url}\" (or file:///DIR for a static repository)"
        ));
    }
    Ok(())
}

/// The `source` of a [`ResolvedRemote`] that is Docker's default notary server.
pub const DOCKER_DEFAULT_SOURCE: &str = "Docker's default for docker.io";

fn docker_default(gun: Option<&Gun>) -> Option<&'static str> {
    let g = gun?.as_str();
    default_notary_server(g.split('/').next()?).filter(|_| g.contains('/'))
}

fn parse_registry_entry(
    v: &serde_json::Value,
    name: &str,
    base: &Path,
) -> Result<RegistryEntry, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{name} must be an object"))?;
    let mut e = RegistryEntry::default();
    for (k, val) in obj {
        let file = || -> Result<Option<PathBuf>, String> {
            match val {
                serde_json::Value::Null => Ok(None),
                serde_json::Value::String(s) if s.is_empty() => Ok(None),
                serde_json::Value::String(s) => Ok(Some(resolve_path(s, base))),
                _ => Err(format!("{name}.{k} must be a string")),
            }
        };
        match k.as_str() {
            "insecure" => {
                e.insecure = val
                    .as_bool()
                    .ok_or_else(|| format!("{name}.insecure must be true or false"))?
            }
            "root_ca" => e.root_ca = file()?,
            "tls_client_cert" => e.tls_client_cert = file()?,
            "tls_client_key" => e.tls_client_key = file()?,
            other => {
                return Err(format!(
                    "{name}: unknown setting {other:?} (known: insecure, root_ca, tls_client_cert, tls_client_key)"
                ))
            }
        }
    }
    if e.tls_client_cert.is_some() != e.tls_client_key.is_some() {
        return Err(format!(
            "{name}: give both tls_client_cert and tls_client_key, or neither"
        ));
    }
    Ok(e)
}

fn read_config(path: &Path) -> Result<Vec<u8>, RemoteError> {
    let err = |message: String| RemoteError::Config {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > 1 << 20 {
        return Err(err("larger than 1 MiB".into()));
    }
    std::fs::read(path).map_err(|e| err(e.to_string()))
}

fn parse_entry(v: &serde_json::Value, name: &str, base: &Path) -> Result<ServerEntry, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{name} must be an object"))?;
    let string = |k: &str| -> Result<Option<String>, String> {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name}.{k} must be a string")),
        }
    };
    let file = |k: &str| -> Result<Option<PathBuf>, String> {
        Ok(string(k)?.map(|s| resolve_path(&s, base)))
    };
    let skip = match obj.get("skipTLSVerify") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err(format!("{name}.skipTLSVerify must be true or false")),
    };
    Ok(ServerEntry {
        // A plain directory path (a static repository) is relative to the config file too.
        url: match string("url")? {
            Some(u) if u.contains("://") => Some(u),
            Some(u) => {
                check_config_url(&u, &format!("{name}.url"))?;
                Some(resolve_path(&u, base).display().to_string())
            }
            None => None,
        },
        root_ca: file("root_ca")?,
        tls_client_cert: file("tls_client_cert")?,
        tls_client_key: file("tls_client_key")?,
        skip_tls_verify: skip,
    })
}

/// notary's `GetPathRelativeToConfig`: `~/` → home, relative → next to the config file.
fn resolve_path(s: &str, base: &Path) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    let p = PathBuf::from(s);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"{
        "trust_dir": "ignored",
        "trust_pinning": {"disable_tofu": true},
        "remote_server": {"url": "https://notary.example.com:4443", "root_ca": "ca.crt",
                          "tls_client_cert": "/abs/c.crt", "tls_client_key": "k.key"},
        "remote_servers": {
            "registry.example.com/team": {"url": "https://team.example.com", "root_ca": "team-ca.crt"},
            "registry.example.com/team/special/": {"url": "file:///srv/trust"},
            "localhost:5000": {"url": "static-repo"},
            "registry.example.com": {"url": "https://reg.example.com"}
        }
    }"#;

    fn cfg() -> RemoteConfig {
        RemoteConfig::from_json(CFG.as_bytes(), Some(Path::new("/etc/vouch/config.json"))).unwrap()
    }

    #[test]
    fn reads_notary_fields() {
        let c = cfg();
        assert_eq!(
            c.default.url.as_deref(),
            Some("https://notary.example.com:4443")
        );
        assert_eq!(
            c.default.root_ca.as_deref(),
            Some(Path::new("/etc/vouch/ca.crt"))
        );
        assert_eq!(
            c.default.tls_client_cert.as_deref(),
            Some(Path::new("/abs/c.crt"))
        );
        assert_eq!(
            c.default.tls_client_key.as_deref(),
            Some(Path::new("/etc/vouch/k.key"))
        );
    }

    #[test]
    fn prefix_mapping() {
        let c = cfg();
        let t = Path::new("/t");
        let none = RemoteOverrides::default();
        let r = |g: &str| c.resolve(Some(&Gun::parse(g).unwrap()), &none, t).unwrap();
        assert_eq!(
            r("registry.example.com/team/app").url,
            "https://team.example.com"
        );
        assert_eq!(
            r("registry.example.com/team/app").tls.ca_cert.as_deref(),
            Some(Path::new("/etc/vouch/team-ca.crt"))
        );
        assert_eq!(
            r("registry.example.com/team").url,
            "https://team.example.com"
        );
        assert_eq!(
            r("registry.example.com/team/special/x").url,
            "file:///srv/trust"
        );
        assert_eq!(
            r("registry.example.com/teamx/app").url,
            "https://reg.example.com"
        );
        assert_eq!(
            r("other.example.com/app").url,
            "https://notary.example.com:4443"
        );
        assert!(r("other.example.com/app")
            .source
            .ends_with("remote_server.url"));
        // --server wins over every mapping; --tls-ca-cert over the file's.
        let cli = RemoteOverrides {
            server: Some("https://cli".into()),
            tls_ca_cert: Some("/cli/ca".into()),
            ..Default::default()
        };
        let rr = c
            .resolve(
                Some(&Gun::parse("registry.example.com/team/app").unwrap()),
                &cli,
                t,
            )
            .unwrap();
        assert_eq!(rr.url, "https://cli");
        assert_eq!(rr.source, "--server");
        assert_eq!(rr.tls.ca_cert.as_deref(), Some(Path::new("/cli/ca")));
    }

    #[test]
    fn default_is_static_in_trust_dir() {
        let r = RemoteConfig::default()
            .resolve(
                None,
                &RemoteOverrides::default(),
                Path::new("/home/u/.vouch"),
            )
            .unwrap();
        assert_eq!(r.url, "file:///home/u/.vouch/repository");
        assert_eq!(r.source, "default");
        assert_eq!(default_remote_url(Path::new("rel")), "rel/repository");
    }

    #[test]
    fn docker_hub_default_notary() {
        let none = RemoteOverrides::default();
        let t = Path::new("/t");
        let g = Gun::parse("docker.io/library/ubuntu").unwrap();
        let r = RemoteConfig::default().resolve(Some(&g), &none, t).unwrap();
        assert_eq!(r.url, "https://notary.docker.io");
        assert_eq!(r.source, DOCKER_DEFAULT_SOURCE);
        // Other registries keep the static default; remote_server.url and --server win.
        let other = Gun::parse("registry.example.com/app").unwrap();
        assert_eq!(
            RemoteConfig::default()
                .resolve(Some(&other), &none, t)
                .unwrap()
                .source,
            "default"
        );
        assert_eq!(
            cfg().resolve(Some(&g), &none, t).unwrap().url,
            "https://notary.example.com:4443"
        );
        let cli = RemoteOverrides {
            server: Some("file:///x".into()),
            ..Default::default()
        };
        assert_eq!(
            RemoteConfig::default()
                .resolve(Some(&g), &cli, t)
                .unwrap()
                .url,
            "file:///x"
        );
    }

    #[test]
    fn registry_settings() {
        let c = RemoteConfig::from_json(
            br#"{"registries": {
                "https://reg.example.com:5000/": {"root_ca": "reg-ca.crt"},
                "10.0.0.5:5000": {"insecure": true},
                "index.docker.io": {"tls_client_cert": "/c.crt", "tls_client_key": "/c.key"}
            }}"#,
            Some(Path::new("/etc/vouch/config.json")),
        )
        .unwrap();
        let r = c.registry("reg.example.com:5000").unwrap();
        assert!(!r.insecure);
        assert_eq!(
            r.root_ca.as_deref(),
            Some(Path::new("/etc/vouch/reg-ca.crt"))
        );
        assert!(c.registry("10.0.0.5:5000").unwrap().insecure);
        assert!(c.registry("10.0.0.5").is_none());
        assert!(c.registry("reg.example.com").is_none());
        assert_eq!(
            c.registry("docker.io").unwrap().tls_client_cert.as_deref(),
            Some(Path::new("/c.crt"))
        );
        for bad in [
            r#"{"registries": []}"#,
            r#"{"registries": {"a/b": {}}}"#,
            r#"{"registries": {"r.io": {"insecure": "yes"}}}"#,
            r#"{"registries": {"r.io": {"insecur": true}}}"#,
            r#"{"registries": {"r.io": {"root_ca": 3}}}"#,
            r#"{"registries": {"r.io": {"tls_client_cert": "c"}}}"#,
        ] {
            let e =
                RemoteConfig::from_json(bad.as_bytes(), Some(Path::new("/c.json"))).unwrap_err();
            assert!(e.to_string().starts_with("config file /c.json"), "{e}");
        }
    }

    #[test]
    fn bad_configs() {
        for bad in [
            "[]",
            "{",
            r#"{"remote_server": 3}"#,
            r#"{"remote_server": {"url": 3}}"#,
            r#"{"remote_server": {"skipTLSVerify": "yes"}}"#,
            r#"{"remote_servers": {"../x": {"url": "https://x"}}}"#,
            r#"{"remote_servers": {"a/b": {}}}"#,
        ] {
            let e =
                RemoteConfig::from_json(bad.as_bytes(), Some(Path::new("/c.json"))).unwrap_err();
            assert!(e.to_string().starts_with("config file /c.json"), "{e}");
        }
        assert!(RemoteConfig::load(Path::new("/nonexistent/config.json")).is_err());
        assert_eq!(
            RemoteConfig::load_optional(Path::new("/nonexistent/config.json")).unwrap(),
            RemoteConfig::default()
        );
    }

    #[test]
    fn timeouts_from_the_file() {
        use std::time::Duration;
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1.5s"), Some(Duration::from_millis(1500)));
        for bad in ["0", "-1", "soon", "5d", ""] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
        let at = Path::new("/etc/vouch/config.json");
        let c = RemoteConfig::from_json(
            br#"{"timeout": "45s", "allow_http_token_service": true}"#,
            Some(at),
        )
        .unwrap();
        assert_eq!(c.timeout, Some(Duration::from_secs(45)));
        assert!(c.allow_http_token_service);
        let e = RemoteConfig::from_json(br#"{"timeout": "forever"}"#, Some(at)).unwrap_err();
        assert!(e.to_string().contains("timeout must be"), "{e}");
    }

    #[test]
    fn oci_signatures_default_formats() {
        let c = RemoteConfig::from_json(br#"{"oci_signatures": ["notation", "cosign"]}"#, None)
            .unwrap();
        assert_eq!(c.oci_signatures, ["notation", "cosign"]);
        assert!(cfg().oci_signatures.is_empty());
        for bad in [
            r#"{"oci_signatures": "cosign"}"#,
            r#"{"oci_signatures": ["cosign", "gpg"]}"#,
            r#"{"oci_signatures": [1]}"#,
        ] {
            let e = RemoteConfig::from_json(bad.as_bytes(), None).unwrap_err();
            assert!(e.to_string().contains("oci_signatures"), "{e}");
        }
    }

    #[test]
    fn max_root_size_from_the_file_and_the_environment() {
        use crate::remote::limits::DEFAULT_MAX_ROOT_SIZE;
        let at = Some(Path::new("/c.json"));
        let trust = Path::new("/t");
        let resolved = |c: &RemoteConfig| {
            c.resolve(None, &RemoteOverrides::default(), trust)
                .unwrap()
                .max_root_size
        };
        assert_eq!(resolved(&cfg()), DEFAULT_MAX_ROOT_SIZE);
        assert_eq!(DEFAULT_MAX_ROOT_SIZE, 1 << 20);
        for (json, want) in [
            (r#"{"max_root_size": 4096}"#, 4096),
            (r#"{"max_root_size": "4M"}"#, 4 << 20),
            (r#"{"max_root_size": "2 MiB"}"#, 2 << 20),
            (r#"{"max_root_size": "512k"}"#, 512 << 10),
            (r#"{"max_root_size": null}"#, DEFAULT_MAX_ROOT_SIZE),
        ] {
            let c = RemoteConfig::from_json(json.as_bytes(), at).unwrap();
            assert_eq!(resolved(&c), want, "{json}");
        }
        for bad in [
            r#"{"max_root_size": 0}"#,
            r#"{"max_root_size": -1}"#,
            r#"{"max_root_size": 1.5}"#,
            r#"{"max_root_size": "lots"}"#,
            r#"{"max_root_size": "99999999999G"}"#,
            r#"{"max_root_size": true}"#,
        ] {
            let e = RemoteConfig::from_json(bad.as_bytes(), at).unwrap_err();
            assert!(
                e.to_string().contains("max_root_size must be"),
                "{bad}: {e}"
            );
            assert_eq!(e.exit_code(), crate::ExitCode::Usage);
        }
        // The environment wins over the file; unset or empty leaves the file's value.
        let file = RemoteConfig::from_json(br#"{"max_root_size": 4096}"#, at).unwrap();
        let c = file.clone().with_max_root_size_setting(Some("8K")).unwrap();
        assert_eq!(resolved(&c), 8192);
        for unset in [None, Some(""), Some("  ")] {
            let c = file.clone().with_max_root_size_setting(unset).unwrap();
            assert_eq!(resolved(&c), 4096);
        }
        let e = file.with_max_root_size_setting(Some("0")).unwrap_err();
        assert!(e.to_string().starts_with("VOUCH_MAX_ROOT_SIZE: "), "{e}");
        assert_eq!(e.exit_code(), crate::ExitCode::Usage);
    }

    #[test]
    fn server_precedence_flag_then_environment_then_file_then_default() {
        let t = Path::new("/t");
        let gun = Gun::parse("registry.example.com/team/app").unwrap();
        let file = cfg();
        let empty = RemoteConfig::default();
        let env = |name: &str, v: &str| Some((name.to_owned(), v.to_owned()));
        let vouch_env = env("VOUCH_SERVER", "https://vouch-env:4443");
        let docker_env = env("DOCKER_CONTENT_TRUST_SERVER", "https://docker-env");
        let flag = Some("https://flag".to_owned());
        // (config, --server, environment, url, source)
        type Row<'a> = (
            &'a RemoteConfig,
            Option<String>,
            Option<(String, String)>,
            &'a str,
            &'a str,
        );
        let table: Vec<Row> = vec![
            (
                &file,
                flag.clone(),
                vouch_env.clone(),
                "https://flag",
                "--server",
            ),
            (
                &file,
                None,
                vouch_env.clone(),
                "https://vouch-env:4443",
                "VOUCH_SERVER",
            ),
            (
                &file,
                None,
                docker_env.clone(),
                "https://docker-env",
                "DOCKER_CONTENT_TRUST_SERVER",
            ),
            (
                &file,
                None,
                None,
                "https://team.example.com",
                "/etc/vouch/config.json remote_servers[\"registry.example.com/team\"]",
            ),
            (
                &empty,
                None,
                docker_env.clone(),
                "https://docker-env",
                "DOCKER_CONTENT_TRUST_SERVER",
            ),
            (&empty, None, None, "file:///t/repository", DEFAULT_SOURCE),
        ];
        for (c, server, env_server, url, source) in table {
            let o = RemoteOverrides {
                server,
                env_server,
                ..Default::default()
            };
            let r = c.resolve(Some(&gun), &o, t).unwrap();
            assert_eq!((r.url.as_str(), r.source.as_str()), (url, source), "{o:?}");
        }
        // The environment keeps the file's TLS settings, as --server does.
        let o = RemoteOverrides {
            env_server: vouch_env,
            ..Default::default()
        };
        let r = file.resolve(None, &o, t).unwrap();
        assert_eq!(
            r.tls.ca_cert.as_deref(),
            Some(Path::new("/etc/vouch/ca.crt"))
        );
    }

    #[test]
    fn a_server_the_user_named_never_falls_back_to_the_default() {
        let t = Path::new("/t");
        for bad in [
            "notary.example.com:4443",
            "notary.example.com",
            "/srv/trust",
            "file://rel",
            "https://",
            "ftp://x",
        ] {
            let o = RemoteOverrides {
                env_server: Some(("DOCKER_CONTENT_TRUST_SERVER".into(), bad.into())),
                ..Default::default()
            };
            let e = RemoteConfig::default().resolve(None, &o, t).unwrap_err();
            assert!(
                e.to_string().starts_with("DOCKER_CONTENT_TRUST_SERVER: "),
                "{bad}: {e}"
            );
            assert_eq!(e.exit_code(), crate::ExitCode::Usage);
        }
        // A remote_server block without a url, and a url that is a bare host:port.
        let at = Some(Path::new("/c.json"));
        let c =
            RemoteConfig::from_json(br#"{"remote_server": {"root_ca": "ca.crt"}}"#, at).unwrap();
        let e = c.resolve(None, &RemoteOverrides::default(), t).unwrap_err();
        assert!(e.to_string().contains("remote_server has no url"), "{e}");
        let c = RemoteConfig::from_json(br#"{"remote_server": {"url": ""}}"#, at).unwrap();
        assert!(c.resolve(None, &RemoteOverrides::default(), t).is_err());
        // ... still fine when --server names the server.
        let o = RemoteOverrides {
            server: Some("https://flag".into()),
            ..Default::default()
        };
        assert_eq!(c.resolve(None, &o, t).unwrap().url, "https://flag");
        let e = RemoteConfig::from_json(br#"{"remote_server": {"url": "notary:4443"}}"#, at)
            .unwrap_err();
        assert!(e.to_string().contains("\"https://notary:4443\""), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_key_named() {
        let at = Some(Path::new("/c.json"));
        for (bad, says) in [
            (
                r#"{"remote_sever": {"url": "https://x"}}"#,
                r#"unknown key "remote_sever" in the top level; did you mean "remote_server"?"#,
            ),
            (
                r#"{"remote_server": {"ulr": "https://x"}}"#,
                r#"unknown key "ulr" in remote_server; did you mean "url"?"#,
            ),
            (
                r#"{"remote_servers": {"r.io/a": {"url": "https://x", "rootca": "c"}}}"#,
                r#"unknown key "rootca" in remote_servers["r.io/a"]; did you mean "root_ca"?"#,
            ),
            (
                r#"{"trust_pinning": {"disable_tofuu": true}}"#,
                r#"unknown key "disable_tofuu" in trust_pinning"#,
            ),
            (
                r#"{"Remote_Server": {"url": "https://x"}}"#,
                r#"did you mean "remote_server"?"#,
            ),
            (
                r#"{"colour": true}"#,
                r#"unknown key "colour" in the top level (known: trust_dir"#,
            ),
        ] {
            let e = RemoteConfig::from_json(bad.as_bytes(), at).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert_eq!(e.exit_code(), crate::ExitCode::Usage);
        }
        // notary's own config fields, every one of them, are accepted.
        let notary = r#"{"trust_dir": "~/.notary",
            "remote_server": {"url": "https://n:4443", "root_ca": "ca.crt", "tls_client_cert": "c.crt",
                              "tls_client_key": "c.key", "skipTLSVerify": false},
            "trust_pinning": {"certs": {"a/*": ["id"]}, "ca": {"a/": "ca.pem"}, "disable_tofu": true}}"#;
        RemoteConfig::from_json(notary.as_bytes(), at).unwrap();
    }
}
