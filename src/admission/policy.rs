//! The admission policy file: which images are verified, against which trust lock and
//! signers, and what happens when they are not.
//!
//! ```yaml
//! default: deny                  # an image no rule matches: deny | allow
//! rules:
//!   - match: "registry.example.com/team/*"
//!     namespaces: ["prod"]       # optional
//!     action: verify             # verify | allow | deny
//!     trust_lock: vouch-trust.json   # relative to the policy file; required by verify
//!     server: https://notary.example.com:4443   # optional
//!     signers: ["targets/releases"]  # optional; all must have signed the same digest
//!     mutate: true               # tag -> digest (default true)
//!     mode: enforce              # enforce | warn
//!     on_error: deny             # notary or registry unreachable: deny | allow
//!     check_registry: true       # the registry must serve the signed digest for the tag
//!     format: notary             # the signature required: notary | cosign | notation | any
//! ```
//!
//! `format` (default `notary`): `notary` is the Notary v1 (TUF) target; `cosign` and
//! `notation` an OCI signature of the digest the registry serves for the tag, by a key
//! the repository's verified TUF metadata lists (as `vouch verify --format`); `any` the
//! first of notary, cosign, notation that verifies.
//!
//! `match` is an anchored glob over the normalised image name (the GUN, as `vouch verify`
//! names it: `docker.io/library/nginx`, `registry.example.com:5000/team/app`), without tag
//! or digest: `*` matches any run of characters except `/`, `**` any run including `/`.
//! The most specific rule wins: the one with the most literal characters; at equal
//! counts, a rule restricted to namespaces beats one that is not, then the earlier rule.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::oci;
use crate::trust::pin::TrustLock;

use super::yaml;

/// The largest policy file read.
const MAX_POLICY_BYTES: u64 = 1 << 20;

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the policy file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the policy file {path}: rule {rule} ({pattern}): {reason}")]
    Rule {
        path: PathBuf,
        rule: usize,
        pattern: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Default {
    Deny,
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Verify,
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    Warn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    Deny,
    Allow,
}

/// The signature a verify rule requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureFormat {
    /// The Notary v1 (TUF) target (the default).
    Notary,
    /// An OCI signature (cosign or Notary Project) by a key the verified TUF metadata lists.
    Oci(oci::Format),
    /// The first of notary, cosign, notation that verifies.
    Any,
}

impl SignatureFormat {
    /// Every format, in the order `any` tries them.
    pub const ALL: [SignatureFormat; 4] = [
        SignatureFormat::Notary,
        SignatureFormat::Oci(oci::Format::Cosign),
        SignatureFormat::Oci(oci::Format::Notation),
        SignatureFormat::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFormat::Notary => "notary",
            SignatureFormat::Oci(f) => f.as_str(),
            SignatureFormat::Any => "any",
        }
    }

    /// `notary`, `cosign`, `notation` (or `notary-project`), `any`.
    pub fn parse(s: &str) -> Option<SignatureFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "notary" => Some(SignatureFormat::Notary),
            "any" => Some(SignatureFormat::Any),
            other => oci::Format::parse(other).map(SignatureFormat::Oci),
        }
    }
}

impl std::fmt::Display for SignatureFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    default: Option<Default>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: String,
    namespaces: Option<Vec<String>>,
    action: Option<Action>,
    trust_lock: Option<String>,
    server: Option<String>,
    #[serde(default)]
    signers: Vec<String>,
    mutate: Option<bool>,
    mode: Option<Mode>,
    on_error: Option<OnError>,
    check_registry: Option<bool>,
    /// A string; read here (not by serde) so that an unknown format names its rule.
    format: Option<serde_json::Value>,
}

/// One rule, validated; its trust lock read.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based position in the file, for messages.
    pub index: usize,
    pub pattern: String,
    pub namespaces: Option<Vec<String>>,
    pub action: Action,
    /// The trust lock file (resolved against the policy file's directory) and its content.
    pub trust_lock: Option<(PathBuf, Arc<TrustLock>)>,
    pub server: Option<String>,
    pub signers: Vec<String>,
    pub mutate: bool,
    pub mode: Mode,
    pub on_error: OnError,
    pub check_registry: bool,
    /// The signature required.
    pub format: SignatureFormat,
    literal: usize,
}

impl Rule {
    /// This rule applies to `gun` in `namespace`.
    pub fn matches(&self, gun: &str, namespace: &str) -> bool {
        if let Some(ns) = &self.namespaces {
            if !ns.iter().any(|n| n == namespace) {
                return false;
            }
        }
        glob_match(self.pattern.as_bytes(), gun.as_bytes())
    }

    /// A short name for messages and logs: `rule 2 (registry.example.com/team/*)`.
    pub fn label(&self) -> String {
        format!("rule {} ({})", self.index, self.pattern)
    }
}

/// A policy file, validated.
#[derive(Debug, Clone)]
pub struct Policy {
    pub path: PathBuf,
    pub default: Default,
    pub rules: Vec<Rule>,
    /// The files the policy was made from (itself and its trust locks): a change to any
    /// of them means reloading.
    pub files: Vec<PathBuf>,
}

impl Policy {
    /// Read and validate the policy file at `path`, with every trust lock it names.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let read_err = |reason: String| PolicyError::Read {
            path: path.to_owned(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| read_err(e.to_string()))?;
        if meta.len() > MAX_POLICY_BYTES {
            return Err(read_err(format!(
                "it is larger than {MAX_POLICY_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_err(e.to_string()))?;
        Policy::parse(&text, path)
    }

    /// Validate policy text (YAML or JSON); `path` locates relative trust locks.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let invalid = |reason: String| PolicyError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let value = yaml::to_json(text).map_err(|e| invalid(e.to_string()))?;
        if !value.is_object() {
            return Err(invalid(
                "expected a mapping with `default` and `rules`".to_owned(),
            ));
        }
        let raw: RawPolicy = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut files = vec![path.to_owned()];
        let mut rules = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let rule = validate_rule(i + 1, r, base, path)?;
            if let Some((p, _)) = &rule.trust_lock {
                if !files.contains(p) {
                    files.push(p.clone());
                }
            }
            rules.push(rule);
        }
        Ok(Policy {
            path: path.to_owned(),
            default: raw.default.unwrap_or(Default::Deny),
            rules,
            files,
        })
    }

    /// The rule for `gun` in `namespace`: the most specific that matches.
    pub fn rule_for(&self, gun: &str, namespace: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .filter(|r| r.matches(gun, namespace))
            .max_by(|a, b| {
                (
                    a.literal,
                    a.namespaces.is_some(),
                    std::cmp::Reverse(a.index),
                )
                    .cmp(&(
                        b.literal,
                        b.namespaces.is_some(),
                        std::cmp::Reverse(b.index),
                    ))
            })
    }
}

fn validate_rule(index: usize, r: RawRule, base: &Path, path: &Path) -> Result<Rule, PolicyError> {
    let err = |reason: String| PolicyError::Rule {
        path: path.to_owned(),
        rule: index,
        pattern: r.pattern.clone(),
        reason,
    };
    let p = &r.pattern;
    if p.is_empty() {
        return Err(err("`match` is empty".into()));
    }
    if let Some(c) = p.chars().find(|c| {
        !(c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, '.' | '-' | '_' | '/' | ':' | '*' | '[' | ']'))
    }) {
        return Err(err(format!(
            "`match` may hold lower-case letters, digits, . - _ / : [ ] and * (not {c:?}); it matches the image name without tag or digest, e.g. registry.example.com/team/*"
        )));
    }
    if p.contains("***") {
        return Err(err(
            "`match`: use * (within one path component) or ** (across components)".into(),
        ));
    }
    let action = r.action.unwrap_or(Action::Verify);
    if let Some(ns) = &r.namespaces {
        if ns.is_empty() {
            return Err(err(
                "`namespaces` is empty; leave it out to match every namespace".into(),
            ));
        }
    }
    let verify_only = [
        ("trust_lock", r.trust_lock.is_some()),
        ("server", r.server.is_some()),
        ("signers", !r.signers.is_empty()),
        ("mutate", r.mutate.is_some()),
        ("mode", r.mode.is_some()),
        ("on_error", r.on_error.is_some()),
        ("check_registry", r.check_registry.is_some()),
        ("format", r.format.is_some()),
    ];
    let trust_lock = match action {
        Action::Verify => {
            let Some(lock) = &r.trust_lock else {
                return Err(err("`action: verify` needs `trust_lock` (the pinned root keys; never trust on first use): create one with `vouch trust pin GUN --trust-lock FILE`".into()));
            };
            let lock_path = base.join(lock);
            let content = TrustLock::load(&lock_path).map_err(|e| err(e.to_string()))?;
            Some((lock_path, Arc::new(content)))
        }
        Action::Allow | Action::Deny => {
            if let Some((key, _)) = verify_only.iter().find(|(_, set)| *set) {
                return Err(err(format!("`{key}` applies to `action: verify` only")));
            }
            None
        }
    };
    if let Some(s) = &r.server {
        if !(s.starts_with("https://") || s.starts_with("http://")) {
            return Err(err(format!("`server` {s:?} must be an http(s) URL")));
        }
    }
    for s in &r.signers {
        if !s.starts_with("targets/") || s.len() <= "targets/".len() {
            return Err(err(format!(
                "`signers`: {s:?} is not a delegation role (targets/NAME)"
            )));
        }
    }
    let format = match &r.format {
        None => SignatureFormat::Notary,
        Some(v) => v
            .as_str()
            .and_then(SignatureFormat::parse)
            .ok_or_else(|| {
                err(format!(
                    "`format` {v} is not a signature format: use notary (the default), cosign, notation or any"
                ))
            })?,
    };
    let literal = p.bytes().filter(|&b| b != b'*').count();
    Ok(Rule {
        index,
        pattern: r.pattern.clone(),
        namespaces: r.namespaces.clone(),
        action,
        trust_lock,
        server: r.server.clone(),
        signers: r.signers.clone(),
        mutate: r.mutate.unwrap_or(true),
        mode: r.mode.unwrap_or(Mode::Enforce),
        on_error: r.on_error.unwrap_or(OnError::Deny),
        check_registry: r.check_registry.unwrap_or(true),
        format,
        literal,
    })
}

/// Anchored glob: `*` any run without `/`, `**` any run; everything else literal.
pub fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            (0..=s.len()).any(|i| glob_match(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob_match(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == b'/' {
                    break;
                }
            }
            false
        }
        Some(c) => s.first() == Some(c) && glob_match(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_anchored() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
        assert!(m("reg.example.com/team/*", "reg.example.com/team/app"));
        assert!(!m("reg.example.com/team/*", "reg.example.com/team/sub/app"));
        assert!(m("reg.example.com/team/**", "reg.example.com/team/sub/app"));
        assert!(!m(
            "reg.example.com/team/*",
            "evil.com/reg.example.com/team/app"
        ));
        assert!(!m("reg.example.com/team/app", "reg.example.com/team/app2"));
        assert!(!m("reg.example.com/*", "reg.example.com.evil.com/app"));
        assert!(m("**", "docker.io/library/nginx"));
    }

    fn write_lock(dir: &Path) {
        let lock = TrustLock::default();
        lock.save(&dir.join("lock.json")).unwrap();
    }

    #[test]
    fn most_specific_rule_wins() {
        let dir = tempfile::tempdir().unwrap();
        write_lock(dir.path());
        let p = Policy::parse(
            "default: allow\nrules:\n- match: 'reg/**'\n  action: deny\n- match: reg/team/*\n  trust_lock: lock.json\n- match: reg/team/*\n  namespaces: [prod]\n  action: allow\n- match: reg/team/app\n  action: deny\n",
            &dir.path().join("policy.yaml"),
        )
        .unwrap();
        assert_eq!(p.default, Default::Allow);
        assert_eq!(p.rule_for("reg/team/web", "dev").unwrap().index, 2);
        assert_eq!(p.rule_for("reg/team/web", "prod").unwrap().index, 3);
        assert_eq!(p.rule_for("reg/team/app", "prod").unwrap().index, 4);
        assert_eq!(p.rule_for("reg/other/x/y", "prod").unwrap().index, 1);
        assert!(p.rule_for("docker.io/library/nginx", "prod").is_none());
        assert_eq!(
            p.files,
            vec![dir.path().join("policy.yaml"), dir.path().join("lock.json")]
        );
    }

    #[test]
    fn format_defaults_to_notary_and_unknown_formats_name_their_rule() {
        let dir = tempfile::tempdir().unwrap();
        write_lock(dir.path());
        let path = dir.path().join("policy.yaml");
        let p = Policy::parse(
            "rules:\n- match: reg/a\n  trust_lock: lock.json\n- match: reg/b\n  trust_lock: lock.json\n  format: cosign\n- match: reg/c\n  trust_lock: lock.json\n  format: Notation\n- match: reg/d\n  trust_lock: lock.json\n  format: any\n- match: reg/e\n  trust_lock: lock.json\n  format: notary\n",
            &path,
        )
        .unwrap();
        let formats: Vec<_> = p.rules.iter().map(|r| r.format).collect();
        assert_eq!(
            formats,
            vec![
                SignatureFormat::Notary,
                SignatureFormat::Oci(oci::Format::Cosign),
                SignatureFormat::Oci(oci::Format::Notation),
                SignatureFormat::Any,
                SignatureFormat::Notary,
            ]
        );
        for (text, want) in [
            (
                "rules:\n- match: reg/a\n  trust_lock: lock.json\n- match: reg/b\n  trust_lock: lock.json\n  format: sigstore\n",
                "rule 2 (reg/b): `format` \"sigstore\" is not a signature format: use notary (the default), cosign, notation or any",
            ),
            (
                "rules:\n- match: reg/b\n  trust_lock: lock.json\n  format: [cosign]\n",
                "rule 1 (reg/b): `format` [\"cosign\"] is not a signature format",
            ),
            (
                "rules:\n- match: reg/b\n  action: allow\n  format: cosign\n",
                "rule 1 (reg/b): `format` applies to `action: verify` only",
            ),
        ] {
            let e = Policy::parse(text, &path).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn bad_policies_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_lock(dir.path());
        for (text, want) in [
            ("default: maybe\n", "unknown variant"),
            ("defualt: deny\n", "unknown field `defualt`"),
            ("rules:\n- match: reg/*\n", "needs `trust_lock`"),
            (
                "rules:\n- match: reg/*\n  trust_lock: missing.json\n",
                "does not exist",
            ),
            (
                "rules:\n- match: reg/*\n  action: allow\n  mutate: false\n",
                "`mutate` applies to `action: verify` only",
            ),
            (
                "rules:\n- match: Reg/*\n  action: allow\n",
                "may hold lower-case",
            ),
            ("rules:\n- match: reg/app:1.0\n  action: allow\n", ""),
            (
                "rules:\n- match: reg/*\n  trust_lock: lock.json\n  signers: [releases]\n",
                "not a delegation role",
            ),
            (
                "rules:\n- match: reg/*\n  trust_lock: lock.json\n  mode: audit\n",
                "unknown variant `audit`",
            ),
            ("- a\n", "expected a mapping"),
        ] {
            match Policy::parse(text, &dir.path().join("p.yaml")) {
                Err(e) => assert!(e.to_string().contains(want), "{text:?}: {e}"),
                Ok(_) => assert!(want.is_empty(), "{text:?} was accepted"),
            }
        }
    }
}
