//! `vouch key …`: the local key store.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use vouch::crypto::private::Algorithm;
use vouch::keystore::session::{self, Session};
use vouch::keystore::{
    ExportFormat, ImportOptions, ImportOutcome, KeyFormat, KeyInfo, KeyStore, KeystoreError,
};
use vouch::tuf::KeyId;

use super::args::{AlgorithmArg, KeyCommand, KeyFormatArg};
use super::output::{print_json, Table};
use super::{prompt, usage, CliError, CliResult, Context};

pub fn run(ctx: &Context, cmd: KeyCommand) -> CliResult {
    let cmd = super::names::key_command_guns(ctx, cmd)?;
    let store = ctx.key_store()?;
    match cmd {
        KeyCommand::Generate {
            role,
            gun,
            algorithm,
            format,
            pkcs11: None,
        } => generate(ctx, &store, &role, gun.as_deref(), algorithm, format),
        KeyCommand::Generate {
            role,
            gun,
            pkcs11: Some(uri),
            ..
        } => token_key(ctx, &store, &uri, &role, gun.as_deref(), true),
        KeyCommand::ImportPkcs11 { uri, role, gun } => {
            token_key(ctx, &store, &uri, &role, gun.as_deref(), false)
        }
        KeyCommand::List => list(ctx, &store),
        KeyCommand::Import {
            files,
            role,
            gun,
            format,
        } => import(ctx, &store, &files, role, gun, format),
        KeyCommand::Export {
            key_id,
            format,
            out,
        } => export(ctx, &store, &key_id, format, out.as_deref()),
        KeyCommand::Passwd {
            key_id,
            format,
            new_passphrase_file,
        } => passwd(ctx, &store, &key_id, format, new_passphrase_file.as_deref()),
        KeyCommand::Remove { key_id, yes } => remove(ctx, &store, &key_id, yes),
        KeyCommand::Rotate {
            gun,
            role,
            key,
            server_managed,
            plan,
            yes,
            key_format,
        } => super::lifecycle::key_rotate(
            ctx,
            &gun,
            &role,
            key.as_deref(),
            server_managed,
            plan,
            yes,
            key_format,
        ),
        KeyCommand::Public { key_id, gun } => public(ctx, &store, &key_id, gun.as_deref()),
        KeyCommand::Backup {
            role,
            gun,
            out,
            shares,
            action,
        } => super::backup::backup(ctx, &store, role, gun, out, shares, action),
        KeyCommand::Restore {
            file,
            shares,
            with_trust_data,
        } => super::backup::restore(ctx, &store, file, shares, with_trust_data),
        KeyCommand::Unlock {
            key_ids,
            gun,
            duration,
            root,
        } => unlock(ctx, &store, &key_ids, &gun, &duration, root),
        KeyCommand::Lock => lock(ctx),
        KeyCommand::Session => session_status(ctx, &store),
    }
}

/// `vouch key unlock`: open (or extend) the session, then open each key once with its
/// passphrase so the session records its key-encryption key. All or nothing: if a key
/// does not open, the session records none of them.
fn unlock(
    ctx: &Context,
    store: &KeyStore,
    ids: &[String],
    guns: &[String],
    duration: &str,
    root: bool,
) -> CliResult {
    let ttl = super::ceremony::parse_duration(duration)?.whole_seconds();
    if ttl <= 0 || ttl as u64 > session::MAX_TTL_SECS {
        return Err(usage(format!(
            "--for {duration}: a session lasts from 1s to 24h, e.g. 15m or 2h"
        )));
    }
    let mut keys: Vec<KeyInfo> = if ids.is_empty() {
        store
            .list()?
            .into_iter()
            .filter(|k| root || k.role != "root")
            .filter(|k| {
                guns.is_empty()
                    || k.role == "root"
                    || k.gun.as_ref().is_some_and(|g| guns.contains(g))
            })
            .collect()
    } else {
        ids.iter()
            .map(|id| store.find(id))
            .collect::<Result<_, _>>()?
    };
    if let Some(g) = guns
        .iter()
        .find(|g| !keys.iter().any(|k| k.gun.as_ref() == Some(*g)))
    {
        return Err(KeystoreError::NotFound {
            id: format!("of {g}"),
            dir: store.private_dir().to_path_buf(),
        }
        .into());
    }
    if let Some(k) = keys.iter().find(|k| k.role == "root" && !root) {
        return Err(usage(format!(
            "{} is a root key: add --root to unlock root keys",
            k.id
        )));
    }
    keys.retain(|k| k.format.is_encrypted());
    let name = session::name_from_env();
    // Nothing is stored unless every key opens.
    let s = Session::prepare(&name, ttl as u64, root).map_err(KeystoreError::from)?;
    let with = store.clone().with_session(Some(s.clone()));
    let pass = prompt::sources(ctx)?;
    for k in &keys {
        with.load(&k.id, &pass)?;
    }
    s.flush().map_err(KeystoreError::from)?;
    let info = s.info();
    if ctx.json() {
        print_json(&json!({
            "session": info.name,
            "expires": unix_rfc3339(info.expires),
            "root": info.root,
            "unlocked": keys.iter().map(|k| json!({"id": k.id.as_str(), "role": k.role, "gun": k.gun})).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    for k in &keys {
        outln!("{}\t{}\t{}", k.id, k.role, k.gun.as_deref().unwrap_or("-"));
    }
    ctx.note(format!(
        "Unlocked {} key{} in session {:?} until {}{}. `vouch key lock` ends it.",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" },
        info.name,
        unix_rfc3339(info.expires),
        if info.root {
            " (root keys allowed)"
        } else {
            ""
        },
    ));
    Ok(())
}

fn lock(ctx: &Context) -> CliResult {
    let name = session::name_from_env();
    let ended = Session::end(&name).map_err(KeystoreError::from)?;
    if ctx.json() {
        print_json(&json!({"session": name, "ended": ended}));
        return Ok(());
    }
    ctx.note(if ended {
        format!("Ended session {name:?}: passphrases are needed again.")
    } else {
        format!("No session {name:?} was open.")
    });
    Ok(())
}

fn session_status(ctx: &Context, store: &KeyStore) -> CliResult {
    let name = session::name_from_env();
    let info = store.session().map(Session::info);
    if ctx.json() {
        print_json(&match &info {
            Some(i) => json!({"session": i.name, "open": true, "expires": unix_rfc3339(i.expires),
                "root": i.root, "key_encryption_keys": i.keks}),
            None => json!({"session": name, "open": false}),
        });
        return Ok(());
    }
    match info {
        Some(i) => outln!(
            "session {:?}: open until {}, {} key-encryption key{} held{}",
            i.name,
            unix_rfc3339(i.expires),
            i.keks,
            if i.keks == 1 { "" } else { "s" },
            if i.root { ", root keys allowed" } else { "" }
        ),
        None => outln!("session {name:?}: not open (`vouch key unlock` opens one)"),
    }
    Ok(())
}

fn unix_rfc3339(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

fn key_format(f: KeyFormatArg) -> KeyFormat {
    match f {
        KeyFormatArg::Vouch => KeyFormat::Vouch,
        KeyFormatArg::Notary => KeyFormat::Notary,
    }
}

fn generate(
    ctx: &Context,
    store: &KeyStore,
    role: &str,
    gun: Option<&str>,
    algorithm: AlgorithmArg,
    format: KeyFormatArg,
) -> CliResult {
    let alg = match algorithm {
        AlgorithmArg::Ecdsa => Algorithm::Ecdsa,
        AlgorithmArg::Ed25519 => Algorithm::Ed25519,
    };
    let pass = prompt::sources(ctx)?;
    let info = store.generate(role, gun, alg, key_format(format), &pass)?;
    if ctx.json() {
        print_json(&key_json(&info));
    } else {
        outln!("{}", info.id);
        ctx.note(format!(
            "Generated {} {} key {} in {}",
            alg.as_str(),
            describe_role(&info),
            info.id,
            info.path.display()
        ));
    }
    Ok(())
}

/// `key generate --pkcs11 URI` (`generate`) and `key import-pkcs11 URI`: a key on a
/// token, recorded in the key store.
fn token_key(
    ctx: &Context,
    store: &KeyStore,
    uri: &str,
    role: &str,
    gun: Option<&str>,
    generate: bool,
) -> CliResult {
    let parsed = vouch::crypto::pkcs11::Pkcs11Uri::parse(uri).map_err(|e| {
        KeystoreError::from(vouch::crypto::pkcs11::TokenError::BadUri {
            uri: uri.to_owned(),
            reason: e.to_string(),
        })
    })?;
    if !parsed.names_object() {
        return Err(usage(format!(
            "{uri} names no key: add object=LABEL (and id=… if labels repeat)"
        )));
    }
    let (_, info) = if generate {
        store.generate_on_token(&parsed, role, gun)?
    } else {
        store.import_token_key(&parsed, role, gun)?
    };
    if ctx.json() {
        print_json(&key_json(&info));
    } else {
        outln!("{}", info.id);
        ctx.note(format!(
            "{} ecdsa {} key {} on the token: {}; recorded in {}",
            if generate { "Generated" } else { "Registered" },
            describe_role(&info),
            info.id,
            location(&info),
            info.path.display()
        ));
    }
    Ok(())
}

/// Where a key is: its file, or its `pkcs11:` URI.
fn location(info: &KeyInfo) -> String {
    match &info.format {
        vouch::keystore::FileFormat::Token { uri } => uri.clone(),
        _ => info.path.display().to_string(),
    }
}

fn describe_role(info: &KeyInfo) -> String {
    match &info.gun {
        Some(g) => format!("{} ({g})", info.role),
        None => info.role.clone(),
    }
}

fn key_json(info: &KeyInfo) -> serde_json::Value {
    json!({
        "id": info.id.as_str(),
        "role": info.role,
        "gun": info.gun,
        "algorithm": info.algorithm,
        "location": location(info),
        "file": info.path,
        "encryption": info.format.to_string(),
        "notary_readable": info.format.notary_readable(),
    })
}

fn list(ctx: &Context, store: &KeyStore) -> CliResult {
    let scan = store.scan()?;
    for s in &scan.skipped {
        ctx.warn(format!("skipped {}: {}", s.path.display(), s.reason));
    }
    let mut keys = scan.keys;
    // notary's order: root keys first, then by GUN, role and ID.
    keys.sort_by(|a, b| {
        (a.role != "root", &a.gun, &a.role, &a.id).cmp(&(b.role != "root", &b.gun, &b.role, &b.id))
    });
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            keys.iter().map(key_json).collect(),
        ));
        return Ok(());
    }
    if keys.is_empty() {
        ctx.note(format!(
            "No signing keys found in {}.",
            store.private_dir().display()
        ));
        return Ok(());
    }
    let mut t = Table::new(&["ROLE", "GUN", "KEY ID", "ALGORITHM", "LOCATION"]);
    for k in &keys {
        t.row(vec![
            k.role.clone(),
            k.gun.clone().unwrap_or_default(),
            k.id.to_string(),
            k.algorithm.clone().unwrap_or_else(|| "?".into()),
            location(k),
        ]);
    }
    out!("{}", t.render());
    Ok(())
}

fn import(
    ctx: &Context,
    store: &KeyStore,
    files: &[std::path::PathBuf],
    role: Option<String>,
    gun: Option<String>,
    format: KeyFormatArg,
) -> CliResult {
    let pass = prompt::sources(ctx)?;
    // Read every input first: a missing file fails before anything is imported.
    let mut inputs = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(file)
            .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
        inputs.push((file, bytes));
    }
    let mut results = Vec::new();
    for (file, bytes) in &inputs {
        let opts = ImportOptions {
            role: role.clone(),
            gun: gun.clone(),
            unencrypted_as: key_format(format),
            overwrite: false,
            source_name: file.file_name().map(|n| n.to_string_lossy().into_owned()),
        };
        let imported = match store.import(bytes, &opts, &pass) {
            Ok(k) => k,
            Err(e) => {
                // All or nothing: take back what the earlier files added.
                for (_, k) in &results {
                    let k: &vouch::keystore::ImportedKey = k;
                    if k.outcome == ImportOutcome::Imported {
                        let _ = store.remove(&k.info.id);
                    }
                }
                return Err(import_error(file, opts.source_name.as_deref(), e));
            }
        };
        results.extend(imported.into_iter().map(|k| ((*file).clone(), k)));
    }
    for (file, k) in &results {
        let what = match k.outcome {
            ImportOutcome::Imported => "imported",
            ImportOutcome::Replaced => "replaced",
            ImportOutcome::AlreadyPresent => "already present, left unchanged",
        };
        ctx.note(format!(
            "{}: {} key {} {what}",
            file.display(),
            describe_role(&k.info),
            k.info.id
        ));
    }
    if ctx.json() {
        print_json(&serde_json::Value::Array(
            results
                .iter()
                .map(|(f, k)| {
                    let mut v = key_json(&k.info);
                    v["source"] = json!(f);
                    v["outcome"] = json!(format!("{:?}", k.outcome).to_lowercase());
                    v
                })
                .collect(),
        ));
    } else {
        for (_, k) in &results {
            outln!("{}", k.info.id);
        }
    }
    Ok(())
}

fn fmt_name(f: KeyFormatArg) -> &'static str {
    match f {
        KeyFormatArg::Vouch => "vouch",
        KeyFormatArg::Notary => "notary",
    }
}

fn export(
    ctx: &Context,
    store: &KeyStore,
    key: &str,
    format: KeyFormatArg,
    out: Option<&Path>,
) -> CliResult {
    let info = find(store, key)?;
    let pass = prompt::sources(ctx)?;
    let fmt = match format {
        KeyFormatArg::Vouch => ExportFormat::Vouch,
        KeyFormatArg::Notary => ExportFormat::Notary,
    };
    let pem = store.export(&info.id, fmt, &pass)?;
    match out {
        Some(path) => {
            write_private_file(path, pem.as_bytes())?;
            ctx.note(format!(
                "Exported {} key {} to {}",
                describe_role(&info),
                info.id,
                path.display()
            ));
            if ctx.json() {
                print_json(
                    &json!({"id": info.id.as_str(), "file": path, "format": fmt_name(format)}),
                );
            }
        }
        None if ctx.json() => {
            // The encrypted PEM, as the command prints it without --output json.
            print_json(
                &json!({"id": info.id.as_str(), "file": null, "format": fmt_name(format), "pem": pem.as_str()}),
            );
        }
        None => {
            if std::io::stdout().is_terminal() {
                ctx.warn(
                    "writing a private key to the terminal; use -o FILE to write it to a file",
                );
            }
            std::io::stdout()
                .write_all(pem.as_bytes())
                .map_err(|e| usage(format!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(())
}

/// A damaged or unsupported *input* file is bad input (exit 2, docs/exit-codes.md), not a
/// key store problem; the library reports it as `Corrupt`/`Unsupported`/`IdMismatch` with
/// the input's name as the path. Everything else (wrong passphrase, a damaged file already
/// in the store, write errors) keeps its own exit code.
fn import_error(file: &Path, source_name: Option<&str>, e: KeystoreError) -> CliError {
    let about_input = match &e {
        KeystoreError::Corrupt { path, .. }
        | KeystoreError::Unsupported { path, .. }
        | KeystoreError::IdMismatch { path, .. } => {
            source_name.is_some_and(|n| path.as_path() == Path::new(n))
        }
        _ => false,
    };
    if about_input {
        usage(format!("cannot import {}: {e}", file.display()))
    } else {
        CliError::from(e).with_context(format!("importing {}", file.display()))
    }
}

/// Create `path` with mode 0600 (refusing to overwrite), write, fsync.
fn write_private_file(path: &Path, bytes: &[u8]) -> CliResult {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            usage(format!(
                "cannot create {}: {e}{}",
                path.display(),
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    " (refusing to overwrite; remove it or choose another name)"
                } else {
                    ""
                }
            ))
        })?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

fn passwd(
    ctx: &Context,
    store: &KeyStore,
    key: &str,
    format: Option<KeyFormatArg>,
    new_file: Option<&Path>,
) -> CliResult {
    let info = find(store, key)?;
    if let vouch::keystore::FileFormat::Token { uri } = &info.format {
        return Err(KeystoreError::OnToken {
            id: info.id.to_string(),
            uri: uri.clone(),
            reason: "it has no passphrase; the token's PIN protects it (change it with the token's own tool)".into(),
        }
        .into());
    }
    if new_file.is_none() && !std::io::stdin().is_terminal() {
        return Err(usage(
            "key passwd needs the new passphrase: pass --new-passphrase-file FILE, or run it in a terminal to be prompted (environment variables only supply the current passphrase)",
        ));
    }
    let old = prompt::sources(ctx)?;
    let new = prompt::new_passphrase_sources(new_file)?;
    let updated = store.change_passphrase(&info.id, &old, &new, format.map(key_format))?;
    ctx.note(format!(
        "Changed the passphrase of {} key {} ({})",
        describe_role(&updated),
        updated.id,
        updated.format
    ));
    if ctx.json() {
        print_json(
            &json!({"id": updated.id.as_str(), "changed": true, "encryption": updated.format.to_string()}),
        );
    }
    Ok(())
}

fn remove(ctx: &Context, store: &KeyStore, key: &str, yes: bool) -> CliResult {
    // A damaged key file can be removed too (the error for it says to do so).
    let (id, what, path) = match lookup(store, key)? {
        Found::Key(info) => (info.id.clone(), describe_role(&info), info.path),
        Found::Damaged(id, path, e) => {
            ctx.warn(e.to_string());
            (id, "damaged".to_owned(), path)
        }
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "refusing to delete {what} key {id} without confirmation; pass --yes"
            )));
        }
        errout!(
            "Delete {what} key {id} ({})? A deleted key cannot be recovered unless it is backed up. Type 'yes' to continue: ",
            path.display()
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| usage(format!("cannot read the answer: {e}")))?;
        if answer.trim() != "yes" {
            return Err(usage("not deleted"));
        }
    }
    let removed = store.remove(&id)?;
    for p in &removed {
        ctx.note(format!("Deleted {}", p.display()));
    }
    if ctx.json() {
        print_json(&json!({ "id": id.as_str(), "removed": removed }));
    }
    Ok(())
}

/// What a key ID (prefix) names: a readable key, or a key file that is in the store but
/// cannot be read (its error says why).
enum Found {
    Key(KeyInfo),
    Damaged(KeyId, PathBuf, KeystoreError),
}

/// `KeyStore::find`, except that a key whose file is in the store but cannot be read is
/// reported as corrupt or unsupported (exit 4 with the reason) rather than "not found":
/// `find` only sees the keys that `scan` could describe.
fn lookup(store: &KeyStore, prefix: &str) -> CliResult<Found> {
    let not_found = match store.find(prefix) {
        Ok(info) => return Ok(Found::Key(info)),
        Err(e @ KeystoreError::NotFound { .. }) => e,
        Err(e) => return Err(e.into()),
    };
    let prefix = prefix.to_ascii_lowercase();
    let mut damaged: Vec<(KeyId, PathBuf)> = store
        .scan()
        .map(|s| s.skipped)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let stem = s.path.file_stem()?.to_str()?;
            let id = KeyId::parse(stem.split('_').next()?).ok()?;
            Some((id, s.path.clone()))
        })
        .filter(|(id, _)| id.as_str().starts_with(&prefix))
        .collect();
    damaged.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    damaged.dedup_by(|later, first| later.0 == first.0);
    match damaged.as_slice() {
        [(id, path)] => match store.info(id) {
            Err(e) => Ok(Found::Damaged(id.clone(), path.clone(), e)),
            Ok(info) => Ok(Found::Key(info)),
        },
        _ => Err(not_found.into()),
    }
}

/// The readable key a key ID (prefix) names.
fn find(store: &KeyStore, prefix: &str) -> CliResult<KeyInfo> {
    match lookup(store, prefix)? {
        Found::Key(info) => Ok(info),
        Found::Damaged(_, _, e) => Err(e.into()),
    }
}

fn public(ctx: &Context, store: &KeyStore, key: &str, gun: Option<&str>) -> CliResult {
    let info = find(store, key)?;
    if let Some(gun) = gun {
        if info.role != "root" {
            return Err(usage(format!(
                "--gun issues a root certificate, but key {} is a {} key",
                info.id, info.role
            )));
        }
        vouch::keystore::role::validate_gun(gun)?;
        let pass = prompt::sources(ctx)?;
        let (key, _) = store.load(&info.id, &pass)?;
        let signing = key.ecdsa_signing_key().ok_or_else(|| {
            usage(format!(
                "root certificates need an ECDSA P-256 key; key {} is {}",
                info.id,
                key.algorithm().as_str()
            ))
        })?;
        let cert =
            vouch::crypto::x509::root_certificate(signing, gun, time::OffsetDateTime::now_utc())?;
        print_or_json(ctx, &info, &cert, Some(gun));
        return Ok(());
    }
    // Encrypted key files hold the public key inside the encryption: unlock to read it.
    let pass = prompt::sources(ctx)?;
    let (key, _) = store.load(&info.id, &pass)?;
    let pem = public_key_pem(&key.public_key(), &info.role)?;
    print_or_json(ctx, &info, &pem, None);
    Ok(())
}

/// A `PUBLIC KEY` PEM (DER SubjectPublicKeyInfo) with a `role:` header, as
/// `docker trust key generate` writes `NAME.pub` and `notary delegation add` reads.
fn public_key_pem(key: &vouch::tuf::PublicKey, role: &str) -> CliResult<String> {
    use vouch::keystore::pemblock::PemBlock;
    let der = match key.keytype.as_str() {
        "ecdsa" | "rsa" => key.public.clone(),
        "ed25519" => {
            // RFC 8410 SubjectPublicKeyInfo: SEQ { SEQ { OID 1.3.101.112 }, BIT STRING }
            let mut d = vec![
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            d.extend_from_slice(&key.public);
            d
        }
        other => {
            return Err(usage(format!(
                "cannot write a public key PEM for key type {other}"
            )))
        }
    };
    let mut block = PemBlock::new("PUBLIC KEY", zeroize::Zeroizing::new(der));
    if !role.is_empty() {
        block.headers.insert("role".into(), role.into());
    }
    let text = block
        .encode()
        .map_err(|e| usage(format!("cannot encode the public key: {e}")))?;
    Ok(text.to_string())
}

fn print_or_json(ctx: &Context, info: &KeyInfo, pem: &str, gun: Option<&str>) {
    if ctx.json() {
        print_json(&json!({ "id": info.id.as_str(), "role": info.role, "gun": gun, "pem": pem }));
    } else {
        out!("{pem}");
    }
}
