//! Registry look-ups for the commands: the digest and size `sign` signs, and the
//! `verify --check-registry` comparison.

use vouch::reference::{is_valid_tag, Reference};
use vouch::remote::config::{self, RemoteConfig};
use vouch::remote::registry::{
    is_loopback, normalize_registry_host, Registry, RegistryError, RegistryOptions,
};
use vouch::remote::{certs_d, CredentialLookup, TlsOptions};
use vouch::trust::view::TargetEntry;

use super::{usage, CliError, CliResult, Context};

/// The registry of an image reference, with the settings of the config file
/// (`registries`), `--insecure-registry` and `--tls-ca-cert` (added to the system roots when
/// the config file names no CA for the registry).
pub fn open(ctx: &Context, host: &str) -> CliResult<Registry> {
    let cfg = match &ctx.global.config {
        Some(p) => RemoteConfig::load(p)?,
        None => RemoteConfig::load_optional(&ctx.trust_dir.join(config::CONFIG_FILE))?,
    };
    let mut insecure = false;
    for h in &ctx.global.insecure_registries {
        let n = normalize_registry_host(h)
            .ok_or_else(|| usage(format!("--insecure-registry {h:?}: expected HOST[:PORT]")))?;
        insecure |= n == host;
    }
    let entry = cfg.registry(host).cloned().unwrap_or_default();
    insecure |= entry.insecure;
    // Docker's certs.d for this registry adds its CAs, and gives the client certificate
    // when the config file names none.
    let certs = certs_d::find(&certs_d::search_roots(), host)?.unwrap_or_default();
    let mut tls = TlsOptions {
        ca_cert: entry.root_ca.or_else(|| ctx.global.tls_ca_cert.clone()),
        client_cert: entry.tls_client_cert,
        client_key: entry.tls_client_key,
        insecure_skip_verify: false,
        extra_ca_certs: Vec::new(),
    };
    certs.fill_client(&mut tls);
    tls.extra_ca_certs = certs.cas;
    let opts = RegistryOptions {
        tls,
        // `admission serve` sets its own; else --timeout / VOUCH_TIMEOUT / config, as for
        // notary servers.
        timeouts: match ctx.remote_timeouts {
            Some(t) => t,
            None => ctx.timeouts()?.0,
        },
        credentials: CredentialLookup::from_env(),
        insecure,
        trace: ctx.request_trace(),
    };
    Ok(Registry::new(host, &opts)?)
}

/// Says so when a non-loopback registry was reached over plain HTTP (it was listed insecure).
fn note_transport(ctx: &Context, reg: &Registry) {
    if let Some(url) = reg.endpoint_url() {
        if url.starts_with("http://") && !is_loopback(reg.host()) {
            ctx.note(format!(
                "{} reached over plain HTTP ({url}): it is listed as insecure",
                reg.describe()
            ));
        }
    }
}

/// The digest and size to sign for `r` (which has a tag).
///
/// - no digest given: both from the registry (the tag's manifest now);
/// - `IMAGE:TAG@sha256:…`: that digest; its size from the registry (fetched by digest);
/// - `--digest D`: D, if the registry serves D for the tag; when the registry cannot be
///   asked (unreachable, TLS or auth failure, not a registry), D with `--size` and a
///   warning saying why;
/// - `--no-registry-check`: the digest and `--size` as given, no registry contact.
pub fn digest_and_size(
    ctx: &Context,
    r: &Reference,
    digest_flag: Option<&str>,
    size: Option<u64>,
    no_check: bool,
) -> CliResult<(String, u64)> {
    let tag = r.tag.as_deref().unwrap_or_default();
    let image = format!("{}:{tag}", r.gun());
    if let (Some(a), Some(b)) = (r.digest.as_deref(), digest_flag) {
        if !a.eq_ignore_ascii_case(b) {
            return Err(usage(format!(
                "{image}: the reference names {a} but --digest is {b}"
            )));
        }
    }
    let Some(given) = r.digest.as_deref().or(digest_flag) else {
        if size.is_some() {
            return Err(usage(format!(
                "{image}: --size needs a digest (--digest sha256:HEX); without either, both come from the registry"
            )));
        }
        if no_check {
            return Err(usage(format!(
                "{image}: --no-registry-check needs the digest and size (--digest sha256:HEX --size N, or {image}=sha256:HEX:SIZE)"
            )));
        }
        let reg = open(ctx, &r.registry)?;
        let m = reg.resolve_tag(&r.repository, tag)?;
        note_transport(ctx, &reg);
        ctx.note(format!(
            "{image}: {} serves {} ({} bytes, {}{})",
            reg.describe(),
            m.digest,
            m.size,
            m.media_type,
            if m.is_index() { ", multi-arch" } else { "" }
        ));
        return Ok((m.digest, m.size));
    };
    let given = given.to_ascii_lowercase();
    if no_check {
        let n = size.ok_or_else(|| {
            usage(format!(
                "{image}: --no-registry-check needs --size N too (without the registry the manifest's size is unknown)"
            ))
        })?;
        return Ok((given, n));
    }
    // A malformed digest is bad input before anything is asked of the registry.
    let hex_ok = given
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !hex_ok {
        return Err(usage(format!(
            "digest {given:?} must look like sha256:<64 hex characters>"
        )));
    }
    let reg = open(ctx, &r.registry)?;
    let by_digest = r.digest.is_some();
    let found = if by_digest {
        reg.fetch_digest(&r.repository, &given)
    } else {
        reg.resolve_tag(&r.repository, tag)
    };
    match found {
        Ok(m) => {
            note_transport(ctx, &reg);
            if m.digest != given {
                return Err(RegistryError::Disagrees {
                    image,
                    registry: reg.host().to_owned(),
                    given: format!("--digest {given}"),
                    served: format!("{} ({} bytes)", m.digest, m.size),
                }
                .into());
            }
            if let Some(n) = size.filter(|n| *n != m.size) {
                return Err(RegistryError::Disagrees {
                    image,
                    registry: reg.host().to_owned(),
                    given: format!("--size {n}"),
                    served: format!("{} bytes ({})", m.size, m.digest),
                }
                .into());
            }
            if !by_digest {
                ctx.note(format!(
                    "{image}: {} serves the same digest for the tag",
                    reg.describe()
                ));
            }
            Ok((given, m.size))
        }
        Err(e) if e.is_unavailable() => match size {
            Some(n) => {
                ctx.warn(format!(
                    "{e}; signing {given} ({n} bytes) without the registry's confirmation"
                ));
                Ok((given, n))
            }
            None => Err(CliError::from(e).with_context(format!(
                "{image}: the manifest size is unknown (give --size N, or fix access to the registry)"
            ))),
        },
        Err(e) => Err(e.into()),
    }
}

/// `verify --check-registry`: the registry must serve `signed` for the tag now.
pub fn check_tag(ctx: &Context, r: &Reference, tag: &str, signed: &str) -> CliResult {
    let reg = open(ctx, &r.registry)?;
    let m = reg.resolve_tag(&r.repository, tag)?;
    note_transport(ctx, &reg);
    if !m.digest.eq_ignore_ascii_case(signed) {
        return Err(RegistryError::TagMoved {
            image: format!("{}:{tag}", r.gun()),
            registry: reg.host().to_owned(),
            signed: signed.to_owned(),
            served: m.digest,
        }
        .into());
    }
    if ctx.global.verbose > 0 {
        ctx.note(format!(
            "{}: {} serves the signed digest {signed} for the tag",
            r.gun(),
            reg.describe()
        ));
    }
    Ok(())
}

/// What the registry serves now for a signed target (`list --check-registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// The signed digest.
    Signed,
    /// Another digest.
    Moved(String),
    /// No manifest for the tag.
    Missing,
    /// The target is not an image tag (a name outside Docker's tag grammar, or no sha256
    /// signed).
    NotATag,
    /// A file target (`sign-file`, `notary add`: signed with sha512 besides sha256, which
    /// image tags never are): the registry is not asked, and registry sync never removes it.
    File,
}

impl Served {
    pub fn label(&self) -> String {
        match self {
            Served::Signed => "ok".into(),
            Served::Moved(d) => format!("moved: {d}"),
            Served::Missing => "missing".into(),
            Served::NotATag => "-".into(),
            Served::File => "file".into(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        match self {
            Served::Signed => serde_json::json!({"status": "ok"}),
            Served::Moved(d) => serde_json::json!({"status": "moved", "served": d}),
            Served::Missing => serde_json::json!({"status": "missing"}),
            Served::NotATag => serde_json::json!({"status": "not-a-tag"}),
            Served::File => serde_json::json!({"status": "file"}),
        }
    }
}

/// For each signed target of repository `gun`, what its registry serves for the tag of
/// that name now. A registry that cannot be asked fails the whole check.
pub fn served_tags(
    ctx: &Context,
    gun: &str,
    targets: &[TargetEntry],
) -> CliResult<(String, Vec<Served>)> {
    let r = Reference::parse(gun).map_err(|e| usage(e.to_string()))?;
    let reg = open(ctx, &r.registry)?;
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        // Image tags are signed by their manifest's sha256 alone (docker trust, `vouch
        // sign`, `notary addhash --sha256`); files carry sha512 as well. A target that
        // carries it is a file, whatever its name looks like: never taken for a tag.
        if t.meta.hashes.get("sha512").is_some() {
            out.push(Served::File);
            continue;
        }
        let Some(signed) = t.sha256_hex().filter(|_| is_valid_tag(&t.name)) else {
            out.push(Served::NotATag);
            continue;
        };
        out.push(match reg.resolve_tag(&r.repository, &t.name) {
            Ok(m) if m.digest.eq_ignore_ascii_case(&format!("sha256:{signed}")) => Served::Signed,
            Ok(m) => Served::Moved(m.digest),
            Err(RegistryError::ManifestUnknown { .. }) => Served::Missing,
            Err(e) => return Err(e.into()),
        });
    }
    note_transport(ctx, &reg);
    Ok((reg.host().to_owned(), out))
}
