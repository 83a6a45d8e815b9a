//! Role names (protocol §3.4) and the key set a role is verified against.

use std::collections::BTreeMap;

use super::keys::PublicKey;

pub const ROOT: &str = "root";
pub const TARGETS: &str = "targets";
pub const SNAPSHOT: &str = "snapshot";
pub const TIMESTAMP: &str = "timestamp";

/// The four top-level roles, in notary's order.
pub const BASE_ROLES: [&str; 4] = [ROOT, TARGETS, SNAPSHOT, TIMESTAMP];

/// The keys and threshold a document of role `name` must be signed with: a base role
/// from root.json, or a delegation from its parent targets file.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseRole {
    pub name: String,
    /// Key ID as listed by the role → key.
    pub keys: BTreeMap<String, PublicKey>,
    pub threshold: i64,
}

pub fn is_base_role(name: &str) -> bool {
    BASE_ROLES.contains(&name)
}

/// Why `name` is not a delegation name (`targets/<x>[/<y>…]`, `[-a-z0-9_/]`, < 256
/// bytes, path-clean), or `None` when it is one (notary's `IsDelegation`).
pub fn delegation_name_problem(name: &str) -> Option<&'static str> {
    if !name.starts_with("targets/") {
        return Some("a delegation name starts with \"targets/\"");
    }
    if !name
        .bytes()
        .all(|b| matches!(b, b'-' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'/'))
    {
        return Some("only lowercase letters, digits, '-', '_' and '/' are allowed");
    }
    if name.len() >= 256 {
        return Some("a role name is shorter than 256 bytes");
    }
    // The character set excludes '.', so path-clean means: no empty segment.
    if name.contains("//") || name.ends_with('/') {
        return Some("empty path segments ('//' or a trailing '/') are not allowed");
    }
    None
}

pub fn is_delegation(name: &str) -> bool {
    delegation_name_problem(name).is_none()
}

/// A base role or a delegation name (notary's `ValidRole`).
pub fn is_valid_role(name: &str) -> bool {
    is_base_role(name) || is_delegation(name)
}

/// The parent of a delegation (`targets/a/b` → `targets/a`); `None` for names without
/// a `/`.
pub fn parent_role(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(parent, _)| parent)
}

/// Whether `child` is a delegation directly under `parent`.
pub fn is_direct_child(parent: &str, child: &str) -> bool {
    is_delegation(child) && parent_role(child) == Some(parent)
}

/// The `_type` a document of this role carries (`Targets` for every delegation).
pub fn expected_type(role: &str) -> Option<&'static str> {
    match role {
        ROOT => Some("Root"),
        TARGETS => Some("Targets"),
        SNAPSHOT => Some("Snapshot"),
        TIMESTAMP => Some("Timestamp"),
        _ if is_delegation(role) => Some("Targets"),
        _ => None,
    }
}

/// Whether `target` is allowed by delegation `paths` (plain string prefixes; `""`
/// allows everything).
pub fn path_allowed(target: &str, paths: &[String]) -> bool {
    paths.iter().any(|p| target.starts_with(p.as_str()))
}

/// A child's effective paths: those of its own paths that have some parent path as a
/// prefix (notary's `RestrictDelegationPathPrefixes`).
pub fn restrict_paths(parent_paths: &[String], child_paths: &[String]) -> Vec<String> {
    child_paths
        .iter()
        .filter(|c| parent_paths.iter().any(|p| c.starts_with(p.as_str())))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegation_names() {
        for ok in [
            "targets/releases",
            "targets/a/b",
            "targets/x-y_z/0",
            "targets/a",
        ] {
            assert!(is_delegation(ok), "{ok}");
        }
        for bad in [
            "targets",
            "targets/",
            "targets//a",
            "targets/a/",
            "targets/A",
            "targets/a.b",
            "targets/../root",
            "/targets/a",
            "root",
            "releases",
            "targets/a b",
        ] {
            assert!(!is_delegation(bad), "{bad}");
        }
        let long = format!("targets/{}", "a".repeat(247));
        assert_eq!(long.len(), 255);
        assert!(is_delegation(&long));
        assert!(!is_delegation(&format!("{long}a")));
    }

    #[test]
    fn valid_roles_and_types() {
        assert!(is_valid_role("root") && is_valid_role("timestamp"));
        assert!(is_valid_role("targets/releases"));
        assert!(!is_valid_role("mirror") && !is_valid_role(""));
        assert_eq!(expected_type("root"), Some("Root"));
        assert_eq!(expected_type("snapshot"), Some("Snapshot"));
        assert_eq!(expected_type("timestamp"), Some("Timestamp"));
        assert_eq!(expected_type("targets/releases"), Some("Targets"));
        assert_eq!(expected_type("targets/Bad"), None);
    }

    #[test]
    fn direct_children() {
        assert!(is_direct_child("targets", "targets/releases"));
        assert!(is_direct_child("targets/a", "targets/a/b"));
        assert!(!is_direct_child("targets", "targets/a/b"));
        assert!(!is_direct_child("targets/a", "targets/ab"));
        assert!(!is_direct_child("root", "root/x"));
        assert_eq!(parent_role("targets/a/b"), Some("targets/a"));
        assert_eq!(parent_role("targets"), None);
    }

    #[test]
    fn path_prefixes() {
        let all = vec![String::new()];
        let docs = vec!["docs/".to_owned()];
        assert!(path_allowed("anything", &all));
        assert!(path_allowed("docs/a", &docs));
        assert!(!path_allowed("doc", &docs));
        assert!(!path_allowed("x", &[]));
        let child = vec!["docs/api".to_owned(), "src/".to_owned()];
        assert_eq!(restrict_paths(&docs, &child), vec!["docs/api".to_owned()]);
        assert_eq!(restrict_paths(&all, &child), child);
        assert!(restrict_paths(&[], &child).is_empty());
    }
}
