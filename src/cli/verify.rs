//! Reading commands for deployments: verify, verify-file, inspect, trust pin.

use std::path::{Path, PathBuf};
use vouch::crypto::CanonicalKeyId as _;

use serde_json::json;
use vouch::clock::SystemClock;
use vouch::reference::Reference;
use vouch::remote::Access;
use vouch::trust::pin::{Pin, TrustLock};
use vouch::trust::state::{LoadPolicy, RepoState, Source};
use vouch::trust::verdict::{self, Query, TrustedTarget};
use vouch::trust::LocalRepo;

use super::args::{TrustArgs, TrustCommand};
use super::output::{print_json, Table};
use super::{usage, CliResult, Context};

const DEFAULT_LOCK: &str = "vouch-trust.json";

use super::state::load_state;

fn role_summary(target: &TrustedTarget) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for v in &target.versions {
        m.insert(
            v.role.clone(),
            json!({"version": v.version, "expires": v.expires}),
        );
    }
    serde_json::Value::Object(m)
}

/// `vouch verify --format`: the Notary v1 target, an OCI signature, or the first that
/// verifies (notary, cosign, notation; every reason when none does).
pub fn verify_as(
    ctx: &Context,
    image: &str,
    trust: &TrustArgs,
    digest: Option<&str>,
    check_registry: bool,
    format: super::args::VerifyFormat,
) -> CliResult {
    use super::args::VerifyFormat as F;
    use vouch::oci::Format;
    match format {
        F::Notary => verify(ctx, image, trust, digest, check_registry),
        F::Cosign => super::oci::verify(ctx, image, trust, digest, Format::Cosign),
        F::Notation => super::oci::verify(ctx, image, trust, digest, Format::Notation),
        F::Any => {
            let mut reasons = Vec::new();
            for f in [F::Notary, F::Cosign, F::Notation] {
                match verify_as(ctx, image, trust, digest, check_registry, f) {
                    Ok(()) => return Ok(()),
                    // A usage error is the same in every format.
                    Err(e) if e.exit_code() == vouch::ExitCode::Usage => return Err(e),
                    Err(e) => reasons.push(format!(
                        "{}: {}",
                        format!("{f:?}").to_lowercase(),
                        e.message()
                    )),
                }
            }
            Err(vouch::oci::OciError::NoneVerifies {
                image: image.to_owned(),
                reasons,
            }
            .into())
        }
    }
}

pub fn verify(
    ctx: &Context,
    image: &str,
    trust: &TrustArgs,
    digest: Option<&str>,
    check_registry: bool,
) -> CliResult {
    let r = Reference::parse(image).map_err(|e| usage(e.to_string()))?;
    if r.tag.is_none() {
        if let Some(d) = r.digest.clone() {
            return verify_digest(ctx, image, &r, &d, trust, digest, check_registry);
        }
    }
    let tag = r.tag.clone().ok_or_else(|| {
        usage(format!(
            "{image}: name the tag to verify (IMAGE:TAG) or the digest (IMAGE@sha256:…)"
        ))
    })?;
    let gun = ctx.image_gun(image, &r)?;
    let state = load_state(ctx, &gun, trust)?;
    let mut want = Vec::new();
    if let Some(d) = digest {
        want.push(("--digest", d));
    }
    if let Some(d) = r.digest.as_deref() {
        want.push(("the reference's digest", d));
    }
    let target = verdict::lookup(&state, Query::Tag(&tag), &want)?;
    if check_registry {
        super::registry::check_tag(ctx, &r, &tag, &target.digest)?;
    }
    // The name as the user wrote it, without tag or digest.
    let name = image.split('@').next().unwrap_or(image);
    let name = name.strip_suffix(&format!(":{tag}")).unwrap_or(name);
    let pinned = format!("{name}@{}", target.digest);
    if ctx.json() {
        print_json(&json!({
            "trusted": true,
            "reference": pinned,
            "gun": gun.as_str(),
            "tag": tag,
            "digest": target.digest,
            "size": target.meta.length,
            "role": target.role,
            "signed_by": target.signed_by.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "metadata": role_summary(&target),
            "source": source_name(target.source),
            "anchored_by": target.anchored_by.as_str(),
            "trusted_on_first_use": target.first_use,
        }));
    } else {
        outln!("{pinned}");
    }
    Ok(())
}

/// `verify IMAGE@sha256:…` with no tag: the digest must be signed under some tag; the
/// tags that carry it are named.
fn verify_digest(
    ctx: &Context,
    image: &str,
    r: &Reference,
    digest: &str,
    trust: &TrustArgs,
    also: Option<&str>,
    check_registry: bool,
) -> CliResult {
    if let Some(d) = also {
        if !d.eq_ignore_ascii_case(digest) {
            return Err(usage(format!(
                "--digest {d} differs from the reference's digest {digest}"
            )));
        }
    }
    let gun = ctx.image_gun(image, r)?;
    let state = load_state(ctx, &gun, trust)?;
    let found = verdict::lookup_digest(&state, digest)?;
    let target = &found.target;
    if check_registry {
        for tag in &found.tags {
            super::registry::check_tag(ctx, r, tag, &target.digest)?;
        }
    }
    let name = vouch::reference::typed_repository(image);
    let pinned = format!("{name}@{}", target.digest);
    if ctx.json() {
        print_json(&json!({
            "vouch_json": super::output::SCHEMA_VERSION,
            "trusted": true,
            "reference": pinned,
            "gun": gun.as_str(),
            "tag": null,
            "tags": found.tags,
            "digest": target.digest,
            "size": target.meta.length,
            "role": target.role,
            "signed_by": target.signed_by.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "metadata": role_summary(target),
            "source": source_name(target.source),
            "anchored_by": target.anchored_by.as_str(),
            "trusted_on_first_use": target.first_use,
        }));
    } else {
        outln!("{pinned}");
        ctx.note(format!(
            "{} is signed as {} ({})",
            target.digest,
            found
                .tags
                .iter()
                .map(|t| format!("{name}:{t}"))
                .collect::<Vec<_>>()
                .join(", "),
            target.role
        ));
    }
    Ok(())
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Remote => "remote",
        Source::Cache => "cache",
    }
}

pub fn verify_file(
    ctx: &Context,
    gun: &str,
    name: &str,
    file: &Path,
    trust: &TrustArgs,
) -> CliResult {
    let gun = ctx.gun(gun)?;
    let reader = std::fs::File::open(file)
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let state = load_state(ctx, &gun, trust)?;
    let target = verdict::lookup(&state, Query::Name(name), &[])?;
    let what = file.display().to_string();
    let len = reader.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = super::progress::Progress::bytes(ctx, len, &format!("hashing {name}"));
    let checked = verdict::check_content(&target, &what, &mut progress.reader(reader));
    drop(progress);
    let (size, sha256) = checked?;
    if ctx.json() {
        print_json(
            &json!({"trusted": true, "gun": gun.as_str(), "name": name, "file": file,
            "digest": sha256, "size": size, "role": target.role,
            "metadata": role_summary(&target), "anchored_by": target.anchored_by.as_str()}),
        );
    } else {
        outln!(
            "{name}: OK ({size} bytes, {sha256}, signed by {})",
            target.role
        );
    }
    Ok(())
}

pub fn inspect(ctx: &Context, gun: &str, trust: &TrustArgs) -> CliResult {
    let gun = ctx.gun(gun)?;
    // As notary: an unreachable server falls back to the verified cache, with a warning.
    let trust = TrustArgs {
        cache_fallback: !trust.offline,
        ..trust.clone()
    };
    let state = load_state(ctx, &gun, &trust)?;
    let root = state.root().role();
    let mut roles = Vec::new();
    for name in ["root", "targets", "snapshot", "timestamp"] {
        let Some(rk) = root.roles.get(name) else {
            continue;
        };
        let (version, expires) = match name {
            "root" => (Some(root.version), Some(root.expires.as_str().to_owned())),
            "targets" => state
                .targets()
                .get("targets")
                .map(|t| {
                    (
                        Some(t.role().version),
                        Some(t.role().expires.as_str().to_owned()),
                    )
                })
                .unwrap_or((None, None)),
            "snapshot" => state
                .snapshot()
                .map(|t| {
                    (
                        Some(t.role().version),
                        Some(t.role().expires.as_str().to_owned()),
                    )
                })
                .unwrap_or((None, None)),
            _ => state
                .timestamp()
                .map(|t| {
                    (
                        Some(t.role().version),
                        Some(t.role().expires.as_str().to_owned()),
                    )
                })
                .unwrap_or((None, None)),
        };
        let keys: Vec<serde_json::Value> = rk
            .keyids
            .iter()
            .map(|id| {
                let k = root.keys.get(id);
                json!({"id": id, "public_key_id": k.and_then(|k| k.canonical_key_id().ok()).map(|c| c.to_string()),
                       "keytype": k.map(|k| k.keytype.clone())})
            })
            .collect();
        roles.push(json!({"role": name, "version": version, "expires": expires, "threshold": rk.threshold, "keys": keys}));
    }
    let mut delegations = Vec::new();
    for (parent, t) in state.targets() {
        for d in &t.role().delegations.roles {
            let loaded = state.targets().get(&d.name);
            let keys: Vec<serde_json::Value> = d
                .keyids
                .iter()
                .map(|id| {
                    let k = t.role().delegations.keys.get(id);
                    json!({"id": id, "public_key_id": k.and_then(|k| k.canonical_key_id().ok()).map(|c| c.to_string()),
                           "keytype": k.map(|k| k.keytype.clone())})
                })
                .collect();
            delegations.push(json!({"role": d.name, "parent": parent, "paths": d.paths, "threshold": d.threshold, "keys": keys,
                "version": loaded.map(|l| l.role().version), "expires": loaded.map(|l| l.role().expires.as_str().to_owned()),
                "targets": loaded.map(|l| l.role().targets.len()),
                // Listed in the snapshot but not loaded: it did not verify (see the warnings).
                "published": loaded.is_some() || state.snapshot().is_some_and(|s| s.role().meta.contains_key(&d.name)),
                "verified": loaded.is_some()}));
        }
    }
    if ctx.json() {
        print_json(
            &json!({"gun": gun.as_str(), "roles": roles, "delegations": delegations,
            "targets": state.targets().get("targets").map(|t| t.role().targets.len()),
            "source": match state.source() { Source::Remote => "remote", Source::Cache => "cache" }}),
        );
        return Ok(());
    }
    outln!("Repository {gun}\n");
    let mut t = Table::new(&[
        "ROLE",
        "VERSION",
        "EXPIRES",
        "THRESHOLD",
        "KEY IDS (PUBLIC KEY ID)",
    ]);
    for r in &roles {
        t.row(vec![
            r["role"].as_str().unwrap_or_default().to_owned(),
            r["version"]
                .as_i64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            r["expires"].as_str().unwrap_or("-").to_owned(),
            r["threshold"].to_string(),
            key_ids_cell(&r["keys"]),
        ]);
    }
    out!("{}", t.render());
    if !delegations.is_empty() {
        outln!();
        let mut t = Table::new(&[
            "DELEGATION",
            "PATHS",
            "THRESHOLD",
            "VERSION",
            "EXPIRES",
            "KEY IDS (PUBLIC KEY ID)",
        ]);
        for d in &delegations {
            let paths: Vec<String> = d["paths"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p.as_str() {
                    Some("") => "\"\" <all paths>".to_owned(),
                    Some(s) => s.to_owned(),
                    None => "?".into(),
                })
                .collect();
            t.row(vec![
                d["role"].as_str().unwrap_or_default().to_owned(),
                paths.join(","),
                d["threshold"].to_string(),
                d["version"]
                    .as_i64()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| {
                        if d["published"].as_bool() == Some(true) {
                            "(did not verify)".into()
                        } else {
                            "(not published)".into()
                        }
                    }),
                d["expires"].as_str().unwrap_or("-").to_owned(),
                key_ids_cell(&d["keys"]),
            ]);
        }
        out!("{}", t.render());
    }
    Ok(())
}

/// The KEY IDS cell of `inspect`: each key's public key ID (else its ID), comma-joined.
fn key_ids_cell(keys: &serde_json::Value) -> String {
    keys.as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            k["public_key_id"]
                .as_str()
                .or(k["id"].as_str())
                .unwrap_or("?")
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn trust(ctx: &Context, cmd: TrustCommand) -> CliResult {
    match cmd {
        TrustCommand::Pin {
            gun,
            root_key_ids,
            from_cache,
        } => {
            let gun = ctx.gun(&gun)?;
            let path = ctx
                .trust_lock_path()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK));
            let pin = if !root_key_ids.is_empty() {
                for id in &root_key_ids {
                    vouch::tuf::KeyId::parse(id)?;
                }
                Pin {
                    root_keys: root_key_ids,
                    root_version: 1,
                    ca: None,
                }
            } else {
                // The root to pin is trusted as any command trusts it: through the pin
                // this lock already holds for the GUN (following signed rotations), else
                // notary's trust_pinning, else the anchored cache.
                let existing = TrustLock::load_or_default(&path)?
                    .get(gun.as_str())
                    .cloned();
                let mut anchoring = match existing {
                    Some(p) => vouch::trust::anchor::TrustPolicy::pinned(
                        p,
                        format!("the trust lock {}", path.display()),
                    ),
                    None => match ctx.notary_trust_pinning()?.pin_for(gun.as_str())? {
                        Some(p) => vouch::trust::anchor::TrustPolicy::pinned(
                            p,
                            "trust_pinning in the config file",
                        ),
                        None => Default::default(),
                    },
                };
                let local = LocalRepo::new(&ctx.trust_dir, &gun);
                if from_cache {
                    anchoring.tofu = ctx.global.tofu;
                    let policy = LoadPolicy {
                        clock: &SystemClock,
                        check_expiry: false,
                        trust: &anchoring,
                    };
                    let state = RepoState::from_cache(&local, policy)?.ok_or_else(|| {
                        usage(format!("no cached root for {gun} in {}; run `vouch trust pin {gun}` (reads the remote), or pin explicit --root-key-id", ctx.trust_dir.display()))
                    })?;
                    if state.anchored_by() == vouch::trust::anchor::AnchoredBy::Tofu {
                        ctx.warn(format!(
                            "the cached root of {gun} was trusted on first use, not checked against anything; pinning it makes it the anchor of every verify with this trust lock. Check these key IDs with the repository's owners"
                        ));
                    }
                    Pin::from_root(state.root().role())?
                } else {
                    // Pinning is the consent to trust what the remote serves, when nothing
                    // anchors it yet.
                    anchoring.tofu = true;
                    let policy = LoadPolicy {
                        clock: &SystemClock,
                        check_expiry: false,
                        trust: &anchoring,
                    };
                    let remote = ctx.remote(Some(&gun), Access::Pull)?;
                    let state = verdict::load(Some(remote.as_ref()), &local, policy)
                        .map_err(|e| ctx.read_error(&gun, e.into()))?;
                    if state.first_use()
                        || state.anchored_by() == vouch::trust::anchor::AnchoredBy::Tofu
                    {
                        ctx.warn(format!(
                            "pinning the root keys {} serves for {gun} now; check these key IDs with the repository's owners",
                            remote.describe()
                        ));
                    }
                    for w in state.warnings() {
                        ctx.warn(w);
                    }
                    Pin::from_root(state.root().role())?
                }
            };
            let mut lock = TrustLock::load_or_default(&path)?;
            let previous = lock.repositories.insert(gun.to_string(), pin.clone());
            lock.save(&path)?;
            if ctx.json() {
                print_json(
                    &json!({"gun": gun.as_str(), "trust_lock": path, "root_keys": pin.root_keys, "root_version": pin.root_version, "updated": previous.is_some()}),
                );
            } else {
                outln!(
                    "{gun}: root keys {} (root version {})",
                    pin.root_keys.join(", "),
                    pin.root_version
                );
                ctx.note(format!(
                    "{} pin for {gun} in {}",
                    if previous.is_some() {
                        "Updated"
                    } else {
                        "Added"
                    },
                    path.display()
                ));
            }
            Ok(())
        }
    }
}
