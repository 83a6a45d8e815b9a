//! Repository commands: init, status, publish, reset, list, delete, and the staging and
//! publishing the signing commands share (those are in `sign.rs`).

use serde_json::json;
use vouch::clock::SystemClock;
use vouch::keystore::KeyFormat;
use vouch::remote::{Access, Gun, Remote};
use vouch::trust::changelist::{Changelist, StagedChange};
use vouch::trust::init::{init, InitOptions};
use vouch::trust::publish::{check_applies_to_cache, publish, PublishReport};
use vouch::trust::state::{LoadPolicy, RepoState};
use vouch::trust::view;
use vouch::trust::{Change, LocalRepo};

use super::args::KeyFormatArg;
use super::output::{print_json, Table};
use super::{usage, CliResult, Context};

pub(crate) fn parse_gun(s: &str) -> CliResult<Gun> {
    Ok(Gun::parse(s)?)
}

pub(super) fn cmd_init(
    ctx: &Context,
    gun: &str,
    root_key: Option<&str>,
    server_managed_snapshot: bool,
    key_format: KeyFormatArg,
) -> CliResult {
    let gun = ctx.gun(gun)?;
    let session = ctx.session(&gun, Access::PushPull)?;
    let root_key = match root_key {
        Some(p) => Some(session.keys.find(p)?.id),
        None => None,
    };
    let remote = &session.remote;
    if server_managed_snapshot && !remote.signs_timestamp() {
        return Err(usage(format!(
            "--server-managed-snapshot needs a notary server; {} is a static repository, where vouch holds every key",
            remote.describe()
        )));
    }
    let opts = InitOptions {
        root_key,
        server_managed_snapshot,
        key_format: match key_format {
            KeyFormatArg::Vouch => KeyFormat::Vouch,
            KeyFormatArg::Notary => KeyFormat::Notary,
        },
    };
    let r = init(&session.env(), &session.local, &opts)?;
    if ctx.json() {
        print_json(&json!({
            "gun": gun.as_str(),
            "remote": remote.describe(),
            "root_key": r.root_key.as_str(),
            "root_key_created": r.root_key_created,
            "root_certificate_key": r.root_cert_key.as_str(),
            "targets_key": r.targets_key.as_str(),
            "snapshot_key": r.snapshot_key.as_ref().map(|k| k.as_str()),
            "timestamp_key": r.timestamp_key.as_str(),
            "versions": r.publish.uploaded,
        }));
    } else {
        publish_warnings(ctx, &gun, &r.publish);
        if r.resumed && r.publish.uploaded.is_empty() {
            ctx.note(format!(
                "{gun} is already initialized with a root key you hold; the local cache is up to date."
            ));
        } else if r.resumed {
            ctx.note(format!(
                "Found {gun} prepared by an earlier init; published it."
            ));
        } else if r.root_key_created {
            ctx.note(format!(
                "Generated root key {}; back it up (`vouch key backup --role root -o FILE`) and keep it offline.",
                r.root_key
            ));
        } else {
            ctx.note(format!("Root key found, using: {}", r.root_key));
        }
        ctx.note(format!(
            "Initialized {gun} on {} ({})",
            remote.describe(),
            versions(&r.publish)
        ));
        outln!("{gun}");
    }
    Ok(())
}

pub(crate) fn versions(r: &PublishReport) -> String {
    r.uploaded
        .iter()
        .map(|(k, v)| format!("{k} v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stage `changes` (`stage_only`), or publish them together with anything staged earlier.
///
/// A publish writes nothing before it runs: the changes are applied in memory after the
/// staged ones, and the keys are opened first. A command that fails keeps nothing (a
/// wrong or missing passphrase, an interrupted prompt, a bad name, an uninitialised
/// repository, a change that does not apply), with one exception: when the keys opened
/// but the remote was unavailable or refused the upload (exit 3), the changes are staged
/// so that `vouch publish` can retry, and the error says so.
pub(crate) fn stage_and_maybe_publish(
    ctx: &Context,
    gun: &Gun,
    changes: &[Change],
    stage_only: bool,
) -> CliResult<Option<PublishReport>> {
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let changelist = Changelist::for_repo(&local);
    if stage_only {
        {
            let _lock = local.lock()?;
            tidy(ctx, &changelist)?;
            // Staging does not fetch, and the repository may have changed since it was
            // cached: a change that does not apply to the cached copy is staged all the
            // same, with a warning now rather than a surprise at publish time.
            // Only advice: a cache that cannot be read does not stop staging.
            if let Ok(Some(why)) = check_applies_to_cache(&local, &SystemClock, changes) {
                let fix = vouch::advice::trust(&why)
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                ctx.warn(format!(
                    "by {gun}'s cached metadata (from its last fetch) a publish would fail: {why}{fix}. Staged anyway, in case the repository changed since"
                ));
            }
            changelist.add(changes)?;
        }
        ctx.note(format!(
            "{gun}: {} change(s) staged; not published: publish with `vouch publish {gun}`.",
            changes.len()
        ));
        return Ok(None);
    }
    let session = ctx.session(gun, Access::PushPull)?;
    let staged = {
        let _lock = local.lock()?;
        tidy(ctx, &changelist)?;
        changelist.list()?
    };
    announce_staged(ctx, gun, &staged, "also publishing");
    // Keys first, before anything goes over the network or to disk.
    vouch::trust::preflight::unlock_for_publish(
        &session.env(),
        &local,
        staged.iter().map(|s| &s.change).chain(changes),
    )
    .map_err(|e| {
        super::CliError::from(e).with_context(format!("{gun}: nothing was published or staged"))
    })?;
    // The keys opened: from here on the changes are staged, as one batch file (one
    // write), so that a publish cut short on the network, even by a kill mid-upload, leaves
    // them for `vouch publish`. A publish that fails for any other reason drops them.
    let batch = {
        let _lock = local.lock()?;
        changelist.add_batch(changes)?
    };
    match do_publish(ctx, gun, &session, &local) {
        Ok(report) => Ok(Some(report)),
        Err(e) if e.exit_code() == vouch::ExitCode::Remote => {
            // Kept as ordinary change files, which notary can publish too.
            let _lock = local.lock()?;
            if let Err(u) = changelist.unbatch(&batch) {
                ctx.warn(format!(
                    "the changes stay staged as {} (vouch publishes them; notary sees them once a later vouch command has turned them into change files): {u}",
                    batch.display()
                ));
            }
            Err(e.with_context(format!(
                "staged; not published: publishing {gun} failed after its keys opened, so this command's {} change(s) stay staged (staged changes are kept for `vouch publish {gun}`)",
                changes.len()
            )))
        }
        Err(e) => {
            let _lock = local.lock()?;
            changelist.remove(&[batch])?;
            // A change of this very command that cannot apply is dropped already: the way
            // out is the cause's, not `reset`.
            let e = match e.error() {
                vouch::Error::Trust(vouch::trust::TrustError::UnusableChange {
                    number,
                    cause,
                    ..
                }) if *number >= staged.len() => {
                    let hint = vouch::advice::trust(cause);
                    e.replace_hint(hint)
                }
                _ => e,
            };
            Err(e.with_context(format!(
                "publishing {gun} failed; nothing of this command was staged"
            )))
        }
    }
}

/// Finish or drop what a killed command left in `changelist`'s repository (the caller
/// holds the repository lock), saying what was done.
fn tidy(ctx: &Context, changelist: &Changelist) -> CliResult {
    let r = changelist.recover()?;
    if r.completed_batches > 0 {
        ctx.note(format!(
            "Finished staging {} batch(es) of changes an interrupted command had written completely.",
            r.completed_batches
        ));
    }
    if r.dropped_batches > 0 {
        ctx.note(format!(
            "Dropped {} incomplete batch(es) of changes an interrupted command was staging (none of their changes had been staged).",
            r.dropped_batches
        ));
    }
    Ok(())
}

/// One staged change in a line: what it does, to what, and when it was staged.
fn describe_change(c: &Change) -> String {
    use vouch::trust::changelist::{TYPE_DELEGATION, TYPE_TARGET, TYPE_WITNESS};
    match c.kind.as_str() {
        TYPE_TARGET if c.role == "targets" => format!("{} {}", c.action, c.path),
        TYPE_TARGET => format!("{} {} in {}", c.action, c.path, c.role),
        TYPE_DELEGATION => format!("{} delegation {}", c.action, c.role),
        TYPE_WITNESS => format!("witness {}", c.role),
        other => format!("{} {other} {} {}", c.action, c.role, c.path),
    }
}

/// "3 h ago", from a staging time.
fn age(at: Option<time::OffsetDateTime>) -> String {
    let Some(at) = at else {
        return "at an unknown time".into();
    };
    let secs = (time::OffsetDateTime::now_utc() - at)
        .whole_seconds()
        .max(0);
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

fn timestamp(at: Option<time::OffsetDateTime>) -> Option<String> {
    at.and_then(|t| {
        t.replace_nanosecond(0)
            .ok()?
            .format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
}

/// Say, before publishing, which staged changes go out with the command's own.
fn announce_staged(ctx: &Context, gun: &Gun, staged: &[StagedChange], what: &str) {
    if staged.is_empty() {
        return;
    }
    let mut msg = format!("{what} {} staged change(s) of {gun}:", staged.len());
    for s in staged {
        msg.push_str(&format!(
            "\n  {} (staged {})",
            describe_change(&s.change),
            age(s.staged_at)
        ));
    }
    ctx.note(msg);
}

fn do_publish(
    ctx: &Context,
    gun: &Gun,
    session: &super::Session,
    local: &LocalRepo,
) -> CliResult<PublishReport> {
    let remote = &session.remote;
    let report = publish(&session.env(), local).map_err(|e| {
        super::CliError::from(e).with_context(format!("publishing {gun} (staged changes are kept)"))
    })?;
    publish_warnings(ctx, gun, &report);
    if report.uploaded.is_empty() {
        ctx.note(format!("Nothing to publish for {gun}."));
    } else {
        ctx.note(format!(
            "Published {gun} to {} ({})",
            remote.describe(),
            versions(&report)
        ));
    }
    Ok(report)
}

pub(super) fn cmd_status(ctx: &Context, gun: &str) -> CliResult {
    let gun = ctx.gun(gun)?;
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let changelist = Changelist::for_repo(&local);
    let entries = if !local.dir().exists() {
        // Nothing here (a new or mistyped name): nothing to lock or tidy.
        Vec::new()
    } else {
        let _lock = local.lock()?;
        tidy(ctx, &changelist)?;
        changelist.entries()?
    };
    let bad = entries.iter().enumerate().find_map(|(i, e)| {
        e.change
            .as_ref()
            .err()
            .map(|r| (i, e.file.clone(), r.clone()))
    });
    let unreadable = |(number, path, reason)| -> CliResult {
        Err(vouch::trust::TrustError::UnreadableChange {
            gun: gun.to_string(),
            number,
            path,
            reason,
        }
        .into())
    };
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| match &e.change {
                    Ok(c) => json!({"number": i, "action": c.action, "scope": c.role, "type": c.kind, "path": c.path, "staged_at": timestamp(e.staged_at)}),
                    Err(reason) => json!({"number": i, "file": e.file, "unreadable": reason, "staged_at": timestamp(e.staged_at)}),
                })
                .collect(),
        ));
        return match bad {
            Some(b) => unreadable(b),
            None => Ok(()),
        };
    }
    if entries.is_empty() {
        outln!("No unpublished changes for {gun}");
        return Ok(());
    }
    // The table is notary's, byte for byte; when each change was staged goes to stderr.
    outln!("Unpublished changes for {gun}:\n");
    let mut t = Table::new(&["#", "ACTION", "SCOPE", "TYPE", "PATH"]);
    let mut ages = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match &e.change {
            Ok(c) => t.row(vec![
                i.to_string(),
                c.action.clone(),
                c.role.clone(),
                c.kind.clone(),
                c.path.clone(),
            ]),
            Err(_) => t.row(vec![
                i.to_string(),
                "?".into(),
                "?".into(),
                "unreadable".into(),
                e.file.display().to_string(),
            ]),
        }
        ages.push(format!(
            "  #{i} staged {}{}",
            age(e.staged_at),
            timestamp(e.staged_at)
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        ));
    }
    out!("{}", t.render());
    ctx.note(format!("When each was staged:\n{}", ages.join("\n")));
    match bad {
        Some(b) => unreadable(b),
        None => Ok(()),
    }
}

pub(super) fn cmd_publish(ctx: &Context, gun: &str) -> CliResult {
    let gun = ctx.gun(gun)?;
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let changelist = Changelist::for_repo(&local);
    let session = ctx.session(&gun, Access::PushPull)?;
    let staged = {
        let _lock = local.lock()?;
        tidy(ctx, &changelist)?;
        changelist.list()?
    };
    announce_staged(ctx, &gun, &staged, "Publishing");
    let report = do_publish(ctx, &gun, &session, &local)?;
    if ctx.json() {
        print_json(
            &json!({"gun": gun.as_str(), "applied_changes": report.applied_changes, "versions": report.uploaded}),
        );
    }
    Ok(())
}

/// `publish --recover`: the server lost the repository; publish the verified local copy
/// to it again.
pub(super) fn cmd_recover(ctx: &Context, gun: &str) -> CliResult {
    let gun = ctx.gun(gun)?;
    let session = ctx.session(&gun, Access::PushPull)?;
    let local = &session.local;
    let r = vouch::trust::rotate::recover_server(&session.env(), local).map_err(|e| {
        super::CliError::from(e)
            .with_context(format!("recovering {gun} on {}", session.remote.describe()))
    })?;
    if ctx.json() {
        print_json(&json!({
            "gun": gun.as_str(),
            "remote": session.remote.describe(),
            "recovered": true,
            "published": true,
            "root_version_before": r.root_versions.0,
            "root_version": r.root_versions.1,
            "new_server_keys": r.new_server_keys.iter().map(|(role, id)| json!({"role": role, "key_id": id})).collect::<Vec<_>>(),
            "versions": r.publish.uploaded,
            "staged_kept": r.staged_kept,
        }));
        return Ok(());
    }
    publish_warnings(ctx, &gun, &r.publish);
    outln!(
        "Recovered {gun} on {} from this trust dir ({})",
        session.remote.describe(),
        versions(&r.publish)
    );
    for (role, id) in &r.new_server_keys {
        outln!("- the server holds a new {role} key: {id}");
    }
    if r.root_versions.1 != r.root_versions.0 {
        outln!(
            "- root version {} lists them; it is signed by the current root keys, so clients holding version {} follow",
            r.root_versions.1, r.root_versions.0
        );
    }
    if r.staged_kept > 0 {
        outln!(
            "- {} staged change(s) kept: publish them with `vouch publish {gun}`",
            r.staged_kept
        );
    }
    Ok(())
}

/// `reset`: drop staged changes by number (as `status` numbers them) or all of them,
/// unreadable ones included: this is the way out of a changelist nothing else can read.
pub(super) fn cmd_reset(ctx: &Context, gun: &str, all: bool, numbers: &[usize]) -> CliResult {
    let gun = ctx.gun(gun)?;
    if !all && numbers.is_empty() {
        return Err(usage(
            "say which changes to drop: --all, or -n 0,2 (numbers from `vouch status`)",
        ));
    }
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let _lock = local.lock()?;
    let cl = Changelist::for_repo(&local);
    tidy(ctx, &cl)?;
    let staged = cl.entries()?;
    if let Some(bad) = numbers.iter().find(|n| **n >= staged.len()) {
        return Err(usage(format!(
            "there is no staged change number {bad} ({} staged)",
            staged.len()
        )));
    }
    let mut drop = Vec::new();
    for (i, s) in staged.iter().enumerate() {
        if all || numbers.contains(&i) {
            drop.push(s.file.clone());
        }
    }
    cl.remove(&drop)?;
    ctx.note(format!("Dropped {} staged change(s) for {gun}", drop.len()));
    if ctx.json() {
        let numbers: Vec<usize> = (0..staged.len())
            .filter(|i| all || numbers.contains(i))
            .collect();
        print_json(
            &json!({"gun": gun.as_str(), "dropped": numbers, "remaining": staged.len() - numbers.len()}),
        );
    }
    Ok(())
}

/// Read a repository's verified state from its remote, anchored as the global trust
/// options say, refreshing the local cache.
pub fn fetch_state(ctx: &Context, gun: &Gun, remote: &dyn Remote) -> CliResult<RepoState> {
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let anchoring = ctx.trust_policy(gun).map_err(|e| ctx.read_error(gun, e))?;
    let policy = LoadPolicy {
        clock: &SystemClock,
        check_expiry: true,
        trust: &anchoring,
    };
    let state = vouch::trust::verdict::load(Some(remote), &local, policy)
        .map_err(|e| ctx.read_error(gun, e.into()))?;
    super::state::announce(ctx, &state, Some(remote));
    Ok(state)
}

pub(super) fn cmd_list(ctx: &Context, gun: &str, check_registry: bool) -> CliResult {
    use super::registry::{served_tags, Served};
    let gun = ctx.gun(gun)?;
    // As notary: an unreachable server falls back to the verified cache, with a warning.
    let fallback = super::args::TrustArgs {
        offline: false,
        cache_fallback: true,
    };
    let state = super::state::load_state(ctx, &gun, &fallback)?;
    let targets = view::all_targets(&state);
    let digest = |t: &view::TargetEntry| t.sha256_hex().map(|h| format!("sha256:{h}"));
    let (registry, served) = if check_registry {
        let (host, served) = served_tags(ctx, gun.as_str(), &targets)?;
        (host, Some(served))
    } else {
        (String::new(), None)
    };
    if ctx.json() {
        let items: Vec<serde_json::Value> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = json!({"name": t.name, "digest": digest(t), "size": t.meta.length, "role": t.role});
                if let Some(s) = &served {
                    v["registry"] = s[i].json();
                }
                v
            })
            .collect();
        let source = match state.source() {
            vouch::trust::state::Source::Remote => "remote",
            vouch::trust::state::Source::Cache => "cache",
        };
        print_json(&json!({"gun": gun.as_str(), "source": source, "items": items}));
    } else if targets.is_empty() {
        outln!("\nNo targets present in this repository.\n");
    } else {
        let mut header = vec!["NAME", "DIGEST", "SIZE (BYTES)", "ROLE"];
        if served.is_some() {
            header.push("REGISTRY");
        }
        let mut t = Table::new(&header);
        for (i, e) in targets.iter().enumerate() {
            let mut row = vec![
                e.name.clone(),
                e.sha256_hex().unwrap_or_default(),
                e.meta.length.to_string(),
                e.role.clone(),
            ];
            if let Some(s) = &served {
                row.push(s[i].label());
            }
            t.row(row);
        }
        out!("{}", t.render());
    }
    // Not served as signed: exit 1, naming the tags.
    let Some(served) = served else { return Ok(()) };
    let off: Vec<String> = targets
        .iter()
        .zip(&served)
        .filter_map(|(t, s)| match s {
            Served::Missing => Some(format!("{} missing", t.name)),
            Served::Moved(d) => Some(format!("{} moved to {d}", t.name)),
            _ => None,
        })
        .collect();
    if off.is_empty() {
        return Ok(());
    }
    Err(vouch::remote::registry::RegistryError::TagsNotServed {
        gun: gun.to_string(),
        registry,
        count: off.len(),
        details: off.join(", "),
    }
    .into())
}

pub(super) fn cmd_delete(ctx: &Context, gun: &str, remote_too: bool) -> CliResult {
    let gun = ctx.gun(gun)?;
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let mut remote_deleted = None;
    if remote_too {
        let remote = ctx.remote(Some(&gun), Access::Admin)?;
        remote.delete(&gun)?;
        ctx.note(format!(
            "Deleted trust data for {gun} on {}",
            remote.describe()
        ));
        remote_deleted = Some(remote.describe());
    }
    let _lock = local.lock()?;
    let local_deleted = local.delete_all()?;
    if local_deleted {
        ctx.note(format!(
            "Deleted local trust data for {gun} (keys are kept)"
        ));
    } else {
        ctx.note(format!("No local trust data for {gun}"));
    }
    if ctx.json() {
        print_json(&json!({"gun": gun.as_str(), "local_deleted": local_deleted,
            "remote_deleted": remote_deleted.is_some(), "remote": remote_deleted}));
    }
    Ok(())
}

/// A publish's warnings, and what to do about the ones that leave work behind.
fn publish_warnings(ctx: &Context, gun: &Gun, report: &PublishReport) {
    for w in &report.warnings {
        ctx.warn(w);
    }
    if report.changes_left.is_some() {
        ctx.warn(format!(
            "the published changes are still staged: drop them with `vouch reset {gun} --all`"
        ));
    }
}
