//! `vouch root plan|sign|apply`, `vouch expiry`, `vouch renew`.

use std::path::{Path, PathBuf};
use vouch::crypto::CanonicalKeyId as _;

use serde_json::json;
use vouch::clock::{Clock, SystemClock};
use vouch::remote::{Access, Gun};
use vouch::trust::ceremony::{plan, ApplyState, RootDiff, RootRequest};
use vouch::trust::publish::{publish_with, PublishOptions, RootUpdate};
use vouch::trust::state::{LoadPolicy, RepoState};
use vouch::trust::{expiry, LocalRepo, TrustError};

use super::args::RootCommand;
use super::output::{print_json, Table};
use super::repo::{parse_gun, versions};
use super::{prompt, usage, CliResult, Context};

/// `30d`, `12h`, `8w`, `90m`, `1y` (365 days), `3650d`.
pub fn parse_duration(s: &str) -> CliResult<time::Duration> {
    let bad = || usage(format!("{s:?} is not a duration like 30d, 12h, 8w or 1y"));
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    Ok(match unit {
        "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        "w" => time::Duration::weeks(n),
        "y" => time::Duration::days(365 * n),
        _ => return Err(bad()),
    })
}

/// Write `text` to `path` atomically: a new 0600 file under an unpredictable name in the
/// same directory (created exclusively, never through a symlink), fsync, rename over
/// `path` (a symlink at `path` is replaced, not followed), fsync the directory.
fn write_file(path: &Path, text: &str) -> CliResult {
    use rand_core::{OsRng, RngCore};
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e: std::io::Error| usage(format!("cannot write {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("request");
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", OsRng.next_u64()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(cannot)
}

/// Print the computed change on stderr (always: it is what is being signed).
fn show_change(req: &RootRequest, diff: &RootDiff) {
    errln!(
        "Change to the root of {} (computed from the current and the new root in the request):",
        diff.gun
    );
    for line in diff.lines() {
        errln!("  {line}");
    }
    errln!("  {}", planned_against(req));
}

fn planned_against(req: &RootRequest) -> String {
    format!(
        "planned against root version {} (sha256 {})",
        req.current_version, req.current_sha256
    )
}

/// Ask "Sign this root? [y/N]" on a terminal; refuse without one unless `--yes`.
fn confirm_sign(yes: bool) -> CliResult {
    use std::io::{IsTerminal, Write as _};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "not signed: no terminal to confirm on; review the change shown above and pass --yes to sign it",
        ));
    }
    errout!("Sign this root? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| usage(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(usage("not signed")),
    }
}

pub fn root(ctx: &Context, cmd: RootCommand) -> CliResult {
    match cmd {
        RootCommand::Plan {
            gun,
            new_root_key,
            new_root_cert,
            expires,
            out,
        } => {
            let gun = ctx.gun(&gun)?;
            let remote = ctx.remote(Some(&gun), Access::Pull)?;
            let local = LocalRepo::new(&ctx.trust_dir, &gun);
            let anchoring = ctx.trust_policy(&gun)?;
            let state = RepoState::fetch(
                remote.as_ref(),
                &local,
                LoadPolicy {
                    clock: &SystemClock,
                    check_expiry: false,
                    trust: &anchoring,
                },
            )?
            .ok_or_else(|| {
                super::CliError::from(TrustError::NoTrustData {
                    gun: gun.to_string(),
                    remote: remote.describe(),
                })
            })?;
            let cert = match (new_root_key, new_root_cert) {
                (Some(_), Some(_)) => {
                    return Err(usage("give --new-root-key or --new-root-cert, not both"))
                }
                (Some(k), None) => {
                    let keys = ctx.key_store()?;
                    let info = keys.find(&k)?;
                    let pass = prompt::sources(ctx)?;
                    let (pk, _) = keys.load(&info.id, &pass)?;
                    let signing = pk
                        .ecdsa_signing_key()
                        .ok_or_else(|| usage("root keys must be ECDSA P-256"))?;
                    let pem = vouch::crypto::x509::root_certificate(
                        signing,
                        gun.as_str(),
                        SystemClock.now(),
                    )?;
                    Some(vouch::tuf::PublicKey::new(
                        vouch::tuf::keys::ECDSA_X509,
                        pem.into_bytes(),
                    ))
                }
                (None, Some(path)) => {
                    let bytes = std::fs::read(&path)
                        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
                    let key = vouch::crypto::x509::public_key_from_pem(&bytes, SystemClock.now())
                        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
                    Some(key)
                }
                (None, None) => None,
            };
            let lifetime = match expires {
                Some(e) => parse_duration(&e)?,
                None => expiry::ROOT,
            };
            let req = plan(gun.as_str(), state.root(), cert, lifetime, &SystemClock)?;
            let review = req.review(SystemClock.now())?;
            write_file(&out, &req.to_json())?;
            for line in review.diff.lines() {
                ctx.note(line);
            }
            ctx.note(planned_against(&req));
            ctx.note(format!(
                "Wrote {}. Next: `vouch root sign {}` where the root key is, then `vouch root apply`.",
                out.display(),
                out.display()
            ));
            if ctx.json() {
                print_json(&json!({"gun": gun.as_str(), "request": out,
                    "current_version": req.current_version, "new_version": req.root.version,
                    "changes": review.diff.lines()}));
            }
            Ok(())
        }
        RootCommand::Sign { request, out, yes } => {
            // No network and no server configuration: only the key store is used.
            let bytes = std::fs::read(&request)
                .map_err(|e| usage(format!("cannot read {}: {e}", request.display())))?;
            let mut req = RootRequest::parse(&bytes)?;
            // What is signed is what the two roots say, never the request's own words.
            let review = req.review(SystemClock.now())?;
            show_change(&req, &review.diff);
            confirm_sign(yes)?;
            let keys = ctx.key_store()?;
            let pass = prompt::sources(ctx)?;
            let signed = req.sign(&keys, &pass, SystemClock.now())?;
            let out: PathBuf = out.unwrap_or(request);
            write_file(&out, &req.to_json())?;
            ctx.note(format!(
                "Signed with {}; wrote {}",
                signed.join(", "),
                out.display()
            ));
            if ctx.json() {
                print_json(
                    &json!({"signed_by": signed, "request": out, "changes": review.diff.lines()}),
                );
            }
            Ok(())
        }
        RootCommand::Apply { signed } => {
            let bytes = std::fs::read(&signed)
                .map_err(|e| usage(format!("cannot read {}: {e}", signed.display())))?;
            let req = RootRequest::parse(&bytes)?;
            req.review(SystemClock.now())?;
            let gun = Gun::parse(&req.gun)?;
            let root_bytes = req.signed_bytes()?;
            let session = ctx.session(&gun, Access::PushPull)?;
            let env = session.env();
            let local = &session.local;
            // The repository must still be at the root the request was made against.
            let state = session.fetch_state()?;
            if req.check_against(state.root())? == ApplyState::AlreadyApplied {
                ctx.note(format!(
                    "Root version {} of {gun} is already this request's root (applied before); nothing to do.",
                    req.root.version
                ));
                if ctx.json() {
                    print_json(&super::output::change_json(
                        gun.as_str(),
                        None,
                        json!({"root_version": req.root.version, "already_applied": true}),
                    ));
                }
                return Ok(());
            }
            let report = publish_with(
                &env,
                local,
                &PublishOptions {
                    root: Some(RootUpdate::Presigned(root_bytes)),
                    force_snapshot: true,
                    exclude_staged: true,
                    ..Default::default()
                },
            )?;
            ctx.note(format!(
                "Applied root version {} to {gun} ({})",
                req.root.version,
                versions(&report)
            ));
            if ctx.json() {
                print_json(&super::output::change_json(
                    gun.as_str(),
                    Some(&report),
                    json!({"root_version": req.root.version, "already_applied": false}),
                ));
            }
            Ok(())
        }
    }
}

/// One row of `vouch expiry`.
struct Row {
    gun: String,
    role: String,
    version: i64,
    expires: time::OffsetDateTime,
    expires_text: String,
    signer: String,
    /// The role's key IDs, those of them in this key store, and whether the server
    /// re-signs it (no key here).
    signer_keys: Vec<String>,
    keys_here: Vec<String>,
    server_signs: bool,
    flagged: bool,
}

fn cached_guns(trust_dir: &Path) -> Vec<String> {
    let base = trust_dir.join("tuf");
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            if p.file_name().is_some_and(|n| n == "metadata") && p.join("root.json").is_file() {
                if let Some(g) = dir.strip_prefix(base).ok().and_then(|g| g.to_str()) {
                    out.push(g.to_owned());
                }
            } else {
                walk(base, &p, out);
            }
        }
    }
    walk(&base, &base, &mut out);
    out.sort();
    out
}

pub fn expiry_cmd(ctx: &Context, guns: &[String], within: &str, refresh: bool) -> CliResult {
    let window = parse_duration(within)?;
    let now = SystemClock.now();
    let keys = ctx.key_store()?;
    let guns: Vec<String> = if guns.is_empty() {
        cached_guns(&ctx.trust_dir)
    } else {
        guns.iter()
            .map(|g| ctx.gun(g).map(|g| g.to_string()))
            .collect::<CliResult<_>>()?
    };
    if guns.is_empty() {
        ctx.note(format!("No repositories in {}.", ctx.trust_dir.display()));
        return Ok(());
    }
    let mut rows = Vec::new();
    for g in &guns {
        let gun = parse_gun(g)?;
        let local = LocalRepo::new(&ctx.trust_dir, &gun);
        let anchoring = ctx.trust_policy(&gun)?;
        let policy = LoadPolicy {
            clock: &SystemClock,
            check_expiry: false,
            trust: &anchoring,
        };
        let state = if refresh {
            let remote = ctx.remote(Some(&gun), Access::Pull)?;
            RepoState::fetch(remote.as_ref(), &local, policy)?
        } else {
            RepoState::from_cache(&local, policy)?
        }
        .ok_or_else(|| {
            usage(format!(
                "no trust data for {gun} in {}",
                ctx.trust_dir.display()
            ))
        })?;
        let root = state.root().role();
        // A snapshot or timestamp whose key is not here is the server's, which re-signs
        // it by itself (a notary server holds the timestamp key, and the snapshot key
        // when asked to). Judged from the cached root and this key store alone, so that
        // the verdict on one cache is the same with or without --server.
        type Who = (String, bool, Vec<String>, Vec<String>);
        let who = |role_keys: Vec<vouch::tuf::PublicKey>, server_ok: bool| -> Who {
            let ids: Vec<String> = role_keys
                .iter()
                .filter_map(|k| k.canonical_key_id().ok())
                .map(|k| k.to_string())
                .collect();
            let here: Vec<&String> = ids
                .iter()
                .filter(|id| vouch::tuf::KeyId::parse(id).is_ok_and(|k| keys.info(&k).is_ok()))
                .collect();
            let here_ids: Vec<String> = here.iter().map(|s| s.to_string()).collect();
            if let Some(h) = here.first() {
                (
                    format!("key {} (here)", &h[..12]),
                    false,
                    ids.clone(),
                    here_ids,
                )
            } else if server_ok {
                (
                    "server (re-signed automatically)".into(),
                    true,
                    ids.clone(),
                    here_ids,
                )
            } else {
                (
                    format!(
                        "key {} (NOT in this key store)",
                        ids.first().map(|s| &s[..12.min(s.len())]).unwrap_or("?")
                    ),
                    false,
                    ids.clone(),
                    here_ids,
                )
            }
        };
        let base_keys = |name: &str| {
            root.base_role(name)
                .map(|r| r.keys.into_values().collect())
                .unwrap_or_default()
        };
        let mut push = |role: &str, version: i64, exp: &vouch::tuf::Expires, signer: Who| {
            let expires = exp.time();
            rows.push(Row {
                gun: gun.to_string(),
                role: role.to_owned(),
                version,
                expires,
                expires_text: exp.to_string(),
                signer: signer.0,
                signer_keys: signer.2,
                keys_here: signer.3,
                server_signs: signer.1,
                flagged: !signer.1 && expires - now < window,
            });
        };
        push(
            "root",
            root.version,
            &root.expires,
            who(base_keys("root"), false),
        );
        for (name, t) in state.targets() {
            let keys_for = if name == "targets" {
                base_keys("targets")
            } else {
                vouch::tuf::roles::parent_role(name)
                    .and_then(|p| state.targets().get(p))
                    .and_then(|p| p.role().delegation_role(name).ok())
                    .map(|r| r.keys.into_values().collect())
                    .unwrap_or_default()
            };
            push(
                name,
                t.role().version,
                &t.role().expires,
                who(keys_for, false),
            );
        }
        if let Some(s) = state.snapshot() {
            push(
                "snapshot",
                s.role().version,
                &s.role().expires,
                who(base_keys("snapshot"), true),
            );
        }
        if let Some(t) = state.timestamp() {
            push(
                "timestamp",
                t.role().version,
                &t.role().expires,
                who(base_keys("timestamp"), true),
            );
        }
    }
    let flagged = rows.iter().filter(|r| r.flagged).count();
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            rows.iter()
                .map(|r| json!({"gun": r.gun, "role": r.role, "version": r.version, "expires": r.expires_text,
                    "expires_in_days": (r.expires - now).whole_days(),
                    "signer": {"key_ids": r.signer_keys, "here": r.keys_here, "server": r.server_signs},
                    "within_window": r.flagged}))
                .collect(),
        ));
    } else {
        let mut t = Table::new(&[
            "GUN",
            "ROLE",
            "VERSION",
            "EXPIRES",
            "IN",
            "RE-SIGNED BY",
            "",
        ]);
        for r in &rows {
            let left = r.expires - now;
            let left_text = if left.is_negative() {
                "EXPIRED".to_owned()
            } else {
                format!("{}d", left.whole_days())
            };
            t.row(vec![
                r.gun.clone(),
                r.role.clone(),
                r.version.to_string(),
                r.expires_text.clone(),
                left_text,
                r.signer.clone(),
                if r.flagged {
                    "<- renew".into()
                } else {
                    String::new()
                },
            ]);
        }
        out!("{}", t.render());
    }
    if flagged > 0 {
        let roles: Vec<String> = rows
            .iter()
            .filter(|r| r.flagged)
            .map(|r| format!("{} {}", r.gun, r.role))
            .collect();
        return Err(TrustError::ExpiringSoon {
            count: flagged,
            within: within.to_owned(),
            roles: roles.join(", "),
        }
        .into());
    }
    Ok(())
}

pub fn renew(ctx: &Context, gun: &str, roles: &[String]) -> CliResult {
    let gun = ctx.gun(gun)?;
    let session = ctx.session(&gun, Access::PushPull)?;
    let keys = &session.keys;
    let env = session.env();
    let local = &session.local;
    let mut opts = PublishOptions {
        force_snapshot: true,
        exclude_staged: true,
        ..Default::default()
    };
    let roles: Vec<String> = if roles.is_empty() {
        // Every role whose key is here.
        let state = session.fetch_state()?;
        let here = |ks: Vec<vouch::tuf::PublicKey>| {
            ks.iter()
                .any(|k| k.canonical_key_id().is_ok_and(|id| keys.info(&id).is_ok()))
        };
        let root = state.root().role();
        let mut out = Vec::new();
        if here(
            root.base_role("root")
                .map(|r| r.keys.into_values().collect())
                .unwrap_or_default(),
        ) {
            out.push("root".to_owned());
        }
        for name in state.targets().keys() {
            let ks = if name == "targets" {
                root.base_role("targets")
                    .map(|r| r.keys.into_values().collect())
                    .unwrap_or_default()
            } else {
                vouch::tuf::roles::parent_role(name)
                    .and_then(|p| state.targets().get(p))
                    .and_then(|p| p.role().delegation_role(name).ok())
                    .map(|r| r.keys.into_values().collect())
                    .unwrap_or_default()
            };
            if here(ks) {
                out.push(name.clone());
            }
        }
        out
    } else {
        roles.to_vec()
    };
    for r in &roles {
        match r.as_str() {
            "root" => opts.root = Some(RootUpdate::Resign),
            "snapshot" | "timestamp" => {}
            t if t == "targets" || vouch::tuf::roles::is_delegation(t) => {
                opts.resign.push(t.to_owned())
            }
            other => return Err(usage(format!("cannot renew {other:?}"))),
        }
    }
    let report = publish_with(&env, local, &opts)?;
    ctx.note(format!("Renewed {gun} ({})", versions(&report)));
    if ctx.json() {
        print_json(&super::output::change_json(
            gun.as_str(),
            Some(&report),
            json!({"renewed": roles}),
        ));
    }
    Ok(())
}
