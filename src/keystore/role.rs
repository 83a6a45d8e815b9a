//! Role names and GUNs as the key store accepts them (notary `tuf/data/roles.go`).

use super::KeystoreError;

/// The four top-level roles.
pub const BASE_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

pub fn is_base_role(role: &str) -> bool {
    BASE_ROLES.contains(&role)
}

/// Whether keys for `role` carry a `gun` header (and belong to one repository).
pub fn role_takes_gun(role: &str) -> bool {
    matches!(role, "targets" | "snapshot" | "timestamp")
}

/// notary's `IsDelegation`: `targets/…`, characters `[-a-z0-9_/]`, under 256 bytes, and
/// already clean (no empty, `.` or `..` segments, no trailing slash).
pub fn is_delegation(role: &str) -> bool {
    role.len() < 256
        && role.strip_prefix("targets/").is_some_and(|rest| {
            !rest.is_empty()
                && role
                    .bytes()
                    .all(|b| matches!(b, b'-' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'/'))
                && rest
                    .split('/')
                    .all(|s| !s.is_empty() && s != "." && s != "..")
        })
}

/// A docker signer name (`docker trust key generate NAME`): `^[a-z0-9][a-z0-9_-]*$`.
pub fn is_signer_name(role: &str) -> bool {
    role.len() < 256
        && role
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && role
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// Check a role name given for a new or imported key.
pub fn validate_role(role: &str) -> Result<(), KeystoreError> {
    if is_base_role(role) || is_delegation(role) || is_signer_name(role) {
        return Ok(());
    }
    let reason = if role.is_empty() {
        "empty"
    } else if role.starts_with("targets/") {
        "delegation names are targets/<name> with lowercase letters, digits, '-', '_' and '/' segments"
    } else {
        "not a base role, a targets/<name> delegation or a lowercase signer name"
    };
    Err(KeystoreError::InvalidRole {
        role: role.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Check a GUN (a repository name such as `registry.example.com:5000/team/app`) before it
/// goes into a PEM header.
pub fn validate_gun(gun: &str) -> Result<(), KeystoreError> {
    let bad = |reason: &str| {
        Err(KeystoreError::InvalidGun {
            gun: gun.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if gun.is_empty() {
        return bad("empty");
    }
    if gun.len() > 255 {
        return bad("longer than 255 characters");
    }
    if !gun.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("only printable ASCII without spaces is allowed");
    }
    if gun.starts_with('/')
        || gun.ends_with('/')
        || gun
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty, '.' or '..' path segments are not allowed");
    }
    Ok(())
}

/// Check a (role, GUN) pair for a key to be written: a GUN is required for targets,
/// snapshot and timestamp keys and refused for the others.
pub fn validate_role_gun(role: &str, gun: Option<&str>) -> Result<(), KeystoreError> {
    validate_role(role)?;
    match (role_takes_gun(role), gun) {
        (true, Some(g)) => validate_gun(g),
        (true, None) => Err(KeystoreError::GunRequired {
            role: role.to_owned(),
        }),
        (false, Some(g)) => Err(KeystoreError::GunNotAllowed {
            role: role.to_owned(),
            gun: g.to_owned(),
        }),
        (false, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        for ok in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
            "targets/a/b-c_d",
            "alice",
            "ci-bot_2",
        ] {
            assert!(validate_role(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Root",
            "targets/",
            "targets//x",
            "targets/x/",
            "targets/../x",
            "targets/Rel",
            "-x",
            "a b",
            "a\nb",
        ] {
            assert!(validate_role(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn guns() {
        assert!(validate_role_gun("targets", Some("reg:5000/team/app")).is_ok());
        assert!(matches!(
            validate_role_gun("targets", None),
            Err(KeystoreError::GunRequired { .. })
        ));
        assert!(matches!(
            validate_role_gun("root", Some("a/b")),
            Err(KeystoreError::GunNotAllowed { .. })
        ));
        for bad in ["", "a b", "a\nrole: root", "/a", "a//b", "a/../b"] {
            assert!(validate_gun(bad).is_err(), "{bad:?}");
        }
    }
}
