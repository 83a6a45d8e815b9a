//! `vouch key backup`, `vouch key backup verify`, `vouch key restore`.
//!
//! The backup passphrase comes from `--passphrase-file`, else `VOUCH_BACKUP_PASSPHRASE`,
//! else a prompt on the terminal (twice for a new one). Backups copy key files as they
//! are, so no key passphrase is asked by any of these commands.

use std::io::{IsTerminal, Read as _, Write as _};
use std::path::{Path, PathBuf};

use rand_core::OsRng;
use serde_json::json;
use vouch::keystore::backup::{
    self, Archive, BackupError, Envelope, FileKind, Protection, RestoreOutcome, RestoreReport,
    RootOutcome, ScryptCost, Selection,
};
use vouch::keystore::passphrase::MIN_NEW_PASSPHRASE_LEN;
use vouch::keystore::{
    KeyStore, KeystoreError, PassphraseFile, PassphraseRequest, PassphraseSource, Secret,
};

use super::args::BackupAction;
use super::output::{print_json, Table};
use super::progress::Progress;
use super::{usage, CliResult, Context};

/// How many times an interactive user may mistype the backup passphrase.
const MAX_ATTEMPTS: u32 = 3;

#[allow(clippy::too_many_arguments)]
pub fn backup(
    ctx: &Context,
    store: &KeyStore,
    roles: Vec<String>,
    guns: Vec<String>,
    out: Option<PathBuf>,
    shares: Option<String>,
    action: Option<BackupAction>,
) -> CliResult {
    if let Some(BackupAction::Verify { files }) = action {
        return verify(ctx, store, &files);
    }
    let out = out.ok_or_else(|| {
        usage("vouch key backup needs -o FILE (or, with --shares, -o PREFIX for the share files)")
    })?;
    let split = shares.as_deref().map(parse_k_of_n).transpose()?;
    // Refuse to overwrite before asking anything.
    let targets: Vec<PathBuf> = match split {
        None => vec![out.clone()],
        Some((_, n)) => (1..=n).map(|i| share_path(&out, i, n)).collect(),
    };
    for t in &targets {
        if t.symlink_metadata().is_ok() {
            return Err(usage(format!(
                "{} already exists (refusing to overwrite; remove it or choose another name)",
                t.display()
            )));
        }
    }
    let on_token = token_keys(store, &roles, &guns)?;
    let note_token_keys = || {
        if !on_token.is_empty() {
            ctx.note(format!(
                "Not in the backup: {} key(s) on PKCS#11 tokens, which never leave them \
                 (keep the token, or a second token, safe instead):\n  {}",
                on_token.len(),
                on_token
                    .iter()
                    .map(|(id, role, uri)| format!("{id}  {role}  {uri}"))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
    };
    let (archive, skipped) = match store.backup_archive(&Selection { roles, guns }) {
        Ok(a) => a,
        Err(e) => {
            note_token_keys();
            return Err(e.into());
        }
    };
    for s in &skipped {
        ctx.warn(format!(
            "not backed up (cannot be read as a key file): {}: {}",
            s.path.display(),
            s.reason
        ));
    }
    let envelope = match split {
        None => {
            let pass = new_backup_passphrase(ctx)?;
            let sealing = Progress::spinner(
                ctx,
                &format!("encrypting the backup of {} key(s)", archive.keys.len()),
            );
            let env = backup::seal_with_passphrase(&archive, pass.expose(), ScryptCost::DEFAULT);
            drop(sealing);
            let env = env?;
            write_new_files(&[(out.clone(), env.to_armored()?.into_bytes().into())])?;
            env
        }
        Some((k, n)) => {
            let split = backup::split_archive(&archive, k, n, &mut OsRng)?;
            let files: Vec<(PathBuf, zeroize::Zeroizing<Vec<u8>>)> = targets
                .iter()
                .cloned()
                .zip(split.shares.iter().map(|s| s.as_bytes().to_vec().into()))
                .collect();
            write_new_files(&files)?;
            split.envelope
        }
    };
    if ctx.json() {
        print_json(&json!({
            "file": split.is_none().then_some(&out),
            "shares": if split.is_some() { json!(targets) } else { json!(null) },
            "threshold": split.map(|(k, _)| k),
            "archive_sha256": envelope.fingerprint(),
            "created": envelope.created(),
            "keys": keys_json(&archive),
            "repositories": archive.roots.iter().map(|r| &r.gun).collect::<Vec<_>>(),
            "not_backed_up_token_keys": on_token.iter().map(|(id, role, uri)| json!({"id": id, "role": role, "location": uri})).collect::<Vec<_>>(),
        }));
    } else {
        out!("{}", keys_table(&archive, None, false).render());
    }
    let roots = match archive.roots.len() {
        0 => String::new(),
        1 => " and the cached root.json of 1 repository".to_owned(),
        n => format!(" and the cached root.json of {n} repositories"),
    };
    match split {
        None => ctx.note(format!(
            "Backed up {} key(s){roots} to {} (archive sha256:{}).\n\
             Keep the backup passphrase apart from the file. The key files inside keep their own \
             passphrases: they are needed to use the keys after a restore.",
            archive.keys.len(),
            out.display(),
            envelope.fingerprint()
        )),
        Some((k, n)) => ctx.note(format!(
            "Backed up {} key(s){roots} as {n} shares, any {k} of which restore them \
             (archive sha256:{}):\n  {}\n\
             Give each share to a different custodian or place. The key files inside keep their \
             own passphrases: they are needed to use the keys after a restore.",
            archive.keys.len(),
            envelope.fingerprint(),
            targets
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        )),
    }
    note_token_keys();
    Ok(())
}

/// Keys on PKCS#11 tokens a backup with this selection would otherwise take: (ID, role,
/// URI).
fn token_keys(
    store: &KeyStore,
    roles: &[String],
    guns: &[String],
) -> CliResult<Vec<(String, String, String)>> {
    Ok(store
        .list()?
        .into_iter()
        .filter(|k| roles.is_empty() || roles.contains(&k.role))
        .filter(|k| {
            guns.is_empty() || k.role == "root" || k.gun.as_ref().is_some_and(|g| guns.contains(g))
        })
        .filter_map(|k| match k.format {
            vouch::keystore::FileFormat::Token { uri } => Some((k.id.to_string(), k.role, uri)),
            _ => None,
        })
        .collect())
}

pub fn restore(
    ctx: &Context,
    store: &KeyStore,
    file: Option<PathBuf>,
    shares: Vec<PathBuf>,
    with_trust_data: bool,
) -> CliResult {
    let (env, archive, source) = open(ctx, file.as_deref(), &shares)?;
    let progress = Progress::count(ctx, archive.keys.len() as u64, "restoring", "keys");
    let report = store.restore_archive_with(&archive, with_trust_data, &mut || progress.inc(1));
    drop(progress);
    let report = report?;
    let restored = report
        .keys
        .iter()
        .filter(|k| k.outcome == RestoreOutcome::Restored)
        .count();
    if ctx.json() {
        print_json(&json!({
            "source": source,
            "archive_sha256": env.fingerprint(),
            "created": env.created(),
            "keys": report.keys.iter().map(|k| json!({
                "id": k.id.as_str(),
                "role": k.role,
                "gun": k.gun,
                "location": k.path,
                "outcome": outcome_word(&k.outcome).replace(' ', "_"),
            })).collect::<Vec<_>>(),
            "repositories": report.roots.iter().map(|r| json!({
                "gun": r.gun,
                "root_json": r.path,
                "outcome": root_outcome_word(&r.outcome).replace(' ', "_"),
            })).collect::<Vec<_>>(),
        }));
    } else {
        out!("{}", keys_table(&archive, Some(&report), false).render());
    }
    let present = report.keys.len() - restored;
    ctx.note(format!(
        "Restored {restored} key(s) into {}{}.",
        store.private_dir().display(),
        if present > 0 {
            format!("; {present} already present, left unchanged")
        } else {
            String::new()
        }
    ));
    for r in &report.roots {
        match r.outcome {
            RootOutcome::Restored => {
                // Asked for with --with-trust-data: the backup's root is this trust dir's
                // anchor for the repository from now on, recorded as such.
                if let Ok(gun) = vouch::remote::Gun::parse(&r.gun) {
                    let local = vouch::trust::LocalRepo::new(&ctx.trust_dir, &gun);
                    let version = local
                        .read_cached("root")?
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .and_then(|v| v.pointer("/signed/version").and_then(|v| v.as_i64()))
                        .unwrap_or(0);
                    local.write_anchor_record(
                        &vouch::trust::anchor::AnchoredBy::Backup
                            .record(version, time::OffsetDateTime::now_utc()),
                    )?;
                }
                ctx.note(format!("Restored the cached root.json of {}.", r.gun))
            }
            RootOutcome::AlreadyPresent => {}
            RootOutcome::KeptExisting => ctx.note(format!(
                "Kept the cached root.json of {} that was already here (it differs from the backup's).",
                r.gun
            )),
            RootOutcome::NotRequested => {}
        }
    }
    let skipped: Vec<&str> = report
        .roots
        .iter()
        .filter(|r| r.outcome == RootOutcome::NotRequested)
        .map(|r| r.gun.as_str())
        .collect();
    if !skipped.is_empty() {
        ctx.note(format!(
            "Not restored: the cached root.json (trust data) of {} in the backup. \
             A cached root.json is what vouch trusts a repository by: to install it from this backup, \
             if you trust the backup, run the restore again with --with-trust-data; otherwise \
             `vouch verify` asks for --tofu or a trust lock.",
            skipped.join(", ")
        ));
    }
    if restored > 0 {
        ctx.note("The restored keys are encrypted under the passphrases they had when backed up.");
    }
    Ok(())
}

fn verify(ctx: &Context, store: &KeyStore, files: &[PathBuf]) -> CliResult {
    let first = read_input(&files[0])?;
    let (env, archive, source) = if files.len() == 1 && backup::sniff(&first) == FileKind::Backup {
        open(ctx, Some(&files[0]), &[])?
    } else {
        open(ctx, None, files)?
    };
    // What a restore into this trust dir would do; nothing is written.
    let plan = store.plan_restore(&archive, true)?;
    if ctx.json() {
        print_json(&json!({
            "ok": true,
            "source": source,
            "archive_sha256": env.fingerprint(),
            "created": env.created(),
            "protection": match env.protection() {
                Protection::Passphrase => json!({"passphrase": true}),
                Protection::Shares { threshold, shares } => json!({"threshold": threshold, "shares": shares}),
            },
            "keys": keys_json(&archive),
            "repositories": archive.roots.iter().map(|r| &r.gun).collect::<Vec<_>>(),
            "in_this_trust_dir": plan.keys.iter().map(|k| json!({
                "id": k.id.as_str(),
                "state": match &k.outcome {
                    RestoreOutcome::Restored => "missing",
                    RestoreOutcome::AlreadyPresent => "already_present",
                    RestoreOutcome::Conflict { .. } => "conflict",
                },
            })).collect::<Vec<_>>(),
        }));
    } else {
        out!("{}", keys_table(&archive, Some(&plan), true).render());
    }
    let how = match env.protection() {
        Protection::Passphrase => "the backup passphrase opens it".to_owned(),
        Protection::Shares { threshold, shares } => format!(
            "{} share(s) given, {threshold} of {shares} needed",
            files.len()
        ),
    };
    ctx.note(format!(
        "OK: archive sha256:{} (created {}) restores from {source} ({how}): {} key(s){}. Nothing was written.",
        env.fingerprint(),
        env.created(),
        archive.keys.len(),
        match archive.roots.len() {
            0 => String::new(),
            n => format!(" and the cached root.json of {n} repositor{}", if n == 1 { "y" } else { "ies" }),
        }
    ));
    Ok(())
}

/// Open a backup file with its passphrase, or combine share files.
fn open(
    ctx: &Context,
    file: Option<&Path>,
    shares: &[PathBuf],
) -> CliResult<(Envelope, Archive, String)> {
    if !shares.is_empty() {
        let mut parsed = Vec::new();
        for path in shares {
            let bytes = read_input(path)?;
            if backup::sniff(&bytes) == FileKind::Backup {
                return Err(usage(format!(
                    "{} is a backup file, not a share: restore it without --shares",
                    path.display()
                )));
            }
            parsed.push(backup::parse_share(&path.display().to_string(), &bytes)?);
        }
        let (env, archive) = backup::combine_shares(&parsed)?;
        let indexes: Vec<String> = parsed.iter().map(|s| s.index.to_string()).collect();
        let source = format!("shares {} of {}", indexes.join(", "), parsed[0].total);
        return Ok((env, archive, source));
    }
    let path = file.ok_or_else(|| usage("give a backup FILE, or --shares SHARE…"))?;
    let bytes = read_input(path)?;
    if backup::sniff(&bytes) == FileKind::Share {
        return Err(usage(format!(
            "{} is a share of a split backup: give it, with the other shares, to --shares",
            path.display()
        )));
    }
    let what = path.display().to_string();
    let env = backup::read_backup_file(&bytes, &what)?;
    if matches!(env.protection(), Protection::Shares { .. }) {
        return Err(usage(format!(
            "{what} is the archive of a split backup: restore it from its shares with --shares"
        )));
    }
    let mut attempt = 0;
    loop {
        let pass = backup_passphrase(ctx)?;
        let opening = Progress::spinner(ctx, &format!("decrypting {what}"));
        let opened = env.open_with_passphrase(pass.expose(), &what);
        drop(opening);
        match opened {
            Ok(archive) => return Ok((env, archive, what)),
            Err(KeystoreError::Backup(e))
                if matches!(*e, BackupError::WrongPassphrase { .. })
                    && pass.origin() == vouch::keystore::Origin::Interactive
                    && attempt + 1 < MAX_ATTEMPTS =>
            {
                errln!("Wrong backup passphrase. Please retry.");
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn read_input(path: &Path) -> CliResult<Vec<u8>> {
    let f = std::fs::File::open(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    f.take(backup::MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    if buf.len() as u64 > backup::MAX_FILE {
        return Err(usage(format!(
            "{} is larger than {} MiB: not a key backup",
            path.display(),
            backup::MAX_FILE >> 20
        )));
    }
    Ok(buf)
}

/// `K-of-N` (also `K/N`).
fn parse_k_of_n(s: &str) -> CliResult<(usize, usize)> {
    let bad = || {
        usage(format!(
            "--shares {s:?}: expected K-of-N with 2 ≤ K ≤ N ≤ 255, e.g. 3-of-5"
        ))
    };
    let (k, n) = s
        .split_once("-of-")
        .or_else(|| s.split_once('/'))
        .ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if !(2..=255).contains(&k) || !(k..=255).contains(&n) {
        return Err(bad());
    }
    Ok((k, n))
}

fn share_path(prefix: &Path, i: usize, n: usize) -> PathBuf {
    PathBuf::from(format!("{}-share-{i}-of-{n}.txt", prefix.display()))
}

/// Create every file (0600, refusing to overwrite), write and fsync; on any failure remove
/// the ones this call created.
fn write_new_files(files: &[(PathBuf, zeroize::Zeroizing<Vec<u8>>)]) -> CliResult {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut created: Vec<&Path> = Vec::new();
    let result = (|| {
        for (path, bytes) in files {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| storage_or_usage("create", path, e))?;
            created.push(path);
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| storage_or_usage("write", path, e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        for p in &created {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

/// A backup file the file system refuses (full, over quota, read-only, not ours) is a
/// local-storage failure (exit 4, with the fix for that cause); a path that cannot be
/// (a missing directory, say) is bad input (exit 2).
fn storage_or_usage(op: &'static str, path: &Path, e: std::io::Error) -> super::CliError {
    use std::io::ErrorKind::*;
    match e.kind() {
        StorageFull | QuotaExceeded | ReadOnlyFilesystem | PermissionDenied => KeystoreError::Io {
            op,
            path: path.to_path_buf(),
            source: e,
        }
        .into(),
        _ => usage(format!("cannot {op} {}: {e}", path.display())),
    }
}

/// The backup passphrase for a new backup: file, environment, or asked twice.
fn new_backup_passphrase(ctx: &Context) -> CliResult<Secret> {
    if let Some(s) = configured_passphrase(ctx, true)? {
        return Ok(s);
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeystoreError::from(BackupError::PassphraseRequired).into());
    }
    errln!(
        "Choose a passphrase for the backup. It is separate from the keys' own passphrases; \
         keep it apart from the backup file."
    );
    for _ in 0..MAX_ATTEMPTS {
        let first = read_tty("Enter passphrase for the new key backup: ")?;
        if first.chars().count() < MIN_NEW_PASSPHRASE_LEN {
            errln!("Passphrase is too short: use at least {MIN_NEW_PASSPHRASE_LEN} characters.");
            continue;
        }
        let second = read_tty("Repeat passphrase for the new key backup: ")?;
        if *first != *second {
            errln!("Passphrases do not match. Please retry.");
            continue;
        }
        return Ok(Secret::with_origin(
            first.as_str(),
            vouch::keystore::Origin::Interactive,
        ));
    }
    Err(usage(format!(
        "no acceptable backup passphrase after {MAX_ATTEMPTS} tries"
    )))
}

/// The passphrase of an existing backup: file, environment, or asked.
fn backup_passphrase(ctx: &Context) -> CliResult<Secret> {
    if let Some(s) = configured_passphrase(ctx, false)? {
        return Ok(s);
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeystoreError::from(BackupError::PassphraseRequired).into());
    }
    let p = read_tty("Enter the backup passphrase: ")?;
    Ok(Secret::with_origin(
        p.as_str(),
        vouch::keystore::Origin::Interactive,
    ))
}

/// `--passphrase-file`, then `VOUCH_BACKUP_PASSPHRASE` (empty counts as unset).
fn configured_passphrase(ctx: &Context, new: bool) -> CliResult<Option<Secret>> {
    if let Some(path) = &ctx.global.passphrase_file {
        let file = PassphraseFile::open(path)?;
        let req = PassphraseRequest {
            key_id: None,
            role: "backup".into(),
            new_key: new,
            attempt: 0,
        };
        if let Some(s) = file.get(&req)? {
            if s.is_empty() {
                return Err(KeystoreError::from(BackupError::BadPassphrase {
                    what: path.display().to_string(),
                    reason: "the backup passphrase is empty".into(),
                })
                .into());
            }
            return Ok(Some(s));
        }
    }
    match std::env::var(backup::PASSPHRASE_ENV) {
        Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
        _ => Ok(None),
    }
}

fn read_tty(prompt: &str) -> CliResult<zeroize::Zeroizing<String>> {
    rpassword::prompt_password(prompt)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| usage(format!("cannot read the passphrase from the terminal: {e}")))
}

fn outcome_word(o: &RestoreOutcome) -> &'static str {
    match o {
        RestoreOutcome::Restored => "restored",
        RestoreOutcome::AlreadyPresent => "already present",
        RestoreOutcome::Conflict { .. } => "conflict",
    }
}

fn root_outcome_word(o: &RootOutcome) -> &'static str {
    match o {
        RootOutcome::Restored => "restored",
        RootOutcome::AlreadyPresent => "already present",
        RootOutcome::KeptExisting => "kept existing",
        RootOutcome::NotRequested => "not restored",
    }
}

fn keys_json(archive: &Archive) -> Vec<serde_json::Value> {
    archive
        .keys
        .iter()
        .map(|k| {
            json!({
                "id": k.id.as_str(),
                "role": k.role,
                "gun": k.gun,
                "algorithm": k.algorithm,
                "encryption": k.encryption,
                "root_of": archive.root_of(&k.id),
            })
        })
        .collect()
}

/// ROLE, GUN, KEY ID (and, for restores, what happened to each key). A root key's GUN
/// column names the repositories whose cached root lists it.
fn keys_table(archive: &Archive, report: Option<&RestoreReport>, planned: bool) -> Table {
    let mut header = vec!["ROLE", "GUN", "KEY ID"];
    if report.is_some() {
        header.push(if planned {
            "IN THIS TRUST DIR"
        } else {
            "RESTORE"
        });
    }
    let mut t = Table::new(&header);
    for (i, k) in archive.keys.iter().enumerate() {
        let gun = match &k.gun {
            Some(g) => g.clone(),
            None => archive.root_of(&k.id).join(","),
        };
        let mut row = vec![k.role.clone(), gun, k.id.to_string()];
        if let Some(r) = report.and_then(|r| r.keys.get(i)) {
            row.push(match &r.outcome {
                RestoreOutcome::Conflict { existing } => {
                    format!("conflict with {}", existing.display())
                }
                RestoreOutcome::Restored if planned => "missing".to_owned(),
                other => outcome_word(other).to_owned(),
            });
        }
        t.row(row);
    }
    t
}
