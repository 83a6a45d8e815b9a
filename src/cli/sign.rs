//! Signing commands: sign (and sign --check), sign-file, unsign.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;
use vouch::reference::Reference;
use vouch::remote::{Access, Gun};
use vouch::trust::Change;
use vouch::tuf::FileMeta;

use super::output::{print_json, Table};
use super::repo::{parse_gun, stage_and_maybe_publish};
use super::{usage, CliResult, Context};

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
        gun: ctx.image_gun(image, &r)?,
        tag,
        meta: image_meta(&d, n)?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn cmd_sign(
    ctx: &Context,
    refs: &[String],
    digest: Option<&str>,
    size: Option<u64>,
    no_registry_check: bool,
    from_file: Option<&Path>,
    stage: bool,
    role: &str,
    oci: Option<&str>,
) -> CliResult {
    check_sign_role(role)?;
    let oci_formats = super::oci::sign_formats(ctx, oci)?;
    if (digest.is_some() || size.is_some()) && refs.len() != 1 {
        return Err(usage("--digest and --size apply to exactly one IMAGE:TAG; use IMAGE:TAG=sha256:HEX:SIZE pairs for several"));
    }
    let mut specs = Vec::new();
    for r in refs {
        specs.push(parse_tag_pair(ctx, r, digest, size, no_registry_check)?);
    }
    if let Some(f) = from_file {
        let lines = ref_lines(f)?;
        // Each line may ask its registry for the tag's digest: the slow part of a bulk sign.
        let progress = super::progress::Progress::count(
            ctx,
            lines.len() as u64,
            &format!("reading {}", f.display()),
            "tags",
        );
        for line in lines {
            specs.push(parse_tag_pair(ctx, &line, None, None, no_registry_check)?);
            progress.inc(1);
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
        let items: Vec<(String, String)> = specs
            .iter()
            .map(|s| {
                let d = hex::encode(s.meta.sha256().unwrap_or_default());
                (s.tag.clone(), format!("sha256:{d}"))
            })
            .collect();
        let oci = match report {
            Some(_) => super::oci::publish_for_tags(ctx, &gun, role, &items, &oci_formats)
                .map_err(|e| {
                    e.with_context(format!(
                        "{gun}: the Notary v1 signature is published, the OCI signatures are not (publish them with `vouch migrate oci {gun}` once this is fixed)"
                    ))
                })?,
            None => Default::default(),
        };
        for s in &specs {
            let digest = format!(
                "sha256:{}",
                hex::encode(s.meta.sha256().unwrap_or_default())
            );
            if !ctx.json() {
                outln!("{}:{}@{digest}", gun, s.tag);
            }
            results.push(
                json!({"gun": gun.as_str(), "tag": s.tag, "digest": digest, "size": s.meta.length,
                "published": report.is_some(), "versions": report.as_ref().map(|r| &r.uploaded),
                "oci": oci.get(&s.tag)}),
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
pub(super) fn cmd_sign_check(
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
        guns.insert(ctx.image_gun(image, &r)?.to_string());
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
        KeyStatus::Fails { reason, error } => (
            "fails",
            match vouch::advice::keystore(error) {
                Some(h) => format!("{reason}; {h}"),
                None => reason.clone(),
            },
        ),
    }
}

fn print_preflight(p: &vouch::trust::preflight::Preflight) {
    outln!(
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
    out!("{}", t.render());
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

pub(super) fn cmd_sign_file(
    ctx: &Context,
    gun: &str,
    name: Option<&str>,
    file: Option<&Path>,
    from_dir: Option<&Path>,
    stage: bool,
) -> CliResult {
    let gun = ctx.gun(gun)?;
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
    let total: u64 = files
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = super::progress::Progress::bytes(ctx, total, "hashing");
    for (name, path) in &files {
        progress.set_message(&format!("hashing {name}"));
        // Streamed: memory stays flat whatever the file's size.
        let meta = std::fs::File::open(path)
            .and_then(|f| FileMeta::from_reader(progress.reader(f)))
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        out.push(json!({"name": name, "digest": format!("sha256:{}", hex::encode(meta.sha256().unwrap_or_default())), "size": meta.length}));
        changes.push(Change::add_target("targets", name, &meta));
    }
    drop(progress);
    let report = stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
    if ctx.json() {
        print_json(&json!({"gun": gun.as_str(), "targets": out, "published": report.is_some()}));
    } else {
        for o in &out {
            outln!(
                "{} {} {}",
                o["name"].as_str().unwrap_or_default(),
                o["digest"].as_str().unwrap_or_default(),
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

pub(super) fn cmd_unsign(ctx: &Context, args: &[String], stage: bool) -> CliResult {
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
            .entry(ctx.gun(&args[0])?.to_string())
            .or_default()
            .extend(args[1..].iter().cloned());
    } else {
        for a in args {
            let r = Reference::parse(a).map_err(|e| usage(e.to_string()))?;
            let tag = r
                .tag
                .clone()
                .ok_or_else(|| usage(format!("{a}: name the tag to remove (IMAGE:TAG)")))?;
            by_gun
                .entry(ctx.image_gun(a, &r)?.to_string())
                .or_default()
                .push(tag);
        }
    }
    let mut results = Vec::new();
    for (gun, names) in by_gun {
        let gun = parse_gun(&gun)?;
        refuse_unsigned(ctx, &gun, &names, stage)?;
        let changes: Vec<Change> = names
            .iter()
            .map(|n| Change::remove_target("targets", n))
            .collect();
        let report = stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
        if !stage {
            for n in &names {
                ctx.note(format!("Removed {n} from {gun}"));
            }
        }
        results.push(super::output::change_json(
            gun.as_str(),
            report.as_ref(),
            json!({"removed": names}),
        ));
    }
    if ctx.json() {
        print_json(&serde_json::Value::Array(results));
    }
    Ok(())
}

/// `unsign` of a name that is neither signed (in any role) nor staged to be signed is an
/// error (exit 1, as `verify` of it), before anything is staged: "Removed" would be untrue.
/// Publishing checks the repository as it is now; `--stage` its cached copy (nothing
/// cached: nothing to check against).
fn refuse_unsigned(ctx: &Context, gun: &Gun, names: &[String], stage: bool) -> CliResult {
    use vouch::trust::{LocalRepo, RepoState};
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let state = if stage {
        let as_cached = vouch::trust::anchor::TrustPolicy::tofu();
        let policy = vouch::trust::state::LoadPolicy {
            clock: &vouch::clock::SystemClock,
            check_expiry: false,
            trust: &as_cached,
        };
        match RepoState::from_cache(&local, policy)? {
            Some(s) => s,
            None => return Ok(()),
        }
    } else {
        let remote = ctx.remote(Some(gun), Access::Pull)?;
        super::repo::fetch_state(ctx, gun, remote.as_ref())?
    };
    let signed: std::collections::BTreeSet<String> = vouch::trust::view::all_targets(&state)
        .into_iter()
        .map(|t| t.name)
        .collect();
    let staged = vouch::trust::Changelist::for_repo(&local).list()?;
    for name in names {
        let staged_add = staged.iter().any(|s| {
            s.change.path == *name
                && s.change.kind == vouch::trust::changelist::TYPE_TARGET
                && s.change.action != vouch::trust::changelist::ACTION_DELETE
        });
        if !signed.contains(name) && !staged_add {
            return Err(vouch::trust::TrustError::NoSuchTarget {
                gun: gun.to_string(),
                name: name.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// `unsign GUN --missing-in-registry [--dry-run]`: the signatures of signed tags the image's
/// registry no longer has, removed in one publish. Tags the registry serves with another
/// digest are kept: they were pushed again and may need signing, not unsigning.
pub(super) fn cmd_unsign_missing(
    ctx: &Context,
    args: &[String],
    stage: bool,
    dry_run: bool,
) -> CliResult {
    use super::registry::{served_tags, Served};
    let [gun] = args else {
        return Err(usage(
            "--missing-in-registry takes one repository (GUN), no tags",
        ));
    };
    let gun = ctx.gun(gun)?;
    let remote = ctx.remote(Some(&gun), Access::Pull)?;
    let state = super::repo::fetch_state(ctx, &gun, remote.as_ref())?;
    let targets = vouch::trust::view::all_targets(&state);
    let (registry, served) = served_tags(ctx, gun.as_str(), &targets)?;
    let gone: Vec<&vouch::trust::view::TargetEntry> = targets
        .iter()
        .zip(&served)
        .filter(|(_, s)| **s == Served::Missing)
        .map(|(t, _)| t)
        .collect();
    let gone_names: Vec<&str> = gone.iter().map(|t| t.name.as_str()).collect();
    if (gone.is_empty() || dry_run) && ctx.json() {
        print_json(
            &json!({"gun": gun.as_str(), "registry": registry, "removed": gone_names,
            "dry_run": dry_run, "published": false, "versions": null}),
        );
    }
    if gone.is_empty() {
        ctx.note(format!(
            "Registry {registry} still has every signed tag of {gun}; nothing to remove."
        ));
        return Ok(());
    }
    if dry_run {
        if !ctx.json() {
            for t in &gone {
                outln!("{gun}:{}", t.name);
            }
        }
        ctx.note(format!(
            "{} signed tag(s) of {gun} are gone from registry {registry} and would be unsigned; nothing was changed (--dry-run).",
            gone.len()
        ));
        return Ok(());
    }
    let changes: Vec<Change> = gone
        .iter()
        .map(|t| Change::remove_target(&t.role, &t.name))
        .collect();
    let report = stage_and_maybe_publish(ctx, &gun, &changes, stage)?;
    if ctx.json() {
        print_json(&super::output::change_json(
            gun.as_str(),
            report.as_ref(),
            json!({"registry": registry, "removed": gone_names, "dry_run": false}),
        ));
    }
    let names = gone_names;
    ctx.note(format!(
        "{} {} signature(s) of tags gone from registry {registry}: {}",
        if stage {
            "Staged the removal of"
        } else {
            "Removed"
        },
        gone.len(),
        names.join(", ")
    ));
    Ok(())
}
