//! Image references and how they map to GUNs (protocol §10).
//!
//! `ubuntu:22.04` → GUN `docker.io/library/ubuntu`, tag `22.04`;
//! `registry.example.com:5000/team/app:1.4.2` → GUN `registry.example.com:5000/team/app`;
//! `app@sha256:…` carries a digest; `app:tag@sha256:…` both.

use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host[:port] (`docker.io` when none is given).
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
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (input, None),
        };
        if let Some(d) = digest {
            let hex = d
                .strip_prefix("sha256:")
                .ok_or_else(|| err("only sha256 digests are supported (…@sha256:<64 hex>)"))?;
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
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
            let first = t.as_bytes()[0];
            if !(first.is_ascii_alphanumeric() || first == b'_')
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
            {
                return Err(err("the tag may hold only letters, digits, '_', '.', '-' and may not start with '.' or '-'"));
            }
        }
        if name.is_empty() {
            return Err(err("the repository name is empty"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        validate_host(&registry).map_err(|r| err(&r))?;
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        for component in path.split('/') {
            validate_component(component).map_err(|r| err(&r))?;
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

fn validate_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("registry port {p:?} is not a number"));
        }
    }
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
    Ok(())
}

fn validate_component(c: &str) -> Result<(), String> {
    // distribution's path-component grammar: [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
    let ok = !c.is_empty()
        && c.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        && !c.contains("..")
        && !c.contains("___");
    if ok {
        Ok(())
    } else if c.bytes().any(|b| b.is_ascii_uppercase()) {
        Err(format!("repository name component {c:?} must be lowercase"))
    } else {
        Err(format!("repository name component {c:?} is not valid"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn normalises_like_docker() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            ("ubuntu", "docker.io/library/ubuntu", None, None),
            (
                "ubuntu:22.04",
                "docker.io/library/ubuntu",
                Some("22.04"),
                None,
            ),
            ("user/app:v1", "docker.io/user/app", Some("v1"), None),
            (
                "docker.io/library/ubuntu:1",
                "docker.io/library/ubuntu",
                Some("1"),
                None,
            ),
            (
                "registry.example.com/team/app:1.4.2",
                "registry.example.com/team/app",
                Some("1.4.2"),
                None,
            ),
            ("myreg:5000/team/app", "myreg:5000/team/app", None, None),
            (
                "127.0.0.1:5000/demo/hello:v1",
                "127.0.0.1:5000/demo/hello",
                Some("v1"),
                None,
            ),
            ("localhost/app:x", "localhost/app", Some("x"), None),
        ];
        for (input, gun, tag, digest) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.gun(), *gun, "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.digest.as_deref(), *digest, "{input}");
        }
        let r = Reference::parse(&format!("reg.io/a/b:t@{D}")).unwrap();
        assert_eq!(
            (r.gun().as_str(), r.tag.as_deref(), r.digest.as_deref()),
            ("reg.io/a/b", Some("t"), Some(D))
        );
        assert_eq!(r.pinned(D), format!("reg.io/a/b@{D}"));
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Upper/app",
            "reg.io/App:1",
            "app:",
            "app:-x",
            "app@sha256:abc",
            "app@md5:5891b5b522d5df086d0ff0b110fbd9d2",
            "reg.io:port/app",
            "reg.io//app",
            "a..b",
            "app:t a",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
