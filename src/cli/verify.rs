//! Reading commands for deployments: verify, verify-file, inspect, trust pin.

use std::path::{Path, PathBuf};

use serde_json::json;
use vouch::clock::SystemClock;
use vouch::reference::Reference;
use vouch::remote::{Access, Gun};
use vouch::trust::pin::{Pin, TrustLock};
use vouch::trust::state::{
    trust_cached_root, trust_new_root, Bootstrap, LoadPolicy, RepoState, Source,
};
use vouch::trust::view::{self, TargetEntry};
use vouch::trust::{LocalRepo, TrustError};
use vouch::tuf::FileMeta;

use super::args::{TrustArgs, TrustCommand};
use super::output::{print_json, Table};
use super::{usage, CliResult, Context};

const DEFAULT_LOCK: &str = "vouch-trust.json";

fn lock_path(arg: &Option<PathBuf>) -> Option<PathBuf> {
    arg.clone().or_else(|| {
        std::env::var_os("VOUCH_TRUST_LOCK")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Load the verified state of `gun` as the trust arguments say; refresh the cache on success.
fn load_state(ctx: &Context, gun: &Gun, trust: &TrustArgs) -> CliResult<RepoState> {
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let policy = LoadPolicy {
        clock: &SystemClock,
        check_expiry: true,
    };
    let lock = match lock_path(&trust.trust_lock) {
        Some(p) => Some((TrustLock::load(&p)?, p)),
        None => None,
    };
    let pin: Option<Pin> = match &lock {
        Some((l, p)) => Some(l.get(gun.as_str()).cloned().ok_or_else(|| {
            usage(format!(
                "{gun} is not pinned in {}; add it with `vouch trust pin {gun} --trust-lock {}`",
                p.display(),
                p.display()
            ))
        })?),
        None => None,
    };
    // notary's trust_pinning from the config file, when no trust lock is given.
    let notary_pins = ctx.notary_trust_pinning()?;
    let pin = match pin {
        Some(p) => Some(p),
        None => notary_pins.pin_for(gun.as_str())?,
    };
    if trust.offline {
        let state = RepoState::from_cache(&local, policy)?.ok_or_else(|| {
            super::CliError::from(TrustError::NoAnchor {
                gun: gun.to_string(),
            })
            .with_context("--offline: nothing cached")
        })?;
        if let Some(pin) = pin.as_ref().filter(|p| p.ca.is_some()) {
            let now = policy.clock.now();
            vouch::trust::pin::check_ca_pin(gun.as_str(), pin, state.root.bytes(), now)?;
        } else if let Some(pin) = &pin {
            let root = state.root.role();
            let cached_pin = Pin::from_root(root)?;
            let pinned = cached_pin
                .root_keys
                .iter()
                .any(|k| pin.root_keys.contains(k))
                && root.version >= pin.root_version;
            if !pinned {
                return Err(TrustError::PinMismatch {
                    gun: gun.to_string(),
                    reason: format!(
                        "the cached root (version {}) is not signed by a pinned key; go online to follow rotations",
                        root.version
                    ),
                }
                .into());
            }
        }
        return Ok(state);
    }
    if notary_pins.disable_tofu && trust.tofu {
        return Err(usage(
            "--tofu is not allowed: trust_pinning.disable_tofu is set in the config file",
        ));
    }
    let tofu_allowed = (trust.tofu || ctx.config_tofu()) && !notary_pins.disable_tofu;
    let bootstrap = match &pin {
        Some(p) => Bootstrap::Pinned(p),
        None if tofu_allowed => Bootstrap::CacheOrTofu,
        None => Bootstrap::CacheOnly,
    };
    let remote = ctx.remote(Some(gun), Access::Pull)?;
    let state =
        RepoState::fetch_with(remote.as_ref(), &local, policy, &bootstrap)?.ok_or_else(|| {
            super::CliError::from(TrustError::NoTrustData {
                gun: gun.to_string(),
                remote: remote.describe(),
            })
        })?;
    if state.tofu {
        ctx.warn(format!(
            "TRUST ON FIRST USE: {gun} had no cached or pinned root; trusting root version {} with root keys {} as served by {}. \
             Pin it (`vouch trust pin {gun} --from-cache`) and verify with --trust-lock from now on.",
            state.root.role().version,
            Pin::from_root(state.root.role()).map(|p| p.root_keys.join(", ")).unwrap_or_default(),
            remote.describe()
        ));
    }
    for w in &state.warnings {
        ctx.warn(w);
    }
    // A warm cache that the remote did not move past needs no write, and so no lock.
    let fresh = state.fresh_files();
    if !fresh.is_empty() {
        let _lock = local.lock()?;
        local.write_cached_all(&fresh)?;
    }
    Ok(state)
}

fn role_summary(state: &RepoState) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let r = state.root.role();
    m.insert(
        "root".into(),
        json!({"version": r.version, "expires": r.expires.as_str()}),
    );
    for (name, t) in &state.targets {
        m.insert(
            name.clone(),
            json!({"version": t.role().version, "expires": t.role().expires.as_str()}),
        );
    }
    if let Some(s) = &state.snapshot {
        m.insert(
            "snapshot".into(),
            json!({"version": s.role().version, "expires": s.role().expires.as_str()}),
        );
    }
    if let Some(t) = &state.timestamp {
        m.insert(
            "timestamp".into(),
            json!({"version": t.role().version, "expires": t.role().expires.as_str()}),
        );
    }
    serde_json::Value::Object(m)
}

pub fn verify(
    ctx: &Context,
    image: &str,
    trust: &TrustArgs,
    digest: Option<&str>,
    check_registry: bool,
) -> CliResult {
    let r = Reference::parse(image).map_err(|e| usage(e.to_string()))?;
    let tag = r
        .tag
        .clone()
        .ok_or_else(|| usage(format!("{image}: name the tag to verify (IMAGE:TAG)")))?;
    let gun = Gun::parse(&r.gun())?;
    let state = load_state(ctx, &gun, trust)?;
    let entry = view::docker_lookup(&state, &tag).ok_or_else(|| {
        super::CliError::from(TrustError::NoSuchTarget {
            gun: gun.to_string(),
            name: tag.clone(),
        })
        .with_context("targets: tag not signed by targets or targets/releases")
    })?;
    let hex = entry.sha256_hex().ok_or_else(|| {
        super::CliError::from(TrustError::Verification {
            gun: gun.to_string(),
            role: entry.role.clone(),
            reason: format!("target {tag} has no sha256 hash"),
        })
    })?;
    let signed = format!("sha256:{hex}");
    for (what, want) in [
        ("--digest", digest),
        ("the reference's digest", r.digest.as_deref()),
    ] {
        if let Some(want) = want {
            if !want.eq_ignore_ascii_case(&signed) {
                return Err(TrustError::Verification {
                    gun: gun.to_string(),
                    role: entry.role.clone(),
                    reason: format!(
                        "digest mismatch: {what} is {want}, but {tag} is signed as {signed}"
                    ),
                }
                .into());
            }
        }
    }
    if check_registry {
        super::registry::check_tag(ctx, &r, &tag, &signed)?;
    }
    // The name as the user wrote it, without tag or digest.
    let name = image.split('@').next().unwrap_or(image);
    let name = name.strip_suffix(&format!(":{tag}")).unwrap_or(name);
    let pinned = format!("{name}@{signed}");
    if ctx.json() {
        let signer_keys: Vec<String> = state
            .targets
            .get(&entry.role)
            .map(|t| t.signed_by().iter().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        print_json(&json!({
            "trusted": true,
            "reference": pinned,
            "gun": gun.as_str(),
            "tag": tag,
            "digest": signed,
            "size": entry.meta.length,
            "role": entry.role,
            "signed_by": signer_keys,
            "metadata": role_summary(&state),
            "source": match state.source { Source::Remote => "remote", Source::Cache => "cache" },
            "trusted_on_first_use": state.tofu,
        }));
    } else {
        println!("{pinned}");
    }
    Ok(())
}

pub fn verify_file(
    ctx: &Context,
    gun: &str,
    name: &str,
    file: &Path,
    trust: &TrustArgs,
) -> CliResult {
    let gun = Gun::parse(gun)?;
    // Streamed in one pass (sha256 and sha512): memory stays flat whatever the size.
    let actual = std::fs::File::open(file)
        .and_then(FileMeta::from_reader)
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let state = load_state(ctx, &gun, trust)?;
    let entry: TargetEntry = view::lookup(&state, name).ok_or_else(|| {
        super::CliError::from(TrustError::NoSuchTarget {
            gun: gun.to_string(),
            name: name.to_owned(),
        })
    })?;
    let fail = |reason: String| -> super::CliError {
        TrustError::Verification {
            gun: gun.to_string(),
            role: entry.role.clone(),
            reason,
        }
        .into()
    };
    if entry.meta.length != actual.length {
        return Err(fail(format!(
            "{} is {} bytes, but target {name} is signed as {} bytes",
            file.display(),
            actual.length,
            entry.meta.length
        )));
    }
    actual
        .check_matches(name, &entry.meta)
        .map_err(|e| fail(format!("{}: {e}", file.display())))?;
    if ctx.json() {
        print_json(
            &json!({"trusted": true, "gun": gun.as_str(), "name": name, "file": file,
            "sha256": hex::encode(actual.sha256().unwrap_or_default()), "size": actual.length, "role": entry.role,
            "metadata": role_summary(&state)}),
        );
    } else {
        println!(
            "{name}: OK ({} bytes, sha256:{}, signed by {})",
            actual.length,
            hex::encode(actual.sha256().unwrap_or_default()),
            entry.role
        );
    }
    Ok(())
}

pub fn inspect(ctx: &Context, gun: &str, trust: &TrustArgs) -> CliResult {
    let gun = Gun::parse(gun)?;
    let state = load_state(ctx, &gun, trust)?;
    let root = state.root.role();
    let mut roles = Vec::new();
    for name in ["root", "targets", "snapshot", "timestamp"] {
        let Some(rk) = root.roles.get(name) else {
            continue;
        };
        let (version, expires) = match name {
            "root" => (Some(root.version), Some(root.expires.as_str().to_owned())),
            "targets" => state
                .targets
                .get("targets")
                .map(|t| {
                    (
                        Some(t.role().version),
                        Some(t.role().expires.as_str().to_owned()),
                    )
                })
                .unwrap_or((None, None)),
            "snapshot" => state
                .snapshot
                .as_ref()
                .map(|t| {
                    (
                        Some(t.role().version),
                        Some(t.role().expires.as_str().to_owned()),
                    )
                })
                .unwrap_or((None, None)),
            _ => state
                .timestamp
                .as_ref()
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
    for (parent, t) in &state.targets {
        for d in &t.role().delegations.roles {
            let loaded = state.targets.get(&d.name);
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
                "published": loaded.is_some() || state.snapshot.as_ref().is_some_and(|s| s.role().meta.contains_key(&d.name)),
                "verified": loaded.is_some()}));
        }
    }
    if ctx.json() {
        print_json(
            &json!({"gun": gun.as_str(), "roles": roles, "delegations": delegations,
            "targets": state.targets.get("targets").map(|t| t.role().targets.len()),
            "source": match state.source { Source::Remote => "remote", Source::Cache => "cache" }}),
        );
        return Ok(());
    }
    println!("Repository {gun}\n");
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
    print!("{}", t.render());
    if !delegations.is_empty() {
        println!();
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
        print!("{}", t.render());
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
            trust_lock,
        } => {
            let gun = Gun::parse(&gun)?;
            let path = lock_path(&trust_lock).unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK));
            let now = time::OffsetDateTime::now_utc();
            let pin = if !root_key_ids.is_empty() {
                for id in &root_key_ids {
                    vouch::tuf::KeyId::parse(id)?;
                }
                Pin {
                    root_keys: root_key_ids,
                    root_version: 1,
                    ca: None,
                }
            } else if from_cache {
                let local = LocalRepo::new(&ctx.trust_dir, &gun);
                let bytes = local.read_cached("root")?.ok_or_else(|| {
                    usage(format!("no cached root for {gun} in {}; run `vouch verify … --tofu` or `vouch list {gun}` first, or pin explicit --root-key-id", ctx.trust_dir.display()))
                })?;
                Pin::from_root(trust_cached_root(gun.as_str(), &bytes, now)?.role())?
            } else {
                let remote = ctx.remote(Some(&gun), Access::Pull)?;
                let bytes = remote
                    .get_current(&gun, "root", vouch::remote::limits::MAX_DOWNLOAD_SIZE)?
                    .ok_or_else(|| {
                        super::CliError::from(TrustError::NoTrustData {
                            gun: gun.to_string(),
                            remote: remote.describe(),
                        })
                    })?;
                let root = trust_new_root(gun.as_str(), &bytes, now)?;
                ctx.warn(format!(
                    "pinning the root keys {} serves for {gun} now; check these key IDs with the repository's owners",
                    remote.describe()
                ));
                Pin::from_root(root.role())?
            };
            let mut lock = TrustLock::load_or_default(&path)?;
            let previous = lock.repositories.insert(gun.to_string(), pin.clone());
            lock.save(&path)?;
            if ctx.json() {
                print_json(
                    &json!({"gun": gun.as_str(), "trust_lock": path, "root_keys": pin.root_keys, "root_version": pin.root_version, "updated": previous.is_some()}),
                );
            } else {
                println!(
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
