//! Image references and how they map to GUNs (protocol §10).
//!
//! The grammar is Docker's (`distribution/reference`), normalised as `docker` does:
//!
//! | input | registry | repository | GUN |
//! |---|---|---|---|
//! | `ubuntu:22.04` | `docker.io` | `library/ubuntu` | `docker.io/library/ubuntu` |
//! | `user/app` | `docker.io` | `user/app` | `docker.io/user/app` |
//! | `index.docker.io/user/app` | `docker.io` | `user/app` | `docker.io/user/app` |
//! | `registry.example.com:5000/team/app:1.4.2` | `registry.example.com:5000` | `team/app` | `registry.example.com:5000/team/app` |
//! | `localhost/app`, `[::1]:5000/app` | `localhost`, `[::1]:5000` | `app` | … |
//!
//! The first path component names a registry when it contains `.` or `:`, is `localhost`, or
//! holds an upper-case letter (repository components are lower case, so Docker takes it for a
//! host name). `app@sha256:…` carries a digest; `app:tag@sha256:…` both.
//!
//! Which notary server holds a registry's trust data is decided by the config file
//! (`remote_servers`, keyed by GUN prefix — a registry host is a prefix) or `--server`; with
//! neither, Docker Hub's images use Docker's default, [`default_notary_server`].

use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry `host[:port]` (`docker.io` when none is given).
    pub registry: String,
    /// Repository path within the registry (`library/ubuntu`).
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

pub const DOCKER_HUB: &str = "docker.io";

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}
/// The name Docker used for Docker Hub before `docker.io`; normalised to [`DOCKER_HUB`].
pub const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Docker's notary server for Docker Hub (`docker/cli` `trust.NotaryServer`).
pub const DOCKER_HUB_NOTARY: &str = "https://notary.docker.io";
/// Docker's limit on a repository name (`NameTotalLengthMax`).
pub const MAX_NAME_LEN: usize = 255;

/// Docker's default notary server for a registry, when nothing is configured: Docker Hub's
/// for `docker.io`. (Docker would try `https://<registry>` for others; vouch does not guess.)
pub fn default_notary_server(registry: &str) -> Option<&'static str> {
    (registry == DOCKER_HUB).then_some(DOCKER_HUB_NOTARY)
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let err = |reason: &str| ReferenceError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        if input.len() > 4096 {
            return Err(err("it is longer than 4096 bytes"));
        }
        if input.len() == 64 && is_lower_hex(input) {
            return Err(err(
                "a 64-character hex string is an image ID, not a repository name",
            ));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (input, None),
        };
        if let Some(d) = digest {
            let hex = d
                .strip_prefix("sha256:")
                .ok_or_else(|| err("only sha256 digests are supported (…@sha256:<64 hex>)"))?;
            if hex.len() != 64 || !is_lower_hex(hex) {
                return Err(err(
                    "the digest must be sha256: followed by 64 lowercase hex characters",
                ));
            }
        }
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            if t.is_empty() || t.len() > 128 {
                return Err(err("the tag must be 1 to 128 characters"));
            }
            if !is_valid_tag(t) {
                return Err(err("the tag may hold only letters, digits, '_', '.', '-' and may not start with '.' or '-'"));
            }
        }
        if name.is_empty() {
            return Err(err("the repository name is empty"));
        }
        // distribution's splitDockerDomain.
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        validate_host(&registry).map_err(|r| err(&r))?;
        let registry = if registry == DOCKER_HUB_LEGACY {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        for component in path.split('/') {
            validate_component(component).map_err(|r| err(&r))?;
        }
        if registry.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(err(&format!(
                "the repository name {registry}/{path} is longer than {MAX_NAME_LEN} bytes"
            )));
        }
        Ok(Reference {
            registry,
            repository: path,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// The GUN: `<registry>/<repository>`.
    pub fn gun(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `GUN@sha256:…`: the pinned reference a deployment should use.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.gun())
    }
}

/// A repository name (GUN) as typed, normalised by Docker's rules: `bench/one` is
/// `docker.io/bench/one`, `ubuntu` is `docker.io/library/ubuntu`, a first component with `.`
/// or `:` (or `localhost`) is a registry. A tag or digest is refused: a repository name
/// names the repository, not an image in it.
pub fn normalize_repository(input: &str) -> Result<String, ReferenceError> {
    let r = Reference::parse(input)?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(ReferenceError {
            input: input.to_owned(),
            reason: format!(
                "a repository name has no tag or digest; the repository is {}",
                r.gun()
            ),
        });
    }
    Ok(r.gun())
}

/// The repository part of an image reference as typed: without `@digest` and `:tag`
/// (`bench/one:v1@sha256:…` → `bench/one`).
pub fn typed_repository(input: &str) -> &str {
    let name = input.split('@').next().unwrap_or(input);
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.gun())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// distribution's domain grammar: a host name (labels of letters, digits and inner '-'),
/// an IPv4 address, or a bracketed IPv6 address; then an optional `:port`.
fn validate_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry host {host:?} has an unclosed '['"))?;
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "registry host {host:?}: {inner:?} is not an IPv6 address"
            ));
        }
        match after {
            "" => (None, None),
            a => match a.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return Err(format!("registry host {host:?}: junk after ']'")),
            },
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("registry port {p:?} is not a number"));
        }
    }
    if let Some(name) = name {
        if name.is_empty()
            || !name.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return Err(format!("registry host {name:?} is not a valid host name"));
        }
    }
    Ok(())
}

/// distribution's path-component grammar: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn validate_component(c: &str) -> Result<(), String> {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut ok = !b.is_empty() && alnum(b[0]) && alnum(b[b.len() - 1]);
    let mut i = 0;
    while ok && i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        ok = matches!(&c[start..i], "." | "_" | "__") || c[start..i].bytes().all(|x| x == b'-');
    }
    if ok {
        Ok(())
    } else if c.bytes().any(|b| b.is_ascii_uppercase()) {
        Err(format!("repository name component {c:?} must be lowercase"))
    } else if c.is_empty() {
        Err("the repository name has an empty path component".into())
    } else {
        Err(format!(
            "repository name component {c:?} is not valid (lowercase letters and digits, separated by '.', '_', '__' or dashes)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    /// (input, registry, repository, tag, digest)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn normalises_like_docker() {
        let cases: &[Case] = &[
            ("ubuntu", "docker.io", "library/ubuntu", None, None),
            ("ubuntu:22.04", "docker.io", "library/ubuntu", Some("22.04"), None),
            ("user/app:v1", "docker.io", "user/app", Some("v1"), None),
            ("docker.io/ubuntu", "docker.io", "library/ubuntu", None, None),
            ("docker.io/library/ubuntu:1", "docker.io", "library/ubuntu", Some("1"), None),
            ("index.docker.io/ubuntu", "docker.io", "library/ubuntu", None, None),
            ("index.docker.io/user/app:x", "docker.io", "user/app", Some("x"), None),
            (
                "registry.example.com/team/app:1.4.2",
                "registry.example.com",
                "team/app",
                Some("1.4.2"),
                None,
            ),
            ("myreg:5000/team/app", "myreg:5000", "team/app", None, None),
            ("myreg:5000/a/b/c/d:t", "myreg:5000", "a/b/c/d", Some("t"), None),
            ("127.0.0.1:5000/demo/hello:v1", "127.0.0.1:5000", "demo/hello", Some("v1"), None),
            ("localhost/app:x", "localhost", "app", Some("x"), None),
            ("localhost:5000/app", "localhost:5000", "app", None, None),
            ("[::1]:5000/app:v2", "[::1]:5000", "app", Some("v2"), None),
            ("[::1]/app", "[::1]", "app", None, None),
            // An upper-case first component is a host name, as Docker decides.
            ("Upper/app", "Upper", "app", None, None),
            // Without a '/', "localhost:5000" is the repository localhost with tag 5000.
            ("localhost:5000", "docker.io", "library/localhost", Some("5000"), None),
            ("a-b__c_d/e.f---g:T_1.x-y", "docker.io", "a-b__c_d/e.f---g", Some("T_1.x-y"), None),
            ("app:_t", "docker.io", "library/app", Some("_t"), None),
            ("reg.io/a/b@sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "reg.io", "a/b", None, Some(D)),
            ("reg.io/a/b:t@sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "reg.io", "a/b", Some("t"), Some(D)),
        ];
        for (input, registry, repository, tag, digest) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry, *registry, "{input}");
            assert_eq!(r.repository, *repository, "{input}");
            assert_eq!(r.gun(), format!("{registry}/{repository}"), "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.digest.as_deref(), *digest, "{input}");
        }
        let r = Reference::parse(&format!("reg.io/a/b:t@{D}")).unwrap();
        assert_eq!(r.pinned(D), format!("reg.io/a/b@{D}"));
        assert_eq!(r.to_string(), format!("reg.io/a/b:t@{D}"));
        assert_eq!(
            Reference::parse("ubuntu:22.04").unwrap().to_string(),
            "docker.io/library/ubuntu:22.04"
        );
    }

    #[test]
    fn rejects_bad_references() {
        let long = format!("reg.io/{}", "a".repeat(250));
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("reg.io/App:1", "must be lowercase"),
            ("app:", "1 to 128"),
            ("app:-x", "may not start"),
            ("app:.x", "may not start"),
            (&format!("app:{}", "x".repeat(129)), "1 to 128"),
            ("app:t a", "may hold only"),
            ("app@sha256:abc", "64 lowercase hex"),
            (
                "app@sha256:5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03",
                "64 lowercase hex",
            ),
            ("app@md5:5891b5b522d5df086d0ff0b110fbd9d2", "only sha256"),
            ("app@", "only sha256"),
            ("reg.io:port/app", "not a number"),
            ("reg.io:/app", "not a number"),
            ("reg.io:123456/app", "not a number"),
            ("-reg.io/app", "not a valid host"),
            ("reg..io/app", "not a valid host"),
            ("reg_x.io/app", "not a valid host"),
            ("[::1/app", "unclosed"),
            ("[zz::1]:5000/app", "not an IPv6"),
            ("[::1]x/app", "junk"),
            ("reg.io//app", "empty path component"),
            ("reg.io/app/", "empty path component"),
            ("/app", "empty path component"),
            ("a..b", "not valid"),
            ("a.-b", "not valid"),
            ("a_-b", "not valid"),
            ("a___b", "not valid"),
            ("-app", "not valid"),
            ("app-", "not valid"),
            ("_app", "not valid"),
            ("reg.io/a b", "not valid"),
            (
                "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                "image ID",
            ),
            (&long, "longer than 255"),
        ];
        for (bad, why) in cases {
            match Reference::parse(bad) {
                Ok(r) => panic!("{bad:?} should be rejected, parsed as {r:?}"),
                Err(e) => {
                    assert!(
                        e.to_string().contains(why),
                        "{bad:?}: {e} (expected {why:?})"
                    );
                    assert_eq!(e.input, *bad);
                }
            }
        }
    }

    #[test]
    fn repository_names_normalise_like_docker() {
        assert_eq!(
            normalize_repository("bench/one").unwrap(),
            "docker.io/bench/one"
        );
        assert_eq!(
            normalize_repository("ubuntu").unwrap(),
            "docker.io/library/ubuntu"
        );
        assert_eq!(
            normalize_repository("index.docker.io/ubuntu").unwrap(),
            "docker.io/library/ubuntu"
        );
        assert_eq!(normalize_repository("reg.io/a/b").unwrap(), "reg.io/a/b");
        assert_eq!(
            normalize_repository("localhost:5000/app").unwrap(),
            "localhost:5000/app"
        );
        assert_eq!(
            normalize_repository("localhost/app").unwrap(),
            "localhost/app"
        );
        let e = normalize_repository("bench/one:v1").unwrap_err();
        assert!(e.reason.contains("docker.io/bench/one"), "{e}");
        assert!(normalize_repository(&format!("reg.io/a@{D}")).is_err());
        assert_eq!(typed_repository("bench/one:v1"), "bench/one");
        assert_eq!(
            typed_repository(&format!("reg.io:5000/a:t@{D}")),
            "reg.io:5000/a"
        );
        assert_eq!(typed_repository("reg.io:5000/a"), "reg.io:5000/a");
    }

    #[test]
    fn docker_hub_notary_default() {
        assert_eq!(default_notary_server("docker.io"), Some(DOCKER_HUB_NOTARY));
        assert_eq!(default_notary_server("registry.example.com"), None);
    }
}
