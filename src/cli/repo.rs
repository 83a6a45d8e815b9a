//! Repository commands: init, sign, sign-file, unsign, status, publish, reset, list, delete.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;
use vouch::clock::SystemClock;
use vouch::keystore::KeyFormat;
use vouch::reference::Reference;
use vouch::remote::{Access, Gun, Remote};
use vouch::trust::changelist::Changelist;
use vouch::trust::init::{init, InitOptions};
use vouch::trust::publish::{check_applies_to_cache, publish, PublishReport};
use vouch::trust::state::{LoadPolicy, RepoState};
use vouch::trust::view;
use vouch::trust::{Change, LocalRepo};
use vouch::tuf::FileMeta;

use super::args::{Command, KeyFormatArg};
use super::output::{print_json, Table};
use super::{usage, CliResult, Context};

pub fn run(ctx: &Context, cmd: Command) -> CliResult {
    match cmd {
        Command::Init {
            gun,
            root_key,
            server_managed_snapshot,
            key_format,
        } => cmd_init(
            ctx,
            &gun,
            root_key.as_deref(),
            server_managed_snapshot,
            key_format,
        ),
        Command::Sign {
            refs,
            from_file,
            role,
            check: true,
            ..
        } => cmd_sign_check(ctx, &refs, from_file.as_deref(), &role),
        Command::Sign {
            refs,
            digest,
            size,
            no_registry_check,
            from_file,
            stage,
            role,
            check: false,
        } => cmd_sign(
            ctx,
            &refs,
            digest.as_deref(),
            size,
            no_registry_check,
            from_file.as_deref(),
            stage,
            &role,
        ),
        Command::SignFile {
            gun,
            name,
            file,
            from_dir,
            stage,
        } => cmd_sign_file(
            ctx,
            &gun,
            name.as_deref(),
            file.as_deref(),
            from_dir.as_deref(),
            stage,
        ),
        Command::Unsign { args, stage } => cmd_unsign(ctx, &args, stage),
        Command::Status { gun } => cmd_status(ctx, &gun),
        Command::Publish { gun } => cmd_publish(ctx, &gun),
        Command::Reset { gun, all, number } => cmd_reset(ctx, &gun, all, &number),
        Command::List { gun } => cmd_list(ctx, &gun),
        Command::Delete { gun, remote } => cmd_delete(ctx, &gun, remote),
        Command::Key(_)
        | Command::Verify { .. }
        | Command::VerifyFile { .. }
        | Command::Inspect { .. }
        | Command::Trust(_)
        | Command::Delegation(_)
        | Command::Signer(_)
        | Command::Witness { .. }
        | Command::Expiry { .. }
        | Command::Renew { .. }
        | Command::Root(_) => unreachable!("dispatched in cli::run"),
    }
}

pub(crate) fn parse_gun(s: &str) -> CliResult<Gun> {
    Ok(Gun::parse(s)?)
}

fn cmd_init(
    ctx: &Context,
    gun: &str,
    root_key: Option<&str>,
    server_managed_snapshot: bool,
    key_format: KeyFormatArg,
) -> CliResult {
    let gun = parse_gun(gun)?;
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
        if r.resumed {
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
        println!("{gun}");
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

/// One tag to sign.
struct TagSpec {
    gun: Gun,
    tag: String,
    meta: FileMeta,
}

fn parse_sha256(d: &str) -> CliResult<Vec<u8>> {
    let hex_part = d.strip_prefix("sha256:").ok_or_else(|| {
        usage(format!(
            "digest {d:?} must look like sha256:<64 hex characters>"
        ))
    })?;
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(usage(format!(
            "digest {d:?} must look like sha256:<64 hex characters>"
        )));
    }
    Ok(hex::decode(hex_part.to_ascii_lowercase()).expect("checked hex"))
}

fn image_meta(digest: &str, size: u64) -> CliResult<FileMeta> {
    let sha = parse_sha256(digest)?;
    let mut hashes = vouch::tuf::Hashes::new();
    hashes.insert("sha256".to_owned(), sha);
    Ok(FileMeta {
        length: size as i64,
        hashes,
        custom: None,
        extra: Default::default(),
    })
}

fn parse_tag_pair(
    ctx: &Context,
    s: &str,
    digest: Option<&str>,
    size: Option<u64>,
    no_registry_check: bool,
) -> CliResult<TagSpec> {
    let (image, pinned) = match s.split_once('=') {
        Some((i, p)) => (i, Some(p)),
        None => (s, None),
    };
    let r = Reference::parse(image).map_err(|e| usage(e.to_string()))?;
    let tag = r
        .tag
        .clone()
        .ok_or_else(|| usage(format!("{image}: name a tag to sign (IMAGE:TAG)")))?;
    let (d, n) = match pinned {
        Some(p) => {
            let (d, n) = p
                .rsplit_once(':')
                .ok_or_else(|| usage(format!("{s}: expected IMAGE:TAG=sha256:HEX:SIZE")))?;
            let n: u64 = n
                .parse()
                .map_err(|_| usage(format!("{s}: size {n:?} is not a number")))?;
            (d.to_owned(), n)
        }
        None => super::registry::digest_and_size(ctx, &r, digest, size, no_registry_check)?,
    };
    Ok(TagSpec {
        gun: parse_gun(&r.gun())?,
        tag,
        meta: image_meta(&d, n)?,
    })
}

#[allow(clippy::too_many_arguments)]
fn cmd_sign(
    ctx: &Context,
    refs: &[String],
    digest: Option<&str>,
    size: Option<u64>,
    no_registry_check: bool,
    from_file: Option<&Path>,
    stage: bool,
    role: &str,
) -> CliResult {
    check_sign_role(role)?;
    if (digest.is_some() || size.is_some()) && refs.len() != 1 {
        return Err(usage("--digest and --size apply to exactly one IMAGE:TAG; use IMAGE:TAG=sha256:HEX:SIZE pairs for several"));
    }
    let mut specs = Vec::new();
    for r in refs {
        specs.push(parse_tag_pair(ctx, r, digest, size, no_registry_check)?);
    }
    if let Some(f) = from_file {
        for line in ref_lines(f)? {
            specs.push(parse_tag_pair(ctx, &line, None, None, no_registry_check)?);
        }
    }
    // Group by repository: each repository gets one publish.
    let mut by_gun: std::collections::BTreeMap<String, Vec<TagSpec>> = Default::default();
    for s in specs {
        by_gun.entry(s.gun.to_string()).or_default().push(s);
    }
    let mut results = Vec::new();
    for (gun, specs) in by_gun {
        let gun = parse_gun(&gun)?;
        let changes: Vec<Change> = specs
            .iter()
            .map(|s| Change::add_target(role, &s.tag, &s.meta))
            .collect();
        let report = stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
        for s in &specs {
            let digest = format!(
                "sha256:{}",
                hex::encode(s.meta.sha256().unwrap_or_default())
            );
            if !ctx.json() {
                println!("{}:{}@{digest}", gun, s.tag);
            }
            results.push(
                json!({"gun": gun.as_str(), "tag": s.tag, "digest": digest, "size": s.meta.length,
                "published": report.is_some(), "versions": report.as_ref().map(|r| &r.uploaded)}),
            );
        }
    }
    if ctx.json() {
        print_json(&serde_json::Value::Array(results));
    }
    Ok(())
}

/// `vouch sign --check`: for each repository named, the keys a publish into `role`
/// would sign with, and whether each is here and opens. No registry, nothing staged.
fn cmd_sign_check(
    ctx: &Context,
    refs: &[String],
    from_file: Option<&Path>,
    role: &str,
) -> CliResult {
    check_sign_role(role)?;
    let mut lines: Vec<String> = refs.to_vec();
    if let Some(f) = from_file {
        lines.extend(ref_lines(f)?);
    }
    let mut guns = std::collections::BTreeSet::new();
    for l in &lines {
        let image = l.split_once('=').map_or(l.as_str(), |(i, _)| i);
        let r = Reference::parse(image).map_err(|e| usage(e.to_string()))?;
        guns.insert(parse_gun(&r.gun())?.to_string());
    }
    let mut reports = Vec::new();
    let mut problems = Vec::new();
    for gun in &guns {
        let gun = parse_gun(gun)?;
        let session = ctx.session(&gun, Access::Pull)?;
        let p =
            vouch::trust::preflight::preflight(&session.env(), &session.local, &[role.to_owned()])?;
        for r in p.roles.iter().filter(|r| !r.ready()) {
            problems.push(format!("{gun} {}", r.role));
        }
        reports.push(p);
    }
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            reports.iter().map(preflight_json).collect(),
        ));
    } else {
        for p in &reports {
            print_preflight(p);
        }
    }
    if problems.is_empty() {
        ctx.note(format!(
            "Ready: every key needed to sign {} is here and opens.",
            guns.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        return Ok(());
    }
    let gun = guns.iter().next().cloned().unwrap_or_default();
    Err(vouch::trust::TrustError::NotReadyToSign {
        gun: if guns.len() == 1 {
            gun
        } else {
            "some repositories".into()
        },
        problems: format!("no usable key for {}", problems.join(", ")),
    }
    .into())
}

fn key_status(k: &vouch::trust::preflight::KeyCheck) -> (&'static str, String) {
    use vouch::trust::preflight::KeyStatus;
    match &k.status {
        KeyStatus::Ready => ("ready", "opens".into()),
        KeyStatus::Absent => ("absent", "not in this key store".into()),
        KeyStatus::Fails { reason, hint } => (
            "fails",
            match hint {
                Some(h) => format!("{reason}; {h}"),
                None => reason.clone(),
            },
        ),
    }
}

fn print_preflight(p: &vouch::trust::preflight::Preflight) {
    println!(
        "{} (roles from {}):",
        p.gun,
        if p.from_cache {
            "the local cache"
        } else {
            "the remote"
        }
    );
    let mut t = Table::new(&["ROLE", "NEEDS", "KEY ID", "STATUS"]);
    for r in &p.roles {
        let needs = format!(
            "{} of {}{}",
            r.threshold.max(1),
            r.keys.len(),
            if r.ready() { "" } else { " (not met)" }
        );
        if r.keys.is_empty() {
            t.row(vec![
                r.role.clone(),
                needs.clone(),
                "-".into(),
                "no keys listed".into(),
            ]);
        }
        for (i, k) in r.keys.iter().enumerate() {
            let (_, detail) = key_status(k);
            t.row(vec![
                if i == 0 {
                    r.role.clone()
                } else {
                    String::new()
                },
                if i == 0 { needs.clone() } else { String::new() },
                k.key_id.clone(),
                detail,
            ]);
        }
    }
    print!("{}", t.render());
}

fn preflight_json(p: &vouch::trust::preflight::Preflight) -> serde_json::Value {
    json!({
        "gun": p.gun,
        "ready": p.ready(),
        "from_cache": p.from_cache,
        "roles": p.roles.iter().map(|r| json!({
            "role": r.role,
            "threshold": r.threshold,
            "ready": r.ready(),
            "keys": r.keys.iter().map(|k| {
                let (status, detail) = key_status(k);
                json!({"id": k.key_id, "status": status, "detail": detail})
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// `--role` of `sign`: `targets` or a delegation `targets/NAME`.
fn check_sign_role(role: &str) -> CliResult {
    if role == "targets" || vouch::tuf::roles::is_delegation(role) {
        return Ok(());
    }
    Err(usage(format!(
        "--role {role:?}: sign into targets or a delegation targets/NAME"
    )))
}

/// The references of a `sign --from-file` file: one per line, blank lines and `#`
/// comments skipped.
fn ref_lines(f: &Path) -> CliResult<Vec<String>> {
    Ok(read_text(f)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn read_text(f: &Path) -> CliResult<String> {
    let mut s = String::new();
    if f == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
    } else {
        s = std::fs::read_to_string(f)
            .map_err(|e| usage(format!("cannot read {}: {e}", f.display())))?;
    }
    Ok(s)
}

/// Stage `changes`; publish them (with anything staged earlier) unless `stage_only`.
pub(crate) fn stage_and_maybe_publish(
    ctx: &Context,
    gun: &Gun,
    changes: &[Change],
    stage_only: bool,
) -> CliResult<Option<PublishReport>> {
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let changelist = Changelist::new(local.changelist_dir());
    if stage_only {
        {
            let _lock = local.lock()?;
            // Staging does not fetch, and the repository may have changed since it was
            // cached: a change that does not apply to the cached copy is staged all the
            // same, with a warning now rather than a surprise at publish time.
            // Only advice: a cache that cannot be read does not stop staging.
            if let Ok(Some(why)) = check_applies_to_cache(&local, &SystemClock, changes) {
                ctx.warn(format!(
                    "by {gun}'s cached metadata (from its last fetch) a publish would fail: {why}. Staged anyway, in case the repository changed since"
                ));
            }
            changelist.add(changes)?;
        }
        ctx.note(format!(
            "Staged {} change(s) for {gun}; publish with `vouch publish {gun}`.",
            changes.len()
        ));
        return Ok(None);
    }
    // Published right away: staged as one batch file, so that a publish that is killed
    // midway still finds them next time, without one file per change.
    let batch = {
        let _lock = local.lock()?;
        changelist.add_batch(changes)?
    };
    match do_publish(ctx, gun, &local) {
        Ok(report) => Ok(Some(report)),
        // Changes that cannot be applied (bad input) are not kept: they would block every
        // later publish. Network and key problems keep them for a retry.
        Err(e) if e.exit_code() == vouch::ExitCode::Usage => {
            let _lock = local.lock()?;
            changelist.remove(&[batch])?;
            Err(e.with_context(format!("{gun}: the change was not staged")))
        }
        Err(e) => {
            // Kept as ordinary change files, which notary can publish too.
            let _lock = local.lock()?;
            changelist.unbatch(&batch)?;
            Err(e)
        }
    }
}

fn do_publish(ctx: &Context, gun: &Gun, local: &LocalRepo) -> CliResult<PublishReport> {
    let session = ctx.session(gun, Access::PushPull)?;
    let remote = &session.remote;
    let report = publish(&session.env(), local).map_err(|e| {
        super::CliError::from(e).with_context(format!("publishing {gun} (staged changes are kept)"))
    })?;
    for w in &report.warnings {
        ctx.warn(w);
    }
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

fn cmd_sign_file(
    ctx: &Context,
    gun: &str,
    name: Option<&str>,
    file: Option<&Path>,
    from_dir: Option<&Path>,
    stage: bool,
) -> CliResult {
    let gun = parse_gun(gun)?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if let Some(dir) = from_dir {
        collect_files(dir, dir, &mut files)?;
        if files.is_empty() {
            return Err(usage(format!(
                "{} holds no regular files to sign",
                dir.display()
            )));
        }
    } else {
        files.push((
            name.expect("clap requires name").to_owned(),
            file.expect("clap requires file").to_path_buf(),
        ));
    }
    let mut changes = Vec::new();
    let mut out = Vec::new();
    for (name, path) in &files {
        let bytes = std::fs::read(path)
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        let meta = FileMeta::from_bytes(&bytes, &["sha256", "sha512"])?;
        out.push(json!({"name": name, "sha256": hex::encode(meta.sha256().unwrap_or_default()), "size": meta.length}));
        changes.push(Change::add_target("targets", name, &meta));
    }
    let report = stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
    if ctx.json() {
        print_json(&json!({"gun": gun.as_str(), "targets": out, "published": report.is_some()}));
    } else {
        for o in &out {
            println!(
                "{} sha256:{} {}",
                o["name"].as_str().unwrap_or_default(),
                o["sha256"].as_str().unwrap_or_default(),
                o["size"]
            );
        }
    }
    Ok(())
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> CliResult {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        let ft = e
            .file_type()
            .map_err(|err| usage(format!("cannot stat {}: {err}", p.display())))?;
        if ft.is_dir() {
            collect_files(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            out.push((rel, p));
        }
    }
    Ok(())
}

fn cmd_unsign(ctx: &Context, args: &[String], stage: bool) -> CliResult {
    // `unsign IMAGE:TAG…` or `unsign GUN NAME…`.
    let mut by_gun: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let first_is_ref = Reference::parse(&args[0]).ok().filter(|r| r.tag.is_some());
    if args.len() >= 2 && Gun::parse(&args[0]).is_ok() && !args[0].contains(':')
        || first_is_ref.is_none()
    {
        if args.len() < 2 {
            return Err(usage("give IMAGE:TAG, or GUN and one or more target names"));
        }
        by_gun
            .entry(args[0].clone())
            .or_default()
            .extend(args[1..].iter().cloned());
    } else {
        for a in args {
            let r = Reference::parse(a).map_err(|e| usage(e.to_string()))?;
            let tag = r
                .tag
                .clone()
                .ok_or_else(|| usage(format!("{a}: name the tag to remove (IMAGE:TAG)")))?;
            by_gun.entry(r.gun()).or_default().push(tag);
        }
    }
    for (gun, names) in by_gun {
        let gun = parse_gun(&gun)?;
        let changes: Vec<Change> = names
            .iter()
            .map(|n| Change::remove_target("targets", n))
            .collect();
        stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
        if !stage {
            for n in &names {
                ctx.note(format!("Removed {n} from {gun}"));
            }
        }
    }
    Ok(())
}

fn cmd_status(ctx: &Context, gun: &str) -> CliResult {
    let gun = parse_gun(gun)?;
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let staged = Changelist::new(local.changelist_dir()).list()?;
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            staged
                .iter()
                .enumerate()
                .map(|(i, s)| json!({"number": i, "action": s.change.action, "scope": s.change.role, "type": s.change.kind, "path": s.change.path}))
                .collect(),
        ));
        return Ok(());
    }
    if staged.is_empty() {
        println!("No unpublished changes for {gun}");
        return Ok(());
    }
    println!("Unpublished changes for {gun}:\n");
    let mut t = Table::new(&["#", "ACTION", "SCOPE", "TYPE", "PATH"]);
    for (i, s) in staged.iter().enumerate() {
        t.row(vec![
            i.to_string(),
            s.change.action.clone(),
            s.change.role.clone(),
            s.change.kind.clone(),
            s.change.path.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn cmd_publish(ctx: &Context, gun: &str) -> CliResult {
    let gun = parse_gun(gun)?;
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let report = do_publish(ctx, &gun, &local)?;
    if ctx.json() {
        print_json(
            &json!({"gun": gun.as_str(), "applied_changes": report.applied_changes, "versions": report.uploaded}),
        );
    }
    Ok(())
}

fn cmd_reset(ctx: &Context, gun: &str, all: bool, numbers: &[usize]) -> CliResult {
    let gun = parse_gun(gun)?;
    if !all && numbers.is_empty() {
        return Err(usage(
            "say which changes to drop: --all, or -n 0,2 (numbers from `vouch status`)",
        ));
    }
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    let _lock = local.lock()?;
    let cl = Changelist::new(local.changelist_dir());
    let staged = cl.list()?;
    let mut drop = Vec::new();
    for (i, s) in staged.iter().enumerate() {
        if all || numbers.contains(&i) {
            drop.push(s.file.clone());
        }
    }
    if let Some(bad) = numbers.iter().find(|n| **n >= staged.len()) {
        return Err(usage(format!(
            "there is no staged change number {bad} ({} staged)",
            staged.len()
        )));
    }
    cl.remove(&drop)?;
    ctx.note(format!("Dropped {} staged change(s) for {gun}", drop.len()));
    Ok(())
}

/// Read a repository's verified state from its remote, refreshing the local cache.
pub fn fetch_state(ctx: &Context, gun: &Gun, remote: &dyn Remote) -> CliResult<RepoState> {
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let policy = LoadPolicy {
        clock: &SystemClock,
        check_expiry: true,
    };
    let state = RepoState::fetch(remote, &local, policy)?.ok_or_else(|| {
        super::CliError::from(vouch::trust::TrustError::NoTrustData {
            gun: gun.to_string(),
            remote: remote.describe(),
        })
    })?;
    {
        let _lock = local.lock()?;
        local.write_cached_all(&state.fresh_files())?;
    }
    for w in &state.warnings {
        ctx.warn(w);
    }
    Ok(state)
}

fn cmd_list(ctx: &Context, gun: &str) -> CliResult {
    let gun = parse_gun(gun)?;
    let remote = ctx.remote(Some(&gun), Access::Pull)?;
    let state = fetch_state(ctx, &gun, remote.as_ref())?;
    let targets = view::all_targets(&state);
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            targets
                .iter()
                .map(|t| json!({"name": t.name, "digest": t.sha256_hex().map(|h| format!("sha256:{h}")), "size": t.meta.length, "role": t.role}))
                .collect(),
        ));
        return Ok(());
    }
    if targets.is_empty() {
        println!("\nNo targets present in this repository.\n");
        return Ok(());
    }
    let mut t = Table::new(&["NAME", "DIGEST", "SIZE (BYTES)", "ROLE"]);
    for e in &targets {
        t.row(vec![
            e.name.clone(),
            e.sha256_hex().unwrap_or_default(),
            e.meta.length.to_string(),
            e.role.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn cmd_delete(ctx: &Context, gun: &str, remote_too: bool) -> CliResult {
    let gun = parse_gun(gun)?;
    let local = LocalRepo::new(&ctx.trust_dir, &gun);
    if remote_too {
        let remote = ctx.remote(Some(&gun), Access::Admin)?;
        remote.delete(&gun)?;
        ctx.note(format!(
            "Deleted trust data for {gun} on {}",
            remote.describe()
        ));
    }
    let _lock = local.lock()?;
    if local.delete_all()? {
        ctx.note(format!(
            "Deleted local trust data for {gun} (keys are kept)"
        ));
    } else {
        ctx.note(format!("No local trust data for {gun}"));
    }
    Ok(())
}
