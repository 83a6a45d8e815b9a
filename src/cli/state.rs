//! A repository's verified state as the reading commands load it (verify, list, inspect,
//! pin-manifests, the OCI commands), and what is said about how it was trusted.

use vouch::clock::SystemClock;
use vouch::remote::{Access, Gun};
use vouch::trust::pin::Pin;
use vouch::trust::state::{LoadPolicy, RepoState, Source};
use vouch::trust::verdict;
use vouch::trust::LocalRepo;

use super::args::TrustArgs;
use super::{CliResult, Context};

/// Load the verified state of `gun`, anchored as the global trust options say (online,
/// or from the cache alone with --offline); the cache keeps what was downloaded.
///
/// With `--cache-fallback` (always for `list` and `inspect`), a server that cannot be
/// reached is replaced by the verified cache, anchored as usual, with a warning naming the
/// cache's age. An error about a repository this machine does not know names the ones it
/// does ("did you mean …").
pub fn load_state(ctx: &Context, gun: &Gun, trust: &TrustArgs) -> CliResult<RepoState> {
    load_state_inner(ctx, gun, trust).map_err(|e| ctx.read_error(gun, e))
}

fn load_state_inner(ctx: &Context, gun: &Gun, trust: &TrustArgs) -> CliResult<RepoState> {
    let local = LocalRepo::new(&ctx.trust_dir, gun);
    let anchoring = ctx.trust_policy(gun)?;
    let policy = LoadPolicy {
        clock: &SystemClock,
        check_expiry: true,
        trust: &anchoring,
    };
    if trust.offline {
        ctx.trace(
            1,
            format!("{gun}: reading the local cache only (--offline)"),
        );
        let state = verdict::load(None, &local, policy)?;
        announce(ctx, &state, None);
        return Ok(state);
    }
    let online = ctx.remote(Some(gun), Access::Pull).and_then(|remote| {
        let state = verdict::load(Some(remote.as_ref()), &local, policy)?;
        announce(ctx, &state, Some(remote.as_ref()));
        Ok(state)
    });
    match online {
        Err(e) if trust.cache_fallback && e.exit_code() == vouch::ExitCode::Remote => {
            let Ok(state) = verdict::load(None, &local, policy) else {
                // Nothing verified to fall back on: the server's error is the answer.
                return Err(e);
            };
            ctx.warn(format!(
                "the server could not be reached ({}); showing the verified cache of {gun}{}",
                e.message(),
                cache_age(&local)
                    .map(|a| format!(", last updated from the server {a} ago"))
                    .unwrap_or_default()
            ));
            announce(ctx, &state, None);
            Ok(state)
        }
        other => other,
    }
}

/// How long ago the cache of `local` was last written: the newest metadata file.
fn cache_age(local: &LocalRepo) -> Option<String> {
    let newest = std::fs::read_dir(local.metadata_dir())
        .ok()?
        .flatten()
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max()?;
    let secs = newest.elapsed().unwrap_or_default().as_secs();
    Some(match secs {
        s if s < 120 => format!("{s} seconds"),
        s if s < 2 * 3600 => format!("{} minutes", s / 60),
        s if s < 2 * 86400 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86400),
    })
}

/// Say on stderr what the user must know about how a state was trusted: trust on first
/// use (loudly), a pin that is behind, skipped delegations. With -v: where it was read
/// from, how its root was anchored, and each role's version.
pub fn announce(ctx: &Context, state: &RepoState, remote: Option<&dyn vouch::remote::Remote>) {
    let gun = &state.gun();
    if ctx.global.verbose > 0 {
        let mut roles = vec![format!("root v{}", state.root().role().version)];
        for (name, t) in state.targets() {
            roles.push(format!("{name} v{}", t.role().version));
        }
        if let Some(s) = state.snapshot() {
            roles.push(format!("snapshot v{}", s.role().version));
        }
        if let Some(t) = state.timestamp() {
            roles.push(format!("timestamp v{}", t.role().version));
        }
        ctx.trace(
            1,
            format!(
                "{gun}: trust data from {}, root anchored by {}; {}",
                match (state.source(), remote) {
                    (Source::Remote, Some(r)) => r.describe(),
                    (Source::Remote, None) => "the server".to_owned(),
                    (Source::Cache, _) => "the local cache".to_owned(),
                },
                state.anchored_by().as_str(),
                roles.join(", ")
            ),
        );
    }
    if state.first_use() {
        ctx.warn(format!(
            "TRUST ON FIRST USE: nothing pinned or anchored for {gun}; trusting root version {} with root keys {}{}, as --tofu allows. \
             Pin it (`vouch trust pin {gun} --from-cache`) and use --trust-lock from now on.",
            state.root().role().version,
            Pin::from_root(state.root().role()).map(|p| p.root_keys.join(", ")).unwrap_or_default(),
            remote.map(|r| format!(" as served by {}", r.describe())).unwrap_or_default(),
        ));
    }
    for w in state.warnings() {
        ctx.warn(w);
    }
    if state.pin_behind() {
        let gun = state.gun();
        ctx.warn(format!(
            "review the new root (`vouch inspect {gun}`) and update the pin: `vouch trust pin {gun} --from-cache`"
        ));
    }
}
