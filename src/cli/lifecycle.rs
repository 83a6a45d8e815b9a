//! Key lifecycle commands: rotation, delegations, signers, witness, expiry, renewal.

use std::io::IsTerminal;
use std::path::Path;
use vouch::crypto::CanonicalKeyId as _;

use serde_json::json;
use vouch::keystore::{KeyFormat, KeyStore};
use vouch::remote::Access;
use vouch::trust::apply::{delete_delegation, witness, DelegationChange};
use vouch::trust::changelist::{ACTION_CREATE, ACTION_UPDATE};
use vouch::trust::rotate::{plan, rotate, RotateOptions, RotateRole, RotationPlan};
use vouch::trust::{Change, TrustError};
use vouch::tuf::PublicKey;

use super::args::{DelegationCommand, KeyFormatArg, SignerCommand};
use super::output::{change_json, print_json, Table};
use super::repo::{stage_and_maybe_publish, versions};
use super::{prompt, usage, CliResult, Context};

#[allow(clippy::too_many_arguments)]
pub fn key_rotate(
    ctx: &Context,
    gun: &str,
    role: &str,
    key: Option<&str>,
    server_managed: bool,
    plan_only: bool,
    yes: bool,
    key_format: KeyFormatArg,
) -> CliResult {
    let gun = ctx.gun(gun)?;
    let role = RotateRole::parse(role).ok_or_else(|| {
        usage(format!(
            "cannot rotate {role:?}: choose root, targets, snapshot or timestamp"
        ))
    })?;
    let access = if server_managed || role == RotateRole::Timestamp {
        Access::Admin
    } else {
        Access::PushPull
    };
    let session = ctx.session(&gun, access)?;
    let key = match key {
        Some(k) => Some(session.keys.find(k)?.id),
        None => None,
    };
    let env = session.env();
    let local = &session.local;
    let opts = RotateOptions {
        role,
        key,
        server_managed,
        key_format: match key_format {
            KeyFormatArg::Vouch => KeyFormat::Vouch,
            KeyFormatArg::Notary => KeyFormat::Notary,
        },
    };
    if plan_only {
        let p = plan(&env, local, &opts)?;
        show_plan(ctx, &p, false);
        return Ok(());
    }
    if role == RotateRole::Root && !yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage("rotating the root key changes who controls the repository; pass --yes to confirm (see the change first with --plan)"));
        }
        let p = plan(&env, local, &opts)?;
        show_plan(ctx, &p, false);
        errout!("Rotate the root key of {gun}? Type 'yes' to continue: ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| usage(format!("cannot read the answer: {e}")))?;
        if answer.trim() != "yes" {
            return Err(usage("not rotated"));
        }
    }
    let r = rotate(&env, local, &opts)?;
    show_plan(ctx, &r.plan, true);
    ctx.note(format!(
        "Rotated the {} key of {gun} ({})",
        role.name(),
        versions(&r.publish)
    ));
    Ok(())
}

fn role_keys(root: &vouch::tuf::Root, role: &str) -> Vec<String> {
    root.roles
        .get(role)
        .map(|r| {
            r.keyids
                .iter()
                .map(|id| {
                    root.keys
                        .get(id)
                        .and_then(|k| k.canonical_key_id().ok())
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| id.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn show_plan(ctx: &Context, p: &RotationPlan, done: bool) {
    if ctx.json() {
        let roles = |r: &vouch::tuf::Root| {
            let mut m = serde_json::Map::new();
            for name in ["root", "targets", "snapshot", "timestamp"] {
                m.insert(name.into(), json!(role_keys(r, name)));
            }
            json!({"version": r.version, "expires": r.expires.as_str(), "roles": m})
        };
        print_json(&json!({
            "gun": p.gun, "role": p.role.name(), "done": done,
            "before": roles(&p.before), "after": roles(&p.after),
            "root_signers": p.root_signers, "missing_signers": p.missing_signers,
            "new_key": p.new_key, "notes": p.notes.iter().cloned().chain(how_to_sign(p)).collect::<Vec<_>>(),
        }));
        return;
    }
    outln!(
        "{} rotation of the {} key of {}",
        if done { "Done:" } else { "Plan:" },
        p.role.name(),
        p.gun
    );
    let mut t = Table::new(&[
        "ROLE",
        &format!("BEFORE (ROOT V{})", p.before.version),
        &format!("AFTER (ROOT V{})", p.after.version),
    ]);
    for name in ["root", "targets", "snapshot", "timestamp"] {
        let b = role_keys(&p.before, name).join(",");
        let a = role_keys(&p.after, name).join(",");
        let unchanged = a == b;
        let a = if a.is_empty() || (!done && unchanged && name == p.role.name()) {
            format!("({})", p.new_key)
        } else {
            a
        };
        t.row(vec![name.to_owned(), b, a]);
    }
    out!("{}", t.render());
    outln!("new key: {}", p.new_key);
    outln!("root expires: {} -> {}", p.before.expires, p.after.expires);
    outln!("signed by root keys: {}", p.root_signers.join(", "));
    if done && p.role == RotateRole::Root {
        let signing = role_keys(&p.after, "root");
        let listed: Vec<String> = role_keys(&p.before, "root")
            .into_iter()
            .filter(|k| !signing.contains(k))
            .collect();
        outln!(
            "root keys that sign the root from now on: {}",
            signing.join(", ")
        );
        if !listed.is_empty() {
            outln!(
                "old root keys, only listed in root.json from now on (they sign this version for clients holding the old root, and no later one): {}",
                listed.join(", ")
            );
        }
    }
    for n in &p.notes {
        outln!("- {n}");
    }
    if let Some(how) = how_to_sign(p) {
        outln!("- {how}");
    }
    if done && p.role == RotateRole::Root {
        outln!(
            "back up the new root key: vouch key backup --role root --gun {} -o root.backup",
            p.gun
        );
    }
}

/// A public key from `--key`: a PEM file, or a key in the key store.
fn resolve_key(ctx: &Context, keys: &KeyStore, spec: &str) -> CliResult<PublicKey> {
    let path = Path::new(spec);
    if path.is_file() {
        let bytes = std::fs::read(path).map_err(|e| usage(format!("cannot read {spec}: {e}")))?;
        return vouch::crypto::x509::public_key_from_pem(&bytes, time::OffsetDateTime::now_utc())
            .map_err(|e| usage(format!("{spec}: {e}")));
    }
    let info = keys.find(spec).map_err(|e| {
        super::CliError::from(e).with_context(format!(
            "--key {spec}: not a readable PEM file, so looked for a key ID"
        ))
    })?;
    let pass = prompt::sources(ctx)?;
    Ok(keys.load(&info.id, &pass)?.0.public_key())
}

fn check_delegation_name(role: &str) -> CliResult {
    if let Some(problem) = vouch::tuf::roles::delegation_name_problem(role) {
        return Err(usage(format!(
            "{role:?} is not a delegation name (targets/NAME, lowercase): {problem}"
        )));
    }
    Ok(())
}

fn warn_paths(ctx: &Context, paths: &[String]) {
    for p in paths {
        if !p.is_empty() && !p.ends_with('/') {
            ctx.warn(format!(
                "path prefix {p:?} does not end in '/': it also matches sibling names such as {p:?}-evil and {p:?}2; use {:?} to limit it to one directory",
                format!("{p}/")
            ));
        }
    }
}

pub fn delegation(ctx: &Context, cmd: DelegationCommand) -> CliResult {
    match cmd {
        DelegationCommand::Add {
            gun,
            role,
            keys,
            paths,
            all_paths,
            stage,
        } => {
            let gun = ctx.gun(&gun)?;
            check_delegation_name(&role)?;
            if keys.is_empty() && paths.is_empty() && !all_paths {
                return Err(usage(
                    "give --key for the role's signing keys and --path PREFIX or --all-paths",
                ));
            }
            let store = ctx.key_store()?;
            let add_keys = keys
                .iter()
                .map(|k| resolve_key(ctx, &store, k))
                .collect::<CliResult<Vec<_>>>()?;
            let add_paths = if all_paths {
                vec![String::new()]
            } else {
                paths
            };
            warn_paths(ctx, &add_paths);
            let ids: Vec<String> = add_keys
                .iter()
                .filter_map(|k| k.canonical_key_id().ok())
                .map(|k| k.to_string())
                .collect();
            let change = DelegationChange {
                new_threshold: 1,
                add_keys,
                add_paths: add_paths.clone(),
                ..Default::default()
            }
            .into_change(ACTION_CREATE, &role);
            let report = stage_and_maybe_publish(ctx, &gun, &[change], stage)?;
            ctx.note(format!(
                "Delegation {role} in {gun}: keys [{}], paths {:?}",
                ids.join(", "),
                add_paths
            ));
            if ctx.json() {
                print_json(&change_json(
                    gun.as_str(),
                    report.as_ref(),
                    json!({"role": role, "added_key_ids": ids, "added_paths": add_paths}),
                ));
            }
            Ok(())
        }
        DelegationCommand::Remove {
            gun,
            role,
            keys,
            paths,
            all_paths,
            stage,
        } => {
            let gun = ctx.gun(&gun)?;
            check_delegation_name(&role)?;
            let whole = keys.is_empty() && paths.is_empty() && !all_paths;
            let answer = json!({"role": role, "removed_role": whole, "removed_key_ids": keys,
                "removed_paths": paths, "cleared_all_paths": all_paths});
            let change = if whole {
                delete_delegation(&role)
            } else {
                for k in &keys {
                    vouch::tuf::KeyId::parse(k)?;
                }
                DelegationChange {
                    remove_keys: keys,
                    remove_paths: paths,
                    clear_all_paths: all_paths,
                    ..Default::default()
                }
                .into_change(ACTION_UPDATE, &role)
            };
            let report = stage_and_maybe_publish(ctx, &gun, &[change], stage)?;
            if ctx.json() {
                print_json(&change_json(gun.as_str(), report.as_ref(), answer));
            }
            Ok(())
        }
        DelegationCommand::List { gun } => {
            let gun = ctx.gun(&gun)?;
            let remote = ctx.remote(Some(&gun), Access::Pull)?;
            let state = super::repo::fetch_state(ctx, &gun, remote.as_ref())?;
            let mut rows = Vec::new();
            for t in state.targets().values() {
                for d in &t.role().delegations.roles {
                    let ids: Vec<String> = d
                        .keyids
                        .iter()
                        .map(|id| {
                            t.role()
                                .delegations
                                .keys
                                .get(id)
                                .and_then(|k| k.canonical_key_id().ok())
                                .map(|c| c.to_string())
                                .unwrap_or_else(|| id.clone())
                        })
                        .collect();
                    rows.push((d.name.clone(), d.paths.clone(), ids, d.threshold));
                }
            }
            if ctx.json() {
                print_json(&serde_json::Value::Array(
                    rows.iter().map(|(r, p, k, t)| json!({"role": r, "paths": p, "key_ids": k, "threshold": t})).collect(),
                ));
                return Ok(());
            }
            if rows.is_empty() {
                outln!("\nNo delegations present in this repository.\n");
                return Ok(());
            }
            let mut t = Table::new(&["ROLE", "PATHS", "KEY IDS", "THRESHOLD"]);
            for (r, p, k, th) in rows {
                let paths: Vec<String> = p
                    .iter()
                    .map(|x| {
                        if x.is_empty() {
                            "\"\" <all paths>".into()
                        } else {
                            x.clone()
                        }
                    })
                    .collect();
                t.row(vec![r, paths.join(","), k.join(","), th.to_string()]);
            }
            out!("{}", t.render());
            Ok(())
        }
    }
}

fn check_signer_name(name: &str) -> CliResult {
    let ok = !name.is_empty()
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok || name == "releases" {
        return Err(usage(format!(
            "signer name {name:?} is not allowed: use lowercase letters, digits, '_' and '-', starting with a letter or digit, and not \"releases\""
        )));
    }
    Ok(())
}

pub fn signer(ctx: &Context, cmd: SignerCommand) -> CliResult {
    match cmd {
        SignerCommand::Add { name, gun, keys } => {
            check_signer_name(&name)?;
            let gun = ctx.gun(&gun)?;
            let store = ctx.key_store()?;
            let add_keys = keys
                .iter()
                .map(|k| resolve_key(ctx, &store, k))
                .collect::<CliResult<Vec<_>>>()?;
            let mut changes = Vec::new();
            for role in [format!("targets/{name}"), "targets/releases".to_owned()] {
                changes.push(
                    DelegationChange {
                        new_threshold: 1,
                        add_keys: add_keys.clone(),
                        add_paths: vec![String::new()],
                        ..Default::default()
                    }
                    .into_change(ACTION_CREATE, &role),
                );
            }
            let report = stage_and_maybe_publish(ctx, &gun, &changes, false)?;
            ctx.note(format!(
                "Added signer {name} to {gun} (targets/{name} and targets/releases)"
            ));
            if ctx.json() {
                let ids: Vec<String> = add_keys
                    .iter()
                    .filter_map(|k| k.canonical_key_id().ok())
                    .map(|k| k.to_string())
                    .collect();
                print_json(&change_json(
                    gun.as_str(),
                    report.as_ref(),
                    json!({"signer": name, "roles": [format!("targets/{name}"), "targets/releases"], "key_ids": ids}),
                ));
            }
            Ok(())
        }
        SignerCommand::Remove { name, gun } => {
            check_signer_name(&name)?;
            let gun = ctx.gun(&gun)?;
            let remote = ctx.remote(Some(&gun), Access::Pull)?;
            let state = super::repo::fetch_state(ctx, &gun, remote.as_ref())?;
            let role = format!("targets/{name}");
            let top = &state.targets()["targets"];
            let d = top.role().delegation(&role).ok_or_else(|| {
                super::CliError::from(TrustError::BadInput(format!(
                    "{gun} has no signer {name} ({role})"
                )))
            })?;
            // The signer's keys leave targets/releases too, unless another signer shares them.
            let mut mine: Vec<String> = d
                .keyids
                .iter()
                .filter_map(|id| {
                    top.role()
                        .delegations
                        .keys
                        .get(id)
                        .and_then(|k| k.canonical_key_id().ok())
                        .map(|c| c.to_string())
                })
                .collect();
            for other in &top.role().delegations.roles {
                if other.name == role || other.name == "targets/releases" {
                    continue;
                }
                for id in &other.keyids {
                    if let Some(c) = top
                        .role()
                        .delegations
                        .keys
                        .get(id)
                        .and_then(|k| k.canonical_key_id().ok())
                    {
                        mine.retain(|m| *m != c.to_string());
                    }
                }
            }
            let mut changes = vec![delete_delegation(&role)];
            if top.role().delegation("targets/releases").is_some() && !mine.is_empty() {
                changes.push(
                    DelegationChange {
                        remove_keys: mine,
                        ..Default::default()
                    }
                    .into_change(ACTION_UPDATE, "targets/releases"),
                );
            }
            let report = stage_and_maybe_publish(ctx, &gun, &changes, false)?;
            if ctx.json() {
                print_json(&change_json(
                    gun.as_str(),
                    report.as_ref(),
                    json!({"signer": name, "removed_role": format!("targets/{name}")}),
                ));
            }
            ctx.note(format!(
                "Removed signer {name} from {gun}. Tags it signed in targets/releases stay valid until re-signed: run `vouch witness {gun} targets/releases` with a remaining signer's key to re-sign them, or unsign them."
            ));
            Ok(())
        }
    }
}

pub fn witness_cmd(ctx: &Context, gun: &str, roles: &[String], stage: bool) -> CliResult {
    let gun = ctx.gun(gun)?;
    for r in roles {
        if r != "targets" && !vouch::tuf::roles::is_delegation(r) {
            return Err(usage(format!(
                "only targets roles can be witnessed, not {r:?}"
            )));
        }
    }
    let changes: Vec<Change> = roles.iter().map(|r| witness(r)).collect();
    let report = stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
    ctx.note(format!("Witnessed {} in {gun}", roles.join(", ")));
    if ctx.json() {
        print_json(&change_json(
            gun.as_str(),
            report.as_ref(),
            json!({"witnessed": roles}),
        ));
    }
    Ok(())
}

/// When the current root keys are not here: how the rotation can be signed where they are.
fn how_to_sign(p: &RotationPlan) -> Option<String> {
    if p.missing_signers.is_empty() {
        return None;
    }
    Some(match p.role {
        RotateRole::Root => format!(
            "for an offline root key, make the new key where it is and run `vouch root plan {} --new-root-cert CERT`, `vouch root sign`, `vouch root apply`",
            p.gun
        ),
        _ => "bring a root key here for the rotation (e.g. `vouch key restore` from its backup) and remove it again afterwards".into(),
    })
}
