//! Content trust at admission: the decision of `vouch admission serve` (a Kubernetes
//! mutating admission webhook) for one AdmissionReview.
//!
//! - [`policy`]: the policy file (which images are verified, against which trust lock).
//! - [`review`]: the AdmissionReview v1 request, where its object's images are, the response.
//! - [`Engine::review`]: the decision, per image, with the verdict of `vouch verify`
//!   ([`crate::trust::verdict`] through [`crate::trust::images::check_image`]; for a rule's
//!   `format: cosign|notation|any`, the OCI signatures as `vouch verify --format` checks
//!   them, [`crate::oci::cosign::verify`] and [`crate::oci::notation::verify`], with the
//!   keys the verified TUF metadata lists) under the rule's trust lock — never trust on
//!   first use — and a JSONPatch that pins each verified tag to its signed digest.
//! - [`cache`]: verified results, kept in memory with a TTL and a size bound.
//! - [`metrics`]: counters, as Prometheus text.
//!
//! The HTTPS server, file watching and logging are the CLI's; nothing here prints.

pub mod cache;
pub mod metrics;
pub mod policy;
pub mod review;
pub mod yaml;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::oci;
use crate::reference::Reference;
use crate::remote::registry::{Registry, RegistryError};
use crate::remote::{Gun, Remote};
use crate::trust::anchor::TrustPolicy;
use crate::trust::images;
use crate::trust::state::LoadPolicy;
use crate::trust::{verdict, LocalRepo, RepoState};

use policy::{Action, Mode, OnError, Policy, Rule, SignatureFormat};
use review::{ImageAt, Request, Response};

/// How the engine reaches notary servers and registries: with the credentials, TLS
/// settings and server map the CLI finds (config file, environment, docker config.json,
/// certs.d).
pub trait Remotes: Send + Sync {
    /// The notary remote for `gun`; `server` (a rule's) overrides the configured one.
    fn notary(&self, gun: &Gun, server: Option<&str>) -> Result<Box<dyn Remote>, Error>;
    /// The registry at `host`.
    fn registry(&self, host: &str) -> Result<Registry, Error>;
    /// Where verified trust data is cached (each repository's anchored chain).
    fn trust_dir(&self) -> &Path;
}

/// A verified image: what the patch pins it to, and which signature verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed tag that decided (for a reference by digest alone: a tag that carries
    /// it; none when an OCI signature of the digest verified it).
    pub tag: Option<String>,
    /// The signed digest, `sha256:HEX`.
    pub digest: String,
    /// The reference already names this digest.
    pub pinned: bool,
    /// The signature that verified: notary, cosign or notation (never `any`).
    pub format: SignatureFormat,
    /// The role whose key signed.
    pub role: String,
}

/// What one image's check came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Signed: the verdict of `vouch verify` (`--format` as the rule says).
    Verified(Box<Verified>),
    /// A definitive no (unsigned, wrong signer, tag moved, expired, not pinned…).
    NotTrusted(String),
    /// The notary server or registry could not be read.
    Unavailable(String),
}

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a verified result is kept.
    pub cache_ttl: Duration,
    /// How many verified results are kept.
    pub cache_size: usize,
}

/// The decision for one review, and what to log about it.
#[derive(Debug, Clone)]
pub struct Decision {
    pub response: Response,
    pub verdict: metrics::Verdict,
    /// One structured record (JSON object) for the decision log.
    pub log: Value,
}

/// The webhook's state shared by every request: cache, metrics, one lock per repository
/// (concurrent cold requests for one repository read its trust data once).
pub struct Engine {
    pub cache: cache::TtlCache<Outcome>,
    pub metrics: metrics::Metrics,
    loading: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Engine {
    pub fn new(settings: &Settings) -> Engine {
        Engine {
            cache: cache::TtlCache::new(settings.cache_ttl, settings.cache_size),
            metrics: metrics::Metrics::default(),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// Decide a review. `deadline`: images not checked by then are not trusted (the
    /// API server gives up at `timeoutSeconds`; an answer must come before).
    pub fn review(
        &self,
        policy: &Policy,
        remotes: &dyn Remotes,
        req: &Request,
        deadline: Instant,
    ) -> Decision {
        let start = Instant::now();
        let mut images_log = Vec::new();
        let mut denials: Vec<String> = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        let mut audit_untrusted: Vec<String> = Vec::new();
        let mut patch = Vec::new();
        let mut warned = false;

        let found = if req.operation == "DELETE" || req.operation == "CONNECT" {
            Ok(Vec::new())
        } else {
            req.images()
        };
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                denials.push(e.to_string());
                Vec::new()
            }
        };
        for at in &found {
            let (line, outcome_kind) = self.image(policy, remotes, req, at, deadline);
            let reason = line.reason.clone();
            let who = format!("{} ({})", at.image, at.pointer);
            match outcome_kind {
                ImageResult::Allowed { new_value } => {
                    if let Some(v) = new_value {
                        patch.extend(review::replace_ops(&at.pointer, &at.image, &v));
                    }
                }
                ImageResult::Denied => denials.push(format!("{who}: {reason}")),
                ImageResult::Warned => {
                    warned = true;
                    warnings.push(format!(
                        "vouch: {who} admitted without a verified signature: {reason}"
                    ));
                    audit_untrusted.push(format!("{}: {reason}", at.image));
                }
            }
            images_log.push(line.to_json(at));
        }
        let allowed = denials.is_empty();
        let message = (!allowed).then(|| {
            let n = denials.len();
            format!(
                "vouch denied {} {}/{}: {} image(s) not trusted: {}",
                if req.kind.is_empty() {
                    "the object"
                } else {
                    &req.kind
                },
                req.namespace,
                req.name,
                n,
                denials.join("; ")
            )
        });
        let mut audit = Vec::new();
        if !audit_untrusted.is_empty() {
            audit.push(("images-not-verified".to_owned(), audit_untrusted.join("; ")));
        }
        let response = Response {
            uid: req.uid.clone(),
            allowed,
            message: message.clone(),
            patch: if allowed { patch } else { Vec::new() },
            warnings,
            audit,
        };
        let verdict = match (allowed, warned) {
            (false, _) => metrics::Verdict::Denied,
            (true, true) => metrics::Verdict::Warned,
            (true, false) => metrics::Verdict::Allowed,
        };
        let took = start.elapsed();
        let patched = !response.patch.is_empty();
        self.metrics.review(verdict, took, patched);
        let log = json!({
            "uid": req.uid, "kind": req.kind, "resource": req.resource,
            "sub_resource": req.sub_resource, "namespace": req.namespace, "name": req.name,
            "operation": req.operation, "dry_run": req.dry_run,
            "allowed": allowed, "verdict": verdict_name(verdict), "patched": patched,
            "message": message, "images": images_log,
            "ms": (took.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        });
        Decision {
            response,
            verdict,
            log,
        }
    }

    fn image(
        &self,
        policy: &Policy,
        remotes: &dyn Remotes,
        req: &Request,
        at: &ImageAt,
        deadline: Instant,
    ) -> (LogLine, ImageResult) {
        let mut line = LogLine::default();
        let r = match Reference::parse(&at.image) {
            Ok(r) => r,
            Err(e) => {
                line.result = "invalid";
                line.reason = e.to_string();
                return (line, ImageResult::Denied);
            }
        };
        let gun = r.gun();
        let Some(rule) = policy.rule_for(&gun, &req.namespace) else {
            line.rule = "default".into();
            return match policy.default {
                policy::Default::Allow => {
                    line.result = "allowed";
                    line.reason = "no rule matches; the policy's default is allow".into();
                    (line, ImageResult::Allowed { new_value: None })
                }
                policy::Default::Deny => {
                    line.result = "denied";
                    line.reason = format!(
                        "no policy rule matches {gun} (in namespace {:?}) and the policy's default is deny",
                        req.namespace
                    );
                    (line, ImageResult::Denied)
                }
            };
        };
        line.rule = rule.label();
        match rule.action {
            Action::Allow => {
                line.result = "allowed";
                line.reason = format!("{} allows it without verification", rule.label());
                return (line, ImageResult::Allowed { new_value: None });
            }
            Action::Deny => {
                line.result = "denied";
                line.reason = format!("{} denies it", rule.label());
                return (line, ImageResult::Denied);
            }
            Action::Verify => {}
        }
        line.format = Some(rule.format);
        let (outcome, cached) = self.check(rule, remotes, &r, deadline);
        line.cached = cached;
        self.metrics.image_check(rule.format, &outcome);
        match outcome {
            Outcome::Verified(v) => {
                line.result = "verified";
                line.digest = Some(v.digest.clone());
                line.tag = v.tag.clone();
                line.verified = Some((v.format, v.role.clone()));
                let new_value = (rule.mutate && !v.pinned).then(|| {
                    let tag = v.tag.as_deref().unwrap_or(images::DEFAULT_TAG);
                    images::pin_to(&at.image, &r, tag, &v.digest)
                });
                let new_value = new_value.filter(|v| *v != at.image);
                line.patched = new_value.clone();
                (line, ImageResult::Allowed { new_value })
            }
            Outcome::NotTrusted(reason) => {
                line.reason = reason;
                if rule.mode == Mode::Warn {
                    line.result = "warned";
                    (line, ImageResult::Warned)
                } else {
                    line.result = "not-trusted";
                    (line, ImageResult::Denied)
                }
            }
            Outcome::Unavailable(reason) => {
                if rule.on_error == OnError::Allow || rule.mode == Mode::Warn {
                    line.result = "unavailable-admitted";
                    line.reason = format!(
                        "{reason} (admitted: {} says {})",
                        rule.label(),
                        if rule.mode == Mode::Warn {
                            "mode: warn"
                        } else {
                            "on_error: allow"
                        }
                    );
                    (line, ImageResult::Warned)
                } else {
                    line.result = "unavailable";
                    line.reason = format!("{reason} (fail closed: the rule's on_error is deny)");
                    (line, ImageResult::Denied)
                }
            }
        }
    }

    /// The outcome for one reference under a verify rule, from the cache or the remote;
    /// and whether it came from the cache.
    pub fn check(
        &self,
        rule: &Rule,
        remotes: &dyn Remotes,
        r: &Reference,
        deadline: Instant,
    ) -> (Outcome, bool) {
        let gun_s = r.gun();
        let Some((lock_path, lock)) = &rule.trust_lock else {
            return (
                Outcome::NotTrusted(format!("{} names no trust lock", rule.label())),
                false,
            );
        };
        let Some(pin) = lock.get(&gun_s) else {
            return (
                Outcome::NotTrusted(format!(
                    "{gun_s} is not pinned in the trust lock {} ({}); add it with `vouch trust pin {gun_s} --trust-lock {}`",
                    lock_path.display(),
                    rule.label(),
                    lock_path.display()
                )),
                false,
            );
        };
        let key = format!(
            "{}|{}|{}|{}|{}|{}",
            serde_json::to_string(pin).unwrap_or_default(),
            rule.server.as_deref().unwrap_or(""),
            rule.signers.join(","),
            rule.check_registry,
            rule.format,
            r
        );
        let now = Instant::now();
        if let Some(o) = self.cache.get(&key, now) {
            self.metrics.cache_hit();
            return (o, true);
        }
        // One load per repository at a time; whoever waited finds the result cached.
        let gate = {
            let mut m = self.loading.lock().unwrap_or_else(|p| p.into_inner());
            if m.len() > 4096 {
                m.retain(|_, v| Arc::strong_count(v) > 1);
            }
            m.entry(format!("{gun_s}|{}", rule.server.as_deref().unwrap_or("")))
                .or_default()
                .clone()
        };
        let _held = gate.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = self.cache.get(&key, Instant::now()) {
            self.metrics.cache_hit();
            return (o, true);
        }
        self.metrics.cache_miss();
        if Instant::now() >= deadline {
            return (
                Outcome::Unavailable(
                    "the internal deadline passed before the trust data could be read".into(),
                ),
                false,
            );
        }
        let policy = TrustPolicy::pinned(
            pin.clone(),
            format!("the trust lock {}", lock_path.display()),
        );
        let outcome = match verify_reference(rule, remotes, r, &policy) {
            Ok(o) => o,
            Err(e) => classify(&e),
        };
        match &outcome {
            Outcome::Verified(_) => self.cache.insert(key, outcome.clone(), Instant::now()),
            Outcome::Unavailable(_) => self.metrics.notary_error(),
            Outcome::NotTrusted(_) => {}
        }
        (outcome, false)
    }
}

fn verdict_name(v: metrics::Verdict) -> &'static str {
    match v {
        metrics::Verdict::Allowed => "allowed",
        metrics::Verdict::Warned => "warned",
        metrics::Verdict::Denied => "denied",
        metrics::Verdict::Invalid => "invalid",
    }
}

/// A definitive no, or a remote that could not be read, by the error's exit code.
fn classify(e: &Error) -> Outcome {
    match e.exit_code() {
        ExitCode::Remote => Outcome::Unavailable(e.to_string()),
        _ => Outcome::NotTrusted(e.to_string()),
    }
}

/// The verdict of `vouch verify --format FORMAT` (the rule's) for `r`: the repository's
/// TUF metadata anchored by `policy` (the rule's trust lock), then the signature of the
/// rule's format, its signers, and for notary the registry check.
fn verify_reference(
    rule: &Rule,
    remotes: &dyn Remotes,
    r: &Reference,
    policy: &TrustPolicy,
) -> Result<Outcome, Error> {
    let gun = Gun::parse(&r.gun())?;
    let remote = remotes.notary(&gun, rule.server.as_deref())?;
    let local = LocalRepo::new(remotes.trust_dir(), &gun);
    let load = LoadPolicy {
        clock: &SystemClock,
        check_expiry: true,
        trust: policy,
    };
    let state = verdict::load(Some(remote.as_ref()), &local, load)?;
    match rule.format {
        SignatureFormat::Notary => verify_notary(rule, remotes, r, &state),
        SignatureFormat::Oci(f) => verify_oci(rule, remotes, r, &state, f),
        SignatureFormat::Any => {
            // As `vouch verify --format any`: notary, cosign, notation; the first that
            // verifies decides; otherwise every reason.
            let mut reasons = Vec::new();
            let mut unavailable = false;
            for f in [None, Some(oci::Format::Cosign), Some(oci::Format::Notation)] {
                let (name, result) = match f {
                    None => ("notary", verify_notary(rule, remotes, r, &state)),
                    Some(f) => (f.as_str(), verify_oci(rule, remotes, r, &state, f)),
                };
                match result.unwrap_or_else(|e| classify(&e)) {
                    Outcome::Verified(v) => return Ok(Outcome::Verified(v)),
                    Outcome::NotTrusted(why) => reasons.push(format!("{name}: {why}")),
                    Outcome::Unavailable(why) => {
                        unavailable = true;
                        reasons.push(format!("{name}: {why}"));
                    }
                }
            }
            let why = format!(
                "no signature verifies in any format (the rule's format is any): {}",
                reasons.join("; ")
            );
            Ok(if unavailable {
                Outcome::Unavailable(why)
            } else {
                Outcome::NotTrusted(why)
            })
        }
    }
}

/// An OCI signature (`format`) of the digest the registry serves for `r` (or of the
/// digest `r` names), by a key `state` lists for a role that may sign the tag — with
/// the rule's signers, one by each of them. The same check as `vouch verify --format`.
fn verify_oci(
    rule: &Rule,
    remotes: &dyn Remotes,
    r: &Reference,
    state: &RepoState,
    format: oci::Format,
) -> Result<Outcome, Error> {
    let gun = state.gun().as_str();
    // A reference by digest alone names no tag: any role's key may have signed it.
    let tag = match (&r.tag, &r.digest) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(images::DEFAULT_TAG.to_owned()),
    };
    let reg = remotes.registry(&r.registry)?;
    let manifest = match (r.digest.as_deref(), tag.as_deref()) {
        (Some(d), _) => reg.fetch_digest(&r.repository, d)?,
        (None, t) => reg.resolve_tag(&r.repository, t.unwrap_or(images::DEFAULT_TAG))?,
    };
    let subject = oci::Subject {
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        digest: manifest.digest,
        size: manifest.size,
        media_type: manifest.media_type,
    };
    let keys = oci::trusted_keys(state, tag.as_deref());
    let now = SystemClock.now();
    let verify = |keys: &[oci::TrustedKey]| match format {
        oci::Format::Cosign => oci::cosign::verify(&reg, &subject, gun, keys),
        oci::Format::Notation => oci::notation::verify(&reg, &subject, gun, keys, now),
    };
    let mut verified = Vec::new();
    for role in &rule.signers {
        let theirs: Vec<_> = keys.iter().filter(|k| &k.role == role).cloned().collect();
        if theirs.is_empty() {
            return Ok(Outcome::NotTrusted(format!(
                "the signer {role} may not sign {} in {gun} (no such delegation, or its paths do not allow the tag; the rule requires every signer in {:?})",
                tag.as_deref().unwrap_or(&subject.digest),
                rule.signers
            )));
        }
        verified.push(verify(&theirs)?);
    }
    let v = match verified.into_iter().next() {
        Some(v) => v,
        None => verify(&keys)?,
    };
    Ok(Outcome::Verified(Box::new(Verified {
        tag,
        digest: subject.digest,
        pinned: r.digest.is_some(),
        format: SignatureFormat::Oci(v.format),
        role: v.role,
    })))
}

/// The Notary v1 verdict of `vouch verify` for `r` in `state`, then the rule's signers
/// and the registry check.
fn verify_notary(
    rule: &Rule,
    remotes: &dyn Remotes,
    r: &Reference,
    state: &RepoState,
) -> Result<Outcome, Error> {
    let v = images::check_image(state, r)?;
    if let Some(reason) = signers_disagree(state, r, &v.tag, &v.digest, &rule.signers) {
        return Ok(Outcome::NotTrusted(reason));
    }
    // A reference by tag alone is pulled by tag unless the patch pins it: the registry
    // must serve the signed digest for the tag now.
    if rule.check_registry && r.digest.is_none() {
        let reg = remotes.registry(&r.registry)?;
        let m = reg.resolve_tag(&r.repository, &v.tag)?;
        if !m.digest.eq_ignore_ascii_case(&v.digest) {
            return Err(RegistryError::TagMoved {
                image: format!("{}:{}", r.gun(), v.tag),
                registry: reg.host().to_owned(),
                signed: v.digest.clone(),
                served: m.digest,
            }
            .into());
        }
    }
    Ok(Outcome::Verified(Box::new(Verified {
        role: v.target.role.clone(),
        tag: Some(v.tag),
        digest: v.digest,
        pinned: v.pinned,
        format: SignatureFormat::Notary,
    })))
}

/// Why the rule's signers do not all vouch for `digest` (None: they do). Each signer
/// role must list the tag (for a reference by digest alone: some tag) with that sha256,
/// within the paths its delegation allows.
fn signers_disagree(
    state: &RepoState,
    r: &Reference,
    tag: &str,
    digest: &str,
    signers: &[String],
) -> Option<String> {
    let gun = state.gun().as_str();
    let want = digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .to_ascii_lowercase();
    for role in signers {
        let Some(t) = state.targets.get(role) else {
            return Some(format!("{role} has not signed anything in {gun} (no such delegation, or it did not verify)"));
        };
        let Some(paths) = delegation_paths(state, role) else {
            return Some(format!("{role} is not a delegation of {gun}"));
        };
        let signed = |name: &str| {
            t.role()
                .targets
                .get(name)
                .and_then(|m| m.sha256().map(hex::encode))
                .filter(|_| crate::tuf::roles::path_allowed(name, &paths))
        };
        let ok = if r.tag.is_none() && r.digest.is_some() {
            t.role()
                .targets
                .keys()
                .any(|n| signed(n).as_deref() == Some(want.as_str()))
        } else {
            signed(tag).as_deref() == Some(want.as_str())
        };
        if !ok {
            return Some(match signed(tag) {
                Some(other) if r.tag.is_some() => format!(
                    "the signer {role} signed {gun}:{tag} as sha256:{other}, not {digest} (every signer the rule names must sign the same digest)"
                ),
                _ => format!("the signer {role} has not signed {digest} in {gun} (the rule requires every signer in {signers:?})"),
            });
        }
    }
    None
}

/// The paths `role` may sign, walking the delegations from `targets` down.
fn delegation_paths(state: &RepoState, role: &str) -> Option<Vec<String>> {
    let mut allowed = vec![String::new()];
    let mut parent = "targets".to_owned();
    let rest = role.strip_prefix("targets/")?;
    let mut current = "targets".to_owned();
    for part in rest.split('/') {
        current = format!("{current}/{part}");
        let p = state.targets.get(&parent)?;
        let d = p
            .role()
            .delegations
            .roles
            .iter()
            .find(|d| d.name == current)?;
        allowed = crate::tuf::roles::restrict_paths(&allowed, &d.paths);
        parent = current.clone();
    }
    Some(allowed)
}

enum ImageResult {
    Allowed { new_value: Option<String> },
    Denied,
    Warned,
}

#[derive(Default)]
struct LogLine {
    rule: String,
    result: &'static str,
    reason: String,
    tag: Option<String>,
    digest: Option<String>,
    patched: Option<String>,
    cached: bool,
    /// The rule's format (verify rules).
    format: Option<SignatureFormat>,
    /// The signature that verified, and the role whose key made it.
    verified: Option<(SignatureFormat, String)>,
}

impl LogLine {
    fn to_json(&self, at: &ImageAt) -> Value {
        let mut v = json!({"image": at.image, "pointer": at.pointer, "container": at.container,
            "rule": self.rule, "result": self.result, "cached": self.cached});
        if !self.reason.is_empty() {
            v["reason"] = json!(self.reason);
        }
        if let Some(d) = &self.digest {
            v["digest"] = json!(d);
        }
        if let Some(t) = &self.tag {
            v["tag"] = json!(t);
        }
        if let Some(p) = &self.patched {
            v["patched"] = json!(p);
        }
        if let Some(f) = self.format {
            v["format"] = json!(f.as_str());
        }
        if let Some((f, role)) = &self.verified {
            v["verified_format"] = json!(f.as_str());
            v["signed_by_role"] = json!(role);
        }
        v
    }
}
