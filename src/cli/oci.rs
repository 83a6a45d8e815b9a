//! OCI signatures from the repository's keys: `sign --oci`, `verify --format
//! cosign|notation|any`, `migrate oci`, `oci export-trust`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use time::OffsetDateTime;
use vouch::crypto::private::PrivateKey;
use vouch::oci::{self, Format, Published, Signer, Subject};
use vouch::reference::Reference;
use vouch::remote::registry::{Registry, RegistryError};
use vouch::remote::{Access, Gun};
use vouch::trust::state::RepoState;
use vouch::tuf::roles::BaseRole;
use vouch::tuf::KeyId;

use super::args::{MigrateCommand, OciCommand, TrustArgs};
use super::output::{print_json, Table};
use super::{usage, CliResult, Context};

/// The formats `sign` publishes: `--oci` (`none` for none), else `oci_signatures` in
/// the config file, else none.
pub(super) fn sign_formats(ctx: &Context, flag: Option<&str>) -> CliResult<Vec<Format>> {
    match flag {
        Some(f) if f.trim().eq_ignore_ascii_case("none") => Ok(Vec::new()),
        Some(f) => Format::parse_list(f).map_err(|e| usage(format!("--oci: {e}"))),
        None => {
            let cfg = ctx.remote_config()?;
            Ok(Format::parse_list(&cfg.oci_signatures.join(",")).unwrap_or_default())
        }
    }
}

/// An image repository: the registry and the path in it.
pub(super) struct Repo {
    pub reg: Registry,
    pub registry: String,
    pub repository: String,
}

pub(super) fn open_repo(ctx: &Context, gun: &Gun) -> CliResult<Repo> {
    let r = Reference::parse(gun.as_str()).map_err(|e| {
        usage(format!(
            "{gun} is not an image repository (REGISTRY/PATH), so it has no OCI signatures: {e}"
        ))
    })?;
    Ok(Repo {
        reg: super::registry::open(ctx, &r.registry)?,
        registry: r.registry,
        repository: r.repository,
    })
}

impl Repo {
    /// The manifest `digest` as the registry serves it (it must).
    fn subject(&self, digest: &str) -> CliResult<Subject> {
        let m = self.reg.fetch_digest(&self.repository, digest)?;
        Ok(self.subject_of(m))
    }

    fn subject_of(&self, m: vouch::remote::registry::Manifest) -> Subject {
        Subject {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            digest: m.digest,
            size: m.size,
            media_type: m.media_type,
        }
    }
}

/// The keys and threshold of `role` in a verified state.
fn base_role(state: &RepoState, role: &str) -> CliResult<BaseRole> {
    let gun = state.gun().as_str();
    if role == "targets" {
        return Ok(state.root().role().base_role("targets").map_err(|e| {
            vouch::trust::TrustError::Verification {
                gun: gun.to_owned(),
                role: "root".into(),
                reason: e.to_string(),
            }
        })?);
    }
    let parent = role.rsplit_once('/').map(|(p, _)| p).unwrap_or("targets");
    let t = state.targets().get(parent).ok_or_else(|| {
        usage(format!(
            "{gun} has no role {role} (its parent {parent} is not in the repository)"
        ))
    })?;
    t.role()
        .delegation_role(role)
        .map_err(|_| usage(format!("{gun} has no delegation {role}")))
}

/// The private key of `role` here that makes OCI signatures (ECDSA P-256), with its
/// listed ID and public key.
fn role_signer(
    session: &super::Session,
    state: &RepoState,
    role: &str,
) -> CliResult<(KeyId, PrivateKey, vouch::tuf::keys::PublicKey)> {
    let gun = state.gun().to_string();
    let base = base_role(state, role)?;
    let signers = vouch::trust::publish::load_signers(&session.env(), &gun, &base)?;
    let mut first_err = None;
    for (id, pk) in signers {
        let Some(public) = base.keys.get(id.as_str()).cloned() else {
            continue;
        };
        match Signer::new(role, id.clone(), &public, &pk) {
            Ok(_) => return Ok((id, pk, public)),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(match first_err {
        Some(e) => e.into(),
        None => usage(format!(
            "no key of {gun}'s {role} role is in this key store"
        )),
    })
}

fn certificate_dir(ctx: &Context, gun: &Gun) -> std::path::PathBuf {
    ctx.trust_dir
        .join("oci")
        .join(gun.as_str())
        .join("notation")
}

fn status_of(p: &Published) -> serde_json::Value {
    match p {
        Published::Pushed { manifest } => json!({"status": "pushed", "manifest": manifest}),
        Published::Exists => json!({"status": "exists"}),
    }
}

/// Publishes `formats` for each `(tag, digest)` of `gun`, signed with `role`'s key.
/// Returns, per tag, what each format did.
pub(super) fn publish_for_tags(
    ctx: &Context,
    gun: &Gun,
    role: &str,
    items: &[(String, String)],
    formats: &[Format],
) -> CliResult<BTreeMap<String, serde_json::Value>> {
    let mut out = BTreeMap::new();
    if formats.is_empty() || items.is_empty() {
        return Ok(out);
    }
    let repo = open_repo(ctx, gun)?;
    let session = ctx.session(gun, Access::Pull)?;
    let state = session.fetch_state()?;
    let (id, pk, public) = role_signer(&session, &state, role)?;
    let signer = Signer::new(role, id, &public, &pk)?;
    let now = OffsetDateTime::now_utc();
    for (tag, digest) in items {
        let subject = repo.subject(digest)?;
        let mut m = serde_json::Map::new();
        for f in formats {
            let p = publish_one(ctx, gun, &repo, &subject, &signer, *f, now)?;
            let what = match &p {
                Published::Pushed { .. } => "published",
                Published::Exists => "already there",
            };
            ctx.note(format!(
                "{gun}:{tag}: {f} signature {what} ({})",
                subject.pinned()
            ));
            m.insert(f.as_str().to_owned(), status_of(&p));
        }
        out.insert(tag.clone(), serde_json::Value::Object(m));
    }
    Ok(out)
}

fn publish_one(
    ctx: &Context,
    gun: &Gun,
    repo: &Repo,
    subject: &Subject,
    signer: &Signer<'_>,
    format: Format,
    now: OffsetDateTime,
) -> CliResult<Published> {
    Ok(match format {
        Format::Cosign => oci::cosign::publish(&repo.reg, subject, signer)?,
        Format::Notation => {
            let cert =
                oci::notation::certificate(&certificate_dir(ctx, gun), signer, gun.as_str(), now)?;
            oci::notation::publish(&repo.reg, subject, signer, &cert, now)?
        }
    })
}

/// `vouch verify IMAGE:TAG --format cosign|notation`: the tag's (or the reference's)
/// digest as the registry serves it, and a signature of it by a key of a role that may
/// sign the tag in the verified metadata.
pub(super) fn verify(
    ctx: &Context,
    image: &str,
    trust: &TrustArgs,
    digest: Option<&str>,
    format: Format,
) -> CliResult {
    let r = Reference::parse(image).map_err(|e| usage(e.to_string()))?;
    let tag = r
        .tag
        .clone()
        .ok_or_else(|| usage(format!("{image}: name the tag to verify (IMAGE:TAG)")))?;
    let gun = Gun::parse(&r.gun())?;
    let state = super::state::load_state(ctx, &gun, trust)?;
    let keys = oci::trusted_keys(&state, Some(&tag));
    let repo = open_repo(ctx, &gun)?;
    let manifest = match r.digest.as_deref() {
        Some(d) => repo.reg.fetch_digest(&repo.repository, d)?,
        None => repo.reg.resolve_tag(&repo.repository, &tag)?,
    };
    if let Some(d) = digest {
        if !d.eq_ignore_ascii_case(&manifest.digest) {
            return Err(RegistryError::Disagrees {
                image: format!("{}:{tag}", repo.repository),
                registry: repo.registry.clone(),
                given: d.to_owned(),
                served: manifest.digest,
            }
            .into());
        }
    }
    let subject = repo.subject_of(manifest);
    let v = match format {
        Format::Cosign => oci::cosign::verify(&repo.reg, &subject, gun.as_str(), &keys)?,
        Format::Notation => oci::notation::verify(
            &repo.reg,
            &subject,
            gun.as_str(),
            &keys,
            OffsetDateTime::now_utc(),
        )?,
    };
    let name = image.split('@').next().unwrap_or(image);
    let name = name.strip_suffix(&format!(":{tag}")).unwrap_or(name);
    let pinned = format!("{name}@{}", subject.digest);
    if ctx.json() {
        print_json(&json!({
            "trusted": true,
            "reference": pinned,
            "gun": gun.as_str(),
            "tag": tag,
            "digest": subject.digest,
            "size": subject.size,
            "format": v.format.as_str(),
            "role": v.role,
            "signed_by": [v.key_id.to_string()],
            "signature_manifest": v.manifest,
            "anchored_by": state.anchored_by().as_str(),
        }));
    } else {
        outln!("{pinned}");
    }
    Ok(())
}

pub(super) fn migrate(ctx: &Context, cmd: MigrateCommand) -> CliResult {
    match cmd {
        MigrateCommand::Oci {
            gun,
            dry_run,
            formats,
        } => migrate_oci(ctx, &gun, dry_run, &formats),
    }
}

pub(super) fn oci_cmd(ctx: &Context, cmd: OciCommand) -> CliResult {
    match cmd {
        OciCommand::ExportTrust { gun, out, trust } => export_trust(ctx, &gun, &out, &trust),
    }
}

/// One tag's row in the migration summary.
struct Row {
    tag: String,
    digest: String,
    role: String,
    cells: BTreeMap<Format, String>,
    note: String,
}

fn migrate_oci(ctx: &Context, gun: &str, dry_run: bool, formats: &str) -> CliResult {
    let formats = Format::parse_list(formats).map_err(|e| usage(format!("--formats: {e}")))?;
    if formats.is_empty() {
        return Err(usage(
            "--formats names no format: give cosign, notation or both",
        ));
    }
    let gun = ctx.gun(gun)?;
    let repo = open_repo(ctx, &gun)?;
    let session = ctx.session(&gun, Access::Pull)?;
    let state = session.fetch_state()?;
    let now = OffsetDateTime::now_utc();
    let entries: Vec<_> = vouch::trust::view::all_targets(&state)
        .into_iter()
        .filter(|e| vouch::reference::is_valid_tag(&e.name))
        .collect();
    // One signer per role, loaded when first needed (never for --dry-run).
    let mut signers: BTreeMap<String, (KeyId, PrivateKey, vouch::tuf::keys::PublicKey)> =
        BTreeMap::new();
    let mut rows = Vec::new();
    let (mut published, mut skipped) = (0usize, 0usize);
    for e in entries {
        let signed = format!("sha256:{}", e.sha256_hex().unwrap_or_default());
        let mut row = Row {
            tag: e.name.clone(),
            digest: signed.clone(),
            role: e.role.clone(),
            cells: BTreeMap::new(),
            note: String::new(),
        };
        let served = match repo.reg.resolve_tag(&repo.repository, &e.name) {
            Ok(m) => m,
            Err(RegistryError::ManifestUnknown { .. }) => {
                row.note = "skipped: the registry no longer has the tag".into();
                skipped += 1;
                rows.push(row);
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        if served.digest != signed {
            row.note = format!(
                "skipped: the tag moved (the registry serves {})",
                served.digest
            );
            skipped += 1;
            rows.push(row);
            continue;
        }
        let subject = repo.subject_of(served);
        let keys: Vec<_> = oci::trusted_keys(&state, Some(&e.name))
            .into_iter()
            .filter(|k| k.role == e.role)
            .collect();
        for f in &formats {
            let cell = if dry_run {
                let exists = match f {
                    Format::Cosign => {
                        oci::cosign::verify(&repo.reg, &subject, gun.as_str(), &keys).is_ok()
                    }
                    Format::Notation => {
                        oci::notation::verify(&repo.reg, &subject, gun.as_str(), &keys, now).is_ok()
                    }
                };
                if exists { "exists" } else { "would publish" }.to_owned()
            } else {
                if !signers.contains_key(&e.role) {
                    let s = role_signer(&session, &state, &e.role)?;
                    signers.insert(e.role.clone(), s);
                }
                let (id, pk, public) = &signers[&e.role];
                let signer = Signer::new(&e.role, id.clone(), public, pk)?;
                match publish_one(ctx, &gun, &repo, &subject, &signer, *f, now)? {
                    Published::Pushed { .. } => {
                        published += 1;
                        "published".to_owned()
                    }
                    Published::Exists => "exists".to_owned(),
                }
            };
            row.cells.insert(*f, cell);
        }
        rows.push(row);
    }
    if ctx.json() {
        print_json(&json!({
            "gun": gun.as_str(),
            "dry_run": dry_run,
            // `published` is a boolean everywhere in the schema; the counts say how many.
            "published": published > 0,
            "signatures_published": published,
            "tags_skipped": skipped,
            "tags": rows.iter().map(|r| json!({
                "tag": r.tag,
                "digest": r.digest,
                "role": r.role,
                "formats": r.cells.iter().map(|(f, c)| (f.as_str().to_owned(), json!(c))).collect::<serde_json::Map<_, _>>(),
                "note": r.note,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let mut header = vec!["TAG", "DIGEST", "ROLE"];
        header.extend(formats.iter().map(|f| match f {
            Format::Cosign => "COSIGN",
            Format::Notation => "NOTATION",
        }));
        header.push("NOTE");
        let mut t = Table::new(&header);
        for r in &rows {
            let mut cells = vec![r.tag.clone(), r.digest.clone(), r.role.clone()];
            for f in &formats {
                cells.push(r.cells.get(f).cloned().unwrap_or_else(|| "-".into()));
            }
            cells.push(r.note.clone());
            t.row(cells);
        }
        out!("{}", t.render());
    }
    if skipped > 0 {
        ctx.warn(format!(
            "{skipped} tag(s) of {gun} skipped: the registry does not serve them as signed. Check them with `vouch list {gun} --check-registry`"
        ));
    }
    Ok(())
}

fn export_trust(ctx: &Context, gun: &str, out: &Path, trust: &TrustArgs) -> CliResult {
    let gun = ctx.gun(gun)?;
    let r = Reference::parse(gun.as_str()).map_err(|e| {
        usage(format!(
            "{gun} is not an image repository (REGISTRY/PATH): {e}"
        ))
    })?;
    let scope = format!("{}/{}", r.registry, r.repository);
    let state = super::state::load_state(ctx, &gun, trust)?;
    let dir = certificate_dir(ctx, &gun);
    let mut keys = Vec::new();
    let base = base_role(&state, "targets")?;
    let mut roles = vec![base];
    for t in state.targets().values() {
        for d in &t.role().delegations.roles {
            if let Ok(b) = t.role().delegation_role(&d.name) {
                roles.push(b);
            }
        }
    }
    for role in roles {
        for (id, public) in &role.keys {
            let spki = match public.keytype.as_str() {
                "ecdsa" => public.public.clone(),
                "ecdsa-x509" => match vouch::crypto::x509::key_certificate(&public.public) {
                    Ok(c) => c.spki_der,
                    Err(_) => continue,
                },
                _ => continue,
            };
            let Ok(key_id) = KeyId::parse(id) else {
                continue;
            };
            let certificate =
                oci::notation::read_certificate(&oci::notation::certificate_path(&dir, &key_id))?;
            if keys
                .iter()
                .any(|k: &oci::export::ExportKey| k.spki_der == spki)
            {
                continue;
            }
            keys.push(oci::export::ExportKey {
                role: role.name.clone(),
                key_id,
                spki_der: spki,
                certificate,
            });
        }
    }
    let written = oci::export::export(out, gun.as_str(), &scope, &keys)?;
    if !keys.iter().any(|k| k.certificate.is_some()) {
        ctx.warn(format!(
            "no notation certificate is kept here for {gun}'s keys: publish a notation signature from this trust dir first (`vouch sign IMAGE:TAG --oci notation`); wrote the cosign key only"
        ));
    }
    if ctx.json() {
        print_json(&json!({"gun": gun.as_str(), "files": written}));
    } else {
        for w in &written {
            outln!("{}", w.display());
        }
    }
    Ok(())
}
