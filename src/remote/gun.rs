//! Names that end up in paths and URLs: GUNs and role names, validated before use.

use std::fmt;

use super::RemoteError;

/// The longest GUN accepted (Docker's limit for a repository name).
pub const MAX_GUN_LEN: usize = 255;

/// A Globally Unique Name of a trust repository, e.g. `registry.example.com/team/app`.
///
/// Validated on construction so that it can be put into a URL path or a file path as is:
/// ASCII letters, digits and `.`, `_`, `-`, `:` (a registry port), separated by `/` into
/// non-empty components that are neither `.` nor `..`; no leading or trailing `/`; at most
/// [`MAX_GUN_LEN`] bytes. notary-server itself accepts any GUN without `*`; names outside
/// this set are not Docker repository names and are refused here rather than escaped.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gun(String);

impl Gun {
    pub fn parse(s: &str) -> Result<Gun, RemoteError> {
        let bad = |reason: &str| RemoteError::InvalidGun {
            gun: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.len() > MAX_GUN_LEN {
            return Err(bad(&format!("it is longer than {MAX_GUN_LEN} bytes")));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/')))
        {
            return Err(bad(&format!(
                "it contains {c:?}; allowed are letters, digits, '.', '_', '-', ':' and '/'"
            )));
        }
        for comp in s.split('/') {
            match comp {
                "" => {
                    return Err(bad(
                        "it has an empty path component (leading, trailing or double '/')",
                    ))
                }
                "." | ".." => return Err(bad("it has a '.' or '..' path component")),
                _ => {}
            }
        }
        Ok(Gun(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first path component when it names a registry host (contains `.` or `:`, or is
    /// `localhost`), as Docker decides; otherwise `None` (e.g. `library/ubuntu`).
    pub fn registry_host(&self) -> Option<&str> {
        let first = self.0.split('/').next()?;
        if self.0.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            Some(first)
        } else {
            None
        }
    }
}

impl std::str::FromStr for Gun {
    type Err = RemoteError;
    fn from_str(s: &str) -> Result<Gun, RemoteError> {
        Gun::parse(s)
    }
}

impl fmt::Display for Gun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Gun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gun({})", self.0)
    }
}

impl AsRef<str> for Gun {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks a role name before it goes into a URL or path: `root`, `snapshot`, `timestamp`,
/// `targets` or a delegation `targets/<name>[/<name>…]` with names of `[a-z0-9_-]`
/// (protocol §3.4), at most 255 bytes.
pub fn validate_role(role: &str) -> Result<(), RemoteError> {
    let bad = |reason: &str| RemoteError::InvalidRole {
        role: role.to_owned(),
        reason: reason.to_owned(),
    };
    match role {
        "root" | "snapshot" | "timestamp" | "targets" => return Ok(()),
        _ => {}
    }
    if role.len() >= 256 {
        return Err(bad("it is 256 bytes or longer"));
    }
    let Some(rest) = role.strip_prefix("targets/") else {
        return Err(bad(
            "expected root, targets, snapshot, timestamp or targets/<name>",
        ));
    };
    for comp in rest.split('/') {
        if comp.is_empty() {
            return Err(bad("it has an empty path component"));
        }
        if !comp
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "delegation names may only contain a-z, 0-9, '_' and '-'",
            ));
        }
    }
    Ok(())
}

/// Checks a checksum given for a by-checksum fetch: lowercase hex of a SHA-256, -384 or
/// -512 digest (64, 96 or 128 characters), as the server's route accepts.
pub fn validate_checksum(hex: &str) -> Result<(), RemoteError> {
    let ok = matches!(hex.len(), 64 | 96 | 128)
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RemoteError::InvalidChecksum {
            checksum: hex.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guns() {
        for ok in [
            "example.com/app",
            "127.0.0.1:29224/demo/app",
            "docker.io/library/ubuntu",
            "a",
            "A.b_c-d",
        ] {
            assert_eq!(Gun::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", "/abs", "trail/", "a//b", "a/../b", "..", "a/./b", "a b", "a*b", "a%2e", "a?b",
            "a#b", "a\\b", "ü", "a\nb",
        ] {
            assert!(Gun::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Gun::parse(&"a".repeat(255)).is_ok());
        assert!(Gun::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn registry_host() {
        let h = |s: &str| Gun::parse(s).unwrap().registry_host().map(str::to_owned);
        assert_eq!(
            h("registry.example.com/team/app").as_deref(),
            Some("registry.example.com")
        );
        assert_eq!(h("127.0.0.1:5000/app").as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(h("localhost/app").as_deref(), Some("localhost"));
        assert_eq!(h("library/ubuntu"), None);
        assert_eq!(h("example.com"), None);
    }

    #[test]
    fn roles() {
        for ok in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
            "targets/a/b-c_1",
        ] {
            validate_role(ok).unwrap();
        }
        for bad in [
            "",
            "Root",
            "targets/",
            "targets//x",
            "targets/../x",
            "targets/A",
            "foo",
            "targets/a.b",
            "x/targets",
        ] {
            assert!(validate_role(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn checksums() {
        validate_checksum(&"a".repeat(64)).unwrap();
        validate_checksum(&"0".repeat(128)).unwrap();
        assert!(validate_checksum(&"A".repeat(64)).is_err());
        assert!(validate_checksum(&"a".repeat(63)).is_err());
        assert!(validate_checksum("../../etc").is_err());
    }
}
